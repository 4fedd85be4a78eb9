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

/* Build facts (generated at build time: build/gen/build_info.c). */
extern const char ab_build_git_commit[];
extern const char ab_build_compiler[];
extern const char ab_build_type[];
extern const char ab_build_flags[];

/* Prints "accelbench <cmd>: <msg>" and a hint to stderr; returns AB_EXIT_USAGE. */
int ab_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
