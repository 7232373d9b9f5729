/* test_pepita.c — PEPITA against a plain loop implementation of its rules (docs/pepita.md), dense
 * and convolutional, the F = 0 ablation, the two SGD forms and the step schedule, F's
 * initialisation, the alignment angle on hand-made matrices, F on disk and bias-free layers. */
#define _XOPEN_SOURCE 700 /* mkdtemp() */
#include <stdlib.h>
#include <unistd.h>

#include "eqs_test.h"
#include "test_util.h"

#include "eqs/io.h"

enum { MAXL = 4, MAXN = 40, MAXB = 4, MAXC = 4 };

/* The conv case: a 1x6x6 input, 2 filters 3x3 without padding (4x4), 2x2 max pooling (2x2). */
enum { CI = 1, HW = 6, CO = 2, KS = 3, PO = 2 };

/* ---- the reference: the rules written out with loops, in double ---------------------------- */

typedef struct ref_net {
    int32_t n_layers, sizes[MAXL + 1], batch;
    bool conv;                                 /* layer 1 is the conv of CI..PO */
    int32_t w_out[MAXL], w_in[MAXL];           /* W's shape on the tile (conv: [CO, CI*KS*KS]) */
    double w[MAXL][MAXN][MAXN], b[MAXL][MAXN]; /* w[k][out][in] */
    double mask[MAXL][MAXB][MAXN];             /* hidden layers; 1 without dropout */
    double f[MAXN][MAXC];                      /* F [n_features, n_classes] */
    int32_t y[MAXB];
} ref_net;

typedef struct ref_pass {
    double in[MAXB][MAXN];      /* x or x' */
    double h[MAXL][MAXB][MAXN]; /* hidden activities after relu and the mask */
    double e[MAXB][MAXC];       /* softmax - onehot */
    int32_t at[MAXB][MAXN][2];  /* conv: the (y, x) of each pooled unit's maximum */
} ref_pass;

/* relu(max over each 2x2 window of (W * x + b)), ties to the first in row-major order. */
static void ref_conv(const ref_net *r, ref_pass *p, int32_t s)
{
    for (int32_t o = 0; o < CO; o++)
        for (int32_t u = 0; u < PO * PO; u++) {
            double best = -1e300;
            for (int32_t win = 0; win < 4; win++) {
                int32_t y = 2 * (u / PO) + win / 2, x = 2 * (u % PO) + win % 2;
                double v = r->b[0][o];
                for (int32_t c = 0; c < CI; c++)
                    for (int32_t i = 0; i < KS; i++)
                        for (int32_t j = 0; j < KS; j++)
                            v += r->w[0][o][(c * KS + i) * KS + j] *
                                 p->in[s][(c * HW + y + i) * HW + x + j];
                if (v > best) {
                    best = v;
                    p->at[s][o * PO * PO + u][0] = y;
                    p->at[s][o * PO * PO + u][1] = x;
                }
            }
            p->h[0][s][o * PO * PO + u] = (best > 0 ? best : 0) * r->mask[0][s][o * PO * PO + u];
        }
}

/* h_k = M_k relu(W_k h_{k-1} + b_k); e = softmax(W_N h_{N-1} + b_N) - onehot. */
static void ref_forward(const ref_net *r, ref_pass *p)
{
    int32_t last = r->n_layers - 1;
    for (int32_t s = 0; s < r->batch; s++) {
        const double *a = p->in[s];
        for (int32_t k = 0; k < last; k++) {
            if (k == 0 && r->conv) {
                ref_conv(r, p, s);
                a = p->h[0][s];
                continue;
            }
            for (int32_t o = 0; o < r->sizes[k + 1]; o++) {
                double pre = r->b[k][o];
                for (int32_t i = 0; i < r->sizes[k]; i++)
                    pre += r->w[k][o][i] * a[i];
                p->h[k][s][o] = (pre > 0 ? pre : 0) * r->mask[k][s][o];
            }
            a = p->h[k][s];
        }
        double z[MAXC], zmax = -1e300, sum = 0;
        for (int32_t c = 0; c < r->sizes[last + 1]; c++) {
            z[c] = r->b[last][c];
            for (int32_t i = 0; i < r->sizes[last]; i++)
                z[c] += r->w[last][c][i] * a[i];
            zmax = fmax(zmax, z[c]);
        }
        for (int32_t c = 0; c < r->sizes[last + 1]; c++)
            sum += exp(z[c] - zmax);
        for (int32_t c = 0; c < r->sizes[last + 1]; c++)
            p->e[s][c] = exp(z[c] - zmax) / sum - (c == r->y[s] ? 1.0 : 0.0);
    }
}

/* x' = x + s F^T */
static void ref_modulate(const ref_net *r, const double s[MAXB][MAXC], ref_pass *mod,
                         const ref_pass *std)
{
    for (int32_t b = 0; b < r->batch; b++)
        for (int32_t i = 0; i < r->sizes[0]; i++) {
            mod->in[b][i] = std->in[b][i];
            for (int32_t c = 0; c < r->sizes[r->n_layers]; c++)
                mod->in[b][i] += r->f[i][c] * s[b][c];
        }
}

/* Per filter: each pooled unit's h - h' times the patch of x' under its modulated maximum,
 * averaged over the units of the map and the batch. */
static void ref_conv_grads(const ref_net *r, const ref_pass *std, const ref_pass *mod,
                           double gw[MAXL][MAXN][MAXN], double gb[MAXL][MAXN])
{
    double n = (double)r->batch * PO * PO;
    for (int32_t s = 0; s < r->batch; s++)
        for (int32_t unit = 0; unit < CO * PO * PO; unit++) {
            int32_t o = unit / (PO * PO), y = mod->at[s][unit][0], x = mod->at[s][unit][1];
            double post = std->h[0][s][unit] - mod->h[0][s][unit];
            gb[0][o] += post / n;
            for (int32_t c = 0; c < CI; c++)
                for (int32_t i = 0; i < KS; i++)
                    for (int32_t j = 0; j < KS; j++)
                        gw[0][o][(c * KS + i) * KS + j] +=
                            post * mod->in[s][(c * HW + y + i) * HW + x + j] / n;
        }
}

/* g = -Delta W: (h - h') x'^T, (h_k - h'_k) h'_{k-1}^T, e' h'_{N-1}^T (e with a conv layer);
 * biases without the presynaptic term; all divided by B. */
static void ref_grads(const ref_net *r, const ref_pass *std, const ref_pass *mod,
                      double gw[MAXL][MAXN][MAXN], double gb[MAXL][MAXN])
{
    int32_t last = r->n_layers - 1;
    memset(gw, 0, sizeof(double) * MAXL * MAXN * MAXN);
    memset(gb, 0, sizeof(double) * MAXL * MAXN);
    if (r->conv)
        ref_conv_grads(r, std, mod, gw, gb);
    for (int32_t s = 0; s < r->batch; s++)
        for (int32_t k = r->conv ? 1 : 0; k <= last; k++) {
            const double *pre = k == 0 ? mod->in[s] : mod->h[k - 1][s];
            const double *e = r->conv ? std->e[s] : mod->e[s];
            for (int32_t o = 0; o < r->sizes[k + 1]; o++) {
                double post = k == last ? e[o] : std->h[k][s][o] - mod->h[k][s][o];
                gb[k][o] += post / r->batch;
                for (int32_t i = 0; i < r->sizes[k]; i++)
                    gw[k][o][i] += post * pre[i] / r->batch;
            }
        }
}

/* ---- building a network and copying it into the reference ---------------------------------- */

static eqs_model_config pepita_model(const int32_t *sizes, int32_t n_layers, double dropout,
                                     bool bias)
{
    eqs_model_config m =
        test_model(sizes, n_layers, EQS_ACT_RELU, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    for (int32_t k = 0; k + 1 < n_layers; k++)
        m.layers[k].dropout = dropout;
    m.no_bias = !bias;
    return m;
}

static eqs_algorithm_config pepita_alg(eqs_pepita_modulation mod, double f_scale)
{
    return (eqs_algorithm_config){.name = EQS_ALGO_PEPITA,
                                  .pepita_modulation = mod,
                                  .pepita_f_scale = f_scale,
                                  .pepita_random_scale = 0.7};
}

/* The masks as net.h documents them: eqs_rng(seed, DROPOUT, step * EQS_MAX_LAYERS + k), one
 * uniform per unit in [batch, n] order, dropped below p, kept ones scaled by 1/(1 - p). */
static void ref_masks(ref_net *r, const eqs_model_config *m, uint64_t seed, uint64_t step)
{
    for (int32_t k = 0; k + 1 < r->n_layers; k++) {
        double p = m->layers[k].dropout;
        eqs_rng g;
        eqs_rng_init(&g, seed, EQS_RNG_DROPOUT, (uint32_t)(step * EQS_MAX_LAYERS + (uint64_t)k));
        for (int32_t s = 0; s < r->batch; s++)
            for (int32_t o = 0; o < r->sizes[k + 1]; o++)
                r->mask[k][s][o] =
                    p > 0 ? (eqs_rng_uniform(&g) < p ? 0 : (double)(eqs_real)(1.0 / (1.0 - p))) : 1;
    }
}

static void ref_from_net(ref_net *r, eqs_crnn *net, eqs_pepita *p, int32_t batch)
{
    memset(r, 0, sizeof *r);
    r->n_layers = eqs_crnn_n_layers(net);
    r->batch = batch;
    for (int32_t k = 0; k <= r->n_layers; k++)
        r->sizes[k] = eqs_crnn_size(net, k);
    r->conv = eqs_crnn_model(net)->layers[0].type == EQS_LAYER_CONV;
    eqs_real w[MAXN * MAXN];
    for (int32_t k = 0; k < r->n_layers; k++) {
        r->w_out[k] = eqs_tile_n_out(eqs_crnn_tile(net, k));
        r->w_in[k] = eqs_tile_n_in(eqs_crnn_tile(net, k));
        eqs_tile_read(eqs_crnn_tile(net, k), w);
        for (int32_t o = 0; o < r->w_out[k]; o++) {
            r->b[k][o] = eqs_crnn_bias(net, k)[o];
            for (int32_t i = 0; i < r->w_in[k]; i++)
                r->w[k][o][i] = w[o * r->w_in[k] + i];
        }
    }
    for (int32_t i = 0; i < r->sizes[0]; i++)
        for (int32_t c = 0; c < r->sizes[r->n_layers]; c++)
            r->f[i][c] = eqs_pepita_f(p)[i * r->sizes[r->n_layers] + c];
}

/* max |got - want| over n values, and max |want| */
static void max_err(const eqs_real *got, const double *want, int64_t n, double *err, double *scale)
{
    for (int64_t i = 0; i < n; i++) {
        *err = fmax(*err, fabs((double)got[i] - want[i]));
        *scale = fmax(*scale, fabs(want[i]));
    }
}

static void check_passes(eqs_pepita *p, const ref_net *r, const ref_pass *std, const ref_pass *mod)
{
    eqs_pepita_pass ps, pm;
    eqs_pepita_get_pass(p, false, &ps);
    eqs_pepita_get_pass(p, true, &pm);
    double err = 0, scale = 0;
    int32_t nc = r->sizes[r->n_layers];
    for (int32_t s = 0; s < r->batch; s++) {
        max_err(pm.input + s * r->sizes[0], mod->in[s], r->sizes[0], &err, &scale);
        max_err(ps.error + s * nc, std->e[s], nc, &err, &scale);
        max_err(pm.error + s * nc, mod->e[s], nc, &err, &scale);
        for (int32_t k = 0; k + 1 < r->n_layers; k++) {
            int32_t n = r->sizes[k + 1];
            max_err(ps.act[k] + s * n, std->h[k][s], n, &err, &scale);
            max_err(pm.act[k] + s * n, mod->h[k][s], n, &err, &scale);
        }
    }
    CHECK(ps.n_hidden == r->n_layers - 1 && pm.input != ps.input);
    CHECK_MSG(err <= 1e-5 * scale, "passes differ from the loops by %.3g (scale %.3g)", err, scale);
}

static void check_grads(eqs_crnn *net, const eqs_grads *g, const ref_net *r,
                        double gw[MAXL][MAXN][MAXN], double gb[MAXL][MAXN], bool bias)
{
    double worst = 0;
    for (int32_t k = 0; k < r->n_layers; k++) {
        double err = 0, scale = 0, berr = 0;
        for (int32_t o = 0; o < r->w_out[k]; o++) {
            max_err(g->w[k] + o * r->w_in[k], gw[k][o], r->w_in[k], &err, &scale);
            berr = fmax(berr, fabs((double)g->b[k][o] - (bias ? gb[k][o] : 0)));
        }
        /* float32 sums of a few terms of size ~scale: a few ulp of the largest */
        CHECK_MSG(scale > 1e-4 && err <= 2e-6 * scale, "layer %d: |g - ref| %.3g, scale %.3g", k,
                  err, scale);
        CHECK_MSG(berr <= 2e-6 * fmax(scale, 1e-3), "layer %d bias: %.3g", k, berr);
        CHECK(eqs_crnn_has_bias(net, k) == bias);
        worst = fmax(worst, err / scale);
    }
    printf("%d layers%s, bias %d: max |g - loops| / max |loops| = %.2g\n", (int)r->n_layers,
           r->conv ? " (conv)" : "", (int)bias, worst);
}

/* One estimate on a random batch against the loops, with dropout 0.4 on every hidden layer. */
static void check_update(const eqs_model_config *model, eqs_pepita_modulation modulation)
{
    enum { B = 4 };
    const uint64_t seed = 21, step = 5;
    eqs_model_config m = *model;
    const int32_t n_in = m.n_features, n_classes = m.layers[m.n_layers - 1].n_out;
    bool bias = !m.no_bias;
    eqs_crnn *net;
    eqs_pepita *p;
    eqs_grads g;
    eqs_err err;
    eqs_algorithm_config alg = pepita_alg(modulation, 3.0); /* a strong F: large h - h' */
    CHECK_OK(eqs_crnn_create(&net, &m, B, &err), err);
    eqs_crnn_init_he_uniform(net, seed);
    CHECK_OK(eqs_pepita_create(&p, net, &alg, seed, &err), err);
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    eqs_real x[B * MAXN];
    int32_t y[B] = {0, 2, 1, 2};
    test_fill_uniform(x, B * n_in, 0, 1, seed, 1);
    eqs_crnn_set_input(net, x, y, B);
    eqs_crnn_dropout_sample(net, seed, step);
    double loss;
    int32_t correct;
    eqs_pepita_estimate(p, step, &g, &loss, &correct);

    ref_net r;
    ref_pass std, mod;
    double gw[MAXL][MAXN][MAXN], gb[MAXL][MAXN], sig[MAXB][MAXC];
    ref_from_net(&r, net, p, B);
    ref_masks(&r, &m, seed, step);
    memcpy(r.y, y, sizeof y);
    for (int32_t s = 0; s < B; s++)
        for (int32_t i = 0; i < n_in; i++)
            std.in[s][i] = x[s * n_in + i];
    ref_forward(&r, &std);
    eqs_rng rr;
    eqs_rng_init(&rr, seed, EQS_RNG_PEPITA_MOD, (uint32_t)step);
    for (int32_t s = 0; s < B; s++)
        for (int32_t c = 0; c < n_classes; c++)
            sig[s][c] =
                modulation == EQS_PEPITA_MOD_ERROR ? std.e[s][c] : 0.7 * eqs_rng_uniform(&rr);
    ref_modulate(&r, (const double(*)[MAXC])sig, &mod, &std);
    ref_forward(&r, &mod);
    ref_grads(&r, &std, &mod, gw, gb);
    check_passes(p, &r, &std, &mod);
    check_grads(net, &g, &r, gw, gb, bias);
    double want_loss = 0;
    for (int32_t s = 0; s < B; s++)
        want_loss -= log(std.e[s][y[s]] + 1);
    CHECK_CLOSE(loss, want_loss, 1e-5, 1e-5);
    CHECK(correct >= 0 && correct <= B);
    eqs_grads_free(&g);
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
}

static void test_update_against_loops(void)
{
    const int32_t deep[] = {6, 5, 4, 3}, shallow[] = {6, 5, 3};
    eqs_model_config m = pepita_model(deep, 3, 0.4, false);
    check_update(&m, EQS_PEPITA_MOD_ERROR);
    check_update(&m, EQS_PEPITA_MOD_RANDOM);
    m.no_bias = false;
    check_update(&m, EQS_PEPITA_MOD_ERROR);
    m = pepita_model(shallow, 2, 0.4, false);
    check_update(&m, EQS_PEPITA_MOD_ERROR);
}

static eqs_model_config conv_model(bool bias)
{
    const int32_t sizes[] = {CI * HW * HW, CO * PO * PO, 3};
    eqs_model_config m = pepita_model(sizes, 2, 0.3, bias);
    m.in_height = m.in_width = HW;
    eqs_layer_config *l = &m.layers[0];
    l->type = EQS_LAYER_CONV;
    l->n_out = CO;
    l->kernel = KS;
    l->pool = EQS_POOL_MAX;
    l->pool_size = 2;
    snprintf(l->name, sizeof l->name, "conv1");
    return m;
}

/* The paper's §3.3 on a conv layer (with dropout on its pooled units), then a dense output. */
static void test_conv_update_against_loops(void)
{
    for (int bias = 0; bias < 2; bias++) {
        eqs_model_config m = conv_model(bias);
        check_update(&m, EQS_PEPITA_MOD_ERROR);
    }
}

/* ---- F = 0 ----------------------------------------------------------------------------------- */

static eqs_experiment_config pepita_experiment(const int32_t *sizes, int32_t n_layers,
                                               eqs_pepita_modulation mod, double dropout)
{
    eqs_experiment_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.model = pepita_model(sizes, n_layers, dropout, false);
    cfg.algorithm = pepita_alg(mod, 0.05);
    cfg.algorithm.t1 = cfg.algorithm.t2 = 1;
    cfg.optimizer = (eqs_optimizer_config){
        .kind = EQS_OPT_SGD_LR_IN_MOMENTUM, .n_lr = 1, .lr = {0.05}, .momentum = 0.9};
    cfg.training.epochs = 1;
    cfg.training.seed = 4;
    return cfg;
}

static bool weights_equal(eqs_crnn *net, int32_t k, const eqs_real *w0)
{
    eqs_real w[MAXN * MAXN];
    eqs_tile_read(eqs_crnn_tile(net, k), w);
    return memcmp(w, w0, sizeof(eqs_real) * (size_t)eqs_crnn_n_weights(net, k)) == 0;
}

/* Without modulation h' = h exactly, so the hidden layers get exactly zero and never move;
 * only the readout learns (the paper's appendix D). */
static void test_f0_freezes_hidden(void)
{
    enum { B = 4 };
    const int32_t sizes[] = {6, 5, 4, 3};
    eqs_experiment_config cfg = pepita_experiment(sizes, 3, EQS_PEPITA_MOD_NONE, 0);
    eqs_trainer *tr;
    eqs_err err;
    eqs_grads g;
    CHECK_OK(eqs_trainer_create(&tr, &cfg, B, &err), err);
    eqs_crnn *net = eqs_trainer_net(tr);
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    eqs_real w0[3][MAXN * MAXN], x[B * 6];
    int32_t y[B] = {1, 0, 2, 1};
    for (int32_t k = 0; k < 3; k++)
        eqs_tile_read(eqs_crnn_tile(net, k), w0[k]);
    for (int32_t i = 0; i < 6 * 3; i++)
        CHECK(eqs_pepita_f(eqs_trainer_pepita(tr))[i] == 0);
    CHECK(!eqs_pepita_has_angle(eqs_trainer_pepita(tr))); /* F = 0: no angle */
    test_fill_uniform(x, B * 6, 0, 1, 3, 0);
    eqs_trainer_grads(tr, x, y, B, 0, &g, NULL, NULL);
    bool zero = true, last_moves = false;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < eqs_crnn_n_weights(net, k); i++)
            zero = zero && g.w[k][i] == 0;
    for (int64_t i = 0; i < eqs_crnn_n_weights(net, 2); i++)
        last_moves = last_moves || g.w[2][i] != 0;
    CHECK_MSG(zero, "a hidden layer's gradient is not exactly 0 with F = 0");
    CHECK(last_moves);
    for (int32_t step = 0; step < 5; step++) {
        test_fill_uniform(x, B * 6, 0, 1, 3, (uint32_t)step);
        CHECK_OK(eqs_trainer_step(tr, x, y, B, (uint64_t)step, NULL, NULL, &err), err);
    }
    CHECK(weights_equal(net, 0, w0[0]) && weights_equal(net, 1, w0[1]));
    CHECK(!weights_equal(net, 2, w0[2]));
    eqs_grads_free(&g);
    eqs_trainer_destroy(tr);
}

/* ---- optimizers and the step schedule ------------------------------------------------------ */

/* A 1x1 weight under sgd or sgd_lr_in_momentum with step decay at epoch 2, two steps per
 * epoch; each step against its formula. Returns the trajectory. */
static void run_sgd_form(eqs_optimizer_kind kind, double traj[8])
{
    const int32_t sizes[] = {1, 1};
    eqs_model_config m =
        test_model(sizes, 1, EQS_ACT_HARD_SIGMOID, EQS_LOSS_MSE, EQS_READOUT_ACTIVATION);
    eqs_crnn *net;
    eqs_optim *opt;
    eqs_grads g;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_optimizer_config oc = {.kind = kind,
                               .n_lr = 1,
                               .lr = {0.1},
                               .momentum = 0.9,
                               .weight_decay = 0.01,
                               .schedule = EQS_SCHED_STEP,
                               .n_milestones = 1,
                               .milestones = {2},
                               .gamma = 0.1};
    CHECK_OK(eqs_optim_create(&opt, net, &oc, 4, &err), err);
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    eqs_real w = 0.5f;
    eqs_tile_write(eqs_crnn_tile(net, 0), &w);
    double th = 0.5, v = 0;
    const double grads[8] = {0.3, -0.2, 0.25, 0.1, -0.05, 0.2, 0.15, -0.1};
    for (int32_t t = 0; t < 8; t++) {
        int32_t epoch = t / 2;
        double lr = epoch >= 2 ? 0.01 : 0.1;
        eqs_optim_set_epoch(opt, epoch);
        g.w[0][0] = (eqs_real)grads[t];
        g.b[0][0] = 0;
        eqs_optim_step(opt, net, &g);
        double gi = grads[t] + 0.01 * th;
        if (kind == EQS_OPT_SGD) { /* v <- mu v + g; th <- th - lr v */
            v = 0.9 * v + gi;
            th -= lr * v;
        } else { /* v <- mu v + lr g; th <- th - v */
            v = 0.9 * v + lr * gi;
            th -= v;
        }
        eqs_tile_read(eqs_crnn_tile(net, 0), &w);
        CHECK_CLOSE(w, th, 1e-6, 1e-6);
        traj[t] = w;
    }
    CHECK(strcmp(eqs_optim_slot_name(opt, 0), kind == EQS_OPT_SGD ? "momentum" : "velocity") == 0);
    eqs_grads_free(&g);
    eqs_optim_destroy(opt);
    eqs_crnn_destroy(net);
}

static void test_sgd_forms(void)
{
    double a[8], b[8];
    run_sgd_form(EQS_OPT_SGD, a);
    run_sgd_form(EQS_OPT_SGD_LR_IN_MOMENTUM, b);
    for (int32_t t = 0; t < 4; t++) /* constant lr: one trajectory */
        CHECK_CLOSE(a[t], b[t], 1e-6, 0);
    double apart = 0;
    for (int32_t t = 4; t < 8; t++)
        apart = fmax(apart, fabs(a[t] - b[t]));
    /* after the decay PyTorch's form scales the whole momentum by the new lr, the authors' only
     * the new gradients: the first decayed step alone differs by 0.9 v (lr - lr') ~ 0.02 */
    CHECK_MSG(apart > 1e-2, "the two forms should part after the decay (max gap %.3g)", apart);
}

static void test_step_schedule(void)
{
    const int32_t sizes[] = {2, 2, 2};
    eqs_model_config m =
        test_model(sizes, 2, EQS_ACT_RELU, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    eqs_crnn *net;
    eqs_optim *opt;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_optimizer_config oc = {.kind = EQS_OPT_SGD_LR_IN_MOMENTUM,
                               .n_lr = 2,
                               .lr = {0.2, 0.1},
                               .schedule = EQS_SCHED_STEP,
                               .n_milestones = 2,
                               .milestones = {3, 5},
                               .gamma = 0.5};
    CHECK_OK(eqs_optim_create(&opt, net, &oc, 10, &err), err);
    /* 0-based epochs: a milestone m decays from epoch index m on (after m epochs) */
    const int32_t epochs[] = {0, 2, 3, 4, 5, 9};
    const double factor[] = {1, 1, 0.5, 0.5, 0.25, 0.25};
    for (int i = 0; i < 6; i++) {
        eqs_optim_set_epoch(opt, epochs[i]);
        CHECK_CLOSE(eqs_optim_lr(opt, 0), 0.2 * factor[i], 1e-15, 0);
        CHECK_CLOSE(eqs_optim_lr(opt, 1), 0.1 * factor[i], 1e-15, 0);
    }
    eqs_optim_destroy(opt);
    eqs_crnn_destroy(net);
}

/* ---- initialisation ---------------------------------------------------------------------------
 */

static void f_stats(eqs_pepita *p, int64_t n, double *max_abs, double *mean_abs)
{
    *max_abs = *mean_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs((double)eqs_pepita_f(p)[i]);
        *max_abs = fmax(*max_abs, v);
        *mean_abs += v / (double)n;
    }
}

/* F uniform on +-0.05 sqrt(6/784) with 784 the input dimension (not a layer's fan-in), from its
 * own stream; W He-uniform on +-sqrt(6/fan_in). */
static void test_init(void)
{
    const int32_t sizes[] = {784, 20, 10};
    eqs_model_config m = pepita_model(sizes, 2, 0, false);
    eqs_crnn *net;
    eqs_pepita *p, *q;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_crnn_init_he_uniform(net, 7);
    eqs_algorithm_config alg = pepita_alg(EQS_PEPITA_MOD_ERROR, 0.05);
    CHECK_OK(eqs_pepita_create(&p, net, &alg, 7, &err), err);
    const double bound = 0.05 * sqrt(6.0 / 784);
    double max_abs, mean_abs;
    f_stats(p, 7840, &max_abs, &mean_abs);
    CHECK_MSG(max_abs <= bound && max_abs > 0.99 * bound, "max |F| %.6g, bound %.6g", max_abs,
              bound);
    CHECK_CLOSE(mean_abs, bound / 2, 0, 0.03); /* 7840 draws: sd of the mean ~0.7% */
    eqs_rng r;
    eqs_rng_init(&r, 7, EQS_RNG_PEPITA_F, 0);
    double first = (2 * eqs_rng_uniform(&r) - 1) * bound;
    CHECK_CLOSE(eqs_pepita_f(p)[0], first, 1e-9, 1e-6);
    alg.pepita_f_scale = 0.1; /* the scale stretches the same draws */
    CHECK_OK(eqs_pepita_create(&q, net, &alg, 7, &err), err);
    CHECK_CLOSE(eqs_pepita_f(q)[5], 2 * eqs_pepita_f(p)[5], 1e-9, 1e-6);
    eqs_pepita_destroy(q);
    CHECK_OK(eqs_pepita_create(&q, net, &alg, 8, &err), err);
    CHECK(eqs_pepita_f(q)[0] != 2 * eqs_pepita_f(p)[0]); /* another seed, another F */
    eqs_pepita_destroy(q);
    eqs_real w[784 * 20];
    eqs_tile_read(eqs_crnn_tile(net, 0), w);
    double wmax = 0;
    for (int32_t i = 0; i < 784 * 20; i++)
        wmax = fmax(wmax, fabs((double)w[i]));
    CHECK_MSG(wmax <= sqrt(6.0 / 784) && wmax > 0.99 * sqrt(6.0 / 784), "max |W1| %.6g", wmax);
    CHECK(eqs_crnn_bias(net, 0)[0] == 0 && eqs_crnn_bias(net, 1)[3] == 0); /* bias: false */
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
}

/* ---- the alignment angle -------------------------------------------------------------------- */

static eqs_pepita *angle_net(eqs_crnn **net, const int32_t *sizes, int32_t n_layers,
                             const eqs_real *const *w)
{
    eqs_model_config m = pepita_model(sizes, n_layers, 0, false);
    eqs_pepita *p = NULL;
    eqs_err err;
    eqs_algorithm_config alg = pepita_alg(EQS_PEPITA_MOD_ERROR, 0.05);
    CHECK_OK(eqs_crnn_create(net, &m, 1, &err), err);
    for (int32_t k = 0; k < n_layers; k++)
        eqs_tile_write(eqs_crnn_tile(*net, k), w[k]);
    CHECK_OK(eqs_pepita_create(&p, *net, &alg, 1, &err), err);
    return p;
}

static double angle_with(eqs_pepita *p, const eqs_real *ft, int32_t n_classes, int32_t n_feat)
{
    for (int32_t c = 0; c < n_classes; c++) /* F = (the given F^T)^T */
        for (int32_t i = 0; i < n_feat; i++)
            eqs_pepita_f(p)[i * n_classes + c] = ft[c * n_feat + i];
    double deg = -1;
    eqs_err err;
    CHECK_OK(eqs_pepita_alignment_deg(p, &deg, &err), err);
    return deg;
}

/* W2 W1 = [[1, 2], [1, 3]] (W1 W2 would be [[3, 2], [1, 1]]): F^T equal to it, opposite to it
 * and orthogonal to it give 0, 180 and 90 degrees; W3 W2 W1 = [[2, 5], [1, 3]] against
 * F^T = [[1, 0], [0, 1]]: cos = 5 / (sqrt(39) sqrt(2)). */
static void test_alignment(void)
{
    const int32_t two[] = {2, 2, 2}, three[] = {2, 2, 2, 2};
    const eqs_real w1[] = {1, 2, 0, 1}, w2[] = {1, 0, 1, 1}, w3[] = {1, 1, 0, 1};
    const eqs_real *ws[] = {w1, w2, w3};
    eqs_crnn *net;
    eqs_pepita *p = angle_net(&net, two, 2, ws);
    const eqs_real same[] = {1, 2, 1, 3}, opposite[] = {-1, -2, -1, -3}, ortho[] = {2, -1, 0, 0};
    const eqs_real zero[] = {0, 0, 0, 0};
    CHECK_CLOSE(angle_with(p, same, 2, 2), 0, 1e-3, 0);
    CHECK_CLOSE(angle_with(p, opposite, 2, 2), 180, 1e-3, 0);
    CHECK_CLOSE(angle_with(p, ortho, 2, 2), 90, 1e-9, 0);
    CHECK(isnan(angle_with(p, zero, 2, 2)));
    CHECK(eqs_pepita_has_angle(p));
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
    p = angle_net(&net, three, 3, ws);
    const eqs_real eye[] = {1, 0, 0, 1};
    CHECK_CLOSE(angle_with(p, eye, 2, 2), acos(5 / (sqrt(39) * sqrt(2))) * 180 / M_PI, 1e-6, 0);
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
}

/* ---- files --------------------------------------------------------------------------------- */

static void test_files(void)
{
    char dir[] = "/tmp/eqs_test_pepita_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    const int32_t sizes[] = {6, 5, 3};
    eqs_model_config m = pepita_model(sizes, 2, 0, false);
    eqs_crnn *net;
    eqs_pepita *p;
    eqs_err err;
    eqs_algorithm_config alg = pepita_alg(EQS_PEPITA_MOD_ERROR, 0.05);
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_crnn_init_he_uniform(net, 2);
    CHECK_OK(eqs_pepita_create(&p, net, &alg, 2, &err), err);
    bool found = true;
    CHECK_OK(eqs_pepita_load_f(p, dir, &found, &err), err);
    CHECK(!found); /* no file: F stays as drawn */
    eqs_real f0 = eqs_pepita_f(p)[4];
    CHECK_OK(eqs_pepita_save_f(p, dir, &err), err);
    CHECK_OK(eqs_params_save(net, dir, &err), err);
    snprintf(path, sizeof path, "%s/fc1.bias.npy", dir);
    CHECK(!eqs_path_exists(path)); /* bias: false has no bias file */
    eqs_pepita_f(p)[4] = 9;
    CHECK_OK(eqs_pepita_load_f(p, dir, &found, &err), err);
    CHECK(found && eqs_pepita_f(p)[4] == f0);
    CHECK_OK(eqs_params_load(net, dir, &err), err);
    snprintf(path, sizeof path, "%s/pepita.F.npy", dir);
    int64_t shape[2] = {3, 6};
    CHECK_OK(eqs_npy_write_real(path, 2, shape, eqs_pepita_f(p), &err), err);
    CHECK_ERR(eqs_pepita_load_f(p, dir, &found, &err), EQS_EMISMATCH, err, "pepita.F.npy");
    const char *names[] = {"pepita.F.npy", "fc1.weight.npy", "fc2.weight.npy"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(remove(path) == 0);
    }
    CHECK(rmdir(dir) == 0);
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
}

/* ---- the library refuses what it does not implement ------------------------------------------ */

static void test_refusals(void)
{
    const int32_t sizes[] = {6, 5, 3};
    eqs_model_config m = pepita_model(sizes, 2, 0, false);
    m.readout = EQS_READOUT_LINEAR;
    eqs_crnn *net;
    eqs_pepita *p;
    eqs_err err;
    eqs_algorithm_config alg = pepita_alg(EQS_PEPITA_MOD_ERROR, 0.05);
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    CHECK_ERR(eqs_pepita_create(&p, net, &alg, 1, &err), EQS_EINVAL, err, "readout softmax");
    eqs_crnn_destroy(net);
    m.readout = EQS_READOUT_SOFTMAX;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    alg.pepita_random_scale = 0;
    CHECK_ERR(eqs_pepita_create(&p, net, &alg, 1, &err), EQS_EINVAL, err, "pepita_random_scale");
    eqs_crnn_destroy(net);
    m = conv_model(false); /* conv + pooling is not one matrix: no angle */
    alg.pepita_random_scale = 1;
    double deg;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    CHECK_OK(eqs_pepita_create(&p, net, &alg, 1, &err), err);
    CHECK(!eqs_pepita_has_angle(p));
    CHECK_ERR(eqs_pepita_alignment_deg(p, &deg, &err), EQS_EINVAL, err, "layer conv1");
    eqs_pepita_destroy(p);
    eqs_crnn_destroy(net);
}

int main(void)
{
    test_update_against_loops();
    test_conv_update_against_loops();
    test_f0_freezes_hidden();
    test_sgd_forms();
    test_step_schedule();
    test_init();
    test_alignment();
    test_files();
    test_refusals();
    EQS_TEST_MAIN_END("test_pepita");
}
