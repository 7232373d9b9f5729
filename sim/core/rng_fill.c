/* rng_fill.c — bulk uniform and normal draws from a Philox stream, written so GCC vectorises
 * them: the noise of every analog read and the rounding of every pulse update come from here.
 *
 * Element i of a fill uses word i % 4 of block block0 + i / 4 of the stream (seed, purpose,
 * entity) (normals: the pair of words (2k, 2k+1) of block block0 + i / 4 feeds elements
 * 4b + 2k and 4b + 2k + 1 via Box-Muller, cos and sin). Each block is computed from its counter
 * alone, so a fill is random-access, does not depend on how it is chunked, and lanes run in
 * parallel. log, sin and cos are polynomial (float, |error| < 2e-7 absolute on the normals'
 * range), not libm calls: this is the inner loop of every noisy MVM. */
#include <math.h>
#include <string.h>

#include "eqs/core.h"

#define LANES 16 /* blocks per chunk: one AVX-512 register of 32-bit words */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* LANES Philox4x32-10 blocks with counters (b, b >> 32, entity, purpose), b = block0 + lane. */
static void philox_lanes(uint64_t seed, uint32_t purpose, uint32_t entity, uint64_t block0,
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
    return (float)(u >> 8) * (1.0f / 16777216.0f);
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
    float sr = r * (1.0f + r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040 +
                                                                     r2 * (1.0f / 362880)))));
    float cr = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720 + r2 * (1.0f / 40320))));
    int32_t kq = k & 3;
    float sv = (kq == 0) ? sr : (kq == 1) ? cr : (kq == 2) ? -sr : -cr;
    float cv = (kq == 0) ? cr : (kq == 1) ? -sr : (kq == 2) ? -cr : sr;
    *s = sv;
    *c = cv;
}

uint64_t eqs_rng_fill_uniform_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                  uint32_t entity, uint64_t block0)
{
    uint32_t w[4][LANES];
    size_t n_blocks = (n + 3) / 4;
    for (size_t b = 0; b < n_blocks; b += LANES) {
        philox_lanes(seed, (uint32_t)purpose, entity, block0 + b, w);
        float tmp[4 * LANES];
        for (int l = 0; l < LANES; l++)
            for (int j = 0; j < 4; j++)
                tmp[4 * l + j] = unit_f32(w[j][l]);
        size_t first = 4 * b, count = n - first < 4 * LANES ? n - first : 4 * LANES;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return n_blocks;
}

uint64_t eqs_rng_fill_normal_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity, uint64_t block0)
{
    uint32_t w[4][LANES];
    size_t n_blocks = (n + 3) / 4;
    for (size_t b = 0; b < n_blocks; b += LANES) {
        philox_lanes(seed, (uint32_t)purpose, entity, block0 + b, w);
        float tmp[4 * LANES];
        for (int l = 0; l < LANES; l++) {
            for (int k = 0; k < 2; k++) {
                float u1 = 1.0f - unit_f32(w[2 * k][l]); /* (0, 1]: log is finite */
                float u2 = unit_f32(w[2 * k + 1][l]);
                float rad = sqrtf(-2.0f * log_f32(u1)), s, c;
                sincos_2pi_f32(u2, &s, &c);
                tmp[4 * l + 2 * k] = rad * c;
                tmp[4 * l + 2 * k + 1] = rad * s;
            }
        }
        size_t first = 4 * b, count = n - first < 4 * LANES ? n - first : 4 * LANES;
        memcpy(out + first, tmp, count * sizeof(float));
    }
    return n_blocks;
}
