// Reference quantities for the spectral LMO (docs/method.md §3), in double precision, shared by `bench lmo`
// and tests/test_lmo.cpp: matrices with a chosen spectrum, singular values, and how far a direction is
// from orthogonal and from the exact polar factor.
#pragma once

#include <vector>

namespace ringmaster {

// n×k (row-major, double) with orthonormal columns: Q of the QR of an n×k gaussian drawn from `seed`.
std::vector<double> orthonormal_columns(int n, int k, unsigned seed);

// u = U diag(σ) Vᵀ (row-major rows×cols, float32) with U (rows×s) and V (cols×s) orthonormal columns drawn
// from `seed`, s = min(rows, cols) = σ.size(): a matrix of known spectrum. If polar is not null, it gets
// the exact polar factor U Vᵀ.
std::vector<float> with_spectrum(int rows, int cols, const std::vector<double>& sigma, unsigned seed,
                                 std::vector<float>* polar);

// s values log-spaced from 1 down to `smallest`.
std::vector<double> log_spaced(int s, double smallest);

// s values log-spaced from 1 down to σ_min with ‖σ‖₂ / σ_min = kappa: Newton–Schulz divides by the
// Frobenius norm ‖σ‖₂, so its smallest normalized singular value is 1/kappa.
std::vector<double> frobenius_conditioned(int s, double kappa);

// Singular values (descending) of a row-major rows×cols matrix, computed in double (LAPACK dgesvd).
std::vector<double> singular_values(const float* a, int rows, int cols);

// How good d = lmo(u) is as the negated polar factor, for a u of full rank, with O = −d and s = min(rows,
// cols):
//   orthogonality  max_i |σ_i(O)² − 1| over O's s singular values: ‖OᵀO − I‖₂ on the directions where
//                  O is not zero (‖O Oᵀ − I‖₂ for a wide O);
//   polar_distance ‖O − U Vᵀ‖₂, U Vᵀ the exact polar factor of u (LAPACK dgesdd in double).
struct PolarQuality {
  double orthogonality = 0.0;
  double polar_distance = 0.0;
};
PolarQuality polar_quality(const float* u, const float* d, int rows, int cols);

}  // namespace ringmaster
