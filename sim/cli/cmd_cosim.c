/* cmd_cosim.c — `eqsim cosim`: trains on the hardware path with the digital update unit
 * (hardware.update.digital: golden) and computes every digital update three ways — the
 * verilated RTL (through rtl/shim/eqs_rtl_upd.h, when built with EQS_BUILD_RTL), the golden
 * model (applied) and in float — then compares the test accuracy with a float-update run of
 * the same steps and seed. docs/rtl.md, "Co-simulation". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef EQS_HAVE_RTL
#include "eqs_rtl_upd.h"
#endif

#define HIST_LO      (-4.0) /* error histogram: [-4, 4] output LSBs in bins of 1/100 */
#define HIST_BINS    800
#define MAX_VARIANTS 16

static void cosim_usage(FILE *f)
{
    fputs("usage: eqsim cosim EXPERIMENT.yaml [--steps N] [--out DIR] [--no-rtl]\n"
          "                   [--widths W,W,..] [--scale-widths S,S,..] [--no-float-run]\n"
          "                   [--set key=value ...] [--threads N]\n"
          "\n"
          "Trains N steps (default 200) on the experiment's hardware with the digital update\n"
          "unit (hardware.update.digital: golden is set if absent). Every digital update is\n"
          "computed by the verilated RTL, by the golden model (applied) and in float. Reports\n"
          "RTL vs golden mismatches, the (fixed - float) error in output LSBs against the bound\n"
          "eqs_updunit_error_bound, and the test accuracy against a float-update run (optimizer\n"
          "-> tile, same steps and seed). Exit 1 on any mismatch or bound violation.\n"
          "\n"
          "  --steps N            training steps (batches), default 200\n"
          "  --out DIR            run directory (default runs/cosim-<name>): cosim.csv (per\n"
          "                       transaction), error_hist.csv, widths.csv, summary.txt\n"
          "  --no-rtl             golden vs float only (any build, any widths)\n"
          "  --widths LIST        also train with these update-unit state widths (state_f keeps\n"
          "                       the default's integer bits); RTL only at the RTL's own width\n"
          "  --scale-widths LIST  likewise for the scale mantissa width\n"
          "  --no-float-run       skip the float-update reference run\n"
          "\n"
          "Needs a build with -DEQS_BUILD_RTL=ON unless --no-rtl is given.\n",
          f);
}

typedef struct cosim_opts {
    cli_common common;
    int64_t steps;
    const char *out;
    bool no_rtl, no_float;
    int32_t widths[MAX_VARIANTS], n_widths;
    int32_t scale_widths[MAX_VARIANTS], n_scale_widths;
} cosim_opts;

/* Running statistics of one variant. */
typedef struct cosim_stats {
    int64_t transactions, outputs;
    int64_t rtl_checked, rtl_mismatches;
    int64_t violations, clipped_transactions;
    double max_err, sum_sq, worst_ratio;
    int64_t hist[HIST_BINS + 2]; /* underflow, bins, overflow */
    double rtl_seconds;
    uint64_t rtl_cycles;
} cosim_stats;

#ifdef EQS_HAVE_RTL
#define N_SLOTS (2 * EQS_MAX_LAYERS)
#endif

typedef struct cosim_ctx {
    FILE *csv;
    int64_t step;
    int32_t variant;
    bool use_rtl;
    cosim_stats st;
    double *ref;
    int32_t *qa, *qb, *qc, *qd, *rtl_out;
    int64_t cap_ref, cap_post, cap_pre;
    const eqs_model_config *model;
    const char *out_dir;
#ifdef EQS_HAVE_RTL
    eqs_rtl_upd *rtl[N_SLOTS];
#endif
    bool failed;
} cosim_ctx;

static bool grow(void **p, int64_t *cap, int64_t need, size_t size)
{
    if (need <= *cap)
        return true;
    void *q = realloc(*p, size * (size_t)need);
    if (!q)
        return false;
    *p = q;
    *cap = need;
    return true;
}

static double abs_max(const eqs_real *x, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; x && i < n; i++)
        m = fabs((double)x[i]) > m ? fabs((double)x[i]) : m;
    return m;
}

#ifdef EQS_HAVE_RTL
static void quantize(const eqs_updunit_format *f, int sg, const eqs_real *x, int64_t n, int32_t *q)
{
    for (int64_t i = 0; i < n; i++)
        q[i] = eqs_updunit_quantize(f, sg, (double)x[i], NULL);
}

/* The same transaction through the verilated unit of this array (created at its first
 * transaction from the golden unit's seed: lane 0's generator before any update). */
static int64_t rtl_check(cosim_ctx *c, const eqs_digital_event *ev)
{
    const eqs_updunit *u = ev->unit;
    const eqs_updunit_batch *bt = ev->batch;
    int slot = 2 * ev->layer + (ev->bias ? 1 : 0);
    char msg[256];
    if (!c->rtl[slot] && eqs_rtl_upd_create(&c->rtl[slot], u->kind, u->lfsr[0], msg, sizeof msg)) {
        cli_error("%s", msg);
        c->failed = true;
        return 0;
    }
    int64_t npost = (int64_t)bt->n * bt->rows, npre = (int64_t)bt->n * bt->cols;
    int64_t total = (int64_t)bt->rows * bt->cols;
    if (!grow((void **)&c->qa, &c->cap_post, npost, sizeof(int32_t)) ||
        !(c->qc = realloc(c->qc, sizeof(int32_t) * (size_t)c->cap_post)) ||
        !grow((void **)&c->qb, &c->cap_pre, npre, sizeof(int32_t)) ||
        !(c->qd = realloc(c->qd, sizeof(int32_t) * (size_t)c->cap_pre)) ||
        !(c->rtl_out = realloc(c->rtl_out, sizeof(int32_t) * (size_t)total))) {
        cli_error("cosim: out of memory");
        c->failed = true;
        return 0;
    }
    const eqs_updunit_format *f = &u->fmt;
    if (bt->a)
        quantize(f, u->cfg.post_signed, bt->a, npost, c->qa);
    if (bt->c)
        quantize(f, u->cfg.post_signed, bt->c, npost, c->qc);
    if (bt->b)
        quantize(f, u->cfg.pre_signed, bt->b, npre, c->qb);
    if (bt->d)
        quantize(f, u->cfg.pre_signed, bt->d, npre, c->qd);
    double t0 = eqs_now_s();
    uint64_t cy0 = eqs_rtl_upd_cycles(c->rtl[slot]);
    if (ev->reseeded) /* the controller's seed load at the start of the step */
        eqs_rtl_upd_reseed(c->rtl[slot], ev->seed);
    if (eqs_rtl_upd_run_layer(c->rtl[slot], &u->cfg, bt->n, bt->rows, bt->cols,
                              bt->a ? c->qa : NULL, bt->b ? c->qb : NULL, bt->c ? c->qc : NULL,
                              bt->d ? c->qd : NULL, c->rtl_out, msg, sizeof msg)) {
        cli_error("%s", msg);
        c->failed = true;
        return 0;
    }
    c->st.rtl_seconds += eqs_now_s() - t0;
    c->st.rtl_cycles += eqs_rtl_upd_cycles(c->rtl[slot]) - cy0;
    int64_t bad = 0;
    for (int64_t i = 0; i < total; i++)
        bad += c->rtl_out[i] != ev->out[i];
    if (bad && c->st.rtl_mismatches == 0)
        for (int64_t i = 0; i < total; i++)
            if (c->rtl_out[i] != ev->out[i]) {
                cli_error("MISMATCH step %lld %s.%s synapse %lld: rtl %d golden %d",
                          (long long)c->step, c->model->layers[ev->layer].name,
                          ev->bias ? "bias" : "weight", (long long)i, (int)c->rtl_out[i],
                          (int)ev->out[i]);
                break;
            }
    c->st.rtl_checked += total;
    c->st.rtl_mismatches += bad;
    return bad;
}
#endif

static void observe(void *ctx, const eqs_digital_event *ev)
{
    cosim_ctx *c = ctx;
    const eqs_updunit_batch *bt = ev->batch;
    int64_t total = (int64_t)bt->rows * bt->cols;
    eqs_err err;
    if (!grow((void **)&c->ref, &c->cap_ref, total, sizeof(double))) {
        cli_error("cosim: out of memory");
        c->failed = true;
        return;
    }
    if (eqs_updunit_layer_float(ev->unit, bt, ev->k, c->ref, &err) != EQS_OK) {
        cli_print_err(&err);
        c->failed = true;
        return;
    }
    int64_t npost = (int64_t)bt->n * bt->rows, npre = (int64_t)bt->n * bt->cols;
    double amax = abs_max(bt->a, npost);
    double m2 = abs_max(bt->c, npost), m3 = abs_max(bt->b, npre), m4 = abs_max(bt->d, npre);
    amax = fmax(fmax(amax, m2), fmax(m3, m4));
    double bound = eqs_updunit_error_bound(ev->unit, ev->k, bt->n, amax);
    double worst = 0, sq = 0;
    int64_t viol = 0;
    for (int64_t i = 0; i < total; i++) {
        double e = (double)ev->out[i] - c->ref[i];
        worst = fmax(worst, fabs(e));
        sq += e * e;
        viol += fabs(e) > bound;
        int64_t bin = (int64_t)floor((e - HIST_LO) * 100.0);
        c->st.hist[bin < 0 ? 0 : bin >= HIST_BINS ? HIST_BINS + 1 : bin + 1]++;
    }
    int64_t mism = -1;
#ifdef EQS_HAVE_RTL
    if (c->use_rtl)
        mism = rtl_check(c, ev);
#endif
    c->st.transactions++;
    c->st.outputs += total;
    c->st.max_err = fmax(c->st.max_err, worst);
    c->st.sum_sq += sq;
    if (ev->n_clipped > 0) {
        c->st.clipped_transactions++; /* the bound assumes operands inside the format */
    } else {
        c->st.violations += viol;
        c->st.worst_ratio = fmax(c->st.worst_ratio, worst / bound);
    }
    if (c->csv)
        fprintf(c->csv, "%d,%lld,%s,%s,%d,%d,%d,%d,%.9g,%lld,%lld,%.6g,%.6g,%.6g,%lld\n",
                (int)c->variant, (long long)c->step, c->model->layers[ev->layer].name,
                ev->bias ? "bias" : "weight", (int)ev->unit->cfg.mode, (int)bt->n, (int)bt->rows,
                (int)bt->cols, ev->k, (long long)ev->n_clipped, (long long)mism, worst,
                sqrt(sq / (double)total), bound, (long long)(ev->n_clipped > 0 ? 0 : viol));
}

static double hist_quantile(const cosim_stats *s, double q)
{
    int64_t n = 0, want = (int64_t)ceil(q * (double)s->outputs), acc = 0;
    for (int i = 0; i < HIST_BINS + 2; i++)
        n += s->hist[i];
    if (n == 0)
        return 0;
    for (int i = 0; i < HIST_BINS + 2; i++) {
        acc += s->hist[i];
        if (acc >= want)
            return HIST_LO + i / 100.0; /* the bin's upper edge (underflow: HIST_LO) */
    }
    return -HIST_LO;
}

/* Trains `steps` batches in the order `eqsim train` takes them, then the test accuracy. */
static bool train_and_eval(const eqs_experiment_config *cfg, const eqs_dataset *train,
                           const eqs_dataset *test, int64_t steps, cosim_ctx *c, double *acc,
                           double *seconds)
{
    int32_t bs = cfg->training.batch_size;
    int32_t ebs = cfg->training.eval_batch_size > 0 ? cfg->training.eval_batch_size : bs;
    int32_t max_batch = bs > ebs ? bs : ebs;
    eqs_trainer *tr = NULL;
    eqs_err err;
    if (eqs_trainer_create(&tr, cfg, max_batch, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (c && eqs_trainer_digital(tr))
        eqs_digital_set_observer(eqs_trainer_digital(tr), observe, c);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)train->n);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)max_batch);
    eqs_real *x = malloc(sizeof(eqs_real) * (size_t)max_batch * (size_t)train->n_features);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)max_batch);
    bool ok = perm && idx && x && y;
    if (!ok)
        cli_error("cosim: out of memory");
    double t0 = eqs_now_s();
    int64_t per_epoch = (train->n + bs - 1) / bs;
    cli_progress bar;
    cli_progress_start(&bar, c ? "cosim (digital)" : "float run", steps);
    for (int64_t s = 0; ok && s < steps; s++) {
        int32_t epoch = (int32_t)(s / per_epoch);
        int64_t b0 = (s % per_epoch) * bs;
        if (s % per_epoch == 0) {
            eqs_optim_set_epoch(eqs_trainer_optim(tr), epoch);
            eqs_trainer_set_epoch(tr, epoch);
            eqs_permutation(perm, train->n, cfg->training.seed, (uint32_t)epoch);
        }
        int32_t nb = (int32_t)(train->n - b0 < bs ? train->n - b0 : bs);
        eqs_dataset_gather(train, perm + b0, nb, x, y);
        if (c)
            c->step = s;
        double l;
        int32_t nc;
        if (eqs_trainer_step(tr, x, y, nb, (uint64_t)s, &l, &nc, &err) != EQS_OK) {
            cli_print_err(&err);
            ok = false;
        }
        if (c && c->failed)
            ok = false;
        cli_progress_update(&bar, s + 1, NULL);
    }
    cli_progress_end(&bar);
    *seconds = eqs_now_s() - t0;
    int64_t correct = 0;
    for (int64_t b0 = 0; ok && b0 < test->n; b0 += ebs) {
        int32_t nb = (int32_t)(test->n - b0 < ebs ? test->n - b0 : ebs);
        for (int32_t i = 0; i < nb; i++)
            idx[i] = b0 + i;
        eqs_dataset_gather(test, idx, nb, x, y);
        double l;
        int32_t nc;
        eqs_trainer_infer(tr, x, y, nb, &l, &nc);
        correct += nc;
    }
    *acc = test->n > 0 ? (double)correct / (double)test->n : 0;
    if (ok && c && c->variant == 0) { /* the ledger of the checked run, digital rows included */
        char path[EQS_PATH_LEN + 32];
        snprintf(path, sizeof path, "%s/counters.csv", c->out_dir);
        if (eqs_trainer_ledger_write_csv(tr, path, &err) != EQS_OK) {
            cli_print_err(&err);
            ok = false;
        }
    }
    free(perm);
    free(idx);
    free(x);
    free(y);
    eqs_trainer_destroy(tr);
    return ok;
}

static int parse_list(const char *s, int32_t *out, int32_t max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 2 || v > 31)
            return -1;
        out[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return *s ? -1 : n;
}

static bool parse_args(cosim_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->steps = 200;
    for (int i = 1; i < argc; i++) {
        int r = cli_parse_common(&o->common, argc, argv, &i);
        if (r < 0)
            return false;
        if (r > 0)
            continue;
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cosim_usage(stdout);
            exit(0);
        } else if (strcmp(a, "--steps") == 0 && has_val) {
            char *end;
            o->steps = strtoll(argv[++i], &end, 10);
            if (*end || o->steps < 1) {
                cli_error("--steps: expected a positive integer, got '%s'", argv[i]);
                return false;
            }
        } else if (strcmp(a, "--out") == 0 && has_val) {
            o->out = argv[++i];
        } else if (strcmp(a, "--no-rtl") == 0) {
            o->no_rtl = true;
        } else if (strcmp(a, "--no-float-run") == 0) {
            o->no_float = true;
        } else if ((strcmp(a, "--widths") == 0 || strcmp(a, "--scale-widths") == 0) && has_val) {
            bool sw = strcmp(a, "--scale-widths") == 0;
            int n = parse_list(argv[++i], sw ? o->scale_widths : o->widths, MAX_VARIANTS - 1);
            if (n <= 0) {
                cli_error("%s: expected a comma-separated list of widths 2..31, got '%s'", a,
                          argv[i]);
                return false;
            }
            *(sw ? &o->n_scale_widths : &o->n_widths) = n;
        } else if (a[0] == '-') {
            cli_error("cosim: unknown option '%s' (eqsim cosim --help)", a);
            return false;
        } else if (!o->common.experiment) {
            o->common.experiment = a;
        } else {
            cli_error("cosim: unexpected argument '%s'", a);
            return false;
        }
    }
    if (!o->common.experiment) {
        cosim_usage(stderr);
        return false;
    }
    return true;
}

typedef struct variant {
    int32_t state_w, state_f, scale_w; /* resolved */
    eqs_update_config uc;
    bool rtl;
    cosim_stats st;
    double acc, seconds;
    bool ok;
} variant;

static void print_variant(FILE *f, const variant *v, double float_acc, bool have_float)
{
    const cosim_stats *s = &v->st;
    double rms = s->outputs ? sqrt(s->sum_sq / (double)s->outputs) : 0;
    fprintf(f, "state_w %d (f %d), scale_w %d: %lld transactions, %lld updates; rtl: %s",
            (int)v->state_w, (int)v->state_f, (int)v->scale_w, (long long)s->transactions,
            (long long)s->outputs, v->rtl ? "" : "not run");
    if (v->rtl)
        fprintf(f, "%lld checked, %lld mismatches", (long long)s->rtl_checked,
                (long long)s->rtl_mismatches);
    fprintf(f,
            "\n  |fixed - float| (output LSBs): max %.4f, rms %.4f, quantiles of e: p0.1 %.2f "
            "p50 %.2f p99.9 %.2f; bound violations %lld (worst error/bound %.3f; %lld "
            "transactions with clipped operands not checked)\n",
            s->max_err, rms, hist_quantile(s, 0.001), hist_quantile(s, 0.5),
            hist_quantile(s, 0.999), (long long)s->violations, s->worst_ratio,
            (long long)s->clipped_transactions);
    fprintf(f, "  test accuracy: fixed-point %.2f%%", 100 * v->acc);
    if (have_float)
        fprintf(f, ", float updates %.2f%% (difference %+.2f points)", 100 * float_acc,
                100 * (v->acc - float_acc));
    if (v->rtl && s->rtl_seconds > 0)
        fprintf(f, "\n  verilated unit: %.3g synapse updates/s, %.3g cycles/s",
                (double)s->rtl_checked / s->rtl_seconds, (double)s->rtl_cycles / s->rtl_seconds);
    fprintf(f, "  (train %.1f s)\n", v->seconds);
}

int cmd_cosim(int argc, char **argv)
{
    cosim_opts o;
    if (!parse_args(&o, argc, argv))
        return 2;
#ifndef EQS_HAVE_RTL
    if (!o.no_rtl) {
        cli_error("cosim: this eqsim was built without the verilated RTL units; rebuild with "
                  "cmake -DEQS_BUILD_RTL=ON (needs Verilator), or pass --no-rtl to compare the "
                  "golden model with float only");
        return 2;
    }
#endif
    eqs_experiment_config *cfg = malloc(sizeof *cfg);
    if (!cfg || !cli_load_experiment(&o.common, cfg)) {
        free(cfg);
        return 2;
    }
    int rc = 2;
    if (!cfg->has_hardware) {
        cli_error("cosim: %s has no hardware: section; the digital update path programs analog "
                  "tiles (e.g. hardware: ../hwconfigs/ideal.yaml)",
                  o.common.experiment);
        free(cfg);
        return 2;
    }
    if (cfg->hardware.update.digital == EQS_DIGITAL_NONE) {
        printf("cosim: hardware.update.digital was none; using golden\n");
        cfg->hardware.update.digital = EQS_DIGITAL_GOLDEN;
    }
    eqs_dataset train = {0}, test = {0};
    if (!cli_load_data(cfg, &train, &test)) {
        free(cfg);
        return 2;
    }
    char out[EQS_PATH_LEN];
    snprintf(out, sizeof out, "%s", o.out ? o.out : "");
    if (!o.out)
        snprintf(out, sizeof out, "runs/cosim-%s", cfg->name);
    eqs_err err;
    if (eqs_mkdir_p(out, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    char path[EQS_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/cosim.csv", out);
    cosim_ctx *c = calloc(1, sizeof *c);
    variant *vs = calloc(2 * MAX_VARIANTS + 1, sizeof *vs);
    if (!c || !vs) {
        cli_error("cosim: out of memory");
        free(c);
        free(vs);
        goto done;
    }
    c->out_dir = out;
    c->csv = fopen(path, "w");
    if (!c->csv) {
        cli_error("%s: cannot write", path);
        free(c);
        free(vs);
        goto done;
    }
    fputs("variant,step,layer,array,mode,n,rows,cols,k,clipped,rtl_mismatches,max_abs_err,"
          "rms_err,bound,violations\n",
          c->csv);
    /* the variants: the config's own, then each --widths / --scale-widths value */
    int nv = 0;
    vs[nv++].uc = cfg->hardware.update;
    for (int i = 0; i < o.n_widths; i++) {
        vs[nv].uc = cfg->hardware.update;
        vs[nv].uc.digital_state_w = o.widths[i];
        vs[nv++].uc.digital_state_f = 0;
    }
    for (int i = 0; i < o.n_scale_widths; i++) {
        vs[nv].uc = cfg->hardware.update;
        vs[nv++].uc.digital_scale_w = o.scale_widths[i];
    }
    eqs_updunit_kind kind =
        cfg->algorithm.name == EQS_ALGO_PEPITA ? EQS_UPDUNIT_PEPITA : EQS_UPDUNIT_EP;
    eqs_updunit_format def;
    eqs_updunit_format_default(kind, &def);
    bool all_ok = true;
    for (int i = 0; i < nv; i++) {
        variant *v = &vs[i];
        eqs_updunit_format f;
        if (eqs_digital_resolve_format(kind, &v->uc, &f, &err) != EQS_OK) {
            cli_print_err(&err);
            all_ok = false;
            break;
        }
        v->state_w = f.state_w, v->state_f = f.state_f, v->scale_w = f.scale_w;
        v->rtl = !o.no_rtl && memcmp(&f, &def, sizeof f) == 0;
        eqs_experiment_config *vc = malloc(sizeof *vc);
        if (!vc) {
            all_ok = false;
            break;
        }
        *vc = *cfg;
        vc->hardware.update = v->uc;
        memset(&c->st, 0, sizeof c->st);
        c->variant = i;
        c->use_rtl = v->rtl;
        c->model = &vc->model;
        printf("cosim variant %d: state_w %d (f %d), scale_w %d, %lld steps%s\n", i,
               (int)v->state_w, (int)v->state_f, (int)v->scale_w, (long long)o.steps,
               v->rtl ? ", RTL checked" : "");
        fflush(stdout);
        v->ok = train_and_eval(vc, &train, &test, o.steps, c, &v->acc, &v->seconds);
        v->st = c->st;
#ifdef EQS_HAVE_RTL
        for (int s = 0; s < N_SLOTS; s++) {
            eqs_rtl_upd_destroy(c->rtl[s]);
            c->rtl[s] = NULL;
        }
#endif
        free(vc);
        all_ok = all_ok && v->ok;
        if (!v->ok)
            break;
    }
    double float_acc = 0, float_s = 0;
    bool have_float = false;
    if (all_ok && !o.no_float) {
        eqs_experiment_config *fc = malloc(sizeof *fc);
        if (fc) {
            *fc = *cfg;
            fc->hardware.update.digital = EQS_DIGITAL_NONE;
            have_float = train_and_eval(fc, &train, &test, o.steps, NULL, &float_acc, &float_s);
            all_ok = all_ok && have_float;
            free(fc);
        }
    }
    fclose(c->csv);
    /* the histogram of the first variant, the width table, the summary */
    snprintf(path, sizeof path, "%s/error_hist.csv", out);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("err_lo,err_hi,count\n", f);
        for (int b = 0; b < HIST_BINS + 2; b++)
            if (vs[0].st.hist[b])
                fprintf(f, "%.2f,%.2f,%lld\n", b == 0 ? -INFINITY : HIST_LO + (b - 1) / 100.0,
                        b == HIST_BINS + 1 ? INFINITY : HIST_LO + b / 100.0,
                        (long long)vs[0].st.hist[b]);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/widths.csv", out);
    f = fopen(path, "w");
    if (f) {
        fputs("state_w,state_f,scale_w,steps,acc_fixed,acc_float,diff_points,max_abs_err,rms_err,"
              "violations,rtl_mismatches\n",
              f);
        for (int i = 0; i < nv; i++)
            fprintf(f, "%d,%d,%d,%lld,%.4f,%.4f,%.2f,%.4f,%.4f,%lld,%lld\n", (int)vs[i].state_w,
                    (int)vs[i].state_f, (int)vs[i].scale_w, (long long)o.steps, vs[i].acc,
                    have_float ? float_acc : NAN, have_float ? 100 * (vs[i].acc - float_acc) : NAN,
                    vs[i].st.max_err,
                    vs[i].st.outputs ? sqrt(vs[i].st.sum_sq / (double)vs[i].st.outputs) : 0,
                    (long long)vs[i].st.violations,
                    vs[i].rtl ? (long long)vs[i].st.rtl_mismatches : -1LL);
        fclose(f);
    }
    int64_t mism = 0, viol = 0, checked = 0;
    for (int i = 0; i < nv; i++) {
        mism += vs[i].st.rtl_mismatches;
        viol += vs[i].st.violations;
        checked += vs[i].st.rtl_checked;
    }
    snprintf(path, sizeof path, "%s/summary.txt", out);
    FILE *sum = fopen(path, "w");
    for (int pass = 0; pass < 2; pass++) {
        FILE *to = pass == 0 ? stdout : sum;
        if (!to)
            continue;
        fprintf(to, "cosim %s: %lld steps, batch %d, seed %llu, hardware %s, rounding %s\n",
                cfg->name, (long long)o.steps, (int)cfg->training.batch_size,
                (unsigned long long)cfg->training.seed, cfg->hardware.name,
                cfg->hardware.update.digital_rounding == EQS_DIGITAL_NEAREST ? "nearest"
                                                                             : "stochastic");
        for (int i = 0; i < nv; i++)
            print_variant(to, &vs[i], float_acc, have_float);
        if (have_float)
            fprintf(to, "float-update run: test accuracy %.2f%% (train %.1f s)\n", 100 * float_acc,
                    float_s);
        fprintf(to,
                "rtl vs golden: %lld mismatches in %lld updates%s; error bound: %lld violations; "
                "%s\n",
                (long long)mism, (long long)checked, checked ? "" : " (RTL not run)",
                (long long)viol, all_ok && mism == 0 && viol == 0 ? "PASS" : "FAIL");
    }
    if (sum)
        fclose(sum);
    printf("cosim: wrote %s/{cosim.csv,error_hist.csv,widths.csv,summary.txt}\n", out);
    rc = all_ok && mism == 0 && viol == 0 ? 0 : 1;
    free(c->ref);
    free(c->qa);
    free(c->qb);
    free(c->qc);
    free(c->qd);
    free(c->rtl_out);
    free(c);
    free(vs);
done:
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    free(cfg);
    return rc;
}
