/* sweep_int: the Sweep layout and the helpers shared by the files of the
 * sweep module (sweep.c: file and points; sweep_exec.c: running;
 * sweep_table.c: the table). Not for use outside analysis/sweep*.c.
 */
#ifndef SKYSIM_SWEEP_INT_H
#define SKYSIM_SWEEP_INT_H

#include "analysis/sweep.h"
#include "sim/world/scenario.h"

struct Sweep {
    char *origin;       /* the sweep file as named by the caller, for messages */
    char *name;         /* sweep name; default: file name without .json */
    char *description;  /* free text; "" when absent */
    char *base_written; /* "base" as written in the file */
    char *base_path;    /* base scenario path resolved against the sweep file's directory */
    char **sets;        /* fixed overrides "path=value", NULL-terminated */
    size_t n_params;    /* swept parameters (count) */
    char **param_paths; /* n_params scenario paths, e.g. "supernodes.count" */
    bool zip;           /* true: "zip"; false: "cross" */
    size_t n_points;    /* points (count), >= 1 */
    cJSON *points;      /* array of n_points arrays of n_params values */
    size_t reps;        /* repetitions per point, >= 1 */
    char **metrics;     /* metric paths into results.json, NULL-terminated; NULL: default */
    char *out;          /* output directory, relative to the current directory */
    uint64_t base_seed; /* seed of the base scenario after the fixed overrides */
    Scenario **scn;     /* n_points scenarios: base + fixed overrides + point values */
};

/* A one-line input error "origin: path: message". */
void sweep__fail(GError **err, const char *origin, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Sets the seed of run (p, r) on the point's scenario and validates it;
 * returns the scenario (borrowed from s, valid until the next call for
 * point p) or NULL with err set. */
const Scenario *sweep__scenario(Sweep *s, size_t p, size_t r, GError **err);

/* The results.json of run (p, r) when the run is complete (not
 * interrupted) and ran exactly the scenario sweep__scenario() gives;
 * otherwise NULL. Owned by the caller. */
cJSON *sweep__run_results(Sweep *s, size_t p, size_t r);

/* Checks every metric path of the sweep file against root, the
 * results.json of the first run done (file names it): false with err set
 * (SWEEP_ERROR_INPUT, the path and a did-you-mean) for one that resolves
 * to nothing. True when the sweep names no metrics. */
bool sweep__metrics_check(const Sweep *s, const cJSON *root, const char *file, GError **err);

/* The text of a point value as --set wants it ("5", "\"dedicated\""); owned. */
char *sweep__value_text(const cJSON *v);

#endif
