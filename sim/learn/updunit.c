/* updunit.c — bit-exact model of the RTL update units (rtl/upd_core.v and its two wrappers).
 *
 * Every function here mirrors one piece of the datapath, stage by stage, with the same widths:
 * operand decode (S1), contrast and accumulation (S2), scaling (S3), rounding and saturation
 * (S4), and the per-lane xorshift32 generator. The float reference and the error bound at the
 * end are not hardware: they are what the fixed-point result is checked against. Not here: the
 * verilated RTL itself (rtl/), and the choice of k from a learning rate (the caller's).
 */
#include "eqs/updunit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/updunit_formats.h"

#define LANE_STRIDE 0x9E3779B9u /* 2^32 / golden ratio: spreads the lanes' seeds */

/* Decoded mode: the control bits upd_core.v receives from its wrapper. */
typedef struct ctl {
    int c_is_a, c_zero, d_is_b, one, neg1, neg2;
} ctl;

static ctl decode_ep(int32_t mode)
{
    switch (mode) {
    case EQS_UPDUNIT_EP_VF_POST:
        return (ctl){.d_is_b = 1, .neg2 = 1};
    case EQS_UPDUNIT_EP_VF_PRE:
        return (ctl){.c_is_a = 1, .neg2 = 1};
    case EQS_UPDUNIT_EP_BIAS:
        return (ctl){.one = 1, .neg2 = 1};
    case EQS_UPDUNIT_EP_READOUT:
        return (ctl){.neg1 = 1, .neg2 = 1};
    case EQS_UPDUNIT_EP_READOUT_BIAS:
        return (ctl){.one = 1, .neg1 = 1, .neg2 = 1};
    default: /* CONTRAST, and the unused codes as in the RTL's case default */
        return (ctl){.neg2 = 1};
    }
}

static ctl decode_pepita(int32_t mode)
{
    switch (mode) {
    case EQS_UPDUNIT_PEP_OUTPUT:
        return (ctl){.c_zero = 1, .neg1 = 1};
    case EQS_UPDUNIT_PEP_HIDDEN_BIAS:
        return (ctl){.one = 1, .neg1 = 1};
    case EQS_UPDUNIT_PEP_OUTPUT_BIAS:
        return (ctl){.c_zero = 1, .one = 1, .neg1 = 1};
    default: /* HIDDEN */
        return (ctl){.d_is_b = 1, .neg1 = 1};
    }
}

static ctl decode(const eqs_updunit *u)
{
    return u->kind == EQS_UPDUNIT_EP ? decode_ep(u->cfg.mode) : decode_pepita(u->cfg.mode);
}

static int32_t n_modes(eqs_updunit_kind kind)
{
    return kind == EQS_UPDUNIT_EP ? 6 : 4;
}

/* ---- formats ---------------------------------------------------------------------------- */

void eqs_updunit_format_default(eqs_updunit_kind kind, eqs_updunit_format *fmt)
{
    fmt->state_w = kind == EQS_UPDUNIT_EP ? EQS_UPDUNIT_EP_STATE_W : EQS_UPDUNIT_PEP_STATE_W;
    fmt->state_f = kind == EQS_UPDUNIT_EP ? EQS_UPDUNIT_EP_STATE_F : EQS_UPDUNIT_PEP_STATE_F;
    fmt->scale_w = EQS_UPDUNIT_SCALE_W;
    fmt->shift_w = EQS_UPDUNIT_SHIFT_W;
    fmt->acc_log2 = EQS_UPDUNIT_ACC_LOG2;
    fmt->out_w = EQS_UPDUNIT_OUT_W;
    fmt->p_max = EQS_UPDUNIT_P_MAX;
    fmt->lanes = EQS_UPDUNIT_LANES;
}

int32_t eqs_updunit_acc_w(const eqs_updunit_format *fmt)
{
    return 2 * (fmt->state_w + 1) + 1 + fmt->acc_log2;
}

int32_t eqs_updunit_scaled_w(const eqs_updunit_format *fmt)
{
    return eqs_updunit_acc_w(fmt) + fmt->scale_w + 1;
}

int32_t eqs_updunit_shift_max(const eqs_updunit_format *fmt)
{
    return eqs_updunit_scaled_w(fmt) - 1;
}

static eqs_status range(eqs_err *err, const char *name, int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo || v > hi)
        return eqs_err_set(err, EQS_EINVAL, "update unit format: %s = %d, expected %d .. %d", name,
                           (int)v, (int)lo, (int)hi);
    return EQS_OK;
}

eqs_status eqs_updunit_format_check(const eqs_updunit_format *fmt, eqs_err *err)
{
    eqs_status st;
    if ((st = range(err, "state_w", fmt->state_w, 2, 24)) ||
        (st = range(err, "state_f", fmt->state_f, 1, fmt->state_w - 1)) ||
        (st = range(err, "scale_w", fmt->scale_w, 1, 31)) ||
        (st = range(err, "shift_w", fmt->shift_w, 1, 6)) ||
        (st = range(err, "acc_log2", fmt->acc_log2, 0, 20)) ||
        (st = range(err, "out_w", fmt->out_w, 2, 32)) ||
        (st = range(err, "p_max", fmt->p_max, 1, (int32_t)((1ll << (fmt->out_w - 1)) - 1))) ||
        (st = range(err, "lanes", fmt->lanes, 1, EQS_UPDUNIT_LANES_MAX)))
        return st;
    /* 62: the scaled value plus the rounding offset must fit an int64 */
    return range(err, "acc_w + scale_w + 1 (the scaled width)", eqs_updunit_scaled_w(fmt), 8, 62);
}

int32_t eqs_updunit_quantize(const eqs_updunit_format *fmt, int is_signed, double x, int *clipped)
{
    int64_t lo = is_signed ? -(1ll << (fmt->state_w - 1)) : 0;
    int64_t hi = is_signed ? (1ll << (fmt->state_w - 1)) - 1 : (1ll << fmt->state_w) - 1;
    double v = ldexp(x, fmt->state_f);
    int clip = 0;
    int64_t q;
    if (isnan(v)) {
        q = 0;
    } else if (v >= (double)hi + 0.5) {
        q = hi, clip = v > (double)hi + 0.5;
    } else if (v <= (double)lo - 0.5) {
        q = lo, clip = v < (double)lo - 0.5;
    } else {
        q = (int64_t)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5)); /* ties away from zero */
    }
    if (clipped)
        *clipped = clip;
    return (int32_t)q;
}

double eqs_updunit_scale_decode(const eqs_updunit_format *fmt, uint32_t scale_m, int32_t shift)
{
    int32_t s = shift < eqs_updunit_shift_max(fmt) ? shift : eqs_updunit_shift_max(fmt);
    return ldexp((double)scale_m, 2 * fmt->state_f - s);
}

eqs_status eqs_updunit_scale_encode(const eqs_updunit_format *fmt, double k, uint32_t *scale_m,
                                    int32_t *shift, eqs_err *err)
{
    double m_max = ldexp(1.0, fmt->scale_w) - 1.0;
    int32_t s_max = (1 << fmt->shift_w) - 1;
    if (s_max > eqs_updunit_shift_max(fmt))
        s_max = eqs_updunit_shift_max(fmt);
    if (!(k >= 0.0) || !isfinite(k))
        return eqs_err_set(err, EQS_EINVAL, "update unit scale k = %g: must be finite, >= 0", k);
    *scale_m = 0, *shift = 0;
    if (k == 0.0)
        return EQS_OK;
    double k_int = ldexp(k, -2 * fmt->state_f); /* output LSBs per integer contrast unit */
    int32_t s = s_max;
    while (s >= 0 && floor(ldexp(k_int, s) + 0.5) > m_max)
        s--;
    if (s < 0)
        return eqs_err_set(err, EQS_EINVAL,
                           "update unit scale k = %g: above the largest "
                           "representable %g",
                           k, ldexp(m_max, 2 * fmt->state_f));
    double m = floor(ldexp(k_int, s) + 0.5);
    if (m == 0.0)
        return eqs_err_set(err, EQS_EINVAL,
                           "update unit scale k = %g: below the resolution "
                           "%g (raise scale_w or shift_w)",
                           k, ldexp(0.5, 2 * fmt->state_f - s));
    *scale_m = (uint32_t)m, *shift = s;
    return EQS_OK;
}

/* ---- the unit ----------------------------------------------------------------------------- */

uint32_t eqs_updunit_lfsr_next(uint32_t x)
{
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

void eqs_updunit_reseed(eqs_updunit *u, uint32_t seed)
{
    for (int32_t l = 0; l < EQS_UPDUNIT_LANES_MAX; l++) {
        uint32_t s = seed + (uint32_t)l * LANE_STRIDE;
        u->lfsr[l] = s ? s : 1u;
    }
}

eqs_status eqs_updunit_configure(eqs_updunit *u, const eqs_updunit_cfg *cfg, eqs_err *err)
{
    const eqs_updunit_format *f = &u->fmt;
    if (cfg->mode < 0 || cfg->mode >= n_modes(u->kind))
        return eqs_err_set(err, EQS_EINVAL, "update unit: mode %d is not a %s mode", (int)cfg->mode,
                           u->kind == EQS_UPDUNIT_EP ? "EP" : "PEPITA");
    if ((uint64_t)cfg->scale_m >> f->scale_w)
        return eqs_err_set(err, EQS_EINVAL, "update unit: scale_m %u needs more than %d bits",
                           cfg->scale_m, (int)f->scale_w);
    if (cfg->shift < 0 || cfg->shift >= (1 << f->shift_w))
        return eqs_err_set(err, EQS_EINVAL, "update unit: shift %d outside 0 .. %d",
                           (int)cfg->shift, (1 << f->shift_w) - 1);
    u->cfg = *cfg;
    return EQS_OK;
}

eqs_status eqs_updunit_init(eqs_updunit *u, eqs_updunit_kind kind, const eqs_updunit_format *fmt,
                            const eqs_updunit_cfg *cfg, uint32_t seed, eqs_err *err)
{
    eqs_status st = eqs_updunit_format_check(fmt, err);
    if (st != EQS_OK)
        return st;
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->fmt = *fmt;
    eqs_updunit_reseed(u, seed);
    return eqs_updunit_configure(u, cfg, err);
}

/* The low w bits of a port code, read as unsigned or two's complement (S1's sign extension). */
static int64_t operand(uint32_t code, int32_t w, int is_signed)
{
    uint64_t v = code & ((1ull << w) - 1);
    if (is_signed && (v >> (w - 1)))
        return (int64_t)v - (int64_t)(1ull << w);
    return (int64_t)v;
}

/* x modulo 2^w as a w-bit two's complement number (the accumulator's wrap-around). */
static int64_t wrap(int64_t x, int32_t w)
{
    uint64_t m = (1ull << w) - 1, v = (uint64_t)x & m;
    if (v >> (w - 1))
        return -(int64_t)((~v & m) + 1);
    return (int64_t)v;
}

/* floor(x / 2^s) without relying on >> of negative numbers. */
static int64_t floor_shift(int64_t x, int32_t s)
{
    if (x >= 0)
        return x >> s;
    return -(int64_t)(((uint64_t)(-x) + (1ull << s) - 1) >> s);
}

/* S1 + S2's contrast: the mode's signed sum of the two products for one beat. */
static int64_t contrast(const eqs_updunit *u, ctl k, uint32_t ra, uint32_t rb, uint32_t rc,
                        uint32_t rd)
{
    int32_t w = u->fmt.state_w;
    int64_t one = 1ll << u->fmt.state_f;
    int64_t a = operand(ra, w, u->cfg.post_signed);
    int64_t b0 = operand(rb, w, u->cfg.pre_signed);
    int64_t c0 = operand(rc, w, u->cfg.post_signed);
    int64_t d0 = operand(rd, w, u->cfg.pre_signed);
    int64_t b = k.one ? one : b0;
    int64_t c = k.c_zero ? 0 : (k.c_is_a ? a : c0);
    int64_t d = k.one ? one : (k.d_is_b ? b0 : d0);
    int64_t p1 = a * b, p2 = c * d;
    return (k.neg1 ? -p1 : p1) + (k.neg2 ? -p2 : p2);
}

/* S3 + S4: scale, round, saturate; steps the lane's generator. */
static int32_t finish(eqs_updunit *u, int32_t lane, int64_t sum)
{
    const eqs_updunit_cfg *c = &u->cfg;
    int32_t s =
        c->shift < eqs_updunit_shift_max(&u->fmt) ? c->shift : eqs_updunit_shift_max(&u->fmt);
    int64_t y = sum * (int64_t)c->scale_m;
    uint32_t r = u->lfsr[lane];
    int64_t offset;
    if (c->stochastic) /* floor(r * 2^(s - 32)): uniform on [0, 2^s) */
        offset = (int64_t)(s >= 32 ? (uint64_t)r << (s - 32) : (uint64_t)r >> (32 - s));
    else /* 2^(s-1) - [y < 0], then floor: nearest, ties away from zero */
        offset = s == 0 ? 0 : (1ll << (s - 1)) - (y < 0);
    int64_t q = floor_shift(y + offset, s);
    int64_t lim = c->pulse_out ? u->fmt.p_max : (1ll << (u->fmt.out_w - 1)) - 1;
    u->lfsr[lane] = eqs_updunit_lfsr_next(r);
    return (int32_t)(q > lim ? lim : (q < -lim ? -lim : q));
}

int eqs_updunit_step(eqs_updunit *u, int32_t lane, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
                     int last, int32_t *out)
{
    int32_t acc_w = eqs_updunit_acc_w(&u->fmt);
    int64_t sum = wrap(u->acc[lane] + contrast(u, decode(u), a, b, c, d), acc_w);
    if (!last) {
        u->acc[lane] = sum;
        return 0;
    }
    u->acc[lane] = 0;
    *out = finish(u, lane, sum);
    return 1;
}

/* ---- layers ------------------------------------------------------------------------------- */

static eqs_status check_batch(const eqs_updunit *u, const eqs_updunit_batch *bt, eqs_err *err)
{
    if (bt->n < 1 || bt->n > (1 << u->fmt.acc_log2))
        return eqs_err_set(err, EQS_EINVAL, "update unit: %d samples per update, expected 1 .. %d",
                           (int)bt->n, 1 << u->fmt.acc_log2);
    if (bt->rows < 1 || bt->cols < 1)
        return eqs_err_set(err, EQS_EINVAL, "update unit: layer shape %d x %d", (int)bt->rows,
                           (int)bt->cols);
    return EQS_OK;
}

/* Quantizes n*len operands (NULL: zeros) into q; counts clips; EINVAL on a non-finite value. */
static eqs_status quantize_all(const eqs_updunit *u, const eqs_real *x, int64_t len, int is_signed,
                               int32_t *q, int64_t *n_clipped, eqs_err *err)
{
    for (int64_t i = 0; i < len; i++) {
        int clip = 0;
        if (x && !isfinite((double)x[i]))
            return eqs_err_set(err, EQS_EINVAL, "update unit: operand %lld is not finite",
                               (long long)i);
        q[i] = x ? eqs_updunit_quantize(&u->fmt, is_signed, (double)x[i], &clip) : 0;
        *n_clipped += clip;
    }
    return EQS_OK;
}

eqs_status eqs_updunit_layer(eqs_updunit *u, const eqs_updunit_batch *bt, int32_t *out,
                             int64_t *n_clipped, eqs_err *err)
{
    eqs_status st = check_batch(u, bt, err);
    if (st != EQS_OK)
        return st;
    int64_t npost = (int64_t)bt->n * bt->rows, npre = (int64_t)bt->n * bt->cols, clips = 0;
    int32_t *q = malloc(sizeof(int32_t) * (size_t)(2 * npost + 2 * npre));
    if (!q)
        return eqs_err_set(err, EQS_ENOMEM, "update unit: operands of %lld samples",
                           (long long)(2 * npost + 2 * npre));
    int32_t *qa = q, *qc = q + npost, *qb = q + 2 * npost, *qd = qb + npre;
    if ((st = quantize_all(u, bt->a, npost, u->cfg.post_signed, qa, &clips, err)) ||
        (st = quantize_all(u, bt->c, npost, u->cfg.post_signed, qc, &clips, err)) ||
        (st = quantize_all(u, bt->b, npre, u->cfg.pre_signed, qb, &clips, err)) ||
        (st = quantize_all(u, bt->d, npre, u->cfg.pre_signed, qd, &clips, err))) {
        free(q);
        return st;
    }
    ctl k = decode(u);
    int64_t total = (int64_t)bt->rows * bt->cols, lanes = u->fmt.lanes;
    int64_t padded = (total + lanes - 1) / lanes * lanes;
    int32_t acc_w = eqs_updunit_acc_w(&u->fmt);
    for (int64_t s = 0; s < padded; s++) {
        int32_t lane = (int32_t)(s % lanes);
        int64_t sum = 0;
        if (s < total) {
            int64_t i = s / bt->cols, j = s % bt->cols;
            for (int32_t n = 0; n < bt->n; n++) {
                int64_t pi = n * (int64_t)bt->rows + i, pj = n * (int64_t)bt->cols + j;
                sum = wrap(sum + contrast(u, k, (uint32_t)qa[pi], (uint32_t)qb[pj],
                                          (uint32_t)qc[pi], (uint32_t)qd[pj]),
                           acc_w);
            }
        }
        int32_t v = finish(u, lane, sum); /* padding lanes still step their generators */
        if (s < total)
            out[s] = v;
    }
    free(q);
    if (n_clipped)
        *n_clipped = clips;
    return EQS_OK;
}

static double at(const eqs_real *x, int64_t i)
{
    return x ? (double)x[i] : 0.0;
}

eqs_status eqs_updunit_layer_float(const eqs_updunit *u, const eqs_updunit_batch *bt, double k,
                                   double *out, eqs_err *err)
{
    eqs_status st = check_batch(u, bt, err);
    if (st != EQS_OK)
        return st;
    ctl m = decode(u);
    double lim = u->cfg.pulse_out ? u->fmt.p_max : ldexp(1.0, u->fmt.out_w - 1) - 1.0;
    for (int64_t i = 0; i < bt->rows; i++) {
        for (int64_t j = 0; j < bt->cols; j++) {
            double sum = 0.0;
            for (int32_t n = 0; n < bt->n; n++) {
                int64_t pi = n * (int64_t)bt->rows + i, pj = n * (int64_t)bt->cols + j;
                double a = at(bt->a, pi), b0 = at(bt->b, pj), c0 = at(bt->c, pi);
                double d0 = at(bt->d, pj);
                double b = m.one ? 1.0 : b0;
                double c = m.c_zero ? 0.0 : (m.c_is_a ? a : c0);
                double d = m.one ? 1.0 : (m.d_is_b ? b0 : d0);
                sum += (m.neg1 ? -a * b : a * b) + (m.neg2 ? -c * d : c * d);
            }
            double v = k * sum;
            out[i * bt->cols + j] = v > lim ? lim : (v < -lim ? -lim : v);
        }
    }
    return EQS_OK;
}

double eqs_updunit_error_bound(const eqs_updunit *u, double k, int32_t n, double state_abs_max)
{
    ctl m = decode(u);
    double delta = ldexp(1.0, -(u->fmt.state_f + 1)); /* operand quantization, half an LSB */
    double amax = state_abs_max + delta;              /* |quantized operand| */
    int terms = m.c_zero ? 1 : 2;
    /* |a'b' - ab| <= |a'||b' - b| + |b||a' - a| <= (amax + A) delta; with b = 1 exactly: delta */
    double e_term = m.one ? delta : (amax + state_abs_max) * delta;
    double p_term = m.one ? amax : amax * amax; /* |a'b'| */
    double k_q = eqs_updunit_scale_decode(&u->fmt, u->cfg.scale_m, u->cfg.shift);
    double rounding = u->cfg.stochastic ? 1.0 : 0.5;
    return rounding + k * n * terms * e_term + fabs(k_q - k) * n * terms * p_term;
}
