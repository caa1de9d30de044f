/* simrun: the command-line front end: one scenario, one run, one results
 * directory (README.md, "Running a scenario").
 *
 *   simrun SCENARIO.json [--seed N] [--set path=value]... [--duration T]
 *          [--out DIR] [--quiet] [--pcap FILE] [--pcap-at WHERE] [--trace FILE]
 *          [--queue Q] [--trace-env NODE] [--print-resolved]
 *   simrun --print-schema
 *
 * Exit status: 0 done (also when interrupted: the results are marked), 2
 * bad input (scenario, flags), 1 internal error, 130 interrupted while the
 * world was built (nothing run, nothing written). The run itself is
 * runner_run() (runner.h), which the analysis tools call too; this file is
 * the command line, the signal handling and the summary.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/buildinfo/buildinfo.h"
#include "sim/world/jsonin.h"
#include "sim/world/runner.h"
#include "sim/world/scenario.h"

typedef struct SimrunOpts {
    gchar *seed;       /* --seed as given, owned; NULL: not given */
    gchar **sets;      /* --set, owned */
    gchar *duration;   /* --duration, owned */
    gchar *out;        /* --out, owned */
    gboolean quiet;    /* --quiet */
    gchar *pcap;       /* --pcap, owned */
    gchar **pcap_at;   /* --pcap-at, owned (repeatable) */
    gboolean print_resolved; /* --print-resolved: print the scenario as resolved, run nothing */
    gchar *trace;      /* --trace, owned */
    gchar *queue;      /* --queue, owned */
    gchar *trace_env;  /* --trace-env, owned */
    gchar *raise_at;   /* --test-raise-sigint-at (hidden, for tests), owned */
    gchar *max_memory; /* --max-memory, owned */
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


/* One headline figure for the summary: v * scale with `decimals` digits
 * and its unit (" s", " %" or ""), or "n/a" with no unit when the run had
 * no observation of it (the headline holds NaN, e.g. the failover time of
 * a run without failovers). Writes into buf. */
static const char *simrun_fig(char *buf, size_t cap, double v, double scale, int decimals,
                              const char *unit)
{
    if (isnan(v)) return "n/a";
    g_snprintf(buf, cap, "%.*f%s", decimals, v * scale, unit);
    return buf;
}

static void simrun_summary(const RunnerResult *r, const char *dir)
{
    char b[12][32];
#define SIMRUN_FIG(i, key, scale, dec, unit)                                                       \
    simrun_fig(b[i], sizeof b[i], runner_headline_get(r->headline, key), scale, dec, unit)
    printf("%s\n", r->interrupted ? "run INTERRUPTED: results so far" : "run complete");
    printf("  login success      %8s   mean time %s (p95 %s)\n",
           SIMRUN_FIG(0, "login_success_rate", 100, 1, " %"),
           SIMRUN_FIG(1, "login_time_mean_s", 1, 2, " s"),
           SIMRUN_FIG(2, "login_time_p95_s", 1, 2, " s"));
    printf("  NAT detection      %8s correct\n",
           SIMRUN_FIG(0, "nat_detection_accuracy", 100, 1, " %"));
    printf("  supernodes         %6s     %s hold clients, %s clients each; bootstraps hold %s\n",
           SIMRUN_FIG(0, "supernodes_at_end", 1, 0, ""),
           SIMRUN_FIG(1, "supernodes_with_clients", 1, 0, ""),
           SIMRUN_FIG(2, "clients_per_loaded_supernode", 1, 1, ""),
           SIMRUN_FIG(3, "bootstrap_client_share", 100, 1, " %"));
    printf("  host-cache fresh   %8s   failover mean %s\n",
           SIMRUN_FIG(0, "hostcache_freshness", 100, 1, " %"),
           SIMRUN_FIG(1, "failover_time_mean_s", 1, 2, " s"));
    printf("  calls              %8s set up (callee online and free %s)   mean setup %s   "
           "%s dropped\n",
           SIMRUN_FIG(0, "call_success_rate", 100, 1, " %"),
           SIMRUN_FIG(1, "call_success_free", 100, 1, " %"),
           SIMRUN_FIG(2, "call_setup_mean_s", 1, 2, " s"), SIMRUN_FIG(3, "calls_dropped", 1, 0, ""));
    printf("  call paths         direct %s  punched %s  UDP relay %s  TCP relay %s\n",
           SIMRUN_FIG(0, "path_share_direct", 100, 1, " %"),
           SIMRUN_FIG(1, "path_share_hole_punched", 100, 1, " %"),
           SIMRUN_FIG(2, "path_share_udp_relay", 100, 1, " %"),
           SIMRUN_FIG(3, "path_share_tcp_relay", 100, 1, " %"));
    printf("  relayed calls      %8s   mean MOS %s\n",
           SIMRUN_FIG(0, "relay_share", 100, 1, " %"), SIMRUN_FIG(1, "mos_mean", 1, 2, ""));
    printf("  user search        %8s found   mean latency %s   online targets %s, "
           "logged out < 72 h %s\n",
           SIMRUN_FIG(0, "search_success_rate", 100, 1, " %"),
           SIMRUN_FIG(1, "search_latency_mean_s", 1, 2, " s"),
           SIMRUN_FIG(2, "search_success_online", 100, 1, " %"),
           SIMRUN_FIG(3, "search_success_recent", 100, 1, " %"));
    printf("  clients at end     %6llu logged in, %llu online (started) of %llu\n",
           (unsigned long long)r->logged_in, (unsigned long long)r->online,
           (unsigned long long)r->clients);
    printf("  results            %s\n", dir);
#undef SIMRUN_FIG
}

static int simrun_fail(const char *what, GError *err, int code)
{
    g_autofree char *pre = g_strconcat("simrun: ", what, NULL);
    jsonin_eprint(pre, err ? err->message : NULL, "");
    g_clear_error(&err);
    return code;
}

/* Builds the list of --set overrides with --seed, --duration, --pcap,
 * --pcap-at and --trace last, so they win. */
static GPtrArray *simrun_overrides(const SimrunOpts *o)
{
    GPtrArray *sets = g_ptr_array_new_with_free_func(g_free);
    for (gchar **s = o->sets; s && *s; s++) g_ptr_array_add(sets, g_strdup(*s));
    if (o->seed) g_ptr_array_add(sets, g_strdup_printf("seed=%s", o->seed)); /* checked digits */
    if (o->duration) g_ptr_array_add(sets, g_strdup_printf("duration=\"%s\"", o->duration));
    if (o->pcap) g_ptr_array_add(sets, g_strdup_printf("outputs.pcap=\"%s\"", o->pcap));
    if (o->pcap_at) {
        char *at = g_strjoinv(",", o->pcap_at);
        cJSON *j = cJSON_CreateString(at); /* a JSON string, quotes escaped */
        char *quoted = cJSON_PrintUnformatted(j);
        g_ptr_array_add(sets, g_strdup_printf("outputs.pcap_at=%s", quoted));
        cJSON_free(quoted);
        cJSON_Delete(j);
        g_free(at);
    }
    if (o->trace) g_ptr_array_add(sets, g_strdup_printf("outputs.trace=\"%s\"", o->trace));
    g_ptr_array_add(sets, NULL);
    return sets;
}

/* A size: digits, then nothing (bytes) or K, M, G, T (powers of 1024),
 * optionally followed by "B" or "iB"; at least 1 byte. */
static bool simrun_size_parse(const char *s, uint64_t *out)
{
    char *end;
    if (!g_ascii_isdigit(*s)) return false;
    guint64 v = g_ascii_strtoull(s, &end, 10);
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, g_ascii_toupper(*end)) : NULL;
    int shift = u ? 10 * (int)(u - units + 1) : 0;
    if (u) end++;
    if (u && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)) end += strlen(end);
    if (*end || v == 0 || v > (UINT64_MAX >> shift)) return false;
    *out = v << shift;
    return true;
}

/* Flags that are not scenario keys into runner options. */
static bool simrun_options(const SimrunOpts *o, RunnerOptions *ro, GError **err)
{
    *ro = (RunnerOptions){.queue = EVQ_BUCKET, .progress = !o->quiet && isatty(STDERR_FILENO),
                          .stop_flag = &simrun_stop_requested, .raise_sigint_at = -1};
    if (o->queue && !evq_kind_parse(o->queue, &ro->queue)) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--queue: expected \"heap\", \"ladder\" or \"bucket\"; found \"%s\"", o->queue);
        return false;
    }
    if (o->trace_env) {
        guint64 id;
        if (!g_ascii_string_to_unsigned(o->trace_env, 10, 0, UINT32_MAX - 1, &id, NULL)) {
            g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--trace-env: expected a node id (0, 1, ...); found \"%s\"", o->trace_env);
            return false;
        }
        ro->env_trace = true;
        ro->env_trace_node = (uint32_t)id;
    }
    if (o->max_memory && !simrun_size_parse(o->max_memory, &ro->max_memory)) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--max-memory: expected a size such as 512M, 4G or 4GiB (a number of bytes, "
                    "K, M, G or T: powers of 1024); found \"%s\"",
                    o->max_memory);
        return false;
    }
    if (o->raise_at && strcmp(o->raise_at, "build") != 0 &&
        !timens_parse(o->raise_at, TIMENS_S, &ro->raise_sigint_at, err))
        return false;
    return true;
}

/* --seed: the digits of an integer from 0 to SCENARIO_SEED_MAX, read from
 * the text (never through a double, never "not given" for a negative). */
static bool simrun_seed_check(const SimrunOpts *o, GError **err)
{
    guint64 v;
    if (!o->seed || g_ascii_string_to_unsigned(o->seed, 10, 0, SCENARIO_SEED_MAX, &v, NULL)) return true;
    g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--seed: expected an integer from 0 to %" G_GUINT64_FORMAT "; found \"%s\"",
                (guint64)SCENARIO_SEED_MAX, o->seed);
    return false;
}

static int simrun_run(const char *path, const SimrunOpts *o)
{
    GError *err = NULL;
    RunnerOptions ro;
    if (!simrun_seed_check(o, &err) || !simrun_options(o, &ro, &err)) return simrun_fail("", err, 2);
    GPtrArray *sets = simrun_overrides(o);
    Scenario *scn = scenario_load_with(path, (const char *const *)sets->pdata, &err);
    g_ptr_array_free(sets, TRUE);
    if (!scn) return simrun_fail("", err, 2);
    if (o->print_resolved) { /* what results.json's "scenario" would hold; runs again as is */
        cJSON *j = scenario_to_json(scn);
        char *text = cJSON_Print(j);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
        scenario_free(scn);
        return 0;
    }
    const ScenarioSpec *spec = scenario_spec_get(scn);
    char *dir = o->out ? g_strdup(o->out)
                       : g_strdup_printf("results/%s-%" G_GUINT64_FORMAT, spec->name, spec->seed);
    ro.out_dir = dir;
    struct sigaction sa = {.sa_handler = simrun_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->raise_at && strcmp(o->raise_at, "build") == 0) raise(SIGINT); /* test: during the build */
    RunnerResult rr;
    RunnerStatus st = runner_run(scn, &ro, &rr, &err);
    if (st == RUNNER_OK) {
        if (!o->quiet) simrun_summary(&rr, dir);
        runner_result_clear(&rr);
    }
    scenario_free(scn);
    g_free(dir);
    if (st == RUNNER_BAD_INPUT) return simrun_fail("", err, 2);
    if (st == RUNNER_STOPPED) return simrun_fail("", err, 130); /* 128 + SIGINT, as shells do */
    if (st == RUNNER_INTERNAL) return simrun_fail("writing results: ", err, 1);
    return 0;
}

int main(int argc, char **argv)
{
    SimrunOpts o = {0};
    g_log_set_default_handler(simrun_log, NULL);
    gboolean version = FALSE, print_schema = FALSE;
    GOptionEntry entries[] = {
        {"seed", 's', 0, G_OPTION_ARG_STRING, &o.seed,
         "Master seed, 0 to 2^53-1 (overrides the scenario's)", "N"},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
         "Override a scenario key, e.g. --set population.clients=5000 (repeatable)", "PATH=VALUE"},
        {"duration", 'd', 0, G_OPTION_ARG_STRING, &o.duration, "Simulated time, e.g. 30min", "T"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "Results directory (default results/NAME-SEED)", "DIR"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, "No progress line and no summary", NULL},
        {"pcap", 0, 0, G_OPTION_ARG_STRING, &o.pcap, "Capture packets into FILE (pcapng) in the results directory", "FILE"},
        {"pcap-at", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.pcap_at,
         "Capture points (repeatable or comma-separated): access (default: every host's access "
         "link, each packet once where first seen), core, node:ID (an id of nodes.csv), group:NAME", "WHERE"},
        {"trace", 0, 0, G_OPTION_ARG_STRING, &o.trace, "Event trace (logins, logouts, crashes) into FILE in the results directory", "FILE"},
        {"queue", 0, 0, G_OPTION_ARG_STRING, &o.queue, "Event queue: bucket (default), heap or ladder", "Q"},
        {"max-memory", 0, 0, G_OPTION_ARG_STRING, &o.max_memory,
         "Refuse to start when the run's memory estimate exceeds SIZE (e.g. 4G, 512M; default: this machine's memory)", "SIZE"},
        {"trace-env", 0, 0, G_OPTION_ARG_STRING, &o.trace_env,
         "Log every env call and event of node NODE (servers first, then clients) into envtrace-NODE.log in the results directory", "NODE"},
        {"test-raise-sigint-at", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o.raise_at,
         "Raise SIGINT at this virtual time, or \"build\": while the world is built (tests)", "T"},
        {"print-resolved", 0, 0, G_OPTION_ARG_NONE, &o.print_resolved,
         "Print the scenario as resolved (every default filled in, --set applied) as JSON, then exit without running", NULL},
        {"print-schema", 0, 0, G_OPTION_ARG_NONE, &print_schema,
         "Print the JSON Schema of scenario files (scenarios/schema.json), made from the tables the "
         "scenario reader validates with, then exit", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("SCENARIO.json - run one skysim scenario");
    g_option_context_set_summary(ctx,
        "Simulates the Skype-style overlay described by SCENARIO.json and writes\n"
        "results.json and timeseries.csv into a results directory (written under a\n"
        "temporary name and renamed when complete). Every scenario key is documented\n"
        "in scenarios/README.md; --set changes one with the same checks.\n\n"
        "Exit status: 0 done (an interrupted run too: its results are marked),\n"
        "2 bad input, 1 internal error, 130 interrupted before the run began.");
    g_option_context_set_description(ctx,
        "Examples:\n"
        "  simrun scenarios/nat_heavy.json\n"
        "  simrun scenarios/baseline.json --seed 7 --duration 10min --out results/try\n"
        "  simrun scenarios/churn.json --set population.clients=20000 --set supernodes.capacity=500\n");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        jsonin_eprint("simrun: ", err->message, " (see simrun --help)");
        g_error_free(err);
    } else if (version) {
        buildinfo_print(stdout, "simrun");
        rc = 0;
    } else if (print_schema && argc != 1) {
        fprintf(stderr, "simrun: --print-schema: expected no scenario file; found %d arguments (see simrun --help)\n",
                argc - 1);
    } else if (print_schema) {
        char *schema = scenario_schema_text();
        fputs(schema, stdout);
        g_free(schema);
        rc = 0;
    } else if (argc != 2) {
        fprintf(stderr, "simrun: expected one scenario file; found %d arguments (see simrun --help)\n", argc - 1);
    } else {
        rc = simrun_run(argv[1], &o);
    }
    g_option_context_free(ctx);
    g_free(o.seed);
    g_strfreev(o.sets);
    g_free(o.duration);
    g_free(o.out);
    g_free(o.max_memory);
    g_free(o.pcap);
    g_strfreev(o.pcap_at);
    g_free(o.trace);
    g_free(o.queue);
    g_free(o.trace_env);
    g_free(o.raise_at);
    return rc;
}
