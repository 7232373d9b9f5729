/* tile.c — the tile interface dispatch (with the action counters of the cost ledger) and the
 * ideal (float, OpenBLAS) tile. The analog family lives in analog.c. */
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

/* ---- the ledger: what one read costs, whichever family computes it ------------------------ */

/* A forward read: every physical tile converts its slice of the input (DAC) and its partial
 * sums (ADC), so a grid of R x C tiles converts each input R times and each output C times. */
static void charge_read(eqs_tile *t, int32_t batch)
{
    eqs_tile_counts *c = tile_counts(t);
    uint64_t b = (uint64_t)batch;
    c->mvm += b;
    c->dac_conv += b * (uint64_t)t->n_in * (uint64_t)t->grid_rows;
    c->adc_conv += b * (uint64_t)t->n_out * (uint64_t)t->grid_cols;
    c->macs += b * (uint64_t)t->n_in * (uint64_t)t->n_out;
}

static void charge_read_t(eqs_tile *t, int32_t batch)
{
    eqs_tile_counts *c = tile_counts(t);
    uint64_t b = (uint64_t)batch;
    c->mvm_t += b;
    c->dac_conv += b * (uint64_t)t->n_out * (uint64_t)t->grid_cols;
    c->adc_conv += b * (uint64_t)t->n_in * (uint64_t)t->grid_rows;
    c->macs += b * (uint64_t)t->n_in * (uint64_t)t->n_out;
}

void eqs_tile_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool accumulate)
{
    charge_read(t, batch);
    t->ops->mvm(t, x, batch, y, accumulate);
}

void eqs_tile_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool accumulate)
{
    charge_read_t(t, batch);
    t->ops->mvm_t(t, y, batch, x, accumulate);
}

void eqs_tile_mvm_again(eqs_tile *t, int32_t batch, eqs_real *y, bool accumulate)
{
    charge_read(t, batch);
    t->ops->mvm_again(t, batch, y, accumulate);
}

void eqs_tile_charge_mvm(eqs_tile *t, int32_t batch)
{
    charge_read(t, batch);
}

bool eqs_tile_is_exact(const eqs_tile *t)
{
    return t->ops->is_exact(t);
}

void eqs_tile_update_outer(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                           eqs_real scale)
{
    tile_counts(t)->updates++;
    t->ops->update_outer(t, a, b, batch, scale);
}

void eqs_tile_update_delta(eqs_tile *t, const eqs_real *dw)
{
    tile_counts(t)->updates++;
    t->ops->update_delta(t, dw);
}

void eqs_tile_program_pulses(eqs_tile *t, const int32_t *pulses)
{
    tile_counts(t)->updates++;
    t->ops->program_pulses(t, pulses);
}

double eqs_tile_dw_min(const eqs_tile *t)
{
    return t->ops->dw_min(t);
}

void eqs_tile_last_update(const eqs_tile *t, eqs_real *dw)
{
    t->ops->last_update(t, dw);
}

void eqs_tile_advance_time(eqs_tile *t, double dt_s)
{
    t->ops->advance_time(t, dt_s);
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

void eqs_tile_set_phase(eqs_tile *t, eqs_phase phase)
{
    EQS_ASSERT(phase >= 0 && phase < EQS_PHASE_N);
    t->phase = phase;
}

const eqs_tile_counts *eqs_tile_counts_get(const eqs_tile *t, eqs_phase phase)
{
    EQS_ASSERT(phase >= 0 && phase < EQS_PHASE_N);
    return &t->counts[phase];
}

void eqs_tile_counts_reset(eqs_tile *t)
{
    memset(t->counts, 0, sizeof t->counts);
}

const char *eqs_phase_name(eqs_phase p)
{
    static const char *const names[EQS_PHASE_N] = {"infer", "free", "nudge", "update"};
    return p >= 0 && p < EQS_PHASE_N ? names[p] : "?";
}

/* ---- ideal tile: W [n_out, n_in] in eqs_real ------------------------------------------- */

/* The last update is kept as what was asked (a copy of dW, or of a, b and the scale: a few
 * vectors), and last_update() recomputes it on demand: the float tile achieves exactly what it
 * is asked, and the training loop pays no extra pass over W for a query it rarely makes. */
typedef enum { LAST_NONE, LAST_DELTA, LAST_OUTER } last_kind;

typedef struct ideal_tile {
    eqs_real *w;      /* [n_out, n_in] */
    eqs_real *y_last; /* [cap_batch, n_out]: the last mvm's product (mvm_again) */
    int32_t cap_batch, last_batch;
    last_kind last;
    eqs_real *last_dw;         /* [n_out, n_in] once an update_delta came (allocated then) */
    eqs_real *last_a, *last_b; /* [cap_ab, n_out], [cap_ab, n_in] */
    int32_t cap_ab, last_ab_batch;
    eqs_real last_scale;
} ideal_tile;

static ideal_tile *ideal(const eqs_tile *t)
{
    return (ideal_tile *)t->impl;
}

/* Grows *buf to n elements when it is smaller (only when a larger batch arrives). */
static void grow(eqs_real **buf, size_t n_now, size_t n_new)
{
    if (n_new <= n_now && *buf)
        return;
    eqs_free(*buf);
    *buf = eqs_calloc(n_new, sizeof(eqs_real), NULL);
    EQS_ASSERT(*buf != NULL); /* out of memory mid-run: nothing sensible to return to */
}

static void ideal_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool acc)
{
    ideal_tile *s = ideal(t);
    if (batch > s->cap_batch) {
        grow(&s->y_last, 0, (size_t)batch * (size_t)t->n_out);
        s->cap_batch = batch;
    }
    size_t n = (size_t)batch * (size_t)t->n_out;
    eqs_gemm(false, true, batch, t->n_out, t->n_in, 1, x, t->n_in, s->w, t->n_in, 0, s->y_last,
             t->n_out);
    if (acc)
        eqs_axpy((int64_t)n, 1, s->y_last, y);
    else
        memcpy(y, s->y_last, sizeof(eqs_real) * n);
    s->last_batch = batch;
}

static void ideal_mvm_again(eqs_tile *t, int32_t batch, eqs_real *y, bool acc)
{
    ideal_tile *s = ideal(t);
    if (batch != s->last_batch)
        eqs_abort(__FILE__, __LINE__, "eqs_tile_mvm_again: batch %d, but the last mvm had %d",
                  batch, s->last_batch);
    size_t n = (size_t)batch * (size_t)t->n_out;
    if (acc)
        eqs_axpy((int64_t)n, 1, s->y_last, y);
    else
        memcpy(y, s->y_last, sizeof(eqs_real) * n);
}

static void ideal_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool acc)
{
    eqs_gemm(false, false, batch, t->n_in, t->n_out, 1, y, t->n_out, ideal(t)->w, t->n_in,
             acc ? 1 : 0, x, t->n_in);
}

static void ideal_update_outer(eqs_tile *t, const eqs_real *a, const eqs_real *b, int32_t batch,
                               eqs_real scale)
{
    ideal_tile *s = ideal(t);
    eqs_gemm(true, false, t->n_out, t->n_in, batch, scale, a, t->n_out, b, t->n_in, 1, s->w,
             t->n_in);
    if (batch > s->cap_ab) {
        grow(&s->last_a, 0, (size_t)batch * (size_t)t->n_out);
        grow(&s->last_b, 0, (size_t)batch * (size_t)t->n_in);
        s->cap_ab = batch;
    }
    memcpy(s->last_a, a, sizeof(eqs_real) * (size_t)batch * (size_t)t->n_out);
    memcpy(s->last_b, b, sizeof(eqs_real) * (size_t)batch * (size_t)t->n_in);
    s->last_ab_batch = batch;
    s->last_scale = scale;
    s->last = LAST_OUTER;
}

static void ideal_update_delta(eqs_tile *t, const eqs_real *dw)
{
    ideal_tile *s = ideal(t);
    size_t n = (size_t)t->n_out * (size_t)t->n_in;
    eqs_axpy((int64_t)n, 1, dw, s->w);
    if (!s->last_dw)
        grow(&s->last_dw, 0, n);
    memcpy(s->last_dw, dw, sizeof(eqs_real) * n);
    s->last = LAST_DELTA;
}

static void ideal_last_update(const eqs_tile *t, eqs_real *dw)
{
    const ideal_tile *s = ideal(t);
    size_t n = (size_t)t->n_out * (size_t)t->n_in;
    if (s->last == LAST_DELTA)
        memcpy(dw, s->last_dw, sizeof(eqs_real) * n);
    else if (s->last == LAST_OUTER)
        eqs_gemm(true, false, t->n_out, t->n_in, s->last_ab_batch, s->last_scale, s->last_a,
                 t->n_out, s->last_b, t->n_in, 0, dw, t->n_in);
    else
        memset(dw, 0, sizeof(eqs_real) * n);
}

static void ideal_program_pulses(eqs_tile *t, const int32_t *pulses)
{
    (void)t;
    (void)pulses;
    eqs_abort(__FILE__, __LINE__,
              "eqs_tile_program_pulses: the ideal tile has no devices to pulse (use "
              "eqs_tile_update_delta, or an analog tile)");
}

static double ideal_dw_min(const eqs_tile *t)
{
    (void)t;
    return 0;
}

static bool ideal_is_exact(const eqs_tile *t)
{
    (void)t;
    return true;
}

static void ideal_advance_time(eqs_tile *t, double dt_s)
{
    (void)t;
    (void)dt_s;
}

static void ideal_read(const eqs_tile *t, eqs_real *w)
{
    memcpy(w, ideal(t)->w, sizeof(eqs_real) * (size_t)t->n_out * (size_t)t->n_in);
}

static void ideal_write(eqs_tile *t, const eqs_real *w)
{
    memcpy(ideal(t)->w, w, sizeof(eqs_real) * (size_t)t->n_out * (size_t)t->n_in);
}

static void ideal_destroy(eqs_tile *t)
{
    ideal_tile *s = ideal(t);
    if (!s)
        return;
    eqs_free(s->w);
    eqs_free(s->y_last);
    eqs_free(s->last_dw);
    eqs_free(s->last_a);
    eqs_free(s->last_b);
    free(s);
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
    .is_exact = ideal_is_exact,
    .mvm_again = ideal_mvm_again,
    .program_pulses = ideal_program_pulses,
    .dw_min = ideal_dw_min,
    .last_update = ideal_last_update,
    .advance_time = ideal_advance_time,
};

eqs_status eqs_tile_create_ideal(eqs_tile **out, int32_t n_out, int32_t n_in, eqs_err *err)
{
    if (n_out < 1 || n_in < 1)
        return eqs_err_set(err, EQS_EINVAL, "tile: size %d x %d must be positive", n_out, n_in);
    eqs_tile *t = calloc(1, sizeof *t);
    ideal_tile *s = calloc(1, sizeof *s);
    if (!t || !s) {
        free(t);
        free(s);
        return eqs_err_set(err, EQS_ENOMEM, "tile: out of memory");
    }
    s->w = eqs_calloc((size_t)n_out * (size_t)n_in, sizeof(eqs_real), err);
    if (!s->w) {
        free(s);
        free(t);
        return EQS_ENOMEM;
    }
    t->ops = &ideal_ops;
    t->n_out = n_out;
    t->n_in = n_in;
    t->grid_rows = 1;
    t->grid_cols = 1;
    t->impl = s;
    *out = t;
    return EQS_OK;
}
