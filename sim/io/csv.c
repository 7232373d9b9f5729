/* csv.c — metrics CSV files that are always whole, and gnuplot plots of them.
 *
 * A metrics CSV is small (one row per epoch), so it lives in memory and every append rewrites the
 * file atomically: a crash or a reader never sees half a row. eqs_plot_csv draws its columns
 * through eqs_plot_lines (plot_lines.c), which runs gnuplot.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/io.h"

extern char **environ; /* POSIX: not declared by any header without _GNU_SOURCE */

struct eqs_csv {
    char *path;
    char *header;
    char **rows; /* without '\n' */
    size_t n_rows, cap_rows;
};

/* ---- rows and text ----------------------------------------------------------------------- */

/* Columns of one CSV line: commas outside double quotes, plus one. */
static int count_columns(const char *line)
{
    int n = 1, quoted = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            n++;
    }
    return n;
}

static eqs_status push_row(eqs_csv *c, const char *row, size_t len, eqs_err *err)
{
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows ? 2 * c->cap_rows : 64;
        char **rows = realloc(c->rows, cap * sizeof *rows);
        if (!rows)
            return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory for %zu rows", c->path, cap);
        c->rows = rows;
        c->cap_rows = cap;
    }
    char *copy = strndup(row, len);
    if (!copy)
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory for a row", c->path);
    c->rows[c->n_rows++] = copy;
    return EQS_OK;
}

static eqs_status rewrite(const eqs_csv *c, eqs_err *err)
{
    size_t len = strlen(c->header) + 1;
    for (size_t i = 0; i < c->n_rows; i++)
        len += strlen(c->rows[i]) + 1;
    char *text = malloc(len + 1);
    if (!text)
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory for %zu bytes", c->path, len);
    char *p = text;
    p += sprintf(p, "%s\n", c->header);
    for (size_t i = 0; i < c->n_rows; i++)
        p += sprintf(p, "%s\n", c->rows[i]);
    eqs_status st = eqs_write_file_atomic(c->path, text, len, err);
    free(text);
    return st;
}

/* Reads a whole (small) text file into a NUL-terminated buffer; *missing tells ENOENT apart. */
static eqs_status slurp(const char *path, char **text, int *missing, eqs_err *err)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    *missing = !f && errno == ENOENT;
    if (!f)
        return *missing ? EQS_OK
                        : eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    char *buf = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)size) {
        free(buf);
        return eqs_err_set(err, EQS_EIO, "%s: cannot read it (%ld bytes)", path, size);
    }
    buf[size] = '\0';
    *text = buf;
    return EQS_OK;
}

/* Length of the line at s, without its "\n" or "\r\n". */
static size_t line_length(const char *s)
{
    size_t n = strcspn(s, "\n");
    return n > 0 && s[n - 1] == '\r' ? n - 1 : n;
}

/* Checks the header of an existing file and keeps its rows. */
static eqs_status load_rows(eqs_csv *c, const char *text, eqs_err *err)
{
    size_t n = line_length(text);
    if (n != strlen(c->header) || strncmp(text, c->header, n) != 0)
        return eqs_err_set(err, EQS_EFORMAT, "%s: header '%.*s' but expected '%s'", c->path,
                           (int)(n > 300 ? 300 : n), text, c->header);
    for (const char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        size_t len = line_length(p + 1);
        eqs_status st = len ? push_row(c, p + 1, len, err) : EQS_OK;
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

static int has_newline(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

eqs_status eqs_csv_open(eqs_csv **out, const char *path, const char *header, eqs_err *err)
{
    *out = NULL;
    if (header[0] == '\0' || has_newline(header))
        return eqs_err_set(err, EQS_EINVAL, "%s: the CSV header must be one non-empty line", path);
    eqs_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path)) || !(c->header = strdup(header))) {
        eqs_csv_close(c);
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory", path);
    }
    char *text = NULL;
    int missing = 0;
    eqs_status st = slurp(path, &text, &missing, err);
    /* A new file gets its header at once, so a run that stops early still leaves a valid CSV. */
    if (st == EQS_OK)
        st = missing ? rewrite(c, err) : load_rows(c, text, err);
    free(text);
    if (st != EQS_OK) {
        eqs_csv_close(c);
        return st;
    }
    *out = c;
    return EQS_OK;
}

/* Reads the first column as an integer into *key; returns 0 if it is not one. */
static int leading_key(const char *row, long *key)
{
    char *end;
    errno = 0;
    *key = strtol(row, &end, 10);
    return end != row && errno == 0 && (*end == ',' || *end == '\0');
}

void eqs_csv_truncate_after(eqs_csv *c, long max_key)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        long key;
        if (leading_key(c->rows[i], &key) && key > max_key)
            free(c->rows[i]);
        else
            c->rows[kept++] = c->rows[i];
    }
    if (kept == c->n_rows)
        return;
    c->n_rows = kept;
    /* No error channel here: if this rewrite fails the file keeps the dropped rows until the next
     * append, which rewrites the whole file and reports its own failure. */
    rewrite(c, NULL);
}

eqs_status eqs_csv_append(eqs_csv *c, const char *row, eqs_err *err)
{
    if (has_newline(row))
        return eqs_err_set(err, EQS_EINVAL, "%s: row '%.200s' contains a line break", c->path, row);
    int want = count_columns(c->header), got = count_columns(row);
    if (got != want)
        return eqs_err_set(err, EQS_EINVAL, "%s: row '%.200s' has %d columns but the header has %d",
                           c->path, row, got, want);
    eqs_status st = push_row(c, row, strlen(row), err);
    if (st != EQS_OK)
        return st;
    st = rewrite(c, err);
    if (st != EQS_OK) /* keep memory equal to the file, so a retry does not duplicate the row */
        free(c->rows[--c->n_rows]);
    return st;
}

void eqs_csv_close(eqs_csv *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_rows; i++)
        free(c->rows[i]);
    free(c->rows);
    free(c->header);
    free(c->path);
    free(c);
}

/* ---- plots ------------------------------------------------------------------------------- */

/* The CSV's first line, without its line break. */
static eqs_status read_header_line(const char *csv_path, char *line, size_t line_len, eqs_err *err)
{
    FILE *f = fopen(csv_path, "r");
    if (!f)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", csv_path, strerror(errno));
    char *got = fgets(line, (int)line_len, f);
    fclose(f);
    if (!got)
        return eqs_err_set(err, EQS_EFORMAT, "%s: empty file, expected a header line", csv_path);
    line[line_length(line)] = '\0';
    return EQS_OK;
}

/* Name of column col (1-based) of a header line, without surrounding double quotes. */
static void column_name(const char *header, int col, char *out, size_t out_len)
{
    const char *field = header;
    for (int i = 1; i < col; i++)
        field = strchr(field, ',') + 1;
    size_t len = strcspn(field, ",");
    if (len >= 2 && field[0] == '"' && field[len - 1] == '"') {
        field++;
        len -= 2;
    }
    snprintf(out, out_len, "%.*s", (int)len, field);
}

/* One panel of solid curves named after their header columns: a thin front for eqs_plot_lines
 * (plot_lines.c), which owns the gnuplot machinery. */
eqs_status eqs_plot_csv(const char *csv_path, const char *png_path, const char *title,
                        const char *ylabel, int x_col, const int *y_cols, int n_y, eqs_err *err)
{
    enum { MAX_CURVES = 16 };
    if (n_y < 1 || n_y > MAX_CURVES)
        return eqs_err_set(err, EQS_EINVAL, "%s: %d columns to plot (expected 1 to %d)", csv_path,
                           n_y, MAX_CURVES);
    char header[4096], xlabel[256], names[MAX_CURVES][128];
    /* gnuplot quotes paths with '...': refuse what it cannot take before reading anything */
    if (strpbrk(csv_path, "'\n") || strpbrk(png_path, "'\n"))
        return eqs_err_set(err, EQS_EINVAL,
                           "%s: a plot path may not contain a single quote or a line break",
                           strpbrk(csv_path, "'\n") ? csv_path : png_path);
    eqs_status st = read_header_line(csv_path, header, sizeof header, err);
    if (st != EQS_OK)
        return st;
    int n_names = count_columns(header);
    eqs_plot_line lines[MAX_CURVES];
    for (int i = -1; i < n_y; i++) {
        int col = i < 0 ? x_col : y_cols[i];
        if (col < 1 || col > n_names)
            return eqs_err_set(err, EQS_EINVAL,
                               "%s: column %d to plot, but the header has columns 1 to %d",
                               csv_path, col, n_names);
        if (i < 0) {
            column_name(header, col, xlabel, sizeof xlabel);
            continue;
        }
        column_name(header, col, names[i], sizeof names[i]);
        lines[i] =
            (eqs_plot_line){.y_col = col, .color = i, .dash = EQS_DASH_SOLID, .title = names[i]};
    }
    eqs_plot_panel panel = {.title = title, .ylabel = ylabel, .lines = lines, .n_lines = n_y};
    return eqs_plot_lines(csv_path, png_path, title, xlabel, x_col, &panel, 1, err);
}
