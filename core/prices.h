/* SPDX-License-Identifier: MIT */
/*
 * Price sheets (data/prices.csv or --price-sheet FILE): what an hour of an accelerator costs,
 * each row with its source and date, matched to the machine a run happens on.
 */
#ifndef AB_PRICES_H
#define AB_PRICES_H

#include "table.h"

typedef struct ab_prices {
    ab_table t;
} ab_prices;

typedef struct ab_price {
    double usd_per_device_hour; /* usd_per_hour / count */
    const char *provider, *instance_type, *terms, *source, *date, *notes;
    const char *file;
    int line;
} ab_price;

/* path NULL: the shipped sheet. Every row needs provider, instance_type, accelerator, source and
 * date; count must be a whole number >= 1 and usd_per_hour a positive number. Errors name the
 * file, the line and the column. */
int ab_prices_load(const char *path, ab_prices *p, char *err);
void ab_prices_free(ab_prices *p);

/*
 * The price of one hour of `device_name` on this machine: the first row whose instance_type
 * equals `instance_type` (case-insensitive) and whose accelerator patterns fit the device; else,
 * with a known `provider`, the first row of that provider whose accelerator fits. Without a
 * provider nothing is guessed. Returns 0 and fills *out, or -1 with the reason in why.
 */
int ab_prices_lookup(const ab_prices *p, const char *provider, const char *instance_type,
                     const char *device_name, ab_price *out, char *why);

#endif
