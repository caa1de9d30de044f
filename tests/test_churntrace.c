/* test_churntrace: churn traces. Each format's good file
 * gives the expected intervals (tests/data/traces/README.md); broken lines
 * give exact messages with file and line; scale and offset; the mapping of
 * trace nodes onto clients; the three synthetic files agree; and a small
 * world whose clients are online exactly during their trace intervals. */
#include "sim/world/churntrace.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>

#include "sim/world/world.h"
#include "t_assert.h"

#define S TIMENS_S
#define FTA_BASE (1000000000 * S) /* epoch base of good.fta */

static char *trace_path(const char *name)
{
    const char *src = getenv("SKYSIM_SOURCE_DIR");
    return g_build_filename(src ? src : "..", "tests", "data", "traces", name, NULL);
}

static ChurnTrace *load(const char *name, ScenarioTraceFormat fmt)
{
    char *p = trace_path(name);
    GError *err = NULL;
    ChurnTrace *t = churntrace_load(p, fmt, NULL, &err);
    if (!t) fprintf(stderr, "%s\n", err->message);
    g_clear_error(&err);
    g_free(p);
    return t;
}

/* Checks node i: its name and its intervals, given as pairs in ns. */
static void expect_node(const ChurnTrace *t, size_t i, const char *name, size_t n, const TimeNs *iv)
{
    size_t got;
    const ChurnTraceInterval *v = churntrace_node_intervals(t, i, &got);
    T_STR_EQ(churntrace_node_name(t, i), name);
    T_EQ_U64(got, n);
    for (size_t k = 0; k < n && k < got; k++) {
        T_EQ_I64(v[k].up_ns, iv[2 * k]);
        T_EQ_I64(v[k].down_ns, iv[2 * k + 1]);
    }
}

static void test_fta_good(void)
{
    ChurnTrace *t = load("good.fta", SCENARIO_TRACE_FTA);
    T_TRUE(t != NULL);
    if (!t) return;
    T_EQ_U64(churntrace_node_count(t), 3);
    /* two components overlap: [10,20) and [15,30) merge; event_type 0 rows are not up time */
    const TimeNs a[] = {FTA_BASE + 10 * S, FTA_BASE + 30 * S, FTA_BASE + 40 * S,
                        FTA_BASE + 50 * S + S / 2};
    const TimeNs b[] = {FTA_BASE, FTA_BASE + 8 * S}; /* touching merge, empty dropped */
    expect_node(t, 0, "7", 2, a);
    expect_node(t, 1, "3", 1, b);
    expect_node(t, 2, "9", 0, NULL);
    churntrace_free(t);
}

static void test_avail_good(void)
{
    ChurnTrace *t = load("good.avail", SCENARIO_TRACE_AVAIL);
    T_TRUE(t != NULL);
    if (!t) return;
    T_EQ_U64(churntrace_node_count(t), 3);
    const TimeNs a[] = {10 * S, 30 * S, 40 * S, 50 * S + S / 2, 60 * S, 70 * S};
    const TimeNs b[] = {0, 8 * S};
    expect_node(t, 0, "a", 3, a);
    expect_node(t, 1, "b", 1, b);
    expect_node(t, 2, "c", 0, NULL);
    churntrace_free(t);
}

static void test_csv_good(void)
{
    ChurnTrace *t = load("good.csv", SCENARIO_TRACE_CSV);
    T_TRUE(t != NULL);
    if (!t) return;
    T_EQ_U64(churntrace_node_count(t), 4);
    const TimeNs a[] = {10 * S, 30 * S, 40 * S, 50 * S + S / 2};
    const TimeNs b[] = {0, 8 * S};
    const TimeNs d[] = {100 * S, TIMENS_MAX}; /* still up at the end of the file */
    expect_node(t, 0, "a", 2, a);
    expect_node(t, 1, "b", 1, b);
    expect_node(t, 2, "c", 0, NULL);
    expect_node(t, 3, "d", 1, d);
    churntrace_free(t);
}

typedef struct BadCase {
    ScenarioTraceFormat fmt; /* format */
    const char *name;        /* file name in the message */
    const char *text;        /* file contents */
    const char *message;     /* the exact error message */
} BadCase;

static const BadCase bad_cases[] = {
    {SCENARIO_TRACE_FTA, "x.fta", "1\t1\t7\t1\th\t1\t10\n",
     "x.fta:1: expected 9 tab-separated fields (event_id, component_id, node_id, platform_id, "
     "node_name, event_type, event_start_time, event_stop_time, event_end_reason); found 7"},
    {SCENARIO_TRACE_FTA, "x.fta", "# c\n\n1\t1\t7\t1\th\t2\t10\t20\t\n",
     "x.fta:3: field 6 (event_type): expected 0 (unavailable) or 1 (available); found \"2\""},
    {SCENARIO_TRACE_FTA, "x.fta", "1\t1\t7\t1\th\t1\tabc\t20\t\n",
     "x.fta:1: field 7 (event_start_time): expected a time in seconds; found \"abc\""},
    {SCENARIO_TRACE_FTA, "x.fta", "1\t1\t7\t1\th\t1\t10\t\t\n",
     "x.fta:1: field 8 (event_stop_time): expected a time in seconds; found \"\""},
    {SCENARIO_TRACE_FTA, "x.fta", "1\t1\t7\t1\th\t0\t20\t10\t\n",
     "x.fta:1: field 8 (event_stop_time): expected a time >= event_start_time (20); found \"10\""},
    {SCENARIO_TRACE_FTA, "x.fta", "1\t1\t\t1\th\t1\t10\t20\t\n",
     "x.fta:1: field 3 (node_id): expected a node name; found an empty field"},
    {SCENARIO_TRACE_AVAIL, "x.avail", "a 1 2\nb 1 2 3\n",
     "x.avail:2: expected `node t_up t_down ...` with pairs of times; found 3 times"},
    {SCENARIO_TRACE_AVAIL, "x.avail", "a 1 x\n",
     "x.avail:1: field 3 (t_down): expected a time in seconds; found \"x\""},
    {SCENARIO_TRACE_AVAIL, "x.avail", "a 1 2s\n",
     "x.avail:1: field 3 (t_down): expected a time in seconds; found \"2s\""},
    {SCENARIO_TRACE_AVAIL, "x.avail", "a 1 2 5 3\n",
     "x.avail:1: field 5 (t_down): expected a time >= t_up (5); found \"3\""},
    {SCENARIO_TRACE_CSV, "x.csv", "a,1,up\n",
     "x.csv:1: expected a header line of three fields (node,time,state); found \"a,1,up\""},
    {SCENARIO_TRACE_CSV, "x.csv", "node,time,state\r\na,1\r\n",
     "x.csv:2: expected 3 comma-separated fields (node,time,state); found 2"},
    {SCENARIO_TRACE_CSV, "x.csv", "node,time,state\na,1,online\n",
     "x.csv:2: field 3 (state): expected \"up\" or \"down\"; found \"online\""},
    {SCENARIO_TRACE_CSV, "x.csv", "node,time,state\n,1,up\n",
     "x.csv:2: field 1 (node): expected a node name; found an empty field"},
    {SCENARIO_TRACE_CSV, "x.csv", "node,time,state\na,-x,up\n",
     "x.csv:2: field 2 (time): expected a time in seconds; found \"-x\""},
    {SCENARIO_TRACE_CSV, "x.csv", "node,time,state\na,5,up\nb,1,up\na,3.5,down\n",
     "x.csv:4: field 2 (time): expected a time >= 5 (node a's previous event, line 2); "
     "found \"3.5\""},
};

static void test_bad_lines(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const BadCase *c = &bad_cases[i];
        GError *err = NULL;
        ChurnTrace *t = churntrace_parse(c->text, strlen(c->text), c->name, c->fmt, NULL, &err);
        T_TRUE(t == NULL);
        T_TRUE(err != NULL);
        if (err) {
            T_EQ_I64(err->code, CHURNTRACE_ERROR_SYNTAX);
            T_STR_EQ(err->message, c->message);
        }
        g_clear_error(&err);
        churntrace_free(t);
    }
}

static void test_missing_file(void)
{
    GError *err = NULL;
    T_TRUE(churntrace_load("no-such-trace.csv", SCENARIO_TRACE_CSV, NULL, &err) == NULL);
    T_EQ_I64(err ? err->code : -1, CHURNTRACE_ERROR_READ);
    T_STR_CONTAINS(err ? err->message : NULL, "no-such-trace.csv: cannot read the trace: ");
    g_clear_error(&err);
}

static void test_scale_offset(void)
{
    T_EQ_I64(churntrace_to_virtual(100 * S, 0, 1), 100 * S);
    T_EQ_I64(churntrace_to_virtual(100 * S, 40 * S, 1), 60 * S);
    T_EQ_I64(churntrace_to_virtual(100 * S, 40 * S, 0.5), 30 * S);
    T_EQ_I64(churntrace_to_virtual(10 * S, 40 * S, 2), -60 * S);
    T_EQ_I64(churntrace_to_virtual(3, 0, 0.5), 2); /* rounded to the nearest ns (half to even) */
    T_EQ_I64(churntrace_to_virtual(TIMENS_MAX, 40 * S, 0.5), TIMENS_MAX);
    T_EQ_I64(churntrace_to_virtual(FTA_BASE + 7 * S, FTA_BASE, 1), 7 * S);
    T_EQ_I64(churntrace_to_virtual(TIMENS_MAX - 1, -S, 3), TIMENS_MAX); /* saturates */
}

static void test_map_counts(void)
{
    ChurnTrace *t = load("good.csv", SCENARIO_TRACE_CSV); /* 4 nodes */
    T_TRUE(t != NULL);
    if (!t) return;
    ChurnTraceMapCounts m;
    churntrace_map_counts(t, 10, &m);
    T_EQ_U64(m.driven, 4);
    T_EQ_U64(m.idle_clients, 6);
    T_EQ_U64(m.ignored_nodes, 0);
    churntrace_map_counts(t, 3, &m);
    T_EQ_U64(m.driven, 3);
    T_EQ_U64(m.idle_clients, 0);
    T_EQ_U64(m.ignored_nodes, 1);
    churntrace_map_counts(t, 4, &m);
    T_EQ_U64(m.driven + m.idle_clients + m.ignored_nodes, 4);
    churntrace_free(t);
}

/* The generated files hold the same sessions: equal after the FTA offset. */
static void test_synthetic_formats_agree(void)
{
    ChurnTrace *av = load("synthetic.avail", SCENARIO_TRACE_AVAIL);
    ChurnTrace *cs = load("synthetic.csv", SCENARIO_TRACE_CSV);
    ChurnTrace *ft = load("synthetic.fta", SCENARIO_TRACE_FTA);
    T_TRUE(av && cs && ft);
    if (!av || !cs || !ft) goto out;
    T_EQ_U64(churntrace_node_count(av), 250);
    T_EQ_U64(churntrace_node_count(cs), 250);
    T_EQ_U64(churntrace_node_count(ft), 250);
    size_t mismatches = 0, total = 0;
    for (size_t i = 0; i < 250; i++) {
        size_t na, nc, nf;
        const ChurnTraceInterval *a = churntrace_node_intervals(av, i, &na);
        const ChurnTraceInterval *c = churntrace_node_intervals(cs, i, &nc);
        const ChurnTraceInterval *f = churntrace_node_intervals(ft, i, &nf);
        mismatches += strcmp(churntrace_node_name(av, i), churntrace_node_name(cs, i)) != 0;
        if (na != nc || na != nf) {
            mismatches++;
            continue;
        }
        for (size_t k = 0; k < na; k++, total++) {
            TimeNs fu = churntrace_to_virtual(f[k].up_ns, 1262304000 * S, 1);
            TimeNs fd = churntrace_to_virtual(f[k].down_ns, 1262304000 * S, 1);
            mismatches += a[k].up_ns != c[k].up_ns || a[k].down_ns != c[k].down_ns ||
                          a[k].up_ns != fu || a[k].down_ns != fd;
        }
    }
    T_EQ_U64(mismatches, 0);
    T_CMP_I64(total, >, 250);
out:
    churntrace_free(av);
    churntrace_free(cs);
    churntrace_free(ft);
}

/* ---- gzip, windows, bad lines skipped ------------------------------------ */

/* text gzip-compressed; *len its length. Caller frees. */
static char *gzip_bytes(const char *text, size_t n, size_t *len)
{
    GZlibCompressor *z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
    GOutputStream *mem = g_memory_output_stream_new_resizable();
    GOutputStream *out = g_converter_output_stream_new(mem, G_CONVERTER(z));
    gsize w = 0;
    g_output_stream_write_all(out, text, n, &w, NULL, NULL);
    g_output_stream_close(out, NULL, NULL);
    *len = g_memory_output_stream_get_data_size(G_MEMORY_OUTPUT_STREAM(mem));
    char *data = g_memory_output_stream_steal_data(G_MEMORY_OUTPUT_STREAM(mem));
    g_object_unref(out);
    g_object_unref(mem);
    g_object_unref(z);
    return data;
}

/* Whether a and b hold the same nodes with the same intervals. */
static bool same_trace(const ChurnTrace *a, const ChurnTrace *b)
{
    if (churntrace_node_count(a) != churntrace_node_count(b)) return false;
    for (size_t i = 0; i < churntrace_node_count(a); i++) {
        size_t na, nb;
        const ChurnTraceInterval *x = churntrace_node_intervals(a, i, &na);
        const ChurnTraceInterval *y = churntrace_node_intervals(b, i, &nb);
        if (strcmp(churntrace_node_name(a, i), churntrace_node_name(b, i)) != 0 || na != nb ||
            (na && memcmp(x, y, na * sizeof *x) != 0))
            return false;
    }
    return true;
}

static void test_gzip_same_as_plain(void)
{
    char *p = trace_path("synthetic.fta");
    char *text = NULL;
    gsize n = 0;
    T_TRUE(g_file_get_contents(p, &text, &n, NULL));
    size_t zn = 0;
    char *z = text ? gzip_bytes(text, n, &zn) : NULL;
    T_CMP_I64(zn, <, n / 2); /* really compressed */
    GError *err = NULL;
    ChurnTrace *a = text ? churntrace_parse(text, n, "s.fta", SCENARIO_TRACE_FTA, NULL, &err) : NULL;
    ChurnTrace *b = z ? churntrace_parse(z, zn, "s.fta.gz", SCENARIO_TRACE_FTA, NULL, &err) : NULL;
    T_TRUE(a && b);
    if (a && b) {
        T_EQ_U64(churntrace_node_count(b), 250);
        T_TRUE(same_trace(a, b));
        T_EQ_U64(churntrace_stats(a)->intervals, churntrace_stats(b)->intervals);
    }
    /* A cut gzip stream is a read error, not a silently shorter trace. */
    ChurnTrace *c = z ? churntrace_parse(z, zn / 2, "cut.gz", SCENARIO_TRACE_FTA, NULL, &err) : NULL;
    T_TRUE(c == NULL);
    T_EQ_I64(err ? err->code : -1, CHURNTRACE_ERROR_READ);
    T_STR_CONTAINS(err ? err->message : NULL, "cut.gz: cannot read the trace (gzip): ");
    g_clear_error(&err);
    churntrace_free(a);
    churntrace_free(b);
    g_free(z);
    g_free(text);
    g_free(p);
}

/* The window keeps what overlaps the run; max_nodes keeps the driven nodes. */
static void test_window_and_max_nodes(void)
{
    const char *text = "a 0 10 20 30 50 60 100 110\nb 5 200\nc 0 1\n";
    ChurnTraceOptions o = churntrace_options_all();
    o.window = true;
    o.offset_ns = 15 * S; /* the run covers trace times 15 s to 15 + 80 / 2 = 55 s */
    o.scale = 2;
    o.end_ns = 80 * S;
    o.max_nodes = 2;
    GError *err = NULL;
    ChurnTrace *t = churntrace_parse(text, strlen(text), "w.avail", SCENARIO_TRACE_AVAIL, &o, &err);
    T_TRUE(t != NULL);
    if (!t) return;
    const TimeNs a[] = {20 * S, 30 * S, 50 * S, 60 * S}; /* [0,10) ends before, [100,110) starts after */
    const TimeNs b[] = {5 * S, 200 * S};                 /* spans the whole run */
    expect_node(t, 0, "a", 2, a);
    expect_node(t, 1, "b", 1, b);
    expect_node(t, 2, "c", 0, NULL); /* beyond max_nodes: named and counted only */
    const ChurnTraceStats *st = churntrace_stats(t);
    T_EQ_U64(st->intervals, 6);
    T_EQ_U64(st->kept, 3);
    T_EQ_U64(st->lines, 3);
    T_EQ_I64(st->first_ns, 0);
    T_EQ_I64(st->last_ns, 200 * S);
    churntrace_free(t);
}

/* on_error "skip": bad lines are counted, add no node, and the rest reads. */
static void test_skip_bad_lines(void)
{
    const char *text = "node,time,state\na,1,up\nx,1,sideways\nb,2,up\ny,zz,up\na,5,down\n";
    ChurnTraceOptions o = churntrace_options_all();
    o.skip_bad_lines = true;
    GError *err = NULL;
    ChurnTrace *t = churntrace_parse(text, strlen(text), "s.csv", SCENARIO_TRACE_CSV, &o, &err);
    T_TRUE(t != NULL);
    if (!t) return;
    T_EQ_U64(churntrace_node_count(t), 2);
    const TimeNs a[] = {1 * S, 5 * S};
    const TimeNs b[] = {2 * S, TIMENS_MAX};
    expect_node(t, 0, "a", 1, a);
    expect_node(t, 1, "b", 1, b);
    T_EQ_U64(churntrace_stats(t)->bad_lines, 2);
    T_EQ_U64(churntrace_stats(t)->first_bad_line, 3);
    churntrace_free(t);
    /* Without skip the first bad line is fatal. */
    t = churntrace_parse(text, strlen(text), "s.csv", SCENARIO_TRACE_CSV, NULL, &err);
    T_TRUE(t == NULL);
    T_STR_EQ(err ? err->message : NULL,
             "s.csv:3: field 3 (state): expected \"up\" or \"down\"; found \"sideways\"");
    g_clear_error(&err);
}

/* A NUL byte is a syntax error on its line. */
static void test_nul_byte(void)
{
    const char text[] = "a 1 2\nb 1\0 2\n";
    GError *err = NULL;
    ChurnTrace *t = churntrace_parse(text, sizeof text - 1, "n.avail", SCENARIO_TRACE_AVAIL, NULL, &err);
    T_TRUE(t == NULL);
    T_STR_EQ(err ? err->message : NULL, "n.avail:2:4: expected text; found a NUL byte (a binary file?)");
    g_clear_error(&err);
}

/* ---- a small world replaying good.avail ---------------------------------- */

typedef struct TWorld {
    Scenario *scn; /* owned */
    World *w;      /* owned */
} TWorld;

/* A world of `clients` public clients replaying good.avail with the given
 * churn.trace scale and offset; extra: more top-level JSON members or "". */
static bool tworld_new(TWorld *t, int clients, const char *scale, const char *offset,
                       const char *extra)
{
    char *dir = trace_path("");
    char *json = g_strdup_printf(
        "{\"seed\": 5, \"duration\": \"3min\", \"population\": {\"clients\": %d}, "
        "\"churn\": {\"model\": \"trace\", \"trace\": {\"file\": \"good.avail\", "
        "\"format\": \"avail\", \"scale\": %s, \"offset\": \"%s\"}}%s}",
        clients, scale, offset, extra);
    GError *err = NULL;
    t->w = NULL;
    t->scn = scenario_load_text(json, "test_churntrace", dir, &err);
    if (t->scn) t->w = world_new(scenario_spec_get(t->scn), EVQ_BUCKET, NULL, &err);
    if (err) fprintf(stderr, "%s\n", err->message);
    g_clear_error(&err);
    g_free(json);
    g_free(dir);
    return t->w != NULL;
}

static void tworld_free(TWorld *t)
{
    world_free(t->w);
    scenario_free(t->scn);
}

/* Probes: at each time (s), whether client 0 (node a) and 1 (node b) are online. */
typedef struct Probe {
    double at_s; /* virtual time, s */
    bool a, b;   /* expected online */
} Probe;

static void run_probes(TWorld *t, const Probe *p, size_t n)
{
    size_t c = world_first_client(t->w);
    for (size_t i = 0; i < n; i++) {
        world_run(t->w, timens_from_s(p[i].at_s));
        T_EQ_I64(world_peer_node(t->w, c) != NULL, p[i].a);
        T_EQ_I64(world_peer_node(t->w, c + 1) != NULL, p[i].b);
        T_TRUE(world_peer_node(t->w, c + 2) == NULL); /* node c: never up */
        T_TRUE(world_peer_node(t->w, c + 3) == NULL); /* beyond the trace */
    }
}

static void test_world_follows_trace(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, 4, "1", "0s", ""));
    if (!t.w) return;
    /* a: [10,30) [40,50.5) [60,70); b: [0,8) */
    static const Probe p[] = {
        {0.5, false, true},  {7.999, false, true}, {8.001, false, false}, {9.999, false, false},
        {10.001, true, false}, {29.999, true, false}, {30.001, false, false}, {45, true, false},
        {50.499, true, false}, {50.501, false, false}, {65, true, false}, {70.001, false, false},
        {170, false, false},
    };
    run_probes(&t, p, G_N_ELEMENTS(p));
    WorldStats st;
    world_stats(t.w, &st);
    T_EQ_U64(st.logins, 4);
    T_EQ_U64(st.logouts, 4);
    T_EQ_U64(st.crashes, 0);
    Metrics *m = world_metrics(t.w);
    T_EQ_I64(metrics_value(m, metrics_find(m, "churn.trace.nodes")), 3);
    T_EQ_I64(metrics_value(m, metrics_find(m, "churn.trace.clients_idle")), 1);
    tworld_free(&t);
}

/* scale 2, offset 5 s: a at [10,50) [70,91) [110,130); b's [-10,6) starts at 0. */
static void test_world_scale_offset(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, 2, "2", "5s", ""));
    if (!t.w) return;
    size_t c = world_first_client(t.w);
    static const double at[] = {1, 5.9, 6.1, 9.9, 10.1, 49.9, 50.1, 80, 91.1, 120, 130.1};
    static const bool a[] = {0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0};
    static const bool b[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        world_run(t.w, timens_from_s(at[i]));
        T_EQ_I64(world_peer_node(t.w, c) != NULL, a[i]);
        T_EQ_I64(world_peer_node(t.w, c + 1) != NULL, b[i]);
    }
    Metrics *m = world_metrics(t.w);
    T_EQ_I64(metrics_value(m, metrics_find(m, "churn.trace.nodes_ignored")), 1); /* node c */
    tworld_free(&t);
}

/* A scheduled crash at 20 s holds node a's client down until its next
 * interval (40 s); a login event at 35 s keeps it up until that interval's
 * end (50.5 s). Node b's client, with no interval left, stays up after it. */
static void test_world_trace_and_events(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, 2, "1", "0s",
                      ", \"events\": [{\"at\": \"20s\", \"action\": \"crash\", \"who\": \"clients\"},"
                      " {\"at\": \"35s\", \"action\": \"login\", \"who\": \"clients\"}]"));
    if (!t.w) return;
    size_t c = world_first_client(t.w);
    static const double at[] = {15, 20.5, 34.9, 35.1, 45, 50.4, 50.6, 65, 70.1};
    static const bool a[] = {1, 0, 0, 1, 1, 1, 0, 1, 0};
    /* b: logged in by the event with no interval left: stays up */
    static const bool b[] = {0, 0, 0, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        world_run(t.w, timens_from_s(at[i]));
        T_EQ_I64(world_peer_node(t.w, c) != NULL, a[i]);
        T_EQ_I64(world_peer_node(t.w, c + 1) != NULL, b[i]);
    }
    tworld_free(&t);
}

/* A bad trace is a world_new error naming file and line. */
static void test_world_bad_trace(void)
{
    char *dir = g_dir_make_tmp("skysim-trace-XXXXXX", NULL);
    char *file = g_build_filename(dir, "bad.csv", NULL);
    T_TRUE(g_file_set_contents(file, "node,time,state\na,1,up\na,2,sideways\n", -1, NULL));
    GError *err = NULL;
    Scenario *s = scenario_load_text("{\"population\": {\"clients\": 2}, \"churn\": {\"model\": "
                                     "\"trace\", \"trace\": {\"file\": \"bad.csv\"}}}",
                                     "bad_trace", dir, &err);
    T_TRUE(s != NULL);
    World *w = s ? world_new(scenario_spec_get(s), EVQ_BUCKET, NULL, &err) : NULL;
    T_TRUE(w == NULL);
    T_STR_CONTAINS(err ? err->message : NULL,
                   "bad.csv:3: field 3 (state): expected \"up\" or \"down\"; found \"sideways\"");
    g_clear_error(&err);
    world_free(w);
    scenario_free(s);
    g_remove(file);
    g_rmdir(dir);
    g_free(file);
    g_free(dir);
}

T_SUITE_MAIN("churntrace", {"fta good file", test_fta_good}, {"avail good file", test_avail_good},
             {"csv good file", test_csv_good}, {"bad lines", test_bad_lines},
             {"missing file", test_missing_file}, {"scale and offset", test_scale_offset},
             {"mapping counts", test_map_counts},
             {"synthetic formats agree", test_synthetic_formats_agree},
             {"gzip same as plain", test_gzip_same_as_plain},
             {"window and max nodes", test_window_and_max_nodes},
             {"skip bad lines", test_skip_bad_lines}, {"NUL byte", test_nul_byte},
             {"world follows the trace", test_world_follows_trace},
             {"world with scale and offset", test_world_scale_offset},
             {"world with trace and events", test_world_trace_and_events},
             {"world with a bad trace", test_world_bad_trace})
