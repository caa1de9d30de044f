/* evq: the pending-event set, ordered by (time, seq).
 *
 * Layer: sim/kernel. An entry is the whole event record (40 bytes: time,
 * sequence number, handler, context, argument), held by value in the
 * queue's own arrays, which are reused and act as the event pool: there is
 * no allocation per event, and popping an event touches no memory outside
 * the queue (a pointer to a separate record cost one cache miss per event
 * on large pending sets: measured in the README's benchmark section).
 * The Sim gives every entry a sequence number so equal times come out in
 * scheduling order (DESIGN.md "Time"; ns-3's EventKey). Three structures,
 * selectable, give identical pop order:
 *
 *  - EVQ_HEAP: an implicit 4-ary min-heap. O(log n); a pop followed by a
 *    push (the common "handle an event, schedule the next" step) costs one
 *    sift-down instead of two sifts (root removal is deferred).
 *  - EVQ_LADDER: a ladder queue after Tang, Goh and Thng (ACM TOMACS 2005):
 *    unsorted Top, rungs of linked buckets that split recursively, a sorted
 *    Bottom. O(1) amortised, but pointer-chasing.
 *  - EVQ_BUCKET: a two-level bucket queue with contiguous buckets (see
 *    evq.c): O(1) amortised with sequential memory traffic. The default.
 */
#ifndef SKYSIM_EVQ_H
#define SKYSIM_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/base/timens.h"

struct Sim;

/* An event handler: runs at the event's time with its ctx and arg. */
typedef void (*EvqFn)(struct Sim *sim, void *ctx, uint64_t arg);

typedef struct EvqEntry {
    TimeNs time;  /* when the event fires, ns */
    uint64_t seq; /* scheduling order; unique, breaks ties */
    EvqFn fn;     /* handler */
    void *ctx;    /* handler context, borrowed */
    uint64_t arg; /* inline payload */
} EvqEntry;

_Static_assert(sizeof(EvqEntry) <= 48, "event record budget is 48 bytes");

typedef enum EvqKind {
    EVQ_HEAP = 0,   /* 4-ary heap */
    EVQ_LADDER = 1, /* ladder queue */
    EVQ_BUCKET = 2, /* two-level bucket queue */
} EvqKind;

#define EVQ_KINDS 3

typedef struct Evq Evq;

Evq *evq_new(EvqKind kind); /* owned; never NULL */
void evq_free(Evq *q);      /* NULL ok */

/* Adds an entry (copied). Its (time, seq) must not be below the last
 * popped one: the simulation never schedules into the past. */
void evq_push(Evq *q, const EvqEntry *e);

/* Removes the smallest entry into *out if its time is <= limit.
 * Returns false (and leaves the queue as it was) when the queue is empty or
 * the smallest time is beyond limit. */
bool evq_pop_until(Evq *q, TimeNs limit, EvqEntry *out);

/* Removes the smallest entry whatever its time; false when empty. */
static inline bool evq_pop(Evq *q, EvqEntry *out) { return evq_pop_until(q, TIMENS_MAX, out); }

/* An entry that will probably be popped about k pops from now, or NULL when
 * the structure cannot tell cheaply. For prefetching only (its ctx): the
 * answer may be wrong, never unsafe to prefetch. Borrowed until the next
 * push or pop. */
const EvqEntry *evq_peek_ahead(const Evq *q, size_t k);

size_t evq_size(const Evq *q);  /* entries held */
size_t evq_bytes(const Evq *q); /* bytes of queue storage */
EvqKind evq_kind(const Evq *q);

const char *evq_kind_name(EvqKind k);                /* "heap", "ladder", "bucket" */
bool evq_kind_parse(const char *name, EvqKind *out); /* false if unknown */

#endif
