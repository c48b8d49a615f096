// The heterogeneity model of docs/method.md §5.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <numbers>
#include <thread>
#include <vector>

#include "ringmaster/heterogeneity.hpp"

namespace ringmaster {
namespace {

HeterogeneityConfig make(const std::string& profile, const std::string& noise, double power = 1.0) {
  HeterogeneityConfig h;
  h.profile = profile;
  h.noise = noise;
  h.power = power;
  h.base_s = 0.01;
  h.noise_scale = 0.05;
  return h;
}

TEST(Heterogeneity, ProfilesGiveSpecSlowdowns) {
  EXPECT_DOUBLE_EQ(DelayModel(make("uniform", "none"), 9, 9, 0).slowdown(), 1.0);
  EXPECT_DOUBLE_EQ(DelayModel(make("sqrt", "none"), 9, 9, 0).slowdown(), 3.0);
  EXPECT_DOUBLE_EQ(DelayModel(make("linear", "none"), 7, 9, 0).slowdown(), 7.0);
  EXPECT_DOUBLE_EQ(DelayModel(make("power", "none", 1.5), 4, 9, 0).slowdown(), 8.0);
  EXPECT_DOUBLE_EQ(DelayModel(make("power", "none", 0.0), 4, 9, 0).slowdown(), 1.0);
  HeterogeneityConfig list = make("list", "none");
  list.list = {2.0, 0.5};
  DelayModel m(list, 2, 2, 0);
  EXPECT_DOUBLE_EQ(m.next_delay(0.0), 0.01 * 0.5);
}

TEST(Heterogeneity, NoNoiseIsDeterministic) {
  DelayModel m(make("sqrt", "none"), 4, 4, 3);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(m.next_delay(0.123), 0.02);
}

// E|N(0, s²)| = s·√(2/π): the sample mean of N draws is within 5 standard errors.
TEST(Heterogeneity, HalfnormalNoiseHasItsMean) {
  HeterogeneityConfig h = make("linear", "halfnormal");
  h.noise_scale = 0.5;
  DelayModel m(h, 3, 3, 11);
  const int n = 20000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += m.next_delay(0.0);
  const double scale = 0.5 * 0.01 * 3;  // c · base_s · s_i
  const double mean = 0.03 + scale * std::sqrt(2.0 / std::numbers::pi);
  const double sd = scale * std::sqrt(1.0 - 2.0 / std::numbers::pi);
  EXPECT_NEAR(sum / n, mean, 5.0 * sd / std::sqrt(n));
}

TEST(Heterogeneity, LognormalNoiseKeepsTheMeanAndPositivity) {
  HeterogeneityConfig h = make("uniform", "lognormal");
  h.noise_scale = 0.3;
  DelayModel m(h, 1, 1, 5);
  const int n = 20000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double d = m.next_delay(0.0);
    EXPECT_GT(d, 0.0);
    sum += d;
  }
  // Var of base·exp(cZ − c²/2) is base²(e^{c²} − 1).
  EXPECT_NEAR(sum / n, 0.01, 5.0 * 0.01 * std::sqrt(std::exp(0.09) - 1.0) / std::sqrt(n));
}

TEST(Heterogeneity, MultiplicativeSleepsSlowdownMinusOneTimesCompute) {
  HeterogeneityConfig h = make("linear", "none");
  h.mode = "multiplicative";
  EXPECT_DOUBLE_EQ(DelayModel(h, 4, 4, 0).next_delay(0.5), 1.5);  // (4 − 1) × 0.5
  EXPECT_DOUBLE_EQ(DelayModel(h, 1, 4, 0).next_delay(0.5), 0.0);
}

// Worker i's k-th draw depends on the seed, i and the epoch only: workers do not share a stream.
TEST(Heterogeneity, StreamsDependOnSeedWorkerAndEpoch) {
  const HeterogeneityConfig h = make("uniform", "exponential");
  const double a2 = DelayModel(h, 2, 3, 42).next_delay(0.0);
  EXPECT_DOUBLE_EQ(DelayModel(h, 2, 3, 42).next_delay(0.0), a2);
  EXPECT_NE(DelayModel(h, 1, 3, 42).next_delay(0.0), a2);
  EXPECT_NE(DelayModel(h, 2, 3, 43).next_delay(0.0), a2);
  EXPECT_NE(DelayModel(h, 2, 3, 42, 1).next_delay(0.0), a2);  // a resumed run's fresh stream
}

TEST(Heterogeneity, OutagesAddWholeOutageDurations) {
  HeterogeneityConfig h = make("uniform", "none");
  h.outage_rate = 50.0;  // per second of busy time: ~0.5 outages per 0.01 s gradient
  h.outage_s = 1.0;
  DelayModel m(h, 1, 1, 9);
  int with_outage = 0;
  for (int i = 0; i < 2000; ++i) {
    const double d = m.next_delay(0.0);
    const double outages = d - 0.01;
    EXPECT_NEAR(outages, std::round(outages), 1e-9);
    with_outage += outages > 0.5;
  }
  // P(at least one) = 1 − e^{−0.5} ≈ 0.393; 2000 draws: sd ≈ 0.011.
  EXPECT_NEAR(with_outage / 2000.0, 1.0 - std::exp(-0.5), 0.06);
}

// Runs `draw` on a thread and says whether it finished within `seconds` (generous: the draws take
// microseconds; a regression spins forever, and must fail the test rather than hang CI).
bool finishes_within(double seconds, std::function<void()> draw) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([draw = std::move(draw), done] {
    draw();
    done->set_value();
  }).detach();
  return finished.wait_for(std::chrono::duration<double>(seconds)) == std::future_status::ready;
}

// A Poisson mean past INT_MAX (10^12 outages per second of busy time) made std::poisson_distribution<int>
// loop forever; load_config now bounds outage_rate, and the draw itself is capped.
TEST(Heterogeneity, HugeOutageMeansStillReturnAFiniteDelay) {
  HeterogeneityConfig h = make("uniform", "none");
  h.outage_rate = 1e12;
  h.outage_s = 0.001;
  auto delays = std::make_shared<std::vector<double>>();
  ASSERT_TRUE(finishes_within(60.0, [h, delays] {
    DelayModel m(h, 1, 1, 9);
    for (int i = 0; i < 10; ++i) delays->push_back(m.next_delay(0.0));
  })) << "next_delay did not return";
  // ~10^10 outages of 1 ms each: 10^7 s, the mean to within far less than one outage count's spread.
  for (double d : *delays) EXPECT_NEAR(d, 0.01 + 1e7, 1e3);
}

// Delays are finite and at most kMaxSeconds whatever the (unvalidated) configuration: an infinite
// slowdown, a noise scale that overflows, a lognormal factor exp(huge) — clamped, never inf or NaN.
TEST(Heterogeneity, DelaysAreClampedToAFiniteMaximum) {
  std::vector<HeterogeneityConfig> configs;
  configs.push_back(make("power", "halfnormal", 1e300));  // s_2 = inf, and c · inf · |Z|
  HeterogeneityConfig wide = make("uniform", "exponential");
  wide.noise_scale = 1e308;
  configs.push_back(wide);
  HeterogeneityConfig heavy = make("uniform", "lognormal");
  heavy.noise_scale = 1e200;  // exp(cZ − c²/2): inf − inf = NaN for Z > 0
  configs.push_back(heavy);
  HeterogeneityConfig outage = make("uniform", "none");
  outage.outage_rate = 1e6;
  outage.outage_s = 1e9;
  configs.push_back(outage);
  for (const HeterogeneityConfig& h : configs) {
    SCOPED_TRACE(h.profile + " " + h.noise);
    DelayModel m(h, 2, 2, 4);
    for (int i = 0; i < 200; ++i) {
      const double d = m.next_delay(0.0);
      EXPECT_TRUE(std::isfinite(d)) << d;
      EXPECT_GE(d, 0.0);
      EXPECT_LE(d, kMaxSeconds);
    }
  }
}

}  // namespace
}  // namespace ringmaster
