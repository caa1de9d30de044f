/* test_results: the atomic results directory.
 *
 * Each test works in its own directory from g_dir_make_tmp() and removes it:
 * files appear in the final directory only after commit, the temporary
 * directory disappears, abort leaves nothing (not even the parents it
 * made), an earlier result is replaced as a whole (plots/ included) by
 * renaming it aside before the new one moves in, a directory that is not a
 * result is refused at open and at commit, and a bad parent path is named
 * in the error.
 */
#include "sim/world/results.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "t_assert.h"

/* Removes path and everything under it (test clean-up only). */
static void rm_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(path, name, NULL);
            rm_tree(p);
            g_free(p);
        }
        g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static char *make_base(void)
{
    GError *err = NULL;
    char *base = g_dir_make_tmp("skysim-results-XXXXXX", &err);
    CU_ASSERT_FATAL(base != NULL);
    return base;
}

/* Orders the strings of a GPtrArray (it passes pointers to elements). */
static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names in dir, sorted and joined with spaces ("" when empty or missing). */
static char *list_dir(const char *dir)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(name));
    if (d) g_dir_close(d);
    g_ptr_array_sort(names, cmp_str);
    g_ptr_array_add(names, NULL);
    char *s = g_strjoinv(" ", (char **)names->pdata);
    g_ptr_array_free(names, TRUE);
    return s;
}

static char *read_file(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL);
    char *text = NULL;
    g_file_get_contents(p, &text, NULL, NULL);
    g_free(p);
    return text;
}

/* Writes a small time series and results.json into r. */
static void write_some(Results *r, int marker)
{
    GError *err = NULL;
    const char *cols[] = {"t_s", "online"};
    T_TRUE(results_ts_header(r, cols, 2, &err));
    double row1[] = {0.0, 1.0}, row2[] = {1.5, 2.0 / 3.0};
    T_TRUE(results_ts_row(r, row1, 2, &err));
    T_TRUE(results_ts_row(r, row2, 2, &err));
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "marker", marker);
    T_TRUE(results_write_json(r, root, &err));
    cJSON_Delete(root);
    T_TRUE(err == NULL);
}

static void test_results_commit_moves_files(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "out", "run", NULL); /* "out" does not exist yet */
    char *parent = g_build_filename(base, "out", NULL);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    T_STR_EQ(results_dir(r), dir);
    char *tmp_prefix = g_strconcat(dir, ".tmp-", NULL);
    T_TRUE(g_str_has_prefix(results_path(r, "results.json"), tmp_prefix));
    T_TRUE(results_path(r, "x.pcap") == results_path(r, "x.pcap"));
    write_some(r, 7);
    T_FALSE(g_file_test(dir, G_FILE_TEST_EXISTS));
    T_TRUE(results_commit(r, &err));
    T_TRUE(err == NULL);
    char *names = list_dir(parent);
    T_STR_EQ(names, "run"); /* the temporary directory is gone */
    char *files = list_dir(dir);
    T_STR_EQ(files, ".skysim-results results.json timeseries.csv");
    char *csv = read_file(dir, "timeseries.csv");
    T_STR_EQ(csv, "t_s,online\n0,1\n1.5,0.666667\n");
    char *json = read_file(dir, "results.json");
    T_STR_EQ(json, "{\n\t\"marker\":\t7\n}\n");
    g_free(json);
    g_free(csv);
    g_free(files);
    g_free(names);
    g_free(tmp_prefix);
    rm_tree(base);
    g_free(parent);
    g_free(dir);
    g_free(base);
}

static void test_results_abort_leaves_nothing(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "run", NULL);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    write_some(r, 1);
    g_file_set_contents(results_path(r, "trace.txt"), "x", -1, NULL);
    char *before = list_dir(base);
    T_TRUE(g_str_has_prefix(before, "run.tmp-"));
    results_abort(r);
    results_abort(NULL);
    char *after = list_dir(base);
    T_STR_EQ(after, "");
    g_free(after);
    g_free(before);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

/* Makes dir an earlier result: the marker, results.json "old" and a
 * plots/ subdirectory with a file, as simplot leaves it. */
static void make_old_result(const char *dir)
{
    char *plots = g_build_filename(dir, "plots", NULL);
    g_mkdir_with_parents(plots, 0755);
    char *png = g_build_filename(plots, "login.png", NULL), *json = g_build_filename(dir, "results.json", NULL);
    char *marker = g_build_filename(dir, RESULTS_MARKER_NAME, NULL);
    g_file_set_contents(png, "png", -1, NULL);
    g_file_set_contents(json, "old", -1, NULL);
    g_file_set_contents(marker, "", -1, NULL);
    g_free(marker);
    g_free(json);
    g_free(png);
    g_free(plots);
}

/* An earlier result (marker, plots/ subdirectory) is replaced as a whole. */
static void test_results_replaces_existing(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "run", NULL);
    make_old_result(dir);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    write_some(r, 2);
    T_TRUE(results_commit(r, &err));
    char *files = list_dir(dir);
    T_STR_EQ(files, ".skysim-results results.json timeseries.csv");
    char *json = read_file(dir, "results.json");
    T_STR_EQ(json, "{\n\t\"marker\":\t2\n}\n");
    char *names = list_dir(base);
    T_STR_EQ(names, "run"); /* no .tmp- or .old- directory left */
    g_free(names);
    g_free(json);
    g_free(files);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

/* Directory listing and results.json of the directories in base, taken
 * from the commit hook: the moment between the two renames. */
typedef struct CommitView {
    const char *base; /* the parent of the final directory */
    char *names;      /* names in base, owned */
    char *old_json;   /* results.json of the .old- directory, owned */
    char *new_json;   /* results.json of the .tmp- directory, owned */
} CommitView;

static void commit_hook(void *ctx)
{
    CommitView *v = ctx;
    v->names = list_dir(v->base);
    char **names = g_strsplit(v->names, " ", -1);
    for (char **n = names; *n; n++) {
        char *d = g_build_filename(v->base, *n, NULL);
        if (strstr(*n, ".old-")) v->old_json = read_file(d, "results.json");
        if (strstr(*n, ".tmp-")) v->new_json = read_file(d, "results.json");
        g_free(d);
    }
    g_strfreev(names);
}

/* Between the renames the old result is whole under DIR.old-XXXXXX (not
 * yet deleted) and the new one whole under DIR.tmp-XXXXXX. */
static void test_results_old_moved_aside_before_new_moved_in(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "run", NULL);
    make_old_result(dir);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    write_some(r, 5);
    CommitView v = {.base = base};
    results_set_commit_hook(r, commit_hook, &v);
    T_TRUE(results_commit(r, &err));
    CU_ASSERT_FATAL(v.names != NULL);
    T_TRUE(g_str_has_prefix(v.names, "run.old-"));
    T_STR_CONTAINS(v.names, " run.tmp-");
    T_STR_EQ(v.old_json ? v.old_json : "(none)", "old");
    T_STR_EQ(v.new_json ? v.new_json : "(none)", "{\n\t\"marker\":\t5\n}\n");
    char *after = list_dir(base);
    T_STR_EQ(after, "run");
    g_free(after);
    g_free(v.names);
    g_free(v.old_json);
    g_free(v.new_json);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

/* A directory that is not a skysim result (a user's files, a plain file)
 * is refused at open, before anything is written, and left as it was. */
static void test_results_refuses_foreign(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "thesis", NULL);
    char *tex = g_build_filename(dir, "thesis.tex", NULL);
    g_mkdir_with_parents(dir, 0755);
    g_file_set_contents(tex, "\\documentclass", -1, NULL);
    GError *err = NULL;
    T_TRUE(results_open(dir, &err) == NULL);
    CU_ASSERT_FATAL(err != NULL);
    T_TRUE(g_error_matches(err, RESULTS_ERROR, RESULTS_ERROR_REFUSED));
    T_STR_CONTAINS(err->message, dir);
    T_STR_CONTAINS(err->message, "not a skysim results directory");
    g_clear_error(&err);
    T_TRUE(results_open(tex, &err) == NULL);
    CU_ASSERT_FATAL(err != NULL);
    T_TRUE(g_error_matches(err, RESULTS_ERROR, RESULTS_ERROR_REFUSED));
    T_STR_CONTAINS(err->message, "not a directory");
    g_clear_error(&err);
    char *names = list_dir(base), *files = list_dir(dir), *text = read_file(dir, "thesis.tex");
    T_STR_EQ(names, "thesis");
    T_STR_EQ(files, "thesis.tex");
    T_STR_EQ(text, "\\documentclass");
    g_free(text);
    g_free(files);
    g_free(names);
    rm_tree(base);
    g_free(tex);
    g_free(dir);
    g_free(base);
}

/* A directory turned foreign during the run is refused at commit too; the
 * user's file stays and the new results are left in the .tmp- directory. */
static void test_results_commit_rechecks(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "run", NULL);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    write_some(r, 3);
    char *tmp = g_path_get_dirname(results_path(r, "results.json"));
    g_mkdir(dir, 0755);
    char *notes = g_build_filename(dir, "notes.txt", NULL);
    g_file_set_contents(notes, "mine", -1, NULL);
    T_FALSE(results_commit(r, &err));
    CU_ASSERT_FATAL(err != NULL);
    T_STR_CONTAINS(err->message, "not a skysim results directory");
    T_STR_CONTAINS(err->message, tmp);
    char *files = list_dir(dir);
    T_STR_EQ(files, "notes.txt");
    T_TRUE(g_file_test(tmp, G_FILE_TEST_IS_DIR)); /* left for inspection */
    g_free(files);
    g_free(notes);
    g_free(tmp);
    g_clear_error(&err);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

/* Parents created by results_open() go again when the run is aborted. */
static void test_results_abort_removes_created_parents(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "results", "deep", "run", NULL);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    results_abort(r);
    char *names = list_dir(base);
    T_STR_EQ(names, "");
    g_free(names);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

static void test_results_bad_parent_named(void)
{
    char *base = make_base();
    char *file = g_build_filename(base, "file", NULL);
    g_file_set_contents(file, "not a directory", -1, NULL);
    char *dir = g_build_filename(file, "sub", "run", NULL);
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    T_TRUE(r == NULL);
    CU_ASSERT_FATAL(err != NULL);
    T_TRUE(g_error_matches(err, RESULTS_ERROR, RESULTS_ERROR_IO));
    char *expected = g_strdup_printf("cannot create %s/sub: %s", file, g_strerror(ENOTDIR));
    T_STR_EQ(err->message, expected);
    g_free(expected);
    g_clear_error(&err);
    rm_tree(base);
    g_free(dir);
    g_free(file);
    g_free(base);
}

static void test_results_csv_quoting_and_nan(void)
{
    char *base = make_base();
    char *dir = g_build_filename(base, "run/", NULL); /* trailing '/' is ignored */
    GError *err = NULL;
    Results *r = results_open(dir, &err);
    CU_ASSERT_FATAL(r != NULL);
    const char *cols[] = {"t", "a,b", "say \"hi\""};
    T_TRUE(results_ts_header(r, cols, 3, &err));
    double row[] = {1e7, NAN, -0.25};
    T_TRUE(results_ts_row(r, row, 3, &err));
    T_TRUE(results_commit(r, &err));
    char *final = g_build_filename(base, "run", NULL);
    char *csv = read_file(final, "timeseries.csv");
    T_STR_EQ(csv, "t,\"a,b\",\"say \"\"hi\"\"\"\n1e+07,,-0.25\n");
    g_free(csv);
    g_free(final);
    rm_tree(base);
    g_free(dir);
    g_free(base);
}

T_SUITE_MAIN("results", {"test_results_commit_moves_files", test_results_commit_moves_files},
             {"test_results_abort_leaves_nothing", test_results_abort_leaves_nothing},
             {"test_results_replaces_existing", test_results_replaces_existing},
             {"test_results_old_moved_aside_before_new_moved_in",
              test_results_old_moved_aside_before_new_moved_in},
             {"test_results_refuses_foreign", test_results_refuses_foreign},
             {"test_results_commit_rechecks", test_results_commit_rechecks},
             {"test_results_abort_removes_created_parents", test_results_abort_removes_created_parents},
             {"test_results_bad_parent_named", test_results_bad_parent_named},
             {"test_results_csv_quoting_and_nan", test_results_csv_quoting_and_nan})
