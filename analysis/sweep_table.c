/* sweep_table: the sweep's table (table.csv and table.json) from the run
 * directories; part of the sweep module (sweep.h, analysis/README.md).
 *
 * Layer: analysis. Each done run's results.json is read once; the value of
 * each metric path is taken from it (a number; null or a missing key is a
 * value the run could not compute and is left out of n); stats.h
 * summarises the repetitions of each point. Metric paths are dotted paths
 * into results.json whose keys may themselves hold dots (metric names such
 * as "login.time_s"): at each object every key that is a prefix of the rest
 * of the path, up to a dot, is tried. Both files are written with
 * g_file_set_contents(), which writes a temporary file and renames it, so a
 * table that exists is whole; they are table.csv and table.json only when
 * every run of the sweep is done, else table-partial.csv and .json.
 */
#include "analysis/sweep.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/stats.h"
#include "analysis/sweep_int.h"
#include "sim/world/headline.h"
#include "sim/world/jsonin.h"

/* ------------------------------------------------------------------------ */
/* Metric paths */

static const cJSON *swt_resolve(const cJSON *node, const char *path)
{
    if (*path == '\0') return node;
    for (const cJSON *it = cJSON_IsObject(node) ? node->child : NULL; it; it = it->next) {
        size_t n = strlen(it->string);
        if (strncmp(path, it->string, n) != 0 || (path[n] != '.' && path[n] != '\0')) continue;
        const cJSON *v = swt_resolve(it, path[n] ? path + n + 1 : path + n);
        if (v) return v;
    }
    return NULL;
}

/* For a path that resolves to nothing in root: the same path with the
 * closest key substituted where the walk stopped, or NULL; owned. */
static char *swt_suggest(const cJSON *root, const char *path)
{
    const cJSON *node = root;
    const char *rest = path;
    for (bool moved = true; moved && *rest && cJSON_IsObject(node);) {
        moved = false;
        for (const cJSON *it = node->child; it && !moved; it = it->next) {
            size_t n = strlen(it->string);
            if (strncmp(rest, it->string, n) == 0 && (rest[n] == '.' || rest[n] == '\0')) {
                node = it;
                rest += n + (rest[n] == '.');
                moved = true;
            }
        }
    }
    if (!*rest || !cJSON_IsObject(node)) return NULL;
    /* Each key is compared with as many dot-separated parts of the rest as
     * it has itself ("login.time_s" against "login.time_x"). */
    const char *near = NULL;
    size_t best = SIZE_MAX, used = 0;
    for (const cJSON *it = node->child; it; it = it->next) {
        size_t len = 0, parts = 1;
        for (const char *c = it->string; *c; c++)
            parts += *c == '.';
        while (rest[len] && (rest[len] != '.' || --parts > 0))
            len++;
        char *head = g_strndup(rest, len);
        size_t d = jsonin_edit_distance(head, it->string);
        if (d <= 1 + strlen(it->string) / 4 && d < best) {
            near = it->string;
            best = d;
            used = len;
        }
        g_free(head);
    }
    return near ? g_strdup_printf("%.*s%s%s", (int)(rest - path), path, near, rest + used) : NULL;
}

/* The default metrics: every key of the headline whose value is a number
 * or null, in results.json order. NULL-terminated, owned. */
static char **swt_default_metrics(const cJSON *root)
{
    GPtrArray *a = g_ptr_array_new();
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "headline");
    for (const cJSON *it = cJSON_IsObject(h) ? h->child : NULL; it; it = it->next)
        if (cJSON_IsNumber(it) || cJSON_IsNull(it))
            g_ptr_array_add(a, g_strdup_printf("headline.%s", it->string));
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

bool sweep__metrics_check(const Sweep *s, const cJSON *root, const char *file, GError **err)
{
    for (size_t m = 0; s->metrics && s->metrics[m]; m++) {
        if (swt_resolve(root, s->metrics[m])) continue;
        char *near = swt_suggest(root, s->metrics[m]);
        char *jpath = g_strdup_printf("$.metrics[%zu]", m);
        char *hint = near ? g_strdup_printf(" (did you mean \"%s\"?)", near) : g_strdup("");
        sweep__fail(err, s->origin, jpath, "expected a path to a number in results.json; found "
                    "no \"%s\" in %s, the first run done%s", s->metrics[m], file, hint);
        g_free(hint);
        g_free(jpath);
        g_free(near);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Collection */

typedef struct SwtData {
    char **metrics;     /* metric paths, NULL-terminated, owned */
    size_t n_metrics;   /* entries in metrics */
    double *values;     /* [(p * reps + r) * n_metrics + m]; NaN: no value */
    double *trials;     /* the same: what a fraction is a fraction of (headline.h), NaN: unknown */
    bool *done;         /* [p * reps + r]: the run is done */
    bool *seen;         /* [m]: the metric resolved in some run */
    size_t n_done;      /* done runs (count) */
    char *first_run;    /* results.json of the first done run, for messages; owned */
    cJSON *first_root;  /* that run's results, for suggestions; owned */
} SwtData;

/* The number of trials behind the fraction at path in root: the sum of
 * the paths sim/world/headline.h names for it, NaN when it names none or
 * one is not a number. */
static double swt_trials(const cJSON *root, const char *path)
{
    HeadlineInfo info;
    headline_path_info(path, &info);
    double sum = *info.trials ? 0 : NAN;
    char **parts = g_strsplit(info.trials, "+", -1);
    for (size_t i = 0; *info.trials && parts[i]; i++) {
        const cJSON *v = swt_resolve(root, parts[i]);
        sum += cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    g_strfreev(parts);
    headline_info_clear(&info);
    return sum;
}

/* Reads the metrics of run (p, r) from root into d. */
static void swt_take(SwtData *d, const Sweep *s, size_t p, size_t r, const cJSON *root)
{
    size_t run = p * s->reps + r;
    d->done[run] = true;
    d->n_done++;
    for (size_t m = 0; m < d->n_metrics; m++) {
        const cJSON *v = swt_resolve(root, d->metrics[m]);
        double x = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsBool(v) ? cJSON_IsTrue(v) : NAN;
        d->values[run * d->n_metrics + m] = x;
        d->trials[run * d->n_metrics + m] = swt_trials(root, d->metrics[m]);
        d->seen[m] = d->seen[m] || cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsNull(v);
    }
}

/* Reads every done run. The metric list is the sweep's or, without one,
 * the default taken from the first done run. */
static void swt_collect(Sweep *s, SwtData *d)
{
    size_t runs = s->n_points * s->reps;
    d->done = g_new0(bool, runs);
    for (size_t p = 0; p < s->n_points; p++) {
        for (size_t r = 0; r < s->reps; r++) {
            cJSON *root = sweep__run_results(s, p, r);
            if (!root) continue;
            if (!d->metrics) {
                d->metrics = s->metrics ? g_strdupv(s->metrics) : swt_default_metrics(root);
                d->n_metrics = g_strv_length(d->metrics);
                d->values = g_new(double, runs * d->n_metrics);
                d->trials = g_new(double, runs * d->n_metrics);
                d->seen = g_new0(bool, d->n_metrics);
                char *dir = sweep_run_dir(s, p, r);
                d->first_run = g_build_filename(dir, "results.json", NULL);
                g_free(dir);
                d->first_root = cJSON_Duplicate(root, true);
            }
            swt_take(d, s, p, r, root);
            cJSON_Delete(root);
        }
    }
    if (!d->metrics) {
        d->metrics = s->metrics ? g_strdupv(s->metrics) : g_new0(char *, 1);
        d->n_metrics = g_strv_length(d->metrics);
    }
}

/* Fails for the first metric found in no done run. */
static bool swt_check_metrics(const Sweep *s, const SwtData *d, GError **err)
{
    for (size_t m = 0; d->n_done > 0 && m < d->n_metrics; m++) {
        if (d->seen[m]) continue;
        char *near = swt_suggest(d->first_root, d->metrics[m]);
        char *jpath = g_strdup_printf("$.metrics[%zu]", m);
        char *hint = near ? g_strdup_printf(" (did you mean \"%s\"?)", near) : g_strdup("");
        sweep__fail(err, s->origin, jpath, "expected a path to a number in results.json; found "
                    "no \"%s\" in %s or any other run%s", d->metrics[m], d->first_run, hint);
        g_free(hint);
        g_free(jpath);
        g_free(near);
        return false;
    }
    return true;
}

static void swt_data_clear(SwtData *d)
{
    g_strfreev(d->metrics);
    g_free(d->values);
    g_free(d->trials);
    g_free(d->done);
    g_free(d->seen);
    g_free(d->first_run);
    cJSON_Delete(d->first_root);
}

/* Summary of metric m at point p over its done repetitions. */
static void swt_summary(const Sweep *s, const SwtData *d, size_t p, size_t m, StatsSummary *out)
{
    double *x = g_new(double, s->reps), trials = 0;
    size_t n = 0;
    for (size_t r = 0; r < s->reps; r++) {
        if (!d->done[p * s->reps + r]) continue;
        size_t i = (p * s->reps + r) * d->n_metrics + m;
        x[n++] = d->values[i];
        if (isfinite(d->values[i])) trials += d->trials[i]; /* NaN when one is unknown */
    }
    /* The interval bounds respect what the metric can be (a fraction stays
     * in [0, 1], a time above 0): sim/world/headline.h says which. */
    HeadlineInfo info;
    headline_path_info(d->metrics[m], &info);
    stats_summarize_bounded(x, n, info.lo, info.hi, trials, out);
    headline_info_clear(&info);
    g_free(x);
}

/* ------------------------------------------------------------------------ */
/* Writing */

/* A CSV field for a point value: numbers with 15 digits, strings quoted
 * when they hold a comma, a quote or a line break. */
static void swt_csv_value(GString *g, const cJSON *v)
{
    if (cJSON_IsString(v) && strpbrk(v->valuestring, ",\"\r\n")) {
        g_string_append_c(g, '"');
        for (const char *c = v->valuestring; *c; c++) {
            if (*c == '"') g_string_append_c(g, '"');
            g_string_append_c(g, *c);
        }
        g_string_append_c(g, '"');
    } else if (cJSON_IsString(v)) {
        g_string_append(g, v->valuestring);
    } else {
        char *t = sweep__value_text(v);
        g_string_append(g, t);
        g_free(t);
    }
}

/* A number for the CSV: 10 significant digits, empty when not finite. */
static void swt_csv_num(GString *g, double x)
{
    g_string_append_c(g, ',');
    if (isfinite(x)) g_string_append_printf(g, "%.10g", x);
}

static char *swt_csv(const Sweep *s, const SwtData *d)
{
    GString *g = g_string_new(NULL);
    for (size_t k = 0; k < s->n_params; k++)
        g_string_append_printf(g, "%s,", s->param_paths[k]);
    g_string_append(g, "metric,n,mean,sd,ci95,min,max,ci95_lo,ci95_hi\n");
    for (size_t p = 0; p < s->n_points; p++) {
        for (size_t m = 0; m < d->n_metrics; m++) {
            StatsSummary st;
            swt_summary(s, d, p, m, &st);
            for (size_t k = 0; k < s->n_params; k++) {
                swt_csv_value(g, sweep_point_value(s, p, k));
                g_string_append_c(g, ',');
            }
            g_string_append_printf(g, "%s,%zu", d->metrics[m], st.n);
            double cols[] = {st.mean, st.sd, st.ci95, st.min, st.max, st.ci95_lo, st.ci95_hi};
            for (size_t c = 0; c < G_N_ELEMENTS(cols); c++)
                swt_csv_num(g, cols[c]);
            g_string_append_c(g, '\n');
        }
    }
    return g_string_free(g, FALSE);
}

static cJSON *swt_json_num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

/* One entry of "points": values, runs done and their seeds, summaries. */
static cJSON *swt_json_point(Sweep *s, const SwtData *d, size_t p)
{
    cJSON *pt = cJSON_CreateObject();
    cJSON_AddNumberToObject(pt, "point", (double)p);
    cJSON *vals = cJSON_AddObjectToObject(pt, "values");
    for (size_t k = 0; k < s->n_params; k++)
        cJSON_AddItemToObject(vals, s->param_paths[k], cJSON_Duplicate(sweep_point_value(s, p, k), true));
    cJSON *runs = cJSON_AddArrayToObject(pt, "runs"), *seeds = cJSON_AddArrayToObject(pt, "seeds");
    for (size_t r = 0; r < s->reps; r++) {
        if (!d->done[p * s->reps + r]) continue;
        char *name = g_strdup_printf("runs/p%zu-r%zu", p, r);
        cJSON_AddItemToArray(runs, cJSON_CreateString(name));
        cJSON_AddItemToArray(seeds, scenario_json_u64(sweep_seed(s, p, r)));
        g_free(name);
    }
    cJSON_AddNumberToObject(pt, "missing", (double)s->reps - cJSON_GetArraySize(runs));
    cJSON *ms = cJSON_AddObjectToObject(pt, "metrics");
    for (size_t m = 0; m < d->n_metrics; m++) {
        StatsSummary st;
        swt_summary(s, d, p, m, &st);
        cJSON *o = cJSON_AddObjectToObject(ms, d->metrics[m]);
        cJSON_AddNumberToObject(o, "n", (double)st.n);
        cJSON_AddItemToObject(o, "mean", swt_json_num(st.mean));
        cJSON_AddItemToObject(o, "sd", swt_json_num(st.sd));
        cJSON_AddItemToObject(o, "ci95", swt_json_num(st.ci95));
        cJSON_AddItemToObject(o, "min", swt_json_num(st.min));
        cJSON_AddItemToObject(o, "max", swt_json_num(st.max));
        cJSON_AddItemToObject(o, "ci95_lo", swt_json_num(st.ci95_lo));
        cJSON_AddItemToObject(o, "ci95_hi", swt_json_num(st.ci95_hi));
    }
    return pt;
}

static char *swt_json(Sweep *s, const SwtData *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", s->name);
    cJSON_AddStringToObject(root, "description", s->description);
    cJSON_AddStringToObject(root, "sweep_file", s->origin);
    cJSON_AddStringToObject(root, "base", s->base_written);
    cJSON_AddStringToObject(root, "combine", s->zip ? "zip" : "cross");
    cJSON_AddNumberToObject(root, "repetitions", (double)s->reps);
    cJSON_AddNumberToObject(root, "runs_total", (double)(s->n_points * s->reps));
    cJSON_AddNumberToObject(root, "runs_done", (double)d->n_done);
    cJSON_AddBoolToObject(root, "complete", d->n_done == s->n_points * s->reps);
    cJSON_AddItemToObject(root, "parameters",
                          cJSON_CreateStringArray((const char *const *)s->param_paths, (int)s->n_params));
    cJSON_AddItemToObject(root, "metrics",
                          cJSON_CreateStringArray((const char *const *)d->metrics, (int)d->n_metrics));
    cJSON *pts = cJSON_AddArrayToObject(root, "points");
    for (size_t p = 0; p < s->n_points; p++)
        cJSON_AddItemToArray(pts, swt_json_point(s, d, p));
    char *text = cJSON_Print(root);
    char *out = g_strdup_printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
    return out;
}

/* runs.csv: one row per done run and metric, in point and repetition
 * order: the run's directory name, point, repetition, seed, the point's
 * parameter values, metric, value (empty when the run has none). */
static char *swt_runs_csv(const Sweep *s, const SwtData *d)
{
    GString *g = g_string_new("run,point,repetition,seed,");
    for (size_t k = 0; k < s->n_params; k++)
        g_string_append_printf(g, "%s,", s->param_paths[k]);
    g_string_append(g, "metric,value\n");
    for (size_t p = 0; p < s->n_points; p++) {
        for (size_t r = 0; r < s->reps; r++) {
            size_t run = p * s->reps + r;
            if (!d->done[run]) continue;
            for (size_t m = 0; m < d->n_metrics; m++) {
                g_string_append_printf(g, "p%zu-r%zu,%zu,%zu,%" G_GUINT64_FORMAT ",", p, r, p, r,
                                       sweep_seed(s, p, r));
                for (size_t k = 0; k < s->n_params; k++) {
                    swt_csv_value(g, sweep_point_value(s, p, k));
                    g_string_append_c(g, ',');
                }
                g_string_append(g, d->metrics[m]);
                swt_csv_num(g, d->values[run * d->n_metrics + m]);
                g_string_append_c(g, '\n');
            }
        }
    }
    return g_string_free(g, FALSE);
}

/* Removes <out>/name if present (a table of another state of the sweep). */
static void swt_remove(const Sweep *s, const char *name)
{
    char *path = g_build_filename(s->out, name, NULL);
    g_unlink(path);
    g_free(path);
}

/* Writes text to <out>/name atomically. */
static bool swt_write(const Sweep *s, const char *name, const char *text, GError **err)
{
    char *path = g_build_filename(s->out, name, NULL);
    GError *e = NULL;
    bool ok = g_file_set_contents(path, text, -1, &e);
    if (!ok) {
        g_set_error(err, SWEEP_ERROR, SWEEP_ERROR_INTERNAL, "cannot write %s: %s", path, e->message);
        g_error_free(e);
    }
    g_free(path);
    return ok;
}

bool sweep_table_write(Sweep *s, bool *partial, GError **err)
{
    SwtData d = {0};
    swt_collect(s, &d);
    bool ok = swt_check_metrics(s, &d, err);
    /* table.* exists only for a sweep whose every run is done; otherwise
     * the names say partial, and a table of an earlier state goes. */
    *partial = d.n_done < s->n_points * s->reps;
    if (ok) {
        char *csv = swt_csv(s, &d), *json = swt_json(s, &d), *runs = swt_runs_csv(s, &d);
        const char *csv_name = *partial ? "table-partial.csv" : "table.csv";
        const char *json_name = *partial ? "table-partial.json" : "table.json";
        const char *runs_name = *partial ? "runs-partial.csv" : "runs.csv";
        ok = swt_write(s, csv_name, csv, err) && swt_write(s, json_name, json, err) &&
             swt_write(s, runs_name, runs, err);
        swt_remove(s, *partial ? "table.csv" : "table-partial.csv");
        swt_remove(s, *partial ? "table.json" : "table-partial.json");
        swt_remove(s, *partial ? "runs.csv" : "runs-partial.csv");
        g_free(csv);
        g_free(json);
        g_free(runs);
    }
    swt_data_clear(&d);
    return ok;
}
