/* test_sim: scheduling, cancellation, run-until boundaries, teardown. */
#include "sim/kernel/sim.h"

#include "t_assert.h"

#define TEST_SEED 7u

typedef struct Log {
    uint64_t order[64]; /* args of executed events, in order */
    TimeNs at[64];      /* their times */
    int n;              /* entries */
} Log;

static void log_event(Sim *sim, void *ctx, uint64_t arg)
{
    Log *l = ctx;
    if (l->n < 64) {
        l->order[l->n] = arg;
        l->at[l->n] = sim_now(sim);
    }
    l->n++;
}

static void test_sim_cancel_before_after_twice(void)
{
    for (int k = 0; k < EVQ_KINDS; k++) {
        Sim *sim = sim_new(TEST_SEED, (EvqKind)k);
        Log l = {0};
        SimEventId a = sim_at(sim, 10, log_event, &l, 1);
        SimEventId b = sim_at(sim, 20, log_event, &l, 2);
        T_TRUE(sim_is_pending(sim, a));
        T_TRUE(sim_cancel(sim, b));   /* before firing */
        T_FALSE(sim_cancel(sim, b));  /* twice: harmless */
        T_FALSE(sim_is_pending(sim, b));
        T_EQ_I64(sim_events_pending(sim), 1);
        T_EQ_I64(sim_run_until(sim, TIMENS_MAX), SIM_RUN_EMPTY);
        T_EQ_I64(l.n, 1);
        T_EQ_I64(l.order[0], 1);
        T_FALSE(sim_cancel(sim, a)); /* after firing: harmless */
        T_FALSE(sim_cancel(sim, SIM_EVENT_NONE));
        /* A stale id must not cancel a later event. */
        sim_at(sim, 30, log_event, &l, 3);
        T_FALSE(sim_cancel(sim, a));
        T_FALSE(sim_cancel(sim, b));
        sim_run_until(sim, TIMENS_MAX);
        T_EQ_I64(l.n, 2);
        T_EQ_I64(l.order[1], 3);
        T_EQ_I64(sim_events_cancelled(sim), 1);
        T_EQ_I64(sim_events_pending(sim), 0);
        sim_free(sim);
    }
}

static void test_sim_run_until_boundaries(void)
{
    Sim *sim = sim_new(TEST_SEED, EVQ_LADDER);
    Log l = {0};
    sim_at(sim, 100, log_event, &l, 1);
    sim_at(sim, 101, log_event, &l, 2);
    T_EQ_I64(sim_run_until(sim, 99), SIM_RUN_END);
    T_EQ_I64(l.n, 0);
    T_EQ_I64(sim_now(sim), 99); /* the clock advances to the end time */
    T_EQ_I64(sim_run_until(sim, 100), SIM_RUN_END);
    T_EQ_I64(l.n, 1); /* an event exactly at the end time runs */
    T_EQ_I64(sim_now(sim), 100);
    T_EQ_I64(sim_run_until(sim, 1000), SIM_RUN_EMPTY);
    T_EQ_I64(l.n, 2);
    T_EQ_I64(sim_now(sim), 1000);
    T_EQ_I64(sim_run_until(sim, 500), SIM_RUN_EMPTY); /* never backwards */
    T_EQ_I64(sim_now(sim), 1000);
    sim_free(sim);
}

typedef struct Chain {
    Log log;   /* what ran */
    Sim *sim;  /* the simulation */
} Chain;

/* At t=5 schedules two more events at t=5: they run after those already
 * scheduled for t=5 (FIFO within a time), and then in their own order. */
static void chain_spawn(Sim *sim, void *ctx, uint64_t arg)
{
    Chain *c = ctx;
    log_event(sim, &c->log, arg);
    if (arg == 1) {
        sim_after(sim, 0, chain_spawn, c, 10);
        sim_after(sim, 0, chain_spawn, c, 11);
    }
}

static void test_sim_same_time_fifo_from_handler(void)
{
    for (int k = 0; k < EVQ_KINDS; k++) {
        Sim *sim = sim_new(TEST_SEED, (EvqKind)k);
        Chain c = {.sim = sim};
        sim_at(sim, 5, chain_spawn, &c, 1);
        sim_at(sim, 5, chain_spawn, &c, 2);
        sim_at(sim, 5, chain_spawn, &c, 3);
        sim_at(sim, 6, chain_spawn, &c, 4);
        sim_run_until(sim, TIMENS_MAX);
        const uint64_t want[] = {1, 2, 3, 10, 11, 4};
        T_EQ_I64(c.log.n, 6);
        for (int i = 0; i < 6; i++) T_EQ_U64(c.log.order[i], want[i]);
        sim_free(sim);
    }
}

static void stopper(Sim *sim, void *ctx, uint64_t arg)
{
    log_event(sim, ctx, arg);
    sim_stop(sim);
}

static void test_sim_stop_and_flag(void)
{
    Sim *sim = sim_new(TEST_SEED, EVQ_HEAP);
    Log l = {0};
    sim_at(sim, 1, log_event, &l, 1);
    sim_at(sim, 2, stopper, &l, 2);
    sim_at(sim, 3, log_event, &l, 3);
    T_EQ_I64(sim_run_until(sim, 100), SIM_RUN_STOPPED);
    T_EQ_I64(l.n, 2);
    T_EQ_I64(sim_now(sim), 2);
    volatile sig_atomic_t flag = 1;
    sim_set_stop_flag(sim, &flag);
    T_EQ_I64(sim_run_until(sim, 100), SIM_RUN_STOPPED);
    T_EQ_I64(l.n, 2);
    flag = 0;
    T_EQ_I64(sim_run_until(sim, 100), SIM_RUN_EMPTY);
    T_EQ_I64(l.n, 3);
    sim_free(sim);
}

/* Teardown with pending events releases every record (no leak, no CHECK). */
static void test_sim_teardown_with_pending(void)
{
    Sim *sim = sim_new(TEST_SEED, EVQ_LADDER);
    Log l = {0};
    for (int i = 0; i < 10000; i++) sim_at(sim, i % 97, log_event, &l, (uint64_t)i);
    SimEventId x = sim_at(sim, 50, log_event, &l, 1);
    sim_cancel(sim, x);
    sim_run_until(sim, 10);
    T_EQ_I64(sim_events_pending(sim), 10000 - l.n);
    T_EQ_I64(evq_size(sim_evq(sim)), 10000 - l.n + 1); /* the cancelled one waits, dead */
    sim_free(sim);
}

/* Two simulations interleaved in one process do not see each other. */
static void test_sim_two_side_by_side(void)
{
    Sim *a = sim_new(1, EVQ_HEAP), *b = sim_new(2, EVQ_LADDER);
    Log la = {0}, lb = {0};
    for (int i = 0; i < 10; i++) {
        sim_at(a, i * 10, log_event, &la, (uint64_t)i);
        sim_at(b, i * 7, log_event, &lb, (uint64_t)i);
    }
    sim_run_until(a, 45);
    sim_run_until(b, 45);
    T_EQ_I64(la.n, 5);
    T_EQ_I64(lb.n, 7);
    T_EQ_I64(sim_now(a), 45);
    Rng ra, rb;
    sim_rng_init(a, &ra, 3, 0);
    sim_rng_init(b, &rb, 3, 0);
    T_NE_U64(rng_next(&ra), rng_next(&rb)); /* different seeds, different streams */
    sim_free(a);
    sim_free(b);
}

T_SUITE_MAIN("sim", {"test_sim_cancel_before_after_twice", test_sim_cancel_before_after_twice},
             {"test_sim_run_until_boundaries", test_sim_run_until_boundaries},
             {"test_sim_same_time_fifo_from_handler", test_sim_same_time_fifo_from_handler},
             {"test_sim_stop_and_flag", test_sim_stop_and_flag},
             {"test_sim_teardown_with_pending", test_sim_teardown_with_pending},
             {"test_sim_two_side_by_side", test_sim_two_side_by_side})
