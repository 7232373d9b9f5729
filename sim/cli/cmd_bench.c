/* cmd_bench.c — `eqsim bench`: training samples/s of an experiment at 1..N threads, the GEMM
 * FLOPs one step really executes, and the fraction of OpenBLAS's own GEMM speed on exactly those
 * shapes (timed in the same run) that the step reaches. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#include "eqs/blas.h"

static void bench_usage(FILE *f)
{
    fputs("usage: eqsim bench EXPERIMENT.yaml [--threads-list 1,2] [--seconds S]\n"
          "                   [--set key=value ...]\n"
          "\n"
          "Times training steps (gradient estimate + optimizer) of the experiment on the first\n"
          "batches of its training set, for each thread count (default 1,2), for about S seconds\n"
          "each (default 3). Prints samples/s, the GEMM FLOPs per sample the step executes, and\n"
          "the fraction of OpenBLAS's GEMM GFLOP/s on the same shapes (timed here, in this run)\n"
          "that the whole step reaches. Also names the machine.\n"
          "\n"
          "An experiment with `hardware:` runs on its analog tiles and hardware neurons. Then the\n"
          "cost of simulating the hardware is measured (first thread count): the experiment on\n"
          "hardware and on ideal tiles take turns, 4 steps each on the same batches, for S\n"
          "seconds, and the median ratio of their step times is printed with its range.\n",
          f);
}

static void print_machine(void)
{
    char line[256], model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            snprintf(model, sizeof model, "%s", colon ? colon + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("machine: %s, %ld cores; %s; eqs_real %s\n", model, cores, eqs_blas_info(),
           EQS_REAL_NAME);
}

typedef struct bench_result {
    double samples_per_s, seconds;
    uint64_t flops;
    int64_t samples;
    eqs_gemm_shape shapes[EQS_GEMM_MAX_SHAPES];
    int32_t n_shapes;
} bench_result;

static bool time_training(eqs_trainer *tr, const eqs_dataset *d, int32_t bs, double seconds,
                          bench_result *r)
{
    int64_t n_batches = d->n / bs;
    if (n_batches < 1) {
        cli_error("bench: the training set has fewer samples (%lld) than a batch (%d)",
                  (long long)d->n, bs);
        return false;
    }
    eqs_real *x = malloc(sizeof(eqs_real) * (size_t)bs * (size_t)d->n_features);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)bs);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)bs);
    eqs_err err;
    bool ok = x && y && idx;
    uint64_t step = 0;
    for (int pass = 0; ok && pass < 2; pass++) { /* pass 0 warms up, pass 1 is timed */
        double limit = pass == 0 ? 0.3 : seconds, t0 = eqs_now_s();
        eqs_gemm_count_enable(pass == 1);
        int64_t done = 0;
        while (ok && (eqs_now_s() - t0 < limit || done < 5)) {
            int64_t b0 = (int64_t)(step % (uint64_t)n_batches) * bs;
            for (int32_t i = 0; i < bs; i++)
                idx[i] = b0 + i;
            eqs_dataset_gather(d, idx, bs, x, y);
            ok = eqs_trainer_step(tr, x, y, bs, step++, NULL, NULL, &err) == EQS_OK;
            done++;
        }
        r->seconds = eqs_now_s() - t0;
        r->samples = done * bs;
    }
    r->flops = eqs_gemm_count_flops();
    r->n_shapes = eqs_gemm_count_shapes(r->shapes, EQS_GEMM_MAX_SHAPES);
    eqs_gemm_count_enable(false);
    r->samples_per_s = (double)r->samples / r->seconds;
    if (!ok)
        cli_print_err(&err);
    free(x);
    free(y);
    free(idx);
    return ok;
}

/* Seconds OpenBLAS needs for the GEMMs of the timed run, each shape timed alone. */
static double gemm_reference_seconds(const bench_result *r)
{
    double total = 0;
    for (int32_t s = 0; s < r->n_shapes; s++) {
        const eqs_gemm_shape *g = &r->shapes[s];
        int32_t lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
        eqs_real *a = calloc((size_t)g->m * (size_t)g->k, sizeof(eqs_real));
        eqs_real *b = calloc((size_t)g->k * (size_t)g->n, sizeof(eqs_real));
        eqs_real *c = calloc((size_t)g->m * (size_t)g->n, sizeof(eqs_real));
        for (int64_t i = 0; a && i < (int64_t)g->m * g->k; i++)
            a[i] = (eqs_real)(0.001 * (double)(i % 997));
        for (int64_t i = 0; b && i < (int64_t)g->k * g->n; i++)
            b[i] = (eqs_real)(0.002 * (double)(i % 991));
        int64_t reps = 0;
        double t0 = eqs_now_s(), dt = 0;
        while (a && b && c && (dt < 0.2 || reps < 3)) {
            eqs_gemm(g->trans_a, g->trans_b, g->m, g->n, g->k, 1, a, lda, b, ldb, 1, c, g->n);
            reps++;
            dt = eqs_now_s() - t0;
        }
        total += reps ? dt / (double)reps * (double)g->calls : 0;
        free(a);
        free(b);
        free(c);
    }
    return total;
}

/* The cost of simulating the hardware: hardware and ideal trainers take turns, ROUND_STEPS
 * steps each on the same batches, for about `seconds` in all, so that both see the same
 * machine (a load that comes and goes shifts both alike; timing one after the other, it shifted
 * the ratio by up to 20 % on a shared machine). Prints the median of the per-round ratios of
 * step times, with the lowest and highest round. */
enum { ROUND_STEPS = 4, MAX_ROUNDS = 4096 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool time_steps(eqs_trainer *tr, const eqs_dataset *d, int32_t bs, uint64_t step0,
                       eqs_real *x, int32_t *y, int64_t *idx, double *seconds)
{
    int64_t n_batches = d->n / bs;
    eqs_err err;
    double t0 = eqs_now_s();
    for (uint64_t step = step0; step < step0 + ROUND_STEPS; step++) {
        int64_t b0 = (int64_t)(step % (uint64_t)n_batches) * bs;
        for (int32_t i = 0; i < bs; i++)
            idx[i] = b0 + i;
        eqs_dataset_gather(d, idx, bs, x, y);
        if (eqs_trainer_step(tr, x, y, bs, step, NULL, NULL, &err) != EQS_OK) {
            cli_print_err(&err);
            return false;
        }
    }
    *seconds = eqs_now_s() - t0;
    return true;
}

static bool bench_hw_ratio(const eqs_experiment_config *cfg, const eqs_dataset *d, double seconds)
{
    eqs_experiment_config ideal_cfg = *cfg;
    ideal_cfg.has_hardware = 0;
    int32_t bs = cfg->training.batch_size;
    eqs_trainer *hw = NULL, *ideal = NULL;
    eqs_err err;
    bool ok = eqs_trainer_create(&hw, cfg, bs, &err) == EQS_OK &&
              eqs_trainer_create(&ideal, &ideal_cfg, bs, &err) == EQS_OK;
    if (!ok)
        cli_print_err(&err);
    eqs_real *x = malloc(sizeof(eqs_real) * (size_t)bs * (size_t)d->n_features);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)bs);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)bs);
    double *ratio = malloc(sizeof(double) * MAX_ROUNDS);
    double t_hw = 0, t_ideal = 0, t_start = eqs_now_s();
    int n = 0;
    ok = ok && x && y && idx && ratio;
    for (int round = -2; ok && n < MAX_ROUNDS && (eqs_now_s() - t_start < seconds || n < 5);
         round++) { /* rounds -2, -1 warm up */
        double a, b;
        uint64_t step0 = (uint64_t)(round + 2) * ROUND_STEPS;
        ok = time_steps(hw, d, bs, step0, x, y, idx, &a) &&
             time_steps(ideal, d, bs, step0, x, y, idx, &b);
        if (ok && round >= 0) {
            ratio[n++] = a / b;
            t_hw += a;
            t_ideal += b;
        }
    }
    if (ok) {
        qsort(ratio, (size_t)n, sizeof(double), cmp_double);
        double steps = (double)n * ROUND_STEPS;
        printf("hardware %s: %.0f samples/s; the same on ideal tiles: %.0f samples/s, taking "
               "turns (%d rounds of %d steps each)\n",
               cfg->hardware.name, steps * bs / t_hw, steps * bs / t_ideal, n, ROUND_STEPS);
        printf("step time ratio hardware/ideal = %.2f (median of the rounds; lowest %.2f, highest "
               "%.2f; all steps together %.2f)\n",
               ratio[n / 2], ratio[0], ratio[n - 1], t_hw / t_ideal);
    }
    free(x);
    free(y);
    free(idx);
    free(ratio);
    eqs_trainer_destroy(hw);
    eqs_trainer_destroy(ideal);
    return ok;
}

/* Creates a trainer for cfg and times it. */
static bool bench_config(const eqs_experiment_config *cfg, const eqs_dataset *train, double seconds,
                         bench_result *r)
{
    eqs_trainer *tr;
    eqs_err err;
    if (eqs_trainer_create(&tr, cfg, cfg->training.batch_size, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    bool ok = time_training(tr, train, cfg->training.batch_size, seconds, r);
    eqs_trainer_destroy(tr);
    return ok;
}

static void print_row(int threads, const bench_result *r)
{
    double ref_s = gemm_reference_seconds(r);
    double gflops = (double)r->flops / r->seconds * 1e-9;
    printf("%-8d %12.0f %14.3f %12.2f %18.2f %9.1f%%\n", threads, r->samples_per_s,
           (double)r->flops / (double)r->samples * 1e-6, gflops, (double)r->flops / ref_s * 1e-9,
           100 * ref_s / r->seconds);
}

static bool parse_thread_list(const char *s, int *list, int *n)
{
    *n = 0;
    while (*s && *n < 16) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256)
            return false;
        list[(*n)++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return false;
    }
    return *n > 0;
}

int cmd_bench(int argc, char **argv)
{
    cli_common c = {0};
    int threads[16] = {1, 2}, n_threads = 2;
    double seconds = 3;
    for (int i = 1; i < argc; i++) {
        int r = cli_parse_common(&c, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--threads-list") == 0 && i + 1 < argc) {
            if (!parse_thread_list(argv[++i], threads, &n_threads)) {
                cli_error("bench: --threads-list expects e.g. 1,2 (got '%s')", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds > 0 && seconds < 3600)) {
                cli_error("bench: --seconds expects a number in (0, 3600)");
                return 2;
            }
        } else if (argv[i][0] != '-' && !c.experiment) {
            c.experiment = argv[i];
        } else {
            cli_error("bench: unexpected argument '%s' (see eqsim bench --help)", argv[i]);
            return 2;
        }
    }
    eqs_experiment_config cfg;
    eqs_dataset train = {0}, test = {0};
    if (!cli_load_experiment(&c, &cfg))
        return 2;
    if (!cli_load_data(&cfg, &train, &test))
        return 1;
    print_machine();
    if (cfg.algorithm.name == EQS_ALGO_PEPITA) /* two forward passes, no T1/T2 */
        printf("experiment %s: pepita, modulation %s, batch %d\n", cfg.name,
               eqs_pepita_modulation_name(cfg.algorithm.pepita_modulation),
               cfg.training.batch_size);
    else
        printf("experiment %s: %s/%s, batch %d, T1=%d, T2=%d\n", cfg.name,
               eqs_algorithm_name(cfg.algorithm.name), eqs_estimator_name(cfg.algorithm.estimator),
               cfg.training.batch_size, cfg.algorithm.t1, cfg.algorithm.t2);
    if (cfg.has_hardware)
        printf("hardware %s (device %s)\n", cfg.hardware.name,
               eqs_device_kind_name(cfg.hardware.device.kind));
    printf("%-8s %12s %14s %12s %18s %10s\n", "threads", "samples/s", "MFLOP/sample", "GFLOP/s",
           "gemm-only GFLOP/s", "fraction");
    int rc = 0;
    for (int t = 0; t < n_threads && rc == 0; t++) {
        bench_result r;
        eqs_blas_set_threads(threads[t]);
        if (!bench_config(&cfg, &train, seconds, &r)) {
            rc = 1;
            break;
        }
        print_row(threads[t], &r);
    }
    if (rc == 0 && cfg.has_hardware) {
        eqs_blas_set_threads(threads[0]);
        if (!bench_hw_ratio(&cfg, &train, seconds))
            rc = 1;
    }
    printf("fraction = time OpenBLAS alone needs for the step's GEMMs (same shapes, timed in "
           "this run) / time of the whole step\n");
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    return rc;
}
