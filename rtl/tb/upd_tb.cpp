// upd_tb.cpp — Verilator harness of the update units against the C golden model.
//
// Drives rtl/ep_update_unit.v or rtl/pepita_update_unit.v (--unit) with segments of beats, each
// under one configuration: directed corners (zero, full scale, saturation both ways, a rounding
// tie at every reachable shift, both signs, both rounding modes), the Fashion-MNIST vectors of
// rtl/tb/vectors (--vectors DIR: one real training step's states, recorded by `eqsim grads`),
// then random segments until --updates random synapse updates were checked. valid and ready are
// both random. Every accepted beat goes through eqs_updunit_step (sim/learn/updunit.c); its results
// queue in a scoreboard that the output stream pops, so the check does not depend on latency.
// The vector layers are also compared with the batched eqs_updunit_layer and with the float
// reference against the derived bound. Last line: "matched N transactions, M mismatches,
// seed=S"; exit 1 on any mismatch. --trace FILE writes an FST. Verilator's +args pass through.
#include <verilated.h>
#include <verilated_fst_c.h>

#include "Vep_update_unit.h"
#include "Vpepita_update_unit.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "eqs/io.h"
#include "eqs/updunit.h"

namespace
{

struct Beat {
    std::vector<uint32_t> a, b, c, d; // one code per lane
    bool last;
};

struct Segment {
    std::string what;
    eqs_updunit_cfg cfg;
    bool reseed = false;
    uint32_t seed = 0;
    double p_valid = 1.0, p_ready = 1.0;
    std::vector<Beat> beats;
    std::vector<int32_t> layer_expect; // non-empty: outputs must equal eqs_updunit_layer's
};

struct Options {
    std::string unit = "ep", trace, vectors;
    long long updates = 100000;
    uint64_t seed = 1;
};

// Everything that differs between the two units, for one verilated model type M.
template <class M> class Harness
{
  public:
    Harness(VerilatedContext *ctx, eqs_updunit_kind kind, const Options &opt)
        : ctx_(ctx), top_(new M(ctx, "top")), kind_(kind), opt_(opt), rng_(opt.seed)
    {
        eqs_updunit_format_default(kind, &fmt_);
        static_assert(sizeof(top_->in_a) <= 8 && sizeof(top_->out_data) <= 8,
                      "the harness packs lanes into 64-bit ports");
        eqs_updunit_cfg cfg = {};
        eqs_err err;
        if (eqs_updunit_init(&gold_, kind, &fmt_, &cfg, 0, &err) != EQS_OK)
            die(err.msg);
        if (!opt.trace.empty()) {
            trace_.reset(new VerilatedFstC);
            top_->trace(trace_.get(), 99);
            trace_->open(opt.trace.c_str());
        }
    }

    ~Harness()
    {
        top_->final();
        if (trace_)
            trace_->close();
    }

    int run(const std::vector<Segment> &directed)
    {
        reset();
        for (const Segment &s : directed)
            play(s);
        drain();
        const long long directed_updates = matched_ + mismatches_;
        while (matched_ + mismatches_ - directed_updates < opt_.updates)
            play(random_segment());
        drain();
        printf("%s: %lld directed/vector updates, %lld random updates\n", opt_.unit.c_str(),
               directed_updates, matched_ + mismatches_ - directed_updates);
        printf("%s: %lld cycles, %lld beats, max |fixed - float| / bound on the vectors %.3f\n",
               opt_.unit.c_str(), cycles_, beats_, worst_ratio_);
        printf("matched %lld transactions, %lld mismatches, seed=%llu\n", matched_, mismatches_,
               (unsigned long long)opt_.seed);
        return mismatches_ ? 1 : 0;
    }

    const eqs_updunit_format &fmt() const
    {
        return fmt_;
    }

    // ---- segments -------------------------------------------------------------------------

    Segment random_segment()
    {
        Segment s;
        s.what = "random";
        s.cfg.mode = (int32_t)pick(kind_ == EQS_UPDUNIT_EP ? 6 : 4);
        s.cfg.post_signed = (int32_t)pick(2);
        s.cfg.pre_signed = (int32_t)pick(2);
        const uint32_t m_max = (1u << fmt_.scale_w) - 1;
        const uint32_t ms[] = {m_max, 1, (uint32_t)pick(m_max + 1), (uint32_t)pick(256)};
        s.cfg.scale_m = ms[pick(4)];
        s.cfg.shift = (int32_t)pick(1u << fmt_.shift_w); // includes shifts beyond the clamp
        s.cfg.stochastic = (int32_t)pick(2);
        s.cfg.pulse_out = (int32_t)pick(2);
        s.reseed = pick(3) == 0;
        s.seed = (uint32_t)rng_();
        const double ps[] = {1.0, 0.9, 0.5, 0.15};
        s.p_valid = ps[pick(4)];
        s.p_ready = ps[pick(4)];
        int64_t n_updates = 1 + (int64_t)pick(400);
        for (int64_t u = 0; u < n_updates; u++) {
            uint32_t n = pick(10) < 7 ? 1 : 1 + (uint32_t)pick(16);
            if (pick(500) == 0)
                n = 1u << fmt_.acc_log2; // the accumulator's full headroom
            for (uint32_t t = 0; t < n; t++)
                s.beats.push_back(random_beat(t + 1 == n));
        }
        return s;
    }

    Beat random_beat(bool last)
    {
        Beat b;
        b.last = last;
        for (auto *v : {&b.a, &b.b, &b.c, &b.d})
            for (int l = 0; l < fmt_.lanes; l++)
                v->push_back(random_code());
        return b;
    }

    // Codes: uniform, the extremes of both signednesses, or small magnitudes.
    uint32_t random_code()
    {
        const uint32_t w = (uint32_t)fmt_.state_w, mask = (1u << w) - 1;
        switch (pick(5)) {
        case 0: {
            const uint32_t ext[] = {0, mask, mask >> 1, (mask >> 1) + 1, 1};
            return ext[pick(5)];
        }
        case 1:
            return (uint32_t)(pick(17) - 8) & mask;
        default:
            return (uint32_t)rng_() & mask;
        }
    }

    // ---- the clocked loop -----------------------------------------------------------------

    void play(const Segment &s)
    {
        drain();
        eqs_err err;
        if (eqs_updunit_configure(&gold_, &s.cfg, &err) != EQS_OK)
            die(err.msg);
        apply_cfg(s.cfg);
        if (s.reseed) {
            top_->cfg_seed = s.seed;
            top_->cfg_seed_load = 1;
            tick();
            top_->cfg_seed_load = 0;
            eqs_updunit_reseed(&gold_, s.seed);
        }
        collect_ = !s.layer_expect.empty();
        collected_.clear();
        size_t next = 0;
        while (next < s.beats.size()) {
            bool valid = coin(s.p_valid);
            if (valid)
                drive(s.beats[next]);
            top_->in_valid = valid;
            top_->out_ready = coin(s.p_ready);
            if (tick().in_fire) {
                accept(s.beats[next]);
                next++;
            }
        }
        top_->in_valid = 0;
        drain();
        if (collect_)
            check_layer(s);
        collect_ = false;
    }

    void check_layer(const Segment &s)
    {
        size_t bad = 0;
        for (size_t i = 0; i < s.layer_expect.size(); i++)
            bad += collected_.at(i) != s.layer_expect[i];
        if (bad) {
            fprintf(stderr, "MISMATCH %s: %zu outputs differ from eqs_updunit_layer\n",
                    s.what.c_str(), bad);
            mismatches_ += (long long)bad;
        }
    }

    struct Fires {
        bool in_fire, out_fire;
    };

    // Inputs are set; evaluate the low phase, sample the handshakes (pre-edge), then the edge.
    Fires tick()
    {
        top_->clk = 0;
        top_->eval();
        // outputs during reset are undefined (random with +verilator+rand+reset+2): not checked
        bool live = top_->rst_n;
        Fires f = {live && top_->in_valid && top_->in_ready,
                   live && top_->out_valid && top_->out_ready};
        uint64_t out = top_->out_data;
        dump();
        top_->clk = 1;
        top_->eval();
        dump();
        cycles_++;
        if (f.out_fire)
            compare(out);
        return f;
    }

    void dump()
    {
        if (trace_)
            trace_->dump(ctx_->time());
        ctx_->timeInc(5);
    }

    void reset()
    {
        top_->rst_n = 0;
        top_->in_valid = 0;
        top_->out_ready = 1;
        top_->cfg_seed = 0;
        top_->cfg_seed_load = 0;
        for (int i = 0; i < 4; i++)
            tick();
        top_->rst_n = 1;
        eqs_updunit_reseed(&gold_, 0);
        for (int l = 0; l < fmt_.lanes; l++)
            gold_.acc[l] = 0;
    }

    void drain()
    {
        top_->in_valid = 0;
        top_->out_ready = 1;
        for (int i = 0; i < 16 || !expect_.empty(); i++) {
            tick();
            if (i > 100000)
                die("the unit stopped producing outputs");
        }
    }

    void apply_cfg(const eqs_updunit_cfg &c)
    {
        top_->cfg_mode = (uint8_t)c.mode;
        top_->cfg_post_signed = c.post_signed;
        top_->cfg_pre_signed = c.pre_signed;
        top_->cfg_scale = c.scale_m;
        top_->cfg_shift = (uint8_t)c.shift;
        top_->cfg_stoch = c.stochastic;
        top_->cfg_pulse = c.pulse_out;
    }

    void drive(const Beat &b)
    {
        top_->in_a = pack(b.a);
        top_->in_b = pack(b.b);
        top_->in_c = pack(b.c);
        top_->in_d = pack(b.d);
        top_->in_last = b.last;
    }

    uint64_t pack(const std::vector<uint32_t> &v) const
    {
        uint64_t x = 0, mask = (1ull << fmt_.state_w) - 1;
        for (int l = 0; l < fmt_.lanes; l++)
            x |= (v[l] & mask) << (l * fmt_.state_w);
        return x;
    }

    // An accepted beat: the golden model sees it now; results wait in the scoreboard.
    void accept(const Beat &b)
    {
        beats_++;
        std::vector<int32_t> want(fmt_.lanes);
        int done = 0;
        for (int l = 0; l < fmt_.lanes; l++)
            done = eqs_updunit_step(&gold_, l, b.a[l], b.b[l], b.c[l], b.d[l], b.last, &want[l]);
        if (done)
            expect_.push_back(want);
    }

    void compare(uint64_t out)
    {
        if (expect_.empty()) {
            mismatches_++;
            fprintf(stderr, "MISMATCH cycle %lld: output with no update pending\n", cycles_);
            return;
        }
        std::vector<int32_t> want = expect_.front();
        expect_.pop_front();
        for (int l = 0; l < fmt_.lanes; l++) {
            int32_t got = lane_out(out, l);
            if (collect_)
                collected_.push_back(got);
            if (got == want[l]) {
                matched_++;
            } else if (++mismatches_ <= 10) {
                fprintf(stderr, "MISMATCH cycle %lld lane %d: got %d, expect %d\n", cycles_, l, got,
                        want[l]);
            }
        }
    }

    int32_t lane_out(uint64_t out, int l) const
    {
        const int w = fmt_.out_w;
        uint64_t v = (out >> (l * w)) & ((w == 64 ? 0 : (1ull << w)) - 1);
        if (v >> (w - 1))
            return (int32_t)((int64_t)v - (int64_t)(1ull << w));
        return (int32_t)v;
    }

    uint64_t pick(uint64_t n)
    {
        return rng_() % n;
    }

    bool coin(double p)
    {
        return p >= 1.0 || std::uniform_real_distribution<double>(0, 1)(rng_) < p;
    }

    static void die(const char *msg)
    {
        fprintf(stderr, "upd_tb: %s\n", msg);
        exit(2);
    }

    double worst_ratio_ = 0;

  private:
    VerilatedContext *ctx_;
    std::unique_ptr<M> top_;
    std::unique_ptr<VerilatedFstC> trace_;
    eqs_updunit_kind kind_;
    Options opt_;
    std::mt19937_64 rng_;
    eqs_updunit_format fmt_;
    eqs_updunit gold_;
    std::deque<std::vector<int32_t>> expect_;
    std::vector<int32_t> collected_;
    bool collect_ = false;
    long long matched_ = 0, mismatches_ = 0, cycles_ = 0, beats_ = 0;
};

// ---- directed segments -------------------------------------------------------------------

eqs_updunit_cfg make_cfg(int32_t mode, int post_signed, int pre_signed, uint32_t m, int32_t shift,
                         int stoch, int pulse)
{
    eqs_updunit_cfg c = {};
    c.mode = mode, c.post_signed = post_signed, c.pre_signed = pre_signed;
    c.scale_m = m, c.shift = shift, c.stochastic = stoch, c.pulse_out = pulse;
    return c;
}

Beat same_beat(const eqs_updunit_format &f, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
               bool last)
{
    Beat x;
    x.last = last;
    x.a.assign(f.lanes, a), x.b.assign(f.lanes, b), x.c.assign(f.lanes, c), x.d.assign(f.lanes, d);
    return x;
}

// The mode whose contrast is a single product +-A*B (C, D zero or ignored).
int32_t single_mode(eqs_updunit_kind kind)
{
    return kind == EQS_UPDUNIT_EP ? EQS_UPDUNIT_EP_CONTRAST : EQS_UPDUNIT_PEP_OUTPUT;
}

void corner_segments(eqs_updunit_kind kind, const eqs_updunit_format &f, std::vector<Segment> &out)
{
    const uint32_t mask = (1u << f.state_w) - 1, smax = mask >> 1, smin = smax + 1;
    const uint32_t m_max = (1u << f.scale_w) - 1;
    int32_t modes = kind == EQS_UPDUNIT_EP ? 6 : 4;
    for (int32_t mode = 0; mode < modes; mode++) {
        for (int sg = 0; sg < 4; sg++) {
            for (int pulse = 0; pulse < 2; pulse++) {
                Segment s;
                s.what = "corners";
                s.cfg = make_cfg(mode, sg & 1, sg >> 1, m_max, 0, 0, pulse);
                const uint32_t vals[] = {0, 1, mask, smax, smin};
                for (uint32_t a : vals)
                    for (uint32_t b : vals)
                        for (uint32_t c : vals)
                            for (uint32_t d : {0u, mask, smin})
                                s.beats.push_back(same_beat(f, a, b, c, d, true));
                out.push_back(s);
                s.cfg.scale_m = 1; // full scale without saturation
                out.push_back(s);
            }
        }
    }
}

// A tie at every shift the operands can reach: y = odd * 2^(s-1) from A = odd * 2^ja,
// B = 2^jb (unsigned), m = 2^jm and 2^q equal samples accumulated.
void tie_segments(eqs_updunit_kind kind, const eqs_updunit_format &f, std::vector<Segment> &out)
{
    const int jb_max = f.state_w - 1, ja_max = f.state_w - 4, jm_max = f.scale_w - 1;
    const int reach = jb_max + ja_max + jm_max + f.acc_log2;
    for (int s = 1; s <= reach + 1 && s <= eqs_updunit_shift_max(&f); s++) {
        int e = s - 1;
        int jm = std::min(e, jm_max);
        int jb = std::min(e - jm, jb_max);
        int q = std::min(e - jm - jb, f.acc_log2);
        int ja = e - jm - jb - q;
        for (int pulse = 0; pulse < 2; pulse++) {
            Segment seg;
            seg.what = "ties";
            seg.cfg = make_cfg(single_mode(kind), 1, 0, 1u << jm, s, 0, pulse);
            for (int odd : {1, -1, 3, -3, 5, -5}) {
                uint32_t a = (uint32_t)(odd * (1 << ja)) & ((1u << f.state_w) - 1);
                for (int t = 0; t < (1 << q); t++)
                    seg.beats.push_back(same_beat(f, a, 1u << jb, 0, 0, t + 1 == (1 << q)));
            }
            out.push_back(seg);
        }
    }
}

// ---- Fashion-MNIST vectors ---------------------------------------------------------------

struct Array {
    std::vector<eqs_real> v;
    int64_t n = 0, w = 0;
};

Array load(const std::string &path)
{
    eqs_array a;
    eqs_err err;
    if (eqs_npy_read(path.c_str(), &a, &err) != EQS_OK)
        Harness<Vep_update_unit>::die(err.msg);
    Array r;
    r.n = a.shape[0];
    r.w = a.ndim > 1 ? a.shape[1] : 1;
    r.v.resize((size_t)(r.n * r.w));
    for (int64_t i = 0; i < r.n * r.w; i++) {
        if (a.dtype == EQS_DTYPE_F32)
            r.v[i] = (eqs_real)((const float *)a.data)[i];
        else if (a.dtype == EQS_DTYPE_I32)
            r.v[i] = (eqs_real)((const int32_t *)a.data)[i];
        else
            r.v[i] = (eqs_real)((const int64_t *)a.data)[i];
    }
    eqs_array_free(&a);
    return r;
}

// softmax(logits) - onehot(y): the readout's error e (Laborieux eq. 38).
Array readout_error(const Array &logits, const Array &y)
{
    Array e = logits;
    for (int64_t n = 0; n < logits.n; n++) {
        eqs_real *r = &e.v[(size_t)(n * e.w)];
        double mx = r[0], z = 0;
        for (int64_t k = 1; k < e.w; k++)
            mx = std::max(mx, (double)r[k]);
        for (int64_t k = 0; k < e.w; k++)
            z += std::exp((double)r[k] - mx);
        for (int64_t k = 0; k < e.w; k++)
            r[k] = (eqs_real)(std::exp((double)r[k] - mx) / z - (k == (int64_t)y.v[n] ? 1 : 0));
    }
    return e;
}

// Keeps the first `cols` columns (a layer's first units, to keep the default run short).
Array first_cols(const Array &a, int64_t cols)
{
    Array r;
    r.n = a.n, r.w = std::min(cols, a.w);
    for (int64_t n = 0; n < a.n; n++)
        for (int64_t k = 0; k < r.w; k++)
            r.v.push_back(a.v[(size_t)(n * a.w + k)]);
    return r;
}

double abs_max(std::initializer_list<const Array *> xs)
{
    double m = 0;
    for (const Array *x : xs)
        if (x)
            for (eqs_real v : x->v)
                m = std::max(m, std::fabs((double)v));
    return m;
}

// One layer of the vectors: streams it as the RTL would see it (eqs_updunit_layer's order),
// records what the batched API computes, and checks fixed vs float against the bound.
template <class H>
void layer_segment(H &h, eqs_updunit_kind kind, const char *what, eqs_updunit_cfg cfg, double k,
                   const Array *a, const Array *b, const Array *c, const Array *d,
                   std::vector<Segment> &out)
{
    const eqs_updunit_format &f = h.fmt();
    eqs_err err;
    if (eqs_updunit_scale_encode(&f, k, &cfg.scale_m, &cfg.shift, &err) != EQS_OK)
        H::die(err.msg);
    Segment s;
    s.what = what;
    s.cfg = cfg;
    s.reseed = true;
    s.seed = 12345;
    eqs_updunit u;
    if (eqs_updunit_init(&u, kind, &f, &cfg, s.seed, &err) != EQS_OK)
        H::die(err.msg);
    const int64_t n = a->n, rows = a->w, cols = b ? b->w : 1;
    eqs_updunit_batch bt = {};
    bt.n = (int32_t)n, bt.rows = (int32_t)rows, bt.cols = (int32_t)cols;
    bt.a = a->v.data(), bt.b = b ? b->v.data() : nullptr;
    bt.c = c ? c->v.data() : nullptr, bt.d = d ? d->v.data() : nullptr;
    s.layer_expect.resize((size_t)(rows * cols));
    std::vector<double> ref((size_t)(rows * cols));
    int64_t clipped = 0;
    if (eqs_updunit_layer(&u, &bt, s.layer_expect.data(), &clipped, &err) != EQS_OK ||
        eqs_updunit_layer_float(&u, &bt, k, ref.data(), &err) != EQS_OK)
        H::die(err.msg);
    double bound = eqs_updunit_error_bound(&u, k, (int32_t)n, abs_max({a, b, c, d}));
    double worst = 0;
    for (size_t i = 0; i < ref.size(); i++)
        worst = std::max(worst, std::fabs(s.layer_expect[i] - ref[i]));
    printf("vectors %-22s %lldx%lld, n=%lld: max |fixed - float| %.3f LSB, bound %.3f, "
           "%lld operands clipped\n",
           what, (long long)rows, (long long)cols, (long long)n, worst, bound, (long long)clipped);
    if (clipped == 0)
        h.worst_ratio_ = std::max(h.worst_ratio_, worst / bound);
    if (clipped == 0 && worst > bound)
        h.die("the fixed-point layer exceeds the derived error bound");
    auto q = [&](const Array *x, int sg, int64_t i) -> uint32_t {
        return x ? (uint32_t)eqs_updunit_quantize(&f, sg, (double)x->v[(size_t)i], nullptr) : 0;
    };
    const int64_t total = rows * cols, lanes = f.lanes;
    for (int64_t g = 0; g < (total + lanes - 1) / lanes; g++) {
        for (int64_t t = 0; t < n; t++) {
            Beat bt_;
            bt_.last = t + 1 == n;
            for (int64_t l = 0; l < lanes; l++) {
                int64_t syn = g * lanes + l, i = syn / cols, j = syn % cols;
                bool real = syn < total;
                bt_.a.push_back(real ? q(a, cfg.post_signed, t * rows + i) : 0);
                bt_.c.push_back(real ? q(c, cfg.post_signed, t * rows + i) : 0);
                bt_.b.push_back(real ? q(b, cfg.pre_signed, t * cols + j) : 0);
                bt_.d.push_back(real ? q(d, cfg.pre_signed, t * cols + j) : 0);
            }
            s.beats.push_back(bt_);
        }
    }
    s.layer_expect.resize((size_t)(((total + lanes - 1) / lanes) * lanes), 0);
    s.p_valid = 0.8, s.p_ready = 0.8;
    out.push_back(s);
}

template <class H> void ep_vectors(H &h, const std::string &dir, std::vector<Segment> &out)
{
    Array x = load(dir + "/x.npy"), y = load(dir + "/y.npy");
    Array sp = load(dir + "/ep/state_pos.fc1.npy"), sn = load(dir + "/ep/state_neg.fc1.npy");
    Array ep = readout_error(load(dir + "/ep/logits_pos.npy"), y);
    Array en = readout_error(load(dir + "/ep/logits_neg.npy"), y);
    Array sp32 = first_cols(sp, 32), sn32 = first_cols(sn, 32);
    // eta = 0.02, beta = 0.1 (quickstart), 1 pulse = 1e-3 of weight: k = eta/(2 beta)/1e-3
    const double k = 0.02 / (2 * 0.1) / 1e-3 / (double)x.n;
    auto cfg = [](int32_t mode, int post_signed, int stoch) {
        return make_cfg(mode, post_signed, 0, 0, 0, stoch, 1);
    };
    layer_segment(h, EQS_UPDUNIT_EP, "fc1 contrast nearest", cfg(0, 0, 0), k, &sp32, &x, &sn32, &x,
                  out);
    layer_segment(h, EQS_UPDUNIT_EP, "fc1 contrast stoch", cfg(0, 0, 1), k, &sp32, &x, &sn32, &x,
                  out);
    layer_segment(h, EQS_UPDUNIT_EP, "fc1 VF_POST", cfg(1, 0, 0), k, &sp32, &x, &sn32, nullptr,
                  out);
    layer_segment(h, EQS_UPDUNIT_EP, "fc1 bias", cfg(3, 0, 0), k, &sp, nullptr, &sn, nullptr, out);
    const double k_out = 0.02 / 2 / 1e-3 / (double)x.n;
    layer_segment(h, EQS_UPDUNIT_EP, "fc2 readout", cfg(4, 1, 0), k_out, &ep, &sp, &en, &sn, out);
    layer_segment(h, EQS_UPDUNIT_EP, "fc2 readout bias", cfg(5, 1, 1), k_out, &ep, nullptr, &en,
                  nullptr, out);
}

template <class H> void pepita_vectors(H &h, const std::string &dir, std::vector<Segment> &out)
{
    Array hs = load(dir + "/pepita/act_std.fc1.npy"), hm = load(dir + "/pepita/act_mod.fc1.npy");
    Array xm = load(dir + "/pepita/input_mod.npy"), em = load(dir + "/pepita/error_mod.npy");
    Array hs16 = first_cols(hs, 16), hm16 = first_cols(hm, 16);
    const double k = 0.01 / 1e-3 / (double)xm.n; // eta = 0.01, 1 pulse = 1e-3
    auto cfg = [](int32_t mode, int post_signed, int pre_signed, int stoch) {
        return make_cfg(mode, post_signed, pre_signed, 0, 0, stoch, 1);
    };
    layer_segment(h, EQS_UPDUNIT_PEPITA, "fc1 hidden nearest", cfg(0, 0, 1, 0), k, &hs16, &xm,
                  &hm16, nullptr, out);
    layer_segment(h, EQS_UPDUNIT_PEPITA, "fc1 hidden stoch", cfg(0, 0, 1, 1), k, &hs16, &xm, &hm16,
                  nullptr, out);
    layer_segment(h, EQS_UPDUNIT_PEPITA, "fc1 hidden bias", cfg(2, 0, 0, 0), k, &hs, nullptr, &hm,
                  nullptr, out);
    layer_segment(h, EQS_UPDUNIT_PEPITA, "fc2 output", cfg(1, 1, 0, 0), k, &em, &hm, nullptr,
                  nullptr, out);
    layer_segment(h, EQS_UPDUNIT_PEPITA, "fc2 output bias", cfg(3, 1, 0, 1), k, &em, nullptr,
                  nullptr, nullptr, out);
}

template <class M> int run_unit(VerilatedContext *ctx, eqs_updunit_kind kind, const Options &opt)
{
    Harness<M> h(ctx, kind, opt);
    std::vector<Segment> directed;
    corner_segments(kind, h.fmt(), directed);
    tie_segments(kind, h.fmt(), directed);
    if (!opt.vectors.empty()) {
        if (kind == EQS_UPDUNIT_EP)
            ep_vectors(h, opt.vectors, directed);
        else
            pepita_vectors(h, opt.vectors, directed);
    }
    return h.run(directed);
}

int usage()
{
    fprintf(stderr, "usage: upd_tb --unit ep|pepita [--updates N] [--seed S] [--vectors DIR] "
                    "[--trace FILE.fst] [+verilator+...]\n");
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    Options opt;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        bool has = i + 1 < argc;
        if (a == "--unit" && has)
            opt.unit = argv[++i];
        else if (a == "--updates" && has)
            opt.updates = std::atoll(argv[++i]);
        else if (a == "--seed" && has)
            opt.seed = std::strtoull(argv[++i], nullptr, 0);
        else if (a == "--vectors" && has)
            opt.vectors = argv[++i];
        else if (a == "--trace" && has)
            opt.trace = argv[++i];
        else if (a.rfind("+", 0) != 0)
            return usage();
    }
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv); // +verilator+rand+reset+2 +verilator+seed+S
    ctx->traceEverOn(!opt.trace.empty());
    if (opt.unit == "ep")
        return run_unit<Vep_update_unit>(ctx.get(), EQS_UPDUNIT_EP, opt);
    if (opt.unit == "pepita")
        return run_unit<Vpepita_update_unit>(ctx.get(), EQS_UPDUNIT_PEPITA, opt);
    return usage();
}
