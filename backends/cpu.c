/* SPDX-License-Identifier: MIT */
/*
 * CPU backend: an OpenMP team with one thread per physical core, each pinned to its core, and
 * memory first-touched by the thread that uses it (so pages land on that thread's NUMA node).
 */
#include "cpu.h"

#include "../core/ab.h"
#include "../probes/counters.h"
#include "../probes/topo.h"
#include "omp_compat.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_ALIGN (2u << 20)

_Static_assert(AB_CPU_MAX_THREADS <= AB_MAX_CPUS, "the team is picked by ab_host_core_cpus");

void ab_cpu_chunk(size_t n, int parts, int i, size_t align, size_t *lo, size_t *hi)
{
    if (align == 0)
        align = 1;
    size_t blocks = (n + align - 1) / align;
    size_t per = blocks / (size_t)parts, extra = blocks % (size_t)parts;
    size_t b0 = (size_t)i * per + ((size_t)i < extra ? (size_t)i : extra);
    size_t b1 = b0 + per + ((size_t)i < extra ? 1 : 0);
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

static int read_int_file(const char *path, long *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%ld", out) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

static long cache_size_level(int want_level, int want_data)
{
    long best = 0;
    for (int idx = 0; idx < 16; idx++) {
        char path[160], buf[64];
        long level = 0;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        if (read_int_file(path, &level) != 0)
            break;
        if (level != want_level)
            continue;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
        if (want_data && strncmp(buf, "Instruction", 11) == 0)
            continue;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        f = fopen(path, "r");
        if (!f)
            continue;
        long kb = 0;
        char unit = 'K';
        if (fscanf(f, "%ld%c", &kb, &unit) >= 1) {
            long bytes = kb * (unit == 'M' ? 1048576L : unit == 'K' ? 1024L : 1L);
            if (bytes > best)
                best = bytes;
        }
        fclose(f);
    }
    return best;
}

/* The process's affinity mask is read once, before any thread is pinned: after cpu_open pins
 * the calling thread, sched_getaffinity would see only that thread's one CPU. */
typedef struct cpu_be {
    int ncores;
    int cpus[AB_CPU_MAX_THREADS];
    int threads; /* team size: one per core, or OMP_NUM_THREADS */
} cpu_be;

static int cpu_init(void **be, char *why)
{
    cpu_be *b = calloc(1, sizeof(*b));
    if (!b)
        return ab_err(why, "out of memory");
    b->ncores = ab_host_core_cpus(b->cpus, AB_CPU_MAX_THREADS);
    b->threads = b->ncores > 0 ? b->ncores : 1;
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) > 0) {
        b->threads = atoi(env);
        if (b->threads > AB_CPU_MAX_THREADS)
            b->threads = AB_CPU_MAX_THREADS;
    }
    *be = b;
    return 0;
}

static void cpu_fini(void *be)
{
    free(be);
}

static int cpu_device_count(void *be)
{
    (void)be;
    return 1;
}

static void cpu_model_name(char *buf, size_t len)
{
    ab_strlcpy(buf, "unknown CPU", len);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        /* x86 "model name", arm64 has none: fall back to "CPU part" style fields below */
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                ab_strlcpy(buf, colon + 1, len);
                ab_trim(buf);
                break;
            }
        }
    }
    fclose(f);
}

static void cpu_vendor(char *buf, size_t len)
{
    ab_strlcpy(buf, "unknown", len);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "vendor_id", 9) == 0 || strncmp(line, "CPU implementer", 15) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                ab_strlcpy(buf, colon + 1, len);
                ab_trim(buf);
            }
            break;
        }
    }
    fclose(f);
}

static int cpu_device_info(void *be, int idx, ab_device_info *info, char *err)
{
    const cpu_be *b = be;
    if (idx != 0)
        return ab_err(err, "cpu: no device %d", idx);
    memset(info, 0, sizeof(*info));
    cpu_model_name(info->name, sizeof(info->name));
    cpu_vendor(info->vendor, sizeof(info->vendor));
#if defined(__x86_64__)
    ab_strlcpy(info->arch, "x86_64", sizeof(info->arch));
#elif defined(__aarch64__)
    ab_strlcpy(info->arch, "aarch64", sizeof(info->arch));
#else
    ab_strlcpy(info->arch, "unknown", sizeof(info->arch));
#endif
    ab_strlcpy(info->driver, "OpenMP", sizeof(info->driver));
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    info->mem_bytes = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
    info->compute_units = b->ncores;
    long llc = cache_size_level(3, 1);
    if (!llc)
        llc = cache_size_level(2, 1);
    info->cache_bytes = (uint64_t)llc;
    info->l1_bytes = (uint64_t)cache_size_level(1, 1);
    long khz = 0;
    if (read_int_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", &khz) == 0)
        info->clock_mhz = (int)(khz / 1000);
    info->warp_size = 1;
    info->host_memory = true;
    info->fp64 = true;
    info->fp16 = false;
    info->kind = AB_KIND_HOST;
    info->threads = b->threads;
    info->default_bf16 = false;
    info->sampler = AB_SAMPLER_HOST_CPU;
    return 0;
}

static int cpu_open(void *be, int idx, void **devp, char *err)
{
    const cpu_be *b = be;
    if (idx != 0)
        return ab_err(err, "cpu: no device %d", idx);
    ab_cpu_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return ab_err(err, "out of memory");
    const int *cpus = b->cpus;
    int ncores = b->ncores;
    int threads = b->threads;
    d->threads = threads;
    /* Pin thread i to the i-th chosen core (wrapping onto SMT siblings only if the user asked for
     * more threads than cores). With OMP_PROC_BIND set, the user's binding is kept instead. */
    bool user_bind = getenv("OMP_PROC_BIND") || getenv("OMP_PLACES");
    int ok = 1;
    omp_set_dynamic(0);
#pragma omp parallel num_threads(threads) reduction(&& : ok)
    {
        int t = omp_get_thread_num();
        d->cpus[t] = -1;
        if (!user_bind && ncores > 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpus[t % ncores], &set);
            if (sched_setaffinity(0, sizeof(set), &set) == 0)
                d->cpus[t] = cpus[t % ncores];
            else
                ok = 0;
        } else {
            ok = 0;
        }
        if (omp_get_num_threads() != threads)
            ok = 0;
    }
    d->pinned = ok && !user_bind;
    d->counters = ab_counters_new(threads, d->counters_why);
    *devp = d;
    return 0;
}

static void cpu_close(void *dev)
{
    ab_cpu_dev *d = dev;
    ab_counters_free(d->counters);
    free(d);
}

/* Large buffers come straight from mmap so their pages are untouched (malloc may hand back pages
 * another thread already touched) and can be advised into huge pages. A 64-byte header before
 * the returned pointer records the mapping for ab_cpu_free. */
typedef struct alloc_hdr {
    void *base;
    size_t len;
    uint64_t magic;
} alloc_hdr;

#define ALLOC_MAGIC 0xab0c0a11ab0c0a11ull
#define ALLOC_HDR 64

void *ab_cpu_alloc(const ab_cpu_dev *d, size_t bytes)
{
    (void)d;
    size_t align = bytes >= 4 * (size_t)HUGE_ALIGN ? HUGE_ALIGN : 4096;
    size_t len = bytes + align + ALLOC_HDR;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    uintptr_t p = ((uintptr_t)base + ALLOC_HDR + align - 1) / align * align;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_ALIGN)
        madvise((void *)p, bytes, MADV_HUGEPAGE); /* advisory: failure only costs TLB misses */
#endif
    alloc_hdr *h = (alloc_hdr *)(p - ALLOC_HDR);
    h->base = base;
    h->len = len;
    h->magic = ALLOC_MAGIC;
    return (void *)p;
}

void ab_cpu_free(void *p)
{
    if (!p)
        return;
    alloc_hdr *h = (alloc_hdr *)((char *)p - ALLOC_HDR);
    if (h->magic != ALLOC_MAGIC)
        return;
    h->magic = 0;
    munmap(h->base, h->len);
}

static int cpu_mem_alloc(void *dev, size_t bytes, void **mem, char *err)
{
    *mem = ab_cpu_alloc(dev, bytes);
    if (!*mem)
        return ab_err(err, "cpu: cannot allocate %zu bytes: %s", bytes, strerror(errno));
    return 0;
}

static void cpu_mem_free(void *dev, void *mem)
{
    (void)dev;
    ab_cpu_free(mem);
}

static int cpu_host_alloc(void *dev, size_t bytes, bool pinned, void **ptr, char *err)
{
    (void)pinned;
    return cpu_mem_alloc(dev, bytes, ptr, err);
}

static void cpu_host_free(void *dev, void *ptr, bool pinned)
{
    (void)dev;
    (void)pinned;
    ab_cpu_free(ptr);
}

static int cpu_copy(void *dev, ab_copy_dir dir, void *dst, const void *src, size_t off,
                    size_t bytes, char *err)
{
    (void)err;
    ab_cpu_dev *d = dev;
    char *to = (char *)dst + (dir == AB_COPY_D2H ? 0 : off);
    const char *from = (const char *)src + (dir == AB_COPY_H2D ? 0 : off);
#pragma omp parallel num_threads(d->threads)
    {
        size_t lo, hi;
        ab_cpu_chunk(bytes, omp_get_num_threads(), omp_get_thread_num(), 64, &lo, &hi);
        if (hi > lo)
            memcpy(to + lo, from + lo, hi - lo);
    }
    return 0;
}

static int cpu_sync(void *dev, char *err)
{
    (void)dev;
    (void)err;
    return 0;
}

/* With counters, every team thread starts its own counting before the first clock read and
 * stops after the last, so the counting costs stay outside the timed interval. */
static int cpu_timer_start(void *dev, char *err)
{
    (void)err;
    ab_cpu_dev *d = dev;
    if (d->counters) {
        ab_counters *c = d->counters;
#pragma omp parallel num_threads(d->threads)
        ab_counters_thread_start(c, omp_get_thread_num());
    }
    d->timer_t0 = ab_now();
    return 0;
}

static int cpu_timer_stop(void *dev, double *seconds, char *err)
{
    (void)err;
    ab_cpu_dev *d = dev;
    double t1 = ab_now();
    *seconds = t1 - d->timer_t0;
    if (d->counters) {
        ab_counters *c = d->counters;
#pragma omp parallel num_threads(d->threads)
        ab_counters_thread_stop(c, omp_get_thread_num());
        ab_counters_interval(c, d->timer_t0, t1);
    }
    return 0;
}

static int cpu_host_cpu(void *dev)
{
    const ab_cpu_dev *d = dev;
    return d->pinned ? d->cpus[0] : -1;
}

static ab_counters *cpu_counters(void *dev, const char **why)
{
    ab_cpu_dev *d = dev;
    *why = d->counters_why;
    return d->counters;
}

/* The CPU implementations of the suites (suites/impl_tables.c). */
extern const ab_suite_impls ab_cpu_suite_impls;

const ab_backend_ops ab_backend_cpu = {
    .abi = AB_BACKEND_ABI,
    .name = "cpu",
    .init = cpu_init,
    .fini = cpu_fini,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .open = cpu_open,
    .close = cpu_close,
    .mem_alloc = cpu_mem_alloc,
    .mem_free = cpu_mem_free,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_host_free,
    .copy = cpu_copy,
    .sync = cpu_sync,
    .timer_start = cpu_timer_start,
    .timer_stop = cpu_timer_stop,
    .impls = &ab_cpu_suite_impls,
    .host_cpu = cpu_host_cpu,
    .counters = cpu_counters,
};
