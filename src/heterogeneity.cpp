#include "ringmaster/heterogeneity.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>

#include <spdlog/spdlog.h>

#include "ringmaster/error.hpp"

namespace ringmaster {

double profile_slowdown(const HeterogeneityConfig& c, int worker) {
  const double i = worker - 1 + c.profile_origin;
  switch (c.profile) {
    case Profile::uniform: return 1.0;
    case Profile::sqrt: return std::sqrt(i);
    case Profile::linear: return i;
    case Profile::power: return std::pow(i, c.power);  // pow(0, 0) = 1: i^0 is uniform at every origin
    case Profile::list: return c.list.at(static_cast<std::size_t>(worker - 1));
    case Profile::trace: break;
  }
  throw Error("heterogeneity.profile: no slowdown for profile \"trace\" (its seconds are the trace's)");
}

DelayModel::DelayModel(const HeterogeneityConfig& config, int worker, int workers, std::uint64_t seed,
                       std::uint32_t epoch)
    : worker_(worker),
      multiplicative_(config.mode == DelayMode::multiplicative),
      slowdown_(1.0),
      base_s_(config.base_s),
      offset_s_(config.offset_s),
      noise_(config.noise),
      noise_scale_(config.noise_scale),
      outage_rate_(config.outage_rate),
      outage_s_(config.outage_s),
      rng_(seed, Stream::delays, worker_stream(worker, epoch)) {
  if (config.profile == Profile::list && config.list.size() != static_cast<std::size_t>(workers))
    throw Error("heterogeneity.list: has " + std::to_string(config.list.size()) + " entries but there are " +
                std::to_string(workers) + " workers");
  if (config.profile == Profile::trace) {
    // load_config loaded the file and checked that it has rows for every worker (DelayTrace::load).
    trace_ = config.trace_times.trace;
    if (trace_ == nullptr || trace_->workers() < worker || trace_->times(worker).empty())
      throw Error("heterogeneity.trace: no rows for worker " + std::to_string(worker) + " in " + config.trace);
    return;
  }
  slowdown_ = profile_slowdown(config, worker);
  // The noise grows with the worker's index rather than with its delay: c · (i + 1)^q seconds.
  if (!config.noise_relative)
    noise_seconds_ = config.noise_scale * std::pow(worker + config.profile_origin, config.noise_growth);
}

double DelayModel::next_delay(double compute_s) {
  Rng& rng = rng_;
  double delay = 0.0;
  if (trace_ != nullptr) {
    // Trace replay (docs/method.md §5): this worker's rows in file order, from the first again after
    // the last.
    const std::vector<double>& times = trace_->times(worker_);
    delay = times[next_row_];
    next_row_ = (next_row_ + 1) % times.size();
  } else {
    const double s = slowdown_;
    // The deterministic part and the scale the noise is relative to (docs/method.md §5).
    const double base = multiplicative_ ? s * compute_s : base_s_ * s;
    delay = offset_s_ + (multiplicative_ ? (s - 1.0) * compute_s : base);
    const double c = noise_scale_;
    const double scale = noise_seconds_ ? *noise_seconds_ : c * base;
    if (noise_ == DelayNoise::halfnormal) {
      delay += std::abs(scale * rng.normal());  // |N(0, scale²)|
    } else if (noise_ == DelayNoise::exponential) {
      delay += scale * rng.exponential();  // mean scale
    } else if (noise_ == DelayNoise::lognormal) {
      // base · (exp(cZ − c²/2) − 1): mean zero, and base + noise > 0 always (relative noise only).
      delay += base * (std::exp(c * rng.normal() - 0.5 * c * c) - 1.0);
    }
  }
  if (outage_rate_ > 0.0 && outage_s_ > 0.0) {
    // Outages arrive as a Poisson process in busy time: each one silences the worker for outage_s.
    // std::poisson_distribution<int> never returns for a mean past INT_MAX (its rejection loop refuses
    // every candidate that does not fit): the count is drawn as int64, and past kMaxOutageMean its
    // relative spread (< 1e-4) is below anything a delay can show, so the mean is taken as the count.
    constexpr double kMaxOutageMean = 1e8;
    const double mean = outage_rate_ * std::max(delay + compute_s, 0.0);
    if (mean > kMaxOutageMean) {
      delay += outage_s_ * mean;
    } else if (mean > 0.0) {
      std::poisson_distribution<std::int64_t> outages(mean);
      delay += outage_s_ * static_cast<double>(outages(rng.engine()));
    }
  }
  // A finite delay of at most kMaxSeconds: a heavy-tailed draw or a long outage past it would only
  // overflow the clocks (an MPI worker's sleep, the simulator's event times), and a worker that slow never
  // reports within any accepted time budget anyway. Said once per process (the simulator runs every worker).
  if (!(delay <= kMaxSeconds)) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      spdlog::warn("heterogeneity: worker {} drew a delay of {:g} s; delays are clamped to {:g} s", worker_, delay,
                   kMaxSeconds);
    delay = kMaxSeconds;
  }
  return std::max(delay, 0.0);
}

}  // namespace ringmaster
