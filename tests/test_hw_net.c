/* test_hw_net.c — the CRNN on hardware: with the `ideal` hwconfig the analog tiles reproduce the
 * float reference's EP step; quantized and leaky neurons follow their equations; the settle
 * detector ends a relaxation early; the action counters count what one EP step does. */
#include <stdlib.h>

#include "eqs_test.h"
#include "test_util.h"

#include "eqs/blas.h"

enum { B = 8, T1 = 20, T2 = 6 };

static eqs_experiment_config small_experiment(const eqs_hw_config *hw)
{
    const int32_t sizes[] = {12, 10, 8, 4};
    eqs_experiment_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "hw-test");
    c.model =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    c.algorithm.name = EQS_ALGO_EP;
    c.algorithm.estimator = EQS_EST_SYMMETRIC;
    c.algorithm.beta = 0.3;
    c.algorithm.t1 = T1;
    c.algorithm.t2 = T2;
    c.optimizer.kind = EQS_OPT_SGD;
    c.optimizer.n_lr = 1;
    c.optimizer.lr[0] = 0.2; /* large, so that the update is well above float rounding */
    c.training.epochs = 1;
    c.training.batch_size = B;
    c.training.seed = 5;
    c.training.threads = 1;
    if (hw) {
        c.has_hardware = 1;
        c.hardware = *hw;
    }
    return c;
}

static void batch(eqs_real *x, int32_t *y)
{
    test_fill_uniform(x, B * 12, 0, 1, 9, 0);
    for (int i = 0; i < B; i++)
        y[i] = i % 4;
}

/* ||a - b|| / ||b|| over one layer's weights. */
static double rel_dist(const eqs_real *a, const eqs_real *b, int64_t n)
{
    double d2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        d2 += d * d;
        r2 += (double)b[i] * (double)b[i];
    }
    return sqrt(d2 / r2);
}

/* One EP training step (symmetric, SGD) on float tiles and on ideal analog tiles from the same
 * initial weights and batch: the updated weights agree to 1e-6 relative (the G+ - G- mapping
 * rounds each weight once, ~6e-8 relative in float32), and so do the updates themselves to 1e-4
 * (an update is ~1e-2 of the weight, so the same absolute rounding weighs 100x more). */
static void test_ideal_hw_step_matches_float(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_experiment_config cf = small_experiment(NULL), ch = small_experiment(&hw);
    eqs_trainer *tf, *th;
    eqs_err err;
    CHECK_OK(eqs_trainer_create(&tf, &cf, B, &err), err);
    CHECK_OK(eqs_trainer_create(&th, &ch, B, &err), err);
    CHECK(strcmp(eqs_tile_kind(eqs_crnn_tile(eqs_trainer_net(th), 0)), "analog") == 0);
    eqs_real x[B * 12];
    int32_t y[B];
    batch(x, y);
    eqs_crnn *nf = eqs_trainer_net(tf), *nh = eqs_trainer_net(th);
    for (int32_t k = 0; k < 3; k++) {
        int64_t n = eqs_crnn_n_weights(nf, k);
        eqs_real *wf = malloc(sizeof(eqs_real) * (size_t)n);
        eqs_real *wh = malloc(sizeof(eqs_real) * (size_t)n);
        eqs_tile_read(eqs_crnn_tile(nf, k), wf);
        eqs_tile_read(eqs_crnn_tile(nh, k), wh);
        CHECK_MSG(rel_dist(wh, wf, n) < 1e-6, "layer %d: programmed weights off by %.3g", k,
                  rel_dist(wh, wf, n));
        free(wf);
        free(wh);
    }
    eqs_real *before[3], *after_f[3];
    for (int32_t k = 0; k < 3; k++) {
        int64_t n = eqs_crnn_n_weights(nf, k);
        before[k] = malloc(sizeof(eqs_real) * (size_t)n);
        after_f[k] = malloc(sizeof(eqs_real) * (size_t)n);
        eqs_tile_read(eqs_crnn_tile(nf, k), before[k]);
    }
    CHECK_OK(eqs_trainer_step(tf, x, y, B, 0, NULL, NULL, &err), err);
    CHECK_OK(eqs_trainer_step(th, x, y, B, 0, NULL, NULL, &err), err);
    for (int32_t k = 0; k < 3; k++) {
        int64_t n = eqs_crnn_n_weights(nf, k);
        eqs_real *wh = malloc(sizeof(eqs_real) * (size_t)n);
        eqs_tile_read(eqs_crnn_tile(nf, k), after_f[k]);
        eqs_tile_read(eqs_crnn_tile(nh, k), wh);
        double r = rel_dist(wh, after_f[k], n);
        CHECK_MSG(r < 1e-6, "layer %d: updated weights differ by %.3g relative", k, r);
        for (int64_t i = 0; i < n; i++) { /* the updates themselves */
            wh[i] -= before[k][i];
            after_f[k][i] -= before[k][i];
        }
        double ru = rel_dist(wh, after_f[k], n);
        CHECK_MSG(ru < 1e-4, "layer %d: updates differ by %.3g relative", k, ru);
        free(wh);
        free(before[k]);
        free(after_f[k]);
    }
    eqs_trainer_destroy(tf);
    eqs_trainer_destroy(th);
}

/* A float network and a hardware one with the same weights, stepped once from the same state. */
typedef struct pair {
    eqs_crnn *f, *h;
    eqs_state in, out_f, out_h;
} pair;

static void pair_init(pair *p, const eqs_hw_config *hw)
{
    eqs_experiment_config c = small_experiment(NULL);
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&p->f, &c.model, B, &err), err);
    CHECK_OK(eqs_crnn_create_hw(&p->h, &c.model, B, hw, 1, &err), err);
    for (int32_t k = 0; k < 3; k++) {
        test_set_layer(p->f, k, -0.8, 0.8, 0.1, 3);
        test_set_layer(p->h, k, -0.8, 0.8, 0.1, 3);
    }
    CHECK_OK(eqs_state_alloc(p->f, &p->in, &err), err);
    CHECK_OK(eqs_state_alloc(p->f, &p->out_f, &err), err);
    CHECK_OK(eqs_state_alloc(p->f, &p->out_h, &err), err);
    for (int32_t k = 0; k < 2; k++)
        test_fill_uniform(p->in.s[k], B * eqs_crnn_size(p->f, k + 1), 0, 1, 4, (uint32_t)k);
    static eqs_real x[B * 12];
    static int32_t y[B];
    batch(x, y);
    eqs_crnn_set_input(p->f, x, y, B);
    eqs_crnn_set_input(p->h, x, y, B);
    eqs_crnn_step(p->f, &p->in, &p->out_f, 0, NULL);
    eqs_crnn_step(p->h, &p->in, &p->out_h, 0, NULL);
}

static void pair_fini(pair *p)
{
    eqs_state_free(&p->in);
    eqs_state_free(&p->out_f);
    eqs_state_free(&p->out_h);
    eqs_crnn_destroy(p->f);
    eqs_crnn_destroy(p->h);
}

/* 2-bit neurons: every state is one of 0, 1/3, 2/3, 1, the level nearest the float state. */
static void test_quantized_neurons(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.neuron.bits = 2;
    pair p;
    pair_init(&p, &hw);
    int on_grid = 1, nearest = 1;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(p.f, k + 1); i++) {
            double q = p.out_h.s[k][i] * 3, want = floor(p.out_f.s[k][i] * 3 + 0.5) / 3;
            on_grid &= fabs(q - floor(q + 0.5)) < 1e-5;
            nearest &= fabs(p.out_h.s[k][i] - want) < 1e-5 ||
                       fabs(fmod(p.out_f.s[k][i] * 3, 1.0) - 0.5) < 1e-4; /* ties either way */
        }
    CHECK(on_grid);
    CHECK(nearest);
    pair_fini(&p);
}

/* Leaky integration tau ds/dt = -s + sigma(h), one Euler step of dt = tau/4. */
static void test_leaky_neurons(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.neuron.dynamics = EQS_NEURON_LEAKY;
    hw.neuron.tau_s = 4e-9;
    hw.neuron.dt_s = 1e-9;
    pair p;
    pair_init(&p, &hw);
    double worst = 0;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(p.f, k + 1); i++) {
            double want = p.in.s[k][i] + 0.25 * (p.out_f.s[k][i] - p.in.s[k][i]);
            worst = fmax(worst, fabs(p.out_h.s[k][i] - want));
        }
    CHECK_MSG(worst < 1e-6, "leaky step off by %.3g", worst);
    pair_fini(&p);
}

/* The settle detector stops a relaxation once max |ds| < tol, and only then. */
static void test_settle_detector(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.neuron.settle_tol = 1e-5;
    pair p;
    pair_init(&p, &hw);
    eqs_state tmp;
    eqs_err err;
    CHECK_OK(eqs_state_alloc(p.h, &tmp, &err), err);
    eqs_state_zero(p.h, &p.out_h, B);
    int32_t steps = eqs_crnn_relax(p.h, &p.out_h, &tmp, 500, 0);
    CHECK_MSG(steps > 1 && steps < 500, "settled after %d steps", steps);
    /* one more step moves no state by more than the tolerance */
    eqs_crnn_step(p.h, &p.out_h, &tmp, 0, NULL);
    double moved = 0;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(p.h, k + 1); i++)
            moved = fmax(moved, fabs(tmp.s[k][i] - p.out_h.s[k][i]));
    CHECK_MSG(moved < 1e-5 * 10, "after settling a step still moves %.3g", moved);
    const eqs_neuron_counts *c = eqs_crnn_neuron_counts(p.h, EQS_PHASE_INFER);
    CHECK(c->relaxations == 1 && c->settled == 1);
    /* the float network (no detector) runs every step */
    eqs_state_zero(p.f, &p.out_f, B);
    CHECK(eqs_crnn_relax(p.f, &p.out_f, &tmp, 60, 0) == 60);
    eqs_state_free(&tmp);
    pair_fini(&p);
}

/* One symmetric EP step: T1 free steps and 2 x T2 nudged ones; the input array is read once by
 * set_input and once per step (charged although reused), the others once per step. */
static void test_counters_of_one_ep_step(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    eqs_experiment_config c = small_experiment(&hw);
    eqs_trainer *tr;
    eqs_err err;
    CHECK_OK(eqs_trainer_create(&tr, &c, B, &err), err);
    eqs_real x[B * 12];
    int32_t y[B];
    batch(x, y);
    eqs_crnn *net = eqs_trainer_net(tr);
    eqs_crnn_counts_reset(net);
    CHECK_OK(eqs_trainer_step(tr, x, y, B, 0, NULL, NULL, &err), err);
    const eqs_neuron_counts *nf = eqs_crnn_neuron_counts(net, EQS_PHASE_FREE);
    const eqs_neuron_counts *nn = eqs_crnn_neuron_counts(net, EQS_PHASE_NUDGE);
    CHECK(nf->steps == T1 && nf->relaxations == 1);
    CHECK(nn->steps == 2 * T2 && nn->relaxations == 2);
    CHECK(nf->neuron_updates == (uint64_t)T1 * B * (10 + 8));
    const eqs_tile_counts *t0 = eqs_tile_counts_get(eqs_crnn_tile(net, 0), EQS_PHASE_FREE);
    CHECK_MSG(t0->mvm == (uint64_t)(T1 + 1) * B, "input array reads in the free phase: %llu",
              (unsigned long long)t0->mvm);
    CHECK(t0->dac_conv == t0->mvm * 12 && t0->adc_conv == t0->mvm * 10);
    CHECK(t0->macs == t0->mvm * 12 * 10);
    const eqs_tile_counts *t1n = eqs_tile_counts_get(eqs_crnn_tile(net, 1), EQS_PHASE_NUDGE);
    CHECK(t1n->mvm == (uint64_t)2 * T2 * B && t1n->mvm_t == (uint64_t)2 * T2 * B);
    for (int32_t k = 0; k < 3; k++)
        CHECK(eqs_tile_counts_get(eqs_crnn_tile(net, k), EQS_PHASE_UPDATE)->updates == 1);
    eqs_trainer_destroy(tr);
}

static void test_bptt_refuses_hardware_neurons(void)
{
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.neuron.bits = 4;
    eqs_experiment_config c = small_experiment(&hw);
    c.algorithm.name = EQS_ALGO_BPTT;
    eqs_trainer *tr;
    eqs_err err;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_ECONFIG, err, "bptt");
}

/* One read of a 512 x 784 analog tile (8-bit DAC and ADC on a fixed range, 2 % read noise) with
 * 1 and with 2 OpenBLAS threads, from identically fabricated tiles: the noise draws do not depend
 * on threads, but the GEMM's sums change order, so the analog value before the ADC differs in its
 * last bits and may fall on the other side of a level: the tolerance DESIGN.md states is one ADC
 * step per output, and only on a small fraction of outputs (measured: see the message). */
static void test_threads_tolerance(void)
{
    enum { O = 512, I = 784, NB = 50 };
    eqs_hw_config hw;
    eqs_hw_config_default(&hw);
    hw.periphery.dac_bits = 8;
    hw.periphery.adc_bits = 8;
    hw.periphery.adc_range_mode = EQS_ADC_FIXED;
    hw.periphery.adc_range = 4;
    hw.device.read_noise_rel = 0.02;
    eqs_real *w = malloc(sizeof(eqs_real) * O * I), *x = malloc(sizeof(eqs_real) * NB * I);
    eqs_real *y[2] = {malloc(sizeof(eqs_real) * NB * O), malloc(sizeof(eqs_real) * NB * O)};
    test_fill_uniform(w, (int64_t)O * I, -0.5, 0.5, 2, 0);
    test_fill_uniform(x, (int64_t)NB * I, 0, 1, 2, 1);
    int32_t saved = eqs_blas_threads();
    for (int t = 0; t < 2; t++) {
        eqs_tile *tile;
        eqs_err err;
        CHECK_OK(eqs_tile_create_analog(&tile, O, I, &hw, 7, 3, &err), err);
        eqs_tile_write(tile, w);
        eqs_blas_set_threads(t + 1);
        eqs_tile_mvm(tile, x, NB, y[t], false);
        eqs_tile_destroy(tile);
    }
    eqs_blas_set_threads(saved);
    double lsb = 2 * 4.0 / 254, worst = 0; /* the ADC step: range / 127 (docs/tile.md) */
    int differ = 0;
    for (int i = 0; i < NB * O; i++) {
        double d = fabs((double)y[0][i] - (double)y[1][i]);
        worst = fmax(worst, d);
        differ += d > 0;
    }
    CHECK_MSG(worst <= lsb * 1.0001, "1 vs 2 threads: outputs differ by %.3g > 1 LSB %.3g", worst,
              lsb);
    CHECK_MSG(differ < NB * O / 100, "1 vs 2 threads: %d of %d outputs differ", differ, NB * O);
    printf("test_hw_net: 1 vs 2 threads: %d of %d outputs differ (by one ADC step)\n", differ,
           NB * O);
    free(w);
    free(x);
    free(y[0]);
    free(y[1]);
}

int main(void)
{
    test_ideal_hw_step_matches_float();
    test_quantized_neurons();
    test_leaky_neurons();
    test_settle_detector();
    test_counters_of_one_ep_step();
    test_bptt_refuses_hardware_neurons();
    test_threads_tolerance();
    EQS_TEST_MAIN_END("test_hw_net");
}
