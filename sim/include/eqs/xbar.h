/* eqs/xbar.h — tiles: where every weight matrix lives (DESIGN.md, "the tile").
 *
 * The network code never touches weights directly; it asks a tile for products with the matrix
 * W [n_out, n_in] and hands it updates. Two families implement the same interface: the ideal
 * (float) tile below, and the analog crossbar tile of differential device pairs (later). All
 * buffers are row-major and batched: x [batch, n_in], y [batch, n_out].
 *
 *     eqs_tile *t;
 *     eqs_tile_create_ideal(&t, 512, 784, &err);
 *     eqs_tile_mvm(t, x, 50, y, false);       // y = x W^T
 *     eqs_tile_update_outer(t, a, x, 50, -lr); // W -= lr * sum_b a_b x_b^T
 *     eqs_tile_destroy(t);
 */
#ifndef EQS_XBAR_H
#define EQS_XBAR_H

#include <stdbool.h>

#include "eqs/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eqs_tile eqs_tile;

/* Ideal tile: float weights, OpenBLAS GEMM. *out owned by the caller (eqs_tile_destroy). */
eqs_status eqs_tile_create_ideal(eqs_tile **out, int32_t n_out, int32_t n_in, eqs_err *err);
void eqs_tile_destroy(eqs_tile *t); /* NULL-safe */

int32_t eqs_tile_n_out(const eqs_tile *t);
int32_t eqs_tile_n_in(const eqs_tile *t);
const char *eqs_tile_kind(const eqs_tile *t); /* "ideal", ... */

/* y [batch, n_out] = x [batch, n_in] W^T (+ y when accumulate). */
void eqs_tile_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool accumulate);
/* x [batch, n_in] = y [batch, n_out] W (+ x when accumulate): the transposed read of the same
 * array, the backward drive of the bidirectional CRNN. */
void eqs_tile_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool accumulate);
/* W += scale * sum_b a_b b_b^T with a [batch, n_out], b [batch, n_in]: a local outer-product
 * update, as a crossbar applies it. */
void eqs_tile_update_outer(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                           eqs_real scale);
/* W += dw [n_out, n_in]: a given update (the optimizer's output). */
void eqs_tile_update_delta(eqs_tile *t, const eqs_real *dw);
/* w [n_out, n_in] = the weights as the hardware holds them now. */
void eqs_tile_read(const eqs_tile *t, eqs_real *w);
/* Programs the weights to w [n_out, n_in] (initialisation, checkpoint load). */
void eqs_tile_write(eqs_tile *t, const eqs_real *w);

#ifdef __cplusplus
}
#endif
#endif
