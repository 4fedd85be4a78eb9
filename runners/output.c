/* SPDX-License-Identifier: MIT */
#include "output.h"

#include "../core/escape.h"

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

/* extra.<obj>.<key> as a number, NAN when absent (an "unavailable" object has none) */
static double extra_num(const ab_result *r, const char *obj, const char *sub, const char *key)
{
    json_t *o = json_object_get(r->extra, obj);
    if (sub)
        o = json_object_get(o, sub);
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

enum { NUM_G4, NUM_USD, NUM_PCT };
static void md_num(FILE *f, double v, int kind)
{
    fputs(" | ", f);
    if (!isfinite(v))
        fputs("—", f);
    else if (kind == NUM_USD)
        fprintf(f, "%.2f", v);
    else if (kind == NUM_PCT)
        fprintf(f, "%.0f%%", v);
    else
        fprintf(f, "%.4g", v);
}

/* The tokens suite's table: one row per prefill or decode point, with cost, energy and the
 * roofline fractions; a dash where a figure is unavailable (the notes below say why). */
static void md_tokens_table(const ab_run *run, FILE *f)
{
    bool any = false;
    for (size_t i = 0; i < run->nresults && !any; i++)
        any = strcmp(run->results[i]->suite, "tokens") == 0 && run->results[i]->status == AB_PASS;
    if (!any)
        return;
    fputs("## Tokens per second, per dollar, per kWh\n\n"
          "| device | model | dtype | point | $/hour | tok/s | TTFT/TPOT p50 | tok/s/user | "
          "tokens per $ | $ per Mtok | tokens per kWh | % roofline (measured) | % roofline "
          "(datasheet) |\n"
          "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          f);
    const char *cost_why = NULL, *energy_why = NULL, *sheet_why = NULL, *scaling = NULL;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->suite, "tokens") != 0 || r->status != AB_PASS)
            continue;
        bool prefill = strcmp(r->key, "tokens.prefill") == 0;
        const char *model = json_string_value(json_object_get(r->params, "model"));
        const char *dtype = json_string_value(json_object_get(r->params, "dtype"));
        json_int_t batch = json_integer_value(json_object_get(r->params, "batch"));
        json_int_t len = json_integer_value(
            json_object_get(r->params, prefill ? "input_len" : "context"));
        const ab_metric *tps = ab_result_metric(r, "tokens_per_s");
        const ab_metric *lat = ab_result_metric(r, prefill ? "ttft" : "tpot");
        const ab_metric *tpu = ab_result_metric(r, "tokens_per_s_per_user");
        char point[64], lat_s[32] = "—";
        if (prefill)
            snprintf(point, sizeof(point), "prefill %lld", (long long)len);
        else
            snprintf(point, sizeof(point), "decode b%lld @ %lld", (long long)batch,
                     (long long)len);
        if (lat)
            ab_format_value(lat->stats.median, "s", lat_s, sizeof(lat_s));
        fprintf(f, "| %s | %s | %s | %s", r->device ? r->device : "?", model ? model : "?",
                dtype ? dtype : "?", point);
        md_num(f, extra_num(r, "cost", NULL, "usd_per_hour"), NUM_USD);
        md_num(f, tps ? tps->stats.median : NAN, NUM_G4);
        fprintf(f, " | %s", lat_s);
        md_num(f, tpu ? tpu->stats.median : NAN, NUM_G4);
        md_num(f, extra_num(r, "cost", NULL, "tokens_per_usd"), NUM_G4);
        md_num(f, extra_num(r, "cost", NULL, "usd_per_mtok"), NUM_G4);
        md_num(f, extra_num(r, "energy", NULL, "tokens_per_kwh"), NUM_G4);
        md_num(f, 100.0 * extra_num(r, "roofline", "measured", "fraction"), NUM_PCT);
        md_num(f, 100.0 * extra_num(r, "roofline", "datasheet", "fraction"), NUM_PCT);
        fputs(" |\n", f);
        json_t *e = r->extra;
        if (!cost_why)
            cost_why = json_string_value(json_object_get(json_object_get(e, "cost"), "reason"));
        if (!energy_why)
            energy_why = json_string_value(json_object_get(json_object_get(e, "energy"), "reason"));
        if (!sheet_why)
            sheet_why = json_string_value(json_object_get(
                json_object_get(json_object_get(e, "roofline"), "datasheet"), "reason"));
        if (!scaling)
            scaling = json_string_value(json_object_get(e, "scaling"));
    }
    fputc('\n', f);
    if (scaling)
        fprintf(f, "- scaling: %s\n", scaling);
    if (cost_why)
        fprintf(f, "- no price: %s\n", cost_why);
    if (energy_why)
        fprintf(f, "- no energy: %s\n", energy_why);
    if (sheet_why)
        fprintf(f, "- no datasheet roofline: %s\n", sheet_why);
    fputc('\n', f);
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
    fputs("\n\n", f);

    size_t counts[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < run->nresults; i++)
        counts[run->results[i]->status]++;
    fprintf(f, "%zu results: %zu pass, %zu fail, %zu skip, %zu error\n\n", run->nresults,
            counts[AB_PASS], counts[AB_FAIL], counts[AB_SKIP], counts[AB_ERROR]);

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
    md_tokens_table(run, f);
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
