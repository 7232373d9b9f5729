/* conn.h — one connection of the CRNN, between state k-1 (or the input) and state k, as the
 * primitive function sees it: Phi_k = s_k . F_k(s_{k-1}) with
 *     dense: F(s) = W s + b
 *     conv:  F(s) = P(W * s + b)   (stride-1 cross-correlation, per-channel bias, pooling P)
 * Every operation the dynamics, EP and BPTT need is one of four, all through the tile:
 *     forward   F(s)                     records the pooling indices of this evaluation
 *     backward  B(u) = d(u . F(s))/ds    at the recorded indices (the transposed convolution
 *                                        through unpooling, Laborieux eq. 27)
 *     gather    G(v) = P_idx(W * v)      the adjoint of B (BPTT through the backward drive)
 *     grad      d(u . F(s))/dW, d/db     at the recorded indices
 * Internal to sim/net. */
#ifndef EQS_NET_CONN_H
#define EQS_NET_CONN_H

#include "conv.h"

#include "eqs/xbar.h"

typedef struct eqs_conn {
    eqs_layer_type type;
    eqs_tile *tile;      /* dense [n_out, n_in]; conv [C_out, C_in*k*k] */
    eqs_real *bias;      /* [n_bias]: units (dense) or channels (conv) */
    int32_t n_in, n_out; /* flat sizes of the input and output states */
    int32_t n_bias;
    int32_t max_batch;
    eqs_conv_geom geom; /* conv only */
    int32_t *table;     /* conv: the patch table of eqs_conv_table_build */
    eqs_real *cols;     /* conv: [max_batch*Hc*Wc, C_in*k*k] */
    eqs_real *rows;     /* conv: [max_batch*Hc*Wc, C_out] */
    eqs_real *img;      /* conv: [max_batch, C_out, Hc, Wc] */
    int32_t *idx;       /* conv: [max_batch, C_out, Ho, Wo] argmax of the last forward */
} eqs_conn;

/* c_in/h_in/w_in: the input's shape (a dense input is n x 1 x 1). hw NULL: an ideal tile;
 * else an analog tile of that hardware whose random streams are named by (seed, tile_id). */
eqs_status eqs_conn_init(eqs_conn *c, const eqs_layer_config *l, int32_t c_in, int32_t h_in,
                         int32_t w_in, int32_t max_batch, const eqs_hw_config *hw, uint64_t seed,
                         uint32_t tile_id, eqs_err *err);
void eqs_conn_fini(eqs_conn *c);

void eqs_conn_forward(eqs_conn *c, const eqs_real *s_in, int32_t batch, eqs_real *out);
/* F(s_in) again for the same s_in as the last forward: a fresh read of the array (the static
 * input's drive in every relaxation step; see eqs_tile_mvm_again). */
void eqs_conn_forward_again(eqs_conn *c, int32_t batch, eqs_real *out);
/* Charges the tile for a forward read that the caller reuses instead (an exact tile). */
void eqs_conn_charge_forward(eqs_conn *c, int32_t batch);
void eqs_conn_gather(eqs_conn *c, const eqs_real *v, int32_t batch, eqs_real *out);
void eqs_conn_backward_add(eqs_conn *c, const eqs_real *u, int32_t batch, eqs_real *out);
/* gw [tile shape] += scale * d(u . F(s_in))/dW; gb += scale * sum of u per unit/channel when
 * gb is non-NULL. */
void eqs_conn_grad(eqs_conn *c, const eqs_real *u, const eqs_real *s_in, int32_t batch,
                   eqs_real scale, eqs_real *gw, eqs_real *gb);

#endif
