/* sock: UDP sockets and the port table (sock.h).
 *
 * Layer: sim/net. Sockets and TCP listeners are pooled 40-byte records,
 * indexed by (host, protocol, port) in one Net-wide chained hash and listed
 * per host (singly linked: a host has a handful) so that a host going down
 * closes its own sockets in O(its sockets). A record's generation is odd
 * while it is open; handles carry it, so stale handles are harmless.
 */
#include "sim/net/sock.h"

#include <string.h>

#include "protocol/base/check.h"
#include "sim/net/net_int.h"

static uint64_t sock_key_hash(uint32_t host, uint8_t proto, uint16_t port)
{
    return rng_mix64(((uint64_t)host << 32) | ((uint64_t)proto << 16) | port);
}

static uint64_t sock_hash(const void *ctx, uint32_t idx)
{
    const Net *net = ctx;
    const Sock *s = pool_at(net->sock_pool, idx);
    return sock_key_hash(s->host, s->proto, s->port);
}

static uint32_t *sock_next(const void *ctx, uint32_t idx)
{
    const Net *net = ctx;
    Sock *s = pool_at(net->sock_pool, idx);
    return &s->next;
}

static const IdxHashOps sock_ops = {.hash = sock_hash, .next = sock_next};

void sock__init(Net *net)
{
    net->sock_pool = pool_new("net.sock", sizeof(Sock), 8);
    idxhash_init(&net->sock_index, &sock_ops, net);
}

void sock__fini(Net *net)
{
    for (uint32_t h = 1; h < net->nnodes; h++) sock__host_down(net, h);
    idxhash_fini(&net->sock_index);
    pool_free(net->sock_pool);
}

Sock *sock__find(const Net *net, uint32_t host, uint8_t proto, uint16_t port)
{
    uint32_t i1 = idxhash_first(&net->sock_index, sock_key_hash(host, proto, port));
    while (i1) {
        Sock *s = pool_at(net->sock_pool, i1 - 1);
        if (s->host == host && s->port == port && s->proto == proto) return s;
        i1 = s->next;
    }
    return NULL;
}

Sock *sock__get(const Net *net, NetSock h)
{
    if (!(h.gen & 1) || h.idx >= pool_capacity(net->sock_pool)) return NULL;
    Sock *s = pool_at(net->sock_pool, h.idx);
    return s->gen == h.gen ? s : NULL;
}

NetErr sock__open(Net *net, uint32_t host, uint8_t proto, uint16_t port, const void *ops, void *ctx,
                  NetSock *out)
{
    CHECK(host > 0 && host < net->nnodes && net->nodes[host].kind == NODE_HOST,
          "node %u is not a host", host);
    NetNode *n = &net->nodes[host];
    if (!(n->flags & NODE_UP)) return NET_ERR_HOST_DOWN;
    if (port == 0) {
        port = net__ephemeral_port(net, host, proto);
        if (port == 0) return NET_ERR_NO_PORTS;
    } else if (sock__find(net, host, proto, port)) {
        return NET_ERR_ADDR_IN_USE;
    }
    Sock *s = pool_get(net->sock_pool);
    if (s->gen == 0) s->idx = pool_index(net->sock_pool, s);
    s->gen++;
    s->host = host;
    s->port = port;
    s->proto = proto;
    s->ops = ops;
    s->ctx = ctx;
    s->next = 0;
    s->host_next = n->socks;
    n->socks = s->idx + 1;
    idxhash_insert(&net->sock_index, s->idx, sock_key_hash(host, proto, port));
    net->nsocks++;
    *out = (NetSock){s->idx, s->gen};
    return NET_OK;
}

NetErr sock_udp_open(Net *net, uint32_t host, uint16_t port, const UdpOps *ops, void *ctx,
                     NetSock *out)
{
    CHECK(ops && ops->recv, "UDP socket without a recv callback");
    return sock__open(net, host, NET_PROTO_UDP, port, ops, ctx, out);
}

NetErr sock_udp_send(Net *net, NetSock h, NetEp to, const void *buf, size_t len)
{
    Sock *s = sock__get(net, h);
    if (!s || s->proto != NET_PROTO_UDP) return NET_ERR_BAD_HANDLE;
    if (len > NET_UDP_MAX_PAYLOAD) return NET_ERR_MSG_SIZE;
    Packet *p = net__pkt_new(net, len);
    p->proto = NET_PROTO_UDP;
    p->sport = s->port;
    p->dst = to.addr;
    p->dport = to.port;
    if (len) memcpy(p->data, buf, len);
    net__send(net, s->host, p);
    return NET_OK;
}

void sock_close(Net *net, NetSock h)
{
    Sock *s = sock__get(net, h);
    if (!s) return;
    idxhash_remove(&net->sock_index, s->idx, sock_key_hash(s->host, s->proto, s->port));
    uint32_t *link = &net->nodes[s->host].socks;
    while (*link != s->idx + 1) {
        CHECK(*link, "socket %u missing from its host's list", s->idx);
        link = &((Sock *)pool_at(net->sock_pool, *link - 1))->host_next;
    }
    *link = s->host_next;
    s->gen++;
    net->nsocks--;
    pool_put(net->sock_pool, s);
}

bool sock_is_open(const Net *net, NetSock h) { return sock__get(net, h) != NULL; }

uint16_t sock_port(const Net *net, NetSock h)
{
    Sock *s = sock__get(net, h);
    return s ? s->port : 0;
}

uint32_t sock_host(const Net *net, NetSock h)
{
    Sock *s = sock__get(net, h);
    return s ? s->host : NET_NODE_NONE;
}

size_t net_sock_count(const Net *net) { return net->nsocks; }

void sock__deliver(Net *net, uint32_t host, Packet *p)
{
    Sock *s = sock__find(net, host, NET_PROTO_UDP, p->dport);
    if (!s) {
        if (net->nodes[host].flags & NODE_ICMP) {
            net__send(net, host,
                      net__icmp_new(net, p, net->nodes[host].addr, NET_ICMP_PORT_UNREACH));
        }
        net__drop(net, host, p, NET_DROP_NO_LISTENER);
        return;
    }
    const UdpOps *ops = s->ops;
    ops->recv(s->ctx, (NetSock){s->idx, s->gen}, (NetEp){p->src, p->sport}, p->data, p->len);
    net__pkt_free(net, p);
}

void sock__icmp(Net *net, uint32_t host, Packet *p)
{
    /* The quoted packet is one we sent: its source port is our socket. */
    Sock *s = sock__find(net, host, NET_PROTO_UDP, p->sport);
    if (s && ((const UdpOps *)s->ops)->error) {
        NetErr e = p->flags == NET_ICMP_ADMIN_PROHIB ? NET_ERR_BLOCKED : NET_ERR_UNREACHABLE;
        ((const UdpOps *)s->ops)->error(s->ctx, (NetSock){s->idx, s->gen}, (NetEp){p->ack, p->dport},
                                         e);
    }
    net__pkt_free(net, p);
}

void sock__host_down(Net *net, uint32_t host)
{
    while (net->nodes[host].socks) {
        Sock *s = pool_at(net->sock_pool, net->nodes[host].socks - 1);
        sock_close(net, (NetSock){s->idx, s->gen});
    }
}
