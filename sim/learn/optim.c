/* optim.c — SGD with momentum and Adam, in PyTorch's exact forms, SGD with the learning rate
 * inside the momentum (the PEPITA authors' form), layer-wise learning rates, cosine annealing
 * and step decay. Weight updates go through the tiles as a given delta-W.
 *
 *   SGD:  g += wd th;  v <- mu v + g;  th <- th - lr v           (torch.optim.SGD, dampening 0)
 *   SGD, lr in the momentum: g += wd th;  v <- mu v + lr g;  th <- th - v
 *         (the same trajectory at constant lr; after a decay the old momentum keeps its scale)
 *   Adam: g += wd th;  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
 *         th <- th - (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)   (torch.optim.Adam)
 */
#include <math.h>
#include <stdlib.h>

#include "eqs/learn.h"

struct eqs_optim {
    eqs_optimizer_config cfg;
    int32_t total_epochs;
    int32_t n_layers;
    double lr[EQS_MAX_LAYERS]; /* current, after the schedule */
    eqs_grads slot[2];
    int32_t n_slots;
    int64_t steps;
    eqs_real *w_scratch; /* [max n_out*n_in]: weights for weight decay */
};

void eqs_optim_destroy(eqs_optim *opt)
{
    if (!opt)
        return;
    eqs_grads_free(&opt->slot[0]);
    eqs_grads_free(&opt->slot[1]);
    eqs_free(opt->w_scratch);
    free(opt);
}

static double base_lr(const eqs_optim *opt, int32_t layer)
{
    return opt->cfg.n_lr == 1 ? opt->cfg.lr[0] : opt->cfg.lr[layer];
}

eqs_status eqs_optim_create(eqs_optim **out, const eqs_crnn *net, const eqs_optimizer_config *cfg,
                            int32_t total_epochs, eqs_err *err)
{
    int32_t n = eqs_crnn_n_layers(net);
    if (cfg->n_lr != 1 && cfg->n_lr != n)
        return eqs_err_set(err, EQS_EINVAL, "optimizer.lr: %d values for %d layers", cfg->n_lr, n);
    eqs_optim *opt = calloc(1, sizeof *opt);
    if (!opt)
        return eqs_err_set(err, EQS_ENOMEM, "optimizer: out of memory");
    opt->cfg = *cfg;
    opt->total_epochs = total_epochs;
    opt->n_layers = n;
    opt->n_slots = cfg->kind == EQS_OPT_ADAM ? 2 : 1;
    size_t max_w = 0;
    for (int32_t k = 0; k < n; k++) {
        size_t w = (size_t)eqs_crnn_n_weights(net, k);
        max_w = w > max_w ? w : max_w;
    }
    eqs_status st = EQS_OK;
    for (int32_t s = 0; s < opt->n_slots && st == EQS_OK; s++)
        st = eqs_grads_alloc(net, &opt->slot[s], err);
    if (st == EQS_OK && cfg->weight_decay > 0) {
        opt->w_scratch = eqs_calloc(max_w, sizeof(eqs_real), err);
        st = opt->w_scratch ? EQS_OK : EQS_ENOMEM;
    }
    if (st != EQS_OK) {
        eqs_optim_destroy(opt);
        return st;
    }
    eqs_optim_set_epoch(opt, 0);
    *out = opt;
    return EQS_OK;
}

/* Step decay: gamma to the number of milestones reached (PyTorch's MultiStepLR, whose
 * milestones count the epochs completed before the decay). */
static double step_factor(const eqs_optimizer_config *cfg, int32_t epoch)
{
    double f = 1;
    for (int32_t i = 0; i < cfg->n_milestones; i++)
        if (cfg->milestones[i] <= epoch)
            f *= cfg->gamma;
    return f;
}

void eqs_optim_set_epoch(eqs_optim *opt, int32_t epoch)
{
    int32_t period = opt->cfg.schedule_epochs > 0 ? opt->cfg.schedule_epochs : opt->total_epochs;
    for (int32_t k = 0; k < opt->n_layers; k++) {
        double lr = base_lr(opt, k);
        if (opt->cfg.schedule == EQS_SCHED_COSINE && period > 0) {
            double lr_final = lr * opt->cfg.lr_final_frac;
            double e = epoch < period ? epoch : period;
            lr = lr_final + (lr - lr_final) * 0.5 * (1.0 + cos(3.141592653589793 * e / period));
        } else if (opt->cfg.schedule == EQS_SCHED_STEP) {
            lr *= step_factor(&opt->cfg, epoch);
        }
        opt->lr[k] = lr;
    }
}

double eqs_optim_lr(const eqs_optim *opt, int32_t layer)
{
    return opt->lr[layer];
}

/* Turns gradient g (n values, parameter th) into the delta to add, in place. */
/* The per-element loops run in eqs_real, as PyTorch runs them in float32, and are written so
 * that the compiler vectorises them (the library builds with -fno-math-errno for sqrt); the
 * scalars are computed once in double. Weight decay reads th when it is non-NULL. */
static void sgd_delta(const eqs_optim *opt, double lr, eqs_real *restrict g, eqs_real *restrict mom,
                      const eqs_real *restrict th, int64_t n)
{
    const eqs_real mu = (eqs_real)opt->cfg.momentum, wd = (eqs_real)opt->cfg.weight_decay;
    const eqs_real neg_lr = (eqs_real)-lr;
    for (int64_t i = 0; i < n; i++) {
        eqs_real gi = g[i] + (th ? wd * th[i] : 0);
        eqs_real v = mu * mom[i] + gi;
        mom[i] = v;
        g[i] = neg_lr * v;
    }
}

/* v holds lr * (PyTorch's momentum): a decayed lr scales only the gradients still to come. */
static void sgd_lr_in_momentum_delta(const eqs_optim *opt, double lr, eqs_real *restrict g,
                                     eqs_real *restrict mom, const eqs_real *restrict th, int64_t n)
{
    const eqs_real mu = (eqs_real)opt->cfg.momentum, wd = (eqs_real)opt->cfg.weight_decay;
    const eqs_real lr_r = (eqs_real)lr;
    for (int64_t i = 0; i < n; i++) {
        eqs_real gi = g[i] + (th ? wd * th[i] : 0);
        eqs_real v = mu * mom[i] + lr_r * gi;
        mom[i] = v;
        g[i] = -v;
    }
}

static void adam_delta(const eqs_optim *opt, double lr, eqs_real *restrict g, eqs_real *restrict m,
                       eqs_real *restrict v, const eqs_real *restrict th, int64_t n)
{
    double b1d = opt->cfg.adam_beta1, b2d = opt->cfg.adam_beta2;
    double bc1 = 1.0 - pow(b1d, (double)opt->steps), bc2 = 1.0 - pow(b2d, (double)opt->steps);
    const eqs_real b1 = (eqs_real)b1d, b2 = (eqs_real)b2d, eps = (eqs_real)opt->cfg.adam_eps;
    const eqs_real wd = (eqs_real)opt->cfg.weight_decay, neg_step = (eqs_real)(-lr / bc1);
    const eqs_real inv_sqrt_bc2 = (eqs_real)(1.0 / sqrt(bc2));
    for (int64_t i = 0; i < n; i++) {
        eqs_real gi = g[i] + (th ? wd * th[i] : 0);
        eqs_real mi = b1 * m[i] + (1 - b1) * gi;
        eqs_real vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        g[i] = neg_step * mi / (eqs_sqrt(vi) * inv_sqrt_bc2 + eps);
    }
}

/* Which tensor of a layer a slot buffer belongs to. */
typedef enum param_kind { PARAM_W, PARAM_B, PARAM_WB } param_kind;

static eqs_real *slot_of(const eqs_optim *opt, int32_t slot, int32_t layer, param_kind kind)
{
    const eqs_grads *s = &opt->slot[slot];
    return kind == PARAM_W ? s->w[layer] : (kind == PARAM_B ? s->b[layer] : s->wb[layer]);
}

static void param_delta(const eqs_optim *opt, double lr, eqs_real *g, int32_t layer,
                        param_kind kind, const eqs_real *th, int64_t n)
{
    eqs_real *s0 = slot_of(opt, 0, layer, kind);
    if (opt->cfg.kind == EQS_OPT_SGD)
        sgd_delta(opt, lr, g, s0, th, n);
    else if (opt->cfg.kind == EQS_OPT_SGD_LR_IN_MOMENTUM)
        sgd_lr_in_momentum_delta(opt, lr, g, s0, th, n);
    else
        adam_delta(opt, lr, g, s0, slot_of(opt, 1, layer, kind), th, n);
}

/* A weight tensor on a tile: delta from its gradient (weight decay reads the tile), applied
 * through the tile. */
static void step_tile(eqs_optim *opt, eqs_tile *tile, eqs_real *g, int32_t layer, param_kind kind)
{
    bool decay = opt->cfg.weight_decay > 0;
    if (decay)
        eqs_tile_read(tile, opt->w_scratch);
    int64_t n = (int64_t)eqs_tile_n_out(tile) * eqs_tile_n_in(tile);
    param_delta(opt, opt->lr[layer], g, layer, kind, decay ? opt->w_scratch : NULL, n);
    eqs_tile_update_delta(tile, g);
}

/* Backward weights (asymmetric feedback) take their layer's learning rate and weight decay:
 * with KP-VF's shared estimate, the decay is what makes W and W^b converge. */
void eqs_optim_step(eqs_optim *opt, eqs_crnn *net, eqs_grads *g)
{
    opt->steps++;
    bool decay = opt->cfg.weight_decay > 0;
    for (int32_t k = 0; k < opt->n_layers; k++) {
        step_tile(opt, eqs_crnn_tile(net, k), g->w[k], k, PARAM_W);
        if (g->wb[k])
            step_tile(opt, eqs_crnn_tile_back(net, k), g->wb[k], k, PARAM_WB);
        if (!eqs_crnn_has_bias(net, k))
            continue; /* bias-free layers: b stays exactly zero */
        int32_t n_b = eqs_crnn_n_bias(net, k);
        eqs_real *bias = eqs_crnn_bias(net, k);
        param_delta(opt, opt->lr[k], g->b[k], k, PARAM_B, decay ? bias : NULL, n_b);
        for (int32_t i = 0; i < n_b; i++)
            bias[i] += g->b[k][i];
    }
}

int32_t eqs_optim_n_slots(const eqs_optim *opt)
{
    return opt->n_slots;
}

const char *eqs_optim_slot_name(const eqs_optim *opt, int32_t slot)
{
    if (opt->cfg.kind == EQS_OPT_SGD)
        return "momentum";
    if (opt->cfg.kind == EQS_OPT_SGD_LR_IN_MOMENTUM)
        return "velocity"; /* lr * momentum: another quantity, so another file name */
    return slot == 0 ? "m" : "v";
}

eqs_grads *eqs_optim_slot(eqs_optim *opt, int32_t slot)
{
    EQS_ASSERT(slot >= 0 && slot < opt->n_slots);
    return &opt->slot[slot];
}

int64_t eqs_optim_steps(const eqs_optim *opt)
{
    return opt->steps;
}

void eqs_optim_set_steps(eqs_optim *opt, int64_t steps)
{
    opt->steps = steps;
}
