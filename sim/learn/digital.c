/* digital.c — the digital update path (hardware.update.digital: golden; docs/rtl.md, "Digital
 * update path"): every weight update of a step is computed by the RTL update unit's bit-exact
 * model (updunit.c) from the captured phase states, as signed pulse counts for the tiles' pulse
 * port; biases, digital registers, take the unit's fixed-point dW output. The scales are in
 * eqs/learn.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/learn.h"

typedef struct dig_layer {
    eqs_updunit w, b;        /* weights (pulse output), bias (fixed-point dW output) */
    uint32_t seed_w, seed_b; /* loaded at the start of this step */
    bool fresh_w, fresh_b;   /* no transaction since */
    eqs_digital_counts counts;
} dig_layer;

struct eqs_digital {
    eqs_crnn *net;
    eqs_updunit_kind kind;
    eqs_updunit_format fmt;
    int stochastic;
    bool x_signed;     /* the input (EP's pre-synaptic operand of layer 1) */
    bool state_signed; /* the activation's range includes negative values */
    bool linear_out;   /* readout linear: the last state has no sigma */
    int32_t *out;      /* [max rows x cols] */
    eqs_real *e_b, *e_a, *logits;
    dig_layer layer[EQS_MAX_LAYERS];
    eqs_digital_observer obs;
    void *obs_ctx;
    uint64_t seed; /* training.seed */
};

eqs_status eqs_digital_resolve_format(eqs_updunit_kind kind, const eqs_update_config *uc,
                                      eqs_updunit_format *fmt, eqs_err *err)
{
    eqs_updunit_format_default(kind, fmt);
    int32_t int_bits = fmt->state_w - fmt->state_f;
    if (uc->digital_state_w > 0) {
        fmt->state_w = uc->digital_state_w;
        fmt->state_f = uc->digital_state_f > 0 ? uc->digital_state_f : fmt->state_w - int_bits;
        if (fmt->state_f < 0)
            fmt->state_f = 0;
    } else if (uc->digital_state_f > 0) {
        fmt->state_f = uc->digital_state_f;
    }
    if (uc->digital_scale_w > 0)
        fmt->scale_w = uc->digital_scale_w;
    if (uc->digital_p_max > 0)
        fmt->p_max = uc->digital_p_max;
    eqs_err e2 = {0};
    if (fmt->state_f >= fmt->state_w || eqs_updunit_format_check(fmt, &e2) != EQS_OK)
        return eqs_err_set(err, EQS_ECONFIG,
                           "hardware.update.digital_state_w/_state_f/_scale_w/_p_max: the %s "
                           "unit's format (state_w %d, state_f %d, scale_w %d, p_max %d) does not "
                           "fit its datapath: %s",
                           kind == EQS_UPDUNIT_EP ? "EP" : "PEPITA", (int)fmt->state_w,
                           (int)fmt->state_f, (int)fmt->scale_w, (int)fmt->p_max,
                           e2.msg[0] ? e2.msg : "state_f must be below state_w");
    return EQS_OK;
}

void eqs_digital_destroy(eqs_digital *d)
{
    if (!d)
        return;
    eqs_free(d->out);
    eqs_free(d->e_b);
    eqs_free(d->e_a);
    eqs_free(d->logits);
    free(d);
}

static eqs_status reject(eqs_err *err, const char *what)
{
    return eqs_err_set(err, EQS_ECONFIG, "hardware.update.digital: golden %s", what);
}

static eqs_status check_experiment(const eqs_crnn *net, const eqs_experiment_config *cfg,
                                   eqs_err *err)
{
    const eqs_algorithm_config *a = &cfg->algorithm;
    const eqs_optimizer_config *o = &cfg->optimizer;
    const eqs_model_config *m = eqs_crnn_model(net);
    if (!cfg->has_hardware)
        return reject(err, "needs a hardware: section (analog tiles with a pulse port)");
    if (o->kind != EQS_OPT_SGD || o->momentum != 0 || o->weight_decay != 0)
        return eqs_err_set(err, EQS_ECONFIG,
                           "hardware.update.digital: golden computes the local rule itself, not "
                           "an adaptive optimizer: set optimizer.name: sgd, optimizer.momentum: 0 "
                           "and optimizer.weight_decay: 0 (got %s, momentum %g, weight_decay %g), "
                           "or digital: none",
                           o->kind == EQS_OPT_SGD    ? "sgd"
                           : o->kind == EQS_OPT_ADAM ? "adam"
                                                     : "sgd_lr_in_momentum",
                           o->momentum, o->weight_decay);
    if (a->name == EQS_ALGO_BPTT)
        return reject(err, "needs algorithm.name: ep or pepita (BPTT has no local rule)");
    if (a->name == EQS_ALGO_EP && a->rule != EQS_RULE_EP)
        return reject(err, "implements EP's rule ep (vf and kp_vf are not wired to the unit yet)");
    if (a->local_error.n_layers > 0)
        return reject(err, "does not update local readouts (algorithm.local_error)");
    for (int32_t k = 0; k < m->n_layers; k++) {
        if (m->layers[k].type != EQS_LAYER_DENSE)
            return reject(err, "maps dense layers only (model layer is conv)");
        if (a->name == EQS_ALGO_EP && m->layers[k].dropout > 0)
            return reject(err, "with EP needs dropout 0 (the unit sees unmasked states)");
    }
    return EQS_OK;
}

static uint32_t unit_seed(uint64_t seed, uint32_t id)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z ^ (z >> 32));
}

/* The controller reloads every unit's generators at the start of each training step, from the
 * run's seed, the step and the unit: the stochastic rounding of step t then depends on nothing
 * before it, so a run resumed from a checkpoint draws exactly what an uninterrupted one draws
 * (no generator state to save). */
static void begin_step(eqs_digital *d, uint64_t step)
{
    uint64_t s = d->seed ^ (step * 0xD1B54A32D192ED03ull);
    for (int32_t k = 0; k < eqs_crnn_n_layers(d->net); k++) {
        dig_layer *L = &d->layer[k];
        L->seed_w = unit_seed(s, 2u * (uint32_t)k);
        L->seed_b = unit_seed(s, 2u * (uint32_t)k + 1);
        eqs_updunit_reseed(&L->w, L->seed_w);
        eqs_updunit_reseed(&L->b, L->seed_b);
        L->fresh_w = L->fresh_b = true;
    }
}

eqs_status eqs_digital_create(eqs_digital **out, eqs_crnn *net, const eqs_experiment_config *cfg,
                              eqs_err *err)
{
    eqs_status st = check_experiment(net, cfg, err);
    if (st != EQS_OK)
        return st;
    eqs_digital *d = calloc(1, sizeof *d);
    if (!d)
        return eqs_err_set(err, EQS_ENOMEM, "digital update path: out of memory");
    d->net = net;
    d->seed = cfg->training.seed;
    d->kind = cfg->algorithm.name == EQS_ALGO_PEPITA ? EQS_UPDUNIT_PEPITA : EQS_UPDUNIT_EP;
    d->stochastic = cfg->hardware.update.digital_rounding == EQS_DIGITAL_STOCHASTIC;
    d->x_signed = cfg->data.normalize || cfg->data.format == EQS_DATA_CIFAR10;
    d->state_signed = eqs_crnn_model(net)->activation == EQS_ACT_TANH;
    d->linear_out = eqs_crnn_model(net)->readout == EQS_READOUT_LINEAR;
    st = eqs_digital_resolve_format(d->kind, &cfg->hardware.update, &d->fmt, err);
    int64_t most = 0;
    for (int32_t k = 0; st == EQS_OK && k < eqs_crnn_n_layers(net); k++) {
        if (!(eqs_tile_dw_min(eqs_crnn_tile(net, k)) > 0))
            st = reject(err, "needs tiles with a pulse step (eqs_tile_dw_min > 0)");
        int64_t n = eqs_crnn_n_weights(net, k);
        most = n > most ? n : most;
        eqs_updunit_cfg c = {.pulse_out = 1, .stochastic = d->stochastic};
        if (st == EQS_OK)
            st = eqs_updunit_init(&d->layer[k].w, d->kind, &d->fmt, &c,
                                  unit_seed(cfg->training.seed, 2u * (uint32_t)k), err);
        c.pulse_out = 0;
        if (st == EQS_OK)
            st = eqs_updunit_init(&d->layer[k].b, d->kind, &d->fmt, &c,
                                  unit_seed(cfg->training.seed, 2u * (uint32_t)k + 1), err);
    }
    size_t ne = (size_t)eqs_crnn_max_batch(net) * (size_t)eqs_crnn_n_classes(net);
    if (st == EQS_OK) {
        d->out = eqs_calloc((size_t)most, sizeof(int32_t), err);
        d->e_b = eqs_calloc(ne, sizeof(eqs_real), err);
        d->e_a = eqs_calloc(ne, sizeof(eqs_real), err);
        d->logits = eqs_calloc(ne, sizeof(eqs_real), err);
        if (!d->out || !d->e_b || !d->e_a || !d->logits)
            st = EQS_ENOMEM;
    }
    if (st != EQS_OK) {
        eqs_digital_destroy(d);
        return st;
    }
    *out = d;
    return EQS_OK;
}

void eqs_digital_set_observer(eqs_digital *d, eqs_digital_observer fn, void *ctx)
{
    d->obs = fn;
    d->obs_ctx = ctx;
}

const eqs_digital_counts *eqs_digital_counts_get(const eqs_digital *d, int32_t layer)
{
    return &d->layer[layer].counts;
}

const eqs_updunit_format *eqs_digital_format(const eqs_digital *d)
{
    return &d->fmt;
}

eqs_updunit_kind eqs_digital_kind(const eqs_digital *d)
{
    return d->kind;
}

/* One transaction on layer k's weight (pulses to the tile) or bias (b += code * dw) unit. */
static eqs_status run(eqs_digital *d, int32_t k, bool bias, int32_t mode, bool post_signed,
                      bool pre_signed, double scale, const eqs_updunit_batch *bt, eqs_err *err)
{
    dig_layer *L = &d->layer[k];
    eqs_updunit *u = bias ? &L->b : &L->w;
    eqs_tile *tile = eqs_crnn_tile(d->net, k);
    double lsb = eqs_tile_dw_min(tile);
    eqs_updunit_cfg c = u->cfg;
    c.mode = mode;
    c.post_signed = post_signed;
    c.pre_signed = pre_signed;
    eqs_status st = eqs_updunit_scale_encode(&d->fmt, scale, &c.scale_m, &c.shift, err);
    if (st == EQS_OK)
        st = eqs_updunit_configure(u, &c, err);
    if (st != EQS_OK)
        return eqs_err_prefix(err,
                              "digital update of %s.%s (scale %g pulses per unit contrast: lr, "
                              "batch and the tile's pulse step %g)",
                              eqs_crnn_model(d->net)->layers[k].name, bias ? "bias" : "weight",
                              scale, lsb);
    eqs_updunit before = *u;
    int64_t clipped = 0;
    if ((st = eqs_updunit_layer(u, bt, d->out, &clipped, err)) != EQS_OK)
        return eqs_err_prefix(err, "digital update of %s", eqs_crnn_model(d->net)->layers[k].name);
    int64_t n = (int64_t)bt->rows * bt->cols;
    int32_t lim = bias ? (int32_t)((1u << (d->fmt.out_w - 1)) - 1u) : d->fmt.p_max;
    eqs_digital_counts *cn = &L->counts;
    cn->transactions++;
    if (bias)
        cn->bias_updates += (uint64_t)n;
    else
        cn->synapse_updates += (uint64_t)n;
    cn->synapse_samples += (uint64_t)n * (uint64_t)bt->n;
    cn->beats += (uint64_t)((n + d->fmt.lanes - 1) / d->fmt.lanes) * (uint64_t)bt->n;
    cn->operands_clipped += (uint64_t)clipped;
    for (int64_t i = 0; i < n; i++) {
        int32_t v = d->out[i];
        cn->saturated += v == lim || v == -lim;
        if (!bias)
            cn->pulses += (uint64_t)(v < 0 ? -(int64_t)v : v);
    }
    if (d->obs) {
        eqs_digital_event ev = {.layer = k,
                                .bias = bias,
                                .unit = &before,
                                .batch = bt,
                                .k = scale,
                                .lsb = lsb,
                                .out = d->out,
                                .n_clipped = clipped,
                                .reseeded = bias ? L->fresh_b : L->fresh_w,
                                .seed = bias ? L->seed_b : L->seed_w};
        d->obs(d->obs_ctx, &ev);
    }
    if (bias)
        L->fresh_b = false;
    else
        L->fresh_w = false;
    if (!bias) {
        eqs_tile_program_pulses(tile, d->out);
    } else {
        eqs_real *b = eqs_crnn_bias(d->net, k);
        for (int64_t i = 0; i < n; i++)
            b[i] += (eqs_real)((double)d->out[i] * lsb);
    }
    return EQS_OK;
}

static bool layer_signed(const eqs_digital *d, int32_t dyn)
{
    return d->state_signed || (d->linear_out && dyn == eqs_crnn_n_dynamic(d->net) - 1);
}

static double lsb_of(eqs_digital *d, int32_t k)
{
    return eqs_tile_dw_min(eqs_crnn_tile(d->net, k));
}

eqs_status eqs_digital_step_ep(eqs_digital *d, const eqs_ep *ep, double beta_b, double beta_a,
                               const double *lr, uint64_t step, eqs_err *err)
{
    eqs_crnn *net = d->net;
    begin_step(d, step);
    int32_t B = eqs_crnn_batch(net), D = eqs_crnn_n_dynamic(net), N = eqs_crnn_n_layers(net);
    const eqs_state *sb = eqs_ep_state_pos(ep);
    const eqs_state *sa = beta_a != 0 ? eqs_ep_state_neg(ep) : eqs_ep_state_free(ep);
    EQS_ASSERT(sa && beta_b != beta_a);
    double db = beta_b - beta_a;
    const eqs_state *sp = db > 0 ? sb : sa, *sm = db > 0 ? sa : sb; /* A B and C D */
    const eqs_real *x = eqs_crnn_input(net);
    eqs_status st = EQS_OK;
    for (int32_t k = 0; st == EQS_OK && k < D; k++) {
        double scale = lr[k] / (fabs(db) * B * lsb_of(d, k));
        eqs_updunit_batch bt = {.n = B,
                                .rows = eqs_crnn_size(net, k + 1),
                                .cols = eqs_crnn_size(net, k),
                                .a = sp->s[k],
                                .b = k == 0 ? x : sp->s[k - 1],
                                .c = sm->s[k],
                                .d = k == 0 ? x : sm->s[k - 1]};
        bool pre_signed = k == 0 ? d->x_signed : layer_signed(d, k - 1);
        st = run(d, k, false, EQS_UPDUNIT_EP_CONTRAST, layer_signed(d, k), pre_signed, scale, &bt,
                 err);
        if (st == EQS_OK && eqs_crnn_has_bias(net, k)) {
            eqs_updunit_batch bb = {
                .n = B, .rows = bt.rows, .cols = 1, .a = sp->s[k], .c = sm->s[k]};
            st = run(d, k, true, EQS_UPDUNIT_EP_BIAS, layer_signed(d, k), false, scale, &bb, err);
        }
    }
    if (st != EQS_OK || eqs_crnn_model(net)->readout != EQS_READOUT_SOFTMAX)
        return st;
    /* the readout (Laborieux eqs. 38/39): dW = -lr/B (beta_b e_b s_b - beta_a e_a s_a)/db */
    int32_t k = N - 1;
    eqs_crnn_logits(net, sb, d->logits);
    eqs_crnn_loss_grad(net, d->logits, d->e_b);
    if (beta_a != 0) {
        eqs_crnn_logits(net, sa, d->logits);
        eqs_crnn_loss_grad(net, d->logits, d->e_a);
    }
    double scale = lr[k] * (beta_b / db) / (B * lsb_of(d, k));
    eqs_updunit_batch bt = {.n = B,
                            .rows = eqs_crnn_size(net, k + 1),
                            .cols = eqs_crnn_size(net, k),
                            .a = d->e_b,
                            .b = sb->s[D - 1],
                            .c = beta_a != 0 ? d->e_a : NULL,
                            .d = beta_a != 0 ? sa->s[D - 1] : NULL};
    st = run(d, k, false, EQS_UPDUNIT_EP_READOUT, true, layer_signed(d, D - 1), scale, &bt, err);
    if (st == EQS_OK && eqs_crnn_has_bias(net, k)) {
        eqs_updunit_batch bb = {.n = B, .rows = bt.rows, .cols = 1, .a = bt.a, .c = bt.c};
        st = run(d, k, true, EQS_UPDUNIT_EP_READOUT_BIAS, true, false, scale, &bb, err);
    }
    return st;
}

eqs_status eqs_digital_step_pepita(eqs_digital *d, const eqs_pepita *p, const double *lr,
                                   uint64_t step, eqs_err *err)
{
    eqs_crnn *net = d->net;
    begin_step(d, step);
    int32_t B = eqs_crnn_batch(net), N = eqs_crnn_n_layers(net);
    eqs_pepita_pass s, m;
    eqs_pepita_get_pass(p, false, &s);
    eqs_pepita_get_pass(p, true, &m);
    eqs_status st = EQS_OK;
    for (int32_t k = 0; st == EQS_OK && k < N; k++) {
        bool out = k == N - 1;
        double scale = lr[k] / (B * lsb_of(d, k));
        const eqs_real *pre = k == 0 ? m.input : m.act[k - 1];
        bool pre_signed = k == 0 ? true : d->state_signed;
        eqs_updunit_batch bt = {.n = B,
                                .rows = eqs_crnn_size(net, k + 1),
                                .cols = eqs_crnn_size(net, k),
                                .a = out ? m.error : s.act[k],
                                .b = pre,
                                .c = out ? NULL : m.act[k]};
        bool post_signed = out || d->state_signed;
        st = run(d, k, false, out ? EQS_UPDUNIT_PEP_OUTPUT : EQS_UPDUNIT_PEP_HIDDEN, post_signed,
                 pre_signed, scale, &bt, err);
        if (st == EQS_OK && eqs_crnn_has_bias(net, k)) {
            eqs_updunit_batch bb = {.n = B, .rows = bt.rows, .cols = 1, .a = bt.a, .c = bt.c};
            st = run(d, k, true, out ? EQS_UPDUNIT_PEP_OUTPUT_BIAS : EQS_UPDUNIT_PEP_HIDDEN_BIAS,
                     post_signed, false, scale, &bb, err);
        }
    }
    return st;
}
