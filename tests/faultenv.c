/* faultenv: see faultenv.h. */
#include "faultenv.h"

#include <string.h>

#define FAULT_MAX 16

typedef struct Fault {
    FaultKind kind;     /* which calls */
    unsigned at;        /* call number (of kind) it applies to */
    FaultAction action; /* what to do */
    int status;         /* returned status for FAULT_FAIL */
    TimeNs delay;       /* FAULT_DELAY */
    bool persist;       /* also every later call */
    bool used;          /* applied (one-shot faults retire) */
} Fault;

struct FaultEnv {
    Env inner;                        /* wrapped env */
    FakeEnv *fake;                    /* for delays, may be NULL */
    unsigned calls[FAULT_KIND_COUNT]; /* calls per kind */
    Fault faults[FAULT_MAX];          /* injected faults */
    unsigned nfaults;                 /* used entries */
    unsigned applied;                 /* faults applied */
};

static const EnvOps fault_ops;

FaultEnv *faultenv_new(const Env *inner, FakeEnv *fake)
{
    FaultEnv *f = g_new0(FaultEnv, 1);
    f->inner = *inner;
    f->fake = fake;
    return f;
}
void faultenv_free(FaultEnv *f)
{
    g_free(f);
}
Env faultenv_env(FaultEnv *f)
{
    return (Env){&fault_ops, f};
}
unsigned faultenv_calls(const FaultEnv *f, FaultKind kind)
{
    return f->calls[kind];
}
unsigned faultenv_applied(const FaultEnv *f)
{
    return f->applied;
}

void faultenv_inject(FaultEnv *f, FaultKind kind, unsigned nth, FaultAction action, int status,
                     TimeNs delay, bool persist)
{
    CHECK(f->nfaults < FAULT_MAX && nth >= 1, "fault table full or nth = 0");
    f->faults[f->nfaults++] =
        (Fault){kind, f->calls[kind] + nth, action, status, delay, persist, false};
}

/* Counts a call of kind and returns the fault that applies, or NULL. */
static const Fault *fault_hit(FaultEnv *f, FaultKind kind)
{
    unsigned n = ++f->calls[kind];
    for (unsigned i = 0; i < f->nfaults; i++) {
        Fault *x = &f->faults[i];
        if (x->kind != kind || x->used) continue;
        if (n == x->at || (x->persist && n > x->at)) {
            if (!x->persist) x->used = true;
            f->applied++;
            return x;
        }
    }
    return NULL;
}

#define IN(f) (&((FaultEnv *)(f))->inner)

static TimeNs w_now(void *c)
{
    return env_now(IN(c));
}
static EnvTimer w_timer_start(void *c, TimeNs d, uint32_t tag)
{
    return env_timer_start(IN(c), d, tag);
}
static EnvTimer w_timer_start_periodic(void *c, TimeNs a, TimeNs p, uint32_t tag)
{
    return env_timer_start_periodic(IN(c), a, p, tag);
}
static void w_timer_cancel(void *c, EnvTimer t)
{
    env_timer_cancel(IN(c), &t);
}

static int w_udp_bind(void *c, uint16_t port, EnvSock *out)
{
    const Fault *x = fault_hit(c, FAULT_UDP_BIND);
    if (x) return x->status;
    return env_udp_bind(IN(c), port, out);
}
static int w_udp_send(void *c, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len)
{
    FaultEnv *f = c;
    const Fault *x = fault_hit(f, FAULT_UDP_SEND);
    if (x && x->action == FAULT_FAIL) return x->status;
    if (x && x->action == FAULT_DROP) return ENV_OK;
    if (x && (x->action == FAULT_CORRUPT || x->action == FAULT_TRUNCATE)) {
        uint8_t copy[ENV_UDP_MAX];
        memcpy(copy, buf, len);
        if (x->action == FAULT_CORRUPT) copy[len / 2] ^= 0xFF;
        return env_udp_send(IN(c), s, to, copy, x->action == FAULT_TRUNCATE ? len / 2 : len);
    }
    if (x && x->action == FAULT_DELAY) {
        CHECK(f->fake != NULL, "delay faults need a FakeEnv");
        fakeenv_udp_send_later(f->fake, x->delay, s, to, buf, len);
        return ENV_OK;
    }
    return env_udp_send(IN(c), s, to, buf, len);
}
static void w_udp_close(void *c, EnvSock s)
{
    env_udp_close(IN(c), &s);
}
static EnvAddr w_sock_local(void *c, EnvSock s)
{
    return env_sock_local(IN(c), s);
}
static int w_tcp_listen(void *c, uint16_t port, EnvSock *out)
{
    const Fault *x = fault_hit(c, FAULT_TCP_LISTEN);
    if (x) return x->status;
    return env_tcp_listen(IN(c), port, out);
}
static void w_tcp_unlisten(void *c, EnvSock s)
{
    env_tcp_unlisten(IN(c), &s);
}
static int w_tcp_connect(void *c, EnvAddr to, EnvConn *out)
{
    const Fault *x = fault_hit(c, FAULT_TCP_CONNECT);
    if (x) return x->status;
    return env_tcp_connect(IN(c), to, out);
}
static int w_tcp_send(void *c, EnvConn conn, const uint8_t *buf, size_t len)
{
    const Fault *x = fault_hit(c, FAULT_TCP_SEND);
    if (x && x->action == FAULT_FAIL) return x->status;
    if (x && (x->action == FAULT_CORRUPT || x->action == FAULT_TRUNCATE)) {
        uint8_t *copy = g_memdup2(buf, len);
        if (x->action == FAULT_CORRUPT)
            copy[len > 2 ? 2 : 0] ^= 0xFF; /* a frame's first body byte */
        int r = env_tcp_send(IN(c), conn, copy, x->action == FAULT_TRUNCATE ? len / 2 : len);
        g_free(copy);
        return r;
    }
    if (x) return ENV_OK;
    return env_tcp_send(IN(c), conn, buf, len);
}
static void w_tcp_close(void *c, EnvConn conn)
{
    env_tcp_close(IN(c), &conn);
}
static void w_tcp_abort(void *c, EnvConn conn)
{
    env_tcp_abort(IN(c), &conn);
}
static uint64_t w_random(void *c)
{
    return env_random_u64(IN(c));
}
static void w_charge(void *c, EnvCost op, size_t bytes)
{
    env_charge_cpu(IN(c), op, bytes);
}
static void *w_alloc(void *c, size_t size)
{
    return env_mem_alloc(IN(c), size);
}
static void w_free(void *c, void *p, size_t size)
{
    env_mem_free(IN(c), p, size);
}
static long w_store_get(void *c, const char *key, uint8_t *buf, size_t cap)
{
    const Fault *x = fault_hit(c, FAULT_STORE_GET);
    if (x && x->action == FAULT_FAIL) return -1;
    long len = env_store_get(IN(c), key, buf, cap);
    if (x && x->action == FAULT_CORRUPT && len > 0 && (size_t)len <= cap) buf[len / 2] ^= 0xFF;
    return len;
}
static int w_store_put(void *c, const char *key, const uint8_t *buf, size_t len)
{
    const Fault *x = fault_hit(c, FAULT_STORE_PUT);
    if (x && x->action == FAULT_FAIL) return x->status;
    if (x) return ENV_OK;
    return env_store_put(IN(c), key, buf, len);
}
static EnvMetric w_intern(void *c, const char *name, EnvMetricKind kind)
{
    return env_metric_intern(IN(c), name, kind);
}
static void w_add(void *c, EnvMetric id, int64_t d)
{
    env_metric_add(IN(c), id, d);
}
static void w_observe(void *c, EnvMetric id, double v)
{
    env_metric_observe(IN(c), id, v);
}
static void w_log(void *c, EnvLogLevel level, const char *msg)
{
    IN(c)->ops->log(IN(c)->ctx, level, msg);
}

static double w_cpu_charged(void *c)
{
    const Env *in = IN(c);
    return env_cpu_charged_ns(in);
}
/* Host metadata and call reports pass through (no faults: not I/O). */
static int w_host_nat_label(void *c)
{
    return env_host_nat_label(IN(c));
}
static void w_search_report(void *c, const EnvSearchReport *r)
{
    env_search_report(IN(c), r);
}

static void w_call_report(void *c, const EnvCallReport *r)
{
    env_call_report(IN(c), r);
}

static const EnvOps fault_ops = {
    .version = ENV_VERSION,
    .now = w_now,
    .timer_start = w_timer_start,
    .timer_start_periodic = w_timer_start_periodic,
    .timer_cancel = w_timer_cancel,
    .udp_bind = w_udp_bind,
    .udp_send = w_udp_send,
    .udp_close = w_udp_close,
    .sock_local = w_sock_local,
    .tcp_listen = w_tcp_listen,
    .tcp_unlisten = w_tcp_unlisten,
    .tcp_connect = w_tcp_connect,
    .tcp_send = w_tcp_send,
    .tcp_close = w_tcp_close,
    .tcp_abort = w_tcp_abort,
    .random_u64 = w_random,
    .charge_cpu = w_charge,
    .mem_alloc = w_alloc,
    .mem_free = w_free,
    .store_get = w_store_get,
    .store_put = w_store_put,
    .metric_intern = w_intern,
    .metric_add = w_add,
    .metric_observe = w_observe,
    .log = w_log,
    .cpu_charged_ns = w_cpu_charged,
    .host_nat_label = w_host_nat_label,
    .call_report = w_call_report,
    .search_report = w_search_report,
};
