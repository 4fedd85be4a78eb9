/* SPDX-License-Identifier: MIT */
/*
 * tokens: what a token costs and what it takes in energy. The price of a device-hour comes from
 * --price-per-hour or the price sheet (data/prices.csv) matched to the detected cloud instance;
 * tokens per dollar = tokens/s x 3600 / ($ per device-hour). Energy: the mean power over the
 * layers' measurement window from the run's sampler (NVML/ROCm SMI energy counter, RAPL); tokens
 * per joule = tokens/s / mean power. A missing figure is absent with a reason, never zero.
 */
#include "../../core/ab.h"
#include "../../core/prices.h"
#include "../../probes/probe.h"
#include "tokens_suite.h"

#include <stdio.h>
#include <time.h>

static const char *manifest_str(const json_t *manifest, const char *obj, const char *key)
{
    json_t *v = ab_field_value(json_object_get(json_object_get(manifest, obj), key));
    return json_string_value(v);
}

void ab_tok_resolve_price(const ab_tok_opts *p, const ab_suite_ctx *ctx, ab_tok_price *out)
{
    memset(out, 0, sizeof(*out));
    if (p->price > 0) {
        out->ok = true;
        out->usd_per_hour = p->price;
        snprintf(out->source, sizeof(out->source), "command line (--price-per-hour)");
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(out->date, sizeof(out->date), "%Y-%m-%d", &tmv);
        return;
    }
    ab_prices ps;
    char err[AB_ERRLEN];
    if (ab_prices_load(p->sheet, &ps, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
        return;
    }
    const char *prov = manifest_str(ctx->manifest, "cloud", "provider");
    const char *inst = manifest_str(ctx->manifest, "cloud", "instance_type");
    ab_price pr;
    if (!prov || strcmp(prov, "none") == 0) {
        /* nothing is guessed: the reason names the flags and the row that would fill the cells */
        ab_prices_lookup(&ps, NULL, NULL, ctx->dev->info.name, &pr, err);
        snprintf(out->why, sizeof(out->why), "no cloud instance detected; %s", err);
    } else if (ab_prices_lookup(&ps, prov, inst, ctx->dev->info.name, &pr, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
    } else {
        out->ok = true;
        out->usd_per_hour = pr.usd_per_device_hour;
        snprintf(out->source, sizeof(out->source), "%s (%s:%d: %s %s, %s)", pr.source, pr.file,
                 pr.line, pr.provider, pr.instance_type, pr.terms ? pr.terms : "");
        snprintf(out->date, sizeof(out->date), "%s", pr.date);
        snprintf(out->matched, sizeof(out->matched), "%s %s", pr.provider, pr.instance_type);
    }
    ab_prices_free(&ps);
}

json_t *ab_tok_cost(const ab_tok_price *pr, double tok_s)
{
    json_t *cost = json_object();
    if (pr->ok) {
        json_object_set_new(cost, "usd_per_hour", json_real(pr->usd_per_hour));
        json_object_set_new(cost, "source", json_string(pr->source));
        json_object_set_new(cost, "date", json_string(pr->date));
        if (*pr->matched) json_object_set_new(cost, "matched", json_string(pr->matched));
        double tpd = tok_s * 3600.0 / pr->usd_per_hour;
        json_object_set_new(cost, "tokens_per_usd", json_real(tpd));
        json_object_set_new(cost, "usd_per_mtok", json_real(1e6 / tpd));
        json_object_set_new(cost, "formula",
                            json_string("tokens per $ = tokens/s x 3600 / ($ per device-hour)"));
    } else {
        json_object_set_new(cost, "status", json_string("unavailable"));
        json_object_set_new(cost, "reason", json_string(pr->why));
    }
    return cost;
}

json_t *ab_tok_energy(ab_suite_ctx *ctx, double w0, double w1, double tok_s)
{
    json_t *en = json_object();
    double joules = 0;
    char what[96] = "", ewhy[AB_ERRLEN] = "";
    if (ctx->energy && ctx->energy(ctx, w0, w1, &joules, what, ewhy) == 0 && w1 > w0) {
        double watts = joules / (w1 - w0), tpj = tok_s / watts;
        json_object_set_new(en, "mean_power_w", json_real(watts));
        json_object_set_new(en, "window_s", json_real(w1 - w0));
        json_object_set_new(en, "source", json_string(what));
        json_object_set_new(en, "tokens_per_j", json_real(tpj));
        json_object_set_new(en, "tokens_per_kwh", json_real(tpj * 3.6e6));
        json_object_set_new(en, "formula",
                            json_string("tokens per J = tokens/s / mean power over the layers' "
                                        "measurement window"));
    } else {
        json_object_set_new(en, "status", json_string("unavailable"));
        json_object_set_new(en, "reason",
                            json_string(*ewhy ? ewhy : "the runner samples no energy here"));
    }
    return en;
}
