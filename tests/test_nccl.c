/* SPDX-License-Identifier: MIT */
/*
 * The GPU plugins' NCCL/RCCL path without a GPU (issue 15): suites/collectives/coll_nccl.c, the
 * same source the CUDA and HIP plugins compile, built here by the host compiler and run against
 * tests/fake_nccl.c (a stand-in libnccl computing on host memory) through a memory shim whose
 * "device" buffers are host buffers. The whole collectives suite runs in process over three
 * stand-in devices: every op is checked against the host reference, a broken library fails,
 * the library's absence is a skip naming it. Figures here are host memcpy timings of the
 * stand-in, labelled so and never written to a run document.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites/case.h"
#include "suites/collectives/coll_nccl.h"

/* the memory shim: host memory standing in for the GPU runtime (ab_coll_host_shim) */
static const char *const fake_libs[] = {AB_TEST_FAKE_NCCL, NULL};
static const char *const no_libs[] = {"libnccl-absent-here.so.2", "libnccl-absent.so", NULL};
static const char *const *libs = fake_libs;

static int t_open(const int *ord, int n, int ranks, ab_coll_comm **c, char *why)
{
    (void)ranks;
    return ab_nccl_open(&ab_coll_host_shim, "NCCL", libs, ord, n, c, why);
}

/* the table the plugins build, with the stand-in's label */
static const ab_coll_impl standin = {"nccl-standin",
                                     false,
                                     t_open,
                                     ab_nccl_close,
                                     ab_nccl_nranks,
                                     ab_nccl_library,
                                     ab_nccl_alloc,
                                     ab_nccl_write_send,
                                     ab_nccl_read_recv,
                                     ab_nccl_clear_recv,
                                     ab_nccl_run,
                                     NULL,
                                     NULL,
                                     NULL};

typedef struct fake_nccl_stats {
    long group_ends, calls, inits;
    int ndev, devlist[16];
} fake_nccl_stats;

static void *fake_sym(const char *name)
{
    void *dl = dlopen(AB_TEST_FAKE_NCCL, RTLD_NOW | RTLD_NOLOAD);
    if (!dl) dl = dlopen(AB_TEST_FAKE_NCCL, RTLD_NOW);
    cr_assert_not_null(dl, "%s", dlerror());
    void *p = dlsym(dl, name);
    cr_assert_not_null(p, "%s", name);
    return p; /* the handle stays open: the suite's dlopen shares it */
}

Test(nccl_load, absent_library_is_a_skip_naming_it)
{
    libs = no_libs;
    ab_coll_comm *c = NULL;
    char why[256] = "";
    int ord[2] = {0, 1};
    cr_expect_eq(t_open(ord, 2, 0, &c, why), AB_COLL_SKIP);
    cr_expect(strstr(why, "NCCL is not installed"), "%s", why);
    cr_expect(strstr(why, "libnccl-absent-here.so.2"), "%s", why);
    cr_expect_null(c);
    libs = fake_libs;
    cr_expect_eq(t_open(ord, 1, 0, &c, why), AB_COLL_SKIP, "one device");
    cr_expect(strstr(why, "at least 2"), "%s", why);
}

Test(nccl_load, init_errors_are_reported)
{
    ab_coll_comm *c = NULL;
    char why[256] = "";
    int dup[2] = {1, 1};
    cr_expect_eq(t_open(dup, 2, 0, &c, why), -1);
    cr_expect(strstr(why, "ncclCommInitAll: invalid argument"), "%s", why);
    char v[32];
    ab_nccl_version_text(22809, v, sizeof(v));
    cr_expect_str_eq(v, "2.28.9");
    ab_nccl_version_text(2803, v, sizeof(v));
    cr_expect_str_eq(v, "2.8.3", "the code before NCCL 2.9");
}

/* ---- the suite in process over three stand-in devices ---- */

static const ab_suite_impls impls = {.collectives = &standin};
static const ab_backend_ops fake_ops = {.name = "fakegpu", .impls = &impls};
static ab_backend_entry fake_be = {
    .name = "fakegpu", .built = true, .available = true, .ops = &fake_ops};
static ab_device devs[3];
static ab_result *got[64];
static size_t ngot;

static int collect(ab_suite_ctx *ctx, ab_result *r)
{
    (void)ctx;
    cr_assert_lt(ngot, 64);
    got[ngot++] = r;
    return 0;
}

static void run_suite(size_t ndev, const char *sizes, const char *corrupt)
{
    const ab_suite *s = ab_suite_find("collectives");
    cr_assert_not_null(s);
    cr_assert_eq(s->scope, AB_SCOPE_NODE);
    ab_device *list[3];
    for (int i = 0; i < 3; i++) {
        devs[i] = (ab_device){.backend = &fake_be, .index = 4 + i};
        snprintf(devs[i].id, sizeof(devs[i].id), "fakegpu:%d", 4 + i);
        devs[i].info.kind = AB_KIND_GPU;
        devs[i].info.mem_bytes = 1u << 30;
        list[i] = &devs[i];
    }
    ab_options o = {.profile = "quick", .corrupt = corrupt};
    o.params[o.nparams++] = (ab_kv){"coll-sizes", (char *)sizes};
    o.sampling = (ab_sampling){.min_time = 1e-4, .samples = 3, .warmup = 1, .max_iters = 100};
    ab_suite_ctx ctx = {
        .opt = &o, .suite = s, .dev = list[0], .devices = list, .ndevices = ndev, .emit = collect};
    for (size_t i = 0; i < ngot; i++)
        ab_result_free(got[i]);
    ngot = 0;
    cr_assert_eq(s->run(&ctx), 0);
}

Test(nccl_suite, every_op_through_the_stand_in_passes)
{
    fake_nccl_stats *st = fake_sym("fake_nccl_last");
    run_suite(3, "12,1200", NULL);
    cr_expect_eq(st->ndev, 3);
    cr_expect(st->devlist[0] == 4 && st->devlist[1] == 5 && st->devlist[2] == 6,
              "ncclCommInitAll gets the devices' ordinals");
    cr_expect_gt(st->group_ends, 12, "every iteration is one group");
    cr_assert_eq(ngot, 12, "6 ops x 2 sizes");
    for (size_t i = 0; i < ngot; i++) {
        const ab_result *r = got[i];
        cr_expect_eq(r->status, AB_PASS, "%s: %s", r->key, r->reason ? r->reason : "");
        cr_expect_str_eq(r->impl, "nccl-standin");
        cr_expect_str_eq(json_string_value(json_object_get(r->params, "devices")),
                         "fakegpu:4,fakegpu:5,fakegpu:6");
        cr_expect_eq(json_integer_value(json_object_get(r->params, "ranks")), 3);
        cr_expect_eq(json_integer_value(json_object_get(r->extra, "wrong")), 0);
        const char *lib = json_string_value(json_object_get(r->extra, "library"));
        cr_expect(lib && strstr(lib, "NCCL 2.19.5") && strstr(lib, "fake_nccl") &&
                      strstr(lib, "stand-in"),
                  "the library is named and labelled: %s", lib ? lib : "(none)");
        cr_expect_str_eq(json_string_value(json_object_get(r->extra, "ranks_are")), "devices");
        cr_expect(json_object_get(json_object_get(r->extra, "env"), "NCCL_PROTO"),
                  "NCCL_PROTO recorded (null when unset)");
    }
}

Test(nccl_suite, a_wrong_library_result_fails)
{
    int *corrupt = fake_sym("fake_nccl_corrupt");
    *corrupt = 1;
    run_suite(2, "64", NULL);
    *corrupt = 0;
    size_t fails = 0;
    for (size_t i = 0; i < ngot; i++)
        if (got[i]->status == AB_FAIL) {
            fails++;
            cr_expect_str_eq(got[i]->key, "collectives.all_reduce");
            cr_expect(strstr(got[i]->reason, "1 of 32 elements wrong"), "%s", got[i]->reason);
        } else {
            cr_expect_eq(got[i]->status, AB_PASS, "%s", got[i]->key);
        }
    cr_expect_eq(fails, 1);
}

Test(nccl_suite, one_device_or_no_library_is_a_skip)
{
    run_suite(1, "64", NULL);
    cr_assert_eq(ngot, 1);
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect(strstr(got[0]->reason, "at least 2 ranks"), "%s", got[0]->reason);
    libs = no_libs;
    run_suite(2, "64,128", NULL);
    libs = fake_libs;
    cr_assert_eq(ngot, 1, "one skip for the suite, not one per case");
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect(strstr(got[0]->reason, "NCCL is not installed"), "%s", got[0]->reason);
}
