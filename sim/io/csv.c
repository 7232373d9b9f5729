/* csv.c — metrics CSV files that are always whole, and gnuplot plots of them.
 *
 * A metrics CSV is small (one row per epoch), so it lives in memory and every append rewrites the
 * file atomically: a crash or a reader never sees half a row. Plots are drawn by running the
 * gnuplot program on a generated script; its output goes to a log that only surfaces, as the
 * tail of an error message, when it fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static eqs_status check_plot_columns(const char *csv_path, int n_names, int x_col,
                                     const int *y_cols, int n_y, eqs_err *err)
{
    if (n_y < 1)
        return eqs_err_set(err, EQS_EINVAL, "%s: no columns to plot", csv_path);
    for (int i = -1; i < n_y; i++) {
        int col = i < 0 ? x_col : y_cols[i];
        if (col < 1 || col > n_names)
            return eqs_err_set(err, EQS_EINVAL,
                               "%s: column %d to plot, but the header has columns 1 to %d",
                               csv_path, col, n_names);
    }
    return EQS_OK;
}

/* gnuplot single-quoted strings have one escape: '' for '. Paths may not need it, so a path
 * with a quote or a line break is refused rather than rewritten. */
static eqs_status check_quotable_path(const char *path, eqs_err *err)
{
    if (strpbrk(path, "'\n\r"))
        return eqs_err_set(err, EQS_EINVAL,
                           "%s: a path with a single quote or a line break cannot be plotted",
                           path);
    return EQS_OK;
}

static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else if (*s == '\'')
            fputs("''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

typedef struct plot_job {
    const char *csv_path, *title, *ylabel;
    char xlabel[256];
    int x_col, n_y;
    const int *y_cols;
    char tmp_png[4096], script[4096], log[4096];
} plot_job;

static void write_script(FILE *f, const plot_job *j)
{
    /* noenhanced: column names like train_loss would otherwise print "loss" as a subscript */
    fputs("set terminal pngcairo noenhanced size 900,560\nset output ", f);
    put_quoted(f, j->tmp_png);
    fputs("\nset datafile separator ','\nset grid\nset title ", f);
    put_quoted(f, j->title);
    fputs("\nset xlabel ", f);
    put_quoted(f, j->xlabel);
    fputs("\nset ylabel ", f);
    put_quoted(f, j->ylabel);
    fputs("\nplot ", f);
    for (int i = 0; i < j->n_y; i++) {
        if (i == 0)
            put_quoted(f, j->csv_path);
        fprintf(f, "%s using %d:%d with linespoints title columnheader(%d)", i ? ", ''" : "",
                j->x_col, j->y_cols[i], j->y_cols[i]);
    }
    fputs("\n", f);
}

/* Finds an executable `name` on $PATH (as execvp would). */
static int find_program(const char *name, char *out, size_t out_len)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(out, out_len, "%.*s/%s", (int)len, len ? path : ".", name);
        if (access(out, X_OK) == 0)
            return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

static eqs_status make_temp(char *out, size_t out_len, const char *tag, int *fd, eqs_err *err)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, out_len, "%s/eqs-plot-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
    *fd = mkstemp(out);
    if (*fd < 0)
        return eqs_err_set(err, EQS_EIO, "cannot create a temp file %s: %s", out, strerror(errno));
    return EQS_OK;
}

/* The last lines of gnuplot's log, joined with " | " into one line. */
static void log_tail(const char *log_path, char *out, size_t out_len)
{
    char buf[512] = "";
    FILE *f = fopen(log_path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    size_t pos = 0;
    out[0] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(buf, "\r\n", &save); line && pos + 1 < out_len;
         line = strtok_r(NULL, "\r\n", &save)) {
        line += strspn(line, " \t^");
        if (*line)
            pos += (size_t)snprintf(out + pos, out_len - pos, "%s%s", pos ? " | " : "", line);
    }
    if (!out[0])
        snprintf(out, out_len, "no output");
}

static eqs_status run_gnuplot(const char *gnuplot, const plot_job *j, const char *png_path,
                              eqs_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, j->log, O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char arg0[] = "gnuplot";
    char *argv[] = {arg0, (char *)j->script, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return eqs_err_set(err, EQS_EIO, "cannot run %s: %s; plot %s not written", gnuplot,
                           strerror(rc), png_path);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        continue;
    struct stat sb;
    int made = stat(j->tmp_png, &sb) == 0 && sb.st_size > 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && made)
        return EQS_OK;
    char tail[400];
    log_tail(j->log, tail, sizeof tail);
    return eqs_err_set(err, EQS_EIO, "gnuplot failed (%s %d) on %s; plot %s not written: %s",
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), j->csv_path,
                       png_path, tail);
}

/* Writes the script to a temp file and runs gnuplot on it. */
static eqs_status script_and_run(const char *gnuplot, const plot_job *j, int script_fd,
                                 const char *png_path, eqs_err *err)
{
    FILE *f = fdopen(script_fd, "w");
    if (!f) {
        close(script_fd);
        return eqs_err_set(err, EQS_EIO, "cannot write the gnuplot script %s: %s", j->script,
                           strerror(errno));
    }
    write_script(f, j);
    if (fclose(f) != 0)
        return eqs_err_set(err, EQS_EIO, "cannot write the gnuplot script %s: %s", j->script,
                           strerror(errno));
    return run_gnuplot(gnuplot, j, png_path, err);
}

/* Makes the temp script and log, plots, renames the PNG into place, removes the temps. */
static eqs_status plot_with(const char *gnuplot, plot_job *j, const char *png_path, eqs_err *err)
{
    int script_fd = -1, log_fd = -1;
    eqs_status st = make_temp(j->script, sizeof j->script, "gp", &script_fd, err);
    if (st == EQS_OK)
        st = make_temp(j->log, sizeof j->log, "log", &log_fd, err);
    if (log_fd >= 0)
        close(log_fd); /* gnuplot's stdout and stderr reopen it by name */
    if (st == EQS_OK)
        st = script_and_run(gnuplot, j, script_fd, png_path, err);
    else if (script_fd >= 0)
        close(script_fd);
    if (st == EQS_OK && rename(j->tmp_png, png_path) != 0)
        st = eqs_err_set(err, EQS_EIO, "cannot rename %s to %s: %s", j->tmp_png, png_path,
                         strerror(errno));
    if (script_fd >= 0)
        unlink(j->script);
    if (log_fd >= 0)
        unlink(j->log);
    if (st != EQS_OK)
        unlink(j->tmp_png);
    return st;
}

eqs_status eqs_plot_csv(const char *csv_path, const char *png_path, const char *title,
                        const char *ylabel, int x_col, const int *y_cols, int n_y, eqs_err *err)
{
    eqs_status st = check_quotable_path(csv_path, err);
    if (st == EQS_OK)
        st = check_quotable_path(png_path, err);
    char header[4096];
    if (st == EQS_OK)
        st = read_header_line(csv_path, header, sizeof header, err);
    if (st == EQS_OK)
        st = check_plot_columns(csv_path, count_columns(header), x_col, y_cols, n_y, err);
    char gnuplot[4096];
    if (st == EQS_OK && !find_program("gnuplot", gnuplot, sizeof gnuplot))
        st = eqs_err_set(err, EQS_EIO,
                         "gnuplot not found (apt-get install gnuplot-nox); plot %s not written",
                         png_path);
    if (st != EQS_OK)
        return st;
    plot_job j = {.csv_path = csv_path,
                  .title = title,
                  .ylabel = ylabel,
                  .x_col = x_col,
                  .n_y = n_y,
                  .y_cols = y_cols};
    column_name(header, x_col, j.xlabel, sizeof j.xlabel);
    snprintf(j.tmp_png, sizeof j.tmp_png, "%s.tmp.%ld", png_path, (long)getpid());
    return plot_with(gnuplot, &j, png_path, err);
}
