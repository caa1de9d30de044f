/* net: the simulated Internet: hosts, NAT boxes, access links, routing.
 *
 * Layer: sim/net (uses sim/kernel and protocol/base; knows no protocol).
 * A Net hangs off one Sim and holds every piece of network state of a run:
 * there is no global state. The topology is a tree of nodes. The root is
 * the public Internet (NET_INTERNET); its children are "sites": public
 * hosts and NAT boxes with a public outside address. A NAT box owns a
 * private realm whose children are hosts and further NAT boxes (a NAT
 * behind a NAT is carrier-grade NAT). Every node has one access link to its
 * parent (uplink and downlink): a site's link is its access line, shared by
 * everything behind it (a home network shares its NAT's uplink); the link
 * of a node inside a private realm is its LAN hop.
 *
 * Delay of a packet: serialisation and drop-tail queueing on every link it
 * crosses, each link's propagation delay (plus uniform jitter), and between
 * two sites the latency model's one-way delay (latency.h). Random loss per
 * link. Middleboxes (NAT, firewall, nat.h and fw.h) act at the node where
 * the packet crosses them. Every drop is counted with its cause.
 *
 * Node ids are small integers, stable for the run; NET_INTERNET (0) is the
 * root. Addresses are IPv4 addresses held as uint32_t in host byte order.
 * Sockets live in sock.h (UDP) and tcp.h; packet capture in pcap.h.
 *
 * Memory: a host with no sockets costs sizeof(NetNode) (248 bytes; the
 * budget of 256 is a static assertion in net_int.h) plus at most one 4-byte
 * bucket of the routing index. A NAT mapping is 64 bytes (plus 24 per
 * ADF/APDF permission), an idle UDP socket 40 (net_sizes() reports them).
 */
#ifndef SKYSIM_NET_H
#define SKYSIM_NET_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/kernel/sim.h"
#include "sim/net/fw.h"
#include "sim/net/latency.h"
#include "sim/net/nat.h"

typedef struct Net Net;

/* Error domain of input errors (node and NAT parameters). */
#define NET_ERROR (net_error_quark())
GQuark net_error_quark(void);
enum { NET_ERROR_CONFIG };

#define NET_INTERNET 0u          /* the root node: the public Internet */
#define NET_NODE_NONE UINT32_MAX /* no node */
#define NET_POSITION_AUTO UINT32_MAX /* latency position: drawn at random */

/* Results of socket calls and reasons handed to error callbacks. */
typedef enum NetErr {
    NET_OK = 0,
    NET_ERR_ADDR_IN_USE, /* bind: the port is taken on that host */
    NET_ERR_NO_PORTS,    /* no free ephemeral port */
    NET_ERR_BAD_HANDLE,  /* stale or closed handle (e.g. host went down) */
    NET_ERR_HOST_DOWN,   /* the host is down */
    NET_ERR_MSG_SIZE,    /* datagram larger than NET_UDP_MAX_PAYLOAD */
    NET_ERR_REFUSED,     /* TCP: RST in answer to the SYN */
    NET_ERR_TIMEOUT,     /* TCP: SYN or data retransmissions gave up */
    NET_ERR_BLOCKED,     /* a firewall rejected the packet (ICMP admin-prohibited) */
    NET_ERR_UNREACHABLE, /* ICMP port unreachable */
    NET_ERR_RESET,       /* TCP: RST on an open connection */
    NET_ERR_CLOSED,      /* TCP: sending after close */
} NetErr;

const char *net_err_name(NetErr e); /* static string, e.g. "refused" */

/* Why a packet was dropped; counted per node, per link and per Net, in
 * arrays indexed by cause (slot NET_DROP_NONE stays 0). */
typedef enum NetDrop {
    NET_DROP_NONE = 0,   /* not dropped: the packet passes (a check's "ok"; never counted) */
    NET_DROP_QUEUE_FULL, /* drop-tail queue of a link */
    NET_DROP_LOSS,       /* random loss of a link */
    NET_DROP_NAT_FILTER, /* a NAT mapping exists, its filter refused the sender */
    NET_DROP_NO_MAPPING, /* inbound without mapping, or no mapping could be made */
    NET_DROP_FIREWALL,   /* a firewall rule */
    NET_DROP_NO_LISTENER, /* nothing bound to the destination port */
    NET_DROP_HOST_DOWN,  /* destination (or a NAT on the way) is down */
    NET_DROP_NO_ROUTE,   /* no node has the destination address */
    NET_DROP__COUNT
} NetDrop;

const char *net_drop_name(NetDrop d); /* static string, e.g. "queue_full"; "none" */

/* An IPv4 transport endpoint (host byte order). */
typedef struct NetEp {
    uint32_t addr; /* IPv4 address */
    uint16_t port; /* UDP or TCP port */
} NetEp;

/* Access link of a node (both directions). */
typedef struct NetLinkConfig {
    uint64_t up_bps;           /* uplink rate, bit/s; 0 = unlimited (no queue) */
    uint64_t down_bps;         /* downlink rate, bit/s; 0 = unlimited */
    uint32_t up_queue_bytes;   /* drop-tail bound of the uplink queue, bytes */
    uint32_t down_queue_bytes; /* drop-tail bound of the downlink queue, bytes */
    double up_loss;            /* random loss probability of the uplink, [0, 1] */
    double down_loss;          /* random loss probability of the downlink, [0, 1] */
    TimeNs delay_ns;  /* one-way propagation of the link, ns; < 0: drawn from the
                         latency model's access-delay distribution (sites only) */
    TimeNs jitter_ns; /* extra delay per packet, uniform in [0, jitter], ns; < 0: drawn */
} NetLinkConfig;

/* Parameters of a host or NAT box. */
typedef struct NetNodeConfig {
    NetLinkConfig link;    /* access link (sites) or LAN hop (inside a NAT) */
    uint32_t addr;         /* address in the parent realm; 0 = allocate one */
    uint32_t position;     /* latency-model position (sites); NET_POSITION_AUTO = draw */
    FwType fw;             /* firewall at this node's outside boundary */
    bool icmp_unreachable; /* hosts: answer UDP to closed ports with ICMP port
                              unreachable (default false: silent drop) */
} NetNodeConfig;

/* Fills c with the defaults of a site (public host or outermost NAT):
 * 1 Mbit/s up, 8 Mbit/s down, 64 KiB queues, no loss, access delay and
 * jitter drawn from the latency model, position drawn, firewall open. */
void net_node_config_site(NetNodeConfig *c);

/* Fills c with the defaults of a node inside a private realm: unlimited
 * rate, 0.25 ms LAN delay, no jitter, no loss. */
void net_node_config_lan(NetNodeConfig *c);

/* Run-wide parameters. */
typedef struct NetConfig {
    uint32_t tcp_window_bytes;    /* bytes in flight per TCP connection (default 64 KiB) */
    uint32_t tcp_mss;             /* TCP payload per segment, bytes (default 1460) */
    TimeNs tcp_syn_rto_ns;        /* first SYN retransmission timeout (default 1 s) */
    uint32_t tcp_syn_retries;     /* SYN retransmissions before giving up (default 3:
                                     SYNs at 0, 1, 3, 7 s, failure at 15 s) */
    TimeNs tcp_rto_min_ns;        /* lower bound of the data RTO (default 200 ms) */
    TimeNs tcp_rto_max_ns;        /* upper bound of the data RTO (default 60 s) */
    uint32_t tcp_data_retries;    /* data retransmissions of one segment before reset
                                     (default 8) */
    TimeNs tcp_time_wait_ns;      /* TIME_WAIT of the active closer (default 2 s,
                                     shortened from 2 MSL to save memory) */
    TimeNs fw_udp_timeout_ns;     /* firewall UDP flow lifetime (default 120 s) */
    TimeNs fw_tcp_established_ns; /* firewall TCP established lifetime (default 2 h 4 min) */
    TimeNs fw_tcp_transitory_ns;  /* firewall TCP transitory lifetime (default 4 min) */
} NetConfig;

void net_config_default(NetConfig *c);

/* Creates a network on sim. lat: the latency model, borrowed (must outlive
 * the Net); NULL makes a default region model owned by the Net. cfg:
 * copied; NULL for defaults. Returns an owned Net; never NULL. */
Net *net_new(Sim *sim, const Latency *lat, const NetConfig *cfg);

/* Frees the network: every socket, connection, mapping and packet in
 * flight, and cancels the pending events of packets and connections.
 * Call it before sim_free(), and do not run the Sim afterwards (NAT expiry
 * events stay queued; they are discarded by sim_free()). Closes a capture
 * file (pcap.h). NULL is a no-op. */
void net_free(Net *net);

Sim *net_sim(const Net *net);                /* borrowed */
const Latency *net_latency(const Net *net);  /* borrowed */
const NetConfig *net_config(const Net *net); /* borrowed */

/* Adds a host under parent (NET_INTERNET or a NAT box). cfg: copied; NULL
 * for the defaults of its place (site or LAN). Returns the node id, or
 * NET_NODE_NONE with err set when cfg->addr is taken or not usable.
 * The host starts up. O(1) amortised. */
uint32_t net_host_add(Net *net, uint32_t parent, const NetNodeConfig *cfg, GError **err);

/* Adds a NAT box under parent; its outside address is cfg->addr or
 * allocated in the parent realm, its inside realm uses nat->inside_net.
 * nat: copied; must be enabled (a disabled preset, "none", means no box).
 * Returns the node id, or NET_NODE_NONE with err set. */
uint32_t net_nat_add(Net *net, uint32_t parent, const NetNodeConfig *cfg, const NatConfig *nat,
                     GError **err);

/* Brings a host or NAT box down or up (churn). Down: its UDP sockets, TCP
 * listeners and connections vanish without callbacks and without packets
 * (the process died; handles become stale); a NAT box forgets its mappings
 * and its realm is cut off. Packets reaching a down node are dropped
 * (NET_DROP_HOST_DOWN). Mappings other NATs hold for it expire normally. */
void net_node_set_up(Net *net, uint32_t node, bool up);
bool net_node_is_up(const Net *net, uint32_t node);

size_t net_node_count(const Net *net);             /* nodes including the root */
bool net_node_is_nat(const Net *net, uint32_t node);
uint32_t net_node_parent(const Net *net, uint32_t node); /* NET_INTERNET for sites */
uint32_t net_node_site(const Net *net, uint32_t node);   /* outermost ancestor (or itself) */
uint32_t net_node_addr(const Net *net, uint32_t node);   /* address in the parent realm */
uint32_t net_node_position(const Net *net, uint32_t node); /* latency position of its site */
FwType net_node_fw(const Net *net, uint32_t node);         /* its firewall */
/* The public address of the node's site: the address others on the
 * Internet see (for a NATed host, its outermost NAT's). */
uint32_t net_node_public_addr(const Net *net, uint32_t node);
/* A NAT box's configuration (borrowed) or NULL for a host. */
const NatConfig *net_nat_config(const Net *net, uint32_t node);
/* Live mappings of a NAT box (0 for a host). */
uint32_t net_nat_mapping_count(const Net *net, uint32_t node);
/* Finds the node that has addr in the realm of `realm` (NET_INTERNET for
 * public addresses); NET_NODE_NONE if none. */
uint32_t net_node_find(const Net *net, uint32_t realm, uint32_t addr);

/* Counters. tx: packets the node sent or forwarded onto its uplink; rx:
 * packets that arrived at it over its downlink. Bytes are wire bytes
 * (IPv4 + UDP/TCP headers + payload). */
typedef struct NetNodeCounters {
    uint64_t tx_pkts;                 /* packets sent up */
    uint64_t tx_bytes;                /* wire bytes sent up */
    uint64_t rx_pkts;                 /* packets arrived from the parent */
    uint64_t rx_bytes;                /* wire bytes arrived */
    uint32_t drops[NET_DROP__COUNT];  /* drops at this node and its links, by cause */
} NetNodeCounters;

typedef enum NetLinkDir { NET_LINK_UP = 0, NET_LINK_DOWN = 1 } NetLinkDir;

typedef struct NetLinkCounters {
    uint64_t pkts;       /* packets accepted onto the link */
    uint64_t bytes;      /* wire bytes accepted */
    uint32_t drop_queue; /* drop-tail drops */
    uint32_t drop_loss;  /* random-loss drops */
} NetLinkCounters;

void net_node_counters(const Net *net, uint32_t node, NetNodeCounters *out);
void net_link_counters(const Net *net, uint32_t node, NetLinkDir dir, NetLinkCounters *out);
uint64_t net_drops_total(const Net *net, NetDrop cause); /* over the whole Net */
uint64_t net_packets_sent(const Net *net);               /* packets created */
size_t net_packets_in_flight(const Net *net);            /* packets out of the pools */

/* Formats addr as "a.b.c.d" into buf (at least NET_ADDR_STR bytes); returns buf. */
#define NET_ADDR_STR 16
char *net_addr_format(uint32_t addr, char *buf);
/* Parses "a.b.c.d"; false on bad syntax. */
bool net_addr_parse(const char *text, uint32_t *out);
/* True for public unicast space (not RFC 1918, CGN 100.64/10, loopback,
 * link local, multicast, reserved or documentation blocks). */
bool net_addr_is_public(uint32_t addr);

/* Sizes of the per-entity structs, for memory reports. */
typedef struct NetSizes {
    size_t node;     /* per host or NAT box */
    size_t nat_box;  /* extra per NAT box */
    size_t mapping;  /* per NAT mapping or firewall flow */
    size_t perm;     /* per filtering permission (ADF/APDF) */
    size_t udp_sock; /* per UDP socket or TCP listener */
    size_t tcp_conn; /* per TCP connection, without its buffers */
    size_t packet;   /* packet header, without payload */
} NetSizes;
NetSizes net_sizes(void);

#endif
