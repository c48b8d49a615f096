#include "ringmaster/rng.hpp"

namespace ringmaster {

Rng::Rng(std::uint64_t seed, Stream stream, std::uint64_t index) {
  // seed_seq mixes all three words, so streams of one seed (and equal streams of nearby seeds) are
  // decorrelated rather than offset copies of each other.
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(index),
                    static_cast<std::uint32_t>(index >> 32)};
  engine_.seed(seq);
}

double Rng::uniform() { return std::generate_canonical<double, 53>(engine_); }

double Rng::normal() { return normal_(engine_); }

double Rng::exponential() {
  std::exponential_distribution<double> exp(1.0);
  return exp(engine_);
}

void Rng::fill_normal(std::span<float> out, float scale) {
  for (float& v : out) v = scale * normal_float_(engine_);
}

}  // namespace ringmaster
