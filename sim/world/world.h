/* world: a scenario made into a running simulation.
 *
 * Layer: sim/world (uses sim/net, sim/kernel, protocol/). world_new()
 * builds, from a validated ScenarioSpec, the latency model, the Net with
 * its hosts, home NATs, carrier-grade NATs and firewalls, the protocol
 * nodes (login server, web server, bootstrap supernodes, dedicated
 * supernodes, clients) on EnvSim envs, and schedules the churn (logins,
 * logouts, crashes from the scenario's distributions, arrival pattern over
 * the day and scheduled events). world_run() advances it. Users come back
 * with their persistent state (host cache, port, NAT type) intact: their
 * store lives in the EnvSim under their node id.
 *
 * Who is where is decided here; whether they can reach each other is
 * decided by sim/net's NAT and firewall mechanisms, never here.
 */
#ifndef SKYSIM_WORLD_H
#define SKYSIM_WORLD_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "protocol/metric_table.h"
#include "sim/kernel/sim.h"
#include "sim/net/net.h"
#include "sim/world/envsim.h"
#include "sim/world/metrics.h"
#include "sim/world/scenario.h"
#include "sim/world/simmetric.h"

typedef struct World World;

#define WORLD_ERROR (world_error_quark())
GQuark world_error_quark(void);

/* Builds the world. spec: borrowed, must outlive the World. pcap_path: a
 * capture file for every packet, or NULL. Returns NULL with err set on an
 * input problem found while building (a latency file that does not parse,
 * an address clash); nothing is left behind. */
World *world_new(const ScenarioSpec *spec, EvqKind queue, const char *pcap_path, GError **err);

/* world_new, with every env call and every delivered event of node
 * trace_node (its peer index: servers first, then clients) written to
 * trace_out (borrowed; NULL: no trace) through a tracing env (envtrace.h),
 * from its first start on. The simulation is the same as without it. A
 * trace_node that does not exist is an input error. */
World *world_new_env_trace(const ScenarioSpec *spec, EvqKind queue, const char *pcap_path,
                           uint32_t trace_node, FILE *trace_out, GError **err);

/* Stops writing the env trace (call before closing its file; the node runs
 * on, its calls only forwarded). No-op without one. */
void world_env_trace_detach(World *w);

/* Writes an event trace to out (borrowed; NULL stops): one CSV line per
 * world event, "time_s,node,event" with event one of login, logout,
 * crash, and a header line written now. */
void world_set_trace(World *w, FILE *out);

/* Frees everything (nodes first, then the network, then the Sim). */
void world_free(World *w);

/* Runs until virtual time `until` (or a stop). */
SimRunResult world_run(World *w, TimeNs until);

Sim *world_sim(const World *w);
Net *world_net(const World *w);
Metrics *world_metrics(const World *w);
EnvSim *world_envsim(const World *w);

/* Id in world_metrics(w) of the protocol's scalar metric id. The protocol
 * interns every metric of its table when the world is built, so the id
 * always exists: a missing one is a programming error (CHECK), never a
 * silent 0 in the results. */
uint32_t world_metric_id(const World *w, MetricId id);

/* Same for instance (i, j, k) of the protocol's family f (indices as in
 * metric_table_family_name). */
uint32_t world_metric_family_id(const World *w, MetricFamily f, int i, int j, int k);

/* Same for the simulator's own metric id (simmetric.h); CHECKs it was
 * interned (the churn trace gauges exist only with trace churn). */
uint32_t world_simmetric_id(const World *w, SimMetricId id);

/* A snapshot of the world for the time series and the summary. */
#define WORLD_SN_HIST 7 /* buckets of the clients-per-supernode histogram */
typedef struct WorldStats {
    uint64_t clients;         /* client users */
    uint64_t online;          /* clients online (started, whatever their login state) */
    uint64_t logged_in;       /* clients in the ONLINE state */
    uint64_t supernodes;      /* nodes acting as supernodes (promoted, dedicated, bootstrap) */
    uint64_t sn_clients;      /* clients attached to supernodes, summed */
    uint64_t sn_loaded;       /* supernodes holding at least one client */
    uint64_t boot_clients;    /* clients attached to the bootstrap supernodes */
    uint64_t sn_hist[WORLD_SN_HIST]; /* supernodes by clients held (world_sn_hist_names) */
    uint64_t logins;          /* logins started so far */
    uint64_t logouts;         /* graceful logouts so far */
    uint64_t crashes;         /* crashes so far */
    uint64_t packets_in_flight; /* packets out of the Net's pools */
    size_t client_mem_high;   /* largest per-node protocol memory seen, bytes */
    double client_mem_mean;   /* mean protocol memory of logged-in clients, bytes */
} WorldStats;

void world_stats(const World *w, WorldStats *out);
/* Names of the WorldStats.sn_hist buckets ("0", "1-9", ..., "500+"). */
extern const char *const world_sn_hist_names[WORLD_SN_HIST];

/* Host-cache freshness: the share of host-cache entries of logged-in
 * clients (a strided sample of at most 500 clients) that point to a live
 * supernode; NaN when there is none. */
double world_hostcache_freshness(const World *w);

/* Columns of the time series (after the time column) and a row of them. */
size_t world_ts_columns(const char *const **names);
void world_ts_row(const World *w, double *values);

/* Peers (servers first, then clients), for tests and tools. */
size_t world_peer_count(const World *w);
size_t world_first_client(const World *w);
Node *world_peer_node(const World *w, size_t i);   /* NULL while offline; borrowed */
NodeRole world_peer_role(const World *w, size_t i);
uint32_t world_peer_host(const World *w, size_t i); /* Net host */
/* Crashes peer i now (host down, no goodbye), as a scenario "crash" event. */
void world_peer_crash(World *w, size_t i);
/* Logs peer i out now (a goodbye to its supernode), as churn does. */
void world_peer_logout(World *w, size_t i);
/* The username of peer i ("user" and its node id), into buf. */
void world_peer_username(const World *w, size_t i, char *buf, size_t size);

/* The node map, CSV with a header line: one row per peer (servers first,
 * then clients) with its id (the one the event trace and --trace-env
 * use), configured role, group ("" for servers), inside address (on its
 * own interface), outside address (what the Internet sees: its outermost
 * NAT's) and true NAT type (stun_nat_name). out: borrowed. false when a
 * write failed (errno set). */
bool world_nodes_write(const World *w, FILE *out);

/* NAT detection confusion matrix over clients that detected something:
 * counts[true][detected], NAT_TYPE_COUNT x NAT_TYPE_COUNT. */
void world_nat_confusion(const World *w, uint64_t *counts);

#endif
