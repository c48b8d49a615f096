// Trace replay (docs/method.md §5): the delays.csv an MPI run writes, given to the simulator as
// heterogeneity.trace, makes every simulated worker take the seconds that worker took under MPI.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// worker → its rows' seconds in file order: compute_s + injected_s of each delays.csv row.
std::map<int, std::vector<double>> seconds_per_worker(const fs::path& delays) {
  std::map<int, std::vector<double>> out;
  for (const auto& row : read_csv(delays))
    out[std::stoi(row.at("worker"))].push_back(std::stod(row.at("compute_s")) + std::stod(row.at("injected_s")));
  return out;
}

// `async` applies every gradient and interrupts nobody, so every computation an MPI worker started and
// finished is a delays.csv row, in order. The simulator replaying that file must give worker w the same
// sequence (cycling after its last row), and — with compute_s = 0 and no interrupts — deliver its k-th
// gradient at the sum of its first k times. Tolerances: delays.csv prints 6 decimals, so a row's sum of
// two printed fields is within 1e-6 of the replayed value, and the simulator prints that to 6 decimals
// again (2e-6 per row); arrival times are printed to 6 decimals after summing exact replayed values.
TEST(TraceReplay, SimulatorReplaysAnMpiRunsPerWorkerTimes) {
  TempDir dir("trace-replay");
  const std::string config = write_test_quadratic(
      dir.path() / "q.toml", {{"run.method", "\"async\""}, {"run.time_budget_s", "2.0"}, {"run.eval_every_s", "0.5"},
                              {"heterogeneity.noise", "\"halfnormal\""}, {"heterogeneity.noise_scale", "0.5"},
                              {"heterogeneity.base_s", "0.02"}});
  const std::string mpi = dir / "mpi";
  const Command train = run(mpirun(4, "-c " + config + " --out " + mpi));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const auto measured = seconds_per_worker(fs::path(mpi) / "delays.csv");
  ASSERT_EQ(measured.size(), 3u);

  const std::string sim = dir / "sim";
  const Command simulate = run(binary() + " simulate -c " + config + " --set run.workers=3 --set run.time_budget_s=5" +
                               " --set heterogeneity.profile=trace --set heterogeneity.trace=" + mpi +
                               "/delays.csv --out " + sim);
  ASSERT_EQ(simulate.exit_code, 0) << simulate.output;
  const auto replayed = seconds_per_worker(fs::path(sim) / "delays.csv");
  ASSERT_EQ(replayed.size(), 3u);
  for (const auto& [worker, times] : measured) {
    SCOPED_TRACE("worker " + std::to_string(worker));
    const std::vector<double>& got = replayed.at(worker);
    // 5 simulated seconds against ~2 measured: every worker runs through its rows at least twice.
    ASSERT_GT(got.size(), times.size());
    for (std::size_t k = 0; k < got.size(); ++k) ASSERT_NEAR(got[k], times[k % times.size()], 2e-6) << "row " << k;
  }
  // Arrival times: worker w's k-th gradient arrives at the sum of its first k replayed times.
  std::map<int, double> clock;
  std::map<int, std::size_t> count;
  for (const auto& row : read_csv(fs::path(sim) / "events.csv")) {
    if (row.at("action") == "interrupt") continue;
    const int worker = std::stoi(row.at("worker"));
    const std::vector<double>& times = measured.at(worker);
    clock[worker] += times[count[worker]++ % times.size()];
    ASSERT_NEAR(std::stod(row.at("time_s")), clock[worker], 1e-6 * static_cast<double>(count[worker]) + 1e-6)
        << "worker " << worker << " arrival " << count[worker];
  }
}

// Rows of workers the run does not have are replayed by nobody and kept by nobody: one row of worker 10^9
// made the loader allocate 10^9 per-worker lists ("out of memory", exit 1, nothing named), and such rows
// were ignored without a word. The run goes on and says so once, naming the file and the workers.
TEST(TraceReplay, RowsOfWorkersTheRunLacksAreSaidOnceAndCostNoMemory) {
  TempDir dir("trace-extra-workers");
  const std::string trace = dir / "trace.csv";
  write_file(trace, "worker,seconds\n1,0.1\n2,0.2\n1000000000,0.3\n7,0.4\n2,0.1\n");
  const std::string config = write_test_quadratic(
      dir.path() / "q.toml", {{"run.method", "\"async\""}, {"run.workers", "2"}, {"run.time_budget_s", "1.0"},
                              {"heterogeneity.profile", "\"trace\""}, {"heterogeneity.trace", "\"" + trace + "\""}});
  const Command result = run(binary() + " simulate -c " + config + " --out " + (dir / "run"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string said = trace + ": 2 rows of workers 7 to 1000000000 are not replayed: the run has 2 workers";
  const std::size_t first = result.output.find(said);
  EXPECT_NE(first, std::string::npos) << result.output;
  EXPECT_EQ(result.output.find(said, first + 1), std::string::npos) << "said more than once:\n" << result.output;
  EXPECT_EQ(seconds_per_worker(fs::path(dir / "run") / "delays.csv").size(), 2u);
}

}  // namespace
}  // namespace ringmaster
