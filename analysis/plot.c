/* plot: gnuplot scripts, data files and images for a run or a sweep; see
 * plot.h.
 *
 * Layer: analysis (GLib, cJSON; gnuplot as an external program through
 * GSubprocess). How it works: the input files are read and checked first
 * (CSV through a small reader that knows quoted fields), then each plot
 * gets its data file(s) in gnuplot's whitespace-separated format with a
 * commented header, and one script that sets title, labels and grid and
 * draws the PNG and then the SVG (replot). Rendering runs gnuplot once per
 * script in the output directory, so the scripts name their data files
 * relatively and the directory can be moved.
 *
 * A run gives:
 *  - time series: the columns of timeseries.csv, grouped by what they
 *    measure (users, supernodes, load, cumulative session events,
 *    host-cache freshness, calls, relay bandwidth); a column no group
 *    knows gets a plot of its own, its unit guessed from its name suffix;
 *  - CDFs: one per sample metric of samples.csv (empirical CDF as steps);
 *    a metric with sub-metrics "NAME.x" (login.time_s.open ...) gets one
 *    plot with a curve per sub-metric and the whole.
 * A sweep gives, per metric of table.csv, its mean against the first swept
 * parameter with 95 % confidence error bars, one curve per combination of
 * the other parameters.
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

/* Writes f->name.gp: title, labels, then the PNG (pngcairo when this
 * gnuplot has it, else libgd's png) and the SVG of the same plot. */
static bool plot_fig_write(PlotCtx *c, const PlotFig *f, GError **err)
{
    GString *s = g_string_new(NULL);
    char *title = g_strdup_printf("%s\n%s", f->title, c->subtitle);
    g_string_append_printf(s, "# %s.gp: %s.\n# %s.\n", f->name, f->title, c->subtitle);
    g_string_append_printf(s, "# Written by simplot. Run \"gnuplot %s.gp\" in this directory: it "
                              "writes %s.png and %s.svg.\n",
                           f->name, f->name, f->name);
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
    } map[] = {{"_ms", "ms"},   {"_ns", "ns"},         {"_s", "s"},       {"_bps", "bit/s"},
               {"_bytes", "bytes"}, {"_kib", "KiB"},    {"_rate", "fraction"}, {"mos", "MOS, 1 to 5"},
               {"_share", "fraction"}, {"_fresh", "fraction"}, {"_count", "count"}};
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_has_suffix(name, map[i].suffix)) return map[i].unit;
    return NULL;
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
     "set yrange [0:1.05]\nset key below\nset bmargin 6", {"bootstrap_share"},
     {"clients attached to a bootstrap supernode"}},
    {"ts_sessions", "Session events since the start", "events (cumulative count)",
     "set key below\nset bmargin 6", {"logins", "logouts", "crashes"},
     {"logins started", "graceful logouts", "crashes"}},
    {"ts_hostcache", "Host-cache freshness", "share of host-cache entries (fraction)",
     "set yrange [0:1.05]\nset key below\nset bmargin 6", {"hostcache_fresh"},
     {"entries pointing to a live supernode"}},
    {"ts_searches", "User searches since the start", "searches (cumulative count)",
     "set key below\nset bmargin 6", {"searches", "search_success"},
     {"searches finished", "searches that found the user"}},
    {"ts_calls", "Calls in progress", "calls", "set key below\nset bmargin 6",
     {"active_calls", "relayed_calls"}, {"active calls", "relayed calls"}},
    {"ts_relay", "Relay bandwidth", "bandwidth (bit/s)", "set key below\nset bmargin 6",
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

/* Adds the clause drawing column col (0-based in the CSV) to plot. */
static void plot_ts_clause(GString *plot, PlotTime t, guint col, const char *label, bool points)
{
    if (plot->len) g_string_append(plot, ", \\\n     ");
    g_string_append_printf(plot, "'timeseries.dat' using %s:%u with %s lw 2 title ", t.expr, col + 1,
                           points ? "linespoints" : "lines");
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
            if (col >= 0) plot_ts_clause(f.plot, t, (guint)col, grp->labels[k], points);
        }
        if (f.plot->len) ok = plot_fig_write(c, &f, err);
        g_string_free(f.plot, TRUE);
    }
    for (guint k = 1; ok && k < csv->head->len; k++) {
        const char *col = g_ptr_array_index(csv->head, k);
        if (plot_ts_group_of(col)) continue;
        char *name = plot_safe_name("ts_", col), *ylabel = plot_label(col, plot_unit_guess(col));
        PlotFig f = {name, col, t.label, ylabel, "set key below\nset bmargin 6", g_string_new(NULL)};
        plot_ts_clause(f.plot, t, k, col, points);
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
    {METRIC_RELAY_BANDWIDTH_BPS, "Bandwidth of relayed calls", "relay bandwidth (bit/s)", NULL},
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

/* Adds the clause drawing the CDF in file; label gets " (n = N)". */
static void plot_cdf_clause(GString *plot, const char *file, const char *label, size_t n, int lw)
{
    char *title = g_strdup_printf("%s (n = %zu)", label, n);
    if (plot->len) g_string_append(plot, ", \\\n     ");
    g_string_append_printf(plot, "'%s' using 1:2 with steps lw %d title ", file, lw);
    plot_gp_quote(plot, title);
    g_free(title);
}

/* The plots of one metric: its CDF, and when sub-metrics "metric.x" have
 * observations, one more plot with a curve per sub-metric. */
static bool plot_cdf_metric(PlotCtx *c, const PlotSamples *s, guint i, GError **err)
{
    const char *m = g_ptr_array_index(s->names, i);
    const GArray *x = g_hash_table_lookup(s->obs, m);
    const PlotSampleInfo *info = plot_sample_info_find(m);
    char *title = info ? g_strdup(info->title) : g_strdup_printf("Distribution of %s", m);
    char *xlabel = info ? g_strdup(info->xlabel) : plot_label(m, plot_unit_guess(m));
    char *name = plot_safe_name("cdf_", m), *file = plot_cdf_data(c, m, x, err);
    bool ok = file != NULL;
    PlotFig f = {name, title, xlabel, "cumulative fraction of observations",
                 "set yrange [0:1.02]\nset key bottom right", g_string_new(NULL)};
    if (ok) plot_cdf_clause(f.plot, file, m, x->len, 2);
    ok = ok && plot_fig_write(c, &f, err);
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
        if (ok) plot_cdf_clause(by.plot, sub_file, sub + strlen(prefix), y->len, 2);
        g_free(sub_file);
    }
    if (ok && by.plot->len) {
        plot_cdf_clause(by.plot, file, "all", x->len, 3);
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
static const char *const plot_sweep_stats[] = {"metric", "n", "mean", "sd", "ci95", "min", "max"};

typedef struct PlotSweep {
    PlotCsv csv;        /* table.csv */
    GArray *params;     /* columns of the swept parameters (guint), in table order */
    GPtrArray *metrics; /* metric names in order of first appearance; owned strings */
    int c_metric;       /* column "metric" */
    int c_mean;         /* column "mean" */
    int c_ci95;         /* column "ci95" */
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

/* Appends one data row "x mean ci95 n" at row r (x quoted when the axis is
 * categorical). */
static bool plot_sweep_row(const PlotSweep *t, guint r, GString *s, GError **err)
{
    double mean, ci, n = NAN;
    if (!plot_csv_num(&t->csv, r, (guint)t->c_mean, &mean, err) ||
        !plot_csv_num(&t->csv, r, (guint)t->c_ci95, &ci, err) ||
        (t->c_n >= 0 && !plot_csv_num(&t->csv, r, (guint)t->c_n, &n, err)))
        return false;
    char *x = g_strescape(plot_sweep_x(t, r), NULL);
    g_string_append_printf(s, t->x_numeric ? "%s" : "\"%s\"", x);
    g_free(x);
    plot_num_append(s, mean);
    plot_num_append(s, ci);
    plot_num_append(s, n);
    g_string_append_c(s, '\n');
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

/* Writes file for metric m (one block per curve, blocks separated by two
 * blank lines for gnuplot's "index") and adds per block an error-bar clause
 * and a mean line to plot. */
static bool plot_sweep_metric_data(PlotCtx *c, const PlotSweep *t, const char *m, const char *xcol,
                                   const char *file, GString *plot, GError **err)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# %s against %s: mean over the runs of each point and the half-width"
                              " of its 95 %% confidence interval (Student t)\n# %s mean ci95 n\n",
                           m, xcol, xcol);
    GPtrArray *keys = plot_sweep_keys(t, m);
    const char *use = t->x_numeric ? "1:2" : "0:2:xtic(1)", *use_err = t->x_numeric ? "1:2:3" : "0:2:3";
    bool ok = true;
    for (guint b = 0; ok && b < keys->len; b++) {
        const char *key = g_ptr_array_index(keys, b);
        g_string_append_printf(s, "%s# curve %u: %s\n", b ? "\n\n" : "", b, *key ? key : "every point");
        GArray *rows = plot_sweep_curve_rows(t, m, key);
        for (guint i = 0; ok && i < rows->len; i++) ok = plot_sweep_row(t, g_array_index(rows, guint, i), s, err);
        g_array_unref(rows);
        if (plot->len) g_string_append(plot, ", \\\n     ");
        g_string_append_printf(plot,
                               "'%s' index %u using %s with yerrorbars lc %u pt 7 notitle, \\\n"
                               "     '%s' index %u using %s with lines lw 2 lc %u title ",
                               file, b, use_err, b + 1, file, b, use, b + 1);
        plot_gp_quote(plot, *key ? key : "mean, bars: 95 % confidence interval");
    }
    ok = ok && plot_file_write(c, file, s, err);
    g_ptr_array_unref(keys);
    g_string_free(s, TRUE);
    return ok;
}

/* Unit of a metric path: the first component from the end that names one
 * ("metrics.login.time_s.mean" -> s). */
static const char *plot_path_unit(const char *path)
{
    char **parts = g_strsplit(path, ".", -1);
    const char *unit = NULL;
    for (guint n = g_strv_length(parts); n > 0 && !unit; n--) {
        if (strcmp(parts[n - 1], "count") == 0 || strcmp(parts[n - 1], "n") == 0) unit = "count";
        else unit = plot_unit_guess(parts[n - 1]);
    }
    g_strfreev(parts);
    return unit;
}

/* Writes the data and script of metric m against the first parameter. */
static bool plot_sweep_metric(PlotCtx *c, const PlotSweep *t, const char *m, GError **err)
{
    const char *xcol = t->params->len
                           ? g_ptr_array_index(t->csv.head, g_array_index(t->params, guint, 0))
                           : "no swept parameter";
    char *name = plot_safe_name("sweep_", m), *file = g_strconcat(name, ".dat", NULL);
    char *title = g_strdup_printf("%s against %s", m, xcol);
    char *xlabel = g_strdup_printf("%s (swept parameter)", xcol);
    char *ylabel = plot_label(m, plot_path_unit(m));
    PlotFig f = {name, title, xlabel, ylabel,
                 "set key below\nset bmargin 6\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05",
                 g_string_new(NULL)};
    bool ok = plot_sweep_metric_data(c, t, m, xcol, file, f.plot, err) && plot_fig_write(c, &f, err);
    g_string_free(f.plot, TRUE);
    g_free(ylabel);
    g_free(xlabel);
    g_free(title);
    g_free(file);
    g_free(name);
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
    char *dir_base = g_path_get_basename(dir);
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
