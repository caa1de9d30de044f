/* test_metrics: the metric registry, warm-up exclusion, gauge time means,
 * sample statistics against known values, and deterministic sorted JSON.
 *
 * Known values: 1..100 has mean 50.5, sample sd 29.011491975882016, and with
 * linear interpolation between order statistics (GSL, R type 7) the median
 * is 50.5, p95 95.05 and p99 99.01. A gauge at level 1 for 10 s then 3 for
 * 30 s has time mean (10 + 90) / 40 = 2.5.
 */
#include "sim/world/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "t_assert.h"

/* The number under key of the JSON object of metric name. */
static double json_get(const cJSON *root, const char *name, const char *key)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_metrics_intern_ids(void)
{
    Metrics *m = metrics_new(0);
    T_EQ_U64(metrics_intern(m, "logins", METRICS_COUNTER), 1);
    T_EQ_U64(metrics_intern(m, "online", METRICS_GAUGE), 2);
    T_EQ_U64(metrics_intern(m, "login_s", METRICS_SAMPLE), 3);
    T_EQ_U64(metrics_intern(m, "online", METRICS_GAUGE), 2);
    T_EQ_U64(metrics_find(m, "login_s"), 3);
    T_EQ_U64(metrics_find(m, "nothing"), 0);
    T_EQ_U64(metrics_count(m), 3);
    T_STR_EQ(metrics_name(m, 2), "online");
    T_EQ_I64(metrics_kind(m, 3), METRICS_SAMPLE);
    T_EQ_I64(metrics_kind(m, 1), METRICS_COUNTER);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_metrics_counter_excludes_warmup(void)
{
    Metrics *m = metrics_new(10 * TIMENS_S);
    uint32_t id = metrics_intern(m, "bytes", METRICS_COUNTER);
    metrics_add(m, id, 5, 1 * TIMENS_S);
    metrics_add(m, id, 100, 10 * TIMENS_S - 1);
    T_NEAR(metrics_value(m, id), 0.0, 0.0);
    metrics_add(m, id, 3, 10 * TIMENS_S);
    metrics_add(m, id, 4, 20 * TIMENS_S);
    T_NEAR(metrics_value(m, id), 7.0, 0.0);
    cJSON *j = metrics_to_json(m, 30 * TIMENS_S);
    T_NEAR(json_get(j, "bytes", "value"), 7.0, 0.0);
    cJSON_Delete(j);
    metrics_free(m);
}

static void test_metrics_counter_large_is_exact(void)
{
    Metrics *m = metrics_new(0);
    uint32_t id = metrics_intern(m, "bytes", METRICS_COUNTER);
    metrics_add(m, id, 1234567890123LL, 0);
    cJSON *j = metrics_to_json(m, TIMENS_S);
    char *text = cJSON_PrintUnformatted(j);
    T_STR_CONTAINS(text, "\"value\":1234567890123}");
    cJSON_free(text);
    cJSON_Delete(j);
    metrics_free(m);
}

static void test_metrics_gauge_time_mean(void)
{
    Metrics *m = metrics_new(0);
    uint32_t id = metrics_intern(m, "online", METRICS_GAUGE);
    metrics_add(m, id, 1, 0);
    metrics_add(m, id, 2, 10 * TIMENS_S);
    T_NEAR(metrics_value(m, id), 3.0, 0.0);
    cJSON *j = metrics_to_json(m, 40 * TIMENS_S);
    T_NEAR(json_get(j, "online", "time_mean"), 2.5, 1e-12);
    T_NEAR(json_get(j, "online", "max"), 3.0, 0.0);
    T_NEAR(json_get(j, "online", "value"), 3.0, 0.0);
    cJSON_Delete(j);
    metrics_free(m);
}

/* Warm-up 10 s: level 5 from 0 s, 1 from 20 s, end 30 s -> the measured
 * period holds 5 for 10 s and 1 for 10 s: mean 3, max 5. A gauge that goes
 * up and back down before the warm-up end, with the drop exactly at the
 * end, has mean 0 and max 0. */
static void test_metrics_gauge_warmup(void)
{
    Metrics *m = metrics_new(10 * TIMENS_S);
    uint32_t a = metrics_intern(m, "a", METRICS_GAUGE);
    uint32_t b = metrics_intern(m, "b", METRICS_GAUGE);
    uint32_t c = metrics_intern(m, "c", METRICS_GAUGE);
    metrics_add(m, a, 5, 0);
    metrics_add(m, b, 7, 5 * TIMENS_S);
    metrics_add(m, b, -7, 10 * TIMENS_S);
    metrics_add(m, c, 4, 2 * TIMENS_S);
    metrics_add(m, a, -4, 20 * TIMENS_S);
    cJSON *j = metrics_to_json(m, 30 * TIMENS_S);
    T_NEAR(json_get(j, "a", "time_mean"), 3.0, 1e-12);
    T_NEAR(json_get(j, "a", "max"), 5.0, 0.0);
    T_NEAR(json_get(j, "a", "value"), 1.0, 0.0);
    T_NEAR(json_get(j, "b", "time_mean"), 0.0, 0.0);
    T_NEAR(json_get(j, "b", "max"), 0.0, 0.0);
    T_NEAR(json_get(j, "c", "time_mean"), 4.0, 1e-12); /* unchanged since before warm-up */
    T_NEAR(json_get(j, "c", "max"), 4.0, 0.0);
    cJSON_Delete(j);
    metrics_free(m);
}

static void test_metrics_sample_known_values(void)
{
    Metrics *m = metrics_new(TIMENS_S);
    uint32_t id = metrics_intern(m, "login_s", METRICS_SAMPLE);
    metrics_observe(m, id, 1000.0, 0); /* before warm-up: excluded */
    /* 1..100 in a scrambled order (37 is prime to 100) */
    for (int i = 0; i < 100; i++)
        metrics_observe(m, id, (double)((i * 37) % 100 + 1), TIMENS_S + i);
    T_NEAR(metrics_value(m, id), 100.0, 0.0);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, id, &s));
    T_EQ_U64(s.count, 100);
    T_NEAR(s.mean, 50.5, 1e-12);
    T_NEAR(s.sd, 29.011491975882016, 1e-12);
    T_NEAR(s.min, 1.0, 0.0);
    T_NEAR(s.max, 100.0, 0.0);
    T_NEAR(s.p05, 5.95, 1e-12);
    T_NEAR(s.p25, 25.75, 1e-12);
    T_NEAR(s.p50, 50.5, 1e-12);
    T_NEAR(s.p75, 75.25, 1e-12);
    T_NEAR(s.p95, 95.05, 1e-12);
    T_NEAR(s.p99, 99.01, 1e-12);
    cJSON *j = metrics_to_json(m, 2 * TIMENS_S);
    T_NEAR(json_get(j, "login_s", "p99"), 99.01, 1e-12);
    T_NEAR(json_get(j, "login_s", "count"), 100.0, 0.0);
    cJSON_Delete(j);
    metrics_free(m);
}

static void test_metrics_summary_edge_cases(void)
{
    Metrics *m = metrics_new(0);
    uint32_t c = metrics_intern(m, "c", METRICS_COUNTER);
    uint32_t s = metrics_intern(m, "s", METRICS_SAMPLE);
    MetricsSummary out;
    T_FALSE(metrics_summary(m, c, &out));
    T_FALSE(metrics_summary(m, s, &out));
    metrics_observe(m, s, 4.25, 0);
    T_TRUE(metrics_summary(m, s, &out));
    T_NEAR(out.sd, 0.0, 0.0);
    T_NEAR(out.p05, 4.25, 0.0);
    T_NEAR(out.p99, 4.25, 0.0);
    metrics_observe(m, s, 0.25, 1); /* after a summary: sorted again */
    T_TRUE(metrics_summary(m, s, &out));
    T_NEAR(out.min, 0.25, 0.0);
    T_NEAR(out.p50, 2.25, 1e-15);
    metrics_free(m);
}

/* A fixed call sequence; names interned out of alphabetical order. */
static char *json_of_sequence(TimeNs end_ns)
{
    Metrics *m = metrics_new(TIMENS_S);
    uint32_t z = metrics_intern(m, "zeta", METRICS_SAMPLE);
    uint32_t g = metrics_intern(m, "mid", METRICS_GAUGE);
    uint32_t a = metrics_intern(m, "alpha", METRICS_COUNTER);
    metrics_intern(m, "empty", METRICS_SAMPLE);
    for (int i = 1; i <= 30; i++) {
        metrics_observe(m, z, 1.0 / i, i * TIMENS_S);
        metrics_add(m, g, i % 3 - 1, i * TIMENS_S);
        metrics_add(m, a, i, i * TIMENS_S);
    }
    cJSON *j = metrics_to_json(m, end_ns);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    metrics_free(m);
    return text;
}

static void test_metrics_json_sorted_and_deterministic(void)
{
    char *t1 = json_of_sequence(40 * TIMENS_S);
    char *t2 = json_of_sequence(40 * TIMENS_S);
    T_STR_EQ(t1, t2);
    const char *pa = strstr(t1, "\"alpha\""), *pe = strstr(t1, "\"empty\"");
    const char *pm = strstr(t1, "\"mid\""), *pz = strstr(t1, "\"zeta\"");
    T_TRUE(pa && pe && pm && pz && pa < pe && pe < pm && pm < pz);
    T_STR_CONTAINS(t1, "\"alpha\":{\"kind\":\"counter\",\"value\":465}");
    T_STR_CONTAINS(t1, "\"empty\":{\"kind\":\"sample\",\"count\":0,\"mean\":null,\"sd\":null");
    T_STR_CONTAINS(t1, "\"min\":0.0333333333,"); /* 1/30 rounded to 9 digits */
    T_FALSE(strstr(t1, "nan") || strstr(t1, "inf"));
    /* "mid" is at level 1 for 10 of the 39 s (or 29 s) after the warm-up. */
    T_STR_CONTAINS(t1, "\"mid\":{\"kind\":\"gauge\",\"value\":0,\"time_mean\":0.256410256,");
    cJSON_free(t1);
    cJSON_free(t2);
    char *t3 = json_of_sequence(30 * TIMENS_S);
    T_STR_CONTAINS(t3, "\"time_mean\":0.344827586,\"max\":1}");
    cJSON_free(t3);
    /* A run that ends at the warm-up end has no measured period. */
    Metrics *m = metrics_new(5 * TIMENS_S);
    metrics_add(m, metrics_intern(m, "g", METRICS_GAUGE), 2, 0);
    cJSON *j = metrics_to_json(m, 5 * TIMENS_S);
    char *t4 = cJSON_PrintUnformatted(j);
    T_STR_EQ(t4, "{\"g\":{\"kind\":\"gauge\",\"value\":2,\"time_mean\":null,\"max\":2}}");
    cJSON_free(t4);
    cJSON_Delete(j);
    metrics_free(m);
}

T_SUITE_MAIN("metrics", {"test_metrics_intern_ids", test_metrics_intern_ids},
             {"test_metrics_counter_excludes_warmup", test_metrics_counter_excludes_warmup},
             {"test_metrics_counter_large_is_exact", test_metrics_counter_large_is_exact},
             {"test_metrics_gauge_time_mean", test_metrics_gauge_time_mean},
             {"test_metrics_gauge_warmup", test_metrics_gauge_warmup},
             {"test_metrics_sample_known_values", test_metrics_sample_known_values},
             {"test_metrics_summary_edge_cases", test_metrics_summary_edge_cases},
             {"test_metrics_json_sorted_and_deterministic",
              test_metrics_json_sorted_and_deterministic})
