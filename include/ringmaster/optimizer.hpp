// The update of one accepted step (SPEC §3), over every block of a layout:
//   m ← β m + α g;   u ← nesterov ? β m + α g : m;   x ← x + γ · scale(block) · lmo(u)
// with β = 1 − α. Workspaces (one per block) and the direction buffer are allocated once.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "ringmaster/layout.hpp"
#include "ringmaster/lmo.hpp"

namespace ringmaster {

enum class StepScale { muon, none };
StepScale parse_step_scale(const std::string& name);
std::string to_string(StepScale s);

// sqrt(max(1, rows/cols)) for spectral blocks under scale = "muon"; 1 otherwise.
double block_scale(const Block& block, StepScale scale);

class LmoOptimizer {
 public:
  LmoOptimizer(const ParamLayout& layout, const LmoOptions& options, bool nesterov, StepScale scale);

  // One momentum + LMO step with stepsize γ and momentum weight α (β = 1 − α). Updates x and m.
  void step(std::span<float> x, std::span<float> m, std::span<const float> g, double stepsize, double alpha);

  // Σ over blocks of ‖g_block‖_* in the block's geometry (the stationarity measure of SPEC §3).
  double dual_norm(std::span<const float> g);

  const ParamLayout& layout() const { return layout_; }

 private:
  ParamLayout layout_;
  bool nesterov_;
  StepScale scale_;
  std::vector<LmoWorkspace> workspaces_;  // one per block
  std::vector<float> u_;                  // (layout.size) LMO input
  std::vector<float> d_;                  // (layout.size) LMO output
};

}  // namespace ringmaster
