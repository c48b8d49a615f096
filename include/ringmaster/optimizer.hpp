// The update of one accepted step (docs/method.md §3), over every block of a layout:
//   m ← β m + α g;   u ← nesterov ? β m + α g : m;   x ← x + γ · scale(block) · lmo(u)
// with β = 1 − α. Workspaces (one per block) and the direction buffer are allocated once.
// The step is also offered in its three parts (momentum, direction, apply) so that the simulator can
// compute the directions of consecutive updates on several threads (src/pipeline.cpp): the LMO input
// depends only on the gradients, not on x, so update k + 1's LMO need not wait for update k's.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "ringmaster/layout.hpp"
#include "ringmaster/lmo.hpp"

namespace ringmaster {

enum class StepScale { muon, none };
inline constexpr Choices<StepScale, 2> kStepScaleNames{{{{StepScale::muon, "muon"}, {StepScale::none, "none"}}}};
StepScale parse_step_scale(const std::string& name);
std::string to_string(StepScale s);

// sqrt(max(1, rows/cols)) for spectral blocks under scale = "muon"; 1 otherwise.
double block_scale(const Block& block, StepScale scale);

// Floating-point operations of one lmo() call on the block (its geometry, back-end, ns_steps): for spectral
// blocks spectral_lmo_flops (Newton–Schulz as implemented, in the direct or the Gram form; svd as a cost
// model); the other geometries, a few passes over the block. A cost model for scheduling blocks on
// threads and shards; for Newton–Schulz also the count of work done.
double lmo_flops(const Block& block, const LmoOptions& options);

// The LMO scratch of every block of a layout, one per block: each thread computing directions needs its own.
using Workspaces = std::vector<LmoWorkspace>;
Workspaces make_workspaces(const ParamLayout& layout, const LmoOptions& options);

// Σ over blocks of ‖g_block‖_* in the block's geometry (the stationarity measure of docs/method.md §3),
// in the caller's workspaces: a thread with its own (the evaluator's) may run it beside the optimizer.
double dual_norm(const ParamLayout& layout, std::span<const float> g, Workspaces& workspaces);

class LmoOptimizer {
 public:
  LmoOptimizer(const ParamLayout& layout, const LmoOptions& options, bool nesterov, StepScale scale);

  // One momentum + LMO step with stepsize γ and momentum weight α (β = 1 − α). Updates x and m.
  // Same as momentum(), direction(), apply() in a row.
  void step(std::span<float> x, std::span<float> m, std::span<const float> g, double stepsize, double alpha);

  // m ← β m + α g, and u (layout.size) ← the LMO input: nesterov ? β m + α g : m.
  void momentum(std::span<float> m, std::span<const float> g, double alpha, std::span<float> u) const;
  // d (layout.size) ← lmo(u), block by block, in workspaces from make_workspaces(). Touches nothing else,
  // so several threads may run it at once, each with its own workspaces.
  void direction(std::span<const float> u, std::span<float> d, Workspaces& workspaces) const;
  // x ← x + γ · scale(block) · d.
  void apply(std::span<float> x, std::span<const float> d, double stepsize) const;
  // direction() and apply() of block `block` alone (its slice of u, d and x, its own workspace): blocks
  // touch disjoint memory, so several threads may run different blocks of one update at once, and each
  // block's result is what direction() and apply() compute for it.
  void block_direction(std::size_t block, std::span<const float> u, std::span<float> d, Workspaces& workspaces) const;
  void block_apply(std::size_t block, std::span<float> x, std::span<const float> d, double stepsize) const;
  Workspaces make_workspaces() const;

  // Σ over blocks of ‖g_block‖_* in the block's geometry (the stationarity measure of docs/method.md §3).
  double dual_norm(std::span<const float> g);

  const ParamLayout& layout() const { return layout_; }
  const LmoOptions& options() const { return options_; }

 private:
  ParamLayout layout_;
  bool nesterov_;
  StepScale scale_;
  LmoOptions options_;
  Workspaces workspaces_;                 // one per block, for step() and dual_norm()
  std::vector<float> u_;                  // (layout.size) LMO input
  std::vector<float> d_;                  // (layout.size) LMO output
};

}  // namespace ringmaster
