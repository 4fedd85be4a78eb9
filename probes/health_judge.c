/* SPDX-License-Identifier: MIT */
/* The health checks between two readings (health.h, ab_health_judge). */
#include "health.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The verdict's rule per counter: growth fails (counts), or a nonzero end value fails (flags). */
static bool is_flag(int i)
{
    return i == AB_HC_RETIRED_PENDING || i == AB_HC_REMAP_PENDING || i == AB_HC_REMAP_FAILURE;
}

static void add_problem(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_problem(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 3 >= len) return;
    if (n) n += (size_t)snprintf(buf + n, len - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

json_t *ab_health_judge(const ab_health_reading *a, const ab_health_reading *b, char *problems,
                        size_t len)
{
    json_t *o = json_object();
    problems[0] = '\0';
    for (int i = 0; i < AB_HC_COUNT; i++) {
        const ab_health_counter *s = &a->c[i], *e = &b->c[i];
        json_t *c = json_object();
        if (!s->ok || !e->ok) {
            json_object_set_new(c, "check", json_string("unavailable"));
            json_object_set_new(c, "reason", json_string(!s->ok ? s->why : e->why));
            json_object_set_new(o, ab_health_name(i), c);
            continue;
        }
        bool bad;
        json_object_set_new(c, "start", json_integer((json_int_t)s->value));
        json_object_set_new(c, "end", json_integer((json_int_t)e->value));
        if (is_flag(i)) {
            bad = e->value != 0;
            if (bad) add_problem(problems, len, "%s set", ab_health_name(i));
        } else {
            unsigned long long d = e->value > s->value ? e->value - s->value : 0;
            json_object_set_new(c, "growth", json_integer((json_int_t)d));
            bad = d > 0;
            if (bad && i == AB_HC_XID)
                add_problem(problems, len, "%llu XID event%s (last XID %llu)", d, d > 1 ? "s" : "",
                            b->last_xid);
            else if (bad)
                add_problem(problems, len, "%s grew by %llu (%llu -> %llu)", ab_health_name(i), d,
                            s->value, e->value);
        }
        json_object_set_new(c, "check", json_string(bad ? "fail" : "pass"));
        json_object_set_new(o, ab_health_name(i), c);
    }
    return o;
}
