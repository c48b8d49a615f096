// The cross-checks of load_config (checks.hpp).
#include "config/checks.hpp"

#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <cstdio>

#include "ringmaster/heterogeneity.hpp"
#include "ringmaster/objective.hpp"

namespace ringmaster::config_reading {
namespace {

// --- Limits that keep a run making progress: every value accepted must give a run
// that advances and ends. Each follows from what the code does with the keys it names.

std::string sci(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

// s of the first and the last worker, docs/method.md §5 (every profile is monotone in i: power ≥ 0).
// A trace has no slowdown: its seconds are bounded by DelayTrace::load.
double slowdown_min(const HeterogeneityConfig& h) {
  if (h.profile == Profile::trace) return 1.0;
  if (h.profile == Profile::list) return h.list.empty() ? 1.0 : *std::min_element(h.list.begin(), h.list.end());
  return profile_slowdown(h, 1);
}
double slowdown_max(const HeterogeneityConfig& h, int workers) {
  if (h.profile == Profile::trace) return 1.0;
  if (h.profile == Profile::list) return h.list.empty() ? 1.0 : *std::max_element(h.list.begin(), h.list.end());
  return profile_slowdown(h, workers);
}

// How s_n was computed, for messages: the last worker's profile index is n − 1 + profile_origin.
std::string slowdown_text(const HeterogeneityConfig& h, int workers) {
  const std::string n = std::to_string(workers - 1 + h.profile_origin);
  if (h.profile == Profile::sqrt) return "sqrt(" + n + ")";
  if (h.profile == Profile::linear) return n;
  if (h.profile == Profile::power) return n + "^" + format_double(h.power);
  if (h.profile == Profile::list) return "max(heterogeneity.list)";
  return "1";
}

// The parameters of the quadratic (docs/method.md §6) are the big allocations: x, m, the arriving gradient, the
// workers' snapshots of x, the objective's B and X* (double) and its scratch, the LMO's workspace.
// Measured: about 18 floats per parameter with one worker (`simulate`, rows = cols = 2000: 295 MB);
// 16 is used as a lower bound, so a run that fits is never refused. Checked against what this process
// may use (physical memory and swap, and RLIMIT_AS/RLIMIT_DATA): with overcommit a too-large run is not
// refused by malloc but killed by the OOM killer once it touches its pages, so catching bad_alloc is
// only the backstop (engine_sim.cpp).
constexpr double kFloatsPerParameter = 16.0;
constexpr double kBytesPerWorker = 8192.0;  // the server's and the simulator's per-worker state and streams

double memory_limit_bytes() {
  double limit = std::numeric_limits<double>::infinity();
  struct sysinfo info {};
  if (::sysinfo(&info) == 0)
    limit = (static_cast<double>(info.totalram) + static_cast<double>(info.totalswap)) * info.mem_unit;
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl {};
    if (::getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      limit = std::min(limit, static_cast<double>(rl.rlim_cur));
  }
  return limit;
}

// The objective's registry row says what it needs (ObjectiveSize); the blame goes to what dominates: its
// data, its network, or the workers.
void check_memory(const Reader& r, const Config& c) {
  const ObjectiveSize size = objective_row(c.objective.kind).size(c);
  const double for_parameters =
      size.parameters * kFloatsPerParameter * sizeof(float) + size.extra_bytes + size.data_bytes;
  const double for_workers = static_cast<double>(c.run.workers) * kBytesPerWorker;
  const double limit = memory_limit_bytes();
  if (for_parameters + for_workers <= limit) return;
  const std::string needs = " at least " + sci(for_parameters + for_workers) + " bytes";
  const std::string more = ", more than the " + sci(limit) +
                           " bytes of memory (RAM + swap, or the process limit) this process may use";
  if (size.data_bytes > 0.0 && size.data_bytes >= for_parameters - size.data_bytes && size.data_bytes >= for_workers)
    r.fail(key_of(size.data_key), size.data + ": with the network the run needs" + needs + more);
  if (for_parameters >= for_workers) {
    std::vector<Key> keys;
    for (const std::string& k : size.keys) keys.push_back(key_of(k));
    const std::string beside = (size.extra_bytes > 0.0 ? ", and " + sci(size.extra_bytes) + " bytes of activations" : "") +
                               (size.data_bytes > 0.0 ? ", and " + sci(size.data_bytes) + " bytes of data" : "");
    r.fail(r.culprit(keys), size.shape + ": " + sci(size.parameters) + " parameters need" + needs + " (" +
                                sci(kFloatsPerParameter) + " floats per parameter: x, m, gradients, snapshots and LMO "
                                "scratch" + beside + ")" + more);
  }
  r.fail({"run", "workers"}, std::to_string(c.run.workers) + " workers need" + needs + more);
}

void check_progress(const Reader& r, const Config& c) {
  const RunConfig& run = c.run;
  const HeterogeneityConfig& h = c.heterogeneity;
  const Key budget{"run", "time_budget_s"}, eval{"run", "eval_every_s"};
  const Key base{"heterogeneity", "base_s"}, noise_scale{"heterogeneity", "noise_scale"};
  const Key profile{"heterogeneity", "profile"}, power{"heterogeneity", "power"}, list{"heterogeneity", "list"};

  // The evaluation grid: eval.csv gets time_budget_s / eval_every_s rows, indexed by an int64 (recorder).
  constexpr double kMaxEvaluations = 1e7;
  if (run.time_budget_s / run.eval_every_s > kMaxEvaluations)
    r.fail(r.culprit({eval, budget}),
           "run.time_budget_s / run.eval_every_s = " + format_double(run.time_budget_s) + " / " +
               format_double(run.eval_every_s) + " = " + sci(run.time_budget_s / run.eval_every_s) +
               " evaluations, more than 1e7; eval_every_s must be >= time_budget_s / 1e7 = " +
               sci(run.time_budget_s / kMaxEvaluations));

  // The deterministic delay of the slowest worker: base_s · s_n seconds (additive), or s_n times its
  // measured compute (multiplicative); past kMaxSeconds the worker never reports within any budget and
  // n^power overflows to inf.
  const double s_max = slowdown_max(h, run.workers);
  const double longest = h.mode == DelayMode::additive ? h.base_s * s_max : s_max;
  if (!(longest <= kMaxSeconds)) {
    const Key key = r.culprit({base, power, list, profile, {"run", "workers"}});
    const std::string s_n = "s_n = " + slowdown_text(h, run.workers) + " = " + sci(s_max);
    if (h.mode == DelayMode::additive)
      r.fail(key, "heterogeneity.base_s x s_n = " + format_double(h.base_s) + " x " + sci(s_max) + " = " +
                      sci(longest) + " seconds per gradient for the slowest worker (" + s_n + "), more than 1e9");
    r.fail(key, s_n + ", the slowest worker's multiple of its compute time (mode = \"multiplicative\"), is more "
                "than 1e9");
  }

  // Noise (docs/method.md §5). halfnormal and exponential add c·base·s_i·|Z| (resp. ·E): a noise a million times
  // the delay is no longer noise, and the bound keeps the product finite. lognormal (a factor
  // exp(cZ − c²/2)) is bounded where it matters, in the simulator (check_simulator); a huge draw is
  // clamped (DelayModel).
  if ((h.noise == DelayNoise::halfnormal || h.noise == DelayNoise::exponential) && h.noise_scale > 1e6)
    r.fail(noise_scale, "must be in [0.0, 1e6] for noise = " + quote(kDelayNoiseNames.name(h.noise)) + ", got " + format_double(h.noise_scale));
  // Noise that grows with the index: c · (i + 1)^q seconds for the last worker, i + 1 = n + profile_origin.
  const Key growth{"heterogeneity", "noise_growth"};
  if (!h.noise_relative && h.noise != DelayNoise::none) {
    if (h.noise == DelayNoise::lognormal)
      r.fail(growth, "a number needs noise = \"halfnormal\" or \"exponential\" (lognormal noise is a factor of the "
                     "delay); use noise_growth = \"delay\"");
    const double last = h.noise_scale * std::pow(run.workers + h.profile_origin, h.noise_growth);
    if (!(last <= kMaxSeconds))
      r.fail(r.culprit({growth, noise_scale, {"run", "workers"}}),
             "heterogeneity.noise_scale x (n + profile_origin)^noise_growth = " + format_double(h.noise_scale) +
                 " x " + std::to_string(run.workers + h.profile_origin) + "^" + format_double(h.noise_growth) +
                 " = " + sci(last) + " seconds of noise scale for the slowest worker, more than 1e9");
  }
  // The deterministic delay with its offset.
  if (h.mode == DelayMode::additive && !(h.offset_s + h.base_s * s_max <= kMaxSeconds))
    r.fail(r.culprit({{"heterogeneity", "offset_s"}, base}),
           "heterogeneity.offset_s + base_s x s_n = " + sci(h.offset_s + h.base_s * s_max) +
               " seconds per gradient for the slowest worker, more than 1e9");
}

}  // namespace

// coordinates, and rotary positions turn them in pairs.
void check_heads(const Reader& r, const GptConfig& gpt) {
  const Key heads{"objective.gpt", "heads"}, width{"objective.gpt", "width"};
  if (gpt.width % gpt.heads != 0)
    r.fail(r.culprit({width, heads}), "objective.gpt.width = " + std::to_string(gpt.width) +
                                          " is not divisible by objective.gpt.heads = " + std::to_string(gpt.heads) +
                                          " (each head takes width / heads of the width)");
  if ((gpt.width / gpt.heads) % 2 != 0)
    r.fail(r.culprit({width, heads}), "the head dimension objective.gpt.width / objective.gpt.heads = " +
                                          std::to_string(gpt.width) + " / " + std::to_string(gpt.heads) + " = " +
                                          std::to_string(gpt.width / gpt.heads) +
                                          " must be even (rotary positions turn pairs of coordinates)");
}

// Only the simulator: a gradient costs heterogeneity.compute_s of virtual time plus its injected delay
// (docs/method.md §7); with compute_s = 0, base_s · s_i is all the time a gradient takes, and the run
// ends only when virtual time reaches time_budget_s.
void check_simulator(const Reader& r, const Config& c) {
  const HeterogeneityConfig& h = c.heterogeneity;
  const Key base{"heterogeneity", "base_s"};
  const bool computes = h.measure_compute || h.compute_s > 0.0;
  if (h.mode == DelayMode::multiplicative && !computes)
    r.fail({"heterogeneity", "mode"},
           "\"multiplicative\" needs a compute time, and heterogeneity.compute_s is 0 (compute cost is zero on "
           "the virtual clock); set compute_s (a number or \"measure\") or use mode = \"additive\"");
  if (h.base_s <= 0.0 && h.offset_s <= 0.0 && !computes && h.profile != Profile::trace)
    r.fail(base, "must be > 0 in the simulator when heterogeneity.compute_s = 0 and offset_s = 0 (compute cost is "
                 "zero on the virtual clock, so offset_s + base_s · s_i is all the time a gradient takes)");
  // A measured compute time is known only at the start: the bound below cannot be checked here.
  if (h.measure_compute) return;
  // Without max_updates the run ends only when virtual time reaches time_budget_s: bound the gradients
  // the fastest worker computes until then. Its typical delay is base_s · s_1, times the median
  // exp(−c²/2) of the lognormal factor: interrupts abandon the long draws of a heavy tail, so virtual
  // time advances at the pace of the typical draw, not of the mean (c = 3 with the default config:
  // ~10^4 arrivals per virtual second).
  if (c.run.max_updates > 0) return;
  constexpr double kMaxGradientsPerWorker = 1e7;
  const double median_factor = h.noise == DelayNoise::lognormal ? std::exp(-0.5 * h.noise_scale * h.noise_scale) : 1.0;
  if (h.profile == Profile::trace) {
    // A replayed worker takes its rows' mean per gradient; the fastest worker bounds the run's length.
    double fastest = kMaxSeconds;
    for (int w = 1; w <= c.run.workers; ++w) {
      const std::vector<double>& times = h.trace_times.trace->times(w);
      double sum = 0.0;
      for (double t : times) sum += t;
      fastest = std::min(fastest, h.compute_s + sum / static_cast<double>(times.size()));
    }
    if (!(c.run.time_budget_s / fastest <= kMaxGradientsPerWorker))
      r.fail(r.culprit({{"heterogeneity", "trace"}, {"run", "time_budget_s"}}),
             "run.time_budget_s / (heterogeneity.compute_s + the fastest worker's mean seconds in the trace) = " +
                 format_double(c.run.time_budget_s) + " / " + sci(fastest) + " = " + sci(c.run.time_budget_s / fastest) +
                 " gradients for the fastest worker, more than 1e7: the simulation would not reach the time budget in "
                 "reasonable time (set run.max_updates, heterogeneity.compute_s, or a shorter time_budget_s)");
    return;
  }
  const double fastest = h.mode == DelayMode::multiplicative
                             ? h.compute_s * slowdown_min(h)
                             : h.compute_s + h.offset_s + h.base_s * slowdown_min(h) * median_factor;
  const double gradients = c.run.time_budget_s / fastest;
  if (!(gradients <= kMaxGradientsPerWorker)) {
    const std::string factor = h.noise == DelayNoise::lognormal ? " x exp(-noise_scale^2/2)" : "";
    const std::string factor_value = h.noise == DelayNoise::lognormal ? " x " + sci(median_factor) : "";
    const std::string offset = h.offset_s > 0.0 ? "heterogeneity.offset_s + " : "";
    const std::string offset_value = h.offset_s > 0.0 ? format_double(h.offset_s) + " + " : "";
    r.fail(r.culprit({base, {"heterogeneity", "list"}, {"heterogeneity", "noise_scale"}, {"heterogeneity", "offset_s"},
                      {"heterogeneity", "profile_origin"}, {"run", "time_budget_s"}}),
           "run.time_budget_s / (" + offset + "heterogeneity.base_s x s_1" + factor + ") = " +
               format_double(c.run.time_budget_s) + " / (" + offset_value + format_double(h.base_s) + " x " +
               sci(slowdown_min(h)) + factor_value + ") = " +
               sci(gradients) + " gradients for the fastest worker, more than 1e7: the simulation would not reach "
               "the time budget in reasonable time (set run.max_updates, or a shorter time_budget_s)");
  }
}

// profile = "trace": the file is read now, with the number of workers known, so that a malformed trace is
// an error naming the key and the file's line before any run directory exists (docs/method.md §5).
void load_trace(const Reader& r, Config& c) {
  HeterogeneityConfig& h = c.heterogeneity;
  if (h.profile != Profile::trace) return;
  try {
    h.trace_times.trace = DelayTrace::load(h.trace, c.run.workers);
  } catch (const Error& e) {
    r.fail({"heterogeneity", "trace"}, e.what());
  }
}

void check_consistency(const Reader& r, const Config& c, bool workers_from_engine) {
  const Key inject_workers{"fault", "inject_workers"};
  for (double w : c.fault.inject_workers)
    if (w != std::floor(w) || w > c.run.workers)
      r.fail(inject_workers, "entries must be worker indices 1.." + std::to_string(c.run.workers) + ", got " +
                                 format_double(w));
  const Key list{"heterogeneity", "list"};
  const Key profile{"heterogeneity", "profile"};
  const HeterogeneityConfig& h = c.heterogeneity;
  if (h.profile == Profile::list) {
    if (h.list.size() != static_cast<std::size_t>(c.run.workers)) {
      const std::string where = r.present(list) ? r.where(list) : r.where(profile);
      throw Error(where + list.full() + ": has " + std::to_string(h.list.size()) + " entries but there are " +
                  std::to_string(c.run.workers) + " workers (" +
                  (workers_from_engine ? "MPI ranks - server.shards" : "run.workers") +
                  "); profile = \"list\" needs one s_i per worker");
    }
  } else if (!h.list.empty()) {
    r.fail(list, "is only used with profile = \"list\" (profile is " + quote(kProfileNames.name(h.profile)) + ")");
  }
  const Key trace{"heterogeneity", "trace"};
  if (h.profile == Profile::trace) {
    if (h.trace.empty()) r.fail(profile, "\"trace\" needs heterogeneity.trace, the CSV file of per-worker seconds");
    if (h.mode == DelayMode::multiplicative)
      r.fail({"heterogeneity", "mode"}, "\"multiplicative\" does not apply to profile = \"trace\" (a trace gives "
                                        "seconds, not multiples of the compute time)");
  } else if (!h.trace.empty()) {
    r.fail(trace, "is only used with profile = \"trace\" (profile is " + quote(kProfileNames.name(h.profile)) + ")");
  }
  if (h.outage_rate > 0.0 && h.outage_s <= 0.0)
    r.fail({"heterogeneity", "outage_s"}, "must be > 0 when heterogeneity.outage_rate > 0 (outage_rate = " +
                                              format_double(h.outage_rate) + ")");
  const std::int64_t size = static_cast<std::int64_t>(c.objective.rows) * c.objective.cols;
  if (size > kIntMax)
    r.fail({"objective", "cols"}, "rows x cols = " + std::to_string(size) + " exceeds " + std::to_string(kIntMax));
  if (size * c.objective.blocks > kIntMax)
    r.fail({"objective", "blocks"}, "rows x cols x blocks = " + std::to_string(size * c.objective.blocks) +
                                        " exceeds " + std::to_string(kIntMax));
  check_memory(r, c);
  check_progress(r, c);
}

}  // namespace ringmaster::config_reading
