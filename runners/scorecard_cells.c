/* SPDX-License-Identifier: MIT */
/* The scorecard's cells, from the results of one device (scorecard.h): the table is built in
 * scorecard.c, written in scorecard_write.c. The figures are picked by suite, key, metric and extra
 * names only. */
#include "scorecard_cells.h"

#include "../core/ab.h"
#include "output.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const ab_run *run;
    const char *dev;
    const char *who; /* what notes start with: "cpu" or, across runs, "RUN-ID cpu" */
} sc_dev;

typedef bool (*sc_filter)(const ab_result *r);
typedef double (*sc_score)(const ab_result *r);

static void cell_set(ab_sc_cell *c, bool missing, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cell_set(ab_sc_cell *c, bool missing, const char *text, const char *fmt, ...)
{
    free(c->text);
    free(c->note);
    c->text = ab_strdup(text);
    c->note = NULL;
    c->missing = missing;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&c->note, fmt, ap) < 0) c->note = NULL;
        va_end(ap);
    }
}

static const char *dflt(const char *s, const char *d)
{
    return s ? s : d;
}

static const char *str_at(const json_t *o, const char *path)
{
    char p[128];
    ab_strlcpy(p, path, sizeof(p));
    const json_t *v = o;
    for (char *save = NULL, *t = strtok_r(p, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
        v = json_object_get(v, t);
    return json_string_value(v);
}

static double num_at(const json_t *o, const char *path)
{
    char p[128];
    ab_strlcpy(p, path, sizeof(p));
    const json_t *v = o;
    for (char *save = NULL, *t = strtok_r(p, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
        v = json_object_get(v, t);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double median_of(const ab_result *r, const char *metric)
{
    const ab_metric *m = ab_result_metric(r, metric);
    return m ? m->stats.median : NAN;
}

/* "cpu membw.triad ordinary (dtype=f64 working_set=1 GiB)": a note names the device (and the
 * run), so that equal notes of different rows stay apart */
static char *describe(const sc_dev *d, const ab_result *r)
{
    char *p = ab_params_display(r->params);
    char *s = ab_asprintf("%s %s %s%s%s%s", d->who, r->key ? r->key : "?", r->impl ? r->impl : "?",
                          p && *p ? " (" : "", p && *p ? p : "", p && *p ? ")" : "");
    free(p);
    return s;
}

static bool on_device(const sc_dev *d, const ab_result *r)
{
    return r->device && strcmp(r->device, d->dev) == 0;
}

/* The passing result of the device that f accepts with the best finite score. */
static const ab_result *pick(const sc_dev *d, sc_filter f, sc_score score, bool maximize)
{
    const ab_result *best = NULL;
    double bv = NAN;
    for (size_t i = 0; i < d->run->nresults; i++) {
        const ab_result *r = d->run->results[i];
        if (!on_device(d, r) || r->status != AB_PASS || !f(r)) continue;
        double v = score(r);
        if (!isfinite(v)) continue;
        if (!best || (maximize ? v > bv : v < bv)) best = r, bv = v;
    }
    return best;
}

/* Why f has no figure on the device: no result at all ("not run"), else the worst status among
 * them with its reason, else (passing results without the figure) `word` and `why`. */
static void absent(ab_sc_cell *c, const sc_dev *d, sc_filter f, const char *what, const char *word,
                   const char *why)
{
    const ab_result *worst = NULL;
    static const int rank[] = {[AB_PASS] = 0, [AB_SKIP] = 1, [AB_ERROR] = 2, [AB_FAIL] = 3};
    for (size_t i = 0; i < d->run->nresults; i++) {
        const ab_result *r = d->run->results[i];
        if (on_device(d, r) && f(r) && (!worst || rank[r->status] > rank[worst->status])) worst = r;
    }
    if (!worst) {
        cell_set(c, true, "not run", "%s: no %s result", d->who, what);
        return;
    }
    if (worst->status == AB_PASS) {
        cell_set(c, true, word, "%s: %s", d->who, why);
        return;
    }
    static const char *const words[] = {
        [AB_SKIP] = "skipped", [AB_ERROR] = "error", [AB_FAIL] = "failed"};
    char *desc = describe(d, worst);
    cell_set(c, true, words[worst->status], "%s: %s", desc,
             worst->reason ? worst->reason : "no reason recorded");
    free(desc);
}

/* " (67% of datasheet 4.80 TB/s)" and the peak's source, when extra.peak bounds `metric` */
static void peak_text(const ab_result *r, const char *metric, char *pct, size_t plen, char *src,
                      size_t slen)
{
    *pct = *src = '\0';
    const json_t *pk = json_object_get(r->extra, "peak");
    const char *pm = json_string_value(json_object_get(pk, "metric"));
    double v = num_at(pk, "value");
    if (!pm || strcmp(pm, metric) != 0 || !(v > 0)) return;
    char vb[48];
    ab_format_value(v, dflt(json_string_value(json_object_get(pk, "unit")), ""), vb, sizeof(vb));
    snprintf(pct, plen, " (%.0f%%)", 100.0 * median_of(r, metric) / v);
    snprintf(src, slen, "; datasheet %s (%s, %s, accessed %s)", vb, dflt(str_at(pk, "model"), "?"),
             dflt(str_at(pk, "source"), "?"), dflt(str_at(pk, "accessed"), "?"));
}

/* ---- the device and the machine ---- */

static const json_t *device_desc(const sc_dev *d)
{
    size_t i;
    json_t *v;
    json_array_foreach(d->run->devices, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id && strcmp(id, d->dev) == 0) return v;
    }
    return NULL;
}

static void accel_cell(ab_sc_cell *c, const sc_dev *d, const char *name)
{
    const json_t *dv = device_desc(d);
    double mem = num_at(dv, "memory_bytes");
    char mb[32] = "";
    if (mem > 0) ab_format_bytes((uint64_t)mem, mb, sizeof(mb));
    const char *drv = str_at(dv, "driver");
    cell_set(c, false, "", "device %s: %s%s%s, backend %s%s%s", d->dev, name ? name : "?",
             *mb ? ", memory " : "", mb, dflt(str_at(dv, "backend"), "?"), drv ? ", driver " : "",
             drv ? drv : "");
    free(c->text);
    c->text = ab_asprintf("%s%s%s%s", name ? name : "?", *mb ? " (" : "", mb, *mb ? ")" : "");
    if (!dv) {
        free(c->note);
        c->note = ab_asprintf("device %s is not among the run's devices[]; the name is the "
                              "results' device_name",
                              d->dev);
    }
}

static void instance_cell(ab_sc_cell *c, const sc_dev *d)
{
    const json_t *cl = json_object_get(d->run->manifest, "cloud");
    const json_t *pf = json_object_get(cl, "provider");
    const char *prov = json_string_value(json_object_get(pf, "value"));
    const char *pst = json_string_value(json_object_get(pf, "status"));
    if (!cl || !pf) {
        cell_set(c, true, "unknown", "the run document has no manifest cloud section");
        return;
    }
    if (!prov || !pst || strcmp(pst, "ok") != 0) {
        cell_set(c, true, "unknown", "cloud provider: %s",
                 dflt(str_at(pf, "reason"), "not detected"));
        return;
    }
    if (strcmp(prov, "none") == 0) {
        cell_set(c, true, "none", "not a cloud instance: %s", dflt(str_at(pf, "source"), "?"));
        return;
    }
    const char *it = str_at(cl, "instance_type.value");
    const char *rg = str_at(cl, "region.value");
    char *text = ab_asprintf("%s %s%s%s%s", prov, it ? it : "(instance type unknown)",
                             rg ? " (" : "", rg ? rg : "", rg ? ")" : "");
    cell_set(c, false, text, "manifest cloud: provider from %s; instance type %s%s; region %s%s",
             dflt(str_at(pf, "source"), "?"), it ? "from " : "unknown: ",
             it ? dflt(str_at(cl, "instance_type.source"), "?")
                : dflt(str_at(cl, "instance_type.reason"), "?"),
             rg ? "from " : "unknown: ",
             rg ? dflt(str_at(cl, "region.source"), "?") : dflt(str_at(cl, "region.reason"), "?"));
    free(text);
}

/* ---- filters and scores ---- */

static bool is(const ab_result *r, const char *suite, const char *key)
{
    return r->suite && strcmp(r->suite, suite) == 0 && (!key || (r->key && !strcmp(r->key, key)));
}

/* device-memory kernels: not the host/peer transfers */
static bool f_membw(const ab_result *r)
{
    return is(r, "membw", NULL) && r->key &&
           !(strcmp(r->key, "membw.h2d") == 0 || strcmp(r->key, "membw.d2h") == 0 ||
             strcmp(r->key, "membw.d2d") == 0);
}
static bool f_membw_headline(const ab_result *r)
{
    return f_membw(r) && r->headline;
}
static bool f_gemm(const ab_result *r)
{
    return is(r, "gemm", NULL);
}
static bool f_gemm_bf16(const ab_result *r)
{
    const char *dt = json_string_value(json_object_get(r->params, "dtype"));
    return f_gemm(r) && dt && strcmp(dt, "bf16") == 0;
}
static bool f_attn_prefill(const ab_result *r)
{
    return is(r, "attention", "attention.prefill");
}
static bool f_attn_decode(const ab_result *r)
{
    return is(r, "attention", "attention.decode");
}
static bool f_decode(const ab_result *r)
{
    return is(r, "tokens", "tokens.decode");
}
static bool f_decode_b1(const ab_result *r)
{
    return f_decode(r) && json_integer_value(json_object_get(r->params, "batch")) == 1;
}
static bool f_tokens(const ab_result *r)
{
    return is(r, "tokens", NULL);
}
static bool f_train(const ab_result *r)
{
    return is(r, "train", NULL);
}

static double s_bandwidth(const ab_result *r)
{
    return median_of(r, "bandwidth");
}
static double s_flops(const ab_result *r)
{
    const ab_metric *m = ab_result_metric(r, "throughput");
    return m && strcmp(m->unit, "FLOP/s") == 0 ? m->stats.median : NAN;
}
/* the headline (best implementation of its group) first, then the run order: -index */
static double s_first_headline(const ab_result *r)
{
    return isfinite(median_of(r, "latency")) ? (r->headline ? 2.0 : 1.0) : NAN;
}
static double s_tok_s(const ab_result *r)
{
    return median_of(r, "tokens_per_s");
}
static double s_b1(const ab_result *r)
{
    return isfinite(median_of(r, "tpot")) && isfinite(s_tok_s(r)) ? 1.0 : NAN;
}
static double s_usd_mtok(const ab_result *r)
{
    return num_at(r->extra, "cost.usd_per_mtok");
}
static double s_kwh(const ab_result *r)
{
    return num_at(r->extra, "energy.tokens_per_kwh");
}
static double s_co2(const ab_result *r)
{
    return num_at(r->extra, "carbon.g_co2e_per_mtok");
}
static double s_price(const ab_result *r)
{
    return num_at(r->extra, "cost.usd_per_hour");
}

/* ---- the measured columns ---- */

static void stat_note(ab_sc_cell *c, const sc_dev *d, const ab_result *r, const char *metric,
                      const char *extra)
{
    char *desc = describe(d, r);
    const ab_metric *m = ab_result_metric(r, metric);
    free(c->note);
    c->note = ab_asprintf("%s: %s median of %zu samples%s", desc, metric, m ? m->nsamples : 0,
                          extra ? extra : "");
    free(desc);
}

static void rate_cell(ab_sc_cell *c, const sc_dev *d, const ab_result *r, const char *metric,
                      const char *unit, const char *suffix)
{
    char v[48], pct[32], src[512];
    ab_format_value(median_of(r, metric), unit, v, sizeof(v));
    peak_text(r, metric, pct, sizeof(pct), src, sizeof(src));
    char *t = ab_asprintf("%s%s%s", v, suffix ? suffix : "", pct);
    cell_set(c, false, t, NULL);
    free(t);
    stat_note(c, d, r, metric, *src ? src : "; no datasheet peak for this device");
}

static void membw_cell(ab_sc_cell *c, const sc_dev *d)
{
    const ab_result *r = pick(d, f_membw_headline, s_bandwidth, true);
    if (r)
        rate_cell(c, d, r, "bandwidth", "B/s", NULL);
    else
        absent(c, d, f_membw, "membw (device-memory kernel)", "unavailable",
               "no passing headline (largest working set) device-memory result");
}

static void gemm_cell(ab_sc_cell *c, const sc_dev *d)
{
    const ab_result *r = pick(d, f_gemm_bf16, s_flops, true);
    if (!r) r = pick(d, f_gemm, s_flops, true);
    if (!r) {
        absent(c, d, f_gemm, "gemm", "unavailable", "no passing floating-point GEMM result");
        return;
    }
    const char *dt = json_string_value(json_object_get(r->params, "dtype"));
    char sfx[40];
    snprintf(sfx, sizeof(sfx), " %s", dt ? dt : "");
    rate_cell(c, d, r, "throughput", "FLOP/s", sfx);
}

static void latency_cell(ab_sc_cell *c, const sc_dev *d, sc_filter f, const char *what)
{
    const ab_result *r = pick(d, f, s_first_headline, true);
    if (!r) {
        absent(c, d, f, what, "unavailable", "no passing result with a latency");
        return;
    }
    char v[48];
    ab_format_value(median_of(r, "latency"), "s", v, sizeof(v));
    cell_set(c, false, v, NULL);
    stat_note(c, d, r, "latency", r->headline ? " (the headline implementation)" : NULL);
}

static void decode_cell(ab_sc_cell *c, const sc_dev *d, bool best)
{
    const ab_result *r = best ? pick(d, f_decode, s_tok_s, true) : pick(d, f_decode_b1, s_b1, true);
    if (!r) {
        absent(c, d, best ? f_decode : f_decode_b1,
               best ? "tokens.decode" : "tokens.decode at batch 1", "unavailable",
               "no passing decode result with TPOT and tokens/s");
        return;
    }
    char tp[48];
    ab_format_value(median_of(r, "tpot"), "s", tp, sizeof(tp));
    json_int_t b = json_integer_value(json_object_get(r->params, "batch"));
    char *t = best ? ab_asprintf("b%lld: %.4g tok/s, TPOT %s", (long long)b, s_tok_s(r), tp)
                   : ab_asprintf("%.4g tok/s, TPOT %s", s_tok_s(r), tp);
    cell_set(c, false, t, NULL);
    free(t);
    stat_note(c, d, r, "tokens_per_s",
              "; TPOT p50: tpot median (seconds per decode step for the whole batch)");
}

/* counts and ratios: "6.40 M", "12.3 k", "67.49" */
static void count(double v, char *buf, size_t len)
{
    if (v >= 1e9)
        snprintf(buf, len, "%.2f G", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2f M", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.1f k", v / 1e3);
    else
        snprintf(buf, len, "%.4g", v);
}

static void usd(double v, char *buf, size_t len)
{
    snprintf(buf, len, v >= 100 ? "$%.0f" : v >= 1 ? "$%.2f" : "$%.3g", v);
}

/* A figure derived by the suite into extra (cost, energy, carbon) of the point `score` picks;
 * `obj` names the extra object whose source/date/formula/reason the note quotes. */
static void extra_cell(ab_sc_cell *c, const sc_dev *d, sc_filter f, sc_score score, bool maximize,
                       const char *what, const char *obj, const char *word)
{
    const ab_result *r = pick(d, f, score, maximize);
    if (!r) {
        /* the reason the suite recorded on its best point, else the statuses */
        const ab_result *any = pick(d, f, s_tok_s, true);
        char path[64];
        snprintf(path, sizeof(path), "%s.reason", obj);
        const char *why = any ? str_at(any->extra, path) : NULL;
        absent(c, d, f, what, word, why ? why : "the results record no such figure");
        return;
    }
    double v = score(r);
    char buf[48];
    if (strcmp(obj, "cost") == 0 && score != s_price)
        usd(v, buf, sizeof(buf));
    else if (score == s_price)
        snprintf(buf, sizeof(buf), "$%.2f", v);
    else
        count(v, buf, sizeof(buf));
    cell_set(c, false, buf, NULL);
    char *desc = describe(d, r), k1[64], k2[64], k3[64];
    snprintf(k1, sizeof(k1), "%s.source", obj);
    snprintf(k2, sizeof(k2), "%s.date", obj);
    snprintf(k3, sizeof(k3), "%s.formula", obj);
    const char *dt = str_at(r->extra, k2), *fm = str_at(r->extra, k3);
    free(c->note);
    c->note =
        ab_asprintf("%s: extra.%s from %s%s%s%s%s", desc, obj, dflt(str_at(r->extra, k1), "?"),
                    dt ? ", " : "", dt ? dt : "", fm ? "; " : "", fm ? fm : "");
    free(desc);
}

static bool f_priced(const ab_result *r)
{
    return f_tokens(r) || f_train(r);
}

void ab_sc_fill_row(ab_sc_row *row, const ab_run *run, const char *dev, const char *label,
                    const char *name, bool with_run)
{
    char *who = with_run ? ab_asprintf("%s %s", dflt(run->id, "?"), dev) : ab_strdup(dev);
    const sc_dev dd = {run, dev, who ? who : dev}, *d = &dd;
    cell_set(&row->cell[AB_SC_RUN], false, label, NULL);
    cell_set(&row->cell[AB_SC_DEVICE], false, d->dev, NULL);
    accel_cell(&row->cell[AB_SC_ACCEL], d, name);
    instance_cell(&row->cell[AB_SC_INSTANCE], d);
    extra_cell(&row->cell[AB_SC_PRICE], d, f_priced, s_price, true, "tokens or train", "cost",
               "no price");
    membw_cell(&row->cell[AB_SC_MEMBW], d);
    gemm_cell(&row->cell[AB_SC_GEMM], d);
    latency_cell(&row->cell[AB_SC_ATTN_PREFILL], d, f_attn_prefill, "attention.prefill");
    latency_cell(&row->cell[AB_SC_ATTN_DECODE], d, f_attn_decode, "attention.decode");
    decode_cell(&row->cell[AB_SC_DECODE_B1], d, false);
    decode_cell(&row->cell[AB_SC_DECODE_BEST], d, true);
    extra_cell(&row->cell[AB_SC_USD_INFER], d, f_decode, s_usd_mtok, false, "tokens.decode", "cost",
               "no price");
    extra_cell(&row->cell[AB_SC_USD_TRAIN], d, f_train, s_usd_mtok, false, "train", "cost",
               "no price");
    extra_cell(&row->cell[AB_SC_TOK_KWH], d, f_decode, s_kwh, true, "tokens.decode", "energy",
               "no energy");
    extra_cell(&row->cell[AB_SC_CO2], d, f_decode, s_co2, false, "tokens.decode", "carbon",
               "unavailable");
    free(who);
}
