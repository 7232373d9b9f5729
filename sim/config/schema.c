/* schema.c — the config module's shared machinery (schema.h): the YAML tree and its arena,
 * error messages, key_spec tables, physical quantities with units, overrides, writer helpers.
 *
 * All tree memory comes from one per-load arena, freed in one go, so grafting and overriding can
 * replace subtrees without tracking ownership.
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "schema.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define MAX_DEPTH 32     /* nesting of YAML collections */
#define MAX_NODES 100000 /* guards against alias bombs */

const char *cfg_enum_name(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "?";
}

/* ---- the tree and its arena -------------------------------------------------------------- */

void *cfg_mem_alloc(loader *ld, size_t size)
{
    chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    memset(c->data, 0, size);
    c->next = ld->mem;
    ld->mem = c;
    return c->data;
}

void cfg_mem_free_all(loader *ld)
{
    while (ld->mem) {
        chunk *next = ld->mem->next;
        free(ld->mem);
        ld->mem = next;
    }
}

char *cfg_mem_strndup(loader *ld, const char *s, size_t n)
{
    char *p = cfg_mem_alloc(ld, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *cfg_mem_strdup(loader *ld, const char *s)
{
    return cfg_mem_strndup(ld, s, strlen(s));
}

eqs_status cfg_oom(loader *ld)
{
    return eqs_err_set(ld->err, EQS_ENOMEM, "out of memory while reading the configuration");
}

node *cfg_node_new(loader *ld, node_kind kind, const char *origin, int line, int col)
{
    node *nd = cfg_mem_alloc(ld, sizeof *nd);
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
    node **keys = cfg_mem_alloc(ld, (size_t)cap * sizeof *keys);
    node **vals = cfg_mem_alloc(ld, (size_t)cap * sizeof *vals);
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

int cfg_node_push(loader *ld, node *nd, node *key, node *val)
{
    if (nd->n == nd->cap && !node_reserve(ld, nd, nd->cap ? 2 * nd->cap : 4))
        return 0;
    nd->keys[nd->n] = key;
    nd->vals[nd->n] = val;
    nd->n++;
    return 1;
}

int cfg_map_find(const node *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return -1;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return i;
    return -1;
}

/* NULL-safe: an absent optional section reads as a map without keys. */
const node *cfg_map_get(const node *map, const char *key)
{
    int i = cfg_map_find(map, key);
    return i < 0 ? NULL : map->vals[i];
}

/* ---- error messages ---------------------------------------------------------------------- */

/* "<where>: <path>: <msg>", where is file:line:col, or the origin alone when it has no
 * positions; the path is left out when empty (the document root). */
eqs_status cfg_fail(loader *ld, const node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

eqs_status cfg_fail(loader *ld, const node *at, const char *path, const char *fmt, ...)
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
const char *cfg_describe(const node *nd, char *buf, size_t size)
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

void cfg_child_path(char *buf, const char *parent, const char *key)
{
    if (parent[0])
        mark_truncated(buf, snprintf(buf, KEYPATH_LEN, "%s.%s", parent, key));
    else
        mark_truncated(buf, snprintf(buf, KEYPATH_LEN, "%s", key));
}

void cfg_index_path(char *buf, const char *parent, int i)
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
const char *cfg_closest(const char *word, const char *const *names, int n)
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

void cfg_join_names(char *buf, size_t size, const char *const *names, int n)
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
        return cfg_oom(ld);
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
        return cfg_oom(ld);
    for (; p < end; p++) {
        node *key, *val;
        eqs_status st = tree_from_yaml(ld, doc, yaml_document_get_node(doc, p->key), nd->origin,
                                       marks, depth + 1, &key);
        if (st != EQS_OK)
            return st;
        if (key->kind != NODE_SCALAR) {
            char got[96];
            return cfg_fail(ld, key, "", "expected a plain key, got %s",
                            cfg_describe(key, got, 96));
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
        return cfg_fail(ld, &at, "", "malformed YAML document");
    if (marks) {
        at.line = (int)yn->start_mark.line + 1;
        at.col = (int)yn->start_mark.column + 1;
    }
    if (depth > MAX_DEPTH || ld->n_nodes >= MAX_NODES)
        return cfg_fail(ld, &at, "", "nested deeper than %d levels or more than %d nodes",
                        MAX_DEPTH, MAX_NODES);
    node_kind kind = yn->type == YAML_MAPPING_NODE    ? NODE_MAP
                     : yn->type == YAML_SEQUENCE_NODE ? NODE_SEQ
                                                      : NODE_SCALAR;
    node *nd = cfg_node_new(ld, kind, origin, at.line, at.col);
    if (!nd)
        return cfg_oom(ld);
    *out = nd;
    if (kind == NODE_MAP)
        return map_from_yaml(ld, doc, yn, nd, marks, depth);
    if (kind == NODE_SEQ)
        return seq_from_yaml(ld, doc, yn, nd, marks, depth);
    nd->text = cfg_mem_strndup(ld, (const char *)yn->data.scalar.value, yn->data.scalar.length);
    nd->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return nd->text ? EQS_OK : cfg_oom(ld);
}

/* libyaml reports 0 for failure and keeps the details in the parser: turn them into one line. */
static eqs_status parser_error(loader *ld, const yaml_parser_t *p, const char *origin, int marks)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        return cfg_oom(ld);
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
    return root ? cfg_fail(ld, &at, "", "only one YAML document is allowed") : EQS_OK;
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

eqs_status cfg_load_yaml_file(loader *ld, const char *path, node **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return eqs_err_set(ld->err, EQS_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return eqs_err_set(ld->err, EQS_EIO, "cannot open '%s': %s", path, strerror(EISDIR));
    }
    const char *origin = cfg_mem_strdup(ld, path);
    yaml_parser_t parser;
    if (!origin || !yaml_parser_initialize(&parser)) {
        fclose(f);
        return cfg_oom(ld);
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
eqs_status cfg_load_yaml_text(loader *ld, const char *text, const char *origin, node **out)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return cfg_oom(ld);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    eqs_status st = load_document(ld, &parser, origin, 0, out);
    yaml_parser_delete(&parser);
    if (st == EQS_OK && !*out) { /* "key=" sets the empty string */
        *out = cfg_node_new(ld, NODE_SCALAR, origin, 0, 0);
        if (!*out || !((*out)->text = cfg_mem_strdup(ld, "")))
            return cfg_oom(ld);
    }
    return st;
}

/* ---- scalars ----------------------------------------------------------------------------- */

int cfg_parse_i64(const char *s, long long *v)
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

int cfg_parse_f64(const char *s, double *v)
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

int cfg_is_null(const node *nd)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (nd->kind != NODE_SCALAR || !nd->plain)
        return 0;
    for (int i = 0; i < N_OF(nulls); i++)
        if (strcmp(nd->text, nulls[i]) == 0)
            return 1;
    return 0;
}

/* ---- physical quantities ----------------------------------------------------------------- */

typedef struct unit_desc {
    const char *sym;     /* as written in YAML and by the writer */
    const char *alias;   /* another accepted spelling, or NULL */
    const char *what;    /* for "expected a conductance like ..." */
    const char *plural;  /* for "expected siemens, got ..." */
    const char *example; /* a value as a user would write it */
} unit_desc;

static const unit_desc units[] = {
    {"S", NULL, "a conductance", "siemens", "25 uS"},
    {"s", NULL, "a time", "seconds", "50 ns"},
    {"V", NULL, "a voltage", "volts", "0.2 V"},
    {"ohm", "\xce\xa9", "a resistance", "ohms", "1 kohm"},
    {"J", NULL, "an energy", "joules", "2 pJ"},
    {"W", NULL, "a power", "watts", "1 mW"},
    {"F", NULL, "a capacitance", "farads", "2 fF"},
    {"A", NULL, "a current", "amperes", "10 uA"},
};

typedef struct prefix_desc {
    const char *sym;
    int exp10;
} prefix_desc;

/* "" first so that a bare unit never reads as a prefix; "µ" as MICRO SIGN and GREEK MU. */
static const prefix_desc prefixes[] = {
    {"", 0},          {"f", -15}, {"p", -12}, {"n", -9}, {"u", -6}, {"\xc2\xb5", -6},
    {"\xce\xbc", -6}, {"m", -3},  {"k", 3},   {"M", 6},  {"G", 9},
};

static const unit_desc *find_unit(const char *sym)
{
    for (int i = 0; sym && i < N_OF(units); i++)
        if (strcmp(units[i].sym, sym) == 0)
            return &units[i];
    return NULL;
}

int cfg_unit_known(const char *unit)
{
    return find_unit(unit) != NULL;
}

const char *cfg_unit_what(const char *unit)
{
    const unit_desc *u = find_unit(unit);
    return u ? u->what : "a quantity";
}

const char *cfg_unit_plural(const char *unit)
{
    const unit_desc *u = find_unit(unit);
    return u ? u->plural : unit;
}

const char *cfg_unit_example(const char *unit)
{
    const unit_desc *u = find_unit(unit);
    return u ? u->example : "1";
}

/* suffix == prefix + unit (or its alias): the unit and the prefix's exponent. */
static const unit_desc *match_suffix(const char *suffix, int *exp10)
{
    for (int i = 0; i < N_OF(units); i++)
        for (int j = 0; j < N_OF(prefixes); j++) {
            size_t lp = strlen(prefixes[j].sym);
            if (strncmp(suffix, prefixes[j].sym, lp) != 0)
                continue;
            const char *rest = suffix + lp;
            if (strcmp(rest, units[i].sym) == 0 ||
                (units[i].alias && strcmp(rest, units[i].alias) == 0)) {
                *exp10 = prefixes[j].exp10;
                return &units[i];
            }
        }
    return NULL;
}

/* The decimal number at the start of s (sign, digits, '.', exponent; no hex, inf or nan):
 * its length, or 0. */
static size_t number_length(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; isdigit((unsigned char)s[i]) || s[i] == '.'; i++)
        digits += s[i] != '.';
    if (!digits)
        return 0;
    if ((s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) ||
         ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
        i += 2;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    return i;
}

qty_status cfg_parse_quantity(const char *s, const char *unit, double *v, const char **got_unit)
{
    size_t len = number_length(s);
    if (!len || len > 64)
        return QTY_BAD;
    const char *suffix = s + len;
    while (*suffix == ' ')
        suffix++;
    if (!*suffix)
        return suffix == s + len && cfg_parse_f64(s, v) == 0 ? QTY_NO_UNIT : QTY_BAD;
    int exp10 = 0;
    const unit_desc *u = match_suffix(suffix, &exp10);
    if (!u)
        return QTY_BAD;
    /* Scale in decimal, then round once: "25 uS" reads as strtod("25e-6"). */
    char num[96];
    const char *e = strpbrk(s, "eE");
    long long e_given = 0;
    if (e && e < s + len) {
        char exp_text[24];
        snprintf(exp_text, sizeof exp_text, "%.*s", (int)(s + len - e - 1), e + 1);
        if (cfg_parse_i64(exp_text[0] == '+' ? exp_text + 1 : exp_text, &e_given) ||
            llabs(e_given) > 100000)
            return QTY_BAD;
        len = (size_t)(e - s);
    }
    snprintf(num, sizeof num, "%.*se%lld", (int)len, s, e_given + exp10);
    double x;
    if (cfg_parse_f64(num, &x) != 0)
        return QTY_BAD;
    if (unit && strcmp(u->sym, unit) != 0) {
        *got_unit = u->sym;
        return QTY_WRONG_UNIT;
    }
    *v = x;
    return QTY_OK;
}

const char *cfg_format_quantity(char *buf, size_t len, double v, const char *unit)
{
    static const char *const syms[] = {"f", "p", "n", "u", "m", "", "k", "M", "G"};
    int k = 5; /* index of "" */
    double a = fabs(v), scaled = v;
    if (a > 0) {
        k = (int)floor(log10(a) / 3.0) + 5;
        k = k < 0 ? 0 : k >= N_OF(syms) ? N_OF(syms) - 1 : k;
        scaled = v / pow(10.0, 3.0 * (k - 5));
    }
    snprintf(buf, len, "%.6g %s%s", scaled, syms[k], unit);
    return buf;
}

static int find_key(const key_spec *keys, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- filling fields from rows ------------------------------------------------------------ */

/* "expected <noun> in [lo, hi]" (or ">= lo", or "a finite number"); quantities show their
 * bounds with the unit. */
static void f64_range_text(const key_spec *k, const char *noun, char *buf, size_t size)
{
    char lo[48], hi[48];
    if (k->unit) {
        cfg_format_quantity(lo, sizeof lo, k->lo, k->unit);
        cfg_format_quantity(hi, sizeof hi, k->hi, k->unit);
    } else {
        snprintf(lo, sizeof lo, "%g", k->lo);
        snprintf(hi, sizeof hi, "%g", k->hi);
    }
    if ((k->bounds & NO_LO) && (k->bounds & NO_HI))
        snprintf(buf, size, k->unit ? "expected %s" : "expected a finite number", noun);
    else if (k->bounds & NO_HI)
        snprintf(buf, size, "expected %s %s %s", noun, (k->bounds & OPEN_LO) ? ">" : ">=", lo);
    else
        snprintf(buf, size, "expected %s in %c%s, %s%c", noun, (k->bounds & OPEN_LO) ? '(' : '[',
                 lo, hi, (k->bounds & OPEN_HI) ? ')' : ']');
}

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
        cfg_join_names(list, sizeof list, k->names, k->n_names);
        snprintf(buf, size, "expected one of %s", list);
        return;
    }
    case KEY_F64:
        f64_range_text(k, "a number", buf, size);
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

int cfg_find_name(const char *const *names, int n, const char *s)
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
        if (cfg_parse_i64(s, &i) || i < (long long)k->lo || i > (long long)k->hi)
            return 0;
        *(int32_t *)field = (int32_t)i;
        return 1;
    case KEY_U64:
        if (parse_u64(s, &u))
            return 0;
        *(uint64_t *)field = (uint64_t)u;
        return 1;
    case KEY_F64:
        if (cfg_parse_f64(s, &d) || !f64_in_range(k, d))
            return 0;
        *(double *)field = d;
        return 1;
    case KEY_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return 0;
        *(int32_t *)field = s[0] == 't';
        return 1;
    case KEY_ENUM:
        if ((i = cfg_find_name(k->names, k->n_names, s)) < 0)
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

/* A KEY_F64 row with a unit: the text must be a quantity of that dimension, in range. */
static eqs_status set_quantity(loader *ld, const key_spec *k, const node *v, const char *path,
                               double *field, const char *hint)
{
    const char *what = cfg_unit_what(k->unit), *ex = cfg_unit_example(k->unit), *other = NULL;
    char got[96], expected[320];
    double x = 0;
    cfg_describe(v, got, sizeof got);
    qty_status q =
        v->kind == NODE_SCALAR ? cfg_parse_quantity(v->text, k->unit, &x, &other) : QTY_BAD;
    if (q == QTY_NO_UNIT)
        return cfg_fail(ld, v, path, "missing unit: expected %s like '%s', got %s", what, ex, got);
    if (q == QTY_WRONG_UNIT)
        return cfg_fail(ld, v, path, "expected %s, got %s (that is %s; write %s like '%s')",
                        cfg_unit_plural(k->unit), got, cfg_unit_what(other), what, ex);
    if (q == QTY_BAD)
        return cfg_fail(ld, v, path,
                        "expected %s like '%s' (a number, then %s with an optional prefix f, p, "
                        "n, u or µ, m, k, M, G), got %s",
                        what, ex, k->unit, got);
    if (f64_in_range(k, x)) {
        *field = x;
        return EQS_OK;
    }
    if (x < 0 && !(k->bounds & NO_LO) && k->lo >= 0)
        return cfg_fail(ld, v, path, "%s cannot be negative, got %s%s", what, got, hint);
    f64_range_text(k, what, expected, sizeof expected);
    return cfg_fail(ld, v, path, "%s, got %s%s", expected, got, hint);
}

eqs_status cfg_set_field(loader *ld, const key_spec *k, const node *v, const char *path, void *base)
{
    void *field = (char *)base + k->offset;
    char expected[320], got[96], hint[320] = "";
    if (k->explain && k->help)
        snprintf(hint, sizeof hint, " (%s: %s)", k->name, k->help);
    if (k->type == KEY_F64 && k->unit)
        return set_quantity(ld, k, v, path, field, hint);
    if (v->kind == NODE_SCALAR && !(k->type == KEY_STR && cfg_is_null(v)) &&
        parse_into(k, v->text, field))
        return EQS_OK;
    const char *near = NULL;
    expected_text(k, expected, sizeof expected);
    if (k->type == KEY_ENUM && v->kind == NODE_SCALAR)
        near = cfg_closest(v->text, k->names, k->n_names);
    if (near)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    return cfg_fail(ld, v, path, "%s, got %s%s", expected, cfg_describe(v, got, sizeof got), hint);
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
static eqs_status fill_rows(loader *ld, const node *map, const char *path, const key_spec *keys,
                            int n, void *base, int defaults)
{
    for (int i = 0; i < n; i++) {
        if (keys[i].type == KEY_CUSTOM)
            continue;
        const node *v = cfg_map_get(map, keys[i].name);
        char p[KEYPATH_LEN];
        cfg_child_path(p, path, keys[i].name);
        if (!v) {
            if (defaults)
                set_default(&keys[i], base);
            continue;
        }
        eqs_status st = cfg_set_field(ld, &keys[i], v, p, base);
        if (st != EQS_OK)
            return st;
    }
    return EQS_OK;
}

eqs_status cfg_fill_fields(loader *ld, const node *map, const char *path, const key_spec *keys,
                           int n, void *base)
{
    return fill_rows(ld, map, path, keys, n, base, 1);
}

eqs_status cfg_fill_given(loader *ld, const node *map, const char *path, const key_spec *keys,
                          int n, void *base)
{
    return fill_rows(ld, map, path, keys, n, base, 0);
}

static eqs_status unknown_key(loader *ld, const node *key, const char *path, const key_spec *keys,
                              int n)
{
    const char *names[64];
    n = n < N_OF(names) ? n : N_OF(names);
    for (int i = 0; i < n; i++)
        names[i] = keys[i].name;
    const char *near = cfg_closest(key->text, names, n);
    if (near)
        return cfg_fail(ld, key, path, "unknown key (did you mean '%s'?)", near);
    char list[640];
    cfg_join_names(list, sizeof list, names, n);
    return cfg_fail(ld, key, path, "unknown key (valid keys: %s)", list);
}

static eqs_status check_keys_known(loader *ld, const node *map, const char *path,
                                   const key_spec *keys, int n)
{
    for (int i = 0; i < map->n; i++) {
        const node *key = map->keys[i];
        char p[KEYPATH_LEN];
        cfg_child_path(p, path, key->text);
        for (int j = 0; j < i; j++)
            if (strcmp(map->keys[j]->text, key->text) == 0)
                return cfg_fail(ld, key, p, "duplicate key (first given at line %d)",
                                map->keys[j]->line);
        if (find_key(keys, n, key->text) < 0)
            return unknown_key(ld, key, p, keys, n);
    }
    return EQS_OK;
}

/* The structural checks of a section: a map, no duplicate or unknown keys, no missing
 * required key. */
eqs_status cfg_check_map(loader *ld, const node *map, const char *path, const key_spec *keys, int n)
{
    char got[96];
    if (map->kind != NODE_MAP)
        return cfg_fail(ld, map, path, "expected a map, got %s",
                        cfg_describe(map, got, sizeof got));
    eqs_status st = check_keys_known(ld, map, path, keys, n);
    for (int i = 0; st == EQS_OK && i < n; i++) {
        char p[KEYPATH_LEN];
        cfg_child_path(p, path, keys[i].name);
        if (keys[i].required && !cfg_map_get(map, keys[i].name))
            st = cfg_fail(ld, map, p, "required key is missing");
    }
    return st;
}

/* check_map + fill_fields for a section of the root map; an absent optional section takes
 * every default. */
eqs_status cfg_load_section(loader *ld, const node *root, const char *name, const key_spec *keys,
                            int n, void *base)
{
    const node *sec = cfg_map_get(root, name);
    if (sec) {
        eqs_status st = cfg_check_map(ld, sec, name, keys, n);
        if (st != EQS_OK)
            return st;
    }
    return cfg_fill_fields(ld, sec, name, keys, n, base);
}

/* The root must be a map whose `schema` names this loader's format: a mismatch gets a HINT,
 * before any unknown-key error the other format would cause. */
eqs_status cfg_check_schema(loader *ld, const node *map, const char *path, const char *want,
                            const char *hint)
{
    char got[96], p[KEYPATH_LEN];
    cfg_child_path(p, path, "schema");
    if (map->kind != NODE_MAP)
        return cfg_fail(ld, map, path, "expected a map starting with 'schema: %s', got %s", want,
                        cfg_describe(map, got, sizeof got));
    const node *v = cfg_map_get(map, "schema");
    if (!v)
        return cfg_fail(ld, map, p, "required key is missing (HINT: %s)", hint);
    if (v->kind != NODE_SCALAR || strcmp(v->text, want) != 0)
        return cfg_fail(ld, v, p, "expected %s, got %s (HINT: %s)", want,
                        cfg_describe(v, got, sizeof got), hint);
    return EQS_OK;
}

/* ---- paths ------------------------------------------------------------------------------- */

void cfg_dir_of(const char *path, char *buf, size_t size)
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
int cfg_join_path(char *buf, size_t size, const char *dir, const char *rel)
{
    int n;
    if (rel[0] == '/' || strcmp(dir, ".") == 0)
        n = snprintf(buf, size, "%s", rel);
    else
        n = snprintf(buf, size, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    return n >= 0 && (size_t)n < size;
}

/* realpath() into buf when the path exists and fits; otherwise path unchanged. */
void cfg_make_absolute(const char *path, char *buf, size_t size)
{
    char *real = realpath(path, NULL);
    if (real && strlen(real) < size)
        snprintf(buf, size, "%s", real);
    else if (buf != path)
        snprintf(buf, size, "%s", path);
    free(real);
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
        if (!isdigit((unsigned char)comp[0]) || cfg_parse_i64(comp, &idx) || idx >= cur->n)
            return cfg_fail(ld, &at, done, "expected an index in [0, %d] into the sequence",
                            cur->n - 1);
        *slot = &cur->vals[idx];
        return EQS_OK;
    }
    if (cur->kind != NODE_MAP)
        return cfg_fail(ld, &at, done, "cannot set '%s' inside %s", comp,
                        cfg_describe(cur, got, sizeof got));
    int i = cfg_map_find(cur, comp);
    if (i < 0) {
        node *key = cfg_node_new(ld, NODE_SCALAR, origin, 0, 0);
        if (!key || !(key->text = cfg_mem_strdup(ld, comp)) || !cfg_node_push(ld, cur, key, NULL))
            return cfg_oom(ld);
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
            return cfg_fail(ld, &at, "", "empty component in the key path");
        snprintf(parent, sizeof parent, "%s", done);
        cfg_child_path(done, parent, comp);
        node **slot = NULL;
        eqs_status st = override_slot(ld, cur, comp, parent, origin, &slot);
        if (st != EQS_OK)
            return st;
        if (!dot) {
            *slot = value;
            return EQS_OK;
        }
        if (!*slot && !(*slot = cfg_node_new(ld, NODE_MAP, origin, 0, 0)))
            return cfg_oom(ld);
        cur = *slot;
        comp = dot + 1;
    }
}

eqs_status cfg_apply_override(loader *ld, node *root, const char *text, const char **key)
{
    if (!text)
        return eqs_err_set(ld->err, EQS_EINVAL, "--set: the override is a NULL string");
    size_t len = strlen(text) + sizeof "--set ";
    char *origin = cfg_mem_alloc(ld, len);
    if (!origin)
        return cfg_oom(ld);
    snprintf(origin, len, "--set %s", text);
    node at = {.origin = origin};
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return cfg_fail(ld, &at, "", "expected key.path=value");
    char *whole = cfg_mem_strndup(ld, text, (size_t)(eq - text));
    char *split = cfg_mem_strndup(ld, text, (size_t)(eq - text)); /* cfg_set_path cuts it */
    node *value;
    if (!whole || !split)
        return cfg_oom(ld);
    *key = whole;
    eqs_status st = cfg_load_yaml_text(ld, eq + 1, origin, &value);
    return st == EQS_OK ? set_path(ld, root, split, value, origin) : st;
}

/* ---- writer ------------------------------------------------------------------------------ */

/* Strings are always double-quoted so that names like "true", "123" or "a: b" stay strings. */
static void write_quoted(FILE *f, const char *s)
{
    fputc('"', f);
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

void cfg_write_str(FILE *f, const char *indent, const char *key, const char *s)
{
    fprintf(f, "%s%s: ", indent, key);
    write_quoted(f, s);
}

void cfg_write_item(FILE *f, const char *indent, const char *s)
{
    fprintf(f, "%s- ", indent);
    write_quoted(f, s);
}

/* The shortest of %.15g/%.16g/%.17g that reads back to exactly v: exact round trips that read
 * as people write numbers (0.1, not 0.10000000000000001). */
const char *cfg_format_double(char *buf, size_t len, double v)
{
    if (!buf || len == 0)
        return "";
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

void cfg_write_f64(FILE *f, const char *indent, const char *key, double v)
{
    char num[32];
    fprintf(f, "%s%s: %s\n", indent, key, cfg_format_double(num, sizeof num, v));
}

void cfg_write_quantity(FILE *f, const char *indent, const char *key, double v, const char *unit)
{
    char num[32];
    fprintf(f, "%s%s: %s%s%s\n", indent, key, cfg_format_double(num, sizeof num, v),
            unit ? " " : "", unit ? unit : "");
}

void cfg_write_rows(FILE *f, const char *indent, const key_spec *keys, int n, const void *base)
{
    for (int i = 0; i < n; i++) {
        const key_spec *k = &keys[i];
        const void *field = (const char *)base + k->offset;
        switch (k->type) {
        case KEY_I32:
            fprintf(f, "%s%s: %d\n", indent, k->name, (int)*(const int32_t *)field);
            break;
        case KEY_U64:
            fprintf(f, "%s%s: %llu\n", indent, k->name,
                    (unsigned long long)*(const uint64_t *)field);
            break;
        case KEY_F64:
            cfg_write_quantity(f, indent, k->name, *(const double *)field, k->unit);
            break;
        case KEY_BOOL:
            fprintf(f, "%s%s: %s\n", indent, k->name, *(const int32_t *)field ? "true" : "false");
            break;
        case KEY_ENUM:
            fprintf(f, "%s%s: %s\n", indent, k->name,
                    cfg_enum_name(k->names, k->n_names, *(const int *)field));
            break;
        case KEY_STR:
            if (*(const char *)field)
                cfg_write_str(f, indent, k->name, field);
            break;
        case KEY_CUSTOM:
            break;
        }
    }
}

eqs_status cfg_check_load_args(const char *fn, int ok, const char *path, eqs_err *err)
{
    if (!ok)
        return eqs_err_set(err, EQS_EINVAL, "%s: invalid arguments", fn);
    if (strlen(path) >= EQS_PATH_LEN)
        return eqs_err_set(err, EQS_EINVAL, "'%s': path longer than %d characters", path,
                           EQS_PATH_LEN - 1);
    return EQS_OK;
}
