/* test_config.c — the config module: YAML → structs, error messages (file:line:col + key path),
 * overrides, and the resolved-config round trip. YAML inputs are written to a mkdtemp folder. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eqs_test.h"

#include "eqs/config.h"

/* ---- scratch files ----------------------------------------------------------------------- */

static char tmp_dir[256];
static char created[64][512];
static int n_created;

/* Writes text to <tmp_dir>/<name>; returns the path (static storage, one per file). */
static const char *put(const char *name, const char *text)
{
    char *path = created[n_created];
    snprintf(path, sizeof created[0], "%s/%s", tmp_dir, name);
    int seen = 0;
    for (int i = 0; i < n_created; i++)
        seen |= strcmp(created[i], path) == 0;
    if (!seen && n_created < 63)
        n_created++;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static void make_dir(const char *name)
{
    char *path = created[n_created++];
    snprintf(path, sizeof created[0], "%s/%s", tmp_dir, name);
    if (mkdir(path, 0700) != 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
}

/* Files and folders go in the order made; remove() takes both, newest first. */
static void remove_created(void)
{
    for (int i = n_created - 1; i >= 0; i--)
        if (remove(created[i]) != 0)
            fprintf(stderr, "cannot remove %s\n", created[i]);
    if (rmdir(tmp_dir) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp_dir);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

/* A small valid experiment with an inline model. Line numbers matter for the error tests:
 *   3 model:, 8-9 layers, 10 loss, 11 readout, 12 algorithm:, 14 t1, 16 optimizer:, 18 lr,
 *   19 training:, 20 epochs, 21 batch_size. */
static const char *const base_exp = "schema: eqs.experiment/1\n"
                                    "name: small\n"
                                    "model:\n"
                                    "  schema: eqs.model/1\n"
                                    "  name: tiny\n"
                                    "  input: {features: 784}\n"
                                    "  layers:\n"
                                    "    - {out: 100}\n"
                                    "    - {out: 10}\n"
                                    "  loss: mse\n"
                                    "  readout: activation\n"
                                    "algorithm:\n"
                                    "  name: ep\n"
                                    "  t1: 20\n"
                                    "  t2: 4\n"
                                    "optimizer:\n"
                                    "  name: sgd\n"
                                    "  lr: 0.05\n"
                                    "training:\n"
                                    "  epochs: 2\n"
                                    "  batch_size: 32\n";

static const char *const full_model = "schema: eqs.model/1\n"
                                      "name: conv_like\n"
                                      "input: {channels: 1, height: 28, width: 28}\n"
                                      "layers:\n"
                                      "  - {out: 64}\n"
                                      "  - {type: dense, name: head, out: 10}\n"
                                      "activation: hard_sigmoid_half\n"
                                      "loss: cross_entropy\n"
                                      "readout: softmax\n";

static const char *const full_exp = "schema: eqs.experiment/1\n"
                                    "name: full\n"
                                    "model: models/full_model.yaml\n"
                                    "data:\n"
                                    "  dir: data\n"
                                    "  train_subset: 1000\n"
                                    "  test_subset: 500\n"
                                    "  normalize: true\n"
                                    "  mean: 0.5\n"
                                    "  std: 0.25\n"
                                    "algorithm:\n"
                                    "  name: bptt\n"
                                    "  estimator: random_sign\n"
                                    "  beta: 0.5\n"
                                    "  t1: 30\n"
                                    "  t2: 10\n"
                                    "  bptt_truncate: 20\n"
                                    "optimizer:\n"
                                    "  name: adam\n"
                                    "  lr: [0.01, 0.002]\n"
                                    "  momentum: 0.5\n"
                                    "  weight_decay: 1e-4\n"
                                    "  adam_beta1: 0.8\n"
                                    "  adam_beta2: 0.99\n"
                                    "  adam_eps: 1e-6\n"
                                    "  schedule: cosine\n"
                                    "  lr_final_frac: 0.1\n"
                                    "  schedule_epochs: 40\n"
                                    "training:\n"
                                    "  epochs: 30\n"
                                    "  batch_size: 128\n"
                                    "  eval_batch_size: 500\n"
                                    "  seed: 18446744073709551615\n"
                                    "  threads: 4\n";

/* base_exp with the first occurrence of `find` replaced by `repl`, written to exp.yaml. */
static const char *exp_with(const char *find, const char *repl)
{
    static char text[4096];
    const char *at = strstr(base_exp, find);
    if (!at) {
        fprintf(stderr, "fixture: '%s' not in base_exp\n", find);
        exit(2);
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base_exp), base_exp, repl,
             at + strlen(find));
    return put("exp.yaml", text);
}

/* Loads base_exp edited by (find, repl) and expects a config error containing needle. */
static void expect_config_error(const char *find, const char *repl, const char *needle)
{
    eqs_experiment_config cfg;
    eqs_err err = {0};
    const char *path = exp_with(find, repl);
    CHECK_ERR(eqs_experiment_load(&cfg, path, NULL, 0, &err), EQS_ECONFIG, err, needle);
}

/* Loads base_exp with overrides and expects a config error containing needle. */
static void expect_override_error(const char *override, const char *needle)
{
    eqs_experiment_config cfg;
    eqs_err err = {0};
    const char *path = put("exp.yaml", base_exp);
    const char *ov[] = {override};
    CHECK_ERR(eqs_experiment_load(&cfg, path, ov, 1, &err), EQS_ECONFIG, err, needle);
}

static const char *const base_inline_model = "model:\n"
                                             "  schema: eqs.model/1\n"
                                             "  name: tiny\n"
                                             "  input: {features: 784}\n"
                                             "  layers:\n"
                                             "    - {out: 100}\n"
                                             "    - {out: 10}\n"
                                             "  loss: mse\n"
                                             "  readout: activation\n";

static const char *real(const char *path, char *buf)
{
    if (!realpath(path, buf))
        snprintf(buf, PATH_MAX, "%s", path);
    return buf;
}

/* ---- field-by-field comparison (structs have padding, so no memcmp) ---------------------- */

#define SAME(a, b, field) CHECK_MSG((a)->field == (b)->field, "%s differs", #field)
#define SAME_STR(a, b, field)                                                                      \
    CHECK_MSG(strcmp((a)->field, (b)->field) == 0, "%s: '%s' vs '%s'", #field, (a)->field,         \
              (b)->field)

static void check_same_model(const eqs_model_config *a, const eqs_model_config *b)
{
    SAME_STR(a, b, name);
    SAME(a, b, in_channels);
    SAME(a, b, in_height);
    SAME(a, b, in_width);
    SAME(a, b, n_features);
    SAME(a, b, n_layers);
    for (int i = 0; i < a->n_layers && i < EQS_MAX_LAYERS; i++) {
        SAME(a, b, layers[i].type);
        SAME_STR(a, b, layers[i].name);
        SAME(a, b, layers[i].n_out);
        SAME(a, b, layers[i].kernel);
        SAME(a, b, layers[i].padding);
        SAME(a, b, layers[i].pool);
        SAME(a, b, layers[i].pool_size);
        SAME(a, b, layers[i].out_c);
        SAME(a, b, layers[i].out_h);
        SAME(a, b, layers[i].out_w);
    }
    SAME(a, b, activation);
    SAME(a, b, loss);
    SAME(a, b, readout);
    SAME(a, b, no_bias);
}

/* Everything but the two source paths, which name the files read. */
static void check_same_experiment(const eqs_experiment_config *a, const eqs_experiment_config *b)
{
    SAME_STR(a, b, name);
    check_same_model(&a->model, &b->model);
    SAME_STR(a, b, data.dir);
    SAME(a, b, data.train_subset);
    SAME(a, b, data.test_subset);
    SAME(a, b, data.normalize);
    SAME(a, b, data.mean);
    SAME(a, b, data.std);
    SAME(a, b, algorithm.name);
    SAME(a, b, algorithm.estimator);
    SAME(a, b, algorithm.beta);
    SAME(a, b, algorithm.t1);
    SAME(a, b, algorithm.t2);
    SAME(a, b, algorithm.bptt_truncate);
    SAME(a, b, algorithm.pepita_modulation);
    SAME(a, b, algorithm.pepita_f_scale);
    SAME(a, b, algorithm.pepita_random_scale);
    SAME(a, b, optimizer.kind);
    SAME(a, b, optimizer.n_lr);
    for (int i = 0; i < a->optimizer.n_lr && i < EQS_MAX_LAYERS; i++)
        SAME(a, b, optimizer.lr[i]);
    SAME(a, b, optimizer.momentum);
    SAME(a, b, optimizer.weight_decay);
    SAME(a, b, optimizer.adam_beta1);
    SAME(a, b, optimizer.adam_beta2);
    SAME(a, b, optimizer.adam_eps);
    SAME(a, b, optimizer.schedule);
    SAME(a, b, optimizer.lr_final_frac);
    SAME(a, b, optimizer.schedule_epochs);
    SAME(a, b, optimizer.n_milestones);
    for (int i = 0; i < a->optimizer.n_milestones && i < EQS_MAX_MILESTONES; i++)
        SAME(a, b, optimizer.milestones[i]);
    SAME(a, b, optimizer.gamma);
    SAME(a, b, training.epochs);
    SAME(a, b, training.batch_size);
    SAME(a, b, training.eval_batch_size);
    SAME(a, b, training.seed);
    SAME(a, b, training.threads);
}

/* ---- valid files ------------------------------------------------------------------------- */

static void test_full_experiment(void)
{
    make_dir("models");
    make_dir("data");
    const char *model_path = put("models/full_model.yaml", full_model);
    const char *path = put("full.yaml", full_exp);
    char want[PATH_MAX], data_dir[PATH_MAX + 8];
    eqs_experiment_config c;
    eqs_err err = {0};
    CHECK_OK(eqs_experiment_load(&c, path, NULL, 0, &err), err);
    CHECK(err.code == EQS_OK && err.msg[0] == '\0');
    CHECK(strcmp(c.name, "full") == 0);
    CHECK(strcmp(c.source_path, path) == 0);

    const eqs_model_config *m = &c.model;
    CHECK(strcmp(m->name, "conv_like") == 0);
    CHECK(m->in_channels == 1 && m->in_height == 28 && m->in_width == 28);
    CHECK(m->n_features == 784);
    CHECK(m->n_layers == 2);
    CHECK(m->layers[0].type == EQS_LAYER_DENSE && m->layers[0].n_out == 64);
    CHECK(strcmp(m->layers[0].name, "fc1") == 0);
    CHECK(m->layers[1].type == EQS_LAYER_DENSE && m->layers[1].n_out == 10);
    CHECK(strcmp(m->layers[1].name, "head") == 0);
    CHECK(m->activation == EQS_ACT_HARD_SIGMOID_HALF);
    CHECK(m->loss == EQS_LOSS_CROSS_ENTROPY);
    CHECK(m->readout == EQS_READOUT_SOFTMAX);
    CHECK(strcmp(m->source_path, real(model_path, want)) == 0);

    snprintf(data_dir, sizeof data_dir, "%s/data", tmp_dir);
    CHECK(strcmp(c.data.dir, real(data_dir, want)) == 0);
    CHECK(c.data.train_subset == 1000 && c.data.test_subset == 500);
    CHECK(c.data.normalize == 1 && c.data.mean == 0.5 && c.data.std == 0.25);

    CHECK(c.algorithm.name == EQS_ALGO_BPTT && c.algorithm.estimator == EQS_EST_RANDOM_SIGN);
    CHECK(c.algorithm.beta == 0.5 && c.algorithm.t1 == 30 && c.algorithm.t2 == 10);
    CHECK(c.algorithm.bptt_truncate == 20);

    const eqs_optimizer_config *o = &c.optimizer;
    CHECK(o->kind == EQS_OPT_ADAM && o->n_lr == 2 && o->lr[0] == 0.01 && o->lr[1] == 0.002);
    CHECK(o->momentum == 0.5 && o->weight_decay == 1e-4);
    CHECK(o->adam_beta1 == 0.8 && o->adam_beta2 == 0.99 && o->adam_eps == 1e-6);
    CHECK(o->schedule == EQS_SCHED_COSINE && o->lr_final_frac == 0.1);
    CHECK(o->schedule_epochs == 40);

    CHECK(c.training.epochs == 30 && c.training.batch_size == 128);
    CHECK(c.training.eval_batch_size == 500 && c.training.threads == 4);
    CHECK(c.training.seed == UINT64_MAX);
}

static void test_defaults(void)
{
    const char *path = put("exp.yaml", base_exp);
    char want[PATH_MAX];
    eqs_experiment_config c;
    eqs_err err = {0};
    CHECK_OK(eqs_experiment_load(&c, path, NULL, 0, &err), err);
    CHECK(c.model.source_path[0] == '\0');
    CHECK(c.model.in_channels == 1 && c.model.in_height == 1 && c.model.in_width == 784);
    CHECK(c.model.n_features == 784 && c.model.n_layers == 2);
    CHECK(strcmp(c.model.layers[0].name, "fc1") == 0 && strcmp(c.model.layers[1].name, "fc2") == 0);
    CHECK(c.model.activation == EQS_ACT_HARD_SIGMOID);
    CHECK(strcmp(c.data.dir, real("/usr/share/datasets/fashion-mnist", want)) == 0);
    CHECK(c.data.train_subset == 0 && c.data.test_subset == 0 && c.data.normalize == 0);
    CHECK(c.data.mean == 0.2860 && c.data.std == 0.3530);
    CHECK(c.algorithm.name == EQS_ALGO_EP && c.algorithm.estimator == EQS_EST_SYMMETRIC);
    CHECK(c.algorithm.beta == 0.1 && c.algorithm.bptt_truncate == 0);
    CHECK(c.optimizer.kind == EQS_OPT_SGD && c.optimizer.n_lr == 1 && c.optimizer.lr[0] == 0.05);
    CHECK(c.optimizer.momentum == 0 && c.optimizer.weight_decay == 0);
    CHECK(c.optimizer.adam_beta1 == 0.9 && c.optimizer.adam_beta2 == 0.999);
    CHECK(c.optimizer.adam_eps == 1e-8 && c.optimizer.schedule == EQS_SCHED_CONSTANT);
    CHECK(c.optimizer.lr_final_frac == 0 && c.optimizer.schedule_epochs == 0);
    CHECK(c.training.eval_batch_size == 1000 && c.training.seed == 0);
    CHECK(c.training.threads == 1);
}

static void test_model_load(void)
{
    char path[600], want[PATH_MAX];
    snprintf(path, sizeof path, "%s/models/full_model.yaml", tmp_dir);
    eqs_model_config m;
    eqs_err err = {0};
    CHECK_OK(eqs_model_load(&m, path, &err), err);
    CHECK(strcmp(m.name, "conv_like") == 0 && m.n_layers == 2 && m.n_features == 784);
    CHECK(strcmp(m.source_path, real(path, want)) == 0);

    const char *exp = put("exp.yaml", base_exp);
    CHECK_ERR(eqs_model_load(&m, exp, &err), EQS_ECONFIG, err,
              "exp.yaml:1:9: schema: expected eqs.model/1, got 'eqs.experiment/1' (HINT: a model "
              "file starts with 'schema: eqs.model/1')");
    const char *bad = put("bad_model.yaml", "schema: eqs.model/1\n"
                                            "name: bad\n"
                                            "input: {features: 4}\n"
                                            "layers:\n"
                                            "  - {out: -64}\n"
                                            "loss: mse\n"
                                            "readout: linear\n");
    CHECK_ERR(eqs_model_load(&m, bad, &err), EQS_ECONFIG, err,
              "bad_model.yaml:5:11: layers.0.out: expected an integer in [1, 1000000], got '-64'");
}

/* ---- error classes ----------------------------------------------------------------------- */

static void test_number_errors(void)
{
    static const char *const bad_ints[] = {"ten", "1.5",    "1e3",  "99999999999999999999",
                                           "0",   "-3",     "0x10", "100001",
                                           "",    "\" 5\"", "true"};
    for (int i = 0; i < (int)(sizeof bad_ints / sizeof bad_ints[0]); i++) {
        char repl[64];
        snprintf(repl, sizeof repl, "  epochs: %s", bad_ints[i]);
        expect_config_error("  epochs: 2", repl,
                            "training.epochs: expected an integer in [1, 100000], got '");
    }
    expect_config_error("  epochs: 2", "  epochs: ten",
                        "exp.yaml:20:11: training.epochs: expected an integer in [1, 100000], "
                        "got 'ten'");
    static const char *const bad_betas[] = {"nan", "inf",   "-inf", ".inf", "1e999",
                                            "0",   "100.5", "-0.1", "0.1x", "1e-400"};
    for (int i = 0; i < (int)(sizeof bad_betas / sizeof bad_betas[0]); i++) {
        char repl[64];
        snprintf(repl, sizeof repl, "  name: ep\n  beta: %s", bad_betas[i]);
        expect_config_error("  name: ep", repl,
                            "algorithm.beta: expected a number in (0, 100], got '");
    }
    expect_config_error("  lr: 0.05", "  lr: 0.05\n  momentum: 1",
                        "optimizer.momentum: expected a number in [0, 1), got '1'");
    expect_config_error("  lr: 0.05", "  lr: 0.05\n  weight_decay: -1e-3",
                        "optimizer.weight_decay: expected a number >= 0, got '-1e-3'");
    expect_config_error("  lr: 0.05", "  lr: 0.05\n  adam_eps: 0",
                        "optimizer.adam_eps: expected a number > 0, got '0'");
    expect_config_error("  batch_size: 32", "  batch_size: 32\n  seed: -1",
                        "training.seed: expected an integer in [0, 18446744073709551615], "
                        "got '-1'");
    expect_config_error("  batch_size: 32", "  batch_size: 32\n  seed: 18446744073709551616",
                        "training.seed: expected an integer in [0, 18446744073709551615]");
    expect_config_error("  batch_size: 32", "  batch_size: 32\n  threads: 257",
                        "exp.yaml:22:12: training.threads: expected an integer in [1, 256], "
                        "got '257'");
    expect_config_error("algorithm:", "data: {normalize: yes}\nalgorithm:",
                        "exp.yaml:12:19: data.normalize: expected true or false, got 'yes'");
    expect_config_error("algorithm:", "data: {mean: nan}\nalgorithm:",
                        "data.mean: expected a finite number, got 'nan'");
    expect_config_error(
        "algorithm:", "data: {std: 0}\nalgorithm:", "data.std: expected a number > 0, got '0'");
    expect_config_error("algorithm:", "data: {train_subset: -1}\nalgorithm:",
                        "data.train_subset: expected an integer in [0, 2147483647], got '-1'");
}

static void test_key_errors(void)
{
    expect_config_error("  epochs: 2", "  epoch: 2",
                        "exp.yaml:20:3: training.epoch: unknown key (did you mean 'epochs'?)");
    expect_config_error("  epochs: 2", "  epochs: 2\n  zzzzzz: 1",
                        "exp.yaml:21:3: training.zzzzzz: unknown key (valid keys: epochs, "
                        "batch_size, eval_batch_size, seed, threads, log_updates)");
    expect_config_error("name: small", "name: small\ntrainig: 1",
                        "exp.yaml:3:1: trainig: unknown key (did you mean 'training'?)");
    expect_config_error("  name: tiny", "  nme: tiny",
                        "exp.yaml:5:3: model.nme: unknown key (did you mean 'name'?)");
    expect_config_error("{out: 100}", "{outs: 100}",
                        "exp.yaml:8:8: model.layers.0.outs: unknown key (did you mean 'out'?)");
    expect_config_error("  t1: 20\n", "", "exp.yaml:13:3: algorithm.t1: required key is missing");
    expect_config_error("{out: 100}", "{name: a}",
                        "exp.yaml:8:7: model.layers.0.out: required key is missing");
    expect_config_error("training:\n  epochs: 2\n  batch_size: 32\n", "",
                        "exp.yaml:1:1: training: required key is missing");
    expect_config_error("  epochs: 2", "  epochs: {a: 1}",
                        "exp.yaml:20:11: training.epochs: expected an integer in [1, 100000], "
                        "got a map");
    expect_config_error("training:\n  epochs: 2\n  batch_size: 32\n", "training: 5\n",
                        "exp.yaml:19:11: training: expected a map, got '5'");
    expect_config_error("  batch_size: 32\n", "  batch_size: 32\n  epochs: 3\n",
                        "exp.yaml:22:3: training.epochs: duplicate key (first given at line 20)");
    expect_config_error("  loss: mse", "  activation: softplus\n  loss: mse",
                        "exp.yaml:10:15: model.activation: expected one of hard_sigmoid, "
                        "hard_sigmoid_half, sigmoid, tanh, relu, got 'softplus'");
    expect_config_error("  loss: mse", "  activation: tahn\n  loss: mse",
                        "got 'tahn' (did you mean 'tanh'?)");
    expect_config_error("  name: ep", "  name: sgd",
                        "exp.yaml:13:9: algorithm.name: expected one of ep, bptt, pepita, got "
                        "'sgd'");
    expect_config_error("name: small",
                        "name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                        "exp.yaml:2:7: name: expected a non-empty string of at most 63 characters");
    expect_config_error("name: small", "name: ~",
                        "exp.yaml:2:7: name: expected a non-empty string of at most 63 characters, "
                        "got '~'");
    expect_config_error("schema: eqs.experiment/1", "schema: eqs.experiment/2",
                        "exp.yaml:1:9: schema: expected eqs.experiment/1, got 'eqs.experiment/2' "
                        "(HINT: an experiment file starts with 'schema: eqs.experiment/1')");
    expect_config_error("schema: eqs.experiment/1\n", "",
                        "exp.yaml:1:1: schema: required key is missing (HINT: an experiment file");
    expect_config_error("  schema: eqs.model/1\n", "",
                        "exp.yaml:4:3: model.schema: required key is missing (HINT: a model file");
}

static void test_file_errors(void)
{
    eqs_experiment_config c;
    eqs_err err = {0};
    char path[600], needle[700];
    snprintf(path, sizeof path, "%s/nope.yaml", tmp_dir);
    snprintf(needle, sizeof needle, "cannot open '%s': No such file or directory", path);
    CHECK_ERR(eqs_experiment_load(&c, path, NULL, 0, &err), EQS_EIO, err, needle);
    CHECK_ERR(eqs_experiment_load(&c, tmp_dir, NULL, 0, &err), EQS_EIO, err, "Is a directory");

    const char *p = put("exp.yaml", "");
    CHECK_ERR(eqs_experiment_load(&c, p, NULL, 0, &err), EQS_ECONFIG, err,
              "exp.yaml: the file is empty");
    p = put("exp.yaml", "# only a comment\n");
    CHECK_ERR(eqs_experiment_load(&c, p, NULL, 0, &err), EQS_ECONFIG, err,
              "exp.yaml: the file is empty");
    p = put("exp.yaml", "just text\n");
    CHECK_ERR(eqs_experiment_load(&c, p, NULL, 0, &err), EQS_ECONFIG, err,
              "exp.yaml:1:1: expected a map starting with 'schema: eqs.experiment/1', got "
              "'just text'");
    expect_config_error("  t2: 4", "  t2: [4",
                        "exp.yaml:16:10: YAML syntax error: did not find expected ',' or ']' "
                        "(while parsing a flow sequence at line 15)");
    expect_config_error("  t2: 4", "  t2: 4\n t3: 5", "exp.yaml:16:2: YAML syntax error: ");
    expect_config_error("  batch_size: 32\n", "  batch_size: 32\n---\nschema: x\n",
                        "exp.yaml:23:1: only one YAML document is allowed");
    expect_config_error("  t2: 4", "  t2: *nowhere", "YAML syntax error: found undefined alias");
}

static void test_model_errors(void)
{
    expect_config_error("  lr: 0.05", "  lr: [0.1, 0.2, 0.3]",
                        "exp.yaml:18:7: optimizer.lr: expected one learning rate or one per layer "
                        "(the model has 2 layers), got a list of 3");
    expect_config_error("  lr: 0.05", "  lr: []", "optimizer.lr: expected one learning rate");
    expect_config_error("  lr: 0.05", "  lr: -1",
                        "exp.yaml:18:7: optimizer.lr: expected a number > 0, got '-1'");
    expect_config_error("  lr: 0.05", "  lr: [0.1, 0]",
                        "exp.yaml:18:13: optimizer.lr.1: expected a number > 0, got '0'");
    expect_config_error("  lr: 0.05", "  lr: {a: 1}",
                        "optimizer.lr: expected a number > 0 or a list of them, got a map");
    expect_config_error("  readout: activation", "  readout: softmax",
                        "exp.yaml:10:9: model.loss: readout softmax requires loss cross_entropy, "
                        "got 'mse'");
    expect_config_error("    - {out: 100}\n    - {out: 10}\n  loss: mse\n  readout: activation",
                        "    - {out: 10}\n  loss: cross_entropy\n  readout: softmax",
                        "exp.yaml:8:5: model.layers: readout softmax needs at least 2 layers");
    expect_config_error("{features: 784}", "{features: 784, width: 3}",
                        "exp.yaml:6:10: model.input: give either features or channels, height "
                        "and width, not both");
    expect_config_error("{features: 784}", "{channels: 1, height: 28}",
                        "exp.yaml:6:10: model.input.width: required key is missing");
    expect_config_error("{features: 784}", "{}", "model.input: expected {features: N} or");
    expect_config_error("{features: 784}", "{channels: 1000, height: 1000, width: 1000}",
                        "model.input: channels*height*width = 1000000000 exceeds 10000000");
    expect_config_error("{features: 784}", "{features: 0}",
                        "exp.yaml:6:21: model.input.features: expected an integer in [1, "
                        "10000000], got '0'");
    expect_config_error("{out: 100}", "{name: fc-1, out: 100}",
                        "exp.yaml:8:14: model.layers.0.name: expected a name of letters, digits "
                        "and '_' (at most 63 characters), got 'fc-1'");
    expect_config_error("    - {out: 10}", "    - {name: fc1, out: 10}",
                        "exp.yaml:9:14: model.layers.1.name: layer name 'fc1' is already used by "
                        "model.layers.0");
    expect_config_error("{out: 100}", "{type: lstm, out: 100}",
                        "model.layers.0.type: expected one of dense, conv, got 'lstm'");
    expect_config_error("    - {out: 100}\n    - {out: 10}\n", "    []\n",
                        "model.layers: expected 1 to 16 layers, got 0");
    expect_config_error("    - {out: 100}\n    - {out: 10}\n", "    {out: 10}\n",
                        "model.layers: expected a sequence of layer maps, got a map");
    char many[1024] = "";
    for (int i = 0; i < EQS_MAX_LAYERS + 1; i++)
        strcat(many, "    - {out: 5}\n");
    expect_config_error("    - {out: 100}\n    - {out: 10}\n", many,
                        "exp.yaml:8:5: model.layers: expected 1 to 16 layers, got 17");
    expect_config_error("  t2: 4", "  t2: 4\n  bptt_truncate: 21",
                        "exp.yaml:16:18: algorithm.bptt_truncate: expected an integer in [0, t1 = "
                        "20], got '21'");
}

/* The model given as a path: a missing file, and an error inside the model file. */
static void test_model_file_errors(void)
{
    eqs_experiment_config c;
    eqs_err err = {0};
    char needle[700];
    expect_config_error(base_inline_model, "model: bad_model.yaml\n",
                        "bad_model.yaml:5:11: model.layers.0.out: expected an integer in [1, "
                        "1000000], got '-64'");
    const char *p = exp_with(base_inline_model, "model: nope.yaml\n");
    snprintf(needle, sizeof needle,
             "exp.yaml:3:8: model: cannot open '%s/nope.yaml': No such file or directory", tmp_dir);
    CHECK_ERR(eqs_experiment_load(&c, p, NULL, 0, &err), EQS_EIO, err, needle);
    expect_config_error(base_inline_model, "model: exp.yaml\n",
                        "exp.yaml:1:9: model.schema: expected eqs.model/1, got 'eqs.experiment/1'");
    expect_config_error(base_inline_model, "model: [1, 2]\n",
                        "exp.yaml:3:8: model: expected a path to a model file or a model map, got "
                        "a sequence");
    expect_config_error(base_inline_model, "model: \"\"\n",
                        "exp.yaml:3:8: model: expected a path to a model file or a model map, got "
                        "''");
}

/* ---- overrides --------------------------------------------------------------------------- */

static void test_overrides(void)
{
    eqs_experiment_config c;
    eqs_err err = {0};
    const char *p = put("exp.yaml", base_exp);
    const char *ov[] = {"training.epochs=3",
                        "optimizer.lr=[1e-3, 5e-4]",
                        "training.threads=2",
                        "algorithm.estimator=one_sided",
                        "data.dir=/nonexistent/eqs_x",
                        "model.layers.0.out=256",
                        "model.activation=tanh",
                        "data.normalize=true",
                        "training.epochs=4"};
    CHECK_OK(eqs_experiment_load(&c, p, ov, (int)(sizeof ov / sizeof ov[0]), &err), err);
    CHECK(c.training.epochs == 4 && c.training.threads == 2);
    CHECK(c.optimizer.n_lr == 2 && c.optimizer.lr[0] == 1e-3 && c.optimizer.lr[1] == 5e-4);
    CHECK(c.algorithm.estimator == EQS_EST_ONE_SIDED);
    CHECK(strcmp(c.data.dir, "/nonexistent/eqs_x") == 0 && c.data.normalize == 1);
    CHECK(c.model.layers[0].n_out == 256 && c.model.activation == EQS_ACT_TANH);

    /* model.* reaches into a model given as a path */
    char full[600], want[PATH_MAX], model_path[600];
    snprintf(full, sizeof full, "%s/full.yaml", tmp_dir);
    snprintf(model_path, sizeof model_path, "%s/models/full_model.yaml", tmp_dir);
    const char *ov2[] = {"model.activation=tanh", "model.layers.1.out=12",
                         "model.input={features: 100}", "model.layers.1.name=out_layer"};
    CHECK_OK(eqs_experiment_load(&c, full, ov2, 4, &err), err);
    CHECK(c.model.activation == EQS_ACT_TANH && c.model.layers[1].n_out == 12);
    CHECK(c.model.n_features == 100 && strcmp(c.model.layers[1].name, "out_layer") == 0);
    CHECK(strcmp(c.model.source_path, real(model_path, want)) == 0);

    /* model=<path> swaps an inline model for a file (relative to the experiment's folder) */
    const char *ov3[] = {"model=models/full_model.yaml"};
    CHECK_OK(eqs_experiment_load(&c, p, ov3, 1, &err), err);
    CHECK(strcmp(c.model.name, "conv_like") == 0);
    CHECK(strcmp(c.model.source_path, want) == 0);
}

static void test_override_errors(void)
{
    expect_override_error("training.epoch=3",
                          "--set training.epoch=3: training.epoch: unknown key (did you mean "
                          "'epochs'?)");
    expect_override_error("trainig.epochs=3",
                          "--set trainig.epochs=3: trainig: unknown key (did you mean "
                          "'training'?)");
    expect_override_error("training.epochs", "--set training.epochs: expected key.path=value");
    expect_override_error("=3", "--set =3: expected key.path=value");
    expect_override_error("training.epochs=ten",
                          "--set training.epochs=ten: training.epochs: expected an integer in [1, "
                          "100000], got 'ten'");
    expect_override_error("training.epochs=", "training.epochs: expected an integer in [1, "
                                              "100000], got ''");
    expect_override_error("model.layers.5.out=3",
                          "--set model.layers.5.out=3: model.layers: expected an index in [0, 1] "
                          "into the sequence");
    expect_override_error("model.layers.x.out=3", "model.layers: expected an index in [0, 1]");
    expect_override_error("training..epochs=3",
                          "--set training..epochs=3: empty component in the key path");
    expect_override_error("training.epochs.x=3",
                          "--set training.epochs.x=3: training.epochs: cannot set 'x' inside '2'");
    expect_override_error("optimizer.lr=[1e-3,",
                          "--set optimizer.lr=[1e-3,: YAML syntax error in the value");
    expect_override_error("optimizer.lr=[1e-3, 5e-4, 1e-4]",
                          "--set optimizer.lr=[1e-3, 5e-4, 1e-4]: optimizer.lr: expected one "
                          "learning rate or one per layer (the model has 2 layers), got a list "
                          "of 3");
    expect_override_error("model=[1, 2]", "--set model=[1, 2]: model: expected a path to a model "
                                          "file or a model map, got a sequence");
    const char *ov_missing[] = {"model=nope.yaml"};
    eqs_experiment_config c, before;
    eqs_err err = {0};
    const char *p = put("exp.yaml", base_exp);
    CHECK_ERR(eqs_experiment_load(&c, p, ov_missing, 1, &err), EQS_EIO, err,
              "--set model=nope.yaml: model: cannot open '");

    /* on error, *out is left untouched */
    memset(&c, 0x5a, sizeof c);
    before = c;
    const char *ov[] = {"training.epochs=3", "training.epochs=0"};
    CHECK_ERR(eqs_experiment_load(&c, p, ov, 2, &err), EQS_ECONFIG, err,
              "--set training.epochs=0: training.epochs");
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    CHECK_ERR(eqs_experiment_load(&c, p, NULL, 1, &err), EQS_EINVAL, err, "invalid arguments");
}

/* ---- the resolved config ----------------------------------------------------------------- */

static void round_trip(const char *path, const char *const *ov, int n_ov)
{
    eqs_experiment_config a, b;
    eqs_err err = {0};
    char out[600], line[128] = "";
    CHECK_OK(eqs_experiment_load(&a, path, ov, n_ov, &err), err);
    snprintf(out, sizeof out, "%s/resolved.yaml", tmp_dir);
    FILE *f = fopen(out, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_OK(eqs_experiment_write(&a, f, &err), err);
    fclose(f);
    f = fopen(out, "r");
    if (f && fgets(line, sizeof line, f))
        CHECK(strcmp(line, "# resolved by eqsim; run again with: eqsim train <this file>\n") == 0);
    if (f)
        fclose(f);
    CHECK_OK(eqs_experiment_load(&b, out, NULL, 0, &err), err);
    check_same_experiment(&a, &b);
    CHECK(b.model.source_path[0] == '\0');
    remove(out);
}

static void test_round_trip(void)
{
    char full[600];
    snprintf(full, sizeof full, "%s/full.yaml", tmp_dir);
    round_trip(full, NULL, 0);
    const char *ov[] = {"name='odd: \"name\" #1\\'", "training.seed=12345678901234567",
                        "optimizer.lr=[0.1, 0.30000000000000004]", "data.mean=-1e-300",
                        "model.name=\"true\""};
    round_trip(full, ov, 5);
    const char *p = put("exp.yaml", base_exp);
    round_trip(p, NULL, 0);
    const char *ov2[] = {"model.input={channels: 3, height: 4, width: 5}", "data.dir=rel/dir"};
    round_trip(p, ov2, 2);
}

/* ---- the project's own files ------------------------------------------------------------- */

static int is_yaml(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

static void load_all_in(const char *src, const char *sub, int experiments)
{
    char dir[PATH_MAX], path[PATH_MAX + 256];
    snprintf(dir, sizeof dir, "%s/%s", src, sub);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!is_yaml(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        eqs_err err = {0};
        eqs_experiment_config c;
        eqs_model_config m;
        eqs_status st = experiments ? eqs_experiment_load(&c, path, NULL, 0, &err)
                                    : eqs_model_load(&m, path, &err);
        CHECK_MSG(st == EQS_OK, "%s: %s", path, err.msg);
    }
    closedir(d);
}

static void test_repo_configs(void)
{
    const char *src = getenv("EQS_SOURCE_DIR");
    if (!src)
        return;
    load_all_in(src, "experiments", 1);
    load_all_in(src, "models", 0);
}

/* The reference's MNIST conv CRNN: 1-32-64, 5x5 kernels, no padding, 2x2 max pools. */
static const char *const conv_model = "schema: eqs.model/1\n"
                                      "name: conv\n"
                                      "input: {channels: 1, height: 28, width: 28}\n"
                                      "layers:\n"
                                      "  - {type: conv, out: 32, kernel: 5, pool: max}\n"
                                      "  - {type: conv, out: 64, kernel: 5, pool: max}\n"
                                      "  - {out: 10}\n"
                                      "loss: mse\n"
                                      "readout: activation\n";

static void expect_model_error(const char *find, const char *repl, const char *needle)
{
    char text[2048];
    const char *at = strstr(conv_model, find);
    CHECK(at != NULL);
    if (!at)
        return;
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - conv_model), conv_model, repl,
             at + strlen(find));
    eqs_model_config m;
    eqs_err err = {0};
    CHECK_ERR(eqs_model_load(&m, put("conv.yaml", text), &err), EQS_ECONFIG, err, needle);
}

static void test_conv_layers(void)
{
    eqs_model_config m;
    eqs_err err = {0};
    CHECK_OK(eqs_model_load(&m, put("conv.yaml", conv_model), &err), err);
    CHECK(m.layers[0].type == EQS_LAYER_CONV && strcmp(m.layers[0].name, "conv1") == 0);
    CHECK(strcmp(m.layers[1].name, "conv2") == 0 && strcmp(m.layers[2].name, "fc1") == 0);
    CHECK(m.layers[0].kernel == 5 && m.layers[0].padding == 0 && m.layers[0].pool_size == 2);
    CHECK(m.layers[0].pool == EQS_POOL_MAX);
    /* 28 -5+1 = 24, pooled 12; 12 -5+1 = 8, pooled 4; then 10 dense units */
    CHECK(m.layers[0].out_c == 32 && m.layers[0].out_h == 12 && m.layers[0].out_w == 12);
    CHECK(m.layers[1].out_c == 64 && m.layers[1].out_h == 4 && m.layers[1].out_w == 4);
    CHECK(m.layers[2].out_c == 10 && m.layers[2].out_h == 1 && m.layers[2].out_w == 1);
    expect_model_error("out: 32, kernel: 5, pool: max", "out: 32, pool: max",
                       "conv.yaml:5:5: layers.0.kernel: required key is missing");
    expect_model_error("{out: 10}", "{out: 10, kernel: 3}",
                       "conv.yaml:7:23: layers.2.kernel: only conv layers take this key");
    expect_model_error(
        "  - {out: 10}\n", "  - {out: 10}\n  - {type: conv, out: 4, kernel: 1}\n",
        "conv.yaml:8:5: layers.3: the last layer gives the class scores and must be dense");
    expect_model_error("  - {type: conv, out: 64", "  - {out: 5}\n  - {type: conv, out: 64",
                       "conv.yaml:7:5: layers.2: a conv layer cannot follow a dense layer");
    expect_model_error("out: 64, kernel: 5", "out: 64, kernel: 13",
                       "a 12x12 input with kernel 13, padding 0 and pooling 2 leaves no output");
    expect_model_error(
        "pool: max}\n  - {type", "pool: maximum}\n  - {type",
        "conv.yaml:5:44: layers.0.pool: expected one of none, max, avg, got 'maximum'");
    expect_model_error("readout: activation\n", "readout: activation\nfeedback: mirrored\n",
                       "feedback: expected one of symmetric, asymmetric, got 'mirrored'");
    put("conv.yaml", conv_model);
    char exp[4096];
    snprintf(exp, sizeof exp,
             "schema: eqs.experiment/1\nname: c\nmodel: conv.yaml\nalgorithm: {name: ep, t1: 5, "
             "t2: 2}\noptimizer: {name: sgd, lr: 0.1}\ntraining: {epochs: 1, batch_size: 2}\n");
    const char *ov[] = {"model.layers.1.padding=2"};
    round_trip(put("conv_exp.yaml", exp), ov, 1);
    const char *asym[] = {"model.feedback=asymmetric", "algorithm.rule=kp_vf"};
    round_trip(put("conv_exp.yaml", exp), asym, 2);
    eqs_experiment_config cfg;
    CHECK_ERR(eqs_experiment_load(&cfg, put("conv_exp.yaml", exp), asym, 1, &err), EQS_ECONFIG, err,
              "algorithm.rule: model.feedback is asymmetric: expected vf or kp_vf, got ep");
    CHECK_ERR(eqs_experiment_load(&cfg, put("conv_exp.yaml", exp), asym + 1, 1, &err), EQS_ECONFIG,
              err, "model.feedback is symmetric: expected ep, got kp_vf");
}

static void test_names(void)
{
    CHECK(strcmp(eqs_activation_name(EQS_ACT_HARD_SIGMOID_HALF), "hard_sigmoid_half") == 0);
    CHECK(strcmp(eqs_activation_name((eqs_activation)99), "?") == 0);
    CHECK(strcmp(eqs_loss_name(EQS_LOSS_CROSS_ENTROPY), "cross_entropy") == 0);
    CHECK(strcmp(eqs_readout_name(EQS_READOUT_SOFTMAX), "softmax") == 0);
    CHECK(strcmp(eqs_algorithm_name(EQS_ALGO_BPTT), "bptt") == 0);
    CHECK(strcmp(eqs_estimator_name(EQS_EST_RANDOM_SIGN), "random_sign") == 0);
    CHECK(strcmp(eqs_optimizer_name(EQS_OPT_ADAM), "adam") == 0);
    CHECK(strcmp(eqs_schedule_name(EQS_SCHED_COSINE), "cosine") == 0);
}

/* ---- PEPITA, relu, bias, sgd_lr_in_momentum, the step schedule ---------------------------- */

/* Line numbers matter: 8 the hidden layer, 12 readout, 13 bias, 16-18 the pepita_* keys,
 * 20 optimizer name, 23 schedule, 24 milestones, 25 gamma. */
static const char *const pepita_exp = "schema: eqs.experiment/1\n"
                                      "name: pep\n"
                                      "model:\n"
                                      "  schema: eqs.model/1\n"
                                      "  name: pep-net\n"
                                      "  input: {features: 784}\n"
                                      "  layers:\n"
                                      "    - {out: 32, dropout: 0.1}\n"
                                      "    - {out: 10}\n"
                                      "  activation: relu\n"
                                      "  loss: cross_entropy\n"
                                      "  readout: softmax\n"
                                      "  bias: false\n"
                                      "algorithm:\n"
                                      "  name: pepita\n"
                                      "  pepita_modulation: random\n"
                                      "  pepita_f_scale: 0.1\n"
                                      "  pepita_random_scale: 0.5\n"
                                      "optimizer:\n"
                                      "  name: sgd_lr_in_momentum\n"
                                      "  lr: 0.01\n"
                                      "  momentum: 0.9\n"
                                      "  schedule: step\n"
                                      "  milestones: [2, 5]\n"
                                      "  gamma: 0.5\n"
                                      "training:\n"
                                      "  epochs: 8\n"
                                      "  batch_size: 64\n";

static const char *pepita_with(const char *find, const char *repl)
{
    static char text[4096];
    const char *at = strstr(pepita_exp, find);
    if (!at) {
        fprintf(stderr, "fixture: '%s' not in pepita_exp\n", find);
        exit(2);
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - pepita_exp), pepita_exp, repl,
             at + strlen(find));
    return put("pep.yaml", text);
}

static void expect_pepita_error(const char *find, const char *repl, const char *needle)
{
    eqs_experiment_config cfg;
    eqs_err err = {0};
    CHECK_ERR(eqs_experiment_load(&cfg, pepita_with(find, repl), NULL, 0, &err), EQS_ECONFIG, err,
              needle);
}

static void test_pepita_keys(void)
{
    eqs_experiment_config c;
    eqs_err err = {0};
    const char *p = put("pep.yaml", pepita_exp);
    CHECK_OK(eqs_experiment_load(&c, p, NULL, 0, &err), err);
    CHECK(c.model.activation == EQS_ACT_RELU && c.model.no_bias == 1);
    CHECK(c.algorithm.name == EQS_ALGO_PEPITA && c.algorithm.t1 == 1 && c.algorithm.t2 == 1);
    CHECK(c.algorithm.pepita_modulation == EQS_PEPITA_MOD_RANDOM);
    CHECK(c.algorithm.pepita_f_scale == 0.1 && c.algorithm.pepita_random_scale == 0.5);
    CHECK(c.optimizer.kind == EQS_OPT_SGD_LR_IN_MOMENTUM && c.optimizer.schedule == EQS_SCHED_STEP);
    CHECK(c.optimizer.n_milestones == 2 && c.optimizer.milestones[0] == 2 &&
          c.optimizer.milestones[1] == 5 && c.optimizer.gamma == 0.5);
    round_trip(p, NULL, 0);
    const char *ov[] = {"optimizer.milestones=[3, 7, 9]", "model.bias=true",
                        "algorithm.pepita_modulation=none", "algorithm.pepita_random_scale=0.25",
                        "optimizer.gamma=0.3"};
    round_trip(p, ov, 5);
    const char *scalar[] = {"optimizer.milestones=60"};
    CHECK_OK(eqs_experiment_load(&c, p, scalar, 1, &err), err);
    CHECK(c.optimizer.n_milestones == 1 && c.optimizer.milestones[0] == 60);
    const char *conv[] = {"model.input={channels: 1, height: 8, width: 8}",
                          "model.layers.0={type: conv, out: 4, kernel: 3, pool: max}"};
    CHECK_OK(eqs_experiment_load(&c, p, conv, 2, &err), err); /* the paper's §3.3 */
    CHECK(c.model.layers[0].type == EQS_LAYER_CONV && c.algorithm.name == EQS_ALGO_PEPITA);
    CHECK_OK(eqs_experiment_load(&c, put("exp.yaml", base_exp), NULL, 0, &err), err);
    CHECK(c.model.no_bias == 0 && c.algorithm.pepita_modulation == EQS_PEPITA_MOD_ERROR);
    CHECK(c.algorithm.pepita_f_scale == 0.05 && c.algorithm.pepita_random_scale == 1);
    CHECK(c.optimizer.n_milestones == 0 && c.optimizer.gamma == 0.1);

    expect_pepita_error("random", "sometimes",
                        "pep.yaml:16:22: algorithm.pepita_modulation: expected one of error, none, "
                        "random, got 'sometimes'");
    expect_pepita_error("f_scale: 0.1", "f_scale: -1",
                        "pep.yaml:17:19: algorithm.pepita_f_scale: expected a number >= 0, got "
                        "'-1'");
    expect_pepita_error("random_scale: 0.5", "random_scale: 0",
                        "pep.yaml:18:24: algorithm.pepita_random_scale: expected a number > 0, "
                        "got '0'");
    expect_pepita_error("[2, 5]", "[5, 2]",
                        "pep.yaml:24:19: optimizer.milestones.1: expected epochs in increasing "
                        "order, got '2' after 5");
    expect_pepita_error("[2, 5]", "[0, 5]",
                        "pep.yaml:24:16: optimizer.milestones.0: expected an integer in [1, "
                        "100000], got '0'");
    expect_pepita_error("[2, 5]", "{at: 2}",
                        "pep.yaml:24:15: optimizer.milestones: expected an epoch or a list of at "
                        "most 16 epochs, got a map");
    expect_pepita_error("[2, 5]", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]",
                        "optimizer.milestones: expected an epoch or a list of at most 16 epochs, "
                        "got a longer list");
    expect_pepita_error("gamma: 0.5", "gamma: 0",
                        "pep.yaml:25:10: optimizer.gamma: expected a number > 0, got '0'");
    expect_pepita_error("  milestones: [2, 5]\n", "",
                        "pep.yaml:23:13: optimizer.schedule: schedule step needs "
                        "optimizer.milestones");
    expect_pepita_error("bias: false", "bias: maybe",
                        "pep.yaml:13:9: model.bias: expected true or false, got 'maybe'");
    expect_pepita_error("readout: softmax", "readout: activation",
                        "pep.yaml:12:12: model.readout: algorithm pepita needs readout softmax");
    expect_pepita_error("bias: false", "bias: false\n  feedback: asymmetric",
                        "pep.yaml:14:13: model.feedback: algorithm pepita has no backward "
                        "weights: expected symmetric, got 'asymmetric'");
    expect_pepita_error("sgd_lr_in_momentum", "sgd_lr_in_momentm",
                        "optimizer.name: expected one of sgd, adam, sgd_lr_in_momentum, got "
                        "'sgd_lr_in_momentm' (did you mean 'sgd_lr_in_momentum'?)");
    expect_pepita_error("schedule: step", "schedule: steps",
                        "expected one of constant, cosine, step, got 'steps' (did you mean "
                        "'step'?)");
    expect_pepita_error("activation: relu", "activation: rleu", "(did you mean 'relu'?)");
    expect_pepita_error("name: pepita", "name: ep",
                        "pep.yaml:15:3: algorithm.t1: required key is missing (algorithm ep "
                        "needs it)");
    expect_config_error("  t2: 4\n", "",
                        "exp.yaml:13:3: algorithm.t2: required key is missing (algorithm ep "
                        "needs it)");
    expect_override_error("optimizer.schedule=step",
                          "--set optimizer.schedule=step: optimizer.schedule: schedule step needs "
                          "optimizer.milestones");

    CHECK(strcmp(eqs_activation_name(EQS_ACT_RELU), "relu") == 0);
    CHECK(strcmp(eqs_algorithm_name(EQS_ALGO_PEPITA), "pepita") == 0);
    CHECK(strcmp(eqs_optimizer_name(EQS_OPT_SGD_LR_IN_MOMENTUM), "sgd_lr_in_momentum") == 0);
    CHECK(strcmp(eqs_schedule_name(EQS_SCHED_STEP), "step") == 0);
    CHECK(strcmp(eqs_pepita_modulation_name(EQS_PEPITA_MOD_NONE), "none") == 0);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/eqs_test_config_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_full_experiment();
    test_defaults();
    test_model_load();
    test_number_errors();
    test_key_errors();
    test_file_errors();
    test_model_errors();
    test_model_file_errors();
    test_overrides();
    test_override_errors();
    test_round_trip();
    test_repo_configs();
    test_conv_layers();
    test_names();
    test_pepita_keys();
    remove_created();
    EQS_TEST_MAIN_END("test_config");
}
