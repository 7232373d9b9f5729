/* rng_normal.h — the normal deviates of the bulk fills (rng_fill_body.h): Box-Muller on a
 * discrete grid, four normals from one 64-bit SplitMix64 draw, with short polynomials in place
 * of log, sin and cos. Not a public header (tests/test_core.c includes it to check the
 * distribution exhaustively).
 *
 * One 32-bit half of a draw gives a pair: its top 20 bits b pick the radius
 *     rad = EQS_NORMAL_SCALE sqrt(-2 ln u),  u = (b + 1) / 2^20 in (0, 1],
 * its low 12 bits a the angle theta = 2 pi (a + 1/2) / 4096, and the pair is (rad cos theta,
 * rad sin theta). What this gives up against an exact Gaussian:
 *   - tails: |z| <= EQS_NORMAL_SCALE sqrt(2 ln 2^20) = 5.27 (a normal exceeds 5.27 with
 *     probability 1.4e-7); the radius takes 2^20 values, the angle 4096;
 *   - the polynomials: ln u within 3e-6 absolute, sin and cos within 4e-6;
 * so the distribution is within a KS distance of 1e-6 of N(0, 1) (its CDF is a finite sum:
 * tests/test_core.c enumerates it and bounds the distance at 1e-5, the relative error of the
 * tails over 3..4 sigma at 1 %, and runs a KS test on 2^20 draws). Mean and variance are
 * exact for the discrete distribution: every radius meets the angles theta and theta + pi
 * with equal probability, and the reduction below gives their sin and cos exactly opposite
 * signs, so the mean is 0 exactly; EQS_NORMAL_SCALE is 1 / sqrt(E[rad0^2] E[cos^2]) over the
 * 2^20 radii and 4096 angles (enumerated with these very float operations), so the variance
 * is 1 up to the float rounding of the scale and of the last products (1e-8; test_core
 * enumerates it to 1e-6). */
#ifndef EQS_CORE_RNG_NORMAL_H
#define EQS_CORE_RNG_NORMAL_H

#include <math.h>
#include <stdint.h>

#define EQS_NORMAL_SCALE 1.00000405f

/* ln u for u in (0, 1]: u = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = f P(f), f = m - 1,
 * P of degree 5 (Chebyshev interpolation of ln(1 + f) / f; |error| < 3e-6 absolute). ln 1 = 0
 * exactly, and ln u < 0 for every u < 1 of the grid. */
static inline float eqs_normal_log01(float u)
{
    union {
        float f;
        uint32_t u;
    } v = {.f = u};
    int32_t e = (int32_t)((v.u >> 23) & 0xff) - 127;
    v.u = (v.u & 0x7fffffu) | 0x3f800000u;
    float m = v.f;
    int32_t big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    float f = m - 1.0f;
    float p = -0.140216231f;
    p = p * f + 0.219657078f;
    p = p * f - 0.254333556f;
    p = p * f + 0.332659066f;
    p = p * f - 0.499894798f;
    p = p * f + 1.0000037f;
    return (float)e * 0.693147181f + f * p;
}

/* The radius of the pair from 20 random bits (scaled by EQS_NORMAL_SCALE). */
static inline float eqs_normal_radius(uint32_t bits20)
{
    float u = (float)(int32_t)(bits20 + 1u) * (1.0f / 1048576.0f); /* (0, 1], exact */
    return EQS_NORMAL_SCALE * sqrtf(-2.0f * eqs_normal_log01(u));
}

/* sin and cos of 2 pi (a + 1/2) / 4096 from 12 random bits a: q = 4 (a + 1/2) / 4096 in (0, 4)
 * (exact), reduced to r = (q - k) pi / 2 in [-pi/4, pi/4] around the nearest quadrant k and
 * rotated by it; Taylor polynomials to r^7 (sin) and r^6 (cos), error < 4e-6. Angles pi apart
 * give the same r and exactly opposite results. */
static inline void eqs_normal_sincos(uint32_t bits12, float *s, float *c)
{
    float q = (float)(int32_t)(2u * bits12 + 1u) * (1.0f / 2048.0f);
    int32_t k = (int32_t)(q + 0.5f);
    float r = (q - (float)k) * 1.57079633f;
    float r2 = r * r;
    float sr = r * (1.0f + r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040))));
    float cr = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720)));
    int32_t kq = k & 3;
    *s = (kq == 0) ? sr : (kq == 1) ? cr : (kq == 2) ? -sr : -cr;
    *c = (kq == 0) ? cr : (kq == 1) ? -sr : (kq == 2) ? -cr : sr;
}

#endif
