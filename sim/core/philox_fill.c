/* philox_fill.c — eqs_rng_fill_uniform_f64: n successive eqs_rng_uniform draws of a fresh
 * stream, computed in bulk (dropout masks, initialisation). Compiled for baseline x86-64 here
 * and for x86-64-v4 in philox_fill_v4.c, picked at run time like the other fills (rng_fill.c);
 * both give exactly eqs_rng_uniform's doubles (tests/test_core.c). */
#include <stdbool.h>

#define PHILOX_FILL_NAME eqs_rng_fill_uniform_f64_base
#include "philox_fill_body.h"

bool eqs_rng_fill_use_v4(void); /* rng_fill.c */
void eqs_rng_fill_uniform_f64_v4(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                                 uint32_t entity);

void eqs_rng_fill_uniform_f64(double *out, size_t n, uint64_t seed, eqs_rng_purpose purpose,
                              uint32_t entity)
{
    if (eqs_rng_fill_use_v4())
        eqs_rng_fill_uniform_f64_v4(out, n, seed, purpose, entity);
    else
        eqs_rng_fill_uniform_f64_base(out, n, seed, purpose, entity);
}
