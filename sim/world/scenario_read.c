/* scenario_read: the sections of a scenario, their defaults and the
 * cross-key checks; part of the scenario module (see scenario.h).
 *
 * Layer: sim/world. Each section reader starts from the defaults already in
 * the spec and overwrites what the document gives; every key it accepts is
 * listed in its `*_keys` table, which is also what "did you mean" searches.
 * Values a later cross-key check needs to know were absent are NAN until
 * then (group fractions, region shares). Every default here is
 * documented in scenarios/README.md; change both together.
 */
#include "sim/world/scenario_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol/base/check.h"
#include "protocol/node.h"
#include "sim/world/results.h"

const char *const scenario__latency_models[] = {"region", "coordinates", "matrix", NULL};
const char *const scenario__cpu_classes[] = {"embedded", "mobile", "laptop",
                                             "desktop",  "server", NULL};
const double scenario__cpu_speeds[] = {0.25, 0.5, 0.75, 1.0, 2.0};
const char *const scenario__sn_modes[] = {"elected", "dedicated", NULL};
const char *const scenario__dists[] = {"constant", "exponential", "pareto",
                                       "weibull",  "lognormal",   NULL};
const char *const scenario__churn_models[] = {"none", "distribution", "trace", NULL};
const char *const scenario__trace_formats[] = {"fta", "avail", "csv", NULL};
const char *const scenario__trace_on_error[] = {"fail", "skip", NULL};
const char *const scenario__searches[] = {"expanding", "dht", "slots", NULL};
const char *const scenario__call_locates[] = {"index", "flood", NULL}; /* call_locate_flood */
const char *const scenario__codecs[] = {"opus", "skype2004", "g729", NULL};
const char *const scenario__actions[] = {"crash", "logout", "login", NULL};
const char *const scenario__whos[] = {"all", "clients", "supernodes", NULL};

/* Parameter keys of each distribution family, in scenario__dists order. */
const char *const scenario__dist_params[][3] = {{"value", NULL},
                                                {"mean", NULL},
                                                {"shape", "scale", NULL},
                                                {"shape", "scale", NULL},
                                                {"mu", "sigma", NULL}};

/* Default regions: a three-continent Internet; one-way delays in ms,
 * roughly half the round-trip times between continents. */
static const struct {
    const char *name; /* region name */
    double share;     /* share of "any" hosts */
} scn_default_regions[] = {{"na", 0.40}, {"eu", 0.35}, {"as", 0.25}};
static const int scn_default_delay_ms[3][3] = {{15, 45, 85}, {45, 12, 120}, {85, 120, 25}};


/* ------------------------------------------------------------------------ */
/* Small value types */

bool scenario__endpoint_parse(const char *text, ScenarioEndpoint *out)
{
    uint32_t ip = 0;
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        for (; g_ascii_isdigit(*p) && digits < 4; p++, digits++)
            v = v * 10 + (unsigned)(*p - '0');
        if (digits == 0 || digits > 3 || v > 255) return false;
        ip = ip << 8 | v;
        if (*p++ != (i < 3 ? '.' : ':')) return false;
    }
    unsigned port = 0, digits = 0;
    for (; g_ascii_isdigit(*p) && digits < 6; p++, digits++)
        port = port * 10 + (unsigned)(*p - '0');
    if (*p != '\0' || digits == 0 || port == 0 || port > 65535) return false;
    out->ip = ip;
    out->port = (uint16_t)port;
    return true;
}

char *scenario__endpoint_format(ScenarioEndpoint e, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u:%u", e.ip >> 24, (e.ip >> 16) & 255, (e.ip >> 8) & 255,
             e.ip & 255, e.port);
    return buf;
}

/* cpu: a class name or a speed factor in (0, 64] (the key's table entry:
 * the classes, then the number as its alternative form). class_out may
 * be NULL. */
static void scn_read_cpu(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                         char **class_out, double *speed)
{
    const KeyDef *d = keydef_get(table, key, KEYDEF_ENUM);
    const KeyDef *f = d->alt; /* the speed factor */
    CHECK(f && f->kind == KEYDEF_NUMBER && f->lo_open && !f->hi_open, "cpu key %s", key);
    CHECK(keydef_choices(d) == scenario__cpu_classes, "cpu key %s", key);
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, key);
    int i = cJSON_IsString(v) ? jsonin_choice_find(v->valuestring, scenario__cpu_classes) : -1;
    if (i >= 0) {
        *speed = scenario__cpu_speeds[i];
        if (class_out) {
            g_free(*class_out);
            *class_out = g_strdup(scenario__cpu_classes[i]);
        }
    } else if (cJSON_IsNumber(v) && v->valuedouble > f->lo && v->valuedouble <= f->hi) {
        *speed = v->valuedouble;
        if (class_out) g_clear_pointer(class_out, g_free);
    } else {
        char *list = jsonin_choice_list(scenario__cpu_classes);
        scenario__expect(rd, v, "one of %s or a speed factor in (%g, %g]", list, f->lo, f->hi);
        g_free(list);
    }
    scenario__pop(rd, mark);
}

/* ------------------------------------------------------------------------ */
/* network */

/* Installs the default regions and their delay table. */
static void scn_default_network(ScenarioNetwork *n)
{
    n->n_regions = G_N_ELEMENTS(scn_default_regions);
    n->regions = g_new0(ScenarioRegion, n->n_regions);
    n->delay_ns = g_new0(TimeNs, n->n_regions * n->n_regions);
    for (size_t i = 0; i < n->n_regions; i++) {
        n->regions[i].name = g_strdup(scn_default_regions[i].name);
        n->regions[i].share = scn_default_regions[i].share;
        for (size_t j = 0; j < n->n_regions; j++)
            n->delay_ns[i * n->n_regions + j] = scn_default_delay_ms[i][j] * TIMENS_MS;
    }
    n->model = SCENARIO_LATENCY_REGION;
    n->loss = 0;
    n->access_delay_ns = 5 * TIMENS_MS;
    n->jitter_ns = 0;
    n->queue_limit_ns = 250 * TIMENS_MS;
    n->icmp_unreachable = true;
}

static void scn_free_regions(ScenarioNetwork *n)
{
    for (size_t i = 0; i < n->n_regions; i++)
        g_free(n->regions[i].name);
    g_clear_pointer(&n->regions, g_free);
    g_clear_pointer(&n->delay_ns, g_free);
    n->n_regions = 0;
}

/* The name and share of one region; names are unique. */
static void scn_read_region(Rd *rd, const cJSON *v, ScenarioNetwork *n, size_t i)
{
    ScenarioRegion *r = &n->regions[i];
    r->share = NAN;
    if (!scenario__keys(rd, v, scenario__keys_region)) return;
    if (!scenario__get_str(rd, v, scenario__keys_region, "name", &r->name) && !rd->failed) {
        scenario__missing(rd, "name", "every region needs a name");
        r->name = g_strdup_printf("region%zu", i); /* until the next override names it */
    }
    bool clash = !rd->failed && strcmp(r->name, "any") == 0;
    for (size_t j = 0; j < i && !rd->failed; j++)
        clash = clash || strcmp(n->regions[j].name, r->name) == 0;
    if (clash) {
        size_t mark = scenario__push_key(rd, "name");
        scenario__expect(rd, scenario__item(v, "name"),
                         "a region name not used before and not "
                         "\"any\"");
        scenario__pop(rd, mark);
    }
    scenario__get_num(rd, v, scenario__keys_region, "share", &r->share);
}

/* delays of region i: {"other": duration}; fills row i, -1 where absent. */
static void scn_read_delays(Rd *rd, const cJSON *v, ScenarioNetwork *n, size_t i,
                            const char *const *names)
{
    const KeyDef *map = keydef_get(scenario__keys_region, "delays", KEYDEF_MAP);
    const cJSON *d = scenario__item(v, "delays");
    if (!d || rd->failed) return;
    size_t mark = scenario__push_key(rd, "delays");
    bool ok = scenario__keys_known(rd, d, names);
    scenario__pop(rd, mark);
    for (const cJSON *it = ok ? d->child : NULL; it && !rd->failed; it = it->next) {
        int j = jsonin_choice_find(it->string, names);
        KeyDef one = *map->items; /* the delay, under the region's name */
        one.name = it->string;
        scenario__read_duration(rd, d, &one, &n->delay_ns[i * n->n_regions + (size_t)j]);
    }
}

/* regions: replaces the default regions when given. */
static void scn_read_regions(Rd *rd, const cJSON *lat, ScenarioNetwork *n)
{
    const KeyDef *def = keydef_get(scenario__keys_latency, "regions", KEYDEF_ARRAY);
    const cJSON *arr = scenario__item(lat, "regions");
    if (!arr || rd->failed) return;
    size_t mark = scenario__push_key(rd, "regions");
    int count = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || count < (int)def->min_items || count > (int)def->max_items) {
        scenario__expect(rd, arr, "an array of %zu to %zu regions", def->min_items, def->max_items);
        scenario__pop(rd, mark);
        return;
    }
    scn_free_regions(n);
    n->n_regions = (size_t)count;
    n->regions = g_new0(ScenarioRegion, n->n_regions);
    n->delay_ns = g_new(TimeNs, n->n_regions * n->n_regions);
    for (size_t k = 0; k < n->n_regions * n->n_regions; k++)
        n->delay_ns[k] = -1;
    const char **names = g_new0(const char *, n->n_regions + 1);
    for (size_t i = 0; i < n->n_regions && !rd->failed; i++) {
        size_t m = scenario__push_index(rd, i);
        scn_read_region(rd, cJSON_GetArrayItem(arr, (int)i), n, i);
        names[i] = n->regions[i].name;
        scenario__pop(rd, m);
    }
    for (size_t i = 0; i < n->n_regions && !rd->failed; i++) {
        size_t m = scenario__push_index(rd, i);
        scn_read_delays(rd, cJSON_GetArrayItem(arr, (int)i), n, i, names);
        scenario__pop(rd, m);
    }
    g_free(names);
    scenario__pop(rd, mark);
}

static void scn_read_latency(Rd *rd, const cJSON *net, ScenarioResolved *r)
{
    ScenarioNetwork *n = &r->spec.network;
    const cJSON *lat = scenario__section(rd, net, scenario__keys_network, "latency");
    size_t mark = scenario__push_key(rd, "latency");
    int model = (int)n->model;
    scenario__get_enum(rd, lat, scenario__keys_latency, "model", &model);
    n->model = (ScenarioLatencyModel)model;
    scenario__get_file(rd, lat, scenario__keys_latency, "file", &r->latency_file_given, &n->latency_file);
    scn_read_regions(rd, lat, n);
    scenario__pop(rd, mark);
}

static void scn_read_network(Rd *rd, const cJSON *root, ScenarioResolved *r)
{
    ScenarioNetwork *n = &r->spec.network;
    const cJSON *net = scenario__section(rd, root, scenario__keys_root, "network");
    size_t mark = scenario__push_key(rd, "network");
    scn_read_latency(rd, net, r);
    scenario__get_num(rd, net, scenario__keys_network, "loss", &n->loss);
    scenario__get_duration(rd, net, scenario__keys_network, "access_delay", &n->access_delay_ns);
    scenario__get_duration(rd, net, scenario__keys_network, "jitter", &n->jitter_ns);
    scenario__get_duration(rd, net, scenario__keys_network, "queue_limit", &n->queue_limit_ns);
    scenario__get_bool(rd, net, scenario__keys_network, "icmp_unreachable", &n->icmp_unreachable);
    scenario__pop(rd, mark);
}

/* ------------------------------------------------------------------------ */
/* population */

/* Sets nat to preset i of nat_preset_names() (0 = "none"): the behaviour,
 * the timeouts and hairpinning are nat.h's (UDP 2 min, RFC 4787 REQ-5; TCP
 * 124 min, RFC 5382 REQ-5; hairpinning on, RFC 4787 REQ-9, RFC 5382 REQ-8). */
static void scn_nat_preset(ScenarioNat *nat, int i)
{
    const char *name = nat_preset_names()[i];
    CHECK(nat_preset(name, &nat->config), "preset %s", name);
    g_clear_pointer(&nat->preset, g_free);
    nat->preset = i != 0 ? g_strdup(name) : NULL;
}

/* cgn: true: an RFC 6888 carrier-grade NAT (EIM, APDF, random ports,
 * hairpinning as every preset). */
static void scn_cgn_default(ScenarioNat *nat)
{
    scn_nat_preset(nat, jsonin_choice_find("port_restricted_cone", nat_preset_names()));
    nat->config.port_alloc = NAT_PORT_RANDOM;
}

/* The object form of a NAT: a preset to start from and/or explicit fields. */
static void scn_read_nat_object(Rd *rd, const cJSON *v, ScenarioNat *nat)
{
    if (!scenario__keys(rd, v, scenario__keys_nat)) return;
    int i = 0;
    bool has_preset = scenario__get_enum(rd, v, scenario__keys_nat, "preset", &i);
    scn_nat_preset(nat, i + 1);
    if (!has_preset) g_clear_pointer(&nat->preset, g_free);
    NatConfig *c = &nat->config;
    const char *m = NULL, *f = NULL, *p = NULL;
    if (scenario__get_choice(rd, v, scenario__keys_nat, "mapping", &m))
        CHECK(nat_mapping_parse(m, &c->mapping), "mapping %s", m);
    else if (!has_preset && !rd->failed)
        scenario__missing(rd, "mapping", "required when there is no \"preset\"");
    if (scenario__get_choice(rd, v, scenario__keys_nat, "filtering", &f))
        CHECK(nat_filtering_parse(f, &c->filtering), "filtering %s", f);
    else if (!has_preset && !rd->failed)
        scenario__missing(rd, "filtering", "required when there is no \"preset\"");
    if (scenario__get_choice(rd, v, scenario__keys_nat, "ports", &p))
        CHECK(nat_port_alloc_parse(p, &c->port_alloc), "ports %s", p);
    scenario__get_duration(rd, v, scenario__keys_nat, "udp_timeout", &c->udp_timeout_ns);
    scenario__get_duration(rd, v, scenario__keys_nat, "tcp_timeout", &c->tcp_established_ns);
    scenario__get_bool(rd, v, scenario__keys_nat, "hairpin", &c->hairpin);
    scenario__get_bool(rd, v, scenario__keys_nat, "inbound_refresh", &c->inbound_refresh);
}

/* nat or cgn of a group: a preset name, an object, and where the key's
 * table entry also takes a boolean (cgn), true/false. */
static void scn_read_nat(Rd *rd, const cJSON *obj, const char *key, ScenarioNat *nat)
{
    const KeyDef *d = keydef_get(scenario__keys_group, key, KEYDEF_ENUM);
    bool is_cgn = false;
    for (const KeyDef *x = d->alt; x; x = x->alt)
        is_cgn = is_cgn || x->kind == KEYDEF_BOOL;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, key);
    const char *const *presets = nat_preset_names();
    int i = cJSON_IsString(v) ? jsonin_choice_find(v->valuestring, presets) : -1;
    if (is_cgn && cJSON_IsBool(v)) {
        if (cJSON_IsTrue(v))
            scn_cgn_default(nat);
        else
            scn_nat_preset(nat, 0);
    } else if (i >= 0) {
        scn_nat_preset(nat, i);
    } else if (cJSON_IsObject(v)) {
        scn_read_nat_object(rd, v, nat);
    } else {
        char *list = jsonin_choice_list(presets);
        scenario__expect(rd, v, "%sone of %s or an object", is_cgn ? "true, false, " : "", list);
        g_free(list);
    }
    scenario__pop(rd, mark);
}

/* A group's name: unique, and not one of the words events use. */
static void scn_read_group_name(Rd *rd, const cJSON *v, ScenarioPopulation *p, size_t i)
{
    ScenarioGroup *g = &p->groups[i];
    if (!scenario__get_str(rd, v, scenario__keys_group, "name", &g->name)) return;
    bool clash = jsonin_choice_find(g->name, scenario__whos) >= 0;
    for (size_t j = 0; j < i; j++)
        clash = clash || strcmp(p->groups[j].name, g->name) == 0;
    if (clash) {
        size_t mark = scenario__push_key(rd, "name");
        scenario__expect(rd, scenario__item(v, "name"),
                         "a group name not used before and not "
                         "\"all\", \"clients\" or \"supernodes\"");
        scenario__pop(rd, mark);
    }
}

/* The defaults of group i: 1 Mbit/s up, 8 Mbit/s down, a desktop, public. */
static void scn_default_group(ScenarioGroup *g, size_t i)
{
    g->name = g_strdup_printf("group%zu", i);
    g->fraction = NAN;
    g->uplink_bps = 1000000;
    g->downlink_bps = 8000000;
    g->cpu_class = g_strdup("desktop");
    g->cpu_speed = 1.0;
    scn_nat_preset(&g->nat, 0);
    scn_nat_preset(&g->cgn, 0);
    g->cgn_subscribers = 64;
    g->firewall = FW_OPEN;
    g->hosts_per_nat = 1;
    g->region_name = g_strdup("any");
    g->region = -1;
}

static void scn_read_group(Rd *rd, const cJSON *v, ScenarioPopulation *p, size_t i)
{
    ScenarioGroup *g = &p->groups[i];
    if (!scenario__keys(rd, v, scenario__keys_group)) return;
    scn_read_group_name(rd, v, p, i);
    scenario__get_num(rd, v, scenario__keys_group, "fraction", &g->fraction);
    scenario__get_bitrate(rd, v, scenario__keys_group, "uplink_bps", &g->uplink_bps);
    scenario__get_bitrate(rd, v, scenario__keys_group, "downlink_bps", &g->downlink_bps);
    scn_read_cpu(rd, v, scenario__keys_group, "cpu", &g->cpu_class, &g->cpu_speed);
    scn_read_nat(rd, v, "nat", &g->nat);
    scn_read_nat(rd, v, "cgn", &g->cgn);
    scenario__get_u32(rd, v, scenario__keys_group, "cgn_subscribers", &g->cgn_subscribers);
    const char *fw = NULL;
    if (scenario__get_choice(rd, v, scenario__keys_group, "firewall", &fw))
        CHECK(fw_type_parse(fw, &g->firewall), "firewall %s", fw);
    scenario__get_u32(rd, v, scenario__keys_group, "hosts_per_nat", &g->hosts_per_nat);
    scenario__get_str(rd, v, scenario__keys_group, "region", &g->region_name);
}

static void scn_free_groups(ScenarioPopulation *p)
{
    for (size_t i = 0; i < p->n_groups; i++) {
        ScenarioGroup *g = &p->groups[i];
        g_free(g->name);
        g_free(g->cpu_class);
        g_free(g->nat.preset);
        g_free(g->cgn.preset);
        g_free(g->region_name);
    }
    g_clear_pointer(&p->groups, g_free);
    p->n_groups = 0;
}

static void scn_read_groups(Rd *rd, const cJSON *pop, ScenarioPopulation *p)
{
    const KeyDef *def = keydef_get(scenario__keys_population, "groups", KEYDEF_ARRAY);
    const cJSON *arr = scenario__item(pop, "groups");
    if (!arr || rd->failed) return;
    size_t mark = scenario__push_key(rd, "groups");
    int count = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || count < (int)def->min_items || count > (int)def->max_items) {
        scenario__expect(rd, arr, "an array of %zu to %zu groups", def->min_items, def->max_items);
    } else {
        scn_free_groups(p);
        p->n_groups = (size_t)count;
        p->groups = g_new0(ScenarioGroup, p->n_groups);
        for (size_t i = 0; i < p->n_groups; i++)
            scn_default_group(&p->groups[i], i);
        for (size_t i = 0; i < p->n_groups && !rd->failed; i++) {
            size_t m = scenario__push_index(rd, i);
            scn_read_group(rd, cJSON_GetArrayItem(arr, (int)i), p, i);
            scenario__pop(rd, m);
        }
    }
    scenario__pop(rd, mark);
}

static void scn_read_population(Rd *rd, const cJSON *root, ScenarioPopulation *p)
{
    const cJSON *pop = scenario__section(rd, root, scenario__keys_root, "population");
    size_t mark = scenario__push_key(rd, "population");
    int64_t clients = (int64_t)p->clients;
    scenario__get_int(rd, pop, scenario__keys_population, "clients", &clients);
    p->clients = (uint64_t)clients;
    scn_read_groups(rd, pop, p);
    scenario__pop(rd, mark);
}

/* ------------------------------------------------------------------------ */
/* supernodes, churn, workload */

static void scn_read_supernodes(Rd *rd, const cJSON *root, ScenarioSupernodes *sn)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "supernodes");
    size_t mark = scenario__push_key(rd, "supernodes");
    int mode = (int)sn->mode;
    scenario__get_enum(rd, v, scenario__keys_supernodes, "mode", &mode);
    sn->mode = (ScenarioSupernodeMode)mode;
    int64_t count = (int64_t)sn->count;
    scenario__get_int(rd, v, scenario__keys_supernodes, "count", &count);
    sn->count = (uint64_t)count;
    scenario__get_bitrate(rd, v, scenario__keys_supernodes, "min_uplink_bps", &sn->min_uplink_bps);
    scn_read_cpu(rd, v, scenario__keys_supernodes, "min_cpu", NULL, &sn->min_cpu);
    scenario__get_duration(rd, v, scenario__keys_supernodes, "min_uptime", &sn->min_uptime_ns);
    scenario__get_num(rd, v, scenario__keys_supernodes, "nominate_load", &sn->nominate_load);
    scenario__get_u32(rd, v, scenario__keys_supernodes, "capacity", &sn->capacity);
    scenario__pop(rd, mark);
}

/* A distribution parameter, with the bounds of scenario__dist_param_def():
 * a duration in seconds when is_time and the parameter is one of
 * scenario__dist_time_params() (a number of seconds or a duration string),
 * else a plain number; zero_ok: 0 is accepted too (the constant family). */
static bool scn_read_param(Rd *rd, const cJSON *v, const char *key, bool is_time, bool zero_ok,
                           double *out)
{
    KeyDef d = *keydef_get(scenario__dist_param_def(), key, KEYDEF_NUMBER);
    if (zero_ok) d.lo_open = false;
    if (!is_time || jsonin_choice_find(key, scenario__dist_time_params()) < 0)
        return scenario__read_num(rd, v, &d, out);
    KeyDef t = {.name = key, .kind = KEYDEF_DURATION, .min_ns = d.lo_open ? 1 : 0};
    TimeNs ns = 0;
    if (!scenario__read_duration(rd, v, &t, &ns)) return false;
    *out = timens_to_s(ns);
    return true;
}

/* Where parameter `param` of a distribution goes. */
static double *scn_dist_slot(ScenarioDist *d, const char *param)
{
    if (strcmp(param, "value") == 0) return &d->value;
    if (strcmp(param, "mean") == 0) return &d->mean;
    if (strcmp(param, "shape") == 0) return &d->shape;
    if (strcmp(param, "scale") == 0) return &d->scale;
    if (strcmp(param, "mu") == 0) return &d->mu;
    return &d->sigma;
}

/* A distribution {dist, parameters..., max}, key of table; durations when
 * the key's entry says so (time). */
static void scn_read_dist(Rd *rd, const cJSON *obj, const KeyDef *table, const char *key,
                          ScenarioDist *d)
{
    bool is_time = keydef_get(table, key, KEYDEF_DIST)->time;
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, key);
    int kind = 0;
    if (!cJSON_IsObject(v))
        scenario__expect(rd, v,
                         "a distribution object such as "
                         "{\"dist\": \"exponential\", \"mean\": 10}");
    else if (!scenario__get_enum(rd, v, scenario__keys_dist, "dist", &kind) && !rd->failed)
        scenario__missing(rd, "dist", "the distribution family");
    if (rd->failed) {
        scenario__pop(rd, mark);
        return;
    }
    const char *const *params = scenario__dist_params[kind];
    const char *keys[5] = {"dist", params[0], params[1] ? params[1] : "max",
                           params[1] ? "max" : NULL, NULL};
    memset(d, 0, sizeof *d);
    d->kind = (ScenarioDistKind)kind;
    if (scenario__keys_known(rd, v, keys)) {
        char *why = g_strdup_printf("required by dist \"%s\"", scenario__dists[kind]);
        for (size_t i = 0; params[i] && !rd->failed; i++) {
            bool zero_ok = kind == SCENARIO_DIST_CONSTANT;
            if (!scn_read_param(rd, v, params[i], is_time, zero_ok, scn_dist_slot(d, params[i])) &&
                !rd->failed)
                scenario__missing(rd, params[i], why);
        }
        g_free(why);
        scn_read_param(rd, v, "max", is_time, false, &d->max);
    }
    scenario__pop(rd, mark);
}

/* diurnal: 24 hourly weights >= 0, not all zero. */
static void scn_read_diurnal(Rd *rd, const cJSON *obj, double *w)
{
    const KeyDef *def = keydef_get(scenario__keys_churn, "diurnal", KEYDEF_ARRAY);
    CHECK(def->min_items == 24 && def->max_items == 24 && def->items->lo == 0, "diurnal: 24 weights >= 0");
    const cJSON *v = scenario__item(obj, "diurnal");
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, "diurnal");
    double sum = 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 24) {
        scenario__expect(rd, v, "an array of 24 hourly weights >= 0");
    } else {
        for (int h = 0; h < 24 && !rd->failed; h++) {
            const cJSON *x = cJSON_GetArrayItem(v, h);
            size_t m = scenario__push_index(rd, (size_t)h);
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0)
                scenario__expect(rd, x, "a number >= 0");
            else
                sum += (w[h] = x->valuedouble);
            scenario__pop(rd, m);
        }
        if (!rd->failed && sum <= 0)
            scenario__failf(rd, "expected hourly weights with a sum > 0; "
                                "found all zero");
    }
    scenario__pop(rd, mark);
}

static void scn_read_trace(Rd *rd, const cJSON *churn, ScenarioResolved *r)
{
    ScenarioChurn *c = &r->spec.churn;
    const cJSON *v = scenario__section(rd, churn, scenario__keys_churn, "trace");
    size_t mark = scenario__push_key(rd, "trace");
    scenario__get_file(rd, v, scenario__keys_trace, "file", &r->trace_file_given, &c->trace_file);
    int format = (int)c->trace_format;
    scenario__get_enum(rd, v, scenario__keys_trace, "format", &format);
    c->trace_format = (ScenarioTraceFormat)format;
    scenario__get_num(rd, v, scenario__keys_trace, "scale", &c->trace_scale);
    scenario__get_duration(rd, v, scenario__keys_trace, "offset", &c->trace_offset_ns);
    int on_error = c->trace_skip_bad;
    scenario__get_enum(rd, v, scenario__keys_trace, "on_error", &on_error);
    c->trace_skip_bad = on_error == 1;
    scenario__pop(rd, mark);
}

static void scn_read_churn(Rd *rd, const cJSON *root, ScenarioResolved *r)
{
    ScenarioChurn *c = &r->spec.churn;
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "churn");
    size_t mark = scenario__push_key(rd, "churn");
    int model = (int)c->model;
    scenario__get_enum(rd, v, scenario__keys_churn, "model", &model);
    c->model = (ScenarioChurnModel)model;
    scenario__get_duration(rd, v, scenario__keys_churn, "ramp", &c->ramp_ns);
    scn_read_dist(rd, v, scenario__keys_churn, "session", &c->session);
    scn_read_dist(rd, v, scenario__keys_churn, "off_time", &c->off_time);
    scn_read_diurnal(rd, v, c->diurnal);
    scenario__get_num(rd, v, scenario__keys_churn, "start_hour", &c->start_hour);
    scn_read_trace(rd, v, r);
    scenario__pop(rd, mark);
}

static void scn_read_workload(Rd *rd, const cJSON *root, ScenarioWorkload *w)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "workload");
    size_t mark = scenario__push_key(rd, "workload");
    scenario__get_num(rd, v, scenario__keys_workload, "call_rate", &w->call_rate); /* <= 1/s */
    scn_read_dist(rd, v, scenario__keys_workload, "call_duration", &w->call_duration);
    scenario__get_num(rd, v, scenario__keys_workload, "search_rate", &w->search_rate);
    scn_read_dist(rd, v, scenario__keys_workload, "buddies", &w->buddies);
    scenario__get_num(rd, v, scenario__keys_workload, "conference_share", &w->conference_share);
    scenario__get_u32(rd, v, scenario__keys_workload, "conference_size", &w->conference_size);
    scenario__get_num(rd, v, scenario__keys_workload, "pstn_share", &w->pstn_share);
    scenario__get_bool(rd, v, scenario__keys_workload, "conference_mesh", &w->conference_mesh);
    scenario__get_num(rd, v, scenario__keys_workload, "hold_rate", &w->hold_rate);
    scn_read_dist(rd, v, scenario__keys_workload, "hold_duration", &w->hold_duration);
    scenario__pop(rd, mark);
}

/* ------------------------------------------------------------------------ */
/* protocol, media, cost, outputs, events */

/* bootstrap: 1 to 64 distinct "a.b.c.d:port" strings. */
static void scn_read_bootstrap(Rd *rd, const cJSON *obj, ScenarioProtocol *p)
{
    const KeyDef *def = keydef_get(scenario__keys_protocol, "bootstrap", KEYDEF_ARRAY);
    const cJSON *v = scenario__item(obj, "bootstrap");
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, "bootstrap");
    int count = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || count < (int)def->min_items || count > (int)def->max_items) {
        scenario__expect(rd, v, "an array of %zu to %zu addresses such as \"66.235.180.9:33033\"",
                         def->min_items, def->max_items);
        scenario__pop(rd, mark);
        return;
    }
    ScenarioEndpoint *e = g_new0(ScenarioEndpoint, (size_t)count);
    for (int i = 0; i < count && !rd->failed; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        size_t m = scenario__push_index(rd, (size_t)i);
        if (!cJSON_IsString(x) || !scenario__endpoint_parse(x->valuestring, &e[i]))
            scenario__expect(rd, x, "an address such as \"66.235.180.9:33033\"");
        for (int j = 0; j < i && !rd->failed; j++)
            if (e[j].ip == e[i].ip && e[j].port == e[i].port)
                scenario__expect(rd, x, "an address not listed before");
        scenario__pop(rd, m);
    }
    g_free(p->bootstrap);
    p->bootstrap = e;
    p->n_bootstrap = (size_t)count;
    scenario__pop(rd, mark);
}

static void scn_read_endpoint(Rd *rd, const cJSON *obj, const char *key, ScenarioEndpoint *out)
{
    keydef_get(scenario__keys_protocol, key, KEYDEF_STRING);
    const cJSON *v = scenario__item(obj, key);
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, key);
    if (!cJSON_IsString(v) || !scenario__endpoint_parse(v->valuestring, out))
        scenario__expect(rd, v, "an address such as \"80.160.91.11:33033\"");
    scenario__pop(rd, mark);
}

/* search_fanout: 1 to 16 integers from 1 to 1000, one per wave. */
static void scn_read_fanout(Rd *rd, const cJSON *obj, ScenarioProtocol *p)
{
    const KeyDef *def = keydef_get(scenario__keys_protocol, "search_fanout", KEYDEF_ARRAY);
    const KeyDef *wave = def->items;
    const cJSON *v = scenario__item(obj, "search_fanout");
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, "search_fanout");
    int count = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || count < (int)def->min_items || count > (int)def->max_items) {
        scenario__expect(rd, v, "an array of %zu to %zu wave sizes such as [4, 8]", def->min_items,
                         def->max_items);
        scenario__pop(rd, mark);
        return;
    }
    uint32_t *w = g_new0(uint32_t, (size_t)count);
    for (int i = 0; i < count && !rd->failed; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        size_t m = scenario__push_index(rd, (size_t)i);
        if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < wave->lo ||
            x->valuedouble > wave->hi)
            scenario__expect(rd, x, "an integer from %g to %g", wave->lo, wave->hi);
        else
            w[i] = (uint32_t)x->valuedouble;
        scenario__pop(rd, m);
    }
    g_free(p->search_fanout);
    p->search_fanout = w;
    p->n_fanout = (size_t)count;
    scenario__pop(rd, mark);
}

static void scn_read_protocol(Rd *rd, const cJSON *root, ScenarioProtocol *p)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "protocol");
    size_t mark = scenario__push_key(rd, "protocol");
    scenario__get_u32(rd, v, scenario__keys_protocol, "host_cache_size", &p->host_cache_size);
    scn_read_bootstrap(rd, v, p);
    scn_read_endpoint(rd, v, "login_server", &p->login_server);
    scn_read_endpoint(rd, v, "web_server", &p->web_server);
    scn_read_endpoint(rd, v, "phone_gateway", &p->phone_gateway);
    int search = (int)p->search;
    scenario__get_enum(rd, v, scenario__keys_protocol, "search", &search);
    p->search = (ScenarioSearch)search;
    scn_read_fanout(rd, v, p);
    scenario__get_duration(rd, v, scenario__keys_protocol, "search_timeout", &p->search_timeout_ns);
    scenario__get_u32(rd, v, scenario__keys_protocol, "login_rounds", &p->login_rounds);
    scenario__get_duration(rd, v, scenario__keys_protocol, "probe_timeout", &p->probe_timeout_ns);
    scenario__get_duration(rd, v, scenario__keys_protocol, "connect_timeout", &p->connect_timeout_ns);
    scenario__get_duration(rd, v, scenario__keys_protocol, "login_retry_wait", &p->login_retry_wait_ns);
    scenario__get_duration(rd, v, scenario__keys_protocol, "login_pause", &p->login_pause_ns);
    scenario__get_duration(rd, v, scenario__keys_protocol, "keepalive", &p->keepalive_ns);
    scenario__get_u32(rd, v, scenario__keys_protocol, "keepalive_misses", &p->keepalive_misses);
    scenario__get_u32(rd, v, scenario__keys_protocol, "alt_nodes", &p->alt_nodes);
    scenario__get_duration(rd, v, scenario__keys_protocol, "presence_ttl", &p->presence_ttl_ns);
    scenario__get_u32(rd, v, scenario__keys_protocol, "slot_size", &p->slot_size);
    scenario__get_duration(rd, v, scenario__keys_protocol, "index_republish", &p->index_republish_ns);
    scenario__get_bool(rd, v, scenario__keys_protocol, "ring_exchange", &p->ring_exchange);
    int flood = p->call_locate_flood;
    scenario__get_enum(rd, v, scenario__keys_protocol, "call_locate", &flood);
    p->call_locate_flood = flood != 0;
    scenario__get_bitrate(rd, v, scenario__keys_protocol, "relay_bandwidth", &p->relay_bandwidth_bps);
    scenario__pop(rd, mark);
}

/* Sets the defaults of codec profile c: the protocol's default stream
 * (node_params_default()) for opus, the measured profiles for the others. */
static void scn_codec_profile(ScenarioMedia *m, ScenarioCodec c)
{
    static const struct {
        uint64_t bps; /* bit rate, bits per second */
        int frame_ms; /* frame, milliseconds */
        bool fec;     /* forward error correction */
    } prof[] = {[SCENARIO_CODEC_SKYPE2004] = {32000, 20, true},
                [SCENARIO_CODEC_G729] = {8000, 10, false}}; /* media.c pins 10 ms */
    NodeParams np;
    node_params_default(&np);
    CHECK(np.media.profile == MEDIA_PROFILE_OPUS, "default profile %d", (int)np.media.profile);
    m->codec = c;
    m->bitrate_bps = c == SCENARIO_CODEC_OPUS ? np.media.bitrate_bps : prof[c].bps;
    m->frame_ns = c == SCENARIO_CODEC_OPUS ? np.media.frame_ns : prof[c].frame_ms * TIMENS_MS;
    m->fec = c == SCENARIO_CODEC_OPUS ? np.media.fec : prof[c].fec;
    m->fec_inband = false;
    m->silence_suppression = np.media.silence_suppression;
    m->replay = np.media.replay;
}

/* frame: one of the frame durations libopus encodes. */
static void scn_read_frame(Rd *rd, const cJSON *obj, ScenarioMedia *m)
{
    static const TimeNs frames_us[] = {2500, 5000, 10000, 20000, 40000, 60000};
    TimeNs t = m->frame_ns;
    if (!scenario__get_duration(rd, obj, scenario__keys_media, "frame", &t)) return;
    for (size_t i = 0; i < G_N_ELEMENTS(frames_us); i++) {
        if (t == frames_us[i] * TIMENS_US) {
            m->frame_ns = t;
            return;
        }
    }
    size_t mark = scenario__push_key(rd, "frame");
    scenario__expect(rd, scenario__item(obj, "frame"),
                     "one of \"2.5ms\", \"5ms\", \"10ms\", \"20ms\", \"40ms\", \"60ms\"");
    scenario__pop(rd, mark);
}

static void scn_read_media(Rd *rd, const cJSON *root, ScenarioMedia *m)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "media");
    size_t mark = scenario__push_key(rd, "media");
    int codec = (int)m->codec;
    if (scenario__get_enum(rd, v, scenario__keys_media, "codec", &codec))
        scn_codec_profile(m, (ScenarioCodec)codec);
    scenario__get_bitrate(rd, v, scenario__keys_media, "bitrate", &m->bitrate_bps);
    scn_read_frame(rd, v, m);
    scenario__get_bool(rd, v, scenario__keys_media, "fec", &m->fec);
    int fec_mode = m->fec_inband ? 1 : 0;
    if (scenario__get_enum(rd, v, scenario__keys_media, "fec_mode", &fec_mode)) {
        m->fec_inband = fec_mode == 1;
        if (m->fec_inband && m->codec != SCENARIO_CODEC_OPUS) {
            size_t k = scenario__push_key(rd, "fec_mode");
            scenario__expect(rd, scenario__item(v, "fec_mode"),
                             "\"redundant\" (in-band FEC is opus's: codec \"opus\")");
            scenario__pop(rd, k);
        }
    }
    scenario__get_bool(rd, v, scenario__keys_media, "silence_suppression", &m->silence_suppression);
    int exec = m->replay ? 1 : 0;
    if (scenario__get_enum(rd, v, scenario__keys_media, "execution", &exec)) m->replay = exec == 1;
    scenario__pop(rd, mark);
}

/* The protocol's voice stream of media section m (world.c builds the same). */
static MediaConfig scn_media_config(const ScenarioMedia *m)
{
    return (MediaConfig){.profile = m->codec == SCENARIO_CODEC_SKYPE2004 ? MEDIA_PROFILE_SKYPE2004
                                    : m->codec == SCENARIO_CODEC_G729    ? MEDIA_PROFILE_G729
                                                                         : MEDIA_PROFILE_OPUS,
                         .bitrate_bps = (uint32_t)m->bitrate_bps,
                         .frame_ns = m->frame_ns,
                         .fec = m->fec,
                         .fec_inband = m->fec_inband,
                         .silence_suppression = m->silence_suppression,
                         .replay = m->replay};
}

/* protocol.relay_bandwidth when not given: what carries the media section's
 * stream without loss (media_relay_cap_default, a48). */
static void scn_default_relay_bandwidth(ScenarioSpec *sp)
{
    if (sp->protocol.relay_bandwidth_bps) return;
    MediaConfig mc = scn_media_config(&sp->media);
    sp->protocol.relay_bandwidth_bps = 8 * (uint64_t)media_relay_cap_default(&mc);
}

static void scn_read_cost(Rd *rd, const cJSON *root, ScenarioResolved *r)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "cost");
    size_t mark = scenario__push_key(rd, "cost");
    scenario__get_file(rd, v, scenario__keys_cost, "calibration", &r->calibration_given, &r->spec.calibration);
    scenario__pop(rd, mark);
}

static void scn_read_outputs(Rd *rd, const cJSON *root, ScenarioOutputs *o)
{
    const cJSON *v = scenario__section(rd, root, scenario__keys_root, "outputs");
    size_t mark = scenario__push_key(rd, "outputs");
    scenario__get_duration(rd, v, scenario__keys_outputs, "timeseries_interval", &o->timeseries_interval_ns);
    scenario__get_str(rd, v, scenario__keys_outputs, "pcap", &o->pcap);
    scenario__get_str(rd, v, scenario__keys_outputs, "pcap_at", &o->pcap_at);
    scenario__get_str(rd, v, scenario__keys_outputs, "trace", &o->trace);
    scenario__pop(rd, mark);
}

/* outputs.pcap_at: every point "access", "core", "node:ID" (digits; the
 * world checks the range) or "group:NAME" of an existing group. */
static void scn_check_pcap_at(Rd *rd, const cJSON *root, const ScenarioSpec *sp)
{
    char **pts = g_strsplit(sp->outputs.pcap_at, ",", -1);
    const char *bad = pts[0] ? NULL : "";
    for (char **p = pts; *p && !bad; p++) {
        const char *x = *p;
        bool ok = strcmp(x, "access") == 0 || strcmp(x, "core") == 0;
        if (g_str_has_prefix(x, "node:"))
            ok = x[5] && strspn(x + 5, "0123456789") == strlen(x + 5) && strlen(x + 5) < 10;
        for (size_t g = 0; g_str_has_prefix(x, "group:") && g < sp->population.n_groups; g++)
            ok = ok || strcmp(x + 6, sp->population.groups[g].name) == 0;
        if (!ok) bad = x;
    }
    if (bad) {
        size_t mark = scenario__push_key(rd, "outputs");
        scenario__push_key(rd, "pcap_at");
        scenario__expect(rd, scenario__item(scenario__item(root, "outputs"), "pcap_at"),
                         "comma-separated capture points \"access\", \"core\", \"node:ID\" "
                         "(an id of nodes.csv) or \"group:NAME\" (a population group); \"%s\" is none",
                         bad);
        scenario__pop(rd, mark);
    }
    g_strfreev(pts);
}

static void scn_read_event(Rd *rd, const cJSON *v, ScenarioEvent *e)
{
    e->fraction = 1;
    e->target = g_strdup("all");
    if (!scenario__keys(rd, v, scenario__keys_event)) return;
    if (!scenario__get_duration(rd, v, scenario__keys_event, "at", &e->at_ns) && !rd->failed)
        scenario__missing(rd, "at", "the time of the event");
    int action = 0;
    if (!scenario__get_enum(rd, v, scenario__keys_event, "action", &action) && !rd->failed)
        scenario__missing(rd, "action", "one of \"crash\", \"logout\", \"login\"");
    e->action = (ScenarioEventAction)action;
    scenario__get_str(rd, v, scenario__keys_event, "who", &e->target);
    scenario__get_num(rd, v, scenario__keys_event, "fraction", &e->fraction);
    scenario__get_duration(rd, v, scenario__keys_event, "spread", &e->spread_ns);
}

static void scn_read_events(Rd *rd, const cJSON *root, ScenarioSpec *sp)
{
    const KeyDef *def = keydef_get(scenario__keys_root, "events", KEYDEF_ARRAY);
    const cJSON *v = scenario__item(root, "events");
    if (!v || rd->failed) return;
    size_t mark = scenario__push_key(rd, "events");
    int count = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || count > (int)def->max_items) {
        scenario__expect(rd, v, "an array of at most %zu events", def->max_items);
    } else {
        sp->n_events = (size_t)count;
        sp->events = g_new0(ScenarioEvent, sp->n_events);
        for (size_t i = 0; i < sp->n_events && !rd->failed; i++) {
            size_t m = scenario__push_index(rd, i);
            scn_read_event(rd, cJSON_GetArrayItem(v, (int)i), &sp->events[i]);
            scenario__pop(rd, m);
        }
    }
    scenario__pop(rd, mark);
}

/* ------------------------------------------------------------------------ */
/* The whole document */

static ScenarioEndpoint scn_endpoint(EnvAddr a) { return (ScenarioEndpoint){a.ip, a.port}; }

/* The protocol defaults are the protocol's own, node_params_default()
 * (protocol/node.c says where each number comes from); the scenario only
 * overrides them, and scenarios/README.md documents the same values
 * (test_scenario checks the two agree). */
static void scn_default_protocol(ScenarioProtocol *p)
{
    NodeParams np;
    node_params_default(&np);
    *p = (ScenarioProtocol){
        .host_cache_size = np.hostcache_cap,
        .login_server = scn_endpoint(np.login_server),
        .web_server = scn_endpoint(np.web_server),
        .phone_gateway = scn_endpoint(np.gateway),
        .search = (ScenarioSearch)np.search_mode,
        .search_timeout_ns = np.search_timeout_ns,
        .login_rounds = np.login_rounds,
        .probe_timeout_ns = np.probe_wait_ns,
        .connect_timeout_ns = np.tcp_timeout_ns,
        .login_retry_wait_ns = np.round_wait_ns,
        .login_pause_ns = np.login_pause_ns,
        .keepalive_ns = np.keepalive_ns,
        .keepalive_misses = np.keepalive_misses,
        .alt_nodes = np.alt_targets,
        .presence_ttl_ns = np.presence_ttl_ns,
        .slot_size = np.slot_size,
        .index_republish_ns = np.index_republish_ns,
        .ring_exchange = np.ring_exchange,
        .call_locate_flood = np.call_locate_flood};
    p->n_bootstrap = np.n_bootstrap;
    p->bootstrap = g_new0(ScenarioEndpoint, p->n_bootstrap);
    for (size_t i = 0; i < p->n_bootstrap; i++)
        p->bootstrap[i] = scn_endpoint(np.bootstrap[i]);
    p->n_fanout = np.search_waves;
    p->search_fanout = g_new0(uint32_t, p->n_fanout);
    for (size_t i = 0; i < p->n_fanout; i++)
        p->search_fanout[i] = np.search_fanout[i];
}

/* Every default of the format (scenarios/README.md lists them). */
static void scn_defaults(ScenarioSpec *sp, const char *name)
{
    sp->name = g_strdup(name);
    sp->description = g_strdup("");
    sp->seed = 1;
    sp->duration_ns = TIMENS_H;
    scn_default_network(&sp->network);
    sp->population.clients = 1000;
    sp->population.n_groups = 1;
    sp->population.groups = g_new0(ScenarioGroup, 1);
    scn_default_group(&sp->population.groups[0], 0);
    sp->supernodes = (ScenarioSupernodes){.mode = SCENARIO_SN_ELECTED,
                                          .min_uplink_bps = 1000000,
                                          .min_cpu = 1.0,
                                          .min_uptime_ns = 10 * TIMENS_MIN,
                                          .nominate_load = 0.9,
                                          .capacity = 500};
    ScenarioChurn *c = &sp->churn;
    c->ramp_ns = 60 * TIMENS_S;
    c->session = (ScenarioDist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 3600};
    c->off_time = (ScenarioDist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 7200};
    for (int h = 0; h < 24; h++)
        c->diurnal[h] = 1;
    c->trace_format = SCENARIO_TRACE_CSV;
    sp->outputs.pcap_at = g_strdup("access");
    c->trace_scale = 1;
    ScenarioWorkload *w = &sp->workload;
    w->call_rate = 0.5;
    w->call_duration = (ScenarioDist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 180};
    w->search_rate = 0.2;
    w->buddies =
        (ScenarioDist){.kind = SCENARIO_DIST_LOGNORMAL, .mu = 2.7, .sigma = 0.9, .max = 500};
    w->conference_size = 3;
    w->hold_duration = (ScenarioDist){.kind = SCENARIO_DIST_EXPONENTIAL, .mean = 30};
    scn_default_protocol(&sp->protocol);
    scn_codec_profile(&sp->media, SCENARIO_CODEC_OPUS);
    sp->outputs.timeseries_interval_ns = 60 * TIMENS_S;
}

/* Output safety (README.md, "Running a scenario"): names that become file names. $.name is part of the
 * default results directory (results/NAME-SEED) and the output files are
 * files in it; results.h says which names are safe. A default name taken
 * from the scenario's file name is made safe instead of refused. */
static void scn_check_file_names(Rd *rd, const cJSON *root, ScenarioSpec *sp)
{
    const cJSON *name = scenario__item(root, "name");
    if (!name) {
        char *safe = results_label_make_safe(sp->name);
        g_free(sp->name);
        sp->name = safe;
    }
    if (name && !rd->failed && !results_label_is_safe(sp->name)) {
        size_t mark = scenario__push_key(rd, "name");
        scenario__expect(rd, name, "a name of " RESULTS_LABEL_RULE);
        scenario__pop(rd, mark);
    }
    if (!rd->failed) scn_check_pcap_at(rd, root, sp);
    static const char *const names[] = {"pcap", "trace"};
    const char *files[] = {sp->outputs.pcap, sp->outputs.trace};
    for (size_t i = 0; i < G_N_ELEMENTS(names) && !rd->failed; i++) {
        bool same = i == 1 && files[0] && files[1] && strcmp(files[0], files[1]) == 0;
        if (!files[i] || (results_name_is_free(files[i]) && !same)) continue;
        size_t mark = scenario__push_key(rd, "outputs");
        scenario__push_key(rd, names[i]);
        scenario__expect(rd, scenario__item(scenario__item(root, "outputs"), names[i]),
                         same ? "a file name other than that of outputs.pcap"
                              : "a plain file name (no \"/\", not \".\" or \"..\") other than "
                                RESULTS_OWN_NAMES);
        scenario__pop(rd, mark);
    }
}

static void scn_read_root(Rd *rd, const cJSON *root, ScenarioResolved *r)
{
    ScenarioSpec *sp = &r->spec;
    if (!scenario__keys(rd, root, scenario__keys_root)) return;
    scenario__get_str(rd, root, scenario__keys_root, "name", &sp->name);
    keydef_get(scenario__keys_root, "description", KEYDEF_STRING);
    const cJSON *d = scenario__item(root, "description");
    if (d && !cJSON_IsString(d)) {
        size_t mark = scenario__push_key(rd, "description");
        scenario__expect(rd, d, "a string");
        scenario__pop(rd, mark);
    } else if (d) {
        g_free(sp->description);
        sp->description = g_strdup(d->valuestring);
    }
    int64_t seed = (int64_t)sp->seed;
    scenario__get_int(rd, root, scenario__keys_root, "seed", &seed);
    sp->seed = (uint64_t)seed;
    scenario__get_duration(rd, root, scenario__keys_root, "duration", &sp->duration_ns);
    scenario__get_duration(rd, root, scenario__keys_root, "warmup", &sp->warmup_ns);
    scn_read_network(rd, root, r);
    scn_read_population(rd, root, &sp->population);
    scn_read_supernodes(rd, root, &sp->supernodes);
    scn_read_churn(rd, root, r);
    scn_read_workload(rd, root, &sp->workload);
    scn_read_protocol(rd, root, &sp->protocol);
    scn_read_media(rd, root, &sp->media);
    if (!rd->failed) scn_default_relay_bandwidth(sp);
    scn_read_cost(rd, root, r);
    scn_read_outputs(rd, root, &sp->outputs);
    scn_read_events(rd, root, sp);
    scn_check_file_names(rd, root, sp);
}

/* ------------------------------------------------------------------------ */
/* Cross-key checks: run by scenario_validate() only */

/* Moves rd to an absolute path built from fmt. */
G_GNUC_PRINTF(2, 3) static void scn_at(Rd *rd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_string_vprintf(rd->path, fmt, ap);
    va_end(ap);
}

/* doc.a.b[i].c style lookups for "found ..." in cross-key messages. */
static const cJSON *scn_doc_group(const Rd *rd, size_t i, const char *key)
{
    const cJSON *groups = scenario__item(scenario__item(rd->s->doc, "population"), "groups");
    return scenario__item(cJSON_GetArrayItem(groups, (int)i), key);
}

/* Fractions of n items under path (key "fraction" or "share"): NAN means
 * absent; a single item then gets 1, with more each must be given; they
 * must sum to 1 within 1e-9. */
static void scn_check_fractions(Rd *rd, const char *path, const char *key, const char *why,
                                double **f, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n && !rd->failed; i++) {
        if (isnan(*f[i]) && n == 1) *f[i] = 1;
        scn_at(rd, "%s[%zu]", path, i);
        if (isnan(*f[i])) scenario__missing(rd, key, why);
        sum += *f[i];
    }
    scn_at(rd, "%s", path);
    if (!rd->failed && fabs(sum - 1) > 1e-9)
        scenario__failf(rd, "expected %ss summing to 1; found a sum of %.10g", key, sum);
}

static void scn_check_delays(Rd *rd, ScenarioNetwork *n)
{
    size_t k = n->n_regions;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            if (n->delay_ns[i * k + j] < 0) n->delay_ns[i * k + j] = n->delay_ns[j * k + i];
    for (size_t i = 0; i < k * k && !rd->failed; i++) {
        if (n->delay_ns[i] >= 0) continue;
        if (n->model != SCENARIO_LATENCY_REGION) {
            n->delay_ns[i] = 0;
            continue;
        }
        scn_at(rd, "$.network.latency.regions[%zu].delays", i / k);
        scenario__failf(rd,
                        "expected a one-way delay to region \"%s\" (or one from it, for "
                        "model \"region\"); found nothing",
                        n->regions[i % k].name);
    }
}

static void scn_check_network(Rd *rd, ScenarioNetwork *n)
{
    double **shares = g_new(double *, n->n_regions);
    for (size_t i = 0; i < n->n_regions; i++)
        shares[i] = &n->regions[i].share;
    scn_check_fractions(rd, "$.network.latency.regions", "share",
                        "required when there is more than one region", shares, n->n_regions);
    g_free(shares);
    scn_check_delays(rd, n);
    scn_at(rd, "$.network.latency");
    if (!rd->failed && n->model == SCENARIO_LATENCY_MATRIX && !n->latency_file)
        scenario__missing(rd, "file", "the delay matrix, required by model \"matrix\"");
    if (!rd->failed && n->model == SCENARIO_LATENCY_COORDINATES && !n->latency_file)
        scenario__missing(rd, "file", "the coordinate file, required by model \"coordinates\"");
}

/* Splits the clients over the groups by largest remainder (ties: first group). */
static void scn_apportion(ScenarioPopulation *p)
{
    uint64_t given = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
        p->groups[i].clients = (uint64_t)floor(p->groups[i].fraction * (double)p->clients);
        given += p->groups[i].clients;
    }
    bool *bumped = g_new0(bool, p->n_groups);
    for (; given < p->clients; given++) {
        size_t best = 0;
        double best_rem = -1;
        for (size_t i = 0; i < p->n_groups; i++) {
            double exact = p->groups[i].fraction * (double)p->clients;
            double rem = exact - floor(exact);
            if (!bumped[i] && rem > best_rem) {
                best = i;
                best_rem = rem;
            }
        }
        bumped[best] = true;
        p->groups[best].clients++;
    }
    g_free(bumped);
}

/* A group's region name: "any" or a region. */
static void scn_check_group_region(Rd *rd, const ScenarioNetwork *n, ScenarioGroup *g, size_t i)
{
    if (strcmp(g->region_name, "any") == 0) return;
    const char **names = g_new0(const char *, n->n_regions + 2);
    names[0] = "any";
    for (size_t j = 0; j < n->n_regions; j++)
        names[j + 1] = n->regions[j].name;
    int k = jsonin_choice_find(g->region_name, names);
    if (k > 0) {
        g->region = k - 1;
    } else {
        char *list = jsonin_choice_list(names);
        scn_at(rd, "$.population.groups[%zu].region", i);
        scenario__expect(rd, scn_doc_group(rd, i, "region"),
                         "one of %s (the regions of "
                         "$.network.latency.regions)",
                         list);
        g_free(list);
    }
    g_free(names);
}

static void scn_check_population(Rd *rd, ScenarioSpec *sp)
{
    ScenarioPopulation *p = &sp->population;
    double **fractions = g_new(double *, p->n_groups);
    for (size_t i = 0; i < p->n_groups; i++)
        fractions[i] = &p->groups[i].fraction;
    scn_check_fractions(rd, "$.population.groups", "fraction",
                        "required when there is more than one group", fractions, p->n_groups);
    g_free(fractions);
    for (size_t i = 0; i < p->n_groups && !rd->failed; i++) {
        ScenarioGroup *g = &p->groups[i];
        scn_check_group_region(rd, &sp->network, g, i);
        scn_at(rd, "$.population.groups[%zu].hosts_per_nat", i);
        if (g->hosts_per_nat > 1 && !g->nat.config.enabled)
            scenario__expect(rd, scn_doc_group(rd, i, "hosts_per_nat"),
                             "1 when \"nat\" is \"none\" (hosts sharing an address need a NAT)");
    }
    if (!rd->failed) scn_apportion(p);
}

/* Events: before the end, aimed at someone who exists; then sorted by time. */
static void scn_check_events(Rd *rd, ScenarioSpec *sp)
{
    const cJSON *arr = scenario__item(rd->s->doc, "events");
    for (size_t i = 0; i < sp->n_events && !rd->failed; i++) {
        ScenarioEvent *e = &sp->events[i];
        const cJSON *v = cJSON_GetArrayItem(arr, (int)i);
        char buf[TIMENS_FORMAT_MAX];
        scn_at(rd, "$.events[%zu].at", i);
        if (e->at_ns >= sp->duration_ns)
            scenario__expect(rd, scenario__item(v, "at"), "a time before $.duration (%s)",
                             timens_format(sp->duration_ns, buf, sizeof buf));
        int who = jsonin_choice_find(e->target, scenario__whos);
        e->who = who >= 0 ? (ScenarioEventWho)who : SCENARIO_WHO_GROUP;
        for (size_t g = 0; who < 0 && g < sp->population.n_groups; g++)
            if (strcmp(sp->population.groups[g].name, e->target) == 0) {
                e->group = (int)g;
                who = 0;
            }
        scn_at(rd, "$.events[%zu].who", i);
        if (who < 0)
            scenario__expect(rd, scenario__item(v, "who"),
                             "one of \"all\", \"clients\", "
                             "\"supernodes\" or the name of a population group");
    }
    for (size_t i = 1; i < sp->n_events; i++) /* insertion sort: stable, few events */
        for (size_t j = i; j > 0 && sp->events[j - 1].at_ns > sp->events[j].at_ns; j--) {
            ScenarioEvent t = sp->events[j];
            sp->events[j] = sp->events[j - 1];
            sp->events[j - 1] = t;
        }
}

#define SCN_TS_ROWS_MAX 100000 /* time-series rows a run may write */

static void scn_cross(Rd *rd, ScenarioResolved *r)
{
    ScenarioSpec *sp = &r->spec;
    char buf[TIMENS_FORMAT_MAX];
    scn_at(rd, "$.warmup");
    if (sp->warmup_ns >= sp->duration_ns)
        scenario__expect(rd, scenario__item(rd->s->doc, "warmup"),
                         "a duration shorter than $.duration (%s)",
                         timens_format(sp->duration_ns, buf, sizeof buf));
    /* A floor on the time-series interval: at most SCN_TS_ROWS_MAX rows, so
     * that a typo ("1ms" for "1min") cannot fill the disk. */
    const cJSON *outs = scenario__item(rd->s->doc, "outputs");
    if (!rd->failed && sp->outputs.timeseries_interval_ns < sp->duration_ns / SCN_TS_ROWS_MAX) {
        char dur[TIMENS_FORMAT_MAX];
        scn_at(rd, "$.outputs.timeseries_interval");
        scenario__expect(rd, scenario__item(outs, "timeseries_interval"),
                         "an interval of at least %s ($.duration %s / %d rows)",
                         timens_format((sp->duration_ns + SCN_TS_ROWS_MAX - 1) / SCN_TS_ROWS_MAX,
                                       buf, sizeof buf),
                         timens_format(sp->duration_ns, dur, sizeof dur), SCN_TS_ROWS_MAX);
    }
    scn_check_network(rd, &sp->network);
    scn_check_population(rd, sp);
    const cJSON *sn = scenario__item(rd->s->doc, "supernodes");
    scn_at(rd, "$.supernodes");
    if (!rd->failed && sp->supernodes.mode == SCENARIO_SN_DEDICATED && sp->supernodes.count == 0) {
        if (scenario__item(sn, "count")) {
            scn_at(rd, "$.supernodes.count");
            scenario__expect(rd, scenario__item(sn, "count"),
                             "an integer >= 1 when mode is "
                             "\"dedicated\"");
        } else {
            scenario__missing(rd, "count", "required when mode is \"dedicated\"");
        }
    }
    scn_at(rd, "$.churn.trace");
    if (!rd->failed && sp->churn.model == SCENARIO_CHURN_TRACE && !sp->churn.trace_file)
        scenario__missing(rd, "file", "required when $.churn.model is \"trace\"");
    scn_check_events(rd, sp);
}

ScenarioResolved *scenario__resolve(const Scenario *s, bool cross, GError **err)
{
    ScenarioResolved *r = g_new0(ScenarioResolved, 1);
    scn_defaults(&r->spec, s->default_name);
    Rd rd = {.s = s, .path = g_string_new("$"), .err = err, .failed = false, .cross = cross};
    scn_read_root(&rd, s->doc, r);
    if (cross && !rd.failed) scn_cross(&rd, r);
    g_string_free(rd.path, TRUE);
    if (rd.failed) {
        scenario__resolved_free(r);
        return NULL;
    }
    return r;
}

void scenario__resolved_free(ScenarioResolved *r)
{
    if (!r) return;
    ScenarioSpec *sp = &r->spec;
    g_free(sp->name);
    g_free(sp->description);
    scn_free_regions(&sp->network);
    g_free(sp->network.latency_file);
    scn_free_groups(&sp->population);
    g_free(sp->churn.trace_file);
    g_free(sp->protocol.bootstrap);
    g_free(sp->protocol.search_fanout);
    g_free(sp->calibration);
    g_free(sp->outputs.pcap);
    g_free(sp->outputs.pcap_at);
    g_free(sp->outputs.trace);
    for (size_t i = 0; i < sp->n_events; i++)
        g_free(sp->events[i].target);
    g_free(sp->events);
    g_free(r->latency_file_given);
    g_free(r->trace_file_given);
    g_free(r->calibration_given);
    g_free(r);
}
