/* Suite "search": the global index and user search (a27-a30)
 * through the fake env. With the random waves (expanding): an online
 * user is found, one offline for more than presence_ttl is not, a cached
 * answer is cheaper, the client-run waves are 4 then 8 supernodes (a27),
 * a UDP-blocked client searches through its supernode only; the DHT
 * organisation finds users contacting few supernodes. With the slots
 * index (the default, a42), on a ring of six dedicated supernodes with
 * slots of two: a record is held by its slot's members and no other
 * supernode (asked by a scripted host over UDP) and re-published every
 * index_republish_ns; the slot forgets a logged-out user after 72 h
 * (a29); records move when a supernode joins the slot and when members
 * stop; a member that never answers costs one per-wave timeout; the
 * searcher's supernode caches the slot's answer (a30). Bounds of the
 * supernode flood are tested in test_featalone.c. */
#include "fakeenv.h"
#include "protocol/node.h"
#include "protocol/wire.h"
#include "t_assert.h"

#include <stdio.h>
#include <string.h>

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

/* Adds and starts a dedicated supernode at ip; returns its index. */
static unsigned add_supernode(FakeWorld *w, uint32_t ip)
{
    NodeConfig c = {.role = NODE_ROLE_SUPERNODE, .uplink_kbps = 10000, .cpu_mhz = 3000};
    unsigned i = fakeworld_add(w, ip, &c, NAT_OPEN, 0);
    fakeworld_start(w, i);
    return i;
}

/* Adds and starts k dedicated supernodes (more targets for the waves);
 * returns the index of the first (the others follow it). */
static unsigned add_supernodes(FakeWorld *w, unsigned k)
{
    unsigned first = w->n;
    for (unsigned j = 0; j < k; j++)
        add_supernode(w, ENV_IP(90, 0, 0, (uint8_t)(j + 1)));
    return first;
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

/* ---- The slots index (NODE_SEARCH_SLOTS, the default) ----
 * Dedicated supernodes form the ring; the bootstraps are not on it
 * (search.c). Among the ring's supernodes a user's record is held by the
 * members of its slot, and by its own supernode (its entry as an attached
 * client, or a former one). */

static NodeParams slots_params(uint8_t slot_size)
{
    NodeParams p = search_params(NODE_SEARCH_SLOTS);
    p.slot_size = slot_size;
    return p;
}

/* The supernode's address as the ring knows it (IP, listening port). */
static EnvAddr sn_addr(FakeWorld *w, unsigned i)
{
    return env_addr(fakeenv_ip(w->h[i]), w->p.bootstrap[0].port);
}

/* The ring id of a supernode, computed as search.c does (FNV-1a of its
 * IP and port, wire_user_hash). */
static uint32_t ring_id(EnvAddr a)
{
    uint8_t b[6];
    wire_put_u32(b, a.ip);
    wire_put_u16(b + 4, a.port);
    return wire_user_hash(b, sizeof b);
}

/* The slot of user among the running supernodes sn[0..nsn-1] (node
 * indexes): the slot_size of them that follow the user's hash on the
 * ring, in ring order, into out. Returns how many (slot_size at most). */
static unsigned slot_of(FakeWorld *w, const unsigned *sn, unsigned nsn, const char *user,
                        unsigned *out)
{
    unsigned r[FW_MAX];
    for (unsigned k = 0; k < nsn; k++) { /* insertion sort by ring id */
        unsigned j = k;
        for (; j > 0 && ring_id(sn_addr(w, r[j - 1])) > ring_id(sn_addr(w, sn[k])); j--)
            r[j] = r[j - 1];
        r[j] = sn[k];
    }
    uint32_t key = wire_user_hash(user, strlen(user));
    unsigned pos = 0;
    while (pos < nsn && ring_id(sn_addr(w, r[pos])) < key)
        pos++;
    unsigned m = MIN(nsn, w->p.slot_size);
    for (unsigned k = 0; k < m; k++)
        out[k] = r[(pos + k) % nsn];
    return m;
}

static bool in_set(unsigned x, const unsigned *set, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        if (set[k] == x) return true;
    return false;
}

/* The node index of the supernode at a among sn[0..nsn-1]; FW_MAX when none. */
static unsigned sn_index(FakeWorld *w, const unsigned *sn, unsigned nsn, EnvAddr a)
{
    for (unsigned k = 0; k < nsn; k++)
        if (env_addr_eq(sn_addr(w, sn[k]), a)) return sn[k];
    return FW_MAX;
}

/* Starts client i and waits until it is online, attached to none of the
 * supernodes at avoid[0..n-1]: they refuse its TCP connections meanwhile
 * (UDP still flows: their index publications are not lost); every rule
 * is cleared afterwards. Returns the address of its supernode. */
static EnvAddr start_avoiding(FakeWorld *w, unsigned i, const EnvAddr *avoid, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        fakenet_rule(w->net, FAKE_TCP_REFUSE, avoid[k].ip, 0, -1);
    start_online(w, &i, 1);
    fakenet_rules_clear(w->net);
    EnvAddr a = node_supernode_addr(w->node[i]);
    for (unsigned k = 0; k < n; k++)
        T_FALSE(env_addr_eq(a, avoid[k]));
    return a;
}

/* A scripted host asking supernodes over UDP whether they hold a user's
 * record, as another supernode's search does (SEARCH_Q), with
 * WIRE_SF_FRESH: cached answers do not count. */
typedef struct Probe {
    FakeWorld *w; /* world */
    FakeEnv *h;   /* the host, in capture mode */
    Env e;        /* its env */
    EnvSock s;    /* its UDP socket */
    Crypto *c;    /* seals and opens datagrams */
    uint32_t qid; /* last query id */
} Probe;

static void probe_init(Probe *p, FakeWorld *w, uint32_t ip)
{
    p->w = w;
    p->h = fakenet_host_add(w->net, ip);
    fakeenv_capture(p->h, true);
    p->e = fakeenv_env(p->h);
    p->c = crypto_new(NULL);
    p->qid = 0;
    T_EQ_I64(env_udp_bind(&p->e, 7000, &p->s), ENV_OK);
}

static void probe_fini(Probe *p)
{
    env_udp_close(&p->e, &p->s);
    crypto_free(p->c);
}

/* Sends m to the supernode at sn over UDP, sealed as a supernode's. */
static void probe_send(Probe *p, EnvAddr sn, const WireMsg *m)
{
    uint8_t body[ENV_UDP_MAX], pkt[ENV_UDP_MAX];
    size_t len = wire_encode(m, body, sizeof body - WIRE_UDP_HDR - WIRE_UDP_TRAILER);
    size_t pl = wire_udp_seal(p->c, &p->e, (uint16_t)++p->qid, fakeenv_ip(p->h), sn.ip, body, len,
                              pkt, sizeof pkt);
    T_EQ_I64(env_udp_send(&p->e, p->s, sn, pkt, pl), ENV_OK);
}

/* The flags of the supernode at sn's answer about user's record
 * (WIRE_SF_FOUND, WIRE_SF_ONLINE; an answer must come within a second). */
static uint8_t probe_query(Probe *p, EnvAddr sn, const char *user)
{
    uint32_t ip = fakeenv_ip(p->h);
    size_t seen = fakeenv_inbox_count(p->h);
    WireMsg q = {.type = WIRE_SEARCH_Q};
    q.u.search.qid = p->qid + 1;
    q.u.search.flags = WIRE_SF_FRESH;
    q.u.search.ulen = (uint8_t)strlen(user);
    q.u.search.user = (const uint8_t *)user;
    probe_send(p, sn, &q);
    fakenet_run_for(p->w->net, TIMENS_S);
    uint8_t body[ENV_UDP_MAX];
    for (size_t i = seen; i < fakeenv_inbox_count(p->h); i++) {
        const FakeInbox *x = fakeenv_inbox_get(p->h, i);
        uint16_t fid;
        WireMsg a;
        long bl = x->kind == 1 ? wire_udp_open(p->c, &p->e, x->data, x->len, sn.ip, ip, body,
                                               sizeof body, &fid)
                               : -1;
        if (bl < 0 || !wire_decode(body, (size_t)bl, &a) || a.type != WIRE_SEARCH_A ||
            a.u.search.qid != p->qid)
            continue;
        return a.u.search.flags;
    }
    CU_FAIL("no SEARCH_A from the supernode");
    return 0;
}

/* Whether the supernode at sn answers that it holds user's record. */
static bool probe_holds(Probe *p, EnvAddr sn, const char *user)
{
    return (probe_query(p, sn, user) & WIRE_SF_FOUND) != 0;
}

/* Asserts that, among sn[0..nsn-1], exactly the members of slot[0..ns-1]
 * and the user's own supernode `own` hold user's record. */
static void assert_held_by_slot(Probe *pr, const unsigned *sn, unsigned nsn, const unsigned *slot,
                                unsigned ns, unsigned own, const char *user)
{
    for (unsigned k = 0; k < nsn; k++) {
        bool member = in_set(sn[k], slot, ns) || sn[k] == own;
        bool held = probe_holds(pr, sn_addr(pr->w, sn[k]), user);
        if (held != member)
            printf("\n    supernode %u: member %d, holds %d\n", sn[k], member, held);
        T_EQ_I64(held, member);
    }
}

/* Six dedicated supernodes (node indexes into sn) on the ring, after
 * the tier has had time to learn itself (a42). */
static void add_ring(FakeWorld *w, unsigned *sn)
{
    sn[0] = add_supernodes(w, 6);
    for (unsigned k = 1; k < 6; k++)
        sn[k] = sn[0] + k;
    fakenet_run_for(w->net, 5 * TIMENS_MIN);
    T_EQ_I64(fakenet_sample_last(w->net, "search.index.ring_size"), 6);
}

/* A client's record goes to the supernodes of its slot (one SN_NOTE PUT
 * each, counted in search.index.puts) and to no other: among the ring's
 * supernodes only the members and the client's own supernode hold it. It
 * is published to the members again every index_republish_ns while the
 * client is attached. */
static void test_search_slots_record_at_its_slot(void)
{
    NodeParams p = slots_params(2);
    p.index_republish_ns = 5 * TIMENS_MIN; /* five keep-alive periods */
    FakeWorld *w = fakeworld_new(507, &p, true);
    unsigned sn[6], slot[2];
    add_ring(w, sn);
    unsigned c = fakeworld_client(w, CL(1), NAT_OPEN);
    const char *user = w->user[c];
    T_EQ_U64(slot_of(w, sn, 6, user, slot), 2);
    EnvAddr avoid[2] = {sn_addr(w, slot[0]), sn_addr(w, slot[1])};
    /* Its own supernode outside the slot: it publishes to both members. */
    unsigned own = sn_index(w, sn, 6, start_avoiding(w, c, avoid, 2));
    int64_t puts = fakenet_metric(w->net, "search.index.puts");
    T_CMP_I64(puts, >=, 2); /* at attach (and again when the client's NAT type is known) */
    Probe pr;
    probe_init(&pr, w, ENV_IP(99, 2, 0, 1));
    assert_held_by_slot(&pr, sn, 6, slot, 2, own, user);
    /* Re-publication: once per index_republish_ns, to each member. */
    fakenet_run_for(w->net, p.index_republish_ns);
    T_EQ_I64(fakenet_metric(w->net, "search.index.puts") - puts, 2);
    fakenet_run_for(w->net, p.index_republish_ns);
    T_EQ_I64(fakenet_metric(w->net, "search.index.puts") - puts, 4);
    assert_held_by_slot(&pr, sn, 6, slot, 2, own, user);
    probe_fini(&pr);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A client moved from supernode X to Y: X's "offline" publication, late,
 * must not hide it while Y says it is online; the same publication from Y
 * (the user logs out there) does. */
static void test_search_slots_late_offline_from_old_supernode(void)
{
    NodeParams p = slots_params(2);
    FakeWorld *w = fakeworld_new(511, &p, true);
    unsigned sn[6], slot[2];
    add_ring(w, sn);
    unsigned c = fakeworld_client(w, CL(1), NAT_OPEN);
    const char *user = w->user[c];
    slot_of(w, sn, 6, user, slot);
    EnvAddr avoid[2] = {sn_addr(w, slot[0]), sn_addr(w, slot[1])};
    EnvAddr y = start_avoiding(w, c, avoid, 2);
    EnvAddr x = sn_addr(w, slot[1]); /* a supernode the client is not attached to */
    Probe pr;
    probe_init(&pr, w, ENV_IP(99, 2, 0, 1));
    EnvAddr m0 = sn_addr(w, slot[0]);
    T_EQ_U64(probe_query(&pr, m0, user), WIRE_SF_FOUND | WIRE_SF_ONLINE);
    WireMsg off = {.type = WIRE_SN_NOTE};
    off.u.search = (WireSearch){.flags = WIRE_SF_PUT | WIRE_SF_FOUND, .ulen = (uint8_t)strlen(user),
                                .user = (const uint8_t *)user,
                                .client = {CL(1), node_listen_port(w->node[c])},
                                .sn = {x.ip, x.port}};
    probe_send(&pr, m0, &off);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(probe_query(&pr, m0, user), WIRE_SF_FOUND | WIRE_SF_ONLINE);
    off.u.search.sn = (WireEntry){y.ip, y.port};
    probe_send(&pr, m0, &off);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(probe_query(&pr, m0, user), WIRE_SF_FOUND);
    probe_fini(&pr);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* SN_RING datagrams from sn in the probe's inbox from index `seen` on:
 * returns how many; *asks counts those flagged ask; the first one's
 * entries go to out (up to max), their number to *nout. */
static unsigned probe_rings(Probe *p, size_t seen, EnvAddr sn, unsigned *asks, EnvAddr *out,
                            uint16_t *age, unsigned max, unsigned *nout)
{
    unsigned k = 0;
    *asks = *nout = 0;
    uint8_t body[ENV_UDP_MAX];
    for (size_t i = seen; i < fakeenv_inbox_count(p->h); i++) {
        const FakeInbox *x = fakeenv_inbox_get(p->h, i);
        uint16_t fid;
        WireMsg a;
        long bl = x->kind == 1 ? wire_udp_open(p->c, &p->e, x->data, x->len, sn.ip,
                                               fakeenv_ip(p->h), body, sizeof body, &fid)
                               : -1;
        if (bl < 0 || !wire_decode(body, (size_t)bl, &a) || a.type != WIRE_SN_RING) continue;
        if (a.u.search.flags & WIRE_SF_ASK) (*asks)++;
        for (unsigned j = 0; k == 0 && j < a.u.search.len / 8u && *nout < max; j++, (*nout)++) {
            const uint8_t *e = a.u.search.data + 8 * j;
            out[*nout] = env_addr(wire_get_u32(e), wire_get_u16(e + 4));
            age[*nout] = wire_get_u16(e + 6);
        }
        k++;
    }
    return k;
}

/* The ring's anti-entropy: a supernode merges the ring another one sends
 * (SN_RING, entries with their ages) into its own at the next upkeep,
 * leaving out entries older than sn_entry_ttl; it answers an ask with its
 * own ring (itself, just heard), at most four asks between two upkeeps;
 * and at each upkeep it sends its ring to one member, flagged ask. */
static void test_search_slots_ring_exchange(void)
{
    NodeParams p = slots_params(2);
    FakeWorld *w = fakeworld_new(512, &p, true);
    unsigned sn = add_supernodes(w, 1);
    fakenet_run_for(w->net, 15 * TIMENS_MIN); /* ages below the clock's value */
    T_EQ_I64(fakenet_sample_last(w->net, "search.index.ring_size"), 1);
    int64_t sent0 = fakenet_metric(w->net, "search.index.ring_msgs");
    Probe pr;
    probe_init(&pr, w, ENV_IP(99, 2, 0, 1));
    EnvAddr a = env_addr(ENV_IP(90, 1, 0, 1), 33033), b = env_addr(ENV_IP(90, 1, 0, 2), 33033),
            c = env_addr(ENV_IP(90, 1, 0, 3), 33033);
    uint8_t blob[24];
    EnvAddr in[3] = {a, b, c};
    uint16_t ages[3] = {10, 100, 700}; /* c: older than sn_entry_ttl (600 s) */
    for (int i = 0; i < 3; i++) {
        wire_put_u32(blob + 8 * i, in[i].ip);
        wire_put_u16(blob + 8 * i + 4, in[i].port);
        wire_put_u16(blob + 8 * i + 6, ages[i]);
    }
    WireMsg m = {.type = WIRE_SN_RING};
    m.u.search = (WireSearch){.flags = WIRE_SF_ASK, .len = sizeof blob, .data = blob};
    size_t seen = fakeenv_inbox_count(pr.h);
    EnvAddr self = sn_addr(w, sn), got[8];
    uint16_t got_age[8];
    unsigned asks, ngot;
    for (int i = 0; i < 6; i++)
        probe_send(&pr, self, &m);
    fakenet_run_for(w->net, TIMENS_S);
    /* Four answers (the budget), none an ask, each the ring: the supernode. */
    T_EQ_U64(probe_rings(&pr, seen, self, &asks, got, got_age, 8, &ngot), 4);
    T_EQ_U64(asks, 0);
    T_EQ_U64(ngot, 1);
    T_TRUE(env_addr_eq(got[0], self));
    T_CMP_I64(got_age[0], <=, 60);
    /* After the next upkeep: a and b on the ring, not c. */
    fakenet_run_for(w->net, p.keepalive_ns);
    T_EQ_I64(fakenet_sample_last(w->net, "search.index.ring_size"), 3);
    /* Its own exchange went to a or b (not there: nothing answers). */
    T_CMP_I64(fakenet_metric(w->net, "search.index.ring_msgs") - sent0, >=, 5);
    /* A new upkeep, a new budget: an ask is answered with all three. */
    seen = fakeenv_inbox_count(pr.h);
    probe_send(&pr, self, &m);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(probe_rings(&pr, seen, self, &asks, got, got_age, 8, &ngot), 1);
    T_EQ_U64(ngot, 3);
    /* A blob that is not whole entries is malformed. */
    m.u.search.len = 7;
    probe_send(&pr, self, &m);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(fakeenv_metric(w->h[sn], "wire.malformed.udp"), 1);
    probe_fini(&pr);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* a29 with the slots index: the slot keeps a logged-out user's record
 * 72 h after the logout and no longer: found at 71 h (the slot's members
 * still hold it), absent at 73 h, the records dropped (expired), not kept
 * and ignored. */
static void test_search_slots_forget_after_72_hours(void)
{
    NodeParams p = slots_params(2);
    FakeWorld *w = fakeworld_new(508, &p, true);
    unsigned sn[6], slot[2];
    add_ring(w, sn);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN)};
    start_online(w, ids, 2);
    const char *user = w->user[ids[1]];
    slot_of(w, sn, 6, user, slot);
    fakeworld_stop(w, ids[1], true); /* the user logs out */
    fakenet_run_for(w->net, 71 * TIMENS_H);
    T_EQ_I64(fakenet_metric(w->net, "search.index.expired"), 0);
    Probe pr;
    probe_init(&pr, w, ENV_IP(99, 2, 0, 1));
    for (unsigned k = 0; k < 2; k++)
        T_TRUE(probe_holds(&pr, sn_addr(w, slot[k]), user));
    T_TRUE(node_search(w->node[ids[0]], user));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(found(w), 1); /* a29: online within the last 72 h */
    fakenet_run_for(w->net, 2 * TIMENS_H);
    T_CMP_I64(fakenet_metric(w->net, "search.index.expired"), >=, 2); /* both members' */
    for (unsigned k = 0; k < 2; k++)
        T_FALSE(probe_holds(&pr, sn_addr(w, slot[k]), user));
    T_TRUE(node_search(w->node[ids[0]], user));
    fakenet_run_for(w->net, 60 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    T_EQ_I64(fakenet_metric(w->net, "search.failure"), 1); /* 73 h: not any more */
    probe_fini(&pr);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Slot membership changes under churn and the records follow. A
 * supernode joins right before the user's key on the ring, so it becomes
 * the slot's first member: it pulls the records of its range from its
 * ring neighbours (INDEX_PULL; search.index.moved counts what they send)
 * and holds the user's record. Then the slot's two former members stop:
 * the next supernode on the ring enters the slot and pulls in turn, and a
 * search finds the user in its first wave. */
static void test_search_slots_records_move_with_the_ring(void)
{
    NodeParams p = slots_params(2);
    FakeWorld *w = fakeworld_new(509, &p, true);
    unsigned sn[7], old[2], slot[2];
    add_ring(w, sn);
    unsigned searcher = fakeworld_client(w, CL(1), NAT_OPEN);
    unsigned target = fakeworld_client(w, CL(2), NAT_OPEN);
    const char *user = w->user[target];
    uint32_t key = wire_user_hash(user, strlen(user));
    slot_of(w, sn, 6, user, old);
    /* Neither client at a member (stopping those must not move them), nor
     * both at the same supernode (the search must go to the slot). */
    EnvAddr avoid[3] = {sn_addr(w, old[0]), sn_addr(w, old[1])};
    avoid[2] = start_avoiding(w, searcher, avoid, 2);
    start_avoiding(w, target, avoid, 3);
    /* An address whose ring id falls between the key and the first member. */
    uint32_t ip = 0, first = ring_id(sn_addr(w, old[0]));
    for (uint32_t k = 1; k < 60000 && !ip; k++) {
        uint32_t c = ENV_IP(91, 0, 0, 0) + k, id = ring_id(env_addr(c, w->p.bootstrap[0].port));
        if (id - key - 1 < first - key - 1) ip = c;
    }
    T_NE_U64(ip, 0);
    int64_t moved = fakenet_metric(w->net, "search.index.moved");
    T_EQ_I64(moved, 0);
    sn[6] = add_supernode(w, ip);
    fakenet_run_for(w->net, 5 * TIMENS_MIN);
    T_EQ_U64(slot_of(w, sn, 7, user, slot), 2);
    T_EQ_U64(slot[0], sn[6]);
    T_EQ_U64(slot[1], old[0]);
    T_CMP_I64(fakenet_metric(w->net, "search.index.moved"), >, moved);
    moved = fakenet_metric(w->net, "search.index.moved");
    Probe pr;
    probe_init(&pr, w, ENV_IP(99, 2, 0, 1));
    T_TRUE(probe_holds(&pr, sn_addr(w, sn[6]), user));
    /* The two former members go; the ring forgets them within
     * sn_entry_ttl_ns (10 min). */
    fakeworld_stop(w, old[0], true);
    fakeworld_stop(w, old[1], true);
    unsigned left[5], nl = 0;
    for (unsigned k = 0; k < 7; k++)
        if (sn[k] != old[0] && sn[k] != old[1]) left[nl++] = sn[k];
    fakenet_run_for(w->net, 15 * TIMENS_MIN);
    T_EQ_I64(fakenet_sample_last(w->net, "search.index.ring_size"), 5);
    T_EQ_U64(slot_of(w, left, nl, user, slot), 2);
    T_EQ_U64(slot[0], sn[6]);
    T_CMP_I64(fakenet_metric(w->net, "search.index.moved"), >, moved);
    for (unsigned k = 0; k < 2; k++)
        T_TRUE(probe_holds(&pr, sn_addr(w, slot[k]), user));
    T_TRUE(node_search(w->node[searcher], user));
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    /* In the first wave (or at the searcher's own supernode, should that be
     * a member of the slot now). */
    T_CMP_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), <=,
              1 + p.search_fanout[0]);
    probe_fini(&pr);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The per-wave timeout: the first wave asks one supernode (fan-out 1),
 * the slot's first member, which never answers (its UDP is dropped). The
 * wave ends after search_timeout_ns (3 s here), not sooner and not much
 * later, and the second wave finds the user at the slot's other member.
 * Both ways of running the waves: by a client whose UDP works (a27), and
 * by the supernode of a UDP-blocked one. */
static void test_search_slots_silent_member_costs_one_wave_timeout(void)
{
    NodeParams p = slots_params(2);
    p.search_fanout[0] = 1;
    p.search_timeout_ns = 3 * TIMENS_S;
    FakeWorld *w = fakeworld_new(510, &p, true);
    unsigned sn[6], slot[2];
    add_ring(w, sn);
    unsigned ids[3] = {fakeworld_client(w, CL(1), NAT_OPEN),
                       fakeworld_client(w, CL(2), NAT_UDP_BLOCKED),
                       fakeworld_client(w, CL(3), NAT_OPEN)};
    const char *user = w->user[ids[2]];
    slot_of(w, sn, 6, user, slot);
    EnvAddr silent = sn_addr(w, slot[0]);
    /* Three distinct supernodes for the three clients (no answer from an
     * own entry or a cache), none of them a member of the user's slot. */
    EnvAddr avoid[5] = {silent, sn_addr(w, slot[1])};
    for (unsigned c = 0; c < 3; c++)
        avoid[2 + c] = start_avoiding(w, ids[c], avoid, 2 + c);
    fakenet_rule(w->net, FAKE_UDP_DROP, silent.ip, 0, -1);
    for (unsigned s = 0; s < 2; s++) {
        size_t q0 = fakenet_record_count_to(w->net, FAKE_UDP, silent.ip, silent.port);
        T_TRUE(node_search(w->node[ids[s]], user));
        fakenet_run_for(w->net, 30 * TIMENS_S);
        T_EQ_I64(found(w), s + 1);
        T_EQ_I64(fakenet_metric(w->net, "search.failure"), 0);
        T_CMP_I64(fakenet_record_count_to(w->net, FAKE_UDP, silent.ip, silent.port), >, q0);
        double lat_ms = fakenet_sample_last(w->net, "search.latency_s") * 1000;
        T_CMP_I64(lat_ms, >=, 3000);
        T_CMP_I64(lat_ms, <, 3500); /* the second wave answers within a few round trips */
    }
    T_EQ_U64(fakeworld_free(w), 0);
}

/* a30 with the slots index: a searcher's supernode caches the answer of
 * the slot; a second search within a keep-alive period is answered from
 * that cache (request and answer only, no other supernode contacted) and
 * counted as a cache hit. Once the cached "online" may be stale (a
 * keep-alive period later), the slot is asked again. */
static void test_search_slots_cached_answer_is_cheaper(void)
{
    NodeParams p = slots_params(2);
    FakeWorld *w = fakeworld_new(511, &p, true);
    unsigned sn[6], slot[2];
    add_ring(w, sn);
    unsigned ids[2] = {fakeworld_client(w, CL(1), NAT_OPEN), fakeworld_client(w, CL(2), NAT_OPEN)};
    unsigned target = ids[1];
    slot_of(w, sn, 6, w->user[target], slot);
    /* The searcher's supernode neither holds the record (not a member of
     * the slot) nor has the user as its client: it must ask the slot. */
    EnvAddr avoid[3] = {sn_addr(w, slot[0]), sn_addr(w, slot[1])};
    avoid[2] = start_avoiding(w, ids[0], avoid, 2);
    start_avoiding(w, target, avoid + 2, 1);
    T_TRUE(node_search(w->node[ids[0]], w->user[target]));
    fakenet_run_for(w->net, 10 * TIMENS_S);
    T_EQ_I64(found(w), 1);
    double msgs1 = fakenet_sample_last(w->net, "search.messages");
    double sns1 = fakenet_sample_last(w->net, "search.supernodes_contacted");
    T_EQ_I64(sns1, 1 + p.search_fanout[0]); /* its supernode, then the first wave */
    T_EQ_I64(fakenet_metric(w->net, "search.cache_hits"), 0);
    T_TRUE(node_search(w->node[ids[0]], w->user[target]));
    fakenet_run_for(w->net, 10 * TIMENS_S);
    T_EQ_I64(found(w), 2);
    double msgs2 = fakenet_sample_last(w->net, "search.messages");
    T_CMP_I64(msgs2, <, msgs1);
    T_EQ_I64(msgs2, 2); /* request and answer: the supernode's cache (a30) */
    T_EQ_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), 1);
    T_EQ_I64(fakenet_metric(w->net, "search.cache_hits"), 1);
    fakenet_run_for(w->net, p.keepalive_ns);
    T_TRUE(node_search(w->node[ids[0]], w->user[target]));
    fakenet_run_for(w->net, 10 * TIMENS_S);
    T_EQ_I64(found(w), 3);
    T_EQ_I64(fakenet_sample_last(w->net, "search.supernodes_contacted"), sns1);
    /* The stale cached entry it passed over is no hit. */
    T_EQ_I64(fakenet_metric(w->net, "search.cache_hits"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN(
    "search", {"test_search_finds_online_user", test_search_finds_online_user},
    {"test_search_forgets_after_72_hours", test_search_forgets_after_72_hours},
    {"test_search_cached_answer_is_cheaper", test_search_cached_answer_is_cheaper},
    {"test_search_waves_are_4_then_8", test_search_waves_are_4_then_8},
    {"test_search_udp_blocked_uses_supernode_only", test_search_udp_blocked_uses_supernode_only},
    {"test_search_dht_finds_with_few_supernodes", test_search_dht_finds_with_few_supernodes},
    {"test_search_slots_record_at_its_slot", test_search_slots_record_at_its_slot},
    {"test_search_slots_ring_exchange", test_search_slots_ring_exchange},
    {"test_search_slots_late_offline_from_old_supernode",
     test_search_slots_late_offline_from_old_supernode},
    {"test_search_slots_forget_after_72_hours", test_search_slots_forget_after_72_hours},
    {"test_search_slots_records_move_with_the_ring", test_search_slots_records_move_with_the_ring},
    {"test_search_slots_silent_member_costs_one_wave_timeout",
     test_search_slots_silent_member_costs_one_wave_timeout},
    {"test_search_slots_cached_answer_is_cheaper", test_search_slots_cached_answer_is_cheaper})
