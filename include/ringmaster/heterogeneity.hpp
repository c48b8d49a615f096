// Heterogeneity model (docs/method.md §5): how long worker w (1-based) takes per gradient.
//   τ_w = offset_s + base_s · s_i + noise,  i = w − 1 + profile_origin,  s_i from the profile;
//   noise ~ halfnormal | exponential | lognormal, of scale c · base_s · s_i or c · (i + 1)^q.
// additive: the worker sleeps τ on top of its real compute; multiplicative: it sleeps
// (s_i − 1) × its compute time. profile = "trace" replays a file's per-worker seconds instead.
// Draws come from per-worker streams of the run seed, so the k-th delay of worker w is the same
// whatever the scheduling, under MPI and in the simulator.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {

// s_i of docs/method.md §5 for worker `worker` (1-based): the profile at i = worker − 1 + profile_origin
// (0^0 = 1), or the worker's list entry. Not defined for profile = "trace".
double profile_slowdown(const HeterogeneityConfig& config, int worker);

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
  // The scalars of HeterogeneityConfig this worker needs (not the config itself: a profile list holds
  // one entry per worker, and the simulator keeps a model per worker).
  int worker_;
  bool multiplicative_;
  double slowdown_;  // s_i
  double base_s_;
  double offset_s_;
  DelayNoise noise_;
  double noise_scale_;
  std::optional<double> noise_seconds_;  // c · (i + 1)^q when the noise does not scale with the delay
  double outage_rate_, outage_s_;
  // profile = "trace": the loaded trace (shared by every worker's model) and the next row to replay.
  std::shared_ptr<const DelayTrace> trace_;
  std::size_t next_row_ = 0;
  Rng rng_;          // this worker's stream
};

}  // namespace ringmaster
