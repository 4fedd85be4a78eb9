/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#ifdef AB_HAVE_OPENCL
#include "opencl.h"
#endif

#ifndef AB_OPENCL_WHY
#define AB_OPENCL_WHY "not built"
#endif
#ifndef AB_CUDA_WHY
#define AB_CUDA_WHY "not built"
#endif
#ifndef AB_HIP_WHY
#define AB_HIP_WHY "not built"
#endif

/* Finds and loads libaccelbench-<name>.so: $ACCELBENCH_PLUGIN_DIR, then the executable's
 * directory, then ../lib/accelbench beside it. */
static const ab_backend_ops *load_plugin(ab_backend_entry *e, char *why)
{
    char exe[4096], path[4200];
    const char *dirs[3];
    size_t nd = 0;
    const char *env = getenv("ACCELBENCH_PLUGIN_DIR");
    if (env && *env)
        dirs[nd++] = env;
    ab_exe_dir(exe, sizeof(exe));
    dirs[nd++] = exe;
    char lib[4200];
    snprintf(lib, sizeof(lib), "%s/../lib/accelbench", exe);
    dirs[nd++] = lib;
    char first_error[AB_ERRLEN] = "";
    for (size_t i = 0; i < nd; i++) {
        snprintf(path, sizeof(path), "%s/libaccelbench-%s.so", dirs[i], e->name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        fclose(f);
        void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            if (!*first_error)
                ab_strlcpy(first_error, dlerror(), sizeof(first_error));
            continue;
        }
        char sym[64];
        snprintf(sym, sizeof(sym), "ab_backend_plugin_%s", e->name);
        const ab_backend_ops *(*entry)(void) = (const ab_backend_ops *(*)(void))dlsym(dl, sym);
        if (!entry) {
            snprintf(first_error, sizeof(first_error), "%s: no symbol %s", path, sym);
            dlclose(dl);
            continue;
        }
        const ab_backend_ops *ops = entry();
        if (!ops || ops->abi != AB_BACKEND_ABI) {
            snprintf(first_error, sizeof(first_error), "%s: plugin ABI %u, expected %u", path,
                     ops ? ops->abi : 0u, AB_BACKEND_ABI);
            dlclose(dl);
            continue;
        }
        e->dl = dl;
        return ops;
    }
    if (*first_error)
        ab_err(why, "cannot load plugin: %s", first_error);
    else
        ab_err(why, "plugin libaccelbench-%s.so not found next to the binary", e->name);
    return NULL;
}

static void add_backend(ab_platform *p, const char *name, bool built, const char *why_not,
                        const ab_backend_ops *static_ops, bool plugin)
{
    ab_backend_entry *e = &p->backends[p->nbackends++];
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->built = built;
    if (!built) {
        snprintf(e->reason, sizeof(e->reason), "not built: %s", why_not);
        return;
    }
    e->ops = plugin ? load_plugin(e, e->reason) : static_ops;
    if (!e->ops)
        return;
    char why[AB_ERRLEN] = "";
    if (e->ops->init(&e->be, why) != 0) {
        snprintf(e->reason, sizeof(e->reason), "%s", *why ? why : "runtime initialisation failed");
        return;
    }
    if (e->ops->device_count(e->be) <= 0) {
        snprintf(e->reason, sizeof(e->reason), "no %s devices found", name);
        e->ops->fini(e->be);
        e->be = NULL;
        return;
    }
    e->available = true;
}

int ab_platform_init(ab_platform *p, char *err)
{
    memset(p, 0, sizeof(*p));
    add_backend(p, "cpu", true, NULL, &ab_backend_cpu, false);
#ifdef AB_HAVE_OPENCL
    add_backend(p, "opencl", true, NULL, &ab_backend_opencl, false);
#else
    add_backend(p, "opencl", false, AB_OPENCL_WHY, NULL, false);
#endif
#ifdef AB_HAVE_CUDA
    add_backend(p, "cuda", true, NULL, NULL, true);
#else
    add_backend(p, "cuda", false, AB_CUDA_WHY, NULL, false);
#endif
#ifdef AB_HAVE_HIP
    add_backend(p, "hip", true, NULL, NULL, true);
#else
    add_backend(p, "hip", false, AB_HIP_WHY, NULL, false);
#endif
    size_t total = 0;
    for (size_t i = 0; i < p->nbackends; i++)
        if (p->backends[i].available)
            total += (size_t)p->backends[i].ops->device_count(p->backends[i].be);
    p->devices = calloc(total ? total : 1, sizeof(*p->devices));
    if (!p->devices)
        return ab_err(err, "out of memory");
    for (size_t i = 0; i < p->nbackends; i++) {
        ab_backend_entry *e = &p->backends[i];
        if (!e->available)
            continue;
        int n = e->ops->device_count(e->be);
        for (int k = 0; k < n; k++) {
            ab_device *d = &p->devices[p->ndevices];
            d->backend = e;
            d->index = k;
            if (strcmp(e->name, "cpu") == 0)
                snprintf(d->id, sizeof(d->id), "cpu");
            else
                snprintf(d->id, sizeof(d->id), "%s:%d", e->name, k);
            char derr[AB_ERRLEN] = "";
            if (e->ops->device_info(e->be, k, &d->info, derr) != 0) {
                ab_log(AB_LOG_WARN, "%s: cannot read device info: %s", d->id, derr);
                snprintf(d->info.name, sizeof(d->info.name), "%s device %d", e->name, k);
            }
            p->ndevices++;
        }
    }
    return 0;
}

void ab_platform_fini(ab_platform *p)
{
    for (size_t i = 0; i < p->ndevices; i++) {
        ab_device *d = &p->devices[i];
        if (d->h)
            d->backend->ops->close(d->h);
    }
    free(p->devices);
    for (size_t i = 0; i < p->nbackends; i++) {
        ab_backend_entry *e = &p->backends[i];
        if (e->be && e->ops)
            e->ops->fini(e->be);
        /* Plugins stay loaded: vendor runtimes register atexit handlers that must still find
         * their code when the process exits. */
    }
    memset(p, 0, sizeof(*p));
}

ab_backend_entry *ab_platform_backend(ab_platform *p, const char *name)
{
    for (size_t i = 0; i < p->nbackends; i++)
        if (strcmp(p->backends[i].name, name) == 0)
            return &p->backends[i];
    return NULL;
}

ab_device *ab_platform_device(ab_platform *p, const char *id)
{
    for (size_t i = 0; i < p->ndevices; i++)
        if (strcmp(p->devices[i].id, id) == 0)
            return &p->devices[i];
    return NULL;
}

int ab_device_open(ab_device *d, char *err)
{
    if (d->h)
        return 0;
    if (*d->open_error)
        return ab_err(err, "%s", d->open_error);
    if (d->backend->ops->open(d->backend->be, d->index, &d->h, d->open_error) != 0) {
        d->h = NULL;
        return ab_err(err, "%s", d->open_error);
    }
    return 0;
}
