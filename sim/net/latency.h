/* latency: one-way propagation delay between sites of the simulated Internet.
 *
 * Layer: sim/net. A model has N positions; every site (public host or
 * outermost NAT) sits at one. Three kinds:
 *  - region (the default): a handful of world regions with one-way delays
 *    between and within them (rounded halves of public inter-region RTTs,
 *    e.g. AWS region-to-region pings), plus a per-host access delay and
 *    jitter drawn when a site is created (latency_access_draw()).
 *  - coordinates: Vivaldi-style files, one node a line, "id x y h height"
 *    (the format of the King/Meridian/Harvard sets SimGrid ships); the
 *    one-way delay in ms is sqrt((xa-xb)^2 + (ya-yb)^2) + |ha| + |hb|
 *    (SimGrid VivaldiZone::get_local_route). '#' starts a comment line.
 *  - matrix: a square matrix of RTTs in ms, tab-, comma- or blank-separated;
 *    optionally a header row (first cell empty or not a number) and a label
 *    in front of every row. Entry (i, j) is the RTT from i to j; the one-way
 *    delay is half of it (the matrix may be asymmetric; the diagonal is the
 *    delay between two sites at the same position).
 * Files are user input: errors come back through GError as
 * "file:line: expected ..., found ...". RTTs and coordinates are at most
 * 1e6 ms in magnitude (larger ones would overflow the ns delays).
 */
#ifndef SKYSIM_LATENCY_H
#define SKYSIM_LATENCY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/kernel/rng.h"

typedef struct Latency Latency;

typedef enum LatencyKind { LATENCY_REGION, LATENCY_COORDS, LATENCY_MATRIX } LatencyKind;

#define LATENCY_ERROR (latency_error_quark())
GQuark latency_error_quark(void);
enum { LATENCY_ERROR_IO, LATENCY_ERROR_PARSE };

/* The default region model. Owned; never NULL. */
Latency *latency_region_new(void);

/* A region model with the caller's regions: names[n] (copied) and one-way
 * delays delay_ns[a * n + b] from region a to b, ns (copied; the diagonal is
 * within a region; >= 0, CHECKed). Access delays are drawn as for the
 * default model. Returns an owned model; never NULL. */
Latency *latency_region_table_new(const char *const *names, uint32_t n, const TimeNs *delay_ns);

/* Loads a coordinate file. path: borrowed. Returns an owned model, or NULL
 * with err naming file and line. Ids must be 0..n-1, each once (any order). */
Latency *latency_coords_load(const char *path, GError **err);

/* Loads an RTT matrix file (see above). Returns an owned model or NULL. */
Latency *latency_matrix_load(const char *path, GError **err);

void latency_free(Latency *m); /* NULL is a no-op */

LatencyKind latency_kind(const Latency *m);
uint32_t latency_size(const Latency *m); /* number of positions */

/* Name of a position: region name, matrix row label, or NULL. Borrowed. */
const char *latency_position_name(const Latency *m, uint32_t pos);

/* Finds a position by name (regions, labelled matrices); false if none. */
bool latency_position_find(const Latency *m, const char *name, uint32_t *out);

/* One-way delay from position a to b, ns (a, b < size, CHECKed). */
TimeNs latency_one_way(const Latency *m, uint32_t a, uint32_t b);

/* Draws a site's access delay and jitter bound, ns. Region model: delay
 * uniform in [2, 20] ms, jitter bound uniform in [0, 2] ms. Measured models
 * (coords, matrix) already contain the access path: both 0. r: the site's
 * stream. */
void latency_access_draw(const Latency *m, uint32_t pos, Rng *r, TimeNs *delay, TimeNs *jitter);

#endif
