/* SPDX-License-Identifier: MIT */
/* The run's time budget: two passes, shares of the time left, estimates (budget.h). */
#include "budget.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen_series {
    char *key; /* device|suite|series */
    ab_result *r;
    int pass;
} seen_series;

struct ab_budget {
    double seconds, start;
    char source[96];
    int pass;
    size_t slots_left;
    double slot_end;
    json_t *done;   /* identities measured in the cover pass */
    json_t *timing; /* "device|key": [seconds, amount, pass] of its last case */
    json_t *left;   /* "suite on device": cases left out */
    json_t *keys;   /* "device|key" with a case run in the cover pass; "device|suite:S" with a
                     * case that represents S (a result other than a skip) */
    json_t *rates;  /* "device|unit|impl|dtype" (impl, dtype "*": any): the best rate */
    json_t *est;    /* case identity: [estimate s, took s or null] (settings.budget.estimates) */
    size_t skipped, superseded;
    seen_series *ss;
    size_t nss;
};

int ab_budget_parse(const char *s, double *sec, char *err)
{
    if (!s || !*s)
        return ab_err(err, "--budget: empty value (e.g. 15m, 90s, 1h; 0 or none: no budget)");
    if (strcmp(s, "none") == 0) {
        *sec = 0;
        return 0;
    }
    char *end = NULL;
    double v = strtod(s, &end);
    double mul = 1.0;
    if (end && strcmp(end, "m") == 0)
        mul = 60.0;
    else if (end && strcmp(end, "h") == 0)
        mul = 3600.0;
    else if (end && *end && strcmp(end, "s") != 0)
        end = NULL;
    if (end == s || !end || !isfinite(v) || v < 0 || v * mul > 7 * 86400.0)
        return ab_err(err,
                      "--budget: '%s' is not a duration up to a week (15m, 90s, 1.5h; 0 "
                      "or none: no budget)",
                      s);
    *sec = v * mul;
    return 0;
}

double ab_budget_default(const char *profile)
{
    return profile && strcmp(profile, "standard") == 0 ? 12 * 60.0 : 0.0;
}

ab_budget *ab_budget_new(double sec, const char *source)
{
    ab_budget *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->seconds = sec;
    b->start = ab_now();
    ab_strlcpy(b->source, source ? source : "--budget", sizeof(b->source));
    b->done = json_object();
    b->timing = json_object();
    b->left = json_object();
    b->keys = json_object();
    b->rates = json_object();
    b->est = json_object();
    if (!b->done || !b->timing || !b->left || !b->keys || !b->rates || !b->est) {
        ab_budget_free(b);
        return NULL;
    }
    return b;
}

void ab_budget_free(ab_budget *b)
{
    if (!b) return;
    json_decref(b->done);
    json_decref(b->timing);
    json_decref(b->left);
    json_decref(b->keys);
    json_decref(b->rates);
    json_decref(b->est);
    for (size_t i = 0; i < b->nss; i++)
        free(b->ss[i].key);
    free(b->ss);
    free(b);
}

double ab_budget_deadline(const ab_budget *b)
{
    return b->start + b->seconds;
}

void ab_budget_pass(ab_budget *b, int pass, size_t nslots)
{
    b->pass = pass;
    b->slots_left = nslots;
    b->slot_end = ab_budget_deadline(b);
}

int ab_budget_current_pass(const ab_budget *b)
{
    return b ? b->pass : AB_PASS_ONE;
}

void ab_budget_slot(ab_budget *b)
{
    double now = ab_now(), end = ab_budget_deadline(b);
    /* each pass shares out what is left over its slots to come; what a slot leaves goes to the
     * later ones, what the cover pass leaves to the extend pass */
    if (b->slots_left > 0)
        b->slot_end = now + fmax(0.0, end - now) / (double)b->slots_left;
    else
        b->slot_end = end;
    if (b->slots_left) b->slots_left--;
}

static void left_out(ab_budget *b, const char *device, const char *key)
{
    char suite[64];
    ab_strlcpy(suite, key, sizeof(suite));
    suite[strcspn(suite, ".")] = '\0';
    char *k = ab_asprintf("%s on %s", suite, device);
    if (!k) return;
    json_t *v = json_object_get(b->left, k);
    json_object_set_new(b->left, k, json_integer(v ? json_integer_value(v) + 1 : 1));
    free(k);
    b->skipped++;
}

/* The estimate of a case from the last one of its key on the device; NAN: none measured. */
/* Seconds per unit of amount of a timing entry; NAN without an amount. */
static double per_unit(json_t *t)
{
    double sec = json_number_value(json_array_get(t, 0)),
           amt = json_number_value(json_array_get(t, 1));
    return amt > 0 && sec > 0 ? sec / amt : NAN;
}

/* How much slower device is than other: the geometric mean, over the keys both have run, of
 * their seconds per unit of amount; NAN when they share none. */
static double device_ratio(const ab_budget *b, const char *device, const char *other)
{
    size_t dl = strlen(device), n = 0;
    double logsum = 0;
    const char *k;
    json_t *t;
    json_object_foreach(b->timing, k, t)
    {
        if (strncmp(k, device, dl) != 0 || k[dl] != '|') continue;
        char *ok = ab_asprintf("%s|%s", other, k + dl + 1);
        json_t *o = ok ? json_object_get(b->timing, ok) : NULL;
        free(ok);
        double a = per_unit(t), c = o ? per_unit(o) : NAN;
        if (isfinite(a) && isfinite(c)) logsum += log(a / c), n++;
    }
    return n ? exp(logsum / (double)n) : NAN;
}

/* A key not run on device yet: its time on another device scaled by the two devices' ratio. */
static double estimate_elsewhere(const ab_budget *b, const char *device, const char *key,
                                 double amount)
{
    size_t kl = strlen(key);
    const char *k;
    json_t *t;
    json_object_foreach(b->timing, k, t)
    {
        size_t n = strlen(k);
        if (n <= kl + 1 || strcmp(k + n - kl, key) != 0 || k[n - kl - 1] != '|') continue;
        char other[96];
        snprintf(other, sizeof(other), "%.*s", (int)(n - kl - 1), k);
        if (strcmp(other, device) == 0) continue;
        double r = device_ratio(b, device, other);
        if (!isfinite(r)) continue;
        double sec = json_number_value(json_array_get(t, 0));
        double prev = json_number_value(json_array_get(t, 1));
        return sec * r * (isfinite(amount) && prev > 0 ? amount / prev : 1.0);
    }
    return NAN;
}

static double estimate(const ab_budget *b, const char *device, const char *key, double amount,
                       const ab_budget_work *w)
{
    char *k = ab_asprintf("%s|%s", device, key);
    json_t *t = k ? json_object_get(b->timing, k) : NULL;
    free(k);
    double west = ab_budget_work_seconds(b, device, w);
    if (!t) return isfinite(west) ? west : estimate_elsewhere(b, device, key, amount);
    double sec = json_number_value(json_array_get(t, 0));
    double prev = json_number_value(json_array_get(t, 1));
    int pass = (int)json_integer_value(json_array_get(t, 2));
    double pwest = json_number_value(json_array_get(t, 3)), est = sec;
    /* scaled by how much more work it is: by the work estimates (bandwidth- or compute-bound
     * alike) where both have one, else by the first metric's amount */
    if (isfinite(west) && pwest > 0)
        est *= fmax(1.0, west / pwest);
    else if (isfinite(amount) && prev > 0 && amount > prev)
        est *= amount / prev;
    if (pass == AB_PASS_COVER && b->pass == AB_PASS_EXTEND) est *= 2.0;
    return est;
}

/* "device|key", or "device|suite:S" for key's suite S (caller frees). */
static char *seen_key(const char *device, const char *key, bool suite)
{
    char name[96];
    ab_strlcpy(name, key, sizeof(name));
    if (suite) name[strcspn(name, ".")] = '\0';
    return ab_asprintf("%s|%s%s", device, suite ? "suite:" : "", name);
}

static bool seen(const ab_budget *b, const char *device, const char *key, bool suite)
{
    char *dk = seen_key(device, key, suite);
    bool v = dk && json_object_get(b->keys, dk);
    free(dk);
    return v;
}

static void mark_seen(ab_budget *b, const char *device, const char *key, bool suite)
{
    char *dk = seen_key(device, key, suite);
    if (dk) json_object_set_new(b->keys, dk, json_true());
    free(dk);
}

double ab_sampling_seconds(const ab_sampling *s, double t)
{
    if (!s || !(t >= 0) || !isfinite(t)) return NAN;
    int warm = s->warmup > 0 ? s->warmup : 1, n = s->samples > 0 ? s->samples : 1;
    /* a timed batch lasts one iteration or about min_time; calibrating a fast kernel climbs to
     * it in a few batches */
    double batch = fmax(t, 1.2 * s->min_time), calib = t >= s->min_time ? t : 2.5 * s->min_time;
    /* sampling stops past max_time once 3 samples exist */
    if (s->max_time > 0 && n > 3) {
        double m = floor(s->max_time / batch) + 1.0;
        n = m < 3 ? 3 : m < n ? (int)m : n;
    }
    return warm * t + calib + n * batch;
}

static void keep_best(ab_budget *b, const char *device, const char *unit, const char *impl,
                      const char *dtype, double rate)
{
    char *k = ab_asprintf("%s|%s|%s|%s", device, unit, impl, dtype);
    json_t *v = k ? json_object_get(b->rates, k) : NULL;
    if (k && (!v || json_real_value(v) < rate)) json_object_set_new(b->rates, k, json_real(rate));
    free(k);
}

void ab_budget_rate(ab_budget *b, const char *device, const char *impl, const char *dtype,
                    const char *unit, double rate)
{
    if (!b || !unit || !(rate > 0) || !isfinite(rate)) return;
    if (strcmp(unit, "FLOP/s") != 0 && strcmp(unit, "B/s") != 0) return;
    impl = impl ? impl : "", dtype = dtype ? dtype : "";
    keep_best(b, device, unit, impl, dtype, rate);
    keep_best(b, device, unit, impl, "*", rate);
    keep_best(b, device, unit, "*", "*", rate);
}

static double rate_of(const ab_budget *b, const char *device, const char *unit, const char *impl,
                      const char *dtype)
{
    char *k = ab_asprintf("%s|%s|%s|%s", device, unit, impl ? impl : "", dtype ? dtype : "*");
    json_t *v = k ? json_object_get(b->rates, k) : NULL;
    free(k);
    return v ? json_real_value(v) : NAN;
}

double ab_budget_work_seconds(const ab_budget *b, const char *device, const ab_budget_work *w)
{
    if (!b || !w || !w->n) return NAN;
    /* FLOP: the same impl (and dtype, where that ran); bytes: the device's best bandwidth */
    double rf = w->dtype ? rate_of(b, device, "FLOP/s", w->impl, w->dtype) : NAN;
    if (!isfinite(rf)) rf = rate_of(b, device, "FLOP/s", w->impl, "*");
    double rb = rate_of(b, device, "B/s", "*", "*"), sum = 0;
    for (size_t i = 0; i < w->n; i++) {
        const ab_work_term *t = &w->t[i];
        if ((t->flop > 0 && !isfinite(rf)) || (t->bytes > 0 && t->flop <= 0 && !isfinite(rb)))
            return NAN;
        double sec = t->flop > 0 ? t->flop / rf : 0;
        if (t->bytes > 0 && isfinite(rb)) sec = fmax(sec, t->bytes / rb);
        sum += t->sampled ? ab_sampling_seconds(w->sampling, sec) : sec;
    }
    return sum;
}

/* Whether this is the first case of its key on the device in the cover pass; marks it seen. */
static bool first_of(ab_budget *b, const char *device, const char *key)
{
    bool first = b->pass == AB_PASS_COVER && !seen(b, device, key, false);
    if (first) mark_seen(b, device, key, false);
    return first;
}

bool ab_budget_owed(const ab_budget *b, const char *device, const char *key)
{
    return b && b->pass == AB_PASS_COVER && !seen(b, device, key, true);
}

static int budget_skip(ab_budget *b, const char *device, const char *key, char *why,
                       const char *what)
{
    left_out(b, device, key);
    ab_err(why, "budget: %s of the %.0f s budget (%s)", what, b->seconds, b->source);
    return 1;
}

/* A case the cover pass owes its suite: it runs unless twice its estimate overruns the end
 * (past the end: now) by more than a tenth of the budget -- an estimate from the rates of the
 * gemm suite's smaller kernels can understate a large case severalfold (PoCL's portable GEMM
 * ran a 1024-token prefill at a third of its 256^3 rate), and what overruns here overruns the
 * run; the suite's last case runs anyway. */
static int admit_owed(ab_budget *b, const char *device, const char *key, double est,
                      const ab_budget_work *w, char *why)
{
    double now = ab_now(), end = ab_budget_deadline(b);
    double room = fmax(end - now, 0.0) + 0.1 * b->seconds;
    if (!isfinite(est) || 2.0 * est <= room || (w && w->last)) return 0;
    left_out(b, device, key);
    ab_err(why,
           "budget: estimated %.3g s, twice that more than the %.0f s a case representing its "
           "suite may take now of the %.0f s budget (%s); a smaller case of the suite "
           "represents it",
           est, room, b->seconds, b->source);
    return 1;
}

int ab_budget_admit(ab_budget *b, const char *device, const char *key, const char *id,
                    double amount, const ab_budget_work *w, char *why)
{
    if (!b) return 0;
    if (b->pass == AB_PASS_EXTEND && json_object_get(b->done, id)) return 2;
    double now = ab_now(), end = ab_budget_deadline(b);
    /* the cover pass runs a case of every suite on every device, even past the end (so every
     * suite is represented: admit_owed), and the first of every key while the budget lasts;
     * unless the estimate says it would overrun the end by more than a tenth of the budget */
    bool owed = ab_budget_owed(b, device, key);
    bool first_key = first_of(b, device, key);
    double est = estimate(b, device, key, amount, w);
    if (isfinite(est)) json_object_set_new(b->est, id, json_pack("[f,n]", est));
    if (owed) return admit_owed(b, device, key, est, w, why);
    char what[160];
    bool overrun = isfinite(est) && now + est > end + 0.1 * b->seconds;
    if (first_key && now < end && !overrun) return 0;
    if (now >= end) {
        snprintf(what, sizeof(what), "%.0f s past the end", now - end);
        return budget_skip(b, device, key, why, what);
    }
    if (overrun) {
        snprintf(what, sizeof(what), "estimated %.3g s, past the end (%.0f s left)", est,
                 end - now);
        return budget_skip(b, device, key, why, what);
    }
    if (now >= b->slot_end) {
        snprintf(what, sizeof(what), "this suite's share used up, %.0f s left", end - now);
        return budget_skip(b, device, key, why, what);
    }
    if (isfinite(est) && now + est > b->slot_end) {
        snprintf(what, sizeof(what), "estimated %.3g s, %.3g s left of this suite's share", est,
                 b->slot_end - now);
        return budget_skip(b, device, key, why, what);
    }
    return 0;
}

bool ab_budget_spent(const ab_budget *b, const char *device, const char *key)
{
    if (!b) return false;
    double now = ab_now();
    bool cover = b->pass == AB_PASS_COVER;
    if (ab_budget_owed(b, device, key)) return false;
    if (now >= ab_budget_deadline(b)) return true;
    if (cover && !seen(b, device, key, false)) return false;
    return now >= b->slot_end;
}

void ab_budget_skip(ab_budget *b, const char *device, const char *key, char *why)
{
    double now = ab_now(), end = ab_budget_deadline(b);
    char what[160];
    if (now >= end)
        snprintf(what, sizeof(what), "%.0f s past the end", now - end);
    else
        snprintf(what, sizeof(what), "this suite's share used up, %.0f s left", end - now);
    budget_skip(b, device, key, why, what);
}

bool ab_budget_measured(const ab_budget *b, const char *id)
{
    return b && b->pass == AB_PASS_EXTEND && json_object_get(b->done, id);
}

void ab_budget_ran(ab_budget *b, const char *device, const char *key, const char *id, double amount,
                   const ab_budget_work *w, double seconds, bool represents)
{
    if (!b) return;
    if (b->pass == AB_PASS_COVER) json_object_set_new(b->done, id, json_true());
    if (b->pass == AB_PASS_COVER && represents) mark_seen(b, device, key, true);
    json_t *e = json_object_get(b->est, id);
    if (e) json_array_set_new(e, 1, json_real(seconds));
    /* its work estimated again with the rates known now (its own among them): the measure later
     * cases of its key are scaled against */
    double west = ab_budget_work_seconds(b, device, w);
    if (!isfinite(west)) west = 0.0;
    char *k = represents ? ab_asprintf("%s|%s", device, key) : NULL; /* a skip's time says nothing */
    if (k)
        json_object_set_new(b->timing, k,
                            json_pack("[f,f,i,f]", seconds, isfinite(amount) ? amount : 0.0,
                                      b->pass, west));
    free(k);
}

void ab_budget_series(ab_budget *b, const char *device, const char *suite, const char *series,
                      ab_result *r)
{
    if (!b || !series) return;
    char *k = ab_asprintf("%s|%s|%s", device, suite, series);
    if (!k) return;
    for (size_t i = 0; i < b->nss; i++)
        if (strcmp(b->ss[i].key, k) == 0) {
            if (b->ss[i].pass == AB_PASS_COVER && b->pass == AB_PASS_EXTEND && b->ss[i].r) {
                b->ss[i].r->headline = false; /* the extend pass went further along it */
                b->superseded++;
            }
            b->ss[i].r = r;
            b->ss[i].pass = b->pass;
            free(k);
            return;
        }
    seen_series *v = realloc(b->ss, (b->nss + 1) * sizeof(*v));
    if (!v) {
        free(k);
        return;
    }
    b->ss = v;
    v[b->nss++] = (seen_series){k, r, b->pass};
}

void ab_budget_record(const ab_budget *b, ab_run *run)
{
    if (!b || !run) return;
    char note[512];
    double used = ab_now() - b->start;
    if (b->skipped)
        snprintf(note, sizeof(note),
                 "time budget %.0f s (%s): every suite on every device at the quick profile's "
                 "cases first, then the %s profile's while they fit; %zu cases left out "
                 "(skips with reason \"budget\"); %.0f s used",
                 b->seconds, b->source, run->profile ? run->profile : "run's", b->skipped, used);
    else
        snprintf(note, sizeof(note),
                 "time budget %.0f s (%s): every case of the %s profile fitted; %.0f s used",
                 b->seconds, b->source, run->profile ? run->profile : "run's", used);
    json_t *o =
        json_pack("{s:f,s:s,s:O,s:i,s:i,s:f,s:s,s:O}", "seconds", b->seconds, "source",
                  b->source, "left_out", b->left, "skipped", (json_int_t)b->skipped,
                  "superseded_headlines", (json_int_t)b->superseded, "used_s", used, "note", note,
                  "estimates", b->est);
    if (o) json_object_set_new(run->settings, "budget", o);
}
