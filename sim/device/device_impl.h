/* device_impl.h — what device.c (per-cell state, pulses) and kinds.c (descriptors, parameter
 * tables, per-kind constants) share. Not a public header. */
#ifndef EQS_DEVICE_IMPL_H
#define EQS_DEVICE_IMPL_H

#include "eqs/device.h"

/* Parameter indices into eqs_device_config.p, per kind (the order of each kind's table). */
enum {
    LIN_GAMMA_UP = 0,
    LIN_GAMMA_DOWN = 1,
};
enum {
    EXP_A_UP = 0,
    EXP_A_DOWN = 1,
    EXP_GAMMA_UP = 2,
    EXP_GAMMA_DOWN = 3,
    EXP_A = 4,
    EXP_B = 5,
};
enum { POW_GAMMA = 0 };
enum {
    NL_P_MAX = 0,
    NL_LTP = 1,
    NL_LTD = 2,
};
enum {
    PCM_SET_GAMMA = 0,
    PCM_RESET_STD = 1,
    PCM_NU_MEAN = 2,
    PCM_NU_STD = 3,
    PCM_T0_S = 4,
};

/* Per-kind constants, precomputed once from the config (kinds.c: dev_consts_init) so the inner
 * loops call no libm function that a multiply-add can replace. All responses are written in
 * the cell's normalised state x = (G - g_lo) / (g_hi - g_lo) in [0, 1]. */
typedef struct dev_consts {
    float gamma_up, gamma_down;       /* linear_step slopes; pow_step exponent (gamma_up) */
    float a_up, a_down, g_up, g_down; /* exp_step: A_up, A_down, gamma_up, gamma_down */
    float za, zb;                     /* exp_step: z = za x + zb  (= a (2x - 1) + b) */
    /* nonlinear_ltp_ltd: one pulse maps x -> m x + c (up: LTP curve, down: LTD curve) */
    float m_up, c_up, m_down, c_down;
    double a_norm_ltp, a_norm_ltd; /* NeuroSim normalised A (signed), 0 = linear */
    int32_t n_pw;                  /* piecewise nodes */
    float pw_up[EQS_DEV_MAX_PIECEWISE], pw_down[EQS_DEV_MAX_PIECEWISE];
    float set_gamma, reset_std, t0_s; /* pcm */
    /* > 0: dW -> pulses rounds with this step for every cell (siemens; the nominal step of an
     * open-loop controller); 0: with each cell's own mean step (eqs_device_set_nominal_rounding) */
    float round_step_sie;
} dev_consts;

void dev_consts_init(dev_consts *k, const eqs_device_config *c);

#endif
