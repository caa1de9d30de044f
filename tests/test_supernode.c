/* Suite "supernode": promotion, capacity and redirection, shedding, probe
 * answers, STUN service with change-port and change-IP, forwarding,
 * dedicated mode, malformed input. */
#include "fakeenv.h"
#include "protocol/node.h"
#include "protocol/stun.h"
#include "protocol/wire.h"
#include "t_assert.h"

typedef struct Wait {
    FakeWorld *w;
    unsigned i;
    NodeState st;
} Wait;
static bool is_state(void *arg)
{
    Wait *x = arg;
    return x->w->node[x->i] && node_state(x->w->node[x->i]) == x->st;
}
static bool run_to_state(FakeWorld *w, unsigned i, NodeState st, TimeNs limit)
{
    Wait x = {w, i, st};
    return fakenet_run_while_not(w->net, is_state, &x, fakenet_now(w->net) + limit);
}

static NodeParams quick_params(void)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.sn_min_uptime_ns = 2 * TIMENS_MIN;
    return p;
}

static void test_supernode_promotion_of_eligible_client(void)
{
    NodeParams p = quick_params();
    FakeWorld *w = fakeworld_new(301, &p, true);
    unsigned good = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    unsigned natted = fakeworld_client(w, ENV_IP(10, 0, 0, 2), NAT_FULL_CONE);
    NodeConfig weak = {.role = NODE_ROLE_CLIENT, .uplink_kbps = 64, .cpu_mhz = 3000};
    unsigned slow = fakeworld_add(w, ENV_IP(81, 0, 0, 3), &weak, NAT_OPEN, 0);
    fakeworld_start(w, good);
    fakeworld_start(w, natted);
    fakeworld_start(w, slow);
    int64_t base = fakenet_metric(w->net, "supernode.count");
    T_EQ_I64(base, w->nboot);
    fakenet_run_for(w->net, 90 * TIMENS_S); /* uptime below the threshold */
    T_FALSE(node_is_supernode(w->node[good]));
    fakenet_run_for(w->net, 2 * TIMENS_MIN);
    T_TRUE(node_is_supernode(w->node[good])); /* a40: public, fast, up long enough */
    T_FALSE(node_is_supernode(w->node[natted]));
    T_FALSE(node_is_supernode(w->node[slow]));
    T_EQ_I64(fakenet_metric(w->net, "supernode.promotions"), 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.count"), base + 1);
    T_EQ_I64(node_state(w->node[good]), NODE_ST_ONLINE);
    /* The new SN links to other supernodes and is learned by them. */
    fakenet_run_for(w->net, 10 * TIMENS_S);
    EnvAddr self = env_addr(ENV_IP(81, 0, 0, 1), node_listen_port(w->node[good]));
    unsigned knows = 0;
    for (unsigned i = 0; i < w->nboot; i++)
        knows += hostcache_find((HostCache *)node_hostcache(w->node[w->boot0 + i]), self) != NULL;
    T_CMP_I64(knows, >=, 1);
    /* A new client can attach to the promoted node. */
    fakeworld_stop(w, w->boot0, true);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Election by demand (docs/overlay.md): an eligible client attached to an
 * ordinary supernode with room is not promoted, however long it stays; it
 * is once that supernode is full and knows no other with room. */
static void test_supernode_promotion_only_on_demand(void)
{
    NodeParams p = quick_params();
    FakeWorld *w = fakeworld_new(305, &p, true);
    NodeConfig dc = {.role = NODE_ROLE_SUPERNODE, .port = 41000};
    unsigned d = fakeworld_add(w, ENV_IP(90, 0, 0, 1), &dc, NAT_OPEN, 0);
    fakeworld_start(w, d);
    fakenet_run_for(w->net, 65 * TIMENS_S); /* the bootstraps hear of it, with room */
    unsigned c = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    EnvAddr dsn = env_addr(ENV_IP(90, 0, 0, 1), 41000);
    T_TRUE(env_addr_eq(node_supernode_addr(w->node[c]), dsn)); /* a bootstrap sent it on */
    fakenet_run_for(w->net, 20 * TIMENS_MIN); /* eligible after 2 min, but no demand */
    T_FALSE(node_is_supernode(w->node[c]));
    T_EQ_I64(fakenet_metric(w->net, "supernode.nominations"), 0);
    node_sn_set_capacity(w->node[d], 1); /* full now, and it knows no supernode with room */
    fakenet_run_for(w->net, 2 * TIMENS_MIN);
    T_TRUE(node_is_supernode(w->node[c]));
    T_EQ_I64(fakeenv_metric(w->h[d], "supernode.nominations"), 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.promotions"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* supernodes.count in elected mode: a nominee beyond the cap stays a client. */
static void test_supernode_promotion_cap(void)
{
    NodeParams p = quick_params();
    p.sn_max_promoted = 1;
    FakeWorld *w = fakeworld_new(306, &p, true);
    unsigned a = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    unsigned b = fakeworld_client(w, ENV_IP(81, 0, 0, 2), NAT_OPEN);
    fakeworld_start(w, a);
    fakenet_run_for(w->net, 4 * TIMENS_MIN); /* a is nominated by its bootstrap */
    T_TRUE(node_is_supernode(w->node[a]));
    fakeworld_start(w, b);
    node_sn_set_capacity(w->node[a], 1); /* b cannot go to a: a bootstrap keeps it and nominates */
    fakenet_run_for(w->net, 10 * TIMENS_MIN);
    T_FALSE(node_is_supernode(w->node[b]));
    T_CMP_I64(fakenet_metric(w->net, "supernode.promotions_capped"), >=, 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.promotions"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_dedicated_mode_no_promotion(void)
{
    NodeParams p = quick_params();
    p.promotion_enabled = false;
    FakeWorld *w = fakeworld_new(302, &p, true);
    unsigned c = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    fakeworld_start(w, c);
    fakenet_run_for(w->net, 30 * TIMENS_MIN);
    T_FALSE(node_is_supernode(w->node[c]));
    T_EQ_I64(fakenet_metric(w->net, "supernode.promotions"), 0);
    T_EQ_I64(node_state(w->node[c]), NODE_ST_ONLINE);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_full_redirects(void)
{
    FakeWorld *w = fakeworld_new(303, NULL, true);
    for (unsigned i = 1; i < w->nboot; i++)
        node_sn_set_capacity(w->node[w->boot0 + i], 0);
    unsigned c = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_TRUE(env_addr_eq(node_supernode_addr(w->node[c]), w->p.bootstrap[0]));
    T_EQ_U64(node_sn_client_count(w->node[w->boot0]), 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.clients"), 1);
    /* Now the last one is full too: CONNECT itself is refused, with entries. */
    node_sn_set_capacity(w->node[w->boot0], 1);
    unsigned d = fakeworld_client(w, ENV_IP(81, 0, 0, 2), NAT_OPEN);
    fakenet_rule(w->net, FAKE_UDP_DROP, 0, 33033, -1); /* skip the probes: go straight to TCP */
    fakeworld_start(w, d);
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_CMP_I64(fakenet_metric(w->net, "supernode.rejected"), >=, 1);
    T_FALSE(node_state(w->node[d]) == NODE_ST_ONLINE);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_sheds_beyond_capacity(void)
{
    FakeWorld *w = fakeworld_new(304, NULL, true);
    for (unsigned i = 1; i < w->nboot; i++)
        node_sn_set_capacity(w->node[w->boot0 + i], 0);
    unsigned c[3];
    for (int k = 0; k < 3; k++) {
        c[k] = fakeworld_client(w, ENV_IP(81, 0, 0, (uint8_t)(1 + k)), NAT_OPEN);
        fakeworld_start(w, c[k]);
        T_TRUE(run_to_state(w, c[k], NODE_ST_ONLINE, 60 * TIMENS_S));
    }
    fakenet_run_for(w->net, 10 * TIMENS_S);
    Node *sn = w->node[w->boot0];
    T_EQ_U64(node_sn_client_count(sn), 3);
    for (unsigned i = 1; i < w->nboot; i++)
        node_sn_set_capacity(w->node[w->boot0 + i], 300);
    node_sn_set_capacity(sn, 1);
    T_EQ_U64(node_sn_client_count(sn), 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.shed"), 2);
    fakenet_run_for(w->net, 10 * TIMENS_S);
    unsigned moved = 0;
    for (int k = 0; k < 3; k++) {
        T_EQ_I64(node_state(w->node[c[k]]), NODE_ST_ONLINE);
        moved += !env_addr_eq(node_supernode_addr(w->node[c[k]]), w->p.bootstrap[0]);
    }
    T_EQ_U64(moved, 2);
    T_EQ_I64(fakenet_metric(w->net, "supernode.clients"), 3);
    T_EQ_I64(fakenet_metric(w->net, "failover.count"), 0); /* a move, not a loss */
    T_EQ_U64(fakenet_sample_count(w->net, "failover.time_s"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A STUN request injected into SN 0 from a probe host; returns the sources
 * of the answers the probe host got. */
static size_t stun_ask(FakeWorld *w, FakeEnv *probe, uint8_t flags, EnvAddr *src, size_t max)
{
    StunMsg m = {.type = STUN_BINDING_REQUEST, .has_fingerprint = true};
    memset(m.txid, flags + 1, 12);
    if (flags) {
        m.has_change = true;
        m.change_flags = flags;
    }
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    size_t first = fakenet_record_count(w->net);
    fakenet_inject_udp(w->net, fakenet_now(w->net), w->h[w->boot0], 33033,
                       env_addr(fakeenv_ip(probe), 5555), buf, len);
    fakenet_run_for(w->net, TIMENS_S);
    size_t k = 0;
    for (size_t i = first; i < fakenet_record_count(w->net) && k < max; i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        StunMsg d;
        if (r->to.ip == fakeenv_ip(probe) && stun_decode(r->data, r->len, &d)) {
            T_EQ_U64(d.xor_mapped.port, 5555);
            src[k++] = r->from;
        }
    }
    return k;
}

static void test_supernode_stun_change_port_and_ip(void)
{
    FakeWorld *w = fakeworld_new(305, NULL, true);
    fakenet_run_for(w->net, TIMENS_S);
    FakeEnv *probe = fakenet_host_add(w->net, ENV_IP(99, 0, 0, 1));
    EnvAddr src[4];
    T_EQ_U64(stun_ask(w, probe, 0, src, 4), 1);
    T_TRUE(env_addr_eq(src[0], w->p.bootstrap[0]));
    T_EQ_U64(stun_ask(w, probe, STUN_CHANGE_PORT, src, 4), 1);
    T_EQ_U64(src[0].ip, w->p.bootstrap[0].ip); /* same IP, other port */
    T_NE_U64(src[0].port, 33033);
    T_EQ_U64(stun_ask(w, probe, STUN_CHANGE_IP | STUN_CHANGE_PORT, src, 4), 1);
    T_NE_U64(src[0].ip, w->p.bootstrap[0].ip); /* answered by a peer supernode */
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_forwards_signalling(void)
{
    FakeWorld *w = fakeworld_new(306, NULL, true);
    fakenet_run_for(w->net, TIMENS_S);
    unsigned a = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    unsigned b = fakeworld_client(w, ENV_IP(81, 0, 0, 2), NAT_OPEN);
    fakeworld_start(w, a);
    fakeworld_start(w, b);
    T_TRUE(run_to_state(w, a, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_TRUE(run_to_state(w, b, NODE_ST_ONLINE, 60 * TIMENS_S));
    EnvAddr dst = env_addr(ENV_IP(81, 0, 0, 2), node_listen_port(w->node[b]));
    const uint8_t hi[] = "INVITE";
    T_TRUE(node_signal_send(w->node[a], dst, hi, sizeof hi));
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(fakeenv_metric(w->h[b], "signal.received"), 1);
    T_CMP_I64(fakenet_metric(w->net, "supernode.forwarded"), >=, 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_malformed_datagrams_dropped(void)
{
    FakeWorld *w = fakeworld_new(307, NULL, true);
    FakeEnv *probe = fakenet_host_add(w->net, ENV_IP(99, 0, 0, 2));
    Env pe = fakeenv_env(probe);
    Crypto *cr = crypto_new(NULL);
    EnvAddr from = env_addr(fakeenv_ip(probe), 7777);
    TimeNs t = fakenet_now(w->net) + TIMENS_MS;
    unsigned sent = 0;
    for (uint8_t type = 1; type < WIRE_TYPE_END; type++) {
        uint8_t body[32] = {WIRE_VERSION, type, 0xFF, 0xFF, 0xFF, 0xFF};
        for (size_t len = 2; len < 5; len++) { /* truncated bodies of every type */
            uint8_t pkt[64];
            size_t pl = wire_udp_seal(cr, &pe, 9, from.ip, w->p.bootstrap[0].ip, body, len, pkt,
                                      sizeof pkt);
            fakenet_inject_udp(w->net, t + (++sent) * TIMENS_MS, w->h[w->boot0], 33033, from, pkt,
                               pl);
        }
    }
    uint8_t junk[3] = {1, 2, 3};
    fakenet_inject_udp(w->net, t, w->h[w->boot0], 33033, from, junk, sizeof junk);
    /* Keyed with a wrong source IP: answered with an 11-byte NAck (a20). */
    uint8_t body[] = {WIRE_VERSION, WIRE_PING, 0, 0, 0, 1}, pkt[64];
    size_t pl =
        wire_udp_seal(cr, &pe, 9, 0, w->p.bootstrap[0].ip, body, sizeof body, pkt, sizeof pkt);
    fakenet_inject_udp(w->net, t + 500 * TIMENS_MS, w->h[w->boot0], 33033, from, pkt, pl);
    fakenet_run_for(w->net, 2 * TIMENS_S);
    T_CMP_I64(fakeenv_metric(w->h[w->boot0], "wire.malformed.udp"), >=, sent);
    T_EQ_I64(fakeenv_metric(w->h[w->boot0], "wire.nack_sent"), 1);
    size_t nacks = 0; /* (a 4-byte PROBE body is a valid U1 and gets its PROBE_ACK) */
    for (size_t i = 0; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        nacks += r->to.ip == from.ip && wire_udp_is_nack(r->data, r->len);
    }
    T_EQ_U64(nacks, 1);
    crypto_free(cr);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN(
    "supernode",
    {"test_supernode_promotion_of_eligible_client", test_supernode_promotion_of_eligible_client},
    {"test_supernode_promotion_only_on_demand", test_supernode_promotion_only_on_demand},
    {"test_supernode_promotion_cap", test_supernode_promotion_cap},
    {"test_supernode_dedicated_mode_no_promotion", test_supernode_dedicated_mode_no_promotion},
    {"test_supernode_full_redirects", test_supernode_full_redirects},
    {"test_supernode_sheds_beyond_capacity", test_supernode_sheds_beyond_capacity},
    {"test_supernode_stun_change_port_and_ip", test_supernode_stun_change_port_and_ip},
    {"test_supernode_forwards_signalling", test_supernode_forwards_signalling},
    {"test_supernode_malformed_datagrams_dropped", test_supernode_malformed_datagrams_dropped})
