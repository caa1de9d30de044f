/* churntrace: reading availability traces; see churntrace.h for the
 * formats. The file is streamed (GIO; gzip through GZlibDecompressor when
 * it starts with the gzip magic), one line at a time through a fixed
 * buffer: each line is split into fields, the fields checked, and the
 * node's raw interval kept only when the caller's window wants it (a
 * driven node, overlapping the run). At the end every node's kept
 * intervals are sorted and merged. Memory is thus the nodes plus the kept
 * intervals, whatever the length of the file. */
#include "sim/world/churntrace.h"

#include <errno.h>
#include <gio/gio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base/check.h"

#define CT_CHUNK ((size_t)64 << 10)     /* bytes read from the stream at a time */
#define CT_LINE_MAX ((size_t)16 << 20)  /* bytes of one line (an avail line holds a node's sessions) */
#define CT_BAD_SHOWN 5                  /* skipped lines reported one by one; the rest counted */

G_DEFINE_QUARK(skysim-churntrace-error-quark, churntrace_error)

#define CHURNTRACE_FTA_FIELDS 9 /* columns of the FTA event_trace table */

struct ChurnTrace {
    GPtrArray *names;      /* node names (char *, owned), by node index */
    GPtrArray *intervals;  /* GArray of ChurnTraceInterval per node (owned; NULL beyond
                              max_nodes), by node index */
    ChurnTraceStats stats; /* what reading found */
};

/* State while parsing one file. */
typedef struct CtParse {
    ChurnTrace *t;       /* trace being built (owned until returned) */
    GHashTable *index;   /* node name (borrowed from t->names) -> index + 1 */
    GArray *csv_state;   /* csv: per node, a CtCsvNode */
    const char *name;    /* file name for messages (borrowed) */
    ChurnTraceOptions o; /* what to keep, what to do with a bad line */
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

/* Frees a node's interval array; NULL (a node beyond max_nodes) is fine. */
static void ct_array_unref(gpointer a)
{
    if (a) g_array_unref(a);
}

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
    size_t i = p->t->names->len;
    g_ptr_array_add(p->t->names, copy);
    g_ptr_array_add(p->t->intervals,
                    i < p->o.max_nodes ? g_array_new(FALSE, FALSE, sizeof(ChurnTraceInterval)) : NULL);
    g_hash_table_insert(p->index, copy, GSIZE_TO_POINTER(i + 1));
    if (p->csv_state) g_array_set_size(p->csv_state, p->t->names->len);
    return i;
}

/* Whether the interval [up, down) of trace time matters to the run: it
 * ends after virtual time 0 and starts no later than the end. */
static bool ct_in_window(const ChurnTraceOptions *o, TimeNs up, TimeNs down)
{
    if (!o->window) return true;
    return churntrace_to_virtual(down, o->offset_ns, o->scale) > 0 &&
           churntrace_to_virtual(up, o->offset_ns, o->scale) <= o->end_ns;
}

/* Counts an up interval of node, and keeps it when the window wants it. */
static void ct_add(CtParse *p, size_t node, TimeNs up, TimeNs down)
{
    ChurnTraceStats *st = &p->t->stats;
    TimeNs end = down == TIMENS_MAX ? up : down; /* the last finite time */
    st->first_ns = st->intervals == 0 ? up : MIN(st->first_ns, up);
    st->last_ns = st->intervals == 0 ? end : MAX(st->last_ns, end);
    st->intervals++;
    GArray *iv = g_ptr_array_index(p->t->intervals, node);
    if (!iv || down <= up || !ct_in_window(&p->o, up, down)) return;
    ChurnTraceInterval v = {.up_ns = up, .down_ns = down};
    g_array_append_val(iv, v);
    st->kept++;
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

/* Checks that the node token is not empty. */
static bool ct_node_token(CtParse *p, const char *text, const char *what)
{
    if (text[0] == '\0') return ct_fail(p, "%s: expected a node name; found an empty field", what);
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
        ok = ct_node_token(p, f[2], "field 3 (node_id)") &&
             ct_time(p, f[6], "field 7 (event_start_time)", &a) &&
             ct_time(p, f[7], "field 8 (event_stop_time)", &b);
        if (ok && b < a)
            ok = ct_fail(p, "field 8 (event_stop_time): expected a time >= event_start_time (%s); "
                            "found \"%s\"", f[6], f[7]);
        if (ok) {
            size_t node = ct_node(p, f[2]); /* a bad line adds no node */
            if (f[5][0] == '1') ct_add(p, node, a, b);
        }
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
    size_t times = tok->len - 1;
    bool ok = times % 2 == 0 ||
              ct_fail(p, "expected `node t_up t_down ...` with pairs of times; found %zu times",
                      times);
    GArray *pairs = g_array_new(FALSE, FALSE, sizeof(TimeNs));
    for (size_t k = 1; ok && k < tok->len; k += 2) {
        TimeNs ab[2];
        const char *ta = g_ptr_array_index(tok, k), *tb = g_ptr_array_index(tok, k + 1);
        char wa[48], wb[48];
        g_snprintf(wa, sizeof wa, "field %zu (t_up)", k + 1);
        g_snprintf(wb, sizeof wb, "field %zu (t_down)", k + 2);
        ok = ct_time(p, ta, wa, &ab[0]) && ct_time(p, tb, wb, &ab[1]);
        if (ok && ab[1] < ab[0])
            ok = ct_fail(p, "%s: expected a time >= t_up (%s); found \"%s\"", wb, ta, tb);
        if (ok) g_array_append_vals(pairs, ab, 2);
    }
    if (ok) { /* a bad line adds no node */
        size_t node = ct_node(p, g_ptr_array_index(tok, 0));
        const TimeNs *v = (const TimeNs *)(void *)pairs->data;
        for (guint k = 0; k + 1 < pairs->len; k += 2) ct_add(p, node, v[k], v[k + 1]);
    }
    g_array_free(pairs, TRUE);
    g_ptr_array_free(tok, TRUE);
    g_strfreev(raw);
    return ok;
}

/* ---- CSV events --------------------------------------------------------- */

static bool ct_csv_event(CtParse *p, const char *name, TimeNs t, bool up, const char *time_text)
{
    gpointer known = g_hash_table_lookup(p->index, name);
    CtCsvNode *s = known ? &g_array_index(p->csv_state, CtCsvNode, GPOINTER_TO_SIZE(known) - 1) : NULL;
    if (s && s->last_line && t < s->last_ns)
        return ct_fail(p, "field 2 (time): expected a time >= %.9g (node %s's previous event, "
                          "line %zu); found \"%s\"",
                       timens_to_s(s->last_ns), name, s->last_line, time_text);
    size_t node = ct_node(p, name); /* a bad line adds no node */
    s = &g_array_index(p->csv_state, CtCsvNode, node);
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
        ok = ct_node_token(p, f[0], "field 1 (node)") && ct_time(p, f[1], "field 2 (time)", &t) &&
             ct_csv_event(p, f[0], t, f[2][0] == 'u', f[1]);
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
    if (!iv) return;
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

/* ---- streaming ---------------------------------------------------------- */

/* Lines of a stream, through a fixed buffer. */
typedef struct CtReader {
    GInputStream *in; /* owned */
    char *buf;        /* CT_CHUNK bytes, owned */
    size_t len, pos;  /* bytes in buf, bytes of them consumed */
    bool eof;         /* the stream ended */
    bool gzip;        /* in is a gzip decompressor */
    GString *line;    /* the current line, without its newline */
} CtReader;

/* Sets the read error "<name>: cannot read the trace[ (gzip)]: <why>". */
static void ct_read_error(GError **err, const char *name, bool gzip, const char *why)
{
    g_set_error(err, CHURNTRACE_ERROR, CHURNTRACE_ERROR_READ, "%s: cannot read the trace%s: %s", name,
                gzip ? " (gzip)" : "", why);
}

/* Reads the next line into r->line. Returns 1 (a line), 0 (end of the
 * stream) or -1 (err set: a read or gzip error, or a line too long). */
static int ct_reader_line(CtReader *r, CtParse *p, GError **err)
{
    g_string_truncate(r->line, 0);
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof) return r->line->len ? 1 : 0;
            GError *e = NULL;
            gssize n = g_input_stream_read(r->in, r->buf, CT_CHUNK, NULL, &e);
            if (n < 0) {
                ct_read_error(err, p->name, r->gzip, e->message);
                g_error_free(e);
                return -1;
            }
            r->eof = n == 0;
            r->len = (size_t)n;
            r->pos = 0;
            continue;
        }
        const char *at = r->buf + r->pos;
        const char *nl = memchr(at, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - at) : r->len - r->pos;
        if (r->line->len + take > CT_LINE_MAX) {
            p->line++;
            g_set_error(err, CHURNTRACE_ERROR, CHURNTRACE_ERROR_SYNTAX,
                        "%s:%zu: expected a line of at most %zu bytes; found a longer one", p->name,
                        p->line, CT_LINE_MAX);
            return -1;
        }
        g_string_append_len(r->line, at, (gssize)take);
        r->pos += take + (nl != NULL);
        if (nl) return 1;
    }
}

/* Wraps raw (taken) in a buffer, and in a gzip decompressor when it starts
 * with the gzip magic bytes 1f 8b. Returns the stream (owned) or NULL. */
static GInputStream *ct_stream(GInputStream *raw, const char *name, bool *gzip, GError **err)
{
    GInputStream *b = g_buffered_input_stream_new(raw);
    g_object_unref(raw);
    GError *e = NULL;
    if (g_buffered_input_stream_fill(G_BUFFERED_INPUT_STREAM(b), 2, NULL, &e) < 0) {
        ct_read_error(err, name, false, e->message);
        g_error_free(e);
        g_object_unref(b);
        return NULL;
    }
    gsize n = 0;
    const guint8 *head = g_buffered_input_stream_peek_buffer(G_BUFFERED_INPUT_STREAM(b), &n);
    *gzip = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (!*gzip) return b;
    GZlibDecompressor *z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP);
    GInputStream *c = g_converter_input_stream_new(b, G_CONVERTER(z));
    g_object_unref(z);
    g_object_unref(b);
    return c;
}

/* Reports a bad line that is skipped: the first few one by one. */
static void ct_skip_line(CtParse *p, GError *e)
{
    ChurnTraceStats *st = &p->t->stats;
    if (st->bad_lines == 0) st->first_bad_line = p->line;
    st->bad_lines++;
    if (st->bad_lines <= CT_BAD_SHOWN)
        g_warning("%s (line skipped: churn.trace.on_error is \"skip\")%s", e->message,
                  st->bad_lines == CT_BAD_SHOWN ? "; further bad lines are only counted" : "");
}

/* Reads every line of stream (taken). */
static ChurnTrace *ct_read(GInputStream *raw, const char *name, ScenarioTraceFormat fmt,
                           const ChurnTraceOptions *o, GError **err)
{
    bool gzip = false;
    GInputStream *in = ct_stream(raw, name, &gzip, err);
    if (!in) return NULL;
    ChurnTrace *t = g_new0(ChurnTrace, 1);
    t->names = g_ptr_array_new_with_free_func(g_free);
    t->intervals = g_ptr_array_new_with_free_func(ct_array_unref);
    GError *local = NULL;
    CtParse p = {.t = t, .index = g_hash_table_new(g_str_hash, g_str_equal), .name = name,
                 .o = o ? *o : churntrace_options_all(), .err = &local};
    if (fmt == SCENARIO_TRACE_CSV) p.csv_state = g_array_new(FALSE, TRUE, sizeof(CtCsvNode));
    CtReader r = {.in = in, .buf = g_malloc(CT_CHUNK), .gzip = gzip, .line = g_string_new(NULL)};
    bool ok = true;
    int got;
    while (ok && (got = ct_reader_line(&r, &p, &local)) == 1) {
        p.line++;
        char *line = r.line->str;
        size_t l = r.line->len; /* only a CR goes: an FTA line may end in an empty field */
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        const char *nul = memchr(line, '\0', l);
        if (nul) /* file:line:column, as for other text files */
            g_set_error(&local, CHURNTRACE_ERROR, CHURNTRACE_ERROR_SYNTAX,
                        "%s:%zu:%zu: expected text; found a NUL byte%s", name, p.line,
                        (size_t)(nul - line) + 1, gzip ? "" : " (a binary file?)");
        if (nul)
            ok = false;
        else if (!ct_skip(line))
            ok = ct_line(&p, line, fmt);
        if (!ok && p.o.skip_bad_lines && local->code == CHURNTRACE_ERROR_SYNTAX) {
            ct_skip_line(&p, local);
            g_clear_error(&local);
            ok = true;
        }
    }
    if (ok && got < 0) ok = false;
    t->stats.lines = p.line;
    if (ok && fmt == SCENARIO_TRACE_CSV) ct_csv_finish(&p);
    for (guint i = 0; ok && i < t->intervals->len; i++) ct_normalise(g_ptr_array_index(t->intervals, i));
    g_string_free(r.line, TRUE);
    g_free(r.buf);
    g_object_unref(in);
    g_hash_table_destroy(p.index);
    if (p.csv_state) g_array_free(p.csv_state, TRUE);
    if (!ok) {
        g_propagate_error(err, local);
        churntrace_free(t);
        return NULL;
    }
    return t;
}

ChurnTraceOptions churntrace_options_all(void)
{
    return (ChurnTraceOptions){.max_nodes = SIZE_MAX, .scale = 1, .end_ns = TIMENS_MAX};
}

ChurnTrace *churntrace_parse(const char *text, size_t len, const char *name,
                             ScenarioTraceFormat fmt, const ChurnTraceOptions *o, GError **err)
{
    GInputStream *in = g_memory_input_stream_new_from_data(text, (gssize)len, NULL);
    return ct_read(in, name, fmt, o, err);
}

ChurnTrace *churntrace_load(const char *path, ScenarioTraceFormat fmt, const ChurnTraceOptions *o,
                            GError **err)
{
    GFile *f = g_file_new_for_path(path);
    GError *e = NULL;
    GFileInputStream *in = g_file_read(f, NULL, &e);
    g_object_unref(f);
    if (!in) {
        int code = g_error_matches(e, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)           ? ENOENT
                   : g_error_matches(e, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ? EACCES
                   : g_error_matches(e, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY)      ? EISDIR
                                                                                  : 0;
        ct_read_error(err, path, false, code ? g_strerror(code) : e->message);
        g_error_free(e);
        return NULL;
    }
    return ct_read(G_INPUT_STREAM(in), path, fmt, o, err);
}

const ChurnTraceStats *churntrace_stats(const ChurnTrace *t) { return &t->stats; }

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
    *n = iv ? iv->len : 0;
    return *n ? (const ChurnTraceInterval *)(void *)iv->data : NULL;
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
