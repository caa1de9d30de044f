/* net_int: layouts and internal calls shared by the files of sim/net only.
 *
 * Layer: sim/net, private (like SQLite's btreeInt.h): sim/world and the
 * tests use net.h, sock.h, tcp.h, nat.h, fw.h, latency.h and pcap.h; the
 * tests also read the struct sizes here.
 *
 * The packet path (net.c) is a handful of steps, each one function call,
 * each handing the packet on: host send -> uplink (serialisation, drop-tail
 * queue, loss) -> [NAT/firewall of the parent realm] -> ... -> core delay
 * between sites -> downlink -> [NAT/firewall inbound] -> ... -> socket.
 * A step that takes time schedules one event (the packet's stage says what
 * happens when it fires); a step that takes none calls the next directly.
 * A link's queue is analytic: the link keeps the time its last accepted
 * packet finishes serialising (busy_until), so a packet's departure is
 * max(now, busy_until) + size/rate and the backlog in bytes is
 * (busy_until - now) * rate: no per-packet queue events, exact FIFO.
 */
#ifndef SKYSIM_NET_INT_H
#define SKYSIM_NET_INT_H

#include <stdint.h>
#include <stdio.h>

#include "protocol/base/ilist.h"
#include "sim/kernel/pool.h"
#include "sim/kernel/rng.h"
#include "sim/kernel/sim.h"
#include "sim/net/idxhash.h"
#include "sim/net/net.h"
#include "sim/net/sock.h"
#include "sim/net/tcp.h"

/* IP protocol numbers. */
#define NET_PROTO_ICMP 1
#define NET_PROTO_TCP 6
#define NET_PROTO_UDP 17

/* TCP flags as on the wire. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

/* ICMP destination-unreachable codes (type 3). */
#define NET_ICMP_PORT_UNREACH 3
#define NET_ICMP_ADMIN_PROHIB 13

/* Header bytes on the wire. */
#define NET_IP_HDR 20
#define NET_UDP_HDR 8
#define NET_TCP_HDR 20
#define NET_ICMP_WIRE 56 /* IPv4 + ICMP header + quoted IPv4 header + 8 bytes */

/* Random-stream ids (the entity is the node id). */
#define NET_RNG_NODE 0x6e6f6465u /* "node": loss, jitter, ports, ISNs */

/* One direction of an access link. 48 bytes. */
typedef struct NetLink {
    TimeNs busy_until;    /* when the last accepted packet finishes serialising, ns */
    uint64_t rate_bps;    /* bit/s; 0 = unlimited (no serialisation, no queue) */
    uint64_t pkts;        /* packets accepted */
    uint64_t bytes;       /* wire bytes accepted */
    uint32_t queue_bytes; /* drop-tail bound, bytes */
    uint32_t loss_thr;    /* loss probability * 2^32 (saturated) */
    uint32_t drop_queue;  /* drop-tail drops */
    uint32_t drop_loss;   /* random-loss drops */
} NetLink;

typedef enum NetNodeKind { NODE_ROOT = 0, NODE_HOST = 1, NODE_NAT = 2 } NetNodeKind;

#define NODE_UP 0x01      /* node is up */
#define NODE_ICMP 0x02    /* answers closed UDP ports with ICMP */
#define NODE_CAPTURE 0x04 /* pcap capture point */

/* A host or NAT box. The budget is 256 bytes (issue: a host with no sockets
 * costs at most 256 bytes of sim/net state): two links (96), the node's
 * random stream (32), counters (64), topology and list heads (~50). */
typedef struct NetNode {
    NetLink up;                      /* to the parent */
    NetLink down;                    /* from the parent */
    Rng rng;                         /* stream (node id, NET_RNG_NODE) */
    uint64_t tx_pkts;                /* packets sent onto the uplink */
    uint64_t tx_bytes;               /* their wire bytes */
    uint64_t rx_pkts;                /* packets arrived over the downlink */
    uint64_t rx_bytes;               /* their wire bytes */
    uint32_t drops[NET_DROP__COUNT]; /* drops here, by cause */
    uint32_t parent;                 /* parent node (realm); NET_INTERNET for sites */
    uint32_t addr;                   /* address in the parent realm */
    uint32_t site;                   /* outermost ancestor, or itself */
    uint32_t position;               /* latency position (meaningful for sites) */
    uint32_t delay_ns;               /* link propagation, each direction, ns */
    uint32_t jitter_ns;              /* link jitter bound, ns */
    uint32_t route_next;             /* chain in Net.routes (index + 1) */
    uint32_t socks;                  /* first socket of this host (index + 1) */
    uint32_t conns;                  /* first TCP connection of this host (index + 1) */
    uint32_t nat;                    /* NAT box record (index + 1), 0 for hosts */
    uint32_t maps;                   /* first NAT mapping / firewall flow here (index + 1) */
    uint16_t eph_next;               /* next ephemeral port to try */
    uint8_t kind;                    /* NetNodeKind */
    uint8_t fw;                      /* FwType */
    uint8_t flags;                   /* NODE_* */
} NetNode;

_Static_assert(sizeof(NetNode) <= 256, "host budget: 256 bytes of sim/net state");

/* The address a static forward sends to: the first host of a realm. */
uint32_t net__realm_first_addr(const NatConfig *c);

/* The extra state of a NAT box. */
typedef struct NatBox {
    NatConfig cfg;      /* behaviour */
    uint32_t node;      /* its node id */
    uint32_t live;      /* live mappings */
    uint32_t next_host; /* next private host number to allocate */
    uint16_t port_next; /* sequential port cursor */
} NatBox;

/* A packet: header followed by its payload (one pool object). The payload
 * bytes are real (UDP datagrams, TCP stream bytes). ICMP errors reuse
 * fields: seq/ack hold the quoted packet's source/destination addresses,
 * sport/dport its ports, eproto its protocol, flags the ICMP code. */
typedef struct Packet {
    uint32_t idx1;   /* private: pool index + 1, kept across put/get */
    uint8_t cls;     /* size class (pool) */
    uint8_t proto;   /* NET_PROTO_* */
    uint8_t flags;   /* TCP flags; ICMP: code */
    uint8_t stage;   /* PktStage to run when ev fires */
    uint32_t src;    /* source address, as rewritten so far */
    uint32_t dst;    /* destination address, as rewritten so far */
    uint16_t sport;  /* source port (ICMP: quoted source port) */
    uint16_t dport;  /* destination port (ICMP: quoted destination port) */
    uint32_t seq;    /* TCP sequence number (ICMP: quoted source address) */
    uint32_t ack;    /* TCP acknowledgement (ICMP: quoted destination address) */
    uint16_t len;    /* payload bytes */
    uint16_t ip_id;  /* IPv4 identification */
    uint16_t win;    /* TCP window field */
    uint8_t ttl;     /* IPv4 TTL, decremented by NATs */
    uint8_t eproto;  /* ICMP: quoted packet's protocol */
    uint32_t at;     /* node the stage applies to */
    uint32_t from;   /* node that last sent it up (core hop) */
    uint8_t seen;    /* passed a host's access link (capture: first seen there) */
    SimEventId ev;   /* pending stage event */
    ILink link;      /* on Net.in_flight, or a TCP out-of-order list */
    uint8_t data[];  /* payload */
} Packet;

typedef enum PktStage {
    PKT_ST_INSIDE = 1, /* arrives at NAT `at` from its realm */
    PKT_ST_DOWN = 2,   /* enters the downlink of `at` */
    PKT_ST_ARRIVE = 3, /* arrives at `at` over its downlink */
    PKT_ST_LOCAL = 4,  /* made by host `at` for itself (its firewall's reject) */
} PktStage;

#define NET_PKT_SMALL 256 /* payload capacity of the small class */
#define NET_PKT_LARGE 1500 /* payload capacity of the large class */

/* A UDP socket or TCP listener. 40 bytes. */
typedef struct Sock {
    uint32_t idx;       /* private: own index (kept) */
    uint32_t gen;       /* generation (kept); odd while open */
    uint32_t host;      /* host node */
    uint32_t next;      /* chain in Net.sock_index (index + 1) */
    uint32_t host_next; /* next socket of the same host (index + 1) */
    uint16_t port;      /* bound port */
    uint8_t proto;      /* NET_PROTO_UDP or NET_PROTO_TCP (listener) */
    uint8_t pad;        /* unused */
    const void *ops;    /* UdpOps or TcpListenOps, borrowed */
    void *ctx;          /* caller's context, borrowed */
} Sock;

_Static_assert(sizeof(Sock) <= 64, "idle UDP socket budget: 64 bytes");

/* A NAT mapping (RFC 4787 §4.1) or a firewall flow. 64 bytes. Its expiry
 * event is not cancelled when the mapping goes: the event carries (index,
 * generation) and a stale one does nothing (a 16-byte event id would not
 * fit the budget). */
typedef struct NatMap {
    uint32_t idx1;     /* private: pool index + 1 (kept) */
    uint32_t gen;      /* private: generation, bumped on free (kept) */
    uint32_t node;     /* NAT box or firewall node */
    uint32_t int_addr; /* internal address */
    uint32_t rem_addr; /* remote address part of the key (0 under EIM) */
    uint16_t int_port; /* internal port */
    uint16_t rem_port; /* remote port part of the key (0 under EIM/ADM) */
    uint16_t ext_port; /* external port (firewall flows: = int_port) */
    uint8_t proto;     /* NET_PROTO_UDP/TCP, | NATMAP_FW for firewall flows */
    uint8_t tcp;       /* TCP state bits NATMAP_TCP_* */
    uint8_t timer;     /* 1 while an expiry event is queued */
    uint8_t ct;        /* conntrack flow bits NATMAP_CT_* */
    uint32_t next_out; /* chain in Net.map_out (index + 1) */
    uint32_t next_in;  /* chain in Net.map_in (index + 1); NAT only */
    uint32_t perms;    /* first filtering permission (index + 1) */
    uint32_t node_next; /* next mapping of the same node (index + 1) */
    uint32_t node_prev; /* previous mapping of the same node (index + 1) */
    uint32_t stream_ms; /* conntrack: virtual ms after which two-way traffic assures
                           (compared wrap-safe, as the kernel's jiffies) */
    TimeNs expires;    /* lifetime end, ns */
} NatMap;

_Static_assert(sizeof(NatMap) <= 64, "NAT mapping budget: 64 bytes");

#define NATMAP_FW 0x80
#define NATMAP_CT_REPLIED 0x01 /* a packet went against the flow's first direction */
#define NATMAP_CT_ASSURED 0x02 /* a stream: the long UDP lifetime applies */
#define NATMAP_CT_LOCAL 0x04   /* unsolicited entry ending at the NAT box itself */
#define NATMAP_CT_ORIG_IN 0x08 /* the flow was opened by an inbound packet */
#define NATMAP_TCP_SYN_OUT 0x01
#define NATMAP_TCP_SYN_IN 0x02
#define NATMAP_TCP_FIN_OUT 0x04
#define NATMAP_TCP_FIN_IN 0x08
#define NATMAP_TCP_RST 0x10

/* A filtering permission: the inside sent to (addr, port) through a
 * mapping (port 0 under ADF). 24 bytes. */
typedef struct NatPerm {
    uint32_t idx1;  /* private: pool index + 1 (kept) */
    uint32_t next;  /* next permission of the mapping (index + 1) */
    uint32_t addr;  /* remote address */
    uint16_t port;  /* remote port, 0 = any (ADF) */
    uint16_t pad;   /* unused */
    TimeNs expires; /* end of the permission, ns */
} NatPerm;

typedef struct PcapWriter PcapWriter;

struct Net {
    Sim *sim;                 /* borrowed */
    const Latency *lat;       /* borrowed or lat_owned */
    Latency *lat_owned;       /* default model, owned */
    NetConfig cfg;            /* run-wide parameters */
    NetNode *nodes;           /* node records; [0] is the root */
    uint32_t nnodes;          /* records used */
    uint32_t nodes_cap;       /* records allocated */
    NatBox *nats;             /* NAT box records */
    uint32_t nnats;           /* records used */
    uint32_t nats_cap;        /* records allocated */
    IdxHash routes;           /* (realm, address) -> node */
    uint32_t pub_next;        /* public address allocator position */
    Pool *pkt_pool[2];        /* packets by size class */
    IList in_flight;          /* every packet out of the pools not held by TCP */
    uint64_t pkts_created;    /* packets made */
    uint16_t ip_id;           /* next IPv4 identification */
    uint64_t drops[NET_DROP__COUNT]; /* drops over the Net */
    Pool *sock_pool;          /* Sock records */
    IdxHash sock_index;       /* (host, proto, port) -> Sock */
    size_t nsocks;            /* open sockets and listeners */
    Pool *conn_pool;          /* TcpConn records (tcp.c) */
    IdxHash conn_index;       /* (host, lport, raddr, rport) -> TcpConn */
    size_t nconns;            /* connection records */
    Pool *map_pool;           /* NatMap records */
    Pool *perm_pool;          /* NatPerm records */
    IdxHash map_out;          /* outbound key -> NatMap */
    IdxHash map_in;           /* (node, proto, ext port) -> NatMap */
    PcapWriter *pcap;         /* open capture or NULL */
    bool capture_access;      /* capture at every host's access link, each packet once */
    bool capture_core;        /* capture packets crossing the core between sites */
};

static inline NetNode *net__node(const Net *net, uint32_t id)
{
    return &net->nodes[id];
}

static inline uint32_t net__pkt_wire(const Packet *p)
{
    switch (p->proto) {
    case NET_PROTO_UDP: return NET_IP_HDR + NET_UDP_HDR + p->len;
    case NET_PROTO_TCP: return NET_IP_HDR + NET_TCP_HDR + p->len;
    default: return NET_ICMP_WIRE;
    }
}

/* net.c */
Packet *net__pkt_new(Net *net, size_t len); /* owned by the caller; header zeroed */
void net__pkt_free(Net *net, Packet *p);
/* Sends p (src, ports, payload filled) from host: capture, counters,
 * firewall, uplink. Takes p. */
void net__send(Net *net, uint32_t host, Packet *p);
/* Counts a drop of p at node and frees p. */
void net__drop(Net *net, uint32_t node, Packet *p, NetDrop cause);
/* Counts a drop at node without a packet. */
void net__count_drop(Net *net, uint32_t node, NetDrop cause);
/* Builds an ICMP destination-unreachable about p (borrowed), addressed to
 * p's source, with source address `from_addr`. Returns it (owned). */
Packet *net__icmp_new(Net *net, const Packet *p, uint32_t from_addr, uint8_t code);
uint16_t net__ephemeral_port(Net *net, uint32_t host, uint8_t proto); /* 0: none free */

/* sock.c */
void sock__init(Net *net);
void sock__fini(Net *net);
Sock *sock__find(const Net *net, uint32_t host, uint8_t proto, uint16_t port);
NetErr sock__open(Net *net, uint32_t host, uint8_t proto, uint16_t port, const void *ops, void *ctx,
                  NetSock *out);
Sock *sock__get(const Net *net, NetSock s); /* NULL if stale */
void sock__deliver(Net *net, uint32_t host, Packet *p); /* UDP; takes p */
void sock__icmp(Net *net, uint32_t host, Packet *p);    /* ICMP about UDP; takes p */
void sock__host_down(Net *net, uint32_t host);

/* tcp.c */
void tcp__init(Net *net);
void tcp__fini(Net *net);
void tcp__input(Net *net, uint32_t host, Packet *p); /* takes p */
void tcp__icmp(Net *net, uint32_t host, Packet *p);  /* takes p */
void tcp__host_down(Net *net, uint32_t host);
bool tcp__port_in_use(const Net *net, uint32_t host, uint16_t port);
size_t tcp__conn_size(void);

/* nat.c (also the firewall flow table) */
void nat__init(Net *net);
void nat__fini(Net *net);
/* Translate p leaving (entering) NAT box r. Returns NET_DROP_NONE when p
 * passes (rewritten), else the drop cause (p untouched). */
NetDrop nat__outbound(Net *net, uint32_t r, Packet *p);
NetDrop nat__inbound(Net *net, uint32_t r, Packet *p);
void nat__flush(Net *net, uint32_t node); /* forget all mappings and flows of node */
/* Firewall flow table: touch (create when `create`) the flow (proto,
 * local, remote) at node; returns whether it exists afterwards. */
bool nat__fw_flow(Net *net, uint32_t node, uint8_t proto, NetEp local, NetEp remote,
                  uint8_t tcp_flags, bool outbound, bool create);

/* fw.c: NET_DROP_NONE when p passes, NET_DROP_FIREWALL otherwise.
 * local/remote: p's endpoints on the inside/outside of the firewall. */
NetDrop fw__outbound(Net *net, uint32_t node, const Packet *p);
NetDrop fw__inbound(Net *net, uint32_t node, const Packet *p);

/* pcap.c */
/* Writes p as seen at capture point `node` (PCAP_CORE: the core). */
void pcap__write(Net *net, uint32_t node, const Packet *p);
#define PCAP_CORE 0u /* the root node's id stands for the core */

#endif
