// Random streams (docs/method.md §5) and the bulk normals of the gradient noise (Rng::fill_normal_vectorized:
// Box–Muller). The bounds are 6-sigma (or p = 1e-6) bounds for a correct N(0, 1) sampler at the sample
// size used, so a wrong transform (a missing factor, correlated halves, a lost sign) fails them while a
// correct one passes with a fixed seed every time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ringmaster/rng.hpp"

namespace ringmaster {
namespace {

constexpr std::size_t kSamples = std::size_t{1} << 20;

std::vector<float> normals(std::size_t n, float scale = 1.0f, std::uint64_t index = 3) {
  Rng rng(11, Stream::gradient_noise, index);
  std::vector<float> out(n);
  rng.fill_normal_vectorized(out, scale);
  return out;
}

double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(FillNormalVectorized, MomentsOfAStandardNormal) {
  const std::vector<float> x = normals(kSamples);
  const double n = static_cast<double>(x.size());
  double m1 = 0, m2 = 0, m4 = 0;
  for (float v : x) {
    const double d = v;
    m1 += d;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  EXPECT_LT(std::fabs(m1), 6.0 / std::sqrt(n));                  // sd of the mean: 1/√n
  EXPECT_LT(std::fabs(m2 - 1.0), 6.0 * std::sqrt(2.0 / n));      // Var(x²) = 2
  EXPECT_LT(std::fabs(m4 - 3.0), 6.0 * std::sqrt(96.0 / n));     // Var(x⁴) = E x⁸ − 9 = 96
}

// Kolmogorov–Smirnov against Φ: D·√n exceeds 2.69 with probability 1e-6.
TEST(FillNormalVectorized, KolmogorovSmirnovAgainstTheNormalCdf) {
  std::vector<float> x = normals(kSamples);
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = standard_normal_cdf(x[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  EXPECT_LT(d * std::sqrt(n), 2.69);
}

// Each 64-bit draw feeds out[i] and out[half + i] (cos and sin of one angle): they must be independent.
TEST(FillNormalVectorized, PairedHalvesAreUncorrelated) {
  const std::vector<float> x = normals(kSamples);
  const std::size_t half = x.size() / 2;
  double dot = 0.0, dot_squares = 0.0;
  for (std::size_t i = 0; i < half; ++i) {
    dot += static_cast<double>(x[i]) * x[half + i];
    dot_squares += static_cast<double>(x[i]) * x[i] * x[half + i] * x[half + i] - 1.0;  // E x²y² = 1
  }
  const double h = static_cast<double>(half);
  EXPECT_LT(std::fabs(dot / h), 6.0 / std::sqrt(h));
  // cos² θ · sin² θ · r⁴ has mean 1 only if r and θ are as Box–Muller needs; sd ≈ √8.
  EXPECT_LT(std::fabs(dot_squares / h), 6.0 * std::sqrt(8.0 / h));
}

TEST(FillNormalVectorized, ScaleAndOddLengths) {
  const std::vector<float> x = normals(kSamples + 1, 2.5f);  // odd: the last one comes from its own pair
  double m2 = 0.0;
  for (float v : x) m2 += static_cast<double>(v) * v;
  EXPECT_LT(std::fabs(m2 / static_cast<double>(x.size()) - 6.25), 6.0 * 6.25 * std::sqrt(2.0 / kSamples));
  for (std::size_t n : {1u, 2u, 3u, 7u}) {
    const std::vector<float> small = normals(n);
    for (float v : small) EXPECT_TRUE(std::isfinite(v));
    EXPECT_NE(small.front(), 0.0f);
  }
  // |x| ≤ 2.5 · √(−2 ln 2⁻²⁴): the uniform never reaches 0.
  const float bound = 2.5f * std::sqrt(48.0f * std::log(2.0f)) * 1.0001f;
  const auto by_size = [](float a, float b) { return std::fabs(a) < std::fabs(b); };
  EXPECT_LE(std::fabs(*std::max_element(x.begin(), x.end(), by_size)), bound);
}

TEST(FillNormalVectorized, StreamsAreReproducibleAndDistinct) {
  EXPECT_EQ(normals(1000), normals(1000));
  EXPECT_NE(normals(1000, 1.0f, 3), normals(1000, 1.0f, 4));
  // A second call continues the stream rather than repeating it.
  Rng rng(11, Stream::gradient_noise, 3);
  std::vector<float> a(64), b(64);
  rng.fill_normal_vectorized(a, 1.0f);
  rng.fill_normal_vectorized(b, 1.0f);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace ringmaster
