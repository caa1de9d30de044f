/* Suite "hostcache": capacity, replacement, ordering, bootstrap fill,
 * persistence through the env store (and corrupt stores), entry budget. */
#include "faultenv.h"
#include "fakeenv.h"
#include "protocol/hostcache.h"
#include "t_assert.h"

typedef struct Fx {
    FakeNet *net;
    FakeEnv *h;
    Env e;
} Fx;
static void fx_init(Fx *f)
{
    f->net = fakenet_new(3);
    f->h = fakenet_host_add(f->net, ENV_IP(10, 0, 0, 9));
    f->e = fakeenv_env(f->h);
}
static void fx_fini(Fx *f)
{
    T_EQ_U64(fakenet_free(f->net), 0);
}

static EnvAddr A(unsigned i)
{
    return env_addr(ENV_IP(20, 0, (i >> 8) & 255, i & 255), (uint16_t)(1000 + i));
}

static void test_hostcache_entry_budget_and_memory(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, HOSTCACHE_MAX);
    T_CMP_I64(sizeof(HostCacheEntry), <=, 16);
    T_EQ_U64(hostcache_mem_bytes(&hc), HOSTCACHE_MAX * sizeof(HostCacheEntry));
    T_EQ_U64(fakeenv_mem_live(f.h), hostcache_mem_bytes(&hc)); /* counted through env */
    T_CMP_I64(fakeenv_mem_live(f.h), <=, 200 * 16);
    hostcache_fini(&hc, &f.e);
    T_EQ_U64(fakeenv_mem_live(f.h), 0);
    fx_fini(&f);
}

static void test_hostcache_capacity_and_replacement(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, HOSTCACHE_MAX);
    for (unsigned i = 0; i < 300; i++)
        hostcache_add(&hc, A(i), (TimeNs)i * TIMENS_S, 0);
    T_EQ_U64(hc.n, HOSTCACHE_MAX);
    /* Unproven entries are replaced oldest first: the newest 200 remain. */
    T_TRUE(hostcache_find(&hc, A(299)) != NULL);
    T_TRUE(hostcache_find(&hc, A(99)) == NULL);
    T_TRUE(hostcache_find(&hc, A(100)) != NULL);
    /* Proven entries are kept against newcomers. */
    for (unsigned i = 100; i < 300; i++)
        hostcache_entry_touch(&hc, A(i), 400 * TIMENS_S, true);
    T_TRUE(hostcache_add(&hc, A(500), 500 * TIMENS_S, 0) == NULL);
    hostcache_entry_touch(&hc, A(150), 500 * TIMENS_S, false);
    hostcache_entry_touch(&hc, A(150), 500 * TIMENS_S, false);
    T_TRUE(hostcache_add(&hc, A(501), 500 * TIMENS_S, 0) != NULL); /* took 150's place */
    T_TRUE(hostcache_find(&hc, A(150)) == NULL);
    hostcache_remove(&hc, A(501));
    T_EQ_U64(hc.n, HOSTCACHE_MAX - 1);
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

static void test_hostcache_best_order_flags_and_skip(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, 16);
    for (unsigned i = 0; i < 5; i++)
        hostcache_add(&hc, A(i), TIMENS_S, i == 4 ? HOSTCACHE_F_BOOTSTRAP : 0);
    hostcache_entry_touch(&hc, A(2), 5 * TIMENS_S, true);
    hostcache_entry_touch(&hc, A(3), 4 * TIMENS_S, true);
    hostcache_entry_touch(&hc, A(0), 4 * TIMENS_S, false);
    EnvAddr out[8];
    T_EQ_U64(hostcache_best(&hc, out, 8, 0, NULL, 0), 5);
    T_TRUE(env_addr_eq(out[0], A(2))); /* score 1, fresher */
    T_TRUE(env_addr_eq(out[1], A(3)));
    T_TRUE(env_addr_eq(out[3], A(0))); /* score -1 last of the ordinary entries */
    T_TRUE(env_addr_eq(out[4], A(4))); /* the bootstrap after every ordinary entry (a2, a6) */
    hostcache_entry_load(&hc, A(1), 90); /* equal scores: the lower known load first */
    hostcache_entry_touch(&hc, A(0), 6 * TIMENS_S, true); /* answers again: score 0 */
    hostcache_entry_load(&hc, A(0), 10);
    T_EQ_U64(hostcache_best(&hc, out, 8, 0, NULL, 0), 5);
    T_TRUE(env_addr_eq(out[2], A(0)) && env_addr_eq(out[3], A(1)));
    T_EQ_U64(hostcache_best(&hc, out, 8, HOSTCACHE_F_BOOTSTRAP, NULL, 0), 1);
    T_TRUE(env_addr_eq(out[0], A(4)));
    EnvAddr skip[1] = {A(2)};
    T_EQ_U64(hostcache_best(&hc, out, 2, 0, skip, 1), 2);
    T_TRUE(env_addr_eq(out[0], A(3)));
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

/* Failures remove an ordinary entry at HOSTCACHE_SCORE_DEAD, never a
 * bootstrap one; second-hand news (merge) only moves last-seen forward. */
static void test_hostcache_dead_evicted_and_merge(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, 4);
    hostcache_add(&hc, A(1), TIMENS_S, 0);
    hostcache_add(&hc, A(2), TIMENS_S, HOSTCACHE_F_BOOTSTRAP);
    for (int i = 0; i < 2; i++) {
        T_FALSE(hostcache_entry_touch(&hc, A(1), TIMENS_S, false));
        T_FALSE(hostcache_entry_touch(&hc, A(2), TIMENS_S, false));
    }
    T_TRUE(hostcache_entry_touch(&hc, A(1), TIMENS_S, false)); /* third failure: gone */
    T_TRUE(hostcache_find(&hc, A(1)) == NULL);
    for (int i = 0; i < 10; i++) T_FALSE(hostcache_entry_touch(&hc, A(2), TIMENS_S, false));
    T_TRUE(hostcache_find(&hc, A(2)) != NULL); /* the bootstraps stay (a6) */
    HostCacheOutcome out;
    HostCacheEntry *x = hostcache_merge(&hc, A(3), 100, 40, &out);
    T_TRUE(x != NULL && out == HOSTCACHE_ADDED && x->last_seen_s == 100 && x->load == 40);
    x = hostcache_merge(&hc, A(3), 50, 90, &out); /* older news: ignored */
    T_TRUE(out == HOSTCACHE_KEPT && x->last_seen_s == 100 && x->load == 40);
    x = hostcache_merge(&hc, A(3), 200, 70, &out);
    T_TRUE(x->last_seen_s == 200 && x->load == 70);
    hostcache_merge(&hc, A(4), 10, 0, NULL);
    hostcache_merge(&hc, A(5), 10, 0, NULL); /* now full */
    T_EQ_U64(hc.n, 4);
    (void)hostcache_merge(&hc, A(6), 300, 0, &out);
    T_TRUE(out == HOSTCACHE_REPLACED);
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

static bool even_port(void *ctx, EnvAddr a)
{
    (void)ctx;
    return a.port % 2 == 0;
}

static void test_hostcache_count_live(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, 16);
    for (unsigned i = 0; i < 10; i++)
        hostcache_add(&hc, A(i), 0, 0);
    T_EQ_U64(hostcache_count_live(&hc, even_port, NULL), 5);
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

static void test_hostcache_bootstrap_seven_on_33033(void)
{
    Fx f;
    fx_init(&f);
    NodeParams p;
    node_params_default(&p);
    T_EQ_U64(p.n_bootstrap, 7); /* a6 */
    HostCache hc;
    hostcache_init(&hc, &f.e, HOSTCACHE_MAX);
    hostcache_add_bootstrap(&hc, p.bootstrap, p.n_bootstrap, 0);
    T_EQ_U64(hc.n, 7);
    for (unsigned i = 0; i < hc.n; i++) {
        T_EQ_U64(hc.e[i].port, 33033);
        T_TRUE(hc.e[i].flags & HOSTCACHE_F_BOOTSTRAP);
    }
    T_EQ_U64(hc.e[0].ip, ENV_IP(66, 235, 180, 9));
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

static void test_hostcache_persist_roundtrip(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc, back;
    hostcache_init(&hc, &f.e, HOSTCACHE_MAX);
    for (unsigned i = 0; i < 200; i++)
        hostcache_add(&hc, A(i), (TimeNs)i * TIMENS_S, i % 3);
    hostcache_entry_touch(&hc, A(7), 9 * TIMENS_S, true);
    T_EQ_I64(hostcache_save(&hc, &f.e), ENV_OK);
    hostcache_init(&back, &f.e, HOSTCACHE_MAX);
    T_TRUE(hostcache_load(&back, &f.e));
    T_EQ_U64(back.n, 200);
    unsigned same = 0; /* every persisted field (the load is not kept: it is news, not history) */
    for (unsigned i = 0; i < 200; i++)
        same += back.e[i].ip == hc.e[i].ip && back.e[i].port == hc.e[i].port &&
                back.e[i].score == hc.e[i].score && back.e[i].flags == hc.e[i].flags &&
                back.e[i].last_seen_s == hc.e[i].last_seen_s &&
                back.e[i].load == HOSTCACHE_LOAD_UNKNOWN;
    T_EQ_U64(same, 200);
    hostcache_fini(&hc, &f.e);
    hostcache_fini(&back, &f.e);
    fx_fini(&f);
}

static void test_hostcache_corrupt_or_missing_store(void)
{
    Fx f;
    fx_init(&f);
    HostCache hc;
    hostcache_init(&hc, &f.e, HOSTCACHE_MAX);
    T_FALSE(hostcache_load(&hc, &f.e)); /* nothing stored */
    uint8_t junk[7] = {1, 0, 5, 1, 2, 3, 4};
    fakeenv_store_put(f.h, HOSTCACHE_STORE_KEY, junk, sizeof junk); /* count says 5, has less */
    T_FALSE(hostcache_load(&hc, &f.e));
    T_EQ_U64(hc.n, 0);
    for (unsigned i = 0; i < 10; i++)
        hostcache_add(&hc, A(i), 0, 0);
    hostcache_save(&hc, &f.e);
    /* A store that corrupts the blob on read (fault env). */
    FaultEnv *fe = faultenv_new(&f.e, f.h);
    Env we = faultenv_env(fe);
    faultenv_inject(fe, FAULT_STORE_GET, 1, FAULT_CORRUPT, 0, 0, false);
    HostCache b;
    hostcache_init(&b, &we, HOSTCACHE_MAX);
    bool ok = hostcache_load(&b, &we);
    /* Either rejected, or loaded with one entry's bytes changed; never a crash. */
    T_TRUE(!ok || b.n == 10);
    faultenv_inject(fe, FAULT_STORE_GET, 1, FAULT_FAIL, 0, 0, false);
    T_FALSE(hostcache_load(&b, &we));
    T_EQ_U64(b.n, 0);
    hostcache_fini(&b, &we);
    faultenv_free(fe);
    hostcache_fini(&hc, &f.e);
    fx_fini(&f);
}

T_SUITE_MAIN("hostcache",
             {"test_hostcache_entry_budget_and_memory", test_hostcache_entry_budget_and_memory},
             {"test_hostcache_capacity_and_replacement", test_hostcache_capacity_and_replacement},
             {"test_hostcache_best_order_flags_and_skip", test_hostcache_best_order_flags_and_skip},
             {"test_hostcache_dead_evicted_and_merge", test_hostcache_dead_evicted_and_merge},
             {"test_hostcache_bootstrap_seven_on_33033", test_hostcache_bootstrap_seven_on_33033},
             {"test_hostcache_persist_roundtrip", test_hostcache_persist_roundtrip},
             {"test_hostcache_count_live", test_hostcache_count_live},
             {"test_hostcache_corrupt_or_missing_store", test_hostcache_corrupt_or_missing_store})
