// Random streams. Every random draw in a run comes from the run seed: stream `id` of seed s is an
// independent generator, so worker i's noise and delays never depend on scheduling (docs/method.md §5).
#pragma once

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <cstdint>
#include <random>
#include <span>

namespace ringmaster {

// Stream ids: one namespace per consumer so that no two share a generator.
enum class Stream : std::uint64_t { objective_data = 1, gradient_noise = 2, delays = 3, faults = 4, samples = 5 };

// Stream index of worker i in epoch e (e resumes so far): distinct for every (worker, epoch).
inline std::uint64_t worker_stream(int worker, std::uint32_t epoch) {
  return static_cast<std::uint64_t>(worker) | (static_cast<std::uint64_t>(epoch) << 32);
}

class Rng {
 public:
  Rng(std::uint64_t seed, Stream stream, std::uint64_t index = 0);

  std::uint64_t next() { return engine_(); }
  double uniform();           // [0, 1)
  double normal();            // N(0, 1)
  double exponential();       // Exp(1)
  // Fills out with N(0, scale²) samples, one ziggurat draw each (objective data).
  void fill_normal(std::span<float> out, float scale);
  // The same distribution about three times faster, by a vectorized Box–Muller (gradient noise: one
  // draw per parameter per gradient); tails beyond 5.77σ are cut.
  void fill_normal_vectorized(std::span<float> out, float scale);

  boost::random::mt19937_64& engine() { return engine_; }

 private:
  // MT19937-64: Boost's produces the same sequence as std::mt19937_64 from the same seed_seq, about
  // three times faster than libstdc++'s here (it is inlined; the noise loop draws per element).
  boost::random::mt19937_64 engine_;
  // Boost's ziggurat sampler: several times faster than std::normal_distribution's polar method.
  boost::random::normal_distribution<double> normal_{0.0, 1.0};
  boost::random::normal_distribution<float> normal_float_{0.0f, 1.0f};
};

}  // namespace ringmaster
