/* test_pcap: captures written, read back and checked: IPv4/UDP/TCP/ICMP
 * headers and checksums, addresses as seen at each capture point (private
 * inside the NAT, translated outside), TCP flags and sequence numbers,
 * timestamps from virtual time; tshark reads the file when installed. */
#include "sim/net/pcap.h"

#include <glib/gstdio.h>
#include <stdio.h>

#include "test_net_util.h"

/* Decoded records of a capture file. */
typedef struct Cap {
    int n;
    PcapIp ip[64];
    TimeNs ts[64];
    uint8_t payload[64][64];
} Cap;

static void cap_read(const char *path, Cap *cap)
{
    memset(cap, 0, sizeof *cap);
    GError *err = NULL;
    PcapReader *r = pcap_reader_open(path, &err);
    CU_ASSERT_FATAL(r != NULL);
    PcapRecord rec;
    while (cap->n < 64 && pcap_reader_next(r, &rec, &err)) {
        T_EQ_I64(rec.caplen, rec.origlen);
        T_TRUE(pcap_parse_ipv4(rec.data, rec.caplen, &cap->ip[cap->n]));
        PcapIp *ip = &cap->ip[cap->n];
        T_TRUE(ip->ip_csum_ok);
        T_TRUE(ip->l4_csum_ok);
        T_EQ_I64(ip->total_len, rec.caplen);
        if (ip->payload_len) memcpy(cap->payload[cap->n], ip->payload, MIN(ip->payload_len, 63));
        cap->ip[cap->n].payload = NULL; /* the record buffer goes away */
        cap->ts[cap->n] = rec.ts_ns;
        cap->n++;
    }
    T_TRUE(err == NULL);
    g_clear_error(&err);
    pcap_reader_free(r);
}

static char *tmp_dir(void)
{
    char *d = g_build_filename(g_get_tmp_dir(), "skysim-pcap-XXXXXX", NULL);
    CU_ASSERT_FATAL(g_mkdtemp(d) != NULL);
    return d;
}

/* tshark, when installed, must read the file without complaint and see
 * `records` packets. */
static void tshark_check(const char *path, int records)
{
    char *tshark = g_find_program_in_path("tshark");
    if (!tshark) {
        printf("\n    tshark not installed: skipped\n");
        return;
    }
    char *argv[] = {tshark, "-r", (char *)path, "-T", "fields", "-e", "ip.src", NULL};
    char *out = NULL, *errs = NULL;
    int status = -1;
    bool ran = g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errs, &status,
                            NULL);
    T_TRUE(ran);
    if (ran) {
        T_TRUE(g_spawn_check_wait_status(status, NULL));
        int lines = 0;
        for (char *c = out; *c; c++) lines += *c == '\n';
        T_EQ_I64(lines, records);
    }
    g_free(out);
    g_free(errs);
    g_free(tshark);
}

static void test_pcap_udp_through_nat(void)
{
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "udp.pcap", NULL);
    Sim *sim;
    Net *net = net_fixture(&sim, 70, NULL);
    NatConfig nc;
    nat_preset("port_restricted_cone", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h = add_lan_host(net, nat);
    uint32_t s = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    GError *err = NULL;
    T_TRUE(net_pcap_open(net, path, &err));
    T_FALSE(net_pcap_open(net, path, &err)); /* one capture at a time */
    g_clear_error(&err);
    net_pcap_capture_node(net, h, true);
    net_pcap_capture_node(net, nat, true);
    net_pcap_capture_node(net, s, true);
    Rx rh = {0}, rs = {0};
    NetSock sh = udp_open(net, h, 5000, &rh), ss = udp_open(net, s, 7000, &rs);
    run_for(sim, 3 * TIMENS_MS);
    udp_send_str(net, sh, ep(net_node_addr(net, s), 7000), "hello pcap");
    run_for(sim, TIMENS_S);
    udp_send_str(net, ss, rs.from[0], "world");
    run_for(sim, TIMENS_S);
    T_EQ_I64(net_pcap_records(net), 6);
    T_FALSE(g_file_test(path, G_FILE_TEST_EXISTS)); /* still the .part file */
    T_TRUE(net_pcap_close(net, &err));
    T_TRUE(g_file_test(path, G_FILE_TEST_EXISTS));

    Cap cap;
    cap_read(path, &cap);
    T_EQ_I64(cap.n, 6);
    uint32_t priv = net_node_addr(net, h), pub = net_node_addr(net, nat), srv = net_node_addr(net, s);
    /* [0] at h: private source; [1] NAT outside: translated; [2] at s. */
    T_EQ_U64(cap.ip[0].src, priv);
    T_EQ_U64(cap.ip[0].dst, srv);
    T_EQ_I64(cap.ip[0].proto, 17);
    T_EQ_I64(cap.ip[0].sport, 5000);
    T_EQ_I64(cap.ip[0].dport, 7000);
    T_EQ_I64(cap.ip[0].payload_len, 10);
    T_EQ_I64(memcmp(cap.payload[0], "hello pcap", 10), 0);
    T_EQ_I64(cap.ip[0].ttl, 64);
    T_EQ_I64(cap.ts[0], 3 * TIMENS_MS);
    T_EQ_U64(cap.ip[1].src, pub);
    T_EQ_I64(cap.ip[1].sport, rs.from[0].port);
    T_EQ_I64(cap.ip[1].ttl, 63);
    T_EQ_I64(cap.ts[1], 3 * TIMENS_MS + 250 * TIMENS_US);
    T_EQ_U64(cap.ip[2].src, pub);
    T_EQ_U64(cap.ip[2].dst, srv);
    /* The reply: [3] at s, [4] NAT outside, [5] at h with h's private address. */
    T_EQ_U64(cap.ip[3].src, srv);
    T_EQ_U64(cap.ip[3].dst, pub);
    T_EQ_U64(cap.ip[4].dst, pub);
    T_EQ_U64(cap.ip[5].dst, priv);
    T_EQ_I64(cap.ip[5].dport, 5000);
    T_EQ_I64(memcmp(cap.payload[5], "world", 5), 0);
    for (int i = 1; i < cap.n; i++) T_CMP_I64(cap.ts[i], >=, cap.ts[i - 1]);
    tshark_check(path, 6);
    net_fixture_free(sim, net);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

static bool accept_any(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops, void **cctx);

static void on_failed(void *ctx, NetTcp c, NetErr why)
{
    (void)ctx;
    (void)c;
    (void)why;
}

static const TcpOps quiet_ops = {.failed = on_failed};

static bool accept_any(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops, void **cctx)
{
    (void)ctx;
    (void)l;
    (void)c;
    (void)peer;
    *ops = &quiet_ops;
    *cctx = NULL;
    return true;
}

static const TcpListenOps accept_ops = {.accept = accept_any};

static void test_pcap_tcp_and_icmp(void)
{
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "tcp.pcap", NULL);
    Sim *sim;
    Net *net = net_fixture(&sim, 71, NULL);
    uint32_t a = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    NetNodeConfig bc = site_cfg(0, 0, 2 * TIMENS_MS);
    bc.icmp_unreachable = true;
    uint32_t b = net_host_add(net, NET_INTERNET, &bc, NULL);
    T_TRUE(net_pcap_open(net, path, NULL));
    net_pcap_capture_node(net, a, true); /* only a's view */
    NetSock l;
    tcp_listen(net, b, 443, &accept_ops, NULL, &l);
    NetTcp c;
    tcp_connect(net, a, ep(net_node_addr(net, b), 443), &quiet_ops, NULL, &c);
    tcp_send(net, c, "GET /", 5);
    run_for(sim, TIMENS_S);
    Rx ra = {0};
    NetSock sa = udp_open(net, a, 0, &ra);
    udp_send_str(net, sa, ep(net_node_addr(net, b), 9), "closed port");
    run_for(sim, TIMENS_S);
    T_EQ_I64(ra.nerr, 1);
    T_TRUE(net_pcap_close(net, NULL));
    Cap cap;
    cap_read(path, &cap);
    /* SYN, SYN-ACK, ACK, data, ACK of data; UDP out, ICMP in. */
    T_EQ_I64(cap.n, 7);
    T_EQ_I64(cap.ip[0].tcp_flags, 0x02);
    T_EQ_I64(cap.ip[1].tcp_flags, 0x12);
    T_EQ_U64(cap.ip[1].ack, cap.ip[0].seq + 1);
    T_EQ_I64(cap.ip[2].tcp_flags, 0x10);
    T_EQ_U64(cap.ip[2].ack, cap.ip[1].seq + 1);
    T_EQ_U64(cap.ip[3].seq, cap.ip[0].seq + 1);
    T_EQ_I64(cap.ip[3].tcp_flags, 0x18);
    T_EQ_I64(cap.ip[3].payload_len, 5);
    T_EQ_I64(memcmp(cap.payload[3], "GET /", 5), 0);
    T_EQ_U64(cap.ip[4].ack, cap.ip[0].seq + 1 + 5);
    T_EQ_I64(cap.ip[4].dport, tcp_local(net, c).port);
    T_EQ_I64(cap.ip[5].proto, 17);
    T_EQ_I64(cap.ip[6].proto, 1);
    T_EQ_I64(cap.ip[6].icmp_type, 3);
    T_EQ_I64(cap.ip[6].icmp_code, 3);
    T_EQ_U64(cap.ip[6].quoted_src, net_node_addr(net, a));
    T_EQ_U64(cap.ip[6].quoted_dst, net_node_addr(net, b));
    T_EQ_I64(cap.ip[6].dport, 9);
    T_EQ_I64(cap.ip[6].sport, sock_port(net, sa));
    tshark_check(path, 7);
    net_fixture_free(sim, net);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

static void test_pcap_errors(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 72, NULL);
    GError *err = NULL;
    T_FALSE(net_pcap_open(net, "/nonexistent-dir/x.pcap", &err));
    T_TRUE(err != NULL);
    if (err) T_STR_CONTAINS(err->message, "/nonexistent-dir/x.pcap.part");
    g_clear_error(&err);
    T_TRUE(net_pcap_close(net, NULL)); /* nothing open */
    net_fixture_free(sim, net);

    char *dir = tmp_dir();
    char *bad = g_build_filename(dir, "bad.pcap", NULL);
    g_file_set_contents(bad, "not a capture at all, not at all", -1, NULL);
    T_TRUE(pcap_reader_open(bad, &err) == NULL);
    if (err) T_STR_CONTAINS(err->message, "expected a pcap or pcapng file");
    g_clear_error(&err);
    /* A header and half a record. */
    uint8_t buf[24 + 10] = {0};
    uint32_t hdr[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 101};
    memcpy(buf, hdr, sizeof hdr);
    g_file_set_contents(bad, (char *)buf, sizeof buf, NULL);
    PcapReader *r = pcap_reader_open(bad, &err);
    T_TRUE(r != NULL);
    PcapRecord rec;
    T_FALSE(pcap_reader_next(r, &rec, &err));
    T_TRUE(err != NULL);
    if (err) T_STR_CONTAINS(err->message, "truncated");
    g_clear_error(&err);
    pcap_reader_free(r);
    g_remove(bad);
    g_rmdir(dir);
    g_free(bad);
    g_free(dir);
}

/* Interface of each record and the IP ids seen on it. */
typedef struct IfCap {
    int n;                /* records */
    uint32_t iface[64];   /* interface of record i */
    uint16_t ip_id[64];   /* IP id of record i */
    uint32_t src[64];     /* source address of record i */
    char names[8][96];    /* interface names */
    size_t n_if;          /* interfaces */
} IfCap;

static void ifcap_read(const char *path, IfCap *c)
{
    memset(c, 0, sizeof *c);
    GError *err = NULL;
    PcapReader *r = pcap_reader_open(path, &err);
    CU_ASSERT_FATAL(r != NULL);
    PcapRecord rec;
    while (c->n < 64 && pcap_reader_next(r, &rec, &err)) {
        PcapIp ip;
        T_TRUE(pcap_parse_ipv4(rec.data, rec.caplen, &ip));
        c->iface[c->n] = rec.iface;
        c->ip_id[c->n] = (uint16_t)(rec.data[4] << 8 | rec.data[5]);
        c->src[c->n] = ip.src;
        c->n++;
    }
    T_TRUE(err == NULL);
    g_clear_error(&err);
    c->n_if = MIN(pcap_reader_iface_count(r), 8);
    for (size_t i = 0; i < c->n_if; i++) g_strlcpy(c->names[i], pcap_reader_iface_name(r, i), 96);
    pcap_reader_free(r);
}

static void namer(void *ctx, uint32_t node, GString *name)
{
    (void)ctx;
    g_string_printf(name, "host%u", node);
}

/* Access links: each packet once (distinct IP ids), at its sender's
 * interface; the core: each packet that crosses it once, public source;
 * interfaces named by the namer, the core "core"; ns timestamps. */
static void test_pcap_access_once_and_core(void)
{
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "acc.pcapng", NULL);
    Sim *sim;
    Net *net = net_fixture(&sim, 73, NULL);
    NatConfig nc;
    nat_preset("full_cone", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h = add_lan_host(net, nat);
    uint32_t s = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    T_TRUE(net_pcap_open(net, path, NULL));
    net_pcap_set_namer(net, namer, NULL);
    net_pcap_capture_access(net, true);
    net_pcap_capture_core(net, true);
    Rx rh = {0}, rs = {0};
    NetSock sh = udp_open(net, h, 5000, &rh), ss = udp_open(net, s, 7000, &rs);
    run_for(sim, 3 * TIMENS_MS + 7); /* a timestamp below the microsecond */
    udp_send_str(net, sh, ep(net_node_addr(net, s), 7000), "one");
    run_for(sim, TIMENS_S);
    udp_send_str(net, ss, rs.from[0], "two");
    run_for(sim, TIMENS_S);
    T_TRUE(net_pcap_close(net, NULL));
    IfCap c;
    ifcap_read(path, &c);
    /* one, two at their senders (h, s); both again on the core. */
    T_EQ_I64(c.n, 4);
    T_EQ_U64(c.n_if, 3);
    char hn[32], sn[32];
    g_snprintf(hn, sizeof hn, "host%u", h);
    g_snprintf(sn, sizeof sn, "host%u", s);
    size_t per_if[3] = {0};
    for (int i = 0; i < c.n; i++) {
        T_CMP_I64(c.iface[i], <, 3);
        if (c.iface[i] < 3) per_if[c.iface[i]]++;
        int same = 0; /* each IP id at most once per interface */
        for (int j = 0; j < c.n; j++) same += c.ip_id[j] == c.ip_id[i] && c.iface[j] == c.iface[i];
        T_EQ_I64(same, 1);
    }
    T_STR_EQ(c.names[0], hn);
    T_STR_EQ(c.names[1], "core");
    T_STR_EQ(c.names[2], sn);
    T_EQ_U64(per_if[0] + per_if[1] + per_if[2], 4);
    T_EQ_U64(per_if[1], 2);
    T_EQ_U64(c.src[0], net_node_addr(net, h));   /* the sender's view: private */
    T_EQ_U64(c.src[1], net_node_addr(net, nat)); /* the core: translated */
    Cap cap;
    cap_read(path, &cap);
    T_EQ_I64(cap.ts[0], 3 * TIMENS_MS + 7);
    tshark_check(path, 4);
    net_fixture_free(sim, net);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

T_SUITE_MAIN("pcap", {"test_pcap_udp_through_nat", test_pcap_udp_through_nat},
             {"test_pcap_access_once_and_core", test_pcap_access_once_and_core},
             {"test_pcap_tcp_and_icmp", test_pcap_tcp_and_icmp},
             {"test_pcap_errors", test_pcap_errors})
