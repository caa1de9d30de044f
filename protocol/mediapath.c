/* mediapath: media-path groundwork shared by calls and conferences (see
 * mediapath.h).
 *
 * Layer: protocol/, a service module: no state, no feature; it is used by
 * the calls feature (call.c) and the conference feature (conf.c).
 */
#include "protocol/mediapath.h"

#include <string.h>

EnvAddr mediapath_self_id(const Node *n)
{
    return env_addr(n->public_addr.ip ? n->public_addr.ip : n->local.ip, n->port);
}

bool mediapath_udp_ok(const Node *n)
{
    return n->public_addr.port != 0 && n->nat != NAT_UDP_BLOCKED;
}

void mediapath_send_udp(Node *n, EnvAddr to, const WireCall *cm)
{
    WireMsg m = {.type = WIRE_CALL_UDP, .u.call = *cm};
    node__udp_send_msg(n, n->udp, to, (uint16_t)node__random_u32(n), &m, PH_NONE);
}

void mediapath_send_tcp(Node *n, int idx, const WireCall *cm)
{
    WireMsg m = {.type = WIRE_CALL, .u.call = *cm};
    (void)node__send_msg(n, idx, &m);
}

void mediapath_signal(Node *n, EnvAddr dst, const uint8_t *buf, size_t len)
{
    if (!n->sn) {
        (void)node_signal_send(n, dst, buf, len);
        return;
    }
    WireMsg m = {.type = WIRE_FORWARD,
                 .u.forward = {{dst.ip, dst.port}, WIRE_FORWARD_TTL, (uint16_t)len, buf}};
    node__emit(n, NODE_EV_SN_FORWARD, &(NodeEventArg){.idx = -1, .msg = &m});
}

void mediapath_signal_call(Node *n, EnvAddr dst, const WireCall *cm)
{
    uint8_t buf[WIRE_CALL_MAX];
    size_t len = wire_call_encode(cm, buf, sizeof buf);
    mediapath_signal(n, dst, buf, len);
}

bool mediapath_locate(Node *n, uint32_t id, const char *user, size_t ulen)
{
    WireCall cm = {.kind = WIRE_CM_LOCATE, .call_id = id, .ttl = WIRE_FORWARD_TTL, .from_id = mediapath_self_id(n)};
    cm.ulen = (uint8_t)ulen;
    memcpy(cm.user, user, ulen);
    if (n->sn) {
        mediapath_sn_locate(n, -1, &cm, -1);
        return true;
    }
    if (n->uplink < 0 || n->conns[n->uplink].state != CS_READY) return false;
    mediapath_send_tcp(n, n->uplink, &cm);
    return true;
}

void mediapath_sn_locate(Node *n, int idx, const WireCall *cm, int direct)
{
    SnState *s = n->sn;
    if (!node__sn_rate_ok(n, idx)) return;
    uint8_t key[12]; /* who asks, for which session: a flood is handled once */
    wire_put_u32(key, cm->from_id.ip);
    wire_put_u16(key + 4, cm->from_id.port);
    wire_put_u32(key + 6, cm->call_id);
    wire_put_u16(key + 10, 0x10c); /* LOCATE, apart from FORWARD fingerprints */
    if (node__sn_seen(n, wire_user_hash(key, sizeof key) ^ wire_user_hash(cm->user, cm->ulen)))
        return;
    uint32_t h = wire_user_hash(cm->user, cm->ulen);
    EnvAddr found = {0, 0};
    bool open = false; /* the user said it is on the open Internet: direct signalling (a31) */
    if (n->role == NODE_ROLE_CLIENT && n->ulen == cm->ulen && !memcmp(n->user, cm->user, cm->ulen)) {
        found = mediapath_self_id(n);
        open = n->nat == NAT_OPEN;
    }
    for (uint16_t i = 0; i < s->slots && !found.ip; i++)
        if (s->clients[i].conn >= 0 && s->clients[i].user_hash == h) {
            found = s->clients[i].addr;
            open = s->clients[i].nat == NAT_OPEN;
        }
    if (found.ip) {
        WireCall r = {.kind = WIRE_CM_LOCATED, .call_id = cm->call_id, .a1 = found, .ulen = cm->ulen};
        if (open) r.a2 = found; /* where to open the direct signalling connection */
        memcpy(r.user, cm->user, cm->ulen);
        if (direct >= 0)
            mediapath_send_tcp(n, direct, &r);
        else
            mediapath_signal_call(n, cm->from_id, &r);
        return;
    }
    WireCall f = *cm;
    f.ttl = (uint8_t)MIN(f.ttl, WIRE_FORWARD_TTL); /* a hostile hop count is clamped */
    if (f.ttl == 0) return;
    f.ttl--;
    for (int p = 0; p < SN_PEER_MAX; p++) {
        int pc = s->peer[p].conn;
        if (pc >= 0 && pc != idx && n->conns[pc].state == CS_READY) mediapath_send_tcp(n, pc, &f);
    }
}

size_t mediapath_relay_candidates(Node *n, EnvAddr peer_sn, EnvAddr bad, EnvAddr *out, size_t cap)
{
    CHECK(cap >= 3, "relay candidate room %zu", cap);
    EnvAddr skip[4] = {n->uplink_addr, peer_sn, bad, mediapath_self_id(n)};
    size_t max = MIN((size_t)n->sh->p.relay_candidates, cap - 2);
    size_t k = hostcache_best(&n->hc, out, max, 0, skip, 4);
    EnvAddr last[2] = {n->uplink_addr, peer_sn};
    for (int i = 0; i < 2; i++)
        if (last[i].ip && !env_addr_eq(last[i], bad) && (i == 0 || !env_addr_eq(last[0], last[1])))
            out[k++] = last[i];
    return k;
}

int mediapath_relay_connect(Node *n, EnvAddr r, uint8_t *pi, uint8_t kind)
{
    for (; *pi < 3; (*pi)++) {
        EnvAddr to = r;
        if (*pi > 0) to.port = n->sh->p.fallback_ports[*pi - 1];
        if (to.port == 0 || (*pi > 0 && to.port == r.port)) continue;
        int idx = node__connect(n, to, kind, PH_NONE);
        if (idx >= 0) return idx;
    }
    return -1;
}

void mediapath_relay_bind_send(Node *n, int idx, EnvAddr r, uint32_t id, uint8_t leg)
{
    WireCall b = {.kind = WIRE_CM_RELAY_BIND, .call_id = id, .leg = leg};
    if (idx >= 0)
        mediapath_send_tcp(n, idx, &b);
    else
        mediapath_send_udp(n, r, &b);
}

void mediapath_media_send_tcp(Node *n, int idx, const uint8_t *pkt, size_t len)
{
    CHECK(len > 2, "media datagram of %zu bytes", len);
    WireMsg m = {.type = WIRE_CALL_MEDIA, .u.media = {(uint16_t)(len - 2), pkt + 2}};
    (void)node__send_msg(n, idx, &m);
}

size_t mediapath_media_from_tcp(uint16_t fid, const uint8_t *data, size_t len, uint8_t *out,
                                size_t cap)
{
    if (len + 2 > cap) return 0;
    wire_put_u16(out, fid);
    memcpy(out + 2, data, len);
    return len + 2;
}
