/* SPDX-License-Identifier: MIT */
/* OpenMP when the compiler has it (AB_OPENMP=AUTO found it); a one-thread stand-in otherwise, so
 * the CPU backend still builds and runs, serially. */
#ifndef AB_OMP_COMPAT_H
#define AB_OMP_COMPAT_H

#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void)
{
    return 0;
}
static inline int omp_get_num_threads(void)
{
    return 1;
}
static inline int omp_get_max_threads(void)
{
    return 1;
}
static inline void omp_set_dynamic(int x)
{
    (void)x;
}
#endif

#endif
