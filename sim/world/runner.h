/* runner: one scenario run into one results directory, as a library call.
 *
 * Layer: sim/world. simrun (one run) and the analysis tools (sweeps,
 * regression checks) run scenarios through this same call, never by
 * scraping simrun's output (DESIGN.md "analysis/"). The run writes
 * results.json, timeseries.csv, samples.csv (every observation of every
 * sample metric, for CDFs) and the optional capture, trace and env trace
 * (envtrace-<id>.log) into a temporary directory renamed when complete
 * (results.h).
 */
#ifndef SKYSIM_RUNNER_H
#define SKYSIM_RUNNER_H

#include <cjson/cJSON.h>
#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/kernel/evq.h"
#include "sim/world/scenario.h"

#define RUNNER_VERSION "0.1.0"

typedef struct RunnerOptions {
    const char *out_dir;              /* final results directory, borrowed */
    EvqKind queue;                    /* event queue structure */
    bool progress;                    /* progress line on stderr */
    volatile sig_atomic_t *stop_flag; /* polled between events; NULL: none */
    TimeNs raise_sigint_at;           /* test hook: raise SIGINT at this virtual time; < 0: never */
    bool env_trace;                   /* log node env_trace_node's env calls and events into
                                         envtrace-<id>.log in the results directory (envtrace.h) */
    uint32_t env_trace_node;          /* the traced node id (peer index), with env_trace */
    uint64_t max_memory;              /* refuse a run whose estimate exceeds this many bytes;
                                         0: the machine's physical memory */
} RunnerOptions;

/* The memory a run of spec needs, estimated before anything is built:
 * RUNNER_MEM_BASE plus RUNNER_MEM_PER_NODE for every client and dedicated
 * supernode. The figures are measured peaks (churn, 2,000 and 20,000
 * clients: 46 and 144 MB, about 5.4 KB a client) with a margin for worlds
 * where more clients are logged in at once (docs/benchmarks.md). Bytes. */
#define RUNNER_MEM_BASE ((uint64_t)48 << 20)
#define RUNNER_MEM_PER_NODE ((uint64_t)12 << 10)
uint64_t runner_memory_estimate(const ScenarioSpec *spec);
/* The machine's physical memory in bytes (0 when it cannot be read). */
uint64_t runner_machine_memory(void);

typedef enum RunnerStatus {
    RUNNER_OK = 0,        /* results written (possibly interrupted: see the result) */
    RUNNER_INTERNAL = 1,  /* could not write the results */
    RUNNER_BAD_INPUT = 2, /* the scenario could not be built (a file that does not parse...) */
    RUNNER_STOPPED = 3,   /* *stop_flag was set while the world was built: nothing run,
                             nothing written (err says so) */
} RunnerStatus;

typedef struct RunnerResult {
    bool interrupted;   /* stopped before the end */
    cJSON *headline;    /* headline numbers as in results.json; owned */
    uint64_t clients;   /* client users */
    uint64_t online;    /* clients online (started) at the end */
    uint64_t logged_in; /* clients logged in at the end */
    uint64_t events;    /* events executed */
    double wall_s;      /* wall time of the run */
} RunnerResult;

/* Runs scn (validated; borrowed) with o; fills *res on RUNNER_OK.
 * Otherwise err says why. */
RunnerStatus runner_run(const Scenario *scn, const RunnerOptions *o, RunnerResult *res,
                        GError **err);

/* Frees what a result owns. */
void runner_result_clear(RunnerResult *res);

/* A headline number, or NaN when absent or null. */
double runner_headline_get(const cJSON *headline, const char *key);

#endif
