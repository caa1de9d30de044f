/* nat: NAT boxes after RFC 4787 (UDP) and RFC 5382 (TCP).
 *
 * Layer: sim/net. A NAT box (net.h) translates between its private realm
 * and the realm outside it. Its behaviour is the set of independent knobs
 * RFC 4787 names, never a table of outcomes:
 *  - mapping (§4.1): endpoint-independent (EIM), address-dependent (ADM),
 *    address-and-port-dependent (APDM): which outbound flows share an
 *    external port;
 *  - filtering (§5): endpoint-independent (EIF), address-dependent (ADF),
 *    address-and-port-dependent (APDF): which outside senders may use a
 *    mapping;
 *  - port assignment (§4.2.1): preserving (keep the internal port when
 *    free), sequential, random;
 *  - mapping refresh (§4.3): UDP timeout (default 120 s, REQ-5), refreshed
 *    by outbound packets, optionally by inbound ones; TCP (RFC 5382 §5):
 *    established idle lifetime (default 2 h 4 min, REQ-5) and transitory
 *    lifetime (4 min) before the handshake completes and after FIN/RST;
 *  - hairpinning (§6, REQ-9): a packet from inside to the NAT's own
 *    outside address is translated in and out, with the sender's external
 *    endpoint as source;
 *  - a cap on live mappings per NAT (cap reached: new flows are dropped).
 * The RFC 3489 names are presets: full_cone = EIM+EIF, restricted_cone =
 * EIM+ADF, port_restricted_cone = EIM+APDF, symmetric = APDM+APDF (sequential
 * ports), and "none" = no NAT at all.
 *
 * Connection tracking (conntrack = true) models a Linux router (netfilter
 * nf_conntrack + nf_nat) instead of an RFC mapping table: every state is one
 * flow, the exact 5-tuple, and an external port is taken only for the remote
 * endpoint that uses it, so inside hosts talking to different destinations
 * share it. A new flow keeps its internal port when that tuple is free
 * (port_alloc preserving; APDM never preserves) and otherwise takes a random
 * one (nf_nat_l4proto_unique_tuple). Endpoint-independent mapping is thus
 * what preservation yields, not a table entry: a colliding flow gets its own
 * port. Replies pass (APDF); under ADF/EIF a packet from another remote
 * opens a flow to the internal endpoint of one on that port. A UDP flow
 * lives udp_unreplied_ns until it has seen a reply and a packet more than
 * udp_assure_ns after its creation, then udp_timeout_ns
 * (nf_conntrack_udp_timeout, _timeout_stream); inbound_refresh: packets in
 * both directions refresh. unsolicited_state: an inbound packet that matches
 * no flow is accepted by the router itself and leaves an unreplied entry
 * (remote -> external port) that makes the next flow from that port to that
 * remote take another port. forward: every such packet is forwarded (DNAT)
 * to the realm's first host, same port, and opens a flow (a static 1:1
 * forward, "DMZ host"). The presets linux_masquerade, linux_home_router
 * (unsolicited input dropped, so no state), linux_random_fully and
 * static_forward (SNAT + DNAT) are such NATs; their mapping and filtering
 * fields name the behaviour fresh flows see (used for labels).
 */
#ifndef SKYSIM_NAT_H
#define SKYSIM_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/base/timens.h"

typedef enum NatMapping {
    NAT_MAP_ENDPOINT_INDEPENDENT = 0, /* EIM: one external port per internal endpoint */
    NAT_MAP_ADDRESS_DEPENDENT = 1,    /* ADM: ... per (internal endpoint, remote address) */
    NAT_MAP_ADDRESS_PORT_DEPENDENT = 2, /* APDM: ... per (internal, remote endpoint) */
} NatMapping;

typedef enum NatFiltering {
    NAT_FILTER_ENDPOINT_INDEPENDENT = 0,  /* EIF: anyone may send to a mapping */
    NAT_FILTER_ADDRESS_DEPENDENT = 1,     /* ADF: addresses the inside sent to */
    NAT_FILTER_ADDRESS_PORT_DEPENDENT = 2, /* APDF: endpoints the inside sent to */
} NatFiltering;

typedef enum NatPortAlloc {
    NAT_PORT_PRESERVING = 0, /* external port = internal port when free, else sequential */
    NAT_PORT_SEQUENTIAL = 1, /* next free port after the last one handed out */
    NAT_PORT_RANDOM = 2,     /* uniform in 1024..65535 */
} NatPortAlloc;

typedef struct NatConfig {
    bool enabled;                     /* false: the "none" preset, no NAT box */
    NatMapping mapping;               /* RFC 4787 §4.1 */
    NatFiltering filtering;           /* RFC 4787 §5 */
    NatPortAlloc port_alloc;          /* RFC 4787 §4.2.1 */
    bool hairpin;                     /* RFC 4787 §6 */
    bool inbound_refresh;             /* UDP: inbound packets refresh the mapping too */
    bool conntrack;                   /* per-flow state as Linux conntrack (above) */
    bool unsolicited_state;           /* conntrack: unmatched inbound leaves an entry */
    bool forward;                     /* conntrack: unmatched inbound goes to the first host */
    TimeNs udp_timeout_ns;            /* UDP mapping lifetime since last refresh
                                         (conntrack: once assured) */
    TimeNs udp_unreplied_ns;          /* conntrack: UDP lifetime until assured */
    TimeNs udp_assure_ns;             /* conntrack: age after which two-way traffic assures */
    TimeNs tcp_established_ns;        /* TCP mapping lifetime, established */
    TimeNs tcp_transitory_ns;         /* TCP mapping lifetime, transitory */
    uint32_t max_mappings;            /* cap on live mappings; 0 = none */
    uint32_t inside_net;              /* base of the private realm (e.g. 192.168.0.0) */
    uint8_t inside_prefix_len;        /* its prefix length (e.g. 16) */
} NatConfig;

/* Defaults: port_restricted_cone (EIM, APDF, preserving), hairpin on, no
 * inbound refresh, no conntrack, UDP 120 s, TCP 7440 s / 240 s, no cap,
 * 192.168.0.0/16. */
void nat_config_default(NatConfig *c);

/* Fills c from a preset name: "full_cone", "restricted_cone",
 * "port_restricted_cone", "symmetric", "none" (enabled = false); timeouts
 * and other knobs take the defaults. The Linux presets "linux_masquerade",
 * "linux_home_router", "linux_random_fully" and "static_forward" set
 * conntrack with the kernel's defaults: UDP 30 s unreplied, 120 s assured
 * after 2 s, both directions refresh, TCP established 432,000 s (5 days)
 * and transitory 120 s, no hairpinning. false for an unknown name. */
bool nat_preset(const char *name, NatConfig *c);

/* The preset names nat_preset() knows, "none" first, then the RFC 3489 ones
 * from the most open to the most restrictive, then the conntrack ones, again
 * from the most open; NULL-terminated, static. */
const char *const *nat_preset_names(void);

/* Parsers and names of the knobs, for scenario files: "eim" "adm" "apdm",
 * "eif" "adf" "apdf", "preserving" "sequential" "random". */
bool nat_mapping_parse(const char *name, NatMapping *out);
bool nat_filtering_parse(const char *name, NatFiltering *out);
bool nat_port_alloc_parse(const char *name, NatPortAlloc *out);
const char *nat_mapping_name(NatMapping m);
const char *nat_filtering_name(NatFiltering f);
const char *nat_port_alloc_name(NatPortAlloc p);
/* The same names as NULL-terminated lists indexed by the enum value, for
 * "one of ..." messages and table-driven readers; static. */
const char *const *nat_mapping_names(void);
const char *const *nat_filtering_names(void);
const char *const *nat_port_alloc_names(void);

#endif
