// An objective (docs/method.md §6) is a parameter layout plus a stochastic gradient oracle and an evaluator.
// New objectives (mlp, gpt) are one file each in src/objectives/ and one line in make_objective.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "ringmaster/config.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {

struct Evaluation {
  double loss = 0.0;                    // f(x) − f* where f* is known, else f(x)
  std::optional<double> accuracy;       // classifiers only
};

class Objective {
 public:
  virtual ~Objective() = default;

  // Blocks with their geometries (from [lmo] geometry / vector_geometry).
  virtual const ParamLayout& layout() const = 0;
  // x0 (docs/method.md §6: zero for the quadratic).
  virtual void initial_point(std::span<float> x) const = 0;
  // g = ∇f(x; ξ) for a fresh sample ξ drawn from rng; returns the sample's loss f(x; ξ) − f*.
  double stochastic_gradient(std::span<const float> x, std::span<float> g, Rng& rng) {
    draw_sample(g, rng);
    return gradient_at_sample(x, g);
  }
  // The same in two halves, so that an engine can draw the sample while x is still being computed
  // (the simulator, whose x may wait for an LMO in flight): draw_sample draws ξ from rng (everything
  // that does not depend on x: the quadratic's noise, a minibatch's indices), keeping it in g or in
  // the objective; gradient_at_sample then gives ∇f(x; ξ) in g and the sample's loss.
  virtual void draw_sample(std::span<float> g, Rng& rng) = 0;
  virtual double gradient_at_sample(std::span<const float> x, std::span<float> g) = 0;
  // Full (deterministic) gradient, for the stationarity measure.
  virtual void full_gradient(std::span<const float> x, std::span<float> g) = 0;
  // Full loss (and accuracy) at x; not charged to the training clock (docs/method.md §7).
  virtual Evaluation evaluate(std::span<const float> x) = 0;
};

// Builds the objective of config.objective; data that needs randomness (B) comes from config.run.seed.
std::unique_ptr<Objective> make_objective(const Config& config);

}  // namespace ringmaster
