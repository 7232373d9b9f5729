/* test_core.c — errors, Philox known answers, RNG statistics, GEMM wrapper against a naive loop. */
#include <stdbool.h>
#include <stdlib.h>

#include "../sim/core/rng_normal.h" /* the normals' grid and polynomials, to enumerate them */
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
    /* normals: elements 128c + 32r + l from draw 4 block0 + 32c + l, its high half giving the
     * pair r = 0, 1 (cos, sin), its low half r = 2, 3 */
    eqs_rng_fill_normal_base(nb, N, seed, EQS_RNG_READ_NOISE, 3, block0);
    layout_ok = 1;
    for (int i = 0; i < N; i++) {
        int c = i / 128, r = i % 128 / 32, l = i % 32;
        uint64_t h = splitmix_draw(seed, EQS_RNG_READ_NOISE, 3, 4 * block0 + 32 * (uint64_t)c + l);
        uint32_t half = r < 2 ? (uint32_t)(h >> 32) : (uint32_t)h;
        float sn, cs;
        eqs_normal_sincos(half & 0xfffu, &sn, &cs);
        float want = eqs_normal_radius(half >> 12) * (r % 2 ? sn : cs);
        layout_ok &= nb[i] == want;
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

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double phi(double t) /* the standard normal CDF */
{
    return 0.5 * erfc(-t / sqrt(2.0));
}

/* The normals' distribution (sim/core/rng_normal.h), exhaustively: it is the product of 2^20
 * equally likely radii and 4096 equally likely angles, so its moments and its CDF are finite
 * sums. Mean 0 exactly (opposite angles give exactly opposite sin and cos), variance 1 within
 * 1e-6, the CDF within 1e-5 of N(0, 1)'s at every 0.05 sigma over [-6, 6] (the tails within
 * 1 % relative over 3..4 sigma), |z| <= 5.3; then a KS test of 2^20 draws of the fill. */
static void test_normal_distribution(void)
{
    enum { NR = 1 << 20, NA = 4096 };
    float *rad = malloc(sizeof(float) * NR), cs[NA], sn[NA];
    double r2 = 0, c2 = 0, s2 = 0;
    for (uint32_t b = 0; b < NR; b++) {
        rad[b] = eqs_normal_radius(b);
        r2 += (double)rad[b] * rad[b];
    }
    int opposite = 1;
    for (uint32_t a = 0; a < NA; a++) {
        eqs_normal_sincos(a, &sn[a], &cs[a]);
        c2 += (double)cs[a] * cs[a];
        s2 += (double)sn[a] * sn[a];
    }
    for (uint32_t a = 0; a < NA / 2; a++)
        opposite &= cs[a] == -cs[a + NA / 2] && sn[a] == -sn[a + NA / 2];
    CHECK(opposite);
    CHECK_CLOSE(r2 / NR * c2 / NA, 1.0, 1e-6, 0);
    CHECK_CLOSE(r2 / NR * s2 / NA, 1.0, 1e-6, 0);
    qsort(rad, NR, sizeof(float), cmp_float);
    CHECK(rad[NR - 1] < 5.3f);
    double worst = 0, worst_tail = 0;
    for (int k = -120; k <= 120; k++) {
        double t = 0.05 * k, below = 0; /* P(rad cos <= t), cos of each angle */
        for (uint32_t a = 0; a < NA; a++) {
            /* rad c <= t: c > 0: rad <= t / c; c < 0: rad >= t / c; c = 0: 0 <= t */
            double c = cs[a];
            size_t lo = 0, hi = NR; /* first index with the condition false (c > 0) / true */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                bool le = (double)rad[mid] * c <= t; /* as the float product, within 1 ulp */
                if (c > 0 ? le : !le)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            below += c > 0 ? (double)lo : (c < 0 ? (double)(NR - lo) : (t >= 0 ? NR : 0));
        }
        below /= (double)NR * NA;
        double want = phi(t), d = fabs(below - want);
        worst = d > worst ? d : worst;
        if (k <= -60 && k >= -80) { /* relative accuracy of the lower tail, 3..4 sigma */
            double rel = d / want;
            worst_tail = rel > worst_tail ? rel : worst_tail;
        }
    }
    CHECK_MSG(worst < 1e-5, "normal CDF off by %.3g", worst);
    CHECK_MSG(worst_tail < 0.01, "normal tail (3..4 sigma) off by %.3g relative", worst_tail);
    free(rad);

    enum { ND = 1 << 20 };
    float *z = malloc(sizeof(float) * ND);
    eqs_rng_fill_normal_f32(z, ND, 5, EQS_RNG_DEVICE_C2C, 9, 1000);
    qsort(z, ND, sizeof(float), cmp_float);
    double ks = 0;
    for (int i = 0; i < ND; i++) {
        double f = phi(z[i]), a = fabs(f - (double)i / ND), b = fabs(f - (double)(i + 1) / ND);
        ks = fmax(ks, fmax(a, b));
    }
    /* the 0.999 critical value of the KS statistic for 2^20 draws: 1.95 / sqrt(n) = 1.9e-3 */
    CHECK_MSG(ks < 1.9e-3, "KS distance of 2^20 normals %.3g", ks);
    printf("test_core: normals: CDF within %.2g of N(0, 1) (exhaustive; 3..4 sigma tail within "
           "%.2g relative), KS of 2^20 draws %.2g\n",
           worst, worst_tail, ks);
    free(z);
}

/* eqs_rng_fill_uniform_f64 gives exactly the doubles of successive eqs_rng_uniform calls (both
 * compiled variants). */
void eqs_rng_fill_uniform_f64_base(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                   uint32_t entity);
void eqs_rng_fill_uniform_f64_v4(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity);

static void test_bulk_philox_uniforms(void)
{
    enum { N = 1001 };
    static double got[N], base[N];
    eqs_rng r;
    eqs_rng_init(&r, 99, EQS_RNG_DROPOUT, 17);
    eqs_rng_fill_uniform_f64(got, N, 99, EQS_RNG_DROPOUT, 17);
    eqs_rng_fill_uniform_f64_base(base, N, 99, EQS_RNG_DROPOUT, 17);
    int same = 1, same_base = 1;
    for (int i = 0; i < N; i++) {
        double want = eqs_rng_uniform(&r);
        same &= got[i] == want;
        same_base &= base[i] == want;
    }
    CHECK(same);
    CHECK(same_base);
    if (eqs_rng_fill_use_v4()) {
        eqs_rng_fill_uniform_f64_v4(got, N, 99, EQS_RNG_DROPOUT, 17);
        CHECK(memcmp(got, base, sizeof got) == 0);
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
    test_bulk_philox_uniforms();
    test_normal_distribution();
    test_rng_streams();
    test_gemm_against_loops();
    test_errors();
    EQS_TEST_MAIN_END("test_core");
}
