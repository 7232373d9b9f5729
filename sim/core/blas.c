/* blas.c — thin wrappers over OpenBLAS's CBLAS in eqs_real precision. */
#include "eqs/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

static struct {
    bool on;
    int32_t n_shapes;
    eqs_gemm_shape shape[EQS_GEMM_MAX_SHAPES];
    uint64_t flops;
} g_count;

void eqs_gemm_count_enable(bool on)
{
    if (on)
        memset(&g_count, 0, sizeof g_count);
    g_count.on = on;
}

int32_t eqs_gemm_count_shapes(eqs_gemm_shape *out, int32_t max)
{
    int32_t n = g_count.n_shapes < max ? g_count.n_shapes : max;
    memcpy(out, g_count.shape, sizeof(eqs_gemm_shape) * (size_t)n);
    return n;
}

uint64_t eqs_gemm_count_flops(void)
{
    return g_count.flops;
}

static void count_gemm(bool ta, bool tb, int32_t m, int32_t n, int32_t k)
{
    g_count.flops += 2ull * (uint64_t)m * (uint64_t)n * (uint64_t)k;
    for (int32_t i = 0; i < g_count.n_shapes; i++) {
        eqs_gemm_shape *s = &g_count.shape[i];
        if (s->trans_a == ta && s->trans_b == tb && s->m == m && s->n == n && s->k == k) {
            s->calls++;
            return;
        }
    }
    if (g_count.n_shapes < EQS_GEMM_MAX_SHAPES)
        g_count.shape[g_count.n_shapes++] = (eqs_gemm_shape){ta, tb, m, n, k, 1};
}

void eqs_gemm(bool trans_a, bool trans_b, int32_t m, int32_t n, int32_t k, eqs_real alpha,
              const eqs_real *a, int32_t lda, const eqs_real *b, int32_t ldb, eqs_real beta,
              eqs_real *c, int32_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (g_count.on)
        count_gemm(trans_a, trans_b, m, n, k);
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
