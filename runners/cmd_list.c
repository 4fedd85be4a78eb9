/* SPDX-License-Identifier: MIT */
/* accelbench list: what this build has and what this machine offers. */
#include "../backends/registry.h"
#include "../core/ab.h"
#include "../suites/suite.h"
#include "commands.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void list_usage(FILE *f)
{
    fputs("usage: accelbench list [--json]\n"
          "\n"
          "Lists backends (built, available, and why not), devices with name, memory and compute\n"
          "units, and suites with their case keys and parameters.\n"
          "\n"
          "  --json   the same as one JSON object on stdout\n"
          "  --help   this text\n",
          f);
}

static json_t *device_json(const ab_device *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "backend", json_string(d->backend->name));
    json_object_set_new(o, "name", json_string(d->info.name));
    json_object_set_new(o, "vendor", json_string(d->info.vendor));
    json_object_set_new(o, "driver", json_string(d->info.driver));
    json_object_set_new(o, "arch", json_string(d->info.arch));
    if (*d->info.pci_bus_id)
        json_object_set_new(o, "pci_bus_id", json_string(d->info.pci_bus_id));
    json_object_set_new(o, "memory_bytes", json_integer((json_int_t)d->info.mem_bytes));
    json_object_set_new(o, "cache_bytes", json_integer((json_int_t)d->info.cache_bytes));
    json_object_set_new(o, "compute_units", json_integer(d->info.compute_units));
    json_object_set_new(o, "clock_mhz", json_integer(d->info.clock_mhz));
    json_object_set_new(o, "host_memory", json_boolean(d->info.host_memory));
    json_object_set_new(o, "fp64", json_boolean(d->info.fp64));
    return o;
}

json_t *ab_platform_json_backends(const ab_platform *p);
json_t *ab_platform_json_backends(const ab_platform *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->nbackends; i++) {
        const ab_backend_entry *e = &p->backends[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(e->name));
        json_object_set_new(o, "built", json_boolean(e->built));
        json_object_set_new(o, "available", json_boolean(e->available));
        json_object_set_new(o, "reason", e->available ? json_null() : json_string(e->reason));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *ab_platform_json_devices(const ab_platform *p);
json_t *ab_platform_json_devices(const ab_platform *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->ndevices; i++)
        json_array_append_new(a, device_json(&p->devices[i]));
    return a;
}

static json_t *suites_json(void)
{
    json_t *a = json_array();
    for (const ab_suite *const *s = ab_suites(); *s; s++) {
        json_t *o = json_object(), *keys = json_array(), *params = json_array();
        json_object_set_new(o, "name", json_string((*s)->name));
        json_object_set_new(o, "summary", json_string((*s)->summary));
        for (size_t k = 0; (*s)->keys[k]; k++)
            json_array_append_new(keys, json_string((*s)->keys[k]));
        for (size_t k = 0; (*s)->params[k].name; k++) {
            json_t *p = json_object();
            json_object_set_new(p, "name", json_string((*s)->params[k].name));
            json_object_set_new(p, "help", json_string((*s)->params[k].help));
            json_array_append_new(params, p);
        }
        json_object_set_new(o, "keys", keys);
        json_object_set_new(o, "params", params);
        json_array_append_new(a, o);
    }
    return a;
}

int ab_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool as_json = false;
    int c;
    opterr = 0;
    optind = 1;
    ab_optseen seen = {0};
    while ((c = ab_getopt(argc, argv, ":h", opts, NULL, &seen)) != -1) {
        switch (c) {
        case AB_OPT_TWICE: return ab_usage_error("list", "%s given twice", seen.name);
        case 'j': as_json = true; break;
        case 'h': list_usage(stdout); return AB_EXIT_OK;
        default: return ab_usage_error("list", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ab_usage_error("list", "unexpected argument '%s'", argv[optind]);
    ab_platform p;
    char err[AB_ERRLEN];
    if (ab_platform_init(&p, err) != 0) {
        fprintf(stderr, "accelbench list: %s\n", err);
        return AB_EXIT_FAIL;
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "backends", ab_platform_json_backends(&p));
        json_object_set_new(o, "devices", ab_platform_json_devices(&p));
        json_object_set_new(o, "suites", suites_json());
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        ab_platform_fini(&p);
        return AB_EXIT_OK;
    }
    puts("backends:");
    for (size_t i = 0; i < p.nbackends; i++) {
        const ab_backend_entry *e = &p.backends[i];
        if (e->available)
            printf("  %-7s available\n", e->name);
        else if (!e->built)
            printf("  %-7s %s\n", e->name, e->reason);
        else
            printf("  %-7s unavailable (%s)\n", e->name, e->reason);
    }
    puts("devices:");
    for (size_t i = 0; i < p.ndevices; i++) {
        const ab_device *d = &p.devices[i];
        char mem[32], cache[32];
        ab_format_bytes(d->info.mem_bytes, mem, sizeof(mem));
        ab_format_bytes(d->info.cache_bytes, cache, sizeof(cache));
        printf("  %-9s %-40s %12s  %4d %s  last-level cache %s\n", d->id, d->info.name, mem,
               d->info.compute_units,
               d->info.kind == AB_KIND_HOST ? "cores" : "CUs  ", cache);
    }
    if (!p.ndevices)
        puts("  (none)");
    puts("suites:");
    for (const ab_suite *const *s = ab_suites(); *s; s++) {
        printf("  %-9s %s\n    keys:", (*s)->name, (*s)->summary);
        for (size_t k = 0; (*s)->keys[k]; k++)
            printf(" %s", (*s)->keys[k]);
        puts("");
        for (size_t k = 0; (*s)->params[k].name; k++)
            printf("    --%-16s %s\n", (*s)->params[k].name, (*s)->params[k].help);
    }
    ab_platform_fini(&p);
    return AB_EXIT_OK;
}
