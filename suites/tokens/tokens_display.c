/* SPDX-License-Identifier: MIT */
/* How summary.md and the charts show the tokens suite: its table of tokens per second, per dollar
 * and per kWh, and the parameters that label a point. The runners read this declaration; they
 * name no suite. */
#include "../suite.h"

#include <stdio.h>
#include <string.h>

extern const ab_suite_display ab_tokens_display;

/* "prefill 1024" or "decode b8 @ 4096" */
static void point_label(const ab_result *r, char *buf, size_t len)
{
    bool prefill = r->key && strcmp(r->key, "tokens.prefill") == 0;
    json_int_t batch = json_integer_value(json_object_get(r->params, "batch"));
    json_int_t n =
        json_integer_value(json_object_get(r->params, prefill ? "input_len" : "context"));
    if (prefill)
        snprintf(buf, len, "prefill %lld", (long long)n);
    else
        snprintf(buf, len, "decode b%lld @ %lld", (long long)batch, (long long)n);
}

#define FROM(...) ((const char *const[]){__VA_ARGS__, NULL})

static const ab_summary_col cols[] = {
    {"device", FROM("device"), AB_COL_TEXT},
    {"model", FROM("param:model"), AB_COL_TEXT},
    {"dtype", FROM("param:dtype"), AB_COL_TEXT},
    {"point", NULL, AB_COL_LABEL},
    {"$/hour", FROM("extra:cost.usd_per_hour"), AB_COL_USD},
    {"tok/s", FROM("metric:tokens_per_s"), AB_COL_NUM},
    {"TTFT/TPOT p50", FROM("metric:ttft", "metric:tpot"), AB_COL_TIME},
    {"tok/s/user", FROM("metric:tokens_per_s_per_user"), AB_COL_NUM},
    {"tokens per $", FROM("extra:cost.tokens_per_usd"), AB_COL_NUM},
    {"$ per Mtok", FROM("extra:cost.usd_per_mtok"), AB_COL_NUM},
    {"tokens per kWh", FROM("extra:energy.tokens_per_kwh"), AB_COL_NUM},
    {"gCO₂e per Mtok", FROM("extra:carbon.g_co2e_per_mtok"), AB_COL_NUM},
    {"% roofline (measured)", FROM("extra:roofline.measured.fraction"), AB_COL_PCT},
    {"% roofline (datasheet)", FROM("extra:roofline.datasheet.fraction"), AB_COL_PCT},
    {NULL, NULL, AB_COL_TEXT},
};

static const ab_summary_note notes[] = {
    {"scaling", "extra:scaling"},
    {"no price", "extra:cost.reason"},
    {"no energy", "extra:energy.reason"},
    {"no carbon figure", "extra:carbon.reason"},
    {"no datasheet roofline", "extra:roofline.datasheet.reason"},
    {NULL, NULL},
};

static const ab_summary_table table = {
    .title = "Tokens per second, per dollar, per kWh",
    .cols = cols,
    .notes = notes,
    .label = point_label,
};

/* chart labels tell a prefill point by its input length, a decode point by batch and context */
static const char *const label_params[] = {"input_len", "batch", "context", NULL};

/* prefill over the input length, decode over the context and the batch */
static const ab_sweep_decl sweeps[] = {
    {"tokens.prefill", "input_len", false},
    {"tokens.decode", "context", false},
    {"tokens.decode", "batch", false},
    {NULL, NULL, false},
};

const ab_suite_display ab_tokens_display = {
    .label_params = label_params, .table = &table, .sweeps = sweeps};
