/* test_golden: suite of analysis/golden.c (golden-file regression checks).
 *
 * Golden-file parsing with its error messages, the comparison with
 * absolute and relative tolerances and nulls on hand-made golden/headline
 * pairs, updating (tolerances kept, defaults for new metrics, overrides
 * merged), and the two behavioural cases of the issue on a real scenario:
 * an unchanged run passes, a changed timer (protocol.keepalive) fails with
 * the table, through the library and through the simcheck front end.
 */
#include "t_assert.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "analysis/golden.h"

/* ------------------------------------------------------------- helpers */

static char *t_tmpdir(void)
{
    char *d = g_dir_make_tmp("test_check-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void t_rmtree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        char *p = g_build_filename(path, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) t_rmtree(p);
        else g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(path);
}

/* The row of metric in rep, or NULL. */
static const GoldenRow *t_row(const GoldenReport *rep, const char *metric)
{
    for (guint i = 0; rep->rows && i < rep->rows->len; i++) {
        const GoldenRow *r = &g_array_index(rep->rows, GoldenRow, i);
        if (strcmp(r->metric, metric) == 0) return r;
    }
    return NULL;
}

static GoldenStatus t_status(const GoldenReport *rep, const char *metric)
{
    const GoldenRow *r = t_row(rep, metric);
    return r ? r->status : (GoldenStatus)-1;
}

static char *t_scenario(const char *name)
{
    const char *src = g_getenv("SKYSIM_SOURCE_DIR");
    char *file = g_strconcat(name, ".json", NULL);
    char *p = g_build_filename(src ? src : "..", "scenarios", file, NULL);
    g_free(file);
    return p;
}

/* ---------------------------------------------------------- golden file */

static void test_golden_golden_parse(void)
{
    GError *err = NULL;
    GoldenFile *g = golden_file_parse(
        "{\"scenario\": \"baseline\", \"comment\": \"x\", \"overrides\": [\"population.clients=100\","
        " \"duration=5min\"], \"metrics\": {\"login_success_rate\": {\"value\": 1, \"abs_tol\": 0.02},"
        " \"login_time_mean_s\": {\"value\": 0.47, \"rel_tol\": 0.05}, \"failover_time_mean_s\":"
        " {\"value\": null}}}",
        "g.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    T_STR_EQ(golden_file_scenario(g), "baseline");
    T_EQ_I64(golden_file_count(g), 3);
    T_STR_EQ(golden_file_overrides(g)[0], "population.clients=100");
    T_STR_EQ(golden_file_overrides(g)[1], "duration=5min");
    T_TRUE(golden_file_overrides(g)[2] == NULL);
    double a, r;
    T_TRUE(golden_file_tolerance(g, "login_time_mean_s", &a, &r));
    T_NEAR(a, 0, 0);
    T_NEAR(r, 0.05, 0);
    T_TRUE(golden_file_tolerance(g, "failover_time_mean_s", &a, &r)); /* absent tolerances: 0 */
    T_NEAR(a + r, 0, 0);
    T_FALSE(golden_file_tolerance(g, "nope", &a, &r));
    golden_file_free(g);
}

static void t_expect_golden_error(const char *text, const char *want)
{
    GError *err = NULL;
    GoldenFile *g = golden_file_parse(text, "g.json", &err);
    T_TRUE(g == NULL);
    T_TRUE(err && err->domain == GOLDEN_ERROR && err->code == GOLDEN_ERROR_INPUT);
    T_STR_CONTAINS(err ? err->message : NULL, want);
    g_clear_error(&err);
    golden_file_free(g);
}

static void test_golden_golden_errors(void)
{
    t_expect_golden_error("{\"scenario\": \"b\", \"metrics\": {\"login_time_mean_s\": {\"value\": 1, "
                          "\"rel_tol\": -1}}}",
                          "g.json: $.metrics.login_time_mean_s.rel_tol: expected a number >= 0; found -1");
    t_expect_golden_error("{\"metrics\": {}}", "g.json: $.scenario: expected the scenario name (a string); "
                                               "found nothing");
    t_expect_golden_error("{\"scenario\": \"b\", \"metrics\": {\"x\": {\"value\": 1, \"tolerance\": 2}}}",
                          "g.json: $.metrics.x: expected keys among \"value\", \"abs_tol\", \"rel_tol\"; "
                          "found \"tolerance\"");
    t_expect_golden_error("{\"scenario\": \"b\", \"metrics\": {\"x\": {\"value\": \"1\"}}}",
                          "g.json: $.metrics.x.value: expected a number or null; found \"1\"");
    t_expect_golden_error("{\"scenario\": \"b\", \"metrics\": {\"x\": 3}}",
                          "g.json: $.metrics.x: expected an object");
    t_expect_golden_error("{\"scenario\": \"b\", \"overrides\": [\"a=1\", 3], \"metrics\": {}}",
                          "g.json: $.overrides[1]: expected a string \"path=value\"; found 3");
    t_expect_golden_error("{\"scenario\": \"b\", \"metrics\": {\"x\": {\"value\": 1}, \"x\": {\"value\": 2}}}",
                          "g.json: $.metrics.x: expected each metric once; found it again");
    t_expect_golden_error("{\"scenario\": \"b\",\n \"metrics\": {,}}", "g.json:2:");
    t_expect_golden_error("{\"scenario\": \"b\", \"metric\": {}}",
                          "g.json: $: expected keys among \"scenario\", \"comment\", \"overrides\", "
                          "\"metrics\"; found \"metric\"");
}

/* -------------------------------------------------------------- compare */

static const char t_golden[] =
    "{\"scenario\": \"s\", \"metrics\": {"
    "\"a_rate\": {\"value\": 1, \"abs_tol\": 0.02},"
    "\"b_edge\": {\"value\": 10, \"rel_tol\": 0.05},"
    "\"c_moved\": {\"value\": 10, \"rel_tol\": 0.05},"
    "\"d_zero\": {\"value\": 0, \"rel_tol\": 0.05},"
    "\"e_both\": {\"value\": 2, \"abs_tol\": 0.5, \"rel_tol\": 0.1},"
    "\"f_null\": {\"value\": null},"
    "\"g_became_number\": {\"value\": null, \"rel_tol\": 1},"
    "\"h_became_null\": {\"value\": 5, \"rel_tol\": 1},"
    "\"i_missing\": {\"value\": 5, \"rel_tol\": 1},"
    "\"j_rounding\": {\"value\": 0.1234567891}}}";

static const char t_headline[] =
    "{\"a_rate\": 0.985, \"b_edge\": 10.5, \"c_moved\": 10.6, \"d_zero\": 0, \"e_both\": 2.4,"
    " \"f_null\": null, \"g_became_number\": 3, \"h_became_null\": null,"
    " \"j_rounding\": 0.12345678912, \"z_new\": 1, \"label\": \"text\"}";

static void test_golden_compare_tolerances(void)
{
    GoldenFile *g = golden_file_parse(t_golden, "g.json", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    cJSON *h = cJSON_Parse(t_headline);
    GoldenReport rep;
    golden_compare(g, h, &rep);
    T_EQ_I64(rep.rows->len, 11); /* 10 golden + 1 new; the string is ignored */
    T_EQ_I64(t_status(&rep, "a_rate"), GOLDEN_STATUS_PASS);  /* 0.015 <= 0.02 */
    T_EQ_I64(t_status(&rep, "b_edge"), GOLDEN_STATUS_PASS);  /* 0.5 <= 5 % of 10 */
    T_EQ_I64(t_status(&rep, "c_moved"), GOLDEN_STATUS_FAIL); /* 0.6 > 0.5 */
    T_EQ_I64(t_status(&rep, "d_zero"), GOLDEN_STATUS_PASS);
    T_EQ_I64(t_status(&rep, "e_both"), GOLDEN_STATUS_PASS); /* max(0.5, 0.2) */
    T_NEAR(t_row(&rep, "e_both")->allowed, 0.5, 0);
    T_EQ_I64(t_status(&rep, "f_null"), GOLDEN_STATUS_PASS);
    T_EQ_I64(t_status(&rep, "g_became_number"), GOLDEN_STATUS_FAIL);
    T_EQ_I64(t_status(&rep, "h_became_null"), GOLDEN_STATUS_FAIL);
    T_EQ_I64(t_status(&rep, "i_missing"), GOLDEN_STATUS_FAIL);
    T_TRUE(t_row(&rep, "i_missing")->now_missing);
    T_EQ_I64(t_status(&rep, "j_rounding"), GOLDEN_STATUS_PASS); /* same at 9 digits */
    T_EQ_I64(t_status(&rep, "z_new"), GOLDEN_STATUS_NEW);
    T_EQ_I64(rep.failed, 4);
    char *table = golden_report_table(&rep);
    T_STR_CONTAINS(table, "metric             golden       now      difference  tolerance  status\n");
    T_STR_CONTAINS(table, "\nc_moved                10      10.6    +0.6 (+6.0%)  ±0.5 (5%)  FAIL\n");
    T_STR_CONTAINS(table, "\na_rate                  1     0.985  -0.015 (-1.5%)  ±0.02      PASS\n");
    T_STR_CONTAINS(table, "\nd_zero                  0         0              +0  exact      PASS\n");
    T_STR_CONTAINS(table, "\ng_became_number      null         3               -  exact      FAIL\n");
    T_STR_CONTAINS(table, "\ni_missing               5   missing");
    T_STR_CONTAINS(table, "\nz_new                   -         1");
    T_STR_CONTAINS(table, "new (not checked)");
    T_STR_CONTAINS(table, "FAIL: 4 of 10 metrics moved past their tolerance\n");
    g_free(table);
    golden_report_clear(&rep);
    cJSON_Delete(h);
    golden_file_free(g);
}

static void test_golden_all_within_tolerance_passes(void)
{
    GoldenFile *g = golden_file_parse("{\"scenario\": \"s\", \"metrics\": {\"x\": {\"value\": 3}}}",
                                        "g.json", NULL);
    cJSON *h = cJSON_Parse("{\"x\": 3}");
    GoldenReport rep;
    golden_compare(g, h, &rep);
    T_EQ_I64(rep.failed, 0);
    char *table = golden_report_table(&rep);
    T_STR_CONTAINS(table, "exact");
    T_STR_CONTAINS(table, "PASS: 1 metrics within their tolerance\n");
    g_free(table);
    golden_report_clear(&rep);
    cJSON_Delete(h);
    golden_file_free(g);
}

/* --------------------------------------------------------------- update */

static void test_golden_update_keeps_tolerances(void)
{
    GoldenFile *old = golden_file_parse(
        "{\"scenario\": \"s\", \"metrics\": {\"a\": {\"value\": 1, \"abs_tol\": 0.1}, \"gone\": "
        "{\"value\": 1}}}", "g.json", NULL);
    cJSON *h = cJSON_Parse("{\"a\": 2.123456789123, \"b\": 0.5, \"c_rate\": 0.9, \"d\": null, \"s\": \"x\"}");
    const char *ov[] = {"population.clients=100", NULL};
    GoldenFile *g = golden_file_from_run(old, "s", ov, h);
    T_EQ_I64(golden_file_count(g), 4); /* "gone" dropped, the string skipped */
    double a, r;
    T_TRUE(golden_file_tolerance(g, "a", &a, &r));
    T_NEAR(a, 0.1, 0);
    T_NEAR(r, 0, 0);
    T_TRUE(golden_file_tolerance(g, "b", &a, &r));
    T_NEAR(r, 0.05, 0); /* default for a quantity */
    T_TRUE(golden_file_tolerance(g, "c_rate", &a, &r));
    T_NEAR(a, 0.02, 0); /* default for a fraction */
    T_FALSE(golden_file_tolerance(g, "gone", &a, &r));
    char *text = golden_file_to_text(g);
    T_STR_CONTAINS(text, "\"overrides\":\t[\"population.clients=100\"]");
    T_STR_CONTAINS(text, "\"value\":\t2.12345679,");
    T_STR_CONTAINS(text, "\"value\":\tnull,");
    T_STR_CONTAINS(text, "SKYSIM_UPDATE_GOLDEN=1 ctest -R golden");
    /* What is written reads back the same. */
    GoldenFile *back = golden_file_parse(text, "new.json", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    char *again = golden_file_to_text(back);
    T_STR_EQ(again, text);
    g_free(again);
    g_free(text);
    golden_file_free(back);
    golden_file_free(g);
    golden_file_free(old);
    cJSON_Delete(h);
}

static void test_golden_overrides_merge(void)
{
    GoldenFile *g = golden_file_parse("{\"scenario\": \"s\", \"overrides\": [\"population.clients=100\","
                                        " \"duration=5min\"], \"metrics\": {}}", "g.json", NULL);
    const char *sets[] = {"duration=6min", "seed=3", NULL};
    char **m = golden_overrides_merge(g, sets);
    T_EQ_I64(g_strv_length(m), 3);
    T_STR_EQ(m[0], "population.clients=100");
    T_STR_EQ(m[1], "duration=6min");
    T_STR_EQ(m[2], "seed=3");
    g_strfreev(m);
    m = golden_overrides_merge(NULL, NULL);
    T_EQ_I64(g_strv_length(m), 0);
    g_strfreev(m);
    golden_file_free(g);
}

/* ------------------------------------------------------- behavioural */

/* Runs simcheck with args (NULL-terminated); returns its exit status. */
static int t_simcheck(const char *const *args, char **out, char **errtext)
{
    const char *bin = g_getenv("SKYSIM_BINARY_DIR");
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_build_filename(bin ? bin : ".", "simcheck", NULL));
    for (const char *const *a = args; *a; a++) g_ptr_array_add(argv, g_strdup(*a));
    g_ptr_array_add(argv, NULL);
    int status = -1;
    T_TRUE(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, errtext,
                        &status, NULL));
    g_ptr_array_unref(argv);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* supernode_failure, small: a golden file made by update, then an
 * unchanged run passes and a changed keep-alive timer fails. */
static void test_golden_unchanged_passes_changed_timer_fails(void)
{
    char *d = t_tmpdir(), *golden = g_build_filename(d, "supernode_failure.json", NULL);
    char *scn = t_scenario("supernode_failure");
    const char *small[] = {"population.clients=100", "duration=14min", NULL};
    GoldenOptions o = {.scenario = scn, .golden = golden, .sets = small, .update = true};
    GoldenReport rep;
    GError *err = NULL;
    T_TRUE(golden_run(&o, &rep, &err)); /* creates the golden file */
    T_EQ_I64(rep.rows->len, 0);
    golden_report_clear(&rep);
    GoldenFile *g = golden_file_load(golden, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    T_STR_EQ(golden_file_overrides(g)[1], "duration=14min");
    golden_file_free(g);
    /* Unchanged: every metric passes, through the front end. */
    char *out = NULL, *errtext = NULL;
    const char *same[] = {scn, "--golden", golden, NULL};
    T_EQ_I64(t_simcheck(same, &out, &errtext), 0);
    T_STR_CONTAINS(out, "failover_time_mean_s");
    T_STR_CONTAINS(out, "PASS: ");
    g_free(out);
    g_free(errtext);
    /* Keep-alives every 10 s instead of 30 s: failover and search move. */
    const char *faster[] = {"protocol.keepalive=10s", NULL};
    o = (GoldenOptions){.scenario = scn, .golden = golden, .sets = faster};
    T_TRUE(golden_run(&o, &rep, &err));
    T_CMP_I64(rep.failed, >=, 1);
    const GoldenRow *fo = t_row(&rep, "failover_time_mean_s");
    T_TRUE(fo && !isnan(fo->golden) && fo->now != fo->golden);
    golden_report_clear(&rep);
    const char *changed[] = {scn, "--golden", golden, "--set", "protocol.keepalive=10s", NULL};
    T_EQ_I64(t_simcheck(changed, &out, &errtext), 1);
    T_STR_CONTAINS(out, "metric ");
    T_STR_CONTAINS(out, "  FAIL\n");
    T_STR_CONTAINS(out, "FAIL: ");
    T_STR_CONTAINS(out, "metrics moved past their tolerance");
    g_free(out);
    g_free(errtext);
    t_rmtree(d);
    g_free(scn);
    g_free(golden);
    g_free(d);
}

static void test_golden_bad_input(void)
{
    char *d = t_tmpdir(), *golden = g_build_filename(d, "g.json", NULL);
    char *scn = t_scenario("baseline");
    GoldenReport rep;
    GError *err = NULL;
    /* No golden file and no update. */
    GoldenOptions o = {.scenario = scn, .golden = golden};
    T_FALSE(golden_run(&o, &rep, &err));
    T_STR_CONTAINS(err ? err->message : NULL, "g.json: cannot read: No such file or directory");
    g_clear_error(&err);
    golden_report_clear(&rep);
    /* A golden file of another scenario. */
    g_file_set_contents(golden, "{\"scenario\": \"nat_heavy\", \"metrics\": {}}", -1, NULL);
    T_FALSE(golden_run(&o, &rep, &err));
    T_TRUE(err && err->code == GOLDEN_ERROR_INPUT);
    T_STR_CONTAINS(err ? err->message : NULL, "g.json: $.scenario: expected \"baseline\" (the scenario of ");
    T_STR_CONTAINS(err ? err->message : NULL, "found \"nat_heavy\"");
    g_clear_error(&err);
    golden_report_clear(&rep);
    /* A bad override: the scenario's own message. */
    g_file_set_contents(golden, "{\"scenario\": \"baseline\", \"metrics\": {}}", -1, NULL);
    const char *bad[] = {"population.clients=-3", NULL};
    o.sets = bad;
    T_FALSE(golden_run(&o, &rep, &err));
    T_TRUE(err && err->code == GOLDEN_ERROR_INPUT);
    T_STR_CONTAINS(err ? err->message : NULL, "population.clients");
    g_clear_error(&err);
    golden_report_clear(&rep);
    /* Front end: exit 2 with one line. */
    char *out = NULL, *errtext = NULL;
    const char *no_golden[] = {scn, NULL};
    T_EQ_I64(t_simcheck(no_golden, &out, &errtext), 2);
    T_STR_EQ(errtext, "simcheck: expected --golden GOLDEN.json; found none (see simcheck --help)\n");
    g_free(out);
    g_free(errtext);
    const char *bad_fe[] = {scn, "--golden", golden, "--set", "population.clients=-3", NULL};
    T_EQ_I64(t_simcheck(bad_fe, &out, &errtext), 2);
    T_STR_CONTAINS(errtext, "population.clients");
    g_free(out);
    g_free(errtext);
    t_rmtree(d);
    g_free(scn);
    g_free(golden);
    g_free(d);
}

T_SUITE_MAIN("golden",
             {"golden_parse", test_golden_golden_parse},
             {"golden_errors", test_golden_golden_errors},
             {"compare_tolerances", test_golden_compare_tolerances},
             {"all_within_tolerance_passes", test_golden_all_within_tolerance_passes},
             {"update_keeps_tolerances", test_golden_update_keeps_tolerances},
             {"overrides_merge", test_golden_overrides_merge},
             {"unchanged_passes_changed_timer_fails", test_golden_unchanged_passes_changed_timer_fails},
             {"bad_input", test_golden_bad_input})
