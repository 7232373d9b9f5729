/* test_util.h — small builders shared by the numerical tests: models built in code, random
 * batches, relative errors. Header-only (static functions) to keep each test one file. */
#ifndef EQS_TEST_UTIL_H
#define EQS_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/learn.h"
#include "eqs/net.h"

/* A dense model with sizes[0] inputs and sizes[1..n_layers] layer widths. */
static inline eqs_model_config test_model(const int32_t *sizes, int32_t n_layers,
                                          eqs_activation act, eqs_loss loss, eqs_readout readout)
{
    eqs_model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "test");
    m.in_channels = 1;
    m.in_height = 1;
    m.in_width = sizes[0];
    m.n_features = sizes[0];
    m.n_layers = n_layers;
    for (int32_t k = 0; k < n_layers; k++) {
        m.layers[k].type = EQS_LAYER_DENSE;
        snprintf(m.layers[k].name, sizeof m.layers[k].name, "fc%d", k + 1);
        m.layers[k].n_out = sizes[k + 1];
    }
    m.activation = act;
    m.loss = loss;
    m.readout = readout;
    return m;
}

static inline void test_fill_uniform(eqs_real *x, int64_t n, double lo, double hi, uint64_t seed,
                                     uint32_t entity)
{
    eqs_rng r;
    eqs_rng_init(&r, seed, EQS_RNG_TEST_DATA, entity);
    for (int64_t i = 0; i < n; i++)
        x[i] = (eqs_real)(lo + (hi - lo) * eqs_rng_uniform(&r));
}

/* Sets every weight of layer k uniform on [lo, hi] and every bias to `bias`. */
static inline void test_set_layer(eqs_crnn *net, int32_t k, double lo, double hi, double bias,
                                  uint64_t seed)
{
    eqs_tile *t = eqs_crnn_tile(net, k);
    int64_t n = (int64_t)eqs_tile_n_out(t) * eqs_tile_n_in(t);
    eqs_real *w = eqs_calloc((size_t)n, sizeof(eqs_real), NULL);
    test_fill_uniform(w, n, lo, hi, seed, 100 + (uint32_t)k);
    eqs_tile_write(t, w);
    eqs_free(w);
    for (int32_t i = 0; i < eqs_tile_n_out(t); i++)
        eqs_crnn_bias(net, k)[i] = (eqs_real)bias;
}

static inline int64_t test_w_size(eqs_crnn *net, int32_t k)
{
    return eqs_crnn_n_weights(net, k);
}

/* ||a - b||^2 and ||b||^2 accumulated over every parameter of the model. */
static inline void test_grads_dist(eqs_crnn *net, const eqs_grads *a, const eqs_grads *b,
                                   double *diff2, double *ref2)
{
    *diff2 = *ref2 = 0;
    for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
        for (int64_t i = 0; i < test_w_size(net, k); i++) {
            double d = (double)a->w[k][i] - (double)b->w[k][i];
            *diff2 += d * d;
            *ref2 += (double)b->w[k][i] * (double)b->w[k][i];
        }
        for (int32_t i = 0; i < eqs_crnn_n_bias(net, k); i++) {
            double d = (double)a->b[k][i] - (double)b->b[k][i];
            *diff2 += d * d;
            *ref2 += (double)b->b[k][i] * (double)b->b[k][i];
        }
    }
}

/* The mean loss after `steps` free steps from zero on the net's current batch (it re-runs
 * set_input so that perturbed first-layer parameters take effect). */
static inline double test_loss_after(eqs_crnn *net, eqs_state *s, eqs_state *tmp, int32_t steps,
                                     eqs_real *logits, eqs_real *dl)
{
    int32_t b = eqs_crnn_batch(net);
    eqs_crnn_set_input(net, eqs_crnn_input(net), eqs_crnn_targets(net), b);
    eqs_state_zero(net, s, b);
    eqs_crnn_relax(net, s, tmp, steps, 0);
    eqs_crnn_logits(net, s, logits);
    return eqs_crnn_loss_grad(net, logits, dl) / b;
}

/* Least-squares slope of log(ys) against log(xs). */
static inline double test_fit_slope(const double *xs, const double *ys, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        mx += log(xs[i]) / n;
        my += log(ys[i]) / n;
    }
    for (int i = 0; i < n; i++) {
        sxy += (log(xs[i]) - mx) * (log(ys[i]) - my);
        sxx += (log(xs[i]) - mx) * (log(xs[i]) - mx);
    }
    return sxy / sxx;
}

/* Parameter tensors by part: 0 W_k, 1 b_k, 2 W^b_k (asymmetric feedback only). test_perturb adds
 * delta to element i through the tile (or the bias), for finite differences. */
static inline void test_perturb(eqs_crnn *net, int32_t k, int part, int64_t i, double delta)
{
    if (part == 1) {
        eqs_crnn_bias(net, k)[i] += delta;
        return;
    }
    eqs_tile *t = part == 0 ? eqs_crnn_tile(net, k) : eqs_crnn_tile_back(net, k);
    eqs_real *w = calloc((size_t)eqs_crnn_n_weights(net, k), sizeof(eqs_real));
    eqs_tile_read(t, w);
    w[i] += delta;
    eqs_tile_write(t, w);
    free(w);
}

static inline int64_t test_part_size(eqs_crnn *net, int32_t k, int part)
{
    if (part == 2 && !eqs_crnn_has_back(net, k))
        return 0;
    return part == 1 ? eqs_crnn_n_bias(net, k) : eqs_crnn_n_weights(net, k);
}

static inline double test_part_value(const eqs_grads *g, int32_t k, int part, int64_t i)
{
    return part == 0 ? g->w[k][i] : (part == 1 ? g->b[k][i] : g->wb[k][i]);
}

#endif
