/* SPDX-License-Identifier: MIT */
/*
 * Accelerator locality: every GPU-like PCI device (NVIDIA, AMD, Intel, Habana display or
 * processing-accelerator functions) with its PCIe link (generation and width, current and
 * maximum, from sysfs) and the NUMA node and cores nearest to it (hwloc). Devices come from
 * sysfs and from the topology (an XML fixture may list GPUs that sysfs does not have).
 */
#include "probe.h"

#include "../core/ab.h"
#include "topo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "16.0 GT/s PCIe" -> 4: the generation follows from the per-lane transfer rate. */
static int link_gen(const char *speed)
{
    double gt = atof(speed);
    static const double rates[] = {2.5, 5.0, 8.0, 16.0, 32.0, 64.0, 128.0};
    for (int i = 0; i < 7; i++)
        if (gt > rates[i] * 0.9 && gt < rates[i] * 1.1) return i + 1;
    return 0;
}

static void link_field(const ab_probe_opts *o, const char *dev, json_t *link, const char *which)
{
    char p_speed[256], p_width[256], speed[64], width[64], why[AB_ERRLEN];
    snprintf(p_speed, sizeof(p_speed), "/sys/bus/pci/devices/%s/%s_link_speed", dev, which);
    snprintf(p_width, sizeof(p_width), "/sys/bus/pci/devices/%s/%s_link_width", dev, which);
    char key[32];
    snprintf(key, sizeof(key), "%s", which);
    if (ab_probe_read(o, p_speed, speed, sizeof(speed), why) != 0 ||
        ab_probe_read(o, p_width, width, sizeof(width), why) != 0) {
        ab_field_unavailable(link, key, "%s", why);
        return;
    }
    int gen = link_gen(speed);
    long w = atol(width);
    if (strstr(speed, "Unknown") || gen == 0 || w <= 0) {
        ab_field_unavailable(link, key,
                             "sysfs reports speed '%s', width '%s' (no PCIe link, e.g. "
                             "an emulated device)",
                             speed, width);
        return;
    }
    json_t *v = json_object();
    json_object_set_new(v, "generation", json_integer(gen));
    json_object_set_new(v, "width", json_integer(w));
    json_object_set_new(v, "speed", json_string(speed));
    ab_field_set(link, key, v, "sysfs");
}

static bool gpu_class(unsigned vendor, unsigned cls)
{
    bool v = vendor == 0x10de || vendor == 0x1002 || vendor == 0x1da3 || vendor == 0x8086;
    if (vendor == 0x8086 && (cls >> 8) == 0x0300) return false;
    return v && ((cls >> 16) == 0x03 || (cls >> 16) == 0x12);
}

static json_t *find_by_bus(json_t *arr, const char *id)
{
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "pci_bus_id")), id) == 0) return g;
    }
    return NULL;
}

/* the GPU at /sys/bus/pci/devices/<name>, or NULL when it is none (or unreadable) */
static json_t *sysfs_gpu(const ab_probe_opts *o, const char *name)
{
    char p[512], buf[64], why[AB_ERRLEN];
    unsigned vendor = 0, device = 0, cls = 0;
    snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", name);
    if (ab_probe_read(o, p, buf, sizeof(buf), why) != 0) return NULL;
    vendor = (unsigned)strtoul(buf, NULL, 16);
    snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/class", name);
    if (ab_probe_read(o, p, buf, sizeof(buf), why) != 0) return NULL;
    cls = (unsigned)strtoul(buf, NULL, 16);
    if (!gpu_class(vendor, cls)) return NULL;
    snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", name);
    if (ab_probe_read(o, p, buf, sizeof(buf), why) == 0) device = (unsigned)strtoul(buf, NULL, 16);
    char id[32], hex[16];
    ab_pci_canon(name, id, sizeof(id));
    if (!*id) return NULL;
    json_t *g = json_object();
    json_object_set_new(g, "pci_bus_id", json_string(id));
    snprintf(hex, sizeof(hex), "0x%04x", vendor);
    json_object_set_new(g, "vendor_id", json_string(hex));
    snprintf(hex, sizeof(hex), "0x%04x", device);
    json_object_set_new(g, "device_id", json_string(hex));
    snprintf(hex, sizeof(hex), "0x%04x", cls >> 8);
    json_object_set_new(g, "class", json_string(hex));
    json_object_set_new(g, "_sysfs", json_string(name));
    return g;
}

/* the list: sysfs first, then what the topology adds, in bus order */
static json_t *gpu_list(const ab_probe_opts *o, ab_topo *topo)
{
    json_t *list = json_array();
    char dir[4096];
    ab_probe_path(o, "/sys/bus/pci/devices", dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            json_t *g = sysfs_gpu(o, e->d_name);
            if (g) json_array_append_new(list, g);
        }
        closedir(d);
    }
    if (topo) {
        json_t *tg = ab_topo_gpus(topo);
        size_t i;
        json_t *g;
        json_array_foreach(tg, i, g)
        {
            const char *id = json_string_value(json_object_get(g, "pci_bus_id"));
            json_t *have = find_by_bus(list, id);
            if (!have)
                json_array_append(list, g);
            else if (json_object_get(g, "name"))
                json_object_set(have, "name", json_object_get(g, "name"));
        }
        json_decref(tg);
    }
    /* in bus order (readdir order is arbitrary): GPU 0 first, as the drivers number them */
    size_t nl = json_array_size(list);
    for (size_t a = 1; a < nl; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_array_get(list, b - 1), *y = json_array_get(list, b);
            if (strcmp(json_string_value(json_object_get(x, "pci_bus_id")),
                       json_string_value(json_object_get(y, "pci_bus_id"))) <= 0)
                break;
            json_incref(x);
            json_array_set(list, b - 1, y);
            json_array_set_new(list, b, x);
        }
    return list;
}

/* numa_node and nearest_cpus of device id (sysfs name sysname) into a */
static void locality_fields(const ab_probe_opts *o, ab_topo *topo, const char *topo_why,
                            const char *id, const char *sysname, json_t *a)
{
    char p[512], buf[64], why[AB_ERRLEN];
    snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/numa_node", sysname);
    ab_locality loc;
    char lwhy[AB_ERRLEN] = "";
    int lrc = topo ? ab_topo_pci_locality(topo, id, &loc, lwhy) : -1;
    if (!topo) ab_strlcpy(lwhy, topo_why, sizeof(lwhy));
    if (lrc == 0 && loc.numa_node >= 0) {
        ab_field_set(a, "numa_node", json_integer(loc.numa_node), ab_topo_source(topo));
    } else if (ab_probe_read(o, p, buf, sizeof(buf), why) == 0) {
        long n = atol(buf);
        if (n >= 0)
            ab_field_set(a, "numa_node", json_integer(n), p);
        else
            ab_field_unavailable(a, "numa_node",
                                 "the firmware assigns the device no NUMA node "
                                 "(sysfs numa_node = -1)");
    } else {
        ab_field_unavailable(a, "numa_node", "%s; %s", lwhy, why);
    }
    if (lrc == 0) {
        json_t *v = json_object();
        json_object_set_new(v, "cpus", json_string(loc.cpus));
        json_object_set_new(v, "cores", json_integer(loc.ncores));
        json_object_set_new(v, "numa_nodes", json_string(loc.numa_nodes));
        json_object_set_new(v, "attached_to", json_string(loc.where));
        ab_field_set(a, "nearest_cpus", v, ab_topo_source(topo));
    } else {
        ab_field_unavailable(a, "nearest_cpus", "%s", lwhy);
    }
}

/* the manifest entry of listed device g: link and locality, as fields */
static json_t *accelerator(const ab_probe_opts *o, ab_topo *topo, const char *topo_why,
                           const json_t *g)
{
    const char *id = json_string_value(json_object_get(g, "pci_bus_id"));
    const char *sys = json_string_value(json_object_get(g, "_sysfs"));
    char sysname[64];
    ab_strlcpy(sysname, sys ? sys : id, sizeof(sysname));
    json_t *a = json_object();
    json_object_set_new(a, "pci_bus_id", json_string(id));
    const char *vid = json_string_value(json_object_get(g, "vendor_id"));
    json_object_set_new(a, "vendor_id", json_string(vid));
    json_object_set_new(a, "device_id", json_deep_copy(json_object_get(g, "device_id")));
    json_object_set_new(a, "class", json_deep_copy(json_object_get(g, "class")));
    const char *vendor = strcmp(vid, "0x10de") == 0   ? "NVIDIA"
                         : strcmp(vid, "0x1002") == 0 ? "AMD"
                         : strcmp(vid, "0x8086") == 0 ? "Intel"
                                                      : "Habana";
    json_object_set_new(a, "vendor", json_string(vendor));
    if (json_object_get(g, "name"))
        ab_field_set(a, "name", json_deep_copy(json_object_get(g, "name")), "hwloc pci.ids");
    else
        ab_field_unavailable(a, "name",
                             "PCI names are not looked up (the model is under nvml / "
                             "rocm_smi devices)");
    json_t *link = json_object();
    link_field(o, sysname, link, "current");
    link_field(o, sysname, link, "max");
    json_object_set_new(a, "pcie_link", link);
    locality_fields(o, topo, topo_why, id, sysname, a);
    return a;
}

json_t *ab_probe_accelerators(const ab_probe_opts *o, ab_topo *topo, const char *topo_why)
{
    json_t *list = gpu_list(o, topo);
    json_t *out = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(list, i, g) json_array_append_new(out, accelerator(o, topo, topo_why, g));
    json_decref(list);
    return out;
}
