#include "objectives/quadratic.hpp"

#include <cblas.h>
#include <lapacke.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include "ringmaster/error.hpp"

namespace ringmaster {

Quadratic::Quadratic(const Config& config)
    : m_(config.objective.rows),
      k_(config.objective.cols),
      blocks_(config.objective.blocks),
      rows_(m_ * blocks_),
      mu_(config.objective.mu),
      sigma_(config.objective.noise),
      shared_noise_(config.objective.noise_kind == GradientNoise::shared),
      // X0 (docs/method.md §6): zero, or x0_scale in the first row ("sqrt-d": √m, the authors' (√d, 0, …, 0)).
      x0_first_row_(config.objective.x0 == X0::e1 ? static_cast<float>(config.objective.x0_scale_sqrt_d
                                                                          ? std::sqrt(static_cast<double>(m_))
                                                                          : config.objective.x0_scale)
                                                : 0.0f) {
  // X is the model's one weight matrix (a vector when it has one row or column), or with objective.blocks = B
  // > 1, B independent ones X0 … X(B−1), stacked: the (B·m)×k buffer whose A is block-diagonal.
  const Role role = (m_ > 1 && k_ > 1) ? Role::matrix : Role::vector;
  if (blocks_ == 1) {
    layout_.add("X", m_, k_, role, config.lmo.roles);
  } else {
    for (int b = 0; b < blocks_; ++b) layout_.add("X" + std::to_string(b), m_, k_, role, config.lmo.roles);
  }
  const std::size_t size = layout_.size();
  b_.assign(size, 0.0f);
  const auto scale = static_cast<float>(config.objective.rhs_scale);
  if (config.objective.rhs == Rhs::e1) {
    // First row of each block: the Nesterov worst case (b = −¼ e1: scale −0.25).
    for (int b = 0; b < blocks_; ++b) std::fill_n(b_.begin() + first_row(b), k_, scale);
  } else {
    Rng rng(config.run.seed, Stream::objective_data);
    rng.fill_normal(b_, scale);
  }

  // A X* = B: A is symmetric positive definite tridiagonal (eigenvalues in (μ, 1 + μ)), so the
  // LAPACK tridiagonal SPD solver applies to all k right-hand sides at once.
  // With blocks, the (B·m)×(B·m) A has zeros where one block's last row meets the next one's first.
  std::vector<double> diag(static_cast<std::size_t>(rows_), 0.5 + mu_);  // 2/4 + μ
  std::vector<double> off(static_cast<std::size_t>(std::max(rows_ - 1, 0)), -0.25);
  for (int b = 1; b < blocks_; ++b) off[static_cast<std::size_t>(b * m_ - 1)] = 0.0;
  x_star_.assign(b_.begin(), b_.end());
  const lapack_int info = LAPACKE_dptsv(LAPACK_ROW_MAJOR, rows_, k_, diag.data(), off.data(), x_star_.data(), k_);
  if (info != 0) throw Error("objective: the quadratic's A is singular (dptsv info " + std::to_string(info) + ")");
  x_star_float_.assign(x_star_.begin(), x_star_.end());
}

template <class In, class Out>
void Quadratic::apply_a(const In* x, Out* y) const {
  // (A X)_r = (2 X_r − X_{r−1} − X_{r+1}) / 4 + μ X_r, rows outside the matrix are zero.
  for (int r = 0; r < rows_; ++r) {
    const In* row = x + static_cast<std::ptrdiff_t>(r) * k_;
    Out* out = y + static_cast<std::ptrdiff_t>(r) * k_;
    for (int c = 0; c < k_; ++c) {
      double v = (0.5 + mu_) * row[c];
      if (has_above(r)) v -= 0.25 * row[c - k_];
      if (has_below(r)) v -= 0.25 * row[c + k_];
      out[c] = static_cast<Out>(v);
    }
  }
}

void Quadratic::initial_point(std::span<float> x) const {
  std::fill(x.begin(), x.end(), 0.0f);
  for (int b = 0; b < blocks_; ++b) std::fill_n(x.begin() + first_row(b), k_, x0_first_row_);
}

double Quadratic::suboptimality(std::span<const float> x) const {
  // ½ Σ_rc e_rc (A e)_rc with e = X − X*, formed row by row so that nothing is allocated per call.
  auto e = [&](int r, int c) {
    const std::size_t i = static_cast<std::size_t>(r) * static_cast<std::size_t>(k_) + static_cast<std::size_t>(c);
    return static_cast<double>(x[i]) - x_star_[i];
  };
  double s = 0.0;
  for (int r = 0; r < rows_; ++r) {
    for (int c = 0; c < k_; ++c) {
      double ae = (0.5 + mu_) * e(r, c);
      if (has_above(r)) ae -= 0.25 * e(r - 1, c);
      if (has_below(r)) ae -= 0.25 * e(r + 1, c);
      s += e(r, c) * ae;
    }
  }
  return 0.5 * s;
}

void Quadratic::draw_sample(std::span<float> g, SampleStream& samples) {
  if (!shared_noise_) {
    samples.noise.fill_normal_vectorized(g, static_cast<float>(sigma_));
    return;
  }
  // noise_kind = "shared": one ξ_c per column, the same in every row (σ ξ 𝟙 for a vector, as the authors'
  // code draws it): k normals in each block's first row, copied down that block.
  const std::size_t k = static_cast<std::size_t>(k_);
  for (int b = 0; b < blocks_; ++b) {
    const auto first = g.begin() + static_cast<std::ptrdiff_t>(first_row(b));
    samples.noise.fill_normal_vectorized(std::span<float>(first, k), static_cast<float>(sigma_));
    for (std::size_t r = 1; r < static_cast<std::size_t>(m_); ++r) std::copy_n(first, k, first + r * k);
  }
}

double Quadratic::gradient_at_sample(std::span<const float> x, std::span<float> g) {
  // g = A X − B + σ ξ (σ ξ is in g already), and the sample loss f(X; ξ) − f* = ½ <e, A X − B> + σ <ξ, X>
  // with e = X − X* (A X* = B). Written as whole-buffer passes that vectorize (A X − B in float, two
  // dsdot reductions in double) rather than one scalar loop: this runs once per simulated arrival. The
  // loss of a sample is noisy anyway, so e uses X* rounded to float; evaluate() uses the exact form.
  const int n = static_cast<int>(g.size());
  const double noise_dot_x = cblas_dsdot(n, g.data(), 1, x.data(), 1);  // σ <ξ, X>
  residual_.resize(g.size());
  error_.resize(g.size());
  const std::size_t k = static_cast<std::size_t>(k_);
  const float diagonal = static_cast<float>(0.5 + mu_);  // A = tridiag(−1, 2, −1)/4 + μ I
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows_); ++r) {
    const float* row = x.data() + r * k;
    const float* b = b_.data() + r * k;
    float* out = residual_.data() + r * k;  // (A X − B)_r
    for (std::size_t c = 0; c < k; ++c) out[c] = diagonal * row[c] - b[c];
    if (has_above(static_cast<int>(r)))
      for (std::size_t c = 0; c < k; ++c) out[c] -= 0.25f * row[c - k];
    if (has_below(static_cast<int>(r)))
      for (std::size_t c = 0; c < k; ++c) out[c] -= 0.25f * row[c + k];
  }
  for (std::size_t i = 0; i < g.size(); ++i) error_[i] = x[i] - x_star_float_[i];
  const double e_dot_residual = cblas_dsdot(n, error_.data(), 1, residual_.data(), 1);
  cblas_saxpy(n, 1.0f, residual_.data(), 1, g.data(), 1);  // g ← A X − B + σ ξ
  return 0.5 * e_dot_residual + noise_dot_x;
}

void Quadratic::full_gradient(std::span<const float> x, std::span<float> g) {
  apply_a(x.data(), g.data());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] -= b_[i];
}

Evaluation Quadratic::evaluate(std::span<const float> x) { return {suboptimality(x), std::nullopt}; }

// The registry's row (objective.hpp): rows × cols × blocks parameters, nothing held beside them.
ObjectiveRow quadratic_objective() {
  return {"quadratic", "objective",
          [](const Config& c) {
            const ObjectiveConfig& o = c.objective;
            ObjectiveSize size;
            size.parameters = static_cast<double>(o.rows) * o.cols * o.blocks;
            size.shape = fmt::format("objective.rows x objective.cols x objective.blocks = {} x {} x {}", o.rows,
                                     o.cols, o.blocks);
            size.keys = {"objective.cols", "objective.rows", "objective.blocks"};
            return size;
          },
          [](const Config& c) -> std::unique_ptr<Objective> { return std::make_unique<Quadratic>(c); }};
}

}  // namespace ringmaster
