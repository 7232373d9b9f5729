/* gdu.c — the GDU check of Ernoult et al. (2019): EP's per-step updates in the nudged phase
 * against BPTT's per-step gradients, step by step, for any CRNN.
 *
 * BPTT runs first (T1 free steps, back-propagated through the last K with a per-step trace);
 * then, from the free steady state s*, the +beta and -beta nudged phases advance side by side,
 * so that the symmetric update of step t is available at step t without storing either
 * trajectory. Only the RelMSE sums and the traces of a few sampled elements are kept.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/learn.h"

/* Traced groups: neurons and weights (EQS_GDU_NEURONS, EQS_GDU_WEIGHTS). */
#define N_TRACED 2

struct eqs_gdu {
    eqs_crnn *net;
    int32_t n_dyn, t1, steps, n_pick;
    double beta, free_residual;
    uint64_t seed;
    eqs_bptt *bp;
    eqs_bptt_trace trace; /* ds [K+1], dtheta [K] */
    eqs_grads g_bptt, dep_pos, dep_neg;
    eqs_state pos, pos_next, neg, neg_next;
    /* RelMSE sums; num is indexed by the EP series (EQS_GDU_EP_*), slot EQS_GDU_BPTT unused */
    double num[EQS_MAX_LAYERS][EQS_GDU_N_GROUPS][EQS_GDU_N_SERIES];
    double den[EQS_MAX_LAYERS][EQS_GDU_N_GROUPS];
    int32_t n_picked[EQS_MAX_LAYERS][N_TRACED];
    int64_t *pick;  /* [D][N_TRACED][n_pick] flat element indices */
    double *values; /* [D][N_TRACED][n_pick][EQS_GDU_N_SERIES][K] per-step values */
};

/* ---- creation ---------------------------------------------------------------------------- */

void eqs_gdu_destroy(eqs_gdu *g)
{
    if (!g)
        return;
    if (g->trace.ds)
        for (int32_t t = 0; t <= g->steps; t++)
            eqs_state_free(&g->trace.ds[t]);
    if (g->trace.dtheta)
        for (int32_t t = 0; t < g->steps; t++)
            eqs_grads_free(&g->trace.dtheta[t]);
    free(g->trace.ds);
    free(g->trace.dtheta);
    eqs_grads_free(&g->g_bptt);
    eqs_grads_free(&g->dep_pos);
    eqs_grads_free(&g->dep_neg);
    eqs_state_free(&g->pos);
    eqs_state_free(&g->pos_next);
    eqs_state_free(&g->neg);
    eqs_state_free(&g->neg_next);
    eqs_bptt_destroy(g->bp);
    free(g->pick);
    free(g->values);
    free(g);
}

static eqs_status alloc_trace(eqs_gdu *g, eqs_err *err)
{
    int32_t k = g->steps;
    g->trace.n_steps = k;
    g->trace.ds = calloc((size_t)k + 1, sizeof(eqs_state));
    g->trace.dtheta = calloc((size_t)k, sizeof(eqs_grads));
    if (!g->trace.ds || !g->trace.dtheta)
        return eqs_err_set(err, EQS_ENOMEM, "gducheck: out of memory for a %d-step trace", k);
    eqs_status st = EQS_OK;
    for (int32_t t = 0; t <= k && st == EQS_OK; t++)
        st = eqs_state_alloc(g->net, &g->trace.ds[t], err);
    for (int32_t t = 0; t < k && st == EQS_OK; t++)
        st = eqs_grads_alloc(g->net, &g->trace.dtheta[t], err);
    return st;
}

static eqs_status alloc_work(eqs_gdu *g, eqs_err *err)
{
    eqs_status st = alloc_trace(g, err);
    eqs_grads *grads[] = {&g->g_bptt, &g->dep_pos, &g->dep_neg};
    for (size_t i = 0; i < 3 && st == EQS_OK; i++)
        st = eqs_grads_alloc(g->net, grads[i], err);
    eqs_state *states[] = {&g->pos, &g->pos_next, &g->neg, &g->neg_next};
    for (size_t i = 0; i < 4 && st == EQS_OK; i++)
        st = eqs_state_alloc(g->net, states[i], err);
    if (st == EQS_OK)
        st = eqs_bptt_create(&g->bp, g->net, g->t1, g->steps, err);
    size_t n_slots = (size_t)g->n_dyn * N_TRACED * (size_t)g->n_pick;
    if (st == EQS_OK && n_slots > 0) {
        g->pick = calloc(n_slots, sizeof *g->pick);
        g->values = calloc(n_slots * EQS_GDU_N_SERIES * (size_t)g->steps, sizeof *g->values);
        if (!g->pick || !g->values)
            st = eqs_err_set(err, EQS_ENOMEM, "gducheck: out of memory for %zu traces", n_slots);
    }
    return st;
}

static eqs_status gdu_create(eqs_gdu **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                             int32_t n_pick, uint64_t seed, eqs_err *err)
{
    if (!(alg->beta > 0) || alg->t1 < 1 || alg->t2 < 1 || alg->t2 > alg->t1 || n_pick < 0)
        return eqs_err_set(err, EQS_EINVAL,
                           "gducheck: need beta > 0, 1 <= K <= T1 and n_pick >= 0 (got beta=%g, "
                           "K=%d, T1=%d, n_pick=%d)",
                           alg->beta, alg->t2, alg->t1, n_pick);
    eqs_gdu *g = calloc(1, sizeof *g);
    if (!g)
        return eqs_err_set(err, EQS_ENOMEM, "gducheck: out of memory");
    g->net = net;
    g->n_dyn = eqs_crnn_n_dynamic(net);
    g->t1 = alg->t1;
    g->steps = alg->t2;
    g->beta = alg->beta;
    g->n_pick = n_pick;
    g->seed = seed;
    eqs_status st = alloc_work(g, err);
    if (st != EQS_OK) {
        eqs_gdu_destroy(g);
        return st;
    }
    *out = g;
    return EQS_OK;
}

/* ---- element geometry -------------------------------------------------------------------- */

static int64_t group_size(const eqs_gdu *g, int32_t k, int group)
{
    if (group == EQS_GDU_NEURONS)
        return (int64_t)eqs_crnn_batch(g->net) * eqs_crnn_size(g->net, k + 1);
    return group == EQS_GDU_WEIGHTS ? eqs_crnn_n_weights(g->net, k) : eqs_crnn_n_bias(g->net, k);
}

/* BPTT's value of element i of (layer k, group) at step t. */
static double bptt_value(const eqs_gdu *g, int32_t k, int group, int32_t t, int64_t i)
{
    if (group == EQS_GDU_NEURONS)
        return (double)g->trace.ds[t].s[k][i];
    return (double)g->trace.dtheta[t].w[k][i];
}

static size_t slot(const eqs_gdu *g, int32_t k, int group, int32_t p)
{
    return ((size_t)k * N_TRACED + (size_t)group) * (size_t)g->n_pick + (size_t)p;
}

static double *values_of(const eqs_gdu *g, int32_t k, int group, int32_t p, int series)
{
    size_t s = slot(g, k, group, p) * EQS_GDU_N_SERIES + (size_t)series;
    return g->values + s * (size_t)g->steps;
}

/* ---- picking ----------------------------------------------------------------------------- */

static bool bptt_is_zero(const eqs_gdu *g, int32_t k, int group, int64_t i)
{
    for (int32_t t = 0; t < g->steps; t++)
        if (bptt_value(g, k, group, t, i) != 0)
            return false;
    return true;
}

static bool already_picked(const eqs_gdu *g, int32_t k, int group, int64_t i)
{
    for (int32_t p = 0; p < g->n_picked[k][group]; p++)
        if (g->pick[slot(g, k, group, p)] == i)
            return true;
    return false;
}

/* Draws distinct elements, first among those with a non-zero BPTT gradient (a flat line at
 * zero says nothing about the match), then, if too few of them turned up, among all. */
static void pick_group(eqs_gdu *g, int32_t k, int group, eqs_rng *r)
{
    int64_t n = group_size(g, k, group);
    int32_t want = (int64_t)g->n_pick < n ? g->n_pick : (int32_t)n;
    const int64_t tries = 200 * (int64_t)g->n_pick;
    g->n_picked[k][group] = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t a = 0; a < tries && g->n_picked[k][group] < want; a++) {
            int64_t i = (int64_t)(eqs_rng_uniform(r) * (double)n);
            if (already_picked(g, k, group, i) || (pass == 0 && bptt_is_zero(g, k, group, i)))
                continue;
            g->pick[slot(g, k, group, g->n_picked[k][group]++)] = i;
        }
}

static void pick_and_record_bptt(eqs_gdu *g)
{
    for (int32_t k = 0; k < g->n_dyn && g->n_pick > 0; k++) {
        eqs_rng r;
        eqs_rng_init(&r, g->seed, EQS_RNG_GDU_PICK, (uint32_t)k);
        for (int group = 0; group < N_TRACED; group++) {
            pick_group(g, k, group, &r);
            for (int32_t p = 0; p < g->n_picked[k][group]; p++) {
                double *v = values_of(g, k, group, p, EQS_GDU_BPTT);
                for (int32_t t = 0; t < g->steps; t++)
                    v[t] = bptt_value(g, k, group, t, g->pick[slot(g, k, group, p)]);
            }
        }
    }
}

/* ---- the nudged phases ------------------------------------------------------------------- */

/* T1 steps from zero into g->pos (the last one separately, to measure convergence), copied
 * into g->neg: both nudged phases start from s*. */
static void free_phase(eqs_gdu *g)
{
    eqs_crnn *net = g->net;
    int32_t b = eqs_crnn_batch(net);
    eqs_state_zero(net, &g->pos, b);
    eqs_crnn_relax(net, &g->pos, &g->pos_next, g->t1 - 1, 0);
    eqs_crnn_step(net, &g->pos, &g->pos_next, 0, NULL);
    double res = 0;
    for (int32_t k = 0; k < g->n_dyn; k++)
        for (int64_t i = 0; i < group_size(g, k, EQS_GDU_NEURONS); i++) {
            double d = fabs((double)g->pos_next.s[k][i] - (double)g->pos.s[k][i]);
            res = d > res ? d : res;
        }
    g->free_residual = res;
    eqs_state_copy(net, &g->pos, &g->pos_next, b);
    eqs_state_copy(net, &g->neg, &g->pos_next, b);
}

/* Squared errors of one element at one step, for the three EP series (pos, neg, sym) in e. */
static inline void add_errors(double e[3], double *den, double up, double un, double bt)
{
    double us = 0.5 * (up + un);
    e[0] += (up + bt) * (up + bt);
    e[1] += (un + bt) * (un + bt);
    e[2] += (us + bt) * (us + bt);
    *den += bt * bt;
}

static void add_sums(eqs_gdu *g, int32_t k, int group, const double e[3], double den)
{
    g->num[k][group][EQS_GDU_EP_POS] += e[0];
    g->num[k][group][EQS_GDU_EP_NEG] += e[1];
    g->num[k][group][EQS_GDU_EP_SYM] += e[2];
    g->den[k][group] += den;
}

/* Neuron updates straight from the states: (s_{t+1} - s_t) / (+-beta B). */
static void accumulate_neurons(eqs_gdu *g, int32_t t, double inv)
{
    for (int32_t k = 0; k < g->n_dyn; k++) {
        const eqs_real *pn = g->pos_next.s[k], *p0 = g->pos.s[k];
        const eqs_real *nn = g->neg_next.s[k], *n0 = g->neg.s[k], *bt = g->trace.ds[t].s[k];
        double e[3] = {0, 0, 0}, den = 0;
        for (int64_t i = 0; i < group_size(g, k, EQS_GDU_NEURONS); i++)
            add_errors(e, &den, inv * ((double)pn[i] - (double)p0[i]),
                       -inv * ((double)nn[i] - (double)n0[i]), (double)bt[i]);
        add_sums(g, k, EQS_GDU_NEURONS, e, den);
    }
}

static void accumulate_group(eqs_gdu *g, int32_t k, int group, const eqs_real *up,
                             const eqs_real *un, const eqs_real *bt)
{
    double e[3] = {0, 0, 0}, den = 0;
    for (int64_t i = 0; i < group_size(g, k, group); i++)
        add_errors(e, &den, (double)up[i], (double)un[i], (double)bt[i]);
    add_sums(g, k, group, e, den);
}

/* Parameter updates: dep_pos and dep_neg already hold Delta_EP_theta(+-beta, t). */
static void accumulate_params(eqs_gdu *g, int32_t t)
{
    const eqs_grads *bt = &g->trace.dtheta[t];
    for (int32_t k = 0; k < g->n_dyn; k++) {
        accumulate_group(g, k, EQS_GDU_WEIGHTS, g->dep_pos.w[k], g->dep_neg.w[k], bt->w[k]);
        accumulate_group(g, k, EQS_GDU_BIASES, g->dep_pos.b[k], g->dep_neg.b[k], bt->b[k]);
    }
}

/* Stores step t of the traced elements (before the states are swapped). */
static void record_step(eqs_gdu *g, int32_t t, double inv)
{
    for (int32_t k = 0; k < g->n_dyn; k++)
        for (int group = 0; group < N_TRACED; group++)
            for (int32_t p = 0; p < g->n_picked[k][group]; p++) {
                int64_t i = g->pick[slot(g, k, group, p)];
                double up, un;
                if (group == EQS_GDU_NEURONS) {
                    up = inv * ((double)g->pos_next.s[k][i] - (double)g->pos.s[k][i]);
                    un = -inv * ((double)g->neg_next.s[k][i] - (double)g->neg.s[k][i]);
                } else {
                    up = (double)g->dep_pos.w[k][i];
                    un = (double)g->dep_neg.w[k][i];
                }
                values_of(g, k, group, p, EQS_GDU_EP_POS)[t] = up;
                values_of(g, k, group, p, EQS_GDU_EP_NEG)[t] = un;
                values_of(g, k, group, p, EQS_GDU_EP_SYM)[t] = 0.5 * (up + un);
            }
}

static void swap_states(eqs_state *a, eqs_state *b)
{
    eqs_state t = *a;
    *a = *b;
    *b = t;
}

static void nudged_phases(eqs_gdu *g)
{
    eqs_crnn *net = g->net;
    eqs_real beta = (eqs_real)g->beta;
    double inv = 1 / (g->beta * eqs_crnn_batch(net)); /* EP updates are batch means, as BPTT's */
    for (int32_t t = 0; t < g->steps; t++) {
        eqs_crnn_step(net, &g->pos, &g->pos_next, beta, NULL);
        eqs_crnn_step(net, &g->neg, &g->neg_next, -beta, NULL);
        eqs_grads_zero(net, &g->dep_pos);
        eqs_grads_zero(net, &g->dep_neg);
        eqs_crnn_add_dphi_diff(net, &g->pos_next, &g->pos, (eqs_real)inv, &g->dep_pos);
        eqs_crnn_add_dphi_diff(net, &g->neg_next, &g->neg, (eqs_real)-inv, &g->dep_neg);
        accumulate_neurons(g, t, inv);
        accumulate_params(g, t);
        record_step(g, t, inv);
        swap_states(&g->pos, &g->pos_next);
        swap_states(&g->neg, &g->neg_next);
    }
}

static void gdu_run(eqs_gdu *g)
{
    memset(g->num, 0, sizeof g->num);
    memset(g->den, 0, sizeof g->den);
    eqs_bptt_grads(g->bp, &g->g_bptt, NULL, NULL, &g->trace);
    pick_and_record_bptt(g);
    free_phase(g);
    nudged_phases(g);
}

eqs_status eqs_gdu_check(eqs_gdu **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                         int32_t n_pick, uint64_t seed, eqs_err *err)
{
    eqs_status st = gdu_create(out, net, alg, n_pick, seed, err);
    if (st == EQS_OK)
        gdu_run(*out);
    return st;
}

/* ---- results ----------------------------------------------------------------------------- */

int32_t eqs_gdu_n_layers(const eqs_gdu *g)
{
    return g->n_dyn;
}

int32_t eqs_gdu_n_steps(const eqs_gdu *g)
{
    return g->steps;
}

double eqs_gdu_free_residual(const eqs_gdu *g)
{
    return g->free_residual;
}

void eqs_gdu_relmse_sums(const eqs_gdu *g, int32_t layer, eqs_gdu_group group,
                         eqs_gdu_series series, double *num, double *den)
{
    EQS_ASSERT(layer >= 0 && layer < g->n_dyn && series != EQS_GDU_BPTT);
    *num = g->num[layer][group][series];
    *den = g->den[layer][group];
}

double eqs_gdu_relmse(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, eqs_gdu_series series)
{
    double num, den;
    eqs_gdu_relmse_sums(g, layer, group, series, &num, &den);
    return den > 0 ? num / den : NAN;
}

int32_t eqs_gdu_n_picked(const eqs_gdu *g, int32_t layer, eqs_gdu_group group)
{
    EQS_ASSERT(layer >= 0 && layer < g->n_dyn && group < N_TRACED);
    return g->n_pick > 0 ? g->n_picked[layer][group] : 0;
}

void eqs_gdu_picked(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, int32_t p, int32_t *row,
                    int32_t *col)
{
    EQS_ASSERT(p >= 0 && p < eqs_gdu_n_picked(g, layer, group));
    int64_t i = g->pick[slot(g, layer, group, p)];
    /* neurons: (sample, unit); weights: (row, column) of the tile's [out, in] matrix */
    int32_t width =
        group == EQS_GDU_NEURONS
            ? eqs_crnn_size(g->net, layer + 1)
            : (int32_t)(eqs_crnn_n_weights(g->net, layer) / eqs_crnn_n_bias(g->net, layer));
    *row = (int32_t)(i / width);
    *col = (int32_t)(i % width);
}

const double *eqs_gdu_trace(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, int32_t p,
                            eqs_gdu_series series)
{
    EQS_ASSERT(p >= 0 && p < eqs_gdu_n_picked(g, layer, group));
    return values_of(g, layer, group, p, series);
}
