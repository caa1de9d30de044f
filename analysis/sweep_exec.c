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
 * complete (results.h), so a killed run leaves only a .tmp- directory.
 * Rank 0 first takes <out>/simsweep.lock (one sweep per directory: two
 * used to delete each other's temporary runs), then removes those. A
 * worker gets SIGKILL when its parent dies (PR_SET_PDEATHSIG), so no
 * orphan writes on after a killed sweep. Metric paths are checked against
 * the first done run before more than one run goes at a time. Stopping (SIGINT/SIGTERM sets the
 * caller's stop flag): no new run starts, running children get SIGTERM,
 * stop at an event boundary and write results marked interrupted, which a
 * later sweep redoes.
 */
#include "analysis/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifdef SKYSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "analysis/sweep_int.h"
#include "protocol/base/check.h"
#include "sim/world/results.h"
#include "sim/world/runner.h"

#define SWP_CHILD_INTERRUPTED 3 /* child exit status: the run was stopped */
#define SWP_POLL_US 50000       /* sleep between polls of the children, microseconds */
#define SWP_LOCK_NAME "simsweep.lock" /* in the output directory */

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

/* What killed runs leave in runs/ (the caller holds the lock, so no live
 * sweep writes there, and workers die with their parent): a run killed
 * while it ran leaves pI-rJ.tmp-XXXXXX, partial, which is removed; one
 * killed while it replaced an earlier result leaves that result, complete,
 * as pI-rJ.old-XXXXXX, which is put back when pI-rJ is missing (and then
 * adopted like any done run) or removed. Only results directories (the
 * marker, or empty) are removed; anything else is left alone. */
static void swp_clean_runs(const char *runs)
{
    GDir *d = g_dir_open(runs, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        const char *tmp = strstr(name, ".tmp-"), *old = strstr(name, ".old-");
        if (!tmp && !old) continue;
        char *path = g_build_filename(runs, name, NULL);
        char *final = g_strndup(path, strlen(path) - strlen(tmp ? tmp : old));
        bool adopted = old && !g_file_test(final, G_FILE_TEST_EXISTS) && g_rename(path, final) == 0;
        GError *e = NULL;
        if (!adopted && !results_remove(path, &e)) {
            fprintf(stderr, "sweep: left %s: %s\n", path, e->message);
            g_error_free(e);
        }
        g_free(final);
        g_free(path);
    }
    if (d) g_dir_close(d);
}

/* ------------------------------------------------------------------------ */
/* The lock */

/* Takes <out>/simsweep.lock: an flock() held as long as this process (and
 * the workers that inherit it) lives, and the holder's pid as its text for
 * messages. A lock file whose lock nobody holds is stale: its process is
 * gone, and it is taken over with a note. Returns the open descriptor, or
 * -1 with err set (SWEEP_ERROR_INPUT when another sweep holds it). */
static int swp_lock_take(const char *out, GError **err)
{
    char *path = g_build_filename(out, SWP_LOCK_NAME, NULL);
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) break;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        g_strchomp(pid);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INPUT,
                        "%s is in use by another simsweep (pid %s, lock %s); wait for it to end or stop it",
                        out, *pid ? pid : "unknown", path);
            close(fd);
            g_free(path);
            return -1;
        }
        /* The holder may have removed the file between our open and flock:
         * then the lock is on a name nobody else sees; try again. */
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
            close(fd);
            fd = -1;
            continue;
        }
        if (*pid)
            fprintf(stderr, "sweep: note: taking over the lock %s of pid %s, which is no longer running\n",
                    path, pid);
        char mine[32];
        int len = g_snprintf(mine, sizeof mine, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, mine, (size_t)len, 0) != len) {
            close(fd);
            fd = -1;
            break;
        }
    }
    if (fd < 0)
        g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INTERNAL, "cannot take the lock %s: %s", path,
                    g_strerror(errno));
    g_free(path);
    return fd;
}

/* Removes the lock file, then releases the lock. */
static void swp_lock_release(const char *out, int fd)
{
    if (fd < 0) return;
    char *path = g_build_filename(out, SWP_LOCK_NAME, NULL);
    g_unlink(path);
    close(fd);
    g_free(path);
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
    bool checked;          /* the metric paths were checked against a done run */
    bool bad_metric;       /* ... and one was wrong: no table */
    int fail_code;         /* SWEEP_ERROR_* of the first failed run; 0: none */
    char *fail_msg;        /* its message, owned; NULL: none */
} SwpExec;

/* The child: runs (p, r), whose scenario the parent prepared, and leaves.
 * It dies with its parent (SIGKILL when the parent goes, however it goes),
 * so a killed sweep leaves no worker writing into its directory, only a
 * partial .tmp- run that the next sweep removes. */
G_GNUC_NORETURN static void swp_child(Sweep *s, size_t p, size_t r, const sigset_t *old,
                                      pid_t parent)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) _exit(RUNNER_INTERNAL); /* the parent died before prctl */
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
    if (st != RUNNER_OK && st != RUNNER_STOPPED)
        fprintf(stderr, "sweep: run p%zu-r%zu: %s\n", p, r, err->message);
    int code = st == RUNNER_STOPPED                 ? SWP_CHILD_INTERRUPTED
               : st != RUNNER_OK                   ? (int)st
               : res.interrupted                   ? SWP_CHILD_INTERRUPTED
                                                   : 0;
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
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) swp_child(ex->s, p, r, &old, parent);
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

/* Checks the sweep's metric paths against the results of done run (p, r);
 * on a bad path records the failure and starts no more runs. */
static void swp_check_metrics(SwpExec *ex, size_t p, size_t r)
{
    cJSON *root = sweep__run_results(ex->s, p, r);
    if (!root) return;
    ex->checked = true;
    char *dir = sweep_run_dir(ex->s, p, r);
    char *file = g_build_filename(dir, "results.json", NULL);
    GError *e = NULL;
    if (!sweep__metrics_check(ex->s, root, file, &e)) {
        g_free(ex->fail_msg); /* this is the error to report, before any run's */
        ex->fail_msg = g_strdup(e->message);
        ex->fail_code = SWEEP_ERROR_INPUT;
        ex->bad_metric = true;
        g_error_free(e);
        ex->next = ex->n_todo;
    }
    g_free(file);
    g_free(dir);
    cJSON_Delete(root);
}

/* Accounts for the end of the child in slot i. */
static void swp_reap(SwpExec *ex, unsigned i, int status)
{
    SwpSlot *sl = &ex->slots[i];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) {
        ex->rep->executed++;
        ex->busy_s += swp_wall() - sl->t0;
        if (!ex->checked) swp_check_metrics(ex, sl->p, sl->r);
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
        /* Until the metric paths are checked against a finished run, one
         * run at a time, so a typo costs one run, not the sweep. */
        for (unsigned i = 0; !stop && i < ex->o->jobs && ex->next < ex->n_todo; i++)
            if (ex->slots[i].pid == 0 && (ex->checked || ex->running == 0)) swp_launch(ex, i);
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
        if (swp_run_done(s, k % s->n_points, k / s->n_points)) {
            ex->rep->reused++;
            if (!ex->checked) swp_check_metrics(ex, k % s->n_points, k / s->n_points);
        } else {
            ex->todo[ex->n_todo++] = k;
        }
    }
    if (ex->bad_metric) ex->n_todo = 0; /* run nothing */
}

/* Rank 0's value of *v on every rank. */
static void swp_mpi_share(int *v, int size)
{
#ifdef SKYSIM_HAVE_MPI
    if (size > 1) MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD);
#else
    (void)v;
    (void)size;
#endif
}

/* Rank 0: creates <out>/runs, takes the lock, cleans what killed runs
 * left. Returns the lock descriptor (-1 on other ranks) or -2 with err set. */
static int swp_prepare(Sweep *s, int rank, const char *runs, GError **err)
{
    if (rank != 0) return -1;
    if (g_mkdir_with_parents(runs, 0755) != 0) {
        g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INTERNAL, "cannot create %s: %s", runs,
                    g_strerror(errno));
        return -2;
    }
    int fd = swp_lock_take(s->out, err);
    if (fd < 0) return -2;
    swp_clean_runs(runs);
    return fd;
}

bool sweep_run(Sweep *s, const SweepOptions *o, SweepReport *rep, GError **err)
{
    CHECK(o->jobs >= 1, "jobs=%u", o->jobs);
    *rep = (SweepReport){.runs = s->n_points * s->reps};
    int rank, size;
    swp_mpi_world(&rank, &size);
    char *runs = g_build_filename(s->out, "runs", NULL);
    GError *prep_err = NULL;
    int lock = swp_prepare(s, rank, runs, &prep_err);
    int ready = lock != -2; /* the other ranks go on only if rank 0 could */
    swp_mpi_share(&ready, size);
    g_free(runs);
    if (!ready) {
        if (prep_err)
            g_propagate_error(err, prep_err);
        else
            g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INTERNAL, "rank 0 could not prepare %s", s->out);
        return false;
    }
    SwpExec ex = {.s = s, .o = o, .rep = rep, .checked = s->metrics == NULL};
    swp_plan(&ex, rank, size);
    swp_draw(&ex, true);
    swp_execute(&ex);
    swp_mpi_barrier(size);
    g_free(ex.todo);
    bool ok = ex.fail_msg == NULL;
    if (!ok) g_set_error(err, SWEEP_ERROR, ex.fail_code, "%s", ex.fail_msg);
    g_free(ex.fail_msg);
    /* A bad metric path is an input error: no table at all. Otherwise the
     * table, named partial unless every run is done (failed runs too). */
    if (rank == 0 && !ex.bad_metric) {
        GError *e = NULL;
        rep->table_written = sweep_table_write(s, &rep->table_partial, &e);
        if (!rep->table_written && ok) {
            g_propagate_error(err, e);
            e = NULL;
            ok = false;
        }
        g_clear_error(&e);
    }
    swp_lock_release(s->out, lock);
    return ok;
}
