/* SPDX-License-Identifier: MIT */
/*
 * tokens: what a token emits. The grid's carbon intensity (gCO2e per kWh) comes from a carbon
 * sheet (data/carbon-intensity.csv or --carbon-sheet) matched to --region or to the region the
 * probes detected (the manifest's cloud.region); gCO2e per 1M tokens = 1e6 / (tokens per kWh) x
 * intensity, with tokens per kWh from the point's measured energy (tokens_cost.c). The energy is
 * the accelerator's as its sampler reports it: no host, no cooling (PUE). A missing figure is
 * absent with a reason, never zero.
 */
#include "../../core/ab.h"
#include "../../core/carbon.h"
#include "../../probes/probe.h"
#include "tokens_suite.h"

#include <math.h>
#include <stdio.h>

int ab_tok_carbon_check(const ab_tok_opts *o, char *err)
{
    ab_carbon cs;
    if (ab_carbon_load(o->carbon_sheet, &cs, err) != 0) return -1;
    int rc = 0;
    ab_carbon_row row;
    char why[AB_ERRLEN];
    if (o->region && ab_carbon_lookup(&cs, NULL, o->region, &row, why) != 0)
        rc = ab_err(err, "--region: %s", why);
    ab_carbon_free(&cs);
    return rc;
}

/* the region: --region, else the manifest's cloud.region field (with its source) */
static bool pick_region(const ab_tok_opts *o, const ab_suite_ctx *ctx, ab_tok_carbon *out)
{
    if (o->region) {
        snprintf(out->region, sizeof(out->region), "%s", o->region);
        snprintf(out->region_source, sizeof(out->region_source), "command line (--region)");
        return true;
    }
    const json_t *cloud = json_object_get(ctx->manifest, "cloud");
    const json_t *f = json_object_get(cloud, "region");
    const char *v = json_string_value(ab_field_value(f));
    if (v && *v) {
        const char *src = json_string_value(json_object_get(f, "source"));
        snprintf(out->region, sizeof(out->region), "%s", v);
        snprintf(out->region_source, sizeof(out->region_source), "%s",
                 src ? src : "the probes (manifest cloud.region)");
        return true;
    }
    const char *why = json_string_value(json_object_get(f, "reason"));
    snprintf(out->why, sizeof(out->why),
             "region unknown (%s): give --region with a cloud region or ISO country code of "
             "data/carbon-intensity.csv",
             why ? why : "no cloud.region in the manifest");
    return false;
}

void ab_tok_resolve_carbon(const ab_tok_opts *o, const ab_suite_ctx *ctx, ab_tok_carbon *out)
{
    memset(out, 0, sizeof(*out));
    if (!pick_region(o, ctx, out)) return;
    ab_carbon cs;
    char err[AB_ERRLEN];
    if (ab_carbon_load(o->carbon_sheet, &cs, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
        return;
    }
    const char *prov = json_string_value(
        ab_field_value(json_object_get(json_object_get(ctx->manifest, "cloud"), "provider")));
    ab_carbon_row row;
    /* the detected provider narrows the match; a --region is taken as the user wrote it */
    if (ab_carbon_lookup(&cs, o->region ? NULL : prov, out->region, &row, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
    } else {
        out->ok = true;
        out->g_per_kwh = row.g_per_kwh;
        snprintf(out->source, sizeof(out->source), "%s (%s:%d: %s %s%s%s)", row.source, row.file,
                 row.line, row.scope, *row.provider ? row.provider : "", *row.provider ? " " : "",
                 row.region);
        snprintf(out->date, sizeof(out->date), "%s", row.date);
        snprintf(out->matched, sizeof(out->matched), "%s%s%s", row.provider,
                 *row.provider ? " " : "", row.region);
    }
    ab_carbon_free(&cs);
}

json_t *ab_tok_carbon_json(const ab_tok_carbon *cb, const json_t *energy)
{
    json_t *c = json_object();
    const json_t *tpk = json_object_get(energy, "tokens_per_kwh");
    const char *ewhy = json_string_value(json_object_get(energy, "reason"));
    char why[AB_ERRLEN + 64];
    if (!json_is_number(tpk) || !(json_number_value(tpk) > 0)) {
        snprintf(why, sizeof(why), "no energy figure (%s)", ewhy ? ewhy : "none measured");
    } else if (!cb->ok) {
        snprintf(why, sizeof(why), "%s", cb->why);
    } else {
        double g = ab_carbon_per_mtok(json_number_value(tpk), cb->g_per_kwh);
        json_object_set_new(c, "region", json_string(cb->region));
        json_object_set_new(c, "region_source", json_string(cb->region_source));
        json_object_set_new(c, "g_co2e_per_kwh", json_real(cb->g_per_kwh));
        json_object_set_new(c, "source", json_string(cb->source));
        json_object_set_new(c, "date", json_string(cb->date));
        json_object_set_new(c, "matched", json_string(cb->matched));
        json_object_set_new(c, "g_co2e_per_mtok", json_real(g));
        json_object_set_new(c, "formula",
                            json_string("gCO2e per 1M tokens = 1e6 / (tokens per kWh) x grid "
                                        "intensity (gCO2e/kWh); the accelerator's measured "
                                        "energy only (no host, no PUE)"));
        return c;
    }
    json_object_set_new(c, "status", json_string("unavailable"));
    json_object_set_new(c, "reason", json_string(why));
    return c;
}
