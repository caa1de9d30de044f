/* simplot: the command-line front end of plot.h.
 *
 *   simplot DIR [--out PLOTS_DIR] [--gnuplot PROGRAM] [--no-render]
 *
 * DIR is a run's results directory (results.json, timeseries.csv,
 * samples.csv) or a sweep's output directory (table.csv). Writes the
 * gnuplot scripts, their data and the PNG, SVG and PDF images (PDF when
 * gnuplot has pdfcairo; a note on stderr when not) into DIR/plots (or
 * PLOTS_DIR). Without gnuplot it says so once and still writes the data and
 * the scripts. Exit status: 0 done (also without gnuplot), 2 bad input, 1
 * when a file cannot be written or gnuplot fails on a script.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim/buildinfo/buildinfo.h"
#include "sim/world/jsonin.h"
#include "analysis/plot.h"

typedef struct SimplotOpts {
    gchar *out;         /* --out, owned */
    gchar *gnuplot;     /* --gnuplot, owned */
    gboolean no_render; /* --no-render */
} SimplotOpts;

static int simplot_run(const char *dir, const SimplotOpts *so)
{
    PlotOptions o = {.out_dir = so->out, .gnuplot = so->gnuplot, .no_render = so->no_render};
    PlotReport rep;
    GError *err = NULL;
    bool ok = plot_dir(dir, &o, &rep, &err);
    int rc = 0;
    if (!ok) {
        jsonin_eprint("simplot: ", err->message, "");
        rc = err->domain == PLOT_ERROR && err->code == PLOT_ERROR_INPUT ? 2 : 1;
        g_error_free(err);
    } else {
        if (rep.gnuplot_missing) {
            const char *prog = so->gnuplot ? so->gnuplot : g_getenv(PLOT_GNUPLOT_ENV);
            fprintf(stderr,
                    "simplot: gnuplot not found (\"%s\"): wrote the data and the .gp scripts only; "
                    "render them with \"gnuplot NAME.gp\" in %s\n",
                    prog && *prog ? prog : "gnuplot", rep.out_dir);
        }
        printf("%zu plots of the %s in %s (%zu rendered as PNG and SVG, %zu as PDF)\n", rep.plots,
               rep.sweep ? "sweep" : "run", rep.out_dir, rep.rendered, rep.rendered_pdf);
        if (rep.rendered > rep.rendered_pdf)
            fprintf(stderr, "simplot: this gnuplot has no pdfcairo terminal: no PDF written\n");
    }
    plot_report_clear(&rep);
    return rc;
}

int main(int argc, char **argv)
{
    SimplotOpts so = {0};
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &so.out, "Output directory (default DIR/plots)", "DIR"},
        {"gnuplot", 0, 0, G_OPTION_ARG_FILENAME, &so.gnuplot,
         "gnuplot program (default $" PLOT_GNUPLOT_ENV ", else gnuplot on PATH)", "PROGRAM"},
        {"no-render", 0, 0, G_OPTION_ARG_NONE, &so.no_render,
         "Write the data and the .gp scripts only", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("DIR - plot a run or a sweep through gnuplot");
    g_option_context_set_summary(ctx,
        "DIR is a results directory of simrun (time series and CDFs of the sample\n"
        "metrics) or an output directory of simsweep (each metric against the swept\n"
        "parameter with 95% confidence error bars). Writes one gnuplot script per\n"
        "plot with its data files, and renders each as PNG, SVG and (when gnuplot\n"
        "has the pdfcairo terminal) PDF.\n\n"
        "Exit status: 0 done (also when gnuplot is missing), 2 bad input, 1 when a\n"
        "file cannot be written or gnuplot fails.");
    g_option_context_set_description(ctx,
        "Examples:\n"
        "  simplot results/baseline-1\n"
        "  simplot results/sweeps/density --out figures/density\n");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = 2;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        jsonin_eprint("simplot: ", err->message, " (see simplot --help)");
        g_error_free(err);
    } else if (version) {
        buildinfo_print(stdout, "simplot");
        rc = 0;
    } else if (argc != 2) {
        fprintf(stderr, "simplot: expected one directory; found %d arguments (see simplot --help)\n",
                argc - 1);
    } else {
        rc = simplot_run(argv[1], &so);
    }
    g_option_context_free(ctx);
    g_free(so.out);
    g_free(so.gnuplot);
    return rc;
}
