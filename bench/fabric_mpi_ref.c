/* SPDX-License-Identifier: MIT */
/*
 * A plain MPI reference for the fabric suite (bench/fabric_mpi.sh): point-to-point bandwidth
 * between ranks 0 and 1 (a window of MPI_Isend answered by one ack, as osu_bw and fabric.p2p)
 * and MPI_Allreduce bus bandwidth (f32 sum, nccl-tests' busbw = S/t x 2(n-1)/n). Each sample is
 * a batch after a barrier, timed as the slowest rank's. Batches: P2P_ITERS / AR_ITERS iterations
 * when given (bench/fabric_mpi.sh passes accelbench's iters_per_sample of the same round, so both
 * time the same batches), after two single-iteration warm-ups and one warm-up batch as accelbench
 * has; else sized to last >= 20 ms at the fastest rate seen in calibration. Every buffer is
 * page-aligned and written before timing, as accelbench's are. Prints medians and iterations.
 *   mpirun -np N fabric_mpi_ref P2P_BYTES WINDOW ALLREDUCE_BYTES SAMPLES [P2P_ITERS AR_ITERS]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, n;
static size_t pb, ab;
static long win;
static char *sbuf, *rbuf;
static float *as, *ar;
static MPI_Request rq[1024];

static void p2p(void)
{
    if (rank > 1) return;
    for (long k = 0; k < win; k++) {
        if (rank == 0)
            MPI_Isend(sbuf, (int)pb, MPI_BYTE, 1, 2, MPI_COMM_WORLD, &rq[k]);
        else
            MPI_Irecv(rbuf + k * pb, (int)pb, MPI_BYTE, 0, 2, MPI_COMM_WORLD, &rq[k]);
    }
    MPI_Waitall((int)win, rq, MPI_STATUSES_IGNORE);
    char ack = 0;
    if (rank == 1)
        MPI_Send(&ack, 1, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
    else
        MPI_Recv(&ack, 1, MPI_BYTE, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

static void allreduce(void)
{
    MPI_Allreduce(as, ar, (int)(ab / 4), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static double batch(void (*op)(void), long iters)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime(), t;
    for (long i = 0; i < iters; i++)
        op();
    t = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
}

/* page-aligned, as accelbench's fabric buffers (each its own mapping) */
static void *page_alloc(size_t bytes)
{
    void *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!p) MPI_Abort(MPI_COMM_WORLD, 1);
    return p;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* iterations per batch: doubled until a batch lasts 20 ms, then sized from the fastest rate */
static long calibrate(void (*op)(void))
{
    long iters = 1;
    double best = batch(op, 1), t; /* best: the fastest seconds per iteration seen */
    while ((t = batch(op, iters)) < 0.02) {
        best = t / (double)iters < best ? t / (double)iters : best;
        iters *= 2;
    }
    best = t / (double)iters < best ? t / (double)iters : best;
    /* one calibration batch stretched by a stall (another process on a core, which both ranks
     * need at once) ends the doubling with too few iterations -- a single collective when the
     * first took 20 ms -- and the samples would then be single collectives that happened to run
     * without a stall. Size the batches from the fastest rate seen, as accelbench does
     * (ab_measure, ab_job_measure). */
    if (best > 0 && 0.02 / best > (double)iters) iters = (long)(0.02 / best) + 1;
    return iters;
}

/* median seconds per iteration; *iters: iterations per batch, calibrated unless given (> 0) */
static double measure(void (*op)(void), int samples, long *iters)
{
    if (*iters > 0) /* accelbench's warm-up: two single iterations, then a batch */
        batch(op, 1), batch(op, 1), batch(op, *iters);
    else
        *iters = calibrate(op);
    double v[64];
    for (int k = 0; k < samples; k++)
        v[k] = batch(op, *iters) / (double)*iters;
    qsort(v, (size_t)samples, sizeof(double), cmp);
    return v[samples / 2];
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    if ((argc != 5 && argc != 7) || n < 2 || (win = atol(argv[2])) < 1 || win > 1024) {
        if (rank == 0)
            fprintf(stderr,
                    "usage: mpirun -np N>=2 %s P2P_BYTES WINDOW AR_BYTES SAMPLES "
                    "[P2P_ITERS AR_ITERS]\n",
                    argv[0]);
        MPI_Finalize();
        return 2;
    }
    pb = strtoull(argv[1], NULL, 10);
    ab = strtoull(argv[3], NULL, 10) / (4 * (size_t)n) * (4 * (size_t)n);
    int samples = atoi(argv[4]) < 1 ? 1 : atoi(argv[4]) > 64 ? 64 : atoi(argv[4]);
    sbuf = page_alloc(pb);
    rbuf = page_alloc(pb * (size_t)win);
    as = page_alloc(ab);
    ar = page_alloc(ab);
    memset(sbuf, 1, pb);
    memset(rbuf, 0, pb * (size_t)win);
    for (size_t i = 0; i < ab / 4; i++)
        as[i] = 1.0f, ar[i] = 0.0f;
    long ip = argc == 7 ? atol(argv[5]) : 0, ia = argc == 7 ? atol(argv[6]) : 0;
    double tp = measure(p2p, samples, &ip), ta = measure(allreduce, samples, &ia);
    if (rank == 0)
        printf("p2p_bandwidth %.6g\nall_reduce_busbw %.6g\niters %ld %ld\n",
               (double)win * (double)pb / tp, (double)ab / ta * 2.0 * (n - 1) / n, ip, ia);
    free(sbuf), free(rbuf), free(as), free(ar);
    MPI_Finalize();
    return 0;
}
