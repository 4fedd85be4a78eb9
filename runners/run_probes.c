/* SPDX-License-Identifier: MIT */
#include "run_probes.h"

#include "../backends/registry.h"
#include "../core/ab.h"
#include "../probes/counters.h"
#include "../probes/cpupower.h"
#include "../probes/gpumgmt.h"
#include "../probes/probe.h"
#include "../probes/sampler.h"
#include "../probes/topo.h"

#include <string.h>

#define SAMPLER_PERIOD_S 0.05 /* 20 Hz: twice the 10 Hz the method asks for */

static bool selected_dev(char *const *sel, const char *id)
{
    if (!sel) return true;
    for (size_t i = 0; sel[i]; i++)
        if (strcmp(sel[i], "all") == 0 || strcmp(sel[i], id) == 0) return true;
    return false;
}

static void annotate_manifest(json_t *manifest, const ab_platform *p)
{
    json_t *acc = json_object_get(manifest, "accelerators");
    size_t i;
    json_t *a;
    json_array_foreach(acc, i, a)
    {
        const char *bus = json_string_value(json_object_get(a, "pci_bus_id"));
        json_t *ids = json_array();
        for (size_t k = 0; bus && k < p->ndevices; k++) {
            char canon[32];
            ab_pci_canon(p->devices[k].info.pci_bus_id, canon, sizeof(canon));
            if (*canon && strcmp(canon, bus) == 0)
                json_array_append_new(ids, json_string(p->devices[k].id));
        }
        json_object_set_new(a, "devices", ids);
    }
}

void ab_run_probes_init(ab_run_probes *rp, ab_platform *p, char *const *selected, json_t *manifest)
{
    memset(rp, 0, sizeof(*rp));
    rp->wall_minus_mono = ab_wall_time() - ab_now();
    rp->have_orig = sched_getaffinity(0, sizeof(rp->orig), &rp->orig) == 0;
    rp->affinity = json_object();
    ab_probe_opts o;
    ab_probe_opts_env(&o);
    rp->topo = ab_topo_load(o.topology, rp->topo_why);
    if (manifest) annotate_manifest(manifest, p);

    rp->sampler = ab_sampler_new(SAMPLER_PERIOD_S, 0);
    if (!rp->sampler) return;
    for (size_t i = 0; i < p->ndevices; i++) {
        const ab_device *d = &p->devices[i];
        if (!selected_dev(selected, d->id)) continue;
        ab_sample_source src;
        char why[AB_ERRLEN] = "", err[AB_ERRLEN];
        int rc = -1;
        switch (d->info.sampler) {
        case AB_SAMPLER_HOST_CPU: {
            /* the cores the CPU backend's team runs on: it picks them the same way */
            int cpus[AB_MAX_CPUS];
            int n = ab_host_core_cpus(cpus, AB_MAX_CPUS);
            rc = ab_cpu_source(&o, cpus, n, &src, why);
            break;
        }
        case AB_SAMPLER_NVML: rc = ab_nvml_source(d->info.pci_bus_id, &src, why); break;
        case AB_SAMPLER_ROCM_SMI: rc = ab_rsmi_source(d->info.pci_bus_id, &src, why); break;
        case AB_SAMPLER_NONE:
        default:
            snprintf(why, sizeof(why),
                     "no sampler source for %s devices (a GPU behind OpenCL is "
                     "sampled under its cuda/hip id)",
                     d->backend->name);
            break;
        }
        if (rc == 0 && ab_sampler_add(rp->sampler, d->id, &src, err) != 0) {
            src.close(src.ctx);
            snprintf(why, sizeof(why), "%s", err);
            rc = -1;
        }
        if (rc != 0) {
            ab_sampler_add_missing(rp->sampler, d->id, why);
            ab_log(AB_LOG_DEBUG, "sampler: %s: %s", d->id, why);
        }
    }
    char err[AB_ERRLEN];
    if (ab_sampler_start(rp->sampler, err) != 0) ab_log(AB_LOG_WARN, "sampler: %s", err);
}

static void pin(ab_run_probes *rp, const char *id, const cpu_set_t *set, const char *cpus,
                const char *reason)
{
    if (sched_setaffinity(0, sizeof(*set), set) != 0) {
        ab_log(AB_LOG_WARN, "%s: cannot pin the host thread to %s", id, cpus);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "cpus", json_string(cpus));
    json_object_set_new(o, "reason", json_string(reason));
    json_object_set_new(rp->affinity, id, o);
    ab_log(AB_LOG_DEBUG, "%s: host thread pinned to CPUs %s (%s)", id, cpus, reason);
}

static void set_to_list(const cpu_set_t *s, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n + 16 < len; c++) {
        if (!CPU_ISSET(c, s)) continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, s))
            e++;
        n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
        if (e > c) n += (size_t)snprintf(buf + n, len - n, "-%d", e);
        c = e;
    }
}

void ab_run_probes_before_device(ab_run_probes *rp, ab_device *d)
{
    char list[512];
    const ab_backend_ops *ops = d->backend->ops;
    if (ops->host_cpu) {
        /* a device whose kernels run on the calling thread (the CPU backend pins the main
         * thread as team thread 0 when it opens): after a GPU moved it, put it back there */
        int cpu = d->h ? ops->host_cpu(d->h) : -1;
        if (cpu >= 0) {
            cpu_set_t s;
            CPU_ZERO(&s);
            CPU_SET(cpu, &s);
            set_to_list(&s, list, sizeof(list));
            pin(rp, d->id, &s, list, "CPU team thread 0");
        }
        return;
    }
    ab_locality loc;
    char why[AB_ERRLEN] = "";
    if (*d->info.pci_bus_id && rp->topo &&
        ab_topo_pci_locality(rp->topo, d->info.pci_bus_id, &loc, why) == 0) {
        cpu_set_t s;
        if (rp->have_orig)
            CPU_AND(&s, &loc.set, &rp->orig);
        else
            s = loc.set;
        if (CPU_COUNT(&s) > 0) {
            char reason[256];
            set_to_list(&s, list, sizeof(list));
            snprintf(reason, sizeof(reason), "nearest to PCI %s (%s, NUMA node%s %s, hwloc)",
                     d->info.pci_bus_id, loc.where, strchr(loc.numa_nodes, '-') ? "s" : "",
                     *loc.numa_nodes ? loc.numa_nodes : "?");
            pin(rp, d->id, &s, list, reason);
            return;
        }
        snprintf(why, sizeof(why),
                 "the CPUs near PCI %s (%s) are outside this process's "
                 "affinity",
                 d->info.pci_bus_id, loc.cpus);
    } else if (!*why) {
        snprintf(why, sizeof(why), "%s",
                 !*d->info.pci_bus_id ? "device has no PCI bus id" : rp->topo_why);
    }
    /* no locality: the whole original mask (undoing a previous device's pinning) */
    if (rp->have_orig) {
        set_to_list(&rp->orig, list, sizeof(list));
        char reason[AB_ERRLEN + 64];
        snprintf(reason, sizeof(reason), "process affinity (no locality: %s)", why);
        pin(rp, d->id, &rp->orig, list, reason);
    }
}

void ab_run_probes_attach(ab_run_probes *rp, ab_platform *p, ab_result *r)
{
    if (!r->device || r->nmetrics == 0 || r->status == AB_SKIP || !(r->time_spent > 0)) return;
    double t0 = r->started - rp->wall_minus_mono, t1 = t0 + r->time_spent;
    if (!r->extra) r->extra = json_object();
    if (rp->sampler && ab_sampler_has(rp->sampler, r->device)) {
        ab_sampler_poll(rp->sampler, r->device); /* a sample after the window's end */
        json_t *s = ab_sampler_summary(rp->sampler, r->device, t0, t1);
        if (s) json_object_set_new(r->extra, "sampler", s);
    }
    ab_device *d = ab_platform_device(p, r->device);
    if (d && d->h && d->backend->ops->counters) {
        const char *why = "";
        ab_counters *c = d->backend->ops->counters(d->h, &why);
        json_object_set_new(r->extra, "counters",
                            c ? ab_counters_summary(c, t0, t1) : ab_counters_missing(why));
    }
    json_t *aff = json_object_get(rp->affinity, r->device);
    if (aff) json_object_set(r->extra, "host_affinity", aff);
}

void ab_run_probes_fini(ab_run_probes *rp)
{
    ab_sampler_free(rp->sampler);
    ab_topo_free(rp->topo);
    json_decref(rp->affinity);
    memset(rp, 0, sizeof(*rp));
}
