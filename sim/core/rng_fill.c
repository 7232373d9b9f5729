/* rng_fill.c — bulk uniform and normal draws from a Philox stream: the noise of every analog
 * read and the rounding of every pulse update (eqs/core.h, eqs_rng_fill_*).
 *
 * The build targets baseline x86-64, where GCC 12 does not vectorise these loops (measured
 * with the first Box-Muller: ~15 ns per normal with SSE2 or AVX2 code, 1.7 ns with x86-64-v4,
 * i.e. AVX-512 with its 64-bit multiplies and conversions; the grid Box-Muller of rng_normal.h,
 * four normals per draw: 0.6 ns with x86-64-v4). So the body is compiled twice — here for the
 * baseline, in rng_fill_v4.c for x86-64-v4 — and the public functions pick the variant the CPU runs
 * once, at first call. Both are compiled with -ffp-contract=off: no FMA contraction, so both round
 * alike and the numbers do not depend on the machine (tests/test_core compares them). */
#include <stdbool.h>
#include <stdlib.h>

#define RNG_FILL_NAME(kind) eqs_rng_fill_##kind##_base
#include "rng_fill_body.h"

uint64_t eqs_rng_fill_uniform_v4(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity, uint64_t block0);
uint64_t eqs_rng_fill_normal_v4(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                uint32_t entity, uint64_t block0);

bool eqs_rng_fill_use_v4(void); /* also used by tests/test_core.c */

bool eqs_rng_fill_use_v4(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int v4 = -1;
    if (v4 < 0) {
        __builtin_cpu_init();
        v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             getenv("EQS_NO_AVX512") == NULL;
    }
    return v4 == 1;
#else
    return false;
#endif
}

uint64_t eqs_rng_fill_uniform_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                  uint32_t entity, uint64_t block0)
{
    if (eqs_rng_fill_use_v4())
        return eqs_rng_fill_uniform_v4(out, n, seed, purpose, entity, block0);
    return eqs_rng_fill_uniform_base(out, n, seed, purpose, entity, block0);
}

uint64_t eqs_rng_fill_normal_f32(float *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity, uint64_t block0)
{
    if (eqs_rng_fill_use_v4())
        return eqs_rng_fill_normal_v4(out, n, seed, purpose, entity, block0);
    return eqs_rng_fill_normal_base(out, n, seed, purpose, entity, block0);
}
