// Updates whose LMOs run on several threads but reach x one by one, in order (the simulator's
// `sim.threads`). Why this is possible: update k is x_{k+1} = x_k + γ_k · lmo(u_k), and the LMO input u_k
// (the momentum, docs/method.md §3) depends only on the gradients that arrived, never on x. So the LMO of update
// k + 1 can start while update k's is still running; only x itself must be advanced in order, and only
// when someone needs it (a gradient at x_v, an evaluation). Every LMO runs single-threaded in its own
// workspaces, so the result is bit-identical to computing the updates one after another, whatever the
// number of threads or the order they finish in.
//
// Threads: the owner (the thread that submits and settles) is lane 0 and the only one that touches x;
// lanes 1..n−1 are helper threads that only compute directions. The owner, when it needs an update
// that is still being computed, computes a queued one itself instead of idling. Waits spin briefly
// (kSpin) and then sleep on a condition variable: waking a sleeping thread costs tens of microseconds
// here, as much as a whole 64×64 LMO, so a helper that slept between updates would leave the owner
// computing nearly all of them itself; a helper with no work for longer than kSpin costs no CPU.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "ringmaster/optimizer.hpp"
#include "ringmaster/update_executor.hpp"

namespace ringmaster {

class UpdatePipeline {
 public:
  // Called by the owner each time x has become version `version` (after an update was applied).
  using OnApplied = std::function<void(std::int64_t version, std::span<const float> x)>;

  // x is version `version` now; `lanes` ≥ 2 threads in all (the owner included) compute directions.
  // OpenBLAS must be single-threaded (openblas_set_num_threads(1)): the lanes are the parallelism.
  UpdatePipeline(const LmoOptimizer& optimizer, std::span<float> x, std::int64_t version, int lanes,
                 OnApplied on_applied);
  ~UpdatePipeline();
  UpdatePipeline(const UpdatePipeline&) = delete;
  UpdatePipeline& operator=(const UpdatePipeline&) = delete;

  // The LMO input buffer (layout.size) of the next update: fill it, then submit(). Waits (computing
  // queued directions) while every slot is taken.
  std::span<float> input();
  // Queues the update whose input was just written, with stepsize γ: it will make version submitted().
  void submit(double stepsize);
  // Applies updates in order until x is version `version` (≤ submitted()). Rethrows an exception an
  // LMO raised on a helper.
  void settle(std::int64_t version);
  // The caller has just updated x itself (an update without an LMO, e.g. x − γg), with nothing
  // queued: x is one version further.
  void advance();

  std::int64_t applied() const { return applied_; }  // x is this version
  // The version x will be once everything queued is applied.
  std::int64_t submitted() const { return submitted_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::vector<float> u;  // (layout.size) LMO input
    std::vector<float> d;  // (layout.size) lmo(u)
    double stepsize = 0.0;
    std::atomic<bool> done{false};  // d is ready (release by the lane that computed it)
    std::exception_ptr error;
  };
  static constexpr std::chrono::microseconds kSpin{100};

  Slot& slot(std::int64_t version) { return slots_[static_cast<std::size_t>(version % std::ssize(slots_))]; }
  // Claims the oldest queued update not yet being computed; false if there is none.
  bool claim(std::int64_t& version);
  // Computes the direction of the update that makes `version` on a lane's workspaces, then marks it done.
  void compute(std::int64_t version, Workspaces& workspaces);
  // The owner's wait for the update making `version`: computes queued updates meanwhile.
  void wait_done(std::int64_t version);
  void helper(std::stop_token stop, int lane);

  const LmoOptimizer& optimizer_;
  std::span<float> x_;  // (layout.size) the parameters, owned by the caller
  OnApplied on_applied_;
  std::vector<Slot> slots_;  // ring: the update making version v uses slots_[v % size]
  std::vector<Workspaces> workspaces_;  // one set per lane
  // Versions: x is applied_; the updates up to claimed_ are computed or being computed; up to
  // submitted_ are queued. applied_ ≤ claimed_ ≤ submitted_ ≤ applied_ + slots.
  std::int64_t applied_;                  // owner only
  std::atomic<std::int64_t> claimed_;
  std::atomic<std::int64_t> submitted_;   // written by the owner only
  // Sleeping (after kSpin without anything to do): each side announces it before it checks one last
  // time under mutex_, and the other side notifies only when someone announced; the seq_cst order of
  // the announcement and the check is what makes a lost wake-up impossible.
  std::mutex mutex_;
  std::condition_variable_any work_;  // helpers: an update was queued, or stop
  std::condition_variable done_;      // owner: a direction is ready
  std::atomic<int> sleeping_helpers_{0};
  std::atomic<bool> owner_sleeping_{false};
  std::vector<std::jthread> helpers_;
};

// The Server's executor that runs its LMO steps through an UpdatePipeline of `lanes` threads (the
// simulator, sim.threads): x() is then version settled(), which may lag k(), and `on_applied` sees every
// version x passes through. lanes < 2: immediate_updates().
UpdateExecutorFactory pipelined_updates(int lanes, UpdatePipeline::OnApplied on_applied);

}  // namespace ringmaster
