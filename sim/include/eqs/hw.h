/* eqs/hw.h — a hardware description (hwconfig): the device, the crossbar array, its periphery,
 * the update scheme and the neurons. Plain values in SI units (names end in the unit); the
 * YAML loader (eqs/config.h: eqs_hwconfig_load) fills and validates it, and an experiment selects
 * one with its `hardware:` key (docs/hwconfig.md).
 *
 * A zero-initialised struct after eqs_hw_config_default() is the `ideal` preset: exactly
 * programmable devices, no converters, no noise, float neurons — the analog tile then reproduces
 * the ideal tile's products up to the G+ - G- mapping's rounding.
 */
#ifndef EQS_HW_H
#define EQS_HW_H

#include "eqs/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQS_HW_NAME_LEN 64
#define EQS_HW_TEXT_LEN 1024
#define EQS_HW_MAX_SRC  8

typedef enum eqs_adc_range_mode {
    EQS_ADC_FIXED = 0,      /* "fixed": [-range, range] in weight x input units */
    EQS_ADC_CALIBRATED = 1, /* "calibrated": each read sets the range to the batch's max |y|
                               (an ideal per-read calibration; CrossSim's CALIBRATED) */
} eqs_adc_range_mode;

typedef enum eqs_input_scaling {
    EQS_INPUT_SCALING_NONE = 0,    /* "none": inputs go to the DAC as they are (clipped) */
    EQS_INPUT_SCALING_ABS_MAX = 1, /* "abs_max": each input vector is scaled to the DAC's full
                                      range and the output scaled back digitally (aihwkit's
                                      noise management ABS_MAX) */
} eqs_input_scaling;

typedef enum eqs_pulse_mode {
    EQS_PULSE_STOCHASTIC_ROUNDING = 0, /* "stochastic_rounding": n = floor(dW/dw_min + u) per cell,
                                          clipped to +-max_pulses (a digital controller) */
    EQS_PULSE_COINCIDENCE = 1,         /* "coincidence": stochastic pulse trains of length bl on
                                          rows and columns, a device moves on coincidences
                                          (Gokmen & Vlasov 2016) — update_outer only */
} eqs_pulse_mode;

typedef enum eqs_pulse_step {
    EQS_STEP_NOMINAL = 0,  /* "nominal": the controller counts pulses with the device's nominal
                              step (g_max - g_min) / n_states, open loop, as aihwkit and NeuroSim
                              do: the device's nonlinearity, asymmetry and spreads act on the
                              update */
    EQS_STEP_PER_CELL = 1, /* "per_cell": with each device's own mean step at its current
                              conductance (an idealised device-aware controller that cancels
                              them in expectation) */
} eqs_pulse_step;

typedef enum eqs_write_mode {
    EQS_WRITE_VERIFY = 0, /* "verify": write() programs each device exactly to its target (an
                             idealised write-verify loop; aihwkit's set_weights) */
    EQS_WRITE_PULSES = 1, /* "pulses": from reset, the nominal number of pulses to the target,
                             through the device model (its steps, nonlinearity and noise): a
                             device of n states holds one of its own levels */
} eqs_write_mode;

typedef enum eqs_neuron_dynamics {
    EQS_NEURON_DISCRETE = 0, /* "discrete": s <- sigma(drive), the float reference's update */
    EQS_NEURON_LEAKY = 1,    /* "leaky": tau ds/dt = -s + sigma(drive), Euler with step dt */
} eqs_neuron_dynamics;

typedef struct eqs_array_config {
    int32_t max_rows, max_cols; /* largest physical tile: outputs x inputs; bigger matrices are
                                   split into a grid of tiles whose partial sums add digitally */
    double w_max;               /* |W| that maps to the full conductance range of one device:
                                   W = (G+ - G-) / g_ref with g_ref = (g_max - g_min) / w_max */
    double refresh_threshold;   /* refresh a pair when either device is within this fraction of
                                   the range from its g_max (0 = never) */
    double r_wire_ohm;          /* wire resistance per cell segment for the first-order IR-drop
                                   model (0 = off; docs/hwconfig.md) */
    double v_read_v;            /* read voltage at full-scale input (IR drop, energy) */
    double t_read_s;            /* duration of one array read (latency ledger) */
    double t_pulse_s;           /* duration of one programming pulse */
    double v_pulse_v;           /* programming pulse amplitude */
    eqs_write_mode write;       /* how write() (initialisation, loading weights) programs */
} eqs_array_config;

typedef struct eqs_periphery_config {
    int32_t dac_bits; /* 0 = ideal (no quantization) */
    double dac_range; /* inputs clipped to [-dac_range, dac_range] (states in [0,1] use the
                         upper half) */
    int32_t adc_bits; /* 0 = ideal */
    eqs_adc_range_mode adc_range_mode;
    double adc_range;         /* fixed mode: full scale, weight x input units */
    double out_noise;         /* additive output noise std, weight x input units (aihwkit
                                 out_noise), per read */
    int32_t exact_read_noise; /* validation: draw per-device noise for every cell and read instead
                                of the output-referred variance (slow) */
    eqs_input_scaling input_scaling; /* per-vector scaling of the inputs before the DAC */
} eqs_periphery_config;

/* The digital update unit (docs/rtl.md, "Digital update path"): who turns the local rule into
 * the pulse counts of the tiles' pulse port. */
typedef enum eqs_digital_unit {
    EQS_DIGITAL_NONE = 0,   /* "none": float dW -> optimizer -> the tile's dW -> pulses */
    EQS_DIGITAL_GOLDEN = 1, /* "golden": the update unit's bit-exact C model (eqs/updunit.h)
                               computes each synapse's pulse count from the phase states;
                               plain SGD only */
} eqs_digital_unit;

typedef enum eqs_digital_rounding {
    EQS_DIGITAL_STOCHASTIC = 0, /* "stochastic": the unit's per-lane xorshift32 */
    EQS_DIGITAL_NEAREST = 1,    /* "nearest": ties away from zero */
} eqs_digital_rounding;

typedef struct eqs_update_config {
    eqs_pulse_mode mode;
    int32_t max_pulses;        /* per device and update, clipping (>= 1) */
    int32_t bl;                /* coincidence: pulse-train length */
    int32_t one_sided;         /* only one device of the pair moves: G+ for dW > 0, G- for dW < 0
                                  (the other polarity is never applied); 0 = both move in opposite
                                  directions by half */
    eqs_pulse_step pulse_step; /* which step size the dW -> pulses conversion assumes */
    eqs_digital_unit digital;  /* "digital": none (default) or golden */
    eqs_digital_rounding digital_rounding;
    /* The unit's formats (eqs_updunit_format); 0 = the RTL's build default (rtl/upd_formats.def).
     * digital_state_f 0 with digital_state_w set keeps the default's integer bits:
     * f = w - (default w - default f). */
    int32_t digital_state_w, digital_state_f, digital_scale_w, digital_p_max;
} eqs_update_config;

typedef struct eqs_neuron_config {
    int32_t bits; /* state resolution over the activation's range; 0 = float */
    eqs_neuron_dynamics dynamics;
    double tau_s, dt_s; /* leaky: time constant and Euler step (dt <= tau) */
    double settle_tol;  /* end a phase when max |ds| < tol (0 = run all steps) */
    double t_step_s;    /* time of one discrete relaxation step (latency ledger) */
} eqs_neuron_config;

typedef struct eqs_hw_config {
    char name[EQS_HW_NAME_LEN];
    char description[EQS_HW_TEXT_LEN];
    int32_t n_sources;
    char sources[EQS_HW_MAX_SRC][EQS_HW_TEXT_LEN]; /* citations for the values */
    eqs_device_config device;
    eqs_array_config array;
    eqs_periphery_config periphery;
    eqs_update_config update;
    eqs_neuron_config neuron;
    char source_path[1024]; /* file it was loaded from ("" if inline or default) */
} eqs_hw_config;

/* The `ideal` preset (sim/device/hw.c): ideal devices, one physical tile per matrix, no
 * converters, no noise, float neurons with the discrete dynamics. */
void eqs_hw_config_default(eqs_hw_config *hw);

#ifdef __cplusplus
}
#endif
#endif
