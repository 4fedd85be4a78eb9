/* SPDX-License-Identifier: MIT */
/*
 * The one runner loop over declared cases (suites/case.h): what used to be repeated in every
 * suite driver -- impl lookup, selection, skips, sampling, the interrupted-before-the-first-
 * sample skip, metrics, --test-corrupt, validation status, headline marking, emission.
 */
#include "../suites/case.h"

#include "../core/formula.h"
#include "budget.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ab_case_amount {
    char *name, *unit, *amount, *formula; /* metric; or extra key (name) with unit NULL */
    bool higher, extra, real;
} ab_case_amount;

typedef struct ab_case_binding {
    char *name;
    double value;
} ab_case_binding;

typedef struct held {
    const char *series;
    ab_result *r;   /* NULL: no candidate held now */
    bool declared;  /* ab_caselist_series: the place is kept across flushes */
} held;

struct ab_caselist {
    ab_suite_ctx *ctx;
    const ab_case_suite *cs;
    void *plan;
    const void *impl;
    ab_group **groups;
    size_t ngroups, cap;
    held *held; /* series headlines not yet emitted */
    size_t nheld;
    const ab_case *last; /* the last selected case (the budget's last chance for the suite) */
};

/* ---- building the list ---- */

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 8;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -1;
    *v = p;
    *cap = nc;
    return 0;
}

ab_suite_ctx *ab_caselist_ctx(const ab_caselist *l)
{
    return l->ctx;
}

void *ab_caselist_plan(const ab_caselist *l)
{
    return l->plan;
}

const void *ab_caselist_impl(const ab_caselist *l)
{
    return l->impl;
}

ab_group *ab_group_add(ab_caselist *l, const char *key, const char *impl,
                       const ab_group_ops *ops, size_t data_size)
{
    if (grow((void **)&l->groups, &l->cap, l->ngroups, sizeof(*l->groups)) != 0)
        return NULL;
    ab_group *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->list = l;
    g->ops = ops;
    g->r = ab_suite_result(l->ctx, key ? key : l->ctx->suite->name, impl ? impl : "none");
    g->data = data_size ? calloc(1, data_size) : NULL;
    if (!g->r || (data_size && !g->data)) {
        ab_result_free(g->r);
        free(g->data);
        free(g);
        return NULL;
    }
    l->groups[l->ngroups++] = g;
    return g;
}

ab_case *ab_case_add(ab_group *g, const char *key, const char *impl, const ab_case_ops *ops,
                     size_t data_size)
{
    ab_caselist *l = g->list;
    if (grow((void **)&g->cases, &g->cap, g->ncases, sizeof(*g->cases)) != 0)
        return NULL;
    ab_case *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->group = g;
    c->ctx = l->ctx;
    c->impl = l->impl;
    c->plan = l->plan;
    c->ops = ops;
    c->r = ab_suite_result(l->ctx, key, impl);
    c->data = data_size ? calloc(1, data_size) : NULL;
    if (!c->r || (data_size && !c->data) || json_object_update(c->r->params, g->r->params)) {
        ab_result_free(c->r);
        free(c->data);
        free(c);
        return NULL;
    }
    g->cases[g->ncases++] = c;
    return c;
}

ab_case *ab_case_new(ab_caselist *l, const char *key, const char *impl, const ab_case_ops *ops,
                     size_t data_size)
{
    ab_group *g = ab_group_add(l, key, impl, NULL, 0);
    return g ? ab_case_add(g, key, impl, ops, data_size) : NULL;
}

ab_result *ab_caselist_result(ab_caselist *l, const char *key, const char *impl)
{
    ab_group *g = ab_group_add(l, key, impl, NULL, 0);
    if (!g)
        return NULL;
    g->preset = true;
    return g->r;
}

int ab_caselist_suite_result(ab_caselist *l, ab_status st, const char *fmt, ...)
{
    ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
    if (!g)
        return -1;
    g->preset = true;
    va_list ap;
    va_start(ap, fmt);
    char why[AB_ERRLEN * 2];
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ab_result_set_status(g->r, st, "%s", why);
    return 0;
}

int ab_case_var(ab_case *c, const char *name, double value)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].name, name) == 0) {
            c->vars[i].value = value;
            return 0;
        }
    ab_case_binding *v = realloc(c->vars, (c->nvars + 1) * sizeof(*v));
    if (!v)
        return -1;
    c->vars = v;
    if (!(v[c->nvars].name = ab_strdup(name)))
        return -1;
    v[c->nvars++].value = value;
    return 0;
}

static int add_amount(ab_case *c, const ab_case_amount *a)
{
    ab_case_amount *v = realloc(c->amounts, (c->namounts + 1) * sizeof(*v));
    if (!v)
        return -1;
    c->amounts = v;
    ab_case_amount *n = &v[c->namounts];
    *n = *a;
    n->name = ab_strdup(a->name);
    n->unit = a->unit ? ab_strdup(a->unit) : NULL;
    n->amount = a->amount ? ab_strdup(a->amount) : NULL;
    n->formula = a->formula ? ab_strdup(a->formula) : NULL;
    c->namounts++;
    return 0;
}

int ab_case_metric(ab_case *c, const char *name, const char *unit, bool higher_is_better,
                   const char *amount, const char *formula)
{
    char text[512];
    if (!formula) {
        snprintf(text, sizeof(text), "%s / t", amount ? amount : "");
        formula = amount ? text : "t";
    }
    ab_case_amount a = {.name = (char *)name, .unit = (char *)unit, .amount = (char *)amount,
                        .formula = (char *)formula, .higher = higher_is_better};
    return add_amount(c, &a);
}

int ab_case_extra(ab_case *c, const char *key, const char *amount, bool real)
{
    ab_case_amount a = {.name = (char *)key, .amount = (char *)amount, .extra = true,
                        .real = real};
    return add_amount(c, &a);
}

int ab_case_work(ab_case *c, double flop, double bytes, bool sampled)
{
    ab_work_term *v = realloc(c->work, (c->nwork + 1) * sizeof(*v));
    if (!v)
        return -1;
    c->work = v;
    v[c->nwork++] = (ab_work_term){.flop = flop, .bytes = bytes, .sampled = sampled};
    return 0;
}

static int lookup_var(void *arg, const char *name, double *value)
{
    const ab_case *c = arg;
    for (size_t i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].name, name) == 0) {
            *value = c->vars[i].value;
            return 0;
        }
    json_t *p = json_object_get(c->r->params, name);
    if (p && json_is_number(p)) {
        *value = json_number_value(p);
        return 0;
    }
    return -1;
}

int ab_case_eval(const ab_case *c, const char *amount, double *out, char *err)
{
    return ab_formula_eval(amount, lookup_var, (void *)c, false, out, err);
}

static void case_free(ab_case *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->namounts; i++) {
        free(c->amounts[i].name);
        free(c->amounts[i].unit);
        free(c->amounts[i].amount);
        free(c->amounts[i].formula);
    }
    free(c->amounts);
    free(c->work);
    for (size_t i = 0; i < c->nvars; i++)
        free(c->vars[i].name);
    free(c->vars);
    ab_result_free(c->r); /* NULL once handed to emission */
    free(c->data);
    free(c);
}

/* The suite's plan: plan_new, or a zeroed block of plan_size filled by plan_init. */
static void *make_plan(const ab_case_suite *cs, const ab_options *o, char *err)
{
    if (cs->plan_new)
        return cs->plan_new(o, err);
    void *p = calloc(1, cs->plan_size ? cs->plan_size : 1);
    if (!p) {
        ab_err(err, "out of memory");
        return NULL;
    }
    if (cs->plan_init(o, p, err) != 0) {
        if (cs->plan_clear)
            cs->plan_clear(p);
        free(p);
        return NULL;
    }
    return p;
}

static void drop_plan(const ab_case_suite *cs, void *p)
{
    if (!p)
        return;
    if (cs->plan_new) {
        if (cs->plan_free)
            cs->plan_free(p);
        return;
    }
    if (cs->plan_clear)
        cs->plan_clear(p);
    free(p);
}

static void list_free(ab_caselist *l)
{
    for (size_t i = 0; i < l->ngroups; i++) {
        ab_group *g = l->groups[i];
        for (size_t k = 0; k < g->ncases; k++)
            case_free(g->cases[k]);
        free(g->cases);
        ab_result_free(g->r);
        free(g->data);
        free(g);
    }
    free(l->groups);
    for (size_t i = 0; i < l->nheld; i++)
        ab_result_free(l->held[i].r);
    free(l->held);
    drop_plan(l->cs, l->plan);
}

/* ---- running one case ---- */

typedef struct timed_arg {
    ab_case *c;
    bool skipped; /* run() said AB_CASE_SKIP */
} timed_arg;

static int timed(void *arg, long iters, double *sec, char *err)
{
    timed_arg *t = arg;
    int rc = t->c->ops->run(t->c, iters, sec, err);
    if (rc == AB_CASE_SKIP)
        t->skipped = true;
    return rc ? -1 : 0;
}

/* extra amounts, recorded before setup */
static int record_extras(ab_case *c, char *err)
{
    ab_result *r = c->r;
    if (!r->extra && !(r->extra = json_object()))
        return ab_err(err, "out of memory");
    for (size_t i = 0; i < c->namounts; i++) {
        const ab_case_amount *a = &c->amounts[i];
        double v;
        if (!a->extra)
            continue;
        if (ab_case_eval(c, a->amount, &v, err) != 0)
            return -1;
        json_object_set_new(r->extra, a->name,
                            a->real ? json_real(v) : json_integer((json_int_t)llround(v)));
    }
    return 0;
}

static int add_metrics(ab_case *c, const ab_timing *t, char *err)
{
    double *v = malloc(t->n * sizeof(*v));
    if (!v)
        return ab_err(err, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < c->namounts && rc == 0; i++) {
        const ab_case_amount *a = &c->amounts[i];
        double amount = 1.0;
        if (a->extra)
            continue;
        if (a->amount && !strstr(a->formula, a->amount))
            rc = ab_err(err, "metric %s: formula text '%s' does not contain its amount '%s'",
                        a->name, a->formula, a->amount);
        else if (a->amount && ab_case_eval(c, a->amount, &amount, err) != 0)
            rc = -1;
        for (size_t k = 0; rc == 0 && k < t->n; k++)
            v[k] = a->amount ? amount / t->per_iter[k] : t->per_iter[k];
        if (rc == 0 && !ab_result_add_metric(c->r, a->name, a->unit, a->higher, a->formula, v,
                                             t->n))
            rc = ab_err(err, "out of memory");
    }
    free(v);
    return rc;
}

/* sampling through to validation, once setup succeeded */
static void measure_and_check(ab_case *c, const ab_sampling *smp, char *err)
{
    ab_result *r = c->r;
    const ab_options *o = c->ctx->opt;
    ab_timing t;
    timed_arg ta = {.c = c};
    int rc = c->ops->measure ? c->ops->measure(c, smp, &t, err)
                             : ab_measure(smp, timed, &ta, &t, err);
    if (rc != 0) {
        ab_result_set_status(r, ta.skipped || rc == AB_CASE_SKIP ? AB_SKIP : AB_ERROR, "%s", err);
        ab_timing_free(&t);
        return;
    }
    r->warmup_runs = t.warmup_runs;
    r->iters_per_sample = t.iters;
    if (t.n == 0) {
        ab_result_set_status(r, AB_SKIP, "interrupted before the first sample");
        ab_timing_free(&t);
        return;
    }
    rc = add_metrics(c, &t, err);
    if (rc == 0 && c->ops->metrics)
        rc = c->ops->metrics(c, &t, r, err);
    ab_timing_free(&t);
    if (rc != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        return;
    }
    if (o->corrupt && strcmp(o->corrupt, r->key) == 0) {
        if (!c->ops->corrupt)
            ab_err(err, "%s has no corruption hook", r->key);
        if (!c->ops->corrupt || c->ops->corrupt(c, err) != 0) {
            ab_result_set_status(r, AB_ERROR, "corrupting output: %s", err);
            return;
        }
    }
    ab_verdict v = {.fail = false, .max_error = NAN};
    if (c->ops->validate && c->ops->validate(c, r, &v, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "validation: %s", err);
        return;
    }
    const char *mk = c->group->list->cs->max_error_key;
    if (mk && isfinite(v.max_error))
        json_object_set_new(r->extra, mk, json_real(v.max_error));
    if (v.fail)
        ab_result_set_status(r, AB_FAIL, "%s", v.msg);
}

/* The case's identity for the budget (device, key, impl, params) and its first metric's
 * amount per iteration (NAN when it has none or it cannot be evaluated). */
static char *case_identity(const ab_case *c, double *amount)
{
    *amount = NAN;
    for (size_t i = 0; i < c->namounts; i++)
        if (!c->amounts[i].extra) {
            char e[AB_ERRLEN];
            if (!c->amounts[i].amount || ab_case_eval(c, c->amounts[i].amount, amount, e) != 0)
                *amount = NAN;
            break;
        }
    char *p = json_dumps(c->r->params, JSON_SORT_KEYS | JSON_COMPACT);
    char *id = ab_asprintf("%s|%s|%s|%s", c->r->device ? c->r->device : "", c->r->key,
                           c->r->impl ? c->r->impl : "", p ? p : "");
    free(p);
    return id;
}

/* What the budget knows of c (ab_budget_work): its declared work, else its first metric's amount
 * when that is FLOP or bytes (own: the term for that); amount (from case_identity) becomes the
 * declared sampled FLOP when it had none, to scale the estimate from an earlier case of the key. */
static ab_budget_work case_work(const ab_case *c, const ab_sampling *smp, double *amount,
                                ab_work_term *own)
{
    double flop = 0;
    for (size_t i = 0; i < c->nwork; i++)
        flop += c->work[i].sampled ? c->work[i].flop : 0;
    if (!isfinite(*amount) && flop > 0)
        *amount = flop;
    const char *unit = NULL;
    for (size_t i = 0; i < c->namounts && !unit; i++)
        if (!c->amounts[i].extra)
            unit = c->amounts[i].unit ? c->amounts[i].unit : "";
    bool fl = unit && strcmp(unit, "FLOP/s") == 0, by = unit && strcmp(unit, "B/s") == 0;
    *own = (ab_work_term){.flop = fl ? *amount : 0, .bytes = by ? *amount : 0, .sampled = true};
    bool use_own = !c->nwork && (fl || by) && isfinite(*amount) && *amount > 0;
    return (ab_budget_work){.t = use_own ? own : c->work, .n = use_own ? 1 : c->nwork,
                            .sampling = smp, .impl = c->r->impl,
                            .dtype = json_string_value(json_object_get(c->r->params, "dtype")),
                            .last = c == c->group->list->last};
}

/* The budget's word on a case that applies: 0 run, AB_CASE_ABSENT, AB_CASE_SKIP (why); *w (own:
 * its storage) what it will do, for ab_budget_ran too. */
static int budget_admit(ab_case *c, const ab_sampling *smp, char **id, double *amount,
                        ab_budget_work *w, ab_work_term *own, char *why)
{
    struct ab_budget *b = c->ctx->budget;
    if (!b || !(*id = case_identity(c, amount)))
        return 0;
    *w = case_work(c, smp, amount, own);
    return ab_budget_admit(b, c->r->device ? c->r->device : "", c->r->key, *id, *amount, w, why);
}

/* A passing result's first metric, a rate the device reached, for the budget's estimates. */
static void budget_rate(ab_case *c)
{
    ab_result *r = c->r;
    if (!c->ctx->budget || r->status != AB_PASS || !r->nmetrics)
        return;
    ab_budget_rate(c->ctx->budget, r->device ? r->device : "", r->impl,
                   json_string_value(json_object_get(r->params, "dtype")), r->metrics[0].unit,
                   r->metrics[0].stats.median);
}

/* Returns whether the case has a result (false: applies() said AB_CASE_ABSENT, or the budget's
 * cover pass measured it). */
static bool run_case(ab_case *c, const ab_sampling *smp)
{
    ab_result *r = c->r;
    char err[AB_ERRLEN] = "";
    if (c->cover_only && !ab_budget_owed(c->ctx->budget, r->device ? r->device : "", r->key))
        return false; /* the suite has its representative (or there is no cover pass) */
    r->started = ab_wall_time();
    double t0 = ab_now();
    int rc = c->ops->applies ? c->ops->applies(c, c->ctx->dev, err) : 0;
    if (rc == AB_CASE_ABSENT)
        return false;
    if (rc != 0) {
        ab_result_set_status(r, AB_SKIP, "%s", err);
        return true;
    }
    char *id = NULL;
    double amount = NAN;
    ab_work_term own;
    ab_budget_work w = {0};
    rc = budget_admit(c, smp, &id, &amount, &w, &own, err);
    if (rc != 0) {
        free(id);
        if (rc == AB_CASE_SKIP)
            ab_result_set_status(r, AB_SKIP, "%s", err);
        return rc != AB_CASE_ABSENT;
    }
    if (c->ctx->started)
        c->ctx->started(c->ctx, r);
    if (record_extras(c, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        free(id);
        return true;
    }
    rc = c->ops->setup ? c->ops->setup(c, err) : 0;
    if (rc != 0)
        ab_result_set_status(r, rc == AB_CASE_SKIP ? AB_SKIP : AB_ERROR, "%s", err);
    else
        measure_and_check(c, smp, err);
    if (c->ops->teardown)
        c->ops->teardown(c);
    r->time_spent = ab_now() - t0;
    budget_rate(c);
    if (id)
        ab_budget_ran(c->ctx->budget, r->device ? r->device : "", r->key, id, amount, &w,
                      r->time_spent, r->status != AB_SKIP);
    free(id);
    return true;
}

/* ---- headlines and emission ---- */

static int emit(ab_caselist *l, ab_result **r)
{
    ab_result *x = *r;
    *r = NULL;
    return ab_emit(l->ctx, x);
}

static int flush_series(ab_caselist *l)
{
    int rc = 0;
    size_t keep = 0;
    for (size_t i = 0; i < l->nheld; i++) {
        if (l->held[i].r) {
            ab_result *x = l->held[i].r;
            x->headline = true;
            if (emit(l, &l->held[i].r) != 0)
                rc = -1;
            else if (l->ctx->budget)
                ab_budget_series(l->ctx->budget, x->device ? x->device : "", l->ctx->suite->name,
                                 l->held[i].series, x);
        }
        if (l->held[i].declared)
            l->held[keep++] = l->held[i];
    }
    l->nheld = keep;
    return rc;
}

static held *held_slot(ab_caselist *l, const char *series)
{
    for (size_t i = 0; i < l->nheld; i++)
        if (strcmp(l->held[i].series, series) == 0)
            return &l->held[i];
    held *h = realloc(l->held, (l->nheld + 1) * sizeof(*h));
    if (!h)
        return NULL;
    l->held = h;
    h[l->nheld] = (held){.series = series};
    return &h[l->nheld++];
}

int ab_caselist_series(ab_caselist *l, const char *series)
{
    held *h = held_slot(l, series);
    if (!h)
        return -1;
    h->declared = true;
    return 0;
}

/* A passing candidate of a series replaces (and releases for emission) the one held before. */
static int hold(ab_caselist *l, ab_case *c)
{
    held *h = held_slot(l, c->series);
    if (!h)
        return -1;
    ab_result *prev = h->r;
    h->r = c->r;
    c->r = NULL;
    return prev ? ab_emit(l->ctx, prev) : 0;
}

static double first_median(const ab_result *r, bool *higher)
{
    if (!r->nmetrics)
        return NAN;
    *higher = r->metrics[0].higher_is_better;
    return r->metrics[0].stats.median;
}

/* Marks the group's best passing candidate, then emits the group's results in order. */
static int finish_group(ab_caselist *l, ab_group *g, const bool *ran)
{
    ab_case *best = NULL;
    double best_v = 0;
    for (size_t k = 0; k < g->ncases; k++) {
        ab_case *c = g->cases[k];
        bool hi = true;
        double v;
        if (!ran[k] || !c->headline || c->series || c->r->status != AB_PASS ||
            !isfinite(v = first_median(c->r, &hi)))
            continue;
        if (!best || (hi ? v > best_v : v < best_v))
            best = c, best_v = v;
    }
    if (best)
        best->r->headline = true;
    int rc = 0;
    for (size_t k = 0; k < g->ncases && rc == 0; k++) {
        ab_case *c = g->cases[k];
        if (!ran[k])
            continue;
        if (c->headline && c->series && c->r->status == AB_PASS)
            rc = hold(l, c);
        else
            rc = emit(l, &c->r);
    }
    return rc;
}

/* skip_per_key: one result per distinct selected key, with the group's impl and params */
static int group_failed_per_key(ab_caselist *l, ab_group *g, const bool *sel, ab_status st,
                                const char *why)
{
    for (size_t k = 0; k < g->ncases; k++) {
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = sel[j] && strcmp(g->cases[j]->r->key, g->cases[k]->r->key) == 0;
        if (!sel[k] || seen)
            continue;
        ab_result *r = ab_suite_result(l->ctx, g->cases[k]->r->key, g->r->impl);
        if (!r || json_object_update(r->params, g->r->params) != 0) {
            ab_result_free(r);
            return -1;
        }
        ab_result_set_status(r, st, "%s", why);
        if (emit(l, &r) != 0)
            return -1;
    }
    return 0;
}

/* Group setup failed: every selected case gets its status, or the group one result, or one per
 * selected key. */
static int group_failed(ab_caselist *l, ab_group *g, const bool *sel, ab_status st,
                        const char *why)
{
    if (g->skip_one) {
        ab_result_set_status(g->r, st, "%s", why);
        return emit(l, &g->r);
    }
    if (g->skip_per_key)
        return group_failed_per_key(l, g, sel, st, why);
    for (size_t k = 0; k < g->ncases; k++)
        if (sel[k]) {
            ab_result_set_status(g->cases[k]->r, st, "%s", why);
            if (emit(l, &g->cases[k]->r) != 0)
                return -1;
        }
    return 0;
}

/* The budget is spent for every selected case of g (budget.h): no group setup; one skip per
 * distinct case (two alternative cases of one measurement are one), none for what the cover
 * pass measured. Returns whether it was. */
static bool group_over_budget(ab_caselist *l, ab_group *g, const bool *sel, bool *ran)
{
    struct ab_budget *b = l->ctx->budget;
    const char *dev = l->ctx->dev ? l->ctx->dev->id : "";
    for (size_t k = 0; k < g->ncases; k++)
        if (sel[k] && !ab_budget_spent(b, dev, g->cases[k]->r->key))
            return false;
    char **ids = calloc(g->ncases + 1, sizeof(*ids));
    if (!ids)
        return false;
    for (size_t k = 0; k < g->ncases; k++) {
        ab_case *c = g->cases[k];
        double amount;
        if (!sel[k] || !(ids[k] = case_identity(c, &amount)) || ab_budget_measured(b, ids[k]))
            continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = ran[j] && strcmp(ids[j], ids[k]) == 0;
        if (dup)
            continue;
        char why[AB_ERRLEN];
        ab_budget_skip(b, dev, c->r->key, why);
        ab_result_set_status(c->r, AB_SKIP, "%s", why);
        ran[k] = true;
    }
    for (size_t k = 0; k < g->ncases; k++)
        free(ids[k]);
    free(ids);
    return true;
}

static int run_group(ab_caselist *l, ab_group *g, const ab_sampling *smp)
{
    if (g->preset)
        return emit(l, &g->r);
    bool *sel = calloc(g->ncases + 1, sizeof(bool)), *ran = calloc(g->ncases + 1, sizeof(bool));
    bool any = false;
    int rc = 0;
    const char *dev = l->ctx->dev ? l->ctx->dev->id : "";
    for (size_t k = 0; sel && k < g->ncases; k++) {
        const ab_case *c = g->cases[k];
        any |= sel[k] = ab_suite_key_selected(l->ctx, c->r->key) &&
                        (!c->cover_only || ab_budget_owed(l->ctx->budget, dev, c->r->key));
    }
    if (!sel || !ran)
        rc = -1;
    if (rc == 0 && any && g->flush_series)
        rc = flush_series(l);
    if (rc != 0 || !any)
        goto out;
    if (l->ctx->budget && group_over_budget(l, g, sel, ran)) {
        rc = finish_group(l, g, ran);
        goto out;
    }
    char err[AB_ERRLEN] = "";
    int srow = g->ops && g->ops->setup ? g->ops->setup(g, err) : 0;
    if (srow != 0) {
        rc = group_failed(l, g, sel, srow == AB_CASE_SKIP ? AB_SKIP : AB_ERROR, err);
    } else {
        for (size_t k = 0; k < g->ncases && !ab_interrupted(); k++)
            if (sel[k])
                ran[k] = run_case(g->cases[k], smp);
    }
    if (g->ops && g->ops->teardown)
        g->ops->teardown(g);
    if (srow == 0)
        rc = finish_group(l, g, ran);
out:
    free(sel);
    free(ran);
    return rc;
}

/* ---- the suite ---- */

static int suite_result(ab_suite_ctx *ctx, ab_status st, const char *why)
{
    ab_result *r = ab_suite_result(ctx, ctx->suite->name, "none");
    if (!r)
        return -1;
    ab_result_set_status(r, st, "%s", why);
    return ab_emit(ctx, r);
}

int ab_caserun(ab_suite_ctx *ctx)
{
    const ab_case_suite *cs = ctx->suite->cases;
    char err[AB_ERRLEN] = "";
    ab_caselist l = {.ctx = ctx, .cs = cs};
    if (cs->impl) {
        l.impl = cs->impl(ctx->dev);
        if (!l.impl) {
            snprintf(err, sizeof(err), "%s has no %s implementation", ctx->suite->name,
                     ctx->dev->backend->name);
            return suite_result(ctx, AB_SKIP, err);
        }
    }
    if ((cs->plan_new || cs->plan_init) && !(l.plan = make_plan(cs, ctx->opt, err)))
        return suite_result(ctx, AB_ERROR, err);
    int rc = 0;
    if (cs->generate(&l, err) != 0) {
        list_free(&l);
        return suite_result(ctx, AB_ERROR, err);
    }
    ab_sampling smp = ctx->opt->sampling;
    if (cs->sampling)
        cs->sampling(ctx->opt, &smp);
    for (size_t i = 0; i < l.ngroups; i++)
        for (size_t k = 0; k < l.groups[i]->ncases; k++)
            if (ab_suite_key_selected(ctx, l.groups[i]->cases[k]->r->key))
                l.last = l.groups[i]->cases[k];
    for (size_t i = 0; i < l.ngroups && rc == 0 && !ab_interrupted(); i++)
        rc = run_group(&l, l.groups[i], &smp);
    if (flush_series(&l) != 0)
        rc = -1;
    list_free(&l);
    return rc;
}

size_t ab_caserun_count(ab_suite_ctx *ctx)
{
    const ab_case_suite *cs = ctx->suite->cases;
    char err[AB_ERRLEN] = "";
    ab_caselist l = {.ctx = ctx, .cs = cs};
    if (!cs)
        return 1;
    if (cs->impl && !(l.impl = cs->impl(ctx->dev)))
        return 1;
    if ((cs->plan_new || cs->plan_init) && !(l.plan = make_plan(cs, ctx->opt, err)))
        return 1;
    size_t n = 0;
    if (cs->generate(&l, err) != 0)
        n = 1;
    else
        for (size_t i = 0; i < l.ngroups; i++) {
            ab_group *g = l.groups[i];
            n += g->preset;
            for (size_t k = 0; k < g->ncases; k++) {
                double amount;
                char *id = ctx->budget ? case_identity(g->cases[k], &amount) : NULL;
                n += ab_suite_key_selected(ctx, g->cases[k]->r->key) && !g->cases[k]->cover_only &&
                     !(id && ab_budget_measured(ctx->budget, id));
                free(id);
            }
        }
    list_free(&l);
    return n;
}

int ab_caserun_check_suite(const ab_case_suite *cs, const ab_options *o, char *err)
{
    if (!cs->plan_new && !cs->plan_init)
        return 0;
    void *p = make_plan(cs, o, err);
    if (!p)
        return -1;
    drop_plan(cs, p);
    return 0;
}
