/* config.c — model and experiment configs.
 *
 * Pipeline: libyaml's document API (yaml_parser_load) → a small tree of our own whose every node
 * keeps its origin (file, or "--set <text>") and 1-based line:col → the model and hardware files
 * grafted under `model:` and `hardware:` → `--set` overrides edited into the tree → the tree
 * walked against schema tables (one row per key) into a temporary struct → cross-field checks →
 * copied to the caller on success. The generic machinery is in schema.c; the hardware section is
 * validated by hwconfig.c.
 */
#include "eqs/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

#define MAX_FEATURES     10000000
#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MODEL_SCHEMA     "eqs.model/1"
#define EXP_SCHEMA       "eqs.experiment/1"

/* Enum fields are written through an int; GCC gives these enums the size of int. */
_Static_assert(sizeof(eqs_activation) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_layer_type) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pool) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_feedback) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_rule) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_data_format) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pepita_modulation) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_optimizer_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_schedule) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_local_signal) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_lambda_schedule) == sizeof(int), "enum size");

/* ---- enum names (indexed by value) ------------------------------------------------------- */

static const char *const activation_names[] = {"hard_sigmoid", "hard_sigmoid_half", "sigmoid",
                                               "tanh", "relu"};
static const char *const loss_names[] = {"mse", "cross_entropy"};
static const char *const readout_names[] = {"activation", "linear", "softmax"};
static const char *const layer_type_names[] = {"dense", "conv"};
static const char *const pool_names[] = {"none", "max", "avg"};
static const char *const algorithm_names[] = {"ep", "bptt", "pepita"};
static const char *const rule_names[] = {"ep", "vf", "kp_vf"};
static const char *const data_format_names[] = {"mnist", "cifar10"};
static const char *const feedback_names[] = {"symmetric", "asymmetric"};
static const char *const estimator_names[] = {"one_sided", "random_sign", "symmetric"};
static const char *const optimizer_names[] = {"sgd", "adam", "sgd_lr_in_momentum"};
static const char *const schedule_names[] = {"constant", "cosine", "step"};
static const char *const pepita_modulation_names[] = {"error", "none", "random"};
static const char *const local_signal_names[] = {"le", "kd"};
static const char *const lambda_schedule_names[] = {"constant", "linear", "exponential", "cosine"};

const char *eqs_activation_name(eqs_activation a)
{
    return cfg_enum_name(activation_names, N_OF(activation_names), (int)a);
}

const char *eqs_loss_name(eqs_loss l)
{
    return cfg_enum_name(loss_names, N_OF(loss_names), (int)l);
}

const char *eqs_readout_name(eqs_readout r)
{
    return cfg_enum_name(readout_names, N_OF(readout_names), (int)r);
}

const char *eqs_algorithm_name(eqs_algorithm a)
{
    return cfg_enum_name(algorithm_names, N_OF(algorithm_names), (int)a);
}

const char *eqs_estimator_name(eqs_estimator e)
{
    return cfg_enum_name(estimator_names, N_OF(estimator_names), (int)e);
}

const char *eqs_data_format_name(eqs_data_format f)
{
    return cfg_enum_name(data_format_names, N_OF(data_format_names), (int)f);
}

const char *eqs_rule_name(eqs_rule r)
{
    return cfg_enum_name(rule_names, N_OF(rule_names), (int)r);
}

const char *eqs_feedback_name(eqs_feedback f)
{
    return cfg_enum_name(feedback_names, N_OF(feedback_names), (int)f);
}

const char *eqs_optimizer_name(eqs_optimizer_kind o)
{
    return cfg_enum_name(optimizer_names, N_OF(optimizer_names), (int)o);
}

const char *eqs_schedule_name(eqs_schedule s)
{
    return cfg_enum_name(schedule_names, N_OF(schedule_names), (int)s);
}

const char *eqs_pepita_modulation_name(eqs_pepita_modulation m)
{
    return cfg_enum_name(pepita_modulation_names, N_OF(pepita_modulation_names), (int)m);
}

const char *eqs_local_signal_name(eqs_local_signal s)
{
    return cfg_enum_name(local_signal_names, N_OF(local_signal_names), (int)s);
}

const char *eqs_lambda_schedule_name(eqs_lambda_schedule s)
{
    return cfg_enum_name(lambda_schedule_names, N_OF(lambda_schedule_names), (int)s);
}

const char *eqs_layer_type_name(eqs_layer_type t)
{
    return cfg_enum_name(layer_type_names, N_OF(layer_type_names), (int)t);
}

const char *eqs_pool_name(eqs_pool p)
{
    return cfg_enum_name(pool_names, N_OF(pool_names), (int)p);
}

static const key_spec model_keys[] = {
    ROW_CUSTOM("schema", 1, "must be " MODEL_SCHEMA),
    ROW_STR("name", eqs_model_config, name, 1, "", "model name"),
    ROW_CUSTOM("input", 1, "{features: N} or {channels: C, height: H, width: W}"),
    ROW_CUSTOM("layers", 1, "weight layers, the readout included"),
    ROW_ENUM("activation", eqs_model_config, activation, 0, 0, activation_names, "sigma"),
    ROW_ENUM("loss", eqs_model_config, loss, 1, 0, loss_names, "cost function"),
    ROW_ENUM("readout", eqs_model_config, readout, 1, 0, readout_names, "output layer kind"),
    ROW_ENUM("feedback", eqs_model_config, feedback, 0, 0, feedback_names, "backward weights"),
    ROW_CUSTOM("bias", 0, "true (default) or false: layers without biases"),
};

/* "bias" is stored negated (eqs_model_config.no_bias), so it is read through its own row. */
typedef struct model_flags {
    int32_t bias;
} model_flags;

static const key_spec model_flag_keys[] = {
    ROW_BOOL("bias", model_flags, bias, 1, "biases b_k"),
};

typedef struct input_fields {
    int32_t features, channels, height, width;
} input_fields;

static const key_spec input_keys[] = {
    ROW_I32("features", input_fields, features, 0, 0, 1, MAX_FEATURES, "flat input size"),
    ROW_I32("channels", input_fields, channels, 0, 0, 1, 65536, "image channels"),
    ROW_I32("height", input_fields, height, 0, 0, 1, 65536, "image height"),
    ROW_I32("width", input_fields, width, 0, 0, 1, 65536, "image width"),
};

static const key_spec layer_keys[] = {
    ROW_ENUM("type", eqs_layer_config, type, 0, 0, layer_type_names, "layer kind"),
    ROW_CUSTOM("name", 0, "[A-Za-z0-9_]+, default fc<k>"),
    ROW_I32("out", eqs_layer_config, n_out, 1, 0, 1, 1000000, "units or output channels"),
    ROW_I32("kernel", eqs_layer_config, kernel, 0, 0, 1, 64, "conv: kernel size"),
    ROW_I32("padding", eqs_layer_config, padding, 0, 0, 0, 64, "conv: zero padding"),
    ROW_ENUM("pool", eqs_layer_config, pool, 0, 0, pool_names, "conv: pooling"),
    ROW_I32("pool_size", eqs_layer_config, pool_size, 0, 2, 1, 64, "conv: pooling window"),
    ROW_F64("dropout", eqs_layer_config, dropout, 0, 0, 1, OPEN_HI, "drop probability"),
};

/* Keys that only a conv layer may carry (index into layer_keys). */
static const char *const conv_only_keys[] = {"kernel", "padding", "pool", "pool_size"};

static const key_spec experiment_keys[] = {
    ROW_CUSTOM("schema", 1, "must be " EXP_SCHEMA),
    ROW_STR("name", eqs_experiment_config, name, 1, "", "experiment name"),
    ROW_CUSTOM("model", 1, "model file path or inline model map"),
    ROW_CUSTOM("data", 0, "dataset"),
    ROW_CUSTOM("algorithm", 1, "gradient estimator"),
    ROW_CUSTOM("optimizer", 1, "parameter update"),
    ROW_CUSTOM("training", 1, "loop settings"),
    ROW_CUSTOM("hardware", 0, "hwconfig file path or inline hwconfig map"),
};

static const key_spec data_keys[] = {
    ROW_ENUM("format", eqs_data_config, format, 0, 0, data_format_names, "file format"),
    ROW_STR("dir", eqs_data_config, dir, 0, DEFAULT_DATA_DIR, "folder of the data files"),
    ROW_I32("train_subset", eqs_data_config, train_subset, 0, 0, 0, INT32_MAX, "0 = all"),
    ROW_I32("test_subset", eqs_data_config, test_subset, 0, 0, 0, INT32_MAX, "0 = all"),
    ROW_BOOL("normalize", eqs_data_config, normalize, 0, "(x - mean)/std"),
    ROW_F64("mean", eqs_data_config, mean, 0.2860, 0, 0, NO_LO | NO_HI, "pixel mean"),
    ROW_F64("std", eqs_data_config, std, 0.3530, 0, 0, OPEN_LO | NO_HI, "pixel std"),
    ROW_BOOL("augment", eqs_data_config, augment, 0, "cifar10: flip + crop"),
};

static const key_spec algorithm_keys[] = {
    ROW_ENUM("name", eqs_algorithm_config, name, 1, 0, algorithm_names, "ep or bptt"),
    ROW_ENUM("estimator", eqs_algorithm_config, estimator, 0, EQS_EST_SYMMETRIC, estimator_names,
             "EP gradient estimate"),
    ROW_ENUM("rule", eqs_algorithm_config, rule, 0, 0, rule_names, "EP learning rule"),
    ROW_F64("beta", eqs_algorithm_config, beta, 0.1, 0, 100, OPEN_LO, "nudging strength"),
    /* required for ep and bptt (validate_algorithm); pepita ignores them */
    ROW_I32("t1", eqs_algorithm_config, t1, 0, 1, 1, 100000, "free-phase steps"),
    ROW_I32("t2", eqs_algorithm_config, t2, 0, 1, 1, 100000, "nudged-phase steps"),
    ROW_I32("bptt_truncate", eqs_algorithm_config, bptt_truncate, 0, 0, 0, 100000,
            "last K steps, 0 = all; at most t1"),
    ROW_ENUM("pepita_modulation", eqs_algorithm_config, pepita_modulation, 0, 0,
             pepita_modulation_names, "PEPITA: what modulates the input"),
    ROW_F64("pepita_f_scale", eqs_algorithm_config, pepita_f_scale, 0.05, 0, 0, NO_HI,
            "PEPITA: F bound / sqrt(6 / n_features)"),
    ROW_F64("pepita_random_scale", eqs_algorithm_config, pepita_random_scale, 1, 0, 0,
            OPEN_LO | NO_HI, "PEPITA: k of the random modulation"),
    ROW_CUSTOM("local_error", 0, "EP: intermediate error signals (docs/local-error.md)"),
};

static const key_spec local_error_keys[] = {
    ROW_CUSTOM("layers", 1, "names of the dynamic layers that get a local readout"),
    ROW_ENUM("signal", eqs_local_error_config, signal, 0, 0, local_signal_names, "le or kd"),
    ROW_F64("tau", eqs_local_error_config, tau, 4, 0, 0, OPEN_LO | NO_HI, "temperature"),
    ROW_F64("lambda0", eqs_local_error_config, lambda0, 1, 0, 0, NO_HI, "initial weight"),
    ROW_F64("lambda_min", eqs_local_error_config, lambda_min, 0, 0, 0, NO_HI, "final weight"),
    ROW_ENUM("schedule", eqs_local_error_config, schedule, 0, 0, lambda_schedule_names,
             "lambda per epoch"),
    ROW_F64("gamma", eqs_local_error_config, gamma, 0.9, 0, 1, OPEN_LO, "exponential decay"),
    ROW_CUSTOM("teacher", 0, "kd: teacher logits .npy, one for all layers or one per layer"),
    ROW_BOOL("weighted", eqs_local_error_config, weighted, 0, "train P_l (weighted KD)"),
    ROW_F64("readout_lr", eqs_local_error_config, readout_lr, 0.01, 0, 0, OPEN_LO | NO_HI,
            "weighted: SGD step of P_l"),
};

static const key_spec optimizer_keys[] = {
    ROW_ENUM("name", eqs_optimizer_config, kind, 1, 0, optimizer_names, "sgd or adam"),
    ROW_CUSTOM("lr", 1, "positive number or one per layer"),
    ROW_F64("momentum", eqs_optimizer_config, momentum, 0, 0, 1, OPEN_HI, "SGD momentum"),
    ROW_F64("weight_decay", eqs_optimizer_config, weight_decay, 0, 0, 0, NO_HI, "L2"),
    ROW_F64("adam_beta1", eqs_optimizer_config, adam_beta1, 0.9, 0, 1, OPEN_HI, "Adam beta1"),
    ROW_F64("adam_beta2", eqs_optimizer_config, adam_beta2, 0.999, 0, 1, OPEN_HI, "Adam beta2"),
    ROW_F64("adam_eps", eqs_optimizer_config, adam_eps, 1e-8, 0, 0, OPEN_LO | NO_HI, "Adam eps"),
    ROW_ENUM("schedule", eqs_optimizer_config, schedule, 0, 0, schedule_names, "lr schedule"),
    ROW_F64("lr_final_frac", eqs_optimizer_config, lr_final_frac, 0, 0, 1, 0, "cosine end"),
    ROW_I32("schedule_epochs", eqs_optimizer_config, schedule_epochs, 0, 0, 0, INT32_MAX,
            "cosine period, 0 = epochs"),
    ROW_CUSTOM("milestones", 0, "step: epochs after which lr is multiplied by gamma"),
    ROW_F64("gamma", eqs_optimizer_config, gamma, 0.1, 0, 0, OPEN_LO | NO_HI, "step: factor"),
};

static const key_spec lr_item = {.name = "lr", .type = KEY_F64, .bounds = OPEN_LO | NO_HI};
static const key_spec milestone_item = {
    .name = "milestones", .type = KEY_I32, .lo = 1, .hi = 100000};

static const key_spec training_keys[] = {
    ROW_I32("epochs", eqs_training_config, epochs, 1, 0, 1, 100000, "passes over the data"),
    ROW_I32("batch_size", eqs_training_config, batch_size, 1, 0, 1, 65536, "training batch"),
    ROW_I32("eval_batch_size", eqs_training_config, eval_batch_size, 0, 1000, 1, 65536,
            "evaluation batch"),
    ROW_U64("seed", eqs_training_config, seed, "Philox seed"),
    ROW_I32("threads", eqs_training_config, threads, 0, 1, 1, 256, "worker threads"),
    ROW_BOOL("log_updates", eqs_training_config, log_updates, 0, "per-layer update RMS"),
};

#define MODEL_HINT "a model file starts with 'schema: " MODEL_SCHEMA "'"
#define EXP_HINT   "an experiment file starts with 'schema: " EXP_SCHEMA "'"

/* ---- the model --------------------------------------------------------------------------- */

static eqs_status parse_input(loader *ld, const node *in, const char *path, eqs_model_config *m)
{
    char p[KEYPATH_LEN], p2[KEYPATH_LEN];
    cfg_child_path(p, path, "input");
    eqs_status st = cfg_check_map(ld, in, p, input_keys, N_OF(input_keys));
    if (st != EQS_OK)
        return st;
    int has_features = cfg_map_get(in, "features") != NULL;
    int n_chw = (cfg_map_get(in, "channels") != NULL) + (cfg_map_get(in, "height") != NULL) +
                (cfg_map_get(in, "width") != NULL);
    if (has_features && n_chw)
        return cfg_fail(ld, in, p, "give either features or channels, height and width, not both");
    if (!has_features && n_chw == 0)
        return cfg_fail(ld, in, p,
                        "expected {features: N} or {channels: C, height: H, width: W}, got an "
                        "empty map");
    for (int i = 1; !has_features && i < N_OF(input_keys); i++) {
        cfg_child_path(p2, p, input_keys[i].name);
        if (!cfg_map_get(in, input_keys[i].name))
            return cfg_fail(ld, in, p2,
                            "required key is missing (channels, height and width go "
                            "together)");
    }
    input_fields f;
    if ((st = cfg_fill_fields(ld, in, p, input_keys, N_OF(input_keys), &f)) != EQS_OK)
        return st;
    m->in_channels = has_features ? 1 : f.channels;
    m->in_height = has_features ? 1 : f.height;
    m->in_width = has_features ? f.features : f.width;
    long long total = (long long)m->in_channels * m->in_height * m->in_width;
    if (total > MAX_FEATURES)
        return cfg_fail(ld, in, p, "channels*height*width = %lld exceeds %d", total, MAX_FEATURES);
    m->n_features = (int32_t)total;
    return EQS_OK;
}

static int is_identifier(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static eqs_status check_layer_kind_keys(loader *ld, const node *map, const char *path,
                                        const eqs_layer_config *layer)
{
    char p[KEYPATH_LEN];
    if (layer->type == EQS_LAYER_CONV && !cfg_map_get(map, "kernel")) {
        cfg_child_path(p, path, "kernel");
        return cfg_fail(ld, map, p, "required key is missing (a conv layer needs its kernel size)");
    }
    for (int i = 0; layer->type == EQS_LAYER_DENSE && i < N_OF(conv_only_keys); i++) {
        const node *v = cfg_map_get(map, conv_only_keys[i]);
        if (v) {
            cfg_child_path(p, path, conv_only_keys[i]);
            return cfg_fail(ld, v, p, "only conv layers take this key (this layer is dense)");
        }
    }
    return EQS_OK;
}

/* Fills the layer's fields; a layer without a name gets "" (parse_layers names it). */
static eqs_status parse_layer(loader *ld, const node *map, const char *path,
                              eqs_layer_config *layer)
{
    eqs_status st = cfg_check_map(ld, map, path, layer_keys, N_OF(layer_keys));
    if (st == EQS_OK)
        st = cfg_fill_fields(ld, map, path, layer_keys, N_OF(layer_keys), layer);
    if (st == EQS_OK)
        st = check_layer_kind_keys(ld, map, path, layer);
    if (st != EQS_OK)
        return st;
    const node *name = cfg_map_get(map, "name");
    if (!name) {
        layer->name[0] = '\0';
        return EQS_OK;
    }
    char p[KEYPATH_LEN], got[96];
    cfg_child_path(p, path, "name");
    if (name->kind != NODE_SCALAR || !is_identifier(name->text) ||
        strlen(name->text) >= sizeof layer->name)
        return cfg_fail(
            ld, name, p,
            "expected a name of letters, digits and '_' (at most %zu characters), got %s",
            sizeof layer->name - 1, cfg_describe(name, got, sizeof got));
    memcpy(layer->name, name->text, strlen(name->text) + 1);
    return EQS_OK;
}

/* Fills out_c/out_h/out_w of every layer from the input shape, checking that conv layers come
 * first and that every convolution and pooling leaves at least one pixel. */
static eqs_status derive_shapes(loader *ld, const node *seq, const char *path, eqs_model_config *m)
{
    int32_t h = m->in_height, w = m->in_width;
    if (m->layers[m->n_layers - 1].type != EQS_LAYER_DENSE) {
        char lp[KEYPATH_LEN];
        cfg_index_path(lp, path, m->n_layers - 1);
        return cfg_fail(ld, seq->vals[m->n_layers - 1], lp,
                        "the last layer gives the class scores and must be dense");
    }
    for (int i = 0; i < m->n_layers; i++) {
        eqs_layer_config *l = &m->layers[i];
        char lp[KEYPATH_LEN];
        cfg_index_path(lp, path, i);
        if (l->type == EQS_LAYER_DENSE) {
            l->out_c = l->n_out;
            l->out_h = l->out_w = 1;
        } else if (i > 0 && m->layers[i - 1].type == EQS_LAYER_DENSE) {
            return cfg_fail(ld, seq->vals[i], lp, "a conv layer cannot follow a dense layer");
        } else {
            int32_t ch = h + 2 * l->padding - l->kernel + 1,
                    cw = w + 2 * l->padding - l->kernel + 1;
            int32_t f = l->pool == EQS_POOL_NONE ? 1 : l->pool_size;
            if (ch < 1 || cw < 1 || ch / f < 1 || cw / f < 1)
                return cfg_fail(ld, seq->vals[i], lp,
                                "a %dx%d input with kernel %d, padding %d and pooling %d leaves no "
                                "output pixel",
                                h, w, l->kernel, l->padding, f);
            l->out_c = l->n_out;
            l->out_h = ch / f;
            l->out_w = cw / f;
        }
        h = l->out_h;
        w = l->out_w;
    }
    return EQS_OK;
}

/* Layer names become parameter file names (<name>.weight), so they must be unique. */
static eqs_status check_layer_names(loader *ld, const node *seq, const char *path,
                                    const eqs_model_config *m)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < i; j++) {
            if (strcmp(m->layers[i].name, m->layers[j].name) != 0)
                continue;
            const node *at = cfg_map_get(seq->vals[i], "name");
            char lp[KEYPATH_LEN], p[KEYPATH_LEN];
            cfg_index_path(lp, path, i);
            cfg_child_path(p, lp, "name");
            return cfg_fail(ld, at ? at : seq->vals[i], p,
                            "layer name '%s' is already used by %s.%d", m->layers[i].name, path, j);
        }
    return EQS_OK;
}

static eqs_status parse_layers(loader *ld, const node *seq, const char *path, eqs_model_config *m)
{
    char p[KEYPATH_LEN], got[96];
    cfg_child_path(p, path, "layers");
    if (seq->kind != NODE_SEQ)
        return cfg_fail(ld, seq, p, "expected a sequence of layer maps, got %s",
                        cfg_describe(seq, got, sizeof got));
    if (seq->n < 1 || seq->n > EQS_MAX_LAYERS)
        return cfg_fail(ld, seq, p, "expected 1 to %d layers, got %d", EQS_MAX_LAYERS, seq->n);
    m->n_layers = seq->n;
    int n_of_type[2] = {0, 0}; /* default names count per type: conv1, conv2, fc1, ... */
    for (int i = 0; i < seq->n; i++) {
        char lp[KEYPATH_LEN];
        cfg_index_path(lp, p, i);
        eqs_layer_config *l = &m->layers[i];
        eqs_status st = parse_layer(ld, seq->vals[i], lp, l);
        if (st != EQS_OK)
            return st;
        int rank = ++n_of_type[l->type == EQS_LAYER_CONV];
        if (!l->name[0])
            snprintf(l->name, sizeof l->name, "%s%d", l->type == EQS_LAYER_CONV ? "conv" : "fc",
                     rank);
    }
    eqs_status st = check_layer_names(ld, seq, p, m);
    return st == EQS_OK ? derive_shapes(ld, seq, p, m) : st;
}

/* A softmax readout sits outside the dynamics (Laborieux §3.2): it only makes sense with the
 * cross-entropy loss and needs at least one layer left inside the dynamics. */
static eqs_status check_readout(loader *ld, const node *map, const char *path,
                                const eqs_model_config *m)
{
    char p[KEYPATH_LEN], got[96];
    if (m->readout != EQS_READOUT_SOFTMAX)
        return EQS_OK;
    if (m->loss != EQS_LOSS_CROSS_ENTROPY) {
        const node *loss = cfg_map_get(map, "loss");
        cfg_child_path(p, path, "loss");
        return cfg_fail(ld, loss, p, "readout softmax requires loss cross_entropy, got %s",
                        cfg_describe(loss, got, sizeof got));
    }
    if (m->layers[m->n_layers - 1].dropout > 0) {
        const node *layers = cfg_map_get(map, "layers");
        const node *at = cfg_map_get(layers->vals[m->n_layers - 1], "dropout");
        char lp[KEYPATH_LEN];
        cfg_child_path(lp, path, "layers");
        cfg_index_path(p, lp, m->n_layers - 1);
        cfg_child_path(lp, p, "dropout");
        return cfg_fail(ld, at, lp, "the softmax readout has no state to drop units from");
    }
    if (m->n_layers < 2) {
        cfg_child_path(p, path, "layers");
        return cfg_fail(ld, cfg_map_get(map, "layers"), p,
                        "readout softmax needs at least 2 layers (the dynamics and the readout), "
                        "got %d",
                        m->n_layers);
    }
    return EQS_OK;
}

static eqs_status read_bias(loader *ld, const node *map, const char *path, eqs_model_config *m)
{
    model_flags f;
    eqs_status st = cfg_fill_fields(ld, map, path, model_flag_keys, N_OF(model_flag_keys), &f);
    m->no_bias = !f.bias;
    return st;
}

static eqs_status validate_model(loader *ld, const node *map, const char *path, eqs_model_config *m)
{
    memset(m, 0, sizeof *m);
    eqs_status st = cfg_check_schema(ld, map, path, MODEL_SCHEMA, MODEL_HINT);
    if (st == EQS_OK)
        st = cfg_check_map(ld, map, path, model_keys, N_OF(model_keys));
    if (st == EQS_OK)
        st = cfg_fill_fields(ld, map, path, model_keys, N_OF(model_keys), m);
    if (st == EQS_OK)
        st = read_bias(ld, map, path, m);
    if (st == EQS_OK)
        st = parse_input(ld, cfg_map_get(map, "input"), path, m);
    if (st == EQS_OK)
        st = parse_layers(ld, cfg_map_get(map, "layers"), path, m);
    if (st == EQS_OK)
        st = check_readout(ld, map, path, m);
    return st;
}

/* ---- the experiment ---------------------------------------------------------------------- */

/* The experiment loader's context around the generic one. */
typedef struct exp_loader {
    loader ld;
    const char *exp_path;            /* experiment file as the caller named it */
    char exp_dir[EQS_PATH_LEN];      /* its absolute folder: relative data.dir is joined to it */
    char model_source[EQS_PATH_LEN]; /* resolved path of the grafted model file, "" if inline */
    char hw_source[EQS_PATH_LEN];    /* resolved path of the grafted hwconfig file, "" if inline */
} exp_loader;

/* Replaces a `<key>: <path>` scalar (model, hardware) by the tree of that file (path relative
 * to the experiment file's folder), so overrides and validation see one tree; source gets the
 * file's absolute path. */
static eqs_status graft_file(exp_loader *el, node *root, const char *key, char *source)
{
    loader *ld = &el->ld;
    int i = cfg_map_find(root, key);
    if (i < 0 || root->vals[i]->kind != NODE_SCALAR || cfg_is_null(root->vals[i]) ||
        !root->vals[i]->text[0])
        return EQS_OK; /* inline, absent or empty: validation reports what is wrong */
    node *ref = root->vals[i];
    char dir[EQS_PATH_LEN], label[EQS_PATH_LEN];
    cfg_dir_of(el->exp_path, dir, sizeof dir);
    if (!cfg_join_path(label, sizeof label, dir, ref->text))
        return cfg_fail(ld, ref, key, "the path is longer than %d characters", EQS_PATH_LEN - 1);
    node *tree;
    eqs_status st = cfg_load_yaml_file(ld, label, &tree);
    if (st == EQS_EIO && ref->line > 0)
        eqs_err_prefix(ld->err, "%s:%d:%d: %s", ref->origin, ref->line, ref->col, key);
    else if (st == EQS_EIO)
        eqs_err_prefix(ld->err, "%s: %s", ref->origin, key);
    if (st != EQS_OK)
        return st;
    cfg_make_absolute(label, source, EQS_PATH_LEN);
    root->vals[i] = tree;
    return EQS_OK;
}

static eqs_status graft_files(exp_loader *el, node *root)
{
    eqs_status st = graft_file(el, root, "model", el->model_source);
    return st == EQS_OK ? graft_file(el, root, "hardware", el->hw_source) : st;
}

static eqs_status apply_override(exp_loader *el, node *root, const char *text)
{
    const char *key;
    eqs_status st = cfg_apply_override(&el->ld, root, text, &key);
    if (st != EQS_OK)
        return st;
    if (strcmp(key, "model") == 0)
        el->model_source[0] = '\0'; /* a path is grafted below; a map is inline */
    if (strcmp(key, "hardware") == 0)
        el->hw_source[0] = '\0';
    return graft_files(el, root);
}

static bool replaces_section(const char *override)
{
    return strncmp(override, "model=", 6) == 0 || strncmp(override, "hardware=", 9) == 0;
}

static eqs_status load_experiment_tree(exp_loader *el, const char *path,
                                       const char *const *overrides, int n_overrides, node **root)
{
    loader *ld = &el->ld;
    eqs_status st = cfg_load_yaml_file(ld, path, root);
    if (st != EQS_OK)
        return st;
    char real[EQS_PATH_LEN];
    cfg_make_absolute(path, real, sizeof real);
    cfg_dir_of(real, el->exp_dir, sizeof el->exp_dir);
    st = cfg_check_schema(ld, *root, "", EXP_SCHEMA, EXP_HINT);
    if (st == EQS_OK)
        st = graft_files(el, *root);
    /* Overrides that replace a whole section (model=..., hardware=...) go first, in their order,
     * then the key overrides in theirs: `--set hardware.periphery.adc_bits=6` then means "in
     * whatever hardware this run uses", even when a sweep point sets `hardware=` later. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; st == EQS_OK && i < n_overrides; i++)
            if (replaces_section(overrides[i]) == (pass == 0))
                st = apply_override(el, *root, overrides[i]);
    return st;
}

static eqs_status validate_model_entry(loader *ld, const node *root, const char *source,
                                       eqs_model_config *m)
{
    const node *v = cfg_map_get(root, "model");
    char got[96];
    if (v->kind != NODE_MAP)
        return cfg_fail(ld, v, "model", "expected a path to a model file or a model map, got %s",
                        cfg_describe(v, got, sizeof got));
    eqs_status st = validate_model(ld, v, "model", m);
    if (st == EQS_OK)
        snprintf(m->source_path, sizeof m->source_path, "%s", source);
    return st;
}

/* data.dir: relative to the experiment file's folder, then absolute if it exists. */
static eqs_status resolve_data_dir(loader *ld, const node *data, const char *exp_dir,
                                   eqs_data_config *d)
{
    char joined[EQS_PATH_LEN];
    if (!cfg_join_path(joined, sizeof joined, exp_dir, d->dir)) {
        const node *v = cfg_map_get(data, "dir");
        return cfg_fail(ld, v, "data.dir", "the resolved path is longer than %d characters",
                        EQS_PATH_LEN - 1);
    }
    cfg_make_absolute(joined, d->dir, sizeof d->dir);
    return EQS_OK;
}

static eqs_status validate_data(loader *ld, const node *root, const char *exp_dir,
                                eqs_data_config *d)
{
    eqs_status st = cfg_load_section(ld, root, "data", data_keys, N_OF(data_keys), d);
    if (st != EQS_OK)
        return st;
    const node *data = cfg_map_get(root, "data");
    if (d->augment && d->format != EQS_DATA_CIFAR10)
        return cfg_fail(ld, cfg_map_get(data, "augment"), "data.augment",
                        "augmentation (flip + crop) is for format cifar10, not %s",
                        eqs_data_format_name(d->format));
    if (d->format == EQS_DATA_CIFAR10 && !cfg_map_get(data, "dir"))
        return cfg_fail(ld, data, "data.dir",
                        "required for format cifar10: the folder of data_batch_1.bin .. "
                        "test_batch.bin (CIFAR-10 is not packaged in Debian)");
    return resolve_data_dir(ld, data, exp_dir, d);
}

/* EP and BPTT have no sensible default number of steps: there t1 and t2 are required. PEPITA
 * has no dynamics and ignores them. */
static eqs_status check_steps_given(loader *ld, const node *root, const eqs_algorithm_config *a)
{
    static const char *const keys[] = {"t1", "t2"};
    const node *sec = cfg_map_get(root, "algorithm");
    for (int i = 0; a->name != EQS_ALGO_PEPITA && i < N_OF(keys); i++)
        if (!cfg_map_get(sec, keys[i])) {
            char p[KEYPATH_LEN];
            cfg_child_path(p, "algorithm", keys[i]);
            return cfg_fail(ld, sec, p, "required key is missing (algorithm %s needs it)",
                            eqs_algorithm_name(a->name));
        }
    return EQS_OK;
}

static eqs_status validate_algorithm(loader *ld, const node *root, eqs_algorithm_config *a)
{
    eqs_status st =
        cfg_load_section(ld, root, "algorithm", algorithm_keys, N_OF(algorithm_keys), a);
    if (st == EQS_OK)
        st = check_steps_given(ld, root, a);
    if (st != EQS_OK || a->bptt_truncate <= a->t1)
        return st;
    char got[96];
    const node *v = cfg_map_get(cfg_map_get(root, "algorithm"), "bptt_truncate");
    return cfg_fail(ld, v, "algorithm.bptt_truncate", "expected an integer in [0, t1 = %d], got %s",
                    a->t1, cfg_describe(v, got, sizeof got));
}

/* ---- intermediate error signals (docs/local-error.md) ------------------------------------- */

#define LE_PATH "algorithm.local_error"

/* layers: a list of names of dynamic layers (a softmax readout has no state to read out),
 * stored as increasing dynamic-layer indices, each at most once. */
static eqs_status parse_local_layers(loader *ld, const node *v, const eqs_model_config *m,
                                     eqs_local_error_config *le)
{
    char p[KEYPATH_LEN], got[96];
    int32_t n_dyn = m->readout == EQS_READOUT_SOFTMAX ? m->n_layers - 1 : m->n_layers;
    const node *one = v;
    int n = v->kind == NODE_SEQ ? v->n : 1;
    if (v->kind == NODE_MAP || n < 1)
        return cfg_fail(ld, v, LE_PATH ".layers",
                        "expected a layer name or a list of them (dynamic layers), got %s",
                        v->kind == NODE_MAP ? "a map" : "an empty list");
    bool used[EQS_MAX_LAYERS] = {false};
    for (int i = 0; i < n; i++) {
        if (v->kind == NODE_SEQ) {
            one = v->vals[i];
            cfg_index_path(p, LE_PATH ".layers", i);
        } else {
            snprintf(p, sizeof p, "%s", LE_PATH ".layers");
        }
        int32_t found = -1;
        for (int32_t k = 0; one->kind == NODE_SCALAR && k < m->n_layers; k++)
            if (strcmp(one->text, m->layers[k].name) == 0)
                found = k;
        if (found < 0 || found >= n_dyn) {
            char names[512];
            int len = 0;
            names[0] = '\0';
            for (int32_t k = 0; k < n_dyn && len < (int)sizeof names; k++)
                len += snprintf(names + len, sizeof names - (size_t)len, "%s%s", k ? ", " : "",
                                m->layers[k].name);
            return cfg_fail(ld, one, p, "expected the name of a dynamic layer (%s), got %s%s",
                            names, cfg_describe(one, got, sizeof got),
                            found >= n_dyn ? " (the softmax readout has no state)" : "");
        }
        if (used[found])
            return cfg_fail(ld, one, p, "layer '%s' is listed twice", m->layers[found].name);
        used[found] = true;
    }
    le->n_layers = 0;
    for (int32_t k = 0; k < n_dyn; k++)
        if (used[k])
            le->layers[le->n_layers++] = k;
    return EQS_OK;
}

/* teacher: one path (every layer) or one per listed layer, relative to the experiment file. */
static eqs_status parse_teachers(loader *ld, const node *v, const char *exp_dir,
                                 eqs_local_error_config *le)
{
    char p[KEYPATH_LEN], got[96], joined[EQS_PATH_LEN];
    int n = v->kind == NODE_SEQ ? v->n : 1;
    if (v->kind == NODE_MAP || (v->kind == NODE_SEQ && n != 1 && n != le->n_layers))
        return cfg_fail(ld, v, LE_PATH ".teacher",
                        "expected one .npy path for every layer or a list of %d (one per layer "
                        "in local_error.layers), got %s",
                        le->n_layers,
                        v->kind == NODE_MAP ? "a map" : cfg_describe(v, got, sizeof got));
    le->n_teachers = n;
    for (int i = 0; i < n; i++) {
        const node *one = v->kind == NODE_SEQ ? v->vals[i] : v;
        if (v->kind == NODE_SEQ)
            cfg_index_path(p, LE_PATH ".teacher", i);
        else
            snprintf(p, sizeof p, "%s", LE_PATH ".teacher");
        if (one->kind != NODE_SCALAR || cfg_is_null(one) || !one->text[0])
            return cfg_fail(ld, one, p, "expected a path to a .npy file, got %s",
                            cfg_describe(one, got, sizeof got));
        if (!cfg_join_path(joined, sizeof joined, exp_dir, one->text))
            return cfg_fail(ld, one, p, "the resolved path is longer than %d characters",
                            EQS_PATH_LEN - 1);
        cfg_make_absolute(joined, le->teacher[i], sizeof le->teacher[i]);
    }
    return EQS_OK;
}

/* Local signals nudge EP's symmetric estimate; the other algorithms and estimators have no
 * place for them (a one-sided estimate would see them only in its single nudged phase). */
static eqs_status check_local_error(loader *ld, const node *sec, const eqs_algorithm_config *a)
{
    const eqs_local_error_config *le = &a->local_error;
    const node *alg = cfg_map_get(sec, "name"), *v;
    if (a->name != EQS_ALGO_EP)
        return cfg_fail(ld, alg, "algorithm.name",
                        "local_error needs algorithm ep (its nudged phases), got %s",
                        eqs_algorithm_name(a->name));
    if (a->estimator != EQS_EST_SYMMETRIC || a->rule != EQS_RULE_EP) {
        v = cfg_map_get(sec, a->estimator != EQS_EST_SYMMETRIC ? "estimator" : "rule");
        return cfg_fail(ld, v ? v : cfg_map_get(sec, "local_error"),
                        a->estimator != EQS_EST_SYMMETRIC ? "algorithm.estimator"
                                                          : "algorithm.rule",
                        "local_error is implemented for the symmetric estimate with rule ep, got "
                        "estimator %s, rule %s",
                        eqs_estimator_name(a->estimator), eqs_rule_name(a->rule));
    }
    const node *lsec = cfg_map_get(sec, "local_error");
    if (le->lambda_min > le->lambda0)
        return cfg_fail(ld, cfg_map_get(lsec, "lambda_min"), LE_PATH ".lambda_min",
                        "expected at most lambda0 = %g, got %g", le->lambda0, le->lambda_min);
    if ((le->signal == EQS_LOCAL_KD) != (le->n_teachers > 0)) {
        v = cfg_map_get(lsec, "teacher");
        return cfg_fail(ld, v ? v : lsec, LE_PATH ".teacher",
                        le->signal == EQS_LOCAL_KD
                            ? "required key is missing (signal kd reads the teacher's logits)"
                            : "only signal kd reads teacher logits (signal is le)");
    }
    return EQS_OK;
}

static eqs_status validate_local_error(loader *ld, const node *root, const char *exp_dir,
                                       const eqs_model_config *m, eqs_algorithm_config *a)
{
    const node *sec = cfg_map_get(root, "algorithm");
    const node *lsec = cfg_map_get(sec, "local_error");
    eqs_local_error_config *le = &a->local_error;
    memset(le, 0, sizeof *le);
    if (!lsec || cfg_is_null(lsec))
        return EQS_OK;
    eqs_status st = cfg_check_map(ld, lsec, LE_PATH, local_error_keys, N_OF(local_error_keys));
    if (st == EQS_OK)
        st = cfg_fill_fields(ld, lsec, LE_PATH, local_error_keys, N_OF(local_error_keys), le);
    if (st == EQS_OK)
        st = parse_local_layers(ld, cfg_map_get(lsec, "layers"), m, le);
    if (st == EQS_OK && cfg_map_get(lsec, "teacher"))
        st = parse_teachers(ld, cfg_map_get(lsec, "teacher"), exp_dir, le);
    return st == EQS_OK ? check_local_error(ld, sec, a) : st;
}

/* EP's own rule needs tied weights; the vector-field rules exist for separate ones. */
static eqs_status check_rule(loader *ld, const node *root, const eqs_model_config *m,
                             const eqs_algorithm_config *a)
{
    if (a->name != EQS_ALGO_EP)
        return EQS_OK;
    int asym = m->feedback == EQS_FEEDBACK_ASYMMETRIC;
    if (asym == (a->rule != EQS_RULE_EP))
        return EQS_OK;
    const node *at = cfg_map_get(cfg_map_get(root, "algorithm"), "rule");
    return cfg_fail(ld, at ? at : cfg_map_get(root, "algorithm"), "algorithm.rule",
                    asym ? "model.feedback is asymmetric: expected vf or kp_vf, got %s"
                         : "model.feedback is symmetric: expected ep, got %s",
                    eqs_rule_name(a->rule));
}

/* PEPITA evaluates the layers once, front to back, into a softmax readout: it has no use for
 * backward weights. */
static eqs_status check_pepita(loader *ld, const node *root, const eqs_model_config *m,
                               const eqs_algorithm_config *a)
{
    const node *model = cfg_map_get(root, "model"), *v;
    char got[96];
    if (a->name != EQS_ALGO_PEPITA)
        return EQS_OK;
    if (m->readout != EQS_READOUT_SOFTMAX) {
        v = cfg_map_get(model, "readout");
        return cfg_fail(ld, v, "model.readout",
                        "algorithm pepita needs readout softmax (hidden layers, then a softmax "
                        "output), got %s",
                        cfg_describe(v, got, sizeof got));
    }
    if (m->feedback != EQS_FEEDBACK_SYMMETRIC) {
        v = cfg_map_get(model, "feedback");
        return cfg_fail(ld, v, "model.feedback",
                        "algorithm pepita has no backward weights: expected symmetric, got %s",
                        cfg_describe(v, got, sizeof got));
    }
    return EQS_OK;
}

/* lr: one positive number for all layers, or a list with one per weight layer. */
static eqs_status parse_lr(loader *ld, const node *v, int n_layers, eqs_optimizer_config *o)
{
    const char *path = "optimizer.lr";
    char got[96];
    o->n_lr = 1;
    if (v->kind == NODE_SCALAR)
        return cfg_set_field(ld, &lr_item, v, path, &o->lr[0]);
    if (v->kind != NODE_SEQ)
        return cfg_fail(ld, v, path, "expected a number > 0 or a list of them, got %s",
                        cfg_describe(v, got, sizeof got));
    if (v->n != n_layers)
        return cfg_fail(ld, v, path,
                        "expected one learning rate or one per layer (the model has %d layers), "
                        "got a list of %d",
                        n_layers, v->n);
    o->n_lr = v->n;
    for (int i = 0; i < v->n; i++) {
        char p[KEYPATH_LEN];
        cfg_index_path(p, path, i);
        eqs_status st = cfg_set_field(ld, &lr_item, v->vals[i], p, &o->lr[i]);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

/* milestones: one epoch or a list of them, strictly increasing (an unsorted list is more likely
 * a typo than a wish). */
static eqs_status parse_milestones(loader *ld, const node *sec, eqs_optimizer_config *o)
{
    const char *path = "optimizer.milestones";
    const node *v = cfg_map_get(sec, "milestones");
    char got[96];
    o->n_milestones = 0;
    if (!v)
        return EQS_OK;
    if (v->kind == NODE_SCALAR) {
        o->n_milestones = 1;
        return cfg_set_field(ld, &milestone_item, v, path, &o->milestones[0]);
    }
    if (v->kind != NODE_SEQ || v->n > EQS_MAX_MILESTONES)
        return cfg_fail(ld, v, path, "expected an epoch or a list of at most %d epochs, got %s",
                        EQS_MAX_MILESTONES, v->kind == NODE_SEQ ? "a longer list" : "a map");
    for (int i = 0; i < v->n; i++) {
        char p[KEYPATH_LEN];
        cfg_index_path(p, path, i);
        eqs_status st = cfg_set_field(ld, &milestone_item, v->vals[i], p, &o->milestones[i]);
        if (st != EQS_OK)
            return st;
        if (i > 0 && o->milestones[i] <= o->milestones[i - 1])
            return cfg_fail(ld, v->vals[i], p,
                            "expected epochs in increasing order, got %s after %d",
                            cfg_describe(v->vals[i], got, sizeof got), (int)o->milestones[i - 1]);
        o->n_milestones = i + 1;
    }
    return EQS_OK;
}

static eqs_status validate_optimizer(loader *ld, const node *root, int n_layers,
                                     eqs_optimizer_config *o)
{
    const node *sec = cfg_map_get(root, "optimizer");
    eqs_status st =
        cfg_load_section(ld, root, "optimizer", optimizer_keys, N_OF(optimizer_keys), o);
    if (st == EQS_OK)
        st = parse_lr(ld, cfg_map_get(sec, "lr"), n_layers, o);
    if (st == EQS_OK)
        st = parse_milestones(ld, sec, o);
    if (st != EQS_OK || o->schedule != EQS_SCHED_STEP || o->n_milestones > 0)
        return st;
    return cfg_fail(ld, cfg_map_get(sec, "schedule"), "optimizer.schedule",
                    "schedule step needs optimizer.milestones (the epochs after which lr is "
                    "multiplied by gamma)");
}

/* hardware: a hwconfig (grafted from its file, or inline); absent = the float reference. */
static eqs_status validate_hardware_entry(loader *ld, const node *root, const char *source,
                                          eqs_experiment_config *c)
{
    const node *v = cfg_map_get(root, "hardware");
    char got[96];
    c->has_hardware = 0;
    eqs_hw_config_default(&c->hardware);
    if (!v)
        return EQS_OK;
    if (v->kind != NODE_MAP)
        return cfg_fail(ld, v, "hardware",
                        "expected a path to a hwconfig file or a hwconfig map, got %s",
                        cfg_describe(v, got, sizeof got));
    eqs_status st = cfg_validate_hw(ld, v, "hardware", &c->hardware);
    if (st != EQS_OK)
        return st;
    snprintf(c->hardware.source_path, sizeof c->hardware.source_path, "%s", source);
    c->has_hardware = 1;
    return EQS_OK;
}

static eqs_status validate_experiment(exp_loader *el, const node *root, eqs_experiment_config *c)
{
    loader *ld = &el->ld;
    memset(c, 0, sizeof *c);
    eqs_status st = cfg_check_schema(ld, root, "", EXP_SCHEMA, EXP_HINT);
    if (st == EQS_OK)
        st = cfg_check_map(ld, root, "", experiment_keys, N_OF(experiment_keys));
    if (st == EQS_OK)
        st = cfg_fill_fields(ld, root, "", experiment_keys, N_OF(experiment_keys), c);
    if (st == EQS_OK)
        st = validate_model_entry(ld, root, el->model_source, &c->model);
    if (st == EQS_OK)
        st = validate_data(ld, root, el->exp_dir, &c->data);
    if (st == EQS_OK)
        st = validate_algorithm(ld, root, &c->algorithm);
    if (st == EQS_OK)
        st = check_rule(ld, root, &c->model, &c->algorithm);
    if (st == EQS_OK)
        st = check_pepita(ld, root, &c->model, &c->algorithm);
    if (st == EQS_OK)
        st = validate_local_error(ld, root, el->exp_dir, &c->model, &c->algorithm);
    if (st == EQS_OK)
        st = validate_optimizer(ld, root, c->model.n_layers, &c->optimizer);
    if (st == EQS_OK)
        st = cfg_load_section(ld, root, "training", training_keys, N_OF(training_keys),
                              &c->training);
    if (st == EQS_OK)
        st = validate_hardware_entry(ld, root, el->hw_source, c);
    return st;
}

/* ---- public loaders ---------------------------------------------------------------------- */

eqs_status eqs_model_load(eqs_model_config *out, const char *path, eqs_err *err)
{
    eqs_status st = cfg_check_load_args("eqs_model_load", out && path, path, err);
    if (st != EQS_OK)
        return st;
    loader ld = {.err = err};
    eqs_model_config tmp;
    node *root;
    st = cfg_load_yaml_file(&ld, path, &root);
    if (st == EQS_OK)
        st = validate_model(&ld, root, "", &tmp);
    if (st == EQS_OK) {
        cfg_make_absolute(path, tmp.source_path, sizeof tmp.source_path);
        *out = tmp;
        eqs_err_clear(err);
    }
    cfg_mem_free_all(&ld);
    return st;
}

eqs_status eqs_experiment_load(eqs_experiment_config *out, const char *path,
                               const char *const *overrides, int n_overrides, eqs_err *err)
{
    eqs_status st = cfg_check_load_args(
        "eqs_experiment_load", out && path && n_overrides >= 0 && (n_overrides == 0 || overrides),
        path, err);
    if (st != EQS_OK)
        return st;
    exp_loader el = {.ld = {.err = err}, .exp_path = path};
    eqs_experiment_config *tmp = malloc(sizeof *tmp); /* ~30 kB with the hardware */
    if (!tmp)
        return eqs_err_set(err, EQS_ENOMEM, "out of memory while reading the configuration");
    node *root;
    st = load_experiment_tree(&el, path, overrides, n_overrides, &root);
    if (st == EQS_OK)
        st = validate_experiment(&el, root, tmp);
    if (st == EQS_OK) {
        snprintf(tmp->source_path, sizeof tmp->source_path, "%s", path);
        *out = *tmp;
        eqs_err_clear(err);
    }
    free(tmp);
    cfg_mem_free_all(&el.ld);
    return st;
}

/* ---- writer ------------------------------------------------------------------------------ */

static void write_model(FILE *f, const eqs_model_config *m)
{
    fputs("model:\n", f);
    if (m->source_path[0])
        fprintf(f, "  # inlined from %s\n", m->source_path);
    fputs("  schema: " MODEL_SCHEMA "\n", f);
    cfg_write_str(f, "  ", "name", m->name);
    if (m->in_channels == 1 && m->in_height == 1)
        fprintf(f, "  input: {features: %d}\n", (int)m->in_width);
    else
        fprintf(f, "  input: {channels: %d, height: %d, width: %d}\n", (int)m->in_channels,
                (int)m->in_height, (int)m->in_width);
    fputs("  layers:\n", f);
    for (int i = 0; i < m->n_layers; i++) {
        const eqs_layer_config *l = &m->layers[i];
        fprintf(f, "    - {type: %s, name: \"%s\", out: %d", eqs_layer_type_name(l->type), l->name,
                (int)l->n_out);
        if (l->type == EQS_LAYER_CONV)
            fprintf(f, ", kernel: %d, padding: %d, pool: %s, pool_size: %d", (int)l->kernel,
                    (int)l->padding, eqs_pool_name(l->pool), (int)l->pool_size);
        if (l->dropout > 0) {
            char num[32];
            fprintf(f, ", dropout: %s", cfg_format_double(num, sizeof num, l->dropout));
        }
        fputs("}\n", f);
    }
    fprintf(f, "  activation: %s\n", eqs_activation_name(m->activation));
    fprintf(f, "  loss: %s\n", eqs_loss_name(m->loss));
    fprintf(f, "  readout: %s\n", eqs_readout_name(m->readout));
    fprintf(f, "  feedback: %s\n", eqs_feedback_name(m->feedback));
    fprintf(f, "  bias: %s\n", m->no_bias ? "false" : "true");
}

static void write_data(FILE *f, const eqs_data_config *d)
{
    fputs("data:\n", f);
    fprintf(f, "  format: %s\n", eqs_data_format_name(d->format));
    cfg_write_str(f, "  ", "dir", d->dir);
    fprintf(f, "  train_subset: %d\n", (int)d->train_subset);
    fprintf(f, "  test_subset: %d\n", (int)d->test_subset);
    fprintf(f, "  normalize: %s\n", d->normalize ? "true" : "false");
    cfg_write_f64(f, "  ", "mean", d->mean);
    cfg_write_f64(f, "  ", "std", d->std);
    fprintf(f, "  augment: %s\n", d->augment ? "true" : "false");
}

/* Written only when on, so that the resolved config of a run without it stays as it was. */
static void write_local_error(FILE *f, const eqs_model_config *m, const eqs_local_error_config *le)
{
    if (le->n_layers == 0)
        return;
    fputs("  local_error:\n    layers: [", f);
    for (int i = 0; i < le->n_layers; i++)
        fprintf(f, "%s%s", i ? ", " : "", m->layers[le->layers[i]].name);
    fputs("]\n", f);
    fprintf(f, "    signal: %s\n", eqs_local_signal_name(le->signal));
    cfg_write_f64(f, "    ", "tau", le->tau);
    cfg_write_f64(f, "    ", "lambda0", le->lambda0);
    cfg_write_f64(f, "    ", "lambda_min", le->lambda_min);
    fprintf(f, "    schedule: %s\n", eqs_lambda_schedule_name(le->schedule));
    cfg_write_f64(f, "    ", "gamma", le->gamma);
    if (le->n_teachers > 0) {
        fputs("    teacher:\n", f);
        for (int i = 0; i < le->n_teachers; i++)
            cfg_write_item(f, "      ", le->teacher[i]);
    }
    fprintf(f, "    weighted: %s\n", le->weighted ? "true" : "false");
    cfg_write_f64(f, "    ", "readout_lr", le->readout_lr);
}

static void write_algorithm(FILE *f, const eqs_model_config *m, const eqs_algorithm_config *a)
{
    fputs("algorithm:\n", f);
    fprintf(f, "  name: %s\n", eqs_algorithm_name(a->name));
    fprintf(f, "  estimator: %s\n", eqs_estimator_name(a->estimator));
    fprintf(f, "  rule: %s\n", eqs_rule_name(a->rule));
    cfg_write_f64(f, "  ", "beta", a->beta);
    fprintf(f, "  t1: %d\n  t2: %d\n", (int)a->t1, (int)a->t2);
    fprintf(f, "  bptt_truncate: %d\n", (int)a->bptt_truncate);
    fprintf(f, "  pepita_modulation: %s\n", eqs_pepita_modulation_name(a->pepita_modulation));
    cfg_write_f64(f, "  ", "pepita_f_scale", a->pepita_f_scale);
    cfg_write_f64(f, "  ", "pepita_random_scale", a->pepita_random_scale);
    write_local_error(f, m, &a->local_error);
}

static void write_optimizer(FILE *f, const eqs_optimizer_config *o)
{
    fputs("optimizer:\n", f);
    fprintf(f, "  name: %s\n", eqs_optimizer_name(o->kind));
    if (o->n_lr == 1) {
        cfg_write_f64(f, "  ", "lr", o->lr[0]);
    } else {
        char num[32];
        fputs("  lr: [", f);
        for (int i = 0; i < o->n_lr; i++)
            fprintf(f, "%s%s", i ? ", " : "", cfg_format_double(num, sizeof num, o->lr[i]));
        fputs("]\n", f);
    }
    cfg_write_f64(f, "  ", "momentum", o->momentum);
    cfg_write_f64(f, "  ", "weight_decay", o->weight_decay);
    cfg_write_f64(f, "  ", "adam_beta1", o->adam_beta1);
    cfg_write_f64(f, "  ", "adam_beta2", o->adam_beta2);
    cfg_write_f64(f, "  ", "adam_eps", o->adam_eps);
    fprintf(f, "  schedule: %s\n", eqs_schedule_name(o->schedule));
    cfg_write_f64(f, "  ", "lr_final_frac", o->lr_final_frac);
    fprintf(f, "  schedule_epochs: %d\n", (int)o->schedule_epochs);
    fputs("  milestones: [", f);
    for (int i = 0; i < o->n_milestones; i++)
        fprintf(f, "%s%d", i ? ", " : "", (int)o->milestones[i]);
    fputs("]\n", f);
    cfg_write_f64(f, "  ", "gamma", o->gamma);
}

static void write_training(FILE *f, const eqs_training_config *t)
{
    fputs("training:\n", f);
    fprintf(f, "  epochs: %d\n", (int)t->epochs);
    fprintf(f, "  batch_size: %d\n", (int)t->batch_size);
    fprintf(f, "  eval_batch_size: %d\n", (int)t->eval_batch_size);
    fprintf(f, "  seed: %llu\n", (unsigned long long)t->seed);
    fprintf(f, "  threads: %d\n", (int)t->threads);
    if (t->log_updates) /* only when on: the resolved configs of other runs stay as they were */
        fputs("  log_updates: true\n", f);
}

eqs_status eqs_experiment_write(const eqs_experiment_config *cfg, FILE *f, eqs_err *err)
{
    if (!cfg || !f)
        return eqs_err_set(err, EQS_EINVAL, "eqs_experiment_write: cfg and f must not be NULL");
    fputs("# resolved by eqsim; run again with: eqsim train <this file>\n", f);
    fputs("schema: " EXP_SCHEMA "\n", f);
    cfg_write_str(f, "", "name", cfg->name);
    write_model(f, &cfg->model);
    write_data(f, &cfg->data);
    write_algorithm(f, &cfg->model, &cfg->algorithm);
    write_optimizer(f, &cfg->optimizer);
    write_training(f, &cfg->training);
    if (cfg->has_hardware) {
        fputs("hardware:\n", f);
        if (cfg->hardware.source_path[0])
            fprintf(f, "  # inlined from %s\n", cfg->hardware.source_path);
        cfg_write_hw(f, "  ", &cfg->hardware);
    }
    if (fflush(f) != 0 || ferror(f))
        return eqs_err_set(err, EQS_EIO, "cannot write the resolved config: %s", strerror(errno));
    return EQS_OK;
}
