// Heterogeneity model (docs/method.md §5): how long worker i (1-based) takes per gradient.
//   τ_i = base_s · s_i + noise,  s_i from the profile; noise ~ halfnormal | exponential | lognormal.
// additive: the worker sleeps τ_i on top of its real compute; multiplicative: it sleeps
// (s_i − 1) × its compute time. Draws come from per-worker streams of the run seed, so the k-th delay
// of worker i is the same whatever the scheduling, under MPI and in the simulator.
#pragma once

#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {

// One worker's delays: WorkerModel (worker_model.hpp) holds one per worker, in both engines.
class DelayModel {
 public:
  // Worker `worker` (1-based) of `workers`. `epoch` > 0 (a resumed run) gives fresh streams rather than
  // replaying the first epoch's.
  DelayModel(const HeterogeneityConfig& config, int worker, int workers, std::uint64_t seed, std::uint32_t epoch = 0);

  // Slowdown factor s_i of this worker.
  double slowdown() const { return slowdown_; }
  bool multiplicative() const { return multiplicative_; }

  // Injected seconds for the worker's next gradient, given its compute seconds (the base of the
  // multiplicative mode; in additive mode only outages see it). Consumes the worker's stream
  // (including outages). Always in [0, kMaxSeconds]: a larger (or NaN) draw is clamped, with a warning
  // the first time in the process.
  double next_delay(double compute_s);

 private:
  enum class Noise { none, halfnormal, exponential, lognormal };
  // The scalars of HeterogeneityConfig this worker needs (not the config itself: a profile list holds
  // one entry per worker, and the simulator keeps a model per worker).
  int worker_;
  bool multiplicative_;
  double slowdown_;  // s_i
  double base_s_;
  Noise noise_;
  double noise_scale_;
  double outage_rate_, outage_s_;
  Rng rng_;          // this worker's stream
};

}  // namespace ringmaster
