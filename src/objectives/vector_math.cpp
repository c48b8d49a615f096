// Compiled with -ffast-math (CMakeLists.txt): only then does glibc declare the SIMD variants of expf and tanhf
// (libmvec: within 4 ulp by glibc's bound, scalar ones within 1; tests/test_gpt.cpp checks it), so that GCC
// vectorizes these loops, the sum included (fast-math lets it reassociate); target_clones adds an AVX2
// version chosen at load time. Inputs are finite (the soft cap bounds the logits, QK-norm the scores), as
// fast-math assumes. Results are deterministic for a given binary and CPU.
#include "objectives/vector_math.hpp"

#include <cmath>

namespace ringmaster {

__attribute__((target_clones("avx2", "default"))) void softcap_floats(float* x, std::size_t n, float cap) {
  const float inv = 1.0f / cap;
  for (std::size_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}

__attribute__((target_clones("avx2", "default"))) float exp_sum_floats(float* out, const float* in, std::size_t n,
                                                                       float shift) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) sum += (out[i] = std::exp(in[i] - shift));
  return sum;
}

}  // namespace ringmaster
