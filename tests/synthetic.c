/* SPDX-License-Identifier: MIT */
#include "synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double ab_syn_wiggle(unsigned i, unsigned j)
{
    /* a hash, not rand(): the same numbers on every machine and C library */
    unsigned h = (i * 2654435761u) ^ (j * 40503u + 0x9e3779b9u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return (double)(h % 20001u) / 10000.0 - 1.0;
}

ab_syn ab_syn_default(const char *id, unsigned seed)
{
    return (ab_syn){.id = id, .model = "Test CPU", .nres = 12, .nsamp = 5, .noise = 0.01,
                    .seed = seed, .run_shift = 0.0, .slow_index = -1, .slow_factor = 1.0};
}

ab_run *ab_syn_run(const ab_syn *s)
{
    ab_run *run = ab_run_new();
    if (!run)
        return NULL;
    run->id = strdup(s->id);
    run->profile = strdup("quick");
    run->version = strdup("9.9.9");
    run->git_commit = strdup("abcdef");
    run->start_time = 1795000000.0 + 3600.0 * s->seed;
    run->end_time = run->start_time + 10;
    run->complete = true;
    json_object_set_new(run->host, "hostname", json_string("testbox"));
    for (size_t i = 0; i < s->nres; i++) {
        char key[32];
        snprintf(key, sizeof(key), "syn.k%zu", i % 4);
        ab_result *r = ab_result_new("syn", key, i % 2 ? "fast" : "plain");
        ab_result_set_device(r, "cpu", s->model, "cpu");
        ab_result_param_str(r, "dtype", "f64");
        ab_result_param_int(r, "size", (long long)(1024LL << i));
        r->headline = i < 2;
        double base = 1e10 * (1.0 + 0.1 * (double)i);
        double shift = 1.0 + s->run_shift * ab_syn_wiggle(s->seed + 1000, (unsigned)i);
        double samples[64];
        size_t ns = s->nsamp < 64 ? s->nsamp : 64;
        for (size_t k = 0; k < ns; k++) {
            double v = base * shift *
                       (1.0 + s->noise * ab_syn_wiggle(s->seed, (unsigned)(i * 64 + k)));
            if ((long)i == s->slow_index)
                v /= s->slow_factor; /* a rate: "30 % slower" = the time x 1.3 */
            samples[k] = s->time_metric ? 1.0 / v : v;
        }
        if (!ab_result_add_metric(r, s->time_metric ? "time" : "bandwidth",
                                  s->time_metric ? "s" : "B/s", !s->time_metric, "synthetic",
                                  samples, ns)) {
            ab_result_free(r);
            ab_run_free(run);
            return NULL;
        }
        r->time_spent = 0.25;
        ab_run_add(run, r, NULL);
    }
    return run;
}

char *ab_syn_write(const char *dir, const ab_syn *s)
{
    char *path = malloc(strlen(dir) + strlen(s->id) + 8);
    if (!path)
        return NULL;
    sprintf(path, "%s/%s.json", dir, s->id);
    ab_run *r = ab_syn_run(s);
    char err[AB_ERRLEN];
    int rc = r ? ab_run_write(r, path, err) : -1;
    ab_run_free(r);
    if (rc) {
        free(path);
        return NULL;
    }
    return path;
}
