/* SPDX-License-Identifier: MIT */
/*
 * The scorecard: the answer at a glance, one row per device of each run (accelerator, the
 * cloud instance, its price, memory bandwidth, GEMM rate, attention latency, decode TPOT and
 * tokens/s, $ and gCO2e per 1M tokens, tokens per kWh), built from the run documents' results
 * by metric and extra names alone, so `run` (summary.md, stdout), `report` and `compare` show
 * the same cells. Every cell has a note saying where it came from (the result, its statistic,
 * the datasheet or price-sheet row), or, when the figure is missing, one word ("not run",
 * "skipped", "failed", "error", "no price", "no energy", "unavailable", "unknown") and the
 * note saying why. Rendering goes through runners/grid.c: text, Markdown (cells carry "[k]",
 * the notes are numbered lines below) and HTML (the note is also the cell's hover title).
 */
#ifndef AB_SCORECARD_H
#define AB_SCORECARD_H

#include "../core/rundoc.h"

#include <stdio.h>

typedef enum {
    AB_SC_RUN,          /* the run's label (shown for more than one run) */
    AB_SC_DEVICE,       /* device id in the run */
    AB_SC_ACCEL,        /* model and memory */
    AB_SC_INSTANCE,     /* provider, instance type, region */
    AB_SC_PRICE,        /* $ per device-hour */
    AB_SC_MEMBW,        /* best headline device-memory bandwidth, % of datasheet */
    AB_SC_GEMM,         /* best bf16 GEMM rate (else the best floating-point one), % datasheet */
    AB_SC_ATTN_PREFILL, /* attention prefill latency p50 */
    AB_SC_ATTN_DECODE,  /* attention decode latency p50 */
    AB_SC_DECODE_B1,    /* tokens decode at batch 1: TPOT p50, tokens/s */
    AB_SC_DECODE_BEST,  /* tokens decode at the batch with the most tokens/s */
    AB_SC_USD_INFER,    /* $ per 1M tokens, inference (tokens suite) */
    AB_SC_USD_TRAIN,    /* $ per 1M tokens, training (train suite) */
    AB_SC_TOK_KWH,      /* tokens per kWh */
    AB_SC_CO2,          /* gCO2e per 1M tokens */
    AB_SC_NCOLS
} ab_sc_col;

typedef struct ab_sc_cell {
    char *text; /* the value, or the one-word reason it is missing */
    char *note; /* where it came from, or why it is missing (NULL: nothing to say) */
    bool missing;
} ab_sc_cell;

typedef struct ab_sc_row {
    ab_sc_cell cell[AB_SC_NCOLS];
} ab_sc_row;

typedef struct ab_scorecard {
    size_t nrows;
    ab_sc_row *rows;
    bool with_run; /* more than one run: the run column is shown */
    size_t nnotes;
    char **notes; /* the distinct notes, numbered from 1 in row order */
} ab_scorecard;

/* Column titles (for tests and the writers). */
const char *ab_scorecard_title(ab_sc_col c);

/* One row per device with results, per run, in run order and the runs' device order. labels:
 * the runs' display names (NULL: their ids). Returns 0, or -1 (out of memory) with err. */
int ab_scorecard_build(const ab_run *const *runs, size_t n, char *const *labels, ab_scorecard *sc,
                       char *err);
void ab_scorecard_free(ab_scorecard *sc);
/* The note number of a cell (1-based), 0 when it has none. */
size_t ab_scorecard_note_index(const ab_scorecard *sc, size_t row, ab_sc_col c);

typedef enum { AB_SC_TEXT, AB_SC_MARKDOWN, AB_SC_HTML } ab_sc_format;
/* The titled table and its numbered notes. Markdown: "## Scorecard", the table, one legend line
 * per note. HTML: a <section id="scorecard">, cells with title="note", an ordered list of
 * notes. Returns 0 or -1 on a write error. */
int ab_scorecard_write(const ab_scorecard *sc, ab_sc_format fmt, FILE *f);
/* Build + write in one (the summary and compare); nothing is written when no result has a
 * device. */
int ab_scorecard_print(const ab_run *const *runs, size_t n, char *const *labels, ab_sc_format fmt,
                       FILE *f);

#endif
