// The key table (keys.hpp): every configuration key, one row each, in the order of to_toml and of
// docs/configuration.md. A row names its field through one of the macros below, which give the row the
// field's TOML text and its setter; the reader (config.cpp) checks a value against the row's type and
// bounds before it calls the setter. Adding a key: a field in config.hpp and a row here (the docs table is
// generated from it: build/ringmaster-keys --write docs/configuration.md).
#include "config/keys.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <sstream>

#include "ringmaster/method.hpp"
#include "ringmaster/objective.hpp"

namespace ringmaster {

std::string format_double(double x) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  std::string text(buffer, result.ptr);
  if (std::isfinite(x) && text.find_first_of(".e") == std::string::npos) text += ".0";  // TOML floats need one
  return text;
}

std::string toml_string(const std::string& s) {
  const toml::value<std::string> value(s);
  std::ostringstream out;
  out << toml::toml_formatter{value, toml::format_flags::allow_unicode_strings};
  return out.str();
}

namespace {

std::string toml_array(const std::vector<double>& xs) {
  std::string out = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + format_double(xs[i]);
  return out + "]";
}

std::string toml_array(const std::vector<int>& xs) {
  std::string out = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + std::to_string(xs[i]);
  return out + "]";
}

using Write = std::string (*)(const Config&);

// The field behind a row: its TOML text and its setter(s), for the builders below.
#define INT(path)                                                  \
  [](const Config& c) { return std::to_string(c.path); },          \
      [](Config& c, std::int64_t v) { c.path = static_cast<decltype(c.path)>(v); }
#define REAL(path) \
  [](const Config& c) { return format_double(c.path); }, [](Config& c, double v) { c.path = v; }
// A number that also takes one word, which sets `flag` (and a number clears it).
#define REAL_OR(path, flag, word)                                                                       \
  word, [](const Config& c) { return c.flag ? toml_string(word) : format_double(c.path); },             \
      [](Config& c, double v) { c.path = v; }, [](Config& c, bool given) { c.flag = given; }
#define FLAG(path)                                                                      \
  [](const Config& c) { return std::string(c.path ? "true" : "false"); }, [](Config& c, bool v) { c.path = v; }
#define TEXT(path) \
  [](const Config& c) { return toml_string(c.path); }, [](Config& c, const std::string& v) { c.path = v; }
#define ENUM(path, table)                                                                          \
  [](const Config& c) { return toml_string(std::string(table.name(c.path))); },                    \
      [](Config& c, const std::string& v) { c.path = table.parse(v); }, table.names()
#define LIST(path)                                                   \
  [](const Config& c) { return toml_array(c.path); },                \
      [](Config& c, const std::vector<double>& v) { c.path = v; }
#define INTS(path)                                                                  \
  [](const Config& c) { return toml_array(c.path); }, [](Config& c, const std::vector<double>& v) { \
    c.path.assign(v.begin(), v.end());                                              \
  }

// The role table (docs/method.md §6 "Block roles"): [lmo.<role>] geometry and multiplier.
#define ROLE(role)                                                                                                \
  key("lmo." #role, "geometry", choice(ENUM(lmo.roles[Role::role].geometry, kGeometryNames)), kResults,           \
      "the norm ball of this role's blocks"),                                                                     \
      key("lmo." #role, "multiplier", number(REAL(lmo.roles[Role::role].multiplier), Bounds{0.0, true, 1e6, false}), \
          kResults, "this role's blocks step by multiplier · γ")

KeySpec spec_of(KeyType type, Write write) {
  KeySpec spec;
  spec.type = type;
  spec.write = write;
  return spec;
}
KeySpec integer(Write write, void (*set)(Config&, std::int64_t), std::int64_t lo, std::int64_t hi) {
  KeySpec spec = spec_of(KeyType::integer, write);
  spec.set_integer = set;
  spec.lo = lo;
  spec.hi = hi;
  return spec;
}
KeySpec number(Write write, void (*set)(Config&, double), Bounds bounds) {
  KeySpec spec = spec_of(KeyType::number, write);
  spec.set_number = set;
  spec.bounds = bounds;
  return spec;
}
KeySpec number_or(std::string_view word, Write write, void (*set)(Config&, double), void (*set_word)(Config&, bool),
                  Bounds bounds) {
  KeySpec spec = number(write, set, bounds);
  spec.word = word;
  spec.set_word = set_word;
  return spec;
}
KeySpec boolean(Write write, void (*set)(Config&, bool)) {
  KeySpec spec = spec_of(KeyType::boolean, write);
  spec.set_boolean = set;
  return spec;
}
KeySpec text(Write write, void (*set)(Config&, const std::string&), bool nonempty = false) {
  KeySpec spec = spec_of(KeyType::text, write);
  spec.set_text = set;
  spec.nonempty = nonempty;
  return spec;
}
KeySpec choice(Write write, void (*set)(Config&, const std::string&), std::vector<std::string_view> names) {
  KeySpec spec = spec_of(KeyType::choice, write);
  spec.set_text = set;
  spec.choices = std::move(names);
  return spec;
}
// A name of a registry: the docs point to the registry's file rather than list the names, so that a row
// added there is all a new method or objective needs (docs/extending.md).
KeySpec registry(Write write, void (*set)(Config&, const std::string&), std::vector<std::string_view> names,
                 std::string_view file) {
  KeySpec spec = choice(write, set, std::move(names));
  spec.registry = file;
  return spec;
}
KeySpec alias(std::string_view of, Write write, void (*set)(Config&, const std::string&),
              std::vector<std::string_view> names) {
  KeySpec spec = choice(write, set, std::move(names));
  spec.type = KeyType::alias;
  spec.alias_of = of;
  return spec;
}
KeySpec numbers(Write write, void (*set)(Config&, const std::vector<double>&), Bounds bounds) {
  KeySpec spec = spec_of(KeyType::numbers, write);
  spec.set_numbers = set;
  spec.bounds = bounds;
  return spec;
}
KeySpec integers(Write write, void (*set)(Config&, const std::vector<double>&), Bounds bounds, std::size_t max_entries) {
  KeySpec spec = numbers(write, set, bounds);
  spec.integral = true;
  spec.max_entries = max_entries;
  return spec;
}

KeyRow key(std::string_view section, std::string_view name, KeySpec spec, bool results, std::string_view doc,
           std::string_view note = {}) {
  KeyRow row;
  row.section = section;
  row.name = name;
  row.spec = std::move(spec);
  row.results = results;
  row.doc = doc;
  row.note = note;
  return row;
}

constexpr bool kResults = true;  // changes what a run computes: hashed at a non-default value
constexpr bool kTiming = false;  // where to write, when to stop, how often to log or checkpoint, how many threads

constexpr Bounds kPositive{0.0, true};
constexpr Bounds kNonNegative{0.0, false};
// Durations: beyond kMaxSeconds (~31.7 years) a time only overflows conversions (chrono, the int64 grid
// of evaluations) and never ends a run.
constexpr Bounds kDuration{0.0, true, kMaxSeconds, false};
constexpr Bounds kDurationOrZero{0.0, false, kMaxSeconds, false};
// Scales up to 10^6 in size: beyond that the float parameters no longer hold the problem's scale.
constexpr Bounds kScale{-1e6, false, 1e6, false};

// Bounds not explained above follow from what the code does with the key (docs/configuration.md): a
// progress line at most every 10 ms; β ∈ [0, 1) so that α = 1 − β > 0; a stepsize multiplier beyond 1e6 is no
// longer a step of γ; the MLP's and the gpt's sizes keep them models for CPUs (and are checked against
// memory); a minibatch of at most the 60,000 training images; (i + 1)^q up to q = 100; at most 10^6 outages
// per second of busy time.
std::vector<KeyRow> make_table() {
  return {
    key("run", "method", registry(TEXT(run.method), method_names(), "src/methods.cpp"), kResults,
     "server policy (method.md §4)"),
    key("run", "seed", integer(INT(run.seed), 0, kInt64Max), kResults,
     "every random draw (right-hand side, gradient noise, delays) derives from it (method.md §5, §6)"),
    key("run", "workers", integer(INT(run.workers), 1, kIntMax), kResults,
     "n, the number of workers in the simulator; under MPI it is replaced by ranks − `server.shards` (ranks − 1 by default; method.md §1), and a value set in the file or by `--set` that differs is named once as ignored"),
    key("run", "time_budget_s", number(REAL(run.time_budget_s), kDuration), kTiming,
     "stop after this much training time: wall clock under MPI, virtual in the simulator (method.md §7)"),
    key("run", "max_updates", integer(INT(run.max_updates), 0, kInt64Max), kTiming,
     "stop after this many applied updates; 0 = no limit"),
    key("run", "target_loss", number(REAL(run.target_loss), kNonNegative), kTiming,
     "stop when the evaluated loss is ≤ target; 0 = off; also gives `time_to_target` (method.md §8)"),
    key("run", "eval_every_s", number(REAL(run.eval_every_s), kDuration), kResults,
     "full-loss evaluation period in training-clock seconds; under MPI a snapshot is evaluated on a thread beside serving, in the simulator inline at no virtual time (method.md §7)",
     "and ≥ time_budget_s / 1e7"),
    key("run", "log_every_s", number(REAL(run.log_every_s), Bounds{0.01, false, kMaxSeconds, false}), kTiming,
     "period of the progress log line, wall seconds; the first line comes after min(2 s, this); 1e9 (the maximum) prints none (method.md §8 \"Progress\")"),
    key("run", "log_interrupts", choice(ENUM(run.log_interrupts, kLogInterruptsNames)), kResults,
     "what events.csv says of interrupted computations, in both engines (method.md §8): `rows`, a row each (its worker, the version it was computing at, its delay); `counts`, their number per arrival only, in a last column `interrupted` (the sum is summary.json's `interrupted`; per worker, workers.csv). For sweeps at thousands of workers: at 6,174 workers an update interrupts ~1,540 computations, and the rows are 58 MB per 5 simulated seconds and most of the simulator's time (docs/benchmarks.md). In the configuration hash: a resume appends to events.csv, so it keeps the columns it started with"),
    key("run", "out", text(TEXT(run.out)), kTiming,
     "run directory; `\"\"` = `runs/<date>-<time>-<method>[-N]` (made by `mkdir`: runs started in the same second get distinct names); an existing non-empty one is never overwritten without `--force`, and one locked by a running job never (method.md §8). A resume continues in its own directory: `--set run.out` with `--resume` is refused (exit 2), as `--out` is"),
    key("method", "stepsize", number(REAL(method.stepsize), kPositive), kResults,
     "γ; for `ringmaster-pa` it is η in γ_k = η/(k+1)^{3/4}"),
    key("method", "momentum", number(REAL(method.momentum), Bounds{0.0, false, 1.0, true}), kResults,
     "β = 1 − α, the momentum weight (α > 0 is required); `ringmaster-pa` schedules α itself"),
    key("method", "threshold", integer(INT(method.threshold), 1, kIntMax), kResults,
     "R: a gradient with delay δ ≥ R is not applied (`ringmaster`, `ringmaster-sgd`)"),
    key("method", "batch", integer(INT(method.batch), 1, kIntMax), kResults,
     "B: gradients averaged per round (`rennala`); may exceed n (a fast worker contributes several)"),
    key("method", "stale", choice(ENUM(method.stale, kStaleNames)), kResults,
     "`interrupt`: after each update, workers whose point is ≥ R versions old restart; `discard`: never interrupt, drop δ ≥ R on arrival (method.md §4)"),
    key("method", "nesterov", boolean(FLAG(method.nesterov)), kResults,
     "LMO input u = β m + α g (Nesterov) instead of u = m (method.md §3)"),
    key("lmo", "geometry", alias("lmo.matrix.geometry", ENUM(lmo.roles[Role::matrix].geometry, kGeometryNames)), kResults,
     "shorthand of `lmo.matrix.geometry` (below)"),
    key("lmo", "vector_geometry", alias("lmo.vector.geometry", ENUM(lmo.roles[Role::vector].geometry, kGeometryNames)), kResults,
     "shorthand of `lmo.vector.geometry`"),
    key("lmo", "backend", choice(ENUM(lmo.backend, kBackendNames)), kResults,
     "spectral back-end: quintic Newton–Schulz; the same polynomial with the steps after the first on s×s Gram matrices, on the blocks where that costs fewer flops (rectangular ones, with 5 steps: l > 2.56 s up to s = 64, l > 4s/3 or less above; elsewhere newton-schulz bit for bit), as orthogonal as newton-schulz to a few digits (method.md §3); or exact SVD (LAPACKE gesdd)"),
    key("lmo", "ns_steps", integer(INT(lmo.ns_steps), 1, 100), kResults,
     "Newton–Schulz iterations"),
    key("lmo", "ns_coefficients", choice(ENUM(lmo.ns_coefficients, kCoefficientNames)), kResults,
     "coefficient set: per-step Polar Express, or Muon's fixed (3.4445, −4.7750, 2.0315)"),
    key("lmo", "scale", choice(ENUM(lmo.scale, kStepScaleNames)), kResults,
     "`muon`: spectral steps × sqrt(max(1, rows/cols)); `none`: × 1"),
    ROLE(matrix), ROLE(embedding), ROLE(head), ROLE(vector),
    key("objective", "kind", registry(TEXT(objective.kind), objective_names(), "src/objective.cpp"), kResults,
     "the objective (method.md §6). The keys below are the quadratic's; `mlp` reads `[objective.mlp]`, `gpt` reads `[objective.gpt]`"),
    key("objective", "rows", integer(INT(objective.rows), 1, kIntMax), kResults,
     "m: X ∈ R^{m×k}, A is m×m",
     "see memory, below"),
    key("objective", "cols", integer(INT(objective.cols), 1, kIntMax), kResults,
     "k; rows × cols must be ≤ 2³¹−1",
     "rows × cols ≤ 2³¹−1"),
    key("objective", "blocks", integer(INT(objective.blocks), 1, 4096), kResults,
     "B independent problems X_1 … X_B, each rows × cols with its own slice of B (the seeded Gaussian drawn once for all, or each block's first row for `e1`), its own `e1` start and its own shared noise; f is their sum and A is block-diagonal. Each is a parameter block of its own (named `X0` … `X{B−1}`; `X` when B = 1): a model of several large matrices with a cheap gradient, to exercise a sharded server (`server.shards`). Written to config.toml and the hash only when ≠ 1",
     "rows × cols × blocks ≤ 2³¹−1"),
    key("objective", "mu", number(REAL(objective.mu), kNonNegative), kResults,
     "μ in A = tridiag(−1, 2, −1)/4 + μI (positive definite for every μ ≥ 0)"),
    key("objective", "rhs", choice(ENUM(objective.rhs, kRhsNames)), kResults,
     "B: seeded Gaussian, or first row ones (the Nesterov worst case)"),
    key("objective", "rhs_scale", number(REAL(objective.rhs_scale), kScale), kResults,
     "B is multiplied by it (the authors' b = −¼ e1: `rhs = \"e1\"`, `rhs_scale = -0.25`)"),
    key("objective", "x0", choice(ENUM(objective.x0, kX0Names)), kResults,
     "X0 = 0, or `x0_scale` in the first row and zero elsewhere"),
    key("objective", "x0_scale", number_or(REAL_OR(objective.x0_scale, objective.x0_scale_sqrt_d, "sqrt-d"), kScale), kResults,
     "X0's first-row value for `x0 = \"e1\"`; `\"sqrt-d\"` is √rows (the authors' x0 = (√d, 0, …, 0))"),
    key("objective", "noise", number(REAL(objective.noise), kNonNegative), kResults,
     "σ in the stochastic gradient A X − B + σ ξ"),
    key("objective", "noise_kind", choice(ENUM(objective.noise_kind, kGradientNoiseNames)), kResults,
     "ξ standard normal in every entry, or one ξ_c ~ N(0, 1) per column shared by all its rows (a vector: σ ξ 𝟙, as the authors' code; method.md §6)"),
    key("objective.mlp", "hidden", integers(INTS(objective.mlp.hidden), Bounds{1.0, false, 16384.0, false}, 16), kResults,
     "widths of the hidden layers: 784 → hidden... → 10 with ReLU; `[]` = softmax regression. The parameter count is checked against memory like rows × cols"),
    key("objective.mlp", "batch", integer(INT(objective.mlp.batch), 1, 60000), kResults,
     "minibatch of one stochastic gradient: the mean cross-entropy over `batch` examples drawn by the worker's shuffled pass over the 60,000 training images"),
    key("objective.mlp", "data_dir", text(TEXT(objective.mlp.data_dir), true), kResults,
     "directory of `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` (Debian package `dataset-fashion-mnist`). A missing, truncated or corrupt file (not a regular file — a FIFO, device or directory —, larger than its content can take compressed, not gzip, a cut or damaged gzip stream, anything after the gzip member, wrong magic, dimensions or counts, images and labels that disagree, short or trailing data, a label outside 0–9) is an error naming the file and the package, exit 2, before any run directory exists. A checkpoint records the files' fingerprint (method.md §8): `--resume` after one changed is exit 2 naming it"),
    key("objective.mlp", "standardize", boolean(FLAG(objective.mlp.standardize)), kResults,
     "inputs are pixel/255 ∈ [0, 1]; with `true`, (pixel/255 − mean)/std with the training set's mean and standard deviation over all pixels (≈ 0.286 and 0.353)"),
    key("objective.mlp", "eval_train_examples", integer(INT(objective.mlp.eval_train_examples), 1, 60000), kResults,
     "the fixed subset of the training set (its first N images; the files are in shuffled class order) whose mean-loss gradient is the full gradient of the stationarity measure (`grad_dual_norm` in eval.csv)"),
    key("objective.gpt", "layers", integer(INT(objective.gpt.layers), 1, 64), kResults,
     "transformer blocks L"),
    key("objective.gpt", "heads", integer(INT(objective.gpt.heads), 1, 128), kResults,
     "attention heads H; the head dimension is width / heads, and it must be even (rotary positions turn pairs of coordinates). The error names whichever of `width` and `heads` was set last on the command line, else the one in the file",
     "dividing `width` into an even head dimension"),
    key("objective.gpt", "width", integer(INT(objective.gpt.width), 2, 8192), kResults,
     "model width C. Parameters: 2 · 256 · C (embedding and head) + 12 · L · C² (per block q, k, v and the attention's output, C² each; the MLP's 4C × C and C × 4C). They and the activations of one batch (at least batch · context · (L · (12 C + H · context) + 256) floats) are checked against memory like rows × cols"),
    key("objective.gpt", "context", integer(INT(objective.gpt.context), 1, 8192), kResults,
     "T: bytes each position sees; a training window is T + 1 bytes"),
    key("objective.gpt", "batch", integer(INT(objective.gpt.batch), 1, 65536), kResults,
     "windows per stochastic gradient: the mean cross-entropy over batch · context next-byte predictions"),
    key("objective.gpt", "corpus", text(TEXT(objective.gpt.corpus), true), kResults,
     "a text file, or a directory whose regular files are read in sorted order (not subdirectories; a file once, however many links name it; `NAME.dat` beside `NAME` skipped: strfile's index). In a file, lines holding only `%` separate documents (a file without one is one document); empty documents are dropped. The default is the Debian package `fortunes` (~15,200 documents, 2.6 MB). A missing path, an unreadable or non-regular file, a file holding a NUL byte (byte 0 ends documents in the streams), an empty corpus, one document only, or a split leaving either side shorter than context + 1 bytes is an error naming the path (and, for the default, the package), exit 2, before any run directory exists. Every process holds the corpus (about twice its size while it is split): the memory check counts it. A checkpoint records its files' fingerprint (method.md §8): `--resume` after a file appeared, disappeared or changed is exit 2 naming it"),
    key("objective.gpt", "validation_fraction", number(REAL(objective.gpt.validation_fraction), Bounds{0.0, true, 1.0, true}), kResults,
     "the documents held out for the reported loss: round(fraction · n), at least 1 and at most n − 1, chosen by a shuffle seeded by `run.seed`"),
    key("objective.gpt", "eval_tokens", integer(INT(objective.gpt.eval_tokens), 1, kIntMax), kResults,
     "validation tokens of one evaluation: ⌈eval_tokens / context⌉ validation windows spread evenly over the validation stream (all of them if it has fewer), the same at every evaluation"),
    key("objective.gpt", "eval_train_tokens", integer(INT(objective.gpt.eval_train_tokens), 1, kIntMax), kResults,
     "training tokens of the full gradient (`grad_dual_norm` in eval.csv): ⌈eval_train_tokens / context⌉ training windows spread evenly over the training stream"),
    key("heterogeneity", "profile", choice(ENUM(heterogeneity.profile, kProfileNames)), kResults,
     "s_i = 1, √i, i, i^p, `list[w−1]`, or the seconds of a trace file (`trace`)"),
    key("heterogeneity", "power", number(REAL(heterogeneity.power), kNonNegative), kResults,
     "p for `profile = \"power\"` (0 uniform, 0.5 sqrt, 1 linear); ignored otherwise",
     "with base_s · n^p ≤ 1e9"),
    key("heterogeneity", "list", numbers(LIST(heterogeneity.list), kPositive), kResults,
     "s_i for `profile = \"list\"`: exactly one entry per worker; must be empty for other profiles",
     "with base_s · max ≤ 1e9"),
    key("heterogeneity", "profile_origin", integer(INT(heterogeneity.profile_origin), 0, 1), kResults,
     "the profile's index of worker 1: i = w − 1 + origin (0: 0-based i as in the authors' code, s = 0 for sqrt/linear/power p > 0 and 1 for p = 0, since 0^0 = 1)"),
    key("heterogeneity", "base_s", number(REAL(heterogeneity.base_s), kDurationOrZero), kResults,
     "seconds per unit of s_i",
     "> 0 in the simulator unless `compute_s` or `offset_s` is set"),
    key("heterogeneity", "offset_s", number(REAL(heterogeneity.offset_s), kDurationOrZero), kResults,
     "seconds added to every τ",
     "with offset_s + base_s · s_n ≤ 1e9"),
    key("heterogeneity", "noise", choice(ENUM(heterogeneity.noise, kDelayNoiseNames)), kResults,
     "delay noise of scale S: halfnormal \\|N(0, S²)\\|, exponential with mean S, lognormal (relative only)"),
    key("heterogeneity", "noise_scale", number(REAL(heterogeneity.noise_scale), kNonNegative), kResults,
     "c: S = c · base_s · s_i (published default 0.05), or c · (i + 1)^q seconds with `noise_growth = q`",
     "≤ 1e6 for halfnormal and exponential (for lognormal see the simulator, below)"),
    key("heterogeneity", "noise_growth", number_or(REAL_OR(heterogeneity.noise_growth, heterogeneity.noise_relative, "delay"), Bounds{0.0, false, 100.0, false}), kResults,
     "`\"delay\"`: the noise is relative to the deterministic delay; q: it grows with the index, S = c · (i + 1)^q seconds",
     "a number needs halfnormal or exponential noise, with c · (n + origin)^q ≤ 1e9"),
    key("heterogeneity", "mode", choice(ENUM(heterogeneity.mode, kDelayModeNames)), kResults,
     "how the injected delay combines with compute",
     "in the simulator `multiplicative` needs `compute_s`"),
    key("heterogeneity", "outage_rate", number(REAL(heterogeneity.outage_rate), Bounds{0.0, false, 1e6, false}), kResults,
     "outages per second of busy time (Poisson, per worker); 0 = none"),
    key("heterogeneity", "outage_s", number(REAL(heterogeneity.outage_s), kDurationOrZero), kResults,
     "how long each outage silences the worker, seconds",
     "> 0 when `outage_rate` > 0"),
    key("heterogeneity", "compute_s", number_or(REAL_OR(heterogeneity.compute_s, heterogeneity.measure_compute, "measure"), kDurationOrZero), kResults,
     "simulator only: virtual seconds charged per gradient computation (additive: τ = compute_s + injected; multiplicative: s_i · compute_s). `\"measure\"` times real `stochastic_gradient` calls at x0 (3 warm-up, then ≥ 10 calls and ~0.5 s) and uses their mean; the number used is logged and in summary.json (`compute_s`). Ignored under MPI, where compute is real (said once, when set)"),
    key("heterogeneity", "server_update_s", number_or(REAL_OR(heterogeneity.server_update_s, heterogeneity.measure_server_update, "measure"), kDurationOrZero), kResults,
     "simulator only: virtual seconds the server spends on each update it applies (method.md §7 \"The server's time\"): arrivals that complete while it is busy wait in a queue (in completion order), the points an update sends leave when it ends, and waiting counts as staleness; discards cost nothing. 0 = an instantaneous server (outputs as without the key). `\"measure\"` times the run's method updating on a one-worker Server at x0 plus one copy of x (3 warm-up, then ≥ 10 updates and ~0.5 s, one BLAS thread) in the thread's CPU seconds and uses the mean; logged, and in summary.json (`server_update_s`). Part of the configuration hash: it changes what is computed. Ignored under MPI, where the server's time is real (logged once)"),
    key("heterogeneity", "trace", text(TEXT(heterogeneity.trace)), kResults,
     "per-worker seconds to replay: a header with `worker` and `seconds` (or `compute_s` and `injected_s`, summed: a run's delays.csv); each worker replays its rows in order, cycling. Read at load time: a malformed file (a column it reads named twice, a worker index outside [1, 1e9], …) is an error naming this key, the file and its line; rows of workers the run does not have are not replayed, and the run says so once",
     "a CSV file (method.md §5 \"Trace replay\"), only with `profile = \"trace\"`"),
    key("checkpoint", "every_s", number(REAL(checkpoint.every_s), kDurationOrZero), kTiming,
     "the server (MPI) or the simulator writes `<run>/checkpoint.bin` every this many wall seconds, and at every stop (a fresh sharded MPI run also at its start: method.md §7 \"Sharded server\"); 0 = only at stops; `train --resume DIR` / `simulate --resume DIR` continue from it. Each checkpoint first flushes and syncs the CSV files and records their sizes (a resume cuts them back to those). Writing is not charged to the training clock"),
    key("fault", "max_bad", integer(INT(fault.max_bad), 1, kIntMax), kResults,
     "a worker whose gradients are malformed (NaN/Inf entries, wrong message length) this many times in a row is retired; each bad one is rejected without touching the parameters"),
    key("fault", "worker_timeout_s", number(REAL(fault.worker_timeout_s), kDurationOrZero), kResults,
     "in both engines (on the training clock: virtual time in the simulator), every method treats a worker silent this long while it owes a gradient (no gradient, no acknowledgement of an interrupt: a stopped or hung process) as gone: retired (logged, `retired` in workers.csv) and training goes on without it; 0 = never. `sync` and `rennala` would otherwise wait for it; under the asynchronous methods it would otherwise keep being sent points it never takes"),
    key("fault", "inject", choice(ENUM(fault.inject, kFaultNames)), kResults,
     "fault injection for tests, in both engines: the workers in `inject_workers` send NaN gradients, send half-length messages, send messages 64 bytes too long (the simulator: a malformed message), or go silent (still obeying a stop)"),
    key("fault", "inject_workers", numbers(LIST(fault.inject_workers), kPositive), kResults,
     "which workers misbehave",
     "worker indices 1..workers"),
    key("fault", "inject_after", integer(INT(fault.inject_after), 0, kInt64Max), kResults,
     "good gradients each of them sends first"),
    key("sim", "threads", integer(INT(sim.threads), 0, 1024), kTiming,
     "threads computing LMOs in `ringmaster simulate`; 0 = every core the process may use (its CPU affinity: what Slurm or `taskset` granted). Consecutive updates' LMOs run side by side, each single-threaded, and reach x in order, so results are byte-identical for every value (see docs/benchmarks.md, \"Simulator throughput\"). The MPI engine ignores it"),
    key("server", "threads", integer(INT(server.threads), 0, 1024), kTiming,
     "threads computing the LMOs of one update on rank 0 under `ringmaster train`; 0 = the cores rank 0 may use (its CPU affinity: what `mpirun`'s binding, a rankfile, Slurm or `taskset` granted) less one for each other rank on its node that may run on them too, at least 1: oversubscribed ranks (mpirun then binds nothing) leave the server one thread, because a helper thread would wait for cores the workers hold (docs/benchmarks.md, \"The server's update on several cores\"); the log's `server: block LMOs on N threads` line says what it got. A number is taken as asked. The blocks of one update are independent: each block's LMO runs on one thread with one BLAS thread, so x and m are bit for bit the same for every value (`tests/test_update_executor.cpp`). Fewer threads are used when the layout cannot use them: never more than its blocks, and one when an update's LMOs are too small to pay for waking a thread (below 2 MFLOP, e.g. the 64×64 quadratic). How to give rank 0 more cores: benchmarks.md, \"Giving the server more cores\". The simulator ignores it (`[sim] threads`)"),
    key("server", "shards", integer(INT(server.shards), 1, 256), kTiming,
     "S, the server's shards under `ringmaster train` (docs/method.md §7 \"Sharded server\"): ranks 0 … S − 1 each own a contiguous run of whole blocks (chosen so the largest shard's share of an update's flops is smallest) and apply the leader's (rank 0's) decisions to them; ranks S … N − 1 are the N − S workers (`run.workers` = ranks − S). At most the layout's block count, and the job needs at least S + 1 ranks: otherwise exit 2 naming `server.shards`. Not in the configuration hash: a checkpoint holds the whole model and resumes with any S; every rank of a job must have the same value. 1 = one server, today's code path. In `ringmaster simulate` the shards take the same decisions and update side by side, so an update costs the slowest shard's share of `heterogeneity.server_update_s` (or, with `\"measure\"`, the slowest shard's measured update; docs/method.md §7 \"Shards in the simulator\"); without a charge it changes nothing"),
  };
}

#undef INT
#undef REAL
#undef REAL_OR
#undef FLAG
#undef TEXT
#undef ENUM
#undef LIST
#undef INTS
#undef ROLE

std::string allowed(const KeySpec& spec) {
  const auto bound = [](std::int64_t x) {
    return x == kIntMax ? std::string("2³¹−1") : x == kInt64Max ? std::string("2⁶³−1") : std::to_string(x);
  };
  const auto interval = [](const Bounds& b) {
    if (std::isinf(b.hi)) return std::string(b.lo_strict ? "> " : "≥ ") + format_double(b.lo);
    return std::string(b.lo_strict ? "(" : "[") + format_double(b.lo) + ", " + format_double(b.hi) +
           (b.hi_strict ? ")" : "]");
  };
  switch (spec.type) {
    case KeyType::integer:
      return spec.hi == kIntMax || spec.hi == kInt64Max ? "≥ " + std::to_string(spec.lo)
                                                          : "[" + bound(spec.lo) + ", " + bound(spec.hi) + "]";
    case KeyType::number:
      return interval(spec.bounds) + (spec.word.empty() ? "" : ", or the string `\"" + std::string(spec.word) + "\"`");
    case KeyType::boolean: return "`true`, `false`";
    case KeyType::text: return spec.nonempty ? "non-empty" : "any";
    case KeyType::alias: return "shorthand of `" + std::string(spec.alias_of) + "`";
    case KeyType::choice: {
      if (!spec.registry.empty()) return "a name in the registry of `" + std::string(spec.registry) + "`";
      std::string out;
      for (std::string_view name : spec.choices) (out += out.empty() ? "`" : ", `") += std::string(name) + "`";
      return out;
    }
    case KeyType::numbers:
      return (spec.max_entries > 0 ? "at most " + std::to_string(spec.max_entries) + " entries, each " : "entries ") +
             interval(spec.bounds);
  }
  return {};
}

std::string type_name(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::integer: return "integer";
    case KeyType::number: return spec.word.empty() ? "float" : "float or `\"" + std::string(spec.word) + "\"`";
    case KeyType::boolean: return "boolean";
    case KeyType::text:
    case KeyType::choice:
    case KeyType::alias: return "string";
    case KeyType::numbers: return spec.integral ? "array of integers" : "array of floats";
  }
  return {};
}

}  // namespace

std::span<const KeyRow> key_table() {
  static const std::vector<KeyRow> table = make_table();
  return table;
}

std::string markdown_table(const std::vector<std::string_view>& sections) {
  const Config defaults;
  std::string out = "| key | type | default | allowed | changes results | meaning |\n|---|---|---|---|---|---|\n";
  for (std::string_view section : sections)
    for (const KeyRow& row : key_table()) {
      if (row.section != section) continue;
      const std::string key = sections.size() == 1 ? std::string(row.name) : row.full();
      const std::string note = row.note.empty() ? "" : "; " + std::string(row.note);
      out += "| `" + key + "` | " + type_name(row.spec) + " | `" + row.spec.write(defaults) + "` | " +
             allowed(row.spec) + note + " | " + (row.results ? "yes" : "no") + " | " + std::string(row.doc) + " |\n";
    }
  return out;
}

}  // namespace ringmaster
