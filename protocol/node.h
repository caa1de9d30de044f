/* node: the public face of the protocol: a node of the overlay in one of
 * its roles, the NodeOps table through which the env delivers events, the
 * per-world shared state and the parameters.
 *
 * Layer: protocol/. The host (sim/world, a real-sockets env, tests) does:
 *
 *     NodeShared *sh = node_shared_new(&world_env, &params, &err);   once
 *     Node *n = node_new(&node_env, sh, &cfg);                       per node
 *     node_ops.start(n);                 the node comes online
 *     node_ops.on_datagram(n, ...) ...   events, from the env's loop only
 *     node_ops.stop(n, graceful);        the node goes offline
 *     node_free(n);
 *     ... later: node_new + start again with the same store: the node comes
 *     back with its persisted host cache, listening port and NAT type.
 *
 * Roles: clients (promoted to supernode when eligible, docs/protocol-notes.md a40),
 * dedicated supernodes, bootstrap supernodes (a6), the login server (a8,
 * a14), the web server (a46) and the phone gateway (a18). See client.c,
 * natdet.c, supernode.c, loginsrv.c, websrv.c and gateway.c for the
 * behaviour and its sources.
 *
 * Which Skype version: the 0.97 behaviour of Baset & Schulzrinne's report is
 * the default wherever sources differ (docs/protocol-notes.md,
 * "Which Skype is this?"), except where the design asks otherwise (TCP fallback order port ->
 * 443 -> 80 of later clients, a11; AES-256 on TCP).
 */
#ifndef SKYSIM_NODE_H
#define SKYSIM_NODE_H

#include "protocol/env.h"
#include "protocol/hostcache.h"
#include "protocol/media.h"
#include "protocol/stun.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum NodeRole {
    NODE_ROLE_CLIENT = 0,       /* ordinary client; promoted when eligible */
    NODE_ROLE_SUPERNODE = 1,    /* dedicated supernode: always a supernode */
    NODE_ROLE_BOOTSTRAP = 2,    /* bootstrap supernode (a6): a dedicated SN on 33033 */
    NODE_ROLE_LOGIN_SERVER = 3, /* authenticates users, certifies their keys (a14) */
    NODE_ROLE_WEB_SERVER = 4,   /* answers "installed" and "getlatestversion" (a46) */
    NODE_ROLE_GATEWAY = 5,      /* phone gateway on 12340 (a18): answers calls to phone
                                   numbers with G.729 media (gateway.c; SkypeOut, a18) */
} NodeRole;

typedef enum NodeState {
    NODE_ST_OFFLINE = 0,    /* not started, or stopped */
    NODE_ST_LOGGING_IN = 1, /* login rounds running */
    NODE_ST_ONLINE = 2,     /* logged in (a client attached to an SN, or a supernode) */
    NODE_ST_FAILOVER = 3,   /* lost its supernode, reconnecting */
    NODE_ST_FAILED = 4,     /* login failed (rounds exhausted or authentication refused) */
    NODE_ST_SERVING = 5,    /* a server role (login server, web server, dedicated SN) */
} NodeState;

#define NODE_BOOTSTRAP_MAX 16
#define NODE_ALT_MAX 22 /* alternate node table size (DESIGN.md: UDP to about 22 nodes at the end of login) */
#define NODE_SEARCH_WAVES_MAX 16 /* search waves (scenario: 1 to 16) */

/* Index organisations of the global user index (search.c). */
enum { NODE_SEARCH_EXPANDING = 0, NODE_SEARCH_DHT = 1, NODE_SEARCH_SLOTS = 2 };

/* Parameters shared by all nodes of a world (the scenario's protocol
 * section). node_params_default() gives the measured defaults. */
typedef struct NodeParams {
    /* Addresses "hard-coded in the binary". */
    EnvAddr bootstrap[NODE_BOOTSTRAP_MAX]; /* a6: seven on port 33033 */
    uint8_t n_bootstrap;                   /* entries of bootstrap in use */
    EnvAddr login_server;                  /* a8: 80.160.91.11:33033 (0.97) */
    EnvAddr web_server;                    /* a46: the update server, port 80 */
    unsigned server_key_bits;              /* login server RSA key: 1536 (a15) or 2048 (a16) */
    unsigned user_key_bits;                /* per-login user key: 1024 (a15) */
    uint16_t user_key_pool; /* per-login keys are drawn from this many key pairs generated
                               once per world (the keygen's CPU cost is still charged per
                               login): 32. 0: a fresh key pair per login, as the client does,
                               at ~10 ms of real CPU each, which dominates large runs */

    /* Login (a10, a11). */
    uint8_t login_rounds;          /* rounds before "login failure": 5 (a10) */
    uint8_t probes_per_round;      /* UDP probes per round, best host-cache entries first: 8 */
    uint8_t probes_first_login;    /* at least this many bootstrap SNs on a first login: 4 (a6) */
    uint8_t tcp_targets_per_round; /* supernodes tried over TCP per round: 2 */
    TimeNs probe_wait_ns;          /* wait for UDP answers before TCP: 5 s (a10) */
    TimeNs round_wait_ns;          /* wait after a failed round: 6 s (a10) */
    TimeNs login_giveup_ns;        /* a login gives up after this long with no supernode
                                      answering: 8 min (a12, 2.0) */
    TimeNs login_full_wait_max_ns; /* rounds that supernodes answered "full" go on; the wait
                                      after one doubles from round_wait up to this: 2 min */
    TimeNs login_pause_ns;         /* after the last round fails, the client pauses this long
                                      and logs in again: 30 min (a12); 0: it stays logged out */
    TimeNs tcp_timeout_ns;         /* our guard on one TCP attempt (connect + answer): 5 s */
    uint16_t fallback_ports[2];    /* after the SN's own port: 443 then 80 (a11) */
    TimeNs auth_timeout_ns;        /* login-server exchange: 15 s */
    uint8_t alt_targets;           /* nodes pinged at the end of login: 22 */
    TimeNs alt_wait_ns;            /* wait for their answers: 5 s */

    /* Keep-alive, polls, failover (a13, a24, a25). */
    TimeNs keepalive_ns;         /* client -> SN refresh: 60 s (a24) */
    TimeNs keepalive_timeout_ns; /* no answer within: SN declared dead: 20 s */
    uint8_t keepalive_misses;    /* keep-alives in a row left unanswered (each for
                                    keepalive_timeout_ns) before the SN is declared lost: 3 */
    TimeNs poll_ns;              /* UDP polls of known peers: every 20 s (a25) */
    uint8_t poll_divisor;        /* poll 1/poll_divisor of the alternate table: 3 (a25) */
    uint8_t poll_miss_max;       /* unanswered polls before an entry is dropped: 3 */
    uint8_t failover_targets;    /* SNs tried (alternates first) before a full re-login: 8 */

    /* NAT detection. */
    TimeNs stun_rto_ns;    /* first retransmission timeout: 500 ms (RFC 5389 §7.2.1) */
    uint8_t stun_tries;    /* requests per test before "no answer": 3 */
    TimeNs nat_refresh_ns; /* periodic re-detection: 1 h (a25's hourly sweep) */

    /* Supernodes (a40, a42, a47; docs/overlay.md). A client is eligible when
     * its own NAT detection says it is on the open Internet and its uplink,
     * CPU and uptime pass the thresholds; it says so in its keep-alives and
     * is promoted when its supernode nominates it (the tier grows by demand). */
    bool promotion_enabled;      /* false in dedicated-supernode mode */
    uint32_t sn_min_uplink_kbps; /* promotion threshold on uplink: 1000 */
    uint32_t sn_min_cpu_mhz;     /* promotion threshold on CPU: 2000 (a desktop) */
    TimeNs sn_min_uptime_ns;     /* promotion threshold on uptime: 10 min */
    uint32_t sn_max_promoted;    /* promoted supernodes in the world at once, 0: no cap (the
                                    scenario's elected-mode supernodes.count) */
    uint16_t sn_capacity;        /* clients per SN (a47: "several hundred"): 500 */
    uint8_t sn_nominate_load;    /* an SN this loaded (percent of capacity) nominates an
                                    eligible client of its own, one a maintenance period: 90 */
    uint8_t sn_move_per_maint;   /* clients a bootstrap SN moves to ordinary SNs with room,
                                    per maintenance period: 8 */
    TimeNs sn_entry_ttl_ns;      /* an SN hands out and gossips only SNs heard alive within: 10 min */
    uint8_t sn_peer_links;       /* TCP links an SN keeps to other SNs: 3 */
    uint8_t hc_handout;          /* host-cache entries handed out per answer: 8 */
    TimeNs sn_maint_ns;          /* SN upkeep (peer links, gossip, demand) period: 30 s */
    uint16_t hostcache_cap;      /* host cache entries: 200 (a1) */
    TimeNs hc_refresh_ns;        /* client's host-cache refresh sweep: 1 h (a25) */
    uint8_t hc_sweep_entries;    /* entries asked of the SN per sweep (at login too): 100 */
    uint8_t fw_udp_probes;       /* probes left unanswered, with no UDP answer at all, before
                                    the client concludes UDP is blocked and logs in over TCP
                                    only: 30 */

    /* ---- search/presence (search.c, presence.c; a27-a30, a42) ---- */
    uint8_t search_mode;                           /* NODE_SEARCH_SLOTS (default), _EXPANDING or
                                                      _DHT */
    uint8_t search_waves;                          /* entries of search_fanout in use: 2 */
    uint16_t search_fanout[NODE_SEARCH_WAVES_MAX]; /* SNs per wave: 4, then 8 (a27; 8/16 a28);
                                                      dht: [0] is the lookup parallelism */
    TimeNs search_timeout_ns;                      /* wait for answers per wave: 5 s */
    TimeNs presence_ttl_ns;                        /* found if online within: 72 h (a29) */
    uint8_t dht_replicas;                          /* SNs storing each DHT entry: 2 */
    uint8_t slot_size;                             /* slots: SNs storing each user's record, 10
                                                      (a42: slots of 9-10) */
    TimeNs index_republish_ns;                     /* slots: an attached client's record is
                                                      published again this often: 20 min */
    bool ring_exchange;                            /* slots: the ring's anti-entropy (SN_RING
                                                      to one member each upkeep): on */

    /* ---- calls and relays (call.c, relay.c; a31, a32, a48) ---- */
    MediaConfig media;             /* the voice stream of calls */
    TimeNs call_step_timeout_ns;   /* locate, invite, relay path: each step within: 10 s */
    TimeNs punch_timeout_ns;       /* hole punching before relaying: 3 s */
    TimeNs punch_interval_ns;      /* spacing of punching packets: 100 ms */
    TimeNs relay_bind_timeout_ns;  /* one relay candidate answers within: 2 s */
    TimeNs media_timeout_ns;       /* no media this long: the path is lost: 5 s */
    uint32_t relay_call_bytes_per_s; /* per relayed call and direction, B/s: media_relay_cap_default
                                        (a48's 4 KB/s, more when the stream needs it) */
    uint16_t relay_max_calls;      /* relayed calls one node carries at once: 16 */
    uint8_t relay_candidates;      /* relays tried per (re)establishment: 4 */
    bool conf_mesh;                /* conferences: full mesh instead of a mixing host (a43) */
    bool direct_signalling;        /* a31 "PUB: caller -> callee directly": a caller opens TCP
                                      straight to a callee on the open Internet: default on */
    bool call_locate_flood;        /* calls find the callee by the LOCATE flood of the
                                      supernode links (the first implementation, for
                                      comparison) instead of the index: default off */
    EnvAddr gateway;               /* phone gateway "hard-coded in the binary", port 12340
                                      (a18; the address is illustrative) */
    uint16_t gateway_max_calls;    /* phone calls one gateway carries at once: 256 */
} NodeParams;

/* Fills p with the defaults quoted above. */
void node_params_default(NodeParams *p);

/* Per-world state shared by all nodes: the parameters, the crypto context,
 * the login server's RSA key (whose public half is "embedded in every
 * client", a15) and the interned metric ids. Created once per world with
 * the world's env (for interning and the key's random draws). */
typedef struct NodeShared NodeShared;
NodeShared *node_shared_new(const Env *world_env, const NodeParams *p, GError **err);
void node_shared_free(NodeShared *sh); /* NULL is a no-op; after every node is freed */
const NodeParams *node_shared_params(const NodeShared *sh);

/* Per-node configuration, copied by node_new (strings too). */
typedef struct NodeConfig {
    NodeRole role;        /* what the node is */
    uint32_t id;          /* node id, for logs and forwarding */
    const char *username; /* clients: <= 31 bytes; borrowed by node_new only */
    const char *password; /* clients: hashed by node_new (a15), not kept */
    uint32_t uplink_kbps; /* promotion input */
    uint32_t cpu_mhz;     /* promotion input */
    uint16_t port;        /* listening port; 0: clients draw one at first install,
                             servers use 33033 (SN, bootstrap, login) or 80 (web) */
    uint16_t sn_capacity; /* supernode roles: clients; 0: the params' default */
} NodeConfig;

typedef struct Node Node;

/* Creates a node (offline). env is copied (its ctx must outlive the node);
 * sh is borrowed and must outlive the node. Memory comes from env_mem_alloc. */
Node *node_new(const Env *env, const NodeShared *sh, const NodeConfig *cfg);
/* Frees a stopped (or never started) node. NULL is a no-op. */
void node_free(Node *n);

/* Events from the env to the node. All handles are the env's; a node
 * ignores events for handles it does not know (stale). */
typedef struct NodeOps {
    int version; /* ENV_VERSION this table matches */
    /* Comes online: binds its ports, loads its store, starts its role. */
    void (*start)(Node *n);
    /* Goes offline. graceful: persists the host cache and closes
     * connections with FIN; otherwise (crash) aborts them and persists
     * nothing more. Afterwards the node holds no handle and no timer. */
    void (*stop)(Node *n, bool graceful);
    void (*on_timer)(Node *n, EnvTimer t, uint32_t tag);
    /* A datagram for socket s from `from` (buf borrowed for the call). */
    void (*on_datagram)(Node *n, EnvSock s, EnvAddr from, const uint8_t *buf, size_t len);
    /* A connection accepted on listener l from peer. */
    void (*on_tcp_accept)(Node *n, EnvSock l, EnvConn c, EnvAddr peer);
    /* Outcome of tcp_connect: ENV_OK or ENV_ERR_REFUSED/TIMEOUT/UNREACH. */
    void (*on_tcp_connected)(Node *n, EnvConn c, int status);
    /* Bytes of the stream (any split). */
    void (*on_tcp_data)(Node *n, EnvConn c, const uint8_t *buf, size_t len);
    /* The peer closed (ENV_ERR_CLOSED) or reset (ENV_ERR_RESET), or the
     * connection timed out (ENV_ERR_TIMEOUT). The handle is dead. */
    void (*on_tcp_closed)(Node *n, EnvConn c, int status);
} NodeOps;

extern const NodeOps node_ops;

/* ---- Read-only queries (world metrics, tests) ---- */
NodeState node_state(const Node *n);
bool node_is_supernode(const Node *n);
NatType node_nat_detected(const Node *n);
bool node_nat_keeps_state(const Node *n); /* detection: unsolicited packets leave NAT state */
EnvAddr node_supernode_addr(const Node *n); /* client's SN; {0,0} when none */
EnvAddr node_public_addr(const Node *n);    /* learned public UDP address; {0,0} if unknown */
uint16_t node_listen_port(const Node *n);
const HostCache *node_hostcache(const Node *n);
/* The client's login phase as a name ("idle", "round_wait", "probing",
 * "sn_tcp", "auth", "online", "failover", "failed"); "idle" for servers.
 * Static string. */
const char *node_login_phase(const Node *n);
size_t node_alt_count(const Node *n);
EnvAddr node_alt_get(const Node *n, size_t i);
uint16_t node_sn_client_count(const Node *n); /* supernodes: attached clients */
/* Bytes of the client's certificate (0 before login); borrowed. */
const uint8_t *node_cert(const Node *n, size_t *len);

/* ---- Control ---- */
/* Supernodes: sets the capacity; clients beyond it are shed (told to move,
 * with alternatives, and disconnected), newest first. */
void node_sn_set_capacity(Node *n, uint16_t cap);
/* Clients: sends signalling (opaque payload, <= 700 bytes) to the node at
 * dst through the supernodes (FORWARD, hop limit 3): the own SN delivers
 * it to dst if dst is its client, else passes it to its peer SNs. Returns
 * false when not attached to a supernode. The receiving client counts it
 * ("signal.received"); the calls issue gives it a meaning. */
bool node_signal_send(Node *n, EnvAddr dst, const uint8_t *buf, size_t len);
/* Login server: adds or replaces a user in the server's store (persisted
 * through env_store_put as the MD5 credential hash of a15). */
void node_loginsrv_user_add(Node *n, const char *user, const char *password);

/* ---- search/presence (search.c, presence.c) ---- */
/* Clients (and supernodes): searches the global index for user (borrowed,
 * <= 31 bytes). The outcome arrives later and is counted: "search.success"
 * or "search.failure", "search.latency_s", "search.messages",
 * "search.supernodes_contacted". Returns false (nothing counted) when the
 * node is not logged in or has PRESENCE/search slots all busy. */
bool node_search(Node *n, const char *user);
/* Login server: stores user's buddy list (n names, borrowed; at most
 * NODE_BUDDY_MAX are kept), sent to the client at each login. */
#define NODE_BUDDY_MAX 32
void node_loginsrv_buddies_set(Node *n, const char *user, const char *const *buddies, size_t count);
/* Clients: buddies in the list, and whether buddy `user` is seen online. */
size_t node_buddy_count(const Node *n);
bool node_buddy_online(const Node *n, const char *user);

/* ---- Calls (call.c, relay.c; a31, a32) ----
 * One call at a time per node. node_call locates the callee through the
 * supernodes, signals through them (INVITE/ANSWER with a17's 8-byte
 * challenges and a session key), then tries the media paths in order:
 * direct UDP, hole punching, UDP relay, TCP relay (a31, a32). */
typedef enum NodeCallPath {
    NODE_CALL_PATH_NONE = 0,
    NODE_CALL_PATH_DIRECT = 1,       /* UDP, both ends public and unfiltered */
    NODE_CALL_PATH_HOLE_PUNCHED = 2, /* UDP through NATs/firewalls after punching */
    NODE_CALL_PATH_UDP_RELAY = 3,    /* UDP through a relay */
    NODE_CALL_PATH_TCP_RELAY = 4,    /* through a relay, TCP on at least one leg */
    NODE_CALL_PATH_COUNT
} NodeCallPath;
typedef enum NodeCallState {
    NODE_CALL_IDLE = 0,   /* no call */
    NODE_CALL_SETUP = 1,  /* locating, inviting, finding a path */
    NODE_CALL_ACTIVE = 2, /* media flowing both ways */
} NodeCallState;
/* "direct", "hole_punched", "udp_relay", "tcp_relay" ("none" for NONE). */
const char *node_call_path_name(NodeCallPath p);
/* Calls user `callee` (NUL-terminated) for duration (> 0) once connected.
 * False when the node is not online or already in a call. */
bool node_call(Node *n, const char *callee, TimeNs duration);
/* Calls phone number `number` (NUL-terminated digits, <= 31 bytes) for
 * duration (> 0) once connected, through the phone gateway of the params
 * (a18): signalling over a direct TCP connection to the gateway (port
 * 12340, then 443 and 80), media with the G.729 profile (a38) over the
 * same path choices as node_call (direct UDP, UDP through the own NAT,
 * UDP or TCP relay). Counted like calls ("call.*", the matrix row
 * "call.matrix.<caller>.pstn.<path>"). False when the node is not online
 * or already in a call. */
bool node_call_phone(Node *n, const char *number, TimeNs duration);
/* Gateways: phone calls carried now. */
uint16_t node_gateway_calls(const Node *n);
/* Puts the node's connected call on hold (on) or resumes it (a36): while
 * either end holds, both send a header-only packet about every 1/3 s
 * instead of voice; the peer learns it from those packets. Counted in
 * "call.holds". False without a connected call or when nothing changes. */
bool node_call_hold(Node *n, bool on);
/* Ends the node's call (BYE to the peer); no-op without a call. */
void node_call_hangup(Node *n);
NodeCallState node_call_state(const Node *n);
NodeCallPath node_call_path(const Node *n); /* NONE until chosen */
EnvAddr node_call_relay(const Node *n);     /* relay in use; {0,0} when none */
uint16_t node_relay_sessions(const Node *n); /* supernodes: relayed calls carried now */

/* ---- Conferences (conf.c; a43, a44) ----
 * Starts a conference of this node and `count` other users (usernames,
 * borrowed) for duration. The node locates and invites them; the most
 * powerful participant who joined (CPU, then uplink) becomes the mixing
 * host whoever organised it; the others send their stream to the host,
 * which sends each a mix of the others (2(N-1) streams at the host), or,
 * with NodeParams.conf_mesh, everybody sends to everybody (N(N-1)).
 * False when the node is not online or already in a call/conference.
 * While in a conference node_call_state is SETUP, then ACTIVE. */
#define NODE_CONF_MAX 25
bool node_conf_start(Node *n, const char *const *users, size_t count, TimeNs duration);
/* Leaves the conference (the others go on); no-op without one. */
void node_conf_leave(Node *n);
/* In a running conference: participants, whether this node is the host,
 * and the media streams this node sends and receives now. */
bool node_conf_info(const Node *n, size_t *participants, bool *is_host, size_t *streams_out,
                    size_t *streams_in);

#endif
