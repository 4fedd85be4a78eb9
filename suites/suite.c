/* SPDX-License-Identifier: MIT */
#include "suite.h"

#include <string.h>

extern const ab_suite ab_suite_membw;
extern const ab_suite ab_suite_gemm;
extern const ab_suite ab_suite_attention;
extern const ab_suite ab_suite_tokens;

static const ab_suite *const registry[] = {
    &ab_suite_membw,
    &ab_suite_gemm,
    &ab_suite_attention,
    &ab_suite_tokens,
    NULL,
};

const ab_suite *const *ab_suites(void)
{
    return registry;
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
