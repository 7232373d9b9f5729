/* eqs/updunit.h — bit-exact C model of the RTL update units (rtl/ep_update_unit.v,
 * rtl/pepita_update_unit.v, shared datapath rtl/upd_core.v), and a float reference of the same
 * rules.
 *
 * What it computes, per synapse (one "update"), from fixed-point operands A, C (post-synaptic)
 * and B, D (pre-synaptic) over the n samples of a mini-batch:
 *     P  = sum_n  (+-) A*B (+-) C*D       mode-dependent (below), exact integer arithmetic
 *     out = sat( round( P * m * 2^-shift ) )
 * round: nearest with ties away from zero, or stochastic (floor after adding a uniform offset
 * from a per-lane xorshift32 generator); sat: +-p_max (pulse counts) or +-(2^(out_w-1) - 1)
 * (fixed-point dW). The output is in "output LSBs": pulses, or dW / 2^-frac of the caller's dW
 * format. docs/rtl.md has the formats, the pipeline and the error bound.
 *
 * EP modes (kind EQS_UPDUNIT_EP; Laborieux et al. 2021 eqs. 38-44):
 *   CONTRAST      A*B - C*D    symmetric (s+ s+ - s- s-, k = eta/(2 beta)), one-sided
 *                              (s^b s^b - s* s*, k = eta/beta), KP-VF dense layers (both w^f, w^b)
 *   VF_POST       (A - C)*B    VF forward weights (s+_i - s-_i) s*_j
 *   VF_PRE        A*(B - D)    VF backward weights s*_i (s+_j - s-_j)
 *   BIAS          A - C        bias rule
 *   READOUT       -(A*B + C*D) readout (eq. 39: A = e+, B = s+, C = e-, D = s-, k = eta/2;
 *                              eq. 38: C = D = 0, k = eta), e = softmax - onehot
 *   READOUT_BIAS  -(A + C)
 * KP-VF's decay -eta*lambda*theta is not computed here: the controller applies it (docs/rtl.md).
 * PEPITA modes (kind EQS_UPDUNIT_PEPITA; Dellaferrera & Kreiman 2022):
 *   HIDDEN        -(A - C)*B   A = h, C = h', B = x' (the modulated pre-synaptic activity)
 *   OUTPUT        -A*B         A = e', B = h'
 *   HIDDEN_BIAS   -(A - C)     OUTPUT_BIAS  -A
 *
 * Usage (one layer of symmetric EP, pulse counts for the analog tile's pulse port):
 *     eqs_updunit_format fmt;
 *     eqs_updunit_format_default(EQS_UPDUNIT_EP, &fmt);
 *     eqs_updunit_cfg cfg = {.mode = EQS_UPDUNIT_EP_CONTRAST, .pulse_out = 1};
 *     eqs_updunit_scale_encode(&fmt, lr / (2 * beta) / dw_per_pulse, &cfg.scale_m, &cfg.shift,
 *                              &err);
 *     eqs_updunit u;
 *     eqs_updunit_init(&u, EQS_UPDUNIT_EP, &fmt, &cfg, seed, &err);
 *     eqs_updunit_batch bt = {.n = N, .rows = R, .cols = C, .a = s_pos_post, .b = s_pos_pre,
 *                             .c = s_neg_post, .d = s_neg_pre};
 *     eqs_updunit_layer(&u, &bt, pulses, NULL, &err);        // pulses: int32 [R x C]
 *
 * The struct layouts are public so a unit can live on the stack; treat their fields as
 * read-only and change them through the functions.
 */
#ifndef EQS_UPDUNIT_H
#define EQS_UPDUNIT_H

#include <stdint.h>

#include "eqs/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQS_UPDUNIT_LANES_MAX 64

typedef enum eqs_updunit_kind { EQS_UPDUNIT_EP = 0, EQS_UPDUNIT_PEPITA = 1 } eqs_updunit_kind;

typedef enum eqs_updunit_mode {
    EQS_UPDUNIT_EP_CONTRAST = 0,
    EQS_UPDUNIT_EP_VF_POST = 1,
    EQS_UPDUNIT_EP_VF_PRE = 2,
    EQS_UPDUNIT_EP_BIAS = 3,
    EQS_UPDUNIT_EP_READOUT = 4,
    EQS_UPDUNIT_EP_READOUT_BIAS = 5,
    EQS_UPDUNIT_PEP_HIDDEN = 0,
    EQS_UPDUNIT_PEP_OUTPUT = 1,
    EQS_UPDUNIT_PEP_HIDDEN_BIAS = 2,
    EQS_UPDUNIT_PEP_OUTPUT_BIAS = 3,
} eqs_updunit_mode;

/* Widths and limits: the RTL's parameters (defaults from rtl/upd_formats.def). */
typedef struct eqs_updunit_format {
    int32_t state_w;  /* operand bits (unsigned: 0 .. 2^w - 1; signed: two's complement) */
    int32_t state_f;  /* operand fractional bits: value = code * 2^-state_f */
    int32_t scale_w;  /* scale mantissa bits (unsigned), <= 31 */
    int32_t shift_w;  /* shift field bits, <= 6 */
    int32_t acc_log2; /* at most 2^acc_log2 samples per update (the accumulator's headroom) */
    int32_t out_w;    /* output bits (signed), <= 32 */
    int32_t p_max;    /* pulse-mode saturation, 1 .. 2^(out_w-1) - 1 */
    int32_t lanes;    /* synapses per beat, 1 .. EQS_UPDUNIT_LANES_MAX */
} eqs_updunit_format;

/* Run-time configuration: the RTL's cfg_* inputs. */
typedef struct eqs_updunit_cfg {
    int32_t mode;        /* eqs_updunit_mode of the unit's kind */
    int32_t post_signed; /* A and C are two's complement (errors, tanh) or unsigned (sigmoid) */
    int32_t pre_signed;  /* B and D likewise (PEPITA's x' is signed) */
    uint32_t scale_m;    /* mantissa m < 2^scale_w */
    int32_t shift;       /* right shift, 0 .. 2^shift_w - 1 (clamped to eqs_updunit_shift_max) */
    int32_t stochastic;  /* 1: stochastic rounding, 0: nearest, ties away from zero */
    int32_t pulse_out;   /* 1: saturate to +-p_max, 0: to +-(2^(out_w-1) - 1) */
} eqs_updunit_cfg;

typedef struct eqs_updunit {
    eqs_updunit_kind kind;
    eqs_updunit_format fmt;
    eqs_updunit_cfg cfg;
    int64_t acc[EQS_UPDUNIT_LANES_MAX];   /* per-lane accumulator (acc_w bits, wraps) */
    uint32_t lfsr[EQS_UPDUNIT_LANES_MAX]; /* per-lane xorshift32 state */
} eqs_updunit;

/* Floating operands of one layer and batch, row-major; a NULL operand reads as 0. */
typedef struct eqs_updunit_batch {
    int32_t n;             /* samples accumulated into each update, 1 .. 2^acc_log2 */
    int32_t rows, cols;    /* post units, pre units (cols = 1 for the bias modes) */
    const eqs_real *a, *c; /* [n x rows] */
    const eqs_real *b, *d; /* [n x cols] */
} eqs_updunit_batch;

/* ---- formats ---------------------------------------------------------------------------- */

/* The formats the RTL is built with (generated from rtl/upd_formats.def). */
void eqs_updunit_format_default(eqs_updunit_kind kind, eqs_updunit_format *fmt);
/* EQS_EINVAL naming the field when a width is out of range or the datapath would not fit the
 * model's int64 arithmetic (acc_w + scale_w + 1 <= 62). */
eqs_status eqs_updunit_format_check(const eqs_updunit_format *fmt, eqs_err *err);
/* Derived widths (bits): accumulator 2w+3+acc_log2, scaled value acc_w+scale_w+1. */
int32_t eqs_updunit_acc_w(const eqs_updunit_format *fmt);
int32_t eqs_updunit_scaled_w(const eqs_updunit_format *fmt);
/* Largest effective shift (scaled_w - 1); larger cfg.shift values are clamped to it. */
int32_t eqs_updunit_shift_max(const eqs_updunit_format *fmt);

/* Float -> operand code: round(x * 2^f), nearest with ties away from zero, saturated to the
 * format's range (unsigned 0 .. 2^w - 1, signed -2^(w-1) .. 2^(w-1) - 1); NaN gives 0.
 * *clipped (may be NULL) is set to 1 when x was outside the range. */
int32_t eqs_updunit_quantize(const eqs_updunit_format *fmt, int is_signed, double x, int *clipped);

/* k (output LSBs per unit of real contrast, e.g. eta/(2 beta)/dw_per_pulse) -> m, shift such
 * that m * 2^-shift ~ k * 2^(-2 state_f) with the most mantissa bits the shift range allows.
 * EQS_EINVAL when k < 0, not finite, too large (shift < 0), or nonzero but below resolution. */
eqs_status eqs_updunit_scale_encode(const eqs_updunit_format *fmt, double k, uint32_t *scale_m,
                                    int32_t *shift, eqs_err *err);
/* The k a (m, shift) pair represents. */
double eqs_updunit_scale_decode(const eqs_updunit_format *fmt, uint32_t scale_m, int32_t shift);

/* ---- the unit (per transaction, as the RTL sees it) -------------------------------------- */

/* Checks fmt and cfg; empties the accumulators and loads the generators from seed (as reset). */
eqs_status eqs_updunit_init(eqs_updunit *u, eqs_updunit_kind kind, const eqs_updunit_format *fmt,
                            const eqs_updunit_cfg *cfg, uint32_t seed, eqs_err *err);
/* New configuration (the RTL's cfg_* inputs; only between updates, as the RTL requires). */
eqs_status eqs_updunit_configure(eqs_updunit *u, const eqs_updunit_cfg *cfg, eqs_err *err);
/* cfg_seed_load: lane l starts from seed + l * 0x9E3779B9 (mod 2^32; 0 becomes 1). */
void eqs_updunit_reseed(eqs_updunit *u, uint32_t seed);
/* One beat of one lane. Operands are port codes: only the low state_w bits are used and read
 * as signed or unsigned per cfg. Returns 1 and writes *out on the last beat of an update (the
 * lane's generator then steps once), else 0. */
int eqs_updunit_step(eqs_updunit *u, int32_t lane, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
                     int last, int32_t *out);
/* One step of xorshift32 (x ^= x << 13; x ^= x >> 17; x ^= x << 5), period 2^32 - 1. */
uint32_t eqs_updunit_lfsr_next(uint32_t x);

/* ---- layers (the simulator's hardware path) ---------------------------------------------- */

/* Quantizes the batch's operands and computes out[rows x cols] (int32, output LSBs) exactly as
 * the RTL would when fed synapse k = i*cols + j on lane k % lanes, beat group k / lanes, the
 * n samples in order (the last group padded with zero operands, whose outputs are dropped but
 * still step their lanes' generators). *n_clipped (may be NULL) counts operands outside the
 * format's range. EQS_EINVAL on bad shapes, n > 2^acc_log2 or a non-finite operand. */
eqs_status eqs_updunit_layer(eqs_updunit *u, const eqs_updunit_batch *bt, int32_t *out,
                             int64_t *n_clipped, eqs_err *err);
/* The float reference of the same rule: out = clamp(k * sum_n P(float operands), +-limit) in
 * double, no quantization, no rounding (limit: the cfg's saturation). */
eqs_status eqs_updunit_layer_float(const eqs_updunit *u, const eqs_updunit_batch *bt, double k,
                                   double *out, eqs_err *err);
/* Worst-case |layer - layer_float| in output LSBs for operands with |x| <= state_abs_max that
 * lie inside the format's range (docs/rtl.md, "error bound"): rounding (1/2, or 1 stochastic)
 * + k n E_q + |k_q - k| n P_max, with E_q the per-sample contrast error from quantizing to
 * 2^-(f+1) and k_q the encoded scale. */
double eqs_updunit_error_bound(const eqs_updunit *u, double k, int32_t n, double state_abs_max);

#ifdef __cplusplus
}
#endif

#endif
