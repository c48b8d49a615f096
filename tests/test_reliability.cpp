// Reliability under a real mpirun: signals, resume, kill -9, bad gradients,
// faulty and silent workers, damaged checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <iterator>
#include <thread>
#include <vector>

#include <spdlog/fmt/fmt.h>

#include "ringmaster/checkpoint.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// The shared small quadratic (support.hpp) with more gradient noise and a checkpoint every 0.5 s.
std::string write_config(const TempDir& dir) {
  return write_test_quadratic(dir / "reliability.toml",
                              {{"run.seed", "11"}, {"run.time_budget_s", "8.0"}, {"run.eval_every_s", "0.5"},
                               {"objective.noise", "0.05"}, {"checkpoint.every_s", "0.5"}});
}

// Kills what is left of this test's job: rank processes whose command line names its run directory
// (never another run on the machine, nor the shell running pkill, whose command line starts with sh).
void kill_ranks(const std::string& out) { run("pkill -9 -f '^[^ ]*/ringmaster train.*" + out + "' ; sleep 0.2"); }

double final_loss(const std::string& out) { return read_json(fs::path(out) / "summary.json")["final_loss"].get<double>(); }

// A resumed run's events.csv (docs/method.md §8): across every cut k and time never go back, no row is
// torn, and summary.json's counts (after `epochs` epochs) equal the rows.
void expect_events_continue(const std::string& out, int epochs) {
  std::ifstream in(fs::path(out) / "events.csv");
  std::string line;
  std::getline(in, line);  // header
  std::int64_t last_k = -1, arrivals = 0, accepted = 0, interrupted = 0;
  double last_time = -1.0;
  int rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    ASSERT_EQ(std::count(line.begin(), line.end(), ','), 6) << "torn row " << rows << ": " << line;
    std::stringstream cells(line);
    std::string time, k, worker, version, delay, action;
    std::getline(cells, time, ',');
    std::getline(cells, k, ',');
    std::getline(cells, worker, ',');
    std::getline(cells, version, ',');
    std::getline(cells, delay, ',');
    std::getline(cells, action, ',');
    EXPECT_GE(std::stoll(k), last_k) << "row " << rows << ": " << line;
    EXPECT_GE(std::stod(time), last_time) << "row " << rows << ": " << line;
    last_k = std::stoll(k);
    last_time = std::stod(time);
    if (action != "interrupt") ++arrivals;
    if (action == "accept") ++accepted;
    if (action == "interrupt") ++interrupted;
  }
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["epochs"], epochs);
  EXPECT_EQ(summary["arrivals"].get<std::int64_t>(), arrivals);
  EXPECT_EQ(summary["accepted"].get<std::int64_t>(), accepted);
  EXPECT_EQ(summary["interrupted"].get<std::int64_t>(), interrupted);
}

// SIGUSR1 to mpirun midway (what Slurm's --signal=B:USR1 leads to): every rank checkpoints and exits 3;
// --resume continues k and the clock from the checkpoint; the final loss agrees with uninterrupted runs.
TEST(Reliability, SignalMidwayThenResumeMatchesUninterruptedRun) {
  TempDir dir("signal");
  const std::string config = write_config(dir);
  const std::string a = dir / "a", b = dir / "b", cut = dir / "cut";
  // Stopped by update count (not time), so the final loss does not depend on how loaded the machine is.
  const std::string stop = " --set run.max_updates=4000 --set run.time_budget_s=120";
  ASSERT_EQ(run(mpirun(5, "-c " + config + stop + " --out " + a)).exit_code, 0);
  ASSERT_EQ(run(mpirun(5, "-c " + config + stop + " --out " + b)).exit_code, 0);

  const pid_t job = spawn(exec_mpirun(5, "-c " + config + stop + " --out " + cut));
  // Midway by progress, not by a sleep that a loaded machine's slow start could outlast: signalled once a
  // checkpoint (every 0.5 s) shows training past 0.5 s, long before 4000 updates.
  ASSERT_TRUE(wait_for_checkpoint(cut, [](const Checkpoint& c) { return c.train_time_s > 0.5; }));
  kill(job, SIGUSR1);  // the shell exec'd mpirun, which forwards SIGUSR1 to every rank
  ASSERT_EQ(wait_exit(job), 3);
  const Checkpoint c = read_checkpoint(fs::path(cut) / kCheckpointFile);
  EXPECT_GT(c.k, 0);
  EXPECT_GT(c.train_time_s, 0.5);
  EXPECT_LT(c.k, 4000);
  EXPECT_EQ(read_json(fs::path(cut) / "summary.json")["stop_reason"], "signal");

  const Command resumed = run(mpirun(5, "--resume " + cut));  // DIR/config.toml carries the stop rule
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto summary = read_json(fs::path(cut) / "summary.json");
  EXPECT_EQ(summary["epochs"], 2);
  EXPECT_EQ(summary["stop_reason"], "max_updates");
  // The server checks the stop rules between batches of arrivals: a batch may finish a few past 4000.
  EXPECT_GE(summary["updates"].get<std::int64_t>(), 4000);
  EXPECT_LE(summary["updates"].get<std::int64_t>(), 4000 + 4);
  // eval.csv continues: versions never go back, and the first row after the cut is at the checkpoint.
  const auto eval = read_csv(fs::path(cut) / "eval.csv");
  std::int64_t last_k = -1;
  for (const auto& row : eval) {
    const std::int64_t k = std::stoll(row.at("k"));
    EXPECT_GE(k, last_k);
    last_k = k;
  }
  EXPECT_GT(summary["updates"].get<std::int64_t>(), c.k);
  // Run-to-run spread of the uninterrupted runs sets the tolerance (at least 25%: two runs are few).
  const double la = final_loss(a), lb = final_loss(b), mean = 0.5 * (la + lb);
  const double spread = std::max(3.0 * std::abs(la - lb) / mean, 0.25);
  EXPECT_NEAR(final_loss(cut), mean, spread * mean) << "uninterrupted " << la << ", " << lb;
}

// kill -9 of the whole job, again and again, while checkpoints are written every 20 ms: the checkpoint
// on disk always verifies, and resuming loses at most about one interval of training.
TEST(Reliability, KillNineNeverLeavesAHalfWrittenCheckpoint) {
  TempDir dir("kill9");
  const std::string config = write_config(dir);
  const std::string out = dir / "run";
  std::int64_t last_k = 0;
  for (int round = 0; round < 4; ++round) {
    const std::string args = round == 0 ? "-c " + config + " --set checkpoint.every_s=0.02 --out " + out
                                        : "--resume " + out + " -c " + config + " --set checkpoint.every_s=0.02";
    const pid_t job = spawn(exec_mpirun(4, args));
    // Killed once this round has checkpointed progress (at a moment unrelated to the 20 ms writes), not
    // after a fixed sleep that a loaded machine's slow start could outlast.
    wait_for_progress(out, last_k);
    kill(-job, SIGKILL);  // mpirun and, through the process group, every rank
    wait_exit(job);
    kill_ranks(out);
    const Checkpoint c = read_checkpoint(fs::path(out) / kCheckpointFile);  // throws if damaged
    EXPECT_GE(c.k, last_k) << "round " << round;
    EXPECT_GT(c.k, last_k) << "round " << round << ": no progress was checkpointed";
    last_k = c.k;
  }
  const Command done = run(mpirun(4, "--resume " + out + " -c " + config));
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_EQ(read_json(fs::path(out) / "summary.json")["epochs"], 5);
}

// A worker that sends NaN gradients is rejected max_bad times in a row, then retired; x never sees a
// NaN and the others go on training.
TEST(Reliability, NanGradientsAreRejectedAndTheWorkerRetired) {
  for (const char* kind : {"nan", "truncate", "oversize"}) {
    TempDir dir(std::string("fault-") + kind);
    const std::string out = dir / "run";
    const Command cmd = run(mpirun(5, "-c " + write_config(dir) + " --set fault.inject=" + kind +
                                          " --set fault.inject_workers=[2] --set fault.inject_after=5"
                                          " --set fault.max_bad=3 --set run.max_updates=1000 --set run.time_budget_s=60 --out " + out));
    ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
    EXPECT_NE(cmd.output.find("rank 2"), std::string::npos) << cmd.output;
    // A message of the wrong length (too short or too long) is named with both sizes, never fatal.
    if (std::string(kind) != "nan") {
      EXPECT_NE(cmd.output.find("rank 2 sent a gradient message of "), std::string::npos) << cmd.output;
    }
    const auto summary = read_json(fs::path(out) / "summary.json");
    EXPECT_EQ(summary["rejected"], 3) << kind;
    EXPECT_EQ(summary["retired"], 1) << kind;
    EXPECT_TRUE(std::isfinite(summary["final_loss"].get<double>()));
    // 1,000 updates bring the loss down ~7× without faults (whatever the machine's load): the retired
    // worker's bad gradients took nothing away.
    EXPECT_EQ(summary["stop_reason"], "max_updates") << kind;
    EXPECT_LT(summary["final_loss"].get<double>(), summary["initial_loss"].get<double>() / 4.0);
    const auto workers = read_csv(fs::path(out) / "workers.csv");
    EXPECT_EQ(workers[1].at("rejected"), "3");
    EXPECT_EQ(workers[1].at("retired"), "1");
    // Its 5 good gradients were treated like anyone's: accepted, discarded, or superseded when one
    // crossed an interrupt on the wire (timing). A bad one can be superseded too (that check comes
    // first) and is then followed by one more bad one: so 5 good + at least 3 bad arrivals, and every
    // arrival beyond 8 is a superseded one.
    const int computed = std::stoi(workers[1].at("computed"));
    const int accepted = std::stoi(workers[1].at("accepted"));
    const int discarded = std::stoi(workers[1].at("discarded"));
    const int superseded = std::stoi(workers[1].at("superseded"));
    EXPECT_GE(computed, 8);
    EXPECT_EQ(accepted + discarded + superseded + 3, computed);
    EXPECT_LE(accepted + discarded, 5);  // only good gradients get that far
    EXPECT_LE(computed - 8, superseded);
    EXPECT_GE(accepted, 1);
    EXPECT_GT(std::stoi(workers[0].at("accepted")), 50);
  }
}

// A worker that hangs blocks nothing: sync treats it as gone after fault.worker_timeout_s and goes on
// with the others; ringmaster never waits for it, and retires it too (its interrupts go unacknowledged).
TEST(Reliability, HungWorkerDoesNotBlockTraining) {
  for (const char* method : {"sync", "ringmaster"}) {
    TempDir dir(std::string("hang-") + method);
    const std::string out = dir / "run";
    const Command cmd = run(mpirun(5, "-c " + write_config(dir) + " --set run.method=" + method +
                                          " --set fault.inject=hang --set fault.inject_workers=[3]"
                                          " --set fault.inject_after=10 --set fault.worker_timeout_s=1.0"
                                          " --set run.time_budget_s=4 --out " + out));
    ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
    const auto summary = read_json(fs::path(out) / "summary.json");
    const auto workers = read_csv(fs::path(out) / "workers.csv");
    EXPECT_LE(std::stoi(workers[2].at("computed")), 10) << method;
    // Worker 1 (0.005 s per gradient) keeps contributing for the whole run: far more than the ~10 rounds
    // sync could finish before the hung worker stopped answering.
    EXPECT_GT(std::stoi(workers[0].at("accepted")), 100) << method << "\n" << cmd.output;
    EXPECT_EQ(summary["retired"], 1) << method;
    EXPECT_EQ(workers[2].at("retired"), "1") << method;
    EXPECT_NE(cmd.output.find("worker 3 silent"), std::string::npos) << method << "\n" << cmd.output;
  }
}

// The 64×64 quadratic: a point (16 KB) is above Open MPI's eager limit, so a send to a worker that
// does not receive cannot complete.
std::string write_big_config(const TempDir& dir) {
  return write_test_quadratic(dir / "big.toml", {{"run.seed", "5"}, {"objective.rows", "64"}, {"objective.cols", "64"},
                                                 {"checkpoint.every_s", "0.25"}, {"run.eval_every_s", "0.5"}});
}

// A SIGSTOPped worker freezes nothing: while it is stopped the other worker keeps training (the
// checkpoints show k advancing), the stopped one is retired after fault.worker_timeout_s, and after
// SIGCONT it takes its stop and the job ends normally.
TEST(Reliability, StoppedWorkerDoesNotFreezeTheServer) {
  TempDir dir("sigstop");
  const std::string out = dir / "run", log = dir / "log";
  const pid_t job = spawn(exec_mpirun(3, "-c " + write_big_config(dir) +
                                             " --set fault.worker_timeout_s=1.5 --set run.time_budget_s=14 --out " + out),
                          log);
  ASSERT_GT(wait_for_progress(out), 0) << read_text(log);
  const pid_t worker = rank_pid(out, 2);
  ASSERT_GT(worker, 0);
  kill(worker, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the server's interrupts reach it by now
  const std::int64_t k1 = checkpoint_k(out);
  // Worker 2 stays stopped until the server has retired it and worker 1 alone has made 20 more updates
  // (~0.2 s of its work): progress, not a rate over a fixed time. If neither comes, the job ends (its
  // 14 s budget, then the 10 s stop deadline for the stopped worker) and the wait with it.
  std::int64_t k2 = k1;
  const auto retired = [&] { return read_text(log).find("worker 2 silent") != std::string::npos; };
  const auto guard = std::chrono::steady_clock::now() + std::chrono::duration<double>(kHangGuardS);
  while (!ended(job) && (k2 - k1 < 20 || !retired()) && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    k2 = checkpoint_k(out);
  }
  kill(worker, SIGCONT);
  const int code = wait_exit_within(job, kHangGuardS);
  kill_ranks(out);
  const std::string output = read_text(log);
  EXPECT_GE(k2 - k1, 20) << "k did not advance while worker 2 was stopped\n" << output;
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("worker 2 silent"), std::string::npos) << output;
  const auto workers = read_csv(fs::path(out) / "workers.csv");
  EXPECT_EQ(workers[1].at("retired"), "1");
  EXPECT_EQ(workers[0].at("retired"), "0");
  EXPECT_EQ(read_json(fs::path(out) / "summary.json")["retired"], 1);
}

// A worker that is stopped and never resumes does not hang the job: at the end the server waits its
// deadline for the stop to be taken, checkpoints, and aborts (nonzero exit); every rank has ended
// within bounded time. mpirun itself may not (end_of_job_with_stopped_rank, support.hpp): the test then
// ends mpirun itself, and asserts everything else.
TEST(Reliability, WorkerThatNeverResumesEndsTheJob) {
  TempDir dir("sigstop-forever");
  const std::string out = dir / "run", log = dir / "log";
  const pid_t job = spawn(exec_mpirun(3, "-c " + write_big_config(dir) + " --set run.time_budget_s=5 --out " + out), log);
  ASSERT_GT(wait_for_progress(out), 0) << read_text(log);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 3; ++r) ranks.push_back(rank_pid(out, r));
  ASSERT_TRUE(std::all_of(ranks.begin(), ranks.end(), [](pid_t p) { return p > 0; }));
  kill(ranks[2], SIGSTOP);
  const std::int64_t at_stop = checkpoint_k(out);
  // budget 5 s + deadline 10 s + mpirun's kill sequence, on a loaded machine
  const JobEnd end = end_of_job_with_stopped_rank(job, ranks);
  kill_ranks(out);
  const std::string output = read_text(log);
  ASSERT_TRUE(end.ranks_ended) << "the job hung: a rank is still running\n" << output;
  if (end.code != -1) {
    EXPECT_NE(end.code, 0) << output;
  }
  EXPECT_NE(output.find("did not answer the stop"), std::string::npos) << output;
  const Checkpoint c = read_checkpoint(fs::path(out) / kCheckpointFile);  // throws if damaged
  EXPECT_GT(c.k, at_stop) << "no progress after the worker stopped";
}

// An MPMD launch whose ranks got different configurations is refused at start-up: exit 2, the
// differing rank named, no run directory.
TEST(Reliability, RanksWithDifferentConfigurationsAreRefused) {
  TempDir dir("mpmd");
  const std::string config = write_config(dir), out = dir / "run";
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 "
                             "timeout 120 mpirun --oversubscribe ";
  const std::string train = fmt::format(" {} train -c {} --out {}", binary(), config, out);
  const Command cmd = run(fmt::format("{} -np 2 {} : -np 1 {} --set method.stepsize=0.5", mpirun, train, train));
  EXPECT_EQ(cmd.exit_code, 2) << cmd.output;
  EXPECT_NE(cmd.output.find("rank(s) 2 were started with a different configuration"), std::string::npos) << cmd.output;
  EXPECT_FALSE(fs::exists(out));
  // Same arguments on every rank, written as MPMD: runs.
  const Command same = run(fmt::format("{} -np 2 {} --set run.time_budget_s=1 : -np 1 {} --set run.time_budget_s=1",
                                       mpirun, train, train));
  EXPECT_EQ(same.exit_code, 0) << same.output;
}

// Resuming from a damaged checkpoint, or with another experiment's config, is bad input: exit 2, and the
// run directory is left as it was.
TEST(Reliability, DamagedOrForeignCheckpointIsRefused) {
  TempDir dir("refuse");
  const std::string config = write_config(dir);
  const std::string out = dir / "run";
  ASSERT_EQ(run(mpirun(3, "-c " + config + " --set run.time_budget_s=1 --out " + out)).exit_code, 0);
  const std::string events = read_csv(fs::path(out) / "events.csv").empty() ? "" : "nonempty";

  Command foreign = run(mpirun(3, "--resume " + out + " -c " + config + " --set method.threshold=9"));
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_NE(foreign.output.find("different configuration"), std::string::npos) << foreign.output;

  const fs::path file = fs::path(out) / kCheckpointFile;
  fs::resize_file(file, fs::file_size(file) / 2);
  const auto before = fs::file_size(fs::path(out) / "events.csv");
  Command damaged = run(mpirun(3, "--resume " + out));
  EXPECT_EQ(damaged.exit_code, 2) << damaged.output;
  EXPECT_NE(damaged.output.find("truncated"), std::string::npos) << damaged.output;
  EXPECT_EQ(fs::file_size(fs::path(out) / "events.csv"), before);
}

// When a rank process dies, Open MPI aborts the whole job; the last periodic checkpoint survives and
// --resume continues from it.
TEST(Reliability, ResumeAfterARankDies) {
  TempDir dir("rankdies");
  const std::string config = write_config(dir);
  const std::string out = dir / "run";
  const pid_t job = spawn(exec_mpirun(4, "-c " + config + " --out " + out));
  ASSERT_GT(wait_for_progress(out), 0);  // a checkpoint to resume from, however slowly the job started
  run("pkill -9 -n -f '^[^ ]*/ringmaster train.*" + out + "'");  // this job's newest rank
  EXPECT_NE(wait_exit(job), 0);
  kill_ranks(out);
  const Checkpoint c = read_checkpoint(fs::path(out) / kCheckpointFile);
  EXPECT_GT(c.k, 0);
  const Command resumed = run(mpirun(4, "--resume " + out));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_GT(read_json(fs::path(out) / "summary.json")["updates"].get<std::int64_t>(), c.k);
}

}  // namespace
}  // namespace ringmaster

namespace ringmaster {
namespace {

// kill -9 of the whole job midway leaves rows written after the last checkpoint
// (the last perhaps torn); the resume cuts every CSV file back to what the checkpoint covers, so across
// the cut k and time never go back, no row is torn, and summary.json's counts equal the rows. A
// checkpoint copied from another run of the same configuration is refused, naming both run ids.
TEST(Reliability, ResumeAfterKillNineCutsTheCsvFilesBackToTheCheckpoint) {
  TempDir dir("kill9-csv");
  const std::string config = write_config(dir);
  const std::string out = dir / "run", other = dir / "other";
  const pid_t job = spawn(exec_mpirun(4, "-c " + config + " --set checkpoint.every_s=0.2 --out " + out));
  ASSERT_GT(wait_for_progress(out), 0);  // midway by progress, however slowly the job started
  kill(-job, SIGKILL);
  wait_exit(job);
  kill_ranks(out);
  const Checkpoint c = read_checkpoint(fs::path(out) / kCheckpointFile);
  ASSERT_GT(c.k, 0);

  // Another run of the same experiment: its checkpoint is valid, but not this directory's.
  ASSERT_EQ(run(mpirun(4, "-c " + config + " --set run.max_updates=50 --out " + other)).exit_code, 0);
  const fs::path mine = fs::path(out) / kCheckpointFile, saved = dir.path() / "saved.bin";
  fs::copy_file(mine, saved);
  fs::copy_file(fs::path(other) / kCheckpointFile, mine, fs::copy_options::overwrite_existing);
  const Command foreign = run(mpirun(4, "--resume " + out + " -c " + config));
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_NE(foreign.output.find(c.run_id), std::string::npos) << foreign.output;
  EXPECT_NE(foreign.output.find(read_checkpoint(fs::path(other) / kCheckpointFile).run_id), std::string::npos)
      << foreign.output;
  fs::copy_file(saved, mine, fs::copy_options::overwrite_existing);

  const Command resumed = run(mpirun(4, "--resume " + out + " -c " + config));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_events_continue(out, 2);
}

// --- the simulator: the same checkpoints, resume, signals and faults (docs/method.md §4 "Faults", §8) ---

std::string simulate(const std::string& args) {
  return "exec env ASAN_OPTIONS=detect_leaks=0 " + binary() + " simulate " + args;
}

// SIGTERM to the simulator mid-run: it checkpoints and exits 3; `simulate --resume` continues from the
// checkpoint (k and the virtual clock never go back, no torn row, counts equal the rows) to the end.
TEST(Reliability, SimulatorSigtermThenResumeReachesTheEnd) {
  TempDir dir("sim-signal");
  const std::string out = dir / "run";
  // ~10^5 arrivals of 48×32 LMOs: several seconds of wall time, checkpointed every 0.2 s.
  const std::string config = write_config(dir);
  const pid_t job = spawn(simulate("-c " + config + " --set run.workers=8 --set run.time_budget_s=150 "
                                   "--set objective.rows=48 --set objective.cols=32 --set checkpoint.every_s=0.2 "
                                   "--set run.eval_every_s=5 --set sim.threads=1 --out " + out));
  const std::int64_t progress = wait_for_progress(out);
  ASSERT_GT(progress, 20);
  kill(job, SIGTERM);
  ASSERT_EQ(wait_exit_within(job, kHangGuardS), 3);
  const Checkpoint c = read_checkpoint(fs::path(out) / kCheckpointFile);
  const auto stopped = read_json(fs::path(out) / "summary.json");
  ASSERT_EQ(stopped["stop_reason"], "signal");
  EXPECT_GE(c.k, progress);
  EXPECT_LT(c.train_time_s, 150.0);
  EXPECT_EQ(stopped["train_time_s"].get<double>(), c.train_time_s);

  const Command resumed = run("ASAN_OPTIONS=detect_leaks=0 " + binary() + " simulate --resume " + out);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["stop_reason"], "time_budget");
  EXPECT_DOUBLE_EQ(summary["train_time_s"].get<double>(), 150.0);
  EXPECT_GT(summary["updates"].get<std::int64_t>(), c.k);
  expect_events_continue(out, 2);
  // eval.csv and delays.csv: versions and times never go back; delays has a row per arrival.
  std::int64_t last_k = -1;
  double last_time = -1.0;
  for (const auto& row : read_csv(fs::path(out) / "eval.csv")) {
    EXPECT_GE(std::stoll(row.at("k")), last_k);
    EXPECT_GE(std::stod(row.at("time_s")), last_time);
    last_k = std::stoll(row.at("k"));
    last_time = std::stod(row.at("time_s"));
  }
  EXPECT_EQ(static_cast<std::int64_t>(read_csv(fs::path(out) / "delays.csv").size()),
            summary["arrivals"].get<std::int64_t>());
}

// A simulation whose counts can be derived by hand: 4 uniform, noise-free workers (0.01 s per gradient)
// for 1 s of virtual time.
std::string simulate_four_uniform_workers(const TempDir& dir) {
  return "ASAN_OPTIONS=detect_leaks=0 " + binary() + " simulate -c " + write_config(dir) +
         " --set run.workers=4 --set heterogeneity.profile=uniform --set heterogeneity.noise=none"
         " --set heterogeneity.base_s=0.01 --set run.time_budget_s=1";
}

// Fault injection in the simulator, counted by hand: 4 uniform workers, noise-free, async (nothing is
// interrupted). Worker 2 delivers inject_after = 5 good gradients, then bad ones: NaN → rejected,
// truncate/oversize → malformed, rejected; max_bad = 3 rejections in a row retire it. Exactly 3
// rejected, 1 retired, 5 accepted from worker 2.
TEST(Reliability, SimulatorFaultInjectionGivesTheDerivedCounts) {
  for (const char* kind : {"nan", "truncate", "oversize"}) {
    TempDir dir(std::string("sim-fault-") + kind);
    const std::string out = dir / "run";
    const Command cmd = run(simulate_four_uniform_workers(dir) + " --set run.method=async --set fault.inject=" + kind +
                            " --set fault.inject_workers=[2] --set fault.inject_after=5 --set fault.max_bad=3 --out " +
                            out);
    ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
    const auto summary = read_json(fs::path(out) / "summary.json");
    EXPECT_EQ(summary["rejected"], 3) << kind;
    EXPECT_EQ(summary["retired"], 1) << kind;
    const auto workers = read_csv(fs::path(out) / "workers.csv");
    EXPECT_EQ(workers[1].at("accepted"), "5") << kind;
    EXPECT_EQ(workers[1].at("rejected"), "3") << kind;
    EXPECT_EQ(workers[1].at("retired"), "1") << kind;
    EXPECT_EQ(workers[0].at("rejected"), "0") << kind;
    EXPECT_TRUE(std::isfinite(summary["final_loss"].get<double>()));
  }
}

// fault.inject = "hang" in the simulator: worker 2 delivers 5 gradients (at 0.01, ..., 0.05 s), is handed
// its 6th point at 0.05 s and never delivers again. With fault.worker_timeout_s = 0.5 it is retired at
// 0.05 + 0.5 = 0.55 s on the virtual clock; without a timeout it is never retired. Under sync the
// rounds stall until the retirement, then go on with 3 workers.
TEST(Reliability, SimulatorHungWorkerIsRetiredByTheTimeout) {
  TempDir dir("sim-hang");
  const std::string base = simulate_four_uniform_workers(dir) +
                           " --set fault.inject=hang --set fault.inject_workers=[2] --set fault.inject_after=5";
  for (const char* method : {"async", "sync"}) {
    const std::string out = dir / (std::string(method) + "-timeout");
    const Command cmd = run(base + " --set run.method=" + method + " --set fault.worker_timeout_s=0.5 --out " + out);
    ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
    const auto summary = read_json(fs::path(out) / "summary.json");
    EXPECT_EQ(summary["retired"], 1) << method;
    EXPECT_EQ(summary["rejected"], 0) << method;
    const auto workers = read_csv(fs::path(out) / "workers.csv");
    EXPECT_EQ(workers[1].at("computed"), "5") << method;
    EXPECT_EQ(workers[1].at("retired"), "1") << method;
    // The others go on after the retirement: worker 1 delivers ⌊1 / 0.01⌋ gradients under async; under
    // sync it waits from 0.06 to 0.55 s, so it delivers fewer than 100 but more than the 6 before.
    const int first = std::stoi(workers[0].at("computed"));
    if (std::string(method) == "async") {
      EXPECT_GE(first, 99);
    } else {
      EXPECT_GT(first, 6 + 40);
      EXPECT_LT(first, 60);
    }
  }
  const std::string out = dir / "no-timeout";
  const Command cmd = run(base + " --set run.method=async --out " + out);
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_EQ(read_json(fs::path(out) / "summary.json")["retired"], 0);
  EXPECT_EQ(read_csv(fs::path(out) / "workers.csv")[1].at("computed"), "5");
}

}  // namespace
}  // namespace ringmaster
