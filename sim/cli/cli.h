/* cli.h — what the eqsim subcommands share: argument parsing helpers, the experiment session
 * (config + data + trainer), and the progress display. Programs may exit(); the library may not. */
#ifndef EQS_CLI_H
#define EQS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "eqs/config.h"
#include "eqs/io.h"
#include "eqs/learn.h"

#define EQS_MAX_OVERRIDES 64

/* Options every experiment-driven subcommand accepts. */
typedef struct cli_common {
    const char *experiment;                   /* positional EXPERIMENT.yaml */
    const char *overrides[EQS_MAX_OVERRIDES]; /* --set key=value */
    int n_overrides;
    int threads; /* --threads N (0 = from the config) */
} cli_common;

/* Consumes --set/--threads at argv[*i] (advancing *i); returns 1 if consumed, 0 if not one of
 * them, -1 on a malformed use (message printed). */
int cli_parse_common(cli_common *c, int argc, char **argv, int *i);

/* Loads the experiment with the overrides, applies --threads, sets OpenBLAS's threads.
 * Prints the error and returns false on failure. */
bool cli_load_experiment(const cli_common *c, eqs_experiment_config *cfg);

/* Loads the train and test sets of cfg->data (subset, normalisation). */
bool cli_load_data(const eqs_experiment_config *cfg, eqs_dataset *train, eqs_dataset *test);

/* Prints "eqsim: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_err(const eqs_err *err);

/* Progress: a bar on stderr when it is a terminal, nothing otherwise (callers print plain lines
 * at the end of each epoch either way). */
typedef struct cli_progress {
    bool tty;
    double t_start_s, t_last_s;
    int64_t total;
    char label[64];
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done, const char *extra);
void cli_progress_end(cli_progress *p);

/* One training run, the path `eqsim train` and `eqsim sweep` share (cmd_train.c): makes RUNDIR,
 * writes the resolved config (config.yaml), then trains into it — metrics.csv, plots,
 * result.yaml, checkpoint/ and best/ — from RUNDIR's checkpoint when resume is set. quiet leaves
 * out the per-epoch and summary lines on stdout (errors and the terminal progress bar remain).
 * Returns the exit status: 0 done, 1 failed (message printed), 2 RUNDIR cannot be made. */
int cli_train_run(const eqs_experiment_config *cfg, const char *run_dir, bool resume, bool quiet);

/* The resolved config as eqs_experiment_write writes it to config.yaml (malloc'd text), or NULL
 * with the error printed. */
char *cli_config_yaml(const eqs_experiment_config *cfg);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_grads(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_gducheck(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_cosim(int argc, char **argv); /* cmd_cosim.c */

#endif
