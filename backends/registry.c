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
#ifndef AB_PJRT_WHY
#define AB_PJRT_WHY "not built"
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

/* Every backend this source tree knows, in listing order. Adding one is one line here (and
 * its AB_<NAME>_WHY default above when it is optional) and one in kinds.c. `ops` is the statically linked table;
 * NULL with `plugin` for one loaded as libaccelbench-<name>.so; NULL without it when not built.
 * `bare_id`: its one device is named by the backend alone ("cpu", not "cpu:0"). */
typedef struct backend_decl {
    const char *name;
    const ab_backend_ops *ops;
    bool plugin;
    const char *why_not_built;
    bool bare_id;
} backend_decl;

static const backend_decl declared[] = {
    {"cpu", &ab_backend_cpu, false, NULL, true},
#ifdef AB_HAVE_OPENCL
    {"opencl", &ab_backend_opencl, false, NULL, false},
#else
    {"opencl", NULL, false, AB_OPENCL_WHY, false},
#endif
#ifdef AB_HAVE_CUDA
    {"cuda", NULL, true, NULL, false},
#else
    {"cuda", NULL, false, AB_CUDA_WHY, false},
#endif
#ifdef AB_HAVE_HIP
    {"hip", NULL, true, NULL, false},
#else
    {"hip", NULL, false, AB_HIP_WHY, false},
#endif
#ifdef AB_HAVE_PJRT
    {"pjrt", NULL, true, NULL, false},
#else
    {"pjrt", NULL, false, AB_PJRT_WHY, false},
#endif
};

#define NDECLARED (sizeof(declared) / sizeof(declared[0]))

static void add_backend(ab_backend_entry *e, const backend_decl *b)
{
    memset(e, 0, sizeof(*e));
    e->name = b->name;
    e->built = b->ops || b->plugin;
    if (!e->built) {
        snprintf(e->reason, sizeof(e->reason), "not built: %s", b->why_not_built);
        return;
    }
    e->ops = b->plugin ? load_plugin(e, e->reason) : b->ops;
    if (!e->ops)
        return;
    char why[AB_ERRLEN] = "";
    if (e->ops->init(&e->be, why) != 0) {
        snprintf(e->reason, sizeof(e->reason), "%s", *why ? why : "runtime initialisation failed");
        return;
    }
    if (e->ops->device_count(e->be) <= 0) {
        snprintf(e->reason, sizeof(e->reason), "no %s devices found", b->name);
        e->ops->fini(e->be);
        e->be = NULL;
        return;
    }
    e->available = true;
}

int ab_platform_init(ab_platform *p, char *err)
{
    memset(p, 0, sizeof(*p));
    p->backends = calloc(NDECLARED, sizeof(*p->backends));
    if (!p->backends)
        return ab_err(err, "out of memory");
    for (size_t i = 0; i < NDECLARED; i++)
        add_backend(&p->backends[p->nbackends++], &declared[i]);
    size_t total = 0;
    for (size_t i = 0; i < p->nbackends; i++)
        if (p->backends[i].available)
            total += (size_t)p->backends[i].ops->device_count(p->backends[i].be);
    p->devices = calloc(total ? total : 1, sizeof(*p->devices));
    if (!p->devices) {
        ab_platform_fini(p);
        return ab_err(err, "out of memory");
    }
    for (size_t i = 0; i < p->nbackends; i++) {
        ab_backend_entry *e = &p->backends[i];
        if (!e->available)
            continue;
        int n = e->ops->device_count(e->be);
        for (int k = 0; k < n; k++) {
            ab_device *d = &p->devices[p->ndevices];
            d->backend = e;
            d->index = k;
            if (declared[i].bare_id)
                snprintf(d->id, sizeof(d->id), "%s", e->name);
            else
                snprintf(d->id, sizeof(d->id), "%s:%d", e->name, k);
            char derr[AB_ERRLEN] = "";
            if (e->ops->device_info(e->be, k, &d->info, derr) != 0) {
                ab_log(AB_LOG_WARN, "%s: cannot read device info: %s", d->id, derr);
                memset(&d->info, 0, sizeof(d->info));
                snprintf(d->info.name, sizeof(d->info.name), "%s device %d", e->name, k);
                ab_backend_declared_kind(e->name, &d->info.kind);
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
    free(p->backends);
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

const ab_suite_impls *ab_device_impls(const ab_device *d)
{
    static const ab_suite_impls none;
    const ab_backend_ops *ops = d && d->backend ? d->backend->ops : NULL;
    return ops && ops->impls ? ops->impls : &none;
}

