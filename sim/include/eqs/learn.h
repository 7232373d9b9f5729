/* eqs/learn.h — learning rules on the CRNN: Equilibrium Propagation (one-sided, random-sign,
 * symmetric), BPTT through the same dynamics (the yardstick), optimizers and schedules,
 * checkpoints.
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

/* State for checkpoints: slot 0 is SGD's momentum or Adam's m, slot 1 Adam's v. */
int32_t eqs_optim_n_slots(const eqs_optim *opt);
const char *eqs_optim_slot_name(const eqs_optim *opt, int32_t slot); /* "momentum", "m", "v" */
eqs_grads *eqs_optim_slot(eqs_optim *opt, int32_t slot);
int64_t eqs_optim_steps(const eqs_optim *opt);
void eqs_optim_set_steps(eqs_optim *opt, int64_t steps);

/* ---- parameters on disk ----------------------------------------------------------------- */

/* Writes <dir>/<layer>.weight.npy [out,in] and <layer>.bias.npy [out] for every layer (the
 * folder must exist). */
eqs_status eqs_params_save(eqs_crnn *net, const char *dir, eqs_err *err);
/* Reads them back, checking every shape; on error the network is unchanged. */
eqs_status eqs_params_load(eqs_crnn *net, const char *dir, eqs_err *err);

/* ---- a training session ------------------------------------------------------------------- */

/* Ties a network, its learning rule (EP or BPTT from the experiment) and its optimizer
 * together; the epoch loop, data and files belong to the caller (eqsim train). */
typedef struct eqs_trainer eqs_trainer;

/* Creates the network (parameters initialised from training.seed), the rule and the optimizer.
 * max_batch bounds every later batch (training and evaluation). */
eqs_status eqs_trainer_create(eqs_trainer **out, const eqs_experiment_config *cfg,
                              int32_t max_batch, eqs_err *err);
void eqs_trainer_destroy(eqs_trainer *tr);
eqs_crnn *eqs_trainer_net(eqs_trainer *tr);
eqs_optim *eqs_trainer_optim(eqs_trainer *tr);
eqs_ep *eqs_trainer_ep(eqs_trainer *tr);     /* NULL unless the algorithm is EP */
eqs_bptt *eqs_trainer_bptt(eqs_trainer *tr); /* always available: the yardstick */

/* The sign of beta for training step `step` (+1 unless the estimator is random_sign, where it
 * is drawn from eqs_rng(seed, EQS_RNG_SIGN, step)). */
int eqs_trainer_beta_sign(const eqs_trainer *tr, uint64_t step);

/* Gradient estimate of the experiment's algorithm on one batch, without updating anything. */
void eqs_trainer_grads(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       uint64_t step, eqs_grads *g, double *loss_sum, int32_t *n_correct);

/* One training step: gradient estimate, then the optimizer. Returns EQS_EDIVERGED (message
 * names the step and the fix) when the loss or the gradient is not finite; the parameters are
 * then left as they were before the step. */
eqs_status eqs_trainer_step(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                            uint64_t step, double *loss_sum, int32_t *n_correct, eqs_err *err);

/* Free phase (T1 steps) on a batch: loss sum and number correct of the steady state. */
void eqs_trainer_infer(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       double *loss_sum, int32_t *n_correct);

#ifdef __cplusplus
}
#endif
#endif
