/* cmd_mvm.c — `eqsim mvm`: how far one analog tile's products are from the float products of
 * the weights it was asked to hold (programming, converters, noise, IR drop; docs/tile.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "eqs/blas.h"
#include "eqs/xbar.h"

int cmd_mvm(int argc, char **argv); /* dispatched from main.c */

static void mvm_usage(FILE *f)
{
    fputs("usage: eqsim mvm HWCONFIG.yaml --rows R --cols C [--batch N] [--seed S]\n"
          "                 [--set key=value ...]\n"
          "\n"
          "Creates one analog tile of R outputs x C inputs from the hwconfig (after the --set\n"
          "overrides, e.g. --set periphery.adc_bits=8), programs weights drawn U(-1, 1) x\n"
          "array.w_max through the device model (write-verify), draws N input vectors U(-1, 1)\n"
          "(default N = 64, seed S = 1), and prints the relative Frobenius errors against the\n"
          "float products of the intended weights:\n"
          "  weights  ||W_prog - W|| / ||W||    (programming alone)\n"
          "  mvm      ||Y - X W^T|| / ||X W^T|| (one read: DAC, array, noise, IR drop, ADC)\n"
          "  mvm_t    ||X - Y W|| / ||Y W||     (the transposed read)\n",
          f);
}

typedef struct mvm_opts {
    const char *hwconfig;
    const char *overrides[EQS_MAX_OVERRIDES];
    int n_overrides;
    long rows, cols, batch;
    unsigned long long seed;
} mvm_opts;

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* 0 = parsed, 1 = --help printed, 2 = usage error (message printed). */
static int parse_mvm(int argc, char **argv, mvm_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            mvm_usage(stdout);
            return 1;
        } else if (strcmp(a, "--rows") == 0 && v) {
            ok = parse_long(argv[++i], 1, 1 << 16, &o->rows);
        } else if (strcmp(a, "--cols") == 0 && v) {
            ok = parse_long(argv[++i], 1, 1 << 16, &o->cols);
        } else if (strcmp(a, "--batch") == 0 && v) {
            ok = parse_long(argv[++i], 1, 1 << 16, &o->batch);
        } else if (strcmp(a, "--seed") == 0 && v) {
            char *end;
            o->seed = strtoull(argv[++i], &end, 10);
            ok = end != argv[i] && !*end;
        } else if (strcmp(a, "--set") == 0 && v) {
            if (o->n_overrides == EQS_MAX_OVERRIDES) {
                cli_error("mvm: at most %d --set options", EQS_MAX_OVERRIDES);
                return 2;
            }
            o->overrides[o->n_overrides++] = argv[++i];
        } else if (a[0] != '-' && !o->hwconfig) {
            o->hwconfig = a;
        } else {
            cli_error("mvm: unexpected argument '%s' (see eqsim mvm --help)", a);
            return 2;
        }
        if (!ok) {
            cli_error("mvm: bad value '%s' for %s (see eqsim mvm --help)", argv[i], a);
            return 2;
        }
    }
    if (!o->hwconfig || !o->rows || !o->cols) {
        cli_error("mvm: HWCONFIG, --rows and --cols are required (see eqsim mvm --help)");
        return 2;
    }
    return 0;
}

static void fill_uniform(eqs_real *x, size_t n, double scale, uint64_t seed,
                         eqs_rng_purpose purpose, uint32_t entity)
{
    eqs_rng r;
    eqs_rng_init(&r, seed, purpose, entity);
    for (size_t i = 0; i < n; i++)
        x[i] = (eqs_real)(scale * (2 * eqs_rng_uniform(&r) - 1));
}

static double rel_frobenius(const eqs_real *got, const eqs_real *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static int run_mvm(const mvm_opts *o, const eqs_hw_config *hw)
{
    int32_t r = (int32_t)o->rows, c = (int32_t)o->cols, b = (int32_t)o->batch;
    size_t nw = (size_t)r * c, nx = (size_t)b * c, ny = (size_t)b * r;
    eqs_real *w = calloc(nw, sizeof *w), *wp = calloc(nw, sizeof *wp);
    eqs_real *x = calloc(nx, sizeof *x), *xe = calloc(nx, sizeof *xe), *xt = calloc(nx, sizeof *xt);
    eqs_real *y = calloc(ny, sizeof *y), *ye = calloc(ny, sizeof *ye), *yin = calloc(ny, sizeof *y);
    eqs_tile *t = NULL;
    eqs_err err;
    int rc = 1;
    if (!w || !wp || !x || !xe || !xt || !y || !ye || !yin) {
        cli_error("mvm: out of memory");
        goto done;
    }
    if (eqs_tile_create_analog(&t, r, c, hw, o->seed, 1, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    fill_uniform(w, nw, hw->array.w_max, o->seed, EQS_RNG_INIT_W, 0);
    fill_uniform(x, nx, 1, o->seed, EQS_RNG_TEST_DATA, 1);
    fill_uniform(yin, ny, 1, o->seed, EQS_RNG_TEST_DATA, 2);
    eqs_tile_write(t, w);
    eqs_tile_read(t, wp);
    eqs_gemm(false, true, b, r, c, 1, x, c, w, c, 0, ye, r);    /* Y_exact = X W^T */
    eqs_gemm(false, false, b, c, r, 1, yin, r, w, c, 0, xe, c); /* X_exact = Y W */
    eqs_tile_mvm(t, x, b, y, false);
    eqs_tile_mvm_t(t, yin, b, xt, false);
    printf("tile %d x %d (%s), batch %d, seed %llu, hwconfig %s\n", r, c, hw->name, b, o->seed,
           o->hwconfig);
    printf("weights  rel. error %.6f\n", rel_frobenius(wp, w, nw));
    printf("mvm      rel. error %.6f\n", rel_frobenius(y, ye, ny));
    printf("mvm_t    rel. error %.6f\n", rel_frobenius(xt, xe, nx));
    rc = 0;
done:
    eqs_tile_destroy(t);
    free(w), free(wp), free(x), free(xe), free(xt), free(y), free(ye), free(yin);
    return rc;
}

int cmd_mvm(int argc, char **argv)
{
    mvm_opts o = {.batch = 64, .seed = 1};
    int p = parse_mvm(argc, argv, &o);
    if (p)
        return p == 1 ? 0 : 2;
    eqs_hw_config hw;
    eqs_err err;
    if (eqs_hwconfig_load(&hw, o.hwconfig, o.overrides, o.n_overrides, &err) != EQS_OK) {
        cli_print_err(&err);
        return 2; /* a bad hwconfig is a usage error, like a bad experiment for train */
    }
    eqs_blas_set_threads(1);
    return run_mvm(&o, &hw);
}
