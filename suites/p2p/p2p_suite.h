/* SPDX-License-Identifier: MIT */
/* The p2p suite's pieces shared by its files (p2p.c: descriptor, plan, pairs; p2p_node.c:
 * all-to-one and one-to-all). */
#ifndef AB_P2P_SUITE_H
#define AB_P2P_SUITE_H

#include "../case.h"
#include "p2p.h"

/* Word i of the pattern device `dev`'s source buffer holds. */
uint32_t ab_p2p_pattern(size_t i, int dev);
/* Writes `bytes` of dev_pattern's pattern (or its bitwise complement: what must be overwritten)
 * into d's memory mem at byte offset off, and waits. */
int ab_p2p_fill(const ab_device *d, void *mem, size_t off, size_t bytes, int dev_pattern,
                bool complement, char *err);
/* Reads `bytes` at off back and counts the words that differ from dev_pattern's pattern
 * (*wrong, the first at *first when any). */
int ab_p2p_check(const ab_device *d, void *mem, size_t off, size_t bytes, int dev_pattern,
                 size_t *wrong, size_t *first, char *err);
/* The largest of n seconds. */
double ab_p2p_max(const double *s, size_t n);

/* The all-to-one and one-to-all group over every device of the context (p2p_node.c). */
int ab_p2p_add_node(ab_caselist *l, const ab_p2p_impl *impl, uint64_t size);

#endif
