// What a run does, whichever engine runs it (docs/method.md §4 "Faults", §7, §8; the ps-lite split of
// STYLE.md: this is the application, the engines are the transport). A Run builds x0 and the Server
// (restored from the checkpoint on --resume), feeds the Server the arrivals an engine reports and
// records them, and owns the evaluation schedule, the stop rules, the silent-worker timeout, the
// per-worker time totals, the checkpoints and the summary.
//
// An engine supplies only a clock and a transport: it passes in the training time t of every call
// (virtual time in the simulator; MPI_Wtime less evaluation and checkpoint time under MPI, §7),
// delivers the points of every Outcome to its workers, and reports what comes back. The simulator
// (src/engine_sim.cpp) does it with an event queue, the MPI engine (src/mpi/) with messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/evaluator.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/server.hpp"
#include "ringmaster/shards.hpp"

namespace ringmaster {

// The whole model's state at one version, assembled from the server shards (docs/method.md §7
// "Sharded server"): x for evaluations, and m and the method's round sum for checkpoints.
struct WholeState {
  std::int64_t k = -1;
  bool with_state = false;  // m and sum are filled
  std::vector<float> x, m;  // (layout.size)
  MethodState method;       // sum: (layout.size) or empty
};

// The other shards of a sharded server, as the engine reaches them (src/mpi/server_loop.cpp): the Run's
// Server holds shard 0's blocks only, and an evaluation or a checkpoint needs the whole model.
class ShardPeers {
 public:
  virtual ~ShardPeers() = default;
  // The whole state at the Server's current version (shard 0's slices included), m and the sum too
  // when `with_state`. Blocks until every shard has answered (after a request in flight, if any).
  virtual const WholeState& gather(bool with_state) = 0;
  // The same for x without waiting (an evaluation beside serving): starts it; poll_gather() returns the
  // whole x once every shard's slice has landed, null before. The result lives until the next gather.
  virtual void start_gather() = 0;
  virtual const WholeState* poll_gather() = 0;
};

class Run {
 public:
  // `resume`: the checkpoint to continue from (null for a fresh run). `updates`: how the Server's LMO
  // steps reach x (update_executor.hpp). `command`: the command that resumes the run, for the log
  // (resume_command).
  // `shard`: with a sharded server, the plan; the Server then runs on shard 0's blocks (plan->layout(0))
  // and the rest of the model is reached through shard_with().
  Run(const Config& config, Objective& objective, Recorder& recorder, int workers, const Checkpoint* resume,
      std::string command, UpdateExecutorFactory updates = immediate_updates(), const ShardPlan* shard = nullptr);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Evaluations and checkpoints gather the whole model from `peers` (a sharded server's leader).
  void shard_with(ShardPeers& peers) { peers_ = &peers; }

  Server& server() { return server_; }
  const Server& server() const { return server_; }
  // 0 for a fresh run, the checkpoint's epoch + 1 after a resume: seeds fresh worker streams.
  std::uint32_t epoch() const { return epoch_; }
  // The training clock at which this epoch starts: 0, or the checkpoint's.
  double start_time_s() const { return start_time_s_; }

  // The start, at training time t = start_time_s(): evaluates x0 (or the resumed x) and hands every
  // worker its first point. Starts the wall clock of the epoch.
  const Outcome& start(double t);
  // A gradient from `worker` computed at `version` arrived at t (docs/method.md §2): the Server's
  // decision, recorded with the gradient's realized compute and injected seconds (events.csv,
  // delays.csv). The worker was heard from.
  const Outcome& on_gradient(double t, int worker, std::int64_t version, std::span<const float> g, double loss,
                             double compute_s, double injected_s, bool finite = true);
  // A message from `worker` that was not a gradient of the right length: rejected and recorded.
  const Outcome& on_malformed(double t, int worker);
  // The worker showed it is alive without a gradient (it acknowledged an interrupt).
  void heard(int worker, double t);

  // fault.worker_timeout_s (docs/method.md §4 "Faults"): the training time at which the first worker
  // that owes a gradient has been silent for the timeout (infinity when none, or no timeout).
  double next_silence_s() const;
  // Retires one worker silent for the timeout at t and returns the Server's outcome, or null if none is.
  const Outcome* retire_silent(double t);

  // The evaluation schedule (run.eval_every_s of training time, on a grid).
  double next_eval_s() const { return recorder_.next_eval_s(); }
  // From now on evaluations run on an Evaluator thread, beside serving (the MPI server, docs/method.md
  // §7): the objective then belongs to that thread. Without this call they run inline (the simulator,
  // whose clock is virtual).
  void evaluate_apart();
  // Evaluates the loss at the current x (settled first), at training time t: inline, or a snapshot of x
  // handed to the evaluator thread.
  void evaluate(double t);
  // Records the evaluations the evaluator thread has finished (none inline): a stop rule on the loss
  // (target, divergence) acts when its result lands. A sharded server's evaluation whose x was still
  // being gathered is handed to the evaluator once it has landed.
  void collect_evaluations();
  // Hands a sharded server's evaluation still being gathered to the evaluator, waiting for its x.
  void flush_evaluation();
  // Writes a checkpoint if checkpoint.every_s wall seconds have passed since the last one.
  void checkpoint_if_due(double t);
  // Writes a checkpoint of the state at training time t.
  void checkpoint(double t);
  // How to continue this run from its last checkpoint, for the messages that end it ("continue with:
  // ringmaster train --resume DIR (its checkpoint at k = …, t = … s)"), or that there is none.
  std::string resume_hint() const;

  // Which stop rule fired (empty while none has): a stop signal first, then Recorder::stop_reason.
  std::string stop_reason(double t) const;
  void progress(double t);

  // Per worker, busy and injected seconds, abandoned work included when the engine knows it; engines
  // add to them. times_at_start(): the checkpoint's (zero for a fresh run).
  std::vector<WorkerTimes>& times() { return times_; }
  const std::vector<WorkerTimes>& times_at_start() const { return times_at_start_; }

  // Wall seconds the server spent not serving, evaluating inline or checkpointing: not charged to a
  // wall training clock (§7). Evaluations on the evaluator thread are not among them.
  double overhead_s() const { return overhead_s_; }
  // Wall seconds since start().
  double wall_s() const;

  // The stop at training time t: evaluations in flight land, then the final evaluation on the final
  // parameters (final_loss, docs/method.md §8), on the calling thread.
  void stop(double t);
  // After stop() and whatever the engine does to stop its workers: the checkpoint and summary.json.
  // `compute_s`, `server_update_s`: the virtual seconds charged per gradient and per update (the
  // simulator, docs/method.md §7); `memory`: what the MPI engine held. Returns the exit code: kExitOk,
  // or kExitStopped after a signal.
  int finish(double t, const std::string& reason, double server_busy_fraction,
             std::optional<double> compute_s = std::nullopt, std::optional<double> server_update_s = std::nullopt,
             std::optional<RunMemory> memory = std::nullopt);

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }
  // Fresh points restart their workers' silence clocks; retirements for bad gradients are logged.
  const Outcome& after(const Outcome& outcome, double t);
  // The whole x at the Server's version (settled): the Server's, or gathered from the shards.
  std::span<const float> whole_x();

  const Config& config_;
  Objective& objective_;
  Recorder& recorder_;
  std::string command_;
  Server server_;
  ShardPeers* peers_ = nullptr;  // a sharded server's other shards, or null
  std::optional<EvalSnapshot> gathering_;  // an evaluation whose whole x is being gathered
  std::uint32_t epoch_ = 0;
  double start_time_s_ = 0.0;   // training clock at the start of this epoch
  double earlier_wall_s_ = 0.0; // wall seconds of earlier epochs
  std::chrono::steady_clock::time_point wall_begin_;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::optional<std::pair<std::int64_t, double>> checkpointed_;  // the last checkpoint's k and training time
  double overhead_s_ = 0.0;
  double eval_s_ = 0.0;                  // real seconds of inline evaluations
  EvalScratch scratch_;                  // inline evaluations' gradient and LMO workspaces
  std::unique_ptr<Evaluator> evaluator_; // after evaluate_apart()
  std::vector<WorkerTimes> times_;
  std::vector<WorkerTimes> times_at_start_;
  std::vector<double> last_heard_;  // per worker: training time of its last gradient, ack or fresh point
  std::vector<char> interrupted_;   // per worker: in the outcome after() is reading (all 0 between calls)
};

// --- what both engines share around a Run ---

// A fresh flag, or --resume DIR: the run directory (locked first: a second job resuming the same
// directory stops here, before anything is read) and its checkpoint, checked against this
// configuration, `workers` and the objective (its parameter count and its data's fingerprint). Throws
// Error (exit 2) naming what does not match, and how to match it under `engine` (check_resumable); warns
// once when the checkpoint is older than data fingerprints and the objective has data (docs/method.md §8).
//
// A run whose stop rules would fire at its first step under `config` (its time budget spent, its
// max_updates made, its target reached, or diverged) comes back with `finished` saying so: the engines
// log it and exit 0, leaving the directory as it is (no epoch, no files touched). A directory made by
// the other engine (provenance.json, or summary.json for older runs) is refused with an Error.
struct Resumed {
  RunDir dir;
  Checkpoint checkpoint;
  std::optional<std::string> finished;  // "the run already finished: …"
};
Resumed open_resumed(const std::string& dir, const Config& config, int workers, const Objective& objective,
                     ConfigFor engine);

// SIGTERM, SIGINT, SIGHUP and SIGUSR1 (Slurm's --signal=B:USR1@…, mpirun forwarding a Ctrl-C or a kill, a
// closed terminal) set a flag the engines poll (Run::stop_reason; under MPI a worker or a follower shard
// passes it on to rank 0): the run checkpoints and stops cleanly instead of dying mid-write, and exits
// kExitStopped.
void install_stop_signals();

// The command that resumes the run `request` started or continued in `dir`, as a shell reads it: under MPI
// (`ranks` > 0) `mpirun -np ranks PROGRAM train --resume DIR`, else `PROGRAM simulate --resume DIR`, with a
// resume's own -c and --set repeated. Run's resume hints carry it.
std::string resume_command(const RunRequest& request, const std::filesystem::path& dir, int ranks);
int stop_signal();  // the signal received, or 0

}  // namespace ringmaster
