/* test_call: calls (protocol/call.c, relay.c) through the fake env, path by
 * path: public to public is direct; symmetric to port-restricted cannot
 * punch and is relayed over UDP; an end without UDP uses a TCP relay; the
 * call message codec is strict; a relay crash mid-call is re-established
 * through another relay; public buddies signal over a direct TCP
 * connection (a31); a call to a phone number reaches the gateway (a18) and
 * carries G.729 media. Outcomes come from the fake net's NATs. The calls
 * feature alone over the plumbing (no client or supernode feature): the
 * gateway answers a scripted INVITE on a direct signalling connection and
 * refuses a connection that is not a call; a relay session bound by two
 * scripted ends over UDP forwards voice and counts it, and a full relay
 * refuses a second session. With the conference feature beside it, an
 * organiser's LOCATE goes out on its uplink and the LOCATED coming back as
 * signalling reaches the conference (NODE_EV_CALL_UNCLAIMED), which invites
 * the located user through the supernodes. */
#include "protocol/call.h"
#include "protocol/conf.h"
#include "protocol/mediapath.h"
#include "protocol/node_int.h"
#include "protocol/search_int.h"

#include "fakeenv.h"
#include "tpeer.h"
#include "t_assert.h"

#define A_IP ENV_IP(81, 10, 0, 1)
#define B_IP ENV_IP(82, 20, 0, 2)

typedef struct Wait {
    FakeWorld *w; /* world */
    unsigned i;   /* node */
    int what;     /* 0: online, 1: call active, 2: call idle */
} Wait;

static bool wait_pred(void *arg)
{
    Wait *x = arg;
    Node *n = x->w->node[x->i];
    if (!n) return false;
    if (x->what == 0) return node_state(n) == NODE_ST_ONLINE;
    if (x->what == 1) return node_call_state(n) == NODE_CALL_ACTIVE;
    return node_call_state(n) == NODE_CALL_IDLE;
}

static bool run_until(FakeWorld *w, unsigned i, int what, TimeNs limit)
{
    Wait x = {w, i, what};
    return fakenet_run_while_not(w->net, wait_pred, &x, fakenet_now(w->net) + limit);
}

/* Two clients logged in, settled (NAT detection done); p NULL: defaults. */
static FakeWorld *two_clients_p(uint64_t seed, const NodeParams *p, NatType a, NatType b,
                                unsigned *ia, unsigned *ib)
{
    FakeWorld *w = fakeworld_new(seed, p, true);
    *ia = fakeworld_client(w, A_IP, a);
    *ib = fakeworld_client(w, B_IP, b);
    fakeworld_start(w, *ia);
    fakeworld_start(w, *ib);
    T_TRUE(run_until(w, *ia, 0, 60 * TIMENS_S));
    T_TRUE(run_until(w, *ib, 0, 60 * TIMENS_S));
    fakenet_run_for(w->net, 20 * TIMENS_S);
    return w;
}

static FakeWorld *two_clients(uint64_t seed, NatType a, NatType b, unsigned *ia, unsigned *ib)
{
    return two_clients_p(seed, NULL, a, b, ia, ib);
}

/* Defaults with direct signalling between public ends switched on. */
static NodeParams direct_params(void)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024; /* as fakeworld_new's defaults: faster */
    p.direct_signalling = true;
    return p;
}

/* Calls b from a for 10 s; returns the path seen while active. */
static NodeCallPath call_path(FakeWorld *w, unsigned a, unsigned b)
{
    T_TRUE(node_call(w->node[a], w->user[b], 10 * TIMENS_S));
    T_TRUE(run_until(w, a, 1, 40 * TIMENS_S));
    NodeCallPath p = node_call_path(w->node[a]);
    T_TRUE(run_until(w, a, 2, 30 * TIMENS_S));
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(node_call_state(w->node[b]), NODE_CALL_IDLE);
    return p;
}

static void test_call_public_to_public_is_direct(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(501, NAT_OPEN, NAT_OPEN, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_DIRECT);
    T_EQ_I64(fakenet_metric(w->net, "call.attempts"), 1);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    T_EQ_I64(fakenet_metric(w->net, "call.path.direct"), 1);
    T_EQ_I64(fakenet_metric(w->net, "call.matrix.open.open.direct"), 1);
    T_EQ_I64(fakenet_metric(w->net, "call.active"), 0);
    T_EQ_U64(fakenet_sample_count(w->net, "call.setup_s"), 1);
    T_EQ_U64(fakenet_sample_count(w->net, "call.mos"), 2); /* one per direction */
    T_CMP_I64(fakenet_sample_sum(w->net, "call.mos"), >, 2 * 3.5);
    /* 10 s of 20 ms frames each way, sent as UDP datagrams to the peer. */
    int64_t pkts = fakenet_metric(w->net, "call.media.packets");
    T_CMP_I64(pkts, >=, 2 * 500);
    T_CMP_I64(pkts, <=, 2 * 500 + 2 * 400); /* + the time to BYE */
    T_EQ_I64(fakenet_metric(w->net, "relay.bytes"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_full_cone_is_hole_punched(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(502, NAT_SYMMETRIC, NAT_FULL_CONE, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_HOLE_PUNCHED);
    T_EQ_I64(fakenet_metric(w->net, "call.matrix.symmetric.full_cone.hole_punched"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_symmetric_to_port_restricted_is_relayed(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(503, NAT_SYMMETRIC, NAT_PORT_RESTRICTED, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_UDP_RELAY);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    T_CMP_I64(fakenet_metric(w->net, "relay.bytes"), >, 0);
    fakenet_run_for(w->net, 20 * TIMENS_S); /* the relay frees the idle session */
    T_EQ_U64(fakenet_sample_count(w->net, "relay.bandwidth_bps"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_udp_blocked_uses_tcp_relay(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(504, NAT_UDP_BLOCKED, NAT_PORT_RESTRICTED, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_TCP_RELAY);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_unknown_user_fails(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(505, NAT_OPEN, NAT_OPEN, &a, &b);
    T_TRUE(node_call(w->node[a], "nobody", 10 * TIMENS_S));
    T_TRUE(run_until(w, a, 2, 30 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "call.failure"), 1);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The relay crashes mid-call: the caller re-establishes through another. */
static void test_call_relay_crash_reestablished(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(506, NAT_SYMMETRIC, NAT_SYMMETRIC, &a, &b);
    T_TRUE(node_call(w->node[a], w->user[b], 60 * TIMENS_S));
    T_TRUE(run_until(w, a, 1, 40 * TIMENS_S));
    T_EQ_I64(node_call_path(w->node[a]), NODE_CALL_PATH_UDP_RELAY);
    EnvAddr r = node_call_relay(w->node[a]);
    unsigned ri = FW_MAX;
    for (unsigned i = 0; i < w->n; i++)
        if (w->node[i] && fakeenv_ip(w->h[i]) == r.ip) ri = i;
    T_CMP_I64(ri, <, FW_MAX);
    fakenet_run_for(w->net, 5 * TIMENS_S);
    fakeworld_crash(w, ri);
    fakenet_run_for(w->net, 20 * TIMENS_S);
    T_EQ_I64(node_call_state(w->node[a]), NODE_CALL_ACTIVE);
    T_TRUE(!env_addr_eq(node_call_relay(w->node[a]), r));
    T_EQ_I64(fakenet_metric(w->net, "call.reestablished"), 1);
    T_TRUE(run_until(w, a, 2, 60 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "call.dropped"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A 2004-profile call relayed for 60 s (nat: the caller's; symmetric to
 * port-restricted is a UDP relay, UDP blocked a TCP relay) with relay cap
 * cap_bps (0: the default, media_relay_cap_default). Returns the relay's
 * drops; *loss_sum: the sum of both ends' loss samples. */
static int64_t relayed_2004_call(uint64_t seed, NatType nat, uint32_t cap, NodeCallPath want,
                                 double *loss_sum)
{
    unsigned a, b;
    NodeParams p = direct_params();
    p.media.profile = MEDIA_PROFILE_SKYPE2004;
    p.relay_call_bytes_per_s = cap ? cap : media_relay_cap_default(&p.media);
    FakeWorld *w = two_clients_p(seed, &p, nat, NAT_PORT_RESTRICTED, &a, &b);
    T_TRUE(node_call(w->node[a], w->user[b], 60 * TIMENS_S));
    T_TRUE(run_until(w, a, 1, 40 * TIMENS_S));
    T_EQ_I64(node_call_path(w->node[a]), want);
    T_TRUE(run_until(w, a, 2, 90 * TIMENS_S));
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    T_EQ_U64(fakenet_sample_count(w->net, "call.loss"), 2);
    T_CMP_I64(fakenet_metric(w->net, "relay.bytes"), >, 2 * 60 * 60 * 67);
    *loss_sum = fakenet_sample_sum(w->net, "call.loss");
    int64_t dropped = fakenet_metric(w->net, "relay.dropped");
    T_EQ_U64(fakeworld_free(w), 0);
    return dropped;
}

/* a48, a34: the default relay cap carries the 2004 stream (70
 * packets/s each way, a34) without a loss, over a UDP and a TCP relay;
 * held to a48's 4 KB/s the same relay drops part of it. */
static void test_call_relay_default_cap_carries_2004_stream(void)
{
    double loss;
    T_EQ_I64(relayed_2004_call(531, NAT_SYMMETRIC, 0, NODE_CALL_PATH_UDP_RELAY, &loss), 0);
    T_NEAR(loss, 0, 0);
    T_EQ_I64(relayed_2004_call(532, NAT_UDP_BLOCKED, 0, NODE_CALL_PATH_TCP_RELAY, &loss), 0);
    T_NEAR(loss, 0, 0);
    T_CMP_I64(relayed_2004_call(531, NAT_SYMMETRIC, 4096, NODE_CALL_PATH_UDP_RELAY, &loss), >,
              100);
    T_CMP_I64((int64_t)(loss * 1000), >, 50);
}

/* a36: a call on hold sends about 3 packets/s each way (here: within
 * 1 packet/s of 3), to the peer directly or through the relay, and voice
 * again once resumed; the peer follows the holding end. */
static void hold_rate_check(uint64_t seed, NatType nat, NodeCallPath want)
{
    unsigned a, b;
    FakeWorld *w = two_clients(seed, nat, NAT_PORT_RESTRICTED, &a, &b);
    T_TRUE(node_call(w->node[a], w->user[b], 60 * TIMENS_S));
    T_TRUE(run_until(w, a, 1, 40 * TIMENS_S));
    T_EQ_I64(node_call_path(w->node[a]), want);
    fakenet_run_for(w->net, 5 * TIMENS_S);
    int64_t talk0 = fakenet_metric(w->net, "call.media.packets");
    fakenet_run_for(w->net, 5 * TIMENS_S);
    double talk = (double)(fakenet_metric(w->net, "call.media.packets") - talk0) / 2 / 5;
    T_TRUE(node_call_hold(w->node[a], true));
    T_FALSE(node_call_hold(w->node[a], true)); /* nothing changes */
    fakenet_run_for(w->net, TIMENS_S);         /* both ends have switched */
    int64_t h0 = fakenet_metric(w->net, "call.media.packets");
    fakenet_run_for(w->net, 20 * TIMENS_S);
    double hold = (double)(fakenet_metric(w->net, "call.media.packets") - h0) / 2 / 20;
    T_TRUE(node_call_hold(w->node[a], false));
    fakenet_run_for(w->net, TIMENS_S);
    int64_t r0 = fakenet_metric(w->net, "call.media.packets");
    fakenet_run_for(w->net, 5 * TIMENS_S);
    double resumed = (double)(fakenet_metric(w->net, "call.media.packets") - r0) / 2 / 5;
    T_NEAR(talk, 50, 1);    /* 20 ms frames */
    T_NEAR(hold, 3, 1);     /* a36 */
    T_NEAR(resumed, 50, 1);
    T_EQ_I64(fakenet_metric(w->net, "call.holds"), 1);
    T_EQ_I64(node_call_state(w->node[a]), NODE_CALL_ACTIVE); /* the watchdog saw packets */
    T_TRUE(run_until(w, a, 2, 90 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "call.dropped"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_hold_sends_3_packets_per_second(void)
{
    hold_rate_check(541, NAT_FULL_CONE, NODE_CALL_PATH_HOLE_PUNCHED);
    hold_rate_check(542, NAT_SYMMETRIC, NODE_CALL_PATH_UDP_RELAY);
}

/* Public to public: INVITE, PATH and BYE travel over a TCP connection from
 * the caller to the callee's listening port, none through the supernodes. */
static void test_call_public_buddies_signal_directly(void)
{
    unsigned a, b;
    NodeParams p = direct_params();
    FakeWorld *w = two_clients_p(507, &p, NAT_OPEN, NAT_OPEN, &a, &b);
    uint16_t bport = node_listen_port(w->node[b]);
    size_t before = fakenet_record_count_to(w->net, FAKE_TCP, B_IP, bport);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_DIRECT);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    T_CMP_I64(fakenet_record_count_to(w->net, FAKE_TCP, B_IP, bport), >, before);
    T_EQ_I64(fakeenv_metric(w->h[b], "signal.received"), 0); /* no FORWARD delivered */
    T_EQ_I64(fakeenv_metric(w->h[a], "signal.received"), 0); /* located by the index */
    T_EQ_I64(fakenet_metric(w->net, "call.locate_fallbacks"), 0);
    T_EQ_I64(fakenet_metric(w->net, "supernode.forwarded"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A NATed callee is still reached through the supernodes. */
static void test_call_natted_callee_signals_through_supernodes(void)
{
    unsigned a, b;
    NodeParams p = direct_params();
    FakeWorld *w = two_clients_p(508, &p, NAT_OPEN, NAT_FULL_CONE, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_HOLE_PUNCHED);
    T_CMP_I64(fakeenv_metric(w->h[b], "signal.received"), >=, 2); /* INVITE, PATH, BYE */
    /* Located by the index, then TCP to the callee's supernode, which
     * bridges it to its client (a31): no LOCATE or FORWARD flood. */
    T_EQ_I64(fakenet_metric(w->net, "call.bridges"), 1);
    T_EQ_I64(fakeenv_metric(w->h[a], "signal.received"), 0);
    T_EQ_I64(fakenet_metric(w->net, "call.locate_fallbacks"), 0);
    T_EQ_I64(fakenet_metric(w->net, "call.signal_fallbacks"), 0);
    T_EQ_I64(fakenet_metric(w->net, "supernode.forward.duplicates"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Points every copy of user's record (its supernode's own entry, and
 * slot members' stored copies when there is a ring) at supernode sn, as a
 * record left behind when its user moved. Returns the copies changed. */
static int index_point_at(FakeWorld *w, const char *user, EnvAddr sn)
{
    int k = 0;
    for (unsigned i = 0; i < w->n; i++) {
        SearchNode *s = w->node[i] ? search__node(w->node[i]) : NULL;
        for (uint16_t j = 0; s && j < s->nidx; j++) {
            SearchEntry *e = &s->idx[j];
            if ((e->flags & (SE_DHT | SE_ATTACHED)) && e->ulen == strlen(user) && !memcmp(e->user, user, e->ulen)) {
                e->sn = sn;
                k++;
            }
        }
    }
    return k;
}

static bool metric_reached(void *arg)
{
    FakeWorld *w = arg;
    return fakenet_metric(w->net, "call.bridge_refused") >= 1;
}

/* The index names a supernode the callee has left: that supernode refuses
 * the bridge, the caller searches once more after a pause and reaches the
 * callee through the supernode the fresh answer names, with no flood; a
 * record still wrong on the second try falls back to the flood. */
static void test_call_refused_bridge_searches_again(void)
{
    for (int stale = 0; stale < 2; stale++) {
        unsigned a, b;
        NodeParams p = direct_params();
        FakeWorld *w = two_clients_p(510, &p, NAT_FULL_CONE, NAT_FULL_CONE, &a, &b);
        EnvAddr bsn = w->node[b]->uplink_addr, other = {0, 0};
        for (unsigned i = w->boot0; i < w->boot0 + w->nboot; i++) {
            EnvAddr x = w->p.bootstrap[i - w->boot0];
            if (!env_addr_eq(x, bsn) && !env_addr_eq(x, w->node[a]->uplink_addr)) other = x;
        }
        T_TRUE(other.ip != 0);
        T_CMP_I64(index_point_at(w, w->user[b], other), >, 0);
        T_TRUE(node_call(w->node[a], w->user[b], 10 * TIMENS_S));
        T_TRUE(fakenet_run_while_not(w->net, metric_reached, w, fakenet_now(w->net) + 20 * TIMENS_S));
        if (!stale) index_point_at(w, w->user[b], bsn); /* the new supernode's publication */
        T_TRUE(run_until(w, a, 1, 60 * TIMENS_S));
        T_EQ_I64(fakenet_metric(w->net, "call.relocations"), 1);
        T_EQ_I64(fakenet_metric(w->net, "call.bridge_refused"), stale ? 2 : 1);
        T_EQ_I64(fakenet_metric(w->net, "call.signal_fallbacks"), stale ? 1 : 0);
        T_EQ_I64(fakenet_metric(w->net, "call.bridges"), stale ? 0 : 1);
        if (!stale) T_EQ_I64(fakenet_metric(w->net, "supernode.peer_signal_bytes"), 0);
        T_TRUE(run_until(w, a, 2, 30 * TIMENS_S));
        T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
        T_EQ_U64(fakeworld_free(w), 0);
    }
}

/* The first implementation, kept for comparison (call_locate_flood): the
 * callee is found by the LOCATE flood, whose answer comes back through the
 * supernodes, and the call signals through them. */
static void test_call_locate_flood_still_works(void)
{
    unsigned a, b;
    NodeParams p = direct_params();
    p.call_locate_flood = true;
    FakeWorld *w = two_clients_p(509, &p, NAT_FULL_CONE, NAT_FULL_CONE, &a, &b);
    T_EQ_I64(call_path(w, a, b), NODE_CALL_PATH_HOLE_PUNCHED);
    T_CMP_I64(fakeenv_metric(w->h[a], "signal.received"), >=, 2); /* LOCATED, ANSWER */
    T_EQ_I64(fakenet_metric(w->net, "call.bridges"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

#define GW_IP ENV_IP(212, 72, 49, 140) /* node_params_default's gateway */

/* A client calls a phone number: TCP to the gateway's port 12340, the
 * gateway answers and G.729 media flows both ways (10 ms frames: 100
 * packets/s each way of 3 + 4 + 24 bytes). */
static void test_call_phone_through_gateway(NatType nat, NodeCallPath want, uint64_t seed)
{
    unsigned a, b;
    FakeWorld *w = two_clients(seed, nat, NAT_OPEN, &a, &b);
    NodeConfig gc = {.role = NODE_ROLE_GATEWAY, .uplink_kbps = 100000, .cpu_mhz = 4000};
    unsigned g = fakeworld_add(w, GW_IP, &gc, NAT_OPEN, 0);
    fakeworld_start(w, g);
    T_EQ_I64(node_listen_port(w->node[g]), 12340);
    T_TRUE(node_call_phone(w->node[a], "+15551234567", 10 * TIMENS_S));
    T_TRUE(run_until(w, a, 1, 40 * TIMENS_S));
    T_EQ_I64(node_call_path(w->node[a]), want);
    T_EQ_I64(node_gateway_calls(w->node[g]), 1);
    T_EQ_I64(fakeenv_metric(w->h[g], "gateway.active"), 1);
    T_TRUE(run_until(w, a, 2, 30 * TIMENS_S));
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(node_gateway_calls(w->node[g]), 0);
    T_EQ_I64(fakenet_metric(w->net, "gateway.calls"), 1);
    T_EQ_I64(fakenet_metric(w->net, "gateway.active"), 0);
    T_EQ_I64(fakenet_metric(w->net, "call.success"), 1);
    char row[96];
    g_snprintf(row, sizeof row, "call.matrix.%s.pstn.%s", stun_nat_name(nat),
               node_call_path_name(want));
    T_EQ_I64(fakenet_metric(w->net, row), 1);
    int64_t pkts = fakenet_metric(w->net, "call.media.packets");
    int64_t gp = fakeenv_metric(w->h[g], "call.media.packets");
    int64_t ap = fakeenv_metric(w->h[a], "call.media.packets");
    T_EQ_I64(fakeenv_metric(w->h[g], "call.media.bytes"), gp * (3 + 4 + 24));
    T_EQ_I64(fakeenv_metric(w->h[a], "call.media.bytes"), ap * (3 + 4 + 24)); /* UDP or TCP */
    T_CMP_I64(gp, >=, 1000);
    T_CMP_I64(ap, >=, 1000);
    T_CMP_I64(pkts, >=, 2 * 1000);
    T_CMP_I64(pkts, <=, 2 * 1000 + 2 * 200);
    T_CMP_I64(fakenet_record_count_to(w->net, FAKE_TCP, GW_IP, 0), >, 0);
    T_EQ_U64(fakenet_sample_count(w->net, "call.mos"), 2);
    T_EQ_I64(fakeenv_mem_live(w->h[g]) > 0, 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_call_phone_public_is_direct(void)
{
    test_call_phone_through_gateway(NAT_OPEN, NODE_CALL_PATH_DIRECT, 511);
}

static void test_call_phone_symmetric_nat_needs_no_relay(void)
{
    test_call_phone_through_gateway(NAT_SYMMETRIC, NODE_CALL_PATH_HOLE_PUNCHED, 512);
}

static void test_call_phone_udp_blocked_uses_tcp_relay(void)
{
    test_call_phone_through_gateway(NAT_UDP_BLOCKED, NODE_CALL_PATH_TCP_RELAY, 513);
}

/* No gateway answers: the call fails after the connect attempts. */
static void test_call_phone_without_gateway_fails(void)
{
    unsigned a, b;
    FakeWorld *w = two_clients(514, NAT_OPEN, NAT_OPEN, &a, &b);
    T_TRUE(node_call_phone(w->node[a], "+15550000000", 10 * TIMENS_S));
    T_TRUE(run_until(w, a, 2, 60 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "call.failure"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* ---- The calls feature alone, driven by scripted peers ---- */

#define PEER_IP ENV_IP(99, 9, 9, 1)

typedef TPeer Peer; /* tpeer.h */

static void peer_new(Peer *p, FakeWorld *w, uint32_t ip)
{
    tpeer_new(p, w, ip);
}

/* A TCP connection to `to` and our hello saying role. */
static void peer_connect(Peer *p, FakeWorld *w, EnvAddr to, uint8_t role)
{
    T_EQ_I64(tpeer_connect(p, w, to, 0x5eed0001, role), ENV_OK);
}

static void peer_send_call(Peer *p, const WireCall *cm)
{
    WireMsg m = {.type = WIRE_CALL, .u.call = *cm};
    T_EQ_I64(tpeer_send(p, &m), ENV_OK);
}

/* The call messages the node sent on our connection (after its hello);
 * *closed: its close status, 0 while open; *n_cf (when not NULL): the
 * FORWARDs to fwd_dst carrying a conference invitation. */
static size_t peer_read_calls_fwd(Peer *p, WireCall *out, size_t max, int *closed,
                                  EnvAddr fwd_dst, size_t *n_cf)
{
    if (n_cf) *n_cf = 0;
    uint8_t store[8192], role = 0;
    WireMsg m[64];
    size_t got = tpeer_read(p, m, G_N_ELEMENTS(m), store, sizeof store, closed, &role), k = 0;
    if (got) T_EQ_U64(role, HELLO_CALL);
    for (size_t i = 0; i < got; i++) {
        if (m[i].type == WIRE_CALL && k < max) out[k++] = m[i].u.call;
        if (n_cf && m[i].type == WIRE_FORWARD && m[i].u.forward.dst.ip == fwd_dst.ip &&
            m[i].u.forward.dst.port == fwd_dst.port && m[i].u.forward.len > 0 &&
            m[i].u.forward.data[0] == WIRE_CF_FIRST)
            (*n_cf)++;
    }
    return k;
}

static size_t peer_read_calls(Peer *p, WireCall *out, size_t max, int *closed)
{
    return peer_read_calls_fwd(p, out, max, closed, env_addr(0, 0), NULL);
}

/* Sends cm as a sealed WIRE_CALL_UDP datagram from our UDP socket. */
static void peer_send_udp(Peer *p, EnvAddr to, const WireCall *cm)
{
    WireMsg m = {.type = WIRE_CALL_UDP, .u.call = *cm};
    uint8_t body[ENV_UDP_MAX], pkt[ENV_UDP_MAX];
    size_t len = wire_encode(&m, body, sizeof body - WIRE_UDP_HDR - WIRE_UDP_TRAILER);
    size_t pl = wire_udp_seal(p->c, &p->e, 0x77, p->ip, to.ip, body, len, pkt, sizeof pkt);
    T_EQ_I64(env_udp_send(&p->e, p->udp, to, pkt, pl), ENV_OK);
}

/* Datagrams received: call messages of kind into *n_kind, and the raw
 * datagrams equal to raw (len rlen) into *n_raw. */
static void peer_udp_seen(Peer *p, EnvAddr from, uint8_t kind, size_t *n_kind,
                          const uint8_t *raw, size_t rlen, size_t *n_raw)
{
    *n_kind = *n_raw = 0;
    for (size_t i = 0; i < fakeenv_inbox_count(p->h); i++) {
        const FakeInbox *x = fakeenv_inbox_get(p->h, i);
        if (x->kind != 1 || !env_addr_eq(x->from, from)) continue;
        if (raw && x->len == rlen && !memcmp(x->data, raw, rlen)) {
            (*n_raw)++;
            continue;
        }
        uint8_t body[ENV_UDP_MAX];
        uint16_t fid;
        WireMsg m;
        long bl = wire_udp_open(p->c, &p->e, x->data, x->len, from.ip, p->ip, body, sizeof body,
                                &fid);
        if (bl > 0 && wire_decode(body, (size_t)bl, &m) && m.type == WIRE_CALL_UDP &&
            m.u.call.kind == kind)
            (*n_kind)++;
    }
}

static void peer_free(Peer *p)
{
    tpeer_free(p);
}

static unsigned calls_only_gateway(FakeWorld **wp, uint64_t seed)
{
    static const NodeFeature *const only[] = {&call_feature};
    FakeWorld *w = fakeworld_new_with(seed, NULL, only, G_N_ELEMENTS(only));
    NodeConfig gc = {.role = NODE_ROLE_GATEWAY, .uplink_kbps = 100000, .cpu_mhz = 4000};
    unsigned g = fakeworld_add(w, GW_IP, &gc, NAT_OPEN, 0);
    fakeworld_start(w, g);
    *wp = w;
    return g;
}

/* A scripted caller's INVITE on a direct connection: the gateway answers
 * on it with the response to our challenge (a17) and holds one call until
 * our BYE. */
static void test_call_alone_gateway_answers_invite(void)
{
    FakeWorld *w;
    unsigned g = calls_only_gateway(&w, 521);
    Peer p;
    peer_new(&p, w, PEER_IP);
    peer_connect(&p, w, env_addr(GW_IP, 12340), HELLO_CALL);
    WireCall inv = {.kind = WIRE_CM_INVITE, .call_id = 0x1234567, .from_id = env_addr(PEER_IP, 4000),
                    .a1 = env_addr(PEER_IP, 4000), .ulen = 5};
    memcpy(inv.user, "alice", 5);
    for (int i = 0; i < 8; i++) inv.chal[i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < 32; i++) inv.key[i] = (uint8_t)i;
    peer_send_call(&p, &inv);
    fakenet_run_for(w->net, TIMENS_S);
    WireCall got[8];
    int closed;
    T_EQ_U64(peer_read_calls(&p, got, 8, &closed), 1);
    T_EQ_U64(got[0].kind, WIRE_CM_ANSWER);
    T_EQ_U64(got[0].call_id, inv.call_id);
    uint8_t h[32];
    crypto_sha256(p.c, &p.e, inv.chal, 8, inv.key, 32, h);
    T_TRUE(memcmp(got[0].resp, h, 8) == 0);
    T_EQ_I64(closed, 0);
    T_EQ_I64(node_gateway_calls(w->node[g]), 1);
    T_EQ_I64(fakeenv_metric(w->h[g], "gateway.calls"), 1);
    T_EQ_I64(fakeenv_metric(w->h[g], "gateway.active"), 1);
    WireCall bye = {.kind = WIRE_CM_BYE, .call_id = inv.call_id};
    peer_send_call(&p, &bye);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(node_gateway_calls(w->node[g]), 0);
    T_EQ_I64(fakeenv_metric(w->h[g], "gateway.active"), 0);
    T_EQ_I64(peer_read_calls(&p, got, 8, &closed), 1);
    T_CMP_I64(closed, !=, 0); /* the call's connection is closed with it */
    peer_free(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A connection whose hello is not HELLO_CALL is no call: the gateway
 * closes it without answering. */
static void test_call_alone_gateway_refuses_non_call(void)
{
    FakeWorld *w;
    unsigned g = calls_only_gateway(&w, 522);
    Peer p;
    peer_new(&p, w, PEER_IP);
    peer_connect(&p, w, env_addr(GW_IP, 12340), HELLO_CLIENT);
    fakenet_run_for(w->net, TIMENS_S);
    WireCall got[2];
    int closed;
    T_EQ_U64(peer_read_calls(&p, got, 2, &closed), 0);
    T_CMP_I64(closed, !=, 0);
    T_EQ_I64(node_gateway_calls(w->node[g]), 0);
    peer_free(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

#define RELAY_IP ENV_IP(80, 1, 1, 1)

/* A relay with the calls feature alone: the supernode tier's tables it
 * reads (n->sn) are made by hand, as the supernode feature would. Two
 * scripted ends bind legs 0 and 1 of a session over UDP; a voice datagram
 * of one end reaches the other unchanged and counts as relayed bytes;
 * with relay_max_calls 1 a second session is refused. */
static void test_call_alone_relay_forwards_voice(void)
{
    static const NodeFeature *const only[] = {&call_feature};
    NodeParams par;
    node_params_default(&par);
    par.server_key_bits = 1024;
    par.relay_max_calls = 1;
    FakeWorld *w = fakeworld_new_with(523, &par, only, G_N_ELEMENTS(only));
    NodeConfig sc = {.role = NODE_ROLE_SUPERNODE, .uplink_kbps = 100000, .cpu_mhz = 4000};
    unsigned s = fakeworld_add(w, RELAY_IP, &sc, NAT_OPEN, 0);
    fakeworld_start(w, s);
    SnState sn;
    memset(&sn, 0, sizeof sn);
    node__feat_set(w->node[s], NODE_FEAT_SUPERNODE, &sn);
    EnvAddr r = env_addr(RELAY_IP, node_listen_port(w->node[s]));
    Peer a, b, c;
    peer_new(&a, w, ENV_IP(99, 9, 9, 1));
    peer_new(&b, w, ENV_IP(99, 9, 9, 2));
    peer_new(&c, w, ENV_IP(99, 9, 9, 3));
    Peer *all[3] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) T_EQ_I64(env_udp_bind(&all[i]->e, 5000, &all[i]->udp), ENV_OK);
    uint32_t id = 0xABCD1234;
    peer_send_udp(&a, r, &(WireCall){.kind = WIRE_CM_RELAY_BIND, .call_id = id, .leg = 0});
    peer_send_udp(&b, r, &(WireCall){.kind = WIRE_CM_RELAY_BIND, .call_id = id, .leg = 1});
    fakenet_run_for(w->net, TIMENS_S);
    size_t nk, nr;
    peer_udp_seen(&a, r, WIRE_CM_RELAY_BOUND, &nk, NULL, 0, &nr);
    T_EQ_U64(nk, 1);
    peer_udp_seen(&b, r, WIRE_CM_RELAY_BOUND, &nk, NULL, 0, &nr);
    T_EQ_U64(nk, 1);
    T_EQ_I64(node_relay_sessions(w->node[s]), 1);
    uint8_t voice[40];
    memset(voice, 0x5A, sizeof voice);
    wire_put_u16(voice, (uint16_t)id); /* frame id: the session id's low 16 bits (a18) */
    voice[2] = MEDIAPATH_FUNC_MEDIA;
    T_EQ_I64(env_udp_send(&a.e, a.udp, r, voice, sizeof voice), ENV_OK);
    fakenet_run_for(w->net, TIMENS_S);
    peer_udp_seen(&b, r, 0, &nk, voice, sizeof voice, &nr);
    T_EQ_U64(nr, 1);
    T_EQ_I64(fakeenv_metric(w->h[s], "relay.bytes"), (int64_t)sizeof voice);
    peer_send_udp(&c, r, &(WireCall){.kind = WIRE_CM_RELAY_BIND, .call_id = id + 1, .leg = 0});
    fakenet_run_for(w->net, TIMENS_S);
    peer_udp_seen(&c, r, WIRE_CM_RELAY_REFUSED, &nk, NULL, 0, &nr);
    T_EQ_U64(nk, 1);
    T_EQ_I64(fakeenv_metric(w->h[s], "relay.refused"), 1);
    fakenet_run_for(w->net, 20 * TIMENS_S); /* idle: the session is swept */
    T_EQ_I64(node_relay_sessions(w->node[s]), 0);
    T_EQ_U64(fakenet_sample_count(w->net, "relay.bandwidth_bps"), 1);
    node__feat_set(w->node[s], NODE_FEAT_SUPERNODE, NULL);
    for (int i = 0; i < 3; i++) peer_free(all[i]);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* An organiser with the calls and conference features only: the test
 * plays the client feature (binds, goes online, sets the uplink to a
 * scripted supernode's connection). */
static void test_call_alone_conf_organiser_locates_and_invites(void)
{
    static const NodeFeature *const only[] = {&call_feature, &conf_feature};
    FakeWorld *w = fakeworld_new_with(524, NULL, only, G_N_ELEMENTS(only));
    unsigned o = fakeworld_client(w, A_IP, NAT_OPEN);
    fakeworld_start(w, o);
    Node *n = w->node[o];
    n->port = 40000;
    T_TRUE(node__bind(n));
    n->public_addr = env_addr(A_IP, n->port);
    n->nat = NAT_OPEN;
    n->state = NODE_ST_ONLINE;
    Peer sn;
    peer_new(&sn, w, PEER_IP);
    peer_connect(&sn, w, n->public_addr, HELLO_CALL);
    fakenet_run_for(w->net, TIMENS_S);
    for (int i = 0; i < n->nconns; i++)
        if (n->conns[i].kind == CONN_CALL_SIG) n->uplink = i;
    T_CMP_I64(n->uplink, >=, 0);
    n->uplink_addr = env_addr(PEER_IP, 4000);
    const char *users[] = {"bob"};
    T_TRUE(node_conf_start(n, users, 1, 30 * TIMENS_S));
    T_EQ_I64(node_call_state(n), NODE_CALL_SETUP);
    T_TRUE(!node_call(n, "carol", TIMENS_S)); /* one voice session at a time */
    fakenet_run_for(w->net, TIMENS_S);
    WireCall got[4];
    int closed;
    size_t n_cf;
    EnvAddr bob = env_addr(B_IP, 5555);
    T_EQ_U64(peer_read_calls_fwd(&sn, got, 4, &closed, bob, &n_cf), 1);
    T_EQ_U64(got[0].kind, WIRE_CM_LOCATE);
    T_EQ_U64(got[0].ulen, 3);
    T_TRUE(memcmp(got[0].user, "bob", 3) == 0);
    T_TRUE(env_addr_eq(got[0].from_id, n->public_addr));
    T_EQ_U64(n_cf, 0);
    WireCall loc = {.kind = WIRE_CM_LOCATED, .call_id = got[0].call_id, .a1 = bob, .ulen = 3};
    memcpy(loc.user, "bob", 3);
    uint8_t buf[WIRE_CALL_MAX];
    size_t len = wire_call_encode(&loc, buf, sizeof buf);
    node__emit(n, NODE_EV_SIGNAL, &(NodeEventArg){.idx = -1, .buf = buf, .len = len});
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(peer_read_calls_fwd(&sn, got, 4, &closed, bob, &n_cf), 1);
    T_EQ_U64(n_cf, 1); /* CF_INVITE to the located identity */
    node_conf_leave(n);
    T_EQ_I64(node_call_state(n), NODE_CALL_IDLE);
    peer_free(&sn);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("call", {"test_call_public_to_public_is_direct", test_call_public_to_public_is_direct},
             {"test_call_full_cone_is_hole_punched", test_call_full_cone_is_hole_punched},
             {"test_call_symmetric_to_port_restricted_is_relayed",
              test_call_symmetric_to_port_restricted_is_relayed},
             {"test_call_udp_blocked_uses_tcp_relay", test_call_udp_blocked_uses_tcp_relay},
             {"test_call_unknown_user_fails", test_call_unknown_user_fails},
             {"test_call_relay_crash_reestablished", test_call_relay_crash_reestablished},
             {"test_call_public_buddies_signal_directly", test_call_public_buddies_signal_directly},
             {"test_call_hold_sends_3_packets_per_second", test_call_hold_sends_3_packets_per_second},
             {"test_call_relay_default_cap_carries_2004_stream",
              test_call_relay_default_cap_carries_2004_stream},
             {"test_call_natted_callee_signals_through_supernodes",
              test_call_natted_callee_signals_through_supernodes},
             {"test_call_refused_bridge_searches_again", test_call_refused_bridge_searches_again},
             {"test_call_locate_flood_still_works", test_call_locate_flood_still_works},
             {"test_call_phone_public_is_direct", test_call_phone_public_is_direct},
             {"test_call_phone_symmetric_nat_needs_no_relay",
              test_call_phone_symmetric_nat_needs_no_relay},
             {"test_call_phone_udp_blocked_uses_tcp_relay",
              test_call_phone_udp_blocked_uses_tcp_relay},
             {"test_call_phone_without_gateway_fails", test_call_phone_without_gateway_fails},
             {"test_call_alone_gateway_answers_invite", test_call_alone_gateway_answers_invite},
             {"test_call_alone_gateway_refuses_non_call", test_call_alone_gateway_refuses_non_call},
             {"test_call_alone_relay_forwards_voice", test_call_alone_relay_forwards_voice},
             {"test_call_alone_conf_organiser_locates_and_invites",
              test_call_alone_conf_organiser_locates_and_invites})
