/* SPDX-License-Identifier: MIT */
/*
 * accelbench fleet (issue 16): synthetic runs of identical nodes, one of them slow, as separate
 * runs and as the ranks of one MPI job's run; the outlier is flagged (exit 3, JUnit failure,
 * chart data), identical nodes are not, fewer than 3 nodes is a usage error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"
#include "synthetic.h"

/* n runs of node-0..node-(n-1); node `slow` (or none: -1) 40 % slower on result 0 */
static void write_nodes(const char *dir, int n, int slow, char paths[][600])
{
    for (int i = 0; i < n; i++) {
        char id[32], err[AB_ERRLEN];
        snprintf(id, sizeof(id), "n%d", i);
        ab_syn s = ab_syn_default(id, (unsigned)i + 1);
        if (i == slow) {
            s.slow_index = 0;
            s.slow_factor = 1.4;
        }
        ab_run *run = ab_syn_run(&s);
        char host[32];
        snprintf(host, sizeof(host), "node-%d", i);
        json_object_set_new(run->host, "hostname", json_string(host));
        snprintf(paths[i], 600, "%s/%s.json", dir, id);
        cr_assert_eq(ab_run_write(run, paths[i], err), 0, "%s", err);
        ab_run_free(run);
    }
}

static void fleet(ab_proc *p, const char *out, int n, char paths[][600])
{
    const char *argv[16] = {"fleet", "--out", out};
    for (int i = 0; i < n; i++)
        argv[3 + i] = paths[i];
    argv[3 + n] = NULL;
    cr_assert_eq(ab_test_run(p, 0, argv), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(fleet, slow_node_is_out)
{
    char *dir = ab_test_tmpdir("fleet-slow"), paths[5][600], out[700], path[800];
    write_nodes(dir, 5, 3, paths);
    snprintf(out, sizeof(out), "%s/out", dir);
    ab_proc p;
    fleet(&p, out, 5, paths);
    cr_expect_eq(p.status, AB_EXIT_REGRESSION, "exit %d: %s", p.status, p.err);
    cr_expect(strstr(p.out, "fleet: n3:node-3: OUT on 1 of"), "%s", p.out);
    cr_expect(!strstr(p.out, "n2:node-2: OUT"), "%s", p.out);
    snprintf(path, sizeof(path), "%s/junit-n3_node-3.xml", out);
    char *x = slurp(path);
    cr_assert(x, "no %s", path);
    cr_expect(strstr(x, "failures=\"1\"") && strstr(x, "<failure"), "%s", x);
    snprintf(path, sizeof(path), "%s/junit-n1_node-1.xml", out);
    x = slurp(path);
    cr_assert(x, "no %s", path);
    cr_expect(strstr(x, "failures=\"0\"") && !strstr(x, "<failure"), "%s", x);
    snprintf(path, sizeof(path), "%s/fleet.md", out);
    cr_expect(slurp(path) && strstr(slurp(path), "OUT"), "fleet.md");
    snprintf(path, sizeof(path), "%s/fleet.dat", out);
    cr_expect(slurp(path) != NULL, "no chart data");
    ab_proc_free(&p);
    free(dir);
}

Test(fleet, identical_nodes_pass)
{
    char *dir = ab_test_tmpdir("fleet-same"), paths[4][600], out[700];
    write_nodes(dir, 4, -1, paths);
    snprintf(out, sizeof(out), "%s/out", dir);
    ab_proc p;
    fleet(&p, out, 4, paths);
    cr_expect_eq(p.status, 0, "exit %d: %s %s", p.status, p.out, p.err);
    cr_expect(strstr(p.out, "fleet: no node out (4 nodes, 12 metrics"), "%s", p.out);
    ab_proc_free(&p);
    free(dir);
}

Test(fleet, ranks_of_one_job)
{
    char *dir = ab_test_tmpdir("fleet-job"), path[600], err[AB_ERRLEN];
    ab_syn s0 = ab_syn_default("job", 1);
    ab_run *job = ab_syn_run(&s0);
    for (size_t i = 0; i < job->nresults; i++) {
        job->results[i]->ranked = true;
        job->results[i]->node = ab_strdup("n0");
    }
    for (int k = 1; k < 4; k++) { /* ranks 1..3, rank 2 slow */
        ab_syn s = ab_syn_default("job", (unsigned)k + 1);
        if (k == 2) {
            s.slow_index = 5;
            s.slow_factor = 1.5;
        }
        ab_run *r = ab_syn_run(&s);
        for (size_t i = 0; i < r->nresults; i++) {
            ab_result *res = r->results[i];
            res->ranked = true;
            res->rank = k;
            res->node = ab_asprintf("n%d", k);
            cr_assert_eq(ab_run_add(job, res, err), 0);
            r->results[i] = NULL;
        }
        r->nresults = 0;
        ab_run_free(r);
    }
    snprintf(path, sizeof(path), "%s/job.json", dir);
    cr_assert_eq(ab_run_write(job, path, err), 0, "%s", err);
    ab_run_free(job);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"fleet", path, NULL}), 0);
    cr_expect_eq(p.status, AB_EXIT_REGRESSION, "exit %d: %s", p.status, p.err);
    cr_expect(strstr(p.out, "fleet: job:n2/rank2: OUT on 1 of 12 metrics"), "%s", p.out);
    ab_proc_free(&p);
    free(dir);
}

Test(fleet, too_few_nodes)
{
    char *dir = ab_test_tmpdir("fleet-two"), paths[2][600], out[700];
    write_nodes(dir, 2, -1, paths);
    snprintf(out, sizeof(out), "%s/out", dir);
    ab_proc p;
    fleet(&p, out, 2, paths);
    cr_expect_eq(p.status, AB_EXIT_USAGE);
    cr_expect(strstr(p.err, "a fleet needs 3 or more"), "%s", p.err);
    cr_expect_eq(ab_count_lines(p.err), 1);
    ab_proc_free(&p);
    free(dir);
}

Test(fleet, usage_errors)
{
    const char *cases[][6] = {
        {"fleet", "--threshold", "x", "a", "b", NULL},
        {"fleet", NULL},
        {"fleet", "/nonexistent/run.json", "a", "b", NULL},
        {"fleet", "--min-spread", "7", "a", "b", NULL},
        {"run", "--rank-timeout", "0", NULL},
    };
    const char *needles[] = {"--threshold", "no run given", "/nonexistent/run.json", "--min-spread",
                             "--rank-timeout"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ab_proc p;
        cr_assert_eq(ab_test_run(&p, 0, cases[i]), 0);
        cr_expect_eq(p.status, AB_EXIT_USAGE, "%s: exit %d", needles[i], p.status);
        cr_expect_eq(ab_count_lines(p.err), 1, "%s", p.err);
        cr_expect(strstr(p.err, needles[i]), "%s", p.err);
        ab_proc_free(&p);
    }
}
