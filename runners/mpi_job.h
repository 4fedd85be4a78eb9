/* SPDX-License-Identifier: MIT */
/*
 * One accelbench run made of many processes: `mpirun -np N accelbench run ...` or
 * `srun -n N accelbench run ...` (README, "Clusters: MPI, Slurm, Kubernetes").
 *
 * Built with MPI (AB_MPI, runners/mpi_job.c) and started by a launcher (Open MPI's mpirun, PMIx,
 * Slurm's srun, MPICH's hydra: their environment variables), the process calls MPI_Init and is
 * one rank of the job; otherwise every function below is a no-op and `accelbench run` behaves as
 * a single process (the stubs at the end of this file when built without MPI).
 *
 * In a job: the ranks check that they run the same build with the same arguments (a hash of the
 * version and argv from every rank, compared on rank 0: a mismatch is refused with one line);
 * each rank takes its devices from its node-local rank (ab_job_pick_devices), probes its node and
 * runs the suites; rank 0 alone writes the run folder: it gathers every rank's results and
 * manifest (ab_job_gather) into one run document, results tagged with rank and node
 * (ab_job_tag), and the job section (results/SCHEMA.md). Every meeting point between ranks waits
 * at most --rank-timeout seconds; a rank that does not arrive is reported lost in one line, the
 * results of the ranks that did are written, and the job ends with MPI_Abort (ab_job_end).
 */
#ifndef AB_MPI_JOB_H
#define AB_MPI_JOB_H

#include "../backends/registry.h"
#include "../core/measure.h"
#include "../core/rundoc.h"

#include <stdbool.h>

/* Records r (taking ownership) in the run's document and reporters; -1 when it could not. */
typedef int (*ab_job_record_fn)(void *arg, ab_result *r);

/* --rank-timeout when not given, seconds */
#define AB_JOB_DEFAULT_TIMEOUT 300.0

#ifdef AB_HAVE_MPI
#include <mpi.h>

/* Joins the job when a launcher started this process (MPI_Init), checks build and argv against
 * rank 0's. Returns 0 to go on (in a job or not), or the exit code (AB_EXIT_USAGE: a rank runs
 * another build or other arguments; every rank returns it, rank 0 printed the line). */
int ab_job_begin(int argc, char **argv);
bool ab_job_active(void);
int ab_job_rank(void);
int ab_job_size(void);
/* The node's name of rank r (its host name), "" out of range or outside a job. */
const char *ab_job_node_of(int r);
/* Rank 0, or not in a job: the process that writes the run folder. */
bool ab_job_writer(void);
void ab_job_set_timeout(double seconds);
double ab_job_timeout(void);
/* The job's communicator (a duplicate of MPI_COMM_WORLD), MPI_COMM_NULL outside a job. */
MPI_Comm ab_job_comm(void);
/* Every rank's rc, combined: the largest, within the timeout; outside a job rc itself. A rank
 * that does not arrive breaks the job (ab_job_broken) and AB_EXIT_FAIL comes back. */
int ab_job_agree(int rc);
/* Why the job cannot meet again (a rank lost), NULL while it can. */
const char *ab_job_broken(void);
/* Replaces *devices (a --device list, NULL = all) with this rank's share: of each backend's
 * selected devices, the one at (node-local rank mod count). 0, or -1 with err. */
int ab_job_pick_devices(const ab_platform *p, char ***devices, char *err);
/* Marks r as this rank's (rank, node). */
void ab_job_tag(ab_result *r);
/* Rank 0: receives every other rank's results (a result marked job_wide only from rank 0) and
 * manifest, passing each result to record, and sets run->job. Others: send their run. Returns 0,
 * or -1 (a rank lost: its error result is recorded, err says which). */
int ab_job_gather(ab_run *run, ab_job_record_fn record, void *arg, char *err);
/* Around a blocking exchange (the fabric suite's timed batches and validation): when it has not
 * completed within --rank-timeout, a watchdog thread prints one line and ends this rank, which
 * ends the job (rank 0's finished results stay in its journal). */
void ab_job_watch(const char *what);
void ab_job_unwatch(void);
/* A case's part of one timed batch on this rank: `iters` iterations, their seconds in *sec; 0,
 * or -1 with err (every rank still meets the batch's end). */
typedef int (*ab_job_work_fn)(void *arg, long iters, double *sec, char *err);
/* ab_measure across the ranks (mpi_measure.c): every batch after a barrier, timed as the
 * slowest rank's, calibrated on those shared numbers, so every rank runs the same batches; each
 * batch under ab_job_watch. 0, or -1 with err (a rank's work failed: every rank returns -1). */
int ab_job_measure(const ab_sampling *s, ab_timing *t, ab_job_work_fn work, void *arg, char *err);
/* Test hook: ACCELBENCH_TEST_RANK_FAULT (mpi_job.c, README) at `point` ("gather", a case key). */
void ab_job_test_fault(const char *point);
/* Leaves the job: MPI_Finalize, or exits non-zero when the job broke (a rank lost). Returns rc. */
int ab_job_end(int rc);

#else /* built without MPI: one process, always */

static inline int ab_job_begin(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
static inline bool ab_job_active(void)
{
    return false;
}
static inline int ab_job_rank(void)
{
    return 0;
}
static inline int ab_job_size(void)
{
    return 1;
}
static inline const char *ab_job_node_of(int r)
{
    (void)r;
    return "";
}
static inline bool ab_job_writer(void)
{
    return true;
}
static inline void ab_job_set_timeout(double seconds)
{
    (void)seconds;
}
static inline double ab_job_timeout(void)
{
    return AB_JOB_DEFAULT_TIMEOUT;
}
static inline int ab_job_agree(int rc)
{
    return rc;
}
static inline const char *ab_job_broken(void)
{
    return NULL;
}
static inline int ab_job_pick_devices(const ab_platform *p, char ***devices, char *err)
{
    (void)p;
    (void)devices;
    (void)err;
    return 0;
}
static inline void ab_job_tag(ab_result *r)
{
    (void)r;
}
static inline int ab_job_gather(ab_run *run, ab_job_record_fn record, void *arg, char *err)
{
    (void)run;
    (void)record;
    (void)arg;
    (void)err;
    return 0;
}
static inline int ab_job_end(int rc)
{
    return rc;
}
#endif

#endif
