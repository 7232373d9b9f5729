/* cmd_train.c — `eqsim train` and `eqsim eval`: the epoch loop, the run directory (resolved
 * config, metrics.csv, plots, result.yaml), atomic checkpoints and --resume.
 *
 * A resumed run is bit-identical to an uninterrupted one (same thread count): shuffling is keyed
 * by (seed, epoch), random signs by (seed, step), and the optimizer state is checkpointed.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define METRICS_HEADER                                                                             \
    "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_s,train_samples_per_s"

typedef struct run_state {
    int32_t epochs_done;
    uint64_t global_step;
    double best_test_acc;
    int32_t best_epoch;
} run_state;

typedef struct train_opts {
    cli_common common;
    const char *out_dir;
    const char *resume_dir;
} train_opts;

static void train_usage(FILE *f)
{
    fputs("usage: eqsim train EXPERIMENT.yaml [--out DIR] [--set key=value ...] [--threads N]\n"
          "       eqsim train --resume RUNDIR [--set training.epochs=N ...]\n"
          "\n"
          "Trains the experiment's network with its algorithm (EP, BPTT or PEPITA) on its data\n"
          "set. Each epoch prints a line and appends to RUNDIR/metrics.csv (PEPITA: with the\n"
          "angle between W_N...W_1 and F^T, angle_deg_F); RUNDIR gets the resolved config\n"
          "(config.yaml), accuracy.png and loss.png (gnuplot), result.yaml, the last checkpoint\n"
          "(checkpoint/, written atomically: weights, optimizer state, and per weight array a\n"
          "<layer>.weight.tile with its counters and, on hardware, its device state) and the\n"
          "best weights (best/: weights only, for eqsim eval); PEPITA's fixed F is saved beside\n"
          "the weights as pepita.F.npy. counters.csv holds the action counters of the cost\n"
          "ledger (array reads, conversions, pulses, relaxation steps; per weight array and\n"
          "phase), cumulative over the run. An experiment with `hardware:` runs on that\n"
          "hardware description's analog tiles and neurons (docs/hwconfig.md).\n"
          "\n"
          "  --out DIR          run directory (default runs/<name>-<date>-<time>); must not hold\n"
          "                     a run already\n"
          "  --resume RUNDIR    continue RUNDIR from its checkpoint with RUNDIR/config.yaml\n"
          "                     (--set may extend training.epochs); bit-identical to a run that\n"
          "                     was never interrupted, on hardware too (the checkpoint holds the\n"
          "                     device state and the action counters)\n"
          "  --set key=value    override a config key (e.g. training.epochs=2, optimizer.lr=1e-3)\n"
          "  --threads N        OpenBLAS threads (default training.threads)\n"
          "\n"
          "A progress bar is drawn on stderr when it is a terminal (EQS_NO_PROGRESS=1 hides it).\n",
          f);
}

/* ---- small file helpers ------------------------------------------------------------------ */

static bool write_text_atomic(const char *path, const char *text)
{
    eqs_err err;
    if (eqs_write_file_atomic(path, text, strlen(text), &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

char *cli_config_yaml(const eqs_experiment_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    eqs_err err = {.msg = "cannot open a memory stream"};
    bool ok = mem && eqs_experiment_write(cfg, mem, &err) == EQS_OK;
    if (mem)
        fclose(mem);
    if (!ok) {
        cli_print_err(&err);
        free(buf);
        return NULL;
    }
    return buf;
}

static bool write_resolved_config(const eqs_experiment_config *cfg, const char *run_dir)
{
    char *buf = cli_config_yaml(cfg);
    if (!buf)
        return false;
    char path[EQS_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    bool ok = write_text_atomic(path, buf);
    free(buf);
    return ok;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

static bool write_manifest(const char *dir, const eqs_experiment_config *cfg, const run_state *rs)
{
    char text[1024], path[EQS_PATH_LEN + 128];
    snprintf(text, sizeof text,
             "# eqsim checkpoint\n"
             "format: eqs.checkpoint/1\n"
             "experiment: %s\n"
             "model: %s\n"
             "epochs_done: %d\n"
             "global_step: %llu\n"
             "best_test_acc: %.17g\n"
             "best_epoch: %d\n"
             "seed: %llu\n"
             "real: %s\n",
             cfg->name, cfg->model.name, rs->epochs_done, (unsigned long long)rs->global_step,
             rs->best_test_acc, rs->best_epoch, (unsigned long long)cfg->training.seed,
             EQS_REAL_NAME);
    snprintf(path, sizeof path, "%s/manifest.yaml", dir);
    return write_text_atomic(path, text);
}

/* Writes <run>/<name>.tmp completely, then swaps it in for <run>/<name>: a crash at any point
 * leaves either the old or the new folder whole (resume also looks at <name>.old). The full
 * checkpoint (with_state) adds the optimizer's slots and the state the weights do not say: per
 * tile its counters and, on hardware, its devices and random-stream offsets, and the neuron
 * counters (eqs_crnn_state_save). best/ holds the weights only: they are for evaluation. */
static bool save_checkpoint(eqs_trainer *tr, const eqs_experiment_config *cfg, const char *run,
                            const char *name, const run_state *rs, bool with_state)
{
    char tmp[EQS_PATH_LEN + 64], final[EQS_PATH_LEN + 64], old[EQS_PATH_LEN + 64];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", run, name);
    snprintf(final, sizeof final, "%s/%s", run, name);
    snprintf(old, sizeof old, "%s/%s.old", run, name);
    eqs_remove_tree(tmp);
    eqs_err err;
    eqs_crnn *net = eqs_trainer_net(tr);
    eqs_optim *opt = eqs_trainer_optim(tr);
    eqs_pepita *pep = eqs_trainer_pepita(tr);
    bool ok = eqs_mkdir_p(tmp, &err) == EQS_OK && eqs_params_save(net, tmp, &err) == EQS_OK &&
              (!pep || eqs_pepita_save_f(pep, tmp, &err) == EQS_OK);
    for (int32_t s = 0; ok && with_state && s < eqs_optim_n_slots(opt); s++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "optim.%s.", eqs_optim_slot_name(opt, s));
        ok = eqs_tensors_save(net, eqs_optim_slot(opt, s), tmp, prefix, &err) == EQS_OK;
    }
    if (ok && with_state)
        ok = eqs_crnn_state_save(net, tmp, &err) == EQS_OK;
    if (!ok) {
        cli_print_err(&err);
        return false;
    }
    if (!write_manifest(tmp, cfg, rs))
        return false;
    eqs_remove_tree(old);
    if ((eqs_path_exists(final) && rename(final, old) != 0) || rename(tmp, final) != 0) {
        cli_error("%s: cannot move the new checkpoint into place: %s", final, strerror(errno));
        return false;
    }
    eqs_remove_tree(old);
    return true;
}

static bool read_manifest(const char *dir, run_state *rs)
{
    char path[EQS_PATH_LEN + 128], line[512];
    snprintf(path, sizeof path, "%s/manifest.yaml", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    int found = 0;
    unsigned long long step = 0;
    while (fgets(line, sizeof line, f)) {
        found += sscanf(line, "epochs_done: %d", &rs->epochs_done);
        found += sscanf(line, "global_step: %llu", &step);
        found += sscanf(line, "best_test_acc: %lf", &rs->best_test_acc);
        found += sscanf(line, "best_epoch: %d", &rs->best_epoch);
    }
    fclose(f);
    rs->global_step = step;
    if (found != 4) {
        cli_error("%s: corrupt manifest (expected epochs_done, global_step, best_test_acc, "
                  "best_epoch)",
                  path);
        return false;
    }
    return true;
}

/* The weights, the optimizer's slots, then the tile and neuron state, which overrides the
 * devices the weights programmed: the tiles then hold exactly the saved conductances. */
static bool load_checkpoint(eqs_trainer *tr, const eqs_experiment_config *cfg, const char *run,
                            run_state *rs)
{
    char dir[EQS_PATH_LEN + 64];
    snprintf(dir, sizeof dir, "%s/checkpoint", run);
    if (!eqs_path_exists(dir))
        snprintf(dir, sizeof dir, "%s/checkpoint.old", run);
    if (!eqs_path_exists(dir)) {
        cli_error("%s: no checkpoint to resume from (no checkpoint/ folder)", run);
        return false;
    }
    if (!read_manifest(dir, rs))
        return false;
    eqs_err err;
    eqs_crnn *net = eqs_trainer_net(tr);
    eqs_optim *opt = eqs_trainer_optim(tr);
    bool found_f;
    eqs_pepita *pep = eqs_trainer_pepita(tr);
    if (eqs_params_load(net, dir, &err) != EQS_OK ||
        (pep && eqs_pepita_load_f(pep, dir, &found_f, &err) != EQS_OK)) {
        cli_print_err(&err);
        return false;
    }
    for (int32_t s = 0; s < eqs_optim_n_slots(opt); s++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "optim.%s.", eqs_optim_slot_name(opt, s));
        if (eqs_tensors_load(net, eqs_optim_slot(opt, s), dir, prefix, &err) != EQS_OK) {
            cli_print_err(&err);
            return false;
        }
    }
    char probe[EQS_PATH_LEN + 128];
    snprintf(probe, sizeof probe, "%s/%s", dir, EQS_NEURON_COUNTS_FILE);
    if (!eqs_path_exists(probe) && cfg->has_hardware) {
        cli_error("%s: the checkpoint holds no device state (%s is missing; written by an eqsim "
                  "that did not save it): a run on hardware cannot continue from the weights "
                  "alone; start the run again",
                  dir, EQS_NEURON_COUNTS_FILE);
        return false;
    }
    if (!eqs_path_exists(probe))
        fprintf(stderr,
                "eqsim: warning: %s: no %s (an older checkpoint): the action counters "
                "(counters.csv) restart from zero\n",
                dir, EQS_NEURON_COUNTS_FILE);
    else if (eqs_crnn_state_load(net, dir, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    eqs_optim_set_steps(opt, (int64_t)rs->global_step);
    return true;
}

/* ---- evaluation and the epoch loop -------------------------------------------------------- */

typedef struct batch_buf {
    eqs_real *x;
    eqs_real *x_aug; /* augmented copy of x (data.augment) */
    int32_t *y;
    int64_t *idx;
} batch_buf;

/* logits_out (NULL to skip): [d->n, n_classes], every sample's logits in the split's order. */
static void evaluate_logits(eqs_trainer *tr, const eqs_dataset *d, int32_t bs, batch_buf *bb,
                            double *loss, double *acc, eqs_real *logits_out)
{
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b0 = 0; b0 < d->n; b0 += bs) {
        int32_t nb = (int32_t)(d->n - b0 < bs ? d->n - b0 : bs);
        for (int32_t i = 0; i < nb; i++)
            bb->idx[i] = b0 + i;
        eqs_dataset_gather(d, bb->idx, nb, bb->x, bb->y);
        double l;
        int32_t c;
        eqs_trainer_infer(tr, bb->x, bb->y, nb, &l, &c);
        loss_sum += l;
        correct += c;
        int32_t nc = eqs_crnn_n_classes(eqs_trainer_net(tr));
        if (logits_out)
            memcpy(logits_out + b0 * nc, eqs_trainer_logits(tr),
                   sizeof(eqs_real) * (size_t)nb * (size_t)nc);
    }
    *loss = loss_sum / (double)d->n;
    *acc = (double)correct / (double)d->n;
}

static void evaluate(eqs_trainer *tr, const eqs_dataset *d, int32_t bs, batch_buf *bb, double *loss,
                     double *acc)
{
    evaluate_logits(tr, d, bs, bb, loss, acc, NULL);
}

typedef struct epoch_result {
    double train_loss, train_acc, test_loss, test_acc, seconds;
} epoch_result;

static bool train_epoch(eqs_trainer *tr, const eqs_experiment_config *cfg, const eqs_dataset *d,
                        int32_t epoch, batch_buf *bb, int64_t *perm, run_state *rs,
                        epoch_result *res)
{
    int32_t bs = cfg->training.batch_size;
    char label[64];
    snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, cfg->training.epochs);
    cli_progress bar;
    cli_progress_start(&bar, label, d->n);
    eqs_optim_set_epoch(eqs_trainer_optim(tr), epoch);
    eqs_trainer_set_epoch(tr, epoch);
    eqs_permutation(perm, d->n, cfg->training.seed, (uint32_t)epoch);
    double loss_sum = 0, t0 = eqs_now_s();
    int64_t correct = 0, seen = 0;
    for (int64_t b0 = 0; b0 < d->n; b0 += bs) {
        int32_t nb = (int32_t)(d->n - b0 < bs ? d->n - b0 : bs);
        eqs_dataset_gather(d, perm + b0, nb, bb->x, bb->y);
        const eqs_real *x = bb->x;
        if (cfg->data.augment) { /* drawn per (seed, epoch, sample): order-independent */
            eqs_augment_crop_flip(bb->x_aug, bb->x, nb, d->channels, d->height, d->width, 4, true,
                                  cfg->training.seed, (uint32_t)epoch, perm + b0);
            x = bb->x_aug;
        }
        double l;
        int32_t c;
        eqs_err err;
        eqs_trainer_set_sample_ids(tr, perm + b0); /* KD: the rows of the teacher logits */
        if (eqs_trainer_step(tr, x, bb->y, nb, rs->global_step, &l, &c, &err) != EQS_OK) {
            cli_progress_end(&bar);
            cli_error("epoch %d, batch %lld: %s (the last checkpoint is intact)", epoch + 1,
                      (long long)(b0 / bs + 1), err.msg);
            return false;
        }
        rs->global_step++;
        loss_sum += l;
        correct += c;
        seen += nb;
        char extra[64];
        snprintf(extra, sizeof extra, "loss %.4f acc %.2f%%", loss_sum / (double)seen,
                 100.0 * (double)correct / (double)seen);
        cli_progress_update(&bar, seen, extra);
    }
    cli_progress_end(&bar);
    res->seconds = eqs_now_s() - t0;
    res->train_loss = loss_sum / (double)d->n;
    res->train_acc = (double)correct / (double)d->n;
    return true;
}

static void plot_metrics(const char *run)
{
    char csv[EQS_PATH_LEN + 32], png[EQS_PATH_LEN + 32];
    snprintf(csv, sizeof csv, "%s/metrics.csv", run);
    const int acc_cols[] = {3, 5}, loss_cols[] = {2, 4};
    eqs_err err;
    snprintf(png, sizeof png, "%s/accuracy.png", run);
    if (eqs_plot_csv(csv, png, "accuracy", "accuracy", 1, acc_cols, 2, &err) != EQS_OK)
        fprintf(stderr, "eqsim: warning: %s\n", err.msg);
    snprintf(png, sizeof png, "%s/loss.png", run);
    if (eqs_plot_csv(csv, png, "loss", "loss", 1, loss_cols, 2, &err) != EQS_OK)
        fprintf(stderr, "eqsim: warning: %s\n", err.msg);
}

static bool write_result(const char *run, const eqs_experiment_config *cfg, const run_state *rs,
                         const epoch_result *last, double wall_s)
{
    char text[1024], path[EQS_PATH_LEN + 128];
    snprintf(text, sizeof text,
             "experiment: %s\nepochs_done: %d\nbest_test_acc: %.6f\nbest_epoch: %d\n"
             "final_test_acc: %.6f\nfinal_train_acc: %.6f\nfinal_test_loss: %.6f\n"
             "wall_s_this_session: %.1f\nthreads: %d\n",
             cfg->name, rs->epochs_done, rs->best_test_acc, rs->best_epoch, last->test_acc,
             last->train_acc, last->test_loss, wall_s, cfg->training.threads);
    snprintf(path, sizeof path, "%s/result.yaml", run);
    return write_text_atomic(path, text);
}

/* PEPITA's angle between W_N...W_1 and F^T (its Fig. 3b), where it exists (not with F = 0,
 * not through a conv layer). */
static bool has_f_angle(eqs_trainer *tr)
{
    return eqs_trainer_pepita(tr) && eqs_pepita_has_angle(eqs_trainer_pepita(tr));
}

static bool cfg_log_updates(eqs_trainer *tr)
{
    return eqs_trainer_config(tr)->training.log_updates != 0;
}

/* Asymmetric feedback adds one column per pair (W_k, W^b_k): their alignment angle in degrees
 * (Laborieux eq. 52); PEPITA adds angle_deg_F. */
static void metrics_header(eqs_trainer *tr, char *out, size_t len)
{
    eqs_crnn *net = eqs_trainer_net(tr);
    int n = snprintf(out, len, "%s", METRICS_HEADER);
    for (int32_t k = 0; k < eqs_crnn_n_layers(net) && n < (int)len; k++)
        if (eqs_crnn_has_back(net, k))
            n += snprintf(out + n, len - (size_t)n, ",angle_deg_%s",
                          eqs_crnn_model(net)->layers[k].name);
    if (has_f_angle(tr) && n < (int)len)
        n += snprintf(out + n, len - (size_t)n, ",angle_deg_F");
    if (eqs_crnn_n_local(net) > 0 && n < (int)len) /* local error signals' weight this epoch */
        n += snprintf(out + n, len - (size_t)n, ",lambda");
    for (int32_t k = 0; cfg_log_updates(tr) && k < eqs_crnn_n_layers(net) && n < (int)len; k++)
        n += snprintf(out + n, len - (size_t)n, ",upd_rms_%s", eqs_crnn_model(net)->layers[k].name);
}

static void append_angles(eqs_trainer *tr, char *row, size_t len)
{
    eqs_crnn *net = eqs_trainer_net(tr);
    size_t n = strlen(row);
    for (int32_t k = 0; k < eqs_crnn_n_layers(net) && n < len; k++)
        if (eqs_crnn_has_back(net, k))
            n += (size_t)snprintf(row + n, len - n, ",%.4f", eqs_crnn_alignment_deg(net, k));
    double deg = NAN;
    eqs_err err;
    if (has_f_angle(tr) && eqs_pepita_alignment_deg(eqs_trainer_pepita(tr), &deg, &err) != EQS_OK)
        fprintf(stderr, "eqsim: warning: angle_deg_F: %s\n", err.msg);
    if (has_f_angle(tr) && n < len)
        n += (size_t)snprintf(row + n, len - n, ",%.4f", deg);
    if (eqs_crnn_n_local(net) > 0 && n < len)
        n += (size_t)snprintf(row + n, len - n, ",%.6g", eqs_crnn_local_lambda(net));
    double rms[EQS_MAX_LAYERS];
    if (cfg_log_updates(tr) && eqs_trainer_take_update_rms(tr, rms) > 0)
        for (int32_t k = 0; k < eqs_crnn_n_layers(net) && n < len; k++)
            n += (size_t)snprintf(row + n, len - n, ",%.6g", rms[k]);
}

static bool record_epoch(eqs_trainer *tr, const eqs_experiment_config *cfg, const char *run,
                         eqs_csv *csv, int32_t epoch, run_state *rs, const epoch_result *r,
                         int64_t n_train, bool quiet)
{
    char row[1024];
    snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.2f,%.0f", epoch + 1, r->train_loss,
             r->train_acc, r->test_loss, r->test_acc, eqs_optim_lr(eqs_trainer_optim(tr), 0),
             r->seconds, (double)n_train / r->seconds);
    append_angles(tr, row, sizeof row);
    eqs_err err;
    if (eqs_csv_append(csv, row, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (!quiet) {
        printf("epoch %3d/%d  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  %.1f s "
               "(%.0f samples/s)\n",
               epoch + 1, cfg->training.epochs, r->train_loss, 100 * r->train_acc, r->test_loss,
               100 * r->test_acc, r->seconds, (double)n_train / r->seconds);
        fflush(stdout);
    }
    rs->epochs_done = epoch + 1;
    bool best = r->test_acc > rs->best_test_acc;
    if (best) {
        rs->best_test_acc = r->test_acc;
        rs->best_epoch = epoch + 1;
    }
    plot_metrics(run);
    char ledger[EQS_PATH_LEN + 32];
    snprintf(ledger, sizeof ledger, "%s/counters.csv", run);
    if (eqs_trainer_ledger_write_csv(tr, ledger, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (best && !save_checkpoint(tr, cfg, run, "best", rs, false))
        return false;
    return save_checkpoint(tr, cfg, run, "checkpoint", rs, true);
}

static bool alloc_batch(batch_buf *bb, int64_t **perm, int32_t max_batch, int32_t n_features,
                        int64_t n_train)
{
    bb->x = malloc(sizeof(eqs_real) * (size_t)max_batch * (size_t)n_features);
    bb->x_aug = malloc(sizeof(eqs_real) * (size_t)max_batch * (size_t)n_features);
    bb->y = malloc(sizeof(int32_t) * (size_t)max_batch);
    bb->idx = malloc(sizeof(int64_t) * (size_t)max_batch);
    *perm = malloc(sizeof(int64_t) * (size_t)n_train);
    return bb->x && bb->x_aug && bb->y && bb->idx && *perm;
}

static void free_batch(batch_buf *bb, int64_t *perm)
{
    free(bb->x);
    free(bb->x_aug);
    free(bb->y);
    free(bb->idx);
    free(perm);
}

static int run_training(const eqs_experiment_config *cfg, const char *run, bool resume, bool quiet)
{
    eqs_dataset train = {0}, test = {0};
    if (!cli_load_data(cfg, &train, &test))
        return 1;
    int32_t max_batch = cfg->training.batch_size > cfg->training.eval_batch_size
                            ? cfg->training.batch_size
                            : cfg->training.eval_batch_size;
    eqs_trainer *tr = NULL;
    eqs_csv *csv = NULL;
    batch_buf bb = {0};
    int64_t *perm = NULL;
    run_state rs = {0, 0, -1, 0};
    eqs_err err = {0};
    int rc = 1;
    char path[EQS_PATH_LEN + 32], header[1024];
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    if (eqs_trainer_create(&tr, cfg, max_batch, &err) == EQS_OK)
        metrics_header(tr, header, sizeof header);
    if (err.code != EQS_OK || eqs_csv_open(&csv, path, header, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    if (!alloc_batch(&bb, &perm, max_batch, train.n_features, train.n)) {
        cli_error("out of memory");
        goto done;
    }
    if (eqs_trainer_check_train_set(tr, train.n, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    if (resume) {
        if (!load_checkpoint(tr, cfg, run, &rs))
            goto done;
        eqs_csv_truncate_after(csv, rs.epochs_done);
        if (!quiet)
            printf("resuming %s after epoch %d (step %llu)\n", run, rs.epochs_done,
                   (unsigned long long)rs.global_step);
    }
    if (!quiet)
        printf("training %s: %s, %lld train / %lld test samples, %d threads, run directory %s\n",
               cfg->name, eqs_algorithm_name(cfg->algorithm.name), (long long)train.n,
               (long long)test.n, cfg->training.threads, run);
    fflush(stdout); /* the first epoch may take minutes: say what runs before it starts */
    double t0 = eqs_now_s();
    epoch_result r = {0};
    for (int32_t e = rs.epochs_done; e < cfg->training.epochs; e++) {
        if (!train_epoch(tr, cfg, &train, e, &bb, perm, &rs, &r))
            goto done;
        evaluate(tr, &test, cfg->training.eval_batch_size, &bb, &r.test_loss, &r.test_acc);
        if (!record_epoch(tr, cfg, run, csv, e, &rs, &r, train.n, quiet) ||
            !write_result(run, cfg, &rs, &r, eqs_now_s() - t0))
            goto done;
    }
    if (!quiet)
        printf("best test accuracy %.2f%% at epoch %d; results in %s\n", 100 * rs.best_test_acc,
               rs.best_epoch, run);
    rc = 0;
done:
    free_batch(&bb, perm);
    eqs_csv_close(csv);
    eqs_trainer_destroy(tr);
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    return rc;
}

int cli_train_run(const eqs_experiment_config *cfg, const char *run, bool resume, bool quiet)
{
    eqs_err err;
    if (eqs_mkdir_p(run, &err) != EQS_OK) {
        cli_print_err(&err);
        return 2;
    }
    if (!write_resolved_config(cfg, run))
        return 1;
    return run_training(cfg, run, resume, quiet);
}

static bool parse_train_args(train_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int c = cli_parse_common(&o->common, argc, argv, &i);
        if (c < 0)
            return false;
        if (c > 0)
            continue;
        if ((strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--resume") == 0) && i + 1 < argc) {
            const char **dst = argv[i][2] == 'o' ? &o->out_dir : &o->resume_dir;
            *dst = argv[++i];
        } else if (argv[i][0] == '-') {
            cli_error("train: unknown option '%s' (see eqsim train --help)", argv[i]);
            return false;
        } else if (!o->common.experiment) {
            o->common.experiment = argv[i];
        } else {
            cli_error("train: unexpected argument '%s'", argv[i]);
            return false;
        }
    }
    return true;
}

static void default_run_dir(char *out, size_t len, const char *name)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, len, "runs/%s-%s", name, stamp);
}

int cmd_train(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            train_usage(stdout);
            return 0;
        }
    train_opts o = {0};
    if (!parse_train_args(&o, argc, argv))
        return 2;
    char cfg_path[EQS_PATH_LEN + 32], run[EQS_PATH_LEN];
    if (o.resume_dir) {
        if (o.common.experiment || o.out_dir) {
            cli_error("train: --resume RUNDIR takes its config from RUNDIR/config.yaml; give "
                      "neither EXPERIMENT.yaml nor --out");
            return 2;
        }
        snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", o.resume_dir);
        if (!eqs_path_exists(cfg_path)) {
            cli_error("--resume %s: not a run directory (no config.yaml)", o.resume_dir);
            return 2;
        }
        o.common.experiment = cfg_path;
    }
    eqs_experiment_config cfg;
    if (!cli_load_experiment(&o.common, &cfg))
        return 2;
    if (o.resume_dir)
        snprintf(run, sizeof run, "%s", o.resume_dir);
    else if (o.out_dir)
        snprintf(run, sizeof run, "%s", o.out_dir);
    else
        default_run_dir(run, sizeof run, cfg.name);
    char probe[EQS_PATH_LEN + 32];
    snprintf(probe, sizeof probe, "%s/config.yaml", run);
    if (!o.resume_dir && eqs_path_exists(probe)) {
        cli_error("%s already holds a run; continue it with --resume %s or choose another --out",
                  run, run);
        return 2;
    }
    return cli_train_run(&cfg, run, o.resume_dir != NULL, false);
}

/* ---- eval --------------------------------------------------------------------------------- */

static void eval_usage(FILE *f)
{
    fputs("usage: eqsim eval EXPERIMENT.yaml --weights DIR [--split test|train]\n"
          "                  [--logits OUT.npy] [--set k=v ...]\n"
          "\n"
          "Loads <layer>.weight.npy / <layer>.bias.npy from DIR (a checkpoint, best/, or any\n"
          "folder in that format), runs the free phase (algorithm.t1 steps; PEPITA: the standard\n"
          "forward pass) on the split and prints its mean loss and accuracy.\n"
          "\n"
          "  --logits OUT.npy  also write every sample's logits [n, n_classes] in the order eqsim\n"
          "                    loads the split (after data.train_subset / test_subset, which\n"
          "                    depend on training.seed): the teacher file of knowledge\n"
          "                    distillation (docs/local-error.md)\n",
          f);
}

int cmd_eval(int argc, char **argv)
{
    cli_common c = {0};
    const char *weights = NULL, *split = "test", *logits_path = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_parse_common(&c, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            eval_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
            weights = argv[++i];
        } else if (strcmp(argv[i], "--split") == 0 && i + 1 < argc) {
            split = argv[++i];
        } else if (strcmp(argv[i], "--logits") == 0 && i + 1 < argc) {
            logits_path = argv[++i];
        } else if (argv[i][0] != '-' && !c.experiment) {
            c.experiment = argv[i];
        } else {
            cli_error("eval: unexpected argument '%s' (see eqsim eval --help)", argv[i]);
            return 2;
        }
    }
    if (!weights || (strcmp(split, "test") != 0 && strcmp(split, "train") != 0)) {
        cli_error("eval: need --weights DIR, and --split test or train");
        return 2;
    }
    eqs_experiment_config cfg;
    if (!cli_load_experiment(&c, &cfg))
        return 2;
    eqs_dataset train = {0}, test = {0};
    if (!cli_load_data(&cfg, &train, &test))
        return 1;
    eqs_trainer *tr = NULL;
    batch_buf bb = {0};
    int64_t *perm = NULL;
    eqs_real *logits = NULL;
    eqs_err err;
    int rc = 1;
    int32_t bs = cfg.training.eval_batch_size;
    if (eqs_trainer_create(&tr, &cfg, bs, &err) != EQS_OK ||
        eqs_params_load(eqs_trainer_net(tr), weights, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    if (!alloc_batch(&bb, &perm, bs, train.n_features, 1))
        goto done;
    const eqs_dataset *d = strcmp(split, "test") == 0 ? &test : &train;
    double loss, acc;
    int64_t shape[2] = {d->n, eqs_crnn_n_classes(eqs_trainer_net(tr))};
    if (logits_path && !(logits = malloc(sizeof(eqs_real) * (size_t)(shape[0] * shape[1])))) {
        cli_error("out of memory");
        goto done;
    }
    evaluate_logits(tr, d, bs, &bb, &loss, &acc, logits);
    printf("%s: %s split, %lld samples: loss %.4f accuracy %.2f%%\n", cfg.name, split,
           (long long)d->n, loss, 100 * acc);
    if (logits && eqs_npy_write_real(logits_path, 2, shape, logits, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    if (logits)
        printf("logits [%lld, %lld] written to %s\n", (long long)shape[0], (long long)shape[1],
               logits_path);
    rc = 0;
done:
    free(logits);
    free_batch(&bb, perm);
    eqs_trainer_destroy(tr);
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    return rc;
}
