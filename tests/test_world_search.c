/* test_world_search: user searches end to end through the whole stack
 * (scenario -> world -> workload -> protocol over sim/net): with every
 * user online and few enough supernodes for the waves to cover them, every
 * search succeeds, with the slots index (the default), the random waves
 * and the DHT; the time series counts the searches; the index keeps a
 * user who logged out for 72 h and no longer (a29). */
#include "sim/world/world.h"

#include <string.h>

#include "t_assert.h"
#include "tworld.h"

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

static void test_world_search_slots_all_found(void)
{
    double ok, fail;
    run_world("slots", &ok, &fail);
    T_CMP_I64(ok, >=, 40);
    T_EQ_I64(fail, 0);
}

/* One search by peer `from` for `user`, run to its end: whether it found. */
static bool search_once(TWorld *t, size_t from, const char *user)
{
    double before = tworld_metric(t, "search.success") + tworld_metric(t, "search.failure");
    double found = tworld_metric(t, "search.success");
    T_TRUE(node_search(world_peer_node(t->w, from), user));
    world_run(t->w, sim_now(world_sim(t->w)) + 2 * TIMENS_MIN);
    T_EQ_I64(tworld_metric(t, "search.success") + tworld_metric(t, "search.failure"), before + 1);
    return tworld_metric(t, "search.success") > found;
}

/* a29 in a small world: the slots index finds a user who logged out 71 h
 * ago and not one who logged out 73 h ago, and its record was dropped
 * (expired) rather than kept and ignored. Dedicated supernodes beside the
 * bootstraps form the ring; no churn, no workload of its own. */
static void test_world_search_index_keeps_72_hours(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t,
                      "{\"seed\": 6, \"duration\": \"80h\","
                      " \"population\": {\"clients\": 12, \"groups\": ["
                      "   {\"name\": \"nat\", \"fraction\": 1, \"nat\": \"port_restricted_cone\"}]},"
                      " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 6},"
                      " \"churn\": {\"model\": \"none\", \"ramp\": \"2s\"},"
                      " \"workload\": {\"search_rate\": 0, \"call_rate\": 0,"
                      "   \"buddies\": {\"dist\": \"constant\", \"value\": 0}}}",
                      "test_world_search", NULL));
    world_run(t.w, 10 * TIMENS_MIN);
    size_t c0 = world_first_client(t.w), searcher = c0, gone = c0 + 1, other = c0 + 2;
    char user[32], user2[32];
    world_peer_username(t.w, gone, user, sizeof user);
    world_peer_username(t.w, other, user2, sizeof user2);
    T_TRUE(search_once(&t, searcher, user)); /* online */
    T_EQ_I64(tworld_metric(&t, "search.target.online.found"), 1);
    world_peer_logout(t.w, gone);
    world_run(t.w, sim_now(world_sim(t.w)) + 71 * TIMENS_H - 2 * TIMENS_MIN);
    T_EQ_I64(tworld_metric(&t, "search.index.expired"), 0);
    T_TRUE(search_once(&t, searcher, user)); /* 71 h after the logout */
    T_EQ_I64(tworld_metric(&t, "search.target.recent.found"), 1);
    world_run(t.w, sim_now(world_sim(t.w)) + 2 * TIMENS_H);
    T_CMP_I64(tworld_metric(&t, "search.index.expired"), >=, 1);
    T_FALSE(search_once(&t, searcher, user)); /* 73 h */
    T_EQ_I64(tworld_metric(&t, "search.target.old.absent"), 1);
    T_TRUE(search_once(&t, searcher, user2)); /* the index still finds everyone online */
    T_EQ_I64(tworld_metric(&t, "search.target.online.found"), 2);
    tworld_free(&t);
}

T_SUITE_MAIN("world_search",
             {"test_world_search_expanding_all_found", test_world_search_expanding_all_found},
             {"test_world_search_dht_all_found", test_world_search_dht_all_found},
             {"test_world_search_slots_all_found", test_world_search_slots_all_found},
             {"test_world_search_index_keeps_72_hours", test_world_search_index_keeps_72_hours})
