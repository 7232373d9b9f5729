/* cmd_sweep.c — `eqsim sweep`: a study over experiment config keys (docs/sweep.md).
 *
 * A sweep file (schema eqs.sweep/1) names an experiment, overrides for every point, seeds, and
 * either a grid (cartesian product) or a list of points. Each point x seed is an ordinary run
 * directory <out>/<point-id>-seed<S>/ made by cli_train_run, the path `eqsim train` takes, so a
 * sweep's run is the same bytes as the equivalent `eqsim train --set ...`.
 *
 * Every point's config is loaded before anything runs, so a misspelled key fails at once with
 * the sweep file's line and column. A run whose config.yaml matches and whose result.yaml says
 * it finished is skipped; an interrupted one resumes from its checkpoint (bit-identical, see
 * cmd_train.c) or starts again. Results (results.csv, summary.csv, plots) are rebuilt from the
 * run directories alone, so they do not depend on the order runs were made in.
 *
 * The sweep file is read with the config module's tree (sim/config/schema.h): same messages,
 * same did-you-mean as experiment files.
 */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../config/schema.h"
#include "cli.h"

#include "eqs/blas.h"

#define SWEEP_SCHEMA "eqs.sweep/1"
#define MAX_KEYS     16
#define MAX_POINTS   4096
#define MAX_SEEDS    64
#define MAX_SET      64
#define ID_MAX       160 /* longer point ids end in a hash of the whole id */
#define MAX_GROUPS   32  /* lines per plot */
#define MAX_OV       (MAX_SET + EQS_MAX_OVERRIDES + MAX_KEYS + 1)

/* The numbers of a run, as results.csv names them; all but the last two come from result.yaml. */
enum { R_BEST, R_BEST_EPOCH, R_FINAL, R_TRAIN_LOSS, R_WALL, N_RES };
static const char *const res_names[N_RES] = {"best_test_acc", "best_epoch", "final_test_acc",
                                             "final_train_loss", "wall_s"};
/* summary.csv: mean, std, min, max of these columns over seeds */
static const int summary_cols[] = {R_BEST, R_FINAL, R_TRAIN_LOSS, R_WALL};

typedef struct sw_key {
    const char *path;        /* e.g. algorithm.estimator */
    const node *at;          /* where it is first named */
    char label[KEYPATH_LEN]; /* the shortest unique tail of the path: estimator */
} sw_key;

typedef struct sw_point {
    const char *ov[MAX_KEYS];       /* "path=value" override, NULL when the point keeps the key */
    const char *idv[MAX_KEYS];      /* the value as it reads in the point id */
    const node *at[MAX_KEYS];       /* the value, for messages */
    const node *key_at[MAX_KEYS];   /* its key, for messages about the key */
    const char *resolved[MAX_KEYS]; /* the value in the resolved config (results, plots) */
    const node *where;              /* the point (grid: the grid map) */
    uint64_t config_hash;           /* of its resolved config (first seed) */
    char id[ID_MAX + 1];
} sw_point;

typedef struct sweep {
    loader ld; /* arena of the sweep file's tree and every string below */
    eqs_err err;
    const char *file;
    char name[EQS_NAME_LEN];
    char experiment[EQS_PATH_LEN];
    int metric;
    const node *set[MAX_SET];
    int n_set;
    uint64_t seeds[MAX_SEEDS];
    const char *seed_ov[MAX_SEEDS];
    const node *seed_at[MAX_SEEDS]; /* NULL: the experiment's own seed */
    int n_seeds;
    sw_key keys[MAX_KEYS];
    int n_keys;
    sw_point *points;
    int n_points;
    const char *const *cli_set;
    int n_cli_set, threads;
} sweep;

typedef enum run_kind { RUN_NEW, RUN_DONE, RUN_RESUME, RUN_RESTART } run_kind;

typedef struct sw_run {
    int point, seed; /* indices */
    char dir[EQS_PATH_LEN];
    run_kind kind;
    int32_t epochs, from_epoch;
    int done; /* the results below are read */
    char res[N_RES][48];
} sw_run;

typedef struct seed_box {
    uint64_t seed;
} seed_box;

/* The sweep file's top level; the KEY_CUSTOM rows are read by code below. */
typedef struct sw_top {
    char name[EQS_NAME_LEN];
    char experiment[EQS_PATH_LEN];
    int metric;
} sw_top;

static const char *const metric_names[] = {"best_test_acc", "final_test_acc", "final_train_loss",
                                           "best_epoch", "wall_s"};
static const int metric_res[] = {R_BEST, R_FINAL, R_TRAIN_LOSS, R_BEST_EPOCH, R_WALL};

static const key_spec top_keys[] = {
    ROW_CUSTOM("schema", 1, "eqs.sweep/1"),
    ROW_STR("name", sw_top, name, 1, NULL, "the sweep's name (default --out runs/<name>)"),
    ROW_STR("experiment", sw_top, experiment, 1, NULL, "experiment file, relative to this file"),
    ROW_CUSTOM("set", 0, "overrides applied to every point"),
    ROW_CUSTOM("seeds", 0, "training.seed values; every point runs with each"),
    ROW_CUSTOM("grid", 0, "key -> list of values; the cartesian product"),
    ROW_CUSTOM("points", 0, "list of maps key -> value"),
    ROW_ENUM("metric", sw_top, metric, 0, 0, metric_names, "what the plots show"),
};

static void sweep_usage(FILE *f)
{
    fputs("usage: eqsim sweep SWEEP.yaml [--out DIR] [--threads N] [--jobs N] [--dry-run]\n"
          "                  [--verbose] [--set key=value ...]\n"
          "\n"
          "Runs an experiment at every point of a grid (or list of points) of config keys, for\n"
          "every seed; see docs/sweep.md. Every point's config is loaded and checked before the\n"
          "first run. Each point x seed is a run directory DIR/<point-id>-seed<S>/ made exactly\n"
          "as `eqsim train` makes one. A run whose config.yaml matches and that finished is\n"
          "skipped; an interrupted one resumes from its checkpoint (or starts again), so running\n"
          "the same command again continues the sweep.\n"
          "\n"
          "DIR gets sweep.yaml (the resolved sweep, points listed), results.csv (one row per\n"
          "point x seed), summary.csv (mean, std, min, max over seeds per point) and, per swept\n"
          "key with two or more values, <metric>_vs_<key>.png with its data (.csv): the metric\n"
          "against that key, one line per combination of the other keys, mean over seeds with\n"
          "min-max bars.\n"
          "\n"
          "  --out DIR          sweep directory (default runs/<name>)\n"
          "  --threads N        OpenBLAS threads of each run (default training.threads); it is\n"
          "                     part of each run's config, so runs made with another count are\n"
          "                     refused rather than mixed in\n"
          "  --set key=value    an override for every point, applied after the sweep's set: and\n"
          "                     before the point's own values\n"
          "  --dry-run          list the points, their run directories and what would happen;\n"
          "                     run and write nothing\n"
          "  --verbose          show each run's epoch lines\n"
          "  --jobs N           run N points at once, each in its own process (default 1); the\n"
          "                     results are the same as with 1 (each run fixes its seed and\n"
          "                     thread count); give each job its own core (N x threads <= cores)\n"
          "\n"
          "Exit status: 0 all runs finished, 1 a run failed (the others still run), 2 bad\n"
          "arguments, sweep file or config.\n",
          f);
}

/* ---- small helpers ----------------------------------------------------------------------- */

/* The whole file as a string (malloc'd), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char block[8192];
    size_t n;
    while (mem && (n = fread(block, 1, sizeof block, f)) > 0)
        fwrite(block, 1, n, mem);
    fclose(f);
    if (mem)
        fclose(mem);
    return buf;
}

/* The value of "key: value" in a flat YAML file's text (result.yaml, manifest.yaml). */
static int flat_field(const char *text, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1 + (p[kl + 1] == ' ');
            snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
            return 1;
        }
    return 0;
}

static int flat_int(const char *path, const char *key, int32_t *v)
{
    char *text = slurp(path), buf[32];
    int ok = text && flat_field(text, key, buf, sizeof buf) && sscanf(buf, "%d", v) == 1;
    free(text);
    return ok;
}

static void csv_put(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f); /* doubled */
        fputc(*s, f);
    }
    fputc('"', f);
}

static void yaml_dq(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (iscntrl((unsigned char)*s))
            fprintf(f, "\\x%02x", (unsigned char)*s);
        else
            fputc(*s, f);
    fputc('"', f);
}

/* A tree node back as flow YAML (what --set reads): plain scalars as they were written (quoted
 * when they hold flow indicators), quoted ones single-quoted, lists [a, b], maps {k: v}. */
static void emit(FILE *f, const node *nd)
{
    if (nd->kind == NODE_SCALAR) {
        if (nd->plain && !strpbrk(nd->text, ",[]{}#'\"") && !strstr(nd->text, ": ")) {
            fputs(nd->text, f);
            return;
        }
        fputc('\'', f);
        for (const char *p = nd->text; *p; p++) {
            if (*p == '\'')
                fputc('\'', f); /* doubled */
            fputc(*p, f);
        }
        fputc('\'', f);
        return;
    }
    fputc(nd->kind == NODE_SEQ ? '[' : '{', f);
    for (int i = 0; i < nd->n; i++) {
        fputs(i ? ", " : "", f);
        if (nd->kind == NODE_MAP) {
            emit(f, nd->keys[i]);
            fputs(": ", f);
        }
        emit(f, nd->vals[i]);
    }
    fputc(nd->kind == NODE_SEQ ? ']' : '}', f);
}

/* printf into the sweep's arena; NULL when out of memory. */
static const char *arena_printf(sweep *sw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *arena_printf(sweep *sw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = cfg_mem_alloc(&sw->ld, (size_t)n + 1);
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

static const char *emit_text(sweep *sw, const node *nd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return NULL;
    emit(mem, nd);
    fclose(mem);
    const char *s = cfg_mem_strdup(&sw->ld, buf);
    free(buf);
    return s;
}

/* ---- the sweep file ---------------------------------------------------------------------- */

static eqs_status check_key_path(sweep *sw, const node *k, const char *where)
{
    const char *s = k->text;
    int ok = s[0] && s[0] != '.' && s[strlen(s) - 1] != '.' && !strstr(s, "..") &&
             strlen(s) < KEYPATH_LEN - 32;
    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '.';
    if (!ok)
        return cfg_fail(&sw->ld, k, where,
                        "expected a key path like algorithm.beta (letters, digits, _ and .), "
                        "got '%s'",
                        s);
    if (strcmp(s, "training.seed") == 0)
        return cfg_fail(&sw->ld, k, where, "give seeds with the top-level 'seeds:' list");
    return EQS_OK;
}

/* The index of key path k among the swept keys, added when new. */
static eqs_status key_index(sweep *sw, const node *k, const char *where, int *idx)
{
    eqs_status st = check_key_path(sw, k, where);
    if (st != EQS_OK)
        return st;
    for (*idx = 0; *idx < sw->n_keys; (*idx)++)
        if (strcmp(sw->keys[*idx].path, k->text) == 0)
            return EQS_OK;
    if (sw->n_keys == MAX_KEYS)
        return cfg_fail(&sw->ld, k, where, "at most %d swept keys", MAX_KEYS);
    sw->keys[sw->n_keys++] = (sw_key){.path = k->text, .at = k};
    return EQS_OK;
}

/* A list or map as it reads in a point id: "[1e-3, 5e-4]" -> "1e-3+5e-4". */
static const char *id_of_list(sweep *sw, const char *text)
{
    char *id = text ? cfg_mem_strdup(&sw->ld, text) : NULL, *o = id;
    for (const char *c = text; id && *c; c++)
        if (!strchr("[]{} '", *c))
            *o++ = *c == ',' ? '+' : *c == ':' ? '-' : *c;
    if (o)
        *o = '\0';
    return id;
}

/* Sets key k (named at node key) of point p to the value node v. */
static eqs_status set_value(sweep *sw, sw_point *p, int k, const node *key, const node *v)
{
    const char *text = emit_text(sw, v);
    p->ov[k] = text ? arena_printf(sw, "%s=%s", sw->keys[k].path, text) : NULL;
    p->idv[k] = v->kind == NODE_SCALAR ? v->text : id_of_list(sw, text);
    p->at[k] = v;
    p->key_at[k] = key;
    return p->ov[k] ? EQS_OK : cfg_oom(&sw->ld);
}

static eqs_status read_set(sweep *sw, const node *seq)
{
    char got[96], path[KEYPATH_LEN];
    if (seq->kind != NODE_SEQ)
        return cfg_fail(&sw->ld, seq, "set", "expected a list of key=value, got %s",
                        cfg_describe(seq, got, sizeof got));
    if (seq->n > MAX_SET)
        return cfg_fail(&sw->ld, seq, "set", "at most %d entries", MAX_SET);
    for (int i = 0; i < seq->n; i++) {
        const node *v = seq->vals[i];
        cfg_index_path(path, "set", i);
        if (v->kind != NODE_SCALAR || !strchr(v->text, '=') || v->text[0] == '=')
            return cfg_fail(&sw->ld, v, path, "expected key.path=value, got %s",
                            cfg_describe(v, got, sizeof got));
        sw->set[sw->n_set++] = v;
    }
    return EQS_OK;
}

static eqs_status read_seeds(sweep *sw, const node *v)
{
    static const key_spec seed_row = ROW_U64("seeds", seed_box, seed, "a seed");
    const node *one[1] = {v};
    const node *const *items = v->kind == NODE_SEQ ? (const node *const *)v->vals : one;
    int n = v->kind == NODE_SEQ ? v->n : 1;
    char path[KEYPATH_LEN];
    if (n < 1 || n > MAX_SEEDS)
        return cfg_fail(&sw->ld, v, "seeds", "expected 1 to %d seeds, got %d", MAX_SEEDS, n);
    for (int i = 0; i < n; i++) {
        cfg_index_path(path, "seeds", i);
        eqs_status st = cfg_set_field(&sw->ld, &seed_row, items[i], path, &sw->seeds[i]);
        for (int j = 0; st == EQS_OK && j < i; j++)
            if (sw->seeds[j] == sw->seeds[i])
                st = cfg_fail(&sw->ld, items[i], path, "seed %llu is given twice",
                              (unsigned long long)sw->seeds[i]);
        if (st != EQS_OK)
            return st;
        sw->seed_at[i] = items[i];
    }
    sw->n_seeds = n;
    return EQS_OK;
}

/* grid: key -> non-empty list of distinct values; points in cartesian order, the last key
 * varying fastest. */
static eqs_status read_grid(sweep *sw, const node *map)
{
    char got[96], path[KEYPATH_LEN];
    if (map->kind != NODE_MAP || map->n == 0)
        return cfg_fail(&sw->ld, map, "grid", "expected a map of key.path: [values], got %s",
                        cfg_describe(map, got, sizeof got));
    long long n = 1;
    for (int i = 0; i < map->n; i++) {
        int k;
        const node *vals = map->vals[i];
        cfg_child_path(path, "grid", map->keys[i]->text);
        eqs_status st = key_index(sw, map->keys[i], "grid", &k);
        if (st == EQS_OK && k != i)
            st = cfg_fail(&sw->ld, map->keys[i], path, "duplicate key");
        if (st == EQS_OK && (vals->kind != NODE_SEQ || vals->n == 0))
            st = cfg_fail(&sw->ld, vals, path, "expected a non-empty list of values, got %s",
                          cfg_describe(vals, got, sizeof got));
        if (st != EQS_OK)
            return st;
        if ((n *= vals->n) > MAX_POINTS)
            return cfg_fail(&sw->ld, map, "grid", "more than %d points", MAX_POINTS);
    }
    sw->n_points = (int)n;
    sw->points = cfg_mem_alloc(&sw->ld, sizeof(sw_point) * (size_t)n);
    if (!sw->points)
        return cfg_oom(&sw->ld);
    for (int p = 0; p < sw->n_points; p++) {
        sw->points[p].where = map;
        for (int k = sw->n_keys - 1, rem = p; k >= 0; rem /= map->vals[k]->n, k--) {
            eqs_status st = set_value(sw, &sw->points[p], k, map->keys[k],
                                      map->vals[k]->vals[rem % map->vals[k]->n]);
            if (st != EQS_OK)
                return st;
        }
    }
    return EQS_OK;
}

static eqs_status read_points(sweep *sw, const node *seq)
{
    char got[96], path[KEYPATH_LEN], kpath[KEYPATH_LEN];
    if (seq->kind != NODE_SEQ || seq->n == 0 || seq->n > MAX_POINTS)
        return cfg_fail(&sw->ld, seq, "points", "expected a list of 1 to %d maps, got %s",
                        MAX_POINTS, cfg_describe(seq, got, sizeof got));
    sw->n_points = seq->n;
    sw->points = cfg_mem_alloc(&sw->ld, sizeof(sw_point) * (size_t)seq->n);
    if (!sw->points)
        return cfg_oom(&sw->ld);
    for (int p = 0; p < seq->n; p++) {
        const node *m = seq->vals[p];
        cfg_index_path(path, "points", p);
        if (m->kind != NODE_MAP)
            return cfg_fail(&sw->ld, m, path, "expected a map of key.path: value, got %s",
                            cfg_describe(m, got, sizeof got));
        sw->points[p].where = m;
        for (int i = 0; i < m->n; i++) {
            int k;
            cfg_child_path(kpath, path, m->keys[i]->text);
            eqs_status st = key_index(sw, m->keys[i], path, &k);
            if (st == EQS_OK && sw->points[p].ov[k])
                st = cfg_fail(&sw->ld, m->keys[i], kpath, "duplicate key");
            if (st == EQS_OK)
                st = set_value(sw, &sw->points[p], k, m->keys[i], m->vals[i]);
            if (st != EQS_OK)
                return st;
        }
    }
    return EQS_OK;
}

/* The last `depth` components of a key path. */
static const char *path_tail(const char *path, int depth)
{
    const char *p = path + strlen(path);
    while (p > path && (p[-1] != '.' || --depth > 0))
        p--;
    return p;
}

static int n_components(const char *path)
{
    int n = 1;
    for (; *path; path++)
        n += *path == '.';
    return n;
}

/* Labels: the last component of each key path (two when it is a list index: lr.1), lengthened
 * until no two keys share one. */
static void make_labels(sweep *sw)
{
    int depth[MAX_KEYS];
    for (int k = 0; k < sw->n_keys; k++) {
        const char *last = path_tail(sw->keys[k].path, 1);
        depth[k] = isdigit((unsigned char)last[0]) ? 2 : 1;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int k = 0; k < sw->n_keys; k++)
            snprintf(sw->keys[k].label, KEYPATH_LEN, "%s", path_tail(sw->keys[k].path, depth[k]));
        for (int a = 0; a < sw->n_keys; a++)
            for (int b = a + 1; b < sw->n_keys; b++)
                if (strcmp(sw->keys[a].label, sw->keys[b].label) == 0)
                    for (int j = 0; j < 2; j++) {
                        int k = j ? b : a;
                        if (depth[k] < n_components(sw->keys[k].path)) {
                            depth[k]++;
                            changed = 1;
                        }
                    }
    }
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* "label=value,label=value" over the keys the point sets ("default" for none), with every
 * character a file name should not hold turned into '_'. */
/* A value that names a YAML file (a hwconfig or model path) reads as the file's stem:
 * hardware=../hwconfigs/pcm.yaml -> hardware=pcm. */
static const char *id_value(const char *v, char *buf, size_t len)
{
    size_t n = strlen(v);
    if (n < 6 || strcmp(v + n - 5, ".yaml") != 0)
        return v;
    const char *base = strrchr(v, '/');
    base = base ? base + 1 : v;
    snprintf(buf, len, "%.*s", (int)(strlen(base) - 5), base);
    return buf;
}

static void make_id(const sweep *sw, sw_point *p)
{
    char buf[8192], stem[256];
    size_t n = 0;
    for (int k = 0; k < sw->n_keys && n < sizeof buf; k++)
        if (p->ov[k])
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", n ? "," : "",
                                  sw->keys[k].label, id_value(p->idv[k], stem, sizeof stem));
    if (n == 0)
        snprintf(buf, sizeof buf, "default");
    for (char *c = buf; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._=,+-", *c))
            *c = '_';
    if (buf[0] == '.' || buf[0] == '-')
        buf[0] = '_';
    if (strlen(buf) > ID_MAX)
        snprintf(buf + ID_MAX - 17, 18, "~%016llx", (unsigned long long)fnv1a(buf));
    snprintf(p->id, sizeof p->id, "%s", buf);
}

static int cmp_point_id(const void *a, const void *b)
{
    return strcmp((*(const sw_point *const *)a)->id, (*(const sw_point *const *)b)->id);
}

static eqs_status check_unique_ids(sweep *sw)
{
    sw_point **order = malloc(sizeof(sw_point *) * (size_t)sw->n_points);
    if (!order)
        return cfg_oom(&sw->ld);
    for (int p = 0; p < sw->n_points; p++)
        order[p] = &sw->points[p];
    qsort(order, (size_t)sw->n_points, sizeof *order, cmp_point_id);
    eqs_status st = EQS_OK;
    for (int i = 1; i < sw->n_points && st == EQS_OK; i++)
        if (strcmp(order[i - 1]->id, order[i]->id) == 0) {
            long a = order[i - 1] - sw->points, b = order[i] - sw->points;
            st = cfg_fail(&sw->ld, order[i]->where, "",
                          "points %ld and %ld (counting from 1) have the same id '%s'; points "
                          "must differ, also once characters a file name cannot hold are _",
                          (a < b ? a : b) + 1, (a < b ? b : a) + 1, order[i]->id);
        }
    free(order);
    return st;
}

static eqs_status read_name(sweep *sw, const node *root, const sw_top *top)
{
    for (const char *c = top->name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
            return cfg_fail(&sw->ld, cfg_map_get(root, "name"), "name",
                            "expected letters, digits, '.', '_' and '-' (it names the default "
                            "output folder), got '%s'",
                            top->name);
    snprintf(sw->name, sizeof sw->name, "%s", top->name);
    return EQS_OK;
}

static eqs_status read_experiment(sweep *sw, const node *root, const sw_top *top)
{
    char dir[EQS_PATH_LEN];
    const node *at = cfg_map_get(root, "experiment");
    cfg_dir_of(sw->file, dir, sizeof dir);
    if (!cfg_join_path(sw->experiment, sizeof sw->experiment, dir, top->experiment))
        return cfg_fail(&sw->ld, at, "experiment", "the path is too long");
    if (access(sw->experiment, R_OK) != 0)
        return cfg_fail(&sw->ld, at, "experiment", "cannot open '%s': %s", sw->experiment,
                        strerror(errno));
    return EQS_OK;
}

static eqs_status read_sections(sweep *sw, const node *root)
{
    const node *grid = cfg_map_get(root, "grid"), *points = cfg_map_get(root, "points");
    const node *set = cfg_map_get(root, "set"), *seeds = cfg_map_get(root, "seeds");
    eqs_status st = EQS_OK;
    if (grid && points)
        return cfg_fail(&sw->ld, points, "points", "give either grid or points, not both");
    if (set)
        st = read_set(sw, set);
    if (st == EQS_OK && seeds)
        st = read_seeds(sw, seeds);
    if (st == EQS_OK && grid)
        st = read_grid(sw, grid);
    else if (st == EQS_OK && points)
        st = read_points(sw, points);
    else if (st == EQS_OK) { /* seeds only: one point, the experiment as it is */
        sw->n_points = 1;
        sw->points = cfg_mem_alloc(&sw->ld, sizeof(sw_point));
        st = sw->points ? EQS_OK : cfg_oom(&sw->ld);
        if (st == EQS_OK)
            sw->points[0].where = root;
    }
    return st;
}

static eqs_status read_sweep(sweep *sw)
{
    node *root;
    sw_top top;
    eqs_status st = cfg_load_yaml_file(&sw->ld, sw->file, &root);
    if (st == EQS_OK)
        st = cfg_check_schema(&sw->ld, root, "", SWEEP_SCHEMA,
                              "a sweep file starts with 'schema: " SWEEP_SCHEMA "'");
    if (st == EQS_OK)
        st = cfg_check_map(&sw->ld, root, "", top_keys, N_OF(top_keys));
    if (st == EQS_OK)
        st = cfg_fill_fields(&sw->ld, root, "", top_keys, N_OF(top_keys), &top);
    if (st == EQS_OK)
        st = read_name(sw, root, &top);
    if (st == EQS_OK)
        st = read_experiment(sw, root, &top);
    if (st == EQS_OK)
        st = read_sections(sw, root);
    if (st != EQS_OK)
        return st;
    sw->metric = top.metric;
    make_labels(sw);
    for (int p = 0; p < sw->n_points; p++)
        make_id(sw, &sw->points[p]);
    return check_unique_ids(sw);
}

/* ---- the points' configs ----------------------------------------------------------------- */

/* The overrides of one config, each with where it is written in the sweep file (NULL: the
 * command line): its value, and its key for messages about the key. */
typedef struct ov_list {
    const char *text[MAX_OV];
    const node *at[MAX_OV], *key_at[MAX_OV];
    int n;
} ov_list;

static void ov_add(ov_list *l, const char *text, const node *at, const node *key_at)
{
    l->text[l->n] = text;
    l->at[l->n] = at;
    l->key_at[l->n++] = key_at;
}

/* An error of the experiment loader that cites one of our overrides ("--set <text>: ...") is
 * moved to where that override is written in the sweep file. */
static void report_load_error(const sweep *sw, const sw_point *p, int seed, const ov_list *l,
                              const eqs_err *err)
{
    for (int i = 0; i < l->n; i++) {
        size_t len = strlen(l->text[i]);
        if (!l->at[i] || strncmp(err->msg, "--set ", 6) != 0 ||
            strncmp(err->msg + 6, l->text[i], len) != 0 ||
            strncmp(err->msg + 6 + len, ": ", 2) != 0)
            continue;
        const char *msg = err->msg + 8 + len;
        const node *at = strstr(msg, ": unknown key") ? l->key_at[i] : l->at[i];
        cli_error("%s:%d:%d: %s", sw->file, at->line, at->col, msg);
        return;
    }
    if (p && seed >= 0)
        cli_error("%s: point %s, seed %llu: %s", sw->file, p->id,
                  (unsigned long long)sw->seeds[seed], err->msg);
    else
        cli_error("%s: experiment %s: %s", sw->file, sw->experiment, err->msg);
}

/* The config of point p with seed index `seed` (p NULL and seed < 0: the experiment with the
 * sweep's set only). Overrides apply in order: the sweep's set, the command line's --set, the
 * point's values, the seed. */
static bool load_config(const sweep *sw, const sw_point *p, int seed, eqs_experiment_config *cfg)
{
    ov_list l = {.n = 0};
    for (int i = 0; i < sw->n_set; i++)
        ov_add(&l, sw->set[i]->text, sw->set[i], sw->set[i]);
    for (int i = 0; i < sw->n_cli_set; i++)
        ov_add(&l, sw->cli_set[i], NULL, NULL);
    for (int k = 0; p && k < sw->n_keys; k++)
        if (p->ov[k])
            ov_add(&l, p->ov[k], p->at[k], p->key_at[k]);
    if (seed >= 0)
        ov_add(&l, sw->seed_ov[seed], sw->seed_at[seed], sw->seed_at[seed]);
    eqs_err err;
    if (eqs_experiment_load(cfg, sw->experiment, l.text, l.n, &err) != EQS_OK) {
        report_load_error(sw, p, seed, &l, &err);
        return false;
    }
    if (sw->threads > 0)
        cfg->training.threads = sw->threads;
    return true;
}

/* Follows a key path through a tree (a number indexes a list). */
static const node *tree_get(const node *nd, const char *path)
{
    char comp[KEYPATH_LEN];
    while (nd && *path) {
        size_t len = strcspn(path, ".");
        snprintf(comp, sizeof comp, "%.*s", (int)len, path);
        path += len + (path[len] == '.');
        if (nd->kind == NODE_MAP)
            nd = cfg_map_get(nd, comp);
        else if (nd->kind == NODE_SEQ && isdigit((unsigned char)comp[0]) && atoi(comp) < nd->n)
            nd = nd->vals[atoi(comp)];
        else
            nd = NULL;
    }
    return nd;
}

/* Each swept key's value in point p's resolved config: the point's own value when the resolved
 * config does not hold the key. */
static bool resolve_values(sweep *sw, sw_point *p, const char *config_text)
{
    node *root = NULL;
    if (cfg_load_yaml_text(&sw->ld, config_text, "config.yaml", &root) != EQS_OK)
        root = NULL;
    for (int k = 0; k < sw->n_keys; k++) {
        const node *v = root ? tree_get(root, sw->keys[k].path) : NULL;
        const char *own = p->ov[k] ? p->ov[k] + strlen(sw->keys[k].path) + 1 : "";
        /* a map (e.g. `hardware:` given as a file) is shown as the value the point gave */
        if (v && v->kind == NODE_MAP)
            v = NULL;
        p->resolved[k] = v ? (v->kind == NODE_SCALAR ? v->text : emit_text(sw, v)) : own;
        if (!p->resolved[k])
            return false;
    }
    return true;
}

/* Names the first line where a run directory's config.yaml and the point's config differ. */
static void report_mismatch(const char *dir, const char *old, const char *want)
{
    int line = 1;
    size_t i = 0, start = 0;
    for (; old[i] && old[i] == want[i]; i++)
        if (old[i] == '\n') {
            line++;
            start = i + 1;
        }
    cli_error("%s holds a run of another config: its config.yaml line %d reads '%.*s', this "
              "sweep makes '%.*s'; move it away or choose another --out",
              dir, line, (int)strcspn(old + start, "\n"), old + start,
              (int)strcspn(want + start, "\n"), want + start);
}

/* A run directory: new, finished (skip), interrupted after an epoch (resume) or to start
 * again; one of another config is an error (false). */
static bool classify(sw_run *r, const char *config_text)
{
    char path[EQS_PATH_LEN + 64];
    r->kind = RUN_NEW;
    if (!eqs_path_exists(r->dir))
        return true;
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    char *old = slurp(path);
    r->kind = RUN_RESTART; /* no config.yaml: stopped between mkdir and its first write */
    if (old && strcmp(old, config_text) != 0) {
        report_mismatch(r->dir, old, config_text);
        free(old);
        return false;
    }
    free(old);
    int32_t e = 0;
    snprintf(path, sizeof path, "%s/result.yaml", r->dir);
    if (flat_int(path, "epochs_done", &e) && e == r->epochs) {
        r->kind = RUN_DONE;
        return true;
    }
    snprintf(path, sizeof path, "%s/checkpoint/manifest.yaml", r->dir);
    if (!eqs_path_exists(path)) /* the checkpoint swap was cut short: cmd_train reads .old */
        snprintf(path, sizeof path, "%s/checkpoint.old/manifest.yaml", r->dir);
    if (flat_int(path, "epochs_done", &e) && e > 0 && e < r->epochs) {
        r->kind = RUN_RESUME;
        r->from_epoch = e;
    }
    return true;
}

/* True when the checkpoint a resume would read (checkpoint/, else checkpoint.old/, as
 * cmd_train's load_checkpoint) holds the tile and neuron state (eqs_crnn_state_save). */
static bool checkpoint_has_state(const char *run_dir)
{
    char path[EQS_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/checkpoint", run_dir);
    if (!eqs_path_exists(path))
        snprintf(path, sizeof path, "%s/checkpoint.old", run_dir);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", EQS_NEURON_COUNTS_FILE);
    return eqs_path_exists(path);
}

/* Two points of the same config would run twice and count twice over seeds. */
static bool distinct_configs(const sweep *sw)
{
    for (int a = 0; a < sw->n_points; a++)
        for (int b = a + 1; b < sw->n_points; b++)
            if (sw->points[a].config_hash == sw->points[b].config_hash) {
                cli_error("%s: points %s and %s resolve to the same config; drop one", sw->file,
                          sw->points[a].id, sw->points[b].id);
                return false;
            }
    return true;
}

/* Loads every point x seed, fills runs[] (point-major) and classifies their directories. */
static bool plan_runs(sweep *sw, const char *out, sw_run *runs)
{
    eqs_experiment_config cfg;
    int n_bad = 0;
    for (int p = 0, r = 0; p < sw->n_points; p++)
        for (int s = 0; s < sw->n_seeds; s++, r++) {
            sw_run *run = &runs[r];
            *run = (sw_run){.point = p, .seed = s};
            snprintf(run->dir, sizeof run->dir, "%s/%s-seed%llu", out, sw->points[p].id,
                     (unsigned long long)sw->seeds[s]);
            if (!load_config(sw, &sw->points[p], s, &cfg))
                return false; /* the same mistake would repeat for every point: stop at one */
            char *text = cli_config_yaml(&cfg);
            if (!text)
                return false;
            run->epochs = cfg.training.epochs;
            sw->points[p].config_hash = s == 0 ? fnv1a(text) : sw->points[p].config_hash;
            if (s == 0 && !resolve_values(sw, &sw->points[p], text)) {
                free(text);
                cli_error("out of memory");
                return false;
            }
            bool fits = classify(run, text);
            free(text);
            /* a run on hardware continues only from a checkpoint with its device state (one
             * written before eqsim saved it holds the weights alone): else it is made again */
            if (run->kind == RUN_RESUME && cfg.has_hardware && !checkpoint_has_state(run->dir))
                run->kind = RUN_RESTART;
            n_bad += !fits;
            if (n_bad == 3 && !fits && r + 1 < sw->n_points * sw->n_seeds) {
                cli_error("(stopped looking after 3 such run directories)");
                return false;
            }
        }
    return n_bad == 0 && distinct_configs(sw);
}

/* The seeds: the sweep's, else the experiment's own training.seed (after the set). */
static bool resolve_seeds(sweep *sw)
{
    eqs_experiment_config cfg;
    /* with the first point's values: a set: key may only make sense with them (e.g. a key of
     * the hardware the points select) */
    if (!load_config(sw, sw->n_points > 0 ? &sw->points[0] : NULL, -1, &cfg))
        return false;
    if (sw->n_seeds == 0) {
        sw->seeds[0] = cfg.training.seed;
        sw->n_seeds = 1;
    }
    for (int s = 0; s < sw->n_seeds; s++)
        if (!(sw->seed_ov[s] =
                  arena_printf(sw, "training.seed=%llu", (unsigned long long)sw->seeds[s])))
            return false;
    return true;
}

/* ---- results ----------------------------------------------------------------------------- */

/* Reads a finished run's numbers: result.yaml, and the last epoch's train loss from
 * metrics.csv (its second column). */
static bool read_results(sw_run *r)
{
    char path[EQS_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/result.yaml", r->dir);
    char *text = slurp(path);
    static const char *const fields[N_RES] = {"best_test_acc", "best_epoch", "final_test_acc", NULL,
                                              "wall_s_this_session"};
    bool ok = text != NULL;
    for (int i = 0; ok && i < N_RES; i++)
        ok = !fields[i] || flat_field(text, fields[i], r->res[i], sizeof r->res[i]);
    free(text);
    snprintf(path, sizeof path, "%s/metrics.csv", r->dir);
    text = ok ? slurp(path) : NULL;
    const char *last = NULL;
    for (char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (*line != '\n')
            last = line;
    ok = ok && last && last != text;
    if (ok) {
        const char *f = strchr(last, ',');
        ok = f != NULL;
        if (ok)
            snprintf(r->res[R_TRAIN_LOSS], sizeof r->res[R_TRAIN_LOSS], "%.*s",
                     (int)strcspn(f + 1, ",\r\n"), f + 1);
    }
    free(text);
    r->done = ok;
    return ok;
}

static bool write_text(const char *path, const char *text, size_t len)
{
    eqs_err err;
    if (eqs_write_file_atomic(path, text, len, &err) != EQS_OK) {
        cli_print_err(&err);
        return false;
    }
    return true;
}

/* Writes what fn prints into f to out/name, atomically. */
static bool write_with(const char *out, const char *name,
                       void (*fn)(FILE *, const void *, const void *), const void *a, const void *b)
{
    char *buf = NULL, path[EQS_PATH_LEN + 64];
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        cli_error("out of memory");
        return false;
    }
    fn(mem, a, b);
    fclose(mem);
    snprintf(path, sizeof path, "%s/%s", out, name);
    bool ok = write_text(path, buf, len);
    free(buf);
    return ok;
}

typedef struct run_set {
    const sw_run *runs;
    int n;
} run_set;

static void put_key_columns(FILE *f, const sweep *sw)
{
    fputs("point", f);
    for (int k = 0; k < sw->n_keys; k++) {
        fputc(',', f);
        csv_put(f, sw->keys[k].path);
    }
}

static void put_point(FILE *f, const sweep *sw, const sw_point *p)
{
    csv_put(f, p->id);
    for (int k = 0; k < sw->n_keys; k++) {
        fputc(',', f);
        csv_put(f, p->resolved[k]);
    }
}

static void print_results(FILE *f, const void *a, const void *b)
{
    const sweep *sw = a;
    const run_set *rs = b;
    put_key_columns(f, sw);
    fputs(",seed", f);
    for (int i = 0; i < N_RES; i++)
        fprintf(f, ",%s", res_names[i]);
    fputs(",run_dir\n", f);
    for (int i = 0; i < rs->n; i++) {
        const sw_run *r = &rs->runs[i];
        if (!r->done)
            continue;
        put_point(f, sw, &sw->points[r->point]);
        fprintf(f, ",%llu", (unsigned long long)sw->seeds[r->seed]);
        for (int j = 0; j < N_RES; j++)
            fprintf(f, ",%s", r->res[j]);
        fputc(',', f);
        csv_put(f, strrchr(r->dir, '/') + 1);
        fputc('\n', f);
    }
}

typedef struct stats {
    int n;
    double sum, sum2, min, max;
} stats;

static void stats_add(stats *s, double v)
{
    if (s->n == 0 || v < s->min)
        s->min = v;
    if (s->n == 0 || v > s->max)
        s->max = v;
    s->n++;
    s->sum += v;
    s->sum2 += v * v;
}

static double stats_mean(const stats *s)
{
    return s->sum / s->n;
}

/* Sample standard deviation (n - 1); 0 for a single value. */
static double stats_std(const stats *s)
{
    if (s->n < 2)
        return 0;
    double m = stats_mean(s), var = (s->sum2 - s->n * m * m) / (s->n - 1);
    return var > 0 ? sqrt(var) : 0;
}

static void print_summary(FILE *f, const void *a, const void *b)
{
    const sweep *sw = a;
    const run_set *rs = b;
    put_key_columns(f, sw);
    fputs(",n_seeds", f);
    for (int c = 0; c < N_OF(summary_cols); c++) {
        const char *m = res_names[summary_cols[c]];
        fprintf(f, ",%s_mean,%s_std,%s_min,%s_max", m, m, m, m);
    }
    fputc('\n', f);
    for (int p = 0; p < sw->n_points; p++) {
        stats st[N_OF(summary_cols)] = {{0}};
        for (int i = 0; i < rs->n; i++)
            for (int c = 0; rs->runs[i].point == p && rs->runs[i].done && c < N_OF(st); c++)
                stats_add(&st[c], atof(rs->runs[i].res[summary_cols[c]]));
        if (st[0].n == 0)
            continue;
        put_point(f, sw, &sw->points[p]);
        fprintf(f, ",%d", st[0].n);
        for (int c = 0; c < N_OF(st); c++)
            fprintf(f, ",%.6f,%.6f,%.6f,%.6f", stats_mean(&st[c]), stats_std(&st[c]), st[c].min,
                    st[c].max);
        fputc('\n', f);
    }
}

static bool write_tables(const sweep *sw, const char *out, const sw_run *runs, int n)
{
    run_set rs = {runs, n};
    return write_with(out, "results.csv", print_results, sw, &rs) &&
           write_with(out, "summary.csv", print_summary, sw, &rs);
}

/* The resolved sweep: the file's keys with the experiment's absolute path, the command line's
 * --set appended to set, the seeds, and the points listed (so it reloads as the same sweep). */
static void print_resolved(FILE *f, const void *a, const void *b)
{
    const sweep *sw = a;
    (void)b;
    char exp[EQS_PATH_LEN];
    cfg_make_absolute(sw->experiment, exp, sizeof exp);
    fprintf(f,
            "# resolved by eqsim sweep from %s; eqsim sweep <this file> --out <its folder>\n"
            "# continues it\nschema: " SWEEP_SCHEMA "\n",
            sw->file);
    cfg_write_str(f, "", "name", sw->name);
    cfg_write_str(f, "", "experiment", exp);
    fprintf(f, "metric: %s\nset:%s\n", metric_names[sw->metric],
            sw->n_set + sw->n_cli_set ? "" : " []");
    for (int i = 0; i < sw->n_set + sw->n_cli_set; i++) {
        fputs("  - ", f);
        yaml_dq(f, i < sw->n_set ? sw->set[i]->text : sw->cli_set[i - sw->n_set]);
        fputc('\n', f);
    }
    fputs("seeds: [", f);
    for (int s = 0; s < sw->n_seeds; s++)
        fprintf(f, "%s%llu", s ? ", " : "", (unsigned long long)sw->seeds[s]);
    fprintf(f, "]\npoints:  # %d\n", sw->n_points);
    for (int p = 0; p < sw->n_points; p++) {
        fputs("  - {", f);
        for (int k = 0, first = 1; k < sw->n_keys; k++)
            if (sw->points[p].ov[k]) {
                size_t kl = strlen(sw->keys[k].path);
                fprintf(f, "%s%s: %s", first ? "" : ", ", sw->keys[k].path,
                        sw->points[p].ov[k] + kl + 1);
                first = 0;
            }
        fputs("}\n", f);
    }
}

/* ---- plots ------------------------------------------------------------------------------- */

typedef struct plot_data {
    const char *xs[MAX_POINTS];
    int n_x, numeric;
    char *groups[MAX_GROUPS];
    int n_groups;
    stats *cell; /* [group][x] */
} plot_data;

static int cmp_numeric(const void *a, const void *b)
{
    double x = atof(*(const char *const *)a), y = atof(*(const char *const *)b);
    return (x > y) - (x < y);
}

static int find_str(const char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    return -1;
}

/* "label=value, label=value" of the keys other than k: the line a point belongs to. */
static void group_name(const sweep *sw, const sw_point *p, int k, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int j = 0; j < sw->n_keys && n < len; j++)
        if (j != k)
            n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? ", " : "", sw->keys[j].label,
                                  p->resolved[j]);
}

/* Distinct values of key k (sorted when all numeric) among the finished points. */
static void collect_xs(const sweep *sw, const sw_run *runs, int n, int k, plot_data *pd)
{
    pd->n_x = 0;
    pd->numeric = 1;
    for (int i = 0; i < n; i++) {
        const char *v = sw->points[runs[i].point].resolved[k];
        double d;
        if (!runs[i].done || find_str(pd->xs, pd->n_x, v) >= 0)
            continue;
        pd->xs[pd->n_x++] = v;
        pd->numeric = pd->numeric && cfg_parse_f64(v, &d) == 0;
    }
    if (pd->numeric)
        qsort(pd->xs, (size_t)pd->n_x, sizeof pd->xs[0], cmp_numeric);
}

static bool collect_cells(const sweep *sw, const sw_run *runs, int n, int k, plot_data *pd)
{
    char name[1024];
    pd->n_groups = 0;
    for (int i = 0; i < n; i++) {
        if (!runs[i].done)
            continue;
        const sw_point *p = &sw->points[runs[i].point];
        group_name(sw, p, k, name, sizeof name);
        int g = find_str((const char *const *)pd->groups, pd->n_groups, name);
        if (g < 0 && pd->n_groups == MAX_GROUPS)
            continue;
        if (g < 0 && !(pd->groups[pd->n_groups] = strdup(name)))
            return false;
        g = g < 0 ? pd->n_groups++ : g;
        int x = find_str(pd->xs, pd->n_x, p->resolved[k]);
        stats_add(&pd->cell[g * pd->n_x + x], atof(runs[i].res[metric_res[sw->metric]]));
    }
    return true;
}

/* The plot's data: x (the value, or its index when categorical), the label, then mean, min
 * and max per line (NaN where a line has no point). Labels lose commas: the plot reads the CSV
 * naively. */
static void print_plot_csv(FILE *f, const void *a, const void *b)
{
    const plot_data *pd = a;
    (void)b;
    fputs("x,label", f);
    for (int g = 0; g < pd->n_groups; g++)
        fprintf(f, ",mean%d,min%d,max%d", g, g, g);
    fputc('\n', f);
    for (int x = 0; x < pd->n_x; x++) {
        if (pd->numeric)
            fprintf(f, "%s,", pd->xs[x]);
        else
            fprintf(f, "%d,", x);
        char stem[256]; /* a file path reads as its stem, like in point ids */
        for (const char *c = id_value(pd->xs[x], stem, sizeof stem); *c; c++)
            fputc(*c == ',' || *c == '"' || *c == '\n' ? ';' : *c, f);
        for (int g = 0; g < pd->n_groups; g++) {
            const stats *s = &pd->cell[g * pd->n_x + x];
            if (s->n)
                fprintf(f, ",%.6g,%.6g,%.6g", stats_mean(s), s->min, s->max);
            else
                fputs(",NaN,NaN,NaN", f);
        }
        fputc('\n', f);
    }
}

static void draw_plot(const sweep *sw, const char *out, int k, const plot_data *pd)
{
    char csv[EQS_PATH_LEN + 320], png[EQS_PATH_LEN + 320], title[512], name[300];
    const char *metric = metric_names[sw->metric];
    snprintf(name, sizeof name, "%s_vs_%s", metric, sw->keys[k].label);
    snprintf(csv, sizeof csv, "%s/%s.csv", out, name);
    snprintf(png, sizeof png, "%s/%s.png", out, name);
    snprintf(name + strlen(name), sizeof name - strlen(name), ".csv");
    if (!write_with(out, name, print_plot_csv, pd, NULL))
        return;
    eqs_plot_line lines[MAX_GROUPS];
    int lo[MAX_GROUPS], hi[MAX_GROUPS];
    for (int g = 0; g < pd->n_groups; g++) {
        lines[g] = (eqs_plot_line){.y_col = 3 + 3 * g,
                                   .color = g % 8,
                                   .dash = (eqs_dash)(g / 8 % 4),
                                   .title = pd->groups[g][0] ? pd->groups[g] : "mean over seeds"};
        lo[g] = 4 + 3 * g;
        hi[g] = 5 + 3 * g;
    }
    snprintf(title, sizeof title, "%s: %s vs %s (mean over seeds, bars min to max)", sw->name,
             metric, sw->keys[k].label);
    eqs_plot_panel panel = {.title = "", .ylabel = metric, .lines = lines, .n_lines = pd->n_groups};
    eqs_plot_extra extra = {.lo_cols = lo, .hi_cols = hi, .xtic_col = pd->numeric ? 0 : 2};
    eqs_err err;
    if (eqs_plot_lines_ex(csv, png, title, sw->keys[k].path, 1, &panel, 1, &extra, &err) != EQS_OK)
        fprintf(stderr, "eqsim: warning: %s\n", err.msg);
}

/* One plot per swept key with at least two values among the finished runs. */
static void plot_all(const sweep *sw, const char *out, const sw_run *runs, int n)
{
    plot_data *pd = calloc(1, sizeof *pd);
    for (int k = 0; pd && k < sw->n_keys; k++) {
        collect_xs(sw, runs, n, k, pd);
        pd->cell =
            pd->n_x >= 2 ? calloc((size_t)MAX_GROUPS * (size_t)pd->n_x, sizeof(stats)) : NULL;
        if (pd->cell && collect_cells(sw, runs, n, k, pd))
            draw_plot(sw, out, k, pd);
        for (int g = 0; g < pd->n_groups; g++)
            free(pd->groups[g]);
        pd->n_groups = 0;
        free(pd->cell);
    }
    free(pd);
}

/* ---- running ----------------------------------------------------------------------------- */

static const char *kind_text(const sw_run *r, char *buf, size_t len)
{
    switch (r->kind) {
    case RUN_DONE:
        return "done";
    case RUN_RESUME:
        snprintf(buf, len, "resume after epoch %d", r->from_epoch);
        return buf;
    case RUN_RESTART:
        return "start again (interrupted before its first checkpoint)";
    case RUN_NEW:
        break;
    }
    return "to run";
}

static void list_runs(const sweep *sw, const sw_run *runs, int n)
{
    char buf[64];
    for (int i = 0; i < n; i++)
        printf("[%*d/%d] %s seed %llu -> %s  (%s)\n",
               n >= 100  ? 3
               : n >= 10 ? 2
                         : 1,
               i + 1, n, sw->points[runs[i].point].id, (unsigned long long)sw->seeds[runs[i].seed],
               runs[i].dir, kind_text(&runs[i], buf, sizeof buf));
}

/* Runs (or skips) one point x seed and prints its line; false if it failed. */
static void run_head(const sweep *sw, const sw_run *r, int i, int n, char *head, size_t len)
{
    const sw_point *p = &sw->points[r->point];
    snprintf(head, len, "[%*d/%d] %s seed %llu",
             n >= 100  ? 3
             : n >= 10 ? 2
                       : 1,
             i + 1, n, p->id, (unsigned long long)sw->seeds[r->seed]);
}

/* Trains run r (removing what a restart must not keep); returns cli_train_run's status. */
static int train_one(const sweep *sw, const sw_run *r, bool verbose)
{
    eqs_experiment_config cfg;
    if (r->kind == RUN_DONE || r->kind == RUN_RESTART)
        eqs_remove_tree(r->dir); /* DONE but unreadable results: start again too */
    if (!load_config(sw, &sw->points[r->point], r->seed, &cfg))
        return 2;
    eqs_blas_set_threads(cfg.training.threads);
    return cli_train_run(&cfg, r->dir, r->kind == RUN_RESUME, !verbose);
}

static bool report_run(sw_run *r, const char *head, int rc, double seconds)
{
    if (rc != 0 || !read_results(r)) {
        printf("%s: FAILED (exit status %d; see the message above)\n", head, rc ? rc : 1);
        fflush(stdout);
        return false;
    }
    printf("%s: best test acc %.2f%% (epoch %s), final %.2f%%, %.1f s%s\n", head,
           100 * atof(r->res[R_BEST]), r->res[R_BEST_EPOCH], 100 * atof(r->res[R_FINAL]), seconds,
           r->kind == RUN_RESUME ? " (resumed)" : "");
    fflush(stdout);
    return true;
}

/* A run finished earlier and readable: say so and skip it. */
static bool skip_finished(sw_run *r, const char *head)
{
    if (r->kind != RUN_DONE || !read_results(r))
        return false;
    printf("%s: finished earlier, skipped (best test acc %.2f%%)\n", head,
           100 * atof(r->res[R_BEST]));
    fflush(stdout);
    return true;
}

static bool do_run(const sweep *sw, sw_run *r, int i, int n, bool verbose)
{
    char head[EQS_PATH_LEN];
    run_head(sw, r, i, n, head, sizeof head);
    if (skip_finished(r, head))
        return true;
    if (verbose)
        printf("%s: %s\n", head, r->kind == RUN_RESUME ? "resuming" : "starting");
    fflush(stdout);
    double t0 = eqs_now_s();
    int rc = train_one(sw, r, verbose);
    return report_run(r, head, rc, eqs_now_s() - t0);
}

static int finish_sweep(const sweep *sw, const char *out, sw_run *runs, int n, int skipped,
                        int failed)
{
    plot_all(sw, out, runs, n);
    printf("sweep %s: %d runs, %d skipped (finished earlier), %d failed; results in %s\n", sw->name,
           n, skipped, failed, out);
    return failed ? 1 : 0;
}

static int run_all(const sweep *sw, const char *out, sw_run *runs, int n, bool verbose)
{
    int failed = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        skipped += runs[i].kind == RUN_DONE;
        failed += !do_run(sw, &runs[i], i, n, verbose);
        if (!write_tables(sw, out, runs, n)) /* after every run: partial results are useful */
            return 1;
    }
    return finish_sweep(sw, out, runs, n, skipped, failed);
}

/* ---- parallel runs (--jobs) ---------------------------------------------------------------- */

typedef struct job {
    pid_t pid;
    int run;
    double t0;
} job;

/* Waits for one child; reports its run and rewrites the tables. Returns false on a failed run. */
static bool reap_one(const sweep *sw, const char *out, sw_run *runs, int n, job *jobs, int *n_jobs,
                     bool *tables_ok)
{
    int status = 0;
    pid_t pid = wait(&status);
    int j = 0;
    while (j < *n_jobs && jobs[j].pid != pid)
        j++;
    if (j == *n_jobs) /* not ours (cannot happen: we start no other children) */
        return true;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    char head[EQS_PATH_LEN];
    run_head(sw, &runs[jobs[j].run], jobs[j].run, n, head, sizeof head);
    bool ok = report_run(&runs[jobs[j].run], head, rc, eqs_now_s() - jobs[j].t0);
    jobs[j] = jobs[--*n_jobs];
    *tables_ok = *tables_ok && write_tables(sw, out, runs, n);
    return ok;
}

/* Runs up to n_par runs at once, each in a child process running exactly what the serial path
 * runs: every run is deterministic on its own (its config fixes seed and thread count), so the
 * results do not depend on --jobs. */
static int run_parallel(const sweep *sw, const char *out, sw_run *runs, int n, bool verbose,
                        int n_par)
{
    job *jobs = calloc((size_t)n_par, sizeof *jobs);
    if (!jobs) {
        cli_error("out of memory");
        return 1;
    }
    int failed = 0, skipped = 0, n_jobs = 0;
    bool tables_ok = true;
    fflush(NULL); /* nothing buffered may be written twice by a child */
    for (int i = 0; i < n && tables_ok; i++) {
        char head[EQS_PATH_LEN];
        run_head(sw, &runs[i], i, n, head, sizeof head);
        if (skip_finished(&runs[i], head)) {
            skipped++;
            continue;
        }
        while (n_jobs == n_par)
            failed += !reap_one(sw, out, runs, n, jobs, &n_jobs, &tables_ok);
        pid_t pid = fork();
        if (pid == 0) {
            setenv("EQS_NO_PROGRESS", "1", 1); /* several bars on one terminal would garble */
            _exit(train_one(sw, &runs[i], verbose));
        }
        if (pid < 0) {
            cli_error("sweep: cannot start a run: %s", strerror(errno));
            failed++;
            break;
        }
        jobs[n_jobs++] = (job){.pid = pid, .run = i, .t0 = eqs_now_s()};
    }
    while (n_jobs > 0)
        failed += !reap_one(sw, out, runs, n, jobs, &n_jobs, &tables_ok);
    free(jobs);
    if (!tables_ok)
        return 1;
    return finish_sweep(sw, out, runs, n, skipped, failed);
}

typedef struct sweep_opts {
    cli_common common; /* common.experiment holds the sweep file */
    const char *out_dir;
    bool dry_run, verbose;
    int jobs; /* runs at once (--jobs) */
} sweep_opts;

static bool parse_sweep_args(sweep_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int c = cli_parse_common(&o->common, argc, argv, &i);
        if (c < 0)
            return false;
        if (c > 0)
            continue;
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            o->out_dir = argv[++i];
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            o->dry_run = true;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            o->verbose = true;
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64) {
                cli_error("sweep: --jobs expects an integer in [1, 64], got '%s'", argv[i]);
                return false;
            }
            o->jobs = (int)v;
        } else if (argv[i][0] == '-') {
            cli_error("sweep: unknown option '%s' (see eqsim sweep --help)", argv[i]);
            return false;
        } else if (!o->common.experiment) {
            o->common.experiment = argv[i];
        } else {
            cli_error("sweep: unexpected argument '%s'", argv[i]);
            return false;
        }
    }
    if (!o->common.experiment)
        cli_error("sweep: missing SWEEP.yaml (see eqsim sweep --help)");
    return o->common.experiment != NULL;
}

/* Reads the sweep file and checks every point's config; prints the error on failure. */
static bool prepare(sweep *sw, const sweep_opts *o)
{
    sw->ld.err = &sw->err;
    sw->file = o->common.experiment;
    sw->cli_set = o->common.overrides;
    sw->n_cli_set = o->common.n_overrides;
    sw->threads = o->common.threads;
    if (read_sweep(sw) != EQS_OK) {
        cli_print_err(&sw->err);
        return false;
    }
    return resolve_seeds(sw);
}

static int sweep_main(sweep *sw, const sweep_opts *o)
{
    char out[EQS_PATH_LEN];
    if (!prepare(sw, o))
        return 2;
    if (o->out_dir)
        snprintf(out, sizeof out, "%s", o->out_dir);
    else
        snprintf(out, sizeof out, "runs/%s", sw->name);
    int n = sw->n_points * sw->n_seeds;
    sw_run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) {
        cli_error("out of memory");
        return 1;
    }
    int rc = plan_runs(sw, out, runs) ? 0 : 2;
    if (rc == 0)
        printf("sweep %s: %d points x %d seeds = %d runs of %s, in %s\n", sw->name, sw->n_points,
               sw->n_seeds, n, sw->experiment, out);
    eqs_err err;
    if (rc == 0 && o->dry_run)
        list_runs(sw, runs, n);
    else if (rc == 0 && eqs_mkdir_p(out, &err) != EQS_OK) {
        cli_print_err(&err);
        rc = 2;
    } else if (rc == 0)
        rc = write_with(out, "sweep.yaml", print_resolved, sw, NULL)
                 ? (o->jobs > 1 ? run_parallel(sw, out, runs, n, o->verbose, o->jobs)
                                : run_all(sw, out, runs, n, o->verbose))
                 : 1;
    free(runs);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sweep_usage(stdout);
            return 0;
        }
    sweep_opts o = {0};
    if (!parse_sweep_args(&o, argc, argv))
        return 2;
    sweep *sw = calloc(1, sizeof *sw);
    if (!sw) {
        cli_error("out of memory");
        return 1;
    }
    int rc = sweep_main(sw, &o);
    cfg_mem_free_all(&sw->ld);
    free(sw);
    return rc;
}
