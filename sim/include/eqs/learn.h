/* eqs/learn.h — learning rules on the CRNN: Equilibrium Propagation (one-sided, random-sign,
 * symmetric), BPTT through the same dynamics (the yardstick), PEPITA on its feed-forward
 * layers, optimizers and schedules, checkpoints.
 *
 * Every gradient these functions produce is an estimate of dL/dtheta averaged over the batch,
 * with the sign an optimizer descends (PyTorch's .grad convention).
 *
 * EP with phases a and b (nudges beta_a, beta_b; both start from the free steady state s*):
 *     g = -(dPhi/dtheta(s_b, beta_b) - dPhi/dtheta(s_a, beta_a)) / ((beta_b - beta_a) B)
 *   symmetric:   a = -beta, b = +beta
 *   one-sided:   a = free (0), b = +beta
 *   random-sign: a = free (0), b = +-beta (sign drawn per mini-batch by the caller)
 * For a softmax readout this gives (beta_b dl/dW(s_b) - beta_a dl/dW(s_a)) / (beta_b - beta_a):
 * the mean of the readout's cross-entropy gradients at s+ and s- (Laborieux eq. 39).
 */
#ifndef EQS_LEARN_H
#define EQS_LEARN_H

#include "eqs/config.h"
#include "eqs/net.h"
#include "eqs/updunit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Equilibrium Propagation ------------------------------------------------------------ */

typedef struct eqs_ep eqs_ep;

eqs_status eqs_ep_create(eqs_ep **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                         eqs_err *err);
void eqs_ep_destroy(eqs_ep *ep);

/* Runs the free phase (T1 steps from zero) on the net's current input, then the nudged phases
 * (T2 steps each from s*), and writes the gradient estimate into g. sign (+1 or -1) flips beta
 * for the random-sign estimator; it must be +1 for the others. On return, *loss_sum and
 * *n_correct describe the free steady state (NULL to skip). */
void eqs_ep_estimate(eqs_ep *ep, int sign, eqs_grads *g, double *loss_sum, int32_t *n_correct);

/* States of the last estimate: free (s*), positive (s+ or s^beta) and negative (s-, symmetric
 * only; NULL otherwise). */
const eqs_state *eqs_ep_state_free(const eqs_ep *ep);
const eqs_state *eqs_ep_state_pos(const eqs_ep *ep);
const eqs_state *eqs_ep_state_neg(const eqs_ep *ep);

/* ---- BPTT ------------------------------------------------------------------------------- */

typedef struct eqs_bptt eqs_bptt;

/* Per-step record of BPTT, for the GDU check (caller-allocated, n_steps = K):
 *   ds[t]     = dL/ds_{T-t}        for t = 0..K    (K+1 states; t = 0 is the last state)
 *   dtheta[t] = dL/dtheta_{T-t}    for t = 0..K-1  (the gradient through step T-t only) */
typedef struct eqs_bptt_trace {
    int32_t n_steps;
    eqs_state *ds;
    eqs_grads *dtheta;
} eqs_bptt_trace;

/* steps = T (free phase length), truncate = K (0 means K = T). */
eqs_status eqs_bptt_create(eqs_bptt **out, eqs_crnn *net, int32_t steps, int32_t truncate,
                           eqs_err *err);
void eqs_bptt_destroy(eqs_bptt *bp);

/* Runs T steps from zero on the net's current input and back-propagates the loss at step T
 * through the last K steps; writes dL/dtheta (batch mean) into g. trace may be NULL. */
void eqs_bptt_grads(eqs_bptt *bp, eqs_grads *g, double *loss_sum, int32_t *n_correct,
                    eqs_bptt_trace *trace);
const eqs_state *eqs_bptt_state_final(const eqs_bptt *bp);

/* ---- PEPITA ------------------------------------------------------------------------------ */

/* PEPITA (Dellaferrera & Kreiman 2022; docs/pepita.md) on the CRNN's layers evaluated once,
 * front to back: hidden layers k = 1..N-1 (the dynamic ones) and the softmax readout N. With
 * M_k the dropout masks of the net (eqs_crnn_dropout_sample; the same in both passes):
 *     standard:  h_0 = x,  h_k = M_k (.) sigma(W_k h_{k-1} + b_k),  y = softmax(W_N h_{N-1} + b_N),
 *                e = y - onehot(target)
 *     modulated: h'_0 = x' = x + F e (error), x (none) or x + F (k r) (random; r uniform on
 *                [0, 1) per sample and class from eqs_rng(seed, PEPITA_MOD, step)), then the
 *                same layers -> h'_k, e'
 *     g_1 = (h_1 - h'_1) x'^T / B,  g_k = (h_k - h'_k) h'_{k-1}^T / B,  g_N = e' h'_{N-1}^T / B
 * (biases, when the model has them: the same without the presynaptic term). g = -Delta W: the
 * sign an optimizer descends. A conv layer (the paper's §3.3) sums, per filter, each output
 * pixel's h - h' times the patch of h'_{k-1} behind it in the modulated pass, divided by B and
 * the pixels per channel; a network with a conv layer uses e, not e', for g_N (the authors'
 * conv code). F [n_features, n_classes] is uniform on +-pepita_f_scale sqrt(6 / n_features)
 * from eqs_rng(seed, EQS_RNG_PEPITA_F, 0) (zero for modulation none). Needs readout softmax
 * and symmetric feedback (EQS_EINVAL otherwise). */
typedef struct eqs_pepita eqs_pepita;

eqs_status eqs_pepita_create(eqs_pepita **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                             uint64_t seed, eqs_err *err);
void eqs_pepita_destroy(eqs_pepita *p);

/* Both passes on the net's current input (eqs_crnn_set_input) with its current masks; writes g
 * for every parameter. step keys the random modulation only. *loss_sum (cross-entropy summed
 * over the batch) and *n_correct describe the standard pass (NULL to skip). */
void eqs_pepita_estimate(eqs_pepita *p, uint64_t step, eqs_grads *g, double *loss_sum,
                         int32_t *n_correct);
/* The standard pass alone: PEPITA's inference (turn dropout off first). */
void eqs_pepita_infer(eqs_pepita *p, double *loss_sum, int32_t *n_correct);

/* The activities of the last estimate's standard or modulated pass (borrowed, valid until the
 * next call): rows = the batch. */
typedef struct eqs_pepita_pass {
    int32_t n_hidden;                    /* N - 1 */
    const eqs_real *input;               /* x or x' [batch, n_0] */
    const eqs_real *act[EQS_MAX_LAYERS]; /* h_k [batch, n_k], k = 1..N-1 at index k-1 */
    const eqs_real *logits;              /* W_N h_{N-1} + b_N [batch, n_classes] */
    const eqs_real *error;               /* e = softmax(logits) - onehot [batch, n_classes] */
} eqs_pepita_pass;
void eqs_pepita_get_pass(const eqs_pepita *p, bool modulated, eqs_pepita_pass *out);

/* F [n_features, n_classes], row-major; callers may overwrite it (a loaded or hand-made F). */
eqs_real *eqs_pepita_f(eqs_pepita *p);
/* <dir>/pepita.F.npy. load: when the file exists (*found = true) it replaces F, checking the
 * shape; when it does not, F stays as it is (*found = false, EQS_OK). */
eqs_status eqs_pepita_save_f(const eqs_pepita *p, const char *dir, eqs_err *err);
eqs_status eqs_pepita_load_f(eqs_pepita *p, const char *dir, bool *found, eqs_err *err);

/* The angle in degrees between W_N ... W_1 [n_classes, n_features] and F^T, both flattened
 * (the paper's Fig. 3b: ~90 at initialisation, > 90 as PEPITA anti-aligns them); NaN when
 * either is zero; EQS_EINVAL for a network with a conv layer (conv + pooling is not one
 * matrix). Allocates its scratch (call it per epoch, not per step). */
eqs_status eqs_pepita_alignment_deg(eqs_pepita *p, double *deg, eqs_err *err);
/* Whether that angle exists: dense layers only, and an F that is not zero (modulation none). */
bool eqs_pepita_has_angle(const eqs_pepita *p);

/* ---- optimizers ------------------------------------------------------------------------- */

typedef struct eqs_optim eqs_optim;

eqs_status eqs_optim_create(eqs_optim **out, const eqs_crnn *net, const eqs_optimizer_config *cfg,
                            int32_t total_epochs, eqs_err *err);
void eqs_optim_destroy(eqs_optim *opt);
/* Sets the learning rates for epoch e (0-based) from the schedule. */
void eqs_optim_set_epoch(eqs_optim *opt, int32_t epoch);
double eqs_optim_lr(const eqs_optim *opt, int32_t layer);
/* Applies one step from gradients g (g is used as scratch and clobbered). Weights change
 * through the tiles (eqs_tile_update_delta); biases directly. */
void eqs_optim_step(eqs_optim *opt, eqs_crnn *net, eqs_grads *g);

/* State for checkpoints: slot 0 is SGD's momentum (sgd_lr_in_momentum: its velocity, lr times
 * the momentum) or Adam's m, slot 1 Adam's v. */
int32_t eqs_optim_n_slots(const eqs_optim *opt);
/* "momentum", "velocity", "m", "v" */
const char *eqs_optim_slot_name(const eqs_optim *opt, int32_t slot);
eqs_grads *eqs_optim_slot(eqs_optim *opt, int32_t slot);
int64_t eqs_optim_steps(const eqs_optim *opt);
void eqs_optim_set_steps(eqs_optim *opt, int64_t steps);

/* ---- parameters on disk ----------------------------------------------------------------- */

/* Writes <dir>/<prefix><layer>.weight.npy ([out, in] dense, [C_out, C_in, k, k] conv) and
 * <prefix><layer>.bias.npy for every layer from a grads-shaped buffer (gradients, optimizer
 * state); eqs_tensors_load reads them back, checking every shape. The folder must exist. */
eqs_status eqs_tensors_save(eqs_crnn *net, const eqs_grads *g, const char *dir, const char *prefix,
                            eqs_err *err);
eqs_status eqs_tensors_load(eqs_crnn *net, eqs_grads *g, const char *dir, const char *prefix,
                            eqs_err *err);

/* The parameters themselves, with prefix "" (the folder must exist). */
eqs_status eqs_params_save(eqs_crnn *net, const char *dir, eqs_err *err);
/* Reads them back, checking every shape; on error the network is unchanged. */
eqs_status eqs_params_load(eqs_crnn *net, const char *dir, eqs_err *err);

/* The state a checkpoint needs besides the parameters for a resumed run to be bit-identical
 * to an uninterrupted one: <dir>/<layer>.weight.tile (and <layer>.weight_back.tile) per tile
 * (eqs_tile_state_save: its counters; on hardware also its devices and random-stream offsets)
 * and <dir>/neurons.counts (the neuron counters of every phase), each written atomically. The
 * folder must exist. */
eqs_status eqs_crnn_state_save(eqs_crnn *net, const char *dir, eqs_err *err);
/* Reads them back into a network of the same config and seed; call it after eqs_params_load
 * (the tile states then override the devices the weights programmed). Every file is checked
 * before it is applied (EQS_EIO missing, EQS_EFORMAT truncated or corrupt, EQS_EMISMATCH of
 * another network; the message names the file); on error some tiles may already hold their
 * saved state: discard the network. */
eqs_status eqs_crnn_state_load(eqs_crnn *net, const char *dir, eqs_err *err);
/* The file whose presence says that dir holds eqs_crnn_state_save's state. */
#define EQS_NEURON_COUNTS_FILE "neurons.counts"

/* ---- the digital update path (hardware.update.digital: golden; docs/rtl.md) --------------- */

/* Every weight update of a training step computed by the RTL update unit's bit-exact model
 * (eqs/updunit.h) from the captured phase states, as signed pulse counts for the tiles' pulse
 * port (eqs_tile_program_pulses), instead of float dW -> optimizer -> eqs_tile_update_delta.
 * Plain SGD only. With B the batch, dw = eqs_tile_dw_min of layer k's tile and lr_k its
 * current learning rate, one output LSB is one pulse (dw) and the scale is
 *     EP (rule ep, dense):  k = lr_k / (|beta_b - beta_a| B dw)   CONTRAST, A B = s_b, C D = s_a
 *                           (operands swapped when beta_b < beta_a), pre of layer 1 = x;
 *                           softmax readout: READOUT, A = e_b, B = s_b, C = e_a, D = s_a with
 *                           k = lr (beta_b / (beta_b - beta_a)) / (B dw) (symmetric: lr/(2 B dw);
 *                           one-sided and random-sign: C = D = 0, k = lr / (B dw))
 *     PEPITA (dense):       k = lr_k / (B dw)   HIDDEN (A = h, C = h', B = x' or h'_{k-1}),
 *                           OUTPUT (A = e', B = h'_{N-1})
 * Biases are digital registers: the same unit in fixed-point dW mode (BIAS, READOUT_BIAS,
 * HIDDEN_BIAS, OUTPUT_BIAS; the same k, so one output LSB = dw) and b += code * dw.
 * Each array (weights, bias) has its own unit whose LFSR runs on across steps, seeded from
 * training.seed and the array. */
typedef struct eqs_digital eqs_digital;

/* What one weight layer's update units did (the ledger's "<layer>.update_unit" rows). */
typedef struct eqs_digital_counts {
    uint64_t transactions;     /* layer updates: one per array (weights, bias) per step */
    uint64_t synapse_updates;  /* weight updates computed (one per synapse per step) */
    uint64_t bias_updates;     /* bias updates computed */
    uint64_t synapse_samples;  /* sum over updates of the samples accumulated (n each) */
    uint64_t beats;            /* unit cycles: ceil(updates / lanes) x n per transaction */
    uint64_t pulses;           /* sum of |count| sent to the pulse port */
    uint64_t saturated;        /* outputs at the saturation limit */
    uint64_t operands_clipped; /* operands outside the state format */
} eqs_digital_counts;

/* One transaction, as an observer sees it (eqsim cosim): the unit as it was before (its cfg
 * is the one used, its LFSR the state before), the float operands, the requested scale and the
 * golden result, before it is applied. */
typedef struct eqs_digital_event {
    int32_t layer; /* weight layer k, 0-based */
    bool bias;     /* the bias array (dW output) rather than the weights (pulses) */
    const eqs_updunit *unit;
    const eqs_updunit_batch *batch;
    double k;   /* output LSBs per unit of summed contrast */
    double lsb; /* weight change of one output LSB */
    const int32_t *out;
    int64_t n_clipped;
    /* The controller loaded `seed` into the unit's generators just before this transaction
     * (the first one of the unit in a training step: eqs_digital_step_* reseed every unit from
     * the run's seed and the step, so a resumed run draws what an uninterrupted one draws). */
    bool reseeded;
    uint32_t seed;
} eqs_digital_event;
typedef void (*eqs_digital_observer)(void *ctx, const eqs_digital_event *ev);

/* The unit's formats from hardware.update (0 = the RTL's defaults); EQS_ECONFIG naming the
 * digital_* key when the widths do not fit the datapath. */
eqs_status eqs_digital_resolve_format(eqs_updunit_kind kind, const eqs_update_config *uc,
                                      eqs_updunit_format *fmt, eqs_err *err);
/* Checks the experiment (EP rule ep or PEPITA, dense layers, no dropout in EP, no local
 * readouts, hardware tiles, plain SGD) and makes the units: EQS_ECONFIG naming the key. */
eqs_status eqs_digital_create(eqs_digital **out, eqs_crnn *net, const eqs_experiment_config *cfg,
                              eqs_err *err);
void eqs_digital_destroy(eqs_digital *d);
/* One EP update from the last estimate's states (beta_a = 0: s_a is the free state). lr[k] per
 * weight layer; step, the training step, seeds the units' generators (eqs_digital_event). */
eqs_status eqs_digital_step_ep(eqs_digital *d, const eqs_ep *ep, double beta_b, double beta_a,
                               const double *lr, uint64_t step, eqs_err *err);
/* One PEPITA update from the last estimate's two passes. */
eqs_status eqs_digital_step_pepita(eqs_digital *d, const eqs_pepita *p, const double *lr,
                                   uint64_t step, eqs_err *err);
void eqs_digital_set_observer(eqs_digital *d, eqs_digital_observer fn, void *ctx);
const eqs_digital_counts *eqs_digital_counts_get(const eqs_digital *d, int32_t layer);
const eqs_updunit_format *eqs_digital_format(const eqs_digital *d);
eqs_updunit_kind eqs_digital_kind(const eqs_digital *d);

/* ---- the cost ledger's counts ------------------------------------------------------------- */

/* Writes every action counter of net (neurons, and each weight array's tile) by phase, as a tidy
 * CSV `component,phase,counter,value` (sim/learn/ledger.c; docs/hwconfig.md lists the counters),
 * atomically. */
eqs_status eqs_ledger_write_csv(eqs_crnn *net, const char *path, eqs_err *err);
/* The same plus, when dig is non-NULL, each weight layer's update-unit rows
 * (`<layer>.update_unit,update,<counter>,value`, eqs_digital_counts). */
eqs_status eqs_ledger_write_csv_digital(eqs_crnn *net, const eqs_digital *dig, const char *path,
                                        eqs_err *err);

/* ---- a training session ------------------------------------------------------------------- */

/* Ties a network, its learning rule (EP, BPTT or PEPITA from the experiment) and its optimizer
 * together; the epoch loop, data and files belong to the caller (eqsim train). */
typedef struct eqs_trainer eqs_trainer;

/* Creates the network (parameters initialised from training.seed: PyTorch's default, He-uniform
 * for PEPITA), the rule and the optimizer. max_batch bounds every later batch (training and
 * evaluation). */
eqs_status eqs_trainer_create(eqs_trainer **out, const eqs_experiment_config *cfg,
                              int32_t max_batch, eqs_err *err);
void eqs_trainer_destroy(eqs_trainer *tr);
eqs_crnn *eqs_trainer_net(eqs_trainer *tr);
const eqs_experiment_config *eqs_trainer_config(const eqs_trainer *tr);
eqs_optim *eqs_trainer_optim(eqs_trainer *tr);
eqs_ep *eqs_trainer_ep(eqs_trainer *tr);         /* NULL unless the algorithm is EP */
eqs_pepita *eqs_trainer_pepita(eqs_trainer *tr); /* NULL unless the algorithm is PEPITA */
eqs_bptt *eqs_trainer_bptt(eqs_trainer *tr);     /* always available: the yardstick */
/* The digital update path (hardware.update.digital: golden), NULL when off. */
eqs_digital *eqs_trainer_digital(eqs_trainer *tr);
/* counters.csv of the run: eqs_ledger_write_csv_digital with the trainer's digital path. */
eqs_status eqs_trainer_ledger_write_csv(eqs_trainer *tr, const char *path, eqs_err *err);

/* The sign of beta for training step `step` (+1 unless the estimator is random_sign, where it
 * is drawn from eqs_rng(seed, EQS_RNG_SIGN, step)). */
int eqs_trainer_beta_sign(const eqs_trainer *tr, uint64_t step);

/* Gradient estimate of the experiment's algorithm on one batch, without updating anything. */
void eqs_trainer_grads(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       uint64_t step, eqs_grads *g, double *loss_sum, int32_t *n_correct);

/* One training step: gradient estimate, then the optimizer (or, with hardware.update.digital:
 * golden, the digital update path: eqs_digital_step_*, the optimizer's lr only). Returns
 * EQS_EDIVERGED (message names the step and the fix) when the loss or the gradient is not finite;
 * the parameters are then left as they were before the step. */
eqs_status eqs_trainer_step(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                            uint64_t step, double *loss_sum, int32_t *n_correct, eqs_err *err);

/* Epoch e (0-based) is starting: sets lambda of the local error signals (if any) to
 * eqs_local_lambda_at(e, training.epochs). */
void eqs_trainer_set_epoch(eqs_trainer *tr, int32_t epoch);
/* KD: checks that every teacher file has one row per training sample (n_train rows, the training
 * set as loaded: after data.train_subset); EQS_EMISMATCH naming the file and both shapes. EQS_OK
 * for everything else. */
eqs_status eqs_trainer_check_train_set(eqs_trainer *tr, int64_t n_train, eqs_err *err);
/* KD: the training-set rows of the next batches (borrowed; ids[r] for sample r), which index the
 * teacher logits. NULL (the default) means sample r is row r. */
void eqs_trainer_set_sample_ids(eqs_trainer *tr, const int64_t *ids);
/* training.log_updates: the RMS of each weight layer's update estimate g_k (before the
 * optimizer), averaged over the training steps since the last call, into rms[0..N-1]; returns
 * the number of steps (0: rms untouched). Resets the averages. */
int64_t eqs_trainer_take_update_rms(eqs_trainer *tr, double *rms);

/* lambda for epoch e (0-based) of E: constant lambda0; linear lambda0 - (lambda0 - lambda_min)
 * e/E; exponential max(lambda_min, lambda0 gamma^e); cosine lambda_min + (lambda0 -
 * lambda_min)(1 + cos(pi e/E))/2. */
double eqs_local_lambda_at(const eqs_local_error_config *le, int32_t epoch, int32_t total_epochs);

/* Inference on a batch, dropout off: loss sum and number correct of the free phase's steady
 * state (T1 steps; EP and BPTT) or of the standard forward pass (PEPITA). */
void eqs_trainer_infer(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       double *loss_sum, int32_t *n_correct);

/* The logits [batch, n_classes] of the last eqs_trainer_infer (borrowed, valid until the next
 * call): what `eqsim eval --logits` writes, e.g. a teacher's logits for KD. */
const eqs_real *eqs_trainer_logits(const eqs_trainer *tr);

/* ---- GDU check -------------------------------------------------------------------------- */

/* The property of gradient-descending updates (Ernoult et al. 2019, Theorem 1): EP's per-step
 * updates in the nudged phase, Delta_EP(t), against BPTT's per-step gradients, grad_BPTT(t),
 * for t = 0..K-1, per dynamic layer (a softmax readout has no per-step gradient). With B the
 * batch, s_t the nudged states from s* (T1 free steps from zero) and all values batch means:
 *     Delta_EP_s(beta, t)     = (s_{t+1} - s_t) / (beta B)                    -> -dL/ds_{T-t}
 *     Delta_EP_theta(beta, t) = (dPhi/dtheta(s_{t+1}) - dPhi/dtheta(s_t)) / (beta B)
 *     Delta_EP_sym(t)         = (Delta_EP(beta, t) + Delta_EP(-beta, t)) / 2
 *     RelMSE = sum_{t, elements, batch} (Delta_EP(t) + grad_BPTT(t))^2 / sum grad_BPTT(t)^2 */
typedef struct eqs_gdu eqs_gdu;

typedef enum eqs_gdu_group {
    EQS_GDU_NEURONS = 0, /* the states s_k [batch, n_k] */
    EQS_GDU_WEIGHTS = 1, /* W_k [n_out, n_in] */
    EQS_GDU_BIASES = 2,  /* b_k [n_out] */
} eqs_gdu_group;
#define EQS_GDU_N_GROUPS 3

typedef enum eqs_gdu_series {
    EQS_GDU_BPTT = 0,   /* grad_BPTT(t), not negated */
    EQS_GDU_EP_POS = 1, /* one-sided, +beta */
    EQS_GDU_EP_NEG = 2, /* one-sided, -beta */
    EQS_GDU_EP_SYM = 3, /* symmetric */
} eqs_gdu_series;
#define EQS_GDU_N_SERIES 4

/* Runs the check on the net's current input with alg->beta, T1 = alg->t1 and K = alg->t2
 * (1 <= K <= T1): BPTT with a per-step trace, then the +beta and -beta nudged phases side by
 * side. Keeps the RelMSE sums and, per dynamic layer, the per-step values of n_pick neurons
 * (sample, unit) and n_pick weights (out, in) drawn from eqs_rng(seed, EQS_RNG_GDU_PICK, layer)
 * among the elements whose BPTT gradient is non-zero at some step (others only when too few
 * are). Everything is allocated here; free with eqs_gdu_destroy. */
eqs_status eqs_gdu_check(eqs_gdu **out, eqs_crnn *net, const eqs_algorithm_config *alg,
                         int32_t n_pick, uint64_t seed, eqs_err *err);
void eqs_gdu_destroy(eqs_gdu *g);

int32_t eqs_gdu_n_layers(const eqs_gdu *g); /* D, the dynamic layers */
int32_t eqs_gdu_n_steps(const eqs_gdu *g);  /* K */
/* max |s_T1 - s_{T1-1}| of the free phase: Theorem 1 assumes it is 0 (converged). */
double eqs_gdu_free_residual(const eqs_gdu *g);

/* RelMSE of an EP series (EQS_GDU_EP_*) against BPTT; NaN when BPTT's gradient is zero. */
double eqs_gdu_relmse(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, eqs_gdu_series series);
/* Its numerator and denominator, to pool groups (e.g. weights and biases together). */
void eqs_gdu_relmse_sums(const eqs_gdu *g, int32_t layer, eqs_gdu_group group,
                         eqs_gdu_series series, double *num, double *den);

/* The sampled elements of group EQS_GDU_NEURONS (row = sample, col = unit) or EQS_GDU_WEIGHTS
 * (row = out, col = in): how many (<= n_pick), which, and their per-step values t = 0..K-1. */
int32_t eqs_gdu_n_picked(const eqs_gdu *g, int32_t layer, eqs_gdu_group group);
void eqs_gdu_picked(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, int32_t p, int32_t *row,
                    int32_t *col);
const double *eqs_gdu_trace(const eqs_gdu *g, int32_t layer, eqs_gdu_group group, int32_t p,
                            eqs_gdu_series series);

#ifdef __cplusplus
}
#endif
#endif
