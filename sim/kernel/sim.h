/* sim: the simulation object: virtual clock, events, random streams.
 *
 * Layer: sim/kernel (no network, no protocol). A Sim holds every piece of
 * mutable state of one run; there is no global mutable state, so two Sims
 * can run in one process one after the other or side by side.
 *
 * Events: a handler fn(sim, ctx, arg) scheduled at a virtual time. Equal
 * times run in scheduling order. The event record (40 bytes: time, sequence
 * number, fn, ctx, arg) lives by value in the queue's reused arrays, so
 * scheduling allocates nothing; ctx and arg are the caller's 16 bytes of
 * inline payload. Larger payloads come from the caller's own pools (packets
 * from the packet pool) and travel through ctx. Cancelling is O(1) through
 * the id; a cancelled event stays queued, dead, until its time comes
 * (DESIGN.md: the queue skips dead entries). Cancelling an event that
 * already ran or was already cancelled is harmless.
 */
#ifndef SKYSIM_SIM_H
#define SKYSIM_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/kernel/evq.h"
#include "sim/kernel/rng.h"

typedef struct Sim Sim;

/* An event handler. ctx and arg are what was passed to sim_at(). */
typedef EvqFn SimEventFn;

/* Names a scheduled event for sim_cancel(). {0, 0} names none. */
typedef struct SimEventId {
    uint64_t seq; /* scheduling sequence number, from 1; 0 = none */
    TimeNs time;  /* when it was scheduled to run, ns */
} SimEventId;

#define SIM_EVENT_NONE ((SimEventId){0, 0})

typedef enum SimRunResult {
    SIM_RUN_END,     /* reached the end time; the clock is now at it */
    SIM_RUN_EMPTY,   /* queue empty; the clock is at the end time if it is
                        finite, else at the last event */
    SIM_RUN_STOPPED, /* sim_stop() or the stop flag; clock at the last event */
} SimRunResult;

/* Creates a simulation with master seed `seed` and the given queue. */
Sim *sim_new(uint64_t seed, EvqKind kind);

/* Frees the simulation. Pending events are discarded (their payloads are
 * their owners' business: free those first). NULL is a no-op. */
void sim_free(Sim *sim);

TimeNs sim_now(const Sim *sim);     /* current virtual time */
uint64_t sim_seed(const Sim *sim);  /* master seed */

/* Schedules fn(sim, ctx, arg) at absolute time `at` (>= now, CHECKed) or
 * after `delay` (>= 0). ctx is borrowed by the Sim and handed to fn. */
SimEventId sim_at(Sim *sim, TimeNs at, SimEventFn fn, void *ctx, uint64_t arg);
static inline SimEventId sim_after(Sim *sim, TimeNs delay, SimEventFn fn, void *ctx, uint64_t arg);

/* Cancels a pending event. Returns true if it was pending (it will not run;
 * the caller may free its payload), false if it already ran, was cancelled
 * before, or id is none. O(1). */
bool sim_cancel(Sim *sim, SimEventId id);

/* True if id names an event that is still pending. */
bool sim_is_pending(const Sim *sim, SimEventId id);

/* Runs events in (time, seq) order while their time is <= end (events at
 * exactly `end` run). See SimRunResult for where the clock is afterwards. */
SimRunResult sim_run_until(Sim *sim, TimeNs end);

/* Asks the running loop to return at the next event boundary (callable from
 * a handler). */
void sim_stop(Sim *sim);

/* A flag the loop polls between events (e.g. set by a SIGINT handler); when
 * non-zero the loop stops as for sim_stop(). flag: borrowed, may be NULL. */
void sim_set_stop_flag(Sim *sim, volatile sig_atomic_t *flag);

/* Initialises r as this run's stream for (entity, stream). */
void sim_rng_init(const Sim *sim, Rng *r, uint64_t entity, uint64_t stream);

/* Labels CHECK failures and logs with the entity being run (e.g. a node id);
 * UINT64_MAX for none. Costs one store. */
void sim_set_entity(Sim *sim, uint64_t entity);

uint64_t sim_events_executed(const Sim *sim); /* handlers run so far */
uint64_t sim_events_cancelled(const Sim *sim); /* cancels that took effect */
size_t sim_events_pending(const Sim *sim);   /* live (not cancelled) events queued */
const Evq *sim_evq(const Sim *sim);

static inline SimEventId sim_after(Sim *sim, TimeNs delay, SimEventFn fn, void *ctx, uint64_t arg)
{
    return sim_at(sim, timens_add_sat(sim_now(sim), delay), fn, ctx, arg);
}

#endif
