/* fw: firewalls, the situations the Skype measurement papers tested.
 *
 * Layer: sim/net. A firewall sits at a node's outside boundary (a host's
 * own, or a NAT box's outside, where it sees internal endpoints after
 * inbound translation). Types:
 *  - open: everything passes;
 *  - stateful: outbound passes and opens a flow (exact 5-tuple); inbound
 *    passes only as a reply on an open flow;
 *  - udp_blocked: no UDP in either direction; TCP as stateful;
 *  - tcp_80_443_only: no UDP; outbound TCP only to ports 80 and 443;
 *    inbound only as replies.
 * Blocked outbound packets are rejected: the firewall answers the sender
 * with ICMP "administratively prohibited" (sockets see NET_ERR_BLOCKED).
 * Blocked inbound packets are dropped silently (stealth). ICMP errors about
 * an open flow pass. Flow lifetimes are NetConfig's fw_* values; packets in
 * either direction refresh a flow (connection tracking).
 */
#ifndef SKYSIM_FW_H
#define SKYSIM_FW_H

#include <stdbool.h>

typedef enum FwType {
    FW_OPEN = 0,
    FW_STATEFUL = 1,
    FW_UDP_BLOCKED = 2,
    FW_TCP_80_443_ONLY = 3,
    FW__COUNT
} FwType;

/* "open", "stateful", "udp_blocked", "tcp_80_443_only"; false if unknown. */
bool fw_type_parse(const char *name, FwType *out);
const char *fw_type_name(FwType t);
/* The same names, NULL-terminated, indexed by FwType; static. */
const char *const *fw_type_names(void);

#endif
