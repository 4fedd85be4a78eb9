/* SPDX-License-Identifier: MIT */
/*
 * gemm suite descriptor: parameters, the plan, and the cases generated from it for the runner
 * loop (suites/case.h): shapes (square sweep, LLM shape sets, explicit shapes) x dtypes, every
 * implementation and layout. The loop samples, validates, marks headlines (the largest passing
 * square size per implementation and dtype) and emits. The group and case hooks are in
 * gemm_cases.c, validation in gemm_verify.c; the kernels in gemm_<backend>.c / gemm_gpu.cu
 * behind ab_gemm_backend (gemm.h).
 */
#include "gemm_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const keys[] = {"gemm.square", "gemm.llama3_8b", "gemm.llama3_70b",
                                   "gemm.custom", NULL};

static const char *const layout_names[AB_GL_COUNT] = {"NN", "NT", "TN"};

static const ab_param_desc params[] = {
    {"dtype", "LIST", "f64,f32,tf32,bf16,f16,e4m3,e5m2,i8 (default: quick f32,bf16,e4m3,i8; "
                      "otherwise all; e5m2 is A e5m2 x B e4m3)"},
    {"shape", "LIST", "explicit GEMM shapes, N or MxNxK (replaces the sweep and shape sets)"},
    {"shape-set", "LIST", "square, llama3_8b, llama3_70b or all (default: quick square,llama3_8b; "
                          "otherwise all)"},
    {"shape-file", "FILE", "shape-set table (default data/gemm-shape-sets.csv)"},
    {"square-max", "N", "largest size of the square sweep (default: what the profile, the time "
                        "budget and memory allow)"},
    {"tokens", "LIST", "token counts (M) for the LLM shape sets (default: quick 1,128,8192; "
                       "otherwise 1,16,128,1024,8192)"},
    {"layout", "LIST", "NN, NT (B stored N x K, y = x W^T), TN (default: quick NT; else all for "
                       "the square sweep and NT, the linear-layer layout, for the LLM sets)"},
    {"impl", "LIST", "vendor, portable (default both)"},
    {"gemm-budget", "SEC", "longest single multiply the sweep and shape sets attempt (default "
                           "0.1, 2, 20 s by profile)"},
    {NULL, NULL, NULL},
};

static int parse_flags(const char *what, const char *arg, const char *const *names, int n,
                       bool *out, char *err)
{
    char **v = ab_split_list(arg, err);
    if (!v)
        return ab_err(err, "--%s: empty list", what);
    for (size_t i = 0; v[i]; i++) {
        bool found = false;
        for (int k = 0; k < n; k++)
            if (strcasecmp(v[i], names[k]) == 0)
                out[k] = found = true;
        if (!found) {
            char known[128] = "";
            for (int k = 0; k < n; k++) {
                size_t len = strlen(known);
                snprintf(known + len, sizeof(known) - len, "%s%s", k ? ", " : "", names[k]);
            }
            ab_err(err, "--%s: unknown value '%s' (%s)", what, v[i], known);
            ab_strv_free(v);
            return -1;
        }
    }
    ab_strv_free(v);
    return 0;
}

static int square_sizes(const char *profile, const int64_t **v, size_t *n)
{
    /* The sweep for each profile; the time budget and device memory end it earlier. The full
     * profile adds the 1.5x steps, whose sizes are not powers of two (tile edges show). */
    static const int64_t quick[] = {256, 1024, 4096};
    static const int64_t standard[] = {256, 512, 1024, 2048, 4096, 8192, 16384};
    static const int64_t full[] = {256,  384,  512,  768,   1024,  1536,  2048, 3072,
                                   4096, 6144, 8192, 12288, 16384, 24576, 32768};
    if (strcmp(profile, "quick") == 0)
        *v = quick, *n = sizeof(quick) / sizeof(quick[0]);
    else if (strcmp(profile, "standard") == 0)
        *v = standard, *n = sizeof(standard) / sizeof(standard[0]);
    else
        *v = full, *n = sizeof(full) / sizeof(full[0]);
    return 0;
}

/* ---- per-dtype operand types -------------------------------------------------------------- */

/* Input types of a dtype. e5m2 multiplies an e5m2 A by an e4m3 B: the FP8 training
 * combination (gradients x weights), and cuBLASLt has no e5m2 x e5m2. */
static void dtype_inputs(ab_dtype dt, ab_gemm_type *a, ab_gemm_type *b, bool *tf32)
{
    static const ab_gemm_type in[AB_DT_COUNT] = {
        [AB_DT_F64] = AB_GT_F64,  [AB_DT_F32] = AB_GT_F32,   [AB_DT_TF32] = AB_GT_F32,
        [AB_DT_BF16] = AB_GT_BF16, [AB_DT_F16] = AB_GT_F16,  [AB_DT_E4M3] = AB_GT_E4M3,
        [AB_DT_E5M2] = AB_GT_E5M2, [AB_DT_I8] = AB_GT_I8,
    };
    *a = in[dt];
    *b = dt == AB_DT_E5M2 ? AB_GT_E4M3 : in[dt];
    *tf32 = dt == AB_DT_TF32;
}

/* Output types an implementation may write, in order of preference: the input type for
 * bf16/f16 (what torch.matmul gives), bf16 for fp8, i32 for i8; f32 where a library offers
 * only that (OpenBLAS sbgemm; the portable kernels). */
static int out_candidates(ab_dtype dt, ab_gemm_type *c)
{
    switch (dt) {
    case AB_DT_F64: c[0] = AB_GT_F64; return 1;
    case AB_DT_F32:
    case AB_DT_TF32: c[0] = AB_GT_F32; return 1;
    case AB_DT_BF16: c[0] = AB_GT_BF16, c[1] = AB_GT_F32; return 2;
    case AB_DT_F16: c[0] = AB_GT_F16, c[1] = AB_GT_F32; return 2;
    case AB_DT_E4M3:
    case AB_DT_E5M2: c[0] = AB_GT_BF16, c[1] = AB_GT_F16, c[2] = AB_GT_F32; return 3;
    case AB_DT_I8: c[0] = AB_GT_I32; return 1;
    default: return 0;
    }
}
/* --tokens, or the profile's token counts */
static int parse_tokens(const char *tk, bool quick, int64_t tokens[64], size_t *n, char *err)
{
    size_t ntok = 0;
    if (tk) {
        char **v = ab_split_list(tk, err);
        if (!v)
            return ab_err(err, "--tokens: empty list");
        for (size_t i = 0; v[i]; i++) {
            long t;
            char e2[AB_ERRLEN];
            if (ntok == 64 || ab_parse_long(v[i], "--tokens", 1, 2147483647L, &t, e2) != 0) {
                ab_err(err, "%s", ntok == 64 ? "--tokens: more than 64 values" : e2);
                ab_strv_free(v);
                return -1;
            }
            tokens[ntok++] = t;
        }
        ab_strv_free(v);
    } else if (quick) {
        static const int64_t def[] = {1, 128, 8192}; /* decode, a short and a long prefill */
        memcpy(tokens, def, sizeof(def));
        ntok = sizeof(def) / sizeof(def[0]);
    } else {
        static const int64_t def[] = {1, 16, 128, 1024, 8192};
        memcpy(tokens, def, sizeof(def));
        ntok = sizeof(def) / sizeof(def[0]);
    }
    *n = ntok;
    return 0;
}

static int plan_make(const ab_options *o, ab_gemm_plan *p, char *err)
{
    memset(p, 0, sizeof(*p));
    bool quick = strcmp(o->profile, "quick") == 0;
    const char *dt = ab_opt_param(o, "dtype");
    if (!dt && quick) {
        /* one type of each family: classic f32, bf16 (LLMs), fp8, int8 */
        p->dtype[AB_DT_F32] = p->dtype[AB_DT_BF16] = p->dtype[AB_DT_E4M3] = p->dtype[AB_DT_I8] = true;
    } else if (!dt) {
        for (int i = 0; i < AB_DT_COUNT; i++)
            p->dtype[i] = true;
    } else {
        if (ab_dtype_list(dt, p->dtype, err) != 0)
            return -1;
    }
    static const char *const impls[AB_GEMM_NIMPL] = {"vendor", "portable"};
    const char *im = ab_opt_param(o, "impl");
    if (parse_flags("impl", im ? im : "vendor,portable", impls, AB_GEMM_NIMPL, p->impl, err))
        return -1;
    const char *la = ab_opt_param(o, "layout");
    p->layout_given = la != NULL;
    if (parse_flags("layout", la ? la : quick ? "NT" : "NN,NT,TN", layout_names, AB_GL_COUNT,
                    p->layout, err))
        return -1;
    const char *bu = ab_opt_param(o, "gemm-budget");
    if (bu) {
        if (ab_parse_double(bu, "--gemm-budget", &p->budget, err) != 0)
            return -1;
    } else {
        p->budget = quick ? 0.1 : strcmp(o->profile, "standard") == 0 ? 2.0 : 20.0;
    }
    const char *sh = ab_opt_param(o, "shape");
    const char *ss = ab_opt_param(o, "shape-set"), *tk = ab_opt_param(o, "tokens");
    const char *sf = ab_opt_param(o, "shape-file");
    if (sh) {
        const char *sm = ab_opt_param(o, "square-max");
        if (ss || tk || sf || sm)
            return ab_err(err, "--shape replaces the shape sets: drop --%s",
                          ss ? "shape-set" : tk ? "tokens" : sf ? "shape-file" : "square-max");
        p->custom = true;
        return ab_gemm_parse_shapes(sh, &p->shapes, &p->nshapes, err);
    }
    int64_t tokens[64];
    size_t ntok = 0;
    if (parse_tokens(tk, quick, tokens, &ntok, err) != 0)
        return -1;
    ab_gemm_layer *layers = NULL;
    size_t nl = 0;
    char e2[AB_ERRLEN];
    if (ab_gemm_layers_load(sf, &layers, &nl, e2) != 0)
        return ab_err(err, "%s%s", sf ? "--shape-file: " : "", e2);
    const int64_t *sq;
    size_t nsq;
    square_sizes(o->profile, &sq, &nsq);
    const char *smax = ab_opt_param(o, "square-max");
    if (smax) {
        long v;
        char e3[AB_ERRLEN];
        if (ab_parse_long(smax, "--square-max", 1, 2147483647L, &v, e3) != 0) {
            free(layers);
            return ab_err(err, "%s", e3);
        }
        while (nsq > 0 && sq[nsq - 1] > v)
            nsq--;
        if (nsq == 0) {
            free(layers);
            return ab_err(err, "--square-max: %ld is below the smallest square size, %lld", v,
                          (long long)sq[0]);
        }
    }
    int rc = ab_gemm_expand_sets(ss ? ss : quick ? "square,llama3_8b" : "all", layers, nl, tokens,
                                 ntok, sq, nsq, &p->shapes, &p->nshapes, err);
    free(layers);
    return rc;
}
static void plan_free(ab_gemm_plan *p)
{
    free(p->shapes);
    p->shapes = NULL;
}

static int gemm_plan_init(const ab_options *o, void *p, char *err)
{
    return plan_make(o, p, err);
}

static void gemm_plan_clear(void *p)
{
    plan_free(p);
}

/* ---- generation ---- */

/* headline series: the largest passing square size per implementation and dtype, emitted in
 * this order when the sweep ends */
static const char *const series[AB_GEMM_NIMPL][AB_DT_COUNT] = {
    {"vendor/f64", "vendor/f32", "vendor/tf32", "vendor/bf16", "vendor/f16", "vendor/e4m3",
     "vendor/e5m2", "vendor/i8"},
    {"portable/f64", "portable/f32", "portable/tf32", "portable/bf16", "portable/f16",
     "portable/e4m3", "portable/e5m2", "portable/i8"},
};

static const char *impl_label(const ab_gemm_backend *gb, int impl)
{
    return gb->impl[impl] ? gb->impl[impl]->name : impl == AB_GEMM_VENDOR ? "vendor" : "portable";
}

static int suite_skip(ab_caselist *l, int impl, int dt, const char *why)
{
    ab_result *r = ab_caselist_result(l, "gemm", impl == AB_GEMM_VENDOR ? "vendor" : "portable");
    if (!r)
        return -1;
    if (dt >= 0)
        ab_result_param_str(r, "dtype", ab_dtype_name((ab_dtype)dt));
    ab_result_set_status(r, AB_SKIP, "%s", why);
    return 0;
}

/* Which implementation can do which dtype on this device (and into which output type):
 * decided once, one skip each where not. */
static int decide_usable(ab_caselist *l)
{
    ab_gemm_plan *p = ab_caselist_plan(l);
    const ab_gemm_backend *gb = ab_caselist_impl(l);
    void *h = ab_caselist_ctx(l)->dev->h;
    for (int i = 0; i < AB_GEMM_NIMPL; i++) {
        if (!p->impl[i])
            continue;
        if (!gb->impl[i]) {
            if (suite_skip(l, i, -1, gb->absent[i] ? gb->absent[i] : "not implemented") != 0)
                return -1;
            continue;
        }
        for (int d = 0; d < AB_DT_COUNT; d++) {
            if (!p->dtype[d])
                continue;
            ab_gemm_type c[3];
            int nc = out_candidates((ab_dtype)d, c);
            char why[AB_ERRLEN] = "", first[AB_ERRLEN] = "";
            ab_gemm_op op = {.m = 256, .n = 256, .k = 256, .lda = 256, .ldb = 256, .ldc = 256,
                             .batch = 1, .alpha = 1.0};
            dtype_inputs((ab_dtype)d, &op.a, &op.b, &op.tf32);
            for (int q = 0; q < nc && !p->usable[i][d]; q++) {
                op.c = c[q];
                if (gb->impl[i]->dtype_ok(h, &op, why) == 0) {
                    p->usable[i][d] = true;
                    p->out[i][d] = c[q];
                } else if (q == 0) {
                    ab_strlcpy(first, why, sizeof(first));
                }
            }
            if (!p->usable[i][d] && suite_skip(l, i, d, first) != 0)
                return -1;
        }
    }
    return 0;
}

static int first_layout(const ab_gemm_plan *p)
{
    for (int l = 0; l < AB_GL_COUNT; l++)
        if (p->layout[l])
            return l;
    return 0;
}

/* A case of pair (impl, layout) in g: params in the order results always had them. */
static ab_case *add_pair(ab_group *g, const ab_case_ops *ops, int impl, int layout)
{
    const ab_gemm_group *gd = g->data;
    const ab_gemm_plan *p = ab_caselist_plan(g->list);
    const ab_gemm_shape *sh = &gd->sh;
    char key[64];
    snprintf(key, sizeof(key), "gemm.%s", sh->set);
    ab_case *c = ab_case_add(g, key, impl_label(ab_caselist_impl(g->list), impl), ops,
                             sizeof(ab_gemm_case));
    if (!c)
        return NULL;
    *(ab_gemm_case *)c->data = (ab_gemm_case){.impl = impl, .layout = layout};
    ab_result *r = c->r;
    ab_result_param_str(r, "dtype", ab_dtype_name(gd->dt));
    ab_result_param_int(r, "m", sh->m);
    ab_result_param_int(r, "n", sh->n);
    ab_result_param_int(r, "k", sh->k);
    ab_result_param_str(r, "layout", layout_names[layout]);
    ab_result_param_str(r, "out", ab_gemm_type_name(p->out[impl][gd->dt]));
    if (*sh->layer) {
        ab_result_param_str(r, "layer", sh->layer);
        ab_result_param_int(r, "tokens", sh->tokens);
    }
    int threads = ab_gemm_cpu_threads(ab_caselist_ctx(g->list)->dev);
    if (threads >= 0)
        ab_result_param_int(r, "threads", threads);
    return c;
}

/* The measuring case: formulas (the recorded text), element sizes, headline series. */
static int add_run(ab_group *g, int impl, int layout)
{
    const ab_gemm_group *gd = g->data;
    const ab_gemm_plan *p = ab_caselist_plan(g->list);
    const ab_gemm_op *op = &gd->op[impl][layout];
    ab_case *c = add_pair(g, &ab_gemm_run_ops, impl, layout);
    if (!c)
        return -1;
    bool integer = gd->dt == AB_DT_I8;
    if (strcmp(gd->sh.set, "square") == 0 && layout == first_layout(p)) {
        c->headline = true;
        c->series = series[impl][gd->dt];
    }
    if (ab_case_var(c, "sa", (double)ab_gemm_type_size(op->a)) != 0 ||
        ab_case_var(c, "sb", (double)ab_gemm_type_size(op->b)) != 0 ||
        ab_case_var(c, "sc", (double)ab_gemm_type_size(op->c)) != 0 ||
        ab_case_metric(c, "throughput", integer ? "OP/s" : "FLOP/s", true, "2*m*n*k",
                       integer ? "2*m*n*k OP / t (multiply and add)"
                               : "2*m*n*k FLOP / t (multiply and add)") != 0)
        return -1;
    /* skinny products (few tokens) are bound by memory: bytes of A, B and C, each moved once */
    if ((op->m <= 128 || op->n <= 128) &&
        ab_case_metric(c, "bandwidth", "B/s", true, "m*k*sa + k*n*sb + m*n*sc",
                       "(m*k*sa + k*n*sb + m*n*sc) B / t: each matrix moved once") != 0)
        return -1;
    return 0;
}

/* One shape and dtype: a group, the pairs' skip-first cases (by implementation), then their
 * measuring cases (by layout). No group where no implementation can do the dtype. */
static int add_shape_dtype(ab_caselist *l, const ab_gemm_shape *sh, ab_dtype dt, bool *flush)
{
    const ab_gemm_plan *p = ab_caselist_plan(l);
    ab_gemm_group gd = {.sh = *sh, .dt = dt, .ref_layout = -1};
    bool any = false;
    ab_gemm_type ta, tb;
    bool tf32;
    dtype_inputs(dt, &ta, &tb, &tf32);
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int y = 0; y < AB_GL_COUNT; y++) {
            /* an LLM layer is y = x W^T with W stored [out, in]: the NT layout, unless asked */
            bool want = *sh->layer && !p->layout_given ? y == AB_GL_NT : p->layout[y];
            ab_gemm_op *op = &gd.op[i][y];
            *op = (ab_gemm_op){.a = ta, .b = tb, .c = p->out[i][dt], .tf32 = tf32,
                               .ta = y == AB_GL_TN, .tb = y == AB_GL_NT, .m = sh->m, .n = sh->n,
                               .k = sh->k, .batch = 1, .alpha = 1.0, .beta = 0.0};
            op->lda = op->ta ? op->m : op->k;
            op->ldb = op->tb ? op->k : op->n;
            op->ldc = op->n;
            any |= gd.want[i][y] = want && p->usable[i][dt];
        }
    if (!any)
        return 0;
    char key[64];
    snprintf(key, sizeof(key), "gemm.%s", sh->set);
    ab_group *g = ab_group_add(l, key, NULL, &ab_gemm_group_ops, sizeof(ab_gemm_group));
    if (!g)
        return -1;
    *(ab_gemm_group *)g->data = gd;
    g->flush_series = *flush;
    *flush = false;
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int y = 0; y < AB_GL_COUNT; y++)
            if (gd.want[i][y] && !add_pair(g, &ab_gemm_pre_ops, i, y))
                return -1;
    for (int y = 0; y < AB_GL_COUNT; y++)
        for (int i = 0; i < AB_GEMM_NIMPL; i++)
            if (gd.want[i][y] && add_run(g, i, y) != 0)
                return -1;
    return 0;
}

static int gemm_generate(ab_caselist *l, char *err)
{
    const ab_gemm_plan *p = ab_caselist_plan(l);
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int d = 0; d < AB_DT_COUNT; d++)
            if (ab_caselist_series(l, series[i][d]) != 0)
                return ab_err(err, "out of memory");
    if (decide_usable(l) != 0)
        return ab_err(err, "out of memory");
    /* shapes in order (each set ascending), every dtype for a shape before the next shape;
     * the first shape after the square sweep releases its headlines */
    bool flush = false;
    for (size_t s = 0; s < p->nshapes; s++) {
        const ab_gemm_shape *sh = &p->shapes[s];
        if (s > 0 && strcmp(p->shapes[s - 1].set, "square") == 0 &&
            strcmp(sh->set, "square") != 0)
            flush = true;
        for (int d = 0; d < AB_DT_COUNT; d++)
            if (p->dtype[d] && add_shape_dtype(l, sh, (ab_dtype)d, &flush) != 0)
                return ab_err(err, "out of memory");
    }
    return 0;
}

static const void *gemm_impl(const ab_device *d)
{
    return ab_device_impls(d)->gemm;
}

static const ab_case_suite gemm_cases = {
    .impl = gemm_impl,
    .plan_size = sizeof(ab_gemm_plan),
    .plan_init = gemm_plan_init,
    .plan_clear = gemm_plan_clear,
    .generate = gemm_generate,
};

/* the square sweep over its edge (m = n = k), the LLM layer shapes over the token count */
static const ab_sweep_decl sweeps[] = {
    {"gemm.square", "n", false}, {"gemm.llama3", "tokens", false}, {NULL, NULL, false},
};

static const ab_suite_display gemm_display = {.sweeps = sweeps};

const ab_suite ab_suite_gemm = {
    .name = "gemm",
    .summary = "matrix multiply: vendor library and portable kernel, square sweep and LLM "
               "layer shapes, f64 to fp8 and int8, validated every run",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &gemm_cases,
    .display = &gemm_display,
};
