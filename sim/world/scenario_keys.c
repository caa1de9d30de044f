/* scenario_keys: the table of every scenario key, its kind, bounds and
 * choices; part of the scenario module (scenario_int.h).
 *
 * Layer: sim/world. scenario_read.c takes each key's bounds from here
 * (scenario__get_* look the key up), its unknown-key checks list these
 * names in this order, and scenario_schema() turns the same tables into
 * scenarios/schema.json, so that the reader and the schema cannot drift.
 * A key added to a reader but not here fails the first time it is read
 * (keydef_get CHECKs); a key here but read nowhere fails
 * tests/check_scenario_keys.sh. Defaults and prose are in
 * scenarios/README.md.
 */
#include "sim/world/scenario_int.h"

#include <math.h>

#include "sim/net/fw.h"
#include "sim/net/nat.h"
#include "sim/world/results.h"

/* Entry helpers: designated initialisers, so every field not named is 0. */
#define K_INT(n, l, h, d) {.name = n, .kind = KEYDEF_INT, .lo = l, .hi = h, .doc = d}
#define K_NUM(n, l, lo_x, h, hi_x, d)                                                              \
    {.name = n, .kind = KEYDEF_NUMBER, .lo = l, .lo_open = lo_x, .hi = h, .hi_open = hi_x, .doc = d}
#define K_DUR(n, min, d) {.name = n, .kind = KEYDEF_DURATION, .min_ns = min, .doc = d}
#define K_BPS(n, l, h, d) {.name = n, .kind = KEYDEF_BITRATE, .lo = l, .hi = h, .doc = d}
#define K_BOOL(n, d) {.name = n, .kind = KEYDEF_BOOL, .doc = d}
#define K_STR(n, pat, d) {.name = n, .kind = KEYDEF_STRING, .pattern = pat, .doc = d}
#define K_FILE(n, d) {.name = n, .kind = KEYDEF_FILE, .doc = d}
#define K_ENUM(n, c, d) {.name = n, .kind = KEYDEF_ENUM, .choices = c, .doc = d}
#define K_ENUMF(n, f, d) {.name = n, .kind = KEYDEF_ENUM, .choices_fn = f, .doc = d}
#define K_OBJ(n, k, d) {.name = n, .kind = KEYDEF_OBJECT, .keys = k, .doc = d}
#define K_DIST(n, t, d) {.name = n, .kind = KEYDEF_DIST, .time = t, .dist = &scn_dist, .doc = d}
#define K_END {.name = NULL}

/* An address "a.b.c.d:port" (scenario__endpoint_parse() checks the ranges). */
#define SCN_ENDPOINT_PATTERN "^[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,6}$"
/* A name results_label_is_safe() accepts (RESULTS_LABEL_RULE). */
#define SCN_LABEL_PATTERN "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
/* outputs.pcap_at: comma-separated capture points (scenario_read.c checks
 * that a group exists). */
#define SCN_PCAP_POINT "(access|core|node:[0-9]{1,9}|group:[^,]+)"

/* ------------------------------------------------------------------------ */
/* Distributions */

/* Bounds of each distribution parameter as a number; the family named by
 * zero_family below (constant) also takes 0. Parameters in scn_time_params
 * are durations in a time distribution (seconds or "90s"). */
static const KeyDef scn_dist_params[] = {
    K_NUM("value", 0, true, INFINITY, false, NULL),
    K_NUM("mean", 0, true, INFINITY, false, NULL),
    K_NUM("shape", 0, true, 1e6, false, NULL),
    K_NUM("scale", 0, true, INFINITY, false, NULL),
    K_NUM("mu", -50, false, 50, false, NULL), /* log seconds: e^50 s is beyond any run */
    K_NUM("sigma", 0, true, 20, false, NULL),
    K_NUM("max", 0, true, INFINITY, false, NULL),
    K_END};
static const char *const scn_time_params[] = {"value", "mean", "scale", "max", NULL};

static const KeyDefDist scn_dist = {.families = scenario__dists,
                                    .params = scenario__dist_params,
                                    .param_defs = scn_dist_params,
                                    .time_params = scn_time_params,
                                    .zero_family = "constant"};

/* The key of a distribution object that names its family; the other keys
 * depend on the family (scenario__dist_params). */
const KeyDef scenario__keys_dist[] = {K_ENUM("dist", scenario__dists, "distribution family"), K_END};

const KeyDef *scenario__dist_param_def(void) { return scn_dist_params; }
const char *const *scenario__dist_time_params(void) { return scn_time_params; }

/* ------------------------------------------------------------------------ */
/* network */

static const KeyDef scn_delay = K_DUR(NULL, 0, "one-way delay to the region named by the key");

const KeyDef scenario__keys_region[] = {
    K_STR("name", NULL, "unique region name, not \"any\""),
    K_NUM("share", 0, false, 1, false, "share of hosts whose group has region \"any\""),
    {.name = "delays", .kind = KEYDEF_MAP, .items = &scn_delay,
     .doc = "one-way delays to other regions, by region name"},
    K_END};

static const KeyDef scn_region = {.kind = KEYDEF_OBJECT, .keys = scenario__keys_region};

const KeyDef scenario__keys_latency[] = {
    K_ENUM("model", scenario__latency_models, "latency model"),
    K_FILE("file", "delay matrix or coordinate file (models \"matrix\", \"coordinates\")"),
    {.name = "regions", .kind = KEYDEF_ARRAY, .items = &scn_region, .min_items = 1, .max_items = 64,
     .doc = "the regions, replacing the default three"},
    K_END};

const KeyDef scenario__keys_network[] = {
    K_OBJ("latency", scenario__keys_latency, "propagation delays"),
    K_NUM("loss", 0, false, 1, true, "random loss probability per packet"),
    K_DUR("access_delay", 0, "delay of each access link"),
    K_DUR("jitter", 0, "per-packet extra delay, uniform in [0, jitter]"),
    K_DUR("queue_limit", 1, "drop-tail queue of an access link, as time at its rate"),
    K_BOOL("icmp_unreachable", "hosts answer UDP to a closed port with ICMP"),
    K_END};

/* ------------------------------------------------------------------------ */
/* population */

/* nat_preset_names() without "none": the presets an object may start from. */
static const char *const *scn_nat_object_presets(void) { return nat_preset_names() + 1; }

const KeyDef scenario__keys_nat[] = {
    K_ENUMF("preset", scn_nat_object_presets, "preset the fields start from"),
    K_ENUMF("mapping", nat_mapping_names, "mapping behaviour (RFC 4787)"),
    K_ENUMF("filtering", nat_filtering_names, "filtering behaviour (RFC 4787)"),
    K_ENUMF("ports", nat_port_alloc_names, "port assignment"),
    K_DUR("udp_timeout", TIMENS_S, "UDP mapping timeout"),
    K_DUR("tcp_timeout", TIMENS_S, "established TCP mapping timeout"),
    K_BOOL("hairpin", "hairpinning"),
    K_BOOL("inbound_refresh", "inbound packets refresh a mapping"),
    K_END};

static const KeyDef scn_nat_object = {.kind = KEYDEF_OBJECT, .keys = scenario__keys_nat};
static const KeyDef scn_cgn_bool = {.kind = KEYDEF_BOOL};
static const KeyDef scn_cgn_object = {.kind = KEYDEF_OBJECT, .keys = scenario__keys_nat,
                                      .alt = &scn_cgn_bool};
static const KeyDef scn_cpu_speed = {.kind = KEYDEF_NUMBER, .lo = 0, .lo_open = true, .hi = 64};

const KeyDef scenario__keys_group[] = {
    K_STR("name", NULL, "unique group name"),
    K_NUM("fraction", 0, true, 1, false, "share of the clients"),
    K_BPS("uplink_bps", 1000, 100e9, "access uplink"),
    K_BPS("downlink_bps", 1000, 100e9, "access downlink"),
    {.name = "cpu", .kind = KEYDEF_ENUM, .choices = scenario__cpu_classes, .alt = &scn_cpu_speed,
     .doc = "CPU class or speed factor in (0, 64]"},
    {.name = "nat", .kind = KEYDEF_ENUM, .choices_fn = nat_preset_names, .alt = &scn_nat_object,
     .doc = "NAT preset name or object"},
    {.name = "cgn", .kind = KEYDEF_ENUM, .choices_fn = nat_preset_names, .alt = &scn_cgn_object,
     .doc = "carrier-grade NAT: true, false, a preset name or an object"},
    K_INT("cgn_subscribers", 1, 1000000, "homes behind one carrier-grade NAT"),
    K_ENUMF("firewall", fw_type_names, "firewall type"),
    K_INT("hosts_per_nat", 1, 65536, "hosts sharing one NAT"),
    K_STR("region", NULL, "\"any\" or a region name"),
    K_END};

static const KeyDef scn_group = {.kind = KEYDEF_OBJECT, .keys = scenario__keys_group};

const KeyDef scenario__keys_population[] = {
    K_INT("clients", 1, 100000000, "client users"),
    {.name = "groups", .kind = KEYDEF_ARRAY, .items = &scn_group, .min_items = 1,
     .max_items = 256, .doc = "host groups"},
    K_END};

/* ------------------------------------------------------------------------ */
/* supernodes, churn, workload */

const KeyDef scenario__keys_supernodes[] = {
    K_ENUM("mode", scenario__sn_modes, "how supernodes come to be"),
    K_INT("count", 0, 10000000, "dedicated supernode hosts"),
    K_BPS("min_uplink_bps", 0, 100e9, "promotion: smallest uplink"),
    {.name = "min_cpu", .kind = KEYDEF_ENUM, .choices = scenario__cpu_classes, .alt = &scn_cpu_speed,
     .doc = "promotion: smallest CPU class or speed factor"},
    K_DUR("min_uptime", 0, "promotion: smallest uptime"),
    K_NUM("nominate_load", 0, true, 1, false, "load share at which a supernode nominates another"),
    K_INT("capacity", 1, 1000000, "clients a supernode serves"),
    K_END};

static const KeyDef scn_weight = K_NUM(NULL, 0, false, INFINITY, false, NULL);

const KeyDef scenario__keys_trace[] = {
    K_FILE("file", "the churn trace"),
    K_ENUM("format", scenario__trace_formats, "trace format"),
    K_NUM("scale", 0, true, 1e6, false, "time scale factor"),
    K_DUR("offset", 0, "trace time at the start of the run"),
    K_ENUM("on_error", scenario__trace_on_error, "a bad line: fail or skip"),
    K_END};

const KeyDef scenario__keys_churn[] = {
    K_ENUM("model", scenario__churn_models, "churn model"),
    K_DUR("ramp", 0, "arrivals spread over this time"),
    K_DIST("session", true, "session length"),
    K_DIST("off_time", true, "time offline between sessions"),
    {.name = "diurnal", .kind = KEYDEF_ARRAY, .items = &scn_weight, .min_items = 24,
     .max_items = 24, .doc = "24 hourly weights >= 0, not all zero"},
    K_NUM("start_hour", 0, false, 24, true, "hour of day at the start"),
    K_OBJ("trace", scenario__keys_trace, "trace replay"),
    K_END};

const KeyDef scenario__keys_workload[] = {
    K_NUM("call_rate", 0, false, 3600, false, "calls per client per hour"),
    K_DIST("call_duration", true, "call length"),
    K_NUM("search_rate", 0, false, 3600, false, "searches per client per hour"),
    K_DIST("buddies", false, "buddy-list size"),
    K_NUM("conference_share", 0, false, 1, false, "share of calls that are conferences"),
    K_INT("conference_size", 3, 25, "participants of a conference"),
    K_NUM("pstn_share", 0, false, 1, false, "share of calls to the phone network"),
    K_BOOL("conference_mesh", "conferences as a mesh instead of a mixing host"),
    K_NUM("hold_rate", 0, false, 3600, false, "holds per call per hour"),
    K_DIST("hold_duration", true, "hold length"),
    K_END};

/* ------------------------------------------------------------------------ */
/* protocol, media, cost, outputs, events */

static const KeyDef scn_endpoint = K_STR(NULL, SCN_ENDPOINT_PATTERN, NULL);
static const KeyDef scn_wave = K_INT(NULL, 1, 1000, NULL);

const KeyDef scenario__keys_protocol[] = {
    K_INT("host_cache_size", 1, 200, "host cache entries"),
    {.name = "bootstrap", .kind = KEYDEF_ARRAY, .items = &scn_endpoint, .min_items = 1,
     .max_items = 64, .doc = "bootstrap supernodes, distinct \"a.b.c.d:port\""},
    K_STR("login_server", SCN_ENDPOINT_PATTERN, "login server address"),
    K_STR("web_server", SCN_ENDPOINT_PATTERN, "web server address"),
    K_STR("phone_gateway", SCN_ENDPOINT_PATTERN, "phone gateway address"),
    K_ENUM("search", scenario__searches, "user search mechanism"),
    {.name = "search_fanout", .kind = KEYDEF_ARRAY, .items = &scn_wave, .min_items = 1,
     .max_items = 16, .doc = "supernodes asked in each wave"},
    K_DUR("search_timeout", 1, "search gives up after"),
    K_INT("login_rounds", 1, 100, "rounds of UDP probes before TCP"),
    K_DUR("probe_timeout", 1, "wait for a UDP probe answer"),
    K_DUR("connect_timeout", 1, "wait for a TCP connection"),
    K_DUR("login_retry_wait", 1, "wait between login attempts"),
    K_DUR("keepalive", 1, "interval of keep-alives to the supernode"),
    K_INT("keepalive_misses", 1, 100, "unanswered keep-alives before failing over"),
    K_INT("alt_nodes", 0, 1000, "alternate nodes contacted at the end of login"),
    K_DUR("presence_ttl", 1, "presence kept in the index"),
    K_INT("slot_size", 1, 100, "slots index: supernodes storing each record"),
    K_DUR("index_republish", 1, "slots index: records published again this often"),
    K_BOOL("ring_exchange", "slots index: supernodes exchange their rings (anti-entropy)"),
    K_ENUM("call_locate", scenario__call_locates, "how a caller finds its callee"),
    K_DUR("login_pause", 0, "pause after a login gives up, before the next attempt"),
    K_BPS("relay_bandwidth", 8000, 1e9, "bandwidth a relay gives one call"),
    K_END};

static const char *const scn_executions[] = {"frames", "replay", NULL};
static const char *const scn_fec_modes[] = {"redundant", "inband", NULL};

const KeyDef scenario__keys_media[] = {
    K_ENUM("codec", scenario__codecs, "codec profile"),
    K_BPS("bitrate", 6000, 510000, "codec bit rate"),
    K_DUR("frame", 1, "frame: 2.5, 5, 10, 20, 40 or 60 ms"),
    K_BOOL("fec", "forward error correction"),
    K_ENUM("fec_mode", scn_fec_modes, "redundant copies, or opus's in-band FEC"),
    K_BOOL("silence_suppression", "silence suppression"),
    K_ENUM("execution", scn_executions, "codec per frame, or replayed bytes"),
    K_END};

const KeyDef scenario__keys_cost[] = {
    K_FILE("calibration", "CPU cost calibration file"),
    K_END};

const KeyDef scenario__keys_outputs[] = {
    K_DUR("timeseries_interval", 1, "interval of timeseries.csv rows"),
    K_STR("pcap", NULL, "capture file name in the results directory"),
    K_STR("pcap_at", "^" SCN_PCAP_POINT "(," SCN_PCAP_POINT ")*$", "capture points"),
    K_STR("trace", NULL, "event trace file name in the results directory"),
    K_END};

const KeyDef scenario__keys_event[] = {
    {.name = "at", .kind = KEYDEF_DURATION, .min_ns = 0, .required = true, .doc = "time of the event"},
    {.name = "action", .kind = KEYDEF_ENUM, .choices = scenario__actions, .required = true,
     .doc = "what happens"},
    K_STR("who", NULL, "\"all\", \"clients\", \"supernodes\" or a group name"),
    K_NUM("fraction", 0, true, 1, false, "share of the targets"),
    K_DUR("spread", 0, "the event spread over this time"),
    K_END};

static const KeyDef scn_event = {.kind = KEYDEF_OBJECT, .keys = scenario__keys_event};

/* ------------------------------------------------------------------------ */
/* The document */

const KeyDef scenario__keys_root[] = {
    K_STR("name", SCN_LABEL_PATTERN, "scenario name, part of the results directory"),
    {.name = "description", .kind = KEYDEF_STRING, .empty_ok = true, .doc = "free text"},
    K_INT("seed", 0, (double)SCENARIO_SEED_MAX, "master seed"),
    K_DUR("duration", 1, "simulated time"),
    K_DUR("warmup", 0, "time before measurements start"),
    K_OBJ("network", scenario__keys_network, "the simulated Internet"),
    K_OBJ("population", scenario__keys_population, "clients and their hosts"),
    K_OBJ("supernodes", scenario__keys_supernodes, "supernode tier"),
    K_OBJ("churn", scenario__keys_churn, "arrivals and departures"),
    K_OBJ("workload", scenario__keys_workload, "calls and searches"),
    K_OBJ("protocol", scenario__keys_protocol, "protocol parameters"),
    K_OBJ("media", scenario__keys_media, "voice stream"),
    K_OBJ("cost", scenario__keys_cost, "CPU costs"),
    K_OBJ("outputs", scenario__keys_outputs, "extra outputs"),
    {.name = "events", .kind = KEYDEF_ARRAY, .items = &scn_event, .max_items = 10000,
     .doc = "scheduled crashes, logouts and logins"},
    K_END};

const char *scenario_key_doc(const char *path)
{
    gchar **part = g_strsplit(path, ".", -1);
    const KeyDef *d = NULL, *table = scenario__keys_root;
    for (gchar **p = part; *p; p++) {
        if (d && (d->kind == KEYDEF_ARRAY || d->kind == KEYDEF_MAP)) { /* an element */
            d = d->items;
            table = d && d->kind == KEYDEF_OBJECT ? d->keys : NULL;
            continue;
        }
        d = table ? keydef_find(table, *p) : NULL;
        if (!d) break;
        table = d->kind == KEYDEF_OBJECT ? d->keys : NULL;
    }
    g_strfreev(part);
    return d ? d->doc : NULL;
}

char *scenario_schema_text(void)
{
    return keydef_schema_text(scenario__keys_root, "skysim scenario",
                              "A skysim scenario file (scenarios/README.md). Generated by "
                              "simrun --print-schema from the tables the scenario reader "
                              "validates with; cross-key rules (fractions summing to 1, "
                              "names that must exist or be unique) are checked by simrun only.");
}
