/* SPDX-License-Identifier: MIT */
/* The runner loop over declared cases (suites/case.h) on a synthetic suite and a fake device,
 * in process: skips, group setup, sampling, the interrupted-before-the-first-sample skip,
 * --test-corrupt, validation, metrics and their formula text, headlines, emission order; and the
 * formula evaluator. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/formula.h"
#include "runners/budget.h"
#include "suites/case.h"

/* ---- formulas ---- */

static int vars(void *arg, const char *name, double *v)
{
    (void)arg;
    if (strcmp(name, "n") == 0)
        return *v = 1000, 0;
    if (strcmp(name, "s_q") == 0)
        return *v = 8, 0;
    return -1;
}

Test(formula, evaluates_with_precedence)
{
    char err[AB_ERRLEN];
    double v;
    cr_assert_eq(ab_formula_eval("3*n*s_q", vars, NULL, false, &v, err), 0, "%s", err);
    cr_expect_eq(v, 24000);
    cr_assert_eq(ab_formula_eval("(n + 24) / 2 - -1", vars, NULL, false, &v, err), 0, "%s", err);
    cr_expect_eq(v, 513);
    cr_assert_eq(ab_formula_eval("2 + 3*4", NULL, NULL, false, &v, err), 0, "%s", err);
    cr_expect_eq(v, 14);
    cr_assert_eq(ab_formula_eval("1.5e3", NULL, NULL, false, &v, err), 0, "%s", err);
    cr_expect_eq(v, 1500);
}

Test(formula, f32_rounds_every_step)
{
    char err[AB_ERRLEN];
    double v;
    cr_assert_eq(ab_formula_eval("0.2 + 0.4*0.4", NULL, NULL, true, &v, err), 0, "%s", err);
    float want = 0.2f + 0.4f * 0.4f;
    cr_expect_eq(v, (double)want);
    cr_assert_eq(ab_formula_eval("0.2 + 0.4*0.4", NULL, NULL, false, &v, err), 0, "%s", err);
    cr_expect_eq(v, 0.2 + 0.4 * 0.4);
    cr_expect_neq(v, (double)want);
}

Test(formula, errors_name_the_problem)
{
    char err[AB_ERRLEN];
    double v;
    cr_expect_eq(ab_formula_eval("2*m", vars, NULL, false, &v, err), -1);
    cr_expect(strstr(err, "unknown variable 'm'"), "%s", err);
    cr_expect_eq(ab_formula_eval("2*(n", vars, NULL, false, &v, err), -1);
    cr_expect(strstr(err, "')' expected"), "%s", err);
    cr_expect_eq(ab_formula_eval("2 n", vars, NULL, false, &v, err), -1);
    cr_expect(strstr(err, "unexpected 'n'"), "%s", err);
    cr_expect_eq(ab_formula_eval("", vars, NULL, false, &v, err), -1);
}

/* ---- a synthetic suite on a fake device ---- */

typedef struct synth_impl {
    int dummy;
} synth_impl;
static const synth_impl the_impl = {0};
static bool impl_missing;

/* the suite's accessor: the fake device's table, or none */
static const void *synth_impl_of(const ab_device *d)
{
    (void)d;
    return impl_missing ? NULL : &the_impl;
}

static const ab_backend_ops fake_ops = {.name = "fake"};
static ab_backend_entry fake_backend = {.name = "fake", .built = true, .available = true,
                                        .ops = &fake_ops};

/* what happened, in order */
static ab_result *got[64];
static size_t ngot;
static int group_setups, group_teardowns, case_setups, case_teardowns;

static int collect(ab_suite_ctx *ctx, ab_result *r)
{
    (void)ctx;
    cr_assert_lt(ngot, 64);
    got[ngot++] = r;
    return 0;
}

/* per case: seconds per iteration, and behaviour switches */
typedef struct sc {
    double spi;
    bool wrong;       /* validation fails */
    bool run_skip;    /* run() returns AB_CASE_SKIP */
    bool interrupt;   /* raise SIGINT in the first run() */
    bool not_applies;
    bool absent;      /* applies() returns AB_CASE_ABSENT */
} sc;

static int sc_applies(ab_case *c, const ab_device *d, char *why)
{
    (void)d;
    if (((sc *)c->data)->absent)
        return AB_CASE_ABSENT;
    if (!((sc *)c->data)->not_applies)
        return 0;
    snprintf(why, AB_ERRLEN, "not on this device");
    return AB_CASE_SKIP;
}

static int sc_setup(ab_case *c, char *err)
{
    (void)c, (void)err;
    case_setups++;
    cr_expect_eq(c->impl, &the_impl);
    return 0;
}

static int sc_run(ab_case *c, long iters, double *sec, char *err)
{
    sc *s = c->data;
    if (s->run_skip)
        return ab_err(err, "over budget"), AB_CASE_SKIP;
    if (s->interrupt)
        raise(SIGINT);
    *sec = (double)iters * s->spi;
    return 0;
}

static int sc_corrupt(ab_case *c, char *err)
{
    (void)err;
    ((sc *)c->data)->wrong = true;
    return 0;
}

static int sc_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    (void)err;
    json_object_set_new(r->extra, "checked", json_integer(7));
    v->max_error = ((sc *)c->data)->wrong ? 0.5 : 0.0;
    if (((sc *)c->data)->wrong) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "3 of 7 wrong");
    }
    return 0;
}

static void sc_teardown(ab_case *c)
{
    (void)c;
    case_teardowns++;
}

static const ab_case_ops sc_ops = {.applies = sc_applies, .setup = sc_setup, .run = sc_run,
                                   .corrupt = sc_corrupt, .validate = sc_validate,
                                   .teardown = sc_teardown};
static const ab_case_ops sc_ops_nocorrupt = {.setup = sc_setup, .run = sc_run,
                                             .validate = sc_validate, .teardown = sc_teardown};

static int g_setup(ab_group *g, char *err)
{
    group_setups++;
    int mode = *(int *)g->data;
    if (mode == 1)
        return ab_err(err, "does not fit"), AB_CASE_SKIP;
    if (mode == 2)
        return ab_err(err, "broken");
    if (mode == 3) { /* the setup decides: this failure is one result for the group */
        g->skip_one = true;
        return ab_err(err, "cannot fill");
    }
    return 0;
}

static void g_teardown(ab_group *g)
{
    (void)g;
    group_teardowns++;
}

static const ab_group_ops g_ops = {.setup = g_setup, .teardown = g_teardown};

/* the scenario a test generates */
static int (*scenario)(ab_caselist *l);

static int synth_generate(ab_caselist *l, char *err)
{
    (void)err;
    return scenario(l);
}

static const ab_case_suite synth_cases = {.impl = synth_impl_of, .generate = synth_generate,
                                          .max_error_key = "max_error"};
static const char *const synth_keys[] = {"synth.a", "synth.b", NULL};
static const ab_suite synth_suite = {.name = "synth", .keys = synth_keys, .run = ab_caserun,
                                     .cases = &synth_cases};

static ab_case *add(ab_group *g, const char *key, const char *impl, double spi, long n)
{
    ab_case *c = ab_case_add(g, key, impl, &sc_ops, sizeof(sc));
    cr_assert_not_null(c);
    ((sc *)c->data)->spi = spi;
    ab_result_param_int(c->r, "n", n);
    cr_assert_eq(ab_case_var(c, "s", 4), 0);
    cr_assert_eq(ab_case_extra(c, "bytes_per_iter", "2*n*s", false), 0);
    cr_assert_eq(ab_case_metric(c, "bandwidth", "B/s", true, "2*n*s", "2*n*s B / t (read a)"),
                 0);
    cr_assert_eq(ab_case_metric(c, "time", "s", false, NULL, "seconds per iteration"), 0);
    return c;
}

static int run_synth(int (*gen)(ab_caselist *), char **selectors, const char *corrupt)
{
    static ab_device dev = {.id = "fake:0", .backend = &fake_backend, .info = {.name = "Fake"}};
    ab_options o = {.profile = "quick", .suites = selectors, .corrupt = corrupt};
    o.sampling = (ab_sampling){.min_time = 1e-3, .samples = 3, .warmup = 1, .max_iters = 1000};
    ab_suite_ctx ctx = {.opt = &o, .suite = &synth_suite, .dev = &dev, .emit = collect};
    for (size_t i = 0; i < ngot; i++)
        ab_result_free(got[i]);
    ngot = 0;
    group_setups = group_teardowns = case_setups = case_teardowns = 0;
    scenario = gen;
    ab_interrupt_reset();
    return ab_caserun(&ctx);
}

static int gen_pair(ab_caselist *l)
{
    ab_group *g = ab_group_add(l, "synth.a", "fast", &g_ops, sizeof(int));
    ab_result_param_str(g->r, "dtype", "f32");
    add(g, "synth.a", "slow", 2e-4, 1000)->headline = true;
    add(g, "synth.a", "fast", 1e-4, 1000)->headline = true;
    ab_case *c = add(g, "synth.b", "x", 1e-4, 10);
    ((sc *)c->data)->not_applies = true;
    return 0;
}

Test(caserun, metrics_formulas_headline_and_skips)
{
    cr_assert_eq(run_synth(gen_pair, NULL, NULL), 0);
    cr_assert_eq(ngot, 3);
    cr_expect_eq(group_setups, 1);
    cr_expect_eq(group_teardowns, 1);
    cr_expect_eq(case_setups, 2, "applies() skip must not set up");
    const ab_result *slow = got[0], *fast = got[1], *skip = got[2];
    cr_expect_str_eq(slow->impl, "slow");
    cr_expect_str_eq(fast->impl, "fast");
    cr_expect_eq(slow->status, AB_PASS, "%s", slow->reason ? slow->reason : "");
    cr_expect(fast->headline && !slow->headline, "the faster candidate is the headline");
    /* params: the group's first, then the case's */
    cr_expect_str_eq(json_string_value(json_object_get(fast->params, "dtype")), "f32");
    cr_expect_eq(json_integer_value(json_object_get(fast->params, "n")), 1000);
    const ab_metric *bw = ab_result_metric(fast, "bandwidth");
    cr_assert_not_null(bw);
    cr_expect_str_eq(bw->formula, "2*n*s B / t (read a)");
    cr_expect_eq(bw->nsamples, 3);
    cr_expect(fabs(bw->stats.median - 8000.0 / 1e-4) < 1, "%g", bw->stats.median);
    const ab_metric *t = ab_result_metric(fast, "time");
    cr_assert_not_null(t);
    cr_expect(fabs(t->stats.median - 1e-4) < 1e-12);
    cr_expect_eq(json_integer_value(json_object_get(fast->extra, "bytes_per_iter")), 8000);
    cr_expect_eq(json_integer_value(json_object_get(fast->extra, "checked")), 7);
    cr_expect_eq(json_real_value(json_object_get(fast->extra, "max_error")), 0.0);
    cr_expect_gt(fast->iters_per_sample, 1);
    cr_expect_eq(skip->status, AB_SKIP);
    cr_expect_str_eq(skip->reason, "not on this device");
    cr_expect_null(skip->extra, "an applies() skip records no extra");
    cr_expect_null(skip->metrics);
}

Test(caserun, selection_skips_unselected_cases_and_groups)
{
    char *sel[] = {"synth.b", NULL};
    cr_assert_eq(run_synth(gen_pair, sel, NULL), 0);
    cr_expect_eq(ngot, 1);
    cr_expect_str_eq(got[0]->key, "synth.b");
    char *none[] = {"synth.zzz", NULL};
    cr_assert_eq(run_synth(gen_pair, none, NULL), 0);
    cr_expect_eq(ngot, 0);
    cr_expect_eq(group_setups, 0, "a group with no selected case is not set up");
}

Test(caserun, corruption_fails_validation)
{
    cr_assert_eq(run_synth(gen_pair, NULL, "synth.a"), 0);
    cr_assert_eq(ngot, 3);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(got[i]->status, AB_FAIL, "%s", ab_status_name(got[i]->status));
        cr_expect_str_eq(got[i]->reason, "3 of 7 wrong");
        cr_expect(!got[i]->headline, "a failed case is never the headline");
        cr_expect_eq(json_real_value(json_object_get(got[i]->extra, "max_error")), 0.5);
    }
    cr_expect_eq(got[2]->status, AB_SKIP);
}

static int gen_nocorrupt(ab_caselist *l)
{
    ab_case *c = ab_case_new(l, "synth.a", "x", &sc_ops_nocorrupt, sizeof(sc));
    ((sc *)c->data)->spi = 1e-4;
    return ab_case_metric(c, "time", "s", false, NULL, NULL);
}

Test(caserun, corruption_without_hook_is_an_error)
{
    cr_assert_eq(run_synth(gen_nocorrupt, NULL, "synth.a"), 0);
    cr_assert_eq(ngot, 1);
    cr_expect_eq(got[0]->status, AB_ERROR);
    cr_expect(strstr(got[0]->reason, "corrupting output:"), "%s", got[0]->reason);
    cr_expect_eq(case_teardowns, 1);
}

static int gen_interrupt(ab_caselist *l)
{
    ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
    ab_case *c = add(g, "synth.a", "x", 1e-4, 10);
    ((sc *)c->data)->interrupt = true;
    add(g, "synth.a", "y", 1e-4, 10); /* never runs: the signal stops the loop */
    ab_case_new(l, "synth.b", "z", &sc_ops, sizeof(sc));
    return 0;
}

Test(caserun, interrupted_before_the_first_sample)
{
    ab_signals_install();
    cr_assert_eq(run_synth(gen_interrupt, NULL, NULL), 0);
    cr_assert_eq(ngot, 1, "only the interrupted case is recorded");
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect_str_eq(got[0]->reason, "interrupted before the first sample");
    cr_expect_null(got[0]->metrics);
    cr_expect_eq(case_teardowns, 1);
    ab_interrupt_reset();
}

static int gen_group_fail(ab_caselist *l)
{
    for (int mode = 1; mode <= 2; mode++) {
        for (int one = 0; one < 2; one++) {
            ab_group *g = ab_group_add(l, "synth.a", "grp", &g_ops, sizeof(int));
            *(int *)g->data = mode;
            g->skip_one = one;
            ab_result_param_int(g->r, "ws", 64);
            add(g, "synth.a", "x", 1e-4, 10);
            add(g, "synth.a", "y", 1e-4, 10);
        }
    }
    return 0;
}

Test(caserun, group_setup_failure_is_one_or_each)
{
    cr_assert_eq(run_synth(gen_group_fail, NULL, NULL), 0);
    /* skip x2, skip x1, error x2, error x1 */
    cr_assert_eq(ngot, 6);
    ab_status want[6] = {AB_SKIP, AB_SKIP, AB_SKIP, AB_ERROR, AB_ERROR, AB_ERROR};
    const char *impl[6] = {"x", "y", "grp", "x", "y", "grp"};
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(got[i]->status, want[i], "%d: %s", i, ab_status_name(got[i]->status));
        cr_expect_str_eq(got[i]->impl, impl[i]);
        cr_expect_eq(json_integer_value(json_object_get(got[i]->params, "ws")), 64);
    }
    cr_expect_str_eq(got[0]->reason, "does not fit");
    cr_expect_str_eq(got[3]->reason, "broken");
    cr_expect_eq(case_setups, 0);
    cr_expect_eq(group_teardowns, 4);
}

static int gen_group_decides(ab_caselist *l)
{
    for (int mode = 3; mode >= 1; mode -= 2) { /* setup sets skip_one; then a plain skip */
        ab_group *g = ab_group_add(l, "synth.a", "grp", &g_ops, sizeof(int));
        *(int *)g->data = mode;
        add(g, "synth.a", "x", 1e-4, 10);
        add(g, "synth.a", "y", 1e-4, 10);
    }
    return 0;
}

Test(caserun, group_setup_may_make_its_failure_one_result)
{
    cr_assert_eq(run_synth(gen_group_decides, NULL, NULL), 0);
    cr_assert_eq(ngot, 3, "one error for the group, then a skip per case of the next");
    cr_expect_eq(got[0]->status, AB_ERROR);
    cr_expect_str_eq(got[0]->impl, "grp");
    cr_expect_str_eq(got[0]->reason, "cannot fill");
    for (int i = 1; i < 3; i++) {
        cr_expect_eq(got[i]->status, AB_SKIP);
        cr_expect_str_eq(got[i]->impl, i == 1 ? "x" : "y");
    }
    cr_expect_eq(group_teardowns, 2);
}

static int gen_group_per_key(ab_caselist *l)
{
    /* a sweep sharing one model: 3 points of synth.a, 2 of synth.b, then a group that runs */
    for (int mode = 1; mode >= 0; mode--) {
        ab_group *g = ab_group_add(l, NULL, "model-impl", &g_ops, sizeof(int));
        *(int *)g->data = mode;
        g->skip_per_key = true;
        ab_result_param_str(g->r, "shape", "m");
        for (int i = 0; i < 3; i++)
            add(g, "synth.a", "pa", 1e-4, 10 * (i + 1));
        for (int i = 0; i < 2; i++)
            add(g, "synth.b", "pb", 1e-4, 10 * (i + 1));
    }
    return 0;
}

Test(caserun, group_setup_failure_per_key)
{
    cr_assert_eq(run_synth(gen_group_per_key, NULL, NULL), 0);
    /* one skip per key (not per point), then the 5 points of the group that set up */
    cr_assert_eq(ngot, 7);
    const char *key[7] = {"synth.a", "synth.b", "synth.a", "synth.a", "synth.a", "synth.b",
                          "synth.b"};
    for (int i = 0; i < 7; i++)
        cr_expect_str_eq(got[i]->key, key[i], "%d", i);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(got[i]->status, AB_SKIP);
        cr_expect_str_eq(got[i]->reason, "does not fit");
        cr_expect_str_eq(got[i]->impl, "model-impl", "the group's impl, not a point's");
        cr_expect_str_eq(json_string_value(json_object_get(got[i]->params, "shape")), "m");
        cr_expect_null(json_object_get(got[i]->params, "n"), "no point's params");
        cr_expect_null(got[i]->extra);
    }
    cr_expect_eq(got[2]->status, AB_PASS, "%s", got[2]->reason ? got[2]->reason : "");
    cr_expect_str_eq(got[2]->impl, "pa");
    cr_expect_eq(case_setups, 5);
    cr_expect_eq(group_teardowns, 2);
    /* only the selected key gets its skip */
    char *sel[] = {"synth.b", NULL};
    cr_assert_eq(run_synth(gen_group_per_key, sel, NULL), 0);
    cr_assert_eq(ngot, 3);
    cr_expect_str_eq(got[0]->key, "synth.b");
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect_str_eq(got[1]->key, "synth.b");
    cr_expect_eq(got[1]->status, AB_PASS);
}

static int gen_series(ab_caselist *l)
{
    /* a sweep of 3 sizes; the last one fails: the headline is the middle one, held back */
    for (int i = 0; i < 3; i++) {
        ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
        ab_case *c = add(g, "synth.a", "v", 1e-4, 10 * (i + 1));
        c->headline = true;
        c->series = "v/f32";
        ((sc *)c->data)->wrong = i == 2;
        add(g, "synth.a", "other", 1e-4, 10 * (i + 1));
    }
    ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
    g->flush_series = true;
    add(g, "synth.b", "layer", 1e-4, 5);
    return 0;
}

Test(caserun, series_headline_is_the_last_passing)
{
    cr_assert_eq(run_synth(gen_series, NULL, NULL), 0);
    cr_assert_eq(ngot, 7);
    /* emission: v@10 released when v@20 is held; v@20 flushed before the layer group */
    const char *order[7] = {"other10", "v10", "other20", "v30", "other30", "v20", "layer5"};
    for (int i = 0; i < 7; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s%lld", got[i]->impl,
                 json_integer_value(json_object_get(got[i]->params, "n")));
        cr_expect_str_eq(id, order[i], "emission %d", i);
        cr_expect_eq(got[i]->headline, strcmp(order[i], "v20") == 0, "%s", order[i]);
    }
}

static int gen_declared_series(ab_caselist *l)
{
    /* series "w" declared before "v": held headlines are emitted w first, though v's
     * candidate came first; a preset result with params, and an absent case */
    cr_assert_eq(ab_caselist_series(l, "w"), 0);
    cr_assert_eq(ab_caselist_series(l, "v"), 0);
    ab_result *r = ab_caselist_result(l, "synth", "vendor");
    cr_assert_not_null(r);
    ab_result_param_str(r, "dtype", "e4m3");
    ab_result_set_status(r, AB_SKIP, "no fp8");
    for (int i = 0; i < 2; i++) {
        ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
        ab_case *c = add(g, "synth.a", "gone", 1e-4, 10 * (i + 1));
        ((sc *)c->data)->absent = true;
        const char *impl[2] = {"v", "w"};
        for (int k = 0; k < 2; k++) {
            c = add(g, "synth.a", impl[k], 1e-4, 10 * (i + 1));
            c->headline = true;
            c->series = impl[k];
        }
    }
    ab_group *g = ab_group_add(l, NULL, NULL, NULL, 0);
    g->flush_series = true;
    add(g, "synth.a", "layer", 1e-4, 5);
    /* after the flush the declared order still holds */
    g = ab_group_add(l, NULL, NULL, NULL, 0);
    for (int k = 0; k < 2; k++) {
        ab_case *c = add(g, "synth.a", k ? "w" : "v", 1e-4, 7);
        c->headline = true;
        c->series = k ? "w" : "v";
    }
    return 0;
}

Test(caserun, declared_series_order_preset_results_and_absent_cases)
{
    char *sel[] = {"synth.a", NULL};
    cr_assert_eq(run_synth(gen_declared_series, sel, NULL), 0);
    const char *order[] = {"vendor0", "v10", "w10", "w20", "v20", "layer5", "w7", "v7"};
    cr_assert_eq(ngot, 8);
    for (int i = 0; i < 8; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s%lld", got[i]->impl,
                 json_integer_value(json_object_get(got[i]->params, "n")));
        cr_expect_str_eq(id, order[i], "emission %d", i);
        bool hl = strcmp(order[i], "w20") == 0 || strcmp(order[i], "v20") == 0 ||
                  strcmp(order[i], "w7") == 0 || strcmp(order[i], "v7") == 0;
        cr_expect_eq(got[i]->headline, hl, "%s", order[i]);
    }
    cr_expect_str_eq(got[0]->key, "synth", "a preset result is emitted whatever is selected");
    cr_expect_str_eq(json_string_value(json_object_get(got[0]->params, "dtype")), "e4m3");
    cr_expect_str_eq(got[0]->reason, "no fp8");
}

static int gen_run_skip(ab_caselist *l)
{
    ab_case *c = add(ab_group_add(l, NULL, NULL, NULL, 0), "synth.a", "x", 1e-4, 10);
    ((sc *)c->data)->run_skip = true;
    /* a formula text that does not name what is computed is refused */
    c = ab_case_new(l, "synth.a", "y", &sc_ops, sizeof(sc));
    ((sc *)c->data)->spi = 1e-4;
    ab_result_param_int(c->r, "n", 3);
    ab_case_metric(c, "rate", "1/s", true, "2*n", "3*n per second");
    /* an unknown variable in an extra amount */
    c = ab_case_new(l, "synth.a", "z", &sc_ops, sizeof(sc));
    ab_case_extra(c, "flops_per_iter", "2*m", false);
    return ab_caselist_suite_result(l, AB_SKIP, "nothing else applies");
}

Test(caserun, run_skip_formula_drift_and_suite_results)
{
    char *sel[] = {"synth.a", NULL};
    cr_assert_eq(run_synth(gen_run_skip, sel, NULL), 0);
    cr_assert_eq(ngot, 4);
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect_str_eq(got[0]->reason, "over budget");
    cr_expect_eq(got[1]->status, AB_ERROR);
    cr_expect(strstr(got[1]->reason, "does not contain its amount '2*n'"), "%s", got[1]->reason);
    cr_expect_eq(got[2]->status, AB_ERROR);
    cr_expect(strstr(got[2]->reason, "unknown variable 'm'"), "%s", got[2]->reason);
    cr_expect_str_eq(got[3]->key, "synth", "a suite result is emitted whatever is selected");
    cr_expect_str_eq(got[3]->impl, "none");
    cr_expect_str_eq(got[3]->reason, "nothing else applies");
}

Test(caserun, missing_impl_is_one_skip)
{
    impl_missing = true;
    cr_assert_eq(run_synth(gen_pair, NULL, NULL), 0);
    impl_missing = false;
    cr_assert_eq(ngot, 1);
    cr_expect_str_eq(got[0]->key, "synth");
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect_str_eq(got[0]->reason, "synth has no fake implementation");
}

/* ---- the time budget: an estimate from the device's measured rates, the cover case ---- */

static ab_budget *the_budget;

static int gen_cover(ab_caselist *l)
{
    /* a case declaring 8 GB of traffic an iteration (100 s at the 80 MB/s the device showed),
     * then the suite's cover case, 8 kB an iteration */
    ab_case *heavy = add(ab_group_add(l, NULL, NULL, NULL, 0), "synth.a", "heavy", 1e-4, 1000);
    cr_assert_eq(ab_case_work(heavy, 0, 8e9, true), 0);
    ab_case *cover = add(ab_group_add(l, NULL, NULL, NULL, 0), "synth.b", "cover", 1e-4, 1000);
    cr_assert_eq(ab_case_work(cover, 0, 8e3, true), 0);
    cover->cover_only = true;
    return 0;
}

static int run_budgeted(double rate)
{
    the_budget = ab_budget_new(100, "--budget");
    cr_assert_not_null(the_budget);
    ab_budget_pass(the_budget, AB_PASS_COVER, 1);
    ab_budget_slot(the_budget);
    if (rate > 0) /* what an earlier suite measured on the device */
        ab_budget_rate(the_budget, "fake:0", "ordinary", NULL, "B/s", rate);
    static ab_device dev = {.id = "fake:0", .backend = &fake_backend, .info = {.name = "Fake"}};
    ab_options o = {.profile = "quick"};
    o.sampling = (ab_sampling){.min_time = 1e-3, .samples = 3, .warmup = 1, .max_iters = 1000};
    ab_suite_ctx ctx = {.opt = &o, .suite = &synth_suite, .dev = &dev, .emit = collect,
                        .budget = the_budget};
    for (size_t i = 0; i < ngot; i++)
        ab_result_free(got[i]);
    ngot = 0;
    scenario = gen_cover;
    ab_interrupt_reset();
    int rc = ab_caserun(&ctx);
    ab_budget_free(the_budget);
    return rc;
}

Test(caserun, budget_estimates_from_measured_rates_and_runs_the_cover_case)
{
    /* the device's bandwidth says the heavy case takes some 500 s: left out, and the cover case
     * represents the suite */
    cr_assert_eq(run_budgeted(80e6), 0);
    cr_assert_eq(ngot, 2);
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect(got[0]->reason && strstr(got[0]->reason, "budget: estimated 5"), "%s",
              got[0]->reason ? got[0]->reason : "(none)");
    cr_expect_str_eq(got[1]->impl, "cover");
    cr_expect_eq(got[1]->status, AB_PASS);
    /* no rate measured: nothing to go by, the heavy case runs and the cover case is absent */
    cr_assert_eq(run_budgeted(0), 0);
    cr_assert_eq(ngot, 1);
    cr_expect_str_eq(got[0]->impl, "heavy");
    cr_expect_eq(got[0]->status, AB_PASS);
    /* no budget: the cover case never runs */
    cr_assert_eq(run_synth(gen_cover, NULL, NULL), 0);
    cr_assert_eq(ngot, 1);
    cr_expect_str_eq(got[0]->impl, "heavy");
}
