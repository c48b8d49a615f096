// Evaluation of the full loss (docs/method.md §7, §8): what one eval.csv row reports, computed at a
// snapshot of x. Computing it (evaluate_snapshot: pure, one thread at a time per scratch) is apart from
// recording it (Recorder::record_evaluation, on the server thread), so that the MPI server can hand
// the computation to a background thread (Evaluator) and keep serving workers meanwhile, while the
// simulator computes inline through the same function (its clock is virtual: evaluation costs none).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "ringmaster/lmo.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/optimizer.hpp"

namespace ringmaster {

// The minibatch losses of the gradients accepted between two evaluation snapshots (eval.csv's
// train_loss, docs/method.md §8): a sum and a count, so that two windows merge (a snapshot replaced
// in the evaluator's queue hands its window to the one replacing it).
struct TrainLossWindow {
  double sum = 0.0;
  std::int64_t count = 0;

  void add(double loss) { sum += loss; ++count; }
  void merge(const TrainLossWindow& earlier) { sum += earlier.sum; count += earlier.count; }
  std::optional<double> mean() const {
    return count > 0 ? std::optional<double>(sum / static_cast<double>(count)) : std::nullopt;
  }
};

// What the server hands over: the training clock and version of a copy of x.
struct EvalSnapshot {
  double time_s = 0.0;           // training clock when the snapshot was taken (the row's time_s)
  std::int64_t k = 0;            // version of x
  TrainLossWindow train;         // accepted minibatch losses since the previous snapshot
};

// One evaluated snapshot: an eval.csv row plus when its computation ran (docs/method.md §8,
// eval_windows.csv).
struct EvalResult {
  EvalSnapshot snapshot;
  Evaluation evaluation;
  double grad_dual_norm = 0.0;   // NaN when the loss is not finite (diverged: no gradient is taken)
  double started_s = 0.0;        // training clock when the computation started
  double finished_s = 0.0;       // ... and when it finished
  double compute_s = 0.0;        // real seconds the computation took
};

// Scratch of one evaluating thread: the full gradient and the LMO workspaces its dual norm needs (the
// server's LmoOptimizer keeps its own for its steps; sharing them across threads would race).
class EvalScratch {
 public:
  EvalScratch(const ParamLayout& layout, const LmoOptions& options);
  std::vector<float> gradient;   // (layout.size)
  Workspaces workspaces;         // one per block
  const ParamLayout& layout;
};

// Evaluation and ‖∇f(x)‖_* (the stationarity measure, docs/method.md §3) at x. Touches only the
// objective and `scratch`: callable from any one thread at a time that owns both. Sets evaluation,
// grad_dual_norm and compute_s; the caller stamps started_s / finished_s on its clock.
EvalResult evaluate_snapshot(Objective& objective, EvalScratch& scratch, const EvalSnapshot& snapshot,
                             std::span<const float> x);

// Evaluates snapshots of x on a background thread, so the MPI server keeps serving workers meanwhile
// (docs/method.md §7). From construction until drain() returns, `objective` belongs to the thread: the
// caller must not touch it. Memory is bounded: one evaluation runs and at most one snapshot waits;
// a newer snapshot replaces the waiting one (its train-loss window is merged in; a warning is logged
// once), so when evaluations take longer than eval_every_s rows thin out but stay in time order.
// All members are called from one (the server's) thread.
class Evaluator {
 public:
  Evaluator(Objective& objective, const LmoOptions& options);
  ~Evaluator();  // abandons waiting work, waits for the running evaluation, joins
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Copies x and queues it. Its started_s / finished_s are stamped as snapshot.time_s plus the real
  // seconds it waited and ran (the training clock is wall time under MPI).
  void submit(const EvalSnapshot& snapshot, std::span<const float> x);
  // Finished evaluations, in submission order, without waiting. An exception thrown on the thread is
  // rethrown here (once).
  std::vector<EvalResult> poll();
  // Waits until every submitted snapshot is evaluated; returns the ones poll() has not. Rethrows as poll().
  std::vector<EvalResult> drain();
  // Real seconds spent evaluating on the thread so far.
  double busy_s() const;
  // Snapshots replaced in the queue before they were evaluated.
  std::int64_t replaced() const;
  // After drain(): evaluates on the calling thread (the final evaluation, docs/method.md §8), with
  // started_s = finished_s = snapshot.time_s.
  EvalResult evaluate_now(const EvalSnapshot& snapshot, std::span<const float> x);

 private:
  struct Job {
    EvalSnapshot snapshot;
    std::vector<float> x;        // (layout.size)
    double submitted_wall = 0.0;  // steady-clock seconds
  };
  void loop();
  std::vector<EvalResult> take_finished();  // under lock_

  Objective& objective_;
  EvalScratch scratch_;          // the thread's (and evaluate_now's after drain)
  mutable std::mutex lock_;
  std::condition_variable wake_;   // the thread: a job waits, or stop
  std::condition_variable idle_;   // drain(): nothing waits or runs
  std::optional<Job> waiting_;
  bool running_ = false;
  bool stop_ = false;
  std::vector<EvalResult> finished_;
  std::vector<std::vector<float>> spare_;  // x buffers for reuse: steady state allocates nothing
  std::exception_ptr failure_;
  double busy_s_ = 0.0;
  std::int64_t replaced_ = 0;
  bool warned_ = false;
  std::thread thread_;           // last: started once everything above exists
};

}  // namespace ringmaster
