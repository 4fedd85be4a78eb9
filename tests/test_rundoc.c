/* SPDX-License-Identifier: MIT */
/* The run document: round trip, and clear errors for malformed files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rundoc.h"
#include "helpers.h"

static ab_run *sample_run(void)
{
    ab_run *run = ab_run_new();
    run->id = strdup("test-run");
    run->version = strdup("9.9.9");
    run->profile = strdup("quick");
    run->start_time = 1795000000.25;
    run->end_time = 1795000010.5;
    run->complete = true;
    json_object_set_new(run->host, "hostname", json_string("box"));
    ab_result *r = ab_result_new("membw", "membw.triad", "streaming");
    ab_result_set_device(r, "cpu", "Some CPU", "cpu");
    ab_result_param_str(r, "dtype", "f64");
    ab_result_param_int(r, "working_set", 134217728);
    double samples[4] = {1.0e10, 1.1e10, 0.9e10, 1.05e10};
    cr_assert_not_null(ab_result_add_metric(r, "bandwidth", "B/s", true, "3*n*8 B / t", samples, 4));
    r->headline = true;
    r->warmup_runs = 3;
    r->iters_per_sample = 17;
    r->time_spent = 0.5;
    ab_run_add(run, r, NULL);
    ab_result *s = ab_result_new("membw", "membw", "none");
    ab_result_set_device(s, "cuda", NULL, "cuda");
    ab_result_set_status(s, AB_SKIP, "cuda: unavailable: no NVIDIA driver");
    ab_run_add(run, s, NULL);
    return run;
}

Test(rundoc, round_trip)
{
    char *dir = ab_test_tmpdir("rundoc");
    char path[600];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    ab_run *run = sample_run();
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run *back = ab_run_read(path, err);
    cr_assert_not_null(back, "%s", err);
    cr_expect_str_eq(back->id, "test-run");
    cr_expect_str_eq(back->profile, "quick");
    cr_expect_float_eq(back->start_time, 1795000000.25, 1e-6);
    cr_expect(back->complete);
    cr_assert_eq(back->nresults, 2);
    const ab_result *r = back->results[0];
    cr_expect_str_eq(r->key, "membw.triad");
    cr_expect_str_eq(r->impl, "streaming");
    cr_expect_str_eq(r->device_name, "Some CPU");
    cr_expect(r->headline);
    cr_expect_eq(r->status, AB_PASS);
    cr_expect_eq(r->iters_per_sample, 17);
    cr_assert_eq(r->nmetrics, 1);
    const ab_metric *m = &r->metrics[0];
    cr_expect_str_eq(m->unit, "B/s");
    cr_expect(m->higher_is_better);
    cr_assert_eq(m->nsamples, 4);
    /* exact round trip of every sample (17 significant digits) */
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(m->samples[i], run->results[0]->metrics[0].samples[i]);
    cr_expect_eq(m->stats.median, run->results[0]->metrics[0].stats.median);
    cr_expect_eq(back->results[1]->status, AB_SKIP);
    cr_expect_str_eq(back->results[1]->reason, "cuda: unavailable: no NVIDIA driver");
    char *id1 = ab_result_id(run->results[0]), *id2 = ab_result_id(r);
    cr_expect_str_eq(id1, id2);
    cr_expect_str_eq(id1, "membw.triad|streaming|dtype=f64,working_set=134217728|Some CPU");
    free(id1);
    free(id2);
    ab_run_free(run);
    ab_run_free(back);
    /* the atomic writer leaves no temporary file behind */
    cr_expect_eq(ab_dir_entries(dir), 1);
    free(dir);
}

static char *write_tmp(const char *tag, const char *text)
{
    char *dir = ab_test_tmpdir(tag);
    char *path = malloc(600);
    snprintf(path, 600, "%s/run.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(dir);
    return path;
}

static void expect_error(const char *text, const char *needle)
{
    char *path = write_tmp("bad", text);
    char err[AB_ERRLEN] = "";
    ab_run *run = ab_run_read(path, err);
    cr_expect_null(run, "accepted a bad document: %s", text);
    cr_expect(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
    cr_expect(strstr(err, path) != NULL, "error '%s' does not name the file", err);
    ab_run_free(run);
    free(path);
}

Test(rundoc, malformed_documents)
{
    /* truncated: syntax error with line and column */
    expect_error("{\"schema\": \"accelbench.run\", \"schema_versi", ":1:");
    /* garbled */
    expect_error("\x01\x02 not json", ":1:");
    /* not ours */
    expect_error("{\"schema\": \"other\"}", "not an accelbench run document");
    /* newer than this build */
    expect_error("{\"schema\": \"accelbench.run\", \"schema_version\": 99, \"id\": \"x\", "
                 "\"complete\": true, \"results\": []}",
                 "schema_version: 99 is not supported");
    /* a wrong type deep inside names its path */
    expect_error("{\"schema\": \"accelbench.run\", \"schema_version\": 1, \"id\": \"x\", "
                 "\"complete\": true, \"results\": [{\"suite\": \"membw\", \"key\": \"k\", "
                 "\"device\": \"cpu\", \"status\": \"pass\", \"metrics\": [{\"name\": \"bw\", "
                 "\"unit\": 5, \"direction\": \"higher\", \"samples\": []}]}]}",
                 "results[0].metrics[0].unit: expected a string");
    expect_error("{\"schema\": \"accelbench.run\", \"schema_version\": 1, \"id\": \"x\", "
                 "\"complete\": true, \"results\": [{\"suite\": \"membw\", \"key\": \"k\", "
                 "\"device\": \"cpu\", \"status\": \"maybe\"}]}",
                 "results[0].status");
}

Test(rundoc, ignores_unknown_keys)
{
    char *path = write_tmp("unknown",
                           "{\"schema\": \"accelbench.run\", \"schema_version\": 1, \"id\": \"x\", "
                           "\"complete\": true, \"future_field\": {\"a\": 1}, \"results\": [{"
                           "\"suite\": \"membw\", \"key\": \"membw.read\", \"device\": \"cpu\", "
                           "\"status\": \"pass\", \"new_thing\": 3, \"metrics\": [{\"name\": "
                           "\"bandwidth\", \"unit\": \"B/s\", \"direction\": \"higher\", "
                           "\"samples\": [1, 2, 3]}]}]}");
    char err[AB_ERRLEN] = "";
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    cr_expect_eq(run->nresults, 1);
    cr_expect_float_eq(run->results[0]->metrics[0].stats.median, 2.0, 0.0);
    ab_run_free(run);
    free(path);
}

/* The journal: an unfinalised document takes the journal's results; a torn last line is
 * dropped, a journal of another run is refused, a finalised document ignores the journal. */
Test(rundoc, journal_recovers_an_unfinished_run)
{
    char *dir = ab_test_tmpdir("journal");
    char path[600], jpath[600], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/run.json", dir);
    snprintf(jpath, sizeof(jpath), "%s/%s", dir, AB_JOURNAL_NAME);
    ab_run *full = sample_run();
    /* the header as `accelbench run` writes it at the start: no results, no end */
    ab_run *hdr = sample_run();
    for (size_t i = 0; i < hdr->nresults; i++)
        ab_result_free(hdr->results[i]);
    hdr->nresults = 0;
    hdr->end_time = 0;
    hdr->complete = false;
    cr_assert_eq(ab_run_write(hdr, path, err), 0, "%s", err);
    ab_journal *j = ab_journal_create(jpath, hdr, err);
    cr_assert_not_null(j, "%s", err);
    cr_expect_null(ab_journal_create(jpath, hdr, err), "a second journal over the first");
    for (size_t i = 0; i < full->nresults; i++)
        cr_assert_eq(ab_journal_append(j, full->results[i], err), 0, "%s", err);
    cr_expect_eq(ab_journal_count(j), 2);
    ab_journal_close(j);
    /* killed inside a third line */
    FILE *f = fopen(jpath, "a");
    fputs("{\"suite\":\"membw\",\"key\":\"membw.co", f);
    fclose(f);
    ab_run *back = ab_run_read(path, err);
    cr_assert_not_null(back, "%s", err);
    cr_assert_eq(back->nresults, 2);
    cr_expect_str_eq(back->results[0]->key, "membw.triad");
    cr_expect_eq(back->results[0]->iters_per_sample, 17);
    cr_expect_eq(back->results[0]->metrics[0].nsamples, 4);
    cr_expect_float_eq(back->results[0]->metrics[0].samples[1], 1.1e10, 1);
    cr_expect_eq(back->results[1]->status, AB_SKIP);
    cr_expect(!back->complete);
    ab_run_free(back);
    /* the finalised document holds everything and does not take the journal twice */
    cr_assert_eq(ab_run_write(full, path, err), 0, "%s", err);
    back = ab_run_read(path, err);
    cr_assert_not_null(back, "%s", err);
    cr_expect_eq(back->nresults, 2);
    ab_run_free(back);
    /* a journal of another run is an error naming both ids */
    free(hdr->id);
    hdr->id = strdup("other-run");
    cr_assert_eq(ab_run_write(hdr, path, err), 0, "%s", err);
    cr_expect_null(ab_run_read(path, err));
    cr_expect(strstr(err, "other-run") && strstr(err, "test-run"), "%s", err);
    /* a malformed complete line is an error with its line number: the torn line, once a
     * newline ends it, is line 4 */
    free(hdr->id);
    hdr->id = strdup("test-run");
    cr_assert_eq(ab_run_write(hdr, path, err), 0, "%s", err);
    f = fopen(jpath, "a");
    fputs("\n", f);
    fclose(f);
    cr_expect_null(ab_run_read(path, err));
    cr_expect(strstr(err, AB_JOURNAL_NAME ":4") != NULL, "%s", err);
    ab_run_free(hdr);
    ab_run_free(full);
    free(dir);
}
