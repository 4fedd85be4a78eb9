/* SPDX-License-Identifier: MIT */
/*
 * The scorecard (runners/scorecard.c) over synthetic run documents whose cells are known: the
 * figure each column picks, the note saying where it came from, the one-word reason of a
 * missing cell, the Markdown / text / HTML renderings (escaping), compare across runs; and the
 * carbon sheet (core/carbon.c): the shipped rows, region and zone matching, malformed rows.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/carbon.h"
#include "helpers.h"
#include "runners/output.h"
#include "runners/scorecard.h"
#include "suites/tokens/tokens_suite.h"
#include "synthetic.h"

static ab_scorecard build1(ab_run *run)
{
    ab_scorecard sc;
    char err[AB_ERRLEN];
    const ab_run *one[1] = {run};
    cr_assert_eq(ab_scorecard_build(one, 1, NULL, &sc, err), 0, "%s", err);
    return sc;
}

static char *render(const ab_scorecard *sc, ab_sc_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cr_assert_eq(ab_scorecard_write(sc, fmt, f), 0);
    fclose(f);
    return buf;
}

static const char *text(const ab_scorecard *sc, size_t row, ab_sc_col c)
{
    cr_assert_lt(row, sc->nrows);
    return sc->rows[row].cell[c].text;
}

static const char *note(const ab_scorecard *sc, size_t row, ab_sc_col c)
{
    cr_assert_lt(row, sc->nrows);
    const char *n = sc->rows[row].cell[c].note;
    return n ? n : "";
}

#define expect_cell(sc, row, col, want, missing_)                                                  \
    do {                                                                                           \
        cr_expect_str_eq(text(sc, row, col), want, "%s", ab_scorecard_title(col));                 \
        cr_expect_eq((sc)->rows[row].cell[col].missing, missing_, "%s", ab_scorecard_title(col));  \
    } while (0)

/* Every column of both rows: the figure each picks, and the word that says why one is missing */
Test(scorecard, cells_of_one_run)
{
    ab_run *run = ab_syn_scorecard("one", "Test GPU", true);
    ab_scorecard sc = build1(run);
    cr_assert_eq(sc.nrows, 2);
    cr_expect(!sc.with_run);
    /* gpu:0: the headline device-memory kernel (not the faster non-headline copy, not h2d), the
     * bf16 GEMM (not the faster f32), the headline attention (not the faster naive one) */
    expect_cell(&sc, 0, AB_SC_DEVICE, "gpu:0", false);
    expect_cell(&sc, 0, AB_SC_ACCEL, "Test GPU (74.5 GiB)", false);
    expect_cell(&sc, 0, AB_SC_INSTANCE, "gcp a3-highgpu-8g (us-central1)", false);
    expect_cell(&sc, 0, AB_SC_PRICE, "$3.00", false);
    expect_cell(&sc, 0, AB_SC_MEMBW, "2.00 TB/s (50%)", false);
    expect_cell(&sc, 0, AB_SC_GEMM, "500.00 TFLOP/s bf16", false);
    expect_cell(&sc, 0, AB_SC_ATTN_PREFILL, "2.000 ms", false);
    expect_cell(&sc, 0, AB_SC_ATTN_DECODE, "skipped", true);
    expect_cell(&sc, 0, AB_SC_DECODE_B1, "100 tok/s, TPOT 10.000 ms", false);
    expect_cell(&sc, 0, AB_SC_DECODE_BEST, "b8: 640 tok/s, TPOT 12.500 ms", false);
    /* 1e6 / (640 x 3600 / 3) = 1.302; 640e4 tokens per kWh; 1e6 / 6.4e6 x 431.95 = 67.49 */
    expect_cell(&sc, 0, AB_SC_USD_INFER, "$1.30", false);
    expect_cell(&sc, 0, AB_SC_USD_TRAIN, "not run", true);
    expect_cell(&sc, 0, AB_SC_TOK_KWH, "6.40 M", false);
    expect_cell(&sc, 0, AB_SC_CO2, "67.49", false);
    /* cpu */
    expect_cell(&sc, 1, AB_SC_ACCEL, "Test CPU (16 GiB)", false);
    expect_cell(&sc, 1, AB_SC_PRICE, "no price", true);
    expect_cell(&sc, 1, AB_SC_MEMBW, "failed", true);
    expect_cell(&sc, 1, AB_SC_GEMM, "100.00 GFLOP/s f32", false);
    expect_cell(&sc, 1, AB_SC_ATTN_PREFILL, "not run", true);
    expect_cell(&sc, 1, AB_SC_DECODE_B1, "4 tok/s, TPOT 250.000 ms", false);
    expect_cell(&sc, 1, AB_SC_DECODE_BEST, "b1: 4 tok/s, TPOT 250.000 ms", false);
    expect_cell(&sc, 1, AB_SC_USD_INFER, "no price", true);
    expect_cell(&sc, 1, AB_SC_TOK_KWH, "no energy", true);
    expect_cell(&sc, 1, AB_SC_CO2, "unavailable", true);
    /* the notes: where each figure came from, or why it is missing */
    cr_expect_str_eq(note(&sc, 0, AB_SC_MEMBW),
                     "gpu:0 membw.triad ordinary (dtype=f32): bandwidth median of 3 samples; "
                     "datasheet 4.00 TB/s (Test GPU, example.com/datasheet, accessed 2026-01-01)");
    cr_expect_str_eq(note(&sc, 0, AB_SC_ATTN_DECODE),
                     "gpu:0 attention.decode fused: no fused decode kernel here");
    cr_expect_str_eq(note(&sc, 0, AB_SC_USD_TRAIN), "gpu:0: no train result");
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_CO2), "batch=8"), "%s", note(&sc, 0, AB_SC_CO2));
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_CO2), "Google Cloud region carbon data"));
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_PRICE), "prices.csv:7"));
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_INSTANCE), "cloud-init v1.region"));
    cr_expect_not_null(strstr(note(&sc, 1, AB_SC_GEMM), "no datasheet peak"));
    cr_expect_str_eq(note(&sc, 1, AB_SC_MEMBW),
                     "cpu membw.triad ordinary: validation: a[7] = 3 (expected 5)");
    cr_expect_str_eq(note(&sc, 1, AB_SC_PRICE),
                     "cpu: no cloud instance detected; give --price-per-hour USD");
    cr_expect_str_eq(note(&sc, 1, AB_SC_TOK_KWH), "cpu: RAPL not readable");
    cr_expect_str_eq(note(&sc, 1, AB_SC_CO2), "cpu: no energy figure (RAPL not readable)");
    cr_expect_str_eq(note(&sc, 1, AB_SC_ATTN_PREFILL), "cpu: no attention.prefill result");
    /* equal notes are one footnote, different ones are not */
    cr_expect_eq(ab_scorecard_note_index(&sc, 0, AB_SC_INSTANCE),
                 ab_scorecard_note_index(&sc, 1, AB_SC_INSTANCE));
    cr_expect_neq(ab_scorecard_note_index(&sc, 0, AB_SC_DECODE_B1),
                  ab_scorecard_note_index(&sc, 1, AB_SC_DECODE_B1));
    ab_scorecard_free(&sc);
    ab_run_free(run);
}

/* An on-premises run: the instance cell says so, with the probe's evidence */
Test(scorecard, no_cloud_instance)
{
    ab_run *run = ab_syn_scorecard("onprem", "Test GPU", false);
    ab_scorecard sc = build1(run);
    expect_cell(&sc, 0, AB_SC_INSTANCE, "none", true);
    cr_expect_str_eq(note(&sc, 0, AB_SC_INSTANCE),
                     "not a cloud instance: /sys/class/dmi/id: no cloud vendor");
    ab_scorecard_free(&sc);
    /* no manifest at all (an older document) */
    json_object_del(run->manifest, "cloud");
    sc = build1(run);
    expect_cell(&sc, 0, AB_SC_INSTANCE, "unknown", true);
    ab_scorecard_free(&sc);
    ab_run_free(run);
}

/* No tokens result recorded a price: the price sheet's row for the detected instance, said to be
 * looked up when the table was written; a device the sheet has no row for stays "not run" */
Test(scorecard, price_from_the_sheet_when_no_result_has_one)
{
    ab_run *run = ab_syn_scorecard("sheet", "NVIDIA H100 80GB HBM3", true);
    size_t k = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        if (strcmp(run->results[i]->suite, "tokens") == 0)
            ab_result_free(run->results[i]);
        else
            run->results[k++] = run->results[i];
    }
    run->nresults = k;
    ab_scorecard sc = build1(run);
    /* gcp has no a3-highgpu-8g row: the provider's first row for the device, $3.00 per GPU */
    expect_cell(&sc, 0, AB_SC_PRICE, "$3.00", false);
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_PRICE),
                              "no result of the run recorded a price; looked up when this table "
                              "was written: "),
                       "%s", note(&sc, 0, AB_SC_PRICE));
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_PRICE), "prices.csv:"));
    cr_expect_not_null(strstr(note(&sc, 0, AB_SC_PRICE), "gcp a3-highgpu (per GPU)"));
    expect_cell(&sc, 0, AB_SC_USD_INFER, "not run", true);
    expect_cell(&sc, 1, AB_SC_PRICE, "not run", true);
    ab_scorecard_free(&sc);
    ab_run_free(run);
}

/* summary.md (and stdout) open with the scorecard: cells with their note numbers, one legend line
 * per note */
Test(scorecard, summary_markdown_opens_with_it)
{
    ab_run *run = ab_syn_scorecard("md", "Test GPU", true);
    ab_scorecard sc = build1(run);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(ab_write_markdown(run, f), 0);
    fclose(f);
    const char *card = strstr(buf, "## Scorecard\n");
    cr_assert_not_null(card, "%s", buf);
    cr_expect_lt(card, strstr(buf, "## All results"));
    char want[128];
    snprintf(want, sizeof(want), "| 2.00 TB/s (50%%) [%zu] |",
             ab_scorecard_note_index(&sc, 0, AB_SC_MEMBW));
    cr_expect_not_null(strstr(card, want), "%s", card);
    snprintf(want, sizeof(want), "\n- [%zu] gpu:0 membw.triad ordinary (dtype=f32): bandwidth",
             ab_scorecard_note_index(&sc, 0, AB_SC_MEMBW));
    cr_expect_not_null(strstr(card, want), "%s", card);
    cr_expect_not_null(strstr(card, "| device | accelerator | provider / instance | $/hour |"));
    free(buf);
    ab_scorecard_free(&sc);
    ab_run_free(run);
}

/* A hostile device name and notes reach HTML escaped, in cells and hover titles alike */
Test(scorecard, html_escapes_cells_and_titles)
{
    ab_run *run = ab_syn_scorecard("html", "Evil <GPU> & \"co\"", true);
    ab_scorecard sc = build1(run);
    char *h = render(&sc, AB_SC_HTML);
    cr_expect_not_null(strstr(h, "<section id=\"scorecard\">"));
    cr_expect_not_null(strstr(h, ">Evil &lt;GPU&gt; &amp; &quot;co&quot; (74.5 GiB) [1]</td>"),
                       "%s", h);
    cr_expect_not_null(strstr(h, "title=\"device gpu:0: Evil &lt;GPU&gt; &amp; &quot;co&quot;, "
                                 "memory 74.5 GiB"),
                       "%s", h);
    cr_expect_null(strstr(h, "<GPU>"));
    cr_expect_null(strstr(h, "\"co\""));
    cr_expect_not_null(strstr(h, "<li id=\"sc-note-1\">device gpu:0: Evil &lt;GPU&gt;"));
    free(h);
    /* the text rendering keeps a note on one line */
    char *t = render(&sc, AB_SC_TEXT);
    cr_expect_not_null(strstr(t, "Scorecard\n"));
    cr_expect_not_null(strstr(t, "[1] device gpu:0: Evil <GPU>"));
    free(t);
    ab_scorecard_free(&sc);
    ab_run_free(run);
}

static char *write_run(const char *dir, ab_run *run)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s.json", dir, run->id) > 0);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
    return path;
}

/* compare RUN...: one row per run x device, the run column first, runs from different clouds
 * side by side; the report opens with the same table */
Test(scorecard, compare_across_runs)
{
    char *dir = ab_test_tmpdir("scorecard-compare");
    cr_assert_not_null(dir);
    char *a = write_run(dir, ab_syn_scorecard("cloud-a", "Test GPU", true));
    char *b = write_run(dir, ab_syn_scorecard("onprem-b", "Other GPU", false));
    ab_proc p;
    ab_test_run(&p, 0, (const char *[]){"compare", a, b, "-f", "md", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_expect_not_null(strstr(p.out, "## Scorecard\n\n| run | device | accelerator |"), "%s",
                       p.out);
    cr_expect_not_null(strstr(p.out, "| cloud-a | gpu:0 | Test GPU (74.5 GiB) ["), "%s", p.out);
    cr_expect_not_null(strstr(p.out, "| onprem-b | gpu:0 | Other GPU (74.5 GiB) ["), "%s", p.out);
    cr_expect_not_null(strstr(p.out, "| gcp a3-highgpu-8g (us-central1) ["));
    cr_expect_not_null(strstr(p.out, "| none ["));
    /* notes of equal results in different runs name their run */
    cr_expect_not_null(strstr(p.out, "] onprem-b gpu:0 membw.triad ordinary"), "%s", p.out);
    cr_expect_lt(strstr(p.out, "## Scorecard"), strstr(p.out, "# accelbench compare"));
    ab_proc_free(&p);
    ab_test_run(&p, 0, (const char *[]){"compare", a, b, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_expect_eq(strncmp(p.out, "Scorecard\n", 10), 0, "%s", p.out);
    cr_expect_not_null(strstr(p.out, "onprem-b"));
    ab_proc_free(&p);
    char html[4200];
    snprintf(html, sizeof(html), "%s/report.html", dir);
    ab_test_run(&p, 0, (const char *[]){"report", a, b, "--html", html, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    FILE *f = fopen(html, "r");
    cr_assert_not_null(f);
    char *doc = calloc(1, 1 << 22);
    fread(doc, 1, (1 << 22) - 1, f);
    fclose(f);
    cr_expect_not_null(strstr(doc, "<section id=\"scorecard\"><h2>Scorecard</h2>"));
    cr_expect_lt(strstr(doc, "id=\"scorecard\""), strstr(doc, "id=\"runs\""));
    free(doc);
    free(a);
    free(b);
    free(dir);
}

/* ---- the carbon sheet ---- */

static char *sheet(const char *name, const char *body)
{
    char *dir = ab_test_tmpdir("carbon"), *path = NULL;
    cr_assert(dir && asprintf(&path, "%s/%s", dir, name) > 0);
    free(dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("scope,provider,region,g_co2e_per_kwh,basis,source,date,notes\n", f);
    fputs(body, f);
    fclose(f);
    return path;
}

Test(carbon, shipped_sheet_and_matching)
{
    ab_carbon c;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_carbon_load(NULL, &c, err), 0, "%s", err);
    ab_carbon_row row;
    /* a GCP zone matches its region, with the detected provider */
    cr_assert_eq(ab_carbon_lookup(&c, "gcp", "us-central1-a", &row, err), 0, "%s", err);
    cr_expect_str_eq(row.region, "us-central1");
    cr_expect_float_eq(row.g_per_kwh, 431.95, 1e-9);
    cr_expect_not_null(strstr(row.source, "region-carbon-info"));
    cr_expect_str_eq(row.date, "2025");
    /* an ISO country code (the user's --region), any case */
    cr_assert_eq(ab_carbon_lookup(&c, NULL, "fr", &row, err), 0, "%s", err);
    cr_expect_str_eq(row.scope, "country");
    cr_expect_float_eq(row.g_per_kwh, 56, 1e-9);
    /* a GCP region name is not an AWS region: nothing is guessed, the reason says what to do */
    cr_expect_neq(ab_carbon_lookup(&c, "aws", "us-central1", &row, err), 0);
    cr_expect_not_null(strstr(err, "--region"), "%s", err);
    cr_expect_neq(ab_carbon_lookup(&c, "aws", "us-east-1a", &row, err), 0);
    /* "us-central10" is not a zone of us-central1 */
    cr_expect_neq(ab_carbon_lookup(&c, "gcp", "us-central10", &row, err), 0);
    ab_carbon_free(&c);
    cr_expect_float_eq(ab_carbon_per_mtok(2e6, 400), 200, 1e-9);
    cr_expect(isnan(ab_carbon_per_mtok(0, 400)));
}

Test(carbon, malformed_rows_name_file_and_line)
{
    static const struct {
        const char *body, *needle;
    } bad[] = {
        {"country,,FR,56,x,src,2023,\ncountry,,DE,abc,x,src,2023,\n",
         ":3: g_co2e_per_kwh: 'abc' is not a number >= 0"},
        {"country,,FR,-1,x,src,2023,\n", ":2: g_co2e_per_kwh: '-1' is not a number >= 0"},
        {"planet,,FR,56,x,src,2023,\n", ":2: scope: 'planet' is neither cloud-region nor country"},
        {"cloud-region,,us-east1,56,x,src,2023,\n",
         ":2: provider is empty (a cloud-region row needs one)"},
        {"country,,FR,56,x,,2023,\n", ":2: source is empty"},
        {"country,,FR,56,x,src,,\n", ":2: date is empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *p = sheet("bad.csv", bad[i].body);
        ab_carbon c;
        char err[AB_ERRLEN];
        cr_expect_neq(ab_carbon_load(p, &c, err), 0, "%zu", i);
        char want[4200];
        snprintf(want, sizeof(want), "%s%s", p, bad[i].needle);
        cr_expect_str_eq(err, want);
        free(p);
    }
}

/* The tokens suite's carbon figure: the region the probes detected (a zone matches its region,
 * the provider narrows the match), --region over it, and the figure from a measured energy */
static json_t *manifest(const char *provider, const char *region)
{
    json_t *cl = json_object();
    json_object_set_new(
        cl, "provider",
        json_pack("{s:s, s:s, s:s}", "status", "ok", "value", provider, "source", "DMI"));
    json_object_set_new(cl, "region",
                        region ? json_pack("{s:s, s:s, s:s}", "status", "ok", "value", region,
                                           "source", "cloud-init v1.region")
                               : json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                           "no cloud-init instance data"));
    return json_pack("{s:o}", "cloud", cl);
}

Test(carbon, tokens_region_and_figure)
{
    ab_tok_opts o;
    memset(&o, 0, sizeof(o));
    ab_suite_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ab_tok_carbon cb;
    json_t *m;
    ctx.manifest = m = manifest("gcp", "us-central1-b");
    ab_tok_resolve_carbon(&o, &ctx, &cb);
    cr_assert(cb.ok, "%s", cb.why);
    cr_expect_float_eq(cb.g_per_kwh, 431.95, 1e-9);
    cr_expect_str_eq(cb.region_source, "cloud-init v1.region");
    cr_expect_str_eq(cb.matched, "gcp us-central1");
    /* 2e6 tokens per kWh: 1e6 / 2e6 x 431.95 gCO2e */
    json_t *en = json_pack("{s:f}", "tokens_per_kwh", 2e6);
    json_t *j = ab_tok_carbon_json(&cb, en);
    cr_expect_float_eq(json_number_value(json_object_get(j, "g_co2e_per_mtok")), 215.975, 1e-9);
    cr_expect_not_null(strstr(json_string_value(json_object_get(j, "formula")), "1e6 /"));
    json_decref(j);
    json_decref(en);
    /* no energy: absent with the energy's reason */
    en = json_pack("{s:s, s:s}", "status", "unavailable", "reason", "RAPL not readable");
    j = ab_tok_carbon_json(&cb, en);
    cr_expect_null(json_object_get(j, "g_co2e_per_mtok"));
    cr_expect_str_eq(json_string_value(json_object_get(j, "reason")),
                     "no energy figure (RAPL not readable)");
    json_decref(j);
    json_decref(en);
    json_decref(m);
    /* an Azure region has no row: nothing is guessed; --region FR then takes the country */
    ctx.manifest = m = manifest("azure", "eastus");
    ab_tok_resolve_carbon(&o, &ctx, &cb);
    cr_expect(!cb.ok);
    cr_expect_not_null(strstr(cb.why, "region 'eastus' (azure) is not in"), "%s", cb.why);
    o.region = "FR";
    ab_tok_resolve_carbon(&o, &ctx, &cb);
    cr_expect(cb.ok, "%s", cb.why);
    cr_expect_float_eq(cb.g_per_kwh, 56, 1e-9);
    cr_expect_str_eq(cb.region_source, "command line (--region)");
    json_decref(m);
    /* no region detected: the reason names the probe's and the flag */
    o.region = NULL;
    ctx.manifest = m = manifest("gcp", NULL);
    ab_tok_resolve_carbon(&o, &ctx, &cb);
    cr_expect(!cb.ok);
    cr_expect_not_null(
        strstr(cb.why, "region unknown (no cloud-init instance data): give --region"), "%s",
        cb.why);
    en = json_pack("{s:f}", "tokens_per_kwh", 2e6);
    j = ab_tok_carbon_json(&cb, en);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "unavailable");
    cr_expect_eq(strncmp(json_string_value(json_object_get(j, "reason")), "region unknown", 14), 0);
    json_decref(j);
    json_decref(en);
    json_decref(m);
}
