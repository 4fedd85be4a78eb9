/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the run-document reader (core/rundoc.c) and what consumes a document that it
 * accepted: the result identity, the writer, and the comparison with its output formats (compare,
 * gate and report all start there). Properties checked beyond "no crash, no sanitizer report":
 * a rejected document gets a one-line, non-empty message; an accepted one survives a round trip
 * through the writer; the gnuplot scripts that `plot` writes for it (gnuplot itself is not run)
 * hold no backquote outside a single-quoted literal and no literal that spans a line, whatever
 * the document's strings (SECURITY.md).
 *
 * Built with libFuzzer by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined); built
 * with -DAB_FUZZ_STANDALONE as a plain program that replays files (the corpus) under CTest.
 */
#include "core/rundoc.h"
#include "runners/compare.h"
#include "runners/plot.h"
#include "runners/scorecard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef AB_FUZZ_STANDALONE
#include "suites/suite.h"
/* The libFuzzer build links the runners without the suites (their kernels): no suite is found,
 * so charts use no suite's display hints there; the replay under CTest links the whole core. */
const ab_suite *ab_suite_find(const char *name)
{
    (void)name;
    return NULL;
}
#endif

static FILE *sink(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

/* A plot folder reused for every input; gnuplot is switched off (AB_GNUPLOT empty). */
static const char *plot_dir(void)
{
    static char dir[64];
    if (!*dir) {
        setenv("AB_GNUPLOT", "", 1);
        snprintf(dir, sizeof(dir), "/tmp/ab-fuzz-plot-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Aborts when a script could let gnuplot substitute text from the document. */
static void check_script(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        abort(); /* the chart is listed, so its script was written */
    bool sq = false;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\'')
            sq = !sq; /* '' inside a literal toggles twice */
        else if (c == '`' && !sq)
            abort();
        else if (c == '\n' && sq)
            abort();
    }
    fclose(f);
}

static void remove_chart(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
    unlink(path);
}

static void check_plots(ab_run *run)
{
    const char *dir = plot_dir();
    ab_charts ch;
    memset(&ch, 0, sizeof(ch));
    char err[AB_ERRLEN];
    if (ab_plot_runs(&run, 1, dir, &ch, err) == 0)
        for (size_t i = 0; i < ch.n; i++)
            check_script(dir, ch.v[i].name);
    /* after all checks: two charts may share a file name (stems keep [A-Za-z0-9._-] only) */
    for (size_t i = 0; i < ch.n; i++)
        remove_chart(dir, ch.v[i].name);
    ab_charts_free(&ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return 0;
    char err[AB_ERRLEN] = "";
    ab_run *run = ab_run_from_json(doc, err);
    json_decref(doc);
    if (!run) {
        /* every rejection must explain itself on one line */
        if (!*err || strchr(err, '\n'))
            abort();
        return 0;
    }
    for (size_t i = 0; i < run->nresults; i++) {
        free(ab_result_id(run->results[i]));
        free(ab_params_brief(run->results[i]->params));
    }
    /* what the writer produces, the reader must accept */
    json_t *back = ab_run_to_json(run);
    char *text = back ? json_dumps(back, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(back);
    if (text) {
        json_t *again = json_loads(text, 0, &je);
        ab_run *r2 = again ? ab_run_from_json(again, err) : NULL;
        json_decref(again);
        if (!r2)
            abort();
        ab_run_free(r2);
        free(text);
    }
    /* the comparison and its formats, the run against itself */
    ab_run *runs[2] = {run, run};
    ab_cmp_opts o;
    ab_cmp_opts_default(&o);
    ab_cmp c;
    if (ab_compare(runs, 2, &o, &c, err) == 0) {
        FILE *f = sink();
        if (f) {
            ab_cmp_write_table(&c, f, false);
            ab_cmp_write_markdown(&c, f, true);
            ab_cmp_write_csv(&c, f);
            ab_cmp_write_junit(&c, 1, f);
        }
        json_decref(ab_cmp_to_json(&c));
        ab_cmp_free(&c);
    }
    /* the scorecard of the run beside itself, every format */
    FILE *sf = sink();
    if (sf)
        for (int fmt = AB_SC_TEXT; fmt <= AB_SC_HTML; fmt++)
            ab_scorecard_print((const ab_run *const *)runs, 2, NULL, (ab_sc_format)fmt, sf);
    check_plots(run);
    ab_run_free(run);
    return 0;
}

#ifdef AB_FUZZ_STANDALONE
/* Replays files given on the command line (CTest runs the seed corpus this way). */
int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "fuzz_rundoc_replay: cannot open %s\n", argv[i]);
            return 2;
        }
        char *buf = NULL;
        size_t len = 0, cap = 0, r;
        char tmp[65536];
        while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0) {
            if (len + r > cap) {
                cap = 2 * (len + r);
                buf = realloc(buf, cap);
                if (!buf)
                    return 2;
            }
            memcpy(buf + len, tmp, r);
            len += r;
        }
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    printf("fuzz_rundoc_replay: %d inputs replayed without a crash\n", n);
    return 0;
}
#endif
