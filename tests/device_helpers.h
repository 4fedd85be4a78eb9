/* SPDX-License-Identifier: MIT */
/*
 * What the per-device kernel tests (test_tokens_kernels, test_train_kernels_devices) share:
 * bring the platform up and open one device by id, or skip the test naming why it is not here.
 * Static in a header because it asserts and skips with Criterion, which only the tests link.
 */
#ifndef AB_DEVICE_HELPERS_H
#define AB_DEVICE_HELPERS_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backends/registry.h"
#include "core/ab.h"

/* *up is set once ab_platform_init succeeded (the caller's fini closes it); the device is open. */
static inline ab_device *ab_test_device_or_skip(ab_platform *plat, bool *up, const char *id)
{
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_platform_init(plat, err), 0, "%s", err);
    *up = true;
    ab_device *d = ab_platform_device(plat, id);
    if (!d) {
        char be[16];
        size_t n = strcspn(id, ":");
        snprintf(be, sizeof(be), "%.*s", (int)n, id);
        ab_backend_entry *e = ab_platform_backend(plat, be);
        const char *why = e && !e->available && *e->reason ? e->reason : "not listed";
        cr_skip_test("%s: no such device here (%s)", id, why);
    }
    cr_assert_eq(ab_device_open(d, err), 0, "%s: %s", id, err);
    return d;
}

#endif
