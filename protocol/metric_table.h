/* metric_table: the one list of every metric the protocol emits.
 *
 * Layer: protocol/, beside env.h (it includes env.h, stun.h and node.h for
 * the metric kinds and the NAT type and call path vocabularies, and nothing
 * of sim/). The protocol interns its metrics from this table; sim/world and
 * analysis/ look them up through the same ids, so a renamed or removed
 * metric is a compile error or a failed check instead of a silent 0 or NaN
 * in the results (see tests/test_metric_table.c).
 *
 * Two kinds of entries:
 *   - scalar metrics, one name each (MetricId, METRIC_TABLE_SCALARS);
 *   - families, one name per combination of up to three indices
 *     (MetricFamily, METRIC_TABLE_FAMILIES): per NAT type, per login phase,
 *     per call path, the NAT detection confusion matrix, the call matrix.
 *     The pattern holds one "%s" per dimension, replaced in order by the
 *     dimension's name for the index (stun_nat_name, node_call_path_name,
 *     the login phase names below).
 *
 * Invariants: every concrete name (scalars and family instances) is unique;
 * the kinds here are the kinds the env registry holds (tests/test_metric_table.c
 * runs a world and compares its registry with the expansion of this table
 * both ways). Names are part of the results format: renaming one is a
 * deliberate, reviewed change of results.json and the CSV files.
 */
#ifndef SKYSIM_METRIC_TABLE_H
#define SKYSIM_METRIC_TABLE_H

#include <stddef.h>

#include "protocol/env.h"
#include "protocol/node.h"
#include "protocol/stun.h"

/* Longest concrete metric name plus its terminating NUL, bytes. */
#define METRIC_NAME_MAX 96

/* Login phases that count bytes and packets, as NodePhase numbers them
 * (0 is "none", never a metric). tests/test_metric_table.c checks the
 * count against the protocol's enum. */
#define METRIC_LOGIN_PHASE_COUNT 7

/* X(id, name, kind): every scalar metric, in the order the protocol interns
 * them (node, search, call, conference, media). */
#define METRIC_TABLE_SCALARS(X)                                                                    \
    /* login and NAT detection (node.c) */                                                         \
    X(METRIC_LOGIN_ATTEMPTS, "login.attempts", ENV_METRIC_COUNTER)                                 \
    X(METRIC_LOGIN_SUCCESS, "login.success", ENV_METRIC_COUNTER)                                   \
    X(METRIC_LOGIN_FAILURE, "login.failure", ENV_METRIC_COUNTER)                                   \
    X(METRIC_LOGIN_TIME_S, "login.time_s", ENV_METRIC_SAMPLE)                                      \
    X(METRIC_LOGIN_ROUNDS, "login.rounds", ENV_METRIC_SAMPLE)                                      \
    X(METRIC_LOGIN_GIVE_UPS, "login.give_ups", ENV_METRIC_COUNTER)                                 \
    X(METRIC_LOGIN_EVENTUAL_TIME_S, "login.eventual_time_s", ENV_METRIC_SAMPLE)                    \
    X(METRIC_LOGIN_NODES_CONTACTED, "login.nodes_contacted", ENV_METRIC_SAMPLE)                    \
    X(METRIC_NAT_DETECT_TOTAL, "nat.detect.total", ENV_METRIC_COUNTER)                             \
    X(METRIC_NAT_DETECT_CORRECT, "nat.detect.correct", ENV_METRIC_COUNTER)                         \
    X(METRIC_NAT_DETECT_KEEPS_STATE, "nat.detect.keeps_state", ENV_METRIC_COUNTER)                 \
    /* supernodes, failover, keep-alives, wire errors, servers (node.c) */                         \
    X(METRIC_SUPERNODE_COUNT, "supernode.count", ENV_METRIC_GAUGE)                                 \
    X(METRIC_SUPERNODE_PROMOTIONS, "supernode.promotions", ENV_METRIC_COUNTER)                     \
    X(METRIC_SUPERNODE_CLIENTS, "supernode.clients", ENV_METRIC_GAUGE)                             \
    X(METRIC_SUPERNODE_REJECTED, "supernode.rejected", ENV_METRIC_COUNTER)                         \
    X(METRIC_SUPERNODE_SHED, "supernode.shed", ENV_METRIC_COUNTER)                                 \
    X(METRIC_SUPERNODE_MOVED, "supernode.moved", ENV_METRIC_COUNTER)                               \
    X(METRIC_SUPERNODE_NOMINATIONS, "supernode.nominations", ENV_METRIC_COUNTER)                   \
    X(METRIC_SUPERNODE_PROMOTIONS_CAPPED, "supernode.promotions_capped", ENV_METRIC_COUNTER)       \
    X(METRIC_SUPERNODE_FORWARDED, "supernode.forwarded", ENV_METRIC_COUNTER)                       \
    X(METRIC_SUPERNODE_FWD_DUPLICATES, "supernode.forward.duplicates", ENV_METRIC_COUNTER)         \
    X(METRIC_SUPERNODE_FWD_TTL_CLAMPED, "supernode.forward.ttl_clamped", ENV_METRIC_COUNTER)       \
    X(METRIC_SUPERNODE_FWD_RATE_LIMITED, "supernode.forward.rate_limited", ENV_METRIC_COUNTER)     \
    X(METRIC_SUPERNODE_UNAUTHENTICATED, "supernode.unauthenticated", ENV_METRIC_COUNTER)           \
    X(METRIC_SUPERNODE_BYTES_IN, "supernode.bytes_in", ENV_METRIC_COUNTER)                         \
    X(METRIC_SUPERNODE_BYTES_OUT, "supernode.bytes_out", ENV_METRIC_COUNTER)                       \
    X(METRIC_SUPERNODE_STUN_ANSWERED, "supernode.stun_answered", ENV_METRIC_COUNTER)               \
    X(METRIC_SUPERNODE_PEER_SIGNAL_BYTES, "supernode.peer_signal_bytes", ENV_METRIC_COUNTER)       \
    X(METRIC_FAILOVER_TIME_S, "failover.time_s", ENV_METRIC_SAMPLE)                                \
    X(METRIC_FAILOVER_COUNT, "failover.count", ENV_METRIC_COUNTER)                                 \
    X(METRIC_FAILOVER_RELOGIN, "failover.relogin", ENV_METRIC_COUNTER)                             \
    X(METRIC_KEEPALIVE_SENT, "keepalive.sent", ENV_METRIC_COUNTER)                                 \
    X(METRIC_POLL_SENT, "poll.sent", ENV_METRIC_COUNTER)                                           \
    X(METRIC_POLL_DROPPED_ENTRIES, "poll.dropped_entries", ENV_METRIC_COUNTER)                     \
    X(METRIC_WIRE_MALFORMED_UDP, "wire.malformed.udp", ENV_METRIC_COUNTER)                         \
    X(METRIC_WIRE_MALFORMED_TCP, "wire.malformed.tcp", ENV_METRIC_COUNTER)                         \
    X(METRIC_STUN_MALFORMED, "stun.malformed", ENV_METRIC_COUNTER)                                 \
    X(METRIC_WIRE_NACK_SENT, "wire.nack_sent", ENV_METRIC_COUNTER)                                 \
    X(METRIC_SIGNAL_RECEIVED, "signal.received", ENV_METRIC_COUNTER)                               \
    X(METRIC_HOSTCACHE_SIZE, "hostcache.size", ENV_METRIC_SAMPLE)                                  \
    X(METRIC_HOSTCACHE_SIZE_HOURLY, "hostcache.size_hourly", ENV_METRIC_SAMPLE)                    \
    X(METRIC_HOSTCACHE_ADDED, "hostcache.added", ENV_METRIC_COUNTER)                               \
    X(METRIC_HOSTCACHE_EVICTED, "hostcache.evicted", ENV_METRIC_COUNTER)                           \
    X(METRIC_HOSTCACHE_SWEEPS, "hostcache.sweeps", ENV_METRIC_COUNTER)                             \
    X(METRIC_LOGIN_UDP_BLOCKED, "login.udp_blocked", ENV_METRIC_COUNTER)                           \
    X(METRIC_LOGIN_UDP_PHASES_SKIPPED, "login.udp_phases_skipped", ENV_METRIC_COUNTER)             \
    X(METRIC_MEMORY_CLIENT_STATE_BYTES, "memory.client_state_bytes", ENV_METRIC_SAMPLE)            \
    X(METRIC_HTTP_INSTALLED, "http.installed", ENV_METRIC_COUNTER)                                 \
    X(METRIC_HTTP_GETLATESTVERSION, "http.getlatestversion", ENV_METRIC_COUNTER)                   \
    X(METRIC_LOGINSERVER_CERTIFIED, "loginserver.certified", ENV_METRIC_COUNTER)                   \
    X(METRIC_LOGINSERVER_REFUSED, "loginserver.refused", ENV_METRIC_COUNTER)                       \
    /* user search and presence (search.c) */                                                      \
    X(METRIC_SEARCH_LATENCY_S, "search.latency_s", ENV_METRIC_SAMPLE)                              \
    X(METRIC_SEARCH_MESSAGES, "search.messages", ENV_METRIC_SAMPLE)                                \
    X(METRIC_SEARCH_SUPERNODES_CONTACTED, "search.supernodes_contacted", ENV_METRIC_SAMPLE)        \
    X(METRIC_SEARCH_SUCCESS, "search.success", ENV_METRIC_COUNTER)                                 \
    X(METRIC_SEARCH_FAILURE, "search.failure", ENV_METRIC_COUNTER)                                 \
    X(METRIC_SEARCH_SN_QUERIES, "search.sn_queries", ENV_METRIC_COUNTER)                           \
    X(METRIC_SEARCH_SN_SERVED, "search.sn_served", ENV_METRIC_SAMPLE)                              \
    X(METRIC_SEARCH_CACHE_HITS, "search.cache_hits", ENV_METRIC_COUNTER)                           \
    X(METRIC_SEARCH_DHT_PUTS, "search.dht_puts", ENV_METRIC_COUNTER)                               \
    X(METRIC_SEARCH_INDEX_PUTS, "search.index.puts", ENV_METRIC_COUNTER)                           \
    X(METRIC_SEARCH_INDEX_RING_MSGS, "search.index.ring_msgs", ENV_METRIC_COUNTER)                 \
    X(METRIC_SEARCH_INDEX_PULLS, "search.index.pulls", ENV_METRIC_COUNTER)                         \
    X(METRIC_SEARCH_INDEX_MOVED, "search.index.moved", ENV_METRIC_COUNTER)                         \
    X(METRIC_SEARCH_INDEX_DROPPED, "search.index.dropped", ENV_METRIC_COUNTER)                     \
    X(METRIC_SEARCH_INDEX_EXPIRED, "search.index.expired", ENV_METRIC_COUNTER)                     \
    X(METRIC_SEARCH_INDEX_RECORDS, "search.index.records", ENV_METRIC_SAMPLE)                      \
    X(METRIC_SEARCH_INDEX_BYTES, "search.index.bytes", ENV_METRIC_SAMPLE)                          \
    X(METRIC_SEARCH_INDEX_RING, "search.index.ring_size", ENV_METRIC_SAMPLE)                       \
    X(METRIC_PRESENCE_STALENESS_S, "presence.staleness_s", ENV_METRIC_SAMPLE)                      \
    X(METRIC_PRESENCE_UPDATES, "presence.updates", ENV_METRIC_COUNTER)                             \
    X(METRIC_PRESENCE_LOOKUPS, "presence.lookups", ENV_METRIC_COUNTER)                             \
    /* calls, media, relays, phone gateway (call.c) */                                             \
    X(METRIC_CALL_ATTEMPTS, "call.attempts", ENV_METRIC_COUNTER)                                   \
    X(METRIC_CALL_SUCCESS, "call.success", ENV_METRIC_COUNTER)                                     \
    X(METRIC_CALL_FAILURE, "call.failure", ENV_METRIC_COUNTER)                                     \
    X(METRIC_CALL_FAILED_NOT_LOCATED, "call.failed.not_located", ENV_METRIC_COUNTER)               \
    X(METRIC_CALL_FAILED_NO_ANSWER, "call.failed.no_answer", ENV_METRIC_COUNTER)                   \
    X(METRIC_CALL_FAILED_BUSY, "call.failed.busy", ENV_METRIC_COUNTER)                             \
    X(METRIC_CALL_FAILED_REFUSED, "call.failed.refused", ENV_METRIC_COUNTER)                       \
    X(METRIC_CALL_FAILED_SIGNALLING, "call.failed.signalling", ENV_METRIC_COUNTER)                 \
    X(METRIC_CALL_FAILED_NO_PATH, "call.failed.no_path", ENV_METRIC_COUNTER)                       \
    X(METRIC_CALL_FAILED_NO_SUPERNODE, "call.failed.no_supernode", ENV_METRIC_COUNTER)             \
    X(METRIC_CALL_DROPPED, "call.dropped", ENV_METRIC_COUNTER)                                     \
    X(METRIC_CALL_REESTABLISHED, "call.reestablished", ENV_METRIC_COUNTER)                         \
    X(METRIC_CALL_HOLDS, "call.holds", ENV_METRIC_COUNTER)                                         \
    X(METRIC_CALL_LOCATE_FALLBACKS, "call.locate_fallbacks", ENV_METRIC_COUNTER)                   \
    X(METRIC_CALL_SIGNAL_FALLBACKS, "call.signal_fallbacks", ENV_METRIC_COUNTER)                   \
    X(METRIC_CALL_BRIDGES, "call.bridges", ENV_METRIC_COUNTER)                                     \
    X(METRIC_CALL_BRIDGE_REFUSED, "call.bridge_refused", ENV_METRIC_COUNTER)                       \
    X(METRIC_CALL_RELOCATIONS, "call.relocations", ENV_METRIC_COUNTER)                             \
    X(METRIC_CALL_SETUP_CALLER_BYTES, "call.setup.caller_bytes", ENV_METRIC_SAMPLE)                \
    X(METRIC_CALL_SETUP_CALLEE_BYTES, "call.setup.callee_bytes", ENV_METRIC_SAMPLE)                \
    X(METRIC_CALL_SETUP_CALLER_PACKETS, "call.setup.caller_packets", ENV_METRIC_SAMPLE)            \
    X(METRIC_CALL_SETUP_CALLEE_PACKETS, "call.setup.callee_packets", ENV_METRIC_SAMPLE)            \
    X(METRIC_CALL_SIGNAL_DUPLICATES, "call.signal_duplicates", ENV_METRIC_COUNTER)                 \
    X(METRIC_CALL_SETUP_S, "call.setup_s", ENV_METRIC_SAMPLE)                                      \
    X(METRIC_CALL_MOS, "call.mos", ENV_METRIC_SAMPLE)                                              \
    X(METRIC_CALL_R_FACTOR, "call.r_factor", ENV_METRIC_SAMPLE)                                    \
    X(METRIC_CALL_DELAY_MS, "call.delay_ms", ENV_METRIC_SAMPLE)                                    \
    X(METRIC_CALL_JITTER_MS, "call.jitter_ms", ENV_METRIC_SAMPLE)                                  \
    X(METRIC_CALL_LOSS, "call.loss", ENV_METRIC_SAMPLE)                                            \
    X(METRIC_CALL_MOUTH_TO_EAR_MS, "call.mouth_to_ear_ms", ENV_METRIC_SAMPLE)                      \
    X(METRIC_CALL_JITTER_BUFFER_MS, "call.jitter_buffer_ms", ENV_METRIC_SAMPLE)                    \
    X(METRIC_CALL_IE_EFF, "call.ie_eff", ENV_METRIC_SAMPLE)                                        \
    X(METRIC_CALL_ACTIVE, "call.active", ENV_METRIC_GAUGE)                                         \
    X(METRIC_CALL_RELAYED_ACTIVE, "call.relayed_active", ENV_METRIC_GAUGE)                         \
    X(METRIC_CALL_MEDIA_PACKETS, "call.media.packets", ENV_METRIC_COUNTER)                         \
    X(METRIC_CALL_MEDIA_BYTES, "call.media.bytes", ENV_METRIC_COUNTER)                             \
    X(METRIC_RELAY_BYTES, "relay.bytes", ENV_METRIC_COUNTER)                                       \
    X(METRIC_RELAY_BANDWIDTH_BPS, "relay.bandwidth_bps", ENV_METRIC_SAMPLE)                        \
    X(METRIC_RELAY_DROPPED, "relay.dropped", ENV_METRIC_COUNTER)                                   \
    X(METRIC_RELAY_REFUSED, "relay.refused", ENV_METRIC_COUNTER)                                   \
    X(METRIC_RELAY_SESSIONS, "relay.sessions", ENV_METRIC_GAUGE)                                   \
    X(METRIC_GATEWAY_CALLS, "gateway.calls", ENV_METRIC_COUNTER)                                   \
    X(METRIC_GATEWAY_ACTIVE, "gateway.active", ENV_METRIC_GAUGE)                                   \
    X(METRIC_GATEWAY_BUSY, "gateway.busy", ENV_METRIC_COUNTER)                                     \
    /* conferences (conf.c) */                                                                     \
    X(METRIC_CONF_STARTED, "conf.started", ENV_METRIC_COUNTER)                                     \
    X(METRIC_CONF_FAILED, "conf.failed", ENV_METRIC_COUNTER)                                       \
    X(METRIC_CONF_LEFT, "conf.left", ENV_METRIC_COUNTER)                                           \
    X(METRIC_CONF_PARTICIPANTS, "conf.participants", ENV_METRIC_SAMPLE)                            \
    X(METRIC_CONF_HOST_BYTES, "conf.host_bytes", ENV_METRIC_COUNTER)                               \
    X(METRIC_CONF_MOS, "conf.mos", ENV_METRIC_SAMPLE)                                              \
    X(METRIC_CONF_STREAMS_AT_HOST, "conf.streams_at_host", ENV_METRIC_SAMPLE)                      \
    X(METRIC_CONF_STREAMS, "conf.streams", ENV_METRIC_GAUGE)                                       \
    X(METRIC_CONF_MIXES, "conf.mixes", ENV_METRIC_COUNTER)                                         \
    X(METRIC_CONF_HOST_CPU_NS, "conf.host_cpu_ns", ENV_METRIC_SAMPLE)                              \
    X(METRIC_CONF_LEG_FAILED, "conf.leg.failed", ENV_METRIC_COUNTER)                               \
    X(METRIC_CONF_RX_STREAMS, "conf.rx_streams", ENV_METRIC_COUNTER)                               \
    X(METRIC_CONF_RX_STREAMS_MEDIA, "conf.rx_streams_with_media", ENV_METRIC_COUNTER)              \
    /* media (media.c) */                                                                          \
    X(METRIC_MEDIA_BAD_PACKETS, "media.bad_packets", ENV_METRIC_COUNTER)

/* Dimensions of families: which indices are valid and what names them. */
typedef enum MetricDim {
    METRIC_DIM_NONE = 0,        /* unused axis; its index must be 0 */
    METRIC_DIM_NAT = 1,         /* NatType, NAT_OPEN .. NAT_UNKNOWN (stun_nat_name) */
    METRIC_DIM_NAT_KNOWN = 2,   /* NatType, NAT_OPEN .. NAT_TCP_ONLY (no "unknown") */
    METRIC_DIM_CALL_PATH = 3,   /* NodeCallPath without NONE (node_call_path_name) */
    METRIC_DIM_LOGIN_PHASE = 4, /* NodePhase without PH_NONE (metric_table_dim_name) */
    METRIC_DIM_COUNT
} MetricDim;

/* X(id, pattern, kind, dim1, dim2, dim3): every family; each "%s" of the
 * pattern is replaced by the name of the index on the next used axis. */
#define METRIC_TABLE_FAMILIES(X)                                                                   \
    X(METRIC_FAM_LOGIN_SUCCESS_BY_NAT, "login.success.%s", ENV_METRIC_COUNTER, METRIC_DIM_NAT,     \
      METRIC_DIM_NONE, METRIC_DIM_NONE)                                                            \
    X(METRIC_FAM_LOGIN_FAILURE_BY_NAT, "login.failure.%s", ENV_METRIC_COUNTER, METRIC_DIM_NAT,     \
      METRIC_DIM_NONE, METRIC_DIM_NONE)                                                            \
    X(METRIC_FAM_LOGIN_TIME_S_BY_NAT, "login.time_s.%s", ENV_METRIC_SAMPLE, METRIC_DIM_NAT,        \
      METRIC_DIM_NONE, METRIC_DIM_NONE)                                                            \
    /* true type (i) by detected type (j) */                                                       \
    X(METRIC_FAM_NAT_CONFUSION, "nat.detect.true=%s.detected=%s", ENV_METRIC_COUNTER,              \
      METRIC_DIM_NAT, METRIC_DIM_NAT, METRIC_DIM_NONE)                                             \
    X(METRIC_FAM_LOGIN_BYTES_BY_PHASE, "login.bytes.%s", ENV_METRIC_COUNTER,                       \
      METRIC_DIM_LOGIN_PHASE, METRIC_DIM_NONE, METRIC_DIM_NONE)                                    \
    X(METRIC_FAM_LOGIN_PACKETS_BY_PHASE, "login.packets.%s", ENV_METRIC_COUNTER,                   \
      METRIC_DIM_LOGIN_PHASE, METRIC_DIM_NONE, METRIC_DIM_NONE)                                    \
    X(METRIC_FAM_CALL_PATH, "call.path.%s", ENV_METRIC_COUNTER, METRIC_DIM_CALL_PATH,              \
      METRIC_DIM_NONE, METRIC_DIM_NONE)                                                            \
    /* caller's true type (i), callee's true type (j), path (k) */                                 \
    X(METRIC_FAM_CALL_MATRIX, "call.matrix.%s.%s.%s", ENV_METRIC_COUNTER, METRIC_DIM_NAT_KNOWN,    \
      METRIC_DIM_NAT_KNOWN, METRIC_DIM_CALL_PATH)                                                  \
    /* client's true type (i), path (j) of calls to or from the phone network */                   \
    X(METRIC_FAM_CALL_PSTN_MATRIX, "call.matrix.%s.pstn.%s", ENV_METRIC_COUNTER,                   \
      METRIC_DIM_NAT_KNOWN, METRIC_DIM_CALL_PATH, METRIC_DIM_NONE)                                 \
    X(METRIC_FAM_CONF_LEG, "conf.leg.%s", ENV_METRIC_COUNTER, METRIC_DIM_CALL_PATH,                \
      METRIC_DIM_NONE, METRIC_DIM_NONE)

#define METRIC_TABLE_ENUM_ID_(id, ...) id,
typedef enum MetricId { METRIC_TABLE_SCALARS(METRIC_TABLE_ENUM_ID_) METRIC_ID_COUNT } MetricId;
typedef enum MetricFamily {
    METRIC_TABLE_FAMILIES(METRIC_TABLE_ENUM_ID_) METRIC_FAMILY_COUNT
} MetricFamily;
#undef METRIC_TABLE_ENUM_ID_

/* Name of scalar metric id: a static string. CHECKs id is in range. */
const char *metric_table_name(MetricId id);

/* Kind of scalar metric id. */
EnvMetricKind metric_table_kind(MetricId id);

/* Pattern ("call.path.%s"), kind and dimension of axis 0, 1 or 2 of family
 * f; METRIC_DIM_NONE for an axis it does not use. */
const char *metric_table_family_pattern(MetricFamily f);
EnvMetricKind metric_table_family_kind(MetricFamily f);
MetricDim metric_table_family_dim(MetricFamily f, int axis);

/* Valid indices of dimension d: first <= i < end (METRIC_DIM_NONE: only 0). */
int metric_table_dim_first(MetricDim d);
int metric_table_dim_end(MetricDim d);

/* Name of index i of dimension d (a static string): the protocol's own
 * name for that NAT type, call path or login phase. CHECKs i is valid. */
const char *metric_table_dim_name(MetricDim d, int i);

/* Writes the concrete name of family f for indices i, j, k (values of the
 * dimensions' enums, 0 on unused axes) into buf (cap bytes; METRIC_NAME_MAX
 * is always enough) and returns buf. An index outside its dimension or a
 * buffer too small is a programming error (CHECK). */
const char *metric_table_family_name(MetricFamily f, int i, int j, int k, char *buf, size_t cap);

/* Interns scalar metric id through e with the table's name and kind and
 * returns the env's id (env_metric_intern). */
EnvMetric metric_table_intern(const Env *e, MetricId id);

/* Interns the instance (i, j, k) of family f through e, as above. */
EnvMetric metric_table_intern_family(const Env *e, MetricFamily f, int i, int j, int k);

/* Called once per concrete metric name by metric_table_foreach; name is
 * valid during the call only. */
typedef void (*MetricTableVisitFn)(void *ctx, const char *name, EnvMetricKind kind);

/* Calls fn(ctx, ...) for every scalar, then for every instance of every
 * family (first axis outermost). Returns the number of names visited. */
size_t metric_table_foreach(MetricTableVisitFn fn, void *ctx);

#endif
