/* SPDX-License-Identifier: MIT */
/*
 * accelbench core: the vocabulary every module shares.
 *
 * Error convention (stated once for the whole code base):
 *   - Functions returning int return 0 on success and -1 on failure.
 *   - Functions taking `char *err` write a one-line message (no trailing newline, at most
 *     AB_ERRLEN bytes including the terminator) there on failure; err may be NULL.
 *   - Nothing below main() calls exit(); errors travel up as return values.
 *   - Objects returned by ab_*_new() / ab_*_read() belong to the caller and are released with the
 *     matching ab_*_free(); strings inside them belong to the object.
 */
#ifndef AB_H
#define AB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_ERRLEN 256

#ifndef AB_VERSION
#define AB_VERSION "0.0.0-unknown"
#endif

/* Process exit codes, documented in README.md ("Exit codes"). */
enum {
    AB_EXIT_OK = 0,          /* every result passed or was skipped */
    AB_EXIT_FAIL = 1,        /* at least one result failed validation or errored */
    AB_EXIT_USAGE = 2,       /* bad flags, bad input file, unwritable output: nothing was run */
    AB_EXIT_REGRESSION = 3,  /* gate/--baseline: a metric is significantly worse */
    AB_EXIT_IO = 4,          /* results could not be written during or after the run */
    AB_EXIT_INTERRUPTED = 130 /* SIGINT/SIGTERM: partial results were kept */
};

/* One status vocabulary everywhere. */
typedef enum { AB_PASS = 0, AB_FAIL, AB_SKIP, AB_ERROR } ab_status;

const char *ab_status_name(ab_status s);
/* Parses "pass"/"fail"/"skip"/"error"; -1 when unknown. */
int ab_status_parse(const char *s, ab_status *out);

/* Formats a one-line message into err (when non-NULL). Always returns -1 so callers can write
 * `return ab_err(err, "...")`. */
int ab_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- logging: stderr only; stdout is reserved for data ---- */
typedef enum { AB_LOG_ERROR = 0, AB_LOG_WARN, AB_LOG_INFO, AB_LOG_DEBUG } ab_log_level;
void ab_log_set_level(ab_log_level lvl);
ab_log_level ab_log_get_level(void);
void ab_log(ab_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- interruption: set by the SIGINT/SIGTERM handler, polled between samples ---- */
void ab_signals_install(void);
bool ab_interrupted(void);
void ab_interrupt_reset(void); /* tests only */

/* ---- clocks ---- */
double ab_now(void);        /* CLOCK_MONOTONIC seconds */
double ab_wall_time(void);  /* CLOCK_REALTIME seconds since the epoch */
/* ISO-8601 UTC with milliseconds, e.g. 2026-11-27T10:15:00.123Z */
void ab_format_utc(double epoch, char *buf, size_t len);

/* ---- strings and sizes ---- */
char *ab_strdup(const char *s);  /* NULL-safe; aborts never: returns NULL on OOM */
char *ab_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copies at most len-1 bytes and terminates. */
void ab_strlcpy(char *dst, const char *src, size_t len);
void ab_trim(char *s);

/*
 * Parses a byte count: a plain integer, or a number with an SI suffix (k, M, G, T; powers of
 * 1000) or an IEC suffix (Ki, Mi, Gi, Ti; powers of 1024), optionally followed by "B".
 * Rejects negatives, fractions that do not give whole bytes, zero, and values above 2^60.
 */
int ab_parse_size(const char *s, uint64_t *out, char *err);
/* Parses a strictly positive finite double; "what" names the value in the message. */
int ab_parse_double(const char *s, const char *what, double *out, char *err);
/* Parses an integer in [lo, hi]. */
int ab_parse_long(const char *s, const char *what, long lo, long hi, long *out, char *err);
/* Parses a token count in [lo, hi] (lo >= 1): "2048", or "2k" / "32K" with k = 1024 as model
 * cards write them. */
int ab_parse_tokens(const char *s, const char *what, long lo, long hi, long *out, char *err);
/* A comma-separated list of at most `max` integers in [lo, hi] (token counts when `tokens`)
 * into out[], their number in *n; "what" ("--seq") names the option in the message. */
int ab_parse_long_list(const char *s, const char *what, long lo, long hi, bool tokens,
                       long *out, size_t max, size_t *n, char *err);
/* "134217728" -> "128 MiB"; exact binary multiples get the IEC unit, other values bytes. */
void ab_format_bytes(uint64_t b, char *buf, size_t len);

/*
 * A comma-separated list split into a NULL-terminated array of trimmed, non-empty strings.
 * Free with ab_strv_free(). Empty items are an error ("a,,b").
 */
char **ab_split_list(const char *s, char *err);
void ab_strv_free(char **v);
size_t ab_strv_len(char *const *v);

/* Directory of the running executable (from /proc/self/exe), or "." when unknown. */
void ab_exe_dir(char *buf, size_t len);

/* Creates a directory and its parents (mode 0755). */
int ab_mkdir_p(const char *path, char *err);

/*
 * Atomic file write: writes to "<path>.tmp.<pid>" in the same directory, fsyncs, renames over
 * path. Readers see the old file or the new one, never a half-written one.
 */
int ab_write_file_atomic(const char *path, const char *data, size_t len, char *err);

/*
 * Input files have a size limit (SECURITY.md, README "Input limits"): whatever the path names (a
 * regular file, a pipe, /dev/zero), reading stops one byte past the limit with a one-line error.
 */
#define AB_MAX_TABLE_BYTES (4u << 20)    /* price sheets, peak tables, shape files (CSV) */
#define AB_MAX_RUNDOC_BYTES (256u << 20) /* run documents (run.json, baselines, history add) */
#define AB_MAX_PROBE_BYTES (1u << 20)    /* JSON a probe reads (cloud-init instance data) */

/*
 * Reads the whole of path, at most max bytes, into a NUL-terminated malloc'd *buf (*len bytes, the
 * NUL not counted). A leading UTF-8 byte-order mark is dropped. what names the kind of file in
 * the error ("price sheet"): "PATH: larger than the 4 MiB limit for a price sheet".
 */
int ab_read_input(const char *path, size_t max, const char *what, char **buf, size_t *len,
                  char *err);

/* True when s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
bool ab_utf8_valid(const char *s);

#endif
