/* scenario_int: what the files of the scenario module share (scenario.c:
 * loading, overrides and the typed reader; scenario_read.c: the sections
 * and the cross-key checks; scenario_json.c: --set paths and the resolved
 * scenario as JSON). Not for use outside sim/world/scenario*.c.
 */
#ifndef SKYSIM_SCENARIO_INT_H
#define SKYSIM_SCENARIO_INT_H

#include "sim/world/jsonin.h"
#include "sim/world/keydef.h"
#include "sim/world/scenario.h"

typedef struct ScenarioOverride {
    char *assignment; /* "path=value" as given to scenario_set() */
    char *path;       /* the path normalised: "$.population.groups[1].nat" */
} ScenarioOverride;

/* A resolution: the public spec plus file names as written in the scenario
 * (the spec holds them joined to the scenario's directory). */
typedef struct ScenarioResolved {
    ScenarioSpec spec;        /* the resolved scenario */
    char *latency_file_given; /* network.latency.file as written; NULL if none */
    char *trace_file_given;   /* churn.trace.file as written; NULL if none */
    char *calibration_given;  /* cost.calibration as written; NULL if none */
} ScenarioResolved;

struct Scenario {
    char *origin;               /* file name as given, used in messages */
    char *base_dir;             /* directory relative file names start from */
    char *default_name;         /* name when the scenario gives none */
    cJSON *doc;                 /* the document, overrides applied; owned */
    GPtrArray *overrides;       /* ScenarioOverride *, in the order applied; owned */
    ScenarioResolved *resolved; /* last successful resolution; NULL before the first */
    bool validated;             /* resolved with the cross-key checks since the last set */
};

/* The reader: walks the document knowing the JSON path of the value at hand.
 * The first error is kept; every later call is a no-op returning false. */
typedef struct Rd {
    const Scenario *s; /* origin, base_dir and overrides, for messages and files */
    GString *path;     /* JSON path of the current value, "$.population" */
    GError **err;      /* where the first error goes */
    bool failed;       /* an error was set */
    bool cross;        /* full validation: also report keys that are missing */
} Rd;

/* Path bookkeeping: push returns a mark that pop goes back to. */
size_t scenario__push_key(Rd *rd, const char *key);
size_t scenario__push_index(Rd *rd, size_t i);
void scenario__pop(Rd *rd, size_t mark);

/* Errors at the current path: failf formats the rest of the line; expect
 * writes "expected <fmt>; found <found>" (found NULL: "nothing"). */
G_GNUC_PRINTF(2, 3) void scenario__failf(Rd *rd, const char *fmt, ...);
G_GNUC_PRINTF(3, 4) void scenario__expect(Rd *rd, const cJSON *found, const char *fmt, ...);
/* A required key is absent. Reported only when rd->cross: an override may
 * add an object whose required keys come with the next overrides. */
void scenario__missing(Rd *rd, const char *key, const char *why);



/* Checks that obj is an object whose keys are all in table (a key table of
 * scenario_keys.c), none twice. */
bool scenario__keys(Rd *rd, const cJSON *obj, const KeyDef *table);
/* As scenario__keys(), with the names known only at run time (region
 * names of a delays map, the parameters of a distribution family). */
bool scenario__keys_known(Rd *rd, const cJSON *obj, const char *const *known);
/* obj[key] (case-sensitive); NULL when obj is not an object, the key is
 * absent or its value is null (null means "the default"). Borrowed. */
const cJSON *scenario__item(const cJSON *obj, const char *key);
/* parent[key], an object section of table, checked with scenario__keys()
 * against the section's own table; NULL when absent or bad. */
const cJSON *scenario__section(Rd *rd, const cJSON *parent, const KeyDef *table, const char *key);

/* Readers of one value, by its key definition d (d->name is the key; the
 * kind and bounds are d's). Each reads obj[d->name]; when it is absent (or
 * null) it leaves *out alone (the default) and returns false; when it is
 * bad it reports an error and returns false; else it stores the value and
 * returns true. */
bool scenario__read_int(Rd *rd, const cJSON *obj, const KeyDef *d, int64_t *out);
bool scenario__read_num(Rd *rd, const cJSON *obj, const KeyDef *d, double *out);
bool scenario__read_duration(Rd *rd, const cJSON *obj, const KeyDef *d, TimeNs *out);

/* Typed getters: the reader of key in table (keydef_get() CHECKs it is
 * there and of the kind named by the getter), as scenario__read_*. */
bool scenario__get_int(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, int64_t *out);
bool scenario__get_u32(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, uint32_t *out);
bool scenario__get_num(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, double *out);
bool scenario__get_bool(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, bool *out);
/* *out: owned string, replaced (old one freed) on success. */
bool scenario__get_str(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, char **out);
/* As scenario__get_enum, but hands back the name matched (static) for the
 * owning module's parser (nat.h, fw.h): no index-to-enum casts. */
bool scenario__get_choice(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                          const char **out);
bool scenario__get_enum(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, int *out);
bool scenario__get_duration(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                            TimeNs *out);
bool scenario__get_bitrate(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                           uint64_t *out);
/* A file that must exist: *given is the name as written, *resolved joined to
 * the scenario's directory; both owned, replaced on success. */
bool scenario__get_file(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key, char **given,
                        char **resolved);

/* "512kbit", "1.5Mbit" (no: "1500kbit"), "64000" to bits per second. */
bool scenario__bitrate_parse(const char *text, double *bps);
/* Exact text of a bit rate: "1Mbit", "512kbit", "1234bit". Returns buf. */
char *scenario__bitrate_format(uint64_t bps, char *buf, size_t size);

/* Resolves s->doc into a new resolution, with the cross-key checks when
 * cross is true. Returns NULL with err set on the first error. */
ScenarioResolved *scenario__resolve(const Scenario *s, bool cross, GError **err);
void scenario__resolved_free(ScenarioResolved *r);

/* Applies "path=value" to doc. *norm_path receives the normalised path
 * (owned by the caller). On error doc may be partly changed (the caller
 * restores it) and err is set. */
bool scenario__doc_set(cJSON *doc, const char *assignment, char **norm_path, GError **err);

void scenario__override_free(gpointer p);

/* "a.b.c.d:port" to an endpoint; false when malformed. */
bool scenario__endpoint_parse(const char *text, ScenarioEndpoint *out);
/* The text of an endpoint; returns buf (at least 22 bytes). */
char *scenario__endpoint_format(ScenarioEndpoint e, char *buf, size_t size);

/* Names of the enum values, NULL-terminated, in enum order. */
extern const char *const scenario__latency_models[];
extern const char *const scenario__cpu_classes[];
extern const double scenario__cpu_speeds[]; /* speed factor of each CPU class */
extern const char *const scenario__sn_modes[];
extern const char *const scenario__dists[];
extern const char *const scenario__dist_params[][3]; /* parameter keys of each family */
extern const char *const scenario__churn_models[];
extern const char *const scenario__trace_formats[];
extern const char *const scenario__trace_on_error[];
extern const char *const scenario__searches[];
extern const char *const scenario__call_locates[];
extern const char *const scenario__codecs[];
extern const char *const scenario__actions[];
extern const char *const scenario__whos[]; /* event targets other than group names */

/* The key tables (scenario_keys.c), one per object of the format. */
extern const KeyDef scenario__keys_root[];
extern const KeyDef scenario__keys_network[];
extern const KeyDef scenario__keys_latency[];
extern const KeyDef scenario__keys_region[];
extern const KeyDef scenario__keys_population[];
extern const KeyDef scenario__keys_group[];
extern const KeyDef scenario__keys_nat[];
extern const KeyDef scenario__keys_supernodes[];
extern const KeyDef scenario__keys_churn[];
extern const KeyDef scenario__keys_trace[];
extern const KeyDef scenario__keys_workload[];
extern const KeyDef scenario__keys_protocol[];
extern const KeyDef scenario__keys_media[];
extern const KeyDef scenario__keys_cost[];
extern const KeyDef scenario__keys_outputs[];
extern const KeyDef scenario__keys_event[];
extern const KeyDef scenario__keys_dist[]; /* "dist" of a distribution object */
/* Bounds of the distribution parameters as numbers (a table), and the
 * parameters that are durations in a time distribution (NULL-terminated). */
const KeyDef *scenario__dist_param_def(void);
const char *const *scenario__dist_time_params(void);

#endif
