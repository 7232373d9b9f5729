/* tile.c — the tile interface dispatch (with the action counters of the cost ledger) and the
 * ideal (float, OpenBLAS) tile. The analog family lives in analog.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tile_impl.h"

#include "eqs/blas.h"
#include "eqs/io.h"
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

void eqs_tile_track_updates(eqs_tile *t, bool on)
{
    t->track_updates = on;
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

/* ---- checkpoints: the tile state file ---------------------------------------------------- */

/* Layout (native byte order, recorded and checked): a 72-byte header, then for every field a
 * 48-byte record (name, element size, check flag, count), its count x elem_size bytes and zeros
 * up to a multiple of 8. The first field is the counters of every phase; the family lists the
 * rest (ideal: none, its weights are in the checkpoint's .npy files). */
#define STATE_MAGIC      "EQSTILE" /* 8 bytes with its NUL */
#define STATE_VERSION    1u
#define STATE_BYTE_ORDER 0x01020304u
#define STATE_MAX_FIELDS 64
#define COUNT_WORDS      11 /* eqs_tile_counts as 64-bit words, pulse_g_sum_sie as its bits */
#define FNV_OFFSET       0xcbf29ce484222325ull

typedef struct state_header {
    char magic[8];
    uint32_t version, byte_order;
    char family[16];
    int32_t n_out, n_in, grid_rows, grid_cols;
    uint32_t n_fields, reserved;
    uint64_t payload_len, checksum; /* bytes after the header; FNV-1a 64 of them */
} state_header;

typedef struct field_rec {
    char name[32];
    uint32_t elem_size, check;
    uint64_t count;
} field_rec;

_Static_assert(sizeof(state_header) == 72, "tile state header layout");
_Static_assert(sizeof(field_rec) == 48, "tile state field record layout");

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void counts_pack(const eqs_tile *t, uint64_t *w)
{
    for (int p = 0; p < EQS_PHASE_N; p++, w += COUNT_WORDS) {
        const eqs_tile_counts *c = &t->counts[p];
        uint64_t v[COUNT_WORDS] = {
            c->mvm,       c->mvm_t,       c->dac_conv,      c->adc_conv,       c->macs, c->updates,
            c->pulses_up, c->pulses_down, c->refresh_pairs, c->refresh_pulses, 0};
        memcpy(&v[10], &c->pulse_g_sum_sie, sizeof(double));
        memcpy(w, v, sizeof v);
    }
}

static void counts_unpack(eqs_tile *t, const uint64_t *w)
{
    for (int p = 0; p < EQS_PHASE_N; p++, w += COUNT_WORDS) {
        eqs_tile_counts *c = &t->counts[p];
        c->mvm = w[0];
        c->mvm_t = w[1];
        c->dac_conv = w[2];
        c->adc_conv = w[3];
        c->macs = w[4];
        c->updates = w[5];
        c->pulses_up = w[6];
        c->pulses_down = w[7];
        c->refresh_pairs = w[8];
        c->refresh_pulses = w[9];
        memcpy(&c->pulse_g_sum_sie, &w[10], sizeof(double));
    }
}

/* The fields of t's state file, the counters (in counts, packed by the caller) first. */
static int state_fields(eqs_tile *t, uint64_t *counts, eqs_state_field *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "counts");
    f->data = counts;
    f->elem_size = sizeof(uint64_t);
    f->count = (uint64_t)EQS_PHASE_N * COUNT_WORDS;
    return 1 + t->ops->state_fields(t, f + 1, STATE_MAX_FIELDS - 1);
}

static void header_init(const eqs_tile *t, state_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, STATE_MAGIC, sizeof h->magic);
    h->version = STATE_VERSION;
    h->byte_order = STATE_BYTE_ORDER;
    snprintf(h->family, sizeof h->family, "%s", t->ops->kind);
    h->n_out = t->n_out;
    h->n_in = t->n_in;
    h->grid_rows = t->grid_rows;
    h->grid_cols = t->grid_cols;
}

eqs_status eqs_tile_state_save(const eqs_tile *tile, const char *path, eqs_err *err)
{
    eqs_tile *t = (eqs_tile *)tile; /* the fields point into t; saving only reads them */
    static const unsigned char zeros[8] = {0};
    uint64_t counts[EQS_PHASE_N * COUNT_WORDS];
    eqs_state_field f[STATE_MAX_FIELDS];
    field_rec rec[STATE_MAX_FIELDS];
    const void *parts[1 + 3 * STATE_MAX_FIELDS];
    size_t lens[1 + 3 * STATE_MAX_FIELDS];
    counts_pack(t, counts);
    int m = state_fields(t, counts, f), np = 1;
    state_header h;
    header_init(t, &h);
    h.n_fields = (uint32_t)m;
    uint64_t sum = FNV_OFFSET;
    for (int i = 0; i < m; i++) {
        memset(&rec[i], 0, sizeof rec[i]); /* the name zero-padded: files are reproducible */
        memcpy(rec[i].name, f[i].name, strlen(f[i].name)); /* < 32: snprintf-made */
        rec[i].elem_size = f[i].elem_size;
        rec[i].check = f[i].check;
        rec[i].count = f[i].count;
        size_t bytes = (size_t)(f[i].count * f[i].elem_size);
        const void *p[3] = {&rec[i], f[i].data, zeros};
        size_t l[3] = {sizeof rec[i], bytes, (8 - bytes % 8) % 8};
        for (int j = 0; j < 3; j++) {
            parts[np] = p[j];
            lens[np++] = l[j];
            sum = fnv1a(sum, p[j], l[j]);
            h.payload_len += l[j];
        }
    }
    h.checksum = sum;
    parts[0] = &h;
    lens[0] = sizeof h;
    return eqs_write_file_atomic_parts(path, parts, lens, np, err);
}

/* The whole file in memory (*out: free()). */
static eqs_status read_file(const char *path, unsigned char **out, size_t *len, eqs_err *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open tile state: %s", path, strerror(errno));
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        size = ftell(fp);
    unsigned char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    bool ok = buf && fseek(fp, 0, SEEK_SET) == 0 && fread(buf, 1, (size_t)size, fp) == (size_t)size;
    fclose(fp);
    if (!ok) {
        free(buf);
        return eqs_err_set(err, size < 0 || buf ? EQS_EIO : EQS_ENOMEM,
                           "%s: cannot read tile state", path);
    }
    *out = buf;
    *len = (size_t)size;
    return EQS_OK;
}

static eqs_status check_header(const eqs_tile *t, const char *path, const unsigned char *buf,
                               size_t len, state_header *h, eqs_err *err)
{
    if (len < sizeof *h)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated tile state (%zu bytes; the header alone has %zu)", path,
                           len, sizeof *h);
    memcpy(h, buf, sizeof *h);
    if (memcmp(h->magic, STATE_MAGIC, sizeof h->magic) != 0)
        return eqs_err_set(err, EQS_EFORMAT, "%s: not a tile state file (magic)", path);
    if (h->byte_order != STATE_BYTE_ORDER)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: tile state written on a machine of another byte order", path);
    if (h->version != STATE_VERSION)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: tile state format version %u; this eqsim reads version %u", path,
                           h->version, STATE_VERSION);
    if (h->payload_len != len - sizeof *h)
        return eqs_err_set(
            err, EQS_EFORMAT, "%s: truncated tile state (field data: %llu bytes, header says %llu)",
            path, (unsigned long long)(len - sizeof *h), (unsigned long long)h->payload_len);
    if (fnv1a(FNV_OFFSET, buf + sizeof *h, len - sizeof *h) != h->checksum)
        return eqs_err_set(err, EQS_EFORMAT, "%s: corrupt tile state (checksum mismatch)", path);
    char fam[sizeof h->family + 1] = {0};
    memcpy(fam, h->family, sizeof h->family);
    if (strcmp(fam, t->ops->kind) != 0)
        return eqs_err_set(err, EQS_EMISMATCH,
                           "%s: family: the state is of an %s tile, this tile is %s", path, fam,
                           t->ops->kind);
    const char *names[4] = {"n_out", "n_in", "grid_rows", "grid_cols"};
    int32_t got[4] = {h->n_out, h->n_in, h->grid_rows, h->grid_cols};
    int32_t want[4] = {t->n_out, t->n_in, t->grid_rows, t->grid_cols};
    for (int i = 0; i < 4; i++)
        if (got[i] != want[i])
            return eqs_err_set(err, EQS_EMISMATCH, "%s: %s: the state has %d, this tile %d", path,
                               names[i], got[i], want[i]);
    return EQS_OK;
}

/* Walks the fields of the payload against the expected ones; with copy, writes them (checked
 * fields are compared, never written). */
static eqs_status walk_fields(const char *path, const unsigned char *pl, uint64_t pl_len,
                              uint32_t n_fields, eqs_state_field *f, int m, bool copy, eqs_err *err)
{
    uint64_t off = 0;
    for (int i = 0; i < m; i++) {
        if (i >= (int)n_fields)
            return eqs_err_set(err, EQS_EMISMATCH,
                               "%s: the state has %u fields, this tile expects %d (next: %s)", path,
                               n_fields, m, f[i].name);
        field_rec r;
        if (pl_len - off < sizeof r)
            return eqs_err_set(err, EQS_EFORMAT, "%s: field %d (%s): truncated record", path, i,
                               f[i].name);
        memcpy(&r, pl + off, sizeof r);
        off += sizeof r;
        r.name[sizeof r.name - 1] = '\0';
        if (strcmp(r.name, f[i].name) != 0)
            return eqs_err_set(err, EQS_EMISMATCH, "%s: field %d is '%s', this tile expects '%s'",
                               path, i, r.name, f[i].name);
        if (r.elem_size != f[i].elem_size || r.count != f[i].count)
            return eqs_err_set(err, EQS_EMISMATCH,
                               "%s: field '%s': %llu x %u bytes, this tile has %llu x %u", path,
                               r.name, (unsigned long long)r.count, r.elem_size,
                               (unsigned long long)f[i].count, f[i].elem_size);
        uint64_t bytes = f[i].count * f[i].elem_size, pad = (8 - bytes % 8) % 8;
        if (pl_len - off < bytes + pad)
            return eqs_err_set(err, EQS_EFORMAT, "%s: field '%s': truncated data", path, r.name);
        const unsigned char *data = pl + off;
        off += bytes + pad;
        if (f[i].check && memcmp(data, f[i].data, (size_t)bytes) != 0) {
            unsigned long long a = 0, b = 0;
            if (bytes <= sizeof a) {
                memcpy(&a, data, (size_t)bytes);
                memcpy(&b, f[i].data, (size_t)bytes);
            }
            return eqs_err_set(err, EQS_EMISMATCH,
                               "%s: field '%s': the state has %llu, this tile %llu (a state of "
                               "another tile or configuration)",
                               path, r.name, a, b);
        }
        if (copy && !f[i].check)
            memcpy(f[i].data, data, (size_t)bytes);
    }
    if ((int)n_fields != m || off != pl_len)
        return eqs_err_set(err, EQS_EMISMATCH, "%s: the state has %u fields, this tile expects %d",
                           path, n_fields, m);
    return EQS_OK;
}

eqs_status eqs_tile_state_load(eqs_tile *t, const char *path, eqs_err *err)
{
    unsigned char *buf;
    size_t len = 0;
    eqs_status st = read_file(path, &buf, &len, err);
    if (st != EQS_OK)
        return st;
    state_header h;
    uint64_t counts[EQS_PHASE_N * COUNT_WORDS];
    eqs_state_field f[STATE_MAX_FIELDS];
    counts_pack(t, counts);
    int m = state_fields(t, counts, f);
    st = check_header(t, path, buf, len, &h, err);
    const unsigned char *pl = buf + sizeof h;
    if (st == EQS_OK) /* everything is checked before anything changes */
        st = walk_fields(path, pl, h.payload_len, h.n_fields, f, m, false, err);
    if (st == EQS_OK) {
        walk_fields(path, pl, h.payload_len, h.n_fields, f, m, true, err);
        counts_unpack(t, counts);
        t->ops->state_loaded(t);
    }
    free(buf);
    return st;
}

/* ---- ideal tile: W [n_out, n_in] in eqs_real ------------------------------------------- */

/* The last update is kept as what was asked (a copy of dW, or of a, b and the scale: a few
 * vectors), and last_update() recomputes it on demand: the float tile achieves exactly what it
 * is asked, and the training loop pays no extra pass over W for a query it rarely makes. */
typedef enum { LAST_NONE, LAST_DELTA, LAST_OUTER } last_kind;

typedef struct ideal_tile {
    eqs_real *w;            /* [n_out, n_in] */
    const eqs_real *x_last; /* the last mvm's input, borrowed (mvm_again recomputes from it) */
    int32_t last_batch;
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
    eqs_gemm(false, true, batch, t->n_out, t->n_in, 1, x, t->n_in, s->w, t->n_in, acc ? 1 : 0, y,
             t->n_out);
    s->x_last = x;
    s->last_batch = batch;
}

/* The float product is the same every time: recompute it from the last input, which the caller
 * keeps unchanged (xbar.h). The CRNN does not even ask (eqs_tile_is_exact): it reuses its own
 * copy of the static input's drive. */
static void ideal_mvm_again(eqs_tile *t, int32_t batch, eqs_real *y, bool acc)
{
    ideal_tile *s = ideal(t);
    if (!s->x_last || batch != s->last_batch)
        eqs_abort(__FILE__, __LINE__, "eqs_tile_mvm_again: batch %d, but the last mvm had %d",
                  batch, s->x_last ? s->last_batch : 0);
    eqs_gemm(false, true, batch, t->n_out, t->n_in, 1, s->x_last, t->n_in, s->w, t->n_in,
             acc ? 1 : 0, y, t->n_out);
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
    if (!t->track_updates)
        return;
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
    if (!t->track_updates)
        return;
    if (!s->last_dw)
        grow(&s->last_dw, 0, n);
    memcpy(s->last_dw, dw, sizeof(eqs_real) * n);
    s->last = LAST_DELTA;
}

static void ideal_last_update(const eqs_tile *t, eqs_real *dw)
{
    const ideal_tile *s = ideal(t);
    size_t n = (size_t)t->n_out * (size_t)t->n_in;
    if (!t->track_updates)
        eqs_abort(__FILE__, __LINE__,
                  "eqs_tile_last_update on an ideal tile: call eqs_tile_track_updates first");
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

/* The ideal tile's state file holds its counters only: its weights are the checkpoint's. */
static int ideal_state_fields(eqs_tile *t, eqs_state_field *f, int max)
{
    (void)t;
    (void)f;
    (void)max;
    return 0;
}

static void ideal_state_loaded(eqs_tile *t)
{
    (void)t;
}

static void ideal_destroy(eqs_tile *t)
{
    ideal_tile *s = ideal(t);
    if (!s)
        return;
    eqs_free(s->w);
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
    .state_fields = ideal_state_fields,
    .state_loaded = ideal_state_loaded,
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
