/* SPDX-License-Identifier: MIT */
/* Test helpers: run the accelbench binary as a child process and capture what it says. */
#ifndef AB_TEST_HELPERS_H
#define AB_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ab_proc {
    int status;   /* exit code, or 128 + signal */
    char *out;    /* stdout */
    char *err;    /* stderr */
} ab_proc;

/* Runs the built accelbench (AB_TEST_BINARY) with the NULL-terminated argv (argv[0] excluded).
 * When interrupt_after > 0, sends SIGINT after that many seconds. */
int ab_test_run(ab_proc *p, double interrupt_after, const char *const *argv);
/* The same, sending signal sig (SIGINT, SIGKILL...) after `after` seconds. */
int ab_test_run_signal(ab_proc *p, double after, int sig, const char *const *argv);
/* The same, sending sig as soon as the file at path has `lines` lines (polled every 50 ms). */
int ab_test_run_signal_when(ab_proc *p, const char *path, size_t lines, int sig,
                            const char *const *argv);
/* The same with every file the child writes limited to fsize bytes (RLIMIT_FSIZE, SIGXFSZ
 * ignored): writes past it fail with EFBIG, the way a full disk fails them. */
int ab_test_run_fsize(ab_proc *p, long fsize, const char *const *argv);
/* The same for any program (a path); argv excludes argv[0]. */
int ab_test_exec(ab_proc *p, double interrupt_after, const char *prog, const char *const *argv);
void ab_proc_free(ab_proc *p);
/* Newlines in the file at path (0 when it cannot be read). */
size_t ab_file_lines(const char *path);
/* Number of lines in s (a final line without newline counts). */
size_t ab_count_lines(const char *s);
/* A fresh empty directory under the build tree; returns a static-lifetime path. */
char *ab_test_tmpdir(const char *tag);
/* Entries in a directory other than . and .. (-1 when it cannot be opened). */
int ab_dir_entries(const char *path);

#endif
