/* SPDX-License-Identifier: MIT */
/* Node-scope suites: the devices of one backend grouped, opened and handed to run() at once. */
#include "node_run.h"

#include <stdlib.h>
#include <string.h>

bool ab_node_device_selected(char *const *sel, const char *id)
{
    if (!sel) return true;
    for (size_t i = 0; sel[i]; i++)
        if (strcmp(sel[i], "all") == 0 || strcmp(sel[i], id) == 0) return true;
    return false;
}

size_t ab_node_group(ab_platform *p, const ab_backend_entry *be, char *const *sel,
                     const ab_suite_ctx *tmpl, ab_device **devs, bool *emit_failed)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ndevices; i++) {
        ab_device *d = &p->devices[i];
        if (d->backend != be || !ab_node_device_selected(sel, d->id)) continue;
        char err[AB_ERRLEN] = "";
        if (ab_device_open(d, err) == 0) {
            devs[n++] = d;
            continue;
        }
        ab_suite_ctx one = *tmpl;
        one.dev = d;
        one.devices = NULL;
        one.ndevices = 0;
        ab_result *r = ab_suite_result(&one, tmpl->suite->name, "none");
        if (r) ab_result_set_status(r, AB_ERROR, "cannot open device: %s", err);
        if (ab_emit(&one, r) != 0) *emit_failed = true;
    }
    return n;
}

int ab_node_run(ab_platform *p, char *const *sel, const ab_suite_ctx *tmpl)
{
    ab_device **devs = calloc(p->ndevices ? p->ndevices : 1, sizeof(*devs));
    if (!devs) return -1;
    int rc = 0;
    for (size_t b = 0; b < p->nbackends && rc == 0 && !ab_interrupted(); b++) {
        const ab_backend_entry *be = &p->backends[b];
        if (!be->available) continue;
        bool failed = false;
        size_t n = ab_node_group(p, be, sel, tmpl, devs, &failed);
        if (failed) {
            rc = -1;
            break;
        }
        if (!n) continue;
        ab_suite_ctx ctx = *tmpl;
        ctx.dev = devs[0];
        ctx.devices = devs;
        ctx.ndevices = n;
        rc = tmpl->suite->run(&ctx);
    }
    free(devs);
    return rc;
}
