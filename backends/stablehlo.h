/* SPDX-License-Identifier: MIT */
/*
 * StableHLO text for the pjrt backend's programs, written in MLIR's generic operation form
 * ("stablehlo.add"(%a, %b) : (T, T) -> T). Every XLA plugin parses the generic form of the ops it
 * registers, and a tool that does not know the StableHLO dialect (Debian's mlir-opt-16 with
 * --allow-unregistered-dialect) still checks its syntax, which the tests do.
 *
 * The looped program (ab_shlo_looped) is the timing method of every suite on PJRT: argument 0
 * is the trip count R; the kernel's arrays enter a stablehlo.while loop; at the top of each
 * iteration the counter and the arrays pass through one stablehlo.optimization_barrier, so the
 * compiler cannot prove an iteration's inputs equal the previous one's (no hoisting of the
 * kernel out of the loop, no folding of R iterations into one) and the kernel runs R times. The
 * trip count is a runtime value, so one compiled program serves every R, R = 0 included.
 */
#ifndef AB_STABLEHLO_H
#define AB_STABLEHLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_SHLO_NAME 32 /* an SSA value reference: "%v12" or "%v12#3" */
#define AB_SHLO_TYPE 96 /* a tensor type: "tensor<8x128x64xbf16>" */

typedef struct ab_shlo {
    char *buf;
    size_t len, cap;
    int next; /* next SSA number */
    bool oom;
    int depth; /* indentation */
} ab_shlo;

void ab_shlo_init(ab_shlo *s);
void ab_shlo_free(ab_shlo *s);
/* The text (caller frees), or NULL when out of memory; s is reset. */
char *ab_shlo_take(ab_shlo *s);
/* Appends one indented line. */
void ab_shlo_line(ab_shlo *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "tensor<AxBxET>" (rank 0: "tensor<ET>") into t (AB_SHLO_TYPE bytes); returns t. */
char *ab_shlo_type(char *t, const char *et, const int64_t *dims, int rank);
/* A fresh SSA name into name (AB_SHLO_NAME bytes); returns name. */
char *ab_shlo_fresh(ab_shlo *s, char *name);

/* ---- operations: each writes its result's name into `out` (AB_SHLO_NAME bytes) ---- */
/* splat constant: value is the literal ("0", "4.000000060e-01") */
void ab_shlo_const(ab_shlo *s, char *out, const char *type, const char *value);
/* elementwise op of two operands of type t: "add", "subtract", "multiply", "divide", "maximum" */
void ab_shlo_binary(ab_shlo *s, char *out, const char *op, const char *a, const char *b,
                    const char *t);
/* one operand: "exponential", "convert", "reshape" (tin -> tout) */
void ab_shlo_unary(ab_shlo *s, char *out, const char *op, const char *a, const char *tin,
                   const char *tout);
/* broadcast_in_dim of a (type tin) into tout; dims: tout's dimension of each of a's */
void ab_shlo_broadcast(ab_shlo *s, char *out, const char *a, const char *tin, const char *tout,
                       const int64_t *dims, int n);
/* reduce over dimensions dims[n] with "add" or "maximum" from init (a rank-0 constant of et) */
void ab_shlo_reduce(ab_shlo *s, char *out, const char *op, const char *a, const char *tin,
                    const char *init, const char *et, const char *tout, const int64_t *dims, int n);

typedef struct ab_shlo_dot {
    int64_t lb[2], rb[2], lc[1], rc[1]; /* batching and contracting dimensions */
    int nbatch;
    bool highest; /* precision HIGHEST on both operands (f32 at full precision on TPU) */
} ab_shlo_dot;
void ab_shlo_dot_general(ab_shlo *s, char *out, const char *a, const char *ta, const char *b,
                         const char *tb, const char *tout, const ab_shlo_dot *d);

/* ---- whole programs ---- */

/* The kernel of a looped program: given the names of the iteration counter (tensor<i64>) and of
 * the arrays after the barrier, replace names[i] of each array the kernel writes by its new
 * value. Returns 0. */
typedef int (*ab_shlo_body_fn)(ab_shlo *s, void *arg, const char *counter,
                               char (*names)[AB_SHLO_NAME]);

/*
 * `module @<name>` with `func.func public @main(%R: tensor<i64>, arrays...) -> (results)`: the
 * arrays (types[n], any number) enter the loop, the body runs R times, the function returns the
 * arrays listed in results[nres] (indices into the arrays). The text (caller frees) or NULL.
 */
char *ab_shlo_looped(const char *name, const char (*types)[AB_SHLO_TYPE], int n, const int *results,
                     int nres, ab_shlo_body_fn body, void *arg);

/* `@main(%x: t) -> t` returning its argument: a device-side copy into a new buffer. */
char *ab_shlo_identity(const char *name, const char *t);

#endif
