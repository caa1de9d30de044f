/* nat: NAT mappings and filtering after RFC 4787 / RFC 5382 (nat.h), and
 * the flow table firewalls share with them (fw.c).
 *
 * Layer: sim/net. Data: pooled 64-byte NatMap records and 24-byte NatPerm
 * records (filtering permissions), two Net-wide chained hash indexes:
 *  - map_out, keyed by (node, proto, internal endpoint, remote part): the
 *    remote part is what the mapping behaviour distinguishes (nothing under
 *    EIM, the remote address under ADM, the remote endpoint under APDM; the
 *    exact remote endpoint for firewall flows);
 *  - map_in, keyed by (node, proto, external port): NAT mappings only. Every
 *    mapping has its own external port, so inbound lookup finds at most one.
 * A mapping lives until `expires`; it is refreshed by outbound packets
 * (RFC 4787 REQ-6), by inbound ones too when configured (UDP) and always
 * for TCP (RFC 5382 REQ-5 counts both directions). An expiry event per
 * mapping reclaims it (rescheduled lazily when it was refreshed meanwhile);
 * lookups also treat an expired mapping as gone. Filtering permissions
 * (ADF: addresses, APDF: endpoints the inside sent to through the mapping,
 * RFC 4787 §5) carry their own lifetime and are pruned while scanned.
 * Each node lists its mappings (doubly linked) so that a NAT going down
 * forgets them in O(its mappings).
 *
 * A conntrack NAT (NatConfig.conntrack, the Linux presets) uses the same
 * records as flows: map_out keyed by the exact remote endpoint, several
 * flows per external port in map_in (one per remote endpoint), no
 * permissions (a flow is its own), and the behaviour of Linux netfilter
 * (nf_conntrack_proto_udp.c for the lifetimes, nf_nat_core.c's
 * get_unique_tuple for the port choice); see "connection tracking" below
 * and docs/nat.md. tests/netns compares both with the kernel.
 */
#include "sim/net/nat.h"

#include <string.h>

#include "protocol/base/check.h"
#include "sim/net/net_int.h"

/* ---- configuration ------------------------------------------------------ */

void nat_config_default(NatConfig *c)
{
    *c = (NatConfig){
        .enabled = true,
        .mapping = NAT_MAP_ENDPOINT_INDEPENDENT,
        .filtering = NAT_FILTER_ADDRESS_PORT_DEPENDENT,
        .port_alloc = NAT_PORT_PRESERVING,
        .hairpin = true,
        .inbound_refresh = false,
        .conntrack = false,
        .unsolicited_state = false,
        .forward = false,
        .udp_timeout_ns = 120 * TIMENS_S,
        .udp_unreplied_ns = 120 * TIMENS_S,
        .udp_assure_ns = 0,
        .tcp_established_ns = 7440 * TIMENS_S,
        .tcp_transitory_ns = 240 * TIMENS_S,
        .max_mappings = 0,
        .inside_net = 0xc0a80000u, /* 192.168.0.0 */
        .inside_prefix_len = 16,
    };
}

static const char *const preset_names[] = {
    "none",           "full_cone",        "restricted_cone",   "port_restricted_cone", "symmetric",
    "static_forward", "linux_masquerade", "linux_home_router", "linux_random_fully",   NULL};

const char *const *nat_preset_names(void) { return preset_names; }

/* A Linux router's conntrack defaults (nf_conntrack sysctls of a current
 * kernel): UDP 30 s unreplied, 120 s once a stream ("_timeout_stream")
 * after 2 s of two-way traffic; packets either way refresh; TCP established
 * 432,000 s, SYN_SENT 120 s. MASQUERADE hairpins nothing: a packet to the
 * router's own outside address is delivered to the router itself. */
static void preset_linux(NatConfig *c)
{
    c->conntrack = true;
    c->unsolicited_state = true;
    c->inbound_refresh = true;
    c->hairpin = false;
    c->udp_unreplied_ns = 30 * TIMENS_S;
    c->udp_assure_ns = 2 * TIMENS_S;
    c->tcp_established_ns = 432000 * TIMENS_S;
    c->tcp_transitory_ns = 120 * TIMENS_S;
}

bool nat_preset(const char *name, NatConfig *c)
{
    nat_config_default(c);
    if (strcmp(name, "full_cone") == 0) {
        c->filtering = NAT_FILTER_ENDPOINT_INDEPENDENT;
    } else if (strcmp(name, "restricted_cone") == 0) {
        c->filtering = NAT_FILTER_ADDRESS_DEPENDENT;
    } else if (strcmp(name, "port_restricted_cone") == 0) {
        c->filtering = NAT_FILTER_ADDRESS_PORT_DEPENDENT;
    } else if (strcmp(name, "symmetric") == 0) {
        c->mapping = NAT_MAP_ADDRESS_PORT_DEPENDENT;
        c->port_alloc = NAT_PORT_SEQUENTIAL;
    } else if (strcmp(name, "static_forward") == 0) { /* SNAT + DNAT to one host */
        preset_linux(c);
        c->forward = true;
        c->filtering = NAT_FILTER_ENDPOINT_INDEPENDENT;
    } else if (strcmp(name, "linux_masquerade") == 0) { /* MASQUERADE, input accepted */
        preset_linux(c);
    } else if (strcmp(name, "linux_home_router") == 0) { /* ... NEW input dropped */
        preset_linux(c);
        c->unsolicited_state = false;
    } else if (strcmp(name, "linux_random_fully") == 0) { /* MASQUERADE --random-fully */
        preset_linux(c);
        c->mapping = NAT_MAP_ADDRESS_PORT_DEPENDENT;
        c->port_alloc = NAT_PORT_RANDOM;
    } else if (strcmp(name, "none") == 0) {
        c->enabled = false;
    } else {
        return false;
    }
    return true;
}

static const char *const mapping_names[] = {"eim", "adm", "apdm", NULL};
static const char *const filtering_names[] = {"eif", "adf", "apdf", NULL};
static const char *const port_names[] = {"preserving", "sequential", "random", NULL};

const char *const *nat_mapping_names(void) { return mapping_names; }
const char *const *nat_filtering_names(void) { return filtering_names; }
const char *const *nat_port_alloc_names(void) { return port_names; }

static bool parse_name(const char *const *names, int n, const char *name, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

bool nat_mapping_parse(const char *name, NatMapping *out)
{
    int v;
    if (!parse_name(mapping_names, 3, name, &v)) return false;
    *out = (NatMapping)v;
    return true;
}

bool nat_filtering_parse(const char *name, NatFiltering *out)
{
    int v;
    if (!parse_name(filtering_names, 3, name, &v)) return false;
    *out = (NatFiltering)v;
    return true;
}

bool nat_port_alloc_parse(const char *name, NatPortAlloc *out)
{
    int v;
    if (!parse_name(port_names, 3, name, &v)) return false;
    *out = (NatPortAlloc)v;
    return true;
}

const char *nat_mapping_name(NatMapping m) { return (unsigned)m < 3 ? mapping_names[m] : "?"; }
const char *nat_filtering_name(NatFiltering f) { return (unsigned)f < 3 ? filtering_names[f] : "?"; }
const char *nat_port_alloc_name(NatPortAlloc p) { return (unsigned)p < 3 ? port_names[p] : "?"; }

/* ---- indexes ------------------------------------------------------------ */

static uint64_t out_key_hash(uint32_t node, uint8_t proto, uint32_t int_addr, uint16_t int_port,
                             uint32_t rem_addr, uint16_t rem_port)
{
    uint64_t h = rng_mix64(((uint64_t)node << 32) | int_addr);
    h = rng_mix64(h ^ (((uint64_t)rem_addr << 32) | ((uint64_t)int_port << 16) | rem_port));
    return rng_mix64(h ^ proto);
}

static uint64_t in_key_hash(uint32_t node, uint8_t proto, uint16_t ext_port)
{
    return rng_mix64(((uint64_t)node << 32) | ((uint64_t)proto << 16) | ext_port);
}

static NatMap *map_at(const Net *net, uint32_t idx) { return pool_at(net->map_pool, idx); }

static uint64_t map_out_hash(const void *ctx, uint32_t idx)
{
    const NatMap *m = map_at(ctx, idx);
    return out_key_hash(m->node, m->proto, m->int_addr, m->int_port, m->rem_addr, m->rem_port);
}

static uint32_t *map_out_next(const void *ctx, uint32_t idx) { return &map_at(ctx, idx)->next_out; }

static uint64_t map_in_hash(const void *ctx, uint32_t idx)
{
    const NatMap *m = map_at(ctx, idx);
    return in_key_hash(m->node, m->proto, m->ext_port);
}

static uint32_t *map_in_next(const void *ctx, uint32_t idx) { return &map_at(ctx, idx)->next_in; }

static const IdxHashOps map_out_ops = {.hash = map_out_hash, .next = map_out_next};
static const IdxHashOps map_in_ops = {.hash = map_in_hash, .next = map_in_next};

void nat__init(Net *net)
{
    net->map_pool = pool_new("net.nat.mapping", sizeof(NatMap), 8);
    net->perm_pool = pool_new("net.nat.perm", sizeof(NatPerm), 4);
    idxhash_init(&net->map_out, &map_out_ops, net);
    idxhash_init(&net->map_in, &map_in_ops, net);
}

void nat__fini(Net *net)
{
    for (uint32_t n = 1; n < net->nnodes; n++) nat__flush(net, n);
    idxhash_fini(&net->map_out);
    idxhash_fini(&net->map_in);
    pool_free(net->map_pool);
    pool_free(net->perm_pool);
}

/* ---- mapping records ---------------------------------------------------- */

static NatBox *box_of(const Net *net, uint32_t node)
{
    uint32_t b = net->nodes[node].nat;
    return b ? &net->nats[b - 1] : NULL;
}

static void perms_free(Net *net, NatMap *m)
{
    while (m->perms) {
        NatPerm *q = pool_at(net->perm_pool, m->perms - 1);
        m->perms = q->next;
        pool_put(net->perm_pool, q);
    }
}

static void map_free(Net *net, NatMap *m)
{
    uint32_t idx = m->idx1 - 1;
    idxhash_remove(&net->map_out, idx, map_out_hash(net, idx));
    if (!(m->proto & NATMAP_FW)) {
        idxhash_remove(&net->map_in, idx, map_in_hash(net, idx));
        box_of(net, m->node)->live--;
    }
    if (m->node_prev) {
        map_at(net, m->node_prev - 1)->node_next = m->node_next;
    } else {
        net->nodes[m->node].maps = m->node_next;
    }
    if (m->node_next) map_at(net, m->node_next - 1)->node_prev = m->node_prev;
    perms_free(net, m);
    m->gen++; /* the queued expiry event, if any, is now stale */
    pool_put(net->map_pool, m);
}

/* Expiry event of the mapping named by arg = index | generation << 32. */
static void map_expire(Sim *sim, void *ctx, uint64_t arg)
{
    Net *net = ctx;
    NatMap *m = map_at(net, (uint32_t)arg);
    if (m->gen != (uint32_t)(arg >> 32)) return; /* freed meanwhile */
    if (m->expires <= sim_now(sim)) {
        map_free(net, m);
        return;
    }
    sim_at(sim, m->expires, map_expire, net, arg);
}

/* Sets m's lifetime end and makes sure an expiry event is queued (one per
 * mapping: a refresh only moves `expires`, the event re-arms itself). */
static void map_set_expiry(Net *net, NatMap *m, TimeNs expires)
{
    m->expires = expires;
    if (!m->timer) {
        m->timer = 1;
        sim_at(net->sim, expires, map_expire, net, ((uint64_t)m->gen << 32) | (m->idx1 - 1));
    }
}

/* Creates a mapping (or firewall flow) record, indexed and listed. */
static NatMap *map_new(Net *net, uint32_t node, uint8_t proto, NetEp in, NetEp rem_key,
                       uint16_t ext_port, TimeNs expires)
{
    NatMap *m = pool_get(net->map_pool);
    uint32_t idx1 = m->idx1 ? m->idx1 : pool_index(net->map_pool, m) + 1;
    uint32_t gen = m->gen;
    memset(m, 0, sizeof *m);
    m->idx1 = idx1;
    m->gen = gen;
    m->node = node;
    m->proto = proto;
    m->int_addr = in.addr;
    m->int_port = in.port;
    m->rem_addr = rem_key.addr;
    m->rem_port = rem_key.port;
    m->ext_port = ext_port;
    idxhash_insert(&net->map_out, idx1 - 1, map_out_hash(net, idx1 - 1));
    if (!(proto & NATMAP_FW)) {
        idxhash_insert(&net->map_in, idx1 - 1, map_in_hash(net, idx1 - 1));
        box_of(net, node)->live++;
    }
    NetNode *n = &net->nodes[node];
    m->node_next = n->maps;
    if (n->maps) map_at(net, n->maps - 1)->node_prev = idx1;
    n->maps = idx1;
    map_set_expiry(net, m, expires);
    return m;
}

/* Returns m if it is still alive; frees it and returns NULL if expired. */
static NatMap *map_live(Net *net, NatMap *m)
{
    if (m && m->expires <= sim_now(net->sim)) {
        map_free(net, m);
        return NULL;
    }
    return m;
}

static NatMap *map_find_out(Net *net, uint32_t node, uint8_t proto, NetEp in, NetEp rem_key)
{
    uint32_t i1 = idxhash_first(&net->map_out, out_key_hash(node, proto, in.addr, in.port,
                                                            rem_key.addr, rem_key.port));
    while (i1) {
        NatMap *m = map_at(net, i1 - 1);
        if (m->node == node && m->proto == proto && m->int_addr == in.addr &&
            m->int_port == in.port && m->rem_addr == rem_key.addr && m->rem_port == rem_key.port) {
            return map_live(net, m);
        }
        i1 = m->next_out;
    }
    return NULL;
}

static NatMap *map_find_in(Net *net, uint32_t node, uint8_t proto, uint16_t ext_port)
{
    uint32_t i1 = idxhash_first(&net->map_in, in_key_hash(node, proto, ext_port));
    while (i1) {
        NatMap *m = map_at(net, i1 - 1);
        if (m->node == node && m->proto == proto && m->ext_port == ext_port) return map_live(net, m);
        i1 = m->next_in;
    }
    return NULL;
}

void nat__flush(Net *net, uint32_t node)
{
    while (net->nodes[node].maps) map_free(net, map_at(net, net->nodes[node].maps - 1));
}

/* ---- lifetimes ---------------------------------------------------------- */

static void map_tcp_update(NatMap *m, uint8_t flags, bool outbound)
{
    if ((flags & TCPF_SYN) && !(flags & TCPF_ACK) && outbound) {
        m->tcp = 0; /* a new connection through this mapping */
    }
    if (flags & TCPF_SYN) m->tcp |= outbound ? NATMAP_TCP_SYN_OUT : NATMAP_TCP_SYN_IN;
    if (flags & TCPF_FIN) m->tcp |= outbound ? NATMAP_TCP_FIN_OUT : NATMAP_TCP_FIN_IN;
    if (flags & TCPF_RST) m->tcp |= NATMAP_TCP_RST;
}

/* Lifetime of m from now on (RFC 4787 REQ-5, RFC 5382 REQ-5). c: the NAT's
 * configuration, NULL for firewall flows. */
static TimeNs map_lifetime(const Net *net, const NatMap *m, const NatConfig *c)
{
    if ((m->proto & ~NATMAP_FW) != NET_PROTO_TCP) {
        return c ? c->udp_timeout_ns : net->cfg.fw_udp_timeout_ns;
    }
    uint8_t t = m->tcp;
    bool both_syn = (t & NATMAP_TCP_SYN_OUT) && (t & NATMAP_TCP_SYN_IN);
    bool both_fin = (t & NATMAP_TCP_FIN_OUT) && (t & NATMAP_TCP_FIN_IN);
    bool established = both_syn && !both_fin && !(t & NATMAP_TCP_RST);
    if (established) return c ? c->tcp_established_ns : net->cfg.fw_tcp_established_ns;
    return c ? c->tcp_transitory_ns : net->cfg.fw_tcp_transitory_ns;
}

/* ---- filtering permissions ---------------------------------------------- */

/* Finds the live permission (addr, port) of m, pruning expired ones. */
static NatPerm *perm_find(Net *net, NatMap *m, uint32_t addr, uint16_t port)
{
    TimeNs now = sim_now(net->sim);
    uint32_t *link = &m->perms;
    while (*link) {
        NatPerm *q = pool_at(net->perm_pool, *link - 1);
        if (q->expires <= now) {
            *link = q->next;
            pool_put(net->perm_pool, q);
            continue;
        }
        if (q->addr == addr && q->port == port) return q;
        link = &q->next;
    }
    return NULL;
}

static void perm_touch(Net *net, NatMap *m, uint32_t addr, uint16_t port, TimeNs expires)
{
    NatPerm *q = perm_find(net, m, addr, port);
    if (!q) {
        q = pool_get(net->perm_pool);
        uint32_t idx1 = q->idx1 ? q->idx1 : pool_index(net->perm_pool, q) + 1;
        memset(q, 0, sizeof *q);
        q->idx1 = idx1;
        q->addr = addr;
        q->port = port;
        q->next = m->perms;
        m->perms = idx1;
    }
    if (q->expires < expires) q->expires = expires;
}

/* ---- translation -------------------------------------------------------- */

/* The remote part of the outbound key under the mapping behaviour. */
static NetEp mapping_key(NatMapping mb, NetEp rem)
{
    switch (mb) {
    case NAT_MAP_ENDPOINT_INDEPENDENT: return (NetEp){0, 0};
    case NAT_MAP_ADDRESS_DEPENDENT: return (NetEp){rem.addr, 0};
    default: return rem;
    }
}

static bool port_taken(Net *net, uint32_t r, uint8_t proto, uint16_t port)
{
    return map_find_in(net, r, proto, port) != NULL;
}

/* An external port for a new mapping (RFC 4787 §4.2.1); 0 if none free. */
static uint16_t port_alloc(Net *net, NatBox *b, uint8_t proto, uint16_t want)
{
    const uint32_t lo = 1024, range = 65536 - 1024;
    if (b->cfg.port_alloc == NAT_PORT_PRESERVING && want && !port_taken(net, b->node, proto, want)) {
        return want;
    }
    if (b->cfg.port_alloc == NAT_PORT_RANDOM) {
        for (int tries = 0; tries < 64; tries++) {
            uint16_t p = (uint16_t)(lo + rng_below(&net->nodes[b->node].rng, range));
            if (!port_taken(net, b->node, proto, p)) return p;
        }
    }
    for (uint32_t tries = 0; tries < range; tries++) {
        uint16_t p = b->port_next < lo ? (uint16_t)lo : b->port_next;
        b->port_next = p == 65535 ? (uint16_t)lo : (uint16_t)(p + 1);
        if (!port_taken(net, b->node, proto, p)) return p;
    }
    return 0;
}

/* ---- connection tracking (NatConfig.conntrack) --------------------------
 *
 * Every record is one flow: map_out is keyed by the exact remote endpoint,
 * and map_in chains every flow of an external port, so an inbound lookup
 * scans the flows sharing that port (O(flows on the port): one or a few;
 * Linux shares a port only between different remote endpoints). */

static uint32_t now_ms(const Net *net) { return (uint32_t)(sim_now(net->sim) / TIMENS_MS); }

/* The live flow of external port ext with remote endpoint rem (the tuple a
 * reply would carry), NULL if none. At most one exists: every flow is
 * created after this lookup found none. */
static NatMap *ct_find_in(Net *net, uint32_t r, uint8_t proto, uint16_t ext, NetEp rem)
{
    uint32_t i1 = idxhash_first(&net->map_in, in_key_hash(r, proto, ext));
    while (i1) {
        NatMap *m = map_at(net, i1 - 1);
        if (m->node == r && m->proto == proto && m->ext_port == ext && m->rem_addr == rem.addr &&
            m->rem_port == rem.port) {
            return map_live(net, m);
        }
        i1 = m->next_in;
    }
    return NULL;
}

/* A live flow of an inside host on external port ext, from remote address
 * addr (any when addr is 0); NULL if none. Unsolicited entries do not count. */
static NatMap *ct_find_port(Net *net, uint32_t r, uint8_t proto, uint16_t ext, uint32_t addr)
{
    TimeNs now = sim_now(net->sim);
    uint32_t i1 = idxhash_first(&net->map_in, in_key_hash(r, proto, ext));
    for (; i1; i1 = map_at(net, i1 - 1)->next_in) {
        NatMap *m = map_at(net, i1 - 1);
        if (m->node != r || m->proto != proto || m->ext_port != ext) continue;
        if ((m->ct & NATMAP_CT_LOCAL) || m->expires <= now) continue;
        if (!addr || m->rem_addr == addr) return m;
    }
    return NULL;
}

/* The external port of the newest live flow the inside endpoint `in`
 * opened (to rem's address under ADM), 0 if none: the kernel's "bysource"
 * lookup (find_appropriate_src), newest first as its hash chain is. O(flows
 * of this NAT): a home router holds tens. */
static uint16_t ct_port_of_source(Net *net, const NatBox *b, uint8_t proto, NetEp in, NetEp rem)
{
    TimeNs now = sim_now(net->sim);
    for (uint32_t i1 = net->nodes[b->node].maps; i1; i1 = map_at(net, i1 - 1)->node_next) {
        const NatMap *m = map_at(net, i1 - 1);
        if (m->proto != proto || m->int_addr != in.addr || m->int_port != in.port) continue;
        if ((m->ct & (NATMAP_CT_LOCAL | NATMAP_CT_ORIG_IN)) || m->expires <= now) continue;
        if (b->cfg.mapping == NAT_MAP_ADDRESS_DEPENDENT && m->rem_addr != rem.addr) continue;
        return m->ext_port;
    }
    return 0;
}

/* An external port for a new flow in -> rem, as nf_nat's get_unique_tuple
 * picks it: unless the mapping is APDM, the port of the newest flow from
 * the same inside endpoint (EIM; ADM: to the same address), then the
 * internal port (port_alloc preserving), each only when no flow holds it for
 * rem; otherwise a scan over 1024..65535 from a random start
 * (nf_nat_l4proto_unique_tuple; or from the sequential cursor) for the
 * first port free for rem. Ports are free per remote endpoint, so different
 * destinations share them. 0 if every port is taken for rem. */
static uint16_t ct_port_alloc(Net *net, NatBox *b, uint8_t proto, NetEp in, NetEp rem)
{
    const uint32_t lo = 1024, range = 65536 - 1024;
    const NatConfig *c = &b->cfg;
    if (c->mapping != NAT_MAP_ADDRESS_PORT_DEPENDENT) {
        uint16_t reuse = ct_port_of_source(net, b, proto, in, rem);
        if (reuse && !ct_find_in(net, b->node, proto, reuse, rem)) return reuse;
        bool preserve = c->port_alloc == NAT_PORT_PRESERVING;
        if (preserve && in.port && !ct_find_in(net, b->node, proto, in.port, rem))
            return in.port;
    }
    bool seq = c->port_alloc == NAT_PORT_SEQUENTIAL;
    uint32_t start = seq ? (b->port_next < lo ? 0 : b->port_next - lo)
                         : rng_below(&net->nodes[b->node].rng, range);
    for (uint32_t i = 0; i < range; i++) {
        uint16_t p = (uint16_t)(lo + (start + i) % range);
        if (ct_find_in(net, b->node, proto, p, rem)) continue;
        if (seq) b->port_next = p == 65535 ? (uint16_t)lo : (uint16_t)(p + 1);
        return p;
    }
    return 0;
}

/* A new flow in -> rem on external port ext; bits: NATMAP_CT_LOCAL or
 * NATMAP_CT_ORIG_IN for flows opened from outside. The caller touches it. */
static NatMap *ct_flow_new(Net *net, uint32_t r, uint8_t proto, NetEp in, NetEp rem, uint16_t ext,
                           uint8_t bits)
{
    NatMap *m = map_new(net, r, proto, in, rem, ext, sim_now(net->sim));
    m->ct = bits;
    m->stream_ms = now_ms(net) + (uint32_t)(box_of(net, r)->cfg.udp_assure_ns / TIMENS_MS);
    return m;
}

/* A packet of flow m passes: TCP state, UDP reply/assured state and the
 * lifetime (nf_conntrack_udp_packet: the lifetime is decided before this
 * packet marks the flow replied, so the first reply still gets the short
 * one). reply: the packet goes against the flow's first direction. */
static void ct_touch(Net *net, NatMap *m, const NatConfig *c, const Packet *p, bool outbound)
{
    bool reply = outbound == ((m->ct & NATMAP_CT_ORIG_IN) != 0);
    TimeNs life;
    if (p->proto == NET_PROTO_TCP) {
        map_tcp_update(m, p->flags, outbound);
        life = map_lifetime(net, m, c);
    } else {
        if (!(m->ct & NATMAP_CT_ASSURED) && (m->ct & NATMAP_CT_REPLIED) &&
            (int32_t)(now_ms(net) - m->stream_ms) > 0) {
            m->ct |= NATMAP_CT_ASSURED;
        }
        life = (m->ct & NATMAP_CT_ASSURED) ? c->udp_timeout_ns : c->udp_unreplied_ns;
        if (reply) m->ct |= NATMAP_CT_REPLIED;
    }
    if (outbound || c->inbound_refresh || p->proto == NET_PROTO_TCP) {
        map_set_expiry(net, m, sim_now(net->sim) + life);
    }
}

static NetDrop ct_outbound(Net *net, NatBox *b, Packet *p)
{
    const NatConfig *c = &b->cfg;
    NetEp in = {p->src, p->sport}, rem = {p->dst, p->dport};
    NatMap *m = map_find_out(net, b->node, p->proto, in, rem);
    if (!m) {
        if (c->max_mappings && b->live >= c->max_mappings) return NET_DROP_NO_MAPPING;
        uint16_t ext = ct_port_alloc(net, b, p->proto, in, rem);
        if (!ext) return NET_DROP_NO_MAPPING;
        m = ct_flow_new(net, b->node, p->proto, in, rem, ext, 0);
    }
    ct_touch(net, m, c, p, true);
    p->src = net->nodes[b->node].addr;
    p->sport = m->ext_port;
    return NET_DROP_NONE;
}

/* An inbound packet from rem that matches no flow: a static forward opens a
 * flow to the realm's first host; under EIF/ADF a flow on that port (from
 * rem's address under ADF) lends its internal endpoint to a new flow; else
 * the router takes the packet itself and, with unsolicited_state, keeps an
 * unreplied entry for it. Returns the flow to deliver through, or NULL and
 * the drop cause in *drop. */
static NatMap *ct_open_in(Net *net, NatBox *b, const Packet *p, NetEp rem, NetDrop *drop)
{
    const NatConfig *c = &b->cfg;
    uint32_t r = b->node;
    NatMap *on_port = ct_find_port(net, r, p->proto, p->dport, 0);
    *drop = on_port ? NET_DROP_NAT_FILTER : NET_DROP_NO_MAPPING;
    if (c->max_mappings && b->live >= c->max_mappings) return NULL;
    NetEp in = {0, p->dport};
    uint8_t bits = NATMAP_CT_ORIG_IN;
    if (c->forward) {
        in.addr = net__realm_first_addr(c);
    } else if (c->filtering == NAT_FILTER_ENDPOINT_INDEPENDENT && on_port) {
        in = (NetEp){on_port->int_addr, on_port->int_port};
    } else if (c->filtering == NAT_FILTER_ADDRESS_DEPENDENT &&
               (on_port = ct_find_port(net, r, p->proto, p->dport, rem.addr)) != NULL) {
        in = (NetEp){on_port->int_addr, on_port->int_port};
    } else if (c->unsolicited_state) {
        bits |= NATMAP_CT_LOCAL;
    } else {
        return NULL;
    }
    return ct_flow_new(net, r, p->proto, in, rem, p->dport, bits);
}

static NetDrop ct_inbound(Net *net, NatBox *b, Packet *p)
{
    const NatConfig *c = &b->cfg;
    NetEp rem = {p->src, p->sport};
    NetDrop drop = NET_DROP_NO_MAPPING;
    NatMap *m = ct_find_in(net, b->node, p->proto, p->dport, rem);
    if (!m) m = ct_open_in(net, b, p, rem, &drop);
    if (!m) return drop;
    ct_touch(net, m, c, p, false);
    if (m->ct & NATMAP_CT_LOCAL) { /* for the router itself: no socket there */
        return ct_find_port(net, b->node, p->proto, p->dport, 0) ? NET_DROP_NAT_FILTER
                                                                 : NET_DROP_NO_MAPPING;
    }
    p->dst = m->int_addr;
    p->dport = m->int_port;
    return NET_DROP_NONE;
}

/* ICMP error leaving the realm: it quotes a packet that came in through a
 * mapping (remote -> internal); rewrite our side to the external one. */
static NetDrop icmp_out(Net *net, uint32_t r, NatBox *b, Packet *p)
{
    NetEp in = {p->ack, p->dport}, rem = {p->seq, p->sport};
    NetEp key = b->cfg.conntrack ? rem : mapping_key(b->cfg.mapping, rem);
    NatMap *m = map_find_out(net, r, p->eproto, in, key);
    if (!m) return NET_DROP_NO_MAPPING;
    p->src = net->nodes[r].addr;
    p->ack = net->nodes[r].addr;
    p->dport = m->ext_port;
    return NET_DROP_NONE;
}

NetDrop nat__outbound(Net *net, uint32_t r, Packet *p)
{
    NatBox *b = box_of(net, r);
    const NatConfig *c = &b->cfg;
    if (p->proto == NET_PROTO_ICMP) return icmp_out(net, r, b, p);
    if (c->conntrack) return ct_outbound(net, b, p);
    NetEp in = {p->src, p->sport}, rem = {p->dst, p->dport};
    NatMap *m = map_find_out(net, r, p->proto, in, mapping_key(c->mapping, rem));
    TimeNs now = sim_now(net->sim);
    if (!m) {
        if (c->max_mappings && b->live >= c->max_mappings) return NET_DROP_NO_MAPPING;
        uint16_t ext = port_alloc(net, b, p->proto, in.port);
        if (!ext) return NET_DROP_NO_MAPPING;
        m = map_new(net, r, p->proto, in, mapping_key(c->mapping, rem), ext, now);
    }
    if (p->proto == NET_PROTO_TCP) map_tcp_update(m, p->flags, true);
    TimeNs life = map_lifetime(net, m, c);
    map_set_expiry(net, m, now + life);
    if (c->filtering != NAT_FILTER_ENDPOINT_INDEPENDENT) {
        uint16_t port = c->filtering == NAT_FILTER_ADDRESS_DEPENDENT ? 0 : rem.port;
        perm_touch(net, m, rem.addr, port, now + life);
    }
    p->src = net->nodes[r].addr;
    p->sport = m->ext_port;
    return NET_DROP_NONE;
}

/* ICMP error entering: it quotes a packet we sent out through a mapping. */
static NetDrop icmp_in(Net *net, uint32_t r, Packet *p)
{
    NatMap *m;
    if (box_of(net, r)->cfg.conntrack) {
        m = ct_find_in(net, r, p->eproto, p->sport, (NetEp){p->ack, p->dport});
        if (m && (m->ct & NATMAP_CT_LOCAL)) m = NULL;
    } else {
        m = map_find_in(net, r, p->eproto, p->sport);
    }
    if (!m) return NET_DROP_NO_MAPPING;
    p->dst = m->int_addr;
    p->seq = m->int_addr;
    p->sport = m->int_port;
    return NET_DROP_NONE;
}

NetDrop nat__inbound(Net *net, uint32_t r, Packet *p)
{
    if (p->proto == NET_PROTO_ICMP) return icmp_in(net, r, p);
    const NatConfig *c = &box_of(net, r)->cfg;
    if (c->conntrack) return ct_inbound(net, box_of(net, r), p);
    NatMap *m = map_find_in(net, r, p->proto, p->dport);
    if (!m) return NET_DROP_NO_MAPPING;
    NatPerm *q = NULL;
    if (c->filtering != NAT_FILTER_ENDPOINT_INDEPENDENT) {
        uint16_t port = c->filtering == NAT_FILTER_ADDRESS_DEPENDENT ? 0 : p->sport;
        q = perm_find(net, m, p->src, port);
        if (!q) return NET_DROP_NAT_FILTER;
    }
    bool refresh = c->inbound_refresh;
    if (p->proto == NET_PROTO_TCP) {
        map_tcp_update(m, p->flags, false);
        refresh = true;
    }
    if (refresh) {
        TimeNs until = sim_now(net->sim) + map_lifetime(net, m, c);
        map_set_expiry(net, m, until);
        if (q && q->expires < until) q->expires = until;
    }
    p->dst = m->int_addr;
    p->dport = m->int_port;
    return NET_DROP_NONE;
}

bool nat__fw_flow(Net *net, uint32_t node, uint8_t proto, NetEp local, NetEp remote,
                  uint8_t tcp_flags, bool outbound, bool create)
{
    uint8_t fp = proto | NATMAP_FW;
    NatMap *m = map_find_out(net, node, fp, local, remote);
    TimeNs now = sim_now(net->sim);
    if (!m) {
        if (!create) return false;
        m = map_new(net, node, fp, local, remote, local.port, now);
    }
    if (proto == NET_PROTO_TCP) map_tcp_update(m, tcp_flags, outbound);
    map_set_expiry(net, m, now + map_lifetime(net, m, NULL));
    return true;
}
