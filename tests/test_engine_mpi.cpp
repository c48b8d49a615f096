// The MPI engine under a real mpirun (docs/method.md §1, §4, §8, §10).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>

#include "objectives/quadratic.hpp"
#include "ringmaster/update_executor.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// The shared small quadratic (support.hpp), run for up to 40 s with evaluations every 0.25 s.
std::string small_config(const TempDir& dir) {
  return write_test_quadratic(dir / "small.toml",
                              {{"run.seed", "3"}, {"run.time_budget_s", "40.0"}, {"run.eval_every_s", "0.25"},
                               {"heterogeneity.noise", "\"halfnormal\""}});
}

// f − f* falls 100× below f(X0) − f* (the run stops once the evaluated loss reaches the target).
TEST(MpiEngine, ConvergesHundredfoldWithFourWorkers) {
  TempDir dir("converge");
  const std::string config = small_config(dir);
  Config c = load_config(config, {});
  const double initial = Quadratic(c).evaluate(std::vector<float>(24 * 24, 0.0f)).loss;
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(5, "-c " + config + " --set run.target_loss=" + std::to_string(initial / 100.0) +
                                        " --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["engine"], "mpi");
  EXPECT_EQ(summary["n_workers"], 4);
  EXPECT_NEAR(summary["initial_loss"].get<double>(), initial, 1e-9 * initial);
  EXPECT_LE(summary["final_loss"].get<double>(), initial / 100.0) << cmd.output;
  for (const char* file : {"config.toml", "events.csv", "eval.csv", "workers.csv", "delays.csv"})
    EXPECT_TRUE(fs::exists(fs::path(out) / file)) << file;
  // The last eval.csv row is the final loss.
  const auto eval = read_csv(fs::path(out) / "eval.csv");
  ASSERT_FALSE(eval.empty());
  EXPECT_NEAR(std::stod(eval.back().at("loss")), summary["final_loss"].get<double>(),
              1e-6 * summary["final_loss"].get<double>());
}

// R = 1 and linear heterogeneity: every update makes every other worker stale, so slow workers are
// interrupted over and over, while the fastest worker's fresh gradients are accepted.
TEST(MpiEngine, ThresholdOneInterruptsSlowWorkers) {
  TempDir dir("interrupt");
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(5, "-c " + small_config(dir) +
                                        " --set method.threshold=1 --set heterogeneity.profile=\"linear\""
                                        " --set heterogeneity.base_s=0.01 --set run.time_budget_s=3 --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto workers = read_csv(fs::path(out) / "workers.csv");
  ASSERT_EQ(workers.size(), 4u);
  EXPECT_GT(std::stoi(workers[0].at("accepted")), 50);
  EXPECT_GT(std::stoi(workers[3].at("interrupted")), 20);
  EXPECT_GT(std::stoi(workers[3].at("interrupted")), std::stoi(workers[3].at("accepted")));
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["discarded"], 0);  // interrupt mode: stale work is stopped, not sent
  // events.csv: every accepted gradient has delay 0 < R = 1.
  for (const auto& row : read_csv(fs::path(out) / "events.csv"))
    if (row.at("action") == "accept") {
      ASSERT_EQ(row.at("delay"), "0");
    }
}

// discard mode: no interrupts; every discarded row has delay ≥ R and every accepted row delay < R.
TEST(MpiEngine, DiscardModeSplitsByDelay) {
  TempDir dir("discard");
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(5, "-c " + small_config(dir) +
                                        " --set method.threshold=2 --set method.stale=\"discard\""
                                        " --set heterogeneity.profile=\"linear\" --set run.time_budget_s=3"
                                        " --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  int accepted = 0, discarded = 0;
  for (const auto& row : read_csv(fs::path(out) / "events.csv")) {
    const int delay = std::stoi(row.at("delay"));
    const std::string& action = row.at("action");
    ASSERT_NE(action, "interrupt");
    ASSERT_NE(action, "superseded");
    if (action == "accept") {
      ++accepted;
      ASSERT_LT(delay, 2);
      ASSERT_EQ(std::stoi(row.at("k")) - std::stoi(row.at("version")), delay);
    }
    if (action == "discard") {
      ++discarded;
      ASSERT_GE(delay, 2);
    }
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(discarded, 10);
}

// A stop reaches a worker 60 s into an injected delay: every rank still exits within 2 s of it.
TEST(MpiEngine, StopsWithinTwoSecondsDuringLongDelay) {
  TempDir dir("stop");
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(3, "-c " + small_config(dir) +
                                        " --set heterogeneity.profile=\"list\" --set heterogeneity.list=[1.0,12000.0]"
                                        " --set heterogeneity.noise=\"none\" --set run.time_budget_s=1.5 --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  // summary.json is written after every worker acknowledged the stop; mpirun returns when all ranks
  // have exited. Both after the stop at 1.5 s of training time.
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_LT(summary["wall_time_s"].get<double>() - summary["train_time_s"].get<double>(), 2.0);
  struct stat st {};
  ASSERT_EQ(stat((fs::path(out) / "summary.json").c_str(), &st), 0);
  const double written = static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LT(now - written, 2.0) << "ranks took too long to exit after the summary was written";
  const auto workers = read_csv(fs::path(out) / "workers.csv");
  EXPECT_EQ(workers[1].at("computed"), "0");  // the 60 s worker never finished a gradient
}

// server.threads (docs/configuration.md): 0 takes the cores of rank 0's affinity that no other rank on the
// node may use, at least 1; oversubscribed ranks are bound to nothing, so every worker shares rank 0's
// cores and the server keeps one thread. A number is taken as asked (the gpt layout can use 2).
TEST(MpiEngine, ServerThreadsLeaveTheWorkersTheirCores) {
  TempDir dir("server-threads");
  const std::string gpt = "-c " + source_dir() + "/configs/gpt_tiny.toml --set run.time_budget_s=0.5 "
                          "--set objective.gpt.eval_tokens=256 --set objective.gpt.eval_train_tokens=64 ";
  const Command shared = run(mpirun(3, gpt + "--out " + (dir / "shared")));
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  const int cores = available_cores();  // mpirun binds nothing: every rank inherits this affinity
  EXPECT_NE(shared.output.find("server: block LMOs on 1 thread (server.threads = 0; rank 0 may use " +
                               std::to_string(cores) + (cores == 1 ? " core" : " cores") + ", 2 other ranks"),
            std::string::npos)
      << shared.output;
  const Command asked = run(mpirun(3, gpt + "--set server.threads=2 --out " + (dir / "asked")));
  ASSERT_EQ(asked.exit_code, 0) << asked.output;
  EXPECT_NE(asked.output.find("server: block LMOs on 2 threads (server.threads = 2;"), std::string::npos)
      << asked.output;
}

// docs/method.md §7: a slow evaluation (a 600×600 quadratic in the spectral geometry: its dual norm is
// an SVD taking a large share of a second here) runs beside serving. The old inline evaluation served
// nothing inside an evaluation window; now arrivals keep being served there. The margin (a tenth of the
// rate outside the windows) leaves room for the evaluator thread taking one of two shared cores.
TEST(MpiEngine, SlowEvaluationDoesNotStallServing) {
  TempDir dir("slow-eval");
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(4, "-c " + small_config(dir) +
                                        " --set objective.rows=600 --set objective.cols=600 --set lmo.ns_steps=1"
                                        " --set run.eval_every_s=1.0 --set run.time_budget_s=8 --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  const double train = summary["train_time_s"].get<double>();
  EXPECT_GT(summary["eval_time_s"].get<double>(), 0.0);
  std::vector<std::pair<double, double>> windows;
  double inside_s = 0.0;
  for (const auto& row : read_csv(fs::path(out) / "eval_windows.csv")) {
    const double started = std::stod(row.at("started_s")), finished = std::min(std::stod(row.at("finished_s")), train);
    ASSERT_GE(std::stod(row.at("started_s")), std::stod(row.at("time_s")));
    if (finished <= started) continue;  // the final evaluation, after the workers stopped
    windows.emplace_back(started, finished);
    inside_s += finished - started;
  }
  ASSERT_GE(windows.size(), 2u) << cmd.output;
  int inside = 0, outside = 0;
  double previous = -1.0;
  for (const auto& row : read_csv(fs::path(out) / "events.csv")) {
    if (row.at("action") == "interrupt") continue;
    const double t = std::stod(row.at("time_s"));
    const bool in = std::any_of(windows.begin(), windows.end(), [&](const auto& w) { return w.first <= t && t <= w.second; });
    (in ? inside : outside) += 1;
    previous = t;
  }
  ASSERT_GT(previous, 0.0);
  const double rate_in = inside / inside_s, rate_out = outside / std::max(train - inside_s, 1e-9);
  EXPECT_GE(inside, 3) << "inside " << inside_s << " s of evaluation windows";
  EXPECT_GE(rate_in, 0.1 * rate_out) << inside << " arrivals in " << inside_s << " s, " << outside << " outside";
  // eval.csv stays in time order, its last row being the final evaluation.
  const auto eval = read_csv(fs::path(out) / "eval.csv");
  for (std::size_t i = 1; i < eval.size(); ++i)
    EXPECT_LE(std::stod(eval[i - 1].at("time_s")), std::stod(eval[i].at("time_s")));
  EXPECT_NEAR(std::stod(eval.back().at("loss")), summary["final_loss"].get<double>(),
              1e-6 * summary["final_loss"].get<double>());
}

// docs/method.md §1 "Memory": the server holds one point buffer per version in flight, shared by every worker
// it goes to, and receives gradients one at a time into one buffer. Under sync every worker is sent the
// same version at once, and version k − 1 has reached every worker before version k is made (each
// gradient of round k − 1 was computed at it): one version in flight, two buffers at most while the
// last delivery of the previous one is noticed. A buffer per worker, as before, would be 2n = 16 point
// and n = 8 gradient buffers. The 64×64 quadratic's points (16 KB) are above the eager limit, so their
// sends complete only once each worker has received them.
TEST(MpiEngine, ServerHoldsOnePointBufferPerVersionInFlight) {
  TempDir dir("memory");
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(9, "-c " + small_config(dir) +
                                        " --set run.method=\"sync\" --set objective.rows=64 --set objective.cols=64"
                                        " --set heterogeneity.base_s=0.002 --set run.time_budget_s=3 --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  ASSERT_TRUE(summary.contains("memory")) << summary.dump();
  const auto& memory = summary["memory"];
  EXPECT_GE(summary["updates"].get<int>(), 20) << cmd.output;
  EXPECT_EQ(memory["point_bytes"].get<double>(), 16448.0);  // (16 + 4·4096) bytes padded to 64-byte units
  EXPECT_GE(memory["point_buffers"].get<int>(), 1);
  EXPECT_LE(memory["point_buffers"].get<int>(), 2);
  EXPECT_EQ(memory["gradient_buffers"].get<int>(), 1);
  ASSERT_EQ(memory["worker_peak_rss_bytes"].size(), 8u);
  for (const auto& rss : memory["worker_peak_rss_bytes"]) EXPECT_GT(rss.get<double>(), 1e6);
  EXPECT_GT(memory["server_peak_rss_bytes"].get<double>(), 1e6);
}

TEST(MpiEngine, RefusesFewerThanTwoRanks) {
  TempDir dir("ranks");
  const Command cmd = run(mpirun(1, "-c " + small_config(dir) + " --out " + (dir / "run")));
  EXPECT_EQ(cmd.exit_code, 2) << cmd.output;
  EXPECT_NE(cmd.output.find("at least 2 MPI ranks"), std::string::npos) << cmd.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

// Bad input is found on every rank before any run directory exists; all ranks exit 2.
TEST(MpiEngine, BadConfigsExitTwoNamingTheKeyAndLeaveNoRunDirectory) {
  TempDir dir("bad");
  const std::string config = small_config(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"method.threshold=0", "method.threshold"},
      {"method.stepsize=0.0", "method.stepsize"},
      {"method.momentum=1.0", "method.momentum"},
      {"heterogeneity.base_s=-1.0", "heterogeneity.base_s"},
      {"heterogeneity.profile=\"list\" --set heterogeneity.list=[1.0,2.0,3.0]", "heterogeneity.list"},
      {"run.no_such_key=1", "run.no_such_key"},
      {"method.threshold=\"four\"", "method.threshold"},
  };
  for (const auto& [override_, key] : cases) {
    const std::string out = dir / "run";
    const Command cmd = run(mpirun(3, "-c " + config + " --set " + override_ + " --out " + out));
    EXPECT_EQ(cmd.exit_code, 2) << override_ << "\n" << cmd.output;
    EXPECT_NE(cmd.output.find(key), std::string::npos) << override_ << "\n" << cmd.output;
    EXPECT_FALSE(fs::exists(out)) << override_;
  }
  // From a file: the error names the file and line.
  write_file(dir / "bad.toml", "[run]\nseed = 1\n[method]\nthreshold = 0\n");
  const Command cmd = run(mpirun(3, "-c " + (dir / "bad.toml") + " --out " + (dir / "run")));
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_NE(cmd.output.find("bad.toml:4"), std::string::npos) << cmd.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

TEST(MpiEngine, RefusesToOverwriteARunDirectory) {
  TempDir dir("overwrite");
  const std::string out = dir / "run";
  fs::create_directories(out);
  write_file(fs::path(out) / "keep.txt", "precious");
  const Command cmd = run(mpirun(3, "-c " + small_config(dir) + " --set run.time_budget_s=0.5 --out " + out));
  EXPECT_EQ(cmd.exit_code, 2) << cmd.output;
  EXPECT_NE(cmd.output.find("--force"), std::string::npos) << cmd.output;
  EXPECT_FALSE(fs::exists(fs::path(out) / "summary.json"));
}

}  // namespace
}  // namespace ringmaster
