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
 * Multi-seed golden files (golden_file_seeds() > 0, written by an update
 * with seeds) store, per metric, the mean, sample standard deviation and n
 * (the runs that gave a number) over seeds first_seed, first_seed + 1, ...
 * A check runs N seeds of its own and a metric fails when its mean moved
 * past the tolerance AND Welch's t test says the move is significant at the
 * file's per-metric level alpha (default GOLDEN_ALPHA_DEFAULT); see
 * golden_compare_seeds() and analysis/README.md "Regression checks".
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
#include <stdint.h>

#define GOLDEN_ERROR (golden_error_quark())
GQuark golden_error_quark(void);
enum {
    GOLDEN_ERROR_INTERNAL = 1, /* the run failed or a file could not be written */
    GOLDEN_ERROR_INPUT = 2     /* golden file, scenario or overrides are wrong */
};

/* Environment variable that turns the golden ctest tests into the update
 * step (tests/analysis_golden.cmake): SKYSIM_UPDATE_GOLDEN=1 ctest -R golden. */
#define GOLDEN_UPDATE_ENV "SKYSIM_UPDATE_GOLDEN"

/* Per-metric significance level of the multi-seed check (two-sided). With
 * m metrics tested, Bonferroni bounds the chance that an unchanged program
 * fails some metric by m * alpha (2.6 % for 26 metrics). */
#define GOLDEN_ALPHA_DEFAULT 0.001

/* Seeds a multi-seed check runs when the caller does not say. */
#define GOLDEN_SEEDS_DEFAULT 5

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

/* Golden runs of a multi-seed file (seeds first_seed, first_seed + 1, ...);
 * 0 for a single-seed file. */
size_t golden_file_seeds(const GoldenFile *g);
uint64_t golden_file_first_seed(const GoldenFile *g);
/* Per-metric level of a multi-seed file's test. */
double golden_file_alpha(const GoldenFile *g);

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

/* A new multi-seed golden file from n runs of seeds first_seed, ...:
 * headlines[i] (borrowed) is the headline of seed first_seed + i. Every
 * metric that is a number or null in the first run gets its mean, sample
 * standard deviation and n over the runs where it is a number. Tolerances
 * and alpha are kept from old when old is multi-seed; else the defaults of
 * golden_tolerance_default_seeds() and GOLDEN_ALPHA_DEFAULT. Owned. */
GoldenFile *golden_file_from_seeds(const GoldenFile *old, const char *scenario,
                                   const char *const *overrides, uint64_t first_seed,
                                   const cJSON *const *headlines, size_t n);

/* The golden file as text (JSON, keys in a fixed order, numbers with 9
 * significant digits), and written atomically to path. */
char *golden_file_to_text(const GoldenFile *g);
bool golden_file_save(const GoldenFile *g, const char *path, GError **err);

/* Default tolerance of a new metric: fractions (names ending in _rate,
 * _accuracy, _freshness, _share, _fraction) get abs_tol 0.02 and rel_tol 0;
 * everything else (times, counts, bytes) gets rel_tol 0.05 and abs_tol 0. */
void golden_tolerance_default(const char *metric, double *abs_tol, double *rel_tol);

/* Default tolerance of a metric new to a multi-seed file, a floor under
 * which no move fails however significant: fractions (as above, and
 * path_share_*) abs_tol 0.02, rel_tol 0 (so a 0 need not stay exactly 0);
 * everything else rel_tol 0.01 and abs_tol 0. */
void golden_tolerance_default_seeds(const char *metric, double *abs_tol, double *rel_tol);

/* True when metric is a fraction in [0, 1]: a headline key or results.json
 * path the headline table (sim/world/headline.h) says is one. */
bool golden_metric_is_fraction(const char *metric);

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
    /* Multi-seed checks only (golden and now are then means): */
    double golden_sd; /* sample standard deviation of the golden runs; NaN when n < 2 */
    size_t golden_n;  /* golden runs with a number */
    double now_sd;    /* sample standard deviation of the runs now; NaN when n < 2 */
    size_t now_n;     /* runs now with a number */
    double p;         /* two-sided p-value of Welch's test; NaN when not tested */
} GoldenRow;

typedef struct GoldenReport {
    GArray *rows;  /* GoldenRow: the golden file's metrics in its order, then new ones; owned */
    size_t failed; /* rows with GOLDEN_STATUS_FAIL */
    size_t seeds;  /* runs now of a multi-seed check; 0 for a single-seed check */
    size_t golden_seeds; /* runs of the golden file (multi-seed check) */
    double alpha;  /* per-metric level of the multi-seed check */
} GoldenReport;

/* Compares headline (borrowed; a JSON object of numbers and nulls) with g.
 * Fills *rep (initialised here; golden_report_clear). */
void golden_compare(const GoldenFile *g, const cJSON *headline, GoldenReport *rep);

/* Compares n runs now (headlines[i] borrowed, seed i) with multi-seed
 * golden g. Per metric, over the runs with a number: a metric null in
 * every golden run must stay null in every run; one with a number in every
 * golden run fails when no run has one now; otherwise it passes when
 * |mean now - golden mean| <= max(abs_tol, rel_tol * |golden mean|), and
 * beyond that fails when Welch's test gives p < alpha (or when both sides
 * are constant, or a side has fewer than 2 numbers, so no test is
 * possible). Fills *rep (golden_report_clear). */
void golden_compare_seeds(const GoldenFile *g, const cJSON *const *headlines, size_t n,
                          GoldenReport *rep);

/* The report as an aligned text table with a verdict line; owned. */
char *golden_report_table(const GoldenReport *rep);

void golden_report_clear(GoldenReport *rep);

typedef struct GoldenOptions {
    const char *scenario;    /* scenario file, borrowed */
    const char *golden;      /* golden file, borrowed; may not exist when update */
    const char *const *sets; /* extra overrides after the golden ones, NULL-terminated; may be NULL */
    bool update;             /* rewrite the golden file from the run */
    const char *keep_dir;    /* results directory to write and keep; NULL: a temporary one
                                (multi-seed: one subdirectory seed-<seed> per run) */
    size_t seeds;            /* runs of a multi-seed check or update; 0: single-seed, or
                                for a multi-seed golden file GOLDEN_SEEDS_DEFAULT (check)
                                or the file's own count (update) */
    bool progress;           /* a line on stderr after each run of a multi-seed check */
} GoldenOptions;

/* A multi-seed check runs seeds s, s + 1, ... where s is the scenario's
 * seed after the overrides (so --set seed=S moves the whole series); a
 * single-seed golden file checked with seeds > 0 is an input error.
 *
 * Loads the golden file (unless update and it does not exist), runs the
 * scenario with the merged overrides through runner_run(), compares (when
 * there was a golden file) and, on update, saves the new golden file with
 * the merged overrides. Fills *rep (empty rows when there was nothing to
 * compare). Returns false with err set on input or internal errors. */
bool golden_run(const GoldenOptions *o, GoldenReport *rep, GError **err);

#endif
