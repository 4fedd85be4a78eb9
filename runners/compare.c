/* SPDX-License-Identifier: MIT */
#include "compare.h"
#include "../backends/registry.h"

#include "../core/escape.h"

#include "grid.h"
#include "output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ab_verdict_name(ab_verdict v)
{
    switch (v) {
    case AB_V_SAME: return "same";
    case AB_V_BETTER: return "better";
    case AB_V_WORSE: return "worse";
    default: return "n/a";
    }
}

static const char *const align_names[] = {"exact", "any-device", "headline"};

int ab_align_parse(const char *s, ab_align *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, align_names[i]) == 0) {
            *out = (ab_align)i;
            return 0;
        }
    return -1;
}

const char *ab_align_name(ab_align a)
{
    return (unsigned)a < 3 ? align_names[a] : "?";
}

void ab_cmp_opts_default(ab_cmp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->threshold = 0.05;
    o->alpha = 0.05;
    o->noise_k = 3.0;
    o->align = AB_ALIGN_EXACT;
}

/* ------------------------------------------------------------------ identity */

/* The class a result's device is aligned within across machines: CPU results with CPUs, OpenCL
 * with OpenCL, and the vendor GPU runtimes with each other. A run document records the backend,
 * not the device's capabilities, so the kind comes from the registry's declaration of that
 * backend (also for backends not built here); a backend this build does not know counts as a
 * GPU. The labels are those identities have always carried ("cpu", "opencl", "gpu"). */
static const char *device_class(const ab_result *r)
{
    ab_device_kind k = AB_KIND_GPU;
    ab_backend_declared_kind(r->backend, &k);
    switch (k) {
    case AB_KIND_HOST: return "cpu";
    case AB_KIND_PORTABLE: return "opencl";
    default: return "gpu";
    }
}

/* Text-valued parameters only (dtype, layout): numeric ones (sizes, thread counts) follow the
 * machine and would keep different machines' headlines apart. */
static char *text_params(const json_t *params)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (json_is_string(v))
            json_object_set(o, k, v);
    }
    char *s = ab_params_brief(o);
    json_decref(o);
    return s;
}

static char *identity(const ab_result *r, ab_align a)
{
    if (a == AB_ALIGN_EXACT)
        return ab_result_id(r);
    if (a == AB_ALIGN_ANY_DEVICE) {
        char *p = ab_params_brief(r->params);
        char *s = ab_asprintf("%s|%s|%s", r->key, r->impl ? r->impl : "", p ? p : "");
        free(p);
        return s;
    }
    char *p = text_params(r->params);
    char *s = ab_asprintf("%s|%s|%s|%s", r->key, r->impl ? r->impl : "", p ? p : "",
                          device_class(r));
    free(p);
    return s;
}

/* ------------------------------------------------------------------ row index (hash) */

typedef struct {
    size_t *slot; /* row index + 1; 0 = empty */
    size_t cap;
} index_t;

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xFF) * 1099511628211ULL;
    for (const char *p = b ? b : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static bool row_is(const ab_cmp_row *r, const char *ident, const char *metric)
{
    if (strcmp(r->ident, ident) != 0)
        return false;
    if (!r->metric || !metric)
        return !r->metric && !metric;
    return strcmp(r->metric, metric) == 0;
}

static long index_find(const index_t *ix, const ab_cmp *c, const char *ident, const char *metric)
{
    if (!ix->cap)
        return -1;
    for (size_t i = hash2(ident, metric) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        if (!ix->slot[i])
            return -1;
        if (row_is(&c->rows[ix->slot[i] - 1], ident, metric))
            return (long)(ix->slot[i] - 1);
    }
}

static int index_put(index_t *ix, const ab_cmp *c, size_t row)
{
    if (2 * (c->nrows + 1) > ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 256;
        size_t *s = calloc(cap, sizeof(*s));
        if (!s)
            return -1;
        for (size_t r = 0; r < c->nrows; r++) {
            if (r == row)
                continue;
            size_t i = hash2(c->rows[r].ident, c->rows[r].metric) & (cap - 1);
            while (s[i])
                i = (i + 1) & (cap - 1);
            s[i] = r + 1;
        }
        free(ix->slot);
        ix->slot = s;
        ix->cap = cap;
    }
    size_t i = hash2(c->rows[row].ident, c->rows[row].metric) & (ix->cap - 1);
    while (ix->slot[i])
        i = (i + 1) & (ix->cap - 1);
    ix->slot[i] = row + 1;
    return 0;
}

/* ------------------------------------------------------------------ building */

static long add_row(ab_cmp *c, index_t *ix, size_t *cap, const char *ident, const ab_result *r,
                    const ab_metric *m)
{
    if (c->nrows == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        ab_cmp_row *v = realloc(c->rows, nc * sizeof(*v));
        if (!v)
            return -1;
        c->rows = v;
        *cap = nc;
    }
    ab_cmp_row *row = &c->rows[c->nrows];
    memset(row, 0, sizeof(*row));
    row->ident = ab_strdup(ident);
    row->cells = calloc(c->nruns, sizeof(*row->cells));
    if (!row->ident || !row->cells) {
        free(row->ident);
        free(row->cells);
        return -1;
    }
    row->proto = r;
    row->metric = m ? m->name : NULL;
    row->unit = m ? m->unit : NULL;
    row->higher_is_better = m ? m->higher_is_better : true;
    for (size_t j = 0; j < c->nruns; j++) {
        row->cells[j].value = row->cells[j].peak_fraction = row->cells[j].ratio = NAN;
        row->cells[j].effect = row->cells[j].noise = NAN;
        row->cells[j].test.p = NAN;
    }
    c->nrows++;
    if (index_put(ix, c, c->nrows - 1) != 0)
        return -1;
    return (long)c->nrows - 1;
}

/* extra.history.metrics.<metric>: what a history baseline says about one metric. */
static json_t *history_info(const ab_result *r, const char *metric)
{
    if (!r || !r->extra || !metric)
        return NULL;
    json_t *h = json_object_get(r->extra, "history");
    return json_object_get(json_object_get(h, "metrics"), metric);
}

static double peak_fraction(const ab_result *r, const ab_metric *m, double value)
{
    json_t *pk = r->extra ? json_object_get(r->extra, "peak") : NULL;
    if (!json_is_object(pk))
        return NAN;
    const char *pm = json_string_value(json_object_get(pk, "metric"));
    double pv = json_number_value(json_object_get(pk, "value"));
    if (!pm || strcmp(pm, m->name) != 0 || !(pv > 0) || !isfinite(value))
        return NAN;
    return value / pv;
}

static void fill_cell(ab_cmp_cell *cell, const ab_result *r, const ab_metric *m)
{
    cell->r = r;
    cell->m = m;
    if (!m)
        return;
    cell->value = m->stats.median;
    json_t *h = history_info(r, m->name);
    json_t *hm = json_object_get(h, "median");
    if (json_is_number(hm))
        cell->value = json_number_value(hm);
    if (!isfinite(cell->value))
        cell->value = ab_median(m->samples, m->nsamples);
    cell->peak_fraction = peak_fraction(r, m, cell->value);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool comparable(const ab_cmp_cell *a, const ab_cmp_cell *b)
{
    return a->r && b->r && a->m && b->m && a->r->status == AB_PASS && b->r->status == AB_PASS &&
           a->value > 0 && b->value > 0 && isfinite(a->value) && isfinite(b->value);
}

/* Between-run noise of run j against the first run, per device model: the robust spread of the
 * log ratios over all aligned metrics of that model. Only for identical models: across models
 * the ratios are real differences, not noise. */
static int measure_noise(ab_cmp *c, size_t j)
{
    size_t start = c->nnoise;
    for (size_t i = 0; i < c->nrows; i++) {
        ab_cmp_cell *a = &c->rows[i].cells[0], *b = &c->rows[i].cells[j];
        if (!comparable(a, b) || !a->r->device_name || !b->r->device_name ||
            strcmp(a->r->device_name, b->r->device_name) != 0)
            continue;
        bool seen = false;
        for (size_t k = start; k < c->nnoise && !seen; k++)
            seen = strcmp(c->noise[k].model, a->r->device_name) == 0;
        if (seen)
            continue;
        ab_cmp_noise *v = realloc(c->noise, (c->nnoise + 1) * sizeof(*v));
        if (!v)
            return -1;
        c->noise = v;
        ab_cmp_noise *nz = &c->noise[c->nnoise++];
        memset(nz, 0, sizeof(*nz));
        nz->run = j;
        nz->model = ab_strdup(a->r->device_name);
        nz->sigma = nz->shift = NAN;
        double *lr = malloc(c->nrows * sizeof(*lr));
        if (!lr || !nz->model) {
            free(lr);
            return -1;
        }
        size_t n = 0;
        for (size_t r = i; r < c->nrows; r++) {
            ab_cmp_cell *x = &c->rows[r].cells[0], *y = &c->rows[r].cells[j];
            if (comparable(x, y) && x->r->device_name && y->r->device_name &&
                strcmp(x->r->device_name, nz->model) == 0 &&
                strcmp(y->r->device_name, nz->model) == 0)
                lr[n++] = log(y->value / x->value);
        }
        nz->n = n;
        if (n) {
            nz->shift = ab_median(lr, n);
            if (n >= AB_CMP_MIN_NOISE_METRICS) {
                /* Two estimates of sigma that agree for normal noise: the scaled MAD (robust to
                 * half the metrics having really changed) and the 90th percentile of the absolute
                 * deviations / 1.645 (robust to a tenth). The larger applies: a shared machine's
                 * noise has heavier tails than the normal law the factor k assumes, and the
                 * percentile sees them where the MAD does not. */
                for (size_t k = 0; k < n; k++)
                    lr[k] = fabs(lr[k] - nz->shift);
                qsort(lr, n, sizeof(*lr), cmp_dbl);
                double mad = 1.4826 * ab_quantile_sorted(lr, n, 0.5);
                double q90 = ab_quantile_sorted(lr, n, 0.9) / 1.6449;
                nz->sigma = mad > q90 ? mad : q90;
            }
        }
        free(lr);
    }
    return 0;
}

static const ab_cmp_noise *noise_for(const ab_cmp *c, size_t j, const char *model)
{
    for (size_t k = 0; k < c->nnoise; k++)
        if (c->noise[k].run == j && model && strcmp(c->noise[k].model, model) == 0)
            return &c->noise[k];
    return NULL;
}

static void judge(const ab_cmp *c, const ab_cmp_row *row, size_t j)
{
    const ab_cmp_opts *o = &c->opts;
    ab_cmp_cell *b = &row->cells[0], *x = &row->cells[j];
    x->verdict = AB_V_NA;
    if (!x->r) {
        snprintf(x->note, sizeof(x->note), "not in this run");
        return;
    }
    if (!b->r) {
        snprintf(x->note, sizeof(x->note), "not in %s", c->labels[0]);
        return;
    }
    if (x->r->status != AB_PASS) {
        snprintf(x->note, sizeof(x->note), "%s%s%s", ab_status_name(x->r->status),
                 x->r->reason ? ": " : "", x->r->reason ? x->r->reason : "");
        return;
    }
    if (b->r->status != AB_PASS) {
        snprintf(x->note, sizeof(x->note), "%s in %s", ab_status_name(b->r->status),
                 c->labels[0]);
        return;
    }
    if (!x->m || !b->m) {
        snprintf(x->note, sizeof(x->note), "metric not measured in %s",
                 x->m ? c->labels[0] : "this run");
        return;
    }
    if (!comparable(b, x)) {
        snprintf(x->note, sizeof(x->note), "no positive median to compare");
        return;
    }
    x->ratio = x->value / b->value;
    x->effect = log(x->ratio) * (row->higher_is_better ? 1.0 : -1.0);

    /* the noise between runs: the larger of what the baseline's history and the spread across
     * this comparison's metrics say */
    double sigma = NAN;
    const char *src = NULL;
    json_t *h = history_info(b->r, b->m->name);
    double hs = json_number_value(json_object_get(h, "sigma_log"));
    if (json_is_number(json_object_get(h, "sigma_log")) && isfinite(hs) && hs >= 0) {
        sigma = hs;
        src = "history";
    }
    const ab_cmp_noise *nz = noise_for(c, j, b->r->device_name);
    if (nz && isfinite(nz->sigma) && x->r->device_name && b->r->device_name &&
        strcmp(x->r->device_name, b->r->device_name) == 0 && !(nz->sigma <= sigma)) {
        sigma = nz->sigma;
        src = "runs";
    }
    x->noise = sigma;
    x->noise_src = src;
    double thr = o->threshold;
    if (isfinite(sigma) && expm1(o->noise_k * sigma) > thr)
        thr = expm1(o->noise_k * sigma);
    x->threshold = thr;
    double lim = log1p(thr);

    bool significant = true;
    const char *why = NULL;
    if (!b->m->nsamples || !x->m->nsamples) {
        why = "no samples: decided on the effect alone";
    } else if (ab_mwu_test(b->m->samples, b->m->nsamples, x->m->samples, x->m->nsamples,
                           &x->test) != 0) {
        why = "U test not possible: decided on the effect alone";
    } else if (ab_mwu_min_p(b->m->nsamples, x->m->nsamples) >= o->alpha) {
        /* the rank test cannot reach the level with so few samples: it would call every change
         * "same", which is no check at all */
        why = "too few samples for the U test: decided on the effect alone";
    } else {
        significant = x->test.p < o->alpha;
    }
    if (significant && x->effect < -lim)
        x->verdict = AB_V_WORSE;
    else if (significant && x->effect > lim)
        x->verdict = AB_V_BETTER;
    else
        x->verdict = AB_V_SAME;
    if (why)
        snprintf(x->note, sizeof(x->note), "%s", why);
    else if (x->verdict == AB_V_SAME && fabs(x->effect) > lim)
        snprintf(x->note, sizeof(x->note), "change not significant (p = %.2g)", x->test.p);
    else if (x->verdict == AB_V_SAME && significant && fabs(x->effect) > log1p(1e-3))
        snprintf(x->note, sizeof(x->note), "significant (p = %.2g) but within the minimum "
                 "effect of %.1f%%", x->test.p, 100.0 * thr);
}

/* the labels of the runs: the run id, with "#2", "#3" for a repeated id */
static int make_labels(ab_cmp *c, ab_run *const *runs, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        const char *id = runs[j]->id ? runs[j]->id : "run";
        size_t dup = 1;
        for (size_t k = 0; k < j; k++)
            dup += strcmp(runs[k]->id ? runs[k]->id : "run", id) == 0;
        c->labels[j] = dup > 1 ? ab_asprintf("%s#%zu", id, dup) : ab_strdup(id);
        if (!c->labels[j])
            return -1;
    }
    return 0;
}

/* result r of run j, under identity id, into the rows: pass 1 a row per metric, pass 2 (results
 * without metrics) the rows of its identity or a row of its own */
static int place_result(ab_cmp *c, index_t *ix, size_t *cap, size_t j, const ab_result *r,
                        const char *id, int pass)
{
    if (pass == 1) {
        for (size_t m = 0; m < r->nmetrics; m++) {
            const ab_metric *mt = &r->metrics[m];
            long row = index_find(ix, c, id, mt->name);
            if (row < 0 && (row = add_row(c, ix, cap, id, r, mt)) < 0)
                return -1;
            if (!c->rows[row].cells[j].r)
                fill_cell(&c->rows[row].cells[j], r, mt);
            c->rows[row].headline |= r->headline;
        }
    } else if (!r->nmetrics) {
        bool any = false;
        for (size_t k = 0; k < c->nrows; k++)
            if (strcmp(c->rows[k].ident, id) == 0) {
                any = true;
                if (!c->rows[k].cells[j].r)
                    c->rows[k].cells[j].r = r;
            }
        if (!any) {
            long row = index_find(ix, c, id, NULL);
            if (row < 0 && (row = add_row(c, ix, cap, id, r, NULL)) < 0)
                return -1;
            if (!c->rows[row].cells[j].r)
                c->rows[row].cells[j].r = r;
        }
    }
    return 0;
}

/* one pass over the results of run j */
static int place_run(ab_cmp *c, index_t *ix, size_t *cap, size_t j, int pass)
{
    const ab_cmp_opts *o = &c->opts;
    const ab_run *run = c->runs[j];
    char **seen = calloc(run->nresults ? run->nresults : 1, sizeof(*seen));
    if (!seen)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < run->nresults && rc == 0; i++) {
        const ab_result *r = run->results[i];
        if ((o->headline_only || o->align == AB_ALIGN_HEADLINE) && !r->headline)
            continue;
        char *id = identity(r, o->align);
        if (!id) {
            rc = -1;
            break;
        }
        /* the same identity twice in one run (several GPUs of one model): the later ones
         * are told apart by their device id */
        for (size_t k = 0; k < i; k++)
            if (seen[k] && strcmp(seen[k], id) == 0) {
                char *d = ab_asprintf("%s@%s", id, r->device ? r->device : "?");
                free(id);
                id = d;
                break;
            }
        seen[i] = id;
        if (!id || place_result(c, ix, cap, j, r, id, pass) != 0)
            rc = -1;
    }
    for (size_t k = 0; k < run->nresults; k++)
        free(seen[k]);
    free(seen);
    return rc;
}

int ab_compare(ab_run *const *runs, size_t n, const ab_cmp_opts *o, ab_cmp *c, char *err)
{
    memset(c, 0, sizeof(*c));
    if (!n)
        return ab_err(err, "no runs to compare");
    c->opts = *o;
    c->nruns = n;
    c->runs = runs;
    c->labels = calloc(n, sizeof(*c->labels));
    c->counts = calloc(n, sizeof(*c->counts));
    if (!c->labels || !c->counts || make_labels(c, runs, n) != 0)
        goto oom;
    index_t ix = {NULL, 0};
    size_t cap = 0;
    /* pass 1: a row per (identity, metric) of every result that carries metrics; pass 2: results
     * without metrics (skips, failures) join the rows of their identity */
    for (int pass = 1; pass <= 2; pass++)
        for (size_t j = 0; j < n; j++)
            if (place_run(c, &ix, &cap, j, pass) != 0) {
                free(ix.slot);
                goto oom;
            }
    free(ix.slot);
    for (size_t j = 1; j < n; j++)
        if (measure_noise(c, j) != 0)
            goto oom;
    for (size_t i = 0; i < c->nrows; i++) {
        ab_cmp_row *row = &c->rows[i];
        for (size_t j = 1; j < n; j++) {
            judge(c, row, j);
            c->counts[j][row->cells[j].verdict]++;
            if (row->headline && row->cells[j].verdict == AB_V_WORSE)
                c->worse_headline++;
        }
    }
    return 0;
oom:
    ab_cmp_free(c);
    return ab_err(err, "out of memory");
}

void ab_cmp_free(ab_cmp *c)
{
    for (size_t i = 0; i < c->nrows; i++) {
        free(c->rows[i].ident);
        free(c->rows[i].cells);
    }
    free(c->rows);
    for (size_t j = 0; c->labels && j < c->nruns; j++)
        free(c->labels[j]);
    free(c->labels);
    for (size_t k = 0; k < c->nnoise; k++)
        free(c->noise[k].model);
    free(c->noise);
    free(c->counts);
    memset(c, 0, sizeof(*c));
}

size_t ab_cmp_aligned(const ab_cmp *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nrows; i++) {
        size_t have = 0;
        for (size_t j = 0; j < c->nruns; j++)
            have += c->rows[i].cells[j].m != NULL;
        n += have >= 2;
    }
    return n;
}

char *ab_cmp_row_label(const ab_cmp_row *row)
{
    const ab_result *r = row->proto;
    char *p = ab_params_display(r->params);
    char *s = ab_asprintf("%s %s%s%s %s [%s]", r->key, r->impl ? r->impl : "", p && *p ? " " : "",
                          p ? p : "", row->metric ? row->metric : "-",
                          r->device_name ? r->device_name : (r->device ? r->device : "?"));
    free(p);
    return s;
}

/* ------------------------------------------------------------------ tables */

static bool row_changed(const ab_cmp *c, const ab_cmp_row *row)
{
    for (size_t j = 1; j < c->nruns; j++)
        if (row->cells[j].verdict == AB_V_BETTER || row->cells[j].verdict == AB_V_WORSE)
            return true;
    return false;
}

static void fmt_p(char *buf, size_t len, const ab_cmp_cell *x)
{
    if (x->test.method == AB_MWU_NONE || !isfinite(x->test.p))
        snprintf(buf, len, "-");
    else if (x->test.p < 0.001)
        snprintf(buf, len, "%.1e", x->test.p);
    else
        snprintf(buf, len, "%.3f", x->test.p);
}

size_t ab_cmp_grid_lead(ab_grid *g, const ab_cmp_row *row, const char *headline_mark)
{
    const ab_result *r = row->proto;
    char *p = ab_params_display(r->params);
    size_t col = 0;
    ab_grid_set(g, -1, col++, "%s", r->key);
    ab_grid_set(g, -1, col++, "%s", r->impl ? r->impl : "");
    ab_grid_set(g, -1, col++, "%s", p ? p : "");
    ab_grid_set(g, -1, col++, "%s", r->device_name ? r->device_name : r->device);
    ab_grid_set(g, -1, col++, "%s%s", row->metric ? row->metric : "-",
                row->headline ? headline_mark : "");
    free(p);
    return col;
}

void ab_cmp_grid_value(ab_grid *g, size_t *col, const ab_cmp_row *row, const ab_cmp_cell *x)
{
    char v[64] = "-";
    if (x->r && x->r->status != AB_PASS)
        snprintf(v, sizeof(v), "%s", ab_status_name(x->r->status));
    else if (x->m)
        ab_format_value(x->value, row->unit, v, sizeof(v));
    ab_grid_set(g, -1, (*col)++, "%s", v);
    if (isfinite(x->peak_fraction))
        ab_grid_set(g, -1, (*col)++, "%.1f%%", 100.0 * x->peak_fraction);
    else
        ab_grid_set(g, -1, (*col)++, "-");
}

static ab_grid *build_grid(const ab_cmp *c, bool changed_only)
{
    size_t ncols = 5 + 2 * c->nruns + 5 * (c->nruns - 1);
    char **titles = calloc(ncols, sizeof(*titles));
    if (!titles)
        return NULL;
    size_t k = 0;
    titles[k++] = ab_strdup("key");
    titles[k++] = ab_strdup("impl");
    titles[k++] = ab_strdup("params");
    titles[k++] = ab_strdup("device");
    titles[k++] = ab_strdup("metric");
    for (size_t j = 0; j < c->nruns; j++) {
        titles[k++] = ab_asprintf(">[%zu] value", j + 1);
        titles[k++] = ab_asprintf(">[%zu] %% peak", j + 1);
        if (j) {
            titles[k++] = ab_asprintf(">[%zu] ratio", j + 1);
            titles[k++] = ab_asprintf(">[%zu] change", j + 1);
            titles[k++] = ab_asprintf(">[%zu] p", j + 1);
            titles[k++] = ab_asprintf("[%zu] verdict", j + 1);
            titles[k++] = ab_asprintf(">[%zu] min effect", j + 1);
        }
    }
    ncols = k;
    ab_grid *g = ab_grid_new(ncols, (const char *const *)titles);
    for (size_t i = 0; i < ncols; i++)
        free(titles[i]);
    free(titles);
    if (!g)
        return NULL;
    for (size_t i = 0; i < c->nrows; i++) {
        const ab_cmp_row *row = &c->rows[i];
        if (changed_only && !row_changed(c, row))
            continue;
        if (ab_grid_add_row(g) < 0) {
            ab_grid_free(g);
            return NULL;
        }
        size_t col = ab_cmp_grid_lead(g, row, "*");
        const char *cls = NULL;
        for (size_t j = 0; j < c->nruns; j++) {
            const ab_cmp_cell *x = &row->cells[j];
            ab_cmp_grid_value(g, &col, row, x);
            if (!j)
                continue;
            if (isfinite(x->ratio)) {
                ab_grid_set(g, -1, col++, "%.3f×", x->ratio);
                ab_grid_set(g, -1, col++, "%+.1f%%", 100.0 * (x->ratio - 1.0));
            } else {
                ab_grid_set(g, -1, col++, "-");
                ab_grid_set(g, -1, col++, "-");
            }
            char pb[32];
            fmt_p(pb, sizeof(pb), x);
            ab_grid_set(g, -1, col++, "%s", pb);
            ab_grid_set(g, -1, col++, "%s", ab_verdict_name(x->verdict));
            if (x->verdict != AB_V_NA)
                ab_grid_set(g, -1, col++, "%.1f%%%s", 100.0 * x->threshold,
                            x->noise_src && x->threshold > c->opts.threshold
                                ? (strcmp(x->noise_src, "history") == 0 ? " (h)" : " (n)")
                                : "");
            else
                ab_grid_set(g, -1, col++, "-");
            if (x->verdict == AB_V_WORSE)
                cls = "worse";
            else if (x->verdict == AB_V_BETTER && !cls)
                cls = "better";
        }
        if (cls)
            ab_grid_row_class(g, -1, cls);
    }
    return g;
}

static void legend(const ab_cmp *c, FILE *f, bool md)
{
    for (size_t j = 0; j < c->nruns; j++) {
        const ab_run *run = c->runs[j];
        char ts[40] = "?";
        if (run->start_time > 0)
            ab_format_utc(run->start_time, ts, sizeof(ts));
        const char *host = json_string_value(json_object_get(run->host, "hostname"));
        fprintf(f, "%s[%zu] %s — %s, %s, profile %s, accelbench %s (%s)%s\n", md ? "- " : "", j + 1,
                c->labels[j], host ? host : "?", ts, run->profile ? run->profile : "?",
                run->version ? run->version : "?", run->git_commit ? run->git_commit : "?",
                run->complete ? "" : (run->interrupted ? " — INTERRUPTED" : " — incomplete"));
    }
}

void ab_cmp_write_summary(const ab_cmp *c, FILE *f, bool md)
{
    for (size_t j = 1; j < c->nruns; j++) {
        const size_t *n = c->counts[j];
        size_t judged = n[AB_V_SAME] + n[AB_V_BETTER] + n[AB_V_WORSE];
        fprintf(f, "%s[%zu] vs [1]: %zu compared: %zu same (%.0f%%), %zu better, %zu worse; %zu "
                   "n/a\n",
                md ? "- " : "", j + 1, judged, n[AB_V_SAME],
                judged ? 100.0 * (double)n[AB_V_SAME] / (double)judged : 0.0, n[AB_V_BETTER],
                n[AB_V_WORSE], n[AB_V_NA]);
        for (size_t k = 0; k < c->nnoise; k++) {
            const ab_cmp_noise *nz = &c->noise[k];
            if (nz->run != j)
                continue;
            fprintf(f, "%s%s: ", md ? "  - " : "  ", nz->model);
            if (isfinite(nz->sigma))
                fprintf(f, "noise between the runs ±%.1f%% (robust spread over %zu metrics), "
                           "so the minimum effect is %.1f%%; ",
                        100.0 * expm1(nz->sigma), nz->n,
                        100.0 * fmax(c->opts.threshold, expm1(c->opts.noise_k * nz->sigma)));
            else
                fprintf(f, "noise between the runs unknown (%zu metrics, %d needed): minimum "
                           "effect %.1f%%; ",
                        nz->n, AB_CMP_MIN_NOISE_METRICS, 100.0 * c->opts.threshold);
            fprintf(f, "run-wide shift %+.1f%%", 100.0 * expm1(nz->shift));
            double lim = fmax(c->opts.threshold,
                              isfinite(nz->sigma) ? expm1(c->opts.noise_k * nz->sigma) : 0.0);
            if (fabs(nz->shift) > log1p(fmax(lim, c->opts.threshold)))
                fputs(" — the whole run moved: the machine was busier or quieter, or a change "
                      "affects everything",
                      f);
            fputc('\n', f);
        }
    }
}

int ab_cmp_write_table(const ab_cmp *c, FILE *f, bool changed_only)
{
    ab_grid *g = build_grid(c, changed_only);
    if (!g)
        return -1;
    legend(c, f, false);
    fputc('\n', f);
    ab_grid_drop_empty_columns(g);
    int rc = ab_grid_write_text(g, f);
    ab_grid_free(g);
    fputs("\n* headline figure; min effect: the smallest change called better/worse, "
          "(n) raised by the noise between the runs, (h) by the baseline's history\n",
          f);
    ab_cmp_write_summary(c, f, false);
    return rc || ferror(f) ? -1 : 0;
}

int ab_cmp_write_markdown(const ab_cmp *c, FILE *f, bool changed_only)
{
    ab_grid *g = build_grid(c, changed_only);
    if (!g)
        return -1;
    fputs("# accelbench compare\n\n", f);
    legend(c, f, true);
    fputc('\n', f);
    ab_grid_drop_empty_columns(g);
    int rc = ab_grid_write_markdown(g, f);
    ab_grid_free(g);
    fputs("\n\\* headline figure; min effect: the smallest change called better/worse, "
          "(n) raised by the noise between the runs, (h) by the baseline's history\n\n",
          f);
    ab_cmp_write_summary(c, f, true);
    return rc || ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------------ CSV, JSON */

static const char *test_name(ab_mwu_method m)
{
    return m == AB_MWU_EXACT ? "exact" : m == AB_MWU_NORMAL ? "normal" : "";
}

int ab_cmp_write_csv(const ab_cmp *c, FILE *f)
{
    fputs("run_index,run_id,key,impl,params,device_name,metric,unit,direction,headline,status,"
          "value,n,peak_fraction,ratio,p,test,effect_log,noise_log,noise_source,min_effect,"
          "verdict,note\n",
          f);
    for (size_t i = 0; i < c->nrows; i++) {
        const ab_cmp_row *row = &c->rows[i];
        const ab_result *r = row->proto;
        char *p = ab_params_brief(r->params);
        for (size_t j = 0; j < c->nruns; j++) {
            const ab_cmp_cell *x = &row->cells[j];
            fprintf(f, "%zu,", j + 1);
            ab_csv_cell(f, c->labels[j]);
            fputc(',', f);
            ab_csv_cell(f, r->key);
            fputc(',', f);
            ab_csv_cell(f, r->impl);
            fputc(',', f);
            ab_csv_cell(f, p);
            fputc(',', f);
            ab_csv_cell(f, r->device_name);
            fputc(',', f);
            ab_csv_cell(f, row->metric);
            fputc(',', f);
            ab_csv_cell(f, row->unit);
            fprintf(f, ",%s,%s,", row->higher_is_better ? "higher" : "lower",
                    row->headline ? "true" : "false");
            ab_csv_cell(f, x->r ? ab_status_name(x->r->status) : "absent");
            fputc(',', f);
            ab_csv_num(f, x->value);
            fputc(',', f);
            if (x->m)
                fprintf(f, "%zu", x->m->nsamples);
            fputc(',', f);
            ab_csv_num(f, x->peak_fraction);
            fputc(',', f);
            ab_csv_num(f, x->ratio);
            fputc(',', f);
            ab_csv_num(f, x->test.p);
            fprintf(f, ",%s,", test_name(x->test.method));
            ab_csv_num(f, x->effect);
            fputc(',', f);
            ab_csv_num(f, x->noise);
            fputc(',', f);
            ab_csv_cell(f, x->noise_src);
            fputc(',', f);
            if (j && x->verdict != AB_V_NA)
                ab_csv_num(f, x->threshold);
            fputc(',', f);
            ab_csv_cell(f, j ? ab_verdict_name(x->verdict) : "");
            fputc(',', f);
            ab_csv_cell(f, x->note);
            fputc('\n', f);
        }
        free(p);
    }
    return ferror(f) ? -1 : 0;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_opts(const ab_cmp *c)
{
    json_t *opt = json_object();
    json_object_set_new(opt, "threshold", json_real(c->opts.threshold));
    json_object_set_new(opt, "alpha", json_real(c->opts.alpha));
    json_object_set_new(opt, "noise_k", json_real(c->opts.noise_k));
    json_object_set_new(opt, "align", json_string(ab_align_name(c->opts.align)));
    json_object_set_new(opt, "headline_only", json_boolean(c->opts.headline_only));
    return opt;
}

static json_t *json_runs(const ab_cmp *c)
{
    json_t *runs = json_array();
    for (size_t j = 0; j < c->nruns; j++) {
        const ab_run *run = c->runs[j];
        json_t *ro = json_object();
        json_object_set_new(ro, "label", json_string(c->labels[j]));
        json_object_set_new(ro, "id", run->id ? json_string(run->id) : json_null());
        json_object_set_new(ro, "start_epoch", num_or_null(run->start_time));
        json_object_set_new(ro, "profile", run->profile ? json_string(run->profile) : json_null());
        json_object_set_new(ro, "git_commit",
                            run->git_commit ? json_string(run->git_commit) : json_null());
        json_object_set(ro, "hostname", json_object_get(run->host, "hostname")
                                            ? json_object_get(run->host, "hostname")
                                            : json_null());
        json_object_set_new(ro, "complete", json_boolean(run->complete));
        if (j) {
            json_t *cnt = json_object();
            for (int v = 0; v < 4; v++)
                json_object_set_new(cnt, ab_verdict_name((ab_verdict)v),
                                    json_integer((json_int_t)c->counts[j][v]));
            json_object_set_new(ro, "verdicts", cnt);
        }
        json_array_append_new(runs, ro);
    }
    return runs;
}

static json_t *json_noise(const ab_cmp *c)
{
    json_t *noise = json_array();
    for (size_t k = 0; k < c->nnoise; k++) {
        json_t *no = json_object();
        json_object_set_new(no, "run", json_integer((json_int_t)c->noise[k].run + 1));
        json_object_set_new(no, "device_name", json_string(c->noise[k].model));
        json_object_set_new(no, "metrics", json_integer((json_int_t)c->noise[k].n));
        json_object_set_new(no, "sigma_log", num_or_null(c->noise[k].sigma));
        json_object_set_new(no, "shift_log", num_or_null(c->noise[k].shift));
        json_array_append_new(noise, no);
    }
    return noise;
}

/* the cell of run j (j > 0 adds the comparison with the baseline) */
static json_t *json_cell(const ab_cmp_cell *x, size_t j)
{
    json_t *co = json_object();
    json_object_set_new(co, "status", json_string(x->r ? ab_status_name(x->r->status) : "absent"));
    json_object_set_new(co, "device", x->r && x->r->device ? json_string(x->r->device)
                                                           : json_null());
    json_object_set_new(co, "value", num_or_null(x->value));
    json_object_set_new(co, "n", json_integer(x->m ? (json_int_t)x->m->nsamples : 0));
    json_object_set_new(co, "cv", num_or_null(x->m ? x->m->stats.cv : NAN));
    json_object_set_new(co, "peak_fraction", num_or_null(x->peak_fraction));
    if (j) {
        json_object_set_new(co, "ratio", num_or_null(x->ratio));
        json_object_set_new(co, "p", num_or_null(x->test.p));
        json_object_set_new(co, "test", x->test.method == AB_MWU_NONE
                                            ? json_null()
                                            : json_string(test_name(x->test.method)));
        json_object_set_new(co, "u", x->test.method == AB_MWU_NONE
                                         ? json_null()
                                         : json_real(x->test.u2));
        json_object_set_new(co, "effect_log", num_or_null(x->effect));
        json_object_set_new(co, "noise_log", num_or_null(x->noise));
        json_object_set_new(co, "noise_source",
                            x->noise_src ? json_string(x->noise_src) : json_null());
        json_object_set_new(co, "min_effect",
                            x->verdict != AB_V_NA ? json_real(x->threshold) : json_null());
        json_object_set_new(co, "verdict", x->verdict != AB_V_NA
                                               ? json_string(ab_verdict_name(x->verdict))
                                               : json_null());
        json_object_set_new(co, "note", *x->note ? json_string(x->note) : json_null());
    }
    return co;
}

static json_t *json_row(const ab_cmp *c, const ab_cmp_row *row)
{
    const ab_result *r = row->proto;
    json_t *ro = json_object();
    json_object_set_new(ro, "suite", json_string(r->suite ? r->suite : ""));
    json_object_set_new(ro, "key", json_string(r->key ? r->key : ""));
    json_object_set_new(ro, "impl", r->impl ? json_string(r->impl) : json_null());
    json_object_set(ro, "params", r->params ? r->params : json_null());
    json_object_set_new(ro, "device_name",
                        r->device_name ? json_string(r->device_name) : json_null());
    json_object_set_new(ro, "identity", json_string(row->ident));
    json_object_set_new(ro, "metric", row->metric ? json_string(row->metric) : json_null());
    json_object_set_new(ro, "unit", row->unit ? json_string(row->unit) : json_null());
    json_object_set_new(ro, "direction", json_string(row->higher_is_better ? "higher" : "lower"));
    json_object_set_new(ro, "headline", json_boolean(row->headline));
    json_t *cells = json_array();
    for (size_t j = 0; j < c->nruns; j++)
        json_array_append_new(cells, json_cell(&row->cells[j], j));
    json_object_set_new(ro, "cells", cells);
    return ro;
}

json_t *ab_cmp_to_json(const ab_cmp *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema", json_string("accelbench.compare"));
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "options", json_opts(c));
    json_object_set_new(o, "runs", json_runs(c));
    json_object_set_new(o, "noise", json_noise(c));
    json_t *rows = json_array();
    for (size_t i = 0; i < c->nrows; i++)
        json_array_append_new(rows, json_row(c, &c->rows[i]));
    json_object_set_new(o, "rows", rows);
    return o;
}

/* ------------------------------------------------------------------ JUnit */

static char *describe(const ab_cmp *c, const ab_cmp_row *row, size_t j)
{
    const ab_cmp_cell *b = &row->cells[0], *x = &row->cells[j];
    char vb[64], vx[64];
    ab_format_value(b->value, row->unit ? row->unit : "", vb, sizeof(vb));
    ab_format_value(x->value, row->unit ? row->unit : "", vx, sizeof(vx));
    char pb[32];
    fmt_p(pb, sizeof(pb), x);
    char noise[96] = "noise between runs unknown";
    if (isfinite(x->noise))
        snprintf(noise, sizeof(noise), "noise ±%.1f%% (%s)", 100.0 * expm1(x->noise),
                 x->noise_src ? x->noise_src : "?");
    return ab_asprintf("%s: %s -> %s (%+.1f%%, %s is better), U test p = %s (alpha %.3g), "
                       "minimum effect %.1f%%, %s%s%s",
                       ab_verdict_name(x->verdict), vb, vx, 100.0 * (x->ratio - 1.0),
                       row->higher_is_better ? "higher" : "lower", pb, c->opts.alpha,
                       100.0 * x->threshold, noise, *x->note ? "; " : "", x->note);
}

/* JUnit counts of run j's cells in suite s (NULL: all): tests, failures, errors, skipped; *time
 * (if not NULL) the time spent */
static void junit_counts(const ab_cmp *c, size_t j, const char *s, size_t cnt[4], double *time)
{
    for (size_t i = 0; i < c->nrows; i++) {
        const ab_cmp_row *row = &c->rows[i];
        if (s && strcmp(row->proto->suite ? row->proto->suite : "?", s) != 0)
            continue;
        const ab_cmp_cell *x = &row->cells[j];
        cnt[0]++;
        if (x->verdict == AB_V_WORSE)
            cnt[1]++;
        else if (x->r && (x->r->status == AB_FAIL || x->r->status == AB_ERROR))
            cnt[2]++;
        else if (x->verdict == AB_V_NA)
            cnt[3]++;
        if (time && x->r && isfinite(x->r->time_spent))
            *time += x->r->time_spent;
    }
}

/* the <testsuite> start tag and its <properties> */
static void junit_suite_head(const ab_cmp *c, size_t j, const char *suite, const char *ts,
                             const char *host, FILE *f)
{
    size_t cnt[4] = {0, 0, 0, 0};
    double time = 0.0;
    junit_counts(c, j, suite, cnt, &time);
    fputs("  <testsuite name=\"accelbench.", f);
    ab_xml_escape(f, suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
            cnt[0], cnt[1], cnt[2], cnt[3], time);
    if (*ts)
        fprintf(f, " timestamp=\"%s\"", ts);
    fputs(" hostname=\"", f);
    ab_xml_escape(f, host ? host : "unknown");
    fputs("\">\n    <properties>\n", f);
    const char *props[][2] = {{"baseline", c->labels[0]}, {"run", c->labels[j]},
                              {"align", ab_align_name(c->opts.align)}};
    for (size_t k = 0; k < 3; k++) {
        fputs("      <property name=\"", f);
        ab_xml_escape(f, props[k][0]);
        fputs("\" value=\"", f);
        ab_xml_escape(f, props[k][1]);
        fputs("\"/>\n", f);
    }
    fprintf(f, "      <property name=\"threshold\" value=\"%g\"/>\n"
               "      <property name=\"alpha\" value=\"%g\"/>\n"
               "      <property name=\"noise_k\" value=\"%g\"/>\n    </properties>\n",
            c->opts.threshold, c->opts.alpha, c->opts.noise_k);
}

/* the <testcase> of row's cell of run j */
static void junit_case(const ab_cmp *c, const ab_cmp_row *row, size_t j, FILE *f)
{
    const ab_result *r = row->proto;
    const ab_cmp_cell *x = &row->cells[j];
    char *cls = ab_asprintf("%s.%s", r->key, r->impl ? r->impl : "default");
    char *p = ab_params_display(r->params);
    char *name = ab_asprintf("%s%s%s [%s]", row->metric ? row->metric : "result",
                             p && *p ? " " : "", p ? p : "",
                             r->device_name ? r->device_name : (r->device ? r->device : "?"));
    free(p);
    fputs("    <testcase classname=\"", f);
    ab_xml_escape(f, cls);
    fputs("\" name=\"", f);
    ab_xml_escape(f, name);
    fprintf(f, "\" time=\"%.3f\"", x->r && isfinite(x->r->time_spent) ? x->r->time_spent : 0.0);
    free(cls);
    free(name);
    char *d = x->verdict != AB_V_NA ? describe(c, row, j) : NULL;
    if (x->verdict == AB_V_WORSE) {
        fputs(">\n      <failure type=\"regression\" message=\"", f);
        ab_xml_escape(f, d);
        fputs("\"/>\n    </testcase>\n", f);
    } else if (x->r && (x->r->status == AB_FAIL || x->r->status == AB_ERROR)) {
        fputs(">\n      <error type=\"", f);
        fputs(ab_status_name(x->r->status), f);
        fputs("\" message=\"", f);
        ab_xml_escape(f, x->note);
        fputs("\"/>\n    </testcase>\n", f);
    } else if (x->verdict == AB_V_NA) {
        fputs(">\n      <skipped message=\"", f);
        ab_xml_escape(f, x->note);
        fputs("\"/>\n    </testcase>\n", f);
    } else {
        fputs(">\n      <system-out>", f);
        ab_xml_escape(f, d);
        fputs("</system-out>\n    </testcase>\n", f);
    }
    free(d);
}

int ab_cmp_write_junit(const ab_cmp *c, size_t j, FILE *f)
{
    if (j == 0 || j >= c->nruns)
        return -1;
    const ab_run *run = c->runs[j];
    /* one <testsuite> per suite name, in order of first appearance */
    size_t nsuites = 0;
    const char **suites = calloc(c->nrows ? c->nrows : 1, sizeof(*suites));
    if (!suites)
        return -1;
    for (size_t i = 0; i < c->nrows; i++) {
        const char *s = c->rows[i].proto->suite ? c->rows[i].proto->suite : "?";
        bool seen = false;
        for (size_t k = 0; k < nsuites && !seen; k++)
            seen = strcmp(suites[k], s) == 0;
        if (!seen)
            suites[nsuites++] = s;
    }
    size_t tot[4] = {0, 0, 0, 0}; /* tests, failures, errors, skipped */
    junit_counts(c, j, NULL, tot, NULL);
    char ts[40] = "";
    if (run->start_time > 0) {
        ab_format_utc(run->start_time, ts, sizeof(ts));
        char *dot = strchr(ts, '.');
        if (dot) /* JUnit's schema wants xs:dateTime without a zone */
            *dot = '\0';
    }
    const char *host = json_string_value(json_object_get(run->host, "hostname"));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<testsuites name=\"accelbench gate\" tests=\"%zu\" failures=\"%zu\" "
               "errors=\"%zu\" skipped=\"%zu\">\n",
            tot[0], tot[1], tot[2], tot[3]);
    for (size_t s = 0; s < nsuites; s++) {
        junit_suite_head(c, j, suites[s], ts, host, f);
        for (size_t i = 0; i < c->nrows; i++) {
            const ab_cmp_row *row = &c->rows[i];
            if (strcmp(row->proto->suite ? row->proto->suite : "?", suites[s]) == 0)
                junit_case(c, row, j, f);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    free(suites);
    return ferror(f) ? -1 : 0;
}
