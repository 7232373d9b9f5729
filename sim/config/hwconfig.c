/* hwconfig.c — hardware descriptions (schema eqs.hwconfig/1; docs/hwconfig.md): YAML → a
 * validated eqs_hw_config, `--set` overrides, and the writer.
 *
 * A hwconfig starts from eqs_hw_config_default (the `ideal` preset); the file sets what differs.
 * The `device:` section is read generically from the device descriptor tables (eqs/device.h):
 * the common table plus the table of the chosen kind, each row's YAML key being the table's name
 * without its unit suffix (g_max_sie → g_max, t0_s → t0). Rows whose unit is physical (S, s, V,
 * ohm, J, ...) must be written with their unit ("25 uS"); the others are plain numbers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

#include "eqs/config.h"

#define HW_HINT                                                                                    \
    "a hwconfig starts with 'schema: " HW_SCHEMA "' (in an experiment, set hardware=<file> "       \
    "before changing one of its keys)"
#define MAX_BITS     24
#define MAX_TILE     (1 << 20)
#define MAX_DEV_ROWS 40 /* kind + common + kind-specific + the piecewise lists */

_Static_assert(sizeof(eqs_adc_range_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pulse_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_neuron_dynamics) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_pulse_step) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_write_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_input_scaling) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_device_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_digital_unit) == sizeof(int), "enum size");
_Static_assert(sizeof(eqs_digital_rounding) == sizeof(int), "enum size");

static const char *const adc_mode_names[] = {"fixed", "calibrated"};
static const char *const pulse_mode_names[] = {"stochastic_rounding", "coincidence"};
static const char *const dynamics_names[] = {"discrete", "leaky"};
static const char *const pulse_step_names[] = {"nominal", "per_cell"};
static const char *const write_names[] = {"verify", "pulses"};
static const char *const input_scaling_names[] = {"none", "abs_max"};
static const char *const digital_names[] = {"none", "golden"};
static const char *const digital_rounding_names[] = {"stochastic", "nearest"};

/* Rows that explain themselves in range errors. Defaults come from eqs_hw_config_default. */
#define ROW_QTY(nm, st, fld, l, h, b, u, hlp)                                                      \
    {                                                                                              \
        .name = nm, .type = KEY_F64, .offset = offsetof(st, fld), .lo = l, .hi = h, .bounds = b,   \
        .unit = u, .help = hlp, .explain = 1                                                       \
    }
#define ROW_NUM(nm, st, fld, l, h, b, hlp) ROW_QTY(nm, st, fld, l, h, b, NULL, hlp)
#define ROW_INT(nm, st, fld, l, h, hlp)                                                            \
    {                                                                                              \
        .name = nm, .type = KEY_I32, .offset = offsetof(st, fld), .lo = l, .hi = h, .help = hlp,   \
        .explain = 1                                                                               \
    }

static const key_spec hw_keys[] = {
    ROW_CUSTOM("schema", 1, "must be " HW_SCHEMA),
    ROW_STR("name", eqs_hw_config, name, 1, "", "preset name"),
    ROW_STR("description", eqs_hw_config, description, 0, "", "one paragraph"),
    ROW_CUSTOM("sources", 0, "citations for the values"),
    ROW_CUSTOM("device", 0, "device kind and parameters"),
    ROW_CUSTOM("array", 0, "crossbar array"),
    ROW_CUSTOM("periphery", 0, "converters and output noise"),
    ROW_CUSTOM("update", 0, "pulse update scheme"),
    ROW_CUSTOM("neuron", 0, "neuron circuits"),
};

static const key_spec array_keys[] = {
    ROW_INT("max_rows", eqs_array_config, max_rows, 1, MAX_TILE, "largest tile's outputs"),
    ROW_INT("max_cols", eqs_array_config, max_cols, 1, MAX_TILE, "largest tile's inputs"),
    ROW_NUM("w_max", eqs_array_config, w_max, 0, 0, OPEN_LO | NO_HI,
            "|W| mapped to a device's full conductance range"),
    ROW_NUM("refresh_threshold", eqs_array_config, refresh_threshold, 0, 1, OPEN_HI,
            "refresh a pair when a device is this close to g_max, as a fraction of the range; "
            "0 = never"),
    ROW_QTY("r_wire", eqs_array_config, r_wire_ohm, 0, 1e6, 0, "ohm",
            "wire resistance per cell segment; 0 = no IR drop"),
    ROW_QTY("v_read", eqs_array_config, v_read_v, 0, 100, OPEN_LO, "V",
            "read voltage at full-scale input"),
    ROW_QTY("t_read", eqs_array_config, t_read_s, 0, 1e3, OPEN_LO, "s", "one array read"),
    ROW_QTY("t_pulse", eqs_array_config, t_pulse_s, 0, 1e3, OPEN_LO, "s", "one programming pulse"),
    ROW_QTY("v_pulse", eqs_array_config, v_pulse_v, 0, 100, OPEN_LO, "V",
            "programming pulse amplitude"),
    ROW_ENUM("write", eqs_array_config, write, 0, 0, write_names,
             "programming of initial/loaded weights: exact write-verify or open-loop pulses"),
};

static const key_spec periphery_keys[] = {
    ROW_INT("dac_bits", eqs_periphery_config, dac_bits, 0, MAX_BITS, "0 = ideal input"),
    ROW_NUM("dac_range", eqs_periphery_config, dac_range, 0, 0, OPEN_LO | NO_HI,
            "inputs clipped to [-dac_range, dac_range]"),
    ROW_INT("adc_bits", eqs_periphery_config, adc_bits, 0, MAX_BITS, "0 = ideal output"),
    ROW_ENUM("adc_range_mode", eqs_periphery_config, adc_range_mode, 0, 0, adc_mode_names,
             "fixed full scale, or calibrated per read"),
    ROW_NUM("adc_range", eqs_periphery_config, adc_range, 0, 0, OPEN_LO | NO_HI,
            "fixed mode: full scale in weight x input units"),
    ROW_NUM("out_noise", eqs_periphery_config, out_noise, 0, 0, NO_HI,
            "additive output noise std, weight x input units"),
    ROW_BOOL("exact_read_noise", eqs_periphery_config, exact_read_noise, 0,
             "per-device noise draws (slow, for validation)"),
    ROW_ENUM("input_scaling", eqs_periphery_config, input_scaling, 0, 0, input_scaling_names,
             "none, or abs_max: each input vector scaled to the DAC range, output scaled back"),
};

static const key_spec update_keys[] = {
    ROW_ENUM("mode", eqs_update_config, mode, 0, 0, pulse_mode_names, "how dW becomes pulses"),
    ROW_INT("max_pulses", eqs_update_config, max_pulses, 1, MAX_TILE,
            "pulses per device and update, clipping"),
    ROW_INT("bl", eqs_update_config, bl, 1, 65535, "coincidence: pulse-train length"),
    ROW_BOOL("one_sided", eqs_update_config, one_sided, 0, "only one device of a pair moves"),
    ROW_ENUM("pulse_step", eqs_update_config, pulse_step, 0, 0, pulse_step_names,
             "step the dW -> pulses conversion assumes: nominal (open loop) or per_cell"),
    ROW_ENUM("digital", eqs_update_config, digital, 0, 0, digital_names,
             "who computes the pulse counts: none (float dW -> optimizer -> tile) or golden (the "
             "RTL update unit's bit-exact model; plain SGD)"),
    ROW_ENUM("digital_rounding", eqs_update_config, digital_rounding, 0, 0, digital_rounding_names,
             "the update unit's rounding: stochastic (its LFSR) or nearest"),
    ROW_INT("digital_state_w", eqs_update_config, digital_state_w, 0, 16,
            "update unit operand bits; 0 = the RTL default"),
    ROW_INT("digital_state_f", eqs_update_config, digital_state_f, 0, 16,
            "update unit operand fractional bits; 0 = keep the default's integer bits"),
    ROW_INT("digital_scale_w", eqs_update_config, digital_scale_w, 0, 31,
            "update unit scale mantissa bits; 0 = the RTL default"),
    ROW_INT("digital_p_max", eqs_update_config, digital_p_max, 0, 32767,
            "update unit pulse saturation |count| <= p_max; 0 = the RTL default"),
};

static const key_spec neuron_keys[] = {
    ROW_INT("bits", eqs_neuron_config, bits, 0, MAX_BITS, "state resolution; 0 = float"),
    ROW_ENUM("dynamics", eqs_neuron_config, dynamics, 0, 0, dynamics_names,
             "discrete steps or leaky integration"),
    ROW_QTY("tau", eqs_neuron_config, tau_s, 0, 1e3, OPEN_LO, "s", "leaky: time constant"),
    ROW_QTY("dt", eqs_neuron_config, dt_s, 0, 1e3, OPEN_LO, "s", "leaky: Euler step, <= tau"),
    ROW_NUM("settle_tol", eqs_neuron_config, settle_tol, 0, 0, NO_HI,
            "end a phase when max |ds| < tol; 0 = run all steps"),
    ROW_QTY("t_step", eqs_neuron_config, t_step_s, 0, 1e3, OPEN_LO, "s",
            "one discrete relaxation step"),
};

static const key_spec source_item = {
    .name = "sources", .type = KEY_STR, .size = EQS_HW_TEXT_LEN, .help = "a citation"};
static const key_spec piecewise_item = {.name = "piecewise",
                                        .type = KEY_F64,
                                        .lo = 0,
                                        .hi = 1e3,
                                        .help = "relative step at the node (x dG_min)",
                                        .explain = 1};

/* ---- the device section, from the descriptor tables -------------------------------------- */

/* The row set of one kind: kind, the common table, the kind's table, and the piecewise lists
 * for kind piecewise. YAML names are the table names without a unit suffix. */
typedef struct device_rows {
    key_spec rows[MAX_DEV_ROWS];
    char names[MAX_DEV_ROWS][48];
    const eqs_param_desc *desc[MAX_DEV_ROWS]; /* NULL for kind and the lists */
    int n;
    const char *kind_names[EQS_DEV_N_KINDS];
} device_rows;

/* "g_max_sie" → "g_max" for unit S; "t0_s" → "t0" for unit s; other names unchanged. */
static void yaml_key(char *buf, size_t size, const eqs_param_desc *d)
{
    static const char *const suffix[][2] = {{"S", "_sie"},   {"s", "_s"}, {"V", "_v"},
                                            {"ohm", "_ohm"}, {"J", "_j"}, {"W", "_w"}};
    size_t len = strlen(d->name);
    for (int i = 0; i < N_OF(suffix); i++) {
        size_t ls = strlen(suffix[i][1]);
        if (strcmp(d->unit, suffix[i][0]) == 0 && len > ls &&
            strcmp(d->name + len - ls, suffix[i][1]) == 0)
            len -= ls;
    }
    snprintf(buf, size, "%.*s", (int)len, d->name);
}

/* The field of row i of the common table (the named fields of eqs_device_config, in order). */
static const size_t common_offsets[] = {
    offsetof(eqs_device_config, g_min_sie),        offsetof(eqs_device_config, g_max_sie),
    offsetof(eqs_device_config, n_states),         offsetof(eqs_device_config, d2d_step),
    offsetof(eqs_device_config, d2d_bounds),       offsetof(eqs_device_config, up_down),
    offsetof(eqs_device_config, d2d_up_down),      offsetof(eqs_device_config, c2c),
    offsetof(eqs_device_config, read_noise_rel),   offsetof(eqs_device_config, read_noise_sie),
    offsetof(eqs_device_config, stuck_off_frac),   offsetof(eqs_device_config, stuck_on_frac),
    offsetof(eqs_device_config, endurance_pulses),
};

static void add_param_row(device_rows *r, const eqs_param_desc *d, size_t offset)
{
    int i = r->n++;
    yaml_key(r->names[i], sizeof r->names[i], d);
    r->desc[i] = d;
    r->rows[i] = (key_spec){.name = r->names[i],
                            .type = KEY_F64,
                            .offset = offset,
                            .lo = d->lo,
                            .hi = d->hi,
                            .unit = cfg_unit_known(d->unit) ? d->unit : NULL,
                            .help = d->meaning,
                            .explain = 1};
}

static void add_custom_row(device_rows *r, const char *name, int required)
{
    int i = r->n++;
    r->desc[i] = NULL;
    r->rows[i] = (key_spec){.name = name, .type = KEY_CUSTOM, .required = required};
}

static eqs_status build_device_rows(device_rows *r, eqs_device_kind kind, eqs_err *err)
{
    int n_common, n_kind;
    const eqs_param_desc *common = eqs_device_common_params(&n_common);
    const eqs_param_desc *own = eqs_device_kind_params(kind, &n_kind);
    if (n_common != N_OF(common_offsets) || n_kind > EQS_DEV_MAX_PARAMS ||
        3 + n_common + n_kind > MAX_DEV_ROWS)
        return eqs_err_set(err, EQS_EINVAL,
                           "internal: the device tables (%d common, %d for %s) do not match "
                           "eqs_device_config",
                           n_common, n_kind, eqs_device_kind_name(kind));
    r->n = 0;
    add_custom_row(r, "kind", 1);
    for (int i = 0; i < n_common; i++)
        add_param_row(r, &common[i], common_offsets[i]);
    for (int i = 0; i < n_kind; i++)
        add_param_row(r, &own[i], offsetof(eqs_device_config, p) + (size_t)i * sizeof(double));
    if (kind == EQS_DEV_PIECEWISE) {
        add_custom_row(r, "piecewise_up", 0);
        add_custom_row(r, "piecewise_down", 0);
    }
    return EQS_OK;
}

static eqs_status parse_kind(loader *ld, const node *dev, const char *path, device_rows *r,
                             eqs_device_kind *kind)
{
    char p[KEYPATH_LEN];
    cfg_child_path(p, path, "kind");
    for (int k = 0; k < EQS_DEV_N_KINDS; k++)
        r->kind_names[k] = eqs_device_kind_name((eqs_device_kind)k);
    const key_spec kind_row = {
        .name = "kind", .type = KEY_ENUM, .names = r->kind_names, .n_names = EQS_DEV_N_KINDS};
    const node *v = cfg_map_get(dev, "kind");
    if (!v)
        return cfg_fail(ld, dev, p, "required key is missing (the device model; docs/devices.md)");
    int k = 0;
    eqs_status st = cfg_set_field(ld, &kind_row, v, p, &k);
    *kind = (eqs_device_kind)k;
    return st;
}

static int kind_has_key(eqs_device_kind k, const char *key)
{
    int n;
    const eqs_param_desc *t = eqs_device_kind_params(k, &n);
    for (int j = 0; j < n; j++) {
        char name[48];
        yaml_key(name, sizeof name, &t[j]);
        if (strcmp(name, key) == 0)
            return 1;
    }
    return 0;
}

/* A key of another kind's table gets a precise message instead of "unknown key". */
static eqs_status check_foreign_keys(loader *ld, const node *dev, const char *path,
                                     const device_rows *r, eqs_device_kind kind)
{
    for (int i = 0; i < dev->n; i++) {
        const char *key = dev->keys[i]->text;
        int known = 0;
        for (int j = 0; j < r->n; j++) {
            known |= strcmp(r->rows[j].name, key) == 0;
            if (!known && r->desc[j] && strcmp(r->desc[j]->name, key) == 0) {
                char p[KEYPATH_LEN];
                cfg_child_path(p, path, key);
                return cfg_fail(ld, dev->keys[i], p,
                                "unknown key (did you mean '%s'? YAML keys drop the unit suffix "
                                "and the value carries the unit: %s: %s)",
                                r->rows[j].name, r->rows[j].name,
                                r->rows[j].unit ? cfg_unit_example(r->rows[j].unit) : "1");
            }
        }
        const char *owners[EQS_DEV_N_KINDS];
        int n_owners = 0;
        for (int k = 0; !known && k < EQS_DEV_N_KINDS; k++)
            if (kind_has_key((eqs_device_kind)k, key))
                owners[n_owners++] = eqs_device_kind_name((eqs_device_kind)k);
        if (n_owners > 0) {
            char p[KEYPATH_LEN], list[256];
            cfg_child_path(p, path, key);
            cfg_join_names(list, sizeof list, owners, n_owners);
            return cfg_fail(ld, dev->keys[i], p,
                            "a parameter of kind%s %s, not of kind %s (remove it or change "
                            "device.kind)",
                            n_owners > 1 ? "s" : "", list, eqs_device_kind_name(kind));
        }
    }
    return EQS_OK;
}

static eqs_status parse_node_list(loader *ld, const node *v, const char *path, double *out, int *n)
{
    char got[96];
    if (v->kind != NODE_SEQ || v->n < 2 || v->n > EQS_DEV_MAX_PIECEWISE)
        return cfg_fail(
            ld, v, path, "expected a list of 2 to %d relative steps, got %s", EQS_DEV_MAX_PIECEWISE,
            v->kind == NODE_SEQ ? "a list of another length" : cfg_describe(v, got, sizeof got));
    for (int i = 0; i < v->n; i++) {
        char p[KEYPATH_LEN];
        cfg_index_path(p, path, i);
        eqs_status st = cfg_set_field(ld, &piecewise_item, v->vals[i], p, &out[i]);
        if (st != EQS_OK)
            return st;
    }
    *n = v->n;
    return EQS_OK;
}

static eqs_status parse_piecewise(loader *ld, const node *dev, const char *path,
                                  eqs_device_config *dc)
{
    const node *up = cfg_map_get(dev, "piecewise_up"), *down = cfg_map_get(dev, "piecewise_down");
    char pu[KEYPATH_LEN], pd[KEYPATH_LEN];
    cfg_child_path(pu, path, "piecewise_up");
    cfg_child_path(pd, path, "piecewise_down");
    if (!up && !down)
        return EQS_OK;
    if (!up || !down)
        return cfg_fail(ld, up ? up : down, up ? pd : pu,
                        "required key is missing (give piecewise_up and piecewise_down "
                        "together, one relative step per node)");
    int n_up = 0, n_down = 0;
    eqs_status st = parse_node_list(ld, up, pu, dc->piecewise_up, &n_up);
    if (st == EQS_OK)
        st = parse_node_list(ld, down, pd, dc->piecewise_down, &n_down);
    if (st == EQS_OK && n_up != n_down)
        return cfg_fail(ld, down, pd,
                        "expected as many nodes as piecewise_up (%d), got %d: the nodes are "
                        "shared, equally spaced over [g_min, g_max]",
                        n_up, n_down);
    dc->n_piecewise = n_up;
    return st;
}

/* eqs_device_config_check's messages read "device.<table name>: <text>": cite the value's place
 * in the YAML and its YAML key. */
static eqs_status device_check(loader *ld, const node *dev, const char *path, const device_rows *r,
                               const eqs_device_config *dc)
{
    eqs_err derr = {0};
    if (eqs_device_config_check(dc, &derr) == EQS_OK)
        return EQS_OK;
    const char *msg = derr.msg, *colon = strstr(msg, ": ");
    const node *at = dev;
    char p[KEYPATH_LEN];
    snprintf(p, sizeof p, "%s", path);
    if (strncmp(msg, "device.", 7) == 0 && colon) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - msg - 7), msg + 7);
        for (int i = 0; i < r->n; i++)
            if (strcmp(r->rows[i].name, name) == 0 ||
                (r->desc[i] && strcmp(r->desc[i]->name, name) == 0)) {
                snprintf(name, sizeof name, "%s", r->rows[i].name);
                break;
            }
        cfg_child_path(p, path, name);
        if (cfg_map_get(dev, name))
            at = cfg_map_get(dev, name);
        msg = colon + 2;
    }
    return cfg_fail(ld, at, p, "%s", msg);
}

static eqs_status check_bounds(loader *ld, const node *dev, const char *path,
                               const eqs_device_config *dc)
{
    char p[KEYPATH_LEN], lo[48], hi[48];
    if (dc->g_min_sie < dc->g_max_sie)
        return EQS_OK;
    const node *at = cfg_map_get(dev, "g_min") ? cfg_map_get(dev, "g_min") : dev;
    cfg_child_path(p, path, "g_min");
    return cfg_fail(ld, at, p,
                    "must be below g_max, got g_min = %s >= g_max = %s (lower g_min or raise "
                    "g_max)",
                    cfg_format_quantity(lo, sizeof lo, dc->g_min_sie, "S"),
                    cfg_format_quantity(hi, sizeof hi, dc->g_max_sie, "S"));
}

static eqs_status parse_device(loader *ld, const node *dev, const char *parent,
                               eqs_device_config *dc)
{
    char path[KEYPATH_LEN], got[96];
    cfg_child_path(path, parent, "device");
    if (!dev)
        return EQS_OK; /* the default: ideal */
    if (dev->kind != NODE_MAP)
        return cfg_fail(ld, dev, path, "expected a map with kind and parameters, got %s",
                        cfg_describe(dev, got, sizeof got));
    device_rows r;
    eqs_device_kind kind = EQS_DEV_IDEAL;
    eqs_status st = parse_kind(ld, dev, path, &r, &kind);
    if (st == EQS_OK)
        st = build_device_rows(&r, kind, ld->err);
    if (st == EQS_OK)
        st = check_foreign_keys(ld, dev, path, &r, kind);
    if (st == EQS_OK)
        st = cfg_check_map(ld, dev, path, r.rows, r.n);
    if (st != EQS_OK)
        return st;
    eqs_device_config_default(dc, kind);
    st = cfg_fill_given(ld, dev, path, r.rows, r.n, dc);
    if (st == EQS_OK)
        st = parse_piecewise(ld, dev, path, dc);
    if (st == EQS_OK)
        st = check_bounds(ld, dev, path, dc);
    return st == EQS_OK ? device_check(ld, dev, path, &r, dc) : st;
}

/* ---- the other sections ------------------------------------------------------------------ */

static eqs_status parse_sources(loader *ld, const node *map, const char *path, eqs_hw_config *hw)
{
    const node *v = cfg_map_get(map, "sources");
    char p[KEYPATH_LEN], got[96];
    cfg_child_path(p, path, "sources");
    hw->n_sources = 0;
    if (!v)
        return EQS_OK;
    if (v->kind != NODE_SEQ || v->n > EQS_HW_MAX_SRC)
        return cfg_fail(ld, v, p, "expected a list of at most %d citation strings, got %s",
                        EQS_HW_MAX_SRC,
                        v->kind == NODE_SEQ ? "a longer list" : cfg_describe(v, got, sizeof got));
    for (int i = 0; i < v->n; i++) {
        char ip[KEYPATH_LEN];
        cfg_index_path(ip, p, i);
        eqs_status st = cfg_set_field(ld, &source_item, v->vals[i], ip, hw->sources[i]);
        if (st != EQS_OK)
            return st;
        hw->n_sources = i + 1;
    }
    return EQS_OK;
}

/* An optional section: the keys it gives replace the defaults already in base. */
static eqs_status given_section(loader *ld, const node *map, const char *path, const char *name,
                                const key_spec *keys, int n, void *base)
{
    char p[KEYPATH_LEN];
    cfg_child_path(p, path, name);
    const node *sec = cfg_map_get(map, name);
    if (!sec)
        return EQS_OK;
    eqs_status st = cfg_check_map(ld, sec, p, keys, n);
    return st == EQS_OK ? cfg_fill_given(ld, sec, p, keys, n, base) : st;
}

/* The node of path's section key, else the section, else the root: where to point an error. */
static const node *place(const node *map, const char *section, const char *key)
{
    const node *sec = cfg_map_get(map, section);
    const node *v = cfg_map_get(sec, key);
    return v ? v : sec ? sec : map;
}

static eqs_status cross_checks(loader *ld, const node *map, const char *path,
                               const eqs_hw_config *hw)
{
    char p[KEYPATH_LEN], a[48], b[48];
    const eqs_neuron_config *nc = &hw->neuron;
    if (nc->dynamics == EQS_NEURON_LEAKY && nc->dt_s > nc->tau_s) {
        cfg_child_path(p, path, "neuron.dt");
        return cfg_fail(ld, place(map, "neuron", "dt"), p,
                        "the Euler step must not exceed tau, got dt = %s > tau = %s (lower dt or "
                        "raise tau)",
                        cfg_format_quantity(a, sizeof a, nc->dt_s, "s"),
                        cfg_format_quantity(b, sizeof b, nc->tau_s, "s"));
    }
    const eqs_update_config *uc = &hw->update;
    if (uc->digital_state_w > 0 && uc->digital_state_f >= uc->digital_state_w) {
        cfg_child_path(p, path, "update.digital_state_f");
        return cfg_fail(ld, place(map, "update", "digital_state_f"), p,
                        "must be below digital_state_w (%d), got %d", uc->digital_state_w,
                        uc->digital_state_f);
    }
    if (uc->digital_state_w == 1) {
        cfg_child_path(p, path, "update.digital_state_w");
        return cfg_fail(ld, place(map, "update", "digital_state_w"), p,
                        "expected 0 (the RTL default) or 2 .. 16, got 1");
    }
    if (hw->device.kind == EQS_DEV_PCM && !hw->update.one_sided) {
        cfg_child_path(p, path, "update.one_sided");
        return cfg_fail(ld, place(map, "update", "one_sided"), p,
                        "a pcm device only moves up gradually (RESET is abrupt): set "
                        "update.one_sided: true and a refresh_threshold");
    }
    return EQS_OK;
}

eqs_status cfg_validate_hw(loader *ld, const node *map, const char *path, eqs_hw_config *hw)
{
    eqs_hw_config_default(hw);
    hw->name[0] = hw->description[0] = '\0';
    eqs_status st = cfg_check_schema(ld, map, path, HW_SCHEMA, HW_HINT);
    if (st == EQS_OK)
        st = cfg_check_map(ld, map, path, hw_keys, N_OF(hw_keys));
    if (st == EQS_OK)
        st = cfg_fill_given(ld, map, path, hw_keys, N_OF(hw_keys), hw);
    if (st == EQS_OK)
        st = parse_sources(ld, map, path, hw);
    if (st == EQS_OK)
        st = parse_device(ld, cfg_map_get(map, "device"), path, &hw->device);
    if (st == EQS_OK)
        st = given_section(ld, map, path, "array", array_keys, N_OF(array_keys), &hw->array);
    if (st == EQS_OK)
        st = given_section(ld, map, path, "periphery", periphery_keys, N_OF(periphery_keys),
                           &hw->periphery);
    if (st == EQS_OK)
        st = given_section(ld, map, path, "update", update_keys, N_OF(update_keys), &hw->update);
    if (st == EQS_OK)
        st = given_section(ld, map, path, "neuron", neuron_keys, N_OF(neuron_keys), &hw->neuron);
    if (st == EQS_OK)
        st = cross_checks(ld, map, path, hw);
    return st;
}

/* ---- writer ------------------------------------------------------------------------------ */

static void write_list(FILE *f, const char *indent, const char *key, const double *v, int n)
{
    char num[32];
    fprintf(f, "%s%s: [", indent, key);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", cfg_format_double(num, sizeof num, v[i]));
    fputs("]\n", f);
}

static void write_section(FILE *f, const char *indent, const char *name, const key_spec *keys,
                          int n, const void *base)
{
    char inner[64];
    snprintf(inner, sizeof inner, "%s  ", indent);
    fprintf(f, "%s%s:\n", indent, name);
    cfg_write_rows(f, inner, keys, n, base);
}

void cfg_write_hw(FILE *f, const char *indent, const eqs_hw_config *hw)
{
    char inner[64];
    snprintf(inner, sizeof inner, "%s  ", indent);
    fprintf(f, "%sschema: " HW_SCHEMA "\n", indent);
    cfg_write_rows(f, indent, hw_keys, N_OF(hw_keys), hw);
    if (hw->n_sources > 0)
        fprintf(f, "%ssources:\n", indent);
    for (int i = 0; i < hw->n_sources; i++)
        cfg_write_item(f, inner, hw->sources[i]);
    const eqs_device_config *dc = &hw->device;
    device_rows r;
    fprintf(f, "%sdevice:\n", indent);
    fprintf(f, "%skind: %s\n", inner, eqs_device_kind_name(dc->kind));
    if (build_device_rows(&r, dc->kind, NULL) == EQS_OK)
        cfg_write_rows(f, inner, r.rows, r.n, dc);
    if (dc->kind == EQS_DEV_PIECEWISE) {
        write_list(f, inner, "piecewise_up", dc->piecewise_up, dc->n_piecewise);
        write_list(f, inner, "piecewise_down", dc->piecewise_down, dc->n_piecewise);
    }
    write_section(f, indent, "array", array_keys, N_OF(array_keys), &hw->array);
    write_section(f, indent, "periphery", periphery_keys, N_OF(periphery_keys), &hw->periphery);
    write_section(f, indent, "update", update_keys, N_OF(update_keys), &hw->update);
    write_section(f, indent, "neuron", neuron_keys, N_OF(neuron_keys), &hw->neuron);
}

/* ---- public API -------------------------------------------------------------------------- */

eqs_status eqs_hwconfig_load(eqs_hw_config *out, const char *path, const char *const *overrides,
                             int n_overrides, eqs_err *err)
{
    eqs_status st = cfg_check_load_args(
        "eqs_hwconfig_load", out && path && n_overrides >= 0 && (n_overrides == 0 || overrides),
        path, err);
    if (st != EQS_OK)
        return st;
    loader ld = {.err = err};
    eqs_hw_config *tmp = malloc(sizeof *tmp);
    if (!tmp)
        return eqs_err_set(err, EQS_ENOMEM, "out of memory while reading the configuration");
    node *root;
    st = cfg_load_yaml_file(&ld, path, &root);
    if (st == EQS_OK)
        st = cfg_check_schema(&ld, root, "", HW_SCHEMA, HW_HINT);
    for (int i = 0; st == EQS_OK && i < n_overrides; i++) {
        const char *key;
        st = cfg_apply_override(&ld, root, overrides[i], &key);
    }
    if (st == EQS_OK)
        st = cfg_validate_hw(&ld, root, "", tmp);
    if (st == EQS_OK) {
        cfg_make_absolute(path, tmp->source_path, sizeof tmp->source_path);
        *out = *tmp;
        eqs_err_clear(err);
    }
    free(tmp);
    cfg_mem_free_all(&ld);
    return st;
}

eqs_status eqs_hwconfig_write(const eqs_hw_config *hw, FILE *f, eqs_err *err)
{
    if (!hw || !f)
        return eqs_err_set(err, EQS_EINVAL, "eqs_hwconfig_write: hw and f must not be NULL");
    fputs("# written by eqsim (eqs_hwconfig_write): every key, values in SI units\n", f);
    if (hw->source_path[0])
        fprintf(f, "# from %s\n", hw->source_path);
    cfg_write_hw(f, "", hw);
    if (fflush(f) != 0 || ferror(f))
        return eqs_err_set(err, EQS_EIO, "cannot write the hwconfig: %s", strerror(errno));
    return EQS_OK;
}
