/* node_int: internals shared by the files of the node module (node.c,
 * client.c, natdet.c, supernode.c, loginsrv.c, websrv.c), like SQLite's
 * btreeInt.h. Not for use outside protocol/.
 *
 * Memory budget (DESIGN.md "Memory"): an idle logged-in client's protocol state, host
 * cache excluded, is at most 2 KiB: the Node struct, the client feature's
 * state (client_int.h), its connection table (grown on demand) and its
 * certificate, all counted through env_mem_alloc. Supernode state is a
 * separate allocation made only on promotion. tests/test_client.c
 * (test_client_idle_memory_under_2k) measures it.
 */
#ifndef SKYSIM_NODE_INT_H
#define SKYSIM_NODE_INT_H

#include "protocol/crypto.h"
#include "protocol/media.h"
#include "protocol/node.h"
#include "protocol/wire.h"

/* Login phases, for bytes and packets per phase (the login metrics). */
typedef enum NodePhase {
    PH_NONE = 0,
    PH_PROBE, /* UDP probes to host-cache entries */
    PH_SN,    /* TCP to a supernode: hello, connect */
    PH_AUTH,  /* login server exchange */
    PH_ALT,   /* UDP to ~22 nodes: alternate node table */
    PH_NAT,   /* STUN NAT detection */
    PH_HTTP,  /* installed / getlatestversion */
    PH_COUNT
} NodePhase;

/* Connection kinds. */
enum {
    CONN_FREE = 0,
    /* 1, 2: client.h; 3: websrv.h */
    CONN_IN_PENDING = 4, /* accepted, role known after the peer's hello */
    /* Owned by the supernode feature (supernode.h); named here because
     * SnClient.conn and SnPeer.conn (the tables below) index them and
     * features reading n->sn may check them. */
    CONN_SN_CLIENT,  /* supernode <- client */
    CONN_SN_PEER,    /* supernode <-> supernode */
    /* 7: loginsrv.h; 8: websrv.h; 32, 33: call.h; 34: conf.h */
};
/* CONN_SN_CLIENT and CONN_SN_PEER connections are admitted (NodeConn.aux
 * != 0: the client's slot + 1 once its CONNECT was accepted, 1 for a peer
 * once its SN_HELLO arrived); until then the plumbing gives every frame on
 * them to the supernode feature (NODE_CK_GATED), except the openings: a
 * CONNECT or SN_HELLO, and on a client connection the calls' relay binding
 * and relayed media (a TCP relay leg never attaches as a client). */
/* Connection states. */
enum { CS_CONNECTING = 0, CS_OPEN, CS_READY };
/* A client's voice session (Node.voice). */
typedef enum NodeVoice {
    NODE_VOICE_NONE = 0,      /* idle */
    NODE_VOICE_CALL,          /* in a two-party call (calls feature) */
    NODE_VOICE_CONF,          /* in a conference being set up (conference feature) */
    NODE_VOICE_CONF_RUNNING,  /* in a running conference */
} NodeVoice;
/* Hello roles. HELLO_CALL: a direct call-signalling connection (a31 "PUB:
 * caller -> callee directly"; calls to the phone gateway). */
enum { HELLO_CLIENT = 1, HELLO_SN = 2, HELLO_CALL = 3 };

#define NODE_RX_CAP (2 + WIRE_FRAME_MAX) /* reassembly buffer: one whole frame */

typedef struct NodeConn {
    EnvConn h;          /* env handle */
    EnvAddr peer;       /* remote address */
    uint8_t kind;       /* CONN_* */
    uint8_t state;      /* CS_* */
    uint8_t phase;      /* NodePhase charged with its bytes */
    uint8_t peer_role;  /* HELLO_* from the peer's hello */
    uint16_t rx_len;    /* bytes waiting in rx */
    uint16_t aux;       /* per kind: SN client slot; HTTP step */
    uint32_t tx_ctr;    /* frames sent (AES IV) */
    uint32_t rx_ctr;    /* frames received (AES IV) */
    uint8_t *rx;        /* NODE_RX_CAP bytes from env_mem_alloc while data is pending, or NULL */
    uint8_t tx_key[32]; /* AES-256 key of our direction */
    uint8_t rx_key[32]; /* AES-256 key of the peer's direction */
} NodeConn;

/* ==== Features: the plumbing's registry (see node.c) =====================
 *
 * node.c is plumbing: lifecycle, the connection table, framing, hellos and
 * stream keys, sending, UDP sealing and opening, byte accounting, timers
 * and routing. Everything a role does is a feature: a module with its own
 * header and state that describes itself to the plumbing with one const
 * NodeFeature table. node_shared_new_with() builds the world's routing
 * tables from the registered tables once; the plumbing then hands each
 * event to the feature that claimed it:
 *   - a decoded datagram by its message type (udp_types);
 *   - a TCP frame by its message type (tcp_types), else by the kind of the
 *     connection it came on (conn_kinds);
 *   - connect results, raw bytes, hellos and closes by connection kind;
 *   - a timer by its tag: tag = (feature id << 8) | kind, and the feature
 *     gets its kind back (node__timer_start builds the tag);
 *   - start, stop, raw datagrams (media demultiplexing before any decoding),
 *     accept decisions and events to every feature in registration order.
 * Two features claiming one message type or connection kind is a CHECK
 * failure at registration.
 *
 * Features never call each other. What one feature must tell another goes
 * through node__emit (the events below), and what many features share is
 * plumbing state in Node (addresses, sockets, the host cache, the uplink to
 * the node's supernode, the supernode tier's tables). A world may run any
 * subset of the features (node_shared_new_with): what no registered
 * feature takes is dropped (a frame counted as malformed, a pending
 * connection closed, a timer ignored). */

/* Feature ids. The id is the high byte of a feature's timer tags, so the
 * values are part of the timer encoding; 0 is the plumbing (no timers). */
typedef enum NodeFeatureId {
    NODE_FEAT_PLUMBING = 0, /* not a feature */
    /* Features that keep per-node state (slot id - 1 of Node.feat) come
     * first, up to NODE_FEAT_SLOTS. */
    NODE_FEAT_SEARCH = 1, /* global index, user search and presence (search.h) */
    NODE_FEAT_SUPERNODE,  /* the supernode role (supernode.c) */
    NODE_FEAT_CALL,       /* calls, relays and the phone gateway (call.c, relay.c, gateway.c) */
    NODE_FEAT_RELAY,      /* not registered: the calls feature's slot of relay sessions */
    NODE_FEAT_CONF,       /* conferences (conf.c) */
    NODE_FEAT_GATEWAY,    /* not registered: the calls feature's slot of gateway calls */
    NODE_FEAT_CLIENT,     /* login, keep-alive, failover, NAT detection (client.c, natdet.c) */
    NODE_FEAT_WEBSRV,     /* both ends of the HTTP exchanges (websrv.c) */
    NODE_FEAT_PRESENCE,   /* unused: presence is part of the search feature (search.h) */
    NODE_FEAT_LOGINSRV,   /* the login server (loginsrv.c) */
    NODE_FEAT_COUNT
} NodeFeatureId;

/* State slots in Node: features with ids 1..NODE_FEAT_SLOTS may keep
 * per-node state. Each slot costs every node 8 bytes (the idle-client budget of tests/test_client.c). */
#define NODE_FEAT_SLOTS 8

/* Flags of a connection kind a feature owns. */
enum {
    NODE_CK_RAW = 1,      /* unframed bytes (HTTP): on_raw gets them, no hello */
    NODE_CK_SN_TX = 2,    /* bytes sent on it count as supernode traffic */
    NODE_CK_NO_SN_RX = 4, /* bytes received on it are not supernode traffic (our own uplinks) */
    NODE_CK_GATED = 8,    /* while NodeConn.aux is 0 (not admitted yet) a frame whose type is
                             not in open_types goes to the kind's owner, whatever its type */
};
#define NODE_CK_OPEN_MAX 4
typedef struct NodeConnKind {
    uint8_t kind;  /* a CONN_* value, unique in the world */
    uint8_t flags; /* NODE_CK_* */
    /* NODE_CK_GATED: the frame types routed as usual before admission (the
     * openings: a login, a hello, a relay binding), 0-terminated. */
    uint8_t open_types[NODE_CK_OPEN_MAX];
} NodeConnKind;

/* A feature's decision on an accepted TCP connection (on_accept). */
typedef struct NodeAccept {
    uint8_t kind;       /* connection kind of the new slot */
    uint8_t hello_role; /* HELLO_* to send at once, 0: none (raw kinds) */
    uint16_t aux;       /* initial NodeConn.aux */
} NodeAccept;

/* Events between features (node__emit). Each is emitted by one feature and
 * delivered to every registered feature's on_event in registration order;
 * arg fields not named are zero. */
typedef enum NodeEvent {
    NODE_EV_LOGGED_IN = 1,      /* client: login completed, state ONLINE, uplink set */
    NODE_EV_SN_ATTACHED,        /* client: failover done, attached to a new supernode */
    NODE_EV_SN_STARTED,         /* this node now serves as a supernode (node__is_sn) */
    NODE_EV_SN_STOPPING,        /* this node stops serving as a supernode (still set) */
    NODE_EV_SN_CLIENT_ATTACHED, /* SN: client in slot accepted; buf/len: its user name */
    NODE_EV_SN_CLIENT_DETACHED, /* SN: the client in slot is gone (slot still valid) */
    NODE_EV_SN_CLIENT_TOUCHED,  /* SN: keep-alive from the client on connection idx */
    NODE_EV_SN_CONN_CLOSED,     /* SN: connection idx (any kind it owns) closed, slot released;
                                   emitted before the supernode releases its client slot */
    NODE_EV_NAT_DETECTED,       /* client: n->nat set by detection; was: the previous value
                                   (emitted before the detection's metrics and install record) */
    NODE_EV_INSTALL_CHANGED,    /* n->installed changed: the install record must be saved */
    NODE_EV_LOGIN_CERTIFYING,   /* login server: certificate for user buf/len about to go on idx */
    NODE_EV_SIGNAL,             /* signalling payload buf/len addressed to this node (calls) */
    NODE_EV_CLIENT_STARTED,     /* client: bound, install record loaded (n->installed), host
                                   cache loaded; the login is about to begin */
    NODE_EV_PROMOTE,            /* client: the node decided to serve as a supernode (its uplink
                                   is closed, public_addr set): the supernode role starts */
    NODE_EV_SN_FORWARD,         /* route FORWARD msg through the supernode tier; idx: the
                                   connection it came on, -1 our own (served by the supernode) */
    NODE_EV_CALL_UNCLAIMED,     /* calls: a call message msg (WIRE_CALL, WIRE_CALL_UDP or
                                   WIRE_CALL_MEDIA) that no call of this node claimed: a frame on
                                   connection idx, else (idx -1) a datagram from addr or a
                                   signalling payload (addr {0,0}); the conference feature
                                   takes its legs' messages here */
    NODE_EV_SN_CLIENT_NAT,      /* SN: the client in slot told its new NatType (clients[].nat) */
    NODE_EV_LOCATE,             /* calls: find user buf/len in the index (the search feature
                                   answers with NODE_EV_LOCATED, perhaps at once) */
    NODE_EV_SN_GOSSIP,          /* SN: a peer's SN_GOSSIP (msg), merged into the host cache */
    NODE_EV_LOCATED,            /* search: the lookup of user buf/len ended; msg: its
                                   SEARCH_RESULT (u.search: WIRE_SF_FOUND and the record), or
                                   NULL when no lookup could start */
    NODE_EV__END
} NodeEvent;
typedef struct NodeEventArg {
    int idx;            /* connection index, -1 none */
    uint16_t slot;      /* supernode client slot */
    uint8_t was;        /* NAT_DETECTED: previous NatType */
    EnvAddr addr;       /* SN_CLIENT_*: the client's identity address (public IP, port) */
    const uint8_t *buf; /* borrowed bytes (user name, payload), valid during the call */
    size_t len;         /* their length */
    const WireMsg *msg; /* SN_FORWARD: the message (borrowed) */
} NodeEventArg;

typedef struct NodeFeature {
    const char *name;                /* for messages */
    NodeFeatureId id;                /* its id (timer tags, state slot) */
    const uint8_t *udp_types;        /* datagram message types it handles */
    uint8_t n_udp_types;             /* entries of udp_types */
    const uint8_t *tcp_types;        /* frame types it handles on any connection */
    uint8_t n_tcp_types;             /* entries of tcp_types */
    const NodeConnKind *conn_kinds;  /* connection kinds it owns */
    uint8_t n_conn_kinds;            /* entries of conn_kinds */
    bool stun_server;                /* it answers STUN binding requests (on_stun) */
    bool stun_client;                /* it takes STUN responses (on_stun) */
    bool nack_client;                /* it takes NAcks (on_nack) */
    /* Per world: intern metrics, allocate feature data into sh->feat[id]
     * (not per node). False with err set on failure. Optional. */
    bool (*shared_init)(NodeShared *sh, const Env *world_env, GError **err);
    void (*shared_fini)(NodeShared *sh); /* frees sh->feat[id]; optional */
    /* node_start, after the plumbing set up the role (binding, host cache
     * for supernode roles); each feature checks n->role itself. */
    void (*start)(Node *n);
    /* node_stop, before the plumbing saves the host cache and closes every
     * connection; frees the feature's per-node state. */
    void (*stop)(Node *n, bool graceful);
    void (*on_timer)(Node *n, EnvTimer t, uint32_t kind); /* kind: low byte of its tag */
    /* Every datagram before STUN and decoding (media): true = consumed. */
    bool (*on_raw_udp)(Node *n, EnvAddr from, const uint8_t *buf, size_t len);
    /* STUN message (request if stun_server, response if stun_client); len: its bytes. */
    void (*on_stun)(Node *n, EnvSock s, EnvAddr from, const StunMsg *m, size_t len);
    void (*on_nack)(Node *n, EnvAddr from, uint16_t frame_id, EnvAddr seen);
    /* A decoded datagram of a type it claimed; len: datagram bytes. */
    void (*on_udp)(Node *n, EnvSock s, EnvAddr from, uint16_t frame_id, const WireMsg *m,
                   size_t len);
    /* An accepted connection: fill *out and return true to take it. */
    bool (*on_accept)(Node *n, EnvAddr peer, NodeAccept *out);
    /* The peer's hello arrived on idx (kind it owns, or CONN_IN_PENDING:
     * return true to take it and set its kind). It may close idx. */
    bool (*on_hello)(Node *n, int idx);
    void (*on_connected)(Node *n, int idx, int status); /* kinds it owns */
    void (*on_frame)(Node *n, int idx, const WireMsg *m); /* claimed types, kinds it owns */
    void (*on_raw)(Node *n, int idx, const uint8_t *buf, size_t len); /* NODE_CK_RAW kinds */
    /* A connection of a kind it owns is gone (slot already released). */
    void (*on_closed)(Node *n, int idx, int status);
    void (*on_event)(Node *n, NodeEvent ev, const NodeEventArg *arg);
} NodeFeature;

#define NODE_ROUTE_NONE 0xFF /* routing table entry: no feature */

/* Makes a world's shared state with exactly the given features, in that
 * order (borrowed; must outlive the world): tests
 * build a node with the plumbing and one feature. Errors as
 * node_shared_new. */
NodeShared *node_shared_new_with(const Env *world_env, const NodeParams *p,
                                 const NodeFeature *const *features, size_t n_features,
                                 GError **err);


/* Interned metric ids (per world; see env.h). */
typedef struct NodeMetrics {
    EnvMetric login_attempt, login_ok, login_fail, login_time, login_rounds, login_nodes;
    EnvMetric login_give_ups, login_eventual; /* retries after a give-up (a12) */
    EnvMetric login_ok_by[NAT_TYPE_COUNT], login_fail_by[NAT_TYPE_COUNT];
    EnvMetric login_time_by[NAT_TYPE_COUNT];
    EnvMetric phase_bytes[PH_COUNT], phase_pkts[PH_COUNT];
    EnvMetric nat_confusion[NAT_TYPE_COUNT][NAT_TYPE_COUNT], nat_total, nat_correct;
    EnvMetric nat_keeps_state; /* detections that found unsolicited state kept (stun.h) */
    EnvMetric sn_count, sn_promotions, sn_clients, sn_rejected, sn_shed, sn_forwarded;
    EnvMetric sn_moved, sn_nominations, sn_capped; /* the tier by demand (supernode.c, client.c) */
    EnvMetric hc_added, hc_evicted, hc_sweeps, udp_blocked, udp_skipped;
    EnvMetric sn_fwd_dup, sn_fwd_ttl, sn_fwd_rate, sn_unauth; /* flood hardening (supernode.c) */
    EnvMetric sn_bytes_in, sn_bytes_out, sn_stun_answered, sn_peer_signal;
    EnvMetric failover_time, failover_count, failover_relogin;
    EnvMetric keepalive_sent, poll_sent, poll_lost;
    EnvMetric malformed_udp, malformed_tcp, malformed_stun, nack_sent;
    EnvMetric signal_received, hc_size, hc_size_hourly, mem_client, http_installed, http_version, auth_ok,
        auth_refused;
} NodeMetrics;


struct NodeShared {
    NodeParams p;          /* parameters (copy) */
    Crypto *crypto;        /* owned */
    CryptoKey *server_key; /* owned: login server key pair; clients use the public half */
    CryptoKey **user_keys; /* owned: pool of per-login key pairs (NodeParams.user_key_pool) */
    uint16_t n_user_keys;  /* entries of user_keys */
    NodeMetrics m;         /* interned ids */
    MediaShared *media;    /* owned: per-world codec state of calls (media.h) */
    uint32_t *promoted;    /* owned: promoted clients serving as supernodes now, for the
                              experiment's cap NodeParams.sn_max_promoted (the one mutable
                              world-wide count; nodes hold sh as const) */
    const NodeFeature *feat[NODE_FEAT_COUNT]; /* registered features by id (borrowed) */
    const NodeFeature *order[NODE_FEAT_COUNT]; /* the same, in registration order */
    uint8_t nfeat;                             /* entries of order */
    uint8_t udp_route[256];                    /* datagram type -> feature id, NODE_ROUTE_NONE */
    uint8_t tcp_route[256];                    /* frame type -> feature id, NODE_ROUTE_NONE */
    uint8_t kind_route[256];                   /* connection kind -> feature id, NODE_ROUTE_NONE */
    uint8_t kind_flags[256];                   /* connection kind -> NODE_CK_* */
    const uint8_t *kind_open[256];             /* connection kind -> open_types (gated kinds) */
    uint8_t stun_server, stun_client, nack_client; /* feature ids, NODE_ROUTE_NONE */
    void *feat_data[NODE_FEAT_COUNT];          /* per-world data of each feature (its own) */
};

typedef struct SnClient {
    int conn;     /* conn index, -1 when free */
    EnvAddr addr; /* client's address as seen */
    uint32_t user_hash; /* wire_user_hash of its username (calls: locating users) */
    uint8_t nat;        /* its NatType as it detected it (CONNECT, WIRE_CM_NAT_NOTE): NAT_OPEN
                           clients may be called directly (a31); the index records it */
    bool eligible;      /* its last keep-alive said it could serve as a supernode (a40) */
    uint16_t fwd_tokens; /* FORWARD rate limit: tokens (supernode.c) */
    uint32_t fwd_ms;     /* when they were last refilled, ms of virtual time */
} SnClient;

typedef struct SnPeer {
    int conn;          /* conn index, -1 none */
    EnvAddr main;      /* peer's main address (from SN_HELLO) */
    uint16_t alt_port; /* peer's second UDP port */
    bool admitted;     /* its SN_HELLO came */
} SnPeer;

#define SN_PEER_MAX 16
/* Supernode state, allocated on promotion (or at start for SN roles). */
/* Duplicate suppression of what the supernode tier floods (FORWARD,
 * LOCATE): fingerprints of the last SN_SEEN_MAX messages this supernode
 * passed on, each remembered for SN_SEEN_MS, longer than a message takes
 * across the mesh and shorter than a signalling retransmission. */
#define SN_SEEN_MAX 64
/* Call signalling bridges (a31 "NAT: via an online public node"): a caller
 * that found its callee in the index opens TCP to the callee's supernode,
 * which passes the call's messages between that connection and its client. */
#define SN_BRIDGE_MAX 16
typedef struct SnBridge {
    int conn;       /* the caller's signalling connection (CONN_CALL_SIG), -1 free */
    EnvConn h;      /* its handle (slots are reused) */
    EnvAddr caller; /* the caller's identity (where the client's answers are addressed) */
    EnvAddr client; /* our client's identity */
} SnBridge;
#define SN_SEEN_MS 2000
typedef struct SnSeen {
    uint32_t fp; /* fingerprint, 0: empty */
    uint32_t ms; /* when it was passed on, ms of virtual time */
} SnSeen;

/* Rate limits on what the supernode tier floods (FORWARD, LOCATE), as
 * token buckets: a client may have SN_FWD_CLIENT_RATE messages a second
 * passed on by its supernode (bursts of twice that), a peer link
 * SN_FWD_PEER_RATE; peer links beyond the peer table share one bucket of
 * SN_FWD_PEER_RATE. Real signalling is a few messages a call: the rates
 * are far above that and far below a flood. */
#define SN_FWD_CLIENT_RATE 10
#define SN_FWD_PEER_RATE 100
typedef struct SnBucket {
    int conn;        /* the connection it is for (reset when another takes the slot) */
    uint16_t tokens; /* messages left */
    uint32_t ms;     /* last refill, ms of virtual time */
} SnBucket;

typedef struct SnState {
    uint16_t cap;             /* capacity in clients */
    uint16_t nclients;        /* attached clients */
    uint16_t slots;           /* allocated SnClient slots */
    uint8_t npeers;           /* peer links (connected or connecting) */
    SnPeer peer[SN_PEER_MAX]; /* peer links */
    SnClient *clients;        /* slots entries (env_mem_alloc) */
    uint8_t seen_pos;         /* next entry of seen to overwrite */
    SnSeen seen[SN_SEEN_MAX]; /* recently flooded messages (node__sn_seen) */
    SnBucket peer_fwd[SN_PEER_MAX], others; /* rate limits by peer-table slot; other peer links */
    SnBridge bridge[SN_BRIDGE_MAX];         /* call signalling bridges (call.c) */
} SnState; /* the shared part; supernode.c keeps its own fields around it */

struct Node {
    Env env;                      /* the node's env (copy) */
    const NodeShared *sh;         /* world-shared state (borrowed) */
    uint32_t id;                  /* node id */
    uint8_t role;                 /* NodeRole */
    uint8_t true_nat;             /* NatType label of the host (env_host_nat_label; NAT_UNKNOWN
                                     when the env has none): login and NAT-detection metrics
                                     only, never acted on */
    uint8_t state;                /* NodeState */
    uint8_t nat;                  /* detected NatType */
    bool installed;               /* "installed" was acknowledged once (a46) */
    uint8_t ulen;                 /* username bytes */
    uint16_t port;                /* listening port (UDP and TCP) */
    uint32_t uplink_kbps;         /* promotion input */
    uint32_t cpu_mhz;             /* promotion input */
    uint16_t cfg_capacity;        /* configured SN capacity, 0 default */
    /* The one voice session of a client (NodeVoice): a call or a
     * conference, kept by the calls and conference features; each refuses
     * a second session while the other holds one. */
    uint8_t voice;
    /* The NAT detection found that a packet arriving unsolicited leaves
     * state at our NAT that moves our next flow to that sender (plain
     * Linux MASQUERADE; stun_keeps_unsolicited): in calls we punch first
     * (call.c). Fills a padding byte. */
    bool nat_keeps_state;
    char user[WIRE_USER_MAX + 1]; /* username */
    uint8_t pwhash[16];           /* MD5(user "\nskyper\n" password) (a15) */
    EnvAddr public_addr;          /* believed public UDP address; ip 0 when unknown */
    EnvAddr local;                /* local address of the main UDP socket */
    TimeNs started_at;            /* start() time, for uptime */
    EnvSock udp;                  /* main UDP socket */
    EnvSock tcp_main;             /* TCP listener on port */
    EnvSock tcp_80, tcp_443;      /* TCP listeners on 80 and 443 when bindable (a9) */
    HostCache hc;                 /* host cache (clients and supernodes) */
    NodeConn *conns;              /* connection table (env_mem_alloc) */
    uint16_t nconns;              /* slots in use or free below this */
    uint16_t conns_cap;           /* allocated slots */
    /* The client's link to its supernode, set by the client feature and
     * used by every feature that talks through the supernode (search,
     * presence, calls): its connection index (-1 none) and address. */
    int uplink;
    EnvAddr uplink_addr;
    /* Signalling on this node's link (every message sent or received
     * over TCP or UDP except voice: UDP media and media frames over a TCP
     * relay): running totals, wrapping,
     * read as differences (a call's setup cost, call.c), and the size of
     * the last message received (so a handler can count the message that
     * woke it). node.c keeps them. */
    uint32_t sig_bytes, sig_pkts;
    uint16_t sig_last_rx;
    /* Per-node state of the features with ids 1..NODE_FEAT_SLOTS (slot
     * id - 1), each owned by its feature, NULL when it has none.
     * Features reach their state with node__feat; the supernode's slot
     * alone has a name, because others read its tables. */
    union {
        void *feat[NODE_FEAT_SLOTS]; /* by feature id - 1 */
        struct {
            void *srch_;       /* NODE_FEAT_SEARCH: its own (search_int.h), by node__feat */
            /* NODE_FEAT_SUPERNODE: the supernode tier's tables while this
             * node serves as a supernode (attached clients, peer links),
             * NULL otherwise. Made and freed by the supernode feature; the
             * one slot other features may read (search, presence, calls
             * and relays serve the attached clients). */
            SnState *sn;
            /* NODE_FEAT_CLIENT (client_int.h) and NODE_FEAT_WEBSRV (websrv.c)
             * use node__feat. */
        };
    };
};

/* ---- node.c: plumbing ---- */
#define NODE_M(n) (&(n)->sh->m)
void node__count(Node *n, EnvMetric id, int64_t delta);
void node__account(Node *n, NodePhase ph, size_t bytes); /* one packet of bytes */
/* Adds a connection slot; returns its index (the table may move). */
int node__conn_add(Node *n, EnvConn h, EnvAddr peer, uint8_t kind, uint8_t phase);
int node__conn_find(const Node *n, EnvConn h);
NodeConn *node__conn(Node *n, int idx);
/* Releases slot idx: graceful FIN, or RST when abort. */
void node__conn_close(Node *n, int idx, bool abort);
/* Aborts connection idx (RST) and then tells the feature owning its kind
 * that it is gone (on_closed with ENV_ERR_RESET), as if the peer had
 * reset it: how one feature drops another's connection. */
void node__conn_drop(Node *n, int idx);
/* Sends our hello on an open connection (derives our key). */
void node__conn_hello(Node *n, int idx, uint8_t role);
/* Sends one message as an encrypted frame. Returns an EnvStatus. */
int node__send_msg(Node *n, int idx, const WireMsg *m);
/* Sends raw bytes (HTTP). */
int node__send_raw(Node *n, int idx, const uint8_t *buf, size_t len);
/* Sends one obfuscated UDP message from socket s. */
void node__udp_send_msg(Node *n, EnvSock s, EnvAddr to, uint16_t frame_id, const WireMsg *m,
                        NodePhase ph);
/* Starts a TCP connection of a kind; returns the index or -1 on a synchronous
 * failure. */
int node__connect(Node *n, EnvAddr to, uint8_t kind, uint8_t phase);
uint32_t node__random_u32(Node *n);
/* Timers of feature f: the tag carries f, and its on_timer gets kind
 * (< 256) back. */
EnvTimer node__timer_start(Node *n, NodeFeatureId f, TimeNs delay_ns, uint8_t kind);
EnvTimer node__timer_start_periodic(Node *n, NodeFeatureId f, TimeNs first_ns, TimeNs period_ns,
                                    uint8_t kind);
/* Delivers ev to every registered feature (registration order). arg may
 * be NULL (all fields zero). */
void node__emit(Node *n, NodeEvent ev, const NodeEventArg *arg);
/* The per-node state of feature f (NULL when it has none; f at most
 * NODE_FEAT_SLOTS) and its setter (the feature owns what it stores),
 * and the world data of feature f. */
static inline void *node__feat(const Node *n, NodeFeatureId f)
{
    CHECK(f > NODE_FEAT_PLUMBING && f <= NODE_FEAT_SLOTS, "feature %d has no state slot", f);
    return n->feat[f - 1];
}
static inline void node__feat_set(Node *n, NodeFeatureId f, void *state)
{
    CHECK(f > NODE_FEAT_PLUMBING && f <= NODE_FEAT_SLOTS, "feature %d has no state slot", f);
    n->feat[f - 1] = state;
}
static inline void *node__feat_shared(const NodeShared *sh, NodeFeatureId f)
{
    return sh->feat_data[f];
}
/* Supernodes: whether a flooded message with fingerprint fp (any 32-bit
 * digest of what identifies it) was passed on in the last SN_SEEN_MS, and
 * remembers it when not; counts supernode.forward.duplicates when it was.
 * Needs n->sn. */
bool node__sn_seen(Node *n, uint32_t fp);
/* Supernodes: whether connection idx (-1: our own) may have one more
 * flooded message passed on now (SN_FWD_* token buckets); counts
 * supernode.forward.rate_limited when not. Needs n->sn. */
bool node__sn_rate_ok(Node *n, int idx);
/* Whether a is one of the bootstrap supernodes "hard-coded in the binary" (a6). */
bool node__is_bootstrap(const Node *n, EnvAddr a);
/* Whether host-cache entry x is a live member of the supernode tier as this
 * node knows it: not failing, heard alive within sn_entry_ttl_ns, not this
 * node, not a bootstrap (the entry point, not part of the tier). The
 * supernode's gossip and handouts and the index's slots (search.c) use
 * the same test. */
bool node__sn_fresh(const Node *n, const HostCacheEntry *x);
/* Binds the main UDP port and the TCP listeners (port, 80, 443 where
 * bindable, a9). False when the main port is taken. */
bool node__bind(Node *n);

#endif
