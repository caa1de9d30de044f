/* results: the results directory of a run, written atomically; see results.h.
 *
 * Layer: sim/world (GLib, cJSON and POSIX file calls only). How it works:
 * results_open() checks that the final directory DIR is ours to replace
 * (missing, empty, or marked with RESULTS_MARKER_NAME by an earlier run)
 * before anything runs, then creates DIR.tmp-XXXXXX with g_mkdtemp_full()
 * next to it (same parent, so the final rename never crosses file systems)
 * and puts the marker in first; every file is written there.
 * results_commit() closes the files, checks DIR again, renames an older DIR
 * aside to DIR.old-XXXXXX, renames the temporary directory to DIR and only
 * then removes the old one, with whatever it holds (plots/ of simplot).
 * DESIGN.md "Errors": a directory named DIR is always complete; an
 * unfinished run leaves only a .tmp- directory, a crash during commit at
 * worst a complete .old- one, whose names say what they are.
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
#define RESULTS_MARKER_TEXT                                                                    \
    "This directory holds the results of one skysim run. simrun and simsweep replace it\n"     \
    "as a whole when asked to write here again; they refuse directories without this file.\n"

static void results_free(Results *r);

struct Results {
    char *dir;         /* owned; the final directory, without trailing '/' */
    char *tmp_dir;     /* owned; the temporary directory DIR.tmp-XXXXXX */
    GHashTable *paths; /* owned; file name -> its path in tmp_dir (both owned) */
    FILE *ts;          /* owned; timeseries.csv once its header is written, else NULL */
    size_t ts_columns; /* columns of the time series (count) */
    char *made;        /* owned; topmost parent directory results_open() created, or NULL */
    void (*hook)(void *ctx); /* test hook of results_commit(), or NULL */
    void *hook_ctx;    /* its argument */
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

/* Creates the parent directory of dir when missing ("." needs nothing).
 * *made: the topmost directory this call created (owned), or NULL, so that
 * an aborted run can remove what it created. */
static bool results_make_parent(const char *dir, char **made, GError **err)
{
    *made = NULL;
    char *parent = g_path_get_dirname(dir);
    for (char *p = g_strdup(parent);;) {
        if (g_file_test(p, G_FILE_TEST_EXISTS)) {
            g_free(p);
            break;
        }
        char *up = g_path_get_dirname(p);
        g_free(*made);
        *made = p;
        if (strcmp(up, p) == 0) {
            g_free(up);
            break;
        }
        p = up;
    }
    bool ok = strcmp(parent, ".") == 0 || g_mkdir_with_parents(parent, 0755) == 0;
    if (!ok) {
        results_fail_errno(err, "create", parent);
        g_clear_pointer(made, g_free);
    }
    g_free(parent);
    return ok;
}

/* Whether dir is empty or holds the marker of a skysim result. */
static bool results_is_ours(const char *dir, GError **err)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) return results_fail_errno(err, "read", dir);
    const char *name;
    bool empty = true, marked = false;
    while ((name = g_dir_read_name(d))) {
        empty = false;
        marked = marked || strcmp(name, RESULTS_MARKER_NAME) == 0;
    }
    g_dir_close(d);
    if (empty || marked) return true;
    g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_REFUSED,
                "refusing to write into %s: it exists and is not a skysim results directory (no "
                RESULTS_MARKER_NAME " file); choose another directory or remove it",
                dir);
    return false;
}

/* The contract of the final directory (results.h): it may be missing, an
 * empty directory or one with the marker of an earlier result; anything
 * else (a plain file, a link, a directory with other files) is refused.
 * *exists: whether dir exists. */
static bool results_may_replace(const char *dir, bool *exists, GError **err)
{
    GStatBuf st;
    *exists = g_lstat(dir, &st) == 0;
    if (!*exists) return errno == ENOENT || errno == ENOTDIR ? true : results_fail_errno(err, "read", dir);
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_REFUSED,
                    "refusing to write into %s: it exists and is not a directory", dir);
        return false;
    }
    return results_is_ours(dir, err);
}

/* Removes the directories results_make_parent() created, deepest first,
 * as long as they are empty. */
static void results_remove_made(const Results *r)
{
    if (!r->made) return;
    char *p = g_path_get_dirname(r->dir);
    while (g_rmdir(p) == 0 && strcmp(p, r->made) != 0) {
        char *up = g_path_get_dirname(p);
        g_free(p);
        p = up;
    }
    g_free(p);
}

Results *results_open(const char *dir, GError **err)
{
    char *final = g_strdup(dir);
    size_t len = strlen(final);
    while (len > 1 && final[len - 1] == '/')
        final[--len] = '\0';
    bool exists;
    if (len == 0 || strcmp(final, "/") == 0) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_REFUSED,
                    "cannot create results directory \"%s\": not a directory name", dir);
        g_free(final);
        return NULL;
    }
    char *made = NULL;
    if (!results_may_replace(final, &exists, err) || !results_make_parent(final, &made, err)) {
        g_free(final);
        return NULL;
    }
    char *tmp = g_strdup_printf("%s.tmp-XXXXXX", final);
    Results *r = g_new0(Results, 1);
    r->dir = final;
    r->made = made;
    r->paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!g_mkdtemp_full(tmp, 0755)) {
        results_fail_errno(err, "create", tmp);
        g_free(tmp);
        results_remove_made(r);
        results_free(r);
        return NULL;
    }
    r->tmp_dir = tmp;
    /* The marker goes in first: the directory is ours from its creation. */
    GError *e = NULL;
    if (!g_file_set_contents(results_path(r, RESULTS_MARKER_NAME), RESULTS_MARKER_TEXT, -1, &e)) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "%s", e->message);
        g_error_free(e);
        results_abort(r);
        return NULL;
    }
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
        /* No value (e.g. host-cache freshness with no client online): an
         * empty field, what CSV readers (R, pandas, gnuplot) take as missing. */
        if (!isnan(values[i])) fprintf(r->ts, "%.6g", values[i]);
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

/* Removes path and everything under it without following symbolic links
 * (a link is removed, not its target). Used only on directories that are
 * ours: our temporary directory, or a previous result that carries the
 * marker. Recursion depth is the depth of the tree (plots/ and the like). */
static bool results_remove_tree(const char *path, GError **err)
{
    GStatBuf st;
    if (g_lstat(path, &st) != 0) return errno == ENOENT ? true : results_fail_errno(err, "read", path);
    if (!S_ISDIR(st.st_mode)) {
        if (g_unlink(path) != 0) return results_fail_errno(err, "remove", path);
        return true;
    }
    GDir *d = g_dir_open(path, 0, NULL);
    if (!d) return results_fail_errno(err, "read", path);
    bool ok = true;
    const char *name;
    while (ok && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(path, name, NULL);
        ok = results_remove_tree(p, err);
        g_free(p);
    }
    g_dir_close(d);
    if (ok && g_rmdir(path) != 0) ok = results_fail_errno(err, "remove", path);
    return ok;
}

/* Moves the finished temporary directory to r->dir. An older result there
 * is renamed aside to DIR.old-XXXXXX first, the new one renamed into place,
 * and only then is the old one removed: at every instant a complete result
 * exists under DIR or DIR.old-XXXXXX. The older directory is checked again
 * here (it may have changed during the run). */
static bool results_replace(Results *r, GError **err)
{
    bool exists;
    if (!results_may_replace(r->dir, &exists, err)) return false;
    char *old = NULL;
    if (exists) {
        old = g_strdup_printf("%s.old-XXXXXX", r->dir);
        /* rename() replaces an empty directory, so the unique name from
         * mkdtemp can receive the old result. */
        if (!g_mkdtemp_full(old, 0755) || g_rename(r->dir, old) != 0) {
            results_fail_errno(err, "move aside", r->dir);
            g_rmdir(old);
            g_free(old);
            return false;
        }
    }
    if (r->hook) r->hook(r->hook_ctx);
    if (g_rename(r->tmp_dir, r->dir) != 0) {
        int e = errno;
        if (old) g_rename(old, r->dir); /* put the previous result back */
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot rename %s to %s: %s", r->tmp_dir,
                    r->dir, g_strerror(e));
        g_free(old);
        return false;
    }
    GError *e = NULL;
    if (old && !results_remove_tree(old, &e)) {
        g_warning("results: the new results are in %s, but the previous ones are left in %s: %s",
                  r->dir, old, e->message);
        g_error_free(e);
    }
    g_free(old);
    return true;
}

static void results_free(Results *r)
{
    if (r->ts) fclose(r->ts);
    g_hash_table_destroy(r->paths);
    g_free(r->tmp_dir);
    g_free(r->dir);
    g_free(r->made);
    g_free(r);
}

bool results_commit(Results *r, GError **err)
{
    GError *e = NULL;
    bool ok = results_close_ts(r, &e) && results_replace(r, &e);
    if (!ok) {
        g_set_error(err, RESULTS_ERROR, e->code, "%s; the results are left in %s", e->message,
                    r->tmp_dir);
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
    if (r->tmp_dir && !results_remove_tree(r->tmp_dir, &e)) {
        g_warning("results: %s", e->message);
        g_error_free(e);
    }
    results_remove_made(r);
    results_free(r);
}

const char *results_dir(const Results *r)
{
    return r->dir;
}

bool results_name_is_free(const char *name)
{
    static const char *const own[] = {RESULTS_JSON_NAME, RESULTS_TS_NAME, "samples.csv",
                                      RESULTS_NODES_NAME, "plots", RESULTS_MARKER_NAME, NULL};
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return false;
    for (size_t i = 0; own[i]; i++)
        if (strcmp(name, own[i]) == 0) return false;
    return !(g_str_has_prefix(name, "envtrace-") && g_str_has_suffix(name, ".log"));
}

#define RESULTS_LABEL_MAX 100 /* characters of a label */

/* Whether c may appear in a label. */
static bool results_label_char(char c)
{
    return g_ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

bool results_label_is_safe(const char *label)
{
    size_t n = strlen(label);
    if (n == 0 || n > RESULTS_LABEL_MAX || label[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!results_label_char(label[i])) return false;
    return true;
}

char *results_label_make_safe(const char *label)
{
    char *safe = *label ? g_strndup(label, RESULTS_LABEL_MAX) : g_strdup("_");
    for (char *c = safe; *c; c++)
        if (!results_label_char(*c) || (c == safe && *c == '.')) *c = '_';
    return safe;
}

bool results_remove(const char *dir, GError **err)
{
    return results_is_ours(dir, err) && results_remove_tree(dir, err);
}

void results_set_commit_hook(Results *r, void (*hook)(void *ctx), void *ctx)
{
    r->hook = hook;
    r->hook_ctx = ctx;
}
