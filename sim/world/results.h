/* results: the results directory of a run, written atomically.
 *
 * Layer: sim/world. A run writes into DIR.tmp-XXXXXX next to the final
 * directory; results_commit() renames it to DIR when everything is written
 * (replacing an older DIR), so a directory that looks complete is complete
 * (DESIGN.md "Errors"). results_abort() removes the temporary directory.
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
enum { RESULTS_ERROR_IO = 1 }; /* the one error code: a file system call failed */

/* Creates the temporary directory for final directory dir (its parent is
 * created if missing). dir: copied. Returns NULL with err set ("cannot
 * create ...: reason") on failure. */
Results *results_open(const char *dir, GError **err);

/* Path of a file inside the temporary directory (owned by the Results,
 * valid until commit/abort). name: a plain file name. */
const char *results_path(Results *r, const char *name);

/* Time series: results_ts_header() once with the column names (copied),
 * then results_ts_row() with as many values; the first column is the time
 * in seconds. Values are written with %.6g, so identical runs give
 * identical files. */
bool results_ts_header(Results *r, const char *const *columns, size_t n, GError **err);
bool results_ts_row(Results *r, const double *values, size_t n, GError **err);

/* Writes root as results.json (pretty-printed, keys in insertion order,
 * numbers as cJSON prints them). root: borrowed. */
bool results_write_json(Results *r, const cJSON *root, GError **err);

/* Closes the files and renames the temporary directory to the final one;
 * frees r. False with err set on failure (the temporary directory is then
 * left for inspection and named in the message). */
bool results_commit(Results *r, GError **err);

/* Removes the temporary directory and frees r. NULL is a no-op. */
void results_abort(Results *r);

const char *results_dir(const Results *r); /* final directory, borrowed */

#endif
