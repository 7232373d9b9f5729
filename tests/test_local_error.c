/* test_local_error.c — intermediate error signals in EP (docs/local-error.md), in float64:
 *  1. the nudged step of a dense CRNN with local readouts is s <- sigma(dPhi_aug/ds) with
 *     Phi_aug = sum_k s_k . (W_k s_{k-1} + b_k) - beta (l_out + lambda sum_l l_l), every term of
 *     Phi_aug written out here independently, differentiated by central finite differences;
 *  2. the same for conv layers (the readout flattens C,H,W): the local part of the nudge,
 *     pre(lambda) - pre(0), equals -beta lambda times the FD gradient of sum_l l_l;
 *  3. the lambda schedules give their closed forms at e = 0, E/2, E (and through the trainer);
 *  4. KD with the one-hot targets as teacher logits is LE, bit for bit;
 *  5. EP with local readouts: the free phase is unchanged, both nudged phases move; the weighted
 *     KD update of P equals a naive loop over (s+, s-), through the trainer (teacher rows picked
 *     by sample ids), and P survives a save/load; a wrongly shaped teacher file is a clear error;
 *  6. the config keys: a valid section, and errors naming file:line:col.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdlib.h>
#include <unistd.h>

#include "eqs_test.h"
#include "test_util.h"

#include "eqs/blas.h"
#include "eqs/io.h"

#ifndef EQS_REAL_DOUBLE
#error "test_local_error needs the float64 build (link the *_f64 libraries)"
#endif

enum { B = 3 };

/* ---- an independent evaluation of the terms of Phi_aug ----------------------------------- */

/* sum_j p_j (log p_j - log q_j) tau^2 for one sample, p = softmax(t/tau), q = softmax(r/tau) */
static double naive_kl(const double *t, const double *r, int32_t nc, double tau)
{
    double mt = -1e300, mr = -1e300, st = 0, sr = 0, kl = 0;
    for (int32_t j = 0; j < nc; j++) {
        mt = t[j] / tau > mt ? t[j] / tau : mt;
        mr = r[j] / tau > mr ? r[j] / tau : mr;
    }
    for (int32_t j = 0; j < nc; j++) {
        st += exp(t[j] / tau - mt);
        sr += exp(r[j] / tau - mr);
    }
    for (int32_t j = 0; j < nc; j++) {
        double lp = t[j] / tau - mt - log(st), lq = r[j] / tau - mr - log(sr);
        kl += exp(lp) * (lp - lq);
    }
    return tau * tau * kl;
}

/* sum over the batch of readout i's loss at s: r = P s_l, loops only. z = NULL: one-hot. */
static double naive_local_loss(eqs_crnn *net, int32_t i, const eqs_state *s, const eqs_real *z,
                               double tau)
{
    int32_t l = eqs_crnn_local_layer(net, i), n_l = eqs_crnn_size(net, l + 1);
    int32_t nc = eqs_crnn_n_classes(net);
    const eqs_real *p = eqs_crnn_local_p(net, i);
    double total = 0, r[16], t[16];
    for (int32_t b = 0; b < eqs_crnn_batch(net); b++) {
        for (int32_t j = 0; j < nc; j++) {
            r[j] = 0;
            for (int32_t u = 0; u < n_l; u++)
                r[j] += p[j * n_l + u] * s->s[l][b * n_l + u];
            t[j] = z ? z[b * nc + j] : (j == eqs_crnn_targets(net)[b] ? 1.0 : 0.0);
        }
        total += naive_kl(t, r, nc, tau);
    }
    return total;
}

/* Phi_aug of a dense CRNN with a softmax readout, written out: sum_k<N s_k . (W_k s_{k-1} + b_k)
 * - beta (CE(W_N s_D + b_N, y) + lambda sum_i l_i), summed over the batch. */
static double phi_aug(eqs_crnn *net, const eqs_state *s, double beta, double lambda, double tau)
{
    int32_t n = eqs_crnn_n_layers(net), nc = eqs_crnn_n_classes(net);
    double phi = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t n_in = eqs_crnn_size(net, k), n_out = eqs_crnn_size(net, k + 1);
        eqs_real *w = malloc(sizeof(eqs_real) * (size_t)(n_in * n_out));
        eqs_tile_read(eqs_crnn_tile(net, k), w);
        const eqs_real *bias = eqs_crnn_bias(net, k);
        for (int32_t b = 0; b < eqs_crnn_batch(net); b++) {
            const eqs_real *pre = k == 0 ? eqs_crnn_input(net) + b * n_in : s->s[k - 1] + b * n_in;
            double z[16] = {0};
            for (int32_t o = 0; o < n_out; o++) {
                double h = bias[o];
                for (int32_t i = 0; i < n_in; i++)
                    h += w[o * n_in + i] * pre[i];
                if (k < n - 1)
                    phi += s->s[k][b * n_out + o] * h;
                else
                    z[o] = h;
            }
            if (k == n - 1) { /* cross-entropy of the readout */
                double m = z[0], sum = 0;
                for (int32_t j = 1; j < nc; j++)
                    m = z[j] > m ? z[j] : m;
                for (int32_t j = 0; j < nc; j++)
                    sum += exp(z[j] - m);
                phi -= beta * (m + log(sum) - z[eqs_crnn_targets(net)[b]]);
            }
        }
        free(w);
    }
    for (int32_t i = 0; i < eqs_crnn_n_local(net); i++)
        phi -= beta * lambda * naive_local_loss(net, i, s, NULL, tau);
    return phi;
}

static eqs_local_error_config le_config(int32_t n, const int32_t *layers, double tau)
{
    eqs_local_error_config le;
    memset(&le, 0, sizeof le);
    le.n_layers = n;
    for (int32_t i = 0; i < n; i++)
        le.layers[i] = layers[i];
    le.tau = tau;
    le.lambda0 = 1;
    le.gamma = 0.9;
    le.readout_lr = 0.01;
    return le;
}

/* ---- 1. dense: the nudged step is dPhi_aug/ds --------------------------------------------- */

static void check_dense_phi_fd(void)
{
    const int32_t sizes[] = {6, 5, 4, 3}, layers[] = {0, 1};
    const double beta = 0.7, lambda = 1.3, tau = 4;
    eqs_model_config m =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    eqs_crnn *net;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, B, &err), err);
    eqs_crnn_init_params(net, 3);
    eqs_local_error_config le = le_config(2, layers, tau);
    CHECK_OK(eqs_crnn_local_init(net, &le, 3, &err), err);
    eqs_crnn_local_set_lambda(net, lambda);
    eqs_real x[6 * B];
    int32_t y[B] = {2, 0, 1};
    test_fill_uniform(x, 6 * B, 0, 1, 1, 0);
    eqs_crnn_set_input(net, x, y, B);
    eqs_state s, out, pre, pre0;
    CHECK_OK(eqs_state_alloc(net, &s, &err), err);
    CHECK_OK(eqs_state_alloc(net, &out, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre0, &err), err);
    test_fill_uniform(s.s[0], 5 * B, 0, 1, 2, 0);
    test_fill_uniform(s.s[1], 4 * B, 0, 1, 2, 1);
    eqs_crnn_step(net, &s, &out, (eqs_real)beta, &pre);
    eqs_crnn_local_set_lambda(net, 0);
    eqs_crnn_step(net, &s, &out, (eqs_real)beta, &pre0);
    eqs_crnn_local_set_lambda(net, lambda);

    const double h = 1e-6;
    double worst = 0, local_max = 0;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(net, k + 1); i++) {
            eqs_real keep = s.s[k][i];
            s.s[k][i] = keep + h;
            double fp = phi_aug(net, &s, beta, lambda, tau);
            s.s[k][i] = keep - h;
            double fm = phi_aug(net, &s, beta, lambda, tau);
            s.s[k][i] = keep;
            double e = fabs((fp - fm) / (2 * h) - pre.s[k][i]);
            worst = e > worst ? e : worst;
            double loc = fabs(pre.s[k][i] - pre0.s[k][i]);
            local_max = loc > local_max ? loc : local_max;
        }
    /* Phi_aug is smooth in s: central differences at h = 1e-6 are exact to ~1e-10; a missing
     * or mis-scaled local term moves the nudge by local_max ~ 0.1 (checked by breaking it). */
    CHECK_MSG(worst < 1e-7 && local_max > 1e-2,
              "dense: max |pre - dPhi_aug/ds| = %.3g, local part of the nudge %.3g", worst,
              local_max);
    printf("dense  max|pre - FD dPhi_aug/ds| = %.2e  (local part of the nudge up to %.2e)\n", worst,
           local_max);
    /* the library's loss is the same l_i */
    for (int32_t i = 0; i < 2; i++)
        CHECK_CLOSE(eqs_crnn_local_loss(net, i, &s), naive_local_loss(net, i, &s, NULL, tau), 1e-12,
                    1e-12);
    eqs_state_free(&s);
    eqs_state_free(&out);
    eqs_state_free(&pre);
    eqs_state_free(&pre0);
    eqs_crnn_destroy(net);
}

/* ---- 2. conv: the local part of the nudge is -beta lambda dl/ds ---------------------------- */

static eqs_layer_config conv_layer(const char *name, int32_t out, int32_t k, int32_t pad,
                                   eqs_pool pool)
{
    eqs_layer_config l;
    memset(&l, 0, sizeof l);
    l.type = EQS_LAYER_CONV;
    snprintf(l.name, sizeof l.name, "%s", name);
    l.n_out = out;
    l.kernel = k;
    l.padding = pad;
    l.pool = pool;
    l.pool_size = 2;
    return l;
}

static double local_sum(eqs_crnn *net, const eqs_state *s, double tau)
{
    double t = 0;
    for (int32_t i = 0; i < eqs_crnn_n_local(net); i++)
        t += naive_local_loss(net, i, s, NULL, tau);
    return t;
}

static void check_conv_fd(void)
{
    const int32_t sizes[] = {36, 5, 5, 4}, layers[] = {0, 1};
    const double beta = 0.5, lambda = 0.8, tau = 2;
    eqs_model_config m =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    m.in_height = m.in_width = 6;
    m.layers[0] = conv_layer("conv1", 3, 3, 1, EQS_POOL_MAX);  /* 3 x 3 x 3 */
    m.layers[1] = conv_layer("conv2", 4, 2, 0, EQS_POOL_NONE); /* 4 x 2 x 2 */
    eqs_crnn *net;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, B, &err), err);
    eqs_crnn_init_params(net, 5);
    eqs_local_error_config le = le_config(2, layers, tau);
    CHECK_OK(eqs_crnn_local_init(net, &le, 5, &err), err);
    CHECK(eqs_crnn_size(net, 1) == 27 && eqs_crnn_size(net, 2) == 16);
    eqs_real x[36 * B];
    int32_t y[B] = {3, 1, 0};
    test_fill_uniform(x, 36 * B, 0, 1, 6, 0);
    eqs_crnn_set_input(net, x, y, B);
    eqs_state s, out, pre, pre0;
    CHECK_OK(eqs_state_alloc(net, &s, &err), err);
    CHECK_OK(eqs_state_alloc(net, &out, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre0, &err), err);
    test_fill_uniform(s.s[0], 27 * B, 0, 1, 7, 0);
    test_fill_uniform(s.s[1], 16 * B, 0, 1, 7, 1);
    eqs_crnn_local_set_lambda(net, lambda);
    eqs_crnn_step(net, &s, &out, (eqs_real)beta, &pre);
    eqs_crnn_local_set_lambda(net, 0);
    eqs_crnn_step(net, &s, &out, (eqs_real)beta, &pre0);
    const double h = 1e-6;
    double worst = 0, ref = 0;
    for (int32_t k = 0; k < 2; k++)
        for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(net, k + 1); i++) {
            eqs_real keep = s.s[k][i];
            s.s[k][i] = keep + h;
            double fp = local_sum(net, &s, tau);
            s.s[k][i] = keep - h;
            double fm = local_sum(net, &s, tau);
            s.s[k][i] = keep;
            double want = -beta * lambda * (fp - fm) / (2 * h);
            double e = fabs((pre.s[k][i] - pre0.s[k][i]) - want);
            worst = e > worst ? e : worst;
            ref = fabs(want) > ref ? fabs(want) : ref;
        }
    CHECK_MSG(worst < 1e-8 && ref > 1e-3, "conv: max |local nudge + beta lambda FD| = %.3g (%.3g)",
              worst, ref);
    printf("conv   max|local nudge - (-beta lambda FD dl/ds)| = %.2e  (max %.2e)\n", worst, ref);
    eqs_state_free(&s);
    eqs_state_free(&out);
    eqs_state_free(&pre);
    eqs_state_free(&pre0);
    eqs_crnn_destroy(net);
}

/* ---- 3. schedules ------------------------------------------------------------------------- */

static void check_schedules(void)
{
    const double pi = 3.141592653589793;
    eqs_local_error_config le = le_config(1, (const int32_t[]){0}, 4);
    le.lambda0 = 1.0;
    le.lambda_min = 0.1;
    const int32_t E = 10;
    le.schedule = EQS_LAMBDA_CONSTANT;
    for (int32_t e = 0; e <= E; e += 5)
        CHECK_CLOSE(eqs_local_lambda_at(&le, e, E), 1.0, 0, 1e-15);
    le.schedule = EQS_LAMBDA_LINEAR;
    CHECK_CLOSE(eqs_local_lambda_at(&le, 0, E), 1.0, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 5, E), 0.55, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 10, E), 0.1, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 3, E), 1.0 - 0.9 * 0.3, 0, 1e-15);
    le.schedule = EQS_LAMBDA_EXPONENTIAL;
    le.gamma = 0.8;
    CHECK_CLOSE(eqs_local_lambda_at(&le, 0, E), 1.0, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 5, E), 0.32768, 0, 1e-14);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 10, E), 0.1073741824, 0, 1e-14);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 11, E), 0.1, 0, 1e-15); /* 0.0859 floored at lambda_min */
    le.schedule = EQS_LAMBDA_COSINE;
    CHECK_CLOSE(eqs_local_lambda_at(&le, 0, E), 1.0, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 5, E), 0.55, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 10, E), 0.1, 0, 1e-15);
    CHECK_CLOSE(eqs_local_lambda_at(&le, 2, E), 0.1 + 0.45 * (1 + cos(pi * 0.2)), 0, 1e-15);
}

/* ---- 4. KD with one-hot teacher logits is LE ---------------------------------------------- */

static void check_kd_onehot_is_le(void)
{
    const int32_t sizes[] = {6, 5, 4, 3}, layers[] = {0, 1};
    eqs_model_config m =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    eqs_crnn *net;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, B, &err), err);
    eqs_crnn_init_params(net, 8);
    eqs_local_error_config le = le_config(2, layers, 4);
    CHECK_OK(eqs_crnn_local_init(net, &le, 8, &err), err);
    eqs_real x[6 * B], z[3 * B] = {0};
    int32_t y[B] = {1, 2, 0};
    for (int32_t b = 0; b < B; b++)
        z[b * 3 + y[b]] = 1;
    test_fill_uniform(x, 6 * B, 0, 1, 9, 0);
    eqs_crnn_set_input(net, x, y, B);
    eqs_state s, out, pre_le, pre_kd;
    CHECK_OK(eqs_state_alloc(net, &s, &err), err);
    CHECK_OK(eqs_state_alloc(net, &out, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre_le, &err), err);
    CHECK_OK(eqs_state_alloc(net, &pre_kd, &err), err);
    test_fill_uniform(s.s[0], 5 * B, 0, 1, 10, 0);
    test_fill_uniform(s.s[1], 4 * B, 0, 1, 10, 1);
    eqs_crnn_step(net, &s, &out, 0.5, &pre_le);
    eqs_crnn_local_set_teacher(net, 0, z);
    eqs_crnn_local_set_teacher(net, 1, z);
    eqs_crnn_step(net, &s, &out, 0.5, &pre_kd);
    bool same = true;
    for (int32_t k = 0; k < 2; k++)
        same = same && memcmp(pre_le.s[k], pre_kd.s[k],
                              sizeof(eqs_real) * B * (size_t)eqs_crnn_size(net, k + 1)) == 0;
    CHECK_MSG(same, "KD with one-hot teacher logits differs from LE");
    /* a different teacher changes the nudge */
    z[0] = 3;
    eqs_crnn_step(net, &s, &out, 0.5, &pre_kd);
    CHECK(pre_kd.s[0][0] != pre_le.s[0][0]);
    CHECK_CLOSE(eqs_crnn_local_loss(net, 0, &s), naive_local_loss(net, 0, &s, z, 4), 1e-12, 1e-12);
    eqs_state_free(&s);
    eqs_state_free(&out);
    eqs_state_free(&pre_le);
    eqs_state_free(&pre_kd);
    eqs_crnn_destroy(net);
}

/* ---- 5. EP and weighted KD through the trainer -------------------------------------------- */

enum { N_TRAIN = 8 };

static eqs_experiment_config trainer_config(const char *teacher)
{
    const int32_t sizes[] = {6, 5, 4, 3};
    eqs_experiment_config c;
    memset(&c, 0, sizeof c);
    c.model =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    c.algorithm.name = EQS_ALGO_EP;
    c.algorithm.estimator = EQS_EST_SYMMETRIC;
    c.algorithm.beta = 0.5;
    c.algorithm.t1 = 20;
    c.algorithm.t2 = 6;
    c.optimizer.kind = EQS_OPT_SGD;
    c.optimizer.n_lr = 1;
    c.optimizer.lr[0] = 0.05;
    c.training.epochs = 10;
    c.training.batch_size = B;
    c.training.seed = 4;
    c.training.threads = 1;
    eqs_local_error_config *le = &c.algorithm.local_error;
    *le = le_config(2, (const int32_t[]){0, 1}, 3);
    le->signal = EQS_LOCAL_KD;
    le->schedule = EQS_LAMBDA_COSINE;
    le->lambda0 = 2;
    le->lambda_min = 0.5;
    le->weighted = 1;
    le->readout_lr = 0.3;
    le->n_teachers = 1;
    snprintf(le->teacher[0], sizeof le->teacher[0], "%s", teacher);
    return c;
}

/* g_P of readout i from the EP states, loops only: the mean over the batch and the two nudged
 * phases of dl/dP = tau (softmax(r/tau) - softmax(z/tau)) s_l^T, r = P s_l. */
static void naive_p_grad(eqs_crnn *net, int32_t i, const eqs_real *p, const eqs_state *sp,
                         const eqs_state *sn, const eqs_real *z, double tau, double *g)
{
    int32_t l = eqs_crnn_local_layer(net, i), n_l = eqs_crnn_size(net, l + 1);
    int32_t nc = eqs_crnn_n_classes(net);
    memset(g, 0, sizeof(double) * (size_t)(nc * n_l));
    for (int phase = 0; phase < 2; phase++) {
        const eqs_state *s = phase ? sn : sp;
        for (int32_t b = 0; b < B; b++) {
            double r[3], q[3], t[3], sr = 0, st = 0;
            for (int32_t j = 0; j < nc; j++) {
                r[j] = 0;
                for (int32_t u = 0; u < n_l; u++)
                    r[j] += p[j * n_l + u] * s->s[l][b * n_l + u];
                sr += exp(r[j] / tau);
                st += exp(z[b * nc + j] / tau);
            }
            for (int32_t j = 0; j < nc; j++) {
                q[j] = exp(r[j] / tau) / sr;
                t[j] = exp(z[b * nc + j] / tau) / st;
                for (int32_t u = 0; u < n_l; u++)
                    g[j * n_l + u] += tau * (q[j] - t[j]) * s->s[l][b * n_l + u] / (2.0 * B);
            }
        }
    }
}

static void check_ep_and_weighted(const char *tmp)
{
    char teacher[512], bad[512], ckpt[512];
    snprintf(teacher, sizeof teacher, "%s/teacher.npy", tmp);
    snprintf(bad, sizeof bad, "%s/teacher_bad.npy", tmp);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", tmp);
    eqs_err err;
    eqs_real zt[N_TRAIN * 3], zbad[N_TRAIN * 4] = {0};
    test_fill_uniform(zt, N_TRAIN * 3, -3, 3, 12, 0);
    int64_t shape[2] = {N_TRAIN, 3}, shape_bad[2] = {N_TRAIN, 4};
    CHECK_OK(eqs_npy_write_real(teacher, 2, shape, zt, &err), err);
    CHECK_OK(eqs_npy_write_real(bad, 2, shape_bad, zbad, &err), err);

    /* a wrongly shaped or missing teacher file names the file and the shapes */
    eqs_experiment_config c = trainer_config(bad);
    eqs_trainer *tr = NULL;
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_EMISMATCH, err, "teacher_bad.npy");
    CHECK(strstr(err.msg, "(8, 4)") != NULL && strstr(err.msg, "[n_train, 3]") != NULL);
    c = trainer_config("/nonexistent/teacher.npy");
    CHECK_ERR(eqs_trainer_create(&tr, &c, B, &err), EQS_EIO, err, "/nonexistent/teacher.npy");

    c = trainer_config(teacher);
    CHECK_OK(eqs_trainer_create(&tr, &c, B, &err), err);
    if (!tr)
        return;
    CHECK_ERR(eqs_trainer_check_train_set(tr, N_TRAIN + 1, &err), EQS_EMISMATCH, err,
              "teacher.npy");
    CHECK_OK(eqs_trainer_check_train_set(tr, N_TRAIN, &err), err);
    eqs_crnn *net = eqs_trainer_net(tr);
    /* lambda follows the schedule through the trainer */
    eqs_trainer_set_epoch(tr, 5);
    CHECK_CLOSE(eqs_crnn_local_lambda(net), eqs_local_lambda_at(&c.algorithm.local_error, 5, 10), 0,
                1e-15);
    CHECK_CLOSE(eqs_crnn_local_lambda(net), 1.25, 0, 1e-15);
    eqs_trainer_set_epoch(tr, 0);
    CHECK_CLOSE(eqs_crnn_local_lambda(net), 2.0, 0, 1e-15);

    eqs_real x[6 * B];
    int32_t y[B] = {0, 2, 1};
    const int64_t ids[B] = {5, 2, 7};
    eqs_real z[3 * B];
    for (int32_t b = 0; b < B; b++)
        memcpy(z + b * 3, zt + ids[b] * 3, sizeof(eqs_real) * 3);
    test_fill_uniform(x, 6 * B, 0, 1, 13, 0);

    /* EP: the free phase does not see the local signals; both nudged phases do */
    eqs_ep *ep = eqs_trainer_ep(tr);
    eqs_grads g;
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    CHECK(g.p[0] != NULL && g.p[1] != NULL);
    eqs_state ref[3];
    eqs_trainer_set_sample_ids(tr, ids);
    eqs_crnn_local_set_lambda(net, 0);
    eqs_trainer_grads(tr, x, y, B, 0, &g, NULL, NULL);
    const eqs_state *st3[3] = {eqs_ep_state_free(ep), eqs_ep_state_pos(ep), eqs_ep_state_neg(ep)};
    for (int p = 0; p < 3; p++) {
        CHECK_OK(eqs_state_alloc(net, &ref[p], &err), err);
        eqs_state_copy(net, &ref[p], st3[p], B);
    }
    eqs_crnn_local_set_lambda(net, 2);
    eqs_trainer_grads(tr, x, y, B, 0, &g, NULL, NULL);
    for (int p = 0; p < 3; p++) {
        double d = 0;
        for (int32_t k = 0; k < 2; k++)
            for (int64_t i = 0; i < (int64_t)B * eqs_crnn_size(net, k + 1); i++)
                d = fmax(d, fabs(st3[p]->s[k][i] - ref[p].s[k][i]));
        if (p == 0)
            CHECK_MSG(d == 0, "the free phase changed with local signals (%.3g)", d);
        else
            CHECK_MSG(d > 1e-3, "nudged phase %d did not see the local signals (%.3g)", p, d);
        eqs_state_free(&ref[p]);
    }

    /* weighted KD: one training step moves P by -readout_lr times the naive g_P */
    int32_t sizes_l[2] = {5, 4};
    eqs_real p_old[2][3 * 5];
    for (int32_t i = 0; i < 2; i++)
        memcpy(p_old[i], eqs_crnn_local_p(net, i), sizeof(eqs_real) * 3 * (size_t)sizes_l[i]);
    double l;
    int32_t nc_ok;
    CHECK_OK(eqs_trainer_step(tr, x, y, B, 0, &l, &nc_ok, &err), err);
    double worst = 0, ref_g = 0, worst_g = 0;
    for (int32_t i = 0; i < 2; i++) {
        double gn[3 * 5];
        naive_p_grad(net, i, p_old[i], eqs_ep_state_pos(ep), eqs_ep_state_neg(ep), z, 3, gn);
        for (int32_t e = 0; e < 3 * sizes_l[i]; e++) {
            double want = p_old[i][e] - 0.3 * gn[e];
            worst = fmax(worst, fabs(eqs_crnn_local_p(net, i)[e] - want));
            ref_g = fmax(ref_g, fabs(gn[e]));
        }
    }
    /* and the estimate itself, without the step (same states: nothing changed P's input) */
    eqs_trainer_grads(tr, x, y, B, 1, &g, NULL, NULL);
    for (int32_t i = 0; i < 2; i++) {
        double gn[3 * 5];
        naive_p_grad(net, i, eqs_crnn_local_p(net, i), eqs_ep_state_pos(ep), eqs_ep_state_neg(ep),
                     z, 3, gn);
        for (int32_t e = 0; e < 3 * sizes_l[i]; e++)
            worst_g = fmax(worst_g, fabs(g.p[i][e] - gn[e]));
    }
    CHECK_MSG(worst < 1e-13 && worst_g < 1e-13 && ref_g > 1e-3,
              "weighted KD: |P - (P0 - lr g_naive)| = %.3g, |g_P - g_naive| = %.3g (|g| %.3g)",
              worst, worst_g, ref_g);
    printf("weighted KD  max|P step - naive| = %.2e, max|g_P - naive| = %.2e (max|g_P| %.2e)\n",
           worst, worst_g, ref_g);

    /* P is saved with the parameters and loaded back */
    CHECK_OK(eqs_mkdir_p(ckpt, &err), err);
    CHECK_OK(eqs_params_save(net, ckpt, &err), err);
    char path[600];
    snprintf(path, sizeof path, "%s/le.fc2.P.npy", ckpt);
    CHECK(eqs_path_exists(path));
    eqs_real saved = eqs_crnn_local_p(net, 1)[4];
    eqs_crnn_local_p(net, 1)[4] = 42;
    CHECK_OK(eqs_params_load(net, ckpt, &err), err);
    CHECK(eqs_crnn_local_p(net, 1)[4] == saved);
    remove(path);
    CHECK_ERR(eqs_params_load(net, ckpt, &err), EQS_EIO, err, "le.fc2.P.npy");
    eqs_grads_free(&g);
    eqs_trainer_destroy(tr);
    eqs_remove_tree(ckpt);
    remove(teacher);
    remove(bad);
}

/* ---- 6. config ------------------------------------------------------------------------------ */

static const char *exp_text = "schema: eqs.experiment/1\n"
                              "name: le\n"
                              "model:\n"
                              "  schema: eqs.model/1\n"
                              "  name: m\n"
                              "  input: {features: 6}\n"
                              "  layers: [{out: 5}, {out: 4}, {out: 4}, {out: 3}]\n"
                              "  activation: hard_sigmoid\n"
                              "  loss: cross_entropy\n"
                              "  readout: softmax\n"
                              "algorithm:\n"
                              "  name: ep\n"
                              "  beta: 0.5\n"
                              "  t1: 10\n"
                              "  t2: 4\n"
                              "  local_error:\n"
                              "    layers: [fc3, fc1]\n"
                              "    lambda0: 0.5\n"
                              "    schedule: linear\n"
                              "optimizer: {name: sgd, lr: 0.1}\n"
                              "training: {epochs: 4, batch_size: 2}\n";

static eqs_status load_text(const char *tmp, const char *text, const char **sets, int n_sets,
                            eqs_experiment_config *c, eqs_err *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/exp.yaml", tmp);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    eqs_status st = eqs_experiment_load(c, path, sets, n_sets, err);
    remove(path);
    return st;
}

static void check_config(const char *tmp)
{
    static eqs_experiment_config c; /* ~46 kB */
    eqs_err err;
    CHECK_OK(load_text(tmp, exp_text, NULL, 0, &c, &err), err);
    const eqs_local_error_config *le = &c.algorithm.local_error;
    CHECK(le->n_layers == 2 && le->layers[0] == 0 && le->layers[1] == 2);
    CHECK(le->signal == EQS_LOCAL_LE && le->tau == 4 && le->lambda0 == 0.5 && le->lambda_min == 0 &&
          le->schedule == EQS_LAMBDA_LINEAR && !le->weighted);
    /* the resolved config reads back the same */
    char out[512];
    snprintf(out, sizeof out, "%s/resolved.yaml", tmp);
    FILE *f = fopen(out, "w");
    CHECK_OK(eqs_experiment_write(&c, f, &err), err);
    fclose(f);
    static eqs_experiment_config c2;
    CHECK_OK(eqs_experiment_load(&c2, out, NULL, 0, &err), err);
    CHECK(memcmp(&c2.algorithm.local_error, le, sizeof *le) == 0);
    remove(out);

    const char *typo[] = {"algorithm.local_error.lamda0=1"};
    CHECK_ERR(load_text(tmp, exp_text, typo, 1, &c, &err), EQS_ECONFIG, err, "lambda0");
    const char *name[] = {"algorithm.local_error.layers=[fc4]"};
    CHECK_ERR(load_text(tmp, exp_text, name, 1, &c, &err), EQS_ECONFIG, err,
              "expected the name of a dynamic layer (fc1, fc2, fc3)");
    const char *est[] = {"algorithm.estimator=one_sided"};
    CHECK_ERR(load_text(tmp, exp_text, est, 1, &c, &err), EQS_ECONFIG, err, "symmetric");
    const char *kd[] = {"algorithm.local_error.signal=kd"};
    CHECK_ERR(load_text(tmp, exp_text, kd, 1, &c, &err), EQS_ECONFIG, err,
              "algorithm.local_error.teacher: required key is missing");
    const char *two[] = {"algorithm.local_error.signal=kd",
                         "algorithm.local_error.teacher=[a.npy, b.npy, c.npy]"};
    CHECK_ERR(load_text(tmp, exp_text, two, 2, &c, &err), EQS_ECONFIG, err, "a list of 2");
    const char *ok[] = {"algorithm.local_error.signal=kd",
                        "algorithm.local_error.teacher=[a.npy, b.npy]",
                        "algorithm.local_error.weighted=true"};
    CHECK_OK(load_text(tmp, exp_text, ok, 3, &c, &err), err);
    CHECK(c.algorithm.local_error.n_teachers == 2 && c.algorithm.local_error.weighted &&
          strstr(c.algorithm.local_error.teacher[1], "/b.npy") != NULL);
    /* a file:line:col for an error inside the section */
    char bad_text[2048];
    snprintf(bad_text, sizeof bad_text, "%s", exp_text);
    char *at = strstr(bad_text, "    schedule: linear");
    memcpy(at, "    schedule: linaer", 20);
    CHECK_ERR(load_text(tmp, bad_text, NULL, 0, &c, &err), EQS_ECONFIG, err,
              "exp.yaml:19:15: algorithm.local_error.schedule");
}

int main(void)
{
    char tmp[] = "/tmp/eqs_test_local_error.XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    eqs_blas_set_threads(1);
    check_dense_phi_fd();
    check_conv_fd();
    check_schedules();
    check_kd_onehot_is_le();
    check_ep_and_weighted(tmp);
    check_config(tmp);
    rmdir(tmp);
    EQS_TEST_MAIN_END("test_local_error");
}
