/* SPDX-License-Identifier: MIT */
/*
 * The train suite's own declarations shared by its driver files (not a public interface):
 *   train.c        descriptor, parameters, plan, defaults by profile, layers that fit, cases
 *   train_point.c  one point (preset x sequence length x micro-batch): the model, its two
 *                  timings (k layers; head), the derived step-time samples, figures, validation
 *   train_display.c the summary table
 * Price, energy and the measured GEMM roof are the tokens suite's (tokens_suite.h).
 */
#ifndef AB_TRAIN_SUITE_H
#define AB_TRAIN_SUITE_H

#include "../../core/peaks.h"
#include "../case.h"
#include "../tokens/tokens_suite.h"
#include "train_step.h"

#define AB_TRAIN_MAXL 16

typedef struct ab_train_plan {
    ab_llm m;
    bool model_set;
    int layers_run; /* 0: what fits, capped by the profile */
    int impl;       /* -1: vendor where the backend has it */
    long seq[AB_TRAIN_MAXL], mb[AB_TRAIN_MAXL];
    size_t nseq, nmb;
    long steps; /* 0: the profile's samples */
    bool bf16;  /* --dtype asked for bf16 */
    bool f32;
    ab_tok_opts price_opts; /* only price and sheet are used */
    ab_tok_price pr;
    ab_peaks peaks;
    bool have_peaks;
} ab_train_plan;

typedef struct ab_train_point {
    ab_llm m; /* the model: the plan's, or a cover case's smaller one */
    int batch, seq, k;
    bool bf16; /* bf16 training (mixed precision, train_step.h) */
    int vseq, hseq;
    char why[AB_ERRLEN]; /* k == 0: why no layer fits */
    ab_train_model *mdl;
    ab_tok_refs rf;
    double w0, w1, head;            /* the layers' measurement window; the head's median seconds */
    double gemm_before, gemm_after; /* the GEMM roof's two measurements (FLOP/s; 0: none) */
} ab_train_point;

extern const ab_case_ops ab_train_point_ops;
/* layers that fit a point, or 0 with why */
int ab_train_layers_fit(const ab_device *d, const ab_train_plan *p, int batch, int seq, bool bf16,
                        const char *profile, char *why);

#endif
