/* presence: buddy lists and presence (buddy lists kept at the login server,
 * presence through the supernodes), the second half of the search feature
 * (search.h, search_int.h).
 *
 * Buddy lists. The login server keeps each user's list (store key
 * "b:<user>", set by node_loginsrv_buddies_set) and sends it in a
 * BUDDY_LIST message on the login connection just before the certificate
 * (a14's exchange gains one message); the client keeps a copy in its own
 * store ("buddies") and falls back on it when the server sends none. Blob:
 * u8 count, then per buddy u8 length and the name; at most NODE_BUDDY_MAX
 * buddies (and what fits in WIRE_BLOB_MAX).
 *
 * Presence. Once logged in, a client looks its buddies up in the global
 * index (search.c; two lookups at a time, so user searches keep slots) and,
 * for every buddy found online, sends ANNOUNCE(online) to its supernode,
 * naming the buddy's client and supernode. The announcer's SN notes the
 * buddy as a watcher of its client and sends SN_NOTE over UDP to the
 * buddy's SN (delivered locally when it is the same SN), which notes the
 * announcer as a watcher of the buddy and passes PRESENCE to the buddy.
 * When a client leaves its supernode (FIN, reset, or silence: the SN
 * sweeps clients whose keep-alives stopped, search.c), the SN sends
 * SN_NOTE(offline) to each watcher's SN, which passes PRESENCE(offline) on.
 * After a failover the client announces itself again to its online
 * buddies (the old SN has told them it left).
 *
 * Staleness ("presence.staleness_s", one observation per change of a
 * client's view of a buddy): each notification carries the age of the
 * change it reports, counted by the node that saw it happen (the subject
 * for a login: time since its login completed; the SN for a departure:
 * time since the FIN, or since the last keep-alive of a silent client).
 * The transit time of the notification's own hops is not added (tens of
 * milliseconds against keep-alive periods of a minute).
 */
#include "protocol/search_int.h"

#include <string.h>

#define PRESENCE_STORE_KEY "buddies"
#define PRESENCE_LOOKUPS 2 /* buddy lookups in flight at once */


/* ---- Buddy lists ---- */

/* Parses a buddy-list blob into the node's list (replacing it); a
 * malformed tail is ignored. */
static void presence_list_load(Node *n, const uint8_t *b, size_t len)
{
    SearchNode *s = search__state(n);
    env_mem_free(&n->env, s->buddy, s->nbuddy * sizeof *s->buddy);
    s->buddy = NULL;
    s->nbuddy = 0;
    size_t off[NODE_BUDDY_MAX], pos = 1;
    uint8_t k = 0, want = len > 0 ? (uint8_t)MIN(b[0], NODE_BUDDY_MAX) : 0;
    for (; k < want && pos < len; k++) {
        uint8_t ulen = b[pos];
        if (ulen == 0 || ulen > WIRE_USER_MAX || pos + 1 + ulen > len) break;
        off[k] = pos;
        pos += 1 + ulen;
    }
    if (k == 0) return;
    s->buddy = env_mem_alloc(&n->env, k * sizeof *s->buddy);
    for (uint8_t i = 0; i < k; i++) {
        memcpy(s->buddy[i].user, b + off[i] + 1, b[off[i]]);
        s->buddy[i].ulen = b[off[i]];
    }
    s->nbuddy = k;
}

void node_loginsrv_buddies_set(Node *n, const char *user, const char *const *buddies, size_t count)
{
    CHECK(n->role == NODE_ROLE_LOGIN_SERVER, "node %u is not the login server", n->id);
    uint8_t blob[WIRE_BLOB_MAX];
    size_t len = 1;
    uint8_t k = 0;
    for (size_t i = 0; i < count && k < NODE_BUDDY_MAX; i++) {
        size_t ulen = strlen(buddies[i]);
        if (ulen == 0 || ulen > WIRE_USER_MAX || len + 1 + ulen > sizeof blob) continue;
        blob[len] = (uint8_t)ulen;
        memcpy(blob + len + 1, buddies[i], ulen);
        len += 1 + ulen;
        k++;
    }
    blob[0] = k;
    char key[32];
    g_snprintf(key, sizeof key, "b:%s", user);
    CHECK(env_store_put(&n->env, key, blob, len) == ENV_OK, "buddy store write");
}

void presence__loginsrv_send(Node *n, int idx, const uint8_t *user, size_t ulen)
{
    char key[3 + WIRE_USER_MAX + 1] = "b:";
    memcpy(key + 2, user, MIN(ulen, (size_t)WIRE_USER_MAX));
    key[2 + MIN(ulen, (size_t)29)] = 0; /* store keys are <= 31 chars */
    uint8_t blob[WIRE_BLOB_MAX];
    long len = env_store_get(&n->env, key, blob, sizeof blob);
    if (len <= 0 || len > (long)sizeof blob) return;
    WireMsg m = {.type = WIRE_BUDDY_LIST};
    m.u.search.len = (uint16_t)len;
    m.u.search.data = blob;
    node__send_msg(n, idx, &m);
}

size_t node_buddy_count(const Node *n)
{
    return search__node(n) ? search__node(n)->nbuddy : 0;
}

static PresenceBuddy *presence_buddy_find(const Node *n, const char *user, size_t ulen)
{
    SearchNode *s = search__node(n);
    for (uint8_t i = 0; s && i < s->nbuddy; i++)
        if (s->buddy[i].ulen == ulen && memcmp(s->buddy[i].user, user, ulen) == 0)
            return &s->buddy[i];
    return NULL;
}

bool node_buddy_online(const Node *n, const char *user)
{
    const PresenceBuddy *b = presence_buddy_find(n, user, strlen(user));
    return b && b->online;
}

/* ---- Client: login, lookups, announcements ---- */

static void presence_announce(Node *n, const PresenceBuddy *b, bool online)
{
    if (n->uplink < 0 || n->sn) return;
    WireMsg m = {.type = WIRE_ANNOUNCE};
    m.u.search.flags = online ? WIRE_SF_ONLINE : 0;
    m.u.search.to = (WireEntry){b->client.ip, b->client.port};
    m.u.search.sn = (WireEntry){b->sn.ip, b->sn.port};
    TimeNs age = env_now(&n->env) - search__node(n)->online_at;
    m.u.search.age_ms = (uint32_t)MIN(age / TIMENS_MS, (TimeNs)UINT32_MAX);
    node__send_msg(n, n->uplink, &m);
}

/* Starts buddy lookups until PRESENCE_LOOKUPS are in flight. */
static void presence_pump(Node *n)
{
    SearchNode *s = search__node(n);
    while (s->lookup_next < s->nbuddy && search__calls_busy(s, SC_BUDDY) < PRESENCE_LOOKUPS) {
        uint8_t i = s->lookup_next++; /* first: a lookup that ends at once pumps again */
        PresenceBuddy *b = &s->buddy[i];
        if (!search__call_start(n, b->user, b->ulen, SC_BUDDY, i)) {
            s->lookup_next = i;
            return;
        }
    }
}

void presence__on_login(Node *n)
{
    SearchNode *s = search__state(n);
    if (s->nbuddy == 0) { /* no list from the server: the local copy */
        uint8_t blob[WIRE_BLOB_MAX];
        long len = env_store_get(&n->env, PRESENCE_STORE_KEY, blob, sizeof blob);
        if (len > 0 && len <= (long)sizeof blob) presence_list_load(n, blob, (size_t)len);
    }
    s->online_at = env_now(&n->env);
    s->lookup_next = 0;
    for (uint8_t i = 0; i < s->nbuddy; i++) s->buddy[i].online = false;
    presence_pump(n);
}

void presence__on_attach(Node *n)
{
    SearchNode *s = search__node(n);
    for (uint8_t i = 0; s && i < s->nbuddy; i++)
        if (s->buddy[i].online) presence_announce(n, &s->buddy[i], true);
}

void presence__lookup_done(Node *n, uint8_t buddy, bool found, const WireSearch *m)
{
    SearchNode *s = search__node(n);
    if (buddy < s->nbuddy && found && (m->flags & WIRE_SF_ONLINE)) {
        PresenceBuddy *b = &s->buddy[buddy];
        b->online = true;
        b->client = env_addr(m->client.ip, m->client.port);
        b->sn = env_addr(m->sn.ip, m->sn.port);
        presence_announce(n, b, true);
    }
    presence_pump(n);
}

/* PRESENCE from our SN: a buddy came or went. */
static void presence_on_presence(Node *n, const WireMsg *m)
{
    PresenceBuddy *b = presence_buddy_find(n, (const char *)m->u.search.user, m->u.search.ulen);
    if (!b) return; /* someone who has us as a buddy; not on our list */
    bool online = (m->u.search.flags & WIRE_SF_ONLINE) != 0;
    if (online) {
        b->client = env_addr(m->u.search.client.ip, m->u.search.client.port);
        b->sn = env_addr(m->u.search.sn.ip, m->u.search.sn.port);
    }
    if (b->online == online) return;
    b->online = online;
    node__count(n, SM(n)->presence_updates, 1);
    env_metric_observe(&n->env, SM(n)->staleness, m->u.search.age_ms / 1000.0);
}

/* ---- Supernode: watches and notifications ---- */

static void presence_watch_del(Node *n, EnvAddr subject, EnvAddr watcher)
{
    SearchNode *s = search__node(n);
    for (uint16_t i = 0; s && i < s->nwatch;) {
        SearchWatch *w = &s->watch[i];
        bool subj = subject.ip == 0 || env_addr_eq(w->subject, subject);
        bool wat = watcher.ip == 0 || env_addr_eq(w->watcher, watcher);
        if (subj && wat)
            *w = s->watch[--s->nwatch];
        else
            i++;
    }
}

static void presence_watch_add(Node *n, EnvAddr subject, EnvAddr watcher, EnvAddr watcher_sn)
{
    SearchNode *s = search__state(n);
    presence_watch_del(n, subject, watcher);
    if (s->nwatch == s->watch_cap) {
        if (s->watch_cap >= SEARCH_WATCH_MAX) return; /* full: this buddy learns by search */
        uint16_t cap = s->watch_cap ? (uint16_t)MIN(s->watch_cap * 2, SEARCH_WATCH_MAX) : 16;
        SearchWatch *t = env_mem_alloc(&n->env, cap * sizeof *t);
        if (s->watch) memcpy(t, s->watch, s->nwatch * sizeof *t);
        env_mem_free(&n->env, s->watch, s->watch_cap * sizeof *t);
        s->watch = t;
        s->watch_cap = cap;
    }
    s->watch[s->nwatch++] = (SearchWatch){subject, watcher, watcher_sn};
}

/* Sends note to the supernode at sn, or handles it here when that is us. */
static void presence_note_send(Node *n, EnvAddr sn, const WireMsg *note)
{
    if (sn.ip == n->public_addr.ip && sn.port == n->port)
        presence__on_note(n, note);
    else if (sn.ip && sn.port)
        node__udp_send_msg(n, n->udp, sn, (uint16_t)node__random_u32(n), note, PH_NONE);
}

/* ANNOUNCE from our client at idx. */
static void presence_on_announce(Node *n, int idx, const WireMsg *m)
{
    uint16_t aux = n->conns[idx].aux;
    if (!aux || aux > n->sn->slots) return;
    EnvAddr subject = n->sn->clients[aux - 1].addr;
    SearchEntry *e = search__entry_by_client(n, subject);
    if (!e) return;
    EnvAddr to = env_addr(m->u.search.to.ip, m->u.search.to.port);
    EnvAddr to_sn = env_addr(m->u.search.sn.ip, m->u.search.sn.port);
    bool online = (m->u.search.flags & WIRE_SF_ONLINE) != 0;
    if (online) presence_watch_add(n, subject, to, to_sn);
    WireMsg note = {.type = WIRE_SN_NOTE};
    search__entry_to_wire(n, e, &note.u.search);
    note.u.search.flags = online ? WIRE_SF_ONLINE : 0;
    note.u.search.to = m->u.search.to;
    note.u.search.age_ms = m->u.search.age_ms;
    presence_note_send(n, to_sn, &note);
}

void presence__on_note(Node *n, const WireMsg *m)
{
    EnvAddr to = env_addr(m->u.search.to.ip, m->u.search.to.port);
    int conn = search__conn_of_client(n, to);
    if (conn < 0 || m->u.search.ulen == 0) return; /* the buddy left or moved */
    EnvAddr from = env_addr(m->u.search.client.ip, m->u.search.client.port);
    EnvAddr from_sn = env_addr(m->u.search.sn.ip, m->u.search.sn.port);
    if (m->u.search.flags & WIRE_SF_ONLINE)
        presence_watch_add(n, to, from, from_sn);
    else
        presence_watch_del(n, to, from);
    WireMsg p = {.type = WIRE_PRESENCE, .u.search = m->u.search};
    p.u.search.flags &= WIRE_SF_ONLINE;
    p.u.search.to = (WireEntry){0, 0};
    node__send_msg(n, conn, &p);
}

void presence__sn_detach(Node *n, const SearchEntry *e)
{
    SearchNode *s = search__node(n);
    WireMsg note = {.type = WIRE_SN_NOTE};
    note.u.search.ulen = e->ulen;
    note.u.search.user = (const uint8_t *)e->user;
    note.u.search.client = (WireEntry){e->client.ip, e->client.port};
    note.u.search.sn = (WireEntry){n->public_addr.ip, n->port};
    TimeNs age = env_now(&n->env) - e->last_online;
    note.u.search.age_ms = (uint32_t)MIN(age / TIMENS_MS, (TimeNs)UINT32_MAX);
    for (uint16_t i = 0; s && i < s->nwatch; i++) {
        if (!env_addr_eq(s->watch[i].subject, e->client)) continue;
        note.u.search.to = (WireEntry){s->watch[i].watcher.ip, s->watch[i].watcher.port};
        presence_note_send(n, s->watch[i].watcher_sn, &note);
    }
    presence_watch_del(n, e->client, env_addr(0, 0));
    presence_watch_del(n, env_addr(0, 0), e->client);
}

/* ---- Dispatch and teardown ---- */

void presence__on_frame(Node *n, int idx, const WireMsg *m)
{
    uint8_t kind = n->conns[idx].kind;
    bool login = n->conns[idx].phase == PH_AUTH; /* the login-server link, the only PH_AUTH one */
    if (m->type == WIRE_BUDDY_LIST && login) {
        presence_list_load(n, m->u.search.data, m->u.search.len);
        (void)env_store_put(&n->env, PRESENCE_STORE_KEY, m->u.search.data, m->u.search.len);
    } else if (m->type == WIRE_ANNOUNCE && kind == CONN_SN_CLIENT && n->sn) {
        presence_on_announce(n, idx, m);
    } else if (m->type == WIRE_PRESENCE && idx == n->uplink) {
        presence_on_presence(n, m);
    } else {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
    }
}

void presence__free(Node *n)
{
    SearchNode *s = search__node(n);
    env_mem_free(&n->env, s->buddy, s->nbuddy * sizeof *s->buddy);
    env_mem_free(&n->env, s->watch, s->watch_cap * sizeof *s->watch);
    s->buddy = NULL;
    s->watch = NULL;
    s->nbuddy = 0;
    s->nwatch = s->watch_cap = 0;
}
