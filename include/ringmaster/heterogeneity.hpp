// Heterogeneity model (docs/method.md §5): how long worker i (1-based) takes per gradient.
//   τ_i = base_s · s_i + noise,  s_i from the profile; noise ~ halfnormal | exponential | lognormal.
// additive: the worker sleeps τ_i on top of its real compute; multiplicative: it sleeps
// (s_i − 1) × its measured compute time. Draws come from per-worker streams of the run seed, so the
// k-th delay of worker i is the same whatever the scheduling, under MPI and in the simulator.
#pragma once

#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {

class DelayModel {
 public:
  // `epoch` > 0 (a resumed run) gives every worker fresh streams rather than replaying the first epoch's.
  DelayModel(const HeterogeneityConfig& config, int workers, std::uint64_t seed, std::uint32_t epoch = 0);

  // Slowdown factor s_i of worker i (1-based).
  double slowdown(int worker) const { return slowdown_[static_cast<std::size_t>(worker - 1)]; }
  bool multiplicative() const { return multiplicative_; }

  // Injected seconds for worker i's next gradient, given its measured compute seconds
  // (ignored in additive mode). Consumes worker i's stream (including outages). Always in
  // [0, kMaxSeconds]: a larger (or NaN) draw is clamped, with a warning the first time.
  double next_delay(int worker, double compute_s);

 private:
  HeterogeneityConfig config_;
  bool multiplicative_;
  std::vector<double> slowdown_;  // s_i, i = 1..n
  std::vector<Rng> rng_;          // one stream per worker
  bool clamped_ = false;          // a delay was clamped to kMaxSeconds (warned once)
};

}  // namespace ringmaster
