/* SPDX-License-Identifier: MIT */
/*
 * The sampler: one background thread that reads each device's clocks, power, temperature,
 * throttle reasons and energy counter at a fixed rate (20 Hz by default, at least the 10 Hz the
 * method asks for), keeping the readings in a ring per device. The runner asks, for each
 * result, for a summary over the result's own time window: clock min/median, power, peak
 * temperature, energy in joules (the driver's energy counter interpolated at the window edges,
 * or power integrated over time where no counter exists) and whether any sample was throttled,
 * with the reasons.
 *
 * Sources are tables of function pointers (NVML, ROCm SMI, the CPU's sysfs, or a fake one in
 * tests). Thread safety: every public function may be called from any thread while the sampler
 * runs; one mutex guards the rings and serialises source reads (driver libraries are not all
 * thread-safe per device).
 */
#ifndef AB_SAMPLER_H
#define AB_SAMPLER_H

#include "../core/ab.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Throttle reasons, a superset of what the drivers report (NVML's clock event reasons map 1:1). */
enum {
    AB_THR_IDLE = 1u << 0,        /* nothing running: clocks lowered, not a slowdown */
    AB_THR_APP_CLOCKS = 1u << 1,  /* application clocks setting caps the clock */
    AB_THR_SW_POWER = 1u << 2,    /* software power cap (power limit) */
    AB_THR_HW_SLOWDOWN = 1u << 3, /* hardware slowdown (thermal or power brake) */
    AB_THR_SYNC_BOOST = 1u << 4,  /* held to the clock of a sync-boost group */
    AB_THR_SW_THERMAL = 1u << 5,  /* software thermal slowdown */
    AB_THR_HW_THERMAL = 1u << 6,  /* hardware thermal slowdown */
    AB_THR_POWER_BRAKE = 1u << 7, /* external power brake */
    AB_THR_DISPLAY = 1u << 8,     /* display clock setting */
    AB_THR_OTHER = 1u << 15,      /* a reason this build does not name */
};
/* The reasons that mean the device ran slower than it could: they set `throttled`. */
#define AB_THR_LIMITING                                                                            \
    (AB_THR_SW_POWER | AB_THR_HW_SLOWDOWN | AB_THR_SW_THERMAL | AB_THR_HW_THERMAL |                \
     AB_THR_POWER_BRAKE)
const char *ab_throttle_name(unsigned bit);

typedef struct ab_sample {
    double t;         /* CLOCK_MONOTONIC seconds */
    double clock_mhz; /* core clock (SM / GFX / mean CPU frequency); NAN when not read */
    double mem_clock_mhz;
    double power_w;
    double temp_c;
    double energy_j;     /* cumulative energy counter; NAN when the source has none */
    uint32_t throttle;   /* AB_THR_* bits */
    bool throttle_valid; /* the source read the throttle reasons */
} ab_sample;

/* What a source can read; the why_* strings say why a quantity is missing (empty: readable). */
typedef struct ab_sample_source {
    const char *name; /* "nvml", "rocm_smi", "cpu-sysfs", "fake" */
    void *ctx;
    /* Fills the quantities it can (the caller pre-sets every double to NAN and t to now).
     * -1 with err when the read failed as a whole (the sample is dropped). */
    int (*read)(void *ctx, ab_sample *s, char *err);
    void (*close)(void *ctx);
    char clock_what[64];  /* "SM clock", "GFX clock (sclk)", "mean of the team's cores" */
    char energy_what[96]; /* "NVML total energy counter", "RAPL package energy" */
    char why_clock[AB_ERRLEN], why_mem_clock[AB_ERRLEN], why_power[AB_ERRLEN], why_temp[AB_ERRLEN],
        why_energy[AB_ERRLEN], why_throttle[AB_ERRLEN];
} ab_sample_source;

typedef struct ab_sampler ab_sampler;

/* period_s: seconds between samples (0.05 for 20 Hz). capacity: samples kept per device (a
 * ring; 0 = 2^16, an hour at 20 Hz). */
ab_sampler *ab_sampler_new(double period_s, size_t capacity);
/* Registers a device's source before ab_sampler_start (takes ownership: close() is called at
 * ab_sampler_free). -1 when full or already started. */
int ab_sampler_add(ab_sampler *s, const char *device_id, const ab_sample_source *src, char *err);
/* Records why a device has no source: its summaries then carry this reason. */
int ab_sampler_add_missing(ab_sampler *s, const char *device_id, const char *why);
/* Starts the thread (takes a first sample of every device synchronously first). */
int ab_sampler_start(ab_sampler *s, char *err);
/* Takes one sample of the device now, from the calling thread (the runner does this before a
 * summary, so the window's end is bracketed by a sample). */
void ab_sampler_poll(ab_sampler *s, const char *device_id);
/* Stops and joins the thread; summaries still work afterwards. Idempotent. */
void ab_sampler_stop(ab_sampler *s);
void ab_sampler_free(ab_sampler *s);
bool ab_sampler_has(const ab_sampler *s, const char *device_id);

/* Summary over [t0, t1] (CLOCK_MONOTONIC seconds) as the result's extra.sampler object (layout
 * in results/MANIFEST.md, "The sampler"). NULL when the device was never registered. */
json_t *ab_sampler_summary(ab_sampler *s, const char *device_id, double t0, double t1);

/* The same summary computed from an array of samples (exposed for tests). */
json_t *ab_sampler_summarize(const ab_sample_source *src, const ab_sample *v, size_t n, double t0,
                             double t1, double period_s);

#endif
