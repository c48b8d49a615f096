// FNV-1a, 64 bits: the one hash of the configuration hash and fingerprint (docs/method.md §8), the MPI
// protocol's fingerprint and the sharded server's outcome check. Stable across builds and machines (no
// std::hash), and cheap: none of its uses is a security boundary.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringmaster {

inline constexpr std::uint64_t kFnv1aOffset = 14695981039346656037ull;  // the 64-bit offset basis

// The hash of `bytes`, continuing `hash` (the offset basis for a fresh one).
inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = kFnv1aOffset) {
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 1099511628211ull;  // the 64-bit FNV prime
  }
  return hash;
}

}  // namespace ringmaster
