#include "ringmaster/sampler.hpp"

#include <boost/random/uniform_int_distribution.hpp>
#include <limits>
#include <numeric>
#include <utility>

#include "ringmaster/error.hpp"

namespace ringmaster {

EpochSampler::EpochSampler(std::size_t examples, Rng rng) : rng_(std::move(rng)), order_(examples) {
  if (examples > std::numeric_limits<std::uint32_t>::max())
    throw Error("a training set of " + std::to_string(examples) + " examples is too large (at most 2^32 - 1)");
  std::iota(order_.begin(), order_.end(), std::uint32_t{0});
  shuffle();
}

// Fisher–Yates with Boost's uniform_int_distribution: unbiased, and the same sequence on every
// platform (std::uniform_int_distribution's algorithm is left to the library).
void EpochSampler::shuffle() {
  for (std::size_t i = order_.size(); i > 1; --i) {
    boost::random::uniform_int_distribution<std::size_t> pick(0, i - 1);
    std::swap(order_[i - 1], order_[pick(rng_.engine())]);
  }
  cursor_ = 0;
}

void EpochSampler::next(std::span<std::uint32_t> out) {
  if (order_.empty()) throw Error("EpochSampler::next: the objective has no training examples");
  for (std::uint32_t& index : out) {
    if (cursor_ == order_.size()) {
      ++passes_;
      shuffle();
    }
    index = order_[cursor_++];
  }
}

SampleStream::SampleStream(std::uint64_t seed, int worker, std::uint32_t epoch, std::size_t training_examples)
    : noise(seed, Stream::gradient_noise, worker_stream(worker, epoch)),
      examples(training_examples, Rng(seed, Stream::samples, worker_stream(worker, epoch))) {}

}  // namespace ringmaster
