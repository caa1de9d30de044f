/* Suite "presence": buddy lists from the login server and presence
 * through the supernodes, through the fake env: a buddy
 * logging in is seen online by the other within seconds, a graceful
 * logout at once, a crash after the supernode's keep-alive sweep; the
 * list is kept in the client's store. */
#include "fakeenv.h"
#include "protocol/node.h"
#include "t_assert.h"

typedef struct Seen {
    FakeWorld *w;     /* world */
    unsigned who;     /* observer */
    const char *user; /* buddy */
    bool online;      /* state awaited */
} Seen;

static bool seen(void *arg)
{
    Seen *x = arg;
    Node *n = x->w->node[x->who];
    return n && node_buddy_online(n, x->user) == x->online;
}

/* Virtual seconds until who sees user in the given state (limit s: -1). */
static double wait_seen(FakeWorld *w, unsigned who, const char *user, bool online, double limit)
{
    Seen x = {w, who, user, online};
    TimeNs t0 = fakenet_now(w->net);
    if (!fakenet_run_while_not(w->net, seen, &x, t0 + timens_from_s(limit))) return -1;
    return timens_to_s(fakenet_now(w->net) - t0);
}

static FakeWorld *buddies_world(uint64_t seed, unsigned *a, unsigned *b)
{
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.promotion_enabled = false;
    FakeWorld *w = fakeworld_new(seed, &p, true);
    *a = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    *b = fakeworld_client(w, ENV_IP(10, 0, 0, 2), NAT_PORT_RESTRICTED);
    const char *la[] = {w->user[*b]}, *lb[] = {w->user[*a]};
    node_loginsrv_buddies_set(w->node[w->login], w->user[*a], la, 1);
    node_loginsrv_buddies_set(w->node[w->login], w->user[*b], lb, 1);
    return w;
}

static void test_presence_login_and_logout_seen(void)
{
    unsigned a, b;
    FakeWorld *w = buddies_world(601, &a, &b);
    fakeworld_start(w, a);
    fakenet_run_for(w->net, 20 * TIMENS_S);
    T_EQ_U64(node_buddy_count(w->node[a]), 1);
    T_FALSE(node_buddy_online(w->node[a], w->user[b]));
    fakeworld_start(w, b);
    double t = wait_seen(w, a, w->user[b], true, 30);
    T_CMP_I64(t * 1000, >, 0);
    T_CMP_I64(t * 1000, <, 15000); /* login + lookup + announcement */
    T_TRUE(node_buddy_online(w->node[b], w->user[a])); /* b found a by search */
    T_EQ_U64(fakenet_sample_count(w->net, "presence.staleness_s"), 1);
    T_CMP_I64(fakenet_sample_last(w->net, "presence.staleness_s") * 1000, <, 15000);
    fakenet_run_for(w->net, 5 * TIMENS_MIN);
    fakeworld_stop(w, b, true); /* logout: the SN sees the FIN */
    t = wait_seen(w, a, w->user[b], false, 10);
    T_CMP_I64(t * 1000, >=, 0);
    T_CMP_I64(t * 1000, <, 1000);
    T_EQ_U64(fakenet_sample_count(w->net, "presence.staleness_s"), 2);
    /* The list was kept in b's store. */
    uint8_t blob[64];
    T_CMP_I64(fakeenv_store_get(w->h[b], "buddies", blob, sizeof blob), >, 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_presence_crash_detected_by_keepalive(void)
{
    unsigned a, b;
    FakeWorld *w = buddies_world(602, &a, &b);
    fakeworld_start(w, a);
    fakenet_run_for(w->net, 20 * TIMENS_S);
    fakeworld_start(w, b);
    T_CMP_I64(wait_seen(w, a, w->user[b], true, 30) * 1000, >, 0);
    fakenet_run_for(w->net, 3 * TIMENS_MIN);
    fakeworld_crash(w, b); /* no FIN: keep-alives stop */
    double t = wait_seen(w, a, w->user[b], false, 600);
    T_CMP_I64(t, >, 60);   /* at least the keep-alive silence */
    T_CMP_I64(t, <=, 260); /* 2 x 60 s + 20 s, plus one sweep period and one keep-alive */
    double st = fakenet_sample_last(w->net, "presence.staleness_s");
    T_CMP_I64(st, >, 60);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("presence", {"test_presence_login_and_logout_seen", test_presence_login_and_logout_seen},
             {"test_presence_crash_detected_by_keepalive", test_presence_crash_detected_by_keepalive})
