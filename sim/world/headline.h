/* headline: what each number of results.json is -- its range (fraction,
 * count, non-negative quantity, score), its unit and a readable label --
 * in one table, so that sweeps (which interval to compute) and plots
 * (axis labels, ranges, bar or line) take it from here instead of guessing
 * from names.
 *
 * Layer: sim/world (reads protocol/metric_table.h and sim/world/simmetric.h
 * for the metrics section). The headline keys are the ones runner.c writes;
 * tests/test_metric_table.c runs a world and checks that the table lists
 * exactly the keys of its results.json, both ways.
 *
 * Paths are the dotted results.json paths simsweep takes
 * (analysis/README.md "Sweeps"): "headline.<key>", "metrics.<name>.<field>",
 * "supernode_load.<...>", "nat_detection.<true>.<detected>", "engine.<key>",
 * "simulated_s", "seed".
 */
#ifndef SKYSIM_HEADLINE_H
#define SKYSIM_HEADLINE_H

#include <stdbool.h>

/* The range of a number's values, which decides its confidence interval
 * and its axis. */
typedef enum HeadlineRange {
    HEADLINE_REAL = 0,     /* any real number (or not known) */
    HEADLINE_NONNEG = 1,   /* >= 0, continuous: times, sizes, ratios, CPU */
    HEADLINE_COUNT = 2,    /* >= 0, a count of things (integer per run) */
    HEADLINE_FRACTION = 3, /* in [0, 1]: a share, rate or accuracy */
    HEADLINE_SCORE = 4,    /* in [lo, hi] given by the entry: MOS 1 to 5 */
} HeadlineRange;

/* X(key, range, unit, label, trials): every key of results.json's
 * "headline", in the order runner.c writes them. unit is "" for fractions
 * and counts (the label says what is counted); label is lower case, for an
 * axis. trials, for a fraction, is the number it is a fraction of, as
 * results.json paths joined by "+" (logins that succeeded plus those that
 * failed), or "" when results.json does not give it; tests/test_metric_table.c
 * checks that fraction x trials is a whole number in a real run. */
#define HEADLINE_TABLE(X)                                                                           \
    X("login_success_rate", HEADLINE_FRACTION, "", "login success rate",                            \
      "metrics.login.success.value+metrics.login.failure.value")                                    \
    X("login_time_mean_s", HEADLINE_NONNEG, "s", "mean login time", "")                             \
    X("login_time_p95_s", HEADLINE_NONNEG, "s", "95th percentile of login time", "")                \
    X("nat_detection_accuracy", HEADLINE_FRACTION, "", "NAT detection accuracy",                    \
      "metrics.nat.detect.total.value")                                                             \
    X("supernodes_at_end", HEADLINE_COUNT, "", "supernodes at the end", "")                         \
    X("clients_per_supernode", HEADLINE_NONNEG, "", "clients per supernode", "")                    \
    X("online_at_end", HEADLINE_COUNT, "", "clients online at the end", "")                         \
    X("logged_in_at_end", HEADLINE_COUNT, "", "clients logged in at the end", "")                   \
    X("supernodes_with_clients", HEADLINE_COUNT, "", "supernodes holding clients", "")              \
    X("clients_per_loaded_supernode", HEADLINE_NONNEG, "", "clients per supernode holding clients", \
      "")                                                                                           \
    X("bootstrap_client_share", HEADLINE_FRACTION, "", "share of clients on bootstrap supernodes",  \
      "supernode_load.clients_attached")                                                            \
    X("hostcache_freshness", HEADLINE_FRACTION, "", "host-cache freshness (share of live entries)", \
      "")                                                                                           \
    X("failover_time_mean_s", HEADLINE_NONNEG, "s", "mean failover time", "")                       \
    X("supernode_cpu_charged_s", HEADLINE_NONNEG, "s", "CPU time charged to supernodes", "")        \
    X("client_protocol_bytes_high", HEADLINE_NONNEG, "bytes", "protocol state per client, highest", \
      "")                                                                                           \
    X("search_success_rate", HEADLINE_FRACTION, "", "search success rate",                          \
      "metrics.search.success.value+metrics.search.failure.value")                                  \
    X("search_latency_mean_s", HEADLINE_NONNEG, "s", "mean search latency", "")                     \
    X("search_success_online", HEADLINE_FRACTION, "", "search success, targets online",            \
      "metrics.search.target.online.found.value+metrics.search.target.online.absent.value")        \
    X("search_success_recent", HEADLINE_FRACTION, "", "search success, targets logged out < 72 h", \
      "metrics.search.target.recent.found.value+metrics.search.target.recent.absent.value")        \
    X("call_success_rate", HEADLINE_FRACTION, "", "call success rate",                              \
      "metrics.call.success.value+metrics.call.failure.value")                                      \
    X("call_success_free", HEADLINE_FRACTION, "", "call success, callee online and in no call",    \
      "metrics.call.target.free.connected.value+metrics.call.target.free.failed.value")            \
    X("call_setup_mean_s", HEADLINE_NONNEG, "s", "mean call setup time", "")                        \
    X("path_share_direct", HEADLINE_FRACTION, "", "share of calls on a direct path",                \
      "metrics.call.success.value")                                                                 \
    X("path_share_hole_punched", HEADLINE_FRACTION, "", "share of calls hole-punched",              \
      "metrics.call.success.value")                                                                 \
    X("path_share_udp_relay", HEADLINE_FRACTION, "", "share of calls relayed over UDP",             \
      "metrics.call.success.value")                                                                 \
    X("path_share_tcp_relay", HEADLINE_FRACTION, "", "share of calls relayed over TCP",             \
      "metrics.call.success.value")                                                                 \
    X("relay_share", HEADLINE_FRACTION, "", "share of calls relayed", "metrics.call.success.value") \
    X("mos_mean", HEADLINE_SCORE, "MOS, 1 to 5", "mean opinion score of calls", "")                 \
    X("calls_dropped", HEADLINE_COUNT, "", "calls dropped", "")

/* What a results.json number is. */
typedef struct HeadlineInfo {
    HeadlineRange range; /* its range */
    double lo, hi;       /* bounds of the range: [0, 1] fraction, [0, inf) non-negative and
                            counts, [1, 5] MOS, (-inf, inf) real */
    const char *unit;    /* unit ("s", "bytes", "bit/s") or "" (fraction, count, none) */
    const char *trials;  /* a fraction's denominator: results.json paths joined by "+", or "" */
    char *label;         /* readable label without the unit; owned (headline_info_clear) */
} HeadlineInfo;

/* Number of headline keys, and key i (0 <= i < headline_count()). */
int headline_count(void);
const char *headline_key(int i);

/* The entry of headline key (e.g. "login_success_rate"); false when the
 * table has no such key (info then describes a real number named key). */
bool headline_find(const char *key, HeadlineInfo *info);

/* What the number at results.json path is (e.g. "headline.relay_share",
 * "metrics.login.time_s.p95", "supernode_load.supernodes_by_clients.0");
 * fills *info (clear it after) in every case, HEADLINE_REAL with the path
 * as label when the path says nothing known. Metrics are looked up in
 * protocol/metric_table.h and sim/world/simmetric.h by name: counters and
 * gauges are counts, samples non-negative (their count field a count). */
void headline_path_info(const char *path, HeadlineInfo *info);

/* Frees what info owns. */
void headline_info_clear(HeadlineInfo *info);

#endif
