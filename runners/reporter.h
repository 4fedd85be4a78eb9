/* SPDX-License-Identifier: MIT */
/*
 * The reporter interface: everything that a run's results go to — the run document and its
 * journal, results.csv, summary.md (and its echo on stdout), the progress lines on stderr — is a
 * reporter with begin / result / end, driven the same way by `accelbench run`
 * (runners/cmd_run.c). The writers share one escaper each for CSV, Markdown and XML
 * (core/escape.h). A new output format is one more reporter, not a change to the run loop.
 *
 *   begin(run)      once, before any device runs: run carries the header (manifest, settings)
 *   result(run, r)  for every finished result, after it was added to run; a failure here (a
 *                   full disk) makes the runner take r out of the run again and stop, so every
 *                   writer ends with the same results
 *   end(run)        once, after the last result (also after an interrupt), run complete
 *
 * Each returns 0 or -1 with a one-line message in err. Hooks may be NULL.
 */
#ifndef AB_REPORTER_H
#define AB_REPORTER_H

#include "../core/rundoc.h"

#include <stdio.h>

typedef struct ab_reporter ab_reporter;
struct ab_reporter {
    const char *name;
    int (*begin)(ab_reporter *rp, const ab_run *run, char *err);
    int (*result)(ab_reporter *rp, const ab_run *run, const ab_result *r, char *err);
    int (*end)(ab_reporter *rp, const ab_run *run, char *err);
    void (*free)(ab_reporter *rp);
    void *state;
    char path[4096]; /* the file it writes, when it writes one */
};

/* run.json (atomically, at begin and at end) and journal.jsonl (one fsync'd line per result),
 * in dir. */
ab_reporter *ab_reporter_document(const char *dir);
/* <dir>/results.csv at end (atomic). */
ab_reporter *ab_reporter_csv(const char *dir);
/* <dir>/summary.md at end (atomic), and the same text on echo when not NULL. */
ab_reporter *ab_reporter_markdown(const char *dir, FILE *echo);
/* One progress line per result on f. */
ab_reporter *ab_reporter_progress(FILE *f);

#define AB_MAX_REPORTERS 8
typedef struct ab_reporters {
    ab_reporter *v[AB_MAX_REPORTERS];
    size_t n;
} ab_reporters;

/* Adds rp (NULL: out of memory, -1). */
int ab_reporters_add(ab_reporters *rs, ab_reporter *rp);
/* Each calls every reporter in order. begin and result stop at the first failure (its message
 * in err); end runs them all, keeping the first message in err and logging the others. */
int ab_reporters_begin(ab_reporters *rs, const ab_run *run, char *err);
int ab_reporters_result(ab_reporters *rs, const ab_run *run, const ab_result *r, char *err);
int ab_reporters_end(ab_reporters *rs, const ab_run *run, char *err);
void ab_reporters_free(ab_reporters *rs);

/* Formats with fn into memory, then writes path atomically. */
int ab_write_text_atomic(const char *path, int (*fn)(const ab_run *, FILE *), const ab_run *run,
                         char *err);

#endif
