/* SPDX-License-Identifier: MIT */
/* The scorecard's writers (scorecard.h): one grid (runners/grid.c) for every format, a "[k]"
 * after each cell that has a note, the notes numbered below; in HTML the note is also the
 * cell's hover title. */
#include "scorecard.h"

#include "../core/ab.h"
#include "../core/escape.h"
#include "grid.h"

#include <stdlib.h>
#include <string.h>

static const char legend[] =
    "Each [k] is a note below: where the figure came from (result, statistic, datasheet or "
    "sheet row), or why it is missing.";

static ab_grid *make_grid(const ab_scorecard *sc, bool tips)
{
    const char *t[AB_SC_NCOLS];
    size_t first = sc->with_run ? 0 : 1, nc = 0;
    char buf[AB_SC_NCOLS][48];
    for (size_t c = first; c < AB_SC_NCOLS; c++) {
        /* the figures are right-aligned ('>' in a grid title) */
        snprintf(buf[c], sizeof(buf[c]), "%s%s", c >= AB_SC_PRICE ? ">" : "",
                 ab_scorecard_title((ab_sc_col)c));
        t[nc++] = buf[c];
    }
    ab_grid *g = ab_grid_new(nc, t);
    if (!g) return NULL;
    for (size_t r = 0; r < sc->nrows; r++) {
        if (ab_grid_add_row(g) < 0) {
            ab_grid_free(g);
            return NULL;
        }
        for (size_t c = first; c < AB_SC_NCOLS; c++) {
            const ab_sc_cell *x = &sc->rows[r].cell[c];
            size_t k = ab_scorecard_note_index(sc, r, (ab_sc_col)c);
            if (k)
                ab_grid_set(g, -1, c - first, "%s [%zu]", x->text, k);
            else
                ab_grid_set(g, -1, c - first, "%s", x->text);
            if (tips && x->note) ab_grid_set_tip(g, -1, c - first, x->note);
        }
    }
    return g;
}

int ab_scorecard_write(const ab_scorecard *sc, ab_sc_format fmt, FILE *f)
{
    ab_grid *g = make_grid(sc, fmt == AB_SC_HTML);
    if (!g) return -1;
    int rc = 0;
    switch (fmt) {
    case AB_SC_MARKDOWN:
        fputs("## Scorecard\n\n", f);
        rc = ab_grid_write_markdown(g, f);
        fprintf(f, "\n%s\n\n", legend);
        for (size_t i = 0; i < sc->nnotes; i++) {
            fprintf(f, "- [%zu] ", i + 1);
            ab_md_text(f, sc->notes[i]);
            fputc('\n', f);
        }
        fputc('\n', f);
        break;
    case AB_SC_HTML:
        fputs("<section id=\"scorecard\"><h2>Scorecard</h2>\n<p class=\"meta\">", f);
        ab_html_escape(f, legend);
        fputs(" Hover a cell for its note.</p>\n<div class=\"scroll\">", f);
        rc = ab_grid_write_html(g, f, "scorecard");
        fputs("</div>\n<ol class=\"notes\">\n", f);
        for (size_t i = 0; i < sc->nnotes; i++) {
            fprintf(f, "<li id=\"sc-note-%zu\">", i + 1);
            ab_html_escape(f, sc->notes[i]);
            fputs("</li>\n", f);
        }
        fputs("</ol></section>\n", f);
        break;
    default:
        fputs("Scorecard\n\n", f);
        rc = ab_grid_write_text(g, f);
        fprintf(f, "\n%s\n", legend);
        for (size_t i = 0; i < sc->nnotes; i++) {
            /* one line per note: a document's strings may hold control characters */
            fprintf(f, "[%zu] ", i + 1);
            for (const char *s = sc->notes[i]; *s; s++)
                fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    ab_grid_free(g);
    return rc || ferror(f) ? -1 : 0;
}

int ab_scorecard_print(const ab_run *const *runs, size_t n, char *const *labels, ab_sc_format fmt,
                       FILE *f)
{
    ab_scorecard sc;
    char err[AB_ERRLEN];
    if (ab_scorecard_build(runs, n, labels, &sc, err) != 0) return -1;
    int rc = sc.nrows ? ab_scorecard_write(&sc, fmt, f) : 0;
    ab_scorecard_free(&sc);
    return rc;
}
