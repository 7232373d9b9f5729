/* pepita.c — PEPITA (Dellaferrera & Kreiman 2022): a feed-forward network trained with two
 * forward passes, the second on the input modulated by the first one's error, in the
 * conventions of the authors' notebook (docs/pepita.md):
 *
 *     standard:  h_k = M_k (.) sigma(W_k h_{k-1} + b_k), h_0 = x;  y = softmax(W_N h_{N-1} + b_N)
 *                e = y - onehot(target)
 *     modulated: the same with h'_0 = x' = x + F e and the same dropout masks M_k -> h'_k, e'
 *     gradients (descent sign, batch means; the update is their negative):
 *                g_1 = (h_1 - h'_1) x'^T       g_k = (h_k - h'_k) h'_{k-1}^T
 *                g_N = e' h'_{N-1}^T           (biases: the same without the presynaptic term)
 * Convolutional layers (the paper's §3.3): per filter, the products of each output pixel's
 * change with the input patch that produced it in the modulated pass (max pooling: the patch
 * at the modulated pass's argmax), averaged over the output pixels and the batch; a network
 * with conv layers updates its output layer with e, not e' (the authors' conv code).
 *
 * The weights are the CRNN's own (its tiles, its connection API, its dropout masks), so the rule
 * runs unchanged on any tile family. The network must end in a softmax readout; its hidden
 * layers are the CRNN's "dynamic" layers, here evaluated once, front to back, without
 * relaxation. The modulated pass re-evaluates conv1 on x', so afterwards conv1's recorded
 * pooling indices are those of x'. Every buffer is allocated at create time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/blas.h"
#include "eqs/io.h"
#include "eqs/learn.h"

/* The activities of one forward pass. */
typedef struct pass_buf {
    const eqs_real *input;         /* x or x' [batch, n_0] (borrowed) */
    eqs_real *act[EQS_MAX_LAYERS]; /* h_k [max_batch, n_{k+1}], the hidden layers */
    eqs_real *logits;              /* z [max_batch, n_classes] */
    eqs_real *err;                 /* e = softmax(z) - onehot [max_batch, n_classes] */
} pass_buf;

struct eqs_pepita {
    eqs_crnn *net;
    eqs_algorithm_config alg;
    uint64_t seed;
    int32_t n_layers, n_hidden; /* N and N - 1 */
    int32_t n_features, n_classes;
    eqs_real *f;     /* F [n_features, n_classes] */
    eqs_real *x_mod; /* x' [max_batch, n_features] */
    eqs_real *r;     /* k r of the random modulation [max_batch, n_classes] */
    eqs_real *diff;  /* h_k - h'_k [max_batch, max hidden width] */
    pass_buf std, mod;
};

/* ---- creation ------------------------------------------------------------------------------ */

void eqs_pepita_destroy(eqs_pepita *p)
{
    if (!p)
        return;
    pass_buf *passes[2] = {&p->std, &p->mod};
    for (int i = 0; i < 2; i++) {
        for (int32_t k = 0; k < EQS_MAX_LAYERS; k++)
            eqs_free(passes[i]->act[k]);
        eqs_free(passes[i]->logits);
        eqs_free(passes[i]->err);
    }
    eqs_free(p->f);
    eqs_free(p->x_mod);
    eqs_free(p->r);
    eqs_free(p->diff);
    free(p);
}

/* PEPITA needs a feed-forward stack ending in a softmax readout, without backward weights. */
static eqs_status check_net(const eqs_crnn *net, eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    if (m->readout != EQS_READOUT_SOFTMAX || m->n_layers < 2)
        return eqs_err_set(err, EQS_EINVAL,
                           "pepita: model '%s' needs readout softmax and at least 2 layers (got "
                           "readout %s, %d layers)",
                           m->name, eqs_readout_name(m->readout), m->n_layers);
    if (m->feedback != EQS_FEEDBACK_SYMMETRIC)
        return eqs_err_set(err, EQS_EINVAL,
                           "pepita: model '%s' has backward weights (feedback %s); PEPITA has no "
                           "backward pass",
                           m->name, eqs_feedback_name(m->feedback));
    return EQS_OK;
}

static eqs_real *alloc_rows(const eqs_crnn *net, int32_t width, eqs_err *err)
{
    return eqs_calloc((size_t)eqs_crnn_max_batch(net) * (size_t)width, sizeof(eqs_real), err);
}

static eqs_status alloc_pass(const eqs_pepita *p, pass_buf *pb, eqs_err *err)
{
    for (int32_t k = 0; k < p->n_hidden; k++)
        if (!(pb->act[k] = alloc_rows(p->net, eqs_crnn_size(p->net, k + 1), err)))
            return EQS_ENOMEM;
    pb->logits = alloc_rows(p->net, p->n_classes, err);
    pb->err = alloc_rows(p->net, p->n_classes, err);
    return pb->logits && pb->err ? EQS_OK : EQS_ENOMEM;
}

static eqs_status alloc_buffers(eqs_pepita *p, eqs_err *err)
{
    int32_t widest = 1;
    for (int32_t k = 1; k <= p->n_hidden; k++)
        widest = eqs_crnn_size(p->net, k) > widest ? eqs_crnn_size(p->net, k) : widest;
    p->f = eqs_calloc((size_t)p->n_features * (size_t)p->n_classes, sizeof(eqs_real), err);
    p->x_mod = alloc_rows(p->net, p->n_features, err);
    p->r = alloc_rows(p->net, p->n_classes, err);
    p->diff = alloc_rows(p->net, widest, err);
    if (!p->f || !p->x_mod || !p->r || !p->diff)
        return EQS_ENOMEM;
    eqs_status st = alloc_pass(p, &p->std, err);
    return st == EQS_OK ? alloc_pass(p, &p->mod, err) : st;
}

/* F uniform on +-f_scale sqrt(6 / n_features): the paper's "F std 0.05 * 2 sqrt(6 / fan_in)" is
 * the width of that interval, fan_in the input dimension. F = 0 for the "none" ablation. */
static void draw_f(eqs_pepita *p)
{
    int64_t n = (int64_t)p->n_features * p->n_classes;
    if (p->alg.pepita_modulation == EQS_PEPITA_MOD_NONE) {
        memset(p->f, 0, sizeof(eqs_real) * (size_t)n);
        return;
    }
    double bound = p->alg.pepita_f_scale * sqrt(6.0 / (double)p->n_features);
    eqs_rng r;
    eqs_rng_init(&r, p->seed, EQS_RNG_PEPITA_F, 0);
    for (int64_t i = 0; i < n; i++)
        p->f[i] = (eqs_real)((2.0 * eqs_rng_uniform(&r) - 1.0) * bound);
}

eqs_status eqs_pepita_create(eqs_pepita **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                             uint64_t seed, eqs_err *err)
{
    eqs_status st = check_net(net, err);
    if (st != EQS_OK)
        return st;
    if (!(alg->pepita_f_scale >= 0) || !(alg->pepita_random_scale > 0))
        return eqs_err_set(err, EQS_EINVAL,
                           "pepita: need pepita_f_scale >= 0 and pepita_random_scale > 0 (got "
                           "%g, %g)",
                           alg->pepita_f_scale, alg->pepita_random_scale);
    eqs_pepita *p = calloc(1, sizeof *p);
    if (!p)
        return eqs_err_set(err, EQS_ENOMEM, "pepita: out of memory");
    p->net = net;
    p->alg = *alg;
    p->seed = seed;
    p->n_layers = eqs_crnn_n_layers(net);
    p->n_hidden = p->n_layers - 1;
    p->n_features = eqs_crnn_size(net, 0);
    p->n_classes = eqs_crnn_n_classes(net);
    if ((st = alloc_buffers(p, err)) != EQS_OK) {
        eqs_pepita_destroy(p);
        return st;
    }
    draw_f(p);
    *out = p;
    return EQS_OK;
}

/* ---- the two passes ---------------------------------------------------------------------- */

/* One feed-forward pass from x. With x the net's own input, layer 1 takes the net's F_1(x)
 * instead of a second product: the F = 0 ablation then repeats the standard pass exactly. */
static double forward(eqs_pepita *p, pass_buf *pb, const eqs_real *x)
{
    eqs_crnn *net = p->net;
    int32_t batch = eqs_crnn_batch(net);
    eqs_activation act = eqs_crnn_model(net)->activation;
    pb->input = x;
    for (int32_t k = 0; k < p->n_hidden; k++) {
        eqs_real *h = pb->act[k];
        const eqs_real *pre = h;
        if (k == 0 && x == eqs_crnn_input(net))
            pre = eqs_crnn_input_drive(net);
        else
            eqs_crnn_forward(net, k, k == 0 ? x : pb->act[k - 1], h);
        eqs_activation_apply(act, pre, h, (int64_t)batch * eqs_crnn_size(net, k + 1));
        eqs_crnn_mask_apply(net, k, h); /* the pass's dropout: the same masks in both */
    }
    eqs_crnn_forward(net, p->n_layers - 1, pb->act[p->n_hidden - 1], pb->logits);
    return eqs_crnn_loss_grad(net, pb->logits, pb->err);
}

/* k r, r uniform on [0, 1) per sample and class, from eqs_rng(seed, PEPITA_MOD, step). */
static void draw_random_signal(eqs_pepita *p, uint64_t step)
{
    eqs_rng r;
    eqs_rng_init(&r, p->seed, EQS_RNG_PEPITA_MOD, (uint32_t)step);
    int64_t n = (int64_t)eqs_crnn_batch(p->net) * p->n_classes;
    for (int64_t i = 0; i < n; i++)
        p->r[i] = (eqs_real)(p->alg.pepita_random_scale * eqs_rng_uniform(&r));
}

/* x' = x + s F^T with s the error (or k r): one [B, C] x [C, n_0] product. "none" is x itself. */
static const eqs_real *modulated_input(eqs_pepita *p, uint64_t step)
{
    eqs_crnn *net = p->net;
    const eqs_real *x = eqs_crnn_input(net), *s = p->std.err;
    int32_t batch = eqs_crnn_batch(net);
    if (p->alg.pepita_modulation == EQS_PEPITA_MOD_NONE)
        return x;
    if (p->alg.pepita_modulation == EQS_PEPITA_MOD_RANDOM) {
        draw_random_signal(p, step);
        s = p->r;
    }
    memcpy(p->x_mod, x, sizeof(eqs_real) * (size_t)batch * (size_t)p->n_features);
    eqs_gemm(false, true, batch, p->n_features, p->n_classes, 1, s, p->n_classes, p->f,
             p->n_classes, 1, p->x_mod, p->n_features);
    return p->x_mod;
}

/* 1 / (B x output pixels per channel): the batch mean, and for a conv layer the mean over the
 * output positions that share each filter (1 pixel for a dense layer). */
static eqs_real grad_scale(const eqs_pepita *p, int32_t k)
{
    int32_t pixels = eqs_crnn_size(p->net, k + 1) / eqs_crnn_n_bias(p->net, k); /* units/channels */
    return (eqs_real)(1.0 / ((double)eqs_crnn_batch(p->net) * pixels));
}

/* The gradients of every layer from the two passes. A conv connection's gradient unpools at the
 * indices of its last evaluation, the modulated pass's: the patches behind h'. */
static void add_gradients(eqs_pepita *p, eqs_grads *g)
{
    eqs_crnn *net = p->net;
    int32_t batch = eqs_crnn_batch(net), last = p->n_layers - 1;
    const eqs_real *pre = p->mod.input; /* the presynaptic term is the modulated pass's */
    bool conv = false;
    for (int32_t k = 0; k < p->n_hidden; k++) {
        int64_t n = (int64_t)batch * eqs_crnn_size(net, k + 1);
        for (int64_t i = 0; i < n; i++)
            p->diff[i] = p->std.act[k][i] - p->mod.act[k][i];
        eqs_crnn_add_param_grad(net, k, p->diff, pre, grad_scale(p, k), g,
                                eqs_crnn_has_bias(net, k));
        pre = p->mod.act[k];
        conv = conv || eqs_crnn_model(net)->layers[k].type == EQS_LAYER_CONV;
    }
    const eqs_real *err = conv ? p->std.err : p->mod.err;
    eqs_crnn_add_param_grad(net, last, err, pre, grad_scale(p, last), g,
                            eqs_crnn_has_bias(net, last));
}

static void report(const eqs_pepita *p, double loss, double *loss_sum, int32_t *n_correct)
{
    if (loss_sum)
        *loss_sum = loss;
    if (n_correct)
        *n_correct = eqs_crnn_n_correct(p->net, p->std.logits);
}

void eqs_pepita_estimate(eqs_pepita *p, uint64_t step, eqs_grads *g, double *loss_sum,
                         int32_t *n_correct)
{
    eqs_crnn_set_phase(p->net, EQS_PHASE_FREE);
    double loss = forward(p, &p->std, eqs_crnn_input(p->net));
    eqs_crnn_set_phase(p->net, EQS_PHASE_NUDGE);
    forward(p, &p->mod, modulated_input(p, step));
    eqs_crnn_set_phase(p->net, EQS_PHASE_UPDATE);
    eqs_grads_zero(p->net, g);
    add_gradients(p, g);
    report(p, loss, loss_sum, n_correct);
}

void eqs_pepita_infer(eqs_pepita *p, double *loss_sum, int32_t *n_correct)
{
    report(p, forward(p, &p->std, eqs_crnn_input(p->net)), loss_sum, n_correct);
}

void eqs_pepita_get_pass(const eqs_pepita *p, bool modulated, eqs_pepita_pass *out)
{
    const pass_buf *pb = modulated ? &p->mod : &p->std;
    memset(out, 0, sizeof *out);
    out->n_hidden = p->n_hidden;
    out->input = pb->input;
    for (int32_t k = 0; k < p->n_hidden; k++)
        out->act[k] = pb->act[k];
    out->logits = pb->logits;
    out->error = pb->err;
}

/* ---- F --------------------------------------------------------------------------------------- */

eqs_real *eqs_pepita_f(eqs_pepita *p)
{
    return p->f;
}

static void f_path(char *out, size_t len, const char *dir)
{
    snprintf(out, len, "%s/pepita.F.npy", dir);
}

eqs_status eqs_pepita_save_f(const eqs_pepita *p, const char *dir, eqs_err *err)
{
    char path[EQS_PATH_LEN + 32];
    int64_t shape[2] = {p->n_features, p->n_classes};
    f_path(path, sizeof path, dir);
    return eqs_npy_write_real(path, 2, shape, p->f, err);
}

eqs_status eqs_pepita_load_f(eqs_pepita *p, const char *dir, bool *found, eqs_err *err)
{
    char path[EQS_PATH_LEN + 32];
    int64_t shape[2] = {p->n_features, p->n_classes}, got[4];
    f_path(path, sizeof path, dir);
    *found = eqs_path_exists(path);
    if (!*found)
        return EQS_OK;
    eqs_real *data;
    eqs_status st = eqs_npy_read_real(path, 2, shape, &data, got, err);
    if (st != EQS_OK)
        return st;
    memcpy(p->f, data, sizeof(eqs_real) * (size_t)(shape[0] * shape[1]));
    eqs_free(data);
    return EQS_OK;
}

/* ---- alignment ------------------------------------------------------------------------------ */

/* W_N ... W_1 [n_classes, n_features], from the output side: every partial product keeps
 * n_classes rows, so each is small. a and b hold max n_classes x n_k values, w the largest W;
 * returns the one of a and b that holds the result. */
static const eqs_real *forward_product(eqs_pepita *p, eqs_real *w, eqs_real *a, eqs_real *b)
{
    eqs_crnn *net = p->net;
    int32_t last = p->n_layers - 1;
    eqs_tile_read(eqs_crnn_tile(net, last), a); /* [C, n_{N-1}] */
    for (int32_t k = last - 1; k >= 0; k--) {
        int32_t n_out = eqs_crnn_size(net, k + 1), n_in = eqs_crnn_size(net, k);
        eqs_tile_read(eqs_crnn_tile(net, k), w); /* [n_out, n_in] */
        eqs_gemm(false, false, p->n_classes, n_in, n_out, 1, a, n_out, w, n_in, 0, b, n_in);
        eqs_real *t = a;
        a = b;
        b = t;
    }
    return a;
}

static double angle_deg(const eqs_real *prod, const eqs_real *f, int32_t n_classes,
                        int32_t n_features)
{
    double dot = 0, np = 0, nf = 0;
    for (int32_t c = 0; c < n_classes; c++)
        for (int32_t i = 0; i < n_features; i++) {
            double a = prod[(int64_t)c * n_features + i], b = f[(int64_t)i * n_classes + c];
            dot += a * b;
            np += a * a;
            nf += b * b;
        }
    if (!(np > 0 && nf > 0))
        return NAN;
    double c = dot / sqrt(np * nf);
    return acos(c > 1 ? 1 : (c < -1 ? -1 : c)) * 180.0 / 3.141592653589793;
}

bool eqs_pepita_has_angle(const eqs_pepita *p)
{
    const eqs_model_config *m = eqs_crnn_model(p->net);
    for (int32_t k = 0; k < m->n_layers; k++)
        if (m->layers[k].type != EQS_LAYER_DENSE)
            return false;
    return p->alg.pepita_modulation != EQS_PEPITA_MOD_NONE;
}

eqs_status eqs_pepita_alignment_deg(eqs_pepita *p, double *deg, eqs_err *err)
{
    int64_t max_w = 0, max_prod = 0;
    const eqs_model_config *m = eqs_crnn_model(p->net);
    for (int32_t k = 0; k < m->n_layers; k++)
        if (m->layers[k].type != EQS_LAYER_DENSE)
            return eqs_err_set(err, EQS_EINVAL,
                               "pepita: no alignment angle for layer %s: a conv layer (with its "
                               "pooling) is not one matrix",
                               m->layers[k].name);
    for (int32_t k = 0; k < p->n_layers; k++) {
        int64_t w = eqs_crnn_n_weights(p->net, k);
        int64_t prod = (int64_t)p->n_classes * eqs_crnn_size(p->net, k);
        max_w = w > max_w ? w : max_w;
        max_prod = prod > max_prod ? prod : max_prod;
    }
    eqs_real *w = eqs_calloc((size_t)max_w, sizeof(eqs_real), err);
    eqs_real *a = eqs_calloc((size_t)max_prod, sizeof(eqs_real), err);
    eqs_real *b = eqs_calloc((size_t)max_prod, sizeof(eqs_real), err);
    eqs_status st = w && a && b ? EQS_OK : EQS_ENOMEM;
    if (st == EQS_OK) {
        const eqs_real *prod = forward_product(p, w, a, b);
        *deg = angle_deg(prod, p->f, p->n_classes, p->n_features);
    }
    eqs_free(w);
    eqs_free(a);
    eqs_free(b);
    return st;
}
