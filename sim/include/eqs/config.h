/* eqs/config.h — model and experiment configuration: YAML (libyaml document API) → validated
 * structs, `--set key.path=value` overrides, and the resolved config written to each run.
 *
 * Every key is checked against a schema table: an unknown or misspelled key, a wrong type or an
 * out-of-range value is an error whose message reads
 *     "experiments/x.yaml:12:5: training.epochs: expected an integer in [1, 100000], got 'ten'"
 * (for overrides, "--set training.epochs=ten: ..."). The resolved config (eqs_experiment_write)
 * holds every key with its value after defaults and overrides, with the model inlined, so it can
 * be run again as it is.
 *
 * The full key reference is docs/config.md.
 */
#ifndef EQS_CONFIG_H
#define EQS_CONFIG_H

#include <stdio.h>

#include "eqs/core.h"
#include "eqs/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQS_MAX_LAYERS 16
#define EQS_NAME_LEN   64
#define EQS_PATH_LEN   1024

typedef enum eqs_activation {
    EQS_ACT_HARD_SIGMOID = 0,      /* "hard_sigmoid":      clamp(x, 0, 1) */
    EQS_ACT_HARD_SIGMOID_HALF = 1, /* "hard_sigmoid_half": clamp(x/2, 0, 1) (Laborieux eq. 51) */
    EQS_ACT_SIGMOID = 2,           /* "sigmoid" */
    EQS_ACT_TANH = 3,              /* "tanh" */
    EQS_ACT_RELU = 4,              /* "relu": max(x, 0) (PEPITA's hidden layers) */
} eqs_activation;

typedef enum eqs_loss {
    EQS_LOSS_MSE = 0,           /* "mse":           l = 1/2 ||o - y||^2 */
    EQS_LOSS_CROSS_ENTROPY = 1, /* "cross_entropy": l = CE(o, y) = -log softmax(o)_y */
} eqs_loss;

typedef enum eqs_readout {
    EQS_READOUT_ACTIVATION = 0, /* "activation": output layer in the dynamics, with sigma */
    EQS_READOUT_LINEAR = 1,     /* "linear": output layer in the dynamics, no sigma */
    EQS_READOUT_SOFTMAX = 2,    /* "softmax": last layer is a readout outside the dynamics
                                   (Laborieux §3.2); requires loss cross_entropy */
} eqs_readout;

typedef enum eqs_feedback {
    EQS_FEEDBACK_SYMMETRIC = 0,  /* "symmetric": the backward drive uses W_k^T (tied weights) */
    EQS_FEEDBACK_ASYMMETRIC = 1, /* "asymmetric": separate backward weights <layer>.weight_back
                                    (no bias) for every connection whose backward drive enters
                                    the dynamics (Laborieux §2.4, eq. 40) */
} eqs_feedback;

typedef enum eqs_layer_type {
    EQS_LAYER_DENSE = 0, /* "dense" */
    EQS_LAYER_CONV = 1,  /* "conv": stride-1 cross-correlation, then optional pooling */
} eqs_layer_type;

typedef enum eqs_pool {
    EQS_POOL_NONE = 0, /* "none" */
    EQS_POOL_MAX = 1,  /* "max": F x F windows, stride F, argmax recomputed at every step */
    EQS_POOL_AVG = 2,  /* "avg" */
} eqs_pool;

typedef struct eqs_layer_config {
    eqs_layer_type type;
    char name[EQS_NAME_LEN]; /* default "conv<k>" / "fc<k>", counted per type, 1-based;
                                parameter files are <name>.weight, <name>.bias */
    int32_t n_out;           /* key "out": units (dense) or output channels (conv) */
    int32_t kernel;          /* conv: k of the k x k kernel */
    int32_t padding;         /* conv: zeros on each side */
    eqs_pool pool;           /* conv: pooling after the convolution */
    int32_t pool_size;       /* conv: F (window and stride), default 2 */
    double dropout;          /* probability that a unit of this layer's state is dropped when
                                computing Phi during training (Laborieux E.3); default 0 */
    /* Derived by the loader: the shape of this layer's output (its state), C x H x W; a dense
     * layer is n_out x 1 x 1. Conv layers must come before dense layers (flattening in C,H,W
     * order happens at the first dense layer). */
    int32_t out_c, out_h, out_w;
} eqs_layer_config;

typedef struct eqs_model_config {
    char name[EQS_NAME_LEN];
    /* input: either "features: N" or "channels/height/width"; n_features = c*h*w */
    int32_t in_channels, in_height, in_width; /* 1, 1, N when given as features */
    int32_t n_features;
    int32_t n_layers; /* weight layers, the readout included */
    eqs_layer_config layers[EQS_MAX_LAYERS];
    eqs_activation activation;
    eqs_loss loss;
    eqs_readout readout;
    eqs_feedback feedback;          /* default symmetric */
    int32_t no_bias;                /* key "bias" (default true) negated, so that a zeroed struct
                                       keeps the biases: when set, every b_k stays zero, is never
                                       updated and has no file (PEPITA's bias-free layers) */
    char source_path[EQS_PATH_LEN]; /* file it was loaded from ("" if inline) */
} eqs_model_config;

typedef enum eqs_algorithm {
    EQS_ALGO_EP = 0,     /* "ep" */
    EQS_ALGO_BPTT = 1,   /* "bptt" */
    EQS_ALGO_PEPITA = 2, /* "pepita": two forward passes, the second with the input modulated by
                            the error (Dellaferrera & Kreiman 2022; docs/pepita.md) */
} eqs_algorithm;

typedef enum eqs_pepita_modulation {
    EQS_PEPITA_MOD_ERROR = 0,  /* "error":  x' = x + F e (PEPITA) */
    EQS_PEPITA_MOD_NONE = 1,   /* "none":   x' = x, i.e. F = 0 (the paper's appendix D ablation) */
    EQS_PEPITA_MOD_RANDOM = 2, /* "random": x' = x + F (k r), r uniform on [0, 1) per sample and
                                  class (appendix D) */
} eqs_pepita_modulation;

typedef enum eqs_rule {
    EQS_RULE_EP = 0,    /* "ep": the contrast of dPhi/dtheta (symmetric feedback) */
    EQS_RULE_VF = 1,    /* "vf": vector-field rule, Laborieux eqs. 41-42 (asymmetric) */
    EQS_RULE_KP_VF = 2, /* "kp_vf": Kolen-Pollack VF, eqs. 43-44: one averaged estimate for the
                           forward and backward weights (with weight decay they converge) */
} eqs_rule;

typedef enum eqs_estimator {
    EQS_EST_ONE_SIDED = 0,   /* "one_sided" */
    EQS_EST_RANDOM_SIGN = 1, /* "random_sign" */
    EQS_EST_SYMMETRIC = 2,   /* "symmetric" */
} eqs_estimator;

typedef enum eqs_optimizer_kind {
    EQS_OPT_SGD = 0,  /* "sgd":  v <- mu v + g (+wd th); th <- th - lr v (PyTorch's form) */
    EQS_OPT_ADAM = 1, /* "adam": PyTorch's Adam (L2 weight decay added to the gradient) */
    EQS_OPT_SGD_LR_IN_MOMENTUM = 2, /* "sgd_lr_in_momentum": v <- mu v + lr g (+wd th);
                                       th <- th - v (the PEPITA authors' form: after a change of
                                       lr the old momentum keeps its old scale) */
} eqs_optimizer_kind;

typedef enum eqs_schedule {
    EQS_SCHED_CONSTANT = 0, /* "constant" */
    EQS_SCHED_COSINE = 1,   /* "cosine": lr_e = lr_final + (lr - lr_final)(1 + cos(pi e / E))/2 */
    EQS_SCHED_STEP = 2,     /* "step": lr_e = lr gamma^(number of milestones m <= e), e the 0-based
                               epoch (PyTorch's MultiStepLR): milestone 60 decays from the 61st
                               epoch on */
} eqs_schedule;

#define EQS_MAX_MILESTONES 16

typedef enum eqs_data_format {
    EQS_DATA_MNIST = 0,   /* "mnist": the four IDX files (gz or raw), e.g. Fashion-MNIST */
    EQS_DATA_CIFAR10 = 1, /* "cifar10": data_batch_{1..5}.bin and test_batch.bin */
} eqs_data_format;

typedef struct eqs_data_config {
    eqs_data_format format; /* default mnist */
    char dir[EQS_PATH_LEN]; /* "dir": the folder holding the format's files */
    int32_t train_subset;   /* 0 = all; else the first N after a seeded permutation */
    int32_t test_subset;    /* 0 = all; else the first N of the test set */
    int32_t normalize;      /* "normalize": false -> pixels in [0,1]; true -> (x - mean)/std */
    double mean, std;       /* mnist: used when normalize is true; cifar10 normalises each
                               channel with the reference code's constants (docs/datasets.md) */
    int32_t augment;        /* cifar10 training set: random horizontal flip + 4-pixel crop */
} eqs_data_config;

/* Intermediate error signals in EP (docs/local-error.md): local readouts r_l = P_l flatten(s_l)
 * of selected dynamic layers, nudged towards the target (le) or a teacher's logits (kd). */
typedef enum eqs_local_signal {
    EQS_LOCAL_LE = 0, /* "le": local error, softmax(onehot(y) / tau) is the target */
    EQS_LOCAL_KD = 1, /* "kd": knowledge distillation, softmax(z / tau) with the teacher's z */
} eqs_local_signal;

typedef enum eqs_lambda_schedule {
    EQS_LAMBDA_CONSTANT = 0,    /* "constant":    lambda_e = lambda0 */
    EQS_LAMBDA_LINEAR = 1,      /* "linear":      lambda0 - (lambda0 - lambda_min) e / E */
    EQS_LAMBDA_EXPONENTIAL = 2, /* "exponential": max(lambda_min, lambda0 gamma^e) */
    EQS_LAMBDA_COSINE = 3,      /* "cosine":      lambda_min + (lambda0 - lambda_min)
                                   (1 + cos(pi e/E))/2 */
} eqs_lambda_schedule;

typedef struct eqs_local_error_config {
    int32_t n_layers;               /* readouts; 0 = off (no `local_error:` section) */
    int32_t layers[EQS_MAX_LAYERS]; /* key "layers" (names): dynamic layer indices, increasing */
    eqs_local_signal signal;        /* default le */
    double tau;                     /* temperature, default 4 */
    double lambda0, lambda_min;     /* keys "lambda0" (default 1), "lambda_min" (default 0) */
    eqs_lambda_schedule schedule;   /* default constant; E = training.epochs */
    double gamma;                   /* exponential decay per epoch, default 0.9 */
    int32_t n_teachers;             /* kd: 1 (one file for every layer) or n_layers */
    char teacher[EQS_MAX_LAYERS][EQS_PATH_LEN]; /* kd: .npy [n_train, n_classes], absolute */
    int32_t weighted;  /* "weighted": P_l trained by EP's readout rule (weighted KD, §4.3) */
    double readout_lr; /* weighted: plain SGD step size of P_l, default 0.01 */
} eqs_local_error_config;

typedef struct eqs_algorithm_config {
    eqs_algorithm name;
    eqs_estimator estimator; /* EP only */
    eqs_rule rule;           /* EP's learning rule; vf and kp_vf need asymmetric feedback */
    double beta;             /* > 0 */
    int32_t t1, t2;          /* free and nudged steps, >= 1 */
    int32_t bptt_truncate;   /* BPTT: back-propagate through the last K of the t1 steps;
                                0 = all t1 steps */
    eqs_pepita_modulation pepita_modulation; /* PEPITA only; default error */
    double pepita_f_scale;      /* F uniform on +-f_scale sqrt(6 / n_features); default 0.05 */
    double pepita_random_scale; /* k of the random modulation; default 1 */
    eqs_local_error_config local_error; /* EP only: "local_error" map; absent = off */
} eqs_algorithm_config;

typedef struct eqs_optimizer_config {
    eqs_optimizer_kind kind;
    int32_t n_lr;              /* 1 (same for all layers) or model n_layers */
    double lr[EQS_MAX_LAYERS]; /* "lr": scalar or list, one per weight layer */
    double momentum;           /* SGD */
    double weight_decay;       /* "weight_decay": scalar, all layers */
    double adam_beta1, adam_beta2, adam_eps;
    eqs_schedule schedule;
    double lr_final_frac;    /* cosine: final lr as a fraction of each layer's lr */
    int32_t schedule_epochs; /* cosine period E; 0 = training.epochs */
    int32_t n_milestones;    /* step: how many milestones (0 .. EQS_MAX_MILESTONES) */
    int32_t milestones[EQS_MAX_MILESTONES]; /* step: strictly increasing epochs, >= 1 */
    double gamma;                           /* step: factor at each milestone; default 0.1 */
} eqs_optimizer_config;

typedef struct eqs_training_config {
    int32_t epochs;
    int32_t batch_size;
    int32_t eval_batch_size;
    uint64_t seed;
    int32_t threads;
    int32_t log_updates; /* metrics.csv gets the RMS of each layer's weight update estimate */
} eqs_training_config;

typedef struct eqs_experiment_config {
    char name[EQS_NAME_LEN];
    char source_path[EQS_PATH_LEN];
    eqs_model_config model; /* "model": a path (relative to the experiment file) or a map */
    eqs_data_config data;
    eqs_algorithm_config algorithm;
    eqs_optimizer_config optimizer;
    eqs_training_config training;
    /* "hardware": a hwconfig path (relative to the experiment file) or an inline map; absent =
     * the float reference (ideal tiles, float neurons). The resolved config writes it inline. */
    int32_t has_hardware;
    eqs_hw_config hardware;
} eqs_experiment_config;

/* Loads a model YAML file (schema: eqs.model/1). */
eqs_status eqs_model_load(eqs_model_config *out, const char *path, eqs_err *err);

/* Loads an experiment YAML (schema: eqs.experiment/1), resolves its model, applies the
 * overrides ("key.path=value", in order; a later one wins), validates everything. On error,
 * *out is left untouched. */
eqs_status eqs_experiment_load(eqs_experiment_config *out, const char *path,
                               const char *const *overrides, int n_overrides, eqs_err *err);

/* Writes the fully resolved config as YAML that eqs_experiment_load accepts unchanged. */
eqs_status eqs_experiment_write(const eqs_experiment_config *cfg, FILE *f, eqs_err *err);

/* Loads a hwconfig YAML file (schema: eqs.hwconfig/1; docs/hwconfig.md): starts from
 * eqs_hw_config_default, applies the file, then the overrides ("device.g_max=25 uS", ...),
 * validates everything (device tables, units, ranges, cross-field checks). Physical values must
 * carry their unit ("25 uS", "50 ns"); a bare number for a dimensioned key is an error. On
 * error, *out is left untouched. */
eqs_status eqs_hwconfig_load(eqs_hw_config *out, const char *path, const char *const *overrides,
                             int n_overrides, eqs_err *err);
/* Writes hw as YAML that eqs_hwconfig_load accepts unchanged (values in SI with units). */
eqs_status eqs_hwconfig_write(const eqs_hw_config *hw, FILE *f, eqs_err *err);

/* Names of enum values as they appear in YAML. */
const char *eqs_activation_name(eqs_activation a);
const char *eqs_loss_name(eqs_loss l);
const char *eqs_readout_name(eqs_readout r);
const char *eqs_algorithm_name(eqs_algorithm a);
const char *eqs_estimator_name(eqs_estimator e);
const char *eqs_rule_name(eqs_rule r);
const char *eqs_data_format_name(eqs_data_format f);
const char *eqs_feedback_name(eqs_feedback f);
const char *eqs_optimizer_name(eqs_optimizer_kind o);
const char *eqs_schedule_name(eqs_schedule s);
const char *eqs_pepita_modulation_name(eqs_pepita_modulation m);
const char *eqs_layer_type_name(eqs_layer_type t);
const char *eqs_pool_name(eqs_pool p);
const char *eqs_local_signal_name(eqs_local_signal s);
const char *eqs_lambda_schedule_name(eqs_lambda_schedule s);

#ifdef __cplusplus
}
#endif
#endif
