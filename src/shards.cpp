// ShardPlan: a min–max contiguous split of the blocks (dynamic programming over split points; a layout
// has tens of blocks and S ≤ a few dozen shards, so O(S·B²) is nothing).
#include "ringmaster/shards.hpp"

#include <algorithm>
#include <limits>

#include "ringmaster/error.hpp"
#include "ringmaster/optimizer.hpp"

namespace ringmaster {

double block_update_flops(const Block& block, const LmoOptions& options) {
  // Momentum (2 flops per float, nesterov's second mix 2 more), the step (2) and the copy of the point
  // into a message (1): ~7 passes' worth per float beside the LMO.
  constexpr double kElementwisePerFloat = 7.0;
  return lmo_flops(block, options) + kElementwisePerFloat * static_cast<double>(block.size());
}

ShardPlan::ShardPlan(const ParamLayout& layout, const LmoOptions& options, int shards) {
  const std::vector<Block>& blocks = layout.blocks();
  const std::size_t n = blocks.size();
  if (shards < 1) throw Error("server.shards = " + std::to_string(shards) + ": must be at least 1");
  const auto s_count = static_cast<std::size_t>(shards);
  if (n < s_count) {
    throw Error("server.shards = " + std::to_string(shards) + ": the model has " + std::to_string(n) +
                " parameter block" + (n == 1 ? "" : "s") +
                " and a shard owns whole blocks; use at most " + std::to_string(n) + " shard" + (n == 1 ? "" : "s"));
  }
  // prefix[i] = cost of blocks [0, i).
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + block_update_flops(blocks[i], options);
  total_flops_ = prefix[n];
  // best[s][i]: the smallest largest-shard cost of blocks [0, i) in s shards (each non-empty); cut[s][i]
  // the start of the last shard in that split.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(s_count + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<std::size_t>> cut(s_count + 1, std::vector<std::size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (std::size_t s = 1; s <= s_count; ++s) {
    for (std::size_t i = s; i <= n; ++i) {
      for (std::size_t j = s - 1; j < i; ++j) {
        const double cost = std::max(best[s - 1][j], prefix[i] - prefix[j]);
        if (cost < best[s][i]) {  // strict: the earliest split wins ties
          best[s][i] = cost;
          cut[s][i] = j;
        }
      }
    }
  }
  first_block_.assign(s_count + 1, n);
  for (std::size_t s = s_count, i = n; s > 0; --s) {
    i = cut[s][i];
    first_block_[s - 1] = i;
  }
  begin_.resize(s_count + 1);
  for (std::size_t s = 0; s <= s_count; ++s)
    begin_[s] = first_block_[s] < n ? blocks[first_block_[s]].offset : layout.size();
  layouts_.resize(s_count);
  flops_.resize(s_count);
  for (std::size_t s = 0; s < s_count; ++s) {
    for (std::size_t b = first_block_[s]; b < first_block_[s + 1]; ++b) {
      const Block& block = blocks[b];
      const std::size_t index = layouts_[s].add(block.name, block.rows, block.cols, block.geometry);
      layouts_[s].set_role(index, block.role, block.multiplier);
    }
    flops_[s] = prefix[first_block_[s + 1]] - prefix[first_block_[s]];
  }
}

double ShardPlan::max_share() const {
  double largest = 0.0;
  for (int s = 0; s < shards(); ++s) largest = std::max(largest, share(s));
  return largest;
}

std::string ShardPlan::describe() const {
  std::string text;
  for (int s = 0; s < shards(); ++s) {
    const std::vector<Block>& blocks = layout(s).blocks();
    if (s > 0) text += " | ";
    text += blocks.front().name;
    if (blocks.size() > 1) text += ".." + blocks.back().name;
  }
  return text;
}

}  // namespace ringmaster
