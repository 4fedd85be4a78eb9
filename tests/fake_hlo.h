/* SPDX-License-Identifier: MIT */
/*
 * The stand-in PJRT plugin's "compiler": a parser and host interpreter for the StableHLO that
 * accelbench generates (generic MLIR form, one operation per line, backends/stablehlo.c). It
 * accepts exactly the operations the suites emit and rejects anything else with a message, as
 * a compiler would; executing a program computes its results on the host, in double precision
 * rounded to each result's element type after every operation.
 */
#ifndef AB_FAKE_HLO_H
#define AB_FAKE_HLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FH_MAX_DIMS   6
#define FH_MAX_VALUES 64 /* operands, results, block and function arguments of one operation */

typedef enum { FH_PRED, FH_I8, FH_I32, FH_I64, FH_U8, FH_BF16, FH_F32, FH_F64 } fh_et;

typedef struct fh_type {
    fh_et et;
    int rank;
    int64_t dims[FH_MAX_DIMS];
} fh_type;

typedef struct fh_value {
    fh_type t;
    size_t n;
    double *d;
    bool borrowed; /* d belongs to another value that outlives this one (not freed here) */
} fh_value;

typedef struct fh_op fh_op;

typedef struct fh_region {
    int nargs;
    int *args; /* value ids of the block arguments */
    fh_type *types;
    fh_op *ops;
    int nops;
} fh_region;

struct fh_op {
    char name[48]; /* "stablehlo.add" */
    int nres, res; /* results: value ids res .. res + nres - 1 */
    int nopd;
    int opd[FH_MAX_VALUES];
    fh_type rtype[FH_MAX_VALUES]; /* result types */
    char attrs[512];              /* the attribute dictionary, as written */
    int nreg;
    fh_region reg[2];
};

typedef struct fh_program {
    char name[64];
    fh_region main; /* the function: its arguments and body */
    int nres;
    fh_type res[FH_MAX_VALUES];
    int nvalues; /* value ids in use */
} fh_program;

/* Parses text; -1 with a one-line message in err (256 bytes). */
int fh_parse(const char *text, fh_program *p, char *err);
void fh_free(fh_program *p);

/* Executes p on args (p->main.nargs values, checked against the signature); outs gets p->nres
 * new values (caller frees with fh_value_free). *loops counts while-loop iterations. */
int fh_run(const fh_program *p, const fh_value *args, fh_value *outs, long *loops, char *err);

size_t fh_et_size(fh_et t);
int fh_value_alloc(fh_value *v, const fh_type *t);
void fh_value_free(fh_value *v);
/* Raw bytes (row-major, the type's storage) <-> values. */
void fh_from_bytes(fh_value *v, const void *bytes);
void fh_to_bytes(const fh_value *v, void *bytes);
/* x rounded to what type t stores. */
double fh_round(fh_et t, double x);

/* ---- shared by the interpreter's files ---- */
/* The integers of "key = array<i64: 0, 1>" or "key = [0, 1]" in attrs (how many; -1: none). */
int fh_int_list(const char *attrs, const char *key, int64_t *v, int max);
/* Row-major offset of a multi-index in t, and back. */
size_t fh_offset(const fh_type *t, const int64_t *idx);
void fh_unflatten(const fh_type *t, size_t o, int64_t *idx);
/* fake_hlo_shape.c: slice, concatenate, transpose, dynamic_update_slice of op (operands in v
 * by value id) into r (allocated with the result type). 0 done, -1 an error (err), 1 not one of
 * these. */
int fh_eval_shape(const char *fn, const fh_op *op, const fh_value *v, fh_value *r, char *err);

#endif
