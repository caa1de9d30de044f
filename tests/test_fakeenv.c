/* Suite "fakeenv": the test env itself keeps env.h's contract (periodic
 * timers, harmless stale cancels, TCP refusal and timeouts, NAT filtering),
 * since every protocol suite relies on it. */
#include "fakeenv.h"
#include "t_assert.h"

static void test_fakeenv_timers_periodic_and_cancel(void)
{
    FakeNet *net = fakenet_new(1);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(1, 1, 1, 1));
    fakeenv_capture(h, true);
    Env e = fakeenv_env(h);
    EnvTimer a = env_timer_start(&e, TIMENS_S, 1);
    EnvTimer b = env_timer_start(&e, TIMENS_S, 2);
    EnvTimer p = env_timer_start_periodic(&e, 0, 10 * TIMENS_S, 3);
    T_EQ_U64(fakeenv_live_timers(h), 3);
    env_timer_cancel(&e, &b);
    T_FALSE(env_timer_is_set(b));
    EnvTimer stale = a;
    fakenet_run_for(net, 2 * TIMENS_S);
    env_timer_cancel(&e, &stale); /* fired already: harmless */
    T_EQ_U64(fakeenv_live_timers(h), 1);
    fakenet_run_for(net, 25 * TIMENS_S);
    env_timer_cancel(&e, &p);
    T_EQ_U64(fakeenv_live_timers(h), 0);
    T_EQ_U64(fakenet_free(net), 0);
}

static void test_fakeenv_tcp_refused_and_timeout(void)
{
    FakeNet *net = fakenet_new(2);
    FakeEnv *a = fakenet_host_add(net, ENV_IP(1, 1, 1, 1));
    FakeEnv *b = fakenet_host_add(net, ENV_IP(2, 2, 2, 2));
    fakeenv_capture(a, true);
    fakeenv_capture(b, true);
    Env ea = fakeenv_env(a), eb = fakeenv_env(b);
    EnvSock l;
    T_EQ_I64(env_tcp_listen(&eb, 80, &l), ENV_OK);
    T_EQ_I64(env_tcp_listen(&eb, 80, &l), ENV_ERR_ADDRINUSE);
    fakeenv_set_privileged(b, false);
    EnvSock x;
    T_EQ_I64(env_udp_bind(&eb, 53, &x), ENV_ERR_ACCESS);
    EnvConn c1, c2, c3;
    env_tcp_connect(&ea, env_addr(ENV_IP(2, 2, 2, 2), 80), &c1); /* accepted */
    env_tcp_connect(&ea, env_addr(ENV_IP(2, 2, 2, 2), 81), &c2); /* no listener: RST */
    env_tcp_connect(&ea, env_addr(ENV_IP(3, 3, 3, 3), 80), &c3); /* nobody: timeout */
    fakenet_run_for(net, 30 * TIMENS_S);
    int st[3] = {99, 99, 99};
    for (size_t i = 0; i < fakeenv_inbox_count(a); i++) {
        const FakeInbox *m = fakeenv_inbox_get(a, i);
        if (m->kind != 3) continue;
        if (m->slot == c1.slot && m->gen == c1.gen) st[0] = m->status;
        if (m->slot == c2.slot && m->gen == c2.gen) st[1] = m->status;
        if (m->slot == c3.slot && m->gen == c3.gen) st[2] = m->status;
    }
    T_EQ_I64(st[0], ENV_OK);
    T_EQ_I64(st[1], ENV_ERR_REFUSED);
    T_EQ_I64(st[2], ENV_ERR_TIMEOUT);
    T_EQ_U64(fakenet_free(net), 0);
}

/* Sends one datagram from inside to `out`, then one back from `back`;
 * returns whether the answer arrived. */
static bool nat_passes(NatType t, bool same_ip, bool same_port)
{
    FakeNet *net = fakenet_new(3);
    FakeEnv *in = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    fakeenv_set_nat(in, t, ENV_IP(81, 0, 0, 1));
    FakeEnv *s1 = fakenet_host_add(net, ENV_IP(2, 2, 2, 2));
    FakeEnv *s2 = fakenet_host_add(net, ENV_IP(3, 3, 3, 3));
    fakeenv_capture(in, true);
    fakeenv_capture(s1, true);
    Env ei = fakeenv_env(in), e1 = fakeenv_env(s1), e2 = fakeenv_env(s2);
    EnvSock si, a1, a2, b1;
    env_udp_bind(&ei, 5000, &si);
    env_udp_bind(&e1, 3478, &a1);
    env_udp_bind(&e1, 3479, &a2);
    env_udp_bind(&e2, 3478, &b1);
    uint8_t x = 1;
    env_udp_send(&ei, si, env_addr(ENV_IP(2, 2, 2, 2), 3478), &x, 1);
    fakenet_run_for(net, TIMENS_S);
    const FakeInbox *got = fakeenv_inbox_get(s1, 0);
    bool reached = got != NULL;
    if (reached) {
        EnvSock s = same_ip ? (same_port ? a1 : a2) : b1;
        env_udp_send(same_ip ? &e1 : &e2, s, got->from, &x, 1);
        fakenet_run_for(net, TIMENS_S);
    }
    bool back = fakeenv_inbox_count(in) == 1;
    fakenet_free(net);
    return reached && back;
}

static void test_fakeenv_nat_filtering(void)
{
    T_TRUE(nat_passes(NAT_OPEN, false, false));
    T_TRUE(nat_passes(NAT_FULL_CONE, false, false));
    T_TRUE(nat_passes(NAT_RESTRICTED, true, false));
    T_FALSE(nat_passes(NAT_RESTRICTED, false, false));
    T_TRUE(nat_passes(NAT_PORT_RESTRICTED, true, true));
    T_FALSE(nat_passes(NAT_PORT_RESTRICTED, true, false));
    T_TRUE(nat_passes(NAT_SYMMETRIC, true, true));
    T_FALSE(nat_passes(NAT_SYMMETRIC, true, false));
    T_FALSE(nat_passes(NAT_SYMMETRIC_FIREWALL, true, false));
    T_TRUE(nat_passes(NAT_SYMMETRIC_FIREWALL, true, true));
    T_FALSE(nat_passes(NAT_UDP_BLOCKED, true, true));
}

T_SUITE_MAIN("fakeenv",
             {"test_fakeenv_timers_periodic_and_cancel", test_fakeenv_timers_periodic_and_cancel},
             {"test_fakeenv_tcp_refused_and_timeout", test_fakeenv_tcp_refused_and_timeout},
             {"test_fakeenv_nat_filtering", test_fakeenv_nat_filtering})
