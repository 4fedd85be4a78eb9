/* SPDX-License-Identifier: MIT */
/*
 * Arithmetic formulas over named variables: "3*n*s", "2*m*n*k", "(m*k*sa + k*n*sb) / 2".
 * A suite states a case's bytes and FLOPs per iteration as such a formula; the runner evaluates
 * it for the metric and records the same text as the metric's formula, so what is recorded is
 * what was computed.
 *
 * Grammar: numbers (decimal, optional fraction and exponent), identifiers ([A-Za-z_][A-Za-z0-9_]*),
 * + - * / with the usual precedence, unary minus, parentheses. Spaces are ignored. Evaluation is
 * left to right in double precision; with `f32` set every intermediate result is rounded to
 * float, which gives exactly float arithmetic (each operation correctly rounded).
 */
#ifndef AB_FORMULA_H
#define AB_FORMULA_H

#include "ab.h"

/* Looks up a variable: 0 with *value set, -1 when unknown. */
typedef int (*ab_formula_var_fn)(void *arg, const char *name, double *value);

/* 0 with *out, or -1 with err naming the problem (syntax, unknown variable, position). */
int ab_formula_eval(const char *expr, ab_formula_var_fn var, void *arg, bool f32, double *out,
                    char *err);

#endif
