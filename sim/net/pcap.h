/* pcap: packet capture of the simulated network, and a reader for it.
 *
 * Layer: sim/net. pcapng files: one interface per capture point (named by
 * the caller's namer, e.g. after the host's addresses, group and NAT
 * type), nanosecond timestamps from virtual time, link type LINKTYPE_RAW
 * (101): every record is an IPv4 packet with synthesized headers: IPv4 (correct
 * header checksum, TTL decremented by every NAT), UDP or TCP (flags, seq,
 * ack, window; correct checksums over the real payload) or ICMP destination
 * unreachable quoting the offending header. Addresses are the ones on the
 * wire at the capture point: a host's capture shows what its interface sees
 * (its private address behind a NAT); a NAT box's capture shows its outside
 * interface (translated addresses). tshark and Wireshark read the files.
 *
 * Capture points, each a pcapng interface that holds every packet once:
 *  - a chosen node (net_pcap_capture_node): every packet its interface
 *    sends or receives;
 *  - the access links (net_pcap_capture_access): every packet once, at the
 *    first host interface it passes (its sender's; an ICMP answer a NAT or
 *    firewall makes, its receiver's); one interface per host;
 *  - the core (net_pcap_capture_core): every packet that crosses the core
 *    between sites, with public addresses, as it leaves its site.
 *
 * The file is written under "<path>.part" and renamed to path when closed,
 * so a complete-looking capture is a complete one.
 */
#ifndef SKYSIM_PCAP_H
#define SKYSIM_PCAP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/net/net.h"

#define PCAP_LINKTYPE_RAW 101

#define PCAP_ERROR (pcap_error_quark())
GQuark pcap_error_quark(void);
enum { PCAP_ERROR_IO, PCAP_ERROR_FORMAT };

/* Starts capturing into path (borrowed). Nothing is captured until capture
 * points are chosen (net_pcap_capture_node, _access, _core).
 * false with err on I/O failure or when a capture is already open. */
bool net_pcap_open(Net *net, const char *path, GError **err);

/* Captures (or stops capturing) at node: a host's sent and received
 * packets, a NAT box's outside interface. */
void net_pcap_capture_node(Net *net, uint32_t node, bool on);

/* Captures at every host's access link (present and future hosts), each
 * packet once, where it is first seen. */
void net_pcap_capture_access(Net *net, bool on);

/* Captures the packets crossing the core between sites. */
void net_pcap_capture_core(Net *net, bool on);

/* Names capture point `node`'s interface into name (empty on entry); called
 * once per capture point, when it captures its first packet. */
typedef void (*NetPcapNamer)(void *ctx, uint32_t node, GString *name);

/* Sets the namer of the open capture (ctx borrowed). Without one an
 * interface is named "node N a.b.c.d"; the core is always "core". */
void net_pcap_set_namer(Net *net, NetPcapNamer fn, void *ctx);

/* Flushes, closes and renames the file. false with err on I/O failure.
 * No-op (true) when no capture is open. net_free() calls it. */
bool net_pcap_close(Net *net, GError **err);

uint64_t net_pcap_records(const Net *net); /* records written so far */

/* Reader (tests, tools). */
typedef struct PcapReader PcapReader;

typedef struct PcapRecord {
    TimeNs ts_ns;        /* timestamp (ns; classic files: their resolution) */
    uint32_t iface;      /* pcapng: interface index; classic files: 0 */
    uint32_t caplen;     /* bytes in data */
    uint32_t origlen;    /* bytes on the wire */
    const uint8_t *data; /* borrowed until the next call */
} PcapRecord;

/* Opens a capture (pcapng, or classic pcap); checks magic and link type
 * (raw IPv4). */
PcapReader *pcap_reader_open(const char *path, GError **err);
/* Next record; false at the end or (err set) on a truncated file. */
bool pcap_reader_next(PcapReader *r, PcapRecord *rec, GError **err);
void pcap_reader_free(PcapReader *r);
/* pcapng: the interfaces described so far (by the records read) and their
 * names (borrowed from r; "" when unnamed). Classic files: none. */
size_t pcap_reader_iface_count(const PcapReader *r);
const char *pcap_reader_iface_name(const PcapReader *r, size_t i);

/* The headers of a raw IPv4 packet, decoded. */
typedef struct PcapIp {
    uint32_t src, dst;       /* IPv4 addresses */
    uint8_t proto;           /* 1 ICMP, 6 TCP, 17 UDP */
    uint8_t ttl;             /* time to live */
    uint16_t total_len;      /* IPv4 total length */
    uint16_t sport, dport;   /* UDP/TCP ports; ICMP: quoted packet's ports */
    uint32_t seq, ack;       /* TCP */
    uint8_t tcp_flags;       /* TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16) */
    uint8_t icmp_type, icmp_code; /* ICMP */
    uint32_t quoted_src, quoted_dst; /* ICMP: quoted packet's addresses */
    uint16_t payload_len;    /* transport payload bytes */
    const uint8_t *payload;  /* borrowed from the record */
    bool ip_csum_ok;         /* IPv4 header checksum verifies */
    bool l4_csum_ok;         /* UDP/TCP/ICMP checksum verifies */
} PcapIp;

/* Decodes a record's bytes; false if it is not a well-formed IPv4 packet. */
bool pcap_parse_ipv4(const uint8_t *data, size_t len, PcapIp *out);

#endif
