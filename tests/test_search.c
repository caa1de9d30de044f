/* Suite "search": the global index and user search (a27-a30)
 * through the fake env: an online user is found, one offline for more
 * than presence_ttl is not, a cached answer is cheaper, the client-run
 * waves are 4 then 8 supernodes (a27), a UDP-blocked client searches
 * through its supernode only, and the DHT organisation finds users
 * contacting few supernodes. */
#include "fakeenv.h"
#include "protocol/node.h"
#include "protocol/wire.h"
#include "t_assert.h"

#define CL(k) ENV_IP(81, 0, 0, (k))

static NodeParams search_params(uint8_t mode)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.promotion_enabled = false;
    p.search_mode = mode;
    return p;
}

typedef struct Online {
    FakeWorld *w;     /* world */
    unsigned i[4];    /* nodes to wait for */
    unsigned n;       /* entries of i */
} Online;

static bool all_online(void *arg)
{
    Online *o = arg;
    for (unsigned k = 0; k < o->n; k++)
        if (!o->w->node[o->i[k]] || node_state(o->w->node[o->i[k]]) != NODE_ST_ONLINE) return false;
    return true;
}

static void start_online(FakeWorld *w, const unsigned *ids, unsigned n)
{
    Online o = {.w = w, .n = n};
    for (unsigned k = 0; k < n; k++) {
        o.i[k] = ids[k];
        fakeworld_start(w, ids[k]);
    }
    T_TRUE(fakenet_run_while_not(w->net, all_online, &o, fakenet_now(w->net) + 60 * TIMENS_S));
    fakenet_run_for(w->net, 10 * TIMENS_S); /* NAT detection and alternates settle */
}

/* Adds and starts k dedicated supernodes (more targets for the waves). */
static void add_supernodes(FakeWorld *w, unsigned k)
{
    for (unsigned j = 0; j < k; j++) {
        NodeConfig c = {.role = NODE_ROLE_SUPERNODE, .uplink_kbps = 10000, .cpu_mhz = 3000};
        unsigned i = fakeworld_add(w, ENV_IP(90, 0, 0, (uint8_t)(j + 1)), &c, NAT_OPEN, 0);
        fakeworld_start(w, i);
    }
}

static int64_t found(FakeWorld *w)
{
    return fakenet_metric(w->net, "search.success");
}

static void test_search_finds_online_user(void)
{
    NodeParams p = search_params(NODE_SEARCH_EXPANDING);
    FakeWorld *w = fakeworld_new(501, &p, true);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN)};
    start_online(w, ids, 2);
    T_TRUE(node_search(w->node[ids[0]], w->user[ids[1]]));
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 0);
    T_EQ_U64(fakenet_sample_count(w->net, "search.latency_s"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "search.latency_s") * 1000, <, 12000);
    /* A user nobody has: every wave runs, then "absent". */
    T_TRUE(node_search(w->node[ids[0]], "nobody"));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_search_forgets_after_72_hours(void)
{
    NodeParams p = search_params(NODE_SEARCH_EXPANDING);
    FakeWorld *w = fakeworld_new(502, &p, true);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN)};
    start_online(w, ids, 2);
    fakeworld_stop(w, ids[1], true); /* the user logs out */
    fakenet_run_for(w->net, 71 * TIMENS_H);
    T_TRUE(node_search(w->node[ids[0]], w->user[ids[1]]));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(found(w), 1); /* a29: online within the last 72 h */
    fakenet_run_for(w->net, 2 * TIMENS_H);
    T_TRUE(node_search(w->node[ids[0]], w->user[ids[1]]));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 1); /* 73 h: not any more */
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_search_cached_answer_is_cheaper(void)
{
    NodeParams p = search_params(NODE_SEARCH_EXPANDING);
    FakeWorld *w = fakeworld_new(503, &p, true);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN)};
    start_online(w, ids, 1);
    /* The target logs in while the searcher's SN is unreachable: another SN. */
    EnvAddr sn = node_supernode_addr(w->node[ids[0]]);
    fakenet_rule(w->net, FAKE_TCP_REFUSE, sn.ip, 0, -1);
    fakenet_rule(w->net, FAKE_UDP_DROP, sn.ip, 0, -1);
    start_online(w, ids + 1, 1);
    fakenet_rules_clear(w->net);
    unsigned target = ids[1];
    T_FALSE(env_addr_eq(node_supernode_addr(w->node[target]), sn));
    T_TRUE(node_search(w->node[ids[0]], w->user[target]));
    fakenet_run_for(w->net, 30 * TIMENS_S);
    double msgs1 = fakenet_sample_last(w->net, "search.messages");
    double sns1 = fakenet_sample_last(w->net, "search.supernodes_contacted");
    double lat1 = fakenet_sample_last(w->net, "search.latency_s");
    T_TRUE(node_search(w->node[ids[0]], w->user[target]));
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(found(w), 2);
    double msgs2 = fakenet_sample_last(w->net, "search.messages");
    T_CMP_I64(sns1, >, 1);
    T_CMP_I64(msgs2, <, msgs1);
    T_EQ_I64(msgs2, 2); /* request and answer: the SN's cache (a30) */
    T_EQ_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "search.latency_s") * 1e6, <, lat1 * 1e6);
    T_CMP_I64(fakenet_metric(w->net, "search.cache_hits"), >=, 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Decodes the UDP datagrams sent from ip since t and counts SEARCH_Q;
 * first[] gets the send times of each batch (a gap > 10 ms starts one). */
static unsigned udp_queries(FakeWorld *w, uint32_t ip, TimeNs since, unsigned *batch, unsigned nb)
{
    Crypto *cr = crypto_new(NULL);
    Env env = fakenet_world_env(w->net);
    unsigned total = 0, b = 0;
    TimeNs last = -1;
    for (size_t i = 0; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        if (r->proto != FAKE_UDP || r->from.ip != ip || r->t < since) continue;
        uint8_t body[ENV_UDP_MAX];
        uint16_t fid;
        long len = wire_udp_open(cr, &env, r->data, r->len, ip, r->to.ip, body, sizeof body, &fid);
        WireMsg m;
        if (len < 0 || !wire_decode(body, (size_t)len, &m) || m.type != WIRE_SEARCH_Q) continue;
        if (last >= 0 && r->t - last > 10 * TIMENS_MS) b++;
        if (b < nb) batch[b]++;
        last = r->t;
        total++;
    }
    crypto_free(cr);
    return total;
}

static void test_search_waves_are_4_then_8(void)
{
    NodeParams p = search_params(NODE_SEARCH_EXPANDING);
    FakeWorld *w = fakeworld_new(504, &p, true);
    add_supernodes(w, 10); /* 17 supernodes: room for 4 + 8 */
    unsigned ids[1] = {fakeworld_client(w, CL(1), NAT_OPEN)};
    fakenet_run_for(w->net, 5 * TIMENS_MIN); /* supernodes learn each other (a42) */
    start_online(w, ids, 1);
    TimeNs t0 = fakenet_now(w->net);
    T_TRUE(node_search(w->node[ids[0]], "nobody"));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    unsigned batch[4] = {0};
    T_EQ_U64(udp_queries(w, CL(1), t0, batch, 4), 12);
    T_EQ_U64(batch[0], 4); /* a27: the SN names 4 nodes... */
    T_EQ_U64(batch[1], 8); /* ...then 8 more */
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 1);
    T_EQ_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), 13);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_search_udp_blocked_uses_supernode_only(void)
{
    NodeParams p = search_params(NODE_SEARCH_EXPANDING);
    FakeWorld *w = fakeworld_new(505, &p, true);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_UDP_BLOCKED),
                       fakeworld_client(w, CL(2), NAT_OPEN)};
    start_online(w, ids, 2);
    T_EQ_I64(node_nat_detected(w->node[ids[0]]), NAT_UDP_BLOCKED);
    TimeNs t0 = fakenet_now(w->net);
    T_TRUE(node_search(w->node[ids[0]], w->user[ids[1]]));
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    unsigned batch[2] = {0};
    T_EQ_U64(udp_queries(w, CL(1), t0, batch, 2), 0); /* a27: the search runs on the SN */
    size_t tcp = 0;
    for (size_t i = 0; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        tcp += r->t >= t0 && r->from.ip == CL(1) && r->proto == FAKE_TCP;
    }
    T_CMP_I64(tcp, >=, 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_search_dht_finds_with_few_supernodes(void)
{
    NodeParams p = search_params(NODE_SEARCH_DHT);
    p.search_fanout[0] = 1; /* alpha 1: a plain greedy walk */
    FakeWorld *w = fakeworld_new(506, &p, true);
    add_supernodes(w, 9); /* 16 supernodes */
    fakenet_run_for(w->net, 5 * TIMENS_MIN);
    unsigned ids[4] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN),
                       fakeworld_client(w, CL(3), NAT_UDP_BLOCKED),
                       fakeworld_client(w, CL(4), NAT_PORT_RESTRICTED)};
    start_online(w, ids, 4);
    T_CMP_I64(fakenet_metric(w->net, "search.dht_puts"), >=, 3);
    for (unsigned k = 1; k < 4; k++)
        T_TRUE(node_search(w->node[ids[0]], w->user[ids[k]]));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(found(w), 3);
    T_EQ_U64(fakenet_sample_count(w->net, "search.supernodes_contacted"), 3);
    double mean = fakenet_sample_sum(w->net, "search.supernodes_contacted") / 3;
    T_CMP_I64(mean * 100, <=, 500); /* own SN + at most log2(16) = 4 */
    T_TRUE(node_search(w->node[ids[2]], "nobody"));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), <=, 5);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("search", {"test_search_finds_online_user", test_search_finds_online_user},
             {"test_search_forgets_after_72_hours", test_search_forgets_after_72_hours},
             {"test_search_cached_answer_is_cheaper", test_search_cached_answer_is_cheaper},
             {"test_search_waves_are_4_then_8", test_search_waves_are_4_then_8},
             {"test_search_udp_blocked_uses_supernode_only",
              test_search_udp_blocked_uses_supernode_only},
             {"test_search_dht_finds_with_few_supernodes", test_search_dht_finds_with_few_supernodes})
