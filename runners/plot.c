/* SPDX-License-Identifier: MIT */
#include "plot.h"

#include "output.h"
#include "../suites/suite.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The templates in plots/, embedded at build time (CMakeLists.txt, ab_embed). */
extern const char ab_tpl_style[], ab_tpl_sweep[], ab_tpl_bars[], ab_tpl_roofline[], ab_tpl_trend[];
extern const char ab_tpl_heatmap[];

/* ------------------------------------------------------------------ helpers */

void ab_display_scale(const char *unit, double maxabs, double *factor, char *label, size_t len)
{
    *factor = 1.0;
    if (!unit)
        unit = "";
    if (strcmp(unit, "s") == 0) {
        if (maxabs >= 1.0 || !(maxabs > 0))
            snprintf(label, len, "s");
        else if (maxabs >= 1e-3)
            *factor = 1e-3, snprintf(label, len, "ms");
        else
            *factor = 1e-6, snprintf(label, len, "us");
        return;
    }
    static const struct {
        double f;
        const char *p;
    } pre[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    bool prefixable = strcmp(unit, "B/s") == 0 || strcmp(unit, "FLOP/s") == 0 ||
                      strcmp(unit, "OP/s") == 0 || strcmp(unit, "B") == 0 ||
                      strcmp(unit, "tokens/s") == 0;
    if (prefixable)
        for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
            if (maxabs >= pre[i].f) {
                *factor = pre[i].f;
                snprintf(label, len, "%s%s", pre[i].p, unit);
                return;
            }
    snprintf(label, len, "%s", unit);
}

const char *ab_gnuplot_path(void)
{
    static char found[4096];
    const char *e = getenv("AB_GNUPLOT");
    if (e)
        return *e && access(e, X_OK) == 0 ? e : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *copy = ab_strdup(path);
    if (!copy)
        return NULL;
    const char *res = NULL;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(found, sizeof(found), "%s/gnuplot", *d ? d : ".");
        if (access(found, X_OK) == 0) {
            res = found;
            break;
        }
    }
    free(copy);
    return res;
}

/* The one way a string reaches a gnuplot script: a single-quoted literal. gnuplot performs
 * backquote (command) substitution everywhere on a command line except inside single quotes,
 * does macro (@name) substitution only outside quotes, and gives backslashes no meaning inside
 * them; the only escape is a doubled quote. Control characters (a newline would end the line and
 * start a command of the attacker's choosing) become spaces, so the literal is always on one
 * line and always balanced. SECURITY.md describes the rule; tests/test_plot.c and the fuzz
 * target check it. */
void ab_gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\'')
            fputs("''", f);
        else if (ch < 0x20 || ch == 0x7f)
            fputc(' ', f);
        else
            fputc(ch, f);
    }
    fputc('\'', f);
}

#define gp_str ab_gp_quote

/* A formatted title as a quoted literal (ab_gp_quote). */
static void gp_titlef(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gp_titlef(FILE *f, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    gp_str(f, buf);
}

/* Text for a '#' comment line of a script or data file, copied into buf: control characters (a
 * newline would end the comment) become spaces. */
static const char *one_line(char *buf, size_t len, const char *s)
{
    size_t i = 0;
    for (; s && *s && i + 1 < len; s++)
        buf[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    buf[i] = '\0';
    return buf;
}

/* A quoted string in a data file: gnuplot has no escape there, so quotes become apostrophes and
 * control characters (a newline would start a new record) spaces. Data files are never
 * command lines: no substitution happens in them. */
static void dat_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        fputc(ch == '"' ? '\'' : (ch < 0x20 || ch == 0x7f ? ' ' : ch), f);
    }
    fputc('"', f);
}

/* File stems: letters, digits, '.', '-', '_' only. */
static char *stem(const char *kind, const char *a, const char *b)
{
    char *s = ab_asprintf("%s-%s%s%s", kind, a ? a : "", b ? "-" : "", b ? b : "");
    for (char *p = s; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    return s;
}

/* A file stem no chart of c has yet: stem(), then "-2", "-3" ... on a collision (two case keys
 * or units that differ only in characters a stem replaces, one metric name in two units). */
static char *chart_stem(const ab_charts *c, const char *kind, const char *a, const char *b)
{
    char *s = stem(kind, a, b);
    for (int k = 2; s; k++) {
        bool taken = false;
        for (size_t i = 0; i < c->n && !taken; i++)
            taken = strcmp(c->v[i].name, s) == 0;
        if (!taken)
            return s;
        char *base = stem(kind, a, b);
        free(s);
        s = base ? ab_asprintf("%s-%d", base, k) : NULL;
        free(base);
    }
    return s;
}

static char *run_labels_one(ab_run *const *runs, size_t n, size_t j)
{
    const char *id = runs[j]->id ? runs[j]->id : "run";
    size_t dup = 1;
    for (size_t k = 0; k < j; k++)
        dup += strcmp(runs[k]->id ? runs[k]->id : "run", id) == 0;
    (void)n;
    return dup > 1 ? ab_asprintf("%s#%zu", id, dup) : ab_strdup(id);
}

static int add_chart(ab_charts *c, const char *name, const char *title, const char *kind)
{
    ab_chart *v = realloc(c->v, (c->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    c->v = v;
    ab_chart *ch = &v[c->n++];
    ch->name = ab_strdup(name);
    ch->title = ab_strdup(title);
    ch->kind = ab_strdup(kind);
    ch->rendered = false;
    return ch->name && ch->title && ch->kind ? 0 : -1;
}

void ab_charts_free(ab_charts *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].title);
        free(c->v[i].kind);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

/* Writes <dir>/<name>.gp from a template: @HEADER@, @STYLE@, @SETUP@, @PLOT@ replaced. */
static int write_gp(const char *dir, const char *name, const char *tpl, const char *header,
                    const char *setup, const char *plot, char *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ab_err(err, "out of memory");
    for (const char *p = tpl; *p;) {
        const char *rep = NULL;
        size_t skip = 0;
        static const char *const tags[] = {"@HEADER@", "@STYLE@", "@SETUP@", "@PLOT@"};
        const char *vals[] = {header, ab_tpl_style, setup ? setup : "", plot ? plot : ""};
        for (int t = 0; t < 4 && *p == '@'; t++)
            if (strncmp(p, tags[t], strlen(tags[t])) == 0) {
                rep = vals[t];
                skip = strlen(tags[t]);
            }
        if (rep) {
            fputs(rep, f);
            p += skip;
        } else {
            fputc(*p++, f);
        }
    }
    fclose(f);
    char *path = ab_asprintf("%s/%s.gp", dir, name);
    int rc = path ? ab_write_file_atomic(path, buf, len, err) : ab_err(err, "out of memory");
    free(path);
    free(buf);
    return rc;
}

static int write_dat(const char *dir, const char *name, const char *buf, size_t len, char *err)
{
    char *path = ab_asprintf("%s/%s.dat", dir, name);
    int rc = path ? ab_write_file_atomic(path, buf, len, err) : ab_err(err, "out of memory");
    free(path);
    return rc;
}

/* A chart's files and its entry: <name>.dat, <name>.gp from the template, then the list. */
static int save_chart(ab_charts *c, const char *dir, const char *name, const char *title,
                      const char *kind, const char *tpl, const char *hdr, const char *setup,
                      const char *plot, const char *dat, size_t dlen, char *err)
{
    if (write_dat(dir, name, dat, dlen, err) != 0 ||
        write_gp(dir, name, tpl, hdr, setup, plot, err) != 0)
        return -1;
    return add_chart(c, name, title, kind) != 0 ? ab_err(err, "out of memory") : 0;
}

/* The common header of a generated script: where it came from, how to rerun it, variables. */
static char *gp_header(const char *name, const char *title, const char *ylabel,
                       const char *xlabel, const char *extra)
{
    if (!name)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "# generated by accelbench %s; data in %s.dat beside this file.\n"
               "# Restyle freely and rerun: gnuplot %s.gp   (writes %s.png and %s.svg;\n"
               "# gnuplot -e \"formats='svg'\" %s.gp for one format)\n",
            AB_VERSION, name, name, name, name, name);
    fputs("name = ", f);
    gp_str(f, name);
    fputs("\ndata = ", f);
    char *dn = ab_asprintf("%s.dat", name);
    gp_str(f, dn ? dn : name);
    free(dn);
    fputs("\nchart_title = ", f);
    gp_str(f, title);
    fputs("\ny_label = ", f);
    gp_str(f, ylabel ? ylabel : "");
    fputs("\nx_label = ", f);
    gp_str(f, xlabel ? xlabel : "");
    fputc('\n', f);
    if (extra)
        fputs(extra, f);
    fclose(f);
    return buf;
}

/* Runs gnuplot on <dir>/<name>.gp in dir. 0 when both images were written. */
static int render(const char *gnuplot, const char *dir, const char *name, char *err)
{
    char *gp = ab_asprintf("%s.gp", name);
    char *log = ab_asprintf("%s/%s.log", dir, name);
    if (!gp || !log) {
        free(gp);
        free(log);
        return ab_err(err, "out of memory");
    }
    pid_t pid = fork();
    if (pid < 0) {
        free(gp);
        free(log);
        return ab_err(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            close(nul);
        }
        if (chdir(dir) != 0)
            _exit(126);
        execl(gnuplot, gnuplot, gp, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char line[160] = "";
        FILE *lf = fopen(log, "r");
        if (lf) {
            if (!fgets(line, sizeof(line), lf))
                line[0] = '\0';
            fclose(lf);
        }
        line[strcspn(line, "\n")] = '\0';
        rc = ab_err(err, "gnuplot failed on %s/%s.gp%s%s", dir, name, *line ? ": " : "", line);
    } else {
        unlink(log);
        char *png = ab_asprintf("%s/%s.png", dir, name), *svg = ab_asprintf("%s/%s.svg", dir, name);
        if (!png || !svg || access(png, R_OK) != 0 || access(svg, R_OK) != 0)
            rc = ab_err(err, "gnuplot wrote no image for %s/%s.gp", dir, name);
        free(png);
        free(svg);
    }
    free(gp);
    free(log);
    return rc;
}

static void render_all(ab_charts *c, const char *dir, size_t from)
{
    const char *gp = ab_gnuplot_path();
    if (!gp) {
        c->skipped = true;
        snprintf(c->warning, sizeof(c->warning),
                 "gnuplot not found: plots skipped (the .gp and .dat files are in %s; install "
                 "gnuplot-nox and run 'gnuplot NAME.gp' there)",
                 dir);
        return;
    }
    for (size_t i = from; i < c->n; i++) {
        char err[AB_ERRLEN];
        if (render(gp, dir, c->v[i].name, err) == 0) {
            c->v[i].rendered = true;
        } else if (!c->skipped) {
            c->skipped = true;
            snprintf(c->warning, sizeof(c->warning), "%s", err);
        }
    }
}


/* ------------------------------------------------------------------ sweep charts */

typedef struct {
    size_t run;
    const ab_result *r;
    const ab_metric *m;
    char *series;  /* series key */
    double x;
} item;

typedef struct {
    char *key, *metric, *unit;
    item *it;
    size_t n;
} group;

/* The parameters the suite of g's results declares it sweeps for g's key (ab_suite_display
 * .sweeps), at most max; a suite this binary does not know, or one that declares none, gives
 * none: no sweep is inferred from whatever happens to vary. */
static size_t declared_sweeps(const group *g, const ab_sweep_decl **out, size_t max)
{
    const ab_result *r0 = g->it[0].r;
    const ab_suite *su = r0->suite ? ab_suite_find(r0->suite) : NULL;
    const ab_sweep_decl *d = su && su->display ? su->display->sweeps : NULL;
    size_t n = 0;
    for (size_t i = 0; d && d[i].key && n < max; i++) {
        size_t kl = strlen(d[i].key);
        bool match = strncmp(g->key, d[i].key, kl) == 0 &&
                     (g->key[kl] == '\0' || d[i].key[kl - 1] == '.' || g->key[kl] == '_');
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(out[k]->param, d[i].param) == 0;
        /* the first entry matching a key wins (membw.h2d before the membw. prefix) */
        if (match && !dup && (n == 0 || strcmp(out[0]->key, d[i].key) == 0))
            out[n++] = &d[i];
    }
    return n;
}

static char *series_base(const item *it, bool multi_run, char *const *labels)
{
    const ab_result *r = it->r;
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(r->params, k, v)
    {
        if (json_is_string(v))
            json_object_set(o, k, v);
    }
    char *p = ab_params_brief(o);
    json_decref(o);
    char *s = ab_asprintf("%s%s%s|%s|%s|%s", multi_run ? "[" : "",
                          multi_run ? labels[it->run] : "", multi_run ? "]" : "",
                          r->device_name ? r->device_name : "?", r->impl ? r->impl : "",
                          p ? p : "");
    free(p);
    return s;
}

/* A readable series title: "[run] impl f64 batch=8 (device)". */
static char *series_title(const item *it, bool multi_run, bool multi_dev, char *const *labels,
                          char *const *extra_keys, size_t nextra)
{
    const ab_result *r = it->r;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (multi_run)
        fprintf(f, "[%s] ", labels[it->run]);
    if (r->impl && strcmp(r->impl, "default") != 0)
        fprintf(f, "%s ", r->impl);
    const char *k;
    json_t *v;
    json_object_foreach(r->params, k, v)
    {
        if (json_is_string(v))
            fprintf(f, "%s ", json_string_value(v));
    }
    for (size_t i = 0; i < nextra; i++) {
        json_t *pv = json_object_get(r->params, extra_keys[i]);
        if (json_is_integer(pv))
            fprintf(f, "%s=%lld ", extra_keys[i], (long long)json_integer_value(pv));
        else if (json_is_number(pv))
            fprintf(f, "%s=%g ", extra_keys[i], json_number_value(pv));
    }
    if (multi_dev)
        fprintf(f, "(%s) ", r->device_name ? r->device_name : "?");
    fclose(f);
    if (len && buf[len - 1] == ' ')
        buf[len - 1] = '\0';
    if (buf && !*buf) {
        free(buf);
        buf = ab_strdup(r->key);
    }
    return buf;
}

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(x->series, y->series);
    if (c)
        return c;
    return (x->x > y->x) - (x->x < y->x);
}

/* The numeric parameters other than x that tell series apart: those not determined by x within
 * the same base (n follows working_set and dtype; a batch size does not). Appends their names
 * (borrowed from the params of g->it[0]) to *extra. */
static int sweep_extra_keys(const group *g, const char *xk, char *const *bases, char ***extra,
                            size_t *nextra)
{
    const char *k;
    json_t *v;
    json_object_foreach(g->it[0].r->params, k, v)
    {
        if (!json_is_number(v) || strcmp(k, xk) == 0)
            continue;
        bool dependent = true;
        for (size_t a = 0; a < g->n && dependent; a++)
            for (size_t b = a + 1; b < g->n && dependent; b++) {
                if (g->it[a].x != g->it[b].x || strcmp(bases[a], bases[b]) != 0)
                    continue;
                json_t *pa = json_object_get(g->it[a].r->params, k);
                json_t *pb = json_object_get(g->it[b].r->params, k);
                dependent = pa && pb && json_equal(pa, pb);
            }
        if (!dependent) {
            char **ne = realloc(*extra, (*nextra + 1) * sizeof(*ne));
            if (!ne)
                return -1;
            *extra = ne;
            (*extra)[(*nextra)++] = (char *)k;
        }
    }
    return 0;
}

/* Sets x and the series title of every item of g, then sorts g by series and x. */
static int sweep_series(group *g, const char *xk, bool multi_run, char *const *labels, char *err)
{
    /* the series: device, implementation, text parameters, plus every other numeric parameter
     * that is not determined by x within those */
    char **bases = calloc(g->n, sizeof(*bases));
    char **extra = NULL;
    size_t nextra = 0;
    int rc = -1;
    if (!bases)
        return ab_err(err, "out of memory");
    for (size_t i = 0; i < g->n; i++) {
        g->it[i].x = json_number_value(json_object_get(g->it[i].r->params, xk));
        if (!(bases[i] = series_base(&g->it[i], multi_run, labels)))
            goto out;
    }
    if (sweep_extra_keys(g, xk, bases, &extra, &nextra) != 0)
        goto out;
    bool multi_dev = false;
    for (size_t i = 1; i < g->n; i++) {
        const char *a = g->it[0].r->device_name, *b = g->it[i].r->device_name;
        multi_dev |= (a && b) ? strcmp(a, b) != 0 : a != b;
    }
    for (size_t i = 0; i < g->n; i++) {
        char *t = series_title(&g->it[i], multi_run, multi_dev, labels, extra, nextra);
        if (!t)
            goto out;
        g->it[i].series = t;
    }
    qsort(g->it, g->n, sizeof(*g->it), cmp_item);
    rc = 0;
out:
    for (size_t i = 0; i < g->n; i++)
        free(bases[i]);
    free(bases);
    free(extra);
    return rc;
}

/* The data file of a sweep chart: one block per series, values divided by f. NULL when out of
 * memory. */
static char *sweep_dat(const group *g, const char *xk, const char *ylab, double f, size_t *dlen,
                       size_t *nseries)
{
    char *dat = NULL;
    FILE *df = open_memstream(&dat, dlen);
    if (!df)
        return NULL;
    char c1[256], c2[128], c3[64], c4[128];
    fprintf(df, "# accelbench sweep: %s %s (%s) against %s; one block per series:\n"
                "# %s, median, min, max (of the samples)\n",
            one_line(c1, sizeof(c1), g->key), one_line(c2, sizeof(c2), g->metric),
            one_line(c3, sizeof(c3), ylab), one_line(c4, sizeof(c4), xk), c4);
    *nseries = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (i == 0 || strcmp(g->it[i].series, g->it[i - 1].series) != 0) {
            if (i)
                fputs("\n\n", df);
            dat_str(df, g->it[i].series);
            fputs(" \"median\" \"min\" \"max\"\n", df);
            (*nseries)++;
        }
        const ab_stats *s = &g->it[i].m->stats;
        fprintf(df, "%.17g %.6g %.6g %.6g\n", g->it[i].x, s->median / f, s->min / f, s->max / f);
    }
    fclose(df);
    return dat;
}

/* Tics of a log2 axis over [lo, hi]: every step-th power of two, the step the smallest of 1,
 * 2, 5, 10, 20 that gives at most 8 labels, starting on a multiple of it (so byte axes show
 * 1 KiB, 1 MiB, 1 GiB with a step of 10); byte sizes in IEC units. Labels are rotated when
 * there are more than 5. The range is padded by a third of a power either side. */
static void log2_tics(FILE *sf, double lo, double hi, bool isbytes)
{
    int e0 = (int)ceil(log2(lo) - 1e-9), e1 = (int)floor(log2(hi) + 1e-9);
    static const int steps[] = {1, 2, 5, 10, 20};
    int step = 20;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if ((e1 - e0) / steps[i] + 1 <= 8) {
            step = steps[i];
            break;
        }
    int start = (int)ceil((double)e0 / step) * step;
    if (start > e1) /* no multiple in range: the powers there */
        start = e0, step = 1;
    fprintf(sf, "set xrange [%.6g:%.6g]\n", lo / pow(2.0, 1.0 / 3), hi * pow(2.0, 1.0 / 3));
    fputs("set xtics (", sf);
    int nt = 0;
    for (int e = start; e <= e1; e += step, nt++) {
        char lab[32];
        double v = ldexp(1.0, e);
        if (isbytes && v >= 1 && v < 1.2e18)
            ab_format_bytes((uint64_t)v, lab, sizeof(lab));
        else
            snprintf(lab, sizeof(lab), "%.0f", v);
        fputs(nt ? ", " : "", sf);
        gp_str(sf, lab);
        fprintf(sf, " %.17g", v);
    }
    fputs(")\n", sf);
    if (nt > 5)
        fputs("set xtics rotate by -30 left\n", sf);
}

/* The x axis setup of a sweep chart: byte sizes and powers of two on a log2 scale with
 * readable tics (log2_tics), other positive values spanning more than 16x on a log10 scale.
 * NULL when out of memory. */
static char *sweep_xsetup(const group *g, bool isbytes)
{
    double lo = INFINITY, hi = -INFINITY;
    bool pow2 = true, positive = true;
    for (size_t i = 0; i < g->n; i++) {
        double x = g->it[i].x;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
        positive &= x > 0;
        pow2 &= x > 0 && x == ldexp(1.0, (int)lround(log2(x)));
    }
    char *setup = NULL;
    size_t slen = 0;
    FILE *sf = open_memstream(&setup, &slen);
    if (!sf)
        return NULL;
    bool logx = positive && g->n && hi / lo > 16.0;
    if (logx && (isbytes || pow2)) {
        fputs("set logscale x 2\n", sf);
        log2_tics(sf, lo, hi, isbytes);
    } else if (logx) {
        fputs("set logscale x 10\n", sf);
    } else if (isbytes && positive && g->n) {
        log2_tics(sf, lo, hi, true); /* a narrow byte range: still in IEC units */
    }
    fclose(sf);
    return setup;
}

/* Writes the .dat and .gp of a sweep chart and lists it. */
static int sweep_write(ab_charts *c, const char *dir, const group *g, const char *xk,
                       bool tag, bool isbytes, const char *ylab, const char *dat, size_t dlen,
                       const char *setup, size_t nseries, char *err)
{
    int rc = -1;
    char *mx = tag ? ab_asprintf("%s-%s", g->metric, xk) : NULL;
    char *name = chart_stem(c, "sweep", g->key, mx ? mx : g->metric);
    free(mx);
    char *title = ab_asprintf("%s %s vs %s", g->key, g->metric, xk);
    char *ylabel = ab_asprintf("%s (%s)", g->metric, ylab);
    char *xlabel = ab_asprintf("%s%s", xk, isbytes ? " (bytes)" : "");
    char *extra_vars = ab_asprintf("nseries = %zu\n", nseries);
    char *hdr = name && title && ylabel && xlabel && extra_vars
                    ? gp_header(name, title, ylabel, xlabel, extra_vars)
                    : NULL;
    if (!hdr)
        ab_err(err, "out of memory");
    else if (save_chart(c, dir, name, title, "sweep", ab_tpl_sweep, hdr, setup, NULL, dat, dlen,
                        err) == 0)
        rc = 0;
    free(hdr);
    free(extra_vars);
    free(xlabel);
    free(ylabel);
    free(title);
    free(name);
    return rc;
}

/* The most distinct x values of one series of g (sorted by series and x). */
static size_t longest_series(const group *g)
{
    size_t best = 0, run = 0;
    for (size_t i = 0; i < g->n; i++) {
        bool same = i && strcmp(g->it[i].series, g->it[i - 1].series) == 0;
        run = same ? run + (g->it[i].x != g->it[i - 1].x) : 1;
        best = run > best ? run : best;
    }
    return best;
}

/* The chart of g against the declared parameter d->param (the items that have it); none when
 * no series has 3 values of it. `tag`: the parameter goes into the file stem (a key with more
 * than one declared sweep). */
static int sweep_chart_over(ab_charts *c, const char *dir, const group *g0,
                            const ab_sweep_decl *d, bool tag, bool multi_run,
                            char *const *labels, char *err)
{
    group g = *g0;
    g.it = malloc((g0->n ? g0->n : 1) * sizeof(*g.it));
    if (!g.it)
        return ab_err(err, "out of memory");
    g.n = 0;
    for (size_t i = 0; i < g0->n; i++)
        if (json_is_number(json_object_get(g0->it[i].r->params, d->param)))
            g.it[g.n++] = g0->it[i];
    int rc = g.n ? -1 : 0;
    if (!g.n || sweep_series(&g, d->param, multi_run, labels, err) != 0)
        goto out;
    if (longest_series(&g) < 3) {
        rc = 0;
        goto out;
    }
    double maxv = 0.0;
    for (size_t i = 0; i < g.n; i++)
        maxv = fmax(maxv, fabs(g.it[i].m->stats.max));
    double f;
    char ylab[64];
    ab_display_scale(g.unit, maxv, &f, ylab, sizeof(ylab));
    size_t dlen = 0, nseries = 0;
    char *dat = sweep_dat(&g, d->param, ylab, f, &dlen, &nseries);
    char *setup = dat ? sweep_xsetup(&g, d->bytes) : NULL;
    if (setup)
        rc = sweep_write(c, dir, &g, d->param, tag, d->bytes, ylab, dat, dlen, setup, nseries,
                         err);
    else
        ab_err(err, "out of memory");
    free(setup);
    free(dat);
out:
    for (size_t i = 0; i < g.n; i++)
        free(g.it[i].series);
    free(g.it);
    return rc;
}

/* One chart per parameter the suite declares it sweeps for g's key. */
static int sweep_chart(ab_charts *c, const char *dir, group *g, bool multi_run,
                       char *const *labels, char *err)
{
    const ab_sweep_decl *d[8];
    size_t nd = declared_sweeps(g, d, 8);
    int rc = 0;
    for (size_t i = 0; i < nd && rc == 0; i++)
        rc = sweep_chart_over(c, dir, g, d[i], nd > 1, multi_run, labels, err);
    return rc;
}

static int sweep_charts(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                        char *const *labels, char *err)
{
    group *gs = NULL;
    size_t ng = 0;
    json_t *map = json_object();
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++)
        for (size_t i = 0; i < runs[j]->nresults && rc == 0; i++) {
            const ab_result *r = runs[j]->results[i];
            if (r->status != AB_PASS || !r->key)
                continue;
            for (size_t m = 0; m < r->nmetrics; m++) {
                const ab_metric *mt = &r->metrics[m];
                char *gk = ab_asprintf("%s|%s|%s", r->key, mt->name, mt->unit);
                if (!gk) {
                    rc = ab_err(err, "out of memory");
                    break;
                }
                json_t *ix = json_object_get(map, gk);
                size_t gi;
                if (ix) {
                    gi = (size_t)json_integer_value(ix);
                } else {
                    group *v = realloc(gs, (ng + 1) * sizeof(*v));
                    if (!v) {
                        free(gk);
                        rc = ab_err(err, "out of memory");
                        break;
                    }
                    gs = v;
                    gi = ng++;
                    gs[gi] = (group){(char *)r->key, mt->name, mt->unit, NULL, 0};
                    json_object_set_new(map, gk, json_integer((json_int_t)gi));
                }
                free(gk);
                item *it = realloc(gs[gi].it, (gs[gi].n + 1) * sizeof(*it));
                if (!it) {
                    rc = ab_err(err, "out of memory");
                    break;
                }
                gs[gi].it = it;
                it[gs[gi].n++] = (item){j, r, mt, NULL, 0.0};
            }
        }
    for (size_t g = 0; g < ng && rc == 0; g++)
        rc = sweep_chart(c, dir, &gs[g], n > 1, labels, err);
    for (size_t g = 0; g < ng; g++)
        free(gs[g].it);
    free(gs);
    json_decref(map);
    return rc;
}

/* ------------------------------------------------------------------ headline bars */

/* "membw.triad f64" (and " streaming" with with_impl): the key, the text parameters' values, the
 * numbers the suite declares tell a point from its neighbours. */
static char *case_label(const ab_result *r, bool with_impl)
{
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    if (!f)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(r->params, k, v)
    {
        const char *s = json_string_value(v);
        /* a yes/no says nothing without its name: "causal=yes" */
        bool flag = s && (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0);
        if (s)
            fprintf(f, "%s%s%s%s", len ? " " : "", flag ? k : "", flag ? "=" : "", s);
        fflush(f);
    }
    /* the numbers that tell a point from its neighbours, as the suite declares them (the other
     * numeric parameters are sweeps with charts of their own) */
    const ab_suite *su = r->suite ? ab_suite_find(r->suite) : NULL;
    const char *const *point = su && su->display ? su->display->label_params : NULL;
    for (size_t i = 0; point && point[i]; i++)
        if (json_is_integer(v = json_object_get(r->params, point[i]))) {
            fprintf(f, "%s%s=%lld", len ? " " : "", point[i], (long long)json_integer_value(v));
            fflush(f);
        }
    fclose(f);
    bool impl = with_impl && r->impl && strcmp(r->impl, "default") != 0;
    char *s = ab_asprintf("%s%s%s%s%s", r->key, impl ? " " : "", impl ? r->impl : "",
                          p && *p ? " " : "", p ? p : "");
    free(p);
    return s;
}

/* A headline figure: a metric of a passed headline case, or anything counted in tokens, which
 * is a headline by nature (tokens/s, tokens per $). */
static bool headline_metric(const ab_result *r, const ab_metric *mt)
{
    return r->status == AB_PASS && (r->headline || strstr(mt->unit, "token"));
}

/* The metrics (name and unit) among headline figures, in order of appearance: one chart each,
 * so bars of one chart measure one thing on one scale (a kv_bandwidth of a few MB/s is not
 * drawn beside 20 GB/s of memory bandwidth, where it would be an empty bar). */
static json_t *headline_metrics(ab_run *const *runs, size_t n)
{
    json_t *ms = json_array();
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            for (size_t m = 0; m < r->nmetrics; m++) {
                const ab_metric *mt = &r->metrics[m];
                if (!headline_metric(r, mt) || !(fabs(mt->stats.median) > 0))
                    continue;
                bool seen = false;
                for (size_t k = 0; k < json_array_size(ms) && !seen; k++) {
                    json_t *e = json_array_get(ms, k);
                    seen = !strcmp(json_string_value(json_array_get(e, 0)), mt->name) &&
                           !strcmp(json_string_value(json_array_get(e, 1)), mt->unit);
                }
                if (!seen)
                    json_array_append_new(ms, json_pack("[s,s]", mt->name, mt->unit));
            }
        }
    return ms;
}

/* The column (one colour) of a headline figure: the device, and the run with several runs. */
static char *headline_col(const ab_result *r, size_t n, const char *label)
{
    const char *dn = r->device_name ? r->device_name : "?";
    return n > 1 ? ab_asprintf("%s %s (%s)", label, r->device, dn)
                 : ab_asprintf("%s (%s)", r->device, dn);
}

/* Index of s in the string array a, appended when absent. */
static size_t str_index(json_t *a, const char *s)
{
    size_t i = 0;
    while (i < json_array_size(a) && strcmp(json_string_value(json_array_get(a, i)), s) != 0)
        i++;
    if (i == json_array_size(a))
        json_array_append_new(a, json_string(s));
    return i;
}

/* Calls fn for every headline figure of metric (name, unit) that is not zero. */
typedef void (*fig_fn)(void *arg, size_t run, const ab_result *r, const ab_metric *mt);
static void each_figure(ab_run *const *runs, size_t n, const char *name, const char *unit,
                        fig_fn fn, void *arg)
{
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            for (size_t m = 0; m < r->nmetrics; m++) {
                const ab_metric *mt = &r->metrics[m];
                if (!strcmp(mt->name, name) && !strcmp(mt->unit, unit) &&
                    headline_metric(r, mt) && fabs(mt->stats.median) > 0)
                    fn(arg, j, r, mt);
            }
        }
}

typedef struct {
    size_t n;
    char *const *labels;
    json_t *impls; /* "row\tcol": {impl: true} */
    json_t *rows, *cols, *cells;
    double maxv, minv;
} htable;

/* first walk: the implementations of each (row without impl, column) */
static void note_impl(void *arg, size_t run, const ab_result *r, const ab_metric *mt)
{
    (void)mt;
    htable *t = arg;
    char *row = case_label(r, false), *col = headline_col(r, t->n, t->labels[run]);
    char *k = row && col ? ab_asprintf("%s\t%s", row, col) : NULL;
    if (k) {
        json_t *s = json_object_get(t->impls, k);
        if (!s)
            json_object_set_new(t->impls, k, s = json_object());
        json_object_set_new(s, r->impl ? r->impl : "", json_true());
        /* the row's flag: some column has more than one implementation */
        if (json_object_size(s) > 1)
            json_object_set_new(t->impls, row, json_true());
    }
    free(k);
    free(row);
    free(col);
}

/* second walk: the cells; a row names the implementation only where a device has several */
static void add_cell(void *arg, size_t run, const ab_result *r, const ab_metric *mt)
{
    htable *t = arg;
    char *base = case_label(r, false);
    bool split = base && json_object_get(t->impls, base);
    char *row = split ? case_label(r, true) : base;
    char *col = headline_col(r, t->n, t->labels[run]);
    if (row && col) {
        size_t ri = str_index(t->rows, row), ci = str_index(t->cols, col);
        char cell[48];
        snprintf(cell, sizeof(cell), "%zu,%zu", ri, ci);
        if (!json_object_get(t->cells, cell))
            json_object_set_new(t->cells, cell, json_real(mt->stats.median));
        t->maxv = fmax(t->maxv, fabs(mt->stats.median));
        t->minv = fmin(t->minv, fabs(mt->stats.median));
    }
    if (row != base)
        free(row);
    free(base);
    free(col);
}

/* The data file of a headline chart: one row per case, one column per device (and run),
 * values divided by f. NULL when out of memory. */
static char *headline_dat(const htable *t, const char *ylab, double f, size_t *dlen)
{
    char *dat = NULL;
    FILE *df = open_memstream(&dat, dlen);
    if (!df)
        return NULL;
    char cl[64];
    fprintf(df, "# accelbench headline figures in %s (medians); one row per case, one "
                "column per device (and run)\n\"case\"",
            one_line(cl, sizeof(cl), ylab));
    for (size_t ci = 0; ci < json_array_size(t->cols); ci++) {
        fputc(' ', df);
        dat_str(df, json_string_value(json_array_get(t->cols, ci)));
    }
    fputc('\n', df);
    for (size_t ri = 0; ri < json_array_size(t->rows); ri++) {
        dat_str(df, json_string_value(json_array_get(t->rows, ri)));
        for (size_t ci = 0; ci < json_array_size(t->cols); ci++) {
            char cell[48];
            snprintf(cell, sizeof(cell), "%zu,%zu", ri, ci);
            json_t *v = json_object_get(t->cells, cell);
            if (v)
                fprintf(df, " %.6g", json_real_value(v) / f);
            else
                fputs(" -", df);
        }
        fputc('\n', df);
    }
    fclose(df);
    return dat;
}

/* Writes the .dat and .gp of the headline chart of one metric and lists it. The y axis is
 * logarithmic when the figures span more than 50x (every bar stays visible). */
static int headline_write(ab_charts *c, const char *dir, const char *metric, const char *unit,
                          const char *ylab, const htable *t, double f, const char *dat,
                          size_t dlen, char *err)
{
    size_t nrows = json_array_size(t->rows), ncols = json_array_size(t->cols);
    char *name = chart_stem(c, "headline", metric, unit);
    char *title = ab_asprintf("Headline %s (%s)", metric, ylab);
    char *ylabel = ab_asprintf("%s (%s)", metric, ylab);
    /* wide enough for the clusters; set before the style computes the terminals */
    double wpx = 30.0 * (double)nrows * (double)(ncols + 1);
    char *extra = ab_asprintf("ncols = %zu\nwidth = %d\n", ncols,
                              (int)fmin(1800.0, fmax(960.0, wpx)));
    char *hdr = name && title && extra && ylabel ? gp_header(name, title, ylabel, "", extra)
                                                 : NULL;
    /* the first rotated tic label reaches left of the axis: room for it */
    const char *first = json_string_value(json_array_get(t->rows, 0));
    int lmargin = (int)fmin(45.0, fmax(14.0, 0.7 * (double)strlen(first ? first : "") - 4.0));
    char *setup = t->maxv > 50.0 * t->minv
                      ? ab_asprintf("set lmargin %d\nset logscale y 10\nset yrange [%.6g:%.6g]\n",
                                    lmargin, t->minv / f / 2.0, t->maxv / f * 2.0)
                      : ab_asprintf("set lmargin %d\nset yrange [0:%.6g]\n", lmargin,
                                    t->maxv / f * 1.1);
    int rc = !hdr || !setup ? ab_err(err, "out of memory")
                            : save_chart(c, dir, name, title, "headline", ab_tpl_bars, hdr,
                                         setup, NULL, dat, dlen, err);
    free(setup);
    free(hdr);
    free(extra);
    free(ylabel);
    free(title);
    free(name);
    return rc;
}

/* The headline chart of one metric: rows are cases, columns devices (and runs). */
static int headline_chart(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                          char *const *labels, const char *metric, const char *unit, char *err)
{
    htable t = {.n = n, .labels = labels, .impls = json_object(), .rows = json_array(),
                .cols = json_array(), .cells = json_object(), .minv = INFINITY};
    each_figure(runs, n, metric, unit, note_impl, &t);
    each_figure(runs, n, metric, unit, add_cell, &t);
    double f;
    char ylab[64];
    ab_display_scale(unit, t.maxv, &f, ylab, sizeof(ylab));
    size_t dlen = 0;
    char *dat = headline_dat(&t, ylab, f, &dlen);
    int rc = dat ? headline_write(c, dir, metric, unit, ylab, &t, f, dat, dlen, err)
                 : ab_err(err, "out of memory");
    free(dat);
    json_decref(t.impls);
    json_decref(t.rows);
    json_decref(t.cols);
    json_decref(t.cells);
    return rc;
}

static int headline_charts(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                           char *const *labels, char *err)
{
    json_t *ms = headline_metrics(runs, n);
    int rc = 0;
    for (size_t i = 0; i < json_array_size(ms) && rc == 0; i++) {
        json_t *e = json_array_get(ms, i);
        rc = headline_chart(c, runs, n, dir, labels, json_string_value(json_array_get(e, 0)),
                            json_string_value(json_array_get(e, 1)), err);
    }
    json_decref(ms);
    return rc;
}

/* ------------------------------------------------------------------ heatmap */

/* Results with string params `src` and `dst` (peer copies between devices): per run, key and
 * first metric, a source x destination heatmap of the passing medians. Rows and columns are
 * every device either param names, in order of first appearance. */
static int heatmap_chart(ab_charts *c, const ab_run *run, size_t j, bool multi_run,
                         const char *key, const char *dir, char *err)
{
    json_t *labels = json_array(), *cells = json_object();
    const char *unit = NULL, *metric = NULL;
    double maxv = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        const char *s = json_string_value(json_object_get(r->params, "src"));
        const char *d = json_string_value(json_object_get(r->params, "dst"));
        if (!s || !d || !r->key || strcmp(r->key, key) != 0 || !r->nmetrics)
            continue;
        str_index(labels, s); /* appended when new */
        str_index(labels, d);
        if (r->status != AB_PASS)
            continue;
        unit = unit ? unit : r->metrics[0].unit;
        metric = metric ? metric : r->metrics[0].name;
        char cell[48];
        snprintf(cell, sizeof(cell), "%zu,%zu", str_index(labels, s), str_index(labels, d));
        json_object_set_new(cells, cell, json_real(r->metrics[0].stats.median));
        maxv = fmax(maxv, r->metrics[0].stats.median);
    }
    int rc = 0;
    size_t n = json_array_size(labels);
    if (unit && n >= 2) {
        double f;
        char cb[64];
        ab_display_scale(unit, maxv, &f, cb, sizeof(cb));
        char *dat = NULL;
        size_t dlen = 0;
        FILE *df = open_memstream(&dat, &dlen);
        if (df) {
            fprintf(df, "\"%s\"", "src \\ dst");
            for (size_t k = 0; k < n; k++) {
                fputc(' ', df);
                dat_str(df, json_string_value(json_array_get(labels, k)));
            }
            fputc('\n', df);
            for (size_t a = 0; a < n; a++) {
                dat_str(df, json_string_value(json_array_get(labels, a)));
                for (size_t b = 0; b < n; b++) {
                    char cell[48];
                    snprintf(cell, sizeof(cell), "%zu,%zu", a, b);
                    json_t *v = json_object_get(cells, cell);
                    if (v)
                        fprintf(df, " %.6g", json_real_value(v) / f);
                    else
                        fputs(" NaN", df);
                }
                fputc('\n', df);
            }
            fclose(df);
        }
        char idx[24];
        snprintf(idx, sizeof(idx), "run%zu", j);
        char *name = stem("heatmap", key, multi_run ? idx : NULL);
        char *title = ab_asprintf("%s %s, source (row) to destination (column)%s%s", key, metric,
                                  multi_run ? ", " : "", multi_run ? run->id : "");
        char *extra = NULL;
        size_t elen = 0;
        FILE *ef = open_memstream(&extra, &elen);
        if (ef) {
            fputs("cb_label = ", ef);
            gp_str(ef, cb);
            fputc('\n', ef);
            fclose(ef);
        }
        char *hdr = name && title && extra ? gp_header(name, title, "source", "destination", extra)
                                           : NULL;
        rc = dat && hdr ? save_chart(c, dir, name, title, "heatmap", ab_tpl_heatmap, hdr, "", NULL,
                                     dat, dlen, err)
                        : ab_err(err, "out of memory");
        free(hdr);
        free(extra);
        free(title);
        free(name);
        free(dat);
    }
    json_decref(labels);
    json_decref(cells);
    return rc;
}

static int heatmap_charts(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                          char *err)
{
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        json_t *keys = json_array();
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            if (r->key && json_object_get(r->params, "src") && json_object_get(r->params, "dst"))
                str_index(keys, r->key); /* appended when new */
        }
        for (size_t k = 0; k < json_array_size(keys) && rc == 0; k++)
            rc = heatmap_chart(c, runs[j], j, n > 1, json_string_value(json_array_get(keys, k)),
                               dir, err);
        json_decref(keys);
    }
    return rc;
}

/* ------------------------------------------------------------------ roofline */

static bool is_flops_unit(const char *u)
{
    return strcmp(u, "FLOP/s") == 0 || strcmp(u, "OP/s") == 0;
}

/* A roofline point of a result: arithmetic intensity (FLOP/byte) and FLOP rate. */
static bool roof_point(const ab_result *r, double *ai, double *perf)
{
    double fl = json_number_value(json_object_get(r->extra, "flops_per_iter"));
    double by = json_number_value(json_object_get(r->extra, "bytes_per_iter"));
    double fps = NAN, bps = NAN;
    for (size_t m = 0; m < r->nmetrics; m++) {
        if (is_flops_unit(r->metrics[m].unit) && isnan(fps))
            fps = r->metrics[m].stats.median;
        if (strcmp(r->metrics[m].unit, "B/s") == 0 && isnan(bps))
            bps = r->metrics[m].stats.median;
    }
    if (fl > 0 && by > 0) {
        *ai = fl / by;
        *perf = isfinite(fps) ? fps : (isfinite(bps) ? bps * *ai : NAN);
    } else if (isfinite(fps) && isfinite(bps) && bps > 0) {
        *ai = fps / bps;
        *perf = fps;
    } else {
        return false;
    }
    return *ai > 0 && *perf > 0 && isfinite(*ai) && isfinite(*perf);
}

/* The device models with at least one roofline point, in order of appearance. */
static json_t *roof_models(ab_run *const *runs, size_t n)
{
    json_t *models = json_array();
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            double ai, perf;
            if (r->status != AB_PASS || !r->device_name || !roof_point(r, &ai, &perf))
                continue;
            bool seen = false;
            for (size_t k = 0; k < json_array_size(models) && !seen; k++)
                seen = strcmp(json_string_value(json_array_get(models, k)), r->device_name) == 0;
            if (!seen)
                json_array_append_new(models, json_string(r->device_name));
        }
    return models;
}

/* What the roofline of one device model is drawn from. */
typedef struct {
    double bw, bw_all, bw_cache, fl, ds_bw, ds_fl; /* roofs, B/s and FLOP/s */
    const char *ds_fl_col;                         /* datasheet column of ds_fl, or NULL */
    double aimin, aimax, pmax, pmin;               /* extent of the points */
    json_t *series;                                /* case keys with points */
} roof_model;

/* The best rates, datasheet peaks and points of the passed results on model. */
static void roof_gather_one(roof_model *R, const ab_result *r)
{
    for (size_t m = 0; m < r->nmetrics; m++) {
        const ab_metric *mt = &r->metrics[m];
        if (strcmp(mt->unit, "B/s") == 0) {
            R->bw_all = fmax(R->bw_all, mt->stats.median);
            if (r->headline)
                R->bw = fmax(R->bw, mt->stats.median);
        }
        if (is_flops_unit(mt->unit))
            R->fl = fmax(R->fl, mt->stats.median);
    }
    json_t *pk = json_object_get(r->extra, "peak");
    const char *pu = json_string_value(json_object_get(pk, "unit"));
    double pv = json_number_value(json_object_get(pk, "value"));
    if (pu && pv > 0 && strcmp(pu, "B/s") == 0)
        R->ds_bw = pv;
    if (pu && pv > 0 && is_flops_unit(pu) && !(pv <= R->ds_fl)) {
        R->ds_fl = pv;
        R->ds_fl_col = json_string_value(json_object_get(pk, "column"));
    }
    double ai, perf;
    if (roof_point(r, &ai, &perf)) {
        R->aimin = fmin(R->aimin, ai);
        R->aimax = fmax(R->aimax, ai);
        R->pmax = fmax(R->pmax, perf);
        R->pmin = fmin(R->pmin, perf);
        bool seen = false;
        for (size_t k = 0; k < json_array_size(R->series) && !seen; k++)
            seen = strcmp(json_string_value(json_array_get(R->series, k)), r->key) == 0;
        if (!seen)
            json_array_append_new(R->series, json_string(r->key));
    }
}

static void roof_gather(roof_model *R, ab_run *const *runs, size_t n, const char *model)
{
    *R = (roof_model){.ds_bw = NAN, .ds_fl = NAN, .aimin = INFINITY, .pmin = INFINITY};
    R->series = json_array();
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < runs[j]->nresults; i++) {
            const ab_result *r = runs[j]->results[i];
            if (r->status != AB_PASS || !r->device_name || strcmp(r->device_name, model))
                continue;
            roof_gather_one(R, r);
        }
    if (!(R->bw > 0))
        R->bw = R->bw_all; /* no headline: the best bandwidth measured on the model */
    /* a cache-aware roofline: the headline bandwidth (memory, the largest working set) and,
     * when caches are much faster, the best bandwidth measured at any size */
    R->bw_cache = R->bw_all > 1.2 * R->bw ? R->bw_all : 0.0;
}

/* The data file of a roofline: one block per case key, rates divided by f. NULL when out of
 * memory. */
static char *roof_dat(const roof_model *R, ab_run *const *runs, size_t n, const char *model,
                      const char *ylab, double f, size_t *dlen)
{
    char *dat = NULL;
    FILE *df = open_memstream(&dat, dlen);
    if (!df)
        return NULL;
    char cm[256], cl[64];
    fprintf(df, "# accelbench roofline points on %s: one block per case key:\n"
                "# intensity (FLOP/byte), rate (%s)\n",
            one_line(cm, sizeof(cm), model), one_line(cl, sizeof(cl), ylab));
    for (size_t s = 0; s < json_array_size(R->series); s++) {
        const char *key = json_string_value(json_array_get(R->series, s));
        if (s)
            fputs("\n\n", df);
        dat_str(df, key);
        fprintf(df, " \"rate (%s)\"\n", ylab);
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < runs[j]->nresults; i++) {
                const ab_result *r = runs[j]->results[i];
                double ai, perf;
                if (r->status == AB_PASS && r->device_name && !strcmp(r->device_name, model) &&
                    !strcmp(r->key, key) && roof_point(r, &ai, &perf))
                    fprintf(df, "%.6g %.6g\n", ai, perf / f);
            }
    }
    fclose(df);
    return dat;
}

/* The ranges and roof variables of a roofline script, scaled to the points and the roofs:
 * x from a quarter of the smallest to 4x the largest of the points' intensities and the ridge
 * points, y from half the lowest point (or memory roof at the left edge) to twice the highest
 * compute roof or point; without any compute roof, to twice the memory roofs at the right
 * edge. NULL when out of memory. */
static char *roof_setup(const roof_model *R, double top, double f)
{
    double lo = R->aimin, hi = R->aimax;
    double bwmax = fmax(R->bw, isfinite(R->ds_bw) ? R->ds_bw : 0.0);
    bool ds_fl = isfinite(R->ds_fl) && R->ds_fl > 0;
    if (R->fl > 0) {
        lo = fmin(lo, R->fl / fmax(bwmax, R->bw_cache)), hi = fmax(hi, R->fl / fmax(R->bw, 1.0));
        if (R->bw_cache > 0)
            lo = fmin(lo, R->fl / R->bw_cache);
    }
    if (ds_fl && isfinite(R->ds_bw))
        hi = fmax(hi, R->ds_fl / R->ds_bw), lo = fmin(lo, R->ds_fl / R->ds_bw);
    lo /= 4.0;
    hi *= 4.0;
    double ytop = top;
    if (!(R->fl > 0) && !ds_fl)
        ytop = fmax(top, fmax(bwmax, R->bw_cache) * hi);
    double ybot = fmin(R->pmin, fmin(R->bw, bwmax) * lo);
    char *setup = NULL;
    size_t sl = 0;
    FILE *sf = open_memstream(&setup, &sl);
    if (!sf)
        return NULL;
    fprintf(sf, "set xrange [%.6g:%.6g]\n", lo, hi);
    fprintf(sf, "set yrange [%.6g:%.6g]\n", ybot / f / 2.0, ytop / f * 2.0);
    fprintf(sf, "bw_measured = %.6g   # best measured bandwidth of this model (B/s / %g)\n",
            R->bw / f, f);
    fprintf(sf, "bw_cache = %.6g      # best bandwidth at any working set; 0: not drawn\n",
            R->bw_cache / f);
    fprintf(sf, "fl_measured = %.6g   # best measured FLOP rate; 0: none measured\n", R->fl / f);
    fprintf(sf, "bw_datasheet = %.6g  # 0: no datasheet figure\n",
            isfinite(R->ds_bw) ? R->ds_bw / f : 0.0);
    fprintf(sf, "fl_datasheet = %.6g  # 0: no datasheet figure\n",
            isfinite(R->ds_fl) ? R->ds_fl / f : 0.0);
    fclose(sf);
    return setup;
}

/* The datasheet roof of a roofline plot command, when there is a datasheet figure. */
static void roof_plot_datasheet(FILE *pf, const roof_model *R)
{
    if (!isfinite(R->ds_bw) && !isfinite(R->ds_fl))
        return;
    char a[48] = "", b[48] = "";
    if (isfinite(R->ds_bw))
        ab_format_value(R->ds_bw, "B/s", a, sizeof(a));
    if (isfinite(R->ds_fl))
        ab_format_value(R->ds_fl, "FLOP/s", b, sizeof(b));
    const char *expr = isfinite(R->ds_bw) && isfinite(R->ds_fl)
                           ? "min(bw_datasheet * x, fl_datasheet)"
                           : (isfinite(R->ds_bw) ? "bw_datasheet * x" : "fl_datasheet");
    fprintf(pf, ", %s with lines lw 2 dt 2 lc rgb \"#999999\" title ", expr);
    const char *col = R->ds_fl_col;
    gp_titlef(pf, "datasheet: %s%s%s%s%s%s", a, *a && *b ? ", " : "", b, col ? " (" : "",
              col ? col : "", col ? ")" : "");
}

/* The plot command of a roofline: the points, the measured roofs, the datasheet roof. NULL when
 * out of memory. */
static char *roof_plot(const roof_model *R)
{
    char *plot = NULL;
    size_t pl = 0;
    FILE *pf = open_memstream(&plot, &pl);
    if (!pf)
        return NULL;
    char bwl[48], fll[48];
    fputs("plot ", pf);
    for (size_t s = 0; s < json_array_size(R->series); s++)
        fprintf(pf, "data index %zu using 1:2 with points pt %zu ps 1.3 title columnheader(1), ",
                s, 5 + 2 * (s % 4));
    ab_format_value(R->bw, "B/s", bwl, sizeof(bwl));
    if (R->fl > 0) {
        ab_format_value(R->fl, "FLOP/s", fll, sizeof(fll));
        fputs("min(bw_measured * x, fl_measured) with lines lw 2 lc rgb \"#333333\" title ", pf);
        gp_titlef(pf, "measured roof: %s, %s", bwl, fll);
    } else {
        fputs("bw_measured * x with lines lw 2 lc rgb \"#333333\" title ", pf);
        gp_titlef(pf, "measured memory roof (headline): %s", bwl);
    }
    if (R->bw_cache > 0) {
        char cr[48];
        ab_format_value(R->bw_cache, "B/s", cr, sizeof(cr));
        fprintf(pf, ", %s with lines lw 1.5 dt 3 lc rgb \"#333333\" title ",
                R->fl > 0 ? "min(bw_cache * x, fl_measured)" : "bw_cache * x");
        gp_titlef(pf, "measured cache roof: %s", cr);
    }
    roof_plot_datasheet(pf, R);
    fputc('\n', pf);
    fclose(pf);
    return plot;
}

/* Writes the .dat and .gp of the roofline of model and lists it. */
static int roof_write(ab_charts *c, const char *dir, const char *model, const char *ylab,
                      const char *dat, size_t dlen, const char *setup, const char *plot,
                      char *err)
{
    int rc = 0;
    char *name = chart_stem(c, "roofline", model, NULL);
    char *title = ab_asprintf("Roofline: %s", model);
    char *hdr = name && title ? gp_header(name, title, ylab, "", NULL) : NULL;
    if (!hdr)
        rc = ab_err(err, "out of memory");
    else
        rc = save_chart(c, dir, name, title, "roofline", ab_tpl_roofline, hdr, setup, plot, dat,
                        dlen, err);
    free(hdr);
    free(title);
    free(name);
    return rc;
}

/* The roofline of one device model; none (0) without a memory roof. */
static int roofline_chart(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                          const char *model, char *err)
{
    roof_model R;
    roof_gather(&R, runs, n, model);
    if (!(R.bw > 0) && !(R.ds_bw > 0)) {
        json_decref(R.series);
        return 0; /* no memory roof: not a roofline */
    }
    double top = fmax(fmax(R.fl, R.pmax), isfinite(R.ds_fl) ? R.ds_fl : 0.0);
    double f;
    char ylab[64];
    ab_display_scale("FLOP/s", top, &f, ylab, sizeof(ylab));
    size_t dlen = 0;
    char *dat = roof_dat(&R, runs, n, model, ylab, f, &dlen);
    char *setup = dat ? roof_setup(&R, top, f) : NULL;
    char *plot = setup ? roof_plot(&R) : NULL;
    int rc = plot ? roof_write(c, dir, model, ylab, dat, dlen, setup, plot, err)
                  : ab_err(err, "out of memory");
    free(setup);
    free(plot);
    free(dat);
    json_decref(R.series);
    return rc;
}

static int roofline_charts(ab_charts *c, ab_run *const *runs, size_t n, const char *dir,
                           char *const *labels, char *err)
{
    json_t *models = roof_models(runs, n);
    int rc = 0;
    for (size_t mi = 0; mi < json_array_size(models) && rc == 0; mi++)
        rc = roofline_chart(c, runs, n, dir, json_string_value(json_array_get(models, mi)), err);
    (void)labels;
    json_decref(models);
    return rc;
}

/* ------------------------------------------------------------------ entry points */

int ab_plot_runs(ab_run *const *runs, size_t n, const char *dir, ab_charts *out, char *err)
{
    memset(out, 0, sizeof(*out));
    if (ab_mkdir_p(dir, err) != 0)
        return -1;
    char **labels = calloc(n ? n : 1, sizeof(*labels));
    if (!labels)
        return ab_err(err, "out of memory");
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++)
        if (!(labels[j] = run_labels_one(runs, n, j)))
            rc = ab_err(err, "out of memory");
    if (rc == 0)
        rc = sweep_charts(out, runs, n, dir, labels, err);
    if (rc == 0)
        rc = headline_charts(out, runs, n, dir, labels, err);
    if (rc == 0)
        rc = roofline_charts(out, runs, n, dir, labels, err);
    if (rc == 0)
        rc = heatmap_charts(out, runs, n, dir, err);
    for (size_t j = 0; j < n; j++)
        free(labels[j]);
    free(labels);
    if (rc == 0)
        render_all(out, dir, 0);
    return rc;
}

/* One block of the trend data file (the points of s, divided by f) and an arrow in the setup at
 * each of its step changes, numbered on from *arrows. */
static void trend_block(FILE *df, FILE *sf, const ab_trend_series *s, double f, size_t *arrows)
{
    char *params = NULL;
    json_t *pj = s->params ? json_loads(s->params, 0, NULL) : NULL;
    if (pj)
        params = ab_params_display(pj);
    json_decref(pj);
    char *t = ab_asprintf("%s %s %s %s [%s]", s->key, s->impl ? s->impl : "",
                          params ? params : "", s->metric,
                          s->device_name ? s->device_name : "?");
    free(params);
    dat_str(df, t ? t : "?");
    free(t);
    fputs(" \"median\" \"min\" \"max\"\n", df);
    for (size_t k = 0; k < s->npts; k++) {
        const ab_trend_point *p = &s->pts[k];
        fprintf(df, "%.3f %.6g %.6g %.6g\n", p->start_epoch, p->median / f,
                isfinite(p->min) ? p->min / f : p->median / f,
                isfinite(p->max) ? p->max / f : p->median / f);
    }
    for (size_t k = 0; k < s->nsteps; k++) {
        size_t at = s->steps[k];
        /* the step lies between the last point before it and the first after */
        double x = 0.5 * (s->pts[at - 1].start_epoch + s->pts[at].start_epoch);
        fprintf(sf, "set arrow %zu from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lw 1.5 "
                    "lc rgb \"#D55E00\"\n",
                ++*arrows, x, x);
    }
}

/* The time axis of a trend: about six time tics whatever the span (gnuplot's own choice crowds
 * short spans). */
static void trend_xaxis(FILE *sf, const ab_trend_series *s, size_t n)
{
    double t0 = INFINITY, t1 = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].npts; k++) {
            t0 = fmin(t0, s[i].pts[k].start_epoch);
            t1 = fmax(t1, s[i].pts[k].start_epoch);
        }
    double span = t1 - t0;
    fprintf(sf, "time_format = \"%s\"\n", span < 2 * 86400.0 ? "%m-%d %H:%M:%S" : "%Y-%m-%d");
    fputs("set format x time_format\n", sf);
    if (span > 0) {
        fprintf(sf, "set xtics %.0f\n", fmax(1.0, ceil(span / 6.0)));
        fprintf(sf, "set xrange [%.3f:%.3f]\n", t0 - span / 20.0, t1 + span / 20.0);
    }
}

int ab_plot_trend(const ab_trend_series *s, size_t n, const char *dir, const char *name,
                  ab_charts *out, char *err)
{
    if (ab_mkdir_p(dir, err) != 0)
        return -1;
    if (!n)
        return ab_err(err, "no series to plot");
    size_t from = out->n;
    double maxv = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].npts; k++)
            if (isfinite(s[i].pts[k].max))
                maxv = fmax(maxv, fabs(s[i].pts[k].max));
    double f;
    char ylab[64];
    ab_display_scale(s[0].unit, maxv, &f, ylab, sizeof(ylab));
    char *dat = NULL, *setup = NULL;
    size_t dl = 0, sl = 0;
    FILE *df = open_memstream(&dat, &dl), *sf = open_memstream(&setup, &sl);
    if (!df || !sf) {
        if (df)
            fclose(df);
        if (sf)
            fclose(sf);
        free(dat);
        free(setup);
        return ab_err(err, "out of memory");
    }
    char cl[64];
    fprintf(df, "# accelbench history trend: one block per series:\n"
                "# run start (epoch s), median, min, max (%s)\n",
            one_line(cl, sizeof(cl), ylab));
    size_t arrows = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs("\n\n", df);
        trend_block(df, sf, &s[i], f, &arrows);
    }
    trend_xaxis(sf, s, n);
    fclose(df);
    fclose(sf);
    char *title = ab_asprintf("History: %s %s%s", s[0].key, s[0].metric,
                              arrows ? " (dashed: step changes)" : "");
    char *ylabel = ab_asprintf("%s (%s)", s[0].metric, ylab);
    char *extra = ab_asprintf("nseries = %zu\n", n);
    char *hdr = title && ylabel && extra ? gp_header(name, title, ylabel, "", extra) : NULL;
    int rc = 0;
    if (!hdr)
        rc = ab_err(err, "out of memory");
    else
        rc = save_chart(out, dir, name, title, "trend", ab_tpl_trend, hdr, setup, NULL, dat, dl,
                        err);
    free(hdr);
    free(extra);
    free(ylabel);
    free(title);
    free(setup);
    free(dat);
    if (rc == 0)
        render_all(out, dir, from);
    return rc;
}

/* Fleet view (issue 16, runners/cmd_fleet.c): one clustered-bar chart of given cells, with the
 * headline chart's data file format and template. */
int ab_plot_bars(const char *dir, const char *name, const char *title, const char *ylabel,
                 json_t *rows, json_t *cols, json_t *cells, ab_charts *out, char *err)
{
    memset(out, 0, sizeof(*out));
    if (ab_mkdir_p(dir, err) != 0)
        return -1;
    size_t dlen = 0;
    const htable t = {.rows = rows, .cols = cols, .cells = cells};
    char *dat = headline_dat(&t, ylabel, 1.0, &dlen);
    double wpx = 40.0 * (double)json_array_size(rows) * (double)json_array_size(cols);
    char *extra = ab_asprintf("ncols = %zu\nwidth = %d\n", json_array_size(cols),
                              (int)fmin(1800.0, fmax(960.0, wpx)));
    char *hdr = extra ? gp_header(name, title, ylabel, "", extra) : NULL;
    int rc = dat && hdr ? save_chart(out, dir, name, title, "bars", ab_tpl_bars, hdr, "", NULL,
                                     dat, dlen, err)
                        : ab_err(err, "out of memory");
    if (rc == 0)
        render_all(out, dir, 0);
    free(hdr);
    free(extra);
    free(dat);
    return rc;
}
