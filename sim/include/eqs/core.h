/* eqs/core.h — status codes, error values, the real-number type, assertions, Philox RNG.
 *
 * Everything else in eqsim stands on this header. Conventions (see ../../../DESIGN.md):
 *  - functions that can fail return an eqs_status and fill an optional caller-owned eqs_err
 *    whose message names the file, field and value at fault (one line, no trailing newline);
 *  - the library never prints to stdout and never calls exit(); EQS_ASSERT is for programming
 *    errors only (broken invariants), never for bad user input;
 *  - eqs_real is float32 by default; configure with -DEQS_DOUBLE=ON (or link the *_f64 library
 *    variant) to build everything in float64.
 *
 * Example:
 *     eqs_err err;
 *     if (eqs_npy_read("w.npy", &arr, &err) != EQS_OK) fprintf(stderr, "%s\n", err.msg);
 */
#ifndef EQS_CORE_H
#define EQS_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------------------------- */

typedef enum eqs_status {
    EQS_OK = 0,
    EQS_EINVAL = -1,    /* invalid argument or out-of-range value */
    EQS_ENOMEM = -2,    /* allocation failed */
    EQS_EIO = -3,       /* file missing, unreadable, unwritable */
    EQS_ECONFIG = -4,   /* bad configuration (YAML or --set) */
    EQS_EFORMAT = -5,   /* file exists but its content is malformed or truncated */
    EQS_ENOCONV = -6,   /* dynamics did not converge */
    EQS_EMISMATCH = -7, /* shapes or sizes that must agree do not */
    EQS_EDIVERGED = -8, /* NaN/Inf appeared in states, losses or weights */
} eqs_status;

#define EQS_ERR_MSG_LEN 768

typedef struct eqs_err {
    eqs_status code;
    char msg[EQS_ERR_MSG_LEN]; /* one line, names file/field/value; empty when code == EQS_OK */
} eqs_err;

/* Records code + printf-style message into err (NULL-safe) and returns code, so callers can
 * write `return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path, strerror(errno));`. */
eqs_status eqs_err_set(eqs_err *err, eqs_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (used to add context while propagating). */
eqs_status eqs_err_prefix(eqs_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eqs_err_clear(eqs_err *err);
const char *eqs_status_name(eqs_status s);

/* Programming errors: print file:line and abort, also in release builds. */
void eqs_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
#define EQS_ASSERT(x)                                                                              \
    do {                                                                                           \
        if (!(x))                                                                                  \
            eqs_abort(__FILE__, __LINE__, "EQS_ASSERT(%s) failed", #x);                            \
    } while (0)

/* ---- the real type ---------------------------------------------------------------------- */

#ifdef EQS_REAL_DOUBLE
typedef double eqs_real;
#define EQS_REAL_NAME "float64"
#define EQS_REAL_EPS  2.220446049250313e-16
#define eqs_sqrt      sqrt /* the libm function of eqs_real's precision */
#else
typedef float eqs_real;
#define EQS_REAL_NAME "float32"
#define EQS_REAL_EPS  1.1920929e-07
#define eqs_sqrt      sqrtf
#endif

/* ---- memory ----------------------------------------------------------------------------- */

/* 64-byte aligned, zero-filled allocation; returns NULL and sets err on failure.
 * Free with eqs_free(). Allocation happens at create time only, never in inner loops. */
void *eqs_calloc(size_t n, size_t size, eqs_err *err);
void eqs_free(void *p);

/* ---- Philox4x32-10 counter-based RNG ------------------------------------------------------ */

/* Raw block function (Salmon et al., SC'11; Random123's philox4x32 with 10 rounds). */
void eqs_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* What a draw is for. Append only: a new purpose never shifts the streams of existing ones. */
typedef enum eqs_rng_purpose {
    EQS_RNG_INIT_W = 1,    /* weight initialisation (entity = parameter index) */
    EQS_RNG_SHUFFLE = 2,   /* data shuffling (entity = epoch) */
    EQS_RNG_SIGN = 3,      /* random-sign EP (entity = global step) */
    EQS_RNG_SUBSET = 4,    /* choosing a training subset */
    EQS_RNG_TEST_DATA = 5, /* synthetic data in tests */
    /* 6 was EQS_RNG_BENCH, never used; left free so no stream moves */
    EQS_RNG_AUGMENT = 7,      /* data augmentation (entity = epoch; draw index from the sample) */
    EQS_RNG_GDU_PICK = 8,     /* choice of the units and weights gducheck plots */
    EQS_RNG_DROPOUT = 9,      /* dropout masks (entity = training step) */
    EQS_RNG_PEPITA_F = 10,    /* PEPITA's fixed projection matrix F (entity 0) */
    EQS_RNG_PEPITA_MOD = 11,  /* PEPITA's random-modulation ablation (entity = training step) */
    EQS_RNG_DEVICE_D2D = 12,  /* fabrication: device-to-device spread, stuck devices (entity =
                                 tile id) */
    EQS_RNG_DEVICE_C2C = 13,  /* each programming pulse's cycle-to-cycle noise (entity = tile) */
    EQS_RNG_READ_NOISE = 14,  /* each analog read's noise (entity = tile id) */
    EQS_RNG_PULSE_ROUND = 15, /* dW -> pulse counts: stochastic rounding, pulse trains (tile) */
} eqs_rng_purpose;

/* A stream is (seed, purpose, entity); draw i of it is block i of Philox with
 * key = (seed lo, seed hi) and counter = (i lo, i hi, entity, purpose). Streams are values:
 * copy them freely. */
typedef struct eqs_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int n_buf; /* unused words left in buf */
} eqs_rng;

void eqs_rng_init(eqs_rng *r, uint64_t seed, eqs_rng_purpose purpose, uint32_t entity);
uint32_t eqs_rng_u32(eqs_rng *r);
double eqs_rng_uniform(eqs_rng *r);             /* [0, 1), 53 bits from two words */
double eqs_rng_normal(eqs_rng *r);              /* Box-Muller, consumes 4 words (2 uniforms) */
uint32_t eqs_rng_below(eqs_rng *r, uint32_t n); /* uniform on [0, n), unbiased (rejection) */

/* Bulk draws for inner loops (vectorised; sim/core/rng_fill.c): a fill of n elements uses
 * blocks block0 .. block0 + ceil(n/4) - 1 of the stream (seed, purpose, entity). Return the
 * number of blocks consumed (ceil(n/4)): add it to the caller's running block offset so the
 * next fill draws fresh numbers.
 * Uniform: [0, 1) with 24 bits. Normal: Box-Muller on a grid (20-bit radius, 12-bit angle) with
 * short polynomials (sim/core/rng_normal.h): mean 0 and variance 1 exactly, CDF within 1e-6 of
 * N(0, 1)'s, |z| <= 5.27. */
uint64_t eqs_rng_fill_uniform_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                  uint32_t entity, uint64_t block0);
uint64_t eqs_rng_fill_normal_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity, uint64_t block0);

/* Exactly the n doubles that n successive eqs_rng_uniform calls return on a fresh stream
 * (seed, purpose, entity), computed in bulk (sim/core/philox_fill.c). */
void eqs_rng_fill_uniform_f64(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                              uint32_t entity);

/* ---- misc --------------------------------------------------------------------------------- */

double eqs_now_s(void); /* monotonic wall clock, seconds */

#ifdef __cplusplus
}
#endif
#endif
