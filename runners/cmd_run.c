/* SPDX-License-Identifier: MIT */
/*
 * accelbench run: validate every input first (nothing is created on a usage error), create the
 * run folder, run the selected suites on the selected devices. run.json is written twice: its
 * header (no results) at the start and the whole document at the end (atomic rewrites); in
 * between every finished result is appended to the journal (journal.jsonl) as one fsync'd line,
 * so an interrupted run keeps everything that finished and a killed one too (ab_run_read merges
 * the journal into a document that was never finalised).
 */
#include "../backends/registry.h"
#include "../core/ab.h"
#include "../core/peaks.h"
#include "../core/rundoc.h"
#include "../probes/probe.h"
#include "../probes/sampler.h"
#include "../suites/suite.h"
#include "commands.h"
#include "concurrent.h"
#include "gate.h"
#include "history.h"
#include "mpi_job.h"
#include "node_run.h"
#include "output.h"
#include "budget.h"
#include "progress.h"
#include "reporter.h"
#include "run_probes.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

json_t *ab_platform_json_backends(const ab_platform *p);
json_t *ab_platform_json_devices(const ab_platform *p);

enum {
    OPT_RUN_ID = 1000,
    OPT_CORRUPT,
    OPT_BASELINE,
    OPT_RECORD,
    OPT_CONCURRENT,
    OPT_RANK_TIMEOUT,
    OPT_BUDGET,
    OPT_PROGRESS,
    OPT_SUITE_PARAM = 2000, /* + index into the collected suite parameter names */
};

typedef struct runner {
    ab_run *run;
    ab_peaks peaks;   /* datasheet peaks, for extra.peak of each result */
    bool have_peaks;
    char dir[PATH_MAX];
    char json_path[PATH_MAX];
    ab_reporters out; /* run.json + journal, results.csv, summary.md, progress (reporter.h) */
    int io_failed;
    bool quiet;
    ab_run_probes probes; /* manifest, sampler, counters, pinning (run_probes.h) */
    ab_platform *platform;
    ab_reporter *progress; /* the progress reporter (in out), NULL without one */
    ab_budget *budget;     /* --budget or the profile's default; NULL: none */
} runner;

static void run_usage(FILE *f)
{
    fputs("usage: accelbench run [options]\n"
          "\n"
          "Runs suites on devices; writes <out>/<run-id>/{run.json,results.csv,summary.md} and\n"
          "prints the summary on stdout. Progress goes to stderr.\n"
          "\n"
          "  -s, --suite LIST     suites or case keys, by key or prefix: membw, membw.triad\n"
          "                       (default: all)\n"
          "  -d, --device LIST    device ids from 'accelbench list': cpu, opencl:0, cuda:0, or\n"
          "                       'all' (default): unavailable backends are recorded as skipped\n"
          "  -p, --profile NAME   quick | standard | full (default standard): samples, sample\n"
          "                       length and sweep density\n"
          "  -o, --out DIR        results root (default ./results)\n"
          "  -r, --repeat N       samples per case (default by profile: 5, 10, 20)\n"
          "  -t, --min-time SEC   minimum length of one sample (default 0.02, 0.05, 0.1)\n"
          "      --run-id ID      name of the run folder (default <UTC time>-<host>)\n"
          "      --concurrent     every selected device at once, one pinned host thread each,\n"
          "                       plus aggregate results (device 'concurrent'; default when\n"
          "                       only the burn suite is selected)\n"
          "  -q, --quiet          no progress lines (--progress none)\n"
          "      --progress MODE  live (a status line rewritten in place: suite, case, k of n,\n"
          "                       elapsed, ETA), plain (one line per result), none; default\n"
          "                       live when stderr is a terminal, else plain\n"
          "      --budget TIME    plan the run to end within TIME (15m, 90s, 1.5h; 0 or none:\n"
          "                       no budget; default: 12m for standard, none for quick and\n"
          "                       full): every suite on every device at the quick profile's\n"
          "                       cases first, then the profile's while they fit; the cases\n"
          "                       left out are skips with reason \"budget\"\n"
          "  -v, --verbose        debug logging\n"
          "      --help           this text\n"
          "      --rank-timeout SEC  under mpirun/srun: how long a rank waits for the others\n"
          "                       at each meeting point (default 300); a lost rank ends the\n"
          "                       job after the others' results are written (README, Clusters)\n"
          "\n"
          "regression gate and history (README, \"The nightly gate\"):\n"
          "      --baseline RUN   after the run, judge it against RUN (run.json or folder): exit\n"
          "                       3 when a metric is worse beyond noise; gate.md in the folder\n"
          "      --record         add the finished run to the history database (--db)\n",
          f);
    fputs(ab_gate_help, f);
    fputs(ab_gate_stat_help, f);
    fputs("\n"
          "suite parameters, as --NAME or --SUITE.NAME (for that suite alone; it wins over\n"
          "--NAME there). A --NAME that several selected suites declare (--dtype, --impl,\n"
          "--batch) goes to each of them that accepts the value; the others run their default\n"
          "(a note on stderr says so). It is an error when no selected suite accepts it:\n"
          "with all suites, --impl fused runs attention fused and gemm with both of its impls.\n",
          f);
    for (const ab_suite *const *s = ab_suites(); *s; s++)
        for (size_t k = 0; (*s)->params[k].name; k++)
            fprintf(f, "      --%s %-8s %s: %s\n", (*s)->params[k].name, (*s)->params[k].metavar,
                    (*s)->name, (*s)->params[k].help);
    fputs("\n"
          "testing:\n"
          "      --test-corrupt KEY  damage KEY's output before validation (proves it fails)\n"
          "\n"
          "exit codes: 0 all pass/skip, 1 a result failed or errored, 2 usage or input error\n"
          "(nothing written), 3 regression against --baseline, 4 results could not be written,\n"
          "130 interrupted (partial results kept, marked interrupted)\n",
          f);
}

/* Attaches the datasheet peak that bounds the result's first metric (extra.peak), when the
 * device has a row in data/accelerator-peaks.csv and the sources give the figure. */
static void attach_peak(const runner *rn, ab_result *r)
{
    if (!rn->have_peaks || !r->nmetrics || !r->device_name)
        return;
    const ab_metric *m = &r->metrics[0];
    const char *dtype = json_string_value(json_object_get(r->params, "dtype"));
    const char *col = NULL;
    int row = -1;
    double peak = ab_peaks_for(&rn->peaks, r->device_name, m->unit, dtype, &row, &col);
    if (!(peak > 0))
        return;
    if (!r->extra)
        r->extra = json_object();
    json_t *o = json_object();
    json_object_set_new(o, "metric", json_string(m->name));
    json_object_set_new(o, "value", json_real(peak));
    json_object_set_new(o, "unit", json_string(m->unit));
    json_object_set_new(o, "fraction", json_real(m->stats.median / peak));
    json_object_set_new(o, "model", json_string(ab_peaks_str(&rn->peaks, row, "model")));
    json_object_set_new(o, "column", json_string(col));
    json_object_set_new(o, "source", json_string(ab_peaks_str(&rn->peaks, row, "source")));
    json_object_set_new(o, "accessed", json_string(ab_peaks_str(&rn->peaks, row, "accessed")));
    json_object_set_new(r->extra, "peak", o);
}

/* ab_suite_ctx.energy: the sampler's energy field over the window */
static int ctx_energy(ab_suite_ctx *ctx, double t0, double t1, double *joules, char *what,
                      char *why)
{
    runner *rn = ctx->runner;
    ab_sampler *s = rn->probes.sampler;
    *what = 0;
    if (!ctx->dev)
        return ab_err(why, "no device");
    if (!s || !ab_sampler_has(s, ctx->dev->id))
        return ab_err(why, "the run's sampler does not cover %s", ctx->dev->id);
    ab_sampler_poll(s, ctx->dev->id);
    json_t *sum = ab_sampler_summary(s, ctx->dev->id, t0, t1);
    json_t *f = json_object_get(sum, "energy_j");
    json_t *v = ab_field_value(f);
    int rc;
    if (v && json_is_number(v) && json_number_value(v) > 0) {
        *joules = json_number_value(v);
        snprintf(what, 96, "%s", json_string_value(json_object_get(f, "source")) ?: "sampler");
        rc = 0;
    } else {
        const char *reason = json_string_value(json_object_get(f, "reason"));
        rc = ab_err(why, "%s", reason ? reason : "no energy reading over the window");
    }
    json_decref(sum);
    return rc;
}

/* ab_suite_ctx.started: the live progress line names the case */
static void ctx_started(ab_suite_ctx *ctx, const ab_result *r)
{
    runner *rn = ctx->runner;
    ab_progress_started(rn->progress, r);
}

/* ab_suite_ctx.sampler: the sampler's summary of the device over the window */
static json_t *ctx_sampler(ab_suite_ctx *ctx, double t0, double t1)
{
    runner *rn = ctx->runner;
    ab_sampler *s = rn->probes.sampler;
    if (!ctx->dev || !s || !ab_sampler_has(s, ctx->dev->id)) return NULL;
    ab_sampler_poll(s, ctx->dev->id);
    return ab_sampler_summary(s, ctx->dev->id, t0, t1);
}

/* Records r in the run and hands it to the reporters (also for the results of other ranks). */
static int record(void *arg, ab_result *r)
{
    runner *rn = arg;
    char err[AB_ERRLEN];
    if (ab_run_add(rn->run, r, err) != 0) {
        ab_log(AB_LOG_ERROR, "%s", err);
        ab_result_free(r);
        return -1;
    }
    /* a result that a reporter could not take (the journal on a full disk) is not in the run
     * either, so run.json, results.csv and summary.md agree when a write error stops the run */
    if (ab_reporters_result(&rn->out, rn->run, r, err) != 0) {
        if (!rn->io_failed)
            ab_log(AB_LOG_ERROR, "%s", err);
        rn->io_failed = 1;
        rn->run->nresults--;
        ab_result_free(r);
        return -1;
    }
    return 0;
}

static int emit(ab_suite_ctx *ctx, ab_result *r)
{
    runner *rn = ctx->runner;
    ab_run_probes_attach(&rn->probes, rn->platform, r);
    attach_peak(rn, r);
    ab_job_tag(r); /* in an MPI job: this rank's, on this node */
    return record(rn, r);
}

/* Where the run's results go, in order: the document and its journal first (a result it cannot
 * take is dropped from the run), then the files made at the end, then the progress lines. */
static int add_reporters(runner *rn, const char *dir, ab_progress_mode mode)
{
    ab_reporters *rs = &rn->out;
    if (ab_reporters_add(rs, ab_reporter_document(dir)) ||
        ab_reporters_add(rs, ab_reporter_csv(dir)) ||
        ab_reporters_add(rs, ab_reporter_markdown(dir, stdout)))
        return -1;
    if (mode == AB_PROGRESS_NONE)
        return 0;
    if (ab_reporters_add(rs, ab_reporter_progress_mode(stderr, mode)) != 0)
        return -1;
    rn->progress = rs->v[rs->n - 1];
    return 0;
}

/* runners: judges the finished run against the baseline; the verdict goes to stdout (after the
 * summary) and to gate.md in the run folder. Returns the gate's exit code. */
static int run_gate(ab_run *baseline, ab_run *run, const ab_gate_opts *g, const char *dir)
{
    char err[AB_ERRLEN] = "";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return AB_EXIT_FAIL;
    fprintf(f, "\n## Regression gate: %s against %s\n\n", run->id, baseline->id);
    int rc = ab_gate_judge(baseline, run, g, f, true, false, err);
    fclose(f);
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    if (rc == AB_EXIT_USAGE || rc == AB_EXIT_IO)
        fprintf(stderr, "accelbench run: gate: %s\n", err);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/gate.md", dir);
    if (ab_write_file_atomic(path, buf, len, err) != 0) {
        ab_log(AB_LOG_ERROR, "%s", err);
        rc = AB_EXIT_IO;
    }
    free(buf);
    return rc;
}

static void default_run_id(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char host[64] = "host";
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    /* a host name can hold anything the kernel was told: keep the id a plain folder name */
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    char ts[32];
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, len, "%s-%s", ts, host);
}

/* Creates <out>/<id> (a fresh folder: -2, -3... when the name exists). */
static int make_run_dir(const char *out, char *id, size_t idlen, char *dir, size_t dirlen,
                        char *err)
{
    if (ab_mkdir_p(out, err) != 0)
        return -1;
    if (access(out, W_OK) != 0)
        return ab_err(err, "cannot write to %s: %s", out, strerror(errno));
    char base[200];
    ab_strlcpy(base, id, sizeof(base));
    for (int k = 1; k < 1000; k++) {
        if (k > 1)
            snprintf(id, idlen, "%s-%d", base, k);
        if (snprintf(dir, dirlen, "%s/%s", out, id) >= (int)dirlen)
            return ab_err(err, "path too long: %s/%s", out, id);
        if (mkdir(dir, 0755) == 0)
            return 0;
        if (errno != EEXIST)
            return ab_err(err, "cannot create %s: %s", dir, strerror(errno));
    }
    return ab_err(err, "cannot find a free run folder name under %s", out);
}

static void update_latest(const char *out, const char *id)
{
    char tmp[PATH_MAX], link[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/.latest.%ld", out, (long)getpid());
    snprintf(link, sizeof(link), "%s/latest", out);
    unlink(tmp);
    if (symlink(id, tmp) == 0 && rename(tmp, link) != 0)
        unlink(tmp);
}

/* Checks a --device list against the platform: every id must name a device that exists. */
static int check_devices(char **sel, ab_platform *p, char *err)
{
    for (size_t i = 0; sel && sel[i]; i++) {
        if (strcmp(sel[i], "all") == 0 || ab_platform_device(p, sel[i]))
            continue;
        char prefix[32];
        ab_strlcpy(prefix, sel[i], sizeof(prefix));
        char *colon = strchr(prefix, ':');
        if (colon)
            *colon = '\0';
        ab_backend_entry *e = ab_platform_backend(p, prefix);
        if (e && !e->available)
            return ab_err(err, "--device %s: %s is %s%s", sel[i], e->name,
                          e->built ? "unavailable: " : "", e->reason);
        char avail[256] = "";
        for (size_t k = 0; k < p->ndevices; k++) {
            size_t n = strlen(avail);
            snprintf(avail + n, sizeof(avail) - n, "%s%s", k ? ", " : "", p->devices[k].id);
        }
        return ab_err(err, "--device %s: no such device (available: %s)", sel[i],
                      *avail ? avail : "none");
    }
    return 0;
}

static bool device_selected(char **sel, const char *id)
{
    if (!sel)
        return true;
    for (size_t i = 0; sel[i]; i++)
        if (strcmp(sel[i], "all") == 0 || strcmp(sel[i], id) == 0)
            return true;
    return false;
}

static bool suite_selected(char **sel, const ab_suite *s)
{
    if (s->explicit_only) { /* named, not implied by "all" or no --suite */
        bool named = false;
        for (size_t i = 0; sel && sel[i] && !named; i++) {
            char *one[2] = {sel[i], NULL};
            if (strcmp(sel[i], "all") == 0) continue;
            for (size_t k = 0; s->keys[k] && !named; k++)
                named = ab_key_selected(one, s->keys[k]);
            named |= ab_key_selected(one, s->name);
        }
        return named;
    }
    for (size_t k = 0; s->keys[k]; k++)
        if (ab_key_selected(sel, s->keys[k]))
            return true;
    /* a selector naming the suite itself ("membw") or a prefix of it */
    return ab_key_selected(sel, s->name);
}

static void fill_run_header(ab_run *run, int argc, char **argv, const ab_options *o,
                            ab_platform *p, json_t *host)
{
    run->version = ab_strdup(AB_VERSION);
    run->git_commit = ab_strdup(ab_build_git_commit);
    run->compiler = ab_strdup(ab_build_compiler);
    run->build_type = ab_strdup(ab_build_type);
    run->profile = ab_strdup(o->profile);
    for (int i = 0; i < argc; i++)
        json_array_append_new(run->argv, ab_json_string(argv[i]));
    json_object_set_new(run->settings, "min_time_s", json_real(o->sampling.min_time));
    json_object_set_new(run->settings, "samples", json_integer(o->sampling.samples));
    json_object_set_new(run->settings, "warmup", json_integer(o->sampling.warmup));
    json_object_set_new(run->settings, "max_sampling_time_s", json_real(o->sampling.max_time));
    json_object_set_new(run->settings, "build_flags", json_string(ab_build_flags));
    json_t *params = json_object();
    for (int i = 0; i < o->nparams; i++)
        json_object_set_new(params, o->params[i].name, json_string(o->params[i].value));
    json_object_set_new(run->settings, "suite_params", params);
    json_decref(run->host);
    run->host = host;
    json_decref(run->backends);
    run->backends = ab_platform_json_backends(p);
    json_decref(run->devices);
    run->devices = ab_platform_json_devices(p);
    run->start_time = ab_wall_time();
}

/* What the command line asked for, parsed and checked before anything runs. */
typedef struct run_args {
    ab_options o;
    const char *suite_arg, *device_arg, *run_id_arg;
    bool quiet, record, concurrent;
    const char *rank_timeout_arg;
    ab_progress_mode progress; /* --progress (--quiet: none) */
    double budget_s;           /* --budget or the profile's default; 0: none */
    const char *budget_src;
    ab_options *cover;         /* each suite's view for the budget's cover pass (quick) */
    bool sampling_given;       /* --repeat or --min-time: the cover pass samples so too */
    ab_gate_opts gate;
    ab_run *baseline;   /* --baseline / --baseline-last, read up front */
    char **suites;      /* --suite list, NULL: all */
    char **devices;     /* --device list, NULL: all */
    ab_options *views;  /* each suite's view of the suite parameters (suite.h) */
    char notes[2048];   /* what ab_suite_options had to say, one per line */
} run_args;

static void run_args_free(run_args *a)
{
    free(a->views);
    free(a->cover);
    ab_strv_free(a->suites);
    ab_strv_free(a->devices);
    ab_run_free(a->baseline);
}

/* The option table: the fixed options, the gate's, and every suite parameter (short and
 * namespaced forms). */
static size_t run_options(struct option *opts, const char *const *pnames, size_t npn)
{
    size_t no = 0;
    opts[no++] = (struct option){"suite", required_argument, NULL, 's'};
    opts[no++] = (struct option){"device", required_argument, NULL, 'd'};
    opts[no++] = (struct option){"profile", required_argument, NULL, 'p'};
    opts[no++] = (struct option){"out", required_argument, NULL, 'o'};
    opts[no++] = (struct option){"repeat", required_argument, NULL, 'r'};
    opts[no++] = (struct option){"min-time", required_argument, NULL, 't'};
    opts[no++] = (struct option){"run-id", required_argument, NULL, OPT_RUN_ID};
    opts[no++] = (struct option){"quiet", no_argument, NULL, 'q'};
    opts[no++] = (struct option){"progress", required_argument, NULL, OPT_PROGRESS};
    opts[no++] = (struct option){"budget", required_argument, NULL, OPT_BUDGET};
    opts[no++] = (struct option){"verbose", no_argument, NULL, 'v'};
    opts[no++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[no++] = (struct option){"test-corrupt", required_argument, NULL, OPT_CORRUPT};
    /* runners: regression gate and history */
    opts[no++] = (struct option){"record", no_argument, NULL, OPT_RECORD};
    opts[no++] = (struct option){"concurrent", no_argument, NULL, OPT_CONCURRENT};
    opts[no++] = (struct option){"rank-timeout", required_argument, NULL, OPT_RANK_TIMEOUT};
    for (size_t i = 0; i < AB_GATE_NOPTIONS; i++)
        opts[no++] = ab_gate_long_options[i];
    for (size_t i = 0; i < npn; i++)
        opts[no++] = (struct option){pnames[i], required_argument, NULL, OPT_SUITE_PARAM + (int)i};
    opts[no] = (struct option){NULL, 0, NULL, 0};
    return no;
}

/* -1: go on; otherwise the exit code (help printed, or a usage error reported). */
static int parse_options(int argc, char **argv, run_args *a, const char **repeat_arg,
                         const char **mintime_arg, const char **budget_arg)
{
    const char *const *pnames = ab_suite_param_options();
    size_t npn = 0;
    while (pnames[npn])
        npn++;
    struct option opts[18 + AB_GATE_NOPTIONS + 1 + AB_MAX_PARAM_OPTIONS];
    run_options(opts, pnames, npn);
    ab_options *o = &a->o;
    char err[AB_ERRLEN] = "";
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":s:d:p:o:r:t:qvh", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("run", "%s given twice", seen.name);
        case 's': a->suite_arg = optarg; break;
        case 'd': a->device_arg = optarg; break;
        case 'p': o->profile = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 'r': *repeat_arg = optarg; break;
        case 't': *mintime_arg = optarg; break;
        case 'q': a->quiet = true; break;
        case 'v': ab_log_set_level(AB_LOG_DEBUG); break;
        case 'h': run_usage(stdout); return AB_EXIT_OK;
        case OPT_RUN_ID: a->run_id_arg = optarg; break;
        case OPT_CORRUPT: o->corrupt = optarg; break;
        case OPT_RECORD: a->record = true; break;
        case OPT_CONCURRENT:
            a->concurrent = true;
            break;
        case OPT_RANK_TIMEOUT: a->rank_timeout_arg = optarg; break;
        case OPT_BUDGET: *budget_arg = optarg; break;
        case OPT_PROGRESS:
            if (ab_progress_mode_parse(optarg, &a->progress, err) != 0)
                return ab_usage_error("run", "%s", err);
            break;
        case ':': return ab_usage_error("run", "option '%s' needs a value", argv[optind - 1]);
        case '?': return ab_usage_error("run", "unknown option '%s'", argv[optind - 1]);
        default:
            if (c >= AB_GATE_OPT_BASE && c < AB_GATE_OPT_END) {
                if (ab_gate_parse_option(c, optarg, &a->gate, err) < 0)
                    return ab_usage_error("run", "%s", err);
                break;
            }
            if (c >= OPT_SUITE_PARAM && c < OPT_SUITE_PARAM + (int)npn) {
                const char *name = pnames[c - OPT_SUITE_PARAM];
                if (ab_opt_param(o, name))
                    return ab_usage_error("run", "--%s given twice", name);
                if (o->nparams == AB_MAX_PARAMS)
                    return ab_usage_error("run", "more than %d suite parameters", AB_MAX_PARAMS);
                o->params[o->nparams].name = name;
                o->params[o->nparams].value = optarg;
                o->nparams++;
                break;
            }
            return ab_usage_error("run", "unknown option");
        }
    }
    if (optind < argc)
        return ab_usage_error("run", "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* Options, values, the baseline: -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, run_args *a)
{
    ab_options *o = &a->o;
    o->profile = "standard";
    o->out_dir = "results";
    ab_gate_opts_default(&a->gate);
    const char *repeat_arg = NULL, *mintime_arg = NULL, *budget_arg = NULL;
    int rc = parse_options(argc, argv, a, &repeat_arg, &mintime_arg, &budget_arg);
    if (rc >= 0)
        return rc;
    char err[AB_ERRLEN] = "";
    if (ab_sampling_profile(o->profile, &o->sampling) != 0)
        return ab_usage_error("run", "--profile: unknown profile '%s' (quick, standard, full)",
                              o->profile);
    if (a->quiet)
        a->progress = AB_PROGRESS_NONE;
    a->sampling_given = repeat_arg || mintime_arg;
    a->budget_s = ab_budget_default(o->profile);
    a->budget_src = "the standard profile's default";
    if (budget_arg && ab_budget_parse(budget_arg, &a->budget_s, err) != 0)
        return ab_usage_error("run", "%s", err);
    if (budget_arg)
        a->budget_src = "--budget";
    else if (a->suite_arg) /* the default budgets a run of everything, not chosen suites */
        a->budget_s = 0;
    if (repeat_arg) {
        long v;
        if (ab_parse_long(repeat_arg, "--repeat", 1, 100000, &v, err) != 0)
            return ab_usage_error("run", "%s", err);
        o->sampling.samples = (int)v;
    }
    if (mintime_arg) {
        double v;
        if (ab_parse_double(mintime_arg, "--min-time", &v, err) != 0)
            return ab_usage_error("run", "%s", err);
        if (v > 3600.0)
            return ab_usage_error("run", "--min-time: %s s is more than an hour per sample",
                                  mintime_arg);
        o->sampling.min_time = v;
    }
    if (a->rank_timeout_arg) {
        double v;
        if (ab_parse_double(a->rank_timeout_arg, "--rank-timeout", &v, err) != 0 || !(v > 0) ||
            v > 86400.0)
            return ab_usage_error("run", "--rank-timeout: '%s' is not a number of seconds in "
                                  "(0, 86400]", a->rank_timeout_arg);
        ab_job_set_timeout(v);
    }
    if (a->run_id_arg && ab_run_id_check(a->run_id_arg, err) != 0)
        return ab_usage_error("run", "--run-id: %s", err);
    if (!*o->out_dir)
        return ab_usage_error("run", "--out: empty path");
    /* runners: the baseline is read before anything runs, so a bad one costs nothing */
    ab_gate_opts *g = &a->gate;
    if (g->junit && !g->baseline && !g->last)
        return ab_usage_error("run", "--junit needs --baseline RUN or --baseline-last N");
    if ((g->baseline || g->last) && !(a->baseline = ab_gate_baseline(g, NULL, err)))
        return ab_usage_error("run", "%s%s", g->baseline ? "--baseline: " : "--baseline-last: ",
                              err);
    return -1;
}

/* --suite and --device lists, each suite's parameter view: -1 to go on, else the exit code. */
static int parse_selection(run_args *a)
{
    char err[AB_ERRLEN] = "";
    if (a->suite_arg) {
        if (!(a->suites = ab_split_list(a->suite_arg, err)))
            return ab_usage_error("run", "--suite: %s", err);
        for (size_t i = 0; a->suites[i]; i++) {
            char *one[2] = {a->suites[i], NULL};
            bool any = strcmp(a->suites[i], "all") == 0;
            for (const ab_suite *const *s = ab_suites(); *s && !any; s++)
                any = suite_selected(one, *s);
            if (!any)
                return ab_usage_error("run",
                                      "--suite: no suite or key matches '%s' (see "
                                      "'accelbench list')",
                                      a->suites[i]);
        }
    }
    a->o.suites = a->suites;
    /* each suite's view of the suite parameters (suite.h: short and namespaced forms) */
    size_t nsuites = ab_suite_count();
    a->views = calloc(nsuites, sizeof(*a->views));
    bool *selected = calloc(nsuites, sizeof(*selected));
    for (size_t i = 0; selected && i < nsuites; i++)
        selected[i] = suite_selected(a->suites, ab_suites()[i]);
    int rc = -1;
    if (!a->views || !selected)
        rc = AB_EXIT_FAIL;
    else if (ab_suite_options(&a->o, selected, a->views, a->notes, sizeof(a->notes), err))
        rc = ab_usage_error("run", "%s", err);
    /* the budget's cover pass: each suite's view with the quick profile's cases and sampling */
    if (rc < 0 && a->budget_s > 0) {
        a->cover = calloc(nsuites, sizeof(*a->cover));
        for (size_t i = 0; a->cover && i < nsuites; i++) {
            a->cover[i] = a->views[i];
            a->cover[i].profile = "quick";
            if (!a->sampling_given)
                ab_sampling_profile("quick", &a->cover[i].sampling);
        }
        if (!a->cover)
            rc = AB_EXIT_FAIL;
    }
    free(selected);
    if (rc >= 0)
        return rc;
    if (a->device_arg && !(a->devices = ab_split_list(a->device_arg, err)))
        return ab_usage_error("run", "--device: %s", err);
    a->o.devices = a->devices;
    return -1;
}

/* The progress plan: a slot per selected device x suite (and budget pass). */
static size_t plan_slots(runner *rn, ab_platform *p, const run_args *a, int pass)
{
    size_t n = 0;
    for (size_t di = 0; di < p->ndevices; di++)
        for (const ab_suite *const *s = ab_suites(); *s; s++)
            if (device_selected(a->devices, p->devices[di].id) && suite_selected(a->suites, *s) &&
                (*s)->scope != AB_SCOPE_NODE) {
                ab_progress_slot_add(rn->progress, p->devices[di].id, (*s)->name, pass);
                n++;
            }
    return n;
}

/* Every selected suite on device d in one pass (budget.h; AB_PASS_ONE without a budget). */
static void run_device(runner *rn, ab_device *d, const run_args *a, int pass)
{
    char oerr[AB_ERRLEN] = "";
    ab_run_probes_before_device(&rn->probes, d);
    bool opened = ab_device_open(d, oerr) == 0;
    if (!opened && pass == AB_PASS_EXTEND)
        return; /* its errors came out in the cover pass */
    ab_options *views = pass == AB_PASS_COVER ? a->cover : a->views;
    ab_suite_ctx base = {.dev = d, .emit = emit, .runner = rn, .manifest = rn->run->manifest,
                         .energy = ctx_energy, .sampler = ctx_sampler, .started = ctx_started,
                         .budget = rn->budget};
    for (const ab_suite *const *s = ab_suites(); *s && opened; s++) /* the plan's counts */
        if (suite_selected(a->suites, *s) && (*s)->scope != AB_SCOPE_NODE && (*s)->cases) {
            ab_suite_ctx ctx = base;
            ctx.opt = &views[s - ab_suites()], ctx.suite = *s;
            ab_progress_count(rn->progress, d->id, (*s)->name, pass, ab_caserun_count(&ctx));
        }
    for (const ab_suite *const *s = ab_suites(); *s && !ab_interrupted(); s++) {
        if (!suite_selected(a->suites, *s) || (*s)->scope == AB_SCOPE_NODE)
            continue;
        ab_suite_ctx ctx = base;
        ctx.opt = &views[s - ab_suites()], ctx.suite = *s;
        ab_progress_slot_begin(rn->progress, d->id, (*s)->name, pass);
        if (rn->budget)
            ab_budget_slot(rn->budget);
        if (!opened) {
            ab_result *r = ab_suite_result(&ctx, (*s)->name, "none");
            if (r)
                ab_result_set_status(r, AB_ERROR, "cannot open device: %s", oerr);
            if (ab_emit(&ctx, r) != 0)
                break;
            continue;
        }
        if ((*s)->run(&ctx) != 0 && rn->io_failed)
            break;
    }
}

static void run_node_suites(runner *rn, ab_platform *p, const run_args *a,
                            const ab_options *views);

/* Every selected suite on every selected device, one device at a time; with a budget, twice:
 * the cover pass (and the node-scope suites' cover, so they are represented too), then the
 * extend pass (budget.h). */
static void run_devices(runner *rn, ab_platform *p, const run_args *a)
{
    int passes[2] = {AB_PASS_ONE, -1};
    if (rn->budget)
        passes[0] = AB_PASS_COVER, passes[1] = AB_PASS_EXTEND;
    size_t nslots = 0;
    for (int k = 0; k < 2 && passes[k] >= 0; k++)
        nslots = plan_slots(rn, p, a, passes[k]);
    if (!nslots)
        ab_log(AB_LOG_WARN, "no device selected and available");
    for (int k = 0; k < 2 && passes[k] >= 0; k++) {
        if (rn->budget)
            ab_budget_pass(rn->budget, passes[k], nslots);
        for (size_t di = 0; di < p->ndevices && !ab_interrupted() && !rn->io_failed; di++)
            if (device_selected(a->devices, p->devices[di].id))
                run_device(rn, &p->devices[di], a, passes[k]);
        if (passes[k] == AB_PASS_COVER && a->cover)
            run_node_suites(rn, p, a, a->cover);
    }
}

/* node-scope suites: once per backend over its selected devices (runners/node_run.c), after the
 * device suites (sequential or --concurrent) */
static void run_node_suites(runner *rn, ab_platform *p, const run_args *a,
                            const ab_options *views)
{
    for (const ab_suite *const *s = ab_suites(); *s && !ab_interrupted() && !rn->io_failed; s++) {
        ab_suite_ctx ctx = {.opt = &views[s - ab_suites()], .suite = *s, .emit = emit,
                            .runner = rn, .manifest = rn->run->manifest, .energy = ctx_energy,
                            .started = ctx_started, .budget = rn->budget};
        if ((*s)->scope == AB_SCOPE_NODE && suite_selected(a->suites, *s))
            ab_node_run(p, a->devices, &ctx);
    }
}

/* Without --concurrent: concurrent when every selected suite asks for it (burn). */
static bool concurrent_default(char **sel)
{
    bool any = false;
    for (const ab_suite *const *s = ab_suites(); *s; s++) {
        if (!suite_selected(sel, *s)) continue;
        if (!(*s)->concurrent) return false;
        any = true;
    }
    return any;
}

/* --concurrent (runners/concurrent.c): the same suites and devices, all devices at once. */
static void run_concurrent(runner *rn, ab_platform *p, const run_args *a)
{
    size_t ns = ab_suite_count(), nd = 0;
    ab_device **devs = calloc(p->ndevices ? p->ndevices : 1, sizeof(*devs));
    bool *on = calloc(ns, sizeof(*on));
    for (size_t i = 0; devs && i < p->ndevices; i++)
        if (device_selected(a->devices, p->devices[i].id)) devs[nd++] = &p->devices[i];
    for (size_t i = 0; on && i < ns; i++)
        on[i] = suite_selected(a->suites, ab_suites()[i]) && ab_suites()[i]->scope != AB_SCOPE_NODE;
    ab_concurrent_env env = {.suites = ab_suites(),
                             .devices = devs,
                             .ndevices = nd,
                             .suite_on = on,
                             .views = a->views,
                             .probes = &rn->probes,
                             .emit = emit,
                             .energy = ctx_energy,
                             .sampler = ctx_sampler,
                             .runner = rn,
                             .manifest = rn->run->manifest};
    if (devs && on) ab_concurrent_run(&env);
    free(devs);
    free(on);
}

/* With --device all, a backend that is not built or not available is recorded once per suite as
 * a skip, so the document says what was not measured and why. */
static void skip_unavailable(runner *rn, const ab_platform *p, const run_args *a)
{
    for (size_t bi = 0; bi < p->nbackends && !ab_interrupted() && !rn->io_failed; bi++) {
        const ab_backend_entry *e = &p->backends[bi];
        if (e->available || (a->devices && !device_selected(a->devices, "all")))
            continue;
        for (const ab_suite *const *s = ab_suites(); *s; s++) {
            if (!suite_selected(a->suites, *s))
                continue;
            ab_result *r = ab_result_new((*s)->name, (*s)->name, "none");
            if (!r)
                break;
            ab_result_set_device(r, e->name, NULL, e->name);
            ab_result_set_status(r, AB_SKIP, "%s: %s%s", e->name,
                                 e->built ? "unavailable: " : "", e->reason);
            ab_suite_ctx ctx = {.opt = &a->o, .suite = *s, .dev = NULL, .emit = emit, .runner = rn};
            if (emit(&ctx, r) != 0)
                break;
        }
    }
}

/* The finished run: the reporters' end, results/latest, the gate, the history; the exit code. */
static int finish_run(runner *rn, const run_args *a)
{
    char err[AB_ERRLEN] = "";
    ab_run *run = rn->run;
    run->end_time = ab_wall_time();
    run->interrupted = ab_interrupted();
    run->complete = !run->interrupted;
    ab_budget_record(rn->budget, run);
    /* run.json's one rewrite, results.csv, summary.md (and stdout) */
    if (ab_reporters_end(&rn->out, run, err) != 0) {
        ab_log(AB_LOG_ERROR, "%s", err);
        rn->io_failed = 1;
    }
    update_latest(a->o.out_dir, run->id);
    if (!a->quiet)
        fprintf(stderr, "accelbench: results in %s\n", rn->dir);
    bool bad = false;
    for (size_t i = 0; i < run->nresults; i++)
        bad |= run->results[i]->status == AB_FAIL || run->results[i]->status == AB_ERROR;
    /* runners: the gate against --baseline, then the history */
    int gate_rc = AB_EXIT_OK;
    if (a->baseline && !run->interrupted)
        gate_rc = run_gate(a->baseline, run, &a->gate, rn->dir);
    if (a->record && !run->interrupted) {
        ab_history *h = NULL;
        bool added = false;
        const char *db = a->gate.db ? a->gate.db : ab_history_default_path();
        if (ab_history_open(db, true, &h, err) != 0 ||
            ab_history_add(h, run, rn->json_path, false, &added, err) != 0) {
            ab_log(AB_LOG_ERROR, "%s", err);
            rn->io_failed = 1;
        } else if (!a->quiet) {
            fprintf(stderr, "accelbench: recorded %s in %s\n", run->id, db);
        }
        ab_history_close(h);
    }
    if (run->interrupted)
        return AB_EXIT_INTERRUPTED;
    if (rn->io_failed || gate_rc == AB_EXIT_IO)
        return AB_EXIT_IO;
    return bad ? AB_EXIT_FAIL : gate_rc;
}

/* The run folder, the header and the reporters' begin: 0, or the exit code. */
static int start_run(runner *rn, run_args *a, ab_platform *p, json_t *host, int argc, char **argv)
{
    char err[AB_ERRLEN] = "";
    rn->quiet = a->quiet;
    rn->have_peaks = ab_peaks_load(NULL, &rn->peaks, err) == 0;
    if (!rn->have_peaks)
        ab_log(AB_LOG_WARN, "no datasheet peaks: %s", err);
    char id[256];
    if (a->run_id_arg)
        ab_strlcpy(id, a->run_id_arg, sizeof(id));
    else
        default_run_id(id, sizeof(id));
    /* in an MPI job rank 0 alone makes the folder and has reporters (mpi_job.h) */
    bool writer = ab_job_writer();
    if (writer &&
        make_run_dir(a->o.out_dir, id, sizeof(id), rn->dir, sizeof(rn->dir), err) != 0) {
        json_decref(host);
        return ab_usage_error("run", "--out: %s", err);
    }
    snprintf(rn->json_path, sizeof(rn->json_path), "%s/run.json", rn->dir);
    if (!(rn->run = ab_run_new())) {
        json_decref(host);
        return AB_EXIT_FAIL;
    }
    rn->run->id = ab_strdup(id);
    fill_run_header(rn->run, argc, argv, &a->o, p, host);
    /* the manifest and the sampler, before any device is opened (opening pins threads) */
    rn->platform = p;
    rn->run->manifest = ab_manifest(NULL);
    ab_run_probes_init(&rn->probes, p, a->devices, rn->run->manifest);
    /* the header, once; results go to the journal until the final rewrite */
    if (a->budget_s > 0) {
        if (!(rn->budget = ab_budget_new(a->budget_s, a->budget_src))) {
            json_decref(host);
            return AB_EXIT_FAIL;
        }
    }
    if (writer && (add_reporters(rn, rn->dir, a->progress) != 0 ||
                   ab_reporters_begin(&rn->out, rn->run, err))) {
        ab_log(AB_LOG_ERROR, "%s", *err ? err : "out of memory");
        /* nothing measured yet: leave no half-made folder behind */
        char jp[PATH_MAX + 32];
        snprintf(jp, sizeof(jp), "%s/%s", rn->dir, AB_JOURNAL_NAME);
        unlink(jp);
        unlink(rn->json_path);
        rmdir(rn->dir);
        return AB_EXIT_USAGE;
    }
    if (rn->budget)
        ab_progress_budget(rn->progress, ab_budget_deadline(rn->budget));
    const char *job = ab_job_active() ? " (MPI job, results of every rank)" : "";
    if (!a->quiet && writer && rn->budget)
        fprintf(stderr, "accelbench: run %s, profile %s, time budget %.0f s (%s) -> %s%s\n", id,
                a->o.profile, a->budget_s, a->budget_src, rn->dir, job);
    else if (!a->quiet && writer)
        fprintf(stderr, "accelbench: run %s, profile %s -> %s%s\n", id, a->o.profile, rn->dir, job);
    for (char *line = a->notes, *nl; *line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        ab_log(AB_LOG_INFO, "%s", line);
    }
    return 0;
}

/* In an MPI job: rank 0 gathers the other ranks' results (a lost rank: an error result and one
 * line); the others' exit code is 0 once sent (rank 0's is the job's verdict). */
static int gather_job(runner *rn)
{
    char err[AB_ERRLEN] = "";
    int rc = ab_job_gather(rn->run, record, rn, err);
    if (rc != 0)
        fprintf(stderr, "accelbench run: %s\n", err);
    return rc;
}

static int cmd_run(int argc, char **argv);

int ab_cmd_run(int argc, char **argv)
{
    int rc = ab_job_begin(argc, argv);
    if (rc == 0)
        rc = cmd_run(argc, argv);
    return ab_job_end(rc);
}

static int cmd_run(int argc, char **argv)
{
    run_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        rc = parse_selection(&a);
    if (rc >= 0) {
        run_args_free(&a);
        return rc;
    }
    /* Host facts first: the CPU backend pins the calling thread when a device opens. */
    json_t *host = ab_probe_host_basic();
    ab_platform p;
    char err[AB_ERRLEN] = "";
    if (ab_platform_init(&p, err) != 0) {
        json_decref(host);
        fprintf(stderr, "accelbench run: %s\n", err);
        run_args_free(&a);
        return AB_EXIT_FAIL;
    }
    runner rn;
    memset(&rn, 0, sizeof(rn));
    int crc = 0;
    if (check_devices(a.devices, &p, err) != 0 || ab_job_pick_devices(&p, &a.devices, err))
        crc = ab_usage_error("run", "%s", err);
    if ((rc = ab_job_agree(crc)) != 0) { /* in a job: every rank stops when one cannot start */
        json_decref(host);
        if (!crc && ab_job_writer())
            fprintf(stderr, "accelbench run: another rank could not start (its line: "
                            "ACCELBENCH_RANK_LOGS=1)\n");
    } else if ((rc = ab_job_agree(start_run(&rn, &a, &p, host, argc, argv))) == 0) {
        ab_signals_install();
        if (a.concurrent || concurrent_default(a.suites))
            run_concurrent(&rn, &p, &a);
        else
            run_devices(&rn, &p, &a);
        run_node_suites(&rn, &p, &a, a.views);
        skip_unavailable(&rn, &p, &a);
        int grc = gather_job(&rn);
        rc = ab_job_writer() ? finish_run(&rn, &a) : grc ? AB_EXIT_FAIL : 0;
    }
    ab_reporters_free(&rn.out);
    ab_budget_free(rn.budget);
    ab_run_probes_fini(&rn.probes);
    ab_run_free(rn.run);
    if (rn.have_peaks)
        ab_peaks_free(&rn.peaks);
    ab_platform_fini(&p);
    run_args_free(&a);
    return rc;
}
