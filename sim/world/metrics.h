/* metrics: the run's metric registry and its statistics.
 *
 * Layer: sim/world. Protocol code reaches it through env.h
 * (metric_intern/metric_add/metric_observe, implemented by envsim); the
 * world adds its own (online users, supernodes, ...). Names are interned
 * once to small ids; add and observe are O(1) on the hot path.
 *
 * Kinds (the EnvMetricKind numbering):
 *  - counter (0): a sum of deltas (bytes, packets, logins).
 *  - gauge (1): a level changed by deltas (+1/-1); its time-weighted mean
 *    over the measured period and its value at each time-series row are
 *    reported.
 *  - sample (2): a distribution of observed values (login time in s); count,
 *    mean, standard deviation (GSL), min, max and quantiles are reported.
 * Warm-up: values added or observed before the warm-up end are excluded
 * from the results (counters count from the warm-up end; gauges keep their
 * level but their time average starts there), DESIGN "Errors" and the scenario key warmup.
 * Determinism: output depends only on the sequence of calls.
 */
#ifndef SKYSIM_METRICS_H
#define SKYSIM_METRICS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"

typedef struct Metrics Metrics;

typedef enum MetricsKind {
    METRICS_COUNTER = 0, /* sum of deltas */
    METRICS_GAUGE = 1,   /* level */
    METRICS_SAMPLE = 2,  /* observations */
} MetricsKind;

/* Creates an empty registry; values before warmup_end_ns are excluded. */
Metrics *metrics_new(TimeNs warmup_end_ns);
void metrics_free(Metrics *m); /* NULL is a no-op */

/* Id of name (>= 1), creating it on first use. name: copied. The kind must
 * match on later calls (CHECKed: a programming error). O(1) amortised. */
uint32_t metrics_intern(Metrics *m, const char *name, MetricsKind kind);

/* Id of name, or 0 when it was never interned. */
uint32_t metrics_find(const Metrics *m, const char *name);

/* Adds delta to a counter or gauge at virtual time now (non-decreasing). */
void metrics_add(Metrics *m, uint32_t id, int64_t delta, TimeNs now);

/* Records one observation of a sample metric at virtual time now. */
void metrics_observe(Metrics *m, uint32_t id, double value, TimeNs now);

/* Current value: counter sum (since warm-up), gauge level, or sample count. */
double metrics_value(const Metrics *m, uint32_t id);

/* Summary of a sample metric (since warm-up); false when id is not a
 * sample metric or has no observations. Quantiles by linear interpolation
 * between order statistics (gsl_stats_quantile_from_sorted_data). */
typedef struct MetricsSummary {
    uint64_t count; /* observations */
    double mean;    /* arithmetic mean */
    double sd;      /* sample standard deviation (n - 1); 0 when count < 2 */
    double min;     /* smallest */
    double max;     /* largest */
    double p05, p25, p50, p75, p95, p99; /* quantiles */
} MetricsSummary;
bool metrics_summary(Metrics *m, uint32_t id, MetricsSummary *out);

/* Every metric, sorted by name, as a JSON object:
 *   "name": {"kind": "counter", "value": 12}
 *   "name": {"kind": "gauge", "value": 3, "time_mean": 2.5, "max": 7}
 *   "name": {"kind": "sample", "count": n, "mean": .., "sd": .., "min": ..,
 *            "max": .., "p05": .., "p25": .., "p50": .., "p75": .., "p95": .., "p99": ..}
 * end_ns closes the time averages of gauges. Numbers are written with a fixed
 * precision so identical runs give identical text. Returns an owned tree. */
cJSON *metrics_to_json(Metrics *m, TimeNs end_ns);

/* The observations of sample metric id since warm-up, sorted ascending
 * (sorted in place once, as metrics_summary() does); *n gets their number.
 * Returns a borrowed array valid until the next metrics_observe() on id or
 * metrics_free(); NULL with *n = 0 when id has no observations. For CDFs
 * (analysis/plot.h) through samples.csv (runner.c). */
const double *metrics_samples(Metrics *m, uint32_t id, size_t *n);

size_t metrics_count(const Metrics *m);            /* metrics interned */
const char *metrics_name(const Metrics *m, uint32_t id); /* borrowed */
MetricsKind metrics_kind(const Metrics *m, uint32_t id);

#endif
