/* SPDX-License-Identifier: MIT */
#include "suite.h"
#include "case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ab_suite ab_suite_membw;
extern const ab_suite ab_suite_fabric;
extern const ab_suite ab_suite_gemm;
extern const ab_suite ab_suite_attention;
extern const ab_suite ab_suite_tokens;
extern const ab_suite ab_suite_burn;
extern const ab_suite ab_suite_train;
extern const ab_suite ab_suite_collectives;
extern const ab_suite ab_suite_p2p;

static const ab_suite *const registry[] = {
    &ab_suite_membw,       &ab_suite_gemm, &ab_suite_attention, &ab_suite_tokens, &ab_suite_train,
    &ab_suite_collectives, &ab_suite_p2p,  &ab_suite_fabric,    &ab_suite_burn,   NULL,
};

const ab_suite *const *ab_suites(void)
{
    return registry;
}

size_t ab_suite_count(void)
{
    return sizeof(registry) / sizeof(registry[0]) - 1;
}

const ab_suite *ab_suite_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const char *ab_opt_param(const ab_options *o, const char *name)
{
    for (int i = 0; i < o->nparams; i++)
        if (strcmp(o->params[i].name, name) == 0)
            return o->params[i].value;
    return NULL;
}

/* ---- suite parameters: short and namespaced forms (suite.h) ---- */

const char *const *ab_suite_param_options(void)
{
    static const char *names[AB_MAX_PARAM_OPTIONS + 1];
    static char storage[AB_MAX_PARAM_OPTIONS][64];
    static bool built;
    if (built)
        return names;
    size_t n = 0;
    for (size_t i = 0; registry[i]; i++)
        for (size_t k = 0; registry[i]->params[k].name; k++) {
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup |= strcmp(names[j], registry[i]->params[k].name) == 0;
            if (!dup && n < AB_MAX_PARAM_OPTIONS)
                names[n++] = registry[i]->params[k].name;
        }
    for (size_t i = 0; registry[i]; i++)
        for (size_t k = 0; registry[i]->params[k].name && n < AB_MAX_PARAM_OPTIONS; k++) {
            snprintf(storage[n], sizeof(storage[n]), "%s.%s", registry[i]->name,
                     registry[i]->params[k].name);
            names[n] = storage[n];
            n++;
        }
    names[n] = NULL;
    built = true;
    return names;
}

static bool declares(const ab_suite *s, const char *name)
{
    for (size_t k = 0; s->params[k].name; k++)
        if (strcmp(s->params[k].name, name) == 0)
            return true;
    return false;
}

/* The value of --SUITE.NAME in o, or NULL. */
static const char *namespaced(const ab_options *o, const ab_suite *s, const char *name)
{
    size_t ls = strlen(s->name);
    for (int i = 0; i < o->nparams; i++) {
        const char *n = o->params[i].name;
        if (strncmp(n, s->name, ls) == 0 && n[ls] == '.' && strcmp(n + ls + 1, name) == 0)
            return o->params[i].value;
    }
    return NULL;
}

static void view_add(ab_options *v, const char *name, const char *value)
{
    if (v->nparams < AB_MAX_PARAMS) {
        v->params[v->nparams].name = name;
        v->params[v->nparams].value = (char *)value;
        v->nparams++;
    }
}

/* How many selected suites declare the short parameter `name`. */
static int declared_by(const bool *selected, const char *name)
{
    int n = 0;
    for (size_t i = 0; registry[i]; i++)
        n += selected[i] && declares(registry[i], name);
    return n;
}

static int run_check(const ab_suite *s, const ab_options *v, bool ns, char *err)
{
    if (!s->check && !s->cases)
        return 0;
    char e[AB_ERRLEN] = "";
    /* a suite of declared cases is checked by making its plan (its own check, if any, instead) */
    if ((s->check ? s->check(v, e) : ab_caserun_check_suite(s->cases, v, e)) == 0)
        return 0;
    /* with a namespaced value in play, say whose check it was */
    if (ns && strncmp(e, s->name, strlen(s->name)) != 0)
        return ab_err(err, "%s: %s", s->name, e);
    return ab_err(err, "%s", e);
}

static void add_note(char *notes, size_t len, const char *name, const char *value,
                     const char *suite, const char *why)
{
    size_t used = len ? strlen(notes) : 0;
    if (used + 1 < len)
        snprintf(notes + used, len - used, "--%s %s does not apply to %s (%s): it runs its default\n",
                 name, value, suite, why);
}

int ab_suite_options(const ab_options *o, const bool *selected, ab_options *views, char *notes,
                     size_t notes_len, char *err)
{
    if (notes_len)
        notes[0] = '\0';
    /* a short form several selected suites declare: did any of them take it, and why not */
    bool *taken = calloc((size_t)o->nparams + 1, sizeof(*taken));
    bool *tried = calloc((size_t)o->nparams + 1, sizeof(*tried));
    char(*first_no)[AB_ERRLEN] = calloc((size_t)o->nparams + 1, sizeof(*first_no));
    if (!taken || !tried || !first_no) {
        free(taken);
        free(tried);
        free(first_no);
        return ab_err(err, "out of memory");
    }
    int rc = 0;
    for (size_t si = 0; registry[si] && rc == 0; si++) {
        const ab_suite *s = registry[si];
        ab_options *v = &views[si];
        *v = *o;
        v->nparams = 0;
        bool ns = false;
        /* namespaced values, then the short forms that are this suite's alone */
        for (size_t k = 0; s->params[k].name; k++) {
            const char *name = s->params[k].name, *val = namespaced(o, s, name);
            if (val) {
                ns = true;
            } else if ((val = ab_opt_param(o, name)) && selected[si] &&
                       declared_by(selected, name) > 1) {
                continue; /* shared: tried below */
            }
            if (val)
                view_add(v, name, val);
        }
        if (!selected[si])
            continue;
        if (run_check(s, v, ns, err) != 0) {
            rc = -1;
            break;
        }
        /* each shared short form, in command-line order, kept where the check takes it */
        for (int i = 0; i < o->nparams && rc == 0; i++) {
            const char *name = o->params[i].name;
            if (strchr(name, '.') || !declares(s, name) || namespaced(o, s, name) ||
                declared_by(selected, name) < 2)
                continue;
            tried[i] = true;
            view_add(v, name, o->params[i].value);
            char why[AB_ERRLEN] = "";
            if (run_check(s, v, ns, why) == 0) {
                taken[i] = true;
                continue;
            }
            v->nparams--;
            if (!*first_no[i])
                snprintf(first_no[i], AB_ERRLEN, "%s: %s", s->name, why);
            add_note(notes, notes_len, name, o->params[i].value, s->name, why);
        }
    }
    for (int i = 0; i < o->nparams && rc == 0; i++)
        if (tried[i] && !taken[i])
            rc = ab_err(err, "--%s %s: no selected suite accepts it (%s)", o->params[i].name,
                        o->params[i].value, first_no[i]);
    free(taken);
    free(tried);
    free(first_no);
    return rc;
}

bool ab_key_selected(char *const *selectors, const char *key)
{
    if (!selectors)
        return true;
    for (size_t i = 0; selectors[i]; i++) {
        const char *s = selectors[i];
        if (strcmp(s, "all") == 0 || strncmp(key, s, strlen(s)) == 0)
            return true;
    }
    return false;
}

bool ab_suite_key_selected(const ab_suite_ctx *ctx, const char *key)
{
    return ab_key_selected(ctx->opt->suites, key);
}

ab_result *ab_suite_result(const ab_suite_ctx *ctx, const char *key, const char *impl)
{
    ab_result *r = ab_result_new(ctx->suite->name, key, impl);
    if (r)
        ab_result_set_device(r, ctx->dev->id, ctx->dev->info.name, ctx->dev->backend->name);
    if (r && ctx->ndevices) {
        char ids[1024] = "";
        for (size_t i = 0, n = 0; i < ctx->ndevices && n < sizeof(ids); i++)
            n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%s", i ? "," : "",
                                  ctx->devices[i]->id);
        ab_result_param_str(r, "devices", ids);
    }
    return r;
}

int ab_emit(ab_suite_ctx *ctx, ab_result *r)
{
    if (!r)
        return -1;
    return ctx->emit(ctx, r);
}

static const struct {
    const char *name;
    size_t size;
} dtypes[AB_DT_COUNT] = {
    [AB_DT_F64] = {"f64", 8}, [AB_DT_F32] = {"f32", 4},  [AB_DT_TF32] = {"tf32", 4},
    [AB_DT_BF16] = {"bf16", 2}, [AB_DT_F16] = {"f16", 2}, [AB_DT_E4M3] = {"e4m3", 1},
    [AB_DT_E5M2] = {"e5m2", 1}, [AB_DT_I8] = {"i8", 1},
};

const char *ab_dtype_name(ab_dtype t)
{
    return (unsigned)t < AB_DT_COUNT ? dtypes[t].name : "?";
}

size_t ab_dtype_size(ab_dtype t)
{
    return (unsigned)t < AB_DT_COUNT ? dtypes[t].size : 0;
}

int ab_dtype_parse(const char *s, ab_dtype *out)
{
    /* common spellings users type */
    static const struct {
        const char *alias;
        ab_dtype t;
    } aliases[] = {
        {"fp64", AB_DT_F64}, {"double", AB_DT_F64}, {"fp32", AB_DT_F32}, {"float", AB_DT_F32},
        {"fp16", AB_DT_F16}, {"half", AB_DT_F16},   {"fp8", AB_DT_E4M3}, {"int8", AB_DT_I8},
        {"fp8e4m3", AB_DT_E4M3}, {"fp8e5m2", AB_DT_E5M2},
    };
    for (int i = 0; i < AB_DT_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (ab_dtype)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcmp(s, aliases[i].alias) == 0) {
            *out = aliases[i].t;
            return 0;
        }
    return -1;
}

int ab_dtype_list(const char *s, bool picked[AB_DT_COUNT], char *err)
{
    char e[AB_ERRLEN];
    char **v = ab_split_list(s, e);
    if (!v)
        return ab_err(err, "--dtype: %s", e);
    int rc = 0;
    for (size_t i = 0; v[i] && rc == 0; i++) {
        ab_dtype t;
        if (ab_dtype_parse(v[i], &t) != 0)
            rc = ab_err(err, "--dtype: unknown data type '%s'", v[i]);
        else
            picked[t] = true;
    }
    ab_strv_free(v);
    return rc;
}
