/* SPDX-License-Identifier: MIT */
/* Probes: facts about the machine a run happened on. */
#ifndef AB_PROBE_H
#define AB_PROBE_H

#include <jansson.h>

/* Host basics embedded in every run document: hostname, OS, kernel, architecture, CPU model,
 * logical CPUs, physical cores in the affinity mask, memory. Never fails: a fact that cannot be
 * read is recorded as "unavailable (why)". */
json_t *ab_probe_host_basic(void);

#endif
