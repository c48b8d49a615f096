// The LMO momentum step of SPEC §3 over every block of a parameter layout:
//   m ← β m + α g;   u ← nesterov ? β m + α g : m;   x ← x + γ · scale(block) · lmo(u),   β = 1 − α.
// The momentum lines are the same rule for every block, so they run once over the flat buffers; only
// the LMO (and its scale) is per block.
#include "ringmaster/optimizer.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "ringmaster/error.hpp"

namespace ringmaster {

StepScale parse_step_scale(const std::string& name) {
  if (name == "muon") return StepScale::muon;
  if (name == "none") return StepScale::none;
  throw Error("unknown lmo scale '" + name + "'; expected one of: muon, none");
}

std::string to_string(StepScale s) { return s == StepScale::muon ? "muon" : "none"; }

double block_scale(const Block& block, StepScale scale) {
  // Muon's shape factor (SPEC §3): a tall spectral block's polar factor has unit singular values but
  // small entries, so its step is lengthened by sqrt(rows/cols); wide and square blocks keep 1.
  if (scale != StepScale::muon || block.geometry != Geometry::spectral) return 1.0;
  return std::sqrt(std::max(1.0, static_cast<double>(block.rows) / static_cast<double>(block.cols)));
}

LmoOptimizer::LmoOptimizer(const ParamLayout& layout, const LmoOptions& options, bool nesterov, StepScale scale)
    : layout_(layout), nesterov_(nesterov), scale_(scale), u_(layout.size(), 0.0f), d_(layout.size(), 0.0f) {
  workspaces_.reserve(layout_.blocks().size());
  for (const Block& b : layout_.blocks()) workspaces_.emplace_back(b.rows, b.cols, b.geometry, options);
}

namespace {

void check_size(const char* what, std::size_t got, std::size_t want) {
  if (got != want) {
    throw Error(std::string("optimizer: ") + what + " has " + std::to_string(got) + " floats, the layout " +
                std::to_string(want));
  }
}

}  // namespace

void LmoOptimizer::step(std::span<float> x, std::span<float> m, std::span<const float> g, double stepsize,
                        double alpha) {
  const std::size_t n = layout_.size();
  check_size("x", x.size(), n);
  check_size("m", m.size(), n);
  check_size("g", g.size(), n);
  const int count = static_cast<int>(n);
  const float a = static_cast<float>(alpha);
  const float beta = static_cast<float>(1.0 - alpha);

  cblas_saxpby(count, a, g.data(), 1, beta, m.data(), 1);  // m ← β m + α g
  cblas_scopy(count, m.data(), 1, u_.data(), 1);           // u ← m
  if (nesterov_) cblas_saxpby(count, a, g.data(), 1, beta, u_.data(), 1);  // u ← β m + α g (new m)

  for (std::size_t i = 0; i < layout_.blocks().size(); ++i) {
    const Block& b = layout_.blocks()[i];
    float* d = d_.data() + b.offset;  // (rows, cols) lmo(u) of this block
    lmo(b.geometry, u_.data() + b.offset, d, b.rows, b.cols, workspaces_[i]);
    const float factor = static_cast<float>(stepsize * block_scale(b, scale_));
    cblas_saxpy(static_cast<int>(b.size()), factor, d, 1, x.data() + b.offset, 1);  // x ← x + γ·scale·lmo(u)
  }
}

double LmoOptimizer::dual_norm(std::span<const float> g) {
  check_size("g", g.size(), layout_.size());
  double total = 0.0;
  for (std::size_t i = 0; i < layout_.blocks().size(); ++i) {
    const Block& b = layout_.blocks()[i];
    total += ringmaster::dual_norm(b.geometry, g.data() + b.offset, b.rows, b.cols, workspaces_[i]);
  }
  return total;
}

}  // namespace ringmaster
