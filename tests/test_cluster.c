/* SPDX-License-Identifier: MIT */
/*
 * MPI jobs through the real engine (issue 16): Open MPI's mpirun with 2 and 4 ranks on this
 * machine (shared memory, and TCP over loopback), the gathered run document checked (ranks,
 * nodes, every result validated), the refusal of mismatched ranks, a rank that hangs and one that
 * dies (ACCELBENCH_TEST_RANK_FAULT, a test-only hook), and the fabric suite outside a job.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"
#include "mpi_test.h"

static void job_env(void)
{
    ab_mpi_test_env();
}

/* mpirun -np N accelbench run --out <tmp> --run-id j ... ARGS */
static void mpirun(ab_proc *p, const char *np, const char *const *args)
{
    ab_mpi_test_run(p, "cluster", np, NULL, args);
}

static ab_run *read_job(void)
{
    return ab_mpi_test_read();
}

static size_t count_key(const ab_run *run, const char *key, int rank)
{
    size_t n = 0;
    for (size_t i = 0; i < run->nresults; i++)
        n += strcmp(run->results[i]->key, key) == 0 && (rank < 0 || run->results[i]->rank == rank);
    return n;
}

/* Every result of a job: ranked, on this node, passing; fabric ones job-wide from rank 0. */
static void expect_all_pass(const ab_run *run, int ranks)
{
    char host[256] = "";
    gethostname(host, sizeof(host));
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        cr_expect(r->ranked && r->rank >= 0 && r->rank < ranks, "%s: rank %d", r->key, r->rank);
        cr_expect_str_eq(r->node ? r->node : "", host, "%s: node", r->key);
        cr_expect_eq(r->status, AB_PASS, "%s (rank %d): %s", r->key, r->rank,
                     r->reason ? r->reason : "");
        if (strcmp(r->suite, "fabric") == 0)
            cr_expect(r->job_wide && r->rank == 0, "%s: job_wide from rank 0", r->key);
    }
    cr_assert(run->job, "no job section");
    cr_expect_eq(json_integer_value(json_object_get(run->job, "size")), ranks);
    json_t *jr = json_object_get(run->job, "ranks");
    cr_expect_eq(json_array_size(jr), (size_t)ranks);
    for (size_t i = 0; i < json_array_size(jr); i++) {
        json_t *e = json_array_get(jr, i);
        cr_expect_str_eq(json_string_value(json_object_get(e, "status")), "reported");
        cr_expect_gt(strlen(json_string_value(json_object_get(e, "cpus"))), 0, "rank %zu", i);
    }
    json_t *nodes = json_object_get(run->job, "nodes");
    cr_expect_eq(json_array_size(nodes), 1);
    cr_expect(json_is_object(json_object_get(json_array_get(nodes, 0), "manifest")));
}

Test(cluster, two_ranks_shared_memory, .init = job_env)
{
    ab_proc p;
    mpirun(&p, "2",
           (const char *[]){"--suite", "fabric,membw.triad", "--dtype", "f64", "--sizes", "1MiB",
                            "--msg-sizes", "64KiB", "--p2p-size", "64KiB", "--window", "4", NULL});
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    expect_all_pass(run, 2);
    /* membw from both ranks, each its own result; the fabric cases once */
    cr_expect_gt(count_key(run, "membw.triad", 0), 0);
    cr_expect_eq(count_key(run, "membw.triad", 0), count_key(run, "membw.triad", 1));
    const char *keys[] = {"fabric.latency",    "fabric.p2p",         "fabric.p2p_bidir",
                          "fabric.pairs",      "fabric.pairs_bidir", "fabric.all_reduce",
                          "fabric.all_gather", "fabric.all_to_all"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        cr_expect_eq(count_key(run, keys[k], -1), 1, "%s", keys[k]);
    /* the bus bandwidth formula is recorded with the metric */
    for (size_t i = 0; i < run->nresults; i++)
        if (strcmp(run->results[i]->key, "fabric.all_reduce") == 0)
            cr_expect_str_eq(run->results[i]->metrics[0].formula,
                             "bytes*2*(ranks-1)/ranks B / t (nccl-tests busbw of all_reduce)");
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster, four_ranks_tcp_loopback, .init = job_env)
{
    setenv("OMPI_MCA_btl", "self,tcp", 1);
    setenv("OMPI_MCA_btl_tcp_if_include", "lo", 1);
    ab_proc p;
    mpirun(&p, "4",
           (const char *[]){"--suite", "fabric.pairs,fabric.all_reduce,fabric.all_to_all",
                            "--msg-sizes", "64KiB", "--p2p-size", "16KiB", "--window", "2", NULL});
    unsetenv("OMPI_MCA_btl_tcp_if_include");
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    expect_all_pass(run, 4);
    cr_expect_eq(count_key(run, "fabric.pairs", 0), 6, "4 ranks: 6 pairs");
    cr_expect_eq(count_key(run, "fabric.all_reduce", 0), 1);
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster, corrupted_collective_fails, .init = job_env)
{
    ab_proc p;
    mpirun(&p, "2",
           (const char *[]){"--suite", "fabric.all_gather", "--msg-sizes", "64KiB",
                            "--test-corrupt", "fabric.all_gather", NULL});
    cr_expect_eq(p.status, AB_EXIT_FAIL, "exit %d: %s", p.status, p.err);
    ab_run *run = read_job();
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_FAIL);
    cr_expect(strstr(run->results[0]->reason, "differ from the host reference"), "%s",
              run->results[0]->reason);
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster, mismatched_arguments_refused, .init = job_env)
{
    char *dir = ab_test_tmpdir("cluster-mismatch");
    ab_proc p;
    const char *argv[] = {
        "-np", "1", AB_TEST_BINARY, "run", "--out", dir, "--suite", "fabric",     ":",
        "-np", "1", AB_TEST_BINARY, "run", "--out", dir, "--suite", "fabric.p2p", NULL};
    cr_assert_eq(ab_test_exec(&p, 0, AB_TEST_MPIRUN, argv), 0);
    cr_expect_neq(p.status, 0);
    const char *line = strstr(p.err, "accelbench run: refused: rank 1");
    cr_expect(line, "no refusal in: %s", p.err);
    cr_expect(line && strstr(line, "other arguments than rank 0"), "%s", p.err);
    cr_expect_leq(ab_dir_entries(dir), 0, "a run folder was made");
    ab_proc_free(&p);
    free(dir);
}

static void lost_rank(const char *fault, const char *needle)
{
    setenv("ACCELBENCH_TEST_RANK_FAULT", fault, 1);
    ab_proc p;
    double t0 = ab_now();
    mpirun(&p, "3", (const char *[]){"--suite", "fabric.latency", "--rank-timeout", "2", NULL});
    double took = ab_now() - t0;
    unsetenv("ACCELBENCH_TEST_RANK_FAULT");
    cr_expect_neq(p.status, 0, "a lost rank must fail the job");
    cr_expect_lt(took, 30.0, "the job took %.1f s", took);
    cr_expect(strstr(p.err, "accelbench run: rank 1 (") != NULL, "no one-line error: %s", p.err);
    ab_run *run = read_job();
    cr_expect_eq(count_key(run, "fabric.latency", 0), 1, "rank 0's result is written");
    cr_assert_eq(count_key(run, "job.rank", 1), 1, "no error result for rank 1");
    for (size_t i = 0; i < run->nresults; i++)
        if (strcmp(run->results[i]->key, "job.rank") == 0) {
            cr_expect_eq(run->results[i]->status, AB_ERROR);
            cr_expect(strstr(run->results[i]->reason, needle), "%s", run->results[i]->reason);
        }
    json_t *jr = json_object_get(run->job, "ranks");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(jr, 1), "status")), "lost");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(jr, 2), "status")),
                     "reported");
    ab_run_free(run);
    ab_proc_free(&p);
}

Test(cluster, rank_hangs, .init = job_env)
{
    lost_rank("1:hang", "within --rank-timeout 2 s");
}

Test(cluster, rank_dies, .init = job_env)
{
    lost_rank("1:exit", "when the job was stopped");
}

Test(cluster, fabric_outside_a_job)
{
    char *dir = ab_test_tmpdir("cluster-single");
    ab_proc p;
    const char *argv[] = {"run",     "--out",  dir,        "--run-id", "s", "-q",
                          "--suite", "fabric", "--device", "cpu",      NULL};
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    char path[800], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/s/run.json", dir);
    ab_run *run = ab_run_read(path, err);
    cr_assert(run, "%s", err);
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect(strstr(run->results[0]->reason, "not an MPI job"), "%s", run->results[0]->reason);
    cr_expect(!run->results[0]->ranked && !run->job, "a single process has no ranks");
    ab_run_free(run);
    ab_proc_free(&p);
    free(dir);
}

Test(cluster, rank_hangs_inside_an_exchange, .init = job_env)
{
    setenv("ACCELBENCH_TEST_RANK_FAULT", "1:hang@fabric.p2p", 1);
    ab_proc p;
    double t0 = ab_now();
    mpirun(&p, "2",
           (const char *[]){"--suite", "fabric.latency,fabric.p2p", "--rank-timeout", "2", NULL});
    double took = ab_now() - t0;
    cr_expect_neq(p.status, 0);
    cr_expect_lt(took, 30.0, "the job took %.1f s", took);
    cr_expect(strstr(p.err, "did not complete within --rank-timeout 2 s"), "%s", p.err);
    /* the folder holds what rank 0 finished: the journal, merged on reading */
    ab_run *run = read_job();
    cr_expect(!run->complete);
    cr_expect_eq(count_key(run, "fabric.latency", 0), 1);
    cr_expect_eq(count_key(run, "fabric.p2p", -1), 0);
    ab_run_free(run);
    ab_proc_free(&p);
}
