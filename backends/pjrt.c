/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend (libaccelbench-pjrt.so): Google TPU through libtpu, AWS Trainium and
 * Inferentia through libneuronpjrt, or any other PJRT plugin, driven through the PJRT C API
 * (declared in pjrt_api.h). Loading and the plugin search are pjrt_load.c; programs and buffers
 * pjrt_exec.c; the suites' programs suites/<suite>/<suite>_pjrt.c.
 *
 * Timer: PJRT has no device timers. timer_start waits for earlier work and takes the host clock;
 * timer_stop waits for the executions launched since and returns the wall time minus the launch
 * overhead of the looped program launched in between (one per interval: with several, launches
 * overlap and no overhead can be subtracted honestly, so that is an error).
 */
#include "pjrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../suites/attention/attention.h"
#include "../suites/gemm/gemm.h"
#include "../suites/membw/membw.h"
#include "../suites/tokens/tokens.h"

extern const ab_membw_impl ab_membw_pjrt;
extern const ab_gemm_backend ab_gemm_pjrt;
extern const ab_attn_impl ab_attention_pjrt;
extern const ab_tok_ops ab_tokens_pjrt;

static int pj_init(void **out, char *why)
{
    ab_pjrt_be *be = calloc(1, sizeof(*be));
    if (!be) return ab_pjrt_err(why, "out of memory");
    if (ab_pjrt_load(be, why) != 0) {
        free(be);
        return -1;
    }
    *out = be;
    return 0;
}

static void pj_fini(void *p)
{
    ab_pjrt_be *be = p;
    ab_pjrt_unload(be);
    free(be);
}

static int pj_count(void *p)
{
    return ((ab_pjrt_be *)p)->ndevices;
}

/* bytes_limit of the device's memory statistics, 0 when the plugin does not say */
static uint64_t mem_limit(const PJRT_Api *api, PJRT_Device *dev)
{
    PJRT_Device_MemoryStats_Args a = {.struct_size = sizeof(a), .device = dev};
    PJRT_Error *e = api->PJRT_Device_MemoryStats(&a);
    if (e) {
        ab_pjrt_fail(api, e, "PJRT_Device_MemoryStats", NULL);
        return 0;
    }
    return a.bytes_limit_is_set && a.bytes_limit > 0 ? (uint64_t)a.bytes_limit : 0;
}

static const char *vendor_of(const char *platform)
{
    if (strcmp(platform, "tpu") == 0) return "Google";
    if (strcmp(platform, "neuron") == 0) return "AWS";
    return platform;
}

static int pj_device_info(void *p, int idx, ab_device_info *info, char *err)
{
    ab_pjrt_be *be = p;
    const PJRT_Api *api = be->api;
    memset(info, 0, sizeof(*info));
    PJRT_Device_GetDescription_Args ga = {.struct_size = sizeof(ga), .device = be->devices[idx]};
    PJRT_Error *e = api->PJRT_Device_GetDescription(&ga);
    if (e) return ab_pjrt_fail(api, e, "PJRT_Device_GetDescription", err);
    PJRT_DeviceDescription_Kind_Args ka = {.struct_size = sizeof(ka),
                                           .device_description = ga.device_description};
    if ((e = api->PJRT_DeviceDescription_Kind(&ka)))
        return ab_pjrt_fail(api, e, "PJRT_DeviceDescription_Kind", err);
    ab_pjrt_str(info->name, sizeof(info->name), ka.device_kind, ka.device_kind_size);
    snprintf(info->vendor, sizeof(info->vendor), "%s", vendor_of(be->platform));
    snprintf(info->driver, sizeof(info->driver), "PJRT 0.%d%s%s, %s", be->api_minor,
             *be->stablehlo ? ", StableHLO " : "", be->stablehlo, be->version);
    snprintf(info->arch, sizeof(info->arch), "%s", be->platform);
    info->mem_bytes = mem_limit(api, be->devices[idx]);
    info->warp_size = 1;
    info->kind = AB_KIND_GPU;  /* an accelerator behind its vendor runtime, own memory */
    info->default_bf16 = true; /* TPU MXUs and Trainium tensor engines multiply bf16 */
    info->sampler = AB_SAMPLER_NONE;
    return 0;
}

static int pj_open(void *p, int idx, void **out, char *err)
{
    ab_pjrt_be *be = p;
    ab_pjrt_dev *d = calloc(1, sizeof(*d));
    if (!d) return ab_pjrt_err(err, "out of memory");
    d->be = be, d->api = be->api, d->client = be->client, d->device = be->devices[idx];
    d->index = idx;
    d->mem_limit = mem_limit(be->api, d->device);
    *out = d;
    return 0;
}

static void pj_close(void *p)
{
    ab_pjrt_dev *d = p;
    ab_pjrt_sync(d, NULL);
    ab_pjrt_programs_free(d);
    free(d->pending);
    free(d->rcache_host);
    free(d);
}

static int pj_mem_alloc(void *p, size_t bytes, void **mem, char *err)
{
    ab_pjrt_dev *d = p;
    if (d->mem_limit && d->allocated + bytes > d->mem_limit)
        return ab_pjrt_err(err, "pjrt: %zu bytes more do not fit: %llu of %llu bytes in use", bytes,
                           (unsigned long long)d->allocated, (unsigned long long)d->mem_limit);
    ab_pjrt_mem *m = calloc(1, sizeof(*m));
    if (!m) return ab_pjrt_err(err, "out of memory");
    m->bytes = bytes;
    d->allocated += bytes;
    *mem = m;
    return 0;
}

static void pj_mem_free(void *p, void *mem)
{
    ab_pjrt_dev *d = p;
    ab_pjrt_mem *m = mem;
    ab_pjrt_sync(d, NULL);
    ab_pjrt_mem_drop(d, m);
    if (d->rcache == m) d->rcache = NULL;
    d->allocated -= m->bytes;
    free(m);
}

static int pj_host_alloc(void *p, size_t bytes, bool pinned, void **ptr, char *err)
{
    (void)p;
    if (pinned)
        return ab_pjrt_err(err, "pjrt: the PJRT C API gives no pinned host memory (pageable only)");
    *ptr = malloc(bytes ? bytes : 1);
    return *ptr ? 0 : ab_pjrt_err(err, "out of host memory");
}

static void pj_host_free(void *p, void *ptr, bool pinned)
{
    (void)p, (void)pinned;
    free(ptr);
}

/* The array m holds (raw bytes if it holds none) with bytes [off, off + n) from src. */
static int write_part(ab_pjrt_dev *d, ab_pjrt_mem *m, const void *src, size_t off, size_t n,
                      char *err)
{
    size_t len = m->buf ? m->used : m->bytes;
    int64_t raw = (int64_t)len;
    PJRT_Buffer_Type type = m->buf ? m->type : PJRT_Buffer_Type_U8;
    const int64_t *dims = m->buf ? m->dims : &raw;
    int rank = m->buf ? m->rank : 1;
    if (off + n > len)
        return ab_pjrt_err(err, "pjrt: write of [%zu, %zu) past an array of %zu bytes", off,
                           off + n, len);
    if (off == 0 && n == len) return ab_pjrt_mem_set(d, m, type, dims, rank, src, err);
    unsigned char *tmp = calloc(1, len);
    if (!tmp) return ab_pjrt_err(err, "out of host memory");
    int rc = m->buf ? ab_pjrt_mem_get(d, m, tmp, err) : 0;
    if (rc == 0) {
        memcpy(tmp + off, src, n);
        int64_t dcopy[AB_PJRT_MAX_DIMS];
        memcpy(dcopy, dims, sizeof(int64_t) * (size_t)rank);
        rc = ab_pjrt_mem_set(d, m, type, dcopy, rank, tmp, err);
    }
    free(tmp);
    return rc;
}

/* Bytes [off, off + n) of m's array: a whole array straight into dst; parts from a host copy of
 * it, kept while the array does not change (validation reads a large C slice by slice). */
static int read_part(ab_pjrt_dev *d, ab_pjrt_mem *m, void *dst, size_t off, size_t n, char *err)
{
    if (off + n > m->used)
        return ab_pjrt_err(err, "pjrt: read of [%zu, %zu) past an array of %zu bytes", off, off + n,
                           m->used);
    if (off == 0 && n == m->used) return ab_pjrt_mem_get(d, m, dst, err);
    if (d->rcache != m || d->rcache_gen != m->gen) {
        if (d->rcache_cap < m->used) {
            void *h = realloc(d->rcache_host, m->used);
            if (!h) return ab_pjrt_err(err, "out of host memory");
            d->rcache_host = h, d->rcache_cap = m->used;
        }
        d->rcache = NULL;
        if (ab_pjrt_mem_get(d, m, d->rcache_host, err) != 0) return -1;
        d->rcache = m, d->rcache_gen = m->gen;
    }
    memcpy(dst, (const unsigned char *)d->rcache_host + off, n);
    return 0;
}

static int pj_copy(void *p, ab_copy_dir dir, void *dst, const void *src, size_t off, size_t bytes,
                   char *err)
{
    ab_pjrt_dev *d = p;
    switch (dir) {
    case AB_COPY_H2D:
        return write_part(d, dst, src, off, bytes, err);
    case AB_COPY_D2H:
        return read_part(d, (ab_pjrt_mem *)src, dst, off, bytes, err);
    case AB_COPY_D2D: {
        ab_pjrt_mem *s = (ab_pjrt_mem *)src;
        if (off != 0 || !s->buf || bytes != s->used)
            return ab_pjrt_err(err, "pjrt: buffers are immutable arrays: a device copy copies a "
                                    "whole array, not bytes at an offset");
        return ab_pjrt_device_copy(d, dst, s, err);
    }
    }
    return ab_pjrt_err(err, "pjrt: unknown copy direction");
}

static int pj_sync(void *p, char *err)
{
    return ab_pjrt_sync(p, err);
}

static int pj_timer_start(void *p, char *err)
{
    ab_pjrt_dev *d = p;
    if (ab_pjrt_sync(d, err) != 0) return -1;
    d->timing = true;
    d->overhead = 0.0;
    d->looped_launches = 0;
    d->t0 = ab_pjrt_now();
    return 0;
}

static int pj_timer_stop(void *p, double *seconds, char *err)
{
    ab_pjrt_dev *d = p;
    int rc = ab_pjrt_sync(d, err);
    double wall = ab_pjrt_now() - d->t0;
    d->timing = false;
    if (rc != 0) return -1;
    if (d->looped_launches > 1)
        return ab_pjrt_err(err,
                           "pjrt: %d program launches in one timed interval: the "
                           "loop-in-program method times one",
                           d->looped_launches);
    double s = wall - d->overhead;
    *seconds = s > 0.0 ? s : 0.0;
    return 0;
}

static const ab_suite_impls pjrt_impls = {
    .membw = &ab_membw_pjrt,
    .gemm = &ab_gemm_pjrt,
    .attention = &ab_attention_pjrt,
    .tokens = &ab_tokens_pjrt,
};

static const ab_backend_ops pjrt_ops = {
    .abi = AB_BACKEND_ABI,
    .name = "pjrt",
    .init = pj_init,
    .fini = pj_fini,
    .device_count = pj_count,
    .device_info = pj_device_info,
    .open = pj_open,
    .close = pj_close,
    .mem_alloc = pj_mem_alloc,
    .mem_free = pj_mem_free,
    .host_alloc = pj_host_alloc,
    .host_free = pj_host_free,
    .copy = pj_copy,
    .sync = pj_sync,
    .timer_start = pj_timer_start,
    .timer_stop = pj_timer_stop,
    .impls = &pjrt_impls,
};

__attribute__((visibility("default"))) const ab_backend_ops *ab_backend_plugin_pjrt(void);
const ab_backend_ops *ab_backend_plugin_pjrt(void)
{
    return &pjrt_ops;
}

const char *ab_pjrt_platform(const ab_pjrt_dev *d)
{
    return d->be->platform;
}
