/* kinds.c — the device kinds as descriptors: names, parameter tables (name, unit, default,
 * range, meaning, source), defaults, cross-field checks, the NeuroSim NL <-> A mapping and the
 * per-kind constants the pulse loops use (device.c). Equations: docs/devices.md. */
#include <math.h>
#include <string.h>

#include "device_impl.h"

static const char *const kind_names[EQS_DEV_N_KINDS] = {
    "ideal",    "constant_step", "linear_step",       "soft_bounds", "exp_step",
    "pow_step", "piecewise",     "nonlinear_ltp_ltd", "pcm",
};

const char *eqs_device_kind_name(eqs_device_kind k)
{
    if ((int)k < 0 || k >= EQS_DEV_N_KINDS)
        return "unknown";
    return kind_names[k];
}

int eqs_device_kind_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int k = 0; k < EQS_DEV_N_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

#define AIHWKIT_DEV    "aihwkit src/aihwkit/simulator/configs/devices.py"
#define AIHWKIT_PRESET "aihwkit src/aihwkit/simulator/presets/devices.py"
#define NEUROSIM       "MLP+NeuroSim V3.0 manual sec. 5.1; Cell.cpp (RealDevice)"

/* Rows = the scalar named fields of eqs_device_config in field order (kind, p[], n_piecewise
 * and the piecewise lists are not rows: the lists are YAML sequences). */
static const eqs_param_desc common_params[] = {
    {"g_min_sie", "S", 0.0, 0.0, 1.0, "lower conductance bound of a device (0 <= g_min < g_max)",
     "PCM 0.25-25 uS: Joshi 2020 / Nandakumar 2019 via aihwkit inference/noise/pcm.py"},
    {"g_max_sie", "S", 25e-6, 1e-15, 1.0, "upper conductance bound of a device",
     "aihwkit PCMLikeNoiseModel g_max = 25 uS (inference/noise/pcm.py)"},
    {"n_states", "1", 1000.0, 1.0, 1e9,
     "nominal steps from g_min to g_max: dG_min = (g_max - g_min) / n_states",
     AIHWKIT_PRESET " (states = (w_max - w_min) / dw_min, ~1000 for ReRamSB / EcRam)"},
    {"d2d_step", "1", 0.0, 0.0, 2.0,
     "device-to-device relative std of the step size (per device, at fabrication)",
     AIHWKIT_DEV " PulsedDevice.dw_min_dtod (aihwkit default 0.3)"},
    {"d2d_bounds", "1", 0.0, 0.0, 1.0,
     "device-to-device std of each device's g_min and g_max, as a fraction of the range",
     AIHWKIT_DEV " PulsedDevice.w_min_dtod / w_max_dtod (aihwkit default 0.3)"},
    {"up_down", "1", 0.0, -0.99, 0.99,
     "systematic up/down asymmetry: up steps x (1 + a), down steps x (1 - a)",
     AIHWKIT_DEV " PulsedDevice.up_down"},
    {"d2d_up_down", "1", 0.0, 0.0, 1.0, "device-to-device std of the up/down asymmetry",
     AIHWKIT_DEV " PulsedDevice.up_down_dtod (aihwkit default 0.01)"},
    {"c2c", "1", 0.0, 0.0, 10.0,
     "cycle-to-cycle std of each pulse: relative to the step (multiplicative); "
     "nonlinear_ltp_ltd: absolute, as a fraction of the range per pulse",
     AIHWKIT_DEV " PulsedDevice.dw_min_std; NeuroSim sigmaCtoC (% of G range)"},
    {"read_noise_rel", "1", 0.0, 0.0, 10.0,
     "read noise std as a fraction of G (per device, per read)",
     "aihwkit IOParameters.w_noise (PCM read type, StandardHWATrainingPreset 0.0175)"},
    {"read_noise_sie", "S", 0.0, 0.0, 1.0, "additive read noise std per device",
     "Wan et al. Nature 2022 (~1 % additive, aihwkit inference/noise/reram.py)"},
    {"stuck_off_frac", "1", 0.0, 0.0, 1.0, "fraction of devices stuck at their g_min",
     "Gong & Rasch IEDM 2022 via " AIHWKIT_PRESET " (ReRamArray: 9.8-13.5 % bad devices)"},
    {"stuck_on_frac", "1", 0.0, 0.0, 1.0, "fraction of devices stuck at their g_max",
     "Gong & Rasch IEDM 2022 via " AIHWKIT_PRESET},
    {"endurance_pulses", "pulses", 0.0, 0.0, 1e18,
     "pulses after which a device freezes where it is; 0 = unlimited",
     "eqsim (no aihwkit/NeuroSim counterpart)"},
};

static const eqs_param_desc linear_params[] = {
    {"gamma_up", "1", 0.1153, 0.0, 1.0,
     "up step x (1 - gamma_up x): the step shrinks linearly towards g_max",
     AIHWKIT_PRESET " EcRamPresetDevice gamma_up (Tang et al. IEDM 2018), read in the x form"},
    {"gamma_down", "1", 0.5085, 0.0, 1.0,
     "down step x (1 - gamma_down (1 - x)): the step shrinks linearly towards g_min",
     AIHWKIT_PRESET " EcRamPresetDevice gamma_down (Tang et al. IEDM 2018), read in the x form"},
};

static const eqs_param_desc exp_params[] = {
    {"a_up", "1", 0.00081, -100.0, 100.0, "A_up: up step x max(0, 1 - A_up e^{gamma_up z})",
     AIHWKIT_DEV " ExpStepDevice.A_up"},
    {"a_down", "1", 0.36833, -100.0, 100.0,
     "A_down: down step x max(0, 1 - A_down e^{-gamma_down z})",
     AIHWKIT_DEV " ExpStepDevice.A_down"},
    {"gamma_up", "1", 12.44625, 0.0, 100.0, "gamma_up of the up step",
     AIHWKIT_DEV " ExpStepDevice.gamma_up"},
    {"gamma_down", "1", 12.78785, 0.0, 100.0, "gamma_down of the down step",
     AIHWKIT_DEV " ExpStepDevice.gamma_down"},
    {"a", "1", 0.244, -10.0, 10.0, "z = a (2x - 1) + b: slope of z over the normalised weight",
     AIHWKIT_DEV " ExpStepDevice.a"},
    {"b", "1", 0.2425, -10.0, 10.0, "z = a (2x - 1) + b: offset of z",
     AIHWKIT_DEV " ExpStepDevice.b"},
};

static const eqs_param_desc pow_params[] = {
    {"pow_gamma", "1", 1.0, 0.0, 10.0,
     "up step x (1 - x)^gamma, down step x x^gamma (distance to the bound)",
     AIHWKIT_DEV " PowStepDevice.pow_gamma (Fusi & Abbott 2007)"},
};

static const eqs_param_desc nl_params[] = {
    {"p_max", "pulses", 97.0, 1.0, 1e6,
     "pulses (levels) that take a device from g_min to g_max on the LTP curve",
     NEUROSIM " (Ag:a-Si, Jo 2010: 97 levels)"},
    {"nl_ltp", "1", 2.4, -9.0, 9.0,
     "NeuroSim nonlinearity label of potentiation (0 = linear; negative = convex)",
     NEUROSIM "; Documents/Nonlinearity-NormA.htm (Ag:a-Si 2.40)"},
    {"nl_ltd", "1", -4.88, -9.0, 9.0,
     "NeuroSim nonlinearity label of depression (negative = large steps near g_max)",
     NEUROSIM "; Documents/Nonlinearity-NormA.htm (Ag:a-Si -4.88)"},
};

static const eqs_param_desc pcm_params[] = {
    {"set_gamma", "1", 2.0, 0.0, 50.0,
     "gradual SET: up step x e^{-set_gamma x} (steps shrink as the cell crystallises)",
     "eqsim form; one-sided saturating SET as " AIHWKIT_PRESET
     " PCMPresetDevice (Nandakumar et al. 2020)"},
    {"reset_std", "1", 0.02, 0.0, 1.0,
     "std of G after an abrupt RESET, as a fraction of the range (clipped at g_min)",
     AIHWKIT_PRESET " PCMPresetDevice reset_std 0.02 (reset 0.01 +- 0.02)"},
    {"nu_mean", "1", 0.05, 0.0, 1.0, "mean drift exponent nu of G(t) = G0 (t / t0)^-nu",
     "aihwkit inference/noise/pcm.py PCMLikeNoiseModel (nu 0.049-0.1; Nandakumar ICECS 2019)"},
    {"nu_std", "1", 0.01, 0.0, 1.0, "device-to-device std of nu (clipped at 0)",
     "aihwkit inference/noise/pcm.py PCMLikeNoiseModel (nu_std 0.008-0.045)"},
    {"t0_s", "s", 20.0, 1e-9, 1e9, "drift reference time t0 after programming",
     "aihwkit inference/noise/pcm.py (t0 = 20 s, Nandakumar et al. ICECS 2019)"},
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const eqs_param_desc *eqs_device_common_params(int *n)
{
    if (n)
        *n = N_OF(common_params);
    return common_params;
}

const eqs_param_desc *eqs_device_kind_params(eqs_device_kind k, int *n)
{
    const eqs_param_desc *t = NULL;
    int m = 0;
    switch (k) {
    case EQS_DEV_LINEAR_STEP:
        t = linear_params, m = N_OF(linear_params);
        break;
    case EQS_DEV_EXP_STEP:
        t = exp_params, m = N_OF(exp_params);
        break;
    case EQS_DEV_POW_STEP:
        t = pow_params, m = N_OF(pow_params);
        break;
    case EQS_DEV_NONLINEAR:
        t = nl_params, m = N_OF(nl_params);
        break;
    case EQS_DEV_PCM:
        t = pcm_params, m = N_OF(pcm_params);
        break;
    default: /* ideal, constant_step, soft_bounds, piecewise: no kind-specific scalars */
        break;
    }
    if (n)
        *n = m;
    return t;
}

/* Pointers to the common scalar fields in table order. */
static double *common_field(eqs_device_config *c, int i)
{
    double *f[] = {&c->g_min_sie,       &c->g_max_sie,      &c->n_states,       &c->d2d_step,
                   &c->d2d_bounds,      &c->up_down,        &c->d2d_up_down,    &c->c2c,
                   &c->read_noise_rel,  &c->read_noise_sie, &c->stuck_off_frac, &c->stuck_on_frac,
                   &c->endurance_pulses};
    _Static_assert(sizeof f / sizeof f[0] == sizeof common_params / sizeof common_params[0],
                   "common table and fields disagree");
    return f[i];
}

void eqs_device_config_default(eqs_device_config *c, eqs_device_kind k)
{
    memset(c, 0, sizeof *c);
    c->kind = k;
    for (int i = 0; i < N_OF(common_params); i++)
        *common_field(c, i) = common_params[i].def;
    int n;
    const eqs_param_desc *t = eqs_device_kind_params(k, &n);
    for (int i = 0; i < n; i++)
        c->p[i] = t[i].def;
    /* piecewise default: two nodes, relative step 1 everywhere (= constant_step). */
    c->n_piecewise = 2;
    for (int i = 0; i < 2; i++)
        c->piecewise_up[i] = c->piecewise_down[i] = 1.0;
}

static eqs_status check_row(const eqs_param_desc *r, double v, eqs_err *err)
{
    if (!isfinite(v) || v < r->lo || v > r->hi)
        return eqs_err_set(err, EQS_ECONFIG, "device.%s: out of range [%g, %g] %s (got %g); %s",
                           r->name, r->lo, r->hi, r->unit, v, r->meaning);
    return EQS_OK;
}

eqs_status eqs_device_config_check(const eqs_device_config *c, eqs_err *err)
{
    if ((int)c->kind < 0 || c->kind >= EQS_DEV_N_KINDS)
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.kind: unknown kind (got %d); use one of ideal, constant_step, "
                           "linear_step, soft_bounds, exp_step, pow_step, piecewise, "
                           "nonlinear_ltp_ltd, pcm",
                           (int)c->kind);
    eqs_device_config tmp = *c;
    for (int i = 0; i < N_OF(common_params); i++)
        if (check_row(&common_params[i], *common_field(&tmp, i), err) != EQS_OK)
            return err ? err->code : EQS_ECONFIG;
    int n;
    const eqs_param_desc *t = eqs_device_kind_params(c->kind, &n);
    for (int i = 0; i < n; i++)
        if (check_row(&t[i], c->p[i], err) != EQS_OK)
            return err ? err->code : EQS_ECONFIG;
    if (!(c->g_min_sie < c->g_max_sie))
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.g_min_sie: must be below device.g_max_sie (got %g S >= %g S); "
                           "lower g_min_sie or raise g_max_sie",
                           c->g_min_sie, c->g_max_sie);
    if (c->stuck_off_frac + c->stuck_on_frac > 1.0)
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.stuck_off_frac: stuck_off_frac + stuck_on_frac must be <= 1 "
                           "(got %g + %g); lower one of them",
                           c->stuck_off_frac, c->stuck_on_frac);
    if (c->endurance_pulses != floor(c->endurance_pulses))
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.endurance_pulses: must be a whole number of pulses (got %g); "
                           "round it (0 = unlimited)",
                           c->endurance_pulses);
    if (c->kind == EQS_DEV_NONLINEAR && c->p[NL_P_MAX] != floor(c->p[NL_P_MAX]))
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.p_max: must be a whole number of pulses (got %g); round it",
                           c->p[NL_P_MAX]);
    if (c->kind == EQS_DEV_PIECEWISE) {
        if (c->n_piecewise < 2 || c->n_piecewise > EQS_DEV_MAX_PIECEWISE)
            return eqs_err_set(err, EQS_ECONFIG,
                               "device.piecewise_up: needs 2 to %d nodes (got %d); give one "
                               "relative step per node, nodes equally spaced over [g_min, g_max]",
                               EQS_DEV_MAX_PIECEWISE, (int)c->n_piecewise);
        for (int i = 0; i < c->n_piecewise; i++) {
            double u = c->piecewise_up[i], d = c->piecewise_down[i];
            if (!isfinite(u) || u < 0 || u > 1e3)
                return eqs_err_set(err, EQS_ECONFIG,
                                   "device.piecewise_up: node %d out of range [0, 1000] (got %g); "
                                   "relative steps are multiples of dG_min, >= 0",
                                   i, u);
            if (!isfinite(d) || d < 0 || d > 1e3)
                return eqs_err_set(err, EQS_ECONFIG,
                                   "device.piecewise_down: node %d out of range [0, 1000] (got "
                                   "%g); relative steps are multiples of dG_min, >= 0",
                                   i, d);
        }
    }
    if (c->kind == EQS_DEV_PCM && c->up_down != 0.0)
        return eqs_err_set(err, EQS_ECONFIG,
                           "device.up_down: pcm devices have no gradual depression (got %g); "
                           "set up_down: 0 (RESET is abrupt)",
                           c->up_down);
    return EQS_OK;
}

/* ---- NeuroSim nonlinearity label <-> normalised A --------------------------------------------
 * NeuroSim's normalised curve g(p) = (1 - e^{-p/a}) / (1 - e^{-1/a}), p = P / P_max in [0, 1].
 * Its largest deviation above the straight line is, with u = 1/a and e = 1 - e^{-u},
 *     D(a) = max_p g(p) - p = 1/e - 1/u - ln(u/e)/u    (at p* = ln(u/e)/u).
 * NeuroSim's table Documents/Nonlinearity-NormA.htm satisfies NL = K D(a) with K = 10.1015 at
 * every row we checked (NL 0.01, 0.1, 1.51, 2.40, 3.01, 4.51, 4.88, 6.01, 7.51: |rel. err in A|
 * < 0.03 %), i.e. NL is ten times the maximum deviation from linear (the extra 1 % is
 * NeuroSim's; we reproduce it). Negative NL = the mirrored (convex) curve, a < 0. */
#define NL_K 10.1015

static double nl_dev(double u) /* D as a function of u = 1/a > 0 */
{
    if (u < 1e-4)
        return u / 8.0; /* series: D = u/8 - O(u^3) */
    double e = -expm1(-u);
    return 1.0 / e - 1.0 / u - log(u / e) / u;
}

double eqs_device_a_to_nl(double a)
{
    if (a == 0.0 || !isfinite(a))
        return 0.0;
    double d = NL_K * nl_dev(1.0 / fabs(a));
    return a < 0 ? -d : d;
}

double eqs_device_nl_to_a(double nl)
{
    if (nl == 0.0 || !isfinite(nl))
        return 0.0; /* linear */
    double target = fabs(nl) / NL_K;
    if (target >= 1.0)
        target = 1.0 - 1e-12;
    /* D is increasing in u: bisection on log u over [1e-8, 1e8]. */
    double lo = log(1e-8), hi = log(1e8);
    for (int it = 0; it < 200 && hi - lo > 1e-13; it++) {
        double mid = 0.5 * (lo + hi);
        if (nl_dev(exp(mid)) < target)
            lo = mid;
        else
            hi = mid;
    }
    double a = 1.0 / exp(0.5 * (lo + hi));
    return nl < 0 ? -a : a;
}

/* One pulse on NeuroSim's curve, in x: for signed normalised a and P_max pulses over the range,
 * x(P) = beta (1 - e^{-P/(a P_max)}), beta = 1 / (1 - e^{-1/a}); P -> P + 1 gives
 * x' = q x + beta (1 - q), q = e^{-1/(a P_max)}; P -> P - 1 is the inverse map
 * x' = (x - beta (1 - q)) / q. a = 0: linear, x' = x +- 1/P_max. */
static void nl_affine(double a, double pmax, int up, float *m, float *c)
{
    if (a == 0.0) {
        *m = 1.0f;
        *c = (float)(up ? 1.0 / pmax : -1.0 / pmax);
        return;
    }
    double q = exp(-1.0 / (a * pmax));
    double beta = 1.0 / (-expm1(-1.0 / a));
    double cc = beta * (-expm1(-1.0 / (a * pmax))); /* beta (1 - q) */
    if (up) {
        *m = (float)q;
        *c = (float)cc;
    } else {
        *m = (float)(1.0 / q);
        *c = (float)(-cc / q);
    }
}

void dev_consts_init(dev_consts *k, const eqs_device_config *c)
{
    memset(k, 0, sizeof *k);
    switch (c->kind) {
    case EQS_DEV_LINEAR_STEP:
        k->gamma_up = (float)c->p[LIN_GAMMA_UP];
        k->gamma_down = (float)c->p[LIN_GAMMA_DOWN];
        break;
    case EQS_DEV_EXP_STEP:
        k->a_up = (float)c->p[EXP_A_UP];
        k->a_down = (float)c->p[EXP_A_DOWN];
        k->g_up = (float)c->p[EXP_GAMMA_UP];
        k->g_down = (float)c->p[EXP_GAMMA_DOWN];
        k->za = (float)(2.0 * c->p[EXP_A]);
        k->zb = (float)(c->p[EXP_B] - c->p[EXP_A]);
        break;
    case EQS_DEV_POW_STEP:
        k->gamma_up = k->gamma_down = (float)c->p[POW_GAMMA];
        break;
    case EQS_DEV_PIECEWISE:
        k->n_pw = c->n_piecewise;
        for (int i = 0; i < c->n_piecewise && i < EQS_DEV_MAX_PIECEWISE; i++) {
            k->pw_up[i] = (float)c->piecewise_up[i];
            k->pw_down[i] = (float)c->piecewise_down[i];
        }
        break;
    case EQS_DEV_NONLINEAR:
        k->a_norm_ltp = eqs_device_nl_to_a(c->p[NL_LTP]);
        k->a_norm_ltd = eqs_device_nl_to_a(c->p[NL_LTD]);
        nl_affine(k->a_norm_ltp, c->p[NL_P_MAX], 1, &k->m_up, &k->c_up);
        nl_affine(k->a_norm_ltd, c->p[NL_P_MAX], 0, &k->m_down, &k->c_down);
        break;
    case EQS_DEV_PCM:
        k->set_gamma = (float)c->p[PCM_SET_GAMMA];
        k->reset_std = (float)c->p[PCM_RESET_STD];
        k->t0_s = (float)c->p[PCM_T0_S];
        break;
    default:
        break;
    }
}
