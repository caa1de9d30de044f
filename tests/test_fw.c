/* test_fw: the firewall presets on a host and on a NAT box, for UDP and
 * TCP in both directions, with the outcomes the measurement papers
 * describe: stateful lets only replies in, udp_blocked stops all UDP,
 * tcp_80_443_only leaves outbound TCP to 80/443 only. */
#include "test_net_util.h"

/* Minimal TCP recorders. */
typedef struct Conn {
    int connected, failed;
    NetErr why;
    TimeNs t_failed;
    Net *net;
} Conn;

static void c_connected(void *ctx, NetTcp c)
{
    (void)c;
    ((Conn *)ctx)->connected++;
}

static void c_failed(void *ctx, NetTcp c, NetErr why)
{
    (void)c;
    Conn *k = ctx;
    k->failed++;
    k->why = why;
    k->t_failed = sim_now(net_sim(k->net));
}

static const TcpOps conn_ops = {.connected = c_connected, .failed = c_failed};

static bool l_accept(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops, void **cctx)
{
    (void)l;
    (void)c;
    (void)peer;
    (*(int *)ctx)++;
    *ops = &conn_ops;
    *cctx = NULL;
    return true;
}

static const TcpListenOps l_ops = {.accept = l_accept};

static void c_noop_connected(void *ctx, NetTcp c)
{
    (void)ctx;
    (void)c;
}

static void c_noop_failed(void *ctx, NetTcp c, NetErr why)
{
    (void)ctx;
    (void)c;
    (void)why;
}

/* Accepted connections do nothing (their ctx is NULL). */
static const TcpOps noop_ops = {.connected = c_noop_connected, .failed = c_noop_failed};

static bool l_accept_noop(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops,
                          void **cctx)
{
    (void)l;
    (void)c;
    (void)peer;
    (*(int *)ctx)++;
    *ops = &noop_ops;
    *cctx = NULL;
    return true;
}

static const TcpListenOps l_noop_ops = {.accept = l_accept_noop};

/* What a firewalled host F (public, or behind a NAT when behind_nat) can
 * do with a public peer P. */
typedef struct FwOutcome {
    bool udp_in_unsolicited; /* P -> F, unsolicited */
    bool udp_out;            /* F -> P arrives */
    bool udp_out_blocked;    /* F's socket got NET_ERR_BLOCKED */
    bool udp_reply;          /* P's reply to F's datagram */
    bool udp_reply_other;    /* from P's other port */
    bool tcp_out_5000;       /* F connects to P:5000 */
    NetErr tcp_out_5000_why; /* its failure reason */
    bool tcp_out_80;         /* F connects to P:80 */
    bool tcp_out_443;        /* F connects to P:443 */
    bool tcp_in;             /* P connects to F:8000 */
} FwOutcome;

static FwOutcome fw_run(FwType type, bool behind_nat, uint64_t seed)
{
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    NetNodeConfig fc = site_cfg(0, 0, 2 * TIMENS_MS);
    fc.fw = type;
    uint32_t f, edge;
    if (behind_nat) {
        NatConfig nc;
        nat_preset("full_cone", &nc);
        edge = net_nat_add(net, NET_INTERNET, &fc, &nc, NULL);
        f = add_lan_host(net, edge);
    } else {
        f = edge = net_host_add(net, NET_INTERNET, &fc, NULL);
    }
    uint32_t p = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    uint32_t f_pub = net_node_addr(net, edge), p_addr = net_node_addr(net, p);
    Rx rf = {0}, rp = {0}, rp2 = {0};
    NetSock sf = udp_open(net, f, 5000, &rf);
    NetSock sp = udp_open(net, p, 6000, &rp), sp2 = udp_open(net, p, 6001, &rp2);
    FwOutcome o = {0};

    /* Full cone NAT: it forwards the unsolicited datagram once F has a
     * mapping, so the firewall is what decides. Open one first. */
    if (behind_nat) udp_send_str(net, sf, ep(0x08080808u, 53), "open a mapping");
    run_for(sim, TIMENS_S);
    udp_send_str(net, sp2, ep(f_pub, 5000), "unsolicited");
    run_for(sim, TIMENS_S);
    o.udp_in_unsolicited = rf.n > 0;
    int n = rf.n;
    udp_send_str(net, sf, ep(p_addr, 6000), "out");
    run_for(sim, TIMENS_S);
    o.udp_out = rp.n > 0;
    o.udp_out_blocked = rf.nerr > 0 && rf.err == NET_ERR_BLOCKED;
    if (o.udp_out) {
        udp_send_str(net, sp, rp.from[0], "reply");
        run_for(sim, TIMENS_S);
        o.udp_reply = rf.n > n;
        n = rf.n;
        udp_send_str(net, sp2, rp.from[0], "reply from another port");
        run_for(sim, TIMENS_S);
        o.udp_reply_other = rf.n > n;
    }

    int accepted = 0, accepted_f = 0;
    NetSock l;
    tcp_listen(net, p, 5000, &l_noop_ops, &accepted, &l);
    tcp_listen(net, p, 80, &l_noop_ops, &accepted, &l);
    tcp_listen(net, p, 443, &l_noop_ops, &accepted, &l);
    tcp_listen(net, f, 8000, &l_ops, &accepted_f, &l);
    Conn c5000 = {.net = net}, c80 = {.net = net}, c443 = {.net = net}, cin = {.net = net};
    NetTcp h;
    TimeNs t0 = sim_now(sim);
    tcp_connect(net, f, ep(p_addr, 5000), &conn_ops, &c5000, &h);
    tcp_connect(net, f, ep(p_addr, 80), &conn_ops, &c80, &h);
    tcp_connect(net, f, ep(p_addr, 443), &conn_ops, &c443, &h);
    tcp_connect(net, p, ep(f_pub, 8000), &conn_ops, &cin, &h);
    run_for(sim, 30 * TIMENS_S);
    o.tcp_out_5000 = c5000.connected;
    o.tcp_out_5000_why = c5000.failed ? c5000.why : NET_OK;
    o.tcp_out_80 = c80.connected;
    o.tcp_out_443 = c443.connected;
    o.tcp_in = cin.connected && accepted_f == 1;
    if (!o.tcp_in) T_EQ_I64(cin.why, NET_ERR_TIMEOUT); /* inbound blocks are silent */
    if (c5000.failed && c5000.why == NET_ERR_BLOCKED) {
        T_CMP_I64(c5000.t_failed - t0, <, 100 * TIMENS_MS); /* rejected locally, fast */
    }
    NetNodeCounters cnt;
    net_node_counters(net, edge, &cnt);
    if (type != FW_OPEN) T_CMP_I64(cnt.drops[NET_DROP_FIREWALL], >, 0);
    net_fixture_free(sim, net);
    return o;
}

static void check(FwOutcome got, FwOutcome want)
{
    T_EQ_I64(got.udp_in_unsolicited, want.udp_in_unsolicited);
    T_EQ_I64(got.udp_out, want.udp_out);
    T_EQ_I64(got.udp_out_blocked, want.udp_out_blocked);
    T_EQ_I64(got.udp_reply, want.udp_reply);
    T_EQ_I64(got.udp_reply_other, want.udp_reply_other);
    T_EQ_I64(got.tcp_out_5000, want.tcp_out_5000);
    T_EQ_I64(got.tcp_out_5000_why, want.tcp_out_5000_why);
    T_EQ_I64(got.tcp_out_80, want.tcp_out_80);
    T_EQ_I64(got.tcp_out_443, want.tcp_out_443);
    T_EQ_I64(got.tcp_in, want.tcp_in);
}

static const FwOutcome want_open = {true, true, false, true, true, true, NET_OK, true, true, true};
static const FwOutcome want_stateful = {false, true, false, true, false,
                                        true,  NET_OK, true, true, false};
static const FwOutcome want_udp_blocked = {false, false, true, false, false,
                                           true,  NET_OK, true, true, false};
static const FwOutcome want_tcp_only = {false, false, true, false, false,
                                        false, NET_ERR_BLOCKED, true, true, false};

static void test_fw_presets_on_host(void)
{
    check(fw_run(FW_OPEN, false, 50), want_open);
    check(fw_run(FW_STATEFUL, false, 51), want_stateful);
    check(fw_run(FW_UDP_BLOCKED, false, 52), want_udp_blocked);
    check(fw_run(FW_TCP_80_443_ONLY, false, 53), want_tcp_only);
}

static void test_fw_presets_on_nat_box(void)
{
    /* Behind a NAT nobody reaches F's listener without a mapping anyway. */
    FwOutcome open_nat = want_open;
    open_nat.tcp_in = false;
    check(fw_run(FW_OPEN, true, 60), open_nat);
    check(fw_run(FW_STATEFUL, true, 61), want_stateful);
    check(fw_run(FW_UDP_BLOCKED, true, 62), want_udp_blocked);
    check(fw_run(FW_TCP_80_443_ONLY, true, 63), want_tcp_only);
}

static void test_fw_flow_lifetime(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 64, NULL);
    NetNodeConfig fc = site_cfg(0, 0, 2 * TIMENS_MS);
    fc.fw = FW_STATEFUL;
    uint32_t f = net_host_add(net, NET_INTERNET, &fc, NULL);
    uint32_t p = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    Rx rf = {0}, rp = {0};
    NetSock sf = udp_open(net, f, 5000, &rf), sp = udp_open(net, p, 6000, &rp);
    udp_send_str(net, sf, ep(net_node_addr(net, p), 6000), "out");
    run_for(sim, 100 * TIMENS_S);
    udp_send_str(net, sp, rp.from[0], "in time"); /* also refreshes the flow */
    run_for(sim, 150 * TIMENS_S);
    T_EQ_I64(rf.n, 1);
    udp_send_str(net, sp, rp.from[0], "too late: 150 s after the last packet");
    run_for(sim, TIMENS_S);
    T_EQ_I64(rf.n, 1);
    net_fixture_free(sim, net);
}

static void test_fw_names(void)
{
    FwType t;
    T_TRUE(fw_type_parse("tcp_80_443_only", &t));
    T_EQ_I64(t, FW_TCP_80_443_ONLY);
    T_TRUE(fw_type_parse("stateful", &t));
    T_EQ_I64(t, FW_STATEFUL);
    T_FALSE(fw_type_parse("paranoid", &t));
    for (int i = 0; i < FW__COUNT; i++) {
        T_TRUE(fw_type_parse(fw_type_name((FwType)i), &t));
        T_EQ_I64(t, i);
    }
}

T_SUITE_MAIN("fw", {"test_fw_presets_on_host", test_fw_presets_on_host},
             {"test_fw_presets_on_nat_box", test_fw_presets_on_nat_box},
             {"test_fw_flow_lifetime", test_fw_flow_lifetime}, {"test_fw_names", test_fw_names})
