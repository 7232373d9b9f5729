/* analog.c — the analog crossbar tile: differential device pairs, DAC, products, output-referred
 * read noise, first-order IR drop, ADC, pulse updates and refresh (docs/tile.md).
 *
 * State: two device arrays G+ and G- of n_out * n_in cells in the matrix's row-major order, and
 * caches derived from them whenever a conductance changes (write, update, refresh, time):
 *   w      [n_out, n_in]  W = (G+ - G-) / g_ref, what read() returns;
 *   w_read [n_out, n_in]  the matrix the array multiplies by: w, or w with the first-order
 *                         IR-drop attenuation of each cell (r_wire > 0);
 *   v      [n_out, n_in]  per-pair read variance (var G+ + var G-) / g_ref^2 (device read noise
 *                         that depends on G).
 * so a read is one GEMM for the product and at most one for its variance. Reads and updates
 * allocate nothing once the workspaces have grown to the largest batch seen.
 *
 * Random streams: devices EQS_RNG_DEVICE_D2D/C2C with entity 2 id (G+) and 2 id + 1 (G-);
 * reads EQS_RNG_READ_NOISE and pulse conversion EQS_RNG_PULSE_ROUND with entity id, each with a
 * running block offset, so a sequence of calls is reproducible and every read is fresh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tile_impl.h"

#include "eqs/blas.h"
#include "eqs/hot.h"
#include "eqs/xbar.h"

/* Round to nearest (ties to even) by the float adder: vectorises, unlike a libm call. Valid for
 * |v| < 2^22 (float) / 2^51 (double); converter codes stay below 2^20. */
#ifdef EQS_REAL_DOUBLE
#define ROUND_MAGIC 6755399441055744.0
#else
#define ROUND_MAGIC 12582912.0f
#endif
#define MAX_CONV_BITS 20

/* One read direction's workspace: src = the side the DAC drives, dst = the side the ADC reads. */
typedef struct read_ws {
    int32_t cap, batch;   /* rows allocated; batch of the last read (0 = none yet) */
    int32_t n_src, n_dst; /* widths */
    int32_t n_part;       /* partial sums = physical tiles along src */
    int32_t blk_src, blk_dst;
    eqs_real *xq;    /* [cap, n_src] converted inputs (kept: mvm_again in exact-noise mode) */
    eqs_real *sq;    /* [cap, n_src] their squares (variance GEMM) */
    eqs_real *p;     /* [n_part][cap, n_dst] noiseless partial sums */
    eqs_real *v;     /* [n_part][cap, n_dst] their noise std sqrt(var + out_noise^2), or the
                        per-device noise draw (exact mode) */
    eqs_real *tmp;   /* [cap, n_dst] one noisy partial sum before its ADC */
    float *z;        /* [cap * n_dst] normals */
    bool y_kept;     /* tmp holds the output of the last mvm (noiseless reads: mvm_again copies) */
    eqs_real *scale; /* [cap] periphery.input_scaling: each input vector's max |x| */
    eqs_real *ys;    /* [cap, n_dst] the read in the scaled domain, before the rescale */
} read_ws;

typedef struct analog_tile {
    eqs_hw_config hw;
    uint64_t seed;
    uint32_t id;
    size_t n; /* pairs = n_out * n_in */
    eqs_device_array *gp, *gm;
    double g_ref_sie; /* siemens per unit weight */
    float inv_g_ref;
    bool ideal_dev;           /* exactly programmable: dW is applied exactly, not as pulses */
    bool dev_noise;           /* devices have read noise */
    bool dev_noise_flat;      /* ... with the same variance in every cell (no G dependence) */
    eqs_real v_flat;          /* that variance per pair, weight^2 */
    bool exact_noise;         /* periphery.exact_read_noise: per-device draws */
    bool ir;                  /* r_wire > 0 */
    bool exact;               /* is_exact */
    eqs_real *w, *w_read, *v; /* [n] (w_read == w without IR drop; v only when needed) */
    float *sd_p, *sd_m;       /* [n] exact mode: read std of each device, siemens */
    eqs_real *dw;             /* [n] update_outer's requested dW */
    eqs_real *last;           /* [n] the last update achieved (see touched) */
    uint32_t *touched;        /* [n] pairs this update pulsed (apply_counts) */
    uint32_t *touched_prev;   /* [n] pairs the last update pulsed, when last_sparse */
    size_t n_touched, n_active;
    bool last_sparse;         /* last is 0 outside touched[0..n_touched) */
    bool active_ok;           /* touched[0..n_active) lists every pair this update pulsed */
    float *fa, *fb, *fc, *fd; /* [n] scratch: mean steps, variances, IR-drop sums */
    float *fu;                /* [2n] uniforms (pulse rounding) or normals (exact noise) */
    float *line;              /* [3 n_in] IR drop: running sums across the row lines */
    int32_t *np, *nm;         /* [n] pulse counts for G+ and G- */
    uint8_t *mask;            /* [n] refresh */
    uint64_t *rmask, *cmask;  /* [n_out], [n_in] coincidence pulse trains */
    uint64_t read_block, round_block;
    read_ws fwd, bwd;
} analog_tile;

static analog_tile *an(const eqs_tile *t)
{
    return (analog_tile *)t->impl;
}

static inline int32_t min_i32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* ---- caches ------------------------------------------------------------------------------- */

/* First-order IR drop (docs/tile.md). A line of cells 0..m-1 (0 next to its driver or sense
 * amplifier) with wire resistance r per segment: segment k carries the current of every cell
 * beyond it, so cell j sees its voltage lowered by r sum_{k<=j} sum_{l>=k} I_l. To first order
 * in r the loss of current is linear in the inputs and acts like a smaller conductance
 *     G_j (1 - r C_j),  C_j = sum_l G_l (min(j, l) + 1),
 * for the output lines (along the inputs) and the input lines (along the outputs, G+ and G- of
 * an output side by side) alike, whichever side drives: one effective matrix serves mvm and
 * mvm_t. C_j = A_j + (j + 1)(S - S_j) with A_j = sum_{l<=j} G_l (l + 1), S_j = sum_{l<=j} G_l. */
EQS_HOT static void ir_col_lines(const float *g, int32_t n_in, int32_t c0, int32_t c1, int32_t r0,
                                 int32_t r1, float *c)
{
    /* R rows at a time: their running sums are independent chains (the loop over one row
     * waits on each add); each row's arithmetic is unchanged */
    enum { R = 8 };
    int32_t o = r0;
    for (; o + R <= r1; o += R) {
        const float *gl = g + (size_t)o * n_in;
        float *cl = c + (size_t)o * n_in;
        float s[R] = {0}, a[R] = {0}, sj[R] = {0};
        for (int32_t i = c0; i < c1; i++)
            for (int r = 0; r < R; r++)
                s[r] += gl[(size_t)r * n_in + i];
        for (int32_t i = c0; i < c1; i++) {
            float pos = (float)(i - c0 + 1);
            for (int r = 0; r < R; r++) {
                float v = gl[(size_t)r * n_in + i];
                sj[r] += v;
                a[r] += v * pos;
                cl[(size_t)r * n_in + i] = a[r] + pos * (s[r] - sj[r]);
            }
        }
    }
    for (; o < r1; o++) {
        const float *gl = g + (size_t)o * n_in;
        float *cl = c + (size_t)o * n_in;
        float s = 0, a = 0, sj = 0;
        for (int32_t i = c0; i < c1; i++)
            s += gl[i];
        for (int32_t i = c0; i < c1; i++) {
            float pos = (float)(i - c0 + 1);
            sj += gl[i];
            a += gl[i] * pos;
            cl[i] = a + pos * (s - sj);
        }
    }
}

/* The input lines of one physical tile: positions 2(o - r0) (G+) and 2(o - r0) + 1 (G-). */
/* The loops of ir_row_lines and ir_drop_matrix, with restrict pointers so that they vectorise
 * (the same arithmetic, element by element). */
EQS_HOT static void ir_row_sum(int32_t w, const float *restrict lp, const float *restrict lm,
                               float *restrict s)
{
    for (int32_t i = 0; i < w; i++)
        s[i] += lp[i] + lm[i];
}

EQS_HOT static void ir_row_step(int32_t w, float pos_p, float pos_m, const float *restrict lp,
                                const float *restrict lm, const float *restrict s,
                                float *restrict sj, float *restrict acc, float *restrict cp,
                                float *restrict cm)
{
    for (int32_t i = 0; i < w; i++) {
        sj[i] += lp[i];
        acc[i] += lp[i] * pos_p;
        cp[i] += acc[i] + pos_p * (s[i] - sj[i]);
        sj[i] += lm[i];
        acc[i] += lm[i] * pos_m;
        cm[i] += acc[i] + pos_m * (s[i] - sj[i]);
    }
}

EQS_HOT static void ir_apply(size_t n, float r, float ig, const float *restrict gp,
                             const float *restrict gm, const float *restrict fc,
                             const float *restrict fd, eqs_real *restrict w_read)
{
    for (size_t k = 0; k < n; k++) {
        float fp = 1.0f - r * fc[k], fm = 1.0f - r * fd[k];
        fp = fp > 0 ? fp : 0; /* beyond first order's validity: never invert a cell */
        fm = fm > 0 ? fm : 0;
        w_read[k] = (eqs_real)((gp[k] * fp - gm[k] * fm) * ig);
    }
}

static void ir_row_lines(analog_tile *a, int32_t n_in, int32_t c0, int32_t c1, int32_t r0,
                         int32_t r1)
{
    const float *gp = eqs_device_g(a->gp), *gm = eqs_device_g(a->gm);
    int32_t w = c1 - c0;
    float *s = a->line, *acc = a->line + n_in, *sj = a->line + 2 * n_in;
    memset(a->line, 0, sizeof(float) * 3 * (size_t)n_in);
    for (int32_t o = r0; o < r1; o++)
        ir_row_sum(w, gp + (size_t)o * n_in + c0, gm + (size_t)o * n_in + c0, s);
    for (int32_t o = r0; o < r1; o++) {
        float pos_p = (float)(2 * (o - r0) + 1), pos_m = pos_p + 1;
        const float *lp = gp + (size_t)o * n_in + c0, *lm = gm + (size_t)o * n_in + c0;
        float *cp = a->fc + (size_t)o * n_in + c0, *cm = a->fd + (size_t)o * n_in + c0;
        ir_row_step(w, pos_p, pos_m, lp, lm, s, sj, acc, cp, cm);
    }
}

static void ir_drop_matrix(const eqs_tile *t)
{
    analog_tile *a = an(t);
    const float *gp = eqs_device_g(a->gp), *gm = eqs_device_g(a->gm);
    int32_t br = a->hw.array.max_rows, bc = a->hw.array.max_cols;
    for (int32_t r0 = 0; r0 < t->n_out; r0 += br)
        for (int32_t c0 = 0; c0 < t->n_in; c0 += bc) {
            int32_t r1 = min_i32(r0 + br, t->n_out), c1 = min_i32(c0 + bc, t->n_in);
            ir_col_lines(gp, t->n_in, c0, c1, r0, r1, a->fc);
            ir_col_lines(gm, t->n_in, c0, c1, r0, r1, a->fd);
            ir_row_lines(a, t->n_in, c0, c1, r0, r1);
        }
    ir_apply(a->n, (float)a->hw.array.r_wire_ohm, a->inv_g_ref, gp, gm, a->fc, a->fd, a->w_read);
}

EQS_HOT static void cache_w(size_t n, const float *restrict gp, const float *restrict gm, float ig,
                            eqs_real *restrict w, eqs_real *restrict last)
{
    if (last)
        for (size_t k = 0; k < n; k++) {
            eqs_real v = (eqs_real)((gp[k] - gm[k]) * ig);
            last[k] = v - w[k];
            w[k] = v;
        }
    else
        for (size_t k = 0; k < n; k++)
            w[k] = (eqs_real)((gp[k] - gm[k]) * ig);
}

EQS_HOT static void cache_v(size_t n, const float *restrict fa, const float *restrict fb, float ig2,
                            eqs_real *restrict v)
{
    for (size_t k = 0; k < n; k++)
        v[k] = (eqs_real)((fa[k] + fb[k]) * ig2);
}

/* v = (var G+ + var G-) / g_ref^2 with var G = rel2 G^2 + a2: eqs_device_read_var's arithmetic
 * on both devices, then cache_v's, without the two passes through fa and fb. */
EQS_HOT static void cache_v_g(size_t n, const float *restrict gp, const float *restrict gm,
                              float rel2, float a2, float ig2, eqs_real *restrict v)
{
    for (size_t k = 0; k < n; k++) {
        float vp = rel2 * gp[k] * gp[k] + a2, vm = rel2 * gm[k] * gm[k] + a2;
        v[k] = (eqs_real)((vp + vm) * ig2);
    }
}

/* Recomputes W (and the IR-drop matrix, the read variances) from the conductances; with
 * last != NULL also last = W after - W before. */
static void refresh_cache_last(const eqs_tile *t, eqs_real *last)
{
    analog_tile *a = an(t);
    const float *restrict gp = eqs_device_g(a->gp), *restrict gm = eqs_device_g(a->gm);
    const float ig = a->inv_g_ref;
    cache_w(a->n, gp, gm, ig, a->w, last);
    if (a->ir)
        ir_drop_matrix(t);
    if (!a->dev_noise)
        return;
    if (a->v && !a->exact_noise) { /* read_var and cache_v in one pass, the same arithmetic */
        const eqs_device_config *dc = &a->hw.device;
        const float rel = (float)dc->read_noise_rel, an_ = (float)dc->read_noise_sie;
        cache_v_g(a->n, gp, gm, rel * rel, an_ * an_, ig * ig, a->v);
        return;
    }
    if (a->v || a->exact_noise) {
        eqs_device_read_var(a->gp, a->fa);
        eqs_device_read_var(a->gm, a->fb);
    }
    if (a->v)
        cache_v(a->n, a->fa, a->fb, ig * ig, a->v);
    if (a->exact_noise)
        for (size_t k = 0; k < a->n; k++) {
            a->sd_p[k] = sqrtf(a->fa[k]);
            a->sd_m[k] = sqrtf(a->fb[k]);
        }
}

static void refresh_cache(const eqs_tile *t)
{
    refresh_cache_last(t, NULL);
}

/* The caches of the listed pairs only (nothing else changed, no IR drop), and last for them:
 * the same arithmetic as refresh_cache_last, cell by cell. */
static void refresh_cache_cells(analog_tile *a, const uint32_t *idx, size_t m)
{
    const float *restrict gp = eqs_device_g(a->gp), *restrict gm = eqs_device_g(a->gm);
    const float ig = a->inv_g_ref, ig2 = ig * ig;
    const eqs_device_config *dc = &a->hw.device;
    const float rel = (float)dc->read_noise_rel, an_ = (float)dc->read_noise_sie;
    const float a2 = an_ * an_, rel2 = rel * rel; /* as eqs_device_read_var */
    for (size_t j = 0; j < m; j++) {
        uint32_t k = idx[j];
        eqs_real v = (eqs_real)((gp[k] - gm[k]) * ig);
        a->last[k] = v - a->w[k];
        a->w[k] = v;
        if (a->dev_noise && (a->v || a->exact_noise)) {
            float vp = rel2 * gp[k] * gp[k] + a2, vm = rel2 * gm[k] * gm[k] + a2;
            if (a->v)
                a->v[k] = (eqs_real)((vp + vm) * ig2);
            if (a->exact_noise) {
                a->sd_p[k] = sqrtf(vp);
                a->sd_m[k] = sqrtf(vm);
            }
        }
    }
}

/* ---- converters ------------------------------------------------------------------------- */

/* y = x quantized to 2^bits - 1 levels over [-range, range] (codes -L..L, L = 2^(bits-1) - 1),
 * clipped outside; bits = 0 copies. */
static void quantize(const eqs_real *restrict x, size_t n, int32_t bits, double range,
                     eqs_real *restrict y)
{
    if (bits == 0 || !(range > 0)) {
        if (bits == 0)
            memcpy(y, x, sizeof(eqs_real) * n);
        else
            memset(y, 0, sizeof(eqs_real) * n);
        return;
    }
    const eqs_real lv = (eqs_real)((1 << (bits - 1)) - 1), step = (eqs_real)range / lv;
    const eqs_real inv = lv / (eqs_real)range, m = ROUND_MAGIC;
    for (size_t i = 0; i < n; i++) {
        eqs_real q = x[i] * inv;
        q = q < -lv ? -lv : q;
        q = q > lv ? lv : q;
        y[i] = ((q + m) - m) * step;
    }
}

/* max |x| over rows 0..batch-1, columns d0..d1 of x [., ld]. On the bit patterns with the
 * sign cleared, integer order is the order of |x| (finite, non-negative IEEE values): an integer
 * max reduction vectorises, a float one does not without -ffinite-math-only. */
#ifdef EQS_REAL_DOUBLE
typedef int64_t real_bits;
#define ABS_MASK INT64_MAX
#else
typedef int32_t real_bits;
#define ABS_MASK INT32_MAX
#endif
EQS_HOT static double max_abs(const eqs_real *x, int32_t batch, int32_t ld, int32_t d0, int32_t d1)
{
    real_bits mx = 0;
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *restrict s = x + (size_t)b * ld + d0;
        for (int32_t i = 0; i < d1 - d0; i++) {
            real_bits v;
            memcpy(&v, s + i, sizeof v); /* a plain load, without breaking aliasing rules */
            v &= ABS_MASK;
            mx = v > mx ? v : mx;
        }
    }
    eqs_real r;
    memcpy(&r, &mx, sizeof r);
    return (double)r;
}

/* The ADC of one physical tile: columns d0..d1 of src [batch, ld] into y (+=). */
EQS_HOT static void adc_block(const analog_tile *a, const eqs_real *src, int32_t batch, int32_t ld,
                              int32_t d0, int32_t d1, eqs_real *y, bool add)
{
    const eqs_periphery_config *pc = &a->hw.periphery;
    int32_t w = d1 - d0;
    if (pc->adc_bits == 0) {
        for (int32_t b = 0; b < batch; b++) {
            const eqs_real *s = src + (size_t)b * ld + d0;
            eqs_real *o = y + (size_t)b * ld + d0;
            if (add)
                for (int32_t i = 0; i < w; i++)
                    o[i] += s[i];
            else
                memcpy(o, s, sizeof(eqs_real) * (size_t)w);
        }
        return;
    }
    double range = pc->adc_range;
    if (pc->adc_range_mode == EQS_ADC_CALIBRATED)
        range = max_abs(src, batch, ld, d0, d1);
    const eqs_real lv = (eqs_real)((1 << (pc->adc_bits - 1)) - 1);
    const eqs_real step = range > 0 ? (eqs_real)range / lv : 0;
    const eqs_real inv = range > 0 ? lv / (eqs_real)range : 0, m = ROUND_MAGIC;
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *s = src + (size_t)b * ld + d0;
        eqs_real *o = y + (size_t)b * ld + d0;
        for (int32_t i = 0; i < w; i++) {
            eqs_real q = s[i] * inv;
            q = q < -lv ? -lv : q;
            q = q > lv ? lv : q;
            q = ((q + m) - m) * step;
            o[i] = add ? o[i] + q : q;
        }
    }
}

/* ---- reads ---------------------------------------------------------------------------- */

static void ws_free(read_ws *ws)
{
    eqs_free(ws->xq);
    eqs_free(ws->sq);
    eqs_free(ws->p);
    eqs_free(ws->v);
    eqs_free(ws->tmp);
    eqs_free(ws->z);
    eqs_free(ws->scale);
    eqs_free(ws->ys);
    ws->xq = ws->sq = ws->p = ws->v = ws->tmp = ws->scale = ws->ys = NULL;
    ws->z = NULL;
}

/* Grows the workspace to batch rows (first use, or a larger batch). */
static void ws_reserve(read_ws *ws, int32_t batch)
{
    if (batch <= ws->cap)
        return;
    ws_free(ws);
    size_t src = (size_t)batch * (size_t)ws->n_src, dst = (size_t)batch * (size_t)ws->n_dst;
    ws->xq = eqs_calloc(src, sizeof(eqs_real), NULL);
    ws->sq = eqs_calloc(src, sizeof(eqs_real), NULL);
    ws->p = eqs_calloc(dst * (size_t)ws->n_part, sizeof(eqs_real), NULL);
    ws->v = eqs_calloc(dst * (size_t)ws->n_part, sizeof(eqs_real), NULL);
    ws->tmp = eqs_calloc(dst, sizeof(eqs_real), NULL);
    ws->z = eqs_calloc(dst + 4, sizeof(float), NULL);
    ws->scale = eqs_calloc((size_t)batch, sizeof(eqs_real), NULL);
    ws->ys = eqs_calloc(dst, sizeof(eqs_real), NULL);
    EQS_ASSERT(ws->xq && ws->sq && ws->p && ws->v && ws->tmp && ws->z && ws->scale &&
               ws->ys); /* out of memory */
    ws->cap = batch;
}

/* out [batch, n_dst] = in [:, s0:s1] (.) m over the physical tiles' rows s0..s1 of src:
 * forward: in [batch, n_in] m^T; transposed: in [batch, n_out] m. */
static void block_product(const eqs_tile *t, bool tr, const eqs_real *in, int32_t batch, int32_t s0,
                          int32_t s1, const eqs_real *m, eqs_real *out)
{
    if (!tr)
        eqs_gemm(false, true, batch, t->n_out, s1 - s0, 1, in + s0, t->n_in, m + s0, t->n_in, 0,
                 out, t->n_out);
    else
        eqs_gemm(false, false, batch, t->n_in, s1 - s0, 1, in + s0, t->n_out,
                 m + (size_t)s0 * (size_t)t->n_in, t->n_in, 0, out, t->n_in);
}

/* The variance of one partial sum when every pair has the same read variance: v_flat times
 * the sum of the squared inputs of the block. */
static void flat_variance(const read_ws *ws, eqs_real v_flat, int32_t batch, int32_t s0, int32_t s1,
                          eqs_real *out)
{
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *s = ws->sq + (size_t)b * ws->n_src;
        eqs_real acc = 0;
        for (int32_t i = s0; i < s1; i++)
            acc += s[i];
        acc *= v_flat;
        eqs_real *o = out + (size_t)b * ws->n_dst;
        for (int32_t d = 0; d < ws->n_dst; d++)
            o[d] = acc;
    }
}

/* periphery.input_scaling: abs_max (aihwkit's noise management ABS_MAX): each input vector is
 * divided by its max |x| and stretched to the DAC's full range before the read, and the
 * digital periphery multiplies the converted output back (read_finish). A small signal — the
 * nudge read backwards through the readout array — then uses every DAC level, and the read's
 * noise and ADC act on a full-scale signal. ws->sq [batch, n_src] = the scaled inputs,
 * ws->scale [batch] = max |x| / range (1 for a zero vector). */
static void scale_inputs(read_ws *ws, const eqs_real *x, int32_t batch, double range)
{
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real *xb = x + (size_t)b * ws->n_src;
        eqs_real m = 0;
        for (int32_t i = 0; i < ws->n_src; i++) {
            eqs_real v = xb[i] < 0 ? -xb[i] : xb[i];
            m = v > m ? v : m;
        }
        eqs_real sc = m > 0 ? m / (eqs_real)range : 1, inv = 1 / sc;
        ws->scale[b] = sc;
        eqs_real *out = ws->sq + (size_t)b * ws->n_src;
        for (int32_t i = 0; i < ws->n_src; i++)
            out[i] = xb[i] * inv;
    }
}

/* DAC, then every physical tile's noiseless partial sum and its variance. */
static void read_prepare(const eqs_tile *t, read_ws *ws, bool tr, const eqs_real *x, int32_t batch)
{
    analog_tile *a = an(t);
    ws_reserve(ws, batch);
    size_t nsrc = (size_t)batch * (size_t)ws->n_src;
    size_t part_stride = (size_t)ws->cap * (size_t)ws->n_dst;
    if (a->hw.periphery.input_scaling == EQS_INPUT_SCALING_ABS_MAX) {
        scale_inputs(ws, x, batch, a->hw.periphery.dac_range);
        x = ws->sq; /* the scaled inputs (sq is rewritten with the squares below) */
    }
    quantize(x, nsrc, a->hw.periphery.dac_bits, a->hw.periphery.dac_range, ws->xq);
    bool var = a->dev_noise && !a->exact_noise;
    const eqs_real on2 = (eqs_real)(a->hw.periphery.out_noise * a->hw.periphery.out_noise);
    if (var)
        for (size_t i = 0; i < nsrc; i++)
            ws->sq[i] = ws->xq[i] * ws->xq[i];
    for (int32_t s = 0; s < ws->n_part; s++) {
        int32_t s0 = s * ws->blk_src, s1 = min_i32(s0 + ws->blk_src, ws->n_src);
        eqs_real *p = ws->p + (size_t)s * part_stride, *v = ws->v + (size_t)s * part_stride;
        block_product(t, tr, ws->xq, batch, s0, s1, a->w_read, p);
        if (var && a->v)
            block_product(t, tr, ws->sq, batch, s0, s1, a->v, v);
        else if (var)
            flat_variance(ws, a->v_flat, batch, s0, s1, v);
        if (var) /* the std, once: mvm_again only draws and scales */
            for (size_t i = 0; i < (size_t)batch * (size_t)ws->n_dst; i++)
                v[i] = eqs_sqrt(v[i] + on2);
    }
    ws->batch = batch;
}

/* Exact mode: out [batch, n_dst] = each device's own read noise on src block s0..s1, drawn
 * afresh for every input vector: sum_k (sd+ z+ - sd- z-) / g_ref * x_k. */
static void device_noise(const eqs_tile *t, read_ws *ws, bool tr, int32_t batch, int32_t s0,
                         int32_t s1, eqs_real *out)
{
    analog_tile *a = an(t);
    size_t cells = (size_t)(s1 - s0) * (size_t)ws->n_dst;
    const float ig = a->inv_g_ref;
    for (int32_t b = 0; b < batch; b++) {
        float *z = a->fu; /* 2 n >= 2 cells */
        a->read_block += eqs_rng_fill_normal_f32(z, 2 * cells, a->seed, EQS_RNG_READ_NOISE, a->id,
                                                 a->read_block);
        const eqs_real *x = ws->xq + (size_t)b * ws->n_src;
        eqs_real *o = out + (size_t)b * ws->n_dst;
        size_t c = 0;
        for (int32_t d = 0; d < ws->n_dst; d++) {
            double acc = 0;
            for (int32_t k = s0; k < s1; k++, c += 2) {
                size_t cell = tr ? (size_t)k * t->n_in + d : (size_t)d * t->n_in + k;
                acc += (double)(a->sd_p[cell] * z[c] - a->sd_m[cell] * z[c + 1]) * ig * x[k];
            }
            o[d] = (eqs_real)acc;
        }
    }
}

/* One pass for a fixed-range (or no) ADC: y (+)= ADC(p + sd z) with sd = v (per output) or the
 * constant on, the same arithmetic as the noise loop followed by adc_block. False (nothing done)
 * for a calibrated ADC, which needs the noisy batch's max first. */
EQS_HOT static bool fused_adc(const analog_tile *a, const read_ws *ws, const eqs_real *restrict p,
                              const eqs_real *restrict v, eqs_real on, const float *restrict z,
                              int32_t batch, eqs_real *restrict y, bool add)
{
    const eqs_periphery_config *pc = &a->hw.periphery;
    if (pc->adc_bits != 0 && pc->adc_range_mode == EQS_ADC_CALIBRATED)
        return false;
    size_t nd = (size_t)batch * (size_t)ws->n_dst;
    if (pc->adc_bits == 0) {
        for (size_t i = 0; i < nd; i++) {
            eqs_real q = v ? p[i] + v[i] * (eqs_real)z[i] : p[i] + on * (eqs_real)z[i];
            y[i] = add ? y[i] + q : q;
        }
        return true;
    }
    double range = pc->adc_range;
    const eqs_real lv = (eqs_real)((1 << (pc->adc_bits - 1)) - 1);
    const eqs_real step = range > 0 ? (eqs_real)range / lv : 0;
    const eqs_real inv = range > 0 ? lv / (eqs_real)range : 0, m = ROUND_MAGIC;
    for (size_t i = 0; i < nd; i++) {
        eqs_real q = v ? p[i] + v[i] * (eqs_real)z[i] : p[i] + on * (eqs_real)z[i];
        q = q * inv;
        q = q < -lv ? -lv : q;
        q = q > lv ? lv : q;
        q = ((q + m) - m) * step;
        y[i] = add ? y[i] + q : q;
    }
    return true;
}

/* Noise and ADC of every physical tile on the prepared partial sums; their sum into y. */
static void read_convert(const eqs_tile *t, read_ws *ws, bool tr, int32_t batch, eqs_real *y,
                         bool acc);

/* The converted read into y (+ y when acc); with input scaling, converted in the scaled domain
 * and multiplied back by each input vector's scale. */
static void read_finish(const eqs_tile *t, read_ws *ws, bool tr, int32_t batch, eqs_real *y,
                        bool acc)
{
    if (an(t)->hw.periphery.input_scaling != EQS_INPUT_SCALING_ABS_MAX) {
        read_convert(t, ws, tr, batch, y, acc);
        return;
    }
    read_convert(t, ws, tr, batch, ws->ys, false);
    for (int32_t b = 0; b < batch; b++) {
        const eqs_real sc = ws->scale[b], *src = ws->ys + (size_t)b * ws->n_dst;
        eqs_real *dst = y + (size_t)b * ws->n_dst;
        for (int32_t d = 0; d < ws->n_dst; d++)
            dst[d] = acc ? dst[d] + sc * src[d] : sc * src[d];
    }
}

static void read_convert(const eqs_tile *t, read_ws *ws, bool tr, int32_t batch, eqs_real *y,
                         bool acc)
{
    analog_tile *a = an(t);
    const eqs_periphery_config *pc = &a->hw.periphery;
    size_t ndst = (size_t)batch * (size_t)ws->n_dst;
    size_t part_stride = (size_t)ws->cap * (size_t)ws->n_dst;
    const eqs_real on = (eqs_real)pc->out_noise;
    bool noise = a->dev_noise || on > 0;
    for (int32_t s = 0; s < ws->n_part; s++) {
        int32_t s0 = s * ws->blk_src, s1 = min_i32(s0 + ws->blk_src, ws->n_src);
        const eqs_real *restrict p = ws->p + (size_t)s * part_stride;
        eqs_real *restrict v = ws->v + (size_t)s * part_stride;
        eqs_real *restrict y_s = ws->tmp;
        const float *restrict z = ws->z;
        if (noise)
            a->read_block += eqs_rng_fill_normal_f32(ws->z, ndst, a->seed, EQS_RNG_READ_NOISE,
                                                     a->id, a->read_block);
        if (!noise) {
            y_s = (eqs_real *)p;
        } else if (a->exact_noise && a->dev_noise) {
            device_noise(t, ws, tr, batch, s0, s1, v);
            for (size_t i = 0; i < ndst; i++)
                y_s[i] = p[i] + v[i] + on * (eqs_real)z[i];
        } else if (fused_adc(a, ws, p, a->dev_noise ? v : NULL, on, z, batch, y, acc || s > 0)) {
            continue; /* noise and fixed-range ADC done in one pass */
        } else if (a->dev_noise) {
            for (size_t i = 0; i < ndst; i++)
                y_s[i] = p[i] + v[i] * (eqs_real)z[i];
        } else {
            for (size_t i = 0; i < ndst; i++)
                y_s[i] = p[i] + on * (eqs_real)z[i];
        }
        bool add = acc || s > 0;
        for (int32_t d0 = 0; d0 < ws->n_dst; d0 += ws->blk_dst)
            adc_block(a, y_s, batch, ws->n_dst, d0, min_i32(d0 + ws->blk_dst, ws->n_dst), y, add);
    }
}

/* Without noise a re-read repeats the last one bit for bit (the same partial sums through the
 * same converters, a calibrated ADC included): mvm keeps its output and mvm_again copies it. */
static void analog_mvm(eqs_tile *t, const eqs_real *x, int32_t batch, eqs_real *y, bool acc)
{
    analog_tile *a = an(t);
    read_ws *ws = &a->fwd;
    read_prepare(t, ws, false, x, batch);
    read_finish(t, ws, false, batch, y, acc);
    ws->y_kept = !acc && !a->dev_noise && !(a->hw.periphery.out_noise > 0) &&
                 a->hw.periphery.adc_bits != 0; /* without an ADC a re-read is a copy anyway */
    if (ws->y_kept)
        memcpy(ws->tmp, y, sizeof(eqs_real) * (size_t)batch * (size_t)ws->n_dst);
}

static void analog_mvm_again(eqs_tile *t, int32_t batch, eqs_real *y, bool acc)
{
    read_ws *ws = &an(t)->fwd;
    if (batch != ws->batch)
        eqs_abort(__FILE__, __LINE__, "eqs_tile_mvm_again: batch %d, but the last mvm had %d",
                  batch, ws->batch);
    if (ws->y_kept && !acc) {
        memcpy(y, ws->tmp, sizeof(eqs_real) * (size_t)batch * (size_t)ws->n_dst);
        return;
    }
    read_finish(t, ws, false, batch, y, acc);
}

static void analog_mvm_t(eqs_tile *t, const eqs_real *y, int32_t batch, eqs_real *x, bool acc)
{
    read_prepare(t, &an(t)->bwd, true, y, batch);
    read_finish(t, &an(t)->bwd, true, batch, x, acc);
}

/* ---- updates ---------------------------------------------------------------------------- */

/* Programs every pair so that (G+ - G-) / g_ref = w (+ dw) (write-verify, no pulses).
 * One-sided updates only ever raise a device, so both start low: the difference to the pair's
 * own lower bounds goes on one device, the other sits at its g_lo. When both devices move (each
 * takes half of every update, one up, one down), both start from the middle of their own ranges
 * and split the difference: each keeps room to move either way — a device parked at g_lo could
 * not take its half of a decrease. */
EQS_HOT static void pair_targets(analog_tile *a, const eqs_real *w, const eqs_real *dw)
{
    const float *lo_p = eqs_device_g_lo(a->gp), *lo_m = eqs_device_g_lo(a->gm);
    const float *hi_p = eqs_device_g_hi(a->gp), *hi_m = eqs_device_g_hi(a->gm);
    const float gr = (float)a->g_ref_sie;
    if (a->hw.update.one_sided) {
        for (size_t k = 0; k < a->n; k++) {
            float target = (float)(dw ? w[k] + dw[k] : w[k]);
            float d = target * gr - (lo_p[k] - lo_m[k]);
            a->fa[k] = lo_p[k] + (d > 0 ? d : 0);
            a->fb[k] = lo_m[k] + (d < 0 ? -d : 0);
        }
    } else {
        for (size_t k = 0; k < a->n; k++) {
            float target = (float)(dw ? w[k] + dw[k] : w[k]);
            float mid_p = 0.5f * (lo_p[k] + hi_p[k]), mid_m = 0.5f * (lo_m[k] + hi_m[k]);
            float d = target * gr - (mid_p - mid_m);
            a->fa[k] = mid_p + 0.5f * d;
            a->fb[k] = mid_m - 0.5f * d;
        }
    }
}

static void program_pairs(analog_tile *a, const eqs_real *w, const eqs_real *dw)
{
    pair_targets(a, w, dw);
    eqs_device_program(a->gp, a->fa, NULL);
    eqs_device_program(a->gm, a->fb, NULL);
}

/* n[k] = the nominal number of pulses from the cell's g_lo to target[k], rounded. */
static void nominal_counts(const eqs_device_array *d, const float *target, int32_t *n, size_t len)
{
    const eqs_device_config *c = eqs_device_array_config(d);
    const float *lo = eqs_device_g_lo(d);
    const float inv_step = (float)(c->n_states / (c->g_max_sie - c->g_min_sie));
    for (size_t k = 0; k < len; k++) {
        float v = (target[k] - lo[k]) * inv_step + 0.5f;
        n[k] = v > 0 ? (int32_t)v : 0;
    }
}

/* array.write: pulses — open-loop programming as a chip without verify would do it: reset every
 * device, then the nominal number of pulses towards its target through the device model, so a
 * device of n states ends on one of its own levels, shaped by its response and its noise. (Not
 * charged to the ledger: it is the initial programming, not the learning.) */
static void program_by_pulses(analog_tile *a, const eqs_real *w)
{
    pair_targets(a, w, NULL);
    eqs_device_reset(a->gp, NULL);
    eqs_device_reset(a->gm, NULL);
    nominal_counts(a->gp, a->fa, a->np, a->n);
    nominal_counts(a->gm, a->fb, a->nm, a->n);
    eqs_device_pulse(a->gp, a->np);
    eqs_device_pulse(a->gm, a->nm);
}

/* Bit b set when pair c + b (b < 64, c + b < n) has a nonzero count on either device: a flag
 * byte per pair (vectorises), then 8 bytes -> 8 bits at a time (bytes are 0/1: no carries). */
static inline uint64_t nonzero_mask(const int32_t *restrict np, const int32_t *restrict nm,
                                    size_t c, size_t n)
{
    size_t len = n - c < 64 ? n - c : 64;
    uint8_t nz[64] = {0};
    for (size_t b = 0; b < len; b++)
        nz[b] = (np[c + b] | nm[c + b]) != 0;
    uint64_t mask = 0;
    for (int q = 0; q < 8; q++) {
        uint64_t v;
        memcpy(&v, nz + 8 * q, 8);
        mask |= ((v * 0x0102040810204080ull) >> 56) << (8 * q);
    }
    return mask;
}

/* Lists the pairs with a nonzero count on either device in touched[] (in cell order, 64 pairs at
 * a time: a bit mask of the nonzero counts, built without branches, then its set bits), and
 * charges the ledger over them: pulses by polarity and the sum of each pulsed cell's G at the
 * start of the update (the same sum, in the same order, as over every pair: a zero count adds
 * an exact 0). */
EQS_HOT static size_t active_pairs(analog_tile *a, const int32_t *restrict np,
                                   const int32_t *restrict nm, uint64_t *up_out, uint64_t *down_out,
                                   double *gsum_out)
{
    const float *gp = eqs_device_g(a->gp), *gm = eqs_device_g(a->gm);
    size_t n = a->n, m = 0;
    uint64_t up = 0, down = 0;
    double gsum = 0;
    for (size_t c = 0; c < n; c += 64) {
        uint64_t mask = nonzero_mask(np, nm, c, n);
        while (mask) {
            size_t k = c + (size_t)__builtin_ctzll(mask);
            mask &= mask - 1;
            int32_t p = np[k], q = nm[k];
            uint32_t ap = (uint32_t)(p < 0 ? -p : p), am = (uint32_t)(q < 0 ? -q : q);
            up += (p > 0 ? ap : 0) + (q > 0 ? am : 0);
            down += (p < 0 ? ap : 0) + (q < 0 ? am : 0);
            gsum += (double)ap * gp[k] + (double)am * gm[k];
            a->touched[m++] = (uint32_t)k;
        }
    }
    *up_out = up;
    *down_out = down;
    *gsum_out = gsum;
    return m;
}

/* Applies signed device pulse counts (+ = potentiate) to G+ and G-, charging the ledger:
 * pulses by polarity and the sum of each pulsed cell's G at the start of the update. Records
 * the pulsed pairs for end_update. */
static void apply_counts(eqs_tile *t, const int32_t *np, const int32_t *nm)
{
    analog_tile *a = an(t);
    uint64_t up, down;
    double gsum;
    a->n_active = active_pairs(a, np, nm, &up, &down, &gsum);
    a->active_ok = true;
    eqs_tile_counts *c = tile_counts(t);
    c->pulses_up += up;
    c->pulses_down += down;
    c->pulse_g_sum_sie += gsum;
    if (up + down == 0)
        return;
    eqs_device_pulse(a->gp, np);
    eqs_device_pulse(a->gm, nm);
}

/* Lists the pairs with a nonzero count on either device in touched[] (in cell order, 64 pairs at
 * a time, as active_pairs, without the ledger). */
EQS_HOT static size_t list_pairs(analog_tile *a, const int32_t *restrict np,
                                 const int32_t *restrict nm)
{
    size_t n = a->n, m = 0;
    for (size_t c = 0; c < n; c += 64) {
        uint64_t mask = nonzero_mask(np, nm, c, n);
        while (mask) {
            a->touched[m++] = (uint32_t)(c + (size_t)__builtin_ctzll(mask));
            mask &= mask - 1;
        }
    }
    return m;
}

/* dW -> pulse counts by stochastic rounding with the mean step of the device that will move,
 * at its current G (docs/tile.md), and the pulses, in one sweep per device
 * (eqs_device_round_and_pulse: it evaluates only the step of the direction asked for, and
 * steps the cells with one pulse in the same pass). One-sided: G+ potentiates for dW > 0, G-
 * for dW < 0, one uniform per pair (element k of ceil(n/4) blocks of the PULSE_ROUND stream).
 * Both: G+ by dW/2 and G- by -dW/2, each its own uniform (G-: the next ceil(n/4) blocks).
 * The ledger comes from the devices: pulses by polarity, sum |count| G at the start (G+ then
 * G-, each in cell order). */
static void convert_and_pulse(eqs_tile *t, const eqs_real *dw)
{
    analog_tile *a = an(t);
    uint64_t blocks = (a->n + 3) / 4;
    bool one = a->hw.update.one_sided != 0;
    eqs_device_uniforms up = {a->seed, EQS_RNG_PULSE_ROUND, a->id, a->round_block}, um = up;
    if (!one)
        um.block0 += blocks; /* G-: the next ceil(n/4) blocks */
    a->round_block += one ? blocks : 2 * blocks;
    const float gr = (float)a->g_ref_sie, maxp = (float)a->hw.update.max_pulses;
    eqs_device_ledger lp, lm;
    if (one) {
        eqs_device_round_and_pulse(a->gp, dw, gr, 1, &up, maxp, a->np, &lp);
        eqs_device_round_and_pulse(a->gm, dw, -gr, 1, &um, maxp, a->nm, &lm);
    } else {
        eqs_device_round_and_pulse(a->gp, dw, 0.5f * gr, 0, &up, maxp, a->np, &lp);
        eqs_device_round_and_pulse(a->gm, dw, -0.5f * gr, 0, &um, maxp, a->nm, &lm);
    }
    a->n_active = list_pairs(a, a->np, a->nm);
    a->active_ok = true;
    eqs_tile_counts *c = tile_counts(t);
    c->pulses_up += lp.up + lm.up;
    c->pulses_down += lp.down + lm.down;
    c->pulse_g_sum_sie += lp.g_sum_sie + lm.g_sum_sie;
}

/* The pairs to refresh: mask[k] = 1 when a device is within thr (g_hi - g_lo) of its g_hi, with
 * fa[k] = their difference G+ - G- to program back (0 elsewhere); returns their number.
 * Branch-free, so that it vectorises. */
EQS_HOT static size_t near_pairs(size_t n, float thr, const float *restrict gp,
                                 const float *restrict gm, const float *restrict hp,
                                 const float *restrict hm, const float *restrict lp,
                                 const float *restrict lm, uint8_t *restrict mask,
                                 float *restrict fa)
{
    uint32_t count = 0; /* < 2^32 pairs (device arrays) */
    for (size_t k = 0; k < n; k++) {
        int32_t near =
            (gp[k] >= hp[k] - thr * (hp[k] - lp[k])) | (gm[k] >= hm[k] - thr * (hm[k] - lm[k]));
        mask[k] = (uint8_t)near;
        count += (uint32_t)near;
        fa[k] = near ? gp[k] - gm[k] : 0;
    }
    return count;
}

/* Refresh (docs/tile.md): a pair with a device within refresh_threshold of its g_hi is read,
 * both devices are reset, and the difference is programmed back with pulses on one device. */
static void refresh_pairs(eqs_tile *t)
{
    analog_tile *a = an(t);
    const float thr = (float)a->hw.array.refresh_threshold;
    if (!(thr > 0))
        return;
    const float *gp = eqs_device_g(a->gp), *gm = eqs_device_g(a->gm);
    const float *hp = eqs_device_g_hi(a->gp), *hm = eqs_device_g_hi(a->gm);
    const float *lp = eqs_device_g_lo(a->gp), *lm = eqs_device_g_lo(a->gm);
    size_t count = near_pairs(a->n, thr, gp, gm, hp, hm, lp, lm, a->mask, a->fa);
    if (count == 0)
        return;
    double gsum = 0; /* the two reset pulses at the G they meet (in pair order, as a sum over
                        every pair with zeros elsewhere) */
    for (size_t k = 0; k < a->n; k++)
        if (a->mask[k])
            gsum += (double)gp[k] + gm[k];
    eqs_device_reset(a->gp, a->mask);
    eqs_device_reset(a->gm, a->mask);
    uint64_t pulses = 0;
    for (size_t k = 0; k < a->n; k++) {
        a->np[k] = a->nm[k] = 0;
        if (!a->mask[k])
            continue;
        double dg = (double)a->fa[k] - ((double)gp[k] - gm[k]); /* still to program */
        if (a->ideal_dev) {
            a->fb[k] = gp[k] + (float)(dg > 0 ? dg : 0);
            a->fc[k] = gm[k] + (float)(dg < 0 ? -dg : 0);
            continue;
        }
        if (dg > 0)
            a->np[k] = eqs_device_pulses_for(a->gp, k, dg);
        else if (dg < 0)
            a->nm[k] = eqs_device_pulses_for(a->gm, k, -dg);
        int32_t c = a->np[k] + a->nm[k];
        pulses += (uint64_t)(c < 0 ? -c : c);
        gsum += (double)(c < 0 ? -c : c) * (dg > 0 ? gp[k] : gm[k]);
    }
    if (a->ideal_dev) {
        eqs_device_program(a->gp, a->fb, a->mask);
        eqs_device_program(a->gm, a->fc, a->mask);
    } else if (pulses) {
        eqs_device_pulse(a->gp, a->np);
        eqs_device_pulse(a->gm, a->nm);
    }
    eqs_tile_counts *c = tile_counts(t);
    c->refresh_pairs += count;
    c->refresh_pulses += 2 * (uint64_t)count + pulses;
    c->pulses_down += 2 * (uint64_t)count; /* the resets */
    c->pulses_up += pulses;
    c->pulse_g_sum_sie += gsum;
}

/* An update starts: nothing pulsed yet. */
static void begin_update(analog_tile *a)
{
    a->active_ok = false;
    a->n_active = 0;
}

/* Refresh, caches, and the achieved update last = W after - W before. When only the pairs
 * apply_counts listed changed (no refresh, no IR drop, whose attenuation couples every cell of
 * a line), only they are recomputed, and last is kept sparse: the entries of the previous
 * sparse update are cleared instead of the whole array. */
static void end_update(eqs_tile *t)
{
    analog_tile *a = an(t);
    bool sparse = a->active_ok && !a->ir && !(a->hw.array.refresh_threshold > 0);
    if (!sparse) {
        refresh_pairs(t);
        refresh_cache_last(t, a->last);
        a->last_sparse = false;
        return;
    }
    if (a->last_sparse)
        for (size_t j = 0; j < a->n_touched; j++)
            a->last[a->touched_prev[j]] = 0;
    else
        memset(a->last, 0, sizeof(eqs_real) * a->n);
    refresh_cache_cells(a, a->touched, a->n_active);
    uint32_t *tmp = a->touched_prev;
    a->touched_prev = a->touched;
    a->touched = tmp;
    a->n_touched = a->n_active;
    a->last_sparse = true;
}

/* Exactly programmable devices: the pairs programmed to W + dW (bounded by the devices), then
 * the caches and last in one pass. */
static void apply_exact(eqs_tile *t, const eqs_real *dw)
{
    analog_tile *a = an(t);
    program_pairs(a, a->w, dw);
    refresh_pairs(t);
    refresh_cache_last(t, a->last);
    a->last_sparse = false;
}

static void apply_dw(eqs_tile *t, const eqs_real *dw)
{
    analog_tile *a = an(t);
    if (a->ideal_dev) {
        apply_exact(t, dw); /* exactly programmable: the float update, bounded */
        return;
    }
    begin_update(a);
    convert_and_pulse(t, dw);
    end_update(t);
}

static void analog_update_delta(eqs_tile *t, const eqs_real *dw)
{
    apply_dw(t, dw);
}

/* 64-bit popcount with shifts and adds only (no popcnt before SSE4.2: this vectorises). */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    x += x >> 8;
    x += x >> 16;
    x += x >> 32;
    return x & 0x7f;
}

/* The pulse train of each line: bit s set with probability min(1, c |v_i|). */
static void pulse_trains(analog_tile *a, const eqs_real *v, int32_t n, double c, uint64_t *mask)
{
    int32_t bl = a->hw.update.bl;
    float *u = a->fu;
    a->round_block += eqs_rng_fill_uniform_f32(u, (size_t)n * (size_t)bl, a->seed,
                                               EQS_RNG_PULSE_ROUND, a->id, a->round_block);
    for (int32_t i = 0; i < n; i++) {
        float p = (float)(c * fabs((double)v[i]));
        uint64_t m = 0;
        for (int32_t s = 0; s < bl; s++)
            m |= (uint64_t)(u[(size_t)i * bl + s] < p) << s;
        mask[i] = m;
    }
}

/* Stochastic pulse trains (Gokmen & Vlasov 2016) with aihwkit's update management: per sample,
 * row o fires in each of the bl slots with probability c_a |a_o|, column i with c_b |b_i|, and
 * each coincidence moves the pair by one nominal step dwc in the direction of sign(scale a_o
 * b_i). E[dW] = dwc bl c_a c_b |a_o b_i| = |scale| |a_o b_i| when c_a c_b = |scale| / (dwc bl);
 * c_a / c_b = max|b| / max|a| makes the two largest probabilities equal (update management).
 * Probabilities above 1 saturate (the update then falls short). The counts of all samples are
 * summed per pair and applied as one net count (a batch-accumulating controller). */
static void coincidence_update(eqs_tile *t, const eqs_real *av, const eqs_real *bv, int32_t batch,
                               eqs_real scale)
{
    analog_tile *a = an(t);
    bool one = a->hw.update.one_sided != 0;
    double dwc = eqs_tile_dw_min(t) * (one ? 1 : 2); /* both devices move per coincidence */
    double k = fabs((double)scale) / (dwc * a->hw.update.bl);
    int32_t *restrict acc = a->np;
    memset(acc, 0, sizeof(int32_t) * a->n);
    for (int32_t b = 0; b < batch && k > 0; b++) {
        const eqs_real *ar = av + (size_t)b * t->n_out, *br = bv + (size_t)b * t->n_in;
        double amax = 0, bmax = 0;
        for (int32_t o = 0; o < t->n_out; o++)
            amax = fmax(amax, fabs((double)ar[o]));
        for (int32_t i = 0; i < t->n_in; i++)
            bmax = fmax(bmax, fabs((double)br[i]));
        if (amax == 0 || bmax == 0)
            continue;
        double ca = sqrt(k * bmax / amax), cb = sqrt(k * amax / bmax);
        pulse_trains(a, ar, t->n_out, ca, a->rmask);
        pulse_trains(a, br, t->n_in, cb, a->cmask);
        for (int32_t i = 0; i < t->n_in; i++) /* the sign rides on the column mask's sign */
            if ((br[i] < 0) != (scale < 0))
                a->cmask[i] |= (uint64_t)1 << 63; /* bl <= 63: bit 63 is free for the sign */
        for (int32_t o = 0; o < t->n_out; o++) {
            uint64_t rm = a->rmask[o];
            if (!rm)
                continue;
            int32_t so = ar[o] < 0 ? -1 : 1;
            int32_t *restrict row = acc + (size_t)o * t->n_in;
            const uint64_t *restrict cm = a->cmask;
            for (int32_t i = 0; i < t->n_in; i++) {
                int32_t c = (int32_t)popcount64(rm & cm[i]); /* rm has no bit 63 */
                int32_t sgn = (int32_t)(cm[i] >> 63) * -2 + 1;
                row[i] += so * sgn * c;
            }
        }
    }
    int32_t maxp = a->hw.update.max_pulses;
    for (size_t q = 0; q < a->n; q++) {
        int32_t c = acc[q];
        c = c > maxp ? maxp : (c < -maxp ? -maxp : c);
        a->np[q] = one ? (c > 0 ? c : 0) : c;
        a->nm[q] = one ? (c < 0 ? -c : 0) : -c;
    }
}

static void analog_update_outer(eqs_tile *t, const eqs_real *av, const eqs_real *bv, int32_t batch,
                                eqs_real scale)
{
    analog_tile *a = an(t);
    if (a->hw.update.mode == EQS_PULSE_STOCHASTIC_ROUNDING) {
        eqs_gemm(true, false, t->n_out, t->n_in, batch, scale, av, t->n_out, bv, t->n_in, 0, a->dw,
                 t->n_in);
        apply_dw(t, a->dw);
        return;
    }
    begin_update(a);
    coincidence_update(t, av, bv, batch, scale);
    apply_counts(t, a->np, a->nm);
    end_update(t);
}

/* The pulse port: n > 0 raises W. One-sided: n pulses on G+ (n > 0) or G- (n < 0). Both: the
 * count is split, ceil(|n|/2) on G+ and floor(|n|/2) on G- in opposite directions, so one count
 * is one nominal step of W either way (eqs_tile_dw_min). Given counts are applied unclipped. */
static void analog_program_pulses(eqs_tile *t, const int32_t *pulses)
{
    analog_tile *a = an(t);
    bool one = a->hw.update.one_sided != 0;
    begin_update(a);
    for (size_t k = 0; k < a->n; k++) {
        int32_t n = pulses[k], s = n < 0 ? -1 : 1, m = n < 0 ? -n : n;
        if (one) {
            a->np[k] = n > 0 ? n : 0;
            a->nm[k] = n < 0 ? -n : 0;
        } else {
            a->np[k] = s * ((m + 1) / 2);
            a->nm[k] = -s * (m / 2);
        }
    }
    apply_counts(t, a->np, a->nm);
    end_update(t);
}

static double analog_dw_min(const eqs_tile *t)
{
    const eqs_hw_config *hw = &an(t)->hw;
    return hw->array.w_max / hw->device.n_states;
}

static void analog_last_update(const eqs_tile *t, eqs_real *dw)
{
    memcpy(dw, an(t)->last, sizeof(eqs_real) * an(t)->n);
}

static void analog_advance_time(eqs_tile *t, double dt_s)
{
    analog_tile *a = an(t);
    eqs_device_advance_time(a->gp, dt_s);
    eqs_device_advance_time(a->gm, dt_s);
    refresh_cache(t);
}

static void analog_read(const eqs_tile *t, eqs_real *w)
{
    memcpy(w, an(t)->w, sizeof(eqs_real) * an(t)->n);
}

static void analog_write(eqs_tile *t, const eqs_real *w)
{
    analog_tile *a = an(t);
    if (a->hw.array.write == EQS_WRITE_PULSES && !a->ideal_dev)
        program_by_pulses(a, w);
    else
        program_pairs(a, w, NULL);
    refresh_cache(t);
}

static bool analog_is_exact(const eqs_tile *t)
{
    return an(t)->exact;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

/* The identity (seed, id), the running offsets of the read and pulse-rounding streams, and every
 * field of both device arrays (prefixed gp. / gm.). The caches derive from the conductances and
 * are rebuilt on load; last_update is not part of the state (it reads zero after a load, as after
 * a write), and neither are the read workspaces (mvm_again follows an mvm). */
static int analog_state_fields(eqs_tile *t, eqs_state_field *f, int max)
{
    analog_tile *a = an(t);
    EQS_ASSERT(max >= 4 + 2 * EQS_DEVICE_STATE_FIELDS);
    int m = 0;
    eqs_state_field own[4] = {
        {.name = "seed", .data = &a->seed, .elem_size = sizeof a->seed, .check = 1, .count = 1},
        {.name = "id", .data = &a->id, .elem_size = sizeof a->id, .check = 1, .count = 1},
        {.name = "read_block", .data = &a->read_block, .elem_size = 8, .count = 1},
        {.name = "round_block", .data = &a->round_block, .elem_size = 8, .count = 1},
    };
    for (int i = 0; i < 4; i++)
        f[m++] = own[i];
    eqs_device_array *dev[2] = {a->gp, a->gm};
    const char *prefix[2] = {"gp.", "gm."};
    for (int d = 0; d < 2; d++) {
        eqs_state_field df[EQS_DEVICE_STATE_FIELDS];
        int nd = eqs_device_state_fields(dev[d], df);
        for (int i = 0; i < nd; i++) {
            f[m] = df[i];
            snprintf(f[m].name, sizeof f[m].name, "%s%.28s", prefix[d], df[i].name);
            m++;
        }
    }
    return m;
}

/* After a load wrote the device state: what derives from it, as after a write. */
static void analog_state_loaded(eqs_tile *t)
{
    analog_tile *a = an(t);
    eqs_device_state_restored(a->gp);
    eqs_device_state_restored(a->gm);
    refresh_cache(t);
    memset(a->last, 0, sizeof(eqs_real) * a->n);
    a->last_sparse = false;
    a->n_touched = 0;
}

static void analog_destroy(eqs_tile *t)
{
    analog_tile *a = an(t);
    if (!a)
        return;
    eqs_device_array_destroy(a->gp);
    eqs_device_array_destroy(a->gm);
    if (a->w_read != a->w)
        eqs_free(a->w_read);
    void *bufs[] = {a->w,    a->v,     a->sd_p,  a->sd_m,    a->dw,          a->last, a->fa,
                    a->fb,   a->fc,    a->fd,    a->fu,      a->line,        a->np,   a->nm,
                    a->mask, a->rmask, a->cmask, a->touched, a->touched_prev};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        eqs_free(bufs[i]);
    ws_free(&a->fwd);
    ws_free(&a->bwd);
    free(a);
}

static const eqs_tile_ops analog_ops = {
    .kind = "analog",
    .mvm = analog_mvm,
    .mvm_t = analog_mvm_t,
    .update_outer = analog_update_outer,
    .update_delta = analog_update_delta,
    .read = analog_read,
    .write = analog_write,
    .destroy = analog_destroy,
    .is_exact = analog_is_exact,
    .mvm_again = analog_mvm_again,
    .program_pulses = analog_program_pulses,
    .dw_min = analog_dw_min,
    .last_update = analog_last_update,
    .advance_time = analog_advance_time,
    .state_fields = analog_state_fields,
    .state_loaded = analog_state_loaded,
};

/* ---- creation ------------------------------------------------------------------------------ */

static eqs_status check_hw(const eqs_hw_config *hw, eqs_err *err)
{
    const eqs_array_config *ar = &hw->array;
    const eqs_periphery_config *pc = &hw->periphery;
    const eqs_update_config *up = &hw->update;
    if (ar->max_rows < 1 || ar->max_cols < 1)
        return eqs_err_set(err, EQS_EINVAL,
                           "analog tile: array.max_rows = %d, array.max_cols = %d must be >= 1",
                           ar->max_rows, ar->max_cols);
    if (!(ar->w_max > 0))
        return eqs_err_set(err, EQS_EINVAL, "analog tile: array.w_max = %g must be > 0", ar->w_max);
    if (!(ar->refresh_threshold >= 0 && ar->refresh_threshold < 1))
        return eqs_err_set(err, EQS_EINVAL,
                           "analog tile: array.refresh_threshold = %g must be in [0, 1)",
                           ar->refresh_threshold);
    if (!(ar->r_wire_ohm >= 0))
        return eqs_err_set(err, EQS_EINVAL, "analog tile: array.r_wire = %g ohm must be >= 0",
                           ar->r_wire_ohm);
    int32_t bits[2] = {pc->dac_bits, pc->adc_bits};
    const char *names[2] = {"periphery.dac_bits", "periphery.adc_bits"};
    for (int i = 0; i < 2; i++)
        if (bits[i] != 0 && (bits[i] < 2 || bits[i] > MAX_CONV_BITS))
            return eqs_err_set(err, EQS_EINVAL, "analog tile: %s = %d must be 0 (ideal) or 2..%d",
                               names[i], bits[i], MAX_CONV_BITS);
    if (pc->dac_bits && !(pc->dac_range > 0))
        return eqs_err_set(err, EQS_EINVAL, "analog tile: periphery.dac_range = %g must be > 0",
                           pc->dac_range);
    if (pc->adc_bits && pc->adc_range_mode == EQS_ADC_FIXED && !(pc->adc_range > 0))
        return eqs_err_set(err, EQS_EINVAL,
                           "analog tile: periphery.adc_range = %g must be > 0 with a fixed range",
                           pc->adc_range);
    if (!(pc->out_noise >= 0))
        return eqs_err_set(err, EQS_EINVAL, "analog tile: periphery.out_noise = %g must be >= 0",
                           pc->out_noise);
    if (up->max_pulses < 1)
        return eqs_err_set(err, EQS_EINVAL, "analog tile: update.max_pulses = %d must be >= 1",
                           up->max_pulses);
    if (up->mode == EQS_PULSE_COINCIDENCE && (up->bl < 1 || up->bl > 63))
        return eqs_err_set(err, EQS_EINVAL, "analog tile: update.bl = %d must be in 1..63", up->bl);
    return eqs_device_config_check(&hw->device, err);
}

static void ws_init(read_ws *ws, int32_t n_src, int32_t n_dst, int32_t blk_src, int32_t blk_dst)
{
    ws->n_src = n_src;
    ws->n_dst = n_dst;
    ws->blk_src = blk_src < n_src ? blk_src : n_src;
    ws->blk_dst = blk_dst < n_dst ? blk_dst : n_dst;
    ws->n_part = (n_src + ws->blk_src - 1) / ws->blk_src;
}

static eqs_status alloc_state(eqs_tile *t, analog_tile *a, eqs_err *err)
{
    size_t n = a->n;
    a->w = eqs_calloc(n, sizeof(eqs_real), err);
    a->w_read = a->ir ? eqs_calloc(n, sizeof(eqs_real), err) : a->w;
    a->dw = eqs_calloc(n, sizeof(eqs_real), err);
    a->last = eqs_calloc(n, sizeof(eqs_real), err);
    a->fa = eqs_calloc(n, sizeof(float), err);
    a->fb = eqs_calloc(n, sizeof(float), err);
    a->fc = eqs_calloc(n, sizeof(float), err);
    a->fd = eqs_calloc(n, sizeof(float), err);
    int32_t bl = a->hw.update.bl > 0 ? a->hw.update.bl : 1;
    size_t nu = 2 * n + 4, ntr = (size_t)bl * (size_t)(t->n_out > t->n_in ? t->n_out : t->n_in);
    a->fu = eqs_calloc(nu > ntr + 4 ? nu : ntr + 4, sizeof(float), err);
    a->line = eqs_calloc(3 * (size_t)t->n_in, sizeof(float), err);
    a->np = eqs_calloc(n, sizeof(int32_t), err);
    a->nm = eqs_calloc(n, sizeof(int32_t), err);
    a->mask = eqs_calloc(n, 1, err);
    a->touched = eqs_calloc(n, sizeof(uint32_t), err);
    a->touched_prev = eqs_calloc(n, sizeof(uint32_t), err);
    a->rmask = eqs_calloc((size_t)t->n_out, sizeof(uint64_t), err);
    a->cmask = eqs_calloc((size_t)t->n_in, sizeof(uint64_t), err);
    bool ok = a->w && a->w_read && a->dw && a->last && a->fa && a->fb && a->fc && a->fd && a->fu &&
              a->line && a->np && a->nm && a->mask && a->rmask && a->cmask && a->touched &&
              a->touched_prev;
    if (ok && a->dev_noise && !a->dev_noise_flat && !a->exact_noise)
        ok = (a->v = eqs_calloc(n, sizeof(eqs_real), err)) != NULL;
    if (ok && a->exact_noise) {
        a->sd_p = eqs_calloc(n, sizeof(float), err);
        a->sd_m = eqs_calloc(n, sizeof(float), err);
        ok = a->sd_p && a->sd_m;
    }
    return ok ? EQS_OK : EQS_ENOMEM;
}

eqs_status eqs_tile_create_analog(eqs_tile **out, int32_t n_out, int32_t n_in,
                                  const eqs_hw_config *hw, uint64_t seed, uint32_t id, eqs_err *err)
{
    if (n_out < 1 || n_in < 1)
        return eqs_err_set(err, EQS_EINVAL, "analog tile: size %d x %d must be positive", n_out,
                           n_in);
    eqs_status st = check_hw(hw, err);
    if (st != EQS_OK)
        return st;
    eqs_tile *t = calloc(1, sizeof *t);
    analog_tile *a = calloc(1, sizeof *a);
    if (!t || !a) {
        free(t);
        free(a);
        return eqs_err_set(err, EQS_ENOMEM, "analog tile: out of memory");
    }
    t->ops = &analog_ops;
    t->n_out = n_out;
    t->n_in = n_in;
    t->impl = a;
    a->hw = *hw;
    a->seed = seed;
    a->id = id;
    a->n = (size_t)n_out * (size_t)n_in;
    const eqs_device_config *dc = &hw->device;
    a->g_ref_sie = (dc->g_max_sie - dc->g_min_sie) / hw->array.w_max;
    a->inv_g_ref = (float)(1.0 / a->g_ref_sie);
    a->ideal_dev = dc->kind == EQS_DEV_IDEAL;
    a->dev_noise = dc->read_noise_rel > 0 || dc->read_noise_sie > 0;
    a->dev_noise_flat = a->dev_noise && dc->read_noise_rel == 0;
    a->v_flat =
        (eqs_real)(2 * dc->read_noise_sie * dc->read_noise_sie / (a->g_ref_sie * a->g_ref_sie));
    a->exact_noise = a->dev_noise && hw->periphery.exact_read_noise != 0;
    a->ir = hw->array.r_wire_ohm > 0;
    a->exact = !a->dev_noise && !a->ir && hw->periphery.dac_bits == 0 &&
               hw->periphery.adc_bits == 0 && hw->periphery.out_noise == 0;
    int32_t br = min_i32(hw->array.max_rows, n_out), bc = min_i32(hw->array.max_cols, n_in);
    t->grid_rows = (n_out + br - 1) / br;
    t->grid_cols = (n_in + bc - 1) / bc;
    ws_init(&a->fwd, n_in, n_out, bc, br);
    ws_init(&a->bwd, n_out, n_in, br, bc);
    st = eqs_device_array_create(&a->gp, dc, a->n, seed, 2 * id, err);
    if (st == EQS_OK)
        st = eqs_device_array_create(&a->gm, dc, a->n, seed, 2 * id + 1, err);
    if (st == EQS_OK)
        st = alloc_state(t, a, err);
    if (st != EQS_OK) {
        eqs_tile_destroy(t);
        return err && err->code != EQS_OK ? st : eqs_err_set(err, st, "analog tile: out of memory");
    }
    bool nominal = hw->update.pulse_step == EQS_STEP_NOMINAL; /* hwconfig update.pulse_step */
    eqs_device_set_nominal_rounding(a->gp, nominal);
    eqs_device_set_nominal_rounding(a->gm, nominal);
    refresh_cache(t);
    *out = t;
    return EQS_OK;
}
