/* test_world_gateway: calls to phone numbers through the whole stack
 * (scenario -> world -> envsim -> sim/net NATs and firewalls -> protocol):
 * the world builds the phone gateway when workload.pstn_share > 0; a
 * public client, a client behind a symmetric NAT and a client whose
 * firewall blocks UDP each call a phone number, and the call takes the path
 * the NAT semantics allow (direct; UDP through the own NAT, the gateway
 * being public; TCP relay) with G.729 media: 10 ms frames, so 100 packets
 * per second each way, each 3 + 4 (a18's connection ID) + 24 bytes (12
 * bytes of media header, 2 of frame length, 10 of G.729 frame; 2 more
 * bytes of length prefix over TCP). */
#include "sim/world/world.h"

#include "t_assert.h"
#include "tworld.h"


/* Runs until peer i has no call, or the limit. */
static bool run_until_idle(TWorld *t, size_t i, TimeNs limit)
{
    Sim *sim = world_sim(t->w);
    TimeNs end = sim_now(sim) + limit;
    while (sim_now(sim) < end) {
        world_run(t->w, sim_now(sim) + 250 * TIMENS_MS);
        if (node_call_state(world_peer_node(t->w, i)) == NODE_CALL_IDLE) return true;
    }
    return false;
}

/* %s: the media execution ("replay" or "frames"). */
static const char *const gw_scenario =
    "{\"seed\": 31, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
    " \"media\": {\"execution\": \"%s\"},"
    " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
    " \"workload\": {\"call_rate\": 0, \"pstn_share\": 0.1},"
    " \"population\": {\"clients\": 3, \"groups\": ["
    "{\"name\": \"pub\", \"fraction\": 0.333334, \"nat\": \"none\"},"
    " {\"name\": \"sym\", \"fraction\": 0.333333, \"nat\": \"symmetric\"},"
    " {\"name\": \"fw\", \"fraction\": 0.333333, \"nat\": \"none\","
    " \"firewall\": \"udp_blocked\"}]}}";

/* Index of the gateway among the servers, or SIZE_MAX. */
static size_t find_gateway(TWorld *t)
{
    for (size_t i = 0; i < world_first_client(t->w); i++)
        if (world_peer_role(t->w, i) == NODE_ROLE_GATEWAY) return i;
    return SIZE_MAX;
}

/* The three phone calls of gw_scenario under media execution exec. */
static void phone_calls_take_the_allowed_path(const char *exec)
{
    TWorld t;
    char *js = g_strdup_printf(gw_scenario, exec);
    T_TRUE(tworld_new(&t, js, "test_world_gateway", NULL));
    g_free(js);
    size_t g = find_gateway(&t);
    T_CMP_I64(g, <, world_first_client(t.w));
    world_run(t.w, 2 * TIMENS_MIN);
    Node *gw = world_peer_node(t.w, g);
    T_TRUE(gw && node_state(gw) == NODE_ST_SERVING);
    T_EQ_I64(node_listen_port(gw), 12340);
    size_t c0 = world_first_client(t.w);
    static const struct {
        const char *label;  /* true NAT label */
        NodeCallPath path;  /* what the NAT semantics allow */
    } want[3] = {{"open", NODE_CALL_PATH_DIRECT},
                 {"symmetric", NODE_CALL_PATH_HOLE_PUNCHED},
                 {"udp_blocked", NODE_CALL_PATH_TCP_RELAY}};
    for (size_t k = 0; k < 3; k++) {
        Node *n = world_peer_node(t.w, c0 + k);
        T_TRUE(n && node_state(n) == NODE_ST_ONLINE);
        double p0 = tworld_metric(&t, "call.media.packets"), b0 = tworld_metric(&t, "call.media.bytes");
        T_TRUE(node_call_phone(n, "+15551230000", 10 * TIMENS_S));
        T_TRUE(run_until_idle(&t, c0 + k, 2 * TIMENS_MIN));
        world_run(t.w, sim_now(world_sim(t.w)) + TIMENS_S);
        char row[128];
        g_snprintf(row, sizeof row, "call.matrix.%s.pstn.%s", want[k].label,
                   node_call_path_name(want[k].path));
        if (tworld_metric(&t, row) < 1) fprintf(stderr, "%s: not %s\n", want[k].label, row);
        T_EQ_I64(tworld_metric(&t, row), 1);
        /* 10 s at 100 packets/s each way (+ at most 1 s of setup and teardown). */
        double pkts = tworld_metric(&t, "call.media.packets") - p0;
        double bytes = tworld_metric(&t, "call.media.bytes") - b0;
        T_CMP_I64(pkts, >=, 2 * 1000);
        T_CMP_I64(pkts, <=, 2 * 1000 + 200);
        T_EQ_I64(bytes, pkts * (3 + 4 + 24)); /* the same datagram over UDP and TCP */
        T_EQ_I64(node_gateway_calls(gw), 0);
    }
    T_EQ_I64(tworld_metric(&t, "gateway.calls"), 3);
    T_EQ_I64(tworld_metric(&t, "gateway.active"), 0);
    T_EQ_I64(tworld_metric(&t, "call.success"), 3);
    T_EQ_I64(tworld_metric(&t, "call.failure"), 0);
    T_EQ_I64(tworld_metric(&t, "call.path.direct"), 1);
    T_EQ_I64(tworld_metric(&t, "call.path.hole_punched"), 1);
    T_EQ_I64(tworld_metric(&t, "call.path.tcp_relay"), 1);
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "call.mos"), &s));
    T_EQ_I64(s.count, 6); /* one per direction */
    T_CMP_I64(s.mean * 10, >, 35); /* G.729 at no loss: R ~ 83 */
    tworld_free(&t);
}

static void test_world_gateway_phone_calls_take_the_allowed_path(void)
{
    phone_calls_take_the_allowed_path("replay");
}

/* The same calls with every G.729 frame encoded and decoded by bcg729 at
 * both ends (the gateway's decoders included). */
static void test_world_gateway_phone_calls_in_frames_execution(void)
{
    phone_calls_take_the_allowed_path("frames");
}

/* The workload places the phone calls it draws: every call is one. */
static void test_world_gateway_workload_places_phone_calls(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 32, \"duration\": \"30min\", \"network\": {\"loss\": 0},"
                          " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 2},"
                          " \"workload\": {\"call_rate\": 20, \"pstn_share\": 1,"
                          " \"call_duration\": {\"dist\": \"constant\", \"value\": 20}},"
                          " \"population\": {\"clients\": 6,"
                          " \"groups\": [{\"fraction\": 1, \"nat\": \"port_restricted_cone\"}]}}", "test_world_gateway", NULL));
    world_run(t.w, 30 * TIMENS_MIN);
    double calls = tworld_metric(&t, "gateway.calls");
    T_CMP_I64(calls, >=, 10);
    T_EQ_I64(tworld_metric(&t, "call.attempts"), tworld_metric(&t, "call.matrix.port_restricted_cone.pstn"
                                                      ".hole_punched") +
                                              tworld_metric(&t, "call.failure") +
                                              tworld_metric(&t, "call.active"));
    T_CMP_I64(tworld_metric(&t, "call.success"), >=, calls - 6);
    tworld_free(&t);
}

T_SUITE_MAIN("world_gateway",
             {"test_world_gateway_phone_calls_take_the_allowed_path",
              test_world_gateway_phone_calls_take_the_allowed_path},
             {"test_world_gateway_phone_calls_in_frames_execution",
              test_world_gateway_phone_calls_in_frames_execution},
             {"test_world_gateway_workload_places_phone_calls",
              test_world_gateway_workload_places_phone_calls})
