/* eqs/net.h — the convergent RNN (CRNN) of dense and convolutional layers, in the conventions of
 * the reference code of Laborieux et al. (2021), so numbers compare one for one.
 *
 * Layers k = 1..N hold W_k [n_k, n_{k-1}] on a tile and a bias b_k [n_k]; s_0 = x is the static
 * input. The primitive function is
 *     Phi = sum_k s_k . (W_k s_{k-1} + b_k)  -  beta * l
 * and every step updates all layers synchronously from the previous step's states:
 *     s_k <- sigma(dPhi/ds_k) = sigma(W_k s_{k-1} + b_k + W_{k+1}^T s_{k+1} + nudge_k).
 * The nudge enters inside sigma (as in the reference code). Readouts:
 *  - activation: the output o = s_N is in the dynamics with sigma; nudge_N = -beta dl/do
 *  - linear:     the output o = s_N is in the dynamics without sigma; nudge_N = -beta dl/do
 *  - softmax:    layers 1..N-1 are dynamic; W_N, b_N read out z = W_N s_{N-1} + b_N outside the
 *                dynamics; l = CE(z, y); nudge_{N-1} = -beta W_N^T (softmax(z) - y).
 * "Dynamic layers" are the D layers with a state (D = N, or N-1 with a softmax readout).
 *
 * States start at zero for every mini-batch. The input drive W_1 x + b_1 is static: eqs_crnn_
 * set_input computes it once per batch and every step reuses it.
 */
#ifndef EQS_NET_H
#define EQS_NET_H

#include "eqs/config.h"
#include "eqs/core.h"
#include "eqs/xbar.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eqs_crnn eqs_crnn;

/* States of the D dynamic layers for a batch: s[k] [batch, n_{k+1}] (0-based k). */
typedef struct eqs_state {
    int32_t n_layers; /* D */
    eqs_real *s[EQS_MAX_LAYERS];
} eqs_state;

/* Gradients (or updates) of every parameter: w[k] [n_out, n_in], b[k] [n_out], k = 0..N-1. */
typedef struct eqs_grads {
    int32_t n_layers; /* N */
    eqs_real *w[EQS_MAX_LAYERS];
    eqs_real *b[EQS_MAX_LAYERS];
    eqs_real *wb[EQS_MAX_LAYERS]; /* backward weights (asymmetric feedback); NULL where none */
    eqs_real *p[EQS_MAX_LAYERS];  /* trained local readouts P_i [n_classes, n_l] by readout
                                     index i (eqs_crnn_local_*); NULL where none or fixed */
} eqs_grads;

/* Creates the network with ideal tiles; parameters are zero until eqs_crnn_init_params or a
 * load. max_batch bounds the batch of every later call (workspace is allocated here, never in
 * the steps). */
eqs_status eqs_crnn_create(eqs_crnn **out, const eqs_model_config *model, int32_t max_batch,
                           eqs_err *err);
/* The same on hardware: every weight matrix on an analog tile of hw (hw NULL: ideal tiles, as
 * eqs_crnn_create), with random streams named by seed and a per-array id (2k for W_k, 2k+1 for
 * W^b_k), and neurons as hw->neuron describes them (quantized states, leaky integration,
 * settle detection). */
eqs_status eqs_crnn_create_hw(eqs_crnn **out, const eqs_model_config *model, int32_t max_batch,
                              const eqs_hw_config *hw, uint64_t seed, eqs_err *err);
void eqs_crnn_destroy(eqs_crnn *net);

const eqs_model_config *eqs_crnn_model(const eqs_crnn *net);
int32_t eqs_crnn_n_layers(const eqs_crnn *net);        /* N, weight layers */
int32_t eqs_crnn_n_dynamic(const eqs_crnn *net);       /* D, layers with a state */
int32_t eqs_crnn_size(const eqs_crnn *net, int32_t k); /* n_k, k = 0 (input) .. N */
int32_t eqs_crnn_n_classes(const eqs_crnn *net);
int32_t eqs_crnn_max_batch(const eqs_crnn *net);
eqs_tile *eqs_crnn_tile(eqs_crnn *net, int32_t layer);          /* layer 0..N-1 */
int64_t eqs_crnn_n_weights(const eqs_crnn *net, int32_t layer); /* elements of W_k */
int32_t eqs_crnn_n_bias(const eqs_crnn *net, int32_t layer);    /* units or channels */
/* Asymmetric feedback: connection k (1 <= k < D) has separate backward weights W^b_k, of
 * W_k's shape and without bias, which carry the backward drive into layer k-1. */
bool eqs_crnn_has_back(const eqs_crnn *net, int32_t layer);
eqs_tile *eqs_crnn_tile_back(eqs_crnn *net, int32_t layer);
/* W_k's shape as files show it: [out, in] (dense) or [C_out, C_in, k, k] (conv); returns ndim. */
int32_t eqs_crnn_weight_shape(const eqs_crnn *net, int32_t layer, int64_t shape[4]);
eqs_real *eqs_crnn_bias(eqs_crnn *net, int32_t layer); /* [n_out], digital periphery */
/* False for a model with `bias: false`: b_k stays zero, is not trained and has no file. */
bool eqs_crnn_has_bias(const eqs_crnn *net, int32_t layer);

/* PyTorch nn.Linear's default: W and b uniform on +-1/sqrt(fan_in), drawn from
 * eqs_rng(seed, EQS_RNG_INIT_W, 2k) for W_k and (.., 2k+1) for b_k. */
void eqs_crnn_init_params(eqs_crnn *net, uint64_t seed);
/* He-uniform (He et al. 2015; the PEPITA authors' initialisation): W uniform on
 * +-sqrt(6 / fan_in), the same draws as eqs_crnn_init_params scaled by sqrt(6); biases as there.
 * Both leave the biases of a model without biases at zero. */
void eqs_crnn_init_he_uniform(eqs_crnn *net, uint64_t seed);

/* State buffers for max_batch rows; free with eqs_state_free. */
eqs_status eqs_state_alloc(const eqs_crnn *net, eqs_state *st, eqs_err *err);
void eqs_state_free(eqs_state *st);
void eqs_state_zero(const eqs_crnn *net, eqs_state *st, int32_t batch);
void eqs_state_copy(const eqs_crnn *net, eqs_state *dst, const eqs_state *src, int32_t batch);

eqs_status eqs_grads_alloc(const eqs_crnn *net, eqs_grads *g, eqs_err *err);
void eqs_grads_free(eqs_grads *g);
void eqs_grads_zero(const eqs_crnn *net, eqs_grads *g);

/* Sets the batch input x [batch, n_0] (borrowed until the next call) and the targets y [batch]
 * (class indices), and computes the static input drive W_1 x + b_1. */
void eqs_crnn_set_input(eqs_crnn *net, const eqs_real *x, const int32_t *y, int32_t batch);
const eqs_real *eqs_crnn_input(const eqs_crnn *net);
/* F_1(x) [batch, n_1] of the current input (computed by eqs_crnn_set_input): a feed-forward
 * pass reuses it rather than multiplying by W_1 again. */
const eqs_real *eqs_crnn_input_drive(const eqs_crnn *net);
const int32_t *eqs_crnn_targets(const eqs_crnn *net);
int32_t eqs_crnn_batch(const eqs_crnn *net);

/* One synchronous step: out = F(in) with nudge beta. When pre is non-NULL, the pre-activations
 * dPhi/ds_k are stored in pre->s[k] (BPTT needs them). in and out must differ. */
void eqs_crnn_step(eqs_crnn *net, const eqs_state *in, eqs_state *out, eqs_real beta,
                   eqs_state *pre);
/* Runs up to T steps from *s (in place, using tmp as the second buffer); with hardware neurons
 * whose settle_tol > 0 it stops early once max |s_t - s_{t-1}| < settle_tol. Returns the steps
 * taken. */
int32_t eqs_crnn_relax(eqs_crnn *net, eqs_state *s, eqs_state *tmp, int32_t steps, eqs_real beta);
int32_t eqs_crnn_last_relax_steps(const eqs_crnn *net);

/* ---- action counters (DESIGN.md, cost ledger) -------------------------------------------- */

/* What the neurons did in one phase (the tiles keep their own counts, eqs_tile_counts_get). */
typedef struct eqs_neuron_counts {
    uint64_t relaxations;    /* calls of eqs_crnn_relax */
    uint64_t settled;        /* of those, how many stopped early (settle detector) */
    uint64_t steps;          /* synchronous steps (each: every neuron of the batch updates once) */
    uint64_t neuron_updates; /* steps x batch x units with a state */
} eqs_neuron_counts;

/* Sets the phase that the following operations are charged to, on the neurons and every tile. */
void eqs_crnn_set_phase(eqs_crnn *net, eqs_phase phase);
const eqs_neuron_counts *eqs_crnn_neuron_counts(const eqs_crnn *net, eqs_phase phase);
/* Zeroes the neuron and tile counters. */
void eqs_crnn_counts_reset(eqs_crnn *net);
/* Sets one phase's neuron counters (a checkpoint's, so that the ledger continues). */
void eqs_crnn_neuron_counts_set(eqs_crnn *net, eqs_phase phase, const eqs_neuron_counts *c);

/* The output as logits [batch, n_classes]: z = W_N s_D + b_N (softmax readout) or o = s_D. */
void eqs_crnn_logits(eqs_crnn *net, const eqs_state *s, eqs_real *logits);
/* Loss dl/dz for every sample given logits: MSE o - y, CE softmax(z) - y. Returns the sum over
 * the batch of l. */
double eqs_crnn_loss_grad(const eqs_crnn *net, const eqs_real *logits, eqs_real *dl_dz);
/* Number of samples whose argmax logit equals the target. */
int32_t eqs_crnn_n_correct(const eqs_crnn *net, const eqs_real *logits);

/* The connections, for the learning rules (see sim/net/conn.h). Connection k joins state k-1
 * (x for k = 0) to state k: Phi_k = s_k . F_k(s_{k-1}), F_k = W_k s + b_k (dense) or
 * P(W_k * s + b_k) (conv with pooling P). All act on the current batch.
 *   forward:      out = F_k(s_in), and records conv k's pooling indices (from s_in)
 *   backward_add: out += B_k(u) = d(u . F_k(s))/ds at the recorded indices (backward drive)
 *   gather:       out = G_k(v), the adjoint of B_k at the recorded indices (no bias)
 *   add_param_grad: g_k += scale * d(u . F_k(s_in))/dW_k (and /db_k when with_bias) */
void eqs_crnn_forward(eqs_crnn *net, int32_t k, const eqs_real *s_in, eqs_real *out);
void eqs_crnn_backward_add(eqs_crnn *net, int32_t k, const eqs_real *u, eqs_real *out);
void eqs_crnn_gather(eqs_crnn *net, int32_t k, const eqs_real *v, eqs_real *out);
void eqs_crnn_add_param_grad(eqs_crnn *net, int32_t k, const eqs_real *u, const eqs_real *s_in,
                             eqs_real scale, eqs_grads *g, bool with_bias);
/* The same four for the backward weights W^b_k (eqs_crnn_has_back): "index" evaluates
 * P(W^b_k * s_in) only to record its pooling indices (Laborieux's reference takes the backward
 * drive's unpooling indices from the backward convolution's own output); add_back_grad adds to
 * g->wb[k]. Without backward weights, the forward ones serve (symmetric feedback). */
void eqs_crnn_back_index(eqs_crnn *net, int32_t k, const eqs_real *s_in);
void eqs_crnn_back_backward_add(eqs_crnn *net, int32_t k, const eqs_real *u, eqs_real *out);
void eqs_crnn_back_gather(eqs_crnn *net, int32_t k, const eqs_real *v, eqs_real *out);
void eqs_crnn_add_back_grad(eqs_crnn *net, int32_t k, const eqs_real *u, const eqs_real *s_in,
                            eqs_real scale, eqs_grads *g);
/* The alignment angle (Laborieux eq. 52) between W_k and W^b_k, in degrees. */
double eqs_crnn_alignment_deg(eqs_crnn *net, int32_t k);

/* Adds scale * (dPhi/dtheta at s_b - dPhi/dtheta at s_a), summed over the batch, to g for the
 * dynamic layers: the Hebbian terms s_k s_{k-1}^T (weights) and s_k (biases), beta = 0 part
 * (the readout's term belongs to the learning rule). The first layer's difference is one GEMM,
 * (s_b - s_a)^T x, since its presynaptic input is the same static x in both. */
void eqs_crnn_add_dphi_diff(eqs_crnn *net, const eqs_state *s_b, const eqs_state *s_a,
                            eqs_real scale, eqs_grads *g);

/* Dropout (Laborieux E.3): units of a layer with `dropout: p` are shut to zero when computing
 * Phi, the others scaled by 1/(1-p); one mask per sample, the same for every phase of one
 * training iteration. eqs_crnn_dropout_sample draws the masks of the current batch from
 * eqs_rng(seed, DROPOUT, step) and turns them on; eqs_crnn_dropout_off turns them off
 * (evaluation). While on, steps, logits and dPhi/dtheta see M (.) s. */
#define EQS_MASK_SLOTS 3
void eqs_crnn_dropout_sample(eqs_crnn *net, uint64_t seed, uint64_t step);
void eqs_crnn_dropout_off(eqs_crnn *net);
/* M_k (.) s_k in scratch slot `slot` (0..EQS_MASK_SLOTS-2 for callers), or s_k itself when
 * layer k has no active mask. */
const eqs_real *eqs_crnn_masked(eqs_crnn *net, int32_t k, const eqs_real *s_k, int slot);
/* buf [batch, n_k] *= M_k (no-op without an active mask). */
void eqs_crnn_mask_apply(eqs_crnn *net, int32_t k, eqs_real *buf);

/* ---- intermediate error signals (docs/local-error.md) ----------------------------------- */

/* Local readouts: for readout i on dynamic layer l = eqs_crnn_local_layer(net, i), a matrix
 * P_i [n_classes, n_l] reads r_i = P_i flatten(M_l (.) s_l) (C,H,W order for a conv layer; M_l
 * the dropout mask, as Phi sees the state), and
 *     l_i = tau^2 KL(softmax(t/tau) || softmax(r_i/tau)),  t = onehot(y) (le) or the teacher's z
 *     dl_i/dr_i = tau (softmax(r_i/tau) - softmax(t/tau)).
 * A nudged step (beta != 0) adds -beta lambda P_i^T dl_i/dr_i to layer l's pre-activation, inside
 * sigma like the output nudge: the dynamics of Phi - beta (l_out + lambda sum_i l_i). The free
 * phase (beta = 0) and a lambda of 0 leave the dynamics exactly as without readouts.
 * eqs_crnn_local_init draws every P_i uniform on +-1/sqrt(n_l) from eqs_rng(seed, INIT_W, 2000 +
 * l) (PyTorch's nn.Linear default, a stream of its own); with cfg->weighted the P_i are trained
 * (eqs_grads.p) and saved with the parameters as le.<layer>.P.npy. Call it once, before
 * eqs_grads_alloc and eqs_state_alloc users that need eqs_grads.p. EQS_EINVAL on a layer index
 * out of range. */
eqs_status eqs_crnn_local_init(eqs_crnn *net, const eqs_local_error_config *cfg, uint64_t seed,
                               eqs_err *err);
int32_t eqs_crnn_n_local(const eqs_crnn *net);
int32_t eqs_crnn_local_layer(const eqs_crnn *net, int32_t i); /* dynamic layer index l */
bool eqs_crnn_local_trained(const eqs_crnn *net, int32_t i);
eqs_real *eqs_crnn_local_p(eqs_crnn *net, int32_t i); /* [n_classes, n_l], row-major */
void eqs_crnn_local_set_lambda(eqs_crnn *net, double lambda);
double eqs_crnn_local_lambda(const eqs_crnn *net);
/* KD: readout i's targets for the current batch, z [batch, n_classes] (borrowed until the next
 * call); NULL: the one-hot of the targets (le, the default). */
void eqs_crnn_local_set_teacher(eqs_crnn *net, int32_t i, const eqs_real *z);
/* l_i at states s, summed over the batch (double). */
double eqs_crnn_local_loss(eqs_crnn *net, int32_t i, const eqs_state *s);
/* gp [n_classes, n_l] += scale * sum_batch dl_i/dP_i at s = scale * sum_b dl_i/dr_i (x) s_l. */
void eqs_crnn_local_add_p_grad(eqs_crnn *net, int32_t i, const eqs_state *s, eqs_real scale,
                               eqs_real *gp);

/* Activation and its derivative (from the pre-activation), elementwise, n elements. */
void eqs_activation_apply(eqs_activation a, const eqs_real *pre, eqs_real *out, int64_t n);
void eqs_activation_grad(eqs_activation a, const eqs_real *pre, eqs_real *dout, int64_t n);

/* Returns true when every value is finite. */
bool eqs_all_finite(const eqs_real *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
