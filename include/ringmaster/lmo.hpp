// Linear minimization oracles (docs/method.md §3): lmo(u) = argmin_{‖d‖≤1} <u, d> for the norm of a block's
// geometry. Each geometry is one function over a row-major rows×cols block. Spectral back-ends need
// scratch space: an LmoWorkspace is allocated once per block and reused, so no call allocates.
#pragma once

#include <string>
#include <vector>

#include "ringmaster/choices.hpp"

namespace ringmaster {

enum class Geometry { spectral, l2, sign, colnorm, rownorm, none };
// newton-schulz iterates on the s×l block; gram-newton-schulz runs the same polynomial on s×s Gram
// matrices where that costs fewer flops (docs/method.md §3); svd is exact.
enum class SpectralBackend { newton_schulz, svd, gram_newton_schulz };
enum class NsCoefficients { polar_express, muon };

inline constexpr Choices<Geometry, 6> kGeometryNames{{{{Geometry::spectral, "spectral"},
                                                      {Geometry::l2, "l2"},
                                                      {Geometry::sign, "sign"},
                                                      {Geometry::colnorm, "colnorm"},
                                                      {Geometry::rownorm, "rownorm"},
                                                      {Geometry::none, "none"}}}};
inline constexpr Choices<SpectralBackend, 3> kBackendNames{
    {{{SpectralBackend::newton_schulz, "newton-schulz"},
      {SpectralBackend::gram_newton_schulz, "gram-newton-schulz"},
      {SpectralBackend::svd, "svd"}}}};
inline constexpr Choices<NsCoefficients, 2> kCoefficientNames{
    {{{NsCoefficients::polar_express, "polar-express"}, {NsCoefficients::muon, "muon"}}}};

Geometry parse_geometry(const std::string& name);  // throws Error naming the accepted values
std::string to_string(Geometry g);
SpectralBackend parse_backend(const std::string& name);
std::string to_string(SpectralBackend b);
NsCoefficients parse_ns_coefficients(const std::string& name);
std::string to_string(NsCoefficients c);

struct LmoOptions {
  SpectralBackend backend = SpectralBackend::newton_schulz;
  int ns_steps = 5;
  NsCoefficients coefficients = NsCoefficients::polar_express;
};

// Quintic Newton–Schulz coefficients (a, b, c) of step `step` (0-based) for a coefficient set.
struct NsStep {
  double a, b, c;
};
NsStep ns_coefficients(NsCoefficients set, int step);

// Whether the spectral LMO of a rows×cols block runs Newton–Schulz in the Gram form: with the
// gram-newton-schulz back-end, ns_steps ≥ 3, and only where that form costs fewer flops than the direct one
// (with 5 steps: l > 2.56 s up to s = 64, l > 4s/3 or less above; never for square blocks). Elsewhere
// gram-newton-schulz is newton-schulz, bit for bit.
bool uses_gram_form(int rows, int cols, const LmoOptions& options);

// Floating-point operations of one spectral LMO of a rows×cols block as implemented, for s = min and
// l = max of the sides and n = ns_steps: the direct form n·(3s²l + s³) (X Xᵀ and A² by ssyrk, one
// sgemm); the Gram form 6s²l + n·S + (n − 2)(S + 2P), S and P symmetric_product_flops(s) of a square and
// of a product; svd, as a cost model, 4× the direct form (gesdd measured 2–5× Newton–Schulz:
// docs/benchmarks.md, "LMO back-ends").
double spectral_lmo_flops(int rows, int cols, const LmoOptions& options);

// Flops of one product of s×s symmetric, commuting matrices (a square if `square`) as the Gram form computes
// it: one whole sgemm, 2s³, up to s = 64; above, a square by ssyrk, s³, and a product by row bands covering
// the upper triangle, ~(4/3)s³ for large s.
double symmetric_product_flops(int s, bool square);

// Scratch buffers for the spectral LMO of one rows×cols block. The constructor allocates only what the
// geometry and back-end need (nothing for non-spectral geometries); the SVD buffers that a spectral
// geometry_norm/dual_norm needs are allocated by the first such call (reserve_svd_values) and reused.
class LmoWorkspace {
 public:
  LmoWorkspace() = default;
  LmoWorkspace(int rows, int cols, Geometry geometry, const LmoOptions& options);

  // Allocates (once) a, sv, work, iwork for singular values only (gesdd jobz = 'N'); no-op afterwards.
  void reserve_svd_values();

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const LmoOptions& options() const { return options_; }

  // Newton–Schulz on the wide orientation (s = min(rows, cols), l = max(rows, cols)):
  std::vector<float> x;    // (s, l) current iterate (the Gram form: X₁, the iterate after the first step)
  std::vector<float> y;    // (s, l) next iterate (not in the Gram form)
  std::vector<float> gram; // (s, s) A = X Xᵀ (the Gram form: the Gram iterate R)
  std::vector<float> poly; // (s, s) bA + cA² (the Gram form: Z = aI + bR + cR²)
  // The Gram form only (uses_gram_form):
  std::vector<float> square;   // (s, s) Z²
  std::vector<float> q;        // (s, s) Q, the product of the Z's so far
  std::vector<float> product;  // (s, s) the symmetric products Q·Z and R·Z² before they replace Q and R
  // SVD (LAPACKE gesdd), also used for the nuclear norm:
  std::vector<float> a;    // (rows, cols) copy destroyed by gesdd
  std::vector<float> sv;   // (s) singular values
  std::vector<float> u;    // (rows, s)
  std::vector<float> vt;   // (s, cols)
  std::vector<float> work; // (lwork) gesdd scratch, size queried once in the constructor
  std::vector<int> iwork;  // (8 s) gesdd integer scratch

  int lwork_vectors() const { return lwork_vectors_; }  // gesdd jobz = 'S' (the svd back-end)
  int lwork_values() const { return lwork_values_; }    // gesdd jobz = 'N' (norms)

 private:
  int rows_ = 0;
  int cols_ = 0;
  LmoOptions options_{};
  int lwork_vectors_ = 0;
  int lwork_values_ = 0;
};

// d = lmo(u) for one row-major rows×cols block; u and d must not alias. A zero u gives d = 0.
// ws is only touched by the spectral geometry and must have been built for (rows, cols).
void lmo(Geometry geometry, const float* u, float* d, int rows, int cols, LmoWorkspace& ws);

// The individual oracles (each a pure function of its input, d = lmo(u)).
void lmo_spectral_newton_schulz(const float* u, float* d, int rows, int cols, LmoWorkspace& ws);
void lmo_spectral_gram_newton_schulz(const float* u, float* d, int rows, int cols, LmoWorkspace& ws);
void lmo_spectral_svd(const float* u, float* d, int rows, int cols, LmoWorkspace& ws);
void lmo_l2(const float* u, float* d, int rows, int cols);
void lmo_sign(const float* u, float* d, int rows, int cols);
void lmo_colnorm(const float* u, float* d, int rows, int cols);
void lmo_rownorm(const float* u, float* d, int rows, int cols);
void lmo_none(const float* u, float* d, int rows, int cols);

// ‖u‖ in the geometry's norm, and its dual norm ‖u‖_* (the stationarity measure of docs/method.md §3).
// For spectral, the norm is the largest singular value and the dual the nuclear norm (SVD in ws).
double geometry_norm(Geometry geometry, const float* u, int rows, int cols, LmoWorkspace& ws);
double dual_norm(Geometry geometry, const float* u, int rows, int cols, LmoWorkspace& ws);

}  // namespace ringmaster
