// Where a worker's samples come from (docs/method.md §6): its own noise stream and, for objectives with
// a training set, its own shuffled pass over the examples. Both are seeded by (run seed, worker,
// epoch of a resumed run) alone, so worker i draws the same samples in the same order under MPI and
// in the simulator, whatever the scheduling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ringmaster/rng.hpp"

namespace ringmaster {

// Visits every one of `examples` indices exactly once per pass (an "epoch" of the data), each pass in
// a fresh uniformly random order. A minibatch that runs past the end of a pass takes the rest from the
// next one.
class EpochSampler {
 public:
  EpochSampler(std::size_t examples, Rng rng);

  // The next out.size() example indices.
  void next(std::span<std::uint32_t> out);

  std::size_t examples() const { return order_.size(); }
  std::uint64_t passes() const { return passes_; }  // passes completed

 private:
  void shuffle();

  Rng rng_;
  std::vector<std::uint32_t> order_;  // (examples) the current pass's order
  std::size_t cursor_ = 0;            // next position in order_
  std::uint64_t passes_ = 0;
};

// One worker's sample source. `examples` = 0 for objectives without a training set.
struct SampleStream {
  SampleStream(std::uint64_t seed, int worker, std::uint32_t epoch, std::size_t training_examples);

  Rng noise;              // gradient noise (the quadratic's ξ)
  EpochSampler examples;  // minibatch indices (learning objectives)
};

}  // namespace ringmaster
