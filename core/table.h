/* SPDX-License-Identifier: MIT */
/*
 * Small CSV tables with a header row (data files: datasheet peaks, price sheets), parsed with
 * libcsv in strict mode. Lines starting with '#' and blank lines are comments. Every row keeps
 * its line number, so a problem is reported as "file:line: what".
 */
#ifndef AB_TABLE_H
#define AB_TABLE_H

#include <stddef.h>

typedef struct ab_table {
    char *path;
    size_t ncols;
    char **cols;   /* header names */
    size_t nrows;
    char ***cells; /* cells[row][col], trimmed, never NULL */
    int *line;     /* line of each row in the file */
} ab_table;

/* Loads the file. Errors (unreadable file, CSV syntax, a row whose field count differs from the
 * header's, an empty or duplicate header name) name the file and line. */
int ab_table_load(const char *path, ab_table *t, char *err);
void ab_table_free(ab_table *t);
/* Column index or -1. */
int ab_table_col(const ab_table *t, const char *name);
/* Requires the named columns; err names the first missing one. */
int ab_table_require(const ab_table *t, const char *const *names, char *err);
/* Cell by column name; "" when the column does not exist. */
const char *ab_table_get(const ab_table *t, size_t row, const char *col);

/* Locates a data file shipped with accelbench (data/<name>): $ACCELBENCH_DATA_DIR, then
 * <exe>/../share/accelbench, then the source tree the binary was built from. */
int ab_data_path(const char *name, char *buf, size_t len, char *err);

#endif
