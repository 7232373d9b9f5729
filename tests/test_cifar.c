/* test_cifar.c — the CIFAR-10 binary reader (synthetic files in a mkdtemp folder, removed at the
 * end), per-channel normalisation, and the crop/flip augmentation against a naive reference. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "eqs_test.h"

#include "eqs/io.h"

static char g_dir[256];

#define PATH_LEN     512
#define IN_DIR(name) path_in((char[PATH_LEN]){0}, (name))
#define RECORD       EQS_CIFAR10_RECORD_BYTES
#define PIXELS       (RECORD - 1)

static const char *path_in(char *out, const char *name)
{
    snprintf(out, PATH_LEN, "%s/%s", g_dir, name);
    return out;
}

/* ---- synthetic CIFAR files --------------------------------------------------------------- */

/* A byte that depends on every coordinate with different weights, so that any other layout
 * (H,W,C, transposed rows, another record) puts wrong values somewhere. */
static uint8_t pixel_byte(int64_t rec, int c, int row, int col)
{
    return (uint8_t)(rec * 41 + c * 83 + row * 29 + col * 7 + row * col);
}

static uint8_t label_of(int64_t rec)
{
    return (uint8_t)((rec * 7 + 3) % 10);
}

/* Records first..first+n-1 in the format: label, then R, G, B planes row-major. */
static unsigned char *make_records(int64_t first, int64_t n)
{
    unsigned char *buf = malloc((size_t)(n * RECORD));
    for (int64_t k = 0; k < n; k++) {
        unsigned char *r = buf + k * RECORD;
        r[0] = label_of(first + k);
        for (int c = 0; c < 3; c++)
            for (int row = 0; row < 32; row++)
                for (int col = 0; col < 32; col++)
                    r[1 + c * 1024 + row * 32 + col] = pixel_byte(first + k, c, row, col);
    }
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        CHECK(f != NULL && gzwrite(f, data, (unsigned)len) == (int)len);
        if (f)
            gzclose(f);
        return;
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void write_cifar(const char *path, int64_t first, int64_t n, int gz)
{
    unsigned char *buf = make_records(first, n);
    write_bytes(path, buf, (size_t)(n * RECORD), gz);
    free(buf);
}

/* d holds records first..first+d->n-1 exactly where the format puts them (C,H,W, /255). */
static void check_records(const eqs_dataset *d, int64_t first, int64_t n)
{
    CHECK(d->n == n && d->channels == 3 && d->height == 32 && d->width == 32);
    CHECK(d->n_features == 3072 && d->n_classes == 10);
    int64_t bad_x = 0, bad_y = 0;
    for (int64_t k = 0; k < d->n; k++) {
        bad_y += d->y[k] != label_of(first + k);
        for (int c = 0; c < 3; c++)
            for (int row = 0; row < 32; row++)
                for (int col = 0; col < 32; col++) {
                    eqs_real want = (eqs_real)pixel_byte(first + k, c, row, col) / (eqs_real)255;
                    bad_x += d->x[k * 3072 + (c * 32 + row) * 32 + col] != want;
                }
    }
    CHECK_MSG(bad_x == 0 && bad_y == 0, "%lld misplaced pixels, %lld wrong labels",
              (long long)bad_x, (long long)bad_y);
}

/* ---- reader ------------------------------------------------------------------------------ */

static void test_load_file(void)
{
    eqs_dataset d;
    eqs_err err;
    write_cifar(IN_DIR("seven.bin"), 0, 7, 0);
    CHECK_OK(eqs_cifar10_load_file(&d, IN_DIR("seven.bin"), &err), err);
    check_records(&d, 0, 7);
    eqs_dataset_free(&d);
    /* Told by content: a gzip file loads the same, whatever its name. */
    write_cifar(IN_DIR("seven-gz.bin"), 0, 7, 1);
    CHECK_OK(eqs_cifar10_load_file(&d, IN_DIR("seven-gz.bin"), &err), err);
    check_records(&d, 0, 7);
    eqs_dataset_free(&d);
}

static void test_load_splits(void)
{
    eqs_dataset d;
    eqs_err err;
    CHECK(eqs_mkdir_p(IN_DIR("splits"), &err) == EQS_OK);
    static const int64_t sizes[5] = {2, 3, 1, 2, 4};
    int64_t first = 0;
    for (int b = 0; b < 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "splits/data_batch_%d.bin%s", b + 1, b == 2 ? ".gz" : "");
        write_cifar(IN_DIR(name), first, sizes[b], b == 2);
        first += sizes[b];
    }
    write_cifar(IN_DIR("splits/test_batch.bin"), 100, 3, 0);
    CHECK_OK(eqs_cifar10_load(&d, IN_DIR("splits"), "train", &err), err);
    check_records(&d, 0, 12); /* the five batches concatenated in order */
    eqs_dataset_free(&d);
    CHECK_OK(eqs_cifar10_load(&d, IN_DIR("splits"), "test", &err), err);
    check_records(&d, 100, 3);
    eqs_dataset_free(&d);
    CHECK_ERR(eqs_cifar10_load(&d, IN_DIR("splits"), "valid", &err), EQS_EINVAL, err,
              "split 'valid' (expected 'train' or 'test')");
    CHECK_ERR(eqs_cifar10_load(&d, IN_DIR("nowhere"), "test", &err), EQS_EIO, err,
              "nowhere/test_batch.bin.gz exists: the CIFAR-10 binary version is not packaged in "
              "Debian: point data.dir at a folder");
    unlink(IN_DIR("splits/data_batch_4.bin"));
    CHECK_ERR(eqs_cifar10_load(&d, IN_DIR("splits"), "train", &err), EQS_EIO, err,
              "data_batch_4.bin nor");
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
}

static void test_errors(void)
{
    eqs_dataset d;
    eqs_err err;
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("missing.bin"), &err), EQS_EIO, err,
              "missing.bin: cannot open: No such file or directory (the CIFAR-10 binary version "
              "is not packaged in Debian");

    /* 10,000 records and one byte, as a sparse file: the size alone is wrong. */
    write_bytes(IN_DIR("long.bin"), "", 0, 0);
    CHECK(truncate(IN_DIR("long.bin"), 30730001) == 0);
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("long.bin"), &err), EQS_EFORMAT, err,
              "long.bin: truncated: 30730001 bytes is not a whole number of 3073-byte records "
              "(the last of 10001 has 1 of its bytes)");

    unsigned char *buf = make_records(0, 3);
    write_bytes(IN_DIR("cut.bin"), buf, 2 * RECORD + 100, 0);
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("cut.bin"), &err), EQS_EFORMAT, err,
              "6246 bytes is not a whole number");
    write_bytes(IN_DIR("empty.bin"), buf, 0, 0);
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("empty.bin"), &err), EQS_EFORMAT, err,
              "empty.bin: empty file");
    buf[2 * RECORD] = 10;
    write_bytes(IN_DIR("label.bin"), buf, 3 * RECORD, 0);
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("label.bin"), &err), EQS_EFORMAT, err,
              "label.bin: record 2 has label 10 (expected 0 to 9)");
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
    free(buf);

    /* A gzip stream cut in the middle. */
    write_cifar(IN_DIR("cut.bin.gz"), 0, 7, 1);
    struct stat sb;
    CHECK(stat(IN_DIR("cut.bin.gz"), &sb) == 0 &&
          truncate(IN_DIR("cut.bin.gz"), sb.st_size / 2) == 0);
    CHECK_ERR(eqs_cifar10_load_file(&d, IN_DIR("cut.bin.gz"), &err), EQS_EFORMAT, err,
              "cut.bin.gz: truncated: the gzip stream ends without its trailer");
}

/* ---- normalisation ----------------------------------------------------------------------- */

static void test_normalize_channels(void)
{
    eqs_dataset d;
    eqs_err err;
    write_cifar(IN_DIR("norm.bin"), 0, 2, 0);
    CHECK_OK(eqs_cifar10_load_file(&d, IN_DIR("norm.bin"), &err), err);
    const double *mean = eqs_cifar10_mean, *std = eqs_cifar10_std;
    eqs_dataset_normalize_channels(&d, mean, std);
    double worst = 0;
    for (int64_t k = 0; k < 2; k++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) {
                double want = (pixel_byte(k, c, p / 32, p % 32) / 255.0 - mean[c]) / std[c];
                double got = d.x[k * 3072 + c * 1024 + p];
                worst = fmax(worst, fabs(got - want));
            }
    /* |result| <= 2.2 and std >= 0.24: the roundings of x, mean, std, - and / add up to about
     * 6 eps at most. */
    CHECK_CLOSE(worst, 0, 8 * EQS_REAL_EPS, 0);
    eqs_dataset_free(&d);

    /* Equal channels give exactly what the scalar eqs_dataset_normalize gives. */
    eqs_dataset a, b;
    CHECK_OK(eqs_cifar10_load_file(&a, IN_DIR("norm.bin"), &err), err);
    CHECK_OK(eqs_cifar10_load_file(&b, IN_DIR("norm.bin"), &err), err);
    const double m3[3] = {0.3, 0.3, 0.3}, s3[3] = {0.7, 0.7, 0.7};
    eqs_dataset_normalize_channels(&a, m3, s3);
    eqs_dataset_normalize(&b, 0.3, 0.7);
    CHECK(memcmp(a.x, b.x, 2 * 3072 * sizeof *a.x) == 0);
    eqs_dataset_free(&a);
    eqs_dataset_free(&b);

    const double *lab = eqs_cifar10_std_laborieux;
    /* The values io.h states for the reference code's 3 x (0.2023, 0.1994, 0.2010). */
    CHECK_CLOSE(lab[0], 0.6069, 1e-12, 0);
    CHECK_CLOSE(lab[1], 0.5982, 1e-12, 0);
    CHECK_CLOSE(lab[2], 0.6030, 1e-12, 0);
}

/* ---- augmentation ------------------------------------------------------------------------ */

#define AC   3
#define AH   5
#define AW   6
#define AIMG (AC * AH * AW)

/* Distinct values: image i, channel c, row y, column x. */
static void fill_images(eqs_real *x, int n)
{
    for (int i = 0; i < n * AIMG; i++)
        x[i] = (eqs_real)(i + 1);
}

/* The reference: flip the image, build the edge-padded image explicitly, copy the window. */
static void naive_crop_flip(eqs_real *dst, const eqs_real *src, int pad, eqs_augment_params p)
{
    enum { MAXP = 8 };
    eqs_real padded[AH + 2 * MAXP][AW + 2 * MAXP];
    EQS_ASSERT(pad <= MAXP);
    for (int c = 0; c < AC; c++) {
        for (int y = 0; y < AH + 2 * pad; y++)
            for (int x = 0; x < AW + 2 * pad; x++) {
                int sy = y - pad < 0 ? 0 : y - pad >= AH ? AH - 1 : y - pad;
                int sx = x - pad < 0 ? 0 : x - pad >= AW ? AW - 1 : x - pad;
                padded[y][x] = src[(c * AH + sy) * AW + (p.flip ? AW - 1 - sx : sx)];
            }
        for (int y = 0; y < AH; y++)
            for (int x = 0; x < AW; x++)
                dst[(c * AH + y) * AW + x] = padded[y + p.top][x + p.left];
    }
}

static void test_augment_identity_and_flip(void)
{
    enum { N = 64 };
    eqs_real src[N * AIMG], dst[N * AIMG];
    int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = 1000 + i;
    fill_images(src, N);
    eqs_augment_crop_flip(dst, src, N, AC, AH, AW, 0, false, 7, 0, ids);
    CHECK(memcmp(dst, src, sizeof src) == 0);

    /* pad 0 with flips: each image is either itself or has every row reversed. */
    eqs_augment_crop_flip(dst, src, N, AC, AH, AW, 0, true, 7, 0, ids);
    int flipped = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        int f = eqs_augment_draw(7, 0, ids[i], 0).flip;
        flipped += f;
        for (int r = 0; r < AC * AH; r++)
            for (int x = 0; x < AW; x++)
                bad += dst[(i * AC * AH + r) * AW + x] !=
                       src[(i * AC * AH + r) * AW + (f ? AW - 1 - x : x)];
    }
    CHECK(bad == 0);
    CHECK(flipped > 0 && flipped < N);
}

static void test_augment_against_naive(void)
{
    enum { N = 200, PAD = 4 };
    static eqs_real src[N * AIMG], dst[N * AIMG], want[AIMG];
    int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = 37 * i + 5;
    fill_images(src, N);
    for (int flip = 0; flip <= 1; flip++) {
        eqs_augment_crop_flip(dst, src, N, AC, AH, AW, PAD, flip, 11, 3, ids);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            eqs_augment_params p = eqs_augment_draw(11, 3, ids[i], PAD);
            p.flip = p.flip && flip;
            naive_crop_flip(want, src + i * AIMG, PAD, p);
            bad += memcmp(want, dst + i * AIMG, sizeof want) != 0;
        }
        CHECK_MSG(bad == 0, "flip=%d: %d images differ from the naive padded copy", flip, bad);
    }
}

/* The first sample id whose draw is (top, left) unflipped. */
static int64_t id_with_offset(int32_t pad, int32_t top, int32_t left)
{
    for (int64_t id = 0; id < 100000; id++) {
        eqs_augment_params p = eqs_augment_draw(5, 0, id, pad);
        if (!p.flip && p.top == top && p.left == left)
            return id;
    }
    return -1;
}

/* Known offsets against the shifted copy written out: output (y, x) is source pixel
 * (y + top - pad, x + left - pad), and the edge value where that falls outside. */
static void test_augment_known_offsets(void)
{
    enum { PAD = 4 };
    static const int32_t offsets[][2] = {{0, 0}, {8, 8}, {0, 8}, {4, 4}, {1, 6}};
    eqs_real src[AIMG], dst[AIMG];
    fill_images(src, 1);
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        int32_t top = offsets[k][0], left = offsets[k][1];
        int64_t id = id_with_offset(PAD, top, left);
        CHECK(id >= 0);
        if (id < 0)
            continue;
        eqs_augment_crop_flip(dst, src, 1, AC, AH, AW, PAD, true, 5, 0, &id);
        int bad = 0;
        for (int c = 0; c < AC; c++)
            for (int y = 0; y < AH; y++)
                for (int x = 0; x < AW; x++) {
                    int sy = y + top - PAD, sx = x + left - PAD;
                    sy = sy < 0 ? 0 : sy >= AH ? AH - 1 : sy;
                    sx = sx < 0 ? 0 : sx >= AW ? AW - 1 : sx;
                    bad += dst[(c * AH + y) * AW + x] != src[(c * AH + sy) * AW + sx];
                }
        CHECK_MSG(bad == 0, "offset (%d, %d): %d pixels wrong", top, left, bad);
    }
    /* Spelled out for offset (0, 0): output rows 0-3 and columns 0-3 are padding, which repeats
     * row 0 and column 0, so up to (4, 4) everything is the corner; column 5 is source column 1. */
    int64_t id = id_with_offset(PAD, 0, 0);
    eqs_augment_crop_flip(dst, src, 1, AC, AH, AW, PAD, true, 5, 0, &id);
    CHECK(dst[0] == src[0] && dst[4 * AW + 4] == src[0] && dst[4 * AW + 5] == src[1]);
}

static void test_augment_seeding(void)
{
    enum { N = 8, PAD = 2 };
    eqs_real src[N * AIMG], rev_src[N * AIMG], a[N * AIMG], b[N * AIMG];
    int64_t ids[N], rev_ids[N];
    fill_images(src, N);
    for (int i = 0; i < N; i++)
        ids[i] = 3 * i + 1;
    for (int i = 0; i < N; i++) {
        rev_ids[i] = ids[N - 1 - i];
        memcpy(rev_src + i * AIMG, src + (N - 1 - i) * AIMG, AIMG * sizeof *src);
    }
    /* The same samples in reverse batch order, and one at a time: the same images. */
    eqs_augment_crop_flip(a, src, N, AC, AH, AW, PAD, true, 99, 4, ids);
    eqs_augment_crop_flip(b, rev_src, N, AC, AH, AW, PAD, true, 99, 4, rev_ids);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad += memcmp(a + i * AIMG, b + (N - 1 - i) * AIMG, AIMG * sizeof *a) != 0;
        eqs_real one[AIMG];
        eqs_augment_crop_flip(one, src + i * AIMG, 1, AC, AH, AW, PAD, true, 99, 4, ids + i);
        bad += memcmp(a + i * AIMG, one, sizeof one) != 0;
    }
    CHECK(bad == 0);

    /* Other epochs and seeds draw again: (flip, top, left) all equal has probability 1/50 for
     * pad 2, so about 20 of 1000 samples match by chance. */
    int same_epoch = 0, same_seed = 0;
    for (int64_t id = 0; id < 1000; id++) {
        eqs_augment_params p = eqs_augment_draw(99, 4, id, PAD);
        eqs_augment_params q = eqs_augment_draw(99, 5, id, PAD);
        eqs_augment_params s = eqs_augment_draw(100, 4, id, PAD);
        same_epoch += p.flip == q.flip && p.top == q.top && p.left == q.left;
        same_seed += p.flip == s.flip && p.top == s.top && p.left == s.left;
    }
    CHECK_MSG(same_epoch < 45 && same_seed < 45, "%d and %d of 1000 draws unchanged", same_epoch,
              same_seed);
}

/* Over N samples, flips ~ Binomial(N, 1/2) and each of the 2 pad + 1 offsets of top (and of
 * left) ~ Binomial(N, 1/(2 pad + 1)); accept within 4 standard deviations. */
static void test_augment_statistics(void)
{
    enum { N = 20000, PAD = 4, SPAN = 2 * PAD + 1 };
    int flips = 0, top[SPAN] = {0}, left[SPAN] = {0};
    for (int64_t id = 0; id < N; id++) {
        eqs_augment_params p = eqs_augment_draw(2021, 1, id, PAD);
        flips += p.flip;
        top[p.top]++;
        left[p.left]++;
    }
    double sd_flip = sqrt(N * 0.25); /* 70.7, i.e. 0.35% of N */
    CHECK_CLOSE(flips, N / 2.0, 4 * sd_flip, 0);
    double p = 1.0 / SPAN, sd_off = sqrt(N * p * (1 - p)); /* 44.4 around 2222.2 */
    for (int k = 0; k < SPAN; k++) {
        CHECK_CLOSE(top[k], N * p, 4 * sd_off, 0);
        CHECK_CLOSE(left[k], N * p, 4 * sd_off, 0);
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/eqs-test-cifar-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror(g_dir);
        return 1;
    }
    test_load_file();
    test_load_splits();
    test_errors();
    test_normalize_channels();
    test_augment_identity_and_flip();
    test_augment_against_naive();
    test_augment_known_offsets();
    test_augment_seeding();
    test_augment_statistics();
    nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    EQS_TEST_MAIN_END("test_cifar");
}
