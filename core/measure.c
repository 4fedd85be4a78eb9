/* SPDX-License-Identifier: MIT */
#include "measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ab_sampling_profile(const char *profile, ab_sampling *s)
{
    /* Sample lengths: 20 ms is well above timer resolution on every backend (events resolve
     * ~0.5 us, the monotonic clock ~1 ns) and long enough that launch overhead is amortised;
     * the longer profiles trade time for tighter percentiles. */
    memset(s, 0, sizeof(*s));
    s->warmup = 2;
    s->max_iters = 1L << 30;
    if (strcmp(profile, "quick") == 0) {
        s->min_time = 0.02;
        s->samples = 5;
        s->max_time = 3.0;
    } else if (strcmp(profile, "standard") == 0) {
        s->min_time = 0.05;
        s->samples = 10;
        s->max_time = 10.0;
    } else if (strcmp(profile, "full") == 0) {
        s->min_time = 0.1;
        s->samples = 20;
        s->max_time = 30.0;
    } else {
        return -1;
    }
    return 0;
}

void ab_timing_free(ab_timing *t)
{
    free(t->per_iter);
    memset(t, 0, sizeof(*t));
}

int ab_measure(const ab_sampling *s, ab_timed_fn fn, void *arg, ab_timing *t, char *err)
{
    memset(t, 0, sizeof(*t));
    double t0 = ab_now();
    int samples = s->samples > 0 ? s->samples : 1;
    t->per_iter = calloc((size_t)samples, sizeof(double));
    if (!t->per_iter)
        return ab_err(err, "out of memory");
    double sec = 0.0, best = 0.0; /* best: fastest seconds per iteration observed */
    int warm = s->warmup > 0 ? s->warmup : 1;
    for (int i = 0; i < warm; i++) {
        if (fn(arg, 1, &sec, err))
            goto fail;
        t->warmup_runs++;
        if (sec > 0.0 && (best == 0.0 || sec < best))
            best = sec;
        if (ab_interrupted()) {
            t->interrupted = true;
            goto done;
        }
    }
    /* Calibrate: grow the batch until it lasts min_time. The last single-iteration warm-up time
     * seeds the estimate so fast kernels do not climb one doubling at a time. */
    long iters = 1;
    long max_iters = s->max_iters > 0 ? s->max_iters : (1L << 30);
    if (sec < s->min_time && sec > 0.0) {
        double want = s->min_time * 1.2 / sec;
        iters = want > (double)max_iters ? max_iters : (long)ceil(want);
    }
    for (;;) {
        if (fn(arg, iters, &sec, err))
            goto fail;
        t->warmup_runs++;
        if (sec > 0.0 && (best == 0.0 || sec / (double)iters < best))
            best = sec / (double)iters;
        if (ab_interrupted()) {
            t->interrupted = true;
            goto done;
        }
        if (sec >= s->min_time || iters >= max_iters)
            break;
        double grow = sec > 0.0 ? s->min_time * 1.25 / sec : 10.0;
        if (grow < 2.0)
            grow = 2.0;
        if (grow > 100.0)
            grow = 100.0;
        double next = ceil((double)iters * grow);
        iters = next > (double)max_iters ? max_iters : (long)next;
    }
    /* A batch stretched by a stall (the OS descheduling a thread on a busy machine) can reach
     * min_time with too few iterations, and then every sample measures stalls, not the kernel.
     * Size the batch from the fastest time per iteration seen so far instead. */
    if (best > 0.0 && iters < max_iters) {
        double want = ceil(s->min_time / best);
        if (want > (double)iters)
            iters = want > (double)max_iters ? max_iters : (long)want;
    }
    t->iters = iters;
    double sampling_start = ab_now();
    int recalibrations = 0;
    for (int k = 0; k < samples; k++) {
        if (fn(arg, iters, &sec, err))
            goto fail;
        if (!(sec > 0.0) || !isfinite(sec)) {
            ab_err(err, "timer returned %g s for %ld iterations", sec, iters);
            goto fail;
        }
        /* The first sample came out far shorter than min_time: every calibration batch was
         * stretched by stalls. Grow the batch, discard this one as warm-up, and start again. */
        if (t->n == 0 && sec < 0.5 * s->min_time && recalibrations < 3 && iters < max_iters) {
            double next = ceil((double)iters * s->min_time * 1.2 / sec);
            iters = next > (double)max_iters ? max_iters : (long)next;
            t->iters = iters;
            t->warmup_runs++;
            recalibrations++;
            k--;
            continue;
        }
        t->per_iter[t->n++] = sec / (double)iters;
        if (ab_interrupted()) {
            t->interrupted = true;
            break;
        }
        if (s->max_time > 0 && t->n >= 3 && ab_now() - sampling_start > s->max_time)
            break;
    }
done:
    t->spent = ab_now() - t0;
    return 0;
fail:
    t->spent = ab_now() - t0;
    return -1;
}
