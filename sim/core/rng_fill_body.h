/* rng_fill_body.h — the bulk Philox fills, included once per instruction set by rng_fill.c
 * (baseline x86-64) and rng_fill_v4.c (x86-64-v4) with RNG_FILL_NAME naming the variant.
 * Written so GCC vectorises them: 16 Philox blocks per chunk in lanes, polynomial log, sin and
 * cos (float, |error| < 2e-7 absolute on the normals' range) instead of libm calls, lane-major
 * outputs. Not a public header. */
#include <math.h>
#include <string.h>

#include "eqs/core.h"

#define LANES 16 /* blocks per chunk: one AVX-512 register of 32-bit words */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* LANES Philox4x32-10 blocks with counters (b, b >> 32, entity, purpose), b = block0 + lane. */
static inline void philox_lanes(uint64_t seed, uint32_t purpose, uint32_t entity, uint64_t block0,
                                uint32_t w[4][LANES])
{
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int l = 0; l < LANES; l++) {
        uint64_t b = block0 + (uint64_t)l;
        c0[l] = (uint32_t)b;
        c1[l] = (uint32_t)(b >> 32);
        c2[l] = entity;
        c3[l] = purpose;
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        for (int l = 0; l < LANES; l++) {
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

/* 24 random bits -> [0, 1) (exact in float). */
static inline float unit_f32(uint32_t u)
{
    return (float)(int32_t)(u >> 8) * (1.0f / 16777216.0f); /* signed: vectorises on AVX2 */
}

/* ln(x) for x in (0, 1]: exponent from the bits, mantissa m in [sqrt(1/2), sqrt(2)) through
 * log(m) = 2 atanh(t), t = (m-1)/(m+1), |t| < 0.172, odd series to t^9 (error < 3e-8). */
static inline float log_f32(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = (int32_t)((bits >> 23) & 0xff) - 127;
    uint32_t mb = (bits & 0x7fffffu) | 0x3f800000u; /* m in [1, 2) */
    float m;
    memcpy(&m, &mb, sizeof m);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = 2.0f / 9.0f;
    p = p * t2 + 2.0f / 7.0f;
    p = p * t2 + 2.0f / 5.0f;
    p = p * t2 + 2.0f / 3.0f;
    p = p * t2 + 2.0f;
    return (float)e * 0.69314718f + t * p;
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

/* Chunk c of a fill (elements 64c .. 64c+63) comes from blocks block0 + 16c .. +15: element
 * 64c + 16j + l is word j of block block0 + 16c + l (normals: words 2k, 2k+1 of that block give
 * elements 64c + 32k + l (cos) and 64c + 32k + 16 + l (sin)). Lane-major, so no transpose. */
uint64_t RNG_FILL_NAME(uniform)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0);
uint64_t RNG_FILL_NAME(normal)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                               uint32_t entity, uint64_t block0);

uint64_t RNG_FILL_NAME(uniform)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0)
{
    uint32_t w[4][LANES];
    float tmp[4 * LANES];
    for (size_t first = 0; first < n; first += 4 * LANES) {
        philox_lanes(seed, (uint32_t)purpose, entity, block0 + first / 4, w);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < LANES; l++)
                tmp[j * LANES + l] = unit_f32(w[j][l]);
        size_t count = n - first < 4 * LANES ? n - first : 4 * LANES;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return (n + 3) / 4;
}

uint64_t RNG_FILL_NAME(normal)(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                               uint32_t entity, uint64_t block0)
{
    uint32_t w[4][LANES];
    float tmp[4 * LANES];
    for (size_t first = 0; first < n; first += 4 * LANES) {
        philox_lanes(seed, (uint32_t)purpose, entity, block0 + first / 4, w);
        for (int l = 0; l < LANES; l++) {
            float rad[2], sn[2], cs[2];
            for (int k = 0; k < 2; k++) {
                float u1 = 1.0f - unit_f32(w[2 * k][l]); /* (0, 1]: log is finite */
                rad[k] = sqrtf(-2.0f * log_f32(u1));
                sincos_2pi_f32(unit_f32(w[2 * k + 1][l]), &sn[k], &cs[k]);
            }
            tmp[l] = rad[0] * cs[0];
            tmp[LANES + l] = rad[0] * sn[0];
            tmp[2 * LANES + l] = rad[1] * cs[1];
            tmp[3 * LANES + l] = rad[1] * sn[1];
        }
        size_t count = n - first < 4 * LANES ? n - first : 4 * LANES;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return (n + 3) / 4;
}
