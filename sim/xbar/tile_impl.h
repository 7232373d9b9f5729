/* tile_impl.h — the vtable behind eqs_tile; each tile family fills one. Not a public header.
 *
 * The dispatch functions in tile.c charge the ledger for what is the same in every family
 * (reads, conversions, MACs, update calls); a family adds what only it knows (pulses, refresh)
 * through tile_counts(). */
#ifndef EQS_TILE_IMPL_H
#define EQS_TILE_IMPL_H

#include "eqs/xbar.h"

typedef struct eqs_tile_ops {
    const char *kind;
    void (*mvm)(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool accumulate);
    void (*mvm_t)(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool accumulate);
    void (*update_outer)(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                         eqs_real scale);
    void (*update_delta)(eqs_tile *t, const eqs_real *dw);
    void (*read)(const eqs_tile *t, eqs_real *w);
    void (*write)(eqs_tile *t, const eqs_real *w);
    void (*destroy)(eqs_tile *t); /* frees the family's own state, not the struct */
    bool (*is_exact)(const eqs_tile *t);
    void (*mvm_again)(eqs_tile *t, int32_t batch, eqs_real *y, bool accumulate);
    void (*program_pulses)(eqs_tile *t, const int32_t *pulses);
    double (*dw_min)(const eqs_tile *t);
    void (*last_update)(const eqs_tile *t, eqs_real *dw);
    void (*advance_time)(eqs_tile *t, double dt_s);
    /* checkpoints (eqs_tile_state_save / _load): the family's state fields after the common
     * header and counters (room for max; returns how many), and the rebuild of everything that
     * derives from them once a load has written them */
    int (*state_fields)(eqs_tile *t, eqs_state_field *f, int max);
    void (*state_loaded)(eqs_tile *t);
} eqs_tile_ops;

struct eqs_tile {
    const eqs_tile_ops *ops;
    int32_t n_out, n_in;
    /* physical tiles along the outputs / the inputs: each has its own DACs and ADCs, so one
     * read converts every input grid_rows times and every output grid_cols times (ideal: 1 x 1) */
    int32_t grid_rows, grid_cols;
    eqs_phase phase;
    bool track_updates; /* eqs_tile_track_updates */
    eqs_tile_counts counts[EQS_PHASE_N];
    void *impl; /* family state */
};

/* The counters of the current phase. */
static inline eqs_tile_counts *tile_counts(eqs_tile *t)
{
    return &t->counts[t->phase];
}

#endif
