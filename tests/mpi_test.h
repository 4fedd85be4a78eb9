/* SPDX-License-Identifier: MIT */
/*
 * The real mpirun for the MPI job tests (test_cluster.c, test_cluster_nccl.c): the environment
 * that lets Open MPI run here, one job of accelbench run, and its gathered run document.
 */
#ifndef AB_MPI_TEST_H
#define AB_MPI_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"

/* The run folder of the last job (<tmp>/j). */
static char ab_mpi_outdir[700];

static inline void ab_mpi_test_env(void)
{
    /* root in CI containers; shared memory between the ranks unless a test says TCP */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl", "self,vader", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    /* containers often forbid the cross-memory attach vader uses for large messages */
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    unsetenv("ACCELBENCH_TEST_RANK_FAULT");
    /* sanitizer builds: Open MPI's own allocations outlive MPI_Finalize and LeakSanitizer reports
     * them without usable stacks (its plugins); address and UB errors still fail the ranks. The
     * same accelbench code outside a job is leak-checked by the other tests. */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

/* mpirun --oversubscribe -np N [MPIRUN_OPTS...] accelbench run --out <tmp> --run-id j -q
 * -p quick -r 3 -t 0.005 [ARGS...]; both lists NULL-terminated, mpirun_opts may be NULL. */
static inline void ab_mpi_test_run(ab_proc *p, const char *tag, const char *np,
                                   const char *const *mpirun_opts, const char *const *args)
{
    char *dir = ab_test_tmpdir(tag);
    snprintf(ab_mpi_outdir, sizeof(ab_mpi_outdir), "%s", dir);
    free(dir);
    const char *argv[64] = {"--oversubscribe", "-np", np};
    size_t n = 3;
    for (size_t i = 0; mpirun_opts && mpirun_opts[i] && n < 20; i++)
        argv[n++] = mpirun_opts[i];
    const char *const run[] = {AB_TEST_BINARY, "run", "--out", ab_mpi_outdir, "--run-id", "j",
                               "-q",           "-p",  "quick", "-r",          "3",        "-t",
                               "0.005",        NULL};
    for (size_t i = 0; run[i]; i++)
        argv[n++] = run[i];
    for (size_t i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cr_assert_eq(ab_test_exec(p, 0, AB_TEST_MPIRUN, argv), 0);
}

/* The job's gathered run document (asserts it is readable). */
static inline ab_run *ab_mpi_test_read(void)
{
    char path[800], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/j/run.json", ab_mpi_outdir);
    ab_run *run = ab_run_read(path, err);
    cr_assert(run, "%s: %s", path, err);
    return run;
}

#endif
