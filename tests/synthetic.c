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

/* ---- the scorecard's run ---- */

static ab_result *sc_result(ab_run *run, const char *dev, const char *name, const char *suite,
                            const char *key, const char *impl, bool headline)
{
    ab_result *r = ab_result_new(suite, key, impl);
    ab_result_set_device(r, dev, name, strcmp(dev, "cpu") == 0 ? "cpu" : "gpu");
    r->headline = headline;
    r->extra = json_object();
    ab_run_add(run, r, NULL);
    return r;
}

static void sc_metric(ab_result *r, const char *name, const char *unit, bool higher, double v)
{
    double s[3] = {v * 0.99, v, v * 1.01};
    ab_result_add_metric(r, name, unit, higher, "synthetic", s, 3);
}

static json_t *sc_field(const char *value, const char *source)
{
    return value ? json_pack("{s:s, s:s, s:s}", "status", "ok", "value", value, "source", source)
                 : json_pack("{s:s, s:s}", "status", "unavailable", "reason", source);
}

static void sc_decode(ab_run *run, const char *dev, const char *name, int batch, double tok_s,
                      bool priced)
{
    ab_result *r = sc_result(run, dev, name, "tokens", "tokens.decode", "vendor", false);
    ab_result_param_str(r, "dtype", "bf16");
    ab_result_param_int(r, "batch", batch);
    ab_result_param_int(r, "context", 1024);
    sc_metric(r, "tokens_per_s", "tokens/s", true, tok_s);
    sc_metric(r, "tpot", "s", false, batch / tok_s);
    if (!priced) {
        json_object_set_new(r->extra, "cost",
                            json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                      "no cloud instance detected; give --price-per-hour USD"));
        json_object_set_new(
            r->extra, "energy",
            json_pack("{s:s, s:s}", "status", "unavailable", "reason", "RAPL not readable"));
        json_object_set_new(r->extra, "carbon",
                            json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                      "no energy figure (RAPL not readable)"));
        return;
    }
    double tpd = tok_s * 3600.0 / 3.0, tpk = tok_s * 1e4;
    json_object_set_new(r->extra, "cost",
                        json_pack("{s:f, s:s, s:s, s:f, s:f, s:s}", "usd_per_hour", 3.0, "source",
                                  "test sheet (prices.csv:7: gcp a3-highgpu-8g, on-demand)", "date",
                                  "2026-03", "tokens_per_usd", tpd, "usd_per_mtok", 1e6 / tpd,
                                  "formula", "tokens/s x 3600 / $ per hour"));
    json_object_set_new(r->extra, "energy",
                        json_pack("{s:f, s:s, s:f}", "tokens_per_kwh", tpk, "source",
                                  "NVML energy counter", "tokens_per_j", tpk / 3.6e6));
    json_object_set_new(r->extra, "carbon",
                        json_pack("{s:f, s:s, s:s, s:f}", "g_co2e_per_kwh", 431.95, "source",
                                  "Google Cloud region carbon data (carbon-intensity.csv:50)",
                                  "date", "2025", "g_co2e_per_mtok", 1e6 / tpk * 431.95));
}

static void sc_gpu(ab_run *run, const char *n)
{
    ab_result *r = sc_result(run, "gpu:0", n, "membw", "membw.triad", "ordinary", true);
    ab_result_param_str(r, "dtype", "f32");
    sc_metric(r, "bandwidth", "B/s", true, 2e12);
    json_object_set_new(r->extra, "peak",
                        json_pack("{s:s, s:f, s:s, s:f, s:s, s:s, s:s}", "metric", "bandwidth",
                                  "value", 4e12, "unit", "B/s", "fraction", 0.5, "model",
                                  "Test GPU", "source", "example.com/datasheet", "accessed",
                                  "2026-01-01"));
    sc_metric(sc_result(run, "gpu:0", n, "membw", "membw.copy", "ordinary", false), "bandwidth",
              "B/s", true, 3e12);
    sc_metric(sc_result(run, "gpu:0", n, "membw", "membw.h2d", "pinned", true), "bandwidth", "B/s",
              true, 5e12);
    r = sc_result(run, "gpu:0", n, "gemm", "gemm.square", "vendor", true);
    ab_result_param_str(r, "dtype", "bf16");
    sc_metric(r, "throughput", "FLOP/s", true, 5e14);
    r = sc_result(run, "gpu:0", n, "gemm", "gemm.square", "vendor", true);
    ab_result_param_str(r, "dtype", "f32");
    sc_metric(r, "throughput", "FLOP/s", true, 6e14);
    sc_metric(sc_result(run, "gpu:0", n, "attention", "attention.prefill", "naive", false),
              "latency", "s", false, 1e-3);
    sc_metric(sc_result(run, "gpu:0", n, "attention", "attention.prefill", "fused", true),
              "latency", "s", false, 2e-3);
    ab_result_set_status(
        sc_result(run, "gpu:0", n, "attention", "attention.decode", "fused", false), AB_SKIP,
        "no fused decode kernel here");
    sc_decode(run, "gpu:0", n, 1, 100, true);
    sc_decode(run, "gpu:0", n, 8, 640, true);
}

ab_run *ab_syn_scorecard(const char *id, const char *gpu_name, bool cloud)
{
    ab_syn s = ab_syn_default(id, 1);
    s.nres = 0;
    ab_run *run = ab_syn_run(&s);
    if (!run) return NULL;
    json_array_append_new(run->devices,
                          json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", "gpu:0", "backend", "gpu",
                                    "name", gpu_name, "memory_bytes", (json_int_t)80000000000LL,
                                    "driver", "555.1"));
    json_array_append_new(run->devices,
                          json_pack("{s:s, s:s, s:s, s:I}", "id", "cpu", "backend", "cpu", "name",
                                    "Test CPU", "memory_bytes", (json_int_t)17179869184LL));
    json_t *cl = json_object();
    json_object_set_new(
        cl, "provider",
        sc_field(cloud ? "gcp" : "none", cloud ? "DMI product_name Google Compute Engine"
                                               : "/sys/class/dmi/id: no cloud vendor"));
    json_object_set_new(cl, "instance_type",
                        sc_field(cloud ? "a3-highgpu-8g" : NULL,
                                 cloud ? "cloud-init v1.instance_type" : "not a cloud"));
    json_object_set_new(
        cl, "region",
        sc_field(cloud ? "us-central1" : NULL, cloud ? "cloud-init v1.region" : "not a cloud"));
    if (!run->manifest) run->manifest = json_object();
    json_object_set_new(run->manifest, "cloud", cl);
    sc_gpu(run, gpu_name);
    ab_result *r = sc_result(run, "cpu", "Test CPU", "membw", "membw.triad", "ordinary", true);
    ab_result_set_status(r, AB_FAIL, "validation: a[7] = 3 (expected 5)");
    r = sc_result(run, "cpu", "Test CPU", "gemm", "gemm.square", "vendor", true);
    ab_result_param_str(r, "dtype", "f32");
    sc_metric(r, "throughput", "FLOP/s", true, 1e11);
    sc_decode(run, "cpu", "Test CPU", 1, 4, false);
    return run;
}
