/* envsim: protocol/env.h over sim/net; see envsim.h.
 *
 * Every callback from the Net arrives from the Sim's event loop, never from
 * inside an EnvOps call, which is the ordering env.h promises the protocol.
 */
#include "sim/world/envsim.h"

#include "protocol/metric_table.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/kernel/rng.h"
#include "sim/kernel/sim.h"
#include "sim/net/sock.h"
#include "sim/net/tcp.h"
#include "sim/world/jsonin.h"
#include "sim/world/simmetric.h"

#define ENVSIM_STREAM_PROTOCOL 1 /* rng stream id of a node's protocol draws */
#define ENVSIM_WORLD_ID UINT32_MAX /* node id of the world env */
#define ENVSIM_WARNINGS_SHOWN 20   /* warning lines printed before going quiet */

/* A timer of the world's table. Free slots are chained through `next`. */
typedef struct EnvSimTimer {
    SimEventId ev;     /* pending kernel event */
    EnvSimNode *owner; /* node it fires for; NULL when free */
    TimeNs period_ns;  /* > 0 for periodic timers */
    uint32_t tag;      /* the protocol's tag */
    uint32_t gen;      /* generation; bumped when the slot is freed */
    uint32_t next;     /* free list link (slot index + 1; 0 = end) */
} EnvSimTimer;

struct EnvSimNode {
    EnvSim *es;        /* the world part */
    Env env;           /* {ops, this} handed to the node */
    Node *node;        /* attached node, or NULL */
    uint32_t id;       /* node id */
    uint32_t host;     /* Net host, or NET_NODE_NONE for the world env */
    Rng rng;           /* protocol random stream */
    double cpu_speed;  /* relative CPU speed, > 0 */
    double cpu_ns;     /* charged virtual CPU, ns */
    size_t mem_live;   /* bytes allocated through mem_alloc and not freed */
    size_t mem_high;   /* high water of mem_live */
    uint32_t ntimers;  /* live timers of this node */
    bool server;       /* a server role (login, web, bootstrap, dedicated SN) */
    TimeNs busy_until; /* its CPU is busy with charged work until then, ns */
    uint32_t npending; /* deferred sends not yet handed to the network */
    EnvTrace *trace;   /* tracing wrapper of its env, or NULL (borrowed) */
    int nat_label;     /* true NatType of its host (metrics only), -1 none */
};

/* A send deferred until the node's CPU is free (see envsim.h). */
typedef enum EnvSimSendKind {
    ENVSIM_SEND_UDP = 0,       /* a datagram */
    ENVSIM_SEND_TCP = 1,       /* bytes on a connection */
    ENVSIM_SEND_TCP_CLOSE = 2, /* an orderly close */
} EnvSimSendKind;
typedef struct EnvSimSend {
    EnvSimNode *en;      /* the sending node */
    SimEventId ev;       /* the kernel event that sends it */
    EnvSimSendKind kind; /* what to send */
    NetSock s;           /* UDP socket */
    NetTcp c;            /* TCP connection */
    NetEp to;            /* UDP destination */
    size_t len;          /* bytes in data */
    uint8_t data[];      /* payload copy */
} EnvSimSend;

struct EnvSim {
    Net *net;              /* borrowed */
    Sim *sim;              /* borrowed (the Net's) */
    Metrics *metrics;      /* borrowed */
    EnvSimCost cost;       /* calibration */
    GArray *timers;        /* EnvSimTimer slots */
    uint32_t timer_free;   /* free slot list head (index + 1; 0 = none) */
    size_t timers_live;    /* slots in use */
    GHashTable *stores;    /* "id/key" -> GBytes: persistent per-node storage */
    GHashTable *released;  /* NetTcp (idx,gen) the node closed: its late callbacks are dropped */
    GPtrArray *nodes;      /* every EnvSimNode, owned */
    EnvSimNode world;      /* the world env's context */
    uint64_t warnings;     /* warning lines logged */
    uint32_t m_cpu[3];     /* metrics: charged CPU ns of clients, supernodes, servers */
    uint32_t m_overload;   /* metric SIMMETRIC_CPU_OVERLOAD_DROPS */
    uint32_t m_deferred;   /* metric SIMMETRIC_CPU_DEFERRED_SENDS */
    GHashTable *pending;   /* EnvSimSend set: deferred sends (owned) */
    GHashTable *calls;     /* call id -> 1 (dialled) or 2 + callee's NAT label (answered) */
    uint32_t m_matrix[NAT_UNKNOWN][NAT_UNKNOWN][NODE_CALL_PATH_COUNT]; /* caller x callee */
    uint32_t m_pstn[NAT_UNKNOWN][NODE_CALL_PATH_COUNT];                /* caller x phone net */
    EnvSimSearchHook search_fn; /* search reports go here (the world), or nowhere */
    void *search_ctx;
    EnvSimCallHook call_fn;     /* call reports go here too (the world), or nowhere */
    void *call_ctx;
};

static const EnvOps envsim_ops;

/* ---- cost ------------------------------------------------------------- */

G_DEFINE_QUARK(skysim-envsim-error-quark, envsim_error)

/* NULL-terminated, for jsonin_first_unknown(). */
static const char *const envsim_cost_names[ENV_COST_COUNT + 1] = {
    [ENV_COST_RC4] = "rc4",
    [ENV_COST_AES256] = "aes256",
    [ENV_COST_RSA_SIGN] = "rsa_sign",
    [ENV_COST_RSA_VERIFY] = "rsa_verify",
    [ENV_COST_RSA_KEYGEN] = "rsa_keygen",
    [ENV_COST_HASH] = "hash",
    [ENV_COST_OPUS_ENCODE] = "opus_encode",
    [ENV_COST_OPUS_DECODE] = "opus_decode",
    [ENV_COST_G729_ENCODE] = "g729_encode",
    [ENV_COST_G729_DECODE] = "g729_decode",
};

const char *envsim_cost_name(EnvCost op)
{
    CHECK((unsigned)op < ENV_COST_COUNT, "bad cost %d", (int)op);
    return envsim_cost_names[op];
}


/* Calibration files report malformed content with one code. */
#define envsim_jsonin ((JsoninErr){ENVSIM_ERROR, ENVSIM_ERROR_PARSE})

/* Reads $.costs.<name>.<field> into *out; false and err when it is not a
 * finite number >= 0. */
static bool envsim_cost_number(const cJSON *cost, const char *path, const char *name,
                               const char *field, double *out, GError **err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cost, field);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) {
        *out = v->valuedouble;
        return true;
    }
    char *at = g_strdup_printf("$.costs.%s.%s", name, field);
    jsonin_expect(err, envsim_jsonin, path, at, "a number >= 0 (ns)", v);
    g_free(at);
    return false;
}

/* Costs from here on were added after files of format 1 were written
 * (simcalibrate of an older build): a file may lack them, and they are
 * then taken from the built-in table (envsim_cost_load). */
#define ENVSIM_COST_OPTIONAL_FROM ENV_COST_G729_ENCODE

/* Fills c from the "costs" object: every cost must be there (those from
 * ENVSIM_COST_OPTIONAL_FROM on may be missing: NaN), nothing else. */
static bool envsim_cost_parse(const cJSON *costs, const char *path, EnvSimCost *c, GError **err)
{
    if (!cJSON_IsObject(costs)) {
        jsonin_fail(err, envsim_jsonin, path, "$.costs",
                    "expected an object of costs (\"rc4\": {\"per_op_ns\": ..., "
                    "\"per_byte_ns\": ...}, ...); found %s",
                    costs ? "another type" : "nothing");
        return false;
    }
    /* Worded "unknown cost", names unquoted: a list of operations, not keys. */
    const cJSON *k = jsonin_first_unknown(costs, envsim_cost_names);
    if (k) {
        char *at = g_strdup_printf("$.costs.%s", k->string);
        char *list = g_strjoinv(", ", (char **)envsim_cost_names);
        jsonin_fail(err, envsim_jsonin, path, at, "unknown cost; expected one of %s", list);
        g_free(list);
        g_free(at);
        return false;
    }
    for (int i = 0; i < ENV_COST_COUNT; i++) {
        const char *name = envsim_cost_names[i];
        const cJSON *one = cJSON_GetObjectItemCaseSensitive(costs, name);
        if (!one && i >= ENVSIM_COST_OPTIONAL_FROM) {
            c->per_op_ns[i] = c->per_byte_ns[i] = NAN;
            continue;
        }
        if (!envsim_cost_number(one, path, name, "per_op_ns", &c->per_op_ns[i], err) ||
            !envsim_cost_number(one, path, name, "per_byte_ns", &c->per_byte_ns[i], err))
            return false;
    }
    return true;
}

/* Fills c from the text of a calibration file; path names it in messages.
 * c is left alone on error. */
static bool envsim_cost_parse_text(const char *text, size_t len, const char *path, EnvSimCost *c,
                                   GError **err)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    EnvSimCost tmp;
    bool ok = false;
    if (!cJSON_IsObject(root))
        jsonin_fail(err, envsim_jsonin, path, "$",
                    "expected a JSON object (a calibration file from simcalibrate); found %s",
                    root ? "another type" : "invalid JSON");
    else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "skysim-calibration/1") != 0)
        jsonin_fail(err, envsim_jsonin, path, "$.format",
                    "expected \"skysim-calibration/1\"; found %s",
                    cJSON_IsString(fmt) ? fmt->valuestring : "something else");
    else
        ok = envsim_cost_parse(cJSON_GetObjectItemCaseSensitive(root, "costs"), path, &tmp, err);
    cJSON_Delete(root);
    if (ok) *c = tmp;
    return ok;
}

/* The built-in table is scenarios/calibration/default.json itself, compiled
 * in as bytes by the build (sim/world/embed_json.cmake) and read by the
 * same parser as any calibration file: one source, nothing to keep in step
 * by hand, and simrun needs no file at run time wherever it runs from. */
extern const char envsim__calibration_default[];
extern const size_t envsim__calibration_default_len;

void envsim_cost_default(EnvSimCost *c)
{
    GError *err = NULL;
    bool ok = envsim_cost_parse_text(envsim__calibration_default, envsim__calibration_default_len,
                                     "scenarios/calibration/default.json (built in)", c, &err);
    CHECK(ok, "%s", err->message);
    for (int i = 0; i < ENV_COST_COUNT; i++)
        CHECK(!isnan(c->per_op_ns[i]), "the built-in calibration lacks %s", envsim_cost_names[i]);
}

bool envsim_cost_load(const char *path, EnvSimCost *c, GError **err)
{
    if (!path) {
        envsim_cost_default(c);
        return true;
    }
    size_t len = 0;
    char *text = jsonin_read_file(path, 0, " the calibration file",
                                  (JsoninErr){ENVSIM_ERROR, ENVSIM_ERROR_READ}, &len, err);
    if (!text) return false;
    bool ok = envsim_cost_parse_text(text, len, path, c, err);
    g_free(text);
    if (ok) { /* costs the file predates: the built-in ones */
        EnvSimCost def;
        envsim_cost_default(&def);
        for (int i = ENVSIM_COST_OPTIONAL_FROM; i < ENV_COST_COUNT; i++)
            if (isnan(c->per_op_ns[i])) {
                c->per_op_ns[i] = def.per_op_ns[i];
                c->per_byte_ns[i] = def.per_byte_ns[i];
            }
    }
    return ok;
}

/* ---- lifecycle -------------------------------------------------------- */

/* The call matrix, "call.matrix.<caller>.<callee>.<path>" and
 * "call.matrix.<caller>.pstn.<path>" for every known NAT type and path:
 * interned up front, so that a run reports the zeros too. */
static void envsim_matrix_intern(EnvSim *es)
{
    char name[96];
    for (int p = 1; p < NODE_CALL_PATH_COUNT; p++) {
        for (int a = 0; a < NAT_UNKNOWN; a++) {
            for (int b = 0; b < NAT_UNKNOWN; b++) {
                metric_table_family_name(METRIC_FAM_CALL_MATRIX, a, b, p, name, sizeof name);
                es->m_matrix[a][b][p] = metrics_intern(es->metrics, name, METRICS_COUNTER);
            }
            metric_table_family_name(METRIC_FAM_CALL_PSTN_MATRIX, a, p, 0, name, sizeof name);
            es->m_pstn[a][p] = metrics_intern(es->metrics, name, METRICS_COUNTER);
        }
    }
}

EnvSim *envsim_new(Net *net, Metrics *metrics, const EnvSimCost *cost)
{
    EnvSim *es = g_new0(EnvSim, 1);
    es->net = net;
    es->sim = net_sim(net);
    es->metrics = metrics;
    if (cost) es->cost = *cost;
    else envsim_cost_default(&es->cost);
    es->timers = g_array_new(FALSE, TRUE, sizeof(EnvSimTimer));
    es->stores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
    es->released = g_hash_table_new(g_direct_hash, g_direct_equal);
    es->nodes = g_ptr_array_new_with_free_func(g_free);
    es->world = (EnvSimNode){.es = es, .env = {&envsim_ops, &es->world}, .id = ENVSIM_WORLD_ID,
                             .host = NET_NODE_NONE, .cpu_speed = 1.0};
    sim_rng_init(es->sim, &es->world.rng, UINT64_MAX, ENVSIM_STREAM_PROTOCOL);
    es->m_cpu[0] = simmetric_intern(metrics, SIMMETRIC_CPU_CHARGED_NS_CLIENT);
    es->m_cpu[1] = simmetric_intern(metrics, SIMMETRIC_CPU_CHARGED_NS_SUPERNODE);
    es->m_cpu[2] = simmetric_intern(metrics, SIMMETRIC_CPU_CHARGED_NS_SERVER);
    es->m_overload = simmetric_intern(metrics, SIMMETRIC_CPU_OVERLOAD_DROPS);
    es->m_deferred = simmetric_intern(metrics, SIMMETRIC_CPU_DEFERRED_SENDS);
    es->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
    es->calls = g_hash_table_new(g_direct_hash, g_direct_equal);
    envsim_matrix_intern(es);
    return es;
}

void envsim_free(EnvSim *es)
{
    if (!es) return;
    for (guint i = 0; i < es->timers->len; i++) {
        EnvSimTimer *t = &g_array_index(es->timers, EnvSimTimer, i);
        if (t->owner) sim_cancel(es->sim, t->ev);
    }
    g_array_free(es->timers, TRUE);
    GHashTableIter it;
    gpointer d;
    g_hash_table_iter_init(&it, es->pending);
    while (g_hash_table_iter_next(&it, &d, NULL)) sim_cancel(es->sim, ((EnvSimSend *)d)->ev);
    g_hash_table_destroy(es->pending);
    g_hash_table_destroy(es->calls);
    g_hash_table_destroy(es->stores);
    g_hash_table_destroy(es->released);
    g_ptr_array_free(es->nodes, TRUE);
    g_free(es);
}

const Env *envsim_world_env(EnvSim *es) { return &es->world.env; }

EnvSimNode *envsim_node_new(EnvSim *es, uint32_t id, uint32_t host, double cpu_speed)
{
    CHECK(cpu_speed > 0, "cpu speed %g", cpu_speed);
    EnvSimNode *en = g_new0(EnvSimNode, 1);
    *en = (EnvSimNode){.es = es, .env = {&envsim_ops, en}, .id = id, .host = host,
                       .cpu_speed = cpu_speed, .nat_label = -1};
    sim_rng_init(es->sim, &en->rng, id, ENVSIM_STREAM_PROTOCOL);
    g_ptr_array_add(es->nodes, en);
    return en;
}

const Env *envsim_node_env(EnvSimNode *en) { return en->trace ? envtrace_env(en->trace) : &en->env; }
const Env *envsim_node_env_inner(EnvSimNode *en) { return &en->env; }
void envsim_node_set_trace(EnvSimNode *en, EnvTrace *t) { en->trace = t; }
EnvTrace *envsim_node_trace(const EnvSimNode *en) { return en->trace; }
void envsim_node_attach(EnvSimNode *en, Node *node) { en->node = node; }
void envsim_node_set_server(EnvSimNode *en, bool server) { en->server = server; }
void envsim_node_set_nat_label(EnvSimNode *en, int label)
{
    CHECK(label >= -1 && label < NAT_TYPE_COUNT, "NAT label %d", label);
    en->nat_label = label;
}
Node *envsim_node_get(const EnvSimNode *en) { return en->node; }
uint32_t envsim_node_host(const EnvSimNode *en) { return en->host; }
uint32_t envsim_node_id(const EnvSimNode *en) { return en->id; }
size_t envsim_node_mem_live(const EnvSimNode *en) { return en->mem_live; }
size_t envsim_node_mem_high(const EnvSimNode *en) { return en->mem_high; }
double envsim_node_cpu_ns(const EnvSimNode *en) { return en->cpu_ns; }
TimeNs envsim_node_cpu_busy_until(const EnvSimNode *en) { return en->busy_until; }
size_t envsim_timers_live(const EnvSim *es) { return es->timers_live; }
uint64_t envsim_warnings(const EnvSim *es) { return es->warnings; }

double envsim_cpu_ns_total(const EnvSim *es)
{
    double sum = es->world.cpu_ns;
    for (guint i = 0; i < es->nodes->len; i++) sum += ((EnvSimNode *)es->nodes->pdata[i])->cpu_ns;
    return sum;
}

/* ---- timers ----------------------------------------------------------- */

static EnvSimTimer *envsim_timer_at(EnvSim *es, uint32_t slot)
{
    return &g_array_index(es->timers, EnvSimTimer, slot);
}

static void envsim_timer_release(EnvSim *es, uint32_t slot)
{
    EnvSimTimer *t = envsim_timer_at(es, slot);
    t->owner->ntimers--;
    t->owner = NULL;
    if (++t->gen == 0) t->gen = 1;
    t->next = es->timer_free;
    es->timer_free = slot + 1;
    es->timers_live--;
}

static void envsim_timer_fire(Sim *sim, void *ctx, uint64_t arg)
{
    EnvSim *es = ctx;
    uint32_t slot = (uint32_t)arg;
    EnvSimTimer *t = envsim_timer_at(es, slot);
    CHECK(t->owner != NULL, "timer slot %u fired while free", slot);
    EnvSimNode *en = t->owner;
    EnvTimer handle = {.slot = slot, .gen = t->gen};
    uint32_t tag = t->tag;
    if (t->period_ns > 0) t->ev = sim_after(sim, t->period_ns, envsim_timer_fire, es, slot);
    else envsim_timer_release(es, slot);
    if (en->node) {
        sim_set_entity(sim, en->id);
        envtrace_on_timer(en->trace, handle, tag);
        node_ops.on_timer(en->node, handle, tag);
    }
}

static EnvTimer envsim_timer_add(EnvSimNode *en, TimeNs first_ns, TimeNs period_ns, uint32_t tag)
{
    EnvSim *es = en->es;
    uint32_t slot;
    if (es->timer_free) {
        slot = es->timer_free - 1;
        es->timer_free = envsim_timer_at(es, slot)->next;
    } else {
        slot = es->timers->len;
        g_array_set_size(es->timers, slot + 1);
        envsim_timer_at(es, slot)->gen = 1;
    }
    EnvSimTimer *t = envsim_timer_at(es, slot);
    t->owner = en;
    t->period_ns = period_ns;
    t->tag = tag;
    t->ev = sim_after(es->sim, first_ns, envsim_timer_fire, es, slot);
    en->ntimers++;
    es->timers_live++;
    return (EnvTimer){.slot = slot, .gen = t->gen};
}

static EnvTimer envsim_timer_start(void *ctx, TimeNs delay_ns, uint32_t tag)
{
    return envsim_timer_add(ctx, delay_ns, 0, tag);
}

static EnvTimer envsim_timer_start_periodic(void *ctx, TimeNs first_ns, TimeNs period_ns,
                                            uint32_t tag)
{
    return envsim_timer_add(ctx, first_ns, period_ns, tag);
}

static void envsim_timer_cancel(void *ctx, EnvTimer h)
{
    EnvSimNode *en = ctx;
    EnvSim *es = en->es;
    if (h.slot >= es->timers->len) return;
    EnvSimTimer *t = envsim_timer_at(es, h.slot);
    if (t->gen != h.gen || t->owner != en) return; /* stale */
    sim_cancel(es->sim, t->ev);
    envsim_timer_release(es, h.slot);
}

void envsim_node_detach(EnvSimNode *en)
{
    EnvSim *es = en->es;
    for (guint i = 0; en->ntimers > 0 && i < es->timers->len; i++) {
        EnvSimTimer *t = envsim_timer_at(es, i);
        if (t->owner != en) continue;
        sim_cancel(es->sim, t->ev);
        envsim_timer_release(es, i);
    }
    en->node = NULL;
}

/* ---- handles and status ----------------------------------------------- */

static inline EnvSock envsim_sock(NetSock s) { return (EnvSock){.slot = s.idx, .gen = s.gen}; }
static inline NetSock envsim_netsock(EnvSock s) { return (NetSock){.idx = s.slot, .gen = s.gen}; }
static inline EnvConn envsim_conn(NetTcp c) { return (EnvConn){.slot = c.idx, .gen = c.gen}; }
static inline NetTcp envsim_nettcp(EnvConn c) { return (NetTcp){.idx = c.slot, .gen = c.gen}; }
static inline EnvAddr envsim_addr(NetEp e) { return env_addr(e.addr, e.port); }
static inline gpointer envsim_conn_key(NetTcp c)
{
    return GSIZE_TO_POINTER(((guint64)c.gen << 32) | c.idx);
}

static int envsim_status(NetErr e)
{
    switch (e) {
    case NET_OK: return ENV_OK;
    case NET_ERR_ADDR_IN_USE:
    case NET_ERR_NO_PORTS: return ENV_ERR_ADDRINUSE;
    case NET_ERR_BAD_HANDLE:
    case NET_ERR_CLOSED: return ENV_ERR_BADHANDLE;
    case NET_ERR_MSG_SIZE: return ENV_ERR_TOOBIG;
    case NET_ERR_REFUSED: return ENV_ERR_REFUSED;
    case NET_ERR_TIMEOUT: return ENV_ERR_TIMEOUT;
    case NET_ERR_RESET: return ENV_ERR_RESET;
    case NET_ERR_HOST_DOWN:
    case NET_ERR_BLOCKED:
    case NET_ERR_UNREACHABLE: return ENV_ERR_UNREACH;
    }
    return ENV_ERR_UNREACH;
}

/* The node to deliver to, labelling CHECK output with it; NULL if none. */
static Node *envsim_target(EnvSimNode *en)
{
    if (en->node) sim_set_entity(en->es->sim, en->id);
    return en->node;
}

static EnvSimNode *envsim_host_node(void *ctx)
{
    EnvSimNode *en = ctx;
    CHECK(en->host != NET_NODE_NONE, "socket call on the world env");
    return en;
}

/* ---- CPU queue (see envsim.h) ------------------------------------------ */

/* Whether a send made now must wait: the CPU is busy, or earlier deferred
 * sends are still pending (they keep their order). */
static bool envsim_cpu_must_wait(const EnvSimNode *en)
{
    return en->npending > 0 || en->busy_until > sim_now(en->es->sim);
}

static bool envsim_cpu_overloaded(const EnvSimNode *en)
{
    return en->busy_until - sim_now(en->es->sim) > ENVSIM_CPU_BACKLOG_MAX_NS;
}

static void envsim_send_fire(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)arg;
    EnvSimSend *d = ctx;
    EnvSimNode *en = d->en;
    Net *net = en->es->net;
    en->npending--;
    switch (d->kind) {
    case ENVSIM_SEND_UDP:
        (void)sock_udp_send(net, d->s, d->to, d->data, d->len);
        break;
    case ENVSIM_SEND_TCP:
        if (tcp_is_open(net, d->c)) (void)tcp_send(net, d->c, d->data, d->len);
        break;
    case ENVSIM_SEND_TCP_CLOSE:
        if (tcp_is_open(net, d->c)) tcp_close(net, d->c);
        break;
    }
    g_hash_table_remove(en->es->pending, d); /* frees d */
}

/* Queues a copy of buf to leave when the CPU is free: at max(now,
 * busy_until). The caller fills the handle fields. */
static EnvSimSend *envsim_defer(EnvSimNode *en, EnvSimSendKind kind, const uint8_t *buf, size_t len)
{
    EnvSim *es = en->es;
    EnvSimSend *d = g_malloc0(sizeof *d + len);
    d->en = en;
    d->kind = kind;
    d->len = len;
    if (len) memcpy(d->data, buf, len);
    TimeNs at = MAX(sim_now(es->sim), en->busy_until);
    d->ev = sim_at(es->sim, at, envsim_send_fire, d, 0);
    g_hash_table_add(es->pending, d);
    en->npending++;
    if (kind != ENVSIM_SEND_TCP_CLOSE)
        metrics_add(es->metrics, es->m_deferred, 1, sim_now(es->sim));
    return d;
}

/* ---- UDP -------------------------------------------------------------- */

static void envsim_udp_recv(void *ctx, NetSock s, NetEp from, const uint8_t *buf, size_t len)
{
    EnvSimNode *en = ctx;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_datagram(en->trace, envsim_sock(s), envsim_addr(from), buf, len);
    node_ops.on_datagram(n, envsim_sock(s), envsim_addr(from), buf, len);
}

static const UdpOps envsim_udp_ops = {.recv = envsim_udp_recv, .error = NULL};

static int envsim_udp_bind(void *ctx, uint16_t port, EnvSock *out)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetSock s;
    NetErr e = sock_udp_open(en->es->net, en->host, port, &envsim_udp_ops, en, &s);
    if (e == NET_OK) *out = envsim_sock(s);
    return envsim_status(e);
}

static int envsim_udp_send(void *ctx, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetEp ep = {.addr = to.ip, .port = to.port};
    if (envsim_cpu_must_wait(en)) {
        if (envsim_cpu_overloaded(en)) {
            metrics_add(en->es->metrics, en->es->m_overload, 1, sim_now(en->es->sim));
            return ENV_OK; /* lost, as a datagram dropped by a full queue */
        }
        EnvSimSend *d = envsim_defer(en, ENVSIM_SEND_UDP, buf, len);
        d->s = envsim_netsock(s);
        d->to = ep;
        return ENV_OK;
    }
    return envsim_status(sock_udp_send(en->es->net, envsim_netsock(s), ep, buf, len));
}

static void envsim_sock_close(void *ctx, EnvSock s)
{
    EnvSimNode *en = envsim_host_node(ctx);
    sock_close(en->es->net, envsim_netsock(s));
}

static EnvAddr envsim_sock_local(void *ctx, EnvSock s)
{
    EnvSimNode *en = envsim_host_node(ctx);
    return env_addr(net_node_addr(en->es->net, en->host), sock_port(en->es->net, envsim_netsock(s)));
}

/* ---- TCP -------------------------------------------------------------- */

/* True (and forgets it) when the node released c: its late events are
 * not delivered (env.h: no event after close). */
static bool envsim_conn_was_released(EnvSim *es, NetTcp c, bool terminal)
{
    gpointer k = envsim_conn_key(c);
    if (!g_hash_table_contains(es->released, k)) return false;
    if (terminal) g_hash_table_remove(es->released, k);
    return true;
}

static void envsim_tcp_connected(void *ctx, NetTcp c)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, false)) return;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_connected(en->trace, envsim_conn(c), ENV_OK);
    node_ops.on_tcp_connected(n, envsim_conn(c), ENV_OK);
}

static void envsim_tcp_failed(void *ctx, NetTcp c, NetErr why)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, true)) return;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_connected(en->trace, envsim_conn(c), envsim_status(why));
    node_ops.on_tcp_connected(n, envsim_conn(c), envsim_status(why));
}

static void envsim_tcp_recv(void *ctx, NetTcp c, const uint8_t *buf, size_t len)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, false)) return;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_data(en->trace, envsim_conn(c), buf, len);
    node_ops.on_tcp_data(n, envsim_conn(c), buf, len);
}

/* The peer's FIN: env.h makes this terminal for the node, so our side
 * closes too and the later `closed` callback is dropped. */
static void envsim_tcp_peer_closed(void *ctx, NetTcp c)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, false)) return;
    g_hash_table_add(en->es->released, envsim_conn_key(c));
    tcp_close(en->es->net, c);
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_closed(en->trace, envsim_conn(c), ENV_ERR_CLOSED);
    node_ops.on_tcp_closed(n, envsim_conn(c), ENV_ERR_CLOSED);
}

static void envsim_tcp_closed(void *ctx, NetTcp c)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, true)) return;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_closed(en->trace, envsim_conn(c), ENV_ERR_CLOSED);
    node_ops.on_tcp_closed(n, envsim_conn(c), ENV_ERR_CLOSED);
}

static void envsim_tcp_reset(void *ctx, NetTcp c, NetErr why)
{
    EnvSimNode *en = ctx;
    if (envsim_conn_was_released(en->es, c, true)) return;
    Node *n = envsim_target(en);
    if (!n) return;
    envtrace_on_tcp_closed(en->trace, envsim_conn(c), envsim_status(why));
    node_ops.on_tcp_closed(n, envsim_conn(c), envsim_status(why));
}

static const TcpOps envsim_tcp_ops = {
    .connected = envsim_tcp_connected,
    .failed = envsim_tcp_failed,
    .recv = envsim_tcp_recv,
    .peer_closed = envsim_tcp_peer_closed,
    .closed = envsim_tcp_closed,
    .reset = envsim_tcp_reset,
};

static bool envsim_tcp_accept(void *ctx, NetSock l, NetTcp c, NetEp peer, const TcpOps **ops,
                              void **conn_ctx)
{
    EnvSimNode *en = ctx;
    Node *n = envsim_target(en);
    if (!n) return false;
    *ops = &envsim_tcp_ops;
    *conn_ctx = en;
    envtrace_on_tcp_accept(en->trace, envsim_sock(l), envsim_conn(c), envsim_addr(peer));
    node_ops.on_tcp_accept(n, envsim_sock(l), envsim_conn(c), envsim_addr(peer));
    return true;
}

static const TcpListenOps envsim_listen_ops = {.accept = envsim_tcp_accept};

static int envsim_tcp_listen(void *ctx, uint16_t port, EnvSock *out)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetSock s;
    NetErr e = tcp_listen(en->es->net, en->host, port, &envsim_listen_ops, en, &s);
    if (e == NET_OK) *out = envsim_sock(s);
    return envsim_status(e);
}

static int envsim_tcp_connect(void *ctx, EnvAddr to, EnvConn *out)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetTcp c;
    NetEp ep = {.addr = to.ip, .port = to.port};
    NetErr e = tcp_connect(en->es->net, en->host, ep, &envsim_tcp_ops, en, &c);
    if (e != NET_OK) return ENV_ERR_UNREACH;
    *out = envsim_conn(c);
    return ENV_OK;
}

static int envsim_tcp_send(void *ctx, EnvConn c, const uint8_t *buf, size_t len)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetTcp t = envsim_nettcp(c);
    if (g_hash_table_contains(en->es->released, envsim_conn_key(t))) return ENV_ERR_BADHANDLE;
    if (envsim_cpu_must_wait(en)) {
        if (!tcp_is_open(en->es->net, t)) return ENV_ERR_BADHANDLE;
        envsim_defer(en, ENVSIM_SEND_TCP, buf, len)->c = t;
        return ENV_OK;
    }
    return envsim_status(tcp_send(en->es->net, t, buf, len));
}

static void envsim_tcp_close(void *ctx, EnvConn c)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetTcp t = envsim_nettcp(c);
    if (!tcp_is_open(en->es->net, t)) return;
    if (g_hash_table_contains(en->es->released, envsim_conn_key(t))) return;
    g_hash_table_add(en->es->released, envsim_conn_key(t));
    if (en->npending) envsim_defer(en, ENVSIM_SEND_TCP_CLOSE, NULL, 0)->c = t; /* after the data */
    else tcp_close(en->es->net, t);
}

static void envsim_tcp_abort(void *ctx, EnvConn c)
{
    EnvSimNode *en = envsim_host_node(ctx);
    NetTcp t = envsim_nettcp(c);
    g_hash_table_remove(en->es->released, envsim_conn_key(t));
    tcp_abort(en->es->net, t);
}

/* ---- the rest --------------------------------------------------------- */

static TimeNs envsim_now(void *ctx) { return sim_now(((EnvSimNode *)ctx)->es->sim); }
static uint64_t envsim_random_u64(void *ctx) { return rng_next(&((EnvSimNode *)ctx)->rng); }

static void envsim_charge_cpu(void *ctx, EnvCost op, size_t bytes)
{
    EnvSimNode *en = ctx;
    const EnvSimCost *c = &en->es->cost;
    double ns = (c->per_op_ns[op] + c->per_byte_ns[op] * (double)bytes) / en->cpu_speed;
    en->cpu_ns += ns;
    TimeNs now = sim_now(en->es->sim);
    en->busy_until = MAX(now, en->busy_until) + (TimeNs)llround(ns); /* queued after the backlog */
    int who = en->server ? 2 : (en->node && node_is_supernode(en->node)) ? 1 : 0;
    metrics_add(en->es->metrics, en->es->m_cpu[who], (int64_t)llround(ns), sim_now(en->es->sim));
}

static void *envsim_mem_alloc(void *ctx, size_t size)
{
    EnvSimNode *en = ctx;
    en->mem_live += size;
    if (en->mem_live > en->mem_high) en->mem_high = en->mem_live;
    return g_malloc0(size);
}

static void envsim_mem_free(void *ctx, void *p, size_t size)
{
    EnvSimNode *en = ctx;
    CHECK(en->mem_live >= size, "node %u frees %zu bytes of %zu", en->id, size, en->mem_live);
    en->mem_live -= size;
    g_free(p);
}

static char *envsim_store_key(const EnvSimNode *en, const char *key)
{
    return g_strdup_printf("%u/%s", en->id, key);
}

static long envsim_store_get(void *ctx, const char *key, uint8_t *buf, size_t cap)
{
    EnvSimNode *en = ctx;
    char *k = envsim_store_key(en, key);
    GBytes *b = g_hash_table_lookup(en->es->stores, k);
    g_free(k);
    if (!b) return -1;
    size_t len;
    const uint8_t *data = g_bytes_get_data(b, &len);
    memcpy(buf, data, len < cap ? len : cap);
    return (long)len;
}

static int envsim_store_put(void *ctx, const char *key, const uint8_t *buf, size_t len)
{
    EnvSimNode *en = ctx;
    CHECK(strlen(key) <= 31, "store key too long: %s", key);
    char *k = envsim_store_key(en, key);
    if (len == 0) {
        g_hash_table_remove(en->es->stores, k);
        g_free(k);
    } else {
        g_hash_table_replace(en->es->stores, k, g_bytes_new(buf, len));
    }
    return ENV_OK;
}

static EnvMetric envsim_metric_intern(void *ctx, const char *name, EnvMetricKind kind)
{
    EnvSimNode *en = ctx;
    return metrics_intern(en->es->metrics, name, (MetricsKind)kind);
}

static void envsim_metric_add(void *ctx, EnvMetric id, int64_t delta)
{
    EnvSimNode *en = ctx;
    metrics_add(en->es->metrics, id, delta, sim_now(en->es->sim));
}

static void envsim_metric_observe(void *ctx, EnvMetric id, double value)
{
    EnvSimNode *en = ctx;
    metrics_observe(en->es->metrics, id, value, sim_now(en->es->sim));
}

static double envsim_cpu_charged(void *ctx) { return ((EnvSimNode *)ctx)->cpu_ns; }

static int envsim_host_nat_label(void *ctx) { return ((EnvSimNode *)ctx)->nat_label; }

/* Whether a NAT label names a row or column of the call matrix. */
static bool envsim_label_known(int label)
{
    return label >= 0 && label < NAT_UNKNOWN;
}

/* The call matrix, joined from both ends' reports by call id: the caller's
 * DIALLED opens an entry (so a late ANSWERED after the caller's end opens
 * none), the callee's ANSWERED puts its label there, the caller's
 * CONNECTED counts once with both labels and its ENDED closes the entry.
 * Two calls drawing the same 32-bit id at once would share an entry. */
static void envsim_call_matrix(EnvSimNode *en, const EnvCallReport *r)
{
    EnvSim *es = en->es;
    gpointer key = GUINT_TO_POINTER(r->call_id);
    gpointer v = g_hash_table_lookup(es->calls, key);
    switch ((EnvCallEvent)r->event) {
    case ENV_CALL_DIALLED: g_hash_table_insert(es->calls, key, GUINT_TO_POINTER(1)); return;
    case ENV_CALL_ANSWERED:
        if (v) g_hash_table_insert(es->calls, key, GUINT_TO_POINTER(2 + (en->nat_label + 1)));
        return;
    case ENV_CALL_ENDED: g_hash_table_remove(es->calls, key); return;
    case ENV_CALL_CONNECTED: break;
    }
    CHECK(r->path < NODE_CALL_PATH_COUNT, "call path %u", r->path);
    int a = en->nat_label, b = v ? (int)GPOINTER_TO_UINT(v) - 3 : -1;
    uint32_t id = 0;
    if (r->pstn && envsim_label_known(a))
        id = es->m_pstn[a][r->path];
    else if (!r->pstn && envsim_label_known(a) && envsim_label_known(b))
        id = es->m_matrix[a][b][r->path];
    if (id) metrics_add(es->metrics, id, 1, sim_now(es->sim));
}

static void envsim_call_report(void *ctx, const EnvCallReport *r)
{
    EnvSimNode *en = ctx;
    envsim_call_matrix(en, r);
    if (en->es->call_fn) en->es->call_fn(en->es->call_ctx, en->id, r);
}

void envsim_set_call_hook(EnvSim *es, EnvSimCallHook fn, void *ctx)
{
    es->call_fn = fn;
    es->call_ctx = ctx;
}

void envsim_set_search_hook(EnvSim *es, EnvSimSearchHook fn, void *ctx)
{
    es->search_fn = fn;
    es->search_ctx = ctx;
}

static void envsim_search_report(void *ctx, const EnvSearchReport *r)
{
    EnvSimNode *en = ctx;
    if (en->es->search_fn) en->es->search_fn(en->es->search_ctx, en->id, r);
}

static void envsim_log(void *ctx, EnvLogLevel level, const char *msg)
{
    EnvSimNode *en = ctx;
    char t[TIMENS_FORMAT_MAX];
    timens_format(sim_now(en->es->sim), t, sizeof t);
    if (level >= ENV_LOG_WARNING) {
        if (++en->es->warnings <= ENVSIM_WARNINGS_SHOWN)
            g_log("skysim", level == ENV_LOG_ERROR ? G_LOG_LEVEL_CRITICAL : G_LOG_LEVEL_WARNING,
                  "t=%s node=%u: %s%s", t, en->id, msg,
                  en->es->warnings == ENVSIM_WARNINGS_SHOWN ? " (further warnings counted only)" : "");
        return;
    }
    g_log("skysim", level == ENV_LOG_INFO ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG, "t=%s node=%u: %s", t,
          en->id, msg);
}

static const EnvOps envsim_ops = {
    .version = ENV_VERSION,
    .now = envsim_now,
    .timer_start = envsim_timer_start,
    .timer_start_periodic = envsim_timer_start_periodic,
    .timer_cancel = envsim_timer_cancel,
    .udp_bind = envsim_udp_bind,
    .udp_send = envsim_udp_send,
    .udp_close = envsim_sock_close,
    .sock_local = envsim_sock_local,
    .tcp_listen = envsim_tcp_listen,
    .tcp_unlisten = envsim_sock_close,
    .tcp_connect = envsim_tcp_connect,
    .tcp_send = envsim_tcp_send,
    .tcp_close = envsim_tcp_close,
    .tcp_abort = envsim_tcp_abort,
    .random_u64 = envsim_random_u64,
    .charge_cpu = envsim_charge_cpu,
    .mem_alloc = envsim_mem_alloc,
    .mem_free = envsim_mem_free,
    .store_get = envsim_store_get,
    .store_put = envsim_store_put,
    .metric_intern = envsim_metric_intern,
    .metric_add = envsim_metric_add,
    .metric_observe = envsim_metric_observe,
    .log = envsim_log,
    .cpu_charged_ns = envsim_cpu_charged,
    .host_nat_label = envsim_host_nat_label,
    .call_report = envsim_call_report,
    .search_report = envsim_search_report,
};
