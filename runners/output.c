/* SPDX-License-Identifier: MIT */
#include "output.h"

#include "../core/escape.h"
#include "../suites/suite.h"
#include "scorecard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ab_format_value(double v, const char *unit, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return;
    }
    if (strcmp(unit, "s") == 0) {
        double a = fabs(v);
        if (a >= 1.0)
            snprintf(buf, len, "%.3f s", v);
        else if (a >= 1e-3)
            snprintf(buf, len, "%.3f ms", v * 1e3);
        else
            snprintf(buf, len, "%.3f us", v * 1e6);
        return;
    }
    /* rates and counts: B/s, FLOP/s, OP/s, tokens/s ... -> decimal prefixes */
    static const struct {
        double f;
        const char *p;
    } pre[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    bool prefixable = strcmp(unit, "B/s") == 0 || strcmp(unit, "FLOP/s") == 0 ||
                      strcmp(unit, "OP/s") == 0 || strcmp(unit, "B") == 0;
    if (prefixable) {
        for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
            if (fabs(v) >= pre[i].f) {
                snprintf(buf, len, "%.2f %s%s", v / pre[i].f, pre[i].p, unit);
                return;
            }
    }
    snprintf(buf, len, "%.4g %s", v, unit);
}

int ab_write_csv(const ab_run *run, FILE *f)
{
    fputs("run_id,device,device_name,backend,suite,key,impl,params,status,reason,headline,metric,"
          "unit,direction,median,min,max,mean,stddev,p90,p99,cv,samples\n",
          f);
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        char *params = ab_params_brief(r->params);
        size_t rows = r->nmetrics ? r->nmetrics : 1;
        for (size_t m = 0; m < rows; m++) {
            ab_csv_cell(f, run->id);
            fputc(',', f);
            ab_csv_cell(f, r->device);
            fputc(',', f);
            ab_csv_cell(f, r->device_name);
            fputc(',', f);
            ab_csv_cell(f, r->backend);
            fputc(',', f);
            ab_csv_cell(f, r->suite);
            fputc(',', f);
            ab_csv_cell(f, r->key);
            fputc(',', f);
            ab_csv_cell(f, r->impl);
            fputc(',', f);
            ab_csv_cell(f, params);
            fputc(',', f);
            ab_csv_cell(f, ab_status_name(r->status));
            fputc(',', f);
            ab_csv_cell(f, r->reason);
            fprintf(f, ",%s,", r->headline ? "true" : "false");
            if (r->nmetrics) {
                const ab_metric *mt = &r->metrics[m];
                const ab_stats *s = &mt->stats;
                ab_csv_cell(f, mt->name);
                fputc(',', f);
                ab_csv_cell(f, mt->unit);
                fprintf(f, ",%s,", mt->higher_is_better ? "higher" : "lower");
                ab_csv_num(f, s->median);
                fputc(',', f);
                ab_csv_num(f, s->min);
                fputc(',', f);
                ab_csv_num(f, s->max);
                fputc(',', f);
                ab_csv_num(f, s->mean);
                fputc(',', f);
                ab_csv_num(f, s->stddev);
                fputc(',', f);
                ab_csv_num(f, s->p90);
                fputc(',', f);
                ab_csv_num(f, s->p99);
                fputc(',', f);
                ab_csv_num(f, s->cv);
                fprintf(f, ",%zu\n", mt->nsamples);
            } else {
                fputs(",,,,,,,,,,,\n", f);
            }
        }
        free(params);
    }
    return ferror(f) ? -1 : 0;
}

/* Markdown table cells cannot hold '|' or newlines. */
static void md_cell(FILE *f, const char *s)
{
    fputs(" ", f);
    ab_md_text(f, s);
    fputs(" |", f);
}

char *ab_params_display(const json_t *params)
{
    json_t *copy = json_deep_copy(params);
    const char *k;
    json_t *v;
    json_object_foreach(copy, k, v)
    {
        size_t n = strlen(k);
        bool bytes = (n >= 11 && strcmp(k + n - 11, "working_set") == 0) ||
                     (n >= 5 && strcmp(k + n - 5, "bytes") == 0) ||
                     (n >= 4 && strcmp(k + n - 4, "size") == 0);
        if (bytes && json_is_integer(v) && json_integer_value(v) > 0) {
            char b[32];
            ab_format_bytes((uint64_t)json_integer_value(v), b, sizeof(b));
            json_object_set_new(copy, k, json_string(b));
        }
    }
    char *s = ab_params_brief(copy);
    json_decref(copy);
    return s;
}

static const ab_metric *primary_metric(const ab_result *r)
{
    return r->nmetrics ? &r->metrics[0] : NULL;
}

static void md_result_row(FILE *f, const ab_result *r, bool with_status)
{
    char *params = ab_params_display(r->params);
    const ab_metric *m = primary_metric(r);
    char med[48] = "-", cv[24] = "-";
    if (m) {
        ab_format_value(m->stats.median, m->unit, med, sizeof(med));
        snprintf(cv, sizeof(cv), "%.1f%%", 100.0 * m->stats.cv);
    }
    fputs("|", f);
    md_cell(f, r->device);
    if (with_status)
        md_cell(f, ab_status_name(r->status));
    md_cell(f, r->key);
    md_cell(f, r->impl);
    md_cell(f, params);
    md_cell(f, med);
    md_cell(f, cv);
    if (with_status)
        md_cell(f, r->reason ? r->reason : "");
    fputc('\n', f);
    free(params);
}

/* A value named by a table column's source: "device", "param:NAME", "metric:NAME" (median),
 * "extra:A.B.C". *num is NAN and the string NULL when absent. */
static void table_value(const ab_result *r, const char *src, double *num, const char **str)
{
    *num = NAN;
    *str = NULL;
    json_t *v = NULL;
    if (strcmp(src, "device") == 0) {
        *str = r->device;
        return;
    } else if (strncmp(src, "param:", 6) == 0) {
        v = json_object_get(r->params, src + 6);
    } else if (strncmp(src, "metric:", 7) == 0) {
        const ab_metric *m = ab_result_metric(r, src + 7);
        if (m)
            *num = m->stats.median;
        return;
    } else if (strncmp(src, "extra:", 6) == 0) {
        char path[128];
        ab_strlcpy(path, src + 6, sizeof(path));
        v = r->extra;
        for (char *save = NULL, *t = strtok_r(path, ".", &save); t && v;
             t = strtok_r(NULL, ".", &save))
            v = json_object_get(v, t);
    }
    if (json_is_number(v))
        *num = json_number_value(v);
    else if (json_is_string(v))
        *str = json_string_value(v);
}

static void table_cell(FILE *f, const ab_summary_table *t, const ab_summary_col *c,
                       const ab_result *r)
{
    double v = NAN;
    const char *s = NULL;
    for (const char *const *src = c->from; src && *src && !s && !isfinite(v); src++)
        table_value(r, *src, &v, &s);
    fputs(c == t->cols ? "| " : " | ", f);
    char buf[96];
    switch (c->format) {
    case AB_COL_TEXT: ab_md_text(f, s ? s : "?"); return;
    case AB_COL_LABEL:
        *buf = '\0';
        if (t->label)
            t->label(r, buf, sizeof(buf));
        ab_md_text(f, buf);
        return;
    default: break;
    }
    if (!isfinite(v)) {
        fputs("—", f);
    } else if (c->format == AB_COL_USD) {
        fprintf(f, "%.2f", v);
    } else if (c->format == AB_COL_PCT) {
        fprintf(f, "%.0f%%", 100.0 * v);
    } else if (c->format == AB_COL_TIME) {
        ab_format_value(v, "s", buf, sizeof(buf));
        fputs(buf, f);
    } else {
        fprintf(f, "%.4g", v);
    }
}

/* A suite's declared summary table (ab_suite_display.table): one row per passing result of the
 * suite, a dash where a figure is unavailable and the notes below saying why. */
static void md_suite_table(const ab_run *run, const char *suite, const ab_summary_table *t,
                           FILE *f)
{
    fprintf(f, "## %s\n\n", t->title);
    for (const ab_summary_col *c = t->cols; c->header; c++)
        fprintf(f, "| %s ", c->header);
    fputs("|\n", f);
    for (const ab_summary_col *c = t->cols; c->header; c++)
        fputs(c->format == AB_COL_TEXT || c->format == AB_COL_LABEL ? "|---" : "|---:", f);
    fputs("|\n", f);
    size_t nn = 0;
    while (t->notes && t->notes[nn].label)
        nn++;
    const char *why[16] = {NULL};
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (!r->suite || strcmp(r->suite, suite) != 0 || r->status != AB_PASS)
            continue;
        for (const ab_summary_col *c = t->cols; c->header; c++)
            table_cell(f, t, c, r);
        fputs(" |\n", f);
        for (size_t k = 0; k < nn && k < 16; k++) {
            double v;
            if (!why[k])
                table_value(r, t->notes[k].from, &v, &why[k]);
        }
    }
    fputc('\n', f);
    for (size_t k = 0; k < nn && k < 16; k++)
        if (why[k]) {
            fprintf(f, "- %s: ", t->notes[k].label);
            ab_md_text(f, why[k]);
            fputc('\n', f);
        }
    fputc('\n', f);
}

/* Every suite's declared table, in the order the suites first appear in the run. */
static void md_suite_tables(const ab_run *run, FILE *f)
{
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (!r->suite || r->status != AB_PASS)
            continue;
        bool first = true;
        for (size_t k = 0; k < i && first; k++)
            first = !(run->results[k]->suite && strcmp(run->results[k]->suite, r->suite) == 0 &&
                      run->results[k]->status == AB_PASS);
        if (!first)
            continue;
        const ab_suite *s = ab_suite_find(r->suite);
        if (s && s->display && s->display->table)
            md_suite_table(run, r->suite, s->display->table, f);
        for (size_t k = 0; s && s->display && s->display->matrices && s->display->matrices[k]; k++)
            ab_md_suite_matrix(run, r->suite, s->display->matrices[k], f);
    }
}

/* accelbench run --concurrent (runners/concurrent.h): the aggregate results, with their spread. */
static void md_concurrent_table(const ab_run *run, FILE *f)
{
    bool any = false;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        json_t *c = json_object_get(r->extra, "concurrent");
        const char *role = json_string_value(json_object_get(c, "role"));
        if (!role || strcmp(role, "aggregate") != 0) continue;
        if (!any)
            fputs("## Devices run at once\n\n| key | impl | params | status | sum | min | median "
                  "| max | slowest | overlap |\n|---|---|---|---|---:|---:|---:|---:|---|---:|\n",
                  f);
        any = true;
        const char *unit = json_string_value(json_object_get(c, "unit"));
        char v[4][48] = {"-", "-", "-", "-"};
        if (r->nmetrics)
            ab_format_value(r->metrics[0].stats.median, r->metrics[0].unit, v[0], sizeof(v[0]));
        const char *names[3] = {"min", "median", "max"};
        for (int k = 0; k < 3; k++) {
            json_t *x = json_object_get(c, names[k]);
            if (json_is_number(x))
                ab_format_value(json_number_value(x), unit, v[k + 1], sizeof(v[k + 1]));
        }
        char *params = ab_params_display(r->params), ov[24];
        snprintf(ov, sizeof(ov), "%.0f%%",
                 100.0 * json_number_value(json_object_get(c, "overlap")));
        fputs("|", f);
        md_cell(f, r->key);
        md_cell(f, r->impl);
        md_cell(f, params);
        md_cell(f, ab_status_name(r->status));
        for (int k = 0; k < 4; k++)
            md_cell(f, v[k]);
        md_cell(f, json_string_value(json_object_get(c, "slowest")) ?: "-");
        md_cell(f, ov);
        fputc('\n', f);
        free(params);
    }
    if (any)
        fputs("\nsum: sample i summed over the devices; min/median/max: over the devices' "
              "medians; overlap: share of the longest device's window all devices ran at "
              "once.\n\n",
              f);
}

int ab_write_markdown(const ab_run *run, FILE *f)
{
    char ts[40];
    ab_format_utc(run->start_time, ts, sizeof(ts));
    fprintf(f, "# accelbench run %s\n\n", run->id ? run->id : "?");
    json_t *host = run->host;
    const char *hn = json_string_value(json_object_get(host, "hostname"));
    const char *cpu = json_string_value(json_object_get(host, "cpu_model"));
    const char *os = json_string_value(json_object_get(host, "os"));
    fprintf(f, "- host: %s — %s — %s\n", hn ? hn : "?", cpu ? cpu : "?", os ? os : "?");
    fprintf(f, "- accelbench %s (%s), profile %s, started %s", run->version ? run->version : "?",
            run->git_commit ? run->git_commit : "?", run->profile ? run->profile : "?", ts);
    if (run->end_time > 0)
        fprintf(f, ", %.1f s", run->end_time - run->start_time);
    fprintf(f, "%s\n", run->interrupted ? " — INTERRUPTED: partial results" : "");
    size_t nb = json_array_size(run->backends);
    fputs("- backends:", f);
    for (size_t i = 0; i < nb; i++) {
        json_t *b = json_array_get(run->backends, i);
        const char *name = json_string_value(json_object_get(b, "name"));
        bool avail = json_is_true(json_object_get(b, "available"));
        const char *why = json_string_value(json_object_get(b, "reason"));
        fprintf(f, "%s %s: %s%s%s%s", i ? ";" : "", name ? name : "?",
                avail ? "available" : "unavailable", !avail && why ? " (" : "",
                !avail && why ? why : "", !avail && why ? ")" : "");
    }
    fputs("\n", f);
    /* the time budget (runners/budget.h): what it left out and why */
    const char *bnote = json_string_value(
        json_object_get(json_object_get(run->settings, "budget"), "note"));
    if (bnote)
        fprintf(f, "- %s\n", bnote);
    fputs("\n", f);

    size_t counts[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < run->nresults; i++)
        counts[run->results[i]->status]++;
    fprintf(f, "%zu results: %zu pass, %zu fail, %zu skip, %zu error\n\n", run->nresults,
            counts[AB_PASS], counts[AB_FAIL], counts[AB_SKIP], counts[AB_ERROR]);
    /* the answer at a glance first (runners/scorecard.c) */
    const ab_run *one[1] = {run};
    if (ab_scorecard_print(one, 1, NULL, AB_SC_MARKDOWN, f) != 0) return -1;

    bool any_headline = false;
    for (size_t i = 0; i < run->nresults; i++)
        any_headline |= run->results[i]->headline;
    if (any_headline) {
        fputs("## Headlines\n\n| device | key | impl | params | median | CV |\n"
              "|---|---|---|---|---:|---:|\n",
              f);
        for (size_t i = 0; i < run->nresults; i++)
            if (run->results[i]->headline)
                md_result_row(f, run->results[i], false);
        fputc('\n', f);
    }
    md_suite_tables(run, f);
    md_concurrent_table(run, f);
    fputs("## All results\n\n| device | status | key | impl | params | median | CV | note |\n"
          "|---|---|---|---|---|---:|---:|---|\n",
          f);
    for (size_t i = 0; i < run->nresults; i++)
        md_result_row(f, run->results[i], true);
    return ferror(f) ? -1 : 0;
}

void ab_print_progress(const ab_result *r, FILE *f)
{
    char *params = ab_params_display(r->params);
    const ab_metric *m = primary_metric(r);
    char med[48] = "";
    if (m)
        ab_format_value(m->stats.median, m->unit, med, sizeof(med));
    fprintf(f, "  %-5s %-9s %-14s %-11s %-40s %14s", ab_status_name(r->status), r->device, r->key,
            r->impl, params ? params : "", med);
    if (m)
        fprintf(f, "  cv %4.1f%%", 100.0 * m->stats.cv);
    if (r->reason)
        fprintf(f, "  %s", r->reason);
    fputc('\n', f);
    free(params);
}
