// Tests of the linear minimization oracles (docs/method.md §3, src/lmo.cpp).
//
// Properties, not recorded numbers:
//   * an exact LMO attains <u, lmo(u)> = −‖u‖_* and has norm 1 in its own norm;
//   * the svd polar factor is orthogonal on its short side;
//   * Newton–Schulz applies a known scalar polynomial map p to each Frobenius-normalized singular
//     value, so its output's singular values are predicted from the input's, and bounded where the
//     input's spectrum is bounded;
//   * a zero input gives a zero direction, never NaN; no call allocates.
//
// Tolerances. float32 ε = 2^−23 ≈ 1.19e-7. Reference quantities are computed in double.
//   * kExact = 1e-4 (relative): LAPACK's SVD is backward stable, σ and singular vectors carry errors
//     ≲ p(n)·ε with p(n) of order the dimension (≤ 300 here): 300·1.19e-7 ≈ 3.6e-5 < 1e-4.
//   * Newton–Schulz: see kNsAbs below.
#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/lmo.hpp"
#include "spectral_check.hpp"

// --- allocation counter: every C++ allocation in this binary goes through these ---------------------
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// noinline: once inlined, GCC sees malloc/free flow through new/delete expressions and warns
// (-Wmismatched-new-delete), although the replacements here are a matched malloc/free pair.
__attribute__((noinline)) void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ringmaster {
namespace {

constexpr double kExact = 1e-4;

using Matrix = std::vector<float>;  // row-major

struct Shape {
  int rows, cols;
};

std::string name(Shape s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

// Shapes that exercise both orientations, a square, vectors either way, and a ragged tall block.
const std::vector<Shape> kShapes{{1, 64}, {64, 1}, {32, 32}, {64, 256}, {256, 64}, {300, 17}};

Matrix gaussian(int rows, int cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Matrix m(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  for (float& v : m) v = normal(rng);
  return m;
}

// A rank-`rank` rows×cols matrix: (rows×rank gaussian)·(rank×cols gaussian).
Matrix low_rank(int rows, int cols, int rank, unsigned seed) {
  const Matrix left = gaussian(rows, rank, seed);
  const Matrix right = gaussian(rank, cols, seed + 1);
  Matrix m(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, rank, 1.0f, left.data(), rank, right.data(), cols,
              0.0f, m.data(), cols);
  return m;
}

double inner(const Matrix& a, const Matrix& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double frobenius(const Matrix& a) { return std::sqrt(inner(a, a)); }

bool all_finite(const Matrix& a) {
  return std::all_of(a.begin(), a.end(), [](float v) { return std::isfinite(v); });
}

// Singular values (descending) in double precision, as the reference.
std::vector<double> singular_values(const Matrix& a, int rows, int cols) {
  return ringmaster::singular_values(a.data(), rows, cols);
}

// The scalar map Newton–Schulz applies to each normalized singular value: x ← ax + bx³ + cx⁵ per step.
double ns_scalar_map(double x, NsCoefficients set, int steps) {
  for (int k = 0; k < steps; ++k) {
    const NsStep c = ns_coefficients(set, k);
    x = c.a * x + c.b * x * x * x + c.c * x * x * x * x * x;
  }
  return x;
}

// [min, max] of the map over [lo, 1], sampled on a fine log grid (the map is smooth; 10⁵ points
// resolve its extrema to ~1e-6).
std::pair<double, double> ns_scalar_range(double lo, NsCoefficients set, int steps) {
  double mn = 1e9, mx = -1e9;
  for (int i = 0; i <= 100000; ++i) {
    const double y = ns_scalar_map(lo * std::pow(1.0 / lo, i / 1e5), set, steps);
    mn = std::min(mn, y);
    mx = std::max(mx, y);
  }
  return {mn, mx};
}

Matrix run_lmo(Geometry g, const Matrix& u, int rows, int cols, const LmoOptions& options = {}) {
  LmoWorkspace ws(rows, cols, g, options);
  Matrix d(u.size(), -7.0f);  // poison: every entry must be written
  lmo(g, u.data(), d.data(), rows, cols, ws);
  return d;
}

LmoOptions svd_options() {
  LmoOptions o;
  o.backend = SpectralBackend::svd;
  return o;
}

LmoOptions ns_options(NsCoefficients set) {
  LmoOptions o;
  o.coefficients = set;
  return o;
}

LmoOptions gram_options(NsCoefficients set, int steps = 5) {
  LmoOptions o = ns_options(set);
  o.backend = SpectralBackend::gram_newton_schulz;
  o.ns_steps = steps;
  return o;
}

// --- names -----------------------------------------------------------------------------------------

TEST(LmoNames, RoundTrip) {
  for (Geometry g : {Geometry::spectral, Geometry::l2, Geometry::sign, Geometry::colnorm, Geometry::rownorm,
                     Geometry::none}) {
    EXPECT_EQ(parse_geometry(to_string(g)), g);
  }
  EXPECT_EQ(parse_backend("newton-schulz"), SpectralBackend::newton_schulz);
  EXPECT_EQ(parse_backend(to_string(SpectralBackend::svd)), SpectralBackend::svd);
  EXPECT_EQ(parse_backend("gram-newton-schulz"), SpectralBackend::gram_newton_schulz);
  EXPECT_EQ(parse_ns_coefficients("polar-express"), NsCoefficients::polar_express);
  EXPECT_EQ(parse_ns_coefficients(to_string(NsCoefficients::muon)), NsCoefficients::muon);
}

TEST(LmoNames, UnknownNameListsAcceptedValues) {
  try {
    parse_geometry("frobenius");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("frobenius"), std::string::npos);
    for (const char* ok : {"spectral", "l2", "sign", "colnorm", "rownorm", "none"}) {
      EXPECT_NE(what.find(ok), std::string::npos) << ok;
    }
  }
  EXPECT_THROW(parse_backend("qr"), Error);
  EXPECT_THROW(parse_ns_coefficients("polar"), Error);
}

// --- coefficients ----------------------------------------------------------------------------------

TEST(NsCoefficientsTest, SpecValuesAndRepeatLast) {
  const NsStep first = ns_coefficients(NsCoefficients::polar_express, 0);
  EXPECT_DOUBLE_EQ(first.a, 8.156554524902461);
  EXPECT_DOUBLE_EQ(first.b, -22.48329292557795);
  EXPECT_DOUBLE_EQ(first.c, 15.878769915207462);
  const NsStep last = ns_coefficients(NsCoefficients::polar_express, 4);
  EXPECT_DOUBLE_EQ(last.a, 2.3465413258596377);
  const NsStep beyond = ns_coefficients(NsCoefficients::polar_express, 9);  // steps past 5 repeat the last
  EXPECT_DOUBLE_EQ(beyond.a, last.a);
  EXPECT_DOUBLE_EQ(beyond.b, last.b);
  EXPECT_DOUBLE_EQ(beyond.c, last.c);
  for (int k : {0, 3, 11}) {
    const NsStep m = ns_coefficients(NsCoefficients::muon, k);
    EXPECT_DOUBLE_EQ(m.a, 3.4445);
    EXPECT_DOUBLE_EQ(m.b, -4.7750);
    EXPECT_DOUBLE_EQ(m.c, 2.0315);
  }
}

// The derivation behind the Newton–Schulz bounds below. With σ̂ = σ/‖u‖_F ∈ (0, 1], five steps map
//   polar-express: [1e-3, 1] → [0.8589, 1.1411]  (⊂ [0.5, 1.5]; 0.5 is reached at σ̂ ≈ 5.26e-4)
//   muon:        [1.5e-3, 1] → [0.6798, 1.2024]  (0.5 at σ̂ ≈ 1.07e-3; the max 1.2024 is at σ̂ ≈ 4e-3,
//                                                 so the often-quoted 1.13 holds only from ~7 steps on)
// Near 0 the map is linear with slope Π a_k (≈ 990 for polar-express, 3.4445⁵ ≈ 487 for muon), which
// is what sets the smallest σ̂ that still reaches a given lower bound.
TEST(NsCoefficientsTest, ScalarMapRanges) {
  const auto [pe_lo, pe_hi] = ns_scalar_range(1e-3, NsCoefficients::polar_express, 5);
  EXPECT_NEAR(pe_lo, 0.8589, 1e-3);
  EXPECT_NEAR(pe_hi, 1.1411, 1e-3);
  EXPECT_LT(ns_scalar_map(5.0e-4, NsCoefficients::polar_express, 5), 0.5);
  EXPECT_GT(ns_scalar_map(5.5e-4, NsCoefficients::polar_express, 5), 0.5);
  const auto [mu_lo, mu_hi] = ns_scalar_range(1.5e-3, NsCoefficients::muon, 5);
  EXPECT_NEAR(mu_lo, 0.6798, 1e-3);
  EXPECT_NEAR(mu_hi, 1.2024, 1e-3);
}

// --- exact geometries --------------------------------------------------------------------------------

struct ExactCase {
  Geometry geometry;
  LmoOptions options;
};

const std::vector<ExactCase> kExactGeometries{{Geometry::spectral, svd_options()},
                                              {Geometry::l2, {}},
                                              {Geometry::sign, {}},
                                              {Geometry::colnorm, {}},
                                              {Geometry::rownorm, {}}};

// <u, lmo(u)> = −‖u‖_* and ‖lmo(u)‖ = 1: the LMO attains the dual norm on the unit ball.
void expect_exact_lmo(const ExactCase& c, const Matrix& u, int rows, int cols, const std::string& label) {
  const Matrix d = run_lmo(c.geometry, u, rows, cols, c.options);
  LmoWorkspace ws(rows, cols, c.geometry, c.options);
  const double dual = dual_norm(c.geometry, u.data(), rows, cols, ws);
  ASSERT_TRUE(all_finite(d)) << label;
  EXPECT_NEAR(inner(u, d), -dual, kExact * dual) << label;
  EXPECT_NEAR(geometry_norm(c.geometry, d.data(), rows, cols, ws), 1.0, kExact) << label;
}

TEST(ExactLmo, AttainsDualNormWithUnitNorm) {
  for (const ExactCase& c : kExactGeometries) {
    for (const Shape s : kShapes) {
      expect_exact_lmo(c, gaussian(s.rows, s.cols, 11), s.rows, s.cols, to_string(c.geometry) + " " + name(s));
    }
  }
}

TEST(ExactLmo, RankDeficient) {
  for (const ExactCase& c : kExactGeometries) {
    for (const Shape s : {Shape{40, 64}, Shape{64, 40}}) {
      expect_exact_lmo(c, low_rank(s.rows, s.cols, 3, 5), s.rows, s.cols, to_string(c.geometry) + " rank 3 " + name(s));
    }
  }
}

// The dual norms against independent references: σ from double SVD, ℓ1 and column/row sums by hand.
TEST(ExactLmo, DualAndPrimalNormsMatchDefinitions) {
  const int rows = 30, cols = 50;
  const Matrix u = gaussian(rows, cols, 3);
  LmoWorkspace ws(rows, cols, Geometry::spectral, {});  // newton-schulz workspace: norms allocate lazily
  const std::vector<double> sigma = singular_values(u, rows, cols);
  double nuclear = 0.0;
  for (double v : sigma) nuclear += v;
  EXPECT_NEAR(dual_norm(Geometry::spectral, u.data(), rows, cols, ws), nuclear, kExact * nuclear);
  EXPECT_NEAR(geometry_norm(Geometry::spectral, u.data(), rows, cols, ws), sigma[0], kExact * sigma[0]);

  double l1 = 0.0, max_abs = 0.0, col_sum = 0.0, col_max = 0.0, row_sum = 0.0, row_max = 0.0;
  for (float v : u) {
    l1 += std::fabs(v);
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(v)));
  }
  for (int j = 0; j < cols; ++j) {
    double sq = 0.0;
    for (int i = 0; i < rows; ++i) sq += static_cast<double>(u[i * cols + j]) * u[i * cols + j];
    col_sum += std::sqrt(sq);
    col_max = std::max(col_max, std::sqrt(sq));
  }
  for (int i = 0; i < rows; ++i) {
    double sq = 0.0;
    for (int j = 0; j < cols; ++j) sq += static_cast<double>(u[i * cols + j]) * u[i * cols + j];
    row_sum += std::sqrt(sq);
    row_max = std::max(row_max, std::sqrt(sq));
  }
  const double fro = frobenius(u);
  LmoWorkspace none;
  EXPECT_NEAR(dual_norm(Geometry::sign, u.data(), rows, cols, none), l1, kExact * l1);
  EXPECT_NEAR(geometry_norm(Geometry::sign, u.data(), rows, cols, none), max_abs, kExact * max_abs);
  EXPECT_NEAR(dual_norm(Geometry::colnorm, u.data(), rows, cols, none), col_sum, kExact * col_sum);
  EXPECT_NEAR(geometry_norm(Geometry::colnorm, u.data(), rows, cols, none), col_max, kExact * col_max);
  EXPECT_NEAR(dual_norm(Geometry::rownorm, u.data(), rows, cols, none), row_sum, kExact * row_sum);
  EXPECT_NEAR(geometry_norm(Geometry::rownorm, u.data(), rows, cols, none), row_max, kExact * row_max);
  for (Geometry g : {Geometry::l2, Geometry::none}) {
    EXPECT_NEAR(dual_norm(g, u.data(), rows, cols, none), fro, kExact * fro);
    EXPECT_NEAR(geometry_norm(g, u.data(), rows, cols, none), fro, kExact * fro);
  }
}

TEST(ExactLmo, NoneIsNegatedInput) {
  const Matrix u = gaussian(7, 5, 1);
  const Matrix d = run_lmo(Geometry::none, u, 7, 5);
  for (std::size_t i = 0; i < u.size(); ++i) EXPECT_EQ(d[i], -u[i]);
}

// A zero column (row) has no direction: it must stay zero while the others are normalized.
TEST(ExactLmo, ColnormRownormZeroColumnAndRow) {
  const int rows = 6, cols = 4;
  Matrix u = gaussian(rows, cols, 2);
  for (int i = 0; i < rows; ++i) u[i * cols + 1] = 0.0f;  // column 1
  for (int j = 0; j < cols; ++j) u[3 * cols + j] = 0.0f;  // row 3
  const Matrix dc = run_lmo(Geometry::colnorm, u, rows, cols);
  const Matrix dr = run_lmo(Geometry::rownorm, u, rows, cols);
  ASSERT_TRUE(all_finite(dc));
  ASSERT_TRUE(all_finite(dr));
  for (int i = 0; i < rows; ++i) EXPECT_EQ(dc[i * cols + 1], 0.0f);
  for (int j = 0; j < cols; ++j) EXPECT_EQ(dr[3 * cols + j], 0.0f);
  LmoWorkspace none;
  EXPECT_NEAR(inner(u, dc), -dual_norm(Geometry::colnorm, u.data(), rows, cols, none), kExact * 10);
  EXPECT_NEAR(inner(u, dr), -dual_norm(Geometry::rownorm, u.data(), rows, cols, none), kExact * 10);
}

// --- zero input ----------------------------------------------------------------------------------------

TEST(ZeroInput, EveryGeometryAndBackendGivesZero) {
  std::vector<ExactCase> cases = kExactGeometries;
  cases.push_back({Geometry::spectral, ns_options(NsCoefficients::polar_express)});
  cases.push_back({Geometry::spectral, ns_options(NsCoefficients::muon)});
  cases.push_back({Geometry::spectral, gram_options(NsCoefficients::polar_express)});
  cases.push_back({Geometry::none, {}});
  for (const ExactCase& c : cases) {
    for (const Shape s : kShapes) {
      const Matrix u(static_cast<std::size_t>(s.rows) * s.cols, 0.0f);
      const Matrix d = run_lmo(c.geometry, u, s.rows, s.cols, c.options);
      const std::string label = to_string(c.geometry) + "/" + to_string(c.options.backend) + " " + name(s);
      EXPECT_TRUE(std::all_of(d.begin(), d.end(), [](float v) { return v == 0.0f; })) << label;
      LmoWorkspace ws(s.rows, s.cols, c.geometry, c.options);
      EXPECT_EQ(dual_norm(c.geometry, u.data(), s.rows, s.cols, ws), 0.0) << label;
      EXPECT_EQ(geometry_norm(c.geometry, u.data(), s.rows, s.cols, ws), 0.0) << label;
    }
  }
}

// --- spectral: svd ------------------------------------------------------------------------------------

// Q = −lmo(u) has orthonormal rows if wide, orthonormal columns if tall: QQᵀ (or QᵀQ) = I_s.
double short_side_orthogonality_error(const Matrix& q, int rows, int cols) {
  const int s = std::min(rows, cols);
  const std::vector<double> qd(q.begin(), q.end());
  std::vector<double> gram(static_cast<std::size_t>(s) * s);
  if (rows <= cols) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s, s, cols, 1.0, qd.data(), cols, qd.data(), cols, 0.0,
                gram.data(), s);
  } else {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s, s, rows, 1.0, qd.data(), cols, qd.data(), cols, 0.0,
                gram.data(), s);
  }
  double err = 0.0;
  for (int i = 0; i < s; ++i) {
    for (int j = 0; j < s; ++j) err = std::max(err, std::fabs(gram[i * s + j] - (i == j ? 1.0 : 0.0)));
  }
  return err;
}

TEST(SpectralSvd, OrthogonalOnShortSide) {
  for (const Shape s : kShapes) {
    const Matrix d = run_lmo(Geometry::spectral, gaussian(s.rows, s.cols, 21), s.rows, s.cols, svd_options());
    EXPECT_LE(short_side_orthogonality_error(d, s.rows, s.cols), kExact) << name(s);
  }
  // Rank-deficient: the singular vectors of zero singular values still complete an orthonormal set.
  const Matrix d = run_lmo(Geometry::spectral, low_rank(48, 80, 4, 9), 48, 80, svd_options());
  EXPECT_LE(short_side_orthogonality_error(d, 48, 80), kExact);
}

// For u = U Σ Vᵀ built by hand, the svd back-end returns exactly −U Vᵀ.
TEST(SpectralSvd, MatchesConstructedPolarFactor) {
  for (const Shape s : kShapes) {
    Matrix polar;
    const Matrix u = with_spectrum(s.rows, s.cols, log_spaced(std::min(s.rows, s.cols), 1e-2), 4, &polar);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols, svd_options());
    // Singular vectors are determined to ~ε‖u‖₂/gap; the smallest gap between neighbouring σ here is
    // 1e-2·(1 − 1e-2^(1/63)) ≈ 7e-4 (s = 64), so ε/gap ≈ 2e-4: entries agree to 1e-3.
    double err = 0.0;
    for (std::size_t i = 0; i < d.size(); ++i) err = std::max(err, std::fabs(static_cast<double>(d[i]) + polar[i]));
    EXPECT_LE(err, 1e-3) << name(s);
  }
}

// --- spectral: Newton–Schulz ---------------------------------------------------------------------------

// Newton–Schulz tolerance (absolute, on singular values of size ~1). Each step forms X ← P(XXᵀ)X in
// float32; rounding errors of the length-l inner products add up like a random walk, ≈ sqrt(l)·ε ≈
// 2e-6 (l ≤ 300) relative to ‖X‖₂ ≤ 1.5. Later steps multiply an earlier error by the slope of the
// remaining map: ≲ 1 for singular values already near 1, at most a₁a₂a₃a₄ ≈ 121 (polar-express; muon
// 3.4445⁴ ≈ 141) for step 0's error on a near-zero value. 5 steps · 141 · 2e-6 ≈ 1.4e-3 → kNsAbs = 2e-3.
// (Measured: ~1e-5.)
constexpr double kNsAbs = 2e-3;

// Cosine similarity of two matrices.
double cosine(const Matrix& a, const Matrix& b) { return inner(a, b) / (frobenius(a) * frobenius(b)); }

// Cosine similarity of d with the exact LMO −U Vᵀ, given the polar factor U Vᵀ.
double cosine_to_lmo(const Matrix& d, const Matrix& polar) {
  Matrix neg_polar(polar.size());
  for (std::size_t i = 0; i < polar.size(); ++i) neg_polar[i] = -polar[i];
  return cosine(d, neg_polar);
}

void expect_singular_values_within(const Matrix& d, int rows, int cols, double lo, double hi, const std::string& label) {
  for (double v : singular_values(d, rows, cols)) {
    EXPECT_GE(v, lo) << label;
    EXPECT_LE(v, hi) << label;
  }
}

// The output's singular values are p(σ_i / (‖u‖_F + 1e-7)) with p the five-step scalar map, within
// `tolerance` (kNsAbs for the direct form).
void expect_ns_spectrum(const Matrix& u, const std::vector<double>& sigma, int rows, int cols,
                        const LmoOptions& options, double tolerance, const std::string& label) {
  const Matrix d = run_lmo(Geometry::spectral, u, rows, cols, options);
  ASSERT_TRUE(all_finite(d)) << label;
  const std::vector<double> got = singular_values(d, rows, cols);
  const double norm = frobenius(u);
  std::vector<double> want;
  for (double s : sigma) want.push_back(ns_scalar_map(s / (norm + 1e-7), options.coefficients, options.ns_steps));
  std::sort(want.rbegin(), want.rend());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << label << " σ_" << i;
}

void expect_ns_spectrum(const Matrix& u, const std::vector<double>& sigma, int rows, int cols, NsCoefficients set,
                        const std::string& label) {
  expect_ns_spectrum(u, sigma, rows, cols, ns_options(set), kNsAbs, label);
}

// Inputs with ‖u‖_F / σ_min = 1e3 (σ log-spaced from 1 down to σ_min, frobenius_conditioned; hence also
// σ_max/σ_min ≤ 1e3): every normalized σ lies in [1e-3, 1], so polar-express lands in [0.8589, 1.1411] ⊂
// [0.5, 1.5].
TEST(SpectralNewtonSchulz, PolarExpressSingularValuesInBand) {
  for (const Shape s : kShapes) {
    const std::vector<double> sigma = frobenius_conditioned(std::min(s.rows, s.cols), 1e3);
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 31, nullptr);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols);
    for (double v : singular_values(d, s.rows, s.cols)) {
      EXPECT_GE(v, 0.5) << name(s);
      EXPECT_LE(v, 1.5) << name(s);
      EXPECT_GE(v, 0.8589 - kNsAbs) << name(s);  // the derived band, tighter than [0.5, 1.5]
      EXPECT_LE(v, 1.1411 + kNsAbs) << name(s);
    }
    expect_ns_spectrum(u, sigma, s.rows, s.cols, NsCoefficients::polar_express, "polar-express " + name(s));
  }
}

// σ log-spaced from 1 to 1e-3 (σ_max/σ_min = 1e3). After Frobenius normalization the smallest σ̂ is
// 1e-3/‖σ‖₂: 6.0e-4 at s = 32 (→ 0.57) but 4.4e-4 at s = 64 (→ 0.42, below 0.5). So the band
// [0.5, 1.5] is a property of ‖u‖_F/σ_min ≤ ~1.9e3, not of σ_max/σ_min; what holds for every shape
// is the predicted spectrum, and the direction still agrees with the exact polar factor.
TEST(SpectralNewtonSchulz, PolarExpressMatchesScalarMapAndExactPolarFactor) {
  for (const Shape s : kShapes) {
    const std::vector<double> sigma = log_spaced(std::min(s.rows, s.cols), 1e-3);
    Matrix polar;
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 41, &polar);
    expect_ns_spectrum(u, sigma, s.rows, s.cols, NsCoefficients::polar_express, "polar-express " + name(s));
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols);
    EXPECT_GE(cosine_to_lmo(d, polar), 0.9) << name(s);
  }
}

TEST(SpectralNewtonSchulz, MuonCoefficients) {
  for (const Shape s : kShapes) {
    // ‖u‖_F/σ_min = 1/1.5e-3 ≈ 667: normalized σ in [1.5e-3, 1] → [0.6798, 1.2024] (derived above).
    const std::vector<double> sigma = frobenius_conditioned(std::min(s.rows, s.cols), 1.0 / 1.5e-3);
    Matrix polar;
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 51, &polar);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols, ns_options(NsCoefficients::muon));
    expect_singular_values_within(d, s.rows, s.cols, 0.6798 - kNsAbs, 1.2024 + kNsAbs, name(s));
    EXPECT_GE(cosine_to_lmo(d, polar), 0.9) << name(s);
    expect_ns_spectrum(u, sigma, s.rows, s.cols, NsCoefficients::muon, "muon " + name(s));
  }
}

// A vector has one singular value, ‖u‖: the exact LMO is −u/‖u‖ and Newton–Schulz returns
// −p(‖u‖/(‖u‖ + 1e-7)) u/‖u‖ with p(1) = 0.85913 for polar-express (the map's value at 1). Both forms:
// gram-newton-schulz runs the Gram form on a vector (s = 1, its Gram "matrices" are numbers).
TEST(SpectralNewtonSchulz, VectorsAreScaledDirections) {
  for (const LmoOptions& options : {ns_options(NsCoefficients::polar_express), gram_options(NsCoefficients::polar_express)}) {
    for (const Shape s : {Shape{1, 64}, Shape{64, 1}}) {
      const std::string label = to_string(options.backend) + " " + name(s);
      EXPECT_EQ(uses_gram_form(s.rows, s.cols, options), options.backend == SpectralBackend::gram_newton_schulz)
          << label;
      const Matrix u = gaussian(s.rows, s.cols, 61);
      const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols, options);
      const double norm = frobenius(u);
      const double p = ns_scalar_map(norm / (norm + 1e-7), NsCoefficients::polar_express, 5);
      EXPECT_NEAR(p, 0.85913, 1e-4);
      for (std::size_t i = 0; i < u.size(); ++i) EXPECT_NEAR(d[i], -p * u[i] / norm, 1e-5) << label;
    }
  }
}

TEST(SpectralNewtonSchulz, StepCountAndZeroSteps) {
  const Matrix u = gaussian(8, 12, 71);
  LmoOptions zero = ns_options(NsCoefficients::polar_express);
  zero.ns_steps = 0;  // just the normalization, negated
  const Matrix d = run_lmo(Geometry::spectral, u, 8, 12, zero);
  const double norm = frobenius(u);
  for (std::size_t i = 0; i < u.size(); ++i) EXPECT_NEAR(d[i], -u[i] / (norm + 1e-7), 1e-6);
  LmoOptions bad;
  bad.ns_steps = -1;
  EXPECT_THROW(LmoWorkspace(8, 12, Geometry::spectral, bad), Error);
}

// --- spectral: Gram Newton–Schulz ----------------------------------------------------------------------

// Gram-form tolerance (src/lmo.cpp, lmo_spectral_gram_newton_schulz), on top of kNsAbs. After the direct
// first step, R₁ = X₁X₁ᵀ is rounded like any float32 product of length-l rows: δ ≈ √l·ε·‖R₁‖₂ (random walk,
// as for kNsAbs), with ‖R₁‖₂ = ‖X₁‖₂² ≤ 4 (the first polar-express step peaks at p₀(0.38) = 1.99; muon's at
// 1.20). In R a singular value x₁ = p₀(σ̂) is carried as x₁², and Q is built from R's eigenvalue x₁² + δ
// but applied to the exact X₁: where the remaining map has converged (Q ≈ R^−½) the output moves by
// x₁/√(x₁² + δ) − 1 ≈ −δ/(2x₁²). Later steps round R again, relative to eigenvalues grown by p_k²:
// at most as much again, so 2 · √l·ε·4 / (2x₁²) = 4√l·ε / x₁², largest at the smallest σ̂.
// (Measured, the Gram form's spectrum against the map: ≤ 2.4e-5 at σ̂ = 1e-2, where this gives ~1e-3;
// ≤ 2.2e-4 at σ̂ = 1e-3, where it gives ~0.1. The random walk is pessimistic here, as it is for kNsAbs.)
double gram_tolerance(double smallest_normalized_sigma, int rows, int cols, NsCoefficients set) {
  const double x1 = ns_scalar_map(smallest_normalized_sigma, set, 1);
  const double eps = 1.1920929e-7;  // float32
  return kNsAbs + 4.0 * std::sqrt(static_cast<double>(std::max(rows, cols))) * eps / (x1 * x1);
}

// Where the Gram form does not pay (square blocks, short blocks, fewer than 3 steps) gram-newton-schulz
// runs the direct form: newton-schulz's result bit for bit.
TEST(SpectralGramNewtonSchulz, DirectFormWhereGramDoesNotPayIsNewtonSchulzBitForBit) {
  struct Case {
    Shape shape;
    int steps;
  };
  for (const Case c : {Case{{32, 32}, 5}, Case{{64, 64}, 5}, Case{{64, 100}, 5}, Case{{64, 256}, 2},
                       Case{{256, 64}, 1}, Case{{8, 12}, 0}}) {
    const std::string label = name(c.shape) + ", " + std::to_string(c.steps) + " steps";
    const LmoOptions gram = gram_options(NsCoefficients::polar_express, c.steps);
    LmoOptions ns = ns_options(NsCoefficients::polar_express);
    ns.ns_steps = c.steps;
    ASSERT_FALSE(uses_gram_form(c.shape.rows, c.shape.cols, gram)) << label;
    EXPECT_EQ(spectral_lmo_flops(c.shape.rows, c.shape.cols, gram), spectral_lmo_flops(c.shape.rows, c.shape.cols, ns))
        << label;
    const Matrix u = gaussian(c.shape.rows, c.shape.cols, 83);
    const Matrix a = run_lmo(Geometry::spectral, u, c.shape.rows, c.shape.cols, gram);
    const Matrix b = run_lmo(Geometry::spectral, u, c.shape.rows, c.shape.cols, ns);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << label;
  }
}

// The form is chosen by the flops it performs: with n ≥ 3 steps the Gram form costs 6s²l + n·S + (n − 2)(S + 2P),
// S and P the flops of a symmetric square and product, against the direct form's n(3s²l + s³).
TEST(SpectralGramNewtonSchulz, FormAndFlopCount) {
  // Up to 64 rows a symmetric product or square is one sgemm; above, a square is an ssyrk and a product is a
  // band of half the rows over the columns from its first row on, then the rest likewise: at 128, rows 0–63 ×
  // 128 columns and rows 64–127 × 64.
  EXPECT_EQ(symmetric_product_flops(64, false), 2.0 * 64 * 64 * 64);
  EXPECT_EQ(symmetric_product_flops(64, true), 2.0 * 64 * 64 * 64);
  EXPECT_EQ(symmetric_product_flops(128, true), 128.0 * 128 * 128);
  EXPECT_EQ(symmetric_product_flops(128, false), 2.0 * 64 * 128 * 128 + 2.0 * 64 * 64 * 128);
  EXPECT_LT(symmetric_product_flops(1024, false), 0.7 * 2.0 * 1024 * 1024 * 1024);  // → (4/3)s³ for large s
  const LmoOptions gram = gram_options(NsCoefficients::polar_express);
  const LmoOptions ns = ns_options(NsCoefficients::polar_express);
  for (const Shape shape : {Shape{64, 256}, Shape{256, 64}, Shape{128, 784}, Shape{640, 2560}, Shape{1, 64}}) {
    const double s = std::min(shape.rows, shape.cols), l = std::max(shape.rows, shape.cols);
    const double square = symmetric_product_flops(static_cast<int>(s), true);
    const double product = symmetric_product_flops(static_cast<int>(s), false);
    EXPECT_TRUE(uses_gram_form(shape.rows, shape.cols, gram)) << name(shape);
    EXPECT_FALSE(uses_gram_form(shape.rows, shape.cols, ns)) << name(shape);
    EXPECT_EQ(spectral_lmo_flops(shape.rows, shape.cols, gram), 6 * s * s * l + 5 * square + 3 * (square + 2 * product))
        << name(shape);
    EXPECT_EQ(spectral_lmo_flops(shape.rows, shape.cols, ns), 5 * (3 * s * s * l + s * s * s)) << name(shape);
  }
  // s = 64, 5 steps: S = P = 2s³, so the Gram form pays from 5s³ + 3·6s³ < 9s²l, l > 2.56 s = 163.6; s = 128:
  // S = s³, P = 1.5s³, from s³ + 2P < 3s²l, l > 4s/3 = 170.7.
  EXPECT_FALSE(uses_gram_form(64, 163, gram));
  EXPECT_TRUE(uses_gram_form(164, 64, gram));
  EXPECT_FALSE(uses_gram_form(128, 170, gram));
  EXPECT_TRUE(uses_gram_form(171, 128, gram));
  EXPECT_FALSE(uses_gram_form(512, 512, gram));
}

// Normalized singular values in [1e-2, 1]: the output's spectrum is the scalar map's, both coefficient sets,
// within the Gram tolerance (≤ 3.4e-3 here).
TEST(SpectralGramNewtonSchulz, MatchesScalarMap) {
  for (NsCoefficients set : {NsCoefficients::polar_express, NsCoefficients::muon}) {
    for (const Shape s : kShapes) {
      if (s.rows == s.cols) continue;  // the direct form (above)
      const std::string label = to_string(set) + " " + name(s);
      ASSERT_TRUE(uses_gram_form(s.rows, s.cols, gram_options(set))) << label;
      const std::vector<double> sigma = frobenius_conditioned(std::min(s.rows, s.cols), 1e2);
      const Matrix u = with_spectrum(s.rows, s.cols, sigma, 91, nullptr);
      expect_ns_spectrum(u, sigma, s.rows, s.cols, gram_options(set), gram_tolerance(1e-2, s.rows, s.cols, set),
                         label);
    }
  }
}

// Normalized singular values over all of [1e-3, 1], which polar-express maps into [0.8589, 1.1411]: the
// smallest, where the Gram form's squared condition number costs most, still land in the band within the
// Gram tolerance at 1e-3, and the result points along the exact polar factor.
TEST(SpectralGramNewtonSchulz, PolarExpressBandAndExactPolarFactor) {
  for (const Shape s : kShapes) {
    if (s.rows == s.cols) continue;
    const double tolerance = gram_tolerance(1e-3, s.rows, s.cols, NsCoefficients::polar_express);
    const std::vector<double> sigma = frobenius_conditioned(std::min(s.rows, s.cols), 1e3);
    Matrix polar;
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 31, &polar);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols, gram_options(NsCoefficients::polar_express));
    expect_singular_values_within(d, s.rows, s.cols, 0.8589 - tolerance, 1.1411 + tolerance, name(s));
    EXPECT_GE(cosine_to_lmo(d, polar), 0.9) << name(s);
    expect_ns_spectrum(u, sigma, s.rows, s.cols, gram_options(NsCoefficients::polar_express), tolerance, name(s));
  }
}

// Zero singular values stay zero: R has a null space that no Z leaves, and Q X₁ has no component there.
TEST(SpectralGramNewtonSchulz, RankDeficient) {
  for (const Shape s : {Shape{40, 120}, Shape{120, 40}}) {
    std::vector<double> sigma(40, 0.0);
    sigma[0] = 1.0, sigma[1] = 0.5, sigma[2] = 0.2;
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 97, nullptr);
    const LmoOptions gram = gram_options(NsCoefficients::polar_express);
    ASSERT_TRUE(uses_gram_form(s.rows, s.cols, gram)) << name(s);
    const double smallest = 0.2 / std::sqrt(1.0 + 0.5 * 0.5 + 0.2 * 0.2);  // normalized by ‖σ‖₂
    expect_ns_spectrum(u, sigma, s.rows, s.cols, gram,
                       gram_tolerance(smallest, s.rows, s.cols, NsCoefficients::polar_express), name(s));
  }
}

// --- workspace contract ---------------------------------------------------------------------------------

TEST(LmoWorkspaceTest, WrongShapeOrBackendThrows) {
  const Matrix u = gaussian(4, 6, 1);
  Matrix d(u.size());
  LmoWorkspace ws(6, 4, Geometry::spectral, {});
  EXPECT_THROW(lmo(Geometry::spectral, u.data(), d.data(), 4, 6, ws), Error);
  LmoWorkspace ns(4, 6, Geometry::spectral, {});
  EXPECT_THROW(lmo_spectral_svd(u.data(), d.data(), 4, 6, ns), Error);
  // 4×16 runs the Gram form, whose workspace has no second s×l iterate for the direct form.
  const Matrix v = gaussian(4, 16, 2);
  Matrix e(v.size());
  LmoWorkspace gram(4, 16, Geometry::spectral, gram_options(NsCoefficients::polar_express));
  EXPECT_THROW(lmo_spectral_newton_schulz(v.data(), e.data(), 4, 16, gram), Error);
  EXPECT_THROW(lmo_spectral_gram_newton_schulz(v.data(), e.data(), 16, 4, gram), Error);
  EXPECT_THROW(LmoWorkspace(0, 3, Geometry::l2, {}), Error);
}

TEST(LmoWorkspaceTest, NonSpectralAllocatesNothing) {
  const LmoWorkspace ws(64, 64, Geometry::colnorm, {});
  EXPECT_TRUE(ws.x.empty() && ws.gram.empty() && ws.a.empty() && ws.work.empty());
}

// After construction (and the first norm call, which allocates the SVD buffers once), calls allocate
// nothing: the operator new counter above does not move.
TEST(LmoWorkspaceTest, CallsDoNotAllocate) {
  for (const Shape s : {Shape{32, 48}, Shape{300, 17}}) {
    const Matrix u = gaussian(s.rows, s.cols, 81);
    Matrix d(u.size());
    LmoWorkspace ns(s.rows, s.cols, Geometry::spectral, {});
    LmoWorkspace svd(s.rows, s.cols, Geometry::spectral, svd_options());
    LmoWorkspace gram(s.rows, s.cols, Geometry::spectral, gram_options(NsCoefficients::polar_express));
    dual_norm(Geometry::spectral, u.data(), s.rows, s.cols, ns);  // lazily allocates the norm buffers
    const long before = g_allocations.load();
    for (int rep = 0; rep < 3; ++rep) {
      lmo(Geometry::spectral, u.data(), d.data(), s.rows, s.cols, ns);
      lmo(Geometry::spectral, u.data(), d.data(), s.rows, s.cols, svd);
      lmo(Geometry::spectral, u.data(), d.data(), s.rows, s.cols, gram);
      dual_norm(Geometry::spectral, u.data(), s.rows, s.cols, ns);
      geometry_norm(Geometry::spectral, u.data(), s.rows, s.cols, svd);
      for (Geometry g : {Geometry::l2, Geometry::sign, Geometry::colnorm, Geometry::rownorm, Geometry::none}) {
        lmo(g, u.data(), d.data(), s.rows, s.cols, ns);
        dual_norm(g, u.data(), s.rows, s.cols, ns);
      }
    }
    EXPECT_EQ(g_allocations.load(), before) << name(s);
  }
}

}  // namespace
}  // namespace ringmaster
