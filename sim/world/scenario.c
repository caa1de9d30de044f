/* scenario: the scenario file format, its validation, overrides and the
 * resolved ScenarioSpec; see scenario.h and scenarios/README.md.
 *
 * Layer: sim/world (uses protocol/base only). How it works: the file is
 * parsed with cJSON into a document; --set overrides edit that document; a
 * resolve pass then walks the document section by section with a small
 * reader (Rd) that knows the JSON path of the value it reads, fills a fresh
 * ScenarioSpec that starts from the defaults, and stops at the first error.
 * Checks come in two kinds: per-value (type, range, unknown keys, files) run
 * on every resolve, so scenario_set() can reject a bad value at once;
 * cross-key checks (sums, references between sections, keys required by
 * another key's value) run only in scenario_validate(), after the last
 * override, so overrides may pass through states that are inconsistent.
 * Defaults come from the literature where it has a number (Baset and
 * Schulzrinne, "An Analysis of the Skype Peer-to-Peer Internet Telephony
 * Protocol", 2004: host cache of 200, seven bootstrap supernodes, login
 * retry every 6 s; NAT timeouts from RFC 4787 REQ-5 and RFC 5382 REQ-5).
 */
#include "sim/world/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/world/jsonin.h"
#include "sim/world/scenario_int.h"

G_DEFINE_QUARK(skysim - scenario - error - quark, scenario_error)

/* ------------------------------------------------------------------------ */
/* Reader: typed getters that know the JSON path and report the first error */

size_t scenario__push_key(Rd *rd, const char *key) { return jsonin_path_key(rd->path, key); }

size_t scenario__push_index(Rd *rd, size_t i) { return jsonin_path_index(rd->path, i); }

void scenario__pop(Rd *rd, size_t mark)
{
    g_string_truncate(rd->path, mark);
}

/* True when path b continues path a at a component boundary (or equals it). */
static bool scn_path_within(const char *b, const char *a)
{
    size_t n = strlen(a);
    return strncmp(b, a, n) == 0 && (b[n] == '\0' || b[n] == '.' || b[n] == '[');
}

/* The note naming the most recent override involved in an error at path:
 * " (from --set X)" when the error is inside the value set, " (after --set
 * X)" when it is about a container of it; "" otherwise. Owned by the caller. */
static char *scn_override_note(const Scenario *s, const char *path)
{
    if (!s->overrides || strcmp(path, "$") == 0) return g_strdup("");
    for (guint i = s->overrides->len; i-- > 0;) {
        const ScenarioOverride *o = g_ptr_array_index(s->overrides, i);
        if (scn_path_within(path, o->path))
            return g_strdup_printf(" (from --set %s)", o->assignment);
        if (scn_path_within(o->path, path))
            return g_strdup_printf(" (after --set %s)", o->assignment);
    }
    return g_strdup("");
}

void scenario__failf(Rd *rd, const char *fmt, ...)
{
    if (rd->failed) return;
    rd->failed = true;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *note = scn_override_note(rd->s, rd->path->str);
    jsonin_fail(rd->err, (JsoninErr){SCENARIO_ERROR, SCENARIO_ERROR_INVALID}, rd->s->origin,
                rd->path->str, "%s%s", msg, note);
    g_free(note);
    g_free(msg);
}

void scenario__expect(Rd *rd, const cJSON *found, const char *fmt, ...)
{
    if (rd->failed) return;
    va_list ap;
    va_start(ap, fmt);
    char *expected = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *what = jsonin_found(found);
    scenario__failf(rd, "expected %s; found %s", expected, what);
    g_free(what);
    g_free(expected);
}

bool scenario__keys_known(Rd *rd, const cJSON *obj, const char *const *known)
{
    if (!cJSON_IsObject(obj)) {
        scenario__expect(rd, obj, "an object");
        return false;
    }
    char *msg = NULL;
    const cJSON *bad = jsonin_bad_key(obj, known, JSONIN_KEYS_SUGGEST, &msg);
    if (bad) {
        size_t mark = scenario__push_key(rd, bad->string);
        scenario__failf(rd, "%s", msg);
        scenario__pop(rd, mark);
        g_free(msg);
    }
    return !rd->failed;
}

bool scenario__keys(Rd *rd, const cJSON *obj, const KeyDef *table)
{
    const char **known = keydef_names(table);
    bool ok = scenario__keys_known(rd, obj, known);
    g_free(known);
    return ok;
}

const cJSON *scenario__item(const cJSON *obj, const char *key) { return jsonin_item(obj, key); }

const cJSON *scenario__section(Rd *rd, const cJSON *parent, const KeyDef *table, const char *key)
{
    const KeyDef *d = keydef_get(table, key, KEYDEF_OBJECT);
    const cJSON *v = scenario__item(parent, key);
    if (!v || rd->failed) return NULL;
    size_t mark = scenario__push_key(rd, key);
    bool ok = scenario__keys(rd, v, d->keys);
    scenario__pop(rd, mark);
    return ok ? v : NULL;
}

void scenario__missing(Rd *rd, const char *key, const char *why)
{
    if (!rd->cross) return;
    size_t mark = scenario__push_key(rd, key);
    scenario__failf(rd, "expected a value (%s); found nothing", why);
    scenario__pop(rd, mark);
}

bool scenario__read_int(Rd *rd, const cJSON *obj, const KeyDef *def, int64_t *out)
{
    const char *key = def->name;
    int64_t lo = (int64_t)def->lo, hi = (int64_t)def->hi;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)lo || d > (double)hi) {
        if (hi == INT64_MAX)
            scenario__expect(rd, v, "an integer >= %lld", (long long)lo);
        else
            scenario__expect(rd, v, "an integer from %lld to %lld", (long long)lo, (long long)hi);
    } else {
        *out = (int64_t)d;
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

bool scenario__get_int(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, int64_t *out)
{
    return scenario__read_int(rd, obj, keydef_get(table, key, KEYDEF_INT), out);
}

bool scenario__get_u32(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, uint32_t *out)
{
    const KeyDef *d = keydef_get(table, key, KEYDEF_INT);
    CHECK(d->lo >= 0 && d->hi <= UINT32_MAX, "key %s: bounds beyond uint32", key);
    int64_t v = *out;
    if (!scenario__read_int(rd, obj, d, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

/* The range text of scenario__get_num(): "a number > 0", "a number from 0 to 1"... */
static char *scn_num_range(double lo, bool lo_open, double hi, bool hi_open)
{
    bool lo_inf = isinf(lo), hi_inf = isinf(hi);
    if (lo_inf && hi_inf) return g_strdup("a number");
    if (hi_inf) return g_strdup_printf("a number %s %g", lo_open ? ">" : ">=", lo);
    if (lo_inf) return g_strdup_printf("a number %s %g", hi_open ? "<" : "<=", hi);
    if (!lo_open && !hi_open) return g_strdup_printf("a number from %g to %g", lo, hi);
    return g_strdup_printf("a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
                           hi_open ? ')' : ']');
}

bool scenario__read_num(Rd *rd, const cJSON *obj, const KeyDef *def, double *out)
{
    const char *key = def->name;
    double lo = def->lo, hi = def->hi;
    bool lo_open = def->lo_open, hi_open = def->hi_open;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    double d = v->valuedouble;
    bool ok = cJSON_IsNumber(v) && isfinite(d) && (lo_open ? d > lo : d >= lo) &&
              (hi_open ? d < hi : d <= hi);
    if (ok) {
        *out = d;
    } else {
        char *range = scn_num_range(lo, lo_open, hi, hi_open);
        scenario__expect(rd, v, "%s", range);
        g_free(range);
    }
    scenario__pop(rd, mark);
    return ok;
}

bool scenario__get_num(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, double *out)
{
    return scenario__read_num(rd, obj, keydef_get(table, key, KEYDEF_NUMBER), out);
}

bool scenario__get_bool(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, bool *out)
{
    keydef_get(table, key, KEYDEF_BOOL);
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        scenario__expect(rd, v, "true or false");
    scenario__pop(rd, mark);
    return !rd->failed;
}

bool scenario__get_str(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, char **out)
{
    keydef_get(table, key, KEYDEF_STRING);
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
        g_free(*out);
        *out = g_strdup(v->valuestring);
    } else {
        scenario__expect(rd, v, "a non-empty string");
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

bool scenario__get_choice(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                          const char **out)
{
    int i = 0;
    if (!scenario__get_enum(rd, obj, table, key, &i)) return false;
    *out = keydef_choices(keydef_get(table, key, KEYDEF_ENUM))[i];
    return true;
}

bool scenario__get_enum(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, int *out)
{
    const char *const *names = keydef_choices(keydef_get(table, key, KEYDEF_ENUM));
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    int i = cJSON_IsString(v) ? jsonin_choice_find(v->valuestring, names) : -1;
    if (i >= 0) {
        *out = i;
    } else {
        char *list = jsonin_choice_list(names);
        scenario__expect(rd, v, "one of %s", list);
        g_free(list);
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

/* A duration value: a number of seconds or a string timens_parse() reads. */
static bool scn_duration_of(const cJSON *v, TimeNs *out)
{
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble) || fabs(v->valuedouble) > 9.2e9) return false;
        *out = timens_from_s(v->valuedouble);
        return true;
    }
    return cJSON_IsString(v) && timens_parse(v->valuestring, TIMENS_S, out, NULL);
}

bool scenario__get_duration(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                            TimeNs *out)
{
    return scenario__read_duration(rd, obj, keydef_get(table, key, KEYDEF_DURATION), out);
}

bool scenario__read_duration(Rd *rd, const cJSON *obj, const KeyDef *d, TimeNs *out)
{
    const char *key = d->name;
    TimeNs lo = d->min_ns;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    TimeNs t = 0;
    if (!scn_duration_of(v, &t)) {
        scenario__expect(rd, v, "a duration (seconds, or a string such as \"90s\" or \"2h\")");
    } else if (t < lo) {
        char buf[TIMENS_FORMAT_MAX];
        if (lo == 1)
            scenario__expect(rd, v, "a duration > 0");
        else if (lo == 0)
            scenario__expect(rd, v, "a duration >= 0");
        else
            scenario__expect(rd, v, "a duration >= %s", timens_format(lo, buf, sizeof buf));
    } else {
        *out = t;
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

bool scenario__bitrate_parse(const char *text, double *bps)
{
    static const struct {
        const char *unit; /* suffix as written */
        double factor;    /* bits per second per unit */
    } units[] = {{"", 1},       {"bit", 1},    {"bps", 1},    {"kbit", 1e3}, {"kbps", 1e3},
                 {"Mbit", 1e6}, {"Mbps", 1e6}, {"Gbit", 1e9}, {"Gbps", 1e9}};
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);
    if (end == text || !isfinite(v) || !g_ascii_isdigit(text[0])) return false;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *bps = v * units[i].factor;
            return true;
        }
    }
    return false;
}

char *scenario__bitrate_format(uint64_t bps, char *buf, size_t size)
{
    static const struct {
        const char *unit; /* suffix written */
        uint64_t factor;  /* bits per second per unit */
    } units[] = {{"Gbit", 1000000000}, {"Mbit", 1000000}, {"kbit", 1000}};
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (bps != 0 && bps % units[i].factor == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(bps / units[i].factor),
                     units[i].unit);
            return buf;
        }
    }
    snprintf(buf, size, "%llubit", (unsigned long long)bps);
    return buf;
}

bool scenario__get_bitrate(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                           uint64_t *out)
{
    const KeyDef *d = keydef_get(table, key, KEYDEF_BITRATE);
    uint64_t lo = (uint64_t)d->lo, hi = (uint64_t)d->hi;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    double bps = -1;
    if (cJSON_IsNumber(v))
        bps = v->valuedouble;
    else if (cJSON_IsString(v) && !scenario__bitrate_parse(v->valuestring, &bps))
        bps = -1;
    bps = isfinite(bps) ? round(bps) : -1;
    if (bps < (double)lo || bps > (double)hi) {
        char a[32], b[32];
        scenario__expect(rd, v,
                         "a bit rate from %s to %s (bits per second, or a string such as "
                         "\"512kbit\" or \"1Mbit\")",
                         scenario__bitrate_format(lo, a, sizeof a),
                         scenario__bitrate_format(hi, b, sizeof b));
    } else {
        *out = (uint64_t)bps;
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

bool scenario__get_file(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, char **given,
                        char **resolved)
{
    keydef_get(table, key, KEYDEF_FILE);
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return false;
    size_t mark = scenario__push_key(rd, key);
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        scenario__expect(rd, v, "a file name (relative to the scenario's directory)");
        scenario__pop(rd, mark);
        return false;
    }
    const char *dir = rd->s->base_dir;
    char *path = g_path_is_absolute(v->valuestring) || strcmp(dir, ".") == 0
                     ? g_strdup(v->valuestring)
                     : g_build_filename(dir, v->valuestring, NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        scenario__failf(rd,
                        "expected an existing file (relative to the scenario's directory); "
                        "found \"%s\" (no such file: %s)",
                        v->valuestring, path);
        g_free(path);
    } else {
        g_free(*given);
        g_free(*resolved);
        *given = g_strdup(v->valuestring);
        *resolved = path;
    }
    scenario__pop(rd, mark);
    return !rd->failed;
}

/* ------------------------------------------------------------------------ */
/* Loading, overrides, validation */

/* Malformed JSON is a syntax error. Not const: the quark is made at run time. */
#define scn_syntax ((JsoninErr){SCENARIO_ERROR, SCENARIO_ERROR_SYNTAX})

/* A Scenario holding the parsed text, not yet resolved. */
static Scenario *scn_open(const char *text, const char *origin, const char *base_dir, GError **err)
{
    cJSON *doc = jsonin_parse(text, origin, true, scn_syntax, err);
    if (!doc) return NULL;
    Scenario *s = g_new0(Scenario, 1);
    s->origin = g_strdup(origin);
    s->base_dir = g_strdup(base_dir && base_dir[0] ? base_dir : ".");
    char *base = g_path_get_basename(origin);
    s->default_name =
        g_str_has_suffix(base, ".json") ? g_strndup(base, strlen(base) - 5) : g_strdup(base);
    g_free(base);
    s->doc = doc;
    s->overrides = g_ptr_array_new_with_free_func(scenario__override_free);
    return s;
}

/* Reads the file at path into a new Scenario; NULL with err set. */
static Scenario *scn_open_file(const char *path, GError **err)
{
    const JsoninErr e = {SCENARIO_ERROR, SCENARIO_ERROR_READ};
    char *text = jsonin_read_file(path, 0, " the scenario", e, NULL, err);
    if (!text) return NULL;
    char *dir = g_path_get_dirname(path);
    Scenario *s = scn_open(text, path, dir, err);
    g_free(dir);
    g_free(text);
    return s;
}

/* Resolves s->doc; on success the new resolution replaces the old one. */
static bool scn_resolve(Scenario *s, bool cross, GError **err)
{
    ScenarioResolved *r = scenario__resolve(s, cross, err);
    if (!r) return false;
    scenario__resolved_free(s->resolved);
    s->resolved = r;
    s->validated = cross;
    return true;
}

Scenario *scenario_load(const char *path, GError **err)
{
    return scenario_load_with(path, NULL, err);
}

Scenario *scenario_load_with(const char *path, const char *const *sets, GError **err)
{
    Scenario *s = scn_open_file(path, err);
    if (!s) return NULL;
    for (size_t i = 0; sets && sets[i]; i++) {
        if (!scenario_set(s, sets[i], err)) {
            scenario_free(s);
            return NULL;
        }
    }
    if (!scenario_validate(s, err)) {
        scenario_free(s);
        return NULL;
    }
    return s;
}

Scenario *scenario_load_text(const char *text, const char *origin, const char *base_dir,
                             GError **err)
{
    Scenario *s = scn_open(text, origin, base_dir, err);
    if (s && !scenario_validate(s, err)) {
        scenario_free(s);
        return NULL;
    }
    return s;
}

bool scenario_set(Scenario *s, const char *assignment, GError **err)
{
    cJSON *backup = cJSON_Duplicate(s->doc, true);
    char *path = NULL;
    if (!scenario__doc_set(s->doc, assignment, &path, err)) {
        cJSON_Delete(s->doc);
        s->doc = backup;
        return false;
    }
    ScenarioOverride *o = g_new0(ScenarioOverride, 1);
    o->assignment = g_strdup(assignment);
    o->path = path;
    g_ptr_array_add(s->overrides, o);
    if (!scn_resolve(s, false, err)) {
        g_ptr_array_remove_index(s->overrides, s->overrides->len - 1);
        cJSON_Delete(s->doc);
        s->doc = backup;
        return false;
    }
    cJSON_Delete(backup);
    return true;
}

bool scenario_validate(Scenario *s, GError **err)
{
    return scn_resolve(s, true, err);
}

const ScenarioSpec *scenario_spec_get(const Scenario *s)
{
    CHECK(s->validated, "scenario %s: call scenario_validate() after scenario_set()", s->origin);
    return &s->resolved->spec;
}

void scenario__override_free(gpointer p)
{
    ScenarioOverride *o = p;
    g_free(o->assignment);
    g_free(o->path);
    g_free(o);
}

void scenario_free(Scenario *s)
{
    if (!s) return;
    scenario__resolved_free(s->resolved);
    cJSON_Delete(s->doc);
    g_ptr_array_free(s->overrides, TRUE);
    g_free(s->origin);
    g_free(s->base_dir);
    g_free(s->default_name);
    g_free(s);
}
