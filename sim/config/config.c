/* config.c — model and experiment configs.
 *
 * Pipeline: libyaml's document API (yaml_parser_load) → a small tree of our own whose every node
 * keeps its origin (file, or "--set <text>") and 1-based line:col → the model file grafted under
 * `model:` → `--set` overrides edited into the tree → the tree walked against schema tables (one
 * row per key) into a temporary struct → cross-field checks → copied to the caller on success.
 *
 * All tree memory comes from one per-load arena, freed in one go, so grafting and overriding can
 * replace subtrees without tracking ownership.
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "eqs/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define N_OF(a)          ((int)(sizeof(a) / sizeof((a)[0])))
#define KEYPATH_LEN      256
#define MAX_DEPTH        32     /* nesting of YAML collections */
#define MAX_NODES        100000 /* guards against alias bombs */
#define MAX_FEATURES     10000000
#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MODEL_SCHEMA     "eqs.model/1"
#define EXP_SCHEMA       "eqs.experiment/1"

/* Enum fields are written through an int; GCC gives these enums the size of int. */
_Static_assert(sizeof(eqs_activation) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_layer_type) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pool) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_feedback) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_rule) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_data_format) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pepita_modulation) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_optimizer_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_schedule) == sizeof(int), "enum size");

/* ---- enum names (indexed by value) ------------------------------------------------------- */

static const char *const activation_names[] = {"hard_sigmoid", "hard_sigmoid_half", "sigmoid",
                                               "tanh", "relu"};
static const char *const loss_names[] = {"mse", "cross_entropy"};
static const char *const readout_names[] = {"activation", "linear", "softmax"};
static const char *const layer_type_names[] = {"dense", "conv"};
static const char *const pool_names[] = {"none", "max", "avg"};
static const char *const algorithm_names[] = {"ep", "bptt", "pepita"};
static const char *const rule_names[] = {"ep", "vf", "kp_vf"};
static const char *const data_format_names[] = {"mnist", "cifar10"};
static const char *const feedback_names[] = {"symmetric", "asymmetric"};
static const char *const estimator_names[] = {"one_sided", "random_sign", "symmetric"};
static const char *const optimizer_names[] = {"sgd", "adam", "sgd_lr_in_momentum"};
static const char *const schedule_names[] = {"constant", "cosine", "step"};
static const char *const pepita_modulation_names[] = {"error", "none", "random"};

static const char *enum_name(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "?";
}

const char *eqs_activation_name(eqs_activation a)
{
    return enum_name(activation_names, N_OF(activation_names), (int)a);
}

const char *eqs_loss_name(eqs_loss l)
{
    return enum_name(loss_names, N_OF(loss_names), (int)l);
}

const char *eqs_readout_name(eqs_readout r)
{
    return enum_name(readout_names, N_OF(readout_names), (int)r);
}

const char *eqs_algorithm_name(eqs_algorithm a)
{
    return enum_name(algorithm_names, N_OF(algorithm_names), (int)a);
}

const char *eqs_estimator_name(eqs_estimator e)
{
    return enum_name(estimator_names, N_OF(estimator_names), (int)e);
}

const char *eqs_data_format_name(eqs_data_format f)
{
    return enum_name(data_format_names, N_OF(data_format_names), (int)f);
}

const char *eqs_rule_name(eqs_rule r)
{
    return enum_name(rule_names, N_OF(rule_names), (int)r);
}

const char *eqs_feedback_name(eqs_feedback f)
{
    return enum_name(feedback_names, N_OF(feedback_names), (int)f);
}

const char *eqs_optimizer_name(eqs_optimizer_kind o)
{
    return enum_name(optimizer_names, N_OF(optimizer_names), (int)o);
}

const char *eqs_schedule_name(eqs_schedule s)
{
    return enum_name(schedule_names, N_OF(schedule_names), (int)s);
}

const char *eqs_pepita_modulation_name(eqs_pepita_modulation m)
{
    return enum_name(pepita_modulation_names, N_OF(pepita_modulation_names), (int)m);
}

const char *eqs_layer_type_name(eqs_layer_type t)
{
    return enum_name(layer_type_names, N_OF(layer_type_names), (int)t);
}

const char *eqs_pool_name(eqs_pool p)
{
    return enum_name(pool_names, N_OF(pool_names), (int)p);
}

/* ---- the tree and its arena -------------------------------------------------------------- */

typedef enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP } node_kind;

typedef struct node {
    node_kind kind;
    const char *origin; /* file label, or "--set <text>" */
    int line, col;      /* 1-based; 0 when the origin has no positions (overrides) */
    char *text;         /* scalar value */
    int plain;          /* scalar written without quotes: "~"/"null" then mean null */
    int n, cap;
    struct node **keys; /* map keys (scalar nodes), parallel to vals */
    struct node **vals; /* map values or sequence items */
} node;

typedef struct chunk {
    struct chunk *next;
    max_align_t data[];
} chunk;

typedef struct loader {
    chunk *mem;
    int n_nodes;
    eqs_err *err;
    const char *exp_path;            /* experiment file as the caller named it */
    char exp_dir[EQS_PATH_LEN];      /* its absolute folder: relative data.dir is joined to it */
    char model_source[EQS_PATH_LEN]; /* resolved path of the grafted model file, "" if inline */
} loader;

static void *mem_alloc(loader *ld, size_t size)
{
    chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    memset(c->data, 0, size);
    c->next = ld->mem;
    ld->mem = c;
    return c->data;
}

static void mem_free_all(loader *ld)
{
    while (ld->mem) {
        chunk *next = ld->mem->next;
        free(ld->mem);
        ld->mem = next;
    }
}

static char *mem_strndup(loader *ld, const char *s, size_t n)
{
    char *p = mem_alloc(ld, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

static char *mem_strdup(loader *ld, const char *s)
{
    return mem_strndup(ld, s, strlen(s));
}

static eqs_status oom(loader *ld)
{
    return eqs_err_set(ld->err, EQS_ENOMEM, "out of memory while reading the configuration");
}

static node *node_new(loader *ld, node_kind kind, const char *origin, int line, int col)
{
    node *nd = mem_alloc(ld, sizeof *nd);
    if (!nd)
        return NULL;
    ld->n_nodes++;
    nd->kind = kind;
    nd->origin = origin;
    nd->line = line;
    nd->col = col;
    return nd;
}

/* Grows the child arrays; the old ones stay in the arena until the load ends. */
static int node_reserve(loader *ld, node *nd, int cap)
{
    if (cap <= nd->cap)
        return 1;
    node **keys = mem_alloc(ld, (size_t)cap * sizeof *keys);
    node **vals = mem_alloc(ld, (size_t)cap * sizeof *vals);
    if (!keys || !vals)
        return 0;
    if (nd->n) {
        memcpy(vals, nd->vals, (size_t)nd->n * sizeof *vals);
        if (nd->keys)
            memcpy(keys, nd->keys, (size_t)nd->n * sizeof *keys);
    }
    nd->keys = keys;
    nd->vals = vals;
    nd->cap = cap;
    return 1;
}

static int node_push(loader *ld, node *nd, node *key, node *val)
{
    if (nd->n == nd->cap && !node_reserve(ld, nd, nd->cap ? 2 * nd->cap : 4))
        return 0;
    nd->keys[nd->n] = key;
    nd->vals[nd->n] = val;
    nd->n++;
    return 1;
}

static int map_find(const node *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return -1;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return i;
    return -1;
}

/* NULL-safe: an absent optional section reads as a map without keys. */
static const node *map_get(const node *map, const char *key)
{
    int i = map_find(map, key);
    return i < 0 ? NULL : map->vals[i];
}

/* ---- error messages ---------------------------------------------------------------------- */

/* "<where>: <path>: <msg>", where is file:line:col, or the origin alone when it has no
 * positions; the path is left out when empty (the document root). */
static eqs_status fail(loader *ld, const node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static eqs_status fail(loader *ld, const node *at, const char *path, const char *fmt, ...)
{
    char msg[EQS_ERR_MSG_LEN], where[EQS_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at->line > 0)
        snprintf(where, sizeof where, "%s:%d:%d", at->origin, at->line, at->col);
    else
        snprintf(where, sizeof where, "%s", at->origin);
    if (path && path[0])
        return eqs_err_set(ld->err, EQS_ECONFIG, "%s: %s: %s", where, path, msg);
    return eqs_err_set(ld->err, EQS_ECONFIG, "%s: %s", where, msg);
}

/* What a node holds, for "got ...": the quoted scalar (shortened, kept on one line), or its
 * kind. */
static const char *describe(const node *nd, char *buf, size_t size)
{
    if (nd->kind == NODE_MAP)
        return "a map";
    if (nd->kind == NODE_SEQ)
        return "a sequence";
    size_t len = strlen(nd->text), shown = len > 60 ? 60 : len;
    snprintf(buf, size, "'%.*s%s'", (int)shown, nd->text, len > shown ? "..." : "");
    for (char *p = buf; *p; p++)
        if (iscntrl((unsigned char)*p))
            *p = '?';
    return buf;
}

/* Key paths are for messages; one that does not fit (only from absurd keys) ends in "...". */
static void mark_truncated(char *buf, int n)
{
    if (n >= KEYPATH_LEN)
        memcpy(buf + KEYPATH_LEN - 4, "...", 4);
}

static void child_path(char *buf, const char *parent, const char *key)
{
    if (parent[0])
        mark_truncated(buf, snprintf(buf, KEYPATH_LEN, "%s.%s", parent, key));
    else
        mark_truncated(buf, snprintf(buf, KEYPATH_LEN, "%s", key));
}

static void index_path(char *buf, const char *parent, int i)
{
    mark_truncated(buf, snprintf(buf, KEYPATH_LEN, "%s.%d", parent, i));
}

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[64];
    if (la >= 64 || lb >= 64)
        return INT_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest of names[] within edit distance 2, or NULL. */
static const char *closest(const char *word, const char *const *names, int n)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

static void join_names(char *buf, size_t size, const char *const *names, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
}

/* ---- YAML → tree ------------------------------------------------------------------------- */

static eqs_status tree_from_yaml(loader *ld, yaml_document_t *doc, yaml_node_t *yn,
                                 const char *origin, int marks, int depth, node **out);

static eqs_status seq_from_yaml(loader *ld, yaml_document_t *doc, yaml_node_t *yn, node *nd,
                                int marks, int depth)
{
    yaml_node_item_t *it = yn->data.sequence.items.start, *end = yn->data.sequence.items.top;
    if (!node_reserve(ld, nd, (int)(end - it)))
        return oom(ld);
    for (; it < end; it++) {
        node *child;
        eqs_status st = tree_from_yaml(ld, doc, yaml_document_get_node(doc, *it), nd->origin, marks,
                                       depth + 1, &child);
        if (st != EQS_OK)
            return st;
        nd->vals[nd->n++] = child;
    }
    return EQS_OK;
}

static eqs_status map_from_yaml(loader *ld, yaml_document_t *doc, yaml_node_t *yn, node *nd,
                                int marks, int depth)
{
    yaml_node_pair_t *p = yn->data.mapping.pairs.start, *end = yn->data.mapping.pairs.top;
    if (!node_reserve(ld, nd, (int)(end - p)))
        return oom(ld);
    for (; p < end; p++) {
        node *key, *val;
        eqs_status st = tree_from_yaml(ld, doc, yaml_document_get_node(doc, p->key), nd->origin,
                                       marks, depth + 1, &key);
        if (st != EQS_OK)
            return st;
        if (key->kind != NODE_SCALAR) {
            char got[96];
            return fail(ld, key, "", "expected a plain key, got %s", describe(key, got, 96));
        }
        st = tree_from_yaml(ld, doc, yaml_document_get_node(doc, p->value), nd->origin, marks,
                            depth + 1, &val);
        if (st != EQS_OK)
            return st;
        nd->keys[nd->n] = key;
        nd->vals[nd->n++] = val;
    }
    return EQS_OK;
}

static eqs_status tree_from_yaml(loader *ld, yaml_document_t *doc, yaml_node_t *yn,
                                 const char *origin, int marks, int depth, node **out)
{
    node at = {.origin = origin};
    if (!yn)
        return fail(ld, &at, "", "malformed YAML document");
    if (marks) {
        at.line = (int)yn->start_mark.line + 1;
        at.col = (int)yn->start_mark.column + 1;
    }
    if (depth > MAX_DEPTH || ld->n_nodes >= MAX_NODES)
        return fail(ld, &at, "", "nested deeper than %d levels or more than %d nodes", MAX_DEPTH,
                    MAX_NODES);
    node_kind kind = yn->type == YAML_MAPPING_NODE    ? NODE_MAP
                     : yn->type == YAML_SEQUENCE_NODE ? NODE_SEQ
                                                      : NODE_SCALAR;
    node *nd = node_new(ld, kind, origin, at.line, at.col);
    if (!nd)
        return oom(ld);
    *out = nd;
    if (kind == NODE_MAP)
        return map_from_yaml(ld, doc, yn, nd, marks, depth);
    if (kind == NODE_SEQ)
        return seq_from_yaml(ld, doc, yn, nd, marks, depth);
    nd->text = mem_strndup(ld, (const char *)yn->data.scalar.value, yn->data.scalar.length);
    nd->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return nd->text ? EQS_OK : oom(ld);
}

/* libyaml reports 0 for failure and keeps the details in the parser: turn them into one line. */
static eqs_status parser_error(loader *ld, const yaml_parser_t *p, const char *origin, int marks)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        return oom(ld);
    if (p->error == YAML_READER_ERROR && strcmp(problem, "input error") == 0)
        return eqs_err_set(ld->err, EQS_EIO, "cannot read '%s': %s", origin, strerror(errno));
    if (p->error == YAML_READER_ERROR)
        return eqs_err_set(ld->err, EQS_ECONFIG, "%s: cannot read: %s (at byte %zu)", origin,
                           problem, p->problem_offset);
    if (!marks)
        return eqs_err_set(ld->err, EQS_ECONFIG, "%s: YAML syntax error in the value: %s", origin,
                           problem);
    char context[160] = "";
    if (p->context)
        snprintf(context, sizeof context, " (%s at line %zu)", p->context,
                 p->context_mark.line + 1);
    return eqs_err_set(ld->err, EQS_ECONFIG, "%s:%zu:%zu: YAML syntax error: %s%s", origin,
                       p->problem_mark.line + 1, p->problem_mark.column + 1, problem, context);
}

/* A second document in the stream is an error: only the first would be read. */
static eqs_status expect_stream_end(loader *ld, yaml_parser_t *parser, const char *origin,
                                    int marks)
{
    yaml_document_t doc;
    if (!yaml_parser_load(parser, &doc))
        return parser_error(ld, parser, origin, marks);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    node at = {.origin = origin};
    if (root && marks) {
        at.line = (int)root->start_mark.line + 1;
        at.col = (int)root->start_mark.column + 1;
    }
    yaml_document_delete(&doc);
    return root ? fail(ld, &at, "", "only one YAML document is allowed") : EQS_OK;
}

/* Loads one document; *out is NULL when the stream holds none (an empty file). */
static eqs_status load_document(loader *ld, yaml_parser_t *parser, const char *origin, int marks,
                                node **out)
{
    yaml_document_t doc;
    *out = NULL;
    if (!yaml_parser_load(parser, &doc))
        return parser_error(ld, parser, origin, marks);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    eqs_status st = root ? tree_from_yaml(ld, &doc, root, origin, marks, 0, out) : EQS_OK;
    yaml_document_delete(&doc);
    if (st == EQS_OK && root)
        st = expect_stream_end(ld, parser, origin, marks);
    return st;
}

static eqs_status load_yaml_file(loader *ld, const char *path, node **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return eqs_err_set(ld->err, EQS_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return eqs_err_set(ld->err, EQS_EIO, "cannot open '%s': %s", path, strerror(EISDIR));
    }
    const char *origin = mem_strdup(ld, path);
    yaml_parser_t parser;
    if (!origin || !yaml_parser_initialize(&parser)) {
        fclose(f);
        return oom(ld);
    }
    yaml_parser_set_input_file(&parser, f);
    eqs_status st = load_document(ld, &parser, origin, 1, out);
    yaml_parser_delete(&parser);
    fclose(f);
    if (st == EQS_OK && !*out)
        st = eqs_err_set(ld->err, EQS_ECONFIG, "%s: the file is empty", path);
    return st;
}

/* An override's value is YAML too, so `[1e-3, 5e-4]` is a list and `{features: 10}` a map. */
static eqs_status load_yaml_text(loader *ld, const char *text, const char *origin, node **out)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return oom(ld);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    eqs_status st = load_document(ld, &parser, origin, 0, out);
    yaml_parser_delete(&parser);
    if (st == EQS_OK && !*out) { /* "key=" sets the empty string */
        *out = node_new(ld, NODE_SCALAR, origin, 0, 0);
        if (!*out || !((*out)->text = mem_strdup(ld, "")))
            return oom(ld);
    }
    return st;
}

/* ---- scalars ----------------------------------------------------------------------------- */

static int parse_i64(const char *s, long long *v)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno == ERANGE || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_u64(const char *s, unsigned long long *v)
{
    char *end;
    if (!isdigit((unsigned char)*s)) /* strtoull would accept and negate "-1" */
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno == ERANGE || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_f64(const char *s, double *v)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

static int is_null(const node *nd)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (nd->kind != NODE_SCALAR || !nd->plain)
        return 0;
    for (int i = 0; i < N_OF(nulls); i++)
        if (strcmp(nd->text, nulls[i]) == 0)
            return 1;
    return 0;
}

/* ---- schema tables ----------------------------------------------------------------------- */

typedef enum key_type {
    KEY_I32,
    KEY_U64,
    KEY_F64,
    KEY_BOOL,
    KEY_ENUM,
    KEY_STR,
    KEY_CUSTOM
} key_type;

enum { OPEN_LO = 1, OPEN_HI = 2, NO_LO = 4, NO_HI = 8 }; /* KEY_F64 range flags */

/* One row per key. KEY_CUSTOM rows are checked by code (sections, lr, input, layer names) but
 * still take part in the unknown-key and required-key checks. */
typedef struct key_spec {
    const char *name;
    key_type type;
    int required;
    size_t offset;            /* target field in the section struct */
    size_t size;              /* KEY_STR: capacity of the char array */
    double def;               /* default for numbers, booleans and enum indices */
    const char *def_str;      /* default for KEY_STR */
    double lo, hi;            /* range (inclusive for ints; see the flags for doubles) */
    unsigned bounds;          /* OPEN_LO | OPEN_HI | NO_LO | NO_HI */
    const char *const *names; /* KEY_ENUM: names indexed by value */
    int n_names;
    const char *help;
} key_spec;

#define ROW_I32(nm, st, fld, req, d, l, h, hlp)                                                    \
    {                                                                                              \
        .name = nm, .type = KEY_I32, .required = req, .offset = offsetof(st, fld), .def = d,       \
        .lo = l, .hi = h, .help = hlp                                                              \
    }
#define ROW_U64(nm, st, fld, hlp)                                                                  \
    {                                                                                              \
        .name = nm, .type = KEY_U64, .offset = offsetof(st, fld), .help = hlp                      \
    }
#define ROW_F64(nm, st, fld, d, l, h, b, hlp)                                                      \
    {                                                                                              \
        .name = nm, .type = KEY_F64, .offset = offsetof(st, fld), .def = d, .lo = l, .hi = h,      \
        .bounds = b, .help = hlp                                                                   \
    }
#define ROW_BOOL(nm, st, fld, d, hlp)                                                              \
    {                                                                                              \
        .name = nm, .type = KEY_BOOL, .offset = offsetof(st, fld), .def = d, .help = hlp           \
    }
#define ROW_ENUM(nm, st, fld, req, d, nms, hlp)                                                    \
    {                                                                                              \
        .name = nm, .type = KEY_ENUM, .required = req, .offset = offsetof(st, fld), .def = d,      \
        .names = nms, .n_names = N_OF(nms), .help = hlp                                            \
    }
#define ROW_STR(nm, st, fld, req, d, hlp)                                                          \
    {                                                                                              \
        .name = nm, .type = KEY_STR, .required = req, .offset = offsetof(st, fld),                 \
        .size = sizeof(((st *)0)->fld), .def_str = d, .help = hlp                                  \
    }
#define ROW_CUSTOM(nm, req, hlp)                                                                   \
    {                                                                                              \
        .name = nm, .type = KEY_CUSTOM, .required = req, .help = hlp                               \
    }

static const key_spec model_keys[] = {
    ROW_CUSTOM("schema", 1, "must be " MODEL_SCHEMA),
    ROW_STR("name", eqs_model_config, name, 1, "", "model name"),
    ROW_CUSTOM("input", 1, "{features: N} or {channels: C, height: H, width: W}"),
    ROW_CUSTOM("layers", 1, "weight layers, the readout included"),
    ROW_ENUM("activation", eqs_model_config, activation, 0, 0, activation_names, "sigma"),
    ROW_ENUM("loss", eqs_model_config, loss, 1, 0, loss_names, "cost function"),
    ROW_ENUM("readout", eqs_model_config, readout, 1, 0, readout_names, "output layer kind"),
    ROW_ENUM("feedback", eqs_model_config, feedback, 0, 0, feedback_names, "backward weights"),
    ROW_CUSTOM("bias", 0, "true (default) or false: layers without biases"),
};

/* "bias" is stored negated (eqs_model_config.no_bias), so it is read through its own row. */
typedef struct model_flags {
    int32_t bias;
} model_flags;

static const key_spec model_flag_keys[] = {
    ROW_BOOL("bias", model_flags, bias, 1, "biases b_k"),
};

typedef struct input_fields {
    int32_t features, channels, height, width;
} input_fields;

static const key_spec input_keys[] = {
    ROW_I32("features", input_fields, features, 0, 0, 1, MAX_FEATURES, "flat input size"),
    ROW_I32("channels", input_fields, channels, 0, 0, 1, 65536, "image channels"),
    ROW_I32("height", input_fields, height, 0, 0, 1, 65536, "image height"),
    ROW_I32("width", input_fields, width, 0, 0, 1, 65536, "image width"),
};

static const key_spec layer_keys[] = {
    ROW_ENUM("type", eqs_layer_config, type, 0, 0, layer_type_names, "layer kind"),
    ROW_CUSTOM("name", 0, "[A-Za-z0-9_]+, default fc<k>"),
    ROW_I32("out", eqs_layer_config, n_out, 1, 0, 1, 1000000, "units or output channels"),
    ROW_I32("kernel", eqs_layer_config, kernel, 0, 0, 1, 64, "conv: kernel size"),
    ROW_I32("padding", eqs_layer_config, padding, 0, 0, 0, 64, "conv: zero padding"),
    ROW_ENUM("pool", eqs_layer_config, pool, 0, 0, pool_names, "conv: pooling"),
    ROW_I32("pool_size", eqs_layer_config, pool_size, 0, 2, 1, 64, "conv: pooling window"),
    ROW_F64("dropout", eqs_layer_config, dropout, 0, 0, 1, OPEN_HI, "drop probability"),
};

/* Keys that only a conv layer may carry (index into layer_keys). */
static const char *const conv_only_keys[] = {"kernel", "padding", "pool", "pool_size"};

static const key_spec experiment_keys[] = {
    ROW_CUSTOM("schema", 1, "must be " EXP_SCHEMA),
    ROW_STR("name", eqs_experiment_config, name, 1, "", "experiment name"),
    ROW_CUSTOM("model", 1, "model file path or inline model map"),
    ROW_CUSTOM("data", 0, "dataset"),
    ROW_CUSTOM("algorithm", 1, "gradient estimator"),
    ROW_CUSTOM("optimizer", 1, "parameter update"),
    ROW_CUSTOM("training", 1, "loop settings"),
};

static const key_spec data_keys[] = {
    ROW_ENUM("format", eqs_data_config, format, 0, 0, data_format_names, "file format"),
    ROW_STR("dir", eqs_data_config, dir, 0, DEFAULT_DATA_DIR, "folder of the data files"),
    ROW_I32("train_subset", eqs_data_config, train_subset, 0, 0, 0, INT32_MAX, "0 = all"),
    ROW_I32("test_subset", eqs_data_config, test_subset, 0, 0, 0, INT32_MAX, "0 = all"),
    ROW_BOOL("normalize", eqs_data_config, normalize, 0, "(x - mean)/std"),
    ROW_F64("mean", eqs_data_config, mean, 0.2860, 0, 0, NO_LO | NO_HI, "pixel mean"),
    ROW_F64("std", eqs_data_config, std, 0.3530, 0, 0, OPEN_LO | NO_HI, "pixel std"),
    ROW_BOOL("augment", eqs_data_config, augment, 0, "cifar10: flip + crop"),
};

static const key_spec algorithm_keys[] = {
    ROW_ENUM("name", eqs_algorithm_config, name, 1, 0, algorithm_names, "ep or bptt"),
    ROW_ENUM("estimator", eqs_algorithm_config, estimator, 0, EQS_EST_SYMMETRIC, estimator_names,
             "EP gradient estimate"),
    ROW_ENUM("rule", eqs_algorithm_config, rule, 0, 0, rule_names, "EP learning rule"),
    ROW_F64("beta", eqs_algorithm_config, beta, 0.1, 0, 100, OPEN_LO, "nudging strength"),
    /* required for ep and bptt (validate_algorithm); pepita ignores them */
    ROW_I32("t1", eqs_algorithm_config, t1, 0, 1, 1, 100000, "free-phase steps"),
    ROW_I32("t2", eqs_algorithm_config, t2, 0, 1, 1, 100000, "nudged-phase steps"),
    ROW_I32("bptt_truncate", eqs_algorithm_config, bptt_truncate, 0, 0, 0, 100000,
            "last K steps, 0 = all; at most t1"),
    ROW_ENUM("pepita_modulation", eqs_algorithm_config, pepita_modulation, 0, 0,
             pepita_modulation_names, "PEPITA: what modulates the input"),
    ROW_F64("pepita_f_scale", eqs_algorithm_config, pepita_f_scale, 0.05, 0, 0, NO_HI,
            "PEPITA: F bound / sqrt(6 / n_features)"),
    ROW_F64("pepita_random_scale", eqs_algorithm_config, pepita_random_scale, 1, 0, 0,
            OPEN_LO | NO_HI, "PEPITA: k of the random modulation"),
};

static const key_spec optimizer_keys[] = {
    ROW_ENUM("name", eqs_optimizer_config, kind, 1, 0, optimizer_names, "sgd or adam"),
    ROW_CUSTOM("lr", 1, "positive number or one per layer"),
    ROW_F64("momentum", eqs_optimizer_config, momentum, 0, 0, 1, OPEN_HI, "SGD momentum"),
    ROW_F64("weight_decay", eqs_optimizer_config, weight_decay, 0, 0, 0, NO_HI, "L2"),
    ROW_F64("adam_beta1", eqs_optimizer_config, adam_beta1, 0.9, 0, 1, OPEN_HI, "Adam beta1"),
    ROW_F64("adam_beta2", eqs_optimizer_config, adam_beta2, 0.999, 0, 1, OPEN_HI, "Adam beta2"),
    ROW_F64("adam_eps", eqs_optimizer_config, adam_eps, 1e-8, 0, 0, OPEN_LO | NO_HI, "Adam eps"),
    ROW_ENUM("schedule", eqs_optimizer_config, schedule, 0, 0, schedule_names, "lr schedule"),
    ROW_F64("lr_final_frac", eqs_optimizer_config, lr_final_frac, 0, 0, 1, 0, "cosine end"),
    ROW_I32("schedule_epochs", eqs_optimizer_config, schedule_epochs, 0, 0, 0, INT32_MAX,
            "cosine period, 0 = epochs"),
    ROW_CUSTOM("milestones", 0, "step: epochs after which lr is multiplied by gamma"),
    ROW_F64("gamma", eqs_optimizer_config, gamma, 0.1, 0, 0, OPEN_LO | NO_HI, "step: factor"),
};

static const key_spec lr_item = {.name = "lr", .type = KEY_F64, .bounds = OPEN_LO | NO_HI};
static const key_spec milestone_item = {
    .name = "milestones", .type = KEY_I32, .lo = 1, .hi = 100000};

static const key_spec training_keys[] = {
    ROW_I32("epochs", eqs_training_config, epochs, 1, 0, 1, 100000, "passes over the data"),
    ROW_I32("batch_size", eqs_training_config, batch_size, 1, 0, 1, 65536, "training batch"),
    ROW_I32("eval_batch_size", eqs_training_config, eval_batch_size, 0, 1000, 1, 65536,
            "evaluation batch"),
    ROW_U64("seed", eqs_training_config, seed, "Philox seed"),
    ROW_I32("threads", eqs_training_config, threads, 0, 1, 1, 256, "worker threads"),
};

static int find_key(const key_spec *keys, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- filling fields from rows ------------------------------------------------------------ */

static void expected_text(const key_spec *k, char *buf, size_t size)
{
    switch (k->type) {
    case KEY_I32:
        snprintf(buf, size, "expected an integer in [%.0f, %.0f]", k->lo, k->hi);
        return;
    case KEY_U64:
        snprintf(buf, size, "expected an integer in [0, %llu]", ULLONG_MAX);
        return;
    case KEY_BOOL:
        snprintf(buf, size, "expected true or false");
        return;
    case KEY_STR:
        snprintf(buf, size, "expected a non-empty string of at most %zu characters", k->size - 1);
        return;
    case KEY_ENUM: {
        char list[256];
        join_names(list, sizeof list, k->names, k->n_names);
        snprintf(buf, size, "expected one of %s", list);
        return;
    }
    case KEY_F64:
        if ((k->bounds & NO_LO) && (k->bounds & NO_HI))
            snprintf(buf, size, "expected a finite number");
        else if (k->bounds & NO_HI)
            snprintf(buf, size, "expected a number %s %g",
                     (k->bounds & OPEN_LO) ? ">" : ">=", k->lo);
        else
            snprintf(buf, size, "expected a number in %c%g, %g%c",
                     (k->bounds & OPEN_LO) ? '(' : '[', k->lo, k->hi,
                     (k->bounds & OPEN_HI) ? ')' : ']');
        return;
    case KEY_CUSTOM:
        break;
    }
    snprintf(buf, size, "expected a value");
}

static int f64_in_range(const key_spec *k, double x)
{
    if (!(k->bounds & NO_LO) && ((k->bounds & OPEN_LO) ? x <= k->lo : x < k->lo))
        return 0;
    if (!(k->bounds & NO_HI) && ((k->bounds & OPEN_HI) ? x >= k->hi : x > k->hi))
        return 0;
    return 1;
}

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* Parses a scalar into the row's field; returns 0 when the text does not fit the row. */
static int parse_into(const key_spec *k, const char *s, void *field)
{
    long long i;
    unsigned long long u;
    double d;
    switch (k->type) {
    case KEY_I32:
        if (parse_i64(s, &i) || i < (long long)k->lo || i > (long long)k->hi)
            return 0;
        *(int32_t *)field = (int32_t)i;
        return 1;
    case KEY_U64:
        if (parse_u64(s, &u))
            return 0;
        *(uint64_t *)field = (uint64_t)u;
        return 1;
    case KEY_F64:
        if (parse_f64(s, &d) || !f64_in_range(k, d))
            return 0;
        *(double *)field = d;
        return 1;
    case KEY_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return 0;
        *(int32_t *)field = s[0] == 't';
        return 1;
    case KEY_ENUM:
        if ((i = find_name(k->names, k->n_names, s)) < 0)
            return 0;
        *(int *)field = (int)i;
        return 1;
    case KEY_STR:
        if (!*s || strlen(s) >= k->size)
            return 0;
        memcpy(field, s, strlen(s) + 1);
        return 1;
    case KEY_CUSTOM:
        break;
    }
    return 0;
}

static eqs_status set_field(loader *ld, const key_spec *k, const node *v, const char *path,
                            void *base)
{
    void *field = (char *)base + k->offset;
    if (v->kind == NODE_SCALAR && !(k->type == KEY_STR && is_null(v)) &&
        parse_into(k, v->text, field))
        return EQS_OK;
    char expected[320], got[96], hint[96] = "";
    const char *near = NULL;
    expected_text(k, expected, sizeof expected);
    if (k->type == KEY_ENUM && v->kind == NODE_SCALAR)
        near = closest(v->text, k->names, k->n_names);
    if (near)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    return fail(ld, v, path, "%s, got %s%s", expected, describe(v, got, sizeof got), hint);
}

static void set_default(const key_spec *k, void *base)
{
    void *field = (char *)base + k->offset;
    switch (k->type) {
    case KEY_I32:
    case KEY_BOOL:
        *(int32_t *)field = (int32_t)k->def;
        break;
    case KEY_U64:
        *(uint64_t *)field = (uint64_t)k->def;
        break;
    case KEY_F64:
        *(double *)field = k->def;
        break;
    case KEY_ENUM:
        *(int *)field = (int)k->def;
        break;
    case KEY_STR:
        snprintf(field, k->size, "%s", k->def_str ? k->def_str : "");
        break;
    case KEY_CUSTOM:
        break;
    }
}

/* Every non-custom row of a section: its value from the map, or its default. map may be NULL
 * (an absent optional section). */
static eqs_status fill_fields(loader *ld, const node *map, const char *path, const key_spec *keys,
                              int n, void *base)
{
    for (int i = 0; i < n; i++) {
        if (keys[i].type == KEY_CUSTOM)
            continue;
        const node *v = map_get(map, keys[i].name);
        char p[KEYPATH_LEN];
        child_path(p, path, keys[i].name);
        if (!v) {
            set_default(&keys[i], base);
            continue;
        }
        eqs_status st = set_field(ld, &keys[i], v, p, base);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

static eqs_status unknown_key(loader *ld, const node *key, const char *path, const key_spec *keys,
                              int n)
{
    const char *names[32];
    for (int i = 0; i < n; i++)
        names[i] = keys[i].name;
    const char *near = closest(key->text, names, n);
    if (near)
        return fail(ld, key, path, "unknown key (did you mean '%s'?)", near);
    char list[512];
    join_names(list, sizeof list, names, n);
    return fail(ld, key, path, "unknown key (valid keys: %s)", list);
}

static eqs_status check_keys_known(loader *ld, const node *map, const char *path,
                                   const key_spec *keys, int n)
{
    for (int i = 0; i < map->n; i++) {
        const node *key = map->keys[i];
        char p[KEYPATH_LEN];
        child_path(p, path, key->text);
        for (int j = 0; j < i; j++)
            if (strcmp(map->keys[j]->text, key->text) == 0)
                return fail(ld, key, p, "duplicate key (first given at line %d)",
                            map->keys[j]->line);
        if (find_key(keys, n, key->text) < 0)
            return unknown_key(ld, key, p, keys, n);
    }
    return EQS_OK;
}

/* The structural checks of a section: a map, no duplicate or unknown keys, no missing
 * required key. */
static eqs_status check_map(loader *ld, const node *map, const char *path, const key_spec *keys,
                            int n)
{
    char got[96];
    if (map->kind != NODE_MAP)
        return fail(ld, map, path, "expected a map, got %s", describe(map, got, sizeof got));
    eqs_status st = check_keys_known(ld, map, path, keys, n);
    for (int i = 0; st == EQS_OK && i < n; i++) {
        char p[KEYPATH_LEN];
        child_path(p, path, keys[i].name);
        if (keys[i].required && !map_get(map, keys[i].name))
            st = fail(ld, map, p, "required key is missing");
    }
    return st;
}

/* check_map + fill_fields for a section of the root map; an absent optional section takes
 * every default. */
static eqs_status load_section(loader *ld, const node *root, const char *name, const key_spec *keys,
                               int n, void *base)
{
    const node *sec = map_get(root, name);
    if (sec) {
        eqs_status st = check_map(ld, sec, name, keys, n);
        if (st != EQS_OK)
            return st;
    }
    return fill_fields(ld, sec, name, keys, n, base);
}

/* The root must be a map whose `schema` names this loader's format: a mismatch gets a HINT,
 * before any unknown-key error the other format would cause. */
static eqs_status check_schema(loader *ld, const node *map, const char *path, const char *want,
                               const char *hint)
{
    char got[96], p[KEYPATH_LEN];
    child_path(p, path, "schema");
    if (map->kind != NODE_MAP)
        return fail(ld, map, path, "expected a map starting with 'schema: %s', got %s", want,
                    describe(map, got, sizeof got));
    const node *v = map_get(map, "schema");
    if (!v)
        return fail(ld, map, p, "required key is missing (HINT: %s)", hint);
    if (v->kind != NODE_SCALAR || strcmp(v->text, want) != 0)
        return fail(ld, v, p, "expected %s, got %s (HINT: %s)", want, describe(v, got, sizeof got),
                    hint);
    return EQS_OK;
}

#define MODEL_HINT "a model file starts with 'schema: " MODEL_SCHEMA "'"
#define EXP_HINT   "an experiment file starts with 'schema: " EXP_SCHEMA "'"

/* ---- the model --------------------------------------------------------------------------- */

static eqs_status parse_input(loader *ld, const node *in, const char *path, eqs_model_config *m)
{
    char p[KEYPATH_LEN], p2[KEYPATH_LEN];
    child_path(p, path, "input");
    eqs_status st = check_map(ld, in, p, input_keys, N_OF(input_keys));
    if (st != EQS_OK)
        return st;
    int has_features = map_get(in, "features") != NULL;
    int n_chw = (map_get(in, "channels") != NULL) + (map_get(in, "height") != NULL) +
                (map_get(in, "width") != NULL);
    if (has_features && n_chw)
        return fail(ld, in, p, "give either features or channels, height and width, not both");
    if (!has_features && n_chw == 0)
        return fail(ld, in, p,
                    "expected {features: N} or {channels: C, height: H, width: W}, got an "
                    "empty map");
    for (int i = 1; !has_features && i < N_OF(input_keys); i++) {
        child_path(p2, p, input_keys[i].name);
        if (!map_get(in, input_keys[i].name))
            return fail(ld, in, p2,
                        "required key is missing (channels, height and width go "
                        "together)");
    }
    input_fields f;
    if ((st = fill_fields(ld, in, p, input_keys, N_OF(input_keys), &f)) != EQS_OK)
        return st;
    m->in_channels = has_features ? 1 : f.channels;
    m->in_height = has_features ? 1 : f.height;
    m->in_width = has_features ? f.features : f.width;
    long long total = (long long)m->in_channels * m->in_height * m->in_width;
    if (total > MAX_FEATURES)
        return fail(ld, in, p, "channels*height*width = %lld exceeds %d", total, MAX_FEATURES);
    m->n_features = (int32_t)total;
    return EQS_OK;
}

static int is_identifier(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static eqs_status check_layer_kind_keys(loader *ld, const node *map, const char *path,
                                        const eqs_layer_config *layer)
{
    char p[KEYPATH_LEN];
    if (layer->type == EQS_LAYER_CONV && !map_get(map, "kernel")) {
        child_path(p, path, "kernel");
        return fail(ld, map, p, "required key is missing (a conv layer needs its kernel size)");
    }
    for (int i = 0; layer->type == EQS_LAYER_DENSE && i < N_OF(conv_only_keys); i++) {
        const node *v = map_get(map, conv_only_keys[i]);
        if (v) {
            child_path(p, path, conv_only_keys[i]);
            return fail(ld, v, p, "only conv layers take this key (this layer is dense)");
        }
    }
    return EQS_OK;
}

/* Fills the layer's fields; a layer without a name gets "" (parse_layers names it). */
static eqs_status parse_layer(loader *ld, const node *map, const char *path,
                              eqs_layer_config *layer)
{
    eqs_status st = check_map(ld, map, path, layer_keys, N_OF(layer_keys));
    if (st == EQS_OK)
        st = fill_fields(ld, map, path, layer_keys, N_OF(layer_keys), layer);
    if (st == EQS_OK)
        st = check_layer_kind_keys(ld, map, path, layer);
    if (st != EQS_OK)
        return st;
    const node *name = map_get(map, "name");
    if (!name) {
        layer->name[0] = '\0';
        return EQS_OK;
    }
    char p[KEYPATH_LEN], got[96];
    child_path(p, path, "name");
    if (name->kind != NODE_SCALAR || !is_identifier(name->text) ||
        strlen(name->text) >= sizeof layer->name)
        return fail(ld, name, p,
                    "expected a name of letters, digits and '_' (at most %zu characters), got %s",
                    sizeof layer->name - 1, describe(name, got, sizeof got));
    memcpy(layer->name, name->text, strlen(name->text) + 1);
    return EQS_OK;
}

/* Fills out_c/out_h/out_w of every layer from the input shape, checking that conv layers come
 * first and that every convolution and pooling leaves at least one pixel. */
static eqs_status derive_shapes(loader *ld, const node *seq, const char *path, eqs_model_config *m)
{
    int32_t h = m->in_height, w = m->in_width;
    if (m->layers[m->n_layers - 1].type != EQS_LAYER_DENSE) {
        char lp[KEYPATH_LEN];
        index_path(lp, path, m->n_layers - 1);
        return fail(ld, seq->vals[m->n_layers - 1], lp,
                    "the last layer gives the class scores and must be dense");
    }
    for (int i = 0; i < m->n_layers; i++) {
        eqs_layer_config *l = &m->layers[i];
        char lp[KEYPATH_LEN];
        index_path(lp, path, i);
        if (l->type == EQS_LAYER_DENSE) {
            l->out_c = l->n_out;
            l->out_h = l->out_w = 1;
        } else if (i > 0 && m->layers[i - 1].type == EQS_LAYER_DENSE) {
            return fail(ld, seq->vals[i], lp, "a conv layer cannot follow a dense layer");
        } else {
            int32_t ch = h + 2 * l->padding - l->kernel + 1,
                    cw = w + 2 * l->padding - l->kernel + 1;
            int32_t f = l->pool == EQS_POOL_NONE ? 1 : l->pool_size;
            if (ch < 1 || cw < 1 || ch / f < 1 || cw / f < 1)
                return fail(ld, seq->vals[i], lp,
                            "a %dx%d input with kernel %d, padding %d and pooling %d leaves no "
                            "output pixel",
                            h, w, l->kernel, l->padding, f);
            l->out_c = l->n_out;
            l->out_h = ch / f;
            l->out_w = cw / f;
        }
        h = l->out_h;
        w = l->out_w;
    }
    return EQS_OK;
}

/* Layer names become parameter file names (<name>.weight), so they must be unique. */
static eqs_status check_layer_names(loader *ld, const node *seq, const char *path,
                                    const eqs_model_config *m)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < i; j++) {
            if (strcmp(m->layers[i].name, m->layers[j].name) != 0)
                continue;
            const node *at = map_get(seq->vals[i], "name");
            char lp[KEYPATH_LEN], p[KEYPATH_LEN];
            index_path(lp, path, i);
            child_path(p, lp, "name");
            return fail(ld, at ? at : seq->vals[i], p, "layer name '%s' is already used by %s.%d",
                        m->layers[i].name, path, j);
        }
    return EQS_OK;
}

static eqs_status parse_layers(loader *ld, const node *seq, const char *path, eqs_model_config *m)
{
    char p[KEYPATH_LEN], got[96];
    child_path(p, path, "layers");
    if (seq->kind != NODE_SEQ)
        return fail(ld, seq, p, "expected a sequence of layer maps, got %s",
                    describe(seq, got, sizeof got));
    if (seq->n < 1 || seq->n > EQS_MAX_LAYERS)
        return fail(ld, seq, p, "expected 1 to %d layers, got %d", EQS_MAX_LAYERS, seq->n);
    m->n_layers = seq->n;
    int n_of_type[2] = {0, 0}; /* default names count per type: conv1, conv2, fc1, ... */
    for (int i = 0; i < seq->n; i++) {
        char lp[KEYPATH_LEN];
        index_path(lp, p, i);
        eqs_layer_config *l = &m->layers[i];
        eqs_status st = parse_layer(ld, seq->vals[i], lp, l);
        if (st != EQS_OK)
            return st;
        int rank = ++n_of_type[l->type == EQS_LAYER_CONV];
        if (!l->name[0])
            snprintf(l->name, sizeof l->name, "%s%d", l->type == EQS_LAYER_CONV ? "conv" : "fc",
                     rank);
    }
    eqs_status st = check_layer_names(ld, seq, p, m);
    return st == EQS_OK ? derive_shapes(ld, seq, p, m) : st;
}

/* A softmax readout sits outside the dynamics (Laborieux §3.2): it only makes sense with the
 * cross-entropy loss and needs at least one layer left inside the dynamics. */
static eqs_status check_readout(loader *ld, const node *map, const char *path,
                                const eqs_model_config *m)
{
    char p[KEYPATH_LEN], got[96];
    if (m->readout != EQS_READOUT_SOFTMAX)
        return EQS_OK;
    if (m->loss != EQS_LOSS_CROSS_ENTROPY) {
        const node *loss = map_get(map, "loss");
        child_path(p, path, "loss");
        return fail(ld, loss, p, "readout softmax requires loss cross_entropy, got %s",
                    describe(loss, got, sizeof got));
    }
    if (m->layers[m->n_layers - 1].dropout > 0) {
        const node *layers = map_get(map, "layers");
        const node *at = map_get(layers->vals[m->n_layers - 1], "dropout");
        char lp[KEYPATH_LEN];
        child_path(lp, path, "layers");
        index_path(p, lp, m->n_layers - 1);
        child_path(lp, p, "dropout");
        return fail(ld, at, lp, "the softmax readout has no state to drop units from");
    }
    if (m->n_layers < 2) {
        child_path(p, path, "layers");
        return fail(ld, map_get(map, "layers"), p,
                    "readout softmax needs at least 2 layers (the dynamics and the readout), "
                    "got %d",
                    m->n_layers);
    }
    return EQS_OK;
}

static eqs_status read_bias(loader *ld, const node *map, const char *path, eqs_model_config *m)
{
    model_flags f;
    eqs_status st = fill_fields(ld, map, path, model_flag_keys, N_OF(model_flag_keys), &f);
    m->no_bias = !f.bias;
    return st;
}

static eqs_status validate_model(loader *ld, const node *map, const char *path, eqs_model_config *m)
{
    memset(m, 0, sizeof *m);
    eqs_status st = check_schema(ld, map, path, MODEL_SCHEMA, MODEL_HINT);
    if (st == EQS_OK)
        st = check_map(ld, map, path, model_keys, N_OF(model_keys));
    if (st == EQS_OK)
        st = fill_fields(ld, map, path, model_keys, N_OF(model_keys), m);
    if (st == EQS_OK)
        st = read_bias(ld, map, path, m);
    if (st == EQS_OK)
        st = parse_input(ld, map_get(map, "input"), path, m);
    if (st == EQS_OK)
        st = parse_layers(ld, map_get(map, "layers"), path, m);
    if (st == EQS_OK)
        st = check_readout(ld, map, path, m);
    return st;
}

/* ---- paths ------------------------------------------------------------------------------- */

static void dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == path)
        snprintf(buf, size, "/");
    else
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* dir/rel, or rel alone when it is absolute or dir is "."; 0 when it does not fit. */
static int join_path(char *buf, size_t size, const char *dir, const char *rel)
{
    int n;
    if (rel[0] == '/' || strcmp(dir, ".") == 0)
        n = snprintf(buf, size, "%s", rel);
    else
        n = snprintf(buf, size, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    return n >= 0 && (size_t)n < size;
}

/* realpath() into buf when the path exists and fits; otherwise path unchanged. */
static void make_absolute(const char *path, char *buf, size_t size)
{
    char *real = realpath(path, NULL);
    if (real && strlen(real) < size)
        snprintf(buf, size, "%s", real);
    else if (buf != path)
        snprintf(buf, size, "%s", path);
    free(real);
}

/* ---- the experiment ---------------------------------------------------------------------- */

/* Replaces a `model: <path>` scalar by the tree of that file (path relative to the experiment
 * file's folder), so overrides and validation see one tree. */
static eqs_status graft_model(loader *ld, node *root)
{
    int i = map_find(root, "model");
    if (i < 0 || root->vals[i]->kind != NODE_SCALAR || is_null(root->vals[i]) ||
        !root->vals[i]->text[0])
        return EQS_OK; /* inline, absent or empty: validation reports what is wrong */
    node *ref = root->vals[i];
    char dir[EQS_PATH_LEN], label[EQS_PATH_LEN];
    dir_of(ld->exp_path, dir, sizeof dir);
    if (!join_path(label, sizeof label, dir, ref->text))
        return fail(ld, ref, "model", "the path is longer than %d characters", EQS_PATH_LEN - 1);
    node *tree;
    eqs_status st = load_yaml_file(ld, label, &tree);
    if (st == EQS_EIO && ref->line > 0)
        eqs_err_prefix(ld->err, "%s:%d:%d: model", ref->origin, ref->line, ref->col);
    else if (st == EQS_EIO)
        eqs_err_prefix(ld->err, "%s: model", ref->origin);
    if (st != EQS_OK)
        return st;
    make_absolute(label, ld->model_source, sizeof ld->model_source);
    root->vals[i] = tree;
    return EQS_OK;
}

/* The slot for one key-path component under cur, created (as a map entry) when cur is a map
 * without that key. */
static eqs_status override_slot(loader *ld, node *cur, const char *comp, const char *done,
                                const char *origin, node ***slot)
{
    node at = {.origin = origin};
    char got[96];
    if (cur->kind == NODE_SEQ) {
        long long idx;
        if (!isdigit((unsigned char)comp[0]) || parse_i64(comp, &idx) || idx >= cur->n)
            return fail(ld, &at, done, "expected an index in [0, %d] into the sequence",
                        cur->n - 1);
        *slot = &cur->vals[idx];
        return EQS_OK;
    }
    if (cur->kind != NODE_MAP)
        return fail(ld, &at, done, "cannot set '%s' inside %s", comp,
                    describe(cur, got, sizeof got));
    int i = map_find(cur, comp);
    if (i < 0) {
        node *key = node_new(ld, NODE_SCALAR, origin, 0, 0);
        if (!key || !(key->text = mem_strdup(ld, comp)) || !node_push(ld, cur, key, NULL))
            return oom(ld);
        i = cur->n - 1;
    }
    *slot = &cur->vals[i];
    return EQS_OK;
}

/* Walks key.path from the root, creating missing maps, and puts value at its end. */
static eqs_status set_path(loader *ld, node *root, char *key, node *value, const char *origin)
{
    node at = {.origin = origin};
    char done[KEYPATH_LEN] = "", parent[KEYPATH_LEN];
    node *cur = root;
    for (char *comp = key;;) {
        char *dot = strchr(comp, '.');
        if (dot)
            *dot = '\0';
        if (!*comp)
            return fail(ld, &at, "", "empty component in the key path");
        snprintf(parent, sizeof parent, "%s", done);
        child_path(done, parent, comp);
        node **slot = NULL;
        eqs_status st = override_slot(ld, cur, comp, parent, origin, &slot);
        if (st != EQS_OK)
            return st;
        if (!dot) {
            *slot = value;
            return EQS_OK;
        }
        if (!*slot && !(*slot = node_new(ld, NODE_MAP, origin, 0, 0)))
            return oom(ld);
        cur = *slot;
        comp = dot + 1;
    }
}

static eqs_status apply_override(loader *ld, node *root, const char *text)
{
    size_t len = strlen(text) + sizeof "--set ";
    char *origin = mem_alloc(ld, len);
    if (!origin)
        return oom(ld);
    snprintf(origin, len, "--set %s", text);
    node at = {.origin = origin};
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return fail(ld, &at, "", "expected key.path=value");
    char *key = mem_strndup(ld, text, (size_t)(eq - text));
    node *value;
    if (!key)
        return oom(ld);
    int new_model = strcmp(key, "model") == 0; /* before set_path splits key at the dots */
    eqs_status st = load_yaml_text(ld, eq + 1, origin, &value);
    if (st == EQS_OK)
        st = set_path(ld, root, key, value, origin);
    if (st == EQS_OK && new_model)
        ld->model_source[0] = '\0'; /* a path is grafted below; a map is inline */
    return st == EQS_OK ? graft_model(ld, root) : st;
}

static eqs_status load_experiment_tree(loader *ld, const char *path, const char *const *overrides,
                                       int n_overrides, node **root)
{
    eqs_status st = load_yaml_file(ld, path, root);
    if (st != EQS_OK)
        return st;
    char real[EQS_PATH_LEN];
    make_absolute(path, real, sizeof real);
    dir_of(real, ld->exp_dir, sizeof ld->exp_dir);
    st = check_schema(ld, *root, "", EXP_SCHEMA, EXP_HINT);
    if (st == EQS_OK)
        st = graft_model(ld, *root);
    for (int i = 0; st == EQS_OK && i < n_overrides; i++)
        st = apply_override(ld, *root, overrides[i]);
    return st;
}

static eqs_status validate_model_entry(loader *ld, const node *root, eqs_model_config *m)
{
    const node *v = map_get(root, "model");
    char got[96];
    if (v->kind != NODE_MAP)
        return fail(ld, v, "model", "expected a path to a model file or a model map, got %s",
                    describe(v, got, sizeof got));
    eqs_status st = validate_model(ld, v, "model", m);
    if (st == EQS_OK)
        snprintf(m->source_path, sizeof m->source_path, "%s", ld->model_source);
    return st;
}

/* data.dir: relative to the experiment file's folder, then absolute if it exists. */
static eqs_status resolve_data_dir(loader *ld, const node *data, eqs_data_config *d)
{
    char joined[EQS_PATH_LEN];
    if (!join_path(joined, sizeof joined, ld->exp_dir, d->dir)) {
        const node *v = map_get(data, "dir");
        return fail(ld, v, "data.dir", "the resolved path is longer than %d characters",
                    EQS_PATH_LEN - 1);
    }
    make_absolute(joined, d->dir, sizeof d->dir);
    return EQS_OK;
}

static eqs_status validate_data(loader *ld, const node *root, eqs_data_config *d)
{
    eqs_status st = load_section(ld, root, "data", data_keys, N_OF(data_keys), d);
    if (st != EQS_OK)
        return st;
    const node *data = map_get(root, "data");
    if (d->augment && d->format != EQS_DATA_CIFAR10)
        return fail(ld, map_get(data, "augment"), "data.augment",
                    "augmentation (flip + crop) is for format cifar10, not %s",
                    eqs_data_format_name(d->format));
    if (d->format == EQS_DATA_CIFAR10 && !map_get(data, "dir"))
        return fail(ld, data, "data.dir",
                    "required for format cifar10: the folder of data_batch_1.bin .. "
                    "test_batch.bin (CIFAR-10 is not packaged in Debian)");
    return resolve_data_dir(ld, data, d);
}

/* EP and BPTT have no sensible default number of steps: there t1 and t2 are required. PEPITA
 * has no dynamics and ignores them. */
static eqs_status check_steps_given(loader *ld, const node *root, const eqs_algorithm_config *a)
{
    static const char *const keys[] = {"t1", "t2"};
    const node *sec = map_get(root, "algorithm");
    for (int i = 0; a->name != EQS_ALGO_PEPITA && i < N_OF(keys); i++)
        if (!map_get(sec, keys[i])) {
            char p[KEYPATH_LEN];
            child_path(p, "algorithm", keys[i]);
            return fail(ld, sec, p, "required key is missing (algorithm %s needs it)",
                        eqs_algorithm_name(a->name));
        }
    return EQS_OK;
}

static eqs_status validate_algorithm(loader *ld, const node *root, eqs_algorithm_config *a)
{
    eqs_status st = load_section(ld, root, "algorithm", algorithm_keys, N_OF(algorithm_keys), a);
    if (st == EQS_OK)
        st = check_steps_given(ld, root, a);
    if (st != EQS_OK || a->bptt_truncate <= a->t1)
        return st;
    char got[96];
    const node *v = map_get(map_get(root, "algorithm"), "bptt_truncate");
    return fail(ld, v, "algorithm.bptt_truncate", "expected an integer in [0, t1 = %d], got %s",
                a->t1, describe(v, got, sizeof got));
}

/* EP's own rule needs tied weights; the vector-field rules exist for separate ones. */
static eqs_status check_rule(loader *ld, const node *root, const eqs_model_config *m,
                             const eqs_algorithm_config *a)
{
    if (a->name != EQS_ALGO_EP)
        return EQS_OK;
    int asym = m->feedback == EQS_FEEDBACK_ASYMMETRIC;
    if (asym == (a->rule != EQS_RULE_EP))
        return EQS_OK;
    const node *at = map_get(map_get(root, "algorithm"), "rule");
    return fail(ld, at ? at : map_get(root, "algorithm"), "algorithm.rule",
                asym ? "model.feedback is asymmetric: expected vf or kp_vf, got %s"
                     : "model.feedback is symmetric: expected ep, got %s",
                eqs_rule_name(a->rule));
}

/* PEPITA evaluates the layers once, front to back, into a softmax readout: it has no use for
 * backward weights. */
static eqs_status check_pepita(loader *ld, const node *root, const eqs_model_config *m,
                               const eqs_algorithm_config *a)
{
    const node *model = map_get(root, "model"), *v;
    char got[96];
    if (a->name != EQS_ALGO_PEPITA)
        return EQS_OK;
    if (m->readout != EQS_READOUT_SOFTMAX) {
        v = map_get(model, "readout");
        return fail(ld, v, "model.readout",
                    "algorithm pepita needs readout softmax (hidden layers, then a softmax "
                    "output), got %s",
                    describe(v, got, sizeof got));
    }
    if (m->feedback != EQS_FEEDBACK_SYMMETRIC) {
        v = map_get(model, "feedback");
        return fail(ld, v, "model.feedback",
                    "algorithm pepita has no backward weights: expected symmetric, got %s",
                    describe(v, got, sizeof got));
    }
    return EQS_OK;
}

/* lr: one positive number for all layers, or a list with one per weight layer. */
static eqs_status parse_lr(loader *ld, const node *v, int n_layers, eqs_optimizer_config *o)
{
    const char *path = "optimizer.lr";
    char got[96];
    o->n_lr = 1;
    if (v->kind == NODE_SCALAR)
        return set_field(ld, &lr_item, v, path, &o->lr[0]);
    if (v->kind != NODE_SEQ)
        return fail(ld, v, path, "expected a number > 0 or a list of them, got %s",
                    describe(v, got, sizeof got));
    if (v->n != n_layers)
        return fail(ld, v, path,
                    "expected one learning rate or one per layer (the model has %d layers), "
                    "got a list of %d",
                    n_layers, v->n);
    o->n_lr = v->n;
    for (int i = 0; i < v->n; i++) {
        char p[KEYPATH_LEN];
        index_path(p, path, i);
        eqs_status st = set_field(ld, &lr_item, v->vals[i], p, &o->lr[i]);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

/* milestones: one epoch or a list of them, strictly increasing (an unsorted list is more likely
 * a typo than a wish). */
static eqs_status parse_milestones(loader *ld, const node *sec, eqs_optimizer_config *o)
{
    const char *path = "optimizer.milestones";
    const node *v = map_get(sec, "milestones");
    char got[96];
    o->n_milestones = 0;
    if (!v)
        return EQS_OK;
    if (v->kind == NODE_SCALAR) {
        o->n_milestones = 1;
        return set_field(ld, &milestone_item, v, path, &o->milestones[0]);
    }
    if (v->kind != NODE_SEQ || v->n > EQS_MAX_MILESTONES)
        return fail(ld, v, path, "expected an epoch or a list of at most %d epochs, got %s",
                    EQS_MAX_MILESTONES, v->kind == NODE_SEQ ? "a longer list" : "a map");
    for (int i = 0; i < v->n; i++) {
        char p[KEYPATH_LEN];
        index_path(p, path, i);
        eqs_status st = set_field(ld, &milestone_item, v->vals[i], p, &o->milestones[i]);
        if (st != EQS_OK)
            return st;
        if (i > 0 && o->milestones[i] <= o->milestones[i - 1])
            return fail(ld, v->vals[i], p, "expected epochs in increasing order, got %s after %d",
                        describe(v->vals[i], got, sizeof got), (int)o->milestones[i - 1]);
        o->n_milestones = i + 1;
    }
    return EQS_OK;
}

static eqs_status validate_optimizer(loader *ld, const node *root, int n_layers,
                                     eqs_optimizer_config *o)
{
    const node *sec = map_get(root, "optimizer");
    eqs_status st = load_section(ld, root, "optimizer", optimizer_keys, N_OF(optimizer_keys), o);
    if (st == EQS_OK)
        st = parse_lr(ld, map_get(sec, "lr"), n_layers, o);
    if (st == EQS_OK)
        st = parse_milestones(ld, sec, o);
    if (st != EQS_OK || o->schedule != EQS_SCHED_STEP || o->n_milestones > 0)
        return st;
    return fail(ld, map_get(sec, "schedule"), "optimizer.schedule",
                "schedule step needs optimizer.milestones (the epochs after which lr is "
                "multiplied by gamma)");
}

static eqs_status validate_experiment(loader *ld, const node *root, eqs_experiment_config *c)
{
    memset(c, 0, sizeof *c);
    eqs_status st = check_schema(ld, root, "", EXP_SCHEMA, EXP_HINT);
    if (st == EQS_OK)
        st = check_map(ld, root, "", experiment_keys, N_OF(experiment_keys));
    if (st == EQS_OK)
        st = fill_fields(ld, root, "", experiment_keys, N_OF(experiment_keys), c);
    if (st == EQS_OK)
        st = validate_model_entry(ld, root, &c->model);
    if (st == EQS_OK)
        st = validate_data(ld, root, &c->data);
    if (st == EQS_OK)
        st = validate_algorithm(ld, root, &c->algorithm);
    if (st == EQS_OK)
        st = check_rule(ld, root, &c->model, &c->algorithm);
    if (st == EQS_OK)
        st = check_pepita(ld, root, &c->model, &c->algorithm);
    if (st == EQS_OK)
        st = validate_optimizer(ld, root, c->model.n_layers, &c->optimizer);
    if (st == EQS_OK)
        st = load_section(ld, root, "training", training_keys, N_OF(training_keys), &c->training);
    return st;
}

/* ---- public loaders ---------------------------------------------------------------------- */

eqs_status eqs_model_load(eqs_model_config *out, const char *path, eqs_err *err)
{
    if (!out || !path)
        return eqs_err_set(err, EQS_EINVAL, "eqs_model_load: out and path must not be NULL");
    if (strlen(path) >= EQS_PATH_LEN)
        return eqs_err_set(err, EQS_EINVAL, "'%s': path longer than %d characters", path,
                           EQS_PATH_LEN - 1);
    loader ld = {.err = err};
    eqs_model_config tmp;
    node *root;
    eqs_status st = load_yaml_file(&ld, path, &root);
    if (st == EQS_OK)
        st = validate_model(&ld, root, "", &tmp);
    if (st == EQS_OK) {
        make_absolute(path, tmp.source_path, sizeof tmp.source_path);
        *out = tmp;
        eqs_err_clear(err);
    }
    mem_free_all(&ld);
    return st;
}

eqs_status eqs_experiment_load(eqs_experiment_config *out, const char *path,
                               const char *const *overrides, int n_overrides, eqs_err *err)
{
    if (!out || !path || n_overrides < 0 || (n_overrides > 0 && !overrides))
        return eqs_err_set(err, EQS_EINVAL, "eqs_experiment_load: invalid arguments");
    if (strlen(path) >= EQS_PATH_LEN)
        return eqs_err_set(err, EQS_EINVAL, "'%s': path longer than %d characters", path,
                           EQS_PATH_LEN - 1);
    loader ld = {.err = err, .exp_path = path};
    eqs_experiment_config tmp;
    node *root;
    eqs_status st = load_experiment_tree(&ld, path, overrides, n_overrides, &root);
    if (st == EQS_OK)
        st = validate_experiment(&ld, root, &tmp);
    if (st == EQS_OK) {
        snprintf(tmp.source_path, sizeof tmp.source_path, "%s", path);
        *out = tmp;
        eqs_err_clear(err);
    }
    mem_free_all(&ld);
    return st;
}

/* ---- writer ------------------------------------------------------------------------------ */

/* Strings are always double-quoted so that names like "true", "123" or "a: b" stay strings. */
static void write_str(FILE *f, const char *indent, const char *key, const char *s)
{
    fprintf(f, "%s%s: \"", indent, key);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputs("\"\n", f);
}

/* The shortest of %.15g/%.16g/%.17g that reads back to exactly v: exact round trips that read
 * as people write numbers (0.1, not 0.10000000000000001). */
static const char *format_double(char *buf, size_t len, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static void write_f64(FILE *f, const char *key, double v)
{
    char num[32];
    fprintf(f, "  %s: %s\n", key, format_double(num, sizeof num, v));
}

static void write_model(FILE *f, const eqs_model_config *m)
{
    fputs("model:\n", f);
    if (m->source_path[0])
        fprintf(f, "  # inlined from %s\n", m->source_path);
    fputs("  schema: " MODEL_SCHEMA "\n", f);
    write_str(f, "  ", "name", m->name);
    if (m->in_channels == 1 && m->in_height == 1)
        fprintf(f, "  input: {features: %d}\n", (int)m->in_width);
    else
        fprintf(f, "  input: {channels: %d, height: %d, width: %d}\n", (int)m->in_channels,
                (int)m->in_height, (int)m->in_width);
    fputs("  layers:\n", f);
    for (int i = 0; i < m->n_layers; i++) {
        const eqs_layer_config *l = &m->layers[i];
        fprintf(f, "    - {type: %s, name: \"%s\", out: %d", eqs_layer_type_name(l->type), l->name,
                (int)l->n_out);
        if (l->type == EQS_LAYER_CONV)
            fprintf(f, ", kernel: %d, padding: %d, pool: %s, pool_size: %d", (int)l->kernel,
                    (int)l->padding, eqs_pool_name(l->pool), (int)l->pool_size);
        if (l->dropout > 0) {
            char num[32];
            fprintf(f, ", dropout: %s", format_double(num, sizeof num, l->dropout));
        }
        fputs("}\n", f);
    }
    fprintf(f, "  activation: %s\n", eqs_activation_name(m->activation));
    fprintf(f, "  loss: %s\n", eqs_loss_name(m->loss));
    fprintf(f, "  readout: %s\n", eqs_readout_name(m->readout));
    fprintf(f, "  feedback: %s\n", eqs_feedback_name(m->feedback));
    fprintf(f, "  bias: %s\n", m->no_bias ? "false" : "true");
}

static void write_data(FILE *f, const eqs_data_config *d)
{
    fputs("data:\n", f);
    fprintf(f, "  format: %s\n", eqs_data_format_name(d->format));
    write_str(f, "  ", "dir", d->dir);
    fprintf(f, "  train_subset: %d\n", (int)d->train_subset);
    fprintf(f, "  test_subset: %d\n", (int)d->test_subset);
    fprintf(f, "  normalize: %s\n", d->normalize ? "true" : "false");
    write_f64(f, "mean", d->mean);
    write_f64(f, "std", d->std);
    fprintf(f, "  augment: %s\n", d->augment ? "true" : "false");
}

static void write_algorithm(FILE *f, const eqs_algorithm_config *a)
{
    fputs("algorithm:\n", f);
    fprintf(f, "  name: %s\n", eqs_algorithm_name(a->name));
    fprintf(f, "  estimator: %s\n", eqs_estimator_name(a->estimator));
    fprintf(f, "  rule: %s\n", eqs_rule_name(a->rule));
    write_f64(f, "beta", a->beta);
    fprintf(f, "  t1: %d\n  t2: %d\n", (int)a->t1, (int)a->t2);
    fprintf(f, "  bptt_truncate: %d\n", (int)a->bptt_truncate);
    fprintf(f, "  pepita_modulation: %s\n", eqs_pepita_modulation_name(a->pepita_modulation));
    write_f64(f, "pepita_f_scale", a->pepita_f_scale);
    write_f64(f, "pepita_random_scale", a->pepita_random_scale);
}

static void write_optimizer(FILE *f, const eqs_optimizer_config *o)
{
    fputs("optimizer:\n", f);
    fprintf(f, "  name: %s\n", eqs_optimizer_name(o->kind));
    if (o->n_lr == 1) {
        write_f64(f, "lr", o->lr[0]);
    } else {
        char num[32];
        fputs("  lr: [", f);
        for (int i = 0; i < o->n_lr; i++)
            fprintf(f, "%s%s", i ? ", " : "", format_double(num, sizeof num, o->lr[i]));
        fputs("]\n", f);
    }
    write_f64(f, "momentum", o->momentum);
    write_f64(f, "weight_decay", o->weight_decay);
    write_f64(f, "adam_beta1", o->adam_beta1);
    write_f64(f, "adam_beta2", o->adam_beta2);
    write_f64(f, "adam_eps", o->adam_eps);
    fprintf(f, "  schedule: %s\n", eqs_schedule_name(o->schedule));
    write_f64(f, "lr_final_frac", o->lr_final_frac);
    fprintf(f, "  schedule_epochs: %d\n", (int)o->schedule_epochs);
    fputs("  milestones: [", f);
    for (int i = 0; i < o->n_milestones; i++)
        fprintf(f, "%s%d", i ? ", " : "", (int)o->milestones[i]);
    fputs("]\n", f);
    write_f64(f, "gamma", o->gamma);
}

static void write_training(FILE *f, const eqs_training_config *t)
{
    fputs("training:\n", f);
    fprintf(f, "  epochs: %d\n", (int)t->epochs);
    fprintf(f, "  batch_size: %d\n", (int)t->batch_size);
    fprintf(f, "  eval_batch_size: %d\n", (int)t->eval_batch_size);
    fprintf(f, "  seed: %llu\n", (unsigned long long)t->seed);
    fprintf(f, "  threads: %d\n", (int)t->threads);
}

eqs_status eqs_experiment_write(const eqs_experiment_config *cfg, FILE *f, eqs_err *err)
{
    if (!cfg || !f)
        return eqs_err_set(err, EQS_EINVAL, "eqs_experiment_write: cfg and f must not be NULL");
    fputs("# resolved by eqsim; run again with: eqsim train <this file>\n", f);
    fputs("schema: " EXP_SCHEMA "\n", f);
    write_str(f, "", "name", cfg->name);
    write_model(f, &cfg->model);
    write_data(f, &cfg->data);
    write_algorithm(f, &cfg->algorithm);
    write_optimizer(f, &cfg->optimizer);
    write_training(f, &cfg->training);
    if (fflush(f) != 0 || ferror(f))
        return eqs_err_set(err, EQS_EIO, "cannot write the resolved config: %s", strerror(errno));
    return EQS_OK;
}
