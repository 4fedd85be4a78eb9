/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);
    if (!b)
        abort();
    memcpy(b + *len, data, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
}

int ab_test_run(ab_proc *p, double interrupt_after, const char *const *argv)
{
    return ab_test_exec(p, interrupt_after, AB_TEST_BINARY, argv);
}

static int exec_signal(ab_proc *p, double interrupt_after, int sig, const char *prog,
                       const char *const *argv);
static long child_fsize; /* > 0: RLIMIT_FSIZE for the next child */
static const char *watch_path; /* signal the child once this file has watch_lines lines */
static size_t watch_lines;

size_t ab_file_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int ab_test_run_signal_when(ab_proc *p, const char *path, size_t lines, int sig,
                            const char *const *argv)
{
    watch_path = path;
    watch_lines = lines;
    int rc = exec_signal(p, 0, sig, AB_TEST_BINARY, argv);
    watch_path = NULL;
    return rc;
}

int ab_test_run_fsize(ab_proc *p, long fsize, const char *const *argv)
{
    child_fsize = fsize;
    int rc = exec_signal(p, 0, SIGINT, AB_TEST_BINARY, argv);
    child_fsize = 0;
    return rc;
}

int ab_test_run_signal(ab_proc *p, double after, int sig, const char *const *argv)
{
    return exec_signal(p, after, sig, AB_TEST_BINARY, argv);
}

int ab_test_exec(ab_proc *p, double interrupt_after, const char *prog, const char *const *argv)
{
    return exec_signal(p, interrupt_after, SIGINT, prog, argv);
}

static int exec_signal(ab_proc *p, double interrupt_after, int sig, const char *prog,
                       const char *const *argv)
{
    memset(p, 0, sizeof(*p));
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (child_fsize > 0) {
            struct rlimit rl = {(rlim_t)child_fsize, (rlim_t)child_fsize};
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        size_t n = 0;
        while (argv[n])
            n++;
        const char **args = calloc(n + 2, sizeof(*args));
        args[0] = prog;
        for (size_t i = 0; i < n; i++)
            args[i + 1] = argv[i];
        execv(prog, (char *const *)args);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t lo = 0, le = 0;
    p->out = calloc(1, 1);
    p->err = calloc(1, 1);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    double t0 = now();
    bool sent = false;
    while (open_fds > 0) {
        int timeout = -1;
        if (watch_path && !sent) {
            if (ab_file_lines(watch_path) >= watch_lines) {
                kill(pid, sig);
                sent = true;
                continue;
            }
            timeout = 50;
        } else if (interrupt_after > 0 && !sent) {
            double left = interrupt_after - (now() - t0);
            if (left <= 0) {
                kill(pid, sig);
                sent = true;
                continue;
            }
            timeout = (int)(left * 1000) + 1;
        }
        int r = poll(fds, 2, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[4096];
            ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                append(&p->out, &lo, buf, (size_t)n);
            } else {
                append(&p->err, &le, buf, (size_t)n);
            }
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

void ab_proc_free(ab_proc *p)
{
    free(p->out);
    free(p->err);
    memset(p, 0, sizeof(*p));
}

size_t ab_count_lines(const char *s)
{
    size_t n = 0;
    const char *p = s;
    for (; *p; p++)
        n += *p == '\n';
    if (p > s && p[-1] != '\n')
        n++;
    return n;
}

char *ab_test_tmpdir(const char *tag)
{
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/ab-%s-XXXXXX", AB_TEST_TMP, tag);
    mkdir(AB_TEST_TMP, 0755);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

int ab_dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}
