// rtl_bench.cpp — simulation speed of the verilated update units (not a test).
//
// For each unit: a stream of random beats, valid and ready always high, one update per lane
// per beat (last on every beat), no golden model and no trace, so the number is the verilated
// model's own speed. Reports synapse updates per second of CPU and wall time, and the machine.
// Usage: rtl_bench [CYCLES]   (default 5,000,000 cycles per unit)
#include <sys/utsname.h>
#include <verilated.h>

#include "Vep_update_unit.h"
#include "Vpepita_update_unit.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "eqs/updunit.h"

namespace
{

std::string cpu_model()
{
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0)
            return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

template <class M> void bench(const char *name, eqs_updunit_kind kind, long long cycles)
{
    eqs_updunit_format f;
    eqs_updunit_format_default(kind, &f);
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<M>(ctx.get(), "top");
    std::mt19937_64 rng(1);
    std::vector<uint64_t> data(4096);
    for (auto &d : data)
        d = rng();
    top->rst_n = 0;
    for (int i = 0; i < 4; i++) {
        top->clk = 0, top->eval(), top->clk = 1, top->eval();
    }
    top->rst_n = 1;
    top->cfg_mode = 0, top->cfg_scale = 40000, top->cfg_shift = 20, top->cfg_stoch = 1;
    top->in_valid = 1, top->in_last = 1, top->out_ready = 1;
    uint64_t sink = 0;
    std::clock_t c0 = std::clock();
    auto w0 = std::chrono::steady_clock::now();
    for (long long t = 0; t < cycles; t++) {
        uint64_t r = data[t & 4095];
        top->in_a = r, top->in_b = r >> 7, top->in_c = r >> 13, top->in_d = r >> 17;
        top->clk = 0;
        top->eval();
        top->clk = 1;
        top->eval();
        sink ^= top->out_data;
    }
    double cpu_s = (double)(std::clock() - c0) / CLOCKS_PER_SEC;
    double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    double updates = (double)cycles * f.lanes;
    printf("%-20s lanes %d: %.3g synapse updates/s CPU (%.3g Mcycles/s), %.3g/s wall "
           "(%lld cycles, %.2f s CPU, checksum %llx)\n",
           name, f.lanes, updates / cpu_s, cycles / cpu_s / 1e6, updates / wall_s, cycles, cpu_s,
           (unsigned long long)(sink & 0xffff));
    top->final();
}

} // namespace

int main(int argc, char **argv)
{
    long long cycles = argc > 1 ? std::atoll(argv[1]) : 5000000;
    utsname u;
    uname(&u);
    printf("machine: %s, %u hardware threads, %s %s, Verilator %s\n", cpu_model().c_str(),
           std::thread::hardware_concurrency(), u.sysname, u.release, Verilated::productVersion());
    bench<Vep_update_unit>("ep_update_unit", EQS_UPDUNIT_EP, cycles);
    bench<Vpepita_update_unit>("pepita_update_unit", EQS_UPDUNIT_PEPITA, cycles);
    return 0;
}
