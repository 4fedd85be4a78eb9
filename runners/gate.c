/* SPDX-License-Identifier: MIT */
#include "gate.h"

#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ab_run *ab_load_run_arg(const char *arg, char *err)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        ab_err(err, "%s: %s", arg, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        char *p = ab_asprintf("%s/run.json", arg);
        if (!p) {
            ab_err(err, "out of memory");
            return NULL;
        }
        if (stat(p, &st) != 0) {
            ab_err(err, "%s: no run.json in this folder", arg);
            free(p);
            return NULL;
        }
        ab_run *r = ab_run_read(p, err);
        free(p);
        return r;
    }
    return ab_run_read(arg, err);
}

int ab_parse_fraction(const char *s, const char *what, double *out, char *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v))
        return ab_err(err, "%s: '%s' is not a number", what, s);
    if (*end == '%' && end[1] == '\0') {
        v /= 100.0;
    } else if (*end) {
        return ab_err(err, "%s: '%s' is not a percentage (e.g. 5%%) or a fraction (0.05)", what, s);
    } else if (v >= 1.0) {
        return ab_err(err, "%s: '%s' is ambiguous: write %s%% or %g", what, s, s, v / 100.0);
    }
    if (v < 0.0 || v >= 10.0)
        return ab_err(err, "%s: '%s' is out of range", what, s);
    *out = v;
    return 0;
}

void ab_gate_opts_default(ab_gate_opts *o)
{
    memset(o, 0, sizeof(*o));
    ab_cmp_opts_default(&o->cmp);
}

const struct option ab_gate_long_options[] = {
    {"threshold", required_argument, NULL, AB_GATE_OPT_THRESHOLD},
    {"alpha", required_argument, NULL, AB_GATE_OPT_ALPHA},
    {"noise-k", required_argument, NULL, AB_GATE_OPT_NOISE_K},
    {"align", required_argument, NULL, AB_GATE_OPT_ALIGN},
    {"headline-only", no_argument, NULL, AB_GATE_OPT_HEADLINE_ONLY},
    {"junit", required_argument, NULL, AB_GATE_OPT_JUNIT},
    {"baseline", required_argument, NULL, AB_GATE_OPT_BASELINE},
    {"baseline-last", required_argument, NULL, AB_GATE_OPT_BASELINE_LAST},
    {"db", required_argument, NULL, AB_GATE_OPT_DB},
    {NULL, 0, NULL, 0},
};

const char ab_gate_stat_help[] =
    "      --threshold X    minimum effect: a change smaller than X is 'same' (default 5%); it\n"
    "                       is raised to exp(k*noise)-1 when the noise between runs is known\n"
    "      --alpha A        significance level of the Mann-Whitney U test (default 0.05)\n"
    "      --noise-k K      multiples of the between-run noise in the minimum effect (default 3)\n"
    "      --align MODE     exact (key, impl, params, device model; default) | any-device\n"
    "                       (ignore the device model) | headline (headline figures by key, impl,\n"
    "                       dtype and device class: machines of different sizes)\n"
    "      --headline-only  compare headline figures only\n";

const char ab_gate_help[] =
    "      --junit FILE     JUnit XML: one test case per metric, 'worse' ones failed\n"
    "      --baseline-last N  baseline = median of the last N complete runs in the history\n"
    "      --db PATH        history database (default $ACCELBENCH_HISTORY or\n"
    "                       results/history.sqlite)\n";

int ab_gate_parse_option(int c, const char *arg, ab_gate_opts *o, char *err)
{
    double v;
    long l;
    switch (c) {
    case AB_GATE_OPT_THRESHOLD:
        if (ab_parse_fraction(arg, "--threshold", &o->cmp.threshold, err) != 0)
            return -1;
        return 1;
    case AB_GATE_OPT_ALPHA:
        if (ab_parse_fraction(arg, "--alpha", &v, err) != 0)
            return -1;
        if (!(v > 0.0 && v < 0.5))
            return ab_err(err, "--alpha: '%s' must be between 0 and 0.5", arg);
        o->cmp.alpha = v;
        return 1;
    case AB_GATE_OPT_NOISE_K:
        if (ab_parse_double(arg, "--noise-k", &v, err) != 0)
            return -1;
        if (v > 100.0)
            return ab_err(err, "--noise-k: '%s' is out of range (0 to 100)", arg);
        o->cmp.noise_k = v;
        return 1;
    case AB_GATE_OPT_ALIGN:
        if (ab_align_parse(arg, &o->cmp.align) != 0)
            return ab_err(err, "--align: '%s' is not exact, any-device or headline", arg);
        return 1;
    case AB_GATE_OPT_HEADLINE_ONLY:
        o->cmp.headline_only = true;
        return 1;
    case AB_GATE_OPT_JUNIT:
        if (!*arg)
            return ab_err(err, "--junit: empty path");
        o->junit = arg;
        return 1;
    case AB_GATE_OPT_BASELINE:
        if (!*arg)
            return ab_err(err, "--baseline: empty path");
        o->baseline = arg;
        return 1;
    case AB_GATE_OPT_BASELINE_LAST:
        if (ab_parse_long(arg, "--baseline-last", 1, 1000, &l, err) != 0)
            return -1;
        o->last = l;
        return 1;
    case AB_GATE_OPT_DB:
        if (!*arg)
            return ab_err(err, "--db: empty path");
        o->db = arg;
        return 1;
    default:
        return 0;
    }
}

ab_run *ab_gate_baseline(const ab_gate_opts *o, const char *exclude_id, char *err)
{
    if (o->baseline && o->last > 0) {
        ab_err(err, "--baseline and --baseline-last exclude each other");
        return NULL;
    }
    if (o->baseline)
        return ab_load_run_arg(o->baseline, err);
    if (o->last <= 0) {
        ab_err(err, "no baseline: give a run, or --baseline-last N");
        return NULL;
    }
    ab_history *h = NULL;
    if (ab_history_open(o->db ? o->db : ab_history_default_path(), false, &h, err) != 0)
        return NULL;
    ab_run *b = ab_history_baseline(h, o->last, exclude_id, err);
    ab_history_close(h);
    return b;
}

static int write_junit(const ab_cmp *c, const char *path, char *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ab_err(err, "out of memory");
    int rc = ab_cmp_write_junit(c, 1, f);
    fclose(f);
    if (rc == 0)
        rc = ab_write_file_atomic(path, buf, len, err);
    else
        ab_err(err, "cannot format JUnit XML");
    free(buf);
    return rc;
}

int ab_gate_judge(ab_run *base, ab_run *nw, const ab_gate_opts *o, FILE *out, bool markdown,
                  bool all_rows, char *err)
{
    ab_run *runs[2] = {base, nw};
    ab_cmp c;
    if (ab_compare(runs, 2, &o->cmp, &c, err) != 0)
        return AB_EXIT_FAIL;
    size_t judged = c.counts[1][AB_V_SAME] + c.counts[1][AB_V_BETTER] + c.counts[1][AB_V_WORSE];
    if (!judged) {
        ab_err(err, "no metric of %s aligns with a passing one of %s (align '%s'%s)", c.labels[1],
               c.labels[0], ab_align_name(o->cmp.align),
               o->cmp.align == AB_ALIGN_EXACT ? "; different device models? try --align headline"
                                              : "");
        ab_cmp_free(&c);
        return AB_EXIT_USAGE;
    }
    if (markdown)
        ab_cmp_write_markdown(&c, out, !all_rows);
    else
        ab_cmp_write_table(&c, out, !all_rows);
    size_t bad = 0;
    for (size_t i = 0; i < c.nrows; i++) {
        const ab_cmp_row *row = &c.rows[i];
        const ab_cmp_cell *x = &row->cells[1];
        if (x->r && (x->r->status == AB_FAIL || x->r->status == AB_ERROR))
            bad++;
        if (x->verdict != AB_V_WORSE)
            continue;
        char *label = ab_cmp_row_label(row);
        fprintf(stderr, "accelbench gate: worse: %s: %+.1f%% (p = %.2g, minimum effect %.1f%%)\n",
                label ? label : "?", 100.0 * (x->ratio - 1.0), x->test.p, 100.0 * x->threshold);
        free(label);
    }
    size_t worse = c.counts[1][AB_V_WORSE];
    int rc = bad ? AB_EXIT_FAIL : (worse ? AB_EXIT_REGRESSION : AB_EXIT_OK);
    fprintf(out, "\n%sverdict: %s%s (%zu metrics compared: %zu worse, %zu better, %zu same%s)\n",
            markdown ? "**" : "",
            rc == AB_EXIT_FAIL ? "FAILED RESULTS" : (worse ? "REGRESSION" : "ok"),
            markdown ? "**" : "", judged, worse, c.counts[1][AB_V_BETTER], c.counts[1][AB_V_SAME],
            bad ? "; the new run has failed or errored results" : "");
    if (o->junit && write_junit(&c, o->junit, err) != 0)
        rc = AB_EXIT_IO;
    ab_cmp_free(&c);
    return rc;
}
