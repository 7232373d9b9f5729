/* test_tile_state.c — tile checkpoints (eqs_tile_state_save / _load, docs/tile.md): a tile saved
 * mid-run and loaded into a fresh tile of the same config (after its weights were written, as a
 * resume does) reads, updates and counts bit for bit like the original from then on, for
 * configurations that exercise every piece of state (read noise and converters, PCM drift and
 * refresh, nonlinear devices with stuck cells, wear-out and IR drop, coincidence pulse trains with
 * per-device noise, exactly programmable devices, the ideal tile's counters); a tile not loaded
 * does not (the check can fail); and a missing, truncated, corrupt or foreign state file is a
 * clear error that names the file and field and leaves the tile as it was. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eqs_test.h"
#include "test_util.h"

#include "eqs/xbar.h"

#define SEED 20240611u
#define NO   37
#define NI   53
#define B    6

static char tmpdir[64];

static void *vec(size_t n, size_t size)
{
    void *v = eqs_calloc(n, size, NULL);
    if (!v)
        abort();
    return v;
}

static void fill(eqs_real *x, size_t n, double lo, double hi, uint32_t entity)
{
    test_fill_uniform(x, (int64_t)n, lo, hi, SEED, entity);
}

static eqs_tile *analog(const eqs_hw_config *hw, int32_t n_out, uint64_t seed, uint32_t id)
{
    eqs_tile *t = NULL;
    eqs_err err;
    eqs_status st = eqs_tile_create_analog(&t, n_out, NI, hw, seed, id, &err);
    CHECK_MSG(st == EQS_OK, "create_analog: %s", err.msg);
    if (st != EQS_OK)
        exit(1);
    return t;
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

/* One round of what training does to a tile, every result appended to out (reads: products;
 * updates: the weights after): reads in both directions, a re-read, an outer-product update, a
 * given dW, the pulse port, and (PCM) drift. Returns the number of values written. */
static size_t round_of_ops(eqs_tile *t, int round, bool pulses, eqs_real *out)
{
    eqs_real *x = vec((size_t)B * NI, sizeof(eqs_real)), *y = vec((size_t)B * NO, sizeof(eqs_real));
    eqs_real *dw = vec((size_t)NO * NI, sizeof(eqs_real));
    int32_t *p = vec((size_t)NO * NI, sizeof(int32_t));
    size_t n = 0;
    fill(x, (size_t)B * NI, 0, 1, 100 + (uint32_t)round);
    fill(y, (size_t)B * NO, -0.5, 0.5, 200 + (uint32_t)round);
    fill(dw, (size_t)NO * NI, -0.02, 0.02, 300 + (uint32_t)round);
    for (size_t i = 0; i < (size_t)NO * NI; i++)
        p[i] = (int32_t)(dw[i] * 200); /* -4 .. 4 */
    eqs_tile_set_phase(t, EQS_PHASE_FREE);
    eqs_tile_mvm(t, x, B, out + n, false);
    n += (size_t)B * NO;
    eqs_tile_mvm_again(t, B, out + n, false);
    n += (size_t)B * NO;
    eqs_tile_set_phase(t, EQS_PHASE_NUDGE);
    eqs_tile_mvm_t(t, y, B, out + n, false);
    n += (size_t)B * NI;
    eqs_tile_set_phase(t, EQS_PHASE_UPDATE);
    eqs_tile_update_outer(t, y, x, B, (eqs_real)0.05);
    eqs_tile_read(t, out + n);
    n += (size_t)NO * NI;
    eqs_tile_update_delta(t, dw);
    eqs_tile_read(t, out + n);
    n += (size_t)NO * NI;
    if (pulses) {
        eqs_tile_program_pulses(t, p);
        eqs_tile_read(t, out + n);
        n += (size_t)NO * NI;
    }
    eqs_tile_advance_time(t, 30.0);
    eqs_tile_set_phase(t, EQS_PHASE_INFER);
    eqs_tile_mvm(t, x, B, out + n, false);
    n += (size_t)B * NO;
    eqs_free(x);
    eqs_free(y);
    eqs_free(dw);
    eqs_free(p);
    return n;
}

#define ROUND_MAX ((size_t)(3 * B * NO + B * NI + 3 * NO * NI))

static bool same_counts(const eqs_tile *a, const eqs_tile *b)
{
    for (int p = 0; p < EQS_PHASE_N; p++)
        if (memcmp(eqs_tile_counts_get(a, (eqs_phase)p), eqs_tile_counts_get(b, (eqs_phase)p),
                   sizeof(eqs_tile_counts)) != 0)
            return false;
    return true;
}

static bool same_files(const char *p, const char *q)
{
    size_t n, m;
    unsigned char *a = slurp(p, &n), *b = slurp(q, &m);
    bool same = a && b && n == m && memcmp(a, b, n) == 0;
    free(a);
    free(b);
    return same;
}

/* Runs A for two rounds, saves it, loads the state into a fresh B (weights written first, as
 * eqs_params_load does), then runs both three more rounds: every value, the counters and the
 * state files must agree bit for bit. With control, a third tile C given the weights alone
 * must differ (the comparison can fail). */
static void check_roundtrip(const char *label, const eqs_hw_config *hw, bool pulses, bool control)
{
    eqs_tile *a = analog(hw, NO, SEED, 3), *b = analog(hw, NO, SEED, 3);
    eqs_real *w = vec((size_t)NO * NI, sizeof(eqs_real));
    eqs_real *oa = vec(ROUND_MAX, sizeof(eqs_real)), *ob = vec(ROUND_MAX, sizeof(eqs_real));
    fill(w, (size_t)NO * NI, -0.6, 0.6, 1);
    eqs_tile_write(a, w);
    for (int r = 0; r < 2; r++)
        round_of_ops(a, r, pulses, oa);
    char path[128], path_b[128];
    path_of(path, sizeof path, "a.tile");
    path_of(path_b, sizeof path_b, "b.tile");
    eqs_err err;
    CHECK_OK(eqs_tile_state_save(a, path, &err), err);
    eqs_tile_read(a, w);
    eqs_tile_write(b, w);
    CHECK_OK(eqs_tile_state_load(b, path, &err), err);
    eqs_real *wb = vec((size_t)NO * NI, sizeof(eqs_real));
    eqs_tile_read(b, wb);
    CHECK_MSG(memcmp(w, wb, sizeof(eqs_real) * NO * NI) == 0, "%s: weights after load differ",
              label);
    CHECK_MSG(same_counts(a, b), "%s: counters after load differ", label);
    bool same = true;
    for (int r = 2; r < 5; r++) {
        size_t n = round_of_ops(a, r, pulses, oa), m = round_of_ops(b, r, pulses, ob);
        same = same && n == m && memcmp(oa, ob, sizeof(eqs_real) * n) == 0;
    }
    CHECK_MSG(same, "%s: reads or updates after load differ from the saved tile's", label);
    CHECK_MSG(same_counts(a, b), "%s: counters differ after more rounds", label);
    CHECK_OK(eqs_tile_state_save(a, path, &err), err);
    CHECK_OK(eqs_tile_state_save(b, path_b, &err), err);
    CHECK_MSG(same_files(path, path_b), "%s: the state files of A and B differ", label);
    if (control) { /* the weights alone: the devices, streams and counters start over */
        eqs_tile *c = analog(hw, NO, SEED, 3);
        eqs_tile *a2 = analog(hw, NO, SEED, 3);
        fill(w, (size_t)NO * NI, -0.6, 0.6, 1);
        eqs_tile_write(a2, w);
        for (int r = 0; r < 2; r++)
            round_of_ops(a2, r, pulses, oa);
        eqs_tile_read(a2, w);
        eqs_tile_write(c, w);
        size_t n = round_of_ops(a2, 2, pulses, oa), m = round_of_ops(c, 2, pulses, ob);
        CHECK_MSG(n != m || memcmp(oa, ob, sizeof(eqs_real) * n) != 0,
                  "%s: a tile given only the weights reads like the saved one: the test would "
                  "not see a lost state",
                  label);
        eqs_tile_destroy(c);
        eqs_tile_destroy(a2);
    }
    eqs_free(w);
    eqs_free(wb);
    eqs_free(oa);
    eqs_free(ob);
    eqs_tile_destroy(a);
    eqs_tile_destroy(b);
}

/* PCM pairs (one-sided, refresh, drift) with read noise, output noise, 8-bit DAC and calibrated
 * ADC, device-to-device spreads and c2c, on a 3 x 3 grid of physical tiles. */
static void pcm_config(eqs_hw_config *hw)
{
    eqs_hw_config_default(hw);
    eqs_device_config_default(&hw->device, EQS_DEV_PCM);
    hw->device.n_states = 50;
    hw->device.read_noise_rel = 0.02;
    hw->device.c2c = 0.3;
    hw->device.d2d_step = 0.2;
    hw->device.d2d_bounds = 0.05;
    hw->array.refresh_threshold = 0.25;
    hw->array.max_rows = 16;
    hw->array.max_cols = 24;
    hw->periphery.dac_bits = 8;
    hw->periphery.dac_range = 1;
    hw->periphery.adc_bits = 8;
    hw->periphery.adc_range_mode = EQS_ADC_CALIBRATED;
    hw->periphery.out_noise = 0.01;
    hw->update.one_sided = 1;
    hw->update.max_pulses = 20;
}

static void test_roundtrips(void)
{
    eqs_hw_config hw;
    pcm_config(&hw);
    check_roundtrip("pcm", &hw, true, true);

    /* nonlinear LTP/LTD, both devices move, stuck cells, wear-out, asymmetry, IR drop, additive
     * read noise and a fixed-range ADC */
    eqs_hw_config_default(&hw);
    eqs_device_config_default(&hw.device, EQS_DEV_NONLINEAR);
    hw.device.c2c = 0.05;
    hw.device.d2d_step = 0.1;
    hw.device.d2d_up_down = 0.1;
    hw.device.stuck_off_frac = 0.03;
    hw.device.stuck_on_frac = 0.02;
    hw.device.endurance_pulses = 40;
    hw.device.read_noise_sie = 1e-8;
    hw.array.r_wire_ohm = 0.5;
    hw.periphery.adc_bits = 6;
    hw.periphery.adc_range = 8;
    hw.update.one_sided = 0;
    hw.update.max_pulses = 10;
    check_roundtrip("nonlinear, stuck, worn, IR drop", &hw, true, true);

    /* coincidence pulse trains with per-device read noise drawn for every read */
    eqs_hw_config_default(&hw);
    eqs_device_config_default(&hw.device, EQS_DEV_SOFT_BOUNDS);
    hw.device.n_states = 200;
    hw.device.c2c = 0.1;
    hw.device.read_noise_rel = 0.01;
    hw.periphery.exact_read_noise = 1;
    hw.update.mode = EQS_PULSE_COINCIDENCE;
    hw.update.bl = 31;
    hw.update.one_sided = 0;
    check_roundtrip("coincidence, exact read noise", &hw, true, false);

    /* exactly programmable devices (the float update, bounded), with refresh */
    eqs_hw_config_default(&hw);
    hw.array.refresh_threshold = 0.1;
    check_roundtrip("ideal devices", &hw, false, false);
}

/* The ideal tile's file holds its counters. */
static void test_ideal_tile(void)
{
    eqs_tile *a = NULL, *b = NULL;
    eqs_err err;
    if (eqs_tile_create_ideal(&a, NO, NI, &err) != EQS_OK ||
        eqs_tile_create_ideal(&b, NO, NI, &err) != EQS_OK)
        exit(1);
    eqs_real *out = vec(ROUND_MAX, sizeof(eqs_real));
    round_of_ops(a, 0, false, out);
    char path[128];
    path_of(path, sizeof path, "ideal.tile");
    CHECK_OK(eqs_tile_state_save(a, path, &err), err);
    CHECK_OK(eqs_tile_state_load(b, path, &err), err);
    CHECK(same_counts(a, b));
    CHECK(eqs_tile_counts_get(b, EQS_PHASE_UPDATE)->updates == 2);
    eqs_free(out);
    eqs_tile_destroy(a);
    eqs_tile_destroy(b);
}

/* Bad files: clear errors naming the file (and field), and the tile unchanged. */
static void test_bad_files(void)
{
    eqs_hw_config hw;
    pcm_config(&hw);
    eqs_tile *a = analog(&hw, NO, SEED, 3);
    eqs_real *w = vec((size_t)NO * NI, sizeof(eqs_real));
    eqs_real *oa = vec(ROUND_MAX, sizeof(eqs_real)), *ob = vec(ROUND_MAX, sizeof(eqs_real));
    fill(w, (size_t)NO * NI, -0.6, 0.6, 1);
    eqs_tile_write(a, w);
    round_of_ops(a, 0, true, oa);
    char good[128], bad[128];
    path_of(good, sizeof good, "good.tile");
    path_of(bad, sizeof bad, "bad.tile");
    eqs_err err;
    CHECK_OK(eqs_tile_state_save(a, good, &err), err);
    size_t len;
    unsigned char *data = slurp(good, &len);
    CHECK(data != NULL && len > 1000);
    if (!data)
        exit(1);

    /* the victim: a fresh tile with the weights; every failed load must leave it as it is */
    eqs_tile *t = analog(&hw, NO, SEED, 3), *twin = analog(&hw, NO, SEED, 3);
    eqs_tile_write(t, w);
    eqs_tile_write(twin, w);

    char missing[128];
    path_of(missing, sizeof missing, "missing.tile");
    CHECK_ERR(eqs_tile_state_load(t, missing, &err), EQS_EIO, err, missing);
    spit(bad, data, 20);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, bad);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, "truncated");
    spit(bad, data, len / 2);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, bad);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, "truncated");
    spit(bad, data, len - 1);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, "truncated");
    data[len / 2] ^= 0x10;
    spit(bad, data, len);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, "checksum");
    data[len / 2] ^= 0x10;
    data[0] = 'X';
    spit(bad, data, len);
    CHECK_ERR(eqs_tile_state_load(t, bad, &err), EQS_EFORMAT, err, "magic");
    data[0] = 'E';

    /* another tile's state: size, seed, id, family, device kind */
    eqs_tile *other = analog(&hw, NO - 1, SEED, 3);
    CHECK_ERR(eqs_tile_state_load(other, good, &err), EQS_EMISMATCH, err, "n_out");
    CHECK(strstr(err.msg, good) != NULL);
    eqs_tile_destroy(other);
    other = analog(&hw, NO, SEED + 1, 3);
    CHECK_ERR(eqs_tile_state_load(other, good, &err), EQS_EMISMATCH, err, "'seed'");
    eqs_tile_destroy(other);
    other = analog(&hw, NO, SEED, 4);
    CHECK_ERR(eqs_tile_state_load(other, good, &err), EQS_EMISMATCH, err, "'id'");
    eqs_tile_destroy(other);
    eqs_hw_config hw2 = hw;
    eqs_device_config_default(&hw2.device, EQS_DEV_CONSTANT_STEP);
    other = analog(&hw2, NO, SEED, 3);
    CHECK_ERR(eqs_tile_state_load(other, good, &err), EQS_EMISMATCH, err, "'gp.kind'");
    eqs_tile_destroy(other);
    if (eqs_tile_create_ideal(&other, NO, NI, &err) != EQS_OK)
        exit(1);
    CHECK_ERR(eqs_tile_state_load(other, good, &err), EQS_EMISMATCH, err, "family");
    char ideal_path[128];
    path_of(ideal_path, sizeof ideal_path, "ideal2.tile");
    CHECK_OK(eqs_tile_state_save(other, ideal_path, &err), err);
    CHECK_ERR(eqs_tile_state_load(t, ideal_path, &err), EQS_EMISMATCH, err, "family");
    eqs_tile_destroy(other);

    size_t n = round_of_ops(t, 1, true, oa), m = round_of_ops(twin, 1, true, ob);
    CHECK_MSG(n == m && memcmp(oa, ob, sizeof(eqs_real) * n) == 0 && same_counts(t, twin),
              "a failed load changed the tile");
    /* and the good file still loads into it */
    CHECK_OK(eqs_tile_state_load(t, good, &err), err);

    unlink(bad);
    unlink(good);
    unlink(ideal_path);
    free(data);
    eqs_free(w);
    eqs_free(oa);
    eqs_free(ob);
    eqs_tile_destroy(a);
    eqs_tile_destroy(t);
    eqs_tile_destroy(twin);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tile_state.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrips();
    test_ideal_tile();
    test_bad_files();
    const char *names[] = {"a.tile", "b.tile", "ideal.tile"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        path_of(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    EQS_TEST_MAIN_END("test_tile_state");
}
