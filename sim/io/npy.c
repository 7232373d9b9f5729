/* npy.c — NumPy .npy arrays: read versions 1.0 and 2.0, write 1.0.
 *
 * Format (numpy/lib/format.py): "\x93NUMPY", major, minor, the header length (uint16 LE in 1.0,
 * uint32 LE in 2.0), then an ASCII Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a final '\n' so that the data starts on a 64-byte boundary, then the
 * raw data in C order. Only little-endian, C-order arrays of five dtypes are supported; the host
 * must be little-endian too, so data is copied without byte swapping.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eqs/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies .npy data without byte swapping: it needs a little-endian host"
#endif

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN     64

typedef struct dtype_info {
    const char *descr; /* as written */
    const char *name;  /* for messages */
    size_t size;
} dtype_info;

static const dtype_info DTYPES[] = {
    [EQS_DTYPE_F32] = {"<f4", "float32", 4}, [EQS_DTYPE_F64] = {"<f8", "float64", 8},
    [EQS_DTYPE_I32] = {"<i4", "int32", 4},   [EQS_DTYPE_I64] = {"<i8", "int64", 8},
    [EQS_DTYPE_U8] = {"|u1", "uint8", 1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

static int dtype_valid(eqs_dtype t)
{
    return (int)t >= 0 && (int)t < N_DTYPES;
}

/* The dtype that holds eqs_real as it is in memory. */
static eqs_dtype real_dtype(void)
{
    return sizeof(eqs_real) == sizeof(float) ? EQS_DTYPE_F32 : EQS_DTYPE_F64;
}

size_t eqs_dtype_size(eqs_dtype t)
{
    EQS_ASSERT(dtype_valid(t));
    return DTYPES[t].size;
}

int64_t eqs_array_size(const eqs_array *a)
{
    int64_t n = 1;
    for (int32_t i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

void eqs_array_free(eqs_array *a)
{
    if (!a)
        return;
    eqs_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- shapes in messages ------------------------------------------------------------------ */

/* Python tuple style, as NumPy prints shapes: "()", "(5,)", "(512, 784)"; negative = "*". */
static void format_shape_tuple(char *out, size_t out_len, int32_t ndim, const int64_t *shape)
{
    size_t pos = (size_t)snprintf(out, out_len, "(");
    for (int32_t i = 0; i < ndim && pos < out_len; i++) {
        const char *sep = i + 1 < ndim ? ", " : (ndim == 1 ? "," : "");
        if (shape[i] < 0)
            pos += (size_t)snprintf(out + pos, out_len - pos, "*%s", sep);
        else
            pos += (size_t)snprintf(out + pos, out_len - pos, "%lld%s", (long long)shape[i], sep);
    }
    if (pos < out_len)
        snprintf(out + pos, out_len - pos, ")");
}

/* "100x784 float32", "scalar float64" */
static void format_shape_dtype(char *out, size_t out_len, const eqs_array *a)
{
    size_t pos = 0;
    if (a->ndim == 0)
        pos = (size_t)snprintf(out, out_len, "scalar");
    for (int32_t i = 0; i < a->ndim && pos < out_len; i++)
        pos += (size_t)snprintf(out + pos, out_len - pos, "%s%lld", i ? "x" : "",
                                (long long)a->shape[i]);
    if (pos < out_len)
        snprintf(out + pos, out_len - pos, " %s", DTYPES[a->dtype].name);
}

/* ---- header parsing ---------------------------------------------------------------------- */

/* A cursor over the header text; on the first failure `expected` says what was wanted at
 * `pos`, and later calls do nothing. */
typedef struct header_parser {
    const char *s;
    size_t len, pos;
    const char *expected;
} header_parser;

static void skip_spaces(header_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int fail(header_parser *p, const char *expected)
{
    if (!p->expected)
        p->expected = expected;
    return 0;
}

/* Skips spaces, then consumes c if it is next. */
static int accept(header_parser *p, char c)
{
    skip_spaces(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

static int expect(header_parser *p, char c, const char *what)
{
    return p->expected == NULL && (accept(p, c) || fail(p, what));
}

/* A Python string literal in '...' or "..." (no escapes: dtype strings and keys have none). */
static int parse_string(header_parser *p, char *out, size_t out_len, const char *what)
{
    skip_spaces(p);
    if (p->expected || p->pos >= p->len || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return fail(p, what);
    char quote = p->s[p->pos];
    size_t start = ++p->pos;
    while (p->pos < p->len && p->s[p->pos] != quote)
        p->pos++;
    size_t n = p->pos - start;
    if (p->pos >= p->len || n >= out_len)
        return fail(p, what);
    memcpy(out, p->s + start, n);
    out[n] = '\0';
    p->pos++;
    return 1;
}

static int accept_word(header_parser *p, const char *word)
{
    skip_spaces(p);
    size_t n = strlen(word);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int parse_bool(header_parser *p, int *out)
{
    if (p->expected)
        return 0;
    if (accept_word(p, "True"))
        *out = 1;
    else if (accept_word(p, "False"))
        *out = 0;
    else
        return fail(p, "True or False");
    return 1;
}

static int parse_dim(header_parser *p, int64_t *out)
{
    skip_spaces(p);
    int64_t v = 0;
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return fail(p, "a dimension below 2^63");
        v = v * 10 + (p->s[p->pos++] - '0');
    }
    if (p->pos == start)
        return fail(p, "a non-negative integer dimension");
    accept(p, 'L'); /* Python 2 wrote long integers as 3L */
    *out = v;
    return 1;
}

/* "()", "(5,)", "(2, 3)", "(2, 3,)" */
static int parse_shape(header_parser *p, int32_t *ndim, int64_t *shape)
{
    if (!expect(p, '(', "'(' opening the shape tuple"))
        return 0;
    *ndim = 0;
    while (!accept(p, ')')) {
        if (*ndim == EQS_NPY_MAX_DIMS)
            return fail(p, "at most 8 dimensions");
        if (!parse_dim(p, &shape[(*ndim)++]))
            return 0;
        if (!accept(p, ','))
            return expect(p, ')', "',' or ')' in the shape tuple");
    }
    return 1;
}

typedef struct npy_header {
    char descr[16];
    int fortran_order;
    int32_t ndim;
    int64_t shape[EQS_NPY_MAX_DIMS];
} npy_header;

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

static int parse_entry(header_parser *p, npy_header *h, int *seen)
{
    char key[32];
    skip_spaces(p);
    size_t key_pos = p->pos;
    if (!parse_string(p, key, sizeof key, "a quoted key ('descr', 'fortran_order' or 'shape')") ||
        !expect(p, ':', "':' after the key"))
        return 0;
    int bit = 0, ok = 0;
    if (strcmp(key, "descr") == 0) {
        bit = KEY_DESCR;
        ok = parse_string(p, h->descr, sizeof h->descr, "a dtype string such as '<f4'");
    } else if (strcmp(key, "fortran_order") == 0) {
        bit = KEY_FORTRAN;
        ok = parse_bool(p, &h->fortran_order);
    } else if (strcmp(key, "shape") == 0) {
        bit = KEY_SHAPE;
        ok = parse_shape(p, &h->ndim, h->shape);
    } else {
        p->pos = key_pos;
        return fail(p, "only the keys 'descr', 'fortran_order' and 'shape'");
    }
    if (*seen & bit) {
        p->pos = key_pos;
        return fail(p, "each key once");
    }
    *seen |= bit;
    return ok;
}

static int parse_dict(header_parser *p, npy_header *h)
{
    int seen = 0;
    if (!expect(p, '{', "'{' opening the header dict"))
        return 0;
    while (!accept(p, '}')) {
        if (!parse_entry(p, h, &seen))
            return 0;
        if (accept(p, ','))
            continue;
        if (!expect(p, '}', "',' or '}' after a value"))
            return 0;
        break;
    }
    if (seen != KEY_ALL)
        return fail(p, "the keys 'descr', 'fortran_order' and 'shape' (one is missing)");
    skip_spaces(p);
    return p->pos == p->len || fail(p, "only spaces after the dict");
}

/* Up to n bytes of src for a one-line message: control and non-ASCII bytes become '?',
 * trailing spaces and newlines are dropped. */
static void excerpt(char *out, const char *src, size_t n)
{
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    out[n] = '\0';
}

static eqs_status parse_header(const char *path, const char *text, size_t len, npy_header *h,
                               eqs_err *err)
{
    header_parser p = {text, len, 0, NULL};
    if (parse_dict(&p, h))
        return EQS_OK;
    char found[16], whole[160];
    size_t rest = len - p.pos;
    excerpt(found, text + p.pos, rest < 12 ? rest : 12);
    excerpt(whole, text, len < 140 ? len : 140);
    return eqs_err_set(err, EQS_EFORMAT,
                       "%s: bad .npy header: expected %s at offset %zu, found '%s' in \"%s\"", path,
                       p.expected, p.pos, found[0] ? found : "end of header", whole);
}

static eqs_status dtype_from_descr(const char *path, const char *descr, eqs_dtype *out,
                                   eqs_err *err)
{
    for (int t = 0; t < N_DTYPES; t++) {
        if (strcmp(descr, DTYPES[t].descr) == 0) {
            *out = (eqs_dtype)t;
            return EQS_OK;
        }
    }
    if (strcmp(descr, "<u1") == 0) { /* same bytes as '|u1': byte order is moot for 1 byte */
        *out = EQS_DTYPE_U8;
        return EQS_OK;
    }
    if (descr[0] == '>')
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: big-endian dtype '%s' is not supported (save with "
                           "arr.astype('<%s'))",
                           path, descr, descr + 1);
    return eqs_err_set(err, EQS_EFORMAT,
                       "%s: unsupported dtype '%s' (expected '<f4', '<f8', '<i4', '<i8' or '|u1')",
                       path, descr);
}

static eqs_status header_to_array(const char *path, const npy_header *h, eqs_array *a, eqs_err *err)
{
    if (h->fortran_order)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: 'fortran_order': True is not supported (expected C order; save "
                           "np.ascontiguousarray(a))",
                           path);
    eqs_status st = dtype_from_descr(path, h->descr, &a->dtype, err);
    if (st != EQS_OK)
        return st;
    a->ndim = h->ndim;
    memcpy(a->shape, h->shape, sizeof a->shape);
    return EQS_OK;
}

/* ---- reading ----------------------------------------------------------------------------- */

static uint32_t read_le(const unsigned char *b, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* Reads the magic, version and header length; *dict_offset = where the dict starts. */
static eqs_status read_preamble(const char *path, FILE *f, long long file_len, uint32_t *hlen,
                                long long *dict_offset, eqs_err *err)
{
    unsigned char pre[12] = {0};
    size_t got = fread(pre, 1, 10, f);
    if (got < 10)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated: expected a 10-byte .npy preamble, file has %lld bytes",
                           path, file_len);
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: not a .npy file: first bytes %02x %02x %02x %02x %02x %02x, "
                           "expected 93 4e 55 4d 50 59 (\\x93NUMPY)",
                           path, pre[0], pre[1], pre[2], pre[3], pre[4], pre[5]);
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2) || minor != 0)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: .npy version %d.%d is not supported (expected 1.0 or 2.0)", path,
                           major, minor);
    if (major == 1) {
        *hlen = read_le(pre + 8, 2);
        *dict_offset = 10;
    } else {
        if (fread(pre + 10, 1, 2, f) != 2)
            return eqs_err_set(err, EQS_EFORMAT,
                               "%s: truncated: expected a 12-byte .npy 2.0 preamble, file has "
                               "%lld bytes",
                               path, file_len);
        *hlen = read_le(pre + 8, 4);
        *dict_offset = 12;
    }
    if (*dict_offset + (long long)*hlen > file_len)
        return eqs_err_set(err, EQS_EFORMAT,
                           "%s: truncated: header length %u but file has only %lld bytes", path,
                           *hlen, file_len);
    return EQS_OK;
}

static eqs_status read_header(const char *path, FILE *f, long long file_len, eqs_array *a,
                              long long *data_offset, eqs_err *err)
{
    uint32_t hlen = 0;
    long long dict_offset = 0;
    eqs_status st = read_preamble(path, f, file_len, &hlen, &dict_offset, err);
    if (st != EQS_OK)
        return st;
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory for a %u-byte header", path, hlen);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return eqs_err_set(err, EQS_EIO, "%s: cannot read the header: %s", path, strerror(errno));
    }
    npy_header h = {0};
    st = parse_header(path, text, hlen, &h, err);
    free(text);
    if (st == EQS_OK)
        st = header_to_array(path, &h, a, err);
    *data_offset = dict_offset + hlen;
    return st;
}

/* size * itemsize in bytes, or -1 if it does not fit in an int64. */
static long long data_bytes(const eqs_array *a)
{
    long long bytes = (long long)eqs_dtype_size(a->dtype);
    for (int32_t i = 0; i < a->ndim; i++) {
        if (a->shape[i] != 0 && bytes > INT64_MAX / a->shape[i])
            return -1;
        bytes *= a->shape[i];
    }
    return bytes;
}

static eqs_status check_data_length(const char *path, const eqs_array *a, long long want,
                                    long long have, eqs_err *err)
{
    char desc[128];
    format_shape_dtype(desc, sizeof desc, a);
    if (want < 0)
        return eqs_err_set(err, EQS_EFORMAT, "%s: header says %s, which overflows 64 bits", path,
                           desc);
    if (have == want)
        return EQS_OK;
    return eqs_err_set(err, EQS_EFORMAT,
                       "%s: %s: header says %s (%lld bytes of data), file has %lld bytes of data",
                       path, have < want ? "truncated" : "too long", desc, want, have);
}

static eqs_status read_data(const char *path, FILE *f, eqs_array *a, size_t bytes, eqs_err *err)
{
    a->data = eqs_calloc(bytes ? bytes : 1, 1, err);
    if (!a->data)
        return eqs_err_prefix(err, "%s", path);
    if (fread(a->data, 1, bytes, f) != bytes)
        return eqs_err_set(err, EQS_EIO, "%s: cannot read %zu bytes of data: %s", path, bytes,
                           ferror(f) ? strerror(errno) : "file shrank while reading");
    return EQS_OK;
}

eqs_status eqs_npy_read(const char *path, eqs_array *out, eqs_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    eqs_status st = EQS_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = eqs_err_set(err, EQS_EIO, "%s: not a regular file", path);
    long long data_offset = 0;
    if (st == EQS_OK)
        st = read_header(path, f, (long long)sb.st_size, out, &data_offset, err);
    long long want = st == EQS_OK ? data_bytes(out) : 0;
    if (st == EQS_OK)
        st = check_data_length(path, out, want, (long long)sb.st_size - data_offset, err);
    if (st == EQS_OK)
        st = read_data(path, f, out, (size_t)want, err);
    fclose(f);
    if (st != EQS_OK)
        eqs_array_free(out);
    return st;
}

static eqs_status check_shape(const char *path, const eqs_array *a, int32_t ndim,
                              const int64_t *expect_shape, eqs_err *err)
{
    int ok = a->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++)
        ok = expect_shape[i] < 0 || expect_shape[i] == a->shape[i];
    if (ok)
        return EQS_OK;
    char got[160], want[160];
    format_shape_tuple(got, sizeof got, a->ndim, a->shape);
    format_shape_tuple(want, sizeof want, ndim, expect_shape);
    return eqs_err_set(err, EQS_EMISMATCH, "%s: shape %s but expected %s", path, got, want);
}

/* Converts a->data to eqs_real, reusing the buffer when it already has that type. */
static eqs_real *to_real(eqs_array *a, eqs_err *err)
{
    size_t n = (size_t)eqs_array_size(a);
    if (a->dtype == real_dtype()) {
        eqs_real *same = a->data;
        a->data = NULL;
        return same;
    }
    eqs_real *r = eqs_calloc(n ? n : 1, sizeof *r, err);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = a->dtype == EQS_DTYPE_F32 ? (eqs_real)((const float *)a->data)[i]
                                         : (eqs_real)((const double *)a->data)[i];
    return r;
}

eqs_status eqs_npy_read_real(const char *path, int32_t ndim, const int64_t *expect_shape,
                             eqs_real **data, int64_t *shape_out, eqs_err *err)
{
    *data = NULL;
    eqs_array a;
    eqs_status st = eqs_npy_read(path, &a, err);
    if (st != EQS_OK)
        return st;
    if (a.dtype != EQS_DTYPE_F32 && a.dtype != EQS_DTYPE_F64)
        st = eqs_err_set(err, EQS_EFORMAT,
                         "%s: dtype %s ('%s') but expected float32 or float64 ('<f4' or '<f8')",
                         path, DTYPES[a.dtype].name, DTYPES[a.dtype].descr);
    if (st == EQS_OK)
        st = check_shape(path, &a, ndim, expect_shape, err);
    if (st == EQS_OK) {
        *data = to_real(&a, err);
        if (!*data)
            st = eqs_err_prefix(err, "%s", path);
    }
    if (st == EQS_OK && shape_out)
        memcpy(shape_out, a.shape, (size_t)ndim * sizeof *shape_out);
    eqs_array_free(&a);
    return st;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* Builds the preamble + header exactly as numpy.save (version 1.0); returns its length. */
static size_t build_header(char *buf, size_t buf_len, eqs_dtype dtype, int32_t ndim,
                           const int64_t *shape)
{
    char tuple[EQS_NPY_MAX_DIMS * 24 + 4];
    format_shape_tuple(tuple, sizeof tuple, ndim, shape);
    char *dict = buf + 10;
    int n = snprintf(dict, buf_len - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     DTYPES[dtype].descr, tuple);
    /* numpy's _wrap_header: 1 to 64 bytes of spaces and a '\n' reach a multiple of 64. (NumPy
     * >= 1.22 first adds up to 20 spaces so the first dimension can grow in place; for shapes
     * whose size fits 64 bits that never changes the padded length, so the bytes agree.) */
    int pad = NPY_ALIGN - (10 + n + 1) % NPY_ALIGN;
    memset(dict + n, ' ', (size_t)pad);
    dict[n + pad] = '\n';
    size_t hlen = (size_t)n + (size_t)pad + 1;
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    return 10 + hlen;
}

eqs_status eqs_npy_write(const char *path, eqs_dtype dtype, int32_t ndim, const int64_t *shape,
                         const void *data, eqs_err *err)
{
    if (!dtype_valid(dtype))
        return eqs_err_set(err, EQS_EINVAL, "%s: invalid dtype %d", path, (int)dtype);
    if (ndim < 0 || ndim > EQS_NPY_MAX_DIMS)
        return eqs_err_set(err, EQS_EINVAL, "%s: %d dimensions (expected 0 to %d)", path, (int)ndim,
                           EQS_NPY_MAX_DIMS);
    eqs_array a = {.dtype = dtype, .ndim = ndim};
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return eqs_err_set(err, EQS_EINVAL, "%s: dimension %d is %lld (expected >= 0)", path,
                               (int)i, (long long)shape[i]);
        a.shape[i] = shape[i];
    }
    long long bytes = data_bytes(&a);
    if (bytes < 0)
        return eqs_err_set(err, EQS_EINVAL, "%s: array size overflows 64 bits", path);
    EQS_ASSERT(data || bytes == 0);
    char header[512];
    size_t header_len = build_header(header, sizeof header, dtype, ndim, shape);
    const void *parts[2] = {header, data};
    size_t lens[2] = {header_len, (size_t)bytes};
    return eqs_write_file_atomic_parts(path, parts, lens, 2, err);
}

eqs_status eqs_npy_write_real(const char *path, int32_t ndim, const int64_t *shape,
                              const eqs_real *data, eqs_err *err)
{
    return eqs_npy_write(path, real_dtype(), ndim, shape, data, err);
}
