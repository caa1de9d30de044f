/* Suite "natdet": NAT and firewall type detection (RFC 3489 tests in RFC
 * 5389 messages) by a client against real supernodes serving STUN, for
 * every NAT type of the fake network, plus refresh and the metrics. */
#include "fakeenv.h"
#include "protocol/node.h"
#include "protocol/stun.h"
#include "t_assert.h"

#define CLIENT_IP ENV_IP(10, 1, 0, 7)

typedef struct Wait {
    FakeWorld *w;
    unsigned i;
} Wait;
static bool detected(void *arg)
{
    Wait *x = arg;
    Node *n = x->w->node[x->i];
    return n && node_state(n) == NODE_ST_ONLINE && node_nat_detected(n) != NAT_UNKNOWN &&
           fakenet_metric(x->w->net, "nat.detect.total") > 0;
}

static NatType detect_for(NatType t, uint64_t seed, FakeWorld **out)
{
    FakeWorld *w = fakeworld_new(seed, NULL, true);
    fakenet_run_for(w->net, TIMENS_S); /* supernode peer links up */
    unsigned c = fakeworld_client(w, CLIENT_IP, t);
    fakeworld_start(w, c);
    Wait x = {w, c};
    CU_ASSERT(fakenet_run_while_not(w->net, detected, &x, 120 * TIMENS_S));
    NatType d = node_nat_detected(w->node[c]);
    if (out)
        *out = w;
    else
        T_EQ_U64(fakeworld_free(w), 0);
    return d;
}

static void test_natdet_every_type(void)
{
    NatType types[] = {NAT_OPEN,      NAT_FULL_CONE,   NAT_RESTRICTED,        NAT_PORT_RESTRICTED,
                       NAT_SYMMETRIC, NAT_UDP_BLOCKED, NAT_SYMMETRIC_FIREWALL};
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        FakeWorld *w;
        NatType d = detect_for(types[i], 200 + i, &w);
        char msg[96];
        g_snprintf(msg, sizeof msg, "true %s detected %s", stun_nat_name(types[i]),
                   stun_nat_name(d));
        CU_assertImplementation(d == types[i], __LINE__, msg, __FILE__, __func__, CU_FALSE);
        char name[96];
        g_snprintf(name, sizeof name, "nat.detect.true=%s.detected=%s", stun_nat_name(types[i]),
                   stun_nat_name(types[i]));
        T_EQ_I64(fakenet_metric(w->net, name), 1);
        T_EQ_I64(fakenet_metric(w->net, "nat.detect.correct"), 1);
        T_EQ_I64(fakenet_metric(w->net, "nat.detect.total"), 1);
        T_CMP_I64(fakenet_metric(w->net, "login.packets.nat_detect"), >=, 2);
        T_EQ_U64(fakeworld_free(w), 0);
    }
}

static void test_natdet_messages_are_rfc5389(void)
{
    FakeWorld *w;
    detect_for(NAT_PORT_RESTRICTED, 210, &w);
    size_t stun = 0;
    for (size_t i = 0; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        StunMsg m;
        if (r->proto != FAKE_UDP || !stun_is_stun(r->data, r->len)) continue;
        T_TRUE(stun_decode(r->data, r->len, &m)); /* cookie, fingerprint, structure */
        T_TRUE(m.has_fingerprint);
        if (m.type == STUN_BINDING_SUCCESS) T_TRUE(m.has_xor_mapped);
        stun++;
    }
    T_CMP_I64(stun, >=, 6); /* tests I, II, I', III: requests and the answers */
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_natdet_public_address_learned(void)
{
    FakeWorld *w;
    detect_for(NAT_FULL_CONE, 211, &w);
    unsigned c = w->n - 1;
    EnvAddr pub = node_public_addr(w->node[c]);
    T_EQ_U64(pub.ip, CLIENT_IP ^ 0x80000000u); /* the NAT's outside address */
    T_CMP_I64(pub.port, >=, 40000);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_natdet_refreshed_hourly(void)
{
    FakeWorld *w;
    detect_for(NAT_FULL_CONE, 212, &w); /* (an open client would be promoted on demand) */
    int64_t answered = fakenet_metric(w->net, "supernode.stun_answered");
    fakenet_run_for(w->net, TIMENS_H + TIMENS_MIN);
    T_CMP_I64(fakenet_metric(w->net, "supernode.stun_answered"), >, answered);
    T_EQ_I64(fakenet_metric(w->net, "nat.detect.total"),
             1); /* the matrix counts once per session */
    T_EQ_I64(node_nat_detected(w->node[w->n - 1]), NAT_FULL_CONE);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_natdet_persisted_in_install_record(void)
{
    FakeWorld *w;
    detect_for(NAT_SYMMETRIC, 213, &w);
    uint8_t b[8];
    T_EQ_I64(fakeenv_store_get(w->h[w->n - 1], "install", b, sizeof b), 5);
    T_EQ_U64(b[4], NAT_SYMMETRIC);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_natdet_lonely_supernode_cannot_change_ip(void)
{
    /* One supernode, no peer: test II cannot be served, the NAT'd client
     * cannot run test I' and reports "unknown" (the documented limit). */
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.n_bootstrap = 1;
    FakeWorld *w = fakeworld_new(214, &p, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_PORT_RESTRICTED);
    fakeworld_start(w, c);
    Wait x = {w, c};
    T_TRUE(fakenet_run_while_not(w->net, detected, &x, 120 * TIMENS_S) ||
           fakenet_metric(w->net, "nat.detect.total") == 1);
    T_EQ_I64(fakenet_metric(w->net, "nat.detect.true=port_restricted_cone.detected=unknown"), 1);
    T_EQ_I64(fakenet_metric(w->net, "nat.detect.correct"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("natdet", {"test_natdet_every_type", test_natdet_every_type},
             {"test_natdet_messages_are_rfc5389", test_natdet_messages_are_rfc5389},
             {"test_natdet_public_address_learned", test_natdet_public_address_learned},
             {"test_natdet_refreshed_hourly", test_natdet_refreshed_hourly},
             {"test_natdet_persisted_in_install_record", test_natdet_persisted_in_install_record},
             {"test_natdet_lonely_supernode_cannot_change_ip",
              test_natdet_lonely_supernode_cannot_change_ip})
