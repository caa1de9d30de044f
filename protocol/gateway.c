/* gateway: the phone gateway (SkypeOut, a18): a public node listening on
 * UDP and TCP port 12340 (and 443, 80 where bindable) that stands for the
 * phone network. It answers every call a client places to a phone number
 * (node_call_phone), exchanges G.729 media with it (a38: "G.729 for
 * SkypeOut") and ends the call on the client's BYE, when the signalling
 * connection closes, or when no media comes (the callee's watchdog).
 *
 * Layer: protocol/, part of the calls feature (call.h, call_int.h): the
 * gateway is the calls feature serving NODE_ROLE_GATEWAY with many
 * sessions, not a feature of its own, because it is call.c's callee logic
 * run once per call; as a separate feature it would have to call into
 * call.c or duplicate it.
 * Sources (docs/protocol-notes.md): a18: gateway port 12340; SkypeOut (E2O) flows
 * carry a 4-byte connection ID, here the call id after the 3-byte frame
 * header of every media packet, by which the gateway demultiplexes the
 * voice of its calls; a31: signalling over TCP, here a direct connection
 * from the client (the gateway is public); a32: media over UDP when the
 * client's NAT and firewall let it pass, else through a relay (call.c).
 *
 * Each call runs call.c's callee logic on its own CallState: while one of
 * its events runs (a signalling frame, a datagram, a timer, the closing of
 * its connection) the CallState is made the current call (call__cur),
 * and afterwards taken back into the table (NULL when the event ended it). A gateway does not punch
 * holes: the client's packets open its own NAT, the gateway answers to
 * their source.
 *
 * Memory: a table of gateway_max_calls pointers (env_mem_alloc at start),
 * plus one CallState per call. Lookups are linear: O(calls) per event,
 * fine for hundreds of calls; a large gateway would index by call id.
 * Metrics: "gateway.calls" (answered), "gateway.active" (gauge),
 * "gateway.busy" (refused: table full).
 */
#include "protocol/call_int.h"

#include <string.h>

struct GatewayState {
    uint16_t cap;      /* entries of calls */
    uint16_t n;        /* calls in progress */
    CallState **calls; /* per slot: the call, NULL when free (env_mem_alloc) */
};

void gateway__start(Node *n)
{
    GatewayState *g = env_mem_alloc(&n->env, sizeof *g);
    g->cap = MAX(n->sh->p.gateway_max_calls, 1);
    g->calls = env_mem_alloc(&n->env, g->cap * sizeof *g->calls);
    node__feat_set(n, NODE_FEAT_GATEWAY, g);
}

/* Makes slot i's call current (NULL: a new call may start). */
static void gateway_enter(Node *n, int i)
{
    CHECK(call__cur(n) == NULL, "gateway %u: a call is current already", n->id);
    node__feat_set(n, NODE_FEAT_CALL, gateway__state(n)->calls[i]);
}

/* Takes the current call back into slot i and counts its start or end. */
static void gateway_leave(Node *n, int i)
{
    GatewayState *g = gateway__state(n);
    bool was = g->calls[i] != NULL, is = call__cur(n) != NULL;
    g->calls[i] = call__cur(n);
    node__feat_set(n, NODE_FEAT_CALL, NULL);
    if (!was && is) {
        g->n++;
        node__count(n, call__metrics(n)->gw_calls, 1);
        node__count(n, call__metrics(n)->gw_active, 1);
    } else if (was && !is) {
        g->n--;
        node__count(n, call__metrics(n)->gw_active, -1);
    }
}

static int gateway_find_id(const GatewayState *g, uint32_t id)
{
    for (int i = 0; i < g->cap; i++)
        if (g->calls[i] && call__id(g->calls[i]) == id) return i;
    return -1;
}

static int gateway_find_conn(const GatewayState *g, int idx)
{
    for (int i = 0; i < g->cap; i++)
        if (g->calls[i] && call__sig_conn(g->calls[i]) == idx) return i;
    return -1;
}

void gateway__stop(Node *n)
{
    GatewayState *g = gateway__state(n);
    for (int i = 0; i < g->cap; i++)
        if (g->calls[i]) {
            gateway_enter(n, i);
            call__stop(n);
            gateway_leave(n, i);
        }
    env_mem_free(&n->env, g->calls, g->cap * sizeof *g->calls);
    env_mem_free(&n->env, g, sizeof *g);
    node__feat_set(n, NODE_FEAT_GATEWAY, NULL);
}

void gateway__on_timer(Node *n, EnvTimer t, uint32_t tag)
{
    GatewayState *g = gateway__state(n);
    for (int i = 0; i < g->cap; i++)
        if (g->calls[i] && call__has_timer(g->calls[i], t)) {
            gateway_enter(n, i);
            call__on_timer(n, tag);
            gateway_leave(n, i);
            return;
        }
}

/* Voice: the connection ID (4 bytes after the frame header, a18) names
 * the call. */
bool gateway__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    if (len < MEDIAPATH_MEDIA_HDR + 4 || (buf[2] & WIRE_FUNC_MASK) != MEDIAPATH_FUNC_MEDIA) return false;
    int i = gateway_find_id(gateway__state(n), wire_get_u32(buf + MEDIAPATH_MEDIA_HDR));
    if (i < 0) return true; /* an ended call's late packet */
    gateway_enter(n, i);
    (void)call__on_media_udp(n, from, buf, len);
    gateway_leave(n, i);
    return true;
}

/* Punching probes of the client and the answers of relays. */
void gateway__on_call_udp(Node *n, EnvAddr from, const WireMsg *m)
{
    int i = gateway_find_id(gateway__state(n), m->u.call.call_id);
    if (i < 0) return;
    gateway_enter(n, i);
    call__on_udp(n, from, m);
    gateway_leave(n, i);
}

/* A frame on a signalling connection: its call's, or an INVITE that opens
 * a call in a free slot (BUSY when there is none). */
void gateway__on_frame(Node *n, int idx, const WireMsg *m)
{
    GatewayState *g = gateway__state(n);
    int i = gateway_find_conn(g, idx);
    for (int k = 0; i < 0 && k < g->cap; k++)
        if (!g->calls[k]) i = k;
    if (i < 0) {
        if (m->type == WIRE_CALL && m->u.call.kind == WIRE_CM_INVITE) {
            WireCall b = {.kind = WIRE_CM_BUSY, .call_id = m->u.call.call_id};
            mediapath_send_tcp(n, idx, &b);
            node__count(n, call__metrics(n)->gw_busy, 1);
        }
        return;
    }
    gateway_enter(n, i);
    call__on_frame(n, idx, m);
    gateway_leave(n, i);
}

void gateway__on_closed(Node *n, int idx)
{
    int i = gateway_find_conn(gateway__state(n), idx);
    if (i < 0) return;
    gateway_enter(n, i);
    call__on_closed(n, idx);
    gateway_leave(n, i);
}

uint16_t node_gateway_calls(const Node *n)
{
    const GatewayState *g = gateway__state(n);
    return g ? g->n : 0;
}
