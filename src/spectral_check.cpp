// Reference quantities for the spectral LMO in double precision (src/spectral_check.hpp).
#include "spectral_check.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace ringmaster {

namespace {

std::size_t elements(int rows, int cols) { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }

void check_lapack(lapack_int info, const char* routine) {
  if (info != 0) throw std::runtime_error(std::string("LAPACK ") + routine + " failed (info " + std::to_string(info) + ")");
}

double l2(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

// Singular values (descending) of a row-major rows×cols double matrix; a is destroyed.
std::vector<double> singular_values_of(std::vector<double>& a, int rows, int cols) {
  std::vector<double> sigma(static_cast<std::size_t>(std::min(rows, cols)));
  std::vector<double> superb(sigma.size() + 1);
  check_lapack(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', rows, cols, a.data(), cols, sigma.data(), nullptr, 1,
                              nullptr, 1, superb.data()),
               "dgesvd");
  return sigma;
}

}  // namespace

std::vector<double> orthonormal_columns(int n, int k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<double> q(elements(n, k));  // (n, k)
  for (double& v : q) v = normal(rng);
  std::vector<double> tau(static_cast<std::size_t>(k));
  check_lapack(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, k, q.data(), k, tau.data()), "dgeqrf");
  check_lapack(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, k, k, q.data(), k, tau.data()), "dorgqr");
  return q;
}

std::vector<float> with_spectrum(int rows, int cols, const std::vector<double>& sigma, unsigned seed,
                                 std::vector<float>* polar) {
  const int s = std::min(rows, cols);
  if (sigma.size() != static_cast<std::size_t>(s)) throw std::invalid_argument("with_spectrum: need min(rows, cols) values");
  const std::vector<double> u = orthonormal_columns(rows, s, seed);      // (rows, s)
  const std::vector<double> v = orthonormal_columns(cols, s, seed + 7);  // (cols, s)
  std::vector<double> us(u);                                             // (rows, s) U diag(σ)
  for (std::size_t i = 0; i < static_cast<std::size_t>(rows); ++i) {
    for (std::size_t k = 0; k < static_cast<std::size_t>(s); ++k) us[i * s + k] *= sigma[k];
  }
  std::vector<double> out(elements(rows, cols));  // (rows, cols)
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, s, 1.0, us.data(), s, v.data(), s, 0.0, out.data(),
              cols);
  if (polar != nullptr) {
    std::vector<double> uvt(out.size());  // (rows, cols) U Vᵀ
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, s, 1.0, u.data(), s, v.data(), s, 0.0,
                uvt.data(), cols);
    polar->assign(uvt.begin(), uvt.end());
  }
  return std::vector<float>(out.begin(), out.end());
}

std::vector<double> log_spaced(int s, double smallest) {
  std::vector<double> sigma(static_cast<std::size_t>(s));
  for (int i = 0; i < s; ++i) sigma[static_cast<std::size_t>(i)] = s == 1 ? 1.0 : std::pow(smallest, i / (s - 1.0));
  return sigma;
}

std::vector<double> frobenius_conditioned(int s, double kappa) {
  double smallest = 1.0 / kappa;
  for (int it = 0; it < 50; ++it) smallest = l2(log_spaced(s, smallest)) / kappa;  // fixed point, contracts fast
  return log_spaced(s, smallest);
}

std::vector<double> singular_values(const float* a, int rows, int cols) {
  std::vector<double> copy(a, a + elements(rows, cols));
  return singular_values_of(copy, rows, cols);
}

PolarQuality polar_quality(const float* u, const float* d, int rows, int cols) {
  const int s = std::min(rows, cols);
  const std::size_t n = elements(rows, cols);
  // Exact polar factor: gesdd of u in double; row-major u = U Σ Vᵀ with U (rows×s), Vᵀ (s×cols).
  std::vector<double> a(u, u + n), sigma(static_cast<std::size_t>(s)), left(elements(rows, s)),
      right(elements(s, cols));
  check_lapack(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', rows, cols, a.data(), cols, sigma.data(), left.data(), s,
                              right.data(), cols),
               "dgesdd");
  std::vector<double> difference(n);  // (rows, cols) O − U Vᵀ with O = −d
  for (std::size_t i = 0; i < n; ++i) difference[i] = -static_cast<double>(d[i]);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, s, -1.0, left.data(), s, right.data(), cols, 1.0,
              difference.data(), cols);
  PolarQuality q;
  q.polar_distance = singular_values_of(difference, rows, cols).front();
  for (double v : singular_values(d, rows, cols)) q.orthogonality = std::max(q.orthogonality, std::fabs(v * v - 1.0));
  return q;
}

}  // namespace ringmaster
