/* SPDX-License-Identifier: MIT */
#include "topo.h"

#include "../core/ab.h"
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ab_pci_parse(const char *busid, unsigned *dom, unsigned *bus, unsigned *dev, unsigned *fn)
{
    unsigned d = 0, b, s, f;
    char tail;
    if (!busid) return -1;
    /* NVML writes an 8-digit domain, sysfs and CUDA 4 digits, some tools none */
    if (sscanf(busid, "%x:%x:%x.%x%c", &d, &b, &s, &f, &tail) == 4 ||
        (d = 0, sscanf(busid, "%x:%x.%x%c", &b, &s, &f, &tail) == 3)) {
        if (b > 0xff || s > 0x1f || f > 7) return -1;
        *dom = d;
        *bus = b;
        *dev = s;
        *fn = f;
        return 0;
    }
    return -1;
}

void ab_pci_canon(const char *busid, char *out, size_t len)
{
    unsigned d, b, s, f;
    if (ab_pci_parse(busid, &d, &b, &s, &f) == 0)
        snprintf(out, len, "%04x:%02x:%02x.%x", d, b, s, f);
    else if (len)
        out[0] = '\0';
}

static int read_long_file(const char *path, long *out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%ld", out) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

int ab_host_core_cpus(int *cpus, int max)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    /* One logical CPU per (package, core) pair: the first sibling in the mask. */
    long seen[AB_MAX_CPUS][2];
    if (max > AB_MAX_CPUS)
        max = AB_MAX_CPUS;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        char path[128];
        long core = c, pkg = 0;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
        read_long_file(path, &core);
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 c);
        read_long_file(path, &pkg);
        int dup = 0;
        for (int k = 0; k < n; k++)
            if (seen[k][0] == pkg && seen[k][1] == core)
                dup = 1;
        if (dup)
            continue;
        seen[n][0] = pkg;
        seen[n][1] = core;
        cpus[n++] = c;
    }
    return n;
}

#ifdef AB_HAVE_HWLOC
#include <hwloc.h>

struct ab_topo {
    hwloc_topology_t h;
    char source[512];
};

ab_topo *ab_topo_load(const char *xml, char *why)
{
    ab_topo *t = calloc(1, sizeof(*t));
    if (!t) {
        ab_err(why, "out of memory");
        return NULL;
    }
    if (hwloc_topology_init(&t->h) != 0) {
        ab_err(why, "hwloc_topology_init failed");
        free(t);
        return NULL;
    }
    if (xml && hwloc_topology_set_xml(t->h, xml) != 0) {
        ab_err(why, "hwloc cannot read the XML topology %s", xml);
        goto fail;
    }
    /* PCI devices and their OS devices are needed for GPU locality; bridges only as far as
     * they lead to them (KEEP_IMPORTANT), which keeps discovery fast */
    hwloc_topology_set_io_types_filter(t->h, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    /* PCI devices and their locality come from the Linux component reading sysfs. The
     * libpciaccess-based "pci" plugin would only add names from pci.ids, and it keeps a global
     * name table it never frees (a leak under ASan in every run); the vendor plugins would
     * initialise OpenCL, CUDA, NVML and ROCm SMI a second time. None is needed here. */
    static const char *const skip[] = {"pci", "opencl", "cuda", "nvml", "rsmi", "levelzero",
                                       "gl"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        hwloc_topology_set_components(t->h, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, skip[i]);
    /* hwloc drops instruction caches by default; lstopo (and a reader of the manifest) shows
     * them */
    hwloc_topology_set_icache_types_filter(t->h, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(t->h) != 0) {
        ab_err(why, "hwloc_topology_load failed%s%s", xml ? " for " : "", xml ? xml : "");
        goto fail;
    }
    unsigned v = hwloc_get_api_version();
    if (xml)
        snprintf(t->source, sizeof(t->source), "hwloc XML %s", xml);
    else
        snprintf(t->source, sizeof(t->source), "hwloc %u.%u.%u", v >> 16, (v >> 8) & 0xff,
                 v & 0xff);
    return t;
fail:
    hwloc_topology_destroy(t->h);
    free(t);
    return NULL;
}

void ab_topo_free(ab_topo *t)
{
    if (!t) return;
    hwloc_topology_destroy(t->h);
    free(t);
}

const char *ab_topo_source(const ab_topo *t)
{
    return t->source;
}

static int count(ab_topo *t, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(t->h, type);
    return n < 0 ? 0 : n;
}

static const char *cache_type_name(hwloc_obj_cache_type_t ct)
{
    switch (ct) {
    case HWLOC_OBJ_CACHE_DATA:
        return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION:
        return "instruction";
    default:
        return "unified";
    }
}

void ab_topo_cpu_fields(ab_topo *t, json_t *cpu, json_t *memory)
{
    const char *src = t->source;
    struct {
        const char *key;
        hwloc_obj_type_t type;
    } counts[] = {{"sockets", HWLOC_OBJ_PACKAGE},
                  {"numa_nodes", HWLOC_OBJ_NUMANODE},
                  {"cores", HWLOC_OBJ_CORE},
                  {"pus", HWLOC_OBJ_PU}};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int n = count(t, counts[i].type);
        if (n > 0)
            ab_field_set(cpu, counts[i].key, json_integer(n), src);
        else
            ab_field_unavailable(cpu, counts[i].key, "hwloc found no %s objects",
                                 hwloc_obj_type_string(counts[i].type));
    }

    /* Caches grouped by (level, type, size, line size), ordered by level, data before
     * instruction: the same objects lstopo draws, counted per kind. */
    json_t *caches = json_array();
    for (unsigned lvl = 1; lvl <= 5; lvl++) {
        for (int pass = 0; pass < 2; pass++) {
            typedef struct {
                hwloc_obj_cache_type_t ct;
                hwloc_uint64_t size;
                unsigned line, assoc, n;
            } grp;
            grp g[8];
            unsigned ng = 0;
            int depth_count = hwloc_topology_get_depth(t->h);
            for (int d = 0; d < depth_count; d++) {
                hwloc_obj_type_t ty = hwloc_get_depth_type(t->h, d);
                if (!hwloc_obj_type_is_cache(ty)) continue;
                for (hwloc_obj_t o = hwloc_get_obj_by_depth(t->h, d, 0); o; o = o->next_cousin) {
                    const struct hwloc_cache_attr_s *c = &o->attr->cache;
                    bool instr = c->type == HWLOC_OBJ_CACHE_INSTRUCTION;
                    if (c->depth != lvl || instr != (pass == 1)) continue;
                    unsigned k = 0;
                    for (; k < ng; k++)
                        if (g[k].ct == c->type && g[k].size == c->size && g[k].line == c->linesize)
                            break;
                    if (k == ng) {
                        if (ng == 8) continue;
                        g[ng++] = (grp){c->type, c->size, c->linesize,
                                        c->associativity > 0 ? (unsigned)c->associativity : 0, 0};
                    }
                    g[k].n++;
                }
            }
            for (unsigned k = 0; k < ng; k++) {
                json_t *o = json_object();
                json_object_set_new(o, "level", json_integer(lvl));
                json_object_set_new(o, "type", json_string(cache_type_name(g[k].ct)));
                json_object_set_new(o, "size_bytes", json_integer((json_int_t)g[k].size));
                json_object_set_new(o, "linesize_bytes", json_integer(g[k].line));
                json_object_set_new(o, "instances", json_integer(g[k].n));
                if (g[k].assoc) json_object_set_new(o, "associativity", json_integer(g[k].assoc));
                json_array_append_new(caches, o);
            }
        }
    }
    if (json_array_size(caches))
        ab_field_set(cpu, "caches", caches, src);
    else {
        json_decref(caches);
        ab_field_unavailable(cpu, "caches", "hwloc found no cache objects");
    }

    /* NUMA nodes with their local memory */
    json_t *nodes = json_array();
    for (hwloc_obj_t o = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, NULL); o;
         o = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, o)) {
        json_t *n = json_object();
        char *cpus = NULL;
        json_object_set_new(n, "os_index", json_integer(o->os_index));
        json_object_set_new(n, "memory_bytes",
                            json_integer((json_int_t)o->attr->numanode.local_memory));
        if (hwloc_bitmap_list_asprintf(&cpus, o->cpuset) >= 0) {
            json_object_set_new(n, "cpus", json_string(cpus));
            free(cpus);
        }
        json_array_append_new(nodes, n);
    }
    if (json_array_size(nodes))
        ab_field_set(memory, "numa_nodes", nodes, src);
    else {
        json_decref(nodes);
        ab_field_unavailable(memory, "numa_nodes", "hwloc found no NUMA nodes");
    }
}

int ab_topo_pci_locality(ab_topo *t, const char *busid, ab_locality *loc, char *why)
{
    unsigned d, b, s, f;
    memset(loc, 0, sizeof(*loc));
    loc->numa_node = -1;
    if (ab_pci_parse(busid, &d, &b, &s, &f) != 0)
        return ab_err(why, "'%s' is not a PCI bus id", busid ? busid : "");
    hwloc_obj_t o = hwloc_get_pcidev_by_busid(t->h, d, b, s, f);
    if (!o)
        return ab_err(why, "PCI device %04x:%02x:%02x.%x is not in the hwloc topology", d, b, s, f);
    hwloc_obj_t a = hwloc_get_non_io_ancestor_obj(t->h, o);
    if (!a || !a->cpuset)
        return ab_err(why, "hwloc gives PCI device %04x:%02x:%02x.%x no CPU locality", d, b, s, f);
    char *list = NULL;
    if (hwloc_bitmap_list_asprintf(&list, a->cpuset) >= 0) {
        ab_strlcpy(loc->cpus, list, sizeof(loc->cpus));
        free(list);
    }
    list = NULL;
    if (a->nodeset && hwloc_bitmap_list_asprintf(&list, a->nodeset) >= 0) {
        ab_strlcpy(loc->numa_nodes, list, sizeof(loc->numa_nodes));
        free(list);
    }
    loc->numa_node = a->nodeset ? hwloc_bitmap_first(a->nodeset) : -1;
    loc->ncores = hwloc_get_nbobjs_inside_cpuset_by_type(t->h, a->cpuset, HWLOC_OBJ_CORE);
    CPU_ZERO(&loc->set);
    int i;
    hwloc_bitmap_foreach_begin(i, a->cpuset)
    {
        if (i < CPU_SETSIZE) CPU_SET(i, &loc->set);
    }
    hwloc_bitmap_foreach_end();
    snprintf(loc->where, sizeof(loc->where), "%s L#%u", hwloc_obj_type_string(a->type),
             a->logical_index);
    return 0;
}

static bool gpu_like(const struct hwloc_pcidev_attr_s *p)
{
    unsigned cls = p->class_id >> 8;
    /* display controllers (0x03xx) and processing accelerators (0x12xx) of GPU vendors; the
     * BMC's VGA (ASPEED), emulated VGA and virtio-gpu are other vendors and are left out */
    bool vendor = p->vendor_id == 0x10de || p->vendor_id == 0x1002 || p->vendor_id == 0x1da3 ||
                  p->vendor_id == 0x8086;
    if (p->vendor_id == 0x8086 && p->class_id == 0x0300)
        return false; /* Intel integrated graphics: not a compute accelerator here */
    return vendor && (cls == 0x03 || cls == 0x12);
}

json_t *ab_topo_gpus(ab_topo *t)
{
    json_t *a = json_array();
    for (hwloc_obj_t o = hwloc_get_next_pcidev(t->h, NULL); o; o = hwloc_get_next_pcidev(t->h, o)) {
        const struct hwloc_pcidev_attr_s *p = &o->attr->pcidev;
        if (!gpu_like(p)) continue;
        char id[32], hex[16];
        snprintf(id, sizeof(id), "%04x:%02x:%02x.%x", p->domain, p->bus, p->dev, p->func);
        json_t *g = json_object();
        json_object_set_new(g, "pci_bus_id", json_string(id));
        snprintf(hex, sizeof(hex), "0x%04x", p->vendor_id);
        json_object_set_new(g, "vendor_id", json_string(hex));
        snprintf(hex, sizeof(hex), "0x%04x", p->device_id);
        json_object_set_new(g, "device_id", json_string(hex));
        snprintf(hex, sizeof(hex), "0x%04x", p->class_id);
        json_object_set_new(g, "class", json_string(hex));
        const char *name = hwloc_obj_get_info_by_name(o, "PCIDevice");
        if (name) json_object_set_new(g, "name", json_string(name));
        json_array_append_new(a, g);
    }
    return a;
}

#else /* no hwloc */

struct ab_topo {
    int unused;
};

ab_topo *ab_topo_load(const char *xml, char *why)
{
    (void)xml;
    ab_err(why, "not built with hwloc (AB_HWLOC=OFF or libhwloc-dev missing at configure time)");
    return NULL;
}

void ab_topo_free(ab_topo *t)
{
    (void)t;
}

const char *ab_topo_source(const ab_topo *t)
{
    (void)t;
    return "none";
}

void ab_topo_cpu_fields(ab_topo *t, json_t *cpu, json_t *memory)
{
    (void)t;
    (void)cpu;
    (void)memory;
}

int ab_topo_pci_locality(ab_topo *t, const char *busid, ab_locality *loc, char *why)
{
    (void)t;
    (void)busid;
    memset(loc, 0, sizeof(*loc));
    loc->numa_node = -1;
    return ab_err(why, "not built with hwloc");
}

json_t *ab_topo_gpus(ab_topo *t)
{
    (void)t;
    return json_array();
}

#endif
