/* SPDX-License-Identifier: MIT */
/*
 * A stand-in PJRT plugin for the tests: GetPjrtApi with the slots accelbench calls, on the
 * declarations of backends/pjrt_api.h. It behaves as an XLA plugin does where that matters to
 * the backend: args structs smaller than its own are refused ("Unexpected ... size"),
 * PJRT_Plugin_Initialize must come first, the compile options must be a CompileOptionsProto for
 * one replica and one partition, programs are parsed and executed (fake_hlo_*.c: a host
 * interpreter of the StableHLO accelbench generates), arguments are checked against the
 * program's signature. It is not a device: its platform and device kind say so, and nothing it
 * computes may be recorded as a device figure.
 *
 * Knobs (environment, read by GetPjrtApi): FAKE_PJRT_MAJOR / FAKE_PJRT_MINOR (reported API
 * version), FAKE_PJRT_TABLE_BYTES (reported table size), FAKE_PJRT_GROW (bytes args structs
 * must have beyond this header's: a plugin built against a newer one), FAKE_PJRT_NULL_API,
 * FAKE_PJRT_DEVICES, FAKE_PJRT_MEMORY (bytes_limit), FAKE_PJRT_WRONG (results off by one in
 * their first element), FAKE_PJRT_LAUNCH_US / FAKE_PJRT_ITER_US (an execution then lasts
 * exactly launch + loop iterations x iter, whatever the interpreter took below that),
 * FAKE_PJRT_REPORT (file: counts of live objects when the client is destroyed, and compiled /
 * executed programs).
 */
#include "../backends/pjrt_api.h"
#include "fake_hlo.h"

#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

struct PJRT_Error {
    char msg[320];
};
struct PJRT_Event {
    int magic;
};
struct PJRT_DeviceDescription {
    int index;
};
struct PJRT_Device {
    PJRT_DeviceDescription desc;
};
struct PJRT_Client {
    PJRT_Device dev[8];
    PJRT_Device *list[8];
    int ndev;
};
struct PJRT_Buffer {
    int magic;
    fh_value v;
};
struct PJRT_LoadedExecutable {
    fh_program prog;
};

#define LIVE 0x5a5a

static struct {
    PJRT_Api api;
    bool initialized;
    long grow, memory, launch_us, iter_us, wrong;
    int ndev;
    long buffers, events, executables, clients, compiled, executed;
    long bytes_in_use;
} F;

static PJRT_Error *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PJRT_Error *error(const char *fmt, ...)
{
    PJRT_Error *e = calloc(1, sizeof(*e));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return e;
}

/* What XLA's plugins do with an args struct older (smaller) than theirs. */
#define CHECK_SIZE(T, args)                                                                        \
    do {                                                                                           \
        if ((args)->struct_size < sizeof(T) + (size_t)F.grow)                                      \
            return error("Unexpected %s size: expected %zu, got %zu. Check installed software "    \
                         "versions.",                                                              \
                         #T, sizeof(T) + (size_t)F.grow, (args)->struct_size);                     \
    } while (0)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* Sleeps until `us` microseconds after t0 (a simulated device time that does not depend on how
 * fast the interpreter ran, as long as it ran faster). */
static void wait_until(double t0, long us)
{
    double left = t0 + (double)us - now_us();
    if (left <= 0) return;
    struct timespec ts = {(time_t)(left / 1e6), (long)(fmod(left, 1e6) * 1e3)};
    nanosleep(&ts, NULL);
}

static PJRT_Event *event_new(void)
{
    PJRT_Event *ev = calloc(1, sizeof(*ev));
    ev->magic = LIVE;
    F.events++;
    return ev;
}

/* ---- errors, plugin, events ---- */

static void error_destroy(PJRT_Error_Destroy_Args *a)
{
    free(a->error);
}

static void error_message(PJRT_Error_Message_Args *a)
{
    a->message = a->error->msg;
    a->message_size = strlen(a->error->msg);
}

static PJRT_Error *plugin_initialize(PJRT_Plugin_Initialize_Args *a)
{
    CHECK_SIZE(PJRT_Plugin_Initialize_Args, a);
    F.initialized = true;
    return NULL;
}

static PJRT_Error *plugin_attributes(PJRT_Plugin_Attributes_Args *a)
{
    CHECK_SIZE(PJRT_Plugin_Attributes_Args, a);
    static const int64_t version[3] = {1, 2, 3}; /* a made-up StableHLO version */
    static PJRT_NamedValue attr = {.struct_size = sizeof(PJRT_NamedValue),
                                   .name = "stablehlo_current_version",
                                   .name_size = 25,
                                   .type = PJRT_NamedValue_kInt64List,
                                   .int64_array_value = version,
                                   .value_size = 3};
    a->attributes = &attr;
    a->num_attributes = 1;
    return NULL;
}

static PJRT_Error *event_destroy(PJRT_Event_Destroy_Args *a)
{
    CHECK_SIZE(PJRT_Event_Destroy_Args, a);
    if (a->event && a->event->magic != LIVE) return error("PJRT_Event_Destroy: not a live event");
    if (a->event) {
        a->event->magic = 0;
        free(a->event);
        F.events--;
    }
    return NULL;
}

static PJRT_Error *event_await(PJRT_Event_Await_Args *a)
{
    CHECK_SIZE(PJRT_Event_Await_Args, a);
    return a->event && a->event->magic == LIVE ? NULL : error("PJRT_Event_Await: no live event");
}

/* ---- client and devices ---- */

static PJRT_Error *client_create(PJRT_Client_Create_Args *a)
{
    CHECK_SIZE(PJRT_Client_Create_Args, a);
    if (!F.initialized) return error("PJRT_Plugin_Initialize was not called");
    PJRT_Client *c = calloc(1, sizeof(*c));
    c->ndev = F.ndev;
    for (int i = 0; i < c->ndev; i++) {
        c->dev[i].desc.index = i;
        c->list[i] = &c->dev[i];
    }
    F.clients++;
    a->client = c;
    return NULL;
}

static void report(void)
{
    const char *path = getenv("FAKE_PJRT_REPORT");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (!f) return;
    fprintf(f, "buffers %ld\nevents %ld\nexecutables %ld\ncompiled %ld\nexecuted %ld\n", F.buffers,
            F.events, F.executables, F.compiled, F.executed);
    fclose(f);
}

static PJRT_Error *client_destroy(PJRT_Client_Destroy_Args *a)
{
    CHECK_SIZE(PJRT_Client_Destroy_Args, a);
    report();
    free(a->client);
    F.clients--;
    return NULL;
}

static PJRT_Error *platform_name(PJRT_Client_PlatformName_Args *a)
{
    CHECK_SIZE(PJRT_Client_PlatformName_Args, a);
    a->platform_name = "stand-in";
    a->platform_name_size = strlen(a->platform_name);
    return NULL;
}

static PJRT_Error *platform_version(PJRT_Client_PlatformVersion_Args *a)
{
    CHECK_SIZE(PJRT_Client_PlatformVersion_Args, a);
    a->platform_name = "tests/fake_pjrt.c (host interpreter, not a device)";
    a->platform_name_size = strlen(a->platform_name);
    return NULL;
}

static PJRT_Error *addressable_devices(PJRT_Client_AddressableDevices_Args *a)
{
    CHECK_SIZE(PJRT_Client_AddressableDevices_Args, a);
    a->addressable_devices = a->client->list;
    a->num_addressable_devices = (size_t)a->client->ndev;
    return NULL;
}

static PJRT_Error *get_description(PJRT_Device_GetDescription_Args *a)
{
    CHECK_SIZE(PJRT_Device_GetDescription_Args, a);
    a->device_description = &a->device->desc;
    return NULL;
}

static PJRT_Error *description_kind(PJRT_DeviceDescription_Kind_Args *a)
{
    CHECK_SIZE(PJRT_DeviceDescription_Kind_Args, a);
    a->device_kind = "PJRT stand-in (tests, not hardware)";
    a->device_kind_size = strlen(a->device_kind);
    return NULL;
}

static PJRT_Error *memory_stats(PJRT_Device_MemoryStats_Args *a)
{
    CHECK_SIZE(PJRT_Device_MemoryStats_Args, a);
    a->bytes_in_use = F.bytes_in_use;
    a->bytes_limit = F.memory;
    a->bytes_limit_is_set = true;
    return NULL;
}

/* ---- compile ---- */

static bool varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int s = 0; *p < end && s < 64; s += 7) {
        unsigned char b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* CompileOptionsProto.executable_build_options (3) {num_replicas (4), num_partitions (5)} */
static PJRT_Error *check_options(const char *opt, size_t n)
{
    const unsigned char *p = (const unsigned char *)opt, *end = p + n;
    uint64_t replicas = 0, partitions = 0, key, len, v;
    while (p < end) {
        if (!varint(&p, end, &key) || (key & 7) != 2 || !varint(&p, end, &len) ||
            len > (uint64_t)(end - p))
            return error("compile options: not a serialized CompileOptionsProto");
        const unsigned char *q = p, *qe = p + len;
        p = qe;
        if (key >> 3 != 3) continue;
        while (q < qe) {
            if (!varint(&q, qe, &key) || (key & 7) != 0 || !varint(&q, qe, &v))
                return error("compile options: malformed ExecutableBuildOptionsProto");
            if (key >> 3 == 4)
                replicas = v;
            else if (key >> 3 == 5)
                partitions = v;
        }
    }
    if (replicas != 1 || partitions != 1)
        return error("compile options: %llu replicas, %llu partitions (one device needs 1, 1)",
                     (unsigned long long)replicas, (unsigned long long)partitions);
    return NULL;
}

static PJRT_Error *client_compile(PJRT_Client_Compile_Args *a)
{
    CHECK_SIZE(PJRT_Client_Compile_Args, a);
    CHECK_SIZE(PJRT_Program, a->program);
    const PJRT_Program *pg = a->program;
    if (pg->format_size != 4 || memcmp(pg->format, "mlir", 4) != 0)
        return error("unsupported program format '%.*s'", (int)pg->format_size, pg->format);
    PJRT_Error *e = check_options(a->compile_options, a->compile_options_size);
    if (e) return e;
    char *text = strndup(pg->code, pg->code_size), err[256];
    PJRT_LoadedExecutable *x = calloc(1, sizeof(*x));
    int rc = fh_parse(text, &x->prog, err);
    free(text);
    if (rc != 0) {
        free(x);
        return error("MLIR parse error: %s", err);
    }
    F.executables++;
    F.compiled++;
    a->executable = x;
    return NULL;
}

static PJRT_Error *executable_destroy(PJRT_LoadedExecutable_Destroy_Args *a)
{
    CHECK_SIZE(PJRT_LoadedExecutable_Destroy_Args, a);
    fh_free(&a->executable->prog);
    free(a->executable);
    F.executables--;
    return NULL;
}

/* ---- buffers ---- */

static fh_et et_of(PJRT_Buffer_Type t, bool *ok)
{
    *ok = true;
    switch (t) {
    case PJRT_Buffer_Type_PRED:
        return FH_PRED;
    case PJRT_Buffer_Type_S8:
        return FH_I8;
    case PJRT_Buffer_Type_S32:
        return FH_I32;
    case PJRT_Buffer_Type_S64:
        return FH_I64;
    case PJRT_Buffer_Type_U8:
        return FH_U8;
    case PJRT_Buffer_Type_BF16:
        return FH_BF16;
    case PJRT_Buffer_Type_F32:
        return FH_F32;
    case PJRT_Buffer_Type_F64:
        return FH_F64;
    default:
        *ok = false;
        return FH_F32;
    }
}

static PJRT_Buffer *buffer_new(fh_value v)
{
    PJRT_Buffer *b = calloc(1, sizeof(*b));
    b->magic = LIVE;
    b->v = v;
    F.buffers++;
    F.bytes_in_use += (long)(v.n * fh_et_size(v.t.et));
    return b;
}

static PJRT_Error *from_host(PJRT_Client_BufferFromHostBuffer_Args *a)
{
    CHECK_SIZE(PJRT_Client_BufferFromHostBuffer_Args, a);
    bool ok;
    fh_type t = {.et = et_of(a->type, &ok), .rank = (int)a->num_dims};
    if (!ok || a->num_dims > FH_MAX_DIMS || a->byte_strides || !a->device)
        return error("BufferFromHostBuffer: unsupported type, rank, strides or no device");
    if (a->num_dims) memcpy(t.dims, a->dims, sizeof(int64_t) * a->num_dims);
    size_t bytes = fh_et_size(t.et);
    for (int i = 0; i < t.rank; i++)
        bytes *= (size_t)t.dims[i];
    if (F.bytes_in_use + (long)bytes > F.memory)
        return error("RESOURCE_EXHAUSTED: out of memory allocating %zu bytes", bytes);
    fh_value v;
    if (fh_value_alloc(&v, &t) != 0) return error("out of host memory");
    fh_from_bytes(&v, a->data);
    a->buffer = buffer_new(v);
    a->done_with_host_buffer = event_new();
    return NULL;
}

static PJRT_Error *buffer_destroy(PJRT_Buffer_Destroy_Args *a)
{
    CHECK_SIZE(PJRT_Buffer_Destroy_Args, a);
    if (!a->buffer) return NULL;
    if (a->buffer->magic != LIVE) return error("PJRT_Buffer_Destroy: not a live buffer");
    F.bytes_in_use -= (long)(a->buffer->v.n * fh_et_size(a->buffer->v.t.et));
    fh_value_free(&a->buffer->v);
    a->buffer->magic = 0;
    free(a->buffer);
    F.buffers--;
    return NULL;
}

static PJRT_Error *to_host(PJRT_Buffer_ToHostBuffer_Args *a)
{
    CHECK_SIZE(PJRT_Buffer_ToHostBuffer_Args, a);
    const PJRT_Buffer *b = a->src;
    if (!b || b->magic != LIVE) return error("ToHostBuffer: not a live buffer");
    size_t need = b->v.n * fh_et_size(b->v.t.et);
    if (!a->dst) {
        a->dst_size = need;
        return NULL;
    }
    if (a->dst_size < need)
        return error("ToHostBuffer: destination of %zu bytes for %zu", a->dst_size, need);
    fh_to_bytes(&b->v, a->dst);
    a->event = event_new();
    return NULL;
}

/* ---- execute ---- */

static PJRT_Error *execute(PJRT_LoadedExecutable_Execute_Args *a)
{
    CHECK_SIZE(PJRT_LoadedExecutable_Execute_Args, a);
    CHECK_SIZE(PJRT_ExecuteOptions, a->options);
    const fh_program *p = &a->executable->prog;
    if (a->num_devices != 1 || !a->output_lists || !a->output_lists[0])
        return error("Execute: one device with an output list expected");
    if (a->num_args != (size_t)p->main.nargs)
        return error("Execute: %zu arguments for a program of %d", a->num_args, p->main.nargs);
    fh_value args[FH_MAX_VALUES], outs[FH_MAX_VALUES];
    for (size_t i = 0; i < a->num_args; i++) {
        const PJRT_Buffer *b = a->argument_lists[0][i];
        if (!b || b->magic != LIVE) return error("Execute: argument %zu is not a live buffer", i);
        args[i] = b->v;
    }
    char err[256];
    long loops = 0;
    double t0 = now_us();
    if (fh_run(p, args, outs, &loops, err) != 0) return error("Execute %s: %s", p->name, err);
    if (F.launch_us || F.iter_us) wait_until(t0, F.launch_us + loops * F.iter_us);
    for (int i = 0; i < p->nres; i++) {
        if (F.wrong && outs[i].n) outs[i].d[0] += 1.0;
        a->output_lists[0][i] = buffer_new(outs[i]);
    }
    if (a->device_complete_events) a->device_complete_events[0] = event_new();
    F.executed++;
    return NULL;
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : dflt;
}

EXPORT const PJRT_Api *GetPjrtApi(void);
const PJRT_Api *GetPjrtApi(void)
{
    if (env_long("FAKE_PJRT_NULL_API", 0)) return NULL;
    /* the interpreter's arrays are large and short-lived: keep freed memory in the heap for the
     * next one instead of mapping and faulting in fresh pages for each (a no-op under ASan) */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    F.grow = env_long("FAKE_PJRT_GROW", 0);
    F.memory = env_long("FAKE_PJRT_MEMORY", 256L << 20);
    F.launch_us = env_long("FAKE_PJRT_LAUNCH_US", 0);
    F.iter_us = env_long("FAKE_PJRT_ITER_US", 0);
    F.wrong = env_long("FAKE_PJRT_WRONG", 0);
    F.ndev = (int)env_long("FAKE_PJRT_DEVICES", 1);
    if (F.ndev < 0 || F.ndev > 8) F.ndev = 1;
    PJRT_Api *api = &F.api;
    api->struct_size = (size_t)env_long("FAKE_PJRT_TABLE_BYTES", (long)sizeof(PJRT_Api));
    api->pjrt_api_version =
        (PJRT_Api_Version){.struct_size = sizeof(PJRT_Api_Version),
                           .major_version = (int)env_long("FAKE_PJRT_MAJOR", AB_PJRT_HEADER_MAJOR),
                           .minor_version = (int)env_long("FAKE_PJRT_MINOR", AB_PJRT_HEADER_MINOR)};
    api->PJRT_Error_Destroy = error_destroy;
    api->PJRT_Error_Message = error_message;
    api->PJRT_Plugin_Initialize = plugin_initialize;
    api->PJRT_Plugin_Attributes = plugin_attributes;
    api->PJRT_Event_Destroy = event_destroy;
    api->PJRT_Event_Await = event_await;
    api->PJRT_Client_Create = client_create;
    api->PJRT_Client_Destroy = client_destroy;
    api->PJRT_Client_PlatformName = platform_name;
    api->PJRT_Client_PlatformVersion = platform_version;
    api->PJRT_Client_AddressableDevices = addressable_devices;
    api->PJRT_Client_Compile = client_compile;
    api->PJRT_Client_BufferFromHostBuffer = from_host;
    api->PJRT_DeviceDescription_Kind = description_kind;
    api->PJRT_Device_GetDescription = get_description;
    api->PJRT_Device_MemoryStats = memory_stats;
    api->PJRT_LoadedExecutable_Destroy = executable_destroy;
    api->PJRT_LoadedExecutable_Execute = execute;
    api->PJRT_Buffer_Destroy = buffer_destroy;
    api->PJRT_Buffer_ToHostBuffer = to_host;
    return api;
}
