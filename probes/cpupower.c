/* SPDX-License-Identifier: MIT */
#include "cpupower.h"

#include "../core/ab.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ZONES 16
#define MAX_CPUS  1024
#define SAMPLED_CPUS 8

typedef struct rapl_zone {
    char path[512];           /* .../energy_uj */
    char name[64];            /* "package-0" */
    unsigned long long range; /* max_energy_range_uj: the counter wraps there */
    unsigned long long last;  /* last raw reading */
    double total_j;           /* accumulated since the first reading */
    bool started;
} rapl_zone;

typedef struct cpu_src {
    int ncpu;
    char freq[MAX_CPUS][160]; /* scaling_cur_freq paths */
    rapl_zone z[MAX_ZONES];
    int nz;
} cpu_src;

static int read_ull(const char *path, unsigned long long *v)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%llu", v) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

/* Top-level RAPL zones are the packages ("intel-rapl:N", also on AMD); sub-zones (core,
 * uncore, dram) are inside them and would be double-counted. */
static int find_rapl(const ab_probe_opts *o, cpu_src *c, char *why)
{
    char dir[4096];
    ab_probe_path(o, "/sys/class/powercap", dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (!d)
        return ab_err(why, "/sys/class/powercap: %s (no RAPL powercap driver)", strerror(errno));
    struct dirent *e;
    int denied = 0, found = 0;
    while ((e = readdir(d)) && c->nz < MAX_ZONES) {
        unsigned a;
        char tail;
        if (sscanf(e->d_name, "intel-rapl:%u%c", &a, &tail) != 1) continue;
        found++;
        rapl_zone *z = &c->z[c->nz];
        memset(z, 0, sizeof(*z));
        snprintf(z->path, sizeof(z->path), "%s/%s/energy_uj", dir, e->d_name);
        char p[600];
        snprintf(p, sizeof(p), "%s/%s/max_energy_range_uj", dir, e->d_name);
        if (read_ull(p, &z->range) != 0) z->range = 0;
        snprintf(p, sizeof(p), "%s/%s/name", dir, e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (!fgets(z->name, sizeof(z->name), f)) z->name[0] = '\0';
            fclose(f);
            ab_trim(z->name);
        }
        unsigned long long v;
        errno = 0;
        if (read_ull(z->path, &v) != 0) {
            denied += errno == EACCES || errno == EPERM;
            continue;
        }
        c->nz++;
    }
    closedir(d);
    if (c->nz) return 0;
    if (denied) return ab_err(why, "RAPL energy_uj is readable by root only on this kernel");
    return ab_err(why, "%s",
                  found ? "RAPL zones present but unreadable"
                        : "no RAPL package zone (intel-rapl:N) in /sys/class/powercap");
}

static int cpu_read(void *ctx, ab_sample *s, char *err)
{
    cpu_src *c = ctx;
    int ok = 0;
    if (c->ncpu) {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < c->ncpu; i++) {
            unsigned long long khz;
            if (read_ull(c->freq[i], &khz) == 0) {
                sum += (double)khz / 1000.0;
                n++;
            }
        }
        if (n) {
            s->clock_mhz = sum / n;
            ok++;
        }
    }
    if (c->nz) {
        double total = 0;
        int n = 0;
        for (int i = 0; i < c->nz; i++) {
            rapl_zone *z = &c->z[i];
            unsigned long long v;
            if (read_ull(z->path, &v) != 0) continue;
            if (z->started) {
                unsigned long long d = v >= z->last ? v - z->last
                                       : z->range   ? z->range - z->last + v /* wrapped */
                                                    : 0;
                z->total_j += (double)d / 1e6;
            }
            z->last = v;
            z->started = true;
            total += z->total_j;
            n++;
        }
        if (n == c->nz) {
            s->energy_j = total;
            ok++;
        }
    }
    if (!ok) return ab_err(err, "no cpufreq or RAPL reading");
    return 0;
}

static void cpu_close(void *ctx)
{
    free(ctx);
}

int ab_cpu_source(const ab_probe_opts *o, const int *cpus, int n, ab_sample_source *src, char *why)
{
    cpu_src *c = calloc(1, sizeof(*c));
    if (!c) return ab_err(why, "out of memory");
    char fwhy[AB_ERRLEN] = "", ewhy[AB_ERRLEN] = "";
    /* At most SAMPLED_CPUS cores, spread evenly over the team: every read is a sysfs open and
     * read on a core that is running the benchmark, so a 128-core team is not read whole at
     * 20 Hz. */
    int step = n > SAMPLED_CPUS ? (n + SAMPLED_CPUS - 1) / SAMPLED_CPUS : 1;
    for (int i = 0; i < n && c->ncpu < MAX_CPUS; i += step) {
        char p[160], full[4300];
        snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", cpus[i]);
        ab_probe_path(o, p, full, sizeof(full));
        unsigned long long v;
        if (read_ull(full, &v) == 0)
            ab_strlcpy(c->freq[c->ncpu++], full, sizeof(c->freq[0]));
        else if (!*fwhy)
            snprintf(fwhy, sizeof(fwhy), "%s: %s (no cpufreq driver: typical in a VM)", p,
                     strerror(errno));
    }
    if (find_rapl(o, c, ewhy) != 0 && c->ncpu == 0) {
        ab_err(why, "no CPU frequency (%s) and no energy (%s)", fwhy, ewhy);
        free(c);
        return -1;
    }
    memset(src, 0, sizeof(*src));
    src->name = "cpu-sysfs";
    src->ctx = c;
    src->read = cpu_read;
    src->close = cpu_close;
    snprintf(src->clock_what, sizeof(src->clock_what),
             "mean scaling_cur_freq of %d of the %d "
             "team cores",
             c->ncpu, n);
    snprintf(src->energy_what, sizeof(src->energy_what), "RAPL package energy (%d zone%s)", c->nz,
             c->nz == 1 ? "" : "s");
    if (!c->ncpu) ab_strlcpy(src->why_clock, fwhy, sizeof(src->why_clock));
    ab_strlcpy(src->why_mem_clock, "not read on CPUs", sizeof(src->why_mem_clock));
    /* power is derived from energy on CPUs: report it through energy_j / mean_power_w only */
    ab_strlcpy(src->why_power,
               c->nz ? "CPU power is reported as mean_power_w (from RAPL energy)" : ewhy,
               sizeof(src->why_power));
    ab_strlcpy(src->why_temp, "not read on CPUs", sizeof(src->why_temp));
    if (!c->nz) ab_strlcpy(src->why_energy, ewhy, sizeof(src->why_energy));
    ab_strlcpy(src->why_throttle, "CPUs expose no per-sample throttle reason",
               sizeof(src->why_throttle));
    return 0;
}

json_t *ab_probe_power(const ab_probe_opts *o)
{
    json_t *p = json_object();
    char why[AB_ERRLEN], buf[64];
    if (ab_probe_read(o, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", buf, sizeof(buf),
                      why) == 0)
        ab_field_set(p, "cpu_frequency", json_string("cpufreq scaling_cur_freq"),
                     "/sys/devices/system/cpu/cpuN/cpufreq");
    else
        ab_field_unavailable(p, "cpu_frequency", "%s (no cpufreq driver: typical in a VM)", why);
    cpu_src *c = calloc(1, sizeof(*c));
    if (c && find_rapl(o, c, why) == 0) {
        json_t *zones = json_array();
        for (int i = 0; i < c->nz; i++)
            json_array_append_new(zones, json_string(*c->z[i].name ? c->z[i].name : "package"));
        ab_field_set(p, "rapl", zones, "/sys/class/powercap");
    } else {
        ab_field_unavailable(p, "rapl", "%s", c ? why : "out of memory");
    }
    free(c);
    json_object_set_new(p, "sampler_period_s", json_real(0.05));
    return p;
}
