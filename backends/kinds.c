/* SPDX-License-Identifier: MIT */
/* The kind of device each backend of this source tree drives (backend.h, ab_device_kind), by
 * name: for readers of run documents (compare), which record a result's backend but not its
 * device's capabilities, and for the registry's fallback when a device cannot be read. Kept
 * apart from registry.c so that readers link without the backends themselves. */
#include "registry.h"

#include <string.h>

static const struct {
    const char *name;
    ab_device_kind kind;
} kinds[] = {
    {"cpu", AB_KIND_HOST},
    {"opencl", AB_KIND_PORTABLE},
    {"cuda", AB_KIND_GPU},
    {"hip", AB_KIND_GPU},
    {"pjrt", AB_KIND_GPU}, /* TPU, Trainium: accelerators behind a vendor runtime */
};

bool ab_backend_declared_kind(const char *name, ab_device_kind *kind)
{
    for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0) {
            *kind = kinds[i].kind;
            return true;
        }
    return false;
}
