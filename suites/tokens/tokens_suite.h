/* SPDX-License-Identifier: MIT */
/*
 * The tokens suite's own declarations shared by its driver files (not a public interface, not
 * included by CUDA/HIP code):
 *   tokens.c        descriptor, parameters, the plan, defaults, layers that fit, the GEMM
 *                   implementation per phase, the cases generated for the runner loop
 *                   (suites/case.h): one group per dtype (the model), one case per point
 *   tokens_point.c  one point: the phase, its two timings (k layers; final norm + LM head), the
 *                   derived step-time samples, corruption and validation
 *   tokens_roof.c   the same-run references (membw bandwidth, the model's GEMM rate) and the
 *                   roofline of a point, measured and from the datasheet
 *   tokens_cost.c   the price of a device-hour, tokens per dollar, tokens per joule
 *   tokens_carbon.c the grid's carbon intensity where the run is, gCO2e per 1M tokens
 */
#ifndef AB_TOKENS_SUITE_H
#define AB_TOKENS_SUITE_H

#include "../../core/peaks.h"
#include "../case.h"
#include "model.h"
#include "step.h"

#include <string.h>

#define AB_TOK_MAXL 32

/* The suite's options (plan_make), completed per device by defaults(). */
typedef struct ab_tok_opts {
    ab_llm m;
    bool model_set;
    int layers_run; /* 0: auto */
    ab_tok_type dt[2];
    int ndt;
    int impl; /* -1: auto */
    long prefill[AB_TOK_MAXL], batch[AB_TOK_MAXL], ctx[AB_TOK_MAXL];
    size_t nprefill, nbatch, nctx;
    double price; /* < 0: none given */
    const char *sheet;
    const char *region;       /* --region: overrides the detected region */
    const char *carbon_sheet; /* --carbon-sheet (NULL: data/carbon-intensity.csv) */
    const char *shape;        /* --model-shape, applied to the preset */
} ab_tok_opts;

/* The price of one device-hour, or why there is none. */
typedef struct ab_tok_price {
    bool ok;
    double usd_per_hour;
    char source[512], date[32], why[AB_ERRLEN], matched[256];
} ab_tok_price;

/* The grid's carbon intensity where the run is, or why it is unknown. */
typedef struct ab_tok_carbon {
    bool ok;
    double g_per_kwh;
    char region[128], region_source[192], source[512], date[32], matched[256], why[AB_ERRLEN];
} ab_tok_carbon;

/* The plan of one device run (ab_case_suite.plan_new; completed in generate). */
typedef struct ab_tok_plan {
    ab_tok_opts o;
    ab_tok_price pr;
    ab_tok_carbon cb;
    ab_peaks peaks;
    bool have_peaks;
} ab_tok_plan;

/* The roofline's same-run references. */
typedef struct ab_tok_refs {
    double bw; /* B/s: the better of read and triad */
    char bw_what[128];
    double gemm; /* FLOP/s */
    char gemm_what[160];
    char bw_why[AB_ERRLEN], gemm_why[AB_ERRLEN];
} ab_tok_refs;

/* Group data: one dtype, its model shared by the points. */
typedef struct ab_tok_group {
    ab_tok_type wt;
    int impl;  /* the model's GEMM implementation (sets the GEMM output type) */
    int pimpl; /* prefill's, for the GEMM roof measured without prefill points */
    int k;     /* layers run; 0: none fit (why) */
    char why[AB_ERRLEN];
    ab_tok_model *mdl;
    ab_tok_refs rf; /* the GEMM roof of the last prefill point carries over to decode */
} ab_tok_group;

/* Case data: one point. len: the prompt length of a prefill point (input_len), the cache
 * length of a decode point (context). */
typedef struct ab_tok_point {
    bool prefill;
    int impl, batch;
    long len;
    ab_tok_phase *ph;
    double w0, w1; /* the layers' measurement window (ab_now) */
    double head;   /* median seconds of the final norm + LM head */
} ab_tok_point;

/* ---- capabilities (ab_device_info) and the kernel tables it borrows ---- */

/* host threads run the kernels (decode then takes the portable GEMM) */
static inline bool ab_tok_cpu_backend(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

static inline const ab_gemm_backend *ab_tok_gemm_backend(const ab_device *d)
{
    return ab_device_impls(d)->gemm;
}

static inline const void *ab_tok_membw_impl(const ab_device *d)
{
    return ab_device_impls(d)->membw;
}

static inline const char *ab_tok_impl_name(int impl)
{
    return impl == AB_GEMM_VENDOR ? "vendor" : "portable";
}

/* tokens_point.c: the point's case hooks, and its sampling (ab_case_suite.sampling) */
extern const ab_case_ops ab_tok_point_ops;
void ab_tok_point_sampling(const ab_options *o, ab_sampling *s);

/* tokens_roof.c */
/* membw's read and triad (f32, its headline working set rule) on d, now; r->bw or r->bw_why */
void ab_tok_measure_bandwidth(const ab_device *d, ab_tok_refs *r);
/* the model's gate/up projection at M tokens, with the decoder's own GEMM; r->gemm or
 * r->gemm_why */
void ab_tok_measure_gemm(const ab_device *d, const ab_llm *m, ab_tok_type wt, int impl, long M,
                         ab_tok_refs *r);
/* extra.roofline of a point achieving tok_s (tokens per second at the median step time) */
json_t *ab_tok_roofline(const ab_tok_plan *p, const ab_device *d, const ab_tok_refs *rf,
                        const ab_tok_model *mdl, ab_tok_type wt, const ab_tok_point *pt,
                        double tok_s);

/* tokens_cost.c */
void ab_tok_resolve_price(const ab_tok_opts *o, const ab_suite_ctx *ctx, ab_tok_price *out);
json_t *ab_tok_cost(const ab_tok_price *pr, double tok_s);
/* extra.energy over the window [w0, w1] */
json_t *ab_tok_energy(ab_suite_ctx *ctx, double w0, double w1, double tok_s);

/* tokens_carbon.c */
/* --region / --carbon-sheet at plan time: a sheet that does not load or a --region it does not
 * have is a usage error */
int ab_tok_carbon_check(const ab_tok_opts *o, char *err);
void ab_tok_resolve_carbon(const ab_tok_opts *o, const ab_suite_ctx *ctx, ab_tok_carbon *out);
/* extra.carbon from extra.energy (its tokens_per_kwh) and the intensity */
json_t *ab_tok_carbon_json(const ab_tok_carbon *cb, const json_t *energy);

#endif
