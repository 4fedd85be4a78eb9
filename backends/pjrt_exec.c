/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend's programs and buffers: compiling (once per text and device), executing,
 * the launch overhead of looped programs, moving buffers between host and device, errors.
 */
#include "pjrt.h"
#include "stablehlo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ab_pjrt_exe {
    char *text;
    bool looped;
    int nout;
    PJRT_LoadedExecutable *exe;
    double overhead; /* seconds of one launch at R = 0; < 0 until measured */
    char name[80];   /* <module>-<hash>, as ACCELBENCH_PJRT_DUMP names its file */
    ab_pjrt_exe *next;
};

int ab_pjrt_err(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, 256, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++) /* one line */
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return -1;
}

int ab_pjrt_fail(const PJRT_Api *api, PJRT_Error *e, const char *what, char *err)
{
    PJRT_Error_Message_Args m = {.struct_size = sizeof(m), .error = e};
    api->PJRT_Error_Message(&m);
    ab_pjrt_err(err, "%s: %.*s", what, (int)(m.message_size > 200 ? 200 : m.message_size),
                m.message ? m.message : "");
    PJRT_Error_Destroy_Args d = {.struct_size = sizeof(d), .error = e};
    api->PJRT_Error_Destroy(&d);
    return -1;
}

void ab_pjrt_str(char *dst, size_t len, const char *s, size_t n)
{
    if (!s) n = 0;
    if (n >= len) n = len - 1;
    memcpy(dst, s ? s : "", n);
    dst[n] = 0;
}

const char *ab_pjrt_mlir_type(PJRT_Buffer_Type t)
{
    switch (t) {
    case PJRT_Buffer_Type_PRED:
        return "i1";
    case PJRT_Buffer_Type_S8:
        return "i8";
    case PJRT_Buffer_Type_S32:
        return "i32";
    case PJRT_Buffer_Type_S64:
        return "i64";
    case PJRT_Buffer_Type_U8:
        return "ui8";
    case PJRT_Buffer_Type_F16:
        return "f16";
    case PJRT_Buffer_Type_F32:
        return "f32";
    case PJRT_Buffer_Type_F64:
        return "f64";
    case PJRT_Buffer_Type_BF16:
        return "bf16";
    default:
        return NULL;
    }
}

double ab_pjrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits for ev and destroys it. */
static int await_event(const PJRT_Api *api, PJRT_Event *ev, const char *what, char *err)
{
    if (!ev) return 0;
    PJRT_Event_Await_Args a = {.struct_size = sizeof(a), .event = ev};
    PJRT_Error *e = api->PJRT_Event_Await(&a);
    PJRT_Event_Destroy_Args d = {.struct_size = sizeof(d), .event = ev};
    PJRT_Error *e2 = api->PJRT_Event_Destroy(&d);
    if (e2) ab_pjrt_fail(api, e2, "PJRT_Event_Destroy", NULL);
    return e ? ab_pjrt_fail(api, e, what, err) : 0;
}

int ab_pjrt_sync(ab_pjrt_dev *d, char *err)
{
    int rc = 0;
    for (size_t i = 0; i < d->npending; i++) {
        char e[256];
        if (await_event(d->api, d->pending[i], "execution", e) != 0 && rc == 0)
            rc = ab_pjrt_err(err, "%s", e);
    }
    d->npending = 0;
    return rc;
}

static void destroy_buffer(const PJRT_Api *api, PJRT_Buffer *b)
{
    if (!b) return;
    PJRT_Buffer_Destroy_Args a = {.struct_size = sizeof(a), .buffer = b};
    PJRT_Error *e = api->PJRT_Buffer_Destroy(&a);
    if (e) ab_pjrt_fail(api, e, "PJRT_Buffer_Destroy", NULL);
}

static void destroy_exe(const PJRT_Api *api, ab_pjrt_exe *x)
{
    if (x->exe) {
        PJRT_LoadedExecutable_Destroy_Args a = {.struct_size = sizeof(a), .executable = x->exe};
        PJRT_Error *e = api->PJRT_LoadedExecutable_Destroy(&a);
        if (e) ab_pjrt_fail(api, e, "PJRT_LoadedExecutable_Destroy", NULL);
    }
    free(x->text);
    free(x);
}

void ab_pjrt_programs_free(ab_pjrt_dev *d)
{
    while (d->programs) {
        ab_pjrt_exe *x = d->programs;
        d->programs = x->next;
        destroy_exe(d->api, x);
    }
}

/* Time spent outside the measurement while a timed interval is open (compiling, measuring the
 * overhead) is taken out of the interval. */
static void exclude_from_timer(ab_pjrt_dev *d, double since)
{
    if (d->timing) d->t0 += ab_pjrt_now() - since;
}

/* ACCELBENCH_PJRT_DUMP=DIR: every program compiled, as DIR/<module>-<hash>.mlir */
/* ACCELBENCH_PJRT_DUMP=DIR: the file of `what` there (NULL when unset) */
static FILE *dump_file(const char *what, const char *mode)
{
    const char *dir = getenv("ACCELBENCH_PJRT_DUMP");
    if (!dir || !*dir) return NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, what);
    return fopen(path, mode);
}

/* x->name from the module name and a hash of the text (programs of one module name differ in
 * their shapes), and with ACCELBENCH_PJRT_DUMP the program as DIR/<name>.mlir */
static void name_and_dump(ab_pjrt_exe *x, const char *module)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = x->text; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(x->name, sizeof(x->name), "%s-%08x", module, (unsigned)h);
    char file[96];
    snprintf(file, sizeof(file), "%s.mlir", x->name);
    FILE *f = dump_file(file, "w");
    if (f) {
        fputs(x->text, f);
        fclose(f);
    }
}

static int compile(ab_pjrt_dev *d, ab_pjrt_exe *x, char *err)
{
    char module[64] = "program";
    const char *m = strstr(x->text, "module @");
    if (m) snprintf(module, sizeof(module), "%.*s", (int)strcspn(m + 8, " {"), m + 8);
    name_and_dump(x, module);
    PJRT_Program prog = {.struct_size = sizeof(prog),
                         .code = x->text,
                         .code_size = strlen(x->text),
                         .format = "mlir",
                         .format_size = 4};
    PJRT_Client_Compile_Args a = {.struct_size = sizeof(a),
                                  .client = d->client,
                                  .program = &prog,
                                  .compile_options = AB_PJRT_COMPILE_OPTIONS,
                                  .compile_options_size = AB_PJRT_COMPILE_OPTIONS_LEN};
    PJRT_Error *e = d->api->PJRT_Client_Compile(&a);
    if (e) {
        char what[96];
        snprintf(what, sizeof(what), "compiling %s", module);
        return ab_pjrt_fail(d->api, e, what, err);
    }
    x->exe = a.executable;
    return 0;
}

int ab_pjrt_program(ab_pjrt_dev *d, const char *text, bool looped, int nout, ab_pjrt_exe **exe,
                    char *err)
{
    for (ab_pjrt_exe *x = d->programs; x; x = x->next)
        if (x->looped == looped && strcmp(x->text, text) == 0) {
            *exe = x;
            return 0;
        }
    double t = ab_pjrt_now();
    ab_pjrt_exe *x = calloc(1, sizeof(*x));
    if (!x || !(x->text = strdup(text))) {
        free(x);
        return ab_pjrt_err(err, "out of memory");
    }
    x->looped = looped;
    x->nout = nout;
    x->overhead = -1.0;
    int rc = compile(d, x, err);
    exclude_from_timer(d, t);
    if (rc != 0) {
        destroy_exe(d->api, x);
        return -1;
    }
    x->next = d->programs;
    d->programs = x;
    *exe = x;
    return 0;
}

static size_t type_size(PJRT_Buffer_Type t)
{
    switch (t) {
    case PJRT_Buffer_Type_PRED:
    case PJRT_Buffer_Type_S8:
    case PJRT_Buffer_Type_U8:
        return 1;
    case PJRT_Buffer_Type_S16:
    case PJRT_Buffer_Type_U16:
    case PJRT_Buffer_Type_F16:
    case PJRT_Buffer_Type_BF16:
        return 2;
    case PJRT_Buffer_Type_S32:
    case PJRT_Buffer_Type_U32:
    case PJRT_Buffer_Type_F32:
        return 4;
    case PJRT_Buffer_Type_S64:
    case PJRT_Buffer_Type_U64:
    case PJRT_Buffer_Type_F64:
        return 8;
    default:
        return 0;
    }
}

/* Uploads host data as a new buffer (type, dims) and waits until the host copy is done. */
static int upload(ab_pjrt_dev *d, const void *host, PJRT_Buffer_Type type, const int64_t *dims,
                  int rank, PJRT_Buffer **out, char *err)
{
    PJRT_Client_BufferFromHostBuffer_Args a = {
        .struct_size = sizeof(a),
        .client = d->client,
        .data = host,
        .type = type,
        .dims = dims,
        .num_dims = (size_t)rank,
        .host_buffer_semantics = PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes,
        .device = d->device};
    PJRT_Error *e = d->api->PJRT_Client_BufferFromHostBuffer(&a);
    if (e) return ab_pjrt_fail(d->api, e, "PJRT_Client_BufferFromHostBuffer", err);
    if (await_event(d->api, a.done_with_host_buffer, "host-to-device copy", err) != 0) {
        destroy_buffer(d->api, a.buffer);
        return -1;
    }
    *out = a.buffer;
    return 0;
}

int ab_pjrt_mem_get(ab_pjrt_dev *d, ab_pjrt_mem *m, void *host, char *err)
{
    if (!m->buf) return ab_pjrt_err(err, "pjrt: reading device memory that was never written");
    if (ab_pjrt_sync(d, err) != 0) return -1;
    PJRT_Buffer_ToHostBuffer_Args a = {
        .struct_size = sizeof(a), .src = m->buf, .dst = host, .dst_size = m->used};
    PJRT_Error *e = d->api->PJRT_Buffer_ToHostBuffer(&a);
    if (e) return ab_pjrt_fail(d->api, e, "PJRT_Buffer_ToHostBuffer", err);
    return await_event(d->api, a.event, "device-to-host copy", err);
}

int ab_pjrt_mem_set(ab_pjrt_dev *d, ab_pjrt_mem *m, PJRT_Buffer_Type type, const int64_t *dims,
                    int rank, const void *host, char *err)
{
    size_t bytes = type_size(type);
    for (int i = 0; i < rank; i++)
        bytes *= (size_t)dims[i];
    if (rank > AB_PJRT_MAX_DIMS || bytes > m->bytes || bytes == 0)
        return ab_pjrt_err(err, "pjrt: an array of %zu bytes in a buffer of %zu", bytes, m->bytes);
    if (!host && m->buf && bytes != m->used)
        return ab_pjrt_err(err, "pjrt: %zu bytes reinterpreted as an array of %zu", m->used, bytes);
    bool same = m->buf && m->type == type && m->rank == rank &&
                (rank == 0 || memcmp(m->dims, dims, sizeof(int64_t) * (size_t)rank) == 0);
    if (!host && same) return 0;
    void *tmp = NULL;
    double since = ab_pjrt_now();
    if (!host) { /* the current contents, reinterpreted (bookkeeping: not timed) */
        if (!(tmp = malloc(m->used))) return ab_pjrt_err(err, "out of host memory");
        if (ab_pjrt_mem_get(d, m, tmp, err) != 0) {
            free(tmp);
            return -1;
        }
        host = tmp;
    }
    PJRT_Buffer *b = NULL;
    int rc = upload(d, host, type, dims, rank, &b, err);
    if (tmp) exclude_from_timer(d, since);
    free(tmp);
    if (rc != 0) return -1;
    destroy_buffer(d->api, m->buf);
    m->buf = b, m->type = type, m->rank = rank, m->used = bytes;
    m->gen++;
    if (rank) memcpy(m->dims, dims, sizeof(int64_t) * (size_t)rank);
    return 0;
}

void ab_pjrt_mem_drop(ab_pjrt_dev *d, ab_pjrt_mem *m)
{
    destroy_buffer(d->api, m->buf);
    m->buf = NULL;
    m->gen++;
}

/* One execution; its completion event joins the pending list (or is awaited with `wait`). */
static int launch(ab_pjrt_dev *d, ab_pjrt_exe *x, PJRT_Buffer *const *argv, int nargs,
                  PJRT_Buffer **outv, bool wait, char *err)
{
    if (d->npending == d->cap_pending) {
        size_t cap = d->cap_pending ? 2 * d->cap_pending : 8;
        PJRT_Event **p = realloc(d->pending, cap * sizeof(*p));
        if (!p) return ab_pjrt_err(err, "out of memory");
        d->pending = p, d->cap_pending = cap;
    }
    PJRT_ExecuteOptions opt = {.struct_size = sizeof(opt)};
    PJRT_Event *ev = NULL;
    PJRT_Buffer *const *lists[1] = {argv};
    PJRT_Buffer **outs[1] = {outv};
    PJRT_LoadedExecutable_Execute_Args a = {.struct_size = sizeof(a),
                                            .executable = x->exe,
                                            .options = &opt,
                                            .argument_lists = lists,
                                            .num_devices = 1,
                                            .num_args = (size_t)nargs,
                                            .output_lists = outs,
                                            .device_complete_events = &ev,
                                            .execute_device = d->index ? d->device : NULL};
    PJRT_Error *e = d->api->PJRT_LoadedExecutable_Execute(&a);
    if (e) return ab_pjrt_fail(d->api, e, "PJRT_LoadedExecutable_Execute", err);
    if (wait) return await_event(d->api, ev, "execution", err);
    if (ev) d->pending[d->npending++] = ev;
    return 0;
}

/* Runs a looped program at trip count iters with args[]; results into outv. */
static int launch_looped(ab_pjrt_dev *d, ab_pjrt_exe *x, long iters, ab_pjrt_mem *const *args,
                         int nargs, PJRT_Buffer **outv, bool wait, char *err)
{
    PJRT_Buffer **argv = malloc((size_t)(nargs + 1) * sizeof(*argv));
    if (!argv) return ab_pjrt_err(err, "out of memory");
    int64_t r = iters;
    if (upload(d, &r, PJRT_Buffer_Type_S64, NULL, 0, &argv[0], err) != 0) {
        free(argv);
        return -1;
    }
    for (int i = 0; i < nargs; i++)
        argv[1 + i] = args[i]->buf;
    int rc = launch(d, x, argv, nargs + 1, outv, wait, err);
    destroy_buffer(d->api, argv[0]); /* freed by the plugin once the execution is done */
    free(argv);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The wall time of one launch at R = 0: the fastest of five after two warm-ups. The minimum, not
 * the median: a launch delayed by a busy host would otherwise be subtracted from every timed
 * batch and inflate the figures; the fastest launch can only under-subtract, so a reported rate is
 * never above what the device did. */
static int measure_overhead(ab_pjrt_dev *d, ab_pjrt_exe *x, ab_pjrt_mem *const *args, int nargs,
                            char *err)
{
    if (ab_pjrt_sync(d, err) != 0) return -1;
    double since = ab_pjrt_now(), t[7];
    PJRT_Buffer **outv = calloc((size_t)x->nout + 1, sizeof(*outv));
    int rc = outv ? 0 : ab_pjrt_err(err, "out of memory");
    for (int k = 0; k < 7 && rc == 0; k++) {
        memset(outv, 0, ((size_t)x->nout + 1) * sizeof(*outv));
        double t0 = ab_pjrt_now();
        rc = launch_looped(d, x, 0, args, nargs, outv, true, err);
        t[k] = ab_pjrt_now() - t0;
        for (int i = 0; i < x->nout; i++)
            destroy_buffer(d->api, outv[i]);
    }
    free(outv);
    exclude_from_timer(d, since);
    if (rc != 0) return -1;
    qsort(t + 2, 5, sizeof(double), cmp_double);
    x->overhead = t[2];
    FILE *f = dump_file("overheads.txt", "a"); /* for the first runs on hardware */
    if (f) {
        fprintf(f, "%s launch overhead %.9f s (fastest of 5 at R = 0)\n", x->name, x->overhead);
        fclose(f);
    }
    return 0;
}

/* Result i replaces the buffer of outs[i] (whose type and shape it has, pjrt.h). */
static void take_outputs(ab_pjrt_dev *d, ab_pjrt_exe *x, PJRT_Buffer **outv,
                         ab_pjrt_mem *const *outs)
{
    for (int i = 0; i < x->nout; i++) {
        destroy_buffer(d->api, outs[i]->buf);
        outs[i]->buf = outv[i];
        outs[i]->gen++;
    }
}

int ab_pjrt_run(ab_pjrt_dev *d, ab_pjrt_exe *x, long iters, ab_pjrt_mem *const *args, int nargs,
                ab_pjrt_mem *const *outs, char *err)
{
    for (int i = 0; i < nargs; i++)
        if (!args[i]->buf)
            return ab_pjrt_err(err, "pjrt: program argument %d was never written", i);
    if (x->looped && x->overhead < 0 && measure_overhead(d, x, args, nargs, err) != 0) return -1;
    PJRT_Buffer **outv = calloc((size_t)x->nout + 1, sizeof(*outv));
    PJRT_Buffer **argv = x->looped ? NULL : calloc((size_t)nargs + 1, sizeof(*argv));
    int rc = outv && (x->looped || argv) ? 0 : ab_pjrt_err(err, "out of memory");
    if (rc == 0 && x->looped) {
        rc = launch_looped(d, x, iters, args, nargs, outv, false, err);
    } else if (rc == 0) {
        for (int i = 0; i < nargs; i++)
            argv[i] = args[i]->buf;
        rc = launch(d, x, argv, nargs, outv, false, err);
    }
    free(argv);
    if (rc == 0 && x->looped && d->timing) {
        d->overhead += x->overhead;
        d->looped_launches++;
    }
    if (rc == 0) take_outputs(d, x, outv, outs);
    free(outv);
    return rc == 0 ? 0 : -1;
}

int ab_pjrt_device_copy(ab_pjrt_dev *d, ab_pjrt_mem *dst, ab_pjrt_mem *src, char *err)
{
    const char *et = ab_pjrt_mlir_type(src->type);
    if (!et || src->used > dst->bytes)
        return ab_pjrt_err(err, "pjrt: cannot copy an array of %zu bytes into %zu", src->used,
                           dst->bytes);
    char t[AB_SHLO_TYPE];
    char *text = ab_shlo_identity("ab_copy", ab_shlo_type(t, et, src->dims, src->rank));
    if (!text) return ab_pjrt_err(err, "out of memory");
    ab_pjrt_exe *x;
    int rc = ab_pjrt_program(d, text, false, 1, &x, err);
    free(text);
    if (rc != 0) return -1;
    dst->type = src->type, dst->rank = src->rank, dst->used = src->used;
    memcpy(dst->dims, src->dims, sizeof(src->dims));
    return ab_pjrt_run(d, x, 0, &src, 1, &dst, err);
}
