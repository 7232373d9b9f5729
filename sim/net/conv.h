/* conv.h — the convolution kernels of the CRNN, as a crossbar computes them: the kernel
 * unrolled to a [C_out, C_in*k*k] matrix on a tile, each input patch unrolled (im2col) to a row,
 * one batched GEMM for all positions of all images. Pooling keeps its argmax indices so that
 * unpooling (P^-1) and pooling at fixed indices can use them. Internal to sim/net.
 *
 * Layouts: images [B, C, H, W] (C,H,W order, contiguous); patch rows [B*Hc*Wc, C*k*k] with the
 * row index (b, oh, ow) and the column index (c, i, j); conv outputs in "rows" form
 * [B*Hc*Wc, C_out] or image form [B, C_out, Hc, Wc].
 */
#ifndef EQS_NET_CONV_H
#define EQS_NET_CONV_H

#include "eqs/config.h"
#include "eqs/core.h"

typedef struct eqs_conv_geom {
    int32_t c_in, h_in, w_in;   /* input image */
    int32_t c_out, kernel, pad; /* convolution (stride 1) */
    int32_t h_conv, w_conv;     /* convolution output */
    eqs_pool pool;
    int32_t pool_size;    /* F (1 when pool is none) */
    int32_t h_out, w_out; /* after pooling */
} eqs_conv_geom;

/* Fills the derived sizes from the layer config and the input shape. */
void eqs_conv_geom_init(eqs_conv_geom *g, const eqs_layer_config *l, int32_t c_in, int32_t h_in,
                        int32_t w_in);
int64_t eqs_conv_patch_len(const eqs_conv_geom *g); /* C_in * k * k */
int64_t eqs_conv_positions(const eqs_conv_geom *g); /* Hc * Wc */

/* The patch table: for every entry of one image's cols [Hc*Wc, C_in*k*k], the offset of the
 * input pixel it copies, or -1 for zero padding. Built once per layer (eqs_conv_table_build,
 * table sized eqs_conv_positions * eqs_conv_patch_len), it turns im2col into one gather loop
 * and col2im into one scatter-add loop. */
void eqs_conv_table_build(const eqs_conv_geom *g, int32_t *table);

/* cols [B*Hc*Wc, C_in*k*k] from images x [B, C_in, H, W] (zero padding). */
void eqs_im2col(const eqs_conv_geom *g, const int32_t *table, const eqs_real *x, int32_t batch,
                eqs_real *cols);
/* x [B, C_in, H, W] += the patches of cols folded back (the adjoint of im2col). */
void eqs_col2im_add(const eqs_conv_geom *g, const int32_t *table, const eqs_real *cols,
                    int32_t batch, eqs_real *x);

/* [B*P, C] <-> [B, C, P] */
void eqs_rows_to_image(const eqs_real *rows, int32_t batch, int64_t positions, int32_t channels,
                       eqs_real *img);
void eqs_image_to_rows(const eqs_real *img, int32_t batch, int64_t positions, int32_t channels,
                       eqs_real *rows);

/* Pooling of conv [B, C_out, Hc, Wc] into out [B, C_out, Ho, Wo]. Max pooling writes the flat
 * index (within the Hc*Wc plane) of each window's maximum into idx; ties go to the first
 * maximum in row-major order. Average pooling ignores idx. With pool none, a copy. */
void eqs_pool_forward(const eqs_conv_geom *g, const eqs_real *conv, int32_t batch, eqs_real *out,
                      int32_t *idx);
/* Pooling at given indices (max: gather conv[idx]; avg: the mean, as forward). */
void eqs_pool_at(const eqs_conv_geom *g, const eqs_real *conv, int32_t batch, const int32_t *idx,
                 eqs_real *out);
/* P^-1: conv-shaped [B, C_out, Hc, Wc] = u [B, C_out, Ho, Wo] placed at idx (max), spread as
 * u/F^2 (avg), copied (none); zeros elsewhere. The adjoint of eqs_pool_at. */
void eqs_unpool(const eqs_conv_geom *g, const eqs_real *u, int32_t batch, const int32_t *idx,
                eqs_real *conv);

#endif
