/* rng_fill_body.h — the bulk fills, included once per instruction set by rng_fill.c (baseline
 * x86-64) and rng_fill_v4.c (x86-64-v4) with RNG_FILL_NAME naming the variant. Written so GCC
 * vectorises them: one SplitMix64 hash per draw, polynomial log, sin and cos (float, |error| <
 * 2e-7 absolute on the normals' range) instead of libm calls. Not a public header.
 *
 * Layout: a fill at block0 owns the counters 4 block0 .. 4 (block0 + ceil(n/4)) - 1 of its
 * stream. Uniform element i is the top 24 bits of draw 4 block0 + i; normal pair p (elements
 * 64c + l and 64c + 32 + l for p = 32c + l) comes from draw 4 block0 + p by Box-Muller (bits
 * 63..40 and 31..8), cos then sin. Draw j of a stream is mix64(key + j * golden gamma). */
#include <math.h>
#include <string.h>

#include "rng_mix.h"

#include "eqs/core.h"
#include "eqs/fastmath.h"

/* 24 random bits -> [0, 1) (exact in float; through int32 so that it vectorises). */
static inline float unit_f32(uint64_t bits24)
{
    return (float)(int32_t)bits24 * (1.0f / 16777216.0f);
}

/* sin and cos of 2 pi u for u in [0, 1): reduce to r = 2 pi (u - k/4) in [-pi/4, pi/4] and
 * rotate by the quadrant k; Taylor polynomials to r^8 / r^9 (error < 4e-7). */
static inline void sincos_2pi_f32(float u, float *s, float *c)
{
    float q = u * 4.0f;
    int32_t k = (int32_t)(q + 0.5f); /* nearest quadrant, 0..4 */
    float r = (q - (float)k) * 1.57079633f;
    float r2 = r * r;
    float sr =
        r *
        (1.0f + r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040 + r2 * (1.0f / 362880)))));
    float cr = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720 + r2 * (1.0f / 40320))));
    int32_t kq = k & 3;
    float sv = (kq == 0) ? sr : (kq == 1) ? cr : (kq == 2) ? -sr : -cr;
    float cv = (kq == 0) ? cr : (kq == 1) ? -sr : (kq == 2) ? -cr : sr;
    *s = sv;
    *c = cv;
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
    enum { PAIRS = 32 };
    uint64_t key = eqs_rng_fill_key(seed, purpose, entity), c0 = 4 * block0;
    float tmp[2 * PAIRS];
    for (size_t first = 0; first < n; first += 2 * PAIRS) {
        uint64_t c = c0 + first / 2;
        for (int l = 0; l < PAIRS; l++) {
            uint64_t h = eqs_mix64(key + (c + (uint64_t)l) * EQS_GOLDEN_GAMMA);
            float u1 = 1.0f - unit_f32(h >> 40); /* (0, 1]: log is finite */
            float rad = sqrtf(-2.0f * eqs_fast_logf(u1)), sn, cs;
            sincos_2pi_f32(unit_f32((h >> 8) & 0xffffffu), &sn, &cs);
            tmp[l] = rad * cs;
            tmp[PAIRS + l] = rad * sn;
        }
        size_t count = n - first < 2 * PAIRS ? n - first : 2 * PAIRS;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return (n + 3) / 4;
}
