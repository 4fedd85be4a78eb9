/* SPDX-License-Identifier: MIT */
/*
 * The sampler under concurrency, as a plain program so ThreadSanitizer can run it (Criterion's
 * shared-memory arena does not start under TSan): the sampler thread reads three sources while
 * two other threads poll and summarise them, through NVML and ROCm SMI fakes and an in-process
 * source, then everything stops and restarts. Built in every configuration; `scripts/test.sh
 * --tsan` runs it under ThreadSanitizer, the ASan build under AddressSanitizer.
 * usage: sampler_threads FAKE_GPU_LIBRARY
 */
#include "core/ab.h"
#include "probes/gpumgmt.h"
#include "probes/sampler.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok)
        passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL: %s\n", what);
    }
}

typedef struct ctr {
    double t0;
    unsigned long reads; /* only touched by read(), which the sampler serialises */
} ctr;

static int ctr_read(void *ctx, ab_sample *s, char *err)
{
    (void)err;
    ctr *c = ctx;
    c->reads++;
    s->clock_mhz = 1000.0;
    s->power_w = 100.0;
    s->energy_j = 100.0 * (ab_now() - c->t0);
    s->throttle_valid = true;
    return 0;
}

static void ctr_close(void *ctx)
{
    (void)ctx;
}

typedef struct job {
    ab_sampler *s;
    const char *dev;
    double until;
    int summaries;
} job;

static void *hammer(void *arg)
{
    job *j = arg;
    while (ab_now() < j->until) {
        double now = ab_now();
        ab_sampler_poll(j->s, j->dev);
        json_t *o = ab_sampler_summary(j->s, j->dev, now - 0.2, now);
        if (o) j->summaries++;
        json_decref(o);
        usleep(3000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sampler_threads FAKE_GPU_LIBRARY\n");
        return 2;
    }
    setenv("ACCELBENCH_NVML_LIB", argv[1], 1);
    setenv("ACCELBENCH_ROCM_SMI_LIB", argv[1], 1);
    char why[AB_ERRLEN];
    for (int round = 0; round < 2; round++) {
        ab_sampler *s = ab_sampler_new(0.01, 256); /* small ring: wraps during the test */
        ab_sample_source nv, rs, in;
        check(ab_nvml_source("0000:18:00.0", &nv, why) == 0, "NVML source from the fake");
        check(ab_rsmi_source("0000:c1:00.0", &rs, why) == 0, "ROCm SMI source from the fake");
        static ctr c;
        c.t0 = ab_now();
        memset(&in, 0, sizeof(in));
        in.name = "counting";
        in.ctx = &c;
        in.read = ctr_read;
        in.close = ctr_close;
        check(ab_sampler_add(s, "cuda:0", &nv, why) == 0, "add cuda:0");
        check(ab_sampler_add(s, "hip:0", &rs, why) == 0, "add hip:0");
        check(ab_sampler_add(s, "cpu", &in, why) == 0, "add cpu");
        check(ab_sampler_start(s, why) == 0, "start");
        check(ab_sampler_add(s, "late", &in, why) == -1, "no device added after start");
        double t0 = ab_now();
        job a = {s, "cuda:0", t0 + 0.6, 0}, b = {s, "cpu", t0 + 0.6, 0};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, hammer, &a);
        pthread_create(&tb, NULL, hammer, &b);
        /* the owner summarises too, as the runner does at emit time */
        int own = 0;
        while (ab_now() < t0 + 0.6) {
            json_t *o = ab_sampler_summary(s, "hip:0", ab_now() - 0.3, ab_now());
            own += o != NULL;
            json_decref(o);
            usleep(5000);
        }
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        check(a.summaries > 10 && b.summaries > 10 && own > 10, "summaries from three threads");
        double t1 = ab_now();
        json_t *o = ab_sampler_summary(s, "cuda:0", t0 + 0.1, t1 - 0.1);
        json_t *e = json_object_get(o, "energy_j");
        double ej = json_number_value(json_object_get(e, "value"));
        check(fabs(ej - 350.0 * (t1 - t0 - 0.2)) < 0.05 * 350.0 * (t1 - t0 - 0.2),
              "NVML energy over the window");
        json_decref(o);
        ab_sampler_stop(s);
        ab_sampler_stop(s);
        ab_sampler_free(s);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
