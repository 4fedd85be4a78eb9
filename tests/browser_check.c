/* SPDX-License-Identifier: MIT */
/*
 * ab_browser_check: opens an HTML file in headless Chromium and fails when the page logs a console
 * error, throws an uncaught exception, or fails to load a resource (a CSP block included).
 *
 * It drives Chromium through the DevTools protocol over a pipe (--remote-debugging-pipe: JSON
 * messages separated by NUL bytes on file descriptors 3 and 4), not by scraping log output, so
 * it sees exactly what the DevTools console would show: Runtime.exceptionThrown,
 * Runtime.consoleAPICalled (error, assert, warning) and Log.entryAdded (browser-side errors such as
 * "Failed to load resource"). After the load event and a short settle time it evaluates a small
 * expression to report what rendered.
 *
 *   ab_browser_check [--min-svg N] [--require-rendered] [--timeout SEC] [--screenshot PNG]
 *                    FILE.html
 *
 * --screenshot writes what rendered, the whole page 1280 pixels wide, to PNG
 * (Page.captureScreenshot): the test artefact a person looks at.
 *
 * Exit: 0 clean; 1 errors found (each printed) or the expectations not met; 2 usage or the
 * browser failed; 77 no Chromium found (CTest's skip code; set $AB_CHROMIUM to name one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int to, from; /* our ends: commands to the browser, messages from it */
    char *buf;
    size_t len, cap;
    int next_id;
    json_t *events; /* every event received while waiting */
    double deadline;
} cdp;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *find_chromium(void)
{
    static char path[PATH_MAX];
    const char *e = getenv("AB_CHROMIUM");
    if (e)
        return *e && access(e, X_OK) == 0 ? e : NULL;
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", NULL};
    const char *p = getenv("PATH");
    for (size_t i = 0; names[i]; i++) {
        char *copy = strdup(p ? p : "/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(path, sizeof(path), "%s/%s", d, names[i]);
            if (access(path, X_OK) == 0) {
                free(copy);
                return path;
            }
        }
        free(copy);
    }
    return NULL;
}

static int send_cmd(cdp *c, const char *method, json_t *params, const char *session)
{
    json_t *m = json_object();
    int id = ++c->next_id;
    json_object_set_new(m, "id", json_integer(id));
    json_object_set_new(m, "method", json_string(method));
    json_object_set_new(m, "params", params ? params : json_object());
    if (session)
        json_object_set_new(m, "sessionId", json_string(session));
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (!s)
        return -1;
    size_t n = strlen(s) + 1; /* the NUL terminates the message */
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(c->to, s + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            free(s);
            return -1;
        }
        off += (size_t)w;
    }
    free(s);
    return id;
}

/* Next message, or NULL on timeout (the overall deadline) or when the browser closed the pipe. */
static json_t *recv_msg(cdp *c, double until)
{
    for (;;) {
        char *z = c->len ? memchr(c->buf, '\0', c->len) : NULL;
        if (z) {
            size_t n = (size_t)(z - c->buf);
            json_t *m = json_loadb(c->buf, n, 0, NULL);
            memmove(c->buf, z + 1, c->len - n - 1);
            c->len -= n + 1;
            if (m)
                return m;
            continue;
        }
        double left = (until < c->deadline ? until : c->deadline) - now();
        if (left <= 0)
            return NULL;
        struct pollfd pf = {c->from, POLLIN, 0};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        if (c->len + 65536 > c->cap) {
            c->cap = c->cap * 2 + 65536;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf)
                return NULL;
        }
        ssize_t n = read(c->from, c->buf + c->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        c->len += (size_t)n;
    }
}

/* Waits for the reply to command id; events that arrive meanwhile are kept. */
static json_t *wait_reply(cdp *c, int id)
{
    for (;;) {
        json_t *m = recv_msg(c, c->deadline);
        if (!m)
            return NULL;
        json_t *mid = json_object_get(m, "id");
        if (json_is_integer(mid) && json_integer_value(mid) == id)
            return m;
        json_array_append_new(c->events, m);
    }
}

static json_t *call(cdp *c, const char *method, json_t *params, const char *session)
{
    int id = send_cmd(c, method, params, session);
    if (id < 0)
        return NULL;
    json_t *r = wait_reply(c, id);
    if (r && json_object_get(r, "error")) {
        char *e = json_dumps(json_object_get(r, "error"), JSON_COMPACT);
        fprintf(stderr, "ab_browser_check: %s: %s\n", method, e ? e : "?");
        free(e);
        json_decref(r);
        return NULL;
    }
    return r;
}

static const char *str_at(json_t *o, const char *a, const char *b, const char *c3)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c3)
        v = json_object_get(v, c3);
    return json_string_value(v);
}

/* Prints and counts the events that are errors. */
static int count_problems(json_t *events)
{
    int bad = 0;
    size_t i;
    json_t *m;
    json_array_foreach(events, i, m)
    {
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *p = json_object_get(m, "params");
        if (!method)
            continue;
        if (strcmp(method, "Runtime.exceptionThrown") == 0) {
            json_t *d = json_object_get(p, "exceptionDetails");
            const char *desc = str_at(d, "exception", "description", NULL);
            printf("exception: %s (%s:%lld)\n", desc ? desc : str_at(d, "text", NULL, NULL),
                   str_at(d, "url", NULL, NULL) ? str_at(d, "url", NULL, NULL) : "?",
                   (long long)json_integer_value(json_object_get(d, "lineNumber")) + 1);
            bad++;
        } else if (strcmp(method, "Runtime.consoleAPICalled") == 0) {
            const char *type = json_string_value(json_object_get(p, "type"));
            if (!type || (strcmp(type, "error") && strcmp(type, "assert") && strcmp(type, "warning")))
                continue;
            json_t *a0 = json_array_get(json_object_get(p, "args"), 0);
            const char *v = json_string_value(json_object_get(a0, "value"));
            const char *d = json_string_value(json_object_get(a0, "description"));
            printf("console.%s: %s\n", type, v ? v : (d ? d : "?"));
            bad++;
        } else if (strcmp(method, "Log.entryAdded") == 0) {
            const char *level = str_at(p, "entry", "level", NULL);
            if (!level || (strcmp(level, "error") && strcmp(level, "warning")))
                continue;
            const char *text = str_at(p, "entry", "text", NULL);
            const char *url = str_at(p, "entry", "url", NULL);
            printf("log %s: %s%s%s\n", level, text ? text : "?", url ? " " : "", url ? url : "");
            bad++;
        }
    }
    return bad;
}

static void usage(void)
{
    fputs("usage: ab_browser_check [--min-svg N] [--require-rendered] [--timeout SEC] "
          "[--screenshot PNG] FILE.html\n",
          stderr);
}

/* Decodes base64 text into out (at least strlen(in) * 3 / 4 bytes); the decoded length. */
static size_t unbase64(const char *in, unsigned char *out)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(al, *in);
        if (!p)
            continue;
        acc = (acc << 6) | (unsigned)(p - al);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

/* The whole page, 1280 pixels wide, as a PNG at path: 0, or -1 (printed). */
static int screenshot(cdp *c, const char *sid, const char *path)
{
    json_t *h = call(c, "Runtime.evaluate",
                     json_pack("{s:s,s:b}", "expression",
                               "Math.max(document.documentElement.scrollHeight, 600)",
                               "returnByValue", 1),
                     sid);
    json_t *hv = json_object_get(json_object_get(json_object_get(h, "result"), "result"),
                                 "value");
    long height = hv ? (long)json_number_value(hv) : 2000;
    json_decref(h);
    if (height > 16000)
        height = 16000;
    json_decref(call(c, "Emulation.setDeviceMetricsOverride",
                     json_pack("{s:i,s:i,s:i,s:b}", "width", 1280, "height", (int)height,
                               "deviceScaleFactor", 1, "mobile", 0),
                     sid));
    json_t *r = call(c, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"), sid);
    const char *data = str_at(r, "result", "data", NULL);
    int rc = -1;
    unsigned char *png = data ? malloc(strlen(data) * 3 / 4 + 4) : NULL;
    FILE *f = png ? fopen(path, "wb") : NULL;
    if (f) {
        size_t n = unbase64(data, png);
        rc = fwrite(png, 1, n, f) == n ? 0 : -1;
        rc |= fclose(f) == 0 ? 0 : -1;
    }
    if (rc != 0)
        printf("the screenshot could not be written to %s\n", path);
    else
        printf("screenshot: %s (1280 x %ld)\n", path, height);
    free(png);
    json_decref(r);
    return rc;
}

int main(int argc, char **argv)
{
    long min_svg = 0;
    bool require_rendered = false;
    double timeout = 60.0;
    const char *file = NULL, *shot = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-svg") == 0 && i + 1 < argc)
            min_svg = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--require-rendered") == 0)
            require_rendered = true;
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--screenshot") == 0 && i + 1 < argc)
            shot = argv[++i];
        else if (argv[i][0] == '-' || file) {
            usage();
            return 2;
        } else
            file = argv[i];
    }
    if (!file) {
        usage();
        return 2;
    }
    char abs[PATH_MAX];
    if (!realpath(file, abs)) {
        fprintf(stderr, "ab_browser_check: %s: %s\n", file, strerror(errno));
        return 2;
    }
    const char *chromium = find_chromium();
    if (!chromium) {
        fprintf(stderr, "ab_browser_check: no Chromium (install it: scripts/install-deps.sh "
                        "--browser, or set AB_CHROMIUM)\n");
        return 77;
    }
    char profile[] = "/tmp/ab-browser-XXXXXX";
    if (!mkdtemp(profile)) {
        fprintf(stderr, "ab_browser_check: mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    int to[2], from[2];
    if (pipe(to) || pipe(from)) {
        perror("pipe");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        /* the browser reads commands on fd 3 and writes on fd 4; move our ends out of the way
         * first so that no dup2 clobbers the other */
        int a = fcntl(to[0], F_DUPFD, 10), b = fcntl(from[1], F_DUPFD, 10);
        if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
            _exit(126);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
        char udd[PATH_MAX + 32];
        snprintf(udd, sizeof(udd), "--user-data-dir=%s", profile);
        /* Root needs --no-sandbox; the networking switches keep a closed network from showing
         * up as errors (and the page must load nothing anyway). */
        execl(chromium, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-extensions", "--disable-default-apps",
              "--mute-audio", "--remote-debugging-pipe", udd, "about:blank", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    cdp c = {.to = to[1], .from = from[0], .events = json_array(),
             .deadline = now() + timeout};
    int rc = 2;
    json_t *r = call(&c, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), NULL);
    const char *tid = str_at(r, "result", "targetId", NULL);
    json_t *r2 = tid ? call(&c, "Target.attachToTarget",
                            json_pack("{s:s,s:b}", "targetId", tid, "flatten", 1), NULL)
                     : NULL;
    const char *sid = str_at(r2, "result", "sessionId", NULL);
    json_t *ev = NULL;
    if (!sid) {
        fprintf(stderr, "ab_browser_check: the browser did not answer on the DevTools pipe\n");
        goto out;
    }
    static const char *const enable[] = {"Runtime.enable", "Log.enable", "Page.enable"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = call(&c, enable[i], NULL, sid);
        if (!x)
            goto out;
        json_decref(x);
    }
    char url[PATH_MAX + 16];
    snprintf(url, sizeof(url), "file://%s", abs);
    json_t *nav = call(&c, "Page.navigate", json_pack("{s:s}", "url", url), sid);
    if (!nav || str_at(nav, "result", "errorText", NULL)) {
        fprintf(stderr, "ab_browser_check: cannot open %s: %s\n", url,
                nav ? str_at(nav, "result", "errorText", NULL) : "no answer");
        json_decref(nav);
        goto out;
    }
    json_decref(nav);
    /* the load event (it may already be among the kept events), then a settle time for late
     * errors (timers, deferred resources) */
    bool loaded = false;
    size_t i;
    json_array_foreach(c.events, i, ev)
    {
        const char *m = json_string_value(json_object_get(ev, "method"));
        loaded |= m && strcmp(m, "Page.loadEventFired") == 0;
    }
    while (!loaded) {
        json_t *m = recv_msg(&c, c.deadline);
        if (!m) {
            fprintf(stderr, "ab_browser_check: no load event within %.0f s\n", timeout);
            goto out;
        }
        const char *meth = json_string_value(json_object_get(m, "method"));
        loaded = meth && strcmp(meth, "Page.loadEventFired") == 0;
        json_array_append_new(c.events, m);
    }
    for (double until = now() + 0.5;;) {
        json_t *m = recv_msg(&c, until);
        if (!m)
            break;
        json_array_append_new(c.events, m);
    }
    json_t *val = call(&c, "Runtime.evaluate",
                       json_pack("{s:s,s:b}", "expression",
                                 "JSON.stringify({rendered: document.documentElement."
                                 "getAttribute('data-rendered'), svg: document.querySelectorAll("
                                 "'svg').length, tables: document.querySelectorAll('table')."
                                 "length, title: document.title})",
                                 "returnByValue", 1),
                       sid);
    const char *res = str_at(val, "result", "result", "value");
    json_t *info = res ? json_loads(res, 0, NULL) : NULL;
    int problems = count_problems(c.events);
    long svg = (long)json_integer_value(json_object_get(info, "svg"));
    const char *rendered = json_string_value(json_object_get(info, "rendered"));
    printf("%s: %ld svg, %lld tables, title '%s', %s, %d console problem%s\n", file, svg,
           (long long)json_integer_value(json_object_get(info, "tables")),
           json_string_value(json_object_get(info, "title"))
               ? json_string_value(json_object_get(info, "title"))
               : "?",
           rendered ? "script ran" : "script did not run", problems, problems == 1 ? "" : "s");
    rc = problems ? 1 : 0;
    if (!info) {
        printf("the page could not be inspected\n");
        rc = 1;
    }
    if (svg < min_svg) {
        printf("expected at least %ld inline SVG charts\n", min_svg);
        rc = 1;
    }
    if (require_rendered && !(rendered && strcmp(rendered, "1") == 0)) {
        printf("the page's script did not complete (data-rendered not set)\n");
        rc = 1;
    }
    if (shot && screenshot(&c, sid, shot) != 0)
        rc = 1;
    json_decref(info);
    json_decref(val);
    json_decref(call(&c, "Browser.close", NULL, NULL));
out:
    json_decref(r);
    json_decref(r2);
    close(c.to);
    close(c.from);
    /* Browser.close normally ends it; do not leave a browser behind when it did not answer */
    for (int k = 0; k < 50; k++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        usleep(100000);
    }
    if (pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", profile);
    if (system(cmd) != 0)
        fprintf(stderr, "ab_browser_check: could not remove %s\n", profile);
    json_decref(c.events);
    free(c.buf);
    return rc;
}
