/* npytool.c — a helper for the end-to-end tests (no Python in CI):
 *   npytool batch DATA_DIR N X.npy Y.npy   first N test images [N,784] float32, labels int32 [N]
 *   npytool diff A.npy B.npy                prints "max_abs R rel_fro F cos C" between two arrays
 *   npytool same A.npy B.npy                exit 0 iff the files hold identical arrays
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/io.h"

static int fail(const eqs_err *err)
{
    fprintf(stderr, "npytool: %s\n", err->msg);
    return 2;
}

static int cmd_batch(const char *dir, long n, const char *x_path, const char *y_path)
{
    eqs_dataset d;
    eqs_err err;
    if (eqs_mnist_load(&d, dir, "t10k", &err) != EQS_OK)
        return fail(&err);
    eqs_dataset_truncate(&d, n);
    float *x = malloc(sizeof(float) * (size_t)(d.n * d.n_features));
    for (int64_t i = 0; i < d.n * d.n_features; i++)
        x[i] = (float)d.x[i];
    int64_t xs[2] = {d.n, d.n_features}, ys[1] = {d.n};
    int rc = 0;
    if (eqs_npy_write(x_path, EQS_DTYPE_F32, 2, xs, x, &err) != EQS_OK ||
        eqs_npy_write(y_path, EQS_DTYPE_I32, 1, ys, d.y, &err) != EQS_OK)
        rc = fail(&err);
    free(x);
    eqs_dataset_free(&d);
    return rc;
}

static double value(const eqs_array *a, int64_t i)
{
    return a->dtype == EQS_DTYPE_F32 ? (double)((float *)a->data)[i] : ((double *)a->data)[i];
}

static int load_pair(const char *pa, const char *pb, eqs_array *a, eqs_array *b)
{
    eqs_err err;
    if (eqs_npy_read(pa, a, &err) != EQS_OK || eqs_npy_read(pb, b, &err) != EQS_OK)
        return fail(&err);
    if (a->ndim != b->ndim || eqs_array_size(a) != eqs_array_size(b) || a->dtype != b->dtype) {
        fprintf(stderr, "npytool: %s and %s differ in shape or dtype\n", pa, pb);
        return 2;
    }
    return 0;
}

static int cmd_diff(const char *pa, const char *pb)
{
    eqs_array a, b;
    int rc = load_pair(pa, pb, &a, &b);
    if (rc)
        return rc;
    double max_abs = 0, d2 = 0, a2 = 0, b2 = 0, ab = 0;
    for (int64_t i = 0; i < eqs_array_size(&a); i++) {
        double va = value(&a, i), vb = value(&b, i);
        max_abs = fmax(max_abs, fabs(va - vb));
        d2 += (va - vb) * (va - vb);
        a2 += va * va;
        b2 += vb * vb;
        ab += va * vb;
    }
    printf("max_abs %.6g rel_fro %.6g cos %.6f\n", max_abs, sqrt(d2 / (b2 > 0 ? b2 : 1)),
           ab / sqrt(a2 * b2 > 0 ? a2 * b2 : 1));
    eqs_array_free(&a);
    eqs_array_free(&b);
    return 0;
}

static int cmd_same(const char *pa, const char *pb)
{
    eqs_array a, b;
    int rc = load_pair(pa, pb, &a, &b);
    if (rc)
        return rc;
    size_t bytes = (size_t)eqs_array_size(&a) * eqs_dtype_size(a.dtype);
    rc = memcmp(a.data, b.data, bytes) == 0 ? 0 : 1;
    if (rc)
        fprintf(stderr, "npytool: %s and %s differ\n", pa, pb);
    eqs_array_free(&a);
    eqs_array_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "batch") == 0)
        return cmd_batch(argv[2], atol(argv[3]), argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "diff") == 0)
        return cmd_diff(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "same") == 0)
        return cmd_same(argv[2], argv[3]);
    fprintf(stderr, "usage: npytool batch DIR N X.npy Y.npy | diff A B | same A B\n");
    return 2;
}
