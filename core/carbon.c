/* SPDX-License-Identifier: MIT */
#include "carbon.h"

#include "ab.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int check_row(const ab_table *t, size_t r, const char *path, char *err)
{
    int line = t->line[r];
    static const char *const need[] = {"scope", "region", "g_co2e_per_kwh", "source", "date", NULL};
    for (size_t i = 0; need[i]; i++)
        if (!*ab_table_get(t, r, need[i]))
            return ab_err(err, "%s:%d: %s is empty", path, line, need[i]);
    const char *scope = ab_table_get(t, r, "scope");
    bool cloud = strcmp(scope, "cloud-region") == 0;
    if (!cloud && strcmp(scope, "country") != 0)
        return ab_err(err, "%s:%d: scope: '%s' is neither cloud-region nor country", path, line,
                      scope);
    if (cloud && !*ab_table_get(t, r, "provider"))
        return ab_err(err, "%s:%d: provider is empty (a cloud-region row needs one)", path, line);
    const char *g = ab_table_get(t, r, "g_co2e_per_kwh");
    char *end;
    double v = strtod(g, &end);
    if (end == g || *end || !isfinite(v) || v < 0)
        return ab_err(err, "%s:%d: g_co2e_per_kwh: '%s' is not a number >= 0", path, line, g);
    return 0;
}

int ab_carbon_load(const char *path, ab_carbon *c, char *err)
{
    char def[4096];
    if (!path) {
        if (ab_data_path("carbon-intensity.csv", def, sizeof(def), err) != 0) return -1;
        path = def;
    }
    if (ab_table_load(path, &c->t, err) != 0) return -1;
    static const char *const required[] = {"scope",  "provider", "region", "g_co2e_per_kwh",
                                           "source", "date",     NULL};
    if (ab_table_require(&c->t, required, err) != 0) goto fail;
    for (size_t r = 0; r < c->t.nrows; r++)
        if (check_row(&c->t, r, path, err) != 0) goto fail;
    return 0;
fail:
    ab_table_free(&c->t);
    return -1;
}

void ab_carbon_free(ab_carbon *c)
{
    ab_table_free(&c->t);
}

/* region == want, or want is a zone of region: "<region>-<letter>" (GCP) or "<region><letter>"
 * (AWS) */
static bool region_match(const char *region, const char *want)
{
    size_t n = strlen(region);
    if (strncasecmp(region, want, n) != 0) return false;
    const char *rest = want + n;
    if (!*rest) return true;
    if (*rest == '-') rest++;
    return isalpha((unsigned char)rest[0]) && !rest[1];
}

static void fill(const ab_carbon *c, size_t r, ab_carbon_row *out)
{
    const ab_table *t = &c->t;
    out->g_per_kwh = strtod(ab_table_get(t, r, "g_co2e_per_kwh"), NULL);
    out->scope = ab_table_get(t, r, "scope");
    out->provider = ab_table_get(t, r, "provider");
    out->region = ab_table_get(t, r, "region");
    out->basis = ab_table_get(t, r, "basis");
    out->source = ab_table_get(t, r, "source");
    out->date = ab_table_get(t, r, "date");
    out->notes = ab_table_get(t, r, "notes");
    out->file = t->path;
    out->line = t->line[r];
}

int ab_carbon_lookup(const ab_carbon *c, const char *provider, const char *region,
                     ab_carbon_row *out, char *why)
{
    if (!region || !*region) return ab_err(why, "no region to match");
    const ab_table *t = &c->t;
    bool any_provider = !provider || !*provider || strcmp(provider, "none") == 0;
    for (size_t r = 0; r < t->nrows; r++)
        if (strcmp(ab_table_get(t, r, "scope"), "cloud-region") == 0 &&
            (any_provider || strcasecmp(ab_table_get(t, r, "provider"), provider) == 0) &&
            region_match(ab_table_get(t, r, "region"), region)) {
            fill(c, r, out);
            return 0;
        }
    for (size_t r = 0; r < t->nrows; r++)
        if (strcmp(ab_table_get(t, r, "scope"), "country") == 0 &&
            strcasecmp(ab_table_get(t, r, "region"), region) == 0) {
            fill(c, r, out);
            return 0;
        }
    return ab_err(why,
                  "region '%.64s'%s%.32s%s is not in %s: give --region with a region or ISO "
                  "country code the sheet has, or --carbon-sheet FILE with the row "
                  "cloud-region,PROVIDER,%.64s,G_CO2E_PER_KWH,BASIS,SOURCE,DATE,",
                  region, any_provider ? "" : " (", any_provider ? "" : provider,
                  any_provider ? "" : ")", t->path, region);
}

double ab_carbon_per_mtok(double tokens_per_kwh, double g_per_kwh)
{
    if (!(tokens_per_kwh > 0) || !isfinite(g_per_kwh)) return NAN;
    return 1e6 / tokens_per_kwh * g_per_kwh;
}
