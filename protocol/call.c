/* call: two-party calls: locating the callee, signalling, media path
 * selection (direct UDP, hole punching, UDP relay, TCP relay), media, the
 * re-establishment of a lost path, teardown and the call metrics.
 *
 * Layer: protocol/, the calls feature (call.h, call_int.h) with relay.c
 * and gateway.c; media in media.h, the media-path steps it shares with
 * conferences (locating, signalling through the supernodes, relay
 * candidates and binding) in mediapath.h. Sources (docs/protocol-notes.md):
 *   a31: signalling is always TCP: here it travels through the supernodes
 *        (FORWARD over their TCP links, hop limit 3), both ways;
 *   a32: media over UDP whenever the NATs and firewalls let it pass, TCP
 *        (through a relay) otherwise;
 *   a17: an 8-byte challenge each way and a session key: INVITE carries
 *        the caller's challenge and the call's AES-256 key, ANSWER the
 *        response (SHA-256 of challenge and key, 8 bytes) and the callee's
 *        challenge, PATH/RELAY the caller's response. (The measured
 *        clients also exchange certified public keys; not modelled.)
 *   a18: media datagrams carry a 2-byte frame id and function 0x0d;
 *   a48: relays carry up to 4 KB/s of voice per call; the default cap
 *        carries the configured stream (media_relay_cap_default, relay.c).
 *
 * Caller: LOCATE (through its supernode; the supernodes that hold the
 * callee answer: a stand-in for the user search, behind call_locate) ->
 * INVITE -> ANSWER -> if both ends do UDP, both punch (PUNCH to the
 * other's public endpoint learned through the supernodes, PUNCH_ACK to the
 * source of a PUNCH, and later PUNCHes go to the source of the peer's: what
 * passes is decided by the simulated NATs; the callee first, unless only
 * the caller's NAT keeps state for unsolicited packets: then the callee
 * holds until the caller's first PUNCH has left, call_punch_start) ->
 * PATH; otherwise, or after punch_timeout, a relay: a supernode from the
 * host cache with spare capacity (not either end's own supernode when
 * another exists, so that a relay crash leaves the signalling intact;
 * theirs as the last resort), bound over UDP or, for an end without UDP,
 * over TCP (its port, then 443, then 80) -> RELAY to the callee, who binds
 * its leg. The call is connected when the first media packet from the
 * peer arrives ("call.setup_s" from node_call to then). Media then flows
 * every frame interval each way for the call's duration; the caller sends
 * BYE. No media for media_timeout: the caller re-establishes once through
 * another relay, else the call is dropped. Hold (a36, node_call_hold):
 * the holding end's packets become header-only, one every 1/3 s, flagged
 * as its hold; the other end sees the flag and does the same until voice
 * comes again (the periodic TCP messages on hold are not modelled).
 *
 * Direct signalling (a31 "PUB: caller -> callee directly", switch
 * NodeParams.direct_signalling): a client tells its supernode when it finds
 * itself on the open Internet (CONNECT's NAT type, WIRE_CM_NAT_NOTE after NAT
 * detection); LOCATED then carries the callee's TCP address in a2, and a
 * caller that is open too opens a TCP connection (CONN_CALL_SIG, hello
 * HELLO_CALL) to the callee's listening port and runs INVITE/ANSWER/PATH/
 * BYE over it; any failure falls back to the supernodes.
 *
 * Phone calls (node_call_phone; SkypeOut, a18): the same connection to
 * the phone gateway (port 12340, then 443 and 80; gateway.c), no LOCATE;
 * media with the G.729 profile (a38) and the 4-byte connection ID of E2O
 * flows after the frame header (a18); the gateway does not punch, so a
 * NATed client's UDP reaches it as "hole_punched" and a client without UDP
 * goes through a TCP relay. Counted as calls, with the matrix row
 * "call.matrix.<caller>.pstn.<path>".
 *
 * Outcome counters are the caller's ("call.attempts|success|failure|
 * dropped"); media quality samples are observed by both ends, one per
 * direction received.
 */
#include "protocol/call_int.h"
#include "protocol/metric_table.h"

#include <string.h>

enum { CALL_CALLER = 0, CALL_CALLEE = 1 };
/* Steps of a call (CallState.st). */
enum {
    CST_LOCATE = 1, /* caller: waiting for LOCATED */
    CST_RELOCATE,   /* caller: a bridge was refused; searching again after a pause */
    CST_INVITE,     /* caller: waiting for ANSWER */
    CST_PUNCH,      /* punching */
    CST_RELAY,      /* binding our relay leg */
    CST_WAIT,       /* path chosen, waiting for the peer's first media packet */
    CST_ACTIVE,     /* media both ways */
};
enum { CALL_END_OK = 0, CALL_END_FAILED, CALL_END_DROPPED, CALL_END_QUIET };

/* One call (env_mem_alloc'd while the node is in a call: ~300 bytes). */
struct CallState {
    uint32_t id;             /* call id */
    uint8_t role;            /* CALL_CALLER / CALL_CALLEE */
    uint8_t st;              /* CST_* */
    uint8_t path;            /* NodeCallPath chosen */
    uint8_t retries;         /* re-establishments used (at most one) */
    uint8_t peer_dnat;       /* peer's detected NatType */
    bool peer_udp;           /* the peer does UDP */
    bool relay_tcp;          /* our relay leg is TCP */
    bool was_active;         /* counted in the active gauges */
    bool relayed_counted;    /* counted in call.relayed_active (the path it connected on) */
    bool pstn;               /* a call to the phone network (caller) or at the gateway */
    bool via_sn;             /* caller: sig_conn goes to the callee's supernode (a bridge) */
    bool sig_up;             /* caller: sig_conn opened (a close now is a refusal, not a port to skip) */
    bool relocated;          /* caller: the callee was searched for again after a refused bridge */
    bool held;               /* we put the call on hold (node_call_hold) */
    bool peer_held;          /* the peer's last packet says it holds the call */
    bool setup_counted;      /* the setup's signalling was observed (call_setup_cost) */
    bool peer_first;         /* the peer's NAT keeps unsolicited state: it punches first */
    bool punch_held;         /* callee: our PUNCHes wait for the caller's first (call_punch_start) */
    uint8_t fail;            /* CALL_FAIL_*: the cause counted if the call ends failed */
    uint8_t sig_pi;          /* direct signalling: port step (own port, 443, 80) */
    int sig_conn;            /* direct signalling connection (a31 PUB, gateway), -1 none */
    uint8_t ncand, ci, pi;   /* relay candidates, the one tried, its port step */
    uint8_t ulen;            /* peer user bytes */
    char peer_user[WIRE_USER_MAX + 1]; /* peer username */
    EnvAddr peer_id;         /* peer identity (FORWARD destination) */
    EnvAddr peer_pub;        /* peer public UDP endpoint (from signalling) */
    EnvAddr peer_sn;         /* peer's supernode */
    EnvAddr media_to;        /* where UDP media goes (peer or relay) */
    EnvAddr relay;           /* relay in use, {0,0} none */
    EnvAddr bad_relay;       /* relay that failed (not tried again) */
    EnvAddr cand[MEDIAPATH_CAND_MAX]; /* relay candidates */
    int relay_conn;          /* TCP relay leg conn index, -1 none */
    uint8_t chal[8];         /* our challenge */
    uint8_t peer_chal[8];    /* peer's challenge */
    uint8_t key[32];         /* session key */
    TimeNs started;          /* node_call / INVITE time */
    TimeNs invited;          /* caller: INVITE sent (the signalling round trip, with ANSWER) */
    uint32_t sig0, sigp0;    /* Node.sig_bytes / sig_pkts at the start, INVITE included */
    TimeNs duration;         /* caller: call length once connected */
    TimeNs last_rx;          /* last media packet from the peer */
    MediaTx *tx;             /* media sender while sending */
    MediaRx *rx;             /* media receiver */
    EnvTimer t_media, t_step, t_punch, t_end, t_watch; /* timers */
};

#define CM(n) call__metrics(n)
#define PAR(n) (&(n)->sh->p)

static void call_end(Node *n, int how);
static void call_relay_next(Node *n);
static void call_on_msg(Node *n, const WireCall *cm, int idx);
static void call_unclaimed(Node *n, int idx, EnvAddr from, const WireMsg *m);

/* Tells the host what happened to the call (env.h, call_report): the host
 * joins it with what only it knows of both ends, the true network
 * situation of their hosts, for the metric
 * "call.matrix.<caller>.<callee|pstn>.<path>". */
static void call_report(Node *n, EnvCallEvent ev, bool failed)
{
    const CallState *c = call__cur(n);
    EnvCallReport r = {.call_id = c->id, .event = (uint8_t)ev, .path = c->path, .pstn = c->pstn,
                       .failed = failed};
    if (failed) /* "call.failed.<cause>": the counter's name tells the host why */
        r.fail_cause = metric_table_name((MetricId)(METRIC_CALL_FAILED_NOT_LOCATED + c->fail)) +
                       sizeof "call.failed." - 1;
    if (ev == ENV_CALL_DIALLED && !c->pstn) {
        r.callee = c->peer_user;
        r.callee_len = c->ulen;
    }
    env_call_report(&n->env, &r);
}

/* ---- Parameters and metrics ---- */

void call__params_default(NodeParams *p)
{
    /* replay by default for now: frames execution costs real CPU per frame
     * (nat_heavy: > 14x the wall time, docs/benchmarks.md). */
    p->media = (MediaConfig){.profile = MEDIA_PROFILE_OPUS, .bitrate_bps = 24000,
                             .frame_ns = 20 * TIMENS_MS, .replay = true};
    p->call_step_timeout_ns = 10 * TIMENS_S;
    p->punch_timeout_ns = 3 * TIMENS_S;
    p->punch_interval_ns = 100 * TIMENS_MS;
    p->relay_bind_timeout_ns = 2 * TIMENS_S;
    p->media_timeout_ns = 5 * TIMENS_S;
    p->relay_call_bytes_per_s = media_relay_cap_default(&p->media); /* a48: see media.c */
    p->relay_max_calls = 16;
    p->relay_candidates = 4;
    p->gateway = env_addr(ENV_IP(212, 72, 49, 140), 12340); /* a18's port; illustrative address */
    p->gateway_max_calls = 256;
    p->direct_signalling = true; /* a31: public caller -> public callee directly */
}

static const char *const call_path_names[NODE_CALL_PATH_COUNT] = {
    "none", "direct", "hole_punched", "udp_relay", "tcp_relay"};

const char *node_call_path_name(NodeCallPath p)
{
    return (unsigned)p < NODE_CALL_PATH_COUNT ? call_path_names[p] : "none";
}

static void call_metrics_intern(CallMetrics *m, const Env *e)
{
    m->attempts = metric_table_intern(e, METRIC_CALL_ATTEMPTS);
    m->success = metric_table_intern(e, METRIC_CALL_SUCCESS);
    m->failure = metric_table_intern(e, METRIC_CALL_FAILURE);
    for (int f = 0; f < CALL_FAIL_COUNT; f++)
        m->failed[f] = metric_table_intern(e, (MetricId)(METRIC_CALL_FAILED_NOT_LOCATED + f));
    m->dropped = metric_table_intern(e, METRIC_CALL_DROPPED);
    m->reestablished = metric_table_intern(e, METRIC_CALL_REESTABLISHED);
    m->holds = metric_table_intern(e, METRIC_CALL_HOLDS);
    m->locate_fallbacks = metric_table_intern(e, METRIC_CALL_LOCATE_FALLBACKS);
    m->sig_fallbacks = metric_table_intern(e, METRIC_CALL_SIGNAL_FALLBACKS);
    m->bridges = metric_table_intern(e, METRIC_CALL_BRIDGES);
    m->bridge_refused = metric_table_intern(e, METRIC_CALL_BRIDGE_REFUSED);
    m->relocations = metric_table_intern(e, METRIC_CALL_RELOCATIONS);
    m->setup_caller_bytes = metric_table_intern(e, METRIC_CALL_SETUP_CALLER_BYTES);
    m->setup_callee_bytes = metric_table_intern(e, METRIC_CALL_SETUP_CALLEE_BYTES);
    m->setup_caller_pkts = metric_table_intern(e, METRIC_CALL_SETUP_CALLER_PACKETS);
    m->setup_callee_pkts = metric_table_intern(e, METRIC_CALL_SETUP_CALLEE_PACKETS);
    m->sig_dup = metric_table_intern(e, METRIC_CALL_SIGNAL_DUPLICATES);
    m->setup_s = metric_table_intern(e, METRIC_CALL_SETUP_S);
    for (int p = 1; p < NODE_CALL_PATH_COUNT; p++) {
        m->path[p] = metric_table_intern_family(e, METRIC_FAM_CALL_PATH, p, 0, 0);
    }
    m->mos = metric_table_intern(e, METRIC_CALL_MOS);
    m->r_factor = metric_table_intern(e, METRIC_CALL_R_FACTOR);
    m->delay_ms = metric_table_intern(e, METRIC_CALL_DELAY_MS);
    m->jitter_ms = metric_table_intern(e, METRIC_CALL_JITTER_MS);
    m->loss = metric_table_intern(e, METRIC_CALL_LOSS);
    m->mouth_to_ear_ms = metric_table_intern(e, METRIC_CALL_MOUTH_TO_EAR_MS);
    m->jitter_buffer_ms = metric_table_intern(e, METRIC_CALL_JITTER_BUFFER_MS);
    m->ie_eff = metric_table_intern(e, METRIC_CALL_IE_EFF);
    m->active = metric_table_intern(e, METRIC_CALL_ACTIVE);
    m->relayed_active = metric_table_intern(e, METRIC_CALL_RELAYED_ACTIVE);
    m->media_packets = metric_table_intern(e, METRIC_CALL_MEDIA_PACKETS);
    m->media_bytes = metric_table_intern(e, METRIC_CALL_MEDIA_BYTES);
    m->relay_bytes = metric_table_intern(e, METRIC_RELAY_BYTES);
    m->relay_bw = metric_table_intern(e, METRIC_RELAY_BANDWIDTH_BPS);
    m->relay_dropped = metric_table_intern(e, METRIC_RELAY_DROPPED);
    m->relay_refused = metric_table_intern(e, METRIC_RELAY_REFUSED);
    m->relay_sessions = metric_table_intern(e, METRIC_RELAY_SESSIONS);
    m->gw_calls = metric_table_intern(e, METRIC_GATEWAY_CALLS);
    m->gw_active = metric_table_intern(e, METRIC_GATEWAY_ACTIVE);
    m->gw_busy = metric_table_intern(e, METRIC_GATEWAY_BUSY);
}

/* ---- Transports ---- */

/* The direct signalling connection of our call with id, when it is open
 * (a31), else -1: messages of that call go there. */
static int call_direct_conn(const Node *n, uint32_t id)
{
    const CallState *c = call__cur(n);
    if (c && c->id == id && c->sig_conn >= 0 && n->conns[c->sig_conn].state != CS_CONNECTING)
        return c->sig_conn;
    return -1;
}

/* Signalling to the peer with identity dst, through the supernodes (a31).
 * A supernode (promoted client) forwards itself. */
static void call_signal(Node *n, EnvAddr dst, const WireCall *cm)
{
    int direct = call_direct_conn(n, cm->call_id);
    if (direct >= 0) { /* direct TCP signalling (a31) */
        mediapath_send_tcp(n, direct, cm);
        return;
    }
    mediapath_signal_call(n, dst, cm);
}

/* The challenge response: the first 8 bytes of SHA-256(challenge || key). */
static void call_response(Node *n, const uint8_t chal[8], const uint8_t key[32], uint8_t out[8])
{
    uint8_t h[32];
    crypto_sha256(n->sh->crypto, &n->env, chal, 8, key, 32, h);
    memcpy(out, h, 8);
}

static bool call_response_ok(Node *n, const uint8_t chal[8], const uint8_t key[32],
                             const uint8_t resp[8])
{
    uint8_t want[8];
    call_response(n, chal, key, want);
    return memcmp(want, resp, 8) == 0;
}

/* ---- Locating the callee ---- */

/* Looks the callee up: in the index (the search feature answers with
 * NODE_EV_LOCATED, call_on_index), or with the LOCATE flood of the
 * supernode links (NodeParams.call_locate_flood; WIRE_CM_LOCATED comes
 * back through the supernodes). */
static bool call_locate(Node *n, const char *user, size_t ulen)
{
    if (PAR(n)->call_locate_flood) return mediapath_locate(n, call__cur(n)->id, user, ulen);
    node__emit(n, NODE_EV_LOCATE, &(NodeEventArg){.idx = -1, .buf = (const uint8_t *)user, .len = ulen});
    return true;
}

/* Tells the own supernode whether we are on the open Internet (a31: calls
 * to an open user may signal directly). */
static void call_nat_note(Node *n)
{
    if (n->sn || n->uplink < 0 || n->conns[n->uplink].state != CS_READY) return;
    WireCall cm = {.kind = WIRE_CM_NAT_NOTE, .call_id = 1, .dnat = n->nat};
    mediapath_send_tcp(n, n->uplink, &cm);
}

/* A call message on connection idx of the supernode tier (a client's or
 * a peer link): locating users, NAT notes, relay legs. */
static void call_sn_on_frame(Node *n, int idx, const WireMsg *m)
{
    if (m->type == WIRE_CALL_MEDIA) {
        relay__on_media_tcp(n, idx, m->u.media.data, m->u.media.len);
        return;
    }
    const WireCall *cm = &m->u.call;
    if (cm->kind == WIRE_CM_LOCATE)
        mediapath_sn_locate(n, idx, cm, call_direct_conn(n, cm->call_id));
    else if (cm->kind == WIRE_CM_RELAY_BIND && idx >= 0)
        relay__on_bind(n, idx, n->conns[idx].peer, cm);
    else if (cm->kind == WIRE_CM_NAT_NOTE && idx >= 0 && n->conns[idx].kind == CONN_SN_CLIENT &&
             n->conns[idx].aux > 0 && n->conns[idx].aux <= n->sn->slots) {
        SnClient *cl = &n->sn->clients[n->conns[idx].aux - 1];
        cl->nat = cm->dnat < NAT_TYPE_COUNT ? cm->dnat : NAT_UNKNOWN;
        node__emit(n, NODE_EV_SN_CLIENT_NAT, &(NodeEventArg){.idx = idx, .slot = (uint16_t)(n->conns[idx].aux - 1),
                                                             .addr = cl->addr});
    }
    else
        node__count(n, NODE_M(n)->malformed_tcp, 1);
}

/* ---- Call state ---- */

static CallState *call_new(Node *n, uint8_t role, uint32_t id)
{
    CallState *c = env_mem_alloc(&n->env, sizeof *c);
    c->id = id;
    c->role = role;
    c->relay_conn = -1;
    c->sig_conn = -1;
    c->pstn = n->role == NODE_ROLE_GATEWAY;
    c->started = env_now(&n->env);
    c->sig0 = n->sig_bytes;
    c->sigp0 = n->sig_pkts;
    if (role == CALL_CALLEE) { /* the INVITE that made us is the setup's too */
        c->sig0 -= n->sig_last_rx;
        c->sigp0--;
    }
    env_random_bytes(&n->env, c->chal, sizeof c->chal);
    node__feat_set(n, NODE_FEAT_CALL, c);
    if (n->role == NODE_ROLE_CLIENT) n->voice = NODE_VOICE_CALL;
    return c;
}

static void call_step_timer(Node *n, TimeNs d)
{
    env_timer_cancel(&n->env, &call__cur(n)->t_step);
    call__cur(n)->t_step = node__timer_start(n, NODE_FEAT_CALL, d, TM_CALL_STEP);
}

static void call_relay_close(Node *n)
{
    CallState *c = call__cur(n);
    if (c->relay_conn >= 0) node__conn_close(n, c->relay_conn, false);
    c->relay_conn = -1;
}

/* Pauses sending while the path changes. The sender stays: its stream
 * (id, sequence numbers) continues on the new path. */
static void call_media_stop(Node *n)
{
    env_timer_cancel(&n->env, &call__cur(n)->t_media);
}

/* The call's voice stream: the world's, or G.729 for the phone network
 * (a38: "G.729 for SkypeOut"; FEC and silence switches as the world's). */
static MediaConfig call_media_cfg(const Node *n, const CallState *c)
{
    MediaConfig m = n->sh->p.media;
    if (c->pstn) {
        m.profile = MEDIA_PROFILE_G729;
        m.bitrate_bps = 8000;
        m.frame_ns = 10 * TIMENS_MS;
    }
    return m;
}

/* Media header bytes: frame id and function (a18), and on phone calls the
 * 4-byte connection ID of E2O flows (a18) by which the gateway demuxes. */
static size_t call_media_hdr(const CallState *c)
{
    return c->pstn ? MEDIAPATH_MEDIA_HDR + 4 : MEDIAPATH_MEDIA_HDR;
}

/* What our packets carry now (a36): voice, or nothing while either end
 * holds the call. */
static MediaHold call_hold_mode(const CallState *c)
{
    return c->held ? MEDIA_ON_HOLD : c->peer_held ? MEDIA_HELD : MEDIA_TALKING;
}

/* Restarts the media timer at the interval of the hold mode (a packet at
 * once, so that the peer learns a change without delay). */
static void call_media_retime(Node *n)
{
    CallState *c = call__cur(n);
    if (!env_timer_is_set(c->t_media)) return;
    env_timer_cancel(&n->env, &c->t_media);
    TimeNs iv = media_tx_interval(c->tx, call_hold_mode(c) != MEDIA_TALKING);
    c->t_media = node__timer_start_periodic(n, NODE_FEAT_CALL, 0, iv, TM_CALL_MEDIA);
}

/* Starts sending media every frame interval over the chosen path. */
static void call_media_start(Node *n)
{
    CallState *c = call__cur(n);
    const NodeShared *sh = n->sh;
    MediaConfig mc = call_media_cfg(n, c);
    if (!c->rx) c->rx = media_rx_new(&n->env, sh->media, &mc, c->key);
    if (env_timer_is_set(c->t_media)) return;
    if (!c->tx) c->tx = media_tx_new(&n->env, sh->media, &mc, c->key);
    TimeNs iv = media_tx_interval(c->tx, call_hold_mode(c) != MEDIA_TALKING);
    c->t_media = node__timer_start_periodic(n, NODE_FEAT_CALL, 0, iv, TM_CALL_MEDIA);
    if (!env_timer_is_set(c->t_watch))
        c->t_watch = node__timer_start_periodic(n, NODE_FEAT_CALL, TIMENS_S, TIMENS_S, TM_CALL_WATCH);
    c->last_rx = env_now(&n->env);
}

static void call_media_send(Node *n)
{
    CallState *c = call__cur(n);
    uint8_t pkt[ENV_UDP_MAX];
    bool tcp = c->relay_conn >= 0;
    size_t hdr = call_media_hdr(c);
    size_t len = media_tx_next(c->tx, &n->env, call_hold_mode(c), pkt + hdr, sizeof pkt - hdr);
    if (len == 0) return;
    wire_put_u16(pkt, (uint16_t)c->id);
    pkt[2] = (uint8_t)(MEDIAPATH_FUNC_MEDIA | (node__random_u32(n) & 0x70)); /* a18: mask 0x8f */
    if (c->pstn) wire_put_u32(pkt + MEDIAPATH_MEDIA_HDR, c->id);
    len += hdr;
    node__count(n, CM(n)->media_packets, 1);
    node__count(n, CM(n)->media_bytes, (int64_t)len);
    if (tcp) {
        mediapath_media_send_tcp(n, c->relay_conn, pkt, len);
    } else {
        (void)env_udp_send(&n->env, n->udp, c->media_to, pkt, len);
    }
}

/* A media packet of our call arrived (UDP or TCP). */
/* The caller's share of call.relayed_active: on while its call runs over a
 * relay. Counted by what was added, so a call that connected on a relay
 * and was re-established directly (or the other way) never drives the
 * gauge below zero. */
static void call_relayed_gauge(Node *n, CallState *c, bool relayed)
{
    if (c->relayed_counted == relayed) return;
    c->relayed_counted = relayed;
    node__count(n, CM(n)->relayed_active, relayed ? 1 : -1);
}

/* The signalling a two-party call's setup cost on this end's link: every
 * message the node sent or received from dialling (caller) or the INVITE
 * (callee) to the first media packet received, locating, bridging and
 * punching included, whatever else the node did meanwhile (keep-alives)
 * too. Once per call. */
static void call_setup_cost(Node *n, CallState *c)
{
    if (c->setup_counted || c->pstn) return;
    c->setup_counted = true;
    bool caller = c->role == CALL_CALLER;
    env_metric_observe(&n->env, caller ? CM(n)->setup_caller_bytes : CM(n)->setup_callee_bytes,
                       (double)(uint32_t)(n->sig_bytes - c->sig0));
    env_metric_observe(&n->env, caller ? CM(n)->setup_caller_pkts : CM(n)->setup_callee_pkts,
                       (double)(uint32_t)(n->sig_pkts - c->sigp0));
}

static void call_media_rx(Node *n, const uint8_t *buf, size_t len)
{
    CallState *c = call__cur(n);
    if (!c || len < call_media_hdr(c) || wire_get_u16(buf) != (uint16_t)c->id || !c->rx) return;
    if (c->pstn && wire_get_u32(buf + MEDIAPATH_MEDIA_HDR) != c->id) return;
    size_t hdr = call_media_hdr(c);
    if (!media_rx_packet(c->rx, &n->env, buf + hdr, len - hdr)) return;
    c->last_rx = env_now(&n->env);
    call_setup_cost(n, c);
    if (media_rx_peer_holds(c->rx) != c->peer_held) { /* the peer put the call on hold, or resumed */
        c->peer_held = !c->peer_held;
        call_media_retime(n);
    }
    if (c->st != CST_WAIT) return;
    c->st = CST_ACTIVE; /* connected: media both ways */
    env_timer_cancel(&n->env, &c->t_step);
    if (c->role != CALL_CALLER) return;
    if (c->was_active) { /* a re-established call, perhaps on another path */
        node__count(n, CM(n)->reestablished, 1);
        call_relayed_gauge(n, c, c->path >= NODE_CALL_PATH_UDP_RELAY);
        return;
    }
    c->was_active = true;
    const CallMetrics *m = CM(n);
    node__count(n, m->success, 1);
    node__count(n, m->path[c->path], 1);
    call_report(n, ENV_CALL_CONNECTED, false); /* the host labels it: "call.matrix.*" */
    node__count(n, m->active, 1);
    call_relayed_gauge(n, c, c->path >= NODE_CALL_PATH_UDP_RELAY);
    env_metric_observe(&n->env, m->setup_s, timens_to_s(c->last_rx - c->started));
    c->t_end = node__timer_start(n, NODE_FEAT_CALL, c->duration, TM_CALL_END);
}

bool call__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    if (len < MEDIAPATH_MEDIA_HDR || (buf[2] & WIRE_FUNC_MASK) != MEDIAPATH_FUNC_MEDIA) return false;
    if (relay__state(n) && relay__on_media_udp(n, from, buf, len)) return true;
    if (!call__cur(n)) return false;
    call_media_rx(n, buf, len);
    return true;
}

/* Observes the quality of the direction we received: one sample per call
 * and direction of the MOS and of every E-model input (network delay,
 * jitter, jitter-buffer and mouth-to-ear delay, loss, Ie,eff). */
static void call_observe(Node *n)
{
    CallState *c = call__cur(n);
    MediaStats s;
    if (!c->rx) return;
    media_rx_stats(c->rx, &s);
    if (s.packets_rx == 0) return;
    const CallMetrics *m = CM(n);
    env_metric_observe(&n->env, m->mos, s.mos);
    env_metric_observe(&n->env, m->r_factor, s.r_factor);
    env_metric_observe(&n->env, m->delay_ms, s.delay_ms);
    env_metric_observe(&n->env, m->jitter_ms, s.jitter_ms);
    env_metric_observe(&n->env, m->loss, s.loss);
    env_metric_observe(&n->env, m->mouth_to_ear_ms, s.mouth_to_ear_ms);
    env_metric_observe(&n->env, m->jitter_buffer_ms, s.jitter_buffer_ms);
    env_metric_observe(&n->env, m->ie_eff, s.ie_eff);
}

/* Ends the call: counts (caller), observes, frees everything. */
static void call_end(Node *n, int how)
{
    CallState *c = call__cur(n);
    const CallMetrics *m = CM(n);
    if (c->role == CALL_CALLER) {
        call_report(n, ENV_CALL_ENDED, how == CALL_END_FAILED);
        if (how == CALL_END_FAILED) {
            node__count(n, m->failure, 1);
            node__count(n, m->failed[c->fail], 1);
        }
        if (how == CALL_END_DROPPED) node__count(n, m->dropped, 1);
        if (c->was_active) node__count(n, m->active, -1);
        call_relayed_gauge(n, c, false);
    }
    call_observe(n);
    EnvTimer *all[] = {&c->t_media, &c->t_step, &c->t_punch, &c->t_end, &c->t_watch};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) env_timer_cancel(&n->env, all[i]);
    call_relay_close(n);
    if (c->sig_conn >= 0) node__conn_close(n, c->sig_conn, false);
    media_tx_free(c->tx, &n->env);
    media_rx_free(c->rx, &n->env);
    memset(c->key, 0, sizeof c->key);
    env_mem_free(&n->env, c, sizeof *c);
    node__feat_set(n, NODE_FEAT_CALL, NULL);
    if (n->voice == NODE_VOICE_CALL) n->voice = NODE_VOICE_NONE;
}

/* Ends the call as failed, for the given cause (CALL_FAIL_*). */
static void call_fail(Node *n, uint8_t why)
{
    call__cur(n)->fail = why;
    call_end(n, CALL_END_FAILED);
}

/* Ends the call and tells the peer (when it knows of the call). */
static void call_bye(Node *n, int how)
{
    CallState *c = call__cur(n);
    if (c->peer_id.ip && c->st != CST_LOCATE && c->st != CST_INVITE) {
        WireCall b = {.kind = WIRE_CM_BYE, .call_id = c->id};
        call_signal(n, c->peer_id, &b);
    }
    call_end(n, how);
}

/* ---- Media path: punching ---- */

static void call_path_chosen(Node *n, uint8_t path)
{
    CallState *c = call__cur(n);
    c->path = path;
    c->st = CST_WAIT;
    env_timer_cancel(&n->env, &c->t_punch);
    call_media_start(n);
    call_step_timer(n, PAR(n)->media_timeout_ns);
}

/* Who punches first. Observation (tests/netns, probes "unsolicited" and
 * "punch", kernel and model agree): a plain Linux MASQUERADE router takes
 * a packet that matches no flow into the router itself and keeps a 30 s
 * conntrack entry for it, which holds the external port for that sender;
 * its host's own PUNCHes to that peer then leave from another port, which
 * a filtering peer drops. So the end whose NAT keeps such state must have
 * sent to the peer before the peer's first PUNCH reaches its router. A
 * client cannot read its NAT's kind; its detection tests for the state
 * (natdet.c, WIRE_CMF_PUNCH_FIRST in INVITE and ANSWER tells the peer).
 *
 * The callee answers and punches at once, so by the time ANSWER reaches
 * the caller the callee's first PUNCH has long left: a callee whose NAT
 * keeps state is first by construction. When only the caller's NAT keeps
 * state, the callee holds its PUNCHes: it answers any PUNCH it hears at
 * once (and then punches to its source), and otherwise starts when the
 * caller's PUNCH_GO arrives, which the caller signals right after its first
 * PUNCH has left; the caller allows its punch_timeout from then plus the
 * INVITE/ANSWER round trip the callee's later start costs. When both NATs
 * keep state, neither order helps (the first PUNCH to arrive moves the
 * other end's flow): the callee goes first as before, and a relay carries
 * the call. */
static bool call_punch_waits_for_peer(const Node *n, const CallState *c)
{
    return c->peer_first && !n->nat_keeps_state;
}

static void call_punch_timer(Node *n, TimeNs delay)
{
    CallState *c = call__cur(n);
    env_timer_cancel(&n->env, &c->t_punch);
    c->t_punch =
        node__timer_start_periodic(n, NODE_FEAT_CALL, delay, PAR(n)->punch_interval_ns, TM_CALL_PUNCH);
}

static void call_punch_send(Node *n)
{
    CallState *c = call__cur(n);
    WireCall p = {.kind = WIRE_CM_PUNCH, .call_id = c->id};
    mediapath_send_udp(n, c->media_to, &p); /* the peer's endpoint, as last seen */
}

static void call_punch_start(Node *n)
{
    CallState *c = call__cur(n);
    c->st = CST_PUNCH;
    c->media_to = c->peer_pub;
    if (c->role == CALL_CALLEE && call_punch_waits_for_peer(n, c)) {
        c->punch_held = true; /* until the caller's PUNCH or PUNCH_GO */
        return;
    }
    if (c->role == CALL_CALLER && n->nat_keeps_state && !c->peer_first) {
        call_punch_send(n); /* first, then tell the holding callee */
        WireCall go = {.kind = WIRE_CM_PUNCH_GO, .call_id = c->id};
        call_signal(n, c->peer_id, &go);
        call_punch_timer(n, PAR(n)->punch_interval_ns);
        call_step_timer(n, PAR(n)->punch_timeout_ns + (env_now(&n->env) - c->invited));
        return;
    }
    call_punch_timer(n, 0);
    if (c->role == CALL_CALLER) call_step_timer(n, PAR(n)->punch_timeout_ns);
}

/* Callee: the hold is over (the caller's PUNCH or PUNCH_GO came). */
static void call_punch_release(Node *n)
{
    CallState *c = call__cur(n);
    if (!c->punch_held || c->st != CST_PUNCH) return;
    c->punch_held = false;
    call_punch_timer(n, 0);
}

static void call_on_punch(Node *n, EnvAddr from, const WireCall *cm)
{
    CallState *c = call__cur(n);
    if (cm->kind == WIRE_CM_PUNCH) {
        WireCall a = {.kind = WIRE_CM_PUNCH_ACK, .call_id = c->id};
        mediapath_send_udp(n, from, &a);
    }
    if (c->relay.ip) return; /* already relayed: punching came too late */
    c->media_to = from;      /* the peer's endpoint as its NAT maps it toward us */
    call_punch_release(n);
    if (c->role != CALL_CALLER || c->st != CST_PUNCH || cm->kind != WIRE_CM_PUNCH_ACK) return;
    bool open = n->nat == NAT_OPEN && c->peer_dnat == NAT_OPEN;
    WireCall p = {.kind = WIRE_CM_PATH, .call_id = c->id, .flags = WIRE_CMF_UDP_OK};
    p.path = open ? NODE_CALL_PATH_DIRECT : NODE_CALL_PATH_HOLE_PUNCHED;
    call_response(n, c->peer_chal, c->key, p.resp);
    call_signal(n, c->peer_id, &p);
    call_path_chosen(n, p.path);
}

/* ---- Media path: relays ---- */

/* Candidates: host-cache supernodes other than both ends' own supernodes
 * and a relay that failed; then our supernode, then the peer's. */
static void call_relay_candidates(Node *n)
{
    CallState *c = call__cur(n);
    c->ncand = (uint8_t)mediapath_relay_candidates(n, c->peer_sn, c->bad_relay, c->cand,
                                                   MEDIAPATH_CAND_MAX);
    c->ci = 0;
    c->pi = 0;
}

/* Binds our leg at relay r: UDP when we can, else TCP (r's port, then the
 * fallback ports 443 and 80, a11). False when no connection can start. */
static bool call_relay_bind(Node *n, EnvAddr r)
{
    CallState *c = call__cur(n);
    call_relay_close(n);
    c->relay = r;
    c->relay_tcp = !mediapath_udp_ok(n);
    if (!c->relay_tcp) {
        c->media_to = r;
        mediapath_relay_bind_send(n, -1, r, c->id, c->role);
        return true;
    }
    c->relay_conn = mediapath_relay_connect(n, r, &c->pi, CONN_CALL_RELAY);
    return c->relay_conn >= 0;
}

/* Caller: tries the next relay candidate, or gives up. */
static void call_relay_next(Node *n)
{
    CallState *c = call__cur(n);
    c->st = CST_RELAY;
    while (c->ci < c->ncand) {
        EnvAddr r = c->cand[c->ci];
        if (call_relay_bind(n, r)) {
            call_step_timer(n, PAR(n)->relay_bind_timeout_ns);
            return;
        }
        c->ci++;
        c->pi = 0;
    }
    c->fail = CALL_FAIL_NO_PATH;
    call_bye(n, c->was_active ? CALL_END_DROPPED : CALL_END_FAILED);
}

static void call_relay_start(Node *n)
{
    CallState *c = call__cur(n);
    env_timer_cancel(&n->env, &c->t_punch);
    call_media_stop(n);
    call_relay_candidates(n);
    call_relay_next(n);
}

/* Our leg is bound at the relay. */
static void call_on_bound(Node *n)
{
    CallState *c = call__cur(n);
    if (c->st != CST_RELAY && c->role == CALL_CALLER) return;
    bool tcp = c->relay_tcp || !c->peer_udp;
    uint8_t path = tcp ? NODE_CALL_PATH_TCP_RELAY : NODE_CALL_PATH_UDP_RELAY;
    if (c->role == CALL_CALLER) {
        WireCall r = {.kind = WIRE_CM_RELAY, .call_id = c->id, .a1 = c->relay};
        call_response(n, c->peer_chal, c->key, r.resp);
        call_signal(n, c->peer_id, &r);
    }
    call_path_chosen(n, path);
}

/* The relay refused (full) or did not answer: the next candidate. */
static void call_relay_failed(Node *n)
{
    CallState *c = call__cur(n);
    call_relay_close(n);
    c->relay = env_addr(0, 0);
    if (c->role != CALL_CALLER) return;
    c->ci++;
    c->pi = 0;
    call_relay_next(n);
}

/* ---- Signalling ---- */

static void call_fill_endpoints(Node *n, WireCall *cm)
{
    cm->from_id = mediapath_self_id(n);
    cm->a1 = n->public_addr;
    cm->a2 = n->sn ? mediapath_self_id(n) : n->uplink_addr;
    cm->flags = (uint8_t)((mediapath_udp_ok(n) ? WIRE_CMF_UDP_OK : 0) |
                          (n->nat_keeps_state ? WIRE_CMF_PUNCH_FIRST : 0));
    cm->dnat = n->nat;
}

/* Caller: sends INVITE (over the direct connection when there is one,
 * else through the supernodes) and waits for ANSWER. */
static void call_invite(Node *n)
{
    CallState *c = call__cur(n);
    c->st = CST_INVITE;
    WireCall inv = {.kind = WIRE_CM_INVITE, .call_id = c->id, .ttl = 0};
    call_fill_endpoints(n, &inv);
    inv.ulen = n->ulen;
    memcpy(inv.user, n->user, n->ulen);
    memcpy(inv.chal, c->chal, 8);
    memcpy(inv.key, c->key, 32);
    call_signal(n, c->peer_id, &inv);
    c->invited = env_now(&n->env);
    call_step_timer(n, PAR(n)->call_step_timeout_ns);
}

/* ---- Direct signalling connection (a31 "PUB: caller -> callee
 * directly"; the phone gateway) ---- */

/* Opens the direct signalling connection to `to`: its port, then (phone
 * calls and supernode bridges: gateways and supernodes listen there too)
 * the fallback ports 443 and 80 (a11). Guarded by tcp_timeout per attempt.
 * False when none can start. */
static bool call_sig_open(Node *n, EnvAddr to)
{
    CallState *c = call__cur(n);
    uint8_t steps = c->pstn || c->via_sn ? 3 : 1;
    for (; c->sig_pi < steps; c->sig_pi++) {
        EnvAddr a = to;
        if (c->sig_pi > 0) a.port = PAR(n)->fallback_ports[c->sig_pi - 1];
        if (a.port == 0 || (c->sig_pi > 0 && a.port == to.port)) continue;
        c->sig_conn = node__connect(n, a, CONN_CALL_SIG, PH_NONE);
        if (c->sig_conn >= 0) {
            call_step_timer(n, PAR(n)->tcp_timeout_ns);
            return true;
        }
    }
    return false;
}

/* Pause before searching again for a callee whose supernode refused the
 * bridge: the refusal means the callee left that supernode, and a client
 * that lost its supernode is attached again (and its record published
 * again) within about a second in the shipped scenarios (failover mean
 * 0.6 s, docs/overlay.md); three seconds cover most failovers. */
#define CALL_RELOCATE_DELAY_NS (3 * TIMENS_S)

/* The direct connection failed (refused, timed out, closed before ANSWER):
 * the next port to the gateway or supernode when the connection did not
 * open; for a bridge the callee's supernode refused (it opened, then
 * closed: the callee is no longer attached there), one fresh search after
 * CALL_RELOCATE_DELAY_NS (call.relocations); for an open callee whose
 * port did not take the call, its supernode's bridge; else for a buddy
 * the supernode path (the FORWARD flood: counted as
 * call.signal_fallbacks). */
static void call_sig_failed(Node *n)
{
    CallState *c = call__cur(n);
    if (c->sig_conn >= 0) node__conn_close(n, c->sig_conn, true);
    c->sig_conn = -1;
    c->sig_pi++;
    bool refused = c->via_sn && c->sig_up;
    c->sig_up = false;
    if (refused && !c->relocated) {
        c->relocated = true;
        c->via_sn = false;
        c->sig_pi = 0;
        c->st = CST_RELOCATE;
        node__count(n, CM(n)->relocations, 1);
        call_step_timer(n, CALL_RELOCATE_DELAY_NS);
        return;
    }
    if (c->via_sn && !refused && c->sig_pi < 3 && call_sig_open(n, c->peer_sn)) return;
    if (!c->via_sn && !c->pstn && !c->relocated && c->peer_sn.ip &&
        !env_addr_eq(c->peer_sn, c->peer_id)) {
        /* The callee said it was open, but its port did not take the call
         * (a firewall the detection missed, or it moved): its supernode. */
        c->via_sn = true;
        c->sig_pi = 0;
        if (call_sig_open(n, c->peer_sn)) return;
    }
    c->via_sn = false;
    if (!c->pstn) {
        node__count(n, CM(n)->sig_fallbacks, 1);
        call_invite(n);
        return;
    }
    if (!call_sig_open(n, c->peer_id)) call_fail(n, CALL_FAIL_SIGNALLING);
}

static void call_sig_connected(Node *n, int idx, int status)
{
    if (status != ENV_OK) {
        call_sig_failed(n);
        return;
    }
    node__conn_hello(n, idx, HELLO_CALL);
    CallState *c = call__cur(n);
    c->sig_up = true;
    if (c->via_sn) { /* first: whom the supernode should bridge us to */
        WireCall r = {.kind = WIRE_CM_LOCATE, .call_id = c->id, .from_id = mediapath_self_id(n)};
        r.ulen = c->ulen;
        memcpy(r.user, c->peer_user, c->ulen);
        mediapath_send_tcp(n, idx, &r);
    }
    call_invite(n);
}

/* The index answered (NODE_EV_LOCATED). An online callee is called over
 * TCP (a31): straight to it when it is on the open Internet, else through
 * its supernode, which bridges the connection to its client; when neither
 * connection opens, through the supernodes. A callee the index does not
 * know online is looked for with the LOCATE flood as a last resort
 * (call.locate_fallbacks). */
static void call_on_index(Node *n, const NodeEventArg *a)
{
    CallState *c = call__cur(n);
    if (!c || c->st != CST_LOCATE || c->pstn || a->len != c->ulen ||
        memcmp(a->buf, c->peer_user, c->ulen) != 0)
        return;
    const WireSearch *r = a->msg ? &a->msg->u.search : NULL;
    if (!r || !(r->flags & WIRE_SF_FOUND) || !(r->flags & WIRE_SF_ONLINE) || !r->client.ip) {
        node__count(n, CM(n)->locate_fallbacks, 1);
        if (!mediapath_locate(n, c->id, c->peer_user, c->ulen)) call_fail(n, CALL_FAIL_NOT_LOCATED);
        return;
    }
    c->peer_id = env_addr(r->client.ip, r->client.port);
    c->peer_sn = env_addr(r->sn.ip, r->sn.port);
    bool open = r->nat == NAT_OPEN || env_addr_eq(c->peer_id, c->peer_sn);
    c->st = CST_INVITE;
    c->via_sn = !(open && PAR(n)->direct_signalling) && c->peer_sn.ip != 0;
    if ((c->via_sn || open) && call_sig_open(n, c->via_sn ? c->peer_sn : c->peer_id)) return;
    c->via_sn = false;
    node__count(n, CM(n)->sig_fallbacks, 1);
    call_invite(n);
}

/* Supernode: the live signalling bridge on connection idx (-1: a free
 * slot; a bridge whose connection is gone is free). */
static int call_bridge_of_conn(Node *n, int idx)
{
    SnState *s = n->sn;
    for (int i = 0; s && i < SN_BRIDGE_MAX; i++) {
        SnBridge *b = &s->bridge[i];
        bool live = b->conn >= 0 && node__conn_find(n, b->h) == b->conn;
        if (idx < 0 ? !live : live && b->conn == idx) return i;
    }
    return -1;
}

/* Supernode side of a signalling bridge (a31 "NAT: via an online public
 * node"): on a caller's connection, LOCATE names our client to bridge to
 * (no such client, or no free bridge: the connection is closed and the
 * caller falls back); later call messages go to the client as FORWARD,
 * and the client's answers come back through supernode_forward. False
 * when the frame is not the bridge's (a call to this node itself). */
static bool call_bridge_frame(Node *n, int idx, const WireMsg *m)
{
    SnState *s = n->sn;
    if (!s || m->type != WIRE_CALL) return false;
    const WireCall *cm = &m->u.call;
    int b = call_bridge_of_conn(n, idx);
    if (b < 0) {
        if (cm->kind != WIRE_CM_LOCATE) return false;
        if (n->ulen == cm->ulen && memcmp(n->user, cm->user, cm->ulen) == 0) return true; /* us */
        uint32_t h = wire_user_hash(cm->user, cm->ulen);
        int slot = -1;
        for (uint16_t i = 0; i < s->slots && slot < 0; i++)
            if (s->clients[i].conn >= 0 && s->clients[i].user_hash == h) slot = i;
        b = call_bridge_of_conn(n, -1);
        if (slot < 0 || b < 0) {
            node__count(n, CM(n)->bridge_refused, 1);
            node__conn_close(n, idx, false);
            return true;
        }
        s->bridge[b] = (SnBridge){idx, n->conns[idx].h, cm->from_id, s->clients[slot].addr};
        node__count(n, CM(n)->bridges, 1);
        return true;
    }
    SnBridge *br = &s->bridge[b];
    for (uint16_t i = 0; i < s->slots; i++) {
        if (s->clients[i].conn < 0 || !env_addr_eq(s->clients[i].addr, br->client)) continue;
        uint8_t buf[WIRE_CALL_MAX];
        size_t len = wire_call_encode(cm, buf, sizeof buf);
        WireMsg f = {.type = WIRE_FORWARD,
                     .u.forward = {{br->client.ip, br->client.port}, 0, (uint16_t)len, buf}};
        node__send_msg(n, s->clients[i].conn, &f);
        node__count(n, NODE_M(n)->sn_forwarded, 1);
        return true;
    }
    br->conn = -1; /* the client has left: so does the bridge */
    node__conn_close(n, idx, false);
    return true;
}

/* A frame on a direct signalling connection: INVITE opens a call on it,
 * the rest belongs to the call bound to it; at a supernode, a bridge's. */
static void call_sig_frame(Node *n, int idx, const WireMsg *m)
{
    if (call_bridge_frame(n, idx, m)) return;
    if (m->type != WIRE_CALL) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        return;
    }
    if (m->u.call.kind != WIRE_CM_INVITE && (!call__cur(n) || call__cur(n)->sig_conn != idx))
        return; /* stale */
    call_on_msg(n, &m->u.call, idx);
}

static void call_on_located(Node *n, const WireCall *cm)
{
    CallState *c = call__cur(n);
    if (c->st != CST_LOCATE || c->ulen != cm->ulen || memcmp(c->peer_user, cm->user, c->ulen))
        return;
    c->peer_id = cm->a1;
    /* Both ends on the open Internet: TCP straight to the callee (a31). */
    if (PAR(n)->direct_signalling && n->nat == NAT_OPEN && cm->a2.ip != 0) {
        c->st = CST_INVITE;
        if (call_sig_open(n, cm->a2)) return;
    }
    call_invite(n);
}

static void call_peer_from(CallState *c, const WireCall *cm)
{
    c->peer_id = cm->from_id;
    c->peer_pub = cm->a1;
    c->peer_sn = cm->a2;
    c->peer_udp = (cm->flags & WIRE_CMF_UDP_OK) != 0;
    c->peer_first = (cm->flags & WIRE_CMF_PUNCH_FIRST) != 0;
    c->peer_dnat = cm->dnat;
}

/* Callee: a call comes in (idx: the direct signalling connection it came
 * on, or -1). Answers (or BUSY) and starts punching; a gateway does not
 * punch (it is public: the caller's packets open the caller's NAT). */
static void call_on_invite(Node *n, const WireCall *cm, int idx)
{
    if (call__cur(n) || n->voice != NODE_VOICE_NONE) {
        if (call__cur(n) && call__cur(n)->id == cm->call_id) { /* a copy delivered twice */
            node__count(n, CM(n)->sig_dup, 1);
            return;
        }
        WireCall b = {.kind = WIRE_CM_BUSY, .call_id = cm->call_id};
        if (idx >= 0)
            mediapath_send_tcp(n, idx, &b);
        else
            call_signal(n, cm->from_id, &b);
        return;
    }
    CallState *c = call_new(n, CALL_CALLEE, cm->call_id);
    c->sig_conn = idx;
    call_peer_from(c, cm);
    memcpy(c->key, cm->key, 32);
    memcpy(c->peer_chal, cm->chal, 8);
    c->ulen = cm->ulen;
    memcpy(c->peer_user, cm->user, cm->ulen);
    WireCall a = {.kind = WIRE_CM_ANSWER, .call_id = c->id};
    call_fill_endpoints(n, &a);
    memcpy(a.chal, c->chal, 8);
    call_response(n, c->peer_chal, c->key, a.resp);
    call_signal(n, c->peer_id, &a);
    call_report(n, ENV_CALL_ANSWERED, false);
    c->st = CST_WAIT;
    if (c->peer_udp && mediapath_udp_ok(n) && !c->pstn) call_punch_start(n);
    c->t_watch = node__timer_start_periodic(n, NODE_FEAT_CALL, TIMENS_S, TIMENS_S, TM_CALL_WATCH);
    c->last_rx = env_now(&n->env);
}

static void call_on_answer(Node *n, const WireCall *cm)
{
    CallState *c = call__cur(n);
    if (c->st != CST_INVITE) { /* one ANSWER a call: another is a copy */
        node__count(n, CM(n)->sig_dup, 1);
        return;
    }
    if (!call_response_ok(n, c->chal, c->key, cm->resp)) {
        c->fail = CALL_FAIL_REFUSED;
        call_bye(n, CALL_END_FAILED); /* a17: the callee failed our challenge */
        return;
    }
    call_peer_from(c, cm);
    memcpy(c->peer_chal, cm->chal, 8);
    if (c->peer_udp && mediapath_udp_ok(n))
        call_punch_start(n);
    else
        call_relay_start(n);
}

/* Callee: the caller says which path; checks its response to our challenge. */
static void call_on_path(Node *n, const WireCall *cm)
{
    CallState *c = call__cur(n);
    if (c->role != CALL_CALLEE || !call_response_ok(n, c->chal, c->key, cm->resp)) return;
    if (cm->kind == WIRE_CM_PATH) {
        c->path = cm->path;
        env_timer_cancel(&n->env, &c->t_punch);
        call_media_start(n);
        return;
    }
    if (env_addr_eq(c->relay, cm->a1)) { /* a copy delivered twice */
        node__count(n, CM(n)->sig_dup, 1);
        return;
    }
    call_media_stop(n); /* WIRE_CM_RELAY: (re)bind our leg there */
    env_timer_cancel(&n->env, &c->t_punch);
    c->st = CST_RELAY;
    c->pi = 0;
    if (!call_relay_bind(n, cm->a1)) c->relay = env_addr(0, 0);
}

/* A signalling payload addressed to this node (NODE_EV_SIGNAL):
 * conference payloads (kinds from WIRE_CF_FIRST on) are the conference
 * feature's; a LOCATED that is not our call's goes on unclaimed. */
static void call_on_signal(Node *n, const uint8_t *buf, size_t len)
{
    WireCall cm;
    if (len > 0 && buf[0] >= WIRE_CF_FIRST) return;
    if (!wire_call_decode(buf, len, &cm)) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        return;
    }
    if (cm.kind == WIRE_CM_LOCATED && (!call__cur(n) || call__cur(n)->id != cm.call_id)) {
        WireMsg m = {.type = WIRE_CALL, .u.call = cm};
        call_unclaimed(n, -1, env_addr(0, 0), &m);
        return;
    }
    call_on_msg(n, &cm, -1);
}

static void call_on_msg(Node *n, const WireCall *cm, int idx)
{
    if (cm->kind == WIRE_CM_INVITE) {
        call_on_invite(n, cm, idx);
        return;
    }
    CallState *c = call__cur(n);
    if (!c || c->id != cm->call_id) return; /* stale: an ended call */
    switch (cm->kind) {
    case WIRE_CM_LOCATED: call_on_located(n, cm); break;
    case WIRE_CM_ANSWER: call_on_answer(n, cm); break;
    case WIRE_CM_BUSY:
        if (c->st == CST_INVITE) call_fail(n, CALL_FAIL_BUSY);
        break;
    case WIRE_CM_PATH:
    case WIRE_CM_RELAY: call_on_path(n, cm); break;
    case WIRE_CM_PUNCH_GO:
        if (c->role == CALL_CALLEE) call_punch_release(n);
        break;
    case WIRE_CM_BYE:
        c->fail = c->st == CST_INVITE ? CALL_FAIL_REFUSED : CALL_FAIL_NO_PATH;
        call_end(n, c->was_active || c->role == CALL_CALLEE ? CALL_END_OK : CALL_END_FAILED);
        break;
    default: node__count(n, NODE_M(n)->malformed_tcp, 1);
    }
}

/* UDP call messages: punching (at the ends), binding (at relays). */
void call__on_udp(Node *n, EnvAddr from, const WireMsg *m)
{
    const WireCall *cm = &m->u.call;
    if (cm->kind == WIRE_CM_RELAY_BIND) {
        if (n->sn) relay__on_bind(n, -1, from, cm);
        return;
    }
    CallState *c = call__cur(n);
    if (!c || c->id != cm->call_id) {
        call_unclaimed(n, -1, from, m); /* e.g. a conference leg's relay answering */
        return;
    }
    if (cm->kind == WIRE_CM_PUNCH || cm->kind == WIRE_CM_PUNCH_ACK)
        call_on_punch(n, from, cm);
    else if (cm->kind == WIRE_CM_RELAY_BOUND && env_addr_eq(from, c->relay) && !c->relay_tcp)
        call_on_bound(n);
    else if (cm->kind == WIRE_CM_RELAY_REFUSED && env_addr_eq(from, c->relay))
        call_relay_failed(n);
}

/* ---- TCP relay leg (client side) ---- */

void call__on_connected(Node *n, int idx, int status)
{
    CallState *c = call__cur(n);
    if (c && idx == c->sig_conn) {
        call_sig_connected(n, idx, status);
        return;
    }
    if (!c || idx != c->relay_conn) {
        node__conn_close(n, idx, true);
        return;
    }
    if (status != ENV_OK) {
        node__conn_close(n, idx, true);
        c->relay_conn = -1;
        c->pi++;
        if (call_relay_bind(n, c->relay)) return;
        call_relay_failed(n);
        return;
    }
    node__conn_hello(n, idx, HELLO_CLIENT);
    mediapath_relay_bind_send(n, idx, c->relay, c->id, c->role);
}

void call__on_frame(Node *n, int idx, const WireMsg *m)
{
    if (n->conns[idx].kind == CONN_CALL_SIG) {
        call_sig_frame(n, idx, m);
        return;
    }
    CallState *c = call__cur(n);
    if (!c || idx != c->relay_conn) return;
    if (m->type == WIRE_CALL_MEDIA) { /* the relay connection stands for the frame id */
        uint8_t pkt[ENV_UDP_MAX];
        size_t len = mediapath_media_from_tcp((uint16_t)c->id, m->u.media.data, m->u.media.len,
                                              pkt, sizeof pkt);
        if (len) call_media_rx(n, pkt, len);
        return;
    }
    if (m->type != WIRE_CALL || m->u.call.call_id != c->id) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        return;
    }
    if (m->u.call.kind == WIRE_CM_RELAY_BOUND)
        call_on_bound(n);
    else if (m->u.call.kind == WIRE_CM_RELAY_REFUSED)
        call_relay_failed(n);
}

void call__on_closed(Node *n, int idx)
{
    for (int i = 0; n->sn && i < SN_BRIDGE_MAX; i++)
        if (n->sn->bridge[i].conn == idx) n->sn->bridge[i].conn = -1;
    CallState *c = call__cur(n);
    if (c && idx == c->relay_conn) c->relay_conn = -1; /* the watchdog notices the silence */
    if (!c || idx != c->sig_conn) return;
    /* The direct signalling connection closed without BYE. Before ANSWER:
     * the next way to signal; a phone call ends with it (a31: teardown
     * over TCP); a buddy call goes on, signalling through the supernodes. */
    c->sig_conn = -1;
    if (c->role == CALL_CALLER && c->st == CST_INVITE) {
        call_sig_failed(n); /* node.c has released the slot already */
    } else if (c->pstn) {
        c->fail = CALL_FAIL_NO_PATH; /* the gateway hung up before media */
        call_end(n, c->role == CALL_CALLEE ? CALL_END_QUIET
                    : c->was_active        ? CALL_END_DROPPED
                                           : CALL_END_FAILED);
    }
}

bool call__has_timer(const CallState *c, EnvTimer t)
{
    const EnvTimer all[] = {c->t_media, c->t_step, c->t_punch, c->t_end, c->t_watch};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        if (env_timer_is_set(all[i]) && all[i].slot == t.slot && all[i].gen == t.gen) return true;
    return false;
}

uint32_t call__id(const CallState *c)
{
    return c->id;
}

int call__sig_conn(const CallState *c)
{
    return c->sig_conn;
}

/* ---- Timers ---- */

/* No media from the peer for media_timeout: the caller re-establishes
 * once through another relay, else drops; the callee waits three times as
 * long for the caller's RELAY, then ends quietly. */
static void call_watch(Node *n)
{
    CallState *c = call__cur(n);
    TimeNs quiet = env_now(&n->env) - c->last_rx;
    if (c->st != CST_ACTIVE && c->role == CALL_CALLER) return;
    if (c->role == CALL_CALLEE) {
        if (quiet > 3 * PAR(n)->media_timeout_ns) call_end(n, CALL_END_QUIET);
        return;
    }
    if (quiet <= PAR(n)->media_timeout_ns) return;
    if (c->retries > 0) {
        call_bye(n, CALL_END_DROPPED);
        return;
    }
    c->retries++;
    if (c->relay.ip) c->bad_relay = c->relay;
    c->relay = env_addr(0, 0);
    c->st = CST_RELAY;
    call_relay_start(n);
}

/* The current step took too long. */
static void call_step_expired(Node *n)
{
    CallState *c = call__cur(n);
    switch (c->st) {
    case CST_INVITE:
        if (c->sig_conn >= 0 && n->conns[c->sig_conn].state == CS_CONNECTING) {
            call_sig_failed(n); /* the connect guard (tcp_timeout) */
            break;
        }
        call_fail(n, CALL_FAIL_NO_ANSWER);
        break;
    case CST_LOCATE: call_fail(n, CALL_FAIL_NOT_LOCATED); break;
    case CST_RELOCATE:
        c->st = CST_LOCATE;
        call_step_timer(n, PAR(n)->call_step_timeout_ns);
        if (!call_locate(n, c->peer_user, c->ulen)) call_fail(n, CALL_FAIL_NOT_LOCATED);
        break;
    case CST_PUNCH: call_relay_start(n); break;
    case CST_RELAY: call_relay_failed(n); break;
    case CST_WAIT: /* the path is chosen but no media comes: one more relay */
        if (c->retries > 0) {
            c->fail = CALL_FAIL_NO_PATH;
            call_bye(n, c->was_active ? CALL_END_DROPPED : CALL_END_FAILED);
            break;
        }
        c->retries++;
        if (c->relay.ip) c->bad_relay = c->relay;
        call_relay_start(n);
        break;
    default: break;
    }
}

void call__on_timer(Node *n, uint32_t tag)
{
    if (tag == TM_RELAY_SWEEP) {
        relay__on_timer(n);
        return;
    }
    CallState *c = call__cur(n);
    if (!c) return;
    switch (tag) {
    case TM_CALL_MEDIA:
        if (c->tx) call_media_send(n);
        break;
    case TM_CALL_PUNCH: call_punch_send(n); break;
    case TM_CALL_STEP:
        c->t_step = ENV_TIMER_NONE;
        call_step_expired(n);
        break;
    case TM_CALL_END:
        c->t_end = ENV_TIMER_NONE;
        call_bye(n, CALL_END_OK);
        break;
    case TM_CALL_WATCH: call_watch(n); break;
    default: CHECK(false, "call timer tag %u", tag);
    }
}

void call__stop(Node *n)
{
    if (call__cur(n)) call_end(n, CALL_END_QUIET);
}

/* ---- The feature ---- */

/* What no call of this node claims goes to whichever feature wants it
 * (conferences: their legs' relays). */
static void call_unclaimed(Node *n, int idx, EnvAddr from, const WireMsg *m)
{
    node__emit(n, NODE_EV_CALL_UNCLAIMED, &(NodeEventArg){.idx = idx, .addr = from, .msg = m});
}

static bool call_shared_init(NodeShared *sh, const Env *world_env, GError **err)
{
    (void)err;
    CallShared *cs = g_new0(CallShared, 1); /* not per node: one per world */
    call_metrics_intern(&cs->m, world_env);
    sh->feat_data[NODE_FEAT_CALL] = cs;
    return true;
}

static void call_shared_fini(NodeShared *sh)
{
    g_free(sh->feat_data[NODE_FEAT_CALL]);
    sh->feat_data[NODE_FEAT_CALL] = NULL;
}

static void call_start(Node *n)
{
    if (n->role == NODE_ROLE_GATEWAY) gateway__start(n);
}

/* The gateway's calls, then our own call, then the relay sessions. */
static void call_stop(Node *n, bool graceful)
{
    (void)graceful;
    if (gateway__state(n)) gateway__stop(n);
    call__stop(n);
    if (relay__state(n)) relay__stop(n);
}

static void call_feat_timer(Node *n, EnvTimer t, uint32_t kind)
{
    if (gateway__state(n))
        gateway__on_timer(n, t, kind); /* every timer of a gateway is one of its calls' */
    else
        call__on_timer(n, kind);
}

/* Voice before any decoding: a gateway's calls by connection ID, then
 * relay sessions and our call. */
static bool call_raw_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    if (gateway__state(n) && gateway__on_media_udp(n, from, buf, len)) return true;
    return call__on_media_udp(n, from, buf, len);
}

static void call_feat_udp(Node *n, EnvSock s, EnvAddr from, uint16_t frame_id, const WireMsg *m,
                          size_t len)
{
    (void)s;
    (void)frame_id;
    (void)len;
    if (gateway__state(n))
        gateway__on_call_udp(n, from, m);
    else
        call__on_udp(n, from, m);
}

/* An online client takes direct call signalling (a31), a gateway its
 * calls; a supernode leaves accepting to the supernode tier. */
static bool call_on_accept(Node *n, EnvAddr peer, NodeAccept *out)
{
    (void)peer;
    if (n->sn || (n->role != NODE_ROLE_GATEWAY && n->state != NODE_ST_ONLINE)) return false;
    *out = (NodeAccept){.kind = CONN_CALL_SIG, .hello_role = HELLO_CALL, .aux = 1};
    return true;
}

/* A pending connection whose peer says HELLO_CALL is a call to this node
 * (a supernode: a promoted client); a connection we accepted for calls
 * (aux 1) must say so, or it is closed. */
static bool call_on_hello(Node *n, int idx)
{
    NodeConn *c = node__conn(n, idx);
    if (c->kind == CONN_IN_PENDING) {
        if (c->peer_role != HELLO_CALL) return false;
        c->kind = CONN_CALL_SIG;
        return true;
    }
    if (c->kind == CONN_CALL_SIG && c->aux && c->peer_role != HELLO_CALL)
        node__conn_close(n, idx, true); /* not a call: a client serves nothing else */
    return true;
}

/* Call frames on any connection: the supernode tier's (locating, relay
 * legs), our relay legs and signalling connections; the rest unclaimed. */
static void call_feat_frame(Node *n, int idx, const WireMsg *m)
{
    uint8_t kind = node__conn(n, idx)->kind;
    if (kind == CONN_SN_CLIENT || kind == CONN_SN_PEER)
        call_sn_on_frame(n, idx, m);
    else if (kind == CONN_CALL_SIG && gateway__state(n))
        gateway__on_frame(n, idx, m);
    else if (kind == CONN_CALL_SIG || kind == CONN_CALL_RELAY)
        call__on_frame(n, idx, m);
    else
        call_unclaimed(n, idx, n->conns[idx].peer, m);
}

static void call_feat_closed(Node *n, int idx, int status)
{
    (void)status;
    if (gateway__state(n))
        gateway__on_closed(n, idx);
    else
        call__on_closed(n, idx);
}

static void call_on_event(Node *n, NodeEvent ev, const NodeEventArg *a)
{
    if (ev == NODE_EV_SIGNAL) call_on_signal(n, a->buf, a->len);
    if (ev == NODE_EV_LOCATED) call_on_index(n, a);
    if (ev == NODE_EV_NAT_DETECTED && n->nat != a->was)
        call_nat_note(n); /* the index records it; a31: open users are called directly */
    if (ev == NODE_EV_SN_CONN_CLOSED) relay__on_closed(n, a->idx);
}

static const uint8_t call_types[] = {WIRE_CALL_UDP};
static const uint8_t call_frame_types[] = {WIRE_CALL, WIRE_CALL_MEDIA};
static const NodeConnKind call_kinds[] = {{.kind = CONN_CALL_RELAY, .flags = 0},
                                          {.kind = CONN_CALL_SIG, .flags = 0}};

const NodeFeature call_feature = {
    .name = "calls",
    .id = NODE_FEAT_CALL,
    .udp_types = call_types,
    .n_udp_types = G_N_ELEMENTS(call_types),
    .tcp_types = call_frame_types,
    .n_tcp_types = G_N_ELEMENTS(call_frame_types),
    .conn_kinds = call_kinds,
    .n_conn_kinds = G_N_ELEMENTS(call_kinds),
    .shared_init = call_shared_init,
    .shared_fini = call_shared_fini,
    .start = call_start,
    .stop = call_stop,
    .on_timer = call_feat_timer,
    .on_raw_udp = call_raw_udp,
    .on_udp = call_feat_udp,
    .on_accept = call_on_accept,
    .on_hello = call_on_hello,
    .on_connected = call__on_connected,
    .on_frame = call_feat_frame,
    .on_closed = call_feat_closed,
    .on_event = call_on_event,
};

/* ---- Public API ---- */

bool node_call(Node *n, const char *callee, TimeNs duration)
{
    size_t ulen = strlen(callee);
    CHECK(ulen > 0 && ulen <= WIRE_USER_MAX && duration > 0, "node_call(%s)", callee);
    if (call__cur(n) || n->voice != NODE_VOICE_NONE || n->role != NODE_ROLE_CLIENT || n->state != NODE_ST_ONLINE)
        return false;
    CallState *c = call_new(n, CALL_CALLER, node__random_u32(n) | 1);
    node__count(n, CM(n)->attempts, 1);
    c->duration = duration;
    c->ulen = (uint8_t)ulen;
    memcpy(c->peer_user, callee, ulen);
    call_report(n, ENV_CALL_DIALLED, false);
    env_random_bytes(&n->env, c->key, sizeof c->key);
    c->st = CST_LOCATE;
    call_step_timer(n, PAR(n)->call_step_timeout_ns); /* before: the index may answer at once */
    if (!call_locate(n, callee, ulen)) {
        call_fail(n, CALL_FAIL_NO_SUPERNODE);
        return true; /* attempted, failed at once (no supernode link) */
    }
    return true;
}

bool node_call_phone(Node *n, const char *number, TimeNs duration)
{
    size_t len = strlen(number);
    CHECK(len > 0 && len <= WIRE_USER_MAX && duration > 0, "node_call_phone(%s)", number);
    if (call__cur(n) || n->voice != NODE_VOICE_NONE || n->role != NODE_ROLE_CLIENT || n->state != NODE_ST_ONLINE)
        return false;
    CallState *c = call_new(n, CALL_CALLER, node__random_u32(n) | 1);
    c->pstn = true;
    node__count(n, CM(n)->attempts, 1);
    call_report(n, ENV_CALL_DIALLED, false);
    c->duration = duration;
    c->ulen = (uint8_t)len;
    memcpy(c->peer_user, number, len); /* the gateway stands for the phone network */
    env_random_bytes(&n->env, c->key, sizeof c->key);
    c->peer_id = PAR(n)->gateway;
    c->st = CST_INVITE;
    if (!c->peer_id.ip || !call_sig_open(n, c->peer_id)) call_fail(n, CALL_FAIL_SIGNALLING);
    return true;
}

bool node_call_hold(Node *n, bool on)
{
    CallState *c = call__cur(n);
    if (!c || c->st != CST_ACTIVE || c->held == on) return false;
    c->held = on;
    if (on) node__count(n, CM(n)->holds, 1);
    call_media_retime(n);
    return true;
}

void node_call_hangup(Node *n)
{
    if (call__cur(n)) call_bye(n, CALL_END_OK);
}

NodeCallState node_call_state(const Node *n)
{
    if (n->voice >= NODE_VOICE_CONF) /* a conference: active once it runs */
        return n->voice == NODE_VOICE_CONF_RUNNING ? NODE_CALL_ACTIVE : NODE_CALL_SETUP;
    if (!call__cur(n)) return NODE_CALL_IDLE;
    return call__cur(n)->st == CST_ACTIVE ? NODE_CALL_ACTIVE : NODE_CALL_SETUP;
}

NodeCallPath node_call_path(const Node *n)
{
    return call__cur(n) ? (NodeCallPath)call__cur(n)->path : NODE_CALL_PATH_NONE;
}

EnvAddr node_call_relay(const Node *n)
{
    return call__cur(n) ? call__cur(n)->relay : env_addr(0, 0);
}
