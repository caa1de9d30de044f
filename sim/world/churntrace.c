/* churntrace: reading availability traces; see churntrace.h for the
 * formats. Parsing is line by line: each line is split into fields, the
 * fields checked, and the node's raw intervals appended; at the end every
 * node's intervals are sorted and merged. */
#include "sim/world/churntrace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/world/jsonin.h"

#define CHURNTRACE_FILE_MAX ((size_t)256 << 20) /* bytes of a trace file */

G_DEFINE_QUARK(skysim-churntrace-error-quark, churntrace_error)

#define CHURNTRACE_FTA_FIELDS 9 /* columns of the FTA event_trace table */

struct ChurnTrace {
    GPtrArray *names;     /* node names (char *, owned), by node index */
    GPtrArray *intervals; /* GArray of ChurnTraceInterval per node (owned), by node index */
};

/* State while parsing one file. */
typedef struct CtParse {
    ChurnTrace *t;       /* trace being built (owned until returned) */
    GHashTable *index;   /* node name (borrowed from t->names) -> index + 1 */
    GArray *csv_state;   /* csv: per node, a CtCsvNode */
    const char *name;    /* file name for messages (borrowed) */
    size_t line;         /* current line number, from 1 */
    bool header_seen;    /* csv: the header line was read */
    GError **err;        /* where errors go (borrowed) */
} CtParse;

/* csv: the replay state of one node. */
typedef struct CtCsvNode {
    bool up;         /* an interval is open */
    TimeNs up_ns;    /* start of the open interval, ns trace time */
    TimeNs last_ns;  /* time of the node's last event, ns trace time */
    size_t last_line; /* line of the node's last event; 0: none yet */
} CtCsvNode;

/* ---- helpers ------------------------------------------------------------ */

static bool ct_fail(CtParse *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Sets the error "<file>:<line>: <message>"; returns false. */
static bool ct_fail(CtParse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(p->err, CHURNTRACE_ERROR, CHURNTRACE_ERROR_SYNTAX, "%s:%zu: %s", p->name, p->line,
                msg);
    g_free(msg);
    return false;
}

/* Index of node `name`, added when new. name: copied. */
static size_t ct_node(CtParse *p, const char *name)
{
    gpointer v = g_hash_table_lookup(p->index, name);
    if (v) return GPOINTER_TO_SIZE(v) - 1;
    char *copy = g_strdup(name);
    g_ptr_array_add(p->t->names, copy);
    g_ptr_array_add(p->t->intervals, g_array_new(FALSE, FALSE, sizeof(ChurnTraceInterval)));
    size_t i = p->t->names->len - 1;
    g_hash_table_insert(p->index, copy, GSIZE_TO_POINTER(i + 1));
    if (p->csv_state) g_array_set_size(p->csv_state, p->t->names->len);
    return i;
}

static void ct_add(CtParse *p, size_t node, TimeNs up, TimeNs down)
{
    ChurnTraceInterval iv = {.up_ns = up, .down_ns = down};
    g_array_append_val(g_ptr_array_index(p->t->intervals, node), iv);
}

/* Whether text is a plain decimal number of seconds. */
static bool ct_is_number(const char *text)
{
    char *end = NULL;
    TimeNs t;
    errno = 0;
    (void)g_ascii_strtod(text, &end); /* a plain number: no unit letters */
    return text[0] != '\0' && *end == '\0' && !errno && timens_parse(text, TIMENS_S, &t, NULL);
}

/* Parses field `what` as seconds into *out. */
static bool ct_time(CtParse *p, const char *text, const char *what, TimeNs *out)
{
    if (!ct_is_number(text) || !timens_parse(text, TIMENS_S, out, NULL))
        return ct_fail(p, "%s: expected a time in seconds; found \"%s\"", what, text);
    return true;
}

/* Parses the non-empty node token. */
static bool ct_node_token(CtParse *p, const char *text, const char *what, size_t *node)
{
    if (text[0] == '\0') return ct_fail(p, "%s: expected a node name; found an empty field", what);
    *node = ct_node(p, text);
    return true;
}

/* ---- FTA event_trace ---------------------------------------------------- */

static bool ct_line_fta(CtParse *p, char *line)
{
    char **f = g_strsplit(line, "\t", -1);
    guint n = g_strv_length(f);
    bool ok = false;
    for (guint i = 0; i < n; i++) g_strstrip(f[i]);
    if (n >= 1 && strcmp(f[0], "event_id") == 0) {
        ok = true; /* header line */
    } else if (n != CHURNTRACE_FTA_FIELDS) {
        ct_fail(p, "expected 9 tab-separated fields (event_id, component_id, node_id, "
                   "platform_id, node_name, event_type, event_start_time, event_stop_time, "
                   "event_end_reason); found %u", n);
    } else if (strcmp(f[5], "0") != 0 && strcmp(f[5], "1") != 0) {
        ct_fail(p, "field 6 (event_type): expected 0 (unavailable) or 1 (available); found \"%s\"",
                f[5]);
    } else {
        TimeNs a, b;
        size_t node;
        ok = ct_node_token(p, f[2], "field 3 (node_id)", &node) &&
             ct_time(p, f[6], "field 7 (event_start_time)", &a) &&
             ct_time(p, f[7], "field 8 (event_stop_time)", &b);
        if (ok && b < a)
            ok = ct_fail(p, "field 8 (event_stop_time): expected a time >= event_start_time (%s); "
                            "found \"%s\"", f[6], f[7]);
        if (ok && f[5][0] == '1') ct_add(p, node, a, b);
    }
    g_strfreev(f);
    return ok;
}

/* ---- availability lines ------------------------------------------------- */

static bool ct_line_avail(CtParse *p, char *line)
{
    char **raw = g_strsplit_set(line, " \t", -1);
    GPtrArray *tok = g_ptr_array_new();
    for (char **s = raw; *s; s++)
        if (**s) g_ptr_array_add(tok, *s);
    size_t node = ct_node(p, g_ptr_array_index(tok, 0));
    size_t times = tok->len - 1;
    bool ok = times % 2 == 0 ||
              ct_fail(p, "expected `node t_up t_down ...` with pairs of times; found %zu times",
                      times);
    for (size_t k = 1; ok && k < tok->len; k += 2) {
        TimeNs a, b;
        const char *ta = g_ptr_array_index(tok, k), *tb = g_ptr_array_index(tok, k + 1);
        char wa[48], wb[48];
        g_snprintf(wa, sizeof wa, "field %zu (t_up)", k + 1);
        g_snprintf(wb, sizeof wb, "field %zu (t_down)", k + 2);
        ok = ct_time(p, ta, wa, &a) && ct_time(p, tb, wb, &b);
        if (ok && b < a) ok = ct_fail(p, "%s: expected a time >= t_up (%s); found \"%s\"", wb, ta, tb);
        if (ok) ct_add(p, node, a, b);
    }
    g_ptr_array_free(tok, TRUE);
    g_strfreev(raw);
    return ok;
}

/* ---- CSV events --------------------------------------------------------- */

static bool ct_csv_event(CtParse *p, size_t node, TimeNs t, bool up, const char *time_text)
{
    CtCsvNode *s = &g_array_index(p->csv_state, CtCsvNode, node);
    if (s->last_line && t < s->last_ns)
        return ct_fail(p, "field 2 (time): expected a time >= %.9g (node %s's previous event, "
                          "line %zu); found \"%s\"",
                       timens_to_s(s->last_ns), (const char *)g_ptr_array_index(p->t->names, node),
                       s->last_line, time_text);
    s->last_ns = t;
    s->last_line = p->line;
    if (up && !s->up) {
        s->up = true;
        s->up_ns = t;
    } else if (!up && s->up) {
        s->up = false;
        ct_add(p, node, s->up_ns, t);
    }
    return true;
}

static bool ct_line_csv(CtParse *p, char *line)
{
    char **f = g_strsplit(line, ",", -1);
    guint n = g_strv_length(f);
    for (guint i = 0; i < n; i++) g_strstrip(f[i]);
    bool ok;
    TimeNs t;
    size_t node;
    if (!p->header_seen) {
        p->header_seen = true;
        ok = (n == 3 && !ct_is_number(f[1])) ||
             ct_fail(p, "expected a header line of three fields (node,time,state); found \"%s\"",
                     line);
    } else if (n != 3) {
        ok = ct_fail(p, "expected 3 comma-separated fields (node,time,state); found %u", n);
    } else if (strcmp(f[2], "up") != 0 && strcmp(f[2], "down") != 0) {
        ok = ct_fail(p, "field 3 (state): expected \"up\" or \"down\"; found \"%s\"", f[2]);
    } else {
        ok = ct_node_token(p, f[0], "field 1 (node)", &node) &&
             ct_time(p, f[1], "field 2 (time)", &t) &&
             ct_csv_event(p, node, t, f[2][0] == 'u', f[1]);
    }
    g_strfreev(f);
    return ok;
}

/* Closes the intervals still open at the end of a csv file. */
static void ct_csv_finish(CtParse *p)
{
    for (size_t i = 0; i < p->csv_state->len; i++) {
        CtCsvNode *s = &g_array_index(p->csv_state, CtCsvNode, i);
        if (s->up) ct_add(p, i, s->up_ns, TIMENS_MAX);
    }
}

/* ---- sorting and merging ------------------------------------------------ */

static gint ct_cmp(gconstpointer a, gconstpointer b)
{
    const ChurnTraceInterval *x = a, *y = b;
    if (x->up_ns != y->up_ns) return x->up_ns < y->up_ns ? -1 : 1;
    return x->down_ns < y->down_ns ? -1 : x->down_ns > y->down_ns;
}

/* Sorts iv, merges overlapping and touching intervals, drops empty ones. */
static void ct_normalise(GArray *iv)
{
    g_array_sort(iv, ct_cmp);
    guint out = 0;
    for (guint i = 0; i < iv->len; i++) {
        ChurnTraceInterval c = g_array_index(iv, ChurnTraceInterval, i);
        if (c.down_ns <= c.up_ns) continue;
        ChurnTraceInterval *last = out ? &g_array_index(iv, ChurnTraceInterval, out - 1) : NULL;
        if (last && c.up_ns <= last->down_ns) {
            if (c.down_ns > last->down_ns) last->down_ns = c.down_ns;
        } else {
            g_array_index(iv, ChurnTraceInterval, out++) = c;
        }
    }
    g_array_set_size(iv, out);
}

/* ---- public ------------------------------------------------------------- */

static bool ct_line(CtParse *p, char *line, ScenarioTraceFormat fmt)
{
    switch (fmt) {
    case SCENARIO_TRACE_FTA: return ct_line_fta(p, line);
    case SCENARIO_TRACE_AVAIL: return ct_line_avail(p, line);
    case SCENARIO_TRACE_CSV: return ct_line_csv(p, line);
    }
    CHECK(false, "unknown trace format %d", (int)fmt);
    return false;
}

/* Whether a line carries nothing: blank or a '#' comment. */
static bool ct_skip(const char *line)
{
    while (*line == ' ' || *line == '\t') line++;
    return *line == '\0' || *line == '#';
}

ChurnTrace *churntrace_parse(const char *text, size_t len, const char *name,
                             ScenarioTraceFormat fmt, GError **err)
{
    ChurnTrace *t = g_new0(ChurnTrace, 1);
    t->names = g_ptr_array_new_with_free_func(g_free);
    t->intervals = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    GError *local = NULL;
    CtParse p = {.t = t, .index = g_hash_table_new(g_str_hash, g_str_equal), .name = name,
                 .err = &local};
    if (fmt == SCENARIO_TRACE_CSV) p.csv_state = g_array_new(FALSE, TRUE, sizeof(CtCsvNode));
    char *copy = g_strndup(text, len);
    char **lines = g_strsplit(copy, "\n", -1);
    bool ok = true;
    for (size_t i = 0; ok && lines[i]; i++) {
        p.line = i + 1;
        size_t l = strlen(lines[i]); /* only a CR goes: an FTA line may end in an empty field */
        if (l && lines[i][l - 1] == '\r') lines[i][l - 1] = '\0';
        if (!ct_skip(lines[i])) ok = ct_line(&p, lines[i], fmt);
    }
    if (ok && fmt == SCENARIO_TRACE_CSV) ct_csv_finish(&p);
    for (guint i = 0; ok && i < t->intervals->len; i++) ct_normalise(g_ptr_array_index(t->intervals, i));
    g_strfreev(lines);
    g_free(copy);
    g_hash_table_destroy(p.index);
    if (p.csv_state) g_array_free(p.csv_state, TRUE);
    if (!ok) {
        g_propagate_error(err, local);
        churntrace_free(t);
        return NULL;
    }
    return t;
}

ChurnTrace *churntrace_load(const char *path, ScenarioTraceFormat fmt, GError **err)
{
    size_t len = 0; /* capped, and no NUL byte (jsonin_read_file) */
    char *text = jsonin_read_file(path, CHURNTRACE_FILE_MAX, " the trace",
                                  (JsoninErr){CHURNTRACE_ERROR, CHURNTRACE_ERROR_READ}, &len, err);
    if (!text) return NULL;
    ChurnTrace *t = churntrace_parse(text, len, path, fmt, err);
    g_free(text);
    return t;
}

void churntrace_free(ChurnTrace *t)
{
    if (!t) return;
    g_ptr_array_free(t->intervals, TRUE);
    g_ptr_array_free(t->names, TRUE);
    g_free(t);
}

size_t churntrace_node_count(const ChurnTrace *t) { return t->names->len; }

const char *churntrace_node_name(const ChurnTrace *t, size_t i)
{
    CHECK(i < t->names->len, "node %zu of %u", i, t->names->len);
    return g_ptr_array_index(t->names, i);
}

const ChurnTraceInterval *churntrace_node_intervals(const ChurnTrace *t, size_t i, size_t *n)
{
    CHECK(i < t->intervals->len, "node %zu of %u", i, t->intervals->len);
    GArray *iv = g_ptr_array_index(t->intervals, i);
    *n = iv->len;
    return iv->len ? (const ChurnTraceInterval *)(void *)iv->data : NULL;
}

TimeNs churntrace_to_virtual(TimeNs trace_ns, TimeNs offset_ns, double scale)
{
    CHECK(scale > 0, "scale %g", scale);
    if (trace_ns == TIMENS_MAX) return TIMENS_MAX;
    TimeNs d = timens_add_sat(trace_ns, offset_ns == TIMENS_MIN_VALUE ? TIMENS_MAX : -offset_ns);
    if (scale == 1.0) return d;
    double v = nearbyint((double)d * scale);
    if (v >= 9.2e18) return TIMENS_MAX;
    if (v <= -9.2e18) return TIMENS_MIN_VALUE;
    return (TimeNs)v;
}

void churntrace_map_counts(const ChurnTrace *t, uint64_t clients, ChurnTraceMapCounts *out)
{
    uint64_t nodes = churntrace_node_count(t);
    out->driven = MIN(nodes, clients);
    out->idle_clients = clients - out->driven;
    out->ignored_nodes = nodes - out->driven;
}
