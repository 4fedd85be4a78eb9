/* SPDX-License-Identifier: MIT */
/*
 * Comparing runs: results aligned by identity across run documents, each metric's value, % of
 * datasheet peak, ratio to the first run, and a verdict (same / better / worse) from a
 * Mann-Whitney U test on the samples plus a minimum effect that grows with the measured noise
 * between runs. README.md ("How verdicts are made") explains the method and its defaults.
 *
 * The comparison borrows the runs: they must outlive it.
 */
#ifndef AB_COMPARE_H
#define AB_COMPARE_H

#include "../core/rundoc.h"
#include "../core/utest.h"

#include <stdio.h>

typedef enum { AB_V_NA = 0, AB_V_SAME, AB_V_BETTER, AB_V_WORSE } ab_verdict;
/* "n/a", "same", "better", "worse" */
const char *ab_verdict_name(ab_verdict v);

/* How results of different runs are matched. */
typedef enum {
    AB_ALIGN_EXACT = 0, /* ab_result_id(): key, impl, parameters, device model (same machine type) */
    AB_ALIGN_ANY_DEVICE, /* key, impl, parameters: the same case on different device models */
    AB_ALIGN_HEADLINE,   /* headline results by key, impl, text parameters (dtype) and device
                            class (cpu / opencl / gpu): machines whose sizes differ */
} ab_align;
int ab_align_parse(const char *s, ab_align *out);
const char *ab_align_name(ab_align a);

typedef struct ab_cmp_opts {
    double threshold;   /* minimum effect as a slowdown fraction: 0.05 = 5 % more time (or a rate
                           divided by 1.05) */
    double alpha;       /* significance level of the U test */
    double noise_k;     /* the minimum effect is at least exp(noise_k * sigma) - 1, sigma the
                           between-run noise (log units) when it is known */
    ab_align align;
    bool headline_only; /* compare headline results only */
} ab_cmp_opts;

/* threshold 5 %, alpha 0.05, noise_k 3, exact alignment, all results. */
void ab_cmp_opts_default(ab_cmp_opts *o);

/* Fewest aligned metrics of one device model for their spread to estimate the between-run
 * noise (fewer: the noise is unknown and only the threshold applies). */
#define AB_CMP_MIN_NOISE_METRICS 8

typedef struct ab_cmp_cell {
    const ab_result *r;    /* NULL: the run has no such result */
    const ab_metric *m;    /* NULL: absent, or the result has no such metric */
    double value;          /* the median (a history baseline: the median of run medians) */
    double peak_fraction;  /* value / datasheet peak (result extra.peak); NAN when unknown */
    double ratio;          /* value / first run's value; NAN for the first run or when absent */
    ab_mwu test;           /* U test against the first run (method NONE when not run) */
    double effect;         /* log(ratio), sign flipped for lower-is-better: > 0 is better */
    double noise;          /* between-run noise used (log units); NAN when unknown */
    const char *noise_src; /* "history" (baseline runs), "runs" (spread across metrics), NULL */
    double threshold;      /* effective minimum effect (fraction) */
    ab_verdict verdict;
    char note[160];        /* why n/a, or what limited the decision */
} ab_cmp_cell;

typedef struct ab_cmp_row {
    char *ident;           /* alignment identity, without the metric */
    const ab_result *proto; /* the first run's result that has it: key, impl, params, device */
    const char *metric;    /* borrowed from proto */
    const char *unit;
    bool higher_is_better;
    bool headline;         /* a headline figure in any run */
    ab_cmp_cell *cells;    /* one per run */
} ab_cmp_row;

/* Between-run noise measured across the metrics of one device model (run j vs the first run). */
typedef struct ab_cmp_noise {
    size_t run;
    char *model;
    size_t n;       /* aligned metrics used */
    double sigma;   /* spread of the log ratios about their median: the larger of 1.4826 * MAD
                       and the 90th percentile of the absolute deviations / 1.645 */
    double shift;   /* median log ratio: a run-wide shift (machine busier or quieter, or a change
                       that affects everything) */
} ab_cmp_noise;

typedef struct ab_cmp {
    ab_cmp_opts opts;
    size_t nruns;
    ab_run *const *runs;   /* borrowed */
    char **labels;         /* display label per run: the run id, made unique */
    ab_cmp_row *rows;
    size_t nrows;
    ab_cmp_noise *noise;
    size_t nnoise;
    size_t (*counts)[4];   /* per run: verdict counts, indexed by ab_verdict */
    size_t worse_headline; /* per comparison, summed: worse verdicts on headline rows */
} ab_cmp;

/* Aligns and judges runs[1..n) against runs[0]. n >= 1. */
int ab_compare(ab_run *const *runs, size_t n, const ab_cmp_opts *o, ab_cmp *out, char *err);
void ab_cmp_free(ab_cmp *c);
/* Rows that carry a value in at least two runs (something was compared). */
size_t ab_cmp_aligned(const ab_cmp *c);

/* Output formats. `changed_only` keeps rows with a better/worse verdict in some run. */
int ab_cmp_write_table(const ab_cmp *c, FILE *f, bool changed_only);
int ab_cmp_write_markdown(const ab_cmp *c, FILE *f, bool changed_only);
int ab_cmp_write_csv(const ab_cmp *c, FILE *f);
json_t *ab_cmp_to_json(const ab_cmp *c);
/* One line per run after the first: counts of each verdict and the noise notes. */
void ab_cmp_write_summary(const ab_cmp *c, FILE *f, bool markdown);

/*
 * JUnit XML for the CI server: one test case per metric of run `run` (vs the first run); worse is
 * a <failure>, a fail/error result an <error>, a metric that is missing or skipped <skipped>.
 */
int ab_cmp_write_junit(const ab_cmp *c, size_t run, FILE *f);

/* Cells shared by the comparison grids (text and Markdown tables here, the HTML report):
 * ab_cmp_grid_lead fills the leading columns of the grid's last row -- key, impl, params, device,
 * metric followed by `headline_mark` on headline rows -- and returns the next column;
 * ab_cmp_grid_value fills a run's value (or its status when it did not pass) and its fraction of
 * the datasheet peak at *col, advancing it. */
struct ab_grid;
size_t ab_cmp_grid_lead(struct ab_grid *g, const ab_cmp_row *row, const char *headline_mark);
void ab_cmp_grid_value(struct ab_grid *g, size_t *col, const ab_cmp_row *row,
                       const ab_cmp_cell *x);

/* Label of a row for messages: "membw.triad streaming dtype=f64 working_set=128 MiB bandwidth
 * [AMD EPYC]". Caller frees. */
char *ab_cmp_row_label(const ab_cmp_row *row);

#endif
