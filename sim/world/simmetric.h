/* simmetric: the metrics the simulator emits itself, beside the protocol's.
 *
 * Layer: sim/world. The protocol's metrics are listed in
 * protocol/metric_table.h; this is the same kind of list for what the
 * world (population, churn trace) and envsim (the CPU model) count about
 * the simulated hosts. Together the two lists name every metric a run's
 * registry can hold, and tests/test_metric_table.c checks that they do.
 * Readers (runner, world, analysis) refer to these by id, never by a
 * retyped string.
 */
#ifndef SKYSIM_SIMMETRIC_H
#define SKYSIM_SIMMETRIC_H

#include "sim/world/metrics.h"

/* X(id, name, kind), in the order the world interns them. */
#define SIMMETRIC_TABLE(X)                                                                         \
    X(SIMMETRIC_WORLD_ONLINE, "world.online", METRICS_GAUGE)                                       \
    /* charged CPU per role (envsim; consecutive: client, supernode, server) */                    \
    X(SIMMETRIC_CPU_CHARGED_NS_CLIENT, "cpu.charged_ns.client", METRICS_COUNTER)                   \
    X(SIMMETRIC_CPU_CHARGED_NS_SUPERNODE, "cpu.charged_ns.supernode", METRICS_COUNTER)             \
    X(SIMMETRIC_CPU_CHARGED_NS_SERVER, "cpu.charged_ns.server", METRICS_COUNTER)                   \
    X(SIMMETRIC_CPU_OVERLOAD_DROPS, "cpu.overload_drops", METRICS_COUNTER)                         \
    X(SIMMETRIC_CPU_DEFERRED_SENDS, "cpu.deferred_sends", METRICS_COUNTER)                         \
    /* trace churn only (world_trace_start) */                                                     \
    X(SIMMETRIC_CHURN_TRACE_NODES, "churn.trace.nodes", METRICS_GAUGE)                             \
    X(SIMMETRIC_CHURN_TRACE_CLIENTS_DRIVEN, "churn.trace.clients_driven", METRICS_GAUGE)           \
    X(SIMMETRIC_CHURN_TRACE_CLIENTS_IDLE, "churn.trace.clients_idle", METRICS_GAUGE)               \
    X(SIMMETRIC_CHURN_TRACE_NODES_IGNORED, "churn.trace.nodes_ignored", METRICS_GAUGE)         \
    X(SIMMETRIC_CHURN_TRACE_BAD_LINES, "churn.trace.bad_lines", METRICS_GAUGE)                     \
    X(SIMMETRIC_SEARCH_ONLINE_FOUND, "search.target.online.found", METRICS_COUNTER)                 \
    X(SIMMETRIC_SEARCH_ONLINE_ABSENT, "search.target.online.absent", METRICS_COUNTER)               \
    X(SIMMETRIC_SEARCH_RECENT_FOUND, "search.target.recent.found", METRICS_COUNTER)                 \
    X(SIMMETRIC_SEARCH_RECENT_ABSENT, "search.target.recent.absent", METRICS_COUNTER)               \
    X(SIMMETRIC_SEARCH_OLD_FOUND, "search.target.old.found", METRICS_COUNTER)                       \
    X(SIMMETRIC_SEARCH_OLD_ABSENT, "search.target.old.absent", METRICS_COUNTER)                     \
    X(SIMMETRIC_CALL_FREE_CONNECTED, "call.target.free.connected", METRICS_COUNTER)                 \
    X(SIMMETRIC_CALL_FREE_FAILED, "call.target.free.failed", METRICS_COUNTER)                       \
    X(SIMMETRIC_CALL_BUSY_CONNECTED, "call.target.busy.connected", METRICS_COUNTER)                 \
    X(SIMMETRIC_CALL_BUSY_FAILED, "call.target.busy.failed", METRICS_COUNTER)                       \
    X(SIMMETRIC_CALL_OFFLINE_CONNECTED, "call.target.offline.connected", METRICS_COUNTER)           \
    X(SIMMETRIC_CALL_OFFLINE_FAILED, "call.target.offline.failed", METRICS_COUNTER)

#define SIMMETRIC_ENUM_ID_(id, name, kind) id,
typedef enum SimMetricId { SIMMETRIC_TABLE(SIMMETRIC_ENUM_ID_) SIMMETRIC_COUNT } SimMetricId;
#undef SIMMETRIC_ENUM_ID_

/* Name of id (a static string); CHECKs id is in range. */
const char *simmetric_name(SimMetricId id);

/* Kind of id. */
MetricsKind simmetric_kind(SimMetricId id);

/* Interns id in m with its table name and kind; returns m's id. */
uint32_t simmetric_intern(Metrics *m, SimMetricId id);

#endif
