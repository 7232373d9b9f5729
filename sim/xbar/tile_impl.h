/* tile_impl.h — the vtable behind eqs_tile; each tile family fills one. Not a public header. */
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
} eqs_tile_ops;

struct eqs_tile {
    const eqs_tile_ops *ops;
    int32_t n_out, n_in;
    void *impl; /* family state */
};

#endif
