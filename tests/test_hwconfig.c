/* test_hwconfig.c — hardware configs: every preset in hwconfigs/ loads and round-trips, units
 * parse exactly and wrong or missing ones fail with messages naming the key and the value,
 * validation errors, `--set` overrides, and an experiment's `hardware:` key (a path or a map)
 * through load → write → load. Scratch YAML goes to a mkdtemp folder. */
#define _XOPEN_SOURCE 700 /* mkdtemp(), PATH_MAX */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sim/config/schema.h" /* cfg_parse_quantity: units the structs have no field for */
#include "eqs_test.h"

#include "eqs/config.h"

static char scratch_dir[256];

/* <scratch_dir>/<name> holding text; the path is in one of a few rotating buffers. */
static const char *scratch(const char *name, const char *text)
{
    static char paths[4][600];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", scratch_dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
    fclose(f);
    return p;
}

/* Removes the scratch folder's files (one level of subfolders), then the folder. */
static void clear_dir(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    char p[PATH_MAX + 256];
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof p)
            continue;
        if (remove(p) != 0 && depth > 0)
            clear_dir(p, depth - 1);
    }
    if (d)
        closedir(d);
    if (rmdir(dir) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* ---- comparing configs ------------------------------------------------------------------- */

#define SAME(field) CHECK_MSG(a->field == b->field, "%s differs (%s)", #field, what)
#define SAME_MEM(field)                                                                            \
    CHECK_MSG(memcmp(&a->field, &b->field, sizeof a->field) == 0, "%s differs (%s)", #field, what)

static void check_same_device(const eqs_device_config *a, const eqs_device_config *b,
                              const char *what)
{
    SAME(kind);
    SAME(g_min_sie);
    SAME(g_max_sie);
    SAME(n_states);
    SAME(d2d_step);
    SAME(d2d_bounds);
    SAME(up_down);
    SAME(d2d_up_down);
    SAME(c2c);
    SAME(read_noise_rel);
    SAME(read_noise_sie);
    SAME(stuck_off_frac);
    SAME(stuck_on_frac);
    SAME(endurance_pulses);
    SAME_MEM(p);
    SAME(n_piecewise);
    SAME_MEM(piecewise_up);
    SAME_MEM(piecewise_down);
}

/* Everything but name, description, sources and source_path. */
static void check_same_machine(const eqs_hw_config *a, const eqs_hw_config *b, const char *what)
{
    check_same_device(&a->device, &b->device, what);
    SAME(array.max_rows);
    SAME(array.max_cols);
    SAME(array.w_max);
    SAME(array.refresh_threshold);
    SAME(array.r_wire_ohm);
    SAME(array.v_read_v);
    SAME(array.t_read_s);
    SAME(array.t_pulse_s);
    SAME(array.v_pulse_v);
    SAME(periphery.dac_bits);
    SAME(periphery.dac_range);
    SAME(periphery.adc_bits);
    SAME(periphery.adc_range_mode);
    SAME(periphery.adc_range);
    SAME(periphery.out_noise);
    SAME(periphery.exact_read_noise);
    SAME(update.mode);
    SAME(update.max_pulses);
    SAME(update.bl);
    SAME(update.one_sided);
    SAME(neuron.bits);
    SAME(neuron.dynamics);
    SAME(neuron.tau_s);
    SAME(neuron.dt_s);
    SAME(neuron.settle_tol);
    SAME(neuron.t_step_s);
}

static void check_same_hw(const eqs_hw_config *a, const eqs_hw_config *b, const char *what)
{
    CHECK_MSG(strcmp(a->name, b->name) == 0, "name differs (%s)", what);
    CHECK_MSG(strcmp(a->description, b->description) == 0, "description differs (%s)", what);
    SAME(n_sources);
    for (int i = 0; i < a->n_sources && i < EQS_HW_MAX_SRC; i++)
        CHECK_MSG(strcmp(a->sources[i], b->sources[i]) == 0, "sources.%d differs (%s)", i, what);
    check_same_machine(a, b, what);
}

/* load → write → load gives the same struct. */
static void hw_round_trip(const char *path, const char *const *ov, int n_ov)
{
    eqs_hw_config *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    eqs_err err = {0};
    char out[600];
    snprintf(out, sizeof out, "%s/written.yaml", scratch_dir);
    CHECK_OK(eqs_hwconfig_load(a, path, ov, n_ov, &err), err);
    FILE *f = err.code == EQS_OK ? fopen(out, "w") : NULL;
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(eqs_hwconfig_write(a, f, &err), err);
        fclose(f);
        CHECK_OK(eqs_hwconfig_load(b, out, NULL, 0, &err), err);
        check_same_hw(a, b, path);
    }
    free(a);
    free(b);
}

/* ---- the presets ------------------------------------------------------------------------- */

static void test_presets(void)
{
    const char *src = getenv("EQS_SOURCE_DIR");
    char dir[PATH_MAX], path[PATH_MAX + 256];
    if (!src) {
        fprintf(stderr, "EQS_SOURCE_DIR not set: presets not tested\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/hwconfigs", src);
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    int n = 0, has_ideal = 0;
    eqs_hw_config *hw = malloc(sizeof *hw);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        eqs_err err = {0};
        CHECK_MSG(eqs_hwconfig_load(hw, path, NULL, 0, &err) == EQS_OK, "%s: %s", path, err.msg);
        /* each preset is named after its file and cites its sources */
        CHECK_MSG(strncmp(hw->name, e->d_name, len - 5) == 0 && hw->name[len - 5] == '\0',
                  "%s: name '%s'", path, hw->name);
        CHECK_MSG(hw->n_sources >= 1 && hw->description[0], "%s: no sources or description", path);
        CHECK(strstr(hw->source_path, e->d_name) != NULL);
        hw_round_trip(path, NULL, 0);
        has_ideal |= strcmp(e->d_name, "ideal.yaml") == 0;
        n++;
    }
    if (d)
        closedir(d);
    CHECK_MSG(n >= 7 && has_ideal, "%d presets in %s (want ideal + at least 6)", n, dir);

    /* ideal.yaml is eqs_hw_config_default() written out */
    eqs_hw_config def;
    eqs_hw_config_default(&def);
    eqs_err err = {0};
    snprintf(path, sizeof path, "%s/ideal.yaml", dir);
    CHECK_OK(eqs_hwconfig_load(hw, path, NULL, 0, &err), err);
    check_same_machine(hw, &def, "ideal.yaml vs eqs_hw_config_default");
    free(hw);
}

/* ---- units ------------------------------------------------------------------------------- */

static void check_qty(const char *text, const char *unit, double want)
{
    double v = -1;
    const char *other = NULL;
    qty_status q = cfg_parse_quantity(text, unit, &v, &other);
    CHECK_MSG(q == QTY_OK && v == want, "'%s' [%s]: status %d, value %.17g (want %.17g)", text,
              unit, (int)q, v, want);
}

static void test_quantities(void)
{
    check_qty("25 uS", "S", 25e-6);
    check_qty("25uS", "S", 25e-6);
    check_qty("25 \xc2\xb5S", "S", 25e-6); /* MICRO SIGN */
    check_qty("25 \xce\xbcS", "S", 25e-6); /* GREEK SMALL LETTER MU */
    check_qty("0.1 mS", "S", 1e-4);
    check_qty("100 nS", "S", 1e-7);
    check_qty("2.5e-05 S", "S", 2.5e-5);
    check_qty("2.5e1 uS", "S", 25e-6);
    check_qty("-3 S", "S", -3);
    check_qty("50 ns", "s", 50e-9);
    check_qty("1 us", "s", 1e-6);
    check_qty("20 s", "s", 20);
    check_qty("3.16 ns", "s", 3.16e-9);
    check_qty("0.35 ohm", "ohm", 0.35);
    check_qty("1 kohm", "ohm", 1000);
    check_qty("1 k\xce\xa9", "ohm", 1000); /* OHM as the Greek capital omega */
    check_qty("2 pJ", "J", 2e-12);
    check_qty("0.4005 V", "V", 0.4005);
    double v;
    const char *other = NULL;
    CHECK(cfg_parse_quantity("25", "S", &v, &other) == QTY_NO_UNIT);
    CHECK(cfg_parse_quantity("50 ns", "S", &v, &other) == QTY_WRONG_UNIT && other &&
          strcmp(other, "s") == 0);
    CHECK(cfg_parse_quantity("25 uX", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("nan S", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("inf S", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("0x10 S", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("1e999 S", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("S", "S", &v, &other) == QTY_BAD);
    CHECK(cfg_parse_quantity("", "S", &v, &other) == QTY_BAD);
}

/* ---- a hwconfig to break ----------------------------------------------------------------- */

/* Line numbers matter for the position checks: 7 g_min, 8 g_max. KIND is the kind-specific
 * part, replaced as a whole when a test changes the kind. */
#define KIND "kind: exp_step\n  a_up: -1.18445\n"
static const char *const base_hw = "schema: eqs.hwconfig/1\n"
                                   "name: test-rram\n"
                                   "sources: [\"made up for the test\"]\n"
                                   "device:\n"
                                   "  " KIND "  g_min: 100 nS\n"
                                   "  g_max: 25 uS\n"
                                   "  n_states: 1000\n"
                                   "array:\n"
                                   "  t_read: 50 ns\n"
                                   "  r_wire: 1 kohm\n"
                                   "periphery:\n"
                                   "  dac_bits: 7\n"
                                   "  adc_bits: 9\n"
                                   "  adc_range_mode: fixed\n"
                                   "  adc_range: 20\n"
                                   "neuron:\n"
                                   "  bits: 8\n"
                                   "  dynamics: leaky\n"
                                   "  tau: 1 us\n"
                                   "  dt: 0.1 us\n";

/* base_hw with its first `find` replaced by `repl` (static storage). */
static const char *variant_text(const char *find, const char *repl)
{
    static char text[4096];
    const char *at = strstr(base_hw, find);
    CHECK_MSG(at != NULL, "'%s' not in base_hw", find);
    if (!at)
        return base_hw;
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base_hw), base_hw, repl, at + strlen(find));
    return text;
}

/* ... written to variant.yaml: its path. */
static const char *variant(const char *find, const char *repl)
{
    return scratch("variant.yaml", variant_text(find, repl));
}

static void expect_error(const char *find, const char *repl, const char *needle)
{
    eqs_hw_config *hw = malloc(sizeof *hw);
    eqs_err err = {0};
    CHECK_ERR(eqs_hwconfig_load(hw, variant(find, repl), NULL, 0, &err), EQS_ECONFIG, err, needle);
    free(hw);
}

static void test_base(void)
{
    eqs_hw_config *hw = malloc(sizeof *hw);
    eqs_err err = {0};
    const char *p = scratch("base.yaml", base_hw);
    CHECK_OK(eqs_hwconfig_load(hw, p, NULL, 0, &err), err);
    CHECK(strcmp(hw->name, "test-rram") == 0 && hw->n_sources == 1);
    CHECK(hw->device.kind == EQS_DEV_EXP_STEP);
    CHECK(hw->device.g_min_sie == 100e-9 && hw->device.g_max_sie == 25e-6);
    CHECK(hw->device.n_states == 1000 && hw->device.p[0] == -1.18445);
    CHECK(hw->array.t_read_s == 50e-9 && hw->array.r_wire_ohm == 1000);
    CHECK(hw->periphery.dac_bits == 7 && hw->periphery.adc_bits == 9);
    CHECK(hw->periphery.adc_range_mode == EQS_ADC_FIXED && hw->periphery.adc_range == 20);
    CHECK(hw->neuron.bits == 8 && hw->neuron.dynamics == EQS_NEURON_LEAKY);
    CHECK(hw->neuron.tau_s == 1e-6 && hw->neuron.dt_s == 0.1e-6);
    /* keys not given keep the defaults: of the kind's table and of the ideal preset */
    eqs_device_config dev;
    eqs_device_config_default(&dev, EQS_DEV_EXP_STEP);
    CHECK(hw->device.p[1] == dev.p[1] && hw->device.c2c == dev.c2c);
    eqs_hw_config def;
    eqs_hw_config_default(&def);
    CHECK(hw->array.max_rows == def.array.max_rows && hw->update.bl == def.update.bl);
    CHECK(hw->description[0] == '\0');
    hw_round_trip(p, NULL, 0);
    /* other units and spellings */
    CHECK_OK(eqs_hwconfig_load(hw, variant("25 uS", "0.025 mS"), NULL, 0, &err), err);
    CHECK(hw->device.g_max_sie == 25e-6);
    CHECK_OK(eqs_hwconfig_load(hw, variant("25 uS", "25 \xc2\xb5S"), NULL, 0, &err), err);
    CHECK(hw->device.g_max_sie == 25e-6);
    CHECK_OK(eqs_hwconfig_load(hw, variant("1 kohm", "0.35 ohm"), NULL, 0, &err), err);
    CHECK(hw->array.r_wire_ohm == 0.35);
    /* a piecewise device with its node lists */
    CHECK_OK(eqs_hwconfig_load(hw,
                               variant(KIND, "kind: piecewise\n  piecewise_up: [1, 0.8, 0.5]\n"
                                             "  piecewise_down: [0.5, 0.8, 1]\n"),
                               NULL, 0, &err),
             err);
    CHECK(hw->device.kind == EQS_DEV_PIECEWISE && hw->device.n_piecewise == 3);
    CHECK(hw->device.piecewise_up[1] == 0.8 && hw->device.piecewise_down[2] == 1);
    hw_round_trip(variant(KIND, "kind: piecewise\n  piecewise_up: [1, 0.8, 0.5]\n"
                                "  piecewise_down: [0.5, 0.8, 1]\n"),
                  NULL, 0);
    free(hw);
}

static void test_errors(void)
{
    const char *f = "variant.yaml";
    char needle[256];
    /* units */
    snprintf(needle, sizeof needle,
             "%s:8:10: device.g_max: missing unit: expected a conductance like '25 uS', got '25'",
             f);
    expect_error("25 uS", "25", needle);
    expect_error("25 uS", "50 ns", "device.g_max: expected siemens, got '50 ns'");
    expect_error("50 ns", "25 uS", "array.t_read: expected seconds, got '25 uS'");
    expect_error("50 ns", "50", "array.t_read: missing unit: expected a time like '50 ns'");
    expect_error("1 kohm", "1000", "array.r_wire: missing unit: expected a resistance");
    expect_error("25 uS", "25 uX", "device.g_max: expected a conductance like '25 uS'");
    expect_error("  bits: 8\n", "  bits: 8 S\n", "neuron.bits: expected an integer in [0, 24]");
    expect_error("adc_range: 20", "adc_range: 20 V", "periphery.adc_range: expected a number > 0");
    /* values */
    snprintf(needle, sizeof needle,
             "%s:7:10: device.g_min: a conductance cannot be negative, got '-5 uS'", f);
    expect_error("100 nS", "-5 uS", needle);
    expect_error("n_states: 1000", "n_states: 0",
                 "device.n_states: expected a number in [1, 1e+09], got '0'");
    expect_error("100 nS", "30 uS", "device.g_min: must be below g_max");
    expect_error("adc_range: 20", "adc_range: nan",
                 "periphery.adc_range: expected a number > 0, "
                 "got 'nan'");
    expect_error("  bits: 8\n", "  bits: 25\n",
                 "neuron.bits: expected an integer in [0, 24], "
                 "got '25'");
    expect_error("dac_bits: 7", "dac_bits: -1", "periphery.dac_bits: expected an integer");
    expect_error("dt: 0.1 us", "dt: 2 us", "neuron.dt: the Euler step must not exceed tau");
    expect_error("  adc_range: 20\n", "  adc_range: 20\narray2: {}\n",
                 "array2: unknown key (did you mean 'array'?)");
    /* kinds and keys */
    expect_error("kind: exp_step", "kind: exp_stepp",
                 "device.kind: expected one of ideal, constant_step, linear_step");
    expect_error("kind: exp_step", "kind: exp_stepp", "(did you mean 'exp_step'?)");
    expect_error("kind: exp_step", "kind: memristor", "nonlinear_ltp_ltd, pcm, got 'memristor'");
    expect_error("g_max: 25 uS", "g_maxx: 25 uS",
                 "device.g_maxx: unknown key (did you mean 'g_max'?)");
    expect_error("g_max: 25 uS", "g_max_sie: 25 uS",
                 "device.g_max_sie: unknown key (did you mean 'g_max'? YAML keys drop the unit "
                 "suffix and the value carries the unit: g_max: 25 uS)");
    expect_error("adc_bits: 9", "adc_bit: 9",
                 "periphery.adc_bit: unknown key (did you mean 'adc_bits'?)");
    expect_error("a_up: -1.18445", "gamma_up: 0.1\n  nl_ltp: 1",
                 "device.nl_ltp: a parameter of kind nonlinear_ltp_ltd, not of kind exp_step");
    expect_error(KIND, "a_up: 1\n", "device.kind: required key is missing");
    expect_error("name: test-rram\n", "", "name: required key is missing");
    expect_error("schema: eqs.hwconfig/1", "schema: eqs.experiment/1",
                 "schema: expected eqs.hwconfig/1, got 'eqs.experiment/1'");
    expect_error("sources: [\"made up for the test\"]", "sources: a string",
                 "sources: expected a list of at most 8 citation strings");
    expect_error(KIND, "kind: pcm\n", "update.one_sided: a pcm device only moves up gradually");
    expect_error(KIND, "kind: pcm\n  up_down: 0.5\n",
                 "device.up_down: pcm devices have no gradual depression");
    expect_error(KIND, "kind: piecewise\n  piecewise_up: [1, 0.8, 0.5]\n",
                 "device.piecewise_down: required key is missing");
    expect_error(KIND, "kind: piecewise\n  piecewise_up: [1, 0.8, 0.5]\n  piecewise_down: [1, 1]\n",
                 "device.piecewise_down: expected as many nodes as piecewise_up (3), got 2");
    expect_error(KIND, "kind: piecewise\n  piecewise_up: [1, -0.8]\n  piecewise_down: [1, 1]\n",
                 "device.piecewise_up.1: expected a number in [0, 1000], got '-0.8'");
    expect_error(KIND, "kind: soft_bounds\n  stuck_on_frac: 0.6\n  stuck_off_frac: 0.6\n",
                 "device.stuck_off_frac: stuck_off_frac + stuck_on_frac must be <= 1");
}

static void test_overrides(void)
{
    eqs_hw_config *hw = malloc(sizeof *hw);
    eqs_err err = {0};
    const char *p = scratch("base.yaml", base_hw);
    const char *ov[] = {"device.g_max=30 uS", "periphery.adc_bits=6", "array.max_rows=256",
                        "neuron.dynamics=discrete", "description=changed by --set"};
    CHECK_OK(eqs_hwconfig_load(hw, p, ov, 5, &err), err);
    CHECK(hw->device.g_max_sie == 30e-6 && hw->periphery.adc_bits == 6);
    CHECK(hw->array.max_rows == 256 && hw->neuron.dynamics == EQS_NEURON_DISCRETE);
    CHECK(strcmp(hw->description, "changed by --set") == 0);
    hw_round_trip(p, ov, 5);
    const char *kind[] = {"device.kind=linear_step", "device.a_up=1"};
    CHECK_ERR(eqs_hwconfig_load(hw, p, kind, 1, &err), EQS_ECONFIG, err,
              "device.a_up: a parameter of kind exp_step, not of kind linear_step");
    CHECK_ERR(eqs_hwconfig_load(hw, p, kind + 1, 1, &err), EQS_OK, err, "");
    const char *bad[] = {"device.g_max=30"};
    CHECK_ERR(eqs_hwconfig_load(hw, p, bad, 1, &err), EQS_ECONFIG, err,
              "--set device.g_max=30: device.g_max: missing unit: expected a conductance like "
              "'25 uS', got '30'");
    const char *typo[] = {"periphery.adc_bitz=6"};
    CHECK_ERR(eqs_hwconfig_load(hw, p, typo, 1, &err), EQS_ECONFIG, err,
              "--set periphery.adc_bitz=6: periphery.adc_bitz: unknown key (did you mean "
              "'adc_bits'?)");
    const char *noeq[] = {"device.g_max"};
    CHECK_ERR(eqs_hwconfig_load(hw, p, noeq, 1, &err), EQS_ECONFIG, err,
              "--set device.g_max: expected key.path=value");
    CHECK_ERR(eqs_hwconfig_load(hw, "/nonexistent/hw.yaml", NULL, 0, &err), EQS_EIO, err,
              "cannot open '/nonexistent/hw.yaml'");
    free(hw);
}

/* ---- experiments with hardware ----------------------------------------------------------- */

static const char *const exp_head = "schema: eqs.experiment/1\n"
                                    "name: with-hw\n"
                                    "model:\n"
                                    "  schema: eqs.model/1\n"
                                    "  name: tiny\n"
                                    "  input: {features: 16}\n"
                                    "  layers: [{out: 8}, {out: 4}]\n"
                                    "  loss: mse\n"
                                    "  readout: activation\n"
                                    "algorithm: {name: ep, t1: 5, t2: 2}\n"
                                    "optimizer: {name: sgd, lr: 0.1}\n"
                                    "training: {epochs: 1, batch_size: 4}\n";

static void exp_round_trip(const char *path, const char *const *ov, int n_ov,
                           eqs_experiment_config *a)
{
    eqs_experiment_config *b = malloc(sizeof *b);
    eqs_err err = {0};
    char out[600];
    snprintf(out, sizeof out, "%s/resolved.yaml", scratch_dir);
    CHECK_OK(eqs_experiment_load(a, path, ov, n_ov, &err), err);
    FILE *f = err.code == EQS_OK ? fopen(out, "w") : NULL;
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(eqs_experiment_write(a, f, &err), err);
        fclose(f);
        CHECK_OK(eqs_experiment_load(b, out, NULL, 0, &err), err);
        CHECK(a->has_hardware == b->has_hardware);
        check_same_hw(&a->hardware, &b->hardware, "experiment round trip");
        CHECK(b->hardware.source_path[0] == '\0'); /* written inline */
        CHECK(a->model.n_layers == b->model.n_layers);
        CHECK(a->training.epochs == b->training.epochs);
    }
    free(b);
}

static void test_experiment_hardware(void)
{
    eqs_experiment_config *c = malloc(sizeof *c);
    eqs_hw_config *hw = malloc(sizeof *hw);
    eqs_err err = {0};
    char text[4096], sub[600];

    /* no hardware: the float reference */
    const char *p = scratch("plain.yaml", exp_head);
    exp_round_trip(p, NULL, 0, c);
    eqs_hw_config def;
    eqs_hw_config_default(&def);
    CHECK(!c->has_hardware);
    check_same_hw(&c->hardware, &def, "no hardware key");

    /* a path, relative to the experiment file */
    snprintf(sub, sizeof sub, "%s/hw", scratch_dir);
    CHECK(mkdir(sub, 0700) == 0);
    const char *hwp = scratch("hw/rram.yaml", base_hw);
    CHECK_OK(eqs_hwconfig_load(hw, hwp, NULL, 0, &err), err);
    snprintf(text, sizeof text, "%shardware: hw/rram.yaml\n", exp_head);
    p = scratch("exp.yaml", text);
    exp_round_trip(p, NULL, 0, c);
    CHECK(c->has_hardware);
    check_same_hw(&c->hardware, hw, "hardware: path");
    CHECK(c->hardware.source_path[0] == '/' && strstr(c->hardware.source_path, "hw/rram.yaml"));

    /* overrides reach into it */
    const char *ov[] = {"hardware.periphery.adc_bits=6", "hardware.device.g_max=30 uS"};
    exp_round_trip(p, ov, 2, c);
    CHECK(c->hardware.periphery.adc_bits == 6 && c->hardware.device.g_max_sie == 30e-6);
    /* a key override given before `hardware=<file>` still lands in that file's hardware:
     * section replacements apply first (a sweep's set: tunes every point's preset) */
    const char *ov_late[] = {"hardware.periphery.adc_bits=5", "hardware=hw/rram.yaml"};
    exp_round_trip(p, ov_late, 2, c);
    CHECK(c->has_hardware && c->hardware.periphery.adc_bits == 5);
    const char *bad[] = {"hardware.device.g_max=30"};
    CHECK_ERR(eqs_experiment_load(c, p, bad, 1, &err), EQS_ECONFIG, err,
              "--set hardware.device.g_max=30: hardware.device.g_max: missing unit");

    /* an error inside the hwconfig file names that file and the full key path */
    scratch("hw/broken.yaml", variant_text("25 uS", "50 ns"));
    snprintf(text, sizeof text, "%shardware: hw/broken.yaml\n", exp_head);
    CHECK_ERR(eqs_experiment_load(c, scratch("exp.yaml", text), NULL, 0, &err), EQS_ECONFIG, err,
              "hw/broken.yaml:8:10: hardware.device.g_max: expected siemens, got '50 ns'");
    snprintf(text, sizeof text, "%shardware: hw/missing.yaml\n", exp_head);
    CHECK_ERR(eqs_experiment_load(c, scratch("exp.yaml", text), NULL, 0, &err), EQS_EIO, err,
              "exp.yaml:13:11: hardware: cannot open");

    /* --set hardware=<file> swaps the file; --set on a missing hardware key explains itself */
    const char *swap[] = {"hardware=hw/rram.yaml"};
    CHECK_OK(eqs_experiment_load(c, scratch("plain.yaml", exp_head), swap, 1, &err), err);
    CHECK(c->has_hardware && c->hardware.device.kind == EQS_DEV_EXP_STEP);
    CHECK_ERR(eqs_experiment_load(c, scratch("plain.yaml", exp_head), ov, 1, &err), EQS_ECONFIG,
              err, "hardware.schema: required key is missing");

    /* an inline map */
    snprintf(text, sizeof text,
             "%shardware:\n"
             "  schema: eqs.hwconfig/1\n"
             "  name: inline\n"
             "  device: {kind: linear_step, g_max: 10 uS, gamma_up: 0.2}\n"
             "  periphery: {adc_bits: 8}\n",
             exp_head);
    p = scratch("inline.yaml", text);
    exp_round_trip(p, NULL, 0, c);
    CHECK(c->has_hardware && strcmp(c->hardware.name, "inline") == 0);
    CHECK(c->hardware.device.kind == EQS_DEV_LINEAR_STEP && c->hardware.device.p[0] == 0.2);
    CHECK(c->hardware.device.g_max_sie == 10e-6 && c->hardware.periphery.adc_bits == 8);
    CHECK(c->hardware.source_path[0] == '\0');
    snprintf(text, sizeof text, "%shardware: 3\n", exp_head);
    CHECK_ERR(eqs_experiment_load(c, scratch("exp.yaml", text), NULL, 0, &err), EQS_EIO, err,
              "exp.yaml:13:11: hardware: cannot open");
    snprintf(text, sizeof text, "%shardware: [1, 2]\n", exp_head);
    CHECK_ERR(eqs_experiment_load(c, scratch("exp.yaml", text), NULL, 0, &err), EQS_ECONFIG, err,
              "hardware: expected a path to a hwconfig file or a hwconfig map, got a sequence");
    snprintf(text, sizeof text, "%shardwere: hw/rram.yaml\n", exp_head);
    CHECK_ERR(eqs_experiment_load(c, scratch("exp.yaml", text), NULL, 0, &err), EQS_ECONFIG, err,
              "hardwere: unknown key (did you mean 'hardware'?)");

    /* every preset through an experiment */
    const char *src = getenv("EQS_SOURCE_DIR");
    if (src) {
        snprintf(text, sizeof text, "%shardware: %s/hwconfigs/pcm-nandakumar2020.yaml\n", exp_head,
                 src);
        exp_round_trip(scratch("exp.yaml", text), NULL, 0, c);
        CHECK(c->hardware.device.kind == EQS_DEV_PCM && c->hardware.update.one_sided);
    }
    free(hw);
    free(c);
}

int main(void)
{
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/eqs_test_hwconfig_XXXXXX");
    if (!mkdtemp(scratch_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_quantities();
    test_presets();
    test_base();
    test_errors();
    test_overrides();
    test_experiment_hardware();
    clear_dir(scratch_dir, 1);
    EQS_TEST_MAIN_END("test_hwconfig");
}
