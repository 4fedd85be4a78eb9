/* SPDX-License-Identifier: MIT */
/* A suite's declared matrices in summary.md (ab_summary_matrix, suites/suite.h): the p2p suite's
 * source x destination bandwidth, rendered from the run's results, naming no suite. */
#include "../core/escape.h"
#include "../suites/suite.h"
#include "output.h"

#include <stdlib.h>
#include <string.h>

/* Adds s to the label list (labels[0..*n)) unless it is there; false when full. */
static bool add_label(const char **labels, size_t *n, size_t cap, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(labels[i], s) == 0) return true;
    if (*n == cap) return false;
    labels[(*n)++] = s;
    return true;
}

static const char *sparam(const ab_result *r, const char *name)
{
    return json_string_value(json_object_get(r->params, name));
}

static bool matches(const ab_result *r, const char *suite, const ab_summary_matrix *m)
{
    return r->suite && strcmp(r->suite, suite) == 0 && r->key && strcmp(r->key, m->key) == 0 &&
           sparam(r, m->row) && sparam(r, m->col);
}

/* The passing result at (row, col), or NULL. */
static const ab_metric *cell(const ab_run *run, const char *suite, const ab_summary_matrix *m,
                             const char *row, const char *col)
{
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (r->status == AB_PASS && matches(r, suite, m) && strcmp(sparam(r, m->row), row) == 0 &&
            strcmp(sparam(r, m->col), col) == 0)
            return ab_result_metric(r, m->metric);
    }
    return NULL;
}

void ab_md_suite_matrix(const ab_run *run, const char *suite, const ab_summary_matrix *m, FILE *f)
{
    enum { CAP = 64 };
    const char *labels[CAP];
    size_t n = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (matches(r, suite, m) && (!add_label(labels, &n, CAP, sparam(r, m->row)) ||
                                     !add_label(labels, &n, CAP, sparam(r, m->col))))
            break;
    }
    if (!n) return;
    fprintf(f, "## %s\n\n| %s \\ %s ", m->title, m->row, m->col);
    for (size_t c = 0; c < n; c++) {
        fputs("| ", f);
        ab_md_text(f, labels[c]);
        fputc(' ', f);
    }
    fputs("|\n|---", f);
    for (size_t c = 0; c < n; c++)
        fputs("|---:", f);
    fputs("|\n", f);
    for (size_t r = 0; r < n; r++) {
        fputs("| ", f);
        ab_md_text(f, labels[r]);
        for (size_t c = 0; c < n; c++) {
            char buf[64] = "—";
            const ab_metric *v = r == c ? NULL : cell(run, suite, m, labels[r], labels[c]);
            if (r == c)
                snprintf(buf, sizeof(buf), "·");
            else if (v)
                ab_format_value(v->stats.median, v->unit, buf, sizeof(buf));
            fprintf(f, " | %s", buf);
        }
        fputs(" |\n", f);
    }
    fprintf(f, "\n- %s, median; a dash: no passing result for that pair (the results say why)\n\n",
            m->metric);
}
