// eqs_rtl_upd.cpp — the verilated update units behind a C interface (eqs_rtl_upd.h).
#include "eqs_rtl_upd.h"

#include <verilated.h>

#include "Vep_update_unit.h"
#include "Vpepita_update_unit.h"
#include <cstdio>
#include <memory>
#include <vector>

#include "eqs/updunit_formats.h"

namespace
{

struct Unit {
    virtual ~Unit() = default;
    virtual int run(const eqs_updunit_cfg &cfg, int32_t n, int32_t rows, int32_t cols,
                    const int32_t *a, const int32_t *b, const int32_t *c, const int32_t *d,
                    int32_t *out, char *msg, size_t len) = 0;
    virtual void reseed(uint32_t seed) = 0;
    eqs_updunit_format fmt{};
    uint64_t cycles = 0;
};

template <class M> struct UnitOf final : Unit {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<M> top;

    UnitOf(eqs_updunit_kind kind, uint32_t seed)
    {
        fmt.state_w = kind == EQS_UPDUNIT_EP ? EQS_UPDUNIT_EP_STATE_W : EQS_UPDUNIT_PEP_STATE_W;
        fmt.state_f = kind == EQS_UPDUNIT_EP ? EQS_UPDUNIT_EP_STATE_F : EQS_UPDUNIT_PEP_STATE_F;
        fmt.scale_w = EQS_UPDUNIT_SCALE_W;
        fmt.shift_w = EQS_UPDUNIT_SHIFT_W;
        fmt.acc_log2 = EQS_UPDUNIT_ACC_LOG2;
        fmt.out_w = EQS_UPDUNIT_OUT_W;
        fmt.p_max = EQS_UPDUNIT_P_MAX;
        fmt.lanes = EQS_UPDUNIT_LANES;
        static_assert(sizeof(M::in_a) <= 8 && sizeof(M::out_data) <= 8,
                      "the shim packs lanes into 64-bit ports");
        ctx = std::make_unique<VerilatedContext>();
        top = std::make_unique<M>(ctx.get(), "top");
        top->rst_n = 0;
        top->in_valid = 0;
        top->out_ready = 1;
        top->cfg_seed = seed;
        top->cfg_seed_load = 0;
        for (int i = 0; i < 4; i++)
            tick(nullptr);
        top->rst_n = 1;
        top->cfg_seed_load = 1; // as eqs_updunit_init: the generators start from seed
        tick(nullptr);
        top->cfg_seed_load = 0;
    }

    ~UnitOf() override
    {
        top->final();
    }

    // The controller's seed load (cfg_seed_load for one cycle), as eqs_updunit_reseed. Called
    // between layers only, when the pipeline is empty.
    void reseed(uint32_t seed) override
    {
        top->in_valid = 0;
        top->cfg_seed = seed;
        top->cfg_seed_load = 1;
        tick(nullptr);
        top->cfg_seed_load = 0;
    }

    // Inputs are set: low phase, sample the handshakes before the edge, then the edge.
    bool tick(bool *out_fire)
    {
        top->clk = 0;
        top->eval();
        bool in_fire = top->rst_n && top->in_valid && top->in_ready;
        if (out_fire)
            *out_fire = top->rst_n && top->out_valid && top->out_ready;
        top->clk = 1;
        top->eval();
        cycles++;
        return in_fire;
    }

    uint64_t pack(const int32_t *x, int64_t t, int64_t stride, int64_t g, int64_t total,
                  int32_t cols, bool post) const
    {
        uint64_t v = 0, mask = (1ull << fmt.state_w) - 1;
        for (int64_t l = 0; x && l < fmt.lanes; l++) {
            int64_t s = g * fmt.lanes + l;
            if (s >= total)
                continue;
            int64_t idx = post ? s / cols : s % cols;
            v |= ((uint64_t)(uint32_t)x[t * stride + idx] & mask) << (l * fmt.state_w);
        }
        return v;
    }

    int run(const eqs_updunit_cfg &cfg, int32_t n, int32_t rows, int32_t cols, const int32_t *a,
            const int32_t *b, const int32_t *c, const int32_t *d, int32_t *out, char *msg,
            size_t len) override
    {
        top->in_valid = 0;
        top->out_ready = 1;
        for (int i = 0; i < 8; i++) // drain: the configuration is quasi-static
            tick(nullptr);
        top->cfg_mode = (uint8_t)cfg.mode;
        top->cfg_post_signed = cfg.post_signed != 0;
        top->cfg_pre_signed = cfg.pre_signed != 0;
        top->cfg_scale = cfg.scale_m;
        top->cfg_shift = (uint8_t)cfg.shift;
        top->cfg_stoch = cfg.stochastic != 0;
        top->cfg_pulse = cfg.pulse_out != 0;
        const int64_t total = (int64_t)rows * cols, lanes = fmt.lanes;
        const int64_t groups = (total + lanes - 1) / lanes, beats = groups * n;
        int64_t sent = 0, got = 0, idle = 0;
        const int sh = 64 - fmt.out_w;
        while (got < groups) {
            if (sent < beats) {
                int64_t g = sent / n, t = sent % n;
                top->in_a = pack(a, t, rows, g, total, cols, true);
                top->in_c = pack(c, t, rows, g, total, cols, true);
                top->in_b = pack(b, t, cols, g, total, cols, false);
                top->in_d = pack(d, t, cols, g, total, cols, false);
                top->in_last = t + 1 == n;
                top->in_valid = 1;
            } else {
                top->in_valid = 0;
            }
            top->clk = 0;
            top->eval();
            bool in_fire = top->in_valid && top->in_ready;
            bool out_fire = top->out_valid && top->out_ready;
            uint64_t data = top->out_data;
            top->clk = 1;
            top->eval();
            cycles++;
            sent += in_fire;
            if (out_fire) {
                for (int64_t l = 0; l < lanes; l++) {
                    int64_t s = got * lanes + l;
                    uint64_t field = data >> (l * fmt.out_w);
                    int64_t v = (int64_t)(field << sh) >> sh; // sign-extend OUT_W bits
                    if (s < total)
                        out[s] = (int32_t)v;
                }
                got++;
                idle = 0;
            } else if (++idle > 1000 && sent >= beats) {
                snprintf(msg, len, "rtl: the unit stopped producing outputs (%lld of %lld beats)",
                         (long long)got, (long long)groups);
                return -1;
            }
        }
        top->in_valid = 0;
        return 0;
    }
};

} // namespace

struct eqs_rtl_upd {
    std::unique_ptr<Unit> unit;
};

extern "C" int eqs_rtl_upd_create(eqs_rtl_upd **out, eqs_updunit_kind kind, uint32_t seed,
                                  char *msg, size_t msg_len)
{
    try {
        auto r = std::make_unique<eqs_rtl_upd>();
        if (kind == EQS_UPDUNIT_EP)
            r->unit = std::make_unique<UnitOf<Vep_update_unit>>(kind, seed);
        else
            r->unit = std::make_unique<UnitOf<Vpepita_update_unit>>(kind, seed);
        *out = r.release();
        return 0;
    } catch (const std::exception &e) {
        snprintf(msg, msg_len, "rtl: cannot create the verilated unit: %s", e.what());
        return -1;
    }
}

extern "C" void eqs_rtl_upd_destroy(eqs_rtl_upd *r)
{
    delete r;
}

extern "C" void eqs_rtl_upd_format(const eqs_rtl_upd *r, eqs_updunit_format *fmt)
{
    *fmt = r->unit->fmt;
}

extern "C" int eqs_rtl_upd_run_layer(eqs_rtl_upd *r, const eqs_updunit_cfg *cfg, int32_t n,
                                     int32_t rows, int32_t cols, const int32_t *a, const int32_t *b,
                                     const int32_t *c, const int32_t *d, int32_t *out, char *msg,
                                     size_t msg_len)
{
    if (n < 1 || rows < 1 || cols < 1) {
        snprintf(msg, msg_len, "rtl: bad layer shape n=%d %dx%d", (int)n, (int)rows, (int)cols);
        return -1;
    }
    return r->unit->run(*cfg, n, rows, cols, a, b, c, d, out, msg, msg_len);
}

extern "C" void eqs_rtl_upd_reseed(eqs_rtl_upd *r, uint32_t seed)
{
    r->unit->reseed(seed);
}

extern "C" uint64_t eqs_rtl_upd_cycles(const eqs_rtl_upd *r)
{
    return r->unit->cycles;
}
