/* runner: one scenario run into a results directory; see runner.h.
 * Wall-clock time is read here only for the progress line and the engine
 * section of results.json, never inside the simulation: the run advances in
 * chunks of virtual time between which the progress line is drawn, and chunk
 * boundaries do not change the order of events. */
#include "sim/buildinfo/buildinfo.h"
#include "sim/world/runner.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "sim/kernel/sim.h"
#include "sim/net/net.h"
#include "sim/net/pcap.h"
#include "sim/world/metrics.h"
#include "sim/world/progress.h"
#include "sim/world/results.h"
#include "sim/world/world.h"

/* Time-series sampling: an event every interval writes one row. */
typedef struct RunnerSampler {
    World *w;          /* the world */
    Results *res;      /* where rows go */
    TimeNs interval;   /* row spacing, ns */
    TimeNs end;        /* last row at or before this */
    GError *err;       /* first write error */
} RunnerSampler;

static void runner_sample(Sim *sim, void *ctx, uint64_t arg)
{
    (void)arg;
    RunnerSampler *s = ctx;
    const char *const *names;
    size_t n = world_ts_columns(&names);
    double v[32];
    v[0] = timens_to_s(sim_now(sim));
    world_ts_row(s->w, v + 1);
    if (!s->err) results_ts_row(s->res, v, n + 1, &s->err);
    if (sim_now(sim) + s->interval <= s->end) sim_after(sim, s->interval, runner_sample, s, 0);
}

/* Test hook: raises a real SIGINT at a virtual time, so the interrupt path
 * (signal handler, stop at an event boundary, results marked interrupted)
 * is tested deterministically. */
static void runner_raise_sigint(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    (void)ctx;
    (void)arg;
    raise(SIGINT);
}

static bool runner_ts_header(Results *res, GError **err)
{
    const char *const *names;
    size_t n = world_ts_columns(&names);
    const char *cols[32] = {"time_s"};
    for (size_t i = 0; i < n; i++) cols[i + 1] = names[i];
    return results_ts_header(res, cols, n + 1, err);
}

/* Runs to the end in chunks of virtual time, drawing a progress line on a
 * terminal a few times a second. Returns true when interrupted. */
static bool runner_loop(World *w, TimeNs end, bool progress, volatile sig_atomic_t *stop)
{
    Sim *sim = world_sim(w);
    sim_set_stop_flag(sim, stop);
    double t0 = progress_wall_s(), last = t0;
    TimeNs chunk = end / 1000 > 0 ? end / 1000 : 1;
    for (;;) {
        TimeNs until = timens_add_sat(sim_now(sim), chunk);
        if (until > end) until = end;
        SimRunResult r = world_run(w, until);
        if (r == SIM_RUN_STOPPED) return true;
        double now = progress_wall_s();
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
 * summary. Every metric is named by its id in protocol/metric_table.h or
 * sim/world/simmetric.h, and looked up CHECKed (world_metric_id). */
static double runner_value(const World *w, MetricId id)
{
    return metrics_value(world_metrics(w), world_metric_id(w, id));
}

static cJSON *runner_num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* Summary of sample metric id; false when it has no sample. */
static bool runner_summary(const World *w, MetricId id, MetricsSummary *s)
{
    return metrics_summary(world_metrics(w), world_metric_id(w, id), s);
}

/* Mean of sample metric id, NAN when it has no sample. */
static double runner_mean(const World *w, MetricId id)
{
    MetricsSummary s;
    return runner_summary(w, id, &s) ? s.mean : NAN;
}

/* Calls: outcomes of the caller's attempts, setup time, path
 * mix and relay share among successful calls, mean MOS, drops. */
static void runner_headline_calls(const World *w, cJSON *h)
{
    double ok = runner_value(w, METRIC_CALL_SUCCESS);
    double fail = runner_value(w, METRIC_CALL_FAILURE);
    cJSON_AddItemToObject(h, "call_success_rate",
                          runner_num(ok + fail > 0 ? ok / (ok + fail) : NAN));
    /* Calls to a callee online and in no call when dialled (world_on_call):
     * the ones the overlay owes a connection. */
    double fc = metrics_value(world_metrics(w), world_simmetric_id(w, SIMMETRIC_CALL_FREE_CONNECTED));
    double ff = metrics_value(world_metrics(w), world_simmetric_id(w, SIMMETRIC_CALL_FREE_FAILED));
    cJSON_AddItemToObject(h, "call_success_free", runner_num(fc + ff > 0 ? fc / (fc + ff) : NAN));
    cJSON_AddItemToObject(h, "call_setup_mean_s", runner_num(runner_mean(w, METRIC_CALL_SETUP_S)));
    double relayed = 0;
    for (int p = NODE_CALL_PATH_NONE + 1; p < NODE_CALL_PATH_COUNT; p++) {
        char key[64];
        g_snprintf(key, sizeof key, "path_share_%s", node_call_path_name((NodeCallPath)p));
        double k = metrics_value(world_metrics(w),
                                 world_metric_family_id(w, METRIC_FAM_CALL_PATH, p, 0, 0));
        if (p == NODE_CALL_PATH_UDP_RELAY || p == NODE_CALL_PATH_TCP_RELAY) relayed += k;
        cJSON_AddItemToObject(h, key, runner_num(ok > 0 ? k / ok : NAN));
    }
    cJSON_AddItemToObject(h, "relay_share", runner_num(ok > 0 ? relayed / ok : NAN));
    cJSON_AddItemToObject(h, "mos_mean", runner_num(runner_mean(w, METRIC_CALL_MOS)));
    cJSON_AddNumberToObject(h, "calls_dropped", runner_value(w, METRIC_CALL_DROPPED));
}

static cJSON *runner_headline(World *w)
{
    cJSON *h = cJSON_CreateObject();
    double succ = runner_value(w, METRIC_LOGIN_SUCCESS);
    double fail = runner_value(w, METRIC_LOGIN_FAILURE);
    cJSON_AddItemToObject(h, "login_success_rate",
                          runner_num(succ + fail > 0 ? succ / (succ + fail) : NAN));
    MetricsSummary s;
    bool have = runner_summary(w, METRIC_LOGIN_TIME_S, &s);
    cJSON_AddItemToObject(h, "login_time_mean_s", runner_num(have ? s.mean : NAN));
    cJSON_AddItemToObject(h, "login_time_p95_s", runner_num(have ? s.p95 : NAN));
    double nat_total = runner_value(w, METRIC_NAT_DETECT_TOTAL);
    cJSON_AddItemToObject(
        h, "nat_detection_accuracy",
        runner_num(nat_total > 0 ? runner_value(w, METRIC_NAT_DETECT_CORRECT) / nat_total : NAN));
    WorldStats st;
    world_stats(w, &st);
    cJSON_AddNumberToObject(h, "supernodes_at_end", (double)st.supernodes);
    cJSON_AddItemToObject(
        h, "clients_per_supernode",
        runner_num(st.supernodes ? (double)st.sn_clients / (double)st.supernodes : NAN));
    cJSON_AddNumberToObject(h, "online_at_end", (double)st.online);
    cJSON_AddNumberToObject(h, "logged_in_at_end", (double)st.logged_in);
    cJSON_AddNumberToObject(h, "supernodes_with_clients", (double)st.sn_loaded);
    cJSON_AddItemToObject(
        h, "clients_per_loaded_supernode",
        runner_num(st.sn_loaded ? (double)st.sn_clients / (double)st.sn_loaded : NAN));
    cJSON_AddItemToObject(
        h, "bootstrap_client_share",
        runner_num(st.sn_clients ? (double)st.boot_clients / (double)st.sn_clients : NAN));
    cJSON_AddItemToObject(h, "hostcache_freshness", runner_num(world_hostcache_freshness(w)));
    cJSON_AddItemToObject(h, "failover_time_mean_s",
                          runner_num(runner_mean(w, METRIC_FAILOVER_TIME_S)));
    cJSON_AddNumberToObject(
        h, "supernode_cpu_charged_s",
        metrics_value(world_metrics(w), world_simmetric_id(w, SIMMETRIC_CPU_CHARGED_NS_SUPERNODE)) *
            1e-9);
    cJSON_AddNumberToObject(h, "client_protocol_bytes_high", (double)st.client_mem_high);
    double ss = runner_value(w, METRIC_SEARCH_SUCCESS);
    double sf = runner_value(w, METRIC_SEARCH_FAILURE);
    cJSON_AddItemToObject(h, "search_success_rate", runner_num(ss + sf > 0 ? ss / (ss + sf) : NAN));
    cJSON_AddItemToObject(h, "search_latency_mean_s",
                          runner_num(runner_mean(w, METRIC_SEARCH_LATENCY_S)));
    /* By the target's true state (the index's guarantee, a29: anyone
     * logged in within 72 h). */
    static const SimMetricId st_ids[][2] = {
        {SIMMETRIC_SEARCH_ONLINE_FOUND, SIMMETRIC_SEARCH_ONLINE_ABSENT},
        {SIMMETRIC_SEARCH_RECENT_FOUND, SIMMETRIC_SEARCH_RECENT_ABSENT}};
    static const char *const st_keys[] = {"search_success_online", "search_success_recent"};
    for (size_t i = 0; i < G_N_ELEMENTS(st_keys); i++) {
        double f = metrics_value(world_metrics(w), world_simmetric_id(w, st_ids[i][0]));
        double a = metrics_value(world_metrics(w), world_simmetric_id(w, st_ids[i][1]));
        cJSON_AddItemToObject(h, st_keys[i], runner_num(f + a > 0 ? f / (f + a) : NAN));
    }
    runner_headline_calls(w, h);
    return h;
}

static cJSON *runner_confusion(World *w)
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

/* Supernodes at the end by the number of clients they hold. */
static cJSON *runner_sn_load(World *w)
{
    WorldStats st;
    world_stats(w, &st);
    cJSON *o = cJSON_CreateObject();
    cJSON *hist = cJSON_AddObjectToObject(o, "supernodes_by_clients");
    for (int b = 0; b < WORLD_SN_HIST; b++)
        cJSON_AddNumberToObject(hist, world_sn_hist_names[b], (double)st.sn_hist[b]);
    cJSON_AddNumberToObject(o, "clients_attached", (double)st.sn_clients);
    cJSON_AddNumberToObject(o, "clients_on_bootstraps", (double)st.boot_clients);
    return o;
}

static cJSON *runner_engine(World *w, double wall, EvqKind q)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    Sim *sim = world_sim(w);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToObject(e, "events", scenario_json_u64(sim_events_executed(sim)));
    cJSON_AddNumberToObject(e, "wall_s", wall);
    cJSON_AddNumberToObject(e, "events_per_s", wall > 0 ? (double)sim_events_executed(sim) / wall : 0);
    cJSON_AddNumberToObject(e, "peak_rss_kib", (double)ru.ru_maxrss);
    cJSON_AddNumberToObject(e, "charged_cpu_s", envsim_cpu_ns_total(world_envsim(w)) * 1e-9);
    cJSON_AddNumberToObject(e, "process_cpu_s", /* user + system CPU of the whole process */
                            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
    cJSON_AddStringToObject(e, "queue", evq_kind_name(q));
    cJSON_AddItemToObject(e, "build", buildinfo_json()); /* version, commit, libraries */
    return e;
}


double runner_headline_get(const cJSON *head, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(head, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

void runner_result_clear(RunnerResult *res)
{
    cJSON_Delete(res->headline);
    res->headline = NULL;
}

/* Everything of a run that must be released whatever happens. */
typedef struct RunnerRun {
    Results *res;  /* open results, or NULL once committed/aborted */
    World *w;      /* the world, or NULL */
    FILE *trace;   /* open trace file, or NULL */
    FILE *env_trace; /* open env trace file (RunnerOptions.env_trace), or NULL */
} RunnerRun;

static void runner_run_abort(RunnerRun *r)
{
    if (r->trace) fclose(r->trace);
    if (r->w) world_set_trace(r->w, NULL);
    if (r->w) world_env_trace_detach(r->w);
    if (r->env_trace) fclose(r->env_trace);
    results_abort(r->res);
    world_free(r->w);
}

/* Opens the trace file in the results directory and hands it to the world. */
static bool runner_trace_open(RunnerRun *r, const char *name, GError **err)
{
    const char *path = results_path(r->res, name);
    r->trace = fopen(path, "w");
    if (!r->trace) {
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot create %s: %s", path, g_strerror(errno));
        return false;
    }
    world_set_trace(r->w, r->trace);
    return true;
}

static cJSON *runner_results_json(const Scenario *scn, World *w, bool interrupted, double wall,
                                  EvqKind q)
{
    const ScenarioSpec *spec = scenario_spec_get(scn);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "skysim_version", RUNNER_VERSION);
    cJSON_AddItemToObject(root, "scenario", scenario_to_json(scn));
    cJSON_AddItemToObject(root, "seed", scenario_json_u64(spec->seed));
    cJSON_AddBoolToObject(root, "interrupted", interrupted);
    cJSON_AddNumberToObject(root, "simulated_s", timens_to_s(sim_now(world_sim(w))));
    cJSON_AddItemToObject(root, "headline", runner_headline(w));
    cJSON_AddItemToObject(root, "nat_detection", runner_confusion(w));
    cJSON_AddItemToObject(root, "supernode_load", runner_sn_load(w));
    cJSON_AddItemToObject(root, "metrics", metrics_to_json(world_metrics(w), sim_now(world_sim(w))));
    cJSON_AddItemToObject(root, "engine", runner_engine(w, wall, q));
    return root;
}

static gint runner_cmp_metric_name(gconstpointer a, gconstpointer b, gpointer ctx)
{
    const Metrics *m = ctx;
    return strcmp(metrics_name(m, GPOINTER_TO_UINT(*(gconstpointer const *)a)),
                  metrics_name(m, GPOINTER_TO_UINT(*(gconstpointer const *)b)));
}

/* samples.csv: every observation of every sample metric since warm-up, in
 * long format (metric,value), rows sorted by metric name then value, numbers
 * with %.9g so identical runs give identical bytes. The raw material of the
 * CDFs (analysis/plot.h). */
static bool runner_write_samples(RunnerRun *r, GError **err)
{
    Metrics *m = world_metrics(r->w);
    GPtrArray *ids = g_ptr_array_new();
    for (uint32_t id = 1; id <= metrics_count(m); id++)
        if (metrics_kind(m, id) == METRICS_SAMPLE) g_ptr_array_add(ids, GUINT_TO_POINTER(id));
    g_ptr_array_sort_with_data(ids, runner_cmp_metric_name, m);
    const char *path = results_path(r->res, "samples.csv");
    FILE *f = fopen(path, "w");
    bool ok = f != NULL && fputs("metric,value\n", f) >= 0;
    for (guint i = 0; ok && i < ids->len; i++) {
        uint32_t id = GPOINTER_TO_UINT(g_ptr_array_index(ids, i));
        size_t n;
        const double *x = metrics_samples(m, id, &n);
        for (size_t k = 0; k < n; k++) fprintf(f, "%s,%.9g\n", metrics_name(m, id), x[k]);
    }
    if (f && (ferror(f) | fclose(f))) ok = false;
    g_ptr_array_free(ids, TRUE);
    if (!ok) g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot write %s: %s", path, g_strerror(errno));
    return ok;
}

/* Closes the trace and the capture and commits the directory. */
static bool runner_finish(RunnerRun *r, const cJSON *root, bool pcap, GError **err)
{
    bool ok = runner_write_samples(r, err) && results_write_json(r->res, root, err);
    if (r->trace) {
        world_set_trace(r->w, NULL);
        if (fclose(r->trace) != 0 && ok) {
            ok = false;
            g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "writing the trace: %s", g_strerror(errno));
        }
        r->trace = NULL;
    }
    if (r->env_trace) {
        world_env_trace_detach(r->w);
        if (fclose(r->env_trace) != 0 && ok) {
            ok = false;
            g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "writing the env trace: %s", g_strerror(errno));
        }
        r->env_trace = NULL;
    }
    if (ok && pcap) ok = net_pcap_close(world_net(r->w), err);
    if (ok) {
        ok = results_commit(r->res, err);
        r->res = NULL;
    }
    return ok;
}

uint64_t runner_memory_estimate(const ScenarioSpec *spec)
{
    uint64_t nodes = spec->population.clients;
    if (spec->supernodes.mode == SCENARIO_SN_DEDICATED) nodes += spec->supernodes.count;
    return RUNNER_MEM_BASE + nodes * RUNNER_MEM_PER_NODE;
}

uint64_t runner_machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* Bytes as "12.3 GiB" (plain spaces, unlike g_format_size). */
static void runner_size_format(uint64_t b, char *out, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    g_snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* Refuses (false, err set) a run whose memory estimate exceeds the limit. */
static bool runner_memory_ok(const ScenarioSpec *spec, const RunnerOptions *o, GError **err)
{
    uint64_t est = runner_memory_estimate(spec);
    uint64_t limit = o->max_memory ? o->max_memory : runner_machine_memory();
    if (!limit || est <= limit) return true;
    char e[32], l[32];
    runner_size_format(est, e, sizeof e);
    runner_size_format(limit, l, sizeof l);
    g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO,
                "scenario \"%s\": $.population.clients: %" G_GUINT64_FORMAT
                " clients need about %s of memory; the limit is %s (%s)",
                spec->name, spec->population.clients, e, l,
                o->max_memory ? "--max-memory" : "this machine's memory; --max-memory sets another");
    return false;
}

/* nodes.csv: the node map (world_nodes_write), so that the ids of the
 * event trace and the addresses of a capture can be told apart. */
static bool runner_nodes_write(RunnerRun *r, GError **err)
{
    const char *path = results_path(r->res, RESULTS_NODES_NAME);
    FILE *f = fopen(path, "w");
    bool ok = f && world_nodes_write(r->w, f);
    if (f && fclose(f) != 0) ok = false;
    if (!ok) g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot write %s: %s", path, g_strerror(errno));
    return ok;
}

RunnerStatus runner_run(const Scenario *scn, const RunnerOptions *o, RunnerResult *out, GError **err)
{
    const ScenarioSpec *spec = scenario_spec_get(scn);
    if (!runner_memory_ok(spec, o, err)) return RUNNER_BAD_INPUT;
    RunnerRun r = {0};
    r.res = results_open(o->out_dir, err);
    if (!r.res) return RUNNER_BAD_INPUT;
    const char *pcap = spec->outputs.pcap ? results_path(r.res, spec->outputs.pcap) : NULL;
    if (o->env_trace) {
        char name[32];
        g_snprintf(name, sizeof name, "envtrace-%u.log", (unsigned)o->env_trace_node);
        const char *path = results_path(r.res, name);
        r.env_trace = fopen(path, "w");
        if (!r.env_trace) {
            g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO, "cannot create %s: %s", path, g_strerror(errno));
            runner_run_abort(&r);
            return RUNNER_INTERNAL;
        }
    }
    r.w = world_new_env_trace(spec, o->queue, pcap, o->env_trace_node, r.env_trace, err);
    if (!r.w) {
        runner_run_abort(&r);
        return RUNNER_BAD_INPUT;
    }
    if (!runner_nodes_write(&r, err)) {
        runner_run_abort(&r);
        return RUNNER_INTERNAL;
    }
    if (o->stop_flag && *o->stop_flag) { /* a signal while the world was built */
        g_set_error(err, RESULTS_ERROR, RESULTS_ERROR_IO,
                    "interrupted while building the world; no results written");
        runner_run_abort(&r);
        return RUNNER_STOPPED;
    }
    RunnerSampler smp = {.w = r.w, .res = r.res, .interval = spec->outputs.timeseries_interval_ns,
                         .end = spec->duration_ns};
    if ((spec->outputs.trace && !runner_trace_open(&r, spec->outputs.trace, err)) ||
        !runner_ts_header(r.res, err)) {
        runner_run_abort(&r);
        return RUNNER_INTERNAL;
    }
    Sim *sim = world_sim(r.w);
    sim_at(sim, 0, runner_sample, &smp, 0);
    if (o->raise_sigint_at >= 0) sim_at(sim, o->raise_sigint_at, runner_raise_sigint, NULL, 0);
    double t0 = progress_wall_s();
    bool interrupted = runner_loop(r.w, spec->duration_ns, o->progress, o->stop_flag);
    double wall = progress_wall_s() - t0;
    if (smp.err) {
        g_propagate_error(err, smp.err);
        runner_run_abort(&r);
        return RUNNER_INTERNAL;
    }
    cJSON *root = runner_results_json(scn, r.w, interrupted, wall, o->queue);
    bool ok = runner_finish(&r, root, pcap != NULL, err);
    if (ok) {
        WorldStats st;
        world_stats(r.w, &st);
        *out = (RunnerResult){.interrupted = interrupted,
                              .headline = cJSON_Duplicate(cJSON_GetObjectItem(root, "headline"), 1),
                              .clients = st.clients, .online = st.online, .logged_in = st.logged_in,
                              .events = sim_events_executed(sim), .wall_s = wall};
    }
    cJSON_Delete(root);
    runner_run_abort(&r); /* frees the world; the results are already committed when ok */
    return ok ? RUNNER_OK : RUNNER_INTERNAL;
}
