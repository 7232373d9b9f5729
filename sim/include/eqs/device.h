/* eqs/device.h — resistive device models: what one programming pulse does to a conductance.
 *
 * A device *kind* is a descriptor: its name, its parameter table (name, unit, default, range,
 * meaning, source — the hwconfig loader validates YAML against it and docs/devices.md prints
 * it) and its pulse response. A device *array* holds the per-cell state of n devices of one
 * configuration: conductance, the device-to-device values sampled at fabrication, stuck flags and
 * endurance counters. Conductances are in siemens, always within the cell's own bounds.
 *
 * Randomness is sampled at three times, each from its own Philox stream (eqs/core.h):
 *   fabrication   EQS_RNG_DEVICE_D2D  (entity = the array's id): per-cell spreads, stuck cells;
 *   each pulse    EQS_RNG_DEVICE_C2C  (entity = id; block offset runs with the pulses applied);
 *   each read     EQS_RNG_READ_NOISE  — drawn by the tile, with the variance
 *                 eqs_device_read_var() gives per cell.
 *
 *     eqs_device_array *d;
 *     eqs_device_array_create(&d, &hw->device, n_cells, seed, tile_id, &err);
 *     eqs_device_pulse(d, pulses);         // signed pulse count per cell (+ = potentiate)
 *     eqs_device_array_destroy(d);
 */
#ifndef EQS_DEVICE_H
#define EQS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "eqs/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQS_DEV_MAX_PARAMS    16 /* kind-specific parameters */
#define EQS_DEV_MAX_PIECEWISE 64 /* nodes of a piecewise response */

typedef enum eqs_device_kind {
    EQS_DEV_IDEAL = 0,         /* "ideal": exactly programmable, no steps, no noise */
    EQS_DEV_CONSTANT_STEP = 1, /* "constant_step": fixed dG per pulse (aihwkit ConstantStep) */
    EQS_DEV_LINEAR_STEP = 2,   /* "linear_step": dG depends linearly on G, gamma up/down */
    EQS_DEV_SOFT_BOUNDS = 3,   /* "soft_bounds": dG -> 0 at the bounds */
    EQS_DEV_EXP_STEP = 4,      /* "exp_step": aihwkit ExpStep */
    EQS_DEV_POW_STEP = 5,      /* "pow_step": dG ~ (distance to bound)^gamma */
    EQS_DEV_PIECEWISE = 6,     /* "piecewise": user-given step vs G curve (measured data) */
    EQS_DEV_NONLINEAR = 7,     /* "nonlinear_ltp_ltd": NeuroSim G = B(1 - e^{-P/A}) + G_min */
    EQS_DEV_PCM = 8,           /* "pcm": one-sided gradual set, abrupt reset, power-law drift */
    EQS_DEV_N_KINDS = 9
} eqs_device_kind;

/* One row of a parameter table. Ranges are inclusive. */
typedef struct eqs_param_desc {
    const char *name;    /* YAML key under `device:` */
    const char *unit;    /* "S", "s", "1" (dimensionless), "pulses" */
    double def, lo, hi;  /* default and valid range, in the unit */
    const char *meaning; /* one line */
    const char *source;  /* where the form / default comes from */
} eqs_param_desc;

/* Parameters every kind has (the common table, eqs_device_common_params()). */
typedef struct eqs_device_config {
    eqs_device_kind kind;
    double g_min_sie, g_max_sie;  /* conductance bounds, 0 <= g_min < g_max */
    double n_states;              /* nominal steps from g_min to g_max: dG_min = range / n_states
                                     (ideal: ignored) */
    double d2d_step;              /* relative std of each device's step size (fabrication) */
    double d2d_bounds;            /* relative std of each device's g_min/g_max (of the range) */
    double up_down;               /* systematic up/down step asymmetry: up x (1+a), down x (1-a) */
    double d2d_up_down;           /* std of the per-device asymmetry */
    double c2c;                   /* relative std of each pulse's step (cycle to cycle) */
    double read_noise_rel;        /* read noise std as a fraction of G (per device, per read) */
    double read_noise_sie;        /* additive read noise std per device, siemens */
    double stuck_off_frac;        /* fraction of devices stuck at their g_min */
    double stuck_on_frac;         /* fraction of devices stuck at their g_max */
    double endurance_pulses;      /* pulses after which a device sticks where it is; 0 = never */
    double p[EQS_DEV_MAX_PARAMS]; /* kind-specific, in the order of the kind's table */
    int32_t n_piecewise;          /* piecewise: nodes, equally spaced over [g_min, g_max] */
    double piecewise_up[EQS_DEV_MAX_PIECEWISE];   /* relative up-step at each node */
    double piecewise_down[EQS_DEV_MAX_PIECEWISE]; /* relative down-step at each node */
} eqs_device_config;

/* ---- descriptors --------------------------------------------------------------------------- */

const char *eqs_device_kind_name(eqs_device_kind k);
/* Kind from its YAML name; -1 if unknown. */
int eqs_device_kind_from_name(const char *name);
/* The common parameter table (rows for the named fields of eqs_device_config, in field order). */
const eqs_param_desc *eqs_device_common_params(int *n);
/* The kind-specific table; row i is stored in eqs_device_config.p[i]. */
const eqs_param_desc *eqs_device_kind_params(eqs_device_kind k, int *n);
/* A config with every default of kind k filled in. */
void eqs_device_config_default(eqs_device_config *c, eqs_device_kind k);
/* Cross-field checks (g_min < g_max, fractions sum <= 1, piecewise nodes, ...). Messages name
 * the field as "device.<name>" and say how to fix it. */
eqs_status eqs_device_config_check(const eqs_device_config *c, eqs_err *err);

/* NeuroSim's nonlinearity label NL (MLP+NeuroSim Documents/Nonlinearity-NormA.htm) and the
 * normalised A = A / P_max of G(P) = B (1 - e^{-P/A}) + G_min, both signed (negative = the
 * mirrored, convex curve; NL 0 <-> A = +inf, returned as 0 = linear). docs/devices.md. */
double eqs_device_nl_to_a(double nl);
double eqs_device_a_to_nl(double a_norm);

/* ---- per-cell state ----------------------------------------------------------------------- */

typedef struct eqs_device_array eqs_device_array;

/* Fabricates n devices: samples the device-to-device values and the stuck cells from
 * (seed, EQS_RNG_DEVICE_D2D, id), and sets every conductance to its cell's g_min (PCM and
 * one-sided devices start reset). Copies *cfg. */
eqs_status eqs_device_array_create(eqs_device_array **out, const eqs_device_config *cfg, size_t n,
                                   uint64_t seed, uint32_t id, eqs_err *err);
void eqs_device_array_destroy(eqs_device_array *d); /* NULL-safe */

size_t eqs_device_array_size(const eqs_device_array *d);
const eqs_device_config *eqs_device_array_config(const eqs_device_array *d);
/* The conductances, siemens [n]; read-only view (change them through pulse/reset/program). */
const float *eqs_device_g(const eqs_device_array *d);
/* Per-cell bounds after device-to-device variation, siemens [n]. */
const float *eqs_device_g_lo(const eqs_device_array *d);
const float *eqs_device_g_hi(const eqs_device_array *d);

/* Applies pulses[i] programming pulses to cell i (positive = potentiation / SET towards g_max,
 * negative = depression / RESET towards g_min), one pulse at a time through the kind's response,
 * with cycle-to-cycle noise; stuck cells and worn-out cells do not move. Pulses count toward the
 * endurance counters. Cells with pulses[i] == 0 cost nothing. */
void eqs_device_pulse(eqs_device_array *d, const int32_t *pulses);
/* Total pulses applied so far, by polarity (for the action counters). */
uint64_t eqs_device_pulses_up(const eqs_device_array *d);
uint64_t eqs_device_pulses_down(const eqs_device_array *d);

/* Sets cell i to g[i] clipped to its bounds, where mask is NULL or mask[i] != 0: initial
 * programming and the "exactly programmable" path (write-verify). Stuck cells do not move. */
void eqs_device_program(eqs_device_array *d, const float *g, const uint8_t *mask);
/* Abrupt reset of the masked cells to their g_min (PCM RESET; refresh). Counts one down pulse
 * per cell reset. */
void eqs_device_reset(eqs_device_array *d, const uint8_t *mask);

/* var[i] = variance (S^2) of one read of cell i: (read_noise_rel G_i)^2 + read_noise_sie^2. */
void eqs_device_read_var(const eqs_device_array *d, float *var);

/* Lets time pass (PCM drift G(t) = G0 (t / t0)^-nu from each cell's last programming; other
 * kinds: no change). */
void eqs_device_advance_time(eqs_device_array *d, double dt_s);

/* Pulses needed, from this cell's current G, to reach G + dG in the kind's mean response
 * (no noise): the deterministic conversion a write-verify controller would use. Positive for
 * dG > 0. Used by refresh to re-program a pair's difference. */
int32_t eqs_device_pulses_for(const eqs_device_array *d, size_t i, double dg_sie);

/* up[i], down[i] = the mean |dG| one potentiating / depressing pulse gives cell i at its current
 * G, siemens (no noise; 0 for stuck or worn-out cells): the tile converts a requested dW into
 * pulse counts with them. Vectorised over the array. */
void eqs_device_mean_steps(const eqs_device_array *d, float *up, float *down);

/* The tile's dW -> pulse conversion in one pass (docs/tile.md, Updates): for each cell, the
 * requested change dg_i = scale dw_i siemens (clipped at 0 when positive_only; > 0 potentiates)
 * becomes counts[i] = sign(dg_i) n_i with n_i = floor(|dg_i| / step_i + u_i), at most
 * max_pulses and the pulses that reach the bound ahead (room_i / step_i + 1); step_i is the
 * mean step of eqs_device_mean_steps in dg_i's direction (0 for stuck or worn cells: n = 0).
 * u [n] uniforms in [0, 1). */
/* How the two functions below turn a requested dG into a count: nominal = every cell with the
 * nominal step (g_max - g_min) / n_states and no clipping at the room left (an open-loop
 * controller, aihwkit's and NeuroSim's: the cell's actual response — nonlinearity, asymmetry,
 * spreads, bounds — then shapes the update); otherwise (the default) with each cell's own mean
 * step at its current G, clipped at its room (hwconfig update.pulse_step: per_cell). */
void eqs_device_set_nominal_rounding(eqs_device_array *d, bool nominal);
void eqs_device_round_pulses(const eqs_device_array *d, const eqs_real *dw, float scale,
                             int positive_only, const float *u, float max_pulses, int32_t *counts);

/* What one eqs_device_round_and_pulse charges: pulses by polarity (the counts asked for) and
 * sum over the pulsed cells of |count| G at the start of the update, siemens. */
typedef struct eqs_device_ledger {
    uint64_t up, down;
    double g_sum_sie;
} eqs_device_ledger;

/* The uniforms of eqs_device_round_and_pulse: cell i's is element i of
 * eqs_rng_fill_uniform_f32(., n, seed, purpose, entity, block0) (drawn a chunk at a time). */
typedef struct eqs_device_uniforms {
    uint64_t seed;
    eqs_rng_purpose purpose;
    uint32_t entity;
    uint64_t block0;
} eqs_device_uniforms;

/* eqs_device_round_pulses followed by eqs_device_pulse of its counts, in one sweep over the
 * cells (the same counts and the same pulse arithmetic), with the uniforms drawn as it goes,
 * except for the cycle-to-cycle noise: the cells c0..c0 + 2047 (c0 a multiple of 2048) take
 * one normal each, in cell order, from block c2c_block + c0 / 4 of the C2C stream, which then
 * advances by ceil(n / 4) blocks (eqs_device_pulse draws one per pulsed cell from
 * c2c_block). With an endurance limit (wear counted pulse by pulse) it is the two calls, with
 * eqs_device_pulse's noise. Fills counts [n] and *ledger. */
void eqs_device_round_and_pulse(eqs_device_array *d, const eqs_real *dw, float scale,
                                int positive_only, const eqs_device_uniforms *u, float max_pulses,
                                int32_t *counts, eqs_device_ledger *ledger);

/* ---- checkpoints ---------------------------------------------------------------------------- */

/* One named piece of an object's state, for checkpoint files (eqs_tile_state_save): count
 * elements of elem_size bytes at data. check != 0 marks an identity (size, seed, id, kind) that a
 * loaded file must match instead of overwriting. */
typedef struct eqs_state_field {
    char name[32];
    void *data;
    uint32_t elem_size;
    uint32_t check;
    uint64_t count;
} eqs_state_field;

#define EQS_DEVICE_STATE_FIELDS 20 /* at most this many fields per array */

/* Lists the array's whole state into f (room for EQS_DEVICE_STATE_FIELDS) and returns how many
 * fields: identity checks (n, kind, seed, id), the per-cell state (g, g_lo, g_hi, s_up, s_down,
 * flags, wear; pcm also g0, age_s, nu) and the running counters (C2C block offset, pulses up and
 * down). A load writes through the pointers, then calls eqs_device_state_restored. The fields
 * point into d: valid until it is destroyed. */
int eqs_device_state_fields(eqs_device_array *d, eqs_state_field *f);
/* Recomputes what derives from the state fields (each cell's 1 / (g_hi - g_lo)) after a load. */
void eqs_device_state_restored(eqs_device_array *d);

#ifdef __cplusplus
}
#endif
#endif
