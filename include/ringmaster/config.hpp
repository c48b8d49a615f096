// Run configuration (docs/method.md §9): TOML files read with toml++, every key overridable with
// `--set section.key=value`. Loading validates everything (unknown keys, types, ranges, contradictions)
// and throws Error naming the key, with file:line when the value came from a file, before any run
// directory exists.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/choices.hpp"
#include "ringmaster/delay_trace.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/lmo.hpp"
#include "ringmaster/optimizer.hpp"

namespace ringmaster {

// The named choices of docs/method.md §4–§8, each with its table of names (choices.hpp). The methods and
// the objectives are registries instead (method.hpp, objective.hpp): adding one is a row there.
enum class LogInterrupts { rows, counts };  // events.csv: a row per interrupt, or counts (docs/method.md §8)
inline constexpr Choices<LogInterrupts, 2> kLogInterruptsNames{
    {{{LogInterrupts::rows, "rows"}, {LogInterrupts::counts, "counts"}}}};

enum class Stale { interrupt, discard };  // what a stale computation becomes (docs/method.md §4)
inline constexpr Choices<Stale, 2> kStaleNames{{{{Stale::interrupt, "interrupt"}, {Stale::discard, "discard"}}}};

enum class Rhs { gaussian, e1 };  // the quadratic's B: the seeded Gaussian, or first row ones
inline constexpr Choices<Rhs, 2> kRhsNames{{{{Rhs::gaussian, "gaussian"}, {Rhs::e1, "e1"}}}};

enum class X0 { zero, e1 };  // the quadratic's X0: zero, or x0_scale in the first row
inline constexpr Choices<X0, 2> kX0Names{{{{X0::zero, "zero"}, {X0::e1, "e1"}}}};

enum class GradientNoise { independent, shared };  // ξ entrywise, or one ξ per column times 𝟙
inline constexpr Choices<GradientNoise, 2> kGradientNoiseNames{
    {{{GradientNoise::independent, "independent"}, {GradientNoise::shared, "shared"}}}};

// s_i of docs/method.md §5: 1, √i, i, i^p, list[w − 1], or a trace's seconds.
enum class Profile { uniform, sqrt, linear, power, list, trace };
inline constexpr Choices<Profile, 6> kProfileNames{{{{Profile::uniform, "uniform"},
                                                     {Profile::sqrt, "sqrt"},
                                                     {Profile::linear, "linear"},
                                                     {Profile::power, "power"},
                                                     {Profile::list, "list"},
                                                     {Profile::trace, "trace"}}}};

enum class DelayNoise { none, halfnormal, exponential, lognormal };  // docs/method.md §5
inline constexpr Choices<DelayNoise, 4> kDelayNoiseNames{{{{DelayNoise::none, "none"},
                                                           {DelayNoise::halfnormal, "halfnormal"},
                                                           {DelayNoise::exponential, "exponential"},
                                                           {DelayNoise::lognormal, "lognormal"}}}};

enum class DelayMode { additive, multiplicative };  // the injected delay plus, or times, the compute time
inline constexpr Choices<DelayMode, 2> kDelayModeNames{
    {{{DelayMode::additive, "additive"}, {DelayMode::multiplicative, "multiplicative"}}}};

// fault.inject: what a faulty worker does to a gradient it is about to deliver.
enum class Fault {
  none,
  nan,       // every entry NaN: the server rejects it (docs/method.md §4 "Faults")
  truncate,  // half the message: malformed
  oversize,  // one unit more than expected: malformed
  hang,      // delivers nothing, now or ever again (still obeys a stop)
};
inline constexpr Choices<Fault, 5> kFaultNames{{{{Fault::none, "none"},
                                                {Fault::nan, "nan"},
                                                {Fault::truncate, "truncate"},
                                                {Fault::oversize, "oversize"},
                                                {Fault::hang, "hang"}}}};

struct RunConfig {
  std::string method = "ringmaster";  // a row of the method registry (method.hpp, docs/method.md §4)
  std::uint64_t seed = 0;
  int workers = 8;                    // simulator; under MPI workers = ranks − 1
  double time_budget_s = 60.0;        // training clock (wall under MPI, virtual in the simulator)
  std::int64_t max_updates = 0;       // 0 = no limit
  double target_loss = 0.0;           // 0 = off
  double eval_every_s = 1.0;
  double log_every_s = 5.0;           // progress line period (wall seconds)
  LogInterrupts log_interrupts = LogInterrupts::rows;
  std::string out;                    // empty = runs/<date>-<time>-<method>

  bool operator==(const RunConfig&) const = default;
};

struct MethodConfig {
  double stepsize = 0.01;   // γ (η for ringmaster-pa)
  double momentum = 0.95;   // β = 1 − α
  int threshold = 4;        // R
  int batch = 4;            // B (rennala)
  Stale stale = Stale::interrupt;
  bool nesterov = true;

  bool operator==(const MethodConfig&) const = default;
};

struct LmoConfig {
  RoleTable roles;  // per block role: geometry and stepsize multiplier (docs/method.md §6 "Block roles")
  SpectralBackend backend = SpectralBackend::newton_schulz;
  int ns_steps = 5;
  NsCoefficients ns_coefficients = NsCoefficients::polar_express;
  StepScale scale = StepScale::muon;

  LmoOptions options() const { return {backend, ns_steps, ns_coefficients}; }

  bool operator==(const LmoConfig&) const = default;
};

// [objective.mlp]: the Fashion-MNIST classifier (docs/method.md §6; keys in docs/configuration.md).
struct MlpConfig {
  std::vector<int> hidden{128, 128};  // widths of the hidden layers: 784 → hidden... → 10; [] = softmax regression
  int batch = 128;                    // minibatch of one stochastic gradient
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // the Debian package dataset-fashion-mnist
  bool standardize = false;           // pixels in [0, 1], or standardized by the training set's mean and std
  int eval_train_examples = 10000;    // the fixed training subset of full_gradient (the stationarity measure)

  bool operator==(const MlpConfig&) const = default;
};

// [objective.gpt]: the byte-level transformer on a text corpus (docs/method.md §6; keys in
// docs/configuration.md).
struct GptConfig {
  int layers = 4;              // transformer blocks
  int heads = 4;               // attention heads; width / heads is the head dimension (even: rotary pairs)
  int width = 128;             // model width C
  int context = 128;           // T: bytes a position attends over; a training window is T + 1 bytes
  int batch = 8;               // windows per stochastic gradient (batch · context tokens)
  std::string corpus = "/usr/share/games/fortunes";  // a text file or a directory (Debian package fortunes)
  double validation_fraction = 0.1;  // of the documents, held out for the reported loss
  int eval_tokens = 32768;           // validation tokens per evaluation (a fixed subset of windows)
  int eval_train_tokens = 4096;      // training tokens of the full gradient (the stationarity measure)

  bool operator==(const GptConfig&) const = default;
};

struct ObjectiveConfig {
  std::string kind = "quadratic";  // a row of the objective registry (objective.hpp)
  int rows = 64;
  int cols = 64;
  int blocks = 1;                // the quadratic: `blocks` independent rows×cols problems, one parameter block each
  double mu = 0.001;
  Rhs rhs = Rhs::gaussian;
  double rhs_scale = 1.0;        // B = rhs_scale · (the seeded Gaussian, or first row ones)
  X0 x0 = X0::zero;              // X0 = 0, or e1: x0_scale · (first row ones)
  double x0_scale = 1.0;
  bool x0_scale_sqrt_d = false;  // x0_scale = "sqrt-d": √rows (the authors' x0 = (√d, 0, …, 0))
  double noise = 0.1;            // σ
  GradientNoise noise_kind = GradientNoise::independent;
  MlpConfig mlp;                 // kind = "mlp"
  GptConfig gpt;                 // kind = "gpt"

  bool operator==(const ObjectiveConfig&) const = default;
};

struct HeterogeneityConfig {
  Profile profile = Profile::sqrt;
  double power = 1.0;
  std::vector<double> list;      // s_i for profile = "list" (one per worker)
  int profile_origin = 1;        // the profile's index of worker 1: s_i at i = worker − 1 + origin
  double base_s = 0.01;
  double offset_s = 0.0;         // seconds added to every τ_i
  DelayNoise noise = DelayNoise::halfnormal;
  double noise_scale = 0.05;
  // The noise's scale: relative to the deterministic delay (c · base_s · s_i, the published default) or,
  // with a number q, c · (i + 1)^q seconds (i the profile's index): noise_relative = false.
  bool noise_relative = true;
  double noise_growth = 0.0;
  // profile = "trace": the CSV file of per-worker seconds, loaded by load_config (docs/method.md §5).
  std::string trace;
  TraceTimes trace_times;
  DelayMode mode = DelayMode::additive;
  // Dynamics (docs/method.md §5): outages arrive per worker as a Poisson process of this rate (1/s) of busy time,
  // each silencing the worker for outage_s seconds.
  double outage_rate = 0.0;
  double outage_s = 0.0;
  // Virtual seconds the simulator charges per gradient computation (docs/method.md §7); ignored under
  // MPI, where compute is real. measure_compute: compute_s = "measure", timed at the start of the run.
  double compute_s = 0.0;
  bool measure_compute = false;
  // Virtual seconds the simulator's server spends on each update it applies (docs/method.md §7): while it
  // is busy, arrivals wait, and the points an update sends leave when it ends. 0: the server is
  // instantaneous. Ignored under MPI, where the server's time is real. measure_server_update:
  // server_update_s = "measure", timed at the start of the run.
  double server_update_s = 0.0;
  bool measure_server_update = false;

  bool operator==(const HeterogeneityConfig&) const = default;
};

// Checkpoints: the server writes one every every_s seconds of wall time and at
// every stop; 0 = only at stops.
struct CheckpointConfig {
  double every_s = 30.0;

  bool operator==(const CheckpointConfig&) const = default;
};

// Bad gradients and faulty workers.
struct FaultConfig {
  int max_bad = 3;                 // bad gradients in a row that retire a worker
  double worker_timeout_s = 0.0;   // sync/rennala: a worker silent this long is gone; 0 = wait forever
  Fault inject = Fault::none;      // fault injection
  std::vector<double> inject_workers;  // 1-based workers that misbehave (integers)
  std::int64_t inject_after = 0;   // good gradients each of them sends first

  bool operator==(const FaultConfig&) const = default;
};

// The simulator's execution (results do not depend on it: the same seed gives byte-identical files
// for any number of threads).
struct SimConfig {
  int threads = 0;  // threads computing LMOs (UpdatePipeline); 0 = every core this process may use

  bool operator==(const SimConfig&) const = default;
};

// The MPI server's execution (results do not depend on it: each block's LMO runs on one thread, so x is
// bit for bit the same for any number of threads).
struct ServerConfig {
  int threads = 0;  // threads computing one update's block LMOs (rank 0); 0 = the cores of rank 0's affinity
                    // less one per other rank on its node that may use them, at least 1
  // Server shards (docs/method.md §7 "Sharded server"): under MPI, ranks 0 … shards − 1 each own a
  // contiguous run of the blocks (ShardPlan) and apply rank 0's decisions in rank 0's order; in the
  // simulator, an update costs the largest shard's share of heterogeneity.server_update_s. Not in the
  // hash: a checkpoint holds the whole x and m, and resumes with any number of shards.
  int shards = 1;

  bool operator==(const ServerConfig&) const = default;
};

struct Config {
  RunConfig run;
  MethodConfig method;
  LmoConfig lmo;
  ObjectiveConfig objective;
  HeterogeneityConfig heterogeneity;
  CheckpointConfig checkpoint;
  FaultConfig fault;
  SimConfig sim;
  ServerConfig server;

  bool operator==(const Config&) const = default;
};

// Which engine will run the configuration: the simulator has no real compute time (docs/method.md §7), so it also
// needs virtual time to advance on its own (heterogeneity.base_s > 0, mode = "additive", time_budget_s
// reached in a bounded number of gradients).
// mpi: `workers_from_engine` is the job's MPI rank count N, of which server.shards serve: run.workers =
// N − server.shards (an error naming server.shards and where it was set when N < shards + 1).
// model: a run's configuration read for its model alone (ringmaster sample, eval): the files only a run needs
// (heterogeneity.trace) are not read, so config_hash cannot cover a trace's rows.
enum class ConfigFor { any, simulator, mpi, model };

// Loads `path` (empty = defaults only), applies `overrides` ("section.key=value", in order), validates.
// Throws Error on any problem. `workers_from_engine` > 0 fixes run.workers (MPI: ranks − 1) before
// validation, so that list lengths are checked against the real number of workers.
//
// Every value accepted gives a run that makes progress and ends: bounds are
// derived from what the code does with each key (docs/configuration.md lists them). The config file
// is at most 1 MiB, a regular file, and in the TOML subset of docs/configuration.md "What is read"
// ([section], key = value with strings, numbers, booleans and arrays of them).
// `ignored` (mpi): filled with one line for each key the user set that the MPI engine does not use
// (run.workers when the ranks give another number, heterogeneity.compute_s and server_update_s), each with
// where it was set; keys left at their defaults are not named.
Config load_config(const std::string& path, const std::vector<std::string>& overrides,
                   int workers_from_engine = 0, ConfigFor engine = ConfigFor::any,
                   std::vector<std::string>* ignored = nullptr);

// The last of `overrides` ("section.key=value", as --set takes them) that sets `key` ("run.out"), or null.
const std::string* find_override(const std::vector<std::string>& overrides, std::string_view key);

// The longest injected delay of one gradient (seconds, ~31.7 years): every time key is bounded by it,
// and DelayModel clamps a draw that exceeds it (a heavy-tailed noise draw, a long outage).
inline constexpr double kMaxSeconds = 1e9;

// The resolved configuration as TOML (written to <run>/config.toml; load_config reads it back).
std::string to_toml(const Config& config);

// A stable 64-bit fingerprint of the experiment (docs/method.md §8 "The configuration hash"), rule 2:
// FNV-1a over "section.key = value" lines of the keys that change results (the key table's column) whose
// value differs from the default, in the key table's order, then a trace's seconds. A key added later at
// its default leaves every hash as it was. Checkpoints record it, and the rule, so a resume refuses
// another experiment but accepts, say, a longer time budget.
inline constexpr int kConfigHashRule = 2;
std::uint64_t config_hash(const Config& config);

// FNV-1a over to_toml: every key. The ranks of one MPI job compare it (they must agree on everything).
std::uint64_t config_fingerprint(const Config& config);

}  // namespace ringmaster
