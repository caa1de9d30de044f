/* Suite "envtrace": the tracing env (sim/world/envtrace.c) wrapped around
 * the fake env: the lines it writes for env calls and node events, metric
 * names, the optional version-2 op, and that a traced node behaves exactly
 * like an untraced one. */
#include "fakeenv.h"
#include "sim/world/envtrace.h"
#include "t_assert.h"

#include <stdio.h>
#include <stdlib.h>

/* A trace writing into memory. */
typedef struct TLog {
    char *buf;  /* the text written so far (after tlog_text) */
    size_t len; /* its length */
    FILE *f;    /* the stream */
} TLog;

static void tlog_open(TLog *l)
{
    *l = (TLog){0};
    l->f = open_memstream(&l->buf, &l->len);
}

/* Flushes and returns the text; line `n` (0-based) into out, or "". */
static const char *tlog_line(TLog *l, size_t n, char *out, size_t size)
{
    fflush(l->f);
    const char *p = l->buf;
    for (size_t i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    out[0] = '\0';
    if (!p || !*p) return out;
    const char *e = strchr(p, '\n');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k >= size) k = size - 1;
    memcpy(out, p, k);
    out[k] = '\0';
    return out;
}

static size_t tlog_lines(TLog *l)
{
    fflush(l->f);
    size_t n = 0;
    for (const char *p = l->buf; p && *p; p++) n += *p == '\n';
    return n;
}

static void tlog_close(TLog *l)
{
    fclose(l->f);
    free(l->buf);
}

static void test_envtrace_calls(void)
{
    FakeNet *net = fakenet_new(1);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    fakeenv_capture(h, true);
    Env inner = fakeenv_env(h);
    TLog log;
    tlog_open(&log);
    EnvTrace *t = envtrace_new(&inner, 42, log.f);
    const Env *e = envtrace_env(t);
    fakenet_run_until(net, 1500 * TIMENS_MS);

    EnvMetric m = env_metric_intern(e, "test.count", ENV_METRIC_COUNTER);
    EnvTimer tm = env_timer_start(e, 250 * TIMENS_MS, 7), tm0 = tm;
    EnvSock s;
    T_EQ_I64(env_udp_bind(e, 5000, &s), ENV_OK);
    uint8_t buf[20];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(0xa0 + i);
    T_EQ_I64(env_udp_send(e, s, env_addr(ENV_IP(80, 160, 91, 11), 33033), buf, sizeof buf), ENV_OK);
    T_EQ_I64(env_udp_send(e, s, env_addr(ENV_IP(1, 2, 3, 4), 9), buf, 3), ENV_OK);
    env_metric_add(e, m, 3);
    env_timer_cancel(e, &tm);

    char l[512], want[256];
    T_EQ_U64(tlog_lines(&log), 7);
    g_snprintf(want, sizeof want, "1.500000000 node 42 -> metric_intern(name=\"test.count\", kind=counter) = %u",
               (unsigned)m);
    T_STR_EQ(tlog_line(&log, 0, l, sizeof l), want);
    g_snprintf(want, sizeof want, "1.500000000 node 42 -> timer_start(delay=250ms, tag=7) = timer=%u:%u",
               tm0.slot, tm0.gen);
    T_STR_EQ(tlog_line(&log, 1, l, sizeof l), want);
    g_snprintf(want, sizeof want, "1.500000000 node 42 -> udp_bind(port=5000) = OK, sock=%u:%u",
               s.slot, s.gen);
    T_STR_EQ(tlog_line(&log, 2, l, sizeof l), want);
    g_snprintf(want, sizeof want,
               "1.500000000 node 42 -> udp_send(sock=%u:%u, to=80.160.91.11:33033, len=20 "
               "data=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf...) = OK",
               s.slot, s.gen);
    T_STR_EQ(tlog_line(&log, 3, l, sizeof l), want);
    T_TRUE(g_str_has_suffix(tlog_line(&log, 4, l, sizeof l), "to=1.2.3.4:9, len=3 data=a0a1a2) = OK"));
    g_snprintf(want, sizeof want, "1.500000000 node 42 -> metric_add(metric=%u(test.count), delta=3)",
               (unsigned)m);
    T_STR_EQ(tlog_line(&log, 5, l, sizeof l), want);
    g_snprintf(want, sizeof want, "1.500000000 node 42 -> timer_cancel(timer=%u:%u)", tm0.slot, tm0.gen);
    T_STR_EQ(tlog_line(&log, 6, l, sizeof l), want);

    /* The calls reached the fake env: the datagrams were sent, the metric counted. */
    T_EQ_U64(fakenet_record_count_to(net, FAKE_UDP, ENV_IP(80, 160, 91, 11), 33033), 1);
    T_EQ_I64(fakeenv_metric(h, "test.count"), 3);
    T_EQ_U64(fakeenv_live_timers(h), 0);

    env_udp_close(e, &s);
    envtrace_free(t);
    tlog_close(&log);
    T_EQ_U64(fakenet_free(net), 0);
}

/* Node-side events, statuses by name, durations, stores and logs. */
static void test_envtrace_events(void)
{
    FakeNet *net = fakenet_new(2);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    Env inner = fakeenv_env(h);
    TLog log;
    tlog_open(&log);
    EnvTrace *t = envtrace_new(&inner, 3, log.f);
    const Env *e = envtrace_env(t);
    fakenet_run_until(net, 2 * TIMENS_MIN + 1);
    const uint8_t data[] = {1, 2, 0xff};
    envtrace_on_start(t);
    envtrace_on_timer(t, (EnvTimer){5, 9}, 12);
    envtrace_on_datagram(t, (EnvSock){1, 2}, env_addr(ENV_IP(192, 168, 0, 7), 33033), data, 3);
    envtrace_on_tcp_accept(t, (EnvSock){4, 1}, (EnvConn){6, 2}, env_addr(ENV_IP(8, 8, 8, 8), 1234));
    envtrace_on_tcp_connected(t, (EnvConn){6, 3}, ENV_ERR_REFUSED);
    envtrace_on_tcp_data(t, (EnvConn){6, 2}, data, 0);
    envtrace_on_tcp_closed(t, (EnvConn){6, 2}, ENV_ERR_RESET);
    envtrace_on_stop(t, false);
    envtrace_on_stop(NULL, true); /* no trace: no-op */
    EnvTimer p = env_timer_start_periodic(e, 0, 90 * TIMENS_S, 1);
    env_timer_cancel(e, &p);
    T_EQ_I64(env_store_put(e, "k\"ey", data, 3), ENV_OK);
    uint8_t back[8];
    T_EQ_I64(env_store_get(e, "k\"ey", back, sizeof back), 3);
    env_log(e, ENV_LOG_INFO, "hello %d", 5);
    void *mem = env_mem_alloc(e, 100);
    env_mem_free(e, mem, 100);

    static const char *const want[] = {
        "120.000000001 node 3 <- start()",
        "120.000000001 node 3 <- on_timer(timer=5:9, tag=12)",
        "120.000000001 node 3 <- on_datagram(sock=1:2, from=192.168.0.7:33033, len=3 data=0102ff)",
        "120.000000001 node 3 <- on_tcp_accept(listener=4:1, conn=6:2, peer=8.8.8.8:1234)",
        "120.000000001 node 3 <- on_tcp_connected(conn=6:3, status=ERR_REFUSED)",
        "120.000000001 node 3 <- on_tcp_data(conn=6:2, len=0)",
        "120.000000001 node 3 <- on_tcp_closed(conn=6:2, status=ERR_RESET)",
        "120.000000001 node 3 <- stop(graceful=false)",
        NULL, /* timer_start_periodic: handle checked by prefix */
        NULL, /* timer_cancel */
        "120.000000001 node 3 -> store_put(key=\"k\\\"ey\", len=3 data=0102ff) = OK",
        "120.000000001 node 3 -> store_get(key=\"k\\\"ey\", cap=8, len=3 data=0102ff) = 3",
        "120.000000001 node 3 -> log(level=info, msg=\"hello 5\")",
        "120.000000001 node 3 -> mem_alloc(size=100)",
        "120.000000001 node 3 -> mem_free(size=100)",
    };
    char l[512];
    T_EQ_U64(tlog_lines(&log), G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        if (want[i]) T_STR_EQ(tlog_line(&log, i, l, sizeof l), want[i]);
    T_TRUE(g_str_has_prefix(tlog_line(&log, 8, l, sizeof l),
                            "120.000000001 node 3 -> timer_start_periodic(first=0s, period=1.5min, tag=1) = timer="));
    envtrace_free(t);
    tlog_close(&log);
    T_EQ_U64(fakenet_free(net), 0);
}

/* Metric names from a namer for ids interned elsewhere; unknown ids
 * plain; cpu_charged_ns of an inner env of version 1 answers 0; no
 * output stream: nothing written, calls still forwarded. */
static const char *test_namer(void *ctx, EnvMetric id)
{
    return id == *(const EnvMetric *)ctx ? "elsewhere.named" : NULL;
}

static void test_envtrace_names_version_silence(void)
{
    FakeNet *net = fakenet_new(3);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    Env fe = fakeenv_env(h);
    EnvOps v1 = *fe.ops; /* the fake env as a version-1 env without the optional op */
    v1.version = 1;
    v1.cpu_charged_ns = NULL;
    Env inner = {&v1, fe.ctx};
    EnvMetric named = env_metric_intern(&fe, "elsewhere.named", ENV_METRIC_COUNTER);
    EnvMetric anon = env_metric_intern(&fe, "elsewhere.anon", ENV_METRIC_COUNTER);
    TLog log;
    tlog_open(&log);
    EnvTrace *t = envtrace_new(&inner, 0, log.f);
    envtrace_set_namer(t, test_namer, &named);
    const Env *e = envtrace_env(t);
    EnvMetric m = env_metric_intern(e, "x.obs", ENV_METRIC_SAMPLE);
    env_metric_observe(e, m, 0.5);
    env_metric_add(e, named, 1);
    env_metric_add(e, anon, -2);
    env_charge_cpu(e, ENV_COST_AES256, 64);
    T_NEAR(env_cpu_charged_ns(e), 0, 0);
    char l[512], want[128];
    T_EQ_U64(tlog_lines(&log), 6);
    g_snprintf(want, sizeof want, "0.000000000 node 0 -> metric_observe(metric=%u(x.obs), value=0.5)",
               (unsigned)m);
    T_STR_EQ(tlog_line(&log, 1, l, sizeof l), want);
    g_snprintf(want, sizeof want, "0.000000000 node 0 -> metric_add(metric=%u(elsewhere.named), delta=1)",
               (unsigned)named);
    T_STR_EQ(tlog_line(&log, 2, l, sizeof l), want);
    g_snprintf(want, sizeof want, "0.000000000 node 0 -> metric_add(metric=%u, delta=-2)", (unsigned)anon);
    T_STR_EQ(tlog_line(&log, 3, l, sizeof l), want);
    T_STR_EQ(tlog_line(&log, 4, l, sizeof l), "0.000000000 node 0 -> charge_cpu(op=aes256, bytes=64)");
    T_STR_EQ(tlog_line(&log, 5, l, sizeof l), "0.000000000 node 0 -> cpu_charged_ns() = 0");
    T_EQ_U64(fakenet_sample_count(net, "x.obs"), 1);
    T_EQ_U64(fakeenv_cpu_calls(h, ENV_COST_AES256), 1);

    envtrace_set_out(t, NULL);
    env_charge_cpu(e, ENV_COST_AES256, 64);
    T_EQ_U64(tlog_lines(&log), 6);
    T_EQ_U64(fakeenv_cpu_calls(h, ENV_COST_AES256), 2);
    envtrace_free(t);
    tlog_close(&log);
    T_EQ_U64(fakenet_free(net), 0);
}

/* A client logging in on a traced env does exactly what it does on the
 * bare one: same packets, same metrics, same random draws. */
static void traced_login(uint64_t seed, bool traced, size_t *records, int64_t *ok, size_t *lines)
{
    FakeWorld *w = fakeworld_new(seed, NULL, true);
    unsigned c = fakeworld_client(w, ENV_IP(20, 0, 0, 1), NAT_OPEN);
    TLog log;
    tlog_open(&log);
    EnvTrace *t = NULL;
    if (traced) {
        Env inner = fakeenv_env(w->h[c]);
        t = envtrace_new(&inner, c, log.f);
        fakeworld_set_env(w, c, *envtrace_env(t));
    }
    fakeworld_start(w, c);
    fakenet_run_for(w->net, 60 * TIMENS_S);
    *records = fakenet_record_count(w->net);
    *ok = fakenet_metric(w->net, "login.success");
    *lines = tlog_lines(&log);
    T_EQ_U64(fakeworld_free(w), 0);
    envtrace_free(t);
    tlog_close(&log);
}

static void test_envtrace_transparent(void)
{
    size_t r0, r1, l0, l1;
    int64_t ok0, ok1;
    traced_login(77, false, &r0, &ok0, &l0);
    traced_login(77, true, &r1, &ok1, &l1);
    T_EQ_U64(r0, r1);
    T_EQ_I64(ok0, 1);
    T_EQ_I64(ok1, 1);
    T_EQ_U64(l0, 0);
    T_CMP_I64(l1, >, 10);
}

T_SUITE_MAIN("envtrace",
             {"test_envtrace_calls", test_envtrace_calls},
             {"test_envtrace_events", test_envtrace_events},
             {"test_envtrace_names_version_silence", test_envtrace_names_version_silence},
             {"test_envtrace_transparent", test_envtrace_transparent})
