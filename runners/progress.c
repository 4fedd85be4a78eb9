/* SPDX-License-Identifier: MIT */
/* The progress reporter: a live status line on a terminal, plain lines otherwise (progress.h). */
#include "progress.h"

#include "output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int ab_progress_mode_parse(const char *s, ab_progress_mode *m, char *err)
{
    static const char *const names[] = {"auto", "plain", "live", "none"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *m = (ab_progress_mode)i;
            return 0;
        }
    return ab_err(err, "--progress: unknown mode '%s' (plain, live, none, auto)", s ? s : "");
}

void ab_progress_clock(double sec, char *buf, size_t len)
{
    if (!isfinite(sec) || sec < 0) {
        snprintf(buf, len, "?");
        return;
    }
    long s = lround(sec);
    if (s >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

/* The mean count of the counted slots of suite (all counted slots when none of it). */
static double mean_count(const ab_progress_plan *p, const char *suite)
{
    double sum = 0, all = 0;
    size_t n = 0, na = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].counted) {
            all += (double)p->v[i].planned, na++;
            if (strcmp(p->v[i].suite, suite) == 0) sum += (double)p->v[i].planned, n++;
        }
    return n ? sum / (double)n : na ? all / (double)na : 0.0;
}

/* Seconds per case for slot s: its own, else its suite's on other slots, else the run's. */
static double rate(const ab_progress_plan *p, const ab_progress_slot *s)
{
    if (s->done) return s->spent / (double)s->done;
    double sp = 0, all = 0;
    size_t n = 0, na = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ab_progress_slot *o = &p->v[i];
        all += o->spent, na += o->done;
        if (strcmp(o->suite, s->suite) == 0) sp += o->spent, n += o->done;
    }
    return n ? sp / (double)n : na ? all / (double)na : NAN;
}

double ab_progress_eta(const ab_progress_plan *p, double now, size_t *done, size_t *total,
                       bool *estimated)
{
    double eta = 0.0;
    size_t d = 0, t = 0;
    bool est = false;
    for (size_t i = 0; i < p->n; i++) {
        const ab_progress_slot *s = &p->v[i];
        size_t planned = s->planned;
        if (!s->counted) {
            planned = (size_t)lround(mean_count(p, s->suite));
            est = true;
        }
        planned = planned > s->done ? planned : s->done;
        d += s->done;
        t += planned;
        if (planned > s->done) eta += (double)(planned - s->done) * rate(p, s);
    }
    if (p->deadline > 0 && !(eta <= p->deadline - now)) /* NAN too: the budget bounds it */
        eta = fmax(0.0, p->deadline - now);
    *done = d;
    *total = t;
    *estimated = est;
    return eta;
}

/* ---- the reporter ---- */

typedef struct prog {
    FILE *f;
    bool live, shown; /* shown: a live line is on screen */
    ab_progress_plan plan;
    double t0, last;
    long cur; /* the slot running now, -1 none */
    char doing[200];
} prog;

static long find_slot(const prog *pg, const char *device, const char *suite, int pass)
{
    for (size_t i = 0; i < pg->plan.n; i++) {
        const ab_progress_slot *s = &pg->plan.v[i];
        if (strcmp(s->device, device ? device : "") == 0 &&
            strcmp(s->suite, suite ? suite : "") == 0 && s->pass == pass)
            return (long)i;
    }
    return -1;
}

/* "[12/140 1:05 ETA 4:10]" */
static void status_prefix(const prog *pg, char *buf, size_t len)
{
    size_t done, total;
    bool est;
    double now = ab_now();
    double eta = ab_progress_eta(&pg->plan, now, &done, &total, &est);
    char el[32], et[32];
    ab_progress_clock(now - pg->t0, el, sizeof(el));
    ab_progress_clock(eta, et, sizeof(et));
    snprintf(buf, len, "[%zu/%s%zu %s ETA %s]", done, est ? "~" : "", total, el, et);
}

static int term_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 100;
}

/* The live line: carriage return, erase the line, the status cut to the terminal's width. */
static void draw(prog *pg)
{
    if (!pg->live) return;
    char pre[96], line[512];
    status_prefix(pg, pre, sizeof(pre));
    snprintf(line, sizeof(line), "%s %s", pre, pg->doing);
    int w = term_width(pg->f) - 1;
    if ((int)strlen(line) > w) line[w] = '\0';
    fprintf(pg->f, "\r\033[K%s", line);
    fflush(pg->f);
    pg->shown = true;
}

static void clear_line(prog *pg)
{
    if (pg->live && pg->shown) {
        fputs("\r\033[K", pg->f);
        pg->shown = false;
    }
}

static int prog_result(ab_reporter *rp, const ab_run *run, const ab_result *r, char *err)
{
    (void)run;
    (void)err;
    prog *pg = rp->state;
    double now = ab_now();
    long i = pg->cur >= 0 ? find_slot(pg, r->device, r->suite, pg->plan.v[pg->cur].pass) : -1;
    if (i >= 0) {
        pg->plan.v[i].done++;
        pg->plan.v[i].spent += now - pg->last;
    }
    pg->last = now;
    if (!pg->live) {
        char pre[96];
        status_prefix(pg, pre, sizeof(pre));
        fputs(pre, pg->f);
        ab_print_progress(r, pg->f);
        return 0;
    }
    if (r->status == AB_FAIL || r->status == AB_ERROR) { /* kept on screen */
        clear_line(pg);
        ab_print_progress(r, pg->f);
    }
    draw(pg);
    return 0;
}

static int prog_end(ab_reporter *rp, const ab_run *run, char *err)
{
    (void)err;
    prog *pg = rp->state;
    if (pg->live) {
        clear_line(pg);
        char el[32];
        ab_progress_clock(ab_now() - pg->t0, el, sizeof(el));
        fprintf(pg->f, "accelbench: %zu results in %s%s\n", run->nresults, el,
                run->interrupted ? " (interrupted)" : "");
        fflush(pg->f);
    }
    return 0;
}

static void prog_free(ab_reporter *rp)
{
    prog *pg = rp->state;
    if (pg) free(pg->plan.v);
    free(pg);
}

ab_reporter *ab_reporter_progress_mode(FILE *f, ab_progress_mode mode)
{
    if (mode == AB_PROGRESS_NONE) return NULL;
    ab_reporter *rp = calloc(1, sizeof(*rp));
    prog *pg = rp ? calloc(1, sizeof(*pg)) : NULL;
    if (!pg) {
        free(rp);
        return NULL;
    }
    pg->f = f;
    pg->live = mode == AB_PROGRESS_LIVE || (mode == AB_PROGRESS_AUTO && isatty(fileno(f)));
    pg->t0 = pg->last = ab_now();
    pg->cur = -1;
    rp->name = "progress";
    rp->state = pg;
    rp->result = prog_result;
    rp->end = prog_end;
    rp->free = prog_free;
    return rp;
}

static prog *prog_of(ab_reporter *rp)
{
    return rp && rp->result == prog_result ? rp->state : NULL;
}

const ab_progress_plan *ab_progress_get_plan(const ab_reporter *rp)
{
    return rp && rp->result == prog_result ? &((const prog *)rp->state)->plan : NULL;
}

void ab_progress_slot_add(ab_reporter *rp, const char *device, const char *suite, int pass)
{
    prog *pg = prog_of(rp);
    if (!pg || find_slot(pg, device, suite, pass) >= 0) return;
    ab_progress_slot *v = realloc(pg->plan.v, (pg->plan.n + 1) * sizeof(*v));
    if (!v) return;
    pg->plan.v = v;
    ab_progress_slot *s = &v[pg->plan.n++];
    memset(s, 0, sizeof(*s));
    ab_strlcpy(s->device, device, sizeof(s->device));
    ab_strlcpy(s->suite, suite, sizeof(s->suite));
    s->pass = pass;
}

void ab_progress_count(ab_reporter *rp, const char *device, const char *suite, int pass,
                       size_t cases)
{
    prog *pg = prog_of(rp);
    long i = pg ? find_slot(pg, device, suite, pass) : -1;
    if (i >= 0) {
        pg->plan.v[i].planned = cases;
        pg->plan.v[i].counted = true;
    }
}

void ab_progress_slot_begin(ab_reporter *rp, const char *device, const char *suite, int pass)
{
    prog *pg = prog_of(rp);
    if (!pg) return;
    pg->cur = find_slot(pg, device, suite, pass);
    pg->last = ab_now();
    snprintf(pg->doing, sizeof(pg->doing), "%s on %s", suite, device);
    draw(pg);
}

void ab_progress_started(ab_reporter *rp, const ab_result *r)
{
    prog *pg = prog_of(rp);
    if (!pg || !pg->live) return;
    char *params = ab_params_display(r->params);
    snprintf(pg->doing, sizeof(pg->doing), "%s on %s: %s %s %s", r->suite ? r->suite : "?",
             r->device ? r->device : "?", r->key ? r->key : "?", r->impl ? r->impl : "",
             params ? params : "");
    free(params);
    draw(pg);
}

void ab_progress_budget(ab_reporter *rp, double deadline)
{
    prog *pg = prog_of(rp);
    if (pg) pg->plan.deadline = deadline;
}
