// exp and tanh over float arrays as SIMD (glibc's libmvec): the gpt network's soft cap and softmaxes
// (docs/method.md §6), where scalar expf and tanhf calls took a sixth of a small model's gradient.
#pragma once

#include <cstddef>

namespace ringmaster {

// x[i] ← cap · tanh(x[i] / cap), in place.
void softcap_floats(float* x, std::size_t n, float cap);
// out[i] ← exp(in[i] − shift) (out may be in); returns Σ out[i].
float exp_sum_floats(float* out, const float* in, std::size_t n, float shift);

}  // namespace ringmaster
