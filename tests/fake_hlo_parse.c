/* SPDX-License-Identifier: MIT */
/* The stand-in plugin's parser of generated StableHLO (fake_hlo.h). */
#include "fake_hlo.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    char **lines;
    int nlines, at;
    /* the symbol table: SSA name -> first value id */
    char (*names)[32];
    int *ids;
    int nnames, cap;
    int nvalues;
    char *err;
} parser;

static int fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *ps, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->err, 256, "line %d: %s", ps->at + 1, msg);
    return -1;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* "tensor<4x8xf32>" at *s; advances past it */
static int parse_type(parser *ps, const char **s, fh_type *t)
{
    static const struct {
        const char *n;
        fh_et et;
    } ets[] = {{"i1", FH_PRED}, {"i8", FH_I8},     {"i32", FH_I32}, {"i64", FH_I64},
               {"ui8", FH_U8},  {"bf16", FH_BF16}, {"f32", FH_F32}, {"f64", FH_F64}};
    const char *p = skip_ws(*s);
    if (strncmp(p, "tensor<", 7) != 0) return fail(ps, "expected a tensor type at '%.20s'", p);
    p += 7;
    t->rank = 0;
    while (isdigit((unsigned char)*p)) {
        if (t->rank == FH_MAX_DIMS) return fail(ps, "too many dimensions");
        t->dims[t->rank++] = strtoll(p, (char **)&p, 10);
        if (*p++ != 'x') return fail(ps, "malformed tensor type");
    }
    size_t len = strcspn(p, ">");
    for (size_t i = 0; i < sizeof(ets) / sizeof(ets[0]); i++)
        if (strlen(ets[i].n) == len && strncmp(p, ets[i].n, len) == 0) {
            t->et = ets[i].et;
            *s = p + len + 1;
            return 0;
        }
    return fail(ps, "unsupported element type '%.*s'", (int)len, p);
}

/* "(T, T) -> (T)" or "(T) -> T" at s: result types into op */
static int parse_signature(parser *ps, const char *s, fh_op *op)
{
    const char *arrow = strstr(s, "->");
    if (!arrow) return fail(ps, "no function type");
    const char *p = skip_ws(arrow + 2);
    bool paren = *p == '(';
    if (paren) p++;
    int n = 0;
    while (*skip_ws(p) && *skip_ws(p) != ')') {
        if (n == FH_MAX_VALUES) return fail(ps, "too many results");
        if (parse_type(ps, &p, &op->rtype[n++]) != 0) return -1;
        p = skip_ws(p);
        if (*p == ',') p++;
        if (!paren) break;
    }
    if (n != op->nres) return fail(ps, "%d results declared, %d types", op->nres, n);
    return 0;
}

static int define(parser *ps, const char *name, size_t len, int count)
{
    if (len >= 32) return fail(ps, "name too long");
    for (int i = 0; i < ps->nnames; i++)
        if (strncmp(ps->names[i], name, len) == 0 && ps->names[i][len] == 0)
            return fail(ps, "redefinition of %.*s", (int)len, name);
    if (ps->nnames == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        void *a = realloc(ps->names, (size_t)cap * sizeof(*ps->names));
        if (!a) return fail(ps, "out of memory");
        ps->names = a;
        void *b = realloc(ps->ids, (size_t)cap * sizeof(int));
        if (!b) return fail(ps, "out of memory");
        ps->ids = b;
        ps->cap = cap;
    }
    memcpy(ps->names[ps->nnames], name, len);
    ps->names[ps->nnames][len] = 0;
    ps->ids[ps->nnames++] = ps->nvalues;
    ps->nvalues += count;
    return ps->nvalues - count;
}

/* "%v3" or "%v3#1" at *s: its value id */
static int use(parser *ps, const char **s)
{
    const char *p = skip_ws(*s);
    if (*p != '%') return fail(ps, "expected a value at '%.20s'", p);
    size_t len = 1 + strcspn(p + 1, "#,) :");
    int k = 0;
    const char *q = p + len;
    if (*q == '#') k = (int)strtol(q + 1, (char **)&q, 10);
    for (int i = ps->nnames - 1; i >= 0; i--)
        if (strncmp(ps->names[i], p, len) == 0 && ps->names[i][len] == 0) {
            *s = q;
            return ps->ids[i] + k;
        }
    return fail(ps, "use of undefined value %.*s", (int)len, p);
}

/* "(%a, %b)" at *s into op's operands */
static int parse_operands(parser *ps, const char **s, fh_op *op)
{
    const char *p = skip_ws(*s);
    if (*p++ != '(') return fail(ps, "expected '('");
    op->nopd = 0;
    while (*skip_ws(p) != ')') {
        if (op->nopd == FH_MAX_VALUES) return fail(ps, "too many operands");
        int id = use(ps, &p);
        if (id < 0) return -1;
        op->opd[op->nopd++] = id;
        p = skip_ws(p);
        if (*p == ',') p++;
    }
    *s = p + 1;
    return 0;
}

/* "^bb0(%a: T, %b: T):" into r */
static int parse_block_args(parser *ps, const char *line, fh_region *r)
{
    const char *p = strchr(line, '(');
    if (!p) return fail(ps, "malformed block header");
    p++;
    r->nargs = 0;
    r->args = calloc(FH_MAX_VALUES, sizeof(int));
    r->types = calloc(FH_MAX_VALUES, sizeof(fh_type));
    if (!r->args || !r->types) return fail(ps, "out of memory");
    while (*skip_ws(p) == '%' && r->nargs < FH_MAX_VALUES) {
        p = skip_ws(p);
        size_t len = strcspn(p, ":");
        int id = define(ps, p, len, 1);
        if (id < 0) return -1;
        p += len + 1;
        r->args[r->nargs] = id;
        if (parse_type(ps, &p, &r->types[r->nargs++]) != 0) return -1;
        p = skip_ws(p);
        if (*p == ',') p++;
    }
    return 0;
}

static int parse_ops(parser *ps, fh_region *r);

/* the regions of an op whose line ends in "({" ... up to "}) {attrs} : type" */
static int parse_regions(parser *ps, fh_op *op, const char **tail)
{
    for (;;) {
        if (op->nreg == 2) return fail(ps, "too many regions");
        fh_region *r = &op->reg[op->nreg++];
        if (++ps->at >= ps->nlines || strncmp(skip_ws(ps->lines[ps->at]), "^bb0(", 5) != 0)
            return fail(ps, "expected a block");
        if (parse_block_args(ps, ps->lines[ps->at], r) != 0 || parse_ops(ps, r) != 0) return -1;
        const char *end = skip_ws(ps->lines[ps->at]);
        if (strncmp(end, "}, {", 4) == 0) continue;
        if (strncmp(end, "})", 2) != 0) return fail(ps, "expected the end of a region");
        *tail = end + 2;
        return 0;
    }
}

/* one operation line (and its regions): "%r = "op"(...) ... : (T) -> T" */
static int parse_op(parser *ps, const char *line, fh_op *op)
{
    const char *p = skip_ws(line);
    memset(op, 0, sizeof(*op));
    const char *name = NULL;
    size_t nlen = 0;
    if (*p == '%') {
        nlen = strcspn(p, " :=");
        name = p;
        p += nlen;
        op->nres = 1;
        if (*p == ':') op->nres = (int)strtol(p + 1, (char **)&p, 10);
        p = skip_ws(p);
        if (*p++ != '=') return fail(ps, "expected '='");
        p = skip_ws(p);
    }
    if (*p++ != '"') return fail(ps, "expected an operation name");
    size_t olen = strcspn(p, "\"");
    if (olen >= sizeof(op->name)) return fail(ps, "operation name too long");
    memcpy(op->name, p, olen);
    p += olen + 1;
    if (parse_operands(ps, &p, op) != 0) return -1;
    p = skip_ws(p);
    if (strncmp(p, "({", 2) == 0 && parse_regions(ps, op, &p) != 0) return -1;
    p = skip_ws(p);
    if (*p == '{') {
        size_t alen = strcspn(p, "}");
        /* attribute values hold '>' and ']' but never '}' in what accelbench writes */
        snprintf(op->attrs, sizeof(op->attrs), "%.*s", (int)alen, p + 1);
        p += alen + 1;
    }
    p = skip_ws(p);
    if (*p != ':') return fail(ps, "expected ':' and the type of %s", op->name);
    if (op->nres && parse_signature(ps, p, op) != 0) return -1;
    if (name && (op->res = define(ps, name, nlen, op->nres)) < 0) return -1;
    return 0;
}

/* operations up to the line closing the region (left at ps->at) */
static int parse_ops(parser *ps, fh_region *r)
{
    int cap = 0;
    for (ps->at++; ps->at < ps->nlines; ps->at++) {
        const char *l = skip_ws(ps->lines[ps->at]);
        if (*l == '}') return 0;
        if (r->nops == cap) {
            cap = cap ? cap * 2 : 16;
            fh_op *o = realloc(r->ops, (size_t)cap * sizeof(*o));
            if (!o) return fail(ps, "out of memory");
            r->ops = o;
        }
        if (parse_op(ps, l, &r->ops[r->nops]) != 0) return -1;
        r->nops++;
    }
    return fail(ps, "unexpected end of program");
}

/* "func.func public @main(%a: T, ...) -> (T, ...) {" */
static int parse_func(parser *ps, fh_program *p)
{
    const char *l = skip_ws(ps->lines[ps->at]);
    if (strncmp(l, "func.func public @main(", 23) != 0)
        return fail(ps, "expected 'func.func public @main('");
    if (parse_block_args(ps, l + 19, &p->main) != 0) return -1;
    const char *arrow = strstr(l, ") -> (");
    if (!arrow) return fail(ps, "expected the results of @main");
    const char *s = arrow + 6;
    while (*skip_ws(s) != ')' && p->nres < FH_MAX_VALUES) {
        if (parse_type(ps, &s, &p->res[p->nres++]) != 0) return -1;
        s = skip_ws(s);
        if (*s == ',') s++;
    }
    return parse_ops(ps, &p->main);
}

static char **split_lines(const char *text, int *n)
{
    int cap = 64, k = 0;
    char **v = malloc((size_t)cap * sizeof(char *));
    for (const char *p = text; v && *p;) {
        size_t len = strcspn(p, "\n");
        if (k == cap) {
            char **w = realloc(v, (size_t)(cap *= 2) * sizeof(char *));
            if (!w) {
                for (int i = 0; i < k; i++)
                    free(v[i]);
                free(v);
                return NULL;
            }
            v = w;
        }
        if (len && !(v[k++] = strndup(p, len))) k--;
        p += len + (p[len] == '\n');
    }
    *n = k;
    return v;
}

int fh_parse(const char *text, fh_program *p, char *err)
{
    memset(p, 0, sizeof(*p));
    parser ps = {.err = err};
    if (!(ps.lines = split_lines(text, &ps.nlines))) return fail(&ps, "out of memory");
    int rc = 0;
    if (ps.nlines < 3 || sscanf(ps.lines[0], "module @%63[A-Za-z0-9_]", p->name) != 1)
        rc = fail(&ps, "expected 'module @name {'");
    else if ((ps.at = 1, parse_func(&ps, p)) != 0)
        rc = -1;
    else if (p->main.nops == 0 || strcmp(p->main.ops[p->main.nops - 1].name, "func.return") != 0)
        rc = fail(&ps, "@main does not end in func.return");
    p->nvalues = ps.nvalues;
    for (int i = 0; i < ps.nlines; i++)
        free(ps.lines[i]);
    free(ps.lines);
    free(ps.names);
    free(ps.ids);
    if (rc != 0) fh_free(p);
    return rc;
}

static void free_region(fh_region *r)
{
    for (int i = 0; i < r->nops; i++)
        for (int k = 0; k < r->ops[i].nreg; k++)
            free_region(&r->ops[i].reg[k]);
    free(r->ops);
    free(r->args);
    free(r->types);
    memset(r, 0, sizeof(*r));
}

void fh_free(fh_program *p)
{
    free_region(&p->main);
}
