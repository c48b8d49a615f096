// The sharded server under a real mpirun (docs/method.md §7 "Sharded server"): server.shards = S puts
// the server on ranks 0 … S − 1, each shard applying the leader's decisions to its own blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>

#include "ringmaster/checkpoint.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// Three independent 24×24 spectral blocks (objective.blocks = 3): S = 2 splits them X0 | X1..X2.
// method = "sync" with two workers: each round both workers compute at x_k with their own sample
// streams, and the round's sum is g_a + g_b in either arrival order — IEEE addition is commutative, so
// x after N updates does not depend on the order the gradients came in, and the runs must agree bit
// for bit whatever the number of shards (a shard's momentum, LMO and step are its blocks' own).
std::string sync_config(const TempDir& dir, std::int64_t updates) {
  return write_test_quadratic(dir / "sync.toml",
                              {{"run.method", "\"sync\""},
                               {"run.seed", "5"},
                               {"run.max_updates", std::to_string(updates)},
                               {"run.time_budget_s", "60.0"},
                               {"run.eval_every_s", "0.1"},
                               {"objective.blocks", "3"},
                               {"lmo.geometry", "\"spectral\""}});
}

Checkpoint checkpoint_of(const std::string& dir) { return read_checkpoint(fs::path(dir) / kCheckpointFile); }

// Two workers each time: 3 ranks with one server, 4 with two shards.
std::string train(int shards, const std::string& args) {
  return mpirun(shards + 2, args + " --set server.shards=" + std::to_string(shards));
}

TEST(ShardsMpi, TwoShardsReachTheSamePointAsOne) {
  TempDir dir("shards-same");
  const std::string config = sync_config(dir, 40);
  const std::string one = dir / "one", two = dir / "two";
  const Command a = run(train(1, "-c " + config + " --out " + one));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const Command b = run(train(2, "-c " + config + " --out " + two));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const Checkpoint x1 = checkpoint_of(one), x2 = checkpoint_of(two);
  ASSERT_EQ(x1.k, 40);
  ASSERT_EQ(x2.k, 40);
  ASSERT_EQ(x1.x.size(), 3u * 24 * 24);
  EXPECT_EQ(x1.x, x2.x);  // bit for bit (see sync_config)
  EXPECT_EQ(x1.m, x2.m);
  EXPECT_EQ(read_json(fs::path(one) / "summary.json")["final_loss"],
            read_json(fs::path(two) / "summary.json")["final_loss"]);
  EXPECT_EQ(read_json(fs::path(two) / "summary.json")["n_workers"], 2);
  // Evaluations gather the whole x from both shards: f(x0) is the same, and every row is at a version
  // the run passed through.
  const auto eval1 = read_csv(fs::path(one) / "eval.csv"), eval2 = read_csv(fs::path(two) / "eval.csv");
  ASSERT_GE(eval2.size(), 2u);
  EXPECT_EQ(eval1.front().at("loss"), eval2.front().at("loss"));
  EXPECT_EQ(eval2.back().at("k"), "40");
}

// The same on configs/gpt_tiny.toml (its 2-layer transformer: embedding, attention and MLP matrices,
// norms, head; the plan splits it wte..h.0.mlp.c_proj | h.1.attn.c_q..lm_head), 6 sync updates.
TEST(ShardsMpi, GptTinyTheSameOnOneAndTwoShards) {
  TempDir dir("shards-gpt");
  const std::string args = "-c " + source_dir() + "/configs/gpt_tiny.toml --set run.method=sync --set run.max_updates=6"
                           " --set run.time_budget_s=120 --set run.eval_every_s=1000 --set run.seed=2 --out ";
  const std::string one = dir / "one", two = dir / "two";
  const Command a = run(train(1, args + one));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const Command b = run(train(2, args + two));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const Checkpoint x1 = checkpoint_of(one), x2 = checkpoint_of(two);
  ASSERT_EQ(x1.k, 6);
  ASSERT_EQ(x2.k, 6);
  EXPECT_EQ(x1.x, x2.x);
  EXPECT_EQ(x1.m, x2.m);
}

// An asynchronous method with interrupts (R = 1, slow workers interrupted over and over) on 4 workers
// and 2 shards: every follower agrees with every decision (it stops the job if not), and events.csv
// accounts for every update.
TEST(ShardsMpi, AsynchronousDecisionsAgreeOnEveryShard) {
  TempDir dir("shards-async");
  const std::string config = sync_config(dir, 0);
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(6, "-c " + config +
                                        " --set server.shards=2 --set run.method=\"ringmaster\" --set method.threshold=1"
                                        " --set heterogeneity.profile=\"linear\" --set run.time_budget_s=2 --out " +
                                        out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_EQ(cmd.output.find("disagrees"), std::string::npos) << cmd.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["n_workers"], 4);
  std::int64_t accepted = 0, interrupts = 0;
  for (const auto& row : read_csv(fs::path(out) / "events.csv")) {
    accepted += row.at("action") == "accept";
    interrupts += row.at("action") == "interrupt";
  }
  EXPECT_GT(accepted, 50);
  EXPECT_GT(interrupts, 0);
  EXPECT_EQ(summary["updates"].get<std::int64_t>(), accepted);  // ringmaster: one update per accept
  EXPECT_EQ(checkpoint_of(out).k, accepted);
  // Evaluations every 0.1 s beside serving (each gathers x from both shards): versions never go back.
  const auto eval = read_csv(fs::path(out) / "eval.csv");
  EXPECT_GE(eval.size(), 10u);
  std::int64_t last = -1;
  for (const auto& row : eval) {
    EXPECT_GE(std::stoll(row.at("k")), last);
    last = std::stoll(row.at("k"));
    EXPECT_TRUE(std::isfinite(std::stod(row.at("loss"))));
  }
}

// A worker whose gradients are all NaN: every shard rejects them (the worker's header says the whole
// gradient is not finite; a shard that accepted its slice would disagree and stop the job), and the
// worker is retired after fault.max_bad; x stays finite.
TEST(ShardsMpi, NonFiniteGradientRejectedOnEveryShard) {
  TempDir dir("shards-nan");
  const std::string config = sync_config(dir, 0);
  const std::string out = dir / "run";
  const Command cmd = run(mpirun(5, "-c " + config +
                                        " --set server.shards=2 --set run.method=\"ringmaster\" --set run.time_budget_s=1.5"
                                        " --set fault.inject=\"nan\" --set fault.inject_workers=[2] --out " + out));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  const auto workers = read_csv(fs::path(out) / "workers.csv");
  ASSERT_EQ(workers.size(), 3u);
  EXPECT_GE(std::stoi(workers[1].at("rejected")), 1);
  EXPECT_EQ(workers[1].at("accepted"), "0");
  EXPECT_EQ(workers[1].at("retired"), "1");
  EXPECT_GT(std::stoi(workers[0].at("accepted")), 10);
  for (float v : checkpoint_of(out).x) ASSERT_TRUE(std::isfinite(v));
}

// The other decisions about one worker reach every shard too: a truncated gradient message (malformed on
// the leader; the followers drain their slice and reject it alike), and a worker that hangs, retired for
// silence (fault.worker_timeout_s) by the leader's decision while the others go on.
TEST(ShardsMpi, MalformedAndSilentWorkersRetiredOnEveryShard) {
  TempDir dir("shards-faults");
  const std::string config = sync_config(dir, 0);
  const std::string base = " --set server.shards=2 --set run.method=\"ringmaster\" --set run.time_budget_s=2"
                           " --set fault.inject_workers=[2]";
  const std::string truncated = dir / "truncate", silent = dir / "hang";
  const Command a = run(mpirun(5, "-c " + config + base + " --set fault.inject=\"truncate\" --out " + truncated));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto workers = read_csv(fs::path(truncated) / "workers.csv");
  ASSERT_EQ(workers.size(), 3u);
  EXPECT_GE(std::stoi(workers[1].at("rejected")), 1);
  EXPECT_EQ(workers[1].at("retired"), "1");
  EXPECT_GT(std::stoi(workers[2].at("accepted")), 10);

  const Command b = run(mpirun(5, "-c " + config + base +
                                      " --set fault.inject=\"hang\" --set fault.worker_timeout_s=0.5 --out " + silent));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  workers = read_csv(fs::path(silent) / "workers.csv");
  EXPECT_EQ(workers[1].at("retired"), "1");
  EXPECT_GT(std::stoi(workers[0].at("accepted")), 10);
  EXPECT_EQ(b.output.find("disagrees"), std::string::npos) << b.output;
}

// Bad input stops every rank with exit 2 before a run directory exists.
TEST(ShardsMpi, MoreShardsThanBlocksOrRanksIsBadInput) {
  TempDir dir("shards-bad");
  const std::string config = sync_config(dir, 10);
  const std::string out = dir / "run";
  const Command blocks = run(mpirun(5, "-c " + config + " --set server.shards=4 --out " + out));
  EXPECT_EQ(blocks.exit_code, 2) << blocks.output;
  EXPECT_NE(blocks.output.find("server.shards"), std::string::npos) << blocks.output;
  EXPECT_NE(blocks.output.find("3 parameter blocks"), std::string::npos) << blocks.output;
  EXPECT_FALSE(fs::exists(out));
  const Command ranks = run(mpirun(2, "-c " + config + " --set server.shards=2 --out " + out));
  EXPECT_EQ(ranks.exit_code, 2) << ranks.output;
  EXPECT_NE(ranks.output.find("server.shards"), std::string::npos) << ranks.output;
  EXPECT_NE(ranks.output.find("at least 3 MPI ranks"), std::string::npos) << ranks.output;
  EXPECT_FALSE(fs::exists(out));
}

// A checkpoint holds the whole model whatever S wrote it, and resumes with any S: written with S = 2 it
// resumes with S = 1 at the same x, and written with S = 1 it continues with S = 2 exactly as with S = 1
// (both resumed runs draw the same fresh streams: epoch 1).
TEST(ShardsMpi, CheckpointsResumeWithAnyNumberOfShards) {
  TempDir dir("shards-resume");
  const std::string config = sync_config(dir, 20);
  const std::string two = dir / "two", one = dir / "one";
  ASSERT_EQ(run(train(2, "-c " + config + " --out " + two)).exit_code, 0);
  ASSERT_EQ(run(train(1, "-c " + config + " --out " + one)).exit_code, 0);
  const Checkpoint written = checkpoint_of(two);
  EXPECT_EQ(written.x, checkpoint_of(one).x);

  // S = 2 → S = 1, already at max_updates: it restores, evaluates and writes the same x back.
  const Command back = run(train(1, "--resume " + two + " -c " + config));
  ASSERT_EQ(back.exit_code, 0) << back.output;
  const Checkpoint reread = checkpoint_of(two);
  EXPECT_EQ(reread.k, written.k);
  EXPECT_EQ(reread.x, written.x);
  EXPECT_EQ(reread.m, written.m);

  // S = 1 → S = 2 and S = 1 → S = 1, 20 updates more each, from copies of one checkpoint.
  const std::string a = dir / "a", b = dir / "b";
  fs::copy(one, a, fs::copy_options::recursive);
  fs::copy(one, b, fs::copy_options::recursive);
  const Command on_two = run(train(2, "--resume " + a + " -c " + config + " --set run.max_updates=40"));
  ASSERT_EQ(on_two.exit_code, 0) << on_two.output;
  const Command on_one = run(train(1, "--resume " + b + " -c " + config + " --set run.max_updates=40"));
  ASSERT_EQ(on_one.exit_code, 0) << on_one.output;
  const Checkpoint ca = checkpoint_of(a), cb = checkpoint_of(b);
  EXPECT_EQ(ca.k, 40);
  EXPECT_EQ(ca.x, cb.x);
  EXPECT_EQ(ca.m, cb.m);
  EXPECT_NE(ca.x, written.x);
}

// A job of 2 shards and 2 workers (4 ranks) on sync_config's three blocks under ringmaster, checkpointed
// every 0.25 s, in the background (`job`: mpirun's process group) with its output in `log`, once it has
// checkpointed some progress (`progress`: that k), with the pids of its ranks. Its destructor kills
// what is left of it, by pid (its own ranks, never another job's).
struct ShardedJob {
  ShardedJob(const TempDir& dir, const std::string& name, double budget_s)
      : out(dir / name), log(dir / (name + ".log")) {
    job = spawn(exec_mpirun(4, "-c " + sync_config(dir, 0) +
                                   " --set server.shards=2 --set run.method=ringmaster --set checkpoint.every_s=0.25"
                                   " --set run.time_budget_s=" + std::to_string(budget_s) + " --out " + out),
                log);
    progress = wait_for_progress(out);
    for (int r = 0; r < 4; ++r) ranks.push_back(rank_pid(out, r));
  }
  ~ShardedJob() {
    for (pid_t p : ranks)
      if (p > 0 && !ended(p)) kill(p, SIGKILL);
  }
  // Started: progress checkpointed, every rank found.
  bool started() const { return progress > 0 && std::all_of(ranks.begin(), ranks.end(), [](pid_t p) { return p > 0; }); }

  std::string out, log;
  pid_t job = 0;
  std::int64_t progress = -1;
  std::vector<pid_t> ranks;
};

// A signal on a follower shard stops the job like one on any other rank (docs/method.md §8 "Preemption, checkpoints and faults"): the leader
// hears of it, checkpoints, and every rank exits 3 — SIGTERM, and SIGHUP (a closed terminal) alike. The
// follower used to ignore both: the job ran to its budget and exited 0.
TEST(ShardsMpi, SignalOnAFollowerStopsTheJobWithACheckpoint) {
  for (const int signal : {SIGTERM, SIGHUP}) {
    SCOPED_TRACE(signal);
    TempDir dir("shards-signal-" + std::to_string(signal));
    const ShardedJob job(dir, "run", 60.0);
    ASSERT_TRUE(job.started()) << read_text(job.log);
    kill(job.ranks[1], signal);
    const int code = wait_exit_within(job.job, kHangGuardS);
    const std::string output = read_text(job.log);
    ASSERT_EQ(code, 3) << output;
    EXPECT_NE(output.find("rank 1 (server shard 1) received signal " + std::to_string(signal)), std::string::npos)
        << output;
    const auto summary = read_json(fs::path(job.out) / "summary.json");
    EXPECT_EQ(summary["stop_reason"], "signal");
    EXPECT_LT(summary["train_time_s"].get<double>(), 60.0);
    EXPECT_GE(checkpoint_of(job.out).k, job.progress);
  }
}

// A follower stopped for good (SIGSTOP, never continued): no worker can start without its slices, and
// no checkpoint can be written without them. The leader names it once it has been silent for 5 s —
// before, nothing was said until a gather had waited 60 s — and ends the job (exit 1) once it has been
// silent for 30 s, leaving the last checkpoint all shards wrote, which --resume continues. No rank is
// left running (mpirun itself may hang after the abort: end_of_job_with_stopped_rank, support.hpp).
TEST(ShardsMpi, StoppedFollowerIsNamedAndTheJobEndsResumable) {
  TempDir dir("shards-sigstop");
  const ShardedJob job(dir, "run", 300.0);
  ASSERT_TRUE(job.started()) << read_text(job.log);
  kill(job.ranks[1], SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  const auto since_stop = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count(); };
  // The warning is waited for while the leader is alive (the job may end first: then it never came).
  const std::string warning = "server shard 1 (rank 1) has taken none of its";
  double warned_after_s = -1.0;
  while (warned_after_s < 0.0 && !ended(job.ranks[0]) && since_stop() < 120.0) {
    if (read_text(job.log).find(warning) != std::string::npos) warned_after_s = since_stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const JobEnd end = end_of_job_with_stopped_rank(job.job, job.ranks);
  const std::string output = read_text(job.log);
  ASSERT_NE(output.find(warning), std::string::npos) << "no warning naming the stopped follower\n" << output;
  // Said at 5 s of silence; 30 s leaves room for a loaded machine and stays far from the old 60 s.
  EXPECT_GE(warned_after_s, 0.0) << output;
  EXPECT_LT(warned_after_s, 30.0) << output;
  ASSERT_TRUE(end.ranks_ended) << "the job hung: a rank is still running\n" << output;
  if (end.code != -1) {
    EXPECT_EQ(end.code, 1) << output;
  }
  // The whole command, as the job was started: its ranks under mpirun, the binary as it was named.
  EXPECT_NE(output.find("continue with: mpirun -np " + std::to_string(job.ranks.size()) + " " + testing::binary() +
                        " train --resume " + job.out),
            std::string::npos)
      << output;
  const Checkpoint left = checkpoint_of(job.out);  // throws if there is none, or it is damaged

  const Command resumed = run(train(2, "--resume " + job.out + " --set run.time_budget_s=2"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto summary = read_json(fs::path(job.out) / "summary.json");
  EXPECT_EQ(summary["epochs"], 2);
  EXPECT_GT(summary["updates"].get<std::int64_t>(), left.k);
}

// Every rank paused and continued (a suspended job: Ctrl-Z, Slurm's scontrol suspend) is not a follower
// lost: the leader does not count the time it was not running itself against the followers. The
// follower is paused half a second before the others, so that it has decisions waiting when the leader
// stops, and the leader continues half a second before the others (signals do not reach every rank at
// the same instant: on several nodes, far from it).
TEST(ShardsMpi, PausingEveryRankIsNotALostFollower) {
  TempDir dir("shards-pause");
  const ShardedJob job(dir, "run", 15.0);
  ASSERT_TRUE(job.started()) << read_text(job.log);
  kill(job.ranks[1], SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (pid_t p : job.ranks) kill(p, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(8));  // longer than the 5 s that name a silent follower
  kill(job.ranks[0], SIGCONT);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (pid_t p : job.ranks) kill(p, SIGCONT);
  const int code = wait_exit_within(job.job, kHangGuardS);
  const std::string output = read_text(job.log);
  ASSERT_EQ(code, 0) << output;
  EXPECT_EQ(output.find("has taken none"), std::string::npos) << output;
  EXPECT_EQ(read_json(fs::path(job.out) / "summary.json")["stop_reason"], "time_budget");
}

}  // namespace
}  // namespace ringmaster
