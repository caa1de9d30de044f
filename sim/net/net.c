/* net: the simulated Internet: nodes, addresses, links and the packet path.
 *
 * Layer: sim/net (see net.h for the model and net_int.h for the path).
 * Invariants: every packet out of the pools is on Net.in_flight or held by
 * exactly one TCP connection's out-of-order list; a packet with a pending
 * event has p->ev set and is on in_flight; node 0 is the root and never
 * sends or receives. Drops are counted once, at the node where they happen
 * (and on the link for queue and loss drops), and in the Net totals.
 */
#include "sim/net/net.h"

#include <string.h>

#include "protocol/base/check.h"
#include "sim/net/net_int.h"
#include "sim/net/pcap.h"

/* ---- names and addresses ------------------------------------------------ */

G_DEFINE_QUARK(skysim-net-error-quark, net_error)

const char *net_err_name(NetErr e)
{
    static const char *const names[] = {
        [NET_OK] = "ok",
        [NET_ERR_ADDR_IN_USE] = "addr_in_use",
        [NET_ERR_NO_PORTS] = "no_ports",
        [NET_ERR_BAD_HANDLE] = "bad_handle",
        [NET_ERR_HOST_DOWN] = "host_down",
        [NET_ERR_MSG_SIZE] = "msg_size",
        [NET_ERR_REFUSED] = "refused",
        [NET_ERR_TIMEOUT] = "timeout",
        [NET_ERR_BLOCKED] = "blocked",
        [NET_ERR_UNREACHABLE] = "unreachable",
        [NET_ERR_RESET] = "reset",
        [NET_ERR_CLOSED] = "closed",
    };
    return (unsigned)e < G_N_ELEMENTS(names) ? names[e] : "?";
}

const char *net_drop_name(NetDrop d)
{
    static const char *const names[] = {
        [NET_DROP_NONE] = "none",
        [NET_DROP_QUEUE_FULL] = "queue_full", [NET_DROP_LOSS] = "loss",
        [NET_DROP_NAT_FILTER] = "nat_filter", [NET_DROP_NO_MAPPING] = "no_mapping",
        [NET_DROP_FIREWALL] = "firewall",     [NET_DROP_NO_LISTENER] = "no_listener",
        [NET_DROP_HOST_DOWN] = "host_down",   [NET_DROP_NO_ROUTE] = "no_route",
    };
    return (unsigned)d < G_N_ELEMENTS(names) ? names[d] : "?";
}

char *net_addr_format(uint32_t addr, char *buf)
{
    snprintf(buf, NET_ADDR_STR, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
             addr & 255);
    return buf;
}

bool net_addr_parse(const char *text, uint32_t *out)
{
    uint32_t a = 0;
    const char *s = text;
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9') return false;
        uint32_t v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (uint32_t)(*s++ - '0');
            digits++;
        }
        if (v > 255 || digits > 3) return false;
        a = (a << 8) | v;
        if (i < 3 && *s++ != '.') return false;
    }
    if (*s) return false;
    *out = a;
    return true;
}

/* Is addr inside prefix/len? */
static bool addr_in(uint32_t addr, uint32_t prefix, int len)
{
    uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
    return (addr & mask) == (prefix & mask);
}

bool net_addr_is_public(uint32_t addr)
{
    static const struct {
        uint32_t prefix;
        int len;
    } reserved[] = {
        {0x00000000u, 8},  {0x0a000000u, 8},  {0x64400000u, 10}, {0x7f000000u, 8},
        {0xa9fe0000u, 16}, {0xac100000u, 12}, {0xc0000000u, 24}, {0xc0000200u, 24},
        {0xc0586300u, 24}, {0xc0a80000u, 16}, {0xc6120000u, 15}, {0xc6336400u, 24},
        {0xcb007100u, 24}, {0xe0000000u, 4},  {0xf0000000u, 4},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(reserved); i++) {
        if (addr_in(addr, reserved[i].prefix, reserved[i].len)) return false;
    }
    return true;
}

/* ---- configuration ------------------------------------------------------ */

void net_config_default(NetConfig *c)
{
    *c = (NetConfig){
        .tcp_window_bytes = 65536,
        .tcp_mss = 1460,
        .tcp_syn_rto_ns = TIMENS_S,
        .tcp_syn_retries = 3,
        .tcp_rto_min_ns = 200 * TIMENS_MS,
        .tcp_rto_max_ns = 60 * TIMENS_S,
        .tcp_data_retries = 8,
        .tcp_time_wait_ns = 2 * TIMENS_S,
        .fw_udp_timeout_ns = 120 * TIMENS_S,
        .fw_tcp_established_ns = 7440 * TIMENS_S,
        .fw_tcp_transitory_ns = 240 * TIMENS_S,
    };
}

void net_node_config_site(NetNodeConfig *c)
{
    *c = (NetNodeConfig){
        .link = {.up_bps = 1000000, .down_bps = 8000000, .up_queue_bytes = 65536,
                 .down_queue_bytes = 65536, .delay_ns = -1, .jitter_ns = -1},
        .position = NET_POSITION_AUTO,
        .fw = FW_OPEN,
    };
}

void net_node_config_lan(NetNodeConfig *c)
{
    *c = (NetNodeConfig){
        .link = {.up_queue_bytes = 65536, .down_queue_bytes = 65536, .delay_ns = 250 * TIMENS_US},
        .position = NET_POSITION_AUTO,
        .fw = FW_OPEN,
    };
}

/* ---- the routing index: (realm, address) -> node ------------------------ */

static uint64_t route_key_hash(uint32_t realm, uint32_t addr)
{
    return rng_mix64(((uint64_t)realm << 32) | addr);
}

static uint64_t route_hash(const void *ctx, uint32_t idx)
{
    const Net *net = ctx;
    return route_key_hash(net->nodes[idx].parent, net->nodes[idx].addr);
}

static uint32_t *route_next(const void *ctx, uint32_t idx)
{
    const Net *net = ctx;
    return &net->nodes[idx].route_next;
}

static const IdxHashOps route_ops = {.hash = route_hash, .next = route_next};

uint32_t net_node_find(const Net *net, uint32_t realm, uint32_t addr)
{
    uint32_t i1 = idxhash_first(&net->routes, route_key_hash(realm, addr));
    while (i1) {
        const NetNode *n = &net->nodes[i1 - 1];
        if (n->parent == realm && n->addr == addr) return i1 - 1;
        i1 = n->route_next;
    }
    return NET_NODE_NONE;
}

/* ---- Net ---------------------------------------------------------------- */

Net *net_new(Sim *sim, const Latency *lat, const NetConfig *cfg)
{
    Net *net = g_new0(Net, 1);
    net->sim = sim;
    if (lat) {
        net->lat = lat;
    } else {
        net->lat_owned = latency_region_new();
        net->lat = net->lat_owned;
    }
    if (cfg) {
        net->cfg = *cfg;
    } else {
        net_config_default(&net->cfg);
    }
    CHECK(net->cfg.tcp_mss > 0 && net->cfg.tcp_mss <= NET_PKT_LARGE, "tcp_mss %u",
          net->cfg.tcp_mss);
    CHECK(net->cfg.tcp_window_bytes >= net->cfg.tcp_mss, "tcp_window_bytes %u below the MSS",
          net->cfg.tcp_window_bytes);
    CHECK(net->cfg.tcp_syn_retries < 30 && net->cfg.tcp_data_retries < 255, "retries %u/%u",
          net->cfg.tcp_syn_retries, net->cfg.tcp_data_retries);
    net->nodes_cap = 64;
    net->nodes = g_new0(NetNode, net->nodes_cap);
    net->nnodes = 1; /* the root */
    net->nodes[0].kind = NODE_ROOT;
    net->nodes[0].flags = NODE_UP;
    net->nodes[0].parent = NET_NODE_NONE;
    idxhash_init(&net->routes, &route_ops, net);
    net->pkt_pool[0] = pool_new("net.packet.small", sizeof(Packet) + NET_PKT_SMALL, 4);
    net->pkt_pool[1] = pool_new("net.packet.large", sizeof(Packet) + NET_PKT_LARGE, 4);
    ilist_init(&net->in_flight);
    sock__init(net);
    tcp__init(net);
    nat__init(net);
    return net;
}

void net_free(Net *net)
{
    if (!net) return;
    net_pcap_close(net, NULL);
    tcp__fini(net);
    sock__fini(net);
    nat__fini(net);
    ILink *it, *tmp;
    ILIST_FOREACH_SAFE(it, tmp, &net->in_flight)
    {
        Packet *p = CONTAINER_OF(it, Packet, link);
        sim_cancel(net->sim, p->ev);
        net__pkt_free(net, p);
    }
    pool_free(net->pkt_pool[0]);
    pool_free(net->pkt_pool[1]);
    idxhash_fini(&net->routes);
    g_free(net->nats);
    g_free(net->nodes);
    latency_free(net->lat_owned);
    g_free(net);
}

Sim *net_sim(const Net *net) { return net->sim; }
const Latency *net_latency(const Net *net) { return net->lat; }
const NetConfig *net_config(const Net *net) { return &net->cfg; }

/* ---- address allocation ------------------------------------------------- */

/* First octets of the public blocks addresses are drawn from: allocated to
 * regional registries and used by access providers, none reserved. */
static const uint8_t pub_slash8[] = {24,  31,  37,  46,  62,  67,  71,  77,  81,  86, 92,
                                     109, 118, 125, 151, 178, 188, 195, 203, 212, 217};

/* The next unused public address. Sequential over the blocks, the low 24
 * bits scrambled by an odd multiplier (a bijection mod 2^24) so that
 * neighbours in creation order do not look like one subnet. */
static uint32_t alloc_public(Net *net)
{
    for (;;) {
        uint32_t i = net->pub_next++;
        uint32_t k = i % G_N_ELEMENTS(pub_slash8), j = i / G_N_ELEMENTS(pub_slash8);
        CHECK(j < (1u << 24), "public address space exhausted after %u addresses", i);
        uint32_t a = ((uint32_t)pub_slash8[k] << 24) | ((j * 0x9e3779u + 0x10203u) & 0xffffffu);
        uint32_t last = a & 255;
        if (last == 0 || last == 255 || !net_addr_is_public(a)) continue;
        if (net_node_find(net, NET_INTERNET, a) != NET_NODE_NONE) continue;
        return a;
    }
}

/* Offset of a realm's first host address from its base: x.y.1.2 in a /16
 * or wider (x.y.1.1 is the NAT's inside address), base + 2 otherwise. */
static uint32_t realm_first_offset(const NatConfig *c) { return c->inside_prefix_len <= 16 ? 258 : 2; }

uint32_t net__realm_first_addr(const NatConfig *c) { return c->inside_net + realm_first_offset(c); }

/* The NAT box's own inside address (source of its ICMP messages). */
static uint32_t nat_inside_addr(const NatBox *b) { return b->cfg.inside_net + realm_first_offset(&b->cfg) - 1; }

static bool alloc_private(Net *net, uint32_t realm, uint32_t *out)
{
    NatBox *b = &net->nats[net->nodes[realm].nat - 1];
    uint64_t size = (uint64_t)1 << (32 - b->cfg.inside_prefix_len);
    for (;;) {
        uint64_t off = realm_first_offset(&b->cfg) + (uint64_t)b->next_host++;
        if (off >= size - 1) return false;
        uint32_t a = b->cfg.inside_net + (uint32_t)off;
        uint32_t last = a & 255;
        if (last == 0 || last == 255) continue;
        if (net_node_find(net, realm, a) != NET_NODE_NONE) continue;
        *out = a;
        return true;
    }
}

/* ---- nodes -------------------------------------------------------------- */

static uint32_t loss_threshold(double p)
{
    if (p <= 0) return 0;
    if (p >= 1) return UINT32_MAX;
    double t = p * 4294967296.0;
    return t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

static void link_init(NetLink *l, uint64_t rate, uint32_t queue, double loss)
{
    *l = (NetLink){.rate_bps = rate, .queue_bytes = queue, .loss_thr = loss_threshold(loss)};
}

/* Checks cfg against the place the node goes; sets err on input errors. */
static bool node_config_check(const Net *net, uint32_t parent, const NetNodeConfig *cfg,
                              GError **err)
{
    char a[NET_ADDR_STR];
    const NetLinkConfig *l = &cfg->link;
    if (!(l->up_loss >= 0 && l->up_loss <= 1 && l->down_loss >= 0 && l->down_loss <= 1)) {
        g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                    "link loss: expected a probability in [0, 1], found %g/%g", l->up_loss,
                    l->down_loss);
        return false;
    }
    if (l->delay_ns > (TimeNs)UINT32_MAX || l->jitter_ns > (TimeNs)UINT32_MAX) {
        g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                    "link delay/jitter: expected at most 4.29 s, found %" G_GINT64_FORMAT
                    "/%" G_GINT64_FORMAT " ns",
                    l->delay_ns, l->jitter_ns);
        return false;
    }
    if (parent == NET_INTERNET && cfg->position != NET_POSITION_AUTO &&
        cfg->position >= latency_size(net->lat)) {
        g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                    "latency position: expected below %u, found %u", latency_size(net->lat),
                    cfg->position);
        return false;
    }
    if (cfg->addr) {
        bool ok = net_node_find(net, parent, cfg->addr) == NET_NODE_NONE;
        if (parent == NET_INTERNET) ok = ok && net_addr_is_public(cfg->addr);
        if (!ok) {
            g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                        "address %s: taken or not usable in this realm",
                        net_addr_format(cfg->addr, a));
            return false;
        }
    }
    return true;
}

/* Creates a node record under parent. Returns its id or NET_NODE_NONE. */
static uint32_t node_new(Net *net, uint32_t parent, const NetNodeConfig *cfg_in, uint8_t kind,
                         GError **err)
{
    CHECK(parent < net->nnodes && (parent == NET_INTERNET || net->nodes[parent].kind == NODE_NAT),
          "parent %u is neither the Internet nor a NAT box", parent);
    NetNodeConfig cfg;
    if (cfg_in) {
        cfg = *cfg_in;
    } else if (parent == NET_INTERNET) {
        net_node_config_site(&cfg);
    } else {
        net_node_config_lan(&cfg);
    }
    if (!node_config_check(net, parent, &cfg, err)) return NET_NODE_NONE;
    uint32_t addr = cfg.addr;
    if (!addr) {
        if (parent == NET_INTERNET) {
            addr = alloc_public(net);
        } else if (!alloc_private(net, parent, &addr)) {
            g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                        "NAT node %u: private address space exhausted", parent);
            return NET_NODE_NONE;
        }
    }
    if (net->nnodes == net->nodes_cap) {
        net->nodes_cap *= 2;
        net->nodes = g_renew(NetNode, net->nodes, net->nodes_cap);
    }
    uint32_t id = net->nnodes++;
    NetNode *n = &net->nodes[id];
    memset(n, 0, sizeof *n);
    sim_rng_init(net->sim, &n->rng, id, NET_RNG_NODE);
    n->kind = kind;
    n->parent = parent;
    n->addr = addr;
    n->site = parent == NET_INTERNET ? id : net->nodes[parent].site;
    n->fw = (uint8_t)cfg.fw;
    n->flags = NODE_UP | (cfg.icmp_unreachable ? NODE_ICMP : 0);
    n->position = cfg.position != NET_POSITION_AUTO ? cfg.position
                                                     : (uint32_t)rng_below(&n->rng, latency_size(net->lat));
    TimeNs delay = cfg.link.delay_ns, jitter = cfg.link.jitter_ns;
    if (delay < 0 || jitter < 0) {
        TimeNs d = 0, j = 0;
        if (parent == NET_INTERNET) latency_access_draw(net->lat, n->position, &n->rng, &d, &j);
        if (delay < 0) delay = d;
        if (jitter < 0) jitter = j;
    }
    n->delay_ns = (uint32_t)delay;
    n->jitter_ns = (uint32_t)jitter;
    link_init(&n->up, cfg.link.up_bps, cfg.link.up_queue_bytes, cfg.link.up_loss);
    link_init(&n->down, cfg.link.down_bps, cfg.link.down_queue_bytes, cfg.link.down_loss);
    n->eph_next = (uint16_t)(NET_EPHEMERAL_LO +
                             rng_below(&n->rng, NET_EPHEMERAL_HI - NET_EPHEMERAL_LO + 1));
    idxhash_insert(&net->routes, id, route_key_hash(parent, addr));
    return id;
}

uint32_t net_host_add(Net *net, uint32_t parent, const NetNodeConfig *cfg, GError **err)
{
    return node_new(net, parent, cfg, NODE_HOST, err);
}

uint32_t net_nat_add(Net *net, uint32_t parent, const NetNodeConfig *cfg, const NatConfig *nat,
                     GError **err)
{
    CHECK(nat && nat->enabled, "net_nat_add with a disabled NAT config (preset \"none\")");
    if (nat->inside_prefix_len < 8 || nat->inside_prefix_len > 30 ||
        !addr_in(nat->inside_net, nat->inside_net & (~0u << (32 - nat->inside_prefix_len)), 32)) {
        g_set_error(err, NET_ERROR, NET_ERROR_CONFIG,
                    "NAT inside network: expected an aligned prefix of length 8..30, found /%u",
                    nat->inside_prefix_len);
        return NET_NODE_NONE;
    }
    uint32_t id = node_new(net, parent, cfg, NODE_NAT, err);
    if (id == NET_NODE_NONE) return id;
    if (net->nnats == net->nats_cap) {
        net->nats_cap = net->nats_cap ? net->nats_cap * 2 : 16;
        net->nats = g_renew(NatBox, net->nats, net->nats_cap);
    }
    NatBox *b = &net->nats[net->nnats++];
    memset(b, 0, sizeof *b);
    b->cfg = *nat;
    b->node = id;
    b->port_next = (uint16_t)(1024 + rng_below(&net->nodes[id].rng, 65536 - 1024));
    net->nodes[id].nat = net->nnats;
    return id;
}

void net_node_set_up(Net *net, uint32_t node, bool up)
{
    CHECK(node > 0 && node < net->nnodes, "node %u", node);
    NetNode *n = &net->nodes[node];
    bool was = n->flags & NODE_UP;
    if (was == up) return;
    if (up) {
        n->flags |= NODE_UP;
        return;
    }
    n->flags &= (uint8_t)~NODE_UP;
    tcp__host_down(net, node);
    sock__host_down(net, node);
    nat__flush(net, node);
}

bool net_node_is_up(const Net *net, uint32_t node) { return net->nodes[node].flags & NODE_UP; }
size_t net_node_count(const Net *net) { return net->nnodes; }
bool net_node_is_nat(const Net *net, uint32_t node) { return net->nodes[node].kind == NODE_NAT; }
uint32_t net_node_parent(const Net *net, uint32_t node) { return net->nodes[node].parent; }
uint32_t net_node_site(const Net *net, uint32_t node) { return net->nodes[node].site; }
uint32_t net_node_addr(const Net *net, uint32_t node) { return net->nodes[node].addr; }

uint32_t net_node_position(const Net *net, uint32_t node)
{
    return net->nodes[net->nodes[node].site].position;
}

FwType net_node_fw(const Net *net, uint32_t node) { return (FwType)net->nodes[node].fw; }

uint32_t net_node_public_addr(const Net *net, uint32_t node)
{
    return net->nodes[net->nodes[node].site].addr;
}

const NatConfig *net_nat_config(const Net *net, uint32_t node)
{
    uint32_t b = net->nodes[node].nat;
    return b ? &net->nats[b - 1].cfg : NULL;
}

uint32_t net_nat_mapping_count(const Net *net, uint32_t node)
{
    uint32_t b = net->nodes[node].nat;
    return b ? net->nats[b - 1].live : 0;
}

void net_node_counters(const Net *net, uint32_t node, NetNodeCounters *out)
{
    const NetNode *n = &net->nodes[node];
    out->tx_pkts = n->tx_pkts;
    out->tx_bytes = n->tx_bytes;
    out->rx_pkts = n->rx_pkts;
    out->rx_bytes = n->rx_bytes;
    memcpy(out->drops, n->drops, sizeof out->drops);
}

void net_link_counters(const Net *net, uint32_t node, NetLinkDir dir, NetLinkCounters *out)
{
    const NetLink *l = dir == NET_LINK_UP ? &net->nodes[node].up : &net->nodes[node].down;
    *out = (NetLinkCounters){l->pkts, l->bytes, l->drop_queue, l->drop_loss};
}

uint64_t net_drops_total(const Net *net, NetDrop cause) { return net->drops[cause]; }
uint64_t net_packets_sent(const Net *net) { return net->pkts_created; }

size_t net_packets_in_flight(const Net *net)
{
    return pool_live(net->pkt_pool[0]) + pool_live(net->pkt_pool[1]);
}

/* ---- packets ------------------------------------------------------------ */

Packet *net__pkt_new(Net *net, size_t len)
{
    CHECK(len <= NET_PKT_LARGE, "packet payload %zu", len);
    uint8_t cls = len > NET_PKT_SMALL;
    Packet *p = pool_get(net->pkt_pool[cls]);
    uint32_t idx1 = p->idx1;
    if (!idx1) idx1 = pool_index(net->pkt_pool[cls], p) + 1;
    memset(p, 0, sizeof *p);
    p->idx1 = idx1;
    p->cls = cls;
    p->len = (uint16_t)len;
    p->ttl = 64;
    p->ip_id = net->ip_id++;
    ilist_init(&p->link);
    ilist_push_tail(&net->in_flight, &p->link);
    net->pkts_created++;
    return p;
}

void net__pkt_free(Net *net, Packet *p)
{
    ilist_remove(&p->link);
    pool_put(net->pkt_pool[p->cls], p);
}

void net__count_drop(Net *net, uint32_t node, NetDrop cause)
{
    CHECK(cause > NET_DROP_NONE && cause < NET_DROP__COUNT, "drop cause %d", (int)cause);
    net->nodes[node].drops[cause]++;
    net->drops[cause]++;
}

void net__drop(Net *net, uint32_t node, Packet *p, NetDrop cause)
{
    net__count_drop(net, node, cause);
    net__pkt_free(net, p);
}

Packet *net__icmp_new(Net *net, const Packet *p, uint32_t from_addr, uint8_t code)
{
    Packet *q = net__pkt_new(net, 0);
    q->proto = NET_PROTO_ICMP;
    q->src = from_addr;
    q->dst = p->src;
    q->flags = code;
    q->eproto = p->proto;
    q->seq = p->src;
    q->ack = p->dst;
    q->sport = p->sport;
    q->dport = p->dport;
    return q;
}

/* p passes node's interface. A chosen capture point writes every packet
 * it sees; the access-link capture writes a packet at the first host
 * interface it passes (its sender's, or for an ICMP answer made by a NAT
 * or firewall, its receiver's). */
static void capture(Net *net, uint32_t node, Packet *p)
{
    if (!net->pcap) return;
    NetNode *n = &net->nodes[node];
    bool host = n->kind == NODE_HOST;
    if ((n->flags & NODE_CAPTURE) || (net->capture_access && host && !p->seen))
        pcap__write(net, node, p);
    if (host) p->seen = 1;
}

/* ---- links -------------------------------------------------------------- */

/* Serialisation time of `bytes` at rate_bps, rounded up to whole ns. */
static TimeNs ser_ns(uint32_t bytes, uint64_t rate_bps)
{
    return (TimeNs)(((uint64_t)bytes * 8u * 1000000000u + rate_bps - 1) / rate_bps);
}

/* Puts p on link l of node `node`. On success *done is when its last bit
 * has left. A link that is busy holds a backlog of (busy_until - now) *
 * rate bytes, the packet being serialised included; p is dropped when the
 * backlog plus p exceeds the bound (an idle link always takes a packet).
 * Loss strikes after serialisation: a lost packet used the link. */
static bool link_put(Net *net, uint32_t node, NetLink *l, Packet *p, TimeNs *done)
{
    TimeNs now = sim_now(net->sim);
    uint32_t wire = net__pkt_wire(p);
    TimeNs t = now;
    if (l->rate_bps) {
        if (l->busy_until > now) {
            unsigned __int128 backlog =
                (unsigned __int128)(uint64_t)(l->busy_until - now) * l->rate_bps / 8000000000u;
            if (backlog + wire > l->queue_bytes) {
                l->drop_queue++;
                net__drop(net, node, p, NET_DROP_QUEUE_FULL);
                return false;
            }
            t = l->busy_until;
        }
        t += ser_ns(wire, l->rate_bps);
        l->busy_until = t;
    }
    l->pkts++;
    l->bytes += wire;
    if (l->loss_thr && (uint32_t)(rng_next(&net->nodes[node].rng) >> 32) < l->loss_thr) {
        l->drop_loss++;
        net__drop(net, node, p, NET_DROP_LOSS);
        return false;
    }
    *done = t;
    return true;
}

/* Propagation delay of node's link for one packet: delay + U[0, jitter]. */
static TimeNs link_prop(NetNode *n)
{
    TimeNs d = n->delay_ns;
    if (n->jitter_ns) d += (TimeNs)rng_below(&n->rng, (uint64_t)n->jitter_ns + 1);
    return d;
}

/* ---- the packet path ---------------------------------------------------- */

static void pkt_event(Sim *sim, void *ctx, uint64_t arg);

static void pkt_schedule(Net *net, Packet *p, TimeNs at, uint32_t node, PktStage st)
{
    p->at = node;
    p->stage = (uint8_t)st;
    p->ev = sim_at(net->sim, at, pkt_event, net, ((uint64_t)p->cls << 32) | (p->idx1 - 1));
}

/* p leaves node `id` over its uplink. */
static void node_go_up(Net *net, uint32_t id, Packet *p)
{
    NetNode *n = &net->nodes[id];
    n->tx_pkts++;
    n->tx_bytes += net__pkt_wire(p);
    TimeNs done;
    if (!link_put(net, id, &n->up, p, &done)) return;
    TimeNs at = done + link_prop(n);
    if (n->parent != NET_INTERNET) {
        pkt_schedule(net, p, at, n->parent, PKT_ST_INSIDE);
        return;
    }
    /* Across the core: the routing decision is taken as the packet leaves
     * (addresses of sites do not change while it flies). */
    uint32_t to = net_node_find(net, NET_INTERNET, p->dst);
    if (to == NET_NODE_NONE) {
        net__drop(net, id, p, NET_DROP_NO_ROUTE);
        return;
    }
    at += latency_one_way(net->lat, n->position, net->nodes[to].position);
    if (net->pcap && net->capture_core) pcap__write(net, PCAP_CORE, p);
    p->from = id;
    pkt_schedule(net, p, at, to, PKT_ST_DOWN);
}

/* p enters the downlink of node `id`. */
static void node_go_down(Net *net, uint32_t id, Packet *p)
{
    NetNode *n = &net->nodes[id];
    TimeNs done;
    if (!link_put(net, id, &n->down, p, &done)) return;
    pkt_schedule(net, p, done + link_prop(n), id, PKT_ST_ARRIVE);
}

/* p is in the realm of NAT box r (after its inbound translation): to the
 * child that has its destination address. */
static void realm_route(Net *net, uint32_t r, Packet *p)
{
    uint32_t c = net_node_find(net, r, p->dst);
    if (c == NET_NODE_NONE) {
        net__drop(net, r, p, NET_DROP_NO_ROUTE);
        return;
    }
    node_go_down(net, c, p);
}

/* p arrived at NAT box r's outside (or hairpinned): translate in, filter,
 * route inside. */
static void nat_in(Net *net, uint32_t r, Packet *p)
{
    NetDrop d = nat__inbound(net, r, p);
    if (d == NET_DROP_NONE) d = fw__inbound(net, r, p);
    if (d != NET_DROP_NONE) {
        net__drop(net, r, p, d);
        return;
    }
    p->ttl--;
    realm_route(net, r, p);
}

/* The firewall of node `id` rejected p going out: answer the sender with
 * ICMP admin-prohibited (not about ICMP itself), then drop p. The answer
 * comes from `from_addr` and is handed to `deliver` at `to`. */
static void fw_reject(Net *net, uint32_t id, Packet *p, uint32_t from_addr, bool local)
{
    if (p->proto != NET_PROTO_ICMP) {
        Packet *q = net__icmp_new(net, p, from_addr, NET_ICMP_ADMIN_PROHIB);
        if (local) { /* handed to the host's own stack, past its firewall */
            pkt_schedule(net, q, sim_now(net->sim), id, PKT_ST_LOCAL);
        } else {
            realm_route(net, id, q);
        }
    }
    net__drop(net, id, p, NET_DROP_FIREWALL);
}

/* p arrived at NAT box r from inside its realm. */
static void nat_from_inside(Net *net, uint32_t r, Packet *p)
{
    NetNode *n = &net->nodes[r];
    if (!(n->flags & NODE_UP)) {
        net__drop(net, r, p, NET_DROP_HOST_DOWN);
        return;
    }
    uint32_t c = net_node_find(net, r, p->dst);
    if (c != NET_NODE_NONE) { /* LAN traffic: stays in the realm */
        node_go_down(net, c, p);
        return;
    }
    if (fw__outbound(net, r, p) != NET_DROP_NONE) {
        fw_reject(net, r, p, nat_inside_addr(&net->nats[n->nat - 1]), false);
        return;
    }
    NetDrop d = nat__outbound(net, r, p);
    if (d != NET_DROP_NONE) {
        net__drop(net, r, p, d);
        return;
    }
    p->ttl--;
    if (p->dst == n->addr) { /* to our own outside address: hairpin */
        if (!net->nats[n->nat - 1].cfg.hairpin) {
            net__drop(net, r, p, NET_DROP_NAT_FILTER);
            return;
        }
        nat_in(net, r, p);
        return;
    }
    capture(net, r, p);
    node_go_up(net, r, p);
}

/* Hands p to the transport of host `id`. */
static void host_deliver(Net *net, uint32_t id, Packet *p)
{
    switch (p->proto) {
    case NET_PROTO_UDP: sock__deliver(net, id, p); break;
    case NET_PROTO_TCP: tcp__input(net, id, p); break;
    default:
        if (p->eproto == NET_PROTO_TCP) {
            tcp__icmp(net, id, p);
        } else {
            sock__icmp(net, id, p);
        }
        break;
    }
}

/* p arrived at node `id` over its downlink. */
static void node_arrive(Net *net, uint32_t id, Packet *p)
{
    NetNode *n = &net->nodes[id];
    if (!(n->flags & NODE_UP)) {
        net__drop(net, id, p, NET_DROP_HOST_DOWN);
        return;
    }
    n->rx_pkts++;
    n->rx_bytes += net__pkt_wire(p);
    if (p->dst != n->addr) {
        net__drop(net, id, p, NET_DROP_NO_ROUTE);
        return;
    }
    capture(net, id, p);
    if (n->kind == NODE_NAT) {
        nat_in(net, id, p);
        return;
    }
    if (fw__inbound(net, id, p) != NET_DROP_NONE) {
        net__drop(net, id, p, NET_DROP_FIREWALL);
        return;
    }
    host_deliver(net, id, p);
}

static void pkt_event(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Net *net = ctx;
    Packet *p = pool_at(net->pkt_pool[arg >> 32], (uint32_t)arg);
    p->ev = SIM_EVENT_NONE;
    switch ((PktStage)p->stage) {
    case PKT_ST_INSIDE: nat_from_inside(net, p->at, p); break;
    case PKT_ST_DOWN: node_go_down(net, p->at, p); break;
    case PKT_ST_ARRIVE: node_arrive(net, p->at, p); break;
    case PKT_ST_LOCAL:
        if (net->nodes[p->at].flags & NODE_UP) {
            host_deliver(net, p->at, p);
        } else {
            net__pkt_free(net, p);
        }
        break;
    default: CHECK(false, "packet stage %u", p->stage);
    }
}

void net__send(Net *net, uint32_t host, Packet *p)
{
    NetNode *n = &net->nodes[host];
    p->src = n->addr;
    if (fw__outbound(net, host, p) != NET_DROP_NONE) {
        fw_reject(net, host, p, n->addr, true);
        return;
    }
    capture(net, host, p);
    node_go_up(net, host, p);
}

uint16_t net__ephemeral_port(Net *net, uint32_t host, uint8_t proto)
{
    NetNode *n = &net->nodes[host];
    const uint32_t range = NET_EPHEMERAL_HI - NET_EPHEMERAL_LO + 1;
    for (uint32_t tries = 0; tries < range; tries++) {
        uint16_t port = n->eph_next;
        n->eph_next = port == NET_EPHEMERAL_HI ? NET_EPHEMERAL_LO : (uint16_t)(port + 1);
        bool used = sock__find(net, host, proto, port) != NULL;
        if (!used && proto == NET_PROTO_TCP) used = tcp__port_in_use(net, host, port);
        if (!used) return port;
    }
    return 0;
}

NetSizes net_sizes(void)
{
    return (NetSizes){
        .node = sizeof(NetNode),
        .nat_box = sizeof(NatBox),
        .mapping = sizeof(NatMap),
        .perm = sizeof(NatPerm),
        .udp_sock = sizeof(Sock),
        .tcp_conn = tcp__conn_size(),
        .packet = sizeof(Packet),
    };
}
