/* sweep: the sweep file, its validation, the points and the seeds; see
 * sweep.h and analysis/README.md ("Sweeps").
 *
 * Layer: analysis. The file is parsed with cJSON and read by a small reader
 * that knows the JSON path of the value it reads and stops at the first
 * error, with the "found ..." wording, unknown-key check and "did you mean"
 * of sim/world/jsonin.h, shared with the scenario reader. Then the base scenario is loaded with
 * the fixed overrides, and once more per point with the point's values, so
 * that a bad value is reported before any run starts (DESIGN.md "Errors":
 * validate everything before building anything).
 */
#include "analysis/sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis/sweep_int.h"
#include "sim/world/jsonin.h"
#include "sim/world/keydef.h"
#include "protocol/base/check.h"
#include "sim/world/results.h"

G_DEFINE_QUARK(skysim - sweep - error - quark, sweep_error)

#define SWEEP_MAX_VALUES 100000 /* values of one parameter */
#define SWEEP_MAX_RUNS 1000000  /* points x repetitions */

static const char *const swp_combines[] = {"cross", "zip", NULL};

/* The keys of a sweep file (sim/world/keydef.h): the reader below checks
 * unknown keys against these tables and takes its bounds from them, and
 * sweep_schema_text() makes analysis/sweeps/schema.json of the same
 * tables. */
static const KeyDef swp_range_keys[] = {
    {.name = "from", .kind = KEYDEF_NUMBER, .lo = -INFINITY, .hi = INFINITY, .required = true,
     .doc = "first value"},
    {.name = "to", .kind = KEYDEF_NUMBER, .lo = -INFINITY, .hi = INFINITY, .required = true,
     .doc = "last value (inclusive), >= from"},
    {.name = "step", .kind = KEYDEF_NUMBER, .lo = 0, .lo_open = true, .hi = INFINITY, .required = true,
     .doc = "step between values"},
    {.name = NULL}};
static const KeyDef swp_scalar = {.kind = KEYDEF_SCALAR};
static const char *const swp_values_or_range[] = {"values", "range", NULL};
static const KeyDef swp_param_keys[] = {
    {.name = "path", .kind = KEYDEF_STRING, .required = true,
     .doc = "scenario key to vary, as for --set (not \"seed\")"},
    {.name = "values", .kind = KEYDEF_ARRAY, .items = &swp_scalar, .min_items = 1,
     .max_items = SWEEP_MAX_VALUES, .doc = "the values, numbers, strings or booleans"},
    {.name = "range", .kind = KEYDEF_OBJECT, .keys = swp_range_keys, .doc = "from, to, step"},
    {.name = NULL}};
static const KeyDef swp_param = {.kind = KEYDEF_OBJECT, .keys = swp_param_keys,
                                 .exactly_one = swp_values_or_range};
/* An override "path=value". */
static const KeyDef swp_set = {.kind = KEYDEF_STRING, .pattern = "^[^=]+="};
/* A path into results.json: a section of swp_results_keys below and a key in it. */
static const KeyDef swp_metric = {
    .kind = KEYDEF_STRING,
    .pattern = "^((headline|metrics|nat_detection|supernode_load|engine)\\..+|(simulated_s|seed)(\\..*)?)$"};
static const KeyDef swp_top_keys[] = {
    {.name = "base", .kind = KEYDEF_FILE, .required = true,
     .doc = "the scenario swept, relative to the sweep file"},
    {.name = "name", .kind = KEYDEF_STRING, .pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$",
     .doc = "sweep name (results/sweeps/NAME)"},
    {.name = "description", .kind = KEYDEF_STRING, .doc = "free text"},
    {.name = "parameters", .kind = KEYDEF_ARRAY, .items = &swp_param, .doc = "the keys varied"},
    {.name = "combine", .kind = KEYDEF_ENUM, .choices = swp_combines,
     .doc = "cross: every combination; zip: the i-th values together"},
    {.name = "repetitions", .kind = KEYDEF_INT, .lo = 1, .hi = SWEEP_MAX_RUNS,
     .doc = "runs per point, with derived seeds"},
    {.name = "set", .kind = KEYDEF_ARRAY, .items = &swp_set, .doc = "fixed overrides \"path=value\""},
    {.name = "metrics", .kind = KEYDEF_ARRAY, .items = &swp_metric, .min_items = 1,
     .doc = "paths into results.json summarised (default: the headline)"},
    {.name = "out", .kind = KEYDEF_STRING, .doc = "results folder"},
    {.name = NULL}};
/* Top-level sections of results.json a metric path may start with. */
static const char *const swp_results_keys[] = {"headline", "metrics",     "nat_detection",
                                               "supernode_load", "engine", "simulated_s",
                                               "seed",     NULL};

/* ------------------------------------------------------------------------ */
/* Messages */

void sweep__fail(GError **err, const char *origin, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jsonin_failv(err, (JsoninErr){SWEEP_ERROR, SWEEP_ERROR_INPUT}, origin, path, fmt, ap);
    va_end(ap);
}

char *sweep__value_text(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return g_strdup_printf("%.15g", v->valuedouble);
    char *text = cJSON_PrintUnformatted(v);
    char *r = g_strdup(text);
    cJSON_free(text);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Reader: knows the JSON path, keeps the first error */

typedef struct SwpRd {
    const char *origin; /* file name for messages */
    GString *path;      /* JSON path of the value being read, "$..." */
    GError **err;       /* where the first error goes */
    bool failed;        /* an error was reported */
} SwpRd;

G_GNUC_PRINTF(2, 3) static void swp_failf(SwpRd *rd, const char *fmt, ...)
{
    if (rd->failed) return;
    rd->failed = true;
    va_list ap;
    va_start(ap, fmt);
    jsonin_failv(rd->err, (JsoninErr){SWEEP_ERROR, SWEEP_ERROR_INPUT}, rd->origin, rd->path->str,
                 fmt, ap);
    va_end(ap);
}

/* "expected <what>; found <v>". */
static void swp_expect(SwpRd *rd, const cJSON *v, const char *what)
{
    char *found = jsonin_found(v);
    swp_failf(rd, "expected %s; found %s", what, found);
    g_free(found);
}

static size_t swp_push(SwpRd *rd, const char *key) { return jsonin_path_key(rd->path, key); }

static size_t swp_push_index(SwpRd *rd, size_t i) { return jsonin_path_index(rd->path, i); }

static void swp_pop(SwpRd *rd, size_t mark) { g_string_truncate(rd->path, mark); }

/* Checks that obj is an object whose keys are all in table, once each. */
static bool swp_keys(SwpRd *rd, const cJSON *obj, const KeyDef *table)
{
    if (!cJSON_IsObject(obj)) {
        swp_expect(rd, obj, "an object");
        return false;
    }
    char *msg = NULL;
    const char **known = keydef_names(table);
    const cJSON *bad = jsonin_bad_key(obj, known, JSONIN_KEYS_SUGGEST, &msg);
    g_free(known);
    if (bad) {
        size_t mark = swp_push(rd, bad->string);
        swp_failf(rd, "%s", msg);
        swp_pop(rd, mark);
        g_free(msg);
    }
    return !rd->failed;
}

/* obj[key], or NULL when absent or null. */
static const cJSON *swp_item(const cJSON *obj, const char *key) { return jsonin_item(obj, key); }

/* A non-empty string at obj[key] into *out (copied); absent: *out kept,
 * unless required. */
static void swp_string(SwpRd *rd, const cJSON *obj, const char *key, bool required, char **out)
{
    const cJSON *v = swp_item(obj, key);
    if (rd->failed || (!v && !required)) return;
    size_t mark = swp_push(rd, key);
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        swp_expect(rd, v, "a non-empty string");
    } else {
        g_free(*out);
        *out = g_strdup(v->valuestring);
    }
    swp_pop(rd, mark);
}

/* A finite number at obj[key] (required). */
static double swp_number(SwpRd *rd, const cJSON *obj, const char *key)
{
    const cJSON *v = swp_item(obj, key);
    if (rd->failed) return 0;
    size_t mark = swp_push(rd, key);
    double d = 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        swp_expect(rd, v, "a number");
    else
        d = v->valuedouble;
    swp_pop(rd, mark);
    return d;
}

/* An array of non-empty strings at obj[key] (absent: *out stays NULL).
 * check, when given, validates each string and returns the expectation
 * when it fails. */
static void swp_strings(SwpRd *rd, const cJSON *obj, const char *key,
                        const char *(*check)(const char *s, char **hint), char ***out)
{
    const cJSON *v = swp_item(obj, key);
    if (rd->failed || !v) return;
    size_t mark = swp_push(rd, key);
    if (!cJSON_IsArray(v)) swp_expect(rd, v, "an array of strings");
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    size_t i = 0;
    for (const cJSON *it = cJSON_IsArray(v) ? v->child : NULL; it && !rd->failed; it = it->next, i++) {
        size_t m = swp_push_index(rd, i);
        char *hint = NULL;
        const char *bad = !cJSON_IsString(it) || !it->valuestring[0] ? "a non-empty string"
                          : check ? check(it->valuestring, &hint) : NULL;
        if (bad && hint)
            swp_failf(rd, "expected %s; found \"%s\" (%s)", bad, it->valuestring, hint);
        else if (bad)
            swp_expect(rd, it, bad);
        g_free(hint);
        if (!bad) g_ptr_array_add(a, g_strdup(it->valuestring));
        swp_pop(rd, m);
    }
    swp_pop(rd, mark);
    g_ptr_array_add(a, NULL);
    *out = (char **)g_ptr_array_free(a, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Sections */

static const char *swp_check_set(const char *s, char **hint)
{
    (void)hint;
    const char *eq = strchr(s, '=');
    return eq && eq > s ? NULL : "an override \"path=value\" such as \"population.clients=400\"";
}

static const char *swp_check_metric(const char *s, char **hint)
{
    char *first = g_strndup(s, strcspn(s, "."));
    const char *bad = NULL;
    if (jsonin_choice_find(first, swp_results_keys) < 0) {
        bad = "a path into results.json starting with one of its sections";
        const char *near = jsonin_suggest(first, swp_results_keys);
        char *list = jsonin_choice_list(swp_results_keys);
        *hint = near ? g_strdup_printf("did you mean \"%s\"?", near) : g_strdup_printf("sections: %s", list);
        g_free(list);
    } else if (strcmp(first, "headline") == 0 || strcmp(first, "metrics") == 0 ||
               strcmp(first, "nat_detection") == 0 || strcmp(first, "supernode_load") == 0 ||
               strcmp(first, "engine") == 0) {
        bad = s[strlen(first)] == '.' && s[strlen(first) + 1] ? NULL
                                                             : "a path inside the section, such as "
                                                               "\"headline.login_success_rate\"";
    }
    g_free(first);
    return bad;
}

/* A parameter's "values": a non-empty list of scalars, copied. */
static cJSON *swp_param_list(SwpRd *rd, const cJSON *vals)
{
    size_t mark = swp_push(rd, "values");
    int n = cJSON_GetArraySize(vals);
    const KeyDef *def = keydef_get(swp_param_keys, "values", KEYDEF_ARRAY);
    if (!cJSON_IsArray(vals) || n < (int)def->min_items || n > (int)def->max_items)
        swp_expect(rd, vals, "a non-empty array of values");
    for (int i = 0; cJSON_IsArray(vals) && i < n && !rd->failed; i++) {
        const cJSON *v = cJSON_GetArrayItem(vals, i);
        size_t m = swp_push_index(rd, (size_t)i);
        if (!cJSON_IsNumber(v) && !cJSON_IsString(v) && !cJSON_IsBool(v))
            swp_expect(rd, v, "a number, a string or a boolean");
        swp_pop(rd, m);
    }
    swp_pop(rd, mark);
    return rd->failed ? NULL : cJSON_Duplicate(vals, true);
}

/* A parameter's "range": from, from + step, ... up to to (inclusive,
 * within a millionth of a step), each printed with 12 significant digits
 * so 0.1 + 2 * 0.1 reads as 0.3. */
static cJSON *swp_param_range(SwpRd *rd, const cJSON *range)
{
    size_t mark = swp_push(rd, "range");
    cJSON *out = NULL;
    if (swp_keys(rd, range, swp_range_keys)) {
        double from = swp_number(rd, range, "from"), to = swp_number(rd, range, "to");
        double step = swp_number(rd, range, "step");
        size_t m = swp_push(rd, "step");
        if (!rd->failed && step <= keydef_get(swp_range_keys, "step", KEYDEF_NUMBER)->lo)
            swp_expect(rd, swp_item(range, "step"), "a number > 0");
        swp_pop(rd, m);
        m = swp_push(rd, "to");
        if (!rd->failed && to < from) swp_failf(rd, "expected a number >= from (%g); found %g", from, to);
        double count = rd->failed ? 0 : floor((to - from) / step + 1e-6) + 1;
        if (!rd->failed && count > SWEEP_MAX_VALUES)
            swp_failf(rd, "expected at most %d values from from to to by step; found %.0f",
                      SWEEP_MAX_VALUES, count);
        swp_pop(rd, m);
        out = rd->failed ? NULL : cJSON_CreateArray();
        for (size_t i = 0; out && i < (size_t)count; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.12g", from + (double)i * step);
            cJSON_AddItemToArray(out, cJSON_CreateNumber(g_ascii_strtod(buf, NULL)));
        }
    }
    swp_pop(rd, mark);
    return out;
}

/* One parameter's values, from exactly one of "values" and "range". */
static cJSON *swp_param_values(SwpRd *rd, const cJSON *par)
{
    const cJSON *vals = swp_item(par, "values"), *range = swp_item(par, "range");
    if ((vals != NULL) == (range != NULL)) {
        swp_failf(rd, "expected exactly one of \"values\" and \"range\"; found %s",
                  vals ? "both" : "neither");
        return NULL;
    }
    return vals ? swp_param_list(rd, vals) : swp_param_range(rd, range);
}

/* Reads $.parameters into s->param_paths and returns the value lists (an
 * array of arrays), or NULL on error. */
static cJSON *swp_read_parameters(SwpRd *rd, const cJSON *doc, Sweep *s)
{
    const cJSON *pars = swp_item(doc, "parameters");
    cJSON *lists = cJSON_CreateArray();
    if (!pars) {
        s->param_paths = g_new0(char *, 1);
        return lists;
    }
    size_t mark = swp_push(rd, "parameters");
    if (!cJSON_IsArray(pars)) swp_expect(rd, pars, "an array of parameters");
    s->n_params = rd->failed ? 0 : (size_t)cJSON_GetArraySize(pars);
    s->param_paths = g_new0(char *, s->n_params + 1);
    for (size_t k = 0; k < s->n_params && !rd->failed; k++) {
        const cJSON *par = cJSON_GetArrayItem(pars, (int)k);
        size_t m = swp_push_index(rd, k);
        if (swp_keys(rd, par, swp_param_keys)) swp_string(rd, par, "path", true, &s->param_paths[k]);
        if (!rd->failed && strcmp(s->param_paths[k], "seed") == 0)
            swp_failf(rd, "expected a scenario path other than \"seed\" (each repetition derives "
                          "its seed; set the base seed in \"set\"); found \"seed\"");
        for (size_t j = 0; j < k && !rd->failed; j++)
            if (strcmp(s->param_paths[j], s->param_paths[k]) == 0)
                swp_failf(rd, "expected a path not swept already; found \"%s\" (also $.parameters[%zu])",
                          s->param_paths[k], j);
        cJSON *vals = rd->failed ? NULL : swp_param_values(rd, par);
        if (vals) cJSON_AddItemToArray(lists, vals);
        swp_pop(rd, m);
    }
    swp_pop(rd, mark);
    if (rd->failed) g_clear_pointer(&lists, cJSON_Delete);
    return lists;
}

/* Expands the value lists into s->points, crossed (first parameter
 * slowest) or zipped. */
static void swp_expand(SwpRd *rd, Sweep *s, const cJSON *lists)
{
    size_t n = 1;
    for (size_t k = 0; k < s->n_params && !rd->failed; k++) {
        size_t len = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(lists, (int)k));
        if (s->zip && k > 0 && len != n) {
            size_t mark = swp_push(rd, "parameters");
            size_t m = swp_push_index(rd, k);
            swp_failf(rd, "expected %zu values to zip with $.parameters[0]; found %zu", n, len);
            swp_pop(rd, m);
            swp_pop(rd, mark);
        }
        n = s->zip ? len : n * len;
        if (n * s->reps > SWEEP_MAX_RUNS)
            swp_failf(rd, "expected at most %d runs (points x repetitions); found more",
                      SWEEP_MAX_RUNS);
    }
    if (rd->failed) return;
    s->n_points = n;
    s->points = cJSON_CreateArray();
    for (size_t p = 0; p < n; p++) {
        cJSON *pt = cJSON_CreateArray();
        size_t rest = p;
        for (size_t k = s->n_params; k-- > 0;) {
            const cJSON *list = cJSON_GetArrayItem(lists, (int)k);
            size_t len = (size_t)cJSON_GetArraySize(list);
            size_t i = s->zip ? p : rest % len;
            rest = s->zip ? rest : rest / len;
            cJSON_AddItemToArray(pt, cJSON_Duplicate(cJSON_GetArrayItem(list, (int)i), true));
        }
        /* Values were added last parameter first: reverse into file order. */
        cJSON *ordered = cJSON_CreateArray();
        for (size_t k = s->n_params; k-- > 0;)
            cJSON_AddItemToArray(ordered, cJSON_Duplicate(cJSON_GetArrayItem(pt, (int)k), true));
        cJSON_Delete(pt);
        cJSON_AddItemToArray(s->points, ordered);
    }
}

/* Reads every key of the document into s. */
static void swp_read(SwpRd *rd, const cJSON *doc, Sweep *s)
{
    if (!swp_keys(rd, doc, swp_top_keys)) return;
    swp_string(rd, doc, "base", true, &s->base_written);
    swp_string(rd, doc, "name", false, &s->name);
    if (s->name && !rd->failed && !results_label_is_safe(s->name)) {
        size_t mark = swp_push(rd, "name"); /* it names results/sweeps/NAME */
        swp_expect(rd, swp_item(doc, "name"), "a name of " RESULTS_LABEL_RULE);
        swp_pop(rd, mark);
    }
    swp_string(rd, doc, "description", false, &s->description);
    char *combine = NULL;
    swp_string(rd, doc, "combine", false, &combine);
    if (combine && jsonin_choice_find(combine, keydef_choices(keydef_get(swp_top_keys, "combine", KEYDEF_ENUM))) < 0) {
        size_t mark = swp_push(rd, "combine");
        swp_expect(rd, swp_item(doc, "combine"), "one of \"cross\", \"zip\"");
        swp_pop(rd, mark);
    }
    s->zip = combine && strcmp(combine, "zip") == 0;
    g_free(combine);
    const cJSON *reps = swp_item(doc, "repetitions");
    if (reps && !rd->failed) {
        size_t mark = swp_push(rd, "repetitions");
        double d = reps->valuedouble;
        const KeyDef *def = keydef_get(swp_top_keys, "repetitions", KEYDEF_INT);
        if (!cJSON_IsNumber(reps) || d != floor(d) || d < def->lo || d > def->hi) {
            char *what = g_strdup_printf("an integer from %.0f to %.0f", def->lo, def->hi);
            swp_expect(rd, reps, what);
            g_free(what);
        }
        if (!rd->failed) s->reps = (size_t)d;
        swp_pop(rd, mark);
    }
    swp_strings(rd, doc, "set", swp_check_set, &s->sets);
    swp_strings(rd, doc, "metrics", swp_check_metric, &s->metrics);
    if (s->metrics && !s->metrics[0] && !rd->failed) {
        size_t mark = swp_push(rd, "metrics");
        swp_expect(rd, swp_item(doc, "metrics"), "a non-empty array of paths (or no key: headline)");
        swp_pop(rd, mark);
    }
    swp_string(rd, doc, "out", false, &s->out);
    cJSON *lists = rd->failed ? NULL : swp_read_parameters(rd, doc, s);
    if (lists) swp_expand(rd, s, lists);
    cJSON_Delete(lists);
}

/* ------------------------------------------------------------------------ */
/* Scenarios of the points */

/* The overrides of point p: the fixed ones, then the point's values. A
 * NULL-terminated array, owned (g_strfreev). */
static char **swp_point_sets(const Sweep *s, size_t p)
{
    GPtrArray *a = g_ptr_array_new();
    for (char **x = s->sets; x && *x; x++)
        g_ptr_array_add(a, g_strdup(*x));
    for (size_t k = 0; p < s->n_points && k < s->n_params; k++) {
        char *v = sweep__value_text(sweep_point_value(s, p, k));
        g_ptr_array_add(a, g_strdup_printf("%s=%s", s->param_paths[k], v));
        g_free(v);
    }
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

/* "path=value, path=value" of point p, for messages; owned. */
static char *swp_point_label(const Sweep *s, size_t p)
{
    GString *g = g_string_new(NULL);
    for (size_t k = 0; k < s->n_params; k++) {
        char *v = sweep__value_text(sweep_point_value(s, p, k));
        g_string_append_printf(g, "%s%s=%s", k ? ", " : "", s->param_paths[k], v);
        g_free(v);
    }
    return g_string_free(g, FALSE);
}

/* Loads the base with the fixed overrides (for the base seed), then every
 * point's scenario. */
static bool swp_load_scenarios(Sweep *s, GError **err)
{
    GError *e = NULL;
    char **fixed = swp_point_sets(s, SIZE_MAX);
    Scenario *base = scenario_load_with(s->base_path, (const char *const *)fixed, &e);
    g_strfreev(fixed);
    if (!base) {
        bool in_set = s->sets && s->sets[0] && strstr(e->message, "(from --set");
        sweep__fail(err, s->origin, in_set ? "$.set" : "$.base", "%s", e->message);
        g_error_free(e);
        return false;
    }
    s->base_seed = scenario_spec_get(base)->seed;
    scenario_free(base);
    s->scn = g_new0(Scenario *, s->n_points);
    for (size_t p = 0; p < s->n_points; p++) {
        char **sets = swp_point_sets(s, p);
        s->scn[p] = scenario_load_with(s->base_path, (const char *const *)sets, &e);
        g_strfreev(sets);
        if (!s->scn[p]) {
            char *label = swp_point_label(s, p);
            sweep__fail(err, s->origin, "$.parameters", "point %zu (%s): %s", p, label, e->message);
            g_free(label);
            g_error_free(e);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Public */

Sweep *sweep_load_text(const char *text, const char *origin, const char *base_dir, GError **err)
{
    /* No hint after a syntax error here: sweep files are short. */
    cJSON *doc = jsonin_parse(text, origin, false, (JsoninErr){SWEEP_ERROR, SWEEP_ERROR_INPUT}, err);
    if (!doc) return NULL;
    Sweep *s = g_new0(Sweep, 1);
    s->origin = g_strdup(origin);
    s->reps = 5;
    SwpRd rd = {.origin = origin, .path = g_string_new("$"), .err = err};
    swp_read(&rd, doc, s);
    cJSON_Delete(doc);
    g_string_free(rd.path, TRUE);
    if (!rd.failed) {
        char *fname = g_path_get_basename(origin);
        if (!s->name) {
            if (g_str_has_suffix(fname, ".json")) fname[strlen(fname) - 5] = '\0';
            s->name = results_label_make_safe(fname);
        }
        g_free(fname);
        if (!s->description) s->description = g_strdup("");
        if (!s->out) s->out = g_strdup_printf("results/sweeps/%s", s->name);
        s->base_path = g_path_is_absolute(s->base_written) || !base_dir || !strcmp(base_dir, ".")
                           ? g_strdup(s->base_written)
                           : g_build_filename(base_dir, s->base_written, NULL);
    }
    if (rd.failed || !swp_load_scenarios(s, err)) {
        sweep_free(s);
        return NULL;
    }
    return s;
}

Sweep *sweep_load(const char *path, GError **err)
{
    char *text = jsonin_read_file(path, 0, "", (JsoninErr){SWEEP_ERROR, SWEEP_ERROR_INPUT}, NULL, err);
    if (!text) return NULL;
    char *dir = g_path_get_dirname(path);
    Sweep *s = sweep_load_text(text, path, dir, err);
    g_free(dir);
    g_free(text);
    return s;
}

void sweep_free(Sweep *s)
{
    if (!s) return;
    for (size_t p = 0; s->scn && p < s->n_points; p++)
        scenario_free(s->scn[p]);
    g_free(s->scn);
    g_free(s->origin);
    g_free(s->name);
    g_free(s->description);
    g_free(s->base_written);
    g_free(s->base_path);
    g_strfreev(s->sets);
    g_strfreev(s->param_paths);
    cJSON_Delete(s->points);
    g_strfreev(s->metrics);
    g_free(s->out);
    g_free(s);
}

size_t sweep_points(const Sweep *s) { return s->n_points; }
size_t sweep_repetitions(const Sweep *s) { return s->reps; }
size_t sweep_parameters(const Sweep *s) { return s->n_params; }
const char *sweep_name(const Sweep *s) { return s->name; }
const char *sweep_out_dir(const Sweep *s) { return s->out; }

const char *sweep_parameter_path(const Sweep *s, size_t k)
{
    CHECK(k < s->n_params, "parameter %zu of %zu", k, s->n_params);
    return s->param_paths[k];
}

const cJSON *sweep_point_value(const Sweep *s, size_t p, size_t k)
{
    CHECK(p < s->n_points && k < s->n_params, "point %zu of %zu, parameter %zu of %zu", p,
          s->n_points, k, s->n_params);
    return cJSON_GetArrayItem(cJSON_GetArrayItem(s->points, (int)p), (int)k);
}

void sweep_out_dir_set(Sweep *s, const char *dir)
{
    g_free(s->out);
    s->out = g_strdup(dir);
}

char *sweep_run_dir(const Sweep *s, size_t p, size_t r)
{
    char *name = g_strdup_printf("p%zu-r%zu", p, r);
    char *dir = g_build_filename(s->out, "runs", name, NULL);
    g_free(name);
    return dir;
}

/* SplitMix64's output function (Steele, Lea, Flood 2014): a bijection on
 * 64 bits that scatters neighbouring inputs, so seeds of neighbouring
 * (p, r) are unrelated. */
static uint64_t swp_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sweep_seed_derive(uint64_t base, size_t p, size_t r)
{
    CHECK(p < (1ULL << 32) && r < (1ULL << 32), "point %zu repetition %zu", p, r);
    uint64_t mix = swp_splitmix64((uint64_t)p << 32 | (uint64_t)r);
    return (base + mix) & SCENARIO_SEED_MAX; /* scenario seeds are within [0, 2^53 - 1] */
}

uint64_t sweep_seed(const Sweep *s, size_t p, size_t r) { return sweep_seed_derive(s->base_seed, p, r); }

const Scenario *sweep__scenario(Sweep *s, size_t p, size_t r, GError **err)
{
    CHECK(p < s->n_points, "point %zu of %zu", p, s->n_points);
    char *set = g_strdup_printf("seed=%" G_GUINT64_FORMAT, sweep_seed(s, p, r));
    bool ok = scenario_set(s->scn[p], set, err) && scenario_validate(s->scn[p], err);
    g_free(set);
    return ok ? s->scn[p] : NULL;
}

char *sweep_schema_text(void)
{
    return keydef_schema_text(swp_top_keys, "skysim sweep",
                              "A skysim sweep file (analysis/README.md, \"Sweeps\"). Generated by "
                              "simsweep --print-schema from the tables the sweep reader validates "
                              "with; whether each value suits its scenario key is checked by "
                              "simsweep, which loads every point's scenario.");
}
