/* tile.c — the tile interface dispatch and the ideal (float, OpenBLAS) tile. */
#include <stdlib.h>
#include <string.h>

#include "tile_impl.h"

#include "eqs/blas.h"
#include "eqs/xbar.h"

int32_t eqs_tile_n_out(const eqs_tile *t)
{
    return t->n_out;
}

int32_t eqs_tile_n_in(const eqs_tile *t)
{
    return t->n_in;
}

const char *eqs_tile_kind(const eqs_tile *t)
{
    return t->ops->kind;
}

void eqs_tile_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool accumulate)
{
    t->ops->mvm(t, x, batch, y, accumulate);
}

void eqs_tile_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool accumulate)
{
    t->ops->mvm_t(t, y, batch, x, accumulate);
}

void eqs_tile_update_outer(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                           eqs_real scale)
{
    t->ops->update_outer(t, a, b, batch, scale);
}

void eqs_tile_update_delta(eqs_tile *t, const eqs_real *dw)
{
    t->ops->update_delta(t, dw);
}

void eqs_tile_read(const eqs_tile *t, eqs_real *w)
{
    t->ops->read(t, w);
}

void eqs_tile_write(eqs_tile *t, const eqs_real *w)
{
    t->ops->write(t, w);
}

void eqs_tile_destroy(eqs_tile *t)
{
    if (!t)
        return;
    t->ops->destroy(t);
    free(t);
}

/* ---- ideal tile: W [n_out, n_in] in eqs_real ------------------------------------------- */

static eqs_real *ideal_w(const eqs_tile *t)
{
    return (eqs_real *)t->impl;
}

static void ideal_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool acc)
{
    eqs_gemm(false, true, batch, t->n_out, t->n_in, 1, x, t->n_in, ideal_w(t), t->n_in, acc ? 1 : 0,
             y, t->n_out);
}

static void ideal_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool acc)
{
    eqs_gemm(false, false, batch, t->n_in, t->n_out, 1, y, t->n_out, ideal_w(t), t->n_in,
             acc ? 1 : 0, x, t->n_in);
}

static void ideal_update_outer(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                               eqs_real scale)
{
    eqs_gemm(true, false, t->n_out, t->n_in, batch, scale, a, t->n_out, b, t->n_in, 1, ideal_w(t),
             t->n_in);
}

static void ideal_update_delta(eqs_tile *t, const eqs_real *dw)
{
    eqs_axpy((int64_t)t->n_out * t->n_in, 1, dw, ideal_w(t));
}

static void ideal_read(const eqs_tile *t, eqs_real *w)
{
    memcpy(w, ideal_w(t), sizeof(eqs_real) * (size_t)t->n_out * (size_t)t->n_in);
}

static void ideal_write(eqs_tile *t, const eqs_real *w)
{
    memcpy(ideal_w(t), w, sizeof(eqs_real) * (size_t)t->n_out * (size_t)t->n_in);
}

static void ideal_destroy(eqs_tile *t)
{
    eqs_free(t->impl);
}

static const eqs_tile_ops ideal_ops = {
    .kind = "ideal",
    .mvm = ideal_mvm,
    .mvm_t = ideal_mvm_t,
    .update_outer = ideal_update_outer,
    .update_delta = ideal_update_delta,
    .read = ideal_read,
    .write = ideal_write,
    .destroy = ideal_destroy,
};

eqs_status eqs_tile_create_ideal(eqs_tile **out, int32_t n_out, int32_t n_in, eqs_err *err)
{
    if (n_out < 1 || n_in < 1)
        return eqs_err_set(err, EQS_EINVAL, "tile: size %d x %d must be positive", n_out, n_in);
    eqs_tile *t = calloc(1, sizeof *t);
    if (!t)
        return eqs_err_set(err, EQS_ENOMEM, "tile: out of memory");
    t->impl = eqs_calloc((size_t)n_out * (size_t)n_in, sizeof(eqs_real), err);
    if (!t->impl) {
        free(t);
        return EQS_ENOMEM;
    }
    t->ops = &ideal_ops;
    t->n_out = n_out;
    t->n_in = n_in;
    *out = t;
    return EQS_OK;
}
