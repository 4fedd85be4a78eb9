/* SPDX-License-Identifier: MIT */
/*
 * The collectives suite across the ranks of an MPI job (built with MPI): one device per rank,
 * NCCL's way of making one communicator from many processes -- rank 0 calls ncclGetUniqueId,
 * the id goes to every rank with MPI_Bcast, every rank calls ncclCommInitRank with it -- and the
 * validation's counts combined over the ranks. Every step is a meeting point of all ranks
 * (bounded by --rank-timeout: ab_job_agree, ab_job_watch), and a failure on one rank is every
 * rank's, with that rank's reason.
 */
#include "coll_suite.h"

#include "../../runners/mpi_job.h"
#include "../case.h"

#include <stdio.h>
#include <string.h>

#define WHY_LEN 256

/* Every rank's status (0 ok, 1 skip, 2 error) combined: the worst, with the reason of the first
 * rank that has it in why. */
static int agree_why(int status, char *why)
{
    int worst = ab_job_agree(status);
    if (ab_job_broken()) return ab_err(why, "%s", ab_job_broken()), 2;
    if (worst == 0) return 0;
    struct {
        int status, rank;
    } in = {status == worst ? 0 : 1, ab_job_rank()}, out = {0, 0};
    char msg[WHY_LEN] = "";
    ab_job_watch("the collectives' communicator setup");
    MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, ab_job_comm());
    if (out.rank == ab_job_rank()) snprintf(msg, sizeof(msg), "%s", why);
    MPI_Bcast(msg, WHY_LEN, MPI_CHAR, out.rank, ab_job_comm());
    ab_job_unwatch();
    if (out.rank == ab_job_rank()) return worst;
    ab_err(why, "rank %d: %s", out.rank, msg);
    return worst;
}

static int outcome(int status)
{
    return status == 0 ? 0 : status == 1 ? AB_COLL_SKIP : -1;
}

int ab_coll_job_open(const ab_coll_impl *im, int ordinal, ab_coll_comm **comm, char *why)
{
    *comm = NULL;
    int rc = im->job_load(comm, why);
    int st = agree_why(rc == 0 ? 0 : rc == AB_COLL_SKIP ? 1 : 2, why);
    if (st != 0) {
        if (*comm) im->close(*comm);
        *comm = NULL;
        return outcome(st);
    }
    struct {
        int ok;
        char why[WHY_LEN];
        unsigned char id[AB_COLL_ID_BYTES];
    } msg;
    memset(&msg, 0, sizeof(msg));
    if (ab_job_rank() == 0) msg.ok = im->job_id(*comm, msg.id, sizeof(msg.id), msg.why) == 0;
    ab_job_watch("the collectives' unique id (MPI_Bcast)");
    MPI_Bcast(&msg, (int)sizeof(msg), MPI_BYTE, 0, ab_job_comm());
    ab_job_unwatch();
    if (!msg.ok) {
        im->close(*comm);
        *comm = NULL;
        return ab_err(why, "rank 0: %s", msg.why);
    }
    ab_job_watch("ncclCommInitRank across the ranks");
    rc = im->job_init(*comm, ordinal, ab_job_size(), ab_job_rank(), msg.id, why);
    ab_job_unwatch();
    st = agree_why(rc == 0 ? 0 : 2, why);
    if (st != 0) {
        im->close(*comm);
        *comm = NULL;
    }
    return outcome(st);
}

uint64_t ab_coll_job_min(uint64_t v)
{
    uint64_t out = v;
    ab_job_watch("the collectives' buffer limit");
    MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, MPI_MIN, ab_job_comm());
    ab_job_unwatch();
    return out;
}

int ab_coll_job_combine(unsigned long long *wrong, unsigned long long *checked, char *msg,
                        size_t len)
{
    unsigned long long in[2] = {*wrong, *checked}, out[2] = {0, 0};
    struct {
        int bad, rank;
    } me = {*wrong ? 0 : 1, ab_job_rank()}, first = {1, 0};
    char text[WHY_LEN] = "";
    snprintf(text, sizeof(text), "%s", msg);
    ab_job_watch("the collectives' validation");
    MPI_Allreduce(in, out, 2, MPI_UNSIGNED_LONG_LONG, MPI_SUM, ab_job_comm());
    MPI_Allreduce(&me, &first, 1, MPI_2INT, MPI_MINLOC, ab_job_comm());
    MPI_Bcast(text, WHY_LEN, MPI_CHAR, first.rank, ab_job_comm());
    ab_job_unwatch();
    *wrong = out[0];
    *checked = out[1];
    if (out[0]) snprintf(msg, len, "%s", text);
    return 0;
}
