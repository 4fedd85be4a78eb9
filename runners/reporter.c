/* SPDX-License-Identifier: MIT */
#include "reporter.h"

#include "output.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int ab_write_text_atomic(const char *path, int (*fn)(const ab_run *, FILE *), const ab_run *run,
                         char *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ab_err(err, "out of memory");
    int rc = fn(run, f);
    fclose(f);
    if (rc == 0)
        rc = ab_write_file_atomic(path, buf, len, err);
    else
        ab_err(err, "cannot format %s", path);
    free(buf);
    return rc;
}

static ab_reporter *reporter_new(const char *name, const char *dir, const char *file)
{
    ab_reporter *rp = calloc(1, sizeof(*rp));
    if (!rp) return NULL;
    rp->name = name;
    if (dir && file &&
        snprintf(rp->path, sizeof(rp->path), "%s/%s", dir, file) >= (int)sizeof(rp->path)) {
        free(rp);
        return NULL;
    }
    return rp;
}

/* ---- run.json + journal.jsonl ---- */

typedef struct {
    char journal_path[PATH_MAX + 32];
    ab_journal *journal;
} doc_state;

static int doc_begin(ab_reporter *rp, const ab_run *run, char *err)
{
    doc_state *st = rp->state;
    if (ab_run_write(run, rp->path, err) != 0) return -1;
    st->journal = ab_journal_create(st->journal_path, run, err);
    return st->journal ? 0 : -1;
}

static int doc_result(ab_reporter *rp, const ab_run *run, const ab_result *r, char *err)
{
    (void)run;
    doc_state *st = rp->state;
    return ab_journal_append(st->journal, r, err);
}

/* the one rewrite of the finished document; should it fail, run.json stays the header and
 * readers take the results from the journal */
static int doc_end(ab_reporter *rp, const ab_run *run, char *err)
{
    doc_state *st = rp->state;
    int rc = ab_run_write(run, rp->path, err);
    ab_journal_close(st->journal);
    st->journal = NULL;
    return rc;
}

static void doc_free(ab_reporter *rp)
{
    doc_state *st = rp->state;
    if (st) ab_journal_close(st->journal);
    free(st);
}

ab_reporter *ab_reporter_document(const char *dir)
{
    ab_reporter *rp = reporter_new("run.json", dir, "run.json");
    doc_state *st = rp ? calloc(1, sizeof(*st)) : NULL;
    if (!st) {
        free(rp);
        return NULL;
    }
    snprintf(st->journal_path, sizeof(st->journal_path), "%s/%s", dir, AB_JOURNAL_NAME);
    rp->state = st;
    rp->begin = doc_begin;
    rp->result = doc_result;
    rp->end = doc_end;
    rp->free = doc_free;
    return rp;
}

/* ---- results.csv, summary.md, progress ---- */

static int csv_end(ab_reporter *rp, const ab_run *run, char *err)
{
    return ab_write_text_atomic(rp->path, ab_write_csv, run, err);
}

ab_reporter *ab_reporter_csv(const char *dir)
{
    ab_reporter *rp = reporter_new("results.csv", dir, "results.csv");
    if (rp) rp->end = csv_end;
    return rp;
}

static int md_end(ab_reporter *rp, const ab_run *run, char *err)
{
    int rc = ab_write_text_atomic(rp->path, ab_write_markdown, run, err);
    if (rp->state) {
        ab_write_markdown(run, rp->state);
        fflush(rp->state);
    }
    return rc;
}

ab_reporter *ab_reporter_markdown(const char *dir, FILE *echo)
{
    ab_reporter *rp = reporter_new("summary.md", dir, "summary.md");
    if (rp) {
        rp->end = md_end;
        rp->state = echo;
    }
    return rp;
}

static int progress_result(ab_reporter *rp, const ab_run *run, const ab_result *r, char *err)
{
    (void)run;
    (void)err;
    ab_print_progress(r, rp->state);
    return 0;
}

ab_reporter *ab_reporter_progress(FILE *f)
{
    ab_reporter *rp = reporter_new("progress", NULL, NULL);
    if (rp) {
        rp->result = progress_result;
        rp->state = f;
    }
    return rp;
}

/* ---- the list ---- */

int ab_reporters_add(ab_reporters *rs, ab_reporter *rp)
{
    if (!rp || rs->n == AB_MAX_REPORTERS) {
        if (rp && rp->free) rp->free(rp);
        free(rp);
        return -1;
    }
    rs->v[rs->n++] = rp;
    return 0;
}

int ab_reporters_begin(ab_reporters *rs, const ab_run *run, char *err)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i]->begin && rs->v[i]->begin(rs->v[i], run, err) != 0) return -1;
    return 0;
}

int ab_reporters_result(ab_reporters *rs, const ab_run *run, const ab_result *r, char *err)
{
    /* the first failure stops: the runner takes r out of the run, so no later reporter may
     * have shown it */
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i]->result && rs->v[i]->result(rs->v[i], run, r, err) != 0) return -1;
    return 0;
}

int ab_reporters_end(ab_reporters *rs, const ab_run *run, char *err)
{
    int rc = 0;
    char one[AB_ERRLEN];
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i]->end && rs->v[i]->end(rs->v[i], run, one) != 0) {
            if (rc == 0)
                ab_strlcpy(err, one, AB_ERRLEN);
            else
                ab_log(AB_LOG_ERROR, "%s", one);
            rc = -1;
        }
    return rc;
}

void ab_reporters_free(ab_reporters *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->v[i]->free) rs->v[i]->free(rs->v[i]);
        free(rs->v[i]);
    }
    rs->n = 0;
}
