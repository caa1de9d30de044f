/* envtrace: see envtrace.h.
 *
 * Each wrapper forwards first and logs afterwards, so the line can show the
 * return value; the line is assembled in a GString and written with one
 * fputs. Nothing here touches the simulation: the only extra inner call is
 * now(), a pure read of the clock.
 */
#include "sim/world/envtrace.h"
#include "sim/world/envsim.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

struct EnvTrace {
    Env env;             /* {wrapper ops, this}: what the node gets */
    Env inner;           /* the wrapped env */
    uint32_t node_id;    /* id written on every line */
    FILE *out;           /* where lines go; NULL: nowhere (borrowed) */
    GHashTable *names;   /* EnvMetric -> name (owned) seen through metric_intern */
    EnvTraceNamer namer; /* names of metrics interned elsewhere; may be NULL */
    void *namer_ctx;     /* its context */
    GString *line;       /* the line being built */
};

static const EnvOps envtrace_ops;

EnvTrace *envtrace_new(const Env *inner, uint32_t node_id, FILE *out)
{
    EnvTrace *t = g_new0(EnvTrace, 1);
    t->env = (Env){&envtrace_ops, t};
    t->inner = *inner;
    t->node_id = node_id;
    t->out = out;
    t->names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    t->line = g_string_sized_new(256);
    return t;
}

void envtrace_free(EnvTrace *t)
{
    if (!t) return;
    g_hash_table_destroy(t->names);
    g_string_free(t->line, TRUE);
    g_free(t);
}

const Env *envtrace_env(EnvTrace *t) { return &t->env; }
void envtrace_set_out(EnvTrace *t, FILE *out) { t->out = out; }

void envtrace_set_namer(EnvTrace *t, EnvTraceNamer namer, void *ctx)
{
    t->namer = namer;
    t->namer_ctx = ctx;
}

/* ---- formatting -------------------------------------------------------- */

static const char *envtrace_status_name(int st)
{
    switch (st) {
    case ENV_OK: return "OK";
    case ENV_ERR_REFUSED: return "ERR_REFUSED";
    case ENV_ERR_TIMEOUT: return "ERR_TIMEOUT";
    case ENV_ERR_UNREACH: return "ERR_UNREACH";
    case ENV_ERR_ADDRINUSE: return "ERR_ADDRINUSE";
    case ENV_ERR_ACCESS: return "ERR_ACCESS";
    case ENV_ERR_RESET: return "ERR_RESET";
    case ENV_ERR_CLOSED: return "ERR_CLOSED";
    case ENV_ERR_BADHANDLE: return "ERR_BADHANDLE";
    case ENV_ERR_NOBUFS: return "ERR_NOBUFS";
    case ENV_ERR_TOOBIG: return "ERR_TOOBIG";
    }
    return NULL;
}

static const char *const envtrace_kind_names[] = {
    [ENV_METRIC_COUNTER] = "counter",
    [ENV_METRIC_GAUGE] = "gauge",
    [ENV_METRIC_SAMPLE] = "sample",
};

static const char *const envtrace_level_names[] = {
    [ENV_LOG_DEBUG] = "debug",
    [ENV_LOG_INFO] = "info",
    [ENV_LOG_WARNING] = "warning",
    [ENV_LOG_ERROR] = "error",
};

/* A point in virtual time as seconds with nine decimals (exact: integer
 * arithmetic). buf: at least 24 bytes. */
static char *envtrace_time(TimeNs t, char *buf, size_t size)
{
    uint64_t a = t < 0 ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
    g_snprintf(buf, size, "%s%" PRIu64 ".%09" PRIu64, t < 0 ? "-" : "", a / (uint64_t)TIMENS_S,
               a % (uint64_t)TIMENS_S);
    return buf;
}

/* Starts a line: "<time> node <id> <dir> <name>(". False when nothing is
 * written (no output). */
static bool envtrace_begin(EnvTrace *t, const char *dir, const char *name)
{
    if (!t->out) return false;
    char now[24];
    envtrace_time(t->inner.ops->now(t->inner.ctx), now, sizeof now);
    g_string_truncate(t->line, 0);
    g_string_append_printf(t->line, "%s node %" PRIu32 " %s %s(", now, t->node_id, dir, name);
    return true;
}

/* Ends the arguments and writes the line; ret: the " = value" part or NULL. */
static void envtrace_end(EnvTrace *t, const char *ret)
{
    g_string_append_c(t->line, ')');
    if (ret) g_string_append_printf(t->line, " = %s", ret);
    g_string_append_c(t->line, '\n');
    fputs(t->line->str, t->out);
}

static void envtrace_sep(EnvTrace *t)
{
    if (t->line->str[t->line->len - 1] != '(') g_string_append(t->line, ", ");
}

static void envtrace_arg(EnvTrace *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void envtrace_arg(EnvTrace *t, const char *fmt, ...)
{
    envtrace_sep(t);
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(t->line, fmt, ap);
    va_end(ap);
}

static void envtrace_arg_addr(EnvTrace *t, const char *key, EnvAddr a)
{
    envtrace_arg(t, "%s=%u.%u.%u.%u:%u", key, a.ip >> 24, (a.ip >> 16) & 0xff, (a.ip >> 8) & 0xff,
                 a.ip & 0xff, a.port);
}

/* A handle as slot:gen, "none" when unset. */
static void envtrace_arg_handle(EnvTrace *t, const char *key, uint32_t slot, uint32_t gen)
{
    if (gen == 0) envtrace_arg(t, "%s=none", key);
    else envtrace_arg(t, "%s=%" PRIu32 ":%" PRIu32, key, slot, gen);
}

static void envtrace_arg_dur(EnvTrace *t, const char *key, TimeNs d)
{
    char buf[TIMENS_FORMAT_MAX];
    envtrace_arg(t, "%s=%s", key, timens_format(d, buf, sizeof buf));
}

static void envtrace_arg_status(EnvTrace *t, const char *key, int st)
{
    const char *n = envtrace_status_name(st);
    if (n) envtrace_arg(t, "%s=%s", key, n);
    else envtrace_arg(t, "%s=%d", key, st);
}

/* len=N and, when N > 0, data=<first bytes in hex>[...]. */
static void envtrace_arg_buf(EnvTrace *t, const uint8_t *buf, size_t len)
{
    envtrace_arg(t, "len=%zu", len);
    if (len == 0 || !buf) return;
    g_string_append(t->line, " data=");
    size_t n = len < ENVTRACE_HEX_MAX ? len : ENVTRACE_HEX_MAX;
    for (size_t i = 0; i < n; i++) g_string_append_printf(t->line, "%02x", buf[i]);
    if (n < len) g_string_append(t->line, "...");
}

/* A string argument in double quotes, with C escapes for anything odd. */
static void envtrace_arg_str(EnvTrace *t, const char *key, const char *s)
{
    if (!s) {
        envtrace_arg(t, "%s=NULL", key);
        return;
    }
    char *e = g_strescape(s, NULL);
    envtrace_arg(t, "%s=\"%s\"", key, e);
    g_free(e);
}

static void envtrace_arg_metric(EnvTrace *t, EnvMetric id)
{
    const char *name = g_hash_table_lookup(t->names, GUINT_TO_POINTER(id));
    if (!name && t->namer && id) name = t->namer(t->namer_ctx, id);
    if (name) envtrace_arg(t, "metric=%" PRIu32 "(%s)", id, name);
    else envtrace_arg(t, "metric=%" PRIu32, id);
}

/* The return value of a call that returns a status. */
static void envtrace_end_status(EnvTrace *t, int st)
{
    const char *n = envtrace_status_name(st);
    char buf[16];
    if (!n) {
        g_snprintf(buf, sizeof buf, "%d", st);
        n = buf;
    }
    envtrace_end(t, n);
}

/* A status, then the handle written through the out parameter. */
static void envtrace_end_status_handle(EnvTrace *t, int st, const char *key, uint32_t slot,
                                       uint32_t gen)
{
    char buf[64];
    const char *n = envtrace_status_name(st);
    char num[16];
    if (!n) {
        g_snprintf(num, sizeof num, "%d", st);
        n = num;
    }
    if (gen == 0) g_snprintf(buf, sizeof buf, "%s, %s=none", n, key);
    else g_snprintf(buf, sizeof buf, "%s, %s=%" PRIu32 ":%" PRIu32, n, key, slot, gen);
    envtrace_end(t, buf);
}

/* ---- protocol -> env ---------------------------------------------------- */

#define TR(ctx) ((EnvTrace *)(ctx))
#define INNER(t) ((t)->inner.ops)
#define ICTX(t) ((t)->inner.ctx)

static TimeNs envtrace_now(void *ctx)
{
    EnvTrace *t = TR(ctx);
    TimeNs now = INNER(t)->now(ICTX(t));
    if (envtrace_begin(t, "->", "now")) {
        char buf[24];
        envtrace_end(t, envtrace_time(now, buf, sizeof buf));
    }
    return now;
}

static EnvTimer envtrace_timer_start(void *ctx, TimeNs delay_ns, uint32_t tag)
{
    EnvTrace *t = TR(ctx);
    EnvTimer r = INNER(t)->timer_start(ICTX(t), delay_ns, tag);
    if (envtrace_begin(t, "->", "timer_start")) {
        envtrace_arg_dur(t, "delay", delay_ns);
        envtrace_arg(t, "tag=%" PRIu32, tag);
        char buf[32];
        g_snprintf(buf, sizeof buf, "timer=%" PRIu32 ":%" PRIu32, r.slot, r.gen);
        envtrace_end(t, buf);
    }
    return r;
}

static EnvTimer envtrace_timer_start_periodic(void *ctx, TimeNs first_ns, TimeNs period_ns,
                                              uint32_t tag)
{
    EnvTrace *t = TR(ctx);
    EnvTimer r = INNER(t)->timer_start_periodic(ICTX(t), first_ns, period_ns, tag);
    if (envtrace_begin(t, "->", "timer_start_periodic")) {
        envtrace_arg_dur(t, "first", first_ns);
        envtrace_arg_dur(t, "period", period_ns);
        envtrace_arg(t, "tag=%" PRIu32, tag);
        char buf[32];
        g_snprintf(buf, sizeof buf, "timer=%" PRIu32 ":%" PRIu32, r.slot, r.gen);
        envtrace_end(t, buf);
    }
    return r;
}

static void envtrace_timer_cancel(void *ctx, EnvTimer h)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->timer_cancel(ICTX(t), h);
    if (envtrace_begin(t, "->", "timer_cancel")) {
        envtrace_arg_handle(t, "timer", h.slot, h.gen);
        envtrace_end(t, NULL);
    }
}

static int envtrace_udp_bind(void *ctx, uint16_t port, EnvSock *out)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->udp_bind(ICTX(t), port, out);
    if (envtrace_begin(t, "->", "udp_bind")) {
        envtrace_arg(t, "port=%u", port);
        envtrace_end_status_handle(t, st, "sock", out->slot, out->gen);
    }
    return st;
}

static int envtrace_udp_send(void *ctx, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->udp_send(ICTX(t), s, to, buf, len);
    if (envtrace_begin(t, "->", "udp_send")) {
        envtrace_arg_handle(t, "sock", s.slot, s.gen);
        envtrace_arg_addr(t, "to", to);
        envtrace_arg_buf(t, buf, len);
        envtrace_end_status(t, st);
    }
    return st;
}

static void envtrace_udp_close(void *ctx, EnvSock s)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->udp_close(ICTX(t), s);
    if (envtrace_begin(t, "->", "udp_close")) {
        envtrace_arg_handle(t, "sock", s.slot, s.gen);
        envtrace_end(t, NULL);
    }
}

static EnvAddr envtrace_sock_local(void *ctx, EnvSock s)
{
    EnvTrace *t = TR(ctx);
    EnvAddr a = INNER(t)->sock_local(ICTX(t), s);
    if (envtrace_begin(t, "->", "sock_local")) {
        envtrace_arg_handle(t, "sock", s.slot, s.gen);
        char buf[32];
        g_snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", a.ip >> 24, (a.ip >> 16) & 0xff,
                   (a.ip >> 8) & 0xff, a.ip & 0xff, a.port);
        envtrace_end(t, buf);
    }
    return a;
}

static int envtrace_tcp_listen(void *ctx, uint16_t port, EnvSock *out)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->tcp_listen(ICTX(t), port, out);
    if (envtrace_begin(t, "->", "tcp_listen")) {
        envtrace_arg(t, "port=%u", port);
        envtrace_end_status_handle(t, st, "sock", out->slot, out->gen);
    }
    return st;
}

static void envtrace_tcp_unlisten(void *ctx, EnvSock s)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->tcp_unlisten(ICTX(t), s);
    if (envtrace_begin(t, "->", "tcp_unlisten")) {
        envtrace_arg_handle(t, "sock", s.slot, s.gen);
        envtrace_end(t, NULL);
    }
}

static int envtrace_tcp_connect(void *ctx, EnvAddr to, EnvConn *out)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->tcp_connect(ICTX(t), to, out);
    if (envtrace_begin(t, "->", "tcp_connect")) {
        envtrace_arg_addr(t, "to", to);
        envtrace_end_status_handle(t, st, "conn", out->slot, out->gen);
    }
    return st;
}

static int envtrace_tcp_send(void *ctx, EnvConn c, const uint8_t *buf, size_t len)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->tcp_send(ICTX(t), c, buf, len);
    if (envtrace_begin(t, "->", "tcp_send")) {
        envtrace_arg_handle(t, "conn", c.slot, c.gen);
        envtrace_arg_buf(t, buf, len);
        envtrace_end_status(t, st);
    }
    return st;
}

static void envtrace_tcp_close(void *ctx, EnvConn c)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->tcp_close(ICTX(t), c);
    if (envtrace_begin(t, "->", "tcp_close")) {
        envtrace_arg_handle(t, "conn", c.slot, c.gen);
        envtrace_end(t, NULL);
    }
}

static void envtrace_tcp_abort(void *ctx, EnvConn c)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->tcp_abort(ICTX(t), c);
    if (envtrace_begin(t, "->", "tcp_abort")) {
        envtrace_arg_handle(t, "conn", c.slot, c.gen);
        envtrace_end(t, NULL);
    }
}

static uint64_t envtrace_random_u64(void *ctx)
{
    EnvTrace *t = TR(ctx);
    uint64_t r = INNER(t)->random_u64(ICTX(t));
    if (envtrace_begin(t, "->", "random_u64")) {
        char buf[24];
        g_snprintf(buf, sizeof buf, "0x%016" PRIx64, r);
        envtrace_end(t, buf);
    }
    return r;
}

static void envtrace_charge_cpu(void *ctx, EnvCost op, size_t bytes)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->charge_cpu(ICTX(t), op, bytes);
    if (envtrace_begin(t, "->", "charge_cpu")) {
        if ((unsigned)op < ENV_COST_COUNT) envtrace_arg(t, "op=%s", envsim_cost_name(op));
        else envtrace_arg(t, "op=%d", (int)op);
        envtrace_arg(t, "bytes=%zu", bytes);
        envtrace_end(t, NULL);
    }
}

/* The block's address is not written (it differs between runs). */
static void *envtrace_mem_alloc(void *ctx, size_t size)
{
    EnvTrace *t = TR(ctx);
    void *p = INNER(t)->mem_alloc(ICTX(t), size);
    if (envtrace_begin(t, "->", "mem_alloc")) {
        envtrace_arg(t, "size=%zu", size);
        envtrace_end(t, NULL);
    }
    return p;
}

static void envtrace_mem_free(void *ctx, void *p, size_t size)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->mem_free(ICTX(t), p, size);
    if (envtrace_begin(t, "->", "mem_free")) {
        envtrace_arg(t, "size=%zu", size);
        envtrace_end(t, NULL);
    }
}

static long envtrace_store_get(void *ctx, const char *key, uint8_t *buf, size_t cap)
{
    EnvTrace *t = TR(ctx);
    long n = INNER(t)->store_get(ICTX(t), key, buf, cap);
    if (envtrace_begin(t, "->", "store_get")) {
        envtrace_arg_str(t, "key", key);
        envtrace_arg(t, "cap=%zu", cap);
        if (n > 0) envtrace_arg_buf(t, buf, (size_t)n < cap ? (size_t)n : cap);
        char r[24];
        g_snprintf(r, sizeof r, "%ld", n);
        envtrace_end(t, r);
    }
    return n;
}

static int envtrace_store_put(void *ctx, const char *key, const uint8_t *buf, size_t len)
{
    EnvTrace *t = TR(ctx);
    int st = INNER(t)->store_put(ICTX(t), key, buf, len);
    if (envtrace_begin(t, "->", "store_put")) {
        envtrace_arg_str(t, "key", key);
        envtrace_arg_buf(t, buf, len);
        envtrace_end_status(t, st);
    }
    return st;
}

/* Remembers the name of the id, so later adds and observes show it. */
static EnvMetric envtrace_metric_intern(void *ctx, const char *name, EnvMetricKind kind)
{
    EnvTrace *t = TR(ctx);
    EnvMetric id = INNER(t)->metric_intern(ICTX(t), name, kind);
    if (id && name) g_hash_table_replace(t->names, GUINT_TO_POINTER(id), g_strdup(name));
    if (envtrace_begin(t, "->", "metric_intern")) {
        envtrace_arg_str(t, "name", name);
        if ((unsigned)kind < G_N_ELEMENTS(envtrace_kind_names))
            envtrace_arg(t, "kind=%s", envtrace_kind_names[kind]);
        else envtrace_arg(t, "kind=%d", (int)kind);
        char r[16];
        g_snprintf(r, sizeof r, "%" PRIu32, id);
        envtrace_end(t, r);
    }
    return id;
}

static void envtrace_metric_add(void *ctx, EnvMetric id, int64_t delta)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->metric_add(ICTX(t), id, delta);
    if (envtrace_begin(t, "->", "metric_add")) {
        envtrace_arg_metric(t, id);
        envtrace_arg(t, "delta=%" PRId64, delta);
        envtrace_end(t, NULL);
    }
}

static void envtrace_metric_observe(void *ctx, EnvMetric id, double value)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->metric_observe(ICTX(t), id, value);
    if (envtrace_begin(t, "->", "metric_observe")) {
        envtrace_arg_metric(t, id);
        envtrace_arg(t, "value=%.9g", value);
        envtrace_end(t, NULL);
    }
}

static void envtrace_log(void *ctx, EnvLogLevel level, const char *msg)
{
    EnvTrace *t = TR(ctx);
    INNER(t)->log(ICTX(t), level, msg);
    if (envtrace_begin(t, "->", "log")) {
        if ((unsigned)level < G_N_ELEMENTS(envtrace_level_names))
            envtrace_arg(t, "level=%s", envtrace_level_names[level]);
        else envtrace_arg(t, "level=%d", (int)level);
        envtrace_arg_str(t, "msg", msg);
        envtrace_end(t, NULL);
    }
}

/* Optional since version 2: forwarded when the inner env has it, else 0
 * (what env_cpu_charged_ns() answers for an env without it). */
static double envtrace_cpu_charged_ns(void *ctx)
{
    EnvTrace *t = TR(ctx);
    const EnvOps *o = INNER(t);
    double ns = o->version >= 2 && o->cpu_charged_ns ? o->cpu_charged_ns(ICTX(t)) : 0;
    if (envtrace_begin(t, "->", "cpu_charged_ns")) {
        char r[32];
        g_snprintf(r, sizeof r, "%.9g", ns);
        envtrace_end(t, r);
    }
    return ns;
}

/* Optional since version 3: the host's true NAT label, forwarded when the
 * inner env has it, else -1 (what env_host_nat_label() answers then). */
static int envtrace_host_nat_label(void *ctx)
{
    EnvTrace *t = TR(ctx);
    const EnvOps *o = INNER(t);
    int label = o->version >= 3 && o->host_nat_label ? o->host_nat_label(ICTX(t)) : -1;
    if (envtrace_begin(t, "->", "host_nat_label")) {
        char r[16];
        g_snprintf(r, sizeof r, "%d", label);
        envtrace_end(t, r);
    }
    return label;
}

/* Optional since version 3: a call event, forwarded when the inner env
 * takes reports (the world labels the call matrix with it). */
static void envtrace_search_report(void *ctx, const EnvSearchReport *r)
{
    EnvTrace *t = TR(ctx);
    const EnvOps *o = INNER(t);
    if (o->version >= 4 && o->search_report) o->search_report(ICTX(t), r);
    if (envtrace_begin(t, "->", "search_report")) {
        envtrace_arg(t, "user=%.*s", (int)r->ulen, r->user);
        envtrace_arg(t, "found=%d", (int)r->found);
        envtrace_end(t, NULL);
    }
}

static void envtrace_call_report(void *ctx, const EnvCallReport *r)
{
    EnvTrace *t = TR(ctx);
    const EnvOps *o = INNER(t);
    if (o->version >= 3 && o->call_report) o->call_report(ICTX(t), r);
    if (envtrace_begin(t, "->", "call_report")) {
        envtrace_arg(t, "call=%u", r->call_id);
        envtrace_arg(t, "event=%u", (unsigned)r->event);
        envtrace_arg(t, "path=%u", (unsigned)r->path);
        envtrace_arg(t, "pstn=%d", (int)r->pstn);
        if (r->fail_cause) envtrace_arg(t, "cause=%s", r->fail_cause);
        envtrace_end(t, NULL);
    }
}

static const EnvOps envtrace_ops = {
    .version = ENV_VERSION,
    .now = envtrace_now,
    .timer_start = envtrace_timer_start,
    .timer_start_periodic = envtrace_timer_start_periodic,
    .timer_cancel = envtrace_timer_cancel,
    .udp_bind = envtrace_udp_bind,
    .udp_send = envtrace_udp_send,
    .udp_close = envtrace_udp_close,
    .sock_local = envtrace_sock_local,
    .tcp_listen = envtrace_tcp_listen,
    .tcp_unlisten = envtrace_tcp_unlisten,
    .tcp_connect = envtrace_tcp_connect,
    .tcp_send = envtrace_tcp_send,
    .tcp_close = envtrace_tcp_close,
    .tcp_abort = envtrace_tcp_abort,
    .random_u64 = envtrace_random_u64,
    .charge_cpu = envtrace_charge_cpu,
    .mem_alloc = envtrace_mem_alloc,
    .mem_free = envtrace_mem_free,
    .store_get = envtrace_store_get,
    .store_put = envtrace_store_put,
    .metric_intern = envtrace_metric_intern,
    .metric_add = envtrace_metric_add,
    .metric_observe = envtrace_metric_observe,
    .log = envtrace_log,
    .cpu_charged_ns = envtrace_cpu_charged_ns,
    .host_nat_label = envtrace_host_nat_label,
    .call_report = envtrace_call_report,
    .search_report = envtrace_search_report,
};

/* ---- env -> node --------------------------------------------------------- */

void envtrace_on_start(EnvTrace *t)
{
    if (t && envtrace_begin(t, "<-", "start")) envtrace_end(t, NULL);
}

void envtrace_on_stop(EnvTrace *t, bool graceful)
{
    if (!t || !envtrace_begin(t, "<-", "stop")) return;
    envtrace_arg(t, "graceful=%s", graceful ? "true" : "false");
    envtrace_end(t, NULL);
}

void envtrace_on_timer(EnvTrace *t, EnvTimer timer, uint32_t tag)
{
    if (!t || !envtrace_begin(t, "<-", "on_timer")) return;
    envtrace_arg_handle(t, "timer", timer.slot, timer.gen);
    envtrace_arg(t, "tag=%" PRIu32, tag);
    envtrace_end(t, NULL);
}

void envtrace_on_datagram(EnvTrace *t, EnvSock s, EnvAddr from, const uint8_t *buf, size_t len)
{
    if (!t || !envtrace_begin(t, "<-", "on_datagram")) return;
    envtrace_arg_handle(t, "sock", s.slot, s.gen);
    envtrace_arg_addr(t, "from", from);
    envtrace_arg_buf(t, buf, len);
    envtrace_end(t, NULL);
}

void envtrace_on_tcp_accept(EnvTrace *t, EnvSock l, EnvConn c, EnvAddr peer)
{
    if (!t || !envtrace_begin(t, "<-", "on_tcp_accept")) return;
    envtrace_arg_handle(t, "listener", l.slot, l.gen);
    envtrace_arg_handle(t, "conn", c.slot, c.gen);
    envtrace_arg_addr(t, "peer", peer);
    envtrace_end(t, NULL);
}

void envtrace_on_tcp_connected(EnvTrace *t, EnvConn c, int status)
{
    if (!t || !envtrace_begin(t, "<-", "on_tcp_connected")) return;
    envtrace_arg_handle(t, "conn", c.slot, c.gen);
    envtrace_arg_status(t, "status", status);
    envtrace_end(t, NULL);
}

void envtrace_on_tcp_data(EnvTrace *t, EnvConn c, const uint8_t *buf, size_t len)
{
    if (!t || !envtrace_begin(t, "<-", "on_tcp_data")) return;
    envtrace_arg_handle(t, "conn", c.slot, c.gen);
    envtrace_arg_buf(t, buf, len);
    envtrace_end(t, NULL);
}

void envtrace_on_tcp_closed(EnvTrace *t, EnvConn c, int status)
{
    if (!t || !envtrace_begin(t, "<-", "on_tcp_closed")) return;
    envtrace_arg_handle(t, "conn", c.slot, c.gen);
    envtrace_arg_status(t, "status", status);
    envtrace_end(t, NULL);
}
