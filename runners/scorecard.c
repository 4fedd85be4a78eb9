/* SPDX-License-Identifier: MIT */
/* The scorecard (scorecard.h): its rows, one per device with results per run, and its notes;
 * the cells are scorecard_cells.c, the writers scorecard_write.c. */
#include "scorecard.h"

#include "../core/ab.h"
#include "../core/prices.h"
#include "scorecard_cells.h"

#include <stdlib.h>
#include <string.h>

/* ---- the table ---- */

static const char *const titles[AB_SC_NCOLS] = {
    [AB_SC_RUN] = "run",
    [AB_SC_DEVICE] = "device",
    [AB_SC_ACCEL] = "accelerator",
    [AB_SC_INSTANCE] = "provider / instance",
    [AB_SC_PRICE] = ">$/hour",
    [AB_SC_MEMBW] = ">memory bandwidth",
    [AB_SC_GEMM] = ">GEMM (dense)",
    [AB_SC_ATTN_PREFILL] = ">attention prefill p50",
    [AB_SC_ATTN_DECODE] = ">attention decode p50",
    [AB_SC_DECODE_B1] = ">decode batch 1",
    [AB_SC_DECODE_BEST] = ">decode best batch",
    [AB_SC_USD_INFER] = ">$/1M tokens inference",
    [AB_SC_USD_TRAIN] = ">$/1M tokens training",
    [AB_SC_TOK_KWH] = ">tokens per kWh",
    [AB_SC_CO2] = ">gCO₂e per 1M tokens",
};

const char *ab_scorecard_title(ab_sc_col c)
{
    const char *t = c < AB_SC_NCOLS ? titles[c] : "";
    return t + (t[0] == '>');
}

/* No result of the run recorded a price (the tokens suite did not run): the price sheet's row
 * for the instance the manifest names, looked up now and said so in the note. */
static void price_from_sheet(ab_sc_cell *c, const ab_run *run, const char *name)
{
    if (!c->text || strcmp(c->text, "not run") != 0) return;
    const json_t *cl = json_object_get(run->manifest, "cloud");
    const char *prov = json_string_value(json_object_get(json_object_get(cl, "provider"), "value"));
    const char *inst =
        json_string_value(json_object_get(json_object_get(cl, "instance_type"), "value"));
    if (!prov || strcmp(prov, "none") == 0 || !name) return;
    ab_prices ps;
    ab_price pr;
    char why[AB_ERRLEN];
    if (ab_prices_load(NULL, &ps, why) != 0) return;
    if (ab_prices_lookup(&ps, prov, inst, name, &pr, why) == 0) {
        char *note = ab_asprintf("no result of the run recorded a price; looked up when this "
                                 "table was written: %s:%d (%s %s, %s), %s, %s",
                                 pr.file, pr.line, pr.provider, pr.instance_type,
                                 pr.terms ? pr.terms : "", pr.source, pr.date);
        free(c->text);
        free(c->note);
        c->text = ab_asprintf("$%.2f", pr.usd_per_device_hour);
        c->note = note;
        c->missing = false;
    }
    ab_prices_free(&ps);
}

/* the devices of a run that have results: devices[] order, then any other result device with
 * a model name (documents without devices[]) */
static size_t run_devices(const ab_run *run, const char **ids, const char **names, size_t cap)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *v;
        json_array_foreach(run->devices, i, v)
        {
            const char *id = json_string_value(json_object_get(v, "id"));
            for (size_t k = 0; pass == 0 && id && k < run->nresults && n < cap; k++)
                if (run->results[k]->device && !strcmp(run->results[k]->device, id)) {
                    ids[n] = id;
                    names[n++] = run->results[k]->device_name
                                     ? run->results[k]->device_name
                                     : json_string_value(json_object_get(v, "name"));
                    break;
                }
        }
        for (size_t k = 0; pass == 1 && k < run->nresults && n < cap; k++) {
            const ab_result *r = run->results[k];
            bool seen = !r->device || !r->device_name;
            for (size_t j = 0; j < n && !seen; j++)
                seen = !strcmp(ids[j], r->device);
            if (!seen) ids[n] = r->device, names[n++] = r->device_name;
        }
    }
    return n;
}

static int add_note(ab_scorecard *sc, const char *note)
{
    for (size_t i = 0; i < sc->nnotes; i++)
        if (!strcmp(sc->notes[i], note)) return 0;
    char **v = realloc(sc->notes, (sc->nnotes + 1) * sizeof(*v));
    if (!v) return -1;
    sc->notes = v;
    return (sc->notes[sc->nnotes] = ab_strdup(note)) ? (sc->nnotes++, 0) : -1;
}

int ab_scorecard_build(const ab_run *const *runs, size_t n, char *const *labels, ab_scorecard *sc,
                       char *err)
{
    memset(sc, 0, sizeof(*sc));
    sc->with_run = n > 1;
    for (size_t j = 0; j < n; j++) {
        const ab_run *run = runs[j];
        size_t cap = run->nresults + 1;
        const char **ids = calloc(cap, sizeof(*ids)), **names = calloc(cap, sizeof(*names));
        size_t nd = ids && names ? run_devices(run, ids, names, cap) : 0;
        ab_sc_row *rows =
            ids && names ? realloc(sc->rows, (sc->nrows + nd + 1) * sizeof(*rows)) : NULL;
        if (!rows) {
            free(ids);
            free(names);
            ab_scorecard_free(sc);
            return ab_err(err, "out of memory");
        }
        sc->rows = rows;
        for (size_t k = 0; k < nd; k++) {
            ab_sc_row *row = &sc->rows[sc->nrows++];
            memset(row, 0, sizeof(*row));
            ab_sc_fill_row(row, run, ids[k],
                           labels    ? labels[j]
                           : run->id ? run->id
                                     : "run",
                           names[k], sc->with_run);
            price_from_sheet(&row->cell[AB_SC_PRICE], run, names[k]);
        }
        free(ids);
        free(names);
    }
    for (size_t r = 0; r < sc->nrows; r++)
        for (int c = sc->with_run ? 0 : 1; c < AB_SC_NCOLS; c++) {
            const ab_sc_cell *x = &sc->rows[r].cell[c];
            if (!x->text || (x->note && add_note(sc, x->note) != 0)) {
                ab_scorecard_free(sc);
                return ab_err(err, "out of memory");
            }
        }
    return 0;
}

void ab_scorecard_free(ab_scorecard *sc)
{
    for (size_t r = 0; r < sc->nrows; r++)
        for (int c = 0; c < AB_SC_NCOLS; c++) {
            free(sc->rows[r].cell[c].text);
            free(sc->rows[r].cell[c].note);
        }
    for (size_t i = 0; i < sc->nnotes; i++)
        free(sc->notes[i]);
    free(sc->notes);
    free(sc->rows);
    memset(sc, 0, sizeof(*sc));
}

size_t ab_scorecard_note_index(const ab_scorecard *sc, size_t row, ab_sc_col c)
{
    const char *note = row < sc->nrows ? sc->rows[row].cell[c].note : NULL;
    for (size_t i = 0; note && i < sc->nnotes; i++)
        if (!strcmp(sc->notes[i], note)) return i + 1;
    return 0;
}
