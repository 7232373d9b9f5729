/* params.c — a network's tensors as one .npy per tensor, named after the model's layers:
 * <prefix><layer>.weight ([out, in] dense, [C_out, C_in, k, k] conv) and <prefix><layer>.bias
 * — the names other tools cross-check with (PyTorch's state_dict, which has no bias entry for a
 * layer built with bias=False: neither do we for a model with `bias: false`). */
#include <errno.h>
#include <inttypes.h>
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

/* Trained local readouts (weighted KD): le.<layer>.P.npy [n_classes, n_l]; fixed ones are
 * drawn again from the seed and have no file. */
static void local_p_path(char *out, size_t len, eqs_crnn *net, const char *dir, int32_t i)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    snprintf(out, len, "%s/le.%s.P.npy", dir, m->layers[eqs_crnn_local_layer(net, i)].name);
}

static int64_t local_p_shape(eqs_crnn *net, int32_t i, int64_t shape[2])
{
    shape[0] = eqs_crnn_n_classes(net);
    shape[1] = eqs_crnn_size(net, eqs_crnn_local_layer(net, i) + 1);
    return shape[0] * shape[1];
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
    for (int32_t i = 0; st == EQS_OK && i < eqs_crnn_n_local(net); i++) {
        char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
        int64_t shape[2];
        local_p_shape(net, i, shape);
        local_p_path(path, sizeof path, net, dir, i);
        if (eqs_crnn_local_trained(net, i))
            st = eqs_npy_write_real(path, 2, shape, eqs_crnn_local_p(net, i), err);
    }
    return st;
}

/* Reads every tensor first, so that a missing or misshapen file leaves the network as it was. */
eqs_status eqs_params_load(eqs_crnn *net, const char *dir, eqs_err *err)
{
    eqs_grads p;
    eqs_status st = eqs_grads_alloc(net, &p, err);
    if (st == EQS_OK)
        st = eqs_tensors_load(net, &p, dir, "", err);
    for (int32_t i = 0; st == EQS_OK && i < eqs_crnn_n_local(net); i++) {
        char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
        int64_t shape[2];
        if (eqs_crnn_local_trained(net, i)) {
            int64_t n = local_p_shape(net, i, shape);
            local_p_path(path, sizeof path, net, dir, i);
            st = load_one(path, 2, shape, p.p[i], n, err);
        }
    }
    for (int32_t i = 0; st == EQS_OK && i < eqs_crnn_n_local(net); i++)
        if (p.p[i])
            memcpy(eqs_crnn_local_p(net, i), p.p[i],
                   sizeof(eqs_real) * (size_t)eqs_crnn_n_classes(net) *
                       (size_t)eqs_crnn_size(net, eqs_crnn_local_layer(net, i) + 1));
    if (st == EQS_OK)
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

/* ---- the rest of a checkpoint's state: tiles and neuron counters --------------------------- */

#define NEURON_COUNTS_FORMAT "eqs.neuron_counts/1"

static void tile_state_path(char *out, size_t len, const char *dir, const char *layer, bool back)
{
    snprintf(out, len, "%s/%s.%s.tile", dir, layer, back ? "weight_back" : "weight");
}

eqs_status eqs_crnn_state_save(eqs_crnn *net, const char *dir, eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    for (int32_t k = 0; k < m->n_layers; k++)
        for (int b = 0; b < 2; b++) {
            if (b && !eqs_crnn_has_back(net, k))
                continue;
            tile_state_path(path, sizeof path, dir, m->layers[k].name, b);
            eqs_tile *t = b ? eqs_crnn_tile_back(net, k) : eqs_crnn_tile(net, k);
            eqs_status st = eqs_tile_state_save(t, path, err);
            if (st != EQS_OK)
                return st;
        }
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "# eqsim neuron counters per phase: relaxations settled steps neuron_updates\n"
                     "format: %s\n",
                     NEURON_COUNTS_FORMAT);
    for (int p = 0; p < EQS_PHASE_N; p++) {
        const eqs_neuron_counts *c = eqs_crnn_neuron_counts(net, (eqs_phase)p);
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "%s: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                      eqs_phase_name((eqs_phase)p), c->relaxations, c->settled, c->steps,
                      c->neuron_updates);
    }
    snprintf(path, sizeof path, "%s/%s", dir, EQS_NEURON_COUNTS_FILE);
    return eqs_write_file_atomic(path, text, (size_t)n, err);
}

/* Parses neurons.counts: the format line and one line per phase, each exactly once. */
static eqs_status read_neuron_counts(const char *path, eqs_neuron_counts *c, eqs_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path, strerror(errno));
    char line[256];
    bool format = false, seen[EQS_PHASE_N] = {false};
    int lineno = 0;
    eqs_status st = EQS_OK;
    while (st == EQS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char name[32], fmt[64];
        unsigned long long v[4];
        int used = 0;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "format: %63s %n", fmt, &used) == 1 && line[used] == '\0') {
            if (strcmp(fmt, NEURON_COUNTS_FORMAT) != 0)
                st = eqs_err_set(err, EQS_EFORMAT, "%s:%d: format %s; this eqsim reads %s", path,
                                 lineno, fmt, NEURON_COUNTS_FORMAT);
            format = true;
            continue;
        }
        int p = -1;
        if (sscanf(line, "%31[a-z]: %llu %llu %llu %llu %n", name, &v[0], &v[1], &v[2], &v[3],
                   &used) == 5 &&
            line[used] == '\0')
            for (int q = 0; q < EQS_PHASE_N; q++)
                if (strcmp(name, eqs_phase_name((eqs_phase)q)) == 0)
                    p = q;
        if (p < 0 || seen[p]) {
            st = eqs_err_set(err, EQS_EFORMAT,
                             "%s:%d: expected '<phase>: relaxations settled steps "
                             "neuron_updates' once per phase, got '%.*s'",
                             path, lineno, (int)strcspn(line, "\n"), line);
            break;
        }
        seen[p] = true;
        c[p] = (eqs_neuron_counts){v[0], v[1], v[2], v[3]};
    }
    fclose(f);
    if (st != EQS_OK)
        return st;
    if (!format)
        return eqs_err_set(err, EQS_EFORMAT, "%s: no 'format: %s' line (truncated?)", path,
                           NEURON_COUNTS_FORMAT);
    for (int p = 0; p < EQS_PHASE_N; p++)
        if (!seen[p])
            return eqs_err_set(err, EQS_EFORMAT, "%s: no line for phase '%s' (truncated?)", path,
                               eqs_phase_name((eqs_phase)p));
    return EQS_OK;
}

eqs_status eqs_crnn_state_load(eqs_crnn *net, const char *dir, eqs_err *err)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    eqs_neuron_counts c[EQS_PHASE_N];
    snprintf(path, sizeof path, "%s/%s", dir, EQS_NEURON_COUNTS_FILE);
    eqs_status st = read_neuron_counts(path, c, err);
    for (int32_t k = 0; st == EQS_OK && k < m->n_layers; k++)
        for (int b = 0; st == EQS_OK && b < 2; b++) {
            if (b && !eqs_crnn_has_back(net, k))
                continue;
            tile_state_path(path, sizeof path, dir, m->layers[k].name, b);
            st = eqs_tile_state_load(b ? eqs_crnn_tile_back(net, k) : eqs_crnn_tile(net, k), path,
                                     err);
        }
    if (st != EQS_OK)
        return st;
    for (int p = 0; p < EQS_PHASE_N; p++)
        eqs_crnn_neuron_counts_set(net, (eqs_phase)p, &c[p]);
    return EQS_OK;
}
