/* simsweep: the command-line front end of parameter sweeps (local cores or Open MPI).
 *
 *   simsweep SWEEP.json [--jobs N] [--out DIR] [--list] [--quiet]
 *   mpirun -np N simsweep SWEEP.json
 *
 * Exit status: 0 done (also when interrupted: table-partial.json then says
 * "complete": false and a second call resumes), 2 bad input (sweep file,
 * its scenario, a metric path, flags), 1 internal error (a run failed, a
 * file could not be written). The work is sweep_load() and sweep_run()
 * (analysis/sweep.h); this file is the command line, the signals, MPI's
 * start and end, and the summary. MPI is initialised only when the process
 * was started by an MPI launcher (its environment says so), so a plain
 * `simsweep` never pays for MPI start-up. A build without MPI started as
 * several ranks refuses with exit 2 instead of running the sweep once per
 * rank into one directory.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SIMSWEEP_MPI: this front end starts MPI. SIMSWEEP_WITHOUT_MPI compiles
 * the start-up out of an MPI build (the tests' simsweep_nompi), which then
 * behaves as a build without MPI. */
#if defined(SKYSIM_HAVE_MPI) && !defined(SIMSWEEP_WITHOUT_MPI)
#define SIMSWEEP_MPI 1
#include <mpi.h>
#endif

#include "sim/buildinfo/buildinfo.h"
#include "sim/world/jsonin.h"
#include "analysis/sweep.h"

typedef struct SimsweepOpts {
    gint jobs;      /* --jobs, 0: default */
    gchar *out;     /* --out, owned */
    gboolean list;  /* --list */
    gboolean quiet; /* --quiet */
} SimsweepOpts;

/* Set by the SIGINT/SIGTERM handler; the sweep starts no run once set. */
static volatile sig_atomic_t simsweep_stop_requested;

static void simsweep_on_signal(int sig)
{
    (void)sig;
    simsweep_stop_requested = 1;
}

#ifndef SIMSWEEP_MPI
/* The number of ranks and this process's rank as an MPI launcher announces
 * them in the environment (Open MPI: OMPI_COMM_WORLD_*, MPICH and others:
 * PMI_*); 1 and 0 when no launcher started us or the value is not a number. */
static void simsweep_launcher_world(int *rank, int *size)
{
    const char *sz = g_getenv("OMPI_COMM_WORLD_SIZE");
    const char *rk = g_getenv("OMPI_COMM_WORLD_RANK");
    if (!sz) {
        sz = g_getenv("PMI_SIZE");
        rk = g_getenv("PMI_RANK");
    }
    guint64 v = 1;
    *size = sz && g_ascii_string_to_unsigned(sz, 10, 1, G_MAXINT, &v, NULL) ? (int)v : 1;
    v = 0;
    *rank = rk && g_ascii_string_to_unsigned(rk, 10, 0, G_MAXINT, &v, NULL) ? (int)v : 0;
}
#endif

/* Starts MPI when an MPI launcher started us; returns the rank and size
 * (0 and 1 otherwise). Without MPI, a launcher's world of more than one
 * rank is refused (false, message printed by rank 0): every rank would run
 * the whole sweep into the same directory. */
static bool simsweep_mpi_start(int *argc, char ***argv, int *rank, int *size)
{
    *rank = 0;
    *size = 1;
#ifdef SIMSWEEP_MPI
    if (g_getenv("OMPI_COMM_WORLD_SIZE") || g_getenv("PMI_SIZE") || g_getenv("PMIX_RANK")) {
        MPI_Init(argc, argv);
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, size);
    }
#else
    (void)argc;
    (void)argv;
    int lrank, lsize;
    simsweep_launcher_world(&lrank, &lsize);
    if (lsize > 1) {
        if (lrank == 0)
            fprintf(stderr,
                    "simsweep: started by an MPI launcher as %d ranks, but this simsweep was built "
                    "without MPI (cmake printed \"MPI support: OFF\"), so every rank would run "
                    "the whole sweep into the same directory; install the Debian packages "
                    "'openmpi-bin' and 'libopenmpi-dev' and build again, or run simsweep without "
                    "mpirun (--jobs N uses the local cores)\n",
                    lsize);
        return false;
    }
#endif
    return true;
}

static void simsweep_mpi_end(void)
{
#ifdef SIMSWEEP_MPI
    int init = 0;
    MPI_Initialized(&init);
    if (init) MPI_Finalize();
#endif
}

/* --list: one line per point with its values and the state of its runs. */
static void simsweep_list(Sweep *s)
{
    printf("sweep %s: %zu points x %zu repetitions, results in %s\n", sweep_name(s),
           sweep_points(s), sweep_repetitions(s), sweep_out_dir(s));
    for (size_t p = 0; p < sweep_points(s); p++) {
        printf("  p%-4zu", p);
        for (size_t k = 0; k < sweep_parameters(s); k++) {
            char *v = cJSON_PrintUnformatted(sweep_point_value(s, p, k));
            printf(" %s=%s", sweep_parameter_path(s, k), v);
            cJSON_free(v);
        }
        printf("   seeds"); /* every one: a run can be redone by hand from its seed */
        for (size_t r = 0; r < sweep_repetitions(s); r++)
            printf(" %" G_GUINT64_FORMAT, sweep_seed(s, p, r));
        printf("\n");
    }
}

/* The summary; under MPI the counts are rank 0's share. */
static void simsweep_summary(const Sweep *s, const SweepReport *r, int size)
{
    printf("sweep %s: %zu points x %zu repetitions = %zu runs; %zu run now, %zu reused%s%s\n",
           sweep_name(s), sweep_points(s), sweep_repetitions(s), r->runs, r->executed, r->reused,
           size > 1 ? " by rank 0 (the other ranks ran the rest)" : "",
           r->interrupted ? "; INTERRUPTED (run again to resume)" : "");
    const char *t = r->table_partial ? "table-partial" : "table";
    if (r->table_written)
        printf("  table  %s/%s.csv\n         %s/%s.json%s\n", sweep_out_dir(s), t, sweep_out_dir(s), t,
               r->table_partial ? "   (PARTIAL: some runs are not done)" : "");
}

static int simsweep_run(const char *path, const SimsweepOpts *o, int rank, int size)
{
    GError *err = NULL;
    Sweep *s = sweep_load(path, &err);
    if (!s) {
        if (rank == 0) jsonin_eprint("simsweep: ", err->message, "");
        g_error_free(err);
        return 2;
    }
    if (o->out) sweep_out_dir_set(s, o->out);
    if (o->list) {
        if (rank == 0) simsweep_list(s);
        sweep_free(s);
        return 0;
    }
    unsigned jobs = o->jobs > 0 ? (unsigned)o->jobs : size > 1 ? 1 : g_get_num_processors();
    SweepOptions so = {.jobs = jobs, .progress = !o->quiet && rank == 0 && isatty(STDERR_FILENO),
                       .stop_flag = &simsweep_stop_requested};
    struct sigaction sa = {.sa_handler = simsweep_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    SweepReport rep;
    bool ok = sweep_run(s, &so, &rep, &err);
    if (!o->quiet && rank == 0) simsweep_summary(s, &rep, size);
    int rc = 0;
    if (!ok) {
        jsonin_eprint("simsweep: ", err->message, "");
        rc = err->code == SWEEP_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
    }
    sweep_free(s);
    return rc;
}

int main(int argc, char **argv)
{
    SimsweepOpts o = {0};
    int rank, size;
    if (!simsweep_mpi_start(&argc, &argv, &rank, &size)) return 2;
    gboolean version = FALSE, print_schema = FALSE;
    GOptionEntry entries[] = {
        {"jobs", 'j', 0, G_OPTION_ARG_INT, &o.jobs,
         "Runs at a time (worker processes) per process; default: the number of cores, or 1 "
         "per rank under mpirun", "N"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out,
         "Output directory (default: the sweep file's \"out\", else results/sweeps/NAME)", "DIR"},
        {"list", 'l', 0, G_OPTION_ARG_NONE, &o.list, "List the points and seeds; run nothing", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, "No progress line and no summary", NULL},
        {"print-schema", 0, 0, G_OPTION_ARG_NONE, &print_schema,
         "Print the JSON Schema of sweep files (analysis/sweeps/schema.json), made from the tables "
         "the sweep reader validates with, then exit", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("SWEEP.json - run a parameter sweep of skysim");
    g_option_context_set_summary(ctx,
        "Runs a base scenario at every point of a parameter sweep, several times with\n"
        "distinct derived seeds, in parallel over the local cores (and over MPI ranks\n"
        "under mpirun), and writes OUT/table.csv and OUT/table.json: per point and\n"
        "metric the mean, standard deviation and 95% confidence interval (Student t).\n"
        "Every run keeps its own results in OUT/runs/pI-rJ/. Runs already done are\n"
        "not redone, so an interrupted sweep resumes and added repetitions reuse the\n"
        "old ones. The sweep file format is in analysis/README.md.\n\n"
        "Exit status: 0 done (or interrupted), 2 bad input, 1 internal error.");
    g_option_context_set_description(ctx,
        "Examples:\n"
        "  simsweep analysis/sweeps/supernode_density.json\n"
        "  simsweep analysis/sweeps/supernode_density.json --jobs 4 --out results/try\n"
        "  mpirun -np 8 --hostfile hosts simsweep analysis/sweeps/supernode_density.json\n");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        if (rank == 0) jsonin_eprint("simsweep: ", err->message, " (see simsweep --help)");
        g_error_free(err);
    } else if (version) {
        if (rank == 0) buildinfo_print(stdout, "simsweep");
        rc = 0;
    } else if (print_schema && argc != 1) {
        if (rank == 0)
            fprintf(stderr, "simsweep: --print-schema: expected no sweep file; found %d arguments "
                            "(see simsweep --help)\n", argc - 1);
    } else if (print_schema) {
        char *schema = sweep_schema_text();
        if (rank == 0) fputs(schema, stdout);
        g_free(schema);
        rc = 0;
    } else if (argc != 2) {
        if (rank == 0)
            fprintf(stderr, "simsweep: expected one sweep file; found %d arguments (see simsweep --help)\n",
                    argc - 1);
    } else if (o.jobs < 0) {
        if (rank == 0) fprintf(stderr, "simsweep: --jobs: expected a number >= 1; found %d\n", o.jobs);
    } else {
        rc = simsweep_run(argv[1], &o, rank, size);
    }
    g_option_context_free(ctx);
    g_free(o.out);
    simsweep_mpi_end();
    return rc;
}
