// The heterogeneity model of docs/method.md §5.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <numbers>
#include <thread>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/heterogeneity.hpp"

namespace ringmaster {
namespace {

HeterogeneityConfig make(std::string_view profile, std::string_view noise, double power = 1.0) {
  HeterogeneityConfig h;
  h.profile = kProfileNames.parse(profile);
  h.noise = kDelayNoiseNames.parse(noise);
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
  h.mode = DelayMode::multiplicative;
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
    SCOPED_TRACE(std::string(kProfileNames.name(h.profile)) + " " + std::string(kDelayNoiseNames.name(h.noise)));
    DelayModel m(h, 2, 2, 4);
    for (int i = 0; i < 200; ++i) {
      const double d = m.next_delay(0.0);
      EXPECT_TRUE(std::isfinite(d)) << d;
      EXPECT_GE(d, 0.0);
      EXPECT_LE(d, kMaxSeconds);
    }
  }
}

// The authors' time model (docs/method.md §5): worker i (0-based: profile_origin = 0) takes
// 1 + √i + |N(0, (i + 1)²)| seconds: offset_s = 1, base_s = 1, profile sqrt, noise_scale 1, noise_growth 1.
// E|N(0, s²)| = s√(2/π); the sample mean of N draws is within 5 standard errors.
TEST(Heterogeneity, AuthorsModelOffsetOriginAndGrowingNoise) {
  HeterogeneityConfig h = make("sqrt", "halfnormal");
  h.profile_origin = 0;
  h.offset_s = 1.0;
  h.base_s = 1.0;
  h.noise_scale = 1.0;
  h.noise_relative = false;
  h.noise_growth = 1.0;
  for (int worker : {1, 4}) {
    const double i = worker - 1;
    DelayModel m(h, worker, 6174, 17);
    EXPECT_DOUBLE_EQ(m.slowdown(), std::sqrt(i));
    const int n = 20000;
    double sum = 0.0, least = INFINITY;
    for (int k = 0; k < n; ++k) {
      const double d = m.next_delay(0.0);
      sum += d;
      least = std::min(least, d);
    }
    const double s = i + 1.0;
    EXPECT_NEAR(sum / n, 1.0 + std::sqrt(i) + s * std::sqrt(2.0 / std::numbers::pi),
                5.0 * s * std::sqrt(1.0 - 2.0 / std::numbers::pi) / std::sqrt(n));
    EXPECT_GE(least, 1.0 + std::sqrt(i));
  }
}

// τ_i = 1 + i^p with 0-based i: worker 1 is i = 0 (0^0 = 1 at p = 0, 0 for p > 0), and without noise the
// delay is exactly offset + base · i^p.
TEST(Heterogeneity, ZeroBasedPowerProfile) {
  HeterogeneityConfig h = make("power", "none", 0.0);
  h.profile_origin = 0;
  h.offset_s = 1.0;
  h.base_s = 1.0;
  EXPECT_DOUBLE_EQ(DelayModel(h, 1, 8, 0).next_delay(0.0), 2.0);  // 1 + 0^0
  h.power = 1.5;
  EXPECT_DOUBLE_EQ(DelayModel(h, 1, 8, 0).next_delay(0.0), 1.0);  // 1 + 0^1.5
  EXPECT_DOUBLE_EQ(DelayModel(h, 5, 8, 0).next_delay(0.0), 9.0);  // 1 + 4^1.5
  h.profile_origin = 1;
  EXPECT_DOUBLE_EQ(DelayModel(h, 4, 8, 0).next_delay(0.0), 9.0);  // 1 + 4^1.5, 1-based
}

// A temporary trace file, removed at the end of the test.
class TraceFile {
 public:
  explicit TraceFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() / ("ringmaster-trace-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter_++) + ".csv");
    std::ofstream(path_) << text;
  }
  ~TraceFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

// Trace replay: each worker replays its own rows (compute_s + injected_s of a delays.csv) in file order
// and starts again after the last one; rows of workers beyond the run's are counted, not kept, and said.
TEST(Heterogeneity, TraceReplaysEachWorkersRowsCyclically) {
  TraceFile file(
      "worker,version,compute_s,injected_s\n2,0,0.5,1.0\n1,0,0.25,0.0\n2,3,0.5,2.0\n1,4,0.0,0.75\n1,9,0.0,3.0\n"
      "3,0,1,1\n");
  HeterogeneityConfig h = make("trace", "halfnormal");
  h.trace = file.path();
  h.trace_times.trace = DelayTrace::load(h.trace, 2);
  EXPECT_EQ(h.trace_times.trace->workers(), 2);
  EXPECT_EQ(h.trace_times.trace->unreplayed(),
            file.path() + ": 1 row of worker 3 is not replayed: the run has 2 workers, and worker w replays the rows "
                          "of worker w (a trace of a larger run replays its first 2)");
  DelayModel one(h, 1, 2, 0), two(h, 2, 2, 0);
  for (double expected : {0.25, 0.75, 3.0, 0.25, 0.75}) EXPECT_DOUBLE_EQ(one.next_delay(0.0), expected);
  for (double expected : {1.5, 2.5, 1.5}) EXPECT_DOUBLE_EQ(two.next_delay(0.0), expected);
  // A trace of per-worker seconds in a `seconds` column is read the same way.
  TraceFile seconds("seconds,worker\n0.5,1\n");
  EXPECT_EQ(DelayTrace::load(seconds.path(), 1)->times(1), std::vector<double>{0.5});
  EXPECT_EQ(DelayTrace::load(seconds.path(), 1)->unreplayed(), std::nullopt);
}

// A worker id is a row's label, not a size: a row of worker 10^9 once made the loader allocate 10^9
// per-worker lists (2.4 GB at 10^8, "out of memory" at 10^9). The trace holds the run's workers only,
// whatever ids the file names, and says which rows it leaves out.
TEST(Heterogeneity, TraceMemoryFollowsTheRunNotTheIdsInTheFile) {
  TraceFile file("worker,seconds\n1,0.5\n1000000000,0.25\n2,0.75\n999999999,1\n1000000000,2\n");
  const auto trace = DelayTrace::load(file.path(), 2);
  EXPECT_EQ(trace->workers(), 2);
  EXPECT_EQ(trace->times(2), std::vector<double>{0.75});
  EXPECT_EQ(trace->unreplayed(),
            file.path() + ": 3 rows of workers 999999999 to 1000000000 are not replayed: the run has 2 workers, and "
                          "worker w replays the rows of worker w (a trace of a larger run replays its first 2)");
}

// Every malformed trace is an Error naming the file and the line (the file alone for a worker with no
// rows or a file that cannot be read).
TEST(Heterogeneity, MalformedTracesNameTheFileAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"worker,compute_s\n1,0.5\n", ":1: the header must name"},
      {"", ":1: the trace is empty"},
      {"worker,seconds\n1,0.5\n2,abc\n", ":3: seconds must be a number"},
      {"worker,seconds\n1,0.5\n2,-1\n", ":3: seconds must be a number in [0, 1e9], got \"-1\""},
      {"worker,seconds\n1,nan\n", ":2: seconds must be a number"},
      {"worker,seconds\n1,inf\n", ":2: seconds must be a number"},
      {"worker,seconds\n1,0.5,7\n", ":2: has 3 fields, the header 2"},
      {"worker,seconds\n1.5,0.5\n", ":2: worker must be an integer in [1, 1e9], got \"1.5\""},
      {"worker,seconds\n0,0.5\n", ":2: worker must be an integer in [1, 1e9], got \"0\""},
      {"worker,seconds\n1,0.5\n1000000001,0.5\n", ":3: worker must be an integer in [1, 1e9], got \"1000000001\""},
      {"worker,seconds\n1,0.5\n1e300,0.5\n", ":3: worker must be an integer in [1, 1e9]"},
      {"worker,seconds\n-inf,0.5\n", ":2: worker must be an integer in [1, 1e9]"},
      // A column the loader reads, named twice: which one is meant is a guess (it used to take the last).
      {"worker,seconds,seconds\n1,0.5,9\n", ":1: the header names 'seconds' twice (columns 2 and 3)"},
      {"worker,worker,seconds\n1,2,0.5\n", ":1: the header names 'worker' twice (columns 1 and 2)"},
      {"compute_s,worker,injected_s,compute_s\n1,1,0,1\n", ":1: the header names 'compute_s' twice (columns 1 and 4)"},
      {"worker,seconds\n1,0.5\n\n2,0.5\n", ":3: has 1 fields"},
      {"worker,seconds\n1,0.5\n3,0.5\n", ": worker 2 has no rows, and the run has 3 workers"},
      {"worker,seconds\n1,0.5\n2,0.5\n", ": worker 3 has no rows, and the run has 3 workers (the trace has rows for 2)"},
  };
  for (const auto& [text, message] : cases) {
    TraceFile file(text);
    SCOPED_TRACE(text);
    try {
      DelayTrace::load(file.path(), 3);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(file.path() + message), std::string::npos) << e.what();
    }
  }
  try {
    DelayTrace::load("/nonexistent/trace.csv", 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/trace.csv: cannot open the trace"), std::string::npos);
  }
}

}  // namespace
}  // namespace ringmaster
