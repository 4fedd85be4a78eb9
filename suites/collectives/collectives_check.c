/* SPDX-License-Identifier: MIT */
/* The collectives' input pattern and host reference (coll_suite.h). */
#include "coll_suite.h"

#include <stdlib.h>

const char *ab_coll_op_name(ab_coll_op op)
{
    static const char *const names[AB_COLL_NOPS] = {
        "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "sendrecv",
    };
    return op < AB_COLL_NOPS ? names[op] : "?";
}

size_t ab_coll_send_count(ab_coll_op op, size_t count, int n)
{
    return op == AB_COLL_REDUCE_SCATTER || op == AB_COLL_ALL_TO_ALL ? (size_t)n * count : count;
}

size_t ab_coll_recv_count(ab_coll_op op, size_t count, int n)
{
    return op == AB_COLL_ALL_GATHER || op == AB_COLL_ALL_TO_ALL ? (size_t)n * count : count;
}

float ab_coll_input(int rank, size_t i)
{
    uint64_t m = (i + (uint64_t)rank * 7919u) % AB_COLL_PERIOD;
    return (float)(int)(m % 23u) - 11.0f;
}

float *ab_coll_sum_table(int n)
{
    float *t = malloc(AB_COLL_PERIOD * sizeof(float));
    for (size_t i = 0; t && i < AB_COLL_PERIOD; i++) {
        long s = 0;
        for (int r = 0; r < n; r++)
            s += (long)ab_coll_input(r, i);
        t[i] = (float)s;
    }
    return t;
}

float ab_coll_expected(ab_coll_op op, const float *sums, int n, int r, int root, size_t count,
                       size_t i)
{
    switch (op) {
    case AB_COLL_ALL_REDUCE:
        return sums[i % AB_COLL_PERIOD];
    case AB_COLL_ALL_GATHER:
        return ab_coll_input((int)(i / count), i % count);
    case AB_COLL_REDUCE_SCATTER:
        return sums[((size_t)r * count + i) % AB_COLL_PERIOD];
    case AB_COLL_ALL_TO_ALL:
        /* chunk j of rank r is chunk r of rank j's send buffer */
        return ab_coll_input((int)(i / count), (size_t)r * count + i % count);
    case AB_COLL_BROADCAST:
        return ab_coll_input(root, i);
    case AB_COLL_SENDRECV:
        return ab_coll_input((r + n - 1) % n, i);
    case AB_COLL_NOPS:
        break;
    }
    return 0;
}
