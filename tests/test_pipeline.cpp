// UpdatePipeline and the server's pipelined executor (pipelined_updates) (the simulator's sim.threads): the LMOs of
// consecutive updates run on several threads, yet x must pass through exactly the versions a
// one-update-at-a-time server produces, bit for bit.
#include <gtest/gtest.h>

#include <cblas.h>

#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "ringmaster/pipeline.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {
namespace {

// Two spectral blocks and a vector block: directions differ per block, so a mix-up of slots or blocks
// between lanes would show.
ParamLayout layout() {
  ParamLayout l;
  l.add("W1", 24, 16, Geometry::spectral);
  l.add("W2", 16, 40, Geometry::spectral);
  l.add("b", 1, 16, Geometry::none);
  return l;
}

Config config(const std::string& method) {
  Config c;
  c.run.method = method;
  c.method.stepsize = 0.05;
  c.method.momentum = 0.9;
  c.method.threshold = 3;
  return c;
}

// A fixed arrival order: each arrival is the gradient of a random computing worker at the version it
// was handed, with entries drawn from a fixed seed.
struct Arrivals {
  explicit Arrivals(std::size_t size) : g(size) {}
  int next_worker(const Server& s) {
    std::vector<int> computing;
    for (int w = 1; w <= s.workers(); ++w)
      if (s.computing(w)) computing.push_back(w);
    return computing[std::uniform_int_distribution<std::size_t>(0, computing.size() - 1)(rng)];
  }
  std::span<const float> next_gradient() {
    for (float& v : g) v = normal(rng);
    return g;
  }
  std::mt19937 rng{42};
  std::normal_distribution<float> normal{0.0f, 1.0f};
  std::vector<float> g;
};

class DeferredUpdates : public ::testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  // Every LMO single-threaded, as the simulator runs them.
  void SetUp() override { openblas_set_num_threads(1); }
};

// The same arrivals fed to a plain server and to one with deferred updates on `lanes` threads: the
// decisions are identical, and whenever the deferred one is settled, x is bit-identical. on_applied
// sees every version once, in order.
TEST_P(DeferredUpdates, PassThroughTheSameVersionsBitForBit) {
  const auto& [method, lanes] = GetParam();
  const ParamLayout l = layout();
  const std::vector<float> x0(l.size(), 0.0f);
  const int workers = 5;
  std::vector<std::int64_t> seen;
  std::vector<std::vector<float>> x_at_version;  // what on_applied saw
  Server plain(config(method), l, x0, workers);
  Server deferred(config(method), l, x0, workers,
                  pipelined_updates(lanes, [&](std::int64_t version, std::span<const float> x) {
                    seen.push_back(version);
                    x_at_version.emplace_back(x.begin(), x.end());
                  }));
  std::vector<std::vector<float>> plain_versions{x0};  // x of the plain server after each update
  plain.start();
  deferred.start();
  Arrivals arrivals(l.size());
  for (int i = 0; i < 300; ++i) {
    const int w = arrivals.next_worker(plain);
    const std::span<const float> g = arrivals.next_gradient();
    const Outcome a = plain.on_gradient(w, plain.version(w), g);
    if (a.updated) plain_versions.emplace_back(plain.x().begin(), plain.x().end());
    const Outcome& b = deferred.on_gradient(w, deferred.version(w), g);
    ASSERT_EQ(a.action, b.action) << "arrival " << i;
    ASSERT_EQ(a.assign, b.assign) << "arrival " << i;
    ASSERT_EQ(plain.k(), deferred.k());
    if (i % 7 == 0) {  // settle to an older version now and then, as a gradient at x_v does
      const std::int64_t v = std::max<std::int64_t>(deferred.settled(), deferred.k() - 2);
      deferred.settle(v);
      EXPECT_EQ(deferred.settled(), v);
    }
  }
  deferred.settle(deferred.k());
  ASSERT_EQ(deferred.settled(), plain.k());
  ASSERT_GE(plain.k(), 60);  // sync: one update per 5 arrivals
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(plain.k()));
  for (std::size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i], static_cast<std::int64_t>(i) + 1);
    ASSERT_EQ(x_at_version[i], plain_versions[i + 1]) << "x differs at version " << i + 1;
  }
  const std::vector<float> final_x(deferred.x().begin(), deferred.x().end());
  EXPECT_EQ(final_x, std::vector<float>(plain.x().begin(), plain.x().end()));
}

INSTANTIATE_TEST_SUITE_P(MethodsAndLanes, DeferredUpdates,
                         ::testing::Combine(::testing::Values("ringmaster", "ringmaster-sgd", "async", "rennala", "sync"),
                                            ::testing::Values(2, 3, 4)));

TEST(DeferredUpdatesGuard, ReadingXWhileUpdatesAreQueuedThrows) {
  openblas_set_num_threads(1);
  const ParamLayout l = layout();
  const std::vector<float> x0(l.size(), 0.0f);
  Server s(config("async"), l, x0, 2, pipelined_updates(2, {}));
  s.start();
  const std::vector<float> g(l.size(), 1.0f);
  s.on_gradient(1, 0, g);
  EXPECT_THROW(s.x(), std::logic_error);
  s.settle(s.k());
  EXPECT_NO_THROW(s.x());
  EXPECT_THROW(s.settle(s.k() + 1), std::logic_error);  // not submitted
}

// An LMO that fails on a helper thread (the exact SVD refuses a NaN input; the server never lets one
// through, so the input is written straight into the pipeline) reaches the owner when it applies that
// update, as the exception a one-thread run would raise; the updates before it are applied.
TEST(UpdatePipelineTest, AnLmoFailureOnAHelperIsRethrownBySettle) {
  openblas_set_num_threads(1);
  ParamLayout l;
  l.add("W", 8, 8, Geometry::spectral);
  LmoOptions options;
  options.backend = SpectralBackend::svd;
  const LmoOptimizer optimizer(l, options, false, StepScale::none);
  std::vector<float> x(l.size(), 0.0f);
  UpdatePipeline pipeline(optimizer, x, 0, 3, {});
  const auto queue = [&](float value) {
    std::span<float> u = pipeline.input();
    std::fill(u.begin(), u.end(), value);
    u[0] = 2.0f * value;  // rank 2, so the SVD has work to do
    pipeline.submit(0.5);
  };
  queue(1.0f);
  queue(std::numeric_limits<float>::quiet_NaN());
  queue(1.0f);
  EXPECT_THROW(pipeline.settle(3), std::runtime_error);
  EXPECT_EQ(pipeline.applied(), 1);
  for (float v : x) EXPECT_TRUE(std::isfinite(v));
  EXPECT_GT(std::fabs(x[0]), 0.0f);
}

TEST(AvailableCores, CountsTheAffinityMask) {
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace ringmaster
