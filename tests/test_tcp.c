/* test_tcp: handshake timing, RST, SYN backoff and give-up, transfer times
 * (bottleneck- and window-limited), loss recovery, graceful close, abort,
 * retransmission give-up, TCP through NATs (mapping lifetimes), and the
 * RFC 793 states of both ends through each close order. */
#include "test_net_util.h"

#include <stdio.h>

/* A connection end that records its callbacks. */
typedef struct Tc {
    Net *net;
    NetTcp c;
    int connected, failed, peer_closed, closed, reset;
    NetErr why;
    TimeNs t_connected, t_failed, t_closed, t_reset, t_data;
    GByteArray *data;
    bool close_on_eof;
} Tc;

static TimeNs tnow(Tc *t) { return sim_now(net_sim(t->net)); }

static void tc_connected(void *ctx, NetTcp c)
{
    (void)c;
    Tc *t = ctx;
    t->connected++;
    t->t_connected = tnow(t);
}

static void tc_failed(void *ctx, NetTcp c, NetErr why)
{
    (void)c;
    Tc *t = ctx;
    t->failed++;
    t->why = why;
    t->t_failed = tnow(t);
}

static void tc_recv(void *ctx, NetTcp c, const uint8_t *buf, size_t len)
{
    (void)c;
    Tc *t = ctx;
    g_byte_array_append(t->data, buf, (guint)len);
    t->t_data = tnow(t);
}

static void tc_peer_closed(void *ctx, NetTcp c)
{
    Tc *t = ctx;
    t->peer_closed++;
    if (t->close_on_eof) T_EQ_I64(tcp_close(t->net, c), NET_OK);
}

static void tc_closed(void *ctx, NetTcp c)
{
    (void)c;
    Tc *t = ctx;
    t->closed++;
    t->t_closed = tnow(t);
}

static void tc_reset(void *ctx, NetTcp c, NetErr why)
{
    (void)c;
    Tc *t = ctx;
    t->reset++;
    t->why = why;
    t->t_reset = tnow(t);
}

static const TcpOps tc_ops = {.connected = tc_connected,
                              .failed = tc_failed,
                              .recv = tc_recv,
                              .peer_closed = tc_peer_closed,
                              .closed = tc_closed,
                              .reset = tc_reset};

static void tc_init(Tc *t, Net *net)
{
    memset(t, 0, sizeof *t);
    t->net = net;
    t->data = g_byte_array_new();
    t->close_on_eof = true;
}

static void tc_fini(Tc *t) { g_byte_array_free(t->data, TRUE); }

/* A listener that accepts into Tc slots. */
typedef struct Srv {
    Net *net;
    Tc conns[4];
    int n;
    TimeNs t_accept;
    NetEp peer;
} Srv;

static bool srv_accept(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops, void **cctx)
{
    (void)l;
    Srv *s = ctx;
    if (s->n == 4) return false;
    Tc *t = &s->conns[s->n++];
    t->c = c;
    s->t_accept = sim_now(net_sim(s->net));
    s->peer = peer;
    *ops = &tc_ops;
    *cctx = t;
    return true;
}

static const TcpListenOps srv_ops = {.accept = srv_accept};

static void srv_init(Srv *s, Net *net, uint32_t host, uint16_t port)
{
    memset(s, 0, sizeof *s);
    s->net = net;
    for (int i = 0; i < 4; i++) tc_init(&s->conns[i], net);
    NetSock l;
    T_EQ_I64(tcp_listen(net, host, port, &srv_ops, s, &l), NET_OK);
}

static void srv_fini(Srv *s)
{
    for (int i = 0; i < 4; i++) tc_fini(&s->conns[i]);
}

/* Two public hosts, 5 ms access delay each, 8 ms core: one-way 18 ms. */
static const TimeNs ONE_WAY = 18 * TIMENS_MS;

static void test_tcp_handshake_one_rtt(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 21, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Srv s;
    srv_init(&s, net, b, 80);
    Tc t;
    tc_init(&t, net);
    T_EQ_I64(tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c), NET_OK);
    T_TRUE(tcp_is_open(net, t.c));
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(t.connected, 1);
    T_EQ_I64(t.t_connected, 2 * ONE_WAY);
    T_EQ_I64(s.n, 1);
    T_EQ_I64(s.t_accept, 3 * ONE_WAY);
    T_EQ_U64(s.peer.addr, net_node_addr(net, a));
    T_EQ_U64(s.peer.port, tcp_local(net, t.c).port);
    T_EQ_U64(tcp_peer(net, t.c).port, 80);
    /* Data sent at connect time arrives half an RTT after the handshake. */
    tcp_send(net, t.c, "hello", 5);
    sim_run_until(sim, 2 * TIMENS_S);
    T_EQ_I64(s.conns[0].data->len, 5);
    T_EQ_I64(s.conns[0].t_data, TIMENS_S + ONE_WAY);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_rst_on_closed_port(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 22, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 81), &tc_ops, &t, &t.c);
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(t.failed, 1);
    T_EQ_I64(t.why, NET_ERR_REFUSED);
    T_EQ_I64(t.t_failed, 2 * ONE_WAY);
    T_FALSE(tcp_is_open(net, t.c));
    T_EQ_I64(tcp_send(net, t.c, "x", 1), NET_ERR_BAD_HANDLE);
    T_EQ_I64(net_tcp_count(net), 0);
    NetNodeCounters c;
    net_node_counters(net, b, &c);
    T_EQ_U64(c.drops[NET_DROP_NO_LISTENER], 1);
    tc_fini(&t);
    net_fixture_free(sim, net);
}

static void test_tcp_syn_backoff_and_give_up(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 23, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    net_node_set_up(net, b, false); /* SYNs vanish */
    Tc t;
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c);
    /* SYNs leave at 0, 1, 3 and 7 s (backoff 1, 2, 4 s), give-up at 15 s. */
    static const struct {
        TimeNs at;
        uint32_t syns;
    } steps[] = {{500 * TIMENS_MS, 1}, {1500 * TIMENS_MS, 2}, {3500 * TIMENS_MS, 3},
                 {7500 * TIMENS_MS, 4}, {14900 * TIMENS_MS, 4}};
    NetNodeCounters c;
    for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
        sim_run_until(sim, steps[i].at);
        net_node_counters(net, b, &c);
        T_EQ_U64(c.drops[NET_DROP_HOST_DOWN], steps[i].syns);
        T_EQ_I64(t.failed, 0);
    }
    sim_run_until(sim, 20 * TIMENS_S);
    T_EQ_I64(t.failed, 1);
    T_EQ_I64(t.why, NET_ERR_TIMEOUT);
    T_EQ_I64(t.t_failed, 15 * TIMENS_S);
    net_node_counters(net, a, &c);
    T_EQ_U64(c.tx_pkts, 4);
    tc_fini(&t);
    net_fixture_free(sim, net);
}

/* Pattern byte i of a test stream. */
static uint8_t pat(size_t i) { return (uint8_t)(i * 131 + (i >> 8)); }

static bool same_stream(const GByteArray *g, size_t n)
{
    if (g->len != n) return false;
    for (size_t i = 0; i < n; i++) {
        if (g->data[i] != pat(i)) return false;
    }
    return true;
}

/* Connects a -> b:80, sends n pattern bytes at once, runs until `until`.
 * Returns the receive-completion time (or -1). */
static TimeNs transfer(Net *net, uint32_t a, uint32_t b, size_t n, TimeNs until, Tc *t, Srv *s)
{
    Sim *sim = net_sim(net);
    srv_init(s, net, b, 80);
    tc_init(t, net);
    T_EQ_I64(tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, t, &t->c), NET_OK);
    uint8_t *buf = g_malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = pat(i);
    T_EQ_I64(tcp_send(net, t->c, buf, n), NET_OK);
    T_EQ_I64(tcp_queued_bytes(net, t->c), n);
    g_free(buf);
    sim_run_until(sim, until);
    if (s->n != 1) return -1;
    T_TRUE(same_stream(s->conns[0].data, n));
    return s->conns[0].data->len == n ? s->conns[0].t_data : -1;
}

static void test_tcp_transfer_time_bottleneck(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 24, NULL);
    NetNodeConfig c = site_cfg(1000000, 0, 5 * TIMENS_MS);
    c.link.up_queue_bytes = 256 * 1024;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    TimeNs done = transfer(net, a, b, 1000000, 60 * TIMENS_S, &t, &s);
    /* Handshake (SYN serialised: 40 B = 0.32 ms, 2 one-way), the final ACK
     * (0.32 ms), 684 full segments of 1500 B (12 ms each) and one of
     * 1360 + 40 B (11.2 ms), then one way for the last. */
    TimeNs want = 320 * TIMENS_US + 2 * ONE_WAY + 320 * TIMENS_US + 684 * 12 * TIMENS_MS +
                  11200 * TIMENS_US + ONE_WAY;
    printf("\n    1 MB at 1 Mbit/s: %.4f s (analytic %.4f s)\n", timens_to_s(done),
           timens_to_s(want));
    T_EQ_I64(done, want);
    NetLinkCounters lc;
    net_link_counters(net, a, NET_LINK_UP, &lc);
    T_EQ_U64(lc.drop_queue, 0);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_transfer_time_window_limited(void)
{
    Sim *sim;
    NetConfig cfg;
    net_config_default(&cfg);
    cfg.tcp_window_bytes = 16384;
    Net *net = net_fixture(&sim, 25, &cfg);
    uint32_t a = add_site_host(net, 100000000, 100000000, 50 * TIMENS_MS);
    uint32_t b = add_site_host(net, 100000000, 100000000, 50 * TIMENS_MS);
    Tc t;
    Srv s;
    TimeNs done = transfer(net, a, b, 1000000, 60 * TIMENS_S, &t, &s);
    /* Full segments only: 11 x 1460 B in flight; a round is one RTT plus
     * the window's serialisation (11 x 1500 B at 100 Mbit/s). */
    double rtt = 2 * 0.108, win = 11 * 1460.0, round = rtt + 11 * 1500 * 8 / 1e8;
    double want = rtt + (1000000.0 / win) * round;
    printf("\n    1 MB, 16 KiB window, RTT %.3f s: %.3f s (size/window x round %.3f s)\n", rtt,
           timens_to_s(done), want);
    T_NEAR(timens_to_s(done), want, 0.02 * want);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_transfer_with_loss(void)
{
    const uint64_t seed = 26;
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    NetNodeConfig c = site_cfg(2000000, 2000000, 5 * TIMENS_MS);
    c.link.up_loss = 0.05;
    c.link.down_loss = 0.05;
    c.link.up_queue_bytes = 256 * 1024;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    TimeNs done = transfer(net, a, b, 300000, 600 * TIMENS_S, &t, &s);
    printf("\n    seed %llu: 300 kB over 5%% loss each way: %.3f s\n", (unsigned long long)seed,
           timens_to_s(done));
    T_CMP_I64(done, >, 0);
    NetLinkCounters lc;
    net_link_counters(net, a, NET_LINK_UP, &lc);
    T_CMP_I64(lc.drop_loss, >, 0);
    T_EQ_I64(t.reset, 0);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_graceful_close(void)
{
    Sim *sim;
    NetConfig cfg;
    net_config_default(&cfg);
    Net *net = net_fixture(&sim, 27, &cfg);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    srv_init(&s, net, b, 80);
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c);
    uint8_t buf[10000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = pat(i);
    tcp_send(net, t.c, buf, sizeof buf);
    T_EQ_I64(tcp_close(net, t.c), NET_OK);
    T_EQ_I64(tcp_send(net, t.c, buf, 1), NET_ERR_CLOSED);
    sim_run_until(sim, TIMENS_S);
    T_TRUE(same_stream(s.conns[0].data, sizeof buf));
    T_EQ_I64(s.conns[0].peer_closed, 1);
    T_EQ_I64(s.conns[0].closed, 1);
    T_EQ_I64(t.closed, 1);
    T_EQ_I64(t.reset + s.conns[0].reset, 0);
    T_FALSE(tcp_is_open(net, t.c));
    T_FALSE(tcp_is_open(net, s.conns[0].c));
    T_EQ_I64(net_tcp_count(net), 1); /* the active closer's TIME_WAIT */
    sim_run_until(sim, 5 * TIMENS_S);
    T_EQ_I64(net_tcp_count(net), 0);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_abort_resets_peer(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 28, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    srv_init(&s, net, b, 80);
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c);
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(s.n, 1);
    tcp_abort(net, t.c);
    T_FALSE(tcp_is_open(net, t.c));
    tcp_abort(net, t.c); /* stale: no-op */
    sim_run_until(sim, 2 * TIMENS_S);
    T_EQ_I64(s.conns[0].reset, 1);
    T_EQ_I64(s.conns[0].why, NET_ERR_RESET);
    T_EQ_I64(s.conns[0].t_reset, TIMENS_S + ONE_WAY);
    T_EQ_I64(t.reset + t.closed, 0); /* no callbacks after abort */
    T_EQ_I64(net_tcp_count(net), 0);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_retransmission_give_up(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 29, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    srv_init(&s, net, b, 80);
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c);
    sim_run_until(sim, TIMENS_S);
    net_node_set_up(net, b, false); /* the server dies silently */
    tcp_send(net, t.c, "anyone?", 7);
    sim_run_until(sim, 400 * TIMENS_S);
    T_EQ_I64(t.reset, 1);
    T_EQ_I64(t.why, NET_ERR_TIMEOUT);
    /* RTO 200 ms (its minimum), doubled per timeout: 8 retransmissions,
     * give-up at the 9th timeout, 200 ms * (2^9 - 1) after sending. */
    T_EQ_I64(t.t_reset, TIMENS_S + 200 * TIMENS_MS * 511);
    NetNodeCounters c;
    net_node_counters(net, b, &c);
    T_EQ_U64(c.drops[NET_DROP_HOST_DOWN], 9);
    tc_fini(&t);
    srv_fini(&s);
    net_fixture_free(sim, net);
}

static void test_tcp_through_nat(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 30, NULL);
    NatConfig nc;
    nat_preset("port_restricted_cone", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t a = add_lan_host(net, nat);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Tc t;
    Srv s;
    TimeNs done = transfer(net, a, b, 50000, 10 * TIMENS_S, &t, &s);
    T_CMP_I64(done, >, 0);
    T_EQ_U64(s.peer.addr, net_node_addr(net, nat)); /* the server sees the NAT */
    T_EQ_I64(net_nat_mapping_count(net, nat), 1);
    /* Idle beyond the transitory lifetime (240 s): the established mapping
     * (2 h 4 min) carries the reply. */
    sim_run_until(sim, 400 * TIMENS_S);
    tcp_send(net, s.conns[0].c, "late reply", 10);
    sim_run_until(sim, 401 * TIMENS_S);
    T_EQ_I64(t.data->len, 10);
    /* The other way round: a server behind the NAT is unreachable. */
    Srv s2;
    srv_init(&s2, net, a, 8080);
    Tc t2;
    tc_init(&t2, net);
    tcp_connect(net, b, ep(net_node_addr(net, nat), 8080), &tc_ops, &t2, &t2.c);
    sim_run_until(sim, 430 * TIMENS_S);
    T_EQ_I64(t2.failed, 1);
    T_EQ_I64(t2.why, NET_ERR_TIMEOUT);
    T_EQ_I64(s2.n, 0);
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    T_EQ_U64(c.drops[NET_DROP_NO_MAPPING], 4);
    tc_fini(&t);
    srv_fini(&s);
    tc_fini(&t2);
    srv_fini(&s2);
    net_fixture_free(sim, net);
}

/* An established connection through a Linux router survives idle periods
 * beyond RFC 5382's 2 h 4 min: conntrack keeps it 5 days. */
static void test_tcp_established_lifetime_linux(void)
{
    const char *presets[] = {"port_restricted_cone", "linux_masquerade"};
    for (int i = 0; i < 2; i++) {
        Sim *sim;
        Net *net = net_fixture(&sim, 32, NULL);
        NatConfig nc;
        nat_preset(presets[i], &nc);
        uint32_t nat = add_nat(net, NET_INTERNET, &nc);
        uint32_t a = add_lan_host(net, nat);
        uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
        Tc t;
        Srv s;
        T_CMP_I64(transfer(net, a, b, 1000, 10 * TIMENS_S, &t, &s), >, 0);
        size_t before = t.data->len;
        sim_run_until(sim, 8000 * TIMENS_S); /* idle 2 h 13 min */
        tcp_send(net, s.conns[0].c, "late reply", 10);
        sim_run_until(sim, 8001 * TIMENS_S);
        T_EQ_I64(t.data->len - before, i == 1 ? 10 : 0);
        T_EQ_I64(net_nat_mapping_count(net, nat), i == 1 ? 1 : 0);
        tc_fini(&t);
        srv_fini(&s);
        net_fixture_free(sim, net);
    }
}

static void test_tcp_transitory_mapping_expires(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 31, NULL);
    NatConfig nc;
    nat_preset("symmetric", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t a = add_lan_host(net, nat);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    net_node_set_up(net, b, false);
    Tc t;
    tc_init(&t, net);
    tcp_connect(net, a, ep(net_node_addr(net, b), 80), &tc_ops, &t, &t.c);
    sim_run_until(sim, 200 * TIMENS_S);
    T_EQ_I64(t.failed, 1);
    T_EQ_I64(net_nat_mapping_count(net, nat), 1); /* last SYN at 7 s: lives to 247 s */
    sim_run_until(sim, 250 * TIMENS_S);
    T_EQ_I64(net_nat_mapping_count(net, nat), 0);
    tc_fini(&t);
    net_fixture_free(sim, net);
}

static void test_tcp_many_connections_and_refusal(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 32, NULL);
    uint32_t a = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Srv s;
    srv_init(&s, net, b, 443);
    Tc t[6];
    for (int i = 0; i < 6; i++) {
        tc_init(&t[i], net);
        tcp_connect(net, a, ep(net_node_addr(net, b), 443), &tc_ops, &t[i], &t[i].c);
    }
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(s.n, 4); /* the listener refuses the 5th and 6th */
    int resets = 0;
    for (int i = 0; i < 6; i++) {
        T_EQ_I64(t[i].connected, 1);
        resets += t[i].reset;
    }
    T_EQ_I64(resets, 2);
    for (int i = 0; i < 6; i++) {
        if (tcp_is_open(net, t[i].c)) tcp_abort(net, t[i].c);
        tc_fini(&t[i]);
    }
    srv_fini(&s);
    net_fixture_free(sim, net);
}

/* ---- RFC 793 states, step by step -------------------------------------- */

/* One connection a -> b:80 whose ends are watched by state name. Neither
 * app closes on EOF by itself: each step says who closes when. */
typedef struct Walk {
    Sim *sim;
    Net *net;
    uint32_t a, b;  /* client and server hosts */
    uint16_t aport; /* the client's ephemeral port */
    Tc t;           /* the client's end */
    Srv s;          /* the server; s.conns[0] is its end */
} Walk;

static void walk_open(Walk *w, uint64_t seed)
{
    w->net = net_fixture(&w->sim, seed, NULL);
    w->a = add_site_host(w->net, 0, 0, 5 * TIMENS_MS);
    w->b = add_site_host(w->net, 0, 0, 5 * TIMENS_MS);
    srv_init(&w->s, w->net, w->b, 80);
    w->s.conns[0].close_on_eof = false;
    tc_init(&w->t, w->net);
    w->t.close_on_eof = false;
    T_EQ_I64(tcp_connect(w->net, w->a, ep(net_node_addr(w->net, w->b), 80), &tc_ops, &w->t, &w->t.c),
             NET_OK);
    w->aport = tcp_local(w->net, w->t.c).port;
}

static void walk_close(Walk *w)
{
    tc_fini(&w->t);
    srv_fini(&w->s);
    net_fixture_free(w->sim, w->net);
}

/* Runs the simulation to `at`, then checks the client's and the server's
 * state names. */
static void walk_step(Walk *w, TimeNs at, const char *client, const char *server)
{
    sim_run_until(w->sim, at);
    NetEp to_b = ep(net_node_addr(w->net, w->b), 80);
    NetEp to_a = ep(net_node_addr(w->net, w->a), w->aport);
    T_STR_EQ(tcp_state_name(tcp_state_find(w->net, w->a, w->aport, to_b)), client);
    T_STR_EQ(tcp_state_name(tcp_state_find(w->net, w->b, 80, to_a)), server);
}

static void test_tcp_state_names(void)
{
    T_STR_EQ(tcp_state_name(TCP_ST_CLOSED), "CLOSED");
    T_STR_EQ(tcp_state_name(TCP_ST_SYN_RECEIVED), "SYN-RECEIVED");
    T_STR_EQ(tcp_state_name(TCP_ST_FIN_WAIT_2), "FIN-WAIT-2");
    T_STR_EQ(tcp_state_name(TCP_ST_TIME_WAIT), "TIME-WAIT");
    T_STR_EQ(tcp_state_name(TCP_ST__COUNT), "?");
    for (int i = 0; i < TCP_ST__COUNT; i++) {
        T_FALSE(strcmp(tcp_state_name((TcpState)i), "?") == 0);
        for (int j = 0; j < i; j++) T_FALSE(strcmp(tcp_state_name(i), tcp_state_name(j)) == 0);
    }
}

/* Handshake, then the client closes first (active close) and the server
 * follows a second later (passive close). One way is 18 ms; steps fall
 * half a one-way time after each arrival. */
static void test_tcp_states_client_closes_first(void)
{
    Walk w;
    walk_open(&w, 33);
    const TimeNs h = ONE_WAY / 2;
    walk_step(&w, h, "SYN-SENT", "CLOSED");
    walk_step(&w, ONE_WAY + h, "SYN-SENT", "SYN-RECEIVED");
    walk_step(&w, 2 * ONE_WAY + h, "ESTABLISHED", "SYN-RECEIVED");
    walk_step(&w, 3 * ONE_WAY + h, "ESTABLISHED", "ESTABLISHED");
    const TimeNs t0 = TIMENS_S;
    walk_step(&w, t0, "ESTABLISHED", "ESTABLISHED");
    T_EQ_I64(tcp_close(w.net, w.t.c), NET_OK); /* FIN out at once: no data queued */
    walk_step(&w, t0, "FIN-WAIT-1", "ESTABLISHED");
    walk_step(&w, t0 + ONE_WAY + h, "FIN-WAIT-1", "CLOSE-WAIT");
    T_EQ_I64(w.s.conns[0].peer_closed, 1);
    walk_step(&w, t0 + 2 * ONE_WAY + h, "FIN-WAIT-2", "CLOSE-WAIT");
    const TimeNs t1 = 2 * TIMENS_S;
    walk_step(&w, t1, "FIN-WAIT-2", "CLOSE-WAIT");
    T_EQ_I64(tcp_close(w.net, w.s.conns[0].c), NET_OK);
    walk_step(&w, t1, "FIN-WAIT-2", "LAST-ACK");
    walk_step(&w, t1 + ONE_WAY + h, "TIME-WAIT", "LAST-ACK");
    T_EQ_I64(w.t.peer_closed, 1);
    T_EQ_I64(w.t.closed, 1);
    T_EQ_I64(w.s.conns[0].closed, 0);
    walk_step(&w, t1 + 2 * ONE_WAY + h, "TIME-WAIT", "CLOSED");
    T_EQ_I64(w.s.conns[0].closed, 1);
    T_EQ_I64(net_tcp_count(w.net), 1);
    NetConfig cfg;
    net_config_default(&cfg);
    walk_step(&w, t1 + ONE_WAY + cfg.tcp_time_wait_ns + h, "CLOSED", "CLOSED");
    T_EQ_I64(net_tcp_count(w.net), 0);
    T_EQ_I64(w.t.reset + w.s.conns[0].reset, 0);
    walk_close(&w);
}

/* The server closes first: the client passes CLOSE-WAIT and LAST-ACK, the
 * server FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT. */
static void test_tcp_states_server_closes_first(void)
{
    Walk w;
    walk_open(&w, 34);
    const TimeNs h = ONE_WAY / 2;
    const TimeNs t0 = TIMENS_S;
    walk_step(&w, t0, "ESTABLISHED", "ESTABLISHED");
    T_EQ_I64(tcp_close(w.net, w.s.conns[0].c), NET_OK);
    walk_step(&w, t0, "ESTABLISHED", "FIN-WAIT-1");
    walk_step(&w, t0 + ONE_WAY + h, "CLOSE-WAIT", "FIN-WAIT-1");
    T_EQ_I64(w.t.peer_closed, 1);
    /* The client may still send in CLOSE-WAIT. */
    T_EQ_I64(tcp_send(w.net, w.t.c, "bye", 3), NET_OK);
    walk_step(&w, t0 + 2 * ONE_WAY + h, "CLOSE-WAIT", "FIN-WAIT-2");
    T_EQ_I64(w.s.conns[0].data->len, 3);
    const TimeNs t1 = 2 * TIMENS_S;
    walk_step(&w, t1, "CLOSE-WAIT", "FIN-WAIT-2");
    T_EQ_I64(tcp_close(w.net, w.t.c), NET_OK);
    walk_step(&w, t1, "LAST-ACK", "FIN-WAIT-2");
    walk_step(&w, t1 + ONE_WAY + h, "LAST-ACK", "TIME-WAIT");
    T_EQ_I64(w.s.conns[0].closed, 1);
    T_EQ_I64(w.t.closed, 0);
    walk_step(&w, t1 + 2 * ONE_WAY + h, "CLOSED", "TIME-WAIT");
    T_EQ_I64(w.t.closed, 1);
    NetConfig cfg;
    net_config_default(&cfg);
    walk_step(&w, t1 + ONE_WAY + cfg.tcp_time_wait_ns + h, "CLOSED", "CLOSED");
    T_EQ_I64(net_tcp_count(w.net), 0);
    walk_close(&w);
}

/* Both close at the same instant: the FINs cross, both ends pass CLOSING
 * and both wait in TIME-WAIT (RFC 793 §3.5, Figure 14). */
static void test_tcp_states_simultaneous_close(void)
{
    Walk w;
    walk_open(&w, 35);
    const TimeNs h = ONE_WAY / 2;
    const TimeNs t0 = TIMENS_S;
    walk_step(&w, t0, "ESTABLISHED", "ESTABLISHED");
    T_EQ_I64(tcp_close(w.net, w.t.c), NET_OK);
    T_EQ_I64(tcp_close(w.net, w.s.conns[0].c), NET_OK);
    walk_step(&w, t0, "FIN-WAIT-1", "FIN-WAIT-1");
    walk_step(&w, t0 + ONE_WAY + h, "CLOSING", "CLOSING");
    T_EQ_I64(w.t.peer_closed + w.s.conns[0].peer_closed, 2);
    T_EQ_I64(w.t.closed + w.s.conns[0].closed, 0);
    walk_step(&w, t0 + 2 * ONE_WAY + h, "TIME-WAIT", "TIME-WAIT");
    T_EQ_I64(w.t.closed, 1);
    T_EQ_I64(w.s.conns[0].closed, 1);
    T_EQ_I64(net_tcp_count(w.net), 2);
    NetConfig cfg;
    net_config_default(&cfg);
    walk_step(&w, t0 + 2 * ONE_WAY + cfg.tcp_time_wait_ns + h, "CLOSED", "CLOSED");
    T_EQ_I64(net_tcp_count(w.net), 0);
    walk_close(&w);
}

T_SUITE_MAIN("tcp", {"test_tcp_handshake_one_rtt", test_tcp_handshake_one_rtt},
             {"test_tcp_rst_on_closed_port", test_tcp_rst_on_closed_port},
             {"test_tcp_syn_backoff_and_give_up", test_tcp_syn_backoff_and_give_up},
             {"test_tcp_transfer_time_bottleneck", test_tcp_transfer_time_bottleneck},
             {"test_tcp_transfer_time_window_limited", test_tcp_transfer_time_window_limited},
             {"test_tcp_transfer_with_loss", test_tcp_transfer_with_loss},
             {"test_tcp_graceful_close", test_tcp_graceful_close},
             {"test_tcp_abort_resets_peer", test_tcp_abort_resets_peer},
             {"test_tcp_retransmission_give_up", test_tcp_retransmission_give_up},
             {"test_tcp_through_nat", test_tcp_through_nat},
             {"test_tcp_established_lifetime_linux", test_tcp_established_lifetime_linux},
             {"test_tcp_transitory_mapping_expires", test_tcp_transitory_mapping_expires},
             {"test_tcp_many_connections_and_refusal", test_tcp_many_connections_and_refusal},
             {"test_tcp_state_names", test_tcp_state_names},
             {"test_tcp_states_client_closes_first", test_tcp_states_client_closes_first},
             {"test_tcp_states_server_closes_first", test_tcp_states_server_closes_first},
             {"test_tcp_states_simultaneous_close", test_tcp_states_simultaneous_close})
