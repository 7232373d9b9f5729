/* cmd_grads.c — `eqsim grads`: one batch's states and gradient estimates, nothing updated, all
 * as .npy, for cross-checking eqsim against other implementations (e.g. a PyTorch reference).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void grads_usage(FILE *f)
{
    fputs("usage: eqsim grads EXPERIMENT.yaml --weights DIR --inputs X.npy --labels Y.npy\n"
          "                   --out DIR [--set key=value ...] [--threads N]\n"
          "\n"
          "Computes the states and gradient estimates of one batch without updating anything.\n"
          "  --weights DIR   <layer>.weight.npy [out,in] and <layer>.bias.npy [out] per layer\n"
          "                  (no bias files for a model with bias: false)\n"
          "  --inputs X.npy  float32/float64 [N, features] (or [N, C, H, W]), already scaled as\n"
          "                  the model expects (no data.normalize is applied)\n"
          "  --labels Y.npy  int32 (or int64) class indices [N]\n"
          "  --out DIR       receives state_free.<layer>.npy, state_pos.<layer>.npy,\n"
          "                  state_neg.<layer>.npy (symmetric EP), logits_{free,pos,neg}.npy\n"
          "                  (softmax readout), grad_<rule>.<param>.npy (EP: grad_ep, or\n"
          "                  grad_vf / grad_kp_vf with asymmetric feedback, whose params include\n"
          "                  <layer>.weight_back) and grad_bptt.<param>.npy\n"
          "                  (always): dL/dtheta averaged over the batch, descent sign (PyTorch's\n"
          "                  .grad). BPTT runs algorithm.t1 steps, truncated to bptt_truncate.\n"
          "Random-sign EP uses the sign, and dropout the masks, of training step 0.\n"
          "\n"
          "PEPITA (algorithm.name: pepita) runs its two passes with dropout off and writes\n"
          "  act_std.<layer>.npy, act_mod.<layer>.npy  hidden activities h, h' [N, units]\n"
          "                     ([N, C, H, W] for a conv layer)\n"
          "  input_mod.npy      x' = x + F e [N, features] (none: x; random: x + F k r, step 0)\n"
          "  error_std.npy, error_mod.npy   e = softmax - onehot, e' [N, classes]\n"
          "  grad_pepita.<param>.npy   -Delta W averaged over the batch (descent sign)\n"
          "  pepita.F.npy       the F used [features, classes]: DIR/pepita.F.npy when --weights\n"
          "                     holds one (it replaces the F drawn from training.seed), else the\n"
          "                     drawn one. No BPTT gradient: PEPITA's network has no dynamics.\n",
          f);
}

typedef struct grads_opts {
    cli_common common;
    const char *weights, *inputs, *labels, *out;
} grads_opts;

static bool parse_grads_args(grads_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int c = cli_parse_common(&o->common, argc, argv, &i);
        if (c < 0)
            return false;
        if (c > 0)
            continue;
        const char *flags[] = {"--weights", "--inputs", "--labels", "--out"};
        const char **dst[] = {&o->weights, &o->inputs, &o->labels, &o->out};
        bool matched = false;
        for (int f = 0; f < 4 && !matched; f++)
            if (strcmp(argv[i], flags[f]) == 0 && i + 1 < argc) {
                *dst[f] = argv[++i];
                matched = true;
            }
        if (matched)
            continue;
        if (argv[i][0] != '-' && !o->common.experiment) {
            o->common.experiment = argv[i];
        } else {
            cli_error("grads: unexpected argument '%s' (see eqsim grads --help)", argv[i]);
            return false;
        }
    }
    if (!o->weights || !o->inputs || !o->labels || !o->out) {
        cli_error("grads: --weights, --inputs, --labels and --out are all required");
        return false;
    }
    return true;
}

/* Inputs [N, features] or [N, C, H, W] with C*H*W = features, converted to eqs_real. */
static bool load_inputs(const char *path, const eqs_model_config *m, eqs_real **x, int64_t *n)
{
    eqs_array a;
    eqs_err err;
    if (eqs_npy_read(path, &a, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    int64_t feats = 1;
    for (int32_t i = 1; i < a.ndim; i++)
        feats *= a.shape[i];
    bool ok = (a.ndim == 2 || a.ndim == 4) && feats == m->n_features && a.shape[0] >= 1 &&
              (a.dtype == EQS_DTYPE_F32 || a.dtype == EQS_DTYPE_F64);
    if (!ok) {
        cli_error("%s: expected float32/float64 [N, %d] (or [N, C, H, W] with C*H*W = %d) for "
                  "model '%s'",
                  path, m->n_features, m->n_features, m->name);
        eqs_array_free(&a);
        return false;
    }
    *n = a.shape[0];
    *x = malloc(sizeof(eqs_real) * (size_t)(*n * feats));
    for (int64_t i = 0; *x && i < *n * feats; i++)
        (*x)[i] = a.dtype == EQS_DTYPE_F32 ? (eqs_real)((float *)a.data)[i]
                                           : (eqs_real)((double *)a.data)[i];
    eqs_array_free(&a);
    return *x != NULL;
}

static bool load_labels(const char *path, int64_t n, int32_t n_classes, int32_t **y)
{
    eqs_array a;
    eqs_err err;
    if (eqs_npy_read(path, &a, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    if (a.ndim != 1 || a.shape[0] != n || (a.dtype != EQS_DTYPE_I32 && a.dtype != EQS_DTYPE_I64)) {
        cli_error("%s: expected int32 (or int64) labels of shape [%lld]", path, (long long)n);
        eqs_array_free(&a);
        return false;
    }
    bool ok = (*y = malloc(sizeof(int32_t) * (size_t)n)) != NULL;
    for (int64_t i = 0; ok && i < n; i++) {
        int64_t v = a.dtype == EQS_DTYPE_I32 ? ((int32_t *)a.data)[i] : ((int64_t *)a.data)[i];
        ok = v >= 0 && v < n_classes;
        if (!ok)
            cli_error("%s: label %lld at index %lld is outside [0, %d)", path, (long long)v,
                      (long long)i, n_classes);
        else
            (*y)[i] = (int32_t)v;
    }
    eqs_array_free(&a);
    return ok;
}

static bool write_states(eqs_crnn *net, const eqs_state *s, const char *out, const char *phase)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    eqs_err err;
    for (int32_t k = 0; k < eqs_crnn_n_dynamic(net); k++) {
        const eqs_layer_config *l = &m->layers[k];
        bool conv = l->type == EQS_LAYER_CONV; /* [N, C, H, W] as PyTorch holds it */
        int64_t shape[4] = {eqs_crnn_batch(net), conv ? l->out_c : eqs_crnn_size(net, k + 1),
                            l->out_h, l->out_w};
        snprintf(path, sizeof path, "%s/state_%s.%s.npy", out, phase, l->name);
        if (eqs_npy_write_real(path, conv ? 4 : 2, shape, s->s[k], &err) != EQS_OK) {
            cli_print_err(&err);
            return false;
        }
    }
    if (m->readout != EQS_READOUT_SOFTMAX)
        return true;
    int64_t shape[2] = {eqs_crnn_batch(net), eqs_crnn_n_classes(net)};
    eqs_real *logits = malloc(sizeof(eqs_real) * (size_t)(shape[0] * shape[1]));
    eqs_crnn_logits(net, s, logits);
    snprintf(path, sizeof path, "%s/logits_%s.npy", out, phase);
    bool ok = eqs_npy_write_real(path, 2, shape, logits, &err) == EQS_OK;
    if (!ok)
        cli_print_err(&err);
    free(logits);
    return ok;
}

static bool write_grads(eqs_crnn *net, const eqs_grads *g, const char *out, const char *algo)
{
    char prefix[32];
    eqs_err err;
    snprintf(prefix, sizeof prefix, "grad_%s.", algo);
    if (eqs_tensors_save(net, g, out, prefix, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

static bool write_rows(const char *out, const char *name, int64_t rows, int64_t cols,
                       const eqs_real *v)
{
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    int64_t shape[2] = {rows, cols};
    eqs_err err;
    snprintf(path, sizeof path, "%s/%s.npy", out, name);
    if (eqs_npy_write_real(path, 2, shape, v, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

/* A hidden layer's activities: [N, units], or [N, C, H, W] for a conv layer (as PyTorch). */
static bool write_act(eqs_crnn *net, int32_t k, const eqs_real *act, const char *out,
                      const char *tag)
{
    const eqs_layer_config *l = &eqs_crnn_model(net)->layers[k];
    char path[EQS_PATH_LEN + 2 * EQS_NAME_LEN];
    bool conv = l->type == EQS_LAYER_CONV;
    int64_t shape[4] = {eqs_crnn_batch(net), conv ? l->out_c : eqs_crnn_size(net, k + 1), l->out_h,
                        l->out_w};
    eqs_err err;
    snprintf(path, sizeof path, "%s/act_%s.%s.npy", out, tag, l->name);
    if (eqs_npy_write_real(path, conv ? 4 : 2, shape, act, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

static bool write_pepita_pass(eqs_crnn *net, const eqs_pepita_pass *ps, const char *out,
                              const char *tag)
{
    char name[2 * EQS_NAME_LEN];
    int64_t n = eqs_crnn_batch(net);
    bool ok = true;
    for (int32_t k = 0; ok && k < ps->n_hidden; k++)
        ok = write_act(net, k, ps->act[k], out, tag);
    snprintf(name, sizeof name, "error_%s", tag);
    return ok && write_rows(out, name, n, eqs_crnn_n_classes(net), ps->error);
}

/* PEPITA's two passes without dropout, so that a reference needs no random masks. */
static bool pepita_and_write(eqs_trainer *tr, const eqs_real *x, const int32_t *y, int32_t n,
                             eqs_grads *g, const char *out)
{
    eqs_crnn *net = eqs_trainer_net(tr);
    eqs_pepita *pep = eqs_trainer_pepita(tr);
    eqs_pepita_pass std, mod;
    eqs_err err;
    eqs_crnn_set_input(net, x, y, n);
    eqs_crnn_dropout_off(net);
    eqs_pepita_estimate(pep, 0, g, NULL, NULL);
    eqs_pepita_get_pass(pep, false, &std);
    eqs_pepita_get_pass(pep, true, &mod);
    if (eqs_pepita_save_f(pep, out, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return write_grads(net, g, out, "pepita") && write_pepita_pass(net, &std, out, "std") &&
           write_pepita_pass(net, &mod, out, "mod") &&
           write_rows(out, "input_mod", n, eqs_crnn_size(net, 0), mod.input);
}

static bool compute_and_write(eqs_trainer *tr, const eqs_experiment_config *cfg, const eqs_real *x,
                              const int32_t *y, int32_t n, const char *out)
{
    eqs_crnn *net = eqs_trainer_net(tr);
    eqs_grads g;
    eqs_err err;
    if (eqs_grads_alloc(net, &g, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    bool ok = true;
    if (cfg->algorithm.name == EQS_ALGO_PEPITA) {
        ok = pepita_and_write(tr, x, y, n, &g, out);
        eqs_grads_free(&g);
        return ok;
    }
    if (cfg->algorithm.name == EQS_ALGO_EP) {
        eqs_trainer_grads(tr, x, y, n, 0, &g, NULL, NULL);
        eqs_ep *ep = eqs_trainer_ep(tr);
        ok = write_grads(net, &g, out, eqs_rule_name(cfg->algorithm.rule)) &&
             write_states(net, eqs_ep_state_free(ep), out, "free") &&
             write_states(net, eqs_ep_state_pos(ep), out, "pos") &&
             (!eqs_ep_state_neg(ep) || write_states(net, eqs_ep_state_neg(ep), out, "neg"));
    }
    if (ok) {
        eqs_crnn_set_input(net, x, y, n);
        eqs_bptt_grads(eqs_trainer_bptt(tr), &g, NULL, NULL, NULL);
        ok = write_grads(net, &g, out, "bptt");
        if (ok && cfg->algorithm.name == EQS_ALGO_BPTT)
            ok = write_states(net, eqs_bptt_state_final(eqs_trainer_bptt(tr)), out, "free");
    }
    eqs_grads_free(&g);
    return ok;
}

int cmd_grads(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            grads_usage(stdout);
            return 0;
        }
    grads_opts o = {0};
    eqs_experiment_config cfg;
    if (!parse_grads_args(&o, argc, argv) || !cli_load_experiment(&o.common, &cfg))
        return 2;
    eqs_real *x = NULL;
    int32_t *y = NULL;
    int64_t n = 0;
    eqs_trainer *tr = NULL;
    eqs_err err;
    int rc = 1;
    int32_t n_classes = cfg.model.layers[cfg.model.n_layers - 1].n_out;
    if (!load_inputs(o.inputs, &cfg.model, &x, &n) || !load_labels(o.labels, n, n_classes, &y))
        goto done;
    bool f_loaded = false;
    if (eqs_trainer_create(&tr, &cfg, (int32_t)n, &err) != EQS_OK ||
        eqs_params_load(eqs_trainer_net(tr), o.weights, &err) != EQS_OK ||
        eqs_trainer_check_train_set(tr, n, &err) != EQS_OK || /* KD: one teacher row per input */
        (eqs_trainer_pepita(tr) &&
         eqs_pepita_load_f(eqs_trainer_pepita(tr), o.weights, &f_loaded, &err) != EQS_OK) ||
        eqs_mkdir_p(o.out, &err) != EQS_OK) {
        cli_print_err(&err);
        goto done;
    }
    if (compute_and_write(tr, &cfg, x, y, (int32_t)n, o.out)) {
        printf("grads: %lld samples, %s%s, files in %s\n", (long long)n,
               eqs_algorithm_name(cfg.algorithm.name),
               !eqs_trainer_pepita(tr) ? ""
               : f_loaded              ? " (F from --weights)"
                                       : " (F drawn from training.seed)",
               o.out);
        rc = 0;
    }
done:
    free(x);
    free(y);
    eqs_trainer_destroy(tr);
    return rc;
}
