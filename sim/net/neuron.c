/* neuron.c — the hardware neuron's quantizer, alone and fused with the clamp activations.
 * These loops run on every state of every relaxation step, so they are compiled for AVX-512
 * too (eqs/hot.h). */
#include "neuron.h"

#include "eqs/hot.h"

eqs_quantizer eqs_quantizer_make(eqs_real lo, eqs_real hi, int32_t bits)
{
    eqs_real span = hi - lo, levels = (eqs_real)((1u << bits) - 1u);
    eqs_quantizer q = {lo, levels / span, span / levels, levels};
    return q;
}

static inline eqs_real quantize_one(eqs_real lo, eqs_real to_level, eqs_real to_state,
                                    eqs_real levels, eqs_real v)
{
    eqs_real u = (v - lo) * to_level;
    u = u < 0 ? 0 : u; /* (two selects, which GCC if-converts; the nested form it does not) */
    u = u > levels ? levels : u;
    return lo + (eqs_real)(int32_t)(u + (eqs_real)0.5) * to_state;
}

EQS_HOT void eqs_neuron_quantize(const eqs_quantizer *q, eqs_real *s, int64_t n)
{
    /* locals: the stores cannot alias them */
    const eqs_real lo = q->lo, to_level = q->to_level, to_state = q->to_state, levels = q->levels;
    for (int64_t i = 0; i < n; i++)
        s[i] = quantize_one(lo, to_level, to_state, levels, s[i]);
}

EQS_HOT void eqs_neuron_clamp_quantize(const eqs_quantizer *q, eqs_real scale,
                                       const eqs_real *restrict pre, eqs_real *restrict out,
                                       int64_t n)
{
    const eqs_real lo = q->lo, to_level = q->to_level, to_state = q->to_state, levels = q->levels;
    for (int64_t i = 0; i < n; i++) {
        eqs_real v = pre[i] * scale;
        v = v < 0 ? 0 : v;
        v = v > 1 ? 1 : v;
        out[i] = quantize_one(lo, to_level, to_state, levels, v);
    }
}
