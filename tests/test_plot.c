/* test_plot: suite of analysis/plot.c.
 *
 * Hand-made results directories and sweep tables with known values: the
 * data files and gnuplot scripts written for them are checked line by line
 * (grouping of time-series columns, units, titles naming the run, CDF
 * points, error bars per curve). Also: bad input files, the missing-gnuplot
 * path (option, environment variable and the simplot front end), rendering
 * when gnuplot is installed, and samples.csv as a real run writes it
 * (sorted, complete, identical across identical runs).
 */
#include "t_assert.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "analysis/plot.h"
#include "sim/world/runner.h"
#include "sim/world/scenario.h"

/* ------------------------------------------------------------- helpers */

static char *t_tmpdir(void)
{
    char *d = g_dir_make_tmp("test_plot-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void t_rmtree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        char *p = g_build_filename(path, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) t_rmtree(p);
        else g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(path);
}

static void t_write(const char *dir, const char *name, const char *text)
{
    char *p = g_build_filename(dir, name, NULL);
    T_TRUE(g_file_set_contents(p, text, -1, NULL));
    g_free(p);
}

/* Contents of dir/name, or NULL; owned. */
static char *t_read(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL), *text = NULL;
    if (!g_file_get_contents(p, &text, NULL, NULL)) text = NULL;
    g_free(p);
    return text;
}

/* Occurrences of needle in hay (NULL: 0). */
static long long t_count(const char *hay, const char *needle)
{
    long long n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static bool t_exists(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL);
    bool e = g_file_test(p, G_FILE_TEST_EXISTS);
    g_free(p);
    return e;
}

/* A run of 2 minutes: the usual columns, a calls column a later simrun
 * writes, and a column no group knows; login times with two sub-metrics. */
static const char t_results_json[] =
    "{\"scenario\": {\"name\": \"tiny\", \"duration\": \"2min\", \"warmup\": \"0s\","
    " \"population\": {\"clients\": 3}}, \"seed\": 7, \"interrupted\": false, \"simulated_s\": 120}\n";
static const char t_timeseries[] =
    "time_s,online_users,logged_in,supernodes,clients_per_supernode,logins,logouts,crashes,"
    "hostcache_fresh,active_calls,foo_bps\n"
    "0,0,0,1,0,0,0,0,nan,0,0\n"
    "60,2,1,1,1,2,0,0,1,1,64000\n"
    "120,3,3,1,3,3,0,0,0.5,0,128000\n";
static const char t_samples[] = "metric,value\n"
                                "login.time_s,0.5\nlogin.time_s,1\nlogin.time_s,2\nlogin.time_s,4\n"
                                "login.time_s.open,0.5\nlogin.time_s.open,2\n"
                                "login.time_s.symmetric,1\nlogin.time_s.symmetric,4\n"
                                "zeta.size,3\n";

static char *t_run_dir(void)
{
    char *d = t_tmpdir();
    t_write(d, "results.json", t_results_json);
    t_write(d, "timeseries.csv", t_timeseries);
    t_write(d, "samples.csv", t_samples);
    return d;
}

/* A sweep over supernodes.count (listed 10 before 5) crossed with
 * network.loss; one point has a single run (no CI). */
static const char t_table[] =
    "supernodes.count,network.loss,metric,n,mean,sd,ci95,min,max,ci95_lo,ci95_hi\n"
    "10,0,headline.login_time_mean_s,3,0.4,0.05,0.124,0.35,0.45,0.3,0.55\n"
    "10,0,headline.login_success_rate,3,0.95,0.01,0.0248,0.94,0.96,0.9,0.99\n"
    "5,0,headline.login_time_mean_s,3,0.5,0.05,0.124,0.45,0.55,0.4,0.65\n"
    "5,0,headline.login_success_rate,3,0.9,0.01,0.0248,0.89,0.91,0.85,0.95\n"
    "10,0.01,headline.login_time_mean_s,3,0.6,0.05,0.124,0.55,0.65,0.5,0.75\n"
    "10,0.01,headline.login_success_rate,1,0.9,,,0.9,0.9,,\n"
    "5,0.01,headline.login_time_mean_s,3,0.7,0.05,0.124,0.65,0.75,0.6,0.85\n"
    "5,0.01,headline.login_success_rate,3,1,0,0,1,1,0.2924017738,1\n";
static const char t_table_json[] = "{\"name\": \"density\", \"base\": \"scenarios/baseline.json\","
                                   " \"repetitions\": 3, \"complete\": false}\n";

/* ------------------------------------------------------------------ run */

static void test_plot_run_timeseries_grouped(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    GError *err = NULL;
    T_TRUE(plot_run(d, &o, &rep, &err));
    T_STR_EQ(rep.out_dir, out);
    /* users, supernodes, load, sessions, host cache, calls, foo_bps; CDFs:
     * login time, login time by NAT type, zeta.size. */
    T_EQ_I64(rep.plots, 10);
    T_EQ_I64(rep.rendered, 0);
    T_FALSE(rep.gnuplot_missing);
    char *dat = t_read(out, "timeseries.dat");
    T_STR_CONTAINS(dat, "\n0 0 0 1 0 0 0 0 NaN 0 0\n60 2 1 1 1 2 0 0 1 1 64000\n");
    char *users = t_read(out, "ts_users.gp");
    T_STR_CONTAINS(users, "set title \"Users online and logged in\\nscenario tiny, seed 7, 3 clients, "
                          "2min simulated\"");
    T_STR_CONTAINS(users, "set xlabel \"virtual time (s)\"");
    T_STR_CONTAINS(users, "plot 'timeseries.dat' using 1:2 with linespoints lw 2 title \"online (client "
                          "host up)\", \\\n     'timeseries.dat' using 1:3 with linespoints");
    T_STR_CONTAINS(users, "set output 'ts_users.png'");
    T_STR_CONTAINS(users, "set output 'ts_users.svg'\nreplot");
    char *sessions = t_read(out, "ts_sessions.gp");
    T_STR_CONTAINS(sessions, "using 1:6 ");
    T_STR_CONTAINS(sessions, "using 1:8 ");
    T_STR_CONTAINS(sessions, "set ylabel \"events (cumulative count)\"");
    char *fresh = t_read(out, "ts_hostcache.gp");
    T_STR_CONTAINS(fresh, "set yrange [0:1]\n"); /* a share: the axis ends at 1 */
    g_free(fresh);
    char *calls = t_read(out, "ts_calls.gp");
    T_STR_CONTAINS(calls, "using 1:10 ");
    char *foo = t_read(out, "ts_foo_bps.gp");
    T_STR_CONTAINS(foo, "set ylabel \"foo_bps (kb/s)\""); /* bit rates in kb/s */
    T_STR_CONTAINS(foo, "using 1:($11/1000) ");
    T_FALSE(t_exists(out, "ts_relay.gp")); /* no relay column in this run */
    g_free(foo);
    g_free(calls);
    g_free(sessions);
    g_free(users);
    g_free(dat);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

static void test_plot_run_cdf_points_and_submetrics(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    char *dat = t_read(out, "cdf_login_time_s.dat");
    T_STR_CONTAINS(dat, "# empirical CDF of login.time_s: 4 observations\n# value cumulative_fraction\n"
                        "0.5 0.25\n1 0.5\n2 0.75\n4 1\n");
    char *gp = t_read(out, "cdf_login_time_s.gp");
    T_STR_CONTAINS(gp, "set xlabel \"login time (s)\"");
    T_STR_CONTAINS(gp, "set ylabel \"cumulative fraction of observations\"");
    T_STR_CONTAINS(gp, "'cdf_login_time_s.dat' using 1:2 with steps lw 2 title \"login.time_s (n = 4)\"");
    char *by = t_read(out, "cdf_login_time_s_by.gp");
    T_STR_CONTAINS(by, "by true NAT/firewall type");
    T_STR_CONTAINS(by, "'cdf_login_time_s_open.dat' using 1:2 with steps lw 2 title \"open (n = 2)\"");
    T_STR_CONTAINS(by, "title \"symmetric (n = 2)\"");
    T_STR_CONTAINS(by, "'cdf_login_time_s.dat' using 1:2 with steps lw 3 title \"all (n = 4)\"");
    char *sym = t_read(out, "cdf_login_time_s_symmetric.dat");
    T_STR_CONTAINS(sym, "\n1 0.5\n4 1\n");
    T_FALSE(t_exists(out, "cdf_login_time_s_open.gp")); /* drawn in its parent's plot */
    /* One integer value: bars, not a CDF. */
    T_FALSE(t_exists(out, "cdf_zeta_size.gp"));
    char *zeta = t_read(out, "bars_zeta_size.gp");
    T_STR_CONTAINS(zeta, "set title \"Distribution of zeta.size\\n");
    T_STR_CONTAINS(zeta, "set xlabel \"zeta.size\"");
    T_FALSE(strstr(gp, "logscale")); /* 0.5 to 4 s: a linear axis */
    g_free(zeta);
    g_free(sym);
    g_free(by);
    g_free(gp);
    g_free(dat);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* A count (98 of 100 logins contacted 1 supernode) is drawn as bars of
 * the share at each value; login times from 0.2 s to minutes by NAT type
 * get a logarithmic axis; a bit rate is drawn in kb/s. */
static void test_plot_run_bars_log_axis_and_rates(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    GString *samples = g_string_new("metric,value\n");
    for (int i = 0; i < 100; i++)
        g_string_append_printf(samples, "login.nodes_contacted,%d\n", i < 98 ? 1 : i - 95);
    for (int i = 0; i < 100; i++) {
        double v = i < 80 ? 0.2 + 0.01 * i : 30 + i;
        g_string_append_printf(samples, "login.time_s,%g\nlogin.time_s.%s,%g\n", v,
                               i < 80 ? "open" : "symmetric", v);
    }
    g_string_append(samples, "relay.bandwidth_bps,350000\nrelay.bandwidth_bps,352500.5\n");
    t_write(d, "samples.csv", samples->str);
    g_string_free(samples, TRUE);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    char *bars = t_read(out, "bars_login_nodes_contacted.dat");
    T_STR_CONTAINS(bars, "# value observations share\n1 98 0.98\n3 1 0.01\n4 1 0.01\n");
    char *bgp = t_read(out, "bars_login_nodes_contacted.gp");
    T_STR_CONTAINS(bgp, "set ylabel \"share of observations\"");
    T_STR_CONTAINS(bgp, "set xlabel \"nodes contacted (count)\"");
    T_STR_CONTAINS(bgp, "using 1:3 with boxes");
    T_FALSE(t_exists(out, "cdf_login_nodes_contacted.gp"));
    char *by = t_read(out, "cdf_login_time_s_by.gp"), *all = t_read(out, "cdf_login_time_s.gp");
    T_STR_CONTAINS(by, "set logscale x\n");
    T_STR_CONTAINS(all, "set logscale x\n");
    T_STR_CONTAINS(all, "set yrange [0:1]\n");
    char *relay = t_read(out, "cdf_relay_bandwidth_bps.gp");
    T_STR_CONTAINS(relay, "set xlabel \"relay bandwidth (kb/s)\"");
    T_STR_CONTAINS(relay, "using ($1/1000):2 with steps");
    g_free(relay);
    g_free(all);
    g_free(by);
    g_free(bgp);
    g_free(bars);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

static void test_plot_run_interrupted_and_out_dir(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "elsewhere", "figs", NULL);
    t_write(d, "results.json",
            "{\"scenario\": {\"name\": \"tiny\", \"duration\": \"2h\", \"warmup\": \"10min\","
            " \"population\": {\"clients\": 3}}, \"seed\": 7, \"interrupted\": true, \"simulated_s\": 95}");
    PlotOptions o = {.no_render = true, .out_dir = out};
    PlotReport rep;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    char *gp = t_read(out, "ts_supernodes.gp");
    T_STR_CONTAINS(gp, "scenario tiny, seed 7, 3 clients, 2h simulated (metrics after 10min warm-up), "
                       "INTERRUPTED at 95 s");
    T_FALSE(t_exists(d, "plots"));
    g_free(gp);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

static void test_plot_run_long_time_axis_in_hours(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    t_write(d, "timeseries.csv", "time_s,supernodes\n0,1\n7200,2\n14400,3\n");
    char *samples = g_build_filename(d, "samples.csv", NULL);
    g_unlink(samples); /* an older run: no CDFs */
    g_free(samples);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    T_EQ_I64(rep.plots, 1);
    char *gp = t_read(out, "ts_supernodes.gp");
    T_STR_CONTAINS(gp, "using ($1/3600):2 ");
    T_STR_CONTAINS(gp, "set xlabel \"virtual time (h)\"");
    g_free(gp);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* One bad input: plot_run fails with PLOT_ERROR_INPUT and a message
 * containing want. */
static void t_expect_input_error(const char *file, const char *text, const char *want)
{
    char *d = t_run_dir();
    t_write(d, file, text);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    GError *err = NULL;
    T_FALSE(plot_dir(d, &o, &rep, &err));
    T_TRUE(err && err->domain == PLOT_ERROR && err->code == PLOT_ERROR_INPUT);
    T_STR_CONTAINS(err ? err->message : NULL, want);
    T_TRUE(err && !strchr(err->message, '\n'));
    g_clear_error(&err);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(d);
}

static void test_plot_bad_input_messages(void)
{
    t_expect_input_error("timeseries.csv", "time_s,online_users,logged_in\n0,1,1\n30,2\n",
                         "timeseries.csv:3: expected 3 comma-separated fields as in the header; found 2");
    t_expect_input_error("timeseries.csv", "time_s,online_users\n0,1\n30,abc\n",
                         "timeseries.csv:3: column online_users: expected a number; found \"abc\"");
    t_expect_input_error("timeseries.csv", "online_users,time_s\n1,0\n",
                         "timeseries.csv:1: expected first column \"time_s\"; found \"online_users\"");
    t_expect_input_error("samples.csv", "name,v\nx,1\n", "samples.csv:1: expected the header \"metric,value\"");
    t_expect_input_error("samples.csv", "metric,value\nx,1\nx,one\n",
                         "samples.csv:3: column value: expected a number; found \"one\"");
    t_expect_input_error("results.json", "{\"scenario\": ", "results.json: expected a JSON object");
    t_expect_input_error("table.csv", "a,b\n1,2\n",
                         "table.csv:1: expected columns \"metric\", \"mean\" and \"ci95\" after the "
                         "parameters; found no \"metric\"");
}

static void test_plot_dir_neither_run_nor_sweep(void)
{
    char *d = t_tmpdir();
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    GError *err = NULL;
    T_FALSE(plot_dir(d, &o, &rep, &err));
    T_STR_CONTAINS(err ? err->message : NULL, "expected a results directory (results.json) or a sweep "
                                              "output directory (table.csv); found neither");
    g_clear_error(&err);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(d);
}

/* ---------------------------------------------------------------- sweep */

static void test_plot_sweep_error_bars_per_curve(void)
{
    char *d = t_tmpdir(), *out = g_build_filename(d, "plots", NULL);
    t_write(d, "table.csv", t_table);
    t_write(d, "table.json", t_table_json);
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_dir(d, &o, &rep, NULL));
    T_TRUE(rep.sweep);
    T_EQ_I64(rep.plots, 2);
    char *dat = t_read(out, "sweep_headline_login_time_mean_s.dat");
    /* Sorted by x within each curve; one block per network.loss; the two
     * curves share every x, so they are drawn 0.08 of the gap (5) apart
     * on either side: 4.8 and 5.2. The bounds are ci95_lo and ci95_hi. */
    T_STR_CONTAINS(dat, "# supernodes.count x_drawn mean ci95_lo ci95_hi n\n# curve 0: network.loss=0\n"
                        "5 4.8 0.5 0.4 0.65 3\n10 9.8 0.4 0.3 0.55 3\n\n\n"
                        "# curve 1: network.loss=0.01\n5 5.2 0.7 0.6 0.85 3\n10 10.2 0.6 0.5 0.75 3\n");
    char *rate = t_read(out, "sweep_headline_login_success_rate.dat");
    T_STR_CONTAINS(rate, "\n10 10.2 0.9 NaN NaN 1\n");           /* one run: no interval */
    T_STR_CONTAINS(rate, "\n5 5.2 1 0.292401774 1 3\n");        /* 3 of 3: Clopper-Pearson */
    char *gp = t_read(out, "sweep_headline_login_time_mean_s.gp");
    /* A readable title, wrapped before it is cut. */
    T_STR_CONTAINS(gp, "set title \"Mean login time against supernodes.count\\nsweep density of "
                       "scenarios/baseline.json: 4 points x 3 repetitions, mean with 95 %\\n"
                       "confidence interval, INCOMPLETE\"");
    T_STR_CONTAINS(gp, "set xlabel \"dedicated supernode hosts (supernodes.count)\"");
    T_STR_CONTAINS(gp, "set ylabel \"mean login time (s)\"");
    T_STR_CONTAINS(gp, "set yrange [0<*:*]"); /* a time: never below 0 */
    T_STR_CONTAINS(gp, "'sweep_headline_login_time_mean_s.dat' index 1 using 2:3:4:5 with yerrorbars lc 2");
    T_STR_CONTAINS(gp, "'sweep_headline_login_time_mean_s.dat' index 1 using 2:3 with lines lw 2 lc 2 "
                       "title \"network.loss=0.01\"");
    T_FALSE(strstr(gp, "logscale"));
    char *rgp = t_read(out, "sweep_headline_login_success_rate.gp");
    T_STR_CONTAINS(rgp, "set ylabel \"login success rate\"\n");
    T_STR_CONTAINS(rgp, "set yrange [0<*:*<1]"); /* a fraction: the axis stays within [0, 1] */
    T_FALSE(strstr(rgp, "headline.login_success_rate (fraction)"));
    g_free(rgp);
    g_free(gp);
    g_free(rate);
    g_free(dat);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* A table from before ci95_lo/ci95_hi: the bars are mean -+ ci95; a
 * categorical axis numbers its values; one curve is not moved. */
static void test_plot_sweep_categorical_parameter(void)
{
    char *d = t_tmpdir(), *out = g_build_filename(d, "plots", NULL);
    t_write(d, "table.csv", "supernodes.mode,metric,n,mean,sd,ci95,min,max\n"
                            "elected,headline.supernodes_at_end,2,12,1,8.98,11,13\n"
                            "dedicated,headline.supernodes_at_end,2,20,0,0,20,20\n");
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_sweep(d, &o, &rep, NULL));
    char *dat = t_read(out, "sweep_headline_supernodes_at_end.dat");
    T_STR_CONTAINS(dat, "# curve 0: every point\n\"elected\" 0 12 3.02 20.98 2\n\"dedicated\" 1 20 20 20 2\n");
    char *gp = t_read(out, "sweep_headline_supernodes_at_end.gp");
    T_STR_CONTAINS(gp, "index 0 using 2:3:4:5 with yerrorbars");
    T_STR_CONTAINS(gp, "index 0 using 2:3 with lines");
    T_STR_CONTAINS(gp, "set xrange [-0.5:1.5]\nset xtics (\"elected\" 0, \"dedicated\" 1)\n");
    T_STR_CONTAINS(gp, "set ylabel \"supernodes at the end\"");
    T_STR_CONTAINS(gp, "sweep " /* no table.json: the directory name */);
    T_STR_CONTAINS(gp, ": 2 points, mean with 95 % confidence interval\"");
    g_free(gp);
    g_free(dat);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* Three curves at categorical x: moved apart by 0.08 of a category each;
 * a positive metric whose bounds span more than two decades (few runs
 * that disagree) gets a logarithmic y axis; a MOS stays within 1 to 5. */
static void test_plot_sweep_dodge_and_log_axis(void)
{
    char *d = t_tmpdir(), *out = g_build_filename(d, "plots", NULL);
    t_write(d, "table.csv",
            "workload.mode,network.loss,metric,n,mean,sd,ci95,min,max,ci95_lo,ci95_hi\n"
            "a,0,headline.search_latency_mean_s,3,0.6,0.76,1.94,0.1,1.5,0.003388625904,206.1483443\n"
            "a,0.1,headline.search_latency_mean_s,3,0.5,0.1,0.3,0.4,0.6,0.3,0.8\n"
            "a,0.2,headline.search_latency_mean_s,3,0.4,0.1,0.3,0.3,0.5,0.2,0.7\n"
            "b,0,headline.search_latency_mean_s,3,0.3,0.1,0.3,0.2,0.4,0.1,0.6\n"
            "a,0,headline.mos_mean,3,4.4,0.1,0.25,4.3,4.5,4.1,4.6\n"
            "b,0,headline.mos_mean,3,4.2,0.1,0.25,4.1,4.3,3.9,4.5\n");
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_sweep(d, &o, &rep, NULL));
    char *dat = t_read(out, "sweep_headline_search_latency_mean_s.dat");
    T_STR_CONTAINS(dat, "\"a\" -0.08 0.6 ");
    T_STR_CONTAINS(dat, "\"b\" 0.92 0.3 ");
    T_STR_CONTAINS(dat, "\"a\" 0 0.5 ");
    T_STR_CONTAINS(dat, "\"a\" 0.08 0.4 ");
    char *gp = t_read(out, "sweep_headline_search_latency_mean_s.gp");
    T_STR_CONTAINS(gp, "set logscale y\n");
    T_STR_CONTAINS(gp, "set ylabel \"mean search latency (s)\"");
    char *mos = t_read(out, "sweep_headline_mos_mean.gp");
    T_STR_CONTAINS(mos, "set yrange [1<*:*<5]");
    T_FALSE(strstr(mos, "set logscale")); /* 3.9 to 4.6: linear */
    T_STR_CONTAINS(mos, "set ylabel \"mean opinion score of calls (MOS, 1 to 5)\"");
    T_FALSE(strstr(mos, "logscale"));
    g_free(mos);
    g_free(gp);
    g_free(dat);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* --------------------------------------------------------- rendering */

static void test_plot_gnuplot_missing_still_writes_scripts(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    PlotOptions o = {.gnuplot = "skysim-no-such-gnuplot"};
    PlotReport rep;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    T_TRUE(rep.gnuplot_missing);
    T_EQ_I64(rep.rendered, 0);
    T_EQ_I64(rep.plots, 10);
    T_TRUE(t_exists(out, "ts_users.gp") && t_exists(out, "timeseries.dat"));
    T_FALSE(t_exists(out, "ts_users.png"));
    plot_report_clear(&rep);
    /* The same through the environment variable. */
    char *old = g_strdup(g_getenv(PLOT_GNUPLOT_ENV));
    g_setenv(PLOT_GNUPLOT_ENV, "/nonexistent/gnuplot", TRUE);
    o.gnuplot = NULL;
    T_TRUE(plot_run(d, &o, &rep, NULL));
    T_TRUE(rep.gnuplot_missing);
    if (old) g_setenv(PLOT_GNUPLOT_ENV, old, TRUE);
    else g_unsetenv(PLOT_GNUPLOT_ENV);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(old);
    g_free(out);
    g_free(d);
}

/* Runs the simplot front end with SKYSIM_GNUPLOT set to gnuplot (NULL:
 * unchanged); returns the exit status, *out and *errtext owned. */
static int t_simplot(const char *dir, const char *gnuplot, char **out, char **errtext)
{
    const char *bin = g_getenv("SKYSIM_BINARY_DIR");
    char *exe = g_build_filename(bin ? bin : ".", "simplot", NULL);
    char *argv[] = {exe, (char *)dir, NULL};
    char **env = g_get_environ();
    if (gnuplot) env = g_environ_setenv(env, PLOT_GNUPLOT_ENV, gnuplot, TRUE);
    int status = -1;
    T_TRUE(g_spawn_sync(NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, out, errtext, &status, NULL));
    g_strfreev(env);
    g_free(exe);
    return g_spawn_check_wait_status(status, NULL) ? 0 : WEXITSTATUS(status);
}

static void test_plot_front_end_says_missing_gnuplot_once(void)
{
    char *d = t_run_dir(), *out = NULL, *errtext = NULL;
    T_EQ_I64(t_simplot(d, "/nonexistent/gnuplot", &out, &errtext), 0);
    T_STR_CONTAINS(errtext, "simplot: gnuplot not found (\"/nonexistent/gnuplot\"): wrote the data and "
                            "the .gp scripts only");
    T_EQ_I64(t_count(errtext, "gnuplot not found"), 1); /* said once, not per script */
    T_EQ_I64(t_count(errtext, "\n"), 1);
    T_STR_CONTAINS(out, "10 plots of the run in ");
    T_STR_CONTAINS(out, "(0 rendered as PNG and SVG, 0 as PDF)");
    g_free(out);
    g_free(errtext);
    char *empty = t_tmpdir();
    T_EQ_I64(t_simplot(empty, NULL, &out, &errtext), 2);
    T_STR_CONTAINS(errtext, "found neither");
    g_free(out);
    g_free(errtext);
    t_rmtree(empty);
    t_rmtree(d);
    g_free(empty);
    g_free(d);
}

/* True when gnuplot (a path) lists the pdfcairo terminal. */
static bool t_gnuplot_has_pdfcairo(const char *gnuplot)
{
    const char *argv[] = {gnuplot, "-e", "print GPVAL_TERMINALS", NULL};
    char *out = NULL, *errtext = NULL;
    int status = -1;
    bool ok = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errtext,
                           &status, NULL);
    /* "print" writes to stderr. */
    bool has = ok && ((out && strstr(out, "pdfcairo")) || (errtext && strstr(errtext, "pdfcairo")));
    g_free(out);
    g_free(errtext);
    return has;
}

static void test_plot_render_png_and_svg(void)
{
    char *d = t_run_dir(), *out = g_build_filename(d, "plots", NULL);
    PlotOptions o = {0};
    PlotReport rep;
    GError *err = NULL;
    T_TRUE(plot_run(d, &o, &rep, &err));
    char *gp = g_find_program_in_path("gnuplot");
    if (!gp || g_getenv(PLOT_GNUPLOT_ENV)) {
        T_TRUE(rep.gnuplot_missing || rep.rendered == rep.plots);
    } else {
        T_FALSE(rep.gnuplot_missing);
        T_EQ_I64(rep.rendered, rep.plots);
        char *png = t_read(out, "ts_users.png"), *svg = t_read(out, "ts_users.svg");
        T_TRUE(png && memcmp(png, "\x89PNG", 4) == 0);
        T_STR_CONTAINS(svg, "<svg");
        T_STR_CONTAINS(svg, "Users online and logged in");
        T_TRUE(t_exists(out, "cdf_login_time_s_by.png") && t_exists(out, "cdf_login_time_s_by.svg"));
        /* PDF beside them when this gnuplot has pdfcairo ("gnuplot -e 'set
         * terminal'" lists it); else none, and the test says why. */
        if (t_gnuplot_has_pdfcairo(gp)) {
            T_EQ_I64(rep.rendered_pdf, rep.plots);
            char *pdf = t_read(out, "ts_users.pdf");
            T_TRUE(pdf && memcmp(pdf, "%PDF", 4) == 0);
            T_TRUE(t_exists(out, "cdf_login_time_s_by.pdf"));
            g_free(pdf);
        } else {
            fprintf(stderr, "render_png_and_svg: PDF part skipped: %s has no pdfcairo terminal\n", gp);
            T_EQ_I64(rep.rendered_pdf, 0);
            T_FALSE(t_exists(out, "ts_users.pdf"));
        }
        g_free(png);
        g_free(svg);
    }
    g_free(gp);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(out);
    g_free(d);
}

/* A gnuplot without pdfcairo (the real one, with the scripts' test for it
 * made to fail): PNG and SVG only, the count says 0 PDF, and the front end
 * says why once. */
static void test_plot_no_pdfcairo_says_so(void)
{
    char *gp = g_find_program_in_path("gnuplot");
    if (!gp) {
        fprintf(stderr, "no_pdfcairo_says_so: skipped: no gnuplot on PATH\n");
        return;
    }
    char *d = t_run_dir(), *wrap = g_build_filename(d, "gnuplot-nopdf", NULL), *out = NULL, *errtext = NULL;
    char *script = g_strdup_printf("#!/bin/sh\nsed 's/\"pdfcairo\") > 0/\"no-such-terminal\") > 0/' \"$1\" "
                                   "| exec %s\n", gp);
    t_write(d, "gnuplot-nopdf", script);
    T_EQ_I64(g_chmod(wrap, 0755), 0);
    T_EQ_I64(t_simplot(d, wrap, &out, &errtext), 0);
    T_STR_CONTAINS(out, "(10 rendered as PNG and SVG, 0 as PDF)");
    T_STR_CONTAINS(errtext, "simplot: this gnuplot has no pdfcairo terminal: no PDF written");
    T_EQ_I64(t_count(errtext, "pdfcairo"), 1);
    char *plots = g_build_filename(d, "plots", NULL);
    T_TRUE(t_exists(plots, "ts_users.png"));
    T_FALSE(t_exists(plots, "ts_users.pdf"));
    g_free(plots);
    g_free(out);
    g_free(errtext);
    g_free(script);
    t_rmtree(d);
    g_free(wrap);
    g_free(d);
    g_free(gp);
}

/* A gnuplot that fails: the error names the script. */
static void test_plot_gnuplot_failure_is_an_error(void)
{
    char *d = t_run_dir();
    PlotOptions o = {.gnuplot = "false"};
    PlotReport rep;
    GError *err = NULL;
    T_FALSE(plot_run(d, &o, &rep, &err));
    T_TRUE(err && err->code == PLOT_ERROR_IO);
    T_STR_CONTAINS(err ? err->message : NULL, "gnuplot failed on ");
    T_STR_CONTAINS(err ? err->message : NULL, ".gp: non-zero exit status");
    g_clear_error(&err);
    plot_report_clear(&rep);
    t_rmtree(d);
    g_free(d);
}

/* --------------------------------------------- samples.csv of a real run */

/* Runs scenarios/baseline.json, small, into dir; returns samples.csv. */
static char *t_real_run(const char *dir, char **results)
{
    const char *src = g_getenv("SKYSIM_SOURCE_DIR");
    char *path = g_build_filename(src ? src : "..", "scenarios", "baseline.json", NULL);
    const char *sets[] = {"population.clients=30", "duration=3min", NULL};
    GError *err = NULL;
    Scenario *scn = scenario_load_with(path, sets, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(scn);
    RunnerOptions ro = {.out_dir = dir, .queue = EVQ_BUCKET, .raise_sigint_at = -1};
    RunnerResult rr;
    T_EQ_I64(runner_run(scn, &ro, &rr, &err), RUNNER_OK);
    runner_result_clear(&rr);
    scenario_free(scn);
    g_free(path);
    *results = t_read(dir, "results.json");
    return t_read(dir, "samples.csv");
}

static void test_plot_samples_csv_sorted_and_deterministic(void)
{
    char *d = t_tmpdir(), *a = g_build_filename(d, "a", NULL), *b = g_build_filename(d, "b", NULL);
    char *ja, *jb;
    char *sa = t_real_run(a, &ja), *sb = t_real_run(b, &jb);
    T_STR_CONTAINS(sa, "metric,value\n");
    T_TRUE(sa && sb && strcmp(sa, sb) == 0);
    char **lines = g_strsplit(sa ? sa : "", "\n", -1);
    size_t login = 0, sorted = 1;
    for (guint i = 2; lines[i] && *lines[i]; i++) {
        char *pc = strchr(lines[i - 1], ','), *c = strchr(lines[i], ',');
        if (!pc || !c) continue;
        int by_name = strncmp(lines[i - 1], lines[i], (size_t)MAX(pc - lines[i - 1], c - lines[i]));
        if (by_name > 0 || (by_name == 0 && g_ascii_strtod(pc + 1, NULL) > g_ascii_strtod(c + 1, NULL)))
            sorted = 0;
    }
    for (guint i = 1; lines[i]; i++) login += g_str_has_prefix(lines[i], "login.time_s,");
    T_EQ_I64(sorted, 1);
    /* As many login times as results.json counts (30 clients, all log in). */
    cJSON *root = cJSON_Parse(ja ? ja : "{}");
    const cJSON *lt = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "metrics"), "login.time_s");
    T_EQ_I64(login, (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(lt, "count")));
    T_EQ_I64(login, 30);
    /* And the plots of a real run come out of it. */
    PlotOptions o = {.no_render = true};
    PlotReport rep;
    T_TRUE(plot_run(a, &o, &rep, NULL));
    char *out = g_build_filename(a, "plots", NULL);
    T_TRUE(t_exists(out, "cdf_login_time_s.gp") && t_exists(out, "ts_users.gp"));
    plot_report_clear(&rep);
    cJSON_Delete(root);
    g_strfreev(lines);
    t_rmtree(d);
    g_free(out);
    g_free(sa);
    g_free(sb);
    g_free(ja);
    g_free(jb);
    g_free(a);
    g_free(b);
    g_free(d);
}

T_SUITE_MAIN("plot",
             {"run_timeseries_grouped", test_plot_run_timeseries_grouped},
             {"run_cdf_points_and_submetrics", test_plot_run_cdf_points_and_submetrics},
             {"run_interrupted_and_out_dir", test_plot_run_interrupted_and_out_dir},
             {"run_long_time_axis_in_hours", test_plot_run_long_time_axis_in_hours},
             {"bad_input_messages", test_plot_bad_input_messages},
             {"dir_neither_run_nor_sweep", test_plot_dir_neither_run_nor_sweep},
             {"sweep_error_bars_per_curve", test_plot_sweep_error_bars_per_curve},
             {"run_bars_log_axis_and_rates", test_plot_run_bars_log_axis_and_rates},
             {"sweep_categorical_parameter", test_plot_sweep_categorical_parameter},
             {"sweep_dodge_and_log_axis", test_plot_sweep_dodge_and_log_axis},
             {"gnuplot_missing_still_writes_scripts", test_plot_gnuplot_missing_still_writes_scripts},
             {"front_end_says_missing_gnuplot_once", test_plot_front_end_says_missing_gnuplot_once},
             {"render_png_and_svg", test_plot_render_png_and_svg},
             {"gnuplot_failure_is_an_error", test_plot_gnuplot_failure_is_an_error},
             {"no_pdfcairo_says_so", test_plot_no_pdfcairo_says_so},
             {"samples_csv_sorted_and_deterministic", test_plot_samples_csv_sorted_and_deterministic})
