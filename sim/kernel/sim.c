/* sim: the simulation object and its run loop; see sim.h.
 *
 * Events live by value in the queue (evq.h), so scheduling allocates
 * nothing and running an event touches no record outside the queue.
 * Cancelling is O(1): the id's sequence number goes into a set of cancelled
 * events, and the loop drops a popped entry found in the set. An id names a
 * (time, seq) key; since the loop pops keys in increasing order, an id at or
 * below the last popped key has already run (or was dropped), which makes a
 * late or repeated cancel harmless and keeps the set to pending events only.
 */
#include "sim/kernel/sim.h"

#include <glib.h>
#include <stdio.h>

#include "protocol/base/check.h"

struct Sim {
    TimeNs now;                       /* virtual clock, ns */
    uint64_t seed;                    /* master seed */
    uint64_t next_seq;                /* next scheduling sequence number (from 1) */
    Evq *evq;                         /* pending events, owned */
    GHashTable *cancelled;            /* seq (as a pointer-sized key) of cancelled pending events */
    size_t ncancelled_pending;        /* size of cancelled (read on every event) */
    TimeNs front_time;                /* key of the last popped entry: time, ns */
    uint64_t front_seq;               /* ... and sequence number (0: none yet) */
    uint64_t executed;                /* handlers run */
    uint64_t ncancelled;              /* cancels that took effect */
    uint64_t entity;                  /* entity being run, for diagnostics */
    bool stop;                        /* sim_stop() was called */
    volatile sig_atomic_t *stop_flag; /* external stop request, borrowed */
};

_Static_assert(sizeof(void *) >= sizeof(uint64_t), "sequence numbers are kept as pointer keys");

Sim *sim_new(uint64_t seed, EvqKind kind)
{
    Sim *sim = g_new0(Sim, 1);
    sim->seed = seed;
    sim->next_seq = 1;
    sim->evq = evq_new(kind);
    sim->cancelled = g_hash_table_new(g_direct_hash, g_direct_equal);
    sim->front_time = TIMENS_MIN_VALUE;
    sim->entity = UINT64_MAX;
    return sim;
}

void sim_free(Sim *sim)
{
    if (!sim) return;
    evq_free(sim->evq);
    g_hash_table_destroy(sim->cancelled);
    g_free(sim);
}

TimeNs sim_now(const Sim *sim) { return sim->now; }
uint64_t sim_seed(const Sim *sim) { return sim->seed; }

SimEventId sim_at(Sim *sim, TimeNs at, SimEventFn fn, void *ctx, uint64_t arg)
{
    CHECK(at >= sim->now, "scheduling into the past: at=%lld now=%lld", (long long)at,
          (long long)sim->now);
    CHECK(fn != NULL, "event without a handler");
    EvqEntry e = {.time = at, .seq = sim->next_seq++, .fn = fn, .ctx = ctx, .arg = arg};
    evq_push(sim->evq, &e);
    return (SimEventId){.seq = e.seq, .time = at};
}

/* True if the event named by id was popped already (ran or was dropped). */
static bool sim_event_is_past(const Sim *sim, SimEventId id)
{
    return id.time < sim->front_time || (id.time == sim->front_time && id.seq <= sim->front_seq);
}

bool sim_is_pending(const Sim *sim, SimEventId id)
{
    if (id.seq == 0 || id.seq >= sim->next_seq || sim_event_is_past(sim, id)) return false;
    return !g_hash_table_contains(sim->cancelled, GSIZE_TO_POINTER(id.seq));
}

bool sim_cancel(Sim *sim, SimEventId id)
{
    if (!sim_is_pending(sim, id)) return false;
    g_hash_table_add(sim->cancelled, GSIZE_TO_POINTER(id.seq));
    sim->ncancelled_pending++;
    sim->ncancelled++;
    return true;
}

/* Labels CHECK output with the virtual time and entity of the running Sim. */
static void sim_check_context(void *ctx, char *buf, size_t size)
{
    const Sim *sim = ctx;
    char t[TIMENS_FORMAT_MAX];
    timens_format(sim->now, t, sizeof t);
    if (sim->entity != UINT64_MAX)
        snprintf(buf, size, "t=%s entity=%llu", t, (unsigned long long)sim->entity);
    else
        snprintf(buf, size, "t=%s", t);
}

/* Prefetches the first two cache lines of the handler context of the event
 * SIM_PREFETCH pops ahead (its node, socket or LP): on large worlds that
 * state is cold, and fetching it early overlaps the misses of several
 * events. */
#define SIM_PREFETCH 16

SimRunResult sim_run_until(Sim *sim, TimeNs end)
{
    CheckContextFn prev_fn;
    void *prev_ctx;
    check_context_set(sim_check_context, sim, &prev_fn, &prev_ctx);
    SimRunResult result;
    EvqEntry e;
    sim->stop = false;
    for (;;) {
        if (G_UNLIKELY(sim->stop || (sim->stop_flag && *sim->stop_flag))) {
            result = SIM_RUN_STOPPED;
            break;
        }
        if (!evq_pop_until(sim->evq, end, &e)) {
            result = evq_size(sim->evq) > 0 ? SIM_RUN_END : SIM_RUN_EMPTY;
            if (end != TIMENS_MAX && end > sim->now) sim->now = end; /* never backwards */
            break;
        }
        const EvqEntry *ahead = evq_peek_ahead(sim->evq, SIM_PREFETCH);
        if (ahead) {
            __builtin_prefetch(ahead->ctx);
            __builtin_prefetch((const char *)ahead->ctx + 64);
        }
        sim->front_time = e.time;
        sim->front_seq = e.seq;
        if (G_UNLIKELY(sim->ncancelled_pending > 0) &&
            g_hash_table_remove(sim->cancelled, GSIZE_TO_POINTER(e.seq))) {
            sim->ncancelled_pending--;
            continue;
        }
        sim->now = e.time;
        sim->executed++;
        e.fn(sim, e.ctx, e.arg);
    }
    check_context_set(prev_fn, prev_ctx, NULL, NULL);
    return result;
}

void sim_stop(Sim *sim) { sim->stop = true; }
void sim_set_stop_flag(Sim *sim, volatile sig_atomic_t *flag) { sim->stop_flag = flag; }

void sim_rng_init(const Sim *sim, Rng *r, uint64_t entity, uint64_t stream)
{
    rng_init(r, sim->seed, entity, stream);
}

void sim_set_entity(Sim *sim, uint64_t entity) { sim->entity = entity; }
uint64_t sim_events_executed(const Sim *sim) { return sim->executed; }
uint64_t sim_events_cancelled(const Sim *sim) { return sim->ncancelled; }

size_t sim_events_pending(const Sim *sim)
{
    return evq_size(sim->evq) - sim->ncancelled_pending;
}

const Evq *sim_evq(const Sim *sim) { return sim->evq; }
