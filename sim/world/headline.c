/* headline: the table of results.json's headline numbers and the kinds of
 * the other results.json paths; see headline.h. */
#include "sim/world/headline.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "protocol/base/check.h"
#include "protocol/metric_table.h"
#include "sim/world/simmetric.h"

typedef struct HeadlineEntry {
    const char *key;     /* key under "headline" */
    HeadlineRange range; /* its range */
    const char *unit;    /* unit or "" */
    const char *label;   /* readable label */
    const char *trials;  /* denominator paths, or "" */
} HeadlineEntry;

#define HEADLINE_ENTRY_(key, range, unit, label, trials) {key, range, unit, label, trials},
static const HeadlineEntry headline_entries[] = {HEADLINE_TABLE(HEADLINE_ENTRY_)};
#undef HEADLINE_ENTRY_

int headline_count(void)
{
    return (int)G_N_ELEMENTS(headline_entries);
}

const char *headline_key(int i)
{
    CHECK(i >= 0 && i < headline_count(), "headline index %d", i);
    return headline_entries[i].key;
}

/* Fills info for range r; lo and hi follow from it (a score is MOS's). */
static void headline_info_set(HeadlineInfo *info, HeadlineRange r, const char *unit, const char *label)
{
    info->range = r;
    info->lo = r == HEADLINE_REAL ? -INFINITY : r == HEADLINE_SCORE ? 1 : 0;
    info->hi = r == HEADLINE_FRACTION ? 1 : r == HEADLINE_SCORE ? 5 : INFINITY;
    info->unit = unit;
    info->trials = "";
    info->label = g_strdup(label);
}

bool headline_find(const char *key, HeadlineInfo *info)
{
    for (size_t i = 0; i < G_N_ELEMENTS(headline_entries); i++) {
        const HeadlineEntry *e = &headline_entries[i];
        if (strcmp(e->key, key) != 0) continue;
        headline_info_set(info, e->range, e->unit, e->label);
        info->trials = e->trials;
        return true;
    }
    headline_info_set(info, HEADLINE_REAL, "", key);
    return false;
}

/* Looks for one metric name among the tables' concrete names. */
typedef struct HeadlineMetricFind {
    const char *name; /* wanted, borrowed */
    bool found;
    EnvMetricKind kind;
} HeadlineMetricFind;

static void headline_metric_visit(void *ctx, const char *name, EnvMetricKind kind)
{
    HeadlineMetricFind *f = ctx;
    if (!f->found && strcmp(name, f->name) == 0) {
        f->found = true;
        f->kind = kind;
    }
}

/* Kind of the metric called name: the protocol's table, then the
 * simulator's; false when neither has it. */
static bool headline_metric_kind(const char *name, bool *sample)
{
    HeadlineMetricFind f = {.name = name};
    metric_table_foreach(headline_metric_visit, &f);
    if (f.found) {
        *sample = f.kind == ENV_METRIC_SAMPLE;
        return true;
    }
    for (int id = 0; id < SIMMETRIC_COUNT; id++) {
        if (strcmp(simmetric_name((SimMetricId)id), name) != 0) continue;
        *sample = simmetric_kind((SimMetricId)id) == METRICS_SAMPLE;
        return true;
    }
    return false;
}

/* Unit of a metric by the naming rule of STYLE.md: the last dotted
 * component that ends in a unit ("login.time_s.open" -> s,
 * "cpu.charged_ns.client" -> ns, "relay.bandwidth_bps" -> bit/s). */
static const char *headline_name_unit(const char *name)
{
    static const struct {
        const char *suffix, *unit;
    } map[] = {{"_ms", "ms"}, {"_ns", "ns"}, {"_s", "s"}, {"_bps", "bit/s"}, {"_bytes", "bytes"}};
    char **parts = g_strsplit(name, ".", -1);
    const char *unit = "";
    for (guint n = g_strv_length(parts); n > 0 && !*unit; n--)
        for (size_t i = 0; i < G_N_ELEMENTS(map) && !*unit; i++)
            if (g_str_has_suffix(parts[n - 1], map[i].suffix)) unit = map[i].unit;
    g_strfreev(parts);
    return unit;
}

/* A metric name as words for a label: the unit suffix dropped (the unit
 * goes in parentheses), dots and underscores made spaces
 * ("login.time_s.open" -> "login time open"); owned. */
static char *headline_name_words(const char *name)
{
    static const char *const units[] = {"_ms", "_ns", "_s", "_bps", "_bytes"};
    char **parts = g_strsplit(name, ".", -1);
    for (guint i = 0; parts[i]; i++)
        for (size_t u = 0; u < G_N_ELEMENTS(units); u++)
            if (g_str_has_suffix(parts[i], units[u]) && strlen(parts[i]) > strlen(units[u])) {
                parts[i][strlen(parts[i]) - strlen(units[u])] = '\0';
                break;
            }
    char *words = g_strjoinv(" ", parts);
    g_strfreev(parts);
    g_strdelimit(words, "_", ' ');
    return words;
}

/* Readable name of a statistic of a sample or gauge. */
static const char *headline_field_label(const char *field)
{
    static const struct {
        const char *field, *label;
    } map[] = {{"mean", "mean"},      {"sd", "standard deviation"}, {"min", "minimum"},
               {"max", "maximum"},    {"p05", "5th percentile"},    {"p25", "25th percentile"},
               {"p50", "median"},     {"p75", "75th percentile"},   {"p95", "95th percentile"},
               {"p99", "99th percentile"}, {"count", "observations"}, {"value", NULL},
               {"time_mean", "time average"}};
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (strcmp(map[i].field, field) == 0) return map[i].label;
    return field;
}

/* "metrics.<name>.<field>". */
static void headline_metric_path(const char *rest, HeadlineInfo *info, const char *path)
{
    const char *dot = strrchr(rest, '.');
    char *name = dot ? g_strndup(rest, (gsize)(dot - rest)) : NULL;
    bool sample = false;
    if (!name || !headline_metric_kind(name, &sample)) {
        headline_info_set(info, HEADLINE_REAL, "", path);
        g_free(name);
        return;
    }
    const char *field = dot + 1, *flabel = headline_field_label(field);
    char *words = headline_name_words(name);
    char *label = flabel ? g_strdup_printf("%s, %s", words, flabel) : g_strdup(words);
    g_free(words);
    if (!sample || strcmp(field, "count") == 0)
        headline_info_set(info, strcmp(field, "time_mean") == 0 ? HEADLINE_NONNEG : HEADLINE_COUNT,
                          sample ? "" : headline_name_unit(name), label);
    else
        headline_info_set(info, HEADLINE_NONNEG, headline_name_unit(name), label);
    g_free(label);
    g_free(name);
}

void headline_path_info(const char *path, HeadlineInfo *info)
{
    memset(info, 0, sizeof *info);
    if (g_str_has_prefix(path, "headline.")) {
        headline_find(path + strlen("headline."), info);
    } else if (g_str_has_prefix(path, "metrics.")) {
        headline_metric_path(path + strlen("metrics."), info, path);
    } else if (g_str_has_prefix(path, "supernode_load.supernodes_by_clients.")) {
        char *label = g_strdup_printf("supernodes holding %s clients",
                                      path + strlen("supernode_load.supernodes_by_clients."));
        headline_info_set(info, HEADLINE_COUNT, "", label);
        g_free(label);
    } else if (g_str_has_prefix(path, "supernode_load.") || g_str_has_prefix(path, "nat_detection.")) {
        headline_info_set(info, HEADLINE_COUNT, "", path);
    } else if (strcmp(path, "simulated_s") == 0) {
        headline_info_set(info, HEADLINE_NONNEG, "s", "simulated time");
    } else if (g_str_has_prefix(path, "engine.")) {
        const char *k = path + strlen("engine.");
        headline_info_set(info, strcmp(k, "events") == 0 ? HEADLINE_COUNT : HEADLINE_NONNEG,
                          g_str_has_suffix(k, "_kib")     ? "KiB"
                          : g_str_has_suffix(k, "_per_s") ? "events/s"
                                                          : headline_name_unit(k),
                          path);
    } else {
        headline_info_set(info, HEADLINE_REAL, "", path);
    }
}

void headline_info_clear(HeadlineInfo *info)
{
    g_free(info->label);
    memset(info, 0, sizeof *info);
}
