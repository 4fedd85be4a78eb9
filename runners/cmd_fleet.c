/* SPDX-License-Identifier: MIT */
/*
 * accelbench fleet RUN...: find the bad node. The members of the fleet are the nodes: the ranks
 * of a run made by an MPI job (results tagged with rank and node), or whole runs (one per
 * machine). Every passing result's metrics are aligned across members by identity (case key,
 * impl, params, device model: only the same device model is compared); per row the median and
 * the scaled MAD over members (core/utest.c) give each member a robust z-score, signed so that
 * positive is worse; a member beyond --threshold is out. Rows need 3 members or more.
 *
 * Output: the table on stdout; with --out DIR also fleet.md, a chart (each member's value over
 * the row's median, runners/plot.c) and JUnit XML per member (junit-<member>.xml). Exit 3 when a
 * member is out, 2 on usage errors, 4 when the files cannot be written.
 */
#include "../core/ab.h"
#include "../core/escape.h"
#include "../core/rundoc.h"
#include "../core/utest.h"
#include "commands.h"
#include "gate.h"
#include "grid.h"
#include "plot.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fleet_row {
    char *id, *metric, *label, *unit;
    bool higher;
    double *v; /* per member, NAN when absent */
    double median, sigma;
    double *z; /* per member: positive = worse */
} fleet_row;

typedef struct fleet {
    char **members; /* labels: node, or node/rank, or run id:node */
    size_t nmembers;
    fleet_row *rows;
    size_t nrows;
    double threshold, min_spread;
} fleet;

/* The member a result belongs to: "<run>:<node>[/rank N]" names, shortened when unique. */
static char *member_name(const ab_run *run, const ab_result *r)
{
    const char *node =
        r->ranked && r->node ? r->node : json_string_value(json_object_get(run->host, "hostname"));
    if (r->ranked)
        return ab_asprintf("%s:%s/rank%d", run->id ? run->id : "?", node ? node : "?", r->rank);
    return ab_asprintf("%s:%s", run->id ? run->id : "?", node ? node : "?");
}

static long find_or_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0) return (long)i;
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) return -1;
    *v = nv;
    nv[*n] = ab_strdup(s);
    return (long)(*n)++;
}

/* The identity without the rank: ranks of one job align with each other. */
static char *row_id(ab_result *r, const char *metric)
{
    bool ranked = r->ranked;
    r->ranked = false;
    char *id = ab_result_id(r);
    r->ranked = ranked;
    char *full = id ? ab_asprintf("%s|%s", id, metric) : NULL;
    free(id);
    return full;
}

static fleet_row *row_get(fleet *f, const char *id, ab_result *r, const ab_metric *m)
{
    for (size_t i = 0; i < f->nrows; i++)
        if (strcmp(f->rows[i].id, id) == 0) return &f->rows[i];
    fleet_row *nr = realloc(f->rows, (f->nrows + 1) * sizeof(*nr));
    if (!nr) return NULL;
    f->rows = nr;
    fleet_row *row = &nr[f->nrows++];
    memset(row, 0, sizeof(*row));
    char *params = ab_params_brief(r->params);
    row->id = ab_strdup(id);
    row->metric = ab_strdup(m->name);
    row->unit = ab_strdup(m->unit);
    row->higher = m->higher_is_better;
    row->label = ab_asprintf("%s %s %s %s [%s]", r->key, r->impl ? r->impl : "",
                             params ? params : "", m->name, r->device_name ? r->device_name : "?");
    free(params);
    return row;
}

/* Members first (so every row has a slot per member), then the values. */
static int fleet_collect(fleet *f, ab_run **runs, size_t n, char *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < runs[j]->nresults; i++) {
                ab_result *r = runs[j]->results[i];
                if (r->status != AB_PASS || r->job_wide)
                    continue; /* job-wide results (fabric) belong to no one node */
                char *name = member_name(runs[j], r);
                long mi = name ? find_or_add(&f->members, &f->nmembers, name) : -1;
                free(name);
                if (mi < 0) return ab_err(err, "out of memory");
                for (size_t k = 0; pass == 1 && k < r->nmetrics; k++) {
                    char *id = row_id(r, r->metrics[k].name);
                    fleet_row *row = id ? row_get(f, id, r, &r->metrics[k]) : NULL;
                    free(id);
                    if (!row) return ab_err(err, "out of memory");
                    if (!row->v) {
                        row->v = malloc(f->nmembers * sizeof(double));
                        row->z = malloc(f->nmembers * sizeof(double));
                        if (!row->v || !row->z) return ab_err(err, "out of memory");
                        for (size_t q = 0; q < f->nmembers; q++)
                            row->v[q] = row->z[q] = NAN;
                    }
                    row->v[mi] = r->metrics[k].stats.median;
                }
            }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and scaled MAD over the members present; z per member (positive: worse). */
static void fleet_score(fleet *f)
{
    double *tmp = malloc((f->nmembers ? f->nmembers : 1) * sizeof(double));
    for (size_t i = 0; tmp && i < f->nrows; i++) {
        fleet_row *row = &f->rows[i];
        size_t k = 0;
        for (size_t q = 0; q < f->nmembers; q++)
            if (isfinite(row->v[q])) tmp[k++] = row->v[q];
        row->median = row->sigma = NAN;
        if (k < 3) continue;
        row->sigma = ab_mad_sigma(tmp, k);
        qsort(tmp, k, sizeof(double), cmp_double);
        row->median = k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
        /* identical nodes give MAD 0: the spread is at least min_spread of the median */
        double s = fmax(row->sigma, f->min_spread * fabs(row->median));
        for (size_t q = 0; q < f->nmembers; q++)
            if (isfinite(row->v[q]) && s > 0)
                row->z[q] = (row->higher ? row->median - row->v[q] : row->v[q] - row->median) / s;
    }
    free(tmp);
}

static bool is_out(const fleet *f, const fleet_row *row, size_t q)
{
    return isfinite(row->z[q]) && row->z[q] > f->threshold;
}

static ab_grid *fleet_grid(const fleet *f)
{
    const char **titles = calloc(f->nmembers + 3, sizeof(*titles));
    if (!titles) return NULL;
    titles[0] = "metric";
    titles[1] = ">median";
    for (size_t q = 0; q < f->nmembers; q++)
        titles[2 + q] = f->members[q];
    char **t2 = calloc(f->nmembers + 3, sizeof(*t2));
    for (size_t q = 0; t2 && q < f->nmembers; q++)
        t2[2 + q] = ab_asprintf(">%s (z)", f->members[q]);
    for (size_t q = 0; t2 && q < f->nmembers; q++)
        titles[2 + q] = t2[2 + q];
    ab_grid *g = ab_grid_new(f->nmembers + 2, titles);
    for (size_t i = 0; g && i < f->nrows; i++) {
        const fleet_row *row = &f->rows[i];
        double fac;
        char unit[32];
        ab_display_scale(row->unit, fabs(isfinite(row->median) ? row->median : row->v[0]), &fac,
                         unit, sizeof(unit));
        ab_grid_add_row(g);
        ab_grid_set(g, -1, 0, "%s", row->label);
        if (isfinite(row->median))
            ab_grid_set(g, -1, 1, "%.4g %s", row->median / fac, unit);
        else
            ab_grid_set(g, -1, 1, "- (fewer than 3 nodes)");
        for (size_t q = 0; q < f->nmembers; q++) {
            if (!isfinite(row->v[q]))
                ab_grid_set(g, -1, 2 + q, "-");
            else if (!isfinite(row->z[q]))
                ab_grid_set(g, -1, 2 + q, "%.4g", row->v[q] / fac);
            else
                ab_grid_set(g, -1, 2 + q, "%.4g (%+.1f)%s", row->v[q] / fac, row->z[q],
                            is_out(f, row, q) ? " OUT" : "");
        }
    }
    for (size_t q = 0; t2 && q < f->nmembers; q++)
        free(t2[2 + q]);
    free(t2);
    free(titles);
    return g;
}

/* One line per member out, on f; returns the number of members out. */
static size_t fleet_verdicts(const fleet *f, FILE *out, bool markdown)
{
    size_t nout = 0;
    for (size_t q = 0; q < f->nmembers; q++) {
        size_t n = 0, worst = 0;
        for (size_t i = 0; i < f->nrows; i++)
            if (is_out(f, &f->rows[i], q) && (n++ == 0 || f->rows[i].z[q] > f->rows[worst].z[q]))
                worst = i;
        if (!n) continue;
        nout++;
        fprintf(out, "%s%s: OUT on %zu of %zu metrics (worst: %s, z %+.1f beyond %.1f)\n",
                markdown ? "- " : "fleet: ", f->members[q], n, f->nrows, f->rows[worst].label,
                f->rows[worst].z[q], f->threshold);
    }
    if (!nout)
        fprintf(out, "%sno node out (%zu nodes, %zu metrics, threshold z %.1f)\n",
                markdown ? "- " : "fleet: ", f->nmembers, f->nrows, f->threshold);
    return nout;
}

/* junit-<member>.xml: one test case per metric row, a failure where the member is out. */
static int write_junit(const fleet *f, size_t q, const char *dir, char *err)
{
    char name[200];
    ab_strlcpy(name, f->members[q], sizeof(name));
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_'))
            *p = '_';
    char *path = ab_asprintf("%s/junit-%s.xml", dir, name);
    FILE *x = path ? fopen(path, "w") : NULL;
    if (!x) {
        int rc = ab_err(err, "cannot write %s", path ? path : dir);
        free(path);
        return rc;
    }
    size_t tests = 0, fails = 0;
    for (size_t i = 0; i < f->nrows; i++)
        if (isfinite(f->rows[i].z[q])) {
            tests++;
            fails += is_out(f, &f->rows[i], q);
        }
    fprintf(x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"accelbench fleet\">\n"
            "  <testsuite name=\"");
    ab_xml_escape(x, f->members[q]);
    fprintf(x, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n", tests, fails);
    for (size_t i = 0; i < f->nrows; i++) {
        const fleet_row *row = &f->rows[i];
        if (!isfinite(row->z[q])) continue;
        fputs("    <testcase classname=\"fleet\" name=\"", x);
        ab_xml_escape(x, row->label);
        if (!is_out(f, row, q)) {
            fputs("\"/>\n", x);
            continue;
        }
        fprintf(x,
                "\">\n      <failure message=\"z %+.2f beyond %.2f: %.6g against the median "
                "%.6g of the fleet\"/>\n    </testcase>\n",
                row->z[q], f->threshold, row->v[q], row->median);
    }
    fputs("  </testsuite>\n</testsuites>\n", x);
    int rc = fclose(x) == 0 ? 0 : ab_err(err, "cannot write %s", path);
    free(path);
    return rc;
}

/* The chart: per row, each member's value over the row's median (1 = the fleet's middle). */
static int write_chart(const fleet *f, const char *dir, char *err)
{
    json_t *rows = json_array(), *cols = json_array(), *cells = json_object();
    for (size_t q = 0; q < f->nmembers; q++)
        json_array_append_new(cols, ab_json_string(f->members[q]));
    for (size_t i = 0, ri = 0; i < f->nrows; i++) {
        const fleet_row *row = &f->rows[i];
        if (!isfinite(row->median) || !(row->median != 0)) continue;
        json_array_append_new(rows, ab_json_string(row->label));
        for (size_t q = 0; q < f->nmembers; q++)
            if (isfinite(row->v[q])) {
                char k[48];
                snprintf(k, sizeof(k), "%zu,%zu", ri, q);
                json_object_set_new(cells, k, json_real(row->v[q] / row->median));
            }
        ri++;
    }
    ab_charts charts;
    int rc = ab_plot_bars(dir, "fleet", "Fleet: each node over the median of the nodes",
                          "value / fleet median", rows, cols, cells, &charts, err);
    if (rc == 0 && charts.skipped) ab_log(AB_LOG_WARN, "fleet chart: %s", charts.warning);
    ab_charts_free(&charts);
    json_decref(rows);
    json_decref(cols);
    json_decref(cells);
    return rc;
}

static int write_outputs(const fleet *f, const ab_grid *g, const char *dir, char *err)
{
    if (ab_mkdir_p(dir, err) != 0) return -1;
    char *md = ab_asprintf("%s/fleet.md", dir);
    FILE *m = md ? fopen(md, "w") : NULL;
    free(md);
    if (!m) return ab_err(err, "cannot write %s/fleet.md", dir);
    fprintf(m,
            "# accelbench fleet\n\nRobust z-score per node and metric: (median of the nodes "
            "- value) / max(scaled MAD, %.3g x median), signed so that positive is worse; "
            "OUT beyond %.2f.\n\n",
            f->min_spread, f->threshold);
    fleet_verdicts(f, m, true);
    fputc('\n', m);
    ab_grid_write_markdown(g, m);
    if (fclose(m) != 0) return ab_err(err, "cannot write %s/fleet.md", dir);
    for (size_t q = 0; q < f->nmembers; q++)
        if (write_junit(f, q, dir, err) != 0) return -1;
    return write_chart(f, dir, err);
}

static void fleet_free(fleet *f)
{
    for (size_t i = 0; i < f->nrows; i++) {
        free(f->rows[i].id);
        free(f->rows[i].metric);
        free(f->rows[i].label);
        free(f->rows[i].unit);
        free(f->rows[i].v);
        free(f->rows[i].z);
    }
    free(f->rows);
    for (size_t q = 0; q < f->nmembers; q++)
        free(f->members[q]);
    free(f->members);
}

static void fleet_usage(FILE *f)
{
    fputs("usage: accelbench fleet [options] RUN...\n"
          "\n"
          "Finds the bad node: aligns the same metrics across the nodes of one device model --\n"
          "the ranks of an MPI job's run, or runs of one machine each -- and flags a node whose\n"
          "robust z-score (median and scaled MAD across nodes) is worse than the threshold.\n"
          "\n"
          "  -o, --out DIR         also write fleet.md, the chart and junit-<node>.xml there\n"
          "      --threshold Z     z beyond which a node is out (default 3.5)\n"
          "      --min-spread F    the spread is at least F x the median (default 0.02)\n"
          "      --help            this text\n"
          "\n"
          "exit codes: 0 no node out, 2 usage or input error, 3 a node is out, 4 files could not\n"
          "be written\n",
          f);
}

static int fleet_args(int argc, char **argv, fleet *f, const char **out)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"threshold", required_argument, NULL, 1},
                                         {"min-spread", required_argument, NULL, 2},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    char err[AB_ERRLEN];
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":o:h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE:
            return ab_usage_error("fleet", "%s given twice", seen.name);
        case 'o':
            *out = optarg;
            break;
        case 1:
            if (ab_parse_double(optarg, "--threshold", &f->threshold, err) || !(f->threshold > 0))
                return ab_usage_error("fleet", "--threshold: '%s' is not a positive number",
                                      optarg);
            break;
        case 2:
            if (ab_parse_fraction(optarg, "--min-spread", &f->min_spread, err))
                return ab_usage_error("fleet", "%s", err);
            break;
        case 'h':
            fleet_usage(stdout);
            return AB_EXIT_OK;
        case ':':
            return ab_usage_error("fleet", "option '%s' needs a value", argv[optind - 1]);
        default:
            return ab_usage_error("fleet", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ab_usage_error("fleet", "no run given");
    return -1;
}

int ab_cmd_fleet(int argc, char **argv)
{
    fleet f = {.threshold = 3.5, .min_spread = 0.02};
    const char *out = NULL;
    int rc = fleet_args(argc, argv, &f, &out);
    if (rc >= 0) return rc;
    size_t n = (size_t)(argc - optind);
    ab_run **runs = calloc(n, sizeof(*runs));
    char err[AB_ERRLEN] = "";
    if (!runs) return AB_EXIT_FAIL;
    for (size_t j = 0; j < n && rc < 0; j++)
        if (!(runs[j] = ab_load_run_arg(argv[optind + (int)j], err)))
            rc = ab_usage_error("fleet", "%s", err);
    if (rc < 0 && fleet_collect(&f, runs, n, err) != 0) rc = ab_usage_error("fleet", "%s", err);
    if (rc < 0 && f.nmembers < 3)
        rc = ab_usage_error("fleet", "%zu node(s) with passing results: a fleet needs 3 or more",
                            f.nmembers);
    ab_grid *g = NULL;
    if (rc < 0) {
        fleet_score(&f);
        g = fleet_grid(&f);
        ab_grid_write_text(g, stdout);
        size_t nout = fleet_verdicts(&f, stdout, false);
        rc = nout ? AB_EXIT_REGRESSION : AB_EXIT_OK;
        if (out && write_outputs(&f, g, out, err) != 0) {
            fprintf(stderr, "accelbench fleet: %s\n", err);
            rc = AB_EXIT_IO;
        }
    }
    ab_grid_free(g);
    fleet_free(&f);
    for (size_t j = 0; j < n; j++)
        ab_run_free(runs[j]);
    free(runs);
    return rc;
}
