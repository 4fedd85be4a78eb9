/* SPDX-License-Identifier: MIT */
/* The host section of the manifest: CPU, memory, OS, firmware (DMI), virtualisation. */
#include "probe.h"

#include "../core/ab.h"
#include "topo.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ------------------------------------------------------------------------------------------ */
/* The flat "host" object of run documents (schema 1 readers rely on it).                      */

static void set_unavailable(json_t *o, const char *key, const char *why)
{
    char buf[AB_ERRLEN];
    snprintf(buf, sizeof(buf), "unavailable (%s)", why);
    json_object_set_new(o, key, json_string(buf));
}

static void os_pretty_name(json_t *o)
{
    FILE *f = fopen("/etc/os-release", "r");
    if (!f) {
        set_unavailable(o, "os", strerror(errno));
        return;
    }
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12;
            ab_trim(v);
            size_t n = strlen(v);
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                v[n - 1] = '\0';
                v++;
            }
            json_object_set_new(o, "os", json_string(v));
            fclose(f);
            return;
        }
    }
    fclose(f);
    set_unavailable(o, "os", "no PRETTY_NAME in /etc/os-release");
}

static void cpu_model(json_t *o)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) {
        set_unavailable(o, "cpu_model", strerror(errno));
        return;
    }
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                char *v = c + 1;
                ab_trim(v);
                json_object_set_new(o, "cpu_model", json_string(v));
                fclose(f);
                return;
            }
        }
    }
    fclose(f);
    set_unavailable(o, "cpu_model", "no 'model name' in /proc/cpuinfo");
}

json_t *ab_probe_host_basic(void)
{
    json_t *o = json_object();
    char host[256];
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        json_object_set_new(o, "hostname", json_string(host));
    } else {
        set_unavailable(o, "hostname", strerror(errno));
    }
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(o, "kernel", json_string(u.release));
        json_object_set_new(o, "arch", json_string(u.machine));
    } else {
        set_unavailable(o, "kernel", strerror(errno));
        set_unavailable(o, "arch", strerror(errno));
    }
    os_pretty_name(o);
    cpu_model(o);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    json_object_set_new(o, "logical_cpus", json_integer(online));
    int cpus[AB_MAX_CPUS];
    json_object_set_new(o, "cores_in_affinity",
                        json_integer(ab_host_core_cpus(cpus, AB_MAX_CPUS)));
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        json_object_set_new(o, "memory_bytes", json_integer((json_int_t)pages * psz));
    else
        set_unavailable(o, "memory_bytes", "sysconf(_SC_PHYS_PAGES) failed");
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* The manifest's host section.                                                                */

/* The first processor block of /proc/cpuinfo (every block repeats the same model facts). */
static int read_cpuinfo(const ab_probe_opts *o, char *buf, size_t len, char *why)
{
    char path[4096];
    ab_probe_path(o, "/proc/cpuinfo", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) return ab_err(why, "/proc/cpuinfo: %s", strerror(errno));
    size_t used = 0;
    char line[8192];
    buf[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '\n' && used > 0) break;
        size_t n = strlen(line);
        if (used + n + 1 > len) break;
        memcpy(buf + used, line, n + 1);
        used += n;
    }
    fclose(f);
    return 0;
}

/* Value of "key<spaces>: value" in a cpuinfo block, copied to out; -1 when absent. */
static int cpuinfo_get(const char *info, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || (p[kl] != ' ' && p[kl] != '\t' && p[kl] != ':')) continue;
        const char *c = strchr(p, ':');
        const char *e = strchr(p, '\n');
        if (!c || (e && c > e)) continue;
        size_t n = e ? (size_t)(e - c - 1) : strlen(c + 1);
        if (n >= len) n = len - 1;
        memcpy(out, c + 1, n);
        out[n] = '\0';
        ab_trim(out);
        return 0;
    }
    return -1;
}

static bool has_word(const char *list, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += wl) {
        bool start = p == list || p[-1] == ' ' || p[-1] == '\t';
        bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\t';
        if (start && end) return true;
    }
    return false;
}

static void cpu_isa(json_t *cpu, const char *info)
{
    /* The ISA extensions that change what a kernel can reach: wide vectors, FMA, the matrix
     * engines (AMX, SME) and the low-precision dot products. */
    static const char *const x86[] = {
        "sse4_2",      "avx",         "avx2",        "fma",      "avx512f",  "avx512bw", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", NULL};
    static const char *const arm[] = {"asimd", "asimdhp", "sve",  "sve2", "bf16",
                                      "i8mm",  "sme",     "sme2", NULL};
    char flags[8192];
    const char *const *want = NULL;
    const char *src = NULL;
    if (cpuinfo_get(info, "flags", flags, sizeof(flags)) == 0) {
        want = x86;
        src = "/proc/cpuinfo flags";
    } else if (cpuinfo_get(info, "Features", flags, sizeof(flags)) == 0) {
        want = arm;
        src = "/proc/cpuinfo Features";
    }
    if (!want) {
        ab_field_unavailable(cpu, "isa", "no 'flags' or 'Features' line in /proc/cpuinfo");
        return;
    }
    json_t *v = json_object();
    for (size_t i = 0; want[i]; i++)
        json_object_set_new(v, want[i], json_boolean(has_word(flags, want[i])));
    ab_field_set(cpu, "isa", v, src);
    ab_field_set(cpu, "hypervisor_flag", json_boolean(has_word(flags, "hypervisor")), src);
}

static void file_field(const ab_probe_opts *o, json_t *obj, const char *key, const char *path)
{
    char buf[1024], why[AB_ERRLEN];
    if (ab_probe_read(o, path, buf, sizeof(buf), why) != 0)
        ab_field_unavailable(obj, key, "%s", why);
    else
        ab_field_str(obj, key, buf, path, "empty");
}

static void cpufreq_fields(const ab_probe_opts *o, json_t *cpu)
{
    const char *base = "/sys/devices/system/cpu/cpu0/cpufreq";
    char path[256], buf[256], why[AB_ERRLEN];
    snprintf(path, sizeof(path), "%s/scaling_driver", base);
    if (ab_probe_read(o, path, buf, sizeof(buf), why) != 0) {
        /* no cpufreq driver at all: the same reason for every frequency fact */
        char r[AB_ERRLEN + 64];
        snprintf(r, sizeof(r),
                 "%s (no cpufreq driver: frequency is managed by the hypervisor "
                 "or firmware)",
                 why);
        const char *keys[] = {"frequency_driver", "governor", "turbo", "frequency_mhz"};
        for (size_t i = 0; i < 4; i++)
            ab_field_unavailable(cpu, keys[i], "%s", r);
        return;
    }
    ab_field_str(cpu, "frequency_driver", buf, path, "empty");
    snprintf(path, sizeof(path), "%s/scaling_governor", base);
    file_field(o, cpu, "governor", path);

    /* turbo: intel_pstate says no_turbo; acpi-cpufreq and amd-pstate say boost */
    const char *no_turbo = "/sys/devices/system/cpu/intel_pstate/no_turbo";
    const char *boost[] = {"/sys/devices/system/cpu/cpufreq/boost",
                           "/sys/devices/system/cpu/cpufreq/policy0/boost"};
    if (ab_probe_read(o, no_turbo, buf, sizeof(buf), why) == 0) {
        ab_field_set(cpu, "turbo", json_string(strcmp(buf, "0") == 0 ? "enabled" : "disabled"),
                     no_turbo);
    } else {
        bool done = false;
        for (size_t i = 0; i < 2 && !done; i++)
            if (ab_probe_read(o, boost[i], buf, sizeof(buf), why) == 0) {
                ab_field_set(cpu, "turbo",
                             json_string(strcmp(buf, "1") == 0 ? "enabled" : "disabled"), boost[i]);
                done = true;
            }
        if (!done)
            ab_field_unavailable(cpu, "turbo",
                                 "neither intel_pstate/no_turbo nor cpufreq boost "
                                 "in sysfs");
    }
    char lo[64], hi[64];
    char p1[256], p2[256];
    snprintf(p1, sizeof(p1), "%s/cpuinfo_min_freq", base);
    snprintf(p2, sizeof(p2), "%s/cpuinfo_max_freq", base);
    if (ab_probe_read(o, p1, lo, sizeof(lo), why) == 0 &&
        ab_probe_read(o, p2, hi, sizeof(hi), why) == 0 && atol(hi) > 0) {
        json_t *v = json_object();
        json_object_set_new(v, "min", json_real(atol(lo) / 1000.0));
        json_object_set_new(v, "max", json_real(atol(hi) / 1000.0));
        ab_field_set(cpu, "frequency_mhz", v, base);
    } else {
        ab_field_unavailable(cpu, "frequency_mhz", "%s", why);
    }
}

static void meminfo_total(const ab_probe_opts *o, json_t *mem)
{
    char path[4096], line[256];
    ab_probe_path(o, "/proc/meminfo", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) {
        ab_field_unavailable(mem, "total_bytes", "/proc/meminfo: %s", strerror(errno));
        return;
    }
    long long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
    fclose(f);
    if (kb > 0)
        ab_field_set(mem, "total_bytes", json_integer(kb * 1024), "/proc/meminfo MemTotal");
    else
        ab_field_error(mem, "total_bytes", "no MemTotal line in /proc/meminfo");
}

/* DIMM speed from the SMBIOS type 17 (Memory Device) records the kernel exposes raw under
 * /sys/firmware/dmi/entries/17-N/raw (readable by root only). Offsets from the SMBIOS
 * specification: 0x0C size, 0x15 maximum speed, 0x20 configured speed (2.7+), 0x54/0x58 the
 * extended 32-bit speeds (3.3+) used when the 16-bit ones read 0xFFFF. */
static void dimm_speed(const ab_probe_opts *o, json_t *mem)
{
    char dirpath[4096];
    ab_probe_path(o, "/sys/firmware/dmi/entries", dirpath, sizeof(dirpath));
    DIR *d = opendir(dirpath);
    if (!d) {
        ab_field_unavailable(mem, "dimm_speed_mts",
                             "/sys/firmware/dmi/entries: %s (no SMBIOS "
                             "tables exposed)",
                             strerror(errno));
        return;
    }
    unsigned modules = 0, max_speed = 0, conf_speed = 0;
    int denied = 0, seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "17-", 3) != 0) continue;
        seen++;
        char p[4400];
        snprintf(p, sizeof(p), "%s/%s/raw", dirpath, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) {
            denied += errno == EACCES || errno == EPERM;
            continue;
        }
        unsigned char r[256];
        size_t n = fread(r, 1, sizeof(r), f);
        fclose(f);
        if (n < 0x17 || r[0] != 17) continue;
        unsigned len = r[1];
        unsigned size = (unsigned)r[0x0C] | (unsigned)r[0x0D] << 8;
        if (size == 0) continue; /* empty slot */
        modules++;
        unsigned sp = (unsigned)r[0x15] | (unsigned)r[0x16] << 8;
        if (sp == 0xFFFF && len >= 0x58 && n >= 0x58)
            sp = (unsigned)(r[0x54] | r[0x55] << 8 | r[0x56] << 16 | (unsigned)r[0x57] << 24);
        unsigned cs = 0;
        if (len >= 0x22 && n >= 0x22) cs = (unsigned)r[0x20] | (unsigned)r[0x21] << 8;
        if (cs == 0xFFFF && len >= 0x5C && n >= 0x5C)
            cs = (unsigned)(r[0x58] | r[0x59] << 8 | r[0x5A] << 16 | (unsigned)r[0x5B] << 24);
        if (sp > max_speed) max_speed = sp;
        if (cs > conf_speed) conf_speed = cs;
    }
    closedir(d);
    if (modules == 0) {
        if (denied)
            ab_field_unavailable(mem, "dimm_speed_mts", "SMBIOS memory records need root to read");
        else
            ab_field_unavailable(mem, "dimm_speed_mts", "%s",
                                 seen ? "no populated memory device "
                                        "in SMBIOS"
                                      : "no SMBIOS memory device "
                                        "records (type 17)");
        return;
    }
    if (!max_speed && !conf_speed) {
        ab_field_unavailable(mem, "dimm_speed_mts",
                             "SMBIOS reports the speed of %u modules as "
                             "unknown",
                             modules);
        return;
    }
    json_t *v = json_object();
    json_object_set_new(v, "modules", json_integer(modules));
    json_object_set_new(v, "max", max_speed ? json_integer(max_speed) : json_null());
    json_object_set_new(v, "configured", conf_speed ? json_integer(conf_speed) : json_null());
    ab_field_set(mem, "dimm_speed_mts", v, "SMBIOS type 17");
}

static void thp(const ab_probe_opts *o, json_t *mem)
{
    const char *paths[2] = {"/sys/kernel/mm/transparent_hugepage/enabled",
                            "/sys/kernel/mm/transparent_hugepage/defrag"};
    const char *keys[2] = {"transparent_hugepages", "transparent_hugepages_defrag"};
    for (int i = 0; i < 2; i++) {
        char buf[256], why[AB_ERRLEN];
        if (ab_probe_read(o, paths[i], buf, sizeof(buf), why) != 0) {
            ab_field_unavailable(mem, keys[i], "%s", why);
            continue;
        }
        /* "always [madvise] never": the bracketed word is the active setting */
        char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
        if (!l || !r) {
            ab_field_error(mem, keys[i], "unexpected contents of %s: '%s'", paths[i], buf);
            continue;
        }
        *r = '\0';
        ab_field_set(mem, keys[i], json_string(l + 1), paths[i]);
    }
}

/* DMI strings that firmware vendors leave as placeholders: recorded as unavailable rather than
 * as a meaningless value. */
static bool dmi_placeholder(const char *s)
{
    static const char *const junk[] = {"To be filled by O.E.M.",
                                       "To Be Filled By O.E.M.",
                                       "Default string",
                                       "Not Specified",
                                       "Not Applicable",
                                       "System Product Name",
                                       "System manufacturer",
                                       "None",
                                       "0123456789",
                                       "Type1ProductConfigId",
                                       NULL};
    for (size_t i = 0; junk[i]; i++)
        if (strcasecmp(s, junk[i]) == 0) return true;
    return false;
}

static void firmware(const ab_probe_opts *o, json_t *fw)
{
    static const char *const keys[] = {
        "bios_vendor",     "bios_version", "bios_date",  "sys_vendor",     "product_name",
        "product_version", "board_vendor", "board_name", "chassis_vendor", NULL};
    for (size_t i = 0; keys[i]; i++) {
        char path[128], buf[256], why[AB_ERRLEN];
        snprintf(path, sizeof(path), "/sys/class/dmi/id/%s", keys[i]);
        if (ab_probe_read(o, path, buf, sizeof(buf), why) != 0)
            ab_field_unavailable(fw, keys[i], "%s", why);
        else if (*buf && dmi_placeholder(buf))
            ab_field_unavailable(fw, keys[i], "firmware placeholder '%s'", buf);
        else
            ab_field_str(fw, keys[i], buf, path, "empty in DMI");
    }
}

/* The hypervisor as the CPU reports it: the cpuid hypervisor bit and the vendor signature of
 * leaf 0x40000000 (what lscpu and systemd-detect-virt read first). */
static int cpuid_hypervisor(char *name, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return -1;
    if (!(c & (1u << 31))) return 0;
    __cpuid(0x40000000, a, b, c, d);
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = '\0';
    static const struct {
        const char *sig, *name;
    } known[] = {{"KVMKVMKVM", "KVM"},           {"Microsoft Hv", "Hyper-V"},
                 {"VMwareVMware", "VMware"},     {"XenVMMXenVMM", "Xen"},
                 {"TCGTCGTCGTCG", "QEMU (TCG)"}, {" lrpepyh  vr", "Parallels"},
                 {"VBoxVBoxVBox", "VirtualBox"}, {"bhyve bhyve ", "bhyve"},
                 {"ACRNACRNACRN", "ACRN"},       {"QNXQVMBSQG", "QNX"}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strncmp(sig, known[i].sig, strlen(known[i].sig)) == 0) {
            ab_strlcpy(name, known[i].name, len);
            return 1;
        }
    for (int i = 0; i < 12; i++)
        if ((unsigned char)sig[i] < 32 || (unsigned char)sig[i] > 126) sig[i] = '.';
    snprintf(name, len, "unknown (cpuid signature '%s')", sig);
    return 1;
#else
    (void)name;
    (void)len;
    return -1;
#endif
}

/* Hypervisor from the DMI system vendor / product (works from fixtures and on ARM). */
static const char *dmi_hypervisor(const char *vendor, const char *product)
{
    if (strstr(vendor, "QEMU") || strstr(product, "KVM") || strstr(product, "QEMU")) return "KVM";
    if (strcmp(vendor, "Amazon EC2") == 0) return "KVM (AWS Nitro)";
    if (strcmp(vendor, "Google") == 0) return "KVM (Google Compute Engine)";
    if (strstr(vendor, "Microsoft") && strstr(product, "Virtual Machine")) return "Hyper-V";
    if (strstr(vendor, "VMware")) return "VMware";
    if (strcmp(vendor, "Xen") == 0 || strstr(product, "HVM domU")) return "Xen";
    if (strstr(vendor, "innotek") || strstr(product, "VirtualBox")) return "VirtualBox";
    if (strstr(vendor, "OpenStack") || strstr(product, "OpenStack")) return "KVM (OpenStack)";
    return NULL;
}

static void virtualization(const ab_probe_opts *o, json_t *v, const char *cpuinfo)
{
    char hv[128] = "", vendor[256] = "", product[256] = "", why[AB_ERRLEN];
    const char *src = NULL;
    int r = -1;
    if (!ab_probe_fixture(o)) {
        r = cpuid_hypervisor(hv, sizeof(hv));
        if (r >= 0) src = "cpuid leaf 1 and 0x40000000";
    }
    ab_probe_read(o, "/sys/class/dmi/id/sys_vendor", vendor, sizeof(vendor), why);
    ab_probe_read(o, "/sys/class/dmi/id/product_name", product, sizeof(product), why);
    const char *dmi = dmi_hypervisor(vendor, product);
    char xen[64];
    bool flag = false;
    char flags[8192];
    if (cpuinfo && cpuinfo_get(cpuinfo, "flags", flags, sizeof(flags)) == 0)
        flag = has_word(flags, "hypervisor");
    if (r <= 0 && dmi) {
        ab_strlcpy(hv, dmi, sizeof(hv));
        src = "/sys/class/dmi/id (sys_vendor, product_name)";
        r = 1;
    } else if (r <= 0 && ab_probe_read(o, "/sys/hypervisor/type", xen, sizeof(xen), why) == 0 &&
               *xen) {
        snprintf(hv, sizeof(hv), "%s", strcmp(xen, "xen") == 0 ? "Xen" : xen);
        src = "/sys/hypervisor/type";
        r = 1;
    } else if (r < 0 && flag) {
        ab_strlcpy(hv, "unknown (cpuinfo 'hypervisor' flag)", sizeof(hv));
        src = "/proc/cpuinfo flags";
        r = 1;
    }
    if (r > 0) {
        ab_field_set(v, "type", json_string("vm"), src);
        ab_field_set(v, "hypervisor", json_string(hv), src);
    } else if (r == 0) {
        ab_field_set(v, "type", json_string("none"), src);
        ab_field_unavailable(v, "hypervisor", "bare metal: cpuid reports no hypervisor");
    } else {
        ab_field_unavailable(v, "type", "%s and no hypervisor named in DMI or /sys/hypervisor",
                             ab_probe_fixture(o) ? "fixture replay: cpuid not read"
                                                 : "no cpuid on this architecture");
        ab_field_unavailable(v, "hypervisor", "see type");
    }

    /* Containers: the marker files Docker and Podman leave, and the cgroup path under v1. */
    char p[4096];
    struct stat st;
    const char *ct = NULL, *csrc = NULL;
    ab_probe_path(o, "/.dockerenv", p, sizeof(p));
    if (stat(p, &st) == 0) {
        ct = "docker";
        csrc = "/.dockerenv";
    }
    ab_probe_path(o, "/run/.containerenv", p, sizeof(p));
    if (!ct && stat(p, &st) == 0) {
        ct = "podman";
        csrc = "/run/.containerenv";
    }
    char cg[4096];
    if (!ct && ab_probe_read(o, "/proc/1/cgroup", cg, sizeof(cg), why) == 0) {
        if (strstr(cg, "kubepods"))
            ct = "kubernetes";
        else if (strstr(cg, "/docker"))
            ct = "docker";
        else if (strstr(cg, "/lxc"))
            ct = "lxc";
        csrc = "/proc/1/cgroup";
    }
    if (ab_probe_read(o, "/run/secrets/kubernetes.io/serviceaccount/namespace", cg, sizeof(cg),
                      why) == 0) {
        ct = "kubernetes";
        csrc = "/run/secrets/kubernetes.io";
    }
    ab_field_set(v, "container", json_string(ct ? ct : "none"),
                 csrc ? csrc : "/.dockerenv, /run/.containerenv, /proc/1/cgroup");
}

static void os_release(const ab_probe_opts *o, json_t *host)
{
    char path[4096], line[512];
    ab_probe_path(o, "/etc/os-release", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) {
        ab_field_unavailable(host, "os", "/etc/os-release: %s", strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12;
            ab_trim(v);
            size_t n = strlen(v);
            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v[n - 1] = '\0';
                v++;
            }
            fclose(f);
            ab_field_str(host, "os", v, "/etc/os-release", "empty PRETTY_NAME");
            return;
        }
    }
    fclose(f);
    ab_field_unavailable(host, "os", "no PRETTY_NAME in /etc/os-release");
}

/* The kernel parameters that change performance (mitigations, isolation, huge pages, IOMMU,
 * frequency drivers). Only these: the full command line can carry site secrets. */
static void kernel_params(const ab_probe_opts *o, json_t *host)
{
    static const char *const keep[] = {"mitigations",
                                       "isolcpus",
                                       "nohz_full",
                                       "rcu_nocbs",
                                       "hugepages",
                                       "hugepagesz",
                                       "default_hugepagesz",
                                       "transparent_hugepage",
                                       "intel_pstate",
                                       "amd_pstate",
                                       "iommu",
                                       "intel_iommu",
                                       "amd_iommu",
                                       "processor.max_cstate",
                                       "intel_idle.max_cstate",
                                       "idle",
                                       "numa_balancing",
                                       "nosmt",
                                       "pcie_aspm",
                                       NULL};
    char buf[4096], why[AB_ERRLEN];
    if (ab_probe_read(o, "/proc/cmdline", buf, sizeof(buf), why) != 0) {
        ab_field_unavailable(host, "kernel_params", "%s", why);
        return;
    }
    json_t *v = json_object();
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        if (strcmp(tok, "--") == 0) break; /* what follows belongs to init, not the kernel */
        char *eq = strchr(tok, '=');
        if (eq) *eq = '\0';
        for (size_t i = 0; keep[i]; i++)
            if (strcmp(tok, keep[i]) == 0)
                json_object_set_new(v, tok, json_string(eq ? eq + 1 : ""));
    }
    ab_field_set(host, "kernel_params", v, "/proc/cmdline (performance-relevant parameters only)");
}

json_t *ab_probe_host(const ab_probe_opts *o, ab_topo *topo, const char *topo_why)
{
    json_t *host = json_object(), *cpu = json_object(), *mem = json_object();
    json_t *fw = json_object(), *virt = json_object();
    bool fixture = ab_probe_fixture(o);

    file_field(o, host, "hostname", "/proc/sys/kernel/hostname");
    os_release(o, host);
    file_field(o, host, "kernel", "/proc/sys/kernel/osrelease");
    kernel_params(o, host);
    struct utsname u;
    if (fixture)
        ab_field_unavailable(host, "arch", "fixture replay: uname describes this machine");
    else if (uname(&u) == 0)
        ab_field_set(host, "arch", json_string(u.machine), "uname");
    else
        ab_field_error(host, "arch", "uname: %s", strerror(errno));

    char info[16384], why[AB_ERRLEN];
    bool have_info = read_cpuinfo(o, info, sizeof(info), why) == 0;
    char buf[512];
    if (!have_info) {
        const char *keys[] = {"model", "vendor", "microcode", "isa"};
        for (size_t i = 0; i < 4; i++)
            ab_field_unavailable(cpu, keys[i], "%s", why);
    } else {
        if (cpuinfo_get(info, "model name", buf, sizeof(buf)) == 0)
            ab_field_str(cpu, "model", buf, "/proc/cpuinfo", "empty model name");
        else
            ab_field_unavailable(cpu, "model", "no 'model name' in /proc/cpuinfo");
        if (cpuinfo_get(info, "vendor_id", buf, sizeof(buf)) == 0 ||
            cpuinfo_get(info, "CPU implementer", buf, sizeof(buf)) == 0)
            ab_field_str(cpu, "vendor", buf, "/proc/cpuinfo", "empty vendor");
        else
            ab_field_unavailable(cpu, "vendor", "no vendor_id in /proc/cpuinfo");
        if (cpuinfo_get(info, "microcode", buf, sizeof(buf)) == 0)
            ab_field_str(cpu, "microcode", buf, "/proc/cpuinfo", "empty microcode");
        else if (ab_probe_read(o, "/sys/devices/system/cpu/cpu0/microcode/version", buf,
                               sizeof(buf), why) == 0)
            ab_field_str(cpu, "microcode", buf, "/sys/devices/system/cpu/cpu0/microcode/version",
                         "empty");
        else
            ab_field_unavailable(cpu, "microcode", "no 'microcode' in /proc/cpuinfo and %s", why);
        cpu_isa(cpu, info);
    }
    if (topo) {
        ab_topo_cpu_fields(topo, cpu, mem);
    } else {
        const char *keys[] = {"sockets", "numa_nodes", "cores", "pus", "caches"};
        for (size_t i = 0; i < 5; i++)
            ab_field_unavailable(cpu, keys[i], "%s", topo_why);
        ab_field_unavailable(mem, "numa_nodes", "%s", topo_why);
    }
    if (fixture) {
        ab_field_unavailable(cpu, "cores_in_affinity",
                             "fixture replay: the affinity mask is "
                             "this process's");
    } else {
        int cpus[AB_MAX_CPUS];
        int n = ab_host_core_cpus(cpus, AB_MAX_CPUS);
        if (n > 0)
            ab_field_set(cpu, "cores_in_affinity", json_integer(n),
                         "sched_getaffinity + sysfs core ids");
        else
            ab_field_error(cpu, "cores_in_affinity", "sched_getaffinity failed");
    }
    cpufreq_fields(o, cpu);

    meminfo_total(o, mem);
    dimm_speed(o, mem);
    thp(o, mem);
    firmware(o, fw);
    virtualization(o, virt, have_info ? info : NULL);

    json_object_set_new(host, "cpu", cpu);
    json_object_set_new(host, "memory", mem);
    json_object_set_new(host, "firmware", fw);
    json_object_set_new(host, "virtualization", virt);
    return host;
}
