/* test_call: calls (protocol/call.c, relay.c) through the fake env, path by
 * path: public to public is direct; symmetric to port-restricted cannot
 * punch and is relayed over UDP; an end without UDP uses a TCP relay; the
 * call message codec is strict; a relay crash mid-call is re-established
 * through another relay; public buddies signal over a direct TCP
 * connection (a31); a call to a phone number reaches the gateway (a18) and
 * carries G.729 media. Outcomes come from the fake net's NATs. */
#include "protocol/node_int.h"

#include "fakeenv.h"
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
    T_EQ_I64(fakeenv_metric(w->h[a], "signal.received"), 1); /* LOCATED: the lookup */
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
    int64_t tcp_prefix = want == NODE_CALL_PATH_TCP_RELAY ? 2 : 0; /* media.h: over TCP */
    T_EQ_I64(fakeenv_metric(w->h[a], "call.media.bytes"), ap * (3 + 4 + 24 + tcp_prefix));
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

T_SUITE_MAIN("call", {"test_call_public_to_public_is_direct", test_call_public_to_public_is_direct},
             {"test_call_full_cone_is_hole_punched", test_call_full_cone_is_hole_punched},
             {"test_call_symmetric_to_port_restricted_is_relayed",
              test_call_symmetric_to_port_restricted_is_relayed},
             {"test_call_udp_blocked_uses_tcp_relay", test_call_udp_blocked_uses_tcp_relay},
             {"test_call_unknown_user_fails", test_call_unknown_user_fails},
             {"test_call_relay_crash_reestablished", test_call_relay_crash_reestablished},
             {"test_call_public_buddies_signal_directly", test_call_public_buddies_signal_directly},
             {"test_call_natted_callee_signals_through_supernodes",
              test_call_natted_callee_signals_through_supernodes},
             {"test_call_phone_public_is_direct", test_call_phone_public_is_direct},
             {"test_call_phone_symmetric_nat_needs_no_relay",
              test_call_phone_symmetric_nat_needs_no_relay},
             {"test_call_phone_udp_blocked_uses_tcp_relay",
              test_call_phone_udp_blocked_uses_tcp_relay},
             {"test_call_phone_without_gateway_fails", test_call_phone_without_gateway_fails})
