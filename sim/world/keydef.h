/* keydef: tables that describe the keys of a user JSON file (scenario,
 * sweep), read by the file's validator and turned into a JSON Schema, so
 * that the schema and the validator cannot disagree on which keys exist,
 * their kinds, their bounds and their choices.
 *
 * Layer: sim/world (GLib, cJSON; the choice lists of sim/net through
 * function pointers). A table is a static const array of KeyDef ended by
 * an entry with name NULL. The validator looks a key up by name
 * (keydef_get(), which CHECKs that the key is in the table and of the kind
 * the reader expects: a key read by code but missing from the table is a
 * programming error, found by the first test that reads it) and takes the
 * bounds from the entry; its unknown-key check lists the table's names.
 * Checks no schema can state (sums of fractions, names that must be
 * unique, cross-key rules) stay in the validator's code.
 *
 * keydef_schema() writes JSON Schema draft-07 (tab-indented by cJSON): objects with
 * "additionalProperties": false, every property also accepting null
 * (the readers take null as "the default"), durations and bit rates as a
 * number or a string of the readers' syntax (patterns below).
 */
#ifndef SKYSIM_KEYDEF_H
#define SKYSIM_KEYDEF_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "protocol/base/timens.h"

typedef enum KeyKind {
    KEYDEF_OBJECT,   /* an object whose keys are .keys */
    KEYDEF_ARRAY,    /* an array of .min_items to .max_items values, each .items */
    KEYDEF_MAP,      /* an object with keys of the user's choosing, each value .items */
    KEYDEF_INT,      /* an integer from .lo to .hi */
    KEYDEF_NUMBER,   /* a finite number from .lo to .hi (.lo_open, .hi_open: ends excluded) */
    KEYDEF_BOOL,     /* true or false */
    KEYDEF_STRING,   /* a non-empty string; .pattern (ECMA regex) only in the schema */
    KEYDEF_ENUM,     /* one of .choices or .choices_fn() */
    KEYDEF_DURATION, /* seconds or a string such as "90s", >= .min_ns */
    KEYDEF_BITRATE,  /* bit/s or a string such as "512kbit", from .lo to .hi bit/s */
    KEYDEF_FILE,     /* a file name (non-empty string) relative to the file's directory */
    KEYDEF_SCALAR,   /* a number, a string or a boolean */
    KEYDEF_DIST,     /* a distribution {"dist": family, parameters, "max"}: keydef_dist */
} KeyKind;

typedef struct KeyDef KeyDef;

/* The distribution families of a KEYDEF_DIST key. */
typedef struct KeyDefDist {
    const char *const *families;       /* family names, NULL-terminated */
    const char *const (*params)[3];    /* parameter keys of each family, NULL-terminated */
    const KeyDef *param_defs;          /* bounds of every parameter (and "max"), as numbers */
    const char *const *time_params;    /* parameters that are durations in a time
                                          distribution, NULL-terminated */
    const char *zero_family;           /* the family whose parameters may be 0 */
} KeyDefDist;

struct KeyDef {
    const char *name;        /* JSON key; NULL ends a table */
    KeyKind kind;            /* what the value is */
    const char *doc;         /* one line for the schema's "description"; may be NULL */
    double lo, hi;           /* bounds of INT, NUMBER, BITRATE (bit/s) */
    bool lo_open, hi_open;   /* NUMBER: the bound itself is excluded */
    TimeNs min_ns;           /* DURATION: smallest value (1: "> 0") */
    const char *const *choices;                /* ENUM: the names, NULL-terminated */
    const char *const *(*choices_fn)(void);    /* ENUM: the names, when another module has them */
    const KeyDef *keys;      /* OBJECT: the keys, a table */
    const KeyDef *items;     /* ARRAY, MAP: what each value is (its name is not used) */
    size_t min_items, max_items; /* ARRAY: bounds on the length (max 0: no bound) */
    const char *pattern;     /* STRING, and each string of an ARRAY of STRING: schema only */
    bool empty_ok;           /* STRING: "" is accepted too */
    const KeyDef *alt;       /* another form also accepted (an ENUM or a number...), or NULL */
    bool required;           /* the key must be given (schema "required") */
    bool time;               /* DIST: parameters are durations */
    const KeyDefDist *dist;  /* DIST: the families */
    const char *const *exactly_one; /* OBJECT: exactly one of these keys, NULL-terminated */
};

/* The entry of key in table, or NULL. */
const KeyDef *keydef_find(const KeyDef *table, const char *key);

/* The entry of key in table; CHECKs that it is there and of kind (a reader
 * asking for a key its table lacks is a programming error). */
const KeyDef *keydef_get(const KeyDef *table, const char *key, KeyKind kind);

/* The choices of an ENUM entry (.choices or .choices_fn()); borrowed. */
const char *const *keydef_choices(const KeyDef *d);

/* The names of table, NULL-terminated, for the unknown-key check. Owned
 * array (g_free), borrowed strings. */
const char **keydef_names(const KeyDef *table);

/* The JSON Schema (draft-07) of a document whose top level is the object
 * table; title and description go into it. Owned (cJSON_Delete). */
cJSON *keydef_schema(const KeyDef *table, const char *title, const char *description);

/* keydef_schema() as text: cJSON_Print()ed, keys in table order, a
 * final newline. Owned (g_free). */
char *keydef_schema_text(const KeyDef *table, const char *title, const char *description);

#endif
