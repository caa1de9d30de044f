/* test_world_search: user searches end to end through the whole stack
 * (scenario -> world -> workload -> protocol over sim/net): with every
 * user online and few enough supernodes for the waves to cover them, every
 * search succeeds; the DHT organisation does too; the time series counts
 * the searches. */
#include "sim/world/world.h"

#include <string.h>

#include "t_assert.h"

static const char *const SCN =
    "{\"name\": \"search\", \"seed\": 5, \"duration\": \"15min\","
    " \"population\": {\"clients\": 40, \"groups\": ["
    "   {\"name\": \"pub\", \"fraction\": 0.5, \"nat\": \"none\"},"
    "   {\"name\": \"nat\", \"fraction\": 0.5, \"nat\": \"port_restricted_cone\"}]},"
    " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
    " \"churn\": {\"model\": \"none\", \"ramp\": \"2s\"},"
    " \"workload\": {\"search_rate\": 12, \"call_rate\": 0,"
    "   \"buddies\": {\"dist\": \"constant\", \"value\": 4}},"
    " \"protocol\": {\"search\": \"%s\"}}";

static void run_world(const char *mode, double *ok, double *fail)
{
    char json[1024];
    g_snprintf(json, sizeof json, SCN, mode);
    GError *err = NULL;
    Scenario *scn = scenario_load_text(json, "test_world_search", NULL, &err);
    if (!scn) fprintf(stderr, "scenario: %s\n", err->message);
    T_TRUE(scn != NULL);
    World *w = world_new(scenario_spec_get(scn), EVQ_BUCKET, NULL, &err);
    T_TRUE(w != NULL);
    world_run(w, scenario_spec_get(scn)->duration_ns);
    Metrics *m = world_metrics(w);
    *ok = metrics_value(m, metrics_find(m, "search.success"));
    *fail = metrics_value(m, metrics_find(m, "search.failure"));
    const char *const *names;
    size_t nc = world_ts_columns(&names);
    double row[32];
    T_CMP_I64(nc, <=, 32);
    world_ts_row(w, row);
    size_t col = 0; /* the "searches" column, wherever later columns are appended */
    while (col < nc && strcmp(names[col], "searches") != 0) col++;
    T_CMP_I64(col, <, nc);
    T_EQ_I64(row[col], *ok + *fail);
    T_CMP_I64(metrics_value(m, metrics_find(m, "presence.updates")), >, 0);
    world_free(w);
    scenario_free(scn);
}

static void test_world_search_expanding_all_found(void)
{
    double ok, fail;
    run_world("expanding", &ok, &fail);
    T_CMP_I64(ok, >=, 40); /* about 40 users x 12/h x 1/4 h = 120 */
    T_EQ_I64(fail, 0);     /* success rate 1 for online targets */
}

static void test_world_search_dht_all_found(void)
{
    double ok, fail;
    run_world("dht", &ok, &fail);
    T_CMP_I64(ok, >=, 40);
    T_EQ_I64(fail, 0);
}

T_SUITE_MAIN("world_search",
             {"test_world_search_expanding_all_found", test_world_search_expanding_all_found},
             {"test_world_search_dht_all_found", test_world_search_dht_all_found})
