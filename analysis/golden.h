/* golden: regression check of a run's headline metrics against a golden file
 * (STYLE.md §8 "Golden results").
 *
 * Layer: analysis. A golden file (results/golden/<scenario>.json, format in
 * analysis/README.md "Regression checks") names its scenario, the overrides
 * the golden run was made with (a small, fast version of the scenario) and,
 * per headline metric of results.json, the golden value and a tolerance:
 * the run passes a metric when |now - golden| <= max(abs_tol, rel_tol *
 * |golden|), both values rounded to 9 significant digits as results.json
 * writes them; null (a metric the run could not compute) matches only null.
 * A metric of the golden file the run lacks fails; a headline metric the
 * golden file lacks is listed as new and not checked.
 *
 * golden_run() does the whole job through runner_run() (a temporary results
 * directory, removed afterwards unless kept), the same library call simrun
 * makes. Updating rewrites the golden file from the run, keeping the
 * tolerances already there; new metrics get golden_tolerance_default().
 *
 * Errors: a bad golden file, scenario or override is GOLDEN_ERROR_INPUT, one
 * line naming the file and JSON path, e.g.
 *   results/golden/x.json: $.metrics.login_time_mean_s.rel_tol: expected a number >= 0; found -1
 * a run or a file write that fails is GOLDEN_ERROR_INTERNAL. A metric
 * outside its tolerance is not an error: it is in the report.
 */
#ifndef SKYSIM_GOLDEN_H
#define SKYSIM_GOLDEN_H

#include <cjson/cJSON.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define GOLDEN_ERROR (golden_error_quark())
GQuark golden_error_quark(void);
enum {
    GOLDEN_ERROR_INTERNAL = 1, /* the run failed or a file could not be written */
    GOLDEN_ERROR_INPUT = 2     /* golden file, scenario or overrides are wrong */
};

/* Environment variable that turns the golden ctest tests into the update
 * step (tests/analysis_golden.cmake): SKYSIM_UPDATE_GOLDEN=1 ctest -R golden. */
#define GOLDEN_UPDATE_ENV "SKYSIM_UPDATE_GOLDEN"

typedef struct GoldenFile GoldenFile;

/* Reads and validates a golden file. path: borrowed. Returns an owned
 * GoldenFile (golden_file_free) or NULL with err set. */
GoldenFile *golden_file_load(const char *path, GError **err);

/* As golden_file_load() on text in memory; origin names it in messages. */
GoldenFile *golden_file_parse(const char *text, const char *origin, GError **err);

/* Frees g; NULL is a no-op. */
void golden_file_free(GoldenFile *g);

/* The scenario name the golden file is for; borrowed. */
const char *golden_file_scenario(const GoldenFile *g);

/* The overrides of the golden run ("path=value"), NULL-terminated; borrowed. */
const char *const *golden_file_overrides(const GoldenFile *g);

/* Number of metrics in g, and the tolerance of one (false when absent). */
size_t golden_file_count(const GoldenFile *g);
bool golden_file_tolerance(const GoldenFile *g, const char *metric, double *abs_tol,
                            double *rel_tol);

/* A new golden file from a run: scenario name, overrides (NULL-terminated,
 * may be NULL) and every number or null of headline (all borrowed). A
 * metric also in old (may be NULL) keeps its tolerance; others get the
 * default. Returns an owned GoldenFile. */
GoldenFile *golden_file_from_run(const GoldenFile *old, const char *scenario,
                                   const char *const *overrides, const cJSON *headline);

/* The golden file as text (JSON, keys in a fixed order, numbers with 9
 * significant digits), and written atomically to path. */
char *golden_file_to_text(const GoldenFile *g);
bool golden_file_save(const GoldenFile *g, const char *path, GError **err);

/* Default tolerance of a new metric: fractions (names ending in _rate,
 * _accuracy, _freshness, _share, _fraction) get abs_tol 0.02 and rel_tol 0;
 * everything else (times, counts, bytes) gets rel_tol 0.05 and abs_tol 0. */
void golden_tolerance_default(const char *metric, double *abs_tol, double *rel_tol);

/* The overrides of golden g (may be NULL) followed by sets (NULL-terminated,
 * may be NULL); a set whose path ("path" of "path=value") is already there
 * replaces it in place. Returns an owned NULL-terminated array (g_strfreev). */
char **golden_overrides_merge(const GoldenFile *g, const char *const *sets);

typedef enum GoldenStatus {
    GOLDEN_STATUS_PASS,    /* within tolerance */
    GOLDEN_STATUS_FAIL,    /* moved past the tolerance, became or stopped being null, or missing */
    GOLDEN_STATUS_NEW      /* in the run, not in the golden file: not checked */
} GoldenStatus;

typedef struct GoldenRow {
    char *metric;       /* headline key; owned */
    double golden;      /* golden value; NaN: null or not in the golden file */
    double now;         /* value of the run; NaN: null or missing */
    bool golden_null;   /* the golden value is null */
    bool now_missing;   /* the run has no such headline key */
    double abs_tol;     /* tolerance, absolute (unit of the metric) */
    double rel_tol;     /* tolerance, fraction of |golden| */
    double allowed;     /* max(abs_tol, rel_tol * |golden|) (unit of the metric) */
    GoldenStatus status; /* verdict */
} GoldenRow;

typedef struct GoldenReport {
    GArray *rows;  /* GoldenRow: the golden file's metrics in its order, then new ones; owned */
    size_t failed; /* rows with GOLDEN_STATUS_FAIL */
} GoldenReport;

/* Compares headline (borrowed; a JSON object of numbers and nulls) with g.
 * Fills *rep (initialised here; golden_report_clear). */
void golden_compare(const GoldenFile *g, const cJSON *headline, GoldenReport *rep);

/* The report as an aligned text table with a verdict line; owned. */
char *golden_report_table(const GoldenReport *rep);

void golden_report_clear(GoldenReport *rep);

typedef struct GoldenOptions {
    const char *scenario;    /* scenario file, borrowed */
    const char *golden;      /* golden file, borrowed; may not exist when update */
    const char *const *sets; /* extra overrides after the golden ones, NULL-terminated; may be NULL */
    bool update;             /* rewrite the golden file from the run */
    const char *keep_dir;    /* results directory to write and keep; NULL: a temporary one */
} GoldenOptions;

/* Loads the golden file (unless update and it does not exist), runs the
 * scenario with the merged overrides through runner_run(), compares (when
 * there was a golden file) and, on update, saves the new golden file with
 * the merged overrides. Fills *rep (empty rows when there was nothing to
 * compare). Returns false with err set on input or internal errors. */
bool golden_run(const GoldenOptions *o, GoldenReport *rep, GError **err);

#endif
