/* SPDX-License-Identifier: MIT */
/*
 * The platform: every backend this build knows, whether it was built, whether it is available
 * on this machine (and why not), and the devices it found, named "cpu", "opencl:N", "cuda:N",
 * "hip:N".
 */
#ifndef AB_REGISTRY_H
#define AB_REGISTRY_H

#include "../core/ab.h"
#include "backend.h"

typedef struct ab_backend_entry {
    const char *name;
    bool built;             /* compiled into this build */
    bool available;         /* runtime usable on this machine */
    char reason[AB_ERRLEN]; /* why not built / not available */
    const ab_backend_ops *ops;
    void *be;               /* backend state from ops->init */
    void *dl;               /* dlopen handle of a plugin */
} ab_backend_entry;

typedef struct ab_device {
    char id[32];             /* "cpu", "cuda:0" */
    ab_backend_entry *backend;
    int index;               /* index within its backend */
    ab_device_info info;
    void *h;                 /* open handle; NULL until ab_device_open */
    char open_error[AB_ERRLEN];
} ab_device;

typedef struct ab_platform {
    ab_backend_entry *backends; /* every backend registry.c declares, in its order */
    size_t nbackends;
    ab_device *devices;
    size_t ndevices;
} ab_platform;

/* Initialises every built backend and enumerates devices. Never fails for a missing runtime
 * (that backend is marked unavailable with the reason); -1 only on out-of-memory. */
int ab_platform_init(ab_platform *p, char *err);
void ab_platform_fini(ab_platform *p);
ab_backend_entry *ab_platform_backend(ab_platform *p, const char *name);
ab_device *ab_platform_device(ab_platform *p, const char *id);
/* Opens the device once (idempotent). */
int ab_device_open(ab_device *d, char *err);

/* The suites' kernel tables of d's backend: never NULL, members NULL where it has none. */
const ab_suite_impls *ab_device_impls(const ab_device *d);

/* The kind of device a backend named in a run document has (the registry's declaration, whether
 * or not it is built here); false for a name this build does not know. */
bool ab_backend_declared_kind(const char *name, ab_device_kind *kind);

#endif
