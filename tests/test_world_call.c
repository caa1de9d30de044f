/* test_world_call: calls through the whole stack (scenario -> world ->
 * envsim -> sim/net NATs and firewalls -> protocol): one call for every
 * ordered pair of (caller, callee) situations among public, each NAT
 * preset and each firewall preset, asserting the path the NAT semantics
 * allow (the in-simulator call tests), located through the index without
 * a message between supernodes (the LOCATE flood option does send them);
 * the media counts of a relayed call of known length. */
#include "sim/world/world.h"

#include <glib/gstdio.h>

#include "sim/net/pcap.h"

#include "t_assert.h"
#include "tworld.h"


/* Situations: group JSON and the true NAT label it gets. */
typedef struct Situation {
    const char *json; /* group keys */
    NatType nat;      /* its label */
} Situation;

static const Situation sits[] = {
    {"\"nat\": \"none\"", NAT_OPEN},
    {"\"nat\": \"full_cone\"", NAT_FULL_CONE},
    {"\"nat\": \"restricted_cone\"", NAT_RESTRICTED},
    {"\"nat\": \"port_restricted_cone\"", NAT_PORT_RESTRICTED},
    {"\"nat\": \"symmetric\"", NAT_SYMMETRIC},
    {"\"nat\": \"none\", \"firewall\": \"stateful\"", NAT_SYMMETRIC_FIREWALL},
    {"\"nat\": \"none\", \"firewall\": \"udp_blocked\"", NAT_UDP_BLOCKED},
    {"\"nat\": \"symmetric\", \"firewall\": \"tcp_80_443_only\"", NAT_TCP_ONLY},
};
#define NSIT G_N_ELEMENTS(sits)

/* What the NAT semantics allow (RFC 4787 behaviours of the presets): no
 * UDP at one end -> TCP relay; both public and unfiltered -> direct; a
 * symmetric NAT (new port per destination) against an end that filters on
 * address and port (port-restricted, symmetric, stateful firewall) cannot
 * punch -> UDP relay; everything else punches. */
static NodeCallPath expected(NatType a, NatType b)
{
    if (a == NAT_UDP_BLOCKED || a == NAT_TCP_ONLY || b == NAT_UDP_BLOCKED || b == NAT_TCP_ONLY)
        return NODE_CALL_PATH_TCP_RELAY;
    if (a == NAT_OPEN && b == NAT_OPEN) return NODE_CALL_PATH_DIRECT;
    bool apdf_a = a == NAT_PORT_RESTRICTED || a == NAT_SYMMETRIC || a == NAT_SYMMETRIC_FIREWALL;
    bool apdf_b = b == NAT_PORT_RESTRICTED || b == NAT_SYMMETRIC || b == NAT_SYMMETRIC_FIREWALL;
    if ((a == NAT_SYMMETRIC && apdf_b) || (b == NAT_SYMMETRIC && apdf_a))
        return NODE_CALL_PATH_UDP_RELAY;
    return NODE_CALL_PATH_HOLE_PUNCHED;
}

/* The largest observation of sample `name`, which must hold n. */
static double setup_max(const TWorld *t, const char *name, unsigned n)
{
    Metrics *m = world_metrics(t->w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, name), &s));
    T_EQ_U64(s.count, n);
    return s.max;
}

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

/* After the 2-minute warm-up, the world's first client calls the second
 * for dur and the test waits until the caller is idle again; returns the
 * first client's index. */
static size_t call_first_to_second(TWorld *t, TimeNs dur)
{
    world_run(t->w, 2 * TIMENS_MIN);
    size_t c0 = world_first_client(t->w);
    char user[32];
    world_peer_username(t->w, c0 + 1, user, sizeof user);
    T_TRUE(node_call(world_peer_node(t->w, c0), user, dur));
    T_TRUE(run_until_idle(t, c0, 2 * TIMENS_MIN));
    return c0;
}

/* Two clients per situation (each on its own NAT), dedicated supernodes;
 * every situation calls every situation (the other client of its own
 * situation included) once, one call at a time. */
static void test_world_call_every_pair_takes_the_allowed_path(void)
{
    GString *js = g_string_new(NULL);
    g_string_printf(js, "{\"seed\": 21, \"duration\": \"3h\", \"network\": {\"loss\": 0},"
                        " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
                        " \"workload\": {\"call_rate\": 0},"
                        " \"population\": {\"clients\": %zu, \"groups\": [", 2 * NSIT);
    for (size_t i = 0; i < NSIT; i++)
        g_string_append_printf(js, "%s{\"name\": \"s%zu\", \"fraction\": %.6f, %s}", i ? ", " : "",
                               i, 1.0 / NSIT, sits[i].json);
    g_string_append(js, "]}}");
    TWorld t;
    T_TRUE(tworld_new(&t, js->str, "test_world_call", NULL));
    world_run(t.w, 2 * TIMENS_MIN);
    size_t c0 = world_first_client(t.w);
    T_EQ_I64(world_peer_count(t.w) - c0, 2 * NSIT);
    unsigned calls = 0;
    for (size_t a = 0; a < NSIT; a++)
        for (size_t b = 0; b < NSIT; b++) {
            size_t pa = c0 + 2 * a, pb = c0 + 2 * b + 1; /* groups fill in order */
            Node *na = world_peer_node(t.w, pa);
            T_TRUE(na && node_state(na) == NODE_ST_ONLINE);
            char user[32];
            g_snprintf(user, sizeof user, "user%zu", pb);
            T_TRUE(node_call(na, user, 3 * TIMENS_S));
            calls++;
            T_TRUE(run_until_idle(&t, pa, 2 * TIMENS_MIN));
            T_TRUE(run_until_idle(&t, pb, 30 * TIMENS_S));
            NodeCallPath want = expected(sits[a].nat, sits[b].nat);
            char name[128];
            g_snprintf(name, sizeof name, "call.matrix.%s.%s.%s", stun_nat_name(sits[a].nat),
                       stun_nat_name(sits[b].nat), node_call_path_name(want));
            if (tworld_metric(&t, name) < 1) fprintf(stderr, "pair %s -> %s: not %s\n",
                                              stun_nat_name(sits[a].nat),
                                              stun_nat_name(sits[b].nat),
                                              node_call_path_name(want));
            T_CMP_I64(tworld_metric(&t, name), >=, 1);
        }
    T_EQ_I64(tworld_metric(&t, "call.attempts"), calls);
    T_EQ_I64(tworld_metric(&t, "call.success"), calls);
    T_EQ_I64(tworld_metric(&t, "call.failure"), 0);
    T_EQ_I64(tworld_metric(&t, "call.dropped"), 0);
    /* Located through the index, signalled over TCP: nothing went from
     * supernode to supernode, nothing arrived twice, and each end's link
     * carried a few KB of signalling per setup at most. */
    T_EQ_I64(tworld_metric(&t, "supernode.peer_signal_bytes"), 0);
    T_EQ_I64(tworld_metric(&t, "call.signal_duplicates"), 0);
    T_EQ_I64(tworld_metric(&t, "supernode.forward.duplicates"), 0);
    T_EQ_I64(setup_max(&t, "call.setup.caller_bytes", calls) +
                 setup_max(&t, "call.setup.callee_bytes", calls) <= 10000, 1);
    g_string_free(js, TRUE);
    tworld_free(&t);
}

/* The same kind of call with the first implementation's LOCATE flood
 * (protocol.call_locate "flood"): the flood crosses the supernode links,
 * so the counter the test above holds at 0 does count it. */
static void test_world_call_flood_crosses_supernode_links(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t,
                      "{\"seed\": 24, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
                      " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
                      " \"workload\": {\"call_rate\": 0}, \"protocol\": {\"call_locate\": \"flood\"},"
                      " \"population\": {\"clients\": 2, \"groups\": [{\"name\": \"n\", \"fraction\": 1,"
                      " \"nat\": \"port_restricted_cone\"}]}}",
                      "test_world_call", NULL));
    (void)call_first_to_second(&t, 3 * TIMENS_S);
    T_EQ_I64(tworld_metric(&t, "call.success"), 1);
    T_CMP_I64(tworld_metric(&t, "supernode.peer_signal_bytes"), >, 0);
    tworld_free(&t);
}

/* Calls counted by the callee's true state when dialled, and failures by
 * cause: a free callee connects; a callee in another call answers BUSY; a
 * callee who logged out long ago is not located. */
static void test_world_call_outcomes_by_callee_state(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t,
                      "{\"seed\": 25, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
                      " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
                      " \"workload\": {\"call_rate\": 0},"
                      " \"protocol\": {\"presence_ttl\": \"10min\"},"
                      " \"population\": {\"clients\": 4, \"groups\": [{\"name\": \"n\", \"fraction\": 1,"
                      " \"nat\": \"none\"}]}}",
                      "test_world_call", NULL));
    world_run(t.w, 2 * TIMENS_MIN);
    size_t c0 = world_first_client(t.w);
    char u1[32], u3[32];
    world_peer_username(t.w, c0 + 1, u1, sizeof u1);
    world_peer_username(t.w, c0 + 3, u3, sizeof u3);
    /* 0 calls 1 (free) for a minute; meanwhile 2 calls 1 (busy). */
    T_TRUE(node_call(world_peer_node(t.w, c0), u1, TIMENS_MIN));
    world_run(t.w, sim_now(world_sim(t.w)) + 10 * TIMENS_S);
    T_EQ_I64(tworld_metric(&t, "call.target.free.connected"), 0); /* counted when it ends */
    T_TRUE(node_call(world_peer_node(t.w, c0 + 2), u1, TIMENS_MIN));
    T_TRUE(run_until_idle(&t, c0 + 2, TIMENS_MIN));
    T_TRUE(run_until_idle(&t, c0, 2 * TIMENS_MIN));
    T_EQ_I64(tworld_metric(&t, "call.target.free.connected"), 1);
    T_EQ_I64(tworld_metric(&t, "call.target.free.failed"), 0);
    T_EQ_I64(tworld_metric(&t, "call.target.busy.failed"), 1);
    T_EQ_I64(tworld_metric(&t, "call.failed.busy"), 1);
    /* 3 logs out; past presence_ttl the index has forgotten it. */
    world_peer_logout(t.w, c0 + 3);
    world_run(t.w, sim_now(world_sim(t.w)) + 15 * TIMENS_MIN);
    T_TRUE(node_call(world_peer_node(t.w, c0), u3, TIMENS_MIN));
    T_TRUE(run_until_idle(&t, c0, 2 * TIMENS_MIN));
    T_EQ_I64(tworld_metric(&t, "call.target.offline.failed"), 1);
    T_EQ_I64(tworld_metric(&t, "call.failed.not_located"), 1);
    T_EQ_I64(tworld_metric(&t, "call.failure"), 2);
    /* 2 is free when dialled and its host dies at once: a failed call to a
     * free callee, counted with the caller's cause of failure. */
    char u2[32];
    world_peer_username(t.w, c0 + 2, u2, sizeof u2);
    T_TRUE(node_call(world_peer_node(t.w, c0), u2, TIMENS_MIN));
    world_peer_crash(t.w, c0 + 2);
    T_TRUE(run_until_idle(&t, c0, 2 * TIMENS_MIN));
    T_EQ_I64(tworld_metric(&t, "call.target.free.failed"), 1);
    T_EQ_I64(tworld_metric(&t, "call.failure"), 3);
    static const char *const causes[] = {"not_located", "no_answer", "busy", "refused",
                                         "signalling", "no_path", "no_supernode"};
    double by_cause = 0, caller_cause = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(causes); i++) {
        char name[64];
        g_snprintf(name, sizeof name, "call.target.free.failed.%s", causes[i]);
        double v = tworld_metric(&t, name);
        by_cause += v;
        g_snprintf(name, sizeof name, "call.failed.%s", causes[i]);
        if (v) caller_cause = tworld_metric(&t, name);
    }
    T_EQ_I64(by_cause, 1);
    T_CMP_I64(caller_cause, >=, 1); /* the same cause the caller counted */
    tworld_free(&t);
}

/* The Linux presets (docs/nat.md), public and a stateful firewall. */
static const char *const linux_sits[] = {
    "\"nat\": \"none\"",
    "\"nat\": \"linux_masquerade\"",
    "\"nat\": \"linux_home_router\"",
    "\"nat\": \"linux_random_fully\"",
    "\"nat\": \"static_forward\"",
    "\"nat\": \"none\", \"firewall\": \"stateful\"",
};
#define NLSIT G_N_ELEMENTS(linux_sits)

/* The path of every call between the Linux presets, [caller][callee], as
 * the protocol punches (the end whose NAT keeps unsolicited state first,
 * call.c) and as tests/netns measured the kernel's routers: two plain
 * MASQUERADE routers, or one against a random-fully router, poison each
 * other; a random-fully router defeats every filtering peer. The calls run
 * one after the other on the same routers, so history counts: the
 * MASQUERADE caller's call to the other MASQUERADE client moved its flow
 * (the callee's PUNCH came first), its later flows reuse the new port (the
 * kernel's source lookup), and the public endpoint it announces to the
 * home router and the stateful firewall after that is stale, so those two
 * calls still relay; with fresh routers they punch
 * (test_world_call_masquerade_punches_first). See docs/nat.md. */
#define D NODE_CALL_PATH_DIRECT
#define H NODE_CALL_PATH_HOLE_PUNCHED
#define U NODE_CALL_PATH_UDP_RELAY
static const NodeCallPath linux_paths[NLSIT][NLSIT] = {
    /* callee:  public  masq  home  rfully  fwd  stateful */
    /* public */ {D, H, H, H, H, H},
    /* masq   */ {H, U, U, U, H, U},
    /* home   */ {H, H, H, U, H, H},
    /* rfully */ {H, U, U, U, H, U},
    /* fwd    */ {H, H, H, H, H, H},
    /* stful  */ {H, H, H, U, H, H},
};
#undef D
#undef H
#undef U

/* Every pair of the Linux presets through the whole stack: the path taken. */
static void test_world_call_linux_presets_take_the_path_the_kernel_allows(void)
{
    GString *js = g_string_new(NULL);
    g_string_printf(js, "{\"seed\": 22, \"duration\": \"3h\", \"network\": {\"loss\": 0},"
                        " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
                        " \"workload\": {\"call_rate\": 0},"
                        " \"population\": {\"clients\": %zu, \"groups\": [", 2 * NLSIT);
    for (size_t i = 0; i < NLSIT; i++)
        g_string_append_printf(js, "%s{\"name\": \"s%zu\", \"fraction\": %.17g, %s}", i ? ", " : "",
                               i, 1.0 / NLSIT, linux_sits[i]); /* %.17g: sums to 1 */
    g_string_append(js, "]}}");
    TWorld t;
    T_TRUE(tworld_new(&t, js->str, "test_world_call", NULL));
    world_run(t.w, 2 * TIMENS_MIN);
    size_t c0 = world_first_client(t.w);
    for (size_t a = 0; a < NLSIT; a++)
        for (size_t b = 0; b < NLSIT; b++) {
            size_t pa = c0 + 2 * a, pb = c0 + 2 * b + 1;
            Node *na = world_peer_node(t.w, pa);
            T_TRUE(na && node_state(na) == NODE_ST_ONLINE);
            char user[32];
            g_snprintf(user, sizeof user, "user%zu", pb);
            T_TRUE(node_call(na, user, 3 * TIMENS_S));
            NodeCallPath path = NODE_CALL_PATH_NONE;
            Sim *sim = world_sim(t.w);
            TimeNs end = sim_now(sim) + 2 * TIMENS_MIN;
            while (sim_now(sim) < end && node_call_state(na) != NODE_CALL_IDLE) {
                world_run(t.w, sim_now(sim) + 100 * TIMENS_MS);
                if (path == NODE_CALL_PATH_NONE) path = node_call_path(na);
            }
            T_TRUE(run_until_idle(&t, pb, 30 * TIMENS_S));
            if (path != linux_paths[a][b])
                fprintf(stderr, "pair %s -> %s: %s, want %s\n", linux_sits[a], linux_sits[b],
                        node_call_path_name(path), node_call_path_name(linux_paths[a][b]));
            T_EQ_I64(path, linux_paths[a][b]);
        }
    T_EQ_I64(tworld_metric(&t, "call.failure"), 0);
    g_string_free(js, TRUE);
    tworld_free(&t);
}

/* One call from a client of situation a to a client of situation b, each
 * on its own NAT, in a fresh world (no earlier call has touched their
 * routers); the path the caller took. */
static NodeCallPath fresh_call_path(const char *a, const char *b)
{
    char *js = g_strdup_printf(
        "{\"seed\": 23, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
        " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3}, \"workload\": {\"call_rate\": 0},"
        " \"population\": {\"clients\": 2, \"groups\": [{\"name\": \"a\", \"fraction\": 0.5, %s},"
        " {\"name\": \"b\", \"fraction\": 0.5, %s}]}}", a, b);
    TWorld t;
    T_TRUE(tworld_new(&t, js, "test_world_call", NULL));
    world_run(t.w, 2 * TIMENS_MIN);
    size_t c0 = world_first_client(t.w);
    Node *na = world_peer_node(t.w, c0);
    char user[32];
    g_snprintf(user, sizeof user, "user%zu", c0 + 1);
    T_TRUE(node_call(na, user, 3 * TIMENS_S));
    NodeCallPath path = NODE_CALL_PATH_NONE;
    Sim *sim = world_sim(t.w);
    TimeNs end = sim_now(sim) + 2 * TIMENS_MIN;
    while (sim_now(sim) < end && node_call_state(na) != NODE_CALL_IDLE) {
        world_run(t.w, sim_now(sim) + 100 * TIMENS_MS);
        if (path == NODE_CALL_PATH_NONE) path = node_call_path(na);
    }
    tworld_free(&t);
    g_free(js);
    return path;
}

/* The classic situations (RFC 3489 presets, public, a stateful firewall)
 * and the Linux presets, each with what a fresh flow sees: a new port per
 * destination (APDM), and filtering none, by address (ADF) or by address
 * and port (APDF). */
typedef struct PunchSit {
    const char *json; /* group keys */
    bool apdm;        /* new external port per destination */
    int filter;       /* 0 none, 1 ADF, 2 APDF */
    bool open;        /* public, no filtering */
} PunchSit;

static const PunchSit classic_sits[] = {
    {"\"nat\": \"none\"", false, 0, true},
    {"\"nat\": \"full_cone\"", false, 0, false},
    {"\"nat\": \"restricted_cone\"", false, 1, false},
    {"\"nat\": \"port_restricted_cone\"", false, 2, false},
    {"\"nat\": \"symmetric\"", true, 2, false},
    {"\"nat\": \"none\", \"firewall\": \"stateful\"", false, 2, false},
};
static const PunchSit new_sits[] = {
    {"\"nat\": \"linux_masquerade\"", false, 2, false},
    {"\"nat\": \"linux_home_router\"", false, 2, false},
    {"\"nat\": \"linux_random_fully\"", true, 2, false},
    {"\"nat\": \"static_forward\"", false, 0, false},
};

/* The path RFC 4787 behaviours allow once nothing poisons a flow: a new
 * port per destination against address-and-port filtering cannot punch. */
static NodeCallPath punch_expected(const PunchSit *a, const PunchSit *b)
{
    if (a->open && b->open) return NODE_CALL_PATH_DIRECT;
    if ((a->apdm && b->filter == 2) || (b->apdm && a->filter == 2)) return NODE_CALL_PATH_UDP_RELAY;
    return NODE_CALL_PATH_HOLE_PUNCHED;
}

/* Every Linux preset against every classic situation, each way round, with
 * fresh routers: the path the NAT behaviours allow. Plain MASQUERADE used
 * to relay as caller against every filtering callee (the callee punched
 * first and its PUNCH, arriving unsolicited, moved the caller's flow); its
 * detection now finds that state (natdet.c) and the callee holds its
 * PUNCHes until the caller's first has left (call.c, call_punch_start). */
static void test_world_call_new_presets_punch_against_classic_ones(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(new_sits); i++)
        for (size_t k = 0; k < G_N_ELEMENTS(classic_sits); k++)
            for (int dir = 0; dir < 2; dir++) {
                const PunchSit *a = dir ? &classic_sits[k] : &new_sits[i];
                const PunchSit *b = dir ? &new_sits[i] : &classic_sits[k];
                NodeCallPath want = punch_expected(a, b), got = fresh_call_path(a->json, b->json);
                if (got != want)
                    fprintf(stderr, "pair %s -> %s: %s, want %s\n", a->json, b->json,
                            node_call_path_name(got), node_call_path_name(want));
                T_EQ_I64(got, want);
                n += want == NODE_CALL_PATH_HOLE_PUNCHED;
            }
    T_EQ_I64(n, 38); /* of 48 calls: the 10 others pair a new port per destination with APDF */
}

/* Plain MASQUERADE against the Linux routers, fresh: as caller it now
 * punches through the home router and the stateful firewall (it sends
 * first); as callee it always did. Two MASQUERADE ends both keep state:
 * whichever PUNCH arrives first moves the other end's flow, so they relay
 * (the kernel agrees: tests/netns, probe punch). */
static void test_world_call_masquerade_punches_first(void)
{
    const char *masq = "\"nat\": \"linux_masquerade\"";
    const char *home = "\"nat\": \"linux_home_router\"";
    T_EQ_I64(fresh_call_path(masq, home), NODE_CALL_PATH_HOLE_PUNCHED);
    T_EQ_I64(fresh_call_path(home, masq), NODE_CALL_PATH_HOLE_PUNCHED);
    T_EQ_I64(fresh_call_path(masq, "\"nat\": \"none\", \"firewall\": \"stateful\""),
             NODE_CALL_PATH_HOLE_PUNCHED);
    T_EQ_I64(fresh_call_path(masq, "\"nat\": \"static_forward\""), NODE_CALL_PATH_HOLE_PUNCHED);
    T_EQ_I64(fresh_call_path(masq, masq), NODE_CALL_PATH_UDP_RELAY);
}

/* A relayed call of known length with the 2004 profile: every media packet
 * is 67 bytes over UDP (a33); each end sends one per 1/70 s for the call. */
static void test_world_call_media_counts(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 22, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
                          " \"media\": {\"codec\": \"skype2004\"},"
                          " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 2},"
                          " \"workload\": {\"call_rate\": 0}, \"population\": {\"clients\": 2,"
                          " \"groups\": [{\"fraction\": 1, \"nat\": \"symmetric\"}]}}", "test_world_call", NULL));
    size_t c0 = call_first_to_second(&t, 10 * TIMENS_S);
    T_TRUE(run_until_idle(&t, c0 + 1, 30 * TIMENS_S)); /* the callee's end too */
    T_EQ_I64(tworld_metric(&t, "call.path.udp_relay"), 1);
    double pkts = tworld_metric(&t, "call.media.packets");
    T_EQ_I64(tworld_metric(&t, "call.media.bytes"), pkts * 67);
    T_CMP_I64(pkts, >=, 2 * 700);       /* 10 s at 70 packets/s each way */
    T_CMP_I64(pkts, <=, 2 * 700 + 140); /* + at most 1 s of setup and teardown */
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "call.mos"), &s));
    T_EQ_I64(s.count, 2);
    T_CMP_I64(s.mean * 10, >, 30);
    tworld_free(&t);
}

/* Payload sizes in a capture (a33): a 2004-profile call
 * from a client without UDP (udp_blocked: a TCP relay leg) to a public
 * one (a UDP leg). Every UDP datagram with the media function (a18: 0x0d
 * under mask 0x8f) carries 67 B; the TCP segments between the caller and
 * its relay carry 69 B per media packet: at least 60 packets/s each way
 * for the 10 s call. */
static void test_world_call_2004_sizes_in_capture(void)
{
    char *dir = g_dir_make_tmp("skysim-wcall-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char *pcap = g_build_filename(dir, "call.pcap", NULL);
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 22, \"duration\": \"1h\", \"network\": {\"loss\": 0},"
                          " \"media\": {\"codec\": \"skype2004\"},"
                          " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 3},"
                          " \"workload\": {\"call_rate\": 0}, \"population\": {\"clients\": 2,"
                          " \"groups\": [{\"name\": \"fw\", \"fraction\": 0.5, \"firewall\":"
                          " \"udp_blocked\"}, {\"name\": \"pub\", \"fraction\": 0.5}]}}",
                      "test_world_call", pcap));
    (void)call_first_to_second(&t, 10 * TIMENS_S);
    T_EQ_I64(tworld_metric(&t, "call.path.tcp_relay"), 1);
    tworld_free(&t); /* flushes the capture */
    GError *err = NULL;
    PcapReader *r = pcap_reader_open(pcap, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    PcapRecord rec;
    uint64_t udp_media = 0, udp_other_len = 0, tcp69 = 0;
    while (pcap_reader_next(r, &rec, &err)) {
        PcapIp ip;
        if (!pcap_parse_ipv4(rec.data, rec.caplen, &ip) || ip.payload_len == 0) continue;
        if (ip.proto == 17 && ip.payload_len >= 3 && (ip.payload[2] & 0x8f) == 0x0d) {
            udp_media++;
            if (ip.payload_len != 67) udp_other_len++;
        }
        if (ip.proto == 6 && ip.payload_len == 69) tcp69++;
    }
    T_TRUE(err == NULL);
    g_clear_error(&err);
    pcap_reader_free(r);
    T_CMP_I64(udp_media, >=, 2 * 600); /* each way, relay to callee and back, counted once */
    T_EQ_U64(udp_other_len, 0);
    T_CMP_I64(tcp69, >=, 2 * 600);
    g_remove(pcap);
    g_rmdir(dir);
    g_free(pcap);
    g_free(dir);
}

/* The workload puts the calls it places on hold (workload.hold_rate,
 * hold_duration) and resumes them: calls of 60 s held about twice a
 * minute for 5 s still end well, and on hold send far fewer packets. */
static void test_world_call_workload_holds_calls(void)
{
    static const char *const base =
        "{\"seed\": 24, \"duration\": \"20min\", \"network\": {\"loss\": 0},"
        " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 2},"
        " \"population\": {\"clients\": 4}, \"workload\": {\"call_rate\": 30, \"search_rate\": 0,"
        " \"call_duration\": {\"dist\": \"constant\", \"value\": \"60s\"}, \"hold_rate\": %d,"
        " \"hold_duration\": {\"dist\": \"constant\", \"value\": \"5s\"}}}";
    double pkts[2], secs[2];
    for (int k = 0; k < 2; k++) {
        char *js = g_strdup_printf(base, k ? 120 : 0);
        TWorld t;
        T_TRUE(tworld_new(&t, js, "test_world_call", NULL));
        world_run(t.w, 20 * TIMENS_MIN);
        double holds = tworld_metric(&t, "call.holds");
        if (k == 0) T_EQ_I64(holds, 0);
        if (k == 1) T_CMP_I64(holds, >=, 10);
        T_CMP_I64(tworld_metric(&t, "call.success"), >=, 5);
        T_EQ_I64(tworld_metric(&t, "call.dropped"), 0);
        pkts[k] = tworld_metric(&t, "call.media.packets");
        secs[k] = tworld_metric(&t, "call.success");
        tworld_free(&t);
        g_free(js);
    }
    T_CMP_I64(pkts[1] / secs[1], <, pkts[0] / secs[0]); /* fewer packets per call */
}

T_SUITE_MAIN("world_call",
             {"test_world_call_every_pair_takes_the_allowed_path",
              test_world_call_every_pair_takes_the_allowed_path},
             {"test_world_call_flood_crosses_supernode_links",
              test_world_call_flood_crosses_supernode_links},
             {"test_world_call_outcomes_by_callee_state", test_world_call_outcomes_by_callee_state},
             {"test_world_call_linux_presets_take_the_path_the_kernel_allows",
              test_world_call_linux_presets_take_the_path_the_kernel_allows},
             {"test_world_call_new_presets_punch_against_classic_ones",
              test_world_call_new_presets_punch_against_classic_ones},
             {"test_world_call_masquerade_punches_first", test_world_call_masquerade_punches_first},
             {"test_world_call_media_counts", test_world_call_media_counts},
             {"test_world_call_2004_sizes_in_capture", test_world_call_2004_sizes_in_capture},
             {"test_world_call_workload_holds_calls", test_world_call_workload_holds_calls})
