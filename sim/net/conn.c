/* conn.c — dense and convolutional connections of the CRNN (see conn.h): the forward drive,
 * the backward drive, its adjoint, and the Hebbian gradient, each a GEMM on the tile plus data
 * movement. Workspaces are allocated at init; nothing allocates per call. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "eqs/blas.h"

static int64_t conv_rows(const eqs_conn *c, int32_t batch)
{
    return (int64_t)batch * eqs_conv_positions(&c->geom);
}

eqs_status eqs_conn_init(eqs_conn *c, const eqs_layer_config *l, int32_t c_in, int32_t h_in,
                         int32_t w_in, int32_t max_batch, const eqs_hw_config *hw, uint64_t seed,
                         uint32_t tile_id, eqs_err *err)
{
    memset(c, 0, sizeof *c);
    c->type = l->type;
    c->max_batch = max_batch;
    c->n_in = c_in * h_in * w_in;
    c->n_out = l->n_out;
    c->n_bias = l->n_out;
    int32_t tile_out = l->n_out, tile_in = c->n_in;
    if (l->type == EQS_LAYER_CONV) {
        eqs_conv_geom_init(&c->geom, l, c_in, h_in, w_in);
        if (c->geom.h_out < 1 || c->geom.w_out < 1)
            return eqs_err_set(err, EQS_EINVAL, "layer %s: no output pixel left from a %dx%d input",
                               l->name, h_in, w_in);
        c->n_out = c->geom.c_out * c->geom.h_out * c->geom.w_out;
        tile_in = (int32_t)eqs_conv_patch_len(&c->geom);
        size_t rows = (size_t)conv_rows(c, max_batch);
        c->cols = eqs_calloc(rows * (size_t)tile_in, sizeof(eqs_real), err);
        c->rows = eqs_calloc(rows * (size_t)l->n_out, sizeof(eqs_real), err);
        c->img = eqs_calloc(rows * (size_t)l->n_out, sizeof(eqs_real), err);
        c->idx = eqs_calloc((size_t)max_batch * (size_t)c->n_out, sizeof(int32_t), err);
        c->table = eqs_calloc(rows / (size_t)max_batch * (size_t)tile_in, sizeof(int32_t), err);
        if (!c->cols || !c->rows || !c->img || !c->idx || !c->table)
            return EQS_ENOMEM;
        eqs_conv_table_build(&c->geom, c->table);
    }
    c->bias = eqs_calloc((size_t)c->n_bias, sizeof(eqs_real), err);
    if (!c->bias)
        return EQS_ENOMEM;
    if (!hw)
        return eqs_tile_create_ideal(&c->tile, tile_out, tile_in, err);
    eqs_status st = eqs_tile_create_analog(&c->tile, tile_out, tile_in, hw, seed, tile_id, err);
    return st == EQS_OK ? st : eqs_err_prefix(err, "layer %s", l->name);
}

void eqs_conn_fini(eqs_conn *c)
{
    eqs_tile_destroy(c->tile);
    eqs_free(c->bias);
    eqs_free(c->cols);
    eqs_free(c->rows);
    eqs_free(c->img);
    eqs_free(c->idx);
    eqs_free(c->table);
    memset(c, 0, sizeof *c);
}

static void add_bias_rows(eqs_real *y, const eqs_real *b, int64_t rows, int32_t n)
{
    for (int64_t r = 0; r < rows; r++)
        for (int32_t i = 0; i < n; i++)
            y[r * n + i] += b[i];
}

/* img [B, C_out, Hc, Wc] = W * v (+ b), through im2col and one GEMM on the tile. */
static void conv_image(eqs_conn *c, const eqs_real *v, int32_t batch, bool with_bias)
{
    int64_t rows = conv_rows(c, batch);
    eqs_im2col(&c->geom, c->table, v, batch, c->cols);
    eqs_tile_mvm(c->tile, c->cols, (int32_t)rows, c->rows, false);
    if (with_bias)
        add_bias_rows(c->rows, c->bias, rows, c->geom.c_out);
    eqs_rows_to_image(c->rows, batch, eqs_conv_positions(&c->geom), c->geom.c_out, c->img);
}

void eqs_conn_forward(eqs_conn *c, const eqs_real *s_in, int32_t batch, eqs_real *out)
{
    if (c->type == EQS_LAYER_DENSE) {
        eqs_tile_mvm(c->tile, s_in, batch, out, false);
        add_bias_rows(out, c->bias, batch, c->n_out);
        return;
    }
    conv_image(c, s_in, batch, true);
    eqs_pool_forward(&c->geom, c->img, batch, out, c->idx);
}

void eqs_conn_forward_again(eqs_conn *c, int32_t batch, eqs_real *out)
{
    if (c->type == EQS_LAYER_DENSE) {
        eqs_tile_mvm_again(c->tile, batch, out, false);
        add_bias_rows(out, c->bias, batch, c->n_out);
        return;
    }
    int64_t rows = conv_rows(c, batch);
    eqs_tile_mvm_again(c->tile, (int32_t)rows, c->rows, false);
    add_bias_rows(c->rows, c->bias, rows, c->geom.c_out);
    eqs_rows_to_image(c->rows, batch, eqs_conv_positions(&c->geom), c->geom.c_out, c->img);
    eqs_pool_forward(&c->geom, c->img, batch, out, c->idx);
}

void eqs_conn_charge_forward(eqs_conn *c, int32_t batch)
{
    int64_t rows = c->type == EQS_LAYER_DENSE ? batch : conv_rows(c, batch);
    eqs_tile_charge_mvm(c->tile, (int32_t)rows);
}

void eqs_conn_gather(eqs_conn *c, const eqs_real *v, int32_t batch, eqs_real *out)
{
    if (c->type == EQS_LAYER_DENSE) {
        eqs_tile_mvm(c->tile, v, batch, out, false);
        return;
    }
    conv_image(c, v, batch, false);
    eqs_pool_at(&c->geom, c->img, batch, c->idx, out);
}

/* rows [B*Hc*Wc, C_out] = P^-1(u) in rows form. */
static void unpool_rows(eqs_conn *c, const eqs_real *u, int32_t batch)
{
    eqs_unpool(&c->geom, u, batch, c->idx, c->img);
    eqs_image_to_rows(c->img, batch, eqs_conv_positions(&c->geom), c->geom.c_out, c->rows);
}

void eqs_conn_backward_add(eqs_conn *c, const eqs_real *u, int32_t batch, eqs_real *out)
{
    if (c->type == EQS_LAYER_DENSE) {
        eqs_tile_mvm_t(c->tile, u, batch, out, true);
        return;
    }
    unpool_rows(c, u, batch);
    eqs_tile_mvm_t(c->tile, c->rows, (int32_t)conv_rows(c, batch), c->cols, false);
    eqs_col2im_add(&c->geom, c->table, c->cols, batch, out);
}

static void add_column_sums(eqs_real *gb, const eqs_real *m, int64_t rows, int32_t n,
                            eqs_real scale)
{
    for (int64_t r = 0; r < rows; r++)
        for (int32_t i = 0; i < n; i++)
            gb[i] += scale * m[r * n + i];
}

void eqs_conn_grad(eqs_conn *c, const eqs_real *u, const eqs_real *s_in, int32_t batch,
                   eqs_real scale, eqs_real *gw, eqs_real *gb)
{
    int32_t n_out = eqs_tile_n_out(c->tile), n_in = eqs_tile_n_in(c->tile);
    if (c->type == EQS_LAYER_DENSE) {
        eqs_gemm(true, false, n_out, n_in, batch, scale, u, n_out, s_in, n_in, 1, gw, n_in);
        if (gb)
            add_column_sums(gb, u, batch, n_out, scale);
        return;
    }
    int64_t rows = conv_rows(c, batch);
    unpool_rows(c, u, batch);
    eqs_im2col(&c->geom, c->table, s_in, batch, c->cols);
    eqs_gemm(true, false, n_out, n_in, (int32_t)rows, scale, c->rows, n_out, c->cols, n_in, 1, gw,
             n_in);
    if (gb)
        add_column_sums(gb, c->rows, rows, n_out, scale);
}
