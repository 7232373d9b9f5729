/* eqs/blas.h — the BLAS calls eqsim makes, in eqs_real (sgemm or dgemm behind one name), and the
 * thread count the library sets on OpenBLAS itself.
 *
 * Row-major throughout: C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C.
 */
#ifndef EQS_BLAS_H
#define EQS_BLAS_H

#include <stdbool.h>

#include "eqs/core.h"

#ifdef __cplusplus
extern "C" {
#endif

void eqs_gemm(bool trans_a, bool trans_b, int32_t m, int32_t n, int32_t k, eqs_real alpha,
              const eqs_real *a, int32_t lda, const eqs_real *b, int32_t ldb, eqs_real beta,
              eqs_real *c, int32_t ldc);

/* y += alpha * x (n elements) */
void eqs_axpy(int64_t n, eqs_real alpha, const eqs_real *x, eqs_real *y);

/* GEMM accounting for benchmarks: while enabled, every eqs_gemm call adds 2*m*n*k to a
 * per-shape table (process-wide; enable it only from single-threaded callers). */
#define EQS_GEMM_MAX_SHAPES 32
typedef struct eqs_gemm_shape {
    bool trans_a, trans_b;
    int32_t m, n, k;
    uint64_t calls;
} eqs_gemm_shape;
void eqs_gemm_count_enable(bool on); /* also clears the table when turned on */
int32_t eqs_gemm_count_shapes(eqs_gemm_shape *out, int32_t max);
uint64_t eqs_gemm_count_flops(void);

/* Sets OpenBLAS's thread count (the library never relies on OPENBLAS_NUM_THREADS). */
void eqs_blas_set_threads(int32_t n);
int32_t eqs_blas_threads(void);
/* "OpenBLAS 0.3.21 ... (Haswell)" — for benchmark reports. */
const char *eqs_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
