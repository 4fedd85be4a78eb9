/* SPDX-License-Identifier: MIT */
#include "formula.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s, *p;
    ab_formula_var_fn var;
    void *arg;
    bool f32;
    char *err;
    int depth;
} parser;

static double rnd(const parser *ps, double v)
{
    return ps->f32 ? (double)(float)v : v;
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int expr(parser *ps, double *out);

static int primary(parser *ps, double *out)
{
    skip_ws(ps);
    const char *at = ps->p;
    if (*at == '(') {
        if (++ps->depth > 64)
            return ab_err(ps->err, "formula '%s': nested too deeply", ps->s);
        ps->p++;
        if (expr(ps, out) != 0)
            return -1;
        skip_ws(ps);
        if (*ps->p != ')')
            return ab_err(ps->err, "formula '%s': ')' expected at offset %d", ps->s,
                          (int)(ps->p - ps->s));
        ps->p++;
        ps->depth--;
        return 0;
    }
    if (*at == '-') {
        ps->p++;
        if (primary(ps, out) != 0)
            return -1;
        *out = -*out;
        return 0;
    }
    if (isdigit((unsigned char)*at) || (*at == '.' && isdigit((unsigned char)at[1]))) {
        char *end;
        *out = rnd(ps, strtod(at, &end));
        ps->p = end;
        return 0;
    }
    if (isalpha((unsigned char)*at) || *at == '_') {
        char name[64];
        size_t n = 0;
        while (isalnum((unsigned char)ps->p[0]) || ps->p[0] == '_') {
            if (n + 1 >= sizeof(name))
                return ab_err(ps->err, "formula '%s': name too long", ps->s);
            name[n++] = *ps->p++;
        }
        name[n] = 0;
        if (!ps->var || ps->var(ps->arg, name, out) != 0)
            return ab_err(ps->err, "formula '%s': unknown variable '%s'", ps->s, name);
        *out = rnd(ps, *out);
        return 0;
    }
    return ab_err(ps->err, "formula '%s': number, name or '(' expected at offset %d", ps->s,
                  (int)(at - ps->s));
}

static int term(parser *ps, double *out)
{
    if (primary(ps, out) != 0)
        return -1;
    for (;;) {
        skip_ws(ps);
        char op = *ps->p;
        if (op != '*' && op != '/')
            return 0;
        ps->p++;
        double v;
        if (primary(ps, &v) != 0)
            return -1;
        *out = rnd(ps, op == '*' ? *out * v : *out / v);
    }
}

static int expr(parser *ps, double *out)
{
    if (term(ps, out) != 0)
        return -1;
    for (;;) {
        skip_ws(ps);
        char op = *ps->p;
        if (op != '+' && op != '-')
            return 0;
        ps->p++;
        double v;
        if (term(ps, &v) != 0)
            return -1;
        *out = rnd(ps, op == '+' ? *out + v : *out - v);
    }
}

int ab_formula_eval(const char *s, ab_formula_var_fn var, void *arg, bool f32, double *out,
                    char *err)
{
    if (!s)
        return ab_err(err, "no formula");
    parser ps = {.s = s, .p = s, .var = var, .arg = arg, .f32 = f32, .err = err};
    double v;
    if (expr(&ps, &v) != 0)
        return -1;
    skip_ws(&ps);
    if (*ps.p)
        return ab_err(err, "formula '%s': unexpected '%c' at offset %d", s, *ps.p,
                      (int)(ps.p - s));
    *out = v;
    return 0;
}
