/* SPDX-License-Identifier: MIT */
/*
 * The MPI job's watchdog of blocking exchanges and its test hook (mpi_job.h): a rank hung inside
 * a timed exchange cannot be waited for with a deadline (the MPI calls block), so a thread armed
 * around each one ends the rank when --rank-timeout passes, which ends the job.
 */
#include "mpi_job.h"

#include "../core/ab.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Test hook (documented as such in README): ACCELBENCH_TEST_RANK_FAULT=R:hang or R:exit makes
 * rank R > 0 hang or die where it would send its results, as a lost node would;
 * R:hang@KEY makes it hang as the fabric case KEY starts timing (inside the exchange). */
void ab_job_test_fault(const char *point)
{
    const char *f = getenv("ACCELBENCH_TEST_RANK_FAULT");
    char *end = NULL;
    long r = f ? strtol(f, &end, 10) : -1;
    if (r <= 0 || r != ab_job_rank() || *end != ':') return;
    const char *at = strchr(end + 1, '@');
    if (strcmp(at ? at + 1 : "gather", point) != 0) return;
    if (strncmp(end + 1, "hang", 4) == 0)
        for (;;)
            sleep(60);
    if (strncmp(end + 1, "exit", 4) == 0) _exit(1);
}

/* The watchdog of blocking exchanges: armed around each, it ends the job when one has not
 * completed within --rank-timeout (a rank hung inside it). The thread makes no MPI call. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, armed;
    double deadline;
    char what[96];
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&W.mu);
    for (;;) {
        while (!W.armed)
            pthread_cond_wait(&W.cv, &W.mu);
        double left = W.deadline - ab_now();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + left;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&W.cv, &W.mu, &ts);
    }
    fprintf(stderr,
            "accelbench run: rank %d: %s did not complete within --rank-timeout %g s (a rank "
            "hung inside the exchange); ending the job, rank 0's finished results are in its "
            "journal\n",
            ab_job_rank(), W.what, ab_job_timeout());
    fflush(stderr);
    _exit(AB_EXIT_FAIL);
    return NULL;
}

void ab_job_watch(const char *what)
{
    if (!ab_job_active()) return;
    pthread_mutex_lock(&W.mu);
    if (!W.started) {
        pthread_t t;
        W.started = pthread_create(&t, NULL, watchdog, NULL) == 0;
        if (W.started) pthread_detach(t);
    }
    W.armed = true;
    W.deadline = ab_now() + ab_job_timeout();
    snprintf(W.what, sizeof(W.what), "%s", what);
    pthread_cond_signal(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

void ab_job_unwatch(void)
{
    pthread_mutex_lock(&W.mu);
    W.armed = false;
    pthread_cond_signal(&W.cv);
    pthread_mutex_unlock(&W.mu);
}
