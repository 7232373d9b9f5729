/* test_net.c — the ideal tile, one CRNN step and the EP contrast against naive loops written
 * from the equations, and the optimizers against PyTorch's update formulas step by step. */
#include <stdlib.h>

#include "eqs_test.h"
#include "test_util.h"

static void test_tile_against_loops(void)
{
    enum { O = 3, I = 4, B = 2 };
    eqs_tile *t;
    eqs_err err;
    CHECK_OK(eqs_tile_create_ideal(&t, O, I, &err), err);
    eqs_real w[O * I], x[B * I], y[B * O], back[B * I], got[O * I];
    test_fill_uniform(w, O * I, -1, 1, 1, 0);
    test_fill_uniform(x, B * I, -1, 1, 1, 1);
    test_fill_uniform(y, B * O, -1, 1, 1, 2);
    eqs_tile_write(t, w);
    eqs_real out[B * O];
    eqs_tile_mvm(t, x, B, out, false);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++) {
            double want = 0;
            for (int i = 0; i < I; i++)
                want += (double)w[o * I + i] * x[b * I + i];
            CHECK_CLOSE(out[b * O + o], want, 1e-6, 0);
        }
    eqs_tile_mvm_t(t, y, B, back, false);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < I; i++) {
            double want = 0;
            for (int o = 0; o < O; o++)
                want += (double)w[o * I + i] * y[b * O + o];
            CHECK_CLOSE(back[b * I + i], want, 1e-6, 0);
        }
    eqs_tile_update_outer(t, y, x, B, (eqs_real)0.5);
    eqs_tile_read(t, got);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            double want = w[o * I + i];
            for (int b = 0; b < B; b++)
                want += 0.5 * y[b * O + o] * x[b * I + i];
            CHECK_CLOSE(got[o * I + i], want, 1e-6, 0);
        }
    CHECK(eqs_tile_n_out(t) == O && eqs_tile_n_in(t) == I);
    CHECK(strcmp(eqs_tile_kind(t), "ideal") == 0);
    CHECK(eqs_tile_create_ideal(&t, 0, I, &err) == EQS_EINVAL);
    eqs_tile_destroy(t);
}

static double clamp01(double v)
{
    return v < 0 ? 0 : (v > 1 ? 1 : v);
}

/* One nudged step of a 4-3-3-2 CRNN with a softmax readout, written out from the equations. */
static void test_step_against_equations(void)
{
    const int32_t sizes[] = {4, 3, 3, 2};
    eqs_model_config m =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    eqs_crnn *net;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_crnn_init_params(net, 3);
    eqs_real w1[12], w2[9], w3[6], x[4] = {0.1f, 0.9f, 0.4f, 0.7f};
    int32_t y[1] = {1};
    eqs_tile_read(eqs_crnn_tile(net, 0), w1);
    eqs_tile_read(eqs_crnn_tile(net, 1), w2);
    eqs_tile_read(eqs_crnn_tile(net, 2), w3);
    const eqs_real *b1 = eqs_crnn_bias(net, 0), *b2 = eqs_crnn_bias(net, 1),
                   *b3 = eqs_crnn_bias(net, 2);
    eqs_state in, out;
    CHECK_OK(eqs_state_alloc(net, &in, &err), err);
    CHECK_OK(eqs_state_alloc(net, &out, &err), err);
    eqs_real s1[3] = {0.2f, 0.5f, 0.8f}, s2[3] = {0.3f, 0.6f, 0.1f};
    memcpy(in.s[0], s1, sizeof s1);
    memcpy(in.s[1], s2, sizeof s2);
    eqs_crnn_set_input(net, x, y, 1);
    const double beta = 0.3;
    eqs_crnn_step(net, &in, &out, (eqs_real)beta, NULL);

    double z[2], p[2], zmax, sum = 0;
    for (int c = 0; c < 2; c++) {
        z[c] = b3[c];
        for (int j = 0; j < 3; j++)
            z[c] += (double)w3[c * 3 + j] * s2[j];
    }
    zmax = z[0] > z[1] ? z[0] : z[1];
    for (int c = 0; c < 2; c++)
        sum += exp(z[c] - zmax);
    for (int c = 0; c < 2; c++)
        p[c] = exp(z[c] - zmax) / sum - (c == y[0]);
    for (int i = 0; i < 3; i++) {
        double h1 = b1[i], h2 = b2[i];
        for (int j = 0; j < 4; j++)
            h1 += (double)w1[i * 4 + j] * x[j];
        for (int j = 0; j < 3; j++) {
            h1 += (double)w2[j * 3 + i] * s2[j]; /* backward drive W2^T s2 */
            h2 += (double)w2[i * 3 + j] * s1[j]; /* forward drive W2 s1 */
        }
        for (int c = 0; c < 2; c++)
            h2 -= beta * (double)w3[c * 3 + i] * p[c]; /* nudge through the readout */
        CHECK_CLOSE(out.s[0][i], clamp01(h1), 1e-6, 0);
        CHECK_CLOSE(out.s[1][i], clamp01(h2), 1e-6, 0);
    }
    eqs_state_free(&in);
    eqs_state_free(&out);
    eqs_crnn_destroy(net);
}

/* The symmetric estimate from the states EP reports, recomputed from its definition. */
static void test_ep_contrast_against_definition(void)
{
    const int32_t sizes[] = {5, 4, 3, 2};
    eqs_model_config m =
        test_model(sizes, 3, EQS_ACT_HARD_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    eqs_crnn *net;
    eqs_ep *ep;
    eqs_grads g;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 2, &err), err);
    eqs_crnn_init_params(net, 5);
    eqs_algorithm_config alg = {
        .name = EQS_ALGO_EP, .estimator = EQS_EST_SYMMETRIC, .beta = 0.2, .t1 = 20, .t2 = 6};
    CHECK_OK(eqs_ep_create(&ep, net, &alg, &err), err);
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    eqs_real x[10];
    int32_t y[2] = {0, 1};
    test_fill_uniform(x, 10, 0, 1, 9, 0);
    eqs_crnn_set_input(net, x, y, 2);
    eqs_ep_estimate(ep, 1, &g, NULL, NULL);
    const eqs_state *sp = eqs_ep_state_pos(ep), *sn = eqs_ep_state_neg(ep);
    CHECK(sn != NULL);
    const double c = -1.0 / (2 * 0.2 * 2);
    double worst = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) {
            double want = 0;
            for (int b = 0; b < 2; b++)
                want += c * ((double)sp->s[0][b * 4 + i] - sn->s[0][b * 4 + i]) * x[b * 5 + j];
            worst = fmax(worst, fabs(want - g.w[0][i * 5 + j]));
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            double want = 0;
            for (int b = 0; b < 2; b++)
                want += c * ((double)sp->s[1][b * 3 + i] * sp->s[0][b * 4 + j] -
                             (double)sn->s[1][b * 3 + i] * sn->s[0][b * 4 + j]);
            worst = fmax(worst, fabs(want - g.w[1][i * 4 + j]));
        }
    CHECK_MSG(worst < 1e-6, "EP contrast differs from its definition by %.3g", worst);
    eqs_grads_free(&g);
    eqs_ep_destroy(ep);
    eqs_crnn_destroy(net);
}

/* A 1x1 "network" whose single weight follows PyTorch's formulas for three steps. */
static void check_optimizer(eqs_optimizer_kind kind, double wd)
{
    const int32_t sizes[] = {1, 1};
    eqs_model_config m =
        test_model(sizes, 1, EQS_ACT_HARD_SIGMOID, EQS_LOSS_MSE, EQS_READOUT_ACTIVATION);
    eqs_crnn *net;
    eqs_optim *opt;
    eqs_grads g;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_optimizer_config oc = {kind, 1, {0.1}, 0.9, wd, 0.9, 0.999, 1e-8, EQS_SCHED_CONSTANT,
                               0,    0, 0,     {0}, 0.1};
    CHECK_OK(eqs_optim_create(&opt, net, &oc, 1, &err), err);
    CHECK_OK(eqs_grads_alloc(net, &g, &err), err);
    eqs_real w = 0.5f;
    eqs_tile_write(eqs_crnn_tile(net, 0), &w);
    double th = 0.5, mom = 0, m1 = 0, v1 = 0;
    const double grads[3] = {0.3, -0.2, 0.05};
    for (int t = 1; t <= 3; t++) {
        g.w[0][0] = (eqs_real)grads[t - 1];
        g.b[0][0] = 0;
        eqs_optim_step(opt, net, &g);
        double gi = grads[t - 1] + wd * th;
        if (kind == EQS_OPT_SGD) {
            mom = 0.9 * mom + gi;
            th -= 0.1 * mom;
        } else {
            m1 = 0.9 * m1 + 0.1 * gi;
            v1 = 0.999 * v1 + 0.001 * gi * gi;
            double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
            th -= 0.1 / bc1 * m1 / (sqrt(v1) / sqrt(bc2) + 1e-8);
        }
        eqs_tile_read(eqs_crnn_tile(net, 0), &w);
        CHECK_CLOSE(w, th, 1e-6, 1e-6);
    }
    eqs_grads_free(&g);
    eqs_optim_destroy(opt);
    eqs_crnn_destroy(net);
}

static void test_cosine_schedule(void)
{
    const int32_t sizes[] = {2, 2};
    eqs_model_config m =
        test_model(sizes, 1, EQS_ACT_HARD_SIGMOID, EQS_LOSS_MSE, EQS_READOUT_ACTIVATION);
    eqs_crnn *net;
    eqs_optim *opt;
    eqs_err err;
    CHECK_OK(eqs_crnn_create(&net, &m, 1, &err), err);
    eqs_optimizer_config oc = {EQS_OPT_SGD,      1,   {0.2}, 0, 0,   0.9, 0.999, 1e-8,
                               EQS_SCHED_COSINE, 0.1, 0,     0, {0}, 0.1};
    CHECK_OK(eqs_optim_create(&opt, net, &oc, 10, &err), err);
    CHECK_CLOSE(eqs_optim_lr(opt, 0), 0.2, 1e-12, 0);
    eqs_optim_set_epoch(opt, 5);
    CHECK_CLOSE(eqs_optim_lr(opt, 0), 0.02 + 0.18 * 0.5, 1e-12, 0);
    eqs_optim_set_epoch(opt, 10);
    CHECK_CLOSE(eqs_optim_lr(opt, 0), 0.02, 1e-12, 0);
    eqs_optim_destroy(opt);
    eqs_crnn_destroy(net);
}

/* Kolen-Pollack: with one shared estimate for W and W^b and weight decay lambda, W - W^b
 * shrinks by (1 - lr lambda) per step (Laborieux D.3), so the alignment angle goes to zero;
 * (sigmoid units: a hard sigmoid network decayed this hard would clamp to zero and stop learning)
 * plain VF updates them differently and they stay apart. 300 SGD steps at lr*lambda = 0.05
 * leave (0.95)^300 = 2e-7 of the initial difference. */
static double train_angle(eqs_rule rule)
{
    eqs_experiment_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const int32_t sizes[] = {12, 10, 8, 3};
    cfg.model = test_model(sizes, 3, EQS_ACT_SIGMOID, EQS_LOSS_CROSS_ENTROPY, EQS_READOUT_SOFTMAX);
    cfg.model.feedback = EQS_FEEDBACK_ASYMMETRIC;
    cfg.algorithm = (eqs_algorithm_config){.name = EQS_ALGO_EP,
                                           .estimator = EQS_EST_SYMMETRIC,
                                           .rule = rule,
                                           .beta = 0.2,
                                           .t1 = 15,
                                           .t2 = 5};
    cfg.optimizer =
        (eqs_optimizer_config){.kind = EQS_OPT_SGD, .n_lr = 1, .lr = {0.5}, .weight_decay = 0.1};
    cfg.training.epochs = 1;
    cfg.training.seed = 3;
    eqs_trainer *tr;
    eqs_err err;
    CHECK_OK(eqs_trainer_create(&tr, &cfg, 16, &err), err);
    double before = eqs_crnn_alignment_deg(eqs_trainer_net(tr), 1);
    eqs_real x[16 * 12];
    int32_t y[16];
    for (int32_t step = 0; step < 300; step++) {
        test_fill_uniform(x, 16 * 12, 0, 1, 11, (uint32_t)step);
        for (int32_t i = 0; i < 16; i++)
            y[i] = (i + step) % 3;
        CHECK_OK(eqs_trainer_step(tr, x, y, 16, (uint64_t)step, NULL, NULL, &err), err);
    }
    double after = eqs_crnn_alignment_deg(eqs_trainer_net(tr), 1);
    printf("alignment angle of fc2 with %s: %.2f deg at init, %.2f deg after 300 steps\n",
           eqs_rule_name(rule), before, after);
    CHECK(before > 60); /* independent random initialisations are nearly orthogonal */
    eqs_trainer_destroy(tr);
    return after;
}

static void test_kp_vf_aligns(void)
{
    double kp = train_angle(EQS_RULE_KP_VF), vf = train_angle(EQS_RULE_VF);
    CHECK_MSG(kp < 1, "KP-VF left W and W^b %.2f degrees apart", kp);
    CHECK_MSG(vf > 10, "plain VF aligned W and W^b to %.2f degrees", vf);
}

int main(void)
{
    test_tile_against_loops();
    test_step_against_equations();
    test_ep_contrast_against_definition();
    check_optimizer(EQS_OPT_SGD, 0);
    check_optimizer(EQS_OPT_SGD, 0.01);
    check_optimizer(EQS_OPT_ADAM, 0);
    check_optimizer(EQS_OPT_ADAM, 0.01);
    test_cosine_schedule();
    test_kp_vf_aligns();
    EQS_TEST_MAIN_END("test_net");
}
