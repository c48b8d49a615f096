// The stochastic quadratic of docs/method.md §6:
//   f(X) = ½ tr(Xᵀ A X) − tr(Bᵀ X),  X ∈ R^{m×k} (or objective.blocks = B independent such problems, one
//   parameter block each, summed),  A = tridiag(−1, 2, −1)/4 + μ I  (m×m),
//   B = rhs_scale · (seeded Gaussian | first row ones),  X0 = 0 | x0_scale · (first row ones),
//   ∇f(X; ξ) = A X − B + σ ξ,  ξ standard normal entrywise, or one ξ_c per column shared by its rows;
//   f* from A X* = B (LAPACKE).
#pragma once

#include <vector>

#include "ringmaster/objective.hpp"

namespace ringmaster {

class Quadratic final : public Objective {
 public:
  explicit Quadratic(const Config& config);

  const ParamLayout& layout() const override { return layout_; }
  void initial_point(std::span<float> x) const override;
  void draw_sample(std::span<float> g, SampleStream& samples) override;  // g ← σ ξ
  bool known_minimum() const override { return true; }
  double gradient_at_sample(std::span<const float> x, std::span<float> g) override;
  void full_gradient(std::span<const float> x, std::span<float> g) override;
  Evaluation evaluate(std::span<const float> x) override;

  // f(x) − f* = ½ <X − X*, A (X − X*)>, in double (exact to rounding of x, not of a difference of two
  // large numbers).
  double suboptimality(std::span<const float> x) const;
  const std::vector<double>& solution() const { return x_star_; }

 private:
  // y = A x for a row-major m×k x (A is tridiagonal, so O(mk)).
  template <class In, class Out>
  void apply_a(const In* x, Out* y) const;

  // Row r of the stacked (B·m)×k buffer has a neighbour above / below in its own block.
  bool has_above(int r) const { return r % m_ != 0; }
  bool has_below(int r) const { return (r + 1) % m_ != 0; }
  // Offset of block b's first row.
  std::size_t first_row(int b) const { return static_cast<std::size_t>(b) * static_cast<std::size_t>(m_) * k_; }

  int m_, k_;           // rows and columns of one block
  int blocks_;          // objective.blocks
  int rows_;            // m · blocks: rows of the stacked buffer
  double mu_, sigma_;
  bool shared_noise_;   // noise_kind = "shared"
  float x0_first_row_;  // X0's first row (the rest is zero)
  ParamLayout layout_;
  std::vector<float> b_;        // (m, k) right-hand side
  std::vector<double> x_star_;  // (m, k) minimizer
  std::vector<float> x_star_float_;  // (m, k) the minimizer rounded to float, for sample losses
  // Scratch of gradient_at_sample (so an objective serves one thread at a time, as every engine uses it):
  std::vector<float> residual_;  // (m, k) A X − B
  std::vector<float> error_;     // (m, k) X − X*
};

}  // namespace ringmaster
