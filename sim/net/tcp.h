/* tcp: TCP connections of simulated hosts.
 *
 * Layer: sim/net. What the measurement papers need from TCP, by mechanism:
 *  - three-way handshake (one RTT before data); SYN retransmission with
 *    exponential backoff (NetConfig tcp_syn_rto_ns, doubling: 1 s, 2 s,
 *    4 s ...) up to tcp_syn_retries, then failure NET_ERR_TIMEOUT; RST from
 *    a host with no listener: NET_ERR_REFUSED; a firewall rejecting the SYN:
 *    NET_ERR_BLOCKED. A NAT or stealth firewall dropping the SYN shows as a
 *    timeout, as in the real thing.
 *  - a reliable in-order byte stream (no framing: the protocol frames),
 *    segmented at tcp_mss (1460) with 40 header bytes per segment, at most
 *    tcp_window_bytes in flight (a fixed window, no congestion control: a
 *    large transfer takes max(size/bottleneck, size/window * RTT)),
 *    cumulative ACKs for every segment, an out-of-order buffer at the
 *    receiver, retransmission on 3 duplicate ACKs and on timeout (RFC 6298
 *    RTO with Karn's rule, min tcp_rto_min_ns, doubling per timeout),
 *    NewReno-style partial-ACK retransmission; giving up after
 *    tcp_data_retries timeouts: NET_ERR_TIMEOUT through `reset`.
 *  - graceful close (FIN both ways; TIME-WAIT for the active closer, also
 *    for both ends of a simultaneous close) and abort (RST).
 *
 * Handles are {index, generation} like NetSock. A connection handle is
 * valid from tcp_connect() (or the accept callback) until the app calls
 * tcp_abort(), or until a terminal callback (failed, closed, reset) has
 * been delivered, or its host goes down (no callback then).
 */
#ifndef SKYSIM_TCP_H
#define SKYSIM_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/net/net.h"
#include "sim/net/sock.h"

typedef struct NetTcp {
    uint32_t idx; /* connection record index */
    uint32_t gen; /* generation; 0 = none */
} NetTcp;

#define NET_TCP_NONE ((NetTcp){0, 0})

/* Connection states as RFC 793 names them (§3.2, Figure 6), those a
 * connection record of this model passes through. LISTEN is not one: a
 * listener is a NetSock (tcp_listen()), and a SYN for it makes a record in
 * SYN-RECEIVED. Simultaneous open is not modelled (see tcp.c). */
typedef enum TcpState {
    TCP_ST_CLOSED = 0,   /* no record (or one about to be freed) */
    TCP_ST_SYN_SENT,     /* active open: our SYN is out */
    TCP_ST_SYN_RECEIVED, /* passive open: our SYN-ACK is out; not accepted yet */
    TCP_ST_ESTABLISHED,  /* handshake done, no FIN either way */
    TCP_ST_FIN_WAIT_1,   /* we closed first: our FIN is out, not acknowledged */
    TCP_ST_FIN_WAIT_2,   /* our FIN is acknowledged; waiting for the peer's */
    TCP_ST_CLOSE_WAIT,   /* the peer closed first; we may still send */
    TCP_ST_CLOSING,      /* both FINs crossed (simultaneous close); ours not acknowledged */
    TCP_ST_LAST_ACK,     /* the peer closed first; our FIN is out, not acknowledged */
    TCP_ST_TIME_WAIT,    /* we closed first, both FINs acknowledged; tcp_time_wait_ns */
    TCP_ST__COUNT
} TcpState;

/* Static string as RFC 793 spells the state, e.g. "FIN-WAIT-1"; "?" if out of range. */
const char *tcp_state_name(TcpState s);

/* Callbacks of one connection; ctx as given to tcp_connect() or by accept. */
typedef struct TcpOps {
    /* Active open completed (SYN-ACK received). May be NULL. */
    void (*connected)(void *ctx, NetTcp c);
    /* Active open failed: NET_ERR_REFUSED, NET_ERR_TIMEOUT, NET_ERR_BLOCKED.
     * Terminal. */
    void (*failed)(void *ctx, NetTcp c, NetErr why);
    /* In-order stream bytes. buf: borrowed for the call. */
    void (*recv)(void *ctx, NetTcp c, const uint8_t *buf, size_t len);
    /* The peer closed its sending side (FIN); all its data has been
     * delivered. Not terminal: finish sending and call tcp_close(). May be
     * NULL, in which case our side closes at once (tcp_close()). */
    void (*peer_closed)(void *ctx, NetTcp c);
    /* Both sides closed gracefully and our data was acknowledged. Terminal. */
    void (*closed)(void *ctx, NetTcp c);
    /* The connection broke: NET_ERR_RESET (RST received) or NET_ERR_TIMEOUT
     * (retransmissions gave up). Terminal. */
    void (*reset)(void *ctx, NetTcp c, NetErr why);
} TcpOps;

/* Callback of a listener. */
typedef struct TcpListenOps {
    /* A connection completed its handshake. Return true and set *ops (borrowed,
     * must outlive the connection) and *conn_ctx to take it; false refuses it
     * with a RST. */
    bool (*accept)(void *ctx, NetSock listener, NetTcp c, NetEp peer, const TcpOps **ops,
                   void **conn_ctx);
} TcpListenOps;

/* Listens on host:port (port != 0). The listener is a NetSock (close it with
 * sock_close()); it shares the port table with UDP only by name, not by
 * number: UDP and TCP ports are separate. Errors: NET_ERR_ADDR_IN_USE,
 * NET_ERR_HOST_DOWN. */
NetErr tcp_listen(Net *net, uint32_t host, uint16_t port, const TcpListenOps *ops, void *ctx,
                  NetSock *out);

/* Opens a connection from host (ephemeral port) to `to`. ops/ctx as above.
 * Outcome later through connected or failed. Errors (synchronous):
 * NET_ERR_HOST_DOWN, NET_ERR_NO_PORTS. */
NetErr tcp_connect(Net *net, uint32_t host, NetEp to, const TcpOps *ops, void *ctx, NetTcp *out);

/* Queues len bytes (copied) for sending; always accepts them all (the send
 * buffer grows). Allowed before the handshake completes. Errors:
 * NET_ERR_BAD_HANDLE, NET_ERR_CLOSED (after tcp_close()). */
NetErr tcp_send(Net *net, NetTcp c, const void *buf, size_t len);

/* Graceful close: a FIN follows the queued data (also when called before
 * the handshake completed: data and FIN go once it does). Receiving
 * continues until the peer closes; then `closed`. Stale handle:
 * NET_ERR_BAD_HANDLE. */
NetErr tcp_close(Net *net, NetTcp c);

/* Abort: sends RST (if the handshake started) and forgets the connection at
 * once; no further callbacks. A stale handle is a no-op. */
void tcp_abort(Net *net, NetTcp c);

bool tcp_is_open(const Net *net, NetTcp c);
size_t tcp_queued_bytes(const Net *net, NetTcp c); /* unacknowledged + unsent bytes */
NetEp tcp_local(const Net *net, NetTcp c);         /* as bound on the host */
NetEp tcp_peer(const Net *net, NetTcp c);          /* as addressed (before NATs) */
size_t net_tcp_count(const Net *net);              /* connection records, incl. TIME-WAIT */

/* The state of host's connection from local port lport to peer (as
 * addressed, before NATs), also of a record the app has no handle to any
 * more (TIME-WAIT); TCP_ST_CLOSED when there is none. For tests and traces. */
TcpState tcp_state_find(const Net *net, uint32_t host, uint16_t lport, NetEp peer);

#endif
