/* SPDX-License-Identifier: MIT */
/* The p2p suite in process over a fake backend of three host-memory "devices" whose peer_copy
 * is memcpy (figures: host memcpy, never device figures, never written to a run document):
 * every ordered pair, a pair without peer access skipped with the reason, every copy checked
 * (a corrupted destination fails), one device or no peer copies is one skip; and through the
 * binary on the CPU backend, a skip with the reason. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "suite_helpers.h"
#include "runners/output.h"
#include "suites/case.h"
#include "suites/p2p/p2p.h"

typedef struct fdev {
    int idx;
    double t0;
} fdev;

static fdev handles[3];
static long copies;

static int f_alloc(void *d, size_t b, void **m, char *err)
{
    (void)d, (void)err;
    return (*m = malloc(b)) ? 0 : -1;
}
static void f_free(void *d, void *m)
{
    (void)d;
    free(m);
}
static int f_copy(void *d, ab_copy_dir dir, void *dst, const void *src, size_t off, size_t b,
                  char *err)
{
    (void)d, (void)err;
    if (dir == AB_COPY_H2D)
        memcpy((char *)dst + off, src, b);
    else
        memcpy(dst, (const char *)src + off, b);
    return 0;
}
static int f_sync(void *d, char *err)
{
    (void)d, (void)err;
    return 0;
}
static int f_tstart(void *d, char *err)
{
    (void)err;
    ((fdev *)d)->t0 = ab_now();
    return 0;
}
static int f_tstop(void *d, double *s, char *err)
{
    (void)err;
    *s = ab_now() - ((fdev *)d)->t0 + 1e-9;
    return 0;
}
/* devices 0 and 2 cannot reach each other (unless all_connected) */
static bool all_connected;
static int f_peer(void *be, int a, int b, char *err)
{
    (void)be, (void)err;
    return !all_connected && ((a == 0 && b == 2) || (a == 2 && b == 0)) ? 0 : 1;
}
static int f_peer_copy(void *dd, void *dst, void *sd, const void *src, size_t b, char *err)
{
    (void)dd, (void)sd, (void)err;
    copies++;
    memcpy(dst, src, b);
    return 0;
}

/* the concurrent-copy table: memcpy, each copy timed on its own */
static long batches;
static int f_run(const ab_p2p_copy *c, size_t n, long iters, double *sec, char *err)
{
    (void)err;
    batches++;
    for (size_t i = 0; i < n; i++) {
        double t0 = ab_now();
        for (long k = 0; k < iters; k++)
            memcpy(c[i].dst, c[i].src, c[i].bytes);
        sec[i] = ab_now() - t0 + 1e-9;
    }
    return 0;
}
static const ab_p2p_impl fake_p2p = {f_run};
static ab_suite_impls fake_impls = {.p2p = &fake_p2p};

static ab_backend_ops fake_ops = {.impls = &fake_impls,
                                  .name = "fakegpu",
                                  .mem_alloc = f_alloc,
                                  .mem_free = f_free,
                                  .copy = f_copy,
                                  .sync = f_sync,
                                  .timer_start = f_tstart,
                                  .timer_stop = f_tstop,
                                  .peer_access = f_peer,
                                  .peer_copy = f_peer_copy};
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

static void run_p2p(size_t ndev, const char *corrupt)
{
    const ab_suite *s = ab_suite_find("p2p");
    cr_assert_not_null(s);
    ab_device *list[3];
    for (int i = 0; i < 3; i++) {
        devs[i] = (ab_device){.backend = &fake_be, .index = i, .h = &handles[i]};
        snprintf(devs[i].id, sizeof(devs[i].id), "fakegpu:%d", i);
        devs[i].info.mem_bytes = 1u << 30;
        list[i] = &devs[i];
    }
    ab_options o = {.profile = "quick", .corrupt = corrupt};
    o.params[o.nparams++] = (ab_kv){"p2p-size", "64KiB"};
    o.sampling = (ab_sampling){.min_time = 1e-4, .samples = 3, .warmup = 1, .max_iters = 100};
    ab_suite_ctx ctx = {
        .opt = &o, .suite = s, .dev = list[0], .devices = list, .ndevices = ndev, .emit = collect};
    for (size_t i = 0; i < ngot; i++)
        ab_result_free(got[i]);
    ngot = 0;
    copies = 0;
    cr_assert_eq(s->run(&ctx), 0);
}

static const char *sparam(const ab_result *r, const char *n)
{
    return json_string_value(json_object_get(r->params, n));
}

static size_t count_key(const char *key, ab_status st)
{
    size_t n = 0;
    for (size_t i = 0; i < ngot; i++)
        n += strcmp(got[i]->key, key) == 0 && got[i]->status == st;
    return n;
}

Test(p2p, every_ordered_pair_checked)
{
    all_connected = false;
    run_p2p(3, NULL);
    /* 6 ordered pairs x (ce_unidir, ce_latency, sm_unidir) + ce_bidir per unordered pair, and
     * one skip for the all-to-one / one-to-all group (0 and 2 cannot reach each other) */
    cr_assert_eq(ngot, 22);
    size_t pass = 0, skip = 0;
    for (size_t i = 0; i < ngot; i++) {
        const ab_result *r = got[i];
        const char *src = sparam(r, "src"), *dst = sparam(r, "dst");
        if (!src) {
            cr_expect_eq(r->status, AB_SKIP);
            cr_expect(strstr(r->reason, "need peer access between every pair"), "%s", r->reason);
            skip++;
            continue;
        }
        cr_assert(dst && strcmp(src, dst) != 0);
        bool blocked = (strcmp(src, "fakegpu:0") == 0 && strcmp(dst, "fakegpu:2") == 0) ||
                       (strcmp(src, "fakegpu:2") == 0 && strcmp(dst, "fakegpu:0") == 0);
        if (blocked) {
            skip++;
            cr_expect_eq(r->status, AB_SKIP, "%s -> %s", src, dst);
            cr_expect(strstr(r->reason, "no peer access"), "%s", r->reason);
            continue;
        }
        pass++;
        cr_expect_eq(r->status, AB_PASS, "%s %s -> %s: %s", r->key, src, dst,
                     r->reason ? r->reason : "");
        cr_expect_eq(json_integer_value(json_object_get(r->extra, "wrong_words")), 0);
        long long bytes = json_integer_value(json_object_get(r->params, "bytes"));
        cr_expect_eq(bytes, strcmp(r->key, "p2p.ce_latency") == 0 ? 4 : 65536);
    }
    cr_expect_eq(pass, 14);
    cr_expect_eq(skip, 8);
    cr_expect_eq(count_key("p2p.ce_bidir", AB_PASS), 2, "(0,1) and (1,2)");
    cr_expect_eq(count_key("p2p.sm_unidir", AB_PASS), 4);
    cr_expect_eq(copies, 0, "with the concurrent table every copy goes behind the start flag");
    cr_expect_gt(batches, 14, "through the concurrent table");
}

Test(p2p, all_to_one_and_one_to_all)
{
    all_connected = true;
    run_p2p(3, NULL);
    cr_expect_eq(count_key("p2p.ce_all_to_one", AB_PASS), 3);
    cr_expect_eq(count_key("p2p.ce_one_to_all", AB_PASS), 3);
    for (size_t i = 0; i < ngot; i++)
        if (strcmp(got[i]->key, "p2p.ce_all_to_one") == 0) {
            const ab_metric *m = ab_result_metric(got[i], "bandwidth");
            cr_assert_not_null(m);
            cr_expect(strstr(m->formula, "peers*bytes / t"), "%s", m->formula);
            cr_expect_str_eq(json_string_value(json_object_get(got[i]->params, "devices")),
                             "fakegpu:0,fakegpu:1,fakegpu:2");
        }
    run_p2p(3, "p2p.ce_all_to_one");
    all_connected = false;
    cr_expect_eq(count_key("p2p.ce_all_to_one", AB_FAIL), 3, "a damaged slot fails");
    for (size_t i = 0; i < ngot; i++)
        if (got[i]->status == AB_FAIL)
            cr_expect(strstr(got[i]->reason, "1 of 32768 words wrong"), "%s", got[i]->reason);
}

Test(p2p, a_wrong_copy_fails)
{
    run_p2p(2, "p2p.ce_unidir");
    cr_assert_eq(ngot, 11, "2 x 3 pair cases, one bidir, 2 x 2 node cases");
    for (size_t i = 0; i < ngot; i++)
        if (strcmp(got[i]->key, "p2p.ce_unidir") == 0) {
            cr_expect_eq(got[i]->status, AB_FAIL);
            cr_expect(strstr(got[i]->reason, "1 of 16384 words wrong"), "%s", got[i]->reason);
        } else {
            cr_expect_eq(got[i]->status, AB_PASS);
        }
}

Test(p2p, one_device_or_no_peer_copy_is_a_skip)
{
    run_p2p(1, NULL);
    cr_assert_eq(ngot, 1);
    cr_expect_eq(got[0]->status, AB_SKIP);
    cr_expect(strstr(got[0]->reason, "need two devices"), "%s", got[0]->reason);
    fake_ops.peer_copy = NULL;
    run_p2p(2, NULL);
    fake_ops.peer_copy = f_peer_copy;
    cr_assert_eq(ngot, 1);
    cr_expect(strstr(got[0]->reason, "has no peer copies"), "%s", got[0]->reason);
    fake_impls.p2p = NULL; /* the hook's copies only, and one skip naming what is missing */
    run_p2p(2, NULL);
    fake_impls.p2p = &fake_p2p;
    cr_assert_eq(ngot, 5);
    cr_expect_eq(count_key("p2p.ce_unidir", AB_PASS), 2);
    cr_expect_gt(copies, 4, "without it, through the backend's peer_copy hook");
    cr_expect(strstr(got[4]->reason, "no concurrent peer copies"), "%s", got[4]->reason);
}

Test(p2p, cpu_backend_is_a_skip_with_the_reason, .timeout = 60)
{
    ab_run *run = ab_test_run_doc("p2p-cpu", AB_EXIT_OK, 0, NULL, (const char *[]){"--quiet", NULL},
                                  (const char *[]){"--suite", "p2p", "--device", "cpu", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect(strstr(run->results[0]->reason, "cpu is the only cpu device"), "%s",
              run->results[0]->reason);
    ab_run_free(run);
    ab_test_expect_usage("p2p", "--p2p-size",
                         (const char *[]){"--p2p-size", "6", "--device", "cpu", NULL});
}

Test(p2p, summary_shows_the_device_matrix)
{
    run_p2p(3, NULL);
    ab_run *run = ab_run_new();
    cr_assert_not_null(run);
    char err[AB_ERRLEN];
    for (size_t i = 0; i < ngot; i++)
        cr_assert_eq(ab_run_add(run, got[i], err), 0, "%s", err);
    ngot = 0; /* the run owns them now */
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    cr_assert_eq(ab_write_markdown(run, f), 0);
    fclose(f);
    const char *m = strstr(md, "## Peer copy bandwidth, source (row) to destination (column)");
    cr_assert_not_null(m, "%s", md);
    cr_expect(strstr(m, "| src \\ dst | fakegpu:0 | fakegpu:1 | fakegpu:2 |"), "%s", m);
    /* row fakegpu:0: the diagonal, a figure for 0 -> 1, a dash for 0 -> 2 (no peer access) */
    const char *row0 = strstr(m, "\n| fakegpu:0 | · | ");
    cr_assert_not_null(row0, "%s", m);
    const char *eol = strchr(row0 + 1, '\n');
    cr_assert_not_null(eol);
    char line[256];
    snprintf(line, sizeof(line), "%.*s", (int)(eol - row0 - 1), row0 + 1);
    cr_expect(strstr(line, "B/s | — |"), "%s", line);
    cr_expect(strstr(md, "## Peer copy latency (4 B)"), "the latency matrix too");
    free(md);
    ab_run_free(run);
}
