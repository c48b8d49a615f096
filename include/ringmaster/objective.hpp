// An objective (docs/method.md §6) is a parameter layout plus a stochastic gradient oracle and an evaluator.
// An objective is one file in src/objectives/ and one row of the registry below (docs/extending.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/data_fingerprint.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/sampler.hpp"

namespace ringmaster {

struct Evaluation {
  double loss = 0.0;                    // f(x) − f* where f* is known, else f(x) (test loss)
  std::optional<double> accuracy;       // classifiers only (test accuracy, in [0, 1])
};

// Data a user names for `ringmaster eval --data` (docs/method.md §10): a text file for the gpt, a gzip'ed IDX
// images file and its labels file for the mlp.
struct EvalData {
  std::string path;    // --data FILE
  std::string labels;  // --labels FILE (the mlp's)
};

class Objective {
 public:
  virtual ~Objective() = default;

  // Blocks with their roles, geometries and multipliers (from the [lmo] role table).
  virtual const ParamLayout& layout() const = 0;
  // x0 (docs/method.md §6: zero for the quadratic; seeded from run.seed for a network).
  virtual void initial_point(std::span<float> x) const = 0;
  // Training examples a worker's EpochSampler visits per pass; 0 for objectives without a data set.
  virtual std::size_t training_examples() const { return 0; }
  // The files its data was read from (data_fingerprint.hpp), as its loader found them; no files for an
  // objective without data. A checkpoint records it and a resume compares it.
  virtual const DataFingerprint& data_fingerprint() const;
  // f* is known, so losses are f − f* (the quadratic); else they are f itself, and relative targets
  // are relative to the initial loss (docs/method.md §6).
  virtual bool known_minimum() const { return false; }
  // Its Evaluation has an accuracy (classifiers): eval.csv gets that column (docs/method.md §8), so the
  // header, written before any evaluation, must know it.
  virtual bool reports_accuracy() const { return false; }
  // g = ∇f(x; ξ) for a fresh sample ξ drawn from the worker's stream; returns the sample's loss
  // (f(x; ξ) − f* when f* is known).
  double stochastic_gradient(std::span<const float> x, std::span<float> g, SampleStream& samples) {
    draw_sample(g, samples);
    return gradient_at_sample(x, g);
  }
  // The same in two halves, so that an engine can draw the sample while x is still being computed
  // (the simulator, whose x may wait for an LMO in flight): draw_sample draws ξ (everything that does
  // not depend on x: the quadratic's noise, a minibatch's indices), keeping it in g or in the
  // objective; gradient_at_sample then gives ∇f(x; ξ) in g and the sample's loss. The two are called
  // back to back for one worker: an objective serves one thread at a time.
  virtual void draw_sample(std::span<float> g, SampleStream& samples) = 0;
  virtual double gradient_at_sample(std::span<const float> x, std::span<float> g) = 0;
  // Full (deterministic) gradient, for the stationarity measure (a learning objective: the gradient
  // of the training loss over a fixed evaluation subset of the training set).
  virtual void full_gradient(std::span<const float> x, std::span<float> g) = 0;
  // Full loss (and accuracy) at x; not charged to the training clock (docs/method.md §7).
  virtual Evaluation evaluate(std::span<const float> x) = 0;
  // From now on evaluate() reads `data` instead of the objective's own evaluation set (ringmaster eval
  // --data), the same way. Throws Error naming the file, or saying that the objective evaluates on no data
  // (the quadratic: its loss is f − f*).
  virtual void evaluate_on(const EvalData& data);
};

// What load_config must know of an objective before it is built (the memory check of docs/configuration.md
// "Cross-checks"): its parameters, what it holds beside them, and which keys to name when it does not fit.
struct ObjectiveSize {
  double parameters = 0.0;    // the layout's parameter count, from the keys alone
  double extra_bytes = 0.0;   // beyond kFloatsPerParameter floats a parameter: a batch's activations, data held
  std::string shape;          // how `parameters` follows from the keys ("objective.rows x objective.cols = …")
  std::vector<std::string> keys;  // the keys to name when the network does not fit, as section.key
  // Data every process holds (the gpt corpus): its bytes, the key naming it, and what it is, for a run whose
  // data alone does not fit.
  double data_bytes = 0.0;
  std::string data_key;
  std::string data;
};

// The objective registry: one row per objective.kind (docs/method.md §6). load_config checks the kind
// against it and its "unknown value" message lists it; the row's size() drives the memory check.
struct ObjectiveRow {
  std::string_view name;     // objective.kind
  std::string_view section;  // the section of its own keys ([objective] for the quadratic)
  ObjectiveSize (*size)(const Config& config);
  std::unique_ptr<Objective> (*make)(const Config& config);  // may read data and throw Error
  // The network's shape, recorded in checkpoints for tools that rebuild it (tools/gpt_checkpoint.py); null:
  // none recorded.
  std::map<std::string, std::int64_t> (*shape)(const Config& config) = nullptr;
};
std::span<const ObjectiveRow> objectives();
std::vector<std::string_view> objective_names();
const ObjectiveRow& objective_row(std::string_view kind);  // throws Error listing the names

// Builds the objective of config.objective; data that needs randomness (B) comes from config.run.seed.
std::unique_ptr<Objective> make_objective(const Config& config);

}  // namespace ringmaster
