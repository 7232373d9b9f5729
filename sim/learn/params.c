/* params.c — a network's tensors as one .npy per tensor, named after the model's layers:
 * <prefix><layer>.weight ([out, in] dense, [C_out, C_in, k, k] conv) and <prefix><layer>.bias
 * — the names other tools cross-check with (PyTorch's state_dict, which has no bias entry for a
 * layer built with bias=False: neither do we for a model with `bias: false`). */
#include <stdio.h>
#include <string.h>

#include "eqs/io.h"
#include "eqs/learn.h"

static void tensor_path(char *out, size_t len, const char *dir, const char *prefix,
                        const char *layer, const char *what)
{
    snprintf(out, len, "%s/%s%s.%s.npy", dir, prefix, layer, what);
}

eqs_status eqs_tensors_save(eqs_crnn *net, const eqs_grads *g, const char *dir, const char *prefix,
                            eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 3 * EQS_NAME_LEN];
    for (int32_t k = 0; k < m->n_layers; k++) {
        int64_t shape[4], n_b = eqs_crnn_n_bias(net, k);
        int32_t ndim = eqs_crnn_weight_shape(net, k, shape);
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "weight");
        eqs_status st = eqs_npy_write_real(path, ndim, shape, g->w[k], err);
        if (st != EQS_OK)
            return st;
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "bias");
        if (eqs_crnn_has_bias(net, k) &&
            (st = eqs_npy_write_real(path, 1, &n_b, g->b[k], err)) != EQS_OK)
            return st;
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "weight_back");
        if (g->wb[k] && (st = eqs_npy_write_real(path, ndim, shape, g->wb[k], err)) != EQS_OK)
            return st;
    }
    return EQS_OK;
}

/* Reads one tensor of the expected shape into dst (n values). */
static eqs_status load_one(const char *path, int32_t ndim, const int64_t *shape, eqs_real *dst,
                           int64_t n, eqs_err *err)
{
    eqs_real *data;
    int64_t got[4];
    eqs_status st = eqs_npy_read_real(path, ndim, shape, &data, got, err);
    if (st != EQS_OK)
        return st;
    memcpy(dst, data, sizeof(eqs_real) * (size_t)n);
    eqs_free(data);
    return EQS_OK;
}

eqs_status eqs_tensors_load(eqs_crnn *net, eqs_grads *g, const char *dir, const char *prefix,
                            eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 3 * EQS_NAME_LEN];
    for (int32_t k = 0; k < m->n_layers; k++) {
        int64_t shape[4], n_b = eqs_crnn_n_bias(net, k);
        int32_t ndim = eqs_crnn_weight_shape(net, k, shape);
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "weight");
        eqs_status st = load_one(path, ndim, shape, g->w[k], eqs_crnn_n_weights(net, k), err);
        if (st != EQS_OK)
            return st;
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "bias");
        if (eqs_crnn_has_bias(net, k) &&
            (st = load_one(path, 1, &n_b, g->b[k], n_b, err)) != EQS_OK)
            return st;
        tensor_path(path, sizeof path, dir, prefix, m->layers[k].name, "weight_back");
        if (g->wb[k] &&
            (st = load_one(path, ndim, shape, g->wb[k], eqs_crnn_n_weights(net, k), err)) != EQS_OK)
            return st;
    }
    return EQS_OK;
}

/* The parameters as the tiles hold them, in a grads-shaped buffer. */
static void read_params(eqs_crnn *net, eqs_grads *p)
{
    for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
        eqs_tile_read(eqs_crnn_tile(net, k), p->w[k]);
        memcpy(p->b[k], eqs_crnn_bias(net, k), sizeof(eqs_real) * (size_t)eqs_crnn_n_bias(net, k));
        if (p->wb[k])
            eqs_tile_read(eqs_crnn_tile_back(net, k), p->wb[k]);
    }
}

eqs_status eqs_params_save(eqs_crnn *net, const char *dir, eqs_err *err)
{
    eqs_grads p;
    eqs_status st = eqs_grads_alloc(net, &p, err);
    if (st != EQS_OK)
        return st;
    read_params(net, &p);
    st = eqs_tensors_save(net, &p, dir, "", err);
    eqs_grads_free(&p);
    return st;
}

/* Reads every tensor first, so that a missing or misshapen file leaves the network as it was. */
eqs_status eqs_params_load(eqs_crnn *net, const char *dir, eqs_err *err)
{
    eqs_grads p;
    eqs_status st = eqs_grads_alloc(net, &p, err);
    if (st == EQS_OK && (st = eqs_tensors_load(net, &p, dir, "", err)) == EQS_OK)
        for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
            eqs_tile_write(eqs_crnn_tile(net, k), p.w[k]);
            if (p.wb[k])
                eqs_tile_write(eqs_crnn_tile_back(net, k), p.wb[k]);
            memcpy(eqs_crnn_bias(net, k), p.b[k],
                   sizeof(eqs_real) * (size_t)eqs_crnn_n_bias(net, k));
        }
    eqs_grads_free(&p);
    return st;
}
