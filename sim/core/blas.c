/* blas.c — thin wrappers over OpenBLAS's CBLAS in eqs_real precision. */
#include "eqs/blas.h"

#include <cblas.h>
#include <stdio.h>

void eqs_gemm(bool trans_a, bool trans_b, int32_t m, int32_t n, int32_t k, eqs_real alpha,
              const eqs_real *a, int32_t lda, const eqs_real *b, int32_t ldb, eqs_real beta,
              eqs_real *c, int32_t ldc)
{
    if (m == 0 || n == 0)
        return;
#ifdef EQS_REAL_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void eqs_axpy(int64_t n, eqs_real alpha, const eqs_real *x, eqs_real *y)
{
#ifdef EQS_REAL_DOUBLE
    cblas_daxpy((blasint)n, alpha, x, 1, y, 1);
#else
    cblas_saxpy((blasint)n, alpha, x, 1, y, 1);
#endif
}

void eqs_blas_set_threads(int32_t n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int32_t eqs_blas_threads(void)
{
    return openblas_get_num_threads();
}

const char *eqs_blas_info(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s (core %s)", openblas_get_config(), openblas_get_corename());
    return buf;
}
