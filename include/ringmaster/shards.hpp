// The sharded server's key ranges (ps-lite's server key ranges, docs/method.md §7 "Sharded server"): S
// server shards each own a contiguous run of the layout's blocks — never part of a block, since a block's
// LMO needs the whole block — chosen so that the most expensive shard's share of one update is as small
// as a contiguous split allows. A shard's blocks form a layout of their own (offsets from 0), on which
// a Server runs as it would on the whole model: momentum, LMO and step are per block, so the shards'
// slices of x after N updates are the whole-model server's, bit for bit, when every shard applies the
// same decisions in the same order.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/layout.hpp"
#include "ringmaster/lmo.hpp"

namespace ringmaster {

// The cost one update spends on a block, in flops: its LMO (lmo_flops) plus the passes over its floats
// that every block pays whatever its geometry (momentum, step, the point's copy into a message).
double block_update_flops(const Block& block, const LmoOptions& options);

class ShardPlan {
 public:
  // Splits `layout` into `shards` contiguous runs of blocks minimizing the largest run's
  // block_update_flops (ties: the earliest split). Throws Error when shards < 1 or the layout has fewer
  // blocks than shards (naming server.shards and the block count).
  ShardPlan(const ParamLayout& layout, const LmoOptions& options, int shards);

  int shards() const { return static_cast<int>(layouts_.size()); }
  // Shard s owns blocks [first_block(s), first_block(s + 1)) of the whole layout, floats [begin(s), end(s)).
  std::size_t first_block(int s) const { return first_block_[static_cast<std::size_t>(s)]; }
  std::size_t begin(int s) const { return begin_[static_cast<std::size_t>(s)]; }
  std::size_t end(int s) const { return begin_[static_cast<std::size_t>(s) + 1]; }
  std::size_t size(int s) const { return end(s) - begin(s); }
  // Shard s's blocks as a layout of their own: same names, shapes, roles, geometries and multipliers,
  // offsets from 0.
  const ParamLayout& layout(int s) const { return layouts_[static_cast<std::size_t>(s)]; }
  // block_update_flops summed over shard s's blocks, and its share of the whole update's.
  double flops(int s) const { return flops_[static_cast<std::size_t>(s)]; }
  double share(int s) const { return total_flops_ > 0.0 ? flops(s) / total_flops_ : 1.0 / shards(); }
  // The largest share: what an update costs the slowest shard, relative to one server doing it all.
  double max_share() const;
  // Shard s's slice of a buffer laid out by the whole layout.
  std::span<float> slice(std::span<float> whole, int s) const { return whole.subspan(begin(s), size(s)); }
  std::span<const float> slice(std::span<const float> whole, int s) const { return whole.subspan(begin(s), size(s)); }
  // A copy of it (a shard's x0, or its part of a checkpoint's arrays).
  std::vector<float> copy_slice(std::span<const float> whole, int s) const {
    const std::span<const float> part = slice(whole, s);
    return {part.begin(), part.end()};
  }
  // "X0..X3 | X4..X7": the blocks each shard owns, for the log.
  std::string describe() const;

 private:
  std::vector<std::size_t> first_block_;  // (shards + 1)
  std::vector<std::size_t> begin_;        // (shards + 1) float offsets
  std::vector<ParamLayout> layouts_;      // (shards)
  std::vector<double> flops_;             // (shards)
  double total_flops_ = 0.0;
};

}  // namespace ringmaster
