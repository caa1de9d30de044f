/* keydef: key tables and the JSON Schema made from them; see keydef.h.
 *
 * Layer: sim/world. The schema is built with cJSON in table order, so the
 * same tables give the same bytes. Strings of durations and bit rates are
 * matched by patterns that follow timens_parse() (units ns, us, ms, s,
 * min, m, h, d) and scenario__bitrate_parse() (bit, bps, kbit, kbps, Mbit,
 * Mbps, Gbit, Gbps); the bounds of such strings are left to the validator,
 * which knows the units.
 */
#include "sim/world/keydef.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/world/jsonin.h"

/* A duration string: a decimal number and an optional unit (seconds). */
#define KEYDEF_DURATION_PATTERN "^[ \\t]*[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)[ \\t]*(ns|us|ms|s|min|m|h|d)?[ \\t]*$"
/* A bit-rate string: a number and an optional unit (bits per second). */
#define KEYDEF_BITRATE_PATTERN "^[0-9][0-9.eE+-]*[ ]*(bit|bps|kbit|kbps|Mbit|Mbps|Gbit|Gbps)?$"

const KeyDef *keydef_find(const KeyDef *table, const char *key)
{
    for (const KeyDef *d = table; d && d->name; d++)
        if (strcmp(d->name, key) == 0) return d;
    return NULL;
}

const KeyDef *keydef_get(const KeyDef *table, const char *key, KeyKind kind)
{
    const KeyDef *d = keydef_find(table, key);
    CHECK(d != NULL, "key \"%s\" is read but not in its key table", key);
    CHECK(d->kind == kind, "key \"%s\" is of kind %d in its table, read as kind %d", key,
          (int)d->kind, (int)kind);
    return d;
}

const char *const *keydef_choices(const KeyDef *d)
{
    return d->choices_fn ? d->choices_fn() : d->choices;
}

const char **keydef_names(const KeyDef *table)
{
    size_t n = 0;
    while (table[n].name)
        n++;
    const char **names = g_new0(const char *, n + 1);
    for (size_t i = 0; i < n; i++)
        names[i] = table[i].name;
    return names;
}

/* ------------------------------------------------------------------------ */
/* Schema */

static cJSON *kd_value(const KeyDef *d);

/* Adds a bound: an integral one as exact digits (cJSON would print
 * 2^53 - 1 with 15 significant digits, a different number). */
static void kd_add_number(cJSON *s, const char *key, double v)
{
    if (v == floor(v) && fabs(v) <= 9007199254740991.0) {
        char buf[32];
        g_snprintf(buf, sizeof buf, "%.0f", v);
        cJSON_AddItemToObject(s, key, cJSON_CreateRaw(buf));
    } else {
        cJSON_AddNumberToObject(s, key, v);
    }
}

/* {"type": "number"} with the bounds of d (infinite ones left out). */
static cJSON *kd_number(const KeyDef *d, const char *type)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", type);
    if (isfinite(d->lo)) kd_add_number(s, d->lo_open ? "exclusiveMinimum" : "minimum", d->lo);
    if (isfinite(d->hi)) kd_add_number(s, d->hi_open ? "exclusiveMaximum" : "maximum", d->hi);
    return s;
}

static cJSON *kd_string(const char *pattern, bool empty_ok)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "string");
    if (!empty_ok) cJSON_AddNumberToObject(s, "minLength", 1);
    if (pattern) cJSON_AddStringToObject(s, "pattern", pattern);
    return s;
}

static cJSON *kd_any_of(cJSON *a, cJSON *b)
{
    cJSON *s = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(s, "anyOf");
    cJSON_AddItemToArray(arr, a);
    cJSON_AddItemToArray(arr, b);
    return s;
}

/* Seconds (a number, at most what a TimeNs holds) or a duration string. */
static cJSON *kd_duration(TimeNs min_ns)
{
    cJSON *num = cJSON_CreateObject();
    cJSON_AddStringToObject(num, "type", "number");
    if (min_ns == 1) cJSON_AddNumberToObject(num, "exclusiveMinimum", 0);
    else cJSON_AddNumberToObject(num, "minimum", timens_to_s(min_ns));
    cJSON_AddNumberToObject(num, "maximum", 9.2e9);
    return kd_any_of(num, kd_string(KEYDEF_DURATION_PATTERN, false));
}

static cJSON *kd_enum(const char *const *choices)
{
    cJSON *s = cJSON_CreateObject();
    cJSON *e = cJSON_AddArrayToObject(s, "enum");
    for (const char *const *c = choices; *c; c++)
        cJSON_AddItemToArray(e, cJSON_CreateString(*c));
    return s;
}

/* A parameter of family f of distribution d (param "max": the cap). */
static cJSON *kd_dist_param(const KeyDef *d, bool zero_family, const char *param)
{
    const KeyDefDist *x = d->dist;
    KeyDef pd = *keydef_get(x->param_defs, param, KEYDEF_NUMBER);
    if (zero_family && strcmp(param, "max") != 0) pd.lo_open = false;
    if (d->time && jsonin_choice_find(param, x->time_params) >= 0) return kd_duration(pd.lo_open ? 1 : 0);
    return kd_number(&pd, "number");
}

/* One family of a distribution: {"dist": family, its parameters, "max"}. */
static cJSON *kd_dist_family(const KeyDef *d, size_t f)
{
    const KeyDefDist *x = d->dist;
    bool zero = x->zero_family && strcmp(x->families[f], x->zero_family) == 0;
    cJSON *s = cJSON_CreateObject();
    cJSON *props = cJSON_AddObjectToObject(s, "properties");
    cJSON *fam = cJSON_AddObjectToObject(props, "dist");
    cJSON_AddStringToObject(fam, "const", x->families[f]);
    cJSON *req = cJSON_AddArrayToObject(s, "required");
    cJSON_AddItemToArray(req, cJSON_CreateString("dist"));
    for (size_t i = 0; i < 3 && x->params[f][i]; i++) {
        cJSON_AddItemToObject(props, x->params[f][i], kd_dist_param(d, zero, x->params[f][i]));
        cJSON_AddItemToArray(req, cJSON_CreateString(x->params[f][i]));
    }
    cJSON_AddItemToObject(props, "max", kd_dist_param(d, zero, "max"));
    cJSON_AddBoolToObject(s, "additionalProperties", false);
    return s;
}

static cJSON *kd_dist(const KeyDef *d)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "object");
    cJSON *req = cJSON_AddArrayToObject(s, "required");
    cJSON_AddItemToArray(req, cJSON_CreateString("dist"));
    cJSON *one = cJSON_AddArrayToObject(s, "oneOf");
    for (size_t f = 0; d->dist->families[f]; f++)
        cJSON_AddItemToArray(one, kd_dist_family(d, f));
    return s;
}

/* A property's schema that also accepts null: "type" gets "null" added
 * when it is a single type; otherwise anyOf [schema, null]. */
static cJSON *kd_nullable(cJSON *s)
{
    cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (cJSON_IsString(type) && !cJSON_GetObjectItemCaseSensitive(s, "oneOf")) {
        cJSON *both = cJSON_CreateArray();
        cJSON_AddItemToArray(both, cJSON_CreateString(type->valuestring));
        cJSON_AddItemToArray(both, cJSON_CreateString("null"));
        cJSON_ReplaceItemInObjectCaseSensitive(s, "type", both);
        return s;
    }
    if (en && !type) {
        cJSON_AddItemToArray(en, cJSON_CreateNull());
        return s;
    }
    cJSON *null = cJSON_CreateObject();
    cJSON_AddStringToObject(null, "type", "null");
    cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
    if (any && !type) { /* already a choice of forms: null is one more */
        cJSON_AddItemToArray(any, null);
        return s;
    }
    return kd_any_of(s, null);
}

static cJSON *kd_object(const KeyDef *table)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(s, "properties");
    cJSON *req = cJSON_CreateArray();
    for (const KeyDef *d = table; d->name; d++) {
        cJSON *v = kd_nullable(kd_value(d));
        if (d->doc) cJSON_AddStringToObject(v, "description", d->doc);
        cJSON_AddItemToObject(props, d->name, v);
        if (d->required) cJSON_AddItemToArray(req, cJSON_CreateString(d->name));
    }
    if (cJSON_GetArraySize(req) > 0) cJSON_AddItemToObject(s, "required", req);
    else cJSON_Delete(req);
    cJSON_AddBoolToObject(s, "additionalProperties", false);
    return s;
}

/* The schema of d's value, before any alternative form. */
static cJSON *kd_value_one(const KeyDef *d)
{
    cJSON *s = NULL;
    switch (d->kind) {
    case KEYDEF_OBJECT:
        s = kd_object(d->keys);
        if (d->exactly_one) {
            cJSON *one = cJSON_AddArrayToObject(s, "oneOf");
            for (const char *const *k = d->exactly_one; *k; k++) {
                cJSON *alt = cJSON_CreateObject();
                cJSON *r = cJSON_AddArrayToObject(alt, "required");
                cJSON_AddItemToArray(r, cJSON_CreateString(*k));
                cJSON_AddItemToArray(one, alt);
            }
        }
        return s;
    case KEYDEF_ARRAY:
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "array");
        cJSON_AddItemToObject(s, "items", kd_value(d->items));
        if (d->min_items) cJSON_AddNumberToObject(s, "minItems", (double)d->min_items);
        if (d->max_items) cJSON_AddNumberToObject(s, "maxItems", (double)d->max_items);
        return s;
    case KEYDEF_MAP:
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "object");
        cJSON_AddItemToObject(s, "additionalProperties", kd_value(d->items));
        return s;
    case KEYDEF_INT: return kd_number(d, "integer");
    case KEYDEF_NUMBER: return kd_number(d, "number");
    case KEYDEF_BOOL:
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "boolean");
        return s;
    case KEYDEF_STRING: return kd_string(d->pattern, d->empty_ok);
    case KEYDEF_FILE: return kd_string(NULL, false);
    case KEYDEF_ENUM: return kd_enum(keydef_choices(d));
    case KEYDEF_DURATION: return kd_duration(d->min_ns);
    case KEYDEF_BITRATE: {
        cJSON *num = kd_number(d, "number");
        return kd_any_of(num, kd_string(KEYDEF_BITRATE_PATTERN, false));
    }
    case KEYDEF_SCALAR:
        s = cJSON_CreateObject();
        cJSON *t = cJSON_AddArrayToObject(s, "type");
        cJSON_AddItemToArray(t, cJSON_CreateString("number"));
        cJSON_AddItemToArray(t, cJSON_CreateString("string"));
        cJSON_AddItemToArray(t, cJSON_CreateString("boolean"));
        return s;
    case KEYDEF_DIST: return kd_dist(d);
    }
    CHECK(false, "key kind %d", (int)d->kind);
    return NULL;
}

/* The schema of d's value: its own form, or anyOf its forms (.alt). */
static cJSON *kd_value(const KeyDef *d)
{
    if (!d->alt) return kd_value_one(d);
    cJSON *s = cJSON_CreateObject();
    cJSON *any = cJSON_AddArrayToObject(s, "anyOf");
    for (const KeyDef *x = d; x; x = x->alt)
        cJSON_AddItemToArray(any, kd_value_one(x));
    return s;
}

cJSON *keydef_schema(const KeyDef *table, const char *title, const char *description)
{
    cJSON *obj = kd_object(table);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "$schema", "http://json-schema.org/draft-07/schema#");
    cJSON_AddStringToObject(s, "title", title);
    cJSON_AddStringToObject(s, "description", description);
    for (cJSON *it = obj->child; it;) {
        cJSON *next = it->next;
        cJSON_AddItemToObject(s, it->string, cJSON_DetachItemViaPointer(obj, it));
        it = next;
    }
    cJSON_Delete(obj);
    return s;
}

char *keydef_schema_text(const KeyDef *table, const char *title, const char *description)
{
    cJSON *s = keydef_schema(table, title, description);
    char *text = cJSON_Print(s);
    char *out = g_strconcat(text, "\n", NULL);
    cJSON_free(text);
    cJSON_Delete(s);
    return out;
}
