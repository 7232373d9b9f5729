/* neuron.h — the per-element kernels of the hardware neurons (sim/net/crnn.c): the quantizer
 * of a neuron's state to 2^bits levels and its fusion with the clamp activations. Internal to
 * sim/net. */
#ifndef EQS_NET_NEURON_H
#define EQS_NET_NEURON_H

#include "eqs/core.h"

/* Uniform levels lo + k to_state, k = 0..levels, over the activation's output range. */
typedef struct eqs_quantizer {
    eqs_real lo, to_level, to_state, levels;
} eqs_quantizer;

eqs_quantizer eqs_quantizer_make(eqs_real lo, eqs_real hi, int32_t bits);

/* s[i] <- the level nearest to s[i] (ties up), clipped to the range. */
void eqs_neuron_quantize(const eqs_quantizer *q, eqs_real *s, int64_t n);

/* out[i] = quantize(clamp(scale pre[i], 0, 1)): a hard-sigmoid activation (scale 1, or 1/2 for
 * hard_sigmoid_half) and the quantizer in one pass over the states instead of two. The same
 * bits as eqs_activation_apply followed by eqs_neuron_quantize. */
void eqs_neuron_clamp_quantize(const eqs_quantizer *q, eqs_real scale, const eqs_real *restrict pre,
                               eqs_real *restrict out, int64_t n);

#endif
