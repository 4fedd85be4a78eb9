/* SPDX-License-Identifier: MIT */
/* membw's transfer cases: host->device, device->host (pinned and pageable), device->device. */
#include "membw_cases.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct xfer {
    const char *what; /* h2d, d2h, d2d */
    bool pinned;
    size_t bytes;
    void *dmem, *dmem2, *host, *check;
    ab_copy_dir dir;
    void *dst;
    const void *src;
} xfer;

static int no_transfers(ab_case *c, const ab_device *d, char *why)
{
    (void)c;
    if (!ab_membw_host_backend(d))
        return 0;
    snprintf(why, AB_ERRLEN, "the CPU computes in host memory: no transfer to measure");
    return AB_CASE_SKIP;
}

static void fill_pattern(void *p, size_t bytes, uint32_t seed)
{
    uint32_t *w = p;
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < bytes / 4; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w[i] = x;
    }
}


static int xfer_setup(ab_case *c, char *err)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    void *h = d->h;
    bool d2d = strcmp(x->what, "d2d") == 0, h2d = strcmp(x->what, "h2d") == 0;
    char e[AB_ERRLEN] = "";
    if (ops->mem_alloc(h, x->bytes, &x->dmem, e) ||
        (d2d && ops->mem_alloc(h, x->bytes, &x->dmem2, e)) ||
        ops->host_alloc(h, x->bytes, x->pinned, &x->host, e) || !(x->check = malloc(x->bytes))) {
        ab_err(err, "cannot allocate %zu bytes: %.200s", x->bytes, *e ? e : "out of memory");
        return AB_CASE_SKIP;
    }
    fill_pattern(x->host, x->bytes, 7);
    if (h2d) {
        x->dir = AB_COPY_H2D, x->dst = x->dmem, x->src = x->host;
        return 0;
    }
    if (ops->copy(h, AB_COPY_H2D, x->dmem, x->host, 0, x->bytes, err) || ops->sync(h, err))
        return -1;
    if (d2d) {
        x->dir = AB_COPY_D2D, x->dst = x->dmem2, x->src = x->dmem;
    } else {
        memcpy(x->check, x->host, x->bytes);
        memset(x->host, 0, x->bytes);
        x->dir = AB_COPY_D2H, x->dst = x->host, x->src = x->dmem;
    }
    return 0;
}

static int xfer_run(ab_case *c, long iters, double *sec, char *err)
{
    const xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    if (ops->timer_start(d->h, err))
        return -1;
    for (long i = 0; i < iters; i++)
        if (ops->copy(d->h, x->dir, x->dst, x->src, 0, x->bytes, err))
            return -1;
    return ops->timer_stop(d->h, sec, err);
}

/* --test-corrupt: one byte of the destination flipped */
static int xfer_corrupt(ab_case *c, char *err)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    size_t mid = x->bytes / 2;
    if (x->dir == AB_COPY_D2H) {
        ((unsigned char *)x->host)[mid] ^= 0xff;
        return 0;
    }
    unsigned char bad = ((const unsigned char *)x->host)[mid] ^ 0xff;
    if (d->backend->ops->copy(d->h, AB_COPY_H2D, x->dst, &bad, mid, 1, err) ||
        d->backend->ops->sync(d->h, err))
        return -1;
    return 0;
}

/* the destination holds exactly the source pattern */
static int xfer_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    (void)r;
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    if (x->dir != AB_COPY_D2H) {
        if (d->backend->ops->copy(d->h, AB_COPY_D2H, x->check, x->dst, 0, x->bytes, err) ||
            d->backend->ops->sync(d->h, err))
            return -1;
    }
    if (memcmp(x->check, x->host, x->bytes) != 0) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%s",
                 x->dir == AB_COPY_D2H ? "host buffer differs from device data after copy"
                                       : "destination differs from the source after copy");
    }
    return 0;
}

static void xfer_teardown(ab_case *c)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    if (x->dmem)
        ops->mem_free(d->h, x->dmem);
    if (x->dmem2)
        ops->mem_free(d->h, x->dmem2);
    if (x->host)
        ops->host_free(d->h, x->host, x->pinned);
    free(x->check);
    x->dmem = x->dmem2 = x->host = x->check = NULL;
}

static const ab_case_ops xfer_ops = {.applies = no_transfers,
                                     .setup = xfer_setup,
                                     .run = xfer_run,
                                     .corrupt = xfer_corrupt,
                                     .validate = xfer_validate,
                                     .teardown = xfer_teardown};

int ab_membw_add_transfers(ab_caselist *l)
{
    static const struct {
        const char *what;
        bool pinned;
    } cases[] = {{"h2d", true}, {"h2d", false}, {"d2h", true}, {"d2h", false}, {"d2d", false}};
    const ab_suite_ctx *ctx = ab_caselist_ctx(l);
    const ab_device *dev = ctx->dev;
    const ab_membw_plan *p = ab_caselist_plan(l);
    bool none = no_transfers(NULL, dev, (char[AB_ERRLEN]){0}) != 0;
    size_t bytes = p->transfer_size;
    if (!bytes) {
        /* quick: 256 MiB; otherwise 1 GiB; never above an eighth of device memory */
        bytes = strcmp(ctx->opt->profile, "quick") == 0 ? (256u << 20) : (1u << 30);
        while (dev->info.mem_bytes && bytes > dev->info.mem_bytes / 8 && bytes > (1u << 20))
            bytes >>= 1;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (none && !cases[i].pinned && strcmp(cases[i].what, "d2d") != 0)
            continue; /* one skip per key is enough */
        bool d2d = strcmp(cases[i].what, "d2d") == 0;
        char key[32];
        snprintf(key, sizeof(key), "membw.%s", cases[i].what);
        ab_case *c = ab_case_new(l, key, d2d ? "copy-engine" : cases[i].pinned ? "pinned"
                                                                               : "pageable",
                                 &xfer_ops, sizeof(xfer));
        if (!c)
            return -1;
        *(xfer *)c->data = (xfer){.what = cases[i].what, .pinned = cases[i].pinned,
                                  .bytes = bytes};
        if (none)
            continue;
        ab_result_param_int(c->r, "bytes", (long long)bytes);
        if (ab_case_metric(c, "bandwidth", "B/s", true, d2d ? "2*bytes" : "bytes",
                           d2d ? "2*bytes / t (read plus write)" : "bytes / t") != 0)
            return -1;
    }
    return 0;
}

