/* SPDX-License-Identifier: MIT */
/*
 * membw's own declarations shared by its case files (not a public interface): the plan of a
 * device run, the case generators of the kernel and transfer files, capability checks.
 *   membw.c           descriptor, parameters, plan, the size sweep (generation)
 *   membw_kernels.c   the kernel cases: buffers, init, run, corrupt, validate, formulas
 *   membw_transfer.c  the host<->device and device copies
 */
#ifndef AB_MEMBW_CASES_H
#define AB_MEMBW_CASES_H

#include "membw.h"

#include "../case.h"

#include <string.h>

typedef struct ab_membw_plan {
    bool dtype[2];           /* [0] f32, [1] f64 */
    uint64_t *sizes;         /* explicit sizes, or NULL */
    size_t nsizes;
    bool sweep[AB_MB_NKERNELS];
    uint64_t transfer_size;  /* 0: by device */
    /* state of the device run: the host copy for validation, kept across cases (a fresh
     * gigabyte per case would cost more in page faults than the measurement itself) */
    void *scratch;
    size_t scratch_bytes;
} ab_membw_plan;


/* ---- capabilities ---- */

/* the device's cores run the kernels in host memory (no transfers; results readable in place) */
static inline bool ab_membw_host_backend(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

/* Adds every kernel of `kernels` at working set ws for one dtype, both store variants where
 * they exist; with `headline` the better variant of each kernel is the headline. */
int ab_membw_add_size(ab_caselist *l, bool f64, uint64_t ws, const bool *kernels, bool headline);
/* Adds the transfer cases (h2d, d2h pinned and pageable, d2d). */
int ab_membw_add_transfers(ab_caselist *l);

#endif
