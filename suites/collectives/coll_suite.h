/* SPDX-License-Identifier: MIT */
/* The collectives suite's own pieces shared by its files (collectives.c: descriptor, plan,
 * sweep; collectives_check.c: the input pattern and the host reference). */
#ifndef AB_COLL_SUITE_H
#define AB_COLL_SUITE_H

#include "collectives.h"

#include <stdint.h>

/* nccl-tests' names, the case keys' last part */
const char *ab_coll_op_name(ab_coll_op op);

/* Elements of one rank's send and receive buffers for `count` (collectives.h). */
size_t ab_coll_send_count(ab_coll_op op, size_t count, int n);
size_t ab_coll_recv_count(ab_coll_op op, size_t count, int n);

/* The input pattern: element i of rank r's send buffer. Small integers, so every sum over up to
 * 2^20 ranks is exact in f32 in any order, and the reference is exact (a wrong element is one
 * that differs at all). The period in i is a prime above 2^20, so a chunk moved to another
 * place or taken from another rank changes the values. */
float ab_coll_input(int rank, size_t i);
#define AB_COLL_PERIOD 1048583u

/* The sums over n ranks of ab_coll_input(r, i) for i in [0, AB_COLL_PERIOD): for all_reduce and
 * reduce_scatter. NULL on out of memory. */
float *ab_coll_sum_table(int n);

/* What rank r must hold at element i after op (root for broadcast). */
float ab_coll_expected(ab_coll_op op, const float *sums, int n, int r, int root, size_t count,
                       size_t i);

/* Across the ranks of an MPI job (collectives_job.c, built with MPI; every rank calls them in
 * the same order). The communicator of this rank on device `ordinal` (0, AB_COLL_SKIP, -1 with
 * why: the same outcome on every rank, the reason of the rank that failed). */
int ab_coll_job_open(const ab_coll_impl *im, int ordinal, ab_coll_comm **comm, char *why);
/* The smallest v of the ranks. */
uint64_t ab_coll_job_min(uint64_t v);
/* The ranks' wrong and checked counts summed; msg: the first wrong rank's message. */
int ab_coll_job_combine(unsigned long long *wrong, unsigned long long *checked, char *msg,
                        size_t len);

#endif
