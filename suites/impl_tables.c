/* SPDX-License-Identifier: MIT */
/* Which suites each statically built backend implements (plugins answer for themselves). */
#include <string.h>

#include "membw/membw.h"

extern const ab_membw_impl ab_membw_cpu;

const void *ab_cpu_suite_impl(const char *suite);
const void *ab_cpu_suite_impl(const char *suite)
{
    if (strcmp(suite, "membw") == 0)
        return &ab_membw_cpu;
    return NULL;
}

#ifdef AB_HAVE_OPENCL
extern const ab_membw_impl ab_membw_opencl;

const void *ab_opencl_suite_impl(const char *suite);
const void *ab_opencl_suite_impl(const char *suite)
{
    if (strcmp(suite, "membw") == 0)
        return &ab_membw_opencl;
    return NULL;
}
#endif
