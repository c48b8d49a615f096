// The run directory (docs/method.md §8) and the run-level logic both engines share: evaluation schedule,
// stopping rule, progress lines, counters, summary. Engines call it; it never calls them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/evaluator.hpp"
#include "ringmaster/file_writer.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {

// How a run (or one epoch of a resumed run) ended, for summary.json.
// What an MPI run held in memory (summary.json "memory", docs/method.md §1 "Memory"); the simulator has none.
struct RunMemory {
  double point_bytes = 0.0;             // bytes(x): one point message, header and padding included
  std::int64_t point_buffers = 0;       // point buffers the server made: the most versions in flight at once
  std::int64_t gradient_buffers = 0;    // gradient receive buffers the server made
  double server_peak_rss_bytes = 0.0;   // rank 0's peak resident memory, final evaluation included
  std::vector<double> worker_peak_rss_bytes;  // rank i's at i − 1
};

struct RunTotals {
  double wall_time_s = 0.0;           // real seconds, all epochs
  double train_time_s = 0.0;          // training clock
  double server_busy_fraction = 0.0;  // share of the training clock the server spent serving
  double eval_time_s = 0.0;           // seconds spent evaluating, not charged to training
  std::string stop_reason;            // time_budget | max_updates | target_loss | diverged | signal | no_workers
  std::uint32_t epoch = 0;            // resumes so far
  std::optional<double> compute_s;    // virtual seconds charged per gradient (simulator, docs/method.md §7)
  // Virtual seconds charged per update (simulator with heterogeneity.server_update_s, §7): in
  // summary.json only when set, so runs without it write what they always wrote.
  std::optional<double> server_update_s;
  std::optional<RunMemory> memory;    // MPI only
};

// The optional columns of eval.csv (docs/method.md §8), fixed when the run directory is made:
// `accuracy` for classifiers, `train_loss` for learning objectives (training_examples() > 0).
struct EvalColumns {
  bool accuracy = false;
  bool train_loss = false;

  static EvalColumns of(const Objective& objective) {
    return {objective.reports_accuracy(), objective.training_examples() > 0};
  }
};

// eval.csv's header line and the line of one evaluation (docs/method.md §8), with the columns `columns` has:
// written by the Recorder, and printed by `ringmaster eval` (without train_loss), so that an evaluation of a
// run's final checkpoint prints the digits of its last eval.csv row.
std::string eval_header(EvalColumns columns);
std::string eval_row(EvalColumns columns, const EvalResult& result);

// When progress lines are due, in wall seconds since an epoch's start (docs/method.md §8 "Progress"): the
// first at min(kFirstProgressS, run.log_every_s), so that a run says early that it runs, then every
// log_every_s after it; none at all with log_every_s at its maximum, kMaxSeconds (the sweeps' run.log).
inline constexpr double kFirstProgressS = 2.0;
class ProgressClock {
 public:
  explicit ProgressClock(double every_s)
      : every_s_(every_s), next_s_(every_s >= kMaxSeconds ? every_s : std::min(kFirstProgressS, every_s)) {}
  // True when a line is due at `wall_s` (and then not again until the next one is).
  bool due(double wall_s);

 private:
  double every_s_;
  double next_s_;
};

class Recorder {
 public:
  // Writes config.toml and the CSV headers into the (created, locked) run directory. With `resume`,
  // the directory is an existing run's: each CSV file is cut back to the size the checkpoint recorded
  // and appended to, and config.toml is left as it is. Every file goes through file_writer.hpp.
  // `columns` says which optional eval.csv columns the objective has (EvalColumns::of).
  Recorder(const RunDir& run, const Config& config, std::string engine, int workers, EvalColumns columns,
           const RecorderState* resume = nullptr);
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& run_id() const { return run_id_; }

  // One events.csv row per arrival, plus one per interrupt in the outcome (run.log_interrupts = "rows")
  // or their number in the arrival's row ("counts"); one delays.csv row with the arrival's realized
  // compute and injected seconds (docs/method.md §5: realized draws are recorded).
  void arrival(double time_s, const Server& server, int worker, std::int64_t version, const Outcome& outcome,
               double loss, double compute_s, double injected_s);
  // An evaluation in two halves (docs/method.md §7): begin_evaluation, when the engine takes a snapshot
  // of x at training time `time_s` and version k, moves the schedule to the next grid point and hands
  // over the minibatch losses accepted since the previous snapshot (train_loss); the engine computes
  // the result (evaluate_snapshot, inline or on an Evaluator thread) and record_evaluation, on the
  // server thread, appends the eval.csv and eval_windows.csv rows and updates the best loss, the
  // targets and the divergence stop. Results are recorded in the order their snapshots were taken.
  EvalSnapshot begin_evaluation(double time_s, std::int64_t k);
  void record_evaluation(const EvalResult& result);

  // Which stop rule fired (empty while none has): no active worker left, the time budget, max_updates,
  // the target loss, or divergence (the evaluated loss is not finite).
  std::string stop_reason(double time_s, const Server& server) const;
  bool should_stop(double time_s, const Server& server) const { return !stop_reason(time_s, server).empty(); }
  // Next training-clock time at which an evaluation is due.
  double next_eval_s() const { return next_eval_s_; }
  // A progress line if due (ProgressClock): the training clock, the share of the budget spent (time budget
  // or max_updates, whichever is nearer) and the wall seconds left at this epoch's pace, k, the last
  // evaluated loss and the best, the accuracy for classifiers, accepted / discarded / interrupted,
  // updates/s. Nothing is evaluated for it.
  void progress(double wall_s, double time_s, const Server& server);
  // "loss=… (best …)" of the evaluations so far, and the accuracy's for classifiers: the last line's too.
  std::string losses_text() const;

  // Writes workers.csv and summary.json (after a final evaluate()) and closes the CSV files, every
  // write checked: a failure throws Error naming the file.
  void finish(const Server& server, const std::vector<WorkerTimes>& times, const RunTotals& totals);

  std::int64_t arrivals() const { return arrivals_; }

  // For a checkpoint: flushes and syncs the CSV files (whole rows), then returns the running bests,
  // targets and counts with the files' sizes. restore() also schedules an evaluation at `time_s`, the
  // training clock the run resumes at.
  RecorderState checkpoint();
  void restore(const RecorderState& state, double time_s);

 private:
  nlohmann::json time_to_target_json() const;
  // The share of the budget spent at training time time_s and k updates, in [0, 1].
  double budget_fraction(double time_s, std::int64_t k) const;
  // events.csv rows of the computations an update interrupted, at time_s and version k (rows mode).
  void interrupts(double time_s, std::int64_t k, const std::vector<Interrupt>& interrupted);

  std::filesystem::path dir_;
  std::string run_id_;
  Config config_;
  std::string engine_;
  int workers_;
  bool interrupt_rows_;  // run.log_interrupts = "rows": one events.csv row per interrupt (docs/method.md §8)
  CsvFile events_;  // docs/method.md §8
  CsvFile eval_;
  CsvFile delays_;  // realized delays (docs/method.md §5)
  CsvFile windows_;  // when each evaluation's computation ran (docs/method.md §8)
  EvalColumns columns_;
  TrainLossWindow train_;  // accepted minibatch losses since the last snapshot
  double next_eval_s_ = 0.0;
  ProgressClock progress_clock_;
  std::optional<std::pair<double, double>> progress_origin_;  // wall seconds and budget fraction at the first call
  double last_loss_ = 0.0;
  double initial_loss_ = -1.0;
  double best_loss_ = 0.0;
  std::optional<double> last_accuracy_, best_accuracy_;
  std::map<double, std::optional<double>> accuracy_;  // test accuracy ≥ key first reached (training clock)
  bool target_reached_ = false;
  bool diverged_ = false;
  std::int64_t eval_index_ = 0;  // evaluations fall on the grid eval_index_ · eval_every_s
  std::int64_t arrivals_ = 0;
  std::int64_t evaluations_ = 0;
  std::optional<double> time_to_target_;            // run.target_loss reached (training clock)
  std::map<double, std::optional<double>> relative_;  // (f − f*)/(f(x0) − f*) ≤ key reached
};

}  // namespace ringmaster
