/* SPDX-License-Identifier: MIT */
/*
 * Grid carbon intensity sheets (data/carbon-intensity.csv or --carbon-sheet FILE): grams of
 * CO2-equivalent per kWh per cloud region and per country, each row with its source and date,
 * matched to the region a run happens in.
 */
#ifndef AB_CARBON_H
#define AB_CARBON_H

#include "table.h"

typedef struct ab_carbon {
    ab_table t;
} ab_carbon;

typedef struct ab_carbon_row {
    double g_per_kwh;
    const char *scope, *provider, *region, *basis, *source, *date, *notes;
    const char *file;
    int line;
} ab_carbon_row;

/* path NULL: the shipped sheet. Every row needs scope (cloud-region or country), region,
 * g_co2e_per_kwh (a number >= 0), source and date; a cloud-region row also a provider. Errors
 * name the file, the line and the column. */
int ab_carbon_load(const char *path, ab_carbon *c, char *err);
void ab_carbon_free(ab_carbon *c);

/*
 * The intensity for `region`: the first cloud-region row whose region equals it, or is the
 * region of that zone ("us-central1-a", "us-east-1a"), and whose provider equals `provider`
 * (any provider when provider is NULL or empty); else the first country row whose code equals
 * it. Case-insensitive. Returns 0 and fills *out, or -1 with the reason in why.
 */
int ab_carbon_lookup(const ab_carbon *c, const char *provider, const char *region,
                     ab_carbon_row *out, char *why);

/* gCO2e per 1M tokens from tokens per kWh and the intensity: 1e6 / tokens_per_kwh x g/kWh. */
double ab_carbon_per_mtok(double tokens_per_kwh, double g_per_kwh);

#endif
