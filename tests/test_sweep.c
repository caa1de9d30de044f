/* test_sweep: the sweep file (good and bad, with exact messages), the
 * expansion into points (cross, zip, range), the seed derivation, and a
 * tiny sweep end to end: table values, resume (nothing redone, a deleted
 * run redone alone, an interrupted run redone), added repetitions reusing
 * the old ones, and a metric path that matches nothing.
 *
 * Sweeps are loaded from text with the shipped scenarios directory
 * (SKYSIM_SOURCE_DIR/scenarios) as base directory; each end-to-end test
 * works in its own directory from g_dir_make_tmp() and removes it.
 */
#include "analysis/sweep.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/stats.h"
#include "t_assert.h"

static char *scenarios_dir(void)
{
    const char *src = getenv("SKYSIM_SOURCE_DIR");
    return g_build_filename(src ? src : ".", "scenarios", NULL);
}

/* Loads text as "t.json" against the shipped scenarios; NULL with *msg set
 * (owned) on error. */
static Sweep *load(const char *text, char **msg)
{
    char *dir = scenarios_dir();
    GError *err = NULL;
    Sweep *s = sweep_load_text(text, "t.json", dir, &err);
    g_free(dir);
    if (msg) *msg = err ? g_strdup(err->message) : NULL;
    g_clear_error(&err);
    return s;
}

/* ------------------------------------------------------------------------ */
/* The file */

static void test_sweep_good_file_defaults(void)
{
    char *msg;
    Sweep *s = load("{\"base\": \"dedicated_supernodes.json\"}", &msg);
    T_STR_EQ(msg ? msg : "", "");
    CU_ASSERT_FATAL(s != NULL);
    T_EQ_U64(sweep_points(s), 1);
    T_EQ_U64(sweep_parameters(s), 0);
    T_EQ_U64(sweep_repetitions(s), 5);
    T_STR_EQ(sweep_name(s), "t");
    T_STR_EQ(sweep_out_dir(s), "results/sweeps/t");
    char *dir = sweep_run_dir(s, 3, 4);
    T_STR_EQ(dir, "results/sweeps/t/runs/p3-r4");
    g_free(dir);
    sweep_free(s);
    g_free(msg);
}

typedef struct BadCase {
    const char *text;    /* the sweep file */
    const char *message; /* the whole message, or a part of it when partial */
    bool partial;        /* message is a substring */
} BadCase;

#define B "\"base\": \"dedicated_supernodes.json\", "
#define P(x) B "\"parameters\": [" x "]"

static const BadCase bad_cases[] = {
    {"{\"base\": \"x.json\",}", "t.json:1:19: malformed JSON; found \"}\"", false},
    {"{}", "t.json: $.base: expected a non-empty string; found nothing", false},
    {"{\"base\": 3}", "t.json: $.base: expected a non-empty string; found 3", false},
    {"{" B "\"paramters\": []}", "t.json: $.paramters: unknown key (did you mean \"parameters\"?)", false},
    {"{" B "\"zz\": 1}",
     "t.json: $.zz: unknown key; expected one of \"base\", \"name\", \"description\", "
     "\"parameters\", \"combine\", \"repetitions\", \"set\", \"metrics\", \"out\"", false},
    {"{" B "\"name\": \"a\", \"name\": \"b\"}", "t.json: $.name: duplicate key; each key may appear once", false},
    {"{" B "\"combine\": \"cros\"}", "t.json: $.combine: expected one of \"cross\", \"zip\"; found \"cros\"", false},
    {"{" B "\"repetitions\": 0}", "t.json: $.repetitions: expected an integer from 1 to 1000000; found 0", false},
    {"{" B "\"repetitions\": 2.5}", "t.json: $.repetitions: expected an integer from 1 to 1000000; found 2.5", false},
    {"{" B "\"parameters\": {}}", "t.json: $.parameters: expected an array of parameters; found an object", false},
    {"{" P("{\"path\": \"supernodes.count\"}") "}",
     "t.json: $.parameters[0]: expected exactly one of \"values\" and \"range\"; found neither", false},
    {"{" P("{\"path\": \"supernodes.count\", \"values\": [1], \"range\": {}}") "}",
     "t.json: $.parameters[0]: expected exactly one of \"values\" and \"range\"; found both", false},
    {"{" P("{\"values\": [1]}") "}", "t.json: $.parameters[0].path: expected a non-empty string; found nothing", false},
    {"{" P("{\"path\": \"supernodes.count\", \"values\": []}") "}",
     "t.json: $.parameters[0].values: expected a non-empty array of values; found an array of 0", false},
    {"{" P("{\"path\": \"supernodes.count\", \"values\": [1, [2]]}") "}",
     "t.json: $.parameters[0].values[1]: expected a number, a string or a boolean; found an array of 1", false},
    {"{" P("{\"path\": \"network.loss\", \"range\": {\"from\": 0, \"to\": 1, \"step\": 0}}") "}",
     "t.json: $.parameters[0].range.step: expected a number > 0; found 0", false},
    {"{" P("{\"path\": \"network.loss\", \"range\": {\"from\": 5, \"to\": 1, \"step\": 1}}") "}",
     "t.json: $.parameters[0].range.to: expected a number >= from (5); found 1", false},
    {"{" P("{\"path\": \"network.loss\", \"range\": {\"from\": 0, \"to\": 1, \"stop\": 1}}") "}",
     "t.json: $.parameters[0].range.stop: unknown key (did you mean \"step\"?)", false},
    {"{" P("{\"path\": \"network.loss\", \"range\": {\"from\": 0, \"step\": 1}}") "}",
     "t.json: $.parameters[0].range.to: expected a number; found nothing", false},
    {"{" P("{\"path\": \"seed\", \"values\": [1, 2]}") "}",
     "t.json: $.parameters[0]: expected a scenario path other than \"seed\" (each repetition "
     "derives its seed; set the base seed in \"set\"); found \"seed\"", false},
    {"{" P("{\"path\": \"supernodes.count\", \"values\": [1]}, {\"path\": \"supernodes.count\", \"values\": [2]}") "}",
     "t.json: $.parameters[1]: expected a path not swept already; found \"supernodes.count\" "
     "(also $.parameters[0])", false},
    {"{" B "\"combine\": \"zip\", \"parameters\": [{\"path\": \"supernodes.count\", \"values\": [1, 2]}, "
     "{\"path\": \"supernodes.capacity\", \"values\": [1, 2, 3]}]}",
     "t.json: $.parameters[1]: expected 2 values to zip with $.parameters[0]; found 3", false},
    {"{" B "\"set\": [\"population.clients\"]}",
     "t.json: $.set[0]: expected an override \"path=value\" such as \"population.clients=400\"; "
     "found \"population.clients\"", false},
    {"{" B "\"metrics\": [\"headlin.login_success_rate\"]}",
     "t.json: $.metrics[0]: expected a path into results.json starting with one of its sections; "
     "found \"headlin.login_success_rate\" (did you mean \"headline\"?)", false},
    {"{" B "\"metrics\": [\"headline\"]}",
     "t.json: $.metrics[0]: expected a path inside the section, such as "
     "\"headline.login_success_rate\"; found \"headline\"", false},
    {"{" B "\"metrics\": []}",
     "t.json: $.metrics: expected a non-empty array of paths (or no key: headline); found an array of 0", false},
    {"{\"base\": \"nope.json\"}", "t.json: $.base: ", true},
    {"{" B "\"set\": [\"population.clients=0\"]}",
     "t.json: $.set: ", true},
    {"{" P("{\"path\": \"supernodes.count\", \"values\": [3, 0]}") "}",
     "t.json: $.parameters: point 1 (supernodes.count=0): ", true},
    {"{" P("{\"path\": \"supernodes.cont\", \"values\": [3]}") "}",
     "did you mean \"count\"?", true},
};

/* Every bad file is refused with its one-line message. */
static void test_sweep_bad_files_have_exact_messages(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        char *msg = NULL;
        Sweep *s = load(bad_cases[i].text, &msg);
        T_TRUE(s == NULL);
        sweep_free(s);
        if (bad_cases[i].partial) {
            T_STR_CONTAINS(msg, bad_cases[i].message);
            if (msg && g_str_has_prefix(bad_cases[i].message, "t.json"))
                T_TRUE(g_str_has_prefix(msg, bad_cases[i].message));
        } else {
            T_STR_EQ(msg, bad_cases[i].message);
        }
        T_TRUE(msg == NULL || strchr(msg, '\n') == NULL);
        g_free(msg);
    }
}

/* Errors coming from the scenario name its path and the value too. */
static void test_sweep_scenario_errors_name_the_value(void)
{
    char *msg;
    Sweep *s = load("{" P("{\"path\": \"supernodes.count\", \"values\": [3, 0]}") "}", &msg);
    T_TRUE(s == NULL);
    T_STR_CONTAINS(msg, "$.supernodes.count: expected");
    T_STR_CONTAINS(msg, "(from --set supernodes.count=0)");
    g_free(msg);
    s = load("{\"base\": \"nope.json\"}", &msg);
    T_STR_CONTAINS(msg, "nope.json");
    g_free(msg);
}

static void test_sweep_missing_file_is_named(void)
{
    GError *err = NULL;
    T_TRUE(sweep_load("no-such-sweep.json", &err) == NULL);
    T_STR_EQ(err ? err->message : NULL, "no-such-sweep.json: cannot read: No such file or directory");
    T_EQ_I64(err ? err->code : -1, SWEEP_ERROR_INPUT);
    g_clear_error(&err);
}

/* ------------------------------------------------------------------------ */
/* Points */

/* The JSON text of value k at point p. */
static char *value_at(const Sweep *s, size_t p, size_t k)
{
    char *t = cJSON_PrintUnformatted(sweep_point_value(s, p, k));
    char *r = g_strdup(t);
    cJSON_free(t);
    return r;
}

/* Every point's values joined, e.g. "1,\"dedicated\" 1,\"elected\" ...". */
static char *points_text(const Sweep *s)
{
    GString *g = g_string_new(NULL);
    for (size_t p = 0; p < sweep_points(s); p++) {
        for (size_t k = 0; k < sweep_parameters(s); k++) {
            char *v = value_at(s, p, k);
            g_string_append_printf(g, "%s%s", k ? "," : (p ? " " : ""), v);
            g_free(v);
        }
    }
    return g_string_free(g, FALSE);
}

static void test_sweep_cross_varies_first_parameter_slowest(void)
{
    char *msg;
    Sweep *s = load("{" P("{\"path\": \"supernodes.count\", \"values\": [1, 2, 3]},"
                          "{\"path\": \"supernodes.mode\", \"values\": [\"dedicated\", \"elected\"]}") "}",
                    &msg);
    CU_ASSERT_FATAL(s != NULL);
    T_EQ_U64(sweep_points(s), 6);
    char *t = points_text(s);
    T_STR_EQ(t, "1,\"dedicated\" 1,\"elected\" 2,\"dedicated\" 2,\"elected\" 3,\"dedicated\" 3,\"elected\"");
    T_STR_EQ(sweep_parameter_path(s, 1), "supernodes.mode");
    g_free(t);
    sweep_free(s);
    g_free(msg);
}

static void test_sweep_zip_pairs_values(void)
{
    char *msg;
    Sweep *s = load("{" B "\"combine\": \"zip\", \"parameters\": ["
                    "{\"path\": \"supernodes.count\", \"values\": [2, 4, 8]},"
                    "{\"path\": \"supernodes.capacity\", \"values\": [400, 200, 100]}]}", &msg);
    CU_ASSERT_FATAL(s != NULL);
    T_EQ_U64(sweep_points(s), 3);
    char *t = points_text(s);
    T_STR_EQ(t, "2,400 4,200 8,100");
    g_free(t);
    sweep_free(s);
    g_free(msg);
}

/* A range includes its end and reads 0.1 + 2 * 0.1 as 0.3. */
static void test_sweep_range_is_inclusive_and_clean(void)
{
    char *msg;
    Sweep *s = load("{" P("{\"path\": \"network.loss\", \"range\": {\"from\": 0.1, \"to\": 0.5, \"step\": 0.1}}")
                    "}", &msg);
    CU_ASSERT_FATAL(s != NULL);
    char *t = points_text(s);
    T_STR_EQ(t, "0.1 0.2 0.3 0.4 0.5");
    T_TRUE(sweep_point_value(s, 2, 0)->valuedouble == 0.3);
    g_free(t);
    sweep_free(s);
    g_free(msg);
    s = load("{" P("{\"path\": \"supernodes.count\", \"range\": {\"from\": 2, \"to\": 9, \"step\": 3}}") "}", &msg);
    CU_ASSERT_FATAL(s != NULL);
    t = points_text(s);
    T_STR_EQ(t, "2 5 8");
    g_free(t);
    sweep_free(s);
    g_free(msg);
}

/* ------------------------------------------------------------------------ */
/* Seeds */

/* Known values, computed by an independent SplitMix64 in Python. */
static void test_sweep_seed_derivation_is_fixed(void)
{
    T_EQ_U64(sweep_seed_derive(1, 0, 0), 184964832153008ULL);
    T_EQ_U64(sweep_seed_derive(1, 0, 1), 2865243701271746ULL);
    T_EQ_U64(sweep_seed_derive(1, 3, 2), 7284087026791134ULL);
    T_EQ_U64(sweep_seed_derive(7, 1, 1), 1004571331237238ULL);
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* 100 x 100 (point, repetition) pairs give 10,000 distinct seeds within
 * the scenario range [0, 2^53]. */
static void test_sweep_seeds_are_distinct(void)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (size_t p = 0; p < 100; p++) {
        for (size_t r = 0; r < 100; r++) {
            uint64_t v = sweep_seed_derive(51, p, r);
            g_array_append_val(a, v);
        }
    }
    g_array_sort(a, cmp_u64);
    size_t dup = 0, big = 0;
    for (guint i = 0; i < a->len; i++) {
        dup += i > 0 && g_array_index(a, uint64_t, i) == g_array_index(a, uint64_t, i - 1);
        big += g_array_index(a, uint64_t, i) > (1ULL << 53);
    }
    T_EQ_U64(dup, 0);
    T_EQ_U64(big, 0);
    g_array_free(a, TRUE);
}

/* The base seed is the scenario's after the fixed overrides. */
static void test_sweep_seed_uses_base_scenario_seed(void)
{
    Sweep *s = load("{" B "\"parameters\": [{\"path\": \"supernodes.count\", \"values\": [2, 3]}]}", NULL);
    CU_ASSERT_FATAL(s != NULL);
    T_EQ_U64(sweep_seed(s, 0, 0), sweep_seed_derive(51, 0, 0)); /* dedicated_supernodes: seed 51 */
    T_EQ_U64(sweep_seed(s, 0, 0), 184964832153058ULL);
    sweep_free(s);
    s = load("{" B "\"set\": [\"seed=7\"], \"parameters\": [{\"path\": \"supernodes.count\", \"values\": [2, 3]}]}",
             NULL);
    CU_ASSERT_FATAL(s != NULL);
    T_EQ_U64(sweep_seed(s, 1, 1), 1004571331237238ULL);
    sweep_free(s);
}

/* ------------------------------------------------------------------------ */
/* End to end */

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

/* 2 points x reps, 20 clients, 1 minute, logins over 10 s. */
static Sweep *tiny(const char *out, int reps, const char *metrics)
{
    char *text = g_strdup_printf(
        "{" B "\"parameters\": [{\"path\": \"supernodes.count\", \"values\": [2, 5]}],"
        "\"repetitions\": %d, \"set\": [\"population.clients=20\", \"duration=\\\"1min\\\"\","
        "\"churn.ramp=\\\"10s\\\"\"], \"metrics\": %s}", reps,
        metrics ? metrics : "[\"headline.login_success_rate\", \"metrics.login.time_s.mean\"]");
    char *msg = NULL;
    Sweep *s = load(text, &msg);
    T_STR_EQ(msg ? msg : "", "");
    g_free(msg);
    g_free(text);
    if (s) sweep_out_dir_set(s, out);
    return s;
}

static bool run(Sweep *s, SweepReport *rep)
{
    SweepOptions o = {.jobs = 2, .progress = false, .stop_flag = NULL};
    GError *err = NULL;
    bool ok = sweep_run(s, &o, rep, &err);
    T_STR_EQ(err ? err->message : "", "");
    g_clear_error(&err);
    return ok;
}

/* Inode of a run's results.json: a redone run is a new file. */
static uint64_t inode_of(const char *out, const char *run)
{
    char *path = g_build_filename(out, "runs", run, "results.json", NULL);
    GStatBuf st;
    uint64_t ino = g_stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
    g_free(path);
    return ino;
}

static cJSON *read_json(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL), *text = NULL;
    cJSON *j = g_file_get_contents(path, &text, NULL, NULL) ? cJSON_Parse(text) : NULL;
    g_free(text);
    g_free(path);
    return j;
}

/* The table's numbers are the statistics of the runs' own values. */
static void check_table(const char *out, size_t reps)
{
    cJSON *t = read_json(out, "table.json");
    CU_ASSERT_FATAL(t != NULL);
    T_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(t, "complete")));
    T_EQ_I64(cJSON_GetObjectItem(t, "runs_done")->valueint, (int)(2 * reps));
    const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "points"), 1);
    T_EQ_I64(cJSON_GetObjectItem(cJSON_GetObjectItem(pt, "values"), "supernodes.count")->valueint, 5);
    const cJSON *runs = cJSON_GetObjectItem(pt, "runs");
    T_EQ_I64(cJSON_GetArraySize(runs), (int)reps);
    double x[8];
    for (size_t r = 0; r < reps; r++) {
        char *dir = g_build_filename(out, cJSON_GetArrayItem(runs, (int)r)->valuestring, NULL);
        cJSON *res = read_json(dir, "results.json");
        CU_ASSERT_FATAL(res != NULL);
        x[r] = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "metrics"), "login.time_s"),
                                   "mean")->valuedouble;
        cJSON_Delete(res);
        g_free(dir);
    }
    StatsSummary want;
    stats_summarize(x, reps, &want);
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(pt, "metrics"), "metrics.login.time_s.mean");
    T_EQ_I64(cJSON_GetObjectItem(m, "n")->valueint, (int)reps);
    T_NEAR(cJSON_GetObjectItem(m, "mean")->valuedouble, want.mean, 1e-12);
    T_NEAR(cJSON_GetObjectItem(m, "ci95")->valuedouble, want.ci95, 1e-12);
    T_TRUE(want.mean > 0);
    /* The bounds: a login time is non-negative (stats_mean_ci_range with
     * [0, inf)), so they stay above 0 and hold the mean. */
    double lo, hi;
    stats_mean_ci_range(x, reps, 0, INFINITY, NAN, 0.95, &lo, &hi);
    T_NEAR(cJSON_GetObjectItem(m, "ci95_lo")->valuedouble, lo, 1e-12);
    T_NEAR(cJSON_GetObjectItem(m, "ci95_hi")->valuedouble, hi, 1e-12);
    T_TRUE(lo > 0 && lo <= want.mean && want.mean <= hi);
    /* A fraction's bounds stay within [0, 1]. */
    const cJSON *rate =
        cJSON_GetObjectItem(cJSON_GetObjectItem(pt, "metrics"), "headline.login_success_rate");
    T_TRUE(cJSON_GetObjectItem(rate, "ci95_lo")->valuedouble >= 0);
    T_TRUE(cJSON_GetObjectItem(rate, "ci95_hi")->valuedouble <= 1);
    /* ... and it counts the logins of the runs, not the runs: the bounds
     * are those of stats_fraction_ci with their sum. */
    double rates[8], logins = 0;
    for (size_t r = 0; r < reps; r++) {
        char *dir = g_build_filename(out, cJSON_GetArrayItem(runs, (int)r)->valuestring, NULL);
        cJSON *res = read_json(dir, "results.json");
        CU_ASSERT_FATAL(res != NULL);
        const cJSON *ms = cJSON_GetObjectItem(res, "metrics");
        rates[r] = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "headline"), "login_success_rate")->valuedouble;
        logins += cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "login.success"), "value")->valuedouble +
                  cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "login.failure"), "value")->valuedouble;
        cJSON_Delete(res);
        g_free(dir);
    }
    T_TRUE(logins > (double)reps);
    stats_fraction_ci(rates, reps, logins, 0.95, &lo, &hi);
    T_NEAR(cJSON_GetObjectItem(rate, "ci95_lo")->valuedouble, lo, 1e-9);
    T_NEAR(cJSON_GetObjectItem(rate, "ci95_hi")->valuedouble, hi, 1e-9);
    cJSON_Delete(t);
    char *csv = NULL, *path = g_build_filename(out, "table.csv", NULL);
    T_TRUE(g_file_get_contents(path, &csv, NULL, NULL));
    T_TRUE(g_str_has_prefix(csv, "supernodes.count,metric,n,mean,sd,ci95,min,max,ci95_lo,ci95_hi\n"));
    T_STR_CONTAINS(csv, "\n5,headline.login_success_rate,");
    g_free(csv);
    g_free(path);
}

static void test_sweep_end_to_end_resumes_and_extends(void)
{
    char *base = g_dir_make_tmp("skysim-sweep-XXXXXX", NULL);
    char *out = g_build_filename(base, "out", NULL);
    Sweep *s = tiny(out, 2, NULL);
    CU_ASSERT_FATAL(s != NULL);
    SweepReport rep;
    /* First run: everything is executed. */
    T_TRUE(run(s, &rep));
    T_EQ_U64(rep.executed, 4);
    T_EQ_U64(rep.reused, 0);
    T_TRUE(rep.table_written);
    check_table(out, 2);
    uint64_t ino00 = inode_of(out, "p0-r0"), ino11 = inode_of(out, "p1-r1");
    T_NE_U64(ino00, 0);
    /* Second run: nothing is redone. */
    T_TRUE(run(s, &rep));
    T_EQ_U64(rep.executed, 0);
    T_EQ_U64(rep.reused, 4);
    T_EQ_U64(inode_of(out, "p0-r0"), ino00);
    /* A deleted run is redone alone; one marked interrupted too. */
    char *gone = g_build_filename(out, "runs", "p1-r0", NULL);
    rm_tree(gone);
    char *p01 = g_build_filename(out, "runs", "p0-r1", "results.json", NULL), *text = NULL;
    T_TRUE(g_file_get_contents(p01, &text, NULL, NULL));
    char *at = strstr(text, "\"interrupted\":\tfalse");
    CU_ASSERT_FATAL(at != NULL);
    memcpy(at, "\"interrupted\":\ttrue ", strlen("\"interrupted\":\tfalse"));
    T_TRUE(g_file_set_contents(p01, text, -1, NULL));
    T_TRUE(run(s, &rep));
    T_EQ_U64(rep.executed, 2);
    T_EQ_U64(rep.reused, 2);
    T_EQ_U64(inode_of(out, "p0-r0"), ino00);
    T_EQ_U64(inode_of(out, "p1-r1"), ino11);
    sweep_free(s);
    /* Three repetitions: only the third of each point runs. */
    s = tiny(out, 3, NULL);
    CU_ASSERT_FATAL(s != NULL);
    T_TRUE(run(s, &rep));
    T_EQ_U64(rep.executed, 2);
    T_EQ_U64(rep.reused, 4);
    T_EQ_U64(inode_of(out, "p0-r0"), ino00);
    T_NE_U64(inode_of(out, "p1-r2"), 0);
    check_table(out, 3);
    sweep_free(s);
    g_free(text);
    g_free(p01);
    g_free(gone);
    rm_tree(base);
    g_free(out);
    g_free(base);
}

/* A metric path not in the first finished run is an input error with a
 * suggestion, found after that one run (the second never starts) and with
 * no table; the default metrics are the headline's numbers. */
static void test_sweep_metrics_unknown_and_default(void)
{
    char *base = g_dir_make_tmp("skysim-sweep-XXXXXX", NULL);
    char *out = g_build_filename(base, "out", NULL);
    Sweep *s = tiny(out, 1, "[\"headline.login_success_rat\"]");
    CU_ASSERT_FATAL(s != NULL);
    SweepOptions o = {.jobs = 2};
    SweepReport rep;
    GError *err = NULL;
    T_FALSE(sweep_run(s, &o, &rep, &err));
    T_EQ_U64(rep.executed, 1);
    T_FALSE(rep.table_written);
    char *table = g_build_filename(out, "table-partial.csv", NULL);
    T_FALSE(g_file_test(table, G_FILE_TEST_EXISTS));
    g_free(table);
    T_EQ_I64(err ? err->code : 0, SWEEP_ERROR_INPUT);
    T_STR_CONTAINS(err ? err->message : NULL,
                   "t.json: $.metrics[0]: expected a path to a number in results.json; found no "
                   "\"headline.login_success_rat\" in ");
    T_STR_CONTAINS(err ? err->message : NULL,
                   "p0-r0/results.json, the first run done (did you mean \"headline.login_success_rate\"?)");
    g_clear_error(&err);
    sweep_free(s);
    /* Without "metrics": every numeric headline value; the runs are reused. */
    char *text = g_strdup_printf(
        "{" B "\"parameters\": [{\"path\": \"supernodes.count\", \"values\": [2, 5]}],"
        "\"repetitions\": 1, \"set\": [\"population.clients=20\", \"duration=\\\"1min\\\"\","
        "\"churn.ramp=\\\"10s\\\"\"]}");
    s = load(text, NULL);
    CU_ASSERT_FATAL(s != NULL);
    sweep_out_dir_set(s, out);
    T_TRUE(run(s, &rep));
    T_EQ_U64(rep.executed, 1); /* p0-r0 is reused */
    cJSON *t = read_json(out, "table.json");
    CU_ASSERT_FATAL(t != NULL);
    const cJSON *ms = cJSON_GetObjectItem(t, "metrics");
    cJSON *r0 = read_json(out, "runs/p0-r0/results.json");
    CU_ASSERT_FATAL(r0 != NULL);
    int numeric = 0;
    for (const cJSON *it = cJSON_GetObjectItem(r0, "headline")->child; it; it = it->next)
        numeric += cJSON_IsNumber(it) || cJSON_IsNull(it);
    cJSON_Delete(r0);
    T_CMP_I64(numeric, >=, 10);
    T_EQ_I64(cJSON_GetArraySize(ms), numeric);
    T_STR_EQ(cJSON_GetArrayItem(ms, 0)->valuestring, "headline.login_success_rate");
    /* No failover happens: n = 0 and null statistics, not an error. */
    const cJSON *fo = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "points"), 0), "metrics"),
        "headline.failover_time_mean_s");
    T_EQ_I64(cJSON_GetObjectItem(fo, "n")->valueint, 0);
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(fo, "mean")));
    cJSON_Delete(t);
    sweep_free(s);
    g_free(text);
    rm_tree(base);
    g_free(out);
    g_free(base);
}

T_SUITE_MAIN("sweep", {"good_file_defaults", test_sweep_good_file_defaults},
             {"bad_files_have_exact_messages", test_sweep_bad_files_have_exact_messages},
             {"scenario_errors_name_the_value", test_sweep_scenario_errors_name_the_value},
             {"missing_file_is_named", test_sweep_missing_file_is_named},
             {"cross_varies_first_parameter_slowest", test_sweep_cross_varies_first_parameter_slowest},
             {"zip_pairs_values", test_sweep_zip_pairs_values},
             {"range_is_inclusive_and_clean", test_sweep_range_is_inclusive_and_clean},
             {"seed_derivation_is_fixed", test_sweep_seed_derivation_is_fixed},
             {"seeds_are_distinct", test_sweep_seeds_are_distinct},
             {"seed_uses_base_scenario_seed", test_sweep_seed_uses_base_scenario_seed},
             {"end_to_end_resumes_and_extends", test_sweep_end_to_end_resumes_and_extends},
             {"metrics_unknown_and_default", test_sweep_metrics_unknown_and_default})
