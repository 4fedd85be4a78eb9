/* SPDX-License-Identifier: MIT */
#include "peaks.h"

#include "ab.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const numeric_cols[] = {
    "memory_gb",   "bandwidth_tbs", "fp64_tflops", "fp64_tensor_tflops", "fp32_tflops",
    "tf32_tflops", "bf16_tflops",   "fp16_tflops", "fp8_tflops",         "int8_tops",
    "tdp_w",       NULL,
};

int ab_peaks_load(const char *path, ab_peaks *p, char *err)
{
    char def[4096];
    if (!path) {
        if (ab_data_path("accelerator-peaks.csv", def, sizeof(def), err) != 0)
            return -1;
        path = def;
    }
    if (ab_table_load(path, &p->t, err) != 0)
        return -1;
    static const char *const required[] = {"model", "match", "source", "accessed", NULL};
    if (ab_table_require(&p->t, required, err) || ab_table_require(&p->t, numeric_cols, err))
        goto fail;
    for (size_t r = 0; r < p->t.nrows; r++) {
        for (size_t i = 0; required[i]; i++)
            if (!*ab_table_get(&p->t, r, required[i])) {
                ab_err(err, "%s:%d: %s is empty", path, p->t.line[r], required[i]);
                goto fail;
            }
        for (size_t i = 0; numeric_cols[i]; i++) {
            const char *v = ab_table_get(&p->t, r, numeric_cols[i]);
            if (!*v)
                continue;
            char *end;
            double d = strtod(v, &end);
            if (end == v || *end || !isfinite(d) || d < 0) {
                ab_err(err, "%s:%d: %s: '%s' is not a non-negative number", path, p->t.line[r],
                       numeric_cols[i], v);
                goto fail;
            }
        }
    }
    return 0;
fail:
    ab_table_free(&p->t);
    return -1;
}

void ab_peaks_free(ab_peaks *p)
{
    ab_table_free(&p->t);
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c);
}

/* pat (length n, without a trailing '$') found in name at word boundaries */
static bool match_one(const char *pat, size_t n, bool anchored, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; n && i + n <= len; i++) {
        if (strncasecmp(name + i, pat, n) != 0)
            continue;
        bool left = i == 0 || !word_char(name[i - 1]) || !word_char(pat[0]);
        bool right = i + n == len || !word_char(name[i + n]) || !word_char(pat[n - 1]);
        if (anchored) {
            size_t rest = i + n;
            while (rest < len && isspace((unsigned char)name[rest]))
                rest++;
            right = rest == len;
        }
        if (left && right)
            return true;
    }
    return false;
}

bool ab_peaks_pattern_match(const char *patterns, const char *name)
{
    const char *s = patterns;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        while (n && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        bool anchored = n && s[n - 1] == '$';
        if (anchored)
            n--;
        if (match_one(s, n, anchored, name))
            return true;
        if (!bar)
            break;
        s = bar + 1;
    }
    return false;
}

int ab_peaks_match(const ab_peaks *p, const char *device_name)
{
    if (!device_name)
        return -1;
    for (size_t r = 0; r < p->t.nrows; r++)
        if (ab_peaks_pattern_match(ab_table_get(&p->t, r, "match"), device_name))
            return (int)r;
    return -1;
}

double ab_peaks_value(const ab_peaks *p, int row, const char *col)
{
    if (row < 0)
        return NAN;
    const char *v = ab_table_get(&p->t, (size_t)row, col);
    return *v ? strtod(v, NULL) : NAN;
}

const char *ab_peaks_str(const ab_peaks *p, int row, const char *col)
{
    return row < 0 ? "" : ab_table_get(&p->t, (size_t)row, col);
}

double ab_peaks_for(const ab_peaks *p, const char *device_name, const char *unit,
                    const char *dtype, int *row, const char **column)
{
    int r = ab_peaks_match(p, device_name);
    if (row)
        *row = r;
    if (column)
        *column = NULL;
    if (r < 0 || !unit)
        return NAN;
    /* candidate columns in order of preference, and the scale to SI */
    const char *cols[3] = {NULL, NULL, NULL};
    double scale = 1e12;
    if (strcmp(unit, "B/s") == 0) {
        cols[0] = "bandwidth_tbs";
    } else if (strcmp(unit, "FLOP/s") == 0 || strcmp(unit, "OP/s") == 0) {
        const char *d = dtype ? dtype : "";
        if (strcmp(d, "f64") == 0) {
            /* vendor DGEMM runs on the FP64 tensor/matrix units where they exist */
            cols[0] = "fp64_tensor_tflops";
            cols[1] = "fp64_tflops";
        } else if (strcmp(d, "f32") == 0) {
            cols[0] = "fp32_tflops";
        } else if (strcmp(d, "tf32") == 0) {
            cols[0] = "tf32_tflops";
        } else if (strcmp(d, "bf16") == 0) {
            cols[0] = "bf16_tflops";
        } else if (strcmp(d, "f16") == 0) {
            cols[0] = "fp16_tflops";
        } else if (strcmp(d, "e4m3") == 0 || strcmp(d, "e5m2") == 0) {
            cols[0] = "fp8_tflops";
        } else if (strcmp(d, "i8") == 0) {
            cols[0] = "int8_tops";
        }
    }
    for (int i = 0; cols[i]; i++) {
        double v = ab_peaks_value(p, r, cols[i]);
        if (!isnan(v)) {
            if (column)
                *column = cols[i];
            return v * scale;
        }
    }
    return NAN;
}
