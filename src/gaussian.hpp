// Bulk standard normals by the Box–Muller transform, vectorized: the gradient noise of docs/method.md §6 is
// one draw per parameter per gradient, which made a scalar sampler (Boost's ziggurat, ~9 ns a draw)
// a third of a simulated arrival on the 64×64 quadratic.
#pragma once

#include <cstddef>

namespace ringmaster {

// In place, for i < half: u = out[i] ∈ (0, 1] and v = out[half + i] ∈ [0, 1) become
//   out[i] = scale · r cos θ,  out[half + i] = scale · r sin θ,  r = √(−2 ln u), θ = 2π v,
// two independent N(0, scale²) samples (Box & Muller 1958).
void box_muller(float* out, std::size_t half, float scale);

}  // namespace ringmaster
