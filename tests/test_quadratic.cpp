// The stochastic quadratic of docs/method.md §6.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "objectives/quadratic.hpp"

namespace ringmaster {
namespace {

Config quadratic_config(int rows, int cols, const std::string& rhs, double noise) {
  Config c;
  c.objective.rows = rows;
  c.objective.cols = cols;
  c.objective.rhs = rhs;
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

TEST(Quadratic, SameSeedSameProblem) {
  Quadratic a(quadratic_config(6, 6, "gaussian", 0.1)), b(quadratic_config(6, 6, "gaussian", 0.1));
  EXPECT_EQ(a.solution(), b.solution());
  Config other = quadratic_config(6, 6, "gaussian", 0.1);
  other.run.seed = 1;
  EXPECT_NE(Quadratic(other).solution(), a.solution());
}

}  // namespace
}  // namespace ringmaster
