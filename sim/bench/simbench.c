/* simbench: benchmarks. `simbench phold ...` runs PHOLD on the kernel and
 * prints events, wall time, events per second, ns per event, peak RSS and
 * the execution-order checksum. `simbench crypto ...` prints ns per packet
 * of the per-packet ciphers (sim/bench/cryptobench.h). Wall time is read
 * here, in the front end, and never on the simulation path. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim/buildinfo/buildinfo.h"
#include "sim/bench/cryptobench.h"
#include "sim/bench/phold.h"

typedef struct SimbenchOpts {
    gint lps;         /* --lps */
    gint population;  /* --population */
    gdouble remote;   /* --remote */
    gchar *lookahead; /* --lookahead, owned */
    gchar *mean;      /* --mean, owned */
    gchar *end;       /* --end, owned */
    gint64 seed;      /* --seed */
    gchar *queue;     /* --queue, owned */
    gint packets;     /* --packets (crypto) */
    gint reps;        /* --reps (crypto) */
    gint streams;     /* --streams (crypto) */
} SimbenchOpts;

static double simbench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static TimeNs simbench_duration(const char *flag, const char *text, const char *dflt)
{
    GError *err = NULL;
    TimeNs t;
    if (!timens_parse(text ? text : dflt, TIMENS_S, &t, &err)) {
        fprintf(stderr, "simbench: --%s: %s\n", flag, err->message);
        exit(2);
    }
    if (t < 0) {
        fprintf(stderr, "simbench: --%s: expected a duration >= 0; found \"%s\"\n", flag, text);
        exit(2);
    }
    return t;
}

static int simbench_phold(const SimbenchOpts *o)
{
    PholdConfig cfg = {
        .lps = (uint32_t)o->lps,
        .population = (uint32_t)o->population,
        .remote = o->remote,
        .lookahead = simbench_duration("lookahead", o->lookahead, "1s"),
        .mean = simbench_duration("mean", o->mean, "1s"),
        .end = simbench_duration("end", o->end, "100s"),
        .seed = (uint64_t)o->seed,
        .queue = EVQ_BUCKET,
    };
    if (o->lps < 1 || o->population < 0 || !(o->remote >= 0 && o->remote <= 1)) {
        fprintf(stderr, "simbench: expected --lps >= 1, --population >= 0, 0 <= --remote <= 1; "
                        "found %d, %d, %g\n", o->lps, o->population, o->remote);
        return 2;
    }
    if (o->queue && !evq_kind_parse(o->queue, &cfg.queue)) {
        fprintf(stderr, "simbench: --queue: expected \"heap\", \"ladder\" or \"bucket\"; found \"%s\"\n", o->queue);
        return 2;
    }
    char la[TIMENS_FORMAT_MAX], mean[TIMENS_FORMAT_MAX], end[TIMENS_FORMAT_MAX];
    printf("phold lps=%u population=%u remote=%g lookahead=%s mean=%s end=%s seed=%llu queue=%s\n",
           cfg.lps, cfg.population, cfg.remote, timens_format(cfg.lookahead, la, sizeof la),
           timens_format(cfg.mean, mean, sizeof mean), timens_format(cfg.end, end, sizeof end),
           (unsigned long long)cfg.seed, evq_kind_name(cfg.queue));
    PholdResult res;
    double t0 = simbench_wall();
    phold_run(&cfg, &res);
    double wall = simbench_wall() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("events executed:   %llu\n", (unsigned long long)res.events);
    printf("wall seconds:      %.3f\n", wall);
    printf("events per second: %.0f\n", wall > 0 ? (double)res.events / wall : 0.0);
    printf("ns per event:      %.1f\n", res.events ? wall * 1e9 / (double)res.events : 0.0);
    printf("peak RSS:          %ld KiB\n", ru.ru_maxrss);
    printf("queue bytes at end: %zu\n", res.queue_bytes);
    printf("checksum:          %016llx\n", (unsigned long long)res.checksum);
    return 0;
}

static int simbench_crypto(const SimbenchOpts *o)
{
    if (o->packets < 1 || o->reps < 1 || o->streams < 17 || o->streams > CRYPTOBENCH_STREAMS_MAX) {
        fprintf(stderr, "simbench: expected --packets >= 1, --reps >= 1, 17 <= --streams <= %d; "
                        "found %d, %d, %d\n", CRYPTOBENCH_STREAMS_MAX, o->packets, o->reps,
                o->streams);
        return 2;
    }
    CryptobenchConfig cfg = {
        .packets = (uint32_t)o->packets, .reps = (uint32_t)o->reps, .streams = (uint32_t)o->streams};
    return cryptobench_run(&cfg, stdout);
}

int main(int argc, char **argv)
{
    SimbenchOpts o = {.lps = 1000, .population = 1, .remote = 0.9, .seed = 1,
                      .packets = 20000, .reps = 15, .streams = 1024};
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"lps", 0, 0, G_OPTION_ARG_INT, &o.lps, "Logical processes (default 1000)", "N"},
        {"population", 0, 0, G_OPTION_ARG_INT, &o.population, "Initial events per LP (default 1)", "P"},
        {"remote", 0, 0, G_OPTION_ARG_DOUBLE, &o.remote, "Share of events sent to another LP (default 0.9)", "F"},
        {"lookahead", 0, 0, G_OPTION_ARG_STRING, &o.lookahead, "Minimum delay (default 1s; bare numbers are seconds)", "L"},
        {"mean", 0, 0, G_OPTION_ARG_STRING, &o.mean, "Mean of the exponential extra delay (default 1s)", "M"},
        {"end", 0, 0, G_OPTION_ARG_STRING, &o.end, "Virtual end time (default 100s)", "T"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "Master seed (default 1)", "S"},
        {"queue", 0, 0, G_OPTION_ARG_STRING, &o.queue, "Event queue: heap, ladder or bucket (default bucket)", "Q"},
        {"packets", 0, 0, G_OPTION_ARG_INT, &o.packets, "crypto: packets per timed batch (default 20000)", "N"},
        {"reps", 0, 0, G_OPTION_ARG_INT, &o.reps, "crypto: batches per case, interleaved; the median is printed (default 15)", "R"},
        {"streams", 0, 0, G_OPTION_ARG_INT, &o.streams, "crypto: AES keys in rotation in the many-stream cases (default 1024)", "S"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("phold|crypto - run a benchmark");
    g_option_context_set_summary(ctx,
        "Benchmarks of the skysim event kernel and of the per-packet crypto.\n\n"
        "  phold   the PHOLD benchmark: --lps N logical processes with --population P\n"
        "          events each; every event schedules one more, to another LP with\n"
        "          probability --remote, after --lookahead + Exp(--mean).\n"
        "  crypto  ns per packet of RC4 (80-byte key, 40 and 200 B) and AES-256-CTR\n"
        "          (67 and 160 B) through crypto.c's path and the alternatives,\n"
        "          interleaved: --reps batches of --packets per case.\n\n"
        "Example: simbench phold --lps 100000 --population 16 --end 12.5");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "simbench: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (version) {
        buildinfo_print(stdout, "simbench");
        return 0;
    }
    bool crypto = argc == 2 && strcmp(argv[1], "crypto") == 0;
    if (argc != 2 || (!crypto && strcmp(argv[1], "phold") != 0)) {
        fprintf(stderr, "simbench: expected the benchmark name \"phold\" or \"crypto\"; found %s\n",
                argc < 2 ? "nothing" : argv[1]);
        return 2;
    }
    int rc = crypto ? simbench_crypto(&o) : simbench_phold(&o);
    g_free(o.lookahead);
    g_free(o.mean);
    g_free(o.end);
    g_free(o.queue);
    return rc;
}
