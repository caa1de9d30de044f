/* search: the supernodes' global user index and user search (a27-a30),
 * the first half of the search feature (search.h, search_int.h; presence.c
 * is the second).
 *
 * Sources (docs/protocol-notes.md): a27 (a public-IP client asks its SN over TCP,
 * the SN names 4 nodes, the client queries them over UDP, tells the SN
 * when they do not know, the SN names 8 more, until found or declared
 * absent; behind a UDP-blocking firewall the search runs on the SN only),
 * a28 (8 then 16 in a later version: the fan-out is a parameter), a29
 * (any user online within the last 72 h is found), a30 (results cached at
 * intermediate nodes), a42 (SNs know almost all other SNs).
 *
 * The index. Every supernode keeps entries (user -> client address, its
 * SN, last-online time): its own clients (registered at CONNECT, kept
 * while attached; on detach the entry stays with the detach time),
 * answers it obtained (cache, a30), and in DHT mode the entries it is
 * responsible for. A user is found when attached, or (DHT) last published
 * online, or last online within presence_ttl.
 *
 * Three organisations (NodeParams.search_mode):
 *   - slots (default, a42 with a27's shape): the supernodes of the tier
 *     stand on a ring ordered by their id (FNV-1a of IP and port); the
 *     slot of a user is the slot_size supernodes that follow the hash of
 *     its name on the ring (a42: slots of 9-10; here the slot boundaries
 *     move one supernode at a time as the tier changes, instead of fixed
 *     groups). Each supernode builds the ring from its view of the tier
 *     (a42: "each supernode knows almost all other supernodes"): the
 *     fresh entries of its host cache (node__sn_fresh) and every
 *     supernode its peers' gossip named, kept while heard alive within
 *     sn_entry_ttl (up to SEARCH_RING_MAX: the host cache's 200 entries
 *     would show a larger tier only in part); it stores the
 *     records of the keys in (its slot_size-th predecessor, itself]. A
 *     supernode publishes the record of each client it attaches (SN_NOTE
 *     with PUT: name, client address, its supernode, NAT type, online) to
 *     the user's slot, again every index_republish_ns while attached, and
 *     once more, offline with the logout time, at detach; records are
 *     kept presence_ttl (72 h, a29) after the user was last online. When
 *     its range grows (a supernode joined: its whole range; a neighbour
 *     left: the part it now covers) it asks its ring neighbours for the
 *     records of the new part (INDEX_PULL); records beyond its range and
 *     SEARCH_SLOT_SLACK more places are dropped. A search has a27's shape:
 *     the client's supernode names search_fanout[0] (4) members of the
 *     slot, then search_fanout[1] (8) more following them on the ring, the
 *     client queries them over UDP with a per-wave timeout; so a user with
 *     a record is found within two waves unless the whole slot lost it.
 *   - expanding (a27 as measured on a small overlay): the asked SN answers from its index, else
 *     waves of search_fanout[i] SNs drawn at random from its host cache
 *     (never one twice) are queried over UDP, each wave waiting
 *     search_timeout or until every answer is in, until found or the waves
 *     are exhausted. Clients whose UDP works (detected NAT type not
 *     UDP-blocked, TCP-only or unknown) run the waves themselves: the SN
 *     names the nodes (SEARCH_NODES), the client queries them and reports
 *     back (SEARCH_MORE: found, to cache; or name more). Other clients get
 *     the search run by the SN (SEARCH_RESULT when done).
 *   - dht: consistent hashing of the user name (FNV-1a, 32 bits) onto SN
 *     ids (FNV-1a of the SN's IP and port), XOR distance as in Kademlia.
 *     An SN publishes each attached client (SN_NOTE with PUT) to the
 *     dht_replicas SNs closest to the key that it knows, on attach and on
 *     detach. A lookup is iterative from the client's SN: each round asks
 *     the search_fanout[0] closest SNs not yet asked (host cache plus
 *     referrals); an SN that has no entry answers with up to 4 SNs closer
 *     to the key than itself; the lookup ends when found, when no closer
 *     SN is left, or at SEARCH_ASK_MAX SNs.
 *
 * Metrics (only searches asked by node_search; buddy lookups are counted
 * as presence.lookups): search.success / search.failure, search.latency_s,
 * search.messages (every message of the search: client <-> SN, SN <-> SNs,
 * as reported back in SEARCH_RESULT), search.supernodes_contacted (own SN
 * included). Supernode load: search.sn_queries (every query an SN
 * answers), search.sn_served (a sample per SN of the queries it served,
 * observed when it stops being a supernode or at teardown),
 * search.cache_hits, search.dht_puts.
 *
 * Limitations: a DHT entry published "online" by an SN that then crashes
 * stays online until the user attaches again; cached answers are reused
 * for presence_ttl after caching (a cached user who went offline since is
 * still "found", as a stale cache entry would be).
 */
#include "protocol/search.h"
#include "protocol/search_int.h"
#include "protocol/metric_table.h"

#include <string.h>

static void search_job_wave(Node *n, int j);
static void search_call_done(Node *n, SearchCall *c, bool found, const WireSearch *m);
static SearchCall *search_call_find(Node *n, uint32_t qid);

/* ---- Parameters ---- */

void search__params_default(NodeParams *p)
{
    p->search_mode = NODE_SEARCH_SLOTS;
    p->search_waves = 2;
    p->search_fanout[0] = 4; /* a27 */
    p->search_fanout[1] = 8;
    p->search_timeout_ns = 5 * TIMENS_S;
    p->presence_ttl_ns = 72 * TIMENS_H; /* a29 */
    p->dht_replicas = 2;
    p->slot_size = 10; /* a42 */
    p->index_republish_ns = 20 * TIMENS_MIN;
    p->ring_exchange = true;
}


/* ---- State ---- */

SearchNode *search__state(Node *n)
{
    if (!search__node(n))
        node__feat_set(n, NODE_FEAT_SEARCH, env_mem_alloc(&n->env, sizeof(SearchNode)));
    return search__node(n);
}

static void search_sn_free(Node *n, SearchNode *s)
{
    for (uint16_t j = 0; j < s->job_cap; j++)
        env_timer_cancel(&n->env, &s->job[j].t);
    env_timer_cancel(&n->env, &s->t_sweep);
    env_mem_free(&n->env, s->idx, s->idx_cap * sizeof *s->idx);
    env_mem_free(&n->env, s->job, s->job_cap * sizeof *s->job);
    if (s->sl) {
        env_mem_free(&n->env, s->sl->ring, s->sl->ring_cap * sizeof *s->sl->ring);
        env_mem_free(&n->env, s->sl, sizeof *s->sl);
    }
    s->idx = NULL;
    s->job = NULL;
    s->sl = NULL;
    s->nidx = s->idx_cap = s->job_cap = 0;
}

static void search_stop(Node *n, bool graceful)
{
    SearchNode *s = search__node(n);
    (void)graceful;
    if (!s) return;
    for (int i = 0; s->call && i < SEARCH_CALLS_MAX; i++)
        env_timer_cancel(&n->env, &s->call[i].t);
    if (s->call) env_mem_free(&n->env, s->call, SEARCH_CALLS_MAX * sizeof *s->call);
    search_sn_free(n, s);
    presence__free(n);
    env_mem_free(&n->env, s, sizeof *s);
    node__feat_set(n, NODE_FEAT_SEARCH, NULL);
}

/* The DHT id of the supernode at a. */
static uint32_t search_sn_id(EnvAddr a)
{
    uint8_t b[6];
    wire_put_u32(b, a.ip);
    wire_put_u16(b + 4, a.port);
    return wire_user_hash((const char *)b, sizeof b);
}

static EnvAddr search_self(const Node *n)
{
    return env_addr(n->public_addr.ip, n->port);
}

static EnvAddr search_addr(WireEntry e)
{
    return env_addr(e.ip, e.port);
}

static WireEntry search_wentry(EnvAddr a)
{
    return (WireEntry){a.ip, a.port};
}

/* ---- The index ---- */

static SearchEntry *search_find(Node *n, const char *user, size_t ulen)
{
    SearchNode *s = search__node(n);
    if (!s) return NULL;
    uint32_t h = wire_user_hash(user, ulen);
    for (uint16_t i = 0; i < s->nidx; i++) {
        SearchEntry *e = &s->idx[i];
        if (e->hash == h && e->ulen == ulen && memcmp(e->user, user, ulen) == 0) return e;
    }
    return NULL;
}

SearchEntry *search__entry_by_client(Node *n, EnvAddr client)
{
    SearchNode *s = search__node(n);
    for (uint16_t i = 0; s && i < s->nidx; i++)
        if ((s->idx[i].flags & SE_ATTACHED) && env_addr_eq(s->idx[i].client, client))
            return &s->idx[i];
    return NULL;
}

/* Whether e says its user is online now: attached here, or published
 * online (DHT: until the next publication; slots: the publication is
 * renewed every index_republish_ns, so one older than two of those
 * periods is from a supernode that is gone), or a cached answer that said
 * online (a30) for one keep-alive period (its user may have moved to
 * another supernode since: a call needs where it is now). */
static bool search_entry_online(Node *n, const SearchEntry *e)
{
    if (e->flags & SE_ATTACHED) return true;
    if (!(e->flags & SE_ONLINE)) return false;
    TimeNs age = env_now(&n->env) - e->last_online, period = n->sh->p.index_republish_ns;
    if (e->flags & SE_CACHE) return age <= n->sh->p.keepalive_ns;
    return n->sh->p.search_mode != NODE_SEARCH_SLOTS || age <= 2 * period;
}

/* Whether e answers a search: online, or online within presence_ttl (a29). */
static bool search_entry_valid(Node *n, const SearchEntry *e)
{
    if (search_entry_online(n, e)) return true;
    return env_now(&n->env) - e->last_online <= n->sh->p.presence_ttl_ns;
}

/* A free index slot: grows the table, else evicts the detached entry
 * seen online longest ago. O(n); fine for a few thousand entries. */
static SearchEntry *search_slot(Node *n)
{
    SearchNode *s = search__state(n);
    if (s->nidx == s->idx_cap && s->idx_cap < SEARCH_INDEX_MAX) {
        uint16_t cap = s->idx_cap ? (uint16_t)MIN(s->idx_cap * 2, SEARCH_INDEX_MAX) : 16;
        SearchEntry *t = env_mem_alloc(&n->env, cap * sizeof *t);
        if (s->idx) memcpy(t, s->idx, s->nidx * sizeof *t);
        env_mem_free(&n->env, s->idx, s->idx_cap * sizeof *t);
        s->idx = t;
        s->idx_cap = cap;
    }
    if (s->nidx < s->idx_cap) return &s->idx[s->nidx++];
    SearchEntry *old = NULL;
    for (uint16_t i = 0; i < s->nidx; i++)
        if (!(s->idx[i].flags & SE_ATTACHED) && (!old || s->idx[i].last_online < old->last_online))
            old = &s->idx[i];
    CHECK(old != NULL, "search index full of attached clients");
    return old;
}

/* Adds or replaces the entry of user; returns it. */
static SearchEntry *search_upsert(Node *n, const char *user, size_t ulen)
{
    SearchEntry *e = search_find(n, user, ulen);
    if (e) return e;
    e = search_slot(n);
    memset(e, 0, sizeof *e);
    memcpy(e->user, user, ulen);
    e->ulen = (uint8_t)ulen;
    e->hash = wire_user_hash(user, ulen);
    return e;
}

/* Stores an answer or a publication m (found) under kind (SE_CACHE or
 * SE_DHT); never overrides an attached client's own entry, and an
 * "offline" publication overrides an online record only when it comes
 * for the supernode the record names (a client that moved from X to Y
 * may be detached at X after Y published it online). */
static void search_store(Node *n, const WireSearch *m, uint8_t kind)
{
    if (m->ulen == 0) return;
    SearchEntry *e = search_upsert(n, (const char *)m->user, m->ulen);
    if (e->flags & SE_ATTACHED) return;
    if (kind == SE_CACHE && (e->flags & SE_DHT)) return; /* keep the authoritative copy */
    TimeNs last = env_now(&n->env) - (TimeNs)m->age_ms * TIMENS_MS;
    if ((e->flags & SE_DHT) && kind == SE_DHT && !(m->flags & WIRE_SF_ONLINE)) {
        if (last < e->last_online) return; /* an older copy (a pull crossing a fresher publication) */
        if (search_entry_online(n, e) && !env_addr_eq(e->sn, search_addr(m->sn)))
            return; /* a supernode the user has left says it left: it is online at another */
    }
    e->flags = kind;
    if (m->flags & WIRE_SF_ONLINE) e->flags |= SE_ONLINE;
    e->client = search_addr(m->client);
    e->sn = search_addr(m->sn);
    e->nat = m->nat;
    e->last_online = last;
}

void search__entry_to_wire(Node *n, const SearchEntry *e, WireSearch *m)
{
    TimeNs age = env_now(&n->env) - e->last_online;
    bool online = search_entry_online(n, e);
    m->flags |= WIRE_SF_FOUND | (online ? WIRE_SF_ONLINE : 0);
    m->ulen = e->ulen;
    m->user = (const uint8_t *)e->user;
    m->client = search_wentry(e->client);
    m->sn = search_wentry(e->sn);
    m->nat = e->nat;
    m->age_ms = online ? 0 : (uint32_t)MIN(age / TIMENS_MS, (TimeNs)UINT32_MAX);
}

/* Looks user up in the index (fresh: not in cached answers); true and m
 * filled when found. */
static bool search_lookup(Node *n, const char *user, size_t ulen, bool fresh, WireSearch *m,
                          bool *cached)
{
    SearchEntry *e = search_find(n, user, ulen);
    if (!e || !search_entry_valid(n, e) || (fresh && (e->flags & SE_CACHE))) return false;
    *cached = (e->flags & SE_CACHE) != 0; /* a hit when the answer is used (the caller counts) */
    search__entry_to_wire(n, e, m);
    return true;
}

/* ---- Supernode registration (hooks from supernode.c) ---- */

/* DHT: the up to max known supernodes (self included) closest to key. */
static size_t search_dht_closest(Node *n, uint32_t key, EnvAddr *out, size_t max)
{
    size_t k = 0;
    EnvAddr self = search_self(n);
    for (int i = -1; i < (int)n->hc.n; i++) {
        EnvAddr a = i < 0 ? self : env_addr(n->hc.e[i].ip, n->hc.e[i].port);
        if (i >= 0 && (n->hc.e[i].score < 0 || env_addr_eq(a, self))) continue;
        uint32_t d = search_sn_id(a) ^ key;
        size_t j = k < max ? k++ : max;
        while (j > 0 && (search_sn_id(out[j - 1]) ^ key) > d) {
            if (j < max) out[j] = out[j - 1];
            j--;
        }
        if (j < max) out[j] = a;
    }
    return k;
}

/* ---- The slots ring ---- */

static int search_ring_cmp(const void *a, const void *b)
{
    const SearchRingEntry *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    if (x->a.ip != y->a.ip) return x->a.ip < y->a.ip ? -1 : 1;
    return (int)x->a.port - (int)y->a.port;
}

/* Room for k more entries after the ring and the pending ones (grown by
 * doubling up to SEARCH_RING_MAX); false when the bound is reached. */
static bool search_ring_room(Node *n, SearchSlots *s, uint32_t k)
{
    uint32_t need = (uint32_t)s->nring + s->npend + k;
    if (need <= s->ring_cap) return true;
    if (need > SEARCH_RING_MAX) return false;
    uint16_t cap = (uint16_t)MIN(SEARCH_RING_MAX, MAX(need, 2u * s->ring_cap));
    SearchRingEntry *t = env_mem_alloc(&n->env, cap * sizeof *t);
    if (s->ring) memcpy(t, s->ring, ((size_t)s->nring + s->npend) * sizeof *t);
    env_mem_free(&n->env, s->ring, s->ring_cap * sizeof *s->ring);
    s->ring = t;
    s->ring_cap = cap;
    return true;
}

/* Queues supernode a, heard alive at seen_s, for the next rebuild (not
 * this node, not a bootstrap: the entry point is not part of the tier). */
static void search_ring_heard(Node *n, SearchSlots *s, EnvAddr a, uint32_t seen_s)
{
    if (!a.ip || !a.port || env_addr_eq(a, search_self(n)) || node__is_bootstrap(n, a)) return;
    if (!search_ring_room(n, s, 1)) return;
    s->ring[s->nring + s->npend++] = (SearchRingEntry){search_sn_id(a), a, seen_s, true};
}

static SearchSlots *search_slots(Node *n)
{
    SearchNode *sn = search__state(n);
    if (!sn->sl) sn->sl = env_mem_alloc(&n->env, sizeof *sn->sl);
    return sn->sl;
}

/* Rebuilds the ring, this supernode's view of the tier (a42: a supernode
 * knows almost all others): what it had, this supernode itself (unless a
 * bootstrap), the fresh supernodes of its host cache, and those its peers'
 * gossip named since the last rebuild (search_on_gossip); each with the
 * latest time it was heard alive, and none heard of for longer than
 * sn_entry_ttl. The host cache alone would bound the view at its 200
 * entries, a part of a larger tier. Entries new to the ring are marked
 * joined. */
static void search_ring_build(Node *n)
{
    SearchSlots *s = search_slots(n);
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    uint32_t ttl_s = (uint32_t)(n->sh->p.sn_entry_ttl_ns / TIMENS_S);
    for (uint16_t i = 0; i < s->nring; i++) s->ring[i].joined = false;
    EnvAddr self = search_self(n);
    if (n->role != NODE_ROLE_BOOTSTRAP && search_ring_room(n, s, 1))
        s->ring[s->nring + s->npend++] = (SearchRingEntry){search_sn_id(self), self, now_s, true};
    for (uint16_t i = 0; i < n->hc.n; i++)
        if (node__sn_fresh(n, &n->hc.e[i]))
            search_ring_heard(n, s, env_addr(n->hc.e[i].ip, n->hc.e[i].port), n->hc.e[i].last_seen_s);
    /* Sorted by (id, address), the copies of one supernode are adjacent:
     * one is kept, with the latest time heard and "joined" only when it
     * was not on the ring before. */
    uint32_t all = (uint32_t)s->nring + s->npend, k = 0;
    if (all > 1) qsort(s->ring, all, sizeof *s->ring, search_ring_cmp);
    for (uint32_t i = 0; i < all; i++) {
        SearchRingEntry x = s->ring[i];
        if (k > 0 && env_addr_eq(s->ring[k - 1].a, x.a)) {
            SearchRingEntry *y = &s->ring[k - 1];
            y->seen_s = MAX(y->seen_s, x.seen_s);
            y->joined = y->joined && x.joined;
        } else {
            s->ring[k++] = x;
        }
    }
    uint16_t m = 0;
    for (uint32_t i = 0; i < k; i++)
        if (now_s - MIN(now_s, s->ring[i].seen_s) <= ttl_s) s->ring[m++] = s->ring[i];
    s->nring = m;
    s->npend = 0;
}

/* SN_GOSSIP from a peer: the supernodes it names, heard alive age_s ago,
 * wait for the next rebuild. */
static void search_on_gossip(Node *n, const WireMsg *m)
{
    if (n->sh->p.search_mode != NODE_SEARCH_SLOTS) return;
    SearchSlots *s = search_slots(n);
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    for (uint8_t i = 0; i < m->u.gossip.n; i++) {
        const WireGossipEntry *g = &m->u.gossip.e[i];
        search_ring_heard(n, s, env_addr(g->ip, g->port), now_s - MIN(now_s, g->age_s));
    }
}

/* ---- The ring's anti-entropy (slots) ----
 * The peer links' gossip names 16 supernodes every 30 s, sampled from host
 * caches of at most 200 entries: past about 200 supernodes the rings stay
 * partial (at 100,000 clients a ring held 272 of 416 supernodes on
 * average) and supernodes disagree on which ones form a slot, so records
 * land where searches do not look. So at each upkeep a supernode also
 * sends its whole ring to one member drawn at random, and that member
 * answers with its own (push-pull, as the anti-entropy of epidemic
 * databases): SN_RING datagrams of up to SEARCH_RING_CHUNK entries (IPv4
 * 4, port 2, seconds since last heard alive 2), the first flagged ASK.
 * Ages travel with the entries, so a supernode that is gone still leaves
 * every ring sn_entry_ttl after anyone last heard of it. A supernode
 * answers at most SEARCH_RING_ANSWERS asks between two upkeeps (one
 * datagram must not buy many). */
#define SEARCH_RING_CHUNK 80 /* 640 bytes of blob (WIRE_BLOB_MAX 700) */
#define SEARCH_RING_ANSWERS 4

/* Sends this supernode's ring to `to`, the first datagram flagged ask. */
static void search_ring_send(Node *n, EnvAddr to, bool ask)
{
    const SearchSlots *s = search__node(n)->sl;
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    uint8_t blob[SEARCH_RING_CHUNK * 8];
    for (uint16_t i = 0; i < s->nring;) {
        uint16_t k = 0;
        for (; k < SEARCH_RING_CHUNK && i < s->nring; k++, i++) {
            const SearchRingEntry *x = &s->ring[i];
            wire_put_u32(blob + 8 * k, x->a.ip);
            wire_put_u16(blob + 8 * k + 4, x->a.port);
            wire_put_u16(blob + 8 * k + 6, (uint16_t)MIN(now_s - MIN(now_s, x->seen_s), UINT16_MAX));
        }
        WireMsg m = {.type = WIRE_SN_RING};
        m.u.search.flags = ask && i == k ? WIRE_SF_ASK : 0;
        m.u.search.len = (uint16_t)(8 * k);
        m.u.search.data = blob;
        node__count(n, SM(n)->idx_ring_msgs, 1);
        node__udp_send_msg(n, n->udp, to, (uint16_t)node__random_u32(n), &m, PH_NONE);
    }
}

/* The upkeep's exchange: the ring to one member drawn at random. */
static void search_ring_exchange(Node *n)
{
    const SearchSlots *s = search__node(n)->sl;
    EnvAddr self = search_self(n);
    if (s->nring < 2 || !n->sh->p.ring_exchange) return;
    uint16_t i = (uint16_t)(node__random_u32(n) % s->nring);
    if (env_addr_eq(s->ring[i].a, self)) i = (uint16_t)((i + 1) % s->nring);
    search_ring_send(n, s->ring[i].a, true);
}

/* SN_RING from a supernode at `from`: its entries wait for the next
 * rebuild; an ask is answered with this ring (within the budget). */
static void search_on_ring(Node *n, EnvAddr from, const WireMsg *m)
{
    if (!n->sn || n->sh->p.search_mode != NODE_SEARCH_SLOTS) return;
    const WireSearch *r = &m->u.search;
    if (r->len % 8 != 0 || (r->flags & ~WIRE_SF_ASK)) {
        node__count(n, NODE_M(n)->malformed_udp, 1);
        return;
    }
    SearchSlots *s = search_slots(n);
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    for (uint16_t k = 0; k < r->len / 8; k++) {
        const uint8_t *e = r->data + 8 * k;
        uint16_t age = wire_get_u16(e + 6);
        search_ring_heard(n, s, env_addr(wire_get_u32(e), wire_get_u16(e + 4)),
                          now_s - MIN(now_s, age));
    }
    if ((r->flags & WIRE_SF_ASK) && s->ring_answers < SEARCH_RING_ANSWERS && s->nring > 0) {
        s->ring_answers++;
        search_ring_send(n, from, false);
    }
}

/* Ring index of the first supernode whose id is key or follows it. */
static uint16_t search_ring_pos(const SearchSlots *s, uint32_t key)
{
    uint16_t lo = 0, hi = s->nring;
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (s->ring[mid].id < key)
            lo = (uint16_t)(mid + 1);
        else
            hi = mid;
    }
    return lo == s->nring ? 0 : lo;
}

/* Ring index of this supernode, -1 when it is not on the ring. */
static int search_ring_self(Node *n)
{
    SearchSlots *s = search__node(n) ? search__node(n)->sl : NULL;
    EnvAddr self = search_self(n);
    for (uint16_t i = s ? search_ring_pos(s, search_sn_id(self)) : 0, k = 0; s && k < s->nring;
         k++, i = (uint16_t)((i + 1) % s->nring))
        if (env_addr_eq(s->ring[i].a, self)) return i;
    return -1;
}

/* Whether key lies in the ring range (lo, hi]; lo == hi is the whole ring. */
static bool search_in_range(uint32_t key, uint32_t lo, uint32_t hi)
{
    return lo == hi || key - lo - 1 < hi - lo;
}

/* The up to max members of key's slot (the supernodes following key on
 * the ring), in ring order. */
static size_t search_slot_members(Node *n, uint32_t key, EnvAddr *out, size_t max)
{
    if (!search__state(n)->sl || search__node(n)->sl->nring == 0) search_ring_build(n);
    const SearchSlots *s = search__node(n)->sl;
    size_t k = MIN(max, (size_t)s->nring);
    uint16_t p = search_ring_pos(s, key);
    for (size_t i = 0; i < k; i++) out[i] = s->ring[(p + i) % s->nring].a;
    return k;
}

/* Publishes e to the supernodes that store it: the dht_replicas closest
 * (DHT) or the members of its slot (slots); nothing in expanding mode. */
static void search_publish(Node *n, const SearchEntry *e)
{
    const NodeParams *p = &n->sh->p;
    EnvAddr to[64];
    size_t k;
    EnvMetric counter;
    if (p->search_mode == NODE_SEARCH_DHT) {
        k = search_dht_closest(n, e->hash, to, MIN((size_t)p->dht_replicas, (size_t)8));
        counter = SM(n)->dht_puts;
    } else if (p->search_mode == NODE_SEARCH_SLOTS) {
        k = search_slot_members(n, e->hash, to, MIN((size_t)p->slot_size, G_N_ELEMENTS(to)));
        counter = SM(n)->idx_puts;
    } else {
        return;
    }
    WireMsg m = {.type = WIRE_SN_NOTE};
    m.u.search.flags = WIRE_SF_PUT;
    search__entry_to_wire(n, e, &m.u.search);
    for (size_t i = 0; i < k; i++) {
        if (env_addr_eq(to[i], search_self(n))) continue; /* the own entry is already here */
        node__count(n, counter, 1);
        node__udp_send_msg(n, n->udp, to[i], (uint16_t)node__random_u32(n), &m, PH_NONE);
    }
}

static void search_sn_attach(Node *n, EnvAddr client, const uint8_t *user, uint8_t ulen, uint8_t nat)
{
    if (ulen == 0) return;
    SearchEntry *e = search_upsert(n, (const char *)user, ulen);
    TimeNs now = env_now(&n->env);
    e->flags = SE_ATTACHED;
    e->client = client;
    e->sn = search_self(n);
    e->nat = nat;
    e->last_online = e->heard = now;
    search_publish(n, e);
}

static void search_sn_detach(Node *n, EnvAddr client)
{
    SearchEntry *e = search__entry_by_client(n, client);
    if (!e) return;
    TimeNs now = env_now(&n->env);
    e->last_online = (e->flags & SE_DEAD) ? e->heard : now;
    presence__sn_detach(n, e);
    e->flags = 0; /* an own former client: found for presence_ttl */
    search_publish(n, e);
}

int search__conn_of_client(Node *n, EnvAddr client)
{
    SnState *s = n->sn;
    for (uint16_t i = 0; s && i < s->slots; i++)
        if (s->clients[i].conn >= 0 && env_addr_eq(s->clients[i].addr, client))
            return s->clients[i].conn;
    return -1;
}

static void search_sn_touch(Node *n, EnvAddr client)
{
    SearchEntry *e = search__entry_by_client(n, client);
    if (e) e->heard = env_now(&n->env);
}

/* Clients silent for two keep-alive periods plus the keep-alive timeout
 * are gone (crashed: no FIN ever comes); their connection is dropped,
 * which detaches them (and tells their buddies, presence.c). */
static void search_sweep(Node *n)
{
    SearchNode *s = search__node(n);
    const NodeParams *p = &n->sh->p;
    TimeNs limit = env_now(&n->env) - 2 * p->keepalive_ns - p->keepalive_timeout_ns;
    for (uint16_t i = 0; s && n->sn && i < s->nidx; i++) {
        SearchEntry *e = &s->idx[i];
        if (!(e->flags & SE_ATTACHED) || e->heard >= limit) continue;
        int idx = search__conn_of_client(n, e->client);
        e->flags |= SE_DEAD;
        if (idx < 0) continue;
        node__conn_drop(n, idx); /* the supernode detaches it */
    }
}

/* Removes index entry i (the last one takes its place). */
static void search_entry_del(SearchNode *s, uint16_t i)
{
    s->idx[i] = s->idx[--s->nidx];
}

/* Slots: asks the ring neighbours of this supernode (ring index me) for
 * the records of the keys in (lo, hi]. */
static void search_pull(Node *n, int me, uint32_t lo, uint32_t hi)
{
    const SearchSlots *s = search__node(n)->sl;
    WireMsg m = {.type = WIRE_INDEX_PULL};
    m.u.search.lo = lo;
    m.u.search.hi = hi;
    EnvAddr pred = s->ring[(me + s->nring - 1) % s->nring].a;
    EnvAddr succ = s->ring[(me + 1) % s->nring].a;
    EnvAddr to[2] = {pred, succ};
    for (int i = 0; i < 2; i++) {
        if (env_addr_eq(to[i], search_self(n)) || (i == 1 && env_addr_eq(pred, succ))) continue;
        node__count(n, SM(n)->idx_pulls, 1);
        node__udp_send_msg(n, n->udp, to[i], (uint16_t)node__random_u32(n), &m, PH_NONE);
    }
}

/* INDEX_PULL: sends the records of the range that this supernode holds
 * (stored ones and its own clients'), one SN_NOTE each. */
static void search_on_pull(Node *n, EnvAddr from, const WireMsg *q)
{
    SearchNode *s = search__node(n);
    if (!s || n->sh->p.search_mode != NODE_SEARCH_SLOTS) return;
    WireMsg m = {.type = WIRE_SN_NOTE};
    for (uint16_t i = 0; i < s->nidx; i++) {
        const SearchEntry *e = &s->idx[i];
        if (!(e->flags & (SE_DHT | SE_ATTACHED)) || !search_entry_valid(n, e) ||
            !search_in_range(e->hash, q->u.search.lo, q->u.search.hi))
            continue;
        m.u.search = (WireSearch){.flags = WIRE_SF_PUT};
        search__entry_to_wire(n, e, &m.u.search);
        node__count(n, SM(n)->idx_moved, 1);
        node__udp_send_msg(n, n->udp, from, (uint16_t)node__random_u32(n), &m, PH_NONE);
    }
}

/* Supernodes that joined this supernode's ring since the last upkeep
 * (old, nold entries) get the records of its attached clients whose slot
 * they are now in: the records' owner is the one that knows them for
 * sure (a supernode that joined after a client attached, or while its
 * slot's other members did not know it yet, would miss them until the
 * next republication). */
static void search_push_new_members(Node *n)
{
    SearchNode *sn = search__node(n);
    const SearchSlots *s = sn->sl;
    const NodeParams *p = &n->sh->p;
    bool any = false;
    for (uint16_t i = 0; i < s->nring && !any; i++) any = s->ring[i].joined;
    if (!any) return;
    WireMsg m = {.type = WIRE_SN_NOTE};
    for (uint16_t i = 0; i < sn->nidx; i++) {
        const SearchEntry *e = &sn->idx[i];
        if (!(e->flags & SE_ATTACHED) || (e->flags & SE_DEAD)) continue;
        uint16_t pos = search_ring_pos(s, e->hash);
        for (uint16_t k = 0; k < MIN((uint16_t)p->slot_size, s->nring); k++) {
            const SearchRingEntry *x = &s->ring[(pos + k) % s->nring];
            if (env_addr_eq(x->a, search_self(n)) || !x->joined) continue;
            m.u.search = (WireSearch){.flags = WIRE_SF_PUT};
            search__entry_to_wire(n, e, &m.u.search);
            node__count(n, SM(n)->idx_puts, 1);
            node__udp_send_msg(n, n->udp, x->a, (uint16_t)node__random_u32(n), &m, PH_NONE);
        }
    }
}

/* Slots upkeep, every keep-alive period: rebuilds the ring; republishes a
 * share of the attached clients (each once per index_republish_ns); pulls
 * the records of keys its range gained; drops stored records beyond its
 * range (plus SEARCH_SLOT_SLACK places) and records past presence_ttl;
 * observes the index's size and memory and the ring's size. */
static void search_index_upkeep(Node *n)
{
    SearchNode *s = search__node(n);
    const NodeParams *p = &n->sh->p;
    if (!s || !n->sn || p->search_mode != NODE_SEARCH_SLOTS) return;
    const SearchMetrics *sm = SM(n);
    search_ring_build(n);
    SearchSlots *sl = s->sl;
    sl->ring_answers = 0;
    search_ring_exchange(n);
    search_push_new_members(n);
    uint32_t turns = (uint32_t)MAX(1, p->index_republish_ns / MAX(p->keepalive_ns, 1));
    uint32_t turn = sl->maint_tick++ % turns;
    for (uint16_t i = 0; i < s->nidx; i++) {
        SearchEntry *e = &s->idx[i];
        if ((e->flags & SE_ATTACHED) && !(e->flags & SE_DEAD) && e->hash % turns == turn)
            search_publish(n, e);
    }
    int me = search_ring_self(n);
    uint16_t nr = sl->nring, slot = p->slot_size;
    bool full = me < 0 || nr <= slot;
    bool keep_all = me < 0 || nr <= slot + SEARCH_SLOT_SLACK;
    uint32_t self_id = search_sn_id(search_self(n));
    uint32_t lo = full ? self_id : sl->ring[(me + nr - slot) % nr].id;
    uint32_t keep_lo = keep_all ? self_id : sl->ring[(me + nr - slot - SEARCH_SLOT_SLACK) % nr].id;
    if (me >= 0 && nr > 1) {
        /* The range grew: all of it (first time), the part before the old
         * lower bound, or the rest of the ring (the ring shrank to a slot). */
        if (!sl->range_set)
            search_pull(n, me, lo, self_id);
        else if (full && !sl->range_full)
            search_pull(n, me, self_id, sl->range_lo);
        else if (!full && !sl->range_full && self_id - lo > self_id - sl->range_lo)
            search_pull(n, me, lo, sl->range_lo);
        sl->range_set = true;
    }
    if (me >= 0) {
        sl->range_full = full;
        sl->range_lo = lo;
    }
    for (uint16_t i = 0; i < s->nidx;) {
        SearchEntry *e = &s->idx[i];
        bool attached = (e->flags & SE_ATTACHED) != 0;
        if (!attached && !search_entry_valid(n, e)) {
            node__count(n, sm->idx_expired, 1);
            search_entry_del(s, i);
        } else if ((e->flags & SE_DHT) && me >= 0 && !keep_all &&
                   !search_in_range(e->hash, keep_lo, self_id)) {
            node__count(n, sm->idx_dropped, 1);
            search_entry_del(s, i);
        } else {
            i++;
        }
    }
    env_metric_observe(&n->env, sm->idx_records, s->nidx);
    env_metric_observe(&n->env, sm->idx_bytes,
                       (double)(s->idx_cap * sizeof *s->idx + sizeof *sl +
                                sl->ring_cap * sizeof *sl->ring));
    env_metric_observe(&n->env, sm->idx_ring, sl->nring);
}

static void search_sn_start(Node *n)
{
    SearchNode *s = search__state(n);
    const NodeParams *p = &n->sh->p;
    s->served = 0;
    s->t_sweep = node__timer_start_periodic(n, NODE_FEAT_SEARCH, p->keepalive_ns, p->keepalive_ns,
                                            SEARCH_TM_SWEEP);
    if (n->role == NODE_ROLE_CLIENT && n->ulen) { /* a promoted client indexes itself */
        SearchEntry *e = search_upsert(n, n->user, n->ulen);
        e->flags = SE_ATTACHED;
        e->client = e->sn = search_self(n);
        e->nat = n->nat;
        e->last_online = e->heard = INT64_MAX / 2; /* never swept */
        search_publish(n, e);
    }
}

static void search_sn_stop(Node *n)
{
    SearchNode *s = search__node(n);
    if (!s) return;
    env_metric_observe(&n->env, SM(n)->sn_served, s->served);
    for (uint16_t j = 0; j < s->job_cap; j++) /* searches run for clients die with the role */
        if (s->job[j].mode != SJ_FREE && s->job[j].conn < 0) {
            s->job[j].mode = SJ_FREE;
            env_timer_cancel(&n->env, &s->job[j].t);
        }
    search_sn_free(n, s);
}

/* ---- Supernode: answering queries ---- */

/* DHT: fills m->e with up to SEARCH_REFERRALS known SNs closer to key
 * than this one. */
static void search_referrals(Node *n, uint32_t key, WireSearch *m)
{
    EnvAddr best[SEARCH_REFERRALS + 1];
    size_t k = search_dht_closest(n, key, best, SEARCH_REFERRALS + 1);
    uint32_t mine = search_sn_id(search_self(n)) ^ key;
    m->n = 0;
    for (size_t i = 0; i < k && m->n < SEARCH_REFERRALS; i++)
        if ((search_sn_id(best[i]) ^ key) < mine) m->e[m->n++] = search_wentry(best[i]);
}

/* SEARCH_Q from a searcher (client or SN) over UDP. */
static void search_on_query(Node *n, EnvSock s, EnvAddr from, const WireMsg *q)
{
    if (!n->sn) return; /* only supernodes serve the index */
    search__state(n)->served++;
    node__count(n, SM(n)->sn_queries, 1);
    WireMsg a = {.type = WIRE_SEARCH_A};
    a.u.search.qid = q->u.search.qid;
    a.u.search.ulen = q->u.search.ulen;
    a.u.search.user = q->u.search.user;
    const char *user = (const char *)q->u.search.user;
    bool cached = false;
    if (search_lookup(n, user, q->u.search.ulen, (q->u.search.flags & WIRE_SF_FRESH) != 0,
                      &a.u.search, &cached)) {
        if (cached) node__count(n, SM(n)->sn_cache_hits, 1);
    } else if (q->u.search.flags & WIRE_SF_DHT) {
        search_referrals(n, wire_user_hash(user, q->u.search.ulen), &a.u.search);
    }
    node__udp_send_msg(n, s, from, (uint16_t)node__random_u32(n), &a, PH_NONE);
}

/* ---- Supernode: running searches ---- */

static int search_job_new(Node *n)
{
    SearchNode *s = search__state(n);
    for (uint16_t j = 0; j < s->job_cap; j++)
        if (s->job[j].mode == SJ_FREE) return j;
    if (s->job_cap >= SEARCH_JOBS_MAX) return -1;
    uint16_t cap = s->job_cap ? (uint16_t)MIN(s->job_cap * 2, SEARCH_JOBS_MAX) : 4;
    SearchJob *t = env_mem_alloc(&n->env, cap * sizeof *t);
    if (s->job) memcpy(t, s->job, s->job_cap * sizeof *t);
    env_mem_free(&n->env, s->job, s->job_cap * sizeof *t);
    int j = s->job_cap;
    s->job = t;
    s->job_cap = cap;
    return j;
}

static bool search_asked(const SearchJob *j, EnvAddr a)
{
    for (uint8_t i = 0; i < j->nasked; i++)
        if (env_addr_eq(j->asked[i], a)) return true;
    return false;
}

/* Expanding: up to max SNs drawn at random from the host cache, none
 * asked before (partial Fisher-Yates over the eligible entries). */
static uint8_t search_pick_random(Node *n, SearchJob *j, EnvAddr *out, uint8_t max)
{
    uint8_t idx[HOSTCACHE_MAX];
    uint16_t k = 0;
    for (uint16_t i = 0; i < n->hc.n; i++) {
        EnvAddr a = env_addr(n->hc.e[i].ip, n->hc.e[i].port);
        if (n->hc.e[i].score >= 0 && !env_addr_eq(a, search_self(n)) && !search_asked(j, a))
            idx[k++] = (uint8_t)i;
    }
    uint8_t m = 0;
    for (; m < max && m < k && j->nasked < SEARCH_ASK_MAX; m++) {
        uint16_t r = (uint16_t)(m + env_random_below(&n->env, (uint32_t)(k - m)));
        uint8_t t = idx[m];
        idx[m] = idx[r];
        idx[r] = t;
        out[m] = env_addr(n->hc.e[idx[m]].ip, n->hc.e[idx[m]].port);
        j->asked[j->nasked++] = out[m];
    }
    return m;
}

/* Slots: up to max supernodes following key on the ring (its slot first,
 * then beyond it), none asked before and not this one; once the ring is
 * exhausted (a tier smaller than the waves), the bootstraps: while the
 * tier forms they hold the clients, and the records of those, until the
 * next upkeep hands them to the ring. */
static uint8_t search_pick_slot(Node *n, SearchJob *j, EnvAddr *out, uint8_t max)
{
    if (!search__state(n)->sl || search__node(n)->sl->nring == 0) search_ring_build(n);
    const SearchSlots *s = search__node(n)->sl;
    const NodeParams *p = &n->sh->p;
    uint16_t pos = search_ring_pos(s, j->key);
    uint8_t m = 0;
    for (uint16_t k = 0; k < s->nring + p->n_bootstrap && m < max && j->nasked < SEARCH_ASK_MAX;
         k++) {
        EnvAddr a = k < s->nring ? s->ring[(pos + k) % s->nring].a : p->bootstrap[k - s->nring];
        if (env_addr_eq(a, search_self(n)) || search_asked(j, a)) continue;
        out[m++] = a;
        j->asked[j->nasked++] = a;
    }
    return m;
}

/* The next wave's supernodes: the slot's (slots mode) or random ones. */
static uint8_t search_pick_wave(Node *n, SearchJob *j, EnvAddr *out, uint8_t max)
{
    if (n->sh->p.search_mode == NODE_SEARCH_SLOTS) return search_pick_slot(n, j, out, max);
    return search_pick_random(n, j, out, max);
}

/* DHT: the alpha closest known SNs (host cache and referrals) not asked
 * yet; none when the closest of them is not closer than an asked one. */
static uint8_t search_pick_dht(Node *n, SearchJob *j, EnvAddr *out, uint8_t alpha)
{
    EnvAddr best[WIRE_MAX_ENTRIES];
    uint8_t k = 0;
    alpha = (uint8_t)MIN(alpha, WIRE_MAX_ENTRIES);
    for (int i = -(int)j->ncand; i < (int)n->hc.n; i++) {
        EnvAddr a = i < 0 ? j->cand[-i - 1] : env_addr(n->hc.e[i].ip, n->hc.e[i].port);
        if ((i >= 0 && n->hc.e[i].score < 0) || env_addr_eq(a, search_self(n)) ||
            search_asked(j, a))
            continue;
        bool dup = false;
        for (uint8_t x = 0; x < k; x++) dup |= env_addr_eq(best[x], a);
        if (dup) continue;
        uint32_t d = search_sn_id(a) ^ j->key;
        uint8_t p = k < alpha ? k++ : alpha;
        while (p > 0 && (search_sn_id(best[p - 1]) ^ j->key) > d) {
            if (p < alpha) best[p] = best[p - 1];
            p--;
        }
        if (p < alpha) best[p] = a;
    }
    uint32_t asked_best = search_sn_id(search_self(n)) ^ j->key;
    for (uint8_t i = 0; i < j->nasked; i++)
        asked_best = MIN(asked_best, search_sn_id(j->asked[i]) ^ j->key);
    if (k == 0 || (j->wave > 0 && (search_sn_id(best[0]) ^ j->key) > asked_best)) return 0;
    uint8_t m = 0;
    for (; m < k && j->nasked < SEARCH_ASK_MAX; m++) {
        out[m] = best[m];
        j->asked[j->nasked++] = best[m];
    }
    return m;
}

static void search_job_free(Node *n, SearchJob *j)
{
    env_timer_cancel(&n->env, &j->t);
    j->mode = SJ_FREE;
}

/* The job ends: answer the asker (or this node's own call). */
static void search_job_finish(Node *n, int ji, bool found, const WireSearch *hit)
{
    SearchJob *j = &search__node(n)->job[ji];
    WireMsg r = {.type = WIRE_SEARCH_RESULT};
    if (found) r.u.search = *hit;
    r.u.search.qid = j->qid;
    bool named = j->mode == SJ_NAME; /* the client counted its own waves */
    r.u.search.sns = named ? 0 : (uint8_t)MIN(j->nasked, 255);
    r.u.search.msgs = named ? 0 : j->msgs;
    r.u.search.n = 0;
    if (!found) {
        r.u.search.flags = 0;
        r.u.search.ulen = 0;
    }
    int conn = j->conn;
    EnvConn h = j->h;
    search_job_free(n, j); /* j may move below (a new search can grow the table) */
    if (conn < 0) {
        SearchCall *c = search_call_find(n, r.u.search.qid);
        if (!c) return;
        c->sns = (uint8_t)MIN(255, c->sns + r.u.search.sns);
        c->msgs = (uint16_t)(c->msgs + r.u.search.msgs);
        search_call_done(n, c, found, &r.u.search);
        return;
    }
    if (node__conn_find(n, h) == conn) node__send_msg(n, conn, &r);
}

/* Starts the next wave (expanding) or round (DHT) of job ji, or ends it. */
static void search_job_wave(Node *n, int ji)
{
    SearchJob *j = &search__node(n)->job[ji];
    const NodeParams *p = &n->sh->p;
    EnvAddr to[WIRE_MAX_ENTRIES * 2];
    uint8_t k = 0;
    if (j->mode == SJ_DHT)
        k = search_pick_dht(n, j, to, (uint8_t)p->search_fanout[0]);
    else if (j->wave < p->search_waves)
        k = search_pick_wave(n, j, to, (uint8_t)MIN(p->search_fanout[j->wave], G_N_ELEMENTS(to)));
    if (k == 0) {
        search_job_finish(n, ji, false, NULL);
        return;
    }
    j->wave++;
    j->pending = k;
    j->wqid = node__random_u32(n) | 1;
    WireMsg q = {.type = WIRE_SEARCH_Q};
    q.u.search = (WireSearch){.qid = j->wqid, .ulen = j->ulen, .user = (const uint8_t *)j->user};
    q.u.search.flags = (uint8_t)((j->mode == SJ_DHT ? WIRE_SF_DHT : 0) | (j->fresh ? WIRE_SF_FRESH : 0));
    for (uint8_t i = 0; i < k; i++)
        node__udp_send_msg(n, n->udp, to[i], (uint16_t)node__random_u32(n), &q, PH_NONE);
    j->msgs = (uint16_t)(j->msgs + k);
    env_timer_cancel(&n->env, &j->t);
    j->t =
        node__timer_start(n, NODE_FEAT_SEARCH, p->search_timeout_ns, (uint8_t)(SEARCH_TM_JOB + ji));
}

/* SN_NAME: sends the asking client the next wave's nodes, or "absent". */
static void search_job_name(Node *n, int ji)
{
    SearchJob *j = &search__node(n)->job[ji];
    const NodeParams *p = &n->sh->p;
    WireMsg r = {.type = WIRE_SEARCH_NODES};
    r.u.search.qid = j->qid;
    EnvAddr to[WIRE_MAX_ENTRIES];
    uint8_t k = 0;
    if (j->wave < p->search_waves)
        k = search_pick_wave(n, j, to, (uint8_t)MIN(p->search_fanout[j->wave], WIRE_MAX_ENTRIES));
    if (k == 0) {
        search_job_finish(n, ji, false, NULL);
        return;
    }
    j->wave++;
    for (uint8_t i = 0; i < k; i++) r.u.search.e[i] = search_wentry(to[i]);
    r.u.search.n = k;
    node__send_msg(n, j->conn, &r);
    env_timer_cancel(&n->env, &j->t); /* expiry in case the client goes away */
    j->t = node__timer_start(n, NODE_FEAT_SEARCH, 3 * p->search_timeout_ns,
                             (uint8_t)(SEARCH_TM_JOB + ji));
}

/* Starts a search at this supernode for the asker (conn, or -1 for this
 * node itself). self_waves: the client runs the waves (a27). */
static void search_sn_begin(Node *n, int conn, uint32_t qid, const uint8_t *user, uint8_t ulen,
                            bool self_waves, bool fresh)
{
    WireMsg r = {.type = WIRE_SEARCH_RESULT};
    search__state(n)->served++;
    node__count(n, SM(n)->sn_queries, 1);
    bool cached = false;
    bool hit = search_lookup(n, (const char *)user, ulen, fresh, &r.u.search, &cached);
    /* Slots: an offline entry here (a former client of ours, a cached
     * answer) may be older than the slot's record: the slot is asked. */
    if (hit && n->sh->p.search_mode == NODE_SEARCH_SLOTS && !(r.u.search.flags & WIRE_SF_ONLINE)) {
        hit = false;
        r.u.search = (WireSearch){0};
    }
    if (hit && cached) node__count(n, SM(n)->sn_cache_hits, 1);
    int ji = hit ? -1 : search_job_new(n);
    if (ji < 0) { /* answered from the index, or no room for a search: absent */
        r.u.search.qid = qid;
        if (conn >= 0) {
            node__send_msg(n, conn, &r);
            return;
        }
        SearchCall *c = search_call_find(n, qid);
        if (c) search_call_done(n, c, hit, &r.u.search);
        return;
    }
    SearchJob *j = &search__node(n)->job[ji];
    memset(j, 0, sizeof *j);
    j->conn = conn;
    j->h = conn >= 0 ? n->conns[conn].h : ENV_CONN_NONE;
    j->qid = qid;
    j->ulen = ulen;
    memcpy(j->user, user, ulen);
    j->key = wire_user_hash(j->user, ulen);
    j->fresh = fresh;
    j->mode = n->sh->p.search_mode == NODE_SEARCH_DHT ? SJ_DHT : self_waves ? SJ_NAME : SJ_RUN;
    if (j->mode == SJ_NAME)
        search_job_name(n, ji);
    else
        search_job_wave(n, ji);
}

/* Whether answer m ends a search: found, and for a fresh search (a call
 * locating its callee) online; an offline record from one supernode does
 * not stop the search for the online one another may hold. */
static bool search_answer_found(const WireSearch *m, bool fresh)
{
    return (m->flags & WIRE_SF_FOUND) && (!fresh || (m->flags & WIRE_SF_ONLINE));
}

/* SEARCH_A for one of this SN's jobs. */
static void search_job_on_answer(Node *n, EnvAddr from, const WireMsg *m)
{
    SearchNode *s = search__node(n);
    for (uint16_t ji = 0; s && ji < s->job_cap; ji++) {
        SearchJob *j = &s->job[ji];
        if (j->mode == SJ_FREE || j->mode == SJ_NAME || j->wqid != m->u.search.qid) continue;
        if (!search_asked(j, from) || j->pending == 0) return;
        j->msgs++;
        j->pending--;
        if (search_answer_found(&m->u.search, j->fresh)) {
            search_store(n, &m->u.search, SE_CACHE); /* a30 */
            search_job_finish(n, ji, true, &m->u.search);
            return;
        }
        for (uint8_t i = 0; i < m->u.search.n && j->ncand < SEARCH_DHT_CAND; i++)
            j->cand[j->ncand++] = search_addr(m->u.search.e[i]);
        if (j->pending == 0) search_job_wave(n, ji);
        return;
    }
}

/* SEARCH_MORE from a client running the waves itself. */
static void search_job_on_more(Node *n, int idx, const WireMsg *m)
{
    SearchNode *s = search__node(n);
    for (uint16_t ji = 0; s && ji < s->job_cap; ji++) {
        SearchJob *j = &s->job[ji];
        if (j->mode != SJ_NAME || j->conn != idx || j->qid != m->u.search.qid) continue;
        if (m->u.search.flags & WIRE_SF_FOUND) {
            search_store(n, &m->u.search, SE_CACHE); /* a27: "tell the SN"; a30 */
            search_job_free(n, j);
        } else {
            search_job_name(n, ji);
        }
        return;
    }
}

/* ---- Client side ---- */

unsigned search__calls_busy(const SearchNode *s, uint8_t purpose)
{
    unsigned k = 0;
    for (int i = 0; s->call && i < SEARCH_CALLS_MAX; i++)
        k += s->call[i].qid != 0 && s->call[i].purpose == purpose;
    return k;
}

/* Whether this client's UDP works well enough to run the waves (a27). */
static bool search_udp_ok(const Node *n)
{
    return n->nat != NAT_UDP_BLOCKED && n->nat != NAT_TCP_ONLY && n->nat != NAT_UNKNOWN &&
           n->public_addr.ip != 0;
}

static TimeNs search_guard_ns(const NodeParams *p)
{
    return (TimeNs)(p->search_waves + 2) * p->search_timeout_ns + 10 * TIMENS_S;
}

bool search__call_start(Node *n, const char *user, size_t ulen, uint8_t purpose, uint8_t buddy)
{
    CHECK(ulen > 0 && ulen <= WIRE_USER_MAX, "search for a user of %zu bytes", ulen);
    bool sn = n->sn != NULL;
    if (n->state != NODE_ST_ONLINE || (!sn && n->uplink < 0)) return false;
    SearchNode *s = search__state(n);
    if (!s->call) s->call = env_mem_alloc(&n->env, SEARCH_CALLS_MAX * sizeof *s->call);
    int i = 0;
    while (i < SEARCH_CALLS_MAX && s->call[i].qid) i++;
    if (i == SEARCH_CALLS_MAX) return false;
    SearchCall *c = &s->call[i];
    memset(c, 0, sizeof *c);
    c->qid = ++s->next_qid ? s->next_qid : ++s->next_qid;
    c->purpose = purpose;
    c->buddy = buddy;
    c->ulen = (uint8_t)ulen;
    memcpy(c->user, user, ulen);
    c->start = env_now(&n->env);
    c->sns = 1;
    c->msgs = sn ? 0 : 1; /* the own SN (ourselves when a supernode) */
    if (purpose == SC_BUDDY) node__count(n, SM(n)->buddy_lookups, 1);
    if (sn) {
        c->sns = 0;
        search_sn_begin(n, -1, c->qid, (const uint8_t *)c->user, c->ulen, false, purpose == SC_CALL);
        return true;
    }
    WireMsg m = {.type = WIRE_SEARCH_REQ};
    m.u.search = (WireSearch){.qid = c->qid, .ulen = c->ulen, .user = (const uint8_t *)c->user};
    bool waves = search_udp_ok(n) && n->sh->p.search_mode != NODE_SEARCH_DHT;
    m.u.search.flags = (uint8_t)((waves ? WIRE_SF_SELF : 0) | (purpose == SC_CALL ? WIRE_SF_FRESH : 0));
    node__send_msg(n, n->uplink, &m);
    c->t = node__timer_start(n, NODE_FEAT_SEARCH, search_guard_ns(&n->sh->p),
                             (uint8_t)(SEARCH_TM_CALL + i));
    return true;
}

bool node_search(Node *n, const char *user)
{
    size_t ulen = strlen(user);
    if (ulen == 0 || ulen > WIRE_USER_MAX) return false;
    return search__call_start(n, user, ulen, SC_USER, 0);
}

static void search_call_done(Node *n, SearchCall *c, bool found, const WireSearch *m)
{
    env_timer_cancel(&n->env, &c->t);
    uint8_t purpose = c->purpose, buddy = c->buddy;
    if (purpose == SC_USER) {
        const SearchMetrics *sm = SM(n);
        env_search_report(&n->env, &(EnvSearchReport){c->user, c->ulen, found});
        node__count(n, found ? sm->success : sm->failure, 1);
        env_metric_observe(&n->env, sm->latency, timens_to_s(env_now(&n->env) - c->start));
        env_metric_observe(&n->env, sm->messages, c->msgs);
        env_metric_observe(&n->env, sm->sns, c->sns);
    }
    c->qid = 0;
    c->purpose = SC_FREE;
    if (purpose == SC_BUDDY) presence__lookup_done(n, buddy, found, m);
    if (purpose == SC_CALL) {
        WireMsg r = {.type = WIRE_SEARCH_RESULT};
        if (found && m) r.u.search = *m;
        r.u.search.flags = found ? (uint8_t)(r.u.search.flags | WIRE_SF_FOUND) : 0;
        node__emit(n, NODE_EV_LOCATED, &(NodeEventArg){.idx = -1, .buf = (const uint8_t *)c->user,
                                                        .len = c->ulen, .msg = &r});
    }
    /* The callbacks above may have started searches; with none in flight
     * the table goes. */
    SearchNode *s = search__node(n);
    bool busy = false;
    for (int i = 0; s && s->call && i < SEARCH_CALLS_MAX; i++) busy = busy || s->call[i].qid;
    if (s && s->call && !busy) {
        env_mem_free(&n->env, s->call, SEARCH_CALLS_MAX * sizeof *s->call);
        s->call = NULL;
    }
}

static SearchCall *search_call_find(Node *n, uint32_t qid)
{
    SearchNode *s = search__node(n);
    for (int i = 0; s && s->call && qid && i < SEARCH_CALLS_MAX; i++)
        if (s->call[i].qid == qid) return &s->call[i];
    return NULL;
}

/* Tells the SN this wave's outcome (a27): found (to cache) or name more. */
static void search_call_more(Node *n, SearchCall *c, const WireSearch *hit)
{
    WireMsg m = {.type = WIRE_SEARCH_MORE};
    if (hit) m.u.search = *hit;
    m.u.search.qid = c->qid;
    m.u.search.n = 0;
    if (n->uplink >= 0) {
        node__send_msg(n, n->uplink, &m);
        c->msgs++;
    }
    c->pending = 0;
    env_timer_cancel(&n->env, &c->t);
    if (!hit)
        c->t = node__timer_start(n, NODE_FEAT_SEARCH, search_guard_ns(&n->sh->p),
                                 (uint8_t)(SEARCH_TM_CALL + (c - search__node(n)->call)));
}

/* SEARCH_NODES: query the named SNs over UDP (a27). */
static void search_call_on_nodes(Node *n, SearchCall *c, const WireMsg *m)
{
    c->msgs++;
    c->wave++;
    c->ntarget = c->pending = m->u.search.n;
    WireMsg q = {.type = WIRE_SEARCH_Q};
    q.u.search = (WireSearch){.qid = c->qid, .ulen = c->ulen, .user = (const uint8_t *)c->user};
    q.u.search.flags = c->purpose == SC_CALL ? WIRE_SF_FRESH : 0;
    for (uint8_t i = 0; i < m->u.search.n; i++) {
        c->target[i] = search_addr(m->u.search.e[i]);
        node__udp_send_msg(n, n->udp, c->target[i], (uint16_t)node__random_u32(n), &q, PH_NONE);
    }
    c->msgs = (uint16_t)(c->msgs + c->ntarget);
    c->sns = (uint8_t)MIN(255, c->sns + c->ntarget);
    env_timer_cancel(&n->env, &c->t);
    c->t = node__timer_start(n, NODE_FEAT_SEARCH, n->sh->p.search_timeout_ns,
                             (uint8_t)(SEARCH_TM_CALL + (c - search__node(n)->call)));
    if (c->pending == 0) search_call_more(n, c, NULL);
}

/* SEARCH_A at a client running waves. */
static void search_call_on_answer(Node *n, EnvAddr from, const WireMsg *m)
{
    SearchCall *c = search_call_find(n, m->u.search.qid);
    if (!c || c->pending == 0) return;
    bool mine = false;
    for (uint8_t i = 0; i < c->ntarget; i++) mine |= env_addr_eq(c->target[i], from);
    if (!mine) return;
    c->msgs++;
    c->pending--;
    if (search_answer_found(&m->u.search, c->purpose == SC_CALL)) {
        search_call_more(n, c, &m->u.search);
        search_call_done(n, c, true, &m->u.search);
    } else if (c->pending == 0) {
        search_call_more(n, c, NULL);
    }
}

static void search_call_on_timer(Node *n, int i)
{
    SearchNode *s = search__node(n);
    if (!s || !s->call) return;
    SearchCall *c = &s->call[i];
    c->t = ENV_TIMER_NONE;
    if (!c->qid) return;
    if (c->pending > 0) /* the wave's time is up (a27: tell the SN) */
        search_call_more(n, c, NULL);
    else
        search_call_done(n, c, false, NULL); /* the SN never answered */
}

/* ---- Dispatch ---- */

static void search_on_udp(Node *n, EnvSock s, EnvAddr from, uint16_t frame_id, const WireMsg *m,
                          size_t len)
{
    (void)frame_id;
    (void)len;
    switch (m->type) {
    case WIRE_SEARCH_Q:
        search_on_query(n, s, from, m);
        break;
    case WIRE_SEARCH_A:
        if (n->sn) search_job_on_answer(n, from, m);
        if (search__node(n)) search_call_on_answer(n, from, m);
        break;
    case WIRE_INDEX_PULL:
        if (n->sn) search_on_pull(n, from, m);
        break;
    case WIRE_SN_RING:
        search_on_ring(n, from, m);
        break;
    case WIRE_SN_NOTE:
        if (!n->sn) break;
        if (m->u.search.flags & WIRE_SF_PUT)
            search_store(n, &m->u.search, SE_DHT);
        else
            presence__on_note(n, m);
        break;
    default:
        break;
    }
}

/* Frames of search and presence. The connection says who sent it: a
 * client of ours (CONN_SN_CLIENT), our supernode (the uplink), the login
 * server (presence). */
static void search_on_frame(Node *n, int idx, const WireMsg *m)
{
    uint8_t kind = n->conns[idx].kind;
    SearchCall *c;
    switch (m->type) {
    case WIRE_SEARCH_REQ:
        if (kind != CONN_SN_CLIENT || !n->sn) break;
        search_sn_begin(n, idx, m->u.search.qid, m->u.search.user, m->u.search.ulen,
                        (m->u.search.flags & WIRE_SF_SELF) != 0,
                        (m->u.search.flags & WIRE_SF_FRESH) != 0);
        return;
    case WIRE_SEARCH_MORE:
        if (kind != CONN_SN_CLIENT || !n->sn) break;
        search_job_on_more(n, idx, m);
        return;
    case WIRE_SEARCH_RESULT:
        if (idx != n->uplink) break;
        if ((c = search_call_find(n, m->u.search.qid)) != NULL) {
            c->msgs = (uint16_t)(c->msgs + 1 + m->u.search.msgs);
            c->sns = (uint8_t)MIN(255, c->sns + m->u.search.sns);
            search_call_done(n, c, (m->u.search.flags & WIRE_SF_FOUND) != 0, &m->u.search);
        }
        return;
    case WIRE_SEARCH_NODES:
        if (idx != n->uplink) break;
        if ((c = search_call_find(n, m->u.search.qid)) != NULL) search_call_on_nodes(n, c, m);
        return;
    default:
        presence__on_frame(n, idx, m);
        return;
    }
    node__count(n, NODE_M(n)->malformed_tcp, 1);
}

static void search_on_timer(Node *n, EnvTimer timer, uint32_t t)
{
    (void)timer;
    SearchNode *s = search__node(n);
    if (!s) return;
    if (t < SEARCH_TM_CALL + SEARCH_CALLS_MAX) {
        search_call_on_timer(n, (int)(t - SEARCH_TM_CALL));
    } else if (t == SEARCH_TM_SWEEP) {
        search_sweep(n);
        search_index_upkeep(n);
    } else if (t >= SEARCH_TM_JOB && t - SEARCH_TM_JOB < s->job_cap) {
        int ji = (int)(t - SEARCH_TM_JOB);
        SearchJob *j = &s->job[ji];
        j->t = ENV_TIMER_NONE;
        if (j->mode == SJ_NAME)
            search_job_free(n, j); /* the client went quiet */
        else if (j->mode != SJ_FREE)
            search_job_wave(n, ji);
    }
}

/* ---- The feature ---- */

/* What the other features tell us: the supernode about its role and its
 * clients (the index), the client about its login (presence), the login
 * server before it certifies (the buddy list goes first). */
static void search_on_event(Node *n, NodeEvent ev, const NodeEventArg *a)
{
    switch (ev) {
    case NODE_EV_LOGIN_CERTIFYING:
        presence__loginsrv_send(n, a->idx, a->buf, a->len);
        break;
    case NODE_EV_LOGGED_IN:
        presence__on_login(n);
        break;
    case NODE_EV_SN_ATTACHED:
        presence__on_attach(n);
        break;
    case NODE_EV_SN_STARTED:
        search_sn_start(n);
        break;
    case NODE_EV_SN_STOPPING:
        search_sn_stop(n);
        break;
    case NODE_EV_SN_GOSSIP:
        search_on_gossip(n, a->msg);
        break;
    case NODE_EV_SN_CLIENT_ATTACHED:
        search_sn_attach(n, a->addr, a->buf, (uint8_t)a->len, n->sn->clients[a->slot].nat);
        break;
    case NODE_EV_SN_CLIENT_DETACHED:
        search_sn_detach(n, a->addr);
        break;
    case NODE_EV_SN_CLIENT_TOUCHED:
        search_sn_touch(n, a->addr);
        break;
    case NODE_EV_SN_CLIENT_NAT: { /* the record says how to reach the user (a31) */
        SearchEntry *e = search__entry_by_client(n, a->addr);
        if (e && e->nat != n->sn->clients[a->slot].nat) {
            e->nat = n->sn->clients[a->slot].nat;
            search_publish(n, e);
        }
        break;
    }
    case NODE_EV_LOCATE: /* the calls: where is this callee? */
        if (a->len == 0 || a->len > WIRE_USER_MAX ||
            !search__call_start(n, (const char *)a->buf, a->len, SC_CALL, 0))
            node__emit(n, NODE_EV_LOCATED,
                       &(NodeEventArg){.idx = -1, .buf = a->buf, .len = a->len, .msg = NULL});
        break;
    default:
        break;
    }
}

static const uint8_t search_udp[] = {WIRE_SEARCH_Q, WIRE_SEARCH_A, WIRE_SN_NOTE, WIRE_INDEX_PULL,
                                     WIRE_SN_RING};
static const uint8_t search_tcp[] = {WIRE_SEARCH_REQ,  WIRE_SEARCH_RESULT, WIRE_SEARCH_NODES,
                                     WIRE_SEARCH_MORE, WIRE_ANNOUNCE,      WIRE_PRESENCE,
                                     WIRE_BUDDY_LIST};

static void search_metrics_intern(SearchMetrics *m, const Env *e)
{
    m->latency = metric_table_intern(e, METRIC_SEARCH_LATENCY_S);
    m->messages = metric_table_intern(e, METRIC_SEARCH_MESSAGES);
    m->sns = metric_table_intern(e, METRIC_SEARCH_SUPERNODES_CONTACTED);
    m->success = metric_table_intern(e, METRIC_SEARCH_SUCCESS);
    m->failure = metric_table_intern(e, METRIC_SEARCH_FAILURE);
    m->sn_queries = metric_table_intern(e, METRIC_SEARCH_SN_QUERIES);
    m->sn_served = metric_table_intern(e, METRIC_SEARCH_SN_SERVED);
    m->sn_cache_hits = metric_table_intern(e, METRIC_SEARCH_CACHE_HITS);
    m->dht_puts = metric_table_intern(e, METRIC_SEARCH_DHT_PUTS);
    m->idx_puts = metric_table_intern(e, METRIC_SEARCH_INDEX_PUTS);
    m->idx_pulls = metric_table_intern(e, METRIC_SEARCH_INDEX_PULLS);
    m->idx_ring_msgs = metric_table_intern(e, METRIC_SEARCH_INDEX_RING_MSGS);
    m->idx_moved = metric_table_intern(e, METRIC_SEARCH_INDEX_MOVED);
    m->idx_dropped = metric_table_intern(e, METRIC_SEARCH_INDEX_DROPPED);
    m->idx_expired = metric_table_intern(e, METRIC_SEARCH_INDEX_EXPIRED);
    m->idx_records = metric_table_intern(e, METRIC_SEARCH_INDEX_RECORDS);
    m->idx_bytes = metric_table_intern(e, METRIC_SEARCH_INDEX_BYTES);
    m->idx_ring = metric_table_intern(e, METRIC_SEARCH_INDEX_RING);
    m->staleness = metric_table_intern(e, METRIC_PRESENCE_STALENESS_S);
    m->presence_updates = metric_table_intern(e, METRIC_PRESENCE_UPDATES);
    m->buddy_lookups = metric_table_intern(e, METRIC_PRESENCE_LOOKUPS);
}

static bool search_shared_init(NodeShared *sh, const Env *world_env, GError **err)
{
    (void)err;
    SearchMetrics *m = g_new0(SearchMetrics, 1); /* not per node: one per world */
    search_metrics_intern(m, world_env);
    sh->feat_data[NODE_FEAT_SEARCH] = m;
    return true;
}

static void search_shared_fini(NodeShared *sh)
{
    g_free(sh->feat_data[NODE_FEAT_SEARCH]);
    sh->feat_data[NODE_FEAT_SEARCH] = NULL;
}

const NodeFeature search_feature = {
    .name = "search",
    .id = NODE_FEAT_SEARCH,
    .udp_types = search_udp,
    .n_udp_types = G_N_ELEMENTS(search_udp),
    .tcp_types = search_tcp,
    .n_tcp_types = G_N_ELEMENTS(search_tcp),
    .shared_init = search_shared_init,
    .shared_fini = search_shared_fini,
    .stop = search_stop,
    .on_timer = search_on_timer,
    .on_udp = search_on_udp,
    .on_frame = search_on_frame,
    .on_event = search_on_event,
};
