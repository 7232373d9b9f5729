/* crnn.c — the convergent RNN (dense and conv layers): parameters on tiles, synchronous steps of
 * s <- sigma(dPhi/ds) with the nudge inside sigma, logits, losses and the Hebbian dPhi/dtheta.
 * The per-connection algebra (dense, or conv with pooling) lives in conn.c.
 *
 * Nothing here allocates after eqs_crnn_create / eqs_state_alloc: every step works in buffers
 * sized for max_batch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "neuron.h"

#include "eqs/blas.h"
#include "eqs/net.h"

struct eqs_crnn {
    eqs_model_config model;
    int32_t n_layers;                 /* N */
    int32_t n_dyn;                    /* D */
    int32_t size[EQS_MAX_LAYERS + 1]; /* flat state sizes n_0 .. n_N */
    int32_t max_batch;
    eqs_conn conn[EQS_MAX_LAYERS]; /* W_k, b_k and their workspaces */
    eqs_conn back[EQS_MAX_LAYERS]; /* W^b_k (asymmetric feedback; bias unused, zero) */
    bool has_back[EQS_MAX_LAYERS];
    const eqs_real *x; /* [batch, n_0], borrowed */
    const int32_t *y;  /* [batch], borrowed */
    int32_t batch;
    eqs_real *drive0;       /* [max_batch, n_1]: F_1(x), static */
    eqs_real *logits;       /* [max_batch, n_classes] */
    eqs_real *dl_dz;        /* [max_batch, n_classes] */
    eqs_real *diff0;        /* [max_batch, n_1]: s_b - s_a of the first layer */
    eqs_state pre_scratch;  /* pre-activations when the caller keeps none */
    eqs_state back_scratch; /* outputs of the backward convolutions (only their indices matter) */
    double drop_p[EQS_MAX_LAYERS];    /* dropout probability of each dynamic layer */
    eqs_real *mask[EQS_MAX_LAYERS];   /* [max_batch, n_k]: 0 or 1/(1-p); NULL without */
    double *drop_u;                   /* the uniforms of the largest mask */
    bool dropout_on;                  /* masks drawn for the current training batch */
    eqs_state masked[EQS_MASK_SLOTS]; /* M (.) s copies */
    /* Hardware neurons (hwconfig `neuron:`); all zero for the float reference. */
    eqs_neuron_config neuron;
    eqs_real state_lo, state_hi; /* the quantizer's range: the activation's output range */
    bool exact_input_drive;      /* connection 0's tile reads exactly: drive0 may be reused */
    eqs_phase phase;
    eqs_neuron_counts counts[EQS_PHASE_N];
    int32_t last_relax_steps;
    /* Local readouts (docs/local-error.md); n_local = 0 without them. */
    int32_t n_local;
    int32_t local_layer[EQS_MAX_LAYERS];     /* dynamic layer of readout i */
    eqs_real *local_p[EQS_MAX_LAYERS];       /* P_i [n_classes, n_l] */
    const eqs_real *local_z[EQS_MAX_LAYERS]; /* KD targets [batch, n_classes]; NULL = one-hot */
    bool local_trained;                      /* weighted: every P_i is trained */
    double local_tau, local_lambda;
    eqs_real *local_r, *local_d; /* [max_batch, n_classes] workspaces */
};

/* Local readouts keep one sample's class scores on the stack (softmax in double). */
#define EQS_LOCAL_MAX_CLASSES 1024

static int64_t layer_elems(const eqs_crnn *net, int32_t k, int32_t batch)
{
    return (int64_t)batch * net->size[k + 1];
}

const eqs_model_config *eqs_crnn_model(const eqs_crnn *net)
{
    return &net->model;
}

int32_t eqs_crnn_n_layers(const eqs_crnn *net)
{
    return net->n_layers;
}

int32_t eqs_crnn_n_dynamic(const eqs_crnn *net)
{
    return net->n_dyn;
}

int32_t eqs_crnn_size(const eqs_crnn *net, int32_t k)
{
    EQS_ASSERT(k >= 0 && k <= net->n_layers);
    return net->size[k];
}

int32_t eqs_crnn_n_classes(const eqs_crnn *net)
{
    return net->size[net->n_layers];
}

int32_t eqs_crnn_max_batch(const eqs_crnn *net)
{
    return net->max_batch;
}

eqs_tile *eqs_crnn_tile(eqs_crnn *net, int32_t layer)
{
    EQS_ASSERT(layer >= 0 && layer < net->n_layers);
    return net->conn[layer].tile;
}

bool eqs_crnn_has_bias(const eqs_crnn *net, int32_t layer)
{
    EQS_ASSERT(layer >= 0 && layer < net->n_layers);
    return !net->model.no_bias;
}

eqs_real *eqs_crnn_bias(eqs_crnn *net, int32_t layer)
{
    EQS_ASSERT(layer >= 0 && layer < net->n_layers);
    return net->conn[layer].bias;
}

int64_t eqs_crnn_n_weights(const eqs_crnn *net, int32_t layer)
{
    const eqs_tile *t = net->conn[layer].tile;
    return (int64_t)eqs_tile_n_out(t) * eqs_tile_n_in(t);
}

int32_t eqs_crnn_n_bias(const eqs_crnn *net, int32_t layer)
{
    return net->conn[layer].n_bias;
}

int32_t eqs_crnn_weight_shape(const eqs_crnn *net, int32_t layer, int64_t shape[4])
{
    const eqs_conn *c = &net->conn[layer];
    shape[0] = eqs_tile_n_out(c->tile);
    if (c->type == EQS_LAYER_DENSE) {
        shape[1] = eqs_tile_n_in(c->tile);
        return 2;
    }
    shape[1] = c->geom.c_in;
    shape[2] = shape[3] = c->geom.kernel;
    return 4;
}

const eqs_real *eqs_crnn_input(const eqs_crnn *net)
{
    return net->x;
}

const int32_t *eqs_crnn_targets(const eqs_crnn *net)
{
    return net->y;
}

int32_t eqs_crnn_batch(const eqs_crnn *net)
{
    return net->batch;
}

const eqs_real *eqs_crnn_input_drive(const eqs_crnn *net)
{
    return net->drive0;
}

void eqs_crnn_destroy(eqs_crnn *net)
{
    if (!net)
        return;
    for (int32_t k = 0; k < net->n_layers; k++)
        eqs_conn_fini(&net->conn[k]);
    eqs_free(net->drive0);
    eqs_free(net->logits);
    eqs_free(net->dl_dz);
    eqs_free(net->diff0);
    eqs_state_free(&net->pre_scratch);
    eqs_state_free(&net->back_scratch);
    for (int32_t k = 0; k < EQS_MAX_LAYERS; k++)
        eqs_free(net->mask[k]);
    eqs_free(net->drop_u);
    for (int i = 0; i < EQS_MASK_SLOTS; i++)
        eqs_state_free(&net->masked[i]);
    for (int32_t k = 0; k < net->n_layers; k++)
        if (net->has_back[k])
            eqs_conn_fini(&net->back[k]);
    for (int32_t i = 0; i < net->n_local; i++)
        eqs_free(net->local_p[i]);
    eqs_free(net->local_r);
    eqs_free(net->local_d);
    free(net);
}

static eqs_status alloc_workspace(eqs_crnn *net, eqs_err *err)
{
    size_t b = (size_t)net->max_batch;
    size_t nc = (size_t)eqs_crnn_n_classes(net);
    net->drive0 = eqs_calloc(b * (size_t)net->size[1], sizeof(eqs_real), err);
    net->diff0 = eqs_calloc(b * (size_t)net->size[1], sizeof(eqs_real), err);
    net->logits = eqs_calloc(b * nc, sizeof(eqs_real), err);
    net->dl_dz = eqs_calloc(b * nc, sizeof(eqs_real), err);
    if (!net->drive0 || !net->diff0 || !net->logits || !net->dl_dz)
        return EQS_ENOMEM;
    eqs_status st = eqs_state_alloc(net, &net->pre_scratch, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &net->back_scratch, err);
    size_t drop_u_len = 0; /* the largest mask */
    for (int32_t k = 0; k < net->n_dyn && st == EQS_OK; k++) {
        net->drop_p[k] = net->model.layers[k].dropout;
        if (net->drop_p[k] > 0) {
            size_t n = (size_t)layer_elems(net, k, net->max_batch);
            net->mask[k] = eqs_calloc(n, sizeof(eqs_real), err);
            drop_u_len = n > drop_u_len ? n : drop_u_len;
            st = net->mask[k] ? EQS_OK : EQS_ENOMEM;
        }
    }
    if (st == EQS_OK && drop_u_len > 0) {
        net->drop_u = eqs_calloc(drop_u_len, sizeof(double), err);
        st = net->drop_u ? EQS_OK : EQS_ENOMEM;
    }
    for (int i = 0; i < EQS_MASK_SLOTS && st == EQS_OK; i++)
        st = eqs_state_alloc(net, &net->masked[i], err);
    return st;
}

/* The output range of the activation, which quantized neurons resolve in 2^bits levels. */
static eqs_status neuron_range(eqs_crnn *net, eqs_err *err)
{
    switch (net->model.activation) {
    case EQS_ACT_TANH:
        net->state_lo = -1;
        net->state_hi = 1;
        break;
    case EQS_ACT_RELU:
        return eqs_err_set(err, EQS_ECONFIG,
                           "hardware.neuron.bits = %d needs a bounded activation (the quantizer "
                           "spans its output range); relu is unbounded: use hard_sigmoid or set "
                           "bits to 0",
                           net->neuron.bits);
    default: /* hard sigmoids and sigmoid: [0, 1] */
        net->state_lo = 0;
        net->state_hi = 1;
    }
    if (net->model.readout == EQS_READOUT_LINEAR)
        return eqs_err_set(err, EQS_ECONFIG,
                           "hardware.neuron.bits = %d with readout linear: a linear output "
                           "neuron has no range to quantize; use readout activation or softmax",
                           net->neuron.bits);
    return EQS_OK;
}

eqs_status eqs_crnn_create(eqs_crnn **out, const eqs_model_config *model, int32_t max_batch,
                           eqs_err *err)
{
    return eqs_crnn_create_hw(out, model, max_batch, NULL, 0, err);
}

eqs_status eqs_crnn_create_hw(eqs_crnn **out, const eqs_model_config *model, int32_t max_batch,
                              const eqs_hw_config *hw, uint64_t seed, eqs_err *err)
{
    if (max_batch < 1)
        return eqs_err_set(err, EQS_EINVAL, "crnn: max_batch %d must be >= 1", max_batch);
    if (model->n_layers < 1 || model->n_layers > EQS_MAX_LAYERS)
        return eqs_err_set(err, EQS_EINVAL, "crnn: %d layers (expected 1..%d)", model->n_layers,
                           EQS_MAX_LAYERS);
    if (model->readout == EQS_READOUT_SOFTMAX && model->n_layers < 2)
        return eqs_err_set(err, EQS_EINVAL, "crnn: a softmax readout needs at least 2 layers");
    eqs_crnn *net = calloc(1, sizeof *net);
    if (!net)
        return eqs_err_set(err, EQS_ENOMEM, "crnn: out of memory");
    net->model = *model;
    net->n_layers = model->n_layers;
    net->n_dyn = model->readout == EQS_READOUT_SOFTMAX ? model->n_layers - 1 : model->n_layers;
    net->max_batch = max_batch;
    net->size[0] = model->n_features;
    eqs_status st = EQS_OK;
    int32_t c = model->in_channels, h = model->in_height, w = model->in_width;
    for (int32_t k = 0; k < net->n_layers && st == EQS_OK; k++) {
        const eqs_layer_config *l = &model->layers[k];
        if (l->type == EQS_LAYER_DENSE) { /* flattening in C,H,W order is the memory order */
            c *= h * w;
            h = w = 1;
        }
        /* tile ids: 2k for W_k, 2k+1 for W^b_k, so every array has its own random streams */
        st = eqs_conn_init(&net->conn[k], l, c, h, w, max_batch, hw, seed, (uint32_t)(2 * k), err);
        net->has_back[k] = model->feedback == EQS_FEEDBACK_ASYMMETRIC && k >= 1 && k < net->n_dyn;
        if (st == EQS_OK && net->has_back[k])
            st = eqs_conn_init(&net->back[k], l, c, h, w, max_batch, hw, seed,
                               (uint32_t)(2 * k + 1), err);
        net->size[k + 1] = net->conn[k].n_out;
        bool conv = l->type == EQS_LAYER_CONV;
        c = l->n_out;
        h = conv ? net->conn[k].geom.h_out : 1;
        w = conv ? net->conn[k].geom.w_out : 1;
    }
    if (st == EQS_OK)
        st = alloc_workspace(net, err);
    if (st == EQS_OK && hw) {
        net->neuron = hw->neuron;
        if (net->neuron.bits > 0)
            st = neuron_range(net, err);
    }
    if (st == EQS_OK)
        net->exact_input_drive = eqs_tile_is_exact(net->conn[0].tile);
    if (st != EQS_OK) {
        eqs_crnn_destroy(net);
        return st;
    }
    *out = net;
    return EQS_OK;
}

/* Uniform on +-bound, from the Philox stream (seed, INIT_W, entity). */
static void init_uniform(eqs_real *v, int64_t n, double bound, uint64_t seed, uint32_t entity)
{
    eqs_rng r;
    eqs_rng_init(&r, seed, EQS_RNG_INIT_W, entity);
    for (int64_t i = 0; i < n; i++)
        v[i] = (eqs_real)((2.0 * eqs_rng_uniform(&r) - 1.0) * bound);
}

/* Streams: W_k 2k, b_k 2k+1, W^b_k 1000+k (drawn independently of W_k, as in Laborieux). W's
 * bound is w_gain / sqrt(fan_in); the biases' is 1 / sqrt(fan_in), and a model without biases
 * keeps them at zero. */
static void init_params(eqs_crnn *net, uint64_t seed, double w_gain)
{
    for (int32_t k = 0; k < net->n_layers; k++) {
        eqs_conn *c = &net->conn[k];
        int64_t n_w = eqs_crnn_n_weights(net, k);
        double bound = 1.0 / sqrt((double)eqs_tile_n_in(c->tile)); /* fan_in = C_in*k*k */
        eqs_real *w = malloc(sizeof(eqs_real) * (size_t)n_w);
        EQS_ASSERT(w != NULL);
        init_uniform(w, n_w, w_gain * bound, seed, (uint32_t)(2 * k));
        eqs_tile_write(c->tile, w);
        if (net->model.no_bias)
            memset(c->bias, 0, sizeof(eqs_real) * (size_t)c->n_bias);
        else
            init_uniform(c->bias, c->n_bias, bound, seed, (uint32_t)(2 * k + 1));
        if (net->has_back[k]) {
            init_uniform(w, n_w, w_gain * bound, seed, (uint32_t)(1000 + k));
            eqs_tile_write(net->back[k].tile, w);
        }
        free(w);
    }
}

void eqs_crnn_init_params(eqs_crnn *net, uint64_t seed)
{
    init_params(net, seed, 1.0);
}

/* He-uniform is PyTorch's default scaled by sqrt(6): the same draws, a wider interval. */
void eqs_crnn_init_he_uniform(eqs_crnn *net, uint64_t seed)
{
    init_params(net, seed, sqrt(6.0));
}

/* ---- states and gradient buffers ------------------------------------------------------- */

eqs_status eqs_state_alloc(const eqs_crnn *net, eqs_state *st, eqs_err *err)
{
    memset(st, 0, sizeof *st);
    st->n_layers = net->n_dyn;
    for (int32_t k = 0; k < net->n_dyn; k++) {
        st->s[k] = eqs_calloc((size_t)layer_elems(net, k, net->max_batch), sizeof(eqs_real), err);
        if (!st->s[k]) {
            eqs_state_free(st);
            return EQS_ENOMEM;
        }
    }
    return EQS_OK;
}

void eqs_state_free(eqs_state *st)
{
    for (int32_t k = 0; k < EQS_MAX_LAYERS; k++) {
        eqs_free(st->s[k]);
        st->s[k] = NULL;
    }
    st->n_layers = 0;
}

void eqs_state_zero(const eqs_crnn *net, eqs_state *st, int32_t batch)
{
    for (int32_t k = 0; k < net->n_dyn; k++)
        memset(st->s[k], 0, sizeof(eqs_real) * (size_t)layer_elems(net, k, batch));
}

void eqs_state_copy(const eqs_crnn *net, eqs_state *dst, const eqs_state *src, int32_t batch)
{
    for (int32_t k = 0; k < net->n_dyn; k++)
        memcpy(dst->s[k], src->s[k], sizeof(eqs_real) * (size_t)layer_elems(net, k, batch));
}

eqs_status eqs_grads_alloc(const eqs_crnn *net, eqs_grads *g, eqs_err *err)
{
    memset(g, 0, sizeof *g);
    g->n_layers = net->n_layers;
    for (int32_t k = 0; k < net->n_layers; k++) {
        g->w[k] = eqs_calloc((size_t)eqs_crnn_n_weights(net, k), sizeof(eqs_real), err);
        g->b[k] = eqs_calloc((size_t)eqs_crnn_n_bias(net, k), sizeof(eqs_real), err);
        if (net->has_back[k])
            g->wb[k] = eqs_calloc((size_t)eqs_crnn_n_weights(net, k), sizeof(eqs_real), err);
        if (!g->w[k] || !g->b[k] || (net->has_back[k] && !g->wb[k])) {
            eqs_grads_free(g);
            return EQS_ENOMEM;
        }
    }
    for (int32_t i = 0; net->local_trained && i < net->n_local; i++) {
        size_t n = (size_t)eqs_crnn_n_classes(net) * (size_t)net->size[net->local_layer[i] + 1];
        if (!(g->p[i] = eqs_calloc(n, sizeof(eqs_real), err))) {
            eqs_grads_free(g);
            return EQS_ENOMEM;
        }
    }
    return EQS_OK;
}

void eqs_grads_free(eqs_grads *g)
{
    for (int32_t k = 0; k < EQS_MAX_LAYERS; k++) {
        eqs_free(g->w[k]);
        eqs_free(g->b[k]);
        eqs_free(g->wb[k]);
        eqs_free(g->p[k]);
        g->w[k] = g->b[k] = g->wb[k] = g->p[k] = NULL;
    }
    g->n_layers = 0;
}

void eqs_grads_zero(const eqs_crnn *net, eqs_grads *g)
{
    for (int32_t k = 0; k < net->n_layers; k++) {
        memset(g->w[k], 0, sizeof(eqs_real) * (size_t)eqs_crnn_n_weights(net, k));
        memset(g->b[k], 0, sizeof(eqs_real) * (size_t)eqs_crnn_n_bias(net, k));
        if (g->wb[k])
            memset(g->wb[k], 0, sizeof(eqs_real) * (size_t)eqs_crnn_n_weights(net, k));
    }
    for (int32_t i = 0; i < net->n_local; i++)
        if (g->p[i])
            memset(g->p[i], 0,
                   sizeof(eqs_real) * (size_t)eqs_crnn_n_classes(net) *
                       (size_t)net->size[net->local_layer[i] + 1]);
}

/* ---- activations ----------------------------------------------------------------------- */

void eqs_activation_apply(eqs_activation a, const eqs_real *pre, eqs_real *out, int64_t n)
{
    switch (a) {
    case EQS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            eqs_real v = pre[i];
            out[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        break;
    case EQS_ACT_HARD_SIGMOID_HALF:
        for (int64_t i = 0; i < n; i++) {
            eqs_real v = pre[i] * (eqs_real)0.5;
            out[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        break;
    case EQS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            out[i] = (eqs_real)(1.0 / (1.0 + exp(-(double)pre[i])));
        break;
    case EQS_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            out[i] = (eqs_real)tanh((double)pre[i]);
        break;
    case EQS_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            out[i] = pre[i] > 0 ? pre[i] : 0;
        break;
    }
}

/* Derivatives of the clamps are 1 (or 1/2) strictly inside the linear range and 0 on and
 * beyond its ends, like PyTorch's hardtanh. */
void eqs_activation_grad(eqs_activation a, const eqs_real *pre, eqs_real *dout, int64_t n)
{
    switch (a) {
    case EQS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            dout[i] = (pre[i] > 0 && pre[i] < 1) ? 1 : 0;
        break;
    case EQS_ACT_HARD_SIGMOID_HALF:
        for (int64_t i = 0; i < n; i++)
            dout[i] = (pre[i] > 0 && pre[i] < 2) ? (eqs_real)0.5 : 0;
        break;
    case EQS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            double s = 1.0 / (1.0 + exp(-(double)pre[i]));
            dout[i] = (eqs_real)(s * (1.0 - s));
        }
        break;
    case EQS_ACT_TANH:
        for (int64_t i = 0; i < n; i++) {
            double t = tanh((double)pre[i]);
            dout[i] = (eqs_real)(1.0 - t * t);
        }
        break;
    case EQS_ACT_RELU: /* 0 at 0, like PyTorch's */
        for (int64_t i = 0; i < n; i++)
            dout[i] = pre[i] > 0 ? 1 : 0;
        break;
    }
}

bool eqs_all_finite(const eqs_real *x, int64_t n)
{
    /* x * 0 is 0 for a finite x and NaN for inf or NaN; OR-ing the results' exponent-all-ones
     * test over the array is a loop GCC vectorises (an early return is not): every training step
     * checks every gradient. */
    unsigned bad = 0;
    for (int64_t i = 0; i < n; i++) {
        eqs_real z = x[i] * 0;
        bad |= z != z;
    }
    return bad == 0;
}

/* ---- dynamics -------------------------------------------------------------------------- */

void eqs_crnn_set_input(eqs_crnn *net, const eqs_real *x, const int32_t *y, int32_t batch)
{
    EQS_ASSERT(batch >= 1 && batch <= net->max_batch);
    net->x = x;
    net->y = y;
    net->batch = batch;
    /* This also records conv1's pooling indices: they depend on x alone and stay valid for the
     * whole batch (nothing else evaluates connection 0). */
    eqs_conn_forward(&net->conn[0], x, batch, net->drive0);
}

/* ---- dropout (Laborieux E.3) ----------------------------------------------------------- */

void eqs_crnn_dropout_sample(eqs_crnn *net, uint64_t seed, uint64_t step)
{
    net->dropout_on = false;
    for (int32_t k = 0; k < net->n_dyn; k++) {
        if (!net->mask[k])
            continue;
        eqs_real keep = (eqs_real)(1.0 / (1.0 - net->drop_p[k]));
        int64_t n = layer_elems(net, k, net->batch);
        double p = net->drop_p[k];
        /* the same uniforms as eqs_rng_uniform(&r) n times, in bulk */
        eqs_rng_fill_uniform_f64(net->drop_u, (size_t)n, seed, EQS_RNG_DROPOUT,
                                 (uint32_t)(step * EQS_MAX_LAYERS + (uint64_t)k));
        for (int64_t i = 0; i < n; i++)
            net->mask[k][i] = net->drop_u[i] < p ? 0 : keep;
        net->dropout_on = true;
    }
}

void eqs_crnn_dropout_off(eqs_crnn *net)
{
    net->dropout_on = false;
}

static bool masked_layer(const eqs_crnn *net, int32_t k)
{
    return net->dropout_on && k < net->n_dyn && net->mask[k];
}

const eqs_real *eqs_crnn_masked(eqs_crnn *net, int32_t k, const eqs_real *s_k, int slot)
{
    if (!masked_layer(net, k))
        return s_k;
    EQS_ASSERT(slot >= 0 && slot < EQS_MASK_SLOTS);
    eqs_real *out = net->masked[slot].s[k];
    for (int64_t i = 0; i < layer_elems(net, k, net->batch); i++)
        out[i] = net->mask[k][i] * s_k[i];
    return out;
}

void eqs_crnn_mask_apply(eqs_crnn *net, int32_t k, eqs_real *buf)
{
    if (!masked_layer(net, k))
        return;
    for (int64_t i = 0; i < layer_elems(net, k, net->batch); i++)
        buf[i] *= net->mask[k][i];
}

/* The state as Phi sees it: M (.) s for the layers with dropout, s itself for the others. */
static eqs_state masked_view(eqs_crnn *net, const eqs_state *s, int slot)
{
    eqs_state v = *s;
    for (int32_t k = 0; k < net->n_dyn; k++)
        v.s[k] = (eqs_real *)eqs_crnn_masked(net, k, s->s[k], slot);
    return v;
}

void eqs_crnn_logits(eqs_crnn *net, const eqs_state *s, eqs_real *logits)
{
    int32_t nc = eqs_crnn_n_classes(net), last = net->n_dyn - 1;
    const eqs_real *s_d = eqs_crnn_masked(net, last, s->s[last], EQS_MASK_SLOTS - 1);
    if (net->model.readout == EQS_READOUT_SOFTMAX) {
        eqs_conn_forward(&net->conn[net->n_layers - 1], s_d, net->batch, logits);
    } else {
        memcpy(logits, s_d, sizeof(eqs_real) * (size_t)net->batch * (size_t)nc);
    }
}

double eqs_crnn_loss_grad(const eqs_crnn *net, const eqs_real *logits, eqs_real *dl_dz)
{
    int32_t nc = eqs_crnn_n_classes(net);
    double total = 0;
    for (int32_t r = 0; r < net->batch; r++) {
        const eqs_real *z = logits + (int64_t)r * nc;
        eqs_real *g = dl_dz + (int64_t)r * nc;
        int32_t y = net->y[r];
        if (net->model.loss == EQS_LOSS_MSE) {
            for (int32_t i = 0; i < nc; i++) {
                double d = (double)z[i] - (i == y ? 1.0 : 0.0);
                g[i] = (eqs_real)d;
                total += 0.5 * d * d;
            }
        } else {
            double zmax = z[0];
            for (int32_t i = 1; i < nc; i++)
                zmax = z[i] > zmax ? z[i] : zmax;
            double sum = 0;
            for (int32_t i = 0; i < nc; i++)
                sum += exp((double)z[i] - zmax);
            for (int32_t i = 0; i < nc; i++)
                g[i] = (eqs_real)(exp((double)z[i] - zmax) / sum - (i == y ? 1.0 : 0.0));
            total += zmax + log(sum) - (double)z[y];
        }
    }
    return total;
}

int32_t eqs_crnn_n_correct(const eqs_crnn *net, const eqs_real *logits)
{
    int32_t nc = eqs_crnn_n_classes(net), correct = 0;
    for (int32_t r = 0; r < net->batch; r++) {
        const eqs_real *z = logits + (int64_t)r * nc;
        int32_t best = 0;
        for (int32_t i = 1; i < nc; i++)
            if (z[i] > z[best])
                best = i;
        correct += best == net->y[r];
    }
    return correct;
}

/* Adds the nudge -beta * dl/ds_D (through the readout for a softmax) to the last dynamic
 * layer's pre-activation h, evaluated at the current states. */
static void add_nudge(eqs_crnn *net, const eqs_state *in, eqs_real beta, eqs_real *h)
{
    int32_t nc = eqs_crnn_n_classes(net);
    int64_t n = (int64_t)net->batch * nc;
    eqs_crnn_logits(net, in, net->logits);
    eqs_crnn_loss_grad(net, net->logits, net->dl_dz);
    if (net->model.readout == EQS_READOUT_SOFTMAX) {
        for (int64_t i = 0; i < n; i++)
            net->dl_dz[i] *= -beta;
        eqs_conn_backward_add(&net->conn[net->n_layers - 1], net->dl_dz, net->batch, h);
    } else {
        eqs_axpy(n, -beta, net->dl_dz, h);
    }
}

/* ---- local readouts (docs/local-error.md) ------------------------------------------------- */

eqs_status eqs_crnn_local_init(eqs_crnn *net, const eqs_local_error_config *cfg, uint64_t seed,
                               eqs_err *err)
{
    EQS_ASSERT(net->n_local == 0);
    size_t nc = (size_t)eqs_crnn_n_classes(net);
    for (int32_t i = 0; i < cfg->n_layers; i++)
        if (cfg->layers[i] < 0 || cfg->layers[i] >= net->n_dyn)
            return eqs_err_set(err, EQS_EINVAL, "crnn: local readout on layer %d of %d dynamic",
                               cfg->layers[i], net->n_dyn);
    if (cfg->n_layers > 0 && nc > EQS_LOCAL_MAX_CLASSES)
        return eqs_err_set(err, EQS_EINVAL,
                           "crnn: local readouts support up to %d classes, not %zu",
                           EQS_LOCAL_MAX_CLASSES, nc);
    net->local_tau = cfg->tau;
    net->local_lambda = cfg->lambda0;
    net->local_trained = cfg->weighted != 0;
    net->local_r = eqs_calloc((size_t)net->max_batch * nc, sizeof(eqs_real), err);
    net->local_d = eqs_calloc((size_t)net->max_batch * nc, sizeof(eqs_real), err);
    if (!net->local_r || !net->local_d)
        return EQS_ENOMEM;
    for (int32_t i = 0; i < cfg->n_layers; i++) {
        int32_t l = cfg->layers[i], n_l = net->size[l + 1];
        net->local_layer[i] = l;
        net->local_z[i] = NULL;
        if (!(net->local_p[i] = eqs_calloc(nc * (size_t)n_l, sizeof(eqs_real), err)))
            return EQS_ENOMEM;
        net->n_local = i + 1;
        init_uniform(net->local_p[i], (int64_t)nc * n_l, 1.0 / sqrt((double)n_l), seed,
                     (uint32_t)(2000 + l));
    }
    return EQS_OK;
}

int32_t eqs_crnn_n_local(const eqs_crnn *net)
{
    return net->n_local;
}

int32_t eqs_crnn_local_layer(const eqs_crnn *net, int32_t i)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    return net->local_layer[i];
}

bool eqs_crnn_local_trained(const eqs_crnn *net, int32_t i)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    return net->local_trained;
}

eqs_real *eqs_crnn_local_p(eqs_crnn *net, int32_t i)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    return net->local_p[i];
}

void eqs_crnn_local_set_lambda(eqs_crnn *net, double lambda)
{
    net->local_lambda = lambda;
}

double eqs_crnn_local_lambda(const eqs_crnn *net)
{
    return net->local_lambda;
}

void eqs_crnn_local_set_teacher(eqs_crnn *net, int32_t i, const eqs_real *z)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    net->local_z[i] = z;
}

/* softmax(v / tau) of one row into p (double), returning log of its normaliser's argument
 * shift so that log p_j = v_j/tau - lse. */
static double softmax_tau(const double *v, int32_t nc, double tau, double *p)
{
    double m = v[0] / tau, sum = 0;
    for (int32_t j = 1; j < nc; j++)
        m = v[j] / tau > m ? v[j] / tau : m;
    for (int32_t j = 0; j < nc; j++)
        sum += (p[j] = exp(v[j] / tau - m));
    for (int32_t j = 0; j < nc; j++)
        p[j] /= sum;
    return m + log(sum);
}

/* Readout i at the (masked) state s_l of the batch: r = s_l P^T (one GEMM), then per sample
 * d = dl/dr = tau (softmax(r/tau) - softmax(t/tau)) into net->local_d; returns sum_b l_i. */
static double local_readout(eqs_crnn *net, int32_t i, const eqs_real *s_l)
{
    int32_t nc = eqs_crnn_n_classes(net), b = net->batch;
    int32_t n_l = net->size[net->local_layer[i] + 1];
    double tau = net->local_tau, total = 0;
    double r[EQS_LOCAL_MAX_CLASSES], t[EQS_LOCAL_MAX_CLASSES], q[EQS_LOCAL_MAX_CLASSES],
        p[EQS_LOCAL_MAX_CLASSES];
    EQS_ASSERT(nc <= EQS_LOCAL_MAX_CLASSES);
    eqs_gemm(false, true, b, nc, n_l, 1, s_l, n_l, net->local_p[i], n_l, 0, net->local_r, nc);
    for (int32_t row = 0; row < b; row++) {
        const eqs_real *z = net->local_z[i] ? net->local_z[i] + (int64_t)row * nc : NULL;
        for (int32_t j = 0; j < nc; j++) {
            r[j] = (double)net->local_r[(int64_t)row * nc + j];
            t[j] = z ? (double)z[j] : (j == net->y[row] ? 1.0 : 0.0);
        }
        double lse_r = softmax_tau(r, nc, tau, q), lse_t = softmax_tau(t, nc, tau, p);
        double kl = 0;
        for (int32_t j = 0; j < nc; j++) {
            net->local_d[(int64_t)row * nc + j] = (eqs_real)(tau * (q[j] - p[j]));
            if (p[j] > 0) /* log p - log q = (t - r)/tau - lse_t + lse_r */
                kl += p[j] * ((t[j] - r[j]) / tau - lse_t + lse_r);
        }
        total += tau * tau * kl;
    }
    return total;
}

/* pre-activations h_l -= beta lambda P^T dl/dr for every readout (Phi - beta lambda sum l_i) */
static void add_local_nudges(eqs_crnn *net, const eqs_state *m, eqs_real beta, eqs_state *hs)
{
    int32_t nc = eqs_crnn_n_classes(net);
    eqs_real scale = -beta * (eqs_real)net->local_lambda;
    for (int32_t i = 0; i < net->n_local; i++) {
        int32_t l = net->local_layer[i], n_l = net->size[l + 1];
        local_readout(net, i, m->s[l]);
        eqs_gemm(false, false, net->batch, n_l, nc, scale, net->local_d, nc, net->local_p[i], n_l,
                 1, hs->s[l], n_l);
    }
}

double eqs_crnn_local_loss(eqs_crnn *net, int32_t i, const eqs_state *s)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    int32_t l = net->local_layer[i];
    return local_readout(net, i, eqs_crnn_masked(net, l, s->s[l], 1));
}

void eqs_crnn_local_add_p_grad(eqs_crnn *net, int32_t i, const eqs_state *s, eqs_real scale,
                               eqs_real *gp)
{
    EQS_ASSERT(i >= 0 && i < net->n_local);
    int32_t l = net->local_layer[i], n_l = net->size[l + 1], nc = eqs_crnn_n_classes(net);
    const eqs_real *s_l = eqs_crnn_masked(net, l, s->s[l], 1);
    local_readout(net, i, s_l);
    /* gp [nc, n_l] += scale d^T s_l */
    eqs_gemm(true, false, nc, n_l, net->batch, scale, net->local_d, nc, s_l, n_l, 1, gp, n_l);
}

/* units with a state, summed over the dynamic layers */
static int64_t state_units(const eqs_crnn *net)
{
    int64_t n = 0;
    for (int32_t k = 0; k < net->n_dyn; k++)
        n += net->size[k + 1];
    return n;
}

/* The static input's drive for this step. An exact tile would return the same product every
 * time, so the one computed in eqs_crnn_set_input is reused — but charged, since the chip reads
 * the array every cycle; a noisy or quantized tile is read again (fresh noise and conversions). */
static void input_drive(eqs_crnn *net, eqs_real *h0)
{
    eqs_conn *c0 = &net->conn[0];
    if (!net->exact_input_drive) {
        eqs_conn_forward_again(c0, net->batch, h0);
        return;
    }
    memcpy(h0, net->drive0, sizeof(eqs_real) * (size_t)layer_elems(net, 0, net->batch));
    eqs_conn_charge_forward(c0, net->batch);
}

/* Hardware neurons: the leaky integration tau ds/dt = -s + sigma(h) (one Euler step of dt from
 * the previous state s_prev) and the quantizer of bits levels over the activation's range.
 * The float reference (no hardware) keeps s = sigma(h). */
static void neuron_settle(const eqs_crnn *net, const eqs_real *s_prev, eqs_real *s, int64_t n)
{
    const eqs_neuron_config *nc = &net->neuron;
    if (nc->dynamics == EQS_NEURON_LEAKY) {
        eqs_real a = (eqs_real)(nc->dt_s / nc->tau_s);
        for (int64_t i = 0; i < n; i++)
            s[i] = s_prev[i] + a * (s[i] - s_prev[i]);
    }
    if (nc->bits > 0) {
        eqs_quantizer q = eqs_quantizer_make(net->state_lo, net->state_hi, nc->bits);
        eqs_neuron_quantize(&q, s, n);
    }
}

/* out = the states layer k's neurons take from the drives pre: sigma, then neuron_settle. A
 * discrete-time quantized hard sigmoid is one fused pass (the same bits, half the sweeps). */
static void neuron_output(const eqs_crnn *net, int32_t k, const eqs_real *s_prev,
                          const eqs_real *pre, eqs_real *out, int64_t n)
{
    const eqs_neuron_config *nc = &net->neuron;
    eqs_activation a = net->model.activation;
    int linear = k == net->n_dyn - 1 && net->model.readout == EQS_READOUT_LINEAR;
    if (!linear && nc->bits > 0 && nc->dynamics != EQS_NEURON_LEAKY &&
        (a == EQS_ACT_HARD_SIGMOID || a == EQS_ACT_HARD_SIGMOID_HALF)) {
        eqs_quantizer q = eqs_quantizer_make(net->state_lo, net->state_hi, nc->bits);
        eqs_real scale = a == EQS_ACT_HARD_SIGMOID ? 1 : (eqs_real)0.5;
        eqs_neuron_clamp_quantize(&q, scale, pre, out, n);
        return;
    }
    if (linear)
        memcpy(out, pre, sizeof(eqs_real) * (size_t)n);
    else
        eqs_activation_apply(a, pre, out, n);
    neuron_settle(net, s_prev, out, n);
}

/* All forward drives first (each records its connection's pooling indices from the previous
 * states), then the backward drives, which use those indices, then the nudge and sigma. */
void eqs_crnn_step(eqs_crnn *net, const eqs_state *in, eqs_state *out, eqs_real beta,
                   eqs_state *pre)
{
    EQS_ASSERT(in != out);
    eqs_state *hs = pre ? pre : &net->pre_scratch;
    int32_t b = net->batch, last = net->n_dyn - 1;
    eqs_state m = masked_view(net, in, 0); /* Phi sees dropped-out units as zero */
    input_drive(net, hs->s[0]);
    for (int32_t k = 1; k <= last; k++)
        eqs_conn_forward(&net->conn[k], m.s[k - 1], b, hs->s[k]);
    for (int32_t k = 0; k < last; k++) {
        eqs_crnn_back_index(net, k + 1, m.s[k]);
        eqs_crnn_back_backward_add(net, k + 1, m.s[k + 1], hs->s[k]);
    }
    if (beta != 0)
        add_nudge(net, in, beta, hs->s[last]);
    if (beta != 0 && net->n_local > 0 && net->local_lambda != 0)
        add_local_nudges(net, &m, beta, hs);
    for (int32_t k = 0; k <= last; k++)
        eqs_crnn_mask_apply(net, k, hs->s[k]); /* d(Phi)/ds = M (.) d(Phi)/ds~ */
    for (int32_t k = 0; k <= last; k++)
        neuron_output(net, k, in->s[k], hs->s[k], out->s[k], layer_elems(net, k, b));
    eqs_neuron_counts *c = &net->counts[net->phase];
    c->steps++;
    c->neuron_updates += (uint64_t)b * (uint64_t)state_units(net);
}

/* max |a - b| over every dynamic layer's states */
static eqs_real max_abs_change(const eqs_crnn *net, const eqs_state *a, const eqs_state *b)
{
    eqs_real m = 0;
    for (int32_t k = 0; k < net->n_dyn; k++) {
        int64_t n = layer_elems(net, k, net->batch);
        for (int64_t i = 0; i < n; i++) {
            eqs_real d = a->s[k][i] - b->s[k][i];
            d = d < 0 ? -d : d;
            m = d > m ? d : m;
        }
    }
    return m;
}

int32_t eqs_crnn_relax(eqs_crnn *net, eqs_state *s, eqs_state *tmp, int32_t steps, eqs_real beta)
{
    eqs_real tol = (eqs_real)net->neuron.settle_tol;
    int32_t t = 0;
    while (t < steps) {
        eqs_crnn_step(net, s, tmp, beta, NULL);
        eqs_state swap = *s;
        *s = *tmp;
        *tmp = swap;
        t++;
        if (tol > 0 && max_abs_change(net, s, tmp) < tol)
            break;
    }
    eqs_neuron_counts *c = &net->counts[net->phase];
    c->relaxations++;
    if (t < steps)
        c->settled++;
    net->last_relax_steps = t;
    return t;
}

int32_t eqs_crnn_last_relax_steps(const eqs_crnn *net)
{
    return net->last_relax_steps;
}

void eqs_crnn_set_phase(eqs_crnn *net, eqs_phase phase)
{
    net->phase = phase;
    for (int32_t k = 0; k < net->n_layers; k++) {
        eqs_tile_set_phase(net->conn[k].tile, phase);
        if (net->has_back[k])
            eqs_tile_set_phase(net->back[k].tile, phase);
    }
}

const eqs_neuron_counts *eqs_crnn_neuron_counts(const eqs_crnn *net, eqs_phase phase)
{
    return &net->counts[phase];
}

void eqs_crnn_neuron_counts_set(eqs_crnn *net, eqs_phase phase, const eqs_neuron_counts *c)
{
    EQS_ASSERT(phase >= 0 && phase < EQS_PHASE_N);
    net->counts[phase] = *c;
}

void eqs_crnn_counts_reset(eqs_crnn *net)
{
    memset(net->counts, 0, sizeof net->counts);
    for (int32_t k = 0; k < net->n_layers; k++) {
        eqs_tile_counts_reset(net->conn[k].tile);
        if (net->has_back[k])
            eqs_tile_counts_reset(net->back[k].tile);
    }
}

/* ---- the connections, for the learning rules -------------------------------------------- */

void eqs_crnn_forward(eqs_crnn *net, int32_t k, const eqs_real *s_in, eqs_real *out)
{
    eqs_conn_forward(&net->conn[k], s_in, net->batch, out);
}

void eqs_crnn_gather(eqs_crnn *net, int32_t k, const eqs_real *v, eqs_real *out)
{
    eqs_conn_gather(&net->conn[k], v, net->batch, out);
}

void eqs_crnn_backward_add(eqs_crnn *net, int32_t k, const eqs_real *u, eqs_real *out)
{
    eqs_conn_backward_add(&net->conn[k], u, net->batch, out);
}

void eqs_crnn_add_param_grad(eqs_crnn *net, int32_t k, const eqs_real *u, const eqs_real *s_in,
                             eqs_real scale, eqs_grads *g, bool with_bias)
{
    eqs_conn_grad(&net->conn[k], u, s_in, net->batch, scale, g->w[k], with_bias ? g->b[k] : NULL);
}

bool eqs_crnn_has_back(const eqs_crnn *net, int32_t layer)
{
    return net->has_back[layer];
}

eqs_tile *eqs_crnn_tile_back(eqs_crnn *net, int32_t layer)
{
    EQS_ASSERT(net->has_back[layer]);
    return net->back[layer].tile;
}

/* The connection carrying the backward drive of layer k-1: W^b_k, or W_k when tied. */
static eqs_conn *back_conn(eqs_crnn *net, int32_t k)
{
    return net->has_back[k] ? &net->back[k] : &net->conn[k];
}

void eqs_crnn_back_index(eqs_crnn *net, int32_t k, const eqs_real *s_in)
{
    if (net->has_back[k] && net->back[k].type == EQS_LAYER_CONV)
        eqs_conn_forward(&net->back[k], s_in, net->batch, net->back_scratch.s[k]);
}

void eqs_crnn_back_backward_add(eqs_crnn *net, int32_t k, const eqs_real *u, eqs_real *out)
{
    eqs_conn_backward_add(back_conn(net, k), u, net->batch, out);
}

void eqs_crnn_back_gather(eqs_crnn *net, int32_t k, const eqs_real *v, eqs_real *out)
{
    eqs_conn_gather(back_conn(net, k), v, net->batch, out);
}

void eqs_crnn_add_back_grad(eqs_crnn *net, int32_t k, const eqs_real *u, const eqs_real *s_in,
                            eqs_real scale, eqs_grads *g)
{
    EQS_ASSERT(net->has_back[k] && g->wb[k]);
    eqs_conn_grad(&net->back[k], u, s_in, net->batch, scale, g->wb[k], NULL);
}

double eqs_crnn_alignment_deg(eqs_crnn *net, int32_t k)
{
    int64_t n = eqs_crnn_n_weights(net, k);
    eqs_real *wf = malloc(sizeof(eqs_real) * (size_t)n), *wb = malloc(sizeof(eqs_real) * (size_t)n);
    EQS_ASSERT(wf && wb);
    eqs_tile_read(net->conn[k].tile, wf);
    eqs_tile_read(back_conn(net, k)->tile, wb);
    double dot = 0, nf = 0, nb = 0;
    for (int64_t i = 0; i < n; i++) {
        dot += (double)wf[i] * (double)wb[i];
        nf += (double)wf[i] * (double)wf[i];
        nb += (double)wb[i] * (double)wb[i];
    }
    free(wf);
    free(wb);
    double c = nf > 0 && nb > 0 ? dot / sqrt(nf * nb) : 1;
    return acos(c > 1 ? 1 : (c < -1 ? -1 : c)) * 180.0 / 3.141592653589793;
}

/* scale * dPhi/dtheta at s for the dynamic layers k >= 1; a conv connection first re-evaluates
 * its forward drive to take the pooling indices of this state. */
static void add_dphi_deep(eqs_crnn *net, const eqs_state *s, eqs_real scale, eqs_grads *g)
{
    for (int32_t k = 1; k < net->n_dyn; k++) {
        if (net->conn[k].type == EQS_LAYER_CONV)
            eqs_conn_forward(&net->conn[k], s->s[k - 1], net->batch, net->pre_scratch.s[k]);
        eqs_crnn_add_param_grad(net, k, s->s[k], s->s[k - 1], scale, g, true);
    }
}

/* The first layer's presynaptic input (and its pooling indices) is the same x in both phases,
 * so its contrast is one product: (s_b - s_a) against x. */
void eqs_crnn_add_dphi_diff(eqs_crnn *net, const eqs_state *s_b, const eqs_state *s_a,
                            eqs_real scale, eqs_grads *g)
{
    eqs_state mb = masked_view(net, s_b, 0), ma = masked_view(net, s_a, 1);
    int64_t n1 = layer_elems(net, 0, net->batch);
    for (int64_t i = 0; i < n1; i++)
        net->diff0[i] = mb.s[0][i] - ma.s[0][i];
    eqs_crnn_add_param_grad(net, 0, net->diff0, net->x, scale, g, true);
    add_dphi_deep(net, &mb, scale, g);
    add_dphi_deep(net, &ma, -scale, g);
}
