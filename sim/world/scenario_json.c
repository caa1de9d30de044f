/* scenario_json: --set paths applied to the document, and the resolved
 * scenario written back as JSON; part of the scenario module (scenario.h).
 *
 * Layer: sim/world. A --set path is a dotted JSON path with array indexes,
 * "population.groups[1].nat" ("$." in front is allowed). The resolved JSON
 * uses the file format itself, every key present: durations as exact
 * timens_format() strings, bit rates as exact "kbit"/"Mbit" strings, so that
 * loading it gives the same ScenarioSpec back (tests check this).
 */
#include "sim/world/jsonin.h"
#include "sim/world/scenario_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* --set */

typedef struct ScnSeg {
    char *key;    /* object key, or NULL for an array index */
    size_t index; /* array index when key is NULL */
} ScnSeg;

G_GNUC_PRINTF(4, 5)
static bool scn_set_fail(GError **err, int code, const char *assignment, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, SCENARIO_ERROR, code, "--set %s: %s", assignment, msg);
    g_free(msg);
    return false;
}

static void scn_seg_clear(gpointer p)
{
    g_free(((ScnSeg *)p)->key);
}

/* Parses a path into segments and its normalised text; false if malformed. */
static bool scn_path_parse(const char *path, GArray *segs, GString *norm)
{
    const char *p = g_str_has_prefix(path, "$.") ? path + 2 : path;
    g_string_assign(norm, "$");
    for (;;) {
        size_t n = 0;
        while (g_ascii_isalnum(p[n]) || p[n] == '_')
            n++;
        if (n == 0) return false;
        ScnSeg key = {.key = g_strndup(p, n)};
        g_array_append_val(segs, key);
        g_string_append_printf(norm, ".%s", key.key);
        for (p += n; *p == '['; p++) {
            char *end = NULL;
            if (!g_ascii_isdigit(p[1])) return false;
            ScnSeg idx = {.key = NULL, .index = (size_t)g_ascii_strtoull(p + 1, &end, 10)};
            if (*end != ']' || idx.index > 1000000) return false;
            g_array_append_val(segs, idx);
            g_string_append_printf(norm, "[%zu]", idx.index);
            p = end;
        }
        if (*p == '\0') return true;
        if (*p++ != '.') return false;
    }
}

/* The child of cur named by seg, created (or replaced by value when last)
 * as needed; NULL with err set when cur has the wrong kind. */
static cJSON *scn_set_step(cJSON *cur, const ScnSeg *seg, cJSON *fresh, const char *at,
                           const char *assignment, GError **err)
{
    char *found = jsonin_found(cur);
    bool ok = seg->key ? cJSON_IsObject(cur) : cJSON_IsArray(cur);
    if (!ok)
        scn_set_fail(err, SCENARIO_ERROR_INVALID, assignment, "%s: expected %s; found %s", at,
                     seg->key ? "an object" : "an array", found);
    g_free(found);
    if (!ok) return NULL;
    int size = cJSON_GetArraySize(cur);
    if (!seg->key && seg->index > (size_t)size) {
        scn_set_fail(err, SCENARIO_ERROR_INVALID, assignment,
                     "%s[%zu]: expected an index from 0 "
                     "to %d (%d appends); found %zu",
                     at, seg->index, size, size, seg->index);
        return NULL;
    }
    cJSON *child = seg->key ? cJSON_GetObjectItemCaseSensitive(cur, seg->key)
                            : cJSON_GetArrayItem(cur, (int)seg->index);
    if (child && !cJSON_IsNull(child) && !fresh) return child;
    if (!fresh) fresh = cJSON_CreateObject(); /* the caller turns it into an array if needed */
    if (child && seg->key)
        cJSON_ReplaceItemInObjectCaseSensitive(cur, seg->key, fresh);
    else if (child)
        cJSON_ReplaceItemInArray(cur, (int)seg->index, fresh);
    else if (seg->key)
        cJSON_AddItemToObject(cur, seg->key, fresh);
    else
        cJSON_AddItemToArray(cur, fresh);
    return fresh;
}

/* Walks segs from doc, creating containers, and puts value at the end.
 * Takes value (attached or freed). */
static bool scn_set_apply(cJSON *doc, const GArray *segs, cJSON *value, const char *assignment,
                          GError **err)
{
    cJSON *cur = doc;
    bool attached = false;
    GString *at = g_string_new("$");
    for (guint i = 0; i < segs->len && cur; i++) {
        const ScnSeg *seg = &g_array_index(segs, ScnSeg, i);
        bool last = i + 1 == segs->len;
        const ScnSeg *next = last ? NULL : &g_array_index(segs, ScnSeg, i + 1);
        cJSON *fresh = last ? value : NULL;
        if (!last && !next->key) {
            cJSON *child = seg->key && cJSON_IsObject(cur)
                               ? cJSON_GetObjectItemCaseSensitive(cur, seg->key)
                               : NULL;
            if (seg->key && cJSON_IsObject(cur) && (!child || cJSON_IsNull(child)))
                fresh = cJSON_CreateArray();
        }
        cJSON *child = scn_set_step(cur, seg, fresh, at->str, assignment, err);
        if (!child && fresh && fresh != value) cJSON_Delete(fresh);
        attached = last && child;
        if (seg->key)
            g_string_append_printf(at, ".%s", seg->key);
        else
            g_string_append_printf(at, "[%zu]", seg->index);
        cur = child;
    }
    g_string_free(at, TRUE);
    if (!attached) cJSON_Delete(value);
    return attached;
}

bool scenario__doc_set(cJSON *doc, const char *assignment, char **norm_path, GError **err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return scn_set_fail(err, SCENARIO_ERROR_SYNTAX, assignment,
                            "expected path=value, such as population.clients=500; found no \"=\"");
    char *path = g_strndup(assignment, (size_t)(eq - assignment));
    GArray *segs = g_array_new(FALSE, TRUE, sizeof(ScnSeg));
    g_array_set_clear_func(segs, scn_seg_clear);
    GString *norm = g_string_new(NULL);
    bool ok = scn_path_parse(path, segs, norm);
    if (!ok) {
        scn_set_fail(err, SCENARIO_ERROR_SYNTAX, assignment,
                     "expected a path such as "
                     "population.groups[1].nat; found \"%s\"",
                     path);
    } else if (jsonin_nul_escape(eq + 1)) {
        ok = scn_set_fail(err, SCENARIO_ERROR_SYNTAX, assignment,
                          "expected a value without NUL characters; found \"\\u0000\"");
    } else {
        cJSON *value = cJSON_ParseWithOpts(eq + 1, NULL, true);
        if (!value) value = cJSON_CreateString(eq + 1);
        ok = scn_set_apply(doc, segs, value, assignment, err);
    }
    if (ok) *norm_path = g_strdup(norm->str);
    g_string_free(norm, TRUE);
    g_array_free(segs, TRUE);
    g_free(path);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* The resolved scenario as JSON */

static void scn_add_duration(cJSON *o, const char *key, TimeNs t)
{
    char buf[TIMENS_FORMAT_MAX];
    cJSON_AddStringToObject(o, key, timens_format(t, buf, sizeof buf));
}

static void scn_add_bitrate(cJSON *o, const char *key, uint64_t bps)
{
    char buf[32];
    cJSON_AddStringToObject(o, key, scenario__bitrate_format(bps, buf, sizeof buf));
}

/* A string, or null when s is NULL. */
static void scn_add_opt_str(cJSON *o, const char *key, const char *s)
{
    if (s)
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *scn_dist_json(const ScenarioDist *d, bool is_time)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dist", scenario__dists[d->kind]);
    const double vals[] = {d->value, d->mean, d->shape, d->scale, d->mu, d->sigma};
    static const char *const names[] = {"value", "mean", "shape", "scale", "mu", "sigma"};
    const char *const *params = scenario__dist_params[d->kind];
    for (size_t i = 0; params[i]; i++) {
        size_t k = 0;
        while (strcmp(names[k], params[i]) != 0)
            k++;
        bool timed = is_time && k != 2 && k != 4 && k != 5; /* shape, mu, sigma: no unit */
        if (timed)
            scn_add_duration(o, params[i], timens_from_s(vals[k]));
        else
            cJSON_AddNumberToObject(o, params[i], vals[k]);
    }
    if (d->max > 0 && is_time)
        scn_add_duration(o, "max", timens_from_s(d->max));
    else if (d->max > 0)
        cJSON_AddNumberToObject(o, "max", d->max);
    return o;
}

static cJSON *scn_nat_json(const ScenarioNat *n, bool is_cgn)
{
    const NatConfig *c = &n->config;
    if (!c->enabled) return is_cgn ? cJSON_CreateFalse() : cJSON_CreateString("none");
    cJSON *o = cJSON_CreateObject();
    if (n->preset) cJSON_AddStringToObject(o, "preset", n->preset);
    cJSON_AddStringToObject(o, "mapping", nat_mapping_name(c->mapping));
    cJSON_AddStringToObject(o, "filtering", nat_filtering_name(c->filtering));
    cJSON_AddStringToObject(o, "ports", nat_port_alloc_name(c->port_alloc));
    scn_add_duration(o, "udp_timeout", c->udp_timeout_ns);
    scn_add_duration(o, "tcp_timeout", c->tcp_established_ns);
    cJSON_AddBoolToObject(o, "hairpin", c->hairpin);
    cJSON_AddBoolToObject(o, "inbound_refresh", c->inbound_refresh);
    return o;
}

static cJSON *scn_network_json(const ScenarioResolved *r)
{
    const ScenarioNetwork *n = &r->spec.network;
    cJSON *net = cJSON_CreateObject(), *lat = cJSON_AddObjectToObject(net, "latency");
    cJSON_AddStringToObject(lat, "model", scenario__latency_models[n->model]);
    scn_add_opt_str(lat, "file", r->latency_file_given);
    cJSON *regions = cJSON_AddArrayToObject(lat, "regions");
    for (size_t i = 0; i < n->n_regions; i++) {
        const ScenarioRegion *g = &n->regions[i];
        cJSON *o = cJSON_CreateObject(), *delays;
        cJSON_AddStringToObject(o, "name", g->name);
        cJSON_AddNumberToObject(o, "share", g->share);
        delays = cJSON_AddObjectToObject(o, "delays");
        for (size_t j = 0; j < n->n_regions; j++)
            scn_add_duration(delays, n->regions[j].name, n->delay_ns[i * n->n_regions + j]);
        cJSON_AddItemToArray(regions, o);
    }
    cJSON_AddNumberToObject(net, "loss", n->loss);
    scn_add_duration(net, "access_delay", n->access_delay_ns);
    scn_add_duration(net, "jitter", n->jitter_ns);
    scn_add_duration(net, "queue_limit", n->queue_limit_ns);
    cJSON_AddBoolToObject(net, "icmp_unreachable", n->icmp_unreachable);
    return net;
}

static cJSON *scn_group_json(const ScenarioGroup *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddNumberToObject(o, "fraction", g->fraction);
    scn_add_bitrate(o, "uplink_bps", g->uplink_bps);
    scn_add_bitrate(o, "downlink_bps", g->downlink_bps);
    if (g->cpu_class)
        cJSON_AddStringToObject(o, "cpu", g->cpu_class);
    else
        cJSON_AddNumberToObject(o, "cpu", g->cpu_speed);
    cJSON_AddItemToObject(o, "nat", scn_nat_json(&g->nat, false));
    cJSON_AddItemToObject(o, "cgn", scn_nat_json(&g->cgn, true));
    cJSON_AddNumberToObject(o, "cgn_subscribers", g->cgn_subscribers);
    cJSON_AddStringToObject(o, "firewall", fw_type_name(g->firewall));
    cJSON_AddNumberToObject(o, "hosts_per_nat", g->hosts_per_nat);
    cJSON_AddStringToObject(o, "region", g->region_name);
    return o;
}

static cJSON *scn_population_json(const ScenarioPopulation *p, const ScenarioSupernodes *sn,
                                  cJSON **sn_out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "clients", (double)p->clients);
    cJSON *groups = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < p->n_groups; i++)
        cJSON_AddItemToArray(groups, scn_group_json(&p->groups[i]));
    cJSON *s = *sn_out = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "mode", scenario__sn_modes[sn->mode]);
    cJSON_AddNumberToObject(s, "count", (double)sn->count);
    scn_add_bitrate(s, "min_uplink_bps", sn->min_uplink_bps);
    cJSON_AddNumberToObject(s, "min_cpu", sn->min_cpu);
    scn_add_duration(s, "min_uptime", sn->min_uptime_ns);
    cJSON_AddNumberToObject(s, "nominate_load", sn->nominate_load);
    cJSON_AddNumberToObject(s, "capacity", sn->capacity);
    return o;
}

static cJSON *scn_churn_json(const ScenarioResolved *r)
{
    const ScenarioChurn *c = &r->spec.churn;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", scenario__churn_models[c->model]);
    scn_add_duration(o, "ramp", c->ramp_ns);
    cJSON_AddItemToObject(o, "session", scn_dist_json(&c->session, true));
    cJSON_AddItemToObject(o, "off_time", scn_dist_json(&c->off_time, true));
    cJSON_AddItemToObject(o, "diurnal", cJSON_CreateDoubleArray(c->diurnal, 24));
    cJSON_AddNumberToObject(o, "start_hour", c->start_hour);
    cJSON *t = cJSON_AddObjectToObject(o, "trace");
    scn_add_opt_str(t, "file", r->trace_file_given);
    cJSON_AddStringToObject(t, "format", scenario__trace_formats[c->trace_format]);
    cJSON_AddNumberToObject(t, "scale", c->trace_scale);
    scn_add_duration(t, "offset", c->trace_offset_ns);
    cJSON_AddStringToObject(t, "on_error", scenario__trace_on_error[c->trace_skip_bad]);
    return o;
}

static cJSON *scn_workload_json(const ScenarioWorkload *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "call_rate", w->call_rate);
    cJSON_AddItemToObject(o, "call_duration", scn_dist_json(&w->call_duration, true));
    cJSON_AddNumberToObject(o, "search_rate", w->search_rate);
    cJSON_AddItemToObject(o, "buddies", scn_dist_json(&w->buddies, false));
    cJSON_AddNumberToObject(o, "conference_share", w->conference_share);
    cJSON_AddNumberToObject(o, "conference_size", w->conference_size);
    cJSON_AddNumberToObject(o, "pstn_share", w->pstn_share);
    cJSON_AddBoolToObject(o, "conference_mesh", w->conference_mesh);
    cJSON_AddNumberToObject(o, "hold_rate", w->hold_rate);
    cJSON_AddItemToObject(o, "hold_duration", scn_dist_json(&w->hold_duration, true));
    return o;
}

static cJSON *scn_protocol_json(const ScenarioProtocol *p)
{
    char buf[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "host_cache_size", p->host_cache_size);
    cJSON *b = cJSON_AddArrayToObject(o, "bootstrap");
    for (size_t i = 0; i < p->n_bootstrap; i++)
        cJSON_AddItemToArray(
            b, cJSON_CreateString(scenario__endpoint_format(p->bootstrap[i], buf, sizeof buf)));
    cJSON_AddStringToObject(o, "login_server",
                            scenario__endpoint_format(p->login_server, buf, sizeof buf));
    cJSON_AddStringToObject(o, "web_server",
                            scenario__endpoint_format(p->web_server, buf, sizeof buf));
    cJSON_AddStringToObject(o, "phone_gateway",
                            scenario__endpoint_format(p->phone_gateway, buf, sizeof buf));
    cJSON_AddStringToObject(o, "search", scenario__searches[p->search]);
    cJSON *f = cJSON_AddArrayToObject(o, "search_fanout");
    for (size_t i = 0; i < p->n_fanout; i++)
        cJSON_AddItemToArray(f, cJSON_CreateNumber(p->search_fanout[i]));
    scn_add_duration(o, "search_timeout", p->search_timeout_ns);
    cJSON_AddNumberToObject(o, "login_rounds", p->login_rounds);
    scn_add_duration(o, "probe_timeout", p->probe_timeout_ns);
    scn_add_duration(o, "connect_timeout", p->connect_timeout_ns);
    scn_add_duration(o, "login_retry_wait", p->login_retry_wait_ns);
    scn_add_duration(o, "login_pause", p->login_pause_ns);
    scn_add_duration(o, "keepalive", p->keepalive_ns);
    cJSON_AddNumberToObject(o, "keepalive_misses", p->keepalive_misses);
    cJSON_AddNumberToObject(o, "alt_nodes", p->alt_nodes);
    scn_add_duration(o, "presence_ttl", p->presence_ttl_ns);
    cJSON_AddNumberToObject(o, "slot_size", p->slot_size);
    scn_add_duration(o, "index_republish", p->index_republish_ns);
    cJSON_AddBoolToObject(o, "ring_exchange", p->ring_exchange);
    cJSON_AddStringToObject(o, "call_locate", scenario__call_locates[p->call_locate_flood]);
    scn_add_bitrate(o, "relay_bandwidth", p->relay_bandwidth_bps);
    return o;
}

/* media, cost, outputs and events, added to root. */
static void scn_rest_json(cJSON *root, const ScenarioResolved *r)
{
    const ScenarioSpec *sp = &r->spec;
    cJSON *m = cJSON_AddObjectToObject(root, "media");
    cJSON_AddStringToObject(m, "codec", scenario__codecs[sp->media.codec]);
    scn_add_bitrate(m, "bitrate", sp->media.bitrate_bps);
    scn_add_duration(m, "frame", sp->media.frame_ns);
    cJSON_AddBoolToObject(m, "fec", sp->media.fec);
    cJSON_AddStringToObject(m, "fec_mode", sp->media.fec_inband ? "inband" : "redundant");
    cJSON_AddBoolToObject(m, "silence_suppression", sp->media.silence_suppression);
    cJSON_AddStringToObject(m, "execution", sp->media.replay ? "replay" : "frames");
    scn_add_opt_str(cJSON_AddObjectToObject(root, "cost"), "calibration", r->calibration_given);
    cJSON *o = cJSON_AddObjectToObject(root, "outputs");
    scn_add_duration(o, "timeseries_interval", sp->outputs.timeseries_interval_ns);
    scn_add_opt_str(o, "pcap", sp->outputs.pcap);
    cJSON_AddStringToObject(o, "pcap_at", sp->outputs.pcap_at);
    scn_add_opt_str(o, "trace", sp->outputs.trace);
    cJSON *ev = cJSON_AddArrayToObject(root, "events");
    for (size_t i = 0; i < sp->n_events; i++) {
        const ScenarioEvent *e = &sp->events[i];
        cJSON *x = cJSON_CreateObject();
        scn_add_duration(x, "at", e->at_ns);
        cJSON_AddStringToObject(x, "action", scenario__actions[e->action]);
        cJSON_AddStringToObject(x, "who", e->target);
        cJSON_AddNumberToObject(x, "fraction", e->fraction);
        scn_add_duration(x, "spread", e->spread_ns);
        cJSON_AddItemToArray(ev, x);
    }
}

cJSON *scenario_json_u64(uint64_t v)
{
    char digits[24];
    g_snprintf(digits, sizeof digits, "%" G_GUINT64_FORMAT, v);
    return cJSON_CreateRaw(digits);
}

cJSON *scenario_to_json(const Scenario *s)
{
    const ScenarioSpec *sp = scenario_spec_get(s);
    const ScenarioResolved *r = s->resolved;
    cJSON *root = cJSON_CreateObject(), *sn = NULL;
    cJSON_AddStringToObject(root, "name", sp->name);
    cJSON_AddStringToObject(root, "description", sp->description);
    cJSON_AddItemToObject(root, "seed", scenario_json_u64(sp->seed));
    scn_add_duration(root, "duration", sp->duration_ns);
    scn_add_duration(root, "warmup", sp->warmup_ns);
    cJSON_AddItemToObject(root, "network", scn_network_json(r));
    cJSON_AddItemToObject(root, "population",
                          scn_population_json(&sp->population, &sp->supernodes, &sn));
    cJSON_AddItemToObject(root, "supernodes", sn);
    cJSON_AddItemToObject(root, "churn", scn_churn_json(r));
    cJSON_AddItemToObject(root, "workload", scn_workload_json(&sp->workload));
    cJSON_AddItemToObject(root, "protocol", scn_protocol_json(&sp->protocol));
    scn_rest_json(root, r);
    return root;
}
