/* trainer.c — one network, its learning rule (EP, BPTT or PEPITA) and its optimizer: gradient
 * estimates, training steps with divergence checks, and inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/blas.h"
#include "eqs/io.h"
#include "eqs/learn.h"

struct eqs_trainer {
    eqs_experiment_config cfg;
    eqs_crnn *net;
    eqs_ep *ep;
    eqs_pepita *pepita;
    eqs_bptt *bptt;
    eqs_optim *optim;
    eqs_digital *digital; /* hardware.update.digital: golden */
    eqs_grads g;
    eqs_state s, tmp;
    eqs_real *logits, *dl_dz;
    /* KD (docs/local-error.md): teacher files and the current batch's rows per readout */
    eqs_real *teacher[EQS_MAX_LAYERS]; /* [rows, n_classes] per file */
    int64_t teacher_rows[EQS_MAX_LAYERS];
    eqs_real *teacher_batch[EQS_MAX_LAYERS]; /* [max_batch, n_classes] per readout */
    const int64_t *sample_ids;
    /* training.log_updates */
    double upd_rms_sum[EQS_MAX_LAYERS];
    int64_t upd_steps;
};

void eqs_trainer_destroy(eqs_trainer *tr)
{
    if (!tr)
        return;
    eqs_ep_destroy(tr->ep);
    eqs_pepita_destroy(tr->pepita);
    eqs_bptt_destroy(tr->bptt);
    eqs_optim_destroy(tr->optim);
    eqs_digital_destroy(tr->digital);
    eqs_grads_free(&tr->g);
    eqs_state_free(&tr->s);
    eqs_state_free(&tr->tmp);
    eqs_free(tr->logits);
    eqs_free(tr->dl_dz);
    for (int32_t i = 0; i < EQS_MAX_LAYERS; i++) {
        eqs_free(tr->teacher[i]);
        eqs_free(tr->teacher_batch[i]);
    }
    eqs_crnn_destroy(tr->net);
    free(tr);
}

/* BPTT is the float yardstick for EP's gradient: it differentiates the discrete float dynamics,
 * which quantized or leaky neurons are not (analog tiles are fine: their reads are values). */
static eqs_status check_hardware_algorithm(const eqs_experiment_config *cfg, eqs_err *err)
{
    const eqs_neuron_config *n = &cfg->hardware.neuron;
    if (!cfg->has_hardware || cfg->algorithm.name != EQS_ALGO_BPTT)
        return EQS_OK;
    if (n->bits > 0 || n->dynamics != EQS_NEURON_DISCRETE || n->settle_tol > 0)
        return eqs_err_set(err, EQS_ECONFIG,
                           "algorithm bptt with hardware neurons (bits %d, dynamics %s, "
                           "settle_tol %g): BPTT differentiates the float discrete dynamics; set "
                           "hardware.neuron.bits=0, dynamics=discrete, settle_tol=0, or use ep",
                           n->bits, n->dynamics == EQS_NEURON_LEAKY ? "leaky" : "discrete",
                           n->settle_tol);
    return EQS_OK;
}

/* The teacher logits of KD: every file [rows, n_classes] in memory (a named, shaped error
 * otherwise), and one batch buffer per readout. */
static eqs_status load_teachers(eqs_trainer *tr, int32_t max_batch, eqs_err *err)
{
    const eqs_local_error_config *le = &tr->cfg.algorithm.local_error;
    int64_t nc = eqs_crnn_n_classes(tr->net), want[2] = {-1, nc}, got[2];
    for (int32_t j = 0; j < le->n_teachers; j++) {
        eqs_status st = eqs_npy_read_real(le->teacher[j], 2, want, &tr->teacher[j], got, err);
        if (st != EQS_OK)
            return eqs_err_prefix(err,
                                  "algorithm.local_error.teacher: teacher logits [n_train, %lld] "
                                  "expected",
                                  (long long)nc);
        tr->teacher_rows[j] = got[0];
    }
    for (int32_t i = 0; le->n_teachers > 0 && i < le->n_layers; i++) {
        tr->teacher_batch[i] = eqs_calloc((size_t)max_batch * (size_t)nc, sizeof(eqs_real), err);
        if (!tr->teacher_batch[i])
            return EQS_ENOMEM;
    }
    return EQS_OK;
}

static eqs_status create_parts(eqs_trainer *tr, int32_t max_batch, eqs_err *err)
{
    const eqs_algorithm_config *a = &tr->cfg.algorithm;
    uint64_t seed = tr->cfg.training.seed;
    const eqs_hw_config *hw = tr->cfg.has_hardware ? &tr->cfg.hardware : NULL;
    eqs_status st = check_hardware_algorithm(&tr->cfg, err);
    if (st != EQS_OK)
        return st;
    st = eqs_crnn_create_hw(&tr->net, &tr->cfg.model, max_batch, hw, seed, err);
    if (st != EQS_OK)
        return st;
    if (a->name == EQS_ALGO_PEPITA) /* the authors' initialisation */
        eqs_crnn_init_he_uniform(tr->net, seed);
    else
        eqs_crnn_init_params(tr->net, seed);
    if (a->local_error.n_layers > 0) {
        st = eqs_crnn_local_init(tr->net, &a->local_error, seed, err);
        if (st == EQS_OK)
            st = load_teachers(tr, max_batch, err);
        if (st != EQS_OK)
            return st;
        eqs_trainer_set_epoch(tr, 0);
    }
    if (a->name == EQS_ALGO_EP && (st = eqs_ep_create(&tr->ep, tr->net, a, err)) != EQS_OK)
        return st;
    if (a->name == EQS_ALGO_PEPITA &&
        (st = eqs_pepita_create(&tr->pepita, tr->net, a, seed, err)) != EQS_OK)
        return st;
    if ((st = eqs_bptt_create(&tr->bptt, tr->net, a->t1, a->bptt_truncate, err)) != EQS_OK)
        return st;
    st = eqs_optim_create(&tr->optim, tr->net, &tr->cfg.optimizer, tr->cfg.training.epochs, err);
    if (st != EQS_OK)
        return st;
    if (tr->cfg.has_hardware && tr->cfg.hardware.update.digital == EQS_DIGITAL_GOLDEN &&
        (st = eqs_digital_create(&tr->digital, tr->net, &tr->cfg, err)) != EQS_OK)
        return st;
    if ((st = eqs_grads_alloc(tr->net, &tr->g, err)) != EQS_OK)
        return st;
    if ((st = eqs_state_alloc(tr->net, &tr->s, err)) != EQS_OK)
        return st;
    if ((st = eqs_state_alloc(tr->net, &tr->tmp, err)) != EQS_OK)
        return st;
    size_t n = (size_t)max_batch * (size_t)eqs_crnn_n_classes(tr->net);
    tr->logits = eqs_calloc(n, sizeof(eqs_real), err);
    tr->dl_dz = eqs_calloc(n, sizeof(eqs_real), err);
    return tr->logits && tr->dl_dz ? EQS_OK : EQS_ENOMEM;
}

eqs_status eqs_trainer_create(eqs_trainer **out, const eqs_experiment_config *cfg,
                              int32_t max_batch, eqs_err *err)
{
    eqs_trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return eqs_err_set(err, EQS_ENOMEM, "trainer: out of memory");
    tr->cfg = *cfg;
    eqs_status st = create_parts(tr, max_batch, err);
    if (st != EQS_OK) {
        eqs_trainer_destroy(tr);
        return st;
    }
    *out = tr;
    return EQS_OK;
}

eqs_crnn *eqs_trainer_net(eqs_trainer *tr)
{
    return tr->net;
}

const eqs_experiment_config *eqs_trainer_config(const eqs_trainer *tr)
{
    return &tr->cfg;
}

eqs_optim *eqs_trainer_optim(eqs_trainer *tr)
{
    return tr->optim;
}

eqs_ep *eqs_trainer_ep(eqs_trainer *tr)
{
    return tr->ep;
}

eqs_pepita *eqs_trainer_pepita(eqs_trainer *tr)
{
    return tr->pepita;
}

eqs_bptt *eqs_trainer_bptt(eqs_trainer *tr)
{
    return tr->bptt;
}

eqs_digital *eqs_trainer_digital(eqs_trainer *tr)
{
    return tr->digital;
}

eqs_status eqs_trainer_ledger_write_csv(eqs_trainer *tr, const char *path, eqs_err *err)
{
    return eqs_ledger_write_csv_digital(tr->net, tr->digital, path, err);
}

int eqs_trainer_beta_sign(const eqs_trainer *tr, uint64_t step)
{
    if (tr->cfg.algorithm.estimator != EQS_EST_RANDOM_SIGN)
        return 1;
    eqs_rng r;
    eqs_rng_init(&r, tr->cfg.training.seed, EQS_RNG_SIGN, (uint32_t)step);
    return (eqs_rng_u32(&r) & 1u) ? 1 : -1;
}

double eqs_local_lambda_at(const eqs_local_error_config *le, int32_t epoch, int32_t total_epochs)
{
    double e = epoch, n = total_epochs > 0 ? total_epochs : 1;
    double l0 = le->lambda0, lmin = le->lambda_min;
    switch (le->schedule) {
    case EQS_LAMBDA_LINEAR:
        return l0 - (l0 - lmin) * e / n;
    case EQS_LAMBDA_EXPONENTIAL: {
        double v = l0 * pow(le->gamma, e);
        return v > lmin ? v : lmin;
    }
    case EQS_LAMBDA_COSINE:
        return lmin + 0.5 * (l0 - lmin) * (1 + cos(3.141592653589793 * e / n));
    default:
        return l0;
    }
}

void eqs_trainer_set_epoch(eqs_trainer *tr, int32_t epoch)
{
    const eqs_local_error_config *le = &tr->cfg.algorithm.local_error;
    if (le->n_layers > 0)
        eqs_crnn_local_set_lambda(tr->net, eqs_local_lambda_at(le, epoch, tr->cfg.training.epochs));
}

eqs_status eqs_trainer_check_train_set(eqs_trainer *tr, int64_t n_train, eqs_err *err)
{
    const eqs_local_error_config *le = &tr->cfg.algorithm.local_error;
    for (int32_t j = 0; j < le->n_teachers; j++)
        if (tr->teacher_rows[j] != n_train)
            return eqs_err_set(err, EQS_EMISMATCH,
                               "%s: teacher logits of shape (%lld, %d) but the training set has "
                               "%lld samples: expected (%lld, %d), one row per training sample "
                               "in the order eqsim loads them (after data.train_subset)",
                               le->teacher[j], (long long)tr->teacher_rows[j],
                               eqs_crnn_n_classes(tr->net), (long long)n_train, (long long)n_train,
                               eqs_crnn_n_classes(tr->net));
    return EQS_OK;
}

void eqs_trainer_set_sample_ids(eqs_trainer *tr, const int64_t *ids)
{
    tr->sample_ids = ids;
}

int64_t eqs_trainer_take_update_rms(eqs_trainer *tr, double *rms)
{
    int64_t n = tr->upd_steps;
    for (int32_t k = 0; n > 0 && k < eqs_crnn_n_layers(tr->net); k++)
        rms[k] = tr->upd_rms_sum[k] / (double)n;
    memset(tr->upd_rms_sum, 0, sizeof tr->upd_rms_sum);
    tr->upd_steps = 0;
    return n;
}

/* KD: gathers each readout's teacher rows of this batch and hands them to the network. */
static void set_teacher_rows(eqs_trainer *tr, int32_t batch)
{
    const eqs_local_error_config *le = &tr->cfg.algorithm.local_error;
    int32_t nc = eqs_crnn_n_classes(tr->net);
    for (int32_t i = 0; le->n_teachers > 0 && i < le->n_layers; i++) {
        int32_t j = le->n_teachers == 1 ? 0 : i;
        for (int32_t r = 0; r < batch; r++) {
            int64_t row = tr->sample_ids ? tr->sample_ids[r] : r;
            EQS_ASSERT(row >= 0 && row < tr->teacher_rows[j]); /* eqs_trainer_check_train_set */
            memcpy(tr->teacher_batch[i] + (int64_t)r * nc, tr->teacher[j] + row * nc,
                   sizeof(eqs_real) * (size_t)nc);
        }
        eqs_crnn_local_set_teacher(tr->net, i, tr->teacher_batch[i]);
    }
}

void eqs_trainer_grads(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       uint64_t step, eqs_grads *g, double *loss_sum, int32_t *n_correct)
{
    eqs_crnn_set_phase(tr->net, EQS_PHASE_FREE); /* the input drive's first read */
    eqs_crnn_set_input(tr->net, x, y, batch);
    set_teacher_rows(tr, batch);
    eqs_crnn_dropout_sample(tr->net, tr->cfg.training.seed, step);
    if (tr->ep)
        eqs_ep_estimate(tr->ep, eqs_trainer_beta_sign(tr, step), g, loss_sum, n_correct);
    else if (tr->pepita)
        eqs_pepita_estimate(tr->pepita, step, g, loss_sum, n_correct);
    else
        eqs_bptt_grads(tr->bptt, g, loss_sum, n_correct, NULL);
}

static bool grads_finite(const eqs_crnn *net, const eqs_grads *g)
{
    for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
        if (!eqs_all_finite(g->w[k], eqs_crnn_n_weights(net, k)) ||
            !eqs_all_finite(g->b[k], eqs_crnn_n_bias(net, k)))
            return false;
    }
    for (int32_t i = 0; i < eqs_crnn_n_local(net); i++)
        if (g->p[i] &&
            !eqs_all_finite(g->p[i], (int64_t)eqs_crnn_n_classes(net) *
                                         eqs_crnn_size(net, eqs_crnn_local_layer(net, i) + 1)))
            return false;
    return true;
}

/* RMS of each layer's weight update estimate, before the optimizer clobbers g. */
static void accumulate_update_rms(eqs_trainer *tr)
{
    for (int32_t k = 0; k < eqs_crnn_n_layers(tr->net); k++) {
        int64_t n = eqs_crnn_n_weights(tr->net, k);
        double sq = 0;
        for (int64_t i = 0; i < n; i++)
            sq += (double)tr->g.w[k][i] * (double)tr->g.w[k][i];
        tr->upd_rms_sum[k] += sqrt(sq / (double)n);
    }
    tr->upd_steps++;
}

/* Weighted KD: P_i -= readout_lr g_P (plain SGD: no state, so a resumed run needs only P). */
static void update_local_readouts(eqs_trainer *tr)
{
    eqs_crnn *net = tr->net;
    for (int32_t i = 0; i < eqs_crnn_n_local(net); i++) {
        if (!tr->g.p[i])
            continue;
        int64_t n =
            (int64_t)eqs_crnn_n_classes(net) * eqs_crnn_size(net, eqs_crnn_local_layer(net, i) + 1);
        eqs_axpy(n, (eqs_real)-tr->cfg.algorithm.local_error.readout_lr, tr->g.p[i],
                 eqs_crnn_local_p(net, i));
    }
}

/* hardware.update.digital: golden: the update unit's model turns the phase states into pulse
 * counts (the optimizer only provides each layer's current lr; plain SGD is checked at
 * creation). On an error some layers may already be updated. */
static eqs_status digital_update(eqs_trainer *tr, uint64_t step, eqs_err *err)
{
    double lr[EQS_MAX_LAYERS];
    for (int32_t k = 0; k < eqs_crnn_n_layers(tr->net); k++)
        lr[k] = eqs_optim_lr(tr->optim, k);
    if (tr->pepita)
        return eqs_digital_step_pepita(tr->digital, tr->pepita, lr, step, err);
    double beta_b = eqs_trainer_beta_sign(tr, step) * tr->cfg.algorithm.beta;
    double beta_a = tr->cfg.algorithm.estimator == EQS_EST_SYMMETRIC ? -beta_b : 0.0;
    return eqs_digital_step_ep(tr->digital, tr->ep, beta_b, beta_a, lr, step, err);
}

eqs_status eqs_trainer_step(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                            uint64_t step, double *loss_sum, int32_t *n_correct, eqs_err *err)
{
    double loss = 0;
    eqs_trainer_grads(tr, x, y, batch, step, &tr->g, &loss, n_correct);
    if (loss_sum)
        *loss_sum = loss;
    if (!isfinite(loss) || !grads_finite(tr->net, &tr->g))
        return eqs_err_set(err, EQS_EDIVERGED,
                           "training diverged at step %llu: loss %g or a gradient is not finite; "
                           "lower optimizer.lr%s",
                           (unsigned long long)step, loss, tr->pepita ? "" : " or algorithm.beta");
    eqs_crnn_set_phase(tr->net, EQS_PHASE_UPDATE);
    if (tr->cfg.training.log_updates)
        accumulate_update_rms(tr);
    if (tr->digital)
        return digital_update(tr, step, err);
    eqs_optim_step(tr->optim, tr->net, &tr->g);
    update_local_readouts(tr);
    return EQS_OK;
}

const eqs_real *eqs_trainer_logits(const eqs_trainer *tr)
{
    if (tr->pepita) {
        eqs_pepita_pass pass;
        eqs_pepita_get_pass(tr->pepita, false, &pass);
        return pass.logits;
    }
    return tr->logits;
}

void eqs_trainer_infer(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t batch,
                       double *loss_sum, int32_t *n_correct)
{
    eqs_crnn_set_phase(tr->net, EQS_PHASE_INFER);
    eqs_crnn_set_input(tr->net, x, y, batch);
    eqs_crnn_dropout_off(tr->net);
    if (tr->pepita) {
        eqs_pepita_infer(tr->pepita, loss_sum, n_correct);
        return;
    }
    eqs_state_zero(tr->net, &tr->s, batch);
    eqs_crnn_relax(tr->net, &tr->s, &tr->tmp, tr->cfg.algorithm.t1, 0);
    eqs_crnn_logits(tr->net, &tr->s, tr->logits);
    double l = eqs_crnn_loss_grad(tr->net, tr->logits, tr->dl_dz);
    if (loss_sum)
        *loss_sum = l;
    if (n_correct)
        *n_correct = eqs_crnn_n_correct(tr->net, tr->logits);
}
