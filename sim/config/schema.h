/* schema.h — the config module's internal machinery, shared by the model/experiment loader
 * (config.c) and the hwconfig loader (hwconfig.c). Not a public header.
 *
 *   YAML (libyaml document API) → a tree of nodes that remember their origin (file, or
 *   "--set <text>") and 1-based line:col, allocated from one arena per load;
 *   `--set key.path=value` edits of that tree;
 *   key_spec tables (one row per key) walked into structs, with did-you-mean for unknown keys,
 *   required keys, ranges, enums and physical quantities with units ("25 uS", "50 ns");
 *   error messages "<file>:<line>:<col>: <key.path>: <what was expected>, got '<value>'";
 *   writer helpers (quoted strings, shortest round-tripping doubles, quantities in SI).
 */
#ifndef EQS_CONFIG_SCHEMA_H
#define EQS_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdio.h>

#include "eqs/config.h"

#define N_OF(a)     ((int)(sizeof(a) / sizeof((a)[0])))
#define KEYPATH_LEN 256
#define HW_SCHEMA   "eqs.hwconfig/1"

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

/* One load: the arena and where errors go. Loaders that need more context embed it. */
typedef struct loader {
    chunk *mem;
    int n_nodes;
    eqs_err *err;
} loader;

void *cfg_mem_alloc(loader *ld, size_t size); /* zeroed */
void cfg_mem_free_all(loader *ld);
char *cfg_mem_strndup(loader *ld, const char *s, size_t n);
char *cfg_mem_strdup(loader *ld, const char *s);
eqs_status cfg_oom(loader *ld);

node *cfg_node_new(loader *ld, node_kind kind, const char *origin, int line, int col);
int cfg_node_push(loader *ld, node *nd, node *key, node *val); /* 0 when out of memory */
int cfg_map_find(const node *map, const char *key);            /* index, or -1 */
/* NULL-safe: an absent optional section reads as a map without keys. */
const node *cfg_map_get(const node *map, const char *key);

/* ---- errors ------------------------------------------------------------------------------ */

/* "<where>: <path>: <msg>", where is file:line:col, or the origin alone when it has no
 * positions; the path is left out when empty (the document root). Returns EQS_ECONFIG. */
eqs_status cfg_fail(loader *ld, const node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* What a node holds, for "got ...": the quoted scalar (shortened, on one line), or its kind. */
const char *cfg_describe(const node *nd, char *buf, size_t size);
void cfg_child_path(char *buf, const char *parent, const char *key); /* buf: KEYPATH_LEN */
void cfg_index_path(char *buf, const char *parent, int i);
/* The closest of names[] within edit distance 2, or NULL. */
const char *cfg_closest(const char *word, const char *const *names, int n);
void cfg_join_names(char *buf, size_t size, const char *const *names, int n);

/* ---- YAML → tree ------------------------------------------------------------------------- */

eqs_status cfg_load_yaml_file(loader *ld, const char *path, node **out);
/* An override's value is YAML too; "" (from "key=") becomes the empty string. */
eqs_status cfg_load_yaml_text(loader *ld, const char *text, const char *origin, node **out);

/* ---- scalars ----------------------------------------------------------------------------- */

int cfg_parse_i64(const char *s, long long *v); /* 0 on success */
int cfg_parse_f64(const char *s, double *v);    /* 0 on success; finite only */
int cfg_is_null(const node *nd);
int cfg_find_name(const char *const *names, int n, const char *s); /* index, or -1 */
const char *cfg_enum_name(const char *const *names, int n, int v); /* "?" if out of range */

/* Physical quantities: "<number>[ ]<prefix><unit>", prefixes f p n u µ m k M G, units S, s, V,
 * ohm (or Ω), J, W, F, A. The value is exact: "25 uS" reads as the double nearest 25e-6. */
typedef enum qty_status {
    QTY_OK = 0,
    QTY_NO_UNIT,    /* a bare number */
    QTY_WRONG_UNIT, /* a valid quantity of another dimension; *got_unit says which */
    QTY_BAD,        /* not a number followed by a known unit */
} qty_status;
qty_status cfg_parse_quantity(const char *s, const char *unit, double *v, const char **got_unit);
int cfg_unit_known(const char *unit); /* 1 for the units above (by their main symbol) */
/* "a conductance", "siemens", "25 uS" for unit "S" (generic words for unknown units). */
const char *cfg_unit_what(const char *unit);
const char *cfg_unit_plural(const char *unit);
const char *cfg_unit_example(const char *unit);
/* A readable quantity with an engineering prefix ("10 mS", "0 S"): for messages only. */
const char *cfg_format_quantity(char *buf, size_t len, double v, const char *unit);

/* ---- schema tables ----------------------------------------------------------------------- */

typedef enum key_type {
    KEY_I32,
    KEY_U64,
    KEY_F64, /* a plain number, or a physical quantity when the row has a unit */
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
    const char *unit; /* KEY_F64: "S", "s", "V", "ohm", "J", ... (SI); NULL = dimensionless */
    int explain;      /* append the help to a range error: "..., got '0' (meaning)" */
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

/* Parses v into the row's field (base + offset); the error names path, the row's expectation
 * and the value. */
eqs_status cfg_set_field(loader *ld, const key_spec *k, const node *v, const char *path,
                         void *base);
/* Every non-custom row of a section: its value from the map, or its default. map may be NULL
 * (an absent optional section). */
eqs_status cfg_fill_fields(loader *ld, const node *map, const char *path, const key_spec *keys,
                           int n, void *base);
/* As cfg_fill_fields, but rows absent from the map keep the value already in base. */
eqs_status cfg_fill_given(loader *ld, const node *map, const char *path, const key_spec *keys,
                          int n, void *base);
/* The structural checks of a section: a map, no duplicate or unknown keys (with a suggestion
 * within two edits, or the list of valid keys), no missing required key. */
eqs_status cfg_check_map(loader *ld, const node *map, const char *path, const key_spec *keys,
                         int n);
/* cfg_check_map + cfg_fill_fields for a section of the root map; an absent optional section
 * takes every default. */
eqs_status cfg_load_section(loader *ld, const node *root, const char *name, const key_spec *keys,
                            int n, void *base);
/* The root must be a map whose `schema` is want: a mismatch gets the hint. */
eqs_status cfg_check_schema(loader *ld, const node *map, const char *path, const char *want,
                            const char *hint);

/* The public loaders' argument checks: ok (the caller's own NULL checks), a path that fits. */
eqs_status cfg_check_load_args(const char *fn, int ok, const char *path, eqs_err *err);

/* ---- paths and overrides ----------------------------------------------------------------- */

void cfg_dir_of(const char *path, char *buf, size_t size);
/* dir/rel, or rel alone when it is absolute or dir is "."; 0 when it does not fit. */
int cfg_join_path(char *buf, size_t size, const char *dir, const char *rel);
/* realpath() into buf when the path exists and fits; otherwise path unchanged. */
void cfg_make_absolute(const char *path, char *buf, size_t size);

/* Applies one "key.path=value" to the tree (value read as YAML; missing maps on the way are
 * created; errors cite "--set <text>"). *key is the key path as given (arena memory). */
eqs_status cfg_apply_override(loader *ld, node *root, const char *text, const char **key);

/* ---- writer ------------------------------------------------------------------------------ */

/* Strings are always double-quoted so that names like "true", "123" or "a: b" stay strings. */
void cfg_write_str(FILE *f, const char *indent, const char *key, const char *s);
void cfg_write_item(FILE *f, const char *indent, const char *s); /* "- <quoted s>" */
/* The shortest of %.15g/%.16g/%.17g that reads back to exactly v. */
const char *cfg_format_double(char *buf, size_t len, double v);
void cfg_write_f64(FILE *f, const char *indent, const char *key, double v);
/* "key: <shortest SI double> <unit>" (or a plain number when unit is NULL): reads back exactly. */
void cfg_write_quantity(FILE *f, const char *indent, const char *key, double v, const char *unit);

/* Every non-custom row as "key: value" (enums by name, quantities in SI with their unit,
 * strings quoted and left out when empty), each line starting with indent. */
void cfg_write_rows(FILE *f, const char *indent, const key_spec *keys, int n, const void *base);

/* ---- hwconfig (hwconfig.c), also reached from an experiment's `hardware:` ---------------- */

/* Validates a hwconfig map (schema eqs.hwconfig/1) found at path ("" for a file's root,
 * "hardware" inside an experiment) into *hw. */
eqs_status cfg_validate_hw(loader *ld, const node *map, const char *path, eqs_hw_config *hw);
/* Writes hw's keys, each line starting with indent (schema first). */
void cfg_write_hw(FILE *f, const char *indent, const eqs_hw_config *hw);

#endif
