/* conv.c — im2col/col2im, layout transposes and pooling with indices for the conv CRNN.
 * Plain loops over contiguous memory: the FLOPs are in the GEMM on the tile, these move data. */
#include "conv.h"

#include <stdbool.h>
#include <string.h>

void eqs_conv_geom_init(eqs_conv_geom *g, const eqs_layer_config *l, int32_t c_in, int32_t h_in,
                        int32_t w_in)
{
    g->c_in = c_in;
    g->h_in = h_in;
    g->w_in = w_in;
    g->c_out = l->n_out;
    g->kernel = l->kernel;
    g->pad = l->padding;
    g->h_conv = h_in + 2 * l->padding - l->kernel + 1;
    g->w_conv = w_in + 2 * l->padding - l->kernel + 1;
    g->pool = l->pool;
    g->pool_size = l->pool == EQS_POOL_NONE ? 1 : l->pool_size;
    g->h_out = g->h_conv / g->pool_size;
    g->w_out = g->w_conv / g->pool_size;
}

int64_t eqs_conv_patch_len(const eqs_conv_geom *g)
{
    return (int64_t)g->c_in * g->kernel * g->kernel;
}

int64_t eqs_conv_positions(const eqs_conv_geom *g)
{
    return (int64_t)g->h_conv * g->w_conv;
}

void eqs_conv_table_build(const eqs_conv_geom *g, int32_t *table)
{
    int32_t k = g->kernel;
    int64_t len = eqs_conv_patch_len(g);
    for (int32_t oh = 0; oh < g->h_conv; oh++)
        for (int32_t ow = 0; ow < g->w_conv; ow++) {
            int32_t *row = table + ((int64_t)oh * g->w_conv + ow) * len;
            for (int32_t c = 0; c < g->c_in; c++)
                for (int32_t i = 0; i < k; i++)
                    for (int32_t j = 0; j < k; j++) {
                        int32_t h = oh + i - g->pad, w = ow + j - g->pad;
                        bool inside = h >= 0 && h < g->h_in && w >= 0 && w < g->w_in;
                        row[((int64_t)c * k + i) * k + j] =
                            inside ? (c * g->h_in + h) * g->w_in + w : -1;
                    }
        }
}

void eqs_im2col(const eqs_conv_geom *g, const int32_t *table, const eqs_real *x, int32_t batch,
                eqs_real *cols)
{
    int64_t img = (int64_t)g->c_in * g->h_in * g->w_in;
    int64_t per = eqs_conv_positions(g) * eqs_conv_patch_len(g);
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *src = x + b * img;
        eqs_real *dst = cols + b * per;
        for (int64_t t = 0; t < per; t++)
            dst[t] = table[t] >= 0 ? src[table[t]] : 0;
    }
}

void eqs_col2im_add(const eqs_conv_geom *g, const int32_t *table, const eqs_real *cols,
                    int32_t batch, eqs_real *x)
{
    int64_t img = (int64_t)g->c_in * g->h_in * g->w_in;
    int64_t per = eqs_conv_positions(g) * eqs_conv_patch_len(g);
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *src = cols + b * per;
        eqs_real *dst = x + b * img;
        for (int64_t t = 0; t < per; t++)
            if (table[t] >= 0)
                dst[table[t]] += src[t];
    }
}

void eqs_rows_to_image(const eqs_real *rows, int32_t batch, int64_t positions, int32_t channels,
                       eqs_real *img)
{
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *r = rows + (int64_t)b * positions * channels;
        eqs_real *o = img + (int64_t)b * positions * channels;
        for (int64_t p = 0; p < positions; p++)
            for (int32_t c = 0; c < channels; c++)
                o[c * positions + p] = r[p * channels + c];
    }
}

void eqs_image_to_rows(const eqs_real *img, int32_t batch, int64_t positions, int32_t channels,
                       eqs_real *rows)
{
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *in = img + (int64_t)b * positions * channels;
        eqs_real *r = rows + (int64_t)b * positions * channels;
        for (int32_t c = 0; c < channels; c++)
            for (int64_t p = 0; p < positions; p++)
                r[p * channels + c] = in[c * positions + p];
    }
}

/* ---- pooling ------------------------------------------------------------------------------ */

static int64_t n_planes(const eqs_conv_geom *g, int32_t batch)
{
    return (int64_t)batch * g->c_out;
}

static void max_pool_plane(const eqs_conv_geom *g, const eqs_real *in, eqs_real *out, int32_t *idx)
{
    int32_t f = g->pool_size;
    for (int32_t oh = 0; oh < g->h_out; oh++)
        for (int32_t ow = 0; ow < g->w_out; ow++) {
            int32_t best = oh * f * g->w_conv + ow * f;
            for (int32_t i = 0; i < f; i++)
                for (int32_t j = 0; j < f; j++) {
                    int32_t at = (oh * f + i) * g->w_conv + ow * f + j;
                    if (in[at] > in[best]) /* strict: ties keep the first in row-major order */
                        best = at;
                }
            out[oh * g->w_out + ow] = in[best];
            idx[oh * g->w_out + ow] = best;
        }
}

static void avg_pool_plane(const eqs_conv_geom *g, const eqs_real *in, eqs_real *out)
{
    int32_t f = g->pool_size;
    eqs_real inv = (eqs_real)1 / (eqs_real)(f * f);
    for (int32_t oh = 0; oh < g->h_out; oh++)
        for (int32_t ow = 0; ow < g->w_out; ow++) {
            eqs_real sum = 0;
            for (int32_t i = 0; i < f; i++)
                for (int32_t j = 0; j < f; j++)
                    sum += in[(oh * f + i) * g->w_conv + ow * f + j];
            out[oh * g->w_out + ow] = sum * inv;
        }
}

void eqs_pool_forward(const eqs_conv_geom *g, const eqs_real *conv, int32_t batch, eqs_real *out,
                      int32_t *idx)
{
    int64_t in_plane = eqs_conv_positions(g), out_plane = (int64_t)g->h_out * g->w_out;
    for (int64_t p = 0; p < n_planes(g, batch); p++) {
        const eqs_real *in = conv + p * in_plane;
        eqs_real *o = out + p * out_plane;
        if (g->pool == EQS_POOL_MAX)
            max_pool_plane(g, in, o, idx + p * out_plane);
        else if (g->pool == EQS_POOL_AVG)
            avg_pool_plane(g, in, o);
        else
            memcpy(o, in, sizeof(eqs_real) * (size_t)in_plane);
    }
}

void eqs_pool_at(const eqs_conv_geom *g, const eqs_real *conv, int32_t batch, const int32_t *idx,
                 eqs_real *out)
{
    if (g->pool != EQS_POOL_MAX) {
        eqs_pool_forward(g, conv, batch, out, NULL);
        return;
    }
    int64_t in_plane = eqs_conv_positions(g), out_plane = (int64_t)g->h_out * g->w_out;
    for (int64_t p = 0; p < n_planes(g, batch); p++)
        for (int64_t o = 0; o < out_plane; o++)
            out[p * out_plane + o] = conv[p * in_plane + idx[p * out_plane + o]];
}

void eqs_unpool(const eqs_conv_geom *g, const eqs_real *u, int32_t batch, const int32_t *idx,
                eqs_real *conv)
{
    int64_t in_plane = eqs_conv_positions(g), out_plane = (int64_t)g->h_out * g->w_out;
    if (g->pool == EQS_POOL_NONE) {
        memcpy(conv, u, sizeof(eqs_real) * (size_t)(n_planes(g, batch) * in_plane));
        return;
    }
    memset(conv, 0, sizeof(eqs_real) * (size_t)(n_planes(g, batch) * in_plane));
    int32_t f = g->pool_size;
    eqs_real inv = (eqs_real)1 / (eqs_real)(f * f);
    for (int64_t p = 0; p < n_planes(g, batch); p++) {
        eqs_real *c = conv + p * in_plane;
        const eqs_real *up = u + p * out_plane;
        if (g->pool == EQS_POOL_MAX) {
            for (int64_t o = 0; o < out_plane; o++)
                c[idx[p * out_plane + o]] += up[o];
            continue;
        }
        for (int32_t oh = 0; oh < g->h_out; oh++)
            for (int32_t ow = 0; ow < g->w_out; ow++)
                for (int32_t i = 0; i < f; i++)
                    for (int32_t j = 0; j < f; j++)
                        c[(oh * f + i) * g->w_conv + ow * f + j] = up[oh * g->w_out + ow] * inv;
    }
}
