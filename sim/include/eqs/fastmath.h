/* eqs/fastmath.h — float exp and log as inline polynomials, for inner loops over arrays that
 * GCC should vectorise (libm's expf/logf are calls it does not vectorise here: measured 13 % of
 * an analog training step in __expf_fma alone). Relative error < 3e-7 over the float range
 * used (exp: |x| < 87; log: normal positive x); not for denormals, inf or NaN. */
#ifndef EQS_FASTMATH_H
#define EQS_FASTMATH_H

#include <stdint.h>

/* e^x = 2^k e^r, k = round(x / ln 2), |r| <= ln2/2, e^r by its Taylor series to r^7. */
static inline float eqs_fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x);
    float kf = x * 1.44269504f;
    kf = kf < 0 ? kf - 0.5f : kf + 0.5f;
    int32_t k = (int32_t)__builtin_truncf(kf); /* = (int32_t)kf; the explicit trunc lets GCC 12
                                                 if-convert and vectorise the callers' loops */
    float r = x - (float)k * 0.693145752f - (float)k * 1.42860677e-6f; /* ln 2 in two parts */
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        uint32_t u;
        float f;
    } scale = {.u = (uint32_t)(k + 127) << 23};
    return p * scale.f;
}

/* ln x: exponent from the bits, mantissa m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(t) with
 * t = (m - 1)/(m + 1), |t| < 0.172, odd series to t^11. */
static inline float eqs_fast_logf(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {.f = x}; /* type punning through a union is defined in C11 */
    int32_t e = (int32_t)((v.u >> 23) & 0xff) - 127;
    v.u = (v.u & 0x7fffffu) | 0x3f800000u;
    float m = v.f;
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = 2.0f / 11;
    p = p * t2 + 2.0f / 9;
    p = p * t2 + 2.0f / 7;
    p = p * t2 + 2.0f / 5;
    p = p * t2 + 2.0f / 3;
    p = p * t2 + 2.0f;
    return (float)e * 0.693147181f + t * p;
}

#endif
