/* test_updunit.c — the C golden model of the RTL update units (sim/learn/updunit.c) against
 * hand-computed values (ties, saturation), a double-precision computation of each rule (within
 * the bound derived in docs/rtl.md), its own per-beat API, and the generator's period, proved
 * algebraically. The RTL itself is checked against this model by rtl/tb/upd_tb.cpp. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqs_test.h"

#include "eqs/updunit.h"

static eqs_updunit make(eqs_updunit_kind kind, int32_t mode, uint32_t m, int32_t shift, int stoch,
                        int pulse, int post_signed, int pre_signed)
{
    eqs_updunit_format f;
    eqs_updunit_format_default(kind, &f);
    eqs_updunit_cfg c = {.mode = mode,
                         .post_signed = post_signed,
                         .pre_signed = pre_signed,
                         .scale_m = m,
                         .shift = shift,
                         .stochastic = stoch,
                         .pulse_out = pulse};
    eqs_updunit u;
    eqs_err err;
    eqs_status st = eqs_updunit_init(&u, kind, &f, &c, 1, &err);
    CHECK_MSG(st == EQS_OK, "init: %s", err.msg);
    return u;
}

static int32_t one_beat(eqs_updunit *u, int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32_t out = 0x7fffffff;
    eqs_updunit_step(u, 0, (uint32_t)a, (uint32_t)b, (uint32_t)c, (uint32_t)d, 1, &out);
    return out;
}

/* Bias mode, m = 1, shift = f + 1: out = round((a - c) / 2), so odd a - c is a tie. */
static void test_ties(void)
{
    eqs_updunit u = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_BIAS, 1, 9, 0, 0, 1, 0);
    const int32_t diff[] = {1, -1, 3, -3, 5, -5, 2, -2, 0, 4};
    const int32_t want[] = {1, -1, 2, -2, 3, -3, 1, -1, 0, 2}; /* ties away from zero */
    for (int i = 0; i < 10; i++)
        CHECK_MSG(one_beat(&u, diff[i], 0, 0, 0) == want[i], "(a - c) / 2 = %d / 2", diff[i]);
    /* every shift with a reachable tie: A*B = odd * 2^(s-1) through b = 1, m = 2^j */
    for (int32_t s = 1; s <= 24; s++) {
        int32_t jm = s - 1 < 15 ? s - 1 : 15, jb = s - 1 - jm; /* 2^(s-1) = m * b */
        eqs_updunit v = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_CONTRAST, 1u << jm, s, 0, 0, 1, 0);
        for (int32_t odd = -7; odd <= 7; odd += 2) {
            int32_t got = one_beat(&v, odd, 1 << jb, 0, 0);
            int32_t expect = odd > 0 ? (odd + 1) / 2 : -((-odd + 1) / 2);
            CHECK_MSG(got == expect, "shift %d: tie %d/2 gave %d, want %d", s, odd, got, expect);
        }
    }
}

static void test_saturation(void)
{
    /* full scale: 511/256 * 1023/256 ~ 7.98, scale huge -> clamps */
    eqs_updunit u = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_CONTRAST, 65535, 0, 0, 1, 0, 0);
    CHECK(one_beat(&u, 1023, 1023, 0, 0) == 255);
    CHECK(one_beat(&u, 0, 0, 1023, 1023) == -255);
    eqs_updunit w = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_CONTRAST, 65535, 0, 0, 0, 1, 1);
    CHECK(one_beat(&w, 511, 511, -512, 511) == 32767);
    CHECK(one_beat(&w, -512, 511, 511, 511) == -32767); /* symmetric: never -32768 */
    CHECK(one_beat(&w, 0, 0, 0, 0) == 0);
    /* the port reads only state_w bits: 0x400 | 5 is 5 */
    eqs_updunit z = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_CONTRAST, 1, 0, 0, 0, 0, 0);
    CHECK(one_beat(&z, 0x405, 1, 0, 0) == 5);
}

static void test_quantize(void)
{
    eqs_updunit_format f;
    eqs_updunit_format_default(EQS_UPDUNIT_EP, &f);
    int clip = 0;
    CHECK(eqs_updunit_quantize(&f, 0, 1.0, &clip) == 256 && !clip);
    CHECK(eqs_updunit_quantize(&f, 0, 0.5 / 256, &clip) == 1);   /* tie away from zero */
    CHECK(eqs_updunit_quantize(&f, 1, -0.5 / 256, &clip) == -1); /* tie away from zero */
    CHECK(eqs_updunit_quantize(&f, 1, 0.49 / 256, &clip) == 0);
    CHECK(eqs_updunit_quantize(&f, 0, -0.3, &clip) == 0 && clip);
    CHECK(eqs_updunit_quantize(&f, 0, 5.0, &clip) == 1023 && clip);
    CHECK(eqs_updunit_quantize(&f, 1, -3.0, &clip) == -512 && clip);
    CHECK(eqs_updunit_quantize(&f, 1, 1.997, &clip) == 511 && !clip);
    CHECK(eqs_updunit_quantize(&f, 1, 1.999, &clip) == 511 && clip); /* 511.74 LSB */
    CHECK(eqs_updunit_quantize(&f, 1, NAN, &clip) == 0);
}

/* Period of xorshift32 = 2^32 - 1: T^(2^32-1) = I and T^((2^32-1)/p) != I for p in 3, 5, 17,
 * 257, 65537, with T the generator's 32x32 matrix over GF(2) (columns = images of unit bits). */
typedef struct gf2 {
    uint32_t col[32];
} gf2;

static uint32_t gf2_apply(const gf2 *m, uint32_t x)
{
    uint32_t y = 0;
    for (int i = 0; i < 32; i++)
        if (x >> i & 1u)
            y ^= m->col[i];
    return y;
}

static gf2 gf2_mul(const gf2 *a, const gf2 *b)
{
    gf2 r;
    for (int i = 0; i < 32; i++)
        r.col[i] = gf2_apply(a, b->col[i]);
    return r;
}

static gf2 gf2_pow(gf2 t, uint64_t e)
{
    gf2 r;
    for (int i = 0; i < 32; i++)
        r.col[i] = 1u << i;
    for (; e; e >>= 1) {
        if (e & 1)
            r = gf2_mul(&r, &t);
        t = gf2_mul(&t, &t);
    }
    return r;
}

static int gf2_is_identity(const gf2 *m)
{
    for (int i = 0; i < 32; i++)
        if (m->col[i] != 1u << i)
            return 0;
    return 1;
}

static void test_lfsr(void)
{
    gf2 t;
    for (int i = 0; i < 32; i++)
        t.col[i] = eqs_updunit_lfsr_next(1u << i); /* the generator is linear */
    CHECK(eqs_updunit_lfsr_next(0x12345678u) == gf2_apply(&t, 0x12345678u));
    const uint64_t period = 0xffffffffull, primes[] = {3, 5, 17, 257, 65537};
    gf2 full = gf2_pow(t, period);
    CHECK(gf2_is_identity(&full));
    for (int i = 0; i < 5; i++) {
        gf2 part = gf2_pow(t, period / primes[i]);
        CHECK_MSG(!gf2_is_identity(&part), "period divides (2^32-1)/%llu",
                  (unsigned long long)primes[i]);
    }
    /* known answers: Marsaglia's xorshift32 (13, 17, 5) from 1 */
    uint32_t x = 1;
    const uint32_t want[] = {270369u, 67634689u, 2647435461u, 307599695u};
    for (int i = 0; i < 4; i++) {
        x = eqs_updunit_lfsr_next(x);
        CHECK_MSG(x == want[i], "step %d: %u", i + 1, x);
    }
    /* lane seeds and the zero fix-up */
    eqs_updunit u = make(EQS_UPDUNIT_EP, 0, 1, 0, 0, 0, 0, 0);
    eqs_updunit_reseed(&u, 0);
    CHECK(u.lfsr[0] == 1u && u.lfsr[1] == 0x9E3779B9u);
}

/* Stochastic rounding is unbiased: 1/4 LSB rounds to 1 a quarter of the time. */
static void test_stochastic(void)
{
    eqs_updunit u = make(EQS_UPDUNIT_EP, EQS_UPDUNIT_EP_CONTRAST, 1, 2, 1, 0, 1, 0);
    int64_t sum = 0, n = 200000;
    for (int64_t i = 0; i < n; i++)
        sum += one_beat(&u, 1, 1, 0, 0);
    CHECK_CLOSE((double)sum / (double)n, 0.25, 0.005, 0);
    int64_t neg = 0;
    for (int64_t i = 0; i < n; i++)
        neg += one_beat(&u, -1, 1, 0, 0);
    CHECK_CLOSE((double)neg / (double)n, -0.25, 0.005, 0);
}

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* The straightforward double computation of every mode, written from the papers' formulas. */
static double rule(eqs_updunit_kind kind, int32_t mode, double a, double b, double c, double d)
{
    if (kind == EQS_UPDUNIT_PEPITA) {
        const double r[] = {-(a - c) * b, -a * b, -(a - c), -a};
        return r[mode];
    }
    const double r[] = {a * b - c * d, (a - c) * b, a * (b - d), a - c, -(a * b + c * d), -(a + c)};
    return r[mode];
}

static void check_layer(eqs_updunit_kind kind, int32_t mode, int post_signed, int pre_signed,
                        double k, int32_t n, int stoch, uint64_t seed, double *worst)
{
    const int32_t rows = 13, cols = 7;
    eqs_real *a = malloc(sizeof(eqs_real) * (size_t)(n * rows) * 2);
    eqs_real *b = malloc(sizeof(eqs_real) * (size_t)(n * cols) * 2);
    eqs_real *c = a + n * rows, *d = b + n * cols;
    for (int64_t i = 0; i < 2 * n * rows; i++)
        a[i] = (eqs_real)(post_signed ? 2 * urand(&seed) - 1 : urand(&seed));
    for (int64_t i = 0; i < 2 * n * cols; i++)
        b[i] = (eqs_real)(pre_signed ? 2 * urand(&seed) - 1 : urand(&seed));
    eqs_updunit_format f;
    eqs_updunit_format_default(kind, &f);
    eqs_updunit_cfg cfg = {.mode = mode,
                           .post_signed = post_signed,
                           .pre_signed = pre_signed,
                           .stochastic = stoch,
                           .pulse_out = 1};
    eqs_err err;
    CHECK_OK(eqs_updunit_scale_encode(&f, k, &cfg.scale_m, &cfg.shift, &err), err);
    eqs_updunit u, v;
    CHECK_OK(eqs_updunit_init(&u, kind, &f, &cfg, 99, &err), err);
    v = u;
    eqs_updunit_batch bt = {.n = n, .rows = rows, .cols = cols, .a = a, .b = b, .c = c, .d = d};
    int32_t out[13 * 7];
    double ref[13 * 7];
    int64_t clips = -1;
    CHECK_OK(eqs_updunit_layer(&u, &bt, out, &clips, &err), err);
    CHECK(clips == 0);
    CHECK_OK(eqs_updunit_layer_float(&u, &bt, k, ref, &err), err);
    double bound = eqs_updunit_error_bound(&u, k, n, 1.0);
    int32_t beat_out[4];
    for (int32_t s = 0; s < rows * cols; s++) {
        int32_t i = s / cols, j = s % cols;
        double sum = 0;
        for (int32_t t = 0; t < n; t++)
            sum += rule(kind, mode, a[t * rows + i], b[t * cols + j], c[t * rows + i],
                        d[t * cols + j]);
        double want = fmin(fmax(k * sum, -f.p_max), f.p_max);
        CHECK_CLOSE(ref[s], want, 1e-9, 1e-12);
        double e = fabs(out[s] - want);
        *worst = fmax(*worst, e / bound);
        CHECK_MSG(e <= bound, "mode %d n %d k %g: |%d - %.4f| > bound %.4f", (int)mode, (int)n, k,
                  out[s], want, bound);
        /* the per-beat API with the same codes, lane s % lanes, reproduces the layer API */
        int32_t lane = s % f.lanes;
        for (int32_t t = 0; t < n; t++) {
            uint32_t qa = (uint32_t)eqs_updunit_quantize(&f, post_signed, a[t * rows + i], NULL);
            uint32_t qc = (uint32_t)eqs_updunit_quantize(&f, post_signed, c[t * rows + i], NULL);
            uint32_t qb = (uint32_t)eqs_updunit_quantize(&f, pre_signed, b[t * cols + j], NULL);
            uint32_t qd = (uint32_t)eqs_updunit_quantize(&f, pre_signed, d[t * cols + j], NULL);
            eqs_updunit_step(&v, lane, qa, qb, qc, qd, t == n - 1, &beat_out[lane]);
        }
        CHECK(beat_out[lane] == out[s]);
    }
    free(a);
    free(b);
}

static void test_layers(void)
{
    double worst = 0;
    const double ks[] = {0.37, 3.0, 20.0, 140.0};
    const int32_t ns[] = {1, 5, 50};
    uint64_t seed = 5;
    for (int kind = 0; kind < 2; kind++) {
        int32_t modes = kind == EQS_UPDUNIT_EP ? 6 : 4;
        for (int32_t mode = 0; mode < modes; mode++)
            for (int ik = 0; ik < 4; ik++)
                for (int in = 0; in < 3; in++)
                    check_layer((eqs_updunit_kind)kind, mode, (mode + ik) % 2, kind || in == 2,
                                ks[ik] / ns[in], ns[in], (ik + in) % 3 == 0, seed++, &worst);
    }
    printf("largest |fixed - float| / bound over all layers: %.3f\n", worst);
}

static void test_errors(void)
{
    eqs_updunit_format f;
    eqs_updunit_format_default(EQS_UPDUNIT_EP, &f);
    eqs_err err;
    CHECK_OK(eqs_updunit_format_check(&f, &err), err);
    eqs_updunit_format g = f;
    g.state_f = g.state_w;
    CHECK_ERR(eqs_updunit_format_check(&g, &err), EQS_EINVAL, err, "state_f");
    g = f, g.scale_w = 30;
    CHECK_ERR(eqs_updunit_format_check(&g, &err), EQS_EINVAL, err, "scaled width");
    uint32_t m;
    int32_t s;
    CHECK_ERR(eqs_updunit_scale_encode(&f, 1e30, &m, &s, &err), EQS_EINVAL, err, "largest");
    CHECK_ERR(eqs_updunit_scale_encode(&f, 1e-30, &m, &s, &err), EQS_EINVAL, err, "resolution");
    CHECK_ERR(eqs_updunit_scale_encode(&f, -1, &m, &s, &err), EQS_EINVAL, err, ">= 0");
    CHECK_OK(eqs_updunit_scale_encode(&f, 20.0, &m, &s, &err), err);
    CHECK(m >= 32768 && m < 65536);
    CHECK_CLOSE(eqs_updunit_scale_decode(&f, m, s), 20.0, 0, 1.0 / 65536);
    eqs_updunit_cfg c = {.mode = 6};
    eqs_updunit u;
    CHECK_ERR(eqs_updunit_init(&u, EQS_UPDUNIT_EP, &f, &c, 1, &err), EQS_EINVAL, err, "mode 6");
    c.mode = 0, c.shift = 64;
    CHECK_ERR(eqs_updunit_init(&u, EQS_UPDUNIT_EP, &f, &c, 1, &err), EQS_EINVAL, err, "shift");
    c.shift = 0;
    CHECK_OK(eqs_updunit_init(&u, EQS_UPDUNIT_EP, &f, &c, 1, &err), err);
    eqs_real x = NAN;
    eqs_updunit_batch bt = {.n = 1, .rows = 1, .cols = 1, .a = &x};
    int32_t out;
    CHECK_ERR(eqs_updunit_layer(&u, &bt, &out, NULL, &err), EQS_EINVAL, err, "not finite");
    bt.a = NULL, bt.n = 2000;
    CHECK_ERR(eqs_updunit_layer(&u, &bt, &out, NULL, &err), EQS_EINVAL, err, "samples");
}

int main(void)
{
    test_ties();
    test_saturation();
    test_quantize();
    test_lfsr();
    test_stochastic();
    test_layers();
    test_errors();
    EQS_TEST_MAIN_END("test_updunit");
}
