/* scenario: loads, overrides, validates and resolves a scenario file.
 *
 * Layer: sim/world. A scenario is a JSON file (format: scenarios/README.md).
 * scenario_load() reads it, checks every key before anything runs (unknown
 * keys with a "did you mean", types, ranges, fractions summing to 1, files
 * that must exist) and resolves it into a typed ScenarioSpec with every
 * default filled in; the world builder reads only that struct. Format: scenarios/README.md;
 * DESIGN.md "Errors".
 *
 * Errors are input errors (STYLE.md §4): one line of the form
 *   scenarios/x.json: $.population.groups[1].nat: expected one of ...; found "cone"
 * or, for malformed JSON, "scenarios/x.json:12:7: malformed JSON; found ...".
 * An error in a value that came from scenario_set() ends with
 * " (from --set path=value)".
 *
 * Invariants: a ScenarioSpec handed out by scenario_spec_get() passed every
 * check, including the cross-key ones (sums, references between sections).
 * Durations are TimeNs; bit rates are bits per second; parameters of
 * distributions over time are seconds (double, for GSL).
 */
#ifndef SKYSIM_SCENARIO_H
#define SKYSIM_SCENARIO_H

#include "protocol/base/timens.h"
#include "sim/net/fw.h"
#include "sim/net/nat.h"

#include <cjson/cJSON.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error domain of every scenario_* function; the code is informational. */
#define SCENARIO_ERROR (scenario_error_quark())
GQuark scenario_error_quark(void);
enum {
    SCENARIO_ERROR_READ,   /* the file could not be read */
    SCENARIO_ERROR_SYNTAX, /* malformed JSON or a malformed --set */
    SCENARIO_ERROR_INVALID /* a key, type, range or cross-key check failed */
};

typedef enum ScenarioLatencyModel {
    SCENARIO_LATENCY_REGION,      /* one-way delay table between named regions */
    SCENARIO_LATENCY_COORDINATES, /* Vivaldi coordinates from a file (King/Meridian format) */
    SCENARIO_LATENCY_MATRIX       /* measured RTT matrix from a file; one-way = RTT / 2 */
} ScenarioLatencyModel;

/* A region of the region model. The other models ignore regions: their
 * sites sit at positions the network draws at random (sim/net/latency.h). */
typedef struct ScenarioRegion {
    char *name;   /* unique region name, e.g. "eu" */
    double share; /* fraction of region "any" hosts placed here, [0,1] */
} ScenarioRegion;

typedef struct ScenarioNetwork {
    ScenarioLatencyModel model; /* latency model */
    char *latency_file;         /* coordinate or matrix file, relative to the cwd; NULL if none */
    size_t n_regions;           /* number of regions, >= 1 */
    ScenarioRegion *regions;    /* n_regions regions, in file order */
    TimeNs *delay_ns;           /* region model: one-way delay from region i to j at
                                   [i * n_regions + j]; the diagonal is intra-region */
    double loss;                /* random loss per packet and link, fraction [0,1) */
    TimeNs access_delay_ns;     /* one-way delay of each access link */
    TimeNs jitter_ns;           /* standard deviation of per-packet extra delay */
    TimeNs queue_limit_ns;      /* drop-tail buffer of an access link, as time at its rate */
    bool icmp_unreachable;      /* closed UDP ports answer with ICMP port unreachable */
} ScenarioNetwork;

/* A NAT as the scenario gives it: the behaviour is sim/net's own NatConfig
 * (nat.h: its enums, names and presets are the one vocabulary), filled from
 * a preset and the keys given. The scenario sets enabled, mapping,
 * filtering, port_alloc, hairpin, inbound_refresh, udp_timeout_ns and
 * tcp_established_ns; the other knobs keep the preset's values (conntrack
 * and its lifetimes: nat_preset()), except the realm of a carrier-grade
 * NAT, which the world sets. */
typedef struct ScenarioNat {
    char *preset;     /* preset the behaviour started from; NULL if none */
    NatConfig config; /* the behaviour; config.enabled false: no NAT ("none") */
} ScenarioNat;

typedef struct ScenarioGroup {
    char *name;                /* group name, unique; default "group<i>" */
    double fraction;           /* share of the clients, (0,1]; all groups sum to 1 */
    uint64_t clients;          /* clients in this group (largest remainder of fraction) */
    uint64_t uplink_bps;       /* access uplink, bits per second */
    uint64_t downlink_bps;     /* access downlink, bits per second */
    char *cpu_class;           /* CPU class name, or NULL when given as a factor */
    double cpu_speed;          /* CPU speed relative to the calibration machine, > 0 */
    ScenarioNat nat;           /* home NAT */
    ScenarioNat cgn;           /* carrier-grade NAT in front of the home NAT, if present */
    uint32_t cgn_subscribers;  /* home NATs (or hosts) sharing one CGN, >= 1 */
    FwType firewall;           /* firewall in front of each host (fw.h) */
    uint32_t hosts_per_nat;    /* hosts sharing one home NAT, >= 1 (1 when no NAT) */
    char *region_name;         /* region as written, or "any" */
    int region;                /* index into network.regions, or -1 for "any" */
} ScenarioGroup;

typedef struct ScenarioPopulation {
    uint64_t clients;      /* number of client users, >= 1 */
    size_t n_groups;       /* number of groups, >= 1 */
    ScenarioGroup *groups; /* n_groups groups, in file order */
} ScenarioPopulation;

typedef enum ScenarioSupernodeMode {
    SCENARIO_SN_ELECTED,  /* clients are promoted when they pass the thresholds */
    SCENARIO_SN_DEDICATED /* a fixed set of extra public supernode hosts */
} ScenarioSupernodeMode;

typedef struct ScenarioSupernodes {
    ScenarioSupernodeMode mode; /* how supernodes come to be */
    uint64_t count;             /* dedicated: number of hosts; elected: cap, 0 = none */
    uint64_t min_uplink_bps;    /* elected: minimum uplink, bits per second */
    double min_cpu;             /* elected: minimum CPU speed factor */
    TimeNs min_uptime_ns;       /* elected: minimum session uptime before promotion */
    double nominate_load;       /* elected: load (fraction of capacity) at which a supernode
                                   nominates one of its eligible clients */
    uint32_t capacity;          /* clients one supernode serves at most, >= 1 */
} ScenarioSupernodes;

typedef enum ScenarioDistKind {
    SCENARIO_DIST_CONSTANT,
    SCENARIO_DIST_EXPONENTIAL,
    SCENARIO_DIST_PARETO,
    SCENARIO_DIST_WEIBULL,
    SCENARIO_DIST_LOGNORMAL
} ScenarioDistKind;

/* A distribution. Values are in the distribution's unit: seconds for the
 * time distributions (session, off_time, call_duration), a count for
 * buddies. Only the fields of the kind are meaningful; others are 0. */
typedef struct ScenarioDist {
    ScenarioDistKind kind; /* family */
    double value;          /* constant: the value, unit */
    double mean;           /* exponential: mean, unit */
    double shape;          /* pareto: alpha; weibull: k; dimensionless, > 0 */
    double scale;          /* pareto: minimum x_m; weibull: lambda; unit, > 0 */
    double mu;             /* lognormal: mean of ln(x), x in unit */
    double sigma;          /* lognormal: standard deviation of ln(x), > 0 */
    double max;            /* draws are clipped to this, unit; 0 = no cap */
} ScenarioDist;

typedef enum ScenarioChurnModel {
    SCENARIO_CHURN_NONE,         /* everyone logs in once and stays */
    SCENARIO_CHURN_DISTRIBUTION, /* on/off sessions from distributions */
    SCENARIO_CHURN_TRACE         /* sessions replayed from a trace file */
} ScenarioChurnModel;

typedef enum ScenarioTraceFormat {
    SCENARIO_TRACE_FTA,   /* Failure Trace Archive event table */
    SCENARIO_TRACE_AVAIL, /* availability trace: node, start, end per line */
    SCENARIO_TRACE_CSV    /* CSV: node,login_s,logout_s with a header line */
} ScenarioTraceFormat;

typedef struct ScenarioChurn {
    ScenarioChurnModel model;         /* churn model */
    TimeNs ramp_ns;                   /* initial logins spread uniformly over [0, ramp] */
    ScenarioDist session;             /* distribution model: online time, seconds */
    ScenarioDist off_time;            /* distribution model: offline time, seconds */
    double diurnal[24];               /* relative arrival weight of each hour of day, >= 0 */
    double start_hour;                /* hour of day at virtual time 0, [0,24) */
    char *trace_file;                 /* trace model: file, relative to the cwd; NULL if none */
    ScenarioTraceFormat trace_format; /* trace file format */
    double trace_scale;               /* virtual time = (trace time - offset) * scale, > 0 */
    TimeNs trace_offset_ns;           /* trace time mapped to virtual time 0 */
    bool trace_skip_bad;              /* churn.trace.on_error "skip": bad lines skipped, counted */
} ScenarioChurn;

typedef struct ScenarioWorkload {
    double call_rate;           /* calls placed per online user per hour, >= 0 */
    ScenarioDist call_duration; /* call length, seconds */
    double search_rate;         /* user searches per online user per hour, >= 0 */
    ScenarioDist buddies;       /* buddy-list size, count */
    double conference_share;    /* share of calls that are conferences, [0,1] */
    uint32_t conference_size;   /* participants of a conference, [3,25] */
    double pstn_share;          /* share of calls to the phone network, [0,1] */
    bool conference_mesh;       /* conferences as a full mesh instead of a mixing host */
    double hold_rate;           /* times a caller puts its call on hold, per hour of call, >= 0 */
    ScenarioDist hold_duration; /* how long a hold lasts, seconds */
} ScenarioWorkload;

typedef enum ScenarioSearch { /* the values of NODE_SEARCH_* (protocol/node.h) */
    SCENARIO_SEARCH_EXPANDING, /* waves of random supernodes (a27 on a small overlay) */
    SCENARIO_SEARCH_DHT,       /* Kademlia-style lookup over the supernodes */
    SCENARIO_SEARCH_SLOTS      /* the default: records stored at the slot of the name (a42) */
} ScenarioSearch;

typedef struct ScenarioEndpoint {
    uint32_t ip;   /* IPv4 address, host byte order */
    uint16_t port; /* port */
} ScenarioEndpoint;

typedef struct ScenarioProtocol {
    uint32_t host_cache_size;      /* supernode entries kept per client, [1,200] */
    size_t n_bootstrap;            /* number of bootstrap supernodes, >= 1 */
    ScenarioEndpoint *bootstrap;   /* n_bootstrap addresses, in file order */
    ScenarioEndpoint login_server; /* address of the login server */
    ScenarioEndpoint web_server;   /* address of the web (update) server */
    ScenarioEndpoint phone_gateway; /* address of the phone gateway (built when
                                       workload.pstn_share > 0) */
    ScenarioSearch search;         /* user search strategy */
    size_t n_fanout;               /* number of search waves, >= 1 */
    uint32_t *search_fanout;       /* supernodes asked in each wave; dht: [0] is alpha */
    TimeNs search_timeout_ns;      /* time a search waits for answers per wave */
    uint32_t login_rounds;         /* rounds of UDP probes before falling back to TCP */
    TimeNs probe_timeout_ns;       /* wait for the answer to one UDP probe */
    TimeNs connect_timeout_ns;     /* wait for a TCP connection to a supernode */
    TimeNs login_retry_wait_ns;    /* pause between failed login attempts */
    TimeNs login_pause_ns;         /* pause after a give-up before logging in again; 0: never */
    TimeNs keepalive_ns;           /* interval of keep-alives to the supernode */
    uint32_t keepalive_misses;     /* missed keep-alives before failover, >= 1 */
    uint32_t alt_nodes;            /* size of the alternate node table */
    TimeNs presence_ttl_ns;        /* how long the global index remembers a user */
    uint32_t slot_size;            /* slots: supernodes storing each user's record */
    TimeNs index_republish_ns;     /* slots: records of attached clients published again */
    bool ring_exchange;            /* slots: the ring's anti-entropy exchange */
    bool call_locate_flood;        /* calls locate by the supernode flood, not the index */
    uint64_t relay_bandwidth_bps;  /* relay cap per relayed call and direction, bit/s (a48);
                                      not given: media_relay_cap_default() of the media */
} ScenarioProtocol;

typedef enum ScenarioCodec {
    SCENARIO_CODEC_OPUS,      /* libopus, wideband */
    SCENARIO_CODEC_SKYPE2004, /* the 2004 client's profile (iSAC-like, on libopus) */
    SCENARIO_CODEC_G729       /* G.729-like narrowband profile (on libopus) */
} ScenarioCodec;

typedef struct ScenarioMedia {
    ScenarioCodec codec;      /* codec profile */
    uint64_t bitrate_bps;     /* codec bit rate, bits per second */
    TimeNs frame_ns;          /* audio per packet */
    bool fec;                 /* forward error correction */
    bool fec_inband;          /* fec_mode "inband": opus's in-band FEC, not redundant copies */
    bool silence_suppression; /* no packets during silence */
    bool replay;              /* execution "replay" (a pre-encoded loop), else "frames" */
} ScenarioMedia;

typedef enum ScenarioEventAction {
    SCENARIO_EVENT_CRASH,  /* selected online nodes vanish without goodbye */
    SCENARIO_EVENT_LOGOUT, /* selected online nodes log out cleanly */
    SCENARIO_EVENT_LOGIN   /* selected offline clients log in */
} ScenarioEventAction;

typedef enum ScenarioEventWho {
    SCENARIO_WHO_ALL,        /* every node */
    SCENARIO_WHO_CLIENTS,    /* ordinary (non-supernode) clients */
    SCENARIO_WHO_SUPERNODES, /* current supernodes */
    SCENARIO_WHO_GROUP       /* the clients of one population group */
} ScenarioEventWho;

typedef struct ScenarioEvent {
    TimeNs at_ns;               /* virtual time of the event */
    ScenarioEventAction action; /* what happens */
    ScenarioEventWho who;       /* to whom */
    char *target;               /* who as written: "all", "clients", "supernodes" or a group */
    int group;                  /* SCENARIO_WHO_GROUP: index into population.groups */
    double fraction;            /* share of the selected nodes affected, (0,1] */
    TimeNs spread_ns;           /* actions spread uniformly over [at, at + spread] */
} ScenarioEvent;

typedef struct ScenarioOutputs {
    TimeNs timeseries_interval_ns; /* interval of timeseries.csv rows */
    char *pcap;                    /* pcap file in the results directory; NULL: none */
    char *pcap_at;                 /* capture points, comma-separated: "access", "core",
                                      "node:ID", "group:NAME"; owned, never NULL */
    char *trace;                   /* event trace file in the results directory; NULL: none */
} ScenarioOutputs;

/* The largest seed, 2^53 - 1: the integers every JSON reader holds
 * exactly (RFC 8259 section 6), so a seed read back from results.json is
 * the seed written, even through a reader that keeps numbers as doubles
 * (cJSON does; any text of an integer above this reads as >= 2^53 and is
 * refused, never rounded into range). */
#define SCENARIO_SEED_MAX ((UINT64_C(1) << 53) - 1)

typedef struct ScenarioSpec {
    char *name;                    /* scenario name; default: file name without .json */
    char *description;             /* free text; default "" */
    uint64_t seed;                 /* master seed, [0, SCENARIO_SEED_MAX] */
    TimeNs duration_ns;            /* simulated time, > 0 */
    TimeNs warmup_ns;              /* initial time excluded from metrics, [0, duration) */
    ScenarioNetwork network;       /* the simulated Internet */
    ScenarioPopulation population; /* who the clients are */
    ScenarioSupernodes supernodes; /* how supernodes are chosen */
    ScenarioChurn churn;           /* when clients come and go */
    ScenarioWorkload workload;     /* what online users do */
    ScenarioProtocol protocol;     /* protocol parameters */
    ScenarioMedia media;           /* voice media */
    char *calibration;       /* CPU cost calibration file, relative to the cwd; NULL: built in */
    ScenarioOutputs outputs; /* optional outputs */
    size_t n_events;         /* number of scheduled events */
    ScenarioEvent *events;   /* n_events events, sorted by time (stable) */
} ScenarioSpec;

typedef struct Scenario Scenario;

/* Reads, validates and resolves a scenario file. File names inside it are
 * relative to the directory of path. path: borrowed. Returns a new Scenario
 * (owned by the caller, free with scenario_free()) or NULL with err set. */
Scenario *scenario_load(const char *path, GError **err);

/* As scenario_load(), then applies each "path=value" of sets (a borrowed,
 * NULL-terminated array; NULL for none) in order, then validates again. */
Scenario *scenario_load_with(const char *path, const char *const *sets, GError **err);

/* As scenario_load() on text held in memory: origin names it in messages and
 * gives the default name; base_dir resolves relative file names ("." when
 * NULL). All borrowed. Returns an owned Scenario or NULL with err set. */
Scenario *scenario_load_text(const char *text, const char *origin, const char *base_dir,
                             GError **err);

/* Applies one override "path=value", as simrun's --set: path is a JSON path
 * such as "population.clients" or "population.groups[1].nat" (missing
 * objects on the way are created; an array index may be one past the end to
 * append); value is JSON when it parses as JSON, else a string. The value is
 * checked at once as a file value would be; checks that relate keys to each
 * other wait for scenario_validate(), which must be called after the last
 * override. assignment: borrowed. Returns false with err set and s unchanged
 * on error. */
bool scenario_set(Scenario *s, const char *assignment, GError **err);

/* Runs every check, including the cross-key ones, on s as overridden.
 * Returns false with err set when one fails. */
bool scenario_validate(Scenario *s, GError **err);

/* The resolved scenario; borrowed, valid until the next scenario_set() or
 * scenario_free(). s must have passed scenario_validate() since the last
 * scenario_set() (a programming error otherwise). */
const ScenarioSpec *scenario_spec_get(const Scenario *s);

/* The scenario as resolved, every default filled in, in the file format: the
 * text loads back to the same ScenarioSpec when written next to the original
 * (file names stay relative to its directory). Returns a new tree owned by
 * the caller (cJSON_Delete). */
cJSON *scenario_to_json(const Scenario *s);

/* A JSON number node holding exactly the decimal digits of v (a raw node:
 * cJSON would print a double with 15 significant digits). For seeds and
 * other 64-bit integers of results files. Owned by the caller. */
cJSON *scenario_json_u64(uint64_t v);

/* The JSON Schema (draft-07) of scenario files, made from the key tables
 * the reader validates with (scenarios/schema.json is this text; simrun
 * --print-schema writes it). Owned (g_free). */
char *scenario_schema_text(void);

/* The one-line description of the scenario key at dotted path (as
 * "protocol.keepalive" or "population.groups.0.nat": array indices and
 * map keys step into the element), from the same tables; NULL when the
 * path names no key or the key has no description. Borrowed. */
const char *scenario_key_doc(const char *path);

/* Frees s and everything it owns; NULL is a no-op. */
void scenario_free(Scenario *s);

#endif
