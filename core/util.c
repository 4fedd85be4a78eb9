/* SPDX-License-Identifier: MIT */
#include "ab.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[] = {"pass", "fail", "skip", "error"};

const char *ab_status_name(ab_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "error";
}

int ab_status_parse(const char *s, ab_status *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, status_names[i]) == 0) {
            *out = (ab_status)i;
            return 0;
        }
    }
    return -1;
}

int ab_err(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, AB_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The log level is one of the two pieces of process-wide state (the other is the interrupt flag,
 * which a signal handler must reach). Everything else lives in context structs. */
static ab_log_level log_level = AB_LOG_INFO;

void ab_log_set_level(ab_log_level lvl)
{
    log_level = lvl;
}

ab_log_level ab_log_get_level(void)
{
    return log_level;
}

void ab_log(ab_log_level lvl, const char *fmt, ...)
{
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    if (lvl > log_level)
        return;
    /* one stdio call per line: lines from threads (run --concurrent) do not interleave */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s\n", prefix[lvl], line);
}

static volatile sig_atomic_t interrupted_flag;

static void on_signal(int sig)
{
    (void)sig;
    /* A second signal ends the process at once: the run document already on disk is whole,
     * because it is rewritten atomically after every result. */
    if (interrupted_flag)
        _exit(AB_EXIT_INTERRUPTED);
    interrupted_flag = 1;
}

void ab_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool ab_interrupted(void)
{
    return interrupted_flag != 0;
}

void ab_interrupt_reset(void)
{
    interrupted_flag = 0;
}

double ab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ab_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ab_format_utc(double epoch, char *buf, size_t len)
{
    time_t t = (time_t)epoch;
    int ms = (int)((epoch - (double)t) * 1000.0);
    if (ms < 0)
        ms = 0;
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[32];
    strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", tmp, ms);
}

char *ab_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *ab_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

void ab_strlcpy(char *dst, const char *src, size_t len)
{
    if (!len)
        return;
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void ab_trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
}

int ab_parse_size(const char *s, uint64_t *out, char *err)
{
    if (!s || !*s)
        return ab_err(err, "empty size");
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '-')
        return ab_err(err, "size '%s' is negative", s);
    errno = 0;
    char *end;
    double v = strtod(p, &end);
    if (end == p || errno || !isfinite(v))
        return ab_err(err, "size '%s' is not a number", s);
    double mult = 1.0;
    if (*end) {
        static const struct {
            const char *suffix;
            double mult;
        } units[] = {
            {"KiB", 1024.0}, {"Ki", 1024.0}, {"MiB", 1048576.0}, {"Mi", 1048576.0},
            {"GiB", 1073741824.0}, {"Gi", 1073741824.0}, {"TiB", 1099511627776.0},
            {"Ti", 1099511627776.0}, {"kB", 1e3}, {"k", 1e3}, {"KB", 1e3}, {"K", 1e3},
            {"MB", 1e6}, {"M", 1e6}, {"GB", 1e9}, {"G", 1e9}, {"TB", 1e12}, {"T", 1e12},
            {"B", 1.0},
        };
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(end, units[i].suffix) == 0)
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return ab_err(err, "size '%s' has an unknown unit '%s' (use k/M/G/T or Ki/Mi/Gi/Ti)", s,
                          end);
        mult = units[i].mult;
    }
    double bytes = v * mult;
    if (bytes <= 0.0)
        return ab_err(err, "size '%s' must be positive", s);
    if (bytes > 1152921504606846976.0) /* 2^60: more than any machine holds */
        return ab_err(err, "size '%s' is absurdly large", s);
    if (bytes != floor(bytes))
        return ab_err(err, "size '%s' is not a whole number of bytes", s);
    *out = (uint64_t)bytes;
    return 0;
}

int ab_parse_double(const char *s, const char *what, double *out, char *err)
{
    if (!s || !*s)
        return ab_err(err, "%s: empty value", what);
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return ab_err(err, "%s: '%s' is not a number", what, s);
    if (v <= 0.0)
        return ab_err(err, "%s: '%s' must be positive", what, s);
    *out = v;
    return 0;
}

int ab_parse_long(const char *s, const char *what, long lo, long hi, long *out, char *err)
{
    if (!s || !*s)
        return ab_err(err, "%s: empty value", what);
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno)
        return ab_err(err, "%s: '%s' is not an integer", what, s);
    if (v < lo || v > hi)
        return ab_err(err, "%s: %ld is outside [%ld, %ld]", what, v, lo, hi);
    *out = v;
    return 0;
}

int ab_parse_tokens(const char *s, const char *what, long lo, long hi, long *out, char *err)
{
    char *end = NULL;
    if (!s || !*s || *s == '-' || *s == '+')
        return ab_err(err, "%s: '%s' is not a positive length", what, s ? s : "");
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno)
        return ab_err(err, "%s: '%s' is not a number", what, s);
    if (*end == 'k' || *end == 'K') {
        if (v > (1ull << 40))
            return ab_err(err, "%s: '%s' is too large", what, s);
        v *= 1024;
        end++;
    }
    if (*end)
        return ab_err(err, "%s: '%s' is not a length (e.g. 2048 or 2k)", what, s);
    if (v == 0)
        return ab_err(err, "%s: length must be positive, got '%s'", what, s);
    if (v < (unsigned long long)lo || v > (unsigned long long)hi)
        return ab_err(err, "%s: '%s' is outside [%ld, %ld]", what, s, lo, hi);
    *out = (long)v;
    return 0;
}

int ab_parse_long_list(const char *s, const char *what, long lo, long hi, bool tokens,
                       long *out, size_t max, size_t *n, char *err)
{
    char e[AB_ERRLEN];
    *n = 0;
    char **items = ab_split_list(s, e);
    if (!items)
        return ab_err(err, "%s: %s", what, e);
    int rc = 0;
    for (size_t i = 0; items[i] && rc == 0; i++) {
        if (*n == max) {
            rc = ab_err(err, "%s: more than %zu values", what, max);
            break;
        }
        rc = tokens ? ab_parse_tokens(items[i], what, lo, hi, &out[*n], err)
                    : ab_parse_long(items[i], what, lo, hi, &out[*n], err);
        if (rc == 0)
            (*n)++;
    }
    ab_strv_free(items);
    return rc;
}

void ab_format_bytes(uint64_t b, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    uint64_t scale = 1;
    while (u < 4 && b >= scale * 1024) {
        scale *= 1024;
        u++;
    }
    if (b % scale == 0)
        snprintf(buf, len, "%llu %s", (unsigned long long)(b / scale), unit[u]);
    else
        snprintf(buf, len, "%.1f %s", (double)b / (double)scale, unit[u]);
}

char **ab_split_list(const char *s, char *err)
{
    if (!s) {
        ab_err(err, "empty list");
        return NULL;
    }
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = calloc(n + 1, sizeof(*v));
    char *copy = strdup(s);
    if (!v || !copy) {
        free(v);
        free(copy);
        ab_err(err, "out of memory");
        return NULL;
    }
    size_t i = 0;
    char *start = copy;
    /* strtok_r skips empty fields silently; walk by hand so "a,,b" is an error. */
    for (;;) {
        char *comma = strchr(start, ',');
        if (comma)
            *comma = '\0';
        char *item = strdup(start);
        if (!item)
            goto oom;
        ab_trim(item);
        if (!*item) {
            free(item);
            ab_err(err, "empty item in list '%s'", s);
            goto fail;
        }
        v[i++] = item;
        if (!comma)
            break;
        start = comma + 1;
    }
    free(copy);
    return v;
oom:
    ab_err(err, "out of memory");
fail:
    free(copy);
    ab_strv_free(v);
    return NULL;
}

void ab_strv_free(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

size_t ab_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void ab_exe_dir(char *buf, size_t len)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) {
        ab_strlcpy(buf, ".", len);
        return;
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    ab_strlcpy(buf, path, len);
}

int ab_mkdir_p(const char *path, char *err)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof(tmp))
        return ab_err(err, "path too long: %s", path);
    ab_strlcpy(tmp, path, sizeof(tmp));
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return ab_err(err, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return ab_err(err, "cannot create directory %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return ab_err(err, "%s exists and is not a directory", tmp);
    return 0;
}

int ab_write_file_atomic(const char *path, const char *data, size_t len, char *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return ab_err(err, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ab_err(err, "cannot write %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return ab_err(err, "cannot write %s: %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ab_err(err, "cannot sync %s: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return ab_err(err, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ab_err(err, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}

int ab_read_input(const char *path, size_t max, const char *what, char **buf, size_t *len,
                  char *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ab_err(err, "%s: %s", path, strerror(errno));
    char lim[32];
    ab_format_bytes(max, lim, sizeof(lim));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return ab_err(err, "%s: is a directory, not a %s", path, what);
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        close(fd);
        return ab_err(err, "%s: larger than the %s limit for a %s", path, lim, what);
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return ab_err(err, "out of memory");
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(b);
                close(fd);
                return ab_err(err, "%s: larger than the %s limit for a %s", path, lim, what);
            }
            size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                free(b);
                close(fd);
                return ab_err(err, "out of memory");
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            close(fd);
            return ab_err(err, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(b);
            close(fd);
            return ab_err(err, "%s: larger than the %s limit for a %s", path, lim, what);
        }
    }
    close(fd);
    size_t skip = n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (skip)
        memmove(b, b + 3, n - 3);
    n -= skip;
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

bool ab_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += k + 1;
    }
    return true;
}
