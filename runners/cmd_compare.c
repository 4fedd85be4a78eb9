/* SPDX-License-Identifier: MIT */
/* accelbench compare RUN... and accelbench gate BASELINE NEW. */
#include "../core/ab.h"
#include "commands.h"
#include "compare.h"
#include "gate.h"
#include "scorecard.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { FMT_TABLE, FMT_MD, FMT_CSV, FMT_JSON } out_format;

static int parse_format(const char *s, out_format *f)
{
    static const char *const names[] = {"table", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0 || (i == 1 && strcmp(s, "markdown") == 0)) {
            *f = (out_format)i;
            return 0;
        }
    return -1;
}

/* Collects the gate/statistics options plus the command's own into one getopt table. */
static size_t build_opts(struct option *opts, const struct option *own, size_t nstat_or_all)
{
    size_t n = 0;
    for (size_t i = 0; own[i].name; i++)
        opts[n++] = own[i];
    for (size_t i = 0; i < nstat_or_all; i++)
        opts[n++] = ab_gate_long_options[i];
    opts[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

static void free_runs(ab_run **runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ab_run_free(runs[i]);
    free(runs);
}

/* Writes the output to a file (atomically) or stdout. */
static int emit(const char *path, int (*fn)(void *, FILE *), void *arg, char *err)
{
    if (!path) {
        int rc = fn(arg, stdout);
        fflush(stdout);
        return rc ? ab_err(err, "write error on stdout") : 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ab_err(err, "out of memory");
    int rc = fn(arg, f);
    fclose(f);
    if (rc == 0)
        rc = ab_write_file_atomic(path, buf, len, err);
    else
        ab_err(err, "cannot format the output");
    free(buf);
    return rc;
}

typedef struct {
    ab_cmp *c;
    out_format fmt;
    bool changed;
    ab_run *const *runs;
    size_t nruns;
} cmp_out;

static int write_cmp(void *arg, FILE *f)
{
    cmp_out *o = arg;
    /* the table and Markdown open with the scorecard of every run x device */
    const ab_run *const *runs = (const ab_run *const *)o->runs;
    switch (o->fmt) {
    case FMT_MD:
        if (ab_scorecard_print(runs, o->nruns, NULL, AB_SC_MARKDOWN, f) != 0) return -1;
        return ab_cmp_write_markdown(o->c, f, o->changed);
    case FMT_CSV: return ab_cmp_write_csv(o->c, f);
    case FMT_JSON: {
        json_t *j = ab_cmp_to_json(o->c);
        int rc = j ? json_dumpf(j, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) : -1;
        json_decref(j);
        fputc('\n', f);
        return rc;
    }
    default:
        if (ab_scorecard_print(runs, o->nruns, NULL, AB_SC_TEXT, f) != 0) return -1;
        return ab_cmp_write_table(o->c, f, o->changed);
    }
}

static void compare_usage(FILE *f)
{
    fputs("usage: accelbench compare RUN [RUN...] [options]\n"
          "\n"
          "Opens with the scorecard (one row per run and device: accelerator, instance, price,\n"
          "bandwidth, GEMM, attention, tokens/s, $ and gCO2e per 1M tokens; table and md), then\n"
          "puts runs side by side: every result aligned by identity, with its median, % of\n"
          "datasheet peak, ratio to the first run and a verdict (same / better / worse) from a\n"
          "Mann-Whitney U test on the samples plus a minimum effect. A RUN is a run.json or a\n"
          "run folder (results/<id>, results/latest).\n"
          "\n"
          "  -f, --format FMT     table (default) | md | csv | json\n"
          "  -o, --output FILE    write there instead of stdout\n"
          "      --changed        only rows with a better/worse verdict (table, md)\n",
          f);
    fputs(ab_gate_stat_help, f);
    fputs("      --help           this text\n"
          "\n"
          "exit codes: 0 compared, 2 usage or input error (a malformed file is named with the\n"
          "position of the problem), 4 the output could not be written\n",
          f);
}

int ab_cmd_compare(int argc, char **argv)
{
    static const struct option own[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"changed", no_argument, NULL, 'c'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct option opts[32];
    build_opts(opts, own, AB_GATE_NSTAT_OPTIONS);
    ab_gate_opts g;
    ab_gate_opts_default(&g);
    out_format fmt = FMT_TABLE;
    const char *output = NULL;
    bool changed = false;
    char err[AB_ERRLEN] = "";
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":f:o:h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("compare", "%s given twice", seen.name);
        case 'f':
            if (parse_format(optarg, &fmt) != 0)
                return ab_usage_error("compare", "--format: '%s' is not table, md, csv or json",
                                      optarg);
            break;
        case 'o': output = optarg; break;
        case 'c': changed = true; break;
        case 'h': compare_usage(stdout); return AB_EXIT_OK;
        case ':': return ab_usage_error("compare", "option '%s' needs a value", argv[optind - 1]);
        case '?': return ab_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
        default: {
            int r = ab_gate_parse_option(c, optarg, &g, err);
            if (r < 0)
                return ab_usage_error("compare", "%s", err);
            if (r == 0)
                return ab_usage_error("compare", "unknown option");
        }
        }
    }
    size_t n = (size_t)(argc - optind);
    if (n < 1)
        return ab_usage_error("compare", "no run given");
    ab_run **runs = calloc(n, sizeof(*runs));
    if (!runs)
        return AB_EXIT_FAIL;
    for (size_t i = 0; i < n; i++)
        if (!(runs[i] = ab_load_run_arg(argv[optind + (int)i], err))) {
            free_runs(runs, n);
            fprintf(stderr, "accelbench compare: %s\n", err);
            return AB_EXIT_USAGE;
        }
    ab_cmp cmp;
    if (ab_compare(runs, n, &g.cmp, &cmp, err) != 0) {
        free_runs(runs, n);
        fprintf(stderr, "accelbench compare: %s\n", err);
        return AB_EXIT_FAIL;
    }
    if (n > 1 && !ab_cmp_aligned(&cmp))
        ab_log(AB_LOG_WARN, "no result of these runs aligns with another (align '%s')%s",
               ab_align_name(g.cmp.align),
               g.cmp.align == AB_ALIGN_EXACT
                   ? ": different device models or sizes? try --align headline or any-device"
                   : "");
    cmp_out co = {&cmp, fmt, changed, runs, n};
    int rc = AB_EXIT_OK;
    if (emit(output, write_cmp, &co, err) != 0) {
        fprintf(stderr, "accelbench compare: %s\n", err);
        rc = AB_EXIT_IO;
    }
    ab_cmp_free(&cmp);
    free_runs(runs, n);
    return rc;
}

static void gate_usage(FILE *f)
{
    fputs("usage: accelbench gate BASELINE NEW [options]\n"
          "       accelbench gate --baseline-last N NEW [options]\n"
          "\n"
          "The regression gate: exits 3 when a metric of NEW is worse than the baseline beyond\n"
          "noise (Mann-Whitney U test on the samples, and a change beyond the minimum effect).\n"
          "BASELINE is a run (run.json or folder) or, with --baseline-last N, the median of the\n"
          "last N complete runs in the history database. Prints the changed metrics and a\n"
          "verdict; names every worse metric on stderr.\n"
          "\n"
          "  -f, --format FMT     table (default) | md\n"
          "      --all            every compared metric, not only the changed ones\n",
          f);
    fputs(ab_gate_help, f);
    fputs(ab_gate_stat_help, f);
    fputs("      --help           this text\n"
          "\n"
          "exit codes: 0 no regression, 1 the new run has failed or errored results, 2 usage or\n"
          "input error (also: nothing to compare), 3 regression, 4 the JUnit file could not be\n"
          "written\n",
          f);
}

int ab_cmd_gate(int argc, char **argv)
{
    static const struct option own[] = {{"format", required_argument, NULL, 'f'},
                                        {"all", no_argument, NULL, 'a'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
    struct option opts[32];
    build_opts(opts, own, AB_GATE_NOPTIONS);
    ab_gate_opts g;
    ab_gate_opts_default(&g);
    out_format fmt = FMT_TABLE;
    bool all = false;
    char err[AB_ERRLEN] = "";
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":f:h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("gate", "%s given twice", seen.name);
        case 'f':
            if (parse_format(optarg, &fmt) != 0 || fmt > FMT_MD)
                return ab_usage_error("gate", "--format: '%s' is not table or md", optarg);
            break;
        case 'a': all = true; break;
        case 'h': gate_usage(stdout); return AB_EXIT_OK;
        case ':': return ab_usage_error("gate", "option '%s' needs a value", argv[optind - 1]);
        case '?': return ab_usage_error("gate", "unknown option '%s'", argv[optind - 1]);
        default: {
            int r = ab_gate_parse_option(c, optarg, &g, err);
            if (r < 0)
                return ab_usage_error("gate", "%s", err);
            if (r == 0)
                return ab_usage_error("gate", "unknown option");
        }
        }
    }
    int nargs = argc - optind;
    if (g.baseline)
        return ab_usage_error("gate", "the baseline is the first argument (or --baseline-last N)");
    if (g.last > 0 ? nargs != 1 : nargs != 2)
        return ab_usage_error("gate", g.last > 0 ? "give one run: NEW"
                                                 : "give two runs: BASELINE NEW");
    if (!g.last)
        g.baseline = argv[optind++];
    ab_run *nw = ab_load_run_arg(argv[optind], err);
    if (!nw) {
        fprintf(stderr, "accelbench gate: %s\n", err);
        return AB_EXIT_USAGE;
    }
    ab_run *base = ab_gate_baseline(&g, nw->id, err);
    if (!base) {
        ab_run_free(nw);
        fprintf(stderr, "accelbench gate: %s\n", err);
        return AB_EXIT_USAGE;
    }
    int rc = ab_gate_judge(base, nw, &g, stdout, fmt == FMT_MD, all, err);
    fflush(stdout);
    if (rc == AB_EXIT_USAGE || rc == AB_EXIT_IO)
        fprintf(stderr, "accelbench gate: %s\n", err);
    ab_run_free(base);
    ab_run_free(nw);
    return rc;
}
