/* plot: gnuplot scripts, data files and images for a run or a sweep; see
 * plot.h.
 *
 * Layer: analysis (GLib, cJSON; gnuplot as an external program through
 * GSubprocess; what a results.json path is from sim/world/headline.h).
 * How it works: the input files are read and checked first (CSV through
 * a small reader that knows quoted fields), then each plot gets its data
 * file(s) in gnuplot's whitespace-separated format with a commented
 * header, and one script that sets title (wrapped), labels and grid and
 * draws the PNG, then the SVG and, where gnuplot has pdfcairo, the PDF
 * (replot). Rendering runs gnuplot once per script in the output
 * directory, so the scripts name their data files relatively and the
 * directory can be moved.
 *
 * A run gives:
 *  - time series: the columns of timeseries.csv, grouped by what they
 *    measure (users, supernodes, load, cumulative session events,
 *    host-cache freshness, calls, relay bandwidth in kb/s); a column no
 *    group knows gets a plot of its own, its unit guessed from its name
 *    suffix;
 *  - distributions: one per sample metric of samples.csv: bars of the
 *    share at each value for integers in a narrow span (counts), else the
 *    empirical CDF as steps, on a log axis when heavy-tailed; a metric
 *    with sub-metrics "NAME.x" (login.time_s.open ...) gets one more plot
 *    with a CDF per sub-metric and the whole.
 * A sweep gives, per metric of table.csv, its mean against the first swept
 * parameter with 95 % confidence error bars (ci95_lo to ci95_hi), one
 * curve per combination of the other parameters, curves sharing an x
 * moved apart; the y axis stays within the metric's range.
 * Outputs depend only on the input files, so plotting twice gives the same
 * bytes (images aside, which gnuplot makes).
 */
#include "analysis/plot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/metric_table.h"
#include "sim/world/headline.h"
#include "sim/world/scenario.h"

G_DEFINE_QUARK(skysim-plot-error-quark, plot_error)

/* At most this many points per CDF curve: larger samples are drawn through
 * evenly spaced order statistics (the curve is exact at those points). */
#define PLOT_CDF_MAX_POINTS 2000

/* Image size in pixels (PNG) or points (SVG). */
#define PLOT_WIDTH 960
#define PLOT_HEIGHT 600

/* PDF size (the aspect ratio of the PNG, a page column and a half wide)
 * and its font size in points: text as large relative to the figure as in
 * the PNG. */
#define PLOT_PDF_SIZE "6in,3.75in"
#define PLOT_PDF_FONT_PT "7"

/* ------------------------------------------------------------------ CSV */

typedef struct PlotCsv {
    char *path;      /* file, as named in messages; owned */
    GPtrArray *head; /* column names (char *), owned */
    GPtrArray *rows; /* rows, each a GPtrArray of head->len owned fields */
    GArray *line;    /* line number of each row in the file (guint) */
} PlotCsv;

/* Splits one CSV line into fields; "..." quotes a field, "" inside it is a
 * quote. Returns an owned array of owned strings. */
static GPtrArray *plot_csv_split(const char *line)
{
    GPtrArray *f = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    bool quoted = false;
    for (const char *p = line;; p++) {
        if (*p == '\0' || (*p == ',' && !quoted)) {
            g_ptr_array_add(f, g_string_free(cur, FALSE));
            if (*p == '\0') break;
            cur = g_string_new(NULL);
        } else if (*p == '"' && quoted && p[1] == '"') {
            g_string_append_c(cur, '"');
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return f;
}

static void plot_csv_fini(PlotCsv *c)
{
    g_free(c->path);
    if (c->head) g_ptr_array_unref(c->head);
    if (c->rows) g_ptr_array_unref(c->rows);
    if (c->line) g_array_unref(c->line);
    memset(c, 0, sizeof *c);
}

/* Reads a whole file; an input error "PATH: cannot read: REASON". */
static bool plot_text_read(const char *path, char **text, GError **err)
{
    GError *e = NULL;
    if (g_file_get_contents(path, text, NULL, &e)) return true;
    bool noent = e->domain == G_FILE_ERROR && e->code == G_FILE_ERROR_NOENT;
    g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: cannot read: %s", path,
                noent ? g_strerror(ENOENT) : e->message);
    g_error_free(e);
    return false;
}

/* Reads path (borrowed) into *c: a header line and rows with as many fields.
 * Empty lines are skipped; a trailing \r is dropped. */
static bool plot_csv_read(const char *path, PlotCsv *c, GError **err)
{
    char *text = NULL;
    memset(c, 0, sizeof *c);
    if (!plot_text_read(path, &text, err)) return false;
    c->path = g_strdup(path);
    c->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    c->line = g_array_new(FALSE, FALSE, sizeof(guint));
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    bool ok = true;
    for (guint i = 0; ok && lines[i]; i++) {
        g_strchomp(lines[i]);
        if (!*lines[i]) continue;
        GPtrArray *f = plot_csv_split(lines[i]);
        guint no = i + 1;
        if (!c->head) {
            c->head = f;
        } else if (f->len != c->head->len) {
            g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                        "%s:%u: expected %u comma-separated fields as in the header; found %u", path,
                        no, c->head->len, f->len);
            g_ptr_array_unref(f);
            ok = false;
        } else {
            g_ptr_array_add(c->rows, f);
            g_array_append_val(c->line, no);
        }
    }
    g_strfreev(lines);
    if (ok && !c->head) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: expected a header line; found an empty file",
                    path);
        ok = false;
    }
    if (!ok) plot_csv_fini(c);
    return ok;
}

static const char *plot_csv_get(const PlotCsv *c, guint row, guint col)
{
    return g_ptr_array_index((GPtrArray *)g_ptr_array_index(c->rows, row), col);
}

/* Column index of name, or -1. */
static int plot_csv_col(const PlotCsv *c, const char *name)
{
    for (guint i = 0; i < c->head->len; i++)
        if (strcmp(g_ptr_array_index(c->head, i), name) == 0) return (int)i;
    return -1;
}

/* Parses a number field: a decimal or "nan"/"inf" (any case), or empty for
 * NaN. False when s is something else. */
static bool plot_num_parse(const char *s, double *v)
{
    if (!*s) {
        *v = NAN;
        return true;
    }
    char *end;
    *v = g_ascii_strtod(s, &end);
    return end != s && *end == '\0';
}

/* The number at (row, col), or an input error naming file, line and column. */
static bool plot_csv_num(const PlotCsv *c, guint row, guint col, double *v, GError **err)
{
    const char *s = plot_csv_get(c, row, col);
    if (plot_num_parse(s, v)) return true;
    g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s:%u: column %s: expected a number; found \"%s\"",
                c->path, g_array_index(c->line, guint, row),
                (const char *)g_ptr_array_index(c->head, col), s);
    return false;
}

/* ------------------------------------------------------ scripts, output */

typedef struct PlotCtx {
    PlotReport *rep;    /* report being filled; its out_dir is where files go */
    char *subtitle;     /* second line of every title: what was run; owned */
    GPtrArray *scripts; /* names of the scripts written ("x.gp"), owned */
} PlotCtx;

/* One plot: what its script needs besides the context. */
typedef struct PlotFig {
    const char *name;   /* base name of the script and its images */
    const char *title;  /* first line of the title */
    const char *xlabel; /* x axis label, with unit */
    const char *ylabel; /* y axis label, with unit */
    const char *extra;  /* more gnuplot commands (ranges, key), or NULL */
    GString *plot;      /* the clauses of the plot command, without "plot" */
} PlotFig;

/* Appends text as a gnuplot double-quoted string (\n becomes a line break). */
static void plot_gp_quote(GString *s, const char *text)
{
    g_string_append_c(s, '"');
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            g_string_append(s, "\\n");
            continue;
        }
        if (*p == '"' || *p == '\\') g_string_append_c(s, '\\');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
}

/* A name safe as a file name: letters, digits, '-' kept, others '_'. */
static char *plot_safe_name(const char *prefix, const char *name)
{
    char *s = g_strconcat(prefix, name, NULL);
    for (char *p = s; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-') *p = '_';
    return s;
}

static bool plot_file_write(PlotCtx *c, const char *name, const GString *text, GError **err)
{
    char *path = g_build_filename(c->rep->out_dir, name, NULL);
    GError *e = NULL;
    bool ok = g_file_set_contents(path, text->str, (gssize)text->len, &e);
    if (!ok) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "%s", e->message);
        g_error_free(e);
    }
    g_free(path);
    return ok;
}

/* Characters per title line: what fits the PNG's 960 pixels at 11 points
 * (and the PDF's 6 inches at 7 points) with room to spare. */
#define PLOT_TITLE_WRAP 84

/* text with line breaks put at spaces so that no line is longer than
 * width characters (a longer word stays whole); existing breaks kept;
 * owned. */
static char *plot_wrap(const char *text, size_t width)
{
    GString *s = g_string_new(NULL);
    size_t line = 0; /* characters on the current output line */
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            g_string_append_c(s, '\n');
            line = 0;
            p++;
            continue;
        }
        size_t word = strcspn(p, " \n"), space = p[word] == ' ';
        if (line > 0 && line + 1 + word > width) {
            g_string_append_c(s, '\n');
            line = 0;
        } else if (line > 0) {
            g_string_append_c(s, ' ');
            line++;
        }
        g_string_append_len(s, p, (gssize)word);
        line += g_utf8_strlen(p, (gssize)word);
        p += word + space;
    }
    return g_string_free(s, FALSE);
}

/* Writes f->name.gp: title, labels, then the PNG (pngcairo when this
 * gnuplot has it, else libgd's png) and the SVG of the same plot. */
static bool plot_fig_write(PlotCtx *c, const PlotFig *f, GError **err)
{
    GString *s = g_string_new(NULL);
    char *t1 = plot_wrap(f->title, PLOT_TITLE_WRAP), *t2 = plot_wrap(c->subtitle, PLOT_TITLE_WRAP);
    char *title = g_strdup_printf("%s\n%s", t1, t2);
    g_free(t1);
    g_free(t2);
    g_string_append_printf(s, "# %s.gp: %s.\n# %s.\n", f->name, f->title, c->subtitle);
    g_string_append_printf(s, "# Written by simplot. Run \"gnuplot %s.gp\" in this directory: it "
                              "writes %s.png, %s.svg and (with pdfcairo) %s.pdf.\n",
                           f->name, f->name, f->name, f->name);
    g_string_append(s, "reset\nset encoding utf8\nset title ");
    plot_gp_quote(s, title);
    g_string_append(s, "\nset xlabel ");
    plot_gp_quote(s, f->xlabel);
    g_string_append(s, "\nset ylabel ");
    plot_gp_quote(s, f->ylabel);
    g_string_append(s, "\nset grid\nset key box opaque\n");
    if (f->extra) g_string_append_printf(s, "%s\n", f->extra);
    g_string_append_printf(s,
                           "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
                           "    set terminal pngcairo noenhanced size %d,%d font \"sans,11\"\n"
                           "} else {\n"
                           "    set terminal png noenhanced size %d,%d\n"
                           "}\n"
                           "set output '%s.png'\nplot %s\n"
                           "set terminal svg noenhanced size %d,%d dynamic font \"sans,11\"\n"
                           "set output '%s.svg'\nreplot\n"
                           "if (strstrt(GPVAL_TERMINALS, \"pdfcairo\") > 0) {\n"
                           "    set terminal pdfcairo noenhanced size %s font \"sans,%s\"\n"
                           "    set output '%s.pdf'\n"
                           "    replot\n"
                           "}\n"
                           "set output\n",
                           PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT, f->name, f->plot->str,
                           PLOT_WIDTH, PLOT_HEIGHT, f->name, PLOT_PDF_SIZE, PLOT_PDF_FONT_PT, f->name);
    char *file = g_strconcat(f->name, ".gp", NULL);
    bool ok = plot_file_write(c, file, s, err);
    if (ok) {
        g_ptr_array_add(c->scripts, file);
        c->rep->plots++;
    } else {
        g_free(file);
    }
    g_string_free(s, TRUE);
    g_free(title);
    return ok;
}

/* Runs gnuplot on one script in the output directory. prog: absolute. */
static bool plot_render_one(PlotCtx *c, const char *prog, const char *script, GError **err)
{
    GSubprocessLauncher *l =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_cwd(l, c->rep->out_dir);
    GError *e = NULL;
    char *errtext = NULL;
    GSubprocess *p = g_subprocess_launcher_spawn(l, &e, prog, script, NULL);
    bool ok = p && g_subprocess_communicate_utf8(p, NULL, NULL, NULL, &errtext, &e);
    if (ok && !g_subprocess_get_successful(p)) {
        char *nl = errtext ? strchr(g_strstrip(errtext), '\n') : NULL;
        if (nl) *nl = '\0';
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "gnuplot failed on %s/%s: %s", c->rep->out_dir,
                    script, errtext && *errtext ? errtext : "non-zero exit status");
        ok = false;
    } else if (!ok) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "running %s on %s/%s: %s", prog,
                    c->rep->out_dir, script, e->message);
    }
    g_clear_error(&e);
    g_free(errtext);
    if (p) g_object_unref(p);
    g_object_unref(l);
    return ok;
}

/* Renders every script unless told not to; a missing gnuplot is not an
 * error: it is reported in rep->gnuplot_missing. */
static bool plot_render(PlotCtx *c, const PlotOptions *o, GError **err)
{
    if (o->no_render) return true;
    const char *want = o->gnuplot ? o->gnuplot : g_getenv(PLOT_GNUPLOT_ENV);
    char *found = g_find_program_in_path(want && *want ? want : "gnuplot");
    if (!found) {
        c->rep->gnuplot_missing = true;
        return true;
    }
    char *prog = g_canonicalize_filename(found, NULL);
    bool ok = true;
    for (guint i = 0; ok && i < c->scripts->len; i++) {
        const char *script = g_ptr_array_index(c->scripts, i);
        /* The PDF is drawn only where gnuplot has pdfcairo: count the
         * ones this rendering wrote, not an older run's. */
        char *base = g_strndup(script, strlen(script) - 3);
        char *pdf = g_strconcat(c->rep->out_dir, G_DIR_SEPARATOR_S, base, ".pdf", NULL);
        g_unlink(pdf);
        ok = plot_render_one(c, prog, script, err);
        if (ok) c->rep->rendered++;
        if (ok && g_file_test(pdf, G_FILE_TEST_IS_REGULAR)) c->rep->rendered_pdf++;
        g_free(pdf);
        g_free(base);
    }
    g_free(prog);
    g_free(found);
    return ok;
}

/* Starts a context: clears rep, sets and creates the output directory. */
static bool plot_begin(PlotCtx *c, const char *dir, const PlotOptions *o, PlotReport *rep,
                       GError **err)
{
    memset(rep, 0, sizeof *rep);
    rep->out_dir = o->out_dir ? g_strdup(o->out_dir) : g_build_filename(dir, "plots", NULL);
    *c = (PlotCtx){.rep = rep, .scripts = g_ptr_array_new_with_free_func(g_free)};
    if (g_mkdir_with_parents(rep->out_dir, 0777) != 0) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_IO, "cannot create %s: %s", rep->out_dir,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static void plot_end(PlotCtx *c)
{
    g_free(c->subtitle);
    g_ptr_array_unref(c->scripts);
}

void plot_report_clear(PlotReport *rep)
{
    g_free(rep->out_dir);
    memset(rep, 0, sizeof *rep);
}

/* ---------------------------------------------------------- labels, units */

/* Unit of a quantity from its name's suffix ("login.time_s" -> "s"), or
 * NULL when the name says nothing. */
static const char *plot_unit_guess(const char *name)
{
    static const struct {
        const char *suffix; /* name ending */
        const char *unit;   /* unit it means */
    } map[] = {{"_ms", "ms"},   {"_ns", "ns"},         {"_s", "s"},       {"_bps", "kb/s"},
               {"_bytes", "bytes"}, {"_kib", "KiB"},    {"_rate", "fraction"}, {"mos", "MOS, 1 to 5"},
               {"_share", "fraction"}, {"_fresh", "fraction"}, {"_count", "count"}};
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_has_suffix(name, map[i].suffix)) return map[i].unit;
    return NULL;
}

/* What values named name are divided by to be drawn in the unit
 * plot_unit_guess gives: bit rates are drawn in kb/s (1000 bit/s), so that
 * an axis reads 350 rather than 350000. */
static double plot_unit_div(const char *name)
{
    return g_str_has_suffix(name, "_bps") ? 1000 : 1;
}

/* The using-expression of column col (1-based) divided by div. */
static char *plot_col_expr(guint col, double div)
{
    return div != 1 ? g_strdup_printf("($%u/%g)", col, div) : g_strdup_printf("%u", col);
}

/* "name (unit)" or just name; owned. */
static char *plot_label(const char *name, const char *unit)
{
    return unit ? g_strdup_printf("%s (%s)", name, unit) : g_strdup(name);
}

/* ------------------------------------------------------------ time series */

typedef struct PlotTsGroup {
    const char *name;      /* plot name */
    const char *title;     /* first title line */
    const char *ylabel;    /* y label with unit */
    const char *extra;     /* more gnuplot commands, or NULL */
    const char *cols[5];   /* columns drawn, NULL-terminated */
    const char *labels[5]; /* legend entry of each column */
} PlotTsGroup;

/* Columns of timeseries.csv (world_ts_columns) by what they measure; the
 * later columns (calls, relay) are plotted when a run has them. */
static const PlotTsGroup plot_ts_groups[] = {
    {"ts_users", "Users online and logged in", "users", "set key below\nset bmargin 6",
     {"online_users", "logged_in"}, {"online (client host up)", "logged in (login completed)"}},
    {"ts_supernodes", "Supernodes", "supernodes", "set key below\nset bmargin 6",
     {"supernodes", "supernodes_with_clients"},
     {"supernodes (bootstrap, dedicated and promoted)", "supernodes holding clients"}},
    {"ts_sn_load", "Load on supernodes", "clients per supernode", "set key below\nset bmargin 6",
     {"clients_per_supernode"}, {"mean clients served per supernode"}},
    {"ts_bootstrap", "Clients on the bootstrap supernodes", "share of attached clients (fraction)",
     "set yrange [0:1]\nset key below\nset bmargin 6", {"bootstrap_share"},
     {"clients attached to a bootstrap supernode"}},
    {"ts_sessions", "Session events since the start", "events (cumulative count)",
     "set key below\nset bmargin 6", {"logins", "logouts", "crashes"},
     {"logins started", "graceful logouts", "crashes"}},
    {"ts_hostcache", "Host-cache freshness", "share of host-cache entries (fraction)",
     "set yrange [0:1]\nset key below\nset bmargin 6", {"hostcache_fresh"},
     {"entries pointing to a live supernode"}},
    {"ts_hostcache_size", "Host-cache size", "entries", "set key below\nset bmargin 6",
     {"hostcache_size"}, {"median over the logged-in clients"}},
    {"ts_searches", "User searches since the start", "searches (cumulative count)",
     "set key below\nset bmargin 6", {"searches", "search_success", "search_online", "search_online_found"},
     {"searches finished", "searches that found the user", "searches for a logged-in user",
      "... that found that user"}},
    {"ts_calls", "Calls in progress", "calls", "set key below\nset bmargin 6",
     {"active_calls", "relayed_calls"}, {"active calls", "relayed calls"}},
    {"ts_relay", "Relay bandwidth", "bandwidth (kb/s)", "set key below\nset bmargin 6",
     {"relay_bandwidth_bps"}, {"traffic through relays (all relays together)"}},
};

/* The group that draws column col, or NULL. */
static const PlotTsGroup *plot_ts_group_of(const char *col)
{
    for (size_t g = 0; g < G_N_ELEMENTS(plot_ts_groups); g++)
        for (size_t k = 0; plot_ts_groups[g].cols[k]; k++)
            if (strcmp(plot_ts_groups[g].cols[k], col) == 0) return &plot_ts_groups[g];
    return NULL;
}

/* The time axis: x expression and label for a run of end_s seconds. */
typedef struct PlotTime {
    const char *expr;  /* gnuplot using-expression of the time column */
    const char *label; /* x label with unit */
} PlotTime;

static PlotTime plot_time_axis(double end_s)
{
    if (end_s > 3 * 3600.0) return (PlotTime){"($1/3600)", "virtual time (h)"};
    if (end_s > 600.0) return (PlotTime){"($1/60)", "virtual time (min)"};
    return (PlotTime){"1", "virtual time (s)"};
}

/* Writes timeseries.dat from the CSV: the same values, blank-separated,
 * "nan" as NaN, with the column names in a comment. */
static bool plot_ts_data(PlotCtx *c, const PlotCsv *csv, GError **err)
{
    GString *s = g_string_new("# time series of the run (from timeseries.csv); columns:\n#");
    for (guint k = 0; k < csv->head->len; k++)
        g_string_append_printf(s, " %s", (const char *)g_ptr_array_index(csv->head, k));
    g_string_append_c(s, '\n');
    bool ok = true;
    for (guint r = 0; ok && r < csv->rows->len; r++) {
        for (guint k = 0; ok && k < csv->head->len; k++) {
            double v;
            ok = plot_csv_num(csv, r, k, &v, err);
            if (k) g_string_append_c(s, ' ');
            if (isnan(v)) g_string_append(s, "NaN");
            else g_string_append(s, plot_csv_get(csv, r, k));
        }
        g_string_append_c(s, '\n');
    }
    ok = ok && plot_file_write(c, "timeseries.dat", s, err);
    g_string_free(s, TRUE);
    return ok;
}

/* Adds the clause drawing column col (0-based in the CSV) named name to
 * plot (a bit rate in kb/s). */
static void plot_ts_clause(GString *plot, PlotTime t, guint col, const char *name, const char *label,
                           bool points)
{
    if (plot->len) g_string_append(plot, ", \\\n     ");
    char *y = plot_col_expr(col + 1, plot_unit_div(name));
    g_string_append_printf(plot, "'timeseries.dat' using %s:%s with %s lw 2 title ", t.expr, y,
                           points ? "linespoints" : "lines");
    g_free(y);
    plot_gp_quote(plot, label);
}

/* One plot per group with at least one column present, then one per
 * column no group knows. */
static bool plot_ts_figs(PlotCtx *c, const PlotCsv *csv, PlotTime t, GError **err)
{
    bool points = csv->rows->len <= 30, ok = true;
    for (size_t g = 0; ok && g < G_N_ELEMENTS(plot_ts_groups); g++) {
        const PlotTsGroup *grp = &plot_ts_groups[g];
        PlotFig f = {grp->name, grp->title, t.label, grp->ylabel, grp->extra, g_string_new(NULL)};
        for (size_t k = 0; grp->cols[k]; k++) {
            int col = plot_csv_col(csv, grp->cols[k]);
            if (col >= 0) plot_ts_clause(f.plot, t, (guint)col, grp->cols[k], grp->labels[k], points);
        }
        if (f.plot->len) ok = plot_fig_write(c, &f, err);
        g_string_free(f.plot, TRUE);
    }
    for (guint k = 1; ok && k < csv->head->len; k++) {
        const char *col = g_ptr_array_index(csv->head, k);
        if (plot_ts_group_of(col)) continue;
        char *name = plot_safe_name("ts_", col), *ylabel = plot_label(col, plot_unit_guess(col));
        PlotFig f = {name, col, t.label, ylabel, "set key below\nset bmargin 6", g_string_new(NULL)};
        plot_ts_clause(f.plot, t, k, col, col, points);
        ok = plot_fig_write(c, &f, err);
        g_string_free(f.plot, TRUE);
        g_free(name);
        g_free(ylabel);
    }
    return ok;
}

static bool plot_timeseries(PlotCtx *c, const char *dir, GError **err)
{
    char *path = g_build_filename(dir, "timeseries.csv", NULL);
    PlotCsv csv;
    bool ok = plot_csv_read(path, &csv, err);
    g_free(path);
    if (!ok) return false;
    if (strcmp(g_ptr_array_index(csv.head, 0), "time_s") != 0) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s:1: expected first column \"time_s\"; found \"%s\"",
                    csv.path, (const char *)g_ptr_array_index(csv.head, 0));
        plot_csv_fini(&csv);
        return false;
    }
    double end_s = 0;
    if (csv.rows->len) ok = plot_csv_num(&csv, csv.rows->len - 1, 0, &end_s, err);
    ok = ok && plot_ts_data(c, &csv, err) && plot_ts_figs(c, &csv, plot_time_axis(end_s), err);
    plot_csv_fini(&csv);
    return ok;
}

/* ------------------------------------------------------------------- CDFs */

typedef struct PlotSampleInfo {
    MetricId metric;    /* sample metric (protocol/metric_table.h) */
    const char *title;  /* what it is */
    const char *xlabel; /* x label with unit */
    const char *by;     /* what its sub-metrics split by, or NULL */
} PlotSampleInfo;

/* What the protocol's sample metrics mean (protocol/metric_table.h);
 * others get their name and a unit guessed from the suffix. */
static const PlotSampleInfo plot_sample_info[] = {
    {METRIC_LOGIN_TIME_S, "Login time, from the first probe to logged in", "login time (s)",
     "by true NAT/firewall type"},
    {METRIC_FAILOVER_TIME_S, "Failover time, from losing the supernode to connected to another",
     "failover time (s)", NULL},
    {METRIC_HOSTCACHE_SIZE, "Host-cache size at the end of login", "host-cache entries (count)",
     NULL},
    {METRIC_HOSTCACHE_SIZE_HOURLY, "Host-cache size at each full hour online",
     "host-cache entries (count)", NULL},
    {METRIC_LOGIN_NODES_CONTACTED, "Supernodes contacted per login", "nodes contacted (count)",
     NULL},
    {METRIC_LOGIN_ROUNDS, "Probe rounds per login", "login rounds (count)", NULL},
    {METRIC_MEMORY_CLIENT_STATE_BYTES, "Protocol state per client", "protocol state (bytes)", NULL},
    {METRIC_CALL_SETUP_S, "Call setup time", "call setup time (s)", NULL},
    {METRIC_CALL_MOS, "Voice quality of calls", "mean opinion score (MOS, 1 to 5)", NULL},
    {METRIC_CALL_R_FACTOR, "Voice quality of calls (E-model)", "R factor (0 to 100)", NULL},
    {METRIC_CALL_DELAY_MS, "One-way delay of call media", "delay (ms)", NULL},
    {METRIC_CALL_JITTER_MS, "Jitter of call media", "jitter (ms)", NULL},
    {METRIC_CALL_LOSS, "Packet loss of call media", "loss (fraction of packets)", NULL},
    {METRIC_RELAY_BANDWIDTH_BPS, "Bandwidth of relayed calls", "relay bandwidth (kb/s)", NULL},
    {METRIC_SEARCH_LATENCY_S, "User search latency", "search latency (s)", NULL},
    {METRIC_SEARCH_MESSAGES, "Messages per user search", "messages (count)", NULL},
    {METRIC_SEARCH_SUPERNODES_CONTACTED, "Supernodes contacted per user search",
     "supernodes (count)", NULL},
    {METRIC_PRESENCE_STALENESS_S, "Staleness of presence information", "staleness (s)", NULL},
};

static const PlotSampleInfo *plot_sample_info_find(const char *metric)
{
    for (size_t i = 0; i < G_N_ELEMENTS(plot_sample_info); i++)
        if (strcmp(metric_table_name(plot_sample_info[i].metric), metric) == 0)
            return &plot_sample_info[i];
    return NULL;
}

/* Observations per metric, read from samples.csv. */
typedef struct PlotSamples {
    GPtrArray *names; /* metric names, sorted; owned strings */
    GHashTable *obs;  /* name (borrowed from names) -> GArray of double, sorted; owned */
} PlotSamples;

static void plot_samples_fini(PlotSamples *s)
{
    if (s->obs) g_hash_table_destroy(s->obs);
    if (s->names) g_ptr_array_unref(s->names);
    memset(s, 0, sizeof *s);
}

static gint plot_cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gint plot_cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads samples.csv ("metric,value" rows) into *s. */
static bool plot_samples_read(const char *path, PlotSamples *s, GError **err)
{
    PlotCsv csv;
    memset(s, 0, sizeof *s);
    if (!plot_csv_read(path, &csv, err)) return false;
    bool ok = csv.head->len == 2 && plot_csv_col(&csv, "metric") == 0 && plot_csv_col(&csv, "value") == 1;
    if (!ok)
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s:1: expected the header \"metric,value\"", path);
    s->names = g_ptr_array_new_with_free_func(g_free);
    s->obs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
    for (guint r = 0; ok && r < csv.rows->len; r++) {
        double v;
        ok = plot_csv_num(&csv, r, 1, &v, err);
        const char *name = plot_csv_get(&csv, r, 0);
        GArray *a = g_hash_table_lookup(s->obs, name);
        if (ok && !a) {
            char *key = g_strdup(name);
            g_ptr_array_add(s->names, key);
            a = g_array_new(FALSE, FALSE, sizeof(double));
            g_hash_table_insert(s->obs, key, a);
        }
        if (ok && isfinite(v)) g_array_append_val(a, v);
    }
    plot_csv_fini(&csv);
    g_ptr_array_sort(s->names, plot_cmp_str);
    for (guint i = 0; ok && i < s->names->len; i++)
        g_array_sort(g_hash_table_lookup(s->obs, g_ptr_array_index(s->names, i)), plot_cmp_double);
    if (!ok) plot_samples_fini(s);
    return ok;
}

/* Writes cdf_<metric>.dat: (value, cumulative fraction) at every order
 * statistic, or at PLOT_CDF_MAX_POINTS evenly spaced ones. Returns the
 * file name (owned). */
static char *plot_cdf_data(PlotCtx *c, const char *metric, const GArray *x, GError **err)
{
    size_t n = x->len, step = n > PLOT_CDF_MAX_POINTS ? (n + PLOT_CDF_MAX_POINTS - 1) / PLOT_CDF_MAX_POINTS : 1;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# empirical CDF of %s: %zu observations\n# value cumulative_fraction\n",
                           metric, n);
    for (size_t i = 0; i < n; i++) {
        if ((i + 1) % step != 0 && i != 0 && i != n - 1) continue;
        g_string_append_printf(s, "%.9g %.9g\n", g_array_index(x, double, i), (double)(i + 1) / (double)n);
    }
    char *base = plot_safe_name("cdf_", metric), *file = g_strconcat(base, ".dat", NULL);
    g_free(base);
    if (!plot_file_write(c, file, s, err)) g_clear_pointer(&file, g_free);
    g_string_free(s, TRUE);
    return file;
}

/* Adds the clause drawing the CDF in file, x divided by div; label gets
 * " (n = N)". */
static void plot_cdf_clause(GString *plot, const char *file, const char *label, size_t n, int lw,
                            double div)
{
    char *title = g_strdup_printf("%s (n = %zu)", label, n), *x = plot_col_expr(1, div);
    if (plot->len) g_string_append(plot, ", \\\n     ");
    g_string_append_printf(plot, "'%s' using %s:2 with steps lw %d title ", file, x, lw);
    plot_gp_quote(plot, title);
    g_free(x);
    g_free(title);
}

/* A sample of integers within a span of at most this many (a count of
 * entries, rounds, messages) is drawn as bars of the share of
 * observations at each value: its CDF would be a few steps, one of them
 * often holding nearly everything. Wider spans (sizes in bytes) keep
 * their CDF, where bars would be slivers. */
#define PLOT_BARS_MAX_SPAN 60

/* A sample whose 99th percentile is this many times its median or more
 * gets a logarithmic value axis (when all its values are > 0): login
 * times by NAT type spread from under a second to minutes. */
#define PLOT_HEAVY_TAIL_RATIO 10.0

/* True when the sorted values x are integers within a narrow span. */
static bool plot_is_discrete(const GArray *x)
{
    for (guint i = 0; i < x->len; i++) {
        double v = g_array_index(x, double, i);
        if (v != floor(v)) return false;
    }
    return x->len > 0 &&
           g_array_index(x, double, x->len - 1) - g_array_index(x, double, 0) <= PLOT_BARS_MAX_SPAN;
}

/* True when the sorted values x are all > 0 and heavy-tailed. */
static bool plot_is_heavy_tailed(const GArray *x)
{
    if (!x->len || g_array_index(x, double, 0) <= 0) return false;
    double p50 = g_array_index(x, double, (x->len - 1) / 2);
    double p99 = g_array_index(x, double, (guint)ceil(0.99 * (double)x->len) - 1);
    return p99 >= PLOT_HEAVY_TAIL_RATIO * p50;
}

/* Writes bars_<metric>.dat (value, observations, share) and its script:
 * a bar per distinct value of the sorted sample x. */
static bool plot_bars(PlotCtx *c, const char *m, const GArray *x, const char *title, const char *xlabel,
                      GError **err)
{
    char *name = plot_safe_name("bars_", m), *file = g_strconcat(name, ".dat", NULL);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# %s: observations at each value, %u in all\n# value observations share\n",
                           m, x->len);
    double lo = g_array_index(x, double, 0), hi = g_array_index(x, double, x->len - 1);
    for (guint i = 0, j; i < x->len; i = j) {
        double v = g_array_index(x, double, i);
        for (j = i; j < x->len && g_array_index(x, double, j) == v; j++) {}
        g_string_append_printf(s, "%.9g %u %.9g\n", v, j - i, (double)(j - i) / (double)x->len);
    }
    bool ok = plot_file_write(c, file, s, err);
    char *extra = g_strdup_printf("set yrange [0:1]\nset style fill solid 0.5 border\nset boxwidth 0.8\n"
                                  "set xrange [%g:%g]\n%sset key top right",
                                  lo - 1, hi + 1, hi - lo <= 20 ? "set xtics 1\n" : "");
    char *label = g_strdup_printf("%s (n = %u)", m, x->len);
    PlotFig f = {name, title, xlabel, "share of observations", extra, g_string_new(NULL)};
    g_string_append_printf(f.plot, "'%s' using 1:3 with boxes lc 1 title ", file);
    plot_gp_quote(f.plot, label);
    ok = ok && plot_fig_write(c, &f, err);
    g_string_free(f.plot, TRUE);
    g_string_free(s, TRUE);
    g_free(label);
    g_free(extra);
    g_free(file);
    g_free(name);
    return ok;
}

/* The plots of one metric: its CDF (or bars, for a few integer values),
 * and when sub-metrics "metric.x" have observations, one more plot with a
 * CDF per sub-metric. A heavy-tailed sample gets a logarithmic x axis. */
static bool plot_cdf_metric(PlotCtx *c, const PlotSamples *s, guint i, GError **err)
{
    const char *m = g_ptr_array_index(s->names, i);
    const GArray *x = g_hash_table_lookup(s->obs, m);
    const PlotSampleInfo *info = plot_sample_info_find(m);
    double div = plot_unit_div(m);
    char *title = info ? g_strdup(info->title) : g_strdup_printf("Distribution of %s", m);
    char *xlabel = info ? g_strdup(info->xlabel) : plot_label(m, plot_unit_guess(m));
    char *name = plot_safe_name("cdf_", m), *file = plot_cdf_data(c, m, x, err);
    bool ok = file != NULL;
    const char *extra = plot_is_heavy_tailed(x) ? "set yrange [0:1]\nset key bottom right\nset logscale x"
                                                : "set yrange [0:1]\nset key bottom right";
    PlotFig f = {name, title, xlabel, "cumulative fraction of observations", extra, g_string_new(NULL)};
    if (ok && plot_is_discrete(x)) {
        ok = plot_bars(c, m, x, title, xlabel, err);
    } else if (ok) {
        plot_cdf_clause(f.plot, file, m, x->len, 2, div);
        ok = plot_fig_write(c, &f, err);
    }
    /* Sub-metrics follow their parent in name order. */
    char *prefix = g_strconcat(m, ".", NULL), *by_name = g_strconcat(name, "_by", NULL);
    char *by_title = g_strdup_printf("%s, %s", title, info && info->by ? info->by : "by sub-metric");
    PlotFig by = {by_name, by_title, xlabel, f.ylabel, f.extra, g_string_new(NULL)};
    for (guint k = i + 1; ok && k < s->names->len; k++) {
        const char *sub = g_ptr_array_index(s->names, k);
        if (!g_str_has_prefix(sub, prefix)) break;
        const GArray *y = g_hash_table_lookup(s->obs, sub);
        if (!y->len || strchr(sub + strlen(prefix), '.')) continue;
        char *sub_file = plot_cdf_data(c, sub, y, err);
        ok = sub_file != NULL;
        if (ok) plot_cdf_clause(by.plot, sub_file, sub + strlen(prefix), y->len, 2, div);
        g_free(sub_file);
    }
    if (ok && by.plot->len) {
        plot_cdf_clause(by.plot, file, "all", x->len, 3, div);
        ok = plot_fig_write(c, &by, err);
    }
    g_string_free(by.plot, TRUE);
    g_string_free(f.plot, TRUE);
    g_free(by_title);
    g_free(by_name);
    g_free(prefix);
    g_free(file);
    g_free(name);
    g_free(xlabel);
    g_free(title);
    return ok;
}

/* True when a metric with observations is the direct parent of name
 * ("a.b" for "a.b.c"): name is then drawn in its parent's plot. */
static bool plot_cdf_has_parent(const PlotSamples *s, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    char *parent = g_strndup(name, (gsize)(dot - name));
    const GArray *a = g_hash_table_lookup(s->obs, parent);
    g_free(parent);
    return a && a->len > 0;
}

static bool plot_cdfs(PlotCtx *c, const char *dir, GError **err)
{
    char *path = g_build_filename(dir, "samples.csv", NULL);
    bool ok = true;
    if (g_file_test(path, G_FILE_TEST_EXISTS)) {
        PlotSamples s;
        ok = plot_samples_read(path, &s, err);
        for (guint i = 0; ok && i < s.names->len; i++) {
            const char *m = g_ptr_array_index(s.names, i);
            const GArray *x = g_hash_table_lookup(s.obs, m);
            if (x->len && !plot_cdf_has_parent(&s, m)) ok = plot_cdf_metric(c, &s, i, err);
        }
        if (s.names) plot_samples_fini(&s);
    }
    g_free(path);
    return ok;
}

/* -------------------------------------------------------------------- run */

/* "scenario NAME, seed S, N clients, D simulated" from results.json, with
 * the warm-up and an interruption when there was one. */
static char *plot_run_subtitle(const cJSON *root)
{
    const cJSON *scn = cJSON_GetObjectItem(root, "scenario");
    const cJSON *name = cJSON_GetObjectItem(scn, "name");
    const cJSON *pop = cJSON_GetObjectItem(scn, "population");
    const cJSON *clients = cJSON_GetObjectItem(pop, "clients");
    const cJSON *dur = cJSON_GetObjectItem(scn, "duration");
    const cJSON *warm = cJSON_GetObjectItem(scn, "warmup");
    const cJSON *seed = cJSON_GetObjectItem(root, "seed");
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "scenario %s, seed %.0f, %.0f clients, %s simulated",
                           cJSON_IsString(name) ? name->valuestring : "?",
                           cJSON_IsNumber(seed) ? seed->valuedouble : NAN,
                           cJSON_IsNumber(clients) ? clients->valuedouble : NAN,
                           cJSON_IsString(dur) ? dur->valuestring : "?");
    if (cJSON_IsString(warm) && strcmp(warm->valuestring, "0s") != 0)
        g_string_append_printf(s, " (metrics after %s warm-up)", warm->valuestring);
    if (cJSON_IsTrue(cJSON_GetObjectItem(root, "interrupted")))
        g_string_append_printf(s, ", INTERRUPTED at %.0f s",
                               cJSON_GetNumberValue(cJSON_GetObjectItem(root, "simulated_s")));
    return g_string_free(s, FALSE);
}

/* Reads a JSON file; an input error when it is missing or malformed. */
static cJSON *plot_json_read(const char *path, GError **err)
{
    char *text = NULL;
    if (!plot_text_read(path, &text, err)) return NULL;
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT, "%s: expected a JSON object; found malformed text",
                    path);
        cJSON_Delete(root);
        root = NULL;
    }
    g_free(text);
    return root;
}

bool plot_run(const char *dir, const PlotOptions *o, PlotReport *rep, GError **err)
{
    PlotCtx c;
    memset(rep, 0, sizeof *rep);
    char *path = g_build_filename(dir, "results.json", NULL);
    cJSON *root = plot_json_read(path, err);
    g_free(path);
    bool ok = root && plot_begin(&c, dir, o, rep, err);
    if (!ok) {
        cJSON_Delete(root);
        if (root) plot_end(&c);
        return false;
    }
    c.subtitle = plot_run_subtitle(root);
    cJSON_Delete(root);
    ok = plot_timeseries(&c, dir, err) && plot_cdfs(&c, dir, err) && plot_render(&c, o, err);
    plot_end(&c);
    return ok;
}

/* ------------------------------------------------------------------ sweep */

/* Columns of table.csv besides the swept parameters (sweep.h): one row per
 * point and metric. */
static const char *const plot_sweep_stats[] = {"metric", "n",   "mean",    "sd",
                                               "ci95",   "min", "max",     "ci95_lo",
                                               "ci95_hi"};

typedef struct PlotSweep {
    PlotCsv csv;        /* table.csv */
    GArray *params;     /* columns of the swept parameters (guint), in table order */
    GPtrArray *metrics; /* metric names in order of first appearance; owned strings */
    int c_metric;       /* column "metric" */
    int c_mean;         /* column "mean" */
    int c_ci95;         /* column "ci95" */
    int c_lo, c_hi;     /* columns "ci95_lo" and "ci95_hi" (bounds within the metric's range), or
                           -1 in a table from before them: then mean -+ ci95 */
    int c_n;            /* column "n", or -1 */
    bool x_numeric;     /* every value of the first parameter is a number */
} PlotSweep;

static void plot_sweep_fini(PlotSweep *t)
{
    plot_csv_fini(&t->csv);
    if (t->params) g_array_unref(t->params);
    if (t->metrics) g_ptr_array_unref(t->metrics);
}

static bool plot_sweep_is_stat(const char *col)
{
    for (size_t s = 0; s < G_N_ELEMENTS(plot_sweep_stats); s++)
        if (strcmp(col, plot_sweep_stats[s]) == 0) return true;
    return false;
}

/* The value of the first parameter at row r, or "all runs" without one. */
static const char *plot_sweep_x(const PlotSweep *t, guint r)
{
    return t->params->len ? plot_csv_get(&t->csv, r, g_array_index(t->params, guint, 0)) : "all runs";
}

/* Finds the columns of table.csv: metric, mean, ci95 (required), n, and
 * the parameters (every other column). */
static bool plot_sweep_columns(PlotSweep *t, GError **err)
{
    t->c_metric = plot_csv_col(&t->csv, "metric");
    t->c_mean = plot_csv_col(&t->csv, "mean");
    t->c_ci95 = plot_csv_col(&t->csv, "ci95");
    t->c_n = plot_csv_col(&t->csv, "n");
    t->c_lo = plot_csv_col(&t->csv, "ci95_lo");
    t->c_hi = plot_csv_col(&t->csv, "ci95_hi");
    if (t->c_lo < 0 || t->c_hi < 0) t->c_lo = t->c_hi = -1;
    if (t->c_metric < 0 || t->c_mean < 0 || t->c_ci95 < 0) {
        g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                    "%s:1: expected columns \"metric\", \"mean\" and \"ci95\" after the parameters; "
                    "found no \"%s\"",
                    t->csv.path, t->c_metric < 0 ? "metric" : t->c_mean < 0 ? "mean" : "ci95");
        return false;
    }
    t->params = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint k = 0; k < t->csv.head->len; k++)
        if (!plot_sweep_is_stat(g_ptr_array_index(t->csv.head, k))) g_array_append_val(t->params, k);
    t->metrics = g_ptr_array_new_with_free_func(g_free);
    t->x_numeric = t->params->len > 0;
    for (guint r = 0; r < t->csv.rows->len; r++) {
        const char *m = plot_csv_get(&t->csv, r, (guint)t->c_metric);
        if (!g_ptr_array_find_with_equal_func(t->metrics, m, g_str_equal, NULL))
            g_ptr_array_add(t->metrics, g_strdup(m));
        double v;
        if (!plot_num_parse(plot_sweep_x(t, r), &v) || isnan(v)) t->x_numeric = false;
    }
    return true;
}

/* The curve key of row r: the values of every parameter but the first
 * ("p2=v2, p3=v3"), "" with one parameter or none; owned. */
static char *plot_sweep_curve_key(const PlotSweep *t, guint r)
{
    GString *s = g_string_new(NULL);
    for (guint p = 1; p < t->params->len; p++) {
        guint col = g_array_index(t->params, guint, p);
        g_string_append_printf(s, "%s%s=%s", p > 1 ? ", " : "",
                               (const char *)g_ptr_array_index(t->csv.head, col),
                               plot_csv_get(&t->csv, r, col));
    }
    return g_string_free(s, FALSE);
}

/* Appends v to s as gnuplot reads it: NaN when not finite. */
static void plot_num_append(GString *s, double v)
{
    if (isfinite(v)) g_string_append_printf(s, " %.9g", v);
    else g_string_append(s, " NaN");
}

/* One row of a metric's table: where it is drawn and its interval. */
typedef struct PlotSweepPt {
    guint row;     /* row of table.csv */
    double mean;   /* mean */
    double lo, hi; /* bounds of the 95 % interval (NaN when n < 2) */
    double n;      /* runs behind it (NaN when the table has no n) */
} PlotSweepPt;

/* Reads row r's mean, interval and n; the bounds from ci95_lo/ci95_hi
 * when the table has them, else mean -+ ci95 (Student t, older tables). */
static bool plot_sweep_pt(const PlotSweep *t, guint r, PlotSweepPt *pt, GError **err)
{
    double ci = NAN;
    *pt = (PlotSweepPt){.row = r, .lo = NAN, .hi = NAN, .n = NAN};
    if (!plot_csv_num(&t->csv, r, (guint)t->c_mean, &pt->mean, err) ||
        !plot_csv_num(&t->csv, r, (guint)t->c_ci95, &ci, err) ||
        (t->c_n >= 0 && !plot_csv_num(&t->csv, r, (guint)t->c_n, &pt->n, err)))
        return false;
    if (t->c_lo >= 0)
        return plot_csv_num(&t->csv, r, (guint)t->c_lo, &pt->lo, err) &&
               plot_csv_num(&t->csv, r, (guint)t->c_hi, &pt->hi, err);
    pt->lo = pt->mean - ci;
    pt->hi = pt->mean + ci;
    return true;
}

/* The curve keys of metric m's rows, in table order; owned strings. */
static GPtrArray *plot_sweep_keys(const PlotSweep *t, const char *m)
{
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    for (guint r = 0; r < t->csv.rows->len; r++) {
        if (strcmp(plot_csv_get(&t->csv, r, (guint)t->c_metric), m) != 0) continue;
        char *key = plot_sweep_curve_key(t, r);
        if (!g_ptr_array_find_with_equal_func(keys, key, g_str_equal, NULL)) g_ptr_array_add(keys, key);
        else g_free(key);
    }
    return keys;
}

static gint plot_sweep_cmp_x(gconstpointer a, gconstpointer b, gpointer ctx)
{
    const PlotSweep *t = ctx;
    double x, y;
    plot_num_parse(plot_sweep_x(t, *(const guint *)a), &x);
    plot_num_parse(plot_sweep_x(t, *(const guint *)b), &y);
    return (x > y) - (x < y);
}

/* The rows of metric m on the curve key, in table order, or by increasing
 * x when the axis is numeric (so lines never zigzag); owned. */
static GArray *plot_sweep_curve_rows(const PlotSweep *t, const char *m, const char *key)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint r = 0; r < t->csv.rows->len; r++) {
        if (strcmp(plot_csv_get(&t->csv, r, (guint)t->c_metric), m) != 0) continue;
        char *k = plot_sweep_curve_key(t, r);
        if (strcmp(k, key) == 0) g_array_append_val(rows, r);
        g_free(k);
    }
    if (t->x_numeric) g_array_sort_with_data(rows, plot_sweep_cmp_x, (gpointer)t);
    return rows;
}

/* The x positions of metric m: numbers on a numeric axis; on a categorical
 * one, each distinct value's index in table order (cats, owned strings).
 * Returns the smallest gap between neighbouring positions (1 with fewer
 * than two). */
static double plot_sweep_positions(const PlotSweep *t, const char *m, GPtrArray *cats)
{
    GArray *xs = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint r = 0; r < t->csv.rows->len; r++) {
        if (strcmp(plot_csv_get(&t->csv, r, (guint)t->c_metric), m) != 0) continue;
        const char *x = plot_sweep_x(t, r);
        double v;
        if (t->x_numeric) {
            plot_num_parse(x, &v);
            g_array_append_val(xs, v);
        } else if (!g_ptr_array_find_with_equal_func(cats, x, g_str_equal, NULL)) {
            g_ptr_array_add(cats, g_strdup(x));
        }
    }
    double gap = INFINITY;
    if (t->x_numeric) {
        g_array_sort(xs, plot_cmp_double);
        for (guint i = 1; i < xs->len; i++) {
            double d = g_array_index(xs, double, i) - g_array_index(xs, double, i - 1);
            if (d > 0 && d < gap) gap = d;
        }
    } else if (cats->len > 1) {
        gap = 1;
    }
    g_array_unref(xs);
    return isfinite(gap) ? gap : 1;
}

/* Where row r is drawn: its x (or category index) moved by shift. */
static double plot_sweep_xpos(const PlotSweep *t, guint r, const GPtrArray *cats, double shift)
{
    double v = 0;
    guint idx = 0;
    if (t->x_numeric) plot_num_parse(plot_sweep_x(t, r), &v);
    else if (g_ptr_array_find_with_equal_func((GPtrArray *)cats, plot_sweep_x(t, r), g_str_equal, &idx))
        v = idx;
    return v + shift;
}

/* Appends one data row "x x_drawn mean ci95_lo ci95_hi n" (x quoted when
 * the axis is categorical). */
static void plot_sweep_row(const PlotSweep *t, const PlotSweepPt *pt, double xpos, GString *s)
{
    char *x = g_strescape(plot_sweep_x(t, pt->row), NULL);
    g_string_append_printf(s, t->x_numeric ? "%s" : "\"%s\"", x);
    g_free(x);
    plot_num_append(s, xpos);
    plot_num_append(s, pt->mean);
    plot_num_append(s, pt->lo);
    plot_num_append(s, pt->hi);
    plot_num_append(s, pt->n);
    g_string_append_c(s, '\n');
}

/* What the data of one metric spans: for the axis choice. */
typedef struct PlotSweepSpan {
    double lo_min;  /* smallest lower bound, or mean where there is no interval */
    double hi_max;  /* largest upper bound, or mean */
    bool all_positive; /* every mean and bound > 0 */
    guint n_cats;      /* categories of a categorical axis (0 on a numeric one) */
    GString *xtics;    /* a categorical axis's tics ("a" 0, "b" 1), without parentheses; owned */
} PlotSweepSpan;

/* Writes file for metric m (one block per curve, blocks separated by two
 * blank lines for gnuplot's "index") and adds per block an error-bar clause
 * and a mean line to plot. Curves that share an x are drawn side by side
 * (dodged): curve b of K at x + (b - (K-1)/2) * w, w a fraction of the
 * smallest gap between x values, so their bars do not overlap. */
static bool plot_sweep_metric_data(PlotCtx *c, const PlotSweep *t, const char *m, const char *xcol,
                                   const char *file, GString *plot, PlotSweepSpan *span, GError **err)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# %s against %s: mean over the runs of each point and the bounds"
                              " of its 95 %% confidence interval (within the metric's range; see"
                              " analysis/README.md \"Intervals\")\n"
                              "# x_drawn: where the point is drawn (categories numbered from 0;"
                              " curves sharing an x moved apart)\n"
                              "# %s x_drawn mean ci95_lo ci95_hi n\n",
                           m, xcol, xcol);
    GPtrArray *keys = plot_sweep_keys(t, m), *cats = g_ptr_array_new_with_free_func(g_free);
    double gap = plot_sweep_positions(t, m, cats);
    guint k = keys->len;
    double w = k > 1 ? gap * MIN(0.3 / (double)(k - 1), 0.08) : 0;
    *span = (PlotSweepSpan){.lo_min = INFINITY, .hi_max = -INFINITY, .all_positive = true,
                            .xtics = g_string_new(NULL)};
    bool ok = true;
    for (guint b = 0; ok && b < k; b++) {
        const char *key = g_ptr_array_index(keys, b);
        g_string_append_printf(s, "%s# curve %u: %s\n", b ? "\n\n" : "", b, *key ? key : "every point");
        GArray *rows = plot_sweep_curve_rows(t, m, key);
        double shift = ((double)b - (double)(k - 1) / 2) * w;
        for (guint i = 0; ok && i < rows->len; i++) {
            PlotSweepPt pt;
            guint r = g_array_index(rows, guint, i);
            ok = plot_sweep_pt(t, r, &pt, err);
            if (!ok) break;
            plot_sweep_row(t, &pt, plot_sweep_xpos(t, r, cats, shift), s);
            double vals[] = {pt.mean, pt.lo, pt.hi};
            for (size_t v = 0; v < G_N_ELEMENTS(vals); v++) {
                if (!isfinite(vals[v])) continue;
                span->lo_min = MIN(span->lo_min, vals[v]);
                span->hi_max = MAX(span->hi_max, vals[v]);
                if (vals[v] <= 0) span->all_positive = false;
            }
        }
        g_array_unref(rows);
        if (plot->len) g_string_append(plot, ", \\\n     ");
        g_string_append_printf(plot,
                               "'%s' index %u using 2:3:4:5 with yerrorbars lc %u pt 7 notitle, \\\n"
                               "     '%s' index %u using 2:3 with lines lw 2 lc %u title ",
                               file, b, b + 1, file, b, b + 1);
        plot_gp_quote(plot, *key ? key : "mean, bars: 95 % confidence interval");
    }
    if (!t->x_numeric && cats->len)
        g_string_append_printf(s, "# categories at 0 to %u in this order\n", cats->len - 1);
    span->n_cats = cats->len;
    /* Categories are labelled once, at their own place, not at every
     * moved point. */
    for (guint i = 0; i < cats->len; i++) {
        if (i) g_string_append(span->xtics, ", ");
        plot_gp_quote(span->xtics, g_ptr_array_index(cats, i));
        g_string_append_printf(span->xtics, " %u", i);
    }
    ok = ok && plot_file_write(c, file, s, err);
    g_ptr_array_unref(cats);
    g_ptr_array_unref(keys);
    g_string_free(s, TRUE);
    return ok;
}

/* Spans over this ratio (largest bound / smallest) of a positive metric
 * get a logarithmic y axis: wide intervals of few runs would otherwise
 * squash the means against the axis. */
#define PLOT_SWEEP_LOG_RATIO 100.0

/* The gnuplot commands of the y axis of a metric of range info: its range
 * held within the metric's bounds (autoscaled inside them: a fraction's
 * axis never passes 1 nor goes below 0), logarithmic for a positive
 * metric whose values and bounds span more than PLOT_SWEEP_LOG_RATIO. */
static void plot_sweep_yaxis(GString *extra, const HeadlineInfo *info, const PlotSweepSpan *span)
{
    bool log_y = info->range != HEADLINE_REAL && span->all_positive && isfinite(span->lo_min) &&
                 span->hi_max / span->lo_min > PLOT_SWEEP_LOG_RATIO;
    if (log_y) {
        g_string_append(extra, "\nset logscale y\nset offsets graph 0.05, graph 0.05, 0, 0");
        return;
    }
    g_string_append(extra, "\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05");
    if (isfinite(info->lo) && isfinite(info->hi))
        g_string_append_printf(extra, "\nset yrange [%g<*:*<%g]", info->lo, info->hi);
    else if (isfinite(info->lo))
        g_string_append_printf(extra, "\nset yrange [%g<*:*]", info->lo);
}

/* "label (unit)", or the label alone when there is no unit; owned. */
static char *plot_info_label(const HeadlineInfo *info)
{
    return *info->unit ? g_strdup_printf("%s (%s)", info->label, info->unit) : g_strdup(info->label);
}

/* Writes the data and script of metric m against the first parameter. The
 * labels, the y range and the interval's meaning come from what the metric
 * is (sim/world/headline.h). */
static bool plot_sweep_metric(PlotCtx *c, const PlotSweep *t, const char *m, GError **err)
{
    const char *xcol = t->params->len
                           ? g_ptr_array_index(t->csv.head, g_array_index(t->params, guint, 0))
                           : "no swept parameter";
    HeadlineInfo info;
    headline_path_info(m, &info);
    char *name = plot_safe_name("sweep_", m), *file = g_strconcat(name, ".dat", NULL);
    char *label = g_strdup(info.label);
    label[0] = g_ascii_toupper(label[0]);
    char *title = g_strdup_printf("%s against %s", label, xcol);
    const char *doc = t->params->len ? scenario_key_doc(xcol) : NULL;
    char *xlabel = doc ? g_strdup_printf("%s (%s)", doc, xcol) : g_strdup_printf("%s (swept parameter)", xcol);
    char *ylabel = plot_info_label(&info);
    GString *extra = g_string_new("set key below\nset bmargin 6");
    PlotFig f = {name, title, xlabel, ylabel, NULL, g_string_new(NULL)};
    PlotSweepSpan span = {0};
    bool ok = plot_sweep_metric_data(c, t, m, xcol, file, f.plot, &span, err);
    if (ok) {
        plot_sweep_yaxis(extra, &info, &span);
        if (!t->x_numeric)
            g_string_append_printf(extra, "\nset xrange [-0.5:%u.5]\nset xtics (%s)", span.n_cats - 1,
                                   span.xtics->str);
        f.extra = extra->str;
        ok = plot_fig_write(c, &f, err);
    }
    if (span.xtics) g_string_free(span.xtics, TRUE);
    g_string_free(extra, TRUE);
    g_string_free(f.plot, TRUE);
    g_free(ylabel);
    g_free(xlabel);
    g_free(title);
    g_free(label);
    g_free(file);
    g_free(name);
    headline_info_clear(&info);
    return ok;
}

/* "sweep NAME of BASE: P points x R repetitions, mean with 95 % CI" from
 * table.json when present (else the directory name), marked INCOMPLETE
 * when runs are missing. */
static char *plot_sweep_subtitle(const char *dir, const PlotSweep *t)
{
    char *path = g_build_filename(dir, "table.json", NULL);
    cJSON *root = g_file_test(path, G_FILE_TEST_EXISTS) ? plot_json_read(path, NULL) : NULL;
    g_free(path);
    const cJSON *name = cJSON_GetObjectItem(root, "name"), *base = cJSON_GetObjectItem(root, "base");
    const cJSON *reps = cJSON_GetObjectItem(root, "repetitions");
    char *abs = g_canonicalize_filename(dir, NULL), *dir_base = g_path_get_basename(abs);
    g_free(abs);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "sweep %s", cJSON_IsString(name) ? name->valuestring : dir_base);
    if (cJSON_IsString(base)) g_string_append_printf(s, " of %s", base->valuestring);
    g_string_append_printf(s, ": %u points", t->metrics->len ? t->csv.rows->len / t->metrics->len : 0);
    if (cJSON_IsNumber(reps)) g_string_append_printf(s, " x %.0f repetitions", reps->valuedouble);
    g_string_append(s, ", mean with 95 % confidence interval");
    if (cJSON_IsFalse(cJSON_GetObjectItem(root, "complete"))) g_string_append(s, ", INCOMPLETE");
    cJSON_Delete(root);
    g_free(dir_base);
    return g_string_free(s, FALSE);
}

bool plot_sweep(const char *dir, const PlotOptions *o, PlotReport *rep, GError **err)
{
    PlotSweep t = {0};
    PlotCtx c;
    memset(rep, 0, sizeof *rep);
    char *path = g_build_filename(dir, "table.csv", NULL);
    bool ok = plot_csv_read(path, &t.csv, err) && plot_sweep_columns(&t, err);
    g_free(path);
    if (!ok) {
        plot_sweep_fini(&t);
        return false;
    }
    ok = plot_begin(&c, dir, o, rep, err);
    rep->sweep = true;
    c.subtitle = plot_sweep_subtitle(dir, &t);
    for (guint i = 0; ok && i < t.metrics->len; i++)
        ok = plot_sweep_metric(&c, &t, g_ptr_array_index(t.metrics, i), err);
    ok = ok && plot_render(&c, o, err);
    plot_end(&c);
    plot_sweep_fini(&t);
    return ok;
}

bool plot_dir(const char *dir, const PlotOptions *o, PlotReport *rep, GError **err)
{
    char *table = g_build_filename(dir, "table.csv", NULL);
    bool sweep = g_file_test(table, G_FILE_TEST_EXISTS);
    g_free(table);
    if (sweep) return plot_sweep(dir, o, rep, err);
    char *results = g_build_filename(dir, "results.json", NULL);
    bool run = g_file_test(results, G_FILE_TEST_EXISTS);
    g_free(results);
    if (run) return plot_run(dir, o, rep, err);
    memset(rep, 0, sizeof *rep);
    g_set_error(err, PLOT_ERROR, PLOT_ERROR_INPUT,
                "%s: expected a results directory (results.json) or a sweep output directory "
                "(table.csv); found neither",
                dir);
    return false;
}
