/* SPDX-License-Identifier: MIT */
#include "grid.h"

#include "../core/ab.h"
#include "../core/escape.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

ab_grid *ab_grid_new(size_t ncols, const char *const *titles)
{
    ab_grid *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->ncols = ncols;
    g->head = calloc(ncols ? ncols : 1, sizeof(*g->head));
    g->right = calloc(ncols ? ncols : 1, sizeof(*g->right));
    if (!g->head || !g->right) {
        ab_grid_free(g);
        return NULL;
    }
    for (size_t c = 0; c < ncols; c++) {
        const char *t = titles[c] ? titles[c] : "";
        g->right[c] = t[0] == '>';
        g->head[c] = ab_strdup(t + (t[0] == '>'));
    }
    return g;
}

void ab_grid_free(ab_grid *g)
{
    if (!g)
        return;
    for (size_t r = 0; r < g->nrows; r++) {
        for (size_t c = 0; c < g->ncols; c++)
            free(g->rows[r][c]);
        free(g->rows[r]);
        free(g->rclass[r]);
        for (size_t c = 0; g->tips[r] && c < g->ncols; c++)
            free(g->tips[r][c]);
        free(g->tips[r]);
    }
    for (size_t c = 0; c < g->ncols && g->head; c++)
        free(g->head[c]);
    free(g->head);
    free(g->right);
    free(g->rows);
    free(g->rclass);
    free(g->tips);
    free(g);
}

long ab_grid_add_row(ab_grid *g)
{
    if (g->nrows == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 32;
        char ***rows = realloc(g->rows, cap * sizeof(*rows));
        if (!rows)
            return -1;
        g->rows = rows;
        char **cls = realloc(g->rclass, cap * sizeof(*cls));
        if (!cls)
            return -1;
        g->rclass = cls;
        char ***tips = realloc(g->tips, cap * sizeof(*tips));
        if (!tips) return -1;
        g->tips = tips;
        g->cap = cap;
    }
    char **row = calloc(g->ncols ? g->ncols : 1, sizeof(*row));
    if (!row)
        return -1;
    g->rows[g->nrows] = row;
    g->rclass[g->nrows] = NULL;
    g->tips[g->nrows] = NULL;
    return (long)g->nrows++;
}

void ab_grid_set(ab_grid *g, long row, size_t col, const char *fmt, ...)
{
    if (row < 0)
        row = (long)g->nrows - 1;
    if (row < 0 || (size_t)row >= g->nrows || col >= g->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(g->rows[row][col]);
    g->rows[row][col] = s;
}

void ab_grid_set_tip(ab_grid *g, long row, size_t col, const char *tip)
{
    if (row < 0) row = (long)g->nrows - 1;
    if (row < 0 || (size_t)row >= g->nrows || col >= g->ncols) return;
    if (!g->tips[row] && !(g->tips[row] = calloc(g->ncols, sizeof(char *)))) return;
    free(g->tips[row][col]);
    g->tips[row][col] = tip ? ab_strdup(tip) : NULL;
}

void ab_grid_row_class(ab_grid *g, long row, const char *cls)
{
    if (row < 0)
        row = (long)g->nrows - 1;
    if (row < 0 || (size_t)row >= g->nrows)
        return;
    free(g->rclass[row]);
    g->rclass[row] = ab_strdup(cls);
}

static const char *cell(const ab_grid *g, size_t r, size_t c)
{
    const char *s = g->rows[r][c];
    return s ? s : "";
}

void ab_grid_drop_empty_columns(ab_grid *g)
{
    size_t out = 0;
    for (size_t c = 0; c < g->ncols; c++) {
        bool empty = true;
        for (size_t r = 0; r < g->nrows && empty; r++) {
            const char *s = cell(g, r, c);
            empty = !*s || strcmp(s, "-") == 0;
        }
        if (empty && g->nrows) {
            free(g->head[c]);
            for (size_t r = 0; r < g->nrows; r++) {
                free(g->rows[r][c]);
                if (g->tips[r]) free(g->tips[r][c]);
            }
            continue;
        }
        g->head[out] = g->head[c];
        g->right[out] = g->right[c];
        for (size_t r = 0; r < g->nrows; r++) {
            g->rows[r][out] = g->rows[r][c];
            if (g->tips[r]) g->tips[r][out] = g->tips[r][c];
        }
        out++;
    }
    g->ncols = out;
}

/* Display width: UTF-8 continuation bytes take no column (the tables hold "×", "µ", "—"). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

int ab_grid_write_text(const ab_grid *g, FILE *f)
{
    size_t *w = calloc(g->ncols ? g->ncols : 1, sizeof(*w));
    if (!w)
        return -1;
    for (size_t c = 0; c < g->ncols; c++) {
        w[c] = width(g->head[c]);
        for (size_t r = 0; r < g->nrows; r++) {
            size_t x = width(cell(g, r, c));
            if (x > w[c])
                w[c] = x;
        }
    }
    for (size_t r = 0; r <= g->nrows + 1; r++) {
        for (size_t c = 0; c < g->ncols; c++) {
            if (c)
                fputs("  ", f);
            if (r == 1) {
                for (size_t k = 0; k < w[c]; k++)
                    fputc('-', f);
                continue;
            }
            const char *s = r == 0 ? g->head[c] : cell(g, r - 2, c);
            size_t x = width(s);
            bool last = c + 1 == g->ncols;
            if (g->right[c]) {
                pad(f, w[c] - x);
                fputs(s, f);
            } else {
                fputs(s, f);
                if (!last)
                    pad(f, w[c] - x);
            }
        }
        fputc('\n', f);
    }
    free(w);
    return ferror(f) ? -1 : 0;
}

int ab_grid_write_markdown(const ab_grid *g, FILE *f)
{
    fputc('|', f);
    for (size_t c = 0; c < g->ncols; c++) {
        fputc(' ', f);
        ab_md_text(f, g->head[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (size_t c = 0; c < g->ncols; c++)
        fputs(g->right[c] ? "---:|" : "---|", f);
    fputc('\n', f);
    for (size_t r = 0; r < g->nrows; r++) {
        fputc('|', f);
        for (size_t c = 0; c < g->ncols; c++) {
            fputc(' ', f);
            ab_md_text(f, cell(g, r, c));
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

void ab_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

int ab_grid_write_html(const ab_grid *g, FILE *f, const char *cls)
{
    fputs("<table", f);
    if (cls) {
        fputs(" class=\"", f);
        ab_html_escape(f, cls);
        fputc('"', f);
    }
    fputs("><thead><tr>", f);
    for (size_t c = 0; c < g->ncols; c++) {
        fputs(g->right[c] ? "<th class=\"num\">" : "<th>", f);
        ab_html_escape(f, g->head[c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t r = 0; r < g->nrows; r++) {
        if (g->rclass[r]) {
            fputs("<tr class=\"", f);
            ab_html_escape(f, g->rclass[r]);
            fputs("\">", f);
        } else {
            fputs("<tr>", f);
        }
        for (size_t c = 0; c < g->ncols; c++) {
            const char *tip = g->tips[r] ? g->tips[r][c] : NULL;
            fputs(g->right[c] ? "<td class=\"num\"" : "<td", f);
            if (tip) {
                fputs(" title=\"", f);
                ab_html_escape(f, tip);
                fputc('"', f);
            }
            fputc('>', f);
            ab_html_escape(f, cell(g, r, c));
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    return ferror(f) ? -1 : 0;
}
