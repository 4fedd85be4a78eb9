/* SPDX-License-Identifier: MIT */
/* Subcommands of the accelbench binary. Each returns the process exit code (core/ab.h). */
#ifndef AB_COMMANDS_H
#define AB_COMMANDS_H

int ab_cmd_list(int argc, char **argv);
int ab_cmd_run(int argc, char **argv);
int ab_cmd_probe(int argc, char **argv);
/* runners: comparison, regression gate, history, charts, HTML report */
int ab_cmd_compare(int argc, char **argv);
int ab_cmd_gate(int argc, char **argv);
int ab_cmd_history(int argc, char **argv);
int ab_cmd_plot(int argc, char **argv);
int ab_cmd_report(int argc, char **argv);
int ab_cmd_fleet(int argc, char **argv);

/* Build facts (generated at build time: build/gen/build_info.c). */
extern const char ab_build_git_commit[];
extern const char ab_build_compiler[];
extern const char ab_build_type[];
extern const char ab_build_flags[];

/* Prints "accelbench <cmd>: <msg>" and a hint to stderr; returns AB_EXIT_USAGE. */
int ab_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * getopt_long for the subcommands, refusing an option that takes a value and is given twice
 * (a silent "last one wins" hides typos in long command lines): such a repeat returns
 * AB_OPT_TWICE with its spelling ("--suite") in seen->name. Options listed in `repeatable`
 * (values of c, 0-terminated; NULL for none) may repeat. Zero *seen before the loop.
 */
#define AB_OPT_TWICE (-2)
#define AB_OPT_SEEN_MAX 96
typedef struct ab_optseen {
    int c[AB_OPT_SEEN_MAX];
    int n;
    char name[64];
} ab_optseen;
struct option;
int ab_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
              const int *repeatable, ab_optseen *seen);

#endif
