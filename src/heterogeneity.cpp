#include "ringmaster/heterogeneity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include <spdlog/spdlog.h>

#include "ringmaster/error.hpp"

namespace ringmaster {
namespace {

// s_i of docs/method.md §5 for worker i = 1..n.
double profile_slowdown(const HeterogeneityConfig& c, int worker) {
  const double i = worker;
  if (c.profile == "uniform") return 1.0;
  if (c.profile == "sqrt") return std::sqrt(i);
  if (c.profile == "linear") return i;
  if (c.profile == "power") return std::pow(i, c.power);
  if (c.profile == "list") return c.list.at(static_cast<std::size_t>(worker - 1));
  throw Error("heterogeneity.profile: unknown profile '" + c.profile + "'");
}

}  // namespace

DelayModel::DelayModel(const HeterogeneityConfig& config, int workers, std::uint64_t seed, std::uint32_t epoch)
    : config_(config), multiplicative_(config.mode == "multiplicative") {
  if (config.profile == "list" && config.list.size() != static_cast<std::size_t>(workers))
    throw Error("heterogeneity.list: has " + std::to_string(config.list.size()) + " entries but there are " +
                std::to_string(workers) + " workers");
  slowdown_.reserve(static_cast<std::size_t>(workers));
  rng_.reserve(static_cast<std::size_t>(workers));
  for (int i = 1; i <= workers; ++i) {
    slowdown_.push_back(profile_slowdown(config, i));
    rng_.emplace_back(seed, Stream::delays, worker_stream(i, epoch));
  }
}

double DelayModel::next_delay(int worker, double compute_s) {
  const double s = slowdown(worker);
  Rng& rng = rng_[static_cast<std::size_t>(worker - 1)];
  // The deterministic part and the scale the noise is relative to (docs/method.md §5).
  const double base = multiplicative_ ? s * compute_s : config_.base_s * s;
  double delay = multiplicative_ ? (s - 1.0) * compute_s : base;
  const double c = config_.noise_scale;
  if (config_.noise == "halfnormal") {
    delay += std::abs(c * base * rng.normal());  // |N(0, (c·base)²)|
  } else if (config_.noise == "exponential") {
    delay += c * base * rng.exponential();  // mean c·base
  } else if (config_.noise == "lognormal") {
    // base · (exp(cZ − c²/2) − 1): mean zero, and base + noise > 0 always.
    delay += base * (std::exp(c * rng.normal() - 0.5 * c * c) - 1.0);
  }
  if (config_.outage_rate > 0.0 && config_.outage_s > 0.0) {
    // Outages arrive as a Poisson process in busy time: each one silences the worker for outage_s.
    // std::poisson_distribution<int> never returns for a mean past INT_MAX (its rejection loop refuses
    // every candidate that does not fit): the count is drawn as int64, and past kMaxOutageMean its
    // relative spread (< 1e-4) is below anything a delay can show, so the mean is taken as the count.
    constexpr double kMaxOutageMean = 1e8;
    const double mean = config_.outage_rate * std::max(delay + compute_s, 0.0);
    if (mean > kMaxOutageMean) {
      delay += config_.outage_s * mean;
    } else if (mean > 0.0) {
      std::poisson_distribution<std::int64_t> outages(mean);
      delay += config_.outage_s * static_cast<double>(outages(rng.engine()));
    }
  }
  // A finite delay of at most kMaxSeconds: a heavy-tailed draw or a long outage past it would only
  // overflow the clocks (an MPI worker's sleep, the simulator's event times), and a worker that slow never
  // reports within any accepted time budget anyway. Said once per run.
  if (!(delay <= kMaxSeconds)) {
    if (!clamped_)
      spdlog::warn("heterogeneity: worker {} drew a delay of {:g} s; delays are clamped to {:g} s", worker, delay,
                   kMaxSeconds);
    clamped_ = true;
    delay = kMaxSeconds;
  }
  return std::max(delay, 0.0);
}

}  // namespace ringmaster
