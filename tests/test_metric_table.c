/* test_metric_table: the metric tables (protocol/metric_table.h for the
 * protocol, sim/world/simmetric.h for the simulator) against real runs.
 *
 * A world's metric registry must hold exactly the tables' names with the
 * tables' kinds: every name the protocol or the simulator interns is in a
 * table (a metric interned from a literal outside the tables fails here),
 * and every table name exists in a run (so the headline, the time-series
 * columns and the analysis, which refer to metrics by table id only, never
 * read a metric that is not there). A full runner_run checks the headline
 * and the time-series header on top: their lookups CHECK that each metric
 * exists, so a missing one aborts this suite with the metric's name. */
#include "protocol/metric_table.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol/node_int.h"
#include "sim/world/headline.h"
#include "sim/world/runner.h"
#include "sim/world/simmetric.h"
#include "sim/world/world.h"
#include "t_assert.h"

/* Asserts cond with a message naming the metric. */
#define T_METRIC(cond, what, name)                                                                 \
    do {                                                                                           \
        char m_[256];                                                                              \
        snprintf(m_, sizeof m_, "%s: %s", what, name);                                             \
        CU_assertImplementation(!!(cond), __LINE__, m_, __FILE__, __func__, CU_FALSE);             \
    } while (0)

/* ------------------------------------------------------- the table alone */

typedef struct TNames {
    GHashTable *kind; /* name (owned) -> kind + 1 */
    size_t dups;      /* names visited twice */
    size_t too_long;  /* names of METRIC_NAME_MAX bytes or more */
} TNames;

static void t_names_add(void *ctx, const char *name, EnvMetricKind kind)
{
    TNames *t = ctx;
    if (g_hash_table_contains(t->kind, name)) {
        fprintf(stderr, "duplicate metric name %s\n", name);
        t->dups++;
    }
    if (strlen(name) + 1 >= METRIC_NAME_MAX) t->too_long++;
    g_hash_table_insert(t->kind, g_strdup(name), GINT_TO_POINTER((int)kind + 1));
}

/* Every name of both tables, with its kind. */
static TNames t_names_new(void)
{
    TNames t = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), 0, 0};
    metric_table_foreach(t_names_add, &t);
    for (int id = 0; id < SIMMETRIC_COUNT; id++)
        t_names_add(&t, simmetric_name((SimMetricId)id),
                    (EnvMetricKind)simmetric_kind((SimMetricId)id));
    return t;
}

static size_t t_family_size(MetricFamily f)
{
    size_t n = 1;
    for (int a = 0; a < 3; a++) {
        MetricDim d = metric_table_family_dim(f, a);
        n *= (size_t)(metric_table_dim_end(d) - metric_table_dim_first(d));
    }
    return n;
}

static void test_metric_table_names_unique(void)
{
    TNames t = t_names_new();
    size_t expect = METRIC_ID_COUNT + SIMMETRIC_COUNT;
    for (int f = 0; f < METRIC_FAMILY_COUNT; f++)
        expect += t_family_size((MetricFamily)f);
    T_EQ_U64(t.dups, 0);
    T_EQ_U64(t.too_long, 0);
    T_EQ_U64(g_hash_table_size(t.kind), expect);
    g_hash_table_destroy(t.kind);
    TNames p = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), 0, 0};
    T_EQ_U64(metric_table_foreach(t_names_add, &p), expect - SIMMETRIC_COUNT);
    g_hash_table_destroy(p.kind);
}

static void test_metric_table_family_names(void)
{
    char b[METRIC_NAME_MAX];
    T_STR_EQ(metric_table_family_name(METRIC_FAM_NAT_CONFUSION, NAT_SYMMETRIC, NAT_UDP_BLOCKED, 0,
                                      b, sizeof b),
             "nat.detect.true=symmetric.detected=udp_blocked");
    T_STR_EQ(metric_table_family_name(METRIC_FAM_CALL_MATRIX, NAT_OPEN, NAT_FULL_CONE,
                                      NODE_CALL_PATH_HOLE_PUNCHED, b, sizeof b),
             "call.matrix.open.full_cone.hole_punched");
    T_STR_EQ(metric_table_family_name(METRIC_FAM_CALL_PSTN_MATRIX, NAT_TCP_ONLY,
                                      NODE_CALL_PATH_TCP_RELAY, 0, b, sizeof b),
             "call.matrix.tcp_80_443_only.pstn.tcp_relay");
    T_STR_EQ(metric_table_family_name(METRIC_FAM_LOGIN_BYTES_BY_PHASE, PH_NAT, 0, 0, b, sizeof b),
             "login.bytes.nat_detect");
    T_STR_EQ(
        metric_table_family_name(METRIC_FAM_LOGIN_SUCCESS_BY_NAT, NAT_UNKNOWN, 0, 0, b, sizeof b),
        "login.success.unknown");
    T_STR_EQ(
        metric_table_family_name(METRIC_FAM_CONF_LEG, NODE_CALL_PATH_DIRECT, 0, 0, b, sizeof b),
        "conf.leg.direct");
    T_STR_EQ(metric_table_name(METRIC_CALL_RELAYED_ACTIVE), "call.relayed_active");
    T_EQ_I64(metric_table_kind(METRIC_CALL_RELAYED_ACTIVE), ENV_METRIC_GAUGE);
    /* A pattern has one "%s" per used axis, and used axes come first. */
    for (int f = 0; f < METRIC_FAMILY_COUNT; f++) {
        const char *p = metric_table_family_pattern((MetricFamily)f);
        int holes = 0, used = 0;
        for (const char *h = p; (h = strstr(h, "%s")); h += 2)
            holes++;
        for (int a = 0; a < 3; a++)
            if (metric_table_family_dim((MetricFamily)f, a) != METRIC_DIM_NONE) {
                T_EQ_I64(used, a);
                used++;
            }
        T_METRIC(holes == used && used > 0, "holes vs used axes", p);
    }
}

/* The dimensions index the protocol's own enums. */
static void test_metric_table_dims_match_protocol(void)
{
    T_EQ_I64(metric_table_dim_end(METRIC_DIM_LOGIN_PHASE), PH_COUNT);
    T_EQ_I64(metric_table_dim_first(METRIC_DIM_LOGIN_PHASE), PH_NONE + 1);
    T_EQ_I64(metric_table_dim_end(METRIC_DIM_CALL_PATH), NODE_CALL_PATH_COUNT);
    T_EQ_I64(metric_table_dim_first(METRIC_DIM_CALL_PATH), NODE_CALL_PATH_NONE + 1);
    T_EQ_I64(metric_table_dim_end(METRIC_DIM_NAT), NAT_TYPE_COUNT);
    T_EQ_I64(metric_table_dim_end(METRIC_DIM_NAT_KNOWN), NAT_UNKNOWN);
    T_STR_EQ(metric_table_dim_name(METRIC_DIM_LOGIN_PHASE, PH_PROBE), "udp_probe");
    T_STR_EQ(metric_table_dim_name(METRIC_DIM_LOGIN_PHASE, PH_HTTP), "http");
    T_STR_EQ(metric_table_dim_name(METRIC_DIM_CALL_PATH, NODE_CALL_PATH_UDP_RELAY),
             node_call_path_name(NODE_CALL_PATH_UDP_RELAY));
    T_STR_EQ(metric_table_dim_name(METRIC_DIM_NAT, NAT_RESTRICTED), stun_nat_name(NAT_RESTRICTED));
}

/* ------------------------------------------------- the tables vs a world */

static char *t_source_path(const char *a, const char *b, const char *c)
{
    const char *src = g_getenv("SKYSIM_SOURCE_DIR");
    return g_build_filename(src ? src : "..", a, b, c, NULL);
}

/* Compares w's registry with the tables both ways. with_trace: whether the
 * world replays a churn trace (the churn.trace gauges exist only then). */
static void t_registry_matches(World *w, bool with_trace)
{
    Metrics *m = world_metrics(w);
    TNames t = t_names_new();
    for (uint32_t id = 1; id <= metrics_count(m); id++) {
        const char *name = metrics_name(m, id);
        gpointer k = g_hash_table_lookup(t.kind, name);
        T_METRIC(k != NULL, "interned but in no metric table", name);
        T_METRIC(!k || GPOINTER_TO_INT(k) - 1 == (int)metrics_kind(m, id),
                 "kind differs from the table", name);
    }
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, t.kind);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        if (!with_trace && g_str_has_prefix(key, "churn.trace.")) continue;
        T_METRIC(metrics_find(m, key) != 0, "in a metric table but never interned",
                 (const char *)key);
    }
    g_hash_table_destroy(t.kind);
}

static World *t_world_new(Scenario **scn, const char *path, const char *const *sets)
{
    GError *err = NULL;
    *scn = scenario_load_with(path, sets, &err);
    World *w = *scn ? world_new(scenario_spec_get(*scn), EVQ_BUCKET, NULL, &err) : NULL;
    if (err) fprintf(stderr, "%s\n", err->message);
    g_clear_error(&err);
    return w;
}

/* The baseline scenario with calls, conferences, searches and phone calls:
 * the registry after a few minutes is the tables' expansion. */
static void test_metric_table_registry_is_the_tables(void)
{
    char *path = t_source_path("scenarios", "baseline.json", NULL);
    const char *sets[] = {"population.clients=40",
                          "duration=4min",
                          "workload.call_rate=6",
                          "workload.search_rate=4",
                          "workload.pstn_share=0.2",
                          "workload.conference_share=0.3",
                          NULL};
    Scenario *scn = NULL;
    World *w = t_world_new(&scn, path, sets);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, 4 * TIMENS_MIN);
    t_registry_matches(w, false);
    world_free(w);
    scenario_free(scn);
    g_free(path);
}

/* With trace churn, the simulator's churn.trace gauges join the registry. */
static void test_metric_table_registry_with_trace_churn(void)
{
    char *dir = t_source_path("tests", "data", "traces");
    const char *json = "{\"seed\": 5, \"duration\": \"2min\", \"population\": {\"clients\": 4}, "
                       "\"churn\": {\"model\": \"trace\", \"trace\": {\"file\": \"good.avail\", "
                       "\"format\": \"avail\"}}}";
    GError *err = NULL;
    Scenario *scn = scenario_load_text(json, "test_metric_table", dir, &err);
    World *w = scn ? world_new(scenario_spec_get(scn), EVQ_BUCKET, NULL, &err) : NULL;
    if (err) fprintf(stderr, "%s\n", err->message);
    g_clear_error(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    world_run(w, 2 * TIMENS_MIN);
    t_registry_matches(w, true);
    T_NE_U64(world_simmetric_id(w, SIMMETRIC_CHURN_TRACE_NODES), 0);
    world_free(w);
    scenario_free(scn);
    g_free(dir);
}

/* ------------------------------------------ headline and time series */

static void t_rmtree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        char *p = g_build_filename(path, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            t_rmtree(p);
        else
            g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(path);
}

/* The value at a dotted results.json path whose keys may hold dots
 * ("metrics.login.success.value"), or NULL. */
static const cJSON *t_resolve(const cJSON *node, const char *path)
{
    if (*path == '\0') return node;
    for (const cJSON *it = cJSON_IsObject(node) ? node->child : NULL; it; it = it->next) {
        size_t n = strlen(it->string);
        if (strncmp(path, it->string, n) != 0 || (path[n] != '.' && path[n] != '\0')) continue;
        const cJSON *v = t_resolve(it, path[n] ? path + n + 1 : path + n);
        if (v) return v;
    }
    return NULL;
}

/* A whole run through runner_run: every headline number and every
 * time-series column is there; the run itself CHECKs that each metric
 * they read exists. */
static void test_metric_table_headline_and_columns(void)
{
    char *tmp = g_dir_make_tmp("test_metric_table-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    char *out = g_build_filename(tmp, "run", NULL),
         *path = t_source_path("scenarios", "baseline.json", NULL);
    const char *sets[] = {"population.clients=30", "duration=4min", "workload.call_rate=6",
                          "workload.search_rate=4", NULL};
    GError *err = NULL;
    Scenario *scn = scenario_load_with(path, sets, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(scn);
    RunnerOptions ro = {.out_dir = out, .queue = EVQ_BUCKET, .raise_sigint_at = -1};
    RunnerResult rr = {0};
    T_EQ_I64(runner_run(scn, &ro, &rr, &err), RUNNER_OK);
    /* The headline table (sim/world/headline.h) lists exactly the keys the
     * run writes: each of its keys is there, and there are no others. */
    for (int i = 0; i < headline_count(); i++)
        T_METRIC(rr.headline && cJSON_GetObjectItemCaseSensitive(rr.headline, headline_key(i)),
                 "headline key", headline_key(i));
    T_EQ_I64(cJSON_GetArraySize(rr.headline), (long long)headline_count());
    HeadlineInfo info;
    char *res_path = g_build_filename(out, "results.json", NULL), *res_text = NULL;
    T_TRUE(g_file_get_contents(res_path, &res_text, NULL, NULL));
    cJSON *rr_root = res_text ? cJSON_Parse(res_text) : NULL;
    int n_checked = 0;
    for (const cJSON *k = rr.headline ? rr.headline->child : NULL; k; k = k->next) {
        T_METRIC(headline_find(k->string, &info), "headline key missing from the table", k->string);
        /* Its value lies in the table's range (null: not computed). */
        T_TRUE(cJSON_IsNull(k) || (k->valuedouble >= info.lo && k->valuedouble <= info.hi));
        /* A fraction's trials are what it is a fraction of: paths of this
         * results.json whose sum times the fraction is a whole number. */
        char **parts = g_strsplit(info.trials, "+", -1);
        double trials = 0;
        for (size_t i = 0; *info.trials && parts[i]; i++) {
            const cJSON *v = rr_root ? t_resolve(rr_root, parts[i]) : NULL;
            T_METRIC(cJSON_IsNumber(v), "trials path not in results.json", parts[i]);
            trials += cJSON_IsNumber(v) ? v->valuedouble : NAN;
        }
        if (*info.trials && cJSON_IsNumber(k)) {
            double succ = k->valuedouble * trials;
            T_METRIC(trials > 0 && fabs(succ - round(succ)) < 1e-6 * trials, "fraction x trials", k->string);
            n_checked++;
        }
        g_strfreev(parts);
        headline_info_clear(&info);
    }
    T_TRUE(n_checked >= 5); /* logins, NAT detection, searches, calls, paths */
    cJSON_Delete(rr_root);
    g_free(res_text);
    g_free(res_path);
    T_TRUE(runner_headline_get(rr.headline, "login_success_rate") > 0);
    /* The time-series header is "time_s" and world_ts_columns. */
    const char *const *cols;
    size_t n = world_ts_columns(&cols);
    GString *hdr = g_string_new("time_s");
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(hdr, ",%s", cols[i]);
    g_string_append_c(hdr, '\n');
    char *ts_path = g_build_filename(out, "timeseries.csv", NULL), *ts = NULL;
    T_TRUE(g_file_get_contents(ts_path, &ts, NULL, NULL));
    T_TRUE(ts && g_str_has_prefix(ts, hdr->str));
    g_free(ts);
    g_free(ts_path);
    g_string_free(hdr, TRUE);
    runner_result_clear(&rr);
    scenario_free(scn);
    t_rmtree(tmp);
    g_free(path);
    g_free(out);
    g_free(tmp);
}

/* What a results.json path is, from the tables: headline keys by the
 * headline table, metrics by the protocol's and the simulator's tables. */
static void t_expect_path(const char *path, HeadlineRange range, double lo, double hi, const char *unit,
                          const char *label)
{
    HeadlineInfo info;
    headline_path_info(path, &info);
    T_METRIC(info.range == range, "range of", path);
    T_TRUE(info.lo == lo);
    T_TRUE(info.hi == hi);
    T_STR_EQ(info.unit, unit);
    T_STR_EQ(info.label, label);
    headline_info_clear(&info);
}

static void test_metric_table_results_paths(void)
{
    t_expect_path("headline.login_success_rate", HEADLINE_FRACTION, 0, 1, "", "login success rate");
    t_expect_path("headline.search_latency_mean_s", HEADLINE_NONNEG, 0, INFINITY, "s",
                  "mean search latency");
    t_expect_path("headline.calls_dropped", HEADLINE_COUNT, 0, INFINITY, "", "calls dropped");
    t_expect_path("headline.mos_mean", HEADLINE_SCORE, 1, 5, "MOS, 1 to 5", "mean opinion score of calls");
    t_expect_path("headline.no_such_key", HEADLINE_REAL, -INFINITY, INFINITY, "", "no_such_key");
    t_expect_path("metrics.login.time_s.p95", HEADLINE_NONNEG, 0, INFINITY, "s",
                  "login time, 95th percentile");
    t_expect_path("metrics.login.time_s.symmetric.count", HEADLINE_COUNT, 0, INFINITY, "",
                  "login time symmetric, observations");
    t_expect_path("metrics.login.attempts.value", HEADLINE_COUNT, 0, INFINITY, "", "login attempts");
    t_expect_path("metrics.relay.bandwidth_bps.mean", HEADLINE_NONNEG, 0, INFINITY, "bit/s",
                  "relay bandwidth, mean");
    t_expect_path("metrics.supernode.count.time_mean", HEADLINE_NONNEG, 0, INFINITY, "",
                  "supernode count, time average");
    t_expect_path("metrics.cpu.charged_ns.supernode.value", HEADLINE_COUNT, 0, INFINITY, "ns",
                  "cpu charged supernode");
    t_expect_path("metrics.no.such.metric.mean", HEADLINE_REAL, -INFINITY, INFINITY, "",
                  "metrics.no.such.metric.mean");
    t_expect_path("supernode_load.supernodes_by_clients.10-49", HEADLINE_COUNT, 0, INFINITY, "",
                  "supernodes holding 10-49 clients");
    t_expect_path("nat_detection.symmetric.symmetric", HEADLINE_COUNT, 0, INFINITY, "",
                  "nat_detection.symmetric.symmetric");
    t_expect_path("engine.events_per_s", HEADLINE_NONNEG, 0, INFINITY, "events/s", "engine.events_per_s");
    t_expect_path("seed", HEADLINE_REAL, -INFINITY, INFINITY, "", "seed");
}

T_SUITE_MAIN("metric_table", {"test_metric_table_names_unique", test_metric_table_names_unique},
             {"test_metric_table_family_names", test_metric_table_family_names},
             {"test_metric_table_dims_match_protocol", test_metric_table_dims_match_protocol},
             {"test_metric_table_registry_is_the_tables", test_metric_table_registry_is_the_tables},
             {"test_metric_table_registry_with_trace_churn",
              test_metric_table_registry_with_trace_churn},
             {"test_metric_table_headline_and_columns", test_metric_table_headline_and_columns},
             {"test_metric_table_results_paths", test_metric_table_results_paths})
