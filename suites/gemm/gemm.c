/* SPDX-License-Identifier: MIT */
/*
 * gemm suite descriptor and driver: shapes (square sweep, LLM shape sets, explicit shapes),
 * data generated in place on the device, sampling through the backend timer with rotating
 * buffer sets, validation of every run against an f64 reference, metrics. The kernels live in
 * gemm_<backend>.c / gemm_gpu.cu behind ab_gemm_backend (gemm.h).
 */
#include "gemm.h"

#include "../suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const keys[] = {"gemm.square", "gemm.llama3_8b", "gemm.llama3_70b",
                                   "gemm.custom", NULL};

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

enum { L_NN = 0, L_NT, L_TN, L_COUNT };
static const char *const layout_names[L_COUNT] = {"NN", "NT", "TN"};

/* seeds of the input matrices (any fixed values: the data must be the same every run) */
#define SEED_A 0x243F6A8885A308D3ull
#define SEED_B 0x13198A2E03707344ull

/* the full matrix is checked up to this many multiply-adds (~0.1 s of f64 reference) */
#define FULL_CHECK_MNK (1LL << 26)
/* sampled entries at least (rows x columns of a stratified grid) */
#define MIN_SAMPLES 256
/* at most this many buffer sets rotate for small shapes */
#define MAX_SETS 64
/* i8 sums stay below 2^31 for K up to 2^31 / 127^2 */
#define I8_MAX_K 133143

typedef struct gplan {
    bool dtype[AB_DT_COUNT];
    bool impl[AB_GEMM_NIMPL];
    bool layout[L_COUNT];
    bool layout_given; /* --layout: applies to every shape; otherwise LLM sets run NT only */
    ab_gemm_shape *shapes;
    size_t nshapes;
    bool custom; /* shapes given with --shape: never skipped for time */
    double budget;
} gplan;

static void plan_free(gplan *p)
{
    free(p->shapes);
    p->shapes = NULL;
}

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

static int plan_make(const ab_options *o, gplan *p, char *err)
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
    if (parse_flags("layout", la ? la : quick ? "NT" : "NN,NT,TN", layout_names, L_COUNT,
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

static int gemm_check(const ab_options *o, char *err)
{
    gplan p;
    int rc = plan_make(o, &p, err);
    plan_free(&p);
    return rc;
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

/* ---- run state ------------------------------------------------------------------------------- */

typedef struct gstate {
    ab_suite_ctx *ctx;
    const ab_backend_ops *ops;
    const ab_gemm_backend *gb;
    gplan plan;
    bool usable[AB_GEMM_NIMPL][AB_DT_COUNT]; /* implementation present and dtype supported */
    ab_gemm_type out[AB_GEMM_NIMPL][AB_DT_COUNT];
    double rate[AB_GEMM_NIMPL][AB_DT_COUNT]; /* best FLOP/s seen, for the time estimate */
    double bw[AB_GEMM_NIMPL][AB_DT_COUNT];   /* best B/s seen on skinny shapes */
    int headline_layout;
    /* the latest passing square result per implementation and dtype, held back until the
     * sweep ends so the largest one can be marked as the headline */
    ab_result *held[AB_GEMM_NIMPL][AB_DT_COUNT];
} gstate;

static bool is_cpu(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* Memory a case may use: the device's, and on devices computing in host memory what the host
 * has available now (other processes use it too). */
static uint64_t usable_memory(const ab_device *d)
{
    uint64_t m = d->info.mem_bytes;
    if (d->info.host_memory) {
        uint64_t a = mem_available();
        if (a && (!m || a < m))
            m = a;
    }
    return m;
}

static ab_result *new_result(gstate *st, const char *key, int impl, ab_dtype dt)
{
    ab_result *r = ab_suite_result(st->ctx, key, st->gb->impl[impl] ? st->gb->impl[impl]->name
                                                 : impl == AB_GEMM_VENDOR ? "vendor"
                                                                          : "portable");
    if (r)
        ab_result_param_str(r, "dtype", ab_dtype_name(dt));
    return r;
}

static void shape_params(gstate *st, ab_result *r, const ab_gemm_shape *sh, int layout, int impl,
                         ab_dtype dt)
{
    ab_result_param_int(r, "m", sh->m);
    ab_result_param_int(r, "n", sh->n);
    ab_result_param_int(r, "k", sh->k);
    ab_result_param_str(r, "layout", layout_names[layout]);
    ab_result_param_str(r, "out", ab_gemm_type_name(st->out[impl][dt]));
    if (*sh->layer) {
        ab_result_param_str(r, "layer", sh->layer);
        ab_result_param_int(r, "tokens", sh->tokens);
    }
    if (is_cpu(st->ctx->dev))
        ab_result_param_int(r, "threads", st->ctx->dev->info.threads);
}

static const char *shape_key(const ab_gemm_shape *sh, char *buf, size_t len)
{
    snprintf(buf, len, "gemm.%s", sh->set);
    return buf;
}

/* Emits a skip for one (shape, impl, layout). */
static int emit_case_skip(gstate *st, const ab_gemm_shape *sh, ab_dtype dt, int impl, int layout,
                          const char *why)
{
    char key[64];
    ab_result *r = new_result(st, shape_key(sh, key, sizeof(key)), impl, dt);
    if (!r)
        return -1;
    shape_params(st, r, sh, layout, impl, dt);
    ab_result_set_status(r, AB_SKIP, "%s", why);
    return ab_emit(st->ctx, r);
}

/* ---- reference ------------------------------------------------------------------------------- */

typedef struct refset {
    int64_t *rows, *cols;
    size_t nr, nc;
    bool full;
    double *ref, *sumabs; /* nr x nc */
} refset;

static void refset_free(refset *r)
{
    free(r->rows);
    free(r->cols);
    free(r->ref);
    free(r->sumabs);
    memset(r, 0, sizeof(*r));
}

/* Picks n distinct indices of [0, total): one per stratum of equal width, the first and the
 * last stratum contributing the edges (where partial tiles live), the others a random member. */
static void stratified(int64_t total, size_t n, uint64_t seed, int64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int64_t lo = (int64_t)((double)total * (double)i / (double)n);
        int64_t hi = (int64_t)((double)total * (double)(i + 1) / (double)n);
        if (hi <= lo)
            hi = lo + 1;
        if (i == 0)
            out[i] = 0;
        else if (i + 1 == n)
            out[i] = total - 1;
        else
            out[i] = lo + (int64_t)(ab_gemm_hash(seed, i) % (uint64_t)(hi - lo));
    }
}

static double input_value(ab_gemm_type t, uint64_t seed, size_t idx)
{
    return ab_gemm_decode(t, ab_gemm_value_bits(t, seed, idx));
}

/* The entries to check and their f64 reference: the full matrix for small products, otherwise
 * a stratified grid of rows x columns with at least MIN_SAMPLES entries. */
static int refset_make(const ab_gemm_op *op, refset *r, char *err)
{
    memset(r, 0, sizeof(*r));
    int64_t M = op->m, N = op->n, K = op->k;
    r->full = (double)M * (double)N * (double)K <= (double)FULL_CHECK_MNK || M * N <= MIN_SAMPLES;
    if (r->full) {
        r->nr = (size_t)M;
        r->nc = (size_t)N;
    } else {
        r->nr = (size_t)(M < 16 ? M : 16);
        size_t want = (MIN_SAMPLES + r->nr - 1) / r->nr;
        r->nc = (size_t)(N < (int64_t)want ? N : (int64_t)want);
    }
    r->rows = malloc(r->nr * sizeof(*r->rows));
    r->cols = malloc(r->nc * sizeof(*r->cols));
    r->ref = malloc(r->nr * r->nc * sizeof(*r->ref));
    r->sumabs = malloc(r->nr * r->nc * sizeof(*r->sumabs));
    double *arow = malloc(r->nr * (size_t)K * sizeof(double));
    double *bcol = malloc(r->nc * (size_t)K * sizeof(double));
    if (!r->rows || !r->cols || !r->ref || !r->sumabs || !arow || !bcol) {
        free(arow);
        free(bcol);
        refset_free(r);
        return ab_err(err, "out of host memory for the validation reference");
    }
    if (r->full) {
        for (size_t i = 0; i < r->nr; i++)
            r->rows[i] = (int64_t)i;
        for (size_t j = 0; j < r->nc; j++)
            r->cols[j] = (int64_t)j;
    } else {
        stratified(M, r->nr, 0x5EED0001, r->rows);
        stratified(N, r->nc, 0x5EED0002, r->cols);
    }
    /* op(A) rows and op(B) columns, decoded once (values are a function of the storage index) */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < r->nr; i++)
        for (int64_t k = 0; k < K; k++) {
            int64_t m = r->rows[i];
            size_t idx = (size_t)(op->ta ? k * op->lda + m : m * op->lda + k);
            arow[i * (size_t)K + (size_t)k] = input_value(op->a, SEED_A, idx);
        }
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < r->nc; j++)
        for (int64_t k = 0; k < K; k++) {
            int64_t n = r->cols[j];
            size_t idx = (size_t)(op->tb ? n * op->ldb + k : k * op->ldb + n);
            bcol[j * (size_t)K + (size_t)k] = input_value(op->b, SEED_B, idx);
        }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < r->nr; i++)
        for (size_t j = 0; j < r->nc; j++) {
            const double *x = arow + i * (size_t)K, *y = bcol + j * (size_t)K;
            double s = 0.0, sa = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double p = x[k] * y[k];
                s += p;
                sa += fabs(p);
            }
            r->ref[i * r->nc + j] = s;
            r->sumabs[i * r->nc + j] = sa;
        }
    free(arow);
    free(bcol);
    return 0;
}

/* ---- one case: shape x dtype, every layout and implementation ------------------------------- */

typedef struct gcase {
    gstate *st;
    const ab_device *dev;
    const ab_gemm_impl *impl;
    void *plan;
    void **a, **b, **c;
    int nsets;
    long next;
    double budget; /* 0: no limit */
    double t_first;
    bool over_budget;
} gcase;

static int timed_gemm(void *arg, long iters, double *sec, char *err)
{
    gcase *c = arg;
    void *h = c->dev->h;
    const ab_backend_ops *ops = c->st->ops;
    if (ops->timer_start(h, err))
        return -1;
    for (long i = 0; i < iters; i++) {
        int s = (int)(c->next++ % c->nsets);
        if (c->impl->run(c->plan, c->a[s], c->b[s], c->c[s], err))
            return -1;
    }
    if (ops->timer_stop(h, sec, err))
        return -1;
    /* The estimate that let this case start was optimistic (a skinny shape is slower than the
     * square ones): one multiply far beyond the budget ends the case as a skip. */
    if (c->budget > 0 && *sec / (double)iters > 4.0 * c->budget) {
        c->over_budget = true;
        c->t_first = *sec / (double)iters;
        return ab_err(err, "over budget");
    }
    return 0;
}

/* Damages one sampled entry of C (buffer set 0), as a broken kernel would (--test-corrupt). */
static int corrupt_c(const gcase *c, const ab_gemm_op *op, const refset *r, char *err)
{
    int64_t i = r->rows[r->nr / 2], j = r->cols[r->nc / 2];
    size_t es = ab_gemm_type_size(op->c);
    uint64_t bits = ab_gemm_encode(op->c, -12345.0);
    unsigned char buf[8];
    for (size_t q = 0; q < es; q++)
        buf[q] = (unsigned char)(bits >> (8 * q)); /* little endian, as every target here */
    size_t off = (size_t)(i * op->ldc + j) * es;
    if (c->st->ops->copy(c->dev->h, AB_COPY_H2D, c->c[0], buf, off, es, err) ||
        c->st->ops->sync(c->dev->h, err))
        return -1;
    return 0;
}

typedef struct verdict {
    size_t checked, wrong, unwritten;
    int64_t wi, wj, ui, uj; /* worst wrong entry; first unwritten */
    double got, want, tol, worst_wrong;
    double max_ratio; /* largest |error| / tolerance over every checked entry */
} verdict;

static bool entry_unwritten(ab_gemm_type t, double v)
{
    return t == AB_GT_I32 ? v == -2147483648.0 : !isfinite(v);
}

/* Checks one buffer set's C: every entry written and finite, and the reference entries within
 * tolerance. C is read in slices of whole rows so host memory stays bounded. */
static int check_c(const gcase *c, const ab_gemm_op *op, const refset *r, void *cbuf, verdict *v,
                   void *scratch, size_t scratch_bytes, size_t ref_step, char *err)
{
    size_t es = ab_gemm_type_size(op->c), row_bytes = (size_t)op->ldc * es;
    size_t rows_per = scratch_bytes / row_bytes;
    if (rows_per == 0)
        rows_per = 1;
    size_t ri = 0; /* next reference row (rows ascending) */
    for (int64_t r0 = 0; r0 < op->m; r0 += (int64_t)rows_per) {
        int64_t r1 = r0 + (int64_t)rows_per < op->m ? r0 + (int64_t)rows_per : op->m;
        const void *h;
        if (is_cpu(c->dev)) {
            h = (const char *)cbuf + (size_t)r0 * row_bytes;
        } else {
            size_t bytes = (size_t)(r1 - r0) * row_bytes;
            if (r1 == op->m) /* the last row may be shorter than ldc */
                bytes = (size_t)(r1 - r0 - 1) * row_bytes + (size_t)op->n * es;
            if (c->st->ops->copy(c->dev->h, AB_COPY_D2H, scratch, cbuf, (size_t)r0 * row_bytes,
                                 bytes, err) ||
                c->st->ops->sync(c->dev->h, err))
                return -1;
            h = scratch;
        }
        for (int64_t i = r0; i < r1; i++) {
            const void *row = (const char *)h + (size_t)(i - r0) * row_bytes;
            for (int64_t j = 0; j < op->n; j++) {
                double x = ab_gemm_load(op->c, row, (size_t)j);
                if (entry_unwritten(op->c, x)) {
                    if (!v->unwritten)
                        v->ui = i, v->uj = j;
                    v->unwritten++;
                }
            }
            if (ri < r->nr && r->rows[ri] == i) {
                for (size_t q = 0; q < r->nc; q++) {
                    if ((ri * r->nc + q) % ref_step != 0)
                        continue;
                    double got = ab_gemm_load(op->c, row, (size_t)r->cols[q]);
                    double want = op->alpha * r->ref[ri * r->nc + q];
                    double tol = ab_gemm_tolerance(op, r->sumabs[ri * r->nc + q], r->ref[ri * r->nc + q]);
                    double d = fabs(got - want);
                    double ratio = d <= tol ? (tol > 0 ? d / tol : 0.0) : tol > 0 ? d / tol
                                                                                  : INFINITY;
                    if (isnan(d))
                        ratio = INFINITY;
                    v->checked++;
                    if (!(d <= tol)) {
                        if (!v->wrong || ratio > v->worst_wrong) {
                            v->worst_wrong = ratio;
                            v->wi = i, v->wj = r->cols[q];
                            v->got = got, v->want = want, v->tol = tol;
                        }
                        v->wrong++;
                    }
                    if (ratio > v->max_ratio)
                        v->max_ratio = ratio;
                }
                ri++;
            }
        }
    }
    return 0;
}

static void update_rate(gstate *st, int impl, ab_dtype dt, const ab_result *r)
{
    if (r->status != AB_PASS || !r->nmetrics)
        return;
    double v = r->metrics[0].stats.median;
    if (v > st->rate[impl][dt])
        st->rate[impl][dt] = v;
    const ab_metric *m = ab_result_metric(r, "bandwidth");
    if (m && m->stats.median > st->bw[impl][dt])
        st->bw[impl][dt] = m->stats.median;
}

static int emit_or_hold(gstate *st, ab_result *r, int impl, ab_dtype dt, bool square_headline)
{
    if (!square_headline || r->status != AB_PASS)
        return ab_emit(st->ctx, r);
    ab_result *prev = st->held[impl][dt];
    st->held[impl][dt] = r;
    return prev ? ab_emit(st->ctx, prev) : 0;
}

static int flush_held(gstate *st)
{
    int rc = 0;
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int d = 0; d < AB_DT_COUNT; d++)
            if (st->held[i][d]) {
                st->held[i][d]->headline = true;
                if (ab_emit(st->ctx, st->held[i][d]) != 0)
                    rc = -1;
                st->held[i][d] = NULL;
            }
    return rc;
}

/* Measures and validates one implementation on one layout; returns the result (never NULL
 * unless out of memory). */
static ab_result *measure_one(gstate *st, const ab_gemm_shape *sh, ab_dtype dt, int impl,
                              int layout, const ab_gemm_op *op, const refset *ref, void **a,
                              void **b, void **cbufs, int nsets, void *scratch,
                              size_t scratch_bytes)
{
    ab_suite_ctx *ctx = st->ctx;
    const ab_device *dev = ctx->dev;
    const ab_gemm_impl *im = st->gb->impl[impl];
    char key[64], err[AB_ERRLEN] = "";
    shape_key(sh, key, sizeof(key));
    ab_result *r = new_result(st, key, impl, dt);
    if (!r)
        return NULL;
    shape_params(st, r, sh, layout, impl, dt);
    r->extra = json_object();
    double t0 = ab_now();
    gcase c = {.st = st, .dev = dev, .impl = im, .a = a, .b = b, .c = cbufs, .nsets = nsets,
               .budget = st->plan.custom ? 0.0 : st->plan.budget};
    for (int s = 0; s < nsets; s++)
        if (st->gb->fill(dev->h, cbufs[s], op->c, (size_t)(op->m * op->ldc), AB_GEMM_SENTINEL,
                         err) != 0) {
            ab_result_set_status(r, AB_ERROR, "filling C: %s", err);
            goto out;
        }
    if (im->prepare(dev->h, op, &c.plan, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "prepare: %s", err);
        goto out;
    }
    char desc[512] = "";
    im->describe(c.plan, desc, sizeof(desc));
    json_object_set_new(r->extra, "library", json_string(desc));
    ab_timing t;
    if (ab_measure(&ctx->opt->sampling, timed_gemm, &c, &t, err) != 0) {
        if (c.over_budget)
            ab_result_set_status(r, AB_SKIP, "one multiply took %.3g s, over 4x the %.3g s budget "
                                             "of the %s profile (--gemm-budget)",
                                 c.t_first, st->plan.budget, ctx->opt->profile);
        else
            ab_result_set_status(r, AB_ERROR, "%s", err);
        ab_timing_free(&t);
        goto out;
    }
    r->warmup_runs = t.warmup_runs;
    r->iters_per_sample = t.iters;
    if (t.n == 0) {
        ab_result_set_status(r, AB_SKIP, "interrupted before the first sample");
        ab_timing_free(&t);
        goto out;
    }
    double flop = 2.0 * (double)op->m * (double)op->n * (double)op->k;
    double bytes = (double)op->m * (double)op->k * (double)ab_gemm_type_size(op->a) +
                   (double)op->k * (double)op->n * (double)ab_gemm_type_size(op->b) +
                   (double)op->m * (double)op->n * (double)ab_gemm_type_size(op->c);
    double *v = malloc(t.n * sizeof(*v));
    bool ok = v != NULL;
    for (size_t i = 0; ok && i < t.n; i++)
        v[i] = flop / t.per_iter[i];
    bool integer = dt == AB_DT_I8;
    ok = ok && ab_result_add_metric(r, "throughput", integer ? "OP/s" : "FLOP/s", true,
                                    integer ? "2*m*n*k OP / t (multiply and add)"
                                            : "2*m*n*k FLOP / t (multiply and add)",
                                    v, t.n);
    /* skinny products (few tokens) are bound by memory: bytes of A, B and C, each moved once */
    if (ok && (op->m <= 128 || op->n <= 128)) {
        for (size_t i = 0; i < t.n; i++)
            v[i] = bytes / t.per_iter[i];
        ok = ab_result_add_metric(r, "bandwidth", "B/s", true,
                                  "(m*k*sa + k*n*sb + m*n*sc) B / t: each matrix moved once", v,
                                  t.n) != NULL;
    }
    free(v);
    ab_timing_free(&t);
    if (!ok) {
        ab_result_set_status(r, AB_ERROR, "out of memory");
        goto out;
    }
    /* a slow device may have finished sampling before the rotation reached every set: compute
     * the rest (untimed) so every set's C is checked */
    for (long s = c.next; s < nsets; s++)
        if (im->run(c.plan, a[s], b[s], cbufs[s], err) != 0) {
            ab_result_set_status(r, AB_ERROR, "%s", err);
            goto out;
        }
    if (st->ops->sync(dev->h, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        goto out;
    }
    json_object_set_new(r->extra, "flop_per_iter", json_real(flop));
    json_object_set_new(r->extra, "bytes_per_iter", json_real(bytes));
    json_object_set_new(r->extra, "buffer_sets", json_integer(nsets));
    if (dt == AB_DT_E5M2)
        json_object_set_new(r->extra, "inputs", json_string("A e5m2 x B e4m3"));
    /* validation: every set's C, every run */
    if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0 &&
        corrupt_c(&c, op, ref, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "corrupting output: %s", err);
        goto out;
    }
    verdict vd;
    memset(&vd, 0, sizeof(vd));
    /* Copy 0 is compared on every reference entry; the other copies (the same inputs, the same
     * kernel) on an evenly spread subset of at least MIN_SAMPLES of them. Every entry of every
     * copy is scanned for being written and finite. */
    size_t nref = ref->nr * ref->nc, step = nref / MIN_SAMPLES > 1 ? nref / MIN_SAMPLES : 1;
    for (int s = 0; s < nsets; s++)
        if (check_c(&c, op, ref, cbufs[s], &vd, scratch, scratch_bytes, s == 0 ? 1 : step,
                    err) != 0) {
            ab_result_set_status(r, AB_ERROR, "validation: %s", err);
            goto out;
        }
    json_t *val = json_object();
    json_object_set_new(val, "entries_checked", json_integer((json_int_t)vd.checked));
    json_object_set_new(val, "full_matrix", json_boolean(ref->full));
    json_object_set_new(val, "reference", json_string("f64 accumulation of the exact inputs"));
    json_object_set_new(val, "max_error_over_tolerance",
                        isfinite(vd.max_ratio) ? json_real(vd.max_ratio) : json_null());
    json_object_set_new(r->extra, "validation", val);
    if (vd.unwritten)
        ab_result_set_status(r, AB_FAIL, "%zu of %lld entries of C not finite or never written "
                                         "(first C[%lld][%lld])",
                             vd.unwritten, (long long)(op->m * op->n * nsets), (long long)vd.ui,
                             (long long)vd.uj);
    else if (vd.wrong)
        ab_result_set_status(r, AB_FAIL, "%zu of %zu checked entries wrong: C[%lld][%lld] = %.9g, "
                                         "expected %.9g (tolerance %.3g)",
                             vd.wrong, vd.checked, (long long)vd.wi, (long long)vd.wj, vd.got,
                             vd.want, vd.tol);
out:
    if (c.plan)
        im->release(c.plan);
    r->time_spent = ab_now() - t0;
    return r;
}

static int run_shape_dtype(gstate *st, const ab_gemm_shape *sh, ab_dtype dt)
{
    ab_suite_ctx *ctx = st->ctx;
    const ab_device *dev = ctx->dev;
    const gplan *p = &st->plan;
    int rc = 0;
    /* which (implementation, layout) pairs run */
    bool run[AB_GEMM_NIMPL][L_COUNT];
    ab_gemm_op ops[AB_GEMM_NIMPL][L_COUNT];
    bool any = false;
    ab_gemm_type ta, tb;
    bool tf32;
    dtype_inputs(dt, &ta, &tb, &tf32);
    double flop = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
    double in_bytes = ((double)sh->m + (double)sh->n) * (double)sh->k *
                      (double)ab_gemm_type_size(ta);
    for (int i = 0; i < AB_GEMM_NIMPL && rc == 0; i++) {
        bool est_over = false;
        double est = 0.0;
        /* the time a multiply should take at the best rates seen so far on this device: an
         * optimistic estimate (never skips what would fit), refined once skinny shapes have
         * shown the memory bandwidth */
        if (st->usable[i][dt] && !p->custom && st->rate[i][dt] > 0) {
            est = flop / st->rate[i][dt];
            if (st->bw[i][dt] > 0 && in_bytes / st->bw[i][dt] > est)
                est = in_bytes / st->bw[i][dt];
            est_over = est > p->budget;
        }
        for (int l = 0; l < L_COUNT && rc == 0; l++) {
            run[i][l] = false;
            /* an LLM layer is y = x W^T with W stored [out, in]: the NT layout, unless asked */
            bool want = *sh->layer && !p->layout_given ? l == L_NT : p->layout[l];
            if (!want || !st->usable[i][dt])
                continue;
            ab_gemm_op *op = &ops[i][l];
            *op = (ab_gemm_op){.a = ta, .b = tb, .c = st->out[i][dt], .tf32 = tf32,
                               .ta = l == L_TN, .tb = l == L_NT, .m = sh->m, .n = sh->n,
                               .k = sh->k, .batch = 1, .alpha = 1.0, .beta = 0.0};
            op->lda = op->ta ? op->m : op->k;
            op->ldb = op->tb ? op->k : op->n;
            op->ldc = op->n;
            char why[AB_ERRLEN] = "";
            if (dt == AB_DT_I8 && sh->k > I8_MAX_K) {
                rc = emit_case_skip(st, sh, dt, i, l, "K above 133143: int32 sums of i8 products "
                                                      "could overflow");
            } else if (st->gb->impl[i]->supports(dev->h, op, why) != 0) {
                rc = emit_case_skip(st, sh, dt, i, l, why);
            } else if (est_over) {
                char msg[AB_ERRLEN];
                snprintf(msg, sizeof(msg),
                         "estimated %.3g s per multiply from the rates measured so far (%.4g "
                         "GFLOP/s), over the %.3g s budget of the %s profile (--gemm-budget)",
                         est, st->rate[i][dt] / 1e9, p->budget, ctx->opt->profile);
                rc = emit_case_skip(st, sh, dt, i, l, msg);
            } else {
                run[i][l] = any = true;
            }
        }
    }
    if (!any || rc != 0)
        return rc;

    /* memory: A and B once per buffer set, C per set for the widest output type */
    size_t sa = ab_gemm_type_size(ta), sb = ab_gemm_type_size(tb), sc = 0;
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int l = 0; l < L_COUNT; l++)
            if (run[i][l] && ab_gemm_type_size(ops[i][l].c) > sc)
                sc = ab_gemm_type_size(ops[i][l].c);
    double da = (double)sh->m * (double)sh->k * (double)sa;
    double db = (double)sh->k * (double)sh->n * (double)sb;
    double dc = (double)sh->m * (double)sh->n * (double)sc;
    double foot = da + db + dc;
    double usable = 0.85 * (double)usable_memory(dev);
    /* headroom for library workspaces and packing buffers */
    double need1 = foot + (64.0 * 1024 * 1024);
    char why[AB_ERRLEN] = "";
    if (usable > 0 && need1 > usable) {
        char nb[32], ub[32];
        ab_format_bytes((uint64_t)need1, nb, sizeof(nb));
        ab_format_bytes((uint64_t)usable, ub, sizeof(ub));
        snprintf(why, sizeof(why), "does not fit: A, B and C need %.3g GB, more than the %.3g GB "
                                   "usable on this device",
                 need1 / 1e9, usable / 1e9);
    }
    int nsets = 1;
    if (!*why) {
        /* rotate enough copies that together they exceed the last-level cache 3x: each
         * multiply then reads its operands from memory, as in a model with many layers */
        double llc = dev->info.cache_bytes ? (double)dev->info.cache_bytes : 32.0 * 1024 * 1024;
        double want = ceil(3.0 * llc / foot);
        nsets = want > MAX_SETS ? MAX_SETS : want < 1 ? 1 : (int)want;
        while (nsets > 1 && (double)nsets * foot > 0.25 * usable)
            nsets--;
    }
    void *A[MAX_SETS] = {0}, *B[MAX_SETS] = {0}, *C[MAX_SETS] = {0};
    void *scratch = NULL;
    size_t scratch_bytes = 0;
    for (int s = 0; s < nsets && !*why; s++) {
        if (st->ops->mem_alloc(dev->h, (size_t)da, &A[s], why) ||
            st->ops->mem_alloc(dev->h, (size_t)db, &B[s], why) ||
            st->ops->mem_alloc(dev->h, (size_t)dc, &C[s], why))
            break;
        if (st->gb->fill(dev->h, A[s], ta, (size_t)(sh->m * sh->k), SEED_A, why) ||
            st->gb->fill(dev->h, B[s], tb, (size_t)(sh->k * sh->n), SEED_B, why))
            break;
    }
    if (!*why && !is_cpu(dev)) {
        /* host slice for reading C back: whole rows, about 64 MiB */
        size_t row = (size_t)sh->n * sc;
        size_t rows = (64u << 20) / row;
        scratch_bytes = (rows ? rows : 1) * row;
        if (!(scratch = malloc(scratch_bytes)))
            snprintf(why, sizeof(why), "out of host memory for reading C back");
    }
    for (int l = 0; l < L_COUNT && rc == 0; l++) {
        /* one reference per layout, shared by the implementations (only C's type differs) */
        refset ref;
        char err[AB_ERRLEN] = "";
        bool have_ref = false, ref_failed = false;
        for (int i = 0; i < AB_GEMM_NIMPL && rc == 0; i++) {
            if (!run[i][l])
                continue;
            if (*why) {
                rc = emit_case_skip(st, sh, dt, i, l, why);
                continue;
            }
            if (ab_interrupted())
                continue;
            if (!have_ref && !ref_failed) {
                ref_failed = refset_make(&ops[i][l], &ref, err) != 0;
                have_ref = !ref_failed;
            }
            ab_result *r;
            if (ref_failed) {
                char key[64];
                r = new_result(st, shape_key(sh, key, sizeof(key)), i, dt);
                if (r) {
                    shape_params(st, r, sh, l, i, dt);
                    ab_result_set_status(r, AB_ERROR, "%s", err);
                }
            } else {
                r = measure_one(st, sh, dt, i, l, &ops[i][l], &ref, A, B, C, nsets, scratch,
                                scratch_bytes);
            }
            if (!r) {
                rc = -1;
                break;
            }
            update_rate(st, i, dt, r);
            bool hl = strcmp(sh->set, "square") == 0 && l == st->headline_layout;
            rc = emit_or_hold(st, r, i, dt, hl);
        }
        if (have_ref)
            refset_free(&ref);
    }
    for (int s = 0; s < nsets; s++) {
        if (A[s])
            st->ops->mem_free(dev->h, A[s]);
        if (B[s])
            st->ops->mem_free(dev->h, B[s]);
        if (C[s])
            st->ops->mem_free(dev->h, C[s]);
    }
    free(scratch);
    return rc;
}

static bool set_selected(const ab_suite_ctx *ctx, const char *set)
{
    char key[64];
    snprintf(key, sizeof(key), "gemm.%s", set);
    /* sets from a user's --shape-file have keys outside the static list: "gemm" selects them */
    return ab_suite_key_selected(ctx, key);
}

static int emit_suite_skip(gstate *st, int impl, int dt, const char *why)
{
    ab_result *r = ab_suite_result(st->ctx, "gemm", impl == AB_GEMM_VENDOR ? "vendor" : "portable");
    if (!r)
        return -1;
    if (dt >= 0)
        ab_result_param_str(r, "dtype", ab_dtype_name((ab_dtype)dt));
    ab_result_set_status(r, AB_SKIP, "%s", why);
    return ab_emit(st->ctx, r);
}

static int gemm_run(ab_suite_ctx *ctx)
{
    ab_device *dev = ctx->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    const ab_gemm_backend *gb = ab_device_impls(dev)->gemm;
    if (!gb) {
        ab_result *r = ab_suite_result(ctx, "gemm", "none");
        if (!r)
            return -1;
        ab_result_set_status(r, AB_SKIP, "gemm has no %s implementation", dev->backend->name);
        return ab_emit(ctx, r);
    }
    gstate *st = calloc(1, sizeof(*st));
    if (!st)
        return -1;
    st->ctx = ctx;
    st->ops = ops;
    st->gb = gb;
    char err[AB_ERRLEN] = "";
    if (plan_make(ctx->opt, &st->plan, err) != 0) {
        free(st);
        ab_result *r = ab_suite_result(ctx, "gemm", "none");
        if (!r)
            return -1;
        ab_result_set_status(r, AB_ERROR, "%s", err);
        return ab_emit(ctx, r);
    }
    int rc = 0;
    for (int l = 0; l < L_COUNT; l++)
        if (st->plan.layout[l]) {
            st->headline_layout = l;
            break;
        }
    /* which implementation can do which dtype on this device: decided once, one skip each */
    for (int i = 0; i < AB_GEMM_NIMPL && rc == 0; i++) {
        if (!st->plan.impl[i])
            continue;
        if (!gb->impl[i]) {
            rc = emit_suite_skip(st, i, -1, gb->absent[i] ? gb->absent[i] : "not implemented");
            continue;
        }
        for (int d = 0; d < AB_DT_COUNT && rc == 0; d++) {
            if (!st->plan.dtype[d])
                continue;
            ab_gemm_type c[3];
            int nc = out_candidates((ab_dtype)d, c);
            char why[AB_ERRLEN] = "", first[AB_ERRLEN] = "";
            ab_gemm_op op = {.m = 256, .n = 256, .k = 256, .lda = 256, .ldb = 256, .ldc = 256,
                             .batch = 1, .alpha = 1.0};
            dtype_inputs((ab_dtype)d, &op.a, &op.b, &op.tf32);
            for (int q = 0; q < nc && !st->usable[i][d]; q++) {
                op.c = c[q];
                if (gb->impl[i]->dtype_ok(dev->h, &op, why) == 0) {
                    st->usable[i][d] = true;
                    st->out[i][d] = c[q];
                } else if (q == 0) {
                    ab_strlcpy(first, why, sizeof(first));
                }
            }
            if (!st->usable[i][d])
                rc = emit_suite_skip(st, i, d, first);
        }
    }
    /* shapes in order (each set ascending), every dtype for a shape before the next shape */
    for (size_t s = 0; s < st->plan.nshapes && rc == 0 && !ab_interrupted(); s++) {
        const ab_gemm_shape *sh = &st->plan.shapes[s];
        if (!set_selected(ctx, sh->set))
            continue;
        if (s > 0 && strcmp(st->plan.shapes[s - 1].set, "square") == 0 &&
            strcmp(sh->set, "square") != 0)
            rc = flush_held(st); /* the sweep is over: its largest passing sizes are known */
        for (int d = 0; d < AB_DT_COUNT && rc == 0 && !ab_interrupted(); d++)
            if (st->plan.dtype[d])
                rc = run_shape_dtype(st, sh, (ab_dtype)d);
    }
    if (flush_held(st) != 0)
        rc = -1;
    plan_free(&st->plan);
    free(st);
    return rc;
}

const ab_suite ab_suite_gemm = {
    .name = "gemm",
    .summary = "matrix multiply: vendor library and portable kernel, square sweep and LLM "
               "layer shapes, f64 to fp8 and int8, validated every run",
    .keys = keys,
    .params = params,
    .check = gemm_check,
    .run = gemm_run,
};
