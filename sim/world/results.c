/* results: the results directory of a run, written atomically; see results.h.
 *
 * Layer: sim/world (GLib, cJSON and POSIX file calls only). How it works:
 * results_open() creates DIR.tmp-XXXXXX with g_mkdtemp_full() next to the
 * final directory DIR (same parent, so the final rename never crosses file
 * systems); every file is written there; results_commit() closes the files,
 * removes an older DIR and renames the temporary directory to DIR. Removal
 * is deliberately shallow: a results directory holds plain files only, so a
 * DIR with a subdirectory is not ours to delete and commit refuses it
 * (checked before anything is removed). DESIGN.md "Errors": a directory
 * named DIR is always complete; an unfinished run leaves only a .tmp-
 * directory, whose name says what it is.
 * Errors: one line naming the path and strerror(errno), domain RESULTS_ERROR.
 */
#include "sim/world/results.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/base/check.h"

G_DEFINE_QUARK(skysim - results - error - quark, results_error)

#define RESULTS_TS_NAME "timeseries.csv"
#define RESULTS_JSON_NAME "results.json"

struct Results {
    char *dir;         /* owned; the final directory, without trailing '/' */
    char *tmp_dir;     /* owned; the temporary directory DIR.tmp-XXXXXX */
    GHashTable *paths; /* owned; file name -> its path in tmp_dir (both owned) */
    FILE *ts;          /* owned; timeseries.csv once its header is written, else NULL */
    size_t ts_columns; /* columns of the time series (count) */
};

/* Sets err to "cannot <what> <path>: <strerror(errno)>" and returns false.
 * Reads errno first, so call it right after the failed call. */
static bool results_fail_errno(GError **err, const char *what, const char *path)
{
    int e = errno;
    g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot %s %s: %s", what, path,
                g_strerror(e));
    return false;
}

/* Creates the parent directory of dir when missing ("." needs nothing). */
static bool results_make_parent(const char *dir, GError **err)
{
    char *parent = g_path_get_dirname(dir);
    bool ok = strcmp(parent, ".") == 0 || g_mkdir_with_parents(parent, 0755) == 0;
    if (!ok) results_fail_errno(err, "create", parent);
    g_free(parent);
    return ok;
}

Results *results_open(const char *dir, GError **err)
{
    char *final = g_strdup(dir);
    size_t len = strlen(final);
    while (len > 1 && final[len - 1] == '/')
        final[--len] = '\0';
    if (len == 0 || strcmp(final, "/") == 0) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO,
                    "cannot create results directory \"%s\": not a directory name", dir);
        g_free(final);
        return NULL;
    }
    if (!results_make_parent(final, err)) {
        g_free(final);
        return NULL;
    }
    char *tmp = g_strdup_printf("%s.tmp-XXXXXX", final);
    if (!g_mkdtemp_full(tmp, 0755)) {
        results_fail_errno(err, "create", tmp);
        g_free(tmp);
        g_free(final);
        return NULL;
    }
    Results *r = g_new0(Results, 1);
    r->dir = final;
    r->tmp_dir = tmp;
    r->paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return r;
}

const char *results_path(Results *r, const char *name)
{
    CHECK(name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0,
          "results file name \"%s\" is not a plain file name", name ? name : "(null)");
    const char *path = g_hash_table_lookup(r->paths, name);
    if (path) return path;
    char *p = g_build_filename(r->tmp_dir, name, NULL);
    g_hash_table_insert(r->paths, g_strdup(name), p);
    return p;
}

/* Writes one CSV field, quoted (RFC 4180) when it holds a comma, a quote or
 * a line break. */
static void results_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

/* Ends a time-series line and reports a write error of any part of it. */
static bool results_ts_end_line(Results *r, GError **err)
{
    fputc('\n', r->ts);
    if (ferror(r->ts)) return results_fail_errno(err, "write", results_path(r, RESULTS_TS_NAME));
    return true;
}

bool results_ts_header(Results *r, const char *const *columns, size_t n, GError **err)
{
    CHECK(!r->ts, "results_ts_header called twice for %s", r->dir);
    CHECK(n >= 1, "a time series needs at least the time column");
    const char *path = results_path(r, RESULTS_TS_NAME);
    r->ts = fopen(path, "w");
    if (!r->ts) return results_fail_errno(err, "create", path);
    r->ts_columns = n;
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', r->ts);
        results_csv_field(r->ts, columns[i]);
    }
    return results_ts_end_line(r, err);
}

bool results_ts_row(Results *r, const double *values, size_t n, GError **err)
{
    CHECK(r->ts, "results_ts_row before results_ts_header for %s", r->dir);
    CHECK(n == r->ts_columns, "time-series row of %zu values for %zu columns", n, r->ts_columns);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', r->ts);
        /* "nan" spelled out: printf may write "-nan" depending on the sign bit. */
        if (isnan(values[i]))
            fputs("nan", r->ts);
        else
            fprintf(r->ts, "%.6g", values[i]);
    }
    return results_ts_end_line(r, err);
}

bool results_write_json(Results *r, const cJSON *root, GError **err)
{
    const char *path = results_path(r, RESULTS_JSON_NAME);
    char *text = cJSON_Print(root);
    CHECK(text, "cJSON_Print failed for %s", path);
    FILE *f = fopen(path, "w");
    bool ok = f != NULL;
    if (!ok) results_fail_errno(err, "create", path);
    if (ok) {
        fputs(text, f);
        fputc('\n', f);
        ok = !ferror(f);
        if (!ok) results_fail_errno(err, "write", path);
        if (fclose(f) != 0 && ok) ok = results_fail_errno(err, "write", path);
    }
    cJSON_free(text);
    return ok;
}

/* Closes the time series, if open. */
static bool results_close_ts(Results *r, GError **err)
{
    if (!r->ts) return true;
    int rc = fclose(r->ts);
    r->ts = NULL;
    if (rc != 0) return results_fail_errno(err, "write", results_path(r, RESULTS_TS_NAME));
    return true;
}

/* Fails when dir holds a subdirectory (not ours to delete). */
static bool results_check_plain(const char *dir, GError **err)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) return results_fail_errno(err, "read", dir);
    bool ok = true;
    const char *name;
    while (ok && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        GStatBuf st;
        if (g_lstat(p, &st) != 0) {
            ok = results_fail_errno(err, "read", p);
        } else if (S_ISDIR(st.st_mode)) {
            g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO,
                        "cannot remove %s: it contains the directory %s", dir, p);
            ok = false;
        }
        g_free(p);
    }
    g_dir_close(d);
    return ok;
}

/* Removes dir and the plain files in it; refuses (before removing anything)
 * when it holds a subdirectory. */
static bool results_remove_dir(const char *dir, GError **err)
{
    if (!results_check_plain(dir, err)) return false;
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) return results_fail_errno(err, "read", dir);
    bool ok = true;
    const char *name;
    while (ok && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_unlink(p) != 0) ok = results_fail_errno(err, "remove", p);
        g_free(p);
    }
    g_dir_close(d);
    if (ok && g_rmdir(dir) != 0) ok = results_fail_errno(err, "remove", dir);
    return ok;
}

/* Moves the finished temporary directory to r->dir, removing an older one. */
static bool results_replace(Results *r, GError **err)
{
    GStatBuf st;
    if (g_lstat(r->dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO,
                        "cannot replace %s: it exists and is not a directory", r->dir);
            return false;
        }
        if (!results_remove_dir(r->dir, err)) return false;
    } else if (errno != ENOENT) {
        return results_fail_errno(err, "read", r->dir);
    }
    if (g_rename(r->tmp_dir, r->dir) != 0) {
        int e = errno;
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot rename %s to %s: %s", r->tmp_dir,
                    r->dir, g_strerror(e));
        return false;
    }
    return true;
}

static void results_free(Results *r)
{
    if (r->ts) fclose(r->ts);
    g_hash_table_destroy(r->paths);
    g_free(r->tmp_dir);
    g_free(r->dir);
    g_free(r);
}

bool results_commit(Results *r, GError **err)
{
    GError *e = NULL;
    bool ok = results_close_ts(r, &e) && results_replace(r, &e);
    if (!ok) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "%s; the results are left in %s",
                    e->message, r->tmp_dir);
        g_error_free(e);
    }
    results_free(r);
    return ok;
}

void results_abort(Results *r)
{
    if (!r) return;
    GError *e = NULL;
    results_close_ts(r, NULL);
    if (!results_remove_dir(r->tmp_dir, &e)) {
        g_warning("results: %s", e->message);
        g_error_free(e);
    }
    results_free(r);
}

const char *results_dir(const Results *r)
{
    return r->dir;
}
