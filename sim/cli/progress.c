/* progress.c — the progress bar of long runs (stderr, only on a terminal) and shared CLI
 * helpers: --set/--threads parsing, loading an experiment and its data. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#include "eqs/blas.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("eqsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_print_err(const eqs_err *err)
{
    cli_error("%s", err->msg);
}

int cli_parse_common(cli_common *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--set") == 0 || strcmp(a, "--threads") == 0) {
        if (*i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (a[2] == 's') {
            if (c->n_overrides == EQS_MAX_OVERRIDES) {
                cli_error("too many --set (at most %d)", EQS_MAX_OVERRIDES);
                return -1;
            }
            c->overrides[c->n_overrides++] = v;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 256) {
                cli_error("--threads: expected an integer in [1, 256], got '%s'", v);
                return -1;
            }
            c->threads = (int)n;
        }
        return 1;
    }
    return 0;
}

bool cli_load_experiment(const cli_common *c, eqs_experiment_config *cfg)
{
    if (!c->experiment) {
        cli_error("missing EXPERIMENT.yaml (see --help)");
        return false;
    }
    eqs_err err;
    if (eqs_experiment_load(cfg, c->experiment, c->overrides, c->n_overrides, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (c->threads > 0)
        cfg->training.threads = c->threads;
    eqs_blas_set_threads(cfg->training.threads);
    return true;
}

/* The training subset is the first N of a seeded permutation, so that it is a fair sample. */
static void take_train_subset(eqs_dataset *d, int64_t n, uint64_t seed)
{
    if (n <= 0 || n >= d->n)
        return;
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)d->n);
    eqs_real *x = malloc(sizeof(eqs_real) * (size_t)n * (size_t)d->n_features);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    if (!perm || !x || !y) {
        free(perm);
        free(x);
        free(y);
        eqs_dataset_truncate(d, n);
        return;
    }
    eqs_rng r;
    eqs_rng_init(&r, seed, EQS_RNG_SUBSET, 0);
    for (int64_t i = 0; i < d->n; i++)
        perm[i] = i;
    for (int64_t i = d->n - 1; i > 0; i--) {
        int64_t j = (int64_t)eqs_rng_below(&r, (uint32_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    eqs_dataset_gather(d, perm, n, x, y);
    memcpy(d->x, x, sizeof(eqs_real) * (size_t)n * (size_t)d->n_features);
    memcpy(d->y, y, sizeof(int32_t) * (size_t)n);
    eqs_dataset_truncate(d, n);
    free(perm);
    free(x);
    free(y);
}

bool cli_load_data(const eqs_experiment_config *cfg, eqs_dataset *train, eqs_dataset *test)
{
    eqs_err err;
    bool cifar = cfg->data.format == EQS_DATA_CIFAR10;
    if ((cifar ? eqs_cifar10_load(train, cfg->data.dir, "train", &err)
               : eqs_mnist_load(train, cfg->data.dir, "train", &err)) != EQS_OK ||
        (cifar ? eqs_cifar10_load(test, cfg->data.dir, "test", &err)
               : eqs_mnist_load(test, cfg->data.dir, "t10k", &err)) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    const eqs_model_config *m = &cfg->model;
    if (train->n_features != m->n_features || test->n_features != m->n_features) {
        cli_error("data.dir %s: images have %d features but model '%s' expects %d", cfg->data.dir,
                  train->n_features, m->name, m->n_features);
        return false;
    }
    int32_t n_classes = m->layers[m->n_layers - 1].n_out;
    if (train->n_classes > n_classes || test->n_classes > n_classes) {
        cli_error("data.dir %s: labels go up to %d but model '%s' has %d outputs", cfg->data.dir,
                  (train->n_classes > test->n_classes ? train->n_classes : test->n_classes) - 1,
                  m->name, n_classes);
        return false;
    }
    take_train_subset(train, cfg->data.train_subset, cfg->training.seed);
    eqs_dataset_truncate(test, cfg->data.test_subset);
    if (cfg->data.normalize && cifar) { /* the reference code's Normalize constants */
        eqs_dataset_normalize_channels(train, eqs_cifar10_mean, eqs_cifar10_std_laborieux);
        eqs_dataset_normalize_channels(test, eqs_cifar10_mean, eqs_cifar10_std_laborieux);
    } else if (cfg->data.normalize) {
        eqs_dataset_normalize(train, cfg->data.mean, cfg->data.std);
        eqs_dataset_normalize(test, cfg->data.mean, cfg->data.std);
    }
    return true;
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total)
{
    p->tty = isatty(STDERR_FILENO) && getenv("EQS_NO_PROGRESS") == NULL;
    p->t_start_s = p->t_last_s = eqs_now_s();
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label);
}

void cli_progress_update(cli_progress *p, int64_t done, const char *extra)
{
    if (!p->tty)
        return;
    double now = eqs_now_s();
    if (now - p->t_last_s < 0.1 && done < p->total)
        return;
    p->t_last_s = now;
    const int width = 30;
    double frac = p->total > 0 ? (double)done / (double)p->total : 1;
    int filled = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    double elapsed = now - p->t_start_s;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %3.0f%% %lld/%lld %s %.0f/s ETA %.0fs \033[K", p->label, bar,
            100 * frac, (long long)done, (long long)p->total, extra ? extra : "", rate, eta);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
