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
#include "eqs/hw.h"

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

/* ---- analog tiles ------------------------------------------------------------------------ */

/* Analog tile of differential device pairs described by hw (copied): W = (G+ - G-) / g_ref.
 * Matrices larger than hw->array.max_rows x max_cols are split into a grid of physical tiles
 * (their partial sums add digitally); every physical tile has its own converters and noise.
 * id names the tile's random streams (fabrication, pulses, reads): give every tile of a network
 * a distinct id. Reads are fresh each call: DAC, products, output-referred read noise, ADC. */
eqs_status eqs_tile_create_analog(eqs_tile **out, int32_t n_out, int32_t n_in,
                                  const eqs_hw_config *hw, uint64_t seed, uint32_t id,
                                  eqs_err *err);

/* True when a read returns exactly W x every time (ideal tile; analog tile without converters
 * or noise): then a caller may reuse a product while the input and the weights are unchanged.
 * It must still charge the read it skipped (eqs_tile_charge_mvm) — the chip reads every cycle. */
bool eqs_tile_is_exact(const eqs_tile *t);
/* y = a fresh read of the same input as this tile's last eqs_tile_mvm (the static input drive,
 * re-read every relaxation step): analog tiles reuse the noiseless product and its variance,
 * and draw new noise and conversions; the ideal tile recomputes it from that input, which the
 * caller must keep alive and unchanged in between. (+ y when accumulate.) */
void eqs_tile_mvm_again(eqs_tile *t, int32_t batch, eqs_real *y, bool accumulate);
/* Counts one read of batch inputs without computing it (see eqs_tile_is_exact). */
void eqs_tile_charge_mvm(eqs_tile *t, int32_t batch);

/* The pulse port: applies pulses [n_out, n_in] (signed; > 0 increases W) to the device pairs,
 * bypassing the dW -> pulse conversion (the digital update unit computes the counts). On an
 * ideal tile, W += pulses * dw_min_equiv where dw_min_equiv = eqs_tile_dw_min(t). */
void eqs_tile_program_pulses(eqs_tile *t, const int32_t *pulses);
/* The weight change of one nominal pulse (ideal tile: 0 — it has no pulses). */
double eqs_tile_dw_min(const eqs_tile *t);
/* dw [n_out, n_in] = the weight change the last update_outer / update_delta / program_pulses
 * actually achieved (device nonlinearity, noise, bounds, clipping included). An ideal tile only
 * knows it after eqs_tile_track_updates(t, true) (it then keeps a copy of every request, which
 * the training loop does not pay for by default); asking otherwise is a programming error. */
void eqs_tile_track_updates(eqs_tile *t, bool on);
void eqs_tile_last_update(const eqs_tile *t, eqs_real *dw);
/* Lets time pass on the devices (drift); ideal: nothing. */
void eqs_tile_advance_time(eqs_tile *t, double dt_s);

/* ---- action counters (DESIGN.md, cost ledger) -------------------------------------------- */

/* Which phase of learning the operations belong to; set by the algorithm. */
typedef enum eqs_phase {
    EQS_PHASE_INFER = 0,  /* evaluation */
    EQS_PHASE_FREE = 1,   /* free relaxation (or PEPITA's standard pass) */
    EQS_PHASE_NUDGE = 2,  /* nudged relaxation(s) (or PEPITA's modulated pass) */
    EQS_PHASE_UPDATE = 3, /* weight update */
    EQS_PHASE_N = 4
} eqs_phase;

typedef struct eqs_tile_counts {
    uint64_t mvm, mvm_t;             /* array reads (one per input vector), each direction */
    uint64_t dac_conv, adc_conv;     /* conversions (one per input / output element per read) */
    uint64_t macs;                   /* multiply-accumulates the array performed */
    uint64_t updates;                /* update calls (rank-b outer products or dW) */
    uint64_t pulses_up, pulses_down; /* programming pulses applied, by polarity */
    uint64_t refresh_pairs, refresh_pulses; /* pairs refreshed and pulses spent on them */
    double pulse_g_sum_sie;                 /* sum over pulses of the cell's G before the pulse
                                               (write energy V^2 G t) */
} eqs_tile_counts;

void eqs_tile_set_phase(eqs_tile *t, eqs_phase phase);
const eqs_tile_counts *eqs_tile_counts_get(const eqs_tile *t, eqs_phase phase);
void eqs_tile_counts_reset(eqs_tile *t);
const char *eqs_phase_name(eqs_phase p);

/* ---- checkpoints ---------------------------------------------------------------------------- */

/* Saves everything a tile's future results depend on that its weights do not say, written
 * atomically to path (docs/tile.md, "Checkpoints"): the action counters of every phase and, for
 * an analog tile, the per-cell state of both device arrays (conductances, fabrication spreads and
 * bounds, stuck/worn flags, endurance counters, PCM g0/age/nu) and the running offsets of its
 * random streams (reads, pulse rounding, each array's C2C). Caches are rebuilt on load, not
 * saved. A versioned binary file: header (magic "EQSTILE", format version, family, n_out, n_in,
 * grid, payload length, FNV-1a checksum), then named fields (name, element size, count, data). */
eqs_status eqs_tile_state_save(const eqs_tile *t, const char *path, eqs_err *err);
/* Restores a tile of the same family, size, seed and id from eqs_tile_state_save's file: it then
 * reads, updates and counts exactly as the saved tile would have. Validates the whole file before
 * changing anything: a truncated or corrupt file is EQS_EFORMAT, one written for another tile
 * (family, size, seed, id, device kind, fields) EQS_EMISMATCH; messages name path and field. */
eqs_status eqs_tile_state_load(eqs_tile *t, const char *path, eqs_err *err);

#ifdef __cplusplus
}
#endif
#endif
