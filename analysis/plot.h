/* plot: gnuplot scripts, their data files and rendered images (PNG, SVG,
 * and PDF where gnuplot has the pdfcairo terminal)
 * for one run's results directory or for a sweep's table (gnuplot).
 *
 * Layer: analysis. Reads files only (results.json, timeseries.csv,
 * samples.csv of a run; table.csv and table.json of a sweep, formats in
 * analysis/README.md "Plots"); runs the external gnuplot program, which is
 * optional: without it the data and the .gp scripts are still written and
 * can be rendered later with "gnuplot NAME.gp" in the plots directory.
 *
 * Every plot is one self-contained script NAME.gp next to its whitespace-
 * separated data files (NAME.dat or shared ones); the script renders
 * NAME.png (pngcairo when the gnuplot build has it, else the libgd png
 * terminal), NAME.svg and, when the gnuplot build has pdfcairo, NAME.pdf
 * (vector, for papers). Titles carry a second line naming the scenario or
 * sweep, the seed and the size, so a plot is readable on its own; axis
 * labels carry units. Text is set "noenhanced": metric names keep their
 * underscores.
 *
 * Errors: an unreadable or malformed input file is PLOT_ERROR_INPUT with one
 * line naming the file (and line or column); a file that cannot be written,
 * or gnuplot failing on a script, is PLOT_ERROR_IO.
 */
#ifndef SKYSIM_PLOT_H
#define SKYSIM_PLOT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define PLOT_ERROR (plot_error_quark())
GQuark plot_error_quark(void);
enum {
    PLOT_ERROR_IO = 1,   /* a file could not be written, or gnuplot failed on a script */
    PLOT_ERROR_INPUT = 2 /* an input file is missing or malformed */
};

/* The environment variable naming the gnuplot program when
 * PlotOptions.gnuplot is NULL; unset: "gnuplot" looked up on PATH. */
#define PLOT_GNUPLOT_ENV "SKYSIM_GNUPLOT"

typedef struct PlotOptions {
    const char *out_dir; /* output directory, borrowed; NULL: <input dir>/plots */
    const char *gnuplot; /* gnuplot program (name on PATH or path), borrowed; NULL: see above */
    bool no_render;      /* true: write data and scripts only, do not run gnuplot */
} PlotOptions;

typedef struct PlotReport {
    char *out_dir;        /* where the files went; owned (plot_report_clear) */
    size_t plots;         /* plots written (one .gp script each) */
    size_t rendered;      /* scripts gnuplot rendered (a PNG and an SVG each) */
    size_t rendered_pdf;  /* of those, the ones that also gave a PDF (gnuplot has pdfcairo) */
    bool gnuplot_missing; /* the gnuplot program was not found: nothing rendered */
    bool sweep;           /* the input was a sweep table, not a run */
} PlotReport;

/* Plots dir: a sweep output directory when it holds table.csv, else a run's
 * results directory (results.json and timeseries.csv; samples.csv for the
 * CDFs, skipped when absent). dir and o: borrowed. Creates the output
 * directory, writes the data files and scripts, then renders each script
 * unless gnuplot is missing or o->no_render. Fills *rep (cleared first) in
 * every case. Returns false with err set on error. */
bool plot_dir(const char *dir, const PlotOptions *o, PlotReport *rep, GError **err);

/* The same for a run's results directory, or for a sweep output directory. */
bool plot_run(const char *results_dir, const PlotOptions *o, PlotReport *rep, GError **err);
bool plot_sweep(const char *sweep_dir, const PlotOptions *o, PlotReport *rep, GError **err);

/* Frees what a report owns; the report may be reused. */
void plot_report_clear(PlotReport *rep);

#endif
