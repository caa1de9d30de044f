/* test_nat: NAT behaviour against RFC 4787 (UDP) by mechanism: the standard
 * experiments for every mapping x filtering combination and every preset,
 * simultaneous hole punching for every pair, expiry and refresh,
 * hairpinning, the mapping cap, port assignment and nested (carrier-grade)
 * NAT. The expected outcomes are written from the RFC's definitions here,
 * independently of the implementation. The conntrack presets are tested as
 * probe sequences (tests/natprobe.h notation) whose expected results are
 * what a Linux 6.x router does for the same sequence (tests/netns runs them
 * against the kernel). */
#include "test_net_util.h"

#include <stdio.h>

#include "natprobe.h"

#define P1 3478
#define P2 3479

/* A public server host with sockets on P1 and P2. */
typedef struct Server {
    uint32_t host;
    NetSock s1, s2;
    Rx r1, r2;
} Server;

static void server_init(Net *net, Server *s)
{
    memset(s, 0, sizeof *s);
    s->host = add_site_host(net, 0, 0, 2 * TIMENS_MS);
    s->s1 = udp_open(net, s->host, P1, &s->r1);
    s->s2 = udp_open(net, s->host, P2, &s->r2);
}

static NetEp server_ep(Net *net, const Server *s, uint16_t port)
{
    return ep(net_node_addr(net, s->host), port);
}

/* Outcome of the RFC 4787 experiments for one NAT configuration. */
typedef struct Outcome {
    bool unsolicited;     /* inbound before any outbound got through */
    bool reply;           /* reply from the endpoint sent to */
    bool other_port;      /* from the same address, another port */
    bool other_addr;      /* from another address */
    bool same_port_p2;    /* flow to the same address, other port: same external port */
    bool same_port_addr2; /* flow to another address: same external port */
    bool preserved;       /* first external port = internal port */
} Outcome;

static Outcome run_experiments(const NatConfig *nc, uint64_t seed)
{
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    Server s1, s2;
    server_init(net, &s1);
    server_init(net, &s2);
    uint32_t nat = add_nat(net, NET_INTERNET, nc);
    uint32_t h = add_lan_host(net, nat);
    Rx rh = {0};
    NetSock sh = udp_open(net, h, 5000, &rh);
    uint32_t ext = net_node_addr(net, nat);
    Outcome o = {0};

    udp_send_str(net, s1.s1, ep(ext, 5000), "unsolicited");
    run_for(sim, TIMENS_S);
    o.unsolicited = rh.n > 0;

    udp_send_str(net, sh, server_ep(net, &s1, P1), "probe");
    run_for(sim, TIMENS_S);
    CU_ASSERT_FATAL(s1.r1.n == 1);
    NetEp e1 = s1.r1.from[0];
    T_EQ_U64(e1.addr, ext);
    o.preserved = e1.port == 5000;

    int n = rh.n;
    udp_send_str(net, s1.s1, e1, "reply");
    run_for(sim, TIMENS_S);
    o.reply = rh.n > n;
    n = rh.n;
    udp_send_str(net, s1.s2, e1, "other port");
    run_for(sim, TIMENS_S);
    o.other_port = rh.n > n;
    n = rh.n;
    udp_send_str(net, s2.s1, e1, "other address");
    run_for(sim, TIMENS_S);
    o.other_addr = rh.n > n;

    udp_send_str(net, sh, server_ep(net, &s1, P2), "second flow");
    udp_send_str(net, sh, server_ep(net, &s2, P1), "third flow");
    run_for(sim, TIMENS_S);
    CU_ASSERT_FATAL(s1.r2.n == 1 && s2.r1.n == 1);
    o.same_port_p2 = s1.r2.from[0].port == e1.port;
    o.same_port_addr2 = s2.r1.from[0].port == e1.port;

    /* Drops were counted with the right causes. */
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    T_CMP_I64(c.drops[NET_DROP_NO_MAPPING], >=, 1);
    T_EQ_I64(c.drops[NET_DROP_NAT_FILTER], (!o.other_port) + (!o.other_addr));
    net_fixture_free(sim, net);
    return o;
}

/* What RFC 4787 prescribes for (mapping, filtering). */
static Outcome expected(NatMapping m, NatFiltering f)
{
    return (Outcome){
        .unsolicited = false,
        .reply = true,
        .other_port = f != NAT_FILTER_ADDRESS_PORT_DEPENDENT,       /* §5: EIF, ADF */
        .other_addr = f == NAT_FILTER_ENDPOINT_INDEPENDENT,         /* §5: EIF only */
        .same_port_p2 = m != NAT_MAP_ADDRESS_PORT_DEPENDENT,        /* §4.1: EIM, ADM */
        .same_port_addr2 = m == NAT_MAP_ENDPOINT_INDEPENDENT,       /* §4.1: EIM only */
        .preserved = true,
    };
}

static void check_outcome(const char *what, Outcome got, Outcome want)
{
    bool same = memcmp(&got, &want, sizeof got) == 0;
    if (!same) {
        printf("\n    %s: got unsol %d reply %d oport %d oaddr %d p2 %d addr2 %d pres %d\n", what,
               got.unsolicited, got.reply, got.other_port, got.other_addr, got.same_port_p2,
               got.same_port_addr2, got.preserved);
    }
    T_EQ_I64(got.unsolicited, want.unsolicited);
    T_EQ_I64(got.reply, want.reply);
    T_EQ_I64(got.other_port, want.other_port);
    T_EQ_I64(got.other_addr, want.other_addr);
    T_EQ_I64(got.same_port_p2, want.same_port_p2);
    T_EQ_I64(got.same_port_addr2, want.same_port_addr2);
    T_EQ_I64(got.preserved, want.preserved);
}

static void test_nat_behaviour_matrix(void)
{
    for (int m = 0; m < 3; m++) {
        for (int f = 0; f < 3; f++) {
            NatConfig nc;
            nat_config_default(&nc);
            nc.mapping = (NatMapping)m;
            nc.filtering = (NatFiltering)f;
            char what[64];
            snprintf(what, sizeof what, "%s+%s", nat_mapping_name(nc.mapping),
                     nat_filtering_name(nc.filtering));
            check_outcome(what, run_experiments(&nc, 100 + (uint64_t)(m * 3 + f)),
                          expected(nc.mapping, nc.filtering));
        }
    }
}

static void test_nat_presets(void)
{
    static const struct {
        const char *name;
        NatMapping m;
        NatFiltering f;
    } presets[] = {
        {"full_cone", NAT_MAP_ENDPOINT_INDEPENDENT, NAT_FILTER_ENDPOINT_INDEPENDENT},
        {"restricted_cone", NAT_MAP_ENDPOINT_INDEPENDENT, NAT_FILTER_ADDRESS_DEPENDENT},
        {"port_restricted_cone", NAT_MAP_ENDPOINT_INDEPENDENT, NAT_FILTER_ADDRESS_PORT_DEPENDENT},
        {"symmetric", NAT_MAP_ADDRESS_PORT_DEPENDENT, NAT_FILTER_ADDRESS_PORT_DEPENDENT},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++) {
        NatConfig nc;
        T_TRUE(nat_preset(presets[i].name, &nc));
        T_TRUE(nc.enabled);
        T_EQ_I64(nc.mapping, presets[i].m);
        T_EQ_I64(nc.filtering, presets[i].f);
        T_EQ_I64(nc.udp_timeout_ns, 120 * TIMENS_S);
        Outcome want = expected(presets[i].m, presets[i].f);
        /* Symmetric NATs assign ports sequentially: the first mapping need
         * not keep the internal port. */
        Outcome got = run_experiments(&nc, 200 + i);
        if (nc.port_alloc != NAT_PORT_PRESERVING) want.preserved = got.preserved;
        check_outcome(presets[i].name, got, want);
    }
    NatConfig nc;
    T_TRUE(nat_preset("none", &nc));
    T_FALSE(nc.enabled);
    T_FALSE(nat_preset("cone", &nc));
    NatMapping m;
    NatFiltering f;
    NatPortAlloc p;
    T_TRUE(nat_mapping_parse("apdm", &m) && m == NAT_MAP_ADDRESS_PORT_DEPENDENT);
    T_TRUE(nat_filtering_parse("adf", &f) && f == NAT_FILTER_ADDRESS_DEPENDENT);
    T_TRUE(nat_port_alloc_parse("random", &p) && p == NAT_PORT_RANDOM);
    T_FALSE(nat_mapping_parse("cone", &m));
}

/* ---- hole punching ------------------------------------------------------ */

/* Simultaneous UDP hole punching between A and B (each behind a NAT with
 * the given config, or public when NULL) that learned each other's public
 * endpoints from a server. Returns whether each side heard the other. */
static void punch(const NatConfig *ca, const NatConfig *cb, uint64_t seed, bool *a_got, bool *b_got)
{
    Sim *sim;
    Net *net = net_fixture(&sim, seed, NULL);
    Server s;
    server_init(net, &s);
    uint32_t a = ca ? add_lan_host(net, add_nat(net, NET_INTERNET, ca))
                    : add_site_host(net, 0, 0, 5 * TIMENS_MS);
    uint32_t b = cb ? add_lan_host(net, add_nat(net, NET_INTERNET, cb))
                    : add_site_host(net, 0, 0, 5 * TIMENS_MS);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 5000, &ra);
    NetSock sb = udp_open(net, b, 6000, &rb);
    udp_send_str(net, sa, server_ep(net, &s, P1), "register a");
    udp_send_str(net, sb, server_ep(net, &s, P1), "register b");
    run_for(sim, TIMENS_S);
    CU_ASSERT_FATAL(s.r1.n == 2);
    NetEp pa = s.r1.from[0], pb = s.r1.from[1];
    if (pa.addr == net_node_public_addr(net, b)) { /* arrival order */
        NetEp t = pa;
        pa = pb;
        pb = t;
    }
    for (int k = 0; k < 5; k++) {
        udp_send_str(net, sa, pb, "punch from a");
        udp_send_str(net, sb, pa, "punch from b");
        run_for(sim, 100 * TIMENS_MS);
    }
    run_for(sim, TIMENS_S);
    *a_got = ra.n > 0;
    *b_got = rb.n > 0;
    net_fixture_free(sim, net);
}

/* RFC 4787 reasoning: a side's packets leave from its public endpoint
 * known to the peer only under EIM (ADM and APDM make a new mapping for a
 * new destination address). A side's NAT accepts the peer's packet, which
 * arrives at its registered mapping, if EIF; if ADF, when it sent to the
 * peer's address through that mapping (its own EIM); if APDF, when it sent
 * to exactly the endpoint the packet comes from (its own EIM and the peer's
 * EIM). A public host is EIM+EIF. */
static bool punch_expected(const NatConfig *self, const NatConfig *peer)
{
    if (!self) return true;
    bool self_eim = self->mapping == NAT_MAP_ENDPOINT_INDEPENDENT;
    bool peer_eim = !peer || peer->mapping == NAT_MAP_ENDPOINT_INDEPENDENT;
    switch (self->filtering) {
    case NAT_FILTER_ENDPOINT_INDEPENDENT: return true;
    case NAT_FILTER_ADDRESS_DEPENDENT: return self_eim;
    default: return self_eim && peer_eim;
    }
}

static void test_nat_hole_punching_matrix(void)
{
    NatConfig cfg[10];
    const NatConfig *opt[10];
    for (int i = 0; i < 9; i++) {
        nat_config_default(&cfg[i]);
        cfg[i].mapping = (NatMapping)(i / 3);
        cfg[i].filtering = (NatFiltering)(i % 3);
        opt[i] = &cfg[i];
    }
    opt[9] = NULL; /* a public host */
    int successes = 0;
    for (int i = 0; i < 10; i++) {
        for (int j = 0; j < 10; j++) {
            bool a_got, b_got;
            punch(opt[i], opt[j], 300 + (uint64_t)(i * 10 + j), &a_got, &b_got);
            bool want_a = punch_expected(opt[i], opt[j]), want_b = punch_expected(opt[j], opt[i]);
            if (a_got != want_a || b_got != want_b) {
                printf("\n    punch %d x %d: got a %d b %d, want a %d b %d\n", i, j, a_got, b_got,
                       want_a, want_b);
            }
            T_EQ_I64(a_got, want_a);
            T_EQ_I64(b_got, want_b);
            successes += a_got && b_got;
        }
    }
    /* The classic results: cone-cone works, symmetric-symmetric does not,
     * port-restricted-symmetric does not, restricted-symmetric half does. */
    bool a, b;
    NatConfig prc, sym, rc;
    nat_preset("port_restricted_cone", &prc);
    nat_preset("symmetric", &sym);
    nat_preset("restricted_cone", &rc);
    punch(&prc, &prc, 400, &a, &b);
    T_TRUE(a && b);
    punch(&sym, &sym, 401, &a, &b);
    T_FALSE(a || b);
    punch(&prc, &sym, 402, &a, &b);
    T_FALSE(a && b);
    punch(&rc, &sym, 403, &a, &b);
    T_TRUE(a);
    T_CMP_I64(successes, >, 0);
}

/* ---- lifetimes ---------------------------------------------------------- */

typedef struct Shot {
    Net *net;
    NetSock s;
    NetEp to;
} Shot;

static void shot_fire(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    Shot *x = ctx;
    sock_udp_send(x->net, x->s, x->to, "t", 1);
}

/* Schedules a datagram at absolute time t. */
static void shot_at(Sim *sim, Shot *x, TimeNs t) { sim_at(sim, t, shot_fire, x, 0); }

/* H behind a NAT with config nc sends to S at 0 and at each of out[];
 * S sends to H's mapping at each of in[]. Returns how many of S's arrived. */
static int lifetime_run(const NatConfig *nc, const TimeNs *out, int nout, const TimeNs *in, int nin,
                        uint32_t *live_after)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 11, NULL);
    Server s;
    server_init(net, &s);
    uint32_t nat = add_nat(net, NET_INTERNET, nc);
    uint32_t h = add_lan_host(net, nat);
    Rx rh = {0};
    NetSock sh = udp_open(net, h, 5000, &rh);
    Shot up = {net, sh, server_ep(net, &s, P1)};
    Shot down = {net, s.s1, ep(net_node_addr(net, nat), 5000)};
    shot_at(sim, &up, 0);
    for (int i = 0; i < nout; i++) shot_at(sim, &up, out[i]);
    /* The server's datagrams leave so that they reach the NAT at in[i]:
     * one-way server -> NAT is 2 ms + 8 ms core + 1 ms. */
    for (int i = 0; i < nin; i++) shot_at(sim, &down, in[i] - 11 * TIMENS_MS);
    sim_run_until(sim, 2000 * TIMENS_S);
    int got = rh.n;
    *live_after = net_nat_mapping_count(net, nat);
    net_fixture_free(sim, net);
    return got;
}

static void test_nat_mapping_expiry_and_refresh(void)
{
    NatConfig nc;
    nat_preset("port_restricted_cone", &nc);
    /* The outbound packet reaches the NAT at 0.25 ms: the mapping lives
     * until 120.00025 s. */
    const TimeNs t0 = 250 * TIMENS_US;
    uint32_t live;
    TimeNs in1[] = {t0 + 119 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in1, 1, &live), 1);
    T_EQ_I64(live, 0); /* reclaimed by its expiry event */
    TimeNs in2[] = {t0 + 121 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in2, 1, &live), 0);
    /* Outbound traffic at 100 s refreshes it to 220 s. */
    TimeNs out3[] = {100 * TIMENS_S};
    TimeNs in3[] = {200 * TIMENS_S, t0 + 221 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, out3, 1, in3, 2, &live), 1);
    /* Inbound traffic does not refresh by default ... */
    TimeNs in4[] = {100 * TIMENS_S, 130 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in4, 2, &live), 1);
    /* ... and does when configured. */
    nc.inbound_refresh = true;
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in4, 2, &live), 2);
    TimeNs in5[] = {100 * TIMENS_S, 219 * TIMENS_S, 230 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in5, 3, &live), 3);
    /* A shorter timeout. */
    nat_preset("full_cone", &nc);
    nc.udp_timeout_ns = 30 * TIMENS_S;
    TimeNs in6[] = {29 * TIMENS_S, 31 * TIMENS_S};
    T_EQ_I64(lifetime_run(&nc, NULL, 0, in6, 2, &live), 1);
}

/* ---- hairpinning -------------------------------------------------------- */

static void hairpin_run(bool hairpin, int *b_got, NetEp *b_from, int *a_got, uint32_t *filter_drops)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 12, NULL);
    Server s;
    server_init(net, &s);
    NatConfig nc;
    nat_preset("port_restricted_cone", &nc);
    nc.hairpin = hairpin;
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t a = add_lan_host(net, nat), b = add_lan_host(net, nat);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 5000, &ra), sb = udp_open(net, b, 5000, &rb);
    udp_send_str(net, sa, server_ep(net, &s, P1), "a");
    run_for(sim, TIMENS_S);
    udp_send_str(net, sb, server_ep(net, &s, P1), "b");
    run_for(sim, TIMENS_S);
    NetEp ea = s.r1.from[0], eb = s.r1.from[1];
    T_EQ_U64(ea.addr, eb.addr);
    T_NE_U64(ea.port, eb.port);
    udp_send_str(net, sb, ea, "b to a, filtered: a never sent to b");
    run_for(sim, TIMENS_S);
    udp_send_str(net, sa, eb, "a to b");
    run_for(sim, TIMENS_S);
    udp_send_str(net, sb, ea, "b to a");
    run_for(sim, TIMENS_S);
    *b_got = rb.n;
    *b_from = rb.n ? rb.from[0] : ep(0, 0);
    *a_got = ra.n;
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    *filter_drops = c.drops[NET_DROP_NAT_FILTER];
    net_fixture_free(sim, net);
}

static void test_nat_hairpin(void)
{
    int b_got, a_got;
    NetEp from;
    uint32_t drops;
    hairpin_run(true, &b_got, &from, &a_got, &drops);
    T_EQ_I64(b_got, 1);
    T_EQ_I64(a_got, 1);
    T_EQ_I64(drops, 1);
    /* REQ-9: the source is a's external endpoint, not its private one. */
    T_TRUE(net_addr_is_public(from.addr));
    T_EQ_I64(from.port, 5000);
    hairpin_run(false, &b_got, &from, &a_got, &drops);
    T_EQ_I64(b_got, 0);
    T_EQ_I64(a_got, 0);
    T_EQ_I64(drops, 3);
}

static void test_nat_mapping_cap(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 13, NULL);
    Server s;
    server_init(net, &s);
    NatConfig nc;
    nat_preset("full_cone", &nc);
    nc.max_mappings = 2;
    nc.udp_timeout_ns = 10 * TIMENS_S;
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h = add_lan_host(net, nat);
    Rx r[4] = {{0}};
    NetSock so[4];
    for (int i = 0; i < 3; i++) {
        so[i] = udp_open(net, h, (uint16_t)(7000 + i), &r[i]);
        udp_send_str(net, so[i], server_ep(net, &s, P1), "x");
    }
    run_for(sim, TIMENS_S);
    T_EQ_I64(s.r1.n, 2);
    T_EQ_I64(net_nat_mapping_count(net, nat), 2);
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    T_EQ_U64(c.drops[NET_DROP_NO_MAPPING], 1);
    /* Existing mappings keep working; after they expire there is room. */
    udp_send_str(net, so[0], server_ep(net, &s, P1), "x");
    run_for(sim, 20 * TIMENS_S);
    T_EQ_I64(s.r1.n, 3);
    T_EQ_I64(net_nat_mapping_count(net, nat), 0);
    udp_send_str(net, so[2], server_ep(net, &s, P1), "x");
    run_for(sim, TIMENS_S);
    T_EQ_I64(s.r1.n, 4);
    net_fixture_free(sim, net);
}

static void test_nat_port_assignment(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 14, NULL);
    Server s;
    server_init(net, &s);
    NatConfig pres, seq, rnd;
    nat_preset("port_restricted_cone", &pres);
    nat_preset("symmetric", &seq);
    nat_preset("symmetric", &rnd);
    rnd.port_alloc = NAT_PORT_RANDOM;
    const NatConfig *cfgs[3] = {&pres, &seq, &rnd};
    uint16_t got[3][2];
    for (int k = 0; k < 3; k++) {
        uint32_t nat = add_nat(net, NET_INTERNET, cfgs[k]);
        uint32_t h1 = add_lan_host(net, nat), h2 = add_lan_host(net, nat);
        Rx r1 = {0}, r2 = {0};
        udp_send_str(net, udp_open(net, h1, 5000, &r1), server_ep(net, &s, P1), "1");
        run_for(sim, TIMENS_S);
        udp_send_str(net, udp_open(net, h2, 5000, &r2), server_ep(net, &s, P1), "2");
        run_for(sim, TIMENS_S);
        int n = s.r1.n;
        got[k][0] = s.r1.from[n - 2].port;
        got[k][1] = s.r1.from[n - 1].port;
        T_CMP_I64(got[k][0], >=, 1024);
        T_CMP_I64(got[k][1], >=, 1024);
        T_NE_U64(got[k][0], got[k][1]);
    }
    T_EQ_I64(got[0][0], 5000); /* preserved; the second host's 5000 is taken */
    T_EQ_I64(got[1][1], got[1][0] + 1); /* sequential */
    net_fixture_free(sim, net);
}

static void test_nat_nested_cgn(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 15, NULL);
    Server s, s2;
    server_init(net, &s);
    server_init(net, &s2);
    NatConfig cgn, home;
    nat_preset("port_restricted_cone", &cgn);
    cgn.inside_net = 0x64400000u;
    cgn.inside_prefix_len = 10;
    nat_preset("port_restricted_cone", &home);
    uint32_t c = add_nat(net, NET_INTERNET, &cgn);
    uint32_t h1 = add_nat(net, c, &home), h2 = add_nat(net, c, &home);
    uint32_t a = add_lan_host(net, h1), b = add_lan_host(net, h2);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 5000, &ra), sb = udp_open(net, b, 5000, &rb);
    udp_send_str(net, sa, server_ep(net, &s, P1), "a");
    udp_send_str(net, sb, server_ep(net, &s, P1), "b");
    run_for(sim, TIMENS_S);
    T_EQ_I64(s.r1.n, 2);
    T_EQ_U64(s.r1.from[0].addr, net_node_addr(net, c)); /* only the CGN's address is seen */
    T_EQ_U64(s.r1.from[1].addr, net_node_addr(net, c));
    T_NE_U64(s.r1.from[0].port, s.r1.from[1].port);
    udp_send_str(net, s.s1, s.r1.from[0], "reply");
    udp_send_str(net, s2.s1, s.r1.from[0], "unsolicited");
    run_for(sim, TIMENS_S);
    T_EQ_I64(ra.n, 1);
    T_EQ_U64(ra.from[0].addr, net_node_addr(net, s.host));
    NetNodeCounters cc;
    net_node_counters(net, c, &cc);
    T_EQ_U64(cc.drops[NET_DROP_NAT_FILTER], 1);
    /* Two subscribers of one CGN reach each other's public endpoints by
     * hairpinning at the CGN once both have punched. */
    NetEp ea = s.r1.from[0], eb = s.r1.from[1];
    for (int k = 0; k < 3; k++) {
        udp_send_str(net, sa, eb, "a->b");
        udp_send_str(net, sb, ea, "b->a");
        run_for(sim, 100 * TIMENS_MS);
    }
    T_CMP_I64(rb.n, >=, 1);
    T_CMP_I64(ra.n, >=, 2);
    T_EQ_U64(rb.from[rb.n - 1].addr, net_node_addr(net, c));
    /* The home NAT's outside address is a CGN-space address. */
    T_FALSE(net_addr_is_public(net_node_addr(net, h1)));
    net_fixture_free(sim, net);
}

static void test_nat_icmp_unreachable_through_nat(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 16, NULL);
    NetNodeConfig pc = site_cfg(0, 0, TIMENS_MS);
    pc.icmp_unreachable = true;
    uint32_t pub = net_host_add(net, NET_INTERNET, &pc, NULL);
    NatConfig nc;
    nat_preset("symmetric", &nc);
    uint32_t h = add_lan_host(net, add_nat(net, NET_INTERNET, &nc));
    Rx rh = {0};
    NetSock sh = udp_open(net, h, 0, &rh);
    udp_send_str(net, sh, ep(net_node_addr(net, pub), 4444), "anyone?");
    run_for(sim, TIMENS_S);
    T_EQ_I64(rh.nerr, 1);
    T_EQ_I64(rh.err, NET_ERR_UNREACHABLE);
    T_EQ_U64(rh.err_to.addr, net_node_addr(net, pub));
    T_EQ_I64(rh.err_to.port, 4444);
    net_fixture_free(sim, net);
}

static void test_nat_down_forgets_mappings(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 17, NULL);
    Server s;
    server_init(net, &s);
    NatConfig nc;
    nat_preset("full_cone", &nc);
    uint32_t nat = add_nat(net, NET_INTERNET, &nc);
    uint32_t h = add_lan_host(net, nat);
    Rx rh = {0};
    NetSock sh = udp_open(net, h, 5000, &rh);
    udp_send_str(net, sh, server_ep(net, &s, P1), "x");
    run_for(sim, TIMENS_S);
    T_EQ_I64(net_nat_mapping_count(net, nat), 1);
    net_node_set_up(net, nat, false);
    T_EQ_I64(net_nat_mapping_count(net, nat), 0);
    udp_send_str(net, s.s1, s.r1.from[0], "lost");
    run_for(sim, TIMENS_S);
    net_node_set_up(net, nat, true);
    udp_send_str(net, s.s1, s.r1.from[0], "no mapping any more");
    run_for(sim, TIMENS_S);
    T_EQ_I64(rh.n, 0);
    NetNodeCounters c;
    net_node_counters(net, nat, &c);
    T_EQ_U64(c.drops[NET_DROP_HOST_DOWN], 1);
    T_EQ_U64(c.drops[NET_DROP_NO_MAPPING], 1);
    net_fixture_free(sim, net);
}


/* ---- connection tracking (Linux presets) -------------------------------- */

/* Runs one probe sequence on kind1 (router 1) and kind2 (router 2) with the
 * presets' own lifetimes and checks the result tokens. */
static void probe_check(const char *kind1, const char *kind2, const char *steps, const char *want)
{
    NatProbeOpts o;
    natprobe_opts_default(&o);
    GError *err = NULL;
    char *got = natprobe_run(kind1, kind2, steps, &o, 500, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, want) != 0)
        printf("\n    %s x %s: %s -> \"%s\", want \"%s\"\n", kind1, kind2, steps, got, want);
    T_STR_EQ(got, want);
    g_free(got);
}

static void test_nat_conntrack_presets(void)
{
    static const char *const names[] = {"static_forward", "linux_masquerade", "linux_home_router",
                                        "linux_random_fully"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        NatConfig c;
        T_TRUE(nat_preset(names[i], &c));
        T_TRUE(c.enabled && c.conntrack && c.inbound_refresh);
        T_FALSE(c.hairpin);
        T_EQ_I64(c.udp_unreplied_ns, 30 * TIMENS_S);
        T_EQ_I64(c.udp_timeout_ns, 120 * TIMENS_S);
        T_EQ_I64(c.udp_assure_ns, 2 * TIMENS_S);
        T_EQ_I64(c.tcp_established_ns, 432000 * TIMENS_S);
        T_EQ_I64(c.forward, i == 0);
        T_EQ_I64(c.unsolicited_state, i != 2);
        T_EQ_I64(c.port_alloc, i == 3 ? NAT_PORT_RANDOM : NAT_PORT_PRESERVING);
    }
    /* The RFC 3489 presets keep the RFC model. */
    NatConfig c;
    T_TRUE(nat_preset("port_restricted_cone", &c));
    T_FALSE(c.conntrack);
    T_EQ_I64(c.udp_unreplied_ns, c.udp_timeout_ns);
}

/* One inside endpoint to three destinations, then who may answer. */
static void test_nat_conntrack_mapping_and_filtering(void)
{
    const char *steps = "A>X1 A>X2 A>Y1 X1>A X2>A Y1>A Y2>A";
    probe_check("linux_masquerade", "public", steps, "= = = A A A -");
    probe_check("linux_home_router", "public", steps, "= = = A A A -");
    probe_check("linux_random_fully", "public", steps, "r1 r2 r3 A A A -");
    probe_check("static_forward", "public", steps, "= = = A A A A");
    /* Replies only: another port or address of a peer is filtered. */
    probe_check("linux_masquerade", "public", "A>X1 X2>A Y1>A", "= - -");
    probe_check("static_forward", "public", "A>X1 X2>A Y1>A", "= A A");
}

/* An unsolicited packet the router accepts leaves an entry: the next flow
 * to that peer takes a random port, and later flows of the same endpoint
 * reuse it (nf_nat's source lookup). A router that drops it keeps nothing. */
static void test_nat_conntrack_unsolicited_state(void)
{
    const char *steps = "X1>A A>X1 A>X2 X1>A X2>A";
    probe_check("linux_masquerade", "public", steps, "- r1 r1 A A");
    probe_check("linux_home_router", "public", steps, "- = = A A");
    probe_check("static_forward", "public", steps, "A = = A A");
    /* The entry is refreshed by the peer's packets and expires 30 s after
     * the last one: then the port is the internal one again. */
    probe_check("linux_masquerade", "public", "X1>A wait:20 X1>A wait:20 A>X1", "- - r1");
    probe_check("linux_masquerade", "public", "X1>A wait:31 A>X1", "- =");
}

/* The project's NAT detection order (RFC 3489): test I, test II answered
 * from the other address and port, test III from the other port, test I to
 * the other address. Plain MASQUERADE takes test II's answer itself and
 * keeps state, so the last request leaves from another port ("symmetric");
 * a router that drops it does not. */
static void test_nat_conntrack_detection_sequence(void)
{
    const char *steps = "A>X1 Y2>A X2>A A>Y2";
    probe_check("linux_masquerade", "public", steps, "= - - r1");
    probe_check("linux_home_router", "public", steps, "= - - =");
    probe_check("linux_random_fully", "public", steps, "r1 - - r2");
    probe_check("static_forward", "public", steps, "= A A =");
    probe_check("port_restricted_cone", "public", steps, "= - - =");
    /* The mapping test sent to the other address's primary port instead
     * (RFC 5780 §4.3) is not poisoned: the entry holds the port only for
     * the endpoint that answered. */
    probe_check("linux_masquerade", "public", "A>X1 Y2>A X2>A A>Y1", "= - - =");
    /* The detection as the protocol now runs it (natdet.c): that mapping
     * test, then a state test to the endpoint that answered test II. Only
     * a router that kept state for the unsolicited answer moves it. */
    const char *state = "A>X1 Y2>A X2>A A>Y1 A>Y2";
    probe_check("linux_masquerade", "public", state, "= - - = r1");
    probe_check("linux_home_router", "public", state, "= - - = =");
    probe_check("linux_random_fully", "public", state, "r1 - - r2 r3");
    probe_check("static_forward", "public", state, "= A A = =");
    probe_check("port_restricted_cone", "public", state, "= - - = =");
    probe_check("restricted_cone", "public", state, "= - A = =");
}

/* A and B both use port 5000: the second to the same peer collides and
 * takes a random port; a flow to another peer shares port 5000. */
static void test_nat_conntrack_port_sharing_and_collision(void)
{
    const char *steps = "A>X1 B>X1 B>Y1 A>Y1 X1>A X1>B Y1>B Y1>A";
    probe_check("linux_masquerade", "public", steps, "= r1 r1 = A B B A");
    probe_check("linux_home_router", "public", steps, "= r1 r1 = A B B A");
    probe_check("linux_random_fully", "public", steps, "r1 r2 r3 r4 A B B A");
    probe_check("linux_masquerade", "public", "A>X1 B>Y1 X1>A Y1>B", "= = A B");
}

/* UDP: 30 s until assured, 120 s after; both directions refresh. */
static void test_nat_conntrack_udp_lifetimes(void)
{
    const char *k = "linux_masquerade";
    probe_check(k, "public", "A>X1 wait:29.5 X1>A", "= A");
    probe_check(k, "public", "A>X1 wait:30.5 X1>A", "= -");
    /* A reply alone keeps 30 s; a packet more than 2 s in assures. */
    probe_check(k, "public", "A>X1 X1>A wait:31 X1>A", "= A -");
    probe_check(k, "public", "A>X1 X1>A wait:2.5 A>X1 wait:119 X1>A", "= A = A");
    probe_check(k, "public", "A>X1 X1>A wait:2.5 A>X1 wait:121 X1>A", "= A = -");
    /* The first reply after 2 s is not enough: the packet that marks the
     * flow replied still gets the short lifetime. */
    probe_check(k, "public", "A>X1 wait:5 X1>A wait:31 X1>A", "= A -");
    /* Inbound packets refresh. */
    probe_check(k, "public", "A>X1 wait:20 X1>A wait:20 X1>A wait:20 X1>A", "= A A A");
}

/* Hole punching in the protocol's order (the callee C first, unless only
 * the caller A is behind plain MASQUERADE: natprobe.h) for every pair of
 * conntrack presets and a public host: what a Linux router does to the
 * first unsolicited PUNCH decides it. */
static void test_nat_conntrack_hole_punching(void)
{
    static const char *const kinds[] = {"linux_masquerade", "linux_home_router",
                                        "linux_random_fully", "static_forward", "public"};
    /* [caller][callee]: both heard each other. */
    static const bool ok[5][5] = {
        {false, true, false, true, true}, /* masquerade: sends first; two of them poison */
        {true, true, false, true, true},
        {false, false, false, true, true},
        {true, true, true, true, true},
        {true, true, true, true, true}, /* public: answers the source it hears */
    };
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            NatProbeOpts o;
            natprobe_opts_default(&o);
            char *got = natprobe_run(kinds[i], kinds[j], "A>X1 C>X1 punch", &o, 600, NULL);
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            bool both = g_str_has_suffix(got, "yy");
            if (both != ok[i][j]) printf("\n    punch %s x %s: %s\n", kinds[i], kinds[j], got);
            T_EQ_I64(both, ok[i][j]);
            g_free(got);
        }
    }
}

static void test_nat_conntrack_icmp_error_finds_its_flow(void)
{
    Sim *sim;
    Net *net = net_fixture(&sim, 18, NULL);
    NetNodeConfig pc = site_cfg(0, 0, TIMENS_MS);
    pc.icmp_unreachable = true;
    uint32_t pub = net_host_add(net, NET_INTERNET, &pc, NULL);
    NatConfig nc;
    nat_preset("linux_masquerade", &nc);
    uint32_t h = add_lan_host(net, add_nat(net, NET_INTERNET, &nc));
    Rx rh = {0};
    NetSock sh = udp_open(net, h, 5000, &rh);
    udp_send_str(net, sh, ep(net_node_addr(net, pub), 4444), "anyone?");
    run_for(sim, TIMENS_S);
    T_EQ_I64(rh.nerr, 1);
    T_EQ_I64(rh.err, NET_ERR_UNREACHABLE);
    T_EQ_I64(rh.err_to.port, 4444);
    net_fixture_free(sim, net);
}

T_SUITE_MAIN("nat", {"test_nat_behaviour_matrix", test_nat_behaviour_matrix},
             {"test_nat_presets", test_nat_presets},
             {"test_nat_hole_punching_matrix", test_nat_hole_punching_matrix},
             {"test_nat_mapping_expiry_and_refresh", test_nat_mapping_expiry_and_refresh},
             {"test_nat_hairpin", test_nat_hairpin}, {"test_nat_mapping_cap", test_nat_mapping_cap},
             {"test_nat_port_assignment", test_nat_port_assignment},
             {"test_nat_nested_cgn", test_nat_nested_cgn},
             {"test_nat_icmp_unreachable_through_nat", test_nat_icmp_unreachable_through_nat},
             {"test_nat_down_forgets_mappings", test_nat_down_forgets_mappings},
             {"test_nat_conntrack_presets", test_nat_conntrack_presets},
             {"test_nat_conntrack_mapping_and_filtering", test_nat_conntrack_mapping_and_filtering},
             {"test_nat_conntrack_unsolicited_state", test_nat_conntrack_unsolicited_state},
             {"test_nat_conntrack_detection_sequence", test_nat_conntrack_detection_sequence},
             {"test_nat_conntrack_port_sharing_and_collision",
              test_nat_conntrack_port_sharing_and_collision},
             {"test_nat_conntrack_udp_lifetimes", test_nat_conntrack_udp_lifetimes},
             {"test_nat_conntrack_hole_punching", test_nat_conntrack_hole_punching},
             {"test_nat_conntrack_icmp_error_finds_its_flow",
              test_nat_conntrack_icmp_error_finds_its_flow})
