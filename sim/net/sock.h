/* sock: UDP sockets of simulated hosts (and the port table TCP listeners share).
 *
 * Layer: sim/net. A socket is bound to (host, port); a datagram sent to an
 * address travels the packet path of net.h and arrives through the recv
 * callback of the socket bound to its destination (host, port). With nothing
 * bound there, the datagram is dropped silently (NET_DROP_NO_LISTENER), or,
 * when the destination host has icmp_unreachable set, answered with ICMP
 * port unreachable, which reaches the sender's error callback (and is
 * translated back through NATs like any packet).
 *
 * Handles are {index, generation}: cheap to store, and a stale handle (the
 * socket was closed, or its host went down) is detected (NET_ERR_BAD_HANDLE)
 * instead of touching freed memory. An idle socket costs 40 bytes.
 */
#ifndef SKYSIM_SOCK_H
#define SKYSIM_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/net/net.h"

typedef struct NetSock {
    uint32_t idx; /* socket record index */
    uint32_t gen; /* generation of the record; 0 = none */
} NetSock;

#define NET_SOCK_NONE ((NetSock){0, 0})
#define NET_UDP_MAX_PAYLOAD 1500 /* bytes of payload per datagram */
#define NET_EPHEMERAL_LO 49152   /* ephemeral port range (IANA) */
#define NET_EPHEMERAL_HI 65535

/* Callbacks of a UDP socket; ctx is the one given to sock_udp_open(). */
typedef struct UdpOps {
    /* A datagram arrived. from: the sender as seen here (after NATs).
     * buf: borrowed for the call only. */
    void (*recv)(void *ctx, NetSock s, NetEp from, const uint8_t *buf, size_t len);
    /* An ICMP error about a datagram sent to `to`: NET_ERR_UNREACHABLE (port
     * unreachable) or NET_ERR_BLOCKED (a firewall on the way). May be NULL. */
    void (*error)(void *ctx, NetSock s, NetEp to, NetErr err);
} UdpOps;

/* Opens a UDP socket on host at port (0 = an ephemeral port). ops: borrowed,
 * must outlive the socket (use a static const table); ctx: borrowed, handed
 * back to the callbacks. *out: the handle. Errors: NET_ERR_ADDR_IN_USE,
 * NET_ERR_NO_PORTS, NET_ERR_HOST_DOWN. Synchronous. */
NetErr sock_udp_open(Net *net, uint32_t host, uint16_t port, const UdpOps *ops, void *ctx,
                     NetSock *out);

/* Sends len bytes of buf (copied) to `to`. Errors: NET_ERR_BAD_HANDLE,
 * NET_ERR_MSG_SIZE. A datagram lost on the way is not an error. */
NetErr sock_udp_send(Net *net, NetSock s, NetEp to, const void *buf, size_t len);

/* Closes a UDP socket or TCP listener; no further callbacks. A stale handle
 * is a no-op. Callable from inside a callback. */
void sock_close(Net *net, NetSock s);

bool sock_is_open(const Net *net, NetSock s);
uint16_t sock_port(const Net *net, NetSock s);  /* 0 if stale */
uint32_t sock_host(const Net *net, NetSock s);  /* NET_NODE_NONE if stale */
size_t net_sock_count(const Net *net);          /* open sockets and listeners */

#endif
