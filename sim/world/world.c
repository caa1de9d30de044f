/* world: building and driving a scenario; see world.h.
 *
 * Topology built per population group (scenarios/README.md):
 *   - no NAT: every client is a site (public host) with the group's access
 *     link and firewall;
 *   - NAT: hosts_per_nat clients share one home NAT, the home NAT is the
 *     site and carries the group's access link; with "cgn", the home NATs
 *     of cgn_subscribers subscribers sit in the private realm of one
 *     carrier-grade NAT, which is then the site (its link is the ISP side:
 *     unlimited rate) and the home NAT's link is the subscriber's line.
 * Servers (login server, web server, the bootstrap supernodes, dedicated
 * supernodes, and the phone gateway when workload.pstn_share > 0) are
 * public hosts at the addresses the scenario's protocol section gives
 * (login_server, web_server, bootstrap, phone_gateway), listening on its ports.
 *
 * Churn (scenarios/README.md, churn): with model "none" every client logs in once,
 * uniformly over the ramp. With "distribution", a client is online at the
 * start with the steady-state probability E[on] / (E[on] + E[off]); each
 * session length and off time is drawn from the scenario's distributions;
 * a login time is accepted with probability w(hour) / max(w) of the
 * arrival pattern, else the off time is drawn again (thinning). Logouts are
 * graceful; scheduled "crash" events take the host down without goodbye.
 * All churn draws come from the world's own random stream, so adding a
 * node never changes another's protocol draws.
 *
 * With "trace" (churntrace.h) the trace file is read by churntrace; the
 * i-th trace node (in order of first appearance) drives the i-th client,
 * clients beyond the trace's nodes stay offline and trace nodes beyond the
 * clients are ignored (counts in the gauges churn.trace.*). A client logs
 * in at the start of each of its intervals and logs out gracefully at its
 * end, in virtual time (trace time - offset) * scale; an interval already
 * running at time 0 logs in at 0; times after the duration are not
 * scheduled. Only the next trace event of a client is pending at a time.
 * After a scheduled crash or logout the client comes back at the start of
 * its next interval; after a scheduled login it stays until the end of the
 * interval it is in (or of its next one).
 */
#include "sim/world/world.h"

#include <math.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/kernel/rng.h"
#include "sim/world/churntrace.h"
#include "sim/world/workload.h"
#include "sim/net/latency.h"
#include "sim/net/nat.h"
#include "sim/net/pcap.h"
#include "sim/world/dist.h"

G_DEFINE_QUARK(skysim-world-error-quark, world_error)

#define WORLD_STREAM_CHURN 2   /* rng stream of the churn process */
#define WORLD_STREAM_EVENTS 3  /* rng stream of scheduled events */
#define WORLD_STREAM_TOPO 4    /* rng stream of topology choices */
#define WORLD_ENTITY UINT64_MAX - 1 /* entity id of world-wide processes */
#define WORLD_CPU_MHZ_PER_SPEED 2000.0 /* CPU speed 1.0 = a 2 GHz core */
#define WORLD_SERVER_BPS 100000000ULL  /* servers and dedicated supernodes: 100 Mbit/s */
#define WORLD_SERVER_SPEED 2.0         /* their CPU speed factor */
#define WORLD_THINNING_MAX 1000        /* redraws of an off time before giving up thinning */

typedef struct WorldPeer {
    EnvSimNode *en;       /* env context (owned by the EnvSim) */
    Node *node;           /* protocol node while online, else NULL */
    NodeRole role;        /* role */
    uint32_t host;        /* Net host */
    int32_t group;        /* population group, -1 for servers */
    NatType true_nat;     /* network situation (label for metrics) */
    uint32_t uplink_kbps; /* access uplink, kbit/s */
    uint32_t cpu_mhz;     /* CPU, MHz-equivalent */
    uint16_t port;        /* servers: listening port from the scenario; 0: the role's own */
    bool online;          /* node started and not stopped */
    TimeNs logged_out_at; /* when it last stopped while logged in; -1: never logged in and out */
    bool host_down;       /* host taken down by a crash */
    SimEventId next;      /* pending churn event (login or logout) */
} WorldPeer;

struct World {
    const ScenarioSpec *spec; /* borrowed */
    Sim *sim;                 /* owned */
    Latency *lat;             /* owned */
    Net *net;                 /* owned */
    Metrics *metrics;         /* owned */
    EnvSim *es;               /* owned */
    NodeShared *shared;       /* owned */
    WorldPeer *peers;         /* servers first, then clients; owned */
    size_t npeers;            /* entries of peers */
    size_t first_client;      /* index of the first client in peers */
    Rng churn_rng;            /* churn draws */
    Rng event_rng;            /* scheduled-event draws */
    double diurnal_max;       /* largest hourly arrival weight */
    uint64_t logins;          /* logins started */
    uint64_t logouts;         /* graceful logouts */
    uint64_t crashes;         /* crashes */
    uint32_t m_online;        /* metric: clients online (gauge) */
    uint32_t m_search[3][2];  /* metrics: searches by target state (online, recent, old) x
                                 (found, absent) */
    uint32_t m_call[3][2];    /* metrics: calls by callee state (free, busy, offline) x
                                 (connected, failed) */
    GHashTable *call_target;  /* call id -> 1 + WORLD_CALL_* of its callee (world_on_call) */
    FILE *trace;              /* event trace, borrowed; NULL: none */
    EnvTrace *env_trace;      /* env trace of one node (envtrace.h), owned; NULL: none */
    uint32_t *host_peer;      /* Net host id -> peer index (UINT32_MAX: none); owned */
    ChurnTrace *churn_trace;  /* trace churn: the trace, owned; NULL otherwise */
    Workload *wl;             /* buddy lists and user activity (searches), owned */
    size_t trace_clients;     /* trace churn: clients driven by a trace node */
    size_t *trace_pos;        /* trace churn: per driven client, first interval not over; owned */
    uint32_t host_peer_cap;   /* entries of host_peer */
    struct WorldTsRelay {
        double bytes;                /* METRIC_RELAY_BYTES at the previous row, bytes */
        TimeNs at;                   /* time of the previous row, ns */
    } *ts_relay;              /* relay_bandwidth_bps column: state between rows; owned */
    struct WorldActionArgs {
        struct World *w;             /* back pointer */
        ScenarioEventAction action;  /* what the event does */
    } actions[3];             /* contexts of scheduled actions, by ScenarioEventAction */
};

/* ---- helpers ---------------------------------------------------------- */

/* The configured role's name in nodes.csv. */
static const char *world_role_name(NodeRole r)
{
    switch (r) {
    case NODE_ROLE_CLIENT: return "client";
    case NODE_ROLE_SUPERNODE: return "supernode";
    case NODE_ROLE_BOOTSTRAP: return "bootstrap";
    case NODE_ROLE_LOGIN_SERVER: return "login_server";
    case NODE_ROLE_WEB_SERVER: return "web_server";
    case NODE_ROLE_GATEWAY: return "gateway";
    }
    return "unknown";
}


/* The RFC 3489 name of a group's situation, for labelling metrics. The
 * effective NAT of a CGN chain is the more restrictive of the two; a
 * stateful firewall at the host passes only replies to the exact endpoints
 * it sent to, so behind a NAT it makes the filtering address-and-port
 * dependent whatever the NAT's own (a full cone NAT plus such a firewall
 * is a port-restricted cone to anyone probing it). A static forward sends
 * what matches no flow to the first host behind the NAT (dmz); the others
 * get replies only, address-and-port dependent filtering. */
static NatType world_true_nat(const ScenarioGroup *g, bool dmz)
{
    if (g->firewall == FW_UDP_BLOCKED) return NAT_UDP_BLOCKED;
    if (g->firewall == FW_TCP_80_443_ONLY) return NAT_TCP_ONLY;
    if (!g->nat.config.enabled && !g->cgn.config.enabled)
        return g->firewall == FW_STATEFUL ? NAT_SYMMETRIC_FIREWALL : NAT_OPEN;
    /* nat.h orders both knobs from the most open to the most restrictive. */
    NatMapping map = NAT_MAP_ENDPOINT_INDEPENDENT;
    NatFiltering filt = NAT_FILTER_ENDPOINT_INDEPENDENT;
    const NatConfig *n[2] = {&g->nat.config, &g->cgn.config};
    for (int i = 0; i < 2; i++) {
        if (!n[i]->enabled) continue;
        if (n[i]->mapping > map) map = n[i]->mapping;
        NatFiltering f = n[i]->forward && !(i == 0 && dmz) ? NAT_FILTER_ADDRESS_PORT_DEPENDENT
                                                             : n[i]->filtering;
        if (f > filt) filt = f;
    }
    if (g->firewall == FW_STATEFUL) filt = NAT_FILTER_ADDRESS_PORT_DEPENDENT;
    if (map != NAT_MAP_ENDPOINT_INDEPENDENT) return NAT_SYMMETRIC;
    if (filt == NAT_FILTER_ENDPOINT_INDEPENDENT) return NAT_FULL_CONE;
    return filt == NAT_FILTER_ADDRESS_DEPENDENT ? NAT_RESTRICTED : NAT_PORT_RESTRICTED;
}

/* ---- the network ------------------------------------------------------ */

static Latency *world_latency(const ScenarioSpec *s, GError **err)
{
    const ScenarioNetwork *n = &s->network;
    switch (n->model) {
    case SCENARIO_LATENCY_MATRIX: return latency_matrix_load(n->latency_file, err);
    case SCENARIO_LATENCY_COORDINATES: return latency_coords_load(n->latency_file, err);
    case SCENARIO_LATENCY_REGION: break;
    }
    const char **names = g_new(const char *, n->n_regions);
    for (size_t i = 0; i < n->n_regions; i++) names[i] = n->regions[i].name;
    Latency *lat = latency_region_table_new(names, (uint32_t)n->n_regions, n->delay_ns);
    g_free(names);
    return lat;
}

/* A site's latency position: its group's region, or drawn by region share. */
static uint32_t world_position(World *w, int region, Rng *r)
{
    const ScenarioNetwork *n = &w->spec->network;
    if (n->model != SCENARIO_LATENCY_REGION) return NET_POSITION_AUTO;
    if (region >= 0) return (uint32_t)region;
    double u = rng_uniform(r), acc = 0;
    for (size_t i = 0; i < n->n_regions; i++) {
        acc += n->regions[i].share;
        if (u < acc) return (uint32_t)i;
    }
    return (uint32_t)n->n_regions - 1;
}

/* The access link of a site or a home line with the given rates. */
static void world_link(const World *w, NetLinkConfig *l, uint64_t up_bps, uint64_t down_bps)
{
    const ScenarioNetwork *n = &w->spec->network;
    l->up_bps = up_bps;
    l->down_bps = down_bps;
    double qs = timens_to_s(n->queue_limit_ns);
    l->up_queue_bytes = (uint32_t)fmax(3000, (double)up_bps / 8 * qs);
    l->down_queue_bytes = (uint32_t)fmax(3000, (double)down_bps / 8 * qs);
    l->up_loss = l->down_loss = n->loss;
    l->delay_ns = n->model == SCENARIO_LATENCY_REGION ? n->access_delay_ns : 0;
    l->jitter_ns = n->jitter_ns;
}

static uint32_t world_add_host(World *w, uint32_t parent, uint32_t addr, uint64_t up, uint64_t down,
                               FwType fw, uint32_t pos, GError **err)
{
    NetNodeConfig c;
    if (parent == NET_INTERNET) {
        net_node_config_site(&c);
        world_link(w, &c.link, up, down);
        c.position = pos;
    } else {
        net_node_config_lan(&c);
    }
    c.addr = addr;
    c.fw = fw;
    c.icmp_unreachable = w->spec->network.icmp_unreachable;
    return net_host_add(w->net, parent, &c, err);
}

/* ---- peers ------------------------------------------------------------ */

static WorldPeer *world_peer_add(World *w, NodeRole role, uint32_t host, int32_t group, NatType nat,
                                 uint64_t up_bps, double cpu_speed)
{
    WorldPeer *p = &w->peers[w->npeers];
    *p = (WorldPeer){.role = role, .host = host, .group = group, .true_nat = nat,
                     .uplink_kbps = (uint32_t)(up_bps / 1000),
                     .cpu_mhz = (uint32_t)(cpu_speed * WORLD_CPU_MHZ_PER_SPEED),
                     .logged_out_at = -1};
    p->en = envsim_node_new(w->es, (uint32_t)w->npeers, host, cpu_speed);
    envsim_node_set_nat_label(p->en, (int)nat);
    /* Bootstrap and dedicated supernodes count as supernodes in the CPU metrics. */
    envsim_node_set_server(p->en, role == NODE_ROLE_LOGIN_SERVER || role == NODE_ROLE_WEB_SERVER ||
                                      role == NODE_ROLE_GATEWAY);
    if (host >= w->host_peer_cap) {
        uint32_t cap = w->host_peer_cap ? w->host_peer_cap : 1024;
        while (cap <= host) cap *= 2;
        w->host_peer = g_renew(uint32_t, w->host_peer, cap);
        for (uint32_t i = w->host_peer_cap; i < cap; i++) w->host_peer[i] = UINT32_MAX;
        w->host_peer_cap = cap;
    }
    w->host_peer[host] = (uint32_t)w->npeers;
    w->npeers++;
    return p;
}

static uint32_t world_server_host(World *w, uint32_t addr, Rng *r, GError **err)
{
    return world_add_host(w, NET_INTERNET, addr, WORLD_SERVER_BPS, WORLD_SERVER_BPS, FW_OPEN,
                          world_position(w, -1, r), err);
}

/* A server at the address e the scenario gives (role listening on e.port). */
static bool world_server_add(World *w, NodeRole role, ScenarioEndpoint e, Rng *r, GError **err)
{
    uint32_t h = world_server_host(w, e.ip, r, err);
    if (h == NET_NODE_NONE) return false;
    world_peer_add(w, role, h, -1, NAT_OPEN, WORLD_SERVER_BPS, WORLD_SERVER_SPEED)->port = e.port;
    return true;
}

/* The servers, every one at the address the scenario's protocol section
 * gives: login server, web server, bootstrap supernodes, then the dedicated
 * supernodes and the phone gateway. */
static bool world_build_servers(World *w, Rng *r, GError **err)
{
    const ScenarioProtocol *p = &w->spec->protocol;
    if (!world_server_add(w, NODE_ROLE_LOGIN_SERVER, p->login_server, r, err)) return false;
    if (!world_server_add(w, NODE_ROLE_WEB_SERVER, p->web_server, r, err)) return false;
    for (size_t i = 0; i < p->n_bootstrap; i++) {
        if (net_node_find(w->net, NET_INTERNET, p->bootstrap[i].ip) != NET_NODE_NONE) continue;
        if (!world_server_add(w, NODE_ROLE_BOOTSTRAP, p->bootstrap[i], r, err)) return false;
    }
    uint32_t h;
    const ScenarioSupernodes *sn = &w->spec->supernodes;
    for (uint64_t i = 0; sn->mode == SCENARIO_SN_DEDICATED && i < sn->count; i++) {
        h = world_server_host(w, 0, r, err);
        if (h == NET_NODE_NONE) return false;
        world_peer_add(w, NODE_ROLE_SUPERNODE, h, -1, NAT_OPEN, WORLD_SERVER_BPS, WORLD_SERVER_SPEED);
    }
    if (w->spec->workload.pstn_share > 0) /* the phone gateway (SkypeOut, a18) */
        return world_server_add(w, NODE_ROLE_GATEWAY, p->phone_gateway, r, err);
    return true;
}

/* Adds the clients of group gi: sites, home NATs and CGNs as configured. */
static bool world_build_group(World *w, size_t gi, Rng *r, GError **err)
{
    const ScenarioGroup *g = &w->spec->population.groups[gi];
    FwType fw = g->firewall;
    uint32_t cgn = NET_NODE_NONE, home = NET_NODE_NONE;
    uint32_t cgn_left = 0, home_left = 0;
    for (uint64_t i = 0; i < g->clients; i++) {
        uint32_t parent = NET_INTERNET;
        if (g->cgn.config.enabled && cgn_left == 0 && (g->nat.config.enabled ? home_left == 0 : true)) {
            NetNodeConfig c;
            net_node_config_site(&c);
            world_link(w, &c.link, 0, 0);
            c.position = world_position(w, g->region, r);
            NatConfig nc = g->cgn.config;
            nc.inside_net = ENV_IP(100, 64, 0, 0); /* RFC 6598 shared address space */
            nc.inside_prefix_len = 10;
            cgn = net_nat_add(w->net, NET_INTERNET, &c, &nc, err);
            if (cgn == NET_NODE_NONE) return false;
            cgn_left = g->cgn_subscribers;
        }
        if (g->nat.config.enabled && home_left == 0) {
            NetNodeConfig c;
            uint32_t up = g->cgn.config.enabled ? cgn : NET_INTERNET;
            if (g->cgn.config.enabled) net_node_config_lan(&c);
            else net_node_config_site(&c);
            world_link(w, &c.link, g->uplink_bps, g->downlink_bps);
            c.position = world_position(w, g->region, r);
            home = net_nat_add(w->net, up, &c, &g->nat.config, err);
            if (home == NET_NODE_NONE) return false;
            home_left = g->hosts_per_nat;
            if (g->cgn.config.enabled) cgn_left--;
        }
        bool dmz = false; /* the first host of its home NAT: a static forward's target */
        if (g->nat.config.enabled) {
            parent = home;
            dmz = home_left == g->hosts_per_nat;
            home_left--;
        } else if (g->cgn.config.enabled) {
            parent = cgn;
            cgn_left--;
        }
        uint32_t h;
        if (parent == NET_INTERNET) {
            h = world_add_host(w, NET_INTERNET, 0, g->uplink_bps, g->downlink_bps, fw,
                               world_position(w, g->region, r), err);
        } else {
            h = world_add_host(w, parent, 0, 0, 0, fw, 0, err);
        }
        if (h == NET_NODE_NONE) return false;
        world_peer_add(w, NODE_ROLE_CLIENT, h, (int32_t)gi, world_true_nat(g, dmz), g->uplink_bps,
                       g->cpu_speed);
    }
    return true;
}

/* ---- node lifecycle --------------------------------------------------- */

static void world_username(uint32_t id, char *buf, size_t size)
{
    g_snprintf(buf, size, "user%u", id);
}

/* The peer of a user name (world_username), NULL when it is not one of
 * ours. */
static const WorldPeer *world_peer_of_user(const World *w, const char *user, size_t ulen)
{
    char name[64]; /* user names are at most 31 bytes */
    g_snprintf(name, sizeof name, "%.*s", (int)MIN(ulen, sizeof name - 1), user);
    guint64 id;
    if (!g_str_has_prefix(name, "user") || !g_ascii_string_to_unsigned(name + 4, 10, 0, UINT32_MAX, &id, NULL) ||
        id >= w->npeers)
        return NULL;
    return &w->peers[id];
}

/* Interns the six metrics first..last, consecutive in simmetric.h as
 * (state 0: yes, no), (state 1: yes, no), (state 2: yes, no), into out. */
static void world_intern_3x2(World *w, SimMetricId first, SimMetricId last, uint32_t out[3][2])
{
    CHECK(last == first + 5, "a 3x2 block of metrics is six consecutive ids");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) out[i][j] = simmetric_intern(w->metrics, (SimMetricId)(first + 2 * i + j));
}

/* A user search ended (env.h, search_report): counted by the target's true
 * state when it ended: logged in now; logged out within the index's
 * presence_ttl (72 h, a29); longer ago or never logged in. */
static void world_on_search(void *ctx, uint32_t node_id, const EnvSearchReport *r)
{
    World *w = ctx;
    (void)node_id;
    const WorldPeer *p = world_peer_of_user(w, r->user, r->ulen);
    if (!p) return; /* not one of ours: no state to count it by */
    TimeNs now = sim_now(w->sim);
    int state = 2;
    if (p->node && node_state(p->node) == NODE_ST_ONLINE)
        state = 0;
    else if (p->logged_out_at >= 0 && now - p->logged_out_at <= w->spec->protocol.presence_ttl_ns)
        state = 1;
    metrics_add(w->metrics, w->m_search[state][r->found ? 0 : 1], 1, now);
}

/* Two-party calls by the callee's true state when dialled: logged in and
 * in no call or conference (free), logged in and busy, not logged in
 * (offline); each counted when the caller's call ends, as connected (media
 * arrived) or failed (call.failure). A call whose caller left before
 * either is counted in neither. */
enum { WORLD_CALL_FREE = 0, WORLD_CALL_BUSY, WORLD_CALL_OFFLINE, WORLD_CALL_CONNECTED = 4 };

static void world_on_call(void *ctx, uint32_t node_id, const EnvCallReport *r)
{
    World *w = ctx;
    (void)node_id;
    gpointer key = GUINT_TO_POINTER(r->call_id);
    if (r->event == ENV_CALL_DIALLED) {
        const WorldPeer *p = r->callee ? world_peer_of_user(w, r->callee, r->callee_len) : NULL;
        if (!p) return;
        unsigned st = !p->node || node_state(p->node) != NODE_ST_ONLINE ? WORLD_CALL_OFFLINE
                      : node_call_state(p->node) != NODE_CALL_IDLE     ? WORLD_CALL_BUSY
                                                                       : WORLD_CALL_FREE;
        g_hash_table_insert(w->call_target, key, GUINT_TO_POINTER(st + 1));
        return;
    }
    gpointer v = g_hash_table_lookup(w->call_target, key);
    if (!v) return;
    unsigned st = GPOINTER_TO_UINT(v) - 1;
    if (r->event == ENV_CALL_CONNECTED) {
        g_hash_table_insert(w->call_target, key, GUINT_TO_POINTER((st | WORLD_CALL_CONNECTED) + 1));
    } else if (r->event == ENV_CALL_ENDED) {
        g_hash_table_remove(w->call_target, key);
        if ((st & WORLD_CALL_CONNECTED) || r->failed)
            metrics_add(w->metrics, w->m_call[st & 3][(st & WORLD_CALL_CONNECTED) ? 0 : 1], 1,
                        sim_now(w->sim));
        if (!(st & WORLD_CALL_CONNECTED) && r->failed && (st & 3) == WORLD_CALL_FREE &&
            r->fail_cause) { /* why calls to reachable users fail: per cause */
            char name[64];
            g_snprintf(name, sizeof name, "call.target.free.failed.%s", r->fail_cause);
            metrics_add(w->metrics, metrics_intern(w->metrics, name, METRICS_COUNTER), 1,
                        sim_now(w->sim));
        }
    }
}

static void world_trace(const World *w, const WorldPeer *p, const char *event)
{
    if (!w->trace) return;
    fprintf(w->trace, "%.9f,%u,%s\n", timens_to_s(sim_now(w->sim)), envsim_node_id(p->en), event);
}

void world_set_trace(World *w, FILE *out)
{
    w->trace = out;
    if (out) fputs("time_s,node,event\n", out);
}

static void world_peer_start(World *w, WorldPeer *p)
{
    if (p->online) return;
    if (p->host_down) {
        net_node_set_up(w->net, p->host, true);
        p->host_down = false;
    }
    char user[32], pass[32];
    uint32_t id = envsim_node_id(p->en);
    world_username(id, user, sizeof user);
    g_snprintf(pass, sizeof pass, "pw%u", id);
    NodeConfig cfg = {.role = p->role, .id = id, .username = user, .password = pass,
                      .uplink_kbps = p->uplink_kbps, .cpu_mhz = p->cpu_mhz, .port = p->port,
                      .sn_capacity = (uint16_t)MIN(w->spec->supernodes.capacity, UINT16_MAX)};
    p->node = node_new(envsim_node_env(p->en), w->shared, &cfg);
    envsim_node_attach(p->en, p->node);
    p->online = true;
    world_trace(w, p, "login");
    sim_set_entity(w->sim, id);
    envtrace_on_start(envsim_node_trace(p->en));
    node_ops.start(p->node);
    if (p->role == NODE_ROLE_CLIENT) workload_client_online(w->wl, (size_t)(p - w->peers) - w->first_client);
    if (p->role == NODE_ROLE_CLIENT) {
        w->logins++;
        metrics_add(w->metrics, w->m_online, 1, sim_now(w->sim));
    }
}

/* Takes a peer offline: gracefully (logout) or as a crash (host down). */
static void world_peer_stop(World *w, WorldPeer *p, bool graceful)
{
    if (!p->online) return;
    world_trace(w, p, graceful ? "logout" : "crash");
    if (!graceful) {
        net_node_set_up(w->net, p->host, false); /* the machine dies: no packets */
        p->host_down = true;
    }
    sim_set_entity(w->sim, envsim_node_id(p->en));
    envtrace_on_stop(envsim_node_trace(p->en), graceful);
    if (node_state(p->node) == NODE_ST_ONLINE) p->logged_out_at = sim_now(w->sim);
    node_ops.stop(p->node, graceful);
    if (p->role == NODE_ROLE_CLIENT) workload_client_offline(w->wl, (size_t)(p - w->peers) - w->first_client);
    envsim_node_detach(p->en);
    node_free(p->node);
    p->node = NULL;
    p->online = false;
    if (p->role == NODE_ROLE_CLIENT) {
        if (graceful) w->logouts++;
        else w->crashes++;
        metrics_add(w->metrics, w->m_online, -1, sim_now(w->sim));
    }
}

/* ---- churn ------------------------------------------------------------ */

static double world_diurnal_weight(const World *w, TimeNs t)
{
    double h = fmod(w->spec->churn.start_hour + timens_to_s(t) / 3600.0, 24.0);
    return w->spec->churn.diurnal[(int)h];
}

static void world_ev_login(Sim *sim, void *ctx, uint64_t arg);
static void world_ev_logout(Sim *sim, void *ctx, uint64_t arg);

/* Schedules the next login of peer i after an off time, thinned by the
 * arrival pattern over the day. */
static void world_schedule_login(World *w, size_t i, TimeNs from)
{
    const ScenarioChurn *c = &w->spec->churn;
    TimeNs t = from;
    for (int k = 0; k < WORLD_THINNING_MAX; k++) {
        t = timens_add_sat(t, timens_from_s(dist_draw(&c->off_time, &w->churn_rng)));
        if (w->diurnal_max <= 0 || rng_uniform(&w->churn_rng) * w->diurnal_max <= world_diurnal_weight(w, t))
            break;
    }
    if (t <= w->spec->duration_ns) w->peers[i].next = sim_at(w->sim, t, world_ev_login, w, i);
}

static void world_schedule_logout(World *w, size_t i)
{
    double s = dist_draw(&w->spec->churn.session, &w->churn_rng);
    TimeNs t = timens_add_sat(sim_now(w->sim), timens_from_s(s));
    if (t <= w->spec->duration_ns) w->peers[i].next = sim_at(w->sim, t, world_ev_logout, w, i);
}

/* Trace churn: virtual time of trace time t. */
static TimeNs world_trace_virtual(const World *w, TimeNs t)
{
    return churntrace_to_virtual(t, w->spec->churn.trace_offset_ns, w->spec->churn.trace_scale);
}

/* Trace churn: schedules peer i's next trace event (file comment): online,
 * its logout at the end of its current (or next) interval; offline, its
 * login at the start of its next interval, or now when `resume` and an
 * interval is running. Clients not driven by the trace get nothing. */
static void world_trace_schedule(World *w, size_t i, bool resume)
{
    size_t k = i - w->first_client, n;
    if (!w->churn_trace || i < w->first_client || k >= w->trace_clients) return;
    const ChurnTraceInterval *iv = churntrace_node_intervals(w->churn_trace, k, &n);
    bool online = w->peers[i].online;
    TimeNs now = sim_now(w->sim);
    size_t *pos = &w->trace_pos[k];
    for (; *pos < n; (*pos)++) {
        TimeNs down = world_trace_virtual(w, iv[*pos].down_ns);
        if (down > now || (online && down == now)) break;
    }
    if (*pos >= n) return;
    TimeNs up = world_trace_virtual(w, iv[*pos].up_ns);
    TimeNs t = online ? world_trace_virtual(w, iv[*pos].down_ns) : MAX(up, now);
    if (!online && up < now && !resume) {
        if (*pos + 1 >= n) return;
        t = world_trace_virtual(w, iv[*pos + 1].up_ns);
    }
    if (t <= w->spec->duration_ns)
        w->peers[i].next = sim_at(w->sim, t, online ? world_ev_logout : world_ev_login, w, i);
}

static void world_ev_login(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    World *w = ctx;
    world_peer_start(w, &w->peers[arg]);
    if (w->spec->churn.model == SCENARIO_CHURN_DISTRIBUTION) world_schedule_logout(w, arg);
    else if (w->spec->churn.model == SCENARIO_CHURN_TRACE) world_trace_schedule(w, arg, false);
}

static void world_ev_logout(Sim *sim, void *ctx, uint64_t arg)
{
    World *w = ctx;
    world_peer_stop(w, &w->peers[arg], true);
    if (w->spec->churn.model == SCENARIO_CHURN_DISTRIBUTION) world_schedule_login(w, arg, sim_now(sim));
    else if (w->spec->churn.model == SCENARIO_CHURN_TRACE) world_trace_schedule(w, arg, false);
}

/* Trace churn: maps trace nodes onto clients, reports the counts (gauges
 * churn.trace.* and one message) and schedules every driven client. */
static void world_trace_start(World *w)
{
    ChurnTraceMapCounts mc;
    churntrace_map_counts(w->churn_trace, w->npeers - w->first_client, &mc);
    w->trace_clients = (size_t)mc.driven;
    w->trace_pos = g_new0(size_t, w->trace_clients);
    const ChurnTraceStats *st = churntrace_stats(w->churn_trace);
    const uint64_t v[] = {churntrace_node_count(w->churn_trace), mc.driven, mc.idle_clients,
                          mc.ignored_nodes, st->bad_lines};
    const SimMetricId ids[] = {SIMMETRIC_CHURN_TRACE_NODES, SIMMETRIC_CHURN_TRACE_CLIENTS_DRIVEN,
                               SIMMETRIC_CHURN_TRACE_CLIENTS_IDLE,
                               SIMMETRIC_CHURN_TRACE_NODES_IGNORED, SIMMETRIC_CHURN_TRACE_BAD_LINES};
    for (size_t j = 0; j < G_N_ELEMENTS(v); j++)
        metrics_add(w->metrics, simmetric_intern(w->metrics, ids[j]), (int64_t)v[j], 0);
    g_message("churn trace %s: %" G_GUINT64_FORMAT " nodes drive %" G_GUINT64_FORMAT " clients; "
              "%" G_GUINT64_FORMAT " clients beyond the trace stay offline; %" G_GUINT64_FORMAT
              " trace nodes ignored", w->spec->churn.trace_file, v[0], mc.driven, mc.idle_clients,
              mc.ignored_nodes);
    if (st->bad_lines)
        g_warning("churn trace %s: %" G_GUINT64_FORMAT " malformed lines skipped (the first is line "
                  "%zu; churn.trace.on_error is \"skip\")", w->spec->churn.trace_file, st->bad_lines,
                  st->first_bad_line);
    for (size_t k = 0; k < w->trace_clients; k++) world_trace_schedule(w, w->first_client + k, true);
}

/* Initial logins: uniformly over the ramp; with distribution churn only
 * the steady-state share starts online, the rest after an off time. */
static void world_schedule_initial(World *w)
{
    const ScenarioChurn *c = &w->spec->churn;
    if (c->model == SCENARIO_CHURN_TRACE) {
        world_trace_start(w);
        return;
    }
    double p_on = 1.0;
    if (c->model == SCENARIO_CHURN_DISTRIBUTION) {
        double on = dist_mean(&c->session), off = dist_mean(&c->off_time);
        p_on = isinf(on) ? 1.0 : isinf(off) ? 0.0 : on / (on + off);
    }
    for (size_t i = w->first_client; i < w->npeers; i++) {
        if (rng_uniform(&w->churn_rng) < p_on) {
            TimeNs t = (TimeNs)(rng_uniform(&w->churn_rng) * (double)c->ramp_ns);
            w->peers[i].next = sim_at(w->sim, t, world_ev_login, w, i);
        } else {
            world_schedule_login(w, i, 0);
        }
    }
}

/* ---- scheduled events ------------------------------------------------- */

typedef struct WorldActionArgs WorldActionArgs;

static void world_ev_action(Sim *sim, void *ctx, uint64_t arg)
{
    const WorldActionArgs *a = ctx;
    World *w = a->w;
    WorldPeer *p = &w->peers[arg];
    bool churn = w->spec->churn.model == SCENARIO_CHURN_DISTRIBUTION && p->role == NODE_ROLE_CLIENT;
    switch (a->action) {
    case SCENARIO_EVENT_CRASH:
    case SCENARIO_EVENT_LOGOUT:
        world_peer_stop(w, p, a->action == SCENARIO_EVENT_LOGOUT);
        if (churn) world_schedule_login(w, arg, sim_now(sim));
        break;
    case SCENARIO_EVENT_LOGIN:
        world_peer_start(w, p);
        if (churn) world_schedule_logout(w, arg);
        break;
    }
    world_trace_schedule(w, arg, false); /* trace churn only; a no-op otherwise */
}

/* Whether a scheduled event applies to peer p. "supernodes" means every
 * node acting as one at the event's time: promoted clients, dedicated and
 * bootstrap supernodes; the other targets name clients (and, for "all",
 * dedicated supernodes). The login and web servers are never selected. */
static bool world_event_selects(const World *w, const ScenarioEvent *e, const WorldPeer *p)
{
    if (e->who == SCENARIO_WHO_SUPERNODES && p->role == NODE_ROLE_BOOTSTRAP)
        return p->online && node_is_supernode(p->node) && e->action != SCENARIO_EVENT_LOGIN;
    if (p->role != NODE_ROLE_CLIENT && p->role != NODE_ROLE_SUPERNODE) return false;
    bool want_online = e->action != SCENARIO_EVENT_LOGIN;
    if (p->online != want_online) return false;
    switch (e->who) {
    case SCENARIO_WHO_ALL: return true;
    case SCENARIO_WHO_CLIENTS: return p->role == NODE_ROLE_CLIENT && !(p->node && node_is_supernode(p->node));
    case SCENARIO_WHO_SUPERNODES: return p->node && node_is_supernode(p->node);
    case SCENARIO_WHO_GROUP: return p->group == e->group;
    }
    (void)w;
    return false;
}

/* At the event's time: selects the fraction of matching peers (a partial
 * Fisher-Yates shuffle) and schedules the action for each over the spread. */
static void world_ev_scheduled(Sim *sim, void *ctx, uint64_t arg)
{
    World *w = ctx;
    const ScenarioEvent *e = &w->spec->events[arg];
    GArray *sel = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (size_t i = 0; i < w->npeers; i++)
        if (world_event_selects(w, e, &w->peers[i])) {
            uint32_t v = (uint32_t)i;
            g_array_append_val(sel, v);
        }
    size_t k = (size_t)llround(e->fraction * sel->len);
    const WorldActionArgs *args = &w->actions[e->action];
    for (size_t i = 0; i < k; i++) {
        size_t j = i + rng_below(&w->event_rng, sel->len - i);
        uint32_t t = g_array_index(sel, uint32_t, j);
        g_array_index(sel, uint32_t, j) = g_array_index(sel, uint32_t, i);
        g_array_index(sel, uint32_t, i) = t;
        TimeNs d = e->spread_ns > 0 ? (TimeNs)rng_below(&w->event_rng, (uint64_t)e->spread_ns + 1) : 0;
        WorldPeer *p = &w->peers[t];
        sim_cancel(sim, p->next);
        sim_after(sim, d, world_ev_action, (void *)args, t);
    }
    g_array_free(sel, TRUE);
}

/* ---- building and running --------------------------------------------- */

/* NodeParams from the scenario's protocol and supernode sections. */
static void world_params(const ScenarioSpec *s, NodeParams *p)
{
    const ScenarioProtocol *sp = &s->protocol;
    node_params_default(p);
    p->n_bootstrap = (uint8_t)MIN(sp->n_bootstrap, NODE_BOOTSTRAP_MAX);
    for (size_t i = 0; i < p->n_bootstrap; i++)
        p->bootstrap[i] = env_addr(sp->bootstrap[i].ip, sp->bootstrap[i].port);
    p->login_server = env_addr(sp->login_server.ip, sp->login_server.port);
    p->web_server = env_addr(sp->web_server.ip, sp->web_server.port);
    p->gateway = env_addr(sp->phone_gateway.ip, sp->phone_gateway.port);
    p->login_rounds = (uint8_t)MIN(sp->login_rounds, 255);
    p->probe_wait_ns = sp->probe_timeout_ns;
    p->tcp_timeout_ns = sp->connect_timeout_ns;
    p->round_wait_ns = sp->login_retry_wait_ns;
    p->login_pause_ns = sp->login_pause_ns;
    p->keepalive_ns = sp->keepalive_ns;
    p->keepalive_misses = (uint8_t)MIN(sp->keepalive_misses, UINT8_MAX);
    p->alt_targets = (uint8_t)MIN(sp->alt_nodes, NODE_ALT_MAX);
    p->hostcache_cap = (uint16_t)sp->host_cache_size;
    const ScenarioSupernodes *sn = &s->supernodes;
    p->promotion_enabled = sn->mode == SCENARIO_SN_ELECTED;
    p->sn_min_uplink_kbps = (uint32_t)(sn->min_uplink_bps / 1000);
    p->sn_min_cpu_mhz = (uint32_t)(sn->min_cpu * WORLD_CPU_MHZ_PER_SPEED);
    p->sn_min_uptime_ns = sn->min_uptime_ns;
    p->sn_capacity = (uint16_t)MIN(sn->capacity, UINT16_MAX);
    p->sn_nominate_load = (uint8_t)MAX(1, (int)(sn->nominate_load * 100 + 0.5));
    p->sn_max_promoted = sn->mode == SCENARIO_SN_ELECTED ? (uint32_t)MIN(sn->count, UINT32_MAX) : 0;
    const ScenarioMedia *sm = &s->media; /* calls: the voice stream (media.h) */
    p->media.profile = sm->codec == SCENARIO_CODEC_SKYPE2004 ? MEDIA_PROFILE_SKYPE2004
                       : sm->codec == SCENARIO_CODEC_G729    ? MEDIA_PROFILE_G729
                                                             : MEDIA_PROFILE_OPUS;
    p->media.bitrate_bps = (uint32_t)sm->bitrate_bps;
    p->media.frame_ns = sm->frame_ns;
    p->media.fec = sm->fec;
    p->media.fec_inband = sm->fec_inband;
    p->media.silence_suppression = sm->silence_suppression;
    p->media.replay = sm->replay; /* media.execution */
    p->relay_call_bytes_per_s = (uint32_t)(sp->relay_bandwidth_bps / 8); /* a48, media.c */
    _Static_assert((int)SCENARIO_SEARCH_DHT == NODE_SEARCH_DHT && (int)SCENARIO_SEARCH_SLOTS == NODE_SEARCH_SLOTS &&
                       (int)SCENARIO_SEARCH_EXPANDING == NODE_SEARCH_EXPANDING,
                   "ScenarioSearch and NODE_SEARCH_* agree");
    p->search_mode = (uint8_t)sp->search;
    p->search_waves = (uint8_t)MIN(sp->n_fanout, NODE_SEARCH_WAVES_MAX);
    for (size_t i = 0; i < p->search_waves; i++)
        p->search_fanout[i] = (uint16_t)MIN(sp->search_fanout[i], UINT16_MAX);
    p->search_timeout_ns = sp->search_timeout_ns;
    p->presence_ttl_ns = sp->presence_ttl_ns;
    p->slot_size = (uint8_t)MIN(sp->slot_size, UINT8_MAX);
    p->index_republish_ns = sp->index_republish_ns;
    p->ring_exchange = sp->ring_exchange;
    p->call_locate_flood = sp->call_locate_flood;
    p->conf_mesh = s->workload.conference_mesh;
}

/* Workload callbacks: client k is peer first_client + k. */
static void world_wl_name(void *ctx, size_t client, char *buf, size_t size)
{
    const World *w = ctx;
    world_username(envsim_node_id(w->peers[w->first_client + client].en), buf, size);
}
static Node *world_wl_node(void *ctx, size_t client)
{
    const World *w = ctx;
    return w->peers[w->first_client + client].node;
}

/* Trace churn: reads the trace, keeping the intervals of the driven
 * clients that overlap the run, and refuses a trace that leaves every
 * client offline for the whole run (e.g. epoch times and no offset). */
static bool world_trace_load(World *w, GError **err)
{
    const ScenarioChurn *c = &w->spec->churn;
    ChurnTraceOptions o = {.max_nodes = (size_t)w->spec->population.clients, .window = true,
                           .offset_ns = c->trace_offset_ns, .scale = c->trace_scale,
                           .end_ns = w->spec->duration_ns, .skip_bad_lines = c->trace_skip_bad};
    w->churn_trace = churntrace_load(c->trace_file, c->trace_format, &o, err);
    if (!w->churn_trace) return false;
    const ChurnTraceStats *st = churntrace_stats(w->churn_trace);
    if (st->kept > 0) return true;
    g_autofree char *span = st->intervals
        ? g_strdup_printf("its up intervals span trace times %.15g s to %.15g s", timens_to_s(st->first_ns),
                          timens_to_s(st->last_ns))
        : g_strdup("it holds no up interval");
    g_set_error(err, WORLD_ERROR, 1,
                "%s: no up interval of the %" G_GUINT64_FORMAT " trace nodes that drive clients falls inside "
                "the run (trace times %.15g s to %.15g s with $.churn.trace.offset %.15g s and scale "
                "%g), so every client would stay offline; %s: set $.churn.trace.offset to a trace "
                "time near their start",
                c->trace_file, MIN((uint64_t)churntrace_node_count(w->churn_trace), w->spec->population.clients),
                timens_to_s(c->trace_offset_ns),
                timens_to_s(c->trace_offset_ns) + timens_to_s(w->spec->duration_ns) / c->trace_scale,
                timens_to_s(c->trace_offset_ns), c->trace_scale, span);
    return false;
}

/* Dotted quad of addr into s. */
static void world_addr_append(GString *s, uint32_t addr)
{
    g_string_append_printf(s, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
                           addr & 255);
}

/* Names a capture point's pcapng interface after its host: id of
 * nodes.csv, role, inside (and outside) address, group and true NAT type;
 * a NAT box after its outside address. */
static void world_pcap_name(void *ctx, uint32_t node, GString *name)
{
    const World *w = ctx;
    uint32_t pi = node < w->host_peer_cap ? w->host_peer[node] : UINT32_MAX;
    if (pi == UINT32_MAX) { /* a NAT box (or CGN) */
        g_string_append(name, "NAT ");
        world_addr_append(name, net_node_addr(w->net, node));
        return;
    }
    const WorldPeer *p = &w->peers[pi];
    uint32_t in = net_node_addr(w->net, node), pub = net_node_public_addr(w->net, node);
    g_string_append_printf(name, "node %u %s ", envsim_node_id(p->en), world_role_name(p->role));
    world_addr_append(name, in);
    if (pub != in) {
        g_string_append(name, " via ");
        world_addr_append(name, pub);
    }
    if (p->group >= 0) g_string_append_printf(name, " group %s", w->spec->population.groups[p->group].name);
    g_string_append_printf(name, " nat %s", stun_nat_name(p->true_nat));
}

/* Applies outputs.pcap_at (checked for syntax by the scenario reader):
 * node ids are those of nodes.csv. false with err for an id out of range. */
static bool world_pcap_points(World *w, GError **err)
{
    char **pts = g_strsplit(w->spec->outputs.pcap_at, ",", -1);
    bool ok = true;
    for (char **pt = pts; *pt && ok; pt++) {
        const char *x = *pt;
        if (strcmp(x, "access") == 0) net_pcap_capture_access(w->net, true);
        if (strcmp(x, "core") == 0) net_pcap_capture_core(w->net, true);
        if (g_str_has_prefix(x, "node:")) {
            guint64 id = g_ascii_strtoull(x + 5, NULL, 10);
            size_t i = 0;
            while (i < w->npeers && envsim_node_id(w->peers[i].en) != id) i++;
            if (i < w->npeers) {
                net_pcap_capture_node(w->net, w->peers[i].host, true);
            } else {
                g_set_error(err, WORLD_ERROR, 1,
                            "$.outputs.pcap_at: expected node ids of nodes.csv, 0 to %zu; found \"%s\"",
                            w->npeers - 1, x);
                ok = false;
            }
        }
        for (size_t i = 0; g_str_has_prefix(x, "group:") && i < w->npeers; i++) {
            const WorldPeer *p = &w->peers[i];
            if (p->group >= 0 && strcmp(w->spec->population.groups[p->group].name, x + 6) == 0)
                net_pcap_capture_node(w->net, p->host, true);
        }
    }
    g_strfreev(pts);
    return ok;
}

static bool world_build(World *w, const char *pcap_path, GError **err)
{
    const ScenarioSpec *s = w->spec;
    if (s->churn.model == SCENARIO_CHURN_TRACE && !world_trace_load(w, err)) return false;
    w->lat = world_latency(s, err);
    if (!w->lat) return false;
    w->net = net_new(w->sim, w->lat, NULL);
    if (pcap_path) {
        if (!net_pcap_open(w->net, pcap_path, err)) return false;
        net_pcap_set_namer(w->net, world_pcap_name, w);
    }
    w->metrics = metrics_new(s->warmup_ns);
    w->m_online = simmetric_intern(w->metrics, SIMMETRIC_WORLD_ONLINE);
    EnvSimCost cost; /* the scenario's calibration file, or the built-in one */
    if (!envsim_cost_load(s->calibration, &cost, err)) return false;
    w->es = envsim_new(w->net, w->metrics, &cost);
    world_intern_3x2(w, SIMMETRIC_SEARCH_ONLINE_FOUND, SIMMETRIC_SEARCH_OLD_ABSENT, w->m_search);
    envsim_set_search_hook(w->es, world_on_search, w);
    world_intern_3x2(w, SIMMETRIC_CALL_FREE_CONNECTED, SIMMETRIC_CALL_OFFLINE_FAILED, w->m_call);
    w->call_target = g_hash_table_new(g_direct_hash, g_direct_equal);
    envsim_set_call_hook(w->es, world_on_call, w);
    NodeParams np;
    world_params(s, &np);
    w->shared = node_shared_new(envsim_world_env(w->es), &np, err);
    if (!w->shared) return false;
    size_t servers = 2 + s->protocol.n_bootstrap + (s->workload.pstn_share > 0) +
                     (s->supernodes.mode == SCENARIO_SN_DEDICATED ? s->supernodes.count : 0);
    w->peers = g_new0(WorldPeer, servers + s->population.clients);
    Rng topo;
    sim_rng_init(w->sim, &topo, WORLD_ENTITY, WORLD_STREAM_TOPO);
    if (!world_build_servers(w, &topo, err)) return false;
    w->first_client = w->npeers;
    for (size_t g = 0; g < s->population.n_groups; g++)
        if (!world_build_group(w, g, &topo, err)) return false;
    if (pcap_path && !world_pcap_points(w, err)) return false;
    w->wl = workload_new(w->sim, s, w->npeers - w->first_client, world_wl_name, world_wl_node, w);
    w->ts_relay = g_new0(struct WorldTsRelay, 1);
    return true;
}

/* Starts the servers, registers every user at the login server and
 * schedules the churn and the scenario's events. */
static void world_start(World *w)
{
    for (size_t i = 0; i < w->first_client; i++) world_peer_start(w, &w->peers[i]);
    WorldPeer *login = &w->peers[0];
    for (size_t i = w->first_client; i < w->npeers; i++) {
        char user[32], pass[32];
        uint32_t id = envsim_node_id(w->peers[i].en);
        world_username(id, user, sizeof user);
        g_snprintf(pass, sizeof pass, "pw%u", id);
        node_loginsrv_user_add(login->node, user, pass);
    }
    workload_buddies_register(w->wl, login->node);
    world_schedule_initial(w);
    for (size_t e = 0; e < w->spec->n_events; e++)
        sim_at(w->sim, w->spec->events[e].at_ns, world_ev_scheduled, w, e);
}

static const char *world_metric_name(void *ctx, EnvMetric id)
{
    const Metrics *m = ctx;
    return id <= metrics_count(m) ? metrics_name(m, id) : NULL;
}

/* Wraps node `node`'s env in a tracing env writing to out, before any
 * node starts. */
static bool world_env_trace_install(World *w, uint32_t node, FILE *out, GError **err)
{
    if (node >= w->npeers) {
        g_set_error(err, WORLD_ERROR, 1, "env trace: node %u does not exist; the scenario's nodes are 0 to %zu"
                    " (servers first, then clients)",
                    (unsigned)node, w->npeers - 1);
        return false;
    }
    EnvSimNode *en = w->peers[node].en;
    w->env_trace = envtrace_new(envsim_node_env_inner(en), node, out);
    envtrace_set_namer(w->env_trace, world_metric_name, w->metrics);
    envsim_node_set_trace(en, w->env_trace);
    return true;
}

void world_env_trace_detach(World *w)
{
    if (w->env_trace) envtrace_set_out(w->env_trace, NULL);
}

World *world_new(const ScenarioSpec *spec, EvqKind queue, const char *pcap_path, GError **err)
{
    return world_new_env_trace(spec, queue, pcap_path, 0, NULL, err);
}

World *world_new_env_trace(const ScenarioSpec *spec, EvqKind queue, const char *pcap_path,
                           uint32_t trace_node, FILE *trace_out, GError **err)
{
    World *w = g_new0(World, 1);
    w->spec = spec;
    w->sim = sim_new(spec->seed, queue);
    for (int a = 0; a < 3; a++) w->actions[a] = (WorldActionArgs){.w = w, .action = (ScenarioEventAction)a};
    sim_rng_init(w->sim, &w->churn_rng, WORLD_ENTITY, WORLD_STREAM_CHURN);
    sim_rng_init(w->sim, &w->event_rng, WORLD_ENTITY, WORLD_STREAM_EVENTS);
    for (int h = 0; h < 24; h++) w->diurnal_max = fmax(w->diurnal_max, spec->churn.diurnal[h]);
    if (!world_build(w, pcap_path, err) ||
        (trace_out && !world_env_trace_install(w, trace_node, trace_out, err))) {
        world_free(w);
        return NULL;
    }
    world_start(w);
    return w;
}

void world_free(World *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->npeers; i++) {
        WorldPeer *p = &w->peers[i];
        if (!p->node) continue;
        node_ops.stop(p->node, false); /* the run is over: the Sim will not run again */
        envsim_node_detach(p->en);
        node_free(p->node);
    }
    if (w->call_target) g_hash_table_destroy(w->call_target);
    node_shared_free(w->shared);
    envsim_free(w->es);
    envtrace_free(w->env_trace);
    net_free(w->net);
    latency_free(w->lat);
    metrics_free(w->metrics);
    workload_free(w->wl);
    g_free(w->ts_relay);
    sim_free(w->sim);
    g_free(w->peers);
    g_free(w->host_peer);
    churntrace_free(w->churn_trace);
    g_free(w->trace_pos);
    g_free(w);
}

SimRunResult world_run(World *w, TimeNs until) { return sim_run_until(w->sim, until); }
Sim *world_sim(const World *w) { return w->sim; }
Net *world_net(const World *w) { return w->net; }
Metrics *world_metrics(const World *w) { return w->metrics; }
EnvSim *world_envsim(const World *w) { return w->es; }

/* The registry id of a name from one of the metric tables, CHECKing it
 * was interned with the table's kind. EnvMetricKind and MetricsKind share
 * their values (envsim passes one for the other). */
static uint32_t world_metric_table_find(const World *w, const char *name, MetricsKind kind)
{
    uint32_t id = metrics_find(w->metrics, name);
    CHECK(id != 0, "metric %s from the metric tables was never interned", name);
    CHECK(metrics_kind(w->metrics, id) == kind, "metric %s: kind %d, table says %d", name,
          (int)metrics_kind(w->metrics, id), (int)kind);
    return id;
}

uint32_t world_metric_id(const World *w, MetricId id)
{
    return world_metric_table_find(w, metric_table_name(id), (MetricsKind)metric_table_kind(id));
}

uint32_t world_metric_family_id(const World *w, MetricFamily f, int i, int j, int k)
{
    char name[METRIC_NAME_MAX];
    return world_metric_table_find(w, metric_table_family_name(f, i, j, k, name, sizeof name),
                                   (MetricsKind)metric_table_family_kind(f));
}

uint32_t world_simmetric_id(const World *w, SimMetricId id)
{
    return world_metric_table_find(w, simmetric_name(id), simmetric_kind(id));
}

const char *const world_sn_hist_names[WORLD_SN_HIST] = {"0",       "1-9",     "10-49", "50-99",
                                                         "100-199", "200-499", "500+"};

/* The histogram bucket of a supernode holding k clients. */
static int world_sn_hist_bucket(uint64_t k)
{
    static const uint64_t lo[WORLD_SN_HIST] = {0, 1, 10, 50, 100, 200, 500};
    int b = 0;
    while (b + 1 < WORLD_SN_HIST && k >= lo[b + 1]) b++;
    return b;
}

void world_stats(const World *w, WorldStats *out)
{
    memset(out, 0, sizeof *out);
    out->clients = w->npeers - w->first_client;
    double mem_sum = 0;
    for (size_t i = 0; i < w->npeers; i++) {
        const WorldPeer *p = &w->peers[i];
        size_t hi = envsim_node_mem_high(p->en);
        if (p->role == NODE_ROLE_CLIENT && hi > out->client_mem_high) out->client_mem_high = hi;
        if (!p->node) continue;
        bool sn = node_is_supernode(p->node);
        if (sn) {
            uint64_t k = node_sn_client_count(p->node);
            out->supernodes++;
            out->sn_clients += k;
            out->sn_loaded += k > 0;
            out->sn_hist[world_sn_hist_bucket(k)]++;
            if (p->role == NODE_ROLE_BOOTSTRAP) out->boot_clients += k;
        }
        if (p->role != NODE_ROLE_CLIENT) continue;
        out->online++;
        if (node_state(p->node) == NODE_ST_ONLINE) {
            out->logged_in++;
            mem_sum += (double)envsim_node_mem_live(p->en);
        }
    }
    out->client_mem_mean = out->logged_in ? mem_sum / (double)out->logged_in : 0;
    out->logins = w->logins;
    out->logouts = w->logouts;
    out->crashes = w->crashes;
    out->packets_in_flight = net_packets_in_flight(w->net);
}

/* True if a a live supernode listens at a (host-cache freshness). */
static bool world_is_live_sn(void *ctx, EnvAddr a)
{
    const World *w = ctx;
    uint32_t host = net_node_find(w->net, NET_INTERNET, a.ip);
    if (host == NET_NODE_NONE || host >= w->host_peer_cap || w->host_peer[host] == UINT32_MAX)
        return false;
    const Node *n = w->peers[w->host_peer[host]].node;
    return n && node_is_supernode(n) && node_listen_port(n) == a.port;
}

#define WORLD_FRESH_SAMPLE 500 /* clients whose host cache is checked per row, at most */

double world_hostcache_freshness(const World *w)
{
    size_t clients = w->npeers - w->first_client;
    size_t stride = clients > WORLD_FRESH_SAMPLE ? clients / WORLD_FRESH_SAMPLE : 1;
    uint64_t live = 0, total = 0;
    for (size_t i = w->first_client; i < w->npeers; i += stride) {
        const Node *n = w->peers[i].node;
        if (!n || node_state(n) != NODE_ST_ONLINE) continue;
        const HostCache *hc = node_hostcache(n);
        live += hostcache_count_live(hc, world_is_live_sn, (void *)w);
        total += hc->n;
    }
    return total ? (double)live / (double)total : NAN;
}

/* The median host-cache size (entries) over the logged-in clients, NaN
 * when none is logged in. A count per size (at most HOSTCACHE_MAX + 1
 * sizes), so a row costs one pass over the clients and no sort. */
static double world_hostcache_median(const World *w)
{
    uint32_t count[HOSTCACHE_MAX + 1] = {0};
    uint64_t n = 0;
    for (size_t i = w->first_client; i < w->npeers; i++) {
        const Node *nd = w->peers[i].node;
        if (!nd || node_is_supernode(nd) || node_state(nd) != NODE_ST_ONLINE) continue;
        count[MIN(node_hostcache(nd)->n, HOSTCACHE_MAX)]++;
        n++;
    }
    if (!n) return NAN;
    uint64_t seen = 0; /* the lower median of an even count: a whole number of entries */
    for (size_t k = 0; k <= HOSTCACHE_MAX; k++)
        if ((seen += count[k]) * 2 >= n) return (double)k;
    return NAN; /* not reached */
}

/* Relayed traffic since the previous row (METRIC_RELAY_BYTES, both directions
 * of every relay), bit/s; 0 at the first row. */
static double world_ts_relay_bps(const World *w)
{
    double b = metrics_value(w->metrics, world_metric_id(w, METRIC_RELAY_BYTES));
    TimeNs now = sim_now(w->sim), dt = now - w->ts_relay->at;
    double bps = dt > 0 && w->ts_relay->at > 0 ? 8 * (b - w->ts_relay->bytes) / timens_to_s(dt) : 0;
    w->ts_relay->bytes = b;
    w->ts_relay->at = now;
    return bps;
}

static const char *const world_ts_names[] = {
    "online_users", "logged_in", "supernodes", "clients_per_supernode", "logins", "logouts", "crashes",
    "hostcache_fresh", "searches", "search_success", "active_calls", "relayed_calls",
    "relay_bandwidth_bps", "supernodes_with_clients", "bootstrap_share", "hostcache_size",
    "search_online", "search_online_found",
};

size_t world_ts_columns(const char *const **names)
{
    *names = world_ts_names;
    return G_N_ELEMENTS(world_ts_names);
}

void world_ts_row(const World *w, double *v)
{
    WorldStats st;
    world_stats(w, &st);
    v[0] = (double)st.online;
    v[1] = (double)st.logged_in;
    v[2] = (double)st.supernodes;
    v[3] = st.supernodes ? (double)st.sn_clients / (double)st.supernodes : 0;
    v[4] = (double)st.logins;
    v[5] = (double)st.logouts;
    v[6] = (double)st.crashes;
    v[7] = world_hostcache_freshness(w);
    double search_ok = metrics_value(w->metrics, world_metric_id(w, METRIC_SEARCH_SUCCESS));
    v[8] = search_ok + metrics_value(w->metrics, world_metric_id(w, METRIC_SEARCH_FAILURE));
    v[9] = search_ok;
    v[10] = metrics_value(w->metrics, world_metric_id(w, METRIC_CALL_ACTIVE));
    v[11] = metrics_value(w->metrics, world_metric_id(w, METRIC_CALL_RELAYED_ACTIVE));
    v[12] = world_ts_relay_bps(w);
    v[13] = (double)st.sn_loaded;
    v[14] = st.sn_clients ? (double)st.boot_clients / (double)st.sn_clients : NAN;
    v[15] = world_hostcache_median(w);
    double online_found = metrics_value(w->metrics, w->m_search[0][0]);
    v[16] = online_found + metrics_value(w->metrics, w->m_search[0][1]);
    v[17] = online_found;
}

void world_nat_confusion(const World *w, uint64_t *counts)
{
    memset(counts, 0, sizeof(uint64_t) * NAT_TYPE_COUNT * NAT_TYPE_COUNT);
    for (size_t i = w->first_client; i < w->npeers; i++) {
        const WorldPeer *p = &w->peers[i];
        if (!p->node) continue;
        NatType d = node_nat_detected(p->node);
        if (d == NAT_UNKNOWN) continue;
        counts[p->true_nat * NAT_TYPE_COUNT + d]++;
    }
}

size_t world_peer_count(const World *w) { return w->npeers; }
size_t world_first_client(const World *w) { return w->first_client; }
Node *world_peer_node(const World *w, size_t i) { return i < w->npeers ? w->peers[i].node : NULL; }
NodeRole world_peer_role(const World *w, size_t i) { return w->peers[i].role; }
uint32_t world_peer_host(const World *w, size_t i) { return w->peers[i].host; }
void world_peer_crash(World *w, size_t i) { world_peer_stop(w, &w->peers[i], false); }

void world_peer_logout(World *w, size_t i) { world_peer_stop(w, &w->peers[i], true); }

void world_peer_username(const World *w, size_t i, char *buf, size_t size)
{
    world_username(envsim_node_id(w->peers[i].en), buf, size);
}

/* Writes s as one CSV field: quoted (quotes doubled) when it holds a comma,
 * a quote or a line break (RFC 4180). */
static void world_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

bool world_nodes_write(const World *w, FILE *out)
{
    fputs("node,role,group,inside_addr,outside_addr,true_nat\n", out);
    for (size_t i = 0; i < w->npeers; i++) {
        const WorldPeer *p = &w->peers[i];
        uint32_t in = net_node_addr(w->net, p->host), pub = net_node_public_addr(w->net, p->host);
        fprintf(out, "%u,%s,", envsim_node_id(p->en), world_role_name(p->role));
        world_csv_field(out, p->group >= 0 ? w->spec->population.groups[p->group].name : "");
        fprintf(out, ",%u.%u.%u.%u,%u.%u.%u.%u,%s\n", in >> 24, (in >> 16) & 255, (in >> 8) & 255,
                in & 255, pub >> 24, (pub >> 16) & 255, (pub >> 8) & 255, pub & 255,
                stun_nat_name(p->true_nat));
    }
    return !ferror(out);
}
