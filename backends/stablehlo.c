/* SPDX-License-Identifier: MIT */
/* StableHLO text in MLIR's generic form (stablehlo.h). */
#include "stablehlo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ab_shlo_init(ab_shlo *s)
{
    memset(s, 0, sizeof(*s));
}

void ab_shlo_free(ab_shlo *s)
{
    free(s->buf);
    ab_shlo_init(s);
}

char *ab_shlo_take(ab_shlo *s)
{
    char *t = s->oom ? NULL : s->buf;
    if (!t) free(s->buf);
    ab_shlo_init(s);
    return t;
}

static void vappend(ab_shlo *s, const char *fmt, va_list ap)
{
    if (s->oom) return;
    for (;;) {
        va_list aq;
        va_copy(aq, ap);
        size_t room = s->cap - s->len;
        int n = vsnprintf(s->buf ? s->buf + s->len : NULL, room, fmt, aq);
        va_end(aq);
        if (n < 0) {
            s->oom = true;
            return;
        }
        if ((size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap - s->len <= (size_t)n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->oom = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
}

static void append(ab_shlo *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(ab_shlo *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(s, fmt, ap);
    va_end(ap);
}

void ab_shlo_line(ab_shlo *s, const char *fmt, ...)
{
    append(s, "%*s", 2 * s->depth, "");
    va_list ap;
    va_start(ap, fmt);
    vappend(s, fmt, ap);
    va_end(ap);
    append(s, "\n");
}

char *ab_shlo_type(char *t, const char *et, const int64_t *dims, int rank)
{
    size_t o = (size_t)snprintf(t, AB_SHLO_TYPE, "tensor<");
    for (int i = 0; i < rank && o < AB_SHLO_TYPE; i++)
        o += (size_t)snprintf(t + o, AB_SHLO_TYPE - o, "%lldx", (long long)dims[i]);
    if (o < AB_SHLO_TYPE) snprintf(t + o, AB_SHLO_TYPE - o, "%s>", et);
    return t;
}

char *ab_shlo_fresh(ab_shlo *s, char *name)
{
    snprintf(name, AB_SHLO_NAME, "%%v%d", s->next++);
    return name;
}

void ab_shlo_const(ab_shlo *s, char *out, const char *type, const char *value)
{
    ab_shlo_fresh(s, out);
    ab_shlo_line(s, "%s = \"stablehlo.constant\"() {value = dense<%s> : %s} : () -> %s", out, value,
                 type, type);
}

void ab_shlo_binary(ab_shlo *s, char *out, const char *op, const char *a, const char *b,
                    const char *t)
{
    char r[AB_SHLO_NAME];
    ab_shlo_fresh(s, r);
    ab_shlo_line(s, "%s = \"stablehlo.%s\"(%s, %s) : (%s, %s) -> %s", r, op, a, b, t, t, t);
    memcpy(out, r, AB_SHLO_NAME);
}

void ab_shlo_unary(ab_shlo *s, char *out, const char *op, const char *a, const char *tin,
                   const char *tout)
{
    char r[AB_SHLO_NAME];
    ab_shlo_fresh(s, r);
    ab_shlo_line(s, "%s = \"stablehlo.%s\"(%s) : (%s) -> %s", r, op, a, tin, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

/* "a, b, c" of n integers into buf */
static const char *int_list(char *buf, size_t len, const int64_t *v, int n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)v[i]);
    return buf;
}

void ab_shlo_broadcast(ab_shlo *s, char *out, const char *a, const char *tin, const char *tout,
                       const int64_t *dims, int n)
{
    char r[AB_SHLO_NAME], l[64];
    ab_shlo_fresh(s, r);
    int_list(l, sizeof(l), dims, n);
    ab_shlo_line(s,
                 "%s = \"stablehlo.broadcast_in_dim\"(%s) {broadcast_dimensions = array<i64%s%s>} "
                 ": (%s) -> %s",
                 r, a, n ? ": " : "", l, tin, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

void ab_shlo_reduce(ab_shlo *s, char *out, const char *op, const char *a, const char *tin,
                    const char *init, const char *et, const char *tout, const int64_t *dims, int n)
{
    char r[AB_SHLO_NAME], p[AB_SHLO_NAME], q[AB_SHLO_NAME], v[AB_SHLO_NAME], l[64];
    char st[AB_SHLO_TYPE];
    ab_shlo_type(st, et, NULL, 0);
    ab_shlo_fresh(s, r);
    ab_shlo_fresh(s, p);
    ab_shlo_fresh(s, q);
    ab_shlo_line(s, "%s = \"stablehlo.reduce\"(%s, %s) ({", r, a, init);
    ab_shlo_line(s, "^bb0(%s: %s, %s: %s):", p, st, q, st);
    s->depth++;
    ab_shlo_binary(s, v, op, p, q, st);
    ab_shlo_line(s, "\"stablehlo.return\"(%s) : (%s) -> ()", v, st);
    s->depth--;
    ab_shlo_line(s, "}) {dimensions = array<i64: %s>} : (%s, %s) -> %s",
                 int_list(l, sizeof(l), dims, n), tin, st, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

void ab_shlo_dot_general(ab_shlo *s, char *out, const char *a, const char *ta, const char *b,
                         const char *tb, const char *tout, const ab_shlo_dot *d)
{
    char r[AB_SHLO_NAME], lb[32], rb[32], lc[32], rc[32], batch[96] = "";
    ab_shlo_fresh(s, r);
    if (d->nbatch)
        snprintf(batch, sizeof(batch),
                 "lhs_batching_dimensions = [%s], rhs_batching_dimensions = [%s], ",
                 int_list(lb, sizeof(lb), d->lb, d->nbatch),
                 int_list(rb, sizeof(rb), d->rb, d->nbatch));
    ab_shlo_line(s,
                 "%s = \"stablehlo.dot_general\"(%s, %s) {dot_dimension_numbers = "
                 "#stablehlo.dot<%slhs_contracting_dimensions = [%s], rhs_contracting_dimensions "
                 "= [%s]>%s} : (%s, %s) -> %s",
                 r, a, b, batch, int_list(lc, sizeof(lc), d->lc, 1),
                 int_list(rc, sizeof(rc), d->rc, 1),
                 d->highest ? ", precision_config = [#stablehlo<precision HIGHEST>, "
                              "#stablehlo<precision HIGHEST>]"
                            : "",
                 ta, tb, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

/* A scratch string built with append() (the text of one long line). */
static const char *str(const ab_shlo *b)
{
    return b->buf ? b->buf : "";
}

/* "T0, T1, ..." of the loop state: the counter, the trip count, the arrays */
static void state_types(ab_shlo *b, const char (*types)[AB_SHLO_TYPE], int n)
{
    append(b, "tensor<i64>, tensor<i64>");
    for (int i = 0; i < n; i++)
        append(b, ", %s", types[i]);
}

/* "^bb0(%x: T, ...)" of the loop state with fresh names into names[2 + n] */
static void state_block(ab_shlo *s, const char (*types)[AB_SHLO_TYPE], int n,
                        char (*names)[AB_SHLO_NAME])
{
    ab_shlo line;
    ab_shlo_init(&line);
    append(&line, "^bb0(");
    for (int i = 0; i < n + 2; i++)
        append(&line, "%s%s: %s", i ? ", " : "", ab_shlo_fresh(s, names[i]),
               i < 2 ? "tensor<i64>" : types[i - 2]);
    s->oom |= line.oom;
    ab_shlo_line(s, "%s):", str(&line));
    ab_shlo_free(&line);
}

/* the loop body: barrier, kernel, counter + 1, return of the new state; st and arrays: room for
 * 2 + n and n names */
static int loop_body(ab_shlo *s, const char (*types)[AB_SHLO_TYPE], int n, ab_shlo_body_fn body,
                     void *arg, char (*st)[AB_SHLO_NAME], char (*arrays)[AB_SHLO_NAME])
{
    char bar[AB_SHLO_NAME], one[AB_SHLO_NAME], next[AB_SHLO_NAME], counter[AB_SHLO_NAME];
    ab_shlo ops, tl;
    ab_shlo_init(&ops);
    ab_shlo_init(&tl);
    state_block(s, types, n, st);
    s->depth++;
    /* barrier over the counter and the arrays (not the trip count) */
    append(&ops, "%s", st[0]);
    append(&tl, "tensor<i64>");
    for (int i = 0; i < n; i++) {
        append(&ops, ", %s", st[2 + i]);
        append(&tl, ", %s", types[i]);
    }
    ab_shlo_fresh(s, bar);
    ab_shlo_line(s, "%s:%d = \"stablehlo.optimization_barrier\"(%s) : (%s) -> (%s)", bar, n + 1,
                 str(&ops), str(&tl), str(&tl));
    for (int i = 0; i < n; i++)
        snprintf(arrays[i], AB_SHLO_NAME, "%s#%d", bar, i + 1);
    snprintf(counter, sizeof(counter), "%s#0", bar);
    int rc = body(s, arg, counter, arrays);
    if (rc == 0) {
        ab_shlo_const(s, one, "tensor<i64>", "1");
        ab_shlo_binary(s, next, "add", counter, one, "tensor<i64>");
        ab_shlo_free(&ops);
        ab_shlo_free(&tl);
        append(&ops, "%s, %s", next, st[1]);
        for (int i = 0; i < n; i++)
            append(&ops, ", %s", arrays[i]);
        state_types(&tl, types, n);
        ab_shlo_line(s, "\"stablehlo.return\"(%s) : (%s) -> ()", str(&ops), str(&tl));
    }
    s->oom |= ops.oom || tl.oom;
    ab_shlo_free(&ops);
    ab_shlo_free(&tl);
    s->depth--;
    return rc;
}

static void loop_cond(ab_shlo *s, const char (*types)[AB_SHLO_TYPE], int n,
                      char (*st)[AB_SHLO_NAME])
{
    char lt[AB_SHLO_NAME];
    state_block(s, types, n, st);
    s->depth++;
    ab_shlo_fresh(s, lt);
    ab_shlo_line(s,
                 "%s = \"stablehlo.compare\"(%s, %s) {comparison_direction = "
                 "#stablehlo<comparison_direction LT>} : (tensor<i64>, tensor<i64>) -> tensor<i1>",
                 lt, st[0], st[1]);
    ab_shlo_line(s, "\"stablehlo.return\"(%s) : (tensor<i1>) -> ()", lt);
    s->depth--;
}

/* the function: the while loop over the arrays args[1 .. n] and the return of the results */
static int looped_main(ab_shlo *s, const char (*types)[AB_SHLO_TYPE], int n, const int *results,
                       int nres, ab_shlo_body_fn body, void *arg, char (*names)[AB_SHLO_NAME])
{
    char(*args)[AB_SHLO_NAME] = names, (*st)[AB_SHLO_NAME] = names + n + 1;
    char(*arrays)[AB_SHLO_NAME] = names + 2 * n + 3;
    char zero[AB_SHLO_NAME], loop[AB_SHLO_NAME];
    ab_shlo line, res, ops, tl;
    ab_shlo_init(&line), ab_shlo_init(&res), ab_shlo_init(&ops), ab_shlo_init(&tl);
    append(&line, "%s: tensor<i64>", ab_shlo_fresh(s, args[0]));
    for (int i = 0; i < n; i++)
        append(&line, ", %s: %s", ab_shlo_fresh(s, args[1 + i]), types[i]);
    for (int i = 0; i < nres; i++)
        append(&res, "%s%s", i ? ", " : "", types[results[i]]);
    ab_shlo_line(s, "func.func public @main(%s) -> (%s) {", str(&line), str(&res));
    s->depth++;
    ab_shlo_const(s, zero, "tensor<i64>", "0");
    append(&ops, "%s, %s", zero, args[0]);
    for (int i = 0; i < n; i++)
        append(&ops, ", %s", args[1 + i]);
    state_types(&tl, types, n);
    ab_shlo_fresh(s, loop);
    ab_shlo_line(s, "%s:%d = \"stablehlo.while\"(%s) ({", loop, n + 2, str(&ops));
    loop_cond(s, types, n, st);
    ab_shlo_line(s, "}, {");
    int rc = loop_body(s, types, n, body, arg, st, arrays);
    if (rc == 0) {
        ab_shlo_line(s, "}) : (%s) -> (%s)", str(&tl), str(&tl));
        ab_shlo_free(&ops);
        for (int i = 0; i < nres; i++)
            append(&ops, "%s%s#%d", i ? ", " : "", loop, 2 + results[i]);
        ab_shlo_line(s, "\"func.return\"(%s) : (%s) -> ()", str(&ops), str(&res));
    }
    s->oom |= line.oom || res.oom || ops.oom || tl.oom;
    ab_shlo_free(&line), ab_shlo_free(&res), ab_shlo_free(&ops), ab_shlo_free(&tl);
    s->depth--;
    return rc;
}

char *ab_shlo_looped(const char *name, const char (*types)[AB_SHLO_TYPE], int n, const int *results,
                     int nres, ab_shlo_body_fn body, void *arg)
{
    if (n < 1) return NULL;
    /* the function's arguments (1 + n), the loop state (2 + n) and the arrays after the
     * barrier (n) */
    char(*names)[AB_SHLO_NAME] = calloc((size_t)(3 * n + 3), AB_SHLO_NAME);
    if (!names) return NULL;
    ab_shlo s;
    ab_shlo_init(&s);
    ab_shlo_line(&s, "module @%s {", name);
    s.depth++;
    int rc = looped_main(&s, types, n, results, nres, body, arg, names);
    free(names);
    if (rc != 0) {
        ab_shlo_free(&s);
        return NULL;
    }
    ab_shlo_line(&s, "}");
    s.depth--;
    ab_shlo_line(&s, "}");
    return ab_shlo_take(&s);
}

char *ab_shlo_identity(const char *name, const char *t)
{
    ab_shlo s;
    ab_shlo_init(&s);
    ab_shlo_line(&s, "module @%s {", name);
    ab_shlo_line(&s, "  func.func public @main(%%v0: %s) -> (%s) {", t, t);
    ab_shlo_line(&s, "    \"func.return\"(%%v0) : (%s) -> ()", t);
    ab_shlo_line(&s, "  }");
    ab_shlo_line(&s, "}");
    return ab_shlo_take(&s);
}
