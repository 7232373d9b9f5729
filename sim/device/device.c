/* device.c — per-cell device state: fabrication (device-to-device spread, stuck cells), pulses
 * through each kind's response with cycle-to-cycle noise, reset, write-verify programming,
 * PCM drift, endurance, and the mean steps the tile converts updates with.
 *
 * Every response is a step in the cell's normalised state x = (G - g_lo) / (g_hi - g_lo):
 *     dG = s_dir,i f_dir(x) (1 + c2c xi)      (nonlinear_ltp_ltd: s f(x) + c2c (g_hi - g_lo) xi)
 * with s_dir,i the cell's step scale fixed at fabrication (d2d step and up/down asymmetry),
 * then G is clipped to [g_lo, g_hi]. f per kind: docs/devices.md.
 *
 * The pulse loop compacts the cells with a nonzero count, draws all the pulses' c2c normals in
 * one bulk fill from the C2C stream at the array's running block offset, and walks each cell's
 * pulses one at a time. Nothing is allocated after create. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device_impl.h"

#include "eqs/fastmath.h"
#include "eqs/hot.h"

#ifdef __GNUC__
#define EQS_INLINE inline __attribute__((always_inline)) /* into the vectorised loops */
#else
#define EQS_INLINE inline
#endif

#define FLAG_STUCK 1u /* stuck off or on since fabrication */
#define FLAG_WORN  2u /* endurance exhausted */

struct eqs_device_array {
    eqs_device_config cfg;
    dev_consts k;
    size_t n;
    uint64_t seed;
    uint32_t id;
    float *g, *g_lo, *g_hi, *inv_range; /* [n] */
    float *s_up, *s_down;   /* [n] step scale per direction (0 = frozen), siemens or x units */
    uint8_t *flags;         /* [n] */
    uint32_t *wear;         /* [n] pulses applied, for endurance (saturating) */
    float *g0, *age_s, *nu; /* [n] pcm: G at programming, time since, drift exponent */
    uint32_t *idx;          /* [n] workspace: active cells */
    float *noise;           /* [n_ws] workspace: c2c normals */
    size_t n_ws;            /* multiple of 4 */
    uint64_t c2c_block;     /* running block offset of the C2C stream */
    uint64_t n_up, n_down;
    uint32_t endurance; /* 0 = unlimited */
    float dg_min;       /* nominal step, siemens */
    int noisy;          /* pulses draw c2c normals */
    /* Every cell has the same bounds and steps (no device-to-device spread, no stuck cells) and
     * none can wear out: the update sweep then reads them as scalars, which halves the memory
     * it streams (it is memory-bound). Set by find_uniform_cells at fabrication and restore. */
    int uniform;
};

size_t eqs_device_array_size(const eqs_device_array *d)
{
    return d->n;
}
const eqs_device_config *eqs_device_array_config(const eqs_device_array *d)
{
    return &d->cfg;
}
const float *eqs_device_g(const eqs_device_array *d)
{
    return d->g;
}
const float *eqs_device_g_lo(const eqs_device_array *d)
{
    return d->g_lo;
}
const float *eqs_device_g_hi(const eqs_device_array *d)
{
    return d->g_hi;
}
uint64_t eqs_device_pulses_up(const eqs_device_array *d)
{
    return d->n_up;
}
uint64_t eqs_device_pulses_down(const eqs_device_array *d)
{
    return d->n_down;
}

void eqs_device_array_destroy(eqs_device_array *d)
{
    if (!d)
        return;
    eqs_free(d->g);
    eqs_free(d->g_lo);
    eqs_free(d->g_hi);
    eqs_free(d->inv_range);
    eqs_free(d->s_up);
    eqs_free(d->s_down);
    eqs_free(d->flags);
    eqs_free(d->wear);
    eqs_free(d->g0);
    eqs_free(d->age_s);
    eqs_free(d->nu);
    eqs_free(d->idx);
    eqs_free(d->noise);
    eqs_free(d);
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Fabrication draws, from (seed, EQS_RNG_DEVICE_D2D, id): region r of the stream (r = 0..5)
 * starts at block r * ceil(n / 4), so each quantity has its own draws whatever the config. */
enum { D2D_STUCK = 0, D2D_LO, D2D_HI, D2D_STEP, D2D_UD, D2D_NU };

static void d2d_fill(eqs_device_array *d, float *out, int region, int normal)
{
    uint64_t blocks = (d->n + 3) / 4;
    if (normal)
        eqs_rng_fill_normal_f32(out, d->n, d->seed, EQS_RNG_DEVICE_D2D, d->id,
                                (uint64_t)region * blocks);
    else
        eqs_rng_fill_uniform_f32(out, d->n, d->seed, EQS_RNG_DEVICE_D2D, d->id,
                                 (uint64_t)region * blocks);
}

/* Whether every cell shares cell 0's bounds and step scales (see eqs_device_array.uniform). */
static int find_uniform_cells(const eqs_device_array *d)
{
    if (d->endurance)
        return 0;
    int same = 1;
    for (size_t i = 1; i < d->n; i++)
        same &= d->g_lo[i] == d->g_lo[0] && d->g_hi[i] == d->g_hi[0] && d->s_up[i] == d->s_up[0] &&
                d->s_down[i] == d->s_down[0];
    return same;
}

eqs_status eqs_device_array_create(eqs_device_array **out, const eqs_device_config *cfg, size_t n,
                                   uint64_t seed, uint32_t id, eqs_err *err)
{
    *out = NULL;
    if (eqs_device_config_check(cfg, err) != EQS_OK)
        return err ? err->code : EQS_ECONFIG;
    if (n == 0 || n > (size_t)UINT32_MAX)
        return eqs_err_set(err, EQS_EINVAL, "device array: n must be in [1, 2^32 - 1] (got %zu)",
                           n);
    eqs_device_array *d = eqs_calloc(1, sizeof *d, err);
    if (!d)
        return EQS_ENOMEM;
    d->cfg = *cfg;
    d->n = n;
    d->seed = seed;
    d->id = id;
    d->n_ws = (n + 3) / 4 * 4;
    if (d->n_ws < 64)
        d->n_ws = 64;
    int pcm = cfg->kind == EQS_DEV_PCM;
    d->g = eqs_calloc(n, sizeof(float), err);
    d->g_lo = eqs_calloc(n, sizeof(float), err);
    d->g_hi = eqs_calloc(n, sizeof(float), err);
    d->inv_range = eqs_calloc(n, sizeof(float), err);
    d->s_up = eqs_calloc(n, sizeof(float), err);
    d->s_down = eqs_calloc(n, sizeof(float), err);
    d->flags = eqs_calloc(n, 1, err);
    d->wear = eqs_calloc(n, sizeof(uint32_t), err);
    d->idx = eqs_calloc(n, sizeof(uint32_t), err);
    d->noise = eqs_calloc(d->n_ws, sizeof(float), err);
    if (pcm) {
        d->g0 = eqs_calloc(n, sizeof(float), err);
        d->age_s = eqs_calloc(n, sizeof(float), err);
        d->nu = eqs_calloc(n, sizeof(float), err);
    }
    if (!d->g || !d->g_lo || !d->g_hi || !d->inv_range || !d->s_up || !d->s_down || !d->flags ||
        !d->wear || !d->idx || !d->noise || (pcm && (!d->g0 || !d->age_s || !d->nu))) {
        eqs_device_array_destroy(d);
        return EQS_ENOMEM;
    }
    dev_consts_init(&d->k, cfg);
    d->endurance =
        cfg->endurance_pulses >= (double)UINT32_MAX ? 0u : (uint32_t)cfg->endurance_pulses;
    double range = cfg->g_max_sie - cfg->g_min_sie;
    d->dg_min = (float)(range / cfg->n_states);
    int ideal = cfg->kind == EQS_DEV_IDEAL;

    /* Bounds: g_lo = g_min + d2d_bounds range xi, g_hi likewise, with 0 <= g_lo and a span of
     * at least 1 % of the nominal range. */
    float *tmp = d->noise; /* n_ws >= n floats */
    float smin = (float)(0.01 * range);
    if (cfg->d2d_bounds > 0.0) {
        d2d_fill(d, d->g_lo, D2D_LO, 1);
        d2d_fill(d, d->g_hi, D2D_HI, 1);
    }
    float sb = (float)(cfg->d2d_bounds * range);
    for (size_t i = 0; i < n; i++) {
        float lo = (float)cfg->g_min_sie + sb * d->g_lo[i];
        float hi = (float)cfg->g_max_sie + sb * d->g_hi[i];
        if (lo < 0.0f)
            lo = 0.0f;
        if (hi < lo + smin)
            hi = lo + smin;
        d->g_lo[i] = lo;
        d->g_hi[i] = hi;
        d->inv_range[i] = 1.0f / (hi - lo);
        d->g[i] = lo;
    }
    /* Step scales: nominal dG_min (nonlinear_ltp_ltd: 1 in x units, the cell's range carries
     * it), x (1 + d2d_step xi) clipped at 0.01, x (1 +- (up_down + d2d_up_down xi)) with the
     * asymmetry clipped to [-0.99, 0.99]. The ideal kind has exact steps. */
    float base = cfg->kind == EQS_DEV_NONLINEAR ? 1.0f : d->dg_min;
    for (size_t i = 0; i < n; i++)
        d->s_up[i] = d->s_down[i] = base;
    if (!ideal) {
        if (cfg->d2d_step > 0.0) {
            d2d_fill(d, tmp, D2D_STEP, 1);
            float sd = (float)cfg->d2d_step;
            for (size_t i = 0; i < n; i++) {
                float f = 1.0f + sd * tmp[i];
                f = f < 0.01f ? 0.01f : f;
                d->s_up[i] *= f;
                d->s_down[i] *= f;
            }
        }
        if (cfg->up_down != 0.0 || cfg->d2d_up_down > 0.0) {
            if (cfg->d2d_up_down > 0.0)
                d2d_fill(d, tmp, D2D_UD, 1);
            else
                memset(tmp, 0, n * sizeof(float));
            float ud = (float)cfg->up_down, sud = (float)cfg->d2d_up_down;
            for (size_t i = 0; i < n; i++) {
                float a = clampf(ud + sud * tmp[i], -0.99f, 0.99f);
                d->s_up[i] *= 1.0f + a;
                d->s_down[i] *= 1.0f - a;
            }
        }
    }
    if (pcm) {
        float nm = (float)cfg->p[PCM_NU_MEAN], ns = (float)cfg->p[PCM_NU_STD];
        if (ns > 0.0f)
            d2d_fill(d, tmp, D2D_NU, 1);
        else
            memset(tmp, 0, n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            float v = nm + ns * tmp[i];
            d->nu[i] = v < 0.0f ? 0.0f : v;
            d->g0[i] = d->g[i];
        }
    }
    /* Stuck cells: u < off -> stuck at g_lo; off <= u < off + on -> stuck at g_hi. */
    if (cfg->stuck_off_frac > 0.0 || cfg->stuck_on_frac > 0.0) {
        d2d_fill(d, tmp, D2D_STUCK, 0);
        float off = (float)cfg->stuck_off_frac,
              on = (float)(cfg->stuck_off_frac + cfg->stuck_on_frac);
        for (size_t i = 0; i < n; i++) {
            if (tmp[i] < on) {
                d->flags[i] = FLAG_STUCK;
                d->g[i] = tmp[i] < off ? d->g_lo[i] : d->g_hi[i];
                d->s_up[i] = d->s_down[i] = 0.0f;
                if (pcm)
                    d->g0[i] = d->g[i];
            }
        }
    }
    memset(d->noise, 0, d->n_ws * sizeof(float));
    memset(d->idx, 0, n * sizeof(uint32_t));
    d->uniform = find_uniform_cells(d);
    *out = d;
    return EQS_OK;
}

/* ---- the responses: nominal step f(x) per direction ------------------------------------- */

static EQS_INLINE float piecewise_at(const float *nodes, int n_nodes, float x)
{
    float t = x * (float)(n_nodes - 1);
    int j = (int)t;
    if (j < 0)
        j = 0;
    if (j > n_nodes - 2)
        j = n_nodes - 2;
    float w = t - (float)j;
    return nodes[j] + w * (nodes[j + 1] - nodes[j]);
}

static EQS_INLINE float powpos(float b, float e) /* b^e for b >= 0, e >= 0; 0^0 = 1 */
{
    if (e == 0.0f)
        return 1.0f;
    return b > 0.0f ? eqs_fast_expf(e * eqs_fast_logf(b)) : 0.0f;
}

/* Mean step magnitude (before the cell's scale s) of one pulse at state x, x in [0, 1]. */
static EQS_INLINE float f_up(const dev_consts *k, eqs_device_kind kind, float x)
{
    switch (kind) {
    case EQS_DEV_LINEAR_STEP:
        return 1.0f - k->gamma_up * x;
    case EQS_DEV_SOFT_BOUNDS:
        return 1.0f - x;
    case EQS_DEV_EXP_STEP: {
        float y = 1.0f - k->a_up * eqs_fast_expf(k->g_up * (k->za * x + k->zb));
        return y > 0.0f ? y : 0.0f;
    }
    case EQS_DEV_POW_STEP:
        return powpos(1.0f - x, k->gamma_up);
    case EQS_DEV_PIECEWISE:
        return piecewise_at(k->pw_up, k->n_pw, x);
    case EQS_DEV_NONLINEAR:
        return (k->m_up - 1.0f) * x + k->c_up;
    case EQS_DEV_PCM:
        return eqs_fast_expf(-k->set_gamma * x);
    default: /* ideal, constant_step */
        return 1.0f;
    }
}

static EQS_INLINE float f_down(const dev_consts *k, eqs_device_kind kind, float x)
{
    switch (kind) {
    case EQS_DEV_LINEAR_STEP:
        return 1.0f - k->gamma_down * (1.0f - x);
    case EQS_DEV_SOFT_BOUNDS:
        return x;
    case EQS_DEV_EXP_STEP: {
        float y = 1.0f - k->a_down * eqs_fast_expf(-k->g_down * (k->za * x + k->zb));
        return y > 0.0f ? y : 0.0f;
    }
    case EQS_DEV_POW_STEP:
        return powpos(x, k->gamma_down);
    case EQS_DEV_PIECEWISE:
        return piecewise_at(k->pw_down, k->n_pw, x);
    case EQS_DEV_NONLINEAR:
        return (1.0f - k->m_down) * x - k->c_down;
    case EQS_DEV_PCM:
        return 1.0f; /* unused: a depressing pulse resets */
    default:
        return 1.0f;
    }
}

/* ---- pulses ------------------------------------------------------------------------------ */

/* Pulses cell i by p != 0 (specialised per kind by the constant `kind`: inlined). The |p|
 * pulses walk the kind's mean response one at a time; the cycle-to-cycle noise of the walk is
 * added once, as the cell's normal xi:
 *     multiplicative:  G += c2c sqrt(sum_k dG_k^2) xi     (= sum_k c2c dG_k xi_k in law)
 *     additive (nonlinear_ltp_ltd):  G += c2c (g_hi - g_lo) sqrt(|p|) xi
 * This is exact in distribution for one pulse and for state-independent steps; for several
 * pulses on a state-dependent response it neglects how one pulse's noise changes the next
 * pulse's mean step (second order: c2c dG^2 / range). One normal per active cell instead of
 * one per pulse keeps the bulk fill, the dominant cost, as small as it can be. */
static inline void pulse_cell(eqs_device_array *d, eqs_device_kind kind, size_t i, int32_t p,
                              const float *noise, size_t j)
{
    const dev_consts *k = &d->k;
    const int additive = kind == EQS_DEV_NONLINEAR;
    const uint32_t endurance = d->endurance;
    if (d->flags[i])
        return;
    float lo = d->g_lo[i], hi = d->g_hi[i], ir = d->inv_range[i];
    float range = hi - lo;
    float g = d->g[i];
    int up = p > 0;
    uint32_t np = up ? (uint32_t)p : (uint32_t)(-(int64_t)p);
    if (kind == EQS_DEV_PCM && !up)
        np = 1; /* one abrupt RESET whatever the count */
    if (endurance) {
        uint32_t left = endurance - d->wear[i];
        if (np > left)
            np = left;
        d->wear[i] += np;
    }
    float xi = noise ? noise[j] : 0.0f;
    if (kind == EQS_DEV_PCM && !up) {
        if (np)
            g = clampf(lo + k->reset_std * range * xi, lo, hi);
    } else if (np) {
        float s = up ? d->s_up[i] : d->s_down[i];
        float sg = up ? s : -s;
        if (additive)
            sg *= range; /* nonlinear: steps in x units of the cell's range */
        float ss = 0.0f;
        for (uint32_t t = 0; t < np; t++) {
            float x = (g - lo) * ir;
            float dg = sg * (up ? f_up(k, kind, x) : f_down(k, kind, x));
            ss += dg * dg;
            g = clampf(g + dg, lo, hi);
        }
        if (noise) {
            float c2c = (float)d->cfg.c2c;
            float sd = additive ? c2c * range * sqrtf((float)np) : c2c * sqrtf(ss);
            g = clampf(g + sd * xi, lo, hi);
        }
    }
    d->g[i] = g;
    if (kind == EQS_DEV_PCM) {
        d->g0[i] = g;
        d->age_s[i] = 0.0f;
    }
    if (endurance && d->wear[i] >= endurance) {
        d->flags[i] |= FLAG_WORN;
        d->s_up[i] = d->s_down[i] = 0.0f;
    }
}

/* Walks the nonzero counts in cell order, 64 cells at a time: a bit mask of the nonzero counts
 * (branch-free) and a loop over its set bits, so the mostly-zero, unpredictable counts cost no
 * mispredicted branches. The j-th nonzero count uses noise[j]. */
static inline void pulse_kind(eqs_device_array *d, eqs_device_kind kind, const int32_t *pulses,
                              const float *noise)
{
    size_t n = d->n, j = 0;
    for (size_t c = 0; c < n; c += 64) {
        size_t len = n - c < 64 ? n - c : 64;
        uint8_t nz[64] = {0};
        for (size_t b = 0; b < len; b++) /* vectorised compare */
            nz[b] = pulses[c + b] != 0;
        uint64_t mask = 0;
        for (int q = 0; q < 8; q++) { /* 8 flag bytes -> 8 bits (no carries: bytes are 0/1) */
            uint64_t v;
            memcpy(&v, nz + 8 * q, 8);
            mask |= ((v * 0x0102040810204080ull) >> 56) << (8 * q);
        }
        while (mask) {
            size_t i = c + (size_t)__builtin_ctzll(mask);
            mask &= mask - 1;
            pulse_cell(d, kind, i, pulses[i], noise, j++);
        }
    }
}

/* m c2c normals into the workspace from the running block offset of the C2C stream. */
static const float *draw_noise(eqs_device_array *d, size_t m)
{
    d->c2c_block +=
        eqs_rng_fill_normal_f32(d->noise, m, d->seed, EQS_RNG_DEVICE_C2C, d->id, d->c2c_block);
    return d->noise;
}

EQS_HOT void eqs_device_pulse(eqs_device_array *d, const int32_t *pulses)
{
    size_t n = d->n, m = 0;
    uint64_t up = 0, down = 0, resets = 0;
    /* Counts for the ledger and the noise, vectorised as 32-bit sums over 256 cells (wrapping
     * is defined; the sums are exact while the counts average below 2^24 pulses per cell). */
    for (size_t c = 0; c < n; c += 256) {
        size_t len = n - c < 256 ? n - c : 256;
        uint32_t su = 0, sd = 0, sr = 0, sm = 0;
        for (size_t b = 0; b < len; b++) {
            int32_t p = pulses[c + b];
            uint32_t q = (uint32_t)p;
            su += p > 0 ? q : 0u;
            sd += p < 0 ? 0u - q : 0u;
            sr += p < 0;
            sm += p != 0;
        }
        up += su;
        down += sd;
        resets += sr;
        m += sm;
    }
    eqs_device_kind kind = d->cfg.kind;
    /* pcm: the ledger counts one RESET pulse per reset cell, whatever the requested count */
    if (kind == EQS_DEV_PCM)
        down = resets;
    d->n_up += up;
    d->n_down += down;
    if (m == 0)
        return;
    const float *noise = NULL;
    if (kind != EQS_DEV_IDEAL &&
        (d->cfg.c2c > 0.0 || (kind == EQS_DEV_PCM && d->k.reset_std > 0.0f)))
        noise = draw_noise(d, m);
    switch (kind) {
    case EQS_DEV_IDEAL:
        pulse_kind(d, EQS_DEV_IDEAL, pulses, noise);
        break;
    case EQS_DEV_CONSTANT_STEP:
        pulse_kind(d, EQS_DEV_CONSTANT_STEP, pulses, noise);
        break;
    case EQS_DEV_LINEAR_STEP:
        pulse_kind(d, EQS_DEV_LINEAR_STEP, pulses, noise);
        break;
    case EQS_DEV_SOFT_BOUNDS:
        pulse_kind(d, EQS_DEV_SOFT_BOUNDS, pulses, noise);
        break;
    case EQS_DEV_EXP_STEP:
        pulse_kind(d, EQS_DEV_EXP_STEP, pulses, noise);
        break;
    case EQS_DEV_POW_STEP:
        pulse_kind(d, EQS_DEV_POW_STEP, pulses, noise);
        break;
    case EQS_DEV_PIECEWISE:
        pulse_kind(d, EQS_DEV_PIECEWISE, pulses, noise);
        break;
    case EQS_DEV_NONLINEAR:
        pulse_kind(d, EQS_DEV_NONLINEAR, pulses, noise);
        break;
    case EQS_DEV_PCM:
        pulse_kind(d, EQS_DEV_PCM, pulses, noise);
        break;
    default:
        break;
    }
}

/* ---- mean steps ------------------------------------------------------------------------- */

static EQS_INLINE void mean_kind(const eqs_device_array *d, eqs_device_kind kind,
                                 float *restrict up, float *restrict down)
{
    const dev_consts *k = &d->k;
    const float *restrict g = d->g, *restrict lo = d->g_lo, *restrict hi = d->g_hi;
    const float *restrict ir = d->inv_range, *restrict su = d->s_up, *restrict sd = d->s_down;
    size_t n = d->n;
    for (size_t i = 0; i < n; i++) {
        float x = (g[i] - lo[i]) * ir[i];
        float room_up = hi[i] - g[i], room_down = g[i] - lo[i];
        float r = kind == EQS_DEV_NONLINEAR ? hi[i] - lo[i] : 1.0f;
        float u = su[i] * r * f_up(k, kind, x);
        float v = kind == EQS_DEV_PCM ? (sd[i] > 0.0f ? room_down : 0.0f)
                                      : sd[i] * r * f_down(k, kind, x);
        up[i] = u < room_up ? u : room_up;
        down[i] = v < room_down ? v : room_down;
    }
}

EQS_HOT void eqs_device_mean_steps(const eqs_device_array *d, float *up, float *down)
{
    switch (d->cfg.kind) {
    case EQS_DEV_IDEAL:
        mean_kind(d, EQS_DEV_IDEAL, up, down);
        break;
    case EQS_DEV_CONSTANT_STEP:
        mean_kind(d, EQS_DEV_CONSTANT_STEP, up, down);
        break;
    case EQS_DEV_LINEAR_STEP:
        mean_kind(d, EQS_DEV_LINEAR_STEP, up, down);
        break;
    case EQS_DEV_SOFT_BOUNDS:
        mean_kind(d, EQS_DEV_SOFT_BOUNDS, up, down);
        break;
    case EQS_DEV_EXP_STEP:
        mean_kind(d, EQS_DEV_EXP_STEP, up, down);
        break;
    case EQS_DEV_POW_STEP:
        mean_kind(d, EQS_DEV_POW_STEP, up, down);
        break;
    case EQS_DEV_PIECEWISE:
        mean_kind(d, EQS_DEV_PIECEWISE, up, down);
        break;
    case EQS_DEV_NONLINEAR:
        mean_kind(d, EQS_DEV_NONLINEAR, up, down);
        break;
    case EQS_DEV_PCM:
        mean_kind(d, EQS_DEV_PCM, up, down);
        break;
    default:
        break;
    }
}

/* Stochastic rounding of a requested change with the mean step of the direction it asks for,
 * one pass over the cells (docs/tile.md, Updates): dg = scale dw_i (clipped at 0 when
 * positive_only), step = the mean |dG| of one pulse in the direction of dg (as
 * eqs_device_mean_steps), room = the distance to the bound ahead, and
 *     n = min(floor(|dg| / step + u_i), room / step + 1, max_pulses),
 * signed like dg. Everything is branch-free so that it vectorises; 1/step as step / (step^2 +
 * 1e-37) (exact to 1e-7 for any step above 1e-15 S, 0 for a stuck cell). Only the step of the
 * direction asked for is evaluated. */
static EQS_INLINE int32_t round_count(float adg, float step, float room, float u, float maxp)
{
    float inv = step / (step * step + 1e-37f);
    float v = adg * inv + u, cap = room * inv + 1.0f;
    v = v < cap ? v : cap;
    v = v < maxp ? v : maxp;
    return (int32_t)v;
}

/* neg ? a : b on the bit patterns (an integer mask: if-conversion-proof, so the loops below
 * vectorise; the result is a or b exactly). */
static EQS_INLINE float selectf(uint32_t negmask, float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    uint32_t r = (ua & negmask) | (ub & ~negmask);
    float f;
    memcpy(&f, &r, 4);
    return f;
}

/* f_up(x) (neg = 0) or f_down(x) (neg = 1) with the direction chosen before the arithmetic
 * where both share a form (one exp instead of two), the same operations on the same values as
 * f_up / f_down. */
static EQS_INLINE float f_dir(const dev_consts *k, eqs_device_kind kind, float x, uint32_t nm)
{
    switch (kind) {
    case EQS_DEV_LINEAR_STEP: /* 1 - gamma_up x  |  1 - gamma_down (1 - x) */
        return 1.0f - selectf(nm, k->gamma_down, k->gamma_up) * selectf(nm, 1.0f - x, x);
    case EQS_DEV_EXP_STEP: {
        float z = k->za * x + k->zb;
        float e = eqs_fast_expf(selectf(nm, -k->g_down, k->g_up) * z);
        float y = 1.0f - selectf(nm, k->a_down, k->a_up) * e;
        return y > 0.0f ? y : 0.0f;
    }
    case EQS_DEV_NONLINEAR: /* (m_up - 1) x + c_up  |  (1 - m_down) x - c_down */
        return selectf(nm, 1.0f - k->m_down, k->m_up - 1.0f) * x + selectf(nm, -k->c_down, k->c_up);
    default:
        return selectf(nm, f_down(k, kind, x), f_up(k, kind, x));
    }
}

static EQS_INLINE void round_kind(const eqs_device_array *d, eqs_device_kind kind,
                                  const eqs_real *restrict dw, float scale, int positive_only,
                                  const float *restrict u, float maxp, int32_t *restrict counts)
{
    const dev_consts *k = &d->k;
    const float *restrict g = d->g, *restrict lo = d->g_lo, *restrict hi = d->g_hi;
    const float *restrict ir = d->inv_range, *restrict su = d->s_up, *restrict sd = d->s_down;
    const float nominal = k->round_step_sie; /* open loop: the same step for every cell */
    size_t n = d->n;
    for (size_t i = 0; i < n; i++) {
        float dg = scale * (float)dw[i];
        if (positive_only)
            dg = dg > 0.0f ? dg : 0.0f;
        int32_t neg = positive_only ? 0 : dg < 0.0f;
        uint32_t nm = 0u - (uint32_t)neg;
        float adg = selectf(nm, -dg, dg);
        float x = (g[i] - lo[i]) * ir[i];
        float room = selectf(nm, g[i] - lo[i], hi[i] - g[i]);
        float r = kind == EQS_DEV_NONLINEAR ? hi[i] - lo[i] : 1.0f;
        float sdir = selectf(nm, sd[i], su[i]);
        float s = sdir * r * f_dir(k, kind, x, nm);
        if (kind == EQS_DEV_PCM) /* a depressing pulse is a RESET: the whole room */
            s = selectf(nm, sdir > 0.0f ? room : 0.0f, s);
        s = s < room ? s : room;
        int32_t c = nominal > 0.0f ? round_count(adg, nominal, 3.0e38f, u[i], maxp)
                                   : round_count(adg, s, room, u[i], maxp);
        counts[i] = (c ^ (int32_t)nm) - (int32_t)nm; /* neg ? -c : c */
    }
}

#define ROUND_CASE(K)                                                                              \
    case K:                                                                                        \
        if (positive_only)                                                                         \
            round_kind(d, K, dw, scale, 1, u, maxp, counts);                                       \
        else                                                                                       \
            round_kind(d, K, dw, scale, 0, u, maxp, counts);                                       \
        break

void eqs_device_set_nominal_rounding(eqs_device_array *d, bool nominal)
{
    double range = d->cfg.g_max_sie - d->cfg.g_min_sie;
    d->k.round_step_sie = nominal ? (float)(range / d->cfg.n_states) : 0.0f;
}

EQS_HOT void eqs_device_round_pulses(const eqs_device_array *d, const eqs_real *dw, float scale,
                                     int positive_only, const float *u, float maxp, int32_t *counts)
{
    switch (d->cfg.kind) {
        ROUND_CASE(EQS_DEV_IDEAL);
        ROUND_CASE(EQS_DEV_CONSTANT_STEP);
        ROUND_CASE(EQS_DEV_LINEAR_STEP);
        ROUND_CASE(EQS_DEV_SOFT_BOUNDS);
        ROUND_CASE(EQS_DEV_EXP_STEP);
        ROUND_CASE(EQS_DEV_POW_STEP);
        ROUND_CASE(EQS_DEV_PIECEWISE);
        ROUND_CASE(EQS_DEV_NONLINEAR);
        ROUND_CASE(EQS_DEV_PCM);
    default:
        break;
    }
}
#undef ROUND_CASE

/* ---- rounding and pulsing in one pass ------------------------------------------------------ */

enum { FUSE_CHUNK = 2048 }; /* cells per chunk: its steps and normals stay in L1 */

/* The rounding of cells 0..len-1 (round_kind's arithmetic), keeping each cell's signed step in
 * the direction asked for, before the cap (one pulse moves G by it, as pulse_cell computes:
 * g + s for a potentiating pulse, g - s for a depressing one); the ledger's sums come back in
 * sums[3] (pulses up, down, resets). Specialised per kind by round_step_chunk, outside the
 * chunk loop, where GCC vectorises it. */
static EQS_INLINE void round_step_body(const dev_consts *k, eqs_device_kind kind, size_t len,
                                       const eqs_real *restrict dw, float scale, int positive_only,
                                       int uni, int nom, const float *restrict u, float maxp,
                                       int32_t *restrict counts, const float *restrict g,
                                       const float *restrict lo, const float *restrict hi,
                                       const float *restrict su, const float *restrict sd,
                                       float *restrict step, uint32_t *sums)
{
    const dev_consts kl = *k; /* a local copy: the stores below cannot alias its floats */
    const float lo0 = lo[0], hi0 = hi[0], su0 = su[0], sd0 = sd[0]; /* uni: every cell's */
    uint32_t s_up = 0, s_down = 0, s_res = 0;
    for (size_t i = 0; i < len; i++) {
        float dg = scale * (float)dw[i];
        if (positive_only)
            dg = dg > 0.0f ? dg : 0.0f;
        int32_t neg = positive_only ? 0 : dg < 0.0f;
        uint32_t nm = 0u - (uint32_t)neg;
        float adg = selectf(nm, -dg, dg);
        float loi = uni ? lo0 : lo[i], hii = uni ? hi0 : hi[i];
        float ir = 1.0f / (hii - loi); /* = inv_range (as create computes it), without
                                          streaming that array from memory */
        float x = (g[i] - loi) * ir;
        float room = selectf(nm, g[i] - loi, hii - g[i]);
        float r = kind == EQS_DEV_NONLINEAR ? hii - loi : 1.0f;
        float sdir = uni ? selectf(nm, sd0, su0) : selectf(nm, sd[i], su[i]);
        float s0 = sdir * r * f_dir(&kl, kind, x, nm), s = s0;
        if (kind == EQS_DEV_PCM)
            s = selectf(nm, sdir > 0.0f ? room : 0.0f, s);
        s = s < room ? s : room;
        /* open loop (nominal step, no knowledge of the room left) or per cell */
        int32_t cnt = nom ? round_count(adg, kl.round_step_sie, 3.0e38f, u[i], maxp)
                          : round_count(adg, s, room, u[i], maxp);
        counts[i] = (cnt ^ (int32_t)nm) - (int32_t)nm;
        step[i] = selectf(nm, -s0, s0);
        s_up += (uint32_t)cnt & ~nm;
        s_down += (uint32_t)cnt & nm;
        s_res += (uint32_t)neg & (uint32_t)(cnt != 0);
    }
    sums[0] = s_up;
    sums[1] = s_down;
    sums[2] = s_res;
}

/* Specialised per kind and per combination of the three loop-invariant choices (one-sided,
 * uniform cells, nominal rounding step), so that each loop computes only what it uses. */
#define ROUND_STEP_CALL(K, POS, UNI, NOM)                                                          \
    round_step_body(k, K, len, dw, scale, POS, UNI, NOM, u, maxp, counts, g, lo, hi, su, sd, step, \
                    sums)
#define ROUND_STEP_CASE(K)                                                                         \
    case K:                                                                                        \
        switch (variant) {                                                                         \
        case 0:                                                                                    \
            ROUND_STEP_CALL(K, 0, 0, 0);                                                           \
            break;                                                                                 \
        case 1:                                                                                    \
            ROUND_STEP_CALL(K, 1, 0, 0);                                                           \
            break;                                                                                 \
        case 2:                                                                                    \
            ROUND_STEP_CALL(K, 0, 1, 0);                                                           \
            break;                                                                                 \
        case 3:                                                                                    \
            ROUND_STEP_CALL(K, 1, 1, 0);                                                           \
            break;                                                                                 \
        case 4:                                                                                    \
            ROUND_STEP_CALL(K, 0, 0, 1);                                                           \
            break;                                                                                 \
        case 5:                                                                                    \
            ROUND_STEP_CALL(K, 1, 0, 1);                                                           \
            break;                                                                                 \
        case 6:                                                                                    \
            ROUND_STEP_CALL(K, 0, 1, 1);                                                           \
            break;                                                                                 \
        default:                                                                                   \
            ROUND_STEP_CALL(K, 1, 1, 1);                                                           \
            break;                                                                                 \
        }                                                                                          \
        break

EQS_HOT static void round_step_chunk(const dev_consts *k, eqs_device_kind kind, size_t len,
                                     const eqs_real *dw, float scale, int positive_only, int uni,
                                     const float *u, float maxp, int32_t *counts, const float *g,
                                     const float *lo, const float *hi, const float *su,
                                     const float *sd, float *step, uint32_t *sums)
{
    int variant = (positive_only ? 1 : 0) | (uni ? 2 : 0) | (k->round_step_sie > 0.0f ? 4 : 0);
    switch (kind) {
        ROUND_STEP_CASE(EQS_DEV_IDEAL);
        ROUND_STEP_CASE(EQS_DEV_CONSTANT_STEP);
        ROUND_STEP_CASE(EQS_DEV_LINEAR_STEP);
        ROUND_STEP_CASE(EQS_DEV_SOFT_BOUNDS);
        ROUND_STEP_CASE(EQS_DEV_EXP_STEP);
        ROUND_STEP_CASE(EQS_DEV_POW_STEP);
        ROUND_STEP_CASE(EQS_DEV_PIECEWISE);
        ROUND_STEP_CASE(EQS_DEV_NONLINEAR);
        ROUND_STEP_CASE(EQS_DEV_PCM);
    default:
        sums[0] = sums[1] = sums[2] = 0;
        break;
    }
}
#undef ROUND_STEP_CASE
#undef ROUND_STEP_CALL

/* eqs_device_round_pulses, then the pulses, chunk by chunk, so that the pulses meet the cells
 * while they are still in cache (a separate pulse pass would fetch them from memory again). A
 * cell with one pulse (most of them) moves by the step the rounding computed, with
 * pulse_cell's arithmetic (then its noise c2c |step| xi, or c2c (g_hi - g_lo) xi for the
 * additive kind); cells with more pulses, PCM RESETs and stuck or worn cells go through
 * pulse_cell. Cycle-to-cycle noise: the chunk of cells c0.. (c0 a multiple of FUSE_CHUNK)
 * draws its normals from block c2c_block + c0 / 4 of the C2C stream, one per pulsed cell in
 * cell order; an update advances c2c_block by ceil(n / 4) whatever it pulsed. The ledger as
 * the tile charges it: pulses by polarity and sum |count| G at the start. */
static EQS_INLINE void round_pulse_kind(eqs_device_array *d, eqs_device_kind kind,
                                        const eqs_real *dw, float scale, int positive_only,
                                        const eqs_device_uniforms *us, float maxp, int32_t *counts,
                                        int noisy, eqs_device_ledger *led)
{
    const int pcm = kind == EQS_DEV_PCM, additive = kind == EQS_DEV_NONLINEAR;
    const float c2c = (float)d->cfg.c2c;
    const int uni = d->uniform;
    size_t n = d->n;
    float step[FUSE_CHUNK], xi[FUSE_CHUNK], u[FUSE_CHUNK];
    uint64_t masks[FUSE_CHUNK / 64];
    uint64_t up = 0, down = 0, resets = 0;
    double gsum = 0;
    for (size_t c0 = 0; c0 < n; c0 += FUSE_CHUNK) {
        size_t len = n - c0 < FUSE_CHUNK ? n - c0 : FUSE_CHUNK;
        uint32_t sums[3];
        eqs_rng_fill_uniform_f32(u, len, us->seed, us->purpose, us->entity, us->block0 + c0 / 4);
        round_step_chunk(&d->k, kind, len, dw + c0, scale, positive_only, d->uniform, u, maxp,
                         counts + c0, d->g + c0, d->g_lo + c0, d->g_hi + c0, d->s_up + c0,
                         d->s_down + c0, step, sums);
        up += sums[0];
        down += sums[1];
        resets += sums[2];
        /* the pulsed cells: bit masks (branch-free), their number, their normals */
        const int32_t *cc = counts + c0;
        size_t m = 0;
        for (size_t q = 0; q < len; q += 64) {
            size_t w = len - q < 64 ? len - q : 64;
            uint8_t nz[64] = {0};
            for (size_t b = 0; b < w; b++) /* vectorised compare */
                nz[b] = cc[q + b] != 0;
            uint64_t mask = 0;
            for (int v8 = 0; v8 < 8; v8++) { /* 8 flag bytes -> 8 bits (bytes are 0/1) */
                uint64_t v;
                memcpy(&v, nz + 8 * v8, 8);
                mask |= ((v * 0x0102040810204080ull) >> 56) << (8 * v8);
            }
            masks[q / 64] = mask;
            m += (size_t)__builtin_popcountll(mask);
        }
        if (m == 0)
            continue;
        if (noisy)
            eqs_rng_fill_normal_f32(xi, m, d->seed, EQS_RNG_DEVICE_C2C, d->id,
                                    d->c2c_block + c0 / 4);
        size_t j = 0;
        for (size_t q = 0; q < len; q += 64) {
            uint64_t mask = masks[q / 64];
            while (mask) {
                size_t b = q + (size_t)__builtin_ctzll(mask), i = c0 + b;
                mask &= mask - 1;
                int32_t p = cc[b];
                uint32_t ap = (uint32_t)(p < 0 ? -p : p);
                size_t ic = uni ? 0 : i; /* the cell whose bounds and steps apply */
                float gi = d->g[i], sdir = p > 0 ? d->s_up[ic] : d->s_down[ic];
                gsum += (double)ap * gi;
                if (ap == 1 && sdir > 0.0f && !(pcm && p < 0)) { /* pulse_cell's arithmetic */
                    float lo = d->g_lo[ic], hi = d->g_hi[ic], dg = step[b];
                    float g = clampf(gi + dg, lo, hi);
                    if (noisy) {
                        float sdev = additive ? c2c * (hi - lo) : c2c * sqrtf(dg * dg);
                        g = clampf(g + sdev * xi[j], lo, hi);
                    }
                    d->g[i] = g;
                    if (pcm) {
                        d->g0[i] = g;
                        d->age_s[i] = 0.0f;
                    }
                } else {
                    pulse_cell(d, kind, i, p, noisy ? xi : NULL, j);
                }
                j++;
            }
        }
    }
    if (noisy)
        d->c2c_block += (n + 3) / 4;
    d->n_up += up;
    d->n_down += pcm ? resets : down;
    led->up = up;
    led->down = down;
    led->g_sum_sie = gsum;
}

EQS_HOT void eqs_device_round_and_pulse(eqs_device_array *d, const eqs_real *dw, float scale,
                                        int positive_only, const eqs_device_uniforms *u, float maxp,
                                        int32_t *counts, eqs_device_ledger *led)
{
    eqs_device_kind kind = d->cfg.kind;
    int noisy = kind != EQS_DEV_IDEAL &&
                (d->cfg.c2c > 0.0 || (kind == EQS_DEV_PCM && d->k.reset_std > 0.0f));
    if (d->endurance) { /* wear is counted per pulse: the two passes */
        eqs_rng_fill_uniform_f32(d->noise, d->n, u->seed, u->purpose, u->entity, u->block0);
        eqs_device_round_pulses(d, dw, scale, positive_only, d->noise, maxp, counts);
        uint64_t up = 0, down = 0;
        double gsum = 0;
        for (size_t i = 0; i < d->n; i++) {
            int32_t c = counts[i];
            uint32_t a = (uint32_t)(c < 0 ? -c : c);
            up += c > 0 ? a : 0;
            down += c < 0 ? a : 0;
            gsum += c ? (double)a * d->g[i] : 0.0;
        }
        eqs_device_pulse(d, counts);
        led->up = up;
        led->down = down;
        led->g_sum_sie = gsum;
        return;
    }
    switch (kind) { /* specialised per kind: pulse_cell inlined with its response */
    case EQS_DEV_IDEAL:
        round_pulse_kind(d, EQS_DEV_IDEAL, dw, scale, positive_only, u, maxp, counts, noisy, led);
        break;
    case EQS_DEV_CONSTANT_STEP:
        round_pulse_kind(d, EQS_DEV_CONSTANT_STEP, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_LINEAR_STEP:
        round_pulse_kind(d, EQS_DEV_LINEAR_STEP, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_SOFT_BOUNDS:
        round_pulse_kind(d, EQS_DEV_SOFT_BOUNDS, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_EXP_STEP:
        round_pulse_kind(d, EQS_DEV_EXP_STEP, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_POW_STEP:
        round_pulse_kind(d, EQS_DEV_POW_STEP, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_PIECEWISE:
        round_pulse_kind(d, EQS_DEV_PIECEWISE, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_NONLINEAR:
        round_pulse_kind(d, EQS_DEV_NONLINEAR, dw, scale, positive_only, u, maxp, counts, noisy,
                         led);
        break;
    case EQS_DEV_PCM:
        round_pulse_kind(d, EQS_DEV_PCM, dw, scale, positive_only, u, maxp, counts, noisy, led);
        break;
    default:
        *led = (eqs_device_ledger){0, 0, 0.0};
        break;
    }
}

/* ---- program, reset, read variance, time -------------------------------------------------- */

EQS_HOT void eqs_device_program(eqs_device_array *d, const float *g, const uint8_t *mask)
{
    int pcm = d->cfg.kind == EQS_DEV_PCM;
    if (!mask && !pcm) { /* the common case, branch-free so that it vectorises */
        float *restrict gd = d->g;
        const float *restrict lo = d->g_lo, *restrict hi = d->g_hi;
        const uint8_t *restrict fl = d->flags;
        for (size_t i = 0; i < d->n; i++) {
            float v = g[i] < lo[i] ? lo[i] : (g[i] > hi[i] ? hi[i] : g[i]);
            gd[i] = fl[i] ? gd[i] : v;
        }
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        if ((mask && !mask[i]) || d->flags[i])
            continue;
        d->g[i] = clampf(g[i], d->g_lo[i], d->g_hi[i]);
        if (pcm) {
            d->g0[i] = d->g[i];
            d->age_s[i] = 0.0f;
        }
    }
}

void eqs_device_reset(eqs_device_array *d, const uint8_t *mask)
{
    int pcm = d->cfg.kind == EQS_DEV_PCM;
    float rs = pcm ? d->k.reset_std : 0.0f;
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (mask && !mask[i])
            continue;
        d->n_down++;
        if (!d->flags[i])
            d->idx[m++] = (uint32_t)i;
    }
    const float *noise = rs > 0.0f && m ? draw_noise(d, m) : NULL;
    for (size_t j = 0; j < m; j++) {
        uint32_t i = d->idx[j];
        float lo = d->g_lo[i], hi = d->g_hi[i];
        float g = noise ? clampf(lo + rs * (hi - lo) * noise[j], lo, hi) : lo;
        d->g[i] = g;
        if (pcm) {
            d->g0[i] = g;
            d->age_s[i] = 0.0f;
        }
        if (d->endurance) {
            d->wear[i]++;
            if (d->wear[i] >= d->endurance) {
                d->flags[i] |= FLAG_WORN;
                d->s_up[i] = d->s_down[i] = 0.0f;
            }
        }
    }
}

void eqs_device_read_var(const eqs_device_array *d, float *var)
{
    const float rel = (float)d->cfg.read_noise_rel, a = (float)d->cfg.read_noise_sie;
    const float a2 = a * a, rel2 = rel * rel;
    const float *restrict g = d->g;
    for (size_t i = 0; i < d->n; i++)
        var[i] = rel2 * g[i] * g[i] + a2;
}

void eqs_device_advance_time(eqs_device_array *d, double dt_s)
{
    if (d->cfg.kind != EQS_DEV_PCM || !(dt_s > 0.0))
        return;
    const float t0 = d->k.t0_s, inv_t0 = 1.0f / t0, dt = (float)dt_s;
    for (size_t i = 0; i < d->n; i++) {
        float age = d->age_s[i] + dt;
        d->age_s[i] = age;
        if (d->flags[i] & FLAG_STUCK)
            continue;
        float t = age > t0 ? age * inv_t0 : 1.0f;
        float gi = d->g0[i] * eqs_fast_expf(-d->nu[i] * eqs_fast_logf(t));
        d->g[i] = gi > d->g_lo[i] ? gi : d->g_lo[i];
    }
}

/* ---- write-verify conversion ------------------------------------------------------------ */

int32_t eqs_device_pulses_for(const eqs_device_array *d, size_t i, double dg_sie)
{
    if (i >= d->n || d->flags[i] || dg_sie == 0.0)
        return 0;
    eqs_device_kind kind = d->cfg.kind;
    float lo = d->g_lo[i], hi = d->g_hi[i], ir = d->inv_range[i];
    double g = d->g[i], target = g + dg_sie;
    if (target > hi)
        target = hi;
    if (target < lo)
        target = lo;
    if (kind == EQS_DEV_PCM && dg_sie < 0.0)
        return -1; /* one RESET: the only way down */
    int up = target > g;
    float s = up ? d->s_up[i] : d->s_down[i];
    float r = kind == EQS_DEV_NONLINEAR ? hi - lo : 1.0f;
    int32_t np = 0;
    const int32_t cap = 1 << 24;
    while (np < cap) {
        float x = (float)((g - lo) * ir);
        double step = (double)s * r * (up ? f_up(&d->k, kind, x) : f_down(&d->k, kind, x));
        double next = up ? g + step : g - step;
        if (next > hi)
            next = hi;
        if (next < lo)
            next = lo;
        if (!(fabs(next - g) > 0.0))
            break; /* the response stalls: no pulse gets closer */
        /* stop when the next pulse would leave us farther from the target than we are */
        if (fabs(next - target) >= fabs(g - target))
            break;
        g = next;
        np++;
    }
    return up ? np : -np;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static void state_field(eqs_state_field *f, const char *name, void *data, size_t elem_size,
                        size_t count, uint32_t check)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->data = data;
    f->elem_size = (uint32_t)elem_size;
    f->count = (uint64_t)count;
    f->check = check;
}

int eqs_device_state_fields(eqs_device_array *d, eqs_state_field *f)
{
    int m = 0;
    size_t n = d->n;
    state_field(&f[m++], "n", &d->n, sizeof d->n, 1, 1);
    state_field(&f[m++], "kind", &d->cfg.kind, sizeof d->cfg.kind, 1, 1);
    state_field(&f[m++], "seed", &d->seed, sizeof d->seed, 1, 1);
    state_field(&f[m++], "id", &d->id, sizeof d->id, 1, 1);
    state_field(&f[m++], "g", d->g, sizeof(float), n, 0);
    state_field(&f[m++], "g_lo", d->g_lo, sizeof(float), n, 0);
    state_field(&f[m++], "g_hi", d->g_hi, sizeof(float), n, 0);
    state_field(&f[m++], "s_up", d->s_up, sizeof(float), n, 0);
    state_field(&f[m++], "s_down", d->s_down, sizeof(float), n, 0);
    state_field(&f[m++], "flags", d->flags, 1, n, 0);
    state_field(&f[m++], "wear", d->wear, sizeof(uint32_t), n, 0);
    if (d->cfg.kind == EQS_DEV_PCM) {
        state_field(&f[m++], "g0", d->g0, sizeof(float), n, 0);
        state_field(&f[m++], "age_s", d->age_s, sizeof(float), n, 0);
        state_field(&f[m++], "nu", d->nu, sizeof(float), n, 0);
    }
    state_field(&f[m++], "c2c_block", &d->c2c_block, sizeof d->c2c_block, 1, 0);
    state_field(&f[m++], "n_up", &d->n_up, sizeof d->n_up, 1, 0);
    state_field(&f[m++], "n_down", &d->n_down, sizeof d->n_down, 1, 0);
    EQS_ASSERT(m <= EQS_DEVICE_STATE_FIELDS);
    return m;
}

void eqs_device_state_restored(eqs_device_array *d)
{
    for (size_t i = 0; i < d->n; i++) /* as at fabrication */
        d->inv_range[i] = 1.0f / (d->g_hi[i] - d->g_lo[i]);
    d->uniform = find_uniform_cells(d);
}
