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
 * Result: each node's intervals sorted, non-overlapping and non-empty
 * (overlapping and touching intervals merged, empty ones dropped). Nodes
 * are numbered in order of first appearance in the file.
 *
 * Errors are input errors (STYLE.md §4), one line naming file and line:
 *   traces/x.csv:7: field 3 (state): expected "up" or "down"; found "online"
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

/* Reads the trace file at path (borrowed) in format fmt. Returns a new
 * trace (caller owns; churntrace_free) or NULL with err set. */
ChurnTrace *churntrace_load(const char *path, ScenarioTraceFormat fmt, GError **err);

/* Parses text (len bytes, borrowed) as if it were the file `name` (used in
 * messages only). Same result and errors as churntrace_load(). */
ChurnTrace *churntrace_parse(const char *text, size_t len, const char *name,
                             ScenarioTraceFormat fmt, GError **err);

void churntrace_free(ChurnTrace *t); /* NULL is a no-op */

/* Number of distinct trace nodes. */
size_t churntrace_node_count(const ChurnTrace *t);

/* Name of node i (< count) as written in the file; borrowed from t. */
const char *churntrace_node_name(const ChurnTrace *t, size_t i);

/* Intervals of node i (< count), in trace time: *n of them, sorted and
 * disjoint. Returns a pointer borrowed from t (NULL when *n is 0). */
const ChurnTraceInterval *churntrace_node_intervals(const ChurnTrace *t, size_t i, size_t *n);

/* Virtual time of trace time trace_ns: (trace - offset) * scale, rounded to
 * the nanosecond and saturated; TIMENS_MAX stays TIMENS_MAX. scale > 0. */
TimeNs churntrace_to_virtual(TimeNs trace_ns, TimeNs offset_ns, double scale);

/* The mapping of t's nodes onto `clients` clients. */
void churntrace_map_counts(const ChurnTrace *t, uint64_t clients, ChurnTraceMapCounts *out);

#endif
