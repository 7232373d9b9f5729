/* eqs/io.h — files in and out: NumPy .npy arrays, MNIST-format IDX datasets, atomic writes,
 * run directories, metrics CSV and gnuplot plots.
 *
 * Tensors cross the boundary with other tools as .npy (version 1.0/2.0, little-endian,
 * C order). Every write that could replace a finished result goes through a temp file in the same
 * folder + fsync + rename, so a crash never leaves a half-written checkpoint or CSV behind.
 */
#ifndef EQS_IO_H
#define EQS_IO_H

#include <stdbool.h>

#include "eqs/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- .npy --------------------------------------------------------------------------------- */

typedef enum eqs_dtype {
    EQS_DTYPE_F32 = 0, /* '<f4' */
    EQS_DTYPE_F64 = 1, /* '<f8' */
    EQS_DTYPE_I32 = 2, /* '<i4' */
    EQS_DTYPE_I64 = 3, /* '<i8' */
    EQS_DTYPE_U8 = 4,  /* '|u1' */
} eqs_dtype;

#define EQS_NPY_MAX_DIMS 8

typedef struct eqs_array {
    eqs_dtype dtype;
    int32_t ndim;
    int64_t shape[EQS_NPY_MAX_DIMS];
    void *data; /* owned; C order; free with eqs_array_free */
} eqs_array;

int64_t eqs_array_size(const eqs_array *a); /* product of shape (1 for ndim 0) */
size_t eqs_dtype_size(eqs_dtype t);
void eqs_array_free(eqs_array *a); /* frees data, zeroes the struct; NULL-safe */

/* Reads a .npy file. Rejects Fortran order, big-endian and unsupported dtypes, a header that
 * does not parse, and a file shorter or longer than its header says (EQS_EFORMAT, message names
 * the path and what was expected). */
eqs_status eqs_npy_read(const char *path, eqs_array *out, eqs_err *err);

/* Reads a .npy and converts it to eqs_real (from f32 or f64 only), checking the shape:
 * expect_shape[i] < 0 means "any"; ndim must match. *data is owned by the caller (eqs_free). */
eqs_status eqs_npy_read_real(const char *path, int32_t ndim, const int64_t *expect_shape,
                             eqs_real **data, int64_t *shape_out, eqs_err *err);

/* Writes a .npy atomically (temp + rename). */
eqs_status eqs_npy_write(const char *path, eqs_dtype dtype, int32_t ndim, const int64_t *shape,
                         const void *data, eqs_err *err);
/* Writes eqs_real data as '<f4' (float build) or '<f8' (double build). */
eqs_status eqs_npy_write_real(const char *path, int32_t ndim, const int64_t *shape,
                              const eqs_real *data, eqs_err *err);

/* ---- datasets ----------------------------------------------------------------------------- */

typedef struct eqs_dataset {
    int64_t n; /* samples */
    int32_t channels, height, width;
    int32_t n_features; /* channels*height*width */
    int32_t n_classes;  /* 1 + max label */
    eqs_real *x;        /* [n, n_features], pixels scaled to [0,1] */
    int32_t *y;         /* [n] */
} eqs_dataset;

/* Loads an MNIST-format pair of IDX files (images idx3-ubyte, labels idx1-ubyte), gzip or raw
 * (detected from the content, not the name). Checks magic numbers, dimensions, that the two
 * counts agree and that the files are neither truncated nor too long, and labels < 256. */
eqs_status eqs_idx_load(eqs_dataset *out, const char *images_path, const char *labels_path,
                        eqs_err *err);

/* Loads "<dir>/train-images-idx3-ubyte[.gz]" etc.; split is "train" or "t10k". */
eqs_status eqs_mnist_load(eqs_dataset *out, const char *dir, const char *split, eqs_err *err);

void eqs_dataset_free(eqs_dataset *d);

/* Keeps the first n samples (no-op when n <= 0 or n >= d->n). */
void eqs_dataset_truncate(eqs_dataset *d, int64_t n);
/* Applies (x - mean)/std to every pixel. */
void eqs_dataset_normalize(eqs_dataset *d, double mean, double std);

/* Seeded permutation of [0, n): Fisher-Yates driven by eqs_rng(seed, EQS_RNG_SHUFFLE, epoch). */
void eqs_permutation(int64_t *perm, int64_t n, uint64_t seed, uint32_t epoch);

/* Gathers rows idx[0..b) of d into x [b, n_features] and y [b]. */
void eqs_dataset_gather(const eqs_dataset *d, const int64_t *idx, int64_t b, eqs_real *x,
                        int32_t *y);

/* ---- files and run directories ------------------------------------------------------------ */

/* Writes len bytes atomically: <path>.tmp.<pid> + fsync + rename. */
eqs_status eqs_write_file_atomic(const char *path, const void *data, size_t len, eqs_err *err);
/* mkdir -p */
eqs_status eqs_mkdir_p(const char *path, eqs_err *err);
int eqs_path_exists(const char *path);
/* rm -rf path (files and folders below it, symlinks not followed); nothing if it is absent. */
void eqs_remove_tree(const char *path);
/* Joins a path relative to the folder of `base_file` (absolute paths are returned as they are). */
void eqs_path_relative_to(char *out, size_t out_len, const char *base_file, const char *path);

/* ---- metrics and plots -------------------------------------------------------------------- */

/* A CSV with a fixed header, rewritten atomically on each append so that it is always whole. */
typedef struct eqs_csv eqs_csv;
/* Opens path for appending rows. If the file exists with the same header, keeps its rows
 * (resume); if it exists with another header, EQS_EFORMAT. */
eqs_status eqs_csv_open(eqs_csv **out, const char *path, const char *header, eqs_err *err);
/* Keeps only rows whose first column (an integer, e.g. the epoch) is <= max_key (resume). */
void eqs_csv_truncate_after(eqs_csv *c, long max_key);
eqs_status eqs_csv_append(eqs_csv *c, const char *row, eqs_err *err); /* row without '\n' */
void eqs_csv_close(eqs_csv *c);

/* Plots columns of a CSV with gnuplot into a PNG: x column `x_col` against each listed column
 * (1-based), one curve each, titles from the header. Returns EQS_EIO with a message if gnuplot
 * is missing or fails; callers treat a failed plot as a warning, never as a lost run. */
eqs_status eqs_plot_csv(const char *csv_path, const char *png_path, const char *title,
                        const char *ylabel, int x_col, const int *y_cols, int n_y, eqs_err *err);

/* ---- files (continued) -------------------------------------------------------------------- */

/* Like eqs_write_file_atomic for data in n_parts pieces written in order (e.g. a .npy header and
 * the array it describes), without first copying them into one buffer. */
eqs_status eqs_write_file_atomic_parts(const char *path, const void *const *parts,
                                       const size_t *lens, int n_parts, eqs_err *err);

/* ---- CIFAR-10 and augmentation ------------------------------------------------------------ */

/* CIFAR-10, binary version (cifar-10-binary.tar.gz from the dataset's authors; not packaged in
 * Debian): data_batch_1.bin ... data_batch_5.bin (train) and test_batch.bin, each a sequence of
 * 3073-byte records: a label byte (0-9), then the 1024 red, 1024 green and 1024 blue bytes of a
 * 32x32 image in row-major order. Loaded as channels 3, height 32, width 32, x in that same
 * C,H,W order scaled by 1/255, n_classes 10. See docs/datasets.md. */
#define EQS_CIFAR10_RECORD_BYTES 3073
#define EQS_CIFAR10_CLASSES      10

/* Per-channel (R, G, B) statistics for eqs_dataset_normalize_channels, pixels in [0,1]:
 *   eqs_cifar10_mean           = (0.4914, 0.4822, 0.4465)  mean of the training images
 *   eqs_cifar10_std            = (0.2470, 0.2435, 0.2616)  their standard deviation
 *   eqs_cifar10_std_laborieux  = (0.6069, 0.5982, 0.6030)  = 3 x (0.2023, 0.1994, 0.2010)
 * The Laborieux et al. (2021) reference code normalises with mean and std_laborieux
 * (torchvision Normalize, train and test): use that pair to reproduce the paper's inputs, about
 * [-0.8, 0.9] instead of the [-2, 2] of the true standard deviations. */
extern const double eqs_cifar10_mean[3];
extern const double eqs_cifar10_std[3];
extern const double eqs_cifar10_std_laborieux[3];

/* Loads one CIFAR-10 binary file, raw or gzip (told by content, not name). Errors name the file:
 * missing (EQS_EIO), empty, a size that is not a whole number of records, a label > 9 (record
 * index and value), a corrupt or cut gzip stream (EQS_EFORMAT). */
eqs_status eqs_cifar10_load_file(eqs_dataset *out, const char *path, eqs_err *err);

/* Loads a split from dir: "train" = data_batch_1..5 concatenated in that order, "test" =
 * test_batch. Each file is "<name>.bin.gz" if it exists, else "<name>.bin". */
eqs_status eqs_cifar10_load(eqs_dataset *out, const char *dir, const char *split, eqs_err *err);

/* x = (x - mean[c]) / std[c] for every pixel of channel c (std[c] > 0). */
void eqs_dataset_normalize_channels(eqs_dataset *d, const double *mean, const double *std);

/* One sample's augmentation: flip first, then a crop of the (flipped) image padded by `pad`
 * pixels on each side, whose top-left corner is (top, left) in the padded image. */
typedef struct eqs_augment_params {
    bool flip;
    int32_t top, left; /* uniform on [0, 2 pad] */
} eqs_augment_params;

/* The draws for one sample: Philox stream (seed, EQS_RNG_AUGMENT, epoch) with the counter's
 * second word set to sample_id (so each sample owns 2^32 blocks); the first words give flip
 * (top bit), then top, then left (eqs_rng_below(2 pad + 1)) - torchvision's order. A pure
 * function of (seed, epoch, sample_id, pad): independent of batch order and thread count. */
eqs_augment_params eqs_augment_draw(uint64_t seed, uint32_t epoch, int64_t sample_id, int32_t pad);

/* The paper's training augmentation (Laborieux et al. 2021, torchvision RandomHorizontalFlip(0.5)
 * then RandomCrop(size, padding=pad, padding_mode='edge')) on a gathered batch: image i of src
 * [n, channels, height, width] is augmented with eqs_augment_draw(seed, epoch, sample_ids[i], pad)
 * into dst (same shape). Padding repeats the edge pixels. flip = false never flips (the draw is
 * made and ignored, so crops do not change with it). Allocates nothing; dst and src must not
 * overlap; sample ids in [0, 2^32). pad = 0 and flip = false is a copy. */
void eqs_augment_crop_flip(eqs_real *dst, const eqs_real *src, int32_t n, int32_t channels,
                           int32_t height, int32_t width, int32_t pad, bool flip, uint64_t seed,
                           uint32_t epoch, const int64_t *sample_ids);

/* ---- styled line plots -------------------------------------------------------------------- */

typedef enum eqs_dash {
    EQS_DASH_SOLID = 0,
    EQS_DASH_DASHED = 1, /* long dashes */
    EQS_DASH_SHORT = 2,  /* short dashes */
    EQS_DASH_DOTTED = 3,
} eqs_dash;

/* One curve: CSV column y_col (1-based) against the x column. color indexes a palette of 8
 * (modulo 8), or -1 for black. y_col = 0 draws nothing and only adds a key entry, so that a
 * figure can say "dashed = method A" once instead of per curve. title NULL: no key entry. */
typedef struct eqs_plot_line {
    int y_col;
    int color;
    eqs_dash dash;
    const char *title;
} eqs_plot_line;

typedef struct eqs_plot_panel {
    const char *title, *ylabel;
    const eqs_plot_line *lines;
    int n_lines;
} eqs_plot_panel;

/* Draws n_panels panels side by side in one PNG (gnuplot, pngcairo), all from the same CSV with
 * a header line, x = column x_col. Same errors as eqs_plot_csv (EQS_EIO if gnuplot is missing
 * or fails, EQS_EINVAL for a column outside the header); callers treat a failure as a
 * warning. */
eqs_status eqs_plot_lines(const char *csv_path, const char *png_path, const char *title,
                          const char *xlabel, int x_col, const eqs_plot_panel *panels, int n_panels,
                          eqs_err *err);

/* What eqs_plot_lines_ex adds to the curves. The arrays are indexed by the curve's number over
 * all panels (panel 0's lines first); NULL means none. A curve with lo_cols[i] and hi_cols[i]
 * both > 0 is drawn with point markers and an error bar from column lo to column hi at each x.
 * xtic_col > 0 labels the x tics with that column's text at each x (categorical values plotted
 * by index); 0 keeps the numeric axis. */
typedef struct eqs_plot_extra {
    const int *lo_cols, *hi_cols;
    int xtic_col;
} eqs_plot_extra;

/* eqs_plot_lines with error bars and/or tic labels (extra may be NULL: eqs_plot_lines). */
eqs_status eqs_plot_lines_ex(const char *csv_path, const char *png_path, const char *title,
                             const char *xlabel, int x_col, const eqs_plot_panel *panels,
                             int n_panels, const eqs_plot_extra *extra, eqs_err *err);

#ifdef __cplusplus
}
#endif
#endif
