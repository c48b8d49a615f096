// Tests of the parameter layout and of one LMO momentum step (docs/method.md §3, src/layout.cpp,
// src/optimizer.cpp). Expected values are worked out by hand in the comments; blocks are chosen so
// their polar factors are exact by inspection (diagonal, a signed permutation times a PSD diagonal,
// or orthogonal columns), and the svd back-end computes those to float rounding.
//
// Tolerance kHand = 1e-5: every expected value is a few operations on numbers of size ≤ 5 in
// float32 (ε ≈ 1.19e-7), and the svd polar factor of a 2×2 or 8×2 block is exact to a few ε,
// so errors stay ≲ 10·5·ε ≈ 6e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/optimizer.hpp"

namespace ringmaster {
namespace {

constexpr double kHand = 1e-5;

LmoOptions svd() {
  LmoOptions o;
  o.backend = SpectralBackend::svd;
  return o;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], kHand) << what << "[" << i << "]";
}

// --- layout --------------------------------------------------------------------------------------------

TEST(ParamLayoutTest, OffsetsArePrefixSums) {
  ParamLayout layout;
  EXPECT_EQ(layout.add("w1", 4, 3, Geometry::spectral), 0u);
  EXPECT_EQ(layout.add("b1", 1, 3, Geometry::none), 1u);
  EXPECT_EQ(layout.add("w2", 2, 5, Geometry::sign), 2u);
  ASSERT_EQ(layout.blocks().size(), 3u);
  EXPECT_EQ(layout.blocks()[0].offset, 0u);
  EXPECT_EQ(layout.blocks()[1].offset, 12u);
  EXPECT_EQ(layout.blocks()[2].offset, 15u);
  EXPECT_EQ(layout.size(), 25u);
  EXPECT_TRUE(layout.blocks()[0].is_matrix());
  EXPECT_FALSE(layout.blocks()[1].is_matrix());

  std::vector<float> flat(layout.size());
  for (std::size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(i);
  const std::span<float> b1 = layout.view(std::span<float>(flat), layout.blocks()[1]);
  ASSERT_EQ(b1.size(), 3u);
  EXPECT_EQ(b1[0], 12.0f);
}

TEST(ParamLayoutTest, RejectsBadBlocks) {
  ParamLayout layout;
  layout.add("w", 2, 2, Geometry::spectral);
  EXPECT_THROW(layout.add("w", 3, 3, Geometry::spectral), Error);  // duplicate name
  EXPECT_THROW(layout.add("z", 0, 3, Geometry::none), Error);
  EXPECT_THROW(layout.add("", 1, 3, Geometry::none), Error);
}

// --- scale ------------------------------------------------------------------------------------------------

TEST(StepScaleTest, ParseAndBlockScale) {
  EXPECT_EQ(parse_step_scale("muon"), StepScale::muon);
  EXPECT_EQ(parse_step_scale(to_string(StepScale::none)), StepScale::none);
  EXPECT_THROW(parse_step_scale("adam"), Error);

  const Block tall{"t", 8, 2, Role::matrix, Geometry::spectral, 1.0, 0};
  const Block wide{"w", 2, 8, Role::matrix, Geometry::spectral, 1.0, 0};
  const Block tall_l2{"v", 8, 2, Role::matrix, Geometry::l2, 1.0, 0};
  EXPECT_DOUBLE_EQ(block_scale(tall, StepScale::muon), 2.0);  // sqrt(max(1, 8/2))
  EXPECT_DOUBLE_EQ(block_scale(wide, StepScale::muon), 1.0);  // max(1, 2/8) = 1
  EXPECT_DOUBLE_EQ(block_scale(tall, StepScale::none), 1.0);
  EXPECT_DOUBLE_EQ(block_scale(tall_l2, StepScale::muon), 1.0);  // only spectral directions are scaled
  const Block ragged{"r", 300, 17, Role::matrix, Geometry::spectral, 1.0, 0};
  EXPECT_NEAR(block_scale(ragged, StepScale::muon), std::sqrt(300.0 / 17.0), 1e-12);
}

// --- one step, worked by hand ------------------------------------------------------------------------------

// One 2×2 spectral block, α = 0.5 (β = 0.5), γ = 0.1, x = [[1, 2], [3, 4]]:
//   m0 = diag(−3, 1), g = diag(2, −4)
//   m1 = β m0 + α g = diag(−1.5 + 1, 0.5 − 2) = diag(−0.5, −1.5)
//   nesterov off: u = m1 = diag(−0.5, −1.5), polar factor diag(−1, −1), lmo(u) = diag(1, 1)
//                 x1 = x + 0.1·diag(1, 1) = [[1.1, 2], [3, 4.1]]
//   nesterov on:  u = β m1 + α g = diag(−0.25 + 1, −0.75 − 2) = diag(0.75, −2.75),
//                 polar factor diag(1, −1), lmo(u) = diag(−1, 1), x1 = [[0.9, 2], [3, 4.1]]
// A 2×2 block has scale sqrt(max(1, 2/2)) = 1 under muon.
struct TwoByTwo {
  ParamLayout layout;
  std::vector<float> x{1, 2, 3, 4}, m{-3, 0, 0, 1}, g{2, 0, 0, -4};
  TwoByTwo() { layout.add("w", 2, 2, Geometry::spectral); }
};

TEST(LmoOptimizerTest, MuonStepByHandNesterovOff) {
  TwoByTwo t;
  LmoOptimizer opt(t.layout, svd(), /*nesterov=*/false, StepScale::muon);
  opt.step(t.x, t.m, t.g, 0.1, 0.5);
  expect_near_all(t.m, {-0.5f, 0, 0, -1.5f}, "m");
  expect_near_all(t.x, {1.1f, 2, 3, 4.1f}, "x");
}

TEST(LmoOptimizerTest, MuonStepByHandNesterovOn) {
  TwoByTwo t;
  LmoOptimizer opt(t.layout, svd(), /*nesterov=*/true, StepScale::muon);
  opt.step(t.x, t.m, t.g, 0.1, 0.5);
  expect_near_all(t.m, {-0.5f, 0, 0, -1.5f}, "m");
  expect_near_all(t.x, {0.9f, 2, 3, 4.1f}, "x");
}

// Block roles (docs/method.md §6): each block takes its role's geometry and multiplier from the table.
// m0 = 0, α = 1, γ = 0.1: a 2×2 matrix-role block, spectral, multiplier 1 (its step as in the
// StepOverLayout case below, ‖Δx‖₂ = 0.1), and a 1×2 head-role block, none, multiplier 5: Δx = −0.1·5·g.
TEST(LmoOptimizerTest, RoleTableSetsGeometryAndMultiplierPerBlock) {
  RoleTable roles;
  roles[Role::head] = {Geometry::none, 5.0};
  ParamLayout layout;
  layout.add("w", 2, 2, Role::matrix, roles);
  layout.add("head", 1, 2, Role::head, roles);
  ASSERT_EQ(layout.blocks()[1].geometry, Geometry::none);
  ASSERT_EQ(layout.blocks()[1].role, Role::head);
  std::vector<float> x(6, 0.0f), m(6, 0.0f), g{0, 2, -3, 0, 1, -2};
  LmoOptimizer opt(layout, svd(), /*nesterov=*/false, StepScale::muon);
  opt.step(x, m, g, 0.1, 1.0);
  expect_near_all(x, {0, -0.1f, 0.1f, 0, -0.5f, 1.0f}, "x");
}

// Three blocks in one flat buffer, m0 = 0, α = 1 (β = 0: m1 = u = g, either nesterov), γ = 0.1:
//   "r" 2×2 spectral, g = [[0, 2], [−3, 0]] = [[0, 1], [−1, 0]] · diag(3, 2): polar factor
//       [[0, 1], [−1, 0]] (orthogonal times PSD), lmo = [[0, −1], [1, 0]], scale 1.
//   "t" 8×2 spectral, g = 2·e₁ in column 0 and 5·e₂ in column 1 (orthogonal columns): polar factor
//       has columns e₁, e₂, lmo = −that; scale sqrt(8/2) = 2, so x changes by −0.2 at (0,0), (1,1).
//   "b" 1×3 none (bias: plain momentum), g = [1, −2, 3], lmo = −g, x changes by [−0.1, 0.2, −0.3].
TEST(LmoOptimizerTest, StepOverLayoutWithTallBlockScale) {
  ParamLayout layout;
  layout.add("r", 2, 2, Geometry::spectral);
  layout.add("t", 8, 2, Geometry::spectral);
  layout.add("b", 1, 3, Geometry::none);
  std::vector<float> g(layout.size(), 0.0f);
  const std::vector<float> r_g{0, 2, -3, 0};
  std::copy(r_g.begin(), r_g.end(), g.begin());
  g[4 + 0 * 2 + 0] = 2.0f;  // t(0, 0)
  g[4 + 1 * 2 + 1] = 5.0f;  // t(1, 1)
  g[20] = 1.0f, g[21] = -2.0f, g[22] = 3.0f;

  for (bool nesterov : {false, true}) {
    std::vector<float> x(layout.size(), 0.0f), m(layout.size(), 0.0f);
    LmoOptimizer opt(layout, svd(), nesterov, StepScale::muon);
    opt.step(x, m, g, 0.1, 1.0);
    std::vector<float> want(layout.size(), 0.0f);
    want[1] = -0.1f, want[2] = 0.1f;   // r: 0.1 · [[0, −1], [1, 0]]
    want[4] = -0.2f, want[7] = -0.2f;  // t: 0.1 · 2 · (−e₁, −e₂)
    want[20] = -0.1f, want[21] = 0.2f, want[22] = -0.3f;
    expect_near_all(x, want, nesterov ? "x (nesterov)" : "x");
    expect_near_all(m, g, "m");
  }

  // The same step with scale = "none" leaves the tall block at 0.1 instead of 0.2.
  std::vector<float> x(layout.size(), 0.0f), m(layout.size(), 0.0f);
  LmoOptimizer plain(layout, svd(), true, StepScale::none);
  plain.step(x, m, g, 0.1, 1.0);
  EXPECT_NEAR(x[4], -0.1f, kHand);
  EXPECT_NEAR(x[7], -0.1f, kHand);
}

// The default back-end (newton-schulz, polar-express) through the step: for g = diag(3, −2), m0 = 0,
// α = 1 (u = g), Newton–Schulz maps each normalized singular value σ̂ = σ/(‖g‖_F + 1e-7), here
// (3, 2)/√13, through the five-step polynomial p, keeping the singular vectors:
// lmo(u) = −diag(p(3/√13), −p(2/√13)). γ = 0.1, x0 = 0.
TEST(LmoOptimizerTest, NewtonSchulzStepFollowsScalarMap) {
  ParamLayout layout;
  layout.add("w", 2, 2, Geometry::spectral);
  LmoOptimizer opt(layout, {}, true, StepScale::muon);
  std::vector<float> x(4, 0.0f), m(4, 0.0f);
  const std::vector<float> g{3, 0, 0, -2};
  opt.step(x, m, g, 0.1, 1.0);
  const auto p = [](double v) {
    for (int k = 0; k < 5; ++k) {
      const NsStep c = ns_coefficients(NsCoefficients::polar_express, k);
      v = c.a * v + c.b * v * v * v + c.c * v * v * v * v * v;
    }
    return v;
  };
  const double norm = std::sqrt(13.0) + 1e-7;
  // float32 Newton–Schulz on a 2×2 block: a few ε per step, amplified ≲ 10× by the polynomials.
  EXPECT_NEAR(x[0], -0.1 * p(3.0 / norm), 1e-5);
  EXPECT_NEAR(x[3], 0.1 * p(2.0 / norm), 1e-5);
  EXPECT_NEAR(x[1], 0.0, 1e-6);
  EXPECT_NEAR(x[2], 0.0, 1e-6);
}

// A zero gradient with zero momentum must leave x unchanged and finite for every geometry and both
// spectral back-ends (the LMO of 0 is 0, not 0/0).
TEST(LmoOptimizerTest, ZeroGradientNoNaN) {
  for (SpectralBackend backend : {SpectralBackend::newton_schulz, SpectralBackend::svd}) {
    ParamLayout layout;
    layout.add("w", 16, 8, Geometry::spectral);
    layout.add("v", 8, 16, Geometry::spectral);
    layout.add("s", 4, 4, Geometry::sign);
    layout.add("c", 4, 4, Geometry::colnorm);
    layout.add("r", 4, 4, Geometry::rownorm);
    layout.add("l", 4, 4, Geometry::l2);
    layout.add("b", 1, 5, Geometry::none);
    LmoOptions options;
    options.backend = backend;
    LmoOptimizer opt(layout, options, true, StepScale::muon);
    std::vector<float> x(layout.size(), 1.5f), m(layout.size(), 0.0f), g(layout.size(), 0.0f);
    opt.step(x, m, g, 0.1, 0.05);
    for (float v : x) EXPECT_EQ(v, 1.5f);
    for (float v : m) EXPECT_EQ(v, 0.0f);
    EXPECT_EQ(opt.dual_norm(g), 0.0);
  }
}

// Σ over blocks of the block's dual norm: nuclear(diag(3, −2)) = 5, Frobenius([3, 4]) = 5,
// ℓ1([1, −2, 0, 3]) = 6.
TEST(LmoOptimizerTest, DualNormSumsBlocks) {
  ParamLayout layout;
  layout.add("w", 2, 2, Geometry::spectral);
  layout.add("b", 1, 2, Geometry::none);
  layout.add("s", 2, 2, Geometry::sign);
  LmoOptimizer opt(layout, {}, true, StepScale::muon);
  const std::vector<float> g{3, 0, 0, -2, 3, 4, 1, -2, 0, 3};
  EXPECT_NEAR(opt.dual_norm(g), 16.0, kHand * 16);
}

TEST(LmoOptimizerTest, SizeMismatchThrows) {
  ParamLayout layout;
  layout.add("w", 2, 2, Geometry::spectral);
  LmoOptimizer opt(layout, {}, true, StepScale::muon);
  std::vector<float> x(4), m(4), g(3);
  EXPECT_THROW(opt.step(x, m, g, 0.1, 0.1), Error);
  EXPECT_THROW(opt.dual_norm(g), Error);
}

}  // namespace
}  // namespace ringmaster
