/* bptt.c — backpropagation through time on the very dynamics EP uses (free phase, beta = 0),
 * hand-written reverse mode, truncatable to the last K steps: the yardstick for EP.
 *
 * Forward: T - K steps without a record, then K steps recording the states s^{T-K..T} and the
 * pre-activations h^{T-K+1..T}. Backward, for t = T..T-K+1 with ds = dL/ds^t:
 *     dh_k = ds_k * sigma'(h_k^t)
 *     dW_k += grad_k(dh_k, s_{k-1}^{t-1}) + grad_k(s_k^{t-1}, dh_{k-1})  (forward, backward drive)
 *     db_k += the sums of dh_k (forward drive only)
 *     dL/ds_k^{t-1} = B_{k+1}(dh_{k+1}) + G_k(dh_{k-1})
 * in the notation of eqs/net.h (dense: B(u) = u W, G(v) = v W^T, grad(u, s) = u^T s). The
 * pooling indices of step t are those of the forward drives from s^{t-1}: each backward step
 * re-evaluates them (eqs_crnn_forward on s^{t-1}) before using B, G and grad.
 */
#include <stdlib.h>
#include <string.h>

#include "eqs/blas.h"
#include "eqs/learn.h"

struct eqs_bptt {
    eqs_crnn *net;
    int32_t steps, window; /* T and K */
    eqs_state *hist;       /* [K+1]: s^{T-K} .. s^T */
    eqs_state *pre;        /* [K]:   h^{T-K+1} .. h^T */
    eqs_state ds, ds_prev, dh, tmp;
    eqs_real *logits, *dl_dz;
};

static void free_states(eqs_state *s, int32_t n)
{
    if (!s)
        return;
    for (int32_t i = 0; i < n; i++)
        eqs_state_free(&s[i]);
    free(s);
}

void eqs_bptt_destroy(eqs_bptt *bp)
{
    if (!bp)
        return;
    free_states(bp->hist, bp->window + 1);
    free_states(bp->pre, bp->window);
    eqs_state_free(&bp->ds);
    eqs_state_free(&bp->ds_prev);
    eqs_state_free(&bp->dh);
    eqs_state_free(&bp->tmp);
    eqs_free(bp->logits);
    eqs_free(bp->dl_dz);
    free(bp);
}

static eqs_status alloc_states(const eqs_crnn *net, eqs_state **out, int32_t n, eqs_err *err)
{
    EQS_ASSERT(n > 0);
    *out = calloc((size_t)n, sizeof **out);
    if (!*out)
        return eqs_err_set(err, EQS_ENOMEM, "bptt: out of memory");
    for (int32_t i = 0; i < n; i++) {
        eqs_status st = eqs_state_alloc(net, &(*out)[i], err);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

eqs_status eqs_bptt_create(eqs_bptt **out, eqs_crnn *net, int32_t steps, int32_t truncate,
                           eqs_err *err)
{
    if (steps < 1 || truncate < 0 || truncate > steps)
        return eqs_err_set(err, EQS_EINVAL, "bptt: need 1 <= T and 0 <= K <= T (got T=%d, K=%d)",
                           steps, truncate);
    eqs_bptt *bp = calloc(1, sizeof *bp);
    if (!bp)
        return eqs_err_set(err, EQS_ENOMEM, "bptt: out of memory");
    bp->net = net;
    bp->steps = steps;
    bp->window = truncate ? truncate : steps;
    size_t n = (size_t)eqs_crnn_max_batch(net) * (size_t)eqs_crnn_n_classes(net);
    eqs_status st = alloc_states(net, &bp->hist, bp->window + 1, err);
    if (st == EQS_OK)
        st = alloc_states(net, &bp->pre, bp->window, err);
    eqs_state *singles[] = {&bp->ds, &bp->ds_prev, &bp->dh, &bp->tmp};
    for (size_t i = 0; i < 4 && st == EQS_OK; i++)
        st = eqs_state_alloc(net, singles[i], err);
    if (st == EQS_OK) {
        bp->logits = eqs_calloc(n, sizeof(eqs_real), err);
        bp->dl_dz = eqs_calloc(n, sizeof(eqs_real), err);
        st = bp->logits && bp->dl_dz ? EQS_OK : EQS_ENOMEM;
    }
    if (st != EQS_OK) {
        eqs_bptt_destroy(bp);
        return st;
    }
    *out = bp;
    return EQS_OK;
}

const eqs_state *eqs_bptt_state_final(const eqs_bptt *bp)
{
    return &bp->hist[bp->window];
}

static void forward(eqs_bptt *bp)
{
    eqs_crnn *net = bp->net;
    eqs_state_zero(net, &bp->hist[0], eqs_crnn_batch(net));
    eqs_crnn_relax(net, &bp->hist[0], &bp->tmp, bp->steps - bp->window, 0);
    for (int32_t i = 0; i < bp->window; i++)
        eqs_crnn_step(net, &bp->hist[i], &bp->hist[i + 1], 0, &bp->pre[i]);
}

static int64_t elems(const eqs_crnn *net, int32_t k)
{
    return (int64_t)eqs_crnn_batch(net) * eqs_crnn_size(net, k + 1);
}

/* dL/ds^T (batch mean) from the loss at the final state; for a softmax readout also the
 * readout's own gradient, added to g. */
static void loss_at_final(eqs_bptt *bp, eqs_grads *g, double *loss_sum, int32_t *n_correct)
{
    eqs_crnn *net = bp->net;
    const eqs_state *s = &bp->hist[bp->window];
    int32_t b = eqs_crnn_batch(net), nc = eqs_crnn_n_classes(net);
    int32_t last = eqs_crnn_n_layers(net) - 1, d = eqs_crnn_n_dynamic(net) - 1;
    eqs_crnn_logits(net, s, bp->logits);
    double l = eqs_crnn_loss_grad(net, bp->logits, bp->dl_dz);
    if (loss_sum)
        *loss_sum = l;
    if (n_correct)
        *n_correct = eqs_crnn_n_correct(net, bp->logits);
    int64_t n = (int64_t)b * nc;
    for (int64_t i = 0; i < n; i++)
        bp->dl_dz[i] /= (eqs_real)b;
    for (int32_t k = 0; k < d; k++)
        memset(bp->ds.s[k], 0, sizeof(eqs_real) * (size_t)elems(net, k));
    if (eqs_crnn_model(net)->readout == EQS_READOUT_SOFTMAX) {
        eqs_crnn_add_param_grad(net, last, bp->dl_dz, eqs_crnn_masked(net, d, s->s[d], 0), 1, g,
                                true);
        memset(bp->ds.s[d], 0, sizeof(eqs_real) * (size_t)elems(net, d));
        eqs_crnn_backward_add(net, last, bp->dl_dz, bp->ds.s[d]);
    } else {
        memcpy(bp->ds.s[d], bp->dl_dz, sizeof(eqs_real) * (size_t)n);
    }
    eqs_crnn_mask_apply(net, d, bp->ds.s[d]); /* the loss sees M (.) s */
}

/* dh = ds * sigma'(h) for every dynamic layer (identity for a linear output). */
static void backprop_activation(eqs_bptt *bp, const eqs_state *pre)
{
    eqs_crnn *net = bp->net;
    const eqs_model_config *m = eqs_crnn_model(net);
    int32_t d = eqs_crnn_n_dynamic(net);
    for (int32_t k = 0; k < d; k++) {
        int64_t n = elems(net, k);
        if (k == d - 1 && m->readout == EQS_READOUT_LINEAR) {
            memcpy(bp->dh.s[k], bp->ds.s[k], sizeof(eqs_real) * (size_t)n);
            continue;
        }
        eqs_activation_grad(m->activation, pre->s[k], bp->dh.s[k], n);
        for (int64_t i = 0; i < n; i++)
            bp->dh.s[k][i] *= bp->ds.s[k][i];
    }
    for (int32_t k = 0; k < d; k++) /* h = M (.) (drives of M (.) s) */
        eqs_crnn_mask_apply(net, k, bp->dh.s[k]);
}

/* Re-evaluates the forward drives of step s_prev -> next so that every conv connection holds
 * the pooling indices that step used (dense connections have none). */
static void restore_indices(eqs_bptt *bp, const eqs_state *s_prev)
{
    eqs_crnn *net = bp->net;
    for (int32_t k = 1; k < eqs_crnn_n_dynamic(net); k++)
        if (eqs_crnn_model(net)->layers[k].type == EQS_LAYER_CONV) {
            const eqs_real *in = eqs_crnn_masked(net, k - 1, s_prev->s[k - 1], 0);
            eqs_crnn_forward(net, k, in, bp->tmp.s[k]);
            eqs_crnn_back_index(net, k, in);
        }
}

/* Adds one step's parameter gradients to acc, given dh and the step's input states s_prev. */
static void add_step_param_grads(eqs_bptt *bp, const eqs_state *s_prev, eqs_grads *acc)
{
    eqs_crnn *net = bp->net;
    for (int32_t k = 0; k < eqs_crnn_n_dynamic(net); k++) {
        const eqs_real *pre_syn =
            k == 0 ? eqs_crnn_input(net) : eqs_crnn_masked(net, k - 1, s_prev->s[k - 1], 0);
        const eqs_real *post = eqs_crnn_masked(net, k, s_prev->s[k], 0);
        eqs_crnn_add_param_grad(net, k, bp->dh.s[k], pre_syn, 1, acc, true);
        if (k > 0 && eqs_crnn_has_back(net, k))
            eqs_crnn_add_back_grad(net, k, post, bp->dh.s[k - 1], 1, acc);
        else if (k > 0)
            eqs_crnn_add_param_grad(net, k, post, bp->dh.s[k - 1], 1, acc, false);
    }
}

/* ds_prev_k = G_k(dh_{k-1}) + B_{k+1}(dh_{k+1}), then swap into ds. */
static void backprop_states(eqs_bptt *bp)
{
    eqs_crnn *net = bp->net;
    int32_t d = eqs_crnn_n_dynamic(net);
    for (int32_t k = 0; k < d; k++) {
        if (k > 0)
            eqs_crnn_back_gather(net, k, bp->dh.s[k - 1], bp->ds_prev.s[k]);
        else
            memset(bp->ds_prev.s[k], 0, sizeof(eqs_real) * (size_t)elems(net, k));
        if (k + 1 < d)
            eqs_crnn_backward_add(net, k + 1, bp->dh.s[k + 1], bp->ds_prev.s[k]);
        eqs_crnn_mask_apply(net, k, bp->ds_prev.s[k]);
    }
    eqs_state swap = bp->ds;
    bp->ds = bp->ds_prev;
    bp->ds_prev = swap;
}

static void add_grads(const eqs_crnn *net, eqs_grads *dst, const eqs_grads *src)
{
    for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
        eqs_axpy(eqs_crnn_n_weights(net, k), 1, src->w[k], dst->w[k]);
        eqs_axpy(eqs_crnn_n_bias(net, k), 1, src->b[k], dst->b[k]);
        if (src->wb[k])
            eqs_axpy(eqs_crnn_n_weights(net, k), 1, src->wb[k], dst->wb[k]);
    }
}

void eqs_bptt_grads(eqs_bptt *bp, eqs_grads *g, double *loss_sum, int32_t *n_correct,
                    eqs_bptt_trace *trace)
{
    eqs_crnn *net = bp->net;
    EQS_ASSERT(!trace || trace->n_steps <= bp->window);
    forward(bp);
    eqs_grads_zero(net, g);
    loss_at_final(bp, g, loss_sum, n_correct);
    for (int32_t j = 0; j < bp->window; j++) {
        int32_t i = bp->window - 1 - j; /* step from hist[i] to hist[i+1] */
        bool record = trace && j < trace->n_steps;
        if (trace && j <= trace->n_steps)
            eqs_state_copy(net, &trace->ds[j], &bp->ds, eqs_crnn_batch(net));
        backprop_activation(bp, &bp->pre[i]);
        restore_indices(bp, &bp->hist[i]);
        if (record) {
            eqs_grads_zero(net, &trace->dtheta[j]);
            add_step_param_grads(bp, &bp->hist[i], &trace->dtheta[j]);
            add_grads(net, g, &trace->dtheta[j]);
        } else {
            add_step_param_grads(bp, &bp->hist[i], g);
        }
        backprop_states(bp);
    }
    if (trace && trace->n_steps == bp->window)
        eqs_state_copy(net, &trace->ds[trace->n_steps], &bp->ds, eqs_crnn_batch(net));
}
