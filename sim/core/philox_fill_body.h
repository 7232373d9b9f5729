/* philox_fill_body.h — eqs_rng_uniform's exact sequence in bulk, included once per instruction
 * set by philox_fill.c (baseline x86-64) and philox_fill_v4.c (x86-64-v4) with
 * PHILOX_FILL_NAME naming the variant. Uniform i of a fresh stream is built from words 2i and
 * 2i+1 (core.c: 27 + 26 bits), i.e. block i/2, words 0-1 (i even) or 2-3 (i odd); here 16
 * blocks are computed side by side in lanes so GCC vectorises Philox. Not a public header. */
#include <string.h>

#include "eqs/core.h"

#define PF_LANES 16

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* PF_LANES Philox4x32-10 blocks with counters (b, b >> 32, entity, purpose), b = block0 + lane
 * (the counter layout of eqs_rng, core.c). */
static inline void philox_lanes(uint64_t seed, uint32_t purpose, uint32_t entity, uint64_t block0,
                                uint32_t w[4][PF_LANES])
{
    uint32_t c0[PF_LANES], c1[PF_LANES], c2[PF_LANES], c3[PF_LANES];
    for (int l = 0; l < PF_LANES; l++) {
        uint64_t b = block0 + (uint64_t)l;
        c0[l] = (uint32_t)b;
        c1[l] = (uint32_t)(b >> 32);
        c2[l] = entity;
        c3[l] = purpose;
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        for (int l = 0; l < PF_LANES; l++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l];
            uint64_t p1 = (uint64_t)PHILOX_M1 * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    memcpy(w[0], c0, sizeof c0);
    memcpy(w[1], c1, sizeof c1);
    memcpy(w[2], c2, sizeof c2);
    memcpy(w[3], c3, sizeof c3);
}

/* (hi >> 5) << 26 | (lo >> 6), times 2^-53: eqs_rng_uniform's double in [0, 1). */
static inline double uniform53(uint32_t hi, uint32_t lo)
{
    uint64_t v = ((uint64_t)(hi >> 5) << 26) | (uint64_t)(lo >> 6);
    return (double)(int64_t)v * (1.0 / 9007199254740992.0);
}

void PHILOX_FILL_NAME(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                      uint32_t entity);

void PHILOX_FILL_NAME(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                      uint32_t entity)
{
    uint32_t w[4][PF_LANES];
    double tmp[2 * PF_LANES];
    for (size_t first = 0; first < n; first += 2 * PF_LANES) {
        philox_lanes(seed, (uint32_t)purpose, entity, first / 2, w);
        for (int l = 0; l < PF_LANES; l++) {
            tmp[2 * l] = uniform53(w[0][l], w[1][l]);
            tmp[2 * l + 1] = uniform53(w[2][l], w[3][l]);
        }
        size_t count = n - first < 2 * PF_LANES ? n - first : 2 * PF_LANES;
        memcpy(out + first, tmp, count * sizeof(double));
    }
}
