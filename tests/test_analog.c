/* test_analog.c — the analog crossbar tile (docs/tile.md) against the ideal tile and against the
 * statistics its parameters promise: ideal settings reproduce the float tile (products, updates,
 * tiling), converters stay within half an LSB, read noise has the configured mean and variance
 * (output-referred and per-device), refresh keeps the weight, seeds reproduce bit for bit, the
 * ledger counts what the calls did, the pulse port applies exactly the given counts, pulse
 * conversions are unbiased, and the first-order IR drop matches a hand computation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs_test.h"
#include "test_util.h"

#include "eqs/xbar.h"

#define SEED 20240601u

static eqs_real *vec(size_t n)
{
    eqs_real *v = eqs_calloc(n, sizeof(eqs_real), NULL);
    if (!v)
        abort();
    return v;
}

static void fill(eqs_real *x, size_t n, double lo, double hi, uint32_t entity)
{
    test_fill_uniform(x, (int64_t)n, lo, hi, SEED, entity);
}

/* ||a - b|| / ||b|| */
static double rel_err(const eqs_real *a, const eqs_real *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static eqs_tile *analog(int32_t n_out, int32_t n_in, const eqs_hw_config *hw, uint32_t id)
{
    eqs_tile *t = NULL;
    eqs_err err;
    eqs_status st = eqs_tile_create_analog(&t, n_out, n_in, hw, SEED, id, &err);
    CHECK_MSG(st == EQS_OK, "create_analog: %s", err.msg);
    if (st != EQS_OK)
        exit(1);
    return t;
}

static eqs_tile *ideal(int32_t n_out, int32_t n_in)
{
    eqs_tile *t = NULL;
    eqs_err err;
    if (eqs_tile_create_ideal(&t, n_out, n_in, &err) != EQS_OK)
        exit(1);
    eqs_tile_track_updates(t, true); /* the tests compare what updates achieved */
    return t;
}

/* A constant-step device with n_states steps over [0, 25 uS]: dW per pulse = w_max / n_states. */
static void constant_step(eqs_hw_config *hw, double n_states)
{
    eqs_hw_config_default(hw);
    eqs_device_config_default(&hw->device, EQS_DEV_CONSTANT_STEP);
    hw->device.n_states = n_states;
}

/* ---- ideal settings = the float tile --------------------------------------------------------- */

/* The analog tile stores W as float conductances, G = w g_ref; W = G / g_ref rounds each weight
 * by a few ulp (~2e-7 relative), so products and updates agree with the float tile to 1e-6. */
static void test_ideal_equivalence(void)
{
    enum { NO = 37, NI = 53, B = 5 };
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_tile *a = analog(NO, NI, &hw, 1), *f = ideal(NO, NI);
    CHECK(eqs_tile_is_exact(a) && eqs_tile_is_exact(f));
    eqs_real *w = vec(NO * NI), *x = vec(B * NI), *yb = vec(B * NO), *ya = vec(B * NO),
             *yf = vec(B * NO), *xa = vec(B * NI), *xf = vec(B * NI), *dw = vec(NO * NI),
             *wa = vec(NO * NI), *wf = vec(NO * NI), *d2 = vec(NO * NI);
    fill(w, NO * NI, -0.8, 0.8, 1);
    fill(x, B * NI, -1, 1, 2);
    fill(yb, B * NO, -1, 1, 3);
    eqs_tile_write(a, w);
    eqs_tile_write(f, w);
    eqs_tile_read(a, wa);
    CHECK(rel_err(wa, w, NO * NI) < 1e-6);
    eqs_tile_mvm(a, x, B, ya, false);
    eqs_tile_mvm(f, x, B, yf, false);
    CHECK_MSG(rel_err(ya, yf, B * NO) < 1e-6, "mvm rel err %g", rel_err(ya, yf, B * NO));
    eqs_tile_mvm_again(a, B, ya, false);
    eqs_tile_mvm_again(f, B, xf, false); /* reuse xf as a [B, NO] scratch */
    CHECK(rel_err(ya, yf, B * NO) < 1e-6 && rel_err(xf, yf, B * NO) == 0);
    eqs_tile_mvm_t(a, yb, B, xa, false);
    eqs_tile_mvm_t(f, yb, B, xf, false);
    CHECK_MSG(rel_err(xa, xf, B * NI) < 1e-6, "mvm_t rel err %g", rel_err(xa, xf, B * NI));

    /* updates: the ideal device takes dW exactly (no pulse quantization) */
    fill(dw, NO * NI, -0.05, 0.05, 4);
    eqs_tile_update_delta(a, dw);
    eqs_tile_update_delta(f, dw);
    eqs_tile_read(a, wa);
    eqs_tile_read(f, wf);
    CHECK_MSG(rel_err(wa, wf, NO * NI) < 1e-6, "update_delta rel err %g", rel_err(wa, wf, NO * NI));
    eqs_tile_last_update(a, d2);
    CHECK_MSG(rel_err(d2, dw, NO * NI) < 1e-4, "last_update rel err %g", rel_err(d2, dw, NO * NI));
    eqs_tile_last_update(f, d2);
    CHECK(rel_err(d2, dw, NO * NI) == 0);
    eqs_tile_update_outer(a, yb, x, B, -0.01f);
    eqs_tile_update_outer(f, yb, x, B, -0.01f);
    eqs_tile_read(a, wa);
    eqs_tile_read(f, wf);
    CHECK_MSG(rel_err(wa, wf, NO * NI) < 1e-6, "update_outer rel err %g", rel_err(wa, wf, NO * NI));
    /* achieved = requested: W moved by exactly what the float tile reports it asked */
    eqs_tile_last_update(f, dw);
    eqs_tile_last_update(a, d2);
    CHECK_MSG(rel_err(d2, dw, NO * NI) < 1e-4, "last_update(outer) rel err %g",
              rel_err(d2, dw, NO * NI));
    CHECK(eqs_tile_dw_min(f) == 0 && fabs(eqs_tile_dw_min(a) - 1.0 / 1000) < 1e-12);
    eqs_free(w), eqs_free(x), eqs_free(yb), eqs_free(ya), eqs_free(yf), eqs_free(xa);
    eqs_free(xf), eqs_free(dw), eqs_free(wa), eqs_free(wf), eqs_free(d2);
    eqs_tile_destroy(a);
    eqs_tile_destroy(f);
}

/* A grid of small physical tiles adds its partial sums digitally: with ideal converters the sum
 * is the untiled product up to float summation order. */
static void test_tiling(void)
{
    enum { NO = 30, NI = 45, B = 4 };
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_tile *u = analog(NO, NI, &hw, 1);
    hw.array.max_rows = 8;
    hw.array.max_cols = 16;
    eqs_tile *g = analog(NO, NI, &hw, 1);
    eqs_real *w = vec(NO * NI), *x = vec(B * NI), *y = vec(B * NO), *yu = vec(B * NO),
             *yg = vec(B * NO), *xu = vec(B * NI), *xg = vec(B * NI);
    fill(w, NO * NI, -1, 1, 5);
    fill(x, B * NI, -1, 1, 6);
    fill(y, B * NO, -1, 1, 7);
    eqs_tile_write(u, w);
    eqs_tile_write(g, w);
    eqs_tile_mvm(u, x, B, yu, false);
    eqs_tile_mvm(g, x, B, yg, false);
    CHECK_MSG(rel_err(yg, yu, B * NO) < 1e-6, "tiled mvm rel err %g", rel_err(yg, yu, B * NO));
    eqs_tile_mvm_t(u, y, B, xu, false);
    eqs_tile_mvm_t(g, y, B, xg, false);
    CHECK_MSG(rel_err(xg, xu, B * NI) < 1e-6, "tiled mvm_t rel err %g", rel_err(xg, xu, B * NI));
    /* accumulate adds to what is there */
    memcpy(yg, yu, sizeof(eqs_real) * B * NO);
    eqs_tile_mvm(g, x, B, yg, true);
    for (int i = 0; i < B * NO; i++)
        yu[i] *= 2;
    CHECK(rel_err(yg, yu, B * NO) < 1e-6);
    /* 4 x 3 physical tiles: 4 DAC sets see every input, 3 ADC sets every output */
    const eqs_tile_counts *c = eqs_tile_counts_get(g, EQS_PHASE_INFER);
    CHECK(c->dac_conv == 2 * (uint64_t)B * NI * 4 + (uint64_t)B * NO * 3);
    CHECK(c->adc_conv == 2 * (uint64_t)B * NO * 3 + (uint64_t)B * NI * 4);
    eqs_free(w), eqs_free(x), eqs_free(y), eqs_free(yu), eqs_free(yg), eqs_free(xu);
    eqs_free(xg);
    eqs_tile_destroy(u);
    eqs_tile_destroy(g);
}

/* ---- converters -------------------------------------------------------------------------- */

/* W = 0.5 I, so y = 0.5 DAC(x) shows the DAC; then a plain W with the ADC alone. A b-bit
 * converter has codes -L..L, L = 2^(b-1) - 1, LSB = range / L. */
static void test_converters(void)
{
    enum { N = 8, B = 64 };
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.periphery.dac_bits = 4; /* L = 7, LSB = 1/7 over [-1, 1] */
    hw.periphery.dac_range = 1.0;
    eqs_tile *t = analog(N, N, &hw, 1);
    CHECK(!eqs_tile_is_exact(t));
    eqs_real *w = vec(N * N), *x = vec(B * N), *y = vec(B * N), *yt = vec(B * N);
    for (int i = 0; i < N; i++)
        w[i * N + i] = 0.5f;
    eqs_tile_write(t, w);
    fill(x, B * N, -1.5, 1.5, 8); /* a third of them out of range */
    eqs_tile_mvm(t, x, B, y, false);
    const double lsb = 1.0 / 7, eps = 1e-6;
    int bad = 0, clipped = 0;
    for (int i = 0; i < B * N; i++) {
        double xq = 2 * y[i], xi = x[i];
        if (fabs(xi) <= 1) {
            bad += fabs(xq - xi) > lsb / 2 + eps;
            bad += fabs(xq / lsb - nearbyint(xq / lsb)) > 1e-4; /* on the grid */
        } else {
            clipped++;
            bad += fabs(xq - (xi > 0 ? 1 : -1)) > eps;
        }
    }
    CHECK_MSG(bad == 0 && clipped > 0, "DAC: %d values off, %d clipped", bad, clipped);
    /* the transposed read converts on the other side with the same DAC */
    eqs_tile_mvm_t(t, x, B, yt, false);
    CHECK(rel_err(yt, y, B * N) < 1e-6);
    eqs_tile_destroy(t);

    /* fixed-range ADC: 6 bits over [-0.4, 0.4], L = 31 */
    eqs_hw_config_default(&hw);
    hw.periphery.adc_bits = 6;
    hw.periphery.adc_range_mode = EQS_ADC_FIXED;
    hw.periphery.adc_range = 0.4;
    t = analog(N, N, &hw, 1);
    eqs_tile *f = ideal(N, N);
    fill(w, N * N, -0.3, 0.3, 9);
    eqs_tile_write(t, w);
    eqs_tile_write(f, w);
    fill(x, B * N, -1, 1, 10);
    eqs_tile_mvm(t, x, B, y, false);
    eqs_tile_mvm(f, x, B, yt, false);
    double lsb_a = 0.4 / 31;
    bad = clipped = 0;
    for (int i = 0; i < B * N; i++) {
        if (fabs(yt[i]) <= 0.4) {
            bad += fabs(y[i] - yt[i]) > lsb_a / 2 + eps;
        } else {
            clipped++;
            bad += fabs(y[i] - (yt[i] > 0 ? 0.4 : -0.4)) > eps;
        }
    }
    CHECK_MSG(bad == 0 && clipped > 0, "fixed ADC: %d values off, %d clipped", bad, clipped);
    eqs_tile_destroy(t);

    /* calibrated: full scale = the batch's max |y|, which is reproduced exactly */
    hw.periphery.adc_range_mode = EQS_ADC_CALIBRATED;
    t = analog(N, N, &hw, 1);
    eqs_tile_write(t, w);
    eqs_tile_mvm(t, x, B, y, false);
    double mx = 0;
    for (int i = 0; i < B * N; i++)
        mx = fmax(mx, fabs(yt[i]));
    bad = 0;
    for (int i = 0; i < B * N; i++)
        bad += fabs(y[i] - yt[i]) > mx / 31 / 2 + eps;
    CHECK_MSG(bad == 0, "calibrated ADC: %d values off", bad);
    eqs_free(w), eqs_free(x), eqs_free(y), eqs_free(yt);
    eqs_tile_destroy(t);
    eqs_tile_destroy(f);
}

/* ---- read noise -------------------------------------------------------------------------- */

/* Sample mean and variance of output j over R reads, pooled into one ratio per test:
 * sum_j (sample var_j) / sum_j (expected var_j). With R reads and n_out outputs the pooled
 * estimate has relative std ~ sqrt(2 / (R n_out)) (Gaussian noise): R = 4000, n_out = 6 gives
 * 0.0091, so |ratio - 1| < 0.05 is 5.5 sigma. The mean of output j is within 5 sigma_j/sqrt(R). */
enum { NR = 4000, NN_OUT = 6, NN_IN = 10 };

static void noise_stats(eqs_tile *t, const eqs_real *x, const eqs_real *clean,
                        const double *var_want, const char *what, bool again)
{
    static double s1[NN_OUT], s2[NN_OUT];
    eqs_real y[NN_OUT];
    memset(s1, 0, sizeof s1);
    memset(s2, 0, sizeof s2);
    for (int r = 0; r < NR; r++) {
        if (again && r > 0)
            eqs_tile_mvm_again(t, 1, y, false);
        else
            eqs_tile_mvm(t, x, 1, y, false);
        for (int j = 0; j < NN_OUT; j++) {
            double d = (double)y[j] - clean[j];
            s1[j] += d;
            s2[j] += d * d;
        }
    }
    double got = 0, want = 0;
    int mean_bad = 0;
    for (int j = 0; j < NN_OUT; j++) {
        double m = s1[j] / NR;
        got += s2[j] / NR - m * m;
        want += var_want[j];
        mean_bad += fabs(m) > 5 * sqrt(var_want[j] / NR);
    }
    CHECK_MSG(fabs(got / want - 1) < 0.05, "%s: variance ratio %.4f", what, got / want);
    CHECK_MSG(mean_bad == 0, "%s: %d output means off by > 5 sigma", what, mean_bad);
}

static void test_read_noise(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.periphery.out_noise = 0.05;
    eqs_real w[NN_OUT * NN_IN], x[NN_IN], clean[NN_OUT];
    double var[NN_OUT];
    fill(w, NN_OUT * NN_IN, -1, 1, 11);
    fill(x, NN_IN, -1, 1, 12);
    eqs_tile *f = ideal(NN_OUT, NN_IN);
    eqs_tile_write(f, w);
    eqs_tile_mvm(f, x, 1, clean, false);

    eqs_tile *t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    for (int j = 0; j < NN_OUT; j++)
        var[j] = 0.05 * 0.05;
    noise_stats(t, x, clean, var, "out_noise, fresh reads", false);
    noise_stats(t, x, clean, var, "out_noise, mvm_again", true);
    eqs_tile_destroy(t);

    /* conductance-proportional with both devices parked mid-range (updates move both): g_min = 0,
     * g_max = g_ref (w_max 1), G+- = g_ref (1/2 +- w/2), so var(pair) / g_ref^2 =
     * rel^2 ((1/2 + w/2)^2 + (1/2 - w/2)^2) = rel^2 (1/2 + w^2/2) */
    hw.periphery.out_noise = 0;
    hw.device.read_noise_rel = 0.1;
    for (int j = 0; j < NN_OUT; j++) {
        var[j] = 0;
        for (int i = 0; i < NN_IN; i++)
            var[j] +=
                0.01 * (0.5 + 0.5 * (double)w[j * NN_IN + i] * w[j * NN_IN + i]) * x[i] * x[i];
    }
    t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    noise_stats(t, x, clean, var, "G-proportional, pairs mid-range", false);
    eqs_tile_destroy(t);
    /* one-sided updates: one device of each pair sits at g_min = 0 and var(pair) = (rel G)^2 =
     * (rel |w| g_ref)^2: var_y = rel^2 sum_i w_ji^2 x_i^2 */
    hw.update.one_sided = 1;
    for (int j = 0; j < NN_OUT; j++) {
        var[j] = 0;
        for (int i = 0; i < NN_IN; i++)
            var[j] += 0.01 * (double)w[j * NN_IN + i] * w[j * NN_IN + i] * x[i] * x[i];
    }
    t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    noise_stats(t, x, clean, var, "G-proportional, output-referred", false);
    noise_stats(t, x, clean, var, "G-proportional, mvm_again", true);
    eqs_tile_destroy(t);
    /* with output noise on top the variances add */
    hw.periphery.out_noise = 0.03;
    double var2[NN_OUT];
    for (int j = 0; j < NN_OUT; j++)
        var2[j] = var[j] + 0.03 * 0.03;
    t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    noise_stats(t, x, clean, var2, "G-proportional + out_noise", false);
    noise_stats(t, x, clean, var2, "G-proportional + out_noise, mvm_again", true);
    eqs_tile_destroy(t);
    hw.periphery.out_noise = 0;
    hw.periphery.exact_read_noise = 1;
    t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    noise_stats(t, x, clean, var, "G-proportional, per device", false);
    noise_stats(t, x, clean, var, "G-proportional, per device, mvm_again", true);
    /* every input vector of a batch gets its own device noise */
    eqs_real x2[2 * NN_IN], y2[2 * NN_OUT];
    memcpy(x2, x, sizeof x);
    memcpy(x2 + NN_IN, x, sizeof x);
    eqs_tile_mvm(t, x2, 2, y2, false);
    CHECK(memcmp(y2, y2 + NN_OUT, sizeof(eqs_real) * NN_OUT) != 0);
    eqs_tile_destroy(t);

    /* additive per-device noise: the variance is the same in every pair, 2 sigma^2 / g_ref^2 */
    hw.periphery.exact_read_noise = 0;
    hw.device.read_noise_rel = 0;
    hw.device.read_noise_sie = 0.5e-6; /* g_ref = 25 uS: 0.02 in weight units */
    double s2 = 2 * 0.02 * 0.02, xx = 0;
    for (int i = 0; i < NN_IN; i++)
        xx += (double)x[i] * x[i];
    for (int j = 0; j < NN_OUT; j++)
        var[j] = s2 * xx;
    t = analog(NN_OUT, NN_IN, &hw, 1);
    eqs_tile_write(t, w);
    noise_stats(t, x, clean, var, "additive per device", false);
    eqs_tile_destroy(t);
    eqs_tile_destroy(f);
}

/* ---- refresh ------------------------------------------------------------------------------ */

/* Pairs with a device within 10 % of g_hi are reset and re-programmed with pulses of
 * dW = 1/100: the weight comes back within half a step (plus float rounding). */
static void test_refresh(void)
{
    enum { NO = 4, NI = 50 };
    eqs_hw_config hw;
    constant_step(&hw, 100);
    hw.array.refresh_threshold = 0.1;
    hw.update.one_sided = 1;
    eqs_tile *t = analog(NO, NI, &hw, 1);
    eqs_real w[NO * NI], before[NO * NI], after[NO * NI];
    int32_t zero[NO * NI];
    memset(zero, 0, sizeof zero);
    fill(w, NO * NI, -0.999, 0.999, 13);
    int near = 0;
    for (int k = 0; k < NO * NI; k++)
        near += fabs(w[k]) >= 0.9f;
    eqs_tile_write(t, w);
    eqs_tile_read(t, before);
    eqs_tile_set_phase(t, EQS_PHASE_UPDATE);
    eqs_tile_program_pulses(t, zero); /* an update that moves nothing: refresh only */
    eqs_tile_read(t, after);
    const eqs_tile_counts *c = eqs_tile_counts_get(t, EQS_PHASE_UPDATE);
    CHECK_MSG(near > 0 && c->refresh_pairs == (uint64_t)near, "refreshed %llu pairs, want %d",
              (unsigned long long)c->refresh_pairs, near);
    double worst = 0;
    for (int k = 0; k < NO * NI; k++)
        worst = fmax(worst, fabs((double)after[k] - before[k]));
    CHECK_MSG(worst <= 0.5 * 0.01 + 1e-6, "refresh moved a weight by %g (half step 0.005)", worst);
    /* each refreshed pair: 2 resets + the pulses of |w| / 0.01 (90..100 pulses) */
    CHECK(c->refresh_pulses >= (uint64_t)near * (2 + 90) &&
          c->refresh_pulses <= (uint64_t)near * (2 + 100));
    CHECK(c->pulses_up + c->pulses_down == c->refresh_pulses);
    eqs_tile_destroy(t);
}

/* ---- reproducibility ------------------------------------------------------------------------ */

static void run_noisy(eqs_tile *t, const eqs_real *w, const eqs_real *x, const eqs_real *a,
                      eqs_real *y, eqs_real *wout)
{
    enum { B = 3 };
    eqs_tile_write(t, w);
    eqs_tile_mvm(t, x, B, y, false);
    eqs_tile_update_outer(t, a, x, B, 0.02f);
    eqs_tile_mvm_again(t, B, y + B * 8, false);
    eqs_tile_mvm_t(t, a, B, y + 2 * B * 8, false);
    eqs_tile_read(t, wout);
}

static void test_reproducible(void)
{
    enum { NO = 8, NI = 8, B = 3 };
    eqs_hw_config hw;
    constant_step(&hw, 200);
    hw.device.c2c = 0.3;
    hw.device.d2d_step = 0.2;
    hw.device.d2d_bounds = 0.05;
    hw.device.read_noise_rel = 0.02;
    hw.periphery.out_noise = 0.01;
    hw.periphery.dac_bits = 7;
    hw.periphery.adc_bits = 9;
    eqs_real w[NO * NI], x[B * NI], a[B * NO], y1[3 * B * 8], y2[3 * B * 8], w1[NO * NI],
        w2[NO * NI];
    fill(w, NO * NI, -0.5, 0.5, 14);
    fill(x, B * NI, -1, 1, 15);
    fill(a, B * NO, -1, 1, 16);
    eqs_tile *t1 = analog(NO, NI, &hw, 7), *t2 = analog(NO, NI, &hw, 7);
    run_noisy(t1, w, x, a, y1, w1);
    run_noisy(t2, w, x, a, y2, w2);
    CHECK(memcmp(y1, y2, sizeof y1) == 0 && memcmp(w1, w2, sizeof w1) == 0);
    eqs_tile *t3 = analog(NO, NI, &hw, 8);
    run_noisy(t3, w, x, a, y2, w2);
    CHECK(memcmp(y1, y2, sizeof(eqs_real) * B * 8) != 0);
    CHECK(memcmp(w1, w2, sizeof w1) != 0);
    /* and a second read of the same input is a fresh one */
    eqs_tile_mvm(t1, x, B, y1, false);
    eqs_tile_mvm(t1, x, B, y2, false);
    CHECK(memcmp(y1, y2, sizeof(eqs_real) * B * 8) != 0);
    eqs_tile_destroy(t1);
    eqs_tile_destroy(t2);
    eqs_tile_destroy(t3);
}

/* ---- the ledger ----------------------------------------------------------------------------- */

static void check_reads(const eqs_tile_counts *c, uint64_t mvm, uint64_t mvm_t, uint64_t dac,
                        uint64_t adc, uint64_t macs, const char *what)
{
    CHECK_MSG(c->mvm == mvm && c->mvm_t == mvm_t && c->dac_conv == dac && c->adc_conv == adc &&
                  c->macs == macs,
              "%s: mvm %llu mvm_t %llu dac %llu adc %llu macs %llu", what,
              (unsigned long long)c->mvm, (unsigned long long)c->mvm_t,
              (unsigned long long)c->dac_conv, (unsigned long long)c->adc_conv,
              (unsigned long long)c->macs);
}

static void test_counters(void)
{
    enum { NO = 6, NI = 10 };
    eqs_hw_config hw;
    constant_step(&hw, 100);
    hw.update.one_sided = 1;
    hw.array.max_rows = 4; /* 2 x 1 grid */
    eqs_tile *tiles[2] = {ideal(NO, NI), analog(NO, NI, &hw, 1)};
    eqs_real x[3 * NI], y[3 * NO], dw[NO * NI], w[NO * NI];
    fill(x, 3 * NI, -1, 1, 17);
    fill(y, 3 * NO, -1, 1, 18);
    memset(dw, 0, sizeof dw);
    for (int k = 0; k < 2; k++) {
        eqs_tile *t = tiles[k];
        uint64_t gr = k == 0 ? 1 : 2; /* physical tiles along the outputs */
        eqs_tile_set_phase(t, EQS_PHASE_FREE);
        eqs_tile_mvm(t, x, 3, y, false);
        eqs_tile_mvm_again(t, 3, y, false);
        eqs_tile_charge_mvm(t, 3);
        eqs_tile_mvm_t(t, y, 2, x, false);
        eqs_tile_set_phase(t, EQS_PHASE_UPDATE);
        eqs_tile_update_delta(t, dw);
        check_reads(eqs_tile_counts_get(t, EQS_PHASE_FREE), 9, 2, 9 * NI * gr + 2 * NO,
                    9 * NO + 2 * NI * gr, 11 * NO * NI, eqs_tile_kind(t));
        const eqs_tile_counts *u = eqs_tile_counts_get(t, EQS_PHASE_UPDATE);
        CHECK(eqs_tile_counts_get(t, EQS_PHASE_FREE)->updates == 0 && u->updates == 1 &&
              u->mvm == 0 && eqs_tile_counts_get(t, EQS_PHASE_NUDGE)->mvm == 0);
        CHECK(u->pulses_up == 0 && u->pulses_down == 0); /* dW = 0: no pulse */
    }
    /* pulses: one-sided, counts n on G+ (n > 0) or G- (n < 0), all potentiating; G at start is
     * the programmed G = |w| g_ref (g_min = 0) */
    eqs_tile *t = tiles[1];
    int32_t p[NO * NI];
    uint64_t want = 0;
    double gsum = 0;
    fill(w, NO * NI, -0.5, 0.5, 19);
    eqs_tile_write(t, w);
    eqs_tile_counts_reset(t);
    CHECK(eqs_tile_counts_get(t, EQS_PHASE_FREE)->mvm == 0);
    for (int k = 0; k < NO * NI; k++) {
        p[k] = k % 7 - 3;
        want += (uint64_t)abs(p[k]);
        bool on_plus = p[k] > 0;
        double g = (on_plus ? fmax(w[k], 0) : fmax(-w[k], 0)) * 25e-6;
        gsum += abs(p[k]) * g;
    }
    eqs_tile_set_phase(t, EQS_PHASE_UPDATE);
    eqs_tile_program_pulses(t, p);
    const eqs_tile_counts *u = eqs_tile_counts_get(t, EQS_PHASE_UPDATE);
    CHECK_MSG(u->pulses_up == want && u->pulses_down == 0 && u->updates == 1,
              "pulses up %llu (want %llu) down %llu", (unsigned long long)u->pulses_up,
              (unsigned long long)want, (unsigned long long)u->pulses_down);
    CHECK_CLOSE(u->pulse_g_sum_sie, gsum, 0, 1e-5);
    CHECK(strcmp(eqs_phase_name(EQS_PHASE_NUDGE), "nudge") == 0);
    eqs_tile_destroy(tiles[0]);
    eqs_tile_destroy(tiles[1]);
}

/* ---- pulses --------------------------------------------------------------------------------- */

/* The pulse port applies exactly the counts: a constant-step device moves n dG, dW = n dG /
 * g_ref = n w_max / n_states (float rounding of G only). */
static void test_pulse_port(void)
{
    enum { NO = 5, NI = 12 };
    eqs_hw_config hw;
    constant_step(&hw, 400);
    hw.update.one_sided = 1;
    eqs_tile *t = analog(NO, NI, &hw, 1);
    eqs_real w[NO * NI], dw[NO * NI];
    int32_t p[NO * NI];
    fill(w, NO * NI, -0.5, 0.5, 20);
    eqs_tile_write(t, w);
    for (int k = 0; k < NO * NI; k++)
        p[k] = (k * 37) % 41 - 20;
    eqs_tile_program_pulses(t, p);
    eqs_tile_last_update(t, dw);
    double dmin = eqs_tile_dw_min(t), worst = 0;
    CHECK_CLOSE(dmin, 1.0 / 400, 0, 1e-12);
    for (int k = 0; k < NO * NI; k++)
        worst = fmax(worst, fabs(dw[k] - p[k] * dmin));
    CHECK_MSG(worst < 1e-6, "pulse port: worst |dW - n dw_min| = %g", worst);
    eqs_tile_destroy(t);

    /* both devices: a count is split ceil/floor over G+ up and G- down; from mid-range
     * conductances (two one-sided pulse trains first) both halves land: dW = n dw_min */
    hw.update.one_sided = 0;
    t = analog(NO, NI, &hw, 2);
    for (int k = 0; k < NO * NI; k++)
        w[k] = 0;
    eqs_tile_write(t, w);
    int32_t up[NO * NI];
    for (int k = 0; k < NO * NI; k++)
        up[k] = 400; /* +200 on G+, -200 on G- (clipped at g_lo) */
    eqs_tile_program_pulses(t, up);
    for (int k = 0; k < NO * NI; k++)
        up[k] = -200; /* -100 on G+, +100 on G-: G+ = 100 steps, G- = 100 steps */
    eqs_tile_program_pulses(t, up);
    eqs_tile_program_pulses(t, p);
    eqs_tile_last_update(t, dw);
    worst = 0;
    for (int k = 0; k < NO * NI; k++)
        worst = fmax(worst, fabs(dw[k] - p[k] * dmin));
    CHECK_MSG(worst < 1e-6, "pulse port (both): worst |dW - n dw_min| = %g", worst);
    eqs_tile_destroy(t);
}

/* Stochastic rounding is unbiased. One-sided, dW = 0.3 dw_min on 4000 pairs moves each by 0 or
 * 1 step with P(1) = 0.3: the mean of achieved / requested has std sqrt(0.21 / 4000) / 0.3 =
 * 0.024, 5 sigma = 0.12. Both devices, dW = -0.3 dw_min: each device takes half (P = 0.15 of a
 * step), variance 2 x 0.15 x 0.85 per pair: std 0.027, 5 sigma = 0.13 (0.15 used). Coincidence
 * trains (expected dW = requested while p < 1): per pair a sum of bl Bernoulli(p_a p_b), E[count]
 * ~ 0.3 over 4000 pairs: the ratio has relative std ~ 1/sqrt(4000 x 0.3) ~ 0.03: tolerance 0.15. */
static void test_conversion_unbiased(void)
{
    enum { NO = 40, NI = 100 };
    eqs_hw_config hw;
    constant_step(&hw, 1000);
    eqs_real w[NO * NI], dw[NO * NI];
    int32_t lift[NO * NI];
    for (int one = 1; one >= 0; one--) {
        hw.update.one_sided = one;
        eqs_tile *t = analog(NO, NI, &hw, 3);
        for (int k = 0; k < NO * NI; k++)
            w[k] = one ? 0.2f : 0;
        eqs_tile_write(t, w);
        if (!one) { /* both devices to 100 steps: +200 on G+ (G- stays at g_lo), then -100/+100 */
            for (int k = 0; k < NO * NI; k++)
                lift[k] = 400;
            eqs_tile_program_pulses(t, lift);
            for (int k = 0; k < NO * NI; k++)
                lift[k] = -200;
            eqs_tile_program_pulses(t, lift);
        }
        double dmin = eqs_tile_dw_min(t), req = (one ? 0.3 : -0.3) * dmin;
        for (int k = 0; k < NO * NI; k++)
            dw[k] = (eqs_real)req;
        eqs_tile_update_delta(t, dw);
        eqs_tile_last_update(t, w);
        double mean = 0;
        for (int k = 0; k < NO * NI; k++)
            mean += w[k] / req;
        mean /= NO * NI;
        CHECK_MSG(fabs(mean - 1) < (one ? 0.12 : 0.15), "stochastic rounding (%s): ratio %.4f",
                  one ? "one-sided" : "both", mean);
        eqs_tile_destroy(t);
    }

    hw.update.one_sided = 1;
    hw.update.mode = EQS_PULSE_COINCIDENCE;
    hw.update.bl = 31;
    eqs_tile *t = analog(NO, NI, &hw, 4);
    for (int k = 0; k < NO * NI; k++)
        w[k] = 0;
    eqs_tile_write(t, w);
    eqs_real av[NO], bv[NI];
    fill(av, NO, -1, 1, 21);
    fill(bv, NI, -1, 1, 22);
    const eqs_real scale = 2e-4f; /* k = scale / (dw_min bl) = 6.5e-3: p_max = 0.08 */
    eqs_tile_update_outer(t, av, bv, 1, scale);
    eqs_tile_last_update(t, dw);
    double got = 0, want = 0;
    for (int o = 0; o < NO; o++)
        for (int i = 0; i < NI; i++) {
            double r = (double)scale * av[o] * bv[i];
            got += dw[o * NI + i] * (r > 0 ? 1 : -1);
            want += fabs(r);
        }
    CHECK_MSG(fabs(got / want - 1) < 0.1, "coincidence: achieved / requested %.4f", got / want);
    eqs_tile_destroy(t);
}

/* ---- IR drop ----------------------------------------------------------------------------- */

/* First-order IR drop by brute force: on a line of conductances g_0..g_{m-1} (0 next to the
 * periphery), cell j loses the fraction r C_j, C_j = sum_l g_l (min(j, l) + 1). Output lines run
 * along the inputs (G+ and G- lines of each output); input lines run along the outputs with
 * G+, G- of each output side by side. */
static double line_c(const double *g, int m, int j)
{
    double c = 0;
    for (int l = 0; l < m; l++)
        c += g[l] * ((j < l ? j : l) + 1);
    return c;
}

static void test_ir_drop(void)
{
    enum { NO = 2, NI = 3 };
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.array.r_wire_ohm = 100; /* r g ~ 2.5e-3 per cell: first order is accurate */
    hw.update.one_sided = 1;   /* one device of each pair at g_min = 0: G+- = max(+-w, 0) g_ref */
    eqs_tile *t = analog(NO, NI, &hw, 1);
    CHECK(!eqs_tile_is_exact(t));
    eqs_real w[NO * NI] = {0.9f, -0.4f, 0.7f, -0.2f, 0.6f, 0.3f}, x[NI] = {1, -0.5f, 0.8f};
    eqs_real y[NO], yt[NI], ones[NO] = {1, 1};
    eqs_tile_write(t, w);
    double gp[NO][NI], gm[NO][NI], weff[NO][NI], r = 100, gr = 25e-6;
    for (int o = 0; o < NO; o++)
        for (int i = 0; i < NI; i++) {
            gp[o][i] = fmax(w[o * NI + i], 0) * gr;
            gm[o][i] = fmax(-w[o * NI + i], 0) * gr;
        }
    for (int o = 0; o < NO; o++)
        for (int i = 0; i < NI; i++) {
            double row[2 * NO];
            for (int q = 0; q < NO; q++) {
                row[2 * q] = gp[q][i];
                row[2 * q + 1] = gm[q][i];
            }
            double cp = line_c(gp[o], NI, i) + line_c(row, 2 * NO, 2 * o);
            double cm = line_c(gm[o], NI, i) + line_c(row, 2 * NO, 2 * o + 1);
            weff[o][i] = (gp[o][i] * (1 - r * cp) - gm[o][i] * (1 - r * cm)) / gr;
        }
    eqs_tile_mvm(t, x, 1, y, false);
    eqs_tile_mvm_t(t, ones, 1, yt, false); /* the same effective matrix both ways */
    double off = 0;
    for (int o = 0; o < NO; o++) {
        double want = 0;
        for (int i = 0; i < NI; i++)
            want += weff[o][i] * x[i];
        CHECK_CLOSE(y[o], want, 1e-6, 1e-5);
        off += fabs(want - (w[o * NI] * x[0] + w[o * NI + 1] * x[1] + w[o * NI + 2] * x[2]));
    }
    for (int i = 0; i < NI; i++)
        CHECK_CLOSE(yt[i], weff[0][i] + weff[1][i], 1e-6, 1e-5);
    CHECK(off > 1e-3); /* and the effect is there */
    eqs_real wr[NO * NI];
    eqs_tile_read(t, wr); /* read() gives the stored weights, not the read-time attenuation */
    CHECK(rel_err(wr, w, NO * NI) < 1e-6);
    eqs_tile_destroy(t);
}

static void test_errors(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_tile *t = NULL;
    eqs_err err;
    hw.periphery.adc_bits = 1;
    CHECK_ERR(eqs_tile_create_analog(&t, 4, 4, &hw, 1, 1, &err), EQS_EINVAL, err, "adc_bits");
    eqs_hw_config_default(&hw);
    hw.array.max_rows = 0;
    CHECK_ERR(eqs_tile_create_analog(&t, 4, 4, &hw, 1, 1, &err), EQS_EINVAL, err, "max_rows");
    eqs_hw_config_default(&hw);
    CHECK_ERR(eqs_tile_create_analog(&t, 0, 4, &hw, 1, 1, &err), EQS_EINVAL, err, "positive");
}

/* update.pulse_step: a linear-step device (up step x (1 - 0.5 x), down step x (1 - 0 (1 - x)))
 * with both devices mid-range (x = 1/2) after write(0). An open-loop (nominal) controller asks
 * for dW/2 on each: G+ rises by only 0.75 of it, G- falls by all of it, so the pair moves by
 * 0.875 dW in expectation; a per-cell controller counts with each device's own step and gets
 * dW. 64 x 64 pairs, 20 nominal pulses each: the averages are within 1 % (stochastic rounding
 * adds at most one pulse in 20 per cell and averages out over 4096 pairs). */
static void test_pulse_step_modes(void)
{
    enum { N = 64 };
    eqs_real *w = eqs_calloc(N * N, sizeof(eqs_real), NULL),
             *dw = eqs_calloc(N * N, sizeof(eqs_real), NULL);
    eqs_real *got = eqs_calloc(N * N, sizeof(eqs_real), NULL);
    double ratio[2];
    for (int mode = 0; mode < 2; mode++) {
        eqs_hw_config hw;
        eqs_hw_config_default(&hw);
        eqs_device_config_default(&hw.device, EQS_DEV_LINEAR_STEP);
        hw.device.g_min_sie = 0;
        hw.device.g_max_sie = 25e-6;
        hw.device.n_states = 1000;
        hw.device.p[0] = 0.5; /* gamma_up */
        hw.device.p[1] = 0.0; /* gamma_down */
        hw.device.c2c = 0;
        hw.device.d2d_step = 0;
        hw.update.pulse_step = mode == 0 ? EQS_STEP_NOMINAL : EQS_STEP_PER_CELL;
        eqs_tile *t = analog(N, N, &hw, 7);
        eqs_tile_write(t, w);
        for (int i = 0; i < N * N; i++)
            dw[i] = (eqs_real)(40.0 / 1000); /* 2 x 20 nominal steps of 1/1000 */
        eqs_tile_update_delta(t, dw);
        eqs_tile_read(t, got);
        double sum = 0;
        for (int i = 0; i < N * N; i++)
            sum += got[i];
        ratio[mode] = sum / (N * N) / (40.0 / 1000);
        eqs_tile_destroy(t);
    }
    CHECK_MSG(fabs(ratio[0] - 0.875) < 0.01, "nominal: achieved/requested %.4f, want 0.875",
              ratio[0]);
    CHECK_MSG(fabs(ratio[1] - 1.0) < 0.01, "per_cell: achieved/requested %.4f, want 1", ratio[1]);
    eqs_free(w), eqs_free(dw), eqs_free(got);
}

/* array.write: pulses on a constant-step device of 8 states (w_max 1): every programmed weight
 * is a whole number of steps 1/8 (each device sits on one of its levels), within one step of its
 * target (each device rounds by at most half a step); verify programs the targets exactly. */
static void test_write_by_pulses(void)
{
    enum { N = 32 };
    eqs_real w[N * N], got[N * N];
    fill(w, N * N, -0.9, 0.9, 21);
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_device_config_default(&hw.device, EQS_DEV_CONSTANT_STEP);
    hw.device.g_min_sie = 0;
    hw.device.g_max_sie = 25e-6;
    hw.device.n_states = 8;
    hw.device.c2c = 0;
    hw.device.d2d_step = 0;
    hw.device.d2d_bounds = 0;
    for (int mode = 0; mode < 2; mode++) {
        hw.array.write = mode == 0 ? EQS_WRITE_PULSES : EQS_WRITE_VERIFY;
        eqs_tile *t = analog(N, N, &hw, 8);
        eqs_tile_write(t, w);
        eqs_tile_read(t, got);
        int off_grid = 0, far = 0, exact = 1;
        for (int i = 0; i < N * N; i++) {
            double k = got[i] * 8;
            off_grid += fabs(k - floor(k + 0.5)) > 1e-4;
            far += fabs(got[i] - w[i]) > 1.0 / 8 + 1e-6;
            exact &= fabs(got[i] - w[i]) < 1e-6;
        }
        if (mode == 0)
            CHECK_MSG(off_grid == 0 && far == 0 && !exact,
                      "write by pulses: %d weights off the 1/8 grid, %d more than a step away",
                      off_grid, far);
        else
            CHECK_MSG(exact, "write-verify: weights not exact");
        eqs_tile_destroy(t);
    }
}

/* periphery.input_scaling: a small input vector (max |x| = 0.01) through a 4-bit DAC on
 * [-1, 1] (step 1/7) reads as zero without scaling; with abs_max it is stretched to full scale
 * first, so each input is off by at most half a DAC step of its own scale (0.01/7/2) and the
 * output by at most that times sum_i |W_ji|. */
static void test_input_scaling(void)
{
    enum { NO = 8, NI = 16 };
    eqs_real w[NO * NI], x[NI], y[NO], want[NO];
    fill(w, NO * NI, -1, 1, 31);
    fill(x, NI, -0.01, 0.01, 32);
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.periphery.dac_bits = 4;
    eqs_tile *f = ideal(NO, NI);
    eqs_tile_write(f, w);
    eqs_tile_mvm(f, x, 1, want, false);
    for (int mode = 0; mode < 2; mode++) {
        hw.periphery.input_scaling = mode ? EQS_INPUT_SCALING_ABS_MAX : EQS_INPUT_SCALING_NONE;
        eqs_tile *t = analog(NO, NI, &hw, 9);
        eqs_tile_write(t, w);
        eqs_tile_mvm(t, x, 1, y, false);
        double mx = 0, worst = 0, zero = 1;
        for (int i = 0; i < NI; i++)
            mx = fmax(mx, fabs(x[i]));
        for (int o = 0; o < NO; o++) {
            double l1 = 0;
            for (int i = 0; i < NI; i++)
                l1 += fabs(w[o * NI + i]);
            worst = fmax(worst, fabs(y[o] - want[o]) / (l1 * mx / 7 / 2 + 1e-9));
            zero = zero && y[o] == 0;
        }
        if (mode == 0)
            CHECK_MSG(zero, "no scaling: a 0.01 signal should vanish in a 4-bit DAC");
        else
            CHECK_MSG(worst <= 1.0001 && !zero, "abs_max: error %.3g half-steps", worst);
        eqs_tile_destroy(t);
    }
    eqs_tile_destroy(f);
}

int main(void)
{
    test_ideal_equivalence();
    test_tiling();
    test_converters();
    test_read_noise();
    test_refresh();
    test_reproducible();
    test_counters();
    test_pulse_port();
    test_conversion_unbiased();
    test_ir_drop();
    test_errors();
    test_pulse_step_modes();
    test_write_by_pulses();
    test_input_scaling();
    EQS_TEST_MAIN_END("test_analog");
}
