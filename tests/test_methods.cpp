// Method logic without MPI (docs/method.md §2, §4): hand-built arrival orders, exact decisions, exact parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ringmaster/method.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {
namespace {

// A 1×2 block in the l2 geometry: lmo(u) = −u/‖u‖, so a step's effect can be worked out by hand.
ParamLayout tiny_layout(Geometry g = Geometry::l2) {
  ParamLayout layout;
  layout.add("v", 1, 2, g);
  return layout;
}

Config tiny_config(const std::string& method, int threshold, Stale stale = Stale::interrupt) {
  Config c;
  c.run.method = method;
  c.method.stepsize = 0.1;
  c.method.momentum = 0.5;  // α = β = 0.5
  c.method.threshold = threshold;
  c.method.stale = stale;
  c.method.nesterov = false;
  c.lmo.scale = StepScale::none;
  return c;
}

struct Fixture {
  Fixture(const Config& c, int workers, Geometry g = Geometry::l2)
      : config(c), layout(tiny_layout(g)), x0(layout.size(), 0.0f), server(config, layout, x0, workers) {
    server.start();
  }
  const Outcome& arrive(int worker, std::int64_t version, std::vector<float> g = {1.0f, 1.0f}) {
    return server.on_gradient(worker, version, g);
  }
  Config config;
  ParamLayout layout;
  std::vector<float> x0;
  Server server;
};

std::vector<int> interrupted_workers(const Outcome& o) {
  std::vector<int> w;
  for (const Interrupt& i : o.interrupted) w.push_back(i.worker);
  return w;
}

TEST(Ringmaster, StartHandsEveryWorkerVersionZero) {
  Fixture f(tiny_config("ringmaster", 2), 3);
  for (int w = 1; w <= 3; ++w) {
    EXPECT_EQ(f.server.version(w), 0);
    EXPECT_TRUE(f.server.computing(w));
  }
}

// R = 2, interrupt mode, 3 workers. Worker 1 is fast: after its second accepted gradient (k = 2) the
// others are 2 updates stale (δ ≥ R) and must be interrupted; worker 2's gradient, already in flight,
// is then superseded; worker 3 restarts at version 2 and its next gradient is accepted.
TEST(Ringmaster, InterruptModeExactSequence) {
  Fixture f(tiny_config("ringmaster", 2, Stale::interrupt), 3);
  const Outcome& a = f.arrive(1, 0);
  EXPECT_EQ(a.action, Action::accept);
  EXPECT_EQ(a.delay, 0);
  EXPECT_TRUE(a.updated);
  EXPECT_EQ(a.assign, std::vector<int>({1}));
  EXPECT_TRUE(a.interrupted.empty());  // workers 2, 3 are 1 < R update stale

  const Outcome& b = f.arrive(1, 1);
  EXPECT_EQ(b.action, Action::accept);
  EXPECT_EQ(f.server.k(), 2);
  EXPECT_EQ(interrupted_workers(b), std::vector<int>({2, 3}));
  EXPECT_EQ(b.interrupted[0].version, 0);
  EXPECT_EQ(b.assign, std::vector<int>({1, 2, 3}));
  EXPECT_EQ(f.server.version(2), 2);

  const Outcome& c = f.arrive(2, 0);  // computed before the interrupt reached worker 2
  EXPECT_EQ(c.action, Action::superseded);
  EXPECT_EQ(c.delay, 2);
  EXPECT_FALSE(c.updated);
  EXPECT_TRUE(c.assign.empty());  // worker 2 already has its new point
  EXPECT_EQ(f.server.k(), 2);

  const Outcome& d = f.arrive(3, 2);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(d.delay, 0);
  EXPECT_EQ(f.server.k(), 3);

  EXPECT_EQ(f.server.counters(1).accepted, 2);
  EXPECT_EQ(f.server.counters(2).interrupted, 1);
  EXPECT_EQ(f.server.counters(2).superseded, 1);
  EXPECT_EQ(f.server.counters(3).interrupted, 1);
  EXPECT_EQ(f.server.counters(3).accepted, 1);
}

// interrupt_stale visits only the assignments that became stale (Server's assignment log, compacted as
// it goes) and must interrupt exactly the workers a scan over all of them finds: after each update,
// every worker j computing before the arrival (other than the arriving one) with k − v_j ≥ R, in
// ascending j (docs/method.md §4). 3,000 random arrivals among 150 workers, with superseded arrivals,
// NaN gradients (rejected; three in a row retire the worker), under ringmaster (fixed R) and
// ringmaster-pa (R_k = ⌊√k⌋ grows): long enough for the log to be compacted many times (2n + 64).
TEST(Ringmaster, InterruptsExactlyTheStaleWorkersInAscendingOrder) {
  for (const char* method : {"ringmaster", "ringmaster-pa"}) {
    SCOPED_TRACE(method);
    constexpr int n = 150;
    Fixture f(tiny_config(method, 3, Stale::interrupt), n);
    std::mt19937 engine(11);
    std::uniform_int_distribution<int> pick(1, n), percent(0, 99);
    std::int64_t interrupts = 0;
    for (int arrival = 0; arrival < 3000 && f.server.active_workers() > 1; ++arrival) {
      int w = pick(engine);
      while (f.server.retired(w)) w = pick(engine);
      std::vector<std::int64_t> version(n + 1);
      std::vector<bool> computing(n + 1);
      for (int j = 1; j <= n; ++j) {
        version[j] = f.server.version(j);
        computing[j] = f.server.computing(j);
      }
      const int roll = percent(engine);
      // A gradient from an older point (superseded), a NaN one, or the one the worker was computing.
      const std::int64_t at = roll < 5 ? version[w] - 1 : version[w];
      const float value = roll >= 5 && roll < 8 ? std::nanf("") : 1.0f;
      const Outcome& o = f.arrive(w, at, {value, value});
      std::vector<int> expected;
      if (o.updated)
        for (int j = 1; j <= n; ++j)
          if (j != w && computing[j] && f.server.k() - version[j] >= f.server.method().threshold(f.server))
            expected.push_back(j);
      ASSERT_EQ(interrupted_workers(o), expected) << "arrival " << arrival << " from worker " << w;
      interrupts += static_cast<std::int64_t>(expected.size());
      for (int j = 1; j <= n; ++j) {  // nobody computing is left ≥ R behind after an update
        if (o.updated && f.server.computing(j)) {
          ASSERT_LT(f.server.k() - f.server.version(j), f.server.method().threshold(f.server)) << j;
        }
      }
    }
    EXPECT_GT(interrupts, 1000);  // the property was exercised, not vacuous
  }
}

// Same arrival order, discard mode: nobody is interrupted; stale gradients (δ ≥ R) are dropped on
// arrival and their worker gets the current point.
TEST(Ringmaster, DiscardModeExactSequence) {
  Fixture f(tiny_config("ringmaster", 2, Stale::discard), 3);
  std::vector<Action> actions;
  std::vector<std::int64_t> delays;
  auto arrive = [&](int w, std::int64_t v) {
    const Outcome& o = f.arrive(w, v);
    EXPECT_TRUE(o.interrupted.empty());
    EXPECT_EQ(o.assign, std::vector<int>({w}));
    actions.push_back(o.action);
    delays.push_back(o.delay);
  };
  arrive(1, 0);  // δ 0 → accept, k = 1
  arrive(1, 1);  // δ 0 → accept, k = 2
  arrive(2, 0);  // δ 2 → discard
  arrive(3, 0);  // δ 2 → discard
  arrive(2, 2);  // δ 0 → accept, k = 3
  arrive(1, 2);  // δ 1 → accept, k = 4
  arrive(3, 2);  // δ 2 → discard
  EXPECT_EQ(actions, std::vector<Action>({Action::accept, Action::accept, Action::discard, Action::discard,
                                          Action::accept, Action::accept, Action::discard}));
  EXPECT_EQ(delays, std::vector<std::int64_t>({0, 0, 2, 2, 0, 1, 2}));
  EXPECT_EQ(f.server.k(), 4);
}

// Exact parameters after two updates, with a discard between them that must not touch x or m.
// α = β = 0.5, γ = 0.1, no Nesterov, l2 geometry (lmo(u) = −u/‖u‖):
//   g1 = (1, −2):  m1 = (0.5, −1),   x1 = −0.1·m1/‖m1‖ = (−0.1/√5, 0.2/√5)
//   g2 = (−3, 1):  m2 = 0.5·m1 + 0.5·g2 = (−1.25, 0),  x2 = x1 + 0.1·(1, 0)
TEST(Ringmaster, ExactParametersAfterTwoUpdates) {
  Fixture f(tiny_config("ringmaster", 1, Stale::discard), 2);
  f.arrive(1, 0, {1.0f, -2.0f});
  const std::vector<float> x1(f.server.x().begin(), f.server.x().end());
  EXPECT_NEAR(x1[0], -0.1 / std::sqrt(5.0), 1e-7);
  EXPECT_NEAR(x1[1], 0.2 / std::sqrt(5.0), 1e-7);
  EXPECT_EQ(f.arrive(2, 0, {100.0f, 100.0f}).action, Action::discard);  // δ = 1 ≥ R = 1
  EXPECT_EQ(std::vector<float>(f.server.x().begin(), f.server.x().end()), x1);
  EXPECT_EQ(f.server.momentum()[0], 0.5f);
  f.arrive(1, 1, {-3.0f, 1.0f});
  EXPECT_EQ(f.server.k(), 2);
  EXPECT_NEAR(f.server.x()[0], -0.1 / std::sqrt(5.0) + 0.1, 1e-7);
  EXPECT_NEAR(f.server.x()[1], 0.2 / std::sqrt(5.0), 1e-7);
  EXPECT_NEAR(f.server.momentum()[0], -1.25, 1e-7);
  EXPECT_NEAR(f.server.momentum()[1], 0.0, 1e-7);
}

TEST(RingmasterSgd, AppliesPlainGradientStep) {
  Fixture f(tiny_config("ringmaster-sgd", 2), 2);
  f.arrive(1, 0, {1.0f, -2.0f});
  f.arrive(2, 0, {0.5f, 0.5f});  // δ = 1 < 2: accepted
  EXPECT_NEAR(f.server.x()[0], -0.1 * 1.5, 1e-7);
  EXPECT_NEAR(f.server.x()[1], -0.1 * -1.5, 1e-7);
  EXPECT_EQ(f.server.momentum()[0], 0.0f);  // no momentum in Ringmaster ASGD
}

TEST(RingmasterPa, ScheduleFollowsSpec) {
  // R_k = max(1, ⌊√k⌋) for k = 0..10, written out by hand.
  const std::int64_t thresholds[] = {1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3};
  for (std::int64_t k = 0; k <= 10; ++k) {
    const PaSchedule s = pa_schedule(2.0, k);
    EXPECT_NEAR(s.stepsize, 2.0 / std::pow(static_cast<double>(k) + 1.0, 0.75), 1e-15) << k;
    EXPECT_NEAR(s.alpha, k == 0 ? 1.0 : 1.0 / std::sqrt(static_cast<double>(k)), 1e-15) << k;
    EXPECT_EQ(s.threshold, thresholds[k]) << k;
  }
}

// With R_0 = R_1 = 1 only fresh gradients pass; the first step has α_0 = 1 (m = g) and γ_0 = η.
TEST(RingmasterPa, ThresholdAndStepsInForce) {
  Config c = tiny_config("ringmaster-pa", 99, Stale::discard);
  c.method.stepsize = 0.3;  // η
  Fixture f(c, 2);
  EXPECT_EQ(f.server.method().threshold(f.server), 1);
  f.arrive(1, 0, {3.0f, 4.0f});
  EXPECT_NEAR(f.server.momentum()[0], 3.0, 1e-6);  // α_0 = 1: m = g
  EXPECT_NEAR(f.server.x()[0], -0.3 * 0.6, 1e-7);  // γ_0 = η, lmo = −g/‖g‖
  EXPECT_EQ(f.arrive(2, 0).action, Action::discard);  // δ = 1 ≥ R_1 = 1
}

TEST(Async, AcceptsEveryDelay) {
  Fixture f(tiny_config("async", 1), 3);
  for (int w = 1; w <= 3; ++w) EXPECT_EQ(f.arrive(w, 0).action, Action::accept);
  EXPECT_EQ(f.server.k(), 3);
}

// γ·n/max(n, δ): with n = 2, a gradient of delay 4 moves x by γ·2/4 in the l2 geometry (‖lmo‖ = 1).
TEST(AsyncDelayAdaptive, ShrinksStepBeyondNDelays) {
  Config c = tiny_config("async-delay-adaptive", 1);
  c.method.momentum = 0.0;  // α = 1: m = g, so the step direction is −g/‖g‖
  Fixture f(c, 2);
  for (int i = 0; i < 4; ++i) f.arrive(1, i, {0.0f, 1.0f});  // k = 4, worker 2 still at version 0
  const float before = f.server.x()[0];
  const Outcome& o = f.arrive(2, 0, {1.0f, 0.0f});
  EXPECT_EQ(o.delay, 4);
  EXPECT_NEAR(f.server.x()[0] - before, -0.1 * 2.0 / 4.0, 1e-7);
  const float before2 = f.server.x()[0];
  f.arrive(1, 4, {1.0f, 0.0f});  // δ = 0 ≤ n: full step
  EXPECT_NEAR(f.server.x()[0] - before2, -0.1, 1e-7);
}

TEST(Sync, OneUpdatePerNArrivalsWithAverage) {
  Config c = tiny_config("sync", 1);
  c.method.momentum = 0.0;
  Fixture f(c, 3);
  EXPECT_TRUE(f.arrive(2, 0, {3.0f, 0.0f}).assign.empty());  // worker waits for the round
  EXPECT_TRUE(f.arrive(1, 0, {0.0f, 3.0f}).assign.empty());
  EXPECT_EQ(f.server.k(), 0);
  const Outcome& o = f.arrive(3, 0, {0.0f, 0.0f});
  EXPECT_TRUE(o.updated);
  EXPECT_EQ(o.assign, std::vector<int>({1, 2, 3}));
  EXPECT_EQ(f.server.k(), 1);
  EXPECT_NEAR(f.server.momentum()[0], 1.0, 1e-7);  // mean of the three gradients
  EXPECT_NEAR(f.server.momentum()[1], 1.0, 1e-7);
  for (int round = 1; round <= 3; ++round) {
    for (int w = 1; w <= 3; ++w) f.arrive(w, round);
    EXPECT_EQ(f.server.k(), round + 1);
  }
}

// B = 2, 3 workers: worker 1 contributes twice at the same point; then every other worker's
// computation is abandoned and all restart at the new version; late gradients are superseded.
TEST(Rennala, OneUpdatePerBGradientsAtTheCurrentPoint) {
  Config c = tiny_config("rennala", 1);
  c.method.batch = 2;
  Fixture f(c, 3);
  const Outcome& a = f.arrive(1, 0);
  EXPECT_EQ(a.action, Action::accept);
  EXPECT_FALSE(a.updated);
  EXPECT_EQ(a.assign, std::vector<int>({1}));  // same point again
  EXPECT_EQ(f.server.version(1), 0);
  const Outcome& b = f.arrive(1, 0);
  EXPECT_TRUE(b.updated);
  EXPECT_EQ(f.server.k(), 1);
  EXPECT_EQ(interrupted_workers(b), std::vector<int>({2, 3}));
  EXPECT_EQ(b.assign, std::vector<int>({1, 2, 3}));
  EXPECT_EQ(f.arrive(2, 0).action, Action::superseded);
  f.arrive(3, 1);
  EXPECT_EQ(f.server.k(), 1);
  f.arrive(2, 1);
  EXPECT_EQ(f.server.k(), 2);
}

}  // namespace
}  // namespace ringmaster
