/* SPDX-License-Identifier: MIT */
/*
 * The collectives suite across the ranks of an MPI job (issue 16 item 2): a real mpirun with 2
 * and 4 ranks, the suite's NCCL path (coll_nccl.c, the code of the GPU plugins) through
 * ncclGetUniqueId on rank 0, MPI_Bcast, ncclCommInitRank on every rank, against the stand-in
 * libnccl (tests/fake_nccl_xp.c: ranks exchange through files of a directory named in the id)
 * on host memory, selected by the test-only ACCELBENCH_TEST_NCCL_STANDIN. Checked: one job-wide
 * result per case from rank 0, labelled stand-in, every element of every rank validated and
 * counted, a corrupted rank's element caught, an absent library a skip on every rank.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"
#include "mpi_test.h"

static void job_env(void)
{
    ab_mpi_test_env();
    setenv("ACCELBENCH_TEST_NCCL_STANDIN", AB_TEST_FAKE_NCCL, 1);
}

/* mpirun -np N accelbench run --out <tmp> --run-id j ... --suite collectives --device cpu ARGS */
static void mpirun(ab_proc *p, const char *np, const char *const *args)
{
    const char *const opts[] = {"-x", "ACCELBENCH_TEST_NCCL_STANDIN", NULL};
    /* the CPU device only: other backends' devices (PoCL) would add their own skips per rank */
    const char *all[40] = {"--suite", "collectives", "--device", "cpu"};
    size_t n = 4;
    for (size_t i = 0; args[i] && n < 39; i++)
        all[n++] = args[i];
    all[n] = NULL;
    ab_mpi_test_run(p, "cluster_nccl", np, opts, all);
}

static ab_run *read_job(void)
{
    return ab_mpi_test_read();
}

static long long param(const ab_result *r, const char *name)
{
    return json_integer_value(json_object_get(r->params, name));
}

static long long extra(const ab_result *r, const char *name)
{
    return json_integer_value(json_object_get(r->extra, name));
}

/* receive elements of one rank for op at count (collectives.h) */
static long long recv_count(const char *op, long long count, int n)
{
    return strcmp(op, "all_gather") == 0 || strcmp(op, "all_to_all") == 0 ? count * n : count;
}

/* Every result of the job's collectives; all pass but the key `corrupted` (NULL: none). */
static void expect_job(const ab_run *run, int ranks, size_t want, const char *corrupted)
{
    cr_expect_eq(run->nresults, want, "one result per case for the job, not per rank");
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        cr_expect_str_eq(r->suite, "collectives");
        cr_expect_str_eq(r->impl, "nccl-standin", "%s", r->key);
        cr_expect(r->job_wide && r->rank == 0, "%s: job-wide from rank 0", r->key);
        cr_expect_eq(param(r, "ranks"), ranks, "%s: ranks", r->key);
        const char *lib = json_string_value(json_object_get(r->extra, "library"));
        cr_expect(lib && strstr(lib, "stand-in") && strstr(lib, "never device figures"), "%s",
                  lib ? lib : "(none)");
        cr_expect_str_eq(json_string_value(json_object_get(r->extra, "ranks_are")),
                         "MPI ranks, one device each");
        const char *op = json_string_value(json_object_get(r->params, "op"));
        /* every rank's whole receive buffer checked, the counts summed over the ranks */
        cr_expect_eq(extra(r, "checked"), ranks * recv_count(op, param(r, "count"), ranks),
                     "%s at %lld B", r->key, param(r, "bytes"));
        if (!corrupted || strcmp(r->key, corrupted) != 0) {
            cr_expect_eq(r->status, AB_PASS, "%s: %s", r->key, r->reason ? r->reason : "");
            cr_expect_eq(extra(r, "wrong"), 0);
        }
    }
}

Test(cluster_nccl, two_ranks_every_op, .init = job_env)
{
    ab_proc p;
    mpirun(&p, "2", (const char *[]){"--coll-sizes", "8,256KiB", NULL});
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    expect_job(run, 2, 12, NULL);
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster_nccl, four_ranks_a_corrupted_element_fails, .init = job_env)
{
    ab_proc p;
    mpirun(&p, "4",
           (const char *[]){"--coll-sizes", "64KiB", "--test-corrupt", "collectives.all_reduce",
                            NULL});
    cr_expect_eq(p.status, AB_EXIT_FAIL, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    expect_job(run, 4, 6, "collectives.all_reduce");
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, "collectives.all_reduce") != 0) continue;
        cr_expect_eq(r->status, AB_FAIL);
        cr_expect_eq(extra(r, "wrong"), 1, "rank 0's first element, of 4 ranks' elements");
        cr_expect(r->reason && strstr(r->reason, "first at rank 0 element 0"), "%s",
                  r->reason ? r->reason : "");
    }
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster_nccl, absent_library_is_a_skip_on_every_rank, .init = job_env)
{
    setenv("ACCELBENCH_TEST_NCCL_STANDIN", "/nonexistent/libnccl-standin.so", 1);
    ab_proc p;
    mpirun(&p, "2", (const char *[]){"--coll-sizes", "8", NULL});
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    cr_assert_eq(run->nresults, 1, "one skip for the suite's group");
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect(run->results[0]->reason &&
                  strstr(run->results[0]->reason, "/nonexistent/libnccl-standin.so"),
              "%s", run->results[0]->reason ? run->results[0]->reason : "");
    ab_run_free(run);
    ab_proc_free(&p);
}
