/* node_features: the node as the simulator runs it: which features a full
 * node has (node_shared_new) and the protocol's defaults (node_params_default,
 * the one place every default of NodeParams is set). The plumbing
 * (node.c) names no feature; this file is where they are put together.
 *
 * Layer: protocol/, above the plumbing and every feature.
 */
#include "protocol/node.h"

#include "protocol/call.h"
#include "protocol/client.h"
#include "protocol/conf.h"
#include "protocol/hostcache.h"
#include "protocol/loginsrv.h"
#include "protocol/search.h"
#include "protocol/supernode.h"
#include "protocol/websrv.h"

#include <string.h>

void node_params_default(NodeParams *p)
{
    static const uint8_t boot[7][4] = {{66, 235, 180, 9}, {66, 235, 181, 9}, {80, 161, 91, 25},
                                       {80, 160, 91, 12}, {64, 246, 49, 60}, {64, 246, 49, 61},
                                       {64, 246, 48, 23}}; /* a6, all on 33033 */
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 7; i++)
        p->bootstrap[i] = env_addr(ENV_IP(boot[i][0], boot[i][1], boot[i][2], boot[i][3]), 33033);
    p->n_bootstrap = 7;
    p->login_server = env_addr(ENV_IP(80, 160, 91, 11), 33033); /* a8 (0.97) */
    p->web_server = env_addr(ENV_IP(212, 72, 49, 131), 80);     /* a46: illustrative */
    p->server_key_bits = 1536;                                  /* a15 */
    p->user_key_bits = 1024;                                    /* a15 */
    p->user_key_pool = 32;
    p->login_rounds = 5;                                        /* a10 */
    p->probes_per_round = 8;
    p->probes_first_login = 4; /* a6 */
    p->tcp_targets_per_round = 2;
    p->probe_wait_ns = 5 * TIMENS_S; /* a10 */
    p->round_wait_ns = 6 * TIMENS_S; /* a10 */
    p->login_giveup_ns = 8 * TIMENS_MIN; /* a12: 2.0 gives up after about 8 minutes */
    p->login_full_wait_max_ns = 2 * TIMENS_MIN;
    p->login_pause_ns = 30 * TIMENS_MIN; /* a12: 1.4 pauses at least 30 minutes */
    p->tcp_timeout_ns = 5 * TIMENS_S;
    p->fallback_ports[0] = 443; /* a11, later clients: high port -> 443 -> 80 */
    p->fallback_ports[1] = 80;
    p->auth_timeout_ns = 15 * TIMENS_S;
    p->alt_targets = NODE_ALT_MAX;
    p->alt_wait_ns = 5 * TIMENS_S;
    p->keepalive_ns = 60 * TIMENS_S; /* a24 */
    p->keepalive_timeout_ns = 20 * TIMENS_S;
    p->keepalive_misses = 3;
    p->poll_ns = 20 * TIMENS_S; /* a25 */
    p->poll_divisor = 3;        /* a25: about a third */
    p->poll_miss_max = 3;
    p->failover_targets = 8;
    p->stun_rto_ns = 500 * TIMENS_MS;
    p->stun_tries = 3;
    p->nat_refresh_ns = TIMENS_H; /* a25 */
    p->promotion_enabled = true;  /* a40 */
    p->sn_min_uplink_kbps = 1000; /* the scenario defaults (scenarios/README.md) */
    p->sn_min_cpu_mhz = 2000;
    p->sn_min_uptime_ns = 10 * TIMENS_MIN;
    p->sn_capacity = 500; /* a47: "up to several hundred" */
    p->sn_nominate_load = 90;
    p->sn_move_per_maint = 8;
    p->sn_entry_ttl_ns = 10 * TIMENS_MIN;
    p->sn_peer_links = 3;
    p->hc_handout = 8;
    p->sn_maint_ns = 30 * TIMENS_S;
    p->hostcache_cap = HOSTCACHE_MAX; /* a1 */
    p->hc_refresh_ns = TIMENS_H;      /* a25 */
    p->hc_sweep_entries = 100;
    p->fw_udp_probes = 30;
    search__params_default(p);
    call__params_default(p);
}

/* The features of a full node, in registration order (the order of
 * start, stop, raw datagram demultiplexing, accept offers and events). */
static const NodeFeature *const node_default_features[] = {&loginsrv_feature, &websrv_feature,
                                                            &client_feature, &supernode_feature,
                                                            &search_feature, &call_feature,
                                                            &conf_feature};
static const size_t node_n_default_features = G_N_ELEMENTS(node_default_features);

NodeShared *node_shared_new(const Env *world_env, const NodeParams *p, GError **err)
{
    return node_shared_new_with(world_env, p, node_default_features, node_n_default_features, err);
}
