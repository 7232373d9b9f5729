/* test_core.c — errors, Philox known answers, RNG statistics, GEMM wrapper against a naive loop. */
#include <stdbool.h>

#include "eqs_test.h"

#include "eqs/blas.h"
#include "eqs/core.h"

static void test_philox_known_answers(void)
{
    /* Random123 1.14 kat_vectors: philox4x32_10, zero and pi-digit inputs (verified against
     * librandom123-dev's philox.h). */
    uint32_t out[4];
    const uint32_t ctr0[4] = {0, 0, 0, 0}, key0[2] = {0, 0};
    eqs_philox4x32_10(ctr0, key0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
          out[3] == 0x9b00dbd8u);
    const uint32_t ctr1[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t key1[2] = {0xa4093822u, 0x299f31d0u};
    eqs_philox4x32_10(ctr1, key1, out);
    CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u &&
          out[3] == 0x24126ea1u);
}

static void test_rng_streams(void)
{
    eqs_rng a, b, c;
    eqs_rng_init(&a, 42, EQS_RNG_SHUFFLE, 3);
    eqs_rng_init(&b, 42, EQS_RNG_SHUFFLE, 3);
    eqs_rng_init(&c, 42, EQS_RNG_SHUFFLE, 4);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t ua = eqs_rng_u32(&a), ub = eqs_rng_u32(&b), uc = eqs_rng_u32(&c);
        same &= ua == ub;
        differ += ua != uc;
    }
    CHECK(same);
    CHECK(differ > 95);

    eqs_rng r;
    eqs_rng_init(&r, 1, EQS_RNG_TEST_DATA, 0);
    double sum = 0, sum2 = 0, umin = 1, umax = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = eqs_rng_uniform(&r);
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        double z = eqs_rng_normal(&r);
        sum += z;
        sum2 += z * z;
    }
    CHECK(umin >= 0 && umax < 1);
    /* mean ~ N(0, 1/n): 5 sigma = 0.011; variance error ~ sqrt(2/n) = 0.0032, 5 sigma 0.016 */
    CHECK_CLOSE(sum / n, 0.0, 0.011, 0);
    CHECK_CLOSE(sum2 / n, 1.0, 0.016, 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++)
        counts[eqs_rng_below(&r, 7)]++;
    for (int i = 0; i < 7; i++)
        CHECK_CLOSE(counts[i], 10000, 500, 0); /* 5 sigma of a binomial(70000, 1/7) */
}

/* The two compiled variants of the bulk fills (rng_fill.c); not public. */
uint64_t eqs_rng_fill_uniform_base(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                   uint32_t entity, uint64_t block0);
uint64_t eqs_rng_fill_normal_base(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                  uint32_t entity, uint64_t block0);
uint64_t eqs_rng_fill_uniform_v4(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity, uint64_t block0);
uint64_t eqs_rng_fill_normal_v4(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0);
bool eqs_rng_fill_use_v4(void);

/* The SplitMix64 draw j of a stream, written out independently of sim/core/rng_mix.h. */
static uint64_t splitmix_draw(uint64_t seed, uint32_t purpose, uint32_t entity, uint64_t j)
{
    uint64_t z = seed ^ 0x6A09E667F3BCC909ull;
    uint64_t k = 0;
    for (int round = 0; round < 2; round++) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        k = z;
        z = k ^ ((uint64_t)purpose << 32 | entity);
    }
    z = k + j * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Bulk fills: uniform element i is the top 24 bits of draw 4 block0 + i; the normals have mean
 * 0 and variance 1; the AVX-512 variant equals the baseline bit for bit. */
static void test_bulk_fills(void)
{
    enum { N = 4099, NN = 1 << 18 };
    static float u[N], nb[NN], nv[NN];
    const uint64_t block0 = 123456789012ull, seed = 77;
    CHECK(eqs_rng_fill_uniform_f32(u, N, seed, EQS_RNG_READ_NOISE, 3, block0) == (N + 3) / 4);
    int layout_ok = 1;
    for (int i = 0; i < N; i++) {
        uint64_t h = splitmix_draw(seed, EQS_RNG_READ_NOISE, 3, 4 * block0 + (uint64_t)i);
        layout_ok &= u[i] == (float)(h >> 40) / 16777216.0f;
    }
    CHECK(layout_ok);
    eqs_rng_fill_normal_base(nb, NN, seed, EQS_RNG_READ_NOISE, 3, block0);
    double m = 0, v = 0;
    for (int i = 0; i < NN; i++)
        m += nb[i];
    m /= NN;
    for (int i = 0; i < NN; i++)
        v += (nb[i] - m) * (nb[i] - m);
    v /= NN - 1;
    /* 5 standard errors: sd(mean) = 1/sqrt(N) ~ 0.002, sd(var) = sqrt(2/N) ~ 0.0028 */
    CHECK_CLOSE(m, 0, 5 * 0.00196, 0);
    CHECK_CLOSE(v, 1, 5 * 0.00277, 0);
    if (eqs_rng_fill_use_v4()) {
        eqs_rng_fill_normal_v4(nv, NN, seed, EQS_RNG_READ_NOISE, 3, block0);
        CHECK(memcmp(nb, nv, sizeof nb) == 0);
        eqs_rng_fill_uniform_v4(nv, NN, seed, EQS_RNG_READ_NOISE, 3, block0);
        eqs_rng_fill_uniform_base(nb, NN, seed, EQS_RNG_READ_NOISE, 3, block0);
        CHECK(memcmp(nb, nv, sizeof nb) == 0);
    } else {
        printf("test_core: no AVX-512 here, the v4 fills are not compared\n");
    }
}

static void test_gemm_against_loops(void)
{
    enum { M = 5, N = 4, K = 3 };
    eqs_real a[K * M], b[N * K], c[M * N];
    for (int i = 0; i < K * M; i++)
        a[i] = (eqs_real)(0.25 * i - 1);
    for (int i = 0; i < N * K; i++)
        b[i] = (eqs_real)(0.5 - 0.125 * i);
    for (int i = 0; i < M * N; i++)
        c[i] = 1;
    /* C = 2 A^T B^T + 3 C with A stored [K, M] and B stored [N, K] */
    eqs_gemm(true, true, M, N, K, 2, a, M, b, K, 3, c, N);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double want = 3;
            for (int k = 0; k < K; k++)
                want += 2.0 * a[k * M + i] * b[j * K + k];
            double e = fabs(want - c[i * N + j]);
            worst = e > worst ? e : worst;
        }
    CHECK(worst < 1e-5);
}

static void test_errors(void)
{
    eqs_err err;
    CHECK(eqs_err_set(&err, EQS_EIO, "x.npy: %s", "gone") == EQS_EIO);
    eqs_err_prefix(&err, "loading %s", "weights");
    CHECK(strcmp(err.msg, "loading weights: x.npy: gone") == 0);
    CHECK(eqs_err_set(NULL, EQS_EINVAL, "ignored") == EQS_EINVAL);
    eqs_err_clear(&err);
    CHECK(err.code == EQS_OK && err.msg[0] == '\0');
}

int main(void)
{
    test_philox_known_answers();
    test_bulk_fills();
    test_rng_streams();
    test_gemm_against_loops();
    test_errors();
    EQS_TEST_MAIN_END("test_core");
}
