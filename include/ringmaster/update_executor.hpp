// How the Server's updates reach x (docs/method.md §3). The Server decides every update; an
// UpdateExecutor carries out its LMO steps. The engine chooses one: ImmediateUpdates applies each
// step at once (the unit tests); the MPI server's block-parallel executor (server.threads) applies each
// step at once too, with the LMOs of its blocks computed side by side on several threads; the
// simulator's pipelined executor (pipeline.hpp, sim.threads) computes the LMOs of consecutive updates on
// several threads and applies them to x in order when x is needed. Either way x passes through the same versions bit for bit, and the Server
// never sees a thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "ringmaster/optimizer.hpp"

namespace ringmaster {

class UpdateExecutor {
 public:
  virtual ~UpdateExecutor() = default;

  // One momentum + LMO step (docs/method.md §3): m is updated now; x reaches the next version now or
  // at a later settle().
  virtual void lmo_step(std::span<float> m, std::span<const float> g, double stepsize, double alpha) = 0;
  // Applies queued steps until x is version `version` (at most the last one stepped).
  virtual void settle(std::int64_t version) = 0;
  // The caller has just changed x itself (an update without an LMO, x − γg), with everything settled:
  // x is one version further.
  virtual void advance() = 0;
  // The version x is now.
  virtual std::int64_t applied() const = 0;
};

// Makes the executor of a server whose parameters x (layout.size) are version `version` now.
using UpdateExecutorFactory =
    std::function<std::unique_ptr<UpdateExecutor>(LmoOptimizer& optimizer, std::span<float> x, std::int64_t version)>;

// Every step applied at once (LmoOptimizer::step).
UpdateExecutorFactory immediate_updates();

// Below this many LMO flops per update (lmo_flops summed over the blocks) one thread does the update:
// waking a sleeping helper and handing it blocks costs more than it saves on smaller updates
// (docs/benchmarks.md, "The server's update on several cores").
inline constexpr double kMinParallelFlops = 2e6;

// Every step applied at once, its blocks' LMOs (and their x ← x + γ·lmo) on up to `threads` threads, the
// caller's included (a LaneTeam): blocks are independent and disjoint, and each block's LMO runs on one
// thread with one BLAS thread, so x and m are bit for bit those of immediate_updates() for any `threads`.
// Blocks are handed out longest first (lmo_flops). Fewer threads when the layout cannot use them: at
// most one per block, and one when an update's LMOs add up to fewer than `min_flops`. OpenBLAS must be
// single-threaded (openblas_set_num_threads(1)).
UpdateExecutorFactory block_parallel_updates(int threads, double min_flops = kMinParallelFlops);

// The threads block_parallel_updates(threads, min_flops) uses for `layout` under `options`.
int block_parallel_lanes(const ParamLayout& layout, const LmoOptions& options, int threads,
                         double min_flops = kMinParallelFlops);

// The cores this process may run on (its CPU affinity mask: what mpirun's binding, Slurm or taskset
// granted), at least 1.
int available_cores();

}  // namespace ringmaster
