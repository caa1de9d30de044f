/* test_net_util: helpers shared by the sim/net suites (test_net, test_nat,
 * test_fw, test_tcp, test_pcap): a world with fixed link parameters, and
 * UDP/TCP sockets that record what they see. Header-only, static. */
#ifndef SKYSIM_TEST_NET_UTIL_H
#define SKYSIM_TEST_NET_UTIL_H

#include <string.h>

#include "sim/kernel/sim.h"
#include "sim/net/net.h"
#include "sim/net/sock.h"
#include "sim/net/tcp.h"
#include "t_assert.h"

#define RX_MAX 4096

/* What a UDP socket received. */
typedef struct Rx {
    Net *net;              /* for sim_now */
    int n;                 /* datagrams received */
    NetEp from[RX_MAX];    /* senders as seen */
    TimeNs at[RX_MAX];     /* arrival times */
    size_t len[RX_MAX];    /* sizes */
    uint8_t last[1500];    /* last payload */
    int nerr;              /* error callbacks */
    NetErr err;            /* last error */
    NetEp err_to;          /* destination the error is about */
} Rx;

static void rx_recv(void *ctx, NetSock s, NetEp from, const uint8_t *buf, size_t len)
{
    (void)s;
    Rx *rx = ctx;
    if (rx->n < RX_MAX) {
        rx->from[rx->n] = from;
        rx->at[rx->n] = sim_now(net_sim(rx->net));
        rx->len[rx->n] = len;
    }
    memcpy(rx->last, buf, len);
    rx->n++;
}

static void rx_error(void *ctx, NetSock s, NetEp to, NetErr err)
{
    (void)s;
    Rx *rx = ctx;
    rx->nerr++;
    rx->err = err;
    rx->err_to = to;
}

static const UdpOps rx_ops = {.recv = rx_recv, .error = rx_error};

/* A site with fixed parameters: rates in bit/s (0 unlimited), one-way link
 * delay, region position 0, no jitter, no loss, 64 KiB queues. */
static inline NetNodeConfig site_cfg(uint64_t up, uint64_t down, TimeNs delay)
{
    NetNodeConfig c;
    net_node_config_site(&c);
    c.link.up_bps = up;
    c.link.down_bps = down;
    c.link.delay_ns = delay;
    c.link.jitter_ns = 0;
    c.position = 0;
    return c;
}

static inline uint32_t add_site_host(Net *net, uint64_t up, uint64_t down, TimeNs delay)
{
    NetNodeConfig c = site_cfg(up, down, delay);
    uint32_t h = net_host_add(net, NET_INTERNET, &c, NULL);
    CU_ASSERT_FATAL(h != NET_NODE_NONE);
    return h;
}

static inline uint32_t add_nat(Net *net, uint32_t parent, const NatConfig *nc)
{
    NetNodeConfig c = site_cfg(0, 0, 1 * TIMENS_MS);
    if (parent != NET_INTERNET) net_node_config_lan(&c);
    uint32_t n = net_nat_add(net, parent, &c, nc, NULL);
    CU_ASSERT_FATAL(n != NET_NODE_NONE);
    return n;
}

static inline uint32_t add_lan_host(Net *net, uint32_t nat)
{
    uint32_t h = net_host_add(net, nat, NULL, NULL);
    CU_ASSERT_FATAL(h != NET_NODE_NONE);
    return h;
}

static inline NetSock udp_open(Net *net, uint32_t host, uint16_t port, Rx *rx)
{
    NetSock s;
    rx->net = net;
    T_EQ_I64(sock_udp_open(net, host, port, &rx_ops, rx, &s), NET_OK);
    return s;
}

static inline void udp_send_str(Net *net, NetSock s, NetEp to, const char *msg)
{
    T_EQ_I64(sock_udp_send(net, s, to, msg, strlen(msg)), NET_OK);
}

static inline NetEp ep(uint32_t addr, uint16_t port) { return (NetEp){addr, port}; }

/* Runs the sim for d more nanoseconds. */
static inline void run_for(Sim *sim, TimeNs d) { sim_run_until(sim, sim_now(sim) + d); }

/* A fresh sim + net (default region model, default config). */
static inline Net *net_fixture(Sim **sim, uint64_t seed, const NetConfig *cfg)
{
    *sim = sim_new(seed, EVQ_HEAP);
    return net_new(*sim, NULL, cfg);
}

static inline void net_fixture_free(Sim *sim, Net *net)
{
    net_free(net);
    sim_free(sim);
}

#endif
