/* SPDX-License-Identifier: MIT */
/*
 * A table of strings built once and rendered as aligned text (terminal), Markdown or HTML, so
 * that every output format of a command shows the same cells.
 */
#ifndef AB_GRID_H
#define AB_GRID_H

#include <stdbool.h>
#include <stdio.h>

typedef struct ab_grid {
    size_t ncols, nrows, cap;
    char **head;   /* ncols column titles */
    bool *right;   /* right-align the column (numbers) */
    char ***rows;  /* nrows arrays of ncols strings (never NULL: "" when unset) */
    char **rclass; /* per row: an HTML class for the row (may be NULL) */
    char ***tips;  /* per row: NULL, or ncols hover titles (HTML title attribute; NULL: none) */
} ab_grid;

/* titles: ncols strings; a title starting with '>' makes the column right-aligned (the '>' is
 * not shown). Returns NULL on out of memory. */
ab_grid *ab_grid_new(size_t ncols, const char *const *titles);
void ab_grid_free(ab_grid *g);
/* Appends an empty row and returns its index, or -1 on out of memory. */
long ab_grid_add_row(ab_grid *g);
/* Sets a cell (printf-style); the last row when row < 0. */
void ab_grid_set(ab_grid *g, long row, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A cell's hover title in HTML (the other formats do not show it); the last row when row < 0. */
void ab_grid_set_tip(ab_grid *g, long row, size_t col, const char *tip);
void ab_grid_row_class(ab_grid *g, long row, const char *cls);
/* Drops columns whose cells are all empty or "-" (e.g. "% of peak" when no device has a peak). */
void ab_grid_drop_empty_columns(ab_grid *g);

int ab_grid_write_text(const ab_grid *g, FILE *f);
int ab_grid_write_markdown(const ab_grid *g, FILE *f);
/* <table class="cls"> ... with escaped cells. */
int ab_grid_write_html(const ab_grid *g, FILE *f, const char *cls);

/* HTML text escaping (&, <, >, ", '). */
void ab_html_escape(FILE *f, const char *s);

#endif
