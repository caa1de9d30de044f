/* env: the protocol's only door to the world (STYLE.md §5, DESIGN.md "Core
 * contracts").
 *
 * Layer: protocol/. This header is the contract between the protocol state
 * machines (the rest of protocol/) and whoever hosts them: sim/world over the simulated
 * network (envsim_*), a planned real-sockets env over a GLib main loop, and
 * the fake and fault envs of tests/. It is SQLite's VFS idea: the protocol
 * reaches clock, timers, sockets, randomness, CPU-cost accounting, memory
 * accounting, persistent storage, metrics and logging only through an `Env`,
 * and cannot tell which implementation it runs on.
 *
 * Two directions:
 *   - protocol -> env: the `EnvOps` table below, called only through the
 *     `env_*` static inline wrappers at the end of this file (never
 *     `e->ops->x` directly), so the wrappers are the one place for argument
 *     checks.
 *   - env -> protocol: the `NodeOps` table exported by protocol/node.h
 *     (start, stop, on_timer, on_datagram, on_tcp_*). Every event the env
 *     delivers to a node goes through it, and only from the env's event loop:
 *     an EnvOps call never calls back into the node synchronously (libuv's
 *     rule: a call that takes a callback fails synchronously or calls back
 *     later, never both).
 *
 * One Env per node: `ctx` identifies the node to the implementation (its
 * host, its sockets, its counters, its random stream, its store).
 *
 * Invariants an implementation must keep:
 *   - Time never goes backwards; events at equal times are delivered in the
 *     order they were scheduled.
 *   - Handles (EnvTimer, EnvSock, EnvConn) are {slot, gen} pairs, never
 *     pointers. {0, 0} is "none": a valid handle has gen != 0. Using a stale
 *     handle (closed, fired, cancelled) is harmless: cancel and close ignore
 *     it, send returns ENV_ERR_BADHANDLE.
 *   - After tcp_close/tcp_abort/udp_close/tcp_unlisten/timer_cancel returns,
 *     no event for that handle is delivered any more.
 *   - Buffers passed to the env are borrowed for the call only; buffers the
 *     env passes to the node (on_datagram, on_tcp_data) are borrowed for the
 *     callback only.
 *   - Metric ids returned by metric_intern through the Env of any node of
 *     one world (simulation run, or process for a real env) are valid with
 *     the Env of every node of that world, so they are interned once per
 *     world (protocol/node.h: NodeShared) and not stored per node.
 *
 * Versioning: EnvOps.version is ENV_VERSION of the header the env was built
 * against; fields are only ever appended, so a newer protocol checks the
 * version before using a field added later.
 */
#ifndef SKYSIM_ENV_H
#define SKYSIM_ENV_H

#include "protocol/base/check.h"
#include "protocol/base/timens.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENV_VERSION 4 /* bump when appending a field to EnvOps */

/* An IPv4 transport address, host byte order. The protocol speaks IPv4 only,
 * as the measured clients did. Small value type: passed by value. */
typedef struct EnvAddr {
    uint32_t ip;   /* public: IPv4 address, host byte order; 0 = unspecified */
    uint16_t port; /* public: port, host byte order; 0 = unspecified/ephemeral */
} EnvAddr;

static inline EnvAddr env_addr(uint32_t ip, uint16_t port)
{
    EnvAddr a = {ip, port};
    return a;
}
static inline bool env_addr_eq(EnvAddr a, EnvAddr b)
{
    return a.ip == b.ip && a.port == b.port;
}
#define ENV_IP(a, b, c, d)                                                                         \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* Handles: small integers with a generation count (STYLE.md §5). */
typedef struct EnvTimer {
    uint32_t slot; /* implementation's slot index */
    uint32_t gen;  /* generation; 0 means "no timer" */
} EnvTimer;
typedef struct EnvSock { /* a bound UDP socket or a TCP listener */
    uint32_t slot;       /* implementation's slot index */
    uint32_t gen;        /* generation; 0 means "no socket" */
} EnvSock;
typedef struct EnvConn { /* one TCP connection */
    uint32_t slot;       /* implementation's slot index */
    uint32_t gen;        /* generation; 0 means "no connection" */
} EnvConn;

#define ENV_TIMER_NONE ((EnvTimer){0, 0})
#define ENV_SOCK_NONE ((EnvSock){0, 0})
#define ENV_CONN_NONE ((EnvConn){0, 0})
static inline bool env_timer_is_set(EnvTimer t)
{
    return t.gen != 0;
}
static inline bool env_sock_is_set(EnvSock s)
{
    return s.gen != 0;
}
static inline bool env_conn_is_set(EnvConn c)
{
    return c.gen != 0;
}
static inline bool env_conn_eq(EnvConn a, EnvConn b)
{
    return a.slot == b.slot && a.gen == b.gen;
}
static inline bool env_sock_eq(EnvSock a, EnvSock b)
{
    return a.slot == b.slot && a.gen == b.gen;
}
static inline bool env_timer_eq(EnvTimer a, EnvTimer b)
{
    return a.slot == b.slot && a.gen == b.gen;
}

/* Status codes of env calls and of asynchronous socket events. Simulated
 * failures are events, not errors (STYLE.md §4): the protocol reacts. */
typedef enum EnvStatus {
    ENV_OK = 0,
    ENV_ERR_REFUSED = -1,   /* TCP: RST in answer to the SYN */
    ENV_ERR_TIMEOUT = -2,   /* TCP: no answer to the SYN / retransmissions gave up */
    ENV_ERR_UNREACH = -3,   /* no route, or blocked by a local firewall rule */
    ENV_ERR_ADDRINUSE = -4, /* bind/listen: the port is taken */
    ENV_ERR_ACCESS = -5,    /* bind/listen: not allowed (e.g. port < 1024) */
    ENV_ERR_RESET = -6,     /* TCP: connection reset by the peer */
    ENV_ERR_CLOSED = -7,    /* TCP: orderly close (FIN) by the peer */
    ENV_ERR_BADHANDLE = -8, /* stale or unknown handle */
    ENV_ERR_NOBUFS = -9,    /* the local send queue is full; the data was not taken */
    ENV_ERR_TOOBIG = -10,   /* datagram larger than ENV_UDP_MAX */
} EnvStatus;

#define ENV_UDP_MAX 1400 /* largest datagram payload the protocol may send, bytes */

/* Operations whose CPU cost is charged (DESIGN.md "Cost accounting"). The
 * env converts (op, bytes) to virtual CPU time through its calibration
 * table (ns per operation + ns per byte, scaled by the host's CPU speed) and
 * queues it on the host's CPU model. Appended only; the numbering is part of
 * the calibration file format. */
typedef enum EnvCost {
    ENV_COST_RC4 = 0,         /* RC4 key setup + keystream; bytes = payload length */
    ENV_COST_AES256 = 1,      /* AES-256 encrypt or decrypt; bytes = payload length */
    ENV_COST_RSA_SIGN = 2,    /* RSA private-key op (sign/decrypt); bytes = modulus bytes */
    ENV_COST_RSA_VERIFY = 3,  /* RSA public-key op (verify/encrypt); bytes = modulus bytes */
    ENV_COST_RSA_KEYGEN = 4,  /* RSA key-pair generation; bytes = modulus bytes */
    ENV_COST_HASH = 5,        /* SHA-1/SHA-256/MD5; bytes = input length */
    ENV_COST_OPUS_ENCODE = 6, /* libopus encode of one frame; bytes = PCM bytes in */
    ENV_COST_OPUS_DECODE = 7, /* libopus decode or concealment of one frame; bytes = its bytes */
    ENV_COST_G729_ENCODE = 8, /* bcg729 encode of one 10 ms frame; bytes = PCM bytes in */
    ENV_COST_G729_DECODE = 9, /* bcg729 decode or concealment of one frame; bytes = its bytes */
    ENV_COST_COUNT
} EnvCost;

/* Metric kinds. Names are interned once per world with metric_intern. */
typedef enum EnvMetricKind {
    ENV_METRIC_COUNTER = 0, /* monotonic sum of metric_add deltas (bytes, packets, events) */
    ENV_METRIC_GAUGE = 1,   /* level changed by metric_add deltas (+1/-1); the env samples
                               it over time (e.g. supernode count) */
    ENV_METRIC_SAMPLE = 2,  /* observations (metric_observe): a distribution (login time) */
} EnvMetricKind;

typedef uint32_t EnvMetric; /* interned metric id; 0 is never a valid id */

typedef enum EnvLogLevel {
    ENV_LOG_DEBUG = 0,
    ENV_LOG_INFO = 1,
    ENV_LOG_WARNING = 2, /* "check before trusting results" (STYLE.md §4) */
    ENV_LOG_ERROR = 3,   /* only when the run will exit non-zero */
} EnvLogLevel;

/* What happened to a two-party call, as one end reports it (call_report).
 * The protocol knows the call id, its role and the media path; the host
 * side may join that with what only it knows (the true network situation
 * of the hosts it built) to label metrics, so that no such label has to
 * travel in protocol bytes. */
typedef enum EnvCallEvent {
    ENV_CALL_DIALLED = 1,  /* caller: the call was placed (before any signalling) */
    ENV_CALL_ANSWERED = 2, /* callee: it answered the call (sent ANSWER) */
    ENV_CALL_CONNECTED = 3, /* caller: media from the callee arrived, the first time */
    ENV_CALL_ENDED = 4,    /* caller: the call is over (whatever the outcome) */
} EnvCallEvent;
typedef struct EnvCallReport {
    uint32_t call_id; /* the call's id, the same at both ends */
    uint8_t event;    /* EnvCallEvent */
    uint8_t path;     /* CONNECTED: the media path, a NodeCallPath (protocol/node.h) */
    bool pstn;        /* the callee is the phone network (a gateway), not a user */
    bool failed;      /* ENDED: the call failed before it connected (call.failure) */
    const char *fail_cause; /* ENDED and failed: why, the caller's counter name without
                               its "call.failed." prefix ("not_located", "no_answer"...);
                               static storage; NULL otherwise */
    const char *callee; /* DIALLED, a user call: the callee's name, borrowed, not
                           NUL-terminated (the host may count outcomes by the
                           callee's true state); NULL otherwise */
    uint8_t callee_len; /* its bytes */
} EnvCallReport;

/* How a user search ended, as the searching node reports it
 * (search_report): the host may label it with what only it knows, the
 * target's true state (online, logged out within the index's 72 h, longer
 * ago), for metrics of the index's guarantee. */
typedef struct EnvSearchReport {
    const char *user; /* the user searched, borrowed, not NUL-terminated */
    uint8_t ulen;     /* its bytes */
    bool found;       /* the search found a record */
} EnvSearchReport;

/* The operations table. Every function gets the Env's ctx back first. All
 * are mandatory (no NULL entries) unless marked optional. */
typedef struct EnvOps {
    int version; /* ENV_VERSION the table was built against */

    /* Clock: current virtual time (the real env: monotonic time since its
     * start). Never goes backwards. */
    TimeNs (*now)(void *ctx);

    /* Timers. timer_start arms a one-shot timer firing NodeOps.on_timer with
     * `tag` after delay_ns (>= 0; 0 fires after the current event).
     * timer_start_periodic fires first after first_ns, then every period_ns
     * (> 0) until cancelled. Both return a handle with gen != 0. timer_cancel
     * is O(1) and ignores stale handles (fired one-shots included). */
    EnvTimer (*timer_start)(void *ctx, TimeNs delay_ns, uint32_t tag);
    EnvTimer (*timer_start_periodic)(void *ctx, TimeNs first_ns, TimeNs period_ns, uint32_t tag);
    void (*timer_cancel)(void *ctx, EnvTimer t);

    /* UDP. udp_bind binds port (0: an ephemeral port) on the host's address
     * and writes the handle to *out; returns ENV_OK, ENV_ERR_ADDRINUSE or
     * ENV_ERR_ACCESS. udp_send sends one datagram (len <= ENV_UDP_MAX) from
     * socket s: ENV_OK means handed to the network, not delivered.
     * udp_close releases the port. sock_local reports the socket's local
     * address (the host's own, possibly private, address and the bound
     * port). Datagrams arrive through NodeOps.on_datagram. */
    int (*udp_bind)(void *ctx, uint16_t port, EnvSock *out);
    int (*udp_send)(void *ctx, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len);
    void (*udp_close)(void *ctx, EnvSock s);
    EnvAddr (*sock_local)(void *ctx, EnvSock s);

    /* TCP. tcp_listen listens on port (same statuses as udp_bind); incoming
     * connections arrive through NodeOps.on_tcp_accept. tcp_unlisten stops
     * listening (established connections stay).
     * tcp_connect starts a connection to `to`, writes the handle to *out and
     * returns ENV_OK, or fails synchronously (ENV_ERR_UNREACH) with no
     * handle and no callback; on ENV_OK, NodeOps.on_tcp_connected follows
     * exactly once with ENV_OK, ENV_ERR_REFUSED, ENV_ERR_TIMEOUT or
     * ENV_ERR_UNREACH (on failure the handle is dead).
     * tcp_send queues bytes on an established connection (the byte stream
     * has no message boundaries: the receiver may get them split or joined);
     * returns ENV_OK, ENV_ERR_BADHANDLE or ENV_ERR_NOBUFS.
     * tcp_close: orderly close (FIN) after queued data; tcp_abort: RST now.
     * Both release the handle: no further events. The peer sees
     * NodeOps.on_tcp_closed with ENV_ERR_CLOSED or ENV_ERR_RESET. */
    int (*tcp_listen)(void *ctx, uint16_t port, EnvSock *out);
    void (*tcp_unlisten)(void *ctx, EnvSock s);
    int (*tcp_connect)(void *ctx, EnvAddr to, EnvConn *out);
    int (*tcp_send)(void *ctx, EnvConn c, const uint8_t *buf, size_t len);
    void (*tcp_close)(void *ctx, EnvConn c);
    void (*tcp_abort)(void *ctx, EnvConn c);

    /* The node's own random stream (DESIGN.md "Randomness"): deterministic
     * per (seed, node), uniform 64-bit values. */
    uint64_t (*random_u64)(void *ctx);

    /* CPU cost of really executed crypto/codec work (see EnvCost). */
    void (*charge_cpu)(void *ctx, EnvCost op, size_t bytes);

    /* Per-node counted memory. mem_alloc never returns NULL (aborts on OOM)
     * and returns zeroed memory aligned for any type; mem_free gets the size
     * that was allocated. The env keeps live bytes and the high water per
     * node (the memory budgets of the issues are measured here). */
    void *(*mem_alloc)(void *ctx, size_t size);
    void (*mem_free)(void *ctx, void *p, size_t size);

    /* Persistent per-node storage: opaque blobs by key (NUL-terminated
     * ASCII, <= 31 chars), surviving the node going offline and coming back
     * within a run (a real client's shared.xml). store_get copies up to cap
     * bytes into buf and returns the blob's full length, or -1 when absent;
     * store_put replaces the blob (len 0 deletes it) and returns ENV_OK or a
     * negative status when the store is unavailable. */
    long (*store_get)(void *ctx, const char *key, uint8_t *buf, size_t cap);
    int (*store_put)(void *ctx, const char *key, const uint8_t *buf, size_t len);

    /* Metrics. metric_intern returns the id of name (stable string, e.g.
     * "login.time_s"; same name, same id) and is called once per world, off
     * the hot path; kind must match on repeated calls. metric_add adds delta
     * to a counter or gauge; metric_observe records one value of a sample
     * metric. Both are O(1) and attribute the value to this node. */
    EnvMetric (*metric_intern)(void *ctx, const char *name, EnvMetricKind kind);
    void (*metric_add)(void *ctx, EnvMetric id, int64_t delta);
    void (*metric_observe)(void *ctx, EnvMetric id, double value);

    /* Logging: one line, no newline; the env prefixes virtual time and node
     * id. msg is borrowed. */
    void (*log)(void *ctx, EnvLogLevel level, const char *msg);

    /* Version 2. Optional (may be NULL): the virtual CPU time charged to
     * this node so far, ns, so a role can report what a task cost it (the
     * conference host's mixing). A real env returns the process CPU time. */
    double (*cpu_charged_ns)(void *ctx);

    /* Version 3. Both optional (may be NULL). host_nat_label: the network
     * situation the host was built in, a NatType (protocol/stun.h), or -1
     * when the env does not know (a real env): host metadata for metrics
     * that compare it with what the protocol detected; the protocol never
     * acts on it. call_report: a call event (EnvCallReport, borrowed for
     * the call) for metrics the host labels with what it knows of both
     * ends, e.g. "call.matrix.<caller>.<callee>.<path>". */
    int (*host_nat_label)(void *ctx);
    void (*call_report)(void *ctx, const EnvCallReport *r);

    /* Version 4. Optional (may be NULL): a user search ended
     * (EnvSearchReport, borrowed for the call). */
    void (*search_report)(void *ctx, const EnvSearchReport *r);
} EnvOps;

/* The handle the protocol holds: a table and the node's context. */
typedef struct Env {
    const EnvOps *ops; /* public: borrowed, static lifetime */
    void *ctx;         /* public: the implementation's per-node context */
} Env;

/* ---- Wrappers: the only way protocol code calls the env. ---- */

static inline TimeNs env_now(const Env *e)
{
    return e->ops->now(e->ctx);
}

static inline EnvTimer env_timer_start(const Env *e, TimeNs delay_ns, uint32_t tag)
{
    CHECK(delay_ns >= 0, "negative timer delay %lld", (long long)delay_ns);
    return e->ops->timer_start(e->ctx, delay_ns, tag);
}
static inline EnvTimer env_timer_start_periodic(const Env *e, TimeNs first_ns, TimeNs period_ns,
                                                uint32_t tag)
{
    CHECK(first_ns >= 0 && period_ns > 0, "bad periodic timer %lld/%lld", (long long)first_ns,
          (long long)period_ns);
    return e->ops->timer_start_periodic(e->ctx, first_ns, period_ns, tag);
}
/* Cancels *t (if set) and clears it, so a handle field can be cancelled
 * unconditionally. */
static inline void env_timer_cancel(const Env *e, EnvTimer *t)
{
    if (env_timer_is_set(*t)) e->ops->timer_cancel(e->ctx, *t);
    *t = ENV_TIMER_NONE;
}

static inline int env_udp_bind(const Env *e, uint16_t port, EnvSock *out)
{
    *out = ENV_SOCK_NONE;
    return e->ops->udp_bind(e->ctx, port, out);
}
static inline int env_udp_send(const Env *e, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len)
{
    CHECK(len <= ENV_UDP_MAX, "datagram of %zu bytes exceeds ENV_UDP_MAX", len);
    return e->ops->udp_send(e->ctx, s, to, buf, len);
}
static inline void env_udp_close(const Env *e, EnvSock *s)
{
    if (env_sock_is_set(*s)) e->ops->udp_close(e->ctx, *s);
    *s = ENV_SOCK_NONE;
}
static inline EnvAddr env_sock_local(const Env *e, EnvSock s)
{
    return e->ops->sock_local(e->ctx, s);
}

static inline int env_tcp_listen(const Env *e, uint16_t port, EnvSock *out)
{
    *out = ENV_SOCK_NONE;
    return e->ops->tcp_listen(e->ctx, port, out);
}
static inline void env_tcp_unlisten(const Env *e, EnvSock *s)
{
    if (env_sock_is_set(*s)) e->ops->tcp_unlisten(e->ctx, *s);
    *s = ENV_SOCK_NONE;
}
static inline int env_tcp_connect(const Env *e, EnvAddr to, EnvConn *out)
{
    *out = ENV_CONN_NONE;
    return e->ops->tcp_connect(e->ctx, to, out);
}
static inline int env_tcp_send(const Env *e, EnvConn c, const uint8_t *buf, size_t len)
{
    return e->ops->tcp_send(e->ctx, c, buf, len);
}
static inline void env_tcp_close(const Env *e, EnvConn *c)
{
    if (env_conn_is_set(*c)) e->ops->tcp_close(e->ctx, *c);
    *c = ENV_CONN_NONE;
}
static inline void env_tcp_abort(const Env *e, EnvConn *c)
{
    if (env_conn_is_set(*c)) e->ops->tcp_abort(e->ctx, *c);
    *c = ENV_CONN_NONE;
}

static inline uint64_t env_random_u64(const Env *e)
{
    return e->ops->random_u64(e->ctx);
}
/* Uniform integer in [0, n), n > 0 (multiply-shift; bias < n / 2^64). */
static inline uint32_t env_random_below(const Env *e, uint32_t n)
{
    CHECK(n > 0, "env_random_below(0)");
    return (uint32_t)(((env_random_u64(e) >> 32) * (uint64_t)n) >> 32);
}
/* Fills buf with len random bytes from the node's stream. */
static inline void env_random_bytes(const Env *e, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = env_random_u64(e);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(r >> (8 * j));
    }
}

static inline void env_charge_cpu(const Env *e, EnvCost op, size_t bytes)
{
    CHECK((unsigned)op < ENV_COST_COUNT, "bad cost op %d", (int)op);
    e->ops->charge_cpu(e->ctx, op, bytes);
}

static inline void *env_mem_alloc(const Env *e, size_t size)
{
    CHECK(size > 0, "zero-size env_mem_alloc");
    return e->ops->mem_alloc(e->ctx, size);
}
/* Frees p (NULL is a no-op) of the given allocated size. */
static inline void env_mem_free(const Env *e, void *p, size_t size)
{
    if (p) e->ops->mem_free(e->ctx, p, size);
}

static inline long env_store_get(const Env *e, const char *key, uint8_t *buf, size_t cap)
{
    return e->ops->store_get(e->ctx, key, buf, cap);
}
static inline int env_store_put(const Env *e, const char *key, const uint8_t *buf, size_t len)
{
    return e->ops->store_put(e->ctx, key, buf, len);
}

static inline EnvMetric env_metric_intern(const Env *e, const char *name, EnvMetricKind kind)
{
    EnvMetric id = e->ops->metric_intern(e->ctx, name, kind);
    CHECK(id != 0, "metric_intern(%s) returned 0", name);
    return id;
}
static inline void env_metric_add(const Env *e, EnvMetric id, int64_t delta)
{
    if (id) e->ops->metric_add(e->ctx, id, delta);
}
static inline void env_metric_observe(const Env *e, EnvMetric id, double value)
{
    if (id) e->ops->metric_observe(e->ctx, id, value);
}

/* Charged CPU time of this node so far, ns; 0 when the env does not say. */
static inline double env_cpu_charged_ns(const Env *e)
{
    return e->ops->version >= 2 && e->ops->cpu_charged_ns ? e->ops->cpu_charged_ns(e->ctx) : 0;
}

/* The host's true NatType label (metrics only), or -1 when the env has none. */
static inline int env_host_nat_label(const Env *e)
{
    return e->ops->version >= 3 && e->ops->host_nat_label ? e->ops->host_nat_label(e->ctx) : -1;
}

/* Reports a call event; a no-op when the env does not take reports. */
static inline void env_call_report(const Env *e, const EnvCallReport *r)
{
    CHECK(r->event >= ENV_CALL_DIALLED && r->event <= ENV_CALL_ENDED, "call event %u", r->event);
    if (e->ops->version >= 3 && e->ops->call_report) e->ops->call_report(e->ctx, r);
}

/* Reports the end of a user search; a no-op when the env takes none. */
static inline void env_search_report(const Env *e, const EnvSearchReport *r)
{
    if (e->ops->version >= 4 && e->ops->search_report) e->ops->search_report(e->ctx, r);
}

/* printf-style logging into a bounded line (longer lines are cut). */
G_GNUC_PRINTF(3, 4)
static inline void env_log(const Env *e, EnvLogLevel level, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    e->ops->log(e->ctx, level, line);
}

#endif
