// The network of the `gpt` objective (docs/method.md §6): nanochat's GPT scaled down to CPUs, in the style of
// llm.c. A layout table (gpt_layout) says how the flat parameter buffer is carved into tensors, each layer is
// a *_forward / *_backward pair over flat row-major buffers with the shapes in comments, and GptNetwork runs
// them over one arena of activations allocated in its constructor. The model (byte tokens, V = 256; L
// layers, H heads, width C, head dim D = C / H, context T, batch B, N = B·T token rows):
//   x = rmsnorm(wte[idx])                                  (N, C)
//   per layer: x += c_proj(attention(qknorm(rotary(c_q a)), qknorm(rotary(c_k a)), c_v a)),  a = rmsnorm(x)
//              x += mlp.c_proj(relu(mlp.c_fc rmsnorm(x))²)
//   logits = 15·tanh(lm_head rmsnorm(x) / 15)              (N, V)
//   loss = Σ_n −log softmax(logits_n)[target_n]
// rmsnorm is parameter-free, y = x / sqrt(mean(x²) + 1e-6); attention is causal softmax(q kᵀ / sqrt(D)) v
// per head. No biases, no gains; weights row-major (out, in) like torch.nn.Linear, so every product is one
// BLAS call with transpose flags and no copies. tools/gpt_torch.py is the same model in PyTorch.
//
// The templates run in Real = float (the objective) and Real = double (the finite-difference tests); T is the
// sequence length, as in llm.c.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ringmaster/layout.hpp"

namespace ringmaster {

inline constexpr double kGptRmsnormEps = 1e-6;     // rmsnorm's ε (nanochat's F.rms_norm default)
inline constexpr double kGptSoftcap = 15.0;        // logits = cap · tanh(z / cap)
inline constexpr double kGptRotaryBase = 10000.0;  // inv_freq_j = base^(−2j / D)

// Layers, heads, width C and context T; the head dim C / heads must be even (rotary rotates its halves).
// Checked by the config reader (with messages naming the keys) and again by GptNetwork.
struct GptShape {
  int layers, heads, width, context;
  int vocab = 256;  // byte tokens
};

// ---------------------------------------------------------------------------------------------------
// Layers. N = token rows (B·T), C = features of a row, V = vocabulary.

// out (N, C) = wte[tokens[n]] row by row. wte (V, C), tokens (N).
template <class Real>
void embedding_forward(Real* out, const std::uint8_t* tokens, const Real* wte, int N, int C);
// dwte (V, C) = Σ_n dout[n] added into row tokens[n]; rows of bytes absent from tokens are 0 (overwrites).
template <class Real>
void embedding_backward(Real* dwte, const Real* dout, const std::uint8_t* tokens, int N, int C, int V);

// Row by row over inp (N, C): rstd (N) = 1 / sqrt(mean_c inp² + ε), out (N, C) = inp · rstd. out may be inp.
template <class Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, int N, int C);
// dinp (N, C) (+)= rstd · (dout − out · mean_c(dout · out)): the exact gradient, ε included, from the
// forward's output and rstd. dinp may be dout (without accumulate).
template <class Real>
void rmsnorm_backward(Real* dinp, const Real* dout, const Real* out, const Real* rstd, int N, int C, bool accumulate);

// out (N, OC) = inp (N, C) · weightᵀ, or += with accumulate (a residual add inside the product). weight (OC, C).
template <class Real>
void matmul_forward(Real* out, const Real* inp, const Real* weight, int N, int C, int OC, bool accumulate);
// dweight (OC, C) = doutᵀ · inp (overwrites); dinp (N, C) = dout (N, OC) · weight, or += with accumulate;
// dinp = nullptr skips it.
template <class Real>
void matmul_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp, const Real* weight, int N, int C, int OC,
                     bool accumulate);

// cos, sin (T, D/2) of the rotary angle t · base^(−2j/D) for positions t < T and j < D/2, computed in double
// and rounded once (tools/gpt_torch.py's rotary_tables does the same).
template <class Real>
void rotary_tables(Real* cos, Real* sin, int T, int D);
// Rotary positions (nanochat's convention) on the H heads of D of each of the B·T token rows: with x1, x2 the
// halves of a head, y1 = x1 cos + x2 sin, y2 = −x1 sin + x2 cos at angle t · base^(−2j/D) for the row's
// position t = n mod T and j < D/2. inp rows of stride in_stride (q or k inside the fused qkv rows), out
// (B·T, H·D) contiguous; cos, sin (≥ T, D/2) from rotary_tables.
template <class Real>
void rotary_forward(Real* out, const Real* inp, int in_stride, const Real* cos, const Real* sin, int B, int T, int H, int D);
// The transposed rotation: dinp (rows of stride dinp_stride) = Rᵀ dout (B·T, H·D). Overwrites dinp.
template <class Real>
void rotary_backward(Real* dinp, int dinp_stride, const Real* dout, const Real* cos, const Real* sin, int B, int T, int H, int D);

// Causal attention per sequence b and head h: att[b,h] (T, T) = softmax over j ≤ t of q_t·k_j / sqrt(D)
// (0 above the diagonal), out[b,:,h] (T, D) = att[b,h] · v[b,:,h]. q, k, out (B·T, H·D) contiguous; v rows
// of stride v_stride (inside the fused qkv rows); att (B, H, T, T) kept for the backward pass.
template <class Real>
void attention_forward(Real* out, Real* att, const Real* q, const Real* k, const Real* v, int v_stride, int B, int T, int H, int D);
// dq, dk (B·T, H·D) and dv (rows of stride v_stride) from dout (B·T, H·D), overwriting them; scratch (T, T).
template <class Real>
void attention_backward(Real* dq, Real* dk, Real* dv, int v_stride, Real* scratch, const Real* dout, const Real* att, const Real* q,
                        const Real* k, const Real* v, int B, int T, int H, int D);

// act (n) = max(pre, 0)².
template <class Real>
void relu2_forward(Real* act, const Real* pre, std::size_t n);
// dpre (n) = dact · 2 max(pre, 0). dpre may be dact.
template <class Real>
void relu2_backward(Real* dpre, const Real* dact, const Real* pre, std::size_t n);

// logits (N, V) are soft-capped in place, z → cap · tanh(z / cap). With targets (N) it returns Σ_n loss_n,
// loss_n = log Σ_v exp(s_nv) − s_n,target (stable: no exp of more than 0), in double; dlogits (N, V), unless
// nullptr, gets ∂(dscale · Σ loss)/∂z = dscale · (softmax(s) − onehot(target)) · (1 − (s / cap)²).
// targets = nullptr: the soft cap only, returns 0. Without dlogits, V ≤ 256 (byte tokens).
template <class Real>
double softcap_crossentropy_forward(Real* logits, Real* dlogits, const std::uint8_t* targets, int N, int V, Real cap,
                                    Real dscale);

// ---------------------------------------------------------------------------------------------------
// The layout table, in nanochat's parameter names: "wte" (V, C) role embedding; per layer l
// "h.{l}.attn.c_q", ".c_k", ".c_v", ".c_proj" (C, C), "h.{l}.mlp.c_fc" (4C, C), "h.{l}.mlp.c_proj" (C, 4C),
// role matrix; "lm_head" (V, C) role head. A layer's c_q, c_k, c_v are consecutive, so together they are
// one (3C, C) matrix: the network projects q, k and v with one product.
ParamLayout gpt_layout(const GptShape& shape, const RoleTable& roles);

// nanochat's initialization, seeded from `seed` (stream Stream::objective_data, index 0): wte ~ N(0, 1);
// each other matrix (out, in) ~ N(0, std²) with std = 1/sqrt(in) · min(1, sqrt(out/in)); attn.c_proj,
// mlp.c_proj and lm_head zero (each block starts as the identity of its residual branch). x has
// layout.size() floats, laid out by gpt_layout(shape, ...).
void gpt_initialize(const GptShape& shape, const ParamLayout& layout, std::uint64_t seed, std::span<float> x);

// The whole network's forward and backward over one arena of activations, allocated in the constructor for
// batches of up to (max_batch, context): no call allocates.
template <class Real>
class GptNetwork {
 public:
  GptNetwork(GptShape shape, int max_batch);  // Error if the shape or max_batch is out of range
  // The views point into the arena: a moved network keeps them (a vector's move keeps its buffer), a copy
  // would not.
  GptNetwork(const GptNetwork&) = delete;
  GptNetwork& operator=(const GptNetwork&) = delete;
  GptNetwork(GptNetwork&&) noexcept = default;
  GptNetwork& operator=(GptNetwork&&) noexcept = default;

  // Σ over the B·T positions of the cross-entropy of targets (B, T) given inputs (B, T) (bytes), for
  // 1 ≤ B ≤ max_batch, 1 ≤ T ≤ context; params laid out by gpt_layout. With dscale ≠ 0 it also leaves
  // ∂(dscale · Σ loss)/∂logits for backward(). targets == nullptr: logits only (sampling), returns 0.
  double forward(const Real* params, const std::uint8_t* inputs, const std::uint8_t* targets, int B, int T, Real dscale);
  // grad (layout of params) = ∂(dscale · Σ loss)/∂params (overwrites), after a forward() with targets and
  // that dscale ≠ 0 on the same params.
  void backward(const Real* params, Real* grad);
  // (B, T, V) soft-capped logits of the last forward().
  const Real* logits() const { return logits_; }
  // Forward+backward FLOPs per token at the full context, as nanochat counts them (its estimate_flops):
  // 6 per parameter of every matrix but the embedding (2 forward, 4 backward), plus 12·L·C·T for
  // attention's products per token and head dim (q kᵀ and att·v forward, four backward), counted over the
  // whole T×T as nanochat does, though attention_forward/backward skip most of the masked half.
  double flops_per_token() const;

  const GptShape& shape() const { return shape_; }
  int max_batch() const { return max_batch_; }

 private:
  // Layer l's activations, views into the arena (M = max_batch · context rows).
  struct Layer {
    Real* ln1;      // (M, C) rmsnorm(x) into attention
    Real* rstd1;    // (M)
    Real* qkv;      // (M, 3C) ln1 · [c_q; c_k; c_v]ᵀ
    Real* q;        // (M, C) qknorm(rotary(q)), the H heads of D side by side
    Real* k;        // (M, C) qknorm(rotary(k))
    Real* rstd_q;   // (M, H)
    Real* rstd_k;   // (M, H)
    Real* att;      // (max_batch, H, context, context) attention probabilities, (B, H, T, T) used
    Real* atty;     // (M, C) attention output, heads concatenated
    Real* ln2;      // (M, C) rmsnorm(x) into the MLP
    Real* rstd2;    // (M)
    Real* fch;      // (M, 4C) c_fc output
    Real* fch_act;  // (M, 4C) relu(fch)²
  };
  // Offset of block `block` of layer l in the parameters: gpt_layout's order, wte first, then per layer
  // c_q, c_k, c_v, attn.c_proj, mlp.c_fc, mlp.c_proj (block 0..5), lm_head last.
  std::size_t param(int l, int block) const { return offsets_[static_cast<std::size_t>(1 + 6 * l + block)]; }

  GptShape shape_;
  int max_batch_;
  int B_ = 0, T_ = 0;      // of the last forward()
  Real dscale_ = Real(0);        // of the last forward()
  std::vector<std::size_t> offsets_;  // of every block of gpt_layout(shape_)
  std::vector<Real> arena_;   // everything below points into it
  std::vector<Layer> layers_;
  Real* cos_;                 // (context, D/2) rotary tables
  Real* sin_;                 // (context, D/2)
  Real* x0_;                  // (M, C) rmsnorm(wte[idx])
  Real* rstd0_;               // (M)
  Real* residual_;            // (M, C) the residual stream, updated in place by the products
  Real* lnf_;                 // (M, C) the final rmsnorm
  Real* rstdf_;               // (M)
  Real* logits_;              // (M, V)
  Real* dlogits_;             // (M, V)
  // Backward scratch.
  Real* dresidual_;           // (M, C)
  Real* dln_;                 // (M, C)
  Real* dqkv_;                // (M, 3C)
  Real* dq_;                  // (M, C)
  Real* dk_;                  // (M, C)
  Real* datty_;               // (M, C)
  Real* dfch_;                // (M, 4C)
  Real* datt_;                // (context, context)
  std::vector<std::uint8_t> tokens_;  // (M) inputs of the last forward(), for the embedding's backward
};

}  // namespace ringmaster
