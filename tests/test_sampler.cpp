// The per-worker sample source of docs/method.md §6: every training example once per pass, each pass in a
// fresh order, seeded by (run seed, worker, epoch) alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/sampler.hpp"

namespace ringmaster {
namespace {

// The first `passes` passes of a worker's stream, drawn in minibatches of `batch` (which need not divide
// the number of examples: then minibatches straddle the pass boundary).
std::vector<std::uint32_t> draw(std::uint64_t seed, int worker, std::uint32_t epoch, std::size_t examples,
                                std::size_t batch, std::size_t passes) {
  SampleStream stream(seed, worker, epoch, examples);
  std::vector<std::uint32_t> all, minibatch(batch);
  while (all.size() < examples * passes) {
    stream.examples.next(minibatch);
    all.insert(all.end(), minibatch.begin(), minibatch.end());
  }
  all.resize(examples * passes);
  return all;
}

TEST(EpochSampler, EveryExampleExactlyOncePerPassAcrossStraddlingMinibatches) {
  const std::size_t examples = 10;
  for (std::size_t batch : {1u, 3u, 4u, 7u, 10u, 25u}) {
    const auto all = draw(0, 1, 0, examples, batch, 6);
    for (std::size_t pass = 0; pass < 6; ++pass) {
      std::vector<std::uint32_t> seen(all.begin() + pass * examples, all.begin() + (pass + 1) * examples);
      std::sort(seen.begin(), seen.end());
      std::vector<std::uint32_t> expected(examples);
      std::iota(expected.begin(), expected.end(), 0u);
      EXPECT_EQ(seen, expected) << "batch " << batch << ", pass " << pass;
    }
  }
}

TEST(EpochSampler, PassesAreCountedAndEachPassIsReshuffled) {
  SampleStream stream(0, 1, 0, 100);
  std::vector<std::uint32_t> first(100), second(100);
  stream.examples.next(first);
  EXPECT_EQ(stream.examples.passes(), 0u);
  stream.examples.next(second);
  EXPECT_EQ(stream.examples.passes(), 1u);
  EXPECT_NE(first, second);  // two orders of 100 agree with probability 1/100!
}

TEST(EpochSampler, WorkersGetDifferentOrdersAndTheSameKeyTheSameOrder) {
  const auto a = draw(7, 1, 0, 1000, 128, 2);
  EXPECT_EQ(a, draw(7, 1, 0, 1000, 128, 2));
  EXPECT_EQ(a, draw(7, 1, 0, 1000, 50, 2));  // the order does not depend on the minibatch size
  EXPECT_NE(a, draw(7, 2, 0, 1000, 128, 2));  // another worker
  EXPECT_NE(a, draw(7, 1, 1, 1000, 128, 2));  // another epoch (a resumed run)
  EXPECT_NE(a, draw(8, 1, 0, 1000, 128, 2));  // another seed
}

// Each pass is a uniformly random permutation: over 2,000 passes of 5 examples, each example comes first
// in Binomial(2000, 1/5) passes: 400 ± 5σ, σ = √(2000 · 0.2 · 0.8) ≈ 17.9. A biased shuffle (e.g. the
// classic swap with any index, or a missing final swap) is off by far more.
TEST(EpochSampler, FirstPositionIsUniform) {
  const auto all = draw(3, 1, 0, 5, 5, 2000);
  std::vector<int> first(5, 0);
  for (std::size_t pass = 0; pass < 2000; ++pass) ++first[all[pass * 5]];
  const double sigma = std::sqrt(2000 * 0.2 * 0.8);
  for (int count : first) EXPECT_NEAR(count, 400.0, 5 * sigma);
}

TEST(EpochSampler, NoTrainingSetIsAnError) {
  SampleStream stream(0, 1, 0, 0);
  std::vector<std::uint32_t> out(1);
  EXPECT_THROW(stream.examples.next(out), Error);
}

}  // namespace
}  // namespace ringmaster
