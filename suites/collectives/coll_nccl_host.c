/* SPDX-License-Identifier: MIT */
/* coll_nccl.c built by the host compiler into the binary (for the test-only stand-in across an
 * MPI job, coll_standin.c): the GPU plugins compile the same file as CUDA / HIP, and a CMake
 * source carries one language for every target. */
#include "coll_nccl.c"
