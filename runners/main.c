/* SPDX-License-Identifier: MIT */
/* accelbench: one binary, subcommands. stdout carries data; stderr carries logs and progress. */
#include "../core/ab.h"
#include "commands.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ab_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* one line whatever the arguments held: control characters from argv become '?' */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    fprintf(stderr, "accelbench%s%s: %s (see 'accelbench %s%s--help')\n", cmd ? " " : "",
            cmd ? cmd : "", msg, cmd ? cmd : "", cmd ? " " : "");
    return AB_EXIT_USAGE;
}

int ab_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
              const int *repeatable, ab_optseen *seen)
{
    int li = -1;
    int c = getopt_long(argc, argv, shortopts, longopts, &li);
    if (c < 0 || c == '?' || c == ':' || !optarg)
        return c;
    for (const int *r = repeatable; r && *r; r++)
        if (*r == c)
            return c;
    for (int i = 0; i < seen->n; i++)
        if (seen->c[i] == c) {
            /* the long spelling, whichever form was typed */
            if (li < 0)
                for (int k = 0; longopts[k].name; k++)
                    if (longopts[k].val == c && !longopts[k].flag) {
                        li = k;
                        break;
                    }
            if (li >= 0)
                snprintf(seen->name, sizeof(seen->name), "--%s", longopts[li].name);
            else
                snprintf(seen->name, sizeof(seen->name), "-%c", c);
            return AB_OPT_TWICE;
        }
    if (seen->n < AB_OPT_SEEN_MAX)
        seen->c[seen->n++] = c;
    return c;
}

static void usage(FILE *f)
{
    fputs("usage: accelbench [--version] [--help] <command> [options]\n"
          "\n"
          "Accelerator benchmarks: memory bandwidth, GEMM, attention, tokens per dollar,\n"
          "on CPUs (OpenMP), OpenCL devices, NVIDIA (CUDA) and AMD (HIP) GPUs.\n"
          "\n"
          "commands:\n"
          "  list      backends (built/available/why not), devices, suites and their keys\n"
          "  run       run suites on devices and write a results folder\n"
          "  probe     the machine manifest: topology, firmware, GPUs, clocks, power, counters\n"
          "  compare   put runs side by side: value, % of peak, ratio, verdict\n"
          "  gate      regression gate: exit 3 when a metric got worse beyond noise\n"
          "  history   record runs in a database; trends and step changes\n"
          "  plot      gnuplot charts (PNG, SVG, with their .gp and data files)\n"
          "  report    one self-contained HTML report of one or more runs\n"
          "  fleet     find the bad node: one metric across nodes, robust z-score, exit 3\n"
          "\n"
          "'accelbench <command> --help' describes a command's options.\n"
          "exit codes: 0 all pass/skip, 1 a result failed or errored, 2 usage or input error,\n"
          "            3 regression (gate), 4 results could not be written, 130 interrupted\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return AB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return AB_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("accelbench %s (git %s, %s, %s)\n", AB_VERSION, ab_build_git_commit,
               ab_build_compiler, ab_build_type);
        return AB_EXIT_OK;
    }
    if (strcmp(cmd, "list") == 0)
        return ab_cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return ab_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0)
        return ab_cmd_probe(argc - 1, argv + 1);
    /* runners */
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } runners[] = {{"compare", ab_cmd_compare}, {"gate", ab_cmd_gate},
                   {"history", ab_cmd_history}, {"plot", ab_cmd_plot},
                   {"report", ab_cmd_report}, {"fleet", ab_cmd_fleet}};
    for (size_t i = 0; i < sizeof(runners) / sizeof(runners[0]); i++)
        if (strcmp(cmd, runners[i].name) == 0)
            return runners[i].fn(argc - 1, argv + 1);
    return ab_usage_error(NULL, "unknown command '%s'", cmd);
}
