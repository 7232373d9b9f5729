/* plot_lines.c — multi-panel line plots where colour and dash pattern carry separate meanings
 * (e.g. colour = which neuron, dash = which estimator), drawn by gnuplot into a PNG;
 * eqs_plot_lines_ex adds min-max (or any) error bars and categorical x tic labels (sweeps).
 *
 * Like eqs_plot_csv: a generated script in a temp file, gnuplot's output in a temp log that
 * only surfaces (its tail, in the error message) when it fails, and the PNG renamed into place
 * so that a reader never sees half an image.
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

/* Tableau 10's first 8: distinct on white and for the common colour-vision deficiencies. */
static const char *const palette[8] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                       "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* gnuplot dash patterns (segment, gap, ... in units of the line width). */
static const char *const dashes[4] = {"solid", "(18,9)", "(7,6)", "(0.1,6)"};

typedef struct plot_files {
    char script[4096], log[4096], tmp_png[4096];
} plot_files;

static eqs_status check_path(const char *path, eqs_err *err)
{
    if (strpbrk(path, "'\n\r"))
        return eqs_err_set(err, EQS_EINVAL,
                           "%s: a path with a single quote or a line break cannot be plotted",
                           path);
    return EQS_OK;
}

/* Number of columns of the CSV's header line (our CSVs have no quoted commas). */
static eqs_status header_columns(const char *csv_path, int *n, eqs_err *err)
{
    FILE *f = fopen(csv_path, "r");
    if (!f)
        return eqs_err_set(err, EQS_EIO, "%s: cannot open: %s", csv_path, strerror(errno));
    int c, cols = 1, any = 0;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        any = 1;
        cols += c == ',';
    }
    fclose(f);
    if (!any)
        return eqs_err_set(err, EQS_EFORMAT, "%s: empty file, expected a header line", csv_path);
    *n = cols;
    return EQS_OK;
}

static eqs_status bad_column(const char *csv_path, int col, int n, eqs_err *err)
{
    return eqs_err_set(err, EQS_EINVAL, "%s: column %d to plot, but the header has columns 1 to %d",
                       csv_path, col, n);
}

/* Error-bar columns of curve k (0 when it has none) and the tic-label column. */
static int bar_col(const int *cols, int k)
{
    return cols ? cols[k] : 0;
}

static eqs_status check_extra(const char *csv_path, const eqs_plot_extra *x, int n_curves, int n,
                              eqs_err *err)
{
    if (x->xtic_col < 0 || x->xtic_col > n)
        return bad_column(csv_path, x->xtic_col, n, err);
    for (int k = 0; k < n_curves; k++) {
        int lo = bar_col(x->lo_cols, k), hi = bar_col(x->hi_cols, k);
        if (lo < 0 || lo > n || hi < 0 || hi > n)
            return bad_column(csv_path, lo < 0 || lo > n ? lo : hi, n, err);
    }
    return EQS_OK;
}

static eqs_status check_columns(const char *csv_path, int x_col, const eqs_plot_panel *panels,
                                int n_panels, const eqs_plot_extra *extra, eqs_err *err)
{
    int n = 0, n_curves = 0;
    eqs_status st = header_columns(csv_path, &n, err);
    for (int p = 0; p < n_panels && st == EQS_OK; p++) {
        for (int i = -1; i < panels[p].n_lines; i++) {
            int col = i < 0 ? x_col : panels[p].lines[i].y_col;
            if (col < (i < 0 ? 1 : 0) || col > n)
                return bad_column(csv_path, col, n, err);
        }
        n_curves += panels[p].n_lines;
    }
    return st == EQS_OK && extra ? check_extra(csv_path, extra, n_curves, n, err) : st;
}

static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\'')
            fputs("''", f);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

static void put_line(FILE *f, const char *csv_path, int x_col, const eqs_plot_line *l, int first,
                     int lo_col, int hi_col, int xtic_col)
{
    if (l->y_col == 0) {
        fputs("NaN", f); /* key entry only */
    } else {
        if (first)
            put_quoted(f, csv_path);
        else
            fputs("''", f);
        fprintf(f, " using %d:%d", x_col, l->y_col);
        if (lo_col > 0 && hi_col > 0)
            fprintf(f, ":%d:%d", lo_col, hi_col);
        if (xtic_col > 0)
            fprintf(f, ":xtic(%d)", xtic_col);
    }
    static const char *const widths[4] = {"2.5", "2", "2", "3.5"}; /* dots need weight */
    fprintf(f, " with %s lw %s lc rgb '%s' dt %s ",
            lo_col > 0 && hi_col > 0 ? "yerrorlines pt 7 ps 0.8" : "lines", widths[l->dash],
            l->color < 0 ? "black" : palette[l->color % 8], dashes[l->dash]);
    if (l->title) {
        fputs("title ", f);
        put_quoted(f, l->title);
    } else {
        fputs("notitle", f);
    }
}

static void write_script(FILE *f, const plot_files *pf, const char *csv_path, const char *title,
                         const char *xlabel, int x_col, const eqs_plot_panel *panels, int n_panels,
                         const eqs_plot_extra *x)
{
    fprintf(f, "set terminal pngcairo noenhanced rounded size %d,600 font ',11'\nset output ",
            120 + 560 * n_panels);
    put_quoted(f, pf->tmp_png);
    /* the header line is names, not data */
    fputs("\nset datafile separator ','\nset datafile columnheaders\nset grid\n", f);
    fputs("set key below horizontal\nset multiplot layout 1,", f);
    fprintf(f, "%d title ", n_panels);
    put_quoted(f, title);
    fputs("\nset xlabel ", f);
    put_quoted(f, xlabel);
    if (x) /* markers and bars at the ends stay off the border */
        fputs("\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05", f);
    if (x && x->xtic_col > 0) /* text labels (e.g. preset names) would overlap side by side */
        fputs("\nset xtics rotate by -30 left", f);
    for (int p = 0, k = 0; p < n_panels; p++) {
        fputs("\nset title ", f);
        put_quoted(f, panels[p].title);
        fputs("\nset ylabel ", f);
        put_quoted(f, panels[p].ylabel);
        fputs("\nplot ", f);
        int first = 1;
        for (int i = 0; i < panels[p].n_lines; i++, k++) {
            if (i)
                fputs(", \\\n  ", f);
            put_line(f, csv_path, x_col, &panels[p].lines[i], first, x ? bar_col(x->lo_cols, k) : 0,
                     x ? bar_col(x->hi_cols, k) : 0, x ? x->xtic_col : 0);
            first = first && panels[p].lines[i].y_col == 0;
        }
    }
    fputs("\nunset multiplot\n", f);
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

static int make_temp(char *out, size_t out_len, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, out_len, "%s/eqs-plot-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
    return mkstemp(out);
}

/* The last bytes of gnuplot's log on one line, for the error message. */
static void log_tail(const char *log_path, char *out, size_t out_len)
{
    char buf[300] = "";
    FILE *f = fopen(log_path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    snprintf(out, out_len, "%s", buf[0] ? buf : "no output");
}

static eqs_status run_gnuplot(const char *gnuplot, const plot_files *pf, const char *csv_path,
                              const char *png_path, eqs_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, pf->log, O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char arg0[] = "gnuplot";
    char *argv[] = {arg0, (char *)pf->script, NULL};
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
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(pf->tmp_png, &sb) == 0 &&
        sb.st_size > 0)
        return EQS_OK;
    char tail[320];
    log_tail(pf->log, tail, sizeof tail);
    return eqs_err_set(err, EQS_EIO, "gnuplot failed (%s %d) on %s; plot %s not written: %s",
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), csv_path,
                       png_path, tail);
}

eqs_status eqs_plot_lines(const char *csv_path, const char *png_path, const char *title,
                          const char *xlabel, int x_col, const eqs_plot_panel *panels, int n_panels,
                          eqs_err *err)
{
    return eqs_plot_lines_ex(csv_path, png_path, title, xlabel, x_col, panels, n_panels, NULL, err);
}

eqs_status eqs_plot_lines_ex(const char *csv_path, const char *png_path, const char *title,
                             const char *xlabel, int x_col, const eqs_plot_panel *panels,
                             int n_panels, const eqs_plot_extra *extra, eqs_err *err)
{
    eqs_status st = check_path(csv_path, err);
    if (st == EQS_OK)
        st = check_path(png_path, err);
    if (st == EQS_OK)
        st = check_columns(csv_path, x_col, panels, n_panels, extra, err);
    char gnuplot[4096];
    if (st == EQS_OK && !find_program("gnuplot", gnuplot, sizeof gnuplot))
        st = eqs_err_set(err, EQS_EIO,
                         "gnuplot not found (apt-get install gnuplot-nox); plot %s not written",
                         png_path);
    if (st != EQS_OK)
        return st;
    plot_files pf;
    snprintf(pf.tmp_png, sizeof pf.tmp_png, "%s.tmp.%ld", png_path, (long)getpid());
    int script_fd = make_temp(pf.script, sizeof pf.script, "gp");
    int log_fd = script_fd >= 0 ? make_temp(pf.log, sizeof pf.log, "log") : -1;
    FILE *f = script_fd >= 0 && log_fd >= 0 ? fdopen(script_fd, "w") : NULL;
    if (!f) {
        st = eqs_err_set(err, EQS_EIO, "cannot create gnuplot temp files in $TMPDIR: %s",
                         strerror(errno));
        if (script_fd >= 0)
            close(script_fd);
    } else {
        write_script(f, &pf, csv_path, title, xlabel, x_col, panels, n_panels, extra);
        st = fclose(f) == 0
                 ? run_gnuplot(gnuplot, &pf, csv_path, png_path, err)
                 : eqs_err_set(err, EQS_EIO, "cannot write the gnuplot script %s", pf.script);
    }
    if (st == EQS_OK && rename(pf.tmp_png, png_path) != 0)
        st = eqs_err_set(err, EQS_EIO, "cannot rename %s to %s: %s", pf.tmp_png, png_path,
                         strerror(errno));
    if (log_fd >= 0)
        close(log_fd);
    if (script_fd >= 0)
        unlink(pf.script);
    if (log_fd >= 0)
        unlink(pf.log);
    if (st != EQS_OK)
        unlink(pf.tmp_png);
    return st;
}
