/* test_io.c — the io module: .npy arrays, IDX datasets (and Fashion-MNIST when installed),
 * permutations, atomic files, metrics CSV and gnuplot plots. Everything is written under one
 * mkdtemp folder that is removed at the end. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "eqs_test.h"

#include "eqs/io.h"

static char g_dir[256];

/* ---- helpers ----------------------------------------------------------------------------- */

#define PATH_LEN     512
/* g_dir/name in a buffer that lives until the end of the enclosing block. */
#define IN_DIR(name) path_in((char[PATH_LEN]){0}, (name))

static const char *path_in(char *out, const char *name)
{
    snprintf(out, PATH_LEN, "%s/%s", g_dir, name);
    return out;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    CHECK(gz != NULL);
    if (gz) {
        CHECK(gzwrite(gz, data, (unsigned)len) == (int)len);
        gzclose(gz);
    }
}

/* The whole file; *len = its size. Caller frees. */
static unsigned char *read_bytes(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static int file_equals(const char *path, const char *text)
{
    size_t len;
    unsigned char *got = read_bytes(path, &len);
    int same = got && len == strlen(text) && memcmp(got, text, len) == 0;
    if (!same)
        fprintf(stderr, "%s holds '%s', expected '%s'\n", path, got ? (char *)got : "(none)", text);
    free(got);
    return same;
}

static int count_temp_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- .npy -------------------------------------------------------------------------------- */

static void check_npy_roundtrip(eqs_dtype t, int32_t ndim, const int64_t *shape, const void *data)
{
    eqs_err err = {0};
    const char *path = IN_DIR("rt.npy");
    CHECK_OK(eqs_npy_write(path, t, ndim, shape, data, &err), err);
    eqs_array a;
    CHECK_OK(eqs_npy_read(path, &a, &err), err);
    CHECK(a.dtype == t);
    CHECK(a.ndim == ndim);
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) {
        CHECK(a.shape[i] == shape[i]);
        n *= shape[i];
    }
    CHECK(eqs_array_size(&a) == n);
    CHECK(n == 0 || memcmp(a.data, data, (size_t)n * eqs_dtype_size(t)) == 0);
    eqs_array_free(&a);
    CHECK(a.data == NULL && a.ndim == 0);
}

static void test_npy_roundtrip(void)
{
    const int64_t s23[] = {2, 3}, s5[] = {5}, s4d[] = {2, 3, 1, 2}, s03[] = {0, 3};
    const float f32[] = {0.0f, -1.5f, 2.25f, 1e30f, -1e-30f, 3.0f};
    const double f64[] = {0.0, -1.5, 1e300, -1e-300, 3.141592653589793, 7.0};
    const int32_t i32[] = {0, -1, INT32_MAX, INT32_MIN, 42, -42};
    const int64_t i64[] = {0, -1, INT64_MAX, INT64_MIN, 42, -42};
    const uint8_t u8[] = {0, 1, 127, 128, 254, 255};
    check_npy_roundtrip(EQS_DTYPE_F32, 2, s23, f32);
    check_npy_roundtrip(EQS_DTYPE_F64, 2, s23, f64);
    check_npy_roundtrip(EQS_DTYPE_I32, 2, s23, i32);
    check_npy_roundtrip(EQS_DTYPE_I64, 2, s23, i64);
    check_npy_roundtrip(EQS_DTYPE_U8, 2, s23, u8);

    const double scalar = 3.5;
    float four_d[12];
    for (int i = 0; i < 12; i++)
        four_d[i] = (float)i * 0.5f;
    check_npy_roundtrip(EQS_DTYPE_F64, 0, NULL, &scalar);
    check_npy_roundtrip(EQS_DTYPE_I32, 1, s5, i32);
    check_npy_roundtrip(EQS_DTYPE_F32, 4, s4d, four_d);
    check_npy_roundtrip(EQS_DTYPE_F32, 2, s03, NULL);
    CHECK(count_temp_files(g_dir) == 0);
}

/* numpy.save(f, np.arange(6, dtype='<f4').reshape(2, 3)), byte for byte. */
static void test_npy_matches_numpy(void)
{
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    unsigned char want[128 + 24];
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10); /* version 1.0, header length 118 */
    memset(want + 10, ' ', 118);
    memcpy(want + 10, dict, strlen(dict));
    want[127] = '\n';
    const float data[] = {0, 1, 2, 3, 4, 5};
    memcpy(want + 128, data, sizeof data);

    eqs_err err = {0};
    const int64_t shape[] = {2, 3};
    CHECK_OK(eqs_npy_write(IN_DIR("np.npy"), EQS_DTYPE_F32, 2, shape, data, &err), err);
    size_t len;
    unsigned char *got = read_bytes(IN_DIR("np.npy"), &len);
    CHECK(len == sizeof want);
    CHECK(got && len == sizeof want && memcmp(got, want, len) == 0);
    free(got);
}

/* A .npy with a hand-written dict, padded as numpy does, for reader tests. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t len)
{
    size_t pre = major == 1 ? 10 : 12, dict_len = strlen(dict);
    size_t total = (pre + dict_len + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;
    unsigned char *buf = calloc(1, total + len);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    for (size_t i = 0; i < pre - 8; i++)
        buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, dict_len);
    buf[total - 1] = '\n';
    if (len)
        memcpy(buf + total, data, len);
    write_bytes(path, buf, total + len);
    free(buf);
}

static void test_npy_reader_variants(void)
{
    eqs_err err = {0};
    eqs_array a;
    const uint8_t bytes[] = {9, 8, 7};
    const char *path = IN_DIR("variant.npy");

    write_npy_raw(path, 1, "{ \"shape\" :(3 ,) ,'fortran_order':False,  'descr':'<u1'}", bytes, 3);
    CHECK_OK(eqs_npy_read(path, &a, &err), err);
    CHECK(a.dtype == EQS_DTYPE_U8 && a.ndim == 1 && a.shape[0] == 3);
    CHECK(a.data && memcmp(a.data, bytes, 3) == 0);
    eqs_array_free(&a);

    const int32_t ints[] = {1, 2, 3, 4, 5, 6};
    write_npy_raw(path, 2, "{'descr': '<i4', 'fortran_order': False, 'shape': (3L, 2L), }", ints,
                  sizeof ints);
    CHECK_OK(eqs_npy_read(path, &a, &err), err);
    CHECK(a.dtype == EQS_DTYPE_I32 && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 2);
    CHECK(a.data && memcmp(a.data, ints, sizeof ints) == 0);
    eqs_array_free(&a);
}

static void test_npy_errors(void)
{
    eqs_err err = {0};
    eqs_array a;
    const char *path = IN_DIR("bad.npy");
    float data[20] = {0};
    const int64_t shape[] = {4, 5};

    CHECK_OK(eqs_npy_write(path, EQS_DTYPE_F32, 2, shape, data, &err), err);
    size_t len;
    unsigned char *full = read_bytes(path, &len);
    write_bytes(path, full, len - 10);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err,
              "bad.npy: truncated: header says 4x5 float32 (80 bytes of data), file has 70");
    CHECK(a.data == NULL);
    unsigned char *longer = calloc(1, len + 4);
    memcpy(longer, full, len);
    write_bytes(path, longer, len + 4);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "too long");
    full[0] = 'X';
    write_bytes(path, full, len);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "not a .npy file");
    write_bytes(path, full, 5);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "10-byte .npy preamble");
    free(longer);
    free(full);

    write_npy_raw(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (4, 5), }", data, 80);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "'fortran_order': True");
    write_npy_raw(path, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data, 16);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "unsupported dtype '<c8'");
    write_npy_raw(path, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "big-endian dtype '>f4'");
    write_npy_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2; 3), }", data, 24);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err,
              "expected ',' or ')' in the shape tuple at offset 52, found '; 3), }'");
    write_npy_raw(path, 1, "{'descr': '<f4', 'shape': (2,), }", data, 8);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "one is missing");
    write_npy_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data,
                  8);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "found ''x': 1}'");
    write_npy_raw(path, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
    CHECK_ERR(eqs_npy_read(path, &a, &err), EQS_EFORMAT, err, "version 3.0 is not supported");
    CHECK_ERR(eqs_npy_read(IN_DIR("missing.npy"), &a, &err), EQS_EIO, err,
              "missing.npy: cannot open: No such file or directory");
    CHECK_ERR(eqs_npy_write(IN_DIR("no/such/dir.npy"), EQS_DTYPE_F32, 2, shape, data, &err),
              EQS_EIO, err, "no/such/dir.npy");
}

static void test_npy_real(void)
{
    eqs_err err = {0};
    const char *path = IN_DIR("w.npy");
    const double w[] = {0.5, -0.25, 1.0 / 3.0, 2.0, -8.0, 1e-3};
    const int64_t shape[] = {2, 3}, any_rows[] = {-1, 3}, wrong[] = {2, 4};
    CHECK_OK(eqs_npy_write(path, EQS_DTYPE_F64, 2, shape, w, &err), err);
    eqs_real *x = NULL;
    int64_t got[2] = {0, 0};
    CHECK_OK(eqs_npy_read_real(path, 2, any_rows, &x, got, &err), err);
    CHECK(got[0] == 2 && got[1] == 3);
    for (int i = 0; x && i < 6; i++)
        CHECK((double)x[i] == (double)(eqs_real)w[i]);

    CHECK_OK(eqs_npy_write_real(IN_DIR("w2.npy"), 2, shape, x, &err), err);
    eqs_array a;
    CHECK_OK(eqs_npy_read(IN_DIR("w2.npy"), &a, &err), err);
    CHECK(eqs_dtype_size(a.dtype) == sizeof(eqs_real));
    CHECK(a.data && memcmp(a.data, x, sizeof(eqs_real) * 6) == 0);
    eqs_array_free(&a);
    eqs_free(x);

    CHECK_ERR(eqs_npy_read_real(path, 2, wrong, &x, NULL, &err), EQS_EMISMATCH, err,
              "w.npy: shape (2, 3) but expected (2, 4)");
    CHECK(x == NULL);
    CHECK_ERR(eqs_npy_read_real(path, 1, any_rows, &x, NULL, &err), EQS_EMISMATCH, err,
              "shape (2, 3) but expected (*,)");
    const int32_t ints[] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(eqs_npy_write(path, EQS_DTYPE_I32, 2, shape, ints, &err), err);
    CHECK_ERR(eqs_npy_read_real(path, 2, shape, &x, NULL, &err), EQS_EFORMAT, err,
              "dtype int32 ('<i4') but expected float32 or float64");
}

/* ---- IDX --------------------------------------------------------------------------------- */

enum { N_IMG = 7, IMG_H = 3, IMG_W = 4, N_PIX = N_IMG * IMG_H * IMG_W };

static uint8_t pixel(int i)
{
    return (uint8_t)(i * 37 + 11);
}

static uint8_t label(int i)
{
    return (uint8_t)(i * 5 % 4); /* 0 1 2 3 0 1 2: four classes */
}

/* An IDX file: big-endian magic and dims, then `len` bytes of payload (may disagree with dims). */
static void write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndim,
                      const uint8_t *payload, size_t len)
{
    uint8_t buf[16 + N_PIX + 64];
    uint32_t words[4] = {magic, dims[0], ndim > 1 ? dims[1] : 0, ndim > 2 ? dims[2] : 0};
    size_t head = 4 + 4 * (size_t)ndim;
    for (size_t k = 0; k < head; k++)
        buf[k] = (uint8_t)(words[k / 4] >> (24 - 8 * (k % 4)));
    if (len)
        memcpy(buf + head, payload, len);
    if (gz)
        write_gz(path, buf, head + len);
    else
        write_bytes(path, buf, head + len);
}

static void write_images(const char *path, int gz, uint32_t n, size_t len)
{
    uint8_t pix[N_PIX + 64];
    for (int i = 0; i < N_PIX + 64; i++)
        pix[i] = pixel(i);
    const uint32_t dims[3] = {n, IMG_H, IMG_W};
    write_idx(path, gz, 0x803, dims, 3, pix, len);
}

static void write_labels(const char *path, int gz, uint32_t n)
{
    uint8_t lab[N_IMG + 8];
    for (int i = 0; i < N_IMG + 8; i++)
        lab[i] = label(i);
    write_idx(path, gz, 0x801, &n, 1, lab, n);
}

static void check_synthetic(const eqs_dataset *d)
{
    CHECK(d->n == N_IMG && d->channels == 1 && d->height == IMG_H && d->width == IMG_W);
    CHECK(d->n_features == IMG_H * IMG_W && d->n_classes == 4);
    int ok = d->x && d->y;
    for (int i = 0; ok && i < N_PIX; i++)
        ok = d->x[i] == (eqs_real)pixel(i) / (eqs_real)255;
    for (int i = 0; ok && i < N_IMG; i++)
        ok = d->y[i] == label(i);
    CHECK(ok);
}

static void test_idx_load(void)
{
    eqs_err err = {0};
    eqs_dataset d;
    const char *img = IN_DIR("img.idx"), *lab = IN_DIR("lab.idx");
    write_images(img, 0, N_IMG, N_PIX);
    write_labels(lab, 0, N_IMG);
    CHECK_OK(eqs_idx_load(&d, img, lab, &err), err);
    check_synthetic(&d);
    eqs_dataset_free(&d);
    CHECK(d.x == NULL && d.n == 0);

    const char *img_gz = IN_DIR("img.idx.gz");
    write_images(img_gz, 1, N_IMG, N_PIX);
    CHECK_OK(eqs_idx_load(&d, img_gz, lab, &err), err);
    check_synthetic(&d);
    eqs_dataset_free(&d);
}

/* Loads img.* with a valid label file and checks the error. */
static void check_idx_error(const char *img, eqs_status code, const char *needle)
{
    eqs_err err = {0};
    eqs_dataset d;
    const char *lab = IN_DIR("lab.idx");
    write_labels(lab, 0, N_IMG);
    CHECK_ERR(eqs_idx_load(&d, img, lab, &err), code, err, needle);
    CHECK(d.x == NULL && d.y == NULL);
}

static void truncate_file(const char *path, long cut)
{
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - cut) == 0);
}

static void corrupt_middle(const char *path)
{
    size_t len;
    unsigned char *buf = read_bytes(path, &len);
    for (size_t i = len / 3; i < len / 3 + 6; i++)
        buf[i] ^= 0x5a;
    write_bytes(path, buf, len);
    free(buf);
}

static void test_idx_errors(void)
{
    eqs_err err = {0};
    eqs_dataset d;
    const char *img = IN_DIR("bad-img.idx"), *img_gz = IN_DIR("bad-img.idx.gz");

    write_images(img, 0, N_IMG, N_PIX - 5);
    check_idx_error(img, EQS_EFORMAT,
                    "bad-img.idx: truncated: expected 84 bytes of pixels, got 79");
    write_images(img_gz, 1, N_IMG, N_PIX);
    truncate_file(img_gz, 40);
    check_idx_error(img_gz, EQS_EFORMAT, "bad-img.idx.gz: truncated: expected 84 bytes of pixels");
    write_images(img_gz, 1, N_IMG, N_PIX);
    truncate_file(img_gz, 4); /* only the length trailer is missing */
    check_idx_error(img_gz, EQS_EFORMAT, "gzip stream ends without its trailer");
    write_images(img_gz, 1, N_IMG, N_PIX);
    corrupt_middle(img_gz);
    check_idx_error(img_gz, EQS_EFORMAT, "bad-img.idx.gz: gzip stream error: ");

    write_images(img, 0, N_IMG, N_PIX + 3);
    check_idx_error(img, EQS_EFORMAT, "too long: extra bytes after the 84 bytes of pixels");
    write_images(img_gz, 1, N_IMG, N_PIX + 3);
    check_idx_error(img_gz, EQS_EFORMAT, "too long");
    write_labels(img, 0, N_IMG);
    check_idx_error(img, EQS_EFORMAT, "magic 0x00000801 but expected 0x00000803");
    write_images(img, 0, 0, 0);
    check_idx_error(img, EQS_EFORMAT, "0 images");
    const uint32_t flat[3] = {N_IMG, 0, IMG_W};
    write_idx(img, 0, 0x803, flat, 3, NULL, 0);
    check_idx_error(img, EQS_EFORMAT, "images of 0x4 pixels");
    write_images(img, 0, N_IMG - 1, N_PIX - IMG_H * IMG_W);
    check_idx_error(img, EQS_EMISMATCH, "has 6 images but");

    const char *lab = IN_DIR("lab.idx");
    write_images(img, 0, N_IMG, N_PIX);
    write_labels(lab, 0, N_IMG + 1);
    CHECK_ERR(eqs_idx_load(&d, img, lab, &err), EQS_EMISMATCH, err, "has 8 labels");
    CHECK_ERR(eqs_idx_load(&d, IN_DIR("nope.idx"), lab, &err), EQS_EIO, err,
              "nope.idx: cannot open: No such file or directory");
}

static void test_mnist_lookup(void)
{
    eqs_err err = {0};
    eqs_dataset d;
    CHECK(eqs_mkdir_p(IN_DIR("mnist"), &err) == EQS_OK);
    CHECK_ERR(eqs_mnist_load(&d, IN_DIR("mnist"), "train", &err), EQS_EIO, err,
              "mnist/train-images-idx3-ubyte.gz nor ");
    CHECK(strstr(err.msg, "mnist/train-images-idx3-ubyte exists") != NULL);
    CHECK(strstr(err.msg, "install Debian's dataset-fashion-mnist or set data.dir") != NULL);
    write_images(IN_DIR("mnist/train-images-idx3-ubyte.gz"), 1, N_IMG, N_PIX);
    CHECK_ERR(eqs_mnist_load(&d, IN_DIR("mnist"), "train", &err), EQS_EIO, err,
              "train-labels-idx1-ubyte.gz nor ");
    write_labels(IN_DIR("mnist/train-labels-idx1-ubyte"), 0, N_IMG);
    CHECK_OK(eqs_mnist_load(&d, IN_DIR("mnist"), "train", &err), err);
    check_synthetic(&d);
    eqs_dataset_free(&d);
    CHECK_ERR(eqs_mnist_load(&d, IN_DIR("mnist"), "test", &err), EQS_EINVAL, err, "split 'test'");
}

static void check_fashion_split(const char *dir, const char *split, int64_t n)
{
    eqs_err err = {0};
    eqs_dataset d;
    double t0 = eqs_now_s();
    CHECK_OK(eqs_mnist_load(&d, dir, split, &err), err);
    double dt = eqs_now_s() - t0;
    CHECK(d.n == n && d.height == 28 && d.width == 28 && d.n_features == 784);
    CHECK(d.n_classes == 10);
    int64_t per_class[10] = {0};
    for (int64_t i = 0; d.y && i < d.n; i++)
        per_class[d.y[i] >= 0 && d.y[i] < 10 ? d.y[i] : 0]++;
    for (int c = 0; c < 10; c++)
        CHECK_MSG(per_class[c] == n / 10, "%s: class %d has %lld labels", split, c,
                  (long long)per_class[c]);
    eqs_real lo = 1, hi = 0;
    for (int64_t i = 0; d.x && i < d.n * d.n_features; i++) {
        lo = d.x[i] < lo ? d.x[i] : lo;
        hi = d.x[i] > hi ? d.x[i] : hi;
    }
    CHECK(lo == 0 && hi == 1);
    printf("fashion-mnist %s: %lld images loaded in %.3f s\n", split, (long long)d.n, dt);
    eqs_dataset_free(&d);
}

static void test_fashion_mnist(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char probe[256];
    snprintf(probe, sizeof probe, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (!eqs_path_exists(probe)) {
        printf("SKIP fashion-mnist: %s not found (apt-get install dataset-fashion-mnist)\n", probe);
        return;
    }
    check_fashion_split(dir, "t10k", 10000);
    check_fashion_split(dir, "train", 60000);
}

/* ---- dataset helpers --------------------------------------------------------------------- */

static void test_dataset_helpers(void)
{
    eqs_err err = {0};
    eqs_dataset d;
    write_images(IN_DIR("img.idx"), 0, N_IMG, N_PIX);
    write_labels(IN_DIR("lab.idx"), 0, N_IMG);
    CHECK_OK(eqs_idx_load(&d, IN_DIR("img.idx"), IN_DIR("lab.idx"), &err), err);
    const int64_t idx[] = {6, 0, 3};
    eqs_real x[3 * IMG_H * IMG_W];
    int32_t y[3];
    eqs_dataset_gather(&d, idx, 3, x, y);
    int ok = 1;
    for (int b = 0; b < 3; b++)
        for (int f = 0; f < IMG_H * IMG_W; f++)
            ok = ok && x[b * IMG_H * IMG_W + f] == d.x[idx[b] * IMG_H * IMG_W + f];
    CHECK(ok && y[0] == label(6) && y[1] == label(0) && y[2] == label(3));

    eqs_dataset_normalize(&d, 0.5, 0.25);
    CHECK_CLOSE(d.x[1], ((double)pixel(1) / 255 - 0.5) / 0.25, 1e-6, 1e-6);
    eqs_dataset_truncate(&d, 0);
    CHECK(d.n == N_IMG);
    eqs_dataset_truncate(&d, 100);
    CHECK(d.n == N_IMG);
    eqs_dataset_truncate(&d, 2);
    CHECK(d.n == 2 && d.n_classes == 4);
    eqs_dataset_free(&d);
}

static void test_permutation(void)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], e[N];
    eqs_permutation(a, N, 42, 0);
    eqs_permutation(b, N, 42, 0);
    eqs_permutation(c, N, 42, 1);
    eqs_permutation(e, N, 43, 0);
    static char seen[N];
    int is_perm = 1, moved = 0;
    for (int i = 0; i < N; i++) {
        is_perm = is_perm && a[i] >= 0 && a[i] < N && !seen[a[i]];
        if (a[i] >= 0 && a[i] < N)
            seen[a[i]] = 1;
        moved += a[i] != i;
    }
    CHECK(is_perm);
    CHECK(moved > N / 2);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, e, sizeof a) != 0);
    int64_t one = -1;
    eqs_permutation(&one, 1, 42, 0);
    CHECK(one == 0);
}

/* ---- files ------------------------------------------------------------------------------- */

static void test_atomic_write(void)
{
    eqs_err err = {0};
    const char *path = IN_DIR("atomic.txt");
    CHECK_OK(eqs_write_file_atomic(path, "old contents\n", 13, &err), err);
    CHECK_OK(eqs_write_file_atomic(path, "new\n", 4, &err), err);
    CHECK(file_equals(path, "new\n"));
    const void *parts[] = {"ab", "", "cd"};
    const size_t lens[] = {2, 0, 2};
    CHECK_OK(eqs_write_file_atomic_parts(path, parts, lens, 3, &err), err);
    CHECK(file_equals(path, "abcd"));
    CHECK(count_temp_files(g_dir) == 0);

    CHECK_ERR(eqs_write_file_atomic(IN_DIR("absent/x.txt"), "x", 1, &err), EQS_EIO, err,
              "absent/x.txt");
    CHECK(strstr(err.msg, "No such file or directory") != NULL);
    /* rename() onto a folder fails after the temp is written: the temp must go, the folder stay */
    CHECK_OK(eqs_mkdir_p(IN_DIR("a_folder"), &err), err);
    CHECK_ERR(eqs_write_file_atomic(IN_DIR("a_folder"), "x", 1, &err), EQS_EIO, err,
              "rename of temp file");
    CHECK(count_temp_files(g_dir) == 0);
    struct stat sb;
    CHECK(stat(IN_DIR("a_folder"), &sb) == 0 && S_ISDIR(sb.st_mode));
}

static void test_paths(void)
{
    eqs_err err = {0};
    CHECK_OK(eqs_mkdir_p(IN_DIR("p/q//r/"), &err), err);
    CHECK(eqs_path_exists(IN_DIR("p/q/r")));
    CHECK_OK(eqs_mkdir_p(IN_DIR("p/q/r"), &err), err);
    CHECK(!eqs_path_exists(IN_DIR("p/nothing")));
    CHECK_OK(eqs_write_file_atomic(IN_DIR("p/file"), "x", 1, &err), err);
    CHECK_ERR(eqs_mkdir_p(IN_DIR("p/file/sub"), &err), EQS_EIO, err,
              "p/file: a file of that name exists");

    char out[64];
    eqs_path_relative_to(out, sizeof out, "experiments/run.yaml", "models/m.yaml");
    CHECK(strcmp(out, "experiments/models/m.yaml") == 0);
    eqs_path_relative_to(out, sizeof out, "/etc/eqs/run.yaml", "m.yaml");
    CHECK(strcmp(out, "/etc/eqs/m.yaml") == 0);
    eqs_path_relative_to(out, sizeof out, "experiments/run.yaml", "/abs/m.yaml");
    CHECK(strcmp(out, "/abs/m.yaml") == 0);
    eqs_path_relative_to(out, sizeof out, "run.yaml", "models/m.yaml");
    CHECK(strcmp(out, "models/m.yaml") == 0);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void test_csv(void)
{
    eqs_err err = {0};
    const char *path = IN_DIR("metrics.csv");
    eqs_csv *c = NULL;
    CHECK_OK(eqs_csv_open(&c, path, "epoch,loss", &err), err);
    CHECK(file_equals(path, "epoch,loss\n"));
    CHECK_OK(eqs_csv_append(c, "1,0.9", &err), err);
    CHECK_OK(eqs_csv_append(c, "2,0.5", &err), err);
    CHECK_OK(eqs_csv_append(c, "3,0.4", &err), err);
    CHECK_ERR(eqs_csv_append(c, "4,0.3,extra", &err), EQS_EINVAL, err,
              "has 3 columns but the header has 2");
    CHECK_ERR(eqs_csv_append(c, "4,0.3\n5,0.2", &err), EQS_EINVAL, err, "line break");
    eqs_csv_close(c);
    CHECK(file_equals(path, "epoch,loss\n1,0.9\n2,0.5\n3,0.4\n"));

    CHECK_OK(eqs_csv_open(&c, path, "epoch,loss", &err), err);
    CHECK_OK(eqs_csv_append(c, "4,0.3", &err), err);
    CHECK(file_equals(path, "epoch,loss\n1,0.9\n2,0.5\n3,0.4\n4,0.3\n"));
    eqs_csv_truncate_after(c, 2);
    CHECK(file_equals(path, "epoch,loss\n1,0.9\n2,0.5\n"));
    CHECK_OK(eqs_csv_append(c, "3,0.35", &err), err);
    CHECK(file_equals(path, "epoch,loss\n1,0.9\n2,0.5\n3,0.35\n"));
    eqs_csv_close(c);
    CHECK(count_temp_files(g_dir) == 0);

    CHECK_ERR(eqs_csv_open(&c, path, "epoch,loss,acc", &err), EQS_EFORMAT, err,
              "metrics.csv: header 'epoch,loss' but expected 'epoch,loss,acc'");
    CHECK(c == NULL);
    CHECK(file_equals(path, "epoch,loss\n1,0.9\n2,0.5\n3,0.35\n"));
    CHECK_ERR(eqs_csv_open(&c, IN_DIR("absent/m.csv"), "a,b", &err), EQS_EIO, err, "absent/m.csv");
    eqs_csv_close(NULL);
}

/* ---- plots ------------------------------------------------------------------------------- */

static int have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static void test_plot_without_gnuplot(void)
{
    eqs_err err = {0};
    const char *csv = IN_DIR("metrics.csv");
    const int cols[] = {2};
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", IN_DIR("empty-bin"), 1);
    CHECK_ERR(eqs_plot_csv(csv, IN_DIR("loss.png"), "t", "y", 1, cols, 1, &err), EQS_EIO, err,
              "gnuplot not found (apt-get install gnuplot-nox); plot ");
    if (old)
        setenv("PATH", old, 1);
    else
        unsetenv("PATH");
    free(old);
}

static void test_plot(void)
{
    eqs_err err = {0};
    const int cols[] = {2, 3}, bad_cols[] = {4};
    CHECK_ERR(eqs_plot_csv(IN_DIR("it's.csv"), IN_DIR("x.png"), "t", "y", 1, cols, 1, &err),
              EQS_EINVAL, err, "single quote");
    if (!have_gnuplot()) {
        printf("SKIP plot: gnuplot not on PATH (apt-get install gnuplot-nox)\n");
        return;
    }
    CHECK_OK(eqs_mkdir_p(IN_DIR("plot dir"), &err), err);
    const char *csv = IN_DIR("plot dir/m.csv"), *png = IN_DIR("plot dir/loss_acc.png");
    const char text[] = "epoch,train_loss,test_acc\n1,0.9,0.6\n2,0.5,0.8\n3,0.4,0.85\n";
    write_bytes(csv, text, strlen(text));
    CHECK_OK(eqs_plot_csv(csv, png, "Loss and 'accuracy'", "value", 1, cols, 2, &err), err);
    size_t len;
    unsigned char *got = read_bytes(png, &len);
    CHECK(got && len > 8 && memcmp(got, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(got);
    CHECK(count_temp_files(IN_DIR("plot dir")) == 0);

    CHECK_ERR(eqs_plot_csv(csv, png, "t", "y", 1, bad_cols, 1, &err), EQS_EINVAL, err,
              "column 4 to plot, but the header has columns 1 to 3");
    const char *empty = IN_DIR("plot dir/empty.csv"), *empty_png = IN_DIR("plot dir/empty.png");
    write_bytes(empty, "epoch,a,b\n", 10);
    CHECK_ERR(eqs_plot_csv(empty, empty_png, "t", "y", 1, cols, 2, &err), EQS_EIO, err,
              "gnuplot failed (exit status 1)");
    CHECK(!eqs_path_exists(empty_png));
    CHECK(count_temp_files(IN_DIR("plot dir")) == 0);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/eqs-test-io-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror(g_dir);
        return 1;
    }
    test_npy_roundtrip();
    test_npy_matches_numpy();
    test_npy_reader_variants();
    test_npy_errors();
    test_npy_real();
    test_idx_load();
    test_idx_errors();
    test_mnist_lookup();
    test_fashion_mnist();
    test_dataset_helpers();
    test_permutation();
    test_atomic_write();
    test_paths();
    test_csv();
    test_plot_without_gnuplot();
    test_plot();
    nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    EQS_TEST_MAIN_END("test_io");
}
