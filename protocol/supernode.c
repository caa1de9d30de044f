/* supernode: the supernode role, for promoted clients, dedicated supernodes
 * and the bootstrap supernodes.
 *
 * Layer: protocol/, a feature over the node plumbing (supernode.h). What a supernode
 * does (docs/protocol-notes.md a13, a22, a40, a42, a47; docs/overlay.md):
 *   - keeps the TCP connections of its clients (a13) up to a capacity in
 *     clients (a47: "several hundred"); a probe or CONNECT beyond it is
 *     redirected with entries of supernodes that have room, and lowering
 *     the capacity sheds the newest clients (SHED with alternatives);
 *   - knows the tier (a42: "each supernode knows almost all other
 *     supernodes"): its host cache holds the supernodes it has heard of,
 *     each with when it was last heard alive and its load; every 30 s it
 *     gossips itself and a sample of what it knows to each peer link
 *     (SN_GOSSIP), keeps sn_peer_links links to random supernodes, and
 *     hands out and passes on only entries heard alive within
 *     sn_entry_ttl_ns;
 *   - makes the tier grow by demand: at sn_nominate_load of its capacity
 *     it nominates one of its clients whose keep-alives say it is eligible
 *     (PROMOTE, a40), at most one every two upkeep periods;
 *   - as a bootstrap (a6), it is the entry point rather than part of the
 *     tier: it redirects new clients to supernodes with room as soon as it
 *     knows one, moves the clients it holds there (SHED), and nominates
 *     only while it holds clients and knows no room;
 *   - answers UDP probes (a22: accept = go ahead with TCP, with its load;
 *     or redirect), NAcks datagrams keyed with a wrong source IP (a20);
 *   - answers host-cache requests (a25 sweeps) with random fresh entries;
 *   - forwards signalling (FORWARD) to a local client or to its peers,
 *     with a hop limit, and never lets one peer multiply traffic: the hop
 *     count read from the wire is clamped to WIRE_FORWARD_TTL, a message
 *     seen in the last SN_SEEN_MS is dropped (duplicate suppression: a
 *     flood over the peer mesh reaches each supernode once), forwards are
 *     rate-limited per client and per peer link (token buckets), and a
 *     connection that has not been admitted (a client before its CONNECT
 *     is accepted, a peer before its SN_HELLO) may send nothing else: it
 *     is dropped. Each refusal has its counter (supernode.forward.*,
 *     supernode.unauthenticated);
 *   - serves STUN for NAT detection. It has a second UDP socket (main port
 *     + 1, or any free port) to answer "change port" (RFC 3489 test III)
 *     from the same IP and another port. "Change IP" cannot be served by
 *     one host with one address, so the supernode asks one of its peer
 *     supernodes (STUN_ASSIST over UDP) to answer from the peer's own
 *     address, from its second port; the peer's main endpoint is the
 *     OTHER-ADDRESS it advertises, the second port the CHANGE-ORIGIN
 *     (stun.h; natdet.c says why the two differ). A
 *     supernode with no peer yet cannot serve change-IP (the client then
 *     sees no answer to test II and may report "unknown": documented
 *     limitation, rare once the overlay has formed).
 */
#include "protocol/supernode.h"

#include <string.h>

/* The feature's per-node state: the tables others read (n->sn points at
 * pub, the first member) and what only the supernode uses. */
typedef struct SnPrivate {
    SnState pub;           /* the shared tables (node_int.h) */
    EnvSock udp_alt;       /* second UDP socket (STUN change-port) */
    uint16_t alt_port;     /* its port */
    EnvTimer t_maint;      /* upkeep: peer links, gossip, demand */
    uint16_t nominate_pos; /* where the next scan for an eligible client starts */
    TimeNs nominated_at;   /* when this supernode last nominated a client (-1: never) */
} SnPrivate;

static SnPrivate *supernode_priv(const Node *n)
{
    return (SnPrivate *)n->sn;
}

static void supernode_maint(Node *n);
static void supernode_client_del(Node *n, uint16_t slot);
static uint8_t supernode_handout(Node *n, WireEntry *out, uint8_t max, EnvAddr skip);

/* ---- What the supernode knows of the tier (a42) ----
 * Its host cache is its view of the other supernodes: entries learned
 * from peer links and their gossip, each with when it was last heard alive
 * and its load as last heard. "Fresh" entries (heard alive within
 * sn_entry_ttl_ns, not failing) are the only ones handed out or passed
 * on; an entry "has room" when it is fresh, an ordinary (not bootstrap)
 * supernode, and its load is known and below sn_nominate_load. */

/* Load in percent of capacity (0-100). */
static uint8_t supernode_load(const SnState *s)
{
    return s->cap ? (uint8_t)MIN(100u, s->nclients * 100u / s->cap) : 100;
}

/* Room is a recent fact: a load heard more than SN_ROOM_AGE_S ago says
 * little in a tier that grows and churns (clients sent on to a supernode
 * that filled up since bounce, and a full supernode that believes in old
 * room never nominates). */
#define SN_ROOM_AGE_S 120

static bool supernode_has_room(const Node *n, const HostCacheEntry *x)
{
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    return node__sn_fresh(n, x) && x->load < n->sh->p.sn_nominate_load &&
           now_s - MIN(now_s, x->last_seen_s) <= SN_ROOM_AGE_S;
}

static bool supernode_knows_room(const Node *n)
{
    for (uint16_t i = 0; i < n->hc.n; i++)
        if (supernode_has_room(n, &n->hc.e[i])) return true;
    return false;
}

/* Whether a new client is taken: not when full; not when loaded to
 * sn_nominate_load while a supernode with room is known (redirected there:
 * clients spread over the tier); and a bootstrap, being the entry point of
 * the overlay rather than part of its tier (a6), sends every client on as
 * long as it knows a supernode with room. */
static bool supernode_admits(const Node *n)
{
    const SnState *s = n->sn;
    if (s->nclients >= s->cap) return false;
    if (n->role != NODE_ROLE_BOOTSTRAP && supernode_load(s) < n->sh->p.sn_nominate_load)
        return true;
    return !supernode_knows_room(n);
}

/* Which entries supernode_sample draws from. */
typedef enum SnPick {
    SN_PICK_ROOM,  /* with room; when none has room, fresh ones */
    SN_PICK_FRESH, /* fresh */
    SN_PICK_ANY,   /* any not failing, whatever its age, bootstraps included */
} SnPick;

static bool supernode_pick_ok(const Node *n, const HostCacheEntry *x, SnPick pick)
{
    switch (pick) {
    case SN_PICK_ROOM: return supernode_has_room(n, x);
    case SN_PICK_FRESH: return node__sn_fresh(n, x);
    default: return x->score >= 0 && !env_addr_eq(env_addr(x->ip, x->port), n->public_addr);
    }
}

/* Up to max random entries (distinct) of the kind `pick`, never `skip`.
 * Returns the count. */
static size_t supernode_sample(Node *n, WireEntry *out, size_t max, EnvAddr skip, SnPick pick)
{
    uint8_t idx[HOSTCACHE_MAX];
    uint16_t k = 0;
    for (SnPick p = pick; k == 0 && (p == pick || (pick == SN_PICK_ROOM && p == SN_PICK_FRESH));
         p++)
        for (uint16_t i = 0; i < n->hc.n; i++) {
            const HostCacheEntry *x = &n->hc.e[i];
            if (supernode_pick_ok(n, x, p) && !env_addr_eq(env_addr(x->ip, x->port), skip))
                idx[k++] = (uint8_t)i;
        }
    size_t m = 0;
    for (; m < max && m < k; m++) { /* partial Fisher-Yates */
        uint16_t j = (uint16_t)(m + env_random_below(&n->env, (uint32_t)(k - m)));
        uint8_t t = idx[m];
        idx[m] = idx[j];
        idx[j] = t;
        out[m].ip = n->hc.e[idx[m]].ip;
        out[m].port = n->hc.e[idx[m]].port;
    }
    return m;
}

static void supernode_start(Node *n)
{
    const NodeParams *p = &n->sh->p;
    SnPrivate *x = env_mem_alloc(&n->env, sizeof *x);
    SnState *s = &x->pub;
    s->cap = n->cfg_capacity ? n->cfg_capacity : p->sn_capacity;
    for (int i = 0; i < SN_PEER_MAX; i++) {
        s->peer[i].conn = -1;
        s->peer_fwd[i].conn = -1; /* set up when a peer link takes slot i */
    }
    for (int i = 0; i < SN_BRIDGE_MAX; i++) s->bridge[i].conn = -1;
    s->others = (SnBucket){.conn = -1, .tokens = 2 * SN_FWD_PEER_RATE,
                           .ms = (uint32_t)(env_now(&n->env) / TIMENS_MS)};
    if (env_udp_bind(&n->env, (uint16_t)(n->port + 1), &x->udp_alt) != ENV_OK)
        (void)env_udp_bind(&n->env, 0, &x->udp_alt);
    if (env_sock_is_set(x->udp_alt)) x->alt_port = env_sock_local(&n->env, x->udp_alt).port;
    x->nominated_at = -1;
    n->sn = s;
    if (n->role == NODE_ROLE_CLIENT) {
        n->state = NODE_ST_ONLINE;
        (*n->sh->promoted)++;
    }
    node__count(n, NODE_M(n)->sn_count, 1);
    x->t_maint = node__timer_start_periodic(n, NODE_FEAT_SUPERNODE, p->sn_maint_ns, p->sn_maint_ns,
                                            SN_TM_MAINT);
    supernode_maint(n);
    node__emit(n, NODE_EV_SN_STARTED, NULL);
}

static void supernode_stop(Node *n, bool graceful)
{
    SnState *s = n->sn;
    (void)graceful;
    if (!s) return;
    node__emit(n, NODE_EV_SN_STOPPING, NULL);
    node__count(n, NODE_M(n)->sn_count, -1);
    if (n->role == NODE_ROLE_CLIENT) (*n->sh->promoted)--;
    node__count(n, NODE_M(n)->sn_clients, -(int64_t)s->nclients);
    SnPrivate *x = supernode_priv(n);
    env_timer_cancel(&n->env, &x->t_maint);
    env_udp_close(&n->env, &x->udp_alt);
    env_mem_free(&n->env, s->clients, s->slots * sizeof(SnClient));
    env_mem_free(&n->env, x, sizeof *x);
    n->sn = NULL;
}

/* Entries handed out (random samples, so that clients spread over the
 * tier instead of all taking the same best ones): to a client this
 * supernode sends on, those with room. */
static uint8_t supernode_handout(Node *n, WireEntry *out, uint8_t max, EnvAddr skip)
{
    return (uint8_t)supernode_sample(n, out, MIN(max, WIRE_MAX_ENTRIES), skip,
                                     supernode_admits(n) ? SN_PICK_FRESH : SN_PICK_ROOM);
}

/* Gossip to peer link idx (a42: "each supernode knows almost all other
 * supernodes"): this supernode first (age 0, its load), then a random
 * sample of the fresh ones it knows, with their ages and loads. */
static void supernode_gossip(Node *n, int idx, EnvAddr peer)
{
    WireEntry pick[WIRE_GOSSIP_MAX - 1];
    size_t k = supernode_sample(n, pick, G_N_ELEMENTS(pick), peer, SN_PICK_FRESH);
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    WireMsg m = {.type = WIRE_SN_GOSSIP};
    m.u.gossip.e[0] = (WireGossipEntry){n->public_addr.ip, n->port, 0, supernode_load(n->sn)};
    m.u.gossip.n = 1;
    for (size_t i = 0; i < k; i++) {
        const HostCacheEntry *x = hostcache_find(&n->hc, env_addr(pick[i].ip, pick[i].port));
        uint32_t age = now_s - MIN(now_s, x->last_seen_s);
        m.u.gossip.e[m.u.gossip.n++] =
            (WireGossipEntry){x->ip, x->port, (uint16_t)MIN(age, UINT16_MAX),
                              x->load == HOSTCACHE_LOAD_UNKNOWN ? 100 : x->load};
    }
    node__send_msg(n, idx, &m);
}

static void supernode_on_gossip(Node *n, const WireMsg *m)
{
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    for (uint8_t i = 0; i < m->u.gossip.n; i++) {
        const WireGossipEntry *g = &m->u.gossip.e[i];
        EnvAddr a = env_addr(g->ip, g->port);
        if (!a.ip || !a.port || env_addr_eq(a, n->public_addr)) continue;
        (void)hostcache_merge(&n->hc, a, now_s - MIN(now_s, g->age_s), g->load, NULL);
    }
    node__emit(n, NODE_EV_SN_GOSSIP, &(NodeEventArg){.idx = -1, .msg = m}); /* the ring's view */
}

/* ---- Demand (a40, a22; docs/overlay.md) ----
 * A supernode at sn_nominate_load or more, or a bootstrap holding clients,
 * while it knows no supernode with room, needs the tier to grow: once a
 * maintenance period it nominates one of its clients whose keep-alives say
 * it is eligible (WIRE_PROMOTE). A bootstrap that knows supernodes with
 * room moves clients there instead, sn_move_per_maint at a time (SHED
 * with the entries to go to). */
#define SN_NOMINATE_PERIODS 2

static void supernode_nominate(Node *n)
{
    SnState *s = n->sn;
    SnPrivate *x = supernode_priv(n);
    for (uint16_t k = 0; k < s->slots; k++) {
        uint16_t i = (uint16_t)((x->nominate_pos + k) % s->slots);
        SnClient *c = &s->clients[i];
        if (c->conn < 0 || !c->eligible) continue;
        WireMsg m = {.type = WIRE_PROMOTE};
        node__send_msg(n, c->conn, &m);
        c->eligible = false; /* until its next keep-alive says so again */
        x->nominate_pos = (uint16_t)(i + 1);
        x->nominated_at = env_now(&n->env);
        node__count(n, NODE_M(n)->sn_nominations, 1);
        return;
    }
}

static void supernode_move_clients(Node *n)
{
    SnState *s = n->sn;
    uint8_t moved = 0;
    for (uint16_t i = 0; i < s->slots && moved < n->sh->p.sn_move_per_maint; i++) {
        int idx = s->clients[i].conn;
        if (idx < 0) continue;
        WireMsg r = {.type = WIRE_SHED};
        r.u.connect_ack.n = (uint8_t)supernode_sample(n, r.u.connect_ack.e, n->sh->p.hc_handout,
                                                      s->clients[i].addr, SN_PICK_ROOM);
        if (r.u.connect_ack.n == 0) return;
        node__send_msg(n, idx, &r);
        node__conn_close(n, idx, false);
        supernode_client_del(n, i);
        node__count(n, NODE_M(n)->sn_moved, 1);
        moved++;
    }
}

static void supernode_demand(Node *n)
{
    SnState *s = n->sn;
    SnPrivate *x = supernode_priv(n);
    bool room = supernode_knows_room(n);
    if (n->role == NODE_ROLE_BOOTSTRAP && s->nclients > 0 && room) supernode_move_clients(n);
    bool need = !room && (n->role == NODE_ROLE_BOOTSTRAP
                              ? s->nclients > 0
                              : supernode_load(s) >= n->sh->p.sn_nominate_load);
    /* One nomination every SN_NOMINATE_PERIODS maintenance periods at most:
     * the nominee needs that long to be promoted, link up and be heard of
     * (with room) through the gossip; sooner, the demand it answers would
     * be counted twice. */
    if (need && n->sh->p.promotion_enabled &&
        (x->nominated_at < 0 ||
         env_now(&n->env) - x->nominated_at >= SN_NOMINATE_PERIODS * n->sh->p.sn_maint_ns))
        supernode_nominate(n);
}


/* ---- Peer links ---- */

static int supernode_peer_of_conn(SnState *s, int idx)
{
    for (int i = 0; i < SN_PEER_MAX; i++)
        if (s->peer[i].conn == idx) return i;
    return -1;
}

static int supernode_peer_free(SnState *s)
{
    return supernode_peer_of_conn(s, -1);
}

/* Opens links to more supernodes until sn_peer_links are up or tried. */
static void supernode_links(Node *n)
{
    SnState *s = n->sn;
    EnvAddr skip[2 * SN_PEER_MAX + 1];
    size_t nskip = 0;
    skip[nskip++] = n->public_addr;
    for (int i = 0; i < SN_PEER_MAX; i++)
        if (s->peer[i].conn >= 0) skip[nskip++] = s->peer[i].main;
    /* Random fresh supernodes first, then random others (the bootstraps
     * among them): a random mesh, not everyone linked to the same best
     * entries (whose tables would be full). */
    WireEntry cand[2 * HOSTCACHE_MAX + 1];
    size_t nc = 0;
    if (n->role == NODE_ROLE_CLIENT && n->uplink_addr.ip) /* the SN that nominated us: it */
        cand[nc++] = (WireEntry){n->uplink_addr.ip, n->uplink_addr.port}; /* hears of us first */
    nc += supernode_sample(n, cand + nc, HOSTCACHE_MAX, n->public_addr, SN_PICK_FRESH);
    nc += supernode_sample(n, cand + nc, HOSTCACHE_MAX, n->public_addr, SN_PICK_ANY);
    size_t ci = 0;
    while (s->npeers < MIN(n->sh->p.sn_peer_links, SN_PEER_MAX) && nskip < G_N_ELEMENTS(skip)) {
        EnvAddr to = {0, 0};
        for (; ci < nc && !to.ip; ci++) {
            EnvAddr a = env_addr(cand[ci].ip, cand[ci].port);
            bool linked = false;
            for (size_t k = 0; k < nskip; k++) linked |= env_addr_eq(skip[k], a);
            if (!linked) to = a;
        }
        if (!to.ip) return;
        skip[nskip++] = to;
        int idx = node__connect(n, to, CONN_SN_PEER, PH_NONE);
        if (idx < 0) continue;
        int p = supernode_peer_free(s);
        s->peer[p].conn = idx;
        s->peer[p].main = to;
        s->peer[p].alt_port = 0;
        s->peer[p].admitted = false;
        s->npeers++;
    }
}

/* Upkeep, every sn_maint_ns: peer links, gossip over each admitted one,
 * then the demand check. */
static void supernode_maint(Node *n)
{
    SnState *s = n->sn;
    supernode_links(n);
    for (int i = 0; i < SN_PEER_MAX; i++) {
        int c = s->peer[i].conn;
        if (c >= 0 && n->conns[c].state == CS_READY && s->peer[i].admitted)
            supernode_gossip(n, c, s->peer[i].main);
    }
    supernode_demand(n);
}

static void supernode_send_hello(Node *n, int idx)
{
    node__conn_hello(n, idx, HELLO_SN);
    WireMsg m = {.type = WIRE_SN_HELLO,
                 .u.sn_hello = {{n->public_addr.ip, n->port}, supernode_priv(n)->alt_port}};
    node__send_msg(n, idx, &m);
}

static void supernode_on_connected(Node *n, int idx, int status)
{
    SnState *s = n->sn;
    int p = s ? supernode_peer_of_conn(s, idx) : -1;
    if (p < 0) {
        node__conn_close(n, idx, true);
        return;
    }
    if (status == ENV_OK) {
        supernode_send_hello(n, idx);
        return;
    }
    hostcache_entry_touch(&n->hc, s->peer[p].main, env_now(&n->env), false);
    s->peer[p].conn = -1;
    s->npeers--;
    node__conn_close(n, idx, true);
}

/* The peer's hello on a connection we accepted as a supernode: a client
 * (attached on its CONNECT) or a peer supernode. A call (HELLO_CALL to a
 * promoted client) is left to the calls; our own kinds need nothing. */
static bool supernode_on_hello(Node *n, int idx)
{
    NodeConn *c = node__conn(n, idx);
    SnState *s = n->sn;
    if (c->kind != CONN_IN_PENDING || !s || c->peer_role == HELLO_CALL) return false;
    if (c->peer_role != HELLO_SN) {
        c->kind = CONN_SN_CLIENT; /* attached on CONNECT */
        return true;
    }
    c->kind = CONN_SN_PEER;
    int p = supernode_peer_free(s);
    if (p < 0) { /* a link outside the table would carry floods one way only: refuse it */
        node__conn_close(n, idx, false);
        return true;
    }
    s->peer[p].conn = idx;
    s->peer[p].main = c->peer; /* corrected by its SN_HELLO */
    s->peer[p].admitted = false;
    s->npeers++;
    WireMsg m = {.type = WIRE_SN_HELLO,
                 .u.sn_hello = {{n->public_addr.ip, n->port}, supernode_priv(n)->alt_port}};
    node__send_msg(n, idx, &m);
    return true;
}

/* While the node serves as a supernode it takes every connection; the
 * peer's hello says what it is. */
static bool supernode_on_accept(Node *n, EnvAddr peer, NodeAccept *out)
{
    (void)peer;
    if (!n->sn) return false;
    *out = (NodeAccept){.kind = CONN_IN_PENDING, .hello_role = HELLO_SN};
    return true;
}

/* ---- Clients ---- */

/* A keep-alive on connection idx: tells the features (search) which
 * attached client is alive; nothing before its CONNECT. */
static void supernode_client_touched(Node *n, int idx)
{
    uint16_t aux = n->conns[idx].aux;
    if (!aux || !n->sn || aux > n->sn->slots) return;
    NodeEventArg a = {.idx = idx, .slot = (uint16_t)(aux - 1),
                      .addr = n->sn->clients[aux - 1].addr};
    node__emit(n, NODE_EV_SN_CLIENT_TOUCHED, &a);
}

static void supernode_client_del(Node *n, uint16_t slot)
{
    SnState *s = n->sn;
    NodeEventArg a = {.idx = -1, .slot = slot, .addr = s->clients[slot].addr};
    node__emit(n, NODE_EV_SN_CLIENT_DETACHED, &a);
    s->clients[slot].conn = -1;
    s->nclients--;
    node__count(n, NODE_M(n)->sn_clients, -1);
}

static int supernode_client_add(Node *n, int idx)
{
    SnState *s = n->sn;
    for (uint16_t i = 0; i < s->slots; i++)
        if (s->clients[i].conn < 0) {
            s->clients[i].conn = idx;
            s->clients[i].addr = n->conns[idx].peer;
            s->clients[i].fwd_tokens = 2 * SN_FWD_CLIENT_RATE;
            s->clients[i].fwd_ms = (uint32_t)(env_now(&n->env) / TIMENS_MS);
            s->nclients++;
            node__count(n, NODE_M(n)->sn_clients, 1);
            return i;
        }
    uint16_t cap = s->slots ? (uint16_t)MIN(s->slots * 2, 65535) : 8;
    SnClient *t = env_mem_alloc(&n->env, cap * sizeof *t);
    if (s->clients) memcpy(t, s->clients, s->slots * sizeof *t);
    for (uint16_t i = s->slots; i < cap; i++)
        t[i].conn = -1;
    env_mem_free(&n->env, s->clients, s->slots * sizeof *t);
    s->clients = t;
    s->slots = cap;
    return supernode_client_add(n, idx);
}

static void supernode_on_connect(Node *n, int idx, const WireMsg *m)
{
    SnState *s = n->sn;
    NodeConn *c = node__conn(n, idx);
    if (c->aux) return; /* already attached */
    WireMsg r = {.type = WIRE_CONNECT_ACK};
    r.u.connect_ack.seen.ip = c->peer.ip;
    r.u.connect_ack.seen.port = c->peer.port;
    bool full = !supernode_admits(n);
    r.u.connect_ack.verdict = full ? WIRE_REDIRECT : WIRE_ACCEPT;
    r.u.connect_ack.n = supernode_handout(n, r.u.connect_ack.e, n->sh->p.hc_handout, c->peer);
    node__send_msg(n, idx, &r);
    if (full) {
        node__count(n, NODE_M(n)->sn_rejected, 1);
        node__conn_close(n, idx, false);
        return;
    }
    int slot = supernode_client_add(n, idx);
    s->clients[slot].addr.port = m->u.connect.udp_port; /* identity: (public IP, listening port) */
    n->conns[idx].aux = (uint16_t)(slot + 1);
    s->clients[slot].user_hash =
        wire_user_hash((const char *)m->u.connect.user, m->u.connect.ulen); /* calls */
    s->clients[slot].nat = m->u.connect.nat; /* calls: direct signalling (a31) */
    NodeEventArg a = {.idx = idx, .slot = (uint16_t)slot, .addr = s->clients[slot].addr,
                      .buf = m->u.connect.user, .len = m->u.connect.ulen};
    node__emit(n, NODE_EV_SN_CLIENT_ATTACHED, &a);
}

/* Whether m was passed on recently (node__sn_seen: destination and payload). */
static bool supernode_fwd_seen(Node *n, const WireMsg *m)
{
    uint8_t key[6];
    wire_put_u32(key, m->u.forward.dst.ip);
    wire_put_u16(key + 4, m->u.forward.dst.port);
    return node__sn_seen(n, wire_user_hash(key, sizeof key) ^
                                wire_user_hash(m->u.forward.data, m->u.forward.len));
}

/* A call message from one of our clients to a caller that reached us over
 * a signalling bridge (call.c): it goes down that connection, as a WIRE_CALL
 * frame. True when m was for a bridge. */
static bool supernode_bridge_out(Node *n, const WireMsg *m)
{
    SnState *s = n->sn;
    EnvAddr dst = env_addr(m->u.forward.dst.ip, m->u.forward.dst.port);
    for (int i = 0; i < SN_BRIDGE_MAX; i++) {
        SnBridge *b = &s->bridge[i];
        if (b->conn < 0 || !env_addr_eq(b->caller, dst)) continue;
        WireMsg c = {.type = WIRE_CALL};
        if (node__conn_find(n, b->h) != b->conn ||
            !wire_call_decode(m->u.forward.data, m->u.forward.len, &c.u.call)) {
            b->conn = -1;
            return false;
        }
        node__send_msg(n, b->conn, &c);
        node__count(n, NODE_M(n)->sn_forwarded, 1);
        return true;
    }
    return false;
}

/* Forwards to a local client whose address is dst, else to the peers.
 * dst = ourselves (a promoted client in a call): delivered to the calls
 * (NODE_EV_SIGNAL). from_idx: the connection it came on, -1 our own. */
static void supernode_forward(Node *n, int from_idx, const WireMsg *m)
{
    SnState *s = n->sn;
    const NodeMetrics *mt = NODE_M(n);
    if (!node__sn_rate_ok(n, from_idx) || supernode_fwd_seen(n, m)) return;
    WireMsg f = *m;
    if (f.u.forward.ttl > WIRE_FORWARD_TTL) {
        node__count(n, mt->sn_fwd_ttl, 1);
        f.u.forward.ttl = WIRE_FORWARD_TTL;
    }
    m = &f;
    if (n->role == NODE_ROLE_CLIENT && m->u.forward.dst.ip == n->public_addr.ip &&
        m->u.forward.dst.port == n->port) {
        node__emit(n, NODE_EV_SIGNAL,
                   &(NodeEventArg){.idx = -1, .buf = m->u.forward.data, .len = m->u.forward.len});
        return;
    }
    if (supernode_bridge_out(n, m)) return; /* a call's caller on its bridge first */
    for (uint16_t i = 0; i < s->slots; i++)
        if (s->clients[i].conn >= 0 && s->clients[i].addr.ip == m->u.forward.dst.ip &&
            s->clients[i].addr.port == m->u.forward.dst.port) {
            node__send_msg(n, s->clients[i].conn, m);
            node__count(n, NODE_M(n)->sn_forwarded, 1);
            return;
        }
    if (f.u.forward.ttl == 0) return;
    f.u.forward.ttl--;
    for (int p = 0; p < SN_PEER_MAX; p++) {
        int pc = s->peer[p].conn;
        if (pc >= 0 && pc != from_idx && n->conns[pc].state == CS_READY) {
            node__send_msg(n, pc, &f);
            node__count(n, NODE_M(n)->sn_forwarded, 1);
        }
    }
}

static void supernode_on_frame(Node *n, int idx, const WireMsg *m)
{
    SnState *s = n->sn;
    bool peer = n->conns[idx].kind == CONN_SN_PEER;
    WireMsg r;
    if (n->conns[idx].aux == 0 && m->type != (peer ? WIRE_SN_HELLO : WIRE_CONNECT)) {
        /* (the plumbing routes the calls' openings elsewhere: supernode_kinds) */
        node__count(n, NODE_M(n)->sn_unauth, 1); /* not admitted: nothing but its opening */
        node__conn_drop(n, idx);
        return;
    }
    switch (m->type) {
    case WIRE_CONNECT:
        if (!peer) supernode_on_connect(n, idx, m);
        return;
    case WIRE_KEEPALIVE:
        if (!peer && n->conns[idx].aux <= s->slots)
            s->clients[n->conns[idx].aux - 1].eligible = m->u.keepalive.flags & WIRE_KA_ELIGIBLE;
        supernode_client_touched(n, idx);
        r = (WireMsg){.type = WIRE_KEEPALIVE_ACK, .u.keepalive = {.seq = m->u.keepalive.seq}};
        node__send_msg(n, idx, &r);
        return;
    case WIRE_HC_REQUEST: { /* a sweep (a25): distinct fresh entries, WIRE_MAX_ENTRIES a frame */
        WireEntry all[WIRE_HC_REQUEST_MAX];
        size_t k = supernode_sample(n, all, m->u.hc_request.max, n->conns[idx].peer, SN_PICK_FRESH);
        for (size_t i = 0; i < k; i += WIRE_MAX_ENTRIES) {
            r = (WireMsg){.type = WIRE_HC_ENTRIES};
            r.u.connect_ack.n = (uint8_t)MIN(k - i, (size_t)WIRE_MAX_ENTRIES);
            memcpy(r.u.connect_ack.e, all + i, r.u.connect_ack.n * sizeof *all);
            node__send_msg(n, idx, &r);
        }
        return;
    }
    case WIRE_SN_HELLO: {
        int p = supernode_peer_of_conn(s, idx);
        EnvAddr main = env_addr(m->u.sn_hello.main.ip, m->u.sn_hello.main.port);
        if (!peer || main.ip == 0 || main.port == 0) break;
        if (p >= 0) {
            s->peer[p].main = main;
            s->peer[p].alt_port = m->u.sn_hello.alt_port;
            s->peer[p].admitted = true;
        }
        n->conns[idx].aux = 1; /* admitted */
        hostcache_add(&n->hc, main, env_now(&n->env), 0);
        hostcache_entry_touch(&n->hc, main, env_now(&n->env), true);
        supernode_gossip(n, idx, main); /* what we know, at once */
        return;
    }
    case WIRE_SN_GOSSIP:
        if (peer) {
            supernode_on_gossip(n, m);
            return;
        }
        break;
    case WIRE_FORWARD:
        supernode_forward(n, idx, m);
        return;
    default:
        break;
    }
    node__count(n, NODE_M(n)->malformed_tcp, 1);
}

static void supernode_on_closed(Node *n, int idx, int status)
{
    (void)status;
    SnState *s = n->sn;
    if (!s) return;
    node__emit(n, NODE_EV_SN_CONN_CLOSED, &(NodeEventArg){.idx = idx}); /* relays: a TCP leg */
    for (uint16_t i = 0; i < s->slots; i++)
        if (s->clients[i].conn == idx) supernode_client_del(n, i);
    int p = supernode_peer_of_conn(s, idx);
    if (p >= 0) {
        s->peer[p].conn = -1;
        s->npeers--;
    }
}

void node_sn_set_capacity(Node *n, uint16_t cap)
{
    SnState *s = n->sn;
    CHECK(s != NULL, "node %u is not a supernode", n->id);
    s->cap = cap;
    for (int i = (int)s->slots - 1; i >= 0 && s->nclients > cap; i--) {
        int idx = s->clients[i].conn;
        if (idx < 0) continue;
        WireMsg r = {.type = WIRE_SHED};
        r.u.connect_ack.n =
            supernode_handout(n, r.u.connect_ack.e, n->sh->p.hc_handout, s->clients[i].addr);
        node__send_msg(n, idx, &r);
        node__conn_close(n, idx, false);
        supernode_client_del(n, (uint16_t)i);
        node__count(n, NODE_M(n)->sn_shed, 1);
    }
}

/* ---- UDP: probes and STUN ---- */

static void supernode_on_udp(Node *n, EnvSock s, EnvAddr from, uint16_t frame_id, const WireMsg *m,
                             size_t dlen)
{
    SnState *sn = n->sn;
    (void)dlen;
    if (!sn) { /* not (or no longer) a supernode: a client serves nothing of this */
        if (n->role == NODE_ROLE_CLIENT) node__count(n, NODE_M(n)->malformed_udp, 1);
        return;
    }
    if (m->type == WIRE_PROBE) {
        WireMsg r = {.type = WIRE_PROBE_ACK};
        bool full = !supernode_admits(n);
        r.u.probe_ack.verdict = full ? WIRE_REDIRECT : WIRE_ACCEPT;
        r.u.probe_ack.tcp_port = n->port;
        r.u.probe_ack.load = supernode_load(sn);
        if (full)
            r.u.probe_ack.n = supernode_handout(n, r.u.probe_ack.e, n->sh->p.hc_handout, from);
        node__udp_send_msg(n, s, from, frame_id, &r, PH_NONE);
        return;
    }
    if (m->type == WIRE_STUN_ASSIST) {
        bool known = false; /* only peers may make us send to third parties */
        for (int p = 0; p < SN_PEER_MAX; p++)
            if (sn->peer[p].conn >= 0 && sn->peer[p].main.ip == from.ip) known = true;
        if (!known) return;
        StunMsg r = {.type = STUN_BINDING_SUCCESS, .has_fingerprint = true};
        memcpy(r.txid, m->u.assist.txid, sizeof r.txid);
        r.has_xor_mapped = r.has_mapped = r.has_origin = true;
        r.xor_mapped = r.mapped = env_addr(m->u.assist.target.ip, m->u.assist.target.port);
        /* From the second port: the client's test I' goes to our main one
         * (OTHER-ADDRESS), which must not have sent it anything (natdet.c). */
        EnvSock out = env_sock_is_set(supernode_priv(n)->udp_alt) ? supernode_priv(n)->udp_alt
                                                                  : n->udp;
        r.origin = env_sock_local(&n->env, out);
        uint8_t buf[STUN_MSG_MAX];
        size_t len = stun_encode(&r, buf, sizeof buf);
        node__count(n, NODE_M(n)->sn_stun_answered, 1);
        (void)env_udp_send(&n->env, out, r.xor_mapped, buf, len);
    }
}

/* The peer that serves "change IP": the first peer link both ends have
 * admitted (each holds the other in its peer table, so the peer will take
 * our STUN_ASSIST: supernode_on_udp). */
static const SnPeer *supernode_assist_peer(Node *n)
{
    for (int p = 0; p < SN_PEER_MAX; p++) {
        const SnPeer *x = &n->sn->peer[p];
        if (x->conn >= 0 && x->admitted && n->conns[x->conn].state == CS_READY && x->main.ip)
            return x;
    }
    return NULL;
}

static void supernode_on_stun(Node *n, EnvSock s, EnvAddr from, const StunMsg *m, size_t mlen)
{
    SnState *sn = n->sn;
    (void)mlen;
    if (!sn) return; /* only supernodes serve STUN */
    const SnPeer *assist = supernode_assist_peer(n);
    uint8_t flags = m->has_change ? m->change_flags : 0;
    if (flags & STUN_CHANGE_IP) {
        if (!assist) return; /* cannot change IP alone: see the file comment */
        WireMsg a = {.type = WIRE_STUN_ASSIST};
        memcpy(a.u.assist.txid, m->txid, sizeof a.u.assist.txid);
        a.u.assist.target.ip = from.ip;
        a.u.assist.target.port = from.port;
        node__udp_send_msg(n, n->udp, assist->main, (uint16_t)node__random_u32(n), &a, PH_NONE);
        return;
    }
    EnvSock out = s;
    if (flags & STUN_CHANGE_PORT)
        out = env_sock_eq(s, n->udp) ? supernode_priv(n)->udp_alt : n->udp;
    if (!env_sock_is_set(out)) return;
    StunMsg r = {.type = STUN_BINDING_SUCCESS, .has_fingerprint = true};
    memcpy(r.txid, m->txid, sizeof r.txid);
    r.has_xor_mapped = r.has_mapped = r.has_origin = true;
    r.xor_mapped = r.mapped = from;
    r.origin = env_sock_local(&n->env, out);
    if (assist) {
        r.has_other = true;
        r.other = assist->main;
        r.has_change_origin = assist->alt_port != 0; /* the peer answers test II from there */
        r.change_origin = env_addr(assist->main.ip, assist->alt_port);
    }
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&r, buf, sizeof buf);
    node__count(n, NODE_M(n)->sn_stun_answered, 1);
    node__count(n, NODE_M(n)->sn_bytes_out, (int64_t)len);
    (void)env_udp_send(&n->env, out, from, buf, len);
}

static void supernode_on_timer(Node *n, EnvTimer t, uint32_t kind)
{
    (void)t;
    if (kind == SN_TM_MAINT && n->sn) supernode_maint(n);
}

/* ---- The feature ---- */

static void supernode_feat_start(Node *n)
{
    if (n->role == NODE_ROLE_SUPERNODE || n->role == NODE_ROLE_BOOTSTRAP) supernode_start(n);
}

static void supernode_on_event(Node *n, NodeEvent ev, const NodeEventArg *a)
{
    if (ev == NODE_EV_PROMOTE) supernode_start(n);
    if (ev == NODE_EV_SN_FORWARD && n->sn) supernode_forward(n, a->idx, a->msg);
}

static const uint8_t supernode_udp[] = {WIRE_PROBE, WIRE_STUN_ASSIST};
static const NodeConnKind supernode_kinds[] = {
    {.kind = CONN_SN_CLIENT, .flags = NODE_CK_SN_TX | NODE_CK_GATED,
     .open_types = {WIRE_CONNECT, WIRE_CALL, WIRE_CALL_MEDIA}},
    {.kind = CONN_SN_PEER, .flags = NODE_CK_SN_TX | NODE_CK_GATED, .open_types = {WIRE_SN_HELLO}}};

const NodeFeature supernode_feature = {
    .name = "supernode",
    .id = NODE_FEAT_SUPERNODE,
    .udp_types = supernode_udp,
    .n_udp_types = G_N_ELEMENTS(supernode_udp),
    .conn_kinds = supernode_kinds,
    .n_conn_kinds = G_N_ELEMENTS(supernode_kinds),
    .stun_server = true,
    .start = supernode_feat_start,
    .stop = supernode_stop,
    .on_timer = supernode_on_timer,
    .on_stun = supernode_on_stun,
    .on_udp = supernode_on_udp,
    .on_accept = supernode_on_accept,
    .on_hello = supernode_on_hello,
    .on_connected = supernode_on_connected,
    .on_frame = supernode_on_frame,
    .on_closed = supernode_on_closed,
    .on_event = supernode_on_event,
};
