// Compiled with -ffast-math (CMakeLists.txt): only then does glibc declare the SIMD variants of logf
// and sinf (libmvec), so that GCC vectorizes the loop below; target_clones adds an AVX2 version,
// chosen at load time on CPUs that have it. Inputs are never 0, negative, NaN or infinite, so
// fast-math's assumptions hold. Results are deterministic for a given binary and CPU.
#include "gaussian.hpp"

#include <cmath>

namespace ringmaster {

__attribute__((target_clones("avx2", "default"))) void box_muller(float* out, std::size_t half, float scale) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  constexpr float kHalfPi = 1.57079632679489661923f;
  for (std::size_t i = 0; i < half; ++i) {
    const float r = scale * std::sqrt(-2.0f * std::log(out[i]));
    const float theta = kTwoPi * out[half + i];
    // cos θ written as sin(θ + π/2): GCC fuses sin and cos of one argument into sincosf, which has no
    // vectorized variant, and the loop would stay scalar.
    out[i] = r * std::sin(theta + kHalfPi);
    out[half + i] = r * std::sin(theta);
  }
}

}  // namespace ringmaster
