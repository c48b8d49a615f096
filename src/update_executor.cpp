#include "ringmaster/update_executor.hpp"

#include <sched.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "ringmaster/lane_team.hpp"

namespace ringmaster {
namespace {

class ImmediateUpdates final : public UpdateExecutor {
 public:
  ImmediateUpdates(LmoOptimizer& optimizer, std::span<float> x, std::int64_t version)
      : optimizer_(optimizer), x_(x), applied_(version) {}

  void lmo_step(std::span<float> m, std::span<const float> g, double stepsize, double alpha) override {
    optimizer_.step(x_, m, g, stepsize, alpha);
    ++applied_;
  }
  void settle(std::int64_t) override {}  // nothing is ever queued
  void advance() override { ++applied_; }
  std::int64_t applied() const override { return applied_; }

 private:
  LmoOptimizer& optimizer_;
  std::span<float> x_;  // (layout.size) the server's parameters
  std::int64_t applied_;
};

// The steps of LmoOptimizer::step with the per-block part on a LaneTeam: momentum over the flat buffers
// (the caller), then for every block lmo(u) into d and x ← x + γ·scale·d, each block a task.
class BlockParallelUpdates final : public UpdateExecutor {
 public:
  BlockParallelUpdates(LmoOptimizer& optimizer, std::span<float> x, std::int64_t version, int lanes)
      : optimizer_(optimizer),
        x_(x),
        applied_(version),
        u_(optimizer.layout().size(), 0.0f),
        d_(optimizer.layout().size(), 0.0f),
        workspaces_(optimizer.make_workspaces()),
        order_(optimizer.layout().blocks().size()),
        team_(lanes) {
    // Longest first: the largest LMOs start at once, and the small ones fill the gaps at the end.
    const auto& blocks = optimizer.layout().blocks();
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
      return lmo_flops(blocks[a], optimizer.options()) > lmo_flops(blocks[b], optimizer.options());
    });
  }

  void lmo_step(std::span<float> m, std::span<const float> g, double stepsize, double alpha) override {
    optimizer_.momentum(m, g, alpha, u_);
    team_.run(order_.size(), [&](std::size_t task) {
      const std::size_t block = order_[task];
      optimizer_.block_direction(block, u_, d_, workspaces_);  // touches only this block's workspace
      optimizer_.block_apply(block, x_, d_, stepsize);
    });
    ++applied_;
  }
  void settle(std::int64_t) override {}  // nothing is ever queued
  void advance() override { ++applied_; }
  std::int64_t applied() const override { return applied_; }

 private:
  const LmoOptimizer& optimizer_;
  std::span<float> x_;  // (layout.size) the server's parameters
  std::int64_t applied_;
  std::vector<float> u_;         // (layout.size) LMO input
  std::vector<float> d_;         // (layout.size) LMO output
  Workspaces workspaces_;        // one per block: a block's task is the only one to touch its own
  std::vector<std::size_t> order_;  // block indices, largest lmo_flops first
  LaneTeam team_;
};

}  // namespace

int block_parallel_lanes(const ParamLayout& layout, const LmoOptions& options, int threads, double min_flops) {
  double flops = 0.0;
  for (const Block& b : layout.blocks()) flops += lmo_flops(b, options);
  if (flops < min_flops || layout.blocks().size() > LaneTeam::kMaxTasks) return 1;
  return std::clamp(threads, 1, static_cast<int>(layout.blocks().size()));
}

UpdateExecutorFactory block_parallel_updates(int threads, double min_flops) {
  return [threads, min_flops](LmoOptimizer& optimizer, std::span<float> x,
                              std::int64_t version) -> std::unique_ptr<UpdateExecutor> {
    const int lanes = block_parallel_lanes(optimizer.layout(), optimizer.options(), threads, min_flops);
    if (lanes < 2) return std::make_unique<ImmediateUpdates>(optimizer, x, version);
    return std::make_unique<BlockParallelUpdates>(optimizer, x, version, lanes);
  };
}

UpdateExecutorFactory immediate_updates() {
  return [](LmoOptimizer& optimizer, std::span<float> x, std::int64_t version) -> std::unique_ptr<UpdateExecutor> {
    return std::make_unique<ImmediateUpdates>(optimizer, x, version);
  };
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace ringmaster
