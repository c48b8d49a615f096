// One name for the BLAS matrix product in float and double, so a network's layer templates run on sgemm
// (the objectives, float32) and on dgemm (their finite-difference tests) alike.
#pragma once

#include <cblas.h>

#include <cstddef>

namespace ringmaster {

// Row-major C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C, op = the transpose flag, so weights
// stored (out, in) like torch.nn.Linear's are used as they lie, without copies.
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// a · b as a size_t: buffer sizes and offsets from int dimensions, without int overflow.
inline std::size_t product(int a, int b) { return static_cast<std::size_t>(a) * static_cast<std::size_t>(b); }

}  // namespace ringmaster
