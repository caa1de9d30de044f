/* evq: the pending-event set, ordered by (time, seq).
 *
 * Layer: sim/kernel. Holds 24-byte entries; the event records themselves
 * belong to the Sim (sim.c), which gives every entry a sequence number so
 * equal times come out in scheduling order (DESIGN.md "Time"; ns-3's
 * EventKey). Two structures, selectable, give identical pop order:
 *
 *  - EVQ_HEAP: an implicit 4-ary min-heap. O(log n) push and pop; a pop
 *    followed by a push (the common "handle an event, schedule the next"
 *    step) costs one sift-down instead of two sifts, because removal of the
 *    root is deferred until the next operation (the heapreplace trick).
 *  - EVQ_LADDER: a ladder queue after Tang, Goh and Thng (ACM TOMACS 2005):
 *    an unsorted Top, rungs of buckets that split recursively, and a small
 *    sorted Bottom. O(1) amortised push and pop whatever the queue size.
 *
 * Which to use is measured by `simbench phold` (see the README): the heap
 * wins while the pending set fits in cache, the ladder on large sets.
 */
#ifndef SKYSIM_EVQ_H
#define SKYSIM_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"

typedef struct EvqEntry {
    TimeNs time;  /* when the event fires, ns */
    uint64_t seq; /* scheduling order; unique, breaks ties */
    void *item;   /* the event record, owned by the Sim */
} EvqEntry;

typedef enum EvqKind {
    EVQ_HEAP = 0,   /* 4-ary heap */
    EVQ_LADDER = 1, /* ladder queue */
} EvqKind;

typedef struct Evq Evq;

Evq *evq_new(EvqKind kind); /* owned; never NULL */
void evq_free(Evq *q);      /* entries' items are not touched; NULL ok */

/* Adds an entry. Its (time, seq) must not be below the last popped one:
 * the simulation never schedules into the past. */
void evq_push(Evq *q, EvqEntry e);

/* Removes the smallest entry into *out if its time is <= limit.
 * Returns false (and leaves the queue as it was) when the queue is empty or
 * the smallest time is beyond limit. */
bool evq_pop_until(Evq *q, TimeNs limit, EvqEntry *out);

/* Removes the smallest entry whatever its time; false when empty. */
static inline bool evq_pop(Evq *q, EvqEntry *out) { return evq_pop_until(q, TIMENS_MAX, out); }

size_t evq_size(const Evq *q);      /* entries held */
size_t evq_bytes(const Evq *q);     /* bytes of queue storage */
EvqKind evq_kind(const Evq *q);

const char *evq_kind_name(EvqKind k);             /* "heap" or "ladder" */
bool evq_kind_parse(const char *name, EvqKind *out); /* false if unknown */

#endif
