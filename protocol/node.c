/* node: lifecycle, event dispatch and the plumbing every role uses: the
 * connection table, TCP framing and encryption, UDP obfuscation, byte
 * accounting per login phase, metric interning (see node.h, node_int.h).
 *
 * Dispatch: the env calls node_ops; datagrams are demultiplexed here (STUN
 * by its header, NAcks by their function byte, the rest opened with RC4 and
 * decoded), TCP bytes are reassembled into frames here, and decoded
 * messages go to the role's handler by connection kind. Malformed input is
 * counted ("wire.malformed.udp|tcp", "stun.malformed") and dropped; on TCP
 * the stream cannot be resynchronised, so the connection is aborted.
 *
 * The connection table is a small array searched linearly: O(n) per event,
 * fine for clients (a handful of connections) and for supernodes up to a
 * few hundred clients (a47); a dedicated supernode with thousands of
 * clients would want an index by handle.
 */
#include "protocol/node.h"
#include "protocol/metric_table.h"

#include "protocol/node_int.h"

#include <string.h>

/* ---- Shared state ---- */

_Static_assert(PH_COUNT == METRIC_LOGIN_PHASE_COUNT, "login phases named in metric_table.c");

static void node_metrics_intern(NodeMetrics *m, const Env *e)
{
    m->login_attempt = metric_table_intern(e, METRIC_LOGIN_ATTEMPTS);
    m->login_ok = metric_table_intern(e, METRIC_LOGIN_SUCCESS);
    m->login_fail = metric_table_intern(e, METRIC_LOGIN_FAILURE);
    m->login_time = metric_table_intern(e, METRIC_LOGIN_TIME_S);
    m->login_rounds = metric_table_intern(e, METRIC_LOGIN_ROUNDS);
    m->login_give_ups = metric_table_intern(e, METRIC_LOGIN_GIVE_UPS);
    m->login_eventual = metric_table_intern(e, METRIC_LOGIN_EVENTUAL_TIME_S);
    m->login_nodes = metric_table_intern(e, METRIC_LOGIN_NODES_CONTACTED);
    for (int t = 0; t < NAT_TYPE_COUNT; t++) {
        m->login_ok_by[t] = metric_table_intern_family(e, METRIC_FAM_LOGIN_SUCCESS_BY_NAT, t, 0, 0);
        m->login_fail_by[t] = metric_table_intern_family(e, METRIC_FAM_LOGIN_FAILURE_BY_NAT, t, 0, 0);
        m->login_time_by[t] = metric_table_intern_family(e, METRIC_FAM_LOGIN_TIME_S_BY_NAT, t, 0, 0);
        for (int d = 0; d < NAT_TYPE_COUNT; d++)
            m->nat_confusion[t][d] =
                metric_table_intern_family(e, METRIC_FAM_NAT_CONFUSION, t, d, 0);
    }
    for (int p = 1; p < PH_COUNT; p++) {
        m->phase_bytes[p] = metric_table_intern_family(e, METRIC_FAM_LOGIN_BYTES_BY_PHASE, p, 0, 0);
        m->phase_pkts[p] = metric_table_intern_family(e, METRIC_FAM_LOGIN_PACKETS_BY_PHASE, p, 0, 0);
    }
    m->nat_total = metric_table_intern(e, METRIC_NAT_DETECT_TOTAL);
    m->nat_correct = metric_table_intern(e, METRIC_NAT_DETECT_CORRECT);
    m->nat_keeps_state = metric_table_intern(e, METRIC_NAT_DETECT_KEEPS_STATE);
    m->sn_count = metric_table_intern(e, METRIC_SUPERNODE_COUNT);
    m->sn_promotions = metric_table_intern(e, METRIC_SUPERNODE_PROMOTIONS);
    m->sn_clients = metric_table_intern(e, METRIC_SUPERNODE_CLIENTS);
    m->sn_rejected = metric_table_intern(e, METRIC_SUPERNODE_REJECTED);
    m->sn_shed = metric_table_intern(e, METRIC_SUPERNODE_SHED);
    m->sn_forwarded = metric_table_intern(e, METRIC_SUPERNODE_FORWARDED);
    m->sn_moved = metric_table_intern(e, METRIC_SUPERNODE_MOVED);
    m->sn_nominations = metric_table_intern(e, METRIC_SUPERNODE_NOMINATIONS);
    m->sn_capped = metric_table_intern(e, METRIC_SUPERNODE_PROMOTIONS_CAPPED);
    m->hc_added = metric_table_intern(e, METRIC_HOSTCACHE_ADDED);
    m->hc_evicted = metric_table_intern(e, METRIC_HOSTCACHE_EVICTED);
    m->hc_sweeps = metric_table_intern(e, METRIC_HOSTCACHE_SWEEPS);
    m->udp_blocked = metric_table_intern(e, METRIC_LOGIN_UDP_BLOCKED);
    m->udp_skipped = metric_table_intern(e, METRIC_LOGIN_UDP_PHASES_SKIPPED);
    m->sn_fwd_dup = metric_table_intern(e, METRIC_SUPERNODE_FWD_DUPLICATES);
    m->sn_fwd_ttl = metric_table_intern(e, METRIC_SUPERNODE_FWD_TTL_CLAMPED);
    m->sn_fwd_rate = metric_table_intern(e, METRIC_SUPERNODE_FWD_RATE_LIMITED);
    m->sn_unauth = metric_table_intern(e, METRIC_SUPERNODE_UNAUTHENTICATED);
    m->sn_bytes_in = metric_table_intern(e, METRIC_SUPERNODE_BYTES_IN);
    m->sn_bytes_out = metric_table_intern(e, METRIC_SUPERNODE_BYTES_OUT);
    m->sn_stun_answered = metric_table_intern(e, METRIC_SUPERNODE_STUN_ANSWERED);
    m->sn_peer_signal = metric_table_intern(e, METRIC_SUPERNODE_PEER_SIGNAL_BYTES);
    m->failover_time = metric_table_intern(e, METRIC_FAILOVER_TIME_S);
    m->failover_count = metric_table_intern(e, METRIC_FAILOVER_COUNT);
    m->failover_relogin = metric_table_intern(e, METRIC_FAILOVER_RELOGIN);
    m->keepalive_sent = metric_table_intern(e, METRIC_KEEPALIVE_SENT);
    m->poll_sent = metric_table_intern(e, METRIC_POLL_SENT);
    m->poll_lost = metric_table_intern(e, METRIC_POLL_DROPPED_ENTRIES);
    m->malformed_udp = metric_table_intern(e, METRIC_WIRE_MALFORMED_UDP);
    m->malformed_tcp = metric_table_intern(e, METRIC_WIRE_MALFORMED_TCP);
    m->malformed_stun = metric_table_intern(e, METRIC_STUN_MALFORMED);
    m->nack_sent = metric_table_intern(e, METRIC_WIRE_NACK_SENT);
    m->signal_received = metric_table_intern(e, METRIC_SIGNAL_RECEIVED);
    m->hc_size = metric_table_intern(e, METRIC_HOSTCACHE_SIZE);
    m->hc_size_hourly = metric_table_intern(e, METRIC_HOSTCACHE_SIZE_HOURLY);
    m->mem_client = metric_table_intern(e, METRIC_MEMORY_CLIENT_STATE_BYTES);
    m->http_installed = metric_table_intern(e, METRIC_HTTP_INSTALLED);
    m->http_version = metric_table_intern(e, METRIC_HTTP_GETLATESTVERSION);
    m->auth_ok = metric_table_intern(e, METRIC_LOGINSERVER_CERTIFIED);
    m->auth_refused = metric_table_intern(e, METRIC_LOGINSERVER_REFUSED);
}

/* Enters feature f's claims into the routing tables; CHECK fails when a
 * message type or connection kind is claimed twice. */
static void node_feature_route(NodeShared *sh, const NodeFeature *f)
{
    uint8_t id = (uint8_t)f->id;
    for (uint8_t i = 0; i < f->n_udp_types; i++) {
        uint8_t t = f->udp_types[i];
        CHECK(sh->udp_route[t] == NODE_ROUTE_NONE, "UDP type %u claimed by %s and %s", t,
              f->name, sh->feat[sh->udp_route[t]]->name);
        sh->udp_route[t] = id;
    }
    for (uint8_t i = 0; i < f->n_tcp_types; i++) {
        uint8_t t = f->tcp_types[i];
        CHECK(sh->tcp_route[t] == NODE_ROUTE_NONE, "TCP type %u claimed by %s and %s", t,
              f->name, sh->feat[sh->tcp_route[t]]->name);
        sh->tcp_route[t] = id;
    }
    for (uint8_t i = 0; i < f->n_conn_kinds; i++) {
        uint8_t k = f->conn_kinds[i].kind;
        CHECK(k != CONN_FREE && k != CONN_IN_PENDING, "%s claims plumbing kind %u", f->name, k);
        CHECK(sh->kind_route[k] == NODE_ROUTE_NONE, "conn kind %u claimed by %s and %s", k,
              f->name, sh->feat[sh->kind_route[k]]->name);
        sh->kind_route[k] = id;
        sh->kind_flags[k] = f->conn_kinds[i].flags;
        sh->kind_open[k] = f->conn_kinds[i].open_types;
    }
    uint8_t *one[3] = {&sh->stun_server, &sh->stun_client, &sh->nack_client};
    bool claims[3] = {f->stun_server, f->stun_client, f->nack_client};
    for (int i = 0; i < 3; i++) {
        if (!claims[i]) continue;
        CHECK(*one[i] == NODE_ROUTE_NONE, "%s: a second STUN/NAck handler", f->name);
        *one[i] = id;
    }
}

/* Registers the features in order and builds the routing tables. */
static bool node_features_register(NodeShared *sh, const Env *world_env,
                                   const NodeFeature *const *features, size_t n, GError **err)
{
    memset(sh->udp_route, NODE_ROUTE_NONE, sizeof sh->udp_route);
    memset(sh->tcp_route, NODE_ROUTE_NONE, sizeof sh->tcp_route);
    memset(sh->kind_route, NODE_ROUTE_NONE, sizeof sh->kind_route);
    sh->stun_server = sh->stun_client = NODE_ROUTE_NONE;
    sh->nack_client = NODE_ROUTE_NONE;
    CHECK(n < NODE_FEAT_COUNT, "%zu features", n);
    for (size_t i = 0; i < n; i++) {
        const NodeFeature *f = features[i];
        CHECK(f->id > NODE_FEAT_PLUMBING && f->id < NODE_FEAT_COUNT && !sh->feat[f->id],
              "feature %s: bad or duplicate id %d", f->name, (int)f->id);
        sh->feat[f->id] = f;
        sh->order[sh->nfeat++] = f;
        node_feature_route(sh, f);
        if (f->shared_init && !f->shared_init(sh, world_env, err)) return false;
    }
    return true;
}

static NodeShared *node_shared_make(const Env *world_env, const NodeParams *p,
                                    const NodeFeature *const *features, size_t n_features,
                                    GError **err)
{
    Crypto *c = crypto_new(err);
    if (!c) return NULL;
    NodeShared *sh = g_new0(NodeShared, 1); /* not per node: one per world */
    sh->promoted = g_new0(uint32_t, 1); /* not per node: the world-wide count */
    sh->p = *p;
    sh->crypto = c;
    sh->server_key = crypto_rsa_keygen(c, world_env, p->server_key_bits);
    sh->n_user_keys = p->user_key_pool;
    sh->user_keys = g_new0(CryptoKey *, p->user_key_pool ? p->user_key_pool : 1); /* not per node */
    for (uint16_t i = 0; i < sh->n_user_keys; i++)
        sh->user_keys[i] = crypto_rsa_keygen(c, world_env, p->user_key_bits);
    node_metrics_intern(&sh->m, world_env);
    sh->media = media_shared_new(world_env, err);
    if (!sh->media || !node_features_register(sh, world_env, features, n_features, err)) {
        node_shared_free(sh);
        return NULL;
    }
    return sh;
}

NodeShared *node_shared_new_with(const Env *world_env, const NodeParams *p,
                                 const NodeFeature *const *features, size_t n_features,
                                 GError **err)
{
    return node_shared_make(world_env, p, features, n_features, err);
}

void node_shared_free(NodeShared *sh)
{
    if (!sh) return;
    for (int i = sh->nfeat - 1; i >= 0; i--)
        if (sh->order[i]->shared_fini) sh->order[i]->shared_fini(sh);
    media_shared_free(sh->media);
    crypto_key_free(sh->server_key);
    for (uint16_t i = 0; i < sh->n_user_keys; i++) crypto_key_free(sh->user_keys[i]);
    g_free(sh->user_keys);
    crypto_free(sh->crypto);
    g_free(sh->promoted);
    g_free(sh);
}

const NodeParams *node_shared_params(const NodeShared *sh)
{
    return &sh->p;
}

/* ---- Node lifecycle ---- */

Node *node_new(const Env *env, const NodeShared *sh, const NodeConfig *cfg)
{
    Node *n = env_mem_alloc(env, sizeof *n);
    n->env = *env;
    n->sh = sh;
    n->id = cfg->id;
    n->role = (uint8_t)cfg->role;
    int label = env_host_nat_label(env); /* host metadata, for metrics only */
    n->true_nat = (uint8_t)(label >= 0 && label < NAT_TYPE_COUNT ? label : NAT_UNKNOWN);
    n->state = NODE_ST_OFFLINE;
    n->nat = NAT_UNKNOWN;
    n->uplink_kbps = cfg->uplink_kbps;
    n->cpu_mhz = cfg->cpu_mhz;
    n->cfg_capacity = cfg->sn_capacity;
    n->port = cfg->port;
    if (!n->port && cfg->role == NODE_ROLE_WEB_SERVER) n->port = 80;
    if (!n->port && cfg->role == NODE_ROLE_GATEWAY) n->port = 12340; /* a18 */
    if (!n->port && cfg->role != NODE_ROLE_CLIENT) n->port = 33033;
    n->uplink = -1;
    if (cfg->username) {
        size_t ulen = strlen(cfg->username);
        CHECK(ulen > 0 && ulen <= WIRE_USER_MAX, "username of %zu bytes", ulen);
        memcpy(n->user, cfg->username, ulen);
        n->ulen = (uint8_t)ulen;
        const char *pw = cfg->password ? cfg->password : "";
        char salted[WIRE_USER_MAX + 10];
        g_snprintf(salted, sizeof salted, "%s\nskyper\n", n->user);
        crypto_md5(sh->crypto, env, salted, strlen(salted), pw, strlen(pw), n->pwhash); /* a15 */
    }
    return n;
}

void node_free(Node *n)
{
    if (!n) return;
    CHECK(n->state == NODE_ST_OFFLINE, "freeing a running node (state %u)", n->state);
    Env e = n->env;
    env_mem_free(&e, n->conns, n->conns_cap * sizeof(NodeConn));
    env_mem_free(&e, n, sizeof *n);
}

bool node__sn_seen(Node *n, uint32_t fp)
{
    SnState *s = n->sn;
    CHECK(s, "node__sn_seen on a node that is not a supernode");
    fp = fp ? fp : 1; /* 0 marks an empty entry */
    uint32_t now = (uint32_t)(env_now(&n->env) / TIMENS_MS);
    for (int i = 0; i < SN_SEEN_MAX; i++)
        if (s->seen[i].fp == fp && now - s->seen[i].ms < SN_SEEN_MS) {
            node__count(n, NODE_M(n)->sn_fwd_dup, 1);
            return true;
        }
    s->seen[s->seen_pos] = (SnSeen){fp, now};
    s->seen_pos = (uint8_t)((s->seen_pos + 1) % SN_SEEN_MAX);
    return false;
}

bool node__is_bootstrap(const Node *n, EnvAddr a)
{
    const NodeParams *p = &n->sh->p;
    for (uint8_t i = 0; i < p->n_bootstrap; i++)
        if (env_addr_eq(p->bootstrap[i], a)) return true;
    return false;
}

bool node__sn_fresh(const Node *n, const HostCacheEntry *x)
{
    uint32_t now_s = (uint32_t)(env_now(&n->env) / TIMENS_S);
    EnvAddr a = env_addr(x->ip, x->port);
    return x->score >= 0 && now_s - MIN(now_s, x->last_seen_s) <= n->sh->p.sn_entry_ttl_ns / TIMENS_S &&
           !env_addr_eq(a, n->public_addr) && !(x->flags & HOSTCACHE_F_BOOTSTRAP) &&
           !node__is_bootstrap(n, a);
}

/* Takes one token from a bucket of `rate` a second (burst 2 x rate)
 * last refilled at *ms; false when empty. */
static bool node_bucket_take(uint16_t *tokens, uint32_t *ms, uint32_t now_ms, uint32_t rate)
{
    uint32_t add = (now_ms - *ms) * rate / 1000;
    if (add > 0) {
        *tokens = (uint16_t)MIN((uint32_t)*tokens + add, 2 * rate);
        *ms += add * 1000 / rate;
    }
    if (*tokens == 0) return false;
    (*tokens)--;
    return true;
}

static bool node_sn_rate_take(Node *n, int idx)
{
    SnState *s = n->sn;
    uint32_t now = (uint32_t)(env_now(&n->env) / TIMENS_MS);
    uint16_t aux = n->conns[idx].aux;
    if (n->conns[idx].kind == CONN_SN_CLIENT) {
        if (!aux || aux > s->slots) return false;
        SnClient *c = &s->clients[aux - 1];
        return node_bucket_take(&c->fwd_tokens, &c->fwd_ms, now, SN_FWD_CLIENT_RATE);
    }
    int p = -1;
    for (int i = 0; i < SN_PEER_MAX && p < 0; i++)
        if (s->peer[i].conn == idx) p = i;
    SnBucket *b = p >= 0 ? &s->peer_fwd[p] : &s->others;
    if (p >= 0 && b->conn != idx) *b = (SnBucket){.conn = idx, .tokens = 2 * SN_FWD_PEER_RATE, .ms = now};
    return node_bucket_take(&b->tokens, &b->ms, now, SN_FWD_PEER_RATE);
}

bool node__sn_rate_ok(Node *n, int idx)
{
    CHECK(n->sn, "node__sn_rate_ok on a node that is not a supernode");
    if (idx < 0 || node_sn_rate_take(n, idx)) return true;
    node__count(n, NODE_M(n)->sn_fwd_rate, 1);
    return false;
}

/* Binds the main UDP socket and the TCP listeners (main port, 80, 443:
 * a9; 80 and 443 only where the host lets us). Returns false when the main
 * port is taken. */
bool node__bind(Node *n)
{
    if (env_udp_bind(&n->env, n->port, &n->udp) != ENV_OK) return false;
    if (env_tcp_listen(&n->env, n->port, &n->tcp_main) != ENV_OK) {
        env_udp_close(&n->env, &n->udp);
        return false;
    }
    n->local = env_sock_local(&n->env, n->udp);
    if (n->port != 80) (void)env_tcp_listen(&n->env, 80, &n->tcp_80);
    if (n->port != 443) (void)env_tcp_listen(&n->env, 443, &n->tcp_443);
    return true;
}

/* The role's own set-up before the features start: servers bind and go
 * SERVING; supernode roles get their host cache and public identity;
 * clients bind themselves (the client feature draws or loads the port). */
static void node_role_setup(Node *n)
{
    NodeRole r = (NodeRole)n->role;
    if (r == NODE_ROLE_CLIENT) return;
    CHECK(node__bind(n), "node %u (role %u) cannot bind port %u", n->id, n->role, n->port);
    if (r == NODE_ROLE_SUPERNODE || r == NODE_ROLE_BOOTSTRAP) {
        hostcache_init(&n->hc, &n->env, n->sh->p.hostcache_cap);
        if (!hostcache_load(&n->hc, &n->env))
            hostcache_add_bootstrap(&n->hc, n->sh->p.bootstrap, n->sh->p.n_bootstrap,
                                    n->started_at);
    }
    if (r != NODE_ROLE_LOGIN_SERVER && r != NODE_ROLE_WEB_SERVER) {
        n->public_addr = env_addr(n->local.ip, n->port);
        n->nat = NAT_OPEN; /* dedicated servers are provisioned on public addresses */
    }
    n->state = NODE_ST_SERVING;
}

static void node_start(Node *n)
{
    CHECK(n->state == NODE_ST_OFFLINE, "start of a running node");
    n->started_at = env_now(&n->env);
    node_role_setup(n);
    for (uint8_t i = 0; i < n->sh->nfeat; i++)
        if (n->sh->order[i]->start) n->sh->order[i]->start(n);
}

static void node_stop(Node *n, bool graceful)
{
    if (n->state == NODE_ST_OFFLINE) return;
    /* These features stop first, in this order (the order the roles'
     * state depends on: the client before the supernode role it may hold,
     * the index before the calls); the others then in registration order. */
    static const NodeFeatureId stop_order[] = {NODE_FEAT_CLIENT, NODE_FEAT_SUPERNODE,
                                               NODE_FEAT_SEARCH, NODE_FEAT_CALL, NODE_FEAT_CONF};
    bool done[NODE_FEAT_COUNT] = {false};
    for (size_t i = 0; i < G_N_ELEMENTS(stop_order); i++) {
        const NodeFeature *f = n->sh->feat[stop_order[i]];
        done[stop_order[i]] = true;
        if (f && f->stop) f->stop(n, graceful);
    }
    for (uint8_t i = 0; i < n->sh->nfeat; i++) {
        const NodeFeature *f = n->sh->order[i];
        if (!done[f->id] && f->stop) f->stop(n, graceful);
    }
    if (n->hc.e) {
        if (graceful) hostcache_save(&n->hc, &n->env);
        hostcache_fini(&n->hc, &n->env);
    }
    for (int i = 0; i < n->nconns; i++)
        if (n->conns[i].kind != CONN_FREE) node__conn_close(n, i, !graceful);
    env_udp_close(&n->env, &n->udp);
    env_tcp_unlisten(&n->env, &n->tcp_main);
    env_tcp_unlisten(&n->env, &n->tcp_80);
    env_tcp_unlisten(&n->env, &n->tcp_443);
    n->state = NODE_ST_OFFLINE;
}

/* ---- Accounting ---- */

void node__count(Node *n, EnvMetric id, int64_t delta)
{
    env_metric_add(&n->env, id, delta);
}

/* One signalling message on the node's link (Node.sig_bytes). */
static void node_sig(Node *n, size_t bytes)
{
    n->sig_bytes += (uint32_t)bytes;
    n->sig_pkts++;
}

static void node_sig_rx(Node *n, size_t bytes)
{
    node_sig(n, bytes);
    n->sig_last_rx = (uint16_t)MIN(bytes, (size_t)UINT16_MAX);
}

void node__account(Node *n, NodePhase ph, size_t bytes)
{
    if (ph == PH_NONE) return;
    env_metric_add(&n->env, NODE_M(n)->phase_bytes[ph], (int64_t)bytes);
    env_metric_add(&n->env, NODE_M(n)->phase_pkts[ph], 1);
}

uint32_t node__random_u32(Node *n)
{
    return (uint32_t)(env_random_u64(&n->env) >> 32);
}

/* ---- Timers and events ---- */

EnvTimer node__timer_start(Node *n, NodeFeatureId f, TimeNs delay_ns, uint8_t kind)
{
    return env_timer_start(&n->env, delay_ns, ((uint32_t)f << 8) | kind);
}

EnvTimer node__timer_start_periodic(Node *n, NodeFeatureId f, TimeNs first_ns, TimeNs period_ns,
                                    uint8_t kind)
{
    return env_timer_start_periodic(&n->env, first_ns, period_ns, ((uint32_t)f << 8) | kind);
}

void node__emit(Node *n, NodeEvent ev, const NodeEventArg *arg)
{
    static const NodeEventArg none = {.idx = -1};
    const NodeEventArg *a = arg ? arg : &none;
    for (uint8_t i = 0; i < n->sh->nfeat; i++)
        if (n->sh->order[i]->on_event) n->sh->order[i]->on_event(n, ev, a);
}

/* ---- Connection table ---- */

/* Whether connection kind k has flag (NODE_CK_*). */
static bool node_kind_is(const Node *n, uint8_t k, uint8_t flag)
{
    return (n->sh->kind_flags[k] & flag) != 0;
}

NodeConn *node__conn(Node *n, int idx)
{
    CHECK(idx >= 0 && idx < n->nconns && n->conns[idx].kind != CONN_FREE, "bad conn index %d", idx);
    return &n->conns[idx];
}

int node__conn_add(Node *n, EnvConn h, EnvAddr peer, uint8_t kind, uint8_t phase)
{
    int idx = -1;
    for (int i = 0; i < n->nconns && idx < 0; i++)
        if (n->conns[i].kind == CONN_FREE) idx = i;
    if (idx < 0) {
        if (n->nconns == n->conns_cap) {
            uint16_t cap = n->conns_cap ? (uint16_t)(n->conns_cap * 2) : 2;
            CHECK(cap > n->conns_cap, "connection table overflow");
            NodeConn *t = env_mem_alloc(&n->env, cap * sizeof *t);
            if (n->conns) memcpy(t, n->conns, n->conns_cap * sizeof *t);
            env_mem_free(&n->env, n->conns, n->conns_cap * sizeof *t);
            n->conns = t;
            n->conns_cap = cap;
        }
        idx = n->nconns++;
    }
    NodeConn *c = &n->conns[idx];
    memset(c, 0, sizeof *c);
    c->h = h;
    c->peer = peer;
    c->kind = kind;
    c->phase = phase;
    return idx;
}

int node__conn_find(const Node *n, EnvConn h)
{
    for (int i = 0; i < n->nconns; i++)
        if (n->conns[i].kind != CONN_FREE && env_conn_eq(n->conns[i].h, h)) return i;
    return -1;
}

static void node_conn_rx_free(Node *n, NodeConn *c)
{
    env_mem_free(&n->env, c->rx, NODE_RX_CAP);
    c->rx = NULL;
    c->rx_len = 0;
}

void node__conn_close(Node *n, int idx, bool abort)
{
    NodeConn *c = node__conn(n, idx);
    if (abort)
        env_tcp_abort(&n->env, &c->h);
    else
        env_tcp_close(&n->env, &c->h);
    node_conn_rx_free(n, c);
    c->kind = CONN_FREE;
    while (n->nconns > 0 && n->conns[n->nconns - 1].kind == CONN_FREE)
        n->nconns--;
}

int node__connect(Node *n, EnvAddr to, uint8_t kind, uint8_t phase)
{
    EnvConn h;
    if (env_tcp_connect(&n->env, to, &h) != ENV_OK) return -1;
    int idx = node__conn_add(n, h, to, kind, phase);
    n->conns[idx].state = CS_CONNECTING;
    return idx;
}

void node__conn_hello(Node *n, int idx, uint8_t role)
{
    NodeConn *c = node__conn(n, idx);
    uint8_t buf[WIRE_HELLO_LEN];
    uint32_t seed = node__random_u32(n);
    size_t len = wire_hello_encode(seed, role, &n->env, buf, sizeof buf);
    wire_stream_key(n->sh->crypto, &n->env, seed, c->tx_key);
    if (c->state == CS_CONNECTING) c->state = CS_OPEN;
    (void)node__send_raw(n, idx, buf, len);
}

/* Sends bytes on connection idx; sig: they count as signalling (Node.sig_bytes). */
static int node_send_bytes(Node *n, int idx, const uint8_t *buf, size_t len, bool sig)
{
    NodeConn *c = node__conn(n, idx);
    node__account(n, (NodePhase)c->phase, len);
    if (sig) node_sig(n, len);
    if (n->sn && node_kind_is(n, c->kind, NODE_CK_SN_TX))
        node__count(n, NODE_M(n)->sn_bytes_out, (int64_t)len);
    return env_tcp_send(&n->env, c->h, buf, len);
}

int node__send_raw(Node *n, int idx, const uint8_t *buf, size_t len)
{
    return node_send_bytes(n, idx, buf, len, true);
}

int node__send_msg(Node *n, int idx, const WireMsg *m)
{
    uint8_t body[WIRE_FRAME_MAX], frame[WIRE_FRAME_MAX + 2];
    size_t len = wire_encode(m, body, sizeof body);
    NodeConn *c = node__conn(n, idx);
    size_t flen = wire_frame_seal(n->sh->crypto, &n->env, c->tx_key, c->tx_ctr++, body, len, frame,
                                  sizeof frame);
    if (n->sn && c->kind == CONN_SN_PEER && (m->type == WIRE_FORWARD || m->type == WIRE_CALL))
        node__count(n, NODE_M(n)->sn_peer_signal, (int64_t)flen); /* calls' and messages' share */
    return node_send_bytes(n, idx, frame, flen, m->type != WIRE_CALL_MEDIA); /* voice is not */
}

void node__udp_send_msg(Node *n, EnvSock s, EnvAddr to, uint16_t frame_id, const WireMsg *m,
                        NodePhase ph)
{
    uint8_t body[ENV_UDP_MAX], pkt[ENV_UDP_MAX];
    size_t len = wire_encode(m, body, sizeof body - WIRE_UDP_HDR - WIRE_UDP_TRAILER);
    size_t plen = wire_udp_seal(n->sh->crypto, &n->env, frame_id, n->public_addr.ip, to.ip, body,
                                len, pkt, sizeof pkt);
    node__account(n, ph, plen);
    node_sig(n, plen);
    if (n->sn) node__count(n, NODE_M(n)->sn_bytes_out, (int64_t)plen);
    (void)env_udp_send(&n->env, s, to, pkt, plen);
}

/* ---- Datagrams ---- */

/* The registered feature that claimed routing entry r, or NULL. */
static const NodeFeature *node_route(const Node *n, uint8_t r)
{
    return r == NODE_ROUTE_NONE ? NULL : n->sh->feat[r];
}

static void node_on_stun(Node *n, EnvSock s, EnvAddr from, const uint8_t *buf, size_t len)
{
    StunMsg m;
    if (!stun_decode(buf, len, &m)) {
        node__count(n, NODE_M(n)->malformed_stun, 1);
        return;
    }
    bool req = m.type == STUN_BINDING_REQUEST;
    const NodeFeature *f = node_route(n, req ? n->sh->stun_server : n->sh->stun_client);
    if (f) f->on_stun(n, s, from, &m, len);
}

static void node_on_nack(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    uint16_t fid;
    EnvAddr seen;
    const NodeFeature *f = node_route(n, n->sh->nack_client);
    bool ok = wire_nack_decode(buf, len, &fid, &seen);
    if (f) {
        if (ok) f->on_nack(n, from, fid, seen);
        else if (n->role == NODE_ROLE_CLIENT) node__count(n, NODE_M(n)->malformed_udp, 1);
        return;
    }
}

/* Opens a sealed datagram, trying our believed public IP, then our local
 * IP as the destination the sender keyed with. */
static long node_udp_open(Node *n, EnvAddr from, const uint8_t *buf, size_t len, uint8_t *body,
                          uint16_t *frame_id)
{
    uint32_t dst[2] = {n->public_addr.ip ? n->public_addr.ip : n->local.ip, n->local.ip};
    long r = WIRE_OPEN_SHORT;
    for (int i = 0; i < 2 && (i == 0 || dst[1] != dst[0]); i++) {
        r = wire_udp_open(n->sh->crypto, &n->env, buf, len, from.ip, dst[i], body, ENV_UDP_MAX,
                          frame_id);
        if (r != WIRE_OPEN_BADCRC) break;
    }
    return r;
}

/* Media demultiplexing before any decoding: true when a feature took the
 * datagram. Order: conference voice, then calls (the gateway's calls, relay
 * sessions, the node's call), then the other registered features in
 * registration order. */
static bool node_raw_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len)
{
    static const NodeFeatureId first[] = {NODE_FEAT_CONF, NODE_FEAT_CALL};
    for (size_t i = 0; i < G_N_ELEMENTS(first); i++) {
        const NodeFeature *f = n->sh->feat[first[i]];
        if (f && f->on_raw_udp && f->on_raw_udp(n, from, buf, len)) return true;
    }
    for (uint8_t i = 0; i < n->sh->nfeat; i++) {
        const NodeFeature *f = n->sh->order[i];
        if (f->id == NODE_FEAT_CONF || f->id == NODE_FEAT_CALL) continue;
        if (f->on_raw_udp && f->on_raw_udp(n, from, buf, len)) return true;
    }
    return false;
}

static void node_on_datagram(Node *n, EnvSock s, EnvAddr from, const uint8_t *buf, size_t len)
{
    if (n->state == NODE_ST_OFFLINE) return;
    if (n->sn) node__count(n, NODE_M(n)->sn_bytes_in, (int64_t)len);
    if (node_raw_udp(n, from, buf, len)) return;
    node_sig_rx(n, len);
    if (stun_is_stun(buf, len)) {
        node_on_stun(n, s, from, buf, len);
        return;
    }
    if (wire_udp_is_nack(buf, len)) {
        node_on_nack(n, from, buf, len);
        return;
    }
    uint16_t fid;
    uint8_t body[ENV_UDP_MAX];
    long blen = len <= ENV_UDP_MAX ? node_udp_open(n, from, buf, len, body, &fid) : WIRE_OPEN_SHORT;
    WireMsg m;
    if (blen == WIRE_OPEN_BADCRC && n->sn) {
        /* a20: the sender keyed with a wrong source IP; tell it its address. */
        uint8_t nack[WIRE_NACK_LEN];
        wire_nack_encode(fid, from, &n->env, nack, sizeof nack);
        node__count(n, NODE_M(n)->nack_sent, 1);
        node__count(n, NODE_M(n)->sn_bytes_out, WIRE_NACK_LEN);
        (void)env_udp_send(&n->env, s, from, nack, sizeof nack);
        return;
    }
    if (blen < 0 || !wire_decode(body, (size_t)blen, &m) || m.type >= WIRE_UDP_TYPE_END) {
        node__count(n, NODE_M(n)->malformed_udp, 1);
        return;
    }
    if (m.type == WIRE_PING) { /* any online node answers a liveness ping */
        WireMsg pong = {.type = WIRE_PONG, .u.ping = {m.u.ping.nonce, n->sn != NULL}};
        node__udp_send_msg(n, s, from, fid, &pong, PH_NONE);
        return;
    }
    const NodeFeature *f = node_route(n, n->sh->udp_route[m.type]);
    if (f)
        f->on_udp(n, s, from, fid, &m, len);
    else if (n->role == NODE_ROLE_CLIENT && !n->sn)
        node__count(n, NODE_M(n)->malformed_udp, 1); /* a plain client serves nothing else */
}

/* ---- TCP ---- */

static void node_on_tcp_accept(Node *n, EnvSock l, EnvConn c, EnvAddr peer)
{
    (void)l;
    NodeAccept a = {0};
    bool taken = false;
    if (n->state != NODE_ST_OFFLINE) {
        for (uint8_t i = 0; i < n->sh->nfeat && !taken; i++)
            if (n->sh->order[i]->on_accept) taken = n->sh->order[i]->on_accept(n, peer, &a);
    }
    if (!taken) {
        env_tcp_abort(&n->env, &c); /* e.g. a client not logged in takes no calls */
        return;
    }
    int idx = node__conn_add(n, c, peer, a.kind, PH_NONE);
    n->conns[idx].state = CS_OPEN;
    n->conns[idx].aux = a.aux; /* accepted call signalling: the peer must say HELLO_CALL */
    if (a.hello_role) node__conn_hello(n, idx, a.hello_role);
}

/* The registered feature owning connection kind k, or NULL. */
static const NodeFeature *node_kind_owner(const Node *n, uint8_t k)
{
    return node_route(n, n->sh->kind_route[k]);
}

static void node_on_tcp_connected(Node *n, EnvConn c, int status)
{
    int idx = node__conn_find(n, c);
    if (idx < 0) return;
    NodeConn *nc = &n->conns[idx];
    if (status == ENV_OK)
        nc->state = CS_OPEN;
    else
        nc->h = ENV_CONN_NONE; /* dead handle: nothing to close */
    const NodeFeature *f = node_kind_owner(n, nc->kind);
    CHECK(f, "connect event on conn kind %u, which no feature owns", nc->kind);
    f->on_connected(n, idx, status);
}

/* Hands one decoded frame to the feature that claimed its type, else to
 * the owner of the connection's kind. */
static void node_dispatch_frame(Node *n, int idx, const WireMsg *m)
{
    const NodeConn *c = &n->conns[idx];
    if (c->aux == 0 && node_kind_is(n, c->kind, NODE_CK_GATED) &&
        !memchr(n->sh->kind_open[c->kind], m->type, NODE_CK_OPEN_MAX)) { /* not admitted yet */
        node_kind_owner(n, c->kind)->on_frame(n, idx, m);
        return;
    }
    const NodeFeature *f = node_route(n, n->sh->tcp_route[m->type]);
    if (!f) f = node_kind_owner(n, n->conns[idx].kind);
    if (f) {
        f->on_frame(n, idx, m);
        return;
    }
    node__count(n, NODE_M(n)->malformed_tcp, 1); /* nobody here reads it */
    node__conn_drop(n, idx);
}

/* Connection idx of kind `kind` is gone (slot released): tells its owner. */
static void node_conn_gone(Node *n, int idx, uint8_t kind, int status)
{
    const NodeFeature *f = node_kind_owner(n, kind);
    if (f && f->on_closed) f->on_closed(n, idx, status);
}

void node__conn_drop(Node *n, int idx)
{
    uint8_t kind = node__conn(n, idx)->kind;
    node__conn_close(n, idx, true);
    node_conn_gone(n, idx, kind, ENV_ERR_RESET);
}

static void node_tcp_malformed(Node *n, int idx)
{
    node__count(n, NODE_M(n)->malformed_tcp, 1);
    uint8_t kind = n->conns[idx].kind;
    node__conn_close(n, idx, true);
    node_conn_gone(n, idx, kind, ENV_ERR_RESET);
}

/* Removes used bytes from the front of the connection's rx buffer. */
static void node_rx_consume(NodeConn *c, size_t used)
{
    memmove(c->rx, c->rx + used, c->rx_len - used);
    c->rx_len = (uint16_t)(c->rx_len - used);
}

/* Whether slot idx still holds the connection h (a handler may close it). */
static bool node_conn_alive(const Node *n, int idx, EnvConn h)
{
    return idx < n->nconns && n->conns[idx].kind != CONN_FREE && env_conn_eq(n->conns[idx].h, h);
}

enum { RX_MORE = 0, RX_DONE = 1, RX_BAD = -1, RX_GONE = -2 };

/* The peer's hello arrived on idx: its owner (or, for a connection whose
 * role was pending, the first feature that takes it) looks at it. */
static void node_on_hello(Node *n, int idx)
{
    uint8_t kind = n->conns[idx].kind;
    if (kind == CONN_IN_PENDING) {
        for (uint8_t i = 0; i < n->sh->nfeat; i++)
            if (n->sh->order[i]->on_hello && n->sh->order[i]->on_hello(n, idx)) return;
        node__conn_close(n, idx, true); /* nothing here serves that role */
        return;
    }
    const NodeFeature *f = node_kind_owner(n, kind);
    if (f && f->on_hello) (void)f->on_hello(n, idx);
}

/* Consumes one unit (the peer's hello or one frame) from the rx buffer and
 * dispatches it. Returns RX_DONE (try the next), RX_MORE (incomplete),
 * RX_BAD (malformed: the caller aborts) or RX_GONE (a handler closed it). */
static int node_rx_one(Node *n, int idx, EnvConn h)
{
    NodeConn *c = &n->conns[idx];
    if (c->state != CS_READY) {
        if (c->rx_len < WIRE_HELLO_LEN) return RX_MORE;
        uint32_t seed;
        if (!wire_hello_decode(c->rx, WIRE_HELLO_LEN, &seed, &c->peer_role)) return RX_BAD;
        wire_stream_key(n->sh->crypto, &n->env, seed, c->rx_key);
        c->state = CS_READY;
        node__account(n, (NodePhase)c->phase, WIRE_HELLO_LEN);
        node_sig_rx(n, WIRE_HELLO_LEN);
        node_rx_consume(c, WIRE_HELLO_LEN);
        node_on_hello(n, idx);
        return node_conn_alive(n, idx, h) ? RX_DONE : RX_GONE;
    }
    if (c->rx_len < 2) return RX_MORE;
    size_t flen = wire_get_u16(c->rx);
    if (flen == 0 || flen > WIRE_FRAME_MAX) return RX_BAD;
    if (c->rx_len < 2 + flen) return RX_MORE;
    uint8_t body[WIRE_FRAME_MAX]; /* decoded blobs borrow it; rx may be freed by the handler */
    memcpy(body, c->rx + 2, flen);
    node_rx_consume(c, 2 + flen);
    wire_frame_open(n->sh->crypto, &n->env, c->rx_key, c->rx_ctr++, body, flen);
    node__account(n, (NodePhase)c->phase, 2 + flen);
    if (n->sn && !node_kind_is(n, c->kind, NODE_CK_NO_SN_RX))
        node__count(n, NODE_M(n)->sn_bytes_in, (int64_t)(2 + flen));
    WireMsg m;
    if (!wire_decode(body, flen, &m) || m.type < WIRE_CONNECT) return RX_BAD;
    if (m.type != WIRE_CALL_MEDIA) node_sig_rx(n, 2 + flen); /* voice is not signalling */
    node_dispatch_frame(n, idx, &m);
    return node_conn_alive(n, idx, h) ? RX_DONE : RX_GONE;
}

static void node_on_tcp_data(Node *n, EnvConn h, const uint8_t *buf, size_t len)
{
    int idx = node__conn_find(n, h);
    if (idx < 0) return;
    uint8_t kind = n->conns[idx].kind;
    if (node_kind_is(n, kind, NODE_CK_RAW)) {
        const NodeFeature *f = node_kind_owner(n, kind);
        CHECK(f && f->on_raw, "raw data on conn kind %u without a reader", kind);
        node_sig_rx(n, len);
        f->on_raw(n, idx, buf, len);
        return;
    }
    while (len > 0) {
        NodeConn *c = &n->conns[idx];
        if (!c->rx) c->rx = env_mem_alloc(&n->env, NODE_RX_CAP);
        size_t take = MIN(len, (size_t)NODE_RX_CAP - c->rx_len);
        memcpy(c->rx + c->rx_len, buf, take);
        c->rx_len = (uint16_t)(c->rx_len + take);
        buf += take;
        len -= take;
        int r;
        while ((r = node_rx_one(n, idx, h)) == RX_DONE) {
        }
        if (r == RX_GONE) return;
        if (r == RX_BAD) {
            node_tcp_malformed(n, idx);
            return;
        }
        c = &n->conns[idx];
        if (c->rx_len == 0) node_conn_rx_free(n, c);
    }
}

static void node_on_tcp_closed(Node *n, EnvConn h, int status)
{
    int idx = node__conn_find(n, h);
    if (idx < 0) return;
    NodeConn *c = &n->conns[idx];
    uint8_t kind = c->kind;
    c->h = ENV_CONN_NONE; /* dead: nothing to close */
    node__conn_close(n, idx, false);
    node_conn_gone(n, idx, kind, status);
}

static void node_on_timer(Node *n, EnvTimer t, uint32_t tag)
{
    if (n->state == NODE_ST_OFFLINE) return;
    uint32_t id = tag >> 8;
    const NodeFeature *f = id > 0 && id < NODE_FEAT_COUNT ? n->sh->feat[id] : NULL;
    if (f) f->on_timer(n, t, tag & 0xFF); /* else: a feature this world does not run */
}

const NodeOps node_ops = {
    .version = ENV_VERSION,
    .start = node_start,
    .stop = node_stop,
    .on_timer = node_on_timer,
    .on_datagram = node_on_datagram,
    .on_tcp_accept = node_on_tcp_accept,
    .on_tcp_connected = node_on_tcp_connected,
    .on_tcp_data = node_on_tcp_data,
    .on_tcp_closed = node_on_tcp_closed,
};

/* ---- Queries ---- */

NodeState node_state(const Node *n)
{
    return (NodeState)n->state;
}
bool node_is_supernode(const Node *n)
{
    return n->sn != NULL;
}
NatType node_nat_detected(const Node *n)
{
    return (NatType)n->nat;
}
bool node_nat_keeps_state(const Node *n)
{
    return n->nat_keeps_state;
}
EnvAddr node_supernode_addr(const Node *n)
{
    return n->uplink >= 0 ? n->uplink_addr : env_addr(0, 0);
}
EnvAddr node_public_addr(const Node *n)
{
    return n->public_addr;
}
uint16_t node_listen_port(const Node *n)
{
    return n->port;
}
const HostCache *node_hostcache(const Node *n)
{
    return &n->hc;
}
uint16_t node_sn_client_count(const Node *n)
{
    return n->sn ? n->sn->nclients : 0;
}

