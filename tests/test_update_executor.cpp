// The MPI server's block-parallel executor (block_parallel_updates, server.threads): one update's block
// LMOs run side by side, yet x and m after every update are bit for bit what the one-thread update
// (LmoOptimizer::step, immediate_updates) gives, for every number of threads.
#include <gtest/gtest.h>

#include <cblas.h>

#include <cstring>
#include <random>
#include <vector>

#include "objectives/gpt.hpp"
#include "objectives/mlp.hpp"
#include "ringmaster/update_executor.hpp"

namespace ringmaster {
namespace {

struct State {
  std::vector<float> x, m;
};

// `updates` momentum + LMO steps from a seeded random x0 with seeded random gradients, through the
// executor `updates_factory` makes; stepsizes and momentum weights vary between steps.
State run_updates(const ParamLayout& layout, const LmoOptions& options, const UpdateExecutorFactory& updates_factory,
                  int updates) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  State s{std::vector<float>(layout.size()), std::vector<float>(layout.size(), 0.0f)};
  for (float& v : s.x) v = normal(rng);
  std::vector<float> g(layout.size());
  LmoOptimizer optimizer(layout, options, true, StepScale::muon);
  const auto executor = updates_factory(optimizer, s.x, 0);
  for (int k = 0; k < updates; ++k) {
    for (float& v : g) v = normal(rng);
    executor->lmo_step(s.m, g, 0.02 / (1 + k), k == 0 ? 1.0 : 0.1);
  }
  EXPECT_EQ(executor->applied(), updates);
  return s;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Case {
  const char* name;
  ParamLayout layout;
  LmoOptions options;
};

std::vector<Case> cases() {
  RoleTable colnorm_head;  // a third geometry in the mix: the head by columns
  colnorm_head[Role::head] = {Geometry::colnorm, 3.0};
  LmoOptions svd;
  svd.backend = SpectralBackend::svd;
  LmoOptions gram;
  gram.backend = SpectralBackend::gram_newton_schulz;
  return {
      // gpt_tiny (configs/gpt_tiny.toml): 8 blocks of 64×64 and 4 of 64×256 / 256×64 by Newton–Schulz, wte and
      // lm_head plain steps
      {"gpt_tiny", gpt_layout(GptShape{2, 4, 64, 64}, RoleTable{}), LmoOptions{}},
      {"gpt_4_layers_muon_coefficients", gpt_layout(GptShape{4, 4, 32, 16}, RoleTable{}),
       LmoOptions{SpectralBackend::newton_schulz, 5, NsCoefficients::muon}},
      // the MLP of configs/fashion_mnist.toml with a second hidden layer, by svd, with a colnorm head
      {"mlp_svd", mlp_layout({784, 128, 64, 10}, colnorm_head), svd},
      // the same MLP in the Gram form (128×784, split symmetric products, and 64×128), with a colnorm head
      {"mlp_gram", mlp_layout({784, 128, 64, 10}, colnorm_head), gram},
  };
}

class BlockParallelUpdates : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { openblas_set_num_threads(1); }  // each block's LMO on one BLAS thread
};

TEST_P(BlockParallelUpdates, XAndMAreBitForBitTheOneThreadUpdates) {
  const int threads = GetParam();
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    // The layout must really be split: a threshold or a clamp that fell back to one thread would make
    // this test compare the one-thread update with itself.
    ASSERT_EQ(block_parallel_lanes(c.layout, c.options, threads), threads);
    const State one = run_updates(c.layout, c.options, immediate_updates(), 6);
    const State many = run_updates(c.layout, c.options, block_parallel_updates(threads), 6);
    EXPECT_TRUE(same_bytes(one.x, many.x)) << threads << " threads: x differs";
    EXPECT_TRUE(same_bytes(one.m, many.m)) << threads << " threads: m differs";
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, BlockParallelUpdates, ::testing::Values(1, 2, 3, 4));

TEST(BlockParallelLanes, OneThreadWhenTheUpdateIsTooSmallOrHasOneBlock) {
  // Eight 8×8 spectral blocks: 8 · 5 · 4 · 8³ ≈ 82 kflop, far below what waking a helper costs.
  ParamLayout tiny;
  for (int i = 0; i < 8; ++i) tiny.add("W" + std::to_string(i), 8, 8, Geometry::spectral);
  EXPECT_EQ(block_parallel_lanes(tiny, LmoOptions{}, 4), 1);
  // One large block: nothing to split.
  ParamLayout one;
  one.add("X", 512, 512, Geometry::spectral);
  EXPECT_EQ(block_parallel_lanes(one, LmoOptions{}, 4), 1);
  // Never more threads than blocks.
  ParamLayout two;
  two.add("A", 256, 256, Geometry::spectral);
  two.add("B", 256, 256, Geometry::spectral);
  EXPECT_EQ(block_parallel_lanes(two, LmoOptions{}, 8), 2);
}

TEST(LmoFlops, CountsNewtonSchulzOnTheWideOrientation) {
  // ns_steps · (3s²l + s³) with s = min, l = max: the same for a block and its transpose.
  ParamLayout l;
  l.add("tall", 256, 64, Geometry::spectral);
  l.add("wide", 64, 256, Geometry::spectral);
  const LmoOptions options;  // 5 steps
  const double s = 64, n = 256;
  EXPECT_DOUBLE_EQ(lmo_flops(l.blocks()[0], options), 5 * (3 * s * s * n + s * s * s));
  EXPECT_DOUBLE_EQ(lmo_flops(l.blocks()[1], options), lmo_flops(l.blocks()[0], options));
  // gram-newton-schulz counts the flops of the form it runs (spectral_lmo_flops), also for the transpose.
  LmoOptions gram;
  gram.backend = SpectralBackend::gram_newton_schulz;
  EXPECT_DOUBLE_EQ(lmo_flops(l.blocks()[0], gram), spectral_lmo_flops(256, 64, gram));
  EXPECT_DOUBLE_EQ(lmo_flops(l.blocks()[1], gram), lmo_flops(l.blocks()[0], gram));
  EXPECT_LT(lmo_flops(l.blocks()[0], gram), lmo_flops(l.blocks()[0], options));
}

}  // namespace
}  // namespace ringmaster
