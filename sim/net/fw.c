/* fw: firewall presets (fw.h) over the flow table of nat.c.
 *
 * Layer: sim/net. A flow is the exact 5-tuple (protocol, local endpoint,
 * remote endpoint) as seen at the firewall's inside; outbound packets that
 * pass open or refresh it, inbound ones refresh it (connection tracking).
 */
#include "sim/net/fw.h"

#include <string.h>

#include "sim/net/net_int.h"

static const char *const fw_names[FW__COUNT + 1] = {
    [FW_OPEN] = "open",
    [FW_STATEFUL] = "stateful",
    [FW_UDP_BLOCKED] = "udp_blocked",
    [FW_TCP_80_443_ONLY] = "tcp_80_443_only",
};

bool fw_type_parse(const char *name, FwType *out)
{
    for (int i = 0; i < FW__COUNT; i++) {
        if (strcmp(fw_names[i], name) == 0) {
            *out = (FwType)i;
            return true;
        }
    }
    return false;
}

const char *const *fw_type_names(void) { return fw_names; }

const char *fw_type_name(FwType t) { return (unsigned)t < FW__COUNT ? fw_names[t] : "?"; }

NetDrop fw__outbound(Net *net, uint32_t node, const Packet *p)
{
    FwType t = (FwType)net->nodes[node].fw;
    if (t == FW_OPEN || p->proto == NET_PROTO_ICMP) return NET_DROP_NONE;
    bool no_udp = t == FW_UDP_BLOCKED || t == FW_TCP_80_443_ONLY;
    if (p->proto == NET_PROTO_UDP && no_udp) return NET_DROP_FIREWALL;
    NetEp local = {p->src, p->sport}, remote = {p->dst, p->dport};
    bool create = true;
    if (t == FW_TCP_80_443_ONLY) create = p->dport == 80 || p->dport == 443;
    if (!nat__fw_flow(net, node, p->proto, local, remote, p->flags, true, create)) {
        return NET_DROP_FIREWALL;
    }
    return NET_DROP_NONE;
}

NetDrop fw__inbound(Net *net, uint32_t node, const Packet *p)
{
    FwType t = (FwType)net->nodes[node].fw;
    if (t == FW_OPEN) return NET_DROP_NONE;
    if (p->proto == NET_PROTO_ICMP) {
        /* An error about one of our flows passes (related traffic). */
        NetEp local = {p->seq, p->sport}, remote = {p->ack, p->dport};
        bool ok = nat__fw_flow(net, node, p->eproto, local, remote, 0, false, false);
        return ok ? NET_DROP_NONE : NET_DROP_FIREWALL;
    }
    bool no_udp = t == FW_UDP_BLOCKED || t == FW_TCP_80_443_ONLY;
    if (p->proto == NET_PROTO_UDP && no_udp) return NET_DROP_FIREWALL;
    NetEp local = {p->dst, p->dport}, remote = {p->src, p->sport};
    if (!nat__fw_flow(net, node, p->proto, local, remote, p->flags, false, false)) {
        return NET_DROP_FIREWALL;
    }
    return NET_DROP_NONE;
}
