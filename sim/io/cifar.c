/* cifar.c — CIFAR-10 binary files, per-channel normalisation and the crop/flip augmentation of
 * Laborieux et al. (2021). Formats, sources and seeding: docs/datasets.md.
 *
 * A CIFAR-10 binary file has no header: its record count is its size / 3073. zlib's gzread
 * reads gzip and raw files alike, and a gzip stream's size is only known by reading it, so each
 * file is read twice: once to count its bytes (the size is checked before anything large is
 * allocated), then, after gzrewind, record by record into the dataset.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "gz_impl.h"

#include "eqs/io.h"

#define RECORD         EQS_CIFAR10_RECORD_BYTES
#define PIXELS         (RECORD - 1)
#define SIDE           32
#define CHANNELS       3
#define TRAIN_BATCHES  5
#define COUNT_CHUNK    65536
#define CIFAR_PATH_LEN 4096

static const char *const not_in_debian =
    "the CIFAR-10 binary version is not packaged in Debian: point data.dir at a folder holding "
    "its data_batch_1.bin ... data_batch_5.bin and test_batch.bin, from cifar-10-binary.tar.gz";

const double eqs_cifar10_mean[3] = {0.4914, 0.4822, 0.4465};
const double eqs_cifar10_std[3] = {0.2470, 0.2435, 0.2616};
const double eqs_cifar10_std_laborieux[3] = {3 * 0.2023, 3 * 0.1994, 3 * 0.2010};

typedef struct cifar_file {
    const char *path;
    gzFile gz;
    int64_t n; /* records */
} cifar_file;

/* ---- reading ------------------------------------------------------------------------------ */

static eqs_status gz_failure(const cifar_file *f, eqs_err *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    size_t path_len = strlen(f->path);
    if (errnum == Z_ERRNO)
        return eqs_err_set(err, EQS_EIO, "%s: read error: %s", f->path, strerror(errno));
    if (strncmp(msg, f->path, path_len) == 0 && strncmp(msg + path_len, ": ", 2) == 0)
        msg += path_len + 2; /* gzerror says "<path>: <what>"; our prefix already names it */
    return eqs_err_set(err, EQS_EFORMAT, "%s: gzip stream error: %s", f->path, msg);
}

/* Counts the file's (decompressed) bytes, checks that they make whole records, and rewinds. */
static eqs_status count_records(cifar_file *f, eqs_err *err)
{
    unsigned char buf[COUNT_CHUNK];
    long long total = 0;
    int errnum;
    size_t got;
    do {
        got = eqs_io__gz_read_upto(f->gz, buf, sizeof buf, &errnum);
        total += (long long)got;
    } while (got == sizeof buf);
    if (errnum == Z_BUF_ERROR)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated: the gzip stream ends without its trailer after %lld "
                           "bytes",
                           f->path, total);
    if (errnum != Z_OK)
        return gz_failure(f, err);
    if (total == 0)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: empty file (expected %d-byte CIFAR-10 records: a label byte, "
                           "then 3x32x32 pixel bytes)",
                           f->path, RECORD);
    if (total % RECORD != 0)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated: %lld bytes is not a whole number of %d-byte records "
                           "(the last of %lld has %lld of its bytes)",
                           f->path, total, RECORD, total / RECORD + 1, total % RECORD);
    f->n = total / RECORD;
    return gzrewind(f->gz) == 0 ? EQS_OK : gz_failure(f, err);
}

static eqs_status cifar_open(cifar_file *f, const char *path, eqs_err *err)
{
    f->path = path;
    errno = 0; /* gzopen leaves errno at 0 when it fails for lack of memory */
    f->gz = gzopen(path, "rb");
    if (!f->gz && errno == ENOENT)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s (%s)", path, strerror(errno),
                           not_in_debian);
    if (!f->gz)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1u << 17);
    return count_records(f, err);
}

/* Reads the f->n records into x [n, 3072] (C,H,W as in the file, scaled by 1/255) and y [n]. */
static eqs_status read_records(const cifar_file *f, eqs_real *x, int32_t *y, eqs_err *err)
{
    unsigned char rec[RECORD];
    for (int64_t i = 0; i < f->n; i++) {
        int errnum;
        size_t got = eqs_io__gz_read_upto(f->gz, rec, sizeof rec, &errnum);
        if (errnum != Z_OK && errnum != Z_BUF_ERROR)
            return gz_failure(f, err);
        if (got < sizeof rec) /* the file shrank since it was counted */
            return eqs_err_set(err, EQS_EFORMAT, "%s: truncated: record %lld of %lld is cut short",
                               f->path, (long long)i, (long long)f->n);
        if (rec[0] >= EQS_CIFAR10_CLASSES)
            return eqs_err_set(err, EQS_EFORMAT, "%s: record %lld has label %u (expected 0 to %d)",
                               f->path, (long long)i, rec[0], EQS_CIFAR10_CLASSES - 1);
        y[i] = rec[0];
        eqs_real *xi = x + i * PIXELS;
        for (int j = 0; j < PIXELS; j++)
            xi[j] = (eqs_real)rec[1 + j] / (eqs_real)255;
    }
    return EQS_OK;
}

static eqs_status alloc_dataset(eqs_dataset *d, int64_t n, eqs_err *err)
{
    d->n = n;
    d->channels = CHANNELS;
    d->height = SIDE;
    d->width = SIDE;
    d->n_features = PIXELS;
    d->n_classes = EQS_CIFAR10_CLASSES; /* fixed by the format, whatever labels a file holds */
    d->y = eqs_calloc((size_t)n, sizeof *d->y, err);
    if (d->y)
        d->x = eqs_calloc((size_t)n, PIXELS * sizeof *d->x, err);
    return d->x ? EQS_OK
                : eqs_err_set(err, EQS_ENOMEM, "CIFAR-10: no memory for %lld images", (long long)n);
}

/* Loads the files in order into one dataset: all are counted (and so checked) before the one
 * allocation. */
static eqs_status load_files(eqs_dataset *out, const char *const *paths, int n_files, eqs_err *err)
{
    memset(out, 0, sizeof *out);
    cifar_file f[TRAIN_BATCHES] = {0};
    EQS_ASSERT(n_files >= 1 && n_files <= TRAIN_BATCHES);
    eqs_status st = EQS_OK;
    int64_t n = 0;
    for (int i = 0; st == EQS_OK && i < n_files; i++) {
        st = cifar_open(&f[i], paths[i], err);
        n += f[i].n;
    }
    if (st == EQS_OK)
        st = alloc_dataset(out, n, err);
    int64_t done = 0;
    for (int i = 0; st == EQS_OK && i < n_files; done += f[i].n, i++)
        st = read_records(&f[i], out->x + done * PIXELS, out->y + done, err);
    for (int i = 0; i < n_files; i++)
        if (f[i].gz)
            gzclose(f[i].gz);
    if (st != EQS_OK)
        eqs_dataset_free(out);
    return st;
}

eqs_status eqs_cifar10_load_file(eqs_dataset *out, const char *path, eqs_err *err)
{
    return load_files(out, &path, 1, err);
}

/* "<dir>/<name>.bin.gz" if it exists, else "<dir>/<name>.bin"; neither is an error that says
 * where the data comes from. */
static eqs_status find_cifar_file(char *out, const char *dir, const char *name, eqs_err *err)
{
    snprintf(out, CIFAR_PATH_LEN, "%s/%s.bin.gz", dir, name);
    if (eqs_path_exists(out))
        return EQS_OK;
    snprintf(out, CIFAR_PATH_LEN, "%s/%s.bin", dir, name);
    if (eqs_path_exists(out))
        return EQS_OK;
    return eqs_err_set(err, EQS_EIO, "neither %s nor %s.gz exists: %s", out, out, not_in_debian);
}

eqs_status eqs_cifar10_load(eqs_dataset *out, const char *dir, const char *split, eqs_err *err)
{
    memset(out, 0, sizeof *out);
    int train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "test") != 0)
        return eqs_err_set(err, EQS_EINVAL, "CIFAR-10 split '%s' (expected 'train' or 'test')",
                           split);
    int n_files = train ? TRAIN_BATCHES : 1;
    char paths[TRAIN_BATCHES][CIFAR_PATH_LEN];
    const char *path_ptrs[TRAIN_BATCHES];
    eqs_status st = EQS_OK;
    static const char *const train_names[TRAIN_BATCHES] = {
        "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"};
    static const char *const test_names[1] = {"test_batch"};
    for (int i = 0; st == EQS_OK && i < n_files; i++) {
        st = find_cifar_file(paths[i], dir, train ? train_names[i] : test_names[i], err);
        path_ptrs[i] = paths[i];
    }
    return st == EQS_OK ? load_files(out, path_ptrs, n_files, err) : st;
}

/* ---- normalisation ------------------------------------------------------------------------ */

void eqs_dataset_normalize_channels(eqs_dataset *d, const double *mean, const double *std)
{
    EQS_ASSERT(d->channels > 0 && d->n_features % d->channels == 0);
    int64_t plane = d->n_features / d->channels;
    for (int32_t c = 0; c < d->channels; c++)
        EQS_ASSERT(std[c] > 0);
    for (int64_t i = 0; i < d->n; i++) {
        for (int32_t c = 0; c < d->channels; c++) {
            /* Same arithmetic as eqs_dataset_normalize, so equal channels give equal results. */
            eqs_real m = (eqs_real)mean[c], s = (eqs_real)std[c];
            eqs_real *p = d->x + i * d->n_features + c * plane;
            for (int64_t j = 0; j < plane; j++)
                p[j] = (p[j] - m) / s;
        }
    }
}

/* ---- augmentation ------------------------------------------------------------------------- */

eqs_augment_params eqs_augment_draw(uint64_t seed, uint32_t epoch, int64_t sample_id, int32_t pad)
{
    EQS_ASSERT(pad >= 0 && pad < (1 << 30));
    EQS_ASSERT(sample_id >= 0 && sample_id <= (int64_t)UINT32_MAX);
    eqs_rng r;
    eqs_rng_init(&r, seed, EQS_RNG_AUGMENT, epoch);
    /* Blocks (k, sample_id) for k = 0, 1, ...: a sample's draws never run into another's, even
     * when eqs_rng_below rejects and draws again. */
    r.ctr[1] = (uint32_t)sample_id;
    eqs_augment_params p;
    p.flip = eqs_rng_u32(&r) >> 31;
    uint32_t span = 2u * (uint32_t)pad + 1;
    p.top = (int32_t)eqs_rng_below(&r, span);
    p.left = (int32_t)eqs_rng_below(&r, span);
    return p;
}

static int32_t clamp_index(int32_t v, int32_t last)
{
    return v < 0 ? 0 : v > last ? last : v;
}

/* Output (y, x) is pixel (y + top, x + left) of the flipped image padded by pad; minus pad and
 * clamped to the image, that is the source pixel, since edge padding repeats the border. */
static void crop_flip_one(eqs_real *dst, const eqs_real *src, int32_t channels, int32_t height,
                          int32_t width, int32_t pad, eqs_augment_params p)
{
    for (int32_t c = 0; c < channels; c++) {
        for (int32_t y = 0; y < height; y++) {
            int32_t sy = clamp_index(y + p.top - pad, height - 1);
            const eqs_real *in = src + ((int64_t)c * height + sy) * width;
            eqs_real *out = dst + ((int64_t)c * height + y) * width;
            for (int32_t x = 0; x < width; x++) {
                int32_t sx = clamp_index(x + p.left - pad, width - 1);
                out[x] = in[p.flip ? width - 1 - sx : sx];
            }
        }
    }
}

void eqs_augment_crop_flip(eqs_real *dst, const eqs_real *src, int32_t n, int32_t channels,
                           int32_t height, int32_t width, int32_t pad, bool flip, uint64_t seed,
                           uint32_t epoch, const int64_t *sample_ids)
{
    EQS_ASSERT(n >= 0 && channels > 0 && height > 0 && width > 0);
    size_t image = (size_t)channels * (size_t)height * (size_t)width;
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src, bytes = (size_t)n * image * sizeof *dst;
    EQS_ASSERT(d + bytes <= s || s + bytes <= d);
    for (int32_t i = 0; i < n; i++) {
        eqs_augment_params p = eqs_augment_draw(seed, epoch, sample_ids[i], pad);
        p.flip = p.flip && flip;
        crop_flip_one(dst + (size_t)i * image, src + (size_t)i * image, channels, height, width,
                      pad, p);
    }
}
