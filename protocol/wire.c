/* wire: encoders, strict decoders and envelopes (see wire.h for the format
 * and its sources). Decoding goes through WireRd, a cursor that refuses to
 * move past the end: once a read fails the cursor is marked bad and every
 * later read fails too, so a decoder checks `ok` once at the end. */
#include "protocol/wire.h"

#include "protocol/stun.h"

#include <string.h>

typedef struct WireRd {
    const uint8_t *p; /* next byte */
    size_t left;      /* bytes left */
    bool ok;          /* false after any failed read */
} WireRd;

static const uint8_t *rd_take(WireRd *r, size_t n)
{
    if (!r->ok || n > r->left) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}
static uint8_t rd_u8(WireRd *r)
{
    const uint8_t *p = rd_take(r, 1);
    return p ? p[0] : 0;
}
static uint16_t rd_u16(WireRd *r)
{
    const uint8_t *p = rd_take(r, 2);
    return p ? wire_get_u16(p) : 0;
}
static uint32_t rd_u32(WireRd *r)
{
    const uint8_t *p = rd_take(r, 4);
    return p ? wire_get_u32(p) : 0;
}
static WireEntry rd_entry(WireRd *r)
{
    WireEntry e;
    e.ip = rd_u32(r);
    e.port = rd_u16(r);
    return e;
}
/* n entries, n <= WIRE_MAX_ENTRIES. */
static uint8_t rd_entries(WireRd *r, WireEntry *e)
{
    uint8_t n = rd_u8(r);
    if (n > WIRE_MAX_ENTRIES) r->ok = false;
    for (uint8_t i = 0; r->ok && i < n; i++)
        e[i] = rd_entry(r);
    return r->ok ? n : 0;
}

typedef struct WireWr {
    uint8_t *p;   /* next byte */
    size_t left;  /* room left */
    uint8_t *beg; /* start, for the length */
} WireWr;

static void wr_bytes(WireWr *w, const void *src, size_t n)
{
    CHECK(n <= w->left, "wire encode overflow: %zu bytes, %zu left", n, w->left);
    if (n) memcpy(w->p, src, n);
    w->p += n;
    w->left -= n;
}
static void wr_u8(WireWr *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}
static void wr_u16(WireWr *w, uint16_t v)
{
    uint8_t b[2];
    wire_put_u16(b, v);
    wr_bytes(w, b, 2);
}
static void wr_u32(WireWr *w, uint32_t v)
{
    uint8_t b[4];
    wire_put_u32(b, v);
    wr_bytes(w, b, 4);
}
static void wr_entry(WireWr *w, WireEntry e)
{
    wr_u32(w, e.ip);
    wr_u16(w, e.port);
}
static void wr_entries(WireWr *w, uint8_t n, const WireEntry *e)
{
    CHECK(n <= WIRE_MAX_ENTRIES, "%u entries", n);
    wr_u8(w, n);
    for (uint8_t i = 0; i < n; i++)
        wr_entry(w, e[i]);
}

/* ---- Search/presence bodies (types 6-8, 32-38) ----
 * One field layout (WireMsg.u.search); each type carries the subset named by
 * its mask, in this fixed order: qid, flags, to, user, client, sn, nat,
 * age, cost (sns, msgs), entries, blob, range (lo, hi). */
enum {
    WSF_QID = 1, WSF_FLAGS = 2, WSF_TO = 4, WSF_USER = 8, WSF_CLIENT = 16, WSF_SN = 32,
    WSF_AGE = 64, WSF_COST = 128, WSF_LIST = 256, WSF_BLOB = 512, WSF_NAT = 1024,
    WSF_RANGE = 2048,
};
#define WSF_ENTRY (WSF_USER | WSF_CLIENT | WSF_SN | WSF_NAT | WSF_AGE)

static unsigned wire_search_fields(uint8_t type)
{
    switch (type) {
    case WIRE_SEARCH_Q: return WSF_QID | WSF_FLAGS | WSF_USER;
    case WIRE_SEARCH_A: return WSF_QID | WSF_FLAGS | WSF_ENTRY | WSF_LIST;
    case WIRE_SN_NOTE: return WSF_FLAGS | WSF_TO | WSF_ENTRY;
    case WIRE_INDEX_PULL: return WSF_RANGE;
    case WIRE_SN_RING: return WSF_FLAGS | WSF_BLOB;
    case WIRE_SEARCH_REQ: return WSF_QID | WSF_FLAGS | WSF_USER;
    case WIRE_SEARCH_RESULT: return WSF_QID | WSF_FLAGS | WSF_ENTRY | WSF_COST;
    case WIRE_SEARCH_NODES: return WSF_QID | WSF_LIST;
    case WIRE_SEARCH_MORE: return WSF_QID | WSF_FLAGS | WSF_ENTRY;
    case WIRE_ANNOUNCE: return WSF_FLAGS | WSF_TO | WSF_SN | WSF_AGE;
    case WIRE_PRESENCE: return WSF_FLAGS | WSF_ENTRY;
    case WIRE_BUDDY_LIST: return WSF_BLOB;
    default: return 0;
    }
}

static void wire_search_encode(const WireMsg *m, WireWr *w)
{
    unsigned f = wire_search_fields(m->type);
    const WireSearch *s = &m->u.search;
    if (f & WSF_QID) wr_u32(w, s->qid);
    if (f & WSF_FLAGS) wr_u8(w, s->flags);
    if (f & WSF_TO) wr_entry(w, s->to);
    if (f & WSF_USER) {
        CHECK(s->ulen <= WIRE_USER_MAX, "username of %u bytes", s->ulen);
        wr_u8(w, s->ulen);
        wr_bytes(w, s->user, s->ulen);
    }
    if (f & WSF_CLIENT) wr_entry(w, s->client);
    if (f & WSF_SN) wr_entry(w, s->sn);
    if (f & WSF_NAT) wr_u8(w, s->nat);
    if (f & WSF_AGE) wr_u32(w, s->age_ms);
    if (f & WSF_COST) {
        wr_u8(w, s->sns);
        wr_u16(w, s->msgs);
    }
    if (f & WSF_LIST) wr_entries(w, s->n, s->e);
    if (f & WSF_BLOB) {
        CHECK(s->len <= WIRE_BLOB_MAX, "blob of %u bytes", s->len);
        wr_u16(w, s->len);
        wr_bytes(w, s->data, s->len);
    }
    if (f & WSF_RANGE) {
        wr_u32(w, s->lo);
        wr_u32(w, s->hi);
    }
}

static void wire_search_decode(WireRd *r, WireMsg *m)
{
    unsigned f = wire_search_fields(m->type);
    WireSearch *s = &m->u.search;
    if (f & WSF_QID) s->qid = rd_u32(r);
    if (f & WSF_FLAGS) s->flags = rd_u8(r);
    if (f & WSF_TO) s->to = rd_entry(r);
    if (f & WSF_USER) {
        s->ulen = rd_u8(r);
        if (s->ulen > WIRE_USER_MAX) r->ok = false;
        s->user = rd_take(r, s->ulen);
    }
    if (f & WSF_CLIENT) s->client = rd_entry(r);
    if (f & WSF_SN) s->sn = rd_entry(r);
    if (f & WSF_NAT) s->nat = rd_u8(r);
    if (f & WSF_AGE) s->age_ms = rd_u32(r);
    if (f & WSF_COST) {
        s->sns = rd_u8(r);
        s->msgs = rd_u16(r);
    }
    if (f & WSF_LIST) s->n = rd_entries(r, s->e);
    if (f & WSF_BLOB) {
        s->len = rd_u16(r);
        if (s->len > WIRE_BLOB_MAX) r->ok = false;
        s->data = rd_take(r, s->len);
    }
    if (f & WSF_RANGE) {
        s->lo = rd_u32(r);
        s->hi = rd_u32(r);
    }
}

/* ---- Call messages (WireCall; layout in wire.h) ---- */
enum {
    WCF_ROUTE = 1, WCF_ADDR = 2, WCF_INFO = 4, WCF_USER = 8, WCF_CHAL = 16, WCF_RESP = 32,
    WCF_KEY = 64,
};

/* The fields each call message kind carries; the mask travels in the
 * message and must match. */
static uint8_t wire_call_mask(uint8_t kind)
{
    switch (kind) {
    case WIRE_CM_LOCATE: return WCF_ROUTE | WCF_USER;
    case WIRE_CM_LOCATED: return WCF_ADDR | WCF_USER;
    case WIRE_CM_INVITE: return WCF_ROUTE | WCF_ADDR | WCF_INFO | WCF_USER | WCF_CHAL | WCF_KEY;
    case WIRE_CM_ANSWER: return WCF_ROUTE | WCF_ADDR | WCF_INFO | WCF_CHAL | WCF_RESP;
    case WIRE_CM_PATH: return WCF_INFO | WCF_RESP;
    case WIRE_CM_RELAY: return WCF_ADDR | WCF_RESP;
    case WIRE_CM_RELAY_BIND:
    case WIRE_CM_NAT_NOTE: return WCF_INFO;
    default: return 0; /* BUSY, BYE, PUNCH(_ACK), RELAY_BOUND/REFUSED, PUNCH_GO: the id only */
    }
}

static void wr_addr(WireWr *w, EnvAddr a)
{
    wr_u32(w, a.ip);
    wr_u16(w, a.port);
}
static EnvAddr rd_addr(WireRd *r)
{
    uint32_t ip = rd_u32(r);
    return env_addr(ip, rd_u16(r));
}

static void wire_call_put(WireWr *w, const WireCall *c)
{
    CHECK(c->kind > 0 && c->kind < WIRE_CM_KIND_END, "call message kind %u", c->kind);
    uint8_t mask = wire_call_mask(c->kind);
    wr_u8(w, c->kind);
    wr_u32(w, c->call_id);
    wr_u8(w, mask);
    if (mask & WCF_ROUTE) {
        wr_u8(w, c->ttl);
        wr_addr(w, c->from_id);
    }
    if (mask & WCF_ADDR) {
        wr_addr(w, c->a1);
        wr_addr(w, c->a2);
    }
    if (mask & WCF_INFO) {
        const uint8_t info[5] = {c->flags, 0 /* reserved */, c->dnat, c->path, c->leg};
        wr_bytes(w, info, sizeof info);
    }
    if (mask & WCF_USER) {
        CHECK(c->ulen > 0 && c->ulen <= WIRE_USER_MAX, "call user of %u bytes", c->ulen);
        wr_u8(w, c->ulen);
        wr_bytes(w, c->user, c->ulen);
    }
    if (mask & WCF_CHAL) wr_bytes(w, c->chal, 8);
    if (mask & WCF_RESP) wr_bytes(w, c->resp, 8);
    if (mask & WCF_KEY) wr_bytes(w, c->key, 32);
}

/* Copies n bytes from r into dst (left as is when the read fails). */
static void rd_copy(WireRd *r, void *dst, size_t n)
{
    const uint8_t *x = rd_take(r, n);
    if (x) memcpy(dst, x, n);
}

/* Reads one call message from r, which must hold exactly that message. */
static void wire_call_get(WireRd *r, WireCall *c)
{
    memset(c, 0, sizeof *c);
    c->kind = rd_u8(r);
    c->call_id = rd_u32(r);
    uint8_t mask = rd_u8(r);
    if (!r->ok || c->kind == 0 || c->kind >= WIRE_CM_KIND_END || mask != wire_call_mask(c->kind)) {
        r->ok = false;
        return;
    }
    if (mask & WCF_ROUTE) {
        c->ttl = rd_u8(r);
        c->from_id = rd_addr(r);
    }
    if (mask & WCF_ADDR) {
        c->a1 = rd_addr(r);
        c->a2 = rd_addr(r);
    }
    if (mask & WCF_INFO) {
        c->flags = rd_u8(r);
        uint8_t reserved = rd_u8(r);
        c->dnat = rd_u8(r);
        c->path = rd_u8(r);
        c->leg = rd_u8(r);
        if (reserved != 0 || c->dnat >= NAT_TYPE_COUNT ||
            c->path >= WIRE_CALL_PATH_END || c->leg > 1 ||
            (c->flags & ~(WIRE_CMF_UDP_OK | WIRE_CMF_PUNCH_FIRST)) != 0)
            r->ok = false;
    }
    if (mask & WCF_USER) {
        c->ulen = rd_u8(r);
        if (c->ulen == 0 || c->ulen > WIRE_USER_MAX) r->ok = false;
        if (r->ok) rd_copy(r, c->user, c->ulen);
    }
    if (mask & WCF_CHAL) rd_copy(r, c->chal, 8);
    if (mask & WCF_RESP) rd_copy(r, c->resp, 8);
    if (mask & WCF_KEY) rd_copy(r, c->key, 32);
}

size_t wire_call_encode(const WireCall *c, uint8_t *buf, size_t cap)
{
    CHECK(cap >= WIRE_CALL_MAX, "call message buffer of %zu bytes", cap);
    WireWr w = {buf, cap, buf};
    wire_call_put(&w, c);
    return (size_t)(w.p - w.beg);
}

bool wire_call_decode(const uint8_t *buf, size_t len, WireCall *c)
{
    WireRd r = {buf, len, true};
    wire_call_get(&r, c);
    return r.ok && r.left == 0;
}

/* ---- Conference messages ---- */

static void wr_conf_peer(WireWr *w, const WireConfPeer *p)
{
    wr_addr(w, p->id);
    wr_addr(w, p->pub);
    wr_u32(w, p->cpu_mhz);
    wr_u32(w, p->uplink_kbps);
    wr_u8(w, (uint8_t)((p->udp ? 1 : 0) | (p->dnat << 1)));
}

static void rd_conf_peer(WireRd *r, WireConfPeer *p)
{
    p->id = rd_addr(r);
    p->pub = rd_addr(r);
    p->cpu_mhz = rd_u32(r);
    p->uplink_kbps = rd_u32(r);
    uint8_t f = rd_u8(r);
    p->udp = (f & 1) != 0;
    p->dnat = (uint8_t)(f >> 1);
    if (p->dnat >= NAT_TYPE_COUNT) r->ok = false;
}

size_t wire_conf_encode(const WireConf *c, uint8_t *buf, size_t cap)
{
    CHECK(cap >= WIRE_CONF_MAX, "conference message buffer of %zu bytes", cap);
    CHECK(c->kind >= WIRE_CF_FIRST && c->kind < WIRE_CF_KIND_END, "conference kind %u", c->kind);
    WireWr w = {buf, cap, buf};
    wr_u8(&w, c->kind);
    wr_u32(&w, c->conf_id);
    switch ((WireConfKind)c->kind) {
    case WIRE_CF_INVITE:
        wr_addr(&w, c->from);
        wr_u8(&w, c->mesh ? 1 : 0);
        wr_bytes(&w, c->key, 32);
        break;
    case WIRE_CF_JOIN: wr_conf_peer(&w, &c->p[0]); break;
    case WIRE_CF_BUSY:
    case WIRE_CF_LEAVE: wr_addr(&w, c->from); break;
    case WIRE_CF_START:
        CHECK(c->n >= 1 && c->n <= WIRE_CONF_PEERS_MAX && c->host < c->n, "START of %u (host %u)",
              c->n, c->host);
        wr_u8(&w, c->host);
        wr_u8(&w, c->n);
        for (uint8_t i = 0; i < c->n; i++) wr_conf_peer(&w, &c->p[i]);
        break;
    case WIRE_CF_RELAY:
        wr_addr(&w, c->from);
        wr_addr(&w, c->relay);
        break;
    case WIRE_CF_END:
    case WIRE_CF_KIND_END: break;
    }
    return (size_t)(w.p - w.beg);
}

bool wire_conf_decode(const uint8_t *buf, size_t len, WireConf *c)
{
    memset(c, 0, sizeof *c);
    WireRd r = {buf, len, true};
    c->kind = rd_u8(&r);
    c->conf_id = rd_u32(&r);
    if (!r.ok || c->kind < WIRE_CF_FIRST || c->kind >= WIRE_CF_KIND_END) return false;
    switch ((WireConfKind)c->kind) {
    case WIRE_CF_INVITE: {
        c->from = rd_addr(&r);
        uint8_t mesh = rd_u8(&r);
        if (mesh > 1) r.ok = false;
        c->mesh = mesh == 1;
        rd_copy(&r, c->key, 32);
        break;
    }
    case WIRE_CF_JOIN:
        c->n = 1;
        rd_conf_peer(&r, &c->p[0]);
        break;
    case WIRE_CF_BUSY:
    case WIRE_CF_LEAVE: c->from = rd_addr(&r); break;
    case WIRE_CF_START:
        c->host = rd_u8(&r);
        c->n = rd_u8(&r);
        if (c->n == 0 || c->n > WIRE_CONF_PEERS_MAX || c->host >= c->n) r.ok = false;
        for (uint8_t i = 0; r.ok && i < c->n; i++) rd_conf_peer(&r, &c->p[i]);
        break;
    case WIRE_CF_RELAY:
        c->from = rd_addr(&r);
        c->relay = rd_addr(&r);
        break;
    case WIRE_CF_END:
    case WIRE_CF_KIND_END: break;
    }
    return r.ok && r.left == 0;
}

/* WIRE_CALL, WIRE_CALL_UDP: a u16 length, then the call message. */
static void wire_call_field_encode(WireWr *w, const WireCall *c)
{
    uint8_t *len_at = w->p;
    wr_u16(w, 0);
    uint8_t *start = w->p;
    wire_call_put(w, c);
    wire_put_u16(len_at, (uint16_t)(w->p - start));
}

static void wire_call_field_decode(WireRd *r, WireCall *c)
{
    uint16_t len = rd_u16(r);
    const uint8_t *body = rd_take(r, len);
    if (!body || len == 0 || len > WIRE_BLOB_MAX) {
        r->ok = false;
        return;
    }
    WireRd sub = {body, len, true};
    wire_call_get(&sub, c);
    if (!sub.ok || sub.left != 0) r->ok = false;
}

uint32_t wire_user_hash(const void *user, size_t len)
{
    const uint8_t *u = user;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ u[i]) * 16777619u;
    return h;
}

bool wire_type_known(uint8_t type)
{
    return (type >= WIRE_PROBE && type <= WIRE_STUN_ASSIST) || type == WIRE_CALL_UDP ||
           (type >= WIRE_CONNECT && type <= WIRE_SN_GOSSIP) || wire_search_fields(type) != 0 ||
           type == WIRE_CALL || type == WIRE_CALL_MEDIA;
}

/* ---- Plaintext bodies ---- */

static void wire_encode_fields(const WireMsg *m, WireWr *w)
{
    switch ((WireType)m->type) {
    case WIRE_PROBE:
        wr_u16(w, m->u.probe.tcp_port);
        if (m->u.probe.retry) { /* U3 = U1 + 5 bytes, its 4th byte 0x01 (a22) */
            const uint8_t u3[4] = {0, 0, 0, 1};
            wr_bytes(w, u3, sizeof u3);
            wr_u8(w, (uint8_t)m->u.probe.nonce);
        }
        break;
    case WIRE_PROBE_ACK:
        wr_u8(w, m->u.probe_ack.verdict);
        wr_u16(w, m->u.probe_ack.tcp_port);
        if (m->u.probe_ack.verdict == WIRE_ACCEPT)
            wr_u16(w, m->u.probe_ack.load);
        else
            wr_entries(w, m->u.probe_ack.n, m->u.probe_ack.e);
        break;
    case WIRE_PING:
        wr_u32(w, m->u.ping.nonce);
        break;
    case WIRE_PONG:
        wr_u32(w, m->u.ping.nonce);
        wr_u8(w, m->u.ping.is_sn);
        break;
    case WIRE_STUN_ASSIST:
        wr_bytes(w, m->u.assist.txid, 12);
        wr_entry(w, m->u.assist.target);
        break;
    case WIRE_CONNECT:
        CHECK(m->u.connect.ulen <= WIRE_USER_MAX, "username of %u bytes", m->u.connect.ulen);
        wr_u16(w, m->u.connect.udp_port);
        wr_u8(w, m->u.connect.nat);
        wr_u8(w, m->u.connect.flags);
        wr_u8(w, m->u.connect.ulen);
        wr_bytes(w, m->u.connect.user, m->u.connect.ulen);
        break;
    case WIRE_CONNECT_ACK:
        wr_u8(w, m->u.connect_ack.verdict);
        wr_entry(w, m->u.connect_ack.seen);
        /* fall through */
    case WIRE_HC_ENTRIES:
    case WIRE_SHED:
        wr_entries(w, m->u.connect_ack.n, m->u.connect_ack.e);
        break;
    case WIRE_KEEPALIVE:
        wr_u32(w, m->u.keepalive.seq);
        wr_u8(w, m->u.keepalive.flags);
        break;
    case WIRE_KEEPALIVE_ACK:
        wr_u32(w, m->u.keepalive.seq);
        break;
    case WIRE_PROMOTE:
        break;
    case WIRE_SN_GOSSIP:
        CHECK(m->u.gossip.n >= 1 && m->u.gossip.n <= WIRE_GOSSIP_MAX, "gossip of %u entries",
              m->u.gossip.n);
        wr_u8(w, m->u.gossip.n);
        for (uint8_t i = 0; i < m->u.gossip.n; i++) {
            const WireGossipEntry *g = &m->u.gossip.e[i];
            wr_entry(w, (WireEntry){g->ip, g->port});
            wr_u16(w, g->age_s);
            wr_u8(w, g->load);
        }
        break;
    case WIRE_HC_REQUEST:
        wr_u8(w, m->u.hc_request.max);
        break;
    case WIRE_SN_HELLO:
        wr_entry(w, m->u.sn_hello.main);
        wr_u16(w, m->u.sn_hello.alt_port);
        break;
    case WIRE_FORWARD:
        CHECK(m->u.forward.len <= WIRE_BLOB_MAX, "forward of %u bytes", m->u.forward.len);
        wr_entry(w, m->u.forward.dst);
        wr_u8(w, m->u.forward.ttl);
        wr_u16(w, m->u.forward.len);
        wr_bytes(w, m->u.forward.data, m->u.forward.len);
        break;
    case WIRE_LOGIN_REQ:
        CHECK(m->u.login.klen <= CRYPTO_RSA_MAX_BYTES, "wrapped key of %u", m->u.login.klen);
        wr_u16(w, m->u.login.klen);
        wr_bytes(w, m->u.login.key, m->u.login.klen);
        /* fall through */
    case WIRE_LOGIN_CERT:
        CHECK(m->u.login.len <= WIRE_BLOB_MAX, "login blob of %u", m->u.login.len);
        wr_u16(w, m->u.login.len);
        wr_bytes(w, m->u.login.data, m->u.login.len);
        break;
    case WIRE_LOGIN_FAIL:
        wr_u8(w, m->u.login_fail.reason);
        break;
    case WIRE_CALL_UDP:
    case WIRE_CALL:
        wire_call_field_encode(w, &m->u.call);
        break;
    case WIRE_CALL_MEDIA:
        CHECK(m->u.media.len > 0 && m->u.media.len <= WIRE_BLOB_MAX, "media blob of %u",
              m->u.media.len);
        wr_bytes(w, m->u.media.data, m->u.media.len); /* the frame's length delimits it */
        break;
    case WIRE_SEARCH_Q:
    case WIRE_SEARCH_A:
    case WIRE_SN_NOTE:
    case WIRE_INDEX_PULL:
    case WIRE_SN_RING:
    case WIRE_SEARCH_REQ:
    case WIRE_SEARCH_RESULT:
    case WIRE_SEARCH_NODES:
    case WIRE_SEARCH_MORE:
    case WIRE_ANNOUNCE:
    case WIRE_PRESENCE:
    case WIRE_BUDDY_LIST:
        wire_search_encode(m, w);
        break;
    default:
        CHECK(false, "encoding unknown message type %u", m->type);
    }
}

size_t wire_encode(const WireMsg *m, uint8_t *buf, size_t cap)
{
    WireWr w = {buf, cap, buf};
    wr_u8(&w, WIRE_VERSION);
    wr_u8(&w, m->type);
    wire_encode_fields(m, &w);
    return (size_t)(w.p - w.beg);
}

/* Decodes the fields of m->type from r. Field-range checks live here;
 * lengths are checked by WireRd. */
static void wire_decode_fields(WireRd *r, WireMsg *m)
{
    switch ((WireType)m->type) {
    case WIRE_PROBE:
        m->u.probe.tcp_port = rd_u16(r);
        m->u.probe.retry = r->left > 0;
        if (m->u.probe.retry) {
            const uint8_t *x = rd_take(r, 4);
            if (x && (x[0] | x[1] | x[2] | (x[3] ^ 1))) r->ok = false;
            m->u.probe.nonce = rd_u8(r);
        }
        break;
    case WIRE_PROBE_ACK:
        m->u.probe_ack.verdict = rd_u8(r);
        m->u.probe_ack.tcp_port = rd_u16(r);
        if (m->u.probe_ack.verdict > WIRE_REDIRECT) r->ok = false;
        if (m->u.probe_ack.verdict == WIRE_ACCEPT)
            m->u.probe_ack.load = rd_u16(r);
        else
            m->u.probe_ack.n = rd_entries(r, m->u.probe_ack.e);
        break;
    case WIRE_PING:
        m->u.ping.nonce = rd_u32(r);
        break;
    case WIRE_PONG:
        m->u.ping.nonce = rd_u32(r);
        m->u.ping.is_sn = rd_u8(r);
        if (m->u.ping.is_sn > 1) r->ok = false;
        break;
    case WIRE_STUN_ASSIST: {
        const uint8_t *t = rd_take(r, 12);
        if (t) memcpy(m->u.assist.txid, t, 12);
        m->u.assist.target = rd_entry(r);
        break;
    }
    case WIRE_CONNECT:
        m->u.connect.udp_port = rd_u16(r);
        m->u.connect.nat = rd_u8(r);
        m->u.connect.flags = rd_u8(r);
        m->u.connect.ulen = rd_u8(r);
        if (m->u.connect.ulen > WIRE_USER_MAX) r->ok = false;
        m->u.connect.user = rd_take(r, m->u.connect.ulen);
        break;
    case WIRE_CONNECT_ACK:
        m->u.connect_ack.verdict = rd_u8(r);
        if (m->u.connect_ack.verdict > WIRE_REDIRECT) r->ok = false;
        m->u.connect_ack.seen = rd_entry(r);
        /* fall through */
    case WIRE_HC_ENTRIES:
    case WIRE_SHED:
        m->u.connect_ack.n = rd_entries(r, m->u.connect_ack.e);
        break;
    case WIRE_KEEPALIVE:
        m->u.keepalive.seq = rd_u32(r);
        m->u.keepalive.flags = rd_u8(r);
        if (m->u.keepalive.flags & ~WIRE_KA_ELIGIBLE) r->ok = false;
        break;
    case WIRE_KEEPALIVE_ACK:
        m->u.keepalive.seq = rd_u32(r);
        break;
    case WIRE_PROMOTE:
        break;
    case WIRE_SN_GOSSIP:
        m->u.gossip.n = rd_u8(r);
        if (m->u.gossip.n < 1 || m->u.gossip.n > WIRE_GOSSIP_MAX) {
            r->ok = false;
            break;
        }
        for (uint8_t i = 0; i < m->u.gossip.n && r->ok; i++) {
            WireGossipEntry *g = &m->u.gossip.e[i];
            WireEntry e = rd_entry(r);
            g->ip = e.ip;
            g->port = e.port;
            g->age_s = rd_u16(r);
            g->load = rd_u8(r);
            if (g->load > 100) r->ok = false;
        }
        break;
    case WIRE_HC_REQUEST:
        m->u.hc_request.max = rd_u8(r);
        if (m->u.hc_request.max > WIRE_HC_REQUEST_MAX) r->ok = false;
        break;
    case WIRE_SN_HELLO:
        m->u.sn_hello.main = rd_entry(r);
        m->u.sn_hello.alt_port = rd_u16(r);
        break;
    case WIRE_FORWARD:
        m->u.forward.dst = rd_entry(r);
        m->u.forward.ttl = rd_u8(r);
        m->u.forward.len = rd_u16(r);
        if (m->u.forward.len > WIRE_BLOB_MAX) r->ok = false;
        m->u.forward.data = rd_take(r, m->u.forward.len);
        break;
    case WIRE_LOGIN_REQ:
        m->u.login.klen = rd_u16(r);
        if (m->u.login.klen > CRYPTO_RSA_MAX_BYTES) r->ok = false;
        m->u.login.key = rd_take(r, m->u.login.klen);
        /* fall through */
    case WIRE_LOGIN_CERT:
        m->u.login.len = rd_u16(r);
        if (m->u.login.len > WIRE_BLOB_MAX) r->ok = false;
        m->u.login.data = rd_take(r, m->u.login.len);
        break;
    case WIRE_LOGIN_FAIL:
        m->u.login_fail.reason = rd_u8(r);
        break;
    case WIRE_CALL_UDP:
    case WIRE_CALL:
        wire_call_field_decode(r, &m->u.call);
        break;
    case WIRE_CALL_MEDIA:
        m->u.media.len = (uint16_t)r->left; /* the rest of the frame */
        if (m->u.media.len > WIRE_BLOB_MAX || m->u.media.len == 0) r->ok = false;
        m->u.media.data = rd_take(r, m->u.media.len);
        break;
    case WIRE_SEARCH_Q:
    case WIRE_SEARCH_A:
    case WIRE_SN_NOTE:
    case WIRE_INDEX_PULL:
    case WIRE_SN_RING:
    case WIRE_SEARCH_REQ:
    case WIRE_SEARCH_RESULT:
    case WIRE_SEARCH_NODES:
    case WIRE_SEARCH_MORE:
    case WIRE_ANNOUNCE:
    case WIRE_PRESENCE:
    case WIRE_BUDDY_LIST:
        wire_search_decode(r, m);
        break;
    default:
        r->ok = false;
    }
}

bool wire_decode(const uint8_t *buf, size_t len, WireMsg *m)
{
    WireRd r = {buf, len, true};
    memset(m, 0, sizeof *m);
    if (rd_u8(&r) != WIRE_VERSION) return false;
    m->type = rd_u8(&r);
    if (!r.ok) return false;
    wire_decode_fields(&r, m);
    return r.ok && r.left == 0; /* trailing bytes are malformed too */
}

/* ---- UDP envelope ---- */

bool wire_udp_is_nack(const uint8_t *buf, size_t len)
{
    return len == WIRE_NACK_LEN && buf[2] == WIRE_FUNC_NACK;
}

/* The 80-byte RC4 key from the 32-bit seed (splitmix64 expansion). */
static void wire_rc4_key(uint32_t seed, uint8_t key[80])
{
    uint64_t x = seed;
    for (int i = 0; i < 80; i += 8) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int j = 0; j < 8; j++)
            key[i + j] = (uint8_t)(z >> (8 * j));
    }
}

static uint32_t wire_udp_seed(uint32_t src_ip, uint32_t dst_ip, uint16_t frame_id, uint32_t iv)
{
    uint8_t b[10];
    wire_put_u32(b, src_ip);
    wire_put_u32(b + 4, dst_ip);
    wire_put_u16(b + 8, frame_id);
    return crypto_crc32(0, b, sizeof b) ^ iv;
}

size_t wire_udp_seal(Crypto *c, const Env *e, uint16_t frame_id, uint32_t src_ip, uint32_t dst_ip,
                     const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    size_t total = WIRE_UDP_HDR + len + WIRE_UDP_TRAILER;
    CHECK(total <= cap && total <= ENV_UDP_MAX, "datagram of %zu bytes, cap %zu", total, cap);
    uint32_t iv = (uint32_t)env_random_u64(e);
    wire_put_u16(out, frame_id);
    out[2] = (uint8_t)((WIRE_FUNC_SIGNAL & WIRE_FUNC_MASK) | (env_random_u64(e) & 0x70));
    wire_put_u32(out + 3, iv);
    memcpy(out + WIRE_UDP_HDR, body, len);
    wire_put_u32(out + WIRE_UDP_HDR + len, crypto_crc32(0, body, len));
    uint8_t key[80];
    wire_rc4_key(wire_udp_seed(src_ip, dst_ip, frame_id, iv), key);
    crypto_rc4(c, e, key, sizeof key, out + WIRE_UDP_HDR, len + WIRE_UDP_TRAILER);
    return total;
}

long wire_udp_open(Crypto *c, const Env *e, const uint8_t *pkt, size_t len, uint32_t src_ip,
                   uint32_t dst_ip, uint8_t *body, size_t cap, uint16_t *frame_id)
{
    if (len < WIRE_UDP_HDR + WIRE_UDP_TRAILER + 2) return WIRE_OPEN_SHORT;
    if ((pkt[2] & WIRE_FUNC_MASK) != WIRE_FUNC_SIGNAL) return WIRE_OPEN_SHORT;
    size_t n = len - WIRE_UDP_HDR;
    CHECK(n <= cap, "open buffer of %zu for %zu bytes", cap, n);
    *frame_id = wire_get_u16(pkt);
    uint8_t key[80];
    wire_rc4_key(wire_udp_seed(src_ip, dst_ip, *frame_id, wire_get_u32(pkt + 3)), key);
    memcpy(body, pkt + WIRE_UDP_HDR, n);
    crypto_rc4(c, e, key, sizeof key, body, n);
    size_t blen = n - WIRE_UDP_TRAILER;
    if (crypto_crc32(0, body, blen) != wire_get_u32(body + blen)) return WIRE_OPEN_BADCRC;
    return (long)blen;
}

size_t wire_nack_encode(uint16_t frame_id, EnvAddr seen, const Env *e, uint8_t *out, size_t cap)
{
    CHECK(cap >= WIRE_NACK_LEN, "nack buffer %zu", cap);
    (void)e;
    wire_put_u16(out, frame_id);
    out[2] = WIRE_FUNC_NACK;
    out[3] = WIRE_VERSION;
    out[4] = 0; /* reason: bad CRC */
    wire_put_u32(out + 5, seen.ip);
    wire_put_u16(out + 9, seen.port);
    return WIRE_NACK_LEN;
}

bool wire_nack_decode(const uint8_t *buf, size_t len, uint16_t *frame_id, EnvAddr *seen)
{
    if (len != WIRE_NACK_LEN || buf[2] != WIRE_FUNC_NACK || buf[3] != WIRE_VERSION || buf[4] != 0)
        return false;
    *frame_id = wire_get_u16(buf);
    seen->ip = wire_get_u32(buf + 5);
    seen->port = wire_get_u16(buf + 9);
    return seen->ip != 0 && seen->port != 0;
}

/* ---- TCP envelope ---- */

#define WIRE_HELLO_MAGIC 0x5a

size_t wire_hello_encode(uint32_t seed, uint8_t role, const Env *e, uint8_t *out, size_t cap)
{
    CHECK(cap >= WIRE_HELLO_LEN, "hello buffer %zu", cap);
    wire_put_u32(out, seed);
    out[4] = WIRE_HELLO_MAGIC;
    out[5] = WIRE_VERSION;
    out[6] = role;
    env_random_bytes(e, out + 7, WIRE_HELLO_LEN - 7);
    return WIRE_HELLO_LEN;
}

bool wire_hello_decode(const uint8_t *buf, size_t len, uint32_t *seed, uint8_t *role)
{
    if (len != WIRE_HELLO_LEN || buf[4] != WIRE_HELLO_MAGIC || buf[5] != WIRE_VERSION) return false;
    *seed = wire_get_u32(buf);
    *role = buf[6];
    return true;
}

void wire_stream_key(Crypto *c, const Env *e, uint32_t seed, uint8_t key[32])
{
    uint8_t s[4];
    wire_put_u32(s, seed);
    crypto_sha256(c, e, s, sizeof s, "skysim-tcp", 10, key);
}

static void wire_frame_iv(uint32_t counter, uint8_t iv[16])
{
    memset(iv, 0, 16);
    wire_put_u32(iv, counter); /* the low 8 bytes stay for the CTR block counter */
}

size_t wire_frame_seal(Crypto *c, const Env *e, const uint8_t key[32], uint32_t counter,
                       const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    CHECK(len > 0 && len <= WIRE_FRAME_MAX && len + 2 <= cap, "frame of %zu bytes", len);
    uint8_t iv[16];
    wire_frame_iv(counter, iv);
    wire_put_u16(out, (uint16_t)len);
    memcpy(out + 2, body, len);
    crypto_aes256(c, e, key, iv, out + 2, len);
    return len + 2;
}

void wire_frame_open(Crypto *c, const Env *e, const uint8_t key[32], uint32_t counter, uint8_t *buf,
                     size_t len)
{
    uint8_t iv[16];
    wire_frame_iv(counter, iv);
    crypto_aes256(c, e, key, iv, buf, len);
}
