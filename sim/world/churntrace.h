/* churntrace: node availability traces read into per-node up intervals.
 *
 * Layer: sim/world (GLib only). Replays churn traces (scenarios/README.md, churn.trace). The world replays a trace
 * with churn model "trace" (scenarios/README.md, `churn.trace`). Three
 * text formats are read; in all of them blank lines and lines starting
 * with '#' are skipped, times are seconds (a decimal number, parsed exactly
 * to the nanosecond by timens_parse) and nodes are named by a token:
 *
 *  - SCENARIO_TRACE_FTA: the Failure Trace Archive's event_trace table, one
 *    event a line, nine tab-separated fields: event_id, component_id,
 *    node_id, platform_id, node_name, event_type, event_start_time,
 *    event_stop_time, event_end_reason (the FTA format page,
 *    fta.scem.uws.edu.au "FTAFormat", and Kondo et al., "The Failure Trace
 *    Archive", CCGrid 2010). event_type 1 is an availability (up) interval
 *    [start, stop), 0 an unavailability interval (checked, not used);
 *    times are epoch seconds. The node is node_id; every component of a
 *    node counts (the union of their up intervals). A header line whose
 *    first field is "event_id" is skipped; event_end_reason may be empty.
 *  - SCENARIO_TRACE_AVAIL: one line per node, whitespace-separated:
 *    `node t_up1 t_down1 t_up2 t_down2 ...` (the availability-trace layout
 *    of the Skype supernode trace of Guha et al. and of KAD traces); a node
 *    with no pairs is a trace node that is never up. A node on several
 *    lines gets the union of its intervals.
 *  - SCENARIO_TRACE_CSV: a header line of three fields (e.g.
 *    `node,time,state`), then `node,time,up|down` lines. Each node's events
 *    must be in non-decreasing time order (nodes may interleave). An "up"
 *    opens an interval and the next "down" closes it; a repeated state and
 *    a "down" before any "up" change nothing; an interval still open at the
 *    end of the file lasts forever (TIMENS_MAX).
 *
 * A file that starts with the gzip magic bytes is decompressed on the fly
 * (whatever its name). The file is streamed a line at a time and only the
 * intervals the caller keeps (ChurnTraceOptions: the driven nodes, the
 * run's window) are stored, so memory depends on the nodes and the run,
 * not on the length of the file.
 *
 * Result: each node's kept intervals sorted, non-overlapping and non-empty
 * (overlapping and touching intervals merged, empty ones dropped). Nodes
 * are numbered in order of first appearance in a good line of the file.
 *
 * Errors are input errors (STYLE.md §4), one line naming file and line:
 *   traces/x.csv:7: field 3 (state): expected "up" or "down"; found "online"
 * With skip_bad_lines a malformed line is skipped instead: the first few are
 * logged as warnings with their line, all are counted (ChurnTraceStats).
 * Read errors (a missing file, a corrupt gzip stream) stay fatal.
 */
#ifndef SKYSIM_CHURNTRACE_H
#define SKYSIM_CHURNTRACE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/world/scenario.h"

#define CHURNTRACE_ERROR (churntrace_error_quark())
GQuark churntrace_error_quark(void);
enum {
    CHURNTRACE_ERROR_READ,  /* the file could not be read */
    CHURNTRACE_ERROR_SYNTAX /* a malformed line */
};

typedef struct ChurnTrace ChurnTrace;

/* An up interval [up, down). */
typedef struct ChurnTraceInterval {
    TimeNs up_ns;   /* start, ns of trace time (or virtual time) */
    TimeNs down_ns; /* end, ns, > up_ns; TIMENS_MAX: never ends */
} ChurnTraceInterval;

/* How trace nodes map onto clients: the i-th trace node (in order of first
 * appearance) drives the i-th client; the rest of either side is unused. */
typedef struct ChurnTraceMapCounts {
    uint64_t driven;        /* clients driven by a trace node */
    uint64_t idle_clients;  /* clients beyond the trace's nodes: stay offline */
    uint64_t ignored_nodes; /* trace nodes beyond the clients: ignored */
} ChurnTraceMapCounts;

/* What a reader keeps and how it treats bad lines. */
typedef struct ChurnTraceOptions {
    size_t max_nodes;    /* intervals are kept for the first max_nodes nodes only (the
                            driven clients); later nodes are counted and named */
    bool window;         /* keep only intervals overlapping the run: ending after virtual
                            time 0 and starting no later than end_ns; false: keep all */
    TimeNs offset_ns;    /* window: churn.trace.offset (churntrace_to_virtual) */
    double scale;        /* window: churn.trace.scale, > 0 */
    TimeNs end_ns;       /* window: the run's end, ns of virtual time */
    bool skip_bad_lines; /* skip (and count) malformed lines instead of failing */
} ChurnTraceOptions;

/* Keep every interval of every node, fail on the first bad line. */
ChurnTraceOptions churntrace_options_all(void);

/* What reading found; every count covers the whole file. */
typedef struct ChurnTraceStats {
    uint64_t lines;        /* lines read */
    uint64_t intervals;    /* up intervals read (before merging), every node */
    uint64_t kept;         /* of them non-empty and kept (driven node, inside the window) */
    uint64_t bad_lines;    /* malformed lines skipped (skip_bad_lines) */
    size_t first_bad_line; /* line number of the first of them; 0: none */
    TimeNs first_ns;       /* earliest start of an up interval, trace time; intervals > 0 */
    TimeNs last_ns;        /* latest finite start or end of an up interval, trace time */
} ChurnTraceStats;

/* Reads the trace file at path (borrowed; gzip or plain) in format fmt,
 * keeping what o (borrowed; NULL: churntrace_options_all()) asks for.
 * Returns a new trace (caller owns; churntrace_free) or NULL with err set. */
ChurnTrace *churntrace_load(const char *path, ScenarioTraceFormat fmt, const ChurnTraceOptions *o,
                            GError **err);

/* Parses text (len bytes, borrowed; gzip or plain) as if it were the file
 * `name` (used in messages only). Same result and errors as
 * churntrace_load(). */
ChurnTrace *churntrace_parse(const char *text, size_t len, const char *name,
                             ScenarioTraceFormat fmt, const ChurnTraceOptions *o, GError **err);

/* What reading t found; borrowed from t. */
const ChurnTraceStats *churntrace_stats(const ChurnTrace *t);

void churntrace_free(ChurnTrace *t); /* NULL is a no-op */

/* Number of distinct trace nodes. */
size_t churntrace_node_count(const ChurnTrace *t);

/* Name of node i (< count) as written in the file; borrowed from t. */
const char *churntrace_node_name(const ChurnTrace *t, size_t i);

/* Kept intervals of node i (< count), in trace time: *n of them, sorted
 * and disjoint (none for a node beyond max_nodes). Returns a pointer
 * borrowed from t (NULL when *n is 0). */
const ChurnTraceInterval *churntrace_node_intervals(const ChurnTrace *t, size_t i, size_t *n);

/* Virtual time of trace time trace_ns: (trace - offset) * scale, rounded to
 * the nanosecond and saturated; TIMENS_MAX stays TIMENS_MAX. scale > 0. */
TimeNs churntrace_to_virtual(TimeNs trace_ns, TimeNs offset_ns, double scale);

/* The mapping of t's nodes onto `clients` clients. */
void churntrace_map_counts(const ChurnTrace *t, uint64_t clients, ChurnTraceMapCounts *out);

#endif
