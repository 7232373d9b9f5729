/* philox_fill_v4.c — eqs_rng_fill_uniform_f64 compiled for x86-64-v4 (AVX-512); philox_fill.c. */
#define PHILOX_FILL_NAME eqs_rng_fill_uniform_f64_v4
#include "philox_fill_body.h"
