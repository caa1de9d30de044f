/* wire: the binary encoding of every overlay message, and the obfuscation
 * (UDP, RC4) and encryption (TCP, AES-256) envelopes around it.
 *
 * Layer: protocol/, above crypto, below the state machines. Every byte the
 * protocol sends is produced here, so byte counts in results are counts of
 * real bytes. Decoding is strict: every length is checked against the bytes
 * that are really there, unknown types and versions are rejected, trailing
 * garbage is rejected; a decoder never reads past its end. The caller drops
 * and counts what a decoder rejects (metric "wire.malformed.*").
 *
 * Sources (docs/protocol-notes.md):
 *  - UDP frame ("start of message"): 2-byte frame ID, random in a query and
 *    copied into the reply, then a function byte of which only the bits of
 *    mask 0x8f are meaningful, the others random (a18).
 *  - UDP obfuscation: RC4 keyed from CRC32(source IP, destination IP, frame
 *    ID) XOR a 32-bit IV carried in clear (a19). The 32-bit seed is expanded
 *    to an 80-byte RC4 key (BH-EU 2006 size, a19) by a fixed splitmix64
 *    sequence; the real expansion is undocumented. A CRC32 of the plaintext
 *    travels inside the ciphertext, so a receiver that computes a different
 *    seed (the sender used a wrong public IP) sees a bad CRC.
 *  - NAck: unencrypted answer to a datagram that does not decrypt, carrying
 *    the sender's public address as seen by the receiver: 11 bytes (a20, a22
 *    U2). Function 0x77 (0x77 & 0x8f = 0x07).
 *  - TCP: the first segment of each direction is a 14-byte clear hello whose
 *    first 4 bytes are the stream's key seed (a21). Unlike the measured
 *    clients (RC4, a21) the stream is AES-256-CTR, a deliberate departure so that signalling pays the real AES-256 cost (docs/protocol-notes.md): key =
 *    SHA-256(seed || "skysim-tcp"), one IV per frame (direction-local frame
 *    counter), frames are a 2-byte clear length plus ciphertext.
 *
 * Versioning: every plaintext body starts with WIRE_VERSION and its type; a
 * receiver rejects a version it does not know.
 */
#ifndef SKYSIM_WIRE_H
#define SKYSIM_WIRE_H

#include "protocol/crypto.h"
#include "protocol/env.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_MAX_ENTRIES 8    /* host-cache entries carried by one message */
#define WIRE_HC_REQUEST_MAX 200 /* entries one HC_REQUEST may ask for (a whole host cache, a1) */
#define WIRE_FORWARD_TTL 3    /* hops of a FORWARD or LOCATE: what senders set and the most a
                                 supernode accepts from the wire (more is clamped) */
#define WIRE_USER_MAX 31      /* username bytes */
#define WIRE_BLOB_MAX 700     /* opaque blobs (login crypto material, forwarded payload) */
#define WIRE_FRAME_MAX 1400   /* largest TCP frame ciphertext, bytes */
#define WIRE_UDP_HDR 7        /* frame id 2 + function 1 + IV 4 */
#define WIRE_UDP_TRAILER 4    /* CRC32 of the plaintext, inside the RC4 stream */
#define WIRE_NACK_LEN 11      /* a20 */
#define WIRE_HELLO_LEN 14     /* a21 */
#define WIRE_FUNC_SIGNAL 0x02 /* a18 signalling function */
#define WIRE_FUNC_NACK 0x77   /* a18 */
#define WIRE_FUNC_MASK 0x8f   /* a18: meaningful bits of the function byte */

/* Message types. UDP (RC4 envelope) below 16, TCP (AES envelope) from 16. */
typedef enum WireType {
    WIRE_PROBE = 1,       /* client -> SN: "may I connect?" (a22 U1; U3 after a NAck) */
    WIRE_PROBE_ACK = 2,   /* SN -> client: accept / reject / redirect (a22 U4) */
    WIRE_PING = 3,        /* any -> node: liveness (alternate node table, polls) */
    WIRE_PONG = 4,        /* answer to PING */
    WIRE_STUN_ASSIST = 5, /* SN -> peer SN: answer this STUN request from your address */
    /* ---- search/presence (search.c, presence.c): UDP 6-8 ---- */
    WIRE_SEARCH_Q = 6, /* searcher -> SN: do you know this user? (a27 UDP waves; DHT lookups) */
    WIRE_SEARCH_A = 7, /* SN -> searcher: the user's entry, or not found (+ DHT referrals) */
    WIRE_SN_NOTE = 8,  /* SN -> SN: index publication or presence notification for a client */
    /* ---- calls (call.c, relay.c): UDP 9, 12-14 ---- */
    WIRE_CALL_UDP = 9, /* a call message (WireCall) over UDP: hole punching, relay binding */
    WIRE_INDEX_PULL = 10, /* SN -> ring neighbour SN: send me the index records of a key range
                             (search.c: slots that changed members) */
    WIRE_SN_RING = 11,    /* SN -> SN: supernodes on my ring with their ages, packed in the
                             blob (search.c: the ring's anti-entropy; flag ASK: send me yours) */
    WIRE_UDP_TYPE_END = 15, /* UDP types below 15 */
    WIRE_CONNECT = 16,     /* client -> SN over TCP: attach me */
    WIRE_CONNECT_ACK = 17, /* SN -> client: verdict + host-cache entries */
    WIRE_KEEPALIVE = 18,   /* client -> SN every ~60 s (a24) */
    WIRE_KEEPALIVE_ACK = 19,
    WIRE_HC_REQUEST = 20, /* ask for host-cache entries */
    WIRE_HC_ENTRIES = 21, /* host-cache entries */
    WIRE_SN_HELLO = 22,   /* SN -> SN link setup: my addresses */
    WIRE_FORWARD = 23,    /* signalling to be forwarded by supernodes (hops: WIRE_FORWARD_TTL) */
    WIRE_SHED = 24,       /* SN -> client: I am over capacity, move (entries given) */
    WIRE_LOGIN_REQ = 25,  /* client -> login server */
    WIRE_LOGIN_CERT = 26, /* login server -> client: certificate (encrypted) */
    WIRE_LOGIN_FAIL = 27, /* login server -> client: reason */
    WIRE_PROMOTE = 28,    /* SN -> attached client: become a supernode (a40; docs/overlay.md) */
    WIRE_SN_GOSSIP = 29,  /* SN -> peer SN: supernodes known, with age and load (a42) */
    /* ---- search/presence (search.c, presence.c): TCP 32-47 ---- */
    WIRE_SEARCH_REQ = 32,    /* client -> SN: find this user (flag: I run the UDP waves, a27) */
    WIRE_SEARCH_RESULT = 33, /* SN -> client: found (entry) or absent, and the search's cost */
    WIRE_SEARCH_NODES = 34,  /* SN -> client: the next wave's supernodes (a27: 4, then 8) */
    WIRE_SEARCH_MORE = 35,   /* client -> SN: wave done; found (entry, to cache) or name more */
    WIRE_ANNOUNCE = 36,      /* client -> SN: tell the buddy at (to, sn) that I am on/offline */
    WIRE_PRESENCE = 37,      /* SN -> client: a buddy's presence changed */
    WIRE_BUDDY_LIST = 38,    /* login server -> client: the user's buddy list */
    /* TCP 39-47: reserved for search/presence; 48-79: calls */
    /* ---- calls (call.c, relay.c): TCP 48-79 ---- */
    WIRE_CALL = 48,       /* a call message (WireCall): locating a user, relay binding */
    WIRE_CALL_MEDIA = 49, /* a media datagram carried over TCP (to or from a relay), without
                             its frame id: the connection names the session; the data's
                             length is the frame's, so a 2004 packet is 2 + 2 + 65 = 69 B on
                             the wire (a33) */
    WIRE_TYPE_END
} WireType;

/* Flags of the search/presence messages (u.search.flags). */
enum {
    WIRE_SF_FOUND = 1,  /* SEARCH_A/RESULT/MORE: the entry is valid */
    WIRE_SF_ONLINE = 2, /* entry/presence: the user is attached right now */
    WIRE_SF_SELF = 4,   /* SEARCH_REQ: the client runs the UDP waves itself (a27) */
    WIRE_SF_DHT = 8,    /* SEARCH_Q: a DHT lookup (answer with referrals) */
    WIRE_SF_PUT = 16,   /* SN_NOTE: an index publication (else a presence notification) */
    WIRE_SF_FRESH = 32, /* SEARCH_REQ/Q: not from cached answers (a call needs where the user
                           is now) */
    WIRE_SF_ASK = 64,   /* SN_RING: answer with your own ring */
};

/* ---- Call messages ----
 * The signalling of calls and relays (call.c, relay.c): carried inside
 * WIRE_CALL frames (TCP), WIRE_CALL_UDP datagrams and, encoded alone with
 * wire_call_encode, as the payload of WIRE_FORWARD (a31: signalling
 * through the supernodes). Layout: kind u8, call id u32, field mask u8,
 * then the fields of the mask in this order: route (ttl u8, from_id 6),
 * addresses (a1 6, a2 6), info (flags, reserved (0), dnat, path, leg:
 * u8 each),
 * user (u8 length 1..WIRE_USER_MAX + bytes), challenge 8, response 8,
 * key 32. No simulation label travels: the true network situation of an
 * end is host metadata (env.h, call_report), not protocol bytes. Each kind
 * has one mask (wire.c, wire_call_mask); a message with
 * another mask is malformed. Conference messages share FORWARD payloads
 * from kind WIRE_CF_FIRST on (WireConf below). */
typedef enum WireCallKind {
    WIRE_CM_LOCATE = 1,    /* caller -> SNs: where is this user? (stand-in for search) */
    WIRE_CM_LOCATED,       /* SN -> caller (forwarded): the user's identity address */
    WIRE_CM_INVITE,        /* caller -> callee: call id, endpoints, challenge, session key */
    WIRE_CM_ANSWER,        /* callee -> caller: endpoints, response, challenge */
    WIRE_CM_BUSY,          /* callee -> caller: already in a call */
    WIRE_CM_PATH,          /* caller -> callee: UDP path works (direct / hole punched); response */
    WIRE_CM_RELAY,         /* caller -> callee: bind to this relay */
    WIRE_CM_BYE,           /* either side: the call is over */
    WIRE_CM_PUNCH,         /* UDP, peer -> peer: hole punching probe */
    WIRE_CM_PUNCH_ACK,     /* UDP, answer to a probe */
    WIRE_CM_RELAY_BIND,    /* end -> relay (UDP or TCP): bind my leg of this session */
    WIRE_CM_RELAY_BOUND,   /* relay -> end: bound */
    WIRE_CM_RELAY_REFUSED, /* relay -> end: no spare capacity */
    WIRE_CM_NAT_NOTE,      /* client -> its SN: my detected NatType (dnat), for direct signalling */
    WIRE_CM_PUNCH_GO,      /* caller -> callee: my first PUNCH has left, punch now (call.c) */
    WIRE_CM_KIND_END
} WireCallKind;
/* Flags (WireCall.flags). */
enum {
    WIRE_CMF_UDP_OK = 1,     /* the sender can send and receive UDP */
    WIRE_CMF_PUNCH_FIRST = 2 /* the sender's NAT keeps state for unsolicited packets (its
                                detection, stun_keeps_unsolicited): it must punch first */
};
#define WIRE_CALL_MAX 128     /* largest encoded call message, bytes */
#define WIRE_CALL_PATH_END 5  /* WireCall.path < this (node.h: NODE_CALL_PATH_COUNT) */
#define WIRE_CF_FIRST 0x40    /* FORWARD payloads from this kind byte on are conference messages */

/* A call message. Which fields travel depends on the kind (the mask of
 * wire_call_mask in wire.c); the others are zero after decoding and
 * ignored when encoding. Values, not borrowed pointers: the ends keep and
 * copy them. */
typedef struct WireCall {
    uint8_t kind;                 /* WIRE_CM_* */
    uint32_t call_id;             /* call (or relay session) id, drawn by the caller */
    uint8_t ttl;                  /* LOCATE: supernode hops left */
    EnvAddr from_id;              /* sender's identity (public IP, listening port) */
    EnvAddr a1;                   /* LOCATED: the user; INVITE/ANSWER: public UDP endpoint;
                                     RELAY: the relay */
    EnvAddr a2;                   /* INVITE/ANSWER: the sender's supernode; LOCATED: the user's
                                     TCP address for direct signalling when it is on the open
                                     Internet (a31), else {0,0} */
    uint8_t flags;                /* WIRE_CMF_* */
    uint8_t dnat;                 /* sender's detected NatType */
    uint8_t path;                 /* PATH: the NodeCallPath chosen */
    uint8_t leg;                  /* RELAY_BIND: 0 caller, 1 callee */
    uint8_t ulen;                 /* user bytes */
    char user[WIRE_USER_MAX + 1]; /* LOCATE/LOCATED/INVITE: a username (not NUL-terminated) */
    uint8_t chal[8];              /* a17: 8-byte challenge */
    uint8_t resp[8];              /* a17: response to the peer's challenge */
    uint8_t key[32];              /* INVITE: the call's AES-256 session key */
} WireCall;

/* Encodes the call message c into buf (cap >= WIRE_CALL_MAX): the payload
 * of a FORWARD. Returns its length. CHECKs the kind and the user length. */
size_t wire_call_encode(const WireCall *c, uint8_t *buf, size_t cap);
/* Decodes exactly len bytes into *c. False on an unknown kind, a mask that
 * is not the kind's, an out-of-range field, a short or overlong input. */
bool wire_call_decode(const uint8_t *buf, size_t len, WireCall *c);

/* ---- Conference messages (a43, a44) ----
 * Payloads of WIRE_FORWARD whose first byte is WIRE_CF_FIRST or more.
 * Layout: kind u8, conference id u32, then by kind:
 *   INVITE  organiser id 6, mesh u8 (0 or 1), session key 32
 *   JOIN    the joining participant (below)
 *   BUSY    sender id 6          LEAVE   sender id 6
 *   START   host index u8, count u8 (host < count), count participants
 *   END     nothing              RELAY   sender id 6, its relay 6
 * A participant: identity 6, media endpoint 6, CPU MHz u32, uplink kbit/s
 * u32, flags u8 (bit 0: UDP works; bits 1-7: detected NatType). Ids and
 * endpoints are an IPv4 address u32 and a port u16. */
typedef enum WireConfKind {
    WIRE_CF_INVITE = WIRE_CF_FIRST, /* organiser -> invited user */
    WIRE_CF_JOIN,                   /* invited user -> organiser: yes, and who I am */
    WIRE_CF_BUSY,                   /* invited user -> organiser: no */
    WIRE_CF_START,                  /* organiser -> members: who takes part, who hosts */
    WIRE_CF_LEAVE,                  /* a participant leaves */
    WIRE_CF_END,                    /* the organiser ends it */
    WIRE_CF_RELAY,                  /* member -> host: my leg is bound at this relay */
    WIRE_CF_KIND_END
} WireConfKind;
#define WIRE_CONF_PEERS_MAX 32 /* participants a START may list */
#define WIRE_CONF_MAX (5 + 2 + WIRE_CONF_PEERS_MAX * 21) /* largest encoded message, bytes */

typedef struct WireConfPeer {
    EnvAddr id;           /* identity (public IP, listening port) */
    EnvAddr pub;          /* media endpoint */
    uint32_t cpu_mhz;     /* host election inputs */
    uint32_t uplink_kbps; /* " */
    bool udp;             /* it can send and receive UDP */
    uint8_t dnat;         /* its detected NatType */
} WireConfPeer;

/* A conference message; the fields its kind does not carry are zero. */
typedef struct WireConf {
    uint8_t kind;                         /* WIRE_CF_* */
    uint32_t conf_id;                     /* the conference, drawn by the organiser */
    EnvAddr from;                         /* INVITE: organiser; BUSY, LEAVE, RELAY: sender */
    EnvAddr relay;                        /* RELAY: the relay of the sender's leg */
    bool mesh;                            /* INVITE: full mesh instead of a star */
    uint8_t key[32];                      /* INVITE: the conference's AES-256 key */
    uint8_t host;                         /* START: index of the host in p */
    uint8_t n;                            /* START: entries of p (JOIN: 1) */
    WireConfPeer p[WIRE_CONF_PEERS_MAX];  /* START: the participants; JOIN: p[0] the joiner */
} WireConf;

/* Encodes c into buf (cap >= WIRE_CONF_MAX); returns its length. CHECKs
 * the kind and the participant count. */
size_t wire_conf_encode(const WireConf *c, uint8_t *buf, size_t cap);
/* Decodes exactly len bytes into *c. False on an unknown kind, a short or
 * overlong input, a flag or NatType out of range, a START whose count is
 * 0, above WIRE_CONF_PEERS_MAX or not above its host index. */
bool wire_conf_decode(const uint8_t *buf, size_t len, WireConf *c);

/* Verdicts of PROBE_ACK and CONNECT_ACK. */
enum { WIRE_ACCEPT = 0, WIRE_REJECT = 1, WIRE_REDIRECT = 2 };
/* LOGIN_FAIL reasons. */
enum { WIRE_FAIL_AUTH = 1, WIRE_FAIL_MALFORMED = 2 };

/* KEEPALIVE flags. */
enum { WIRE_KA_ELIGIBLE = 1 }; /* the client could serve as a supernode (a40) */

/* A supernode named in an SN_GOSSIP: 9 bytes. */
#define WIRE_GOSSIP_MAX 16 /* entries of one SN_GOSSIP */
typedef struct WireGossipEntry {
    uint32_t ip;    /* IPv4, host order */
    uint16_t port;  /* its port */
    uint16_t age_s; /* seconds since the sender last had word of it alive (saturating) */
    uint8_t load;   /* its load, percent of its client capacity (0-100), as last heard */
} WireGossipEntry;

/* A host-cache entry on the wire: 6 bytes. */
typedef struct WireEntry {
    uint32_t ip;   /* IPv4, host order */
    uint16_t port; /* the SN's port */
} WireEntry;

/* The fields of the search/presence messages (types 6-8, 32-38): one
 * layout, each type carries the subset listed in wire.c
 * (wire_search_fields). */
typedef struct WireSearch {
    uint32_t qid;                  /* query id, echoed by answers */
    uint8_t flags;                 /* WIRE_SF_* */
    uint8_t ulen;                  /* user bytes */
    const uint8_t *user;           /* user name (not NUL-terminated), borrowed */
    WireEntry client;              /* the user's client address (public IP, UDP port) */
    WireEntry sn;                  /* its supernode; ANNOUNCE: the recipient's SN */
    WireEntry to;                  /* SN_NOTE/ANNOUNCE: the recipient client */
    uint8_t nat;                   /* entry: the user's NatType as its client detected it */
    uint32_t lo, hi;               /* INDEX_PULL: the key range (lo, hi] on the ring */
    uint32_t age_ms;               /* ms since the user was last online (0: online now) or
                                      since the presence change, saturating */
    uint8_t sns;                   /* RESULT: supernodes contacted by the search */
    uint16_t msgs;                 /* RESULT: messages the search took */
    uint8_t n;                     /* entries used */
    WireEntry e[WIRE_MAX_ENTRIES]; /* node lists (wave targets, DHT referrals) */
    uint16_t len;                  /* BUDDY_LIST, SN_RING blob bytes */
    const uint8_t *data;           /* BUDDY_LIST, SN_RING blob, borrowed */
} WireSearch;

/* A decoded (or to-be-encoded) message. Only the fields of `type` are
 * meaningful. Blobs point into the decoded buffer (borrowed, valid while it
 * is). */
typedef struct WireMsg {
    uint8_t type; /* WireType */
    union {
        struct {
            uint8_t retry;     /* 1 for the U3 retry after a NAck (5 more bytes, a22) */
            uint16_t tcp_port; /* client's listening port */
            uint32_t nonce;    /* retry only: low byte of the NAck'd frame id */
        } probe;
        struct {
            uint8_t verdict;   /* WIRE_ACCEPT / REJECT / REDIRECT */
            uint16_t tcp_port; /* SN's TCP port */
            uint16_t load;     /* accept only: load, percent of the SN's client capacity
                                  (makes U4 18 bytes, a22) */
            uint8_t n;         /* entries used */
            WireEntry e[WIRE_MAX_ENTRIES]; /* alternatives (reject/redirect) */
        } probe_ack;
        struct {
            uint32_t nonce; /* echoed by PONG */
            uint8_t is_sn;  /* PONG: the answerer is a supernode */
        } ping;             /* PING and PONG */
        struct {
            uint8_t txid[12]; /* STUN transaction id (RFC 5389 §6) */
            WireEntry target; /* client's mapped address to answer */
        } assist;
        struct {
            uint16_t udp_port;   /* client's UDP port */
            uint8_t nat;         /* client's detected NatType so far */
            uint8_t flags;       /* bit 0: failover reconnect */
            uint8_t ulen;        /* username length */
            const uint8_t *user; /* username (not NUL-terminated) */
        } connect;
        struct {
            uint8_t verdict;               /* accept/reject/redirect */
            WireEntry seen;                /* client's address as the SN sees it */
            uint8_t n;                     /* entries used */
            WireEntry e[WIRE_MAX_ENTRIES]; /* host-cache entries */
        } connect_ack;                     /* CONNECT_ACK, HC_ENTRIES and SHED (seen unused) */
        struct {
            uint32_t seq;  /* echoed by the ACK */
            uint8_t flags; /* KEEPALIVE only: WIRE_KA_* */
        } keepalive;       /* KEEPALIVE and KEEPALIVE_ACK */
        struct {
            uint8_t n;                          /* entries used, 1..WIRE_GOSSIP_MAX */
            WireGossipEntry e[WIRE_GOSSIP_MAX]; /* the sender itself first (age 0) */
        } gossip;                               /* SN_GOSSIP */
        struct {
            uint8_t max; /* entries wanted, at most WIRE_HC_REQUEST_MAX; answered with as many
                            HC_ENTRIES as it takes (WIRE_MAX_ENTRIES each) */
        } hc_request;
        struct {
            WireEntry main;    /* SN's main UDP/TCP address */
            uint16_t alt_port; /* SN's second UDP port (STUN change-port) */
        } sn_hello;
        struct {
            WireEntry dst;       /* destination node */
            uint8_t ttl;         /* supernode hops left */
            uint16_t len;        /* payload bytes */
            const uint8_t *data; /* payload */
        } forward;
        struct {
            uint16_t klen;       /* RSA-wrapped session key bytes */
            const uint8_t *key;  /* RSA-wrapped session key */
            uint16_t len;        /* AES-encrypted body bytes */
            const uint8_t *data; /* body (LOGIN_REQ: credentials + public key;
                                    LOGIN_CERT: certificate) */
        } login;                 /* LOGIN_REQ (key, data) and LOGIN_CERT (data) */
        struct {
            uint8_t reason; /* WIRE_FAIL_* */
        } login_fail;
        WireSearch search; /* search/presence messages (types 6-8, 32-38) */
        WireCall call; /* WIRE_CALL_UDP, WIRE_CALL: a call message (u16 length first) */
        struct {
            uint16_t len;        /* bytes of data, 1..WIRE_BLOB_MAX */
            const uint8_t *data; /* a media datagram from its function byte on (the frame
                                    header without the 2-byte frame id, then the media.h
                                    packet), borrowed */
        } media;                 /* WIRE_CALL_MEDIA */
    } u;
} WireMsg;

/* Encodes m's plaintext body (version, type, fields) into buf (cap bytes).
 * Returns the length; CHECKs that it fits (the caller sizes its buffer). */
size_t wire_encode(const WireMsg *m, uint8_t *buf, size_t cap);

/* Whether type is a message type this build encodes and decodes (the type
 * numbers have gaps: ranges are reserved per feature). */
bool wire_type_known(uint8_t type);
/* 32-bit FNV-1a hash of a user name: how supernodes know their clients
 * and the index's key (the DHT id of a user). */
uint32_t wire_user_hash(const void *user, size_t len);

/* Decodes exactly len bytes into *m. Returns false on an unknown version or
 * type, a short or overlong body, or an out-of-range field. Blobs in *m
 * borrow buf. */
bool wire_decode(const uint8_t *buf, size_t len, WireMsg *m);

/* ---- UDP envelope ---- */

/* Whether a datagram is a NAck / looks like a STUN message (RFC 5389 §6:
 * top two bits zero, magic cookie at offset 4). Cheap header checks. */
bool wire_udp_is_nack(const uint8_t *buf, size_t len);

/* Seals plaintext body (len bytes) into out as an obfuscated datagram: frame
 * id, function byte, IV, RC4(body || CRC32(body)). src_ip is the sender's
 * belief of its own public IP (0 when unknown: then the receiver will NAck,
 * a20), dst_ip the receiver's address. Returns the datagram length. */
size_t wire_udp_seal(Crypto *c, const Env *e, uint16_t frame_id, uint32_t src_ip, uint32_t dst_ip,
                     const uint8_t *body, size_t len, uint8_t *out, size_t cap);

/* Opens a sealed datagram into body (cap >= len). src_ip: the source address
 * the receiver observed; dst_ip: the receiver's own address. Returns the body
 * length, WIRE_OPEN_SHORT when too short to be a frame, WIRE_OPEN_BADCRC
 * when it does not decrypt (wrong seed: answer with a NAck). */
enum { WIRE_OPEN_SHORT = -1, WIRE_OPEN_BADCRC = -2 };
long wire_udp_open(Crypto *c, const Env *e, const uint8_t *pkt, size_t len, uint32_t src_ip,
                   uint32_t dst_ip, uint8_t *body, size_t cap, uint16_t *frame_id);

/* NAck of frame_id carrying the observed public address `seen`: 11 bytes in
 * out. Returns WIRE_NACK_LEN. */
size_t wire_nack_encode(uint16_t frame_id, EnvAddr seen, const Env *e, uint8_t *out, size_t cap);
/* Parses a NAck; false when malformed. */
bool wire_nack_decode(const uint8_t *buf, size_t len, uint16_t *frame_id, EnvAddr *seen);

/* ---- TCP envelope ---- */

/* Hello: the seed and 10 more bytes (version, role, 8 random pad bytes). */
size_t wire_hello_encode(uint32_t seed, uint8_t role, const Env *e, uint8_t *out, size_t cap);
bool wire_hello_decode(const uint8_t *buf, size_t len, uint32_t *seed, uint8_t *role);

/* The stream key of a direction from its hello seed (SHA-256, charged). */
void wire_stream_key(Crypto *c, const Env *e, uint32_t seed, uint8_t key[32]);

/* Seals body into a frame: 2-byte length, AES-256-CTR(body) with IV from
 * (counter, direction-less: the key differs per direction). Returns the frame
 * length (2 + len). */
size_t wire_frame_seal(Crypto *c, const Env *e, const uint8_t key[32], uint32_t counter,
                       const uint8_t *body, size_t len, uint8_t *out, size_t cap);
/* Decrypts a frame's ciphertext in place. */
void wire_frame_open(Crypto *c, const Env *e, const uint8_t key[32], uint32_t counter, uint8_t *buf,
                     size_t len);

/* Little helpers for protocol code: host-order integers into big-endian
 * buffers, bounds checked by the caller. */
static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint16_t wire_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
