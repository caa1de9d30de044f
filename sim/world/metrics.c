/* metrics: the run's metric registry and its statistics; see metrics.h.
 *
 * Layer: sim/world (uses protocol/base, GLib, GSL and cJSON only). How it
 * works: names are interned in a GHashTable (name -> id) and each id indexes
 * one MetricsRec in a GArray (id 1 is element 0), so add and observe are one
 * array access. Counters keep an integer sum of the deltas added at or after
 * the warm-up end. Gauges keep their level from the start, and integrate it
 * over time from the warm-up end (area = sum of level x duration, in level x
 * ns), so the time-weighted mean over [warm-up end, end] is area / (end -
 * warm-up end). Samples keep their observations (those at or after the
 * warm-up end) in a GArray of doubles; summaries sort it in place once (the
 * order of observations is never reported, and sorting in place avoids a
 * copy of a million values) and use GSL for mean, sd and quantiles.
 * Invariants: ids are dense from 1; a gauge's change times never decrease
 * (CHECKed); observed values are finite (CHECKed), so no NaN reaches JSON.
 * Determinism: every result is a function of the call sequence alone; JSON
 * integers (counts, levels) are exact and other numbers are rounded to 9
 * significant digits ("%.9g" and back), so the last bits of a floating-point
 * sum cannot reach the text.
 */
#include "sim/world/metrics.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base/check.h"

typedef struct MetricsRec {
    char *name;        /* owned; also the key of Metrics.ids */
    MetricsKind kind;  /* counter, gauge or sample */
    int64_t sum;       /* counter: sum of deltas since warm-up (units of the metric) */
    int64_t level;     /* gauge: current level, warm-up included (units) */
    int64_t max_level; /* gauge: largest level held since warm-up, if max_seen (units) */
    bool max_seen;     /* gauge: max_level is valid (a change at/after warm-up) */
    TimeNs last_ns;    /* gauge: time of the last change (ns of virtual time) */
    double area;       /* gauge: integral of level since warm-up up to last_ns (units x ns) */
    GArray *samples;   /* sample: owned array of double observations (units) */
    bool sorted;       /* sample: samples is sorted ascending */
} MetricsRec;

struct Metrics {
    TimeNs warmup_end_ns; /* values before this time are excluded (ns) */
    GHashTable *ids;      /* owned; name (borrowed from rec) -> GUINT_TO_POINTER(id) */
    GArray *recs;         /* owned; MetricsRec, id i at index i - 1 */
};

Metrics *metrics_new(TimeNs warmup_end_ns)
{
    Metrics *m = g_new0(Metrics, 1);
    m->warmup_end_ns = warmup_end_ns;
    m->ids = g_hash_table_new(g_str_hash, g_str_equal);
    m->recs = g_array_new(FALSE, TRUE, sizeof(MetricsRec));
    return m;
}

void metrics_free(Metrics *m)
{
    if (!m) return;
    for (guint i = 0; i < m->recs->len; i++) {
        MetricsRec *r = &g_array_index(m->recs, MetricsRec, i);
        g_free(r->name);
        if (r->samples) g_array_free(r->samples, TRUE);
    }
    g_array_free(m->recs, TRUE);
    g_hash_table_destroy(m->ids);
    g_free(m);
}

/* The record of id; an unknown id is a programming error. */
static MetricsRec *metrics_rec(const Metrics *m, uint32_t id)
{
    CHECK(id >= 1 && id <= m->recs->len, "metric id %u out of range 1..%u", id, m->recs->len);
    return &g_array_index(m->recs, MetricsRec, id - 1);
}

static const char *metrics_kind_name(MetricsKind kind)
{
    switch (kind) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    case METRICS_SAMPLE:
        return "sample";
    }
    return "?";
}

uint32_t metrics_intern(Metrics *m, const char *name, MetricsKind kind)
{
    CHECK(name && *name, "metric name must be non-empty");
    CHECK(kind == METRICS_COUNTER || kind == METRICS_GAUGE || kind == METRICS_SAMPLE,
          "metric %s: bad kind %d", name, (int)kind);
    uint32_t id = metrics_find(m, name);
    if (id) {
        const MetricsRec *r = metrics_rec(m, id);
        CHECK(r->kind == kind, "metric %s interned as %s, used as %s", name,
              metrics_kind_name(r->kind), metrics_kind_name(kind));
        return id;
    }
    MetricsRec rec = {.name = g_strdup(name), .kind = kind, .last_ns = TIMENS_MIN_VALUE};
    if (kind == METRICS_SAMPLE) rec.samples = g_array_new(FALSE, FALSE, sizeof(double));
    g_array_append_val(m->recs, rec);
    id = m->recs->len;
    g_hash_table_insert(m->ids, rec.name, GUINT_TO_POINTER(id));
    return id;
}

uint32_t metrics_find(const Metrics *m, const char *name)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(m->ids, name));
}

/* Integral of a gauge's current level from its last change (or the warm-up
 * end, whichever is later) to t; 0 when t is not after that point. */
static double metrics_gauge_pending_area(const Metrics *m, const MetricsRec *r, TimeNs t)
{
    TimeNs from = MAX(r->last_ns, m->warmup_end_ns);
    if (t <= from) return 0.0;
    return (double)r->level * (double)(t - from);
}

static void metrics_gauge_add(Metrics *m, MetricsRec *r, int64_t delta, TimeNs now)
{
    CHECK(now >= r->last_ns, "gauge %s: time went back (%" PRId64 " ns < %" PRId64 " ns)", r->name,
          now, r->last_ns);
    int64_t before = r->level;
    r->area += metrics_gauge_pending_area(m, r, now);
    r->last_ns = now;
    r->level += delta;
    if (now < m->warmup_end_ns) return;
    if (!r->max_seen) {
        /* The level held before this change counts only if it was held for
         * some time after the warm-up end. */
        r->max_level = now > m->warmup_end_ns ? MAX(before, r->level) : r->level;
        r->max_seen = true;
    }
    r->max_level = MAX(r->max_level, r->level);
}

void metrics_add(Metrics *m, uint32_t id, int64_t delta, TimeNs now)
{
    MetricsRec *r = metrics_rec(m, id);
    CHECK(r->kind != METRICS_SAMPLE, "metric %s is a sample: use metrics_observe", r->name);
    if (r->kind == METRICS_GAUGE) {
        metrics_gauge_add(m, r, delta, now);
    } else if (now >= m->warmup_end_ns) {
        r->sum += delta;
    }
}

void metrics_observe(Metrics *m, uint32_t id, double value, TimeNs now)
{
    MetricsRec *r = metrics_rec(m, id);
    CHECK(r->kind == METRICS_SAMPLE, "metric %s is a %s: use metrics_add", r->name,
          metrics_kind_name(r->kind));
    CHECK(isfinite(value), "metric %s: observed a non-finite value %g", r->name, value);
    if (now < m->warmup_end_ns) return;
    g_array_append_val(r->samples, value);
    r->sorted = false;
}

double metrics_value(const Metrics *m, uint32_t id)
{
    const MetricsRec *r = metrics_rec(m, id);
    switch (r->kind) {
    case METRICS_COUNTER:
        return (double)r->sum;
    case METRICS_GAUGE:
        return (double)r->level;
    case METRICS_SAMPLE:
        return (double)r->samples->len;
    }
    return 0.0;
}

bool metrics_summary(Metrics *m, uint32_t id, MetricsSummary *out)
{
    MetricsRec *r = metrics_rec(m, id);
    if (r->kind != METRICS_SAMPLE || r->samples->len == 0) return false;
    double *x = (double *)(void *)r->samples->data;
    size_t n = r->samples->len;
    if (!r->sorted) gsl_sort(x, 1, n);
    r->sorted = true;
    *out = (MetricsSummary){
        .count = n,
        .mean = gsl_stats_mean(x, 1, n),
        .sd = n < 2 ? 0.0 : gsl_stats_sd(x, 1, n),
        .min = x[0],
        .max = x[n - 1],
        .p05 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.05),
        .p25 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.25),
        .p50 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.50),
        .p75 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.75),
        .p95 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.95),
        .p99 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.99),
    };
    return true;
}

const double *metrics_samples(Metrics *m, uint32_t id, size_t *n)
{
    MetricsRec *r = metrics_rec(m, id);
    CHECK(r->kind == METRICS_SAMPLE, "metric %s is a %s, not a sample", r->name,
          metrics_kind_name(r->kind));
    *n = r->samples->len;
    if (*n == 0) return NULL;
    double *x = (double *)(void *)r->samples->data;
    if (!r->sorted) gsl_sort(x, 1, *n);
    r->sorted = true;
    return x;
}

/* Adds key: v rounded to 9 significant digits, or null when v is not finite.
 * The rounded value is parsed back into a number node (not a raw node), so
 * readers of the tree see the number and printing depends only on it. */
static void metrics_json_num(cJSON *obj, const char *key, double v)
{
    if (!isfinite(v)) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    cJSON_AddNumberToObject(obj, key, strtod(buf, NULL));
}

/* Adds key: an integer, exact. cJSON prints numbers with 15 significant
 * digits, exact below 10^15; larger values go in as raw decimal digits
 * (the same bytes a reader sees, but not a number node in memory). */
static void metrics_json_int(cJSON *obj, const char *key, int64_t v)
{
    if (v > -1000000000000000 && v < 1000000000000000) {
        cJSON_AddNumberToObject(obj, key, (double)v);
        return;
    }
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    cJSON_AddRawToObject(obj, key, digits);
}

static void metrics_json_gauge(const Metrics *m, const MetricsRec *r, cJSON *o, TimeNs end_ns)
{
    CHECK(end_ns >= r->last_ns,
          "gauge %s: end %" PRId64 " ns before its last change %" PRId64 " ns", r->name, end_ns,
          r->last_ns);
    double area = r->area + metrics_gauge_pending_area(m, r, end_ns);
    double period_ns = (double)end_ns - (double)m->warmup_end_ns;
    metrics_json_int(o, "value", r->level);
    metrics_json_num(o, "time_mean", period_ns > 0 ? area / period_ns : NAN);
    metrics_json_int(o, "max", r->max_seen ? r->max_level : r->level);
}

static void metrics_json_sample(Metrics *m, uint32_t id, cJSON *o)
{
    MetricsSummary s = {0};
    bool any = metrics_summary(m, id, &s);
    double none = NAN; /* statistics of no observations are null */
    metrics_json_int(o, "count", (int64_t)s.count);
    metrics_json_num(o, "mean", any ? s.mean : none);
    metrics_json_num(o, "sd", any ? s.sd : none);
    metrics_json_num(o, "min", any ? s.min : none);
    metrics_json_num(o, "max", any ? s.max : none);
    metrics_json_num(o, "p05", any ? s.p05 : none);
    metrics_json_num(o, "p25", any ? s.p25 : none);
    metrics_json_num(o, "p50", any ? s.p50 : none);
    metrics_json_num(o, "p75", any ? s.p75 : none);
    metrics_json_num(o, "p95", any ? s.p95 : none);
    metrics_json_num(o, "p99", any ? s.p99 : none);
}

/* Orders ids (stored as pointers) by their metric's name. */
static gint metrics_cmp_name(gconstpointer a, gconstpointer b, gpointer ctx)
{
    const Metrics *m = ctx;
    uint32_t ia = GPOINTER_TO_UINT(*(gconstpointer const *)a);
    uint32_t ib = GPOINTER_TO_UINT(*(gconstpointer const *)b);
    return strcmp(metrics_rec(m, ia)->name, metrics_rec(m, ib)->name);
}

cJSON *metrics_to_json(Metrics *m, TimeNs end_ns)
{
    GPtrArray *order = g_ptr_array_sized_new(m->recs->len);
    for (uint32_t id = 1; id <= m->recs->len; id++)
        g_ptr_array_add(order, GUINT_TO_POINTER(id));
    g_ptr_array_sort_with_data(order, metrics_cmp_name, m);
    cJSON *root = cJSON_CreateObject();
    for (guint i = 0; i < order->len; i++) {
        uint32_t id = GPOINTER_TO_UINT(g_ptr_array_index(order, i));
        const MetricsRec *r = metrics_rec(m, id);
        cJSON *o = cJSON_AddObjectToObject(root, r->name);
        cJSON_AddStringToObject(o, "kind", metrics_kind_name(r->kind));
        if (r->kind == METRICS_COUNTER) metrics_json_int(o, "value", r->sum);
        if (r->kind == METRICS_GAUGE) metrics_json_gauge(m, r, o, end_ns);
        if (r->kind == METRICS_SAMPLE) metrics_json_sample(m, id, o);
    }
    g_ptr_array_free(order, TRUE);
    return root;
}

size_t metrics_count(const Metrics *m)
{
    return m->recs->len;
}

const char *metrics_name(const Metrics *m, uint32_t id)
{
    return metrics_rec(m, id)->name;
}

MetricsKind metrics_kind(const Metrics *m, uint32_t id)
{
    return metrics_rec(m, id)->kind;
}
