/* ep.c — Equilibrium Propagation's gradient estimates (one-sided, random-sign, symmetric) in
 * the conventions of Laborieux et al.'s reference code: free phase of T1 steps from zero, then
 * T2 nudged steps from s* for each nudged phase, and the contrast of dPhi/dtheta between them.
 */
#include <stdlib.h>
#include <string.h>

#include "eqs/blas.h"
#include "eqs/learn.h"

struct eqs_ep {
    eqs_crnn *net;
    eqs_algorithm_config alg;
    eqs_state s_free, s_pos, s_neg, tmp;
    eqs_state diff, scratch; /* vector-field rules: s_b - s_a, and forward outputs */
    eqs_real *logits;        /* [max_batch, n_classes] */
    eqs_real *dl_dz;         /* [max_batch, n_classes] */
    bool have_neg;
};

void eqs_ep_destroy(eqs_ep *ep)
{
    if (!ep)
        return;
    eqs_state_free(&ep->s_free);
    eqs_state_free(&ep->s_pos);
    eqs_state_free(&ep->s_neg);
    eqs_state_free(&ep->tmp);
    eqs_state_free(&ep->diff);
    eqs_state_free(&ep->scratch);
    eqs_free(ep->logits);
    eqs_free(ep->dl_dz);
    free(ep);
}

eqs_status eqs_ep_create(eqs_ep **out, eqs_crnn *net, const eqs_algorithm_config *alg, eqs_err *err)
{
    if (!(alg->beta > 0) || alg->t1 < 1 || alg->t2 < 1)
        return eqs_err_set(err, EQS_EINVAL, "ep: need beta > 0, t1 >= 1, t2 >= 1 (got %g, %d, %d)",
                           alg->beta, alg->t1, alg->t2);
    bool asym = eqs_crnn_model(net)->feedback == EQS_FEEDBACK_ASYMMETRIC, dropout = false;
    for (int32_t k = 0; k < eqs_crnn_model(net)->n_layers; k++)
        dropout = dropout || eqs_crnn_model(net)->layers[k].dropout > 0;
    if (dropout && alg->rule != EQS_RULE_EP)
        return eqs_err_set(err, EQS_EINVAL,
                           "ep: dropout is implemented for EP's own rule and BPTT, not %s",
                           eqs_rule_name(alg->rule));
    if (eqs_crnn_n_local(net) > 0 &&
        (alg->estimator != EQS_EST_SYMMETRIC || alg->rule != EQS_RULE_EP))
        return eqs_err_set(err, EQS_EINVAL,
                           "ep: local error signals need the symmetric estimate and rule ep (got "
                           "%s, %s)",
                           eqs_estimator_name(alg->estimator), eqs_rule_name(alg->rule));
    if ((alg->rule != EQS_RULE_EP) != asym)
        return eqs_err_set(err, EQS_EINVAL, "ep: rule %s needs %s feedback",
                           eqs_rule_name(alg->rule), asym ? "symmetric" : "asymmetric");
    eqs_ep *ep = calloc(1, sizeof *ep);
    if (!ep)
        return eqs_err_set(err, EQS_ENOMEM, "ep: out of memory");
    ep->net = net;
    ep->alg = *alg;
    size_t n = (size_t)eqs_crnn_max_batch(net) * (size_t)eqs_crnn_n_classes(net);
    eqs_status st = eqs_state_alloc(net, &ep->s_free, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &ep->s_pos, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &ep->s_neg, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &ep->tmp, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &ep->diff, err);
    if (st == EQS_OK)
        st = eqs_state_alloc(net, &ep->scratch, err);
    if (st == EQS_OK) {
        ep->logits = eqs_calloc(n, sizeof(eqs_real), err);
        ep->dl_dz = eqs_calloc(n, sizeof(eqs_real), err);
        st = ep->logits && ep->dl_dz ? EQS_OK : EQS_ENOMEM;
    }
    if (st != EQS_OK) {
        eqs_ep_destroy(ep);
        return st;
    }
    *out = ep;
    return EQS_OK;
}

const eqs_state *eqs_ep_state_free(const eqs_ep *ep)
{
    return &ep->s_free;
}

const eqs_state *eqs_ep_state_pos(const eqs_ep *ep)
{
    return &ep->s_pos;
}

const eqs_state *eqs_ep_state_neg(const eqs_ep *ep)
{
    return ep->have_neg ? &ep->s_neg : NULL;
}

/* Adds scale * sum_b dl/dz_b (x) s_D,b to the readout's gradient (weights and bias). */
static void add_readout_grad(eqs_ep *ep, const eqs_state *s, eqs_real scale, eqs_grads *g)
{
    eqs_crnn *net = ep->net;
    int32_t last = eqs_crnn_n_layers(net) - 1, d = eqs_crnn_n_dynamic(net) - 1;
    eqs_crnn_logits(net, s, ep->logits);
    eqs_crnn_loss_grad(net, ep->logits, ep->dl_dz);
    eqs_crnn_add_param_grad(net, last, ep->dl_dz, eqs_crnn_masked(net, d, s->s[d], 0), scale, g,
                            true);
}

static void nudged_phase(eqs_ep *ep, eqs_state *s, eqs_real beta)
{
    eqs_crnn_set_phase(ep->net, EQS_PHASE_NUDGE);
    eqs_state_copy(ep->net, s, &ep->s_free, eqs_crnn_batch(ep->net));
    eqs_crnn_relax(ep->net, s, &ep->tmp, ep->alg.t2, beta);
}

/* Runs T1 steps from zero; reports the free steady state's loss and accuracy. */
static void free_phase(eqs_ep *ep, double *loss_sum, int32_t *n_correct)
{
    eqs_crnn *net = ep->net;
    eqs_crnn_set_phase(net, EQS_PHASE_FREE);
    eqs_state_zero(net, &ep->s_free, eqs_crnn_batch(net));
    eqs_crnn_relax(net, &ep->s_free, &ep->tmp, ep->alg.t1, 0);
    if (loss_sum || n_correct) {
        eqs_crnn_logits(net, &ep->s_free, ep->logits);
        double l = eqs_crnn_loss_grad(net, ep->logits, ep->dl_dz);
        if (loss_sum)
            *loss_sum = l;
        if (n_correct)
            *n_correct = eqs_crnn_n_correct(net, ep->logits);
    }
}

static void state_diff(const eqs_crnn *net, eqs_state *d, const eqs_state *b, const eqs_state *a)
{
    for (int32_t k = 0; k < eqs_crnn_n_dynamic(net); k++)
        for (int64_t i = 0; i < (int64_t)eqs_crnn_batch(net) * eqs_crnn_size(net, k + 1); i++)
            d->s[k][i] = b->s[k][i] - a->s[k][i];
}

/* The vector-field rule (Laborieux eqs. 41-42): scale * dF/dtheta(s*)^T (s_b - s_a). Forward
 * weights: the state difference against the free presynaptic state, at the free state's
 * pooling indices; backward weights W^b_k: the free state s*_k against the difference of
 * layer k-1, at the backward convolution's indices from s*_{k-1}. */
static void add_vf_contrast(eqs_ep *ep, const eqs_state *s_b, const eqs_state *s_a, eqs_real scale,
                            eqs_grads *g)
{
    eqs_crnn *net = ep->net;
    const eqs_state *s0 = &ep->s_free;
    state_diff(net, &ep->diff, s_b, s_a);
    for (int32_t k = 0; k < eqs_crnn_n_dynamic(net); k++) {
        if (k > 0)
            eqs_crnn_forward(net, k, s0->s[k - 1], ep->scratch.s[k]);
        const eqs_real *pre = k > 0 ? s0->s[k - 1] : eqs_crnn_input(net);
        eqs_crnn_add_param_grad(net, k, ep->diff.s[k], pre, scale, g, true);
        if (k > 0 && eqs_crnn_has_back(net, k)) {
            eqs_crnn_back_index(net, k, s0->s[k - 1]);
            eqs_crnn_add_back_grad(net, k, s0->s[k], ep->diff.s[k - 1], scale, g);
        }
    }
}

/* Kolen-Pollack VF (eqs. 43-44): the Hebbian contrast taken once with the forward
 * convolution's pooling indices and once with the backward one's, averaged, applied to both
 * W_k and W^b_k (for dense layers the two are equal and this is EP's own contrast). */
static void add_kp_vf_contrast(eqs_ep *ep, const eqs_state *s_b, const eqs_state *s_a,
                               eqs_real scale, eqs_grads *g)
{
    eqs_crnn *net = ep->net;
    eqs_crnn_add_dphi_diff(net, s_b, s_a, scale, g);
    for (int32_t k = 1; k < eqs_crnn_n_dynamic(net); k++) {
        if (!eqs_crnn_has_back(net, k))
            continue;
        eqs_crnn_back_index(net, k, s_b->s[k - 1]);
        eqs_crnn_add_back_grad(net, k, s_b->s[k], s_b->s[k - 1], scale, g);
        eqs_crnn_back_index(net, k, s_a->s[k - 1]);
        eqs_crnn_add_back_grad(net, k, s_a->s[k], s_a->s[k - 1], -scale, g);
        for (int64_t i = 0; i < eqs_crnn_n_weights(net, k); i++)
            g->w[k][i] = g->wb[k][i] = (eqs_real)0.5 * (g->w[k][i] + g->wb[k][i]);
    }
}

void eqs_ep_estimate(eqs_ep *ep, int sign, eqs_grads *g, double *loss_sum, int32_t *n_correct)
{
    eqs_crnn *net = ep->net;
    EQS_ASSERT(sign == 1 || sign == -1);
    EQS_ASSERT(sign == 1 || ep->alg.estimator == EQS_EST_RANDOM_SIGN);
    free_phase(ep, loss_sum, n_correct);

    eqs_real beta_b = (eqs_real)(sign * ep->alg.beta), beta_a = 0;
    nudged_phase(ep, &ep->s_pos, beta_b);
    const eqs_state *s_a = &ep->s_free;
    ep->have_neg = ep->alg.estimator == EQS_EST_SYMMETRIC;
    if (ep->have_neg) {
        beta_a = -beta_b;
        nudged_phase(ep, &ep->s_neg, beta_a);
        s_a = &ep->s_neg;
    }

    /* the reads below (readout logits, pooling indices) belong to the update computation */
    eqs_crnn_set_phase(net, EQS_PHASE_UPDATE);
    eqs_real denom = (beta_b - beta_a) * (eqs_real)eqs_crnn_batch(net);
    eqs_grads_zero(net, g);
    if (ep->alg.rule == EQS_RULE_VF)
        add_vf_contrast(ep, &ep->s_pos, s_a, -1 / denom, g);
    else if (ep->alg.rule == EQS_RULE_KP_VF)
        add_kp_vf_contrast(ep, &ep->s_pos, s_a, -1 / denom, g);
    else
        eqs_crnn_add_dphi_diff(net, &ep->s_pos, s_a, -1 / denom, g);
    if (eqs_crnn_model(net)->readout == EQS_READOUT_SOFTMAX) {
        add_readout_grad(ep, &ep->s_pos, beta_b / denom, g);
        if (beta_a != 0)
            add_readout_grad(ep, s_a, -beta_a / denom, g);
    }
    /* trained local readouts: the same readout rule, the mean of dl_i/dP_i at s+ and s- */
    for (int32_t i = 0; i < eqs_crnn_n_local(net); i++) {
        if (!g->p[i])
            continue;
        eqs_crnn_local_add_p_grad(net, i, &ep->s_pos, beta_b / denom, g->p[i]);
        eqs_crnn_local_add_p_grad(net, i, s_a, -beta_a / denom, g->p[i]);
    }
}
