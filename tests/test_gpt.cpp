// The network of the gpt objective (docs/method.md §6, src/objectives/gpt.cpp): every layer and the whole model
// against PyTorch autograd (tests/gpt_reference.py over tools/gpt_torch.py, in float64), the whole model
// against central differences in double, causality, the layout table and nanochat's initialization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "objectives/gpt.hpp"
#include "objectives/vector_math.hpp"
#include "ringmaster/error.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using testing::TempDir;

constexpr double kU = 0x1p-24;  // float32 unit roundoff
constexpr float kCap = static_cast<float>(kGptSoftcap);

template <class Real>
std::vector<Real> normals(std::mt19937& rng, std::size_t n, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<Real> v(n);
  for (Real& x : v) x = static_cast<Real>(normal(rng));
  return v;
}

std::vector<std::uint8_t> bytes(std::mt19937& rng, std::size_t n, int vocab) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng() % static_cast<unsigned>(vocab));
  return v;
}

// Random weights for every block (none zero, unlike the initialization: every path must carry gradient):
// wte N(0, 1), each matrix N(0, std²) with nanochat's std = 1/√in · min(1, √(out/in)), lm_head `head_gain`
// times that, so its logits reach the soft cap's curved part.
template <class Real>
std::vector<Real> random_params(const ParamLayout& layout, std::mt19937& rng, double head_gain) {
  std::vector<Real> p(layout.size());
  for (const Block& b : layout.blocks()) {
    const double std = b.role == Role::embedding ? 1.0
                                                 : (b.role == Role::head ? head_gain : 1.0) / std::sqrt(double(b.cols)) *
                                                       std::min(1.0, std::sqrt(double(b.rows) / b.cols));
    const auto w = normals<Real>(rng, b.size(), std);
    std::copy(w.begin(), w.end(), p.begin() + static_cast<std::ptrdiff_t>(b.offset));
  }
  return p;
}

template <class A, class B>
double distance(const A* a, const B* b, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
  return std::sqrt(s);
}
template <class A>
double norm(const A* a, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += double(a[i]) * double(a[i]);
  return std::sqrt(s);
}

// ‖ours − ref‖ ≤ K u ‖ref‖, K from the reductions between the inputs and the tensor (each test says how),
// and ‖ref‖ > 0 so that the comparison is not between zeros.
void expect_close(const std::string& what, const float* ours, const std::vector<double>& ref, double K) {
  const double ref_norm = norm(ref.data(), ref.size());
  const double error = distance(ours, ref.data(), ref.size());
  EXPECT_GT(ref_norm, 0.0) << what;
  EXPECT_LE(error, K * kU * ref_norm) << what << ": ‖ours − torch‖ / (u ‖torch‖) = " << error / (kU * ref_norm)
                                      << " > K = " << K;
}

// Columns [first, first + width) of each of `rows` rows of stride `stride`.
std::vector<float> columns(const float* data, int rows, int stride, int first, int width) {
  std::vector<float> out;
  for (int r = 0; r < rows; ++r)
    out.insert(out.end(), data + std::size_t(r) * stride + first, data + std::size_t(r) * stride + first + width);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The PyTorch side: every case's inputs are written first, then tests/gpt_reference.py runs once (one torch
// import for the whole suite), and the tests read its float64 outputs.

struct ModelCase {
  GptShape shape;
  int B, T;
};
const std::map<std::string, ModelCase> kModelCases = {
    {"model_full_context", {{2, 4, 32, 16}, 4, 16}},  // D = 8
    {"model_short_seq", {{1, 2, 16, 48}, 3, 37}},     // T < context, D = 8, two attention blocks of 32
};

class Torch {
 public:
  static Torch& get() {
    static Torch torch;
    return torch;
  }
  const std::vector<float>& in(const std::string& name) const { return inputs_.at(name); }
  const std::vector<std::uint8_t>& tokens(const std::string& name) const { return tokens_.at(name); }
  std::vector<double> out(const std::string& name) const {
    std::ifstream f(dir_ / (name + ".f64"), std::ios::binary | std::ios::ate);
    EXPECT_TRUE(f.good()) << name << ".f64 missing: the reference failed";
    std::vector<double> v(static_cast<std::size_t>(std::max<std::streamoff>(f.tellg(), 0)) / sizeof(double));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
    return v;
  }
  double loss(const std::string& name) const {
    double loss = std::numeric_limits<double>::quiet_NaN();
    std::ifstream(dir_ / (name + ".loss.txt")) >> loss;
    return loss;
  }
  std::string text(const std::string& name) const {
    std::ifstream f(dir_ / name);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  Torch() : dir_("gpt-torch") {
    std::mt19937 rng(11);
    // rmsnorm: N = 24 rows of C = 96, inputs of scale 3 so that rstd matters.
    add("rmsnorm rms 24 96");
    put("rms.x", normals<float>(rng, 24 * 96, 3.0));
    put("rms.dy", normals<float>(rng, 24 * 96, 1.0));
    // rotary: B = 2, T = 5, H = 3, D = 8.
    add("rotary rot 2 5 3 8");
    put("rot.x", normals<float>(rng, 2 * 5 * 24, 1.0));
    put("rot.dy", normals<float>(rng, 2 * 5 * 24, 1.0));
    // attention with rotary and QK-norm: B = 2, T = 70 (three blocks of causal attention, the last partial),
    // H = 2, D = 8; q, k, v from one (N, 3C) buffer.
    add("attention att 2 70 2 8");
    put("att.qkv", normals<float>(rng, 140 * 48, 2.0));
    put("att.q", columns(in("att.qkv").data(), 140, 48, 0, 16));
    put("att.k", columns(in("att.qkv").data(), 140, 48, 16, 16));
    put("att.v", columns(in("att.qkv").data(), 140, 48, 32, 16));
    put("att.dy", normals<float>(rng, 140 * 16, 1.0));
    // mlp with its residual: N = 20, C = 16.
    add("mlp mlp 20 16");
    put("mlp.x", normals<float>(rng, 20 * 16, 1.0));
    put("mlp.c_fc", normals<float>(rng, 64 * 16, 0.25));
    put("mlp.c_proj", normals<float>(rng, 16 * 64, 0.125));
    put("mlp.dy", normals<float>(rng, 20 * 16, 1.0));
    // soft cap and cross-entropy: N = 30, V = 256, raw logits of scale 12 (tanh(z/15) well curved).
    add("softcap_ce ce 30 256");
    put("ce.z", normals<float>(rng, 30 * 256, 12.0));
    tokens_["ce.targets"] = bytes(rng, 30, 256);
    // whole models
    for (const auto& [name, c] : kModelCases) {
      const GptShape& s = c.shape;
      add("model " + name + " " + std::to_string(s.layers) + " " + std::to_string(s.heads) + " " +
          std::to_string(s.width) + " " + std::to_string(s.context) + " " + std::to_string(c.B) + " " +
          std::to_string(c.T));
      put(name + ".params", random_params<float>(gpt_layout(s, RoleTable{}), rng, 8.0));
      tokens_[name + ".inputs"] = bytes(rng, std::size_t(c.B) * c.T, 256);
      tokens_[name + ".targets"] = bytes(rng, std::size_t(c.B) * c.T, 256);
    }
    std::ofstream(dir_ / "cases.txt") << cases_;
    for (const auto& [name, v] : inputs_)
      std::ofstream(dir_ / (name + ".f32"), std::ios::binary)
          .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
    for (const auto& [name, v] : tokens_)
      std::ofstream(dir_ / (name + ".u8"), std::ios::binary)
          .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
    // Debian's python (python3-torch, python3-numpy; scripts/bootstrap.sh), not whatever `python3` is on
    // PATH. Without torch this fails loudly: the test is a check CI must run, never a skip.
    const auto run = testing::run("/usr/bin/python3 " + testing::source_dir() + "/tests/gpt_reference.py " +
                                  dir_.path().string());
    EXPECT_EQ(run.exit_code, 0) << "the PyTorch reference failed (is python3-torch installed? scripts/bootstrap.sh):\n"
                                << run.output;
  }
  void add(const std::string& line) { cases_ += line + "\n"; }
  void put(const std::string& name, std::vector<float> v) { inputs_[name] = std::move(v); }

  TempDir dir_;
  std::string cases_;
  std::map<std::string, std::vector<float>> inputs_;
  std::map<std::string, std::vector<std::uint8_t>> tokens_;
};

// ---------------------------------------------------------------------------------------------------
// Layers against PyTorch autograd in float64.
//
// Tolerances, tensor by tensor: ‖ours − torch‖ ≤ K u ‖torch‖ with u = 2⁻²⁴. A float32 reduction of n terms
// carries a relative error ≤ γ_n ≈ n u (Higham, Accuracy and Stability, §3.1) and the errors of a chain of
// well-conditioned steps add, so K is the sum of the reduction lengths from the inputs to the tensor, plus
// a few u per elementwise step, plus the two conditionings that exceed 1 here: exp(s) turns an absolute
// error ε of s into a relative one (so |s|·(s's relative error) enters), and the backward passes of
// rmsnorm and softmax subtract a projection no larger than what it is subtracted from (‖y·mean(dy·y)‖ ≤ ‖dy‖;
// |Σ_j p_j dp_j| ≤ max |dp|), at most doubling the error. The reference is exact to float64 (1e-16), so K u
// bounds our error alone; in practice errors grow like √n u, well inside. Wrong code (a sign, a transpose, a
// missing factor, a wrong half of a head, a mask off by one) is wrong by O(1), i.e. by K ≳ 10⁶.

TEST(GptLayers, RmsnormMatchesPytorch) {
  auto& torch = Torch::get();
  const int N = 24, C = 96;
  std::vector<float> y(N * C), rstd(N), dx(N * C);
  rmsnorm_forward(y.data(), rstd.data(), torch.in("rms.x").data(), N, C);
  rmsnorm_backward(dx.data(), torch.in("rms.dy").data(), y.data(), rstd.data(), N, C, false);
  expect_close("rmsnorm y", y.data(), torch.out("rms.y"), C + 4);              // Σ of C squares, sqrt, ÷, ×
  expect_close("rmsnorm dx", dx.data(), torch.out("rms.dx"), 2 * (2 * C + 8));  // + the C-term dot, doubled
  // In place (out = inp) and accumulating: the network uses both.
  std::vector<float> x = torch.in("rms.x"), acc = torch.in("rms.dy");
  rmsnorm_forward(x.data(), rstd.data(), x.data(), N, C);
  EXPECT_EQ(x, y);
  rmsnorm_backward(acc.data(), torch.in("rms.dy").data(), y.data(), rstd.data(), N, C, true);
  for (std::size_t i = 0; i < acc.size(); ++i) EXPECT_FLOAT_EQ(acc[i], torch.in("rms.dy")[i] + dx[i]);
}

TEST(GptLayers, RotaryMatchesPytorchThroughStridedRows) {
  auto& torch = Torch::get();
  const int B = 2, T = 5, H = 3, D = 8, C = H * D, N = B * T, stride = 3 * C;
  std::vector<float> cos(T * D / 2), sin(T * D / 2);
  rotary_tables(cos.data(), sin.data(), T, D);
  // The input sits in the middle third of wider rows, as q and k inside the fused qkv rows.
  std::vector<float> wide(std::size_t(N) * stride, 7.0f), y(N * C);
  for (int n = 0; n < N; ++n)
    std::copy_n(torch.in("rot.x").data() + n * C, C, wide.data() + std::size_t(n) * stride + C);
  rotary_forward(y.data(), wide.data() + C, stride, cos.data(), sin.data(), B, T, H, D);
  std::vector<float> dwide(wide.size(), 7.0f);
  rotary_backward(dwide.data() + C, stride, torch.in("rot.dy").data(), cos.data(), sin.data(), B, T, H, D);
  // Two products and a sum, after cos and sin were rounded to float: K = 4.
  expect_close("rotary y", y.data(), torch.out("rot.y"), 4);
  expect_close("rotary dx", columns(dwide.data(), N, stride, C, C).data(), torch.out("rot.dx"), 4);
  for (int n = 0; n < N; ++n)  // the other columns of the wide rows are untouched
    for (int c : {0, C - 1, 2 * C, 3 * C - 1}) EXPECT_EQ(dwide[std::size_t(n) * stride + c], 7.0f);
}

TEST(GptLayers, AttentionWithRotaryAndQkNormMatchesPytorch) {
  auto& torch = Torch::get();
  const int B = 2, T = 70, H = 2, D = 8, C = H * D, N = B * T, stride = 3 * C;
  const std::vector<float>& qkv = torch.in("att.qkv");  // (N, 3C): q | k | v
  std::vector<float> cos(T * D / 2), sin(T * D / 2), q(N * C), k(N * C), rq(N * H), rk(N * H);
  std::vector<float> att(std::size_t(B) * H * T * T), y(N * C), scratch(T * T);
  rotary_tables(cos.data(), sin.data(), T, D);
  rotary_forward(q.data(), qkv.data(), stride, cos.data(), sin.data(), B, T, H, D);
  rotary_forward(k.data(), qkv.data() + C, stride, cos.data(), sin.data(), B, T, H, D);
  rmsnorm_forward(q.data(), rq.data(), q.data(), N * H, D);
  rmsnorm_forward(k.data(), rk.data(), k.data(), N * H, D);
  attention_forward(y.data(), att.data(), q.data(), k.data(), qkv.data() + 2 * C, stride, B, T, H, D);

  std::vector<float> dq(N * C), dk(N * C), dqkv(std::size_t(N) * stride);
  attention_backward(dq.data(), dk.data(), dqkv.data() + 2 * C, stride, scratch.data(), torch.in("att.dy").data(),
                     att.data(), q.data(), k.data(), qkv.data() + 2 * C, B, T, H, D);
  rmsnorm_backward(dq.data(), dq.data(), q.data(), rq.data(), N * H, D, false);
  rmsnorm_backward(dk.data(), dk.data(), k.data(), rk.data(), N * H, D, false);
  rotary_backward(dqkv.data(), stride, dq.data(), cos.data(), sin.data(), B, T, H, D);
  rotary_backward(dqkv.data() + C, stride, dk.data(), cos.data(), sin.data(), B, T, H, D);

  // Forward: rotary (4), QK-norm (D + 4), the score dot (D + 2), exp's conditioning (with ‖q‖ = ‖k‖ = √D the
  // scores are ≤ √D, each off by ≤ (2D + 10) u relative) and its own 8u, the softmax sum (T + 2), att·v (T).
  const double sqrt_d = std::sqrt(double(D));
  const double k_forward = 4 + (D + 4) + (D + 2) + sqrt_d * (2 * D + 10) + 8 + (T + 2) + T;
  // Backward, on the forward's values: datt (D), softmax backward (T, doubled), dq and dk (T), dv (T),
  // QK-norm backward (2D + 8, doubled), rotary (4).
  const double k_backward = k_forward + D + 2 * T + T + T + 2 * (2 * D + 8) + 4;
  expect_close("attention y", y.data(), torch.out("att.y"), k_forward);
  expect_close("attention dq", columns(dqkv.data(), N, stride, 0, C).data(), torch.out("att.dq"), k_backward);
  expect_close("attention dk", columns(dqkv.data(), N, stride, C, C).data(), torch.out("att.dk"), k_backward);
  expect_close("attention dv", columns(dqkv.data(), N, stride, 2 * C, C).data(), torch.out("att.dv"), k_backward);
  // Causal: probabilities above the diagonal are exactly 0, every row sums to 1.
  for (int bh = 0; bh < B * H; ++bh)
    for (int t = 0; t < T; ++t) {
      const float* p = att.data() + (std::size_t(bh) * T + t) * T;
      double sum = 0;
      for (int j = 0; j < T; ++j) {
        if (j > t) {
          EXPECT_EQ(p[j], 0.0f);
        }
        sum += p[j];
      }
      EXPECT_NEAR(sum, 1.0, (T + 2) * kU);
    }
}

TEST(GptLayers, ReluSquaredMlpWithResidualMatchesPytorch) {
  auto& torch = Torch::get();
  const int N = 20, C = 16;
  const float* w_fc = torch.in("mlp.c_fc").data();
  const float* w_proj = torch.in("mlp.c_proj").data();
  std::vector<float> h(N * 4 * C), a(N * 4 * C), y = torch.in("mlp.x");
  matmul_forward(h.data(), torch.in("mlp.x").data(), w_fc, N, C, 4 * C, false);
  relu2_forward(a.data(), h.data(), h.size());
  matmul_forward(y.data(), a.data(), w_proj, N, 4 * C, C, true);  // y = x + mlp(x)

  std::vector<float> da(N * 4 * C), dx = torch.in("mlp.dy"), dfc(4 * C * C), dproj(C * 4 * C);
  matmul_backward(da.data(), dproj.data(), torch.in("mlp.dy").data(), a.data(), w_proj, N, 4 * C, C, false);
  relu2_backward(da.data(), da.data(), h.data(), da.size());
  matmul_backward(dx.data(), dfc.data(), da.data(), torch.in("mlp.x").data(), w_fc, N, C, 4 * C, true);  // dx = dy + …

  // Forward: c_fc (C), the square (2), c_proj (4C), the residual add (1). Backward adds dy·c_proj (C), the
  // factor 2 relu (2), ·c_fc (4C) and the batch sums of the weight gradients (N).
  const double k_forward = C + 2 + 4 * C + 1;
  expect_close("mlp y", y.data(), torch.out("mlp.y"), k_forward);
  expect_close("mlp dx", dx.data(), torch.out("mlp.dx"), k_forward + C + 2 + 4 * C);
  expect_close("mlp dc_proj", dproj.data(), torch.out("mlp.dc_proj"), k_forward + N);
  expect_close("mlp dc_fc", dfc.data(), torch.out("mlp.dc_fc"), k_forward + C + 2 + N);
}

TEST(GptLayers, SoftcapCrossEntropyMatchesPytorch) {
  auto& torch = Torch::get();
  const int N = 30, V = 256;
  std::vector<float> s = torch.in("ce.z"), dz(N * V);
  const double loss = softcap_crossentropy_forward(s.data(), dz.data(), torch.tokens("ce.targets").data(), N, V, kCap,
                                                   1.0f / N) / N;
  // s = cap · tanh(z · (1/cap)): three roundings and libmvec's tanh (8u; its condition number is ≤ 1): K = 11.
  expect_close("soft-capped logits", s.data(), torch.out("ce.s"), 11);
  for (float v : s) EXPECT_LE(std::abs(v), kCap);
  // loss_n = m − s_t + log Σ exp(s − m): s off by 11u·cap absolutely (twice: m and s_t, and inside each exp,
  // whose own error is 8u), the V-term sum by (V + 2)u relatively, which the log makes absolute.
  EXPECT_NEAR(loss, torch.loss("ce"), (4 * 11 * kGptSoftcap + 8 + V + 4) * kU);
  // dz = dscale (softmax − onehot)(1 − (s/cap)²): softmax as the loss (exp's conditioning 2·11·cap, its own
  // 8u, the sum V + 2, the division), the derivative of tanh from s (off by 11u: 22u·(s/cap)² absolute).
  expect_close("dz", dz.data(), torch.out("ce.dz"), 2 * 11 * kGptSoftcap + 8 + V + 4 + 22 + 4);
  // Without targets: the soft cap only.
  std::vector<float> only = torch.in("ce.z");
  EXPECT_EQ(softcap_crossentropy_forward(only.data(), static_cast<float*>(nullptr), nullptr, N, V, kCap, 1.0f), 0.0);
  EXPECT_EQ(only, s);
}

// The soft cap and the softmaxes run on glibc's SIMD expf and tanhf (libmvec, objectives/vector_math.cpp).
// glibc bounds libmvec's error by 4 ulp, i.e. 8u relative (scalar expf and tanhf: ≤ 1 ulp); the bounds in
// these tests count 8u per exp and tanh. Checked here against double over the ranges the network feeds
// them (raw logits; arguments of exp in [−160, 0]): exp on its rounded argument x − shift (rounding the
// argument is the subtraction's error, which the bounds count as exp's conditioning) ≤ 4 ulp; the soft cap
// cap · tanh(x · (1/cap)) adds three roundings (1/cap, the product, cap ·) to tanh's, whose condition number
// is ≤ 1: ≤ 8u + 3u relative.
TEST(GptLayers, VectorExpAndTanhAreWithinLibmvecsBound) {
  std::vector<float> x;
  for (double v = -80.0; v <= 80.0; v += 0.0137) x.push_back(static_cast<float>(v));
  for (float tiny : {1e-30f, -3e-20f, 1e-8f}) x.push_back(tiny);
  std::vector<float> capped = x;
  softcap_floats(capped.data(), capped.size(), kCap);
  double worst_tanh = 0.0;  // relative, in u
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double exact = kGptSoftcap * std::tanh(double(x[i]) / kGptSoftcap);
    worst_tanh = std::max(worst_tanh, std::abs(capped[i] - exact) / std::abs(exact) / kU);
  }
  EXPECT_LE(worst_tanh, 11.0);
  std::vector<float> e(x.size());
  const float sum = exp_sum_floats(e.data(), x.data(), x.size(), 80.0f);  // exp(x − 80) ∈ (0, 1]
  double exact_sum = 0.0, worst_exp = 0.0;  // in ulp of the exact value
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double exact = std::exp(double(x[i] - 80.0f));
    exact_sum += exact;
    if (exact >= 0x1p-126) worst_exp = std::max(worst_exp, std::abs(e[i] - exact) / std::ldexp(1.0, std::ilogb(exact) - 23));
  }
  EXPECT_LE(worst_exp, 4.0);
  // The sum, in any order: ≤ n u relative (positive terms).
  EXPECT_NEAR(sum, exact_sum, double(x.size()) * kU * exact_sum);
}

// ---------------------------------------------------------------------------------------------------
// The whole model against PyTorch autograd (float64), on random weights in every block.
//
// K for the loss, the logits and every gradient: the forward's reductions per layer (rmsnorm C, the qkv
// product C, QK-norm D + 4, scores D + 2 with exp's conditioning √D (2D + 10) and its own 8, softmax T + 2,
// att·v T, c_proj C, rmsnorm C, c_fc C, relu² 2, c_proj 4C), then the final rmsnorm C, lm_head C, the soft
// cap 11 and the cross-entropy's exp (conditioning 2·11·cap, its own 8) and sum V + 2: F. The backward pass repeats each reduction once
// on the forward's values, with the two cancellations at most doubling (≤ 2F more), and the weight
// gradients sum over the N = B·T positions: K = 3F + N.

double model_tolerance(const GptShape& s, int B, int T) {
  const double C = s.width, D = double(s.width) / s.heads;
  const double layer = C + C + (D + 4) + (D + 2) + std::sqrt(D) * (2 * D + 10) + 8 + (T + 2) + T + C + C + C + 2 + 4 * C;
  const double F = s.layers * layer + C + C + 11 + 2 * 11 * kGptSoftcap + 8 + s.vocab + 2;
  return 3 * F + B * T;
}

TEST(Gpt, LossLogitsAndEveryGradientMatchPytorch) {
  auto& torch = Torch::get();
  for (const auto& [name, c] : kModelCases) {
    SCOPED_TRACE(name);
    const ParamLayout layout = gpt_layout(c.shape, RoleTable{});
    const std::vector<float>& params = torch.in(name + ".params");
    GptNetwork<float> network(c.shape, c.B + 1);  // a larger arena than the batch: views must not assume B
    const std::size_t N = std::size_t(c.B) * c.T;
    const double loss = network.forward(params.data(), torch.tokens(name + ".inputs").data(),
                                        torch.tokens(name + ".targets").data(), c.B, c.T, 1.0f / float(N)) / double(N);
    std::vector<float> grad(layout.size(), 123.0f);  // overwritten
    network.backward(params.data(), grad.data());

    const double K = model_tolerance(c.shape, c.B, c.T);
    EXPECT_NEAR(loss, torch.loss(name), K * kU * std::max(1.0, torch.loss(name)));
    EXPECT_GT(loss, 1.0);  // random weights and targets: far from a trivial loss
    expect_close("logits", network.logits(), torch.out(name + ".logits"), K);
    const std::vector<double> ref = torch.out(name + ".grad");
    ASSERT_EQ(ref.size(), layout.size());
    for (const Block& b : layout.blocks()) {
      const std::vector<double> block(ref.begin() + std::ptrdiff_t(b.offset),
                                      ref.begin() + std::ptrdiff_t(b.offset + b.size()));
      expect_close(b.name, grad.data() + b.offset, block, K);
    }
  }
}

// The PyTorch twin (tools/gpt_torch.py) names and orders its parameters as the layout table does: the
// checkpoint tool loads Ringmaster's flat buffer into it by that order.
TEST(Gpt, PytorchTwinHasTheLayoutTablesBlocksInOrder) {
  auto& torch = Torch::get();
  for (const auto& [name, c] : kModelCases) {
    std::string expected;
    const ParamLayout layout = gpt_layout(c.shape, RoleTable{});
    for (const Block& b : layout.blocks())
      expected += b.name + " " + std::to_string(b.rows) + " " + std::to_string(b.cols) + "\n";
    EXPECT_EQ(torch.text(name + ".layout.txt"), expected);
  }
}

// ---------------------------------------------------------------------------------------------------
// Central differences in double on a tiny model: L = 2, H = 2, C = 8 (D = 4), context 6, B = 2, vocabulary 32
// (so that most embedding rows are used): 2,048 parameters, every one checked.
//
// For f smooth on [p − h, p + h], (f(p + h) − f(p − h)) / 2h = f'(p) + h² f'''(ξ)/6; in double the two
// evaluations add ≲ 2·10 u_d |f| / 2h (u_d = 2⁻⁵³, ~10 roundings of relative size u_d in f ≈ 3.5). With
// h = 1e-5: rounding ≈ 4e-11; truncation 1.7e-11 · |f'''|, and with O(1) weights behind normalizations
// the third derivatives along one parameter are O(1)–O(10): ≲ 2e-10. The tolerance 2e-8 (+ 1e-6 relative)
// leaves a factor ~50; a wrong term is off by O(0.01+). f is C¹ but not C² at relu²'s kink: a step that
// moved a pre-activation across 0 would add O(h). The test first asserts, with the layer functions, that
// every c_fc pre-activation is ≥ 1e-3 from 0, while a ±h step moves one by ≲ 10 h = 1e-4.

// min over layers and positions of |c_fc pre-activation|, from the layer functions in the documented order.
double closest_relu_kink(const GptShape& s, const std::vector<double>& p, const std::vector<std::uint8_t>& in, int B,
                         int T) {
  const int C = s.width, H = s.heads, D = C / H, N = B * T;
  const ParamLayout layout = gpt_layout(s, RoleTable{});
  const auto w = [&](std::size_t block) { return p.data() + layout.blocks()[block].offset; };
  std::vector<double> x(N * C), ln(N * C), r(N * H), qkv(N * 3 * C), q(N * C), k(N * C), y(N * C),
      att(std::size_t(B) * H * T * T), h(N * 4 * C), a(N * 4 * C), cos(T * D / 2), sin(T * D / 2);
  rotary_tables(cos.data(), sin.data(), T, D);
  embedding_forward(x.data(), in.data(), w(0), N, C);
  rmsnorm_forward(x.data(), r.data(), x.data(), N, C);
  double closest = std::numeric_limits<double>::infinity();
  for (int l = 0; l < s.layers; ++l) {
    const std::size_t first = 1 + 6 * std::size_t(l);
    rmsnorm_forward(ln.data(), r.data(), x.data(), N, C);
    matmul_forward(qkv.data(), ln.data(), w(first), N, C, 3 * C, false);
    rotary_forward(q.data(), qkv.data(), 3 * C, cos.data(), sin.data(), B, T, H, D);
    rotary_forward(k.data(), qkv.data() + C, 3 * C, cos.data(), sin.data(), B, T, H, D);
    rmsnorm_forward(q.data(), r.data(), q.data(), N * H, D);
    rmsnorm_forward(k.data(), r.data(), k.data(), N * H, D);
    attention_forward(y.data(), att.data(), q.data(), k.data(), qkv.data() + 2 * C, 3 * C, B, T, H, D);
    matmul_forward(x.data(), y.data(), w(first + 3), N, C, C, true);
    rmsnorm_forward(ln.data(), r.data(), x.data(), N, C);
    matmul_forward(h.data(), ln.data(), w(first + 4), N, C, 4 * C, false);
    for (double v : h) closest = std::min(closest, std::abs(v));
    relu2_forward(a.data(), h.data(), h.size());
    matmul_forward(x.data(), a.data(), w(first + 5), N, 4 * C, C, true);
  }
  return closest;
}

TEST(Gpt, BackwardMatchesCentralDifferencesInDouble) {
  const GptShape shape{2, 2, 8, 6, 32};
  const int B = 2, T = 6;
  const ParamLayout layout = gpt_layout(shape, RoleTable{});
  std::mt19937 rng(6);
  const std::vector<double> params = random_params<double>(layout, rng, 8.0);
  const auto inputs = bytes(rng, B * T, 32), targets = bytes(rng, B * T, 32);
  ASSERT_GT(closest_relu_kink(shape, params, inputs, B, T), 1e-3) << "pick another seed: a ±h step could cross a kink";

  GptNetwork<double> network(shape, B);
  const auto loss = [&](const std::vector<double>& p) {
    return network.forward(p.data(), inputs.data(), targets.data(), B, T, 0.0) / (B * T);
  };
  const double f = loss(params);
  network.forward(params.data(), inputs.data(), targets.data(), B, T, 1.0 / (B * T));
  std::vector<double> grad(params.size(), 123.0);
  network.backward(params.data(), grad.data());

  const double h = 1e-5;
  double largest = 0.0;
  std::vector<double> p = params;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = params[i] + h;
    const double up = loss(p);
    p[i] = params[i] - h;
    const double down = loss(p);
    p[i] = params[i];
    const double central = (up - down) / (2 * h);
    ASSERT_NEAR(grad[i], central, 2e-8 + 1e-6 * std::abs(central)) << "parameter " << i;
    largest = std::max(largest, std::abs(grad[i]));
  }
  EXPECT_GT(f, 1.0);
  EXPECT_GT(largest, 1e-2);  // the comparison is not between zeros
  EXPECT_EQ(loss(params), f);  // forward without dscale left nothing behind that changes the next one
}

// ---------------------------------------------------------------------------------------------------
// Causality, sampling-style calls, misuse.

// The logits at position t depend on tokens 0..t only: changing later tokens leaves them bitwise equal
// (every step is row-wise except attention, whose masked probabilities are exactly 0 and 0·v = 0). A prefix
// run (T = t + 1, as sampling does) gives the same logits up to the order of BLAS's sums (products of other
// sizes): K u as for the model test.
TEST(Gpt, LogitsAtPositionTDependOnlyOnTokensUpToT) {
  const GptShape shape{2, 4, 32, 48};
  const int B = 2, T = 48, V = 256, t0 = 37;  // in the second block of causal attention
  std::mt19937 rng(8);
  const ParamLayout layout = gpt_layout(shape, RoleTable{});
  const auto params = random_params<float>(layout, rng, 8.0);
  auto inputs = bytes(rng, B * T, V);
  GptNetwork<float> network(shape, B);
  network.forward(params.data(), inputs.data(), nullptr, B, T, 1.0f);
  const std::vector<float> before(network.logits(), network.logits() + std::size_t(B) * T * V);

  for (int b = 0; b < B; ++b)
    for (int t = t0 + 1; t < T; ++t) inputs[std::size_t(b) * T + t] ^= 0x5a;
  network.forward(params.data(), inputs.data(), nullptr, B, T, 1.0f);
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const float* was = before.data() + (std::size_t(b) * T + t) * V;
      const float* now = network.logits() + (std::size_t(b) * T + t) * V;
      if (t <= t0) {
        EXPECT_TRUE(std::equal(was, was + V, now)) << "sequence " << b << ", position " << t;
      } else {
        EXPECT_GT(distance(was, now, V), 1e-3) << "position " << t << " did not see its changed token";
      }
    }
  }

  std::vector<std::uint8_t> prefix;
  for (int b = 0; b < B; ++b)
    prefix.insert(prefix.end(), inputs.begin() + b * T, inputs.begin() + b * T + t0 + 1);
  std::vector<float> full(network.logits(), network.logits() + std::size_t(B) * T * V);
  network.forward(params.data(), prefix.data(), nullptr, B, t0 + 1, 1.0f);
  const double K = model_tolerance(shape, B, T);
  for (int b = 0; b < B; ++b) {
    const float* ref = full.data() + std::size_t(b) * T * V;
    const float* got = network.logits() + std::size_t(b) * (t0 + 1) * V;
    EXPECT_LE(distance(got, ref, std::size_t(t0 + 1) * V), K * kU * norm(ref, std::size_t(t0 + 1) * V));
  }
}

TEST(Gpt, MisuseIsAnError) {
  EXPECT_THROW(GptNetwork<float>(GptShape{1, 3, 16, 8}, 1), Error);  // 16 / 3 heads
  EXPECT_THROW(GptNetwork<float>(GptShape{1, 4, 12, 8}, 1), Error);  // head dim 3: odd
  EXPECT_THROW(GptNetwork<float>(GptShape{0, 2, 16, 8}, 1), Error);
  const GptShape shape{1, 2, 16, 8, 32};
  GptNetwork<float> network(shape, 2);
  std::vector<float> params(gpt_layout(shape, RoleTable{}).size(), 0.1f), grad(params.size());
  std::vector<std::uint8_t> tokens(3 * 9, 1);
  EXPECT_THROW(network.forward(params.data(), tokens.data(), tokens.data(), 3, 8, 1.0f), Error);  // B > max
  EXPECT_THROW(network.forward(params.data(), tokens.data(), tokens.data(), 2, 9, 1.0f), Error);  // T > context
  tokens[5] = 32;  // outside the vocabulary of 32
  EXPECT_THROW(network.forward(params.data(), tokens.data(), nullptr, 2, 8, 1.0f), Error);
  tokens[5] = 31;
  network.forward(params.data(), tokens.data(), nullptr, 2, 8, 1.0f);  // logits only: nothing to differentiate
  EXPECT_THROW(network.backward(params.data(), grad.data()), Error);
}

// ---------------------------------------------------------------------------------------------------
// Layout and initialization.

TEST(Gpt, LayoutNamesShapesAndRoles) {
  const GptShape shape{2, 4, 32, 16};
  RoleTable roles;
  roles[Role::embedding] = {Geometry::l2, 0.5};
  const ParamLayout layout = gpt_layout(shape, roles);
  const auto& blocks = layout.blocks();
  ASSERT_EQ(blocks.size(), 2u + 6u * 2u);
  EXPECT_EQ(blocks[0].name, "wte");
  EXPECT_EQ(blocks[0].role, Role::embedding);
  EXPECT_EQ(blocks[0].geometry, Geometry::l2);
  EXPECT_EQ(blocks[0].multiplier, 0.5);
  EXPECT_EQ(blocks[0].rows, 256);
  const std::vector<std::tuple<std::string, int, int>> layer{{"attn.c_q", 32, 32},   {"attn.c_k", 32, 32},
                                                             {"attn.c_v", 32, 32},   {"attn.c_proj", 32, 32},
                                                             {"mlp.c_fc", 128, 32},  {"mlp.c_proj", 32, 128}};
  for (int l = 0; l < 2; ++l)
    for (std::size_t j = 0; j < layer.size(); ++j) {
      const Block& b = blocks[1 + 6 * std::size_t(l) + j];
      EXPECT_EQ(b.name, "h." + std::to_string(l) + "." + std::get<0>(layer[j]));
      EXPECT_EQ(b.rows, std::get<1>(layer[j]));
      EXPECT_EQ(b.cols, std::get<2>(layer[j]));
      EXPECT_EQ(b.role, Role::matrix);
      EXPECT_EQ(b.geometry, Geometry::spectral);
    }
  EXPECT_EQ(blocks.back().name, "lm_head");
  EXPECT_EQ(blocks.back().role, Role::head);
  EXPECT_EQ(layout.size(), 2u * 256 * 32 + 2u * 12 * 32 * 32);
  // c_q, c_k, c_v are adjacent: the network reads them as one (3C, C) matrix.
  EXPECT_EQ(blocks[2].offset, blocks[1].offset + 32 * 32);
  EXPECT_EQ(blocks[3].offset, blocks[2].offset + 32 * 32);
}

// nanochat's initialization: zero projections and head; wte N(0, 1); every other matrix N(0, std²) with
// std = 1/√in · min(1, √(out/in)). Over n draws the sample mean is within 5σ/√n of 0 and the sample
// standard deviation within 5σ/√(2n) of σ (the standard error of a normal sample's s is σ/√(2(n−1))),
// so a right initialization fails one of these with probability < 1e-5; a wrong scale (a factor √2 or 2)
// misses by far more at n ≥ 1,024.
TEST(Gpt, InitializationIsNanochatsSeededAndStatisticallyRight) {
  const GptShape shape{2, 4, 64, 16};
  const ParamLayout layout = gpt_layout(shape, RoleTable{});
  std::vector<float> x(layout.size(), 1.0f), again(x.size()), other(x.size());
  gpt_initialize(shape, layout, 42, x);
  gpt_initialize(shape, layout, 42, again);
  gpt_initialize(shape, layout, 43, other);
  EXPECT_EQ(x, again);
  EXPECT_NE(x, other);
  for (const Block& b : layout.blocks()) {
    const float* w = x.data() + b.offset;
    const bool zero = b.name == "lm_head" || b.name.ends_with("c_proj");
    if (zero) {
      EXPECT_TRUE(std::all_of(w, w + b.size(), [](float v) { return v == 0.0f; })) << b.name;
      continue;
    }
    const double sigma = b.name == "wte" ? 1.0
                                         : 1.0 / std::sqrt(double(b.cols)) * std::min(1.0, std::sqrt(double(b.rows) / b.cols));
    const double n = double(b.size());
    double sum = 0.0, sum_sq = 0.0;
    for (std::size_t i = 0; i < b.size(); ++i) sum += w[i], sum_sq += double(w[i]) * w[i];
    const double mean = sum / n, sd = std::sqrt(sum_sq / n - mean * mean);
    EXPECT_LE(std::abs(mean), 5.0 * sigma / std::sqrt(n)) << b.name;
    EXPECT_NEAR(sd, sigma, 5.0 * sigma / std::sqrt(2.0 * n)) << b.name;
  }
  std::vector<float> wrong(x.size() + 1);
  EXPECT_THROW(gpt_initialize(shape, layout, 1, wrong), Error);
}

// nanochat's FLOP count: 6 per matrix parameter but the embedding, plus 12·L·C·T.
TEST(Gpt, FlopsPerTokenCountsEveryProduct) {
  const GptShape shape{4, 4, 128, 128};
  const GptNetwork<float> network(shape, 1);
  const double matrices = 4.0 * 12 * 128 * 128 + 256.0 * 128;
  EXPECT_DOUBLE_EQ(network.flops_per_token(), 6 * matrices + 12.0 * 4 * 128 * 128);
}

}  // namespace
}  // namespace ringmaster
