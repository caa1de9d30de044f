/* workload: buddy lists and the user activity process (see workload.h).
 *
 * Structure: buddy lists (built once), then one part per activity. Each
 * activity keeps one pending event per online client and its own random
 * stream: WorkloadSearch (user searches) and WorkloadCall (calls,
 * conferences and calls to phone numbers).
 */
#include "sim/world/workload.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/kernel/rng.h"
#include "sim/world/dist.h"

#define WORKLOAD_ENTITY (UINT64_MAX - 2) /* entity id of the workload process */
#define WORKLOAD_STREAM_BUDDIES 1        /* rng stream of the buddy lists */
#define WORKLOAD_STREAM_SEARCH 2         /* rng stream of the searches */
#define WORKLOAD_STREAM_CALLS 3          /* rng stream of the calls */
#define WORKLOAD_STREAM_HOLDS 4          /* rng stream of the holds */

typedef struct WorkloadSearch {
    Rng rng;          /* inter-search times and targets */
    SimEventId *next; /* per client: pending search, or none */
    double mean_s;    /* mean time between searches of one user, s; 0: off */
    uint64_t issued;  /* searches accepted by the nodes */
} WorkloadSearch;

typedef struct WorkloadCall {
    Rng rng;          /* inter-call times, kinds, targets and durations */
    SimEventId *next; /* per client: pending call, or none */
    double mean_s;    /* mean time between calls of one user, s; 0: off */
    uint64_t issued;  /* two-party calls accepted by the nodes */
    uint64_t confs;   /* conferences accepted by the nodes */
    uint64_t phone;   /* calls to phone numbers accepted by the nodes */
} WorkloadCall;

typedef struct WorkloadHold {
    Rng rng;          /* times between holds, hold durations */
    SimEventId *next; /* per client: pending hold or resume, or none */
    uint8_t *held;    /* per client: 1 while the workload holds its call */
    double mean_s;    /* mean call time between holds, s; 0: off */
} WorkloadHold;

struct Workload {
    Sim *sim;                 /* borrowed */
    const ScenarioSpec *spec; /* borrowed */
    size_t n;                 /* clients */
    WorkloadNameFn name;      /* user names */
    WorkloadNodeFn node;      /* online nodes */
    void *ctx;                /* for the callbacks */
    uint32_t *buddy_off;      /* n + 1 offsets into buddy_ids (CSR) */
    uint32_t *buddy_ids;      /* buddies as client indexes */
    WorkloadSearch search;    /* user searches */
    WorkloadCall call;        /* calls, conferences, phone calls */
    WorkloadHold hold;        /* holds of the calls placed */
};

/* ---- Buddy lists ---- */

static int workload_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Draws the relations (pairs, both directions), then builds the CSR
 * lists: sorted, duplicates removed, capped at NODE_BUDDY_MAX. */
static void workload_buddies_build(Workload *wl)
{
    Rng r;
    sim_rng_init(wl->sim, &r, WORKLOAD_ENTITY, WORKLOAD_STREAM_BUDDIES);
    GArray *pairs = g_array_new(FALSE, FALSE, sizeof(uint32_t) * 2);
    uint32_t *deg = g_new0(uint32_t, wl->n + 1);
    for (size_t u = 0; wl->n > 1 && u < wl->n; u++) {
        size_t k = (size_t)ceil(round(dist_draw(&wl->spec->workload.buddies, &r)) / 2);
        for (size_t i = 0; i < k && i < NODE_BUDDY_MAX; i++) {
            uint32_t v = (uint32_t)rng_below(&r, wl->n - 1);
            if (v >= u) v++;
            uint32_t p[2][2] = {{(uint32_t)u, v}, {v, (uint32_t)u}};
            g_array_append_vals(pairs, p, 2);
            deg[u]++;
            deg[v]++;
        }
    }
    wl->buddy_off = g_new0(uint32_t, wl->n + 1);
    for (size_t u = 0; u < wl->n; u++) wl->buddy_off[u + 1] = wl->buddy_off[u] + deg[u];
    wl->buddy_ids = g_new0(uint32_t, wl->buddy_off[wl->n] + 1);
    memset(deg, 0, (wl->n + 1) * sizeof *deg);
    for (guint i = 0; i < pairs->len; i++) {
        const uint32_t *p = &g_array_index(pairs, uint32_t, 2 * i);
        wl->buddy_ids[wl->buddy_off[p[0]] + deg[p[0]]++] = p[1];
    }
    g_array_free(pairs, TRUE);
    /* Sort, deduplicate and cap each list in place, then compact. */
    uint32_t out = 0;
    for (size_t u = 0; u < wl->n; u++) {
        uint32_t b = wl->buddy_off[u], e = b + deg[u], start = out;
        qsort(wl->buddy_ids + b, e - b, sizeof(uint32_t), workload_cmp_u32);
        for (uint32_t i = b; i < e && out - start < NODE_BUDDY_MAX; i++)
            if (i == b || wl->buddy_ids[i] != wl->buddy_ids[i - 1]) wl->buddy_ids[out++] = wl->buddy_ids[i];
        wl->buddy_off[u] = start;
    }
    wl->buddy_off[wl->n] = out;
    g_free(deg);
}

size_t workload_buddy_count(const Workload *wl, size_t client)
{
    return wl->buddy_off[client + 1] - wl->buddy_off[client];
}

size_t workload_buddy_get(const Workload *wl, size_t client, size_t j)
{
    CHECK(j < workload_buddy_count(wl, client), "buddy %zu of %zu", j, workload_buddy_count(wl, client));
    return wl->buddy_ids[wl->buddy_off[client] + j];
}

void workload_buddies_register(const Workload *wl, Node *login_server)
{
    char names[NODE_BUDDY_MAX][32], user[32];
    const char *ptr[NODE_BUDDY_MAX];
    for (size_t u = 0; u < wl->n; u++) {
        size_t k = MIN(workload_buddy_count(wl, u), (size_t)NODE_BUDDY_MAX);
        if (k == 0) continue;
        for (size_t j = 0; j < k; j++) {
            wl->name(wl->ctx, workload_buddy_get(wl, u, j), names[j], sizeof names[j]);
            ptr[j] = names[j];
        }
        wl->name(wl->ctx, u, user, sizeof user);
        node_loginsrv_buddies_set(login_server, user, ptr, k);
    }
}

/* ---- WorkloadSearch ---- */

static void workload_search_fire(Sim *sim, void *ctx, uint64_t client);

static void workload_search_schedule(Workload *wl, size_t client)
{
    WorkloadSearch *s = &wl->search;
    if (s->mean_s <= 0) return;
    gsl_rng g;
    double dt = gsl_ran_exponential(rng_gsl(&s->rng, &g), s->mean_s);
    TimeNs at = timens_add_sat(sim_now(wl->sim), timens_from_s(dt));
    if (at > wl->spec->duration_ns) return;
    s->next[client] = sim_at(wl->sim, at, workload_search_fire, wl, client);
}

/* A buddy half of the time (when there is one), else any other user. */
static size_t workload_search_target(Workload *wl, size_t client)
{
    WorkloadSearch *s = &wl->search;
    size_t nb = workload_buddy_count(wl, client);
    if (nb > 0 && rng_uniform(&s->rng) < 0.5) return workload_buddy_get(wl, client, rng_below(&s->rng, nb));
    size_t v = rng_below(&s->rng, wl->n - 1);
    return v >= client ? v + 1 : v;
}

static void workload_search_fire(Sim *sim, void *ctx, uint64_t client)
{
    (void)sim;
    Workload *wl = ctx;
    WorkloadSearch *s = &wl->search;
    s->next[client] = SIM_EVENT_NONE;
    Node *n = wl->node(wl->ctx, client);
    if (n && wl->n > 1 && node_state(n) == NODE_ST_ONLINE) {
        char user[32];
        wl->name(wl->ctx, workload_search_target(wl, client), user, sizeof user);
        if (node_search(n, user)) s->issued++;
    }
    workload_search_schedule(wl, client);
}

uint64_t workload_searches(const Workload *wl)
{
    return wl->search.issued;
}

/* ---- WorkloadCall ---- */

static void workload_call_fire(Sim *sim, void *ctx, uint64_t client);

static void workload_call_schedule(Workload *wl, size_t client)
{
    WorkloadCall *c = &wl->call;
    if (c->mean_s <= 0) return;
    gsl_rng g;
    double dt = gsl_ran_exponential(rng_gsl(&c->rng, &g), c->mean_s);
    TimeNs at = timens_add_sat(sim_now(wl->sim), timens_from_s(dt));
    if (at > wl->spec->duration_ns) return;
    c->next[client] = sim_at(wl->sim, at, workload_call_fire, wl, client);
}

/* Client indexes of up to max buddies of `client` its node sees online,
 * in list order. */
static size_t workload_call_buddies_online(Workload *wl, size_t client, Node *n, uint32_t *out,
                                           size_t max)
{
    size_t k = 0, nb = workload_buddy_count(wl, client);
    char user[32];
    for (size_t j = 0; j < nb && k < max; j++) {
        size_t b = workload_buddy_get(wl, client, j);
        wl->name(wl->ctx, b, user, sizeof user);
        if (node_buddy_online(n, user)) out[k++] = (uint32_t)b;
    }
    return k;
}

/* The callee: a buddy seen online, drawn uniformly; else any other user. */
static size_t workload_call_target(Workload *wl, size_t client, Node *n)
{
    uint32_t on[NODE_BUDDY_MAX];
    size_t k = workload_call_buddies_online(wl, client, n, on, NODE_BUDDY_MAX);
    if (k > 0) return on[rng_below(&wl->call.rng, k)];
    size_t v = rng_below(&wl->call.rng, wl->n - 1);
    return v >= client ? v + 1 : v;
}

/* A conference of conference_size: the organiser, its buddies seen online
 * first, then other users drawn uniformly among those online and idle
 * (at most 4 draws per seat). */
static bool workload_call_conference(Workload *wl, size_t client, Node *n, TimeNs dur)
{
    WorkloadCall *c = &wl->call;
    size_t want = MIN((size_t)wl->spec->workload.conference_size - 1, (size_t)NODE_CONF_MAX - 1);
    uint32_t who[NODE_CONF_MAX];
    size_t k = workload_call_buddies_online(wl, client, n, who, want);
    for (size_t tries = 0; k < want && tries < 4 * want; tries++) {
        size_t v = rng_below(&c->rng, wl->n);
        Node *m = wl->node(wl->ctx, v);
        bool dup = v == client;
        for (size_t i = 0; i < k; i++) dup = dup || who[i] == v;
        if (!dup && m && node_state(m) == NODE_ST_ONLINE && node_call_state(m) == NODE_CALL_IDLE)
            who[k++] = (uint32_t)v;
    }
    char names[NODE_CONF_MAX][32];
    const char *ptr[NODE_CONF_MAX];
    for (size_t i = 0; i < k; i++) {
        wl->name(wl->ctx, who[i], names[i], sizeof names[i]);
        ptr[i] = names[i];
    }
    return k >= 2 && node_conf_start(n, ptr, k, dur);
}

/* ---- WorkloadHold ---- */

static void workload_hold_fire(Sim *sim, void *ctx, uint64_t client);

/* The next hold of client's call in an exponential time (d < 0), or its
 * resume after d seconds. */
static void workload_hold_schedule(Workload *wl, size_t client, double d)
{
    WorkloadHold *h = &wl->hold;
    if (h->mean_s <= 0) return;
    if (d < 0) {
        gsl_rng g;
        d = gsl_ran_exponential(rng_gsl(&h->rng, &g), h->mean_s);
    }
    TimeNs at = timens_add_sat(sim_now(wl->sim), MAX(timens_from_s(d), TIMENS_MS));
    if (at > wl->spec->duration_ns) return;
    h->next[client] = sim_at(wl->sim, at, workload_hold_fire, wl, client);
}

/* While the call the client placed lasts: hold it when connected, resume
 * after a draw of hold_duration, again after an exponential time. */
static void workload_hold_fire(Sim *sim, void *ctx, uint64_t client)
{
    (void)sim;
    Workload *wl = ctx;
    WorkloadHold *h = &wl->hold;
    h->next[client] = SIM_EVENT_NONE;
    Node *n = wl->node(wl->ctx, client);
    if (!n || node_call_state(n) == NODE_CALL_IDLE) {
        h->held[client] = 0; /* the call is over: its holds too */
        return;
    }
    if (h->held[client]) {
        (void)node_call_hold(n, false);
        h->held[client] = 0;
        workload_hold_schedule(wl, client, -1);
        return;
    }
    if (node_call_hold(n, true)) {
        h->held[client] = 1;
        workload_hold_schedule(wl, client, dist_draw(&wl->spec->workload.hold_duration, &h->rng));
        return;
    }
    workload_hold_schedule(wl, client, -1); /* still setting up: later */
}

/* A call was placed: its holds start. */
static void workload_hold_start(Workload *wl, size_t client)
{
    sim_cancel(wl->sim, wl->hold.next[client]);
    wl->hold.next[client] = SIM_EVENT_NONE;
    wl->hold.held[client] = 0;
    workload_hold_schedule(wl, client, -1);
}

/* Kind drawn first (conference, phone, two-party), then the call's length
 * and its other end(s). */
static void workload_call_place(Workload *wl, size_t client, Node *n)
{
    WorkloadCall *c = &wl->call;
    const ScenarioWorkload *sw = &wl->spec->workload;
    double u = rng_uniform(&c->rng);
    double secs = dist_draw(&sw->call_duration, &c->rng);
    TimeNs dur = MAX(timens_from_s(secs), TIMENS_S);
    if (u < sw->conference_share) {
        if (workload_call_conference(wl, client, n, dur)) c->confs++;
        return;
    }
    if (u < sw->conference_share + sw->pstn_share) {
        char number[32]; /* a phone number: no draw, so the stream stays as it was */
        g_snprintf(number, sizeof number, "+1555%07zu", (size_t)(c->phone % 10000000));
        if (node_call_phone(n, number, dur)) {
            c->phone++;
            workload_hold_start(wl, client);
        }
        return;
    }
    char user[32];
    wl->name(wl->ctx, workload_call_target(wl, client, n), user, sizeof user);
    if (node_call(n, user, dur)) {
        c->issued++;
        workload_hold_start(wl, client);
    }
}

static void workload_call_fire(Sim *sim, void *ctx, uint64_t client)
{
    (void)sim;
    Workload *wl = ctx;
    wl->call.next[client] = SIM_EVENT_NONE;
    Node *n = wl->node(wl->ctx, client);
    if (n && wl->n > 1 && node_state(n) == NODE_ST_ONLINE && node_call_state(n) == NODE_CALL_IDLE)
        workload_call_place(wl, client, n);
    workload_call_schedule(wl, client);
}

uint64_t workload_calls(const Workload *wl)
{
    return wl->call.issued;
}

uint64_t workload_conferences(const Workload *wl)
{
    return wl->call.confs;
}

uint64_t workload_phone_calls(const Workload *wl)
{
    return wl->call.phone;
}

/* ---- Lifecycle ---- */

Workload *workload_new(Sim *sim, const ScenarioSpec *spec, size_t clients, WorkloadNameFn name,
                       WorkloadNodeFn node, void *ctx)
{
    Workload *wl = g_new0(Workload, 1);
    *wl = (Workload){.sim = sim, .spec = spec, .n = clients, .name = name, .node = node, .ctx = ctx};
    workload_buddies_build(wl);
    sim_rng_init(sim, &wl->search.rng, WORKLOAD_ENTITY, WORKLOAD_STREAM_SEARCH);
    wl->search.next = g_new0(SimEventId, clients + 1);
    double rate = spec->workload.search_rate;
    wl->search.mean_s = rate > 0 ? 3600.0 / rate : 0;
    sim_rng_init(sim, &wl->call.rng, WORKLOAD_ENTITY, WORKLOAD_STREAM_CALLS);
    wl->call.next = g_new0(SimEventId, clients + 1);
    rate = spec->workload.call_rate;
    wl->call.mean_s = rate > 0 ? 3600.0 / rate : 0;
    sim_rng_init(sim, &wl->hold.rng, WORKLOAD_ENTITY, WORKLOAD_STREAM_HOLDS);
    wl->hold.next = g_new0(SimEventId, clients + 1);
    wl->hold.held = g_new0(uint8_t, clients + 1);
    rate = spec->workload.hold_rate;
    wl->hold.mean_s = rate > 0 ? 3600.0 / rate : 0;
    return wl;
}

void workload_free(Workload *wl)
{
    if (!wl) return;
    g_free(wl->buddy_off);
    g_free(wl->buddy_ids);
    g_free(wl->search.next);
    g_free(wl->call.next);
    g_free(wl->hold.next);
    g_free(wl->hold.held);
    g_free(wl);
}

void workload_client_online(Workload *wl, size_t client)
{
    sim_cancel(wl->sim, wl->search.next[client]);
    workload_search_schedule(wl, client);
    sim_cancel(wl->sim, wl->call.next[client]);
    workload_call_schedule(wl, client);
}

void workload_client_offline(Workload *wl, size_t client)
{
    sim_cancel(wl->sim, wl->search.next[client]);
    wl->search.next[client] = SIM_EVENT_NONE;
    sim_cancel(wl->sim, wl->call.next[client]);
    wl->call.next[client] = SIM_EVENT_NONE;
    sim_cancel(wl->sim, wl->hold.next[client]);
    wl->hold.next[client] = SIM_EVENT_NONE;
    wl->hold.held[client] = 0;
}
