/* SPDX-License-Identifier: MIT */
/* How summary.md and the charts show the train suite: a training table beside the tokens
 * suite's inference table (same device, model and cost columns, so the two read side by side),
 * and the parameters that label a point. The runners read this declaration; they name no
 * suite. */
#include "../suite.h"

#include <stdio.h>
#include <string.h>

extern const ab_suite_display ab_train_display;

/* "train 4x1024" (micro-batch x sequence length) */
static void point_label(const ab_result *r, char *buf, size_t len)
{
    json_int_t mb = json_integer_value(json_object_get(r->params, "micro_batch"));
    json_int_t seq = json_integer_value(json_object_get(r->params, "seq"));
    snprintf(buf, len, "train %lldx%lld", (long long)mb, (long long)seq);
}

#define FROM(...) ((const char *const[]){__VA_ARGS__, NULL})

static const ab_summary_col cols[] = {
    {"device", FROM("device"), AB_COL_TEXT},
    {"model", FROM("param:model"), AB_COL_TEXT},
    {"dtype", FROM("param:dtype"), AB_COL_TEXT},
    {"point", NULL, AB_COL_LABEL},
    {"$/hour", FROM("extra:cost.usd_per_hour"), AB_COL_USD},
    {"train tok/s", FROM("metric:tokens_per_s"), AB_COL_NUM},
    {"step p50", FROM("extra:step.p50_s"), AB_COL_TIME},
    {"step p99", FROM("extra:step.p99_s"), AB_COL_TIME},
    {"$ per 1M train tok", FROM("extra:cost.usd_per_mtok"), AB_COL_NUM},
    {"tokens per kWh", FROM("extra:energy.tokens_per_kwh"), AB_COL_NUM},
    {"MFU (measured GEMM)", FROM("extra:mfu.measured.fraction"), AB_COL_PCT},
    {"MFU (datasheet)", FROM("extra:mfu.datasheet.fraction"), AB_COL_PCT},
    {NULL, NULL, AB_COL_TEXT},
};

static const ab_summary_note notes[] = {
    {"scaling", "extra:scaling"},
    {"FLOPs per token", "extra:flops.formula"},
    {"no price", "extra:cost.reason"},
    {"no energy", "extra:energy.reason"},
    {"no datasheet MFU", "extra:mfu.datasheet.reason"},
    {NULL, NULL},
};

static const ab_summary_table table = {
    .title = "Training: tokens per second, MFU, $ per 1M training tokens, per kWh",
    .cols = cols,
    .notes = notes,
    .label = point_label,
};

static const char *const label_params[] = {"seq", "micro_batch", NULL};

const ab_suite_display ab_train_display = {.label_params = label_params, .table = &table};
