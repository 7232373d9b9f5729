/* rng_fill_body.h — the bulk fills, included once per instruction set by rng_fill.c (baseline
 * x86-64) and rng_fill_v4.c (x86-64-v4) with RNG_FILL_NAME naming the variant. Written so GCC
 * vectorises them: one SplitMix64 hash per draw, and for the normals a grid Box-Muller with
 * short polynomials (rng_normal.h: mean 0 and variance 1 exactly, |z| <= 5.27, KS distance to
 * N(0, 1) about 1e-5) instead of libm calls. Not a public header.
 *
 * Layout: a fill at block0 owns the counters 4 block0 .. 4 (block0 + ceil(n/4)) - 1 of its
 * stream. Uniform element i is the top 24 bits of draw 4 block0 + i. Normals come four per
 * draw: elements 128c + 32r + l (r = 0..3, l = 0..31) from draw 4 block0 + 32c + l, whose high
 * half (bits 63..32) gives the pair r = 0 (cos), r = 1 (sin) and its low half the pair r = 2,
 * r = 3 (eqs_normal_radius of the top 20 bits of the half, eqs_normal_sincos of its low 12);
 * they stay inside the fill's counters. Draw j of a stream is mix64(key + j * golden gamma). */
#include <math.h>
#include <string.h>

#include "rng_mix.h"
#include "rng_normal.h"

#include "eqs/core.h"
#include "eqs/fastmath.h"

/* 24 random bits -> [0, 1) (exact in float; through int32 so that it vectorises). */
static inline float unit_f32(uint64_t bits24)
{
    return (float)(int32_t)bits24 * (1.0f / 16777216.0f);
}

uint64_t RNG_FILL_NAME(uniform)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0);
uint64_t RNG_FILL_NAME(normal)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                               uint32_t entity, uint64_t block0);

uint64_t RNG_FILL_NAME(uniform)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0)
{
    uint64_t key = eqs_rng_fill_key(seed, purpose, entity), c0 = 4 * block0;
    for (size_t i = 0; i < n; i++)
        out[i] = unit_f32(eqs_mix64(key + (c0 + i) * EQS_GOLDEN_GAMMA) >> 40);
    return (n + 3) / 4;
}

uint64_t RNG_FILL_NAME(normal)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                               uint32_t entity, uint64_t block0)
{
    enum { LANES = 32 };
    uint64_t key = eqs_rng_fill_key(seed, purpose, entity), c0 = 4 * block0;
    uint64_t step[LANES]; /* l gamma: an add per lane instead of a 64-bit multiply */
    for (int l = 0; l < LANES; l++)
        step[l] = (uint64_t)l * EQS_GOLDEN_GAMMA;
    float tmp[4 * LANES];
    for (size_t first = 0; first < n; first += 4 * LANES) {
        uint64_t base = key + (c0 + first / 4) * EQS_GOLDEN_GAMMA;
        for (int l = 0; l < LANES; l++) {
            uint64_t h = eqs_mix64(base + step[l]);
            uint32_t hi = (uint32_t)(h >> 32), lo = (uint32_t)h;
            float ra = eqs_normal_radius(hi >> 12), rb = eqs_normal_radius(lo >> 12);
            float sa, ca, sb, cb;
            eqs_normal_sincos(hi & 0xfffu, &sa, &ca);
            eqs_normal_sincos(lo & 0xfffu, &sb, &cb);
            tmp[l] = ra * ca;
            tmp[LANES + l] = ra * sa;
            tmp[2 * LANES + l] = rb * cb;
            tmp[3 * LANES + l] = rb * sb;
        }
        size_t count = n - first < 4 * LANES ? n - first : 4 * LANES;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return (n + 3) / 4;
}
