/* SPDX-License-Identifier: MIT */
/*
 * The machine's topology through hwloc: sockets, NUMA nodes, cores, caches, and where each PCI
 * device (GPU) sits: the NUMA node and cores nearest to it. The live machine or an hwloc XML
 * export (tests replay fixtures of machines we do not have).
 *
 * Without hwloc in the build every call reports why (AB_HAVE_HWLOC unset).
 */
#ifndef AB_TOPO_H
#define AB_TOPO_H

#include <jansson.h>
#include <sched.h>
#include <stdbool.h>

typedef struct ab_topo ab_topo;

#define AB_MAX_CPUS 1024

/* Logical CPUs for a team of up to `max` threads (at most AB_MAX_CPUS): one per physical core of
 * the process's affinity mask, in order (SMT siblings are not used), from sysfs (no hwloc needed).
 * Returns the count; 0 on failure. The CPU backend pins its team to these. */
int ab_host_core_cpus(int *cpus, int max);

/* Loads the topology: this machine when xml is NULL, else the XML file. NULL with why on
 * failure. The caller frees with ab_topo_free. */
ab_topo *ab_topo_load(const char *xml, char *why);
void ab_topo_free(ab_topo *t);
/* Where the topology came from: "hwloc 2.9.0 (this machine)" or "hwloc XML <path>". */
const char *ab_topo_source(const ab_topo *t);

/* Fills host.cpu fields: sockets, numa_nodes, cores, pus, caches; and host.memory.numa_nodes. */
void ab_topo_cpu_fields(ab_topo *t, json_t *cpu, json_t *memory);

typedef struct ab_locality {
    int numa_node;       /* first NUMA node local to the device; -1 when none is */
    char numa_nodes[64]; /* list form "0" or "0-1" */
    char cpus[256];      /* logical CPUs near the device, list form "0-15,32-47" */
    int ncores;          /* physical cores among them */
    cpu_set_t set;       /* the same CPUs, for sched_setaffinity */
    char where[64];      /* the non-I/O ancestor the device hangs off: "Package L#1", ... */
} ab_locality;

/* Parses "0000:18:00.0" / "00000000:18:00.0" / "18:00.0" into its parts. 0 or -1. */
int ab_pci_parse(const char *busid, unsigned *dom, unsigned *bus, unsigned *dev, unsigned *fn);
/* Canonical "dddd:bb:dd.f" form of a bus id, "" when it does not parse. */
void ab_pci_canon(const char *busid, char *out, size_t len);

/* Locality of a PCI device. 0, or -1 with why (device not in the topology, hwloc missing). */
int ab_topo_pci_locality(ab_topo *t, const char *busid, ab_locality *loc, char *why);

/* PCI devices of GPU-like classes (3D/display controllers, processing accelerators) that the
 * topology lists, as canonical bus ids (for fixture replays without sysfs). Returns a JSON
 * array of {"pci_bus_id", "vendor_id", "device_id", "class", "name"}. */
json_t *ab_topo_gpus(ab_topo *t);

#endif
