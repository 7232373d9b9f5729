/* idx.c — MNIST-format IDX datasets (gzip or raw) and in-memory dataset helpers.
 *
 * IDX (http://yann.lecun.com/exdb/mnist/): a big-endian magic 0x000008TD (T = 0x08 for unsigned
 * bytes, D = number of dimensions), D big-endian uint32 sizes, then the data. Images are
 * idx3-ubyte [N, H, W], labels idx1-ubyte [N]. zlib's gzread reads gzip and raw files alike, so
 * the format is told by content, not by name.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "gz_impl.h"

#include "eqs/io.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE     4096
#define IDX_CHUNK        65536

size_t eqs_io__gz_read_upto(gzFile gz, void *buf, size_t len, int *errnum)
{
    size_t total = 0;
    *errnum = Z_OK;
    while (total < len) {
        size_t want = len - total < (1u << 30) ? len - total : (1u << 30);
        int n = gzread(gz, (char *)buf + total, (unsigned)want);
        if (n > 0)
            total += (size_t)n;
        if (n < (int)want) {
            gzerror(gz, errnum);
            break;
        }
    }
    return total;
}

static eqs_status gz_stream_error(const char *path, gzFile gz, eqs_err *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    size_t path_len = strlen(path);
    if (errnum == Z_ERRNO)
        msg = strerror(errno);
    else if (strncmp(msg, path, path_len) == 0 && strncmp(msg + path_len, ": ", 2) == 0)
        msg += path_len + 2; /* gzerror says "<path>: <what>"; our prefix already names it */
    return eqs_err_set(err, EQS_EFORMAT, "%s: gzip stream error: %s", path, msg);
}

/* Reads exactly len bytes, the part of `what` (what_total bytes in all) that starts at
 * what_done; fewer is a truncated file. */
static eqs_status read_exact(const char *path, gzFile gz, void *buf, size_t len, const char *what,
                             long long what_total, long long what_done, eqs_err *err)
{
    int errnum;
    size_t got = eqs_io__gz_read_upto(gz, buf, len, &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR)
        return gz_stream_error(path, gz, err);
    if (got < len)
        return eqs_err_set(err, EQS_EFORMAT, "%s: truncated: expected %lld bytes of %s, got %lld",
                           path, what_total, what, what_done + (long long)got);
    return EQS_OK;
}

/* After the data: the file must end here, and a gzip stream must end properly (its CRC and
 * length trailer are checked only when zlib reaches them). */
static eqs_status check_at_end(const char *path, gzFile gz, const char *what, long long total,
                               eqs_err *err)
{
    char extra[64];
    int errnum;
    size_t got = eqs_io__gz_read_upto(gz, extra, sizeof extra, &errnum);
    if (got > 0)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: too long: extra bytes after the %lld bytes of %s its header "
                           "describes",
                           path, total, what);
    if (errnum == Z_BUF_ERROR)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated: the gzip stream ends without its trailer after the "
                           "%lld bytes of %s",
                           path, total, what);
    if (errnum != Z_OK)
        return gz_stream_error(path, gz, err);
    return EQS_OK;
}

/* ---- headers ----------------------------------------------------------------------------- */

typedef struct idx_file {
    const char *path;
    gzFile gz;
    uint32_t dims[3];
} idx_file;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static eqs_status idx_open(idx_file *f, const char *path, uint32_t magic, int ndim,
                           const char *kind, eqs_err *err)
{
    f->path = path;
    errno = 0; /* gzopen leaves errno at 0 when it fails for lack of memory */
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1u << 17);
    /* The magic first, so that a wrong kind of file is named as such even when it is short. */
    unsigned char head[16];
    long long head_len = 4 + 4 * ndim;
    eqs_status st = read_exact(path, f->gz, head, 4, "header", head_len, 0, err);
    if (st != EQS_OK)
        return st;
    if (be32(head) != magic)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: magic 0x%08x but expected 0x%08x (IDX %s, unsigned bytes, %d "
                           "dimension%s)",
                           path, be32(head), magic, kind, ndim, ndim > 1 ? "s" : "");
    st = read_exact(path, f->gz, head + 4, (size_t)head_len - 4, "header", head_len, 4, err);
    for (int i = 0; st == EQS_OK && i < ndim; i++)
        f->dims[i] = be32(head + 4 + 4 * i);
    return st;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

static eqs_status check_dims(const idx_file *img, const idx_file *lab, eqs_err *err)
{
    uint32_t n = img->dims[0], h = img->dims[1], w = img->dims[2];
    if (n < 1 || n > INT32_MAX)
        return eqs_err_set(err, EQS_EFORMAT, "%s: %u images (expected 1 to %d)", img->path, n,
                           INT32_MAX);
    if (h < 1 || h > IDX_MAX_SIDE || w < 1 || w > IDX_MAX_SIDE)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: images of %ux%u pixels (expected each side in [1, %d])", img->path,
                           h, w, IDX_MAX_SIDE);
    if (lab->dims[0] != n)
        return eqs_err_set(err, EQS_EMISMATCH, "%s has %u images but %s has %u labels", img->path,
                           n, lab->path, lab->dims[0]);
    return EQS_OK;
}

/* ---- data -------------------------------------------------------------------------------- */

/* Streams the pixels through a small buffer into x, scaling by 1/255, so the raw bytes of a
 * large set are never held in memory alongside x. */
static eqs_status read_pixels(const idx_file *f, eqs_real *x, long long total, eqs_err *err)
{
    unsigned char buf[IDX_CHUNK];
    for (long long done = 0; done < total;) {
        size_t len = total - done < IDX_CHUNK ? (size_t)(total - done) : IDX_CHUNK;
        eqs_status st = read_exact(f->path, f->gz, buf, len, "pixels", total, done, err);
        if (st != EQS_OK)
            return st;
        for (size_t i = 0; i < len; i++)
            x[done + (long long)i] = (eqs_real)buf[i] / (eqs_real)255;
        done += (long long)len;
    }
    return check_at_end(f->path, f->gz, "pixels", total, err);
}

/* Reads the labels into y and returns 1 + the largest in *n_classes. */
static eqs_status read_labels(const idx_file *f, int32_t *y, long long n, int32_t *n_classes,
                              eqs_err *err)
{
    unsigned char buf[IDX_CHUNK];
    int32_t max_label = 0;
    for (long long done = 0; done < n;) {
        size_t len = n - done < IDX_CHUNK ? (size_t)(n - done) : IDX_CHUNK;
        eqs_status st = read_exact(f->path, f->gz, buf, len, "labels", n, done, err);
        if (st != EQS_OK)
            return st;
        for (size_t i = 0; i < len; i++) {
            y[done + (long long)i] = buf[i];
            if (buf[i] > max_label)
                max_label = buf[i];
        }
        done += (long long)len;
    }
    *n_classes = max_label + 1;
    return check_at_end(f->path, f->gz, "labels", n, err);
}

static eqs_status load_data(eqs_dataset *d, const idx_file *img, const idx_file *lab, eqs_err *err)
{
    d->n = img->dims[0];
    d->channels = 1;
    d->height = (int32_t)img->dims[1];
    d->width = (int32_t)img->dims[2];
    d->n_features = d->height * d->width;
    d->y = eqs_calloc((size_t)d->n, sizeof *d->y, err);
    if (!d->y)
        return eqs_err_prefix(err, "%s", lab->path);
    /* Labels first: they are small, so a bogus count is caught before the big allocation. */
    eqs_status st = read_labels(lab, d->y, d->n, &d->n_classes, err);
    if (st != EQS_OK)
        return st;
    d->x = eqs_calloc((size_t)d->n, (size_t)d->n_features * sizeof *d->x, err);
    if (!d->x)
        return eqs_err_prefix(err, "%s", img->path);
    return read_pixels(img, d->x, d->n * d->n_features, err);
}

eqs_status eqs_idx_load(eqs_dataset *out, const char *images_path, const char *labels_path,
                        eqs_err *err)
{
    memset(out, 0, sizeof *out);
    idx_file img = {0}, lab = {0};
    eqs_status st = idx_open(&img, images_path, IDX_MAGIC_IMAGES, 3, "images", err);
    if (st == EQS_OK)
        st = idx_open(&lab, labels_path, IDX_MAGIC_LABELS, 1, "labels", err);
    if (st == EQS_OK)
        st = check_dims(&img, &lab, err);
    if (st == EQS_OK)
        st = load_data(out, &img, &lab, err);
    idx_close(&img);
    idx_close(&lab);
    if (st != EQS_OK)
        eqs_dataset_free(out);
    return st;
}

/* The first of "<dir>/<name>.gz" and "<dir>/<name>" that exists; if neither, an error naming
 * both and how to get the data. */
static eqs_status find_idx_file(char *out, size_t out_len, const char *dir, const char *name,
                                eqs_err *err)
{
    char gz[4096], raw[4096];
    snprintf(gz, sizeof gz, "%s/%s.gz", dir, name);
    snprintf(raw, sizeof raw, "%s/%s", dir, name);
    const char *found = eqs_path_exists(gz) ? gz : eqs_path_exists(raw) ? raw : NULL;
    if (!found)
        return eqs_err_set(err, EQS_EIO,
                           "neither %s nor %s exists: install Debian's dataset-fashion-mnist or "
                           "set data.dir",
                           gz, raw);
    snprintf(out, out_len, "%s", found);
    return EQS_OK;
}

eqs_status eqs_mnist_load(eqs_dataset *out, const char *dir, const char *split, eqs_err *err)
{
    memset(out, 0, sizeof *out);
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return eqs_err_set(err, EQS_EINVAL, "MNIST split '%s' (expected 'train' or 't10k')", split);
    char name[64], images[4096], labels[4096];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    eqs_status st = find_idx_file(images, sizeof images, dir, name, err);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    if (st == EQS_OK)
        st = find_idx_file(labels, sizeof labels, dir, name, err);
    if (st == EQS_OK)
        st = eqs_idx_load(out, images, labels, err);
    return st;
}

void eqs_dataset_free(eqs_dataset *d)
{
    if (!d)
        return;
    eqs_free(d->x);
    eqs_free(d->y);
    memset(d, 0, sizeof *d);
}

/* ---- in-memory helpers ------------------------------------------------------------------- */

void eqs_dataset_truncate(eqs_dataset *d, int64_t n)
{
    if (n > 0 && n < d->n)
        d->n = n; /* the tail stays allocated; n_classes keeps the full set's value */
}

void eqs_dataset_normalize(eqs_dataset *d, double mean, double std)
{
    EQS_ASSERT(std > 0);
    eqs_real m = (eqs_real)mean, s = (eqs_real)std;
    int64_t total = d->n * d->n_features;
    for (int64_t i = 0; i < total; i++)
        d->x[i] = (d->x[i] - m) / s;
}

void eqs_permutation(int64_t *perm, int64_t n, uint64_t seed, uint32_t epoch)
{
    EQS_ASSERT(n >= 0 && n <= (int64_t)UINT32_MAX);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    eqs_rng r;
    eqs_rng_init(&r, seed, EQS_RNG_SHUFFLE, epoch);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = eqs_rng_below(&r, (uint32_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void eqs_dataset_gather(const eqs_dataset *d, const int64_t *idx, int64_t b, eqs_real *x,
                        int32_t *y)
{
    size_t row = (size_t)d->n_features;
    for (int64_t i = 0; i < b; i++) {
        EQS_ASSERT(idx[i] >= 0 && idx[i] < d->n);
        memcpy(x + (size_t)i * row, d->x + (size_t)idx[i] * row, row * sizeof *x);
        y[i] = d->y[idx[i]];
    }
}
