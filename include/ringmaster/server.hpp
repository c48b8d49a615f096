// The Ringmaster server (docs/method.md §2, §4), independent of any engine: it owns x, the momentum m, the
// version counter k and each worker's version v_i, and turns each gradient arrival into an Outcome
// (accept / discard / superseded, which workers get the current point, which computations are
// abandoned). No MPI, no clock, no I/O: the MPI engine and the simulator both feed it arrivals.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/method.hpp"
#include "ringmaster/optimizer.hpp"
#include "ringmaster/update_executor.hpp"

namespace ringmaster {

// What became of an arrival (docs/method.md §8 events.csv), plus `rejected`: a malformed gradient (NaN/Inf, wrong
// length) that never touched the parameters.
enum class Action { accept, discard, superseded, interrupt, rejected };
std::string to_string(Action a);

// A computation the server told its worker to abandon (docs/method.md §4, stale = "interrupt"; rennala rounds).
struct Interrupt {
  int worker;
  std::int64_t version;  // the version it was computing at
};

// What one arrival did. Reused between arrivals: the vectors keep their capacity.
struct Outcome {
  Action action = Action::accept;
  std::int64_t delay = 0;               // δ = k − v_i at arrival (before any update)
  bool updated = false;                 // an update was applied: k advanced by one
  std::vector<int> assign;              // workers (1-based) that now get the current (x, k)
  std::vector<Interrupt> interrupted;   // abandoned computations; their workers are also in `assign`
  std::vector<int> retired;             // workers that left for good and must be told to stop

  void clear() {
    action = Action::accept;
    delay = 0;
    updated = false;
    assign.clear();
    interrupted.clear();
    retired.clear();
  }
};

struct WorkerCounters {
  std::int64_t computed = 0;     // gradients that arrived (any action)
  std::int64_t accepted = 0;
  std::int64_t discarded = 0;
  std::int64_t superseded = 0;
  std::int64_t interrupted = 0;  // computations abandoned on the server's order
  std::int64_t rejected = 0;     // malformed gradients (NaN/Inf, wrong length)
};

class Server {
 public:
  // `updates` says how LMO steps reach x (update_executor.hpp): at once by default; the simulator
  // passes its pipelined executor.
  Server(const Config& config, const ParamLayout& layout, std::span<const float> x0, int workers,
         UpdateExecutorFactory updates = immediate_updates());
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Hands every worker the initial point (x0, 0).
  const Outcome& start();
  // A gradient g from worker (1-based) computed at `version` arrived. A gradient with a NaN or Inf is
  // rejected without touching x (the worker gets the current point again); `max_bad` in a row retire
  // the worker. `finite` = false rejects it whatever g holds: a server shard sees a slice of the
  // gradient, and the worker says whether the whole one is finite (docs/method.md §7 "Sharded server").
  const Outcome& on_gradient(int worker, std::int64_t version, std::span<const float> g, bool finite = true);
  // A message from worker that was not a gradient of the right length: rejected like a NaN gradient.
  const Outcome& on_malformed(int worker);
  // Worker leaves for good (faulty, or silent beyond fault.worker_timeout_s). The method may complete a
  // round without it (sync), so the outcome can hold an update and assignments.
  const Outcome& retire(int worker);
  // Resumes from a checkpoint's state: x, m, k, counters, the method's state; every worker restarts at k.
  void restore(std::int64_t k, std::span<const float> x, std::span<const float> m,
               const std::vector<WorkerCounters>& counters, const MethodState& method);

  // With an executor that defers updates (the simulator's), x is version settled(), which may lag
  // k(); settle(v) brings it to version v. With immediate updates settled() is always k().
  void settle(std::int64_t version) { executor_->settle(version); }
  std::int64_t settled() const { return executor_->applied(); }

  std::int64_t k() const { return k_; }
  int workers() const { return workers_; }
  // The parameters after k() updates. With deferred updates, settle(k()) first: reading x while
  // updates are queued is a bug, and throws.
  std::span<const float> x() const;
  std::span<const float> momentum() const { return m_; }
  std::int64_t version(int worker) const { return version_[index(worker)]; }
  bool computing(int worker) const { return computing_[index(worker)] != 0; }
  bool retired(int worker) const { return retired_[index(worker)] != 0; }
  int active_workers() const { return active_; }
  std::int64_t bad_in_a_row(int worker) const { return bad_in_a_row_[index(worker)]; }
  const WorkerCounters& counters(int worker) const { return counters_[index(worker)]; }
  const Method& method() const { return *method_; }
  const ParamLayout& layout() const { return optimizer_.layout(); }
  LmoOptimizer& optimizer() { return optimizer_; }

  // --- primitives the methods are written in (docs/method.md §3, §4) ---
  // One momentum + LMO step (docs/method.md §3); k advances.
  void lmo_step(std::span<const float> g, double stepsize, double alpha);
  // x ← x − γ g (Ringmaster ASGD); k advances.
  void sgd_step(std::span<const float> g, double stepsize);
  // Worker gets the current (x, k): v_i = k, it is computing.
  void assign(int worker);
  // Worker abandons its computation and gets the current (x, k).
  void interrupt(int worker);
  // Interrupts every computing worker j with k − v_j ≥ threshold (docs/method.md §4, stale = "interrupt"),
  // in ascending j. Visits the assignments that became stale, not every worker (assignments_).
  void interrupt_stale(std::int64_t threshold);
  // Worker waits without work until assigned (sync).
  void idle(int worker);
  // assign() for every worker that is still active.
  void assign_all();
  Outcome& outcome() { return outcome_; }

 private:
  std::size_t index(int worker) const { return static_cast<std::size_t>(worker - 1); }
  const Outcome& reject(int worker);
  void retire_into_outcome(int worker);
  // An assignment of worker (1-based) at `version`; `seq` numbers assignments in the order made.
  struct Assignment {
    int worker;
    std::int64_t version;
    std::uint64_t seq;
  };
  // The worker is still computing what this assignment handed it.
  bool in_force(const Assignment& a) const {
    return computing_[index(a.worker)] != 0 && latest_[index(a.worker)] == a.seq;
  }
  // Drops the assignments interrupt_stale has passed and those no longer in force: keeps the log
  // within 2n + 64 entries whatever the method (only interrupt_stale consumes it).
  void compact_assignments();

  int workers_;
  LmoOptimizer optimizer_;
  std::vector<float> x_;                 // (layout.size) parameters
  std::vector<float> m_;                 // (layout.size) momentum buffer
  std::int64_t k_ = 0;                   // updates applied
  std::vector<std::int64_t> version_;    // v_i, i = 1..n
  std::vector<char> computing_;          // worker i has a computation assigned
  // Every assignment since the last compaction, in the order made: versions never decrease along it,
  // so the stale ones are a prefix [assignments_head_, …) (docs/method.md §4, stale = "interrupt").
  std::vector<Assignment> assignments_;
  std::size_t assignments_head_ = 0;     // interrupt_stale has passed the entries before it
  std::uint64_t assigned_ = 0;           // assignments made: the next one's seq
  std::vector<std::uint64_t> latest_;    // per worker: seq of its latest assignment
  std::vector<std::uint64_t> stale_;     // (⌈n/64⌉) bit j − 1: worker j is to be interrupted (all 0 between calls)
  std::vector<char> retired_;            // worker i left for good
  std::vector<std::int64_t> bad_in_a_row_;
  int active_;                           // workers not retired
  int max_bad_;                          // fault.max_bad
  std::vector<WorkerCounters> counters_;
  std::unique_ptr<Method> method_;
  Outcome outcome_;
  UpdateExecutorFactory updates_;            // makes executor_ (again after a restore)
  std::unique_ptr<UpdateExecutor> executor_; // carries out lmo_step on x_
};

}  // namespace ringmaster
