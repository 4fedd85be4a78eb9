/* SPDX-License-Identifier: MIT */
/*
 * fabric suite: exchanges between the ranks of an MPI job on host memory (README, "Clusters:
 * MPI, Slurm, Kubernetes"). fabric.c is the descriptor, the plan and the skips (built always);
 * fabric_mpi.c the cases, their timing across ranks and their validation (built with MPI).
 */
#ifndef AB_FABRIC_H
#define AB_FABRIC_H

#include "../case.h"

#include <stdint.h>

typedef struct ab_fabric_plan {
    uint64_t *sizes; /* collective sizes, bytes (nccl-tests' "size") */
    size_t nsizes;
    uint64_t p2p_size; /* bytes per point-to-point message */
    long window;       /* messages in flight per point-to-point iteration */
} ab_fabric_plan;

/* Every case for an MPI job of two or more ranks (fabric_mpi.c). */
int ab_fabric_generate(ab_caselist *l, const ab_fabric_plan *p, char *err);

#endif
