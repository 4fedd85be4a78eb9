/* SPDX-License-Identifier: MIT */
/*
 * Node-scope suites (ab_suite.scope == AB_SCOPE_NODE, suites/suite.h): instead of once per
 * device, such a suite runs once per backend over the list of that backend's selected devices
 * (collectives over every GPU of the node, peer copies between them). The runner groups the
 * devices here and hands each group to the suite's run() in ctx->devices.
 */
#ifndef AB_NODE_RUN_H
#define AB_NODE_RUN_H

#include "../suites/suite.h"

/* True when device id `id` is named by the --device list `sel` (NULL or "all": every one). */
bool ab_node_device_selected(char *const *sel, const char *id);

/* The selected devices of backend `be` in platform order, opened: fills devs (room for
 * p->ndevices) and returns how many. A device that does not open is left out and reported
 * through tmpl->emit as one error result (key = the suite's name, impl "none"); *emit_failed is
 * set when such a result could not be recorded. */
size_t ab_node_group(ab_platform *p, const ab_backend_entry *be, char *const *sel,
                     const ab_suite_ctx *tmpl, ab_device **devs, bool *emit_failed);

/* Runs the node-scope suite tmpl->suite once per available backend that has a selected device,
 * with a copy of tmpl (opt, emit, runner, manifest, energy) whose dev, devices and ndevices
 * name that group. Returns -1 when a result could not be recorded (the run stops), else 0. */
int ab_node_run(ab_platform *p, char *const *sel, const ab_suite_ctx *tmpl);

#endif
