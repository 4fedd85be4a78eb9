/* SPDX-License-Identifier: MIT */
/* Node-scope suites (runners/node_run.c) on a synthetic suite and a fake platform in process:
 * devices grouped by backend in platform order, the --device selection, a device that does not
 * open, unavailable backends, the `devices` param of every result, a failing emit. */
#include <criterion/criterion.h>
#include <string.h>

#include "runners/node_run.h"

static int fake_open(void *be, int idx, void **dev, char *err)
{
    (void)be;
    if (idx == 2) /* fake:2 is broken */
        return ab_err(err, "device %d is wedged", idx);
    static int handles[8];
    *dev = &handles[idx];
    return 0;
}

static const ab_backend_ops fake_ops = {.name = "fake", .open = fake_open};
static const ab_backend_ops other_ops = {.name = "other", .open = fake_open};

/* every call of the suite's run(): how many devices, which */
static char calls[8][128];
static size_t ncalls;
static ab_result *got[16];
static size_t ngot;
static bool refuse_emit;

static int synth_run(ab_suite_ctx *ctx)
{
    cr_assert_lt(ncalls, 8);
    cr_assert_eq(ctx->dev, ctx->devices[0], "dev is the group's first device");
    char *b = calls[ncalls++];
    b[0] = 0;
    for (size_t i = 0; i < ctx->ndevices; i++) {
        cr_expect_not_null(ctx->devices[i]->h, "%s handed over unopened", ctx->devices[i]->id);
        cr_expect_eq(ctx->devices[i]->backend, ctx->dev->backend, "one backend per group");
        strcat(b, ctx->devices[i]->id);
        strcat(b, " ");
    }
    ab_result *r = ab_suite_result(ctx, "synth.all", "x");
    ab_result_set_status(r, AB_PASS, NULL);
    return ab_emit(ctx, r);
}

static const char *const keys[] = {"synth.all", NULL};
static const ab_param_desc no_params[] = {{NULL, NULL, NULL}};
static const ab_suite synth = {
    .name = "synth", .keys = keys, .params = no_params, .run = synth_run, .scope = AB_SCOPE_NODE};

static int collect(ab_suite_ctx *ctx, ab_result *r)
{
    (void)ctx;
    if (refuse_emit) {
        ab_result_free(r);
        return -1;
    }
    cr_assert_lt(ngot, 16);
    got[ngot++] = r;
    return 0;
}

static ab_backend_entry backends[3];
static ab_device devices[6];
static ab_platform plat;

/* fake:0..3 (fake:2 does not open), other:0..1, and an unavailable backend with a device */
static void make_platform(void)
{
    memset(backends, 0, sizeof(backends));
    memset(devices, 0, sizeof(devices));
    backends[0] =
        (ab_backend_entry){.name = "fake", .built = true, .available = true, .ops = &fake_ops};
    backends[1] =
        (ab_backend_entry){.name = "gone", .built = true, .available = false, .ops = &fake_ops};
    backends[2] =
        (ab_backend_entry){.name = "other", .built = true, .available = true, .ops = &other_ops};
    const int be_of[6] = {0, 2, 0, 0, 2, 0}; /* interleaved: grouping must not rely on order */
    const int idx_of[6] = {0, 0, 1, 2, 1, 3};
    for (int i = 0; i < 6; i++) {
        ab_device *d = &devices[i];
        d->backend = &backends[be_of[i]];
        d->index = idx_of[i];
        snprintf(d->id, sizeof(d->id), "%s:%d", d->backend->name, d->index);
    }
    plat = (ab_platform){.backends = backends, .nbackends = 3, .devices = devices, .ndevices = 6};
    for (size_t i = 0; i < ngot; i++)
        ab_result_free(got[i]);
    ngot = ncalls = 0;
    refuse_emit = false;
}

static int run_node(char **sel)
{
    ab_options o = {.profile = "quick"};
    ab_suite_ctx tmpl = {.opt = &o, .suite = &synth, .emit = collect};
    return ab_node_run(&plat, sel, &tmpl);
}

static const char *param(const ab_result *r, const char *name)
{
    return json_string_value(json_object_get(r->params, name));
}

Test(node, one_call_per_backend_over_its_devices)
{
    make_platform();
    cr_assert_eq(run_node(NULL), 0);
    cr_assert_eq(ncalls, 2);
    cr_expect_str_eq(calls[0], "fake:0 fake:1 fake:3 ");
    cr_expect_str_eq(calls[1], "other:0 other:1 ");
    /* fake:2's open error, then one result per group, each naming the devices involved */
    cr_assert_eq(ngot, 3);
    cr_expect_str_eq(got[0]->device, "fake:2");
    cr_expect_eq(got[0]->status, AB_ERROR);
    cr_expect(strstr(got[0]->reason, "cannot open device: device 2 is wedged"), "%s",
              got[0]->reason);
    cr_expect_str_eq(got[1]->device, "fake:0");
    cr_expect_str_eq(param(got[1], "devices"), "fake:0,fake:1,fake:3");
    cr_expect_str_eq(got[2]->device, "other:0");
    cr_expect_str_eq(param(got[2], "devices"), "other:0,other:1");
}

Test(node, device_selection_narrows_the_groups)
{
    make_platform();
    char *sel[] = {"fake:3", "other:1", "fake:1", NULL};
    cr_assert_eq(run_node(sel), 0);
    cr_assert_eq(ncalls, 2);
    cr_expect_str_eq(calls[0], "fake:1 fake:3 ", "platform order, not --device order");
    cr_expect_str_eq(calls[1], "other:1 ");
    cr_assert_eq(ngot, 2);
    cr_expect_str_eq(param(got[1], "devices"), "other:1");
    make_platform();
    char *broken[] = {"fake:2", NULL};
    cr_assert_eq(run_node(broken), 0);
    cr_expect_eq(ncalls, 0, "a group left with no device is not run");
    cr_assert_eq(ngot, 1);
    cr_expect_eq(got[0]->status, AB_ERROR);
    cr_expect(ab_node_device_selected(NULL, "x:0"));
    char *all[] = {"all", NULL};
    cr_expect(ab_node_device_selected(all, "x:0"));
    cr_expect(!ab_node_device_selected(sel, "fake:0"));
}

Test(node, a_refused_result_stops_the_run)
{
    make_platform();
    refuse_emit = true;
    cr_expect_eq(run_node(NULL), -1);
    cr_expect_eq(ncalls, 0, "stopped at the open error it could not record");
}

Test(node, device_scope_results_carry_no_devices_param)
{
    make_platform();
    ab_options o = {.profile = "quick"};
    ab_suite_ctx ctx = {.opt = &o, .suite = &synth, .dev = &devices[0], .emit = collect};
    ab_result *r = ab_suite_result(&ctx, "synth.all", "x");
    cr_assert_not_null(r);
    cr_expect_null(json_object_get(r->params, "devices"));
    ab_result_free(r);
}
