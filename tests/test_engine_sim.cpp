// The virtual-clock engine (docs/method.md §7, §10), and
// its agreement with the MPI engine.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// The shared small quadratic (support.hpp), 16×16 with 8 workers and noise-free 20 ms delays.
std::string write_config(const TempDir& dir) {
  return write_test_quadratic(dir / "sim.toml", {{"run.seed", "5"},
                                                 {"run.workers", "8"},
                                                 {"run.time_budget_s", "6.0"},
                                                 {"run.eval_every_s", "0.5"},
                                                 {"objective.rows", "16"},
                                                 {"objective.cols", "16"},
                                                 {"heterogeneity.base_s", "0.02"},
                                                 {"heterogeneity.noise", "\"none\""}});
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Command simulate(const std::string& args) {
  return run("ASAN_OPTIONS=detect_leaks=0 " + binary() + " simulate " + args);
}

TEST(SimEngine, SameSeedGivesByteIdenticalRuns) {
  TempDir dir("determinism");
  const std::string config = write_config(dir);
  for (const char* method : {"ringmaster", "rennala", "async-delay-adaptive"}) {
    const std::string set = std::string(" --set run.method=") + method +
                            " --set heterogeneity.noise=\"halfnormal\" --set run.time_budget_s=3 --out ";
    ASSERT_EQ(simulate("-c " + config + set + (dir / (std::string(method) + "-a"))).exit_code, 0);
    ASSERT_EQ(simulate("-c " + config + set + (dir / (std::string(method) + "-b"))).exit_code, 0);
    for (const char* file : {"events.csv", "eval.csv"}) {
      const std::string a = slurp(fs::path(dir / (std::string(method) + "-a")) / file);
      EXPECT_GT(a.size(), 100u);
      EXPECT_EQ(a, slurp(fs::path(dir / (std::string(method) + "-b")) / file)) << method << " " << file;
    }
  }
  // A different seed gives a different run.
  ASSERT_EQ(simulate("-c " + config + " --set run.seed=6 --set heterogeneity.noise=\"halfnormal\" "
                     "--set run.time_budget_s=3 --out " + (dir / "other")).exit_code, 0);
  EXPECT_NE(slurp(fs::path(dir / "other") / "events.csv"), slurp(fs::path(dir / "ringmaster-a") / "events.csv"));
}

// sim.threads runs consecutive updates' LMOs side by side (UpdatePipeline); x must still pass through
// exactly the same versions, so every file is byte-identical to a one-thread run. 3 threads on this
// 2-core machine also exercises helpers that get preempted mid-LMO.
TEST(SimEngine, ThreadCountDoesNotChangeResults) {
  TempDir dir("threads");
  const std::string config = write_config(dir);
  for (const char* method : {"ringmaster", "async", "rennala", "ringmaster-sgd"}) {
    const std::string set = std::string(" --set run.method=") + method +
                            " --set heterogeneity.noise=\"halfnormal\" --set objective.rows=48 "
                            "--set objective.cols=32 --set run.time_budget_s=4 --set sim.threads=";
    for (const char* threads : {"1", "2", "3"})
      ASSERT_EQ(simulate("-c " + config + set + threads + " --out " + (dir / (std::string(method) + threads))).exit_code,
                0);
    for (const char* file : {"events.csv", "eval.csv", "workers.csv"}) {
      const std::string one = slurp(fs::path(dir / (std::string(method) + "1")) / file);
      EXPECT_GT(one.size(), 100u);
      for (const char* threads : {"2", "3"})
        EXPECT_EQ(one, slurp(fs::path(dir / (std::string(method) + threads)) / file))
            << method << " " << file << " with " << threads << " threads";
    }
  }
}

TEST(SimEngine, WritesTheRunDirectoryWithSimEngine) {
  TempDir dir("files");
  const std::string out = dir / "run";
  ASSERT_EQ(simulate("-c " + write_config(dir) + " --out " + out).exit_code, 0);
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["engine"], "sim");
  EXPECT_EQ(summary["n_workers"], 8);
  EXPECT_DOUBLE_EQ(summary["train_time_s"].get<double>(), 6.0);
  EXPECT_LT(summary["final_loss"].get<double>(), summary["initial_loss"].get<double>() / 5.0);
  // Noise-free delays: worker i completes a gradient every 0.02·√i s exactly, so in 6 s worker 1
  // computes ⌊6/0.02⌋ = 300 gradients, minus the ones interrupted (which restart the clock).
  const auto workers = read_csv(fs::path(out) / "workers.csv");
  ASSERT_EQ(workers.size(), 8u);
  EXPECT_EQ(std::stoi(workers[0].at("computed")) + std::stoi(workers[0].at("interrupted")), 300);
  for (const char* file : {"config.toml", "events.csv", "eval.csv", "delays.csv"})
    EXPECT_TRUE(fs::exists(fs::path(out) / file)) << file;
}

// sync: all n gradients of a round arrive, one update per round; with noise-free delays a round lasts
// as long as the slowest worker, 0.02·√8 s.
TEST(SimEngine, SyncRoundsLastAsLongAsTheSlowestWorker) {
  TempDir dir("sync");
  const std::string out = dir / "run";
  ASSERT_EQ(simulate("-c " + write_config(dir) + " --set run.method=sync --out " + out).exit_code, 0);
  const auto summary = read_json(fs::path(out) / "summary.json");
  const int rounds = static_cast<int>(std::floor(6.0 / (0.02 * std::sqrt(8.0))));
  EXPECT_EQ(summary["updates"], rounds);
  EXPECT_EQ(summary["arrivals"], 8 * rounds);
}

// run.log_interrupts (docs/method.md §8) changes what events.csv says, nothing else: with "counts" it
// holds the rows of "rows" except the interrupt rows, each arrival row ending in how many interrupt rows
// followed it there, and every other file is the same. 300 workers at √i speeds with R = 2: each update
// interrupts dozens of computations (a worker slower than ~4 updates' time never delivers).
TEST(SimEngine, LogInterruptsCountsIsRowsWithoutTheInterruptRows) {
  TempDir dir("log-interrupts");
  const std::string args = "-c " + write_config(dir) +
                           " --set run.workers=300 --set method.threshold=2 --set run.time_budget_s=2 "
                           "--set heterogeneity.noise=\"halfnormal\" --out ";
  const fs::path rows = dir / "rows", counts = dir / "counts";
  ASSERT_EQ(simulate(args + rows.string()).exit_code, 0);
  ASSERT_EQ(simulate(args + counts.string() + " --set run.log_interrupts=counts").exit_code, 0);
  for (const char* file : {"eval.csv", "workers.csv", "delays.csv"})
    EXPECT_EQ(slurp(rows / file), slurp(counts / file)) << file;
  auto summary = [](const fs::path& d) {
    auto s = read_json(d / "summary.json");
    for (const char* key : {"run_id", "wall_time_s", "eval_time_s"}) s.erase(key);
    return s;
  };
  EXPECT_EQ(summary(rows), summary(counts));

  std::ifstream full(rows / "events.csv"), compact(counts / "events.csv");
  std::string line, header;
  std::getline(full, line);
  std::getline(compact, header);
  EXPECT_EQ(header, line + ",interrupted");
  std::vector<std::string> arrivals;  // rows' arrival rows, each with the number of interrupt rows after it
  std::vector<int> interrupts;
  while (std::getline(full, line)) {
    if (line.find(",interrupt,") != std::string::npos) {
      ASSERT_FALSE(interrupts.empty()) << "an interrupt row before any arrival";
      ++interrupts.back();
    } else {
      arrivals.push_back(line);
      interrupts.push_back(0);
    }
  }
  std::size_t i = 0;
  std::int64_t total = 0;
  for (; std::getline(compact, line); ++i) {
    ASSERT_LT(i, arrivals.size());
    EXPECT_EQ(line, arrivals[i] + "," + std::to_string(interrupts[i])) << "row " << i + 1;
    total += interrupts[i];
  }
  EXPECT_EQ(i, arrivals.size());
  EXPECT_EQ(total, summary(counts)["interrupted"].get<std::int64_t>());
  EXPECT_GT(total, 10 * static_cast<std::int64_t>(summary(counts)["updates"].get<std::int64_t>()));
}

// 10,000 workers: state per worker stays small, and the run completes.
TEST(SimEngine, ScalesToTenThousandWorkers) {
  TempDir dir("scale");
  const std::string out = dir / "run";
  const Command cmd = simulate("-c " + write_config(dir) +
                               " --set run.workers=10000 --set run.time_budget_s=2 --set method.stale=\"discard\""
                               " --set objective.rows=8 --set objective.cols=8 --out " + out);
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["n_workers"], 10000);
  // Worker i needs 0.02·√i s per gradient, so in 2 s every worker finishes at least one (worker 10,000
  // needs exactly 2 s): Σ_i ⌊2/(0.02√i)⌋ ≈ 19,700 arrivals if nobody were interrupted.
  EXPECT_GT(summary["arrivals"].get<int>(), 10000);
}

// A stepsize that blows up: the run records the divergence and ends cleanly (exit 0, a summary that
// says so), instead of failing inside the evaluation's SVD of a NaN gradient.
TEST(SimEngine, DivergenceIsRecordedNotACrash) {
  TempDir dir("diverge");
  const std::string out = dir / "run";
  const Command cmd = simulate("-c " + write_config(dir) +
                               " --set run.method=ringmaster-sgd --set method.stepsize=50.0 --out " + out);
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["stop_reason"], "diverged");
  EXPECT_LT(summary["train_time_s"].get<double>(), 6.0);
}

// Evaluation times are grid points index · eval_every_s, not a running sum that drifts.
TEST(SimEngine, EvaluationTimesStayOnTheGrid) {
  TempDir dir("grid");
  const std::string out = dir / "run";
  ASSERT_EQ(simulate("-c " + write_config(dir) + " --set run.eval_every_s=0.1 --out " + out).exit_code, 0);
  const auto eval = read_csv(fs::path(out) / "eval.csv");
  ASSERT_GE(eval.size(), 60u);
  for (std::size_t i = 0; i + 1 < eval.size(); ++i)  // the last row is the final evaluation
    EXPECT_EQ(eval[i].at("time_s"), fmt::format("{:.6f}", 0.1 * static_cast<double>(i))) << i;
}

TEST(SimEngine, RefusesAZeroTimeModel) {
  TempDir dir("zero");
  const Command cmd = simulate("-c " + write_config(dir) + " --set heterogeneity.base_s=0.0 --out " + (dir / "run"));
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_NE(cmd.output.find("heterogeneity.base_s"), std::string::npos) << cmd.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

// The two engines agree (noise-free sqrt delays, 8 workers, compute negligible): accepted fraction
// within 5 percentage points, and the loss within a factor 1.5 at every MPI evaluation after the first
// second, compared at the same number of updates k. Not at the same time: on a loaded machine the MPI run
// makes fewer updates per wall second than the model (its ranks wait for cores), while the injected delays
// — sleeps, which load does not lengthen — still set which gradients are stale, so the trajectory per
// update is the one the simulator computes.
TEST(EnginesAgree, MpiAndSimulationOfTheSameConfig) {
  TempDir dir("agree");
  const std::string config = write_config(dir);
  const std::string sim_out = dir / "sim", mpi_out = dir / "mpi";
  ASSERT_EQ(simulate("-c " + config + " --out " + sim_out).exit_code, 0);
  const Command mpi = run(mpirun(9, "-c " + config + " --out " + mpi_out));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;

  // The share of started computations whose gradient was applied. Under MPI a computation abandoned
  // too late to stop (its gradient already on the wire) arrives as "superseded"; on the virtual clock the
  // same computation is simply "interrupted": counting both as started-and-wasted compares like with like.
  auto accepted_fraction = [](const fs::path& out) {
    const auto s = read_json(out / "summary.json");
    return s["accepted"].get<double>() / (s["arrivals"].get<double>() + s["interrupted"].get<double>());
  };
  const double sim_accept = accepted_fraction(sim_out), mpi_accept = accepted_fraction(mpi_out);
  EXPECT_NEAR(mpi_accept, sim_accept, 0.05);

  // The simulator's loss at k updates: log-linear between the two evaluations whose k bracket it (the loss
  // falls geometrically between them); NaN past its last evaluation.
  std::vector<std::pair<double, double>> sim_k_loss;  // (k, loss) in k order
  for (const auto& s : read_csv(fs::path(sim_out) / "eval.csv"))
    sim_k_loss.emplace_back(std::stod(s.at("k")), std::stod(s.at("loss")));
  auto sim_loss_at = [&](double k) {
    for (std::size_t i = 0; i + 1 < sim_k_loss.size(); ++i) {
      const auto [k0, l0] = sim_k_loss[i];
      const auto [k1, l1] = sim_k_loss[i + 1];
      if (k < k0 || k > k1) continue;
      if (k1 == k0) return l1;
      const double w = (k - k0) / (k1 - k0);
      return std::exp((1.0 - w) * std::log(l0) + w * std::log(l1));
    }
    return static_cast<double>(NAN);
  };
  int compared = 0;
  for (const auto& row : read_csv(fs::path(mpi_out) / "eval.csv")) {
    const double t = std::stod(row.at("time_s"));
    if (t <= 1.0 || t > 6.0) continue;
    const double k = std::stod(row.at("k")), sim_loss = sim_loss_at(k);
    if (std::isnan(sim_loss)) continue;  // more updates than the simulated run made: nothing to compare with
    const double mpi_loss = std::stod(row.at("loss"));
    EXPECT_LE(mpi_loss, 1.5 * sim_loss) << "t = " << t << ", k = " << k;
    EXPECT_GE(mpi_loss, sim_loss / 1.5) << "t = " << t << ", k = " << k;
    ++compared;
  }
  EXPECT_GE(compared, 8);
}

// Per worker, the injected_s column of delays.csv, in arrival order.
std::map<std::string, std::vector<std::string>> injected_by_worker(const fs::path& out) {
  std::map<std::string, std::vector<std::string>> by_worker;
  for (const auto& row : read_csv(out / "delays.csv")) by_worker[row.at("worker")].push_back(row.at("injected_s"));
  return by_worker;
}

// The same seed draws the same delays per worker in both engines (WorkerModel, docs/method.md §5): under
// async nothing is interrupted, so every computation delivers its gradient and the k-th row of worker i
// in delays.csv is its k-th draw. Additive mode: the draw does not depend on the measured compute time.
TEST(EnginesAgree, SameSeedDrawsTheSameDelaysPerWorker) {
  TempDir dir("delays");
  const std::string config = write_test_quadratic(
      dir / "delays.toml", {{"run.seed", "17"}, {"run.method", "\"async\""}, {"run.time_budget_s", "1.5"},
                            {"heterogeneity.noise", "\"halfnormal\""}, {"heterogeneity.noise_scale", "0.5"},
                            {"heterogeneity.base_s", "0.01"}});
  const std::string sim_out = dir / "sim", mpi_out = dir / "mpi";
  ASSERT_EQ(simulate("-c " + config + " --set run.workers=4 --out " + sim_out).exit_code, 0);
  const Command mpi = run(mpirun(5, "-c " + config + " --out " + mpi_out));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;
  const auto sim = injected_by_worker(sim_out), mpi_rows = injected_by_worker(mpi_out);
  ASSERT_EQ(sim.size(), 4u);
  ASSERT_EQ(mpi_rows.size(), 4u);
  for (const auto& [worker, draws] : sim) {
    const std::vector<std::string>& other = mpi_rows.at(worker);
    const std::size_t common = std::min(draws.size(), other.size());
    EXPECT_GE(common, 20u) << "worker " << worker;
    for (std::size_t k = 0; k < common; ++k) ASSERT_EQ(draws[k], other[k]) << "worker " << worker << ", draw " << k;
  }
}

// heterogeneity.compute_s (docs/method.md §7): each gradient costs compute_s of virtual time on top of
// its injected delay (additive), or s_i · compute_s in all (multiplicative). Noise-free, async (no
// interrupts): worker i computes ⌊T / τ_i⌋ gradients in T seconds, each with compute_s busy seconds.
TEST(SimEngine, ComputeTimeIsChargedOnTheVirtualClock) {
  TempDir dir("compute");
  const std::string config = write_config(dir);
  const std::string additive = dir / "additive", multiplicative = dir / "multiplicative";
  ASSERT_EQ(simulate("-c " + config + " --set run.method=async --set heterogeneity.profile=uniform "
                     "--set heterogeneity.base_s=0.01 --set heterogeneity.compute_s=0.03 --set run.time_budget_s=1.02 "
                     "--out " + additive).exit_code, 0);
  for (const auto& row : read_csv(fs::path(additive) / "workers.csv")) {
    EXPECT_EQ(std::stoi(row.at("computed")), 25) << "worker " << row.at("worker");  // ⌊1.02 / 0.04⌋
    EXPECT_NEAR(std::stod(row.at("busy_s")), 25 * 0.03, 1e-6);
    EXPECT_NEAR(std::stod(row.at("injected_s")), 25 * 0.01, 1e-6);
  }
  EXPECT_EQ(read_json(fs::path(additive) / "summary.json")["compute_s"].get<double>(), 0.03);
  for (const auto& row : read_csv(fs::path(additive) / "delays.csv")) EXPECT_EQ(row.at("compute_s"), "0.030000");

  ASSERT_EQ(simulate("-c " + config + " --set run.method=async --set heterogeneity.profile=linear "
                     "--set heterogeneity.mode=multiplicative --set heterogeneity.base_s=0 "
                     "--set heterogeneity.compute_s=0.01 --set run.time_budget_s=1.01 --out " + multiplicative).exit_code,
            0);
  const auto workers = read_csv(fs::path(multiplicative) / "workers.csv");
  EXPECT_EQ(std::stoi(workers[1].at("computed")), 50);  // τ_2 = 2 · 0.01: ⌊1.01 / 0.02⌋
  EXPECT_EQ(std::stoi(workers[3].at("computed")), 25);  // τ_4 = 4 · 0.01: ⌊1.01 / 0.04⌋
  EXPECT_NEAR(std::stod(workers[3].at("injected_s")), 25 * 3 * 0.01, 1e-6);  // (s_i − 1) · compute_s each
}

// compute_s = "measure": the mean time of a real stochastic gradient, logged and in summary.json.
TEST(SimEngine, MeasuredComputeTimeIsRecorded) {
  TempDir dir("measure");
  const std::string out = dir / "run";
  const Command cmd = simulate("-c " + write_config(dir) + " --set heterogeneity.compute_s=measure "
                               "--set run.time_budget_s=1 --out " + out);
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_NE(cmd.output.find("a stochastic gradient takes"), std::string::npos) << cmd.output;
  const double measured = read_json(fs::path(out) / "summary.json")["compute_s"].get<double>();
  EXPECT_GT(measured, 0.0);
  EXPECT_LT(measured, 0.1);  // a 16×16 quadratic's gradient: microseconds
}

// heterogeneity.server_update_s (docs/method.md §7): the server is a single queue. 8 workers whose
// gradients take 1 ms (noise-free, async: every arrival is an update, nothing is interrupted) and a
// server that spends c = 10 ms per update: from the first arrival at 1 ms the server is never idle, so
// the k-th update starts at 0.001 + k·c, the updates in T = 1 s are those starting by T,
// ⌊(T − 0.001) / c⌋ + 1 = 100, each is recorded when it starts, and the server is busy but for the part of
// the last update past T. Each worker, served, restarts when its update ends and queues behind the other
// seven: every gradient after the first round is n − 1 = 7 updates stale.
TEST(SimEngine, ServerUpdateTimeQueuesArrivals) {
  TempDir dir("server-queue");
  const std::string out = dir / "run";
  ASSERT_EQ(simulate("-c " + write_config(dir) + " --set run.method=async --set method.stepsize=0.001 "
                     "--set heterogeneity.profile=uniform --set heterogeneity.base_s=0.001 "
                     "--set heterogeneity.server_update_s=0.01 --set run.time_budget_s=1 --out " + out).exit_code, 0);
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["updates"], 100);
  EXPECT_EQ(summary["arrivals"], 100);
  EXPECT_EQ(summary["server_update_s"].get<double>(), 0.01);
  EXPECT_NEAR(summary["server_busy_fraction"].get<double>(), (100 * 0.01 - (0.001 + 100 * 0.01 - 1.0)) / 1.0, 1e-9);
  const auto events = read_csv(fs::path(out) / "events.csv");
  ASSERT_EQ(events.size(), 100u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_NEAR(std::stod(events[i].at("time_s")), 0.001 + 0.01 * static_cast<double>(i), 1e-6) << "update " << i;
    EXPECT_EQ(std::stoi(events[i].at("delay")), i < 8 ? static_cast<int>(i) : 7) << "update " << i;
  }
}

// A discarded gradient costs the server nothing: only updates are charged. ringmaster with
// stale = "discard" and R = 2 under a server charging 5 ms per update, 16 workers at √i · 2 ms: most
// arrivals are discarded, and the busy time is the updates' time less the part of the last one past T.
// Waiting gradients are computed at their snapshots when served, so deferred updates (sim.threads)
// still change nothing.
TEST(SimEngine, ServerUpdateTimeChargesUpdatesOnly) {
  TempDir dir("server-discard");
  const std::string out = dir / "run", one_thread = dir / "one-thread";
  const double c = 0.005, budget = 2.0;
  const std::string args = "-c " + write_config(dir) + " --set run.workers=16 --set method.stale=discard "
                           "--set method.threshold=2 --set heterogeneity.base_s=0.002 "
                           "--set heterogeneity.server_update_s=0.005 --set run.time_budget_s=2";
  ASSERT_EQ(simulate(args + " --set sim.threads=3 --out " + out).exit_code, 0);
  ASSERT_EQ(simulate(args + " --set sim.threads=1 --out " + one_thread).exit_code, 0);
  for (const char* file : {"events.csv", "eval.csv", "delays.csv"})
    EXPECT_EQ(slurp(fs::path(out) / file), slurp(fs::path(one_thread) / file)) << file;
  const auto summary = read_json(fs::path(out) / "summary.json");
  const double updates = summary["updates"].get<double>(), busy = summary["server_busy_fraction"].get<double>() * budget;
  EXPECT_GT(summary["discarded"].get<double>(), updates);  // discards would have doubled the busy time
  EXPECT_LE(busy, updates * c + 1e-9);
  EXPECT_GE(busy, (updates - 1) * c - 1e-9);
  // The server never starts an update while the previous one runs.
  const auto events = read_csv(fs::path(out) / "events.csv");
  double free_at = 0.0;
  for (const auto& row : events) {
    const double t = std::stod(row.at("time_s"));
    EXPECT_GE(t, free_at - 1e-6) << "k = " << row.at("k");
    if (row.at("action") == "accept") free_at = t + c;
  }
}

// server.shards (docs/method.md §7 "Sharded server"): S shards apply the same decisions in the same order,
// each to its own blocks, so an update keeps the server busy for the slowest shard's share of
// server_update_s. Four equal 16×16 blocks: 2 shards own two each (half the update), 4 shards one each (a
// quarter). The queue of ServerUpdateTimeQueuesArrivals then serves ⌊(T − 0.001) / c_S⌋ + 1 updates in T =
// 1 s: 100, 200, 400 for c_S = 10, 5, 2.5 ms. Without a charge shards change nothing: the same files.
TEST(SimEngine, ShardsDivideTheServersUpdateTime) {
  TempDir dir("shards");
  const std::string base = "-c " + write_config(dir) + " --set run.method=async --set method.stepsize=0.001 "
                           "--set objective.blocks=4 --set heterogeneity.profile=uniform "
                           "--set heterogeneity.base_s=0.001 --set run.time_budget_s=1";
  const std::string charged = base + " --set heterogeneity.server_update_s=0.01";
  const std::vector<std::pair<int, int>> expected = {{1, 100}, {2, 200}, {4, 400}};
  for (const auto& [shards, updates] : expected) {
    const std::string out = dir / ("charged-" + std::to_string(shards));
    const Command cmd = simulate(charged + " --set server.shards=" + std::to_string(shards) + " --out " + out);
    ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
    const auto summary = read_json(fs::path(out) / "summary.json");
    EXPECT_EQ(summary["updates"], updates) << shards << " shards";
    EXPECT_DOUBLE_EQ(summary["server_update_s"].get<double>(), 0.01 / shards);
  }
  const std::string one = dir / "free-1", two = dir / "free-2";
  ASSERT_EQ(simulate(base + " --set server.shards=1 --out " + one).exit_code, 0);
  ASSERT_EQ(simulate(base + " --set server.shards=2 --out " + two).exit_code, 0);
  for (const char* file : {"events.csv", "eval.csv", "delays.csv", "workers.csv"})
    EXPECT_EQ(slurp(fs::path(one) / file), slurp(fs::path(two) / file)) << file;
  // A shard owns whole blocks: 5 shards of 4 blocks is an error naming the key, and no run directory.
  const std::string five = dir / "five";
  const Command bad = simulate(base + " --set server.shards=5 --out " + five);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("server.shards = 5"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(five));
}

// server_update_s = 0 is today's instantaneous server: the same files as a run without the key (and
// summary.json without server_update_s); "measure" times a real update, logs it and records it.
TEST(SimEngine, ZeroOrMeasuredServerUpdateTime) {
  TempDir dir("server-measure");
  const std::string config = write_config(dir);
  const std::string plain = dir / "plain", zero = dir / "zero", measured = dir / "measured";
  ASSERT_EQ(simulate("-c " + config + " --set run.time_budget_s=2 --out " + plain).exit_code, 0);
  ASSERT_EQ(simulate("-c " + config + " --set run.time_budget_s=2 --set heterogeneity.server_update_s=0 --out " + zero)
                .exit_code, 0);
  for (const char* file : {"events.csv", "eval.csv", "delays.csv", "workers.csv"})
    EXPECT_EQ(slurp(fs::path(plain) / file), slurp(fs::path(zero) / file)) << file;
  EXPECT_FALSE(read_json(fs::path(zero) / "summary.json").contains("server_update_s"));
  EXPECT_EQ(read_json(fs::path(zero) / "summary.json")["server_busy_fraction"].get<double>(), 0.0);

  const Command cmd = simulate("-c " + config + " --set run.time_budget_s=2 --set heterogeneity.server_update_s=measure "
                               "--out " + measured);
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_NE(cmd.output.find("an update takes the server"), std::string::npos) << cmd.output;
  const auto summary = read_json(fs::path(measured) / "summary.json");
  const double update_s = summary["server_update_s"].get<double>();
  EXPECT_GT(update_s, 0.0);
  EXPECT_LT(update_s, 0.01);  // a 16×16 Newton–Schulz: microseconds
  EXPECT_NEAR(summary["server_busy_fraction"].get<double>() * 2.0, summary["updates"].get<double>() * update_s,
              update_s + 1e-9);
}

}  // namespace
}  // namespace ringmaster
