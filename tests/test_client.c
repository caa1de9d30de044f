/* Suite "client": the client's login, keep-alive and failover state
 * machines, path by path, on a FakeWorld (fake env) with real supernodes,
 * login server and web server nodes. */
#include "faultenv.h"
#include "fakeenv.h"
#include "protocol/client.h"
#include "protocol/node.h"
#include "protocol/wire.h"

#include <stdio.h>
#include "t_assert.h"

#define CLIENT_IP ENV_IP(81, 10, 0, 1)

typedef struct Wait {
    FakeWorld *w;
    unsigned i;
    NodeState st;
} Wait;
static bool is_state(void *arg)
{
    Wait *x = arg;
    return x->w->node[x->i] && node_state(x->w->node[x->i]) == x->st;
}
/* Runs until node i reaches st or `limit` of virtual time passes. */
static bool run_to_state(FakeWorld *w, unsigned i, NodeState st, TimeNs limit)
{
    Wait x = {w, i, st};
    return fakenet_run_while_not(w->net, is_state, &x, fakenet_now(w->net) + limit);
}

static bool is_boot(const FakeWorld *w, EnvAddr a)
{
    for (unsigned i = 0; i < w->p.n_bootstrap; i++)
        if (env_addr_eq(w->p.bootstrap[i], a)) return true;
    return false;
}

static void test_client_first_login_success(void)
{
    FakeWorld *w = fakeworld_new(101, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    Node *n = w->node[c];
    T_STR_EQ(node_login_phase(n), "round_wait"); /* the first round starts at once */
    fakenet_run_for(w->net, 1);
    T_STR_EQ(node_login_phase(n), "probing");
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_STR_EQ(node_login_phase(n), "online");
    T_TRUE(is_boot(w, node_supernode_addr(n)));
    /* a6: a first login probes at least four bootstrap SNs over UDP on 33033. */
    size_t probed = 0;
    for (unsigned i = 0; i < w->p.n_bootstrap; i++)
        probed += fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[i].ip, 33033) > 0;
    T_CMP_I64(probed, >=, 4);
    size_t certlen;
    T_TRUE(node_cert(n, &certlen) != NULL && certlen > 300);
    T_EQ_I64(fakenet_metric(w->net, "login.success"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.success.open"), 1);
    T_EQ_I64(fakenet_metric(w->net, "loginserver.certified"), 1);
    T_EQ_U64(fakenet_sample_count(w->net, "login.time_s"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "login.time_s") * 1000, <, 2000);
    T_CMP_I64(fakenet_metric(w->net, "login.bytes.udp_probe"), >, 0);
    T_CMP_I64(fakenet_metric(w->net, "login.bytes.sn_connect"), >, 0);
    T_CMP_I64(fakenet_metric(w->net, "login.bytes.auth"), >, 500);
    T_CMP_I64(fakenet_metric(w->net, "login.packets.auth"), >=, 4);
    /* RSA really ran: a 1024-bit key generated, a signature verified. */
    T_EQ_U64(fakeenv_cpu_calls(w->h[c], ENV_COST_RSA_KEYGEN), 1);
    T_EQ_U64(fakeenv_cpu_bytes(w->h[c], ENV_COST_RSA_KEYGEN), 128);
    T_CMP_I64(fakeenv_cpu_calls(w->h[c], ENV_COST_RSA_VERIFY), >=, 2);
    T_CMP_I64(fakeenv_cpu_calls(w->h[w->login], ENV_COST_RSA_SIGN), >=, 2);
    /* The alternate node table: the other bootstrap SNs answer. */
    fakenet_run_for(w->net, 10 * TIMENS_S);
    T_EQ_U64(node_alt_count(n), w->p.n_bootstrap - 1);
    T_CMP_I64(fakenet_metric(w->net, "login.packets.alt_nodes"), >=, 2 * (w->p.n_bootstrap - 1));
    T_EQ_U64(fakenet_sample_count(w->net, "login.nodes_contacted"), 1);
    /* a20: the first probe was NAck'd, which told the client its address. */
    T_CMP_I64(fakenet_metric(w->net, "wire.nack_sent"), >=, 1);
    T_EQ_U64(node_public_addr(n).ip, CLIENT_IP);
    /* a46: "installed" on a first start, then "getlatestversion". */
    T_EQ_I64(fakenet_metric(w->net, "http.installed"), 1);
    T_EQ_I64(fakenet_metric(w->net, "http.getlatestversion"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_login_with_2048_bit_server_key(void)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 2048; /* a16: "1536 to 2048 bit RSA" */
    FakeWorld *w = fakeworld_new(125, &p, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_EQ_U64(fakeenv_cpu_bytes(w->h[w->login], ENV_COST_RSA_SIGN), 2 * 256); /* unwrap + sign */
    T_EQ_U64(fakeworld_free(w), 0);
}

/* With the key pool off, every login generates its own RSA-1024 pair; with
 * it on, the pair comes from the pool. Both charge one keygen to the
 * client and the login succeeds either way. */
static void test_client_user_key_pool_and_fresh_keys(void)
{
    for (int pool = 0; pool <= 1; pool++) {
        NodeParams p;
        node_params_default(&p);
        p.user_key_pool = (uint16_t)(pool ? 2 : 0);
        FakeWorld *w = fakeworld_new(126, &p, true);
        unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
        fakeworld_start(w, c);
        T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
        T_EQ_U64(fakeenv_cpu_bytes(w->h[c], ENV_COST_RSA_KEYGEN), 1024 / 8);
        size_t len;
        T_TRUE(node_cert(w->node[c], &len) != NULL);
        T_EQ_U64(fakeworld_free(w), 0);
    }
}

/* All UDP to the bootstrap SNs is lost (a10's "UDP lost"). */
static void drop_udp_to_boot(FakeWorld *w)
{
    for (unsigned i = 0; i < w->p.n_bootstrap; i++)
        fakenet_rule(w->net, FAKE_UDP_DROP, w->p.bootstrap[i].ip, 0, -1);
}

/* Refuses (or blackholes) TCP to port on every bootstrap SN, for count
 * matches each (< 0 forever). */
static void tcp_rule_boot(FakeWorld *w, FakeRuleKind k, uint16_t port, int count)
{
    for (unsigned i = 0; i < w->p.n_bootstrap; i++)
        fakenet_rule(w->net, k, w->p.bootstrap[i].ip, port, count);
}

/* The first TCP record (SYN) from the client to a bootstrap SN, from index
 * `from`; returns its destination port, 0 when none. */
static uint16_t first_tcp_port_to_boot(FakeWorld *w, size_t *from)
{
    for (size_t i = *from; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        if (r->proto == FAKE_TCP && r->len == 0 && r->from.ip == CLIENT_IP &&
            is_boot(w, env_addr(r->to.ip, 33033))) {
            *from = i + 1;
            return r->to.port;
        }
    }
    return 0;
}

static void test_client_udp_lost_tcp_own_port(void)
{
    FakeWorld *w = fakeworld_new(102, NULL, true);
    drop_udp_to_boot(w);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    /* a10: the probes go unanswered, ~5 s later TCP to the SN's own port. */
    double t = fakenet_sample_last(w->net, "login.time_s");
    T_CMP_I64(t * 1000, >=, 5000);
    T_CMP_I64(t * 1000, <, 6000);
    size_t k = 0;
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 33033);
    T_EQ_U64(fakenet_sample_last(w->net, "login.rounds"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_own_port_refused_then_443(void)
{
    FakeWorld *w = fakeworld_new(103, NULL, true);
    drop_udp_to_boot(w);
    tcp_rule_boot(w, FAKE_TCP_REFUSE, 33033, -1);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    size_t k = 0;
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 33033);
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 443);          /* a11: then 443 */
    T_EQ_U64(node_supernode_addr(w->node[c]).port, 33033); /* the SN's identity */
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_own_port_and_443_refused_then_80(void)
{
    FakeWorld *w = fakeworld_new(104, NULL, true);
    drop_udp_to_boot(w);
    tcp_rule_boot(w, FAKE_TCP_REFUSE, 33033, -1);
    tcp_rule_boot(w, FAKE_TCP_REFUSE, 443, -1);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    size_t k = 0;
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 33033);
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 443);
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 80); /* a11: then 80 */
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_each_tcp_timeout(void)
{
    /* Blackholed ports: each attempt ends at our tcp_timeout (5 s). */
    FakeWorld *w = fakeworld_new(105, NULL, true);
    drop_udp_to_boot(w);
    tcp_rule_boot(w, FAKE_TCP_BLACKHOLE, 33033, -1);
    tcp_rule_boot(w, FAKE_TCP_BLACKHOLE, 443, -1);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    double t = fakenet_sample_last(w->net, "login.time_s");
    T_CMP_I64(t * 1000, >=, 15000); /* 5 s probes + 5 s + 5 s, then port 80 */
    T_CMP_I64(t * 1000, <, 16000);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_all_bootstrap_refusing_fails_after_5_rounds(void)
{
    FakeWorld *w = fakeworld_new(106, NULL, true);
    drop_udp_to_boot(w);
    tcp_rule_boot(w, FAKE_TCP_REFUSE, 0, -1);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 200 * TIMENS_S));
    T_STR_EQ(node_login_phase(w->node[c]), "failed");
    /* a10: 4 rounds of (5 s wait, 2 SNs x 3 ports refused after one RTT of
     * 40 ms, 6 s wait) = 4 x 11.24 s; after the fifth round's probes (35
     * unanswered, more than fw_udp_probes) UDP counts as blocked and all
     * 7 SNs x 3 ports are tried: 5 + 0.84 + 6 s. 56.8 s in all. */
    T_EQ_I64(fakenet_now(w->net), 56800 * TIMENS_MS);
    T_EQ_I64(fakenet_metric(w->net, "login.udp_blocked"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.failure"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.failure.open"), 1);
    T_EQ_U64(fakenet_sample_last(w->net, "login.rounds"), 5);
    T_EQ_U64(fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[0].ip, 33033), 5);
    T_EQ_U64(fakeenv_live_timers(w->h[c]), 1); /* only the retry after the pause (a12) */
    T_EQ_I64(fakenet_metric(w->net, "login.give_ups"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_all_bootstrap_down_fails_at_expected_time(void)
{
    FakeWorld *w = fakeworld_new(107, NULL, true);
    for (unsigned i = 0; i < w->nboot; i++)
        fakeworld_crash(w, w->boot0 + i);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 400 * TIMENS_S));
    /* 4 rounds x (5 s + 2 SNs x 3 ports x 5 s timeouts + 6 s), then, UDP
     * counting as blocked (35 probes unanswered), 5 s + 7 SNs x 3 ports x
     * 5 s + 6 s: 164 + 116 = 280 s. */
    T_EQ_I64(fakenet_now(w->net), 280 * TIMENS_S);
    T_EQ_U64(fakenet_sample_last(w->net, "login.rounds"), 5);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_round_two_succeeds(void)
{
    /* The first round's TCP attempts are refused (2 SNs x 3 ports = 6);
     * the second round works: login at 5 + 6 x 0.04 + 6 + ~0.2 s. */
    FakeWorld *w = fakeworld_new(108, NULL, true);
    drop_udp_to_boot(w);
    fakenet_rule(w->net, FAKE_TCP_REFUSE, w->p.bootstrap[0].ip, 0, 3);
    fakenet_rule(w->net, FAKE_TCP_REFUSE, w->p.bootstrap[1].ip, 0, 3);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_EQ_U64(fakenet_sample_last(w->net, "login.rounds"), 2);
    double t = fakenet_sample_last(w->net, "login.time_s");
    T_CMP_I64(t * 1000, >=, 16240);
    T_CMP_I64(t * 1000, <, 22000);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_wrong_password_refused(void)
{
    FakeWorld *w = fakeworld_new(109, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    g_strlcpy(w->pass[c], "not-the-password", sizeof w->pass[c]);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 60 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "loginserver.refused"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.failure"), 1);
    size_t len;
    T_TRUE(node_cert(w->node[c], &len) == NULL);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_login_server_unreachable(void)
{
    FakeWorld *w = fakeworld_new(110, NULL, true);
    fakeworld_crash(w, w->login);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 60 * TIMENS_S));
    /* Three attempts (its port, then 443 and 80, a11), each cut by the
     * auth timeout (15 s), which fires before the SYN timeout (21 s). */
    T_CMP_I64(fakenet_now(w->net), >=, 45 * TIMENS_S);
    T_CMP_I64(fakenet_now(w->net), <, 46 * TIMENS_S);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_udp_blocked_logs_in_over_tcp(void)
{
    FakeWorld *w = fakeworld_new(111, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_UDP_BLOCKED);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_EQ_I64(fakenet_metric(w->net, "login.success.udp_blocked"), 1);
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(node_nat_detected(w->node[c]), NAT_UDP_BLOCKED);
    T_EQ_U64(node_alt_count(w->node[c]), 0); /* nobody answers over UDP */
    T_EQ_I64(fakenet_metric(w->net, "login.udp_phases_skipped"), 0); /* it did not know yet */
    /* The next session knows (install record): no probes, no probe wait,
     * TCP to the cache at once; the UDP-only alternate pings are skipped. */
    fakeworld_stop(w, c, true);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_CMP_I64(fakenet_sample_last(w->net, "login.time_s") * 1000, <, 1000);
    T_EQ_I64(fakenet_metric(w->net, "login.udp_phases_skipped"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Over TCP only, a full supernode's redirect (CONNECT_ACK with entries,
 * a22) is followed in the same round, as a probe's is: a client behind a
 * UDP-blocking firewall whose bootstraps are full logs in at the
 * supernode they name within its first round (5 s probe wait, then TCP). */
static void test_client_udp_blocked_follows_tcp_redirect(void)
{
    FakeWorld *w = fakeworld_new(136, NULL, true);
    NodeConfig dc = {.role = NODE_ROLE_SUPERNODE, .port = 41000};
    unsigned d = fakeworld_add(w, ENV_IP(90, 0, 0, 1), &dc, NAT_OPEN, 0);
    fakeworld_start(w, d);
    fakenet_run_for(w->net, 65 * TIMENS_S); /* the bootstraps hear of it, with room */
    for (unsigned i = 0; i < w->nboot; i++)
        node_sn_set_capacity(w->node[w->boot0 + i], 0);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_UDP_BLOCKED);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_TRUE(env_addr_eq(node_supernode_addr(w->node[c]), env_addr(ENV_IP(90, 0, 0, 1), 41000)));
    T_EQ_U64(fakenet_sample_last(w->net, "login.rounds"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "login.time_s") * 1000, <, 8000);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_tcp_80_443_only_logs_in(void)
{
    FakeWorld *w = fakeworld_new(112, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_TCP_ONLY);
    /* The login server stays on 33033: the client falls back to 443 for it
     * as it does for supernodes (a11), and the server listens there too. */
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    size_t k = 0;
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 33033);
    T_EQ_U64(first_tcp_port_to_boot(w, &k), 443);
    T_EQ_I64(fakenet_metric(w->net, "login.success.tcp_80_443_only"), 1);
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "nat.detect.true=tcp_80_443_only.detected=udp_blocked"), 1);
    T_EQ_I64(fakenet_metric(w->net, "nat.detect.correct"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_fault_third_probe_lost_and_connect_unreachable(void)
{
    /* "The 3rd UDP probe is lost" and "the first TCP connect fails
     * synchronously": login still succeeds. */
    FakeWorld *w = fakeworld_new(113, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    Env inner = fakeenv_env(w->h[c]);
    FaultEnv *fe = faultenv_new(&inner, w->h[c]);
    faultenv_inject(fe, FAULT_UDP_SEND, 3, FAULT_DROP, 0, 0, false);
    faultenv_inject(fe, FAULT_TCP_CONNECT, 2, FAULT_FAIL, ENV_ERR_UNREACH, 0, false);
    fakeworld_set_env(w, c, faultenv_env(fe));
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_EQ_U64(faultenv_applied(fe), 2);
    /* No probe, no NAck, no U3 for the third SN: only its alternate-table ping. */
    T_EQ_U64(fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[2].ip, 33033), 1);
    T_CMP_I64(fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[3].ip, 33033), >=, 3);
    T_EQ_U64(fakeworld_free(w), 0);
    faultenv_free(fe);
}

static void test_client_fault_delayed_probe_and_failed_store(void)
{
    /* Every probe delayed by 3 s, and the store refusing writes: login works
     * (after the delay), nothing persists. */
    FakeWorld *w = fakeworld_new(114, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    Env inner = fakeenv_env(w->h[c]);
    FaultEnv *fe = faultenv_new(&inner, w->h[c]);
    faultenv_inject(fe, FAULT_UDP_SEND, 1, FAULT_DELAY, 0, 3 * TIMENS_S, true);
    faultenv_inject(fe, FAULT_STORE_PUT, 1, FAULT_FAIL, -1, 0, true);
    fakeworld_set_env(w, c, faultenv_env(fe));
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_CMP_I64(fakenet_sample_last(w->net, "login.time_s") * 1000, >=, 3000);
    uint8_t b[8];
    T_EQ_I64(fakeenv_store_get(w->h[c], "hostcache", b, sizeof b), -1);
    T_EQ_U64(fakeworld_free(w), 0);
    faultenv_free(fe);
}

/* Time of the client's login, from its first start. */
static TimeNs login_and_settle(FakeWorld *w, unsigned c)
{
    fakeworld_start(w, c);
    CU_ASSERT_FATAL(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    TimeNs t = fakenet_now(w->net);
    fakenet_run_for(w->net, 10 * TIMENS_S); /* alternate table */
    return t;
}

static void test_client_keepalive_every_60s(void)
{
    FakeWorld *w = fakeworld_new(115, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    TimeNs t0 = login_and_settle(w, c);
    fakenet_run_until(w->net, t0 + 59 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "keepalive.sent"), 0);
    fakenet_run_until(w->net, t0 + 61 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "keepalive.sent"), 1);
    fakenet_run_until(w->net, t0 + 10 * TIMENS_MIN + TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "keepalive.sent"), 10); /* a24 */
    T_EQ_I64(fakenet_metric(w->net, "failover.count"), 0);  /* all answered */
    T_EQ_I64(node_state(w->node[c]), NODE_ST_ONLINE);
    /* a25: polls every 20 s, about a third of the alternates each time. */
    T_CMP_I64(fakenet_metric(w->net, "poll.sent"), >=, 29 * 2);
    T_EQ_I64(fakenet_metric(w->net, "poll.dropped_entries"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

static unsigned boot_index_of(FakeWorld *w, EnvAddr a)
{
    for (unsigned i = 0; i < w->nboot; i++)
        if (env_addr_eq(w->p.bootstrap[i], a)) return w->boot0 + i;
    return FW_MAX;
}

static void test_client_failover_on_sn_crash(void)
{
    FakeWorld *w = fakeworld_new(116, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    TimeNs t0 = login_and_settle(w, c);
    EnvAddr old = node_supernode_addr(w->node[c]);
    fakeworld_crash(w, boot_index_of(w, old)); /* silent: no FIN, no RST */
    /* Detected when keepalive_misses (3) keep-alives in a row go
     * unanswered: sent at t0 + 60, 120, 180 s, the third times out 20 s
     * later; then TCP to an alternate. */
    T_TRUE(run_to_state(w, c, NODE_ST_FAILOVER, 4 * TIMENS_MIN));
    T_EQ_I64(fakenet_now(w->net), t0 + 200 * TIMENS_S);
    T_STR_EQ(node_login_phase(w->node[c]), "failover");
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_STR_EQ(node_login_phase(w->node[c]), "online");
    EnvAddr now_sn = node_supernode_addr(w->node[c]);
    T_FALSE(env_addr_eq(now_sn, old));
    T_TRUE(is_boot(w, now_sn));
    T_EQ_I64(fakenet_metric(w->net, "failover.count"), 1);
    T_EQ_U64(fakenet_sample_count(w->net, "failover.time_s"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "failover.time_s") * 1000, <, 500);
    /* The dead SN left the alternate table. */
    for (size_t i = 0; i < node_alt_count(w->node[c]); i++)
        T_FALSE(env_addr_eq(node_alt_get(w->node[c], i), old));
    /* Keep-alives go on with the new SN. */
    int64_t ka = fakenet_metric(w->net, "keepalive.sent");
    fakenet_run_for(w->net, 61 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "keepalive.sent"), ka + 1);
    T_EQ_I64(node_state(w->node[c]), NODE_ST_ONLINE);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_failover_on_sn_close_is_immediate(void)
{
    FakeWorld *w = fakeworld_new(117, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    login_and_settle(w, c);
    EnvAddr old = node_supernode_addr(w->node[c]);
    TimeNs t1 = fakenet_now(w->net);
    fakeworld_stop(w, boot_index_of(w, old), true); /* graceful: FIN reaches the client */
    T_TRUE(run_to_state(w, c, NODE_ST_FAILOVER, 10 * TIMENS_S));
    T_EQ_I64(fakenet_now(w->net), t1 + 20 * TIMENS_MS);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 10 * TIMENS_S));
    T_FALSE(env_addr_eq(node_supernode_addr(w->node[c]), old));
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_failover_exhausted_relogin(void)
{
    /* Only two alternates and two failover targets: both dead too, so the
     * client falls back to a full login, which finds a live bootstrap SN. */
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.alt_targets = 2;
    p.failover_targets = 2;
    FakeWorld *w = fakeworld_new(118, &p, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    login_and_settle(w, c);
    T_EQ_U64(node_alt_count(w->node[c]), 2);
    EnvAddr a0 = node_alt_get(w->node[c], 0), a1 = node_alt_get(w->node[c], 1);
    fakeworld_crash(w, boot_index_of(w, a0));
    fakeworld_crash(w, boot_index_of(w, a1));
    fakeworld_stop(w, boot_index_of(w, node_supernode_addr(w->node[c])), true);
    T_TRUE(run_to_state(w, c, NODE_ST_LOGGING_IN, 2 * TIMENS_MIN));
    T_EQ_I64(fakenet_metric(w->net, "failover.relogin"), 1);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 2 * TIMENS_MIN));
    T_EQ_I64(fakenet_metric(w->net, "login.success"), 2);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The polls keep the main socket's NAT flow alive (client_poll): a Linux
 * router forgets a UDP flow 30 s after its last packet until it is assured.
 * A client whose alternate table is empty pings its supernode instead, and
 * with a poll period set above 30 s the polls still go out every 25 s: in
 * 10 idle minutes no gap of 30 s between UDP datagrams from its main
 * socket. */
static void test_client_polls_keep_the_udp_flow_within_30s(void)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.alt_targets = 0;             /* an empty alternate table */
    p.poll_ns = 60 * TIMENS_S;     /* slower than the flow lives */
    FakeWorld *w = fakeworld_new(120, &p, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    login_and_settle(w, c);
    T_EQ_U64(node_alt_count(w->node[c]), 0);
    fakenet_records_clear(w->net);
    TimeNs t0 = fakenet_now(w->net), last = t0, gap = 0;
    fakenet_run_for(w->net, 10 * TIMENS_MIN);
    uint16_t port = node_listen_port(w->node[c]);
    for (size_t i = 0; i < fakenet_record_count(w->net); i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        if (r->proto != FAKE_UDP || r->from.ip != CLIENT_IP || r->from.port != port) continue;
        gap = MAX(gap, r->t - last);
        last = r->t;
    }
    gap = MAX(gap, fakenet_now(w->net) - last);
    T_CMP_I64(gap, <=, 25 * TIMENS_S);
    T_CMP_I64(fakenet_metric(w->net, "poll.sent"), >=, 24); /* 600 s / 25 s */
    T_EQ_I64(node_state(w->node[c]), NODE_ST_ONLINE);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_polls_drop_dead_alternate(void)
{
    FakeWorld *w = fakeworld_new(119, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    login_and_settle(w, c);
    size_t before = node_alt_count(w->node[c]);
    EnvAddr victim = node_alt_get(w->node[c], 0);
    fakeworld_crash(w, boot_index_of(w, victim));
    fakenet_run_for(w->net, 10 * TIMENS_MIN);
    T_EQ_U64(node_alt_count(w->node[c]), before - 1);
    T_EQ_I64(fakenet_metric(w->net, "poll.dropped_entries"), 1);
    for (size_t i = 0; i < node_alt_count(w->node[c]); i++)
        T_FALSE(env_addr_eq(node_alt_get(w->node[c], i), victim));
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_hostcache_persists_offline_online(void)
{
    /* A dedicated SN outside the bootstrap list joins; the client learns it
     * at login, goes offline, all bootstrap SNs die, the client comes back
     * and logs in through the SN it remembered. */
    FakeWorld *w = fakeworld_new(120, NULL, true);
    NodeConfig dc = {.role = NODE_ROLE_SUPERNODE, .port = 41000};
    unsigned d = fakeworld_add(w, ENV_IP(90, 0, 0, 1), &dc, NAT_OPEN, 0);
    fakeworld_start(w, d);
    fakenet_run_for(w->net, 65 * TIMENS_S); /* peer links and two rounds of gossip: every
                                               bootstrap SN knows it, with room */
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    EnvAddr dsn = env_addr(ENV_IP(90, 0, 0, 1), 41000);
    login_and_settle(w, c);
    uint16_t port = node_listen_port(w->node[c]);
    HostCache *hc = (HostCache *)node_hostcache(w->node[c]);
    T_TRUE(hostcache_find(hc, dsn) != NULL);
    fakeworld_stop(w, c, true);
    for (unsigned i = 0; i < w->nboot; i++)
        fakeworld_crash(w, w->boot0 + i);
    fakeworld_start(w, c);
    T_EQ_U64(node_listen_port(w->node[c]), port); /* a9: chosen at install, kept */
    T_TRUE(hostcache_find((HostCache *)node_hostcache(w->node[c]), dsn) != NULL);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
    T_TRUE(env_addr_eq(node_supernode_addr(w->node[c]), dsn));
    /* a46: "installed" only once, "getlatestversion" at every start. */
    T_EQ_I64(fakenet_metric(w->net, "http.installed"), 1);
    T_EQ_I64(fakenet_metric(w->net, "http.getlatestversion"), 2);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Starts ordinary supernodes first..last-1 on 90.0.0.(1+i), port 41000+i. */
static void start_supernodes(FakeWorld *w, uint8_t first, uint8_t last)
{
    for (uint8_t i = first; i < last; i++) {
        NodeConfig dc = {.role = NODE_ROLE_SUPERNODE, .port = (uint16_t)(41000 + i)};
        fakeworld_start(w, fakeworld_add(w, ENV_IP(90, 0, 0, (uint8_t)(1 + i)), &dc, NAT_OPEN, 0));
    }
}

/* The host-cache sweep (a25): at login and every hour the client asks its
 * supernode for entries and merges them; the supernode answers with the
 * supernodes it has heard alive (its gossip), never the bootstraps. */
static void test_client_sweep_fills_cache(void)
{
    FakeWorld *w = fakeworld_new(125, NULL, true);
    start_supernodes(w, 0, 12);
    fakenet_run_for(w->net, 3 * TIMENS_MIN); /* gossip: each knows the others */
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_FULL_CONE);
    login_and_settle(w, c);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 1);
    const HostCache *hc = node_hostcache(w->node[c]);
    unsigned ordinary = 0;
    for (uint16_t i = 0; i < hc->n; i++)
        ordinary += !(hc->e[i].flags & HOSTCACHE_F_BOOTSTRAP);
    T_EQ_U64(ordinary, 12); /* its own supernode and the 11 others */
    T_EQ_U64(hc->n, 12 + w->nboot);
    T_CMP_I64(fakenet_metric(w->net, "hostcache.added"), >=, 11);
    /* One fill sweep 10 minutes on (the cache is under 100 entries); it
     * brings nothing new, which ends them; then the hourly one. */
    fakenet_run_for(w->net, 11 * TIMENS_MIN);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 2);
    fakenet_run_for(w->net, 45 * TIMENS_MIN);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 2);
    fakenet_run_for(w->net, 5 * TIMENS_MIN);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 3);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A client that logged in while the tier was small (a cold start) does not
 * wait an hour for the supernodes promoted since: fill sweeps at 10, 20
 * and 40 minutes go on while each grew the cache. */
static void test_client_fill_sweeps_follow_a_growing_tier(void)
{
    FakeWorld *w = fakeworld_new(126, NULL, true);
    start_supernodes(w, 0, 3);
    fakenet_run_for(w->net, 3 * TIMENS_MIN);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_FULL_CONE);
    login_and_settle(w, c);
    const HostCache *hc = node_hostcache(w->node[c]);
    T_EQ_U64(hc->n, 3 + w->nboot);
    start_supernodes(w, 3, 12); /* the tier grows after the login */
    fakenet_run_for(w->net, 11 * TIMENS_MIN);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 2);
    T_EQ_U64(hc->n, 12 + w->nboot); /* not an hour later: now */
    fakenet_run_for(w->net, 10 * TIMENS_MIN); /* the 10-minute one grew the cache: again */
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 3);
    fakenet_run_for(w->net, 30 * TIMENS_MIN);
    T_EQ_I64(fakenet_metric(w->net, "hostcache.sweeps"), 3);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_port_random_above_1024(void)
{
    FakeWorld *w = fakeworld_new(121, NULL, true);
    unsigned a = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    unsigned b = fakeworld_client(w, CLIENT_IP + 1, NAT_OPEN);
    fakeworld_start(w, a);
    fakeworld_start(w, b);
    uint16_t pa = node_listen_port(w->node[a]), pb = node_listen_port(w->node[b]);
    T_CMP_I64(pa, >, 1024);
    T_CMP_I64(pb, >, 1024);
    T_NE_U64(pa, pb);
    /* Listeners on 80 and 443 where the host allows (a9). */
    T_EQ_U64(fakeenv_live_socks(w->h[a]), 4); /* UDP + TCP on the port, TCP 80, 443 */
    fakeenv_set_privileged(w->h[b], false);
    fakeworld_stop(w, b, true);
    fakeworld_start(w, b);
    T_EQ_U64(fakeenv_live_socks(w->h[b]), 2);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_idle_memory_under_2k(void)
{
    FakeWorld *w = fakeworld_new(122, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_FULL_CONE);
    login_and_settle(w, c);
    fakenet_run_for(w->net, 5 * TIMENS_MIN); /* idle: keep-alives and polls */
    size_t hc = hostcache_mem_bytes(node_hostcache(w->node[c]));
    size_t state = fakeenv_mem_live(w->h[c]) - hc;
    printf("\n    idle logged-in client: %zu bytes protocol state + %zu bytes host cache\n", state,
           hc);
    T_CMP_I64(state, <=, 2048);
    T_CMP_I64(hc, <=, 200 * 16);
    T_EQ_U64(fakenet_sample_count(w->net, "memory.client_state_bytes"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_malformed_datagrams_dropped(void)
{
    FakeWorld *w = fakeworld_new(123, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    login_and_settle(w, c);
    Node *n = w->node[c];
    uint16_t port = node_listen_port(n);
    EnvAddr from = w->p.bootstrap[0];
    TimeNs t = fakenet_now(w->net);
    Crypto *cr = crypto_new(NULL);
    Env env = fakeenv_env(w->h[c]);
    unsigned sent = 0;
    /* Every UDP message type, sealed correctly but truncated by one byte
     * and more: decrypts, then fails decoding. */
    for (uint8_t type = 1; type < WIRE_UDP_TYPE_END; type++) {
        uint8_t body[64] = {WIRE_VERSION, type, 1,  2,  3,  4,  5, 6, 7, 8, 9,
                            10,           11,   12, 13, 14, 15, 16};
        for (size_t len = 2; len < 4; len++) {
            uint8_t pkt[128];
            size_t pl = wire_udp_seal(cr, &env, 1, from.ip, CLIENT_IP, body, len, pkt, sizeof pkt);
            fakenet_inject_udp(w->net, t + (++sent) * TIMENS_MS, w->h[c], port, from, pkt, pl);
        }
    }
    /* Garbage, a short frame, a bad NAck, a bad STUN message. */
    uint8_t junk[40] = {1, 2, 0x02, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    fakenet_inject_udp(w->net, t + 100 * TIMENS_MS, w->h[c], port, from, junk, sizeof junk);
    fakenet_inject_udp(w->net, t + 101 * TIMENS_MS, w->h[c], port, from, junk, 3);
    uint8_t nack[11] = {0, 1, 0x77, 9, 0, 1, 2, 3, 4, 0, 5};
    fakenet_inject_udp(w->net, t + 102 * TIMENS_MS, w->h[c], port, from, nack, sizeof nack);
    uint8_t stun[24] = {0x01, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42};
    /* an attribute running past the end */
    stun[20] = 0x00;
    stun[21] = 0x20;
    stun[22] = 0x00;
    stun[23] = 0x08;
    fakenet_inject_udp(w->net, t + 103 * TIMENS_MS, w->h[c], port, from, stun, sizeof stun);
    fakenet_run_for(w->net, TIMENS_S);
    T_CMP_I64(fakeenv_metric(w->h[c], "wire.malformed.udp"), >=, sent + 3);
    T_EQ_I64(fakeenv_metric(w->h[c], "stun.malformed"), 1);
    T_EQ_I64(node_state(n), NODE_ST_ONLINE);
    crypto_free(cr);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_client_corrupt_tcp_frame_aborts_connection(void)
{
    /* The client's next TCP frame (a keep-alive) is corrupted, or cut in
     * half: the SN counts a malformed frame and aborts (or the client's
     * keep-alive times out); either way the client fails over and is back. */
    for (int action = FAULT_CORRUPT; action <= FAULT_TRUNCATE; action++) {
        FakeWorld *w = fakeworld_new(124, NULL, true);
        unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
        Env inner = fakeenv_env(w->h[c]);
        FaultEnv *fe = faultenv_new(&inner, w->h[c]);
        fakeworld_set_env(w, c, faultenv_env(fe));
        login_and_settle(w, c);
        unsigned s = boot_index_of(w, node_supernode_addr(w->node[c]));
        faultenv_inject(fe, FAULT_TCP_SEND, 1, (FaultAction)action, 0, 0, false);
        fakenet_run_for(w->net, 202 * TIMENS_S); /* three keep-alives + the timeout */
        if (action == FAULT_CORRUPT) {
            T_EQ_I64(fakeenv_metric(w->h[s], "wire.malformed.tcp"), 1);
            T_EQ_I64(fakeenv_metric(w->h[s], "supernode.clients"), 0);
        }
        T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 60 * TIMENS_S));
        T_EQ_I64(fakenet_metric(w->net, "failover.count"), 1);
        T_EQ_U64(fakeworld_free(w), 0);
        faultenv_free(fe);
    }
}

/* Runs a first login for 30 s and returns a digest of every byte sent. */
static uint32_t login_trace_digest(uint64_t seed, size_t *count)
{
    FakeWorld *w = fakeworld_new(seed, NULL, true);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_PORT_RESTRICTED);
    fakeworld_start(w, c);
    fakenet_run_for(w->net, 30 * TIMENS_S);
    uint32_t crc = 0;
    *count = fakenet_record_count(w->net);
    for (size_t i = 0; i < *count; i++) {
        const FakeRecord *r = fakenet_record_get(w->net, i);
        uint8_t hdr[20];
        wire_put_u32(hdr, (uint32_t)(r->t / TIMENS_US));
        wire_put_u32(hdr + 4, r->from.ip);
        wire_put_u16(hdr + 8, r->from.port);
        wire_put_u32(hdr + 10, r->to.ip);
        wire_put_u16(hdr + 14, r->to.port);
        wire_put_u32(hdr + 16, r->len);
        crc = crypto_crc32(crc, hdr, sizeof hdr);
        crc = crypto_crc32(crc, r->data, r->len);
    }
    T_EQ_U64(fakeworld_free(w), 0);
    return crc;
}

static void test_client_same_seed_same_bytes(void)
{
    /* DESIGN.md "Determinism": RSA keys, paddings, IVs, ports and nonces all
     * come from the env's streams, so every byte on the wire repeats. */
    size_t n1, n2, n3;
    uint32_t a = login_trace_digest(777, &n1), b = login_trace_digest(777, &n2);
    uint32_t c = login_trace_digest(778, &n3);
    T_EQ_U64(n1, n2);
    T_EQ_U64(a, b);
    T_NE_U64(a, c);
}

/* ---- The client feature alone over the plumbing (node_shared_new_with):
 * no supernode, login server, web server or other feature registered. */

/* Nobody answers: the probe rounds go out to the bootstrap supernodes,
 * each round's probe wait ends in TCP attempts, and after the last round
 * the login fails. */
static void test_client_alone_rounds_then_failure(void)
{
    static const NodeFeature *const only[] = {&client_feature};
    FakeWorld *w = fakeworld_new_with(131, NULL, only, G_N_ELEMENTS(only));
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    Node *n = w->node[c];
    T_EQ_U64(node_state(n), NODE_ST_LOGGING_IN);
    T_STR_EQ(node_login_phase(n), "round_wait");
    fakenet_run_for(w->net, 1);
    T_STR_EQ(node_login_phase(n), "probing");
    size_t probed = 0;
    for (unsigned i = 0; i < w->p.n_bootstrap; i++)
        probed += fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[i].ip, 33033) > 0;
    T_CMP_I64(probed, >=, 4); /* a6: a first login probes at least four bootstrap SNs */
    T_EQ_U64(fakenet_record_count_to(w->net, FAKE_TCP, 0, 0), 0);
    fakenet_run_for(w->net, w->p.probe_wait_ns - 2);
    T_STR_EQ(node_login_phase(n), "probing"); /* silence: the whole probe wait */
    fakenet_run_for(w->net, 2);
    T_STR_EQ(node_login_phase(n), "sn_tcp");
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 10 * TIMENS_MIN));
    T_STR_EQ(node_login_phase(n), "failed");
    T_EQ_I64(fakenet_metric(w->net, "login.attempts"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.failure"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.success"), 0);
    T_EQ_U64(fakenet_sample_count(w->net, "login.rounds"), 1);
    T_EQ_I64(fakenet_sample_last(w->net, "login.rounds"), w->p.login_rounds);
    T_EQ_U64(node_alt_count(n), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* a12: after the last round fails, the client pauses login_pause_ns and
 * logs in again, for as long as it is up, counting each give-up; with a
 * pause of 0 it stays logged out. */
static void test_client_alone_retries_after_pause(void)
{
    static const NodeFeature *const only[] = {&client_feature};
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.login_pause_ns = 2 * TIMENS_MIN;
    FakeWorld *w = fakeworld_new_with(133, &p, only, G_N_ELEMENTS(only));
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    Node *n = w->node[c];
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 10 * TIMENS_MIN));
    T_EQ_I64(fakenet_metric(w->net, "login.give_ups"), 1);
    fakenet_run_for(w->net, p.login_pause_ns - 1);
    T_STR_EQ(node_login_phase(n), "failed");
    T_EQ_I64(fakenet_metric(w->net, "login.attempts"), 1);
    fakenet_run_for(w->net, 2);
    T_EQ_U64(node_state(n), NODE_ST_LOGGING_IN);
    T_EQ_I64(fakenet_metric(w->net, "login.attempts"), 2);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 10 * TIMENS_MIN));
    T_EQ_I64(fakenet_metric(w->net, "login.give_ups"), 2);
    T_EQ_I64(fakenet_metric(w->net, "login.failure"), 2);
    T_EQ_U64(fakeworld_free(w), 0);

    p.login_pause_ns = 0; /* never again */
    w = fakeworld_new_with(134, &p, only, G_N_ELEMENTS(only));
    c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    T_TRUE(run_to_state(w, c, NODE_ST_FAILED, 10 * TIMENS_MIN));
    fakenet_run_for(w->net, TIMENS_H);
    T_STR_EQ(node_login_phase(w->node[c]), "failed");
    T_EQ_I64(fakenet_metric(w->net, "login.attempts"), 1);
    T_EQ_I64(fakenet_metric(w->net, "login.give_ups"), 0);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* Every supernode answers "full": the overlay is there, short of room.
 * Such rounds neither count towards a10's five nor run a12's give-up
 * clock: the client keeps trying past 8 min, its wait doubling up to
 * login_full_wait_max_ns, and logs in within one such wait once a
 * supernode has room. */
static void test_client_full_overlay_keeps_trying(void)
{
    FakeWorld *w = fakeworld_new(135, NULL, true);
    for (unsigned i = 0; i < w->nboot; i++)
        node_sn_set_capacity(w->node[w->boot0 + i], 0);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    fakenet_run_for(w->net, 20 * TIMENS_MIN);
    Node *n = w->node[c];
    T_EQ_U64(node_state(n), NODE_ST_LOGGING_IN);
    T_EQ_I64(fakenet_metric(w->net, "login.give_ups"), 0);
    T_EQ_I64(fakenet_metric(w->net, "login.attempts"), 1);
    /* Rounds of 5 s probe wait plus 12, 24, 48, 96 s, then 120 s each:
     * 14 rounds in 20 min, where 6 s waits would make about 109. */
    size_t probes = fakenet_record_count_to(w->net, FAKE_UDP, w->p.bootstrap[0].ip, 33033);
    T_CMP_I64(probes, >=, 10);
    T_CMP_I64(probes, <=, 2 * 16); /* each round: the probe and its repeat (a22 U3) */
    node_sn_set_capacity(w->node[w->boot0], 10);
    TimeNs t0 = fakenet_now(w->net);
    T_TRUE(run_to_state(w, c, NODE_ST_ONLINE, 3 * TIMENS_MIN));
    T_CMP_I64(fakenet_now(w->net) - t0, <=, w->p.login_full_wait_max_ns + 30 * TIMENS_S);
    T_EQ_I64(fakenet_metric(w->net, "login.failure"), 0);
    T_CMP_I64(fakenet_sample_last(w->net, "login.eventual_time_s"), >=, 20 * 60);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* A scripted supernode at the first bootstrap address accepts the probe
 * (PROBE_ACK, a22 U4): the client goes to TCP at once, to that supernode
 * first, without waiting out the probe wait. */
static void test_client_alone_probe_ack_starts_tcp(void)
{
    static const NodeFeature *const only[] = {&client_feature};
    FakeWorld *w = fakeworld_new_with(132, NULL, only, G_N_ELEMENTS(only));
    EnvAddr sn = w->p.bootstrap[0];
    FakeEnv *ph = fakenet_host_add(w->net, sn.ip);
    fakeenv_capture(ph, true);
    Env pe = fakeenv_env(ph);
    EnvSock ps;
    T_EQ_I64(env_udp_bind(&pe, sn.port, &ps), ENV_OK);
    Crypto *cr = crypto_new(NULL);
    unsigned c = fakeworld_client(w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(w, c);
    Node *n = w->node[c];
    fakenet_run_for(w->net, 200 * TIMENS_MS);
    T_STR_EQ(node_login_phase(n), "probing");
    /* The first probe is keyed with source address 0 (the client does not
     * know its public address yet). */
    const FakeInbox *x = NULL;
    for (size_t k = 0; k < fakeenv_inbox_count(ph) && !x; k++)
        if (fakeenv_inbox_get(ph, k)->kind == 1) x = fakeenv_inbox_get(ph, k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    uint8_t body[ENV_UDP_MAX];
    uint16_t fid;
    long blen = wire_udp_open(cr, &pe, x->data, x->len, 0, sn.ip, body, sizeof body, &fid);
    WireMsg m;
    T_TRUE(blen > 0 && wire_decode(body, (size_t)blen, &m));
    T_EQ_U64(m.type, WIRE_PROBE);
    WireMsg ack = {.type = WIRE_PROBE_ACK,
                   .u.probe_ack = {.verdict = WIRE_ACCEPT, .tcp_port = sn.port}};
    uint8_t ab[128], pkt[256];
    size_t alen = wire_encode(&ack, ab, sizeof ab);
    size_t plen = wire_udp_seal(cr, &pe, fid, sn.ip, x->from.ip, ab, alen, pkt, sizeof pkt);
    T_EQ_I64(env_udp_send(&pe, ps, x->from, pkt, plen), ENV_OK);
    TimeNs sent = fakenet_now(w->net);
    fakenet_run_for(w->net, 200 * TIMENS_MS);
    T_STR_EQ(node_login_phase(n), "sn_tcp"); /* long before the probe wait is over */
    T_CMP_I64(fakenet_now(w->net) - sent, <, w->p.probe_wait_ns);
    T_CMP_I64(fakenet_record_count_to(w->net, FAKE_TCP, sn.ip, sn.port), >=, 1);
    T_CMP_I64(fakenet_metric(w->net, "login.packets.udp_probe"), >=, 2); /* probe out, ack in */
    crypto_free(cr);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("client", {"test_client_same_seed_same_bytes", test_client_same_seed_same_bytes},
             {"test_client_alone_rounds_then_failure", test_client_alone_rounds_then_failure},
             {"test_client_alone_probe_ack_starts_tcp", test_client_alone_probe_ack_starts_tcp},
             {"test_client_alone_retries_after_pause", test_client_alone_retries_after_pause},
             {"test_client_full_overlay_keeps_trying", test_client_full_overlay_keeps_trying},
             {"test_client_first_login_success", test_client_first_login_success},
             {"test_client_login_with_2048_bit_server_key",
              test_client_login_with_2048_bit_server_key},
             {"test_client_udp_lost_tcp_own_port", test_client_udp_lost_tcp_own_port},
             {"test_client_own_port_refused_then_443", test_client_own_port_refused_then_443},
             {"test_client_own_port_and_443_refused_then_80",
              test_client_own_port_and_443_refused_then_80},
             {"test_client_each_tcp_timeout", test_client_each_tcp_timeout},
             {"test_client_all_bootstrap_refusing_fails_after_5_rounds",
              test_client_all_bootstrap_refusing_fails_after_5_rounds},
             {"test_client_all_bootstrap_down_fails_at_expected_time",
              test_client_all_bootstrap_down_fails_at_expected_time},
             {"test_client_round_two_succeeds", test_client_round_two_succeeds},
             {"test_client_wrong_password_refused", test_client_wrong_password_refused},
             {"test_client_login_server_unreachable", test_client_login_server_unreachable},
             {"test_client_udp_blocked_logs_in_over_tcp", test_client_udp_blocked_logs_in_over_tcp},
             {"test_client_udp_blocked_follows_tcp_redirect",
              test_client_udp_blocked_follows_tcp_redirect},
             {"test_client_tcp_80_443_only_logs_in", test_client_tcp_80_443_only_logs_in},
             {"test_client_user_key_pool_and_fresh_keys", test_client_user_key_pool_and_fresh_keys},
             {"test_client_fault_third_probe_lost_and_connect_unreachable",
              test_client_fault_third_probe_lost_and_connect_unreachable},
             {"test_client_fault_delayed_probe_and_failed_store",
              test_client_fault_delayed_probe_and_failed_store},
             {"test_client_keepalive_every_60s", test_client_keepalive_every_60s},
             {"test_client_failover_on_sn_crash", test_client_failover_on_sn_crash},
             {"test_client_failover_on_sn_close_is_immediate",
              test_client_failover_on_sn_close_is_immediate},
             {"test_client_failover_exhausted_relogin", test_client_failover_exhausted_relogin},
             {"test_client_polls_drop_dead_alternate", test_client_polls_drop_dead_alternate},
             {"test_client_polls_keep_the_udp_flow_within_30s",
              test_client_polls_keep_the_udp_flow_within_30s},
             {"test_client_hostcache_persists_offline_online",
              test_client_hostcache_persists_offline_online},
             {"test_client_sweep_fills_cache", test_client_sweep_fills_cache},
             {"test_client_fill_sweeps_follow_a_growing_tier",
              test_client_fill_sweeps_follow_a_growing_tier},
             {"test_client_port_random_above_1024", test_client_port_random_above_1024},
             {"test_client_idle_memory_under_2k", test_client_idle_memory_under_2k},
             {"test_client_malformed_datagrams_dropped", test_client_malformed_datagrams_dropped},
             {"test_client_corrupt_tcp_frame_aborts_connection",
              test_client_corrupt_tcp_frame_aborts_connection})
