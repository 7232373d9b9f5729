/* rng_fill_v4.c — the bulk Philox fills compiled for x86-64-v4 (AVX-512); see rng_fill.c. */
#define RNG_FILL_NAME(kind) eqs_rng_fill_##kind##_v4
#include "rng_fill_body.h"
