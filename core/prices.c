/* SPDX-License-Identifier: MIT */
#include "prices.h"

#include "ab.h"
#include "peaks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ab_prices_load(const char *path, ab_prices *p, char *err)
{
    char def[4096];
    if (!path) {
        if (ab_data_path("prices.csv", def, sizeof(def), err) != 0)
            return -1;
        path = def;
    }
    if (ab_table_load(path, &p->t, err) != 0)
        return -1;
    static const char *const required[] = {"provider", "instance_type", "accelerator", "count",
                                           "usd_per_hour", "source", "date", NULL};
    if (ab_table_require(&p->t, required, err) != 0)
        goto fail;
    for (size_t r = 0; r < p->t.nrows; r++) {
        int line = p->t.line[r];
        for (size_t i = 0; required[i]; i++)
            if (!*ab_table_get(&p->t, r, required[i])) {
                ab_err(err, "%s:%d: %s is empty", path, line, required[i]);
                goto fail;
            }
        const char *c = ab_table_get(&p->t, r, "count");
        char *end;
        errno = 0;
        long count = strtol(c, &end, 10);
        if (*end || errno || count < 1) {
            ab_err(err, "%s:%d: count: '%s' is not a whole number >= 1", path, line, c);
            goto fail;
        }
        const char *u = ab_table_get(&p->t, r, "usd_per_hour");
        double usd = strtod(u, &end);
        if (end == u || *end || !isfinite(usd) || usd <= 0) {
            ab_err(err, "%s:%d: usd_per_hour: '%s' is not a positive number", path, line, u);
            goto fail;
        }
    }
    return 0;
fail:
    ab_table_free(&p->t);
    return -1;
}

void ab_prices_free(ab_prices *p)
{
    ab_table_free(&p->t);
}

static void fill(const ab_prices *p, size_t r, ab_price *out)
{
    const ab_table *t = &p->t;
    out->usd_per_device_hour = strtod(ab_table_get(t, r, "usd_per_hour"), NULL) /
                               (double)strtol(ab_table_get(t, r, "count"), NULL, 10);
    out->provider = ab_table_get(t, r, "provider");
    out->instance_type = ab_table_get(t, r, "instance_type");
    out->terms = ab_table_get(t, r, "terms");
    out->source = ab_table_get(t, r, "source");
    out->date = ab_table_get(t, r, "date");
    out->notes = ab_table_get(t, r, "notes");
    out->file = t->path;
    out->line = t->line[r];
}

/* The price-sheet row that would match (provider, instance type, device): what the reason for a
 * missing price tells the user to add. A CSV cell with a comma or quote is quoted, quotes doubled;
 * control characters (the reason is one line) become spaces. */
static void hint_cell(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    bool quote = strpbrk(s, ",\"") != NULL;
    if (quote && n + 1 < cap) out[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"') out[n++] = '"';
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    }
    if (quote && n + 1 < cap) out[n++] = '"';
    out[n] = '\0';
}

static int no_row(char *why, const char *provider, const char *instance_type, const char *device,
                  const char *what)
{
    char p[48], i[64], d[96];
    hint_cell(p, sizeof(p), provider && *provider ? provider : "PROVIDER");
    hint_cell(i, sizeof(i), instance_type && *instance_type ? instance_type : "INSTANCE");
    hint_cell(d, sizeof(d), device);
    return ab_err(why, "%s: give --price-per-hour USD, or --price-sheet with the row "
                       "%s,%s,%s,COUNT,USD_PER_HOUR,on-demand,SOURCE,DATE,", what, p, i, d);
}

int ab_prices_lookup(const ab_prices *p, const char *provider, const char *instance_type,
                     const char *device_name, ab_price *out, char *why)
{
    if (!device_name || !*device_name)
        return ab_err(why, "no device name to match");
    const ab_table *t = &p->t;
    if (instance_type && *instance_type) {
        for (size_t r = 0; r < t->nrows; r++)
            if (strcasecmp(ab_table_get(t, r, "instance_type"), instance_type) == 0 &&
                ab_peaks_pattern_match(ab_table_get(t, r, "accelerator"), device_name)) {
                fill(p, r, out);
                return 0;
            }
    }
    if (provider && *provider) {
        for (size_t r = 0; r < t->nrows; r++)
            if (strcasecmp(ab_table_get(t, r, "provider"), provider) == 0 &&
                ab_peaks_pattern_match(ab_table_get(t, r, "accelerator"), device_name)) {
                fill(p, r, out);
                return 0;
            }
        return no_row(why, provider, instance_type, device_name, "no row in the price sheet");
    }
    return no_row(why, provider, instance_type, device_name,
                  "cloud provider and instance type unknown, no price is guessed");
}
