/* test_device.c — device kinds against their closed forms, fabrication statistics, noise
 * statistics, endurance, drift, reproducibility and config checks (sim/device/). */
#include <stdlib.h>

#include "eqs_test.h"

#include "eqs/device.h"

#define N_BIG 100000

static eqs_device_array *make(const eqs_device_config *c, size_t n, uint64_t seed, uint32_t id)
{
    eqs_device_array *d = NULL;
    eqs_err err;
    eqs_err_clear(&err);
    eqs_status st = eqs_device_array_create(&d, c, n, seed, id, &err);
    CHECK_MSG(st == EQS_OK, "create: %s", err.msg);
    return d;
}

/* Applies `p` pulses to every cell, `times` times. */
static void pulse_all(eqs_device_array *d, int32_t p, int times)
{
    size_t n = eqs_device_array_size(d);
    int32_t *q = malloc(n * sizeof *q);
    for (size_t i = 0; i < n; i++)
        q[i] = p;
    for (int t = 0; t < times; t++)
        eqs_device_pulse(d, q);
    free(q);
}

static void set_all(eqs_device_array *d, float g)
{
    size_t n = eqs_device_array_size(d);
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = g;
    eqs_device_program(d, v, NULL);
    free(v);
}

static void test_descriptors(void)
{
    for (int k = 0; k < EQS_DEV_N_KINDS; k++) {
        CHECK(eqs_device_kind_from_name(eqs_device_kind_name((eqs_device_kind)k)) == k);
        eqs_device_config c;
        eqs_device_config_default(&c, (eqs_device_kind)k);
        eqs_err err;
        eqs_err_clear(&err);
        CHECK_MSG(eqs_device_config_check(&c, &err) == EQS_OK, "kind %d default: %s", k, err.msg);
        int n;
        const eqs_param_desc *t = eqs_device_kind_params((eqs_device_kind)k, &n);
        for (int i = 0; i < n; i++) {
            CHECK(t[i].lo <= t[i].def && t[i].def <= t[i].hi);
            CHECK(t[i].name && t[i].unit && t[i].meaning && t[i].source);
        }
    }
    CHECK(eqs_device_kind_from_name("memristor") == -1);
    int n;
    const eqs_param_desc *t = eqs_device_common_params(&n);
    CHECK(n == 13);
    CHECK(strcmp(t[0].name, "g_min_sie") == 0 && strcmp(t[0].unit, "S") == 0);
    CHECK(strcmp(t[12].name, "endurance_pulses") == 0);
}

static void test_config_check(void)
{
    eqs_device_config c;
    eqs_err err;
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.g_min_sie = 30e-6; /* above g_max = 25 uS */
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.g_min_sie");
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.g_min_sie = -1e-6;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.g_min_sie");
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.n_states = 0;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.n_states");
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.stuck_on_frac = 1.5;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.stuck_on_frac");
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.stuck_on_frac = 0.6;
    c.stuck_off_frac = 0.6;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.stuck_off_frac");
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.c2c = NAN;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.c2c");
    eqs_device_config_default(&c, EQS_DEV_PIECEWISE);
    c.n_piecewise = 1;
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.piecewise_up");
    eqs_device_config_default(&c, EQS_DEV_NONLINEAR);
    c.p[1] = 12.0; /* nl_ltp outside [-9, 9] */
    CHECK_ERR(eqs_device_config_check(&c, &err), EQS_ECONFIG, err, "device.nl_ltp");
    eqs_device_array *d = NULL;
    CHECK_ERR(eqs_device_array_create(&d, &c, 10, 1, 0, &err), EQS_ECONFIG, err, "device.nl_ltp");
    CHECK(d == NULL);
}

/* ideal and constant step: N pulses from g_min reach g_min + N dG exactly (float sums). */
static void test_constant_and_ideal(void)
{
    for (int k = 0; k < 2; k++) {
        eqs_device_config c;
        eqs_device_config_default(&c, k == 0 ? EQS_DEV_IDEAL : EQS_DEV_CONSTANT_STEP);
        c.g_min_sie = 1e-6;
        c.g_max_sie = 11e-6;
        c.n_states = 100;
        eqs_device_array *d = make(&c, 8, 1, 0);
        double dg = 1e-7;
        pulse_all(d, 1, 7);
        pulse_all(d, 3, 1);
        /* 10 float additions of 1e-7 to 1e-6: rounding < 10 ulp(2e-6) ~ 2.3e-12 */
        CHECK_CLOSE(eqs_device_g(d)[3], 1e-6 + 10 * dg, 5e-12, 0);
        pulse_all(d, -4, 1);
        CHECK_CLOSE(eqs_device_g(d)[5], 1e-6 + 6 * dg, 5e-12, 0);
        pulse_all(d, 200, 1); /* saturates at g_max */
        CHECK(eqs_device_g(d)[0] == eqs_device_g_hi(d)[0]);
        CHECK(eqs_device_pulses_up(d) == 8 * (7 + 3 + 200));
        CHECK(eqs_device_pulses_down(d) == 8 * 4);
        float up[8], down[8];
        eqs_device_mean_steps(d, up, down);
        CHECK(up[0] == 0.0f);                  /* at the bound: no room */
        CHECK_CLOSE(down[0], dg, 1e-12, 1e-5); /* a full step down */
        set_all(d, 5e-6f);
        CHECK(eqs_device_pulses_for(d, 2, 10 * dg) == 10);
        CHECK(eqs_device_pulses_for(d, 2, -3.4 * dg) == -3);
        eqs_device_array_destroy(d);
    }
}

/* linear step: x_{k+1} = x_k + (1 - g x_k)/n  =>  x_N = (1 - (1 - g/n)^N) / g. */
static void test_linear_step(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_LINEAR_STEP);
    c.g_min_sie = 0;
    c.g_max_sie = 1e-5;
    c.n_states = 200;
    c.p[0] = 0.2; /* gamma_up */
    c.p[1] = 0.6; /* gamma_down */
    eqs_device_array *d = make(&c, 4, 1, 0);
    pulse_all(d, 5, 20);
    double x = (1 - pow(1 - 0.2 / 200, 100)) / 0.2;
    /* 100 float steps: accumulated rounding < 100 ulp(1e-5) ~ 1e-10 S */
    CHECK_CLOSE(eqs_device_g(d)[1], 1e-5 * x, 2e-10, 0);
    /* asymmetry at x = 0.25: up = dG (1 - 0.2 x), down = dG (1 - 0.6 (1 - x)) */
    set_all(d, 0.25e-5f);
    float up[4], down[4];
    eqs_device_mean_steps(d, up, down);
    CHECK_CLOSE(up[0], 5e-8 * (1 - 0.2 * 0.25), 0, 1e-5);
    CHECK_CLOSE(down[0], 5e-8 * (1 - 0.6 * 0.75), 0, 1e-5);
    /* down from g_max: u = 1 - x follows the same form with gamma_down */
    set_all(d, 1e-5f);
    pulse_all(d, -50, 1);
    double u = (1 - pow(1 - 0.6 / 200, 50)) / 0.6;
    CHECK_CLOSE(eqs_device_g(d)[2], 1e-5 * (1 - u), 2e-10, 0);
    eqs_device_array_destroy(d);
}

/* soft bounds: x_N = 1 - (1 - 1/n)^N: saturates below g_max and approaches it. */
static void test_soft_bounds(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_SOFT_BOUNDS);
    c.g_min_sie = 2e-6;
    c.g_max_sie = 12e-6;
    c.n_states = 50;
    eqs_device_array *d = make(&c, 4, 1, 0);
    pulse_all(d, 1, 30);
    CHECK_CLOSE(eqs_device_g(d)[0], 2e-6 + 1e-5 * (1 - pow(1 - 1.0 / 50, 30)), 1e-11, 0);
    pulse_all(d, 10, 30); /* 330 pulses: 1 - 0.98^330 = 0.9987 */
    float g = eqs_device_g(d)[0];
    CHECK(g < 12e-6f);
    CHECK_CLOSE(g, 2e-6 + 1e-5 * (1 - pow(0.98, 330)), 1e-11, 0);
    pulse_all(d, 100, 30);
    CHECK(12e-6f - eqs_device_g(d)[0] < 1e-10f); /* 0.98^3330 ~ 1e-29: at the bound */
    eqs_device_array_destroy(d);
}

static void test_exp_pow_piecewise(void)
{
    eqs_device_config c;
    float up[4], down[4];
    /* exp_step (aihwkit defaults) at x = 0.3: z = a(2x - 1) + b */
    eqs_device_config_default(&c, EQS_DEV_EXP_STEP);
    c.g_min_sie = 0;
    c.g_max_sie = 1e-5;
    c.n_states = 100;
    eqs_device_array *d = make(&c, 4, 1, 0);
    set_all(d, 0.3e-5f);
    eqs_device_mean_steps(d, up, down);
    double z = c.p[4] * (2 * 0.3 - 1) + c.p[5];
    double eu = 1 - c.p[0] * exp(c.p[2] * z), ed = 1 - c.p[1] * exp(-c.p[3] * z);
    CHECK_CLOSE(up[1], 1e-7 * eu, 0, 1e-5);
    CHECK_CLOSE(down[1], 1e-7 * ed, 0, 1e-5);
    eqs_device_array_destroy(d);
    /* pow_step gamma 0.5 at x = 0.36: up (0.64)^0.5 = 0.8, down 0.6 */
    eqs_device_config_default(&c, EQS_DEV_POW_STEP);
    c.g_min_sie = 0;
    c.g_max_sie = 1e-5;
    c.n_states = 100;
    c.p[0] = 0.5;
    d = make(&c, 4, 1, 0);
    set_all(d, 0.36e-5f);
    eqs_device_mean_steps(d, up, down);
    CHECK_CLOSE(up[2], 0.8e-7, 0, 1e-5);
    CHECK_CLOSE(down[2], 0.6e-7, 0, 1e-5);
    eqs_device_array_destroy(d);
    /* piecewise: nodes at x = 0, 0.5, 1; interpolation at x = 0.25 and 0.75 */
    eqs_device_config_default(&c, EQS_DEV_PIECEWISE);
    c.g_min_sie = 0;
    c.g_max_sie = 1e-5;
    c.n_states = 100;
    c.n_piecewise = 3;
    double pu[3] = {2.0, 1.0, 0.2}, pd[3] = {0.1, 1.0, 3.0};
    for (int i = 0; i < 3; i++) {
        c.piecewise_up[i] = pu[i];
        c.piecewise_down[i] = pd[i];
    }
    d = make(&c, 4, 1, 0);
    set_all(d, 0.25e-5f);
    eqs_device_mean_steps(d, up, down);
    CHECK_CLOSE(up[0], 1.5e-7, 0, 1e-5);
    CHECK_CLOSE(down[0], 0.55e-7, 0, 1e-5);
    set_all(d, 0.75e-5f);
    eqs_device_mean_steps(d, up, down);
    CHECK_CLOSE(up[0], 0.6e-7, 0, 1e-5);
    CHECK_CLOSE(down[0], 2.0e-7, 0, 1e-5);
    pulse_all(d, 1, 1); /* one pulse moves by the interpolated step */
    CHECK_CLOSE(eqs_device_g(d)[3], 0.75e-5 + 0.6e-7, 1e-12, 0);
    eqs_device_array_destroy(d);
}

/* NeuroSim: NL <-> A table points, and the LTP/LTD curves after P pulses. */
static void test_nonlinear(void)
{
    /* Documents/Nonlinearity-NormA.htm rows (A given to 4-6 digits; our fit: < 0.1 %) */
    double nl[] = {0.01, 0.1, 1.51, 2.40, 3.01, 4.51, 4.88, 6.01, 7.51};
    double an[] = {126.269, 12.6258, 0.8195, 0.4992, 0.3853, 0.2266, 0.2003, 0.1351, 0.0702};
    for (int i = 0; i < 9; i++) {
        CHECK_CLOSE(eqs_device_nl_to_a(nl[i]), an[i], 0, 1e-3);
        CHECK_CLOSE(eqs_device_nl_to_a(-nl[i]), -an[i], 0, 1e-3);
        CHECK_CLOSE(eqs_device_a_to_nl(eqs_device_nl_to_a(nl[i])), nl[i], 1e-9, 1e-9);
    }
    CHECK(eqs_device_nl_to_a(0.0) == 0.0);

    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_NONLINEAR); /* Ag:a-Si: 97 pulses, 2.40 / -4.88 */
    c.g_min_sie = 3.08e-9;
    c.g_max_sie = 38.46e-9;
    eqs_device_array *d = make(&c, 4, 1, 0);
    double gmin = 3.08e-9, gmax = 38.46e-9, R = gmax - gmin, pmax = 97;
    double A = eqs_device_nl_to_a(2.40) * pmax, B = R / (1 - exp(-pmax / A));
    int steps[] = {1, 9, 20, 37, 30};
    int P = 0;
    for (int s = 0; s < 5; s++) {
        pulse_all(d, steps[s], 1);
        P += steps[s];
        /* float walk of P affine steps: error < P ulp(G) ~ 97 * 4e-15 S; tol 1e-5 of range */
        CHECK_CLOSE(eqs_device_g(d)[0], B * (1 - exp(-P / A)) + gmin, 1e-5 * R, 0);
    }
    CHECK_CLOSE(eqs_device_g(d)[0], gmax, 1e-5 * R, 0); /* P = 97 = P_max */
    /* LTD with NL -4.88 from g_max: G = -B (1 - e^{(P - Pmax)/A}) + G_max at P = Pmax - k */
    double Ad = -eqs_device_nl_to_a(-4.88) * pmax, Bd = R / (1 - exp(-pmax / Ad));
    int k = 0, ks[] = {1, 5, 30, 61};
    for (int s = 0; s < 4; s++) {
        pulse_all(d, -ks[s], 1);
        k += ks[s];
        CHECK_CLOSE(eqs_device_g(d)[2], -Bd * (1 - exp(-k / Ad)) + gmax, 1e-5 * R, 0);
    }
    CHECK_CLOSE(eqs_device_g(d)[2], gmin, 1e-5 * R, 0);
    eqs_device_array_destroy(d);

    /* NL 0 is linear: dG = R / p_max per pulse */
    c.p[1] = 0;
    d = make(&c, 2, 1, 0);
    pulse_all(d, 10, 1);
    CHECK_CLOSE(eqs_device_g(d)[0], gmin + 10 * R / pmax, 1e-6 * R, 0);
    eqs_device_array_destroy(d);
}

static void test_pcm(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_PCM);
    c.g_min_sie = 0.25e-6;
    c.g_max_sie = 25e-6;
    c.p[1] = 0.0;  /* reset_std */
    c.p[3] = 0.0;  /* nu_std: every device drifts with nu_mean */
    c.p[2] = 0.06; /* nu_mean */
    eqs_device_array *d = make(&c, 16, 1, 0);
    /* gradual SET: x_{k+1} = x_k + e^{-set_gamma x_k} / n, walked in double */
    pulse_all(d, 5, 10);
    double x = 0;
    for (int k = 0; k < 50; k++)
        x += exp(-2.0 * x) / 1000;
    double range = 24.75e-6;
    CHECK_CLOSE(eqs_device_g(d)[0], 0.25e-6 + range * x, 1e-10, 0);
    /* drift from the last programming: G = G0 (t / t0)^-nu, t0 = 20 s */
    set_all(d, 10e-6f);
    double t = 0, ts[] = {10, 40, 1000, 86400};
    for (int i = 0; i < 4; i++) {
        eqs_device_advance_time(d, ts[i] - t);
        t = ts[i];
        double want = t <= 20 ? 10e-6 : 10e-6 * pow(t / 20, -0.06);
        CHECK_CLOSE(eqs_device_g(d)[4], want, 0, 1e-5);
    }
    /* a potentiating pulse restarts the clock */
    int32_t p[16] = {0};
    p[4] = 1;
    eqs_device_pulse(d, p);
    float g4 = eqs_device_g(d)[4];
    eqs_device_advance_time(d, 200);
    CHECK_CLOSE(eqs_device_g(d)[4], g4 * pow(10.0, -0.06), 0, 1e-5);
    /* abrupt RESET: any negative count -> g_min, counted as one pulse */
    uint64_t down0 = eqs_device_pulses_down(d);
    p[4] = -3;
    eqs_device_pulse(d, p);
    CHECK(eqs_device_g(d)[4] == eqs_device_g_lo(d)[4]);
    CHECK(eqs_device_pulses_down(d) == down0 + 1);
    CHECK(eqs_device_pulses_for(d, 0, -1e-6) == -1);
    eqs_device_array_destroy(d);
}

static void test_stuck_and_bounds(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.stuck_off_frac = 0.1;
    c.stuck_on_frac = 0.05;
    c.d2d_bounds = 0.1;
    eqs_device_array *d = make(&c, N_BIG, 7, 3);
    const float *lo = eqs_device_g_lo(d), *hi = eqs_device_g_hi(d);
    set_all(d, 12e-6f);
    pulse_all(d, 2, 1);
    size_t off = 0, on = 0, bad = 0;
    double sum_lo = 0, sum_lo2 = 0;
    for (size_t i = 0; i < N_BIG; i++) {
        float g = eqs_device_g(d)[i];
        off += g == lo[i];
        on += g == hi[i];
        bad += !(0 <= lo[i] && lo[i] < hi[i] && lo[i] <= g && g <= hi[i]);
        sum_lo += lo[i];
        sum_lo2 += (double)lo[i] * lo[i];
    }
    CHECK(bad == 0);
    /* binomial(1e5, p): 5 sigma = 5 sqrt(n p (1-p)) = 474 (p = 0.1), 345 (p = 0.05) */
    CHECK_CLOSE((double)off, 10000, 474, 0);
    CHECK_CLOSE((double)on, 5000, 345, 0);
    /* g_lo = max(0, g_min + 0.1 R xi) with g_min = 0: a half-normal folded at 0;
     * E = 0.1 R / sqrt(2 pi) = 0.997 uS; sample mean std < 0.1 R / sqrt(n) = 7.9e-9: 5 sigma */
    CHECK_CLOSE(sum_lo / N_BIG, 2.5e-6 / sqrt(2 * 3.14159265358979), 4e-8, 0);
    eqs_device_array_destroy(d);
}

/* d2d step spread and c2c noise: mean and std of one step over 1e5 cells. */
static void test_d2d_c2c_stats(void)
{
    for (int which = 0; which < 2; which++) {
        eqs_device_config c;
        eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
        c.n_states = 1000; /* dG = 25 nS */
        double sig = which == 0 ? 0.2 : 0.3;
        if (which == 0)
            c.d2d_step = sig;
        else
            c.c2c = sig;
        eqs_device_array *d = make(&c, N_BIG, 11, 0);
        set_all(d, 12.5e-6f); /* mid range: no clipping */
        pulse_all(d, 1, 1);
        double s1 = 0, s2 = 0, dg = 25e-9;
        for (size_t i = 0; i < N_BIG; i++) {
            double r = (eqs_device_g(d)[i] - 12.5e-6f) / dg;
            s1 += r;
            s2 += r * r;
        }
        double mean = s1 / N_BIG, sd = sqrt(s2 / N_BIG - mean * mean);
        /* mean: 5 sigma = 5 sig / sqrt(n) <= 4.7e-3, plus float rounding of G - 12.5 uS
         * (ulp(12.5e-6) / dG = 3.6e-5) and the d2d clip at 0.01 (P(xi < -4.95) ~ 4e-7);
         * std: relative error of a sample std ~ 1 / sqrt(2n) = 2.2e-3, 5 sigma = 1.1 %,
         * plus rounding 3.6e-5 / sqrt(3) ~ 2e-5 absolute. */
        CHECK_CLOSE(mean, 1.0, 5 * sig / sqrt(N_BIG) + 1e-4, 0);
        CHECK_CLOSE(sd, sig, 1e-4, 5 / sqrt(2.0 * N_BIG));
        /* mean_steps carries the d2d spread but no c2c */
        float *up = malloc(N_BIG * sizeof *up), *down = malloc(N_BIG * sizeof *down);
        eqs_device_mean_steps(d, up, down);
        if (which == 1)
            CHECK_CLOSE(up[17], dg, 0, 1e-5);
        free(up);
        free(down);
        eqs_device_array_destroy(d);
    }
    /* nonlinear_ltp_ltd: additive c2c, std = c2c x range per pulse (NeuroSim sigmaCtoC) */
    {
        eqs_device_config c;
        eqs_device_config_default(&c, EQS_DEV_NONLINEAR);
        c.p[1] = 0.0; /* linear LTP: mean step R / 97 */
        c.c2c = 0.01;
        eqs_device_array *d = make(&c, N_BIG, 13, 0);
        set_all(d, 12.5e-6f);
        pulse_all(d, 1, 1);
        double s1 = 0, s2 = 0, R = 25e-6;
        for (size_t i = 0; i < N_BIG; i++) {
            double r = (eqs_device_g(d)[i] - 12.5e-6f) / R;
            s1 += r;
            s2 += r * r;
        }
        double mean = s1 / N_BIG, sd = sqrt(s2 / N_BIG - mean * mean);
        /* 5 sigma of the mean: 5 x 0.01 / sqrt(n) = 1.6e-4; std: 5 / sqrt(2n) relative */
        CHECK_CLOSE(mean, 1.0 / 97, 1.6e-4 + 1e-6, 0);
        CHECK_CLOSE(sd, 0.01, 1e-6, 5 / sqrt(2.0 * N_BIG));
        eqs_device_array_destroy(d);
    }
    /* up/down asymmetry: up x (1 + a), down x (1 - a) */
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.up_down = 0.1;
    eqs_device_array *d = make(&c, 4, 1, 0);
    set_all(d, 12.5e-6f);
    float up[4], down[4];
    eqs_device_mean_steps(d, up, down);
    CHECK_CLOSE(up[0], 25e-9 * 1.1, 0, 1e-5);
    CHECK_CLOSE(down[0], 25e-9 * 0.9, 0, 1e-5);
    eqs_device_array_destroy(d);
}

static void test_endurance(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_CONSTANT_STEP);
    c.endurance_pulses = 5;
    eqs_device_array *d = make(&c, 4, 1, 0);
    pulse_all(d, 3, 1);
    pulse_all(d, 3, 1); /* only 2 of these land */
    CHECK_CLOSE(eqs_device_g(d)[0], 5 * 25e-9, 1e-14, 0);
    pulse_all(d, -2, 3);
    CHECK_CLOSE(eqs_device_g(d)[1], 5 * 25e-9, 1e-14, 0);
    float up[4], down[4];
    eqs_device_mean_steps(d, up, down);
    CHECK(up[2] == 0.0f && down[2] == 0.0f);
    eqs_device_array_destroy(d);
}

static void test_read_var(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_IDEAL);
    c.read_noise_rel = 0.05;
    c.read_noise_sie = 1e-7;
    eqs_device_array *d = make(&c, 3, 1, 0);
    float g[3] = {0, 1e-5f, 2e-5f}, var[3];
    eqs_device_program(d, g, NULL);
    eqs_device_read_var(d, var);
    for (int i = 0; i < 3; i++)
        CHECK_CLOSE(var[i], pow(0.05 * g[i], 2) + 1e-14, 0, 1e-5);
    uint8_t mask[3] = {1, 0, 1};
    float g2[3] = {5e-6f, 5e-6f, 99.0f};
    eqs_device_program(d, g2, mask);
    CHECK(eqs_device_g(d)[0] == 5e-6f && eqs_device_g(d)[1] == 1e-5f);
    CHECK(eqs_device_g(d)[2] == eqs_device_g_hi(d)[2]); /* clipped */
    eqs_device_reset(d, mask);
    CHECK(eqs_device_g(d)[0] == 0.0f && eqs_device_g(d)[1] == 1e-5f);
    CHECK(eqs_device_pulses_down(d) == 2);
    eqs_device_array_destroy(d);
}

/* same (seed, id) -> bit-identical; another id -> different. */
static void test_reproducible(void)
{
    eqs_device_config c;
    eqs_device_config_default(&c, EQS_DEV_NONLINEAR);
    c.c2c = 0.02;
    c.d2d_step = 0.2;
    c.d2d_bounds = 0.05;
    c.stuck_off_frac = 0.01;
    size_t n = 5000;
    eqs_device_array *a = make(&c, n, 42, 5), *b = make(&c, n, 42, 5), *o = make(&c, n, 42, 6);
    int32_t *p = malloc(n * sizeof *p);
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < n; i++)
            p[i] = (int32_t)((i * 7 + (size_t)round * 3) % 9) - 4;
        eqs_device_pulse(a, p);
        eqs_device_pulse(b, p);
        eqs_device_pulse(o, p);
    }
    CHECK(memcmp(eqs_device_g(a), eqs_device_g(b), n * sizeof(float)) == 0);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += eqs_device_g(a)[i] != eqs_device_g(o)[i];
    CHECK(differ > n / 2);
    free(p);
    eqs_device_array_destroy(a);
    eqs_device_array_destroy(b);
    eqs_device_array_destroy(o);
    eqs_device_array_destroy(NULL);
}

/* eqs_device_round_and_pulse (one fused sweep, specialised for cells that share their bounds
 * and steps, for one-sided updates and for the nominal step) against its definition:
 * eqs_device_round_pulses with the same uniforms, then eqs_device_pulse. Without C2C noise
 * the two must agree bit for bit, on uniform and on D2D-spread cells. */
static void fused_case(eqs_device_kind kind, bool spread, bool nominal, int one_sided)
{
    eqs_device_config c;
    eqs_device_config_default(&c, kind);
    c.c2c = 0;
    if (spread) {
        c.d2d_bounds = 0.05;
        c.d2d_step = 0.2;
    }
    size_t n = 5000; /* more than one chunk of the fused sweep */
    eqs_device_array *a = make(&c, n, 7, 3), *b = make(&c, n, 7, 3);
    eqs_device_set_nominal_rounding(a, nominal);
    eqs_device_set_nominal_rounding(b, nominal);
    float *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u);
    eqs_real *dw = malloc(n * sizeof *dw);
    int32_t *ca = malloc(n * sizeof *ca), *cb = malloc(n * sizeof *cb);
    float lo = (float)c.g_min_sie, span = (float)(c.g_max_sie - c.g_min_sie);
    for (size_t i = 0; i < n; i++) { /* cells across the range, updates of both signs */
        g[i] = lo + span * (float)((i * 37) % 101) / 100.0f;
        dw[i] = (eqs_real)(((double)((i * 53) % 41) - 20.0) * 0.4);
    }
    eqs_device_program(a, g, NULL);
    eqs_device_program(b, g, NULL);
    float scale = span / (float)c.n_states; /* dw in nominal steps */
    eqs_device_uniforms us = {.seed = 11, .purpose = EQS_RNG_PULSE_ROUND, .entity = 2, .block0 = 9};
    eqs_device_ledger led;
    eqs_device_round_and_pulse(a, dw, scale, one_sided, &us, 5.0f, ca, &led);
    eqs_rng_fill_uniform_f32(u, n, us.seed, us.purpose, us.entity, us.block0);
    eqs_device_round_pulses(b, dw, scale, one_sided, u, 5.0f, cb);
    eqs_device_pulse(b, cb);
    size_t pulsed = 0;
    for (size_t i = 0; i < n; i++)
        pulsed += cb[i] != 0;
    CHECK_MSG(memcmp(ca, cb, n * sizeof *ca) == 0 &&
                  memcmp(eqs_device_g(a), eqs_device_g(b), n * sizeof(float)) == 0,
              "fused sweep != round + pulse (kind %s, spread %d, nominal %d, one-sided %d)",
              eqs_device_kind_name(kind), (int)spread, (int)nominal, one_sided);
    CHECK_MSG(pulsed > n / 10, /* one-sided: only dw > 0 moves; near the bounds fewer */

              "only %zu cells pulsed (kind %s, spread %d, nominal %d, one-sided %d)", pulsed,
              eqs_device_kind_name(kind), (int)spread, (int)nominal, one_sided);
    free(g);
    free(u);
    free(dw);
    free(ca);
    free(cb);
    eqs_device_array_destroy(a);
    eqs_device_array_destroy(b);
}

static void test_fused_sweep(void)
{
    const eqs_device_kind kinds[] = {EQS_DEV_LINEAR_STEP, EQS_DEV_SOFT_BOUNDS, EQS_DEV_EXP_STEP,
                                     EQS_DEV_NONLINEAR};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int v = 0; v < 8; v++)
            fused_case(kinds[k], v & 1, (v >> 1) & 1, (v >> 2) & 1);
}

int main(void)
{
    test_descriptors();
    test_config_check();
    test_constant_and_ideal();
    test_linear_step();
    test_soft_bounds();
    test_exp_pow_piecewise();
    test_nonlinear();
    test_pcm();
    test_stuck_and_bounds();
    test_d2d_c2c_stats();
    test_endurance();
    test_read_var();
    test_reproducible();
    test_fused_sweep();
    EQS_TEST_MAIN_END("test_device");
}
