#include "ringmaster/rng.hpp"

#include <array>

#include "gaussian.hpp"

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

void Rng::fill_normal_vectorized(std::span<float> out, float scale) {
  // One 64-bit draw per pair of normals: its top 24 bits give u ∈ (0, 1] (never 0: ln u is finite),
  // 24 more give v ∈ [0, 1). The first half of `out` takes the u's, the second half the v's, so that
  // box_muller() runs as one vectorized pass. r = √(−2 ln u) ≤ √(48 ln 2) ≈ 5.77: the tails beyond
  // 5.77σ (probability 8e-9) are cut, which no optimizer on this noise can notice.
  const auto pair = [this](float& u, float& v) {
    const std::uint64_t w = engine_();
    u = static_cast<float>((w >> 40) + 1) * 0x1p-24f;
    v = static_cast<float>((w >> 8) & 0xffffffu) * 0x1p-24f;
  };
  const std::size_t half = out.size() / 2;
  for (std::size_t i = 0; i < half; ++i) pair(out[i], out[half + i]);
  box_muller(out.data(), half, scale);
  if (out.size() % 2 == 1) {  // the odd one out: a pair of its own, one normal kept
    std::array<float, 2> last{};
    pair(last[0], last[1]);
    box_muller(last.data(), 1, scale);
    out.back() = last[0];
  }
}

}  // namespace ringmaster
