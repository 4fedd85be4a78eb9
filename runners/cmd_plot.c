/* SPDX-License-Identifier: MIT */
/* accelbench plot RUN... and accelbench report RUN... --html FILE. */
#include "../core/ab.h"
#include "commands.h"
#include "gate.h"
#include "plot.h"
#include "report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static ab_run **load_runs(int n, char **args, const char *cmd)
{
    char err[AB_ERRLEN];
    ab_run **runs = calloc((size_t)n, sizeof(*runs));
    if (!runs)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!(runs[i] = ab_load_run_arg(args[i], err))) {
            fprintf(stderr, "accelbench %s: %s\n", cmd, err);
            for (int k = 0; k < i; k++)
                ab_run_free(runs[k]);
            free(runs);
            return NULL;
        }
    return runs;
}

static void free_runs(ab_run **runs, int n)
{
    for (int i = 0; i < n; i++)
        ab_run_free(runs[i]);
    free(runs);
}

static void plot_usage(FILE *f)
{
    fputs("usage: accelbench plot RUN [RUN...] [--out DIR]\n"
          "\n"
          "Charts with gnuplot, chosen by the data: a metric against a swept parameter (membw\n"
          "bandwidth vs working set, GEMM FLOP/s vs size, attention latency vs sequence length),\n"
          "headline figures per unit (tokens/s, tokens per $ included), a roofline per device\n"
          "model. Each chart is NAME.dat + NAME.gp (restyle and rerun 'gnuplot NAME.gp') and\n"
          "NAME.png + NAME.svg. Without gnuplot the .dat/.gp files are written and a warning\n"
          "says the images were skipped.\n"
          "\n"
          "  -o, --out DIR        output folder (default: RUN/plots for one run folder, else\n"
          "                       ./plots)\n"
          "      --help           this text\n"
          "\n"
          "exit codes: 0 done (also when gnuplot is missing: see the warning), 2 usage or input\n"
          "error, 4 the files could not be written\n",
          f);
}

int ab_cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":o:h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("plot", "%s given twice", seen.name);
        case 'o': out = optarg; break;
        case 'h': plot_usage(stdout); return AB_EXIT_OK;
        case ':': return ab_usage_error("plot", "option '%s' needs a value", argv[optind - 1]);
        default: return ab_usage_error("plot", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int n = argc - optind;
    if (n < 1)
        return ab_usage_error("plot", "no run given");
    if (out && !*out)
        return ab_usage_error("plot", "--out: empty path");
    ab_run **runs = load_runs(n, argv + optind, "plot");
    if (!runs)
        return AB_EXIT_USAGE;
    char *dir = NULL;
    struct stat st;
    if (out)
        dir = ab_strdup(out);
    else if (n == 1 && stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
        dir = ab_asprintf("%s/plots", argv[optind]);
    else
        dir = ab_strdup("plots");
    ab_charts ch;
    char err[AB_ERRLEN];
    int rc = AB_EXIT_OK;
    if (!dir || ab_plot_runs(runs, (size_t)n, dir, &ch, err) != 0) {
        fprintf(stderr, "accelbench plot: %s\n", dir ? err : "out of memory");
        rc = AB_EXIT_IO;
    } else {
        for (size_t i = 0; i < ch.n; i++)
            printf("%s/%s.%s  %s (%s)\n", dir, ch.v[i].name, ch.v[i].rendered ? "{png,svg,gp,dat}" : "{gp,dat}",
                   ch.v[i].title, ch.v[i].kind);
        if (!ch.n)
            ab_log(AB_LOG_WARN, "no chart: no swept parameter, headline figure or roofline point "
                                "in these runs");
        if (ch.skipped)
            ab_log(AB_LOG_WARN, "%s", ch.warning);
        ab_charts_free(&ch);
    }
    free(dir);
    free_runs(runs, n);
    return rc;
}

static void report_usage(FILE *f)
{
    fputs("usage: accelbench report RUN [RUN...] --html FILE [options]\n"
          "\n"
          "One self-contained HTML file, readable offline: the runs, their comparison (two or\n"
          "more runs), headline figures with % of datasheet peak, charts as inline SVG, every\n"
          "result with its samples and details, each run's machine and probe manifest.\n"
          "\n"
          "      --html FILE      the report (required)\n"
          "      --title TEXT     page title (default \"accelbench report\")\n"
          "      --plots-dir DIR  also keep the charts' .dat/.gp/.png/.svg files there\n",
          f);
    fputs(ab_gate_stat_help, f);
    fputs("      --help           this text\n"
          "\n"
          "exit codes: 0 written (a warning says when charts were skipped), 2 usage or input\n"
          "error, 4 the file could not be written\n",
          f);
}

int ab_cmd_report(int argc, char **argv)
{
    static const struct option own[] = {{"html", required_argument, NULL, 'H'},
                                        {"title", required_argument, NULL, 'T'},
                                        {"plots-dir", required_argument, NULL, 'P'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
    struct option opts[16];
    size_t k = 0;
    for (size_t i = 0; own[i].name; i++)
        opts[k++] = own[i];
    for (size_t i = 0; i < AB_GATE_NSTAT_OPTIONS; i++)
        opts[k++] = ab_gate_long_options[i];
    opts[k] = (struct option){NULL, 0, NULL, 0};
    ab_gate_opts g;
    ab_gate_opts_default(&g);
    ab_report_opts ro = {.title = NULL, .plots_dir = NULL};
    const char *html = NULL;
    char err[AB_ERRLEN];
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("report", "%s given twice", seen.name);
        case 'H': html = optarg; break;
        case 'T': ro.title = optarg; break;
        case 'P': ro.plots_dir = optarg; break;
        case 'h': report_usage(stdout); return AB_EXIT_OK;
        case ':': return ab_usage_error("report", "option '%s' needs a value", argv[optind - 1]);
        case '?': return ab_usage_error("report", "unknown option '%s'", argv[optind - 1]);
        default: {
            int r = ab_gate_parse_option(c, optarg, &g, err);
            if (r < 0)
                return ab_usage_error("report", "%s", err);
            if (r == 0)
                return ab_usage_error("report", "unknown option");
        }
        }
    }
    int n = argc - optind;
    if (!html || !*html)
        return ab_usage_error("report", "--html FILE is required");
    if (n < 1)
        return ab_usage_error("report", "no run given");
    ab_run **runs = load_runs(n, argv + optind, "report");
    if (!runs)
        return AB_EXIT_USAGE;
    ro.cmp = g.cmp;
    char *buf = NULL;
    size_t len = 0;
    char warning[AB_ERRLEN] = "";
    int rc = AB_EXIT_OK;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        rc = AB_EXIT_FAIL;
    } else {
        int r = ab_report_html(runs, (size_t)n, &ro, f, warning, err);
        fclose(f);
        if (r != 0 || ab_write_file_atomic(html, buf, len, err) != 0) {
            fprintf(stderr, "accelbench report: %s\n", err);
            rc = AB_EXIT_IO;
        } else {
            if (*warning)
                ab_log(AB_LOG_WARN, "%s", warning);
            fprintf(stderr, "accelbench report: %s (%zu bytes)\n", html, len);
        }
    }
    free(buf);
    free_runs(runs, n);
    return rc;
}
