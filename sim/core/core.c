/* core.c — errors, aligned allocation, the Philox4x32-10 RNG and a monotonic clock. */
#define _POSIX_C_SOURCE 200809L
#include "eqs/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

eqs_status eqs_err_set(eqs_err *err, eqs_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

eqs_status eqs_err_prefix(eqs_err *err, const char *fmt, ...)
{
    if (!err)
        return EQS_OK;
    char prefix[EQS_ERR_MSG_LEN], old[EQS_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncating an over-long message is the intended behaviour. */
    size_t n = strlen(prefix);
    if (n + 2 >= sizeof err->msg)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strlen(old) < room ? strlen(old) : room;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

void eqs_err_clear(eqs_err *err)
{
    if (err) {
        err->code = EQS_OK;
        err->msg[0] = '\0';
    }
}

const char *eqs_status_name(eqs_status s)
{
    switch (s) {
    case EQS_OK:
        return "ok";
    case EQS_EINVAL:
        return "invalid argument";
    case EQS_ENOMEM:
        return "out of memory";
    case EQS_EIO:
        return "i/o error";
    case EQS_ECONFIG:
        return "configuration error";
    case EQS_EFORMAT:
        return "bad file format";
    case EQS_ENOCONV:
        return "no convergence";
    case EQS_EMISMATCH:
        return "shape mismatch";
    case EQS_EDIVERGED:
        return "diverged";
    }
    return "unknown status";
}

void eqs_abort(const char *file, int line, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *eqs_calloc(size_t n, size_t size, eqs_err *err)
{
    if (size && n > SIZE_MAX / size) {
        eqs_err_set(err, EQS_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = n * size;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        eqs_err_set(err, EQS_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

void eqs_free(void *p)
{
    free(p);
}

/* Philox4x32-10: constants from Salmon et al. (2011), as in Random123. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void eqs_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void eqs_rng_init(eqs_rng *r, uint64_t seed, eqs_rng_purpose purpose, uint32_t entity)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = 0;
    r->ctr[2] = entity;
    r->ctr[3] = (uint32_t)purpose;
    r->n_buf = 0;
}

uint32_t eqs_rng_u32(eqs_rng *r)
{
    if (r->n_buf == 0) {
        eqs_philox4x32_10(r->ctr, r->key, r->buf);
        if (++r->ctr[0] == 0)
            r->ctr[1]++;
        r->n_buf = 4;
    }
    return r->buf[4 - r->n_buf--];
}

double eqs_rng_uniform(eqs_rng *r)
{
    uint64_t hi = eqs_rng_u32(r) >> 5; /* 27 bits */
    uint64_t lo = eqs_rng_u32(r) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double eqs_rng_normal(eqs_rng *r)
{
    double u1 = 1.0 - eqs_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = eqs_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t eqs_rng_below(eqs_rng *r, uint32_t n)
{
    EQS_ASSERT(n > 0);
    uint32_t limit = UINT32_MAX - UINT32_MAX % n; /* accept [0, limit) */
    for (;;) {
        uint32_t u = eqs_rng_u32(r);
        if (u < limit)
            return u % n;
    }
}

double eqs_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
