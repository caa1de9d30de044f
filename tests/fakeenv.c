/* fakeenv: see fakeenv.h. */
#include "fakeenv.h"

#include "protocol/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum EvKind {
    EV_TIMER = 1,
    EV_UDP,
    EV_TCP_ACCEPT,
    EV_TCP_CONNECTED,
    EV_TCP_DATA,
    EV_TCP_CLOSED,
    EV_UDP_SEND_LATER,
} EvKind;

typedef struct FakeEvent {
    TimeNs t;          /* when */
    uint64_t seq;      /* tie-break: scheduling order */
    EvKind kind;       /* what */
    FakeEnv *h;        /* target host */
    uint32_t slot;     /* timer/sock/conn slot on h */
    uint32_t gen;      /* its generation */
    EnvAddr from;      /* UDP source / TCP peer as seen */
    EnvAddr to;        /* UDP_SEND_LATER destination */
    uint16_t port;     /* UDP destination port on h; TCP_ACCEPT listener port */
    int status;        /* CONNECTED / CLOSED status */
    FakeEnv *src_h;    /* TCP_ACCEPT: connecting host */
    uint32_t src_slot; /* TCP_ACCEPT: its conn slot */
    uint32_t src_gen;  /* TCP_ACCEPT: its conn generation */
    uint8_t *data;     /* payload copy */
    size_t len;        /* payload bytes */
} FakeEvent;

typedef struct FTimer {
    uint32_t gen;  /* generation of the live timer */
    bool live;     /* armed */
    TimeNs period; /* 0: one-shot */
    uint32_t tag;  /* node's tag */
} FTimer;

typedef struct FSock {
    uint32_t gen;  /* generation */
    bool live;     /* bound */
    bool tcp;      /* listener (else UDP) */
    uint16_t port; /* bound port */
} FSock;

typedef struct FConn {
    uint32_t gen;       /* generation */
    bool live;          /* usable by the node */
    bool established;   /* connected */
    FakeEnv *peer;      /* other end's host */
    uint32_t peer_slot; /* other end's slot */
    uint32_t peer_gen;  /* other end's generation */
    EnvAddr local;      /* local address as seen on the wire */
    EnvAddr remote;     /* remote address */
} FConn;

typedef struct FakeNatMap {
    uint16_t int_port; /* host's port */
    uint32_t dst_ip;   /* symmetric only: destination */
    uint16_t dst_port; /* symmetric only: destination port */
    uint16_t ext_port; /* port outside */
} FakeNatMap;

typedef struct FakeNatPerm {
    uint16_t ext_port; /* mapping */
    uint32_t rem_ip;   /* contacted address */
    uint16_t rem_port; /* contacted port */
} FakeNatPerm;

/* Which outside senders may reach a host's UDP port. */
typedef enum FakeFilter {
    FAKE_FILTER_ANY,       /* anyone */
    FAKE_FILTER_ADDR,      /* addresses the host sent to from that port */
    FAKE_FILTER_ADDR_PORT, /* endpoints the host sent to from that port */
} FakeFilter;

/* What a NatType means here: the protocol's own vocabulary (protocol/stun.h,
 * RFC 3489 §5 definitions), so that protocol tests need nothing of sim/.
 * The one table the host code below consults. */
typedef struct FakeNatKind {
    bool udp;          /* UDP passes at all */
    bool translate;    /* a private address behind an outside one */
    bool per_dest;     /* one mapping per destination endpoint (symmetric) */
    FakeFilter filter; /* inbound UDP filtering */
} FakeNatKind;

static const FakeNatKind fake_nat_kinds[NAT_TYPE_COUNT] = {
    [NAT_OPEN] = {.udp = true, .filter = FAKE_FILTER_ANY},
    [NAT_FULL_CONE] = {.udp = true, .translate = true, .filter = FAKE_FILTER_ANY},
    [NAT_RESTRICTED] = {.udp = true, .translate = true, .filter = FAKE_FILTER_ADDR},
    [NAT_PORT_RESTRICTED] = {.udp = true, .translate = true, .filter = FAKE_FILTER_ADDR_PORT},
    [NAT_SYMMETRIC] = {.udp = true, .translate = true, .per_dest = true,
                       .filter = FAKE_FILTER_ADDR_PORT},
    [NAT_UDP_BLOCKED] = {.udp = false},
    [NAT_SYMMETRIC_FIREWALL] = {.udp = true, .filter = FAKE_FILTER_ADDR_PORT},
    [NAT_TCP_ONLY] = {.udp = false},
    [NAT_UNKNOWN] = {.udp = true, .filter = FAKE_FILTER_ADDR_PORT},
};

struct FakeEnv {
    FakeNet *net;       /* owner */
    uint32_t ip;        /* the host's own address */
    uint32_t index;     /* position in net->hosts */
    NatType nat;        /* NAT / firewall type */
    uint32_t nat_ip;    /* outside address (NAT types) */
    bool translate;     /* NAT types translate addresses */
    GArray *maps;       /* FakeNatMap */
    GArray *perms;      /* FakeNatPerm */
    uint16_t next_ext;  /* next outside port */
    bool privileged;    /* ports < 1024 bindable */
    bool down;          /* everything lost */
    Node *node;         /* attached node */
    GArray *timers;     /* FTimer */
    GArray *socks;      /* FSock */
    GArray *conns;      /* FConn */
    uint64_t rng;       /* splitmix64 state */
    GHashTable *store;  /* char* -> GByteArray* */
    GHashTable *allocs; /* pointer -> size */
    size_t mem_live;    /* bytes */
    size_t mem_high;    /* bytes */
    uint64_t cpu_calls[ENV_COST_COUNT];
    uint64_t cpu_bytes[ENV_COST_COUNT];
    GArray *metrics;   /* int64 per metric id */
    unsigned warnings; /* log lines >= WARNING */
    bool capture;      /* record events when no node is attached */
    GPtrArray *inbox;  /* FakeInbox* */
};

typedef struct FakeRule {
    FakeRuleKind kind; /* what */
    uint32_t ip;       /* 0: any */
    uint16_t port;     /* 0: any */
    int count;         /* < 0 forever */
} FakeRule;

struct FakeNet {
    TimeNs now;              /* virtual clock */
    uint64_t seq;            /* event sequence */
    uint32_t gen;            /* handle generations */
    GSequence *q;            /* FakeEvent*, by (t, seq) */
    TimeNs lat;              /* one-way latency */
    TimeNs syn_to;           /* SYN timeout */
    uint64_t seed;           /* master seed */
    GPtrArray *hosts;        /* FakeEnv* */
    GArray *rules;           /* FakeRule */
    GPtrArray *records;      /* FakeRecord* */
    GHashTable *metric_ids;  /* name -> id */
    GPtrArray *metric_names; /* id-1 -> name */
    GArray *totals;          /* int64 per id */
    GArray *scount;          /* uint64 per id */
    GArray *ssum;            /* double per id */
    GArray *slast;           /* double per id */
    FakeEnv *world;          /* the world-level env's pseudo host */
    GHashTable *calls;       /* call id -> 1 (dialled) or 2 + callee's NAT type (answered) */
};

static const EnvOps fake_ops;

/* ---- Utilities ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static gint ev_cmp(gconstpointer a, gconstpointer b, gpointer u)
{
    (void)u;
    const FakeEvent *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static FakeEvent *ev_new(FakeNet *net, TimeNs at, EvKind kind, FakeEnv *h)
{
    FakeEvent *e = g_new0(FakeEvent, 1);
    e->t = at;
    e->seq = net->seq++;
    e->kind = kind;
    e->h = h;
    return e;
}

static void ev_push(FakeNet *net, FakeEvent *e)
{
    g_sequence_insert_sorted(net->q, e, ev_cmp, NULL);
}

static void ev_free(gpointer p)
{
    FakeEvent *e = p;
    g_free(e->data);
    g_free(e);
}

static uint32_t next_gen(FakeNet *net)
{
    if (++net->gen == 0) net->gen = 1;
    return net->gen;
}

#define TIMER(h, i) (&g_array_index((h)->timers, FTimer, (i)))
#define SOCK(h, i) (&g_array_index((h)->socks, FSock, (i)))
#define CONN(h, i) (&g_array_index((h)->conns, FConn, (i)))

static FTimer *timer_get(FakeEnv *h, uint32_t slot, uint32_t gen)
{
    if (slot >= h->timers->len) return NULL;
    FTimer *t = TIMER(h, slot);
    return t->live && t->gen == gen ? t : NULL;
}
static FSock *sock_get(FakeEnv *h, EnvSock s)
{
    if (s.slot >= h->socks->len) return NULL;
    FSock *x = SOCK(h, s.slot);
    return x->live && x->gen == s.gen ? x : NULL;
}
static FConn *conn_get(FakeEnv *h, uint32_t slot, uint32_t gen)
{
    if (slot >= h->conns->len) return NULL;
    FConn *c = CONN(h, slot);
    return c->live && c->gen == gen ? c : NULL;
}

/* ---- Net ---- */

static FakeEnv *host_new(FakeNet *net, uint32_t ip)
{
    FakeEnv *h = g_new0(FakeEnv, 1);
    h->net = net;
    h->ip = ip;
    h->nat = NAT_OPEN;
    h->privileged = true;
    h->maps = g_array_new(FALSE, TRUE, sizeof(FakeNatMap));
    h->perms = g_array_new(FALSE, TRUE, sizeof(FakeNatPerm));
    h->next_ext = 40000;
    h->timers = g_array_new(FALSE, TRUE, sizeof(FTimer));
    h->socks = g_array_new(FALSE, TRUE, sizeof(FSock));
    h->conns = g_array_new(FALSE, TRUE, sizeof(FConn));
    h->rng = net->seed ^ (0xA5A5A5A5ull * (ip + 1));
    h->store =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_byte_array_unref);
    h->allocs = g_hash_table_new(g_direct_hash, g_direct_equal);
    h->metrics = g_array_new(FALSE, TRUE, sizeof(int64_t));
    h->inbox = g_ptr_array_new();
    return h;
}

static size_t host_free(FakeEnv *h)
{
    size_t leaked = h->mem_live;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->allocs);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_free(k);
    g_hash_table_destroy(h->allocs);
    g_hash_table_destroy(h->store);
    g_array_free(h->maps, TRUE);
    g_array_free(h->perms, TRUE);
    g_array_free(h->timers, TRUE);
    g_array_free(h->socks, TRUE);
    g_array_free(h->conns, TRUE);
    g_array_free(h->metrics, TRUE);
    for (guint i = 0; i < h->inbox->len; i++) {
        FakeInbox *x = h->inbox->pdata[i];
        g_free(x->data);
        g_free(x);
    }
    g_ptr_array_free(h->inbox, TRUE);
    g_free(h);
    return leaked;
}

FakeNet *fakenet_new(uint64_t seed)
{
    FakeNet *net = g_new0(FakeNet, 1);
    net->q = g_sequence_new(ev_free);
    net->lat = 20 * TIMENS_MS;
    net->syn_to = 21 * TIMENS_S;
    net->seed = seed;
    net->hosts = g_ptr_array_new();
    net->rules = g_array_new(FALSE, TRUE, sizeof(FakeRule));
    net->records = g_ptr_array_new();
    net->metric_ids = g_hash_table_new(g_str_hash, g_str_equal);
    net->calls = g_hash_table_new(g_direct_hash, g_direct_equal);
    net->metric_names = g_ptr_array_new_with_free_func(g_free);
    net->totals = g_array_new(FALSE, TRUE, sizeof(int64_t));
    net->scount = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    net->ssum = g_array_new(FALSE, TRUE, sizeof(double));
    net->slast = g_array_new(FALSE, TRUE, sizeof(double));
    net->world = host_new(net, 0);
    net->world->index = UINT32_MAX;
    return net;
}

size_t fakenet_free(FakeNet *net)
{
    size_t leaked = host_free(net->world);
    for (guint i = 0; i < net->hosts->len; i++)
        leaked += host_free(net->hosts->pdata[i]);
    g_ptr_array_free(net->hosts, TRUE);
    g_sequence_free(net->q);
    g_array_free(net->rules, TRUE);
    fakenet_records_clear(net);
    g_ptr_array_free(net->records, TRUE);
    g_hash_table_destroy(net->metric_ids);
    g_hash_table_destroy(net->calls);
    g_ptr_array_free(net->metric_names, TRUE);
    g_array_free(net->totals, TRUE);
    g_array_free(net->scount, TRUE);
    g_array_free(net->ssum, TRUE);
    g_array_free(net->slast, TRUE);
    g_free(net);
    return leaked;
}

TimeNs fakenet_now(const FakeNet *net)
{
    return net->now;
}
void fakenet_set_latency(FakeNet *net, TimeNs ns)
{
    net->lat = ns;
}
void fakenet_set_syn_timeout(FakeNet *net, TimeNs ns)
{
    net->syn_to = ns;
}

FakeEnv *fakenet_host_add(FakeNet *net, uint32_t ip)
{
    FakeEnv *h = host_new(net, ip);
    h->index = net->hosts->len;
    g_ptr_array_add(net->hosts, h);
    return h;
}

void fakeenv_set_nat(FakeEnv *h, NatType type, uint32_t public_ip)
{
    h->nat = type;
    h->translate = fake_nat_kinds[type].translate;
    h->nat_ip = h->translate ? public_ip : h->ip;
}

void fakeenv_set_privileged(FakeEnv *h, bool allowed)
{
    h->privileged = allowed;
}
Env fakeenv_env(FakeEnv *h)
{
    return (Env){&fake_ops, h};
}
void fakeenv_attach(FakeEnv *h, Node *n)
{
    h->node = n;
}
Node *fakeenv_node(const FakeEnv *h)
{
    return h->node;
}
uint32_t fakeenv_ip(const FakeEnv *h)
{
    return h->ip;
}
void fakeenv_set_down(FakeEnv *h, bool down)
{
    h->down = down;
}
size_t fakeenv_mem_live(const FakeEnv *h)
{
    return h->mem_live;
}
size_t fakeenv_mem_high(const FakeEnv *h)
{
    return h->mem_high;
}
uint64_t fakeenv_cpu_calls(const FakeEnv *h, EnvCost op)
{
    return h->cpu_calls[op];
}
uint64_t fakeenv_cpu_bytes(const FakeEnv *h, EnvCost op)
{
    return h->cpu_bytes[op];
}
unsigned fakeenv_warnings(const FakeEnv *h)
{
    return h->warnings;
}

unsigned fakeenv_live_timers(const FakeEnv *h)
{
    unsigned k = 0;
    for (guint i = 0; i < h->timers->len; i++)
        k += TIMER(h, i)->live;
    return k;
}
unsigned fakeenv_live_socks(const FakeEnv *h)
{
    unsigned k = 0;
    for (guint i = 0; i < h->socks->len; i++)
        k += SOCK(h, i)->live;
    return k;
}
unsigned fakeenv_live_conns(const FakeEnv *h)
{
    unsigned k = 0;
    for (guint i = 0; i < h->conns->len; i++)
        k += CONN(h, i)->live;
    return k;
}

/* ---- Addressing, NAT and rules ---- */

/* The host reachable at ip from outside (its own address if public, its
 * NAT's outside address otherwise). */
static FakeEnv *net_host_at(FakeNet *net, uint32_t ip)
{
    for (guint i = 0; i < net->hosts->len; i++) {
        FakeEnv *h = net->hosts->pdata[i];
        if ((h->translate ? h->nat_ip : h->ip) == ip) return h;
    }
    return NULL;
}

static bool rule_match(FakeNet *net, FakeRuleKind kind, EnvAddr to)
{
    for (guint i = 0; i < net->rules->len; i++) {
        FakeRule *r = &g_array_index(net->rules, FakeRule, i);
        if (r->kind != kind || r->count == 0) continue;
        if ((r->ip && r->ip != to.ip) || (r->port && r->port != to.port)) continue;
        if (r->count > 0) r->count--;
        return true;
    }
    return false;
}

void fakenet_rule(FakeNet *net, FakeRuleKind kind, uint32_t ip, uint16_t port, int count)
{
    FakeRule r = {kind, ip, port, count};
    g_array_append_val(net->rules, r);
}
void fakenet_rules_clear(FakeNet *net)
{
    g_array_set_size(net->rules, 0);
}

/* Outbound UDP through the host's NAT: the source as seen outside.
 * Returns false when the firewall drops it. */
static bool nat_out(FakeEnv *h, uint16_t port, EnvAddr to, EnvAddr *src)
{
    const FakeNatKind *k = &fake_nat_kinds[h->nat];
    *src = env_addr(h->ip, port);
    if (!k->udp) return false;
    if (k->filter == FAKE_FILTER_ANY && !k->translate) return true;
    uint16_t ext = port;
    if (h->translate) {
        bool sym = k->per_dest;
        int found = -1;
        for (guint i = 0; i < h->maps->len && found < 0; i++) {
            FakeNatMap *m = &g_array_index(h->maps, FakeNatMap, i);
            if (m->int_port == port && (!sym || (m->dst_ip == to.ip && m->dst_port == to.port)))
                found = (int)i;
        }
        if (found < 0) {
            FakeNatMap m = {port, sym ? to.ip : 0, sym ? to.port : 0, h->next_ext++};
            g_array_append_val(h->maps, m);
            found = (int)h->maps->len - 1;
        }
        ext = g_array_index(h->maps, FakeNatMap, found).ext_port;
        *src = env_addr(h->nat_ip, ext);
    }
    FakeNatPerm p = {ext, to.ip, to.port};
    g_array_append_val(h->perms, p);
    return true;
}

/* Inbound UDP to the host: the internal port, or 0 when filtered. */
static uint16_t nat_in(FakeEnv *h, EnvAddr from, uint16_t port)
{
    const FakeNatKind *k = &fake_nat_kinds[h->nat];
    if (!k->udp) return 0;
    uint16_t internal = port;
    if (h->translate) {
        internal = 0;
        for (guint i = 0; i < h->maps->len && !internal; i++) {
            FakeNatMap *m = &g_array_index(h->maps, FakeNatMap, i);
            if (m->ext_port == port) internal = m->int_port;
        }
        if (!internal) return 0;
    }
    if (k->filter == FAKE_FILTER_ANY) return internal;
    for (guint i = 0; i < h->perms->len; i++) {
        FakeNatPerm *p = &g_array_index(h->perms, FakeNatPerm, i);
        if (p->ext_port != port || p->rem_ip != from.ip) continue;
        if (k->filter == FAKE_FILTER_ADDR || p->rem_port == from.port) return internal;
    }
    return 0;
}

static void record(FakeNet *net, FakeProto proto, EnvAddr from, EnvAddr to, const uint8_t *buf,
                   size_t len)
{
    FakeRecord *r = g_new0(FakeRecord, 1);
    r->t = net->now;
    r->proto = proto;
    r->from = from;
    r->to = to;
    r->len = (uint32_t)len;
    r->data = g_memdup2(buf, len);
    g_ptr_array_add(net->records, r);
}

size_t fakenet_record_count(const FakeNet *net)
{
    return net->records->len;
}
const FakeRecord *fakenet_record_get(const FakeNet *net, size_t i)
{
    return i < net->records->len ? net->records->pdata[i] : NULL;
}
size_t fakenet_record_count_to(const FakeNet *net, FakeProto proto, uint32_t ip, uint16_t port)
{
    size_t k = 0;
    for (guint i = 0; i < net->records->len; i++) {
        const FakeRecord *r = net->records->pdata[i];
        if ((!proto || r->proto == proto) && (!ip || r->to.ip == ip) &&
            (!port || r->to.port == port))
            k++;
    }
    return k;
}
void fakenet_records_clear(FakeNet *net)
{
    for (guint i = 0; i < net->records->len; i++) {
        FakeRecord *r = net->records->pdata[i];
        g_free(r->data);
        g_free(r);
    }
    g_ptr_array_set_size(net->records, 0);
}

/* ---- EnvOps ---- */

static TimeNs f_now(void *ctx)
{
    return ((FakeEnv *)ctx)->net->now;
}

static EnvTimer f_timer_arm(FakeEnv *h, TimeNs first, TimeNs period, uint32_t tag)
{
    guint slot = 0;
    while (slot < h->timers->len && TIMER(h, slot)->live)
        slot++;
    if (slot == h->timers->len) g_array_set_size(h->timers, slot + 1);
    FTimer *t = TIMER(h, slot);
    t->gen = next_gen(h->net);
    t->live = true;
    t->period = period;
    t->tag = tag;
    FakeEvent *e = ev_new(h->net, h->net->now + first, EV_TIMER, h);
    e->slot = slot;
    e->gen = t->gen;
    ev_push(h->net, e);
    return (EnvTimer){slot, t->gen};
}

static EnvTimer f_timer_start(void *ctx, TimeNs d, uint32_t tag)
{
    return f_timer_arm(ctx, d, 0, tag);
}
static EnvTimer f_timer_start_periodic(void *ctx, TimeNs first, TimeNs period, uint32_t tag)
{
    return f_timer_arm(ctx, first, period, tag);
}
static void f_timer_cancel(void *ctx, EnvTimer t)
{
    FTimer *x = timer_get(ctx, t.slot, t.gen);
    if (x) x->live = false;
}

static uint16_t host_free_port(FakeEnv *h, bool tcp)
{
    for (uint16_t p = 49152;; p++) {
        bool used = false;
        for (guint i = 0; i < h->socks->len && !used; i++)
            used = SOCK(h, i)->live && SOCK(h, i)->tcp == tcp && SOCK(h, i)->port == p;
        if (!used) return p;
    }
}

static int f_bind(FakeEnv *h, uint16_t port, bool tcp, EnvSock *out)
{
    if (port && port < 1024 && !h->privileged) return ENV_ERR_ACCESS;
    if (!port) port = host_free_port(h, tcp);
    for (guint i = 0; i < h->socks->len; i++)
        if (SOCK(h, i)->live && SOCK(h, i)->tcp == tcp && SOCK(h, i)->port == port)
            return ENV_ERR_ADDRINUSE;
    guint slot = 0;
    while (slot < h->socks->len && SOCK(h, slot)->live)
        slot++;
    if (slot == h->socks->len) g_array_set_size(h->socks, slot + 1);
    FSock *s = SOCK(h, slot);
    s->gen = next_gen(h->net);
    s->live = true;
    s->tcp = tcp;
    s->port = port;
    *out = (EnvSock){slot, s->gen};
    return ENV_OK;
}

static int f_udp_bind(void *ctx, uint16_t port, EnvSock *out)
{
    return f_bind(ctx, port, false, out);
}
static int f_tcp_listen(void *ctx, uint16_t port, EnvSock *out)
{
    return f_bind(ctx, port, true, out);
}
static void f_sock_close(void *ctx, EnvSock s)
{
    FSock *x = sock_get(ctx, s);
    if (x) x->live = false;
}

static EnvAddr f_sock_local(void *ctx, EnvSock s)
{
    FakeEnv *h = ctx;
    FSock *x = sock_get(h, s);
    return env_addr(h->ip, x ? x->port : 0);
}

static void udp_route(FakeEnv *h, uint16_t sport, EnvAddr to, const uint8_t *buf, size_t len)
{
    FakeNet *net = h->net;
    EnvAddr src;
    bool pass = nat_out(h, sport, to, &src);
    record(net, FAKE_UDP, src, to, buf, len);
    if (!pass || h->down || rule_match(net, FAKE_UDP_DROP, to)) return;
    FakeEnv *d = net_host_at(net, to.ip);
    if (!d || d->down) return;
    uint16_t port = nat_in(d, src, to.port);
    if (!port) return;
    FakeEvent *e = ev_new(net, net->now + net->lat, EV_UDP, d);
    e->from = src;
    e->port = port;
    e->data = g_memdup2(buf, len);
    e->len = len;
    ev_push(net, e);
}

static int f_udp_send(void *ctx, EnvSock s, EnvAddr to, const uint8_t *buf, size_t len)
{
    FakeEnv *h = ctx;
    FSock *x = sock_get(h, s);
    if (!x || x->tcp) return ENV_ERR_BADHANDLE;
    if (len > ENV_UDP_MAX) return ENV_ERR_TOOBIG;
    udp_route(h, x->port, to, buf, len);
    return ENV_OK;
}

void fakeenv_udp_send_later(FakeEnv *h, TimeNs delay, EnvSock s, EnvAddr to, const uint8_t *buf,
                            size_t len)
{
    FSock *x = sock_get(h, s);
    if (!x) return;
    FakeEvent *e = ev_new(h->net, h->net->now + delay, EV_UDP_SEND_LATER, h);
    e->port = x->port;
    e->to = to;
    e->data = g_memdup2(buf, len);
    e->len = len;
    ev_push(h->net, e);
}

void fakenet_inject_udp(FakeNet *net, TimeNs t, FakeEnv *h, uint16_t port, EnvAddr from,
                        const uint8_t *buf, size_t len)
{
    FakeEvent *e = ev_new(net, t, EV_UDP, h);
    e->from = from;
    e->port = port;
    e->data = g_memdup2(buf, len);
    e->len = len;
    ev_push(net, e);
}

static guint conn_slot_new(FakeEnv *h)
{
    guint slot = 0;
    while (slot < h->conns->len && CONN(h, slot)->live)
        slot++;
    if (slot == h->conns->len) g_array_set_size(h->conns, slot + 1);
    FConn *c = CONN(h, slot);
    memset(c, 0, sizeof *c);
    c->gen = next_gen(h->net);
    c->live = true;
    return slot;
}

static void tcp_event(FakeEnv *h, TimeNs at, EvKind kind, uint32_t slot, uint32_t gen, int status)
{
    FakeEvent *e = ev_new(h->net, at, kind, h);
    e->slot = slot;
    e->gen = gen;
    e->status = status;
    ev_push(h->net, e);
}

static int f_tcp_connect(void *ctx, EnvAddr to, EnvConn *out)
{
    FakeEnv *h = ctx;
    FakeNet *net = h->net;
    guint slot = conn_slot_new(h);
    FConn *c = CONN(h, slot);
    c->remote = to;
    c->local = env_addr(h->translate ? h->nat_ip : h->ip, h->next_ext++);
    *out = (EnvConn){slot, c->gen};
    record(net, FAKE_TCP, c->local, to, NULL, 0); /* the SYN */
    FakeEnv *d = net_host_at(net, to.ip);
    bool fw_block = h->nat == NAT_TCP_ONLY && to.port != 80 && to.port != 443;
    if (rule_match(net, FAKE_TCP_REFUSE, to)) {
        tcp_event(h, net->now + 2 * net->lat, EV_TCP_CONNECTED, slot, c->gen, ENV_ERR_REFUSED);
    } else if (h->down || fw_block || rule_match(net, FAKE_TCP_BLACKHOLE, to) || !d || d->down ||
               d->nat != NAT_OPEN) {
        tcp_event(h, net->now + net->syn_to, EV_TCP_CONNECTED, slot, c->gen, ENV_ERR_TIMEOUT);
    } else {
        FakeEvent *e = ev_new(net, net->now + net->lat, EV_TCP_ACCEPT, d);
        e->port = to.port;
        e->from = c->local;
        e->src_h = h;
        e->src_slot = slot;
        e->src_gen = c->gen;
        ev_push(net, e);
    }
    return ENV_OK;
}

static int f_tcp_send(void *ctx, EnvConn c, const uint8_t *buf, size_t len)
{
    FakeEnv *h = ctx;
    FConn *x = conn_get(h, c.slot, c.gen);
    if (!x || !x->established) return ENV_ERR_BADHANDLE;
    record(h->net, FAKE_TCP, x->local, x->remote, buf, len);
    if (h->down || x->peer->down) return ENV_OK;
    FakeEvent *e = ev_new(h->net, h->net->now + h->net->lat, EV_TCP_DATA, x->peer);
    e->slot = x->peer_slot;
    e->gen = x->peer_gen;
    e->data = g_memdup2(buf, len);
    e->len = len;
    ev_push(h->net, e);
    return ENV_OK;
}

static void tcp_end(FakeEnv *h, EnvConn c, int status)
{
    FConn *x = conn_get(h, c.slot, c.gen);
    if (!x) return;
    x->live = false;
    if (x->established && !h->down && !x->peer->down)
        tcp_event(x->peer, h->net->now + h->net->lat, EV_TCP_CLOSED, x->peer_slot, x->peer_gen,
                  status);
}
static void f_tcp_close(void *ctx, EnvConn c)
{
    tcp_end(ctx, c, ENV_ERR_CLOSED);
}
static void f_tcp_abort(void *ctx, EnvConn c)
{
    tcp_end(ctx, c, ENV_ERR_RESET);
}

static uint64_t f_random(void *ctx)
{
    return splitmix(&((FakeEnv *)ctx)->rng);
}

static void f_charge(void *ctx, EnvCost op, size_t bytes)
{
    FakeEnv *h = ctx;
    h->cpu_calls[op]++;
    h->cpu_bytes[op] += bytes;
}

static void *f_alloc(void *ctx, size_t size)
{
    FakeEnv *h = ctx;
    void *p = g_malloc0(size);
    g_hash_table_insert(h->allocs, p, GSIZE_TO_POINTER(size));
    h->mem_live += size;
    if (h->mem_live > h->mem_high) h->mem_high = h->mem_live;
    return p;
}

static void f_free(void *ctx, void *p, size_t size)
{
    FakeEnv *h = ctx;
    gpointer v;
    CHECK(g_hash_table_lookup_extended(h->allocs, p, NULL, &v), "freeing unknown pointer %p", p);
    CHECK(GPOINTER_TO_SIZE(v) == size, "freeing %zu bytes of a %zu-byte block", size,
          GPOINTER_TO_SIZE(v));
    g_hash_table_remove(h->allocs, p);
    h->mem_live -= size;
    g_free(p);
}

static long f_store_get(void *ctx, const char *key, uint8_t *buf, size_t cap)
{
    return fakeenv_store_get(ctx, key, buf, cap);
}
static int f_store_put(void *ctx, const char *key, const uint8_t *buf, size_t len)
{
    CHECK(strlen(key) <= 31, "store key too long: %s", key);
    fakeenv_store_put(ctx, key, buf, len);
    return ENV_OK;
}

long fakeenv_store_get(FakeEnv *h, const char *key, uint8_t *buf, size_t cap)
{
    GByteArray *b = g_hash_table_lookup(h->store, key);
    if (!b) return -1;
    memcpy(buf, b->data, MIN(cap, b->len));
    return (long)b->len;
}
void fakeenv_store_put(FakeEnv *h, const char *key, const uint8_t *buf, size_t len)
{
    if (len == 0) {
        g_hash_table_remove(h->store, key);
        return;
    }
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, buf, (guint)len);
    g_hash_table_replace(h->store, g_strdup(key), b);
}

static EnvMetric f_intern(void *ctx, const char *name, EnvMetricKind kind)
{
    FakeNet *net = ((FakeEnv *)ctx)->net;
    (void)kind;
    gpointer v = g_hash_table_lookup(net->metric_ids, name);
    if (v) return GPOINTER_TO_UINT(v);
    char *copy = g_strdup(name);
    g_ptr_array_add(net->metric_names, copy);
    guint id = net->metric_names->len;
    g_hash_table_insert(net->metric_ids, copy, GUINT_TO_POINTER(id));
    g_array_set_size(net->totals, id + 1);
    g_array_set_size(net->scount, id + 1);
    g_array_set_size(net->ssum, id + 1);
    g_array_set_size(net->slast, id + 1);
    return id;
}

static void f_metric_add(void *ctx, EnvMetric id, int64_t delta)
{
    FakeEnv *h = ctx;
    CHECK(id < h->net->totals->len, "unknown metric id %u", id);
    g_array_index(h->net->totals, int64_t, id) += delta;
    if (h->metrics->len <= id) g_array_set_size(h->metrics, id + 1);
    g_array_index(h->metrics, int64_t, id) += delta;
}

static void f_metric_observe(void *ctx, EnvMetric id, double v)
{
    FakeNet *net = ((FakeEnv *)ctx)->net;
    CHECK(id < net->totals->len, "unknown metric id %u", id);
    g_array_index(net->scount, uint64_t, id)++;
    g_array_index(net->ssum, double, id) += v;
    g_array_index(net->slast, double, id) = v;
}

static void f_log(void *ctx, EnvLogLevel level, const char *msg)
{
    FakeEnv *h = ctx;
    if (level >= ENV_LOG_WARNING) h->warnings++;
    if (level >= ENV_LOG_WARNING || getenv("FAKENET_LOG"))
        fprintf(stderr, "[t=%.3fs host=%u.%u.%u.%u] %s\n", timens_to_s(h->net->now), h->ip >> 24,
                (h->ip >> 16) & 255, (h->ip >> 8) & 255, h->ip & 255, msg);
}

/* Host metadata: the host's NAT type is its true label. */
static int f_host_nat_label(void *ctx)
{
    return (int)((FakeEnv *)ctx)->nat;
}

/* The call matrix as sim/world/envsim.c counts it: both ends' reports
 * joined by call id, counted on the caller's host when media connects. */
static void f_call_report(void *ctx, const EnvCallReport *r)
{
    FakeEnv *h = ctx;
    gpointer key = GUINT_TO_POINTER(r->call_id);
    guint v = GPOINTER_TO_UINT(g_hash_table_lookup(h->net->calls, key));
    if (r->event == ENV_CALL_DIALLED) g_hash_table_insert(h->net->calls, key, GUINT_TO_POINTER(1));
    if (r->event == ENV_CALL_ANSWERED && v)
        g_hash_table_insert(h->net->calls, key, GUINT_TO_POINTER(2 + (guint)h->nat));
    if (r->event == ENV_CALL_ENDED) g_hash_table_remove(h->net->calls, key);
    if (r->event != ENV_CALL_CONNECTED || h->nat >= NAT_UNKNOWN || (!r->pstn && v < 2)) return;
    if (!r->pstn && v - 2 >= NAT_UNKNOWN) return;
    char name[96];
    g_snprintf(name, sizeof name, "call.matrix.%s.%s.%s", stun_nat_name(h->nat),
               r->pstn ? "pstn" : stun_nat_name((NatType)(v - 2)),
               node_call_path_name((NodeCallPath)r->path));
    f_metric_add(h, f_intern(h, name, ENV_METRIC_COUNTER), 1);
}

static const EnvOps fake_ops = {
    .version = ENV_VERSION,
    .now = f_now,
    .timer_start = f_timer_start,
    .timer_start_periodic = f_timer_start_periodic,
    .timer_cancel = f_timer_cancel,
    .udp_bind = f_udp_bind,
    .udp_send = f_udp_send,
    .udp_close = f_sock_close,
    .sock_local = f_sock_local,
    .tcp_listen = f_tcp_listen,
    .tcp_unlisten = f_sock_close,
    .tcp_connect = f_tcp_connect,
    .tcp_send = f_tcp_send,
    .tcp_close = f_tcp_close,
    .tcp_abort = f_tcp_abort,
    .random_u64 = f_random,
    .charge_cpu = f_charge,
    .mem_alloc = f_alloc,
    .mem_free = f_free,
    .store_get = f_store_get,
    .store_put = f_store_put,
    .metric_intern = f_intern,
    .metric_add = f_metric_add,
    .metric_observe = f_metric_observe,
    .log = f_log,
    .host_nat_label = f_host_nat_label,
    .call_report = f_call_report,
};

Env fakenet_world_env(FakeNet *net)
{
    return (Env){&fake_ops, net->world};
}

/* ---- Metrics queries ---- */

static guint metric_id(const FakeNet *net, const char *name)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(net->metric_ids, name));
}
int64_t fakenet_metric(const FakeNet *net, const char *name)
{
    guint id = metric_id(net, name);
    return id ? g_array_index(net->totals, int64_t, id) : 0;
}
int64_t fakeenv_metric(const FakeEnv *h, const char *name)
{
    guint id = metric_id(h->net, name);
    return id && id < h->metrics->len ? g_array_index(h->metrics, int64_t, id) : 0;
}
uint64_t fakenet_sample_count(const FakeNet *net, const char *name)
{
    guint id = metric_id(net, name);
    return id ? g_array_index(net->scount, uint64_t, id) : 0;
}
double fakenet_sample_sum(const FakeNet *net, const char *name)
{
    guint id = metric_id(net, name);
    return id ? g_array_index(net->ssum, double, id) : 0;
}
double fakenet_sample_last(const FakeNet *net, const char *name)
{
    guint id = metric_id(net, name);
    return id ? g_array_index(net->slast, double, id) : 0;
}

/* ---- Capture ---- */

void fakeenv_capture(FakeEnv *h, bool on)
{
    h->capture = on;
}
size_t fakeenv_inbox_count(const FakeEnv *h)
{
    return h->inbox->len;
}
const FakeInbox *fakeenv_inbox_get(const FakeEnv *h, size_t i)
{
    return i < h->inbox->len ? h->inbox->pdata[i] : NULL;
}

static void capture(FakeEnv *h, int kind, uint32_t slot, uint32_t gen, int status, EnvAddr from,
                    const uint8_t *data, size_t len)
{
    if (!h->capture || h->node) return;
    FakeInbox *x = g_new0(FakeInbox, 1);
    x->kind = kind;
    x->slot = slot;
    x->gen = gen;
    x->status = status;
    x->from = from;
    x->len = (uint32_t)len;
    x->data = g_memdup2(data, len);
    g_ptr_array_add(h->inbox, x);
}

/* ---- Event loop ---- */

static void deliver_accept(FakeNet *net, FakeEvent *e)
{
    FakeEnv *d = e->h, *s = e->src_h;
    FConn *sc = conn_get(s, e->src_slot, e->src_gen);
    if (!sc) return; /* the connector gave up meanwhile */
    int lsock = -1;
    for (guint i = 0; i < d->socks->len && lsock < 0; i++)
        if (SOCK(d, i)->live && SOCK(d, i)->tcp && SOCK(d, i)->port == e->port) lsock = (int)i;
    if (lsock < 0 || d->down) {
        tcp_event(s, net->now + net->lat, EV_TCP_CONNECTED, e->src_slot, e->src_gen,
                  d->down ? ENV_ERR_TIMEOUT : ENV_ERR_REFUSED);
        return;
    }
    guint slot = conn_slot_new(d);
    FConn *dc = CONN(d, slot);
    sc = conn_get(s, e->src_slot, e->src_gen); /* arrays may have moved (s == d) */
    dc->established = true;
    dc->peer = s;
    dc->peer_slot = e->src_slot;
    dc->peer_gen = e->src_gen;
    dc->local = env_addr(d->ip, e->port);
    dc->remote = e->from;
    sc->peer = d;
    sc->peer_slot = slot;
    sc->peer_gen = dc->gen;
    tcp_event(s, net->now + net->lat, EV_TCP_CONNECTED, e->src_slot, e->src_gen, ENV_OK);
    if (d->node)
        node_ops.on_tcp_accept(d->node, (EnvSock){(uint32_t)lsock, SOCK(d, lsock)->gen},
                               (EnvConn){slot, dc->gen}, e->from);
    capture(d, 2, slot, dc->gen, ENV_OK, e->from, NULL, 0);
}

static void deliver(FakeNet *net, FakeEvent *e)
{
    FakeEnv *h = e->h;
    Node *n = h->node;
    switch (e->kind) {
    case EV_TIMER: {
        FTimer *t = timer_get(h, e->slot, e->gen);
        if (!t) return;
        uint32_t tag = t->tag;
        if (t->period) {
            FakeEvent *r = ev_new(net, net->now + t->period, EV_TIMER, h);
            r->slot = e->slot;
            r->gen = e->gen;
            ev_push(net, r);
        } else {
            t->live = false;
        }
        if (n) node_ops.on_timer(n, (EnvTimer){e->slot, e->gen}, tag);
        return;
    }
    case EV_UDP:
        if (h->down) return;
        for (guint i = 0; i < h->socks->len; i++) {
            FSock *s = SOCK(h, i);
            if (s->live && !s->tcp && s->port == e->port) {
                if (n) node_ops.on_datagram(n, (EnvSock){i, s->gen}, e->from, e->data, e->len);
                capture(h, 1, i, s->gen, ENV_OK, e->from, e->data, e->len);
                return;
            }
        }
        return;
    case EV_UDP_SEND_LATER:
        udp_route(h, e->port, e->to, e->data, e->len);
        return;
    case EV_TCP_ACCEPT:
        deliver_accept(net, e);
        return;
    case EV_TCP_CONNECTED: {
        FConn *c = conn_get(h, e->slot, e->gen);
        if (!c) return;
        if (e->status == ENV_OK)
            c->established = true;
        else
            c->live = false;
        if (n) node_ops.on_tcp_connected(n, (EnvConn){e->slot, e->gen}, e->status);
        capture(h, 3, e->slot, e->gen, e->status, env_addr(0, 0), NULL, 0);
        return;
    }
    case EV_TCP_DATA:
        if (!conn_get(h, e->slot, e->gen)) return;
        if (n) node_ops.on_tcp_data(n, (EnvConn){e->slot, e->gen}, e->data, e->len);
        capture(h, 4, e->slot, e->gen, ENV_OK, env_addr(0, 0), e->data, e->len);
        return;
    case EV_TCP_CLOSED: {
        FConn *c = conn_get(h, e->slot, e->gen);
        if (!c) return;
        c->live = false;
        if (n) node_ops.on_tcp_closed(n, (EnvConn){e->slot, e->gen}, e->status);
        capture(h, 5, e->slot, e->gen, e->status, env_addr(0, 0), NULL, 0);
        return;
    }
    }
}

/* Pops and runs the first event if its time is <= limit. */
static bool run_one(FakeNet *net, TimeNs limit)
{
    GSequenceIter *it = g_sequence_get_begin_iter(net->q);
    if (g_sequence_iter_is_end(it)) return false;
    FakeEvent *e = g_sequence_get(it);
    if (e->t > limit) return false;
    FakeEvent copy = *e; /* g_sequence_remove frees e and its payload */
    copy.data = g_memdup2(e->data, e->len);
    g_sequence_remove(it);
    net->now = copy.t;
    deliver(net, &copy);
    g_free(copy.data);
    return true;
}

void fakenet_run_until(FakeNet *net, TimeNs t)
{
    while (run_one(net, t)) {
    }
    if (t > net->now) net->now = t;
}

void fakenet_run_for(FakeNet *net, TimeNs d)
{
    fakenet_run_until(net, net->now + d);
}

bool fakenet_run_while_not(FakeNet *net, bool (*pred)(void *arg), void *arg, TimeNs limit)
{
    if (pred(arg)) return true;
    while (run_one(net, limit))
        if (pred(arg)) return true;
    if (limit > net->now) net->now = limit;
    return false;
}

/* ---- FakeWorld ---- */

static FakeWorld *fakeworld_make(uint64_t seed, const NodeParams *p,
                                 const struct NodeFeature *const *features, size_t n_features)
{
    FakeWorld *w = g_new0(FakeWorld, 1);
    w->net = fakenet_new(seed);
    if (p)
        w->p = *p;
    else {
        node_params_default(&w->p);
        w->p.server_key_bits = 1024;
    }
    Env we = fakenet_world_env(w->net);
    GError *err = NULL;
    w->sh = features ? node_shared_new_with(&we, &w->p, features, n_features, &err)
                     : node_shared_new(&we, &w->p, &err);
    CHECK(w->sh, "node_shared_new: %s", err ? err->message : "?");
    w->login = w->web = FW_MAX;
    return w;
}

FakeWorld *fakeworld_new_with(uint64_t seed, const NodeParams *p,
                              const struct NodeFeature *const *features, size_t n_features)
{
    CHECK(features != NULL, "no features");
    return fakeworld_make(seed, p, features, n_features);
}

FakeWorld *fakeworld_new(uint64_t seed, const NodeParams *p, bool with_servers)
{
    FakeWorld *w = fakeworld_make(seed, p, NULL, 0);
    if (!with_servers) return w;
    w->boot0 = w->n;
    for (unsigned i = 0; i < w->p.n_bootstrap; i++) {
        NodeConfig c = {.role = NODE_ROLE_BOOTSTRAP, .port = w->p.bootstrap[i].port};
        fakeworld_add(w, w->p.bootstrap[i].ip, &c, NAT_OPEN, 0);
        w->nboot++;
    }
    NodeConfig ls = {.role = NODE_ROLE_LOGIN_SERVER, .port = w->p.login_server.port};
    w->login = fakeworld_add(w, w->p.login_server.ip, &ls, NAT_OPEN, 0);
    NodeConfig ws = {.role = NODE_ROLE_WEB_SERVER, .port = w->p.web_server.port};
    w->web = fakeworld_add(w, w->p.web_server.ip, &ws, NAT_OPEN, 0);
    fakeworld_start(w, w->login);
    fakeworld_start(w, w->web);
    for (unsigned i = 0; i < w->nboot; i++)
        fakeworld_start(w, w->boot0 + i);
    return w;
}

unsigned fakeworld_add(FakeWorld *w, uint32_t ip, const NodeConfig *cfg, NatType nat,
                       uint32_t nat_ip)
{
    CHECK(w->n < FW_MAX, "too many nodes");
    unsigned i = w->n++;
    w->h[i] = fakenet_host_add(w->net, ip);
    fakeenv_set_nat(w->h[i], nat, nat_ip);
    w->env[i] = fakeenv_env(w->h[i]);
    w->cfg[i] = *cfg;
    w->cfg[i].id = i;
    if (cfg->role == NODE_ROLE_CLIENT) {
        g_snprintf(w->user[i], sizeof w->user[i], "%s", cfg->username ? cfg->username : "");
        g_snprintf(w->pass[i], sizeof w->pass[i], "%s", cfg->password ? cfg->password : "");
        if (!cfg->username) g_snprintf(w->user[i], sizeof w->user[i], "u%u", i);
        if (!cfg->password) g_snprintf(w->pass[i], sizeof w->pass[i], "pw%u", i);
        w->cfg[i].username = w->user[i];
        w->cfg[i].password = w->pass[i];
        if (w->login < FW_MAX && w->node[w->login])
            node_loginsrv_user_add(w->node[w->login], w->user[i], w->pass[i]);
    }
    return i;
}

unsigned fakeworld_client(FakeWorld *w, uint32_t ip, NatType nat)
{
    NodeConfig c = {.role = NODE_ROLE_CLIENT, .uplink_kbps = 1000, .cpu_mhz = 2000};
    uint32_t outside = ip ^ 0x80000000u; /* a distinct public address for its NAT */
    return fakeworld_add(w, ip, &c, nat, outside);
}

void fakeworld_set_env(FakeWorld *w, unsigned i, Env e)
{
    w->env[i] = e;
}

void fakeworld_start(FakeWorld *w, unsigned i)
{
    CHECK(!w->node[i], "node %u already running", i);
    w->node[i] = node_new(&w->env[i], w->sh, &w->cfg[i]);
    fakeenv_attach(w->h[i], w->node[i]);
    node_ops.start(w->node[i]);
}

void fakeworld_stop(FakeWorld *w, unsigned i, bool graceful)
{
    if (!w->node[i]) return;
    node_ops.stop(w->node[i], graceful);
    fakeenv_attach(w->h[i], NULL);
    node_free(w->node[i]);
    w->node[i] = NULL;
}

void fakeworld_crash(FakeWorld *w, unsigned i)
{
    fakeenv_set_down(w->h[i], true);
    fakeworld_stop(w, i, false);
}

size_t fakeworld_free(FakeWorld *w)
{
    for (unsigned i = 0; i < w->n; i++)
        fakeworld_stop(w, i, true);
    node_shared_free(w->sh);
    size_t leaked = fakenet_free(w->net);
    g_free(w);
    return leaked;
}
