/* sweep: parameter sweeps with repetitions and confidence intervals
 * (DESIGN.md "Scale beyond one machine").
 *
 * Layer: analysis. A sweep file (format: analysis/README.md, "Sweeps")
 * names a base scenario, fixed overrides, one or more parameters each with
 * a list or a range of values, crossed or zipped into points, and a number
 * of repetitions. sweep_load() validates the file and every point's
 * scenario before anything runs. sweep_run() runs each (point, repetition)
 * through runner_run() (sim/world/runner.h) into <out>/runs/p<i>-r<j>/, in
 * forked worker processes over the local cores and, when built with Open
 * MPI and started by mpirun, over the ranks; then writes <out>/table.csv
 * and <out>/table.json with per point and metric n, mean, sd, the 95 %
 * confidence half-width (stats.h), min and max.
 *
 * Points: parameters combine "cross" (every combination; the first
 * parameter varies slowest) or "zip" (the i-th values of every parameter,
 * all lists of the same length). Seeds: repetition r of point p runs with
 * seed (base + splitmix64(p * 2^32 + r)) mod 2^53, where base is the seed
 * of the base scenario after the fixed overrides: deterministic, distinct
 * for distinct (p, r) in practice, and independent of the other points and
 * of the number of repetitions, so adding repetitions keeps the old ones.
 *
 * Resume: a run whose results.json exists, is not marked interrupted and
 * holds exactly the scenario the run would use (same point values, base,
 * overrides and seed) is not redone. One sweep at a time per output
 * directory (a lock file), and workers die with their sweep, so what a
 * killed sweep leaves is only partial runs, which the next one removes.
 *
 * Errors: input errors in the sweep file are one line, e.g.
 *   sweeps/x.json: $.parameters[0].range.step: expected a number > 0; found 0
 * in the SWEEP_ERROR domain (code SWEEP_ERROR_INPUT); a run that fails or
 * a file that cannot be written is SWEEP_ERROR_INTERNAL.
 */
#ifndef SKYSIM_SWEEP_H
#define SKYSIM_SWEEP_H

#include <cjson/cJSON.h>
#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWEEP_ERROR (sweep_error_quark())
GQuark sweep_error_quark(void);
enum {
    SWEEP_ERROR_INPUT = 2,   /* the sweep file, its scenario or a metric path is wrong */
    SWEEP_ERROR_INTERNAL = 1 /* a run failed or a file could not be written */
};

typedef struct Sweep Sweep;

typedef struct SweepOptions {
    unsigned jobs;                    /* worker processes per rank, >= 1 */
    bool progress;                    /* progress line on stderr */
    volatile sig_atomic_t *stop_flag; /* set by a signal handler: start no new run; NULL: none */
} SweepOptions;

typedef struct SweepReport {
    size_t runs;        /* runs of the sweep (points x repetitions) */
    size_t reused;      /* runs found complete and not redone (this rank) */
    size_t executed;    /* runs executed by this process (this rank) */
    size_t failed;      /* runs that failed (this rank) */
    bool interrupted;   /* stopped by the stop flag before every run was done */
    bool table_written; /* this rank wrote the table */
    bool table_partial; /* ... as table-partial.csv and .json: some run is not done */
} SweepReport;

/* Reads and validates the sweep file at path (borrowed), loads the base
 * scenario (relative to the sweep file's directory) with the fixed
 * overrides and checks every point's scenario. Returns an owned Sweep
 * (sweep_free) or NULL with err set. */
Sweep *sweep_load(const char *path, GError **err);

/* As sweep_load() on text in memory; origin names it in messages, base_dir
 * (NULL: ".") is where "base" is resolved. All borrowed. */
Sweep *sweep_load_text(const char *text, const char *origin, const char *base_dir, GError **err);

/* Frees s; NULL is a no-op. */
void sweep_free(Sweep *s);

size_t sweep_points(const Sweep *s);      /* number of points, >= 1 */
size_t sweep_repetitions(const Sweep *s); /* repetitions per point, >= 1 */
size_t sweep_parameters(const Sweep *s);  /* number of swept parameters, may be 0 */
const char *sweep_name(const Sweep *s);   /* borrowed */
const char *sweep_out_dir(const Sweep *s);                  /* borrowed */
const char *sweep_parameter_path(const Sweep *s, size_t k); /* borrowed */

/* Value of parameter k at point p; borrowed from s. */
const cJSON *sweep_point_value(const Sweep *s, size_t p, size_t k);

/* The master seed of repetition r of point p (see above). */
uint64_t sweep_seed(const Sweep *s, size_t p, size_t r);

/* The derivation behind sweep_seed(), for a given base seed. */
uint64_t sweep_seed_derive(uint64_t base, size_t p, size_t r);

/* Replaces the output directory (copied); for the --out flag. */
void sweep_out_dir_set(Sweep *s, const char *dir);

/* Results directory of run (p, r), newly allocated: "<out>/runs/p<p>-r<r>". */
char *sweep_run_dir(const Sweep *s, size_t p, size_t r);

/* Takes the lock <out>/simsweep.lock (rank 0; another live sweep on the
 * same directory: SWEEP_ERROR_INPUT naming its pid; a stale one is taken
 * over with a note on stderr), removes what killed runs left, runs every
 * run not already done (this rank's share under MPI; until a first run is
 * done and the metric paths checked against it, one at a time), then
 * writes the table (rank 0, after every rank finished) and releases the
 * lock. Workers die with the process. *rep is filled in any case. False
 * with err set when a run failed, the table could not be written or a
 * metric path matched nothing (SWEEP_ERROR_INPUT; then no table). A sweep
 * with runs not done (interrupted: true with rep->interrupted set; failed
 * runs: false) writes table-partial.csv and .json instead of table.csv and
 * .json. Under MPI the caller must have called MPI_Init. */
bool sweep_run(Sweep *s, const SweepOptions *o, SweepReport *rep, GError **err);

/* Writes table.csv and table.json from the run directories when every run
 * is done; otherwise table-partial.csv and table-partial.json (runs not
 * done count as missing; "complete": false) and removes a table.csv and
 * table.json of an earlier state. *partial: which. Called by sweep_run();
 * public for tests and for rebuilding a table. */
bool sweep_table_write(Sweep *s, bool *partial, GError **err);

/* The JSON Schema (draft-07) of sweep files, made from the key tables the
 * sweep reader validates with (analysis/sweeps/schema.json is this text;
 * simsweep --print-schema writes it). Owned (g_free). */
char *sweep_schema_text(void);

#endif
