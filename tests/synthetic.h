/* SPDX-License-Identifier: MIT */
/* Synthetic run documents with known differences, for the runner tests (compare, gate, history). */
#ifndef AB_TEST_SYNTHETIC_H
#define AB_TEST_SYNTHETIC_H

#include "core/rundoc.h"

typedef struct ab_syn {
    const char *id, *model;
    size_t nres, nsamp;
    double noise;      /* relative noise of the samples within the run */
    unsigned seed;     /* also the start time: 1795000000 + 3600 * seed */
    double run_shift;  /* each result moves independently by up to this fraction (between-run
                          noise) */
    long slow_index;   /* this result is slower by slow_factor (-1: none) */
    double slow_factor;
    bool time_metric;  /* the metric is a time (lower is better) instead of a bandwidth */
} ab_syn;

/* 12 results (keys syn.k0..k3, impl plain/fast, dtype f64, size 1 KiB << i, the first two
 * headline) on "Test CPU", 5 samples with 1 % noise. */
ab_syn ab_syn_default(const char *id, unsigned seed);
ab_run *ab_syn_run(const ab_syn *s);
/*
 * A run for the scorecard with known cells: devices "gpu:0" (model `gpu_name`, 80 GB, every
 * suite: membw triad 2 TB/s headline at 50 % of a 4 TB/s datasheet peak, copy 3 TB/s not a
 * headline, h2d 5 TB/s headline (a transfer); gemm bf16 500 TFLOP/s and f32 600 TFLOP/s;
 * attention prefill fused 2 ms headline and naive 1 ms; attention decode skipped; tokens decode
 * b1 100 tok/s TPOT 10 ms and b8 640 tok/s TPOT 12.5 ms with cost, energy, carbon) and "cpu"
 * ("Test CPU": membw failed, gemm f32 100 GFLOP/s without a peak, tokens decode b1 without
 * price, energy or carbon). cloud: the manifest names gcp a3-highgpu-8g in us-central1, else an
 * on-premises machine.
 */
ab_run *ab_syn_scorecard(const char *id, const char *gpu_name, bool cloud);
/* Writes <dir>/<id>.json; returns the path (malloc) or NULL. */
char *ab_syn_write(const char *dir, const ab_syn *s);
/* A deterministic number in [-1, 1]. */
double ab_syn_wiggle(unsigned i, unsigned j);

#endif
