/* SPDX-License-Identifier: MIT */
/*
 * ab_job_measure (mpi_job.h): ab_measure's procedure -- warm-up, calibration to min_time,
 * samples, max_time -- on numbers that are the same on every rank of the job, so every rank
 * takes the same decisions (iterations, early stop, interruption) and none waits for a batch
 * the others skipped. ab_measure itself calibrates on each rank's own clock, which would give
 * the ranks different iteration counts and deadlock. Each batch starts after a barrier and its
 * time is the slowest rank's (MPI_Allreduce MAX).
 */
#include "mpi_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One timed batch on every rank: out = the slowest rank's seconds, whether any rank was
 * interrupted, the longest time since `start`, whether any rank's work failed -- the same
 * numbers on every rank. */
static void batch(ab_job_work_fn work, void *arg, long iters, double start, double out[4],
                  char *err)
{
    MPI_Comm comm = ab_job_comm();
    ab_job_watch("a timed exchange between the ranks");
    MPI_Barrier(comm);
    double sec = 0.0;
    int rc = work(arg, iters, &sec, err);
    double in[4] = {sec, ab_interrupted() ? 1.0 : 0.0, ab_now() - start, rc != 0 ? 1.0 : 0.0};
    MPI_Allreduce(in, out, 4, MPI_DOUBLE, MPI_MAX, comm);
    ab_job_unwatch();
    if (out[3] != 0 && rc == 0) ab_err(err, "a timed batch failed on another rank");
}

static long grow_iters(long iters, double sec, double min_time, long max_iters)
{
    double g = sec > 0.0 ? min_time * 1.25 / sec : 10.0;
    g = g < 2.0 ? 2.0 : g > 100.0 ? 100.0 : g;
    double next = ceil((double)iters * g);
    return next > (double)max_iters ? max_iters : (long)next;
}

int ab_job_measure(const ab_sampling *s, ab_timing *t, ab_job_work_fn work, void *arg, char *err)
{
    memset(t, 0, sizeof(*t));
    int samples = s->samples > 0 ? s->samples : 1;
    if (!(t->per_iter = calloc((size_t)samples, sizeof(double))))
        return ab_err(err, "out of memory");
    double start = ab_now(), v[4] = {0, 0, 0, 0}, best = 0; /* best: fastest s per iteration */
    long max_iters = s->max_iters > 0 ? s->max_iters : (1L << 30), iters = 1;
    for (int i = 0; i < (s->warmup > 0 ? s->warmup : 1) && v[1] == 0; i++, t->warmup_runs++) {
        batch(work, arg, 1, start, v, err);
        if (v[3] != 0) return -1;
        best = best > 0 && best < v[0] ? best : v[0];
    }
    if (v[0] > 0 && v[0] < s->min_time)
        iters = grow_iters(1, v[0] / 1.25 * 1.2, s->min_time, max_iters);
    while (v[1] == 0) {
        batch(work, arg, iters, start, v, err);
        if (v[3] != 0) return -1;
        t->warmup_runs++;
        best = best > 0 && best < v[0] / (double)iters ? best : v[0] / (double)iters;
        if (v[0] >= s->min_time || iters >= max_iters) break;
        iters = grow_iters(iters, v[0], s->min_time, max_iters);
    }
    /* a batch stretched by a stall (another process on the core: every rank must run at once)
     * reaches min_time with too few iterations: size the batch from the fastest rate seen, as
     * ab_measure does. The numbers are the same on every rank, so are the decisions. */
    if (best > 0 && ceil(s->min_time / best) > (double)iters)
        iters = ceil(s->min_time / best) > (double)max_iters ? max_iters
                                                             : (long)ceil(s->min_time / best);
    t->iters = iters;
    double sampling_start = v[2];
    for (int k = 0; k < samples && v[1] == 0; k++) {
        batch(work, arg, iters, start, v, err);
        if (v[3] != 0) return -1;
        if (!(v[0] > 0.0) || !isfinite(v[0]))
            return ab_err(err, "timer returned %g s for %ld iterations", v[0], iters);
        t->per_iter[t->n++] = v[0] / (double)iters;
        if (s->max_time > 0 && t->n >= 3 && v[2] - sampling_start > s->max_time) break;
    }
    t->interrupted = v[1] != 0;
    t->spent = ab_now() - start;
    return 0;
}
