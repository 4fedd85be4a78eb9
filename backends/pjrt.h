/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend's device handle and program interface, shared with the PJRT implementations
 * of the suites (suites/<suite>/<suite>_pjrt.c). Everything here lives inside the plugin
 * libaccelbench-pjrt.so, which calls nothing in the binary.
 *
 * A PJRT device has no writable memory in the CUDA sense: a buffer is an immutable typed array
 * that a program consumes and a new one it produces. So a memory handle (ab_pjrt_mem) is a
 * slot holding the current buffer, its element type and shape; a program's outputs replace the
 * buffers of the slots they are written to. Kernels are StableHLO programs, generated per case as
 * text (backends/stablehlo.h), compiled once per device (cached by their text) and timed by the
 * loop-in-program method: argument 0 of every timed program is its trip count R, a while loop
 * inside runs the kernel R times, and the backend timer subtracts the wall time of the same
 * program at R = 0 (README "PJRT backend").
 */
#ifndef AB_BACKEND_PJRT_H
#define AB_BACKEND_PJRT_H

#include "backend.h"
#include "pjrt_api.h"

#include <stdarg.h>

#define AB_PJRT_MAX_DIMS 5

typedef struct ab_pjrt_mem {
    size_t bytes;     /* what mem_alloc asked for */
    size_t used;      /* bytes of the array it holds (<= bytes) */
    unsigned gen;     /* incremented whenever buf changes */
    PJRT_Buffer *buf; /* NULL until first written */
    PJRT_Buffer_Type type;
    int rank;
    int64_t dims[AB_PJRT_MAX_DIMS];
} ab_pjrt_mem;

typedef struct ab_pjrt_exe ab_pjrt_exe;

/* The loaded plugin and its client (one per process: PJRT_Plugin_Initialize runs once). */
typedef struct ab_pjrt_be {
    void *dl;
    const PJRT_Api *api;
    PJRT_Client *client;
    PJRT_Device *const *devices;
    int ndevices;
    char path[512];     /* the plugin file */
    char platform[64];  /* PJRT_Client_PlatformName: "tpu", "neuron" */
    char version[128];  /* PJRT_Client_PlatformVersion */
    int api_minor;      /* the plugin's PJRT_API_MINOR */
    char stablehlo[32]; /* the StableHLO version its compiler speaks, "" when unknown */
} ab_pjrt_be;

/* backends/pjrt_load.c: finds, checks and loads the plugin (the reason in why when none). */
int ab_pjrt_load(ab_pjrt_be *be, char *why);
void ab_pjrt_unload(ab_pjrt_be *be);

typedef struct ab_pjrt_dev {
    ab_pjrt_be *be;
    const PJRT_Api *api;
    PJRT_Client *client;
    PJRT_Device *device;
    int index;
    ab_pjrt_exe *programs; /* compiled programs of this device, a list */
    uint64_t allocated;    /* bytes of live handles (checked against the memory limit) */
    uint64_t mem_limit;    /* 0: unknown */
    PJRT_Event **pending;  /* completion events of executions not yet awaited */
    size_t npending, cap_pending;
    /* the timer: host wall clock around execute + await, minus the overhead of the looped
     * programs launched inside the interval */
    bool timing;
    double t0, overhead;
    int looped_launches;
    /* the host copy of the last array read in parts (validation reads C in row slices) */
    const ab_pjrt_mem *rcache;
    unsigned rcache_gen;
    void *rcache_host;
    size_t rcache_cap;
} ab_pjrt_dev;

/* One-line error message into err (AB_ERRLEN bytes); returns -1. */
int ab_pjrt_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of a PJRT error, prefixed with what failed; frees the error. Returns -1. */
int ab_pjrt_fail(const PJRT_Api *api, PJRT_Error *e, const char *what, char *err);
double ab_pjrt_now(void);
/* A C string out of a PJRT (pointer, size) pair, cut to len. */
void ab_pjrt_str(char *dst, size_t len, const char *s, size_t n);
/* The MLIR element type of a PJRT one ("f32", "bf16", "i8"), NULL for others. */
const char *ab_pjrt_mlir_type(PJRT_Buffer_Type t);

/*
 * The compiled program of `text` on d (compiled on first use, then cached). `looped`: argument
 * 0 is the trip count (tensor<i64>) of the loop that repeats the kernel, and the timer
 * subtracts the program's launch overhead (measured once, the median wall time of five runs at
 * R = 0 after a warm-up). `nout` is the number of results.
 */
int ab_pjrt_program(ab_pjrt_dev *d, const char *text, bool looped, int nout, ab_pjrt_exe **exe,
                    char *err);

/*
 * Runs exe once. For a looped program the trip count `iters` is argument 0 and args[] follow;
 * otherwise args[] are all. Result i replaces the buffer of outs[i], which must already hold an
 * array of the result's type and shape (ab_pjrt_mem_set). Asynchronous: the completion event is
 * kept for sync / timer_stop.
 */
int ab_pjrt_run(ab_pjrt_dev *d, ab_pjrt_exe *exe, long iters, ab_pjrt_mem *const *args, int nargs,
                ab_pjrt_mem *const *outs, char *err);

/* Waits for every execution of d launched so far. */
int ab_pjrt_sync(ab_pjrt_dev *d, char *err);

/* Gives m a buffer of `type` and shape dims[rank] (same bytes as the handle), uploaded from
 * `host` (NULL: the current contents, reinterpreted, through the host when the type differs). */
int ab_pjrt_mem_set(ab_pjrt_dev *d, ab_pjrt_mem *m, PJRT_Buffer_Type type, const int64_t *dims,
                    int rank, const void *host, char *err);
/* Copies the array m holds to host (m->used bytes). */
int ab_pjrt_mem_get(ab_pjrt_dev *d, ab_pjrt_mem *m, void *host, char *err);
/* dst := a copy of src's array, made on the device (a program returning its argument). */
int ab_pjrt_device_copy(ab_pjrt_dev *d, ab_pjrt_mem *dst, ab_pjrt_mem *src, char *err);
/* Destroys m's buffer (the handle stays). */
void ab_pjrt_mem_drop(ab_pjrt_dev *d, ab_pjrt_mem *m);
/* Destroys every compiled program of d. */
void ab_pjrt_programs_free(ab_pjrt_dev *d);

/* The platform name the plugin reports ("tpu", "neuron"), for describe() strings. */
const char *ab_pjrt_platform(const ab_pjrt_dev *d);

#endif
