/* cmd_gducheck.c — `eqsim gducheck`: the GDU check of Ernoult et al. (2019) on one batch of
 * real training images: EP's per-step updates against BPTT's per-step gradients, as a RelMSE
 * table (stdout, gdu.csv) and, per dynamic layer, cumulative traces of a few sampled neurons and
 * weights (CSV + PNG, in the style of Laborieux et al. 2021, Fig. 2 / 8).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GDU_N_PICK 5

static void gducheck_usage(FILE *f)
{
    fputs(
        "usage: eqsim gducheck EXPERIMENT.yaml [--weights DIR] [--batch N] [--out DIR]\n"
        "                      [--beta B] [--steps K] [--seed S] [--set key=value ...]\n"
        "                      [--threads N]\n"
        "\n"
        "Checks the property of gradient-descending updates (Ernoult et al. 2019, Theorem 1) on\n"
        "one batch: after the free phase (algorithm.t1 = T1 steps from zero, steady state s*),\n"
        "K nudged steps from s* with +beta and with -beta give EP's per-step updates\n"
        "  dEP_s(t) = (s_{t+1} - s_t) / (beta B),  dEP_theta(t) = (dPhi/dtheta(s_{t+1}) -\n"
        "  dPhi/dtheta(s_t)) / (beta B)   (B the batch; -beta for the other side; symmetric =\n"
        "  their mean), compared with BPTT's per-step gradients dBPTT(t) = dL/ds_{T1-t},\n"
        "  dL/dtheta_{T1-t} (BPTT over T1 steps, back through the last K):\n"
        "  RelMSE = sum over t < K, elements and batch of (dEP(t) + dBPTT(t))^2 / sum dBPTT(t)^2,\n"
        "per dynamic layer and group (neurons, weights, biases). A softmax readout is outside the\n"
        "dynamics and has no per-step gradient: only the dynamic layers are checked.\n"
        "\n"
        "  --weights DIR   <layer>.weight.npy and <layer>.bias.npy (e.g. runs/<run>/best);\n"
        "                  default: the initialisation of training.seed\n"
        "  --batch N       the first N images of the training set shuffled with the seed\n"
        "                  (after data.train_subset); default 20\n"
        "  --beta B        nudging strength (default algorithm.beta)\n"
        "  --steps K       nudged steps = BPTT steps, 1 <= K <= T1 (default algorithm.t2)\n"
        "  --seed S        seed of the batch and of the sampled neurons and weights\n"
        "                  (default training.seed)\n"
        "  --out DIR       output folder, created if needed, files in it overwritten\n"
        "                  (default runs/gducheck-<experiment name>)\n"
        "  --set, --threads  as for every experiment command (eqsim --help)\n"
        "\n"
        "Prints the RelMSE table (one-sided +beta, one-sided -beta, symmetric) and writes\n"
        "  DIR/gdu.csv           layer,group,estimator,relmse\n"
        "  DIR/gdu_<layer>.csv   per dynamic layer, t = 0..K-1: cumulative sums over t' <= t\n"
        "                        of -dBPTT and of the three EP updates, for 5 neurons\n"
        "                        (sample, unit) and 5 weights (out, in) drawn with the seed\n"
        "                        among those whose BPTT gradient is non-zero at some step\n"
        "  DIR/gdu_<layer>.png   those curves: -dBPTT solid, EP +beta long dashes, EP -beta\n"
        "                        short dashes, symmetric dotted; one colour per element\n"
        "Exit status: 0 done, 2 bad arguments or inputs, 1 failure while computing or writing.\n",
        f);
}

typedef struct gdu_opts {
    cli_common common;
    const char *weights, *out;
    long batch, steps;
    double beta;
    unsigned long long seed;
    bool have_seed;
} gdu_opts;

static bool parse_long(const char *flag, const char *v, long lo, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || errno || n < lo) {
        cli_error("gducheck: %s expects an integer >= %ld, got '%s'", flag, lo, v);
        return false;
    }
    *out = n;
    return true;
}

static bool parse_value(gdu_opts *o, const char *flag, const char *v)
{
    if (strcmp(flag, "--weights") == 0)
        o->weights = v;
    else if (strcmp(flag, "--out") == 0)
        o->out = v;
    else if (strcmp(flag, "--batch") == 0)
        return parse_long(flag, v, 1, &o->batch);
    else if (strcmp(flag, "--steps") == 0)
        return parse_long(flag, v, 1, &o->steps);
    else if (strcmp(flag, "--seed") == 0) {
        char *end;
        errno = 0;
        o->seed = strtoull(v, &end, 10);
        o->have_seed = *v >= '0' && *v <= '9' && !*end && !errno;
        if (!o->have_seed)
            cli_error("gducheck: --seed expects a non-negative integer, got '%s'", v);
        return o->have_seed;
    } else { /* --beta */
        char *end;
        o->beta = strtod(v, &end);
        if (*v == '\0' || *end || !(o->beta > 0) || !isfinite(o->beta)) {
            cli_error("gducheck: --beta expects a number > 0, got '%s'", v);
            return false;
        }
    }
    return true;
}

static bool parse_gducheck_args(gdu_opts *o, int argc, char **argv)
{
    static const char *const flags[] = {"--weights", "--out",  "--batch", "--steps",
                                        "--seed",    "--beta", NULL};
    for (int i = 1; i < argc; i++) {
        int c = cli_parse_common(&o->common, argc, argv, &i);
        if (c < 0)
            return false;
        if (c > 0)
            continue;
        bool is_flag = false;
        for (int f = 0; flags[f] && !is_flag; f++)
            is_flag = strcmp(argv[i], flags[f]) == 0;
        if (is_flag && i + 1 >= argc) {
            cli_error("gducheck: %s needs a value", argv[i]);
            return false;
        }
        if (is_flag) {
            if (!parse_value(o, argv[i], argv[i + 1]))
                return false;
            i++;
        } else if (argv[i][0] != '-' && !o->common.experiment) {
            o->common.experiment = argv[i];
        } else {
            cli_error("gducheck: unexpected argument '%s' (see eqsim gducheck --help)", argv[i]);
            return false;
        }
    }
    return true;
}

/* --beta and --steps over the config; K must fit in the free phase BPTT unrolls. */
static bool apply_options(const gdu_opts *o, eqs_experiment_config *cfg)
{
    eqs_algorithm_config *a = &cfg->algorithm;
    if (a->name == EQS_ALGO_PEPITA) {
        cli_error("gducheck: compares EP's nudged dynamics with BPTT; algorithm pepita is a "
                  "feed-forward rule without them (set algorithm.name=ep to check the network)");
        return false;
    }
    if (o->beta > 0)
        a->beta = o->beta;
    long k = o->steps > 0 ? o->steps : a->t2;
    if (k > a->t1) {
        cli_error("gducheck: K = %ld nudged steps but BPTT can only go back through the T1 = %d "
                  "free steps: use --steps <= %d or raise algorithm.t1",
                  k, a->t1, a->t1);
        return false;
    }
    a->t2 = (int32_t)k;
    return true;
}

/* The first n images of the seeded permutation of the training set. */
static bool take_batch(const eqs_dataset *train, int32_t n, uint64_t seed, eqs_real **x,
                       int32_t **y)
{
    int64_t *perm = malloc(sizeof *perm * (size_t)train->n);
    *x = malloc(sizeof **x * (size_t)n * (size_t)train->n_features);
    *y = malloc(sizeof **y * (size_t)n);
    bool ok = perm && *x && *y;
    if (ok) {
        eqs_permutation(perm, train->n, seed, 0);
        eqs_dataset_gather(train, perm, n, *x, *y);
    } else {
        cli_error("gducheck: out of memory for a batch of %d images", n);
    }
    free(perm);
    return ok;
}

/* ---- reporting --------------------------------------------------------------------------- */

static const char *const group_names[EQS_GDU_N_GROUPS] = {"neurons", "weights", "biases"};
static const eqs_gdu_series estimators[3] = {EQS_GDU_EP_POS, EQS_GDU_EP_NEG, EQS_GDU_EP_SYM};
static const char *const estimator_names[3] = {"one_sided_pos", "one_sided_neg", "symmetric"};

static void print_table(const eqs_gdu *g, const eqs_model_config *m)
{
    printf("RelMSE = sum over t < K, elements, batch of (dEP(t) + dBPTT(t))^2 / sum dBPTT(t)^2\n");
    printf("%-8s %-8s %16s %16s %12s\n", "layer", "group", "one-sided +beta", "one-sided -beta",
           "symmetric");
    for (int32_t k = 0; k < eqs_gdu_n_layers(g); k++)
        for (int grp = 0; grp < EQS_GDU_N_GROUPS; grp++) {
            printf("%-8s %-8s", m->layers[k].name, group_names[grp]);
            for (int e = 0; e < 3; e++)
                printf(" %*.3e", e < 2 ? 16 : 12, eqs_gdu_relmse(g, k, grp, estimators[e]));
            printf("\n");
        }
    if (eqs_gdu_n_layers(g) < m->n_layers)
        printf("dynamic layers only: the softmax readout %s is outside the dynamics and has no "
               "per-step gradient\n",
               m->layers[m->n_layers - 1].name);
}

static bool write_text(const char *path, const char *text, size_t len)
{
    eqs_err err;
    if (eqs_write_file_atomic(path, text, len, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

static bool write_relmse_csv(const eqs_gdu *g, const eqs_model_config *m, const char *dir)
{
    char path[2 * EQS_PATH_LEN];
    size_t cap = 64 + (size_t)eqs_gdu_n_layers(g) * EQS_GDU_N_GROUPS * 3 * (EQS_NAME_LEN + 48);
    char *text = malloc(cap);
    if (!text) {
        cli_error("gducheck: out of memory");
        return false;
    }
    size_t len = (size_t)snprintf(text, cap, "layer,group,estimator,relmse\n");
    for (int32_t k = 0; k < eqs_gdu_n_layers(g); k++)
        for (int grp = 0; grp < EQS_GDU_N_GROUPS; grp++)
            for (int e = 0; e < 3; e++)
                len += (size_t)snprintf(text + len, cap - len, "%s,%s,%s,%.6e\n", m->layers[k].name,
                                        group_names[grp], estimator_names[e],
                                        eqs_gdu_relmse(g, k, grp, estimators[e]));
    snprintf(path, sizeof path, "%s/gdu.csv", dir);
    bool ok = write_text(path, text, len);
    free(text);
    return ok;
}

static const char *const series_names[EQS_GDU_N_SERIES] = {"minus_bptt", "ep_pos", "ep_neg",
                                                           "ep_sym"};

/* Header of a layer's trace CSV: t, then 4 columns per sampled neuron, then per weight. */
static size_t trace_header(const eqs_gdu *g, int32_t k, char *text, size_t cap)
{
    size_t len = (size_t)snprintf(text, cap, "t");
    for (int grp = 0; grp < 2; grp++)
        for (int32_t p = 0; p < eqs_gdu_n_picked(g, k, grp); p++) {
            int32_t row, col;
            eqs_gdu_picked(g, k, grp, p, &row, &col);
            for (int s = 0; s < EQS_GDU_N_SERIES; s++)
                len += (size_t)snprintf(text + len, cap - len,
                                        grp ? ",weight_o%d_i%d_%s" : ",neuron_s%d_u%d_%s", row, col,
                                        series_names[s]);
        }
    return len + (size_t)snprintf(text + len, cap - len, "\n");
}

/* Rows t = 0..K-1 of cumulative sums; BPTT negated so that matching curves coincide. */
static size_t trace_rows(const eqs_gdu *g, int32_t k, char *text, size_t len, size_t cap)
{
    int32_t n_cols = 0;
    double sums[2 * GDU_N_PICK * EQS_GDU_N_SERIES] = {0};
    for (int32_t t = 0; t < eqs_gdu_n_steps(g); t++) {
        len += (size_t)snprintf(text + len, cap - len, "%d", t);
        n_cols = 0;
        for (int grp = 0; grp < 2; grp++)
            for (int32_t p = 0; p < eqs_gdu_n_picked(g, k, grp); p++)
                for (int s = 0; s < EQS_GDU_N_SERIES; s++, n_cols++) {
                    double v = eqs_gdu_trace(g, k, grp, p, s)[t];
                    sums[n_cols] += s == EQS_GDU_BPTT ? -v : v;
                    len += (size_t)snprintf(text + len, cap - len, ",%.6e", sums[n_cols]);
                }
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    return len;
}

static bool write_trace_csv(const eqs_gdu *g, int32_t k, const char *path)
{
    size_t cols = 1 + 2 * GDU_N_PICK * EQS_GDU_N_SERIES;
    size_t cap = cols * 48 + (size_t)eqs_gdu_n_steps(g) * cols * 16 + 64;
    char *text = malloc(cap);
    if (!text) {
        cli_error("gducheck: out of memory");
        return false;
    }
    size_t len = trace_header(g, k, text, cap);
    len = trace_rows(g, k, text, len, cap);
    bool ok = write_text(path, text, len);
    free(text);
    return ok;
}

/* The curves of one group's sampled elements (CSV columns from first_col on), then black key
 * entries that say what each dash pattern means. */
static int panel_lines(const eqs_gdu *g, int32_t k, int grp, int first_col, eqs_plot_line *lines)
{
    static const eqs_dash dash[EQS_GDU_N_SERIES] = {EQS_DASH_SOLID, EQS_DASH_DASHED, EQS_DASH_SHORT,
                                                    EQS_DASH_DOTTED};
    static const char *const keys[EQS_GDU_N_SERIES] = {"-dBPTT", "dEP +beta", "dEP -beta",
                                                       "dEP symmetric"};
    int n = 0;
    for (int32_t p = 0; p < eqs_gdu_n_picked(g, k, grp); p++)
        for (int s = 0; s < EQS_GDU_N_SERIES; s++)
            lines[n++] = (eqs_plot_line){first_col + p * EQS_GDU_N_SERIES + s, p, dash[s], NULL};
    for (int s = 0; s < EQS_GDU_N_SERIES; s++)
        lines[n++] = (eqs_plot_line){0, -1, dash[s], keys[s]};
    return n;
}

static void plot_layer(const eqs_gdu *g, const eqs_experiment_config *cfg, int32_t k,
                       const char *csv, const char *png, int32_t batch)
{
    eqs_plot_line lines[2][(GDU_N_PICK + 1) * EQS_GDU_N_SERIES];
    int n0 = panel_lines(g, k, EQS_GDU_NEURONS, 2, lines[0]);
    int n1 = panel_lines(g, k, EQS_GDU_WEIGHTS,
                         2 + EQS_GDU_N_SERIES * eqs_gdu_n_picked(g, k, EQS_GDU_NEURONS), lines[1]);
    const char *name = cfg->model.layers[k].name;
    char titles[3][EQS_NAME_LEN + 200];
    snprintf(titles[0], sizeof titles[0], "%s: %d neurons (sample, unit)", name,
             eqs_gdu_n_picked(g, k, EQS_GDU_NEURONS));
    snprintf(titles[1], sizeof titles[1], "%s: %d weights (out, in)", name,
             eqs_gdu_n_picked(g, k, EQS_GDU_WEIGHTS));
    snprintf(titles[2], sizeof titles[2],
             "GDU check, %s, layer %s: beta = %g, T1 = %d, K = %d, batch %d", cfg->name, name,
             cfg->algorithm.beta, cfg->algorithm.t1, cfg->algorithm.t2, batch);
    eqs_plot_panel panels[2] = {{titles[0], "sum over t' <= t", lines[0], n0},
                                {titles[1], "sum over t' <= t", lines[1], n1}};
    eqs_err err;
    if (eqs_plot_lines(csv, png, titles[2], "t (nudged step)", 1, panels, 2, &err) != EQS_OK)
        cli_error("warning: %s", err.msg);
}

static bool write_outputs(const eqs_gdu *g, const eqs_experiment_config *cfg, const char *dir,
                          int32_t batch)
{
    eqs_err err;
    if (eqs_mkdir_p(dir, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (!write_relmse_csv(g, &cfg->model, dir))
        return false;
    char csv[2 * EQS_PATH_LEN], png[2 * EQS_PATH_LEN];
    for (int32_t k = 0; k < eqs_gdu_n_layers(g); k++) {
        snprintf(csv, sizeof csv, "%s/gdu_%s.csv", dir, cfg->model.layers[k].name);
        snprintf(png, sizeof png, "%s/gdu_%s.png", dir, cfg->model.layers[k].name);
        if (!write_trace_csv(g, k, csv))
            return false;
        plot_layer(g, cfg, k, csv, png, batch);
    }
    return true;
}

/* ---- the command ------------------------------------------------------------------------- */

typedef struct gdu_session {
    eqs_dataset train, test;
    eqs_real *x;
    int32_t *y;
    eqs_trainer *tr;
    eqs_gdu *gdu;
} gdu_session;

static void session_free(gdu_session *s)
{
    eqs_gdu_destroy(s->gdu);
    eqs_trainer_destroy(s->tr);
    free(s->x);
    free(s->y);
    eqs_dataset_free(&s->train);
    eqs_dataset_free(&s->test);
}

/* Data, batch, network and weights; false (message printed) on bad input. */
static bool prepare(gdu_session *s, const gdu_opts *o, const eqs_experiment_config *cfg,
                    uint64_t seed)
{
    if (!cli_load_data(cfg, &s->train, &s->test))
        return false;
    if (o->batch > s->train.n) {
        cli_error("gducheck: --batch %ld but the training set has only %lld images "
                  "(data.train_subset %lld)",
                  o->batch, (long long)s->train.n, (long long)cfg->data.train_subset);
        return false;
    }
    int32_t n = (int32_t)o->batch;
    eqs_err err;
    if (!take_batch(&s->train, n, seed, &s->x, &s->y))
        return false;
    if (eqs_trainer_create(&s->tr, cfg, n, &err) != EQS_OK ||
        (o->weights && eqs_params_load(eqs_trainer_net(s->tr), o->weights, &err) != EQS_OK)) {
        cli_print_err(&err);
        return false;
    }
    eqs_crnn_set_input(eqs_trainer_net(s->tr), s->x, s->y, n);
    return true;
}

int cmd_gducheck(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            gducheck_usage(stdout);
            return 0;
        }
    gdu_opts o = {.batch = 20};
    eqs_experiment_config cfg;
    if (!parse_gducheck_args(&o, argc, argv) || !cli_load_experiment(&o.common, &cfg) ||
        !apply_options(&o, &cfg))
        return 2;
    uint64_t seed = o.have_seed ? o.seed : cfg.training.seed;
    char out[EQS_PATH_LEN + EQS_NAME_LEN + 16];
    snprintf(out, sizeof out, "%s", o.out ? o.out : "");
    if (!o.out)
        snprintf(out, sizeof out, "runs/gducheck-%s", cfg.name);
    gdu_session s = {0};
    int rc = 2;
    eqs_err err;
    if (!prepare(&s, &o, &cfg, seed))
        goto done;
    rc = 1;
    if (eqs_gdu_check(&s.gdu, eqs_trainer_net(s.tr), &cfg.algorithm, GDU_N_PICK, seed, &err) !=
        EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    printf("gducheck %s: %ld training images (seed %llu), beta %g, T1 %d, K %d, weights %s\n",
           cfg.name, o.batch, (unsigned long long)seed, cfg.algorithm.beta, cfg.algorithm.t1,
           cfg.algorithm.t2, o.weights ? o.weights : "at initialisation");
    printf("free phase: max |s_T1 - s_(T1-1)| = %.3g (Theorem 1 assumes a converged s*)\n",
           eqs_gdu_free_residual(s.gdu));
    print_table(s.gdu, &cfg.model);
    if (write_outputs(s.gdu, &cfg, out, (int32_t)o.batch)) {
        printf("results in %s (gdu.csv, gdu_<layer>.csv, gdu_<layer>.png)\n", out);
        rc = 0;
    }
done:
    session_free(&s);
    return rc;
}
