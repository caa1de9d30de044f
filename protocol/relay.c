/* relay: media relay sessions on supernodes (a31, a32, a48).
 *
 * Layer: protocol/, part of the calls feature (call.h, call_int.h); the
 * ends' side is in call.c. A relay is a public node: here, any node
 * serving as a supernode (promoted client, dedicated or bootstrap).
 * Relaying by ordinary public clients is not modelled.
 *
 * A session is created by the first WIRE_CM_RELAY_BIND of a call id and has two
 * legs, the caller's (0) and the callee's (1). A leg is bound either over
 * UDP (the end's address as the relay sees it: the end sent first, so its
 * NAT lets the relay's packets back in, whatever its type) or over TCP (the
 * connection the BIND came on, for ends without UDP: a31 "FW: all via a
 * relay over TCP", a32). Media arriving on one leg goes out on the other:
 * a datagram as it is (3-byte frame header + payload), or on TCP as a
 * WIRE_CALL_MEDIA frame carrying the same bytes but the frame id (the
 * connection stands for it; mediapath_media_send_tcp); the cap counts
 * whole datagrams either way. A datagram is matched to
 * its session by source address and frame id (the low 16 bits of the
 * session id, a18). Sessions serve calls and conference legs alike
 * (conf.c binds one per relayed member-host leg, with a leg id).
 *
 * Capacity (a48): at most relay_max_calls sessions (a BIND beyond it is
 * refused: the caller tries another relay), and each direction of a call
 * is limited to relay_call_bytes_per_s (scenario key
 * protocol.relay_bandwidth; its default, media_relay_cap_default, carries
 * the configured voice stream without loss and is never below a48's
 * 4 KB/s) by a token bucket holding one second of traffic; packets beyond
 * it are dropped and counted ("relay.dropped").
 * Sessions idle for 10 s (both legs silent) or whose TCP leg closes are
 * freed; then "relay.bandwidth_bps" observes the session's mean rate.
 *
 * No keep-alive is needed on a UDP leg: the relay reaches an end through
 * the flow the end's BIND opened in its NAT, and a Linux router forgets a
 * flow 30 s after its last packet until it is assured (tests/netns, probe
 * life_unreplied), but a bound leg carries the end's voice every frame
 * (20 ms; on hold one packet every 1/3 s, call.c) for as long as the call
 * lasts, and the session itself goes after 10 s of silence.
 *
 * Memory: one array of relay_max_calls sessions (~80 bytes each), allocated
 * on the first BIND and freed when the node stops. Lookups are linear:
 * O(relay_max_calls) per packet, fine for tens of sessions.
 */
#include "protocol/call_int.h"

#include <string.h>

#define RELAY_IDLE_NS (10 * TIMENS_S) /* a session silent this long is freed */

typedef struct RelayLeg {
    EnvAddr udp;       /* the end's UDP address, {0,0} when not bound over UDP */
    int conn;          /* the end's TCP connection index, -1 when not over TCP */
    uint32_t tokens;   /* bytes this leg's direction may still send now */
    TimeNs refill_at;  /* time of the last refill */
} RelayLeg;

typedef struct RelaySession {
    uint32_t call_id; /* call id; 0 = free slot */
    RelayLeg leg[2];  /* caller's, callee's */
    TimeNs start;     /* creation time */
    TimeNs last;      /* last packet forwarded */
    uint64_t bytes;   /* bytes forwarded, both directions */
} RelaySession;

struct RelayState {
    uint16_t cap;      /* sessions (NodeParams.relay_max_calls) */
    uint16_t n;        /* sessions in use */
    RelaySession *s;   /* cap sessions (env_mem_alloc) */
    EnvTimer t_sweep;  /* idle sweep */
};

static RelayState *relay_state(Node *n)
{
    if (relay__state(n)) return relay__state(n);
    RelayState *r = env_mem_alloc(&n->env, sizeof *r);
    r->cap = MAX(n->sh->p.relay_max_calls, 1);
    r->s = env_mem_alloc(&n->env, r->cap * sizeof *r->s);
    r->t_sweep = node__timer_start_periodic(n, NODE_FEAT_CALL, RELAY_IDLE_NS, RELAY_IDLE_NS,
                                            TM_RELAY_SWEEP);
    node__feat_set(n, NODE_FEAT_RELAY, r);
    return r;
}

static void relay_session_free(Node *n, RelaySession *x)
{
    RelayState *r = relay__state(n);
    double secs = timens_to_s(x->last - x->start);
    if (x->bytes > 0 && secs > 0)
        env_metric_observe(&n->env, call__metrics(n)->relay_bw, (double)x->bytes * 8 / secs);
    memset(x, 0, sizeof *x);
    r->n--;
    node__count(n, call__metrics(n)->relay_sessions, -1);
}

static RelaySession *relay_find(RelayState *r, uint32_t call_id)
{
    for (uint16_t i = 0; i < r->cap; i++)
        if (r->s[i].call_id == call_id) return &r->s[i];
    return NULL;
}

/* Answers a BIND on the transport it came on. */
static void relay_answer(Node *n, int idx, EnvAddr to, uint32_t call_id, uint8_t kind)
{
    WireCall a = {.kind = kind, .call_id = call_id};
    if (idx >= 0)
        mediapath_send_tcp(n, idx, &a);
    else
        mediapath_send_udp(n, to, &a);
}

void relay__on_bind(Node *n, int idx, EnvAddr from, const WireCall *cm)
{
    RelayState *r = relay_state(n);
    RelaySession *x = relay_find(r, cm->call_id);
    if (!x && r->n < r->cap) {
        x = relay_find(r, 0);
        x->call_id = cm->call_id;
        x->start = x->last = env_now(&n->env);
        x->leg[0].conn = x->leg[1].conn = -1;
        r->n++;
        node__count(n, call__metrics(n)->relay_sessions, 1);
    }
    if (!x) {
        node__count(n, call__metrics(n)->relay_refused, 1);
        relay_answer(n, idx, from, cm->call_id, WIRE_CM_RELAY_REFUSED);
        return;
    }
    RelayLeg *l = &x->leg[cm->leg];
    l->conn = idx;
    l->udp = idx >= 0 ? env_addr(0, 0) : from;
    l->tokens = n->sh->p.relay_call_bytes_per_s;
    l->refill_at = env_now(&n->env);
    x->last = l->refill_at;
    relay_answer(n, idx, from, cm->call_id, WIRE_CM_RELAY_BOUND);
}

/* Token bucket of the direction from leg l: may len bytes pass now? The
 * refill is exact: refill_at moves by the time the whole tokens added stand
 * for, so no fraction of a byte is lost per packet (a stream at exactly
 * the cap is never dropped). */
static bool relay_admit(Node *n, RelayLeg *l, size_t len)
{
    uint32_t rate = n->sh->p.relay_call_bytes_per_s;
    TimeNs now = env_now(&n->env), dt = now - l->refill_at;
    if (dt >= TIMENS_S) {
        l->tokens = rate;
        l->refill_at = now;
    } else {
        uint64_t add = (uint64_t)dt * rate / TIMENS_S;
        l->tokens = (uint32_t)MIN((uint64_t)rate, l->tokens + add);
        l->refill_at = l->tokens == rate ? now : l->refill_at + (TimeNs)(add * TIMENS_S / rate);
    }
    if (l->tokens < len) return false;
    l->tokens -= (uint32_t)len;
    return true;
}

/* Sends bytes that came in on leg `in` out on the other leg. */
static void relay_forward(Node *n, RelaySession *x, int in, const uint8_t *buf, size_t len)
{
    RelayLeg *src = &x->leg[in], *dst = &x->leg[1 - in];
    x->last = env_now(&n->env);
    if (!dst->udp.ip && dst->conn < 0) return; /* the other end has not bound yet */
    if (!relay_admit(n, src, len)) {
        node__count(n, call__metrics(n)->relay_dropped, 1);
        return;
    }
    x->bytes += len;
    node__count(n, call__metrics(n)->relay_bytes, (int64_t)len);
    if (dst->conn >= 0) {
        mediapath_media_send_tcp(n, dst->conn, buf, len);
    } else {
        (void)env_udp_send(&n->env, n->udp, dst->udp, buf, len);
    }
}

/* A datagram belongs to the session whose leg has its source address and
 * whose id's low 16 bits are its frame id: one end (a conference host) may
 * hold several sessions on one relay from the same address. */
bool relay__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    RelayState *r = relay__state(n);
    uint16_t fid = wire_get_u16(buf);
    for (uint16_t i = 0; i < r->cap; i++)
        for (int k = 0; k < 2; k++)
            if (r->s[i].call_id && (uint16_t)r->s[i].call_id == fid &&
                env_addr_eq(r->s[i].leg[k].udp, from)) {
                relay_forward(n, &r->s[i], k, buf, len);
                return true;
            }
    return false;
}

/* A TCP leg's media carries no frame id: the session's is put back, so
 * that both directions forward (and count) whole datagrams. */
void relay__on_media_tcp(Node *n, int idx, const uint8_t *buf, size_t len)
{
    RelayState *r = relay__state(n);
    for (uint16_t i = 0; r && i < r->cap; i++)
        for (int k = 0; k < 2; k++)
            if (r->s[i].call_id && r->s[i].leg[k].conn == idx) {
                uint8_t pkt[ENV_UDP_MAX];
                size_t plen = mediapath_media_from_tcp((uint16_t)r->s[i].call_id, buf, len, pkt,
                                                       sizeof pkt);
                if (plen) relay_forward(n, &r->s[i], k, pkt, plen);
                return;
            }
}

void relay__on_closed(Node *n, int idx)
{
    RelayState *r = relay__state(n);
    for (uint16_t i = 0; r && i < r->cap; i++)
        for (int k = 0; k < 2; k++)
            if (r->s[i].call_id && r->s[i].leg[k].conn == idx) relay_session_free(n, &r->s[i]);
}

void relay__on_timer(Node *n)
{
    RelayState *r = relay__state(n);
    if (!r) return;
    TimeNs now = env_now(&n->env);
    for (uint16_t i = 0; i < r->cap; i++)
        if (r->s[i].call_id && now - r->s[i].last >= RELAY_IDLE_NS) relay_session_free(n, &r->s[i]);
}

void relay__stop(Node *n)
{
    RelayState *r = relay__state(n);
    if (!r) return;
    for (uint16_t i = 0; i < r->cap; i++)
        if (r->s[i].call_id) relay_session_free(n, &r->s[i]);
    env_timer_cancel(&n->env, &r->t_sweep);
    env_mem_free(&n->env, r->s, r->cap * sizeof *r->s);
    env_mem_free(&n->env, r, sizeof *r);
    node__feat_set(n, NODE_FEAT_RELAY, NULL);
}

uint16_t node_relay_sessions(const Node *n)
{
    const RelayState *r = relay__state(n);
    return r ? r->n : 0;
}
