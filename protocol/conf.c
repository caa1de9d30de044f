/* conf: conferences of more than two participants (a43, a44).
 *
 * Layer: protocol/, the conference feature (conf.h); it uses mediapath.h
 * for locating (mediapath_locate), signalling through the supernodes
 * (mediapath_signal) and relays, and media.h for the streams; mixing
 * really runs the stream's codec (libopus, or bcg729 for G.729: decode,
 * sum, re-encode through media_dec_* and media_enc_*). Sources
 * (docs/protocol-notes.md):
 *   a43: a star: the most powerful machine is elected host/mixer whoever
 *        started the conference; members send to the host over UDP;
 *   a44: the host of 3 users was measured at 54 kb/s against 36 kb/s for
 *        a two-way call (1.5x). The star here gives more: the host
 *        receives N-1 streams and sends N-1 mixes, 2(N-1) streams, i.e.
 *        2.0x a two-way call for N = 3 (the measured client likely mixed
 *        or suppressed more than modelled here).
 *
 * Protocol. The organiser LOCATEs each invited user, then sends CF_INVITE
 * (conference id, topology, the AES-256 session key); a member answers
 * CF_JOIN with its capabilities (CPU MHz, uplink kb/s) and public UDP
 * endpoint, or CF_BUSY. When every located user has answered (or after
 * call_step_timeout) the organiser elects the host among those who joined
 * and itself: highest CPU, then highest uplink, then list order (the
 * organiser first); it sends CF_START (the host's index and every
 * participant's identity, endpoint and capabilities) to each member, so
 * that every participant can re-elect the same host when the host leaves.
 * CF_LEAVE tells the others that a participant left; CF_END ends it all.
 * Messages travel as FORWARD payloads (kinds from WIRE_CF_FIRST on).
 *
 * Media. A datagram: frame id (2 B, low bits of the conference id) |
 * function 0x0d (a18) | sender index (1 B) | a media.h packet. Star: each
 * member sends its stream to the host; every frame interval the host
 * decodes the latest frame of each member (packet-loss concealment when
 * none came), adds its own voice, and for each member encodes the sum
 * without that member's voice (mix-minus) with the member's own encoder
 * (charged per frame as its codec's encoding, media_cost_encode; decoding
 * is charged by media_rx per packet, concealment per frame) and sends it. Mesh: each participant
 * sends its one stream to every other. Media goes to the endpoint each
 * participant announced, then to the address its packets come from (the
 * NATs let both directions pass once both sides send: hole punching as in
 * call.c).
 *
 * Legs (star). Each member-host leg takes call.c's path order (a32):
 * direct UDP or hole punching, else a UDP relay, else a TCP relay. The
 * member drives its leg: when both ends do UDP it punches (the streams
 * themselves are the probes) and, when no mix has come from the host
 * within punch_timeout, or at once when either end lacks UDP, it picks a
 * relay with the candidates calls use (a public supernode with spare capacity,
 * mediapath_relay_candidates), binds its end there (relay.c: UDP, or TCP for an
 * end without UDP, mediapath_relay_connect) and sends CF_RELAY (its identity,
 * the relay) to the host, which binds its end of that leg there too. The
 * relay session's id is the leg id (conference id, member index and host
 * index mixed), and relayed packets carry its low 16 bits as frame id, so
 * that one relay tells a host's legs apart. A refused bind, a bind
 * unanswered for relay_bind_timeout, no mix for media_timeout after
 * binding or a lost TCP relay connection: the next candidate; none left:
 * the leg has no media ("conf.leg.failed"). The member counts the path of
 * its leg when the first mix arrives over it ("conf.leg.<path>").
 *
 * Legs (mesh). Each participant sends its stream to every other one's
 * endpoint; the streams punch the holes. A leg here is one direction,
 * counted at its receiver: when the first packet from a peer arrives,
 * "conf.leg.direct" (no NAT at either end) or "conf.leg.hole_punched";
 * when none came within punch_timeout, "conf.leg.failed" (a symmetric NAT
 * facing a port-restricted one, an end without UDP). Mesh legs are not
 * relayed yet: TODO(#5). So in both topologies every leg either carries
 * media or is counted as failed.
 * Codec: the world's stream (MediaConfig of the node parameters: opus at
 * its bit rate and frame, or G.729 through bcg729), FEC and silence
 * suppression off; only the 2004 profile is replaced, by opus at 24 kb/s
 * and 20 ms, because its 52-byte blocks are not whole frames to mix.
 *
 * Metrics: "conf.started|failed|left", "conf.participants" (sample),
 * "conf.streams_at_host" (sample, at the host: streams it sends and
 * receives), "conf.streams" (gauge: streams sent now, all conferences),
 * "conf.host_bytes" (media bytes in and out at the host), "conf.mixes"
 * (frames mixed), "conf.mos" (per participant and stream received),
 * "conf.host_cpu_ns" (sample: the virtual CPU the host was charged while it
 * hosted, read through env_cpu_charged_ns()), "conf.rx_streams" and
 * "conf.rx_streams_with_media" (receive streams, counted when released at
 * the end of a conference or a change of host, and those of them that
 * brought at least one packet).
 */
#include "protocol/conf.h"
#include "protocol/mediapath.h"
#include "protocol/metric_table.h"

#include <string.h>

/* Conference messages are WireConf (wire.h): CF_* below are its kinds. */
enum {
    CF_INVITE = WIRE_CF_INVITE,
    CF_JOIN = WIRE_CF_JOIN,
    CF_BUSY = WIRE_CF_BUSY,
    CF_START = WIRE_CF_START,
    CF_LEAVE = WIRE_CF_LEAVE,
    CF_END = WIRE_CF_END,
    CF_RELAY = WIRE_CF_RELAY,
};
_Static_assert(NODE_CONF_MAX <= WIRE_CONF_PEERS_MAX, "a START lists every participant");
enum { CONF_LOCATING = 1, CONF_INVITED, CONF_RUNNING };
/* Timer kinds (node__timer_start with NODE_FEAT_CONF). */
enum { TM_CONF_MEDIA = 1, TM_CONF_STEP, TM_CONF_END, TM_CONF_LEG };

typedef struct ConfMetrics {
    EnvMetric started, failed, participants, host_bytes, mos, streams_at_host, streams,
        mixes, left, host_cpu_ns;
    EnvMetric leg[NODE_CALL_PATH_COUNT]; /* "conf.leg.<path>": member-host legs by path */
    EnvMetric leg_failed;                /* legs for which no path was found */
    EnvMetric rx_streams, rx_media;      /* receive streams released, and those with media */
} ConfMetrics;

#define CONF_FRAME_MAX 400  /* largest encoded frame kept, bytes */
#define CONF_PCM_MAX 960    /* samples per frame at most (16 kHz, 60 ms) */
#define CONF_HDR 4          /* frame id 2, function 1, sender index 1 */
#define CONF_ENC_COMPLEXITY 1 /* opus complexity of the mix encoders (0..10) */

/* States of a member-host leg (ConfPeer.leg; star only). */
enum {
    LEG_NONE = 0, /* no path work (the host before CF_RELAY; mesh) */
    LEG_PUNCH,    /* member: direct UDP / hole punching, waiting for the mix */
    LEG_BINDING,  /* our end is binding at the relay */
    LEG_BOUND,    /* our end is bound: media goes through the relay */
    LEG_FAILED,   /* member: no relay could carry the leg; mesh: no media came */
    LEG_WAIT,     /* mesh: waiting for the peer's first packet */
};

/* One participant as this node knows it. */
typedef struct ConfPeer {
    EnvAddr id;           /* identity (public IP, listening port) */
    EnvAddr pub;          /* announced public UDP endpoint */
    EnvAddr media_to;     /* where media goes: pub, then the source of its packets */
    uint32_t cpu_mhz;     /* capability: CPU, MHz */
    uint32_t uplink_kbps; /* capability: uplink, kb/s */
    uint32_t user_hash;   /* organiser: wire_user_hash of the invited name */
    uint8_t state;        /* 0 asked, 1 located, 2 joined, 3 refused/left */
    uint8_t dnat;         /* capability: its detected NatType */
    bool udp;             /* capability: it sends and receives UDP (mediapath_udp_ok) */
    uint8_t leg;          /* LEG_* of the member-host leg with it */
    uint8_t pi;           /* port step of our TCP relay connection (mediapath_relay_connect) */
    bool counted;         /* member: the leg's path was counted ("conf.leg.*") */
    EnvAddr relay;        /* relay of the leg with it, {0,0} none */
    int relay_conn;       /* our TCP connection to that relay (CONN_CONF_RELAY), -1 none */
    bool fresh;           /* host: a frame arrived since the last mix */
    uint16_t flen;        /* bytes of frame */
    MediaRx *rx;          /* the stream received from it, or NULL */
    MediaTx *mix;         /* host: the mix sent to it, or NULL */
    MediaDec *dec;        /* host: decoder of its stream (media_dec_new), or NULL */
    MediaEnc *enc;        /* host: encoder of its mix (media_enc_new), or NULL */
    int16_t *pcm;         /* host: its last decoded frame (env_mem_alloc), or NULL */
    uint8_t frame[CONF_FRAME_MAX]; /* host: last encoded frame received */
} ConfPeer;

typedef struct ConfState ConfState;

/* A node's conference (env_mem_alloc'd while in one: ~11 KB + codecs). */
struct ConfState {
    uint32_t id;         /* conference id, drawn by the organiser */
    uint8_t st;          /* CONF_* */
    bool organiser;      /* this node organised it */
    bool mesh;           /* full mesh instead of a mixing host */
    uint8_t n;           /* participants in p */
    uint8_t self;        /* our index in p */
    uint8_t host;        /* the host's index (star) */
    uint8_t streams_out; /* streams counted in the "conf.streams" gauge */
    double host_cpu0_ns; /* host: charged CPU when it started mixing, ns (env_cpu_charged_ns) */
    uint8_t key[32];     /* AES-256 session key */
    MediaConfig mc;      /* the media profile of the conference */
    TimeNs duration;     /* organiser: length once running, ns */
    MediaTx *tx;         /* our own voice */
    MediaDec *own_dec;   /* host: decoder of our own voice frames */
    ConfPeer p[NODE_CONF_MAX]; /* participants (organiser first) */
    uint8_t ncand, ci;   /* member: relay candidates of its leg, the one tried */
    EnvAddr bad_relay;   /* member: a relay that carried no mix (not a candidate again) */
    EnvAddr cand[MEDIAPATH_CAND_MAX]; /* member: relay candidates (mediapath_relay_candidates) */
    EnvTimer t_media, t_step, t_end, t_leg; /* timers (t_leg: member's leg step) */
};

/* The feature's world data (sh->feat_data[NODE_FEAT_CONF]): its metric ids. */
#define FM(n) ((const ConfMetrics *)node__feat_shared((n)->sh, NODE_FEAT_CONF))
#define FPAR(n) (&(n)->sh->p)

/* The node's conference (the feature's state slot), NULL when none. */
static inline ConfState *conf_cur(const Node *n)
{
    return node__feat(n, NODE_FEAT_CONF);
}

static void conf_metrics_intern(ConfMetrics *m, const Env *e)
{
    m->started = metric_table_intern(e, METRIC_CONF_STARTED);
    m->failed = metric_table_intern(e, METRIC_CONF_FAILED);
    m->left = metric_table_intern(e, METRIC_CONF_LEFT);
    m->participants = metric_table_intern(e, METRIC_CONF_PARTICIPANTS);
    m->host_bytes = metric_table_intern(e, METRIC_CONF_HOST_BYTES);
    m->mos = metric_table_intern(e, METRIC_CONF_MOS);
    m->streams_at_host = metric_table_intern(e, METRIC_CONF_STREAMS_AT_HOST);
    m->streams = metric_table_intern(e, METRIC_CONF_STREAMS);
    m->mixes = metric_table_intern(e, METRIC_CONF_MIXES);
    m->host_cpu_ns = metric_table_intern(e, METRIC_CONF_HOST_CPU_NS);
    for (int p = 1; p < NODE_CALL_PATH_COUNT; p++) m->leg[p] = metric_table_intern_family(e, METRIC_FAM_CONF_LEG, p, 0, 0);
    m->leg_failed = metric_table_intern(e, METRIC_CONF_LEG_FAILED);
    m->rx_streams = metric_table_intern(e, METRIC_CONF_RX_STREAMS);
    m->rx_media = metric_table_intern(e, METRIC_CONF_RX_STREAMS_MEDIA);
}

/* ---- messages ---- */

static WireConfPeer conf_peer_to_wire(const ConfPeer *c)
{
    return (WireConfPeer){.id = c->id, .pub = c->pub, .cpu_mhz = c->cpu_mhz,
                          .uplink_kbps = c->uplink_kbps, .udp = c->udp, .dnat = c->dnat};
}

static void conf_peer_from_wire(ConfPeer *c, const WireConfPeer *w)
{
    c->id = w->id;
    c->pub = c->media_to = w->pub;
    c->cpu_mhz = w->cpu_mhz;
    c->uplink_kbps = w->uplink_kbps;
    c->udp = w->udp;
    c->dnat = w->dnat;
}

/* Encodes m and signals it to identity dst (through the supernodes). */
static void conf_signal(Node *n, EnvAddr dst, const WireConf *m)
{
    uint8_t buf[WIRE_CONF_MAX];
    mediapath_signal(n, dst, buf, wire_conf_encode(m, buf, sizeof buf));
}

/* Sends m, a message of this node's conference, to identity dst. */
static void conf_send(Node *n, EnvAddr dst, WireConf *m)
{
    m->conf_id = conf_cur(n)->id;
    conf_signal(n, dst, m);
}

static void conf_self_info(Node *n, ConfPeer *c)
{
    c->id = mediapath_self_id(n);
    c->pub = n->public_addr;
    c->cpu_mhz = n->cpu_mhz;
    c->uplink_kbps = n->uplink_kbps;
    c->udp = mediapath_udp_ok(n);
    c->dnat = n->nat;
    c->state = 2;
}

/* ---- lifecycle ---- */

static ConfState *conf_new(Node *n, uint32_t id)
{
    ConfState *c = env_mem_alloc(&n->env, sizeof *c);
    memset(c, 0, sizeof *c);
    c->id = id;
    c->mc = n->sh->p.media;
    if (c->mc.profile == MEDIA_PROFILE_SKYPE2004)
        c->mc = (MediaConfig){.profile = MEDIA_PROFILE_OPUS, .bitrate_bps = 24000,
                              .frame_ns = 20 * TIMENS_MS};
    c->mc.fec = false;
    c->mc.silence_suppression = false;
    for (int i = 0; i < NODE_CONF_MAX; i++) c->p[i].relay_conn = -1;
    node__feat_set(n, NODE_FEAT_CONF, c);
    n->voice = NODE_VOICE_CONF;
    return c;
}


/* Closes our relay connection of the leg with q and forgets its relay. */
static void conf_leg_reset(Node *n, ConfPeer *q)
{
    if (q->relay_conn >= 0) node__conn_close(n, q->relay_conn, false);
    q->relay_conn = -1;
    q->relay = env_addr(0, 0);
    q->leg = LEG_NONE;
    q->pi = 0;
}

/* Frees one participant's streams, codecs and leg. */
static void conf_peer_release(Node *n, ConfPeer *q)
{
    const Env *e = &n->env;
    conf_leg_reset(n, q);
    q->counted = false;
    if (q->rx) {
        MediaStats s;
        media_rx_stats(q->rx, &s);
        node__count(n, FM(n)->rx_streams, 1);
        if (s.packets_rx > 0) {
            env_metric_observe(e, FM(n)->mos, s.mos);
            node__count(n, FM(n)->rx_media, 1);
        }
        media_rx_free(q->rx, e);
    }
    media_tx_free(q->mix, e);
    media_dec_free(q->dec, e);
    media_enc_free(q->enc, e);
    if (q->pcm) env_mem_free(e, q->pcm, CONF_PCM_MAX * sizeof(int16_t));
    q->rx = NULL;
    q->mix = NULL;
    q->dec = NULL;
    q->enc = NULL;
    q->pcm = NULL;
}

/* Stops our media (streams, codecs, gauge). */
static void conf_media_stop(Node *n)
{
    ConfState *c = conf_cur(n);
    if (c->tx && !c->mesh && c->self == c->host) /* what hosting cost this node's CPU */
        env_metric_observe(&n->env, FM(n)->host_cpu_ns, env_cpu_charged_ns(&n->env) - c->host_cpu0_ns);
    env_timer_cancel(&n->env, &c->t_media);
    env_timer_cancel(&n->env, &c->t_leg);
    for (int i = 0; i < c->n; i++) conf_peer_release(n, &c->p[i]);
    media_tx_free(c->tx, &n->env);
    c->tx = NULL;
    media_dec_free(c->own_dec, &n->env);
    c->own_dec = NULL;
    node__count(n, FM(n)->streams, -(int64_t)c->streams_out);
    c->streams_out = 0;
}

static void conf_free(Node *n)
{
    ConfState *c = conf_cur(n);
    conf_media_stop(n);
    env_timer_cancel(&n->env, &c->t_step);
    env_timer_cancel(&n->env, &c->t_end);
    memset(c->key, 0, sizeof c->key);
    env_mem_free(&n->env, c, sizeof *c);
    node__feat_set(n, NODE_FEAT_CONF, NULL);
    n->voice = NODE_VOICE_NONE;
}

/* ---- election and media ---- */

static bool conf_alive(const ConfPeer *q)
{
    return q->state == 2;
}

/* The strongest live participant: CPU, then uplink, then list order. */
static uint8_t conf_elect(const ConfState *c)
{
    int best = -1;
    for (int i = 0; i < c->n; i++) {
        const ConfPeer *q = &c->p[i];
        if (!conf_alive(q)) continue;
        if (best < 0 || q->cpu_mhz > c->p[best].cpu_mhz ||
            (q->cpu_mhz == c->p[best].cpu_mhz && q->uplink_kbps > c->p[best].uplink_kbps))
            best = i;
    }
    CHECK(best >= 0, "conference without participants");
    return (uint8_t)best;
}

static size_t conf_live(const ConfState *c)
{
    size_t k = 0;
    for (int i = 0; i < c->n; i++) k += conf_alive(&c->p[i]);
    return k;
}

/* ---- member-host legs (star): direct, hole punched, UDP or TCP relay ---- */

static bool conf_is_host(const ConfState *c)
{
    return !c->mesh && c->self == c->host;
}

/* The member end of the leg with q: q itself at the host, else us. */
static uint8_t conf_leg_member(const ConfState *c, const ConfPeer *q)
{
    return conf_is_host(c) ? (uint8_t)(q - c->p) : c->self;
}

/* Relay session id of member m's leg with the current host: never 0, and
 * (the multiplier being odd) its low 16 bits differ from the conference's
 * and from every other leg's. */
static uint32_t conf_leg_id(const ConfState *c, uint8_t m)
{
    uint32_t x = c->id ^ (0x9e3779b9u * (1u + m + NODE_CONF_MAX * (uint32_t)c->host));
    return x ? x : 1;
}

/* The participant at the other end of our leg with id, or NULL. */
static ConfPeer *conf_leg_find(ConfState *c, uint32_t id)
{
    if (c->mesh || c->st != CONF_RUNNING) return NULL;
    if (!conf_is_host(c)) return conf_leg_id(c, c->self) == id ? &c->p[c->host] : NULL;
    for (int i = 0; i < c->n; i++)
        if (i != c->self && conf_alive(&c->p[i]) && conf_leg_id(c, (uint8_t)i) == id)
            return &c->p[i];
    return NULL;
}

static ConfPeer *conf_leg_by_conn(Node *n, int idx)
{
    ConfState *c = conf_cur(n);
    for (int i = 0; c && i < c->n; i++)
        if (c->p[i].relay_conn == idx) return &c->p[i];
    return NULL;
}

static void conf_leg_timer(Node *n, TimeNs d)
{
    env_timer_cancel(&n->env, &conf_cur(n)->t_leg);
    conf_cur(n)->t_leg = node__timer_start(n, NODE_FEAT_CONF, d, TM_CONF_LEG);
}

/* Binds our end of the leg with q at relay r: over UDP when we can, else
 * over TCP (BIND once connected), from port step q->pi on. False when no
 * connection can start. */
static bool conf_leg_bind(Node *n, ConfPeer *q, EnvAddr r)
{
    ConfState *c = conf_cur(n);
    uint8_t pi = q->pi;
    conf_leg_reset(n, q);
    q->pi = pi;
    q->relay = r;
    q->leg = LEG_BINDING;
    if (mediapath_udp_ok(n)) {
        mediapath_relay_bind_send(n, -1, r, conf_leg_id(c, conf_leg_member(c, q)), conf_is_host(c));
        return true;
    }
    q->relay_conn = mediapath_relay_connect(n, r, &q->pi, CONN_CONF_RELAY);
    if (q->relay_conn >= 0) return true;
    conf_leg_reset(n, q);
    return false;
}

/* Member: binds at the next relay candidate, or gives the leg up. */
static void conf_relay_next(Node *n)
{
    ConfState *c = conf_cur(n);
    ConfPeer *h = &c->p[c->host];
    for (; c->ci < c->ncand; c->ci++) {
        h->pi = 0;
        if (conf_leg_bind(n, h, c->cand[c->ci])) {
            conf_leg_timer(n, FPAR(n)->relay_bind_timeout_ns);
            return;
        }
    }
    conf_leg_reset(n, h);
    h->leg = LEG_FAILED;
    node__count(n, FM(n)->leg_failed, 1);
}

/* Member: the leg needs a relay (call.c's candidates; the host's
 * supernode is not known here). */
static void conf_relay_start(Node *n)
{
    ConfState *c = conf_cur(n);
    c->ncand = (uint8_t)mediapath_relay_candidates(n, env_addr(0, 0), c->bad_relay, c->cand,
                                               MEDIAPATH_CAND_MAX);
    c->ci = 0;
    conf_relay_next(n);
}

/* Member, once media starts: punch when both ends do UDP, else relay. */
static void conf_leg_start(Node *n)
{
    ConfState *c = conf_cur(n);
    ConfPeer *h = &c->p[c->host];
    c->bad_relay = env_addr(0, 0);
    if (mediapath_udp_ok(n) && h->udp) {
        h->leg = LEG_PUNCH;
        conf_leg_timer(n, FPAR(n)->punch_timeout_ns);
        return;
    }
    conf_relay_start(n);
}

/* Our end of the leg with q is bound; a member tells the host where. */
static void conf_leg_bound(Node *n, ConfPeer *q)
{
    ConfState *c = conf_cur(n);
    if (q->leg != LEG_BINDING) return;
    q->leg = LEG_BOUND;
    if (conf_is_host(c)) return;
    WireConf m = {.kind = CF_RELAY, .from = mediapath_self_id(n), .relay = q->relay};
    conf_send(n, q->id, &m);
    conf_leg_timer(n, FPAR(n)->media_timeout_ns); /* the host's mix must come through it */
}

/* Our end could not bind at q's relay, or lost it: a member tries the
 * next candidate; the host forgets the relay until the next CF_RELAY. */
static void conf_leg_failed(Node *n, ConfPeer *q)
{
    ConfState *c = conf_cur(n);
    conf_leg_reset(n, q);
    if (conf_is_host(c)) return;
    c->ci++;
    conf_relay_next(n);
}

/* Member: the host's mix arrived (over the relay or not): counts the
 * leg's path once. A stray direct packet while relaying does not count. */
static void conf_leg_up(Node *n, ConfPeer *h, bool relayed)
{
    ConfState *c = conf_cur(n);
    if (h->counted || relayed != (h->relay.ip != 0) || (relayed && h->leg != LEG_BOUND)) return;
    h->counted = true;
    env_timer_cancel(&n->env, &c->t_leg);
    uint8_t path = NODE_CALL_PATH_HOLE_PUNCHED;
    if (relayed)
        path = h->relay_conn >= 0 || !h->udp ? NODE_CALL_PATH_TCP_RELAY : NODE_CALL_PATH_UDP_RELAY;
    else if (n->nat == NAT_OPEN && h->dnat == NAT_OPEN)
        path = NODE_CALL_PATH_DIRECT;
    node__count(n, FM(n)->leg[path], 1);
}

/* Mesh, once media starts: every stream we receive waits for its first
 * packet until punch_timeout (the streams themselves punch the holes). */
static void conf_mesh_legs_start(Node *n)
{
    ConfState *c = conf_cur(n);
    for (int i = 0; i < c->n; i++)
        if (c->p[i].rx) c->p[i].leg = LEG_WAIT;
    conf_leg_timer(n, FPAR(n)->punch_timeout_ns);
}

/* Mesh: q's first packet came: counts the stream's path once (direct
 * when neither end is behind a NAT, else hole punched). */
static void conf_mesh_leg_up(Node *n, ConfPeer *q)
{
    if (q->leg != LEG_WAIT) return;
    q->leg = LEG_NONE;
    q->counted = true;
    uint8_t path = n->nat == NAT_OPEN && q->dnat == NAT_OPEN ? NODE_CALL_PATH_DIRECT
                                                             : NODE_CALL_PATH_HOLE_PUNCHED;
    node__count(n, FM(n)->leg[path], 1);
}

/* Mesh: the streams that brought nothing within punch_timeout failed (no
 * relay for mesh legs, TODO(#5)): counted, never silent. */
static void conf_mesh_legs_expired(Node *n)
{
    ConfState *c = conf_cur(n);
    for (int i = 0; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (q->leg != LEG_WAIT) continue;
        q->leg = LEG_FAILED;
        node__count(n, FM(n)->leg_failed, 1);
    }
}

/* Member: the leg's step took too long. */
static void conf_leg_expired(Node *n)
{
    ConfState *c = conf_cur(n);
    if (c->st != CONF_RUNNING) return;
    if (c->mesh) {
        conf_mesh_legs_expired(n);
        return;
    }
    if (conf_is_host(c)) return;
    ConfPeer *h = &c->p[c->host];
    if (h->leg == LEG_PUNCH) {
        conf_relay_start(n);
        return;
    }
    if (h->leg == LEG_BOUND) c->bad_relay = h->relay; /* bound, but no mix came */
    if (h->leg == LEG_BOUND || h->leg == LEG_BINDING) conf_leg_failed(n, h);
}

/* Host: member id's leg goes through relay r: bind our end there. */
static void conf_on_relay(Node *n, const WireConf *m)
{
    ConfState *c = conf_cur(n);
    if (c->st != CONF_RUNNING || !conf_is_host(c)) return;
    EnvAddr id = m->from, r = m->relay;
    for (int i = 0; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (i == c->self || !conf_alive(q) || !env_addr_eq(q->id, id)) continue;
        if (env_addr_eq(q->relay, r) && q->leg != LEG_NONE) return; /* a duplicate */
        q->pi = 0;
        (void)conf_leg_bind(n, q, r);
        return;
    }
}

/* A relay's answer over UDP to one of our legs' binds. */
static void conf_on_call_udp(Node *n, EnvAddr from, const WireCall *cm)
{
    if (cm->kind != WIRE_CM_RELAY_BOUND && cm->kind != WIRE_CM_RELAY_REFUSED) return;
    ConfPeer *q = conf_leg_find(conf_cur(n), cm->call_id);
    if (!q || !env_addr_eq(from, q->relay) || q->relay_conn >= 0) return; /* not ours, or stale */
    if (cm->kind == WIRE_CM_RELAY_BOUND)
        conf_leg_bound(n, q);
    else
        conf_leg_failed(n, q);
}

static void conf_on_relay_connected(Node *n, int idx, int status)
{
    ConfPeer *q = conf_leg_by_conn(n, idx);
    if (!q) {
        node__conn_close(n, idx, true);
        return;
    }
    if (status != ENV_OK) {
        node__conn_close(n, idx, true);
        q->relay_conn = -1;
        q->pi++;
        if (!conf_leg_bind(n, q, q->relay)) conf_leg_failed(n, q);
        return;
    }
    ConfState *c = conf_cur(n);
    node__conn_hello(n, idx, HELLO_CLIENT);
    mediapath_relay_bind_send(n, idx, q->relay, conf_leg_id(c, conf_leg_member(c, q)), conf_is_host(c));
}

static void conf_on_relay_closed(Node *n, int idx, int status)
{
    (void)status;
    ConfPeer *q = conf_leg_by_conn(n, idx);
    if (!q) return;
    q->relay_conn = -1; /* node.c has released the slot */
    conf_leg_failed(n, q);
}

/* (Re)starts our media for the current participants and host. */
static void conf_media_start(Node *n)
{
    ConfState *c = conf_cur(n);
    const Env *e = &n->env;
    const MediaShared *ms = n->sh->media;
    bool host = !c->mesh && c->self == c->host;
    size_t others = conf_live(c) - 1;
    c->tx = media_tx_new(e, ms, &c->mc, c->key);
    if (host) c->own_dec = media_dec_new(e, &c->mc);
    for (int i = 0; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (i == c->self || !conf_alive(q)) continue;
        MediaConfig rxc = c->mc; /* the host decodes with its own mixing decoders */
        rxc.replay = rxc.replay || host;
        if (c->mesh || host || i == c->host) q->rx = media_rx_new(e, ms, &rxc, c->key);
        if (!host) continue;
        q->mix = media_tx_new(e, ms, &c->mc, c->key);
        q->dec = media_dec_new(e, &c->mc);
        /* One encoder per member at the host: a low complexity, as a mixing
         * host would choose, keeps large runs fast (the charged cost comes
         * from the calibration table either way). */
        q->enc = media_enc_new(e, &c->mc, CONF_ENC_COMPLEXITY);
        q->pcm = env_mem_alloc(e, CONF_PCM_MAX * sizeof(int16_t));
    }
    c->streams_out = (uint8_t)(c->mesh || host ? others : (others > 0 ? 1 : 0));
    node__count(n, FM(n)->streams, c->streams_out);
    if (host) {
        env_metric_observe(e, FM(n)->streams_at_host, (double)(2 * others));
        c->host_cpu0_ns = env_cpu_charged_ns(e);
    }
    TimeNs iv = media_tx_interval(c->tx, false);
    c->t_media = node__timer_start_periodic(n, NODE_FEAT_CONF, iv, iv, TM_CONF_MEDIA);
    if (!c->mesh && !host) conf_leg_start(n);
    if (c->mesh) conf_mesh_legs_start(n);
}

/* Sends one media packet (pkt, len bytes, header room included) to q:
 * through the leg's relay once our end is bound there (frame id: the
 * leg's), not at all while binding, else to its endpoint. */
static void conf_send_media(Node *n, ConfPeer *q, uint8_t *pkt, size_t len)
{
    ConfState *c = conf_cur(n);
    bool relayed = q->relay.ip != 0;
    if (relayed && q->leg != LEG_BOUND) return;
    uint32_t fid = relayed ? conf_leg_id(c, conf_leg_member(c, q)) : c->id;
    wire_put_u16(pkt, (uint16_t)fid);
    pkt[2] = (uint8_t)(MEDIAPATH_FUNC_MEDIA | (node__random_u32(n) & 0x70)); /* a18: mask 0x8f */
    pkt[3] = c->self;
    if (conf_is_host(c)) node__count(n, FM(n)->host_bytes, (int64_t)len);
    if (relayed && q->relay_conn >= 0) {
        mediapath_media_send_tcp(n, q->relay_conn, pkt, len);
        return;
    }
    (void)env_udp_send(&n->env, n->udp, relayed ? q->relay : q->media_to, pkt, len);
}

/* Decodes q's latest frame (or conceals its loss) into q->pcm. */
static void conf_decode(Node *n, MediaDec *dec, ConfPeer *q, const uint8_t *f, size_t flen,
                        int16_t *pcm)
{
    media_dec_run(dec, f, flen, pcm);
    if (!flen) /* concealment */
        env_charge_cpu(&n->env, media_cost_decode(conf_cur(n)->mc.profile), 0);
    if (q) q->fresh = false;
}

/* Host, every frame interval: decode, mix-minus, re-encode, send. */
static void conf_mix(Node *n)
{
    ConfState *c = conf_cur(n);
    int spf = media_frame_samples(&c->mc);
    CHECK(spf > 0 && spf <= CONF_PCM_MAX, "%d samples per frame", spf);
    int32_t sum[CONF_PCM_MAX];
    int16_t own[CONF_PCM_MAX], mix[CONF_PCM_MAX];
    uint8_t f[CONF_FRAME_MAX], pkt[ENV_UDP_MAX];
    size_t flen = media_tx_frame_next(c->tx, &n->env, f, sizeof f);
    conf_decode(n, c->own_dec, NULL, f, flen, own);
    for (int s = 0; s < spf; s++) sum[s] = own[s];
    for (int i = 0; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (!q->dec) continue;
        conf_decode(n, q->dec, q, q->frame, q->fresh ? q->flen : 0, q->pcm);
        for (int s = 0; s < spf; s++) sum[s] += q->pcm[s];
    }
    for (int i = 0; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (!q->enc) continue;
        for (int s = 0; s < spf; s++) mix[s] = (int16_t)CLAMP(sum[s] - q->pcm[s], -32768, 32767);
        size_t len = media_enc_run(q->enc, mix, f, sizeof f);
        env_charge_cpu(&n->env, media_cost_encode(c->mc.profile), (size_t)spf * sizeof(int16_t));
        size_t pl = media_tx_next_with(q->mix, &n->env, f, len, pkt + CONF_HDR,
                                       sizeof pkt - CONF_HDR);
        conf_send_media(n, q, pkt, pl + CONF_HDR);
        node__count(n, FM(n)->mixes, 1);
    }
}

/* Member (star) or anybody (mesh), every frame interval: our stream. */
static void conf_media_tick(Node *n)
{
    ConfState *c = conf_cur(n);
    if (!c->mesh && c->self == c->host) {
        conf_mix(n);
        return;
    }
    uint8_t pkt[ENV_UDP_MAX];
    size_t len = media_tx_next(c->tx, &n->env, false, pkt + CONF_HDR, sizeof pkt - CONF_HDR);
    if (len == 0) return;
    for (int i = 0; i < c->n; i++)
        if (i != c->self && conf_alive(&c->p[i]) && (c->mesh || i == c->host))
            conf_send_media(n, &c->p[i], pkt, len + CONF_HDR);
}

/* A media packet (buf, len bytes) from `from` (NULL: over our TCP relay
 * connection). Frame id: the conference's, or (through a relay) the leg's.
 * False when it is not the conference's. */
static bool conf_media_in(Node *n, const EnvAddr *from, const uint8_t *buf, size_t len)
{
    ConfState *c = conf_cur(n);
    if (len < CONF_HDR || (buf[2] & WIRE_FUNC_MASK) != MEDIAPATH_FUNC_MEDIA) return false;
    uint16_t fid = wire_get_u16(buf);
    uint8_t s = buf[3];
    bool relayed = fid != (uint16_t)c->id;
    if (relayed && (c->mesh || c->st != CONF_RUNNING || s >= c->n ||
                    fid != (uint16_t)conf_leg_id(c, conf_is_host(c) ? s : c->self)))
        return false;
    if (c->st != CONF_RUNNING || s >= c->n || s == c->self) return true;
    ConfPeer *q = &c->p[s];
    if (!q->rx) return true;
    size_t flen;
    if (!media_rx_packet_frame(q->rx, &n->env, buf + CONF_HDR, len - CONF_HDR, q->frame,
                               sizeof q->frame, &flen))
        return true;
    if (from && !q->relay.ip) q->media_to = *from; /* its endpoint as its NAT maps it toward us */
    if (flen) {
        q->flen = (uint16_t)flen;
        q->fresh = true;
    }
    if (conf_is_host(c)) node__count(n, FM(n)->host_bytes, (int64_t)len);
    if (!c->mesh && s == c->host) conf_leg_up(n, q, relayed);
    if (c->mesh) conf_mesh_leg_up(n, q);
    return true;
}

/* Voice before any decoding, while in a conference. */
static bool conf_raw_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    return conf_cur(n) && conf_media_in(n, &from, buf, len);
}

static void conf_on_relay_frame(Node *n, int idx, const WireMsg *m)
{
    ConfPeer *q = conf_leg_by_conn(n, idx);
    if (!q) return;
    if (m->type == WIRE_CALL_MEDIA) { /* the connection stands for the leg's frame id */
        ConfState *c = conf_cur(n);
        uint8_t pkt[ENV_UDP_MAX];
        size_t len = mediapath_media_from_tcp((uint16_t)conf_leg_id(c, conf_leg_member(c, q)),
                                              m->u.media.data, m->u.media.len, pkt, sizeof pkt);
        if (len) (void)conf_media_in(n, NULL, pkt, len);
        return;
    }
    if (m->type != WIRE_CALL || conf_leg_find(conf_cur(n), m->u.call.call_id) != q) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        return;
    }
    if (m->u.call.kind == WIRE_CM_RELAY_BOUND)
        conf_leg_bound(n, q);
    else if (m->u.call.kind == WIRE_CM_RELAY_REFUSED)
        conf_leg_failed(n, q);
}

/* ---- organiser ---- */

/* Starts the conference with who joined, or fails without anybody. */
static void conf_org_launch(Node *n)
{
    ConfState *c = conf_cur(n);
    env_timer_cancel(&n->env, &c->t_step);
    ConfPeer keep[NODE_CONF_MAX];
    uint8_t k = 0;
    for (int i = 0; i < c->n; i++)
        if (conf_alive(&c->p[i])) keep[k++] = c->p[i];
    if (k < 2) {
        node__count(n, FM(n)->failed, 1);
        conf_free(n);
        return;
    }
    memcpy(c->p, keep, k * sizeof *keep);
    c->n = k;
    c->self = 0;
    c->host = conf_elect(c);
    c->st = CONF_RUNNING;
    n->voice = NODE_VOICE_CONF_RUNNING;
    WireConf m = {.kind = CF_START, .host = c->host, .n = k};
    for (int i = 0; i < k; i++) m.p[i] = conf_peer_to_wire(&c->p[i]);
    for (int i = 1; i < k; i++) conf_send(n, c->p[i].id, &m);
    node__count(n, FM(n)->started, 1);
    env_metric_observe(&n->env, FM(n)->participants, k);
    conf_media_start(n);
    c->t_end = node__timer_start(n, NODE_FEAT_CONF, c->duration, TM_CONF_END);
}

/* Launches once every invited user has answered (joined or refused). */
static void conf_org_check(Node *n)
{
    ConfState *c = conf_cur(n);
    for (int i = 1; i < c->n; i++)
        if (c->p[i].state < 2) return;
    conf_org_launch(n);
}

static void conf_on_located(Node *n, const WireCall *cm)
{
    ConfState *c = conf_cur(n);
    if (!c || !c->organiser || c->id != cm->call_id || c->st != CONF_LOCATING) return;
    uint32_t h = wire_user_hash(cm->user, cm->ulen);
    for (int i = 1; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (q->state != 0 || q->user_hash != h) continue;
        q->state = 1;
        q->id = cm->a1;
        WireConf m = {.kind = CF_INVITE, .from = mediapath_self_id(n), .mesh = c->mesh};
        memcpy(m.key, c->key, 32);
        conf_send(n, q->id, &m);
    }
}

static void conf_org_answer(Node *n, const WireConf *m)
{
    ConfState *c = conf_cur(n);
    if (!c->organiser || c->st != CONF_LOCATING) return;
    bool join = m->kind == CF_JOIN;
    EnvAddr id = join ? m->p[0].id : m->from;
    for (int i = 1; i < c->n; i++) {
        ConfPeer *q = &c->p[i];
        if (q->state != 1 || !env_addr_eq(q->id, id)) continue;
        if (join) conf_peer_from_wire(q, &m->p[0]);
        q->state = join ? 2 : 3;
    }
    conf_org_check(n);
}

/* ---- members ---- */

static void conf_on_invite(Node *n, const WireConf *m)
{
    EnvAddr org = m->from;
    if (conf_cur(n) || n->voice != NODE_VOICE_NONE || n->role != NODE_ROLE_CLIENT || n->state != NODE_ST_ONLINE) {
        WireConf busy = {.kind = CF_BUSY, .conf_id = m->conf_id, .from = mediapath_self_id(n)};
        conf_signal(n, org, &busy);
        return;
    }
    ConfState *c = conf_new(n, m->conf_id);
    c->st = CONF_INVITED;
    c->mesh = m->mesh;
    memcpy(c->key, m->key, 32);
    ConfPeer me;
    memset(&me, 0, sizeof me);
    conf_self_info(n, &me);
    WireConf join = {.kind = CF_JOIN, .n = 1};
    join.p[0] = conf_peer_to_wire(&me);
    conf_send(n, org, &join);
    c->t_step = node__timer_start(n, NODE_FEAT_CONF, 3 * n->sh->p.call_step_timeout_ns, TM_CONF_STEP);
}

static void conf_on_start(Node *n, const WireConf *m)
{
    ConfState *c = conf_cur(n);
    if (c->st != CONF_INVITED || m->n < 2 || m->n > NODE_CONF_MAX) return;
    c->n = m->n;
    c->host = m->host;
    c->self = 0xff;
    EnvAddr me = mediapath_self_id(n);
    for (int i = 0; i < c->n; i++) {
        conf_peer_from_wire(&c->p[i], &m->p[i]);
        c->p[i].state = 2;
        if (env_addr_eq(c->p[i].id, me)) c->self = (uint8_t)i;
    }
    if (c->self == 0xff) return;
    env_timer_cancel(&n->env, &c->t_step);
    c->st = CONF_RUNNING;
    n->voice = NODE_VOICE_CONF_RUNNING;
    conf_media_start(n);
}

/* A participant left: re-elect (everybody elects alike) and restart media. */
static void conf_on_leave(Node *n, const WireConf *m)
{
    ConfState *c = conf_cur(n);
    if (c->st != CONF_RUNNING) return;
    EnvAddr id = m->from;
    for (int i = 0; i < c->n; i++)
        if (env_addr_eq(c->p[i].id, id) && i != c->self) c->p[i].state = 3;
    if (conf_live(c) < 2) {
        conf_free(n);
        return;
    }
    conf_media_stop(n);
    c->host = conf_elect(c);
    conf_media_start(n);
}

static void conf_on_signal(Node *n, const uint8_t *buf, size_t len)
{
    WireConf mc;
    const WireConf *m = &mc;
    if (!wire_conf_decode(buf, len, &mc)) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
    } else if (m->kind == CF_INVITE) {
        conf_on_invite(n, m);
    } else if (conf_cur(n) && conf_cur(n)->id == m->conf_id) { /* else stale: an ended one */
        switch (m->kind) {
        case CF_JOIN:
        case CF_BUSY: conf_org_answer(n, m); break;
        case CF_START: conf_on_start(n, m); break;
        case CF_LEAVE: conf_on_leave(n, m); break;
        case CF_END: conf_free(n); break;
        case CF_RELAY: conf_on_relay(n, m); break;
        default: break;
        }
    }
}

/* Tells every other live participant `kind` (LEAVE with our id, or END). */
static void conf_tell_all(Node *n, uint8_t kind)
{
    ConfState *c = conf_cur(n);
    WireConf m = {.kind = kind, .from = kind == CF_LEAVE ? mediapath_self_id(n) : env_addr(0, 0)};
    for (int i = 0; i < c->n; i++)
        if (i != c->self && conf_alive(&c->p[i]) && (c->st == CONF_RUNNING || c->p[i].state >= 1))
            conf_send(n, c->p[i].id, &m);
}

static void conf_on_timer(Node *n, EnvTimer t, uint32_t tag)
{
    (void)t;
    ConfState *c = conf_cur(n);
    if (!c) return;
    switch (tag) {
    case TM_CONF_MEDIA: conf_media_tick(n); break;
    case TM_CONF_STEP:
        c->t_step = ENV_TIMER_NONE;
        if (c->organiser) {
            conf_org_launch(n);
        } else {
            conf_free(n); /* no CF_START came */
        }
        break;
    case TM_CONF_END:
        c->t_end = ENV_TIMER_NONE;
        conf_tell_all(n, CF_END);
        conf_free(n);
        break;
    case TM_CONF_LEG:
        c->t_leg = ENV_TIMER_NONE;
        conf_leg_expired(n);
        break;
    default: CHECK(false, "conf timer tag %u", tag);
    }
}

static void conf_stop(Node *n, bool graceful)
{
    (void)graceful;
    if (conf_cur(n)) conf_free(n);
}

/* ---- the feature ---- */

static bool conf_shared_init(NodeShared *sh, const Env *world_env, GError **err)
{
    (void)err;
    ConfMetrics *m = g_new0(ConfMetrics, 1); /* not per node: one per world */
    conf_metrics_intern(m, world_env);
    sh->feat_data[NODE_FEAT_CONF] = m;
    return true;
}

static void conf_shared_fini(NodeShared *sh)
{
    g_free(sh->feat_data[NODE_FEAT_CONF]);
    sh->feat_data[NODE_FEAT_CONF] = NULL;
}

/* Conference payloads among the signalling; the call messages of our
 * legs that the calls feature passed on. */
static void conf_on_event(Node *n, NodeEvent ev, const NodeEventArg *a)
{
    if (ev == NODE_EV_SIGNAL && a->len > 0 && a->buf[0] >= WIRE_CF_FIRST) {
        conf_on_signal(n, a->buf, a->len);
        return;
    }
    if (ev != NODE_EV_CALL_UNCLAIMED) return;
    const WireMsg *m = a->msg;
    if (a->idx >= 0) {
        if (node__conn(n, a->idx)->kind == CONN_CONF_RELAY) conf_on_relay_frame(n, a->idx, m);
    } else if (m->type == WIRE_CALL_UDP) {
        if (conf_cur(n)) conf_on_call_udp(n, a->addr, &m->u.call);
    } else if (m->type == WIRE_CALL && m->u.call.kind == WIRE_CM_LOCATED) {
        conf_on_located(n, &m->u.call);
    }
}

static const NodeConnKind conf_kinds[] = {{.kind = CONN_CONF_RELAY, .flags = 0}};

const NodeFeature conf_feature = {
    .name = "conf",
    .id = NODE_FEAT_CONF,
    .conn_kinds = conf_kinds,
    .n_conn_kinds = G_N_ELEMENTS(conf_kinds),
    .shared_init = conf_shared_init,
    .shared_fini = conf_shared_fini,
    .stop = conf_stop,
    .on_timer = conf_on_timer,
    .on_raw_udp = conf_raw_udp,
    .on_connected = conf_on_relay_connected,
    .on_frame = conf_on_relay_frame,
    .on_closed = conf_on_relay_closed,
    .on_event = conf_on_event,
};

/* ---- public API ---- */

bool node_conf_start(Node *n, const char *const *users, size_t count, TimeNs duration)
{
    CHECK(count >= 1 && count < NODE_CONF_MAX && duration > 0, "node_conf_start(%zu)", count);
    if (conf_cur(n) || n->voice != NODE_VOICE_NONE || n->role != NODE_ROLE_CLIENT || n->state != NODE_ST_ONLINE)
        return false;
    ConfState *c = conf_new(n, node__random_u32(n) | 1);
    c->organiser = true;
    c->mesh = n->sh->p.conf_mesh;
    c->st = CONF_LOCATING;
    c->duration = duration;
    env_random_bytes(&n->env, c->key, sizeof c->key);
    conf_self_info(n, &c->p[0]);
    c->n = (uint8_t)(count + 1);
    for (size_t i = 0; i < count; i++) {
        size_t ulen = strlen(users[i]);
        CHECK(ulen > 0 && ulen <= WIRE_USER_MAX, "conference user %s", users[i]);
        c->p[i + 1].user_hash = wire_user_hash(users[i], ulen);
        if (!mediapath_locate(n, c->id, users[i], ulen)) c->p[i + 1].state = 3;
    }
    c->t_step = node__timer_start(n, NODE_FEAT_CONF, n->sh->p.call_step_timeout_ns, TM_CONF_STEP);
    return true;
}

void node_conf_leave(Node *n)
{
    ConfState *c = conf_cur(n);
    if (!c) return;
    if (c->st == CONF_RUNNING) {
        conf_tell_all(n, CF_LEAVE);
        node__count(n, FM(n)->left, 1);
    }
    conf_free(n);
}

bool node_conf_info(const Node *n, size_t *participants, bool *is_host, size_t *streams_out,
                    size_t *streams_in)
{
    const ConfState *c = conf_cur(n);
    if (!c || c->st != CONF_RUNNING) return false;
    *participants = conf_live(c);
    *is_host = !c->mesh && c->self == c->host;
    *streams_out = c->streams_out;
    *streams_in = 0;
    for (int i = 0; i < c->n; i++) {
        MediaStats s;
        if (!c->p[i].rx) continue;
        media_rx_stats(c->p[i].rx, &s);
        *streams_in += s.packets_rx > 0;
    }
    return true;
}
