/* eqs_rtl_upd.h — a C interface to the verilated update units (rtl/ep_update_unit.v,
 * rtl/pepita_update_unit.v), for `eqsim cosim`. Built only when EQS_BUILD_RTL is on (the library
 * eqs_rtl_shim; eqsim then gets the compile definition EQS_HAVE_RTL).
 *
 * A unit is the verilated model at the RTL's build formats (rtl/upd_formats.def, the same as
 * eqs_updunit_format_default), reset and seeded like eqs_updunit_init(seed). run_layer streams
 * one layer exactly as eqs_updunit_layer orders it — synapse s = i*cols + j on lane s % LANES,
 * beat group s / LANES, the n samples in order, the last group padded with zero operands — with
 * valid and ready always high, and returns the unit's outputs, so the result must equal
 * eqs_updunit_layer's bit for bit when the two started from the same seed and saw the same
 * transactions.
 */
#ifndef EQS_RTL_UPD_H
#define EQS_RTL_UPD_H

#include <stddef.h>
#include <stdint.h>

#include "eqs/updunit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eqs_rtl_upd eqs_rtl_upd;

/* kind: EQS_UPDUNIT_EP or EQS_UPDUNIT_PEPITA. Returns 0, or -1 with a message in msg. */
int eqs_rtl_upd_create(eqs_rtl_upd **out, eqs_updunit_kind kind, uint32_t seed, char *msg,
                       size_t msg_len);
void eqs_rtl_upd_destroy(eqs_rtl_upd *r); /* NULL-safe */

/* The formats the model was verilated with. */
void eqs_rtl_upd_format(const eqs_rtl_upd *r, eqs_updunit_format *fmt);

/* Applies cfg (the pipeline is drained first, as the RTL requires), then streams the operand
 * codes a, c [n x rows] and b, d [n x cols] (port codes as eqs_updunit_quantize returns them;
 * NULL reads as 0) and writes out [rows x cols] (sign-extended output LSBs). Returns 0, or -1
 * with a message when the unit stops producing outputs. */
int eqs_rtl_upd_run_layer(eqs_rtl_upd *r, const eqs_updunit_cfg *cfg, int32_t n, int32_t rows,
                          int32_t cols, const int32_t *a, const int32_t *b, const int32_t *c,
                          const int32_t *d, int32_t *out, char *msg, size_t msg_len);

/* Loads seed into the generators (cfg_seed_load), as eqs_updunit_reseed does. */
void eqs_rtl_upd_reseed(eqs_rtl_upd *r, uint32_t seed);

/* Clock cycles simulated so far. */
uint64_t eqs_rtl_upd_cycles(const eqs_rtl_upd *r);

#ifdef __cplusplus
}
#endif
#endif
