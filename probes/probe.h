/* SPDX-License-Identifier: MIT */
/*
 * Probes: facts about the machine a run happened on, gathered into the manifest that
 * `accelbench probe` prints and every run document embeds (layout: results/MANIFEST.md, schema:
 * results/manifest.schema.json).
 *
 * Every fact is a *field*: a JSON object
 *     {"status": "ok", "value": ..., "source": "where it was read"}
 *     {"status": "unavailable", "reason": "why"}      the machine does not offer it
 *     {"status": "error", "reason": "why"}            it should be there but reading it failed
 * never a silent zero or an empty string. The helpers below are the only way probes write them.
 *
 * Probes never fail as a whole: a missing library, file or permission becomes a field with its
 * reason. Functions returning json_t * return a new reference (NULL only on out-of-memory).
 * Nothing here blocks for long: no network, no subprocess; the slowest step is hwloc's topology
 * discovery (tens of milliseconds).
 */
#ifndef AB_PROBE_H
#define AB_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define AB_MANIFEST_SCHEMA  "accelbench.manifest"
#define AB_MANIFEST_VERSION 1

/* Host basics embedded in every run document as "host" (kept for readers of schema 1):
 * hostname, OS, kernel, architecture, CPU model, logical CPUs, physical cores in the affinity
 * mask, memory. Never fails: a fact that cannot be read is recorded as "unavailable (why)". */
json_t *ab_probe_host_basic(void);

/* ---- fields ---- */

/* Sets obj[key] to an ok field; takes ownership of value (NULL value: out of memory ->
 * an error field). source may be NULL. */
void ab_field_set(json_t *obj, const char *key, json_t *value, const char *source);
/* obj[key] = {"status": "unavailable", "reason": ...} */
void ab_field_unavailable(json_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* obj[key] = {"status": "error", "reason": ...} */
void ab_field_error(json_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A string field: ok when s is non-empty after trimming, else unavailable with `why_empty`. */
void ab_field_str(json_t *obj, const char *key, const char *s, const char *source,
                  const char *why_empty);
/* The same, appended to an array (for lists of fields). */
json_t *ab_field_new(json_t *value, const char *source);
json_t *ab_field_new_missing(const char *status, const char *reason);
/* Value of an ok field, or NULL (for renderers and tests). */
json_t *ab_field_value(const json_t *field);
/* "ok", "unavailable", "error"; NULL when `field` is not a field. */
const char *ab_field_status(const json_t *field);

/* ---- where probes look ---- */

typedef struct ab_probe_opts {
    /* Prefix for every file a probe reads (/sys, /proc, /etc, /run, /var): tests replay
     * fixtures (DMI strings of cloud instances, PCI sysfs entries) by pointing it at a folder.
     * NULL or "" or "/": this machine. When set, facts that come from system calls rather than
     * files (cpuid, uname, sysconf) are not read: they would describe this machine, not the
     * fixture. */
    const char *root;
    /* hwloc XML export to load instead of discovering this machine's topology. */
    const char *topology;
    /* Skip the vendor libraries (NVML, ROCm SMI, OpenCL, PAPI): fixture replays. */
    bool no_vendor;
} ab_probe_opts;

/* Fills opts from $ACCELBENCH_PROBE_ROOT and $ACCELBENCH_PROBE_TOPOLOGY (unset: this machine). */
void ab_probe_opts_env(ab_probe_opts *o);
/* True when root names a fixture rather than this machine. */
bool ab_probe_fixture(const ab_probe_opts *o);
/* Reads a small text file below the root ("/sys/class/dmi/id/sys_vendor"), trimmed. 0 on
 * success; -1 with a one-line reason in why ("/sys/...: No such file or directory"). */
int ab_probe_read(const ab_probe_opts *o, const char *path, char *buf, size_t len, char *why);
/* The path below the root, for opendir and friends. */
void ab_probe_path(const ab_probe_opts *o, const char *path, char *buf, size_t len);

/* ---- manifest sections (probes/<section>.c) ---- */

typedef struct ab_topo ab_topo; /* probes/topo.h */

json_t *ab_probe_host(const ab_probe_opts *o, ab_topo *topo, const char *topo_why);
json_t *ab_probe_cloud(const ab_probe_opts *o);
json_t *ab_probe_accelerators(const ab_probe_opts *o, ab_topo *topo, const char *topo_why);
json_t *ab_probe_nvml(void);
json_t *ab_probe_rocm_smi(void);
json_t *ab_probe_opencl(void);
json_t *ab_probe_counters(void);
json_t *ab_probe_power(const ab_probe_opts *o);

/* The whole manifest (schema accelbench.manifest). Never NULL except on out-of-memory. */
json_t *ab_manifest(const ab_probe_opts *o);
/* Human-readable summary of a manifest on f (what `accelbench probe` prints). */
void ab_manifest_print(const json_t *manifest, FILE *f);

#endif
