/* test_net: nodes, addresses, links (serialisation, drop-tail, loss),
 * UDP sockets, counters and the memory budgets of sim/net. */
#include "sim/net/net_int.h"
#include "test_net_util.h"

#include <stdio.h>

static void test_net_sizes_within_budget(void)
{
    NetSizes z = net_sizes();
    printf("\n    sizeof: node %zu (host budget 256), mapping %zu (64), udp socket %zu (64), "
           "perm %zu, nat box %zu, tcp conn %zu, packet header %zu\n",
           z.node, z.mapping, z.udp_sock, z.perm, z.nat_box, z.tcp_conn, z.packet);
    T_CMP_I64(z.node, <=, 256);
    T_CMP_I64(z.mapping, <=, 64);
    T_CMP_I64(z.udp_sock, <=, 64);
    T_CMP_I64(sizeof(NetNode), <=, 256);
    T_CMP_I64(sizeof(NatMap), <=, 64);
    T_CMP_I64(sizeof(Sock), <=, 64);
}

static void test_net_addresses(void)
{
    char buf[NET_ADDR_STR];
    uint32_t a;
    T_TRUE(net_addr_parse("192.168.1.2", &a));
    T_EQ_U64(a, 0xc0a80102u);
    T_STR_EQ(net_addr_format(a, buf), "192.168.1.2");
    T_FALSE(net_addr_parse("1.2.3", &a));
    T_FALSE(net_addr_parse("1.2.3.256", &a));
    T_FALSE(net_addr_parse("1.2.3.4x", &a));
    T_FALSE(net_addr_is_public(0x0a000001u));  /* 10.0.0.1 */
    T_FALSE(net_addr_is_public(0x64400001u));  /* 100.64.0.1 */
    T_FALSE(net_addr_is_public(0xcb007101u));  /* 203.0.113.1 */
    T_TRUE(net_addr_is_public(0x08080808u));

    Sim *sim;
    Net *net = net_fixture(&sim, 1, NULL);
    uint32_t prev = 0;
    for (int i = 0; i < 500; i++) {
        uint32_t h = net_host_add(net, NET_INTERNET, NULL, NULL);
        uint32_t ad = net_node_addr(net, h);
        T_TRUE(net_addr_is_public(ad));
        T_NE_U64(ad, prev);
        T_EQ_U64(net_node_find(net, NET_INTERNET, ad), h);
        prev = ad;
    }
    NatConfig nc;
    nat_preset("port_restricted_cone", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h1 = add_lan_host(net, nat), h2 = add_lan_host(net, nat);
    T_STR_EQ(net_addr_format(net_node_addr(net, h1), buf), "192.168.1.2");
    T_STR_EQ(net_addr_format(net_node_addr(net, h2), buf), "192.168.1.3");
    T_EQ_U64(net_node_public_addr(net, h1), net_node_addr(net, nat));
    T_EQ_U64(net_node_site(net, h2), nat);
    /* A carrier-grade NAT with 100.64/10 inside, a home NAT inside it. */
    NatConfig cgn;
    nat_preset("symmetric", &cgn);
    cgn.inside_net = 0x64400000u;
    cgn.inside_prefix_len = 10;
    uint32_t c = add_nat(net, NET_INTERNET, &cgn);
    uint32_t home = add_nat(net, c, &nc);
    uint32_t h3 = add_lan_host(net, home);
    T_STR_EQ(net_addr_format(net_node_addr(net, home), buf), "100.64.1.2");
    T_STR_EQ(net_addr_format(net_node_addr(net, h3), buf), "192.168.1.2");
    T_EQ_U64(net_node_public_addr(net, h3), net_node_addr(net, c));
    /* Explicit addresses: taken ones are input errors. */
    NetNodeConfig hc = site_cfg(0, 0, 0);
    hc.addr = net_node_addr(net, h1 - 1);
    GError *err = NULL;
    T_EQ_U64(net_host_add(net, NET_INTERNET, &hc, &err), NET_NODE_NONE);
    T_TRUE(err != NULL);
    if (err) T_STR_CONTAINS(err->message, "taken");
    g_clear_error(&err);
    hc.addr = 0xc0a80101u; /* private address on the Internet */
    T_EQ_U64(net_host_add(net, NET_INTERNET, &hc, &err), NET_NODE_NONE);
    g_clear_error(&err);
    net_fixture_free(sim, net);
}

/* Analytic delivery time on A -> core -> B: serialisation on both access
 * links, propagation of both, the core delay, and queueing where a link is
 * slower than the packets arrive. */
static void test_net_delivery_time_analytic(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 2, NULL);
    const TimeNs dA = 3 * TIMENS_MS, dB = 4 * TIMENS_MS;
    uint32_t a = add_site_host(net, 1000000, 0, dA);
    uint32_t b = add_site_host(net, 0, 500000, dB);
    TimeNs core = latency_one_way(net_latency(net), 0, 0);
    T_EQ_I64(core, 8 * TIMENS_MS);
    Rx rb = {0}, ra = {0};
    NetSock sb = udp_open(net, b, 5000, &rb);
    NetSock sa = udp_open(net, a, 0, &ra);
    (void)sb;
    uint8_t payload[972] = {0}; /* 1000 bytes on the wire */
    for (int k = 0; k < 3; k++) {
        T_EQ_I64(sock_udp_send(net, sa, ep(net_node_addr(net, b), 5000), payload, sizeof payload),
                 NET_OK);
    }
    sim_run_until(sim, 10 * TIMENS_S);
    T_EQ_I64(rb.n, 3);
    const TimeNs serA = 8 * TIMENS_MS, serB = 16 * TIMENS_MS; /* 8000 bits at 1 and 0.5 Mbit/s */
    TimeNs free_at = 0;
    for (int k = 0; k < 3; k++) {
        TimeNs at_down = (k + 1) * serA + dA + core; /* reaches B's downlink queue */
        TimeNs start = at_down > free_at ? at_down : free_at; /* waits behind earlier ones */
        free_at = start + serB;
        T_EQ_I64(rb.at[k], free_at + dB);
    }
    T_EQ_I64(rb.at[0], 39 * TIMENS_MS);
    T_EQ_I64(rb.at[2], 71 * TIMENS_MS);
    NetLinkCounters lc;
    net_link_counters(net, b, NET_LINK_DOWN, &lc);
    T_EQ_U64(lc.pkts, 3);
    T_EQ_U64(lc.bytes, 3000);
    NetNodeCounters nc;
    net_node_counters(net, a, &nc);
    T_EQ_U64(nc.tx_pkts, 3);
    T_EQ_U64(nc.tx_bytes, 3000);
    net_node_counters(net, b, &nc);
    T_EQ_U64(nc.rx_pkts, 3);
    T_EQ_U64(nc.rx_bytes, 3000);
    net_fixture_free(sim, net);
}

static void test_net_queue_overflow_drops(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 3, NULL);
    NetNodeConfig c = site_cfg(1000000, 0, TIMENS_MS);
    c.link.up_queue_bytes = 3000;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    uint32_t b = add_site_host(net, 0, 0, TIMENS_MS);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 0, &ra);
    udp_open(net, b, 7, &rb);
    uint8_t payload[972] = {0};
    for (int k = 0; k < 10; k++) {
        sock_udp_send(net, sa, ep(net_node_addr(net, b), 7), payload, sizeof payload);
    }
    /* Backlog before packet k is k * 1000 bytes: 0, 1000 and 2000 fit 3000. */
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(rb.n, 3);
    NetNodeCounters nc;
    net_node_counters(net, a, &nc);
    T_EQ_U64(nc.drops[NET_DROP_QUEUE_FULL], 7);
    NetLinkCounters lc;
    net_link_counters(net, a, NET_LINK_UP, &lc);
    T_EQ_U64(lc.drop_queue, 7);
    T_EQ_U64(lc.pkts, 3);
    T_EQ_U64(net_drops_total(net, NET_DROP_QUEUE_FULL), 7);
    /* Once drained, the queue takes packets again. */
    sock_udp_send(net, sa, ep(net_node_addr(net, b), 7), payload, sizeof payload);
    sim_run_until(sim, 2 * TIMENS_S);
    T_EQ_I64(rb.n, 4);
    T_EQ_U64(net_packets_in_flight(net), 0);
    net_fixture_free(sim, net);
}

/* Sends n datagrams spaced `gap` apart from a to b:port. */
typedef struct Pacer {
    Net *net;
    NetSock s;
    NetEp to;
    int left;
    TimeNs gap;
} Pacer;

static void pacer_tick(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    Pacer *p = ctx;
    uint8_t b[100] = {0};
    sock_udp_send(p->net, p->s, p->to, b, sizeof b);
    if (--p->left > 0) sim_after(sim, p->gap, pacer_tick, p, 0);
}

static void test_net_loss_rate_converges(void)
{
    const uint64_t seed = 4;
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    NetNodeConfig c = site_cfg(0, 0, TIMENS_MS);
    c.link.up_loss = 0.1;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    NetNodeConfig d = site_cfg(0, 0, TIMENS_MS);
    d.link.down_loss = 0.05;
    uint32_t b = net_host_add(net, NET_INTERNET, &d, NULL);
    Rx ra = {0}, rb = {0};
    Pacer p = {net, udp_open(net, a, 0, &ra), ep(net_node_addr(net, b), 9), 40000, TIMENS_MS};
    udp_open(net, b, 9, &rb);
    sim_after(sim, 0, pacer_tick, &p, 0);
    sim_run_until(sim, 100 * TIMENS_S);
    double delivered = rb.n / 40000.0;
    printf("\n    seed %llu: delivered %.4f (expected %.4f)\n", (unsigned long long)seed, delivered,
           0.9 * 0.95);
    T_NEAR(delivered, 0.9 * 0.95, 0.01);
    NetLinkCounters up, down;
    net_link_counters(net, a, NET_LINK_UP, &up);
    net_link_counters(net, b, NET_LINK_DOWN, &down);
    T_NEAR(up.drop_loss / 40000.0, 0.1, 0.006);
    T_NEAR(down.drop_loss / (double)down.pkts, 0.05, 0.005);
    T_EQ_U64(net_drops_total(net, NET_DROP_LOSS), up.drop_loss + down.drop_loss);
    net_fixture_free(sim, net);
}

static void test_net_udp_ports_and_no_listener(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 5, NULL);
    uint32_t a = add_site_host(net, 0, 0, TIMENS_MS);
    NetNodeConfig c = site_cfg(0, 0, TIMENS_MS);
    c.icmp_unreachable = true;
    uint32_t b = net_host_add(net, NET_INTERNET, &c, NULL);
    uint32_t q = add_site_host(net, 0, 0, TIMENS_MS); /* silent drop */
    Rx ra = {0}, rx = {0};
    NetSock s1;
    T_EQ_I64(sock_udp_open(net, a, 4000, &rx_ops, &rx, &s1), NET_OK);
    NetSock s2;
    T_EQ_I64(sock_udp_open(net, a, 4000, &rx_ops, &rx, &s2), NET_ERR_ADDR_IN_USE);
    NetSock e = udp_open(net, a, 0, &ra);
    T_CMP_I64(sock_port(net, e), >=, NET_EPHEMERAL_LO);
    T_EQ_I64(net_sock_count(net), 2);
    sock_close(net, s1);
    sock_close(net, s1); /* stale: no-op */
    T_EQ_I64(sock_udp_send(net, s1, ep(1, 1), "x", 1), NET_ERR_BAD_HANDLE);
    T_EQ_I64(sock_udp_open(net, a, 4000, &rx_ops, &rx, &s2), NET_OK);
    uint8_t big[NET_UDP_MAX_PAYLOAD + 1] = {0};
    T_EQ_I64(sock_udp_send(net, e, ep(net_node_addr(net, b), 1), big, sizeof big),
             NET_ERR_MSG_SIZE);
    /* Closed port: silent on q, ICMP port unreachable from b. */
    udp_send_str(net, e, ep(net_node_addr(net, q), 99), "hello");
    udp_send_str(net, e, ep(net_node_addr(net, b), 99), "hello");
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(ra.nerr, 1);
    T_EQ_I64(ra.err, NET_ERR_UNREACHABLE);
    T_EQ_U64(ra.err_to.addr, net_node_addr(net, b));
    T_EQ_I64(ra.err_to.port, 99);
    NetNodeCounters nc;
    net_node_counters(net, q, &nc);
    T_EQ_U64(nc.drops[NET_DROP_NO_LISTENER], 1);
    net_node_counters(net, b, &nc);
    T_EQ_U64(nc.drops[NET_DROP_NO_LISTENER], 1);
    /* No such address. */
    udp_send_str(net, e, ep(0x08080808u, 53), "x");
    sim_run_until(sim, 2 * TIMENS_S);
    net_node_counters(net, a, &nc);
    T_EQ_U64(nc.drops[NET_DROP_NO_ROUTE], 1);
    net_fixture_free(sim, net);
}

static void test_net_host_down_and_up(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 6, NULL);
    uint32_t a = add_site_host(net, 0, 0, TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, TIMENS_MS);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 0, &ra);
    NetSock sb = udp_open(net, b, 100, &rb);
    udp_send_str(net, sa, ep(net_node_addr(net, b), 100), "one");
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(rb.n, 1);
    net_node_set_up(net, b, false);
    T_FALSE(net_node_is_up(net, b));
    T_FALSE(sock_is_open(net, sb));
    NetSock tmp;
    T_EQ_I64(sock_udp_open(net, b, 100, &rx_ops, &rb, &tmp), NET_ERR_HOST_DOWN);
    udp_send_str(net, sa, ep(net_node_addr(net, b), 100), "two");
    sim_run_until(sim, 2 * TIMENS_S);
    NetNodeCounters nc;
    net_node_counters(net, b, &nc);
    T_EQ_U64(nc.drops[NET_DROP_HOST_DOWN], 1);
    net_node_set_up(net, b, true);
    udp_open(net, b, 100, &rb);
    udp_send_str(net, sa, ep(net_node_addr(net, b), 100), "three");
    sim_run_until(sim, 3 * TIMENS_S);
    T_EQ_I64(rb.n, 2);
    T_EQ_I64(memcmp(rb.last, "three", 5), 0);
    net_fixture_free(sim, net);
}

static void test_net_lan_traffic_stays_inside(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 7, NULL);
    NatConfig nc;
    nat_preset("symmetric", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h1 = add_lan_host(net, nat), h2 = add_lan_host(net, nat);
    Rx r1 = {0}, r2 = {0};
    NetSock s1 = udp_open(net, h1, 0, &r1);
    udp_open(net, h2, 6000, &r2);
    udp_send_str(net, s1, ep(net_node_addr(net, h2), 6000), "lan");
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(r2.n, 1);
    T_EQ_U64(r2.from[0].addr, net_node_addr(net, h1));
    T_EQ_I64(r2.at[0], 2 * 250 * TIMENS_US); /* two LAN hops */
    T_EQ_I64(net_nat_mapping_count(net, nat), 0);
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    T_EQ_U64(c.tx_pkts, 0);
    net_fixture_free(sim, net);
}

/* Same seed, same outcome, with jitter, loss and drawn access delays. */
static TimeNs jittery_run(uint64_t seed, int *received)
{
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    NetNodeConfig c;
    net_node_config_site(&c);
    c.link.up_loss = 0.2;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    uint32_t b = net_host_add(net, NET_INTERNET, NULL, NULL);
    Rx ra = {0};
    static Rx rb;
    memset(&rb, 0, sizeof rb);
    Pacer p = {net, udp_open(net, a, 0, &ra), ep(net_node_addr(net, b), 9), 500, 10 * TIMENS_MS};
    udp_open(net, b, 9, &rb);
    sim_after(sim, 0, pacer_tick, &p, 0);
    sim_run_until(sim, 60 * TIMENS_S);
    TimeNs sum = 0;
    for (int i = 0; i < rb.n && i < RX_MAX; i++) sum += rb.at[i];
    *received = rb.n;
    net_fixture_free(sim, net);
    return sum;
}

static void test_net_same_seed_same_run(void)
{
    int n1, n2, n3;
    TimeNs t1 = jittery_run(42, &n1), t2 = jittery_run(42, &n2), t3 = jittery_run(43, &n3);
    T_EQ_I64(n1, n2);
    T_EQ_I64(t1, t2);
    T_CMP_I64(n1, >, 300);
    T_TRUE(t1 != t3 || n1 != n3);
}

T_SUITE_MAIN("net", {"test_net_sizes_within_budget", test_net_sizes_within_budget},
             {"test_net_addresses", test_net_addresses},
             {"test_net_delivery_time_analytic", test_net_delivery_time_analytic},
             {"test_net_queue_overflow_drops", test_net_queue_overflow_drops},
             {"test_net_loss_rate_converges", test_net_loss_rate_converges},
             {"test_net_udp_ports_and_no_listener", test_net_udp_ports_and_no_listener},
             {"test_net_host_down_and_up", test_net_host_down_and_up},
             {"test_net_lan_traffic_stays_inside", test_net_lan_traffic_stays_inside},
             {"test_net_same_seed_same_run", test_net_same_seed_same_run})
