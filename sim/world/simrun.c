/* simrun: the command-line front end: one scenario, one run, one results
 * directory (issue 6 items 3 and 4).
 *
 *   simrun SCENARIO.json [--seed N] [--set path=value]... [--duration T]
 *          [--out DIR] [--quiet] [--pcap FILE] [--trace FILE] [--queue Q]
 *
 * Exit status: 0 done (also when interrupted: the results are marked), 2
 * bad input (scenario, flags), 1 internal error. Wall-clock time is read
 * here, for the progress line and the engine section, never inside the
 * simulation: the run advances in chunks of virtual time between which the
 * progress line is drawn, and chunk boundaries do not change the order of
 * events, so a run on a terminal and one in CI give the same bytes.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sim/kernel/sim.h"
#include "sim/net/net.h"
#include "sim/net/pcap.h"
#include "sim/world/metrics.h"
#include "sim/world/results.h"
#include "sim/world/scenario.h"
#include "sim/world/world.h"

#define SIMRUN_VERSION "0.1.0"

typedef struct SimrunOpts {
    gint64 seed;       /* --seed, or -1 */
    gchar **sets;      /* --set, owned */
    gchar *duration;   /* --duration, owned */
    gchar *out;        /* --out, owned */
    gboolean quiet;    /* --quiet */
    gchar *pcap;       /* --pcap, owned */
    gchar *trace;      /* --trace, owned */
    gchar *queue;      /* --queue, owned */
    gchar *raise_at;   /* --test-raise-sigint-at (hidden, for tests), owned */
} SimrunOpts;

/* Set by the SIGINT/SIGTERM handler; the run loop polls it between events. */
static volatile sig_atomic_t simrun_stop_requested;

static void simrun_on_signal(int sig)
{
    (void)sig;
    simrun_stop_requested = 1;
}

/* Log lines carry virtual time and node id (envsim puts them in the
 * message), never wall time (STYLE.md §4): GLib's default handler would
 * stamp debug lines with the wall clock. Debug and info lines show only
 * when G_MESSAGES_DEBUG names the domain or says "all". */
static void simrun_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)data;
    const char *name = (level & G_LOG_LEVEL_ERROR)      ? "ERROR"
                       : (level & G_LOG_LEVEL_CRITICAL) ? "CRITICAL"
                       : (level & G_LOG_LEVEL_WARNING)  ? "WARNING"
                       : (level & G_LOG_LEVEL_MESSAGE)  ? "Message"
                       : (level & G_LOG_LEVEL_INFO)     ? "INFO"
                                                        : "DEBUG";
    if (level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) {
        const char *want = g_getenv("G_MESSAGES_DEBUG");
        if (!want || (!strstr(want, "all") && (!domain || !strstr(want, domain)))) return;
    }
    fprintf(stderr, "%s-%s: %s\n", domain ? domain : "skysim", name, msg);
}

static double simrun_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Time-series sampling: an event every interval writes one row. */
typedef struct SimrunSampler {
    World *w;          /* the world */
    Results *res;      /* where rows go */
    TimeNs interval;   /* row spacing, ns */
    TimeNs end;        /* last row at or before this */
    GError *err;       /* first write error */
} SimrunSampler;

static void simrun_sample(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    SimrunSampler *s = ctx;
    const char *const *names;
    size_t n = world_ts_columns(&names);
    double v[32];
    v[0] = timens_to_s(sim_now(sim));
    world_ts_row(s->w, v + 1);
    if (!s->err) results_ts_row(s->res, v, n + 1, &s->err);
    if (sim_now(sim) + s->interval <= s->end) sim_after(sim, s->interval, simrun_sample, s, 0);
}

/* Test hook: raises a real SIGINT at a virtual time, so the interrupt path
 * (signal handler, stop at an event boundary, results marked interrupted)
 * is tested deterministically. */
static void simrun_raise_sigint(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)ctx;
    (void)arg;
    raise(SIGINT);
}

static bool simrun_ts_header(Results *res, GError **err)
{
    const char *const *names;
    size_t n = world_ts_columns(&names);
    const char *cols[32] = {"time_s"};
    for (size_t i = 0; i < n; i++) cols[i + 1] = names[i];
    return results_ts_header(res, cols, n + 1, err);
}

/* Runs to the end in chunks of virtual time, drawing a progress line on a
 * terminal a few times a second. Returns true when interrupted. */
static bool simrun_loop(World *w, TimeNs end, bool progress)
{
    Sim *sim = world_sim(w);
    sim_set_stop_flag(sim, &simrun_stop_requested);
    double t0 = simrun_wall(), last = t0;
    TimeNs chunk = end / 1000 > 0 ? end / 1000 : 1;
    for (;;) {
        TimeNs until = timens_add_sat(sim_now(sim), chunk);
        if (until > end) until = end;
        SimRunResult r = world_run(w, until);
        if (r == SIM_RUN_STOPPED) return true;
        double now = simrun_wall();
        if (progress && now - last >= 0.25) {
            double done = (double)sim_now(sim) / (double)end, el = now - t0;
            char t[TIMENS_FORMAT_MAX];
            fprintf(stderr, "\r  t=%-12s %5.1f%%  %8.0f events/s  ETA %5.0fs ",
                    timens_format(sim_now(sim), t, sizeof t), 100 * done,
                    (double)sim_events_executed(sim) / el, done > 0 ? el * (1 - done) / done : 0);
            last = now;
        }
        if (sim_now(sim) >= end) break;
    }
    if (progress) fputs("\r\033[K", stderr);
    return false;
}

/* Headline numbers computed from the metrics, for results.json and the
 * summary. */
static double simrun_ratio(Metrics *m, const char *num, const char *den)
{
    uint32_t a = metrics_find(m, num), b = metrics_find(m, den);
    double d = b ? metrics_value(m, b) : 0;
    return d > 0 ? (a ? metrics_value(m, a) : 0) / d : NAN;
}

static cJSON *simrun_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *simrun_headline(World *w)
{
    Metrics *m = world_metrics(w);
    cJSON *h = cJSON_CreateObject();
    double succ = metrics_value(m, metrics_find(m, "login.success"));
    double fail = metrics_value(m, metrics_find(m, "login.failure"));
    cJSON_AddItemToObject(h, "login_success_rate", simrun_num(succ + fail > 0 ? succ / (succ + fail) : NAN));
    MetricsSummary s;
    uint32_t lt = metrics_find(m, "login.time_s");
    bool have = lt && metrics_summary(m, lt, &s);
    cJSON_AddItemToObject(h, "login_time_mean_s", simrun_num(have ? s.mean : NAN));
    cJSON_AddItemToObject(h, "login_time_p95_s", simrun_num(have ? s.p95 : NAN));
    cJSON_AddItemToObject(h, "nat_detection_accuracy",
                          simrun_num(simrun_ratio(m, "nat.detect.correct", "nat.detect.total")));
    WorldStats st;
    world_stats(w, &st);
    cJSON_AddNumberToObject(h, "supernodes_at_end", (double)st.supernodes);
    cJSON_AddItemToObject(h, "clients_per_supernode",
                          simrun_num(st.supernodes ? (double)st.sn_clients / (double)st.supernodes : NAN));
    cJSON_AddNumberToObject(h, "online_at_end", (double)st.online);
    cJSON_AddItemToObject(h, "hostcache_freshness", simrun_num(world_hostcache_freshness(w)));
    uint32_t fo = metrics_find(m, "failover.time_s");
    have = fo && metrics_summary(m, fo, &s);
    cJSON_AddItemToObject(h, "failover_time_mean_s", simrun_num(have ? s.mean : NAN));
    cJSON_AddNumberToObject(h, "supernode_cpu_charged_s",
                            metrics_value(m, metrics_find(m, "cpu.charged_ns.supernode")) * 1e-9);
    cJSON_AddNumberToObject(h, "client_protocol_bytes_high", (double)st.client_mem_high);
    return h;
}

static cJSON *simrun_confusion(World *w)
{
    uint64_t c[NAT_TYPE_COUNT * NAT_TYPE_COUNT];
    world_nat_confusion(w, c);
    cJSON *o = cJSON_CreateObject();
    for (int t = 0; t < NAT_TYPE_COUNT; t++) {
        cJSON *row = NULL;
        for (int d = 0; d < NAT_TYPE_COUNT; d++) {
            if (!c[t * NAT_TYPE_COUNT + d]) continue;
            if (!row) row = cJSON_AddObjectToObject(o, stun_nat_name((NatType)t));
            cJSON_AddNumberToObject(row, stun_nat_name((NatType)d), (double)c[t * NAT_TYPE_COUNT + d]);
        }
    }
    return o;
}

static cJSON *simrun_engine(World *w, double wall, EvqKind q)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    Sim *sim = world_sim(w);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "events", (double)sim_events_executed(sim));
    cJSON_AddNumberToObject(e, "wall_s", wall);
    cJSON_AddNumberToObject(e, "events_per_s", wall > 0 ? (double)sim_events_executed(sim) / wall : 0);
    cJSON_AddNumberToObject(e, "peak_rss_kib", (double)ru.ru_maxrss);
    cJSON_AddNumberToObject(e, "charged_cpu_s", envsim_cpu_ns_total(world_envsim(w)) * 1e-9);
    cJSON_AddStringToObject(e, "queue", evq_kind_name(q));
    return e;
}

static double simrun_get(const cJSON *head, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(head, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static void simrun_summary(World *w, const cJSON *head, const char *dir, bool interrupted)
{
#define SIMRUN_NUM(key) simrun_get(head, key)
    WorldStats st;
    world_stats(w, &st);
    printf("%s\n", interrupted ? "run INTERRUPTED: results so far" : "run complete");
    printf("  login success      %6.1f %%   mean time %.2f s (p95 %.2f s)\n",
           100 * SIMRUN_NUM("login_success_rate"), SIMRUN_NUM("login_time_mean_s"),
           SIMRUN_NUM("login_time_p95_s"));
    printf("  NAT detection      %6.1f %% correct\n", 100 * SIMRUN_NUM("nat_detection_accuracy"));
    printf("  supernodes         %6.0f     %.1f clients each\n", SIMRUN_NUM("supernodes_at_end"),
           SIMRUN_NUM("clients_per_supernode"));
    printf("  host-cache fresh   %6.1f %%   failover mean %.2f s\n",
           100 * SIMRUN_NUM("hostcache_freshness"), SIMRUN_NUM("failover_time_mean_s"));
    printf("  online at end      %6llu of %llu clients\n", (unsigned long long)st.online,
           (unsigned long long)st.clients);
    printf("  results            %s\n", dir);
#undef SIMRUN_NUM
}

static int simrun_fail(const char *what, GError *err, int code)
{
    fprintf(stderr, "simrun: %s%s\n", what, err ? err->message : "");
    g_clear_error(&err);
    return code;
}

/* Builds the list of --set overrides with --seed and --duration last. */
static GPtrArray *simrun_overrides(const SimrunOpts *o)
{
    GPtrArray *sets = g_ptr_array_new_with_free_func(g_free);
    for (gchar **s = o->sets; s && *s; s++) g_ptr_array_add(sets, g_strdup(*s));
    if (o->seed >= 0) g_ptr_array_add(sets, g_strdup_printf("seed=%" G_GINT64_FORMAT, o->seed));
    if (o->duration) g_ptr_array_add(sets, g_strdup_printf("duration=\"%s\"", o->duration));
    if (o->pcap) g_ptr_array_add(sets, g_strdup_printf("outputs.pcap=\"%s\"", o->pcap));
    if (o->trace) g_ptr_array_add(sets, g_strdup_printf("outputs.trace=\"%s\"", o->trace));
    g_ptr_array_add(sets, NULL);
    return sets;
}

static int simrun_run(const char *path, const SimrunOpts *o)
{
    GError *err = NULL;
    EvqKind q = EVQ_BUCKET;
    if (o->queue && !evq_kind_parse(o->queue, &q)) {
        fprintf(stderr, "simrun: --queue: expected \"heap\", \"ladder\" or \"bucket\"; found \"%s\"\n", o->queue);
        return 2;
    }
    GPtrArray *sets = simrun_overrides(o);
    Scenario *scn = scenario_load_with(path, (const char *const *)sets->pdata, &err);
    g_ptr_array_free(sets, TRUE);
    if (!scn) return simrun_fail("", err, 2);
    const ScenarioSpec *spec = scenario_spec_get(scn);
    char *dir = o->out ? g_strdup(o->out)
                       : g_strdup_printf("results/%s-%" G_GUINT64_FORMAT, spec->name, spec->seed);
    Results *res = results_open(dir, &err);
    if (!res) {
        g_free(dir);
        scenario_free(scn);
        return simrun_fail("", err, 2);
    }
    const char *pcap = spec->outputs.pcap ? results_path(res, spec->outputs.pcap) : NULL;
    World *w = world_new(spec, q, pcap, &err);
    if (!w) {
        results_abort(res);
        g_free(dir);
        scenario_free(scn);
        return simrun_fail("", err, 2);
    }
    SimrunSampler smp = {.w = w, .res = res, .interval = spec->outputs.timeseries_interval_ns,
                         .end = spec->duration_ns};
    FILE *trace = NULL;
    if (spec->outputs.trace) {
        trace = fopen(results_path(res, spec->outputs.trace), "w");
        if (!trace) {
            err = g_error_new(RESULTS_ERROR, RESULTS_ERROR_IO, "cannot create %s: %s",
                              results_path(res, spec->outputs.trace), g_strerror(errno));
            goto internal;
        }
        world_set_trace(w, trace);
    }
    if (!simrun_ts_header(res, &err)) goto internal;
    sim_at(world_sim(w), 0, simrun_sample, &smp, 0);
    if (o->raise_at) {
        TimeNs at;
        if (!timens_parse(o->raise_at, TIMENS_S, &at, &err)) goto internal;
        sim_at(world_sim(w), at, simrun_raise_sigint, NULL, 0);
    }
    struct sigaction sa = {.sa_handler = simrun_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double t0 = simrun_wall();
    bool interrupted = simrun_loop(w, spec->duration_ns, !o->quiet && isatty(STDERR_FILENO));
    double wall = simrun_wall() - t0;
    if (smp.err) {
        err = smp.err;
        goto internal;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "skysim_version", SIMRUN_VERSION);
    cJSON_AddItemToObject(root, "scenario", scenario_to_json(scn));
    cJSON_AddNumberToObject(root, "seed", (double)spec->seed);
    cJSON_AddBoolToObject(root, "interrupted", interrupted);
    cJSON_AddNumberToObject(root, "simulated_s", timens_to_s(sim_now(world_sim(w))));
    cJSON *head = simrun_headline(w);
    cJSON_AddItemToObject(root, "headline", head);
    cJSON_AddItemToObject(root, "nat_detection", simrun_confusion(w));
    cJSON_AddItemToObject(root, "metrics", metrics_to_json(world_metrics(w), sim_now(world_sim(w))));
    cJSON_AddItemToObject(root, "engine", simrun_engine(w, wall, q));
    bool ok = results_write_json(res, root, &err);
    if (trace) {
        world_set_trace(w, NULL);
        if (fclose(trace) != 0 && ok) {
            ok = false;
            err = g_error_new(RESULTS_ERROR, RESULTS_ERROR_IO, "writing the trace: %s", g_strerror(errno));
        }
        trace = NULL;
    }
    if (ok && pcap) ok = net_pcap_close(world_net(w), &err);
    if (ok) ok = results_commit(res, &err);
    if (ok && !o->quiet) simrun_summary(w, head, dir, interrupted);
    cJSON_Delete(root);
    world_free(w);
    scenario_free(scn);
    g_free(dir);
    if (!ok) return simrun_fail("writing results: ", err, 1);
    return 0;
internal:
    if (trace) fclose(trace);
    results_abort(res);
    world_free(w);
    scenario_free(scn);
    g_free(dir);
    return simrun_fail("writing results: ", err, 1);
}

int main(int argc, char **argv)
{
    SimrunOpts o = {.seed = -1};
    g_log_set_default_handler(simrun_log, NULL);
    GOptionEntry entries[] = {
        {"seed", 's', 0, G_OPTION_ARG_INT64, &o.seed, "Master seed (overrides the scenario's)", "N"},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
         "Override a scenario key, e.g. --set population.clients=5000 (repeatable)", "PATH=VALUE"},
        {"duration", 'd', 0, G_OPTION_ARG_STRING, &o.duration, "Simulated time, e.g. 30min", "T"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "Results directory (default results/NAME-SEED)", "DIR"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, "No progress line and no summary", NULL},
        {"pcap", 0, 0, G_OPTION_ARG_STRING, &o.pcap, "Capture every packet into FILE in the results directory", "FILE"},
        {"trace", 0, 0, G_OPTION_ARG_STRING, &o.trace, "Event trace (logins, logouts, crashes) into FILE in the results directory", "FILE"},
        {"queue", 0, 0, G_OPTION_ARG_STRING, &o.queue, "Event queue: bucket (default), heap or ladder", "Q"},
        {"test-raise-sigint-at", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o.raise_at,
         "Raise SIGINT at this virtual time (tests)", "T"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("SCENARIO.json - run one skysim scenario");
    g_option_context_set_summary(ctx,
        "Simulates the Skype-style overlay described by SCENARIO.json and writes\n"
        "results.json and timeseries.csv into a results directory (written under a\n"
        "temporary name and renamed when complete). Every scenario key is documented\n"
        "in scenarios/README.md; --set changes one with the same checks.\n\n"
        "Exit status: 0 done, 2 bad input, 1 internal error.");
    g_option_context_set_description(ctx,
        "Examples:\n"
        "  simrun scenarios/nat_heavy.json\n"
        "  simrun scenarios/baseline.json --seed 7 --duration 10min --out results/try\n"
        "  simrun scenarios/churn.json --set population.clients=20000 --set supernodes.capacity=500\n");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "simrun: %s (see simrun --help)\n", err->message);
        g_error_free(err);
    } else if (argc != 2) {
        fprintf(stderr, "simrun: expected one scenario file; found %d arguments (see simrun --help)\n", argc - 1);
    } else {
        rc = simrun_run(argv[1], &o);
    }
    g_option_context_free(ctx);
    g_strfreev(o.sets);
    g_free(o.duration);
    g_free(o.out);
    g_free(o.pcap);
    g_free(o.trace);
    g_free(o.queue);
    g_free(o.raise_at);
    return rc;
}
