/* main.c — the `eqsim` command: dispatch to subcommands. */
#include <string.h>

#include "cli.h"

int cmd_mvm(int argc, char **argv); /* cmd_mvm.c */

#define EQSIM_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("eqsim " EQSIM_VERSION " — co-design of analog hardware that learns on chip with\n"
          "Equilibrium Propagation (EP) and PEPITA\n"
          "\n"
          "usage: eqsim <command> [options]     (eqsim <command> --help for details)\n"
          "\n"
          "commands:\n"
          "  train EXPERIMENT.yaml   train a network (EP, BPTT or PEPITA), in float or on\n"
          "                          the hardware its `hardware:` names; metrics, plots,\n"
          "                          the action ledger, checkpoints\n"
          "  eval  EXPERIMENT.yaml   accuracy and loss of saved weights on the test/train split\n"
          "  grads EXPERIMENT.yaml   one batch's states and gradients as .npy, nothing updated\n"
          "  bench EXPERIMENT.yaml   training samples/s and the fraction of GEMM speed reached\n"
          "  gducheck EXPERIMENT.yaml  EP's per-step updates vs BPTT's per-step gradients (GDU)\n"
          "  mvm HWCONFIG.yaml       one analog tile's product error vs float (--rows --cols)\n"
          "  sweep SWEEP.yaml        a study over config keys (grid or points x seeds):\n"
          "                          resumable; results.csv, summary.csv, plots\n"
          "  cosim EXPERIMENT.yaml   train with the digital update unit: verilated RTL vs its\n"
          "                          golden model vs float, error bound, accuracy vs float\n"
          "                          updates (needs -DEQS_BUILD_RTL=ON, or --no-rtl)\n"
          "  version                 print the version\n"
          "\n"
          "Options shared by the experiment commands:\n"
          "  --set key.path=value    override a config key (repeatable)\n"
          "  --threads N             OpenBLAS threads (default: training.threads, 1)\n"
          "\n"
          "Configs: docs/config.md. Examples: experiments/README.md.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("eqsim %s (%s)\n", EQSIM_VERSION, EQS_REAL_NAME);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"eval", cmd_eval},         {"grads", cmd_grads},
                    {"bench", cmd_bench}, {"gducheck", cmd_gducheck}, {"sweep", cmd_sweep},
                    {"mvm", cmd_mvm},     {"cosim", cmd_cosim}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (eqsim --help lists them)", cmd);
    return 2;
}
