/* results: the results directory of a run, written atomically.
 *
 * Layer: sim/world. The contract (README.md, "Results"):
 * - A run writes only into a directory it creates or one that holds the
 *   marker file RESULTS_MARKER_NAME, which every results directory gets
 *   (an empty directory is accepted too: it holds nothing to lose).
 *   Anything else at DIR (a plain file, a link, a user's directory) is
 *   refused by results_open(), before the run starts.
 * - A run writes into DIR.tmp-XXXXXX next to DIR; results_commit() renames
 *   an older DIR aside, the new one into place, then removes the old one,
 *   so at every instant one complete result exists and a directory that
 *   looks complete is complete (DESIGN.md "Errors"). results_abort()
 *   removes the temporary directory and any parent results_open() created.
 * Files: results.json (written by results_write_json), timeseries.csv
 * (rows added as the run goes), and whatever else the run puts there
 * (pcap, trace) through results_path().
 */
#ifndef SKYSIM_RESULTS_H
#define SKYSIM_RESULTS_H

#include <cjson/cJSON.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Results Results;

#define RESULTS_ERROR (results_error_quark())
GQuark results_error_quark(void);
enum {
    RESULTS_ERROR_IO = 1,     /* a file system call failed */
    RESULTS_ERROR_REFUSED = 2 /* the directory is not ours to write (an input error) */
};

/* The marker file of a results directory. */
#define RESULTS_MARKER_NAME ".skysim-results"

/* Checks that the final directory dir may be written (see above), then
 * creates the temporary directory for it with the marker (its parent is
 * created if missing). dir: copied. Returns NULL with err set on failure:
 * RESULTS_ERROR_REFUSED ("refusing to write into DIR: ...") when dir is
 * not ours, RESULTS_ERROR_IO ("cannot create ...: reason") otherwise. */
Results *results_open(const char *dir, GError **err);

/* Path of a file inside the temporary directory (owned by the Results,
 * valid until commit/abort). name: a plain file name. */
const char *results_path(Results *r, const char *name);

/* Time series: results_ts_header() once with the column names (copied),
 * then results_ts_row() with as many values; the first column is the time
 * in seconds. Values are written with %.6g, so identical runs give
 * identical files; NaN (no value) is written as an empty field. */
bool results_ts_header(Results *r, const char *const *columns, size_t n, GError **err);
bool results_ts_row(Results *r, const double *values, size_t n, GError **err);

/* Writes root as results.json (pretty-printed, keys in insertion order,
 * numbers as cJSON prints them). root: borrowed. */
bool results_write_json(Results *r, const cJSON *root, GError **err);

/* Closes the files and renames the temporary directory to the final one,
 * replacing an older result (checked again: still ours) by renaming it
 * aside first and removing it, subdirectories included, last; frees r.
 * False with err set on failure (the older result is then in place, the
 * temporary directory left for inspection and named in the message). */
bool results_commit(Results *r, GError **err);

/* Removes the temporary directory and frees r. NULL is a no-op. */
void results_abort(Results *r);

const char *results_dir(const Results *r); /* final directory, borrowed */

/* The names a run writes itself, for messages. */
#define RESULTS_OWN_NAMES                                                                          \
    "results.json, timeseries.csv, samples.csv, nodes.csv, plots, " RESULTS_MARKER_NAME         \
    ", envtrace-*.log"

/* Whether name may name a file the user asks for in the results directory
 * (outputs.pcap, outputs.trace): a plain file name (not empty, no '/', not
 * "." or "..", no control character) that is none of RESULTS_OWN_NAMES. */
bool results_name_is_free(const char *name);

/* The node map every run writes (world_nodes_write). */
#define RESULTS_NODES_NAME "nodes.csv"

/* The rule of results_label_is_safe(), for messages. */
#define RESULTS_LABEL_RULE "1 to 100 of the characters A-Z a-z 0-9 . _ -, not starting with \".\""

/* Whether label may become part of a directory name (the scenario name
 * in results/NAME-SEED, the sweep name in results/sweeps/NAME): see
 * RESULTS_LABEL_RULE, so it can neither leave the folder it is put in nor
 * carry a line break or a terminal escape. */
bool results_label_is_safe(const char *label);

/* A safe copy of label (owned): every character outside the set, and a
 * leading '.', becomes '_', and it is cut to 100 characters ("" becomes
 * "_"). For default names taken from a file name, which are not refused. */
char *results_label_make_safe(const char *label);

/* Removes dir and everything under it (links are removed, not followed)
 * when it is a results directory: it holds the marker or is empty; any
 * other directory is refused (RESULTS_ERROR_REFUSED) and left alone. For
 * the partial runs a killed sweep leaves. dir: borrowed. */
bool results_remove(const char *dir, GError **err);

/* For tests: results_commit() calls hook(ctx) after an older result was
 * renamed aside and before the new one is renamed into place. */
void results_set_commit_hook(Results *r, void (*hook)(void *ctx), void *ctx);

#endif
