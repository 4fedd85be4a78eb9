/* SPDX-License-Identifier: MIT */
/*
 * gemm validation: the f64 reference of the entries checked (the full matrix for small
 * products, a stratified grid otherwise), the check of every buffer set's C, and the damage
 * --test-corrupt does.
 */
#include "gemm_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* the full matrix is checked up to this many multiply-adds (~0.1 s of f64 reference) */
#define FULL_CHECK_MNK (1LL << 26)

void ab_gemm_ref_free(ab_gemm_ref *r)
{
    free(r->rows);
    free(r->cols);
    free(r->ref);
    free(r->sumabs);
    memset(r, 0, sizeof(*r));
}

/* Picks n distinct indices of [0, total): one per stratum of equal width, the first and the
 * last stratum contributing the edges (where partial tiles live), the others a random member. */
static void stratified(int64_t total, size_t n, uint64_t seed, int64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int64_t lo = (int64_t)((double)total * (double)i / (double)n);
        int64_t hi = (int64_t)((double)total * (double)(i + 1) / (double)n);
        if (hi <= lo)
            hi = lo + 1;
        if (i == 0)
            out[i] = 0;
        else if (i + 1 == n)
            out[i] = total - 1;
        else
            out[i] = lo + (int64_t)(ab_gemm_hash(seed, i) % (uint64_t)(hi - lo));
    }
}

static double input_value(ab_gemm_type t, uint64_t seed, size_t idx)
{
    return ab_gemm_decode(t, ab_gemm_value_bits(t, seed, idx));
}

/* The sums over k of the decoded op(A) rows and op(B) columns. */
static void ref_sums(const ab_gemm_op *op, ab_gemm_ref *r, double *arow, double *bcol)
{
    int64_t K = op->k;
    /* op(A) rows and op(B) columns, decoded once (values are a function of the storage index) */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < r->nr; i++)
        for (int64_t k = 0; k < K; k++) {
            int64_t m = r->rows[i];
            size_t idx = (size_t)(op->ta ? k * op->lda + m : m * op->lda + k);
            arow[i * (size_t)K + (size_t)k] = input_value(op->a, AB_GEMM_SEED_A, idx);
        }
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < r->nc; j++)
        for (int64_t k = 0; k < K; k++) {
            int64_t n = r->cols[j];
            size_t idx = (size_t)(op->tb ? n * op->ldb + k : k * op->ldb + n);
            bcol[j * (size_t)K + (size_t)k] = input_value(op->b, AB_GEMM_SEED_B, idx);
        }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < r->nr; i++)
        for (size_t j = 0; j < r->nc; j++) {
            const double *x = arow + i * (size_t)K, *y = bcol + j * (size_t)K;
            double s = 0.0, sa = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double p = x[k] * y[k];
                s += p;
                sa += fabs(p);
            }
            r->ref[i * r->nc + j] = s;
            r->sumabs[i * r->nc + j] = sa;
        }
}

/* The entries to check and their f64 reference: the full matrix for small products, otherwise
 * a stratified grid of rows x columns with at least AB_GEMM_MIN_SAMPLES entries. */
int ab_gemm_ref_make(const ab_gemm_op *op, ab_gemm_ref *r, char *err)
{
    memset(r, 0, sizeof(*r));
    int64_t M = op->m, N = op->n, K = op->k;
    r->full = (double)M * (double)N * (double)K <= (double)FULL_CHECK_MNK ||
              M * N <= AB_GEMM_MIN_SAMPLES;
    if (r->full) {
        r->nr = (size_t)M;
        r->nc = (size_t)N;
    } else {
        r->nr = (size_t)(M < 16 ? M : 16);
        size_t want = (AB_GEMM_MIN_SAMPLES + r->nr - 1) / r->nr;
        r->nc = (size_t)(N < (int64_t)want ? N : (int64_t)want);
    }
    r->rows = malloc(r->nr * sizeof(*r->rows));
    r->cols = malloc(r->nc * sizeof(*r->cols));
    r->ref = malloc(r->nr * r->nc * sizeof(*r->ref));
    r->sumabs = malloc(r->nr * r->nc * sizeof(*r->sumabs));
    double *arow = malloc(r->nr * (size_t)K * sizeof(double));
    double *bcol = malloc(r->nc * (size_t)K * sizeof(double));
    if (!r->rows || !r->cols || !r->ref || !r->sumabs || !arow || !bcol) {
        free(arow);
        free(bcol);
        ab_gemm_ref_free(r);
        return ab_err(err, "out of host memory for the validation reference");
    }
    if (r->full) {
        for (size_t i = 0; i < r->nr; i++)
            r->rows[i] = (int64_t)i;
        for (size_t j = 0; j < r->nc; j++)
            r->cols[j] = (int64_t)j;
    } else {
        stratified(M, r->nr, 0x5EED0001, r->rows);
        stratified(N, r->nc, 0x5EED0002, r->cols);
    }
    ref_sums(op, r, arow, bcol);
    free(arow);
    free(bcol);
    return 0;
}

int ab_gemm_corrupt(const ab_device *d, const ab_gemm_op *op, const ab_gemm_ref *r, void *c,
                    char *err)
{
    int64_t i = r->rows[r->nr / 2], j = r->cols[r->nc / 2];
    size_t es = ab_gemm_type_size(op->c);
    uint64_t bits = ab_gemm_encode(op->c, -12345.0);
    unsigned char buf[8];
    for (size_t q = 0; q < es; q++)
        buf[q] = (unsigned char)(bits >> (8 * q)); /* little endian, as every target here */
    size_t off = (size_t)(i * op->ldc + j) * es;
    const ab_backend_ops *ops = d->backend->ops;
    if (ops->copy(d->h, AB_COPY_H2D, c, buf, off, es, err) || ops->sync(d->h, err))
        return -1;
    return 0;
}

typedef struct tally {
    size_t checked, wrong, unwritten;
    int64_t wi, wj, ui, uj; /* worst wrong entry; first unwritten */
    double got, want, tol, worst_wrong;
    double max_ratio; /* largest |error| / tolerance over every checked entry */
} tally;

static bool entry_unwritten(ab_gemm_type t, double v)
{
    return t == AB_GT_I32 ? v == -2147483648.0 : !isfinite(v);
}

/* Row i of C (reference row ri): the reference entries of every ref_step-th position. */
static void check_row(const ab_gemm_op *op, const ab_gemm_ref *r, const void *row, int64_t i,
                      size_t ri, size_t ref_step, tally *v)
{
    for (size_t q = 0; q < r->nc; q++) {
        if ((ri * r->nc + q) % ref_step != 0)
            continue;
        double got = ab_gemm_load(op->c, row, (size_t)r->cols[q]);
        double want = op->alpha * r->ref[ri * r->nc + q];
        double tol = ab_gemm_tolerance(op, r->sumabs[ri * r->nc + q], r->ref[ri * r->nc + q]);
        double d = fabs(got - want);
        double ratio = d <= tol ? (tol > 0 ? d / tol : 0.0) : tol > 0 ? d / tol : INFINITY;
        if (isnan(d))
            ratio = INFINITY;
        v->checked++;
        if (!(d <= tol)) {
            if (!v->wrong || ratio > v->worst_wrong) {
                v->worst_wrong = ratio;
                v->wi = i, v->wj = r->cols[q];
                v->got = got, v->want = want, v->tol = tol;
            }
            v->wrong++;
        }
        if (ratio > v->max_ratio)
            v->max_ratio = ratio;
    }
}

/* Checks one buffer set's C: every entry written and finite, and the reference entries within
 * tolerance. C is read in slices of whole rows so host memory stays bounded. */
static int check_c(const ab_device *d, const ab_gemm_group *g, const ab_gemm_op *op, void *cbuf,
                   size_t ref_step, tally *v, char *err)
{
    const ab_gemm_ref *r = &g->ref;
    size_t es = ab_gemm_type_size(op->c), row_bytes = (size_t)op->ldc * es;
    size_t rows_per = g->scratch_bytes / row_bytes;
    if (rows_per == 0)
        rows_per = 1;
    size_t ri = 0; /* next reference row (rows ascending) */
    for (int64_t r0 = 0; r0 < op->m; r0 += (int64_t)rows_per) {
        int64_t r1 = r0 + (int64_t)rows_per < op->m ? r0 + (int64_t)rows_per : op->m;
        const void *h;
        if (ab_gemm_host_backend(d)) {
            h = (const char *)cbuf + (size_t)r0 * row_bytes;
        } else {
            size_t bytes = (size_t)(r1 - r0) * row_bytes;
            if (r1 == op->m) /* the last row may be shorter than ldc */
                bytes = (size_t)(r1 - r0 - 1) * row_bytes + (size_t)op->n * es;
            if (d->backend->ops->copy(d->h, AB_COPY_D2H, g->scratch, cbuf,
                                      (size_t)r0 * row_bytes, bytes, err) ||
                d->backend->ops->sync(d->h, err))
                return -1;
            h = g->scratch;
        }
        for (int64_t i = r0; i < r1; i++) {
            const void *row = (const char *)h + (size_t)(i - r0) * row_bytes;
            for (int64_t j = 0; j < op->n; j++)
                if (entry_unwritten(op->c, ab_gemm_load(op->c, row, (size_t)j))) {
                    if (!v->unwritten)
                        v->ui = i, v->uj = j;
                    v->unwritten++;
                }
            if (ri < r->nr && r->rows[ri] == i)
                check_row(op, r, row, i, ri++, ref_step, v);
        }
    }
    return 0;
}

int ab_gemm_check(const ab_device *d, const ab_gemm_group *g, const ab_gemm_op *op,
                  ab_result *res, ab_verdict *vd, char *err)
{
    const ab_gemm_ref *ref = &g->ref;
    tally v;
    memset(&v, 0, sizeof(v));
    /* Copy 0 is compared on every reference entry; the other copies (the same inputs, the same
     * kernel) on an evenly spread subset of at least AB_GEMM_MIN_SAMPLES of them. Every entry
     * of every copy is scanned for being written and finite. */
    size_t nref = ref->nr * ref->nc;
    size_t step = nref / AB_GEMM_MIN_SAMPLES > 1 ? nref / AB_GEMM_MIN_SAMPLES : 1;
    for (int s = 0; s < g->nsets; s++)
        if (check_c(d, g, op, g->c[s], s == 0 ? 1 : step, &v, err) != 0)
            return -1;
    json_t *val = json_object();
    json_object_set_new(val, "entries_checked", json_integer((json_int_t)v.checked));
    json_object_set_new(val, "full_matrix", json_boolean(ref->full));
    json_object_set_new(val, "reference", json_string("f64 accumulation of the exact inputs"));
    json_object_set_new(val, "max_error_over_tolerance",
                        isfinite(v.max_ratio) ? json_real(v.max_ratio) : json_null());
    json_object_set_new(res->extra, "validation", val);
    vd->fail = v.unwritten || v.wrong;
    if (v.unwritten)
        snprintf(vd->msg, sizeof(vd->msg),
                 "%zu of %lld entries of C not finite or never written (first C[%lld][%lld])",
                 v.unwritten, (long long)(op->m * op->n * g->nsets), (long long)v.ui,
                 (long long)v.uj);
    else if (v.wrong)
        snprintf(vd->msg, sizeof(vd->msg),
                 "%zu of %zu checked entries wrong: C[%lld][%lld] = %.9g, expected %.9g "
                 "(tolerance %.3g)",
                 v.wrong, v.checked, (long long)v.wi, (long long)v.wj, v.got, v.want, v.tol);
    return 0;
}
