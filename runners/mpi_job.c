/* SPDX-License-Identifier: MIT */
/*
 * The MPI job behind `mpirun/srun accelbench run` (mpi_job.h): joining, the build and argv check,
 * device choice by node-local rank, meeting points bounded by --rank-timeout, the gather of every
 * rank's results and manifest on rank 0, and leaving (MPI_Finalize or MPI_Abort).
 *
 * Every meeting point is a nonblocking MPI operation polled against a deadline, so a rank that
 * hangs or died costs at most --rank-timeout seconds: rank 0 then records what arrived and one
 * error result per lost rank, writes the folder, and ends the job with MPI_Abort.
 */
#include "mpi_job.h"

#include "../core/ab.h"
#include "../probes/topo.h"
#include "commands.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_RUN = 17 };
#define NODE_MAX 64

/* what each rank tells every other at the start */
typedef struct rank_hello {
    uint64_t hash; /* FNV-1a of version, git commit, build flags and argv */
    int32_t local_rank, local_size;
    char node[NODE_MAX];
    char cpus[48]; /* the CPUs in its affinity mask, "0-3,8" */
} rank_hello;

static struct {
    bool active;
    int rank, size, local_rank, local_size;
    const char *launcher;
    double timeout;
    MPI_Comm comm;
    rank_hello *all; /* every rank's hello */
    char broken[256];
    json_t *devices; /* this rank's picked device ids */
} J = {.timeout = AB_JOB_DEFAULT_TIMEOUT, .comm = MPI_COMM_NULL};

/* The launcher that started this process, from the variables it sets; NULL: none. */
static const char *detect_launcher(void)
{
    const char *force = getenv("ACCELBENCH_MPI");
    if (force && strcmp(force, "0") == 0) return NULL;
    if (getenv("OMPI_COMM_WORLD_SIZE")) return "mpirun (Open MPI)";
    if (getenv("SLURM_STEP_NUM_TASKS") && getenv("SLURM_PROCID")) return "srun (Slurm)";
    if (getenv("PMIX_RANK")) return "PMIx";
    if (getenv("PMI_RANK") || getenv("PMI_SIZE")) return "PMI (MPICH hydra)";
    if (force && strcmp(force, "1") == 0) return "ACCELBENCH_MPI=1";
    return NULL;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* a separator, so "ab","c" differs from "a","bc" */
}

/* Waits for rq until the deadline; -1 (the job broken) when it did not complete. */
static int wait_deadline(MPI_Request *rq, const char *what)
{
    double end = ab_now() + J.timeout;
    for (;;) {
        int done = 0;
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (done) return 0;
        if (ab_now() > end) {
            if (!*J.broken)
                snprintf(J.broken, sizeof(J.broken),
                         "%s: not every rank arrived within --rank-timeout %g s", what, J.timeout);
            return -1;
        }
        struct timespec ts = {0, 100000}; /* 0.1 ms */
        nanosleep(&ts, NULL);
    }
}

/* One line naming the first rank whose build or arguments differ from rank 0's. */
static int check_hashes(void)
{
    for (int r = 1; r < J.size; r++)
        if (J.all[r].hash != J.all[0].hash) return r;
    return 0;
}

/* Ranks that the launcher left unbound (every online CPU in the mask) share the node's cores by
 * node-local rank, as mpirun --bind-to core would: otherwise each rank's cpu device would pin its
 * threads from the first core on, every rank onto the same cores. A launcher's binding is kept. */
static void share_cores(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (J.local_size < 2 || sched_getaffinity(0, sizeof(set), &set) != 0 ||
        CPU_COUNT(&set) < online)
        return;
    int cpus[AB_MAX_CPUS];
    int n = ab_host_core_cpus(cpus, AB_MAX_CPUS);
    if (n < 1) return;
    int per = n / J.local_size, first = per ? J.local_rank * per : J.local_rank % n;
    CPU_ZERO(&set);
    for (int k = first; k < first + (per ? per : 1); k++)
        CPU_SET(cpus[k], &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        ab_log(AB_LOG_WARN, "rank %d: cannot bind to its share of the cores", J.rank);
}

/* This process's affinity mask as a CPU list ("0-3,8"), cut to len. */
static void cpu_list(char *buf, size_t len)
{
    cpu_set_t set;
    buf[0] = '\0';
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return;
    size_t n = 0;
    for (int c = 0; c < CPU_SETSIZE && n + 16 < len; c++) {
        if (!CPU_ISSET(c, &set) || (c > 0 && CPU_ISSET(c - 1, &set))) continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
            e++;
        n += (size_t)snprintf(buf + n, len - n, e > c ? "%s%d-%d" : "%s%d", n ? "," : "", c, e);
    }
}

static int hello(int argc, char **argv)
{
    rank_hello me = {.hash = 14695981039346656037ull};
    me.hash = fnv1a(me.hash, AB_VERSION);
    me.hash = fnv1a(me.hash, ab_build_git_commit);
    me.hash = fnv1a(me.hash, ab_build_flags);
    for (int i = 0; i < argc; i++)
        me.hash = fnv1a(me.hash, argv[i]);
    me.local_rank = J.local_rank;
    me.local_size = J.local_size;
    if (gethostname(me.node, sizeof(me.node)) != 0)
        snprintf(me.node, sizeof(me.node), "rank%d", J.rank);
    me.node[NODE_MAX - 1] = '\0';
    cpu_list(me.cpus, sizeof(me.cpus));
    if (!(J.all = calloc((size_t)J.size, sizeof(*J.all)))) return -1;
    MPI_Request rq;
    MPI_Iallgather(&me, sizeof(me), MPI_BYTE, J.all, sizeof(me), MPI_BYTE, J.comm, &rq);
    return wait_deadline(&rq, "start");
}

int ab_job_begin(int argc, char **argv)
{
    const char *launcher = detect_launcher();
    if (!launcher) return 0;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "accelbench run: MPI_Init failed under %s\n", launcher);
        return AB_EXIT_FAIL;
    }
    J.active = true;
    J.launcher = launcher;
    MPI_Comm_dup(MPI_COMM_WORLD, &J.comm);
    MPI_Comm_rank(J.comm, &J.rank);
    MPI_Comm_size(J.comm, &J.size);
    MPI_Comm node;
    MPI_Comm_split_type(J.comm, MPI_COMM_TYPE_SHARED, J.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &J.local_rank);
    MPI_Comm_size(node, &J.local_size);
    MPI_Comm_free(&node);
    share_cores();
    /* rank 0 speaks for the job: the other ranks' stdout (and stderr unless
     * ACCELBENCH_RANK_LOGS=1) go nowhere; what they measure comes back in the document */
    if (J.rank != 0) {
        if (!freopen("/dev/null", "w", stdout)) return AB_EXIT_FAIL;
        const char *logs = getenv("ACCELBENCH_RANK_LOGS");
        if (!(logs && strcmp(logs, "1") == 0) && !freopen("/dev/null", "w", stderr))
            return AB_EXIT_FAIL;
    }
    if (hello(argc, argv) != 0) {
        fprintf(stderr, "accelbench run: %s\n", *J.broken ? J.broken : "out of memory");
        return AB_EXIT_FAIL;
    }
    int bad = check_hashes();
    if (bad) {
        if (J.rank == 0)
            fprintf(stderr,
                    "accelbench run: refused: rank %d (node %s) runs another build or other "
                    "arguments than rank 0 (hash %016" PRIx64 " != %016" PRIx64 ")\n",
                    bad, J.all[bad].node, J.all[bad].hash, J.all[0].hash);
        return AB_EXIT_USAGE;
    }
    return 0;
}

bool ab_job_active(void)
{
    return J.active;
}
int ab_job_rank(void)
{
    return J.active ? J.rank : 0;
}
int ab_job_size(void)
{
    return J.active ? J.size : 1;
}
bool ab_job_writer(void)
{
    return !J.active || J.rank == 0;
}
void ab_job_set_timeout(double seconds)
{
    J.timeout = seconds;
}
double ab_job_timeout(void)
{
    return J.timeout;
}
MPI_Comm ab_job_comm(void)
{
    return J.active ? J.comm : MPI_COMM_NULL;
}
const char *ab_job_broken(void)
{
    return *J.broken ? J.broken : NULL;
}

const char *ab_job_node_of(int r)
{
    return J.active && J.all && r >= 0 && r < J.size ? J.all[r].node : "";
}

int ab_job_agree(int rc)
{
    if (!J.active) return rc;
    if (*J.broken) return AB_EXIT_FAIL;
    int in = rc, out = 0;
    MPI_Request rq;
    MPI_Iallreduce(&in, &out, 1, MPI_INT, MPI_MAX, J.comm, &rq);
    if (wait_deadline(&rq, "agreement") != 0) return AB_EXIT_FAIL;
    return out;
}

static bool listed(char **sel, const char *id)
{
    if (!sel) return true;
    for (size_t i = 0; sel[i]; i++)
        if (strcmp(sel[i], "all") == 0 || strcmp(sel[i], id) == 0) return true;
    return false;
}

int ab_job_pick_devices(const ab_platform *p, char ***devices, char *err)
{
    if (!J.active) return 0;
    char **out = calloc(p->ndevices + 2, sizeof(*out));
    if (!out) return ab_err(err, "out of memory");
    size_t n = 0;
    json_decref(J.devices);
    J.devices = json_array();
    for (size_t i = 0; i < p->ndevices; i++) {
        const ab_device *d = &p->devices[i];
        if (!listed(*devices, d->id)) continue;
        /* this backend's selected devices: the one at local rank mod count is this rank's */
        size_t count = 0, index = 0;
        for (size_t k = 0; k < p->ndevices; k++) {
            const ab_device *e = &p->devices[k];
            if (strcmp(e->backend->name, d->backend->name) != 0 || !listed(*devices, e->id))
                continue;
            if (k < i) index++;
            count++;
        }
        if (index != (size_t)J.local_rank % count) continue;
        out[n++] = ab_strdup(d->id);
        json_array_append_new(J.devices, json_string(d->id));
    }
    ab_strv_free(*devices);
    *devices = out;
    return 0;
}

void ab_job_tag(ab_result *r)
{
    if (!J.active || r->ranked) return;
    r->ranked = true;
    r->rank = J.rank;
    free(r->node);
    r->node = ab_strdup(J.all[J.rank].node);
}

static json_t *rank_json(int r, const char *status, json_t *devices)
{
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(r));
    json_object_set_new(o, "node", ab_json_string(J.all[r].node));
    json_object_set_new(o, "local_rank", json_integer(J.all[r].local_rank));
    json_object_set_new(o, "local_size", json_integer(J.all[r].local_size));
    json_object_set_new(o, "cpus", ab_json_string(J.all[r].cpus));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "devices", devices ? json_incref(devices) : json_array());
    return o;
}

/* job.nodes[]: the node's ranks and the manifest its first reporting rank probed */
static void add_node(json_t *nodes, int r, const json_t *manifest)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, "node")), J.all[r].node) == 0) {
            json_array_append_new(json_object_get(n, "ranks"), json_integer(r));
            if (json_is_null(json_object_get(n, "manifest")) && manifest)
                json_object_set(n, "manifest", (json_t *)manifest);
            return;
        }
    }
    n = json_object();
    json_object_set_new(n, "node", ab_json_string(J.all[r].node));
    json_object_set_new(n, "ranks", json_pack("[i]", r));
    json_object_set(n, "manifest", manifest ? (json_t *)manifest : json_null());
    json_array_append_new(nodes, n);
}

/* One rank's run document received on rank 0: its results recorded, its rank entry made. */
static int take_rank(int src, const char *text, size_t len, json_t *job, ab_job_record_fn record,
                     void *arg, char *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    ab_run *run = doc ? ab_run_from_json(doc, err) : NULL;
    if (!run) {
        if (!doc) ab_err(err, "rank %d sent an unreadable document: %s", src, je.text);
        json_decref(doc);
        return -1;
    }
    json_t *devs = json_object_get(json_object_get(doc, "job"), "devices");
    json_array_append_new(json_object_get(job, "ranks"), rank_json(src, "reported", devs));
    add_node(json_object_get(job, "nodes"), src, run->manifest);
    int rc = 0;
    for (size_t i = 0; i < run->nresults && rc == 0; i++) {
        ab_result *r = run->results[i];
        run->results[i] = NULL;
        if (!r->ranked || r->rank != src) { /* what a rank says about itself, checked */
            r->ranked = true;
            r->rank = src;
            free(r->node);
            r->node = ab_strdup(J.all[src].node);
        }
        if (r->job_wide) { /* recorded once, by rank 0 */
            ab_result_free(r);
            continue;
        }
        rc = record(arg, r);
    }
    run->nresults = 0;
    ab_run_free(run);
    json_decref(doc);
    return rc;
}

/* Rank 0's error result for a rank whose results never came. */
static int lost_rank(int r, json_t *job, ab_job_record_fn record, void *arg)
{
    json_array_append_new(json_object_get(job, "ranks"), rank_json(r, "lost", NULL));
    add_node(json_object_get(job, "nodes"), r, NULL);
    ab_result *res = ab_result_new("job", "job.rank", "none");
    if (!res) return -1;
    char dev[32];
    snprintf(dev, sizeof(dev), "rank:%d", r);
    ab_result_set_device(res, dev, NULL, "mpi");
    if (ab_interrupted()) /* the launcher ends the job: a rank died, or a signal */
        ab_result_set_status(res, AB_ERROR,
                             "rank %d on node %s had sent no results when the job was stopped "
                             "(by a signal: the launcher ends a job when a rank dies)",
                             r, J.all[r].node);
    else
        ab_result_set_status(res, AB_ERROR,
                             "rank %d on node %s sent no results within --rank-timeout %g s "
                             "(it hung or died)",
                             r, J.all[r].node, J.timeout);
    res->ranked = true;
    res->rank = r;
    res->node = ab_strdup(J.all[r].node);
    res->started = ab_wall_time();
    return record(arg, res);
}

static json_t *job_header(const ab_run *run)
{
    json_t *job = json_object();
    json_object_set_new(job, "launcher", json_string(J.launcher));
    json_object_set_new(job, "size", json_integer(J.size));
    char h[24];
    snprintf(h, sizeof(h), "%016" PRIx64, J.all[0].hash);
    json_object_set_new(job, "build_args_hash", json_string(h));
    json_object_set_new(job, "rank_timeout_s", json_real(J.timeout));
    json_object_set_new(job, "ranks", json_array());
    json_object_set_new(job, "nodes", json_array());
    json_array_append_new(json_object_get(job, "ranks"), rank_json(0, "reported", J.devices));
    add_node(json_object_get(job, "nodes"), 0, run->manifest);
    return job;
}

/* Rank 0: receives until every rank reported or the deadline passed. */
static int gather_root(ab_run *run, ab_job_record_fn record, void *arg, char *err)
{
    json_t *job = job_header(run);
    bool *got = calloc((size_t)J.size, sizeof(*got));
    if (!got) return ab_err(err, "out of memory");
    int left = J.size - 1, rc = 0;
    double end = ab_now() + J.timeout;
    while (left > 0 && !*J.broken && ab_now() <= end && !ab_interrupted()) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        MPI_Improbe(MPI_ANY_SOURCE, TAG_RUN, J.comm, &flag, &msg, &st);
        if (!flag) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        int count = 0;
        MPI_Get_count(&st, MPI_CHAR, &count);
        char *buf = malloc((size_t)count + 1);
        if (!buf) {
            rc = ab_err(err, "out of memory");
            break;
        }
        MPI_Mrecv(buf, count, MPI_CHAR, &msg, MPI_STATUS_IGNORE);
        got[st.MPI_SOURCE] = true;
        left--;
        if (take_rank(st.MPI_SOURCE, buf, (size_t)count, job, record, arg, err) != 0) rc = -1;
        free(buf);
    }
    char lost[160] = "";
    for (int r = 1; r < J.size; r++) {
        if (got[r]) continue;
        size_t n = strlen(lost);
        snprintf(lost + n, sizeof(lost) - n, "%s%d (%s)", n ? ", " : "", r, J.all[r].node);
        if (lost_rank(r, job, record, arg) != 0) rc = -1;
    }
    if (*lost) {
        char when[64];
        if (ab_interrupted())
            snprintf(when, sizeof(when), "before the job was stopped");
        else
            snprintf(when, sizeof(when), "within --rank-timeout %g s", J.timeout);
        snprintf(J.broken, sizeof(J.broken),
                 "rank %s sent no results %s; the results of the other ranks are written", lost,
                 when);
        rc = ab_err(err, "%s", J.broken);
    }
    /* job.ranks in rank order */
    json_t *sorted = json_array(), *ranks = json_object_get(job, "ranks"), *e;
    size_t i;
    for (int r = 0; r < J.size; r++)
        json_array_foreach(ranks, i, e) if (json_integer_value(json_object_get(e, "rank")) == r)
            json_array_append(sorted, e);
    json_object_set_new(job, "ranks", sorted);
    json_decref(run->job);
    run->job = job;
    free(got);
    return rc;
}

int ab_job_gather(ab_run *run, ab_job_record_fn record, void *arg, char *err)
{
    if (!J.active) return 0;
    ab_job_test_fault("gather");
    if (J.rank == 0) return gather_root(run, record, arg, err);
    /* the others: their run document, job section (their devices) included */
    json_decref(run->job);
    run->job = json_pack("{sO}", "devices", J.devices ? J.devices : json_array());
    json_t *doc = ab_run_to_json(run);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) return ab_err(err, "out of memory");
    MPI_Request rq;
    MPI_Isend(text, (int)strlen(text), MPI_CHAR, 0, TAG_RUN, J.comm, &rq);
    int rc = wait_deadline(&rq, "sending results to rank 0");
    free(text);
    return rc ? ab_err(err, "%s", J.broken) : 0;
}

int ab_job_end(int rc)
{
    if (!J.active) return rc;
    J.active = false;
    free(J.all);
    J.all = NULL;
    json_decref(J.devices);
    J.devices = NULL;
    if (*J.broken) {
        /* not MPI_Abort: with a rank hung, Open MPI 4.1's mpirun hangs in MPI_Abort's help
         * message (ORTE_ERROR_LOG in show_help.c) and srun did not end the step. A rank that
         * exits non-zero without MPI_Finalize ends the job under mpirun (its default) and under
         * srun --kill-on-bad-exit (scripts/slurm/accelbench.sbatch). */
        fflush(stdout);
        fflush(stderr);
        _exit(rc ? rc : AB_EXIT_FAIL);
    }
    MPI_Comm_free(&J.comm);
    MPI_Finalize();
    return rc;
}
