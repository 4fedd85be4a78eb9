/* SPDX-License-Identifier: MIT */
/* accelbench history add|list|remove|trend|baseline|export: the SQLite run history. */
#include "../core/ab.h"
#include "../core/escape.h"
#include "commands.h"
#include "gate.h"
#include "grid.h"
#include "history.h"
#include "output.h"
#include "plot.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void history_usage(FILE *f)
{
    fputs("usage: accelbench history COMMAND [options]\n"
          "\n"
          "A database of runs (SQLite) for trends, step-change detection and gate baselines.\n"
          "\n"
          "  add RUN... [--replace]     record runs (run.json or run folders); a run id already\n"
          "                             recorded is left alone unless --replace\n"
          "  list [--limit N]           recorded runs, oldest first\n"
          "  remove ID...               forget runs\n"
          "  trend --metric KEY         a metric over time, one series per result (KEY: a suite,\n"
          "                             a case key or prefix, or a full result id), with step\n"
          "                             changes; filters: --device MODEL (substring), --impl X,\n"
          "                             --param k=v (repeatable), --name METRIC, --headline-only;\n"
          "                             --threshold X (minimum step, default 5%);\n"
          "                             --plot DIR writes trend.{dat,gp,png,svg} there\n"
          "  baseline --last N [-o FILE] [--exclude ID]\n"
          "                             the run document the gate uses for --baseline-last N\n"
          "  export ID [-o FILE]         a recorded run document\n"
          "\n"
          "options for every command:\n"
          "      --db PATH              the database (default $ACCELBENCH_HISTORY or\n"
          "                             results/history.sqlite)\n"
          "  -f, --format FMT           list and trend: table (default) | md | csv | json\n"
          "\n"
          "exit codes: 0 done, 2 usage or input error (unreadable run or database), 4 the\n"
          "database or an output file could not be written\n",
          f);
}

typedef struct {
    const char *db, *output, *metric, *device, *impl, *name, *plot, *exclude;
    char **params;
    size_t nparams;
    long limit, last;
    bool replace, headline_only;
    double threshold;
    int fmt;         /* 0 table, 1 md, 2 csv, 3 json */
    const char *cmd; /* "history SUB", for messages */
    char **args;     /* the arguments after the options */
    int nargs;
} hopts;

static void write_grid(const ab_grid *g, int fmt, FILE *f)
{
    if (fmt == 1)
        ab_grid_write_markdown(g, f);
    else
        ab_grid_write_text(g, f);
}

static int cmd_list(ab_history *h, const hopts *o)
{
    ab_history_run *v;
    size_t n;
    char err[AB_ERRLEN];
    if (ab_history_runs(h, o->limit, &v, &n, err) != 0) {
        fprintf(stderr, "accelbench history: %s\n", err);
        return AB_EXIT_IO;
    }
    if (o->fmt == 3) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_object();
            json_object_set_new(r, "id", json_string(v[i].id ? v[i].id : ""));
            json_object_set_new(r, "start_epoch", json_real(v[i].start_epoch));
            json_object_set_new(r, "hostname", v[i].hostname ? json_string(v[i].hostname) : json_null());
            json_object_set_new(r, "version", v[i].version ? json_string(v[i].version) : json_null());
            json_object_set_new(r, "git_commit",
                                v[i].git_commit ? json_string(v[i].git_commit) : json_null());
            json_object_set_new(r, "profile", v[i].profile ? json_string(v[i].profile) : json_null());
            json_object_set_new(r, "complete", json_boolean(v[i].complete));
            json_object_set_new(r, "results", json_integer(v[i].results));
            json_object_set_new(r, "pass", json_integer(v[i].pass));
            json_object_set_new(r, "fail", json_integer(v[i].fail));
            json_object_set_new(r, "skip", json_integer(v[i].skip));
            json_object_set_new(r, "error", json_integer(v[i].error));
            json_object_set_new(r, "source", v[i].source ? json_string(v[i].source) : json_null());
            json_array_append_new(a, r);
        }
        json_dumpf(a, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
        json_decref(a);
    } else if (o->fmt == 2) {
        fputs("id,start_time,hostname,version,git_commit,profile,complete,results,pass,fail,skip,"
              "error,source\n",
              stdout);
        for (size_t i = 0; i < n; i++) {
            char ts[40];
            ab_format_utc(v[i].start_epoch, ts, sizeof(ts));
            ab_csv_cell(stdout, v[i].id);
            printf(",%s,", ts);
            ab_csv_cell(stdout, v[i].hostname);
            putchar(',');
            ab_csv_cell(stdout, v[i].version);
            putchar(',');
            ab_csv_cell(stdout, v[i].git_commit);
            putchar(',');
            ab_csv_cell(stdout, v[i].profile);
            printf(",%s,%ld,%ld,%ld,%ld,%ld,", v[i].complete ? "true" : "false", v[i].results,
                   v[i].pass, v[i].fail, v[i].skip, v[i].error);
            ab_csv_cell(stdout, v[i].source);
            putchar('\n');
        }
    } else {
        static const char *const t[] = {"run", "started", "host", "accelbench", "profile",
                                        ">results", ">pass", ">fail", ">skip", ">error", "state"};
        ab_grid *g = ab_grid_new(11, t);
        for (size_t i = 0; g && i < n; i++) {
            char ts[40];
            ab_format_utc(v[i].start_epoch, ts, sizeof(ts));
            ab_grid_add_row(g);
            ab_grid_set(g, -1, 0, "%s", v[i].id);
            ab_grid_set(g, -1, 1, "%s", ts);
            ab_grid_set(g, -1, 2, "%s", v[i].hostname ? v[i].hostname : "?");
            ab_grid_set(g, -1, 3, "%s (%s)", v[i].version ? v[i].version : "?",
                        v[i].git_commit ? v[i].git_commit : "?");
            ab_grid_set(g, -1, 4, "%s", v[i].profile ? v[i].profile : "?");
            ab_grid_set(g, -1, 5, "%ld", v[i].results);
            ab_grid_set(g, -1, 6, "%ld", v[i].pass);
            ab_grid_set(g, -1, 7, "%ld", v[i].fail);
            ab_grid_set(g, -1, 8, "%ld", v[i].skip);
            ab_grid_set(g, -1, 9, "%ld", v[i].error);
            ab_grid_set(g, -1, 10, "%s", v[i].complete ? "complete" : "incomplete");
        }
        if (g)
            write_grid(g, o->fmt, stdout);
        ab_grid_free(g);
        fprintf(stderr, "%zu runs in %s\n", n, o->db);
    }
    ab_history_runs_free(v, n);
    return AB_EXIT_OK;
}

static char *series_label(const ab_trend_series *s)
{
    json_t *pj = s->params ? json_loads(s->params, 0, NULL) : NULL;
    char *p = pj ? ab_params_display(pj) : NULL;
    json_decref(pj);
    char *l = ab_asprintf("%s %s%s%s %s [%s]", s->key, s->impl ? s->impl : "", p && *p ? " " : "",
                          p ? p : "", s->metric, s->device_name ? s->device_name : "?");
    free(p);
    return l;
}

static bool is_step(const ab_trend_series *s, size_t k)
{
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i] == k)
            return true;
    return false;
}

static void trend_json(const ab_trend_series *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *so = json_object();
        json_object_set_new(so, "result_id", json_string(s[i].result_id));
        json_object_set_new(so, "key", json_string(s[i].key ? s[i].key : ""));
        json_object_set_new(so, "metric", json_string(s[i].metric));
        json_object_set_new(so, "unit", json_string(s[i].unit ? s[i].unit : ""));
        json_object_set_new(so, "direction",
                            json_string(s[i].higher_is_better ? "higher" : "lower"));
        json_t *pts = json_array();
        for (size_t k = 0; k < s[i].npts; k++) {
            const ab_trend_point *p = &s[i].pts[k];
            json_t *po = json_object();
            json_object_set_new(po, "run_id", json_string(p->run_id ? p->run_id : ""));
            json_object_set_new(po, "start_epoch", json_real(p->start_epoch));
            json_object_set_new(po, "median",
                                isfinite(p->median) ? json_real(p->median) : json_null());
            json_object_set_new(po, "min", isfinite(p->min) ? json_real(p->min) : json_null());
            json_object_set_new(po, "max", isfinite(p->max) ? json_real(p->max) : json_null());
            json_object_set_new(po, "cv", isfinite(p->cv) ? json_real(p->cv) : json_null());
            json_object_set_new(po, "n", json_integer(p->n));
            json_object_set_new(po, "step", json_boolean(is_step(&s[i], k)));
            json_array_append_new(pts, po);
        }
        json_object_set_new(so, "points", pts);
        json_array_append_new(a, so);
    }
    json_dumpf(a, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(a);
}

static void trend_csv(const ab_trend_series *s, size_t n)
{
    fputs("result_id,metric,unit,run_id,start_time,median,min,max,cv,n,step\n", stdout);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].npts; k++) {
            const ab_trend_point *p = &s[i].pts[k];
            char ts[40];
            ab_format_utc(p->start_epoch, ts, sizeof(ts));
            ab_csv_cell(stdout, s[i].result_id);
            putchar(',');
            ab_csv_cell(stdout, s[i].metric);
            putchar(',');
            ab_csv_cell(stdout, s[i].unit);
            putchar(',');
            ab_csv_cell(stdout, p->run_id);
            printf(",%s,%.10g,%.10g,%.10g,%.6g,%ld,%s\n", ts, p->median, p->min, p->max, p->cv,
                   p->n, is_step(&s[i], k) ? "true" : "false");
        }
}

/* The step cell of point k (a step): the shift between the medians of the segments either side. */
static void trend_step_cell(ab_grid *g, const ab_trend_series *t, size_t k)
{
    size_t lo = 0, hi = t->npts;
    for (size_t z = 0; z < t->nsteps; z++) {
        if (t->steps[z] < k && t->steps[z] > lo) lo = t->steps[z];
        if (t->steps[z] > k && t->steps[z] < hi) hi = t->steps[z];
    }
    double *y = malloc(t->npts * sizeof(*y));
    if (!y) return;
    for (size_t z = 0; z < t->npts; z++)
        y[z] = t->pts[z].median;
    double before = ab_median(y + lo, k - lo), after = ab_median(y + k, hi - k);
    bool better = t->higher_is_better ? after > before : after < before;
    ab_grid_set(g, -1, 8, "STEP %+.1f%% (%s)", 100.0 * (after / before - 1.0),
                better ? "better" : "worse");
    free(y);
}

/* One series as a heading and a table (text or markdown). */
static void trend_table(const ab_trend_series *t, int fmt)
{
    char *label = series_label(t);
    printf("%s%s%s\n\n", fmt == 1 ? "## " : "", label ? label : "?", fmt == 1 ? "" : ":");
    free(label);
    static const char *const cols[] = {"run", "started", ">median",      ">min", ">max",
                                       ">CV", ">n",      ">vs previous", "step"};
    ab_grid *g = ab_grid_new(9, cols);
    for (size_t k = 0; g && k < t->npts; k++) {
        const ab_trend_point *p = &t->pts[k];
        char ts[40], a[48], b[48], c[48];
        ab_format_utc(p->start_epoch, ts, sizeof(ts));
        ab_format_value(p->median, t->unit ? t->unit : "", a, sizeof(a));
        ab_format_value(p->min, t->unit ? t->unit : "", b, sizeof(b));
        ab_format_value(p->max, t->unit ? t->unit : "", c, sizeof(c));
        ab_grid_add_row(g);
        ab_grid_set(g, -1, 0, "%s", p->run_id);
        ab_grid_set(g, -1, 1, "%s", ts);
        ab_grid_set(g, -1, 2, "%s", a);
        ab_grid_set(g, -1, 3, "%s", b);
        ab_grid_set(g, -1, 4, "%s", c);
        ab_grid_set(g, -1, 5, isfinite(p->cv) ? "%.1f%%" : "-", 100.0 * p->cv);
        ab_grid_set(g, -1, 6, "%ld", p->n);
        if (k && t->pts[k - 1].median > 0)
            ab_grid_set(g, -1, 7, "%+.1f%%", 100.0 * (p->median / t->pts[k - 1].median - 1.0));
        if (is_step(t, k)) trend_step_cell(g, t, k);
    }
    if (g) {
        write_grid(g, fmt, stdout);
        putchar('\n');
    }
    ab_grid_free(g);
}

static int cmd_trend(ab_history *h, const hopts *o)
{
    char err[AB_ERRLEN];
    ab_trend_query q = {o->metric, o->device, o->impl, o->name, o->params, o->headline_only};
    ab_trend_series *s;
    size_t n;
    if (ab_history_trend(h, &q, o->threshold, &s, &n, err) != 0) {
        fprintf(stderr, "accelbench history: %s\n", err);
        return AB_EXIT_IO;
    }
    if (!n) {
        fprintf(stderr, "accelbench history trend: no passing result matches '%s' in %s\n",
                o->metric, o->db);
        return AB_EXIT_USAGE;
    }
    if (o->fmt == 3) {
        trend_json(s, n);
    } else if (o->fmt == 2) {
        trend_csv(s, n);
    } else {
        size_t steps = 0;
        for (size_t i = 0; i < n; i++) {
            trend_table(&s[i], o->fmt);
            steps += s[i].nsteps;
        }
        printf("%zu series, %zu step change%s (rank test per split, minimum step %.1f%% and 3x "
               "the run-to-run spread)\n",
               n, steps, steps == 1 ? "" : "s", 100.0 * o->threshold);
    }
    int rc = AB_EXIT_OK;
    if (o->plot) {
        ab_charts ch;
        memset(&ch, 0, sizeof(ch));
        if (ab_plot_trend(s, n, o->plot, "trend", &ch, err) != 0) {
            fprintf(stderr, "accelbench history trend: %s\n", err);
            rc = AB_EXIT_IO;
        } else if (ch.skipped) {
            ab_log(AB_LOG_WARN, "%s", ch.warning);
        } else {
            fprintf(stderr, "accelbench history trend: plot in %s/trend.{png,svg}\n", o->plot);
        }
        ab_charts_free(&ch);
    }
    ab_trend_free(s, n);
    return rc;
}

static int write_run_doc(const ab_run *run, const char *path)
{
    char err[AB_ERRLEN];
    if (path) {
        if (ab_run_write(run, path, err) != 0) {
            fprintf(stderr, "accelbench history: %s\n", err);
            return AB_EXIT_IO;
        }
        return AB_EXIT_OK;
    }
    json_t *doc = ab_run_to_json(run);
    int rc = json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(doc);
    return rc ? AB_EXIT_IO : AB_EXIT_OK;
}

/* The subcommand's options and arguments, checked before anything is opened. */
enum {
    O_DB = 1000,
    O_REPLACE,
    O_LIMIT,
    O_METRIC,
    O_DEVICE,
    O_IMPL,
    O_PARAM,
    O_NAME,
    O_PLOT,
    O_HEADLINE,
    O_THRESHOLD,
    O_LAST,
    O_EXCLUDE
};

static const struct option history_opts[] = {{"db", required_argument, NULL, O_DB},
                                             {"replace", no_argument, NULL, O_REPLACE},
                                             {"limit", required_argument, NULL, O_LIMIT},
                                             {"metric", required_argument, NULL, O_METRIC},
                                             {"device", required_argument, NULL, O_DEVICE},
                                             {"impl", required_argument, NULL, O_IMPL},
                                             {"param", required_argument, NULL, O_PARAM},
                                             {"name", required_argument, NULL, O_NAME},
                                             {"plot", required_argument, NULL, O_PLOT},
                                             {"headline-only", no_argument, NULL, O_HEADLINE},
                                             {"threshold", required_argument, NULL, O_THRESHOLD},
                                             {"last", required_argument, NULL, O_LAST},
                                             {"exclude", required_argument, NULL, O_EXCLUDE},
                                             {"format", required_argument, NULL, 'f'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

/* One option's value into *o: -1 to go on, or the exit code to stop with (--help: 0). */
static int history_option(int c, char *arg, char *const *argv, const ab_optseen *seen,
                          const char *cmd, hopts *o)
{
    char err[AB_ERRLEN];
    long l;
    switch (c) {
    case AB_OPT_TWICE:
        return ab_usage_error(cmd, "%s given twice", seen->name);
    case O_DB:
        o->db = arg;
        break;
    case O_REPLACE:
        o->replace = true;
        break;
    case O_LIMIT:
        if (ab_parse_long(arg, "--limit", 1, 1000000, &l, err) != 0)
            return ab_usage_error(cmd, "%s", err);
        o->limit = l;
        break;
    case O_METRIC:
        o->metric = arg;
        break;
    case O_DEVICE:
        o->device = arg;
        break;
    case O_IMPL:
        o->impl = arg;
        break;
    case O_PARAM:
        if (!strchr(arg, '=')) return ab_usage_error(cmd, "--param: '%s' is not k=v", arg);
        o->params[o->nparams++] = arg;
        break;
    case O_NAME:
        o->name = arg;
        break;
    case O_PLOT:
        o->plot = arg;
        break;
    case O_HEADLINE:
        o->headline_only = true;
        break;
    case O_THRESHOLD:
        if (ab_parse_fraction(arg, "--threshold", &o->threshold, err) != 0)
            return ab_usage_error(cmd, "%s", err);
        break;
    case O_LAST:
        if (ab_parse_long(arg, "--last", 1, 1000, &l, err) != 0)
            return ab_usage_error(cmd, "%s", err);
        o->last = l;
        break;
    case O_EXCLUDE:
        o->exclude = arg;
        break;
    case 'f': {
        static const char *const f[] = {"table", "md", "csv", "json"};
        o->fmt = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(arg, f[i]) == 0) o->fmt = i;
        if (o->fmt < 0)
            return ab_usage_error(cmd, "--format: '%s' is not table, md, csv or json", arg);
        break;
    }
    case 'o':
        o->output = arg;
        break;
    case 'h':
        history_usage(stdout);
        return AB_EXIT_OK;
    case ':':
        return ab_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    default:
        return ab_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    return -1;
}

/* argv[0] is the subcommand; fills *o (o->params allocated by the caller) and o->args. Returns
 * -1 to go on, or the exit code to stop with. */
static int history_parse(int argc, char **argv, hopts *o)
{
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    int c;
    while ((c = ab_getopt(argc, argv, ":f:o:h", history_opts, (const int[]){O_PARAM, 0}, &seen)) !=
           -1) {
        int rc = history_option(c, optarg, argv, &seen, o->cmd, o);
        if (rc >= 0) return rc;
    }
    if (!*o->db) return ab_usage_error(o->cmd, "--db: empty path");
    o->nargs = argc - optind;
    o->args = argv + optind;
    const char *sub = argv[0];
    /* arguments and options each subcommand takes */
    if (strcmp(sub, "add") == 0 && o->nargs < 1) return ab_usage_error(o->cmd, "no run given");
    if (strcmp(sub, "remove") == 0 && o->nargs < 1)
        return ab_usage_error(o->cmd, "no run id given");
    if (strcmp(sub, "export") == 0 && o->nargs != 1)
        return ab_usage_error(o->cmd, "give one run id");
    if ((strcmp(sub, "list") == 0 || strcmp(sub, "trend") == 0 || strcmp(sub, "baseline") == 0) &&
        o->nargs)
        return ab_usage_error(o->cmd, "unexpected argument '%s'", o->args[0]);
    if (strcmp(sub, "trend") == 0 && !o->metric)
        return ab_usage_error(o->cmd, "--metric KEY is required");
    if (strcmp(sub, "baseline") == 0 && !o->last)
        return ab_usage_error(o->cmd, "--last N is required");
    return -1;
}

static void free_runs(ab_run **runs, int n)
{
    for (int k = 0; k < n; k++)
        ab_run_free(runs[k]);
    free(runs);
}

/* history add: the runs are read before the database is touched, so a bad file changes nothing */
static int cmd_add(const hopts *o)
{
    char err[AB_ERRLEN];
    ab_run **runs = calloc((size_t)o->nargs, sizeof(*runs));
    if (!runs) return AB_EXIT_FAIL;
    for (int i = 0; i < o->nargs; i++)
        if (!(runs[i] = ab_load_run_arg(o->args[i], err))) {
            fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
            free_runs(runs, i);
            return AB_EXIT_USAGE;
        }
    ab_history *h = NULL;
    if (ab_history_open(o->db, true, &h, err) != 0) {
        fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
        free_runs(runs, o->nargs);
        return AB_EXIT_IO;
    }
    int rc = AB_EXIT_OK;
    for (int i = 0; i < o->nargs; i++) {
        bool added = false;
        if (ab_history_add(h, runs[i], o->args[i], o->replace, &added, err) != 0) {
            fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
            rc = AB_EXIT_IO;
        } else {
            fprintf(stderr, "accelbench history: %s %s%s\n", added ? "recorded" : "already has",
                    runs[i]->id, added ? "" : " (--replace to overwrite)");
        }
    }
    free_runs(runs, o->nargs);
    ab_history_close(h);
    return rc;
}

static int cmd_remove(ab_history *h, const hopts *o)
{
    char err[AB_ERRLEN];
    int rc = AB_EXIT_OK;
    for (int i = 0; i < o->nargs; i++)
        if (ab_history_remove(h, o->args[i], err) != 0) {
            fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
            rc = AB_EXIT_USAGE;
        }
    return rc;
}

/* history baseline and history export: a run document to -o FILE or stdout */
static int cmd_document(ab_history *h, const hopts *o, bool baseline)
{
    char err[AB_ERRLEN];
    ab_run *b = baseline ? ab_history_baseline(h, o->last, o->exclude, err)
                         : ab_history_load(h, o->args[0], err);
    if (!b) {
        fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
        return AB_EXIT_USAGE;
    }
    int rc = write_run_doc(b, o->output);
    ab_run_free(b);
    return rc;
}

static int cmd_baseline(ab_history *h, const hopts *o)
{
    return cmd_document(h, o, true);
}

static int cmd_export(ab_history *h, const hopts *o)
{
    return cmd_document(h, o, false);
}

/* The subcommands on an existing database (add creates it and has its own path). */
static const struct {
    const char *name;
    int (*run)(ab_history *, const hopts *);
} history_subs[] = {{"add", NULL},        {"list", cmd_list},         {"remove", cmd_remove},
                    {"trend", cmd_trend}, {"baseline", cmd_baseline}, {"export", cmd_export}};
#define N_HISTORY_SUBS (sizeof(history_subs) / sizeof(history_subs[0]))

/* The subcommand on an existing database: a missing or unreadable one is an input error. */
static int run_on_db(int (*run)(ab_history *, const hopts *), const hopts *o)
{
    char err[AB_ERRLEN];
    ab_history *h = NULL;
    if (ab_history_open(o->db, false, &h, err) != 0) {
        fprintf(stderr, "accelbench %s: %s\n", o->cmd, err);
        return AB_EXIT_USAGE;
    }
    int rc = run(h, o);
    ab_history_close(h);
    return rc;
}

int ab_cmd_history(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        history_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AB_EXIT_USAGE : AB_EXIT_OK;
    }
    const char *sub = argv[1];
    size_t k = 0;
    while (k < N_HISTORY_SUBS && strcmp(sub, history_subs[k].name) != 0)
        k++;
    if (k == N_HISTORY_SUBS)
        return ab_usage_error("history",
                              "unknown command '%s' (add, list, remove, trend, "
                              "baseline, export)",
                              sub);
    hopts o;
    memset(&o, 0, sizeof(o));
    o.db = ab_history_default_path();
    o.threshold = 0.05;
    char cmdname[32];
    snprintf(cmdname, sizeof(cmdname), "history %s", sub);
    o.cmd = cmdname;
    o.params = calloc((size_t)argc, sizeof(*o.params));
    if (!o.params) return AB_EXIT_FAIL;
    int rc = history_parse(argc - 1, argv + 1, &o);
    if (rc < 0) rc = history_subs[k].run ? run_on_db(history_subs[k].run, &o) : cmd_add(&o);
    free(o.params);
    return rc;
}
