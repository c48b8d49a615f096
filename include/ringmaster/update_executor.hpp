// How the Server's updates reach x (docs/method.md §3). The Server decides every update; an
// UpdateExecutor carries out its LMO steps. The engine chooses one: ImmediateUpdates applies each
// step at once (the MPI engine, the unit tests); the simulator's pipelined executor (pipeline.hpp,
// sim.threads) computes the LMOs of consecutive updates on several threads and applies them to x in
// order when x is needed. Either way x passes through the same versions bit for bit, and the Server
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

}  // namespace ringmaster
