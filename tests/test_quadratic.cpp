// The stochastic quadratic of docs/method.md §6.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "objectives/quadratic.hpp"

namespace ringmaster {
namespace {

Config quadratic_config(int rows, int cols, const std::string& rhs, double noise) {
  Config c;
  c.objective.rows = rows;
  c.objective.cols = cols;
  c.objective.rhs = kRhsNames.parse(rhs);
  c.objective.noise = noise;
  c.objective.mu = 0.001;
  return c;
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// At X* the full gradient vanishes (up to float rounding of X*) and f − f* is ~0; at X0 = 0,
// f(0) − f* = −f* = ½ tr(Bᵀ X*).
TEST(Quadratic, SolutionIsStationaryAndLossIsSuboptimality) {
  Quadratic q(quadratic_config(16, 8, "gaussian", 0.0));
  const std::vector<float> xs = to_float(q.solution());
  std::vector<float> g(xs.size());
  q.full_gradient(xs, g);
  // ‖A‖ ≤ 1 + μ, so rounding X* to float leaves a gradient of order ‖X*‖·eps.
  double xmax = 0.0;
  for (double v : q.solution()) xmax = std::max(xmax, std::abs(v));
  for (float v : g) EXPECT_LE(std::abs(v), 4.0 * xmax * 1.2e-7);
  EXPECT_LE(q.evaluate(xs).loss, 1e-6 * q.evaluate(std::vector<float>(xs.size(), 0.0f)).loss);

  std::vector<float> zero(xs.size(), 0.0f);
  q.full_gradient(zero, g);  // = −B
  double half_b_dot_xstar = 0.0;
  for (std::size_t i = 0; i < g.size(); ++i) half_b_dot_xstar += 0.5 * -g[i] * q.solution()[i];
  EXPECT_NEAR(q.evaluate(zero).loss, half_b_dot_xstar, 1e-9 * half_b_dot_xstar);
}

// objective.blocks = B: B independent problems, one parameter block each. Each block's gradient depends
// on that block alone (A is block-diagonal: no coupling across a block boundary), its own first row
// carries the e1 right-hand side and the e1 start, the stacked X* is stationary, and f − f* is the sum
// of the blocks' suboptimalities.
TEST(Quadratic, BlocksAreIndependentProblems) {
  Config c = quadratic_config(4, 3, "e1", 0.0);
  c.objective.blocks = 3;
  c.objective.x0 = X0::e1;
  c.objective.x0_scale = 2.0;
  Quadratic q(c);
  ASSERT_EQ(q.layout().blocks().size(), 3u);
  EXPECT_EQ(q.layout().blocks()[2].name, "X2");
  EXPECT_EQ(q.layout().blocks()[2].offset, 24u);
  const std::size_t n = q.layout().size(), per = 12;
  std::vector<float> x(n), g(n), g2(n);
  q.initial_point(x);
  q.full_gradient(std::vector<float>(n, 0.0f), g);  // −B
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t i = 0; i < per; ++i) {
      EXPECT_EQ(x[b * per + i], i < 3 ? 2.0f : 0.0f);
      EXPECT_EQ(g[b * per + i], i < 3 ? -1.0f : 0.0f);
    }
  // Perturbing the last row of block 0 moves block 0's gradient only (a coupled A would move block 1's
  // first row by −¼ of it).
  q.full_gradient(x, g);
  std::vector<float> y = x;
  for (std::size_t i = 9; i < 12; ++i) y[i] += 1.0f;
  q.full_gradient(y, g2);
  for (std::size_t i = per; i < n; ++i) EXPECT_EQ(g2[i], g[i]) << i;
  EXPECT_NE(g2[8], g[8]);
  // X* stationary; f − f* adds over blocks: blocks 1, 2 at their optimum leave block 0's share.
  const std::vector<float> xs = to_float(q.solution());
  q.full_gradient(xs, g);
  for (float v : g) EXPECT_LE(std::abs(v), 1e-5f);
  Config one = quadratic_config(4, 3, "e1", 0.0);
  Quadratic single(one);
  std::vector<float> z(n, 0.0f), z1(per, 0.0f);
  std::copy(xs.begin() + per, xs.end(), z.begin() + per);
  EXPECT_NEAR(q.evaluate(z).loss, single.evaluate(z1).loss, 1e-12);
}

TEST(Quadratic, E1RightHandSideIsFirstRowOnes) {
  Quadratic q(quadratic_config(5, 3, "e1", 0.0));
  std::vector<float> zero(15, 0.0f), g(15);
  q.full_gradient(zero, g);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(g[static_cast<std::size_t>(c)], -1.0f);
  for (std::size_t i = 3; i < 15; ++i) EXPECT_EQ(g[i], 0.0f);
}

// Stochastic gradients are unbiased with per-entry standard deviation σ: the mean of N samples is
// within 5σ/√N of the full gradient in every entry, and the sample variance within 10% of σ².
TEST(Quadratic, StochasticGradientIsUnbiasedWithVarianceSigmaSquared) {
  const double sigma = 0.5;
  Quadratic q(quadratic_config(8, 4, "gaussian", sigma));
  std::vector<float> x(32);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i % 7);
  std::vector<float> full(32), g(32);
  q.full_gradient(x, full);
  const int n = 4000;
  std::vector<double> mean(32, 0.0);
  double sq = 0.0, loss = 0.0;
  SampleStream samples(7, 1, 0, 0);
  for (int s = 0; s < n; ++s) {
    loss += q.stochastic_gradient(x, g, samples) / n;
    for (std::size_t i = 0; i < 32; ++i) {
      mean[i] += g[i] / n;
      sq += (g[i] - full[i]) * (g[i] - full[i]);
    }
  }
  for (std::size_t i = 0; i < 32; ++i) EXPECT_NEAR(mean[i], full[i], 5.0 * sigma / std::sqrt(n));
  EXPECT_NEAR(sq / (32.0 * n), sigma * sigma, 0.1 * sigma * sigma);
  // The sample loss f(x; ξ) − f* = f(x) − f* + σ<ξ, x> is unbiased, with standard deviation σ‖x‖.
  double x_norm = 0.0;
  for (float v : x) x_norm += static_cast<double>(v) * v;
  EXPECT_NEAR(loss, q.evaluate(x).loss, 5.0 * sigma * std::sqrt(x_norm) / std::sqrt(n));
}

// The authors' worst case (docs/method.md §6): d = 1729, μ = 0, b = −¼ e1, x0 = (√d, 0, …, 0). A is then
// tridiag(−1, 2, −1)/4 with eigenvalues (1 − cos(πj/(d+1)))/2, cond ≈ 4(d+1)²/π² ≈ 1.2e6, still solved
// exactly: T⁻¹e1 = ((d + 1 − i)/(d + 1))_i for T = tridiag(−1, 2, −1), so x* = 4 · (−¼) T⁻¹e1 and
// f* = −½ bᵀx* = −d / (8(d + 1)). dptsv's relative error is at most cond · 1e-16 ≈ 1e-10.
TEST(Quadratic, AuthorsWorstCaseAtMuZeroHasTheClosedFormMinimum) {
  const int d = 1729;
  Config c = quadratic_config(d, 1, "e1", 0.0);
  c.objective.mu = 0.0;
  c.objective.rhs_scale = -0.25;
  c.objective.x0 = X0::e1;
  c.objective.x0_scale_sqrt_d = true;
  Quadratic q(c);
  EXPECT_EQ(q.layout().blocks().front().role, Role::vector);  // one vector block: vector_geometry applies
  for (int i = 1; i <= d; ++i)
    ASSERT_NEAR(q.solution()[static_cast<std::size_t>(i - 1)], -static_cast<double>(d + 1 - i) / (d + 1), 1e-9) << i;
  std::vector<float> x0(d);
  q.initial_point(x0);
  EXPECT_EQ(x0[0], static_cast<float>(std::sqrt(1729.0)));
  for (int i = 1; i < d; ++i) ASSERT_EQ(x0[static_cast<std::size_t>(i)], 0.0f);
  // f(x0) = ½ x0ᵀ A x0 − bᵀx0 = d/4 + √d/4 (A_11 = ½); x0 is √d rounded to float (relative 6e-8), so
  // f(x0) − f* agrees to 1e-6.
  const double f_star = -d / (8.0 * (d + 1));
  const double x = x0[0];
  EXPECT_NEAR(q.evaluate(x0).loss, 0.25 * x * x + 0.25 * x - f_star, 1e-6 * 450.0);
  // The stationarity measure at x0: ∇f = A x0 − b = (x/2 + ¼, −x/4, 0, …): ‖∇f‖² = (x/2 + ¼)² + x²/16.
  std::vector<float> g(d);
  q.full_gradient(x0, g);
  double norm2 = 0.0;
  for (float v : g) norm2 += static_cast<double>(v) * v;
  EXPECT_NEAR(norm2, (x / 2 + 0.25) * (x / 2 + 0.25) + x * x / 16, 1e-5 * norm2);
}

// noise_kind = "shared": one ξ_c per column times 𝟙, so every row of g − ∇f is the same, and each
// column's value has mean 0 and variance σ² (5 standard errors over N samples; the variance within
// 10%: its relative standard error is √(2/N) ≈ 2.2% at N = 4000).
TEST(Quadratic, SharedNoiseIsOneNormalPerColumnInEveryRow) {
  const double sigma = 0.5;
  Config c = quadratic_config(6, 3, "gaussian", sigma);
  c.objective.noise_kind = GradientNoise::shared;
  Quadratic q(c);
  std::vector<float> x(18, 0.25f), full(18), g(18);
  q.full_gradient(x, full);
  SampleStream samples(3, 1, 0, 0);
  const int n = 4000;
  std::vector<double> mean(3, 0.0), sq(3, 0.0);
  for (int s = 0; s < n; ++s) {
    q.stochastic_gradient(x, g, samples);
    for (std::size_t col = 0; col < 3; ++col) {
      const double noise = g[col] - full[col];
      for (std::size_t r = 1; r < 6; ++r) ASSERT_NEAR(g[r * 3 + col] - full[r * 3 + col], noise, 1e-5);
      mean[col] += noise / n;
      sq[col] += noise * noise / n;
    }
  }
  for (std::size_t col = 0; col < 3; ++col) {
    EXPECT_NEAR(mean[col], 0.0, 5.0 * sigma / std::sqrt(n));
    EXPECT_NEAR(sq[col], sigma * sigma, 0.1 * sigma * sigma);
  }
}

// rhs_scale scales B whichever its kind; x0 = "e1" puts x0_scale in the first row.
TEST(Quadratic, RightHandSideAndInitialPointScales) {
  Config one = quadratic_config(4, 3, "gaussian", 0.0), two = one;
  two.objective.rhs_scale = 2.0;
  std::vector<float> zero(12, 0.0f), g1(12), g2(12);
  Quadratic(one).full_gradient(zero, g1);
  Quadratic(two).full_gradient(zero, g2);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(g2[i], 2.0f * g1[i]);
  Config e1 = quadratic_config(4, 3, "e1", 0.0);
  e1.objective.x0 = X0::e1;
  e1.objective.x0_scale = -1.5;
  std::vector<float> x0(12);
  Quadratic(e1).initial_point(x0);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(x0[i], i < 3 ? -1.5f : 0.0f);
}

TEST(Quadratic, SameSeedSameProblem) {
  Quadratic a(quadratic_config(6, 6, "gaussian", 0.1)), b(quadratic_config(6, 6, "gaussian", 0.1));
  EXPECT_EQ(a.solution(), b.solution());
  Config other = quadratic_config(6, 6, "gaussian", 0.1);
  other.run.seed = 1;
  EXPECT_NE(Quadratic(other).solution(), a.solution());
}

}  // namespace
}  // namespace ringmaster
