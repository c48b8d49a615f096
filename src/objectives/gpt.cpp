#include "objectives/gpt.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "objectives/blas.hpp"
#include "objectives/vector_math.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {
namespace {

// The six matrices of a layer in gpt_layout's order: name, shape in units of C (rows, cols), and whether
// nanochat initializes it to zero (the two projections back into the residual stream).
struct LayerBlock {
  const char* name;
  int rows, cols;
  bool zero;
};
constexpr LayerBlock kLayerBlocks[] = {{"attn.c_q", 1, 1, false},    {"attn.c_k", 1, 1, false},
                                       {"attn.c_v", 1, 1, false},    {"attn.c_proj", 1, 1, true},
                                       {"mlp.c_fc", 4, 1, false},    {"mlp.c_proj", 1, 4, true}};
constexpr int kBlocksPerLayer = 6;
enum LayerBlockIndex { kQ = 0, kAttnProj = 3, kFc = 4, kMlpProj = 5 };

std::size_t row(int n, int stride) { return product(n, stride); }

// x ← cap · tanh(x / cap), and out ← exp(in − shift) returning Σ out: SIMD for float (vector_math.hpp), the
// plain library calls for double (the finite-difference tests).
void softcap(float* x, int n, float cap) { softcap_floats(x, static_cast<std::size_t>(n), cap); }
void softcap(double* x, int n, double cap) {
  for (int i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}
float exp_sum(float* out, const float* in, int n, float shift) {
  return exp_sum_floats(out, in, static_cast<std::size_t>(n), shift);
}
double exp_sum(double* out, const double* in, int n, double shift) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += (out[i] = std::exp(in[i] - shift));
  return sum;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Layers

template <class Real>
void embedding_forward(Real* out, const std::uint8_t* tokens, const Real* wte, int N, int C) {
  for (int n = 0; n < N; ++n) std::copy_n(wte + row(tokens[n], C), C, out + row(n, C));
}

template <class Real>
void embedding_backward(Real* dwte, const Real* dout, const std::uint8_t* tokens, int N, int C, int V) {
  std::fill_n(dwte, product(V, C), Real(0));
  for (int n = 0; n < N; ++n) {
    Real* d = dwte + row(tokens[n], C);
    const Real* g = dout + row(n, C);
    for (int c = 0; c < C; ++c) d[c] += g[c];
  }
}

template <class Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + row(n, C);
    Real* y = out + row(n, C);
    Real sum = 0;
    for (int c = 0; c < C; ++c) sum += x[c] * x[c];
    const Real r = Real(1) / std::sqrt(sum / static_cast<Real>(C) + static_cast<Real>(kGptRmsnormEps));
    for (int c = 0; c < C; ++c) y[c] = x[c] * r;
    rstd[n] = r;
  }
}

template <class Real>
void rmsnorm_backward(Real* dinp, const Real* dout, const Real* out, const Real* rstd, int N, int C, bool accumulate) {
  // y = x · r with r = (mean x² + ε)^(−1/2), ∂r/∂x_j = −r³ x_j / C, so
  // ∂L/∂x_j = r · dy_j − r³ x_j / C · Σ_i dy_i x_i = r · (dy_j − y_j · mean_i(dy_i y_i)).
  for (int n = 0; n < N; ++n) {
    const Real* dy = dout + row(n, C);
    const Real* y = out + row(n, C);
    Real* dx = dinp + row(n, C);
    Real dot = 0;
    for (int c = 0; c < C; ++c) dot += dy[c] * y[c];
    const Real mean = dot / static_cast<Real>(C), r = rstd[n];
    if (accumulate) {
      for (int c = 0; c < C; ++c) dx[c] += r * (dy[c] - y[c] * mean);
    } else {
      for (int c = 0; c < C; ++c) dx[c] = r * (dy[c] - y[c] * mean);
    }
  }
}

template <class Real>
void matmul_forward(Real* out, const Real* inp, const Real* weight, int N, int C, int OC, bool accumulate) {
  // out (N, OC) (+)= inp (N, C) · weightᵀ, weight (OC, C) row-major: BLAS's transpose flag, no copy.
  gemm(CblasNoTrans, CblasTrans, N, OC, C, Real(1), inp, C, weight, C, accumulate ? Real(1) : Real(0), out, OC);
}

template <class Real>
void matmul_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp, const Real* weight, int N, int C,
                     int OC, bool accumulate) {
  // dweight (OC, C) = doutᵀ (OC, N) · inp (N, C)
  gemm(CblasTrans, CblasNoTrans, OC, C, N, Real(1), dout, OC, inp, C, Real(0), dweight, C);
  // dinp (N, C) (+)= dout (N, OC) · weight (OC, C)
  if (dinp != nullptr)
    gemm(CblasNoTrans, CblasNoTrans, N, C, OC, Real(1), dout, OC, weight, C, accumulate ? Real(1) : Real(0), dinp, C);
}

template <class Real>
void rotary_tables(Real* cos, Real* sin, int T, int D) {
  for (int t = 0; t < T; ++t) {
    for (int j = 0; j < D / 2; ++j) {
      const double angle = t * std::pow(kGptRotaryBase, -2.0 * j / D);
      cos[row(t, D / 2) + j] = static_cast<Real>(std::cos(angle));
      sin[row(t, D / 2) + j] = static_cast<Real>(std::sin(angle));
    }
  }
}

namespace {

// out = R(±angle) inp on every head of every row: y1 = x1 cos + x2 (sign·sin), y2 = x2 cos − x1 (sign·sin).
// sign = +1 is the rotary forward; −1 its transpose (the rotation is orthogonal), the backward.
template <class Real>
void rotate(Real* out, int out_stride, const Real* inp, int in_stride, const Real* cos, const Real* sin, Real sign,
            int B, int T, int H, int D) {
  const int half = D / 2;
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const int n = b * T + t;
      const Real* c = cos + row(t, half);
      const Real* s = sin + row(t, half);
      for (int h = 0; h < H; ++h) {
        const Real* x1 = inp + row(n, in_stride) + row(h, D);
        const Real* x2 = x1 + half;
        Real* y1 = out + row(n, out_stride) + row(h, D);
        Real* y2 = y1 + half;
        for (int j = 0; j < half; ++j) {
          const Real sj = sign * s[j];
          y1[j] = x1[j] * c[j] + x2[j] * sj;
          y2[j] = x2[j] * c[j] - x1[j] * sj;
        }
      }
    }
  }
}

}  // namespace

template <class Real>
void rotary_forward(Real* out, const Real* inp, int in_stride, const Real* cos, const Real* sin, int B, int T, int H,
                    int D) {
  rotate(out, H * D, inp, in_stride, cos, sin, Real(1), B, T, H, D);
}

template <class Real>
void rotary_backward(Real* dinp, int dinp_stride, const Real* dout, const Real* cos, const Real* sin, int B, int T,
                     int H, int D) {
  // dx = Rᵀ dy, and Rᵀ is the rotation by −angle: dx1 = dy1 cos − dy2 sin, dx2 = dy2 cos + dy1 sin.
  rotate(dinp, dinp_stride, dout, H * D, cos, sin, Real(-1), B, T, H, D);
}

namespace {

// Causal attention skips the products above the diagonal by cutting the T positions into blocks of
// kAttentionBlock rows: query block i needs keys 0..end(i) only, key block j is needed by queries j·Tb..T−1
// only. With n blocks that is (n + 1) / 2n of the full products (5/8 at T = 128), in n times as many, smaller
// BLAS calls: 32 rows keep each call large enough to run at BLAS speed. Measured (docs/benchmarks.md).
constexpr int kAttentionBlock = 32;
int block_count(int T) { return (T + kAttentionBlock - 1) / kAttentionBlock; }
int block_begin(int i) { return i * kAttentionBlock; }
int block_end(int i, int T) { return std::min(T, (i + 1) * kAttentionBlock); }

}  // namespace

template <class Real>
void attention_forward(Real* out, Real* att, const Real* q, const Real* k, const Real* v, int v_stride, int B, int T,
                       int H, int D) {
  const int C = H * D;
  const Real scale = Real(1) / std::sqrt(static_cast<Real>(D));
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      // The head's q, k (T, D) rows of stride C, v (T, D) rows of stride v_stride: BLAS reads them in place.
      const Real* qh = q + row(b * T, C) + row(h, D);
      const Real* kh = k + row(b * T, C) + row(h, D);
      const Real* vh = v + row(b * T, v_stride) + row(h, D);
      Real* oh = out + row(b * T, C) + row(h, D);
      Real* a = att + product(b * H + h, T) * static_cast<std::size_t>(T);  // (T, T)
      for (int i = 0; i < block_count(T); ++i) {
        const int r0 = block_begin(i), r1 = block_end(i, T);
        // scores (rows r0..r1, keys 0..r1) = scale · q kᵀ
        gemm(CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale, qh + row(r0, C), C, kh, C, Real(0), a + row(r0, T), T);
        for (int t = r0; t < r1; ++t) {
          Real* p = a + row(t, T);
          // Row t attends to j ≤ t: softmax over those, less their maximum so no exp exceeds 1.
          const Real inv = Real(1) / exp_sum(p, p, t + 1, *std::max_element(p, p + t + 1));
          for (int j = 0; j <= t; ++j) p[j] *= inv;
          std::fill(p + t + 1, p + T, Real(0));
        }
        // out (rows r0..r1, D) = att (rows r0..r1, keys 0..r1) · v, into the head's columns of the output
        gemm(CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, Real(1), a + row(r0, T), T, vh, v_stride, Real(0),
             oh + row(r0, C), C);
      }
    }
  }
}

template <class Real>
void attention_backward(Real* dq, Real* dk, Real* dv, int v_stride, Real* scratch, const Real* dout, const Real* att,
                        const Real* q, const Real* k, const Real* v, int B, int T, int H, int D) {
  const int C = H * D;
  const Real scale = Real(1) / std::sqrt(static_cast<Real>(D));
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      const std::size_t first = row(b * T, C) + row(h, D);  // the head's (T, D) rows in q, k, dq, dk, dout
      const Real* vh = v + row(b * T, v_stride) + row(h, D);
      Real* dvh = dv + row(b * T, v_stride) + row(h, D);
      const Real* a = att + product(b * H + h, T) * static_cast<std::size_t>(T);  // (T, T)
      for (int i = 0; i < block_count(T); ++i) {
        const int r0 = block_begin(i), r1 = block_end(i, T);
        // datt (rows r0..r1, keys 0..r1) = dout vᵀ
        gemm(CblasNoTrans, CblasTrans, r1 - r0, r1, D, Real(1), dout + first + row(r0, C), C, vh, v_stride, Real(0),
             scratch + row(r0, T), T);
        // Softmax backward, row by row: dscores_tj = att_tj (datt_tj − Σ_i att_ti datt_ti) for j ≤ t, and 0
        // above the diagonal (masked scores do not depend on q or k).
        for (int t = r0; t < r1; ++t) {
          const Real* p = a + row(t, T);
          Real* d = scratch + row(t, T);
          Real dot = 0;
          for (int j = 0; j <= t; ++j) dot += p[j] * d[j];
          for (int j = 0; j <= t; ++j) d[j] = p[j] * (d[j] - dot);
          std::fill(d + t + 1, d + r1, Real(0));
        }
        // dq (rows r0..r1, D) = scale · dscores (rows r0..r1, keys 0..r1) · k
        gemm(CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, scale, scratch + row(r0, T), T, k + first, C, Real(0),
             dq + first + row(r0, C), C);
      }
      for (int j = 0; j < block_count(T); ++j) {
        const int c0 = block_begin(j), c1 = block_end(j, T);
        // Key block j is attended by queries c0..T−1 only (the rows above are 0 in its columns):
        // dk (keys c0..c1, D) = scale · dscores (rows c0..T, keys c0..c1)ᵀ · q (rows c0..T)
        // dv (keys c0..c1, D) = att (rows c0..T, keys c0..c1)ᵀ · dout (rows c0..T)
        gemm(CblasTrans, CblasNoTrans, c1 - c0, D, T - c0, scale, scratch + row(c0, T) + c0, T, q + first + row(c0, C),
             C, Real(0), dk + first + row(c0, C), C);
        gemm(CblasTrans, CblasNoTrans, c1 - c0, D, T - c0, Real(1), a + row(c0, T) + c0, T, dout + first + row(c0, C),
             C, Real(0), dvh + row(c0, v_stride), v_stride);
      }
    }
  }
}

template <class Real>
void relu2_forward(Real* act, const Real* pre, std::size_t n) {
  // A select of the value, then an unconditional product: GCC makes that branch-free SIMD (max, mul), where a
  // product under the condition stays a branch (it may not speculate a float operation that could trap),
  // and a branch on the sign of c_fc's outputs is mispredicted half the time.
  for (std::size_t i = 0; i < n; ++i) {
    const Real r = pre[i] > Real(0) ? pre[i] : Real(0);
    act[i] = r * r;
  }
}

template <class Real>
void relu2_backward(Real* dpre, const Real* dact, const Real* pre, std::size_t n) {
  // d/dx max(x, 0)² = 2 max(x, 0) (continuous: no kink to choose a subgradient at).
  for (std::size_t i = 0; i < n; ++i) {
    const Real r = pre[i] > Real(0) ? pre[i] : Real(0);  // branch-free, as in relu2_forward
    dpre[i] = Real(2) * r * dact[i];
  }
}

template <class Real>
double softcap_crossentropy_forward(Real* logits, Real* dlogits, const std::uint8_t* targets, int N, int V, Real cap,
                                    Real dscale) {
  softcap(logits, N * V, cap);
  if (targets == nullptr) return 0.0;
  if (dlogits == nullptr && V > 256) throw Error("softcap_crossentropy_forward: a vocabulary above 256 needs dlogits");
  const Real inv_cap = Real(1) / cap;
  double loss = 0.0;
  Real e[256];  // exp(s − max) of a row when there is no dlogits to hold it (V ≤ 256: byte tokens)
  for (int n = 0; n < N; ++n) {
    const Real* s = logits + row(n, V);
    Real* d = dlogits != nullptr ? dlogits + row(n, V) : nullptr;
    // |s| ≤ cap, so exp(s − max) never overflows nor flushes the whole sum to 0.
    const Real m = *std::max_element(s, s + V);
    const Real sum = exp_sum(d != nullptr ? d : e, s, V, m);
    const int target = targets[n];
    loss += static_cast<double>(m - s[target]) + std::log(static_cast<double>(sum));
    if (d != nullptr) {
      // ∂loss/∂s = softmax(s) − onehot; ∂s/∂z = 1 − tanh² = 1 − (s / cap)².
      const Real scale = dscale / sum;
      for (int v = 0; v < V; ++v) {
        const Real u = s[v] * inv_cap;
        d[v] = d[v] * scale * (Real(1) - u * u);
      }
      const Real u = s[target] * inv_cap;
      d[target] -= dscale * (Real(1) - u * u);
    }
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------------
// Layout and initialization

ParamLayout gpt_layout(const GptShape& shape, const RoleTable& roles) {
  const int C = shape.width;
  ParamLayout layout;
  layout.add("wte", shape.vocab, C, Role::embedding, roles);
  for (int l = 0; l < shape.layers; ++l)
    for (const LayerBlock& b : kLayerBlocks)
      layout.add("h." + std::to_string(l) + "." + b.name, b.rows * C, b.cols * C, Role::matrix, roles);
  layout.add("lm_head", shape.vocab, C, Role::head, roles);
  return layout;
}

void gpt_initialize(const GptShape& shape, const ParamLayout& layout, std::uint64_t seed, std::span<float> x) {
  const auto& blocks = layout.blocks();
  if (blocks.size() != static_cast<std::size_t>(2 + kBlocksPerLayer * shape.layers) || x.size() != layout.size())
    throw Error("gpt_initialize: the layout or the buffer is not gpt_layout's for this shape");
  Rng rng(seed, Stream::objective_data);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    const std::span<float> w = layout.view(x, b);
    const bool zero = b.role == Role::head || (b.role == Role::matrix && kLayerBlocks[(i - 1) % kBlocksPerLayer].zero);
    if (zero) {
      std::fill(w.begin(), w.end(), 0.0f);
    } else if (b.role == Role::embedding) {
      rng.fill_normal(w, 1.0f);
    } else {
      // nanochat's Linear init: 1/√in, shrunk by √(out/in) for a matrix wider than tall.
      const double in = b.cols, out = b.rows;
      rng.fill_normal(w, static_cast<float>(1.0 / std::sqrt(in) * std::min(1.0, std::sqrt(out / in))));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The network

template <class Real>
GptNetwork<Real>::GptNetwork(GptShape shape, int max_batch) : shape_(shape), max_batch_(max_batch) {
  const int L = shape.layers, H = shape.heads, C = shape.width, Tc = shape.context, V = shape.vocab;
  if (L < 1 || H < 1 || C < 1 || Tc < 1 || max_batch < 1)
    throw Error("gpt network: layers, heads, width, context and batch must be ≥ 1");
  if (C % H != 0 || (C / H) % 2 != 0)
    throw Error("gpt network: width " + std::to_string(C) + " must split into " + std::to_string(H) +
                " heads of an even head dimension (rotary rotates its two halves)");
  if (V < 1 || V > 256) throw Error("gpt network: the vocabulary must be 1..256 (byte tokens)");
  const int D = C / H;
  const ParamLayout layout = gpt_layout(shape, RoleTable{});
  for (const Block& b : layout.blocks()) offsets_.push_back(b.offset);

  // Carve the arena: every view gets an offset now and a pointer once the arena exists. Sizes are rounded
  // to 16 values so every view starts 64-byte aligned relative to the arena.
  const std::size_t M = product(max_batch, Tc);
  std::vector<std::pair<Real**, std::size_t>> views;
  std::size_t total = 0;
  const auto take = [&](Real*& view, std::size_t n) {
    views.emplace_back(&view, total);
    total += (n + 15) / 16 * 16;
  };
  layers_.resize(static_cast<std::size_t>(L));
  take(cos_, product(Tc, D / 2));
  take(sin_, product(Tc, D / 2));
  take(x0_, M * C);
  take(rstd0_, M);
  take(residual_, M * C);
  for (Layer& a : layers_) {
    take(a.ln1, M * C);
    take(a.rstd1, M);
    take(a.qkv, M * 3 * C);
    take(a.q, M * C);
    take(a.k, M * C);
    take(a.rstd_q, M * H);
    take(a.rstd_k, M * H);
    take(a.att, product(max_batch, H) * product(Tc, Tc));
    take(a.atty, M * C);
    take(a.ln2, M * C);
    take(a.rstd2, M);
    take(a.fch, M * 4 * C);
    take(a.fch_act, M * 4 * C);
  }
  take(lnf_, M * C);
  take(rstdf_, M);
  take(logits_, M * V);
  take(dlogits_, M * V);
  take(dresidual_, M * C);
  take(dln_, M * C);
  take(dqkv_, M * 3 * C);
  take(dq_, M * C);
  take(dk_, M * C);
  take(datty_, M * C);
  take(dfch_, M * 4 * C);
  take(datt_, product(Tc, Tc));
  arena_.assign(total, Real(0));
  for (auto [view, at] : views) *view = arena_.data() + at;
  tokens_.resize(M);

  rotary_tables(cos_, sin_, Tc, D);
}

template <class Real>
double GptNetwork<Real>::forward(const Real* params, const std::uint8_t* inputs, const std::uint8_t* targets, int B,
                                 int T, Real dscale) {
  const int H = shape_.heads, C = shape_.width, V = shape_.vocab, D = C / H, N = B * T;
  if (B < 1 || B > max_batch_ || T < 1 || T > shape_.context)
    throw Error("gpt network: a batch of " + std::to_string(B) + "×" + std::to_string(T) + " tokens exceeds " +
                std::to_string(max_batch_) + "×" + std::to_string(shape_.context));
  for (int n = 0; n < N; ++n)
    if (inputs[n] >= V || (targets != nullptr && targets[n] >= V))
      throw Error("gpt network: token " + std::to_string(targets != nullptr && targets[n] >= V ? targets[n] : inputs[n]) +
                  " is outside the vocabulary of " + std::to_string(V));
  B_ = B;
  T_ = T;
  dscale_ = targets != nullptr ? dscale : Real(0);
  std::copy_n(inputs, N, tokens_.begin());

  Real* x = residual_;  // (N, C)
  embedding_forward(x, inputs, params + offsets_.front(), N, C);
  rmsnorm_forward(x0_, rstd0_, x, N, C);
  std::copy_n(x0_, product(N, C), x);
  for (int l = 0; l < shape_.layers; ++l) {
    const Layer& a = layers_[static_cast<std::size_t>(l)];
    // Attention: q, k, v in one product (c_q, c_k, c_v are one (3C, C) matrix in the layout).
    rmsnorm_forward(a.ln1, a.rstd1, x, N, C);
    matmul_forward(a.qkv, a.ln1, params + param(l, kQ), N, C, 3 * C, false);
    rotary_forward(a.q, a.qkv, 3 * C, cos_, sin_, B, T, H, D);
    rotary_forward(a.k, a.qkv + C, 3 * C, cos_, sin_, B, T, H, D);
    rmsnorm_forward(a.q, a.rstd_q, a.q, N * H, D);  // QK-norm: each head's D values
    rmsnorm_forward(a.k, a.rstd_k, a.k, N * H, D);
    attention_forward(a.atty, a.att, a.q, a.k, a.qkv + 2 * C, 3 * C, B, T, H, D);
    matmul_forward(x, a.atty, params + param(l, kAttnProj), N, C, C, true);  // x += c_proj(y)
    // MLP
    rmsnorm_forward(a.ln2, a.rstd2, x, N, C);
    matmul_forward(a.fch, a.ln2, params + param(l, kFc), N, C, 4 * C, false);
    relu2_forward(a.fch_act, a.fch, product(N, 4 * C));
    matmul_forward(x, a.fch_act, params + param(l, kMlpProj), N, 4 * C, C, true);  // x += c_proj(relu²)
  }
  rmsnorm_forward(lnf_, rstdf_, x, N, C);
  matmul_forward(logits_, lnf_, params + offsets_.back(), N, C, V, false);
  return softcap_crossentropy_forward(logits_, dscale_ != Real(0) ? dlogits_ : nullptr, targets, N, V,
                                      static_cast<Real>(kGptSoftcap), dscale_);
}

template <class Real>
void GptNetwork<Real>::backward(const Real* params, Real* grad) {
  if (dscale_ == Real(0)) throw Error("gpt network: backward() needs a forward() with targets and dscale ≠ 0");
  const int B = B_, T = T_, H = shape_.heads, C = shape_.width, V = shape_.vocab, D = C / H, N = B * T;
  Real* dx = dresidual_;  // (N, C) ∂/∂ the residual stream, accumulated through the layers
  matmul_backward(dln_, grad + offsets_.back(), dlogits_, lnf_, params + offsets_.back(), N, C, V, false);
  rmsnorm_backward(dx, dln_, lnf_, rstdf_, N, C, false);
  for (int l = shape_.layers - 1; l >= 0; --l) {
    const Layer& a = layers_[static_cast<std::size_t>(l)];
    // MLP
    matmul_backward(dfch_, grad + param(l, kMlpProj), dx, a.fch_act, params + param(l, kMlpProj), N, 4 * C, C, false);
    relu2_backward(dfch_, dfch_, a.fch, product(N, 4 * C));
    matmul_backward(dln_, grad + param(l, kFc), dfch_, a.ln2, params + param(l, kFc), N, C, 4 * C, false);
    rmsnorm_backward(dx, dln_, a.ln2, a.rstd2, N, C, true);
    // Attention
    matmul_backward(datty_, grad + param(l, kAttnProj), dx, a.atty, params + param(l, kAttnProj), N, C, C, false);
    attention_backward(dq_, dk_, dqkv_ + 2 * C, 3 * C, datt_, datty_, a.att, a.q, a.k, a.qkv + 2 * C, B, T, H, D);
    rmsnorm_backward(dq_, dq_, a.q, a.rstd_q, N * H, D, false);
    rmsnorm_backward(dk_, dk_, a.k, a.rstd_k, N * H, D, false);
    rotary_backward(dqkv_, 3 * C, dq_, cos_, sin_, B, T, H, D);
    rotary_backward(dqkv_ + C, 3 * C, dk_, cos_, sin_, B, T, H, D);
    matmul_backward(dln_, grad + param(l, kQ), dqkv_, a.ln1, params + param(l, kQ), N, C, 3 * C, false);
    rmsnorm_backward(dx, dln_, a.ln1, a.rstd1, N, C, true);
  }
  rmsnorm_backward(dln_, dx, x0_, rstd0_, N, C, false);
  embedding_backward(grad + offsets_.front(), dln_, tokens_.data(), N, C, V);
}

template <class Real>
double GptNetwork<Real>::flops_per_token() const {
  const double L = shape_.layers, C = shape_.width, V = shape_.vocab, T = shape_.context;
  const double matrices = L * 12.0 * C * C + V * C;  // all but the embedding, which is a lookup
  return 6.0 * matrices + 12.0 * L * C * T;
}

template class GptNetwork<float>;
template class GptNetwork<double>;

#define RINGMASTER_GPT_LAYERS(Real)                                                                                  \
  template void embedding_forward(Real*, const std::uint8_t*, const Real*, int, int);                                \
  template void embedding_backward(Real*, const Real*, const std::uint8_t*, int, int, int);                          \
  template void rmsnorm_forward(Real*, Real*, const Real*, int, int);                                                \
  template void rmsnorm_backward(Real*, const Real*, const Real*, const Real*, int, int, bool);                       \
  template void matmul_forward(Real*, const Real*, const Real*, int, int, int, bool);                                \
  template void matmul_backward(Real*, Real*, const Real*, const Real*, const Real*, int, int, int, bool);           \
  template void rotary_tables(Real*, Real*, int, int);                                                              \
  template void rotary_forward(Real*, const Real*, int, const Real*, const Real*, int, int, int, int);               \
  template void rotary_backward(Real*, int, const Real*, const Real*, const Real*, int, int, int, int);              \
  template void attention_forward(Real*, Real*, const Real*, const Real*, const Real*, int, int, int, int, int);     \
  template void attention_backward(Real*, Real*, Real*, int, Real*, const Real*, const Real*, const Real*,           \
                                   const Real*, const Real*, int, int, int, int);                                    \
  template void relu2_forward(Real*, const Real*, std::size_t);                                                      \
  template void relu2_backward(Real*, const Real*, const Real*, std::size_t);                                        \
  template double softcap_crossentropy_forward(Real*, Real*, const std::uint8_t*, int, int, Real, Real);
RINGMASTER_GPT_LAYERS(float)
RINGMASTER_GPT_LAYERS(double)
#undef RINGMASTER_GPT_LAYERS

}  // namespace ringmaster
