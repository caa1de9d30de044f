/* sweep_exec: running a sweep's runs in worker processes, over MPI ranks,
 * with resume and a progress line; part of the sweep module (sweep.h).
 *
 * Layer: analysis; runs go through runner_run() (sim/world/runner.h),
 * never through simrun's output (DESIGN.md "analysis/").
 *
 * Why processes: a run's state (world, pools, random streams) lives in its
 * process, and a crash or a leak in one run must not take the others with
 * it; so the parent forks one child per run, at most `jobs` at a time, and
 * the child calls runner_run() and leaves with _exit(status), touching
 * nothing the parent owns (no stdio flush, no MPI call, no atexit).
 * Run order is k = r * points + p (every point's first repetition first,
 * so a sweep stopped early has a value at every point); under MPI rank i
 * of n takes the runs with k mod n = i and rank 0 writes the table once
 * every rank has finished (a non-blocking barrier polled with sleeps, so a
 * rank that has finished does not spin on a core its peers' runs need).
 *
 * Resume: a run is done when sweep__run_results() accepts its
 * results.json (complete, not interrupted, the same scenario and seed).
 * The runner writes a run under DIR.tmp-XXXXXX and renames it when
 * complete (results.h), so a killed run leaves only a .tmp- directory;
 * rank 0 removes those at the start. Stopping (SIGINT/SIGTERM sets the
 * caller's stop flag): no new run starts, running children get SIGTERM,
 * stop at an event boundary and write results marked interrupted, which a
 * later sweep redoes.
 */
#include "analysis/sweep.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SKYSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "analysis/sweep_int.h"
#include "protocol/base/check.h"
#include "sim/world/runner.h"

#define SWP_CHILD_INTERRUPTED 3 /* child exit status: the run was stopped */
#define SWP_POLL_US 50000       /* sleep between polls of the children, microseconds */

/* Set by the child's SIGINT/SIGTERM handler; the child's run loop polls it.
 * Only a signal handler may write it, and only in a child process. */
static volatile sig_atomic_t swp_child_stop;

static void swp_child_on_signal(int sig)
{
    (void)sig;
    swp_child_stop = 1;
}

static double swp_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Done runs */

cJSON *sweep__run_results(Sweep *s, size_t p, size_t r)
{
    char *dir = sweep_run_dir(s, p, r);
    char *path = g_build_filename(dir, "results.json", NULL);
    char *text = NULL;
    cJSON *root = g_file_get_contents(path, &text, NULL, NULL) ? cJSON_Parse(text) : NULL;
    g_free(text);
    g_free(path);
    g_free(dir);
    const cJSON *intr = cJSON_GetObjectItemCaseSensitive(root, "interrupted");
    const Scenario *scn = root && cJSON_IsFalse(intr) ? sweep__scenario(s, p, r, NULL) : NULL;
    /* Through text, as the file was written: the seed is a raw number node
     * in memory and a number once parsed. */
    cJSON *resolved = scn ? scenario_to_json(scn) : NULL;
    char *text_want = resolved ? cJSON_PrintUnformatted(resolved) : NULL;
    cJSON *want = text_want ? cJSON_Parse(text_want) : NULL;
    bool same = want && cJSON_Compare(want, cJSON_GetObjectItemCaseSensitive(root, "scenario"), true);
    cJSON_Delete(want);
    cJSON_free(text_want);
    cJSON_Delete(resolved);
    if (!same) g_clear_pointer(&root, cJSON_Delete);
    return root;
}

static bool swp_run_done(Sweep *s, size_t p, size_t r)
{
    cJSON *root = sweep__run_results(s, p, r);
    cJSON_Delete(root);
    return root != NULL;
}

/* Removes the .tmp- directories killed runs left in runs/ (plain files
 * only, as the runner writes them; anything else is left alone). */
static void swp_clean_tmp(const char *runs)
{
    GDir *d = g_dir_open(runs, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *path = g_build_filename(runs, name, NULL);
        GDir *t = strstr(name, ".tmp-") ? g_dir_open(path, 0, NULL) : NULL;
        const char *f;
        while (t && (f = g_dir_read_name(t))) {
            char *fp = g_build_filename(path, f, NULL);
            g_unlink(fp);
            g_free(fp);
        }
        if (t) {
            g_dir_close(t);
            g_rmdir(path);
        }
        g_free(path);
    }
    if (d) g_dir_close(d);
}

/* ------------------------------------------------------------------------ */
/* MPI */

/* This process's rank and the number of ranks: 0 and 1 unless MPI was
 * compiled in and initialised by the caller. */
static void swp_mpi_world(int *rank, int *size)
{
    *rank = 0;
    *size = 1;
#ifdef SKYSIM_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, size);
    }
#endif
}

/* Waits until every rank arrives, sleeping between tests. */
static void swp_mpi_barrier(int size)
{
#ifdef SKYSIM_HAVE_MPI
    if (size < 2) return;
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) break;
        g_usleep(SWP_POLL_US);
    }
#else
    (void)size;
#endif
}

/* ------------------------------------------------------------------------ */
/* Workers */

typedef struct SwpSlot {
    pid_t pid;   /* child process, 0 when the slot is free */
    size_t p, r; /* its run */
    double t0;   /* wall time at launch, seconds */
} SwpSlot;

typedef struct SwpExec {
    Sweep *s;              /* the sweep */
    const SweepOptions *o; /* options */
    SweepReport *rep;      /* counters */
    size_t *todo;          /* run indices k still to do */
    size_t n_todo;         /* entries in todo */
    size_t next;           /* next entry of todo to launch */
    SwpSlot *slots;        /* o->jobs slots */
    unsigned running;      /* busy slots */
    size_t share;          /* runs in this rank's share */
    size_t ended;          /* runs launched and ended this session, whatever the outcome */
    double busy_s;         /* wall time of the runs executed this session, summed, seconds */
    bool forwarded;        /* the stop was forwarded to the children */
    double last_draw;      /* wall time of the last progress line, seconds */
    int fail_code;         /* SWEEP_ERROR_* of the first failed run; 0: none */
    char *fail_msg;        /* its message, owned; NULL: none */
} SwpExec;

/* The child: runs (p, r), whose scenario the parent prepared, and leaves. */
G_GNUC_NORETURN static void swp_child(Sweep *s, size_t p, size_t r, const sigset_t *old)
{
    struct sigaction sa = {.sa_handler = swp_child_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigprocmask(SIG_SETMASK, old, NULL);
    char *dir = sweep_run_dir(s, p, r);
    RunnerOptions ro = {.out_dir = dir, .queue = EVQ_BUCKET, .progress = false,
                        .stop_flag = &swp_child_stop, .raise_sigint_at = -1};
    RunnerResult res;
    GError *err = NULL;
    RunnerStatus st = runner_run(s->scn[p], &ro, &res, &err);
    if (st != RUNNER_OK) fprintf(stderr, "sweep: run p%zu-r%zu: %s\n", p, r, err->message);
    int code = st != RUNNER_OK ? (int)st : res.interrupted ? SWP_CHILD_INTERRUPTED : 0;
    fflush(stderr);
    _exit(code);
}

static void swp_record_failure(SwpExec *ex, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void swp_record_failure(SwpExec *ex, int code, const char *fmt, ...)
{
    ex->rep->failed++;
    if (ex->fail_msg) return;
    va_list ap;
    va_start(ap, fmt);
    ex->fail_msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ex->fail_code = code;
}

/* Starts the next run of todo in free slot i. */
static void swp_launch(SwpExec *ex, unsigned i)
{
    size_t k = ex->todo[ex->next++], np = ex->s->n_points;
    size_t p = k % np, r = k / np;
    GError *e = NULL;
    if (!sweep__scenario(ex->s, p, r, &e)) {
        swp_record_failure(ex, SWEEP_ERROR_INPUT, "run p%zu-r%zu: %s", p, r, e->message);
        g_error_free(e);
        ex->ended++;
        return;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old); /* the child installs its handlers first */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) swp_child(ex->s, p, r, &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        swp_record_failure(ex, SWEEP_ERROR_INTERNAL, "cannot start a worker process: %s",
                           g_strerror(errno));
        ex->ended++;
        ex->next = ex->n_todo; /* start nothing more */
        return;
    }
    ex->slots[i] = (SwpSlot){.pid = pid, .p = p, .r = r, .t0 = swp_wall()};
    ex->running++;
}

/* Accounts for the end of the child in slot i. */
static void swp_reap(SwpExec *ex, unsigned i, int status)
{
    SwpSlot *sl = &ex->slots[i];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) {
        ex->rep->executed++;
        ex->busy_s += swp_wall() - sl->t0;
    } else if (code == SWP_CHILD_INTERRUPTED) {
        ex->rep->interrupted = true;
    } else if (code == RUNNER_BAD_INPUT || code == RUNNER_INTERNAL) {
        swp_record_failure(ex, code == RUNNER_BAD_INPUT ? SWEEP_ERROR_INPUT : SWEEP_ERROR_INTERNAL,
                           "run p%zu-r%zu failed (exit status %d; its message is above)", sl->p,
                           sl->r, code);
    } else {
        swp_record_failure(ex, SWEEP_ERROR_INTERNAL, "run p%zu-r%zu died (%s %d)", sl->p, sl->r,
                           WIFSIGNALED(status) ? "signal" : "exit status",
                           WIFSIGNALED(status) ? WTERMSIG(status) : code);
    }
    sl->pid = 0;
    ex->running--;
    ex->ended++;
}

/* "1h02m", "3m05s" or "42s" into buf. */
static void swp_format_eta(double s, char *buf, size_t size)
{
    long t = lround(s);
    if (t >= 3600)
        snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%lds", t);
}

/* The progress line: runs done of this rank's share, running, ETA from the
 * mean wall time of the runs finished so far. */
static void swp_draw(SwpExec *ex, bool force)
{
    double now = swp_wall();
    if (!ex->o->progress || (!force && now - ex->last_draw < 0.5)) return;
    ex->last_draw = now;
    size_t done = ex->rep->reused + ex->rep->executed;
    char eta[32] = "?";
    if (ex->rep->executed > 0) {
        double left = (double)(ex->n_todo - ex->ended) * ex->busy_s / (double)ex->rep->executed;
        swp_format_eta(left / (double)ex->o->jobs, eta, sizeof eta);
    }
    fprintf(stderr, "\r\033[K  sweep %s: %zu/%zu runs done, %u running, ETA %s", ex->s->name, done,
            ex->share, ex->running, eta);
    fflush(stderr);
}

/* Polls the children once: reaps the ended ones, or sleeps a little. */
static void swp_poll(SwpExec *ex)
{
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    CHECK(pid >= 0 || errno != ECHILD, "%u runs running but no child process (SIGCHLD ignored?)",
          ex->running);
    if (pid <= 0) {
        g_usleep(SWP_POLL_US);
        return;
    }
    for (unsigned i = 0; i < ex->o->jobs; i++)
        if (ex->slots[i].pid == pid) swp_reap(ex, i, status);
}

/* Sends SIGTERM to every running child, once. */
static void swp_forward_stop(SwpExec *ex)
{
    if (ex->forwarded) return;
    ex->forwarded = true;
    ex->rep->interrupted = true;
    for (unsigned i = 0; i < ex->o->jobs; i++)
        if (ex->slots[i].pid > 0) kill(ex->slots[i].pid, SIGTERM);
}

/* Runs todo with at most jobs children at a time. */
static void swp_execute(SwpExec *ex)
{
    ex->slots = g_new0(SwpSlot, ex->o->jobs);
    while (ex->next < ex->n_todo || ex->running > 0) {
        bool stop = ex->o->stop_flag && *ex->o->stop_flag;
        if (stop) swp_forward_stop(ex);
        for (unsigned i = 0; !stop && i < ex->o->jobs && ex->next < ex->n_todo; i++)
            if (ex->slots[i].pid == 0) swp_launch(ex, i);
        if (ex->running == 0 && (stop || ex->next >= ex->n_todo)) break;
        swp_draw(ex, false);
        swp_poll(ex);
    }
    if (ex->next < ex->n_todo) ex->rep->interrupted = true;
    if (ex->o->progress) fputs("\r\033[K", stderr);
    g_free(ex->slots);
}

/* Lists this rank's runs that are not done yet into ex->todo. */
static void swp_plan(SwpExec *ex, int rank, int size)
{
    Sweep *s = ex->s;
    size_t total = s->n_points * s->reps;
    ex->todo = g_new(size_t, total);
    for (size_t k = (size_t)rank; k < total; k += (size_t)size) {
        ex->share++;
        if (swp_run_done(s, k % s->n_points, k / s->n_points))
            ex->rep->reused++;
        else
            ex->todo[ex->n_todo++] = k;
    }
}

bool sweep_run(Sweep *s, const SweepOptions *o, SweepReport *rep, GError **err)
{
    CHECK(o->jobs >= 1, "jobs=%u", o->jobs);
    *rep = (SweepReport){.runs = s->n_points * s->reps};
    int rank, size;
    swp_mpi_world(&rank, &size);
    char *runs = g_build_filename(s->out, "runs", NULL);
    bool made = g_mkdir_with_parents(runs, 0755) == 0;
    int mkdir_errno = errno;
    if (made && rank == 0) swp_clean_tmp(runs);
    swp_mpi_barrier(size);
    SwpExec ex = {.s = s, .o = o, .rep = rep};
    if (made) {
        swp_plan(&ex, rank, size);
        swp_draw(&ex, true);
        swp_execute(&ex);
    }
    swp_mpi_barrier(size);
    g_free(ex.todo);
    bool ok = true;
    if (!made) {
        g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INTERNAL, "cannot create %s: %s", runs,
                    g_strerror(mkdir_errno));
        ok = false;
    } else if (ex.fail_msg) {
        g_set_error(err, SWEEP_ERROR, ex.fail_code, "%s", ex.fail_msg);
        ok = false;
    }
    g_free(runs);
    g_free(ex.fail_msg);
    if (made && rank == 0) {
        GError *e = NULL;
        rep->table_written = sweep_table_write(s, &e);
        if (!rep->table_written && ok) {
            g_propagate_error(err, e);
            e = NULL;
            ok = false;
        }
        g_clear_error(&e);
    }
    return ok;
}
