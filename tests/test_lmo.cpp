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
#include <lapacke.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/lmo.hpp"

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
  std::vector<double> copy(a.begin(), a.end());
  std::vector<double> sigma(static_cast<std::size_t>(std::min(rows, cols)));
  std::vector<double> superb(sigma.size() + 1);
  const lapack_int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', rows, cols, copy.data(), cols, sigma.data(),
                                         nullptr, 1, nullptr, 1, superb.data());
  EXPECT_EQ(info, 0);
  return sigma;
}

// n×k matrix (row-major, double) with orthonormal columns: Q of the QR of a gaussian.
std::vector<double> orthonormal_columns(int n, int k, unsigned seed) {
  const Matrix g = gaussian(n, k, seed);
  std::vector<double> q(g.begin(), g.end());
  std::vector<double> tau(static_cast<std::size_t>(k));
  EXPECT_EQ(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, k, q.data(), k, tau.data()), 0);
  EXPECT_EQ(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, k, k, q.data(), k, tau.data()), 0);
  return q;
}

// u = U diag(σ) Vᵀ with U (rows×s), V (cols×s) orthonormal columns: a matrix of known spectrum.
// Also returns the exact polar factor U Vᵀ in `polar`.
Matrix with_spectrum(int rows, int cols, const std::vector<double>& sigma, unsigned seed, Matrix* polar) {
  const int s = std::min(rows, cols);
  const std::vector<double> u = orthonormal_columns(rows, s, seed);
  const std::vector<double> v = orthonormal_columns(cols, s, seed + 7);
  std::vector<double> us(u);  // (rows, s) U diag(σ)
  for (int i = 0; i < rows; ++i) {
    for (int k = 0; k < s; ++k) us[static_cast<std::size_t>(i) * s + k] *= sigma[static_cast<std::size_t>(k)];
  }
  std::vector<double> out(static_cast<std::size_t>(rows) * cols), uvt(out.size());
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, s, 1.0, us.data(), s, v.data(), s, 0.0, out.data(),
              cols);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, s, 1.0, u.data(), s, v.data(), s, 0.0, uvt.data(),
              cols);
  if (polar != nullptr) polar->assign(uvt.begin(), uvt.end());
  return Matrix(out.begin(), out.end());
}

// s values log-spaced from 1 down to `smallest`.
std::vector<double> log_spaced(int s, double smallest) {
  std::vector<double> sigma(static_cast<std::size_t>(s));
  for (int i = 0; i < s; ++i) sigma[static_cast<std::size_t>(i)] = s == 1 ? 1.0 : std::pow(smallest, i / (s - 1.0));
  return sigma;
}

double l2(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
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

// --- names -----------------------------------------------------------------------------------------

TEST(LmoNames, RoundTrip) {
  for (Geometry g : {Geometry::spectral, Geometry::l2, Geometry::sign, Geometry::colnorm, Geometry::rownorm,
                     Geometry::none}) {
    EXPECT_EQ(parse_geometry(to_string(g)), g);
  }
  EXPECT_EQ(parse_backend("newton-schulz"), SpectralBackend::newton_schulz);
  EXPECT_EQ(parse_backend(to_string(SpectralBackend::svd)), SpectralBackend::svd);
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

// The output's singular values are p(σ_i / (‖u‖_F + 1e-7)) with p the five-step scalar map.
void expect_ns_spectrum(const Matrix& u, const std::vector<double>& sigma, int rows, int cols, NsCoefficients set,
                        const std::string& label) {
  const Matrix d = run_lmo(Geometry::spectral, u, rows, cols, ns_options(set));
  ASSERT_TRUE(all_finite(d)) << label;
  const std::vector<double> got = singular_values(d, rows, cols);
  const double norm = frobenius(u);
  std::vector<double> want;
  for (double s : sigma) want.push_back(ns_scalar_map(s / (norm + 1e-7), set, 5));
  std::sort(want.rbegin(), want.rend());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], kNsAbs) << label << " σ_" << i;
}

// Inputs with ‖u‖_F / σ_min = 1e3 (σ log-spaced from 1 down to σ_min; hence also σ_max/σ_min ≤ 1e3):
// every normalized σ lies in [1e-3, 1], so polar-express lands in [0.8589, 1.1411] ⊂ [0.5, 1.5].
std::vector<double> frobenius_conditioned(int s, double kappa) {
  double smallest = 1.0 / kappa;
  for (int it = 0; it < 50; ++it) smallest = l2(log_spaced(s, smallest)) / kappa;  // fixed point, contracts fast
  return log_spaced(s, smallest);
}

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
    Matrix neg_polar(polar.size());
    for (std::size_t i = 0; i < polar.size(); ++i) neg_polar[i] = -polar[i];
    EXPECT_GE(cosine(d, neg_polar), 0.9) << name(s);
  }
}

TEST(SpectralNewtonSchulz, MuonCoefficients) {
  for (const Shape s : kShapes) {
    // ‖u‖_F/σ_min = 1/1.5e-3 ≈ 667: normalized σ in [1.5e-3, 1] → [0.6798, 1.2024] (derived above).
    const std::vector<double> sigma = frobenius_conditioned(std::min(s.rows, s.cols), 1.0 / 1.5e-3);
    Matrix polar;
    const Matrix u = with_spectrum(s.rows, s.cols, sigma, 51, &polar);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols, ns_options(NsCoefficients::muon));
    for (double v : singular_values(d, s.rows, s.cols)) {
      EXPECT_GE(v, 0.6798 - kNsAbs) << name(s);
      EXPECT_LE(v, 1.2024 + kNsAbs) << name(s);
    }
    Matrix neg_polar(polar.size());
    for (std::size_t i = 0; i < polar.size(); ++i) neg_polar[i] = -polar[i];
    EXPECT_GE(cosine(d, neg_polar), 0.9) << name(s);
    expect_ns_spectrum(u, sigma, s.rows, s.cols, NsCoefficients::muon, "muon " + name(s));
  }
}

// A vector has one singular value, ‖u‖: the exact LMO is −u/‖u‖ and Newton–Schulz returns
// −p(‖u‖/(‖u‖ + 1e-7)) u/‖u‖ with p(1) = 0.85913 for polar-express (the map's value at 1).
TEST(SpectralNewtonSchulz, VectorsAreScaledDirections) {
  for (const Shape s : {Shape{1, 64}, Shape{64, 1}}) {
    const Matrix u = gaussian(s.rows, s.cols, 61);
    const Matrix d = run_lmo(Geometry::spectral, u, s.rows, s.cols);
    const double norm = frobenius(u);
    const double p = ns_scalar_map(norm / (norm + 1e-7), NsCoefficients::polar_express, 5);
    EXPECT_NEAR(p, 0.85913, 1e-4);
    for (std::size_t i = 0; i < u.size(); ++i) EXPECT_NEAR(d[i], -p * u[i] / norm, 1e-5) << name(s);
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

// --- workspace contract ---------------------------------------------------------------------------------

TEST(LmoWorkspaceTest, WrongShapeOrBackendThrows) {
  const Matrix u = gaussian(4, 6, 1);
  Matrix d(u.size());
  LmoWorkspace ws(6, 4, Geometry::spectral, {});
  EXPECT_THROW(lmo(Geometry::spectral, u.data(), d.data(), 4, 6, ws), Error);
  LmoWorkspace ns(4, 6, Geometry::spectral, {});
  EXPECT_THROW(lmo_spectral_svd(u.data(), d.data(), 4, 6, ns), Error);
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
    dual_norm(Geometry::spectral, u.data(), s.rows, s.cols, ns);  // lazily allocates the norm buffers
    const long before = g_allocations.load();
    for (int rep = 0; rep < 3; ++rep) {
      lmo(Geometry::spectral, u.data(), d.data(), s.rows, s.cols, ns);
      lmo(Geometry::spectral, u.data(), d.data(), s.rows, s.cols, svd);
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
