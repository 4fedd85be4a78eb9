/* SPDX-License-Identifier: MIT */
/* The manifest: every probe's section in one object, and its human rendering. */
#include "probe.h"

#include "../core/ab.h"
#include "topo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A vendor section whose every key is unavailable for one reason (fixture replays). */
static json_t *skipped(const char *const *keys, const char *why)
{
    json_t *o = json_object();
    for (size_t i = 0; keys[i]; i++)
        ab_field_unavailable(o, keys[i], "%s", why);
    return o;
}

json_t *ab_manifest(const ab_probe_opts *o)
{
    ab_probe_opts def;
    if (!o) {
        ab_probe_opts_env(&def);
        o = &def;
    }
    double t0 = ab_now();
    json_t *m = json_object();
    json_object_set_new(m, "schema", json_string(AB_MANIFEST_SCHEMA));
    json_object_set_new(m, "schema_version", json_integer(AB_MANIFEST_VERSION));
    char ts[64];
    ab_format_utc(ab_wall_time(), ts, sizeof(ts));
    json_object_set_new(m, "probed_at", json_string(ts));
    json_object_set_new(m, "accelbench_version", json_string(AB_VERSION));
    if (ab_probe_fixture(o) || o->topology) {
        json_t *rep = json_object();
        json_object_set_new(rep, "root", o->root ? json_string(o->root) : json_null());
        json_object_set_new(rep, "topology", o->topology ? json_string(o->topology) : json_null());
        json_object_set_new(m, "replay", rep);
    }

    char twhy[AB_ERRLEN] = "";
    ab_topo *topo = ab_topo_load(o->topology, twhy);
    json_object_set_new(m, "host", ab_probe_host(o, topo, twhy));
    json_object_set_new(m, "cloud", ab_probe_cloud(o));
    json_object_set_new(m, "accelerators", ab_probe_accelerators(o, topo, twhy));
    ab_topo_free(topo);

    if (o->no_vendor || ab_probe_fixture(o)) {
        const char *why = "not probed: fixture replay (vendor libraries describe this machine)";
        static const char *const nv[] = {"library",      "driver_version", "cuda_driver_version",
                                         "nvml_version", "devices",        NULL};
        static const char *const rs[] = {"library", "driver_version", "rocm_smi_version", "devices",
                                         NULL};
        static const char *const cl[] = {"platforms", NULL};
        static const char *const ev[] = {"events", NULL};
        json_object_set_new(m, "nvml", skipped(nv, why));
        json_object_set_new(m, "rocm_smi", skipped(rs, why));
        json_object_set_new(m, "opencl", skipped(cl, why));
        json_t *c = json_object();
        json_object_set_new(c, "papi", skipped(ev, why));
        json_object_set_new(m, "counters", c);
    } else {
        json_object_set_new(m, "nvml", ab_probe_nvml());
        json_object_set_new(m, "rocm_smi", ab_probe_rocm_smi());
        json_object_set_new(m, "opencl", ab_probe_opencl());
        json_object_set_new(m, "counters", ab_probe_counters());
    }
    json_object_set_new(m, "power", ab_probe_power(o));
    json_object_set_new(m, "probe_time_s", json_real(ab_now() - t0));
    return m;
}

/* ---- human rendering ---- */

static void scalar(const json_t *v, FILE *f)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), f);
        break;
    case JSON_INTEGER:
        fprintf(f, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        fprintf(f, "%.6g", json_real_value(v));
        break;
    case JSON_TRUE:
        fputs("yes", f);
        break;
    case JSON_FALSE:
        fputs("no", f);
        break;
    case JSON_NULL:
        fputs("-", f);
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT);
        fputs(s ? s : "?", f);
        free(s);
    }
    }
}

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

static void value(const char *key, const json_t *v, FILE *f)
{
    if (strcmp(key, "nvlink") == 0 && json_is_array(v)) {
        size_t i, active = 0;
        json_t *l;
        long long ver = 0;
        json_array_foreach(v, i, l)
        {
            active += json_is_true(json_object_get(l, "active"));
            if (json_integer_value(json_object_get(l, "version")) > ver)
                ver = json_integer_value(json_object_get(l, "version"));
        }
        fprintf(f, "%zu links, %zu active", json_array_size(v), active);
        if (ver) fprintf(f, ", NVLink version %lld", ver);
        return;
    }
    if (strcmp(key, "caches") == 0 && json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            char b[32];
            ab_format_bytes((uint64_t)json_integer_value(json_object_get(c, "size_bytes")), b,
                            sizeof(b));
            const char *t = json_string_value(json_object_get(c, "type"));
            fprintf(f, "%sL%lld%s %s x%lld", i ? ", " : "",
                    (long long)json_integer_value(json_object_get(c, "level")),
                    strcmp(t, "data") == 0          ? "d"
                    : strcmp(t, "instruction") == 0 ? "i"
                                                    : "",
                    b, (long long)json_integer_value(json_object_get(c, "instances")));
        }
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (i) fputs(", ", f);
            scalar(e, f);
        }
        if (!json_array_size(v)) fputs("none", f);
        return;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        bool first = true;
        json_object_foreach((json_t *)v, k, e)
        {
            /* boolean maps (ISA flags) list only what is present */
            if (json_is_boolean(e) && strcmp(key, "isa") == 0) {
                if (json_is_true(e)) {
                    fprintf(f, "%s%s", first ? "" : " ", k);
                    first = false;
                }
                continue;
            }
            fprintf(f, "%s%s=", first ? "" : ", ", k);
            scalar(e, f);
            first = false;
        }
        return;
    }
    scalar(v, f);
}

static void print_obj(const json_t *o, int indent, FILE *f);

static void print_entry(const char *key, const json_t *v, int indent, FILE *f)
{
    const char *st = ab_field_status(v);
    if (st && json_object_get(v, "status") &&
        (json_object_get(v, "value") || json_object_get(v, "reason"))) {
        fprintf(f, "%*s%-22s ", indent, "", key);
        if (strcmp(st, "ok") == 0) {
            const json_t *val = json_object_get(v, "value");
            /* a list of objects (devices, platforms) is printed as nested blocks */
            if (json_is_array(val) && json_array_size(val) &&
                json_is_object(json_array_get(val, 0)) && strcmp(key, "caches") != 0 &&
                strcmp(key, "nvlink") != 0) {
                fputc('\n', f);
                size_t i;
                json_t *e;
                json_array_foreach(val, i, e)
                {
                    fprintf(f, "%*s[%zu]\n", indent + 2, "", i);
                    print_obj(e, indent + 4, f);
                }
                return;
            }
            if (json_is_object(val) && !is_scalar(val)) {
                bool nested = false;
                const char *k;
                json_t *e;
                json_object_foreach((json_t *)val, k, e) nested |= ab_field_status(e) != NULL;
                if (nested) {
                    fputc('\n', f);
                    print_obj(val, indent + 2, f);
                    return;
                }
            }
            value(key, val, f);
        } else {
            fprintf(f, "%s (%s)", st, json_string_value(json_object_get(v, "reason")));
        }
        fputc('\n', f);
        return;
    }
    if (json_is_object(v)) {
        fprintf(f, "%*s%s\n", indent, "", key);
        print_obj(v, indent + 2, f);
    } else if (json_is_array(v)) {
        fprintf(f, "%*s%s%s\n", indent, "", key, json_array_size(v) ? "" : ": none");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            fprintf(f, "%*s[%zu]\n", indent + 2, "", i);
            if (json_is_object(e)) print_obj(e, indent + 4, f);
        }
    } else {
        fprintf(f, "%*s%-22s ", indent, "", key);
        scalar(v, f);
        fputc('\n', f);
    }
}

static void print_obj(const json_t *o, int indent, FILE *f)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) print_entry(k, v, indent, f);
}

void ab_manifest_print(const json_t *m, FILE *f)
{
    static const struct {
        const char *key, *title;
    } sections[] = {{"host", "Host"},
                    {"cloud", "Cloud (DMI and local files only)"},
                    {"accelerators", "Accelerators (PCI, link, locality)"},
                    {"nvml", "NVIDIA (NVML)"},
                    {"rocm_smi", "AMD (ROCm SMI)"},
                    {"opencl", "OpenCL"},
                    {"counters", "Counters"},
                    {"power", "Power and clock sampling"}};
    fprintf(f, "accelbench probe: manifest %s v%lld, probed %s in %.2f s\n",
            json_string_value(json_object_get(m, "schema")),
            (long long)json_integer_value(json_object_get(m, "schema_version")),
            json_string_value(json_object_get(m, "probed_at")),
            json_real_value(json_object_get(m, "probe_time_s")));
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const json_t *s = json_object_get(m, sections[i].key);
        fprintf(f, "\n%s\n", sections[i].title);
        if (json_is_array(s)) {
            if (!json_array_size(s)) fputs("  none found\n", f);
            size_t k;
            json_t *e;
            json_array_foreach(s, k, e)
            {
                fprintf(f, "  [%zu]\n", k);
                print_obj(e, 4, f);
            }
        } else if (s) {
            print_obj(s, 2, f);
        }
    }
}
