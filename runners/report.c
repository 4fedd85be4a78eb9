/* SPDX-License-Identifier: MIT */
#include "report.h"

#include "grid.h"
#include "scorecard.h"
#include "output.h"
#include "plot.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define esc ab_html_escape

static const char css[] =
    ":root{--fg:#1d1d1f;--muted:#666;--line:#ddd;--bg:#fff;--alt:#f6f7f9;--worse:#fde2e1;"
    "--better:#e1f5e6;--accent:#0072B2}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);"
    "background:var(--bg);margin:0 auto;max-width:1400px;padding:0 1.5em 3em}"
    "h1{font-size:1.6em;margin:1em 0 .2em}h2{margin-top:2em;border-bottom:2px solid var(--line);"
    "padding-bottom:.2em}h3{margin:1.4em 0 .4em}"
    "nav a{margin-right:1em;color:var(--accent)}p.meta{color:var(--muted);margin:0}"
    "table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}"
    "th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}"
    "th{background:var(--alt);position:sticky;top:0;cursor:pointer;user-select:none}"
    "th.sorted-asc::after{content:' \\25B2'}th.sorted-desc::after{content:' \\25BC'}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tbody tr:nth-child(even){background:var(--alt)}"
    "tr.worse,tr.worse td{background:var(--worse)}tr.better,tr.better td{background:var(--better)}"
    "tr.fail td,tr.error td{background:var(--worse)}tr.skip td{color:var(--muted)}"
    ".scroll{overflow-x:auto}"
    "figure{margin:1em 0;padding:.5em;border:1px solid var(--line);border-radius:4px}"
    "figure svg{width:100%;height:auto;max-height:640px}figcaption{color:var(--muted)}"
    "table.kv th{width:14em;cursor:default;position:static}table.kv{min-width:40em}"
    "table.kv table.kv{min-width:0;margin:0}"
    ".warn{background:#fff4d6;border:1px solid #e6c36a;padding:.5em 1em;border-radius:4px}"
    "details{margin:.4em 0}summary{cursor:pointer;font-weight:600}"
    ".null{color:var(--muted);font-style:italic}.err{color:#b00020}.src{color:var(--muted);"
    "font-size:11px}code{font-size:12px}";

/* Sortable tables: click a header to sort by that column (numbers by value). Also marks the page
 * as rendered, which the browser test checks. */
static const char script[] =
    "(function(){'use strict';"
    "function key(td,num){var t=td?td.textContent.trim():'';if(!num)return t.toLowerCase();"
    "var m=t.replace(/[,\\u00d7%]/g,'').match(/^([-+]?\\d*\\.?\\d+(?:[eE][-+]?\\d+)?)\\s*(ms|us|[kMGTP])?/);"
    "if(!m)return -Infinity;"
    "return parseFloat(m[1])*({k:1e3,M:1e6,G:1e9,T:1e12,P:1e15,ms:1e-3,us:1e-6}[m[2]]||1);}"
    "document.querySelectorAll('table.sortable').forEach(function(tb){"
    "var ths=tb.tHead?tb.tHead.rows[0].cells:[];"
    "Array.prototype.forEach.call(ths,function(th,i){th.addEventListener('click',function(){"
    "var num=th.classList.contains('num'),asc=!th.classList.contains('sorted-asc');"
    "Array.prototype.forEach.call(ths,function(o){o.classList.remove('sorted-asc','sorted-desc');});"
    "th.classList.add(asc?'sorted-asc':'sorted-desc');var body=tb.tBodies[0];"
    "var rows=Array.prototype.slice.call(body.rows);"
    "rows.sort(function(a,b){var x=key(a.cells[i],num),y=key(b.cells[i],num);"
    "return (x<y?-1:x>y?1:0)*(asc?1:-1);});"
    "rows.forEach(function(r){body.appendChild(r);});});});});"
    "document.documentElement.setAttribute('data-rendered','1');})();";

/* ------------------------------------------------------------------ generic JSON */

static bool bytes_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    return (n >= 5 && strcmp(k + n - 5, "bytes") == 0) ||
           (n >= 11 && strcmp(k + n - 11, "working_set") == 0);
}

static void json_scalar(FILE *f, const char *key, const json_t *v)
{
    if (json_is_string(v)) {
        esc(f, json_string_value(v));
    } else if (json_is_integer(v)) {
        fprintf(f, "%lld", (long long)json_integer_value(v));
        if (bytes_key(key) && json_integer_value(v) > 0) {
            char b[32];
            ab_format_bytes((uint64_t)json_integer_value(v), b, sizeof(b));
            if (strchr(b, 'i')) /* an exact binary multiple */
                fprintf(f, " (%s)", b);
            else if (json_integer_value(v) >= (1LL << 30))
                fprintf(f, " (%.1f GiB)", (double)json_integer_value(v) / (double)(1LL << 30));
        }
    } else if (json_is_real(v)) {
        fprintf(f, "%.6g", json_real_value(v));
    } else if (json_is_true(v)) {
        fputs("true", f);
    } else if (json_is_false(v)) {
        fputs("false", f);
    } else {
        fputs("<span class=\"null\">null</span>", f);
    }
}

static bool all_scalars(const json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_object(v) || json_is_array(v))
            return false;
    }
    return true;
}

static void json_html(FILE *f, const char *key, const json_t *v, int depth);

/* a probe fact (results/MANIFEST.md): {status: ok, value, source} or {status: unavailable |
 * error, reason}, shown as the value and where it came from, or as why there is none; false: v
 * is not one */
static bool fact_html(FILE *f, const char *key, const json_t *v, int depth)
{
    const char *st = json_string_value(json_object_get(v, "status"));
    if (st && json_object_get(v, "value") && strcmp(st, "ok") == 0) {
        json_html(f, key, json_object_get(v, "value"), depth + 1);
        const char *src = json_string_value(json_object_get(v, "source"));
        if (src) {
            fputs(" <span class=\"src\">(", f);
            esc(f, src);
            fputs(")</span>", f);
        }
        return true;
    }
    if (st && (strcmp(st, "unavailable") == 0 || strcmp(st, "error") == 0) &&
        json_is_string(json_object_get(v, "reason"))) {
        fprintf(f, "<span class=\"%s\">%s: ", strcmp(st, "error") == 0 ? "err" : "null", st);
        esc(f, json_string_value(json_object_get(v, "reason")));
        fputs("</span>", f);
        return true;
    }
    return false;
}

static void object_html(FILE *f, const json_t *v, int depth)
{
    if (!json_object_size(v)) {
        fputs("<span class=\"null\">{}</span>", f);
        return;
    }
    fputs("<table class=\"kv\">", f);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        fputs("<tr><th>", f);
        esc(f, k);
        fputs("</th><td>", f);
        json_html(f, k, x, depth + 1);
        fputs("</td></tr>", f);
    }
    fputs("</table>", f);
}

/* columns of an array of objects: the union of the objects' keys, in order of appearance, into
 * cols; false: an element is not an object */
static bool array_columns(const json_t *v, json_t *cols)
{
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_object(x))
            return false;
        const char *k;
        json_t *y;
        json_object_foreach(x, k, y)
        {
            bool seen = false;
            for (size_t c = 0; c < json_array_size(cols) && !seen; c++)
                seen = strcmp(json_string_value(json_array_get(cols, c)), k) == 0;
            if (!seen)
                json_array_append_new(cols, json_string(k));
        }
    }
    return true;
}

/* an array of objects as a table with columns cols */
static void objects_table_html(FILE *f, const json_t *v, const json_t *cols, int depth)
{
    size_t i;
    json_t *x;
    fputs("<div class=\"scroll\"><table class=\"sortable\"><thead><tr>", f);
    for (size_t c = 0; c < json_array_size(cols); c++) {
        fputs("<th>", f);
        esc(f, json_string_value(json_array_get(cols, c)));
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>", f);
    json_array_foreach(v, i, x)
    {
        fputs("<tr>", f);
        for (size_t c = 0; c < json_array_size(cols); c++) {
            const char *k = json_string_value(json_array_get(cols, c));
            fputs("<td>", f);
            json_t *y = json_object_get(x, k);
            if (y)
                json_html(f, k, y, depth + 1);
            fputs("</td>", f);
        }
        fputs("</tr>", f);
    }
    fputs("</tbody></table></div>", f);
}

static void array_html(FILE *f, const char *key, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    if (!n) {
        fputs("<span class=\"null\">[]</span>", f);
    } else if (all_scalars(v)) {
        size_t show = n > 24 ? 16 : n;
        for (size_t i = 0; i < show; i++) {
            if (i)
                fputs(", ", f);
            json_scalar(f, key, json_array_get(v, i));
        }
        if (show < n)
            fprintf(f, ", … (%zu values)", n);
    } else {
        json_t *cols = json_array();
        if (array_columns(v, cols)) {
            objects_table_html(f, v, cols, depth);
        } else {
            size_t i;
            json_t *x;
            fputs("<ol start=\"0\">", f);
            json_array_foreach(v, i, x)
            {
                fputs("<li>", f);
                json_html(f, key, x, depth + 1);
                fputs("</li>", f);
            }
            fputs("</ol>", f);
        }
        json_decref(cols);
    }
}

/* Any JSON value as HTML: objects as key/value tables, arrays of objects as tables with the union
 * of their keys as columns, arrays of scalars inline (long ones shortened). */
static void json_html(FILE *f, const char *key, const json_t *v, int depth)
{
    if (depth > 8) {
        fputs("…", f);
        return;
    }
    if (fact_html(f, key, v, depth))
        return;
    if (json_is_object(v))
        object_html(f, v, depth);
    else if (json_is_array(v))
        array_html(f, key, v, depth);
    else
        json_scalar(f, key, v);
}

/* ------------------------------------------------------------------ sections */

static void runs_section(FILE *f, ab_run *const *runs, size_t n, char *const *labels)
{
    static const char *const t[] = {"#",        "run",      "host",   "CPU",       "started",
                                    ">time (s)", "profile", "accelbench", ">results", ">pass",
                                    ">fail",    ">skip",    ">error",  "state"};
    ab_grid *g = ab_grid_new(14, t);
    if (!g)
        return;
    for (size_t j = 0; j < n; j++) {
        const ab_run *r = runs[j];
        size_t cnt[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < r->nresults; i++)
            cnt[r->results[i]->status]++;
        char ts[40] = "?";
        if (r->start_time > 0)
            ab_format_utc(r->start_time, ts, sizeof(ts));
        const char *host = json_string_value(json_object_get(r->host, "hostname"));
        const char *cpu = json_string_value(json_object_get(r->host, "cpu_model"));
        ab_grid_add_row(g);
        ab_grid_set(g, -1, 0, "[%zu]", j + 1);
        ab_grid_set(g, -1, 1, "%s", labels[j]);
        ab_grid_set(g, -1, 2, "%s", host ? host : "?");
        ab_grid_set(g, -1, 3, "%s", cpu ? cpu : "?");
        ab_grid_set(g, -1, 4, "%s", ts);
        if (r->end_time > 0)
            ab_grid_set(g, -1, 5, "%.1f", r->end_time - r->start_time);
        ab_grid_set(g, -1, 6, "%s", r->profile ? r->profile : "?");
        ab_grid_set(g, -1, 7, "%s (%s)", r->version ? r->version : "?",
                    r->git_commit ? r->git_commit : "?");
        ab_grid_set(g, -1, 8, "%zu", r->nresults);
        ab_grid_set(g, -1, 9, "%zu", cnt[AB_PASS]);
        ab_grid_set(g, -1, 10, "%zu", cnt[AB_FAIL]);
        ab_grid_set(g, -1, 11, "%zu", cnt[AB_SKIP]);
        ab_grid_set(g, -1, 12, "%zu", cnt[AB_ERROR]);
        ab_grid_set(g, -1, 13, "%s",
                    r->complete ? "complete" : (r->interrupted ? "interrupted" : "incomplete"));
        if (cnt[AB_FAIL] || cnt[AB_ERROR])
            ab_grid_row_class(g, -1, "fail");
    }
    fputs("<section id=\"runs\"><h2>Runs</h2><div class=\"scroll\">", f);
    ab_grid_write_html(g, f, "sortable");
    fputs("</div></section>\n", f);
    ab_grid_free(g);
}

/* how the verdicts are made, and the summary of ab_cmp_write_summary as a list */
static void compare_intro(FILE *f, const ab_cmp *c, const ab_cmp_opts *opts, const char *note)
{
    if (note) {
        fputs("<p class=\"warn\">", f);
        esc(f, note);
        fputs("</p>\n", f);
    }
    fprintf(f, "<p>Each run against [1]: verdicts from a two-sided Mann-Whitney U test on the "
               "samples (α = %g) and a minimum effect of %.1f%%, raised to %g× the noise measured "
               "between the runs when that is larger (README, “How verdicts are made”). Rows: "
               "<span style=\"background:var(--worse)\">worse</span>, "
               "<span style=\"background:var(--better)\">better</span>.</p>\n<ul>",
            opts->alpha, 100.0 * opts->threshold, opts->noise_k);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        ab_cmp_write_summary(c, m, false);
        fclose(m);
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            fputs("<li>", f);
            esc(f, line);
            fputs("</li>", f);
        }
        free(buf);
    }
    fputs("</ul>\n", f);
}

/* the rows of the comparison table into g */
static void compare_rows(ab_grid *g, const ab_cmp *c, size_t n)
{
    for (size_t i = 0; g && i < c->nrows; i++) {
        const ab_cmp_row *row = &c->rows[i];
        ab_grid_add_row(g);
        size_t col = ab_cmp_grid_lead(g, row, " (headline)");
        const char *cls = NULL;
        for (size_t j = 0; j < n; j++) {
            const ab_cmp_cell *x = &row->cells[j];
            ab_cmp_grid_value(g, &col, row, x);
            if (!j)
                continue;
            if (isfinite(x->ratio))
                ab_grid_set(g, -1, col++, "%.3f×", x->ratio);
            else
                ab_grid_set(g, -1, col++, "-");
            if (x->test.method != AB_MWU_NONE)
                ab_grid_set(g, -1, col++, "%.2g", x->test.p);
            else
                ab_grid_set(g, -1, col++, "-");
            ab_grid_set(g, -1, col++, "%s", ab_verdict_name(x->verdict));
            if (x->verdict == AB_V_WORSE)
                cls = "worse";
            else if (x->verdict == AB_V_BETTER && !cls)
                cls = "better";
        }
        if (cls)
            ab_grid_row_class(g, -1, cls);
    }
}

/* the table the terminal shows, as HTML */
static void compare_table(FILE *f, const ab_cmp *c, size_t n)
{
    static const char *const base[] = {"key", "impl", "params", "device", "metric"};
    size_t ncols = 5 + 2 + 5 * (n - 1);
    const char **titles = calloc(ncols, sizeof(*titles));
    char **own = calloc(ncols, sizeof(*own));
    if (titles && own) {
        size_t k = 0;
        for (; k < 5; k++)
            titles[k] = base[k];
        for (size_t j = 0; j < n; j++) {
            own[k] = ab_asprintf(">[%zu] value", j + 1), titles[k] = own[k], k++;
            own[k] = ab_asprintf(">[%zu] %% peak", j + 1), titles[k] = own[k], k++;
            if (j) {
                own[k] = ab_asprintf(">[%zu] ratio", j + 1), titles[k] = own[k], k++;
                own[k] = ab_asprintf(">[%zu] p", j + 1), titles[k] = own[k], k++;
                own[k] = ab_asprintf("[%zu] verdict", j + 1), titles[k] = own[k], k++;
            }
        }
        ab_grid *g = ab_grid_new(k, titles);
        compare_rows(g, c, n);
        if (g) {
            ab_grid_drop_empty_columns(g);
            fputs("<div class=\"scroll\">", f);
            ab_grid_write_html(g, f, "sortable");
            fputs("</div>", f);
            ab_grid_free(g);
        }
    }
    for (size_t k = 0; own && k < ncols; k++)
        free(own[k]);
    free(own);
    free(titles);
}

static void compare_section(FILE *f, ab_run *const *runs, size_t n, const ab_cmp_opts *o)
{
    ab_cmp c;
    char err[AB_ERRLEN];
    ab_cmp_opts opts = *o;
    if (ab_compare(runs, n, &opts, &c, err) != 0)
        return;
    const char *note = NULL;
    if (!ab_cmp_aligned(&c) && opts.align != AB_ALIGN_HEADLINE) {
        /* different machines: their exact cases rarely match; headlines always do */
        ab_cmp_free(&c);
        opts.align = AB_ALIGN_HEADLINE;
        if (ab_compare(runs, n, &opts, &c, err) != 0)
            return;
        note = "No result matched exactly (different device models or sizes), so headline figures "
               "are aligned by case, implementation, data type and device class.";
    }
    fputs("<section id=\"compare\"><h2>Comparison</h2>\n", f);
    compare_intro(f, &c, &opts, note);
    compare_table(f, &c, n);
    fputs("</section>\n", f);
    ab_cmp_free(&c);
}

static void peak_cell(ab_grid *g, const ab_result *r, const ab_metric *m)
{
    json_t *pk = json_object_get(r->extra, "peak");
    const char *pm = json_string_value(json_object_get(pk, "metric"));
    double pv = json_number_value(json_object_get(pk, "value"));
    if (!m || !pm || strcmp(pm, m->name) != 0 || !(pv > 0)) {
        ab_grid_set(g, -1, 5, "-");
        return;
    }
    char v[48];
    ab_format_value(pv, m->unit, v, sizeof(v));
    ab_grid_set(g, -1, 5, "%.1f%%", 100.0 * m->stats.median / pv);
    ab_grid_set(g, -1, 6, "%s (%s)", v, json_string_value(json_object_get(pk, "column"))
                                           ? json_string_value(json_object_get(pk, "column"))
                                           : "?");
}

static void headline_section(FILE *f, ab_run *const *runs, size_t n, char *const *labels)
{
    fputs("<section id=\"headlines\"><h2>Headline figures</h2>\n", f);
    bool any = false;
    for (size_t j = 0; j < n; j++) {
        static const char *const t[] = {"device", "key",   "impl",  "params", ">median",
                                        ">% of datasheet peak", "peak (column)", ">CV", ">samples"};
        ab_grid *g = ab_grid_new(9, t);
        if (!g)
            continue;
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            if (!r->headline || r->status != AB_PASS || !r->nmetrics)
                continue;
            const ab_metric *m = &r->metrics[0];
            char *p = ab_params_display(r->params);
            char v[48];
            ab_format_value(m->stats.median, m->unit, v, sizeof(v));
            ab_grid_add_row(g);
            ab_grid_set(g, -1, 0, "%s (%s)", r->device, r->device_name ? r->device_name : "?");
            ab_grid_set(g, -1, 1, "%s", r->key);
            ab_grid_set(g, -1, 2, "%s", r->impl ? r->impl : "");
            ab_grid_set(g, -1, 3, "%s", p ? p : "");
            ab_grid_set(g, -1, 4, "%s", v);
            peak_cell(g, r, m);
            ab_grid_set(g, -1, 7, "%.1f%%", 100.0 * m->stats.cv);
            ab_grid_set(g, -1, 8, "%zu", m->nsamples);
            free(p);
        }
        if (g->nrows) {
            any = true;
            fprintf(f, "<h3>[%zu] ", j + 1);
            esc(f, labels[j]);
            fputs("</h3><div class=\"scroll\">", f);
            ab_grid_drop_empty_columns(g);
            ab_grid_write_html(g, f, "sortable");
            fputs("</div>\n", f);
        }
        ab_grid_free(g);
    }
    if (!any)
        fputs("<p>No headline figures (nothing passed, or the suites mark none).</p>\n", f);
    fputs("</section>\n", f);
}

/* Inlines an SVG file: the XML prolog dropped, ids made unique per chart (several gnuplot SVGs in
 * one page would otherwise share ids such as gpPt0). */
static int inline_svg(FILE *f, const char *path, size_t chart, const char *title)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return -1;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fclose(in);
        return -1;
    }
    char tmp[8192];
    size_t r;
    while ((r = fread(tmp, 1, sizeof(tmp), in)) > 0)
        fwrite(tmp, 1, r, m);
    fclose(in);
    fclose(m);
    char *s = strstr(buf, "<svg");
    if (!s) {
        free(buf);
        return -1;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "c%zu-", chart);
    fputs("<svg role=\"img\" aria-label=\"", f);
    esc(f, title);
    fputc('"', f);
    s += 4;
    static const char *const pats[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
    while (*s) {
        bool hit = false;
        for (size_t k = 0; k < 5; k++) {
            size_t pl = strlen(pats[k]);
            if (strncmp(s, pats[k], pl) == 0 && (s == buf || s[-1] == ' ' || s[-1] == ':' ||
                                                  s[-1] == '\t' || s[-1] == '\n' || k == 4)) {
                fwrite(s, 1, pl, f);
                fputs(prefix, f);
                s += pl;
                hit = true;
                break;
            }
        }
        if (!hit)
            fputc(*s++, f);
    }
    free(buf);
    return 0;
}

static int rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = ab_asprintf("%s/%s", dir, e->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    closedir(d);
    return rmdir(dir);
}

static void plots_section(FILE *f, ab_run *const *runs, size_t n, const char *keep_dir,
                          char *warning)
{
    fputs("<section id=\"charts\"><h2>Charts</h2>\n", f);
    char tmpl[] = "/tmp/accelbench-report-XXXXXX";
    const char *dir = keep_dir;
    if (!dir && !(dir = mkdtemp(tmpl))) {
        snprintf(warning, AB_ERRLEN, "cannot create a temporary folder for the charts");
        fputs("<p class=\"warn\">Charts skipped: no temporary folder.</p></section>\n", f);
        return;
    }
    ab_charts ch;
    char err[AB_ERRLEN];
    if (ab_plot_runs(runs, n, dir, &ch, err) != 0) {
        snprintf(warning, AB_ERRLEN, "charts: %s", err);
        fputs("<p class=\"warn\">Charts skipped: ", f);
        esc(f, err);
        fputs("</p>\n", f);
    } else {
        if (ch.skipped) {
            snprintf(warning, AB_ERRLEN, "%s", ch.warning);
            fputs("<p class=\"warn\">", f);
            esc(f, ch.warning);
            fputs("</p>\n", f);
        }
        if (!ch.n)
            fputs("<p>No chart: no swept parameter, headline figure or roofline point.</p>\n", f);
        for (size_t i = 0; i < ch.n; i++) {
            if (!ch.v[i].rendered)
                continue;
            char *svg = ab_asprintf("%s/%s.svg", dir, ch.v[i].name);
            fprintf(f, "<figure id=\"chart-%s\">", ch.v[i].name);
            if (!svg || inline_svg(f, svg, i, ch.v[i].title) != 0)
                fputs("<p class=\"warn\">chart image missing</p>", f);
            fputs("<figcaption>", f);
            esc(f, ch.v[i].title);
            fprintf(f, " — %s chart", ch.v[i].kind);
            if (keep_dir) {
                fputs("; data and gnuplot script: <code>", f);
                esc(f, keep_dir);
                fprintf(f, "/%s.{dat,gp}</code>", ch.v[i].name);
            }
            fputs("</figcaption></figure>\n", f);
            free(svg);
        }
    }
    ab_charts_free(&ch);
    if (!keep_dir)
        rm_tree(dir);
    fputs("</section>\n", f);
}

static void results_section(FILE *f, ab_run *const *runs, size_t n, char *const *labels)
{
    fputs("<section id=\"results\"><h2>All results</h2>\n", f);
    for (size_t j = 0; j < n; j++) {
        const ab_run *run = runs[j];
        fprintf(f, "<details%s><summary>[%zu] ", n == 1 ? " open" : "", j + 1);
        esc(f, labels[j]);
        fprintf(f, ": %zu results</summary><div class=\"scroll\"><table class=\"sortable\">"
                   "<thead><tr><th>device</th><th>status</th><th>key</th><th>impl</th>"
                   "<th>params</th><th>metric</th><th class=\"num\">median</th>"
                   "<th class=\"num\">min</th><th class=\"num\">max</th><th class=\"num\">p90</th>"
                   "<th class=\"num\">CV</th><th class=\"num\">n</th><th>note</th>"
                   "<th>details</th></tr></thead><tbody>\n",
                run->nresults);
        for (size_t i = 0; i < run->nresults; i++) {
            const ab_result *r = run->results[i];
            char *p = ab_params_display(r->params);
            size_t rows = r->nmetrics ? r->nmetrics : 1;
            for (size_t k = 0; k < rows; k++) {
                const ab_metric *m = r->nmetrics ? &r->metrics[k] : NULL;
                fprintf(f, "<tr class=\"%s\"><td>", ab_status_name(r->status));
                esc(f, r->device);
                fprintf(f, "</td><td>%s</td><td>", ab_status_name(r->status));
                esc(f, r->key);
                fputs(r->headline ? " <b title=\"headline\">★</b>" : "", f);
                fputs("</td><td>", f);
                esc(f, r->impl);
                fputs("</td><td>", f);
                esc(f, p);
                fputs("</td><td>", f);
                if (m) {
                    char a[48], b[48], c[48], d[48];
                    ab_format_value(m->stats.median, m->unit, a, sizeof(a));
                    ab_format_value(m->stats.min, m->unit, b, sizeof(b));
                    ab_format_value(m->stats.max, m->unit, c, sizeof(c));
                    ab_format_value(m->stats.p90, m->unit, d, sizeof(d));
                    esc(f, m->name);
                    fputs("</td><td class=\"num\">", f);
                    esc(f, a);
                    fputs("</td><td class=\"num\">", f);
                    esc(f, b);
                    fputs("</td><td class=\"num\">", f);
                    esc(f, c);
                    fputs("</td><td class=\"num\">", f);
                    esc(f, d);
                    fprintf(f, "</td><td class=\"num\">%.1f%%</td><td class=\"num\">%zu</td><td>",
                            100.0 * m->stats.cv, m->nsamples);
                } else {
                    fputs("-</td><td></td><td></td><td></td><td></td><td></td><td></td><td>", f);
                }
                esc(f, r->reason ? r->reason : "");
                fputs("</td><td>", f);
                if (k == 0 && ((r->extra && json_object_size(r->extra)) || m)) {
                    fputs("<details><summary>more</summary>", f);
                    json_t *o = json_object();
                    json_t *smp = json_object();
                    json_object_set_new(smp, "warmup_runs", json_integer(r->warmup_runs));
                    json_object_set_new(smp, "iters_per_sample",
                                        json_integer((json_int_t)r->iters_per_sample));
                    json_object_set_new(smp, "time_spent_s", json_real(r->time_spent));
                    json_object_set_new(o, "sampling", smp);
                    if (m) {
                        json_object_set_new(o, "formula", json_string(m->formula ? m->formula : ""));
                        json_t *sa = json_array();
                        for (size_t s = 0; s < m->nsamples; s++)
                            json_array_append_new(sa, json_real(m->samples[s]));
                        json_object_set_new(o, "samples", sa);
                    }
                    if (r->extra)
                        json_object_set(o, "extra", r->extra);
                    json_html(f, NULL, o, 0);
                    json_decref(o);
                    fputs("</details>", f);
                }
                fputs("</td></tr>\n", f);
            }
            free(p);
        }
        fputs("</tbody></table></div></details>\n", f);
    }
    fputs("</section>\n", f);
}

static void machine_section(FILE *f, ab_run *const *runs, size_t n, char *const *labels)
{
    fputs("<section id=\"machine\"><h2>Machines and probe manifests</h2>\n", f);
    for (size_t j = 0; j < n; j++) {
        const ab_run *r = runs[j];
        fprintf(f, "<details%s><summary>[%zu] ", j == 0 ? " open" : "", j + 1);
        esc(f, labels[j]);
        fputs("</summary>\n", f);
        if (r->manifest) {
            fputs("<h3>Probe manifest</h3>", f);
            json_html(f, NULL, r->manifest, 0);
        }
        fputs("\n<h3>Host</h3>", f);
        json_html(f, NULL, r->host, 0);
        fputs("\n<h3>Devices</h3>", f);
        json_html(f, NULL, r->devices, 0);
        fputs("\n<h3>Backends</h3>", f);
        json_html(f, NULL, r->backends, 0);
        fputs("\n<h3>Build and settings</h3>", f);
        json_t *b = json_object();
        json_object_set_new(b, "version", r->version ? json_string(r->version) : json_null());
        json_object_set_new(b, "git_commit",
                            r->git_commit ? json_string(r->git_commit) : json_null());
        json_object_set_new(b, "compiler", r->compiler ? json_string(r->compiler) : json_null());
        json_object_set_new(b, "build_type",
                            r->build_type ? json_string(r->build_type) : json_null());
        json_object_set_new(b, "schema_version", json_integer(r->schema_version));
        json_object_set(b, "argv", r->argv);
        json_object_set(b, "settings", r->settings);
        json_html(f, NULL, b, 0);
        json_decref(b);
        fputs("</details>\n", f);
    }
    fputs("</section>\n", f);
}

static void sources_section(FILE *f, ab_run *const *runs, size_t n)
{
    json_t *seen = json_object();
    static const char *const t[] = {"model", "column", ">value", "source", "accessed"};
    ab_grid *g = ab_grid_new(5, t);
    for (size_t j = 0; g && j < n; j++)
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            json_t *pk = json_object_get(runs[j]->results[i]->extra, "peak");
            if (!json_is_object(pk))
                continue;
            const char *model = json_string_value(json_object_get(pk, "model"));
            const char *col = json_string_value(json_object_get(pk, "column"));
            char *k = ab_asprintf("%s|%s", model ? model : "", col ? col : "");
            if (!k || json_object_get(seen, k)) {
                free(k);
                continue;
            }
            json_object_set_new(seen, k, json_true());
            free(k);
            char v[48];
            const char *unit = json_string_value(json_object_get(pk, "unit"));
            ab_format_value(json_number_value(json_object_get(pk, "value")), unit ? unit : "", v,
                            sizeof(v));
            const char *src = json_string_value(json_object_get(pk, "source"));
            const char *acc = json_string_value(json_object_get(pk, "accessed"));
            ab_grid_add_row(g);
            ab_grid_set(g, -1, 0, "%s", model ? model : "?");
            ab_grid_set(g, -1, 1, "%s", col ? col : "?");
            ab_grid_set(g, -1, 2, "%s", v);
            ab_grid_set(g, -1, 3, "%s", src ? src : "?");
            ab_grid_set(g, -1, 4, "%s", acc ? acc : "?");
        }
    fputs("<section id=\"sources\"><h2>Datasheet peaks used</h2>\n", f);
    if (g && g->nrows)
        ab_grid_write_html(g, f, "sortable");
    else
        fputs("<p>None: no device of these runs has a row in the datasheet table "
              "(data/accelerator-peaks.csv), so no % of peak is shown — never a guess.</p>\n",
              f);
    fputs("</section>\n", f);
    ab_grid_free(g);
    json_decref(seen);
}

int ab_report_html(ab_run *const *runs, size_t n, const ab_report_opts *o, FILE *f, char *warning,
                   char *err)
{
    *warning = '\0';
    if (!n)
        return ab_err(err, "no runs");
    char **labels = calloc(n, sizeof(*labels));
    if (!labels)
        return ab_err(err, "out of memory");
    for (size_t j = 0; j < n; j++) {
        const char *id = runs[j]->id ? runs[j]->id : "run";
        size_t dup = 1;
        for (size_t k = 0; k < j; k++)
            dup += strcmp(runs[k]->id ? runs[k]->id : "run", id) == 0;
        labels[j] = dup > 1 ? ab_asprintf("%s#%zu", id, dup) : ab_strdup(id);
    }
    const char *title = o->title ? o->title : "accelbench report";
    char now[40];
    ab_format_utc(ab_wall_time(), now, sizeof(now));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          /* nothing may be loaded from anywhere: the file must work offline, and a stray
           * external reference shows up as a console error in the browser test */
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    esc(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>", css);
    esc(f, title);
    fputs("</h1><p class=\"meta\">", f);
    for (size_t j = 0; j < n; j++) {
        fputs(j ? ", " : "", f);
        esc(f, labels[j]);
    }
    fprintf(f, " — generated %s by accelbench %s</p>\n", now, AB_VERSION);
    fputs("<nav><a href=\"#scorecard\">Scorecard</a><a href=\"#runs\">Runs</a>", f);
    if (n > 1)
        fputs("<a href=\"#compare\">Comparison</a>", f);
    fputs("<a href=\"#headlines\">Headlines</a><a href=\"#charts\">Charts</a>"
          "<a href=\"#results\">All results</a><a href=\"#machine\">Machines</a>"
          "<a href=\"#sources\">Peak sources</a></nav></header>\n",
          f);
    /* the answer at a glance first (runners/scorecard.c) */
    ab_scorecard_print((const ab_run *const *)runs, n, labels, AB_SC_HTML, f);
    runs_section(f, runs, n, labels);
    if (n > 1)
        compare_section(f, runs, n, &o->cmp);
    headline_section(f, runs, n, labels);
    plots_section(f, runs, n, o->plots_dir, warning);
    results_section(f, runs, n, labels);
    machine_section(f, runs, n, labels);
    sources_section(f, runs, n);
    fprintf(f, "<script>%s</script>\n</body></html>\n", script);
    for (size_t j = 0; j < n; j++)
        free(labels[j]);
    free(labels);
    return ferror(f) ? ab_err(err, "write error") : 0;
}
