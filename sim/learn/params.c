/* params.c — a network's parameters as one .npy per tensor, named after the model's layers:
 * <layer>.weight [out, in] and <layer>.bias [out] (the names other tools cross-check with). */
#include <stdio.h>
#include <stdlib.h>

#include "eqs/io.h"
#include "eqs/learn.h"

static void param_path(char *out, size_t len, const char *dir, const char *layer, const char *what)
{
    snprintf(out, len, "%s/%s.%s.npy", dir, layer, what);
}

eqs_status eqs_params_save(eqs_crnn *net, const char *dir, eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    for (int32_t k = 0; k < m->n_layers; k++) {
        eqs_tile *tile = eqs_crnn_tile(net, k);
        int64_t shape[2] = {eqs_tile_n_out(tile), eqs_tile_n_in(tile)};
        eqs_real *w = eqs_calloc((size_t)(shape[0] * shape[1]), sizeof(eqs_real), err);
        if (!w)
            return EQS_ENOMEM;
        eqs_tile_read(tile, w);
        param_path(path, sizeof path, dir, m->layers[k].name, "weight");
        eqs_status st = eqs_npy_write_real(path, 2, shape, w, err);
        eqs_free(w);
        if (st != EQS_OK)
            return st;
        param_path(path, sizeof path, dir, m->layers[k].name, "bias");
        st = eqs_npy_write_real(path, 1, shape, eqs_crnn_bias(net, k), err);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

/* Reads every tensor first, so that a missing or misshapen file leaves the network as it was. */
eqs_status eqs_params_load(eqs_crnn *net, const char *dir, eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    eqs_real *w[EQS_MAX_LAYERS] = {0}, *b[EQS_MAX_LAYERS] = {0};
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    eqs_status st = EQS_OK;
    for (int32_t k = 0; k < m->n_layers && st == EQS_OK; k++) {
        eqs_tile *tile = eqs_crnn_tile(net, k);
        int64_t shape[2] = {eqs_tile_n_out(tile), eqs_tile_n_in(tile)}, got[2];
        param_path(path, sizeof path, dir, m->layers[k].name, "weight");
        st = eqs_npy_read_real(path, 2, shape, &w[k], got, err);
        if (st == EQS_OK) {
            param_path(path, sizeof path, dir, m->layers[k].name, "bias");
            st = eqs_npy_read_real(path, 1, shape, &b[k], got, err);
        }
    }
    for (int32_t k = 0; k < m->n_layers && st == EQS_OK; k++) {
        eqs_tile_write(eqs_crnn_tile(net, k), w[k]);
        for (int32_t i = 0; i < eqs_tile_n_out(eqs_crnn_tile(net, k)); i++)
            eqs_crnn_bias(net, k)[i] = b[k][i];
    }
    for (int32_t k = 0; k < m->n_layers; k++) {
        eqs_free(w[k]);
        eqs_free(b[k]);
    }
    return st;
}
