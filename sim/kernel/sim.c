/* sim: the simulation object and its run loop; see sim.h.
 *
 * Event records come from a pool; the queue holds (time, seq, record)
 * entries. A record's generation (kept across pool put/get) makes ids
 * stale once the event ran or was cancelled, so a late cancel is harmless.
 * A cancelled record stays queued with fn == NULL and is recycled when
 * popped: cancel is O(1), and the queue never needs a delete operation.
 */
#include "sim/kernel/sim.h"

#include <glib.h>
#include <stdio.h>

#include "protocol/base/check.h"
#include "sim/kernel/pool.h"

typedef struct SimEvent {
    uint32_t gen;  /* generation; bumped when the record is recycled (kept by the pool) */
    uint32_t idx;  /* index of this record in the event pool (kept by the pool) */
    TimeNs time;   /* when it fires, ns */
    SimEventFn fn; /* handler; NULL once cancelled */
    void *ctx;     /* handler context, borrowed */
    uint64_t arg;  /* inline payload */
    uint64_t pad;  /* reserved (keeps the record at 48 bytes) */
} SimEvent;

_Static_assert(sizeof(SimEvent) <= 48, "event record budget is 48 bytes");

struct Sim {
    TimeNs now;                       /* virtual clock, ns */
    uint64_t seed;                    /* master seed */
    uint64_t next_seq;                /* next scheduling sequence number */
    Evq *evq;                         /* pending entries, owned */
    Pool *events;                     /* SimEvent records, owned */
    size_t dead;                      /* cancelled records still queued */
    uint64_t executed;                /* handlers run */
    uint64_t cancelled;               /* cancels that took effect */
    uint64_t entity;                  /* entity being run, for diagnostics */
    bool stop;                        /* sim_stop() was called */
    volatile sig_atomic_t *stop_flag; /* external stop request, borrowed */
};

Sim *sim_new(uint64_t seed, EvqKind kind)
{
    Sim *sim = g_new0(Sim, 1);
    sim->seed = seed;
    sim->evq = evq_new(kind);
    sim->events = pool_new("events", sizeof(SimEvent), 2 * sizeof(uint32_t));
    sim->entity = UINT64_MAX;
    return sim;
}

static void sim_event_recycle(Sim *sim, SimEvent *ev)
{
    if (++ev->gen == 0) ev->gen = 1; /* gen 0 means "none" in ids */
    pool_put(sim->events, ev);
}

void sim_free(Sim *sim)
{
    if (!sim) return;
    EvqEntry e;
    while (evq_pop(sim->evq, &e)) sim_event_recycle(sim, e.item);
    evq_free(sim->evq);
    pool_free(sim->events); /* CHECKs that no record is out */
    g_free(sim);
}

TimeNs sim_now(const Sim *sim) { return sim->now; }
uint64_t sim_seed(const Sim *sim) { return sim->seed; }

SimEventId sim_at(Sim *sim, TimeNs at, SimEventFn fn, void *ctx, uint64_t arg)
{
    CHECK(at >= sim->now, "scheduling into the past: at=%lld now=%lld", (long long)at,
          (long long)sim->now);
    CHECK(fn != NULL, "event without a handler");
    SimEvent *ev = pool_get(sim->events);
    if (G_UNLIKELY(ev->gen == 0)) { /* fresh from a new slab */
        ev->gen = 1;
        ev->idx = pool_index(sim->events, ev);
    }
    ev->time = at;
    ev->fn = fn;
    ev->ctx = ctx;
    ev->arg = arg;
    evq_push(sim->evq, (EvqEntry){.time = at, .seq = sim->next_seq++, .item = ev});
    return (SimEventId){.idx = ev->idx, .gen = ev->gen};
}

/* The pending record named by id, or NULL. */
static SimEvent *sim_event_find(const Sim *sim, SimEventId id)
{
    if (id.gen == 0 || (size_t)id.idx >= pool_capacity(sim->events)) return NULL;
    SimEvent *ev = pool_at(sim->events, id.idx);
    return (ev->gen == id.gen && ev->fn != NULL) ? ev : NULL;
}

bool sim_cancel(Sim *sim, SimEventId id)
{
    SimEvent *ev = sim_event_find(sim, id);
    if (!ev) return false;
    ev->fn = NULL;
    sim->dead++;
    sim->cancelled++;
    return true;
}

bool sim_is_pending(const Sim *sim, SimEventId id) { return sim_event_find(sim, id) != NULL; }

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

SimRunResult sim_run_until(Sim *sim, TimeNs end)
{
    CheckContextFn prev_fn;
    void *prev_ctx;
    check_context_set(sim_check_context, sim, &prev_fn, &prev_ctx);
    SimRunResult result = SIM_RUN_EMPTY;
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
        SimEvent *ev = e.item;
        SimEventFn fn = ev->fn;
        if (G_UNLIKELY(fn == NULL)) { /* cancelled */
            sim->dead--;
            sim_event_recycle(sim, ev);
            continue;
        }
        sim->now = e.time;
        void *ctx = ev->ctx;
        uint64_t arg = ev->arg;
        sim_event_recycle(sim, ev); /* before fn: the handler may reuse the record */
        sim->executed++;
        fn(sim, ctx, arg);
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
uint64_t sim_events_cancelled(const Sim *sim) { return sim->cancelled; }
size_t sim_events_pending(const Sim *sim) { return evq_size(sim->evq) - sim->dead; }
size_t sim_events_live(const Sim *sim) { return pool_live(sim->events); }
size_t sim_events_high_water(const Sim *sim) { return pool_high_water(sim->events); }
const Evq *sim_evq(const Sim *sim) { return sim->evq; }
