// Linear minimization oracles, one function per geometry (docs/method.md §3). Every block is a row-major
// rows×cols float32 matrix; every oracle maps u to d = lmo(u) = argmin_{‖d‖≤1} <u, d>, and a zero u
// gives d = 0 (never NaN). Heavy lifting goes to BLAS/LAPACK (OpenBLAS, LAPACKE); the spectral
// oracles use only buffers of an LmoWorkspace built once per block, so no call allocates.
#include "ringmaster/lmo.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "ringmaster/error.hpp"

namespace ringmaster {

static_assert(sizeof(lapack_int) == sizeof(int), "LmoWorkspace::iwork assumes a 32-bit lapack_int");

// ---------------------------------------------------------------------------------------------
// Names (config values of docs/method.md §9)

Geometry parse_geometry(const std::string& name) { return kGeometryNames.parse(name); }
std::string to_string(Geometry g) { return std::string(kGeometryNames.name(g)); }
SpectralBackend parse_backend(const std::string& name) { return kBackendNames.parse(name); }
std::string to_string(SpectralBackend b) { return std::string(kBackendNames.name(b)); }
NsCoefficients parse_ns_coefficients(const std::string& name) { return kCoefficientNames.parse(name); }
std::string to_string(NsCoefficients c) { return std::string(kCoefficientNames.name(c)); }

// ---------------------------------------------------------------------------------------------
// Newton–Schulz coefficients (docs/method.md §3)

NsStep ns_coefficients(NsCoefficients set, int step) {
  // Polar Express: one tuned (a, b, c) per step; steps past the table repeat its last entry.
  static constexpr std::array<NsStep, 5> kPolarExpress{{
      {8.156554524902461, -22.48329292557795, 15.878769915207462},
      {4.042929935166739, -2.808917465908714, 0.5000178451051316},
      {3.8916678022926607, -2.772484153217685, 0.5060648178503393},
      {3.285753657755655, -2.3681294933425376, 0.46449024233003106},
      {2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
  }};
  // Muon (Keller Jordan): the same coefficients every step.
  static constexpr NsStep kMuon{3.4445, -4.7750, 2.0315};

  if (step < 0) throw Error("Newton–Schulz step must be >= 0, got " + std::to_string(step));
  if (set == NsCoefficients::muon) return kMuon;
  return kPolarExpress[std::min<std::size_t>(static_cast<std::size_t>(step), kPolarExpress.size() - 1)];
}

// ---------------------------------------------------------------------------------------------
// Workspace

namespace {

std::size_t elements(int rows, int cols) { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }

// gesdd runs in column-major on M = uᵀ (cols×rows), which is the row-major u's memory as is, so no
// transposed copy (LAPACKE's row-major path would allocate one per call). Returns the optimal lwork.
int query_gesdd_lwork(char jobz, int rows, int cols) {
  const int s = std::min(rows, cols);
  float optimal = 0.0f;
  lapack_int idummy = 0;
  const lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, jobz, cols, rows, nullptr, cols, nullptr, nullptr,
                                              cols, nullptr, std::max(1, s), &optimal, -1, &idummy);
  if (info != 0) throw std::runtime_error("LAPACK sgesdd workspace query failed (info " + std::to_string(info) + ")");
  return std::max(1, static_cast<int>(std::ceil(optimal)));
}

}  // namespace

LmoWorkspace::LmoWorkspace(int rows, int cols, Geometry geometry, const LmoOptions& options)
    : rows_(rows), cols_(cols), options_(options) {
  if (rows <= 0 || cols <= 0) {
    throw Error("LMO block shape " + std::to_string(rows) + "x" + std::to_string(cols) + " must be positive");
  }
  if (options.ns_steps < 0) throw Error("lmo.ns_steps must be >= 0, got " + std::to_string(options.ns_steps));
  if (geometry != Geometry::spectral) return;  // the other oracles need no scratch

  const std::size_t s = static_cast<std::size_t>(std::min(rows, cols));
  const std::size_t l = static_cast<std::size_t>(std::max(rows, cols));
  lwork_values_ = query_gesdd_lwork('N', rows, cols);
  if (options.backend != SpectralBackend::svd) {
    x.assign(s * l, 0.0f);
    gram.assign(s * s, 0.0f);
    poly.assign(s * s, 0.0f);
    if (uses_gram_form(rows, cols, options)) {
      square.assign(s * s, 0.0f);
      q.assign(s * s, 0.0f);
      product.assign(s * s, 0.0f);
    } else {
      y.assign(s * l, 0.0f);
    }
  } else {
    lwork_vectors_ = query_gesdd_lwork('S', rows, cols);
    a.assign(elements(rows, cols), 0.0f);
    sv.assign(s, 0.0f);
    u.assign(elements(rows, static_cast<int>(s)), 0.0f);
    vt.assign(s * static_cast<std::size_t>(cols), 0.0f);
    work.assign(static_cast<std::size_t>(std::max(lwork_vectors_, lwork_values_)), 0.0f);
    iwork.assign(8 * s, 0);
  }
}

void LmoWorkspace::reserve_svd_values() {
  const std::size_t s = static_cast<std::size_t>(std::min(rows_, cols_));
  if (a.size() < elements(rows_, cols_)) a.assign(elements(rows_, cols_), 0.0f);
  if (sv.size() < s) sv.assign(s, 0.0f);
  if (work.size() < static_cast<std::size_t>(lwork_values_)) work.assign(static_cast<std::size_t>(lwork_values_), 0.0f);
  if (iwork.size() < 8 * s) iwork.assign(8 * s, 0);
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the oracles and the norms

namespace {

// ‖u‖_F with double accumulation (dsdot), so the norm is exact to float rounding for any block size.
double frobenius(const float* u, std::size_t n) { return std::sqrt(cblas_dsdot(static_cast<int>(n), u, 1, u, 1)); }

void fill_zero(float* d, std::size_t n) { std::fill(d, d + n, 0.0f); }

// d = factor · u, elementwise.
void scaled_copy(const float* u, float* d, std::size_t n, float factor) {
  cblas_scopy(static_cast<int>(n), u, 1, d, 1);
  cblas_sscal(static_cast<int>(n), factor, d, 1);
}

// The workspace must have been built for this shape and (has_buffers) for this back-end.
void check_workspace(const LmoWorkspace& ws, int rows, int cols, bool has_buffers, const char* oracle) {
  if (ws.rows() != rows || ws.cols() != cols || !has_buffers) {
    throw Error(std::string(oracle) + ": workspace built for " + std::to_string(ws.rows()) + "x" +
                std::to_string(ws.cols()) + " (or another back-end) used for a " + std::to_string(rows) + "x" +
                std::to_string(cols) + " block");
  }
}

// ssyrk writes one triangle of a symmetric s×s result. We ask it for the one that, read as row-major
// memory, is the upper triangle (Upper under CblasRowMajor, Lower under CblasColMajor), so that
// mirror_upper below fills in the rest the same way for both orientations.
CBLAS_UPLO stored_triangle(CBLAS_ORDER order) { return order == CblasRowMajor ? CblasUpper : CblasLower; }

// a (s×s, row-major memory): copies the upper triangle onto the lower one, because the next BLAS call
// reads the matrix as a general one. Goes tile by tile through a 32×32 buffer so both the reads and
// the writes of `a` are contiguous: a plain transposed walk misses cache on every write and, at
// s = 1024 (4 KiB row stride, aliasing in L1), cost ~1.5 ms per call, 10% of a Newton–Schulz step.
// Up to s = 64 the matrix (16 KiB) sits in L1 and the plain walk is faster (0.8 against 1.3 µs here).
void mirror_upper(int s, float* a) {
  constexpr std::size_t kTile = 32;
  const std::size_t n = static_cast<std::size_t>(s);
  if (n <= 64) {
    for (std::size_t j = 1; j < n; ++j)
      for (std::size_t i = 0; i < j; ++i) a[j * n + i] = a[i * n + j];
    return;
  }
  std::array<float, kTile * kTile> tile;  // tile[(j − j0)·kTile + (i − i0)] = a(i, j)
  for (std::size_t i0 = 0; i0 < n; i0 += kTile) {
    const std::size_t i1 = std::min(i0 + kTile, n);
    for (std::size_t j0 = i0; j0 < n; j0 += kTile) {
      const std::size_t j1 = std::min(j0 + kTile, n);
      for (std::size_t i = i0; i < i1; ++i) {
        for (std::size_t j = j0; j < j1; ++j) tile[(j - j0) * kTile + (i - i0)] = a[i * n + j];
      }
      for (std::size_t j = j0; j < j1; ++j) {  // a(j, i) = a(i, j) for i < j
        for (std::size_t i = i0; i < std::min(i1, j); ++i) a[j * n + i] = tile[(j - j0) * kTile + (i - i0)];
      }
    }
  }
}

// The wide orientation X (s×l, s ≤ l) of a row-major rows×cols block, without a transposed copy: a tall
// block (rows > cols) read in column-major order *is* uᵀ (cols×rows, ld = cols), and a result written the
// same way is the row-major rows×cols d. So only the BLAS storage order changes, not the data.
struct Wide {
  CBLAS_ORDER order;
  int s, l, ldx;
};

Wide wide(int rows, int cols) {
  const bool tall = rows > cols;
  const int s = std::min(rows, cols), l = std::max(rows, cols);
  return {tall ? CblasColMajor : CblasRowMajor, s, l, tall ? s : l};
}

// gram (s×s, full) = x_scale² · X Xᵀ for X = x in w's orientation (ssyrk, s²l flops, then the mirror).
void gram_matrix(const Wide& w, const float* x, float x_scale, float* gram) {
  cblas_ssyrk(w.order, stored_triangle(w.order), CblasNoTrans, w.s, w.l, x_scale * x_scale, x, w.ldx, 0.0f, gram,
              w.s);
  mirror_upper(w.s, gram);
}

// poly (s×s) = P = aI + bA + cA² for a full symmetric A (gram): cA² + bA by one ssyrk (A symmetric, so
// A² = A Aᵀ; s³ flops) whose beta scales a copy of A, then + a on the diagonal.
void ns_polynomial(CBLAS_ORDER order, int s, const NsStep& k, const float* gram, float* poly) {
  const std::size_t ss = static_cast<std::size_t>(s) * static_cast<std::size_t>(s);
  cblas_scopy(static_cast<int>(ss), gram, 1, poly, 1);
  cblas_ssyrk(order, stored_triangle(order), CblasNoTrans, s, s, static_cast<float>(k.c), gram, s,
              static_cast<float>(k.b), poly, s);
  for (std::size_t i = 0; i < ss; i += static_cast<std::size_t>(s) + 1) poly[i] += static_cast<float>(k.a);  // diagonal
  mirror_upper(s, poly);
}

// Up to this many rows a symmetric product (below) is one sgemm over the whole matrix: at s = 64 OpenBLAS
// 0.3.21's sgemm takes 3.5 µs where its ssyrk takes 6.3 µs for half the flops (SkylakeX kernels,
// docs/benchmarks.md), and a narrower band or a mirror pass would cost more than it saves. Above it a
// square goes to ssyrk and a product to row bands of the upper triangle, both then mirrored.
constexpr int kWholeBand = 64;

// The row bands in which symmetric_product computes the upper triangle of an s×s product: rows
// [top, top + h) × columns [top, s), h half of the rows left, until at most kWholeBand rows are left,
// which make the last band. band(top, h, width) is called for each, width = s − top.
template <typename Band>
void upper_bands(int s, Band band) {
  for (int top = 0; top < s;) {
    const int left = s - top;
    const int h = left <= kWholeBand ? left : left / 2;
    band(top, h, left);
    top += h;
  }
}

// c ← alpha·a·b + beta·c (s×s, row-major) for symmetric a and b that commute (polynomials in one Gram
// matrix; a square when a == b) and a symmetric c, so that the result is symmetric. Flops:
// symmetric_product_flops.
void symmetric_product(int s, float alpha, const float* a, const float* b, float beta, float* c) {
  const std::size_t n = static_cast<std::size_t>(s);
  if (s <= kWholeBand) {  // all of c: symmetric up to rounding
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, s, s, alpha, a, s, b, s, beta, c, s);
    return;
  }
  if (a == b) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, s, s, alpha, a, s, beta, c, s);  // a aᵀ = a²
  } else {
    upper_bands(s, [&](int top, int h, int width) {
      const std::size_t t = static_cast<std::size_t>(top);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h, width, s, alpha, a + t * n, s, b + t, s, beta,
                  c + t * n + t, s);
    });
  }
  mirror_upper(s, c);
}

// poly = aI + bR + cR² with R's square by symmetric_product (the Gram form's polynomial).
void gram_polynomial(CBLAS_ORDER, int s, const NsStep& k, const float* r, float* poly) {
  const std::size_t ss = static_cast<std::size_t>(s) * static_cast<std::size_t>(s);
  std::copy(r, r + ss, poly);
  symmetric_product(s, static_cast<float>(k.c), r, r, static_cast<float>(k.b), poly);
  for (std::size_t i = 0; i < ss; i += static_cast<std::size_t>(s) + 1) poly[i] += static_cast<float>(k.a);  // diagonal
}

// One quintic Newton–Schulz step on an s×l iterate X = x_scale · x (docs/method.md §3):
//   out ← alpha · (aX + (bA + cA²)X),  A = X Xᵀ.
// (x_scale lets the first step read u itself instead of a scaled copy.)
// Written as out = alpha · P X with P = aI + bA + cA² (s×s, symmetric): the aX term rides on P's
// diagonal instead of a separate pass over X, so the step is three BLAS calls:
//   A  = X Xᵀ            ssyrk   s²l flops  (symmetric: half of a gemm)
//   P += c A Aᵀ (= cA²)  ssyrk   s³ flops   (A symmetric, so A² = A Aᵀ: `polynomial`, ns_polynomial in the
//                                           direct form, gram_polynomial in the Gram form's first step)
//   out = alpha P X      sgemm   2s²l flops
using Polynomial = void (*)(CBLAS_ORDER order, int s, const NsStep& k, const float* gram, float* poly);
void newton_schulz_step(const Wide& w, const NsStep& k, Polynomial polynomial, const float* x, float x_scale,
                        float* out, float alpha, float* gram, float* poly) {
  gram_matrix(w, x, x_scale, gram);  // gram: (s, s) = X Xᵀ
  polynomial(w.order, w.s, k, gram, poly);
  cblas_sgemm(w.order, CblasNoTrans, CblasNoTrans, w.s, w.l, w.s, alpha * x_scale, poly, w.s, x, w.ldx, 0.0f, out,
              w.ldx);
}

double direct_form_flops(double s, double l, int steps) { return steps * (3.0 * s * s * l + s * s * s); }

// The first step, direct with its square by symmetric_product; X₁X₁ᵀ and the final Q X₁ (3s²l); R² in
// every later step; Z² and R·Z² in steps 1 … n − 2; Q·Z in steps 2 … n − 1 (step 1's Q is its Z).
double gram_form_flops(double s, double l, int steps) {
  const int n = static_cast<int>(s);
  const double square = symmetric_product_flops(n, true), product = symmetric_product_flops(n, false);
  return 6.0 * s * s * l + steps * square + (steps - 2) * (square + 2.0 * product);
}

}  // namespace

double symmetric_product_flops(int s, bool square) {
  const double n = s;
  if (s <= kWholeBand) return 2.0 * n * n * n;
  if (square) return n * n * n;
  double flops = 0.0;
  upper_bands(s, [&](int, int h, int width) { flops += 2.0 * h * width * n; });
  return flops;
}

bool uses_gram_form(int rows, int cols, const LmoOptions& options) {
  if (options.backend != SpectralBackend::gram_newton_schulz || options.ns_steps < 3) return false;
  const double s = std::min(rows, cols), l = std::max(rows, cols);
  return gram_form_flops(s, l, options.ns_steps) < direct_form_flops(s, l, options.ns_steps);
}

double spectral_lmo_flops(int rows, int cols, const LmoOptions& options) {
  const double s = std::min(rows, cols), l = std::max(rows, cols);
  if (options.backend == SpectralBackend::svd) return 4.0 * direct_form_flops(s, l, options.ns_steps);
  if (uses_gram_form(rows, cols, options)) return gram_form_flops(s, l, options.ns_steps);
  return direct_form_flops(s, l, options.ns_steps);
}

// ---------------------------------------------------------------------------------------------
// Spectral geometry: lmo(u) = −U Vᵀ (docs/method.md §3)

void lmo_spectral_newton_schulz(const float* u, float* d, int rows, int cols, LmoWorkspace& ws) {
  const std::size_t n = elements(rows, cols);
  check_workspace(ws, rows, cols, ws.y.size() >= n, "newton-schulz LMO");
  const double norm = frobenius(u, n);
  if (norm == 0.0) return fill_zero(d, n);

  const Wide w = wide(rows, cols);
  const float x0_scale = static_cast<float>(1.0 / (norm + 1e-7));  // X0 = u / (‖u‖_F + 1e-7), σ ≤ 1
  const int steps = ws.options().ns_steps;
  if (steps == 0) return scaled_copy(u, d, n, -x0_scale);
  const float* x = u;      // (s, l) iterate: X0 is u scaled by x0_scale, never formed
  float* next = ws.x.data();   // (s, l) the iterates after it, alternating between ws.x and ws.y
  float* spare = ws.y.data();
  for (int step = 0; step < steps; ++step) {
    const bool last = step == steps - 1;
    // The last step writes d directly with alpha = −1: the LMO is the *negated* polar factor.
    newton_schulz_step(w, ns_coefficients(ws.options().coefficients, step), ns_polynomial, x,
                       step == 0 ? x0_scale : 1.0f, last ? d : next, last ? -1.0f : 1.0f, ws.gram.data(),
                       ws.poly.data());
    x = next;
    std::swap(next, spare);
  }
}

// The Gram form (docs/method.md §3). Every iterate after the first is X_k = Q_k X₁ with Q_k a polynomial
// in R₁ = X₁X₁ᵀ, and X_k X_kᵀ = R_k; so the steps after the first run on s×s matrices,
//   Z = aI + bR + cR²,   Q ← Q·Z,   R ← R·Z²    (all symmetric, all commuting),
// and only the result touches the long side again: d = −Q X₁. A step costs two symmetric squares and two
// symmetric products (symmetric_product_flops) instead of the direct form's 3s²l + s³.
// Why the first step stays direct: in R a singular value σ is carried as σ², so a rounding error δ in R
// (≈ √l·ε·‖R‖) moves the output's singular value (≈ 1) by ≈ δ/(2σ²); and where the direct form recomputes
// X Xᵀ from X every step, the Gram form keeps that error to the end (Q is built from R's eigenvalues, then
// applied to the exact X₁). Started from X₁ instead of X₀, small σ enter R grown by p₀(σ)/σ ≈ a₀ (8.16 for
// polar-express, 3.44 for muon), which divides that error by a₀² ≈ 66 (12).
void lmo_spectral_gram_newton_schulz(const float* u, float* d, int rows, int cols, LmoWorkspace& ws) {
  if (!uses_gram_form(rows, cols, ws.options())) return lmo_spectral_newton_schulz(u, d, rows, cols, ws);
  const std::size_t n = elements(rows, cols);
  check_workspace(ws, rows, cols, !ws.q.empty(), "gram-newton-schulz LMO");
  const double norm = frobenius(u, n);
  if (norm == 0.0) return fill_zero(d, n);

  const Wide w = wide(rows, cols);
  const int s = w.s;
  const float x0_scale = static_cast<float>(1.0 / (norm + 1e-7));  // X0 = u / (‖u‖_F + 1e-7), σ ≤ 1
  const NsCoefficients set = ws.options().coefficients;
  const int steps = ws.options().ns_steps;  // ≥ 3 (uses_gram_form)
  float* x1 = ws.x.data();  // (s, l) X₁ = p₀(X₀X₀ᵀ) X₀
  newton_schulz_step(w, ns_coefficients(set, 0), gram_polynomial, u, x0_scale, x1, 1.0f, ws.gram.data(),
                     ws.poly.data());

  float* r = ws.gram.data();        // (s, s) R_k
  float* z = ws.poly.data();        // (s, s) Z_k
  float* q = ws.q.data();           // (s, s) Q_k
  float* spare = ws.product.data(); // (s, s) the next Q or R
  float* z2 = ws.square.data();     // (s, s) Z_k²
  gram_matrix(w, x1, 1.0f, r);
  for (int step = 1; step < steps; ++step) {
    gram_polynomial(w.order, s, ns_coefficients(set, step), r, z);
    if (step == 1) {
      std::swap(q, z);  // Q = Z₁
    } else {
      symmetric_product(s, 1.0f, q, z, 0.0f, spare);
      std::swap(q, spare);
    }
    if (step + 1 < steps) {  // R ← R·Z² (the last step needs no R)
      const float* zk = step == 1 ? q : z;
      symmetric_product(s, 1.0f, zk, zk, 0.0f, z2);
      symmetric_product(s, 1.0f, r, z2, 0.0f, spare);
      std::swap(r, spare);
    }
  }
  // d = −Q X₁: the LMO is the *negated* polar factor.
  cblas_sgemm(w.order, CblasNoTrans, CblasNoTrans, s, w.l, s, -1.0f, q, s, x1, w.ldx, 0.0f, d, w.ldx);
}

void lmo_spectral_svd(const float* u, float* d, int rows, int cols, LmoWorkspace& ws) {
  const std::size_t n = elements(rows, cols);
  check_workspace(ws, rows, cols, !ws.u.empty(), "svd LMO");
  if (frobenius(u, n) == 0.0) return fill_zero(d, n);  // gesdd would return arbitrary U, V for u = 0

  // Column-major gesdd of M = uᵀ (cols×rows): M = U_M Σ VT_M, so u = VT_Mᵀ Σ U_Mᵀ. Handing LAPACK
  // ws.vt as U_M and ws.u as VT_M leaves U (rows×s) in ws.u and Vᵀ (s×cols) in ws.vt, both row-major.
  const int s = std::min(rows, cols);
  std::copy(u, u + n, ws.a.begin());  // gesdd destroys its input
  const lapack_int info =
      LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', cols, rows, ws.a.data(), cols, ws.sv.data(), ws.vt.data(), cols,
                          ws.u.data(), s, ws.work.data(), ws.lwork_vectors(), ws.iwork.data());
  if (info != 0) throw std::runtime_error("LAPACK sgesdd failed to converge (info " + std::to_string(info) + ")");
  // d = −U Vᵀ. Zero singular values (rank-deficient u) keep their singular vectors: d still has
  // spectral norm 1 and attains <u, d> = −Σσ, so it is a valid LMO.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, s, -1.0f, ws.u.data(), s, ws.vt.data(), cols,
              0.0f, d, cols);
}

// ---------------------------------------------------------------------------------------------
// Elementwise and per-vector geometries (docs/method.md §3)

void lmo_l2(const float* u, float* d, int rows, int cols) {
  const std::size_t n = elements(rows, cols);
  const double norm = frobenius(u, n);
  if (norm == 0.0) return fill_zero(d, n);
  scaled_copy(u, d, n, static_cast<float>(-1.0 / norm));
}

void lmo_sign(const float* u, float* d, int rows, int cols) {
  // −sign(u); a zero entry contributes nothing to <u, d>, so 0 is optimal there (and keeps lmo(0) = 0).
  const std::size_t n = elements(rows, cols);
  for (std::size_t i = 0; i < n; ++i) d[i] = u[i] > 0.0f ? -1.0f : (u[i] < 0.0f ? 1.0f : 0.0f);
}

void lmo_colnorm(const float* u, float* d, int rows, int cols) {
  // Column j of d is −u_j / ‖u_j‖ (a zero column stays zero). Columns are strided in row-major memory.
  for (int j = 0; j < cols; ++j) {
    const float norm = cblas_snrm2(rows, u + j, cols);
    const float factor = norm > 0.0f ? -1.0f / norm : 0.0f;
    for (std::size_t i = 0; i < static_cast<std::size_t>(rows); ++i) {
      d[i * static_cast<std::size_t>(cols) + j] = factor * u[i * static_cast<std::size_t>(cols) + j];
    }
  }
}

void lmo_rownorm(const float* u, float* d, int rows, int cols) {
  // Row i of d is −u_i / ‖u_i‖ (a zero row stays zero).
  for (int i = 0; i < rows; ++i) {
    const std::size_t offset = static_cast<std::size_t>(i) * static_cast<std::size_t>(cols);
    const float norm = cblas_snrm2(cols, u + offset, 1);
    if (norm > 0.0f) {
      scaled_copy(u + offset, d + offset, static_cast<std::size_t>(cols), -1.0f / norm);
    } else {
      fill_zero(d + offset, static_cast<std::size_t>(cols));
    }
  }
}

void lmo_none(const float* u, float* d, int rows, int cols) { scaled_copy(u, d, elements(rows, cols), -1.0f); }

void lmo(Geometry geometry, const float* u, float* d, int rows, int cols, LmoWorkspace& ws) {
  switch (geometry) {
    case Geometry::spectral:
      switch (ws.options().backend) {
        case SpectralBackend::svd: return lmo_spectral_svd(u, d, rows, cols, ws);
        case SpectralBackend::gram_newton_schulz: return lmo_spectral_gram_newton_schulz(u, d, rows, cols, ws);
        case SpectralBackend::newton_schulz: return lmo_spectral_newton_schulz(u, d, rows, cols, ws);
      }
      return;
    case Geometry::l2: return lmo_l2(u, d, rows, cols);
    case Geometry::sign: return lmo_sign(u, d, rows, cols);
    case Geometry::colnorm: return lmo_colnorm(u, d, rows, cols);
    case Geometry::rownorm: return lmo_rownorm(u, d, rows, cols);
    case Geometry::none: return lmo_none(u, d, rows, cols);
  }
}

// ---------------------------------------------------------------------------------------------
// Norms: ‖u‖ of the geometry and its dual ‖u‖_* (the stationarity measure of docs/method.md §3)

namespace {

// Singular values of u (descending) in ws.sv, via gesdd without vectors.
const float* singular_values(const float* u, int rows, int cols, LmoWorkspace& ws) {
  check_workspace(ws, rows, cols, true, "spectral norm");
  ws.reserve_svd_values();
  std::copy(u, u + elements(rows, cols), ws.a.begin());
  const lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'N', cols, rows, ws.a.data(), cols, ws.sv.data(),
                                              nullptr, cols, nullptr, std::min(rows, cols), ws.work.data(),
                                              ws.lwork_values(), ws.iwork.data());
  if (info != 0) throw std::runtime_error("LAPACK sgesdd failed to converge (info " + std::to_string(info) + ")");
  return ws.sv.data();
}

// ℓ2 norm of column j (stride cols) or row i (contiguous); `combine` folds them into the norm.
template <typename Combine>
double fold_vector_norms(const float* u, int rows, int cols, bool by_column, Combine combine) {
  double acc = 0.0;
  const int count = by_column ? cols : rows;
  for (int k = 0; k < count; ++k) {
    const float norm = by_column ? cblas_snrm2(rows, u + k, cols)
                                 : cblas_snrm2(cols, u + static_cast<std::size_t>(k) * static_cast<std::size_t>(cols), 1);
    acc = combine(acc, static_cast<double>(norm));
  }
  return acc;
}

double max_of(double a, double b) { return std::max(a, b); }
double sum_of(double a, double b) { return a + b; }

}  // namespace

double geometry_norm(Geometry geometry, const float* u, int rows, int cols, LmoWorkspace& ws) {
  const std::size_t n = elements(rows, cols);
  switch (geometry) {
    case Geometry::spectral: return singular_values(u, rows, cols, ws)[0];  // σ_max
    case Geometry::sign: return std::fabs(u[cblas_isamax(static_cast<int>(n), u, 1)]);  // ℓ∞
    case Geometry::colnorm: return fold_vector_norms(u, rows, cols, true, max_of);
    case Geometry::rownorm: return fold_vector_norms(u, rows, cols, false, max_of);
    case Geometry::l2:
    case Geometry::none: return frobenius(u, n);
  }
  return 0.0;
}

double dual_norm(Geometry geometry, const float* u, int rows, int cols, LmoWorkspace& ws) {
  const std::size_t n = elements(rows, cols);
  switch (geometry) {
    case Geometry::spectral: {  // nuclear norm Σσ_i
      const float* sigma = singular_values(u, rows, cols, ws);
      double sum = 0.0;
      for (int i = 0; i < std::min(rows, cols); ++i) sum += sigma[i];
      return sum;
    }
    case Geometry::sign: return cblas_sasum(static_cast<int>(n), u, 1);  // ℓ1
    case Geometry::colnorm: return fold_vector_norms(u, rows, cols, true, sum_of);
    case Geometry::rownorm: return fold_vector_norms(u, rows, cols, false, sum_of);
    case Geometry::l2:
    case Geometry::none: return frobenius(u, n);
  }
  return 0.0;
}

}  // namespace ringmaster
