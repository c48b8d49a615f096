// The LMO momentum step of docs/method.md §3 over every block of a parameter layout:
//   m ← β m + α g;   u ← nesterov ? β m + α g : m;   x ← x + γ · scale(block) · lmo(u),   β = 1 − α.
// The momentum lines are the same rule for every block, so they run once over the flat buffers; only
// the LMO (and its scale) is per block.
#include "ringmaster/optimizer.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "ringmaster/error.hpp"

namespace ringmaster {

StepScale parse_step_scale(const std::string& name) { return kStepScaleNames.parse(name); }
std::string to_string(StepScale s) { return std::string(kStepScaleNames.name(s)); }

double block_scale(const Block& block, StepScale scale) {
  // Muon's shape factor (docs/method.md §3): a tall spectral block's polar factor has unit singular values but
  // small entries, so its step is lengthened by sqrt(rows/cols); wide and square blocks keep 1.
  if (scale != StepScale::muon || block.geometry != Geometry::spectral) return 1.0;
  return std::sqrt(std::max(1.0, static_cast<double>(block.rows) / static_cast<double>(block.cols)));
}

double lmo_flops(const Block& block, const LmoOptions& options) {
  if (block.geometry == Geometry::spectral) return spectral_lmo_flops(block.rows, block.cols, options);
  return 4.0 * static_cast<double>(block.rows) * static_cast<double>(block.cols);
}

LmoOptimizer::LmoOptimizer(const ParamLayout& layout, const LmoOptions& options, bool nesterov, StepScale scale)
    : layout_(layout),
      nesterov_(nesterov),
      scale_(scale),
      options_(options),
      workspaces_(make_workspaces()),
      u_(layout.size(), 0.0f),
      d_(layout.size(), 0.0f) {}

Workspaces make_workspaces(const ParamLayout& layout, const LmoOptions& options) {
  Workspaces workspaces;
  workspaces.reserve(layout.blocks().size());
  for (const Block& b : layout.blocks()) workspaces.emplace_back(b.rows, b.cols, b.geometry, options);
  return workspaces;
}

Workspaces LmoOptimizer::make_workspaces() const { return ringmaster::make_workspaces(layout_, options_); }

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
  check_size("x", x.size(), layout_.size());
  momentum(m, g, alpha, u_);
  direction(u_, d_, workspaces_);
  apply(x, d_, stepsize);
}

void LmoOptimizer::momentum(std::span<float> m, std::span<const float> g, double alpha, std::span<float> u) const {
  const std::size_t n = layout_.size();
  check_size("m", m.size(), n);
  check_size("g", g.size(), n);
  check_size("u", u.size(), n);
  const float a = static_cast<float>(alpha);
  const float beta = static_cast<float>(1.0 - alpha);
  // One plain pass, not BLAS-1 calls over the whole buffer: OpenBLAS's saxpy rounds the elements of its
  // vector body (fused multiply-add) and of its scalar tail differently, so an element's result would
  // depend on where the buffer starts and ends — and a sharded server (shards.hpp), whose shards run this
  // over their slices, would drift from the single server bit by bit. Here every element gets the same
  // two roundings wherever it sits; one pass over m, g, u is also fewer than the five BLAS passes were.
  float* mp = m.data();
  const float* gp = g.data();
  float* up = u.data();
  if (nesterov_) {
    for (std::size_t i = 0; i < n; ++i) {
      const float ag = a * gp[i];
      const float mi = beta * mp[i] + ag;  // m ← β m + α g
      mp[i] = mi;
      up[i] = beta * mi + ag;              // u ← β m + α g (with the new m)
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) up[i] = mp[i] = beta * mp[i] + a * gp[i];  // u ← m ← β m + α g
  }
}

void LmoOptimizer::direction(std::span<const float> u, std::span<float> d, Workspaces& workspaces) const {
  check_size("u", u.size(), layout_.size());
  check_size("d", d.size(), layout_.size());
  for (std::size_t i = 0; i < layout_.blocks().size(); ++i) block_direction(i, u, d, workspaces);
}

void LmoOptimizer::block_direction(std::size_t block, std::span<const float> u, std::span<float> d,
                                   Workspaces& workspaces) const {
  const Block& b = layout_.blocks()[block];
  lmo(b.geometry, u.data() + b.offset, d.data() + b.offset, b.rows, b.cols, workspaces[block]);
}

void LmoOptimizer::apply(std::span<float> x, std::span<const float> d, double stepsize) const {
  check_size("x", x.size(), layout_.size());
  check_size("d", d.size(), layout_.size());
  for (std::size_t i = 0; i < layout_.blocks().size(); ++i) block_apply(i, x, d, stepsize);
}

void LmoOptimizer::block_apply(std::size_t block, std::span<float> x, std::span<const float> d,
                               double stepsize) const {
  const Block& b = layout_.blocks()[block];
  const float factor = static_cast<float>(stepsize * b.multiplier * block_scale(b, scale_));
  // x ← x + γ·multiplier·scale·lmo(u)   (multiplier: the block role's, docs/method.md §6)
  cblas_saxpy(static_cast<int>(b.size()), factor, d.data() + b.offset, 1, x.data() + b.offset, 1);
}

double dual_norm(const ParamLayout& layout, std::span<const float> g, Workspaces& workspaces) {
  check_size("g", g.size(), layout.size());
  double total = 0.0;
  for (std::size_t i = 0; i < layout.blocks().size(); ++i) {
    const Block& b = layout.blocks()[i];
    total += dual_norm(b.geometry, g.data() + b.offset, b.rows, b.cols, workspaces[i]);
  }
  return total;
}

double LmoOptimizer::dual_norm(std::span<const float> g) { return ringmaster::dual_norm(layout_, g, workspaces_); }

}  // namespace ringmaster
