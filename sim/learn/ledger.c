/* ledger.c — the action counters of a network (DESIGN.md, "cost ledger") as one tidy CSV:
 * one row per (component, phase, counter), so that energy and latency can be priced later from
 * the hwconfig's per-action costs without simulating again. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqs/io.h"
#include "eqs/learn.h"

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static bool buf_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool buf_printf(text_buf *b, const char *fmt, ...)
{
    if (!b->data) { /* never offset a NULL pointer, not even by 0 */
        b->cap = 4096;
        b->data = malloc(b->cap);
        if (!b->data)
            return false;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return false;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return true;
        }
        size_t cap = 2 * b->cap + (size_t)n + 1;
        char *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
}

static bool tile_rows(text_buf *b, const char *array, const eqs_tile *t)
{
    for (int p = 0; p < EQS_PHASE_N; p++) {
        const eqs_tile_counts *c = eqs_tile_counts_get(t, (eqs_phase)p);
        const char *ph = eqs_phase_name((eqs_phase)p);
        const struct {
            const char *name;
            uint64_t v;
        } rows[] = {
            {"mvm", c->mvm},
            {"mvm_t", c->mvm_t},
            {"dac_conv", c->dac_conv},
            {"adc_conv", c->adc_conv},
            {"macs", c->macs},
            {"updates", c->updates},
            {"pulses_up", c->pulses_up},
            {"pulses_down", c->pulses_down},
            {"refresh_pairs", c->refresh_pairs},
            {"refresh_pulses", c->refresh_pulses},
        };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            if (!buf_printf(b, "%s,%s,%s,%" PRIu64 "\n", array, ph, rows[i].name, rows[i].v))
                return false;
        if (!buf_printf(b, "%s,%s,pulse_g_sum_sie,%.17g\n", array, ph, c->pulse_g_sum_sie))
            return false;
    }
    return true;
}

static bool neuron_rows(text_buf *b, eqs_crnn *net)
{
    for (int p = 0; p < EQS_PHASE_N; p++) {
        const eqs_neuron_counts *c = eqs_crnn_neuron_counts(net, (eqs_phase)p);
        const char *ph = eqs_phase_name((eqs_phase)p);
        if (!buf_printf(b,
                        "neurons,%s,relaxations,%" PRIu64 "\nneurons,%s,settled,%" PRIu64
                        "\nneurons,%s,steps,%" PRIu64 "\nneurons,%s,neuron_updates,%" PRIu64 "\n",
                        ph, c->relaxations, ph, c->settled, ph, c->steps, ph, c->neuron_updates))
            return false;
    }
    return true;
}

static bool digital_rows(text_buf *b, eqs_crnn *net, const eqs_digital *dig)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    for (int32_t k = 0; dig && k < eqs_crnn_n_layers(net); k++) {
        const eqs_digital_counts *c = eqs_digital_counts_get(dig, k);
        const struct {
            const char *name;
            uint64_t v;
        } rows[] = {
            {"transactions", c->transactions},
            {"synapse_updates", c->synapse_updates},
            {"bias_updates", c->bias_updates},
            {"synapse_samples", c->synapse_samples},
            {"beats", c->beats},
            {"pulses", c->pulses},
            {"saturated", c->saturated},
            {"operands_clipped", c->operands_clipped},
        };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            if (!buf_printf(b, "%s.update_unit,%s,%s,%" PRIu64 "\n", m->layers[k].name,
                            eqs_phase_name(EQS_PHASE_UPDATE), rows[i].name, rows[i].v))
                return false;
    }
    return true;
}

static bool all_rows(text_buf *b, eqs_crnn *net)
{
    const eqs_model_config *m = eqs_crnn_model(net);
    if (!buf_printf(b, "component,phase,counter,value\n") || !neuron_rows(b, net))
        return false;
    for (int32_t k = 0; k < eqs_crnn_n_layers(net); k++) {
        char name[EQS_NAME_LEN + 16];
        snprintf(name, sizeof name, "%s.weight", m->layers[k].name);
        if (!tile_rows(b, name, eqs_crnn_tile(net, k)))
            return false;
        if (eqs_crnn_has_back(net, k)) {
            snprintf(name, sizeof name, "%s.weight_back", m->layers[k].name);
            if (!tile_rows(b, name, eqs_crnn_tile_back(net, k)))
                return false;
        }
    }
    return true;
}

eqs_status eqs_ledger_write_csv(eqs_crnn *net, const char *path, eqs_err *err)
{
    return eqs_ledger_write_csv_digital(net, NULL, path, err);
}

eqs_status eqs_ledger_write_csv_digital(eqs_crnn *net, const eqs_digital *dig, const char *path,
                                        eqs_err *err)
{
    text_buf b = {0};
    if (!all_rows(&b, net) || !digital_rows(&b, net, dig)) {
        free(b.data);
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory formatting the counters", path);
    }
    eqs_status st = eqs_write_file_atomic(path, b.data, b.len, err);
    free(b.data);
    return st;
}
