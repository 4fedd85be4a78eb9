/* SPDX-License-Identifier: MIT */
#include "table.h"

#include "ab.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AB_SOURCE_DATA_DIR
#define AB_SOURCE_DATA_DIR "data"
#endif

typedef struct loader {
    ab_table *t;
    char **fields; /* the row being assembled */
    size_t nfields, cap;
    int line;      /* line number of the row being assembled */
    size_t rows;   /* rows completed (header included) */
    bool failed;
    char *err;
} loader;

static void on_field(void *s, size_t len, void *data)
{
    loader *l = data;
    if (l->failed)
        return;
    if (l->nfields == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->fields, cap * sizeof(*v));
        if (!v) {
            l->failed = true;
            ab_err(l->err, "out of memory");
            return;
        }
        l->fields = v;
        l->cap = cap;
    }
    char *f = malloc(len + 1);
    if (!f) {
        l->failed = true;
        ab_err(l->err, "out of memory");
        return;
    }
    if (len)
        memcpy(f, s, len);
    f[len] = '\0';
    ab_trim(f);
    l->fields[l->nfields++] = f;
}

static void drop_fields(loader *l)
{
    for (size_t i = 0; i < l->nfields; i++)
        free(l->fields[i]);
    l->nfields = 0;
}

static void on_row(int c, void *data)
{
    (void)c;
    loader *l = data;
    ab_table *t = l->t;
    l->rows++;
    if (l->failed) {
        drop_fields(l);
        return;
    }
    if (!t->cols) {
        for (size_t i = 0; i < l->nfields; i++) {
            if (!*l->fields[i]) {
                ab_err(l->err, "%s:%d: header column %zu is empty", t->path, l->line, i + 1);
                l->failed = true;
            }
            for (size_t k = 0; k < i && !l->failed; k++)
                if (strcmp(l->fields[i], l->fields[k]) == 0) {
                    ab_err(l->err, "%s:%d: header column '%s' appears twice", t->path, l->line,
                           l->fields[i]);
                    l->failed = true;
                }
        }
        if (l->failed) {
            drop_fields(l);
            return;
        }
        t->cols = l->fields;
        t->ncols = l->nfields;
        l->fields = NULL;
        l->nfields = l->cap = 0;
        return;
    }
    if (l->nfields != t->ncols) {
        ab_err(l->err, "%s:%d: %zu fields, the header has %zu", t->path, l->line, l->nfields,
               t->ncols);
        l->failed = true;
        drop_fields(l);
        return;
    }
    char ***cells = realloc(t->cells, (t->nrows + 1) * sizeof(*cells));
    int *lines = realloc(t->line, (t->nrows + 1) * sizeof(*lines));
    if (cells)
        t->cells = cells;
    if (lines)
        t->line = lines;
    char **row = malloc(t->ncols * sizeof(*row));
    if (!cells || !lines || !row) {
        free(row);
        ab_err(l->err, "out of memory");
        l->failed = true;
        drop_fields(l);
        return;
    }
    memcpy(row, l->fields, t->ncols * sizeof(*row));
    l->nfields = 0;
    t->cells[t->nrows] = row;
    t->line[t->nrows] = l->line;
    t->nrows++;
}

int ab_table_load(const char *path, ab_table *t, char *err)
{
    memset(t, 0, sizeof(*t));
    char *text;
    size_t tlen;
    if (ab_read_input(path, AB_MAX_TABLE_BYTES, "CSV table", &text, &tlen, err) != 0)
        return -1;
    FILE *f = tlen ? fmemopen(text, tlen, "r") : fopen("/dev/null", "r");
    if (!f) {
        free(text);
        return ab_err(err, "%s: %s", path, strerror(errno));
    }
    t->path = ab_strdup(path);
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        free(text);
        ab_table_free(t);
        return ab_err(err, "out of memory");
    }
    loader l = {.t = t, .err = err};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    bool in_row = false; /* a quoted field spans lines: the row started on an earlier line */
    while (!l.failed && (n = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        if (!in_row) {
            const char *q = buf;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '#' || *q == '\n' || *q == '\r' || *q == '\0')
                continue;
            l.line = lineno;
        }
        size_t before = l.rows;
        if (csv_parse(&p, buf, (size_t)n, on_field, on_row, &l) != (size_t)n) {
            ab_err(err, "%s:%d: %s", path, lineno, csv_strerror(csv_error(&p)));
            l.failed = true;
            break;
        }
        /* no row completed on this line: a quoted field goes on to the next one */
        in_row = l.rows == before;
    }
    if (!l.failed && csv_fini(&p, on_field, on_row, &l) != 0) {
        ab_err(err, "%s:%d: unterminated quoted field", path, l.line);
        l.failed = true;
    }
    if (!l.failed && !t->cols) {
        ab_err(err, "%s: no header row", path);
        l.failed = true;
    }
    csv_free(&p);
    free(buf);
    fclose(f);
    free(text);
    drop_fields(&l);
    free(l.fields);
    if (l.failed) {
        ab_table_free(t);
        return -1;
    }
    return 0;
}

void ab_table_free(ab_table *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++)
            free(t->cells[r][c]);
        free(t->cells[r]);
    }
    free(t->cells);
    free(t->line);
    for (size_t c = 0; c < t->ncols; c++)
        free(t->cols[c]);
    free(t->cols);
    free(t->path);
    memset(t, 0, sizeof(*t));
}

int ab_table_col(const ab_table *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return (int)c;
    return -1;
}

int ab_table_require(const ab_table *t, const char *const *names, char *err)
{
    for (size_t i = 0; names[i]; i++)
        if (ab_table_col(t, names[i]) < 0)
            return ab_err(err, "%s: missing column '%s'", t->path, names[i]);
    return 0;
}

const char *ab_table_get(const ab_table *t, size_t row, const char *col)
{
    int c = ab_table_col(t, col);
    if (c < 0 || row >= t->nrows)
        return "";
    return t->cells[row][c];
}

int ab_data_path(const char *name, char *buf, size_t len, char *err)
{
    const char *env = getenv("ACCELBENCH_DATA_DIR");
    char exe[4096];
    ab_exe_dir(exe, sizeof(exe));
    char installed[4200];
    snprintf(installed, sizeof(installed), "%s/../share/accelbench", exe);
    const char *dirs[3] = {env && *env ? env : NULL, installed, AB_SOURCE_DATA_DIR};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i])
            continue;
        snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    return ab_err(err, "data file %s not found (set ACCELBENCH_DATA_DIR)", name);
}
