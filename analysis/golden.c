/* golden: regression check against a golden file; see golden.h.
 *
 * Layer: analysis (sim/world's runner and scenario, GLib, cJSON). How it
 * works: the golden file is parsed and every key checked before anything
 * runs; the run goes through runner_run() into a temporary directory; the
 * comparison walks the golden metrics in file order, then lists headline
 * metrics the golden file lacks. Values are compared after rounding both
 * to 9 significant digits (results.json's precision), so a tolerance of 0
 * means "the same number as written in results.json". The golden file is
 * written with g_file_set_contents() (temporary file, then rename), so an
 * interrupted update never leaves half a file.
 */
#include "analysis/golden.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "sim/world/headline.h"
#include "protocol/metric_table.h"
#include "sim/world/jsonin.h"
#include "sim/world/runner.h"
#include "sim/world/scenario.h"

G_DEFINE_QUARK(skysim-check-error-quark, golden_error)

typedef struct GoldenEntry {
    char *metric;   /* headline key; owned */
    double value;   /* golden value (unit of the metric); NaN when null */
    bool null;      /* the golden value is null: the metric could not be computed */
    double abs_tol; /* allowed absolute difference (unit of the metric), >= 0 */
    double rel_tol; /* allowed difference as a fraction of |value|, >= 0 */
    double sd;      /* multi-seed: sample standard deviation of the runs; NaN when n < 2 */
    size_t n;       /* multi-seed: runs with a number (value is their mean) */
} GoldenEntry;

struct GoldenFile {
    char *scenario;      /* scenario name; owned */
    char **overrides;    /* "path=value" overrides of the golden run, NULL-terminated; owned */
    GArray *entries;     /* GoldenEntry, in file order; owned */
    size_t seeds;        /* golden runs of a multi-seed file; 0: single-seed */
    uint64_t first_seed; /* multi-seed: seed of the first golden run */
    double alpha;        /* multi-seed: per-metric level of Welch's test, (0, 1) */
};

/* What the golden file says it is, written into every file we save. */
#define GOLDEN_COMMENT                                                                              \
    "Golden headline metrics for simcheck (analysis/README.md, \"Regression checks\"): the run "  \
    "of the scenario with these overrides must stay within each tolerance. Rewritten only by "    \
    "SKYSIM_UPDATE_GOLDEN=1 ctest -R golden; review the diff in the commit that changes behaviour."

#define GOLDEN_COMMENT_SEEDS                                                                        \
    "Multi-seed golden headline metrics for simcheck --seeds N (analysis/README.md, \"Regression " \
    "checks\"): per metric the mean, sample standard deviation (sd) and n (runs with a number) "    \
    "over seeds first_seed to first_seed + seeds - 1 of the scenario with these overrides. A "      \
    "metric fails when its mean over N new seeds moved past max(abs_tol, rel_tol * |mean|) and "    \
    "Welch's t test rejects at alpha (per metric). Rewritten only by SKYSIM_UPDATE_GOLDEN=1 ctest " \
    "-R golden; review the diff in the commit that changes behaviour."

/* v rounded to 9 significant digits, as results.json writes numbers. */
static double golden_round9(double v)
{
    if (!isfinite(v)) return v;
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    return g_ascii_strtod(buf, NULL);
}

/* ------------------------------------------------------------- golden file */

static GoldenFile *golden_file_new(const char *scenario)
{
    GoldenFile *g = g_new0(GoldenFile, 1);
    g->scenario = g_strdup(scenario);
    g->overrides = g_new0(char *, 1);
    g->entries = g_array_new(FALSE, TRUE, sizeof(GoldenEntry));
    g->alpha = GOLDEN_ALPHA_DEFAULT;
    return g;
}

void golden_file_free(GoldenFile *g)
{
    if (!g) return;
    for (guint i = 0; i < g->entries->len; i++) g_free(g_array_index(g->entries, GoldenEntry, i).metric);
    g_array_free(g->entries, TRUE);
    g_strfreev(g->overrides);
    g_free(g->scenario);
    g_free(g);
}

const char *golden_file_scenario(const GoldenFile *g) { return g->scenario; }
const char *const *golden_file_overrides(const GoldenFile *g) { return (const char *const *)g->overrides; }
size_t golden_file_count(const GoldenFile *g) { return g->entries->len; }
size_t golden_file_seeds(const GoldenFile *g) { return g->seeds; }
uint64_t golden_file_first_seed(const GoldenFile *g) { return g->first_seed; }
double golden_file_alpha(const GoldenFile *g) { return g->alpha; }

static const GoldenEntry *golden_file_find(const GoldenFile *g, const char *metric)
{
    for (guint i = 0; i < g->entries->len; i++) {
        const GoldenEntry *e = &g_array_index(g->entries, GoldenEntry, i);
        if (strcmp(e->metric, metric) == 0) return e;
    }
    return NULL;
}

bool golden_file_tolerance(const GoldenFile *g, const char *metric, double *abs_tol, double *rel_tol)
{
    const GoldenEntry *e = golden_file_find(g, metric);
    if (e) {
        *abs_tol = e->abs_tol;
        *rel_tol = e->rel_tol;
    }
    return e != NULL;
}

/* Golden files report every input error with one code. */
#define golden_jsonin ((JsoninErr){GOLDEN_ERROR, GOLDEN_ERROR_INPUT})

/* Sets err to "origin: path: expected ...; found ..." and returns false. */
G_GNUC_PRINTF(4, 5)
static bool golden_input_error(GError **err, const char *origin, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    jsonin_fail(err, golden_jsonin, origin, path, "%s", msg);
    g_free(msg);
    return false;
}

static bool golden_expected(GError **err, const char *origin, const char *path, const char *what,
                           const cJSON *found)
{
    return jsonin_expect(err, golden_jsonin, origin, path, what, found);
}

/* Every key of obj is one of keys (NULL-terminated). */
static bool golden_keys_known(const cJSON *obj, const char *const *keys, const char *origin,
                             const char *path, GError **err)
{
    const cJSON *it = jsonin_first_unknown(obj, keys);
    if (!it) return true;
    char *msg = jsonin_unknown_key(it->string, keys, JSONIN_KEYS_AMONG);
    golden_input_error(err, origin, path, "%s", msg);
    g_free(msg);
    return false;
}

/* A tolerance key of an entry: absent is 0, else a number >= 0. */
static bool golden_parse_tol(const cJSON *entry, const char *key, double *out, const char *origin,
                            const char *path, GError **err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, key);
    *out = 0;
    if (!v) return true;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && isfinite(v->valuedouble)) {
        *out = v->valuedouble;
        return true;
    }
    char *p = g_strdup_printf("%s.%s", path, key);
    golden_expected(err, origin, p, "a number >= 0", v);
    g_free(p);
    return false;
}

/* One entry of "metrics": {"value": number|null, "abs_tol": x, "rel_tol": y}. */
static bool golden_parse_entry(GoldenFile *g, const cJSON *it, const char *origin, GError **err)
{
    static const char *const keys[] = {"value", "abs_tol", "rel_tol", NULL};
    char *path = g_strdup_printf("$.metrics.%s", it->string);
    GoldenEntry e = {.metric = it->string};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "value");
    char *vpath = g_strdup_printf("%s.value", path);
    bool ok = cJSON_IsObject(it) ? true
                                 : golden_expected(err, origin, path, "an object {\"value\", \"abs_tol\", \"rel_tol\"}", it);
    ok = ok && golden_keys_known(it, keys, origin, path, err);
    if (ok && !(cJSON_IsNull(v) || (cJSON_IsNumber(v) && isfinite(v->valuedouble))))
        ok = golden_expected(err, origin, vpath, "a number or null", v);
    ok = ok && golden_parse_tol(it, "abs_tol", &e.abs_tol, origin, path, err) &&
         golden_parse_tol(it, "rel_tol", &e.rel_tol, origin, path, err);
    if (ok && golden_file_find(g, it->string))
        ok = golden_input_error(err, origin, path, "expected each metric once; found it again");
    if (ok) {
        e.metric = g_strdup(it->string);
        e.null = cJSON_IsNull(v);
        e.value = e.null ? NAN : golden_round9(v->valuedouble);
        g_array_append_val(g->entries, e);
    }
    g_free(vpath);
    g_free(path);
    return ok;
}

/* The "sd" and "n" of a multi-seed entry: sd null or >= 0, n an integer
 * from 0 to the file's seeds; sd null exactly when n < 2. */
static bool golden_parse_spread(const GoldenFile *g, const cJSON *it, GoldenEntry *e,
                                const char *origin, const char *path, GError **err)
{
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(it, "sd");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "n");
    char *p = g_strdup_printf("%s.n", path);
    bool ok = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble <= (double)g->seeds &&
              n->valuedouble == floor(n->valuedouble);
    if (!ok) {
        char *what = g_strdup_printf("an integer from 0 to %zu (the golden runs with a number)", g->seeds);
        golden_expected(err, origin, p, what, n);
        g_free(what);
    }
    if (ok) e->n = (size_t)n->valuedouble;
    bool want_sd = ok && e->n >= 2;
    g_free(p);
    p = g_strdup_printf("%s.sd", path);
    if (ok && want_sd && !(cJSON_IsNumber(sd) && sd->valuedouble >= 0 && isfinite(sd->valuedouble)))
        ok = golden_expected(err, origin, p, "a number >= 0 (n >= 2)", sd);
    else if (ok && !want_sd && !cJSON_IsNull(sd))
        ok = golden_expected(err, origin, p, "null (n < 2)", sd);
    e->sd = ok && want_sd ? golden_round9(sd->valuedouble) : NAN;
    g_free(p);
    return ok;
}

/* One entry of a multi-seed "metrics": {"mean", "sd", "n", "abs_tol", "rel_tol"}. */
static bool golden_parse_entry_seeds(GoldenFile *g, const cJSON *it, const char *origin, GError **err)
{
    static const char *const keys[] = {"mean", "sd", "n", "abs_tol", "rel_tol", NULL};
    char *path = g_strdup_printf("$.metrics.%s", it->string);
    GoldenEntry e = {.metric = it->string};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "mean");
    char *vpath = g_strdup_printf("%s.mean", path);
    bool ok = cJSON_IsObject(it) ? true
                                 : golden_expected(err, origin, path,
                                                   "an object {\"mean\", \"sd\", \"n\", \"abs_tol\", \"rel_tol\"}", it);
    ok = ok && golden_keys_known(it, keys, origin, path, err);
    ok = ok && golden_parse_spread(g, it, &e, origin, path, err);
    if (ok && e.n == 0 && !cJSON_IsNull(v))
        ok = golden_expected(err, origin, vpath, "null (n = 0)", v);
    else if (ok && e.n > 0 && !(cJSON_IsNumber(v) && isfinite(v->valuedouble)))
        ok = golden_expected(err, origin, vpath, "a number (n > 0)", v);
    ok = ok && golden_parse_tol(it, "abs_tol", &e.abs_tol, origin, path, err) &&
         golden_parse_tol(it, "rel_tol", &e.rel_tol, origin, path, err);
    if (ok && golden_file_find(g, it->string))
        ok = golden_input_error(err, origin, path, "expected each metric once; found it again");
    if (ok) {
        e.metric = g_strdup(it->string);
        e.null = e.n == 0;
        e.value = e.null ? NAN : golden_round9(v->valuedouble);
        g_array_append_val(g->entries, e);
    }
    g_free(vpath);
    g_free(path);
    return ok;
}

/* "seeds", "first_seed" and "alpha" of a multi-seed file (seeds present). */
static bool golden_parse_seeds(GoldenFile *g, const cJSON *root, const char *origin, GError **err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "seeds");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(root, "first_seed");
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(root, "alpha");
    if (!n) return !first && !alpha ? true
                                    : golden_input_error(err, origin, "$.seeds",
                                                         "expected the number of golden runs (first_seed and "
                                                         "alpha belong to a multi-seed file); found nothing");
    if (!cJSON_IsNumber(n) || n->valuedouble < 2 || n->valuedouble > 10000 ||
        n->valuedouble != floor(n->valuedouble))
        return golden_expected(err, origin, "$.seeds", "an integer from 2 to 10000", n);
    if (!cJSON_IsNumber(first) || first->valuedouble < 0 || first->valuedouble > 9007199254740991.0 ||
        first->valuedouble != floor(first->valuedouble))
        return golden_expected(err, origin, "$.first_seed", "an integer seed >= 0", first);
    if (alpha && !(cJSON_IsNumber(alpha) && alpha->valuedouble > 0 && alpha->valuedouble < 1))
        return golden_expected(err, origin, "$.alpha", "a number in (0, 1)", alpha);
    g->seeds = (size_t)n->valuedouble;
    g->first_seed = (uint64_t)first->valuedouble;
    g->alpha = alpha ? alpha->valuedouble : GOLDEN_ALPHA_DEFAULT;
    return true;
}

/* "overrides": an array of "path=value" strings. */
static bool golden_parse_overrides(GoldenFile *g, const cJSON *ov, const char *origin, GError **err)
{
    if (!ov) return true;
    if (!cJSON_IsArray(ov)) return golden_expected(err, origin, "$.overrides", "an array of \"path=value\" strings", ov);
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free); /* pdata handed over on success */
    int i = 0;
    for (const cJSON *it = ov->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !strchr(it->valuestring, '=')) {
            char *p = g_strdup_printf("$.overrides[%d]", i);
            golden_expected(err, origin, p, "a string \"path=value\"", it);
            g_free(p);
            g_ptr_array_free(a, TRUE);
            return false;
        }
        g_ptr_array_add(a, g_strdup(it->valuestring));
    }
    g_ptr_array_add(a, NULL);
    g_strfreev(g->overrides);
    g->overrides = (char **)g_ptr_array_free(a, FALSE);
    return true;
}

/* The top level: scenario, comment, overrides, metrics. */
static bool golden_parse_root(GoldenFile *g, const cJSON *root, const char *origin, GError **err)
{
    static const char *const keys[] = {"scenario", "comment",    "overrides", "seeds",
                                       "first_seed", "alpha", "metrics",   NULL};
    if (!cJSON_IsObject(root)) return golden_expected(err, origin, "$", "an object", root);
    if (!golden_keys_known(root, keys, origin, "$", err)) return false;
    const cJSON *scn = cJSON_GetObjectItemCaseSensitive(root, "scenario");
    const cJSON *com = cJSON_GetObjectItemCaseSensitive(root, "comment");
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    if (!cJSON_IsString(scn) || !*scn->valuestring)
        return golden_expected(err, origin, "$.scenario", "the scenario name (a string)", scn);
    if (com && !cJSON_IsString(com)) return golden_expected(err, origin, "$.comment", "a string", com);
    if (!golden_parse_overrides(g, cJSON_GetObjectItemCaseSensitive(root, "overrides"), origin, err))
        return false;
    if (!golden_parse_seeds(g, root, origin, err)) return false;
    if (!cJSON_IsObject(met))
        return golden_expected(err, origin, "$.metrics", "an object of metrics", met);
    for (const cJSON *it = met->child; it; it = it->next)
        if (!(g->seeds ? golden_parse_entry_seeds(g, it, origin, err) : golden_parse_entry(g, it, origin, err)))
            return false;
    g_free(g->scenario);
    g->scenario = g_strdup(scn->valuestring);
    return true;
}

GoldenFile *golden_file_parse(const char *text, const char *origin, GError **err)
{
    cJSON *root = jsonin_parse(text, origin, true, golden_jsonin, err);
    if (!root) return NULL;
    GoldenFile *g = golden_file_new("");
    if (!golden_parse_root(g, root, origin, err)) g_clear_pointer(&g, golden_file_free);
    cJSON_Delete(root);
    return g;
}

GoldenFile *golden_file_load(const char *path, GError **err)
{
    char *text = jsonin_read_file(path, 0, "", golden_jsonin, NULL, err);
    if (!text) return NULL;
    GoldenFile *g = golden_file_parse(text, path, err);
    g_free(text);
    return g;
}

bool golden_metric_is_fraction(const char *metric)
{
    /* The headline table says which keys are fractions (search_success_online
     * has no telling suffix); a results.json path is looked up the same way. */
    HeadlineInfo info;
    if (strchr(metric, '.'))
        headline_path_info(metric, &info);
    else
        (void)headline_find(metric, &info);
    bool fraction = info.range == HEADLINE_FRACTION;
    headline_info_clear(&info);
    return fraction;
}

void golden_tolerance_default(const char *metric, double *abs_tol, double *rel_tol)
{
    bool fraction = golden_metric_is_fraction(metric);
    *abs_tol = fraction ? 0.02 : 0.0;
    *rel_tol = fraction ? 0.0 : 0.05;
}

void golden_tolerance_default_seeds(const char *metric, double *abs_tol, double *rel_tol)
{
    bool fraction = golden_metric_is_fraction(metric);
    *abs_tol = fraction ? 0.02 : 0.0;
    *rel_tol = fraction ? 0.0 : 0.01;
}

/* The values of metric over n headlines: NaN where null, missing or not a
 * number; summarised into *out. Returns false when no headline has the key. */
static bool golden_metric_summary(const char *metric, const cJSON *const *headlines, size_t n,
                                  StatsSummary *out)
{
    double *x = g_new(double, n ? n : 1);
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(headlines[i], metric);
        seen = seen || cJSON_IsNumber(v) || cJSON_IsNull(v);
        x[i] = cJSON_IsNumber(v) ? golden_round9(v->valuedouble) : NAN;
    }
    stats_summarize(x, n, out);
    g_free(x);
    return seen;
}

GoldenFile *golden_file_from_seeds(const GoldenFile *old, const char *scenario,
                                   const char *const *overrides, uint64_t first_seed,
                                   const cJSON *const *headlines, size_t n)
{
    GoldenFile *g = golden_file_new(scenario);
    g_strfreev(g->overrides);
    g->overrides = g_strdupv((char **)overrides);
    if (!g->overrides) g->overrides = g_new0(char *, 1);
    g->seeds = n;
    g->first_seed = first_seed;
    g->alpha = old && old->seeds ? old->alpha : GOLDEN_ALPHA_DEFAULT;
    for (const cJSON *it = n ? headlines[0]->child : NULL; it; it = it->next) {
        if (!cJSON_IsNumber(it) && !cJSON_IsNull(it)) continue;
        StatsSummary sum;
        golden_metric_summary(it->string, headlines, n, &sum);
        GoldenEntry e = {.metric = g_strdup(it->string), .null = sum.n == 0, .n = sum.n,
                         .value = golden_round9(sum.mean), .sd = golden_round9(sum.sd)};
        if (!old || !old->seeds || !golden_file_tolerance(old, it->string, &e.abs_tol, &e.rel_tol))
            golden_tolerance_default_seeds(it->string, &e.abs_tol, &e.rel_tol);
        g_array_append_val(g->entries, e);
    }
    return g;
}

GoldenFile *golden_file_from_run(const GoldenFile *old, const char *scenario,
                                   const char *const *overrides, const cJSON *headline)
{
    GoldenFile *g = golden_file_new(scenario);
    g_strfreev(g->overrides);
    g->overrides = g_strdupv((char **)overrides);
    if (!g->overrides) g->overrides = g_new0(char *, 1);
    for (const cJSON *it = headline ? headline->child : NULL; it; it = it->next) {
        if (!cJSON_IsNumber(it) && !cJSON_IsNull(it)) continue;
        GoldenEntry e = {.metric = g_strdup(it->string), .null = cJSON_IsNull(it)};
        e.value = e.null ? NAN : golden_round9(it->valuedouble);
        if (!old || !golden_file_tolerance(old, it->string, &e.abs_tol, &e.rel_tol))
            golden_tolerance_default(it->string, &e.abs_tol, &e.rel_tol);
        g_array_append_val(g->entries, e);
    }
    return g;
}

char *golden_file_to_text(const GoldenFile *g)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "scenario", g->scenario);
    cJSON_AddStringToObject(root, "comment", g->seeds ? GOLDEN_COMMENT_SEEDS : GOLDEN_COMMENT);
    cJSON_AddItemToObject(root, "overrides",
                          cJSON_CreateStringArray((const char *const *)g->overrides,
                                                  (int)g_strv_length(g->overrides)));
    if (g->seeds) {
        cJSON_AddNumberToObject(root, "seeds", (double)g->seeds);
        cJSON_AddNumberToObject(root, "first_seed", (double)g->first_seed);
        cJSON_AddNumberToObject(root, "alpha", g->alpha);
    }
    cJSON *m = cJSON_AddObjectToObject(root, "metrics");
    for (guint i = 0; i < g->entries->len; i++) {
        const GoldenEntry *e = &g_array_index(g->entries, GoldenEntry, i);
        cJSON *o = cJSON_AddObjectToObject(m, e->metric);
        const char *vkey = g->seeds ? "mean" : "value";
        if (e->null) cJSON_AddNullToObject(o, vkey);
        else cJSON_AddNumberToObject(o, vkey, golden_round9(e->value));
        if (g->seeds && isnan(e->sd)) cJSON_AddNullToObject(o, "sd");
        else if (g->seeds) cJSON_AddNumberToObject(o, "sd", golden_round9(e->sd));
        if (g->seeds) cJSON_AddNumberToObject(o, "n", (double)e->n);
        cJSON_AddNumberToObject(o, "abs_tol", e->abs_tol);
        cJSON_AddNumberToObject(o, "rel_tol", e->rel_tol);
    }
    char *text = cJSON_Print(root);
    char *out = g_strconcat(text, "\n", NULL);
    cJSON_free(text);
    cJSON_Delete(root);
    return out;
}

bool golden_file_save(const GoldenFile *g, const char *path, GError **err)
{
    char *text = golden_file_to_text(g);
    GError *e = NULL;
    bool ok = g_file_set_contents(path, text, -1, &e);
    if (!ok) {
        g_set_error(err, GOLDEN_ERROR, GOLDEN_ERROR_INTERNAL, "%s", e->message);
        g_error_free(e);
    }
    g_free(text);
    return ok;
}

/* The path part of "path=value". */
static size_t golden_override_key_len(const char *set)
{
    const char *eq = strchr(set, '=');
    return eq ? (size_t)(eq - set) : strlen(set);
}

char **golden_overrides_merge(const GoldenFile *g, const char *const *sets)
{
    GPtrArray *a = g_ptr_array_new();
    for (char **o = g ? g->overrides : NULL; o && *o; o++) g_ptr_array_add(a, g_strdup(*o));
    for (const char *const *s = sets; s && *s; s++) {
        size_t klen = golden_override_key_len(*s);
        bool replaced = false;
        for (guint i = 0; i < a->len && !replaced; i++) {
            char *cur = g_ptr_array_index(a, i);
            if (golden_override_key_len(cur) != klen || strncmp(cur, *s, klen) != 0) continue;
            g_free(cur);
            g_ptr_array_index(a, i) = g_strdup(*s);
            replaced = true;
        }
        if (!replaced) g_ptr_array_add(a, g_strdup(*s));
    }
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

/* -------------------------------------------------------------- comparing */

/* The row of golden entry e against the headline item v (may be NULL). */
static GoldenRow golden_row(const GoldenEntry *e, const cJSON *v)
{
    GoldenRow r = {.metric = g_strdup(e->metric), .golden = e->value, .golden_null = e->null,
                  .now = NAN, .abs_tol = e->abs_tol, .rel_tol = e->rel_tol};
    r.allowed = e->null ? e->abs_tol : MAX(e->abs_tol, e->rel_tol * fabs(e->value));
    r.now_missing = !cJSON_IsNumber(v) && !cJSON_IsNull(v);
    if (cJSON_IsNumber(v)) r.now = golden_round9(v->valuedouble);
    bool pass;
    if (r.now_missing) pass = false;
    else if (e->null || isnan(r.now)) pass = e->null && isnan(r.now);
    else pass = fabs(r.now - r.golden) <= r.allowed;
    r.status = pass ? GOLDEN_STATUS_PASS : GOLDEN_STATUS_FAIL;
    return r;
}

void golden_compare(const GoldenFile *g, const cJSON *headline, GoldenReport *rep)
{
    *rep = (GoldenReport){.rows = g_array_new(FALSE, TRUE, sizeof(GoldenRow))};
    for (guint i = 0; i < g->entries->len; i++) {
        const GoldenEntry *e = &g_array_index(g->entries, GoldenEntry, i);
        GoldenRow r = golden_row(e, cJSON_GetObjectItemCaseSensitive(headline, e->metric));
        rep->failed += r.status == GOLDEN_STATUS_FAIL;
        g_array_append_val(rep->rows, r);
    }
    for (const cJSON *it = headline ? headline->child : NULL; it; it = it->next) {
        if ((!cJSON_IsNumber(it) && !cJSON_IsNull(it)) || golden_file_find(g, it->string)) continue;
        GoldenRow r = {.metric = g_strdup(it->string), .golden = NAN, .status = GOLDEN_STATUS_NEW,
                      .now = cJSON_IsNumber(it) ? golden_round9(it->valuedouble) : NAN};
        g_array_append_val(rep->rows, r);
    }
}

/* The row of multi-seed golden entry e against the runs now (summary now;
 * missing: no run has the key). */
static GoldenRow golden_row_seeds(const GoldenFile *g, const GoldenEntry *e, const StatsSummary *now,
                                  bool missing)
{
    GoldenRow r = {.metric = g_strdup(e->metric), .golden = e->value, .golden_null = e->null,
                   .golden_sd = e->sd, .golden_n = e->n, .now = golden_round9(now->mean),
                   .now_sd = now->sd, .now_n = now->n, .now_missing = missing,
                   .abs_tol = e->abs_tol, .rel_tol = e->rel_tol, .p = NAN};
    r.allowed = e->null ? e->abs_tol : MAX(e->abs_tol, e->rel_tol * fabs(e->value));
    bool pass;
    if (missing) pass = false;
    else if (e->n == 0 || now->n == 0) /* always null before: stays so; never null: gets a number */
        pass = e->n == 0 ? now->n == 0 : e->n < g->seeds;
    else if (fabs(r.now - r.golden) <= r.allowed) pass = true;
    else {
        StatsWelch w;
        bool tested = stats_welch(e->value, e->sd, e->n, r.now, now->sd, now->n, &w);
        r.p = tested ? w.p : e->n >= 2 && now->n >= 2 ? 0 : NAN; /* both constant: certain */
        pass = tested && w.p >= g->alpha;
    }
    r.status = pass ? GOLDEN_STATUS_PASS : GOLDEN_STATUS_FAIL;
    return r;
}

void golden_compare_seeds(const GoldenFile *g, const cJSON *const *headlines, size_t n,
                          GoldenReport *rep)
{
    *rep = (GoldenReport){.rows = g_array_new(FALSE, TRUE, sizeof(GoldenRow))};
    rep->seeds = n;
    rep->golden_seeds = g->seeds;
    rep->alpha = g->alpha;
    for (guint i = 0; i < g->entries->len; i++) {
        const GoldenEntry *e = &g_array_index(g->entries, GoldenEntry, i);
        StatsSummary sum;
        bool seen = golden_metric_summary(e->metric, headlines, n, &sum);
        GoldenRow r = golden_row_seeds(g, e, &sum, !seen);
        rep->failed += r.status == GOLDEN_STATUS_FAIL;
        g_array_append_val(rep->rows, r);
    }
    for (const cJSON *it = n ? headlines[0]->child : NULL; it; it = it->next) {
        if ((!cJSON_IsNumber(it) && !cJSON_IsNull(it)) || golden_file_find(g, it->string)) continue;
        StatsSummary sum;
        golden_metric_summary(it->string, headlines, n, &sum);
        GoldenRow r = {.metric = g_strdup(it->string), .golden = NAN, .status = GOLDEN_STATUS_NEW,
                       .now = golden_round9(sum.mean), .now_sd = sum.sd, .now_n = sum.n, .p = NAN,
                       .golden_sd = NAN};
        g_array_append_val(rep->rows, r);
    }
}

void golden_report_clear(GoldenReport *rep)
{
    for (guint i = 0; rep->rows && i < rep->rows->len; i++) g_free(g_array_index(rep->rows, GoldenRow, i).metric);
    if (rep->rows) g_array_free(rep->rows, TRUE);
    *rep = (GoldenReport){.rows = NULL};
}

/* The cells of one row: golden, now, difference, tolerance, status; owned. */
static void golden_row_cells(const GoldenRow *r, char *cell[5])
{
    bool g_num = r->status != GOLDEN_STATUS_NEW && !r->golden_null;
    cell[0] = r->status == GOLDEN_STATUS_NEW ? g_strdup("-")
              : r->golden_null              ? g_strdup("null")
                                            : g_strdup_printf("%.6g", r->golden);
    cell[1] = r->now_missing ? g_strdup("missing") : isnan(r->now) ? g_strdup("null") : g_strdup_printf("%.6g", r->now);
    if (g_num && !isnan(r->now) && r->golden != 0)
        cell[2] = g_strdup_printf("%+.4g (%+.1f%%)", r->now - r->golden, 100 * (r->now - r->golden) / fabs(r->golden));
    else if (g_num && !isnan(r->now))
        cell[2] = g_strdup_printf("%+.4g", r->now - r->golden);
    else
        cell[2] = g_strdup("-");
    if (r->status == GOLDEN_STATUS_NEW)
        cell[3] = g_strdup("-");
    else if (r->allowed == 0)
        cell[3] = g_strdup("exact");
    else if (r->rel_tol * fabs(r->golden) >= r->abs_tol)
        cell[3] = g_strdup_printf("±%.4g (%g%%)", r->allowed, 100 * r->rel_tol);
    else
        cell[3] = g_strdup_printf("±%.4g", r->allowed);
    cell[4] = g_strdup(r->status == GOLDEN_STATUS_PASS ? "PASS" : r->status == GOLDEN_STATUS_FAIL ? "FAIL" : "new (not checked)");
}

/* "mean ± sd (n)" of a multi-seed cell; owned. */
static char *golden_mean_cell(double mean, double sd, size_t n, bool missing)
{
    if (missing) return g_strdup("missing");
    if (n == 0) return g_strdup("null (n=0)");
    if (isnan(sd)) return g_strdup_printf("%.6g (n=%zu)", mean, n);
    return g_strdup_printf("%.6g ± %.3g (n=%zu)", mean, sd, n);
}

/* The cells of one multi-seed row: golden, now, difference, tolerance, p,
 * status; owned. */
static void golden_row_cells_seeds(const GoldenRow *r, char *cell[6])
{
    char *single[5];
    GoldenRow one = *r;
    one.now_missing = r->now_missing || r->now_n == 0;
    golden_row_cells(&one, single);
    g_free(single[0]);
    g_free(single[1]);
    cell[0] = r->status == GOLDEN_STATUS_NEW ? g_strdup("-")
                                             : golden_mean_cell(r->golden, r->golden_sd, r->golden_n, false);
    cell[1] = golden_mean_cell(r->now, r->now_sd, r->now_n, r->now_missing);
    cell[2] = single[2];
    cell[3] = single[3];
    cell[4] = isnan(r->p) ? g_strdup("-") : r->p < 1e-6 ? g_strdup("<1e-06") : g_strdup_printf("%.2g", r->p);
    cell[5] = single[4];
}

/* Display width of a UTF-8 cell (the ± sign counts as one column). */
static int golden_width(const char *s)
{
    return (int)g_utf8_strlen(s, -1);
}

static void golden_pad(GString *s, const char *cell, int width, bool right)
{
    int pad = width - golden_width(cell);
    if (right) for (int i = 0; i < pad; i++) g_string_append_c(s, ' ');
    g_string_append(s, cell);
    if (!right) for (int i = 0; i < pad; i++) g_string_append_c(s, ' ');
}

/* The verdict line(s) of a multi-seed report. */
static void golden_verdict_seeds(GString *s, const GoldenReport *rep, size_t checked)
{
    g_string_append_printf(s,
                           "%zu seeds now against %zu golden seeds; a metric fails when its mean moved "
                           "past the tolerance and Welch's t test gives p < %g (per metric; Bonferroni: "
                           "an unchanged program fails some metric with probability <= %.3g)\n",
                           rep->seeds, rep->golden_seeds, rep->alpha, MIN(1.0, (double)checked * rep->alpha));
    if (rep->failed)
        g_string_append_printf(s, "FAIL: %zu of %zu metrics differ from the golden runs\n", rep->failed, checked);
    else
        g_string_append_printf(s, "PASS: %zu metrics agree with the golden runs\n", checked);
}

char *golden_report_table(const GoldenReport *rep)
{
    static const char *const head1[6] = {"metric", "golden", "now", "difference", "tolerance", "status"};
    static const char *const headn[7] = {"metric", "golden mean ± sd (n)", "now mean ± sd (n)", "difference",
                                         "tolerance", "p", "status"};
    const int nc = rep->seeds ? 7 : 6;
    const char *const *head = rep->seeds ? headn : head1;
    guint n = rep->rows ? rep->rows->len : 0;
    char **cells = g_new0(char *, (gsize)n * (gsize)nc);
    int w[7];
    for (int k = 0; k < nc; k++) w[k] = golden_width(head[k]);
    for (guint i = 0; i < n; i++) {
        const GoldenRow *r = &g_array_index(rep->rows, GoldenRow, i);
        cells[i * nc] = g_strdup(r->metric);
        if (rep->seeds) golden_row_cells_seeds(r, &cells[i * nc + 1]);
        else golden_row_cells(r, &cells[i * nc + 1]);
        for (int k = 0; k < nc; k++) w[k] = MAX(w[k], golden_width(cells[i * nc + k]));
    }
    GString *s = g_string_new(NULL);
    for (guint i = 0; i <= n; i++) {
        for (int k = 0; k < nc; k++) {
            if (k) g_string_append(s, "  ");
            golden_pad(s, i ? cells[(i - 1) * nc + k] : head[k], k == nc - 1 ? 0 : w[k],
                       (k >= 1 && k <= 3) || (nc == 7 && k == 5));
        }
        g_string_append_c(s, '\n');
    }
    size_t checked = 0;
    for (guint i = 0; i < n; i++) checked += g_array_index(rep->rows, GoldenRow, i).status != GOLDEN_STATUS_NEW;
    if (rep->seeds)
        golden_verdict_seeds(s, rep, checked);
    else if (rep->failed)
        g_string_append_printf(s, "FAIL: %zu of %zu metrics moved past their tolerance\n", rep->failed, checked);
    else
        g_string_append_printf(s, "PASS: %zu metrics within their tolerance\n", checked);
    for (guint i = 0; i < n * (guint)nc; i++) g_free(cells[i]);
    g_free(cells);
    return g_string_free(s, FALSE);
}

/* ---------------------------------------------------------------- the run */

/* Removes a directory tree we created (a results directory). */
static void golden_rmtree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    for (const char *name; d && (name = g_dir_read_name(d));) {
        char *p = g_build_filename(path, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) golden_rmtree(p);
        else g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(path);
}

/* Traffic counters of results.json's "metrics" that multi-seed files also
 * check, as "metrics.<name>": the headline has no measure of signalling
 * traffic, so a timer change (keep-alives every 10 s instead of 60 s)
 * would otherwise pass. */
static const MetricId golden_traffic_metrics[] = {
    METRIC_KEEPALIVE_SENT, METRIC_POLL_SENT,  METRIC_SUPERNODE_BYTES_IN, METRIC_SUPERNODE_BYTES_OUT,
    METRIC_RELAY_BYTES,    METRIC_CALL_MEDIA_BYTES};

/* Adds the traffic counters of dir/results.json to head as
 * "metrics.<name>" (absent ones are left out). */
static bool golden_add_traffic(cJSON *head, const char *dir, GError **err)
{
    char *path = g_build_filename(dir, "results.json", NULL);
    char *text = NULL;
    GError *e = NULL;
    bool ok = g_file_get_contents(path, &text, NULL, &e);
    if (!ok) {
        g_set_error(err, GOLDEN_ERROR, GOLDEN_ERROR_INTERNAL, "%s", e->message);
        g_error_free(e);
    }
    cJSON *res = ok ? cJSON_Parse(text) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "metrics");
    for (size_t i = 0; m && i < G_N_ELEMENTS(golden_traffic_metrics); i++) {
        const char *name = metric_table_name(golden_traffic_metrics[i]);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, name);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "value");
        char *key = g_strconcat("metrics.", name, NULL);
        if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(head, key, v->valuedouble);
        g_free(key);
    }
    cJSON_Delete(res);
    g_free(text);
    g_free(path);
    return ok;
}

/* Runs scn into dir; returns the headline (owned) or NULL with err set;
 * with_traffic: plus the traffic counters (golden_add_traffic). */
static cJSON *golden_run_scenario(const Scenario *scn, const char *dir, bool with_traffic, GError **err)
{
    RunnerOptions ro = {.out_dir = dir, .queue = EVQ_BUCKET, .raise_sigint_at = -1};
    RunnerResult rr;
    GError *e = NULL;
    RunnerStatus st = runner_run(scn, &ro, &rr, &e);
    if (st != RUNNER_OK) {
        g_set_error(err, GOLDEN_ERROR, st == RUNNER_BAD_INPUT ? GOLDEN_ERROR_INPUT : GOLDEN_ERROR_INTERNAL,
                    "%s", e ? e->message : "the run failed");
        g_clear_error(&e);
        return NULL;
    }
    cJSON *h = rr.headline;
    rr.headline = NULL;
    runner_result_clear(&rr);
    if (with_traffic && !golden_add_traffic(h, dir, err)) g_clear_pointer(&h, cJSON_Delete);
    return h;
}

/* Loads the scenario with the overrides; checks it is the golden's one. */
static Scenario *golden_scenario(const GoldenOptions *o, const GoldenFile *old, char **sets, GError **err)
{
    GError *e = NULL;
    Scenario *scn = scenario_load_with(o->scenario, (const char *const *)sets, &e);
    if (!scn) {
        g_set_error(err, GOLDEN_ERROR, GOLDEN_ERROR_INPUT, "%s", e->message);
        g_error_free(e);
        return NULL;
    }
    const char *name = scenario_spec_get(scn)->name;
    if (old && strcmp(old->scenario, name) != 0) {
        golden_input_error(err, o->golden, "$.scenario", "expected \"%s\" (the scenario of %s); found \"%s\"", name,
                          o->scenario, old->scenario);
        scenario_free(scn);
        return NULL;
    }
    return scn;
}

/* A temporary directory for the runs (owned) or NULL with err set. */
static char *golden_tmpdir(GError **err)
{
    GError *e = NULL;
    char *tmp = g_dir_make_tmp("simcheck-XXXXXX", &e);
    if (!tmp) {
        g_set_error(err, GOLDEN_ERROR, GOLDEN_ERROR_INTERNAL, "%s", e->message);
        g_error_free(e);
    }
    return tmp;
}

/* Runs seeds first, first + 1, ... (n runs) of the scenario with sets into
 * subdirectories seed-<seed> of dir; fills heads[0..n) (owned). */
static bool golden_run_series(const GoldenOptions *o, const GoldenFile *old, char **sets, uint64_t first,
                              size_t n, const char *dir, cJSON **heads, GError **err)
{
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        guint k = g_strv_length(sets);
        char **all = g_new0(char *, k + 2); /* sets, then seed=...; strings borrowed but the last */
        memcpy(all, sets, k * sizeof *all);
        all[k] = g_strdup_printf("seed=%" PRIu64, first + i);
        char **with_seed = golden_overrides_merge(NULL, (const char *const *)all);
        g_free(all[k]);
        g_free(all);
        Scenario *scn = golden_scenario(o, old, with_seed, err);
        char *sub = g_strdup_printf("%s/seed-%" PRIu64, dir, first + i);
        heads[i] = scn ? golden_run_scenario(scn, sub, true, err) : NULL;
        ok = heads[i] != NULL;
        if (ok && o->progress) g_printerr("simcheck: run %zu of %zu (seed %" PRIu64 ") done\n", i + 1, n, first + i);
        g_free(sub);
        scenario_free(scn);
        g_strfreev(with_seed);
    }
    return ok;
}

/* The multi-seed check or update of golden_run(): n runs from the scenario's
 * seed (after sets). */
static bool golden_run_seeds(const GoldenOptions *o, const GoldenFile *old, char **sets, size_t n,
                             GoldenReport *rep, GError **err)
{
    Scenario *scn = golden_scenario(o, old, sets, err);
    if (!scn) return false;
    uint64_t first = scenario_spec_get(scn)->seed;
    char *name = g_strdup(scenario_spec_get(scn)->name);
    scenario_free(scn);
    char *tmp = o->keep_dir ? NULL : golden_tmpdir(err);
    cJSON **heads = g_new0(cJSON *, n);
    bool ok = (o->keep_dir || tmp) &&
              golden_run_series(o, old, sets, first, n, o->keep_dir ? o->keep_dir : tmp, heads, err);
    if (ok && old) {
        golden_report_clear(rep);
        golden_compare_seeds(old, (const cJSON *const *)heads, n, rep);
    }
    if (ok && o->update) {
        GoldenFile *g = golden_file_from_seeds(old, name, (const char *const *)sets, first,
                                               (const cJSON *const *)heads, n);
        ok = golden_file_save(g, o->golden, err);
        golden_file_free(g);
    }
    for (size_t i = 0; i < n; i++) cJSON_Delete(heads[i]);
    g_free(heads);
    if (tmp) golden_rmtree(tmp);
    g_free(tmp);
    g_free(name);
    return ok;
}

/* Runs of a multi-seed check or update: the option, else the golden
 * file's mode; 0 for a single-seed check. Input error when a single-seed
 * golden file is checked with seeds. */
static bool golden_seed_count(const GoldenOptions *o, const GoldenFile *old, size_t *n, GError **err)
{
    *n = o->seeds;
    if (!*n && old && old->seeds) *n = o->update ? old->seeds : GOLDEN_SEEDS_DEFAULT;
    if (o->seeds == 1 || o->seeds > 10000) {
        g_set_error(err, GOLDEN_ERROR, GOLDEN_ERROR_INPUT,
                    "--seeds: expected a number of seeds from 2 to 10000; found %zu", o->seeds);
        return false;
    }
    if (*n && old && !old->seeds && !o->update)
        return golden_input_error(err, o->golden, "$", "expected a multi-seed golden file (with \"seeds\") "
                                  "for --seeds; found a single-seed one (make one with --update --seeds N)");
    return true;
}

/* The single-seed check or update of golden_run(). */
static bool golden_run_single(const GoldenOptions *o, const GoldenFile *old, char **sets, GoldenReport *rep,
                              GError **err)
{
    Scenario *scn = golden_scenario(o, old, sets, err);
    char *tmp = scn && !o->keep_dir ? golden_tmpdir(err) : NULL;
    char *dir = NULL;
    if (scn && (o->keep_dir || tmp)) dir = o->keep_dir ? g_strdup(o->keep_dir) : g_build_filename(tmp, "run", NULL);
    cJSON *head = dir ? golden_run_scenario(scn, dir, false, err) : NULL;
    bool ok = head != NULL;
    if (ok && old) {
        golden_report_clear(rep);
        golden_compare(old, head, rep);
    }
    if (ok && o->update) {
        GoldenFile *g = golden_file_from_run(old, scenario_spec_get(scn)->name, (const char *const *)sets, head);
        ok = golden_file_save(g, o->golden, err);
        golden_file_free(g);
    }
    if (tmp) golden_rmtree(tmp);
    cJSON_Delete(head);
    g_free(tmp);
    g_free(dir);
    scenario_free(scn);
    return ok;
}

bool golden_run(const GoldenOptions *o, GoldenReport *rep, GError **err)
{
    *rep = (GoldenReport){.rows = g_array_new(FALSE, TRUE, sizeof(GoldenRow))};
    GoldenFile *old = NULL;
    if (!o->update || g_file_test(o->golden, G_FILE_TEST_EXISTS)) {
        old = golden_file_load(o->golden, err);
        if (!old) return false;
    }
    size_t n = 0;
    if (!golden_seed_count(o, old, &n, err)) {
        golden_file_free(old);
        return false;
    }
    char **sets = golden_overrides_merge(old, o->sets);
    bool ok = n ? golden_run_seeds(o, old, sets, n, rep, err) : golden_run_single(o, old, sets, rep, err);
    g_strfreev(sets);
    golden_file_free(old);
    return ok;
}
