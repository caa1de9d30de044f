/* Suite "featalone": the supernode feature and the search feature (index,
 * search and presence) alone over the plumbing (node_shared_new_with),
 * driven by scripted peers: hosts with no node that speak the wire format
 * by hand. A supernode-only world attaches a client; a supernode + search
 * world answers a SEARCH_Q from its index (and a supernode-only world does
 * not), builds its slots ring from a peer's gossip beyond its host cache,
 * and passes presence between two attached clients. */
#include "fakeenv.h"
#include "tpeer.h"
#include "protocol/node.h"
#include "protocol/search.h"
#include "protocol/supernode.h"
#include "protocol/wire.h"
#include "t_assert.h"

#define SN_IP ENV_IP(70, 0, 0, 1)
#define SN_PORT 33033

/* A scripted TCP client of the supernode (tpeer.h). */
typedef TPeer Peer;

static void peer_send(Peer *p, const WireMsg *m)
{
    T_EQ_I64(tpeer_send(p, m), ENV_OK);
}

/* Opens a connection to `to` from a new host at ip, says HELLO_CLIENT and,
 * when user is set, CONNECT as user with UDP port udp_port. */
static void peer_open_to(Peer *p, FakeWorld *w, EnvAddr to, uint32_t ip, const char *user,
                         uint16_t udp_port)
{
    tpeer_new(p, w, ip);
    T_EQ_I64(tpeer_connect(p, w, to, 0x5eed0001u + ip, 1 /* HELLO_CLIENT */), ENV_OK);
    if (!user) return;
    WireMsg m = {.type = WIRE_CONNECT};
    m.u.connect.udp_port = udp_port;
    m.u.connect.nat = NAT_OPEN;
    m.u.connect.ulen = (uint8_t)strlen(user);
    m.u.connect.user = (const uint8_t *)user;
    peer_send(p, &m);
}

static void peer_open(Peer *p, FakeWorld *w, uint32_t ip, const char *user, uint16_t udp_port)
{
    peer_open_to(p, w, env_addr(SN_IP, SN_PORT), ip, user, udp_port);
}

/* Decodes everything the supernode sent on p's connection (tpeer_read). */
static size_t peer_read(Peer *p, WireMsg *out, size_t max, uint8_t *store, size_t cap, int *closed)
{
    return tpeer_read(p, out, max, store, cap, closed, NULL);
}

static void peer_close(Peer *p)
{
    tpeer_free(p);
}

/* A world of the given features with one supernode at SN_IP. */
static FakeWorld *world_with_sn(uint64_t seed, const NodeFeature *const *f, size_t nf, unsigned *sn)
{
    FakeWorld *w = fakeworld_new_with(seed, NULL, f, nf);
    NodeConfig c = {.role = NODE_ROLE_SUPERNODE, .port = SN_PORT};
    *sn = fakeworld_add(w, SN_IP, &c, NAT_OPEN, 0);
    fakeworld_start(w, *sn);
    return w;
}

/* The supernode feature alone: a client's CONNECT is accepted with
 * host-cache entries and the client counts as attached; keep-alives are
 * answered; the attachment ends with the connection. */
static void test_supernode_alone_attaches_client(void)
{
    static const NodeFeature *const only[] = {&supernode_feature};
    unsigned sn;
    FakeWorld *w = world_with_sn(501, only, G_N_ELEMENTS(only), &sn);
    T_EQ_U64(node_is_supernode(w->node[sn]), 1);
    Peer p;
    peer_open(&p, w, ENV_IP(99, 1, 0, 1), "alice", 5555);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 1);
    WireMsg ka = {.type = WIRE_KEEPALIVE, .u.keepalive = {.seq = 77}};
    peer_send(&p, &ka);
    fakenet_run_for(w->net, TIMENS_S);
    WireMsg got[4];
    uint8_t store[4096];
    int closed;
    T_EQ_U64(peer_read(&p, got, 4, store, sizeof store, &closed), 2);
    T_EQ_U64(got[0].type, WIRE_CONNECT_ACK);
    T_EQ_U64(got[0].u.connect_ack.verdict, WIRE_ACCEPT);
    T_EQ_U64(got[0].u.connect_ack.seen.ip, ENV_IP(99, 1, 0, 1));
    T_EQ_U64(got[0].u.connect_ack.n, 0); /* it knows no other supernode heard alive: none to give */
    T_EQ_U64(got[1].type, WIRE_KEEPALIVE_ACK);
    T_EQ_U64(got[1].u.keepalive.seq, 77);
    T_EQ_I64(closed, 0);
    T_EQ_I64(fakeenv_metric(w->h[sn], "supernode.clients"), 1);
    peer_close(&p);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Sends SEARCH_Q for user from a scripted UDP host at ip and returns the
 * supernode's answer (decoded into *a, user bytes in ubuf); false when
 * none came. */
static bool udp_search(FakeWorld *w, uint32_t ip, const char *user, WireMsg *a, uint8_t *ubuf)
{
    FakeEnv *h = fakenet_host_add(w->net, ip);
    fakeenv_capture(h, true);
    Env e = fakeenv_env(h);
    Crypto *c = crypto_new(NULL);
    EnvSock s;
    T_EQ_I64(env_udp_bind(&e, 7000, &s), ENV_OK);
    WireMsg q = {.type = WIRE_SEARCH_Q};
    q.u.search.qid = 4242;
    q.u.search.ulen = (uint8_t)strlen(user);
    q.u.search.user = (const uint8_t *)user;
    uint8_t body[ENV_UDP_MAX], pkt[ENV_UDP_MAX];
    size_t len = wire_encode(&q, body, sizeof body - WIRE_UDP_HDR - WIRE_UDP_TRAILER);
    size_t pl = wire_udp_seal(c, &e, 3, ip, SN_IP, body, len, pkt, sizeof pkt);
    T_EQ_I64(env_udp_send(&e, s, env_addr(SN_IP, SN_PORT), pkt, pl), ENV_OK);
    fakenet_run_for(w->net, TIMENS_S);
    bool got = false;
    for (size_t i = 0; i < fakeenv_inbox_count(h) && !got; i++) {
        const FakeInbox *x = fakeenv_inbox_get(h, i);
        uint16_t fid;
        long bl = x->kind == 1
                      ? wire_udp_open(c, &e, x->data, x->len, SN_IP, ip, body, sizeof body, &fid)
                      : -1;
        if (bl < 0 || !wire_decode(body, (size_t)bl, a) || a->type != WIRE_SEARCH_A) continue;
        memcpy(ubuf, a->u.search.user, a->u.search.ulen); /* body is ours: keep the name */
        a->u.search.user = ubuf;
        got = true;
    }
    env_udp_close(&e, &s);
    crypto_free(c);
    return got;
}

/* The search feature (with the supernode it serves): a SEARCH_Q for an
 * attached client is answered from the index, found and online, with the
 * client's identity and its supernode; an unknown user is not found.
 * Without the search feature the same query goes unanswered. */
static void test_search_answers_from_index(void)
{
    static const NodeFeature *const feats[] = {&supernode_feature, &search_feature};
    unsigned sn;
    FakeWorld *w = world_with_sn(502, feats, G_N_ELEMENTS(feats), &sn);
    Peer p;
    peer_open(&p, w, ENV_IP(99, 1, 0, 1), "alice", 5555);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 1);
    WireMsg a;
    uint8_t u[WIRE_USER_MAX];
    CU_ASSERT_FATAL(udp_search(w, ENV_IP(99, 2, 0, 1), "alice", &a, u));
    T_EQ_U64(a.u.search.qid, 4242);
    T_EQ_U64(a.u.search.flags & (WIRE_SF_FOUND | WIRE_SF_ONLINE), WIRE_SF_FOUND | WIRE_SF_ONLINE);
    T_EQ_U64(a.u.search.client.ip, ENV_IP(99, 1, 0, 1));
    T_EQ_U64(a.u.search.client.port, 5555);
    T_EQ_U64(a.u.search.sn.ip, SN_IP);
    T_EQ_U64(a.u.search.sn.port, SN_PORT);
    CU_ASSERT_FATAL(udp_search(w, ENV_IP(99, 2, 0, 2), "bob", &a, u));
    T_EQ_U64(a.u.search.flags & WIRE_SF_FOUND, 0);
    T_EQ_I64(fakeenv_metric(w->h[sn], "search.sn_queries"), 2);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);

    static const NodeFeature *const sn_only[] = {&supernode_feature};
    w = world_with_sn(503, sn_only, G_N_ELEMENTS(sn_only), &sn);
    peer_open(&p, w, ENV_IP(99, 1, 0, 1), "alice", 5555);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 1);
    CU_ASSERT(!udp_search(w, ENV_IP(99, 2, 0, 1), "alice", &a, u));
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The slots ring is the supernode's view of the tier (a42: each knows
 * almost all others), not its host cache: a peer supernode's gossip names
 * 256 supernodes, more than the cache's 200 entries, and all of them join
 * the ring at the next upkeep; heard of no more, they leave it once
 * sn_entry_ttl has passed. */
static void test_search_ring_learns_the_tier_from_gossip(void)
{
    static const NodeFeature *const feats[] = {&supernode_feature, &search_feature};
    unsigned sn;
    FakeWorld *w = world_with_sn(504, feats, G_N_ELEMENTS(feats), &sn);
    Peer p;
    tpeer_new(&p, w, ENV_IP(99, 4, 0, 1));
    T_EQ_I64(tpeer_connect(&p, w, env_addr(SN_IP, SN_PORT), 0x5eed0042u, 2 /* HELLO_SN */), ENV_OK);
    WireMsg h = {.type = WIRE_SN_HELLO};
    h.u.sn_hello.main.ip = ENV_IP(99, 4, 0, 1);
    h.u.sn_hello.main.port = SN_PORT;
    peer_send(&p, &h);
    for (unsigned k = 0; k < 16; k++) {
        WireMsg g = {.type = WIRE_SN_GOSSIP};
        g.u.gossip.n = WIRE_GOSSIP_MAX;
        for (unsigned i = 0; i < WIRE_GOSSIP_MAX; i++)
            g.u.gossip.e[i] = (WireGossipEntry){ENV_IP(100, 1, (uint8_t)k, (uint8_t)(i + 1)), SN_PORT, 0, 50};
        peer_send(&p, &g);
    }
    const NodeParams *np = &w->p;
    fakenet_run_for(w->net, np->keepalive_ns + TIMENS_S); /* one upkeep */
    T_CMP_I64(fakenet_sample_count(w->net, "search.index.ring_size"), >=, 1);
    double ring = fakenet_sample_last(w->net, "search.index.ring_size");
    T_CMP_I64(ring, >=, 256 + 1); /* the named ones and itself (the peer, too) */
    T_CMP_I64(ring, >, 200);      /* more than its host cache could hold */
    T_CMP_I64(fakenet_sample_last(w->net, "search.index.bytes"), <, 256 * 1024);
    /* Nothing more is heard of them: gone after sn_entry_ttl. */
    fakenet_run_for(w->net, np->sn_entry_ttl_ns + 2 * np->keepalive_ns);
    T_CMP_I64(fakenet_sample_last(w->net, "search.index.ring_size"), <=, 2);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Presence at a supernode (search feature): alice announces herself
 * online to bob, both attached here; bob gets PRESENCE(online) naming
 * alice, and PRESENCE(offline) when alice's connection goes. */
static void test_presence_between_attached_clients(void)
{
    static const NodeFeature *const feats[] = {&supernode_feature, &search_feature};
    unsigned sn;
    FakeWorld *w = world_with_sn(504, feats, G_N_ELEMENTS(feats), &sn);
    Peer alice, bob;
    peer_open(&alice, w, ENV_IP(99, 1, 0, 1), "alice", 5555);
    peer_open(&bob, w, ENV_IP(99, 1, 0, 2), "bob", 5556);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 2);
    WireMsg an = {.type = WIRE_ANNOUNCE};
    an.u.search.flags = WIRE_SF_ONLINE;
    an.u.search.to = (WireEntry){ENV_IP(99, 1, 0, 2), 5556};
    an.u.search.sn = (WireEntry){SN_IP, SN_PORT};
    peer_send(&alice, &an);
    fakenet_run_for(w->net, TIMENS_S);
    peer_close(&alice);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_U64(node_sn_client_count(w->node[sn]), 1);
    WireMsg got[6];
    uint8_t store[4096];
    int closed;
    T_EQ_U64(peer_read(&bob, got, 6, store, sizeof store, &closed), 3); /* CONNECT_ACK first */
    T_EQ_U64(got[1].type, WIRE_PRESENCE);
    T_EQ_U64(got[1].u.search.ulen, 5);
    CU_ASSERT(memcmp(got[1].u.search.user, "alice", 5) == 0);
    T_EQ_U64(got[1].u.search.flags & WIRE_SF_ONLINE, WIRE_SF_ONLINE);
    T_EQ_U64(got[1].u.search.client.port, 5555);
    T_EQ_U64(got[2].type, WIRE_PRESENCE);
    T_EQ_U64(got[2].u.search.flags & WIRE_SF_ONLINE, 0);
    peer_close(&bob);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The forward storm of a hostile peer: one 14-byte FORWARD for
 * an unknown destination with a hop count of 141. Not admitted (no
 * CONNECT), the connection is dropped and nothing is forwarded. Admitted,
 * the hop count is clamped to WIRE_FORWARD_TTL, every supernode of the
 * 7-bootstrap mesh forwards it at most once per peer link (the rest are
 * counted as duplicates), the run ends, and a burst of 100 is cut by the
 * client's rate limit. */
static void test_supernode_forward_storm_is_bounded(void)
{
    FakeWorld *w = fakeworld_new(511, NULL, true);
    fakenet_run_for(w->net, 30 * TIMENS_S); /* the bootstraps link up */
    EnvAddr sn = w->p.bootstrap[0];
    const uint8_t blob[] = {1, 2, 3};
    WireMsg f = {.type = WIRE_FORWARD, .u.forward = {{ENV_IP(1, 2, 3, 4), 999}, 141, 3, blob}};
    uint8_t enc[64];
    T_EQ_U64(wire_encode(&f, enc, sizeof enc), 14); /* the frame of the report */

    Peer bad;
    peer_open_to(&bad, w, sn, ENV_IP(99, 3, 0, 1), NULL, 0);
    fakenet_run_for(w->net, TIMENS_S);
    peer_send(&bad, &f);
    fakenet_run_for(w->net, 10 * TIMENS_S);
    WireMsg got[4];
    uint8_t store[4096];
    int closed;
    (void)peer_read(&bad, got, 4, store, sizeof store, &closed);
    T_CMP_I64(closed, !=, 0);
    T_EQ_I64(fakenet_metric(w->net, "supernode.unauthenticated"), 1);
    T_EQ_I64(fakenet_metric(w->net, "supernode.forwarded"), 0);
    peer_close(&bad);

    Peer c;
    peer_open_to(&c, w, sn, ENV_IP(99, 3, 0, 2), "mallory", 4444);
    fakenet_run_for(w->net, TIMENS_S);
    peer_send(&c, &f);
    fakenet_run_for(w->net, 10 * TIMENS_S);
    int64_t fwd = fakenet_metric(w->net, "supernode.forwarded");
    T_CMP_I64(fwd, >=, 1);
    T_CMP_I64(fwd, <=, (int64_t)w->nboot * 8); /* once per link at most (SN_PEER_MAX 8) */
    T_EQ_I64(fakenet_metric(w->net, "supernode.forward.ttl_clamped"), 1);
    T_CMP_I64(fakenet_metric(w->net, "supernode.forward.duplicates"), >=, 1);
    for (int i = 0; i < 100; i++) { /* distinct payloads: not duplicates */
        uint8_t b[2] = {(uint8_t)i, 7};
        WireMsg g = {.type = WIRE_FORWARD, .u.forward = {{ENV_IP(1, 2, 3, 4), 999}, 3, 2, b}};
        peer_send(&c, &g);
    }
    fakenet_run_for(w->net, 10 * TIMENS_S);
    T_CMP_I64(fakenet_metric(w->net, "supernode.forward.rate_limited"), >=, 70);
    peer_close(&c);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("featalone",
             {"test_supernode_alone_attaches_client", test_supernode_alone_attaches_client},
             {"test_search_answers_from_index", test_search_answers_from_index},
             {"test_search_ring_learns_the_tier_from_gossip",
              test_search_ring_learns_the_tier_from_gossip},
             {"test_presence_between_attached_clients", test_presence_between_attached_clients},
             {"test_supernode_forward_storm_is_bounded", test_supernode_forward_storm_is_bounded})
