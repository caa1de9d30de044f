/* test_conf: conferences (protocol/conf.c) through a small world: five
 * public clients, the strongest one not the organiser. The elected host is
 * the strongest participant and carries 2(N-1) streams (a43); the full mesh
 * carries N(N-1); a member leaving, and the host leaving, are handled; legs
 * that cannot punch go through UDP and TCP relays. */
#include "sim/world/world.h"

#include "t_assert.h"

#define N 5

typedef struct TWorld {
    Scenario *scn; /* owned */
    World *w;      /* owned */
    size_t c0;     /* first client peer */
} TWorld;

/* Four desktop clients then one server-class client, all public; media
 * as the JSON object media says. */
static void tworld_new_media(TWorld *t, bool mesh, const char *media)
{
    char js[1024];
    g_snprintf(js, sizeof js,
               "{\"seed\": 31, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
               " \"media\": %s,"
               " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 2},"
               " \"workload\": {\"call_rate\": 0, \"conference_mesh\": %s},"
               " \"population\": {\"clients\": %d, \"groups\": ["
               "{\"name\": \"weak\", \"fraction\": 0.8, \"nat\": \"none\", \"cpu\": \"desktop\"},"
               "{\"name\": \"strong\", \"fraction\": 0.2, \"nat\": \"none\", \"cpu\": \"server\"}]}}",
               media, mesh ? "true" : "false", N);
    GError *err = NULL;
    t->scn = scenario_load_text(js, "test_conf", NULL, &err);
    if (!t->scn) fprintf(stderr, "scenario: %s\n", err->message);
    CU_ASSERT_FATAL(t->scn != NULL);
    t->w = world_new(scenario_spec_get(t->scn), EVQ_BUCKET, NULL, &err);
    CU_ASSERT_FATAL(t->w != NULL);
    world_run(t->w, 2 * TIMENS_MIN);
    t->c0 = world_first_client(t->w);
}

static void tworld_new(TWorld *t, bool mesh)
{
    tworld_new_media(t, mesh, "{}");
}

static void tworld_free(TWorld *t)
{
    world_free(t->w);
    scenario_free(t->scn);
}

static Node *peer(TWorld *t, size_t k)
{
    return world_peer_node(t->w, t->c0 + k);
}

static double metric(TWorld *t, const char *name)
{
    Metrics *m = world_metrics(t->w);
    uint32_t id = metrics_find(m, name);
    return id ? metrics_value(m, id) : 0;
}

/* Client 0 invites clients 1..N-1 for a minute; runs 20 s. */
static void start_conference(TWorld *t)
{
    char names[N - 1][32];
    const char *ptr[N - 1];
    for (size_t k = 1; k < N; k++) {
        T_TRUE(node_state(peer(t, k)) == NODE_ST_ONLINE);
        g_snprintf(names[k - 1], sizeof names[k - 1], "user%zu", t->c0 + k);
        ptr[k - 1] = names[k - 1];
    }
    T_TRUE(node_conf_start(peer(t, 0), ptr, N - 1, TIMENS_MIN));
    world_run(t->w, sim_now(world_sim(t->w)) + 20 * TIMENS_S);
}

/* Streams each client sends and receives now, and which one hosts. */
static int census(TWorld *t, size_t *out, size_t *in, size_t *parts)
{
    int host = -1;
    for (size_t k = 0; k < N; k++) {
        bool is_host = false;
        out[k] = in[k] = parts[k] = 0;
        if (!node_conf_info(peer(t, k), &parts[k], &is_host, &out[k], &in[k])) continue;
        if (is_host) host = (int)k;
    }
    return host;
}

static void test_conf_host_is_strongest_and_carries_2n_minus_2(void)
{
    TWorld t;
    tworld_new(&t, false);
    start_conference(&t);
    size_t out[N], in[N], parts[N];
    int host = census(&t, out, in, parts);
    T_EQ_I64(host, N - 1); /* the server-class client, not the organiser */
    T_EQ_I64(out[host] + in[host], 2 * (N - 1));
    for (size_t k = 0; k < N - 1; k++) {
        T_EQ_I64(parts[k], N);
        T_EQ_I64(out[k], 1);
        T_EQ_I64(in[k], 1); /* the host's mix arrives */
    }
    T_EQ_I64(metric(&t, "conf.streams"), 2 * (N - 1));
    T_CMP_I64(metric(&t, "conf.mixes"), >, 0);
    T_CMP_I64(metric(&t, "conf.host_bytes"), >, 0);
    world_run(t.w, sim_now(world_sim(t.w)) + 2 * TIMENS_MIN); /* the conference ends */
    T_EQ_I64(node_call_state(peer(&t, 0)), NODE_CALL_IDLE);
    T_EQ_I64(metric(&t, "conf.streams"), 0);
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "conf.mos"), &s));
    T_EQ_I64(s.count, 2 * (N - 1)); /* every stream received, host and members */
    T_CMP_I64(s.mean * 10, >, 35);
    /* The host's CPU spent on the conference (decode N-1, mix, encode N-1 per
     * frame), as charged: one sample, positive. */
    T_TRUE(metrics_summary(m, metrics_find(m, "conf.host_cpu_ns"), &s));
    T_EQ_I64(s.count, 1);
    T_CMP_I64(s.mean, >, 0);
    tworld_free(&t);
}

static void test_conf_mesh_carries_n_times_n_minus_1(void)
{
    TWorld t;
    tworld_new(&t, true);
    start_conference(&t);
    size_t out[N], in[N], parts[N];
    (void)census(&t, out, in, parts);
    size_t total = 0;
    for (size_t k = 0; k < N; k++) {
        T_EQ_I64(out[k], N - 1);
        T_EQ_I64(in[k], N - 1);
        total += out[k];
    }
    T_EQ_I64(total, N * (N - 1));
    T_EQ_I64(metric(&t, "conf.streams"), N * (N - 1));
    T_EQ_I64(metric(&t, "conf.mixes"), 0);
    T_EQ_I64(metric(&t, "conf.leg.direct"), N * (N - 1)); /* every leg, at its receiver */
    T_EQ_I64(metric(&t, "conf.leg.failed"), 0);
    tworld_free(&t);
}

static void test_conf_participant_and_host_leaving(void)
{
    TWorld t;
    tworld_new(&t, false);
    start_conference(&t);
    node_conf_leave(peer(&t, 1)); /* a member leaves: the host mixes for three */
    world_run(t.w, sim_now(world_sim(t.w)) + 5 * TIMENS_S);
    size_t out[N], in[N], parts[N];
    int host = census(&t, out, in, parts);
    T_EQ_I64(host, N - 1);
    T_EQ_I64(parts[0], N - 1);
    T_EQ_I64(out[host] + in[host], 2 * (N - 2));
    T_EQ_I64(node_call_state(peer(&t, 1)), NODE_CALL_IDLE);
    node_conf_leave(peer(&t, N - 1)); /* the host leaves: the others elect the organiser */
    world_run(t.w, sim_now(world_sim(t.w)) + 5 * TIMENS_S);
    host = census(&t, out, in, parts);
    T_EQ_I64(host, 0);
    T_EQ_I64(out[0] + in[0], 2 * (N - 3));
    T_EQ_I64(in[2], 1);
    T_EQ_I64(in[3], 1);
    T_EQ_I64(metric(&t, "conf.left"), 2);
    tworld_free(&t);
}

/* Two clients per situation, each on its own NAT: a server-class client
 * behind a port-restricted cone NAT (the host), desktops behind symmetric
 * NATs, desktops with UDP blocked. */
static void tworld_new_nat(TWorld *t, bool mesh)
{
    char js[1024];
    g_snprintf(js, sizeof js,
        "{\"seed\": 37, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
        " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
        " \"workload\": {\"call_rate\": 0, \"conference_mesh\": %s},"
        " \"population\": {\"clients\": 6, \"groups\": ["
        "{\"name\": \"host\", \"fraction\": 0.333334, \"nat\": \"port_restricted_cone\","
        " \"cpu\": \"server\"},"
        "{\"name\": \"sym\", \"fraction\": 0.333333, \"nat\": \"symmetric\", \"cpu\": \"desktop\"},"
        "{\"name\": \"blocked\", \"fraction\": 0.333333, \"nat\": \"none\","
        " \"firewall\": \"udp_blocked\", \"cpu\": \"desktop\"}]}}", mesh ? "true" : "false");
    GError *err = NULL;
    t->scn = scenario_load_text(js, "test_conf", NULL, &err);
    if (!t->scn) fprintf(stderr, "scenario: %s\n", err->message);
    CU_ASSERT_FATAL(t->scn != NULL);
    t->w = world_new(scenario_spec_get(t->scn), EVQ_BUCKET, NULL, &err);
    CU_ASSERT_FATAL(t->w != NULL);
    world_run(t->w, 2 * TIMENS_MIN);
    t->c0 = world_first_client(t->w);
}

/* The host (port-restricted cone) cannot be reached by hole punching from
 * a symmetric NAT, and a member without UDP has no UDP at all: their legs
 * go through a UDP relay and a TCP relay; media flows both ways on both. */
static void test_conf_legs_relay_through_nats(void)
{
    TWorld t;
    tworld_new_nat(&t, false);
    const size_t host = 0, sym = 2, blocked = 4; /* groups fill in order */
    char names[2][32];
    const char *ptr[2] = {names[0], names[1]};
    for (size_t k = 0; k < 6; k++) T_TRUE(node_state(peer(&t, k)) == NODE_ST_ONLINE);
    g_snprintf(names[0], sizeof names[0], "user%zu", t.c0 + host);
    g_snprintf(names[1], sizeof names[1], "user%zu", t.c0 + blocked);
    T_TRUE(node_conf_start(peer(&t, sym), ptr, 2, TIMENS_MIN)); /* a member organises */
    world_run(t.w, sim_now(world_sim(t.w)) + 30 * TIMENS_S);
    size_t parts, out, in;
    bool is_host;
    T_TRUE(node_conf_info(peer(&t, host), &parts, &is_host, &out, &in));
    T_TRUE(is_host);
    T_EQ_I64(parts, 3);
    T_EQ_I64(in, 2); /* both members' streams arrive */
    const size_t members[2] = {sym, blocked};
    for (size_t k = 0; k < 2; k++) {
        T_TRUE(node_conf_info(peer(&t, members[k]), &parts, &is_host, &out, &in));
        T_TRUE(!is_host);
        T_EQ_I64(in, 1); /* the host's mix arrives */
    }
    T_EQ_I64(metric(&t, "conf.leg.udp_relay"), 1);
    T_EQ_I64(metric(&t, "conf.leg.tcp_relay"), 1);
    T_EQ_I64(metric(&t, "conf.leg.hole_punched") + metric(&t, "conf.leg.direct"), 0);
    T_EQ_I64(metric(&t, "conf.leg.failed"), 0);
    T_CMP_I64(metric(&t, "relay.bytes"), >, 0);
    world_run(t.w, sim_now(world_sim(t.w)) + 2 * TIMENS_MIN); /* the conference ends */
    T_EQ_I64(node_call_state(peer(&t, sym)), NODE_CALL_IDLE);
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "conf.mos"), &s));
    T_EQ_I64(s.count, 4); /* every stream received: two at the host, one per member */
    T_CMP_I64(s.mean * 10, >, 35);
    T_EQ_I64(metric(&t, "conf.rx_streams"), 4);
    T_EQ_I64(metric(&t, "conf.rx_streams_with_media"), 4);
    tworld_free(&t);
}

/* Sum of the "conf.leg.<path>" counters: legs that carried media. */
static double legs_up(TWorld *t)
{
    return metric(t, "conf.leg.direct") + metric(t, "conf.leg.hole_punched") +
           metric(t, "conf.leg.udp_relay") + metric(t, "conf.leg.tcp_relay");
}

/* A full mesh through NATs: the two port-restricted cone clients punch
 * holes to each other; a symmetric NAT facing a port-restricted one, a
 * symmetric NAT facing the other, and a client without UDP get no media.
 * Every one of the N(N-1) legs (a direction, at its receiver) either
 * carries media or is counted in conf.leg.failed; none is silent. */
static void test_conf_mesh_legs_carry_media_or_are_counted_failed(void)
{
    TWorld t;
    tworld_new_nat(&t, true);
    const size_t org = 2, invited[3] = {0, 1, 4}; /* sym; prc, prc, blocked */
    char names[3][32];
    const char *ptr[3];
    for (size_t k = 0; k < 3; k++) {
        g_snprintf(names[k], sizeof names[k], "user%zu", t.c0 + invited[k]);
        ptr[k] = names[k];
    }
    T_TRUE(node_conf_start(peer(&t, org), ptr, 3, TIMENS_MIN));
    world_run(t.w, sim_now(world_sim(t.w)) + 30 * TIMENS_S);
    const size_t who[4] = {org, 0, 1, 4};
    size_t in_sum = 0, parts, out, in;
    bool is_host;
    for (size_t k = 0; k < 4; k++) {
        T_TRUE(node_conf_info(peer(&t, who[k]), &parts, &is_host, &out, &in));
        T_EQ_I64(parts, 4);
        T_EQ_I64(out, 3);
        in_sum += in;
    }
    T_EQ_I64(metric(&t, "conf.leg.hole_punched"), 2); /* prc <-> prc, both ways */
    T_EQ_I64(legs_up(&t), in_sum);
    T_EQ_I64(metric(&t, "conf.leg.failed"), 4 * 3 - 2);
    T_EQ_I64(legs_up(&t) + metric(&t, "conf.leg.failed"), 4 * 3);
    world_run(t.w, sim_now(world_sim(t.w)) + 2 * TIMENS_MIN); /* the conference ends */
    T_EQ_I64(metric(&t, "conf.rx_streams"), 12);
    T_EQ_I64(metric(&t, "conf.rx_streams_with_media"), 2);
    tworld_free(&t);
}

/* A world configured for G.729 holds its conferences in G.729 (bcg729 at
 * the host's mixing decoders and encoders, every frame run): every media
 * packet at the host is 4 + 24 bytes, every stream arrives. */
static void test_conf_uses_the_configured_codec(void)
{
    TWorld t;
    tworld_new_media(&t, false, "{\"codec\": \"g729\", \"execution\": \"frames\"}");
    start_conference(&t);
    size_t out[N], in[N], parts[N];
    int host = census(&t, out, in, parts);
    T_EQ_I64(host, N - 1);
    T_EQ_I64(in[host], N - 1);
    double bytes = metric(&t, "conf.host_bytes");
    T_CMP_I64(bytes, >, 0);
    T_EQ_I64((int64_t)bytes % 28, 0);
    /* 100 mixes a second (10 ms frames) for each of the N-1 members. */
    T_CMP_I64(metric(&t, "conf.mixes"), >=, 19 * 100 * (N - 1));
    world_run(t.w, sim_now(world_sim(t.w)) + 2 * TIMENS_MIN); /* the conference ends */
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "conf.mos"), &s));
    T_EQ_I64(s.count, 2 * (N - 1));
    T_CMP_I64(s.mean * 10, >, 35);
    T_EQ_I64(metric(&t, "conf.rx_streams_with_media"), 2 * (N - 1));
    tworld_free(&t);
}

T_SUITE_MAIN("conf",
             {"test_conf_host_is_strongest_and_carries_2n_minus_2",
              test_conf_host_is_strongest_and_carries_2n_minus_2},
             {"test_conf_mesh_carries_n_times_n_minus_1", test_conf_mesh_carries_n_times_n_minus_1},
             {"test_conf_participant_and_host_leaving", test_conf_participant_and_host_leaving},
             {"test_conf_legs_relay_through_nats", test_conf_legs_relay_through_nats},
             {"test_conf_mesh_legs_carry_media_or_are_counted_failed",
              test_conf_mesh_legs_carry_media_or_are_counted_failed},
             {"test_conf_uses_the_configured_codec", test_conf_uses_the_configured_codec})
