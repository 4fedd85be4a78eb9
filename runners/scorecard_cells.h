/* SPDX-License-Identifier: MIT */
/* The scorecard's cells (scorecard_cells.c), for scorecard.c only. */
#ifndef AB_SCORECARD_CELLS_H
#define AB_SCORECARD_CELLS_H

#include "scorecard.h"

/* Every cell of the row (notes name the device, and the run when with_run) of device `dev` of `run`
 * (text never NULL unless out of memory). */
void ab_sc_fill_row(ab_sc_row *row, const ab_run *run, const char *dev, const char *label,
                    const char *name, bool with_run);

#endif
