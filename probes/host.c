/* SPDX-License-Identifier: MIT */
#include "probe.h"

#include "../backends/cpu.h"
#include "../core/ab.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

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
    int cpus[AB_CPU_MAX_THREADS];
    json_object_set_new(o, "cores_in_affinity", json_integer(ab_cpu_pick_cpus(cpus, AB_CPU_MAX_THREADS)));
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        json_object_set_new(o, "memory_bytes", json_integer((json_int_t)pages * psz));
    else
        set_unavailable(o, "memory_bytes", "sysconf(_SC_PHYS_PAGES) failed");
    return o;
}
