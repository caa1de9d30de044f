/* simcheck: the command-line front end of golden.h (golden-file regression checks).
 *
 *   simcheck SCENARIO.json --golden GOLDEN.json [--seeds N] [--set path=value]... [--update] [--out DIR]
 *
 * Runs the scenario with the golden file's overrides (then the --set ones)
 * and prints a table of every headline metric: golden value, value now,
 * difference, tolerance, PASS/FAIL. --update rewrites the golden file from
 * the run, keeping its tolerances (and recording the --set overrides).
 * With --seeds N (or a multi-seed golden file) it runs N seeds and compares
 * each metric's mean and spread with the golden runs' (Welch's t test).
 * Exit status: 0 every metric within its tolerance (or updated), 1 some
 * metric moved past its tolerance or the run failed, 2 bad input.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim/buildinfo/buildinfo.h"
#include "sim/world/jsonin.h"
#include "analysis/golden.h"

typedef struct SimcheckOpts {
    gchar *golden;   /* --golden, owned */
    gchar **sets;    /* --set, owned */
    gboolean update; /* --update */
    gchar *out;      /* --out, owned */
    gint seeds;      /* --seeds; 0: not given */
} SimcheckOpts;

/* "a=1 b=2" for the header line; owned. */
static char *simcheck_sets_text(char **sets)
{
    return sets && *sets ? g_strjoinv(" ", sets) : g_strdup("(none)");
}

static int simcheck_run(const char *scenario, const SimcheckOpts *so)
{
    GoldenOptions o = {.scenario = scenario, .golden = so->golden,
                      .sets = (const char *const *)so->sets, .update = so->update,
                      .keep_dir = so->out, .seeds = (size_t)so->seeds, .progress = TRUE};
    GoldenReport rep;
    GError *err = NULL;
    if (!golden_run(&o, &rep, &err)) {
        jsonin_eprint("simcheck: ", err->message, "");
        int rc = err->domain == GOLDEN_ERROR && err->code == GOLDEN_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
        golden_report_clear(&rep);
        return rc;
    }
    char *sets = simcheck_sets_text(so->sets);
    printf("simcheck: %s against %s (extra overrides: %s)\n", scenario, so->golden, sets);
    if (rep.rows->len) {
        char *table = golden_report_table(&rep);
        fputs(table, stdout);
        g_free(table);
    }
    if (so->update)
        printf("updated %s from %s; review the diff before committing it\n", so->golden,
               so->seeds || rep.seeds ? "these runs" : "this run");
    int rc = rep.failed && !so->update ? 1 : 0;
    g_free(sets);
    golden_report_clear(&rep);
    return rc;
}

int main(int argc, char **argv)
{
    SimcheckOpts so = {0};
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"golden", 'g', 0, G_OPTION_ARG_FILENAME, &so.golden, "Golden file (required)", "GOLDEN.json"},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &so.sets,
         "Override a scenario key after the golden file's overrides (repeatable)", "PATH=VALUE"},
        {"update", 'u', 0, G_OPTION_ARG_NONE, &so.update,
         "Rewrite the golden file from this run, keeping its tolerances", NULL},
        {"seeds", 'n', 0, G_OPTION_ARG_INT, &so.seeds,
         "Run N seeds (the scenario's seed and the next N-1) and compare means and spreads "
         "with a multi-seed golden file (Welch's t test); with --update, write one from N seeds", "N"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &so.out,
         "Keep the run's results directory here (default: a temporary one, removed)", "DIR"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx =
        g_option_context_new("SCENARIO.json - compare a run's headline metrics with a golden file");
    g_option_context_set_summary(ctx,
        "Runs SCENARIO.json with the overrides recorded in the golden file (a small,\n"
        "fast version of the scenario) and compares every headline metric with its\n"
        "golden value and tolerance. The golden files of the shipped scenarios are\n"
        "results/golden/<scenario>.json; ctest runs them as tests golden_<scenario>,\n"
        "and SKYSIM_UPDATE_GOLDEN=1 ctest -R golden rewrites them.\n\n"
        "Exit status: 0 pass (or updated), 1 a metric moved past its tolerance or\n"
        "the run failed, 2 bad input.\n\n"
        "With --seeds N the golden file is a multi-seed one (results/golden/seeds/):\n"
        "per metric the mean, sd and n of its golden runs. N seeds run now, and a\n"
        "metric fails when its mean moved past its tolerance and Welch's t test\n"
        "rejects at the file's alpha (0.001 per metric by default). --set seed=S\n"
        "starts the series at S. A multi-seed file checked without --seeds runs 5.");
    g_option_context_set_description(ctx,
        "Examples:\n"
        "  simcheck scenarios/baseline.json --golden results/golden/baseline.json\n"
        "  simcheck scenarios/baseline.json --golden results/golden/baseline.json --set protocol.probe_timeout=2s\n"
        "  simcheck scenarios/baseline.json --golden results/golden/baseline.json --update\n"
        "  simcheck scenarios/baseline.json --golden results/golden/seeds/baseline.json --seeds 5 --set seed=1000\n"
        "  simcheck scenarios/baseline.json --golden results/golden/seeds/baseline.json --update --seeds 20\n");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        jsonin_eprint("simcheck: ", err->message, " (see simcheck --help)");
        g_error_free(err);
    } else if (version) {
        buildinfo_print(stdout, "simcheck");
        rc = 0;
    } else if (argc != 2) {
        fprintf(stderr, "simcheck: expected one scenario file; found %d arguments (see simcheck --help)\n",
                argc - 1);
    } else if (so.seeds < 0 || so.seeds == 1 || so.seeds > 10000) {
        fprintf(stderr, "simcheck: --seeds: expected a number of seeds from 2 to 10000; found %d "
                        "(see simcheck --help)\n", so.seeds);
    } else if (!so.golden) {
        fprintf(stderr, "simcheck: expected --golden GOLDEN.json; found none (see simcheck --help)\n");
    } else {
        rc = simcheck_run(argv[1], &so);
    }
    g_option_context_free(ctx);
    g_free(so.golden);
    g_strfreev(so.sets);
    g_free(so.out);
    return rc;
}
