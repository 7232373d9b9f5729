/* test_digital.c — the digital update path (hardware.update.digital: golden): one symmetric EP
 * step on ideal analog tiles changes every weight by exactly eqs_updunit_layer's pulse counts
 * (computed here by hand from the phase states) times the tile's pulse step, and every bias by
 * the unit's dW codes times the same step; the ledger counts the updates; experiments the unit
 * cannot serve are refused with a config error. */
#include <math.h>
#include <stdlib.h>

#include "eqs_test.h"
#include "test_util.h"

enum { B = 8, NI = 12, NH = 10, NC = 4 };

static eqs_experiment_config small_experiment(void)
{
    const int32_t sizes[] = {NI, NH, NC};
    eqs_experiment_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "digital-test");
    c.model =
        test_model(sizes, 2, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    c.algorithm.name = EQS_ALGO_EP;
    c.algorithm.estimator = EQS_EST_SYMMETRIC;
    c.algorithm.beta = 0.3;
    c.algorithm.t1 = 20;
    c.algorithm.t2 = 6;
    c.optimizer.kind = EQS_OPT_SGD;
    c.optimizer.n_lr = 1;
    c.optimizer.lr[0] = 0.2;
    c.training.epochs = 1;
    c.training.batch_size = B;
    c.training.seed = 5;
    c.training.threads = 1;
    c.has_hardware = 1;
    eqs_hw_config_default(&c.hardware);
    c.hardware.update.digital = EQS_DIGITAL_GOLDEN;
    return c;
}

/* What the observer saw: each array's seed (lane 0's generator before its first update) and
 * the golden result. */
typedef struct seen {
    uint32_t seed[4];
    int32_t *out[4];
    int n_events;
} seen;

static void observe(void *ctx, const eqs_digital_event *ev)
{
    seen *s = ctx;
    int slot = 2 * ev->layer + (ev->bias ? 1 : 0);
    int64_t n = (int64_t)ev->batch->rows * ev->batch->cols;
    s->seed[slot] = ev->unit->lfsr[0];
    s->out[slot] = malloc(sizeof(int32_t) * (size_t)n);
    memcpy(s->out[slot], ev->out, sizeof(int32_t) * (size_t)n);
    s->n_events++;
}

/* eqs_updunit_layer by hand: a fresh unit from the seed, the default format. */
static void by_hand(int32_t mode, int post_signed, double k, uint32_t seed,
                    const eqs_updunit_batch *bt, int pulse_out, int32_t *out)
{
    eqs_updunit_format f;
    eqs_updunit_format_default(EQS_UPDUNIT_EP, &f);
    eqs_updunit_cfg cfg = {.mode = mode,
                           .post_signed = post_signed,
                           .pre_signed = 0,
                           .stochastic = 1,
                           .pulse_out = pulse_out};
    eqs_err err;
    eqs_updunit u;
    CHECK_OK(eqs_updunit_scale_encode(&f, k, &cfg.scale_m, &cfg.shift, &err), err);
    CHECK_OK(eqs_updunit_init(&u, EQS_UPDUNIT_EP, &f, &cfg, seed, &err), err);
    CHECK_OK(eqs_updunit_layer(&u, bt, out, NULL, &err), err);
}

/* Counts i where (after - before) != code * dw (to float rounding of the G+ - G- mapping). */
static int64_t n_off(const eqs_real *after, const eqs_real *before, const int32_t *code, double dw,
                     int64_t n)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)after[i] - (double)before[i], want = code[i] * dw;
        bad += fabs(d - want) > 1e-6 + 1e-5 * fabs(want);
    }
    return bad;
}

static void softmax_error(const eqs_real *w, const eqs_real *b, const eqs_real *s, const int32_t *y,
                          eqs_real *e)
{
    for (int r = 0; r < B; r++) {
        double z[NC], m = -1e300, sum = 0;
        for (int i = 0; i < NC; i++) {
            z[i] = b[i];
            for (int j = 0; j < NH; j++)
                z[i] += (double)w[i * NH + j] * (double)s[r * NH + j];
            m = z[i] > m ? z[i] : m;
        }
        for (int i = 0; i < NC; i++)
            sum += exp(z[i] - m);
        for (int i = 0; i < NC; i++)
            e[r * NC + i] = (eqs_real)(exp(z[i] - m) / sum - (i == y[r] ? 1.0 : 0.0));
    }
}

static void test_step_equals_pulses_by_hand(void)
{
    eqs_experiment_config c = small_experiment();
    eqs_trainer *tr;
    eqs_err err;
    CHECK_OK(eqs_trainer_create(&tr, &c, B, &err), err);
    eqs_crnn *net = eqs_trainer_net(tr);
    seen s = {0};
    CHECK(eqs_trainer_digital(tr) != NULL);
    eqs_digital_set_observer(eqs_trainer_digital(tr), observe, &s);
    eqs_real x[B * NI], w0[NH * NI], w0r[NC * NH], b0[NH], b0r[NC];
    eqs_real w1[NH * NI], w1r[NC * NH];
    int32_t y[B];
    test_fill_uniform(x, B * NI, 0, 1, 9, 0);
    for (int i = 0; i < B; i++)
        y[i] = i % NC;
    eqs_tile_read(eqs_crnn_tile(net, 0), w0);
    eqs_tile_read(eqs_crnn_tile(net, 1), w0r);
    memcpy(b0, eqs_crnn_bias(net, 0), sizeof b0);
    memcpy(b0r, eqs_crnn_bias(net, 1), sizeof b0r);
    CHECK_OK(eqs_trainer_step(tr, x, y, B, 0, NULL, NULL, &err), err);
    CHECK(s.n_events == 4);
    eqs_tile_read(eqs_crnn_tile(net, 0), w1);
    eqs_tile_read(eqs_crnn_tile(net, 1), w1r);
    double dw = eqs_tile_dw_min(eqs_crnn_tile(net, 0)), lr = 0.2, beta = 0.3;
    CHECK_CLOSE(dw, 1e-3, 0, 1e-12); /* ideal preset: w_max 1 / n_states 1000 */

    const eqs_state *sp = eqs_ep_state_pos(eqs_trainer_ep(tr));
    const eqs_state *sm = eqs_ep_state_neg(eqs_trainer_ep(tr));
    int32_t want_w[NH * NI], want_b[NH], want_r[NC * NH], want_rb[NC];
    double k = lr / (2 * beta) / dw / B;
    eqs_updunit_batch bt = {
        .n = B, .rows = NH, .cols = NI, .a = sp->s[0], .b = x, .c = sm->s[0], .d = x};
    by_hand(EQS_UPDUNIT_EP_CONTRAST, 0, k, s.seed[0], &bt, 1, want_w);
    eqs_updunit_batch bb = {.n = B, .rows = NH, .cols = 1, .a = sp->s[0], .c = sm->s[0]};
    by_hand(EQS_UPDUNIT_EP_BIAS, 0, k, s.seed[1], &bb, 0, want_b);
    eqs_real ep_[B * NC], em[B * NC];
    softmax_error(w0r, b0r, sp->s[0], y, ep_);
    softmax_error(w0r, b0r, sm->s[0], y, em);
    double kr = lr / 2 / dw / B;
    eqs_updunit_batch br = {
        .n = B, .rows = NC, .cols = NH, .a = ep_, .b = sp->s[0], .c = em, .d = sm->s[0]};
    by_hand(EQS_UPDUNIT_EP_READOUT, 1, kr, s.seed[2], &br, 1, want_r);
    eqs_updunit_batch brb = {.n = B, .rows = NC, .cols = 1, .a = ep_, .c = em};
    by_hand(EQS_UPDUNIT_EP_READOUT_BIAS, 1, kr, s.seed[3], &brb, 0, want_rb);

    int64_t nz = 0;
    for (int i = 0; i < NH * NI; i++)
        nz += want_w[i] != 0;
    CHECK_MSG(nz > NH * NI / 4, "only %lld of %d pulse counts are non-zero", (long long)nz,
              NH * NI);
    CHECK(memcmp(want_w, s.out[0], sizeof want_w) == 0);
    CHECK(memcmp(want_b, s.out[1], sizeof want_b) == 0);
    CHECK(memcmp(want_r, s.out[2], sizeof want_r) == 0);
    CHECK(memcmp(want_rb, s.out[3], sizeof want_rb) == 0);
    CHECK_MSG(n_off(w1, w0, want_w, dw, NH * NI) == 0, "fc1 weights: %lld differ",
              (long long)n_off(w1, w0, want_w, dw, NH * NI));
    CHECK(n_off(eqs_crnn_bias(net, 0), b0, want_b, dw, NH) == 0);
    CHECK_MSG(n_off(w1r, w0r, want_r, dw, NC * NH) == 0, "readout weights: %lld differ",
              (long long)n_off(w1r, w0r, want_r, dw, NC * NH));
    CHECK(n_off(eqs_crnn_bias(net, 1), b0r, want_rb, dw, NC) == 0);

    const eqs_digital_counts *c0 = eqs_digital_counts_get(eqs_trainer_digital(tr), 0);
    CHECK(c0->transactions == 2 && c0->synapse_updates == NH * NI && c0->bias_updates == NH);
    CHECK(c0->synapse_samples == (uint64_t)(NH * NI + NH) * B);
    CHECK(eqs_tile_counts_get(eqs_crnn_tile(net, 0), EQS_PHASE_UPDATE)->updates == 1);
    for (int i = 0; i < 4; i++)
        free(s.out[i]);
    eqs_trainer_destroy(tr);
}

static void test_refuses_adaptive_optimizers(void)
{
    eqs_trainer *tr = NULL;
    eqs_err err;
    eqs_experiment_config c = small_experiment();
    c.optimizer.momentum = 0.9;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_ECONFIG, err, "optimizer.momentum: 0");
    c = small_experiment();
    c.optimizer.kind = EQS_OPT_ADAM;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_ECONFIG, err, "got adam");
    c = small_experiment();
    c.hardware.update.digital_state_w = 16;
    c.hardware.update.digital_scale_w = 31;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_ECONFIG, err, "digital_state_w");
    c = small_experiment();
    c.algorithm.name = EQS_ALGO_BPTT;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_ECONFIG, err, "ep or pepita");
}

/* The formats: 0 keeps the RTL default; a width alone keeps the default's integer bits. */
static void test_format_resolution(void)
{
    eqs_update_config uc = {0};
    eqs_updunit_format f, d;
    eqs_err err;
    eqs_updunit_format_default(EQS_UPDUNIT_EP, &d);
    CHECK_OK(eqs_digital_resolve_format(EQS_UPDUNIT_EP, &uc, &f, &err), err);
    CHECK(memcmp(&f, &d, sizeof f) == 0);
    uc.digital_state_w = 6;
    CHECK_OK(eqs_digital_resolve_format(EQS_UPDUNIT_EP, &uc, &f, &err), err);
    CHECK(f.state_w == 6 && f.state_f == 6 - (d.state_w - d.state_f));
    uc.digital_state_f = 5;
    uc.digital_scale_w = 8;
    CHECK_OK(eqs_digital_resolve_format(EQS_UPDUNIT_EP, &uc, &f, &err), err);
    CHECK(f.state_w == 6 && f.state_f == 5 && f.scale_w == 8);
}

int main(void)
{
    test_step_equals_pulses_by_hand();
    test_refuses_adaptive_optimizers();
    test_format_resolution();
    EQS_TEST_MAIN_END("test_digital");
}
