/* SPDX-License-Identifier: MIT */
/* Fields (status + value or reason) and root-relative file reading shared by every probe. */
#include "probe.h"

#include "../core/ab.h"
#include "../core/rundoc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *ab_field_new(json_t *value, const char *source)
{
    if (!value) return ab_field_new_missing("error", "out of memory");
    json_t *f = json_object();
    json_object_set_new(f, "status", json_string("ok"));
    json_object_set_new(f, "value", value);
    if (source && *source) json_object_set_new(f, "source", ab_json_string(source));
    return f;
}

json_t *ab_field_new_missing(const char *status, const char *reason)
{
    json_t *f = json_object();
    json_object_set_new(f, "status", json_string(status));
    /* a reason is never empty: the schema requires one */
    json_object_set_new(f, "reason", ab_json_string(reason && *reason ? reason : "no reason given"));
    return f;
}

void ab_field_set(json_t *obj, const char *key, json_t *value, const char *source)
{
    json_object_set_new(obj, key, ab_field_new(value, source));
}

static void set_missing(json_t *obj, const char *key, const char *status, const char *fmt,
                        va_list ap)
{
    char buf[AB_ERRLEN * 2];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    json_object_set_new(obj, key, ab_field_new_missing(status, buf));
}

void ab_field_unavailable(json_t *obj, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_missing(obj, key, "unavailable", fmt, ap);
    va_end(ap);
}

void ab_field_error(json_t *obj, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_missing(obj, key, "error", fmt, ap);
    va_end(ap);
}

void ab_field_str(json_t *obj, const char *key, const char *s, const char *source,
                  const char *why_empty)
{
    char buf[1024];
    ab_strlcpy(buf, s ? s : "", sizeof(buf));
    ab_trim(buf);
    if (*buf)
        ab_field_set(obj, key, ab_json_string(buf), source);
    else
        ab_field_unavailable(obj, key, "%s", why_empty ? why_empty : "empty");
}

json_t *ab_field_value(const json_t *field)
{
    const char *st = ab_field_status(field);
    return st && strcmp(st, "ok") == 0 ? json_object_get(field, "value") : NULL;
}

const char *ab_field_status(const json_t *field)
{
    return json_is_object(field) ? json_string_value(json_object_get(field, "status")) : NULL;
}

void ab_probe_opts_env(ab_probe_opts *o)
{
    memset(o, 0, sizeof(*o));
    const char *r = getenv("ACCELBENCH_PROBE_ROOT");
    const char *t = getenv("ACCELBENCH_PROBE_TOPOLOGY");
    o->root = r && *r ? r : NULL;
    o->topology = t && *t ? t : NULL;
}

bool ab_probe_fixture(const ab_probe_opts *o)
{
    return o && o->root && *o->root && strcmp(o->root, "/") != 0;
}

void ab_probe_path(const ab_probe_opts *o, const char *path, char *buf, size_t len)
{
    if (ab_probe_fixture(o))
        snprintf(buf, len, "%s%s", o->root, path);
    else
        snprintf(buf, len, "%s", path);
}

int ab_probe_read(const ab_probe_opts *o, const char *path, char *buf, size_t len, char *why)
{
    char full[4096];
    ab_probe_path(o, path, full, sizeof(full));
    buf[0] = '\0';
    FILE *f = fopen(full, "r");
    if (!f) return ab_err(why, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, len - 1, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    buf[n] = '\0';
    if (e) return ab_err(why, "%s: %s", path, strerror(e));
    /* sysfs strings may carry NULs (e.g. DMI padding): cut at the first */
    buf[strlen(buf)] = '\0';
    ab_trim(buf);
    return 0;
}
