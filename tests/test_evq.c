/* test_evq: both queue structures give (time, seq) order, FIFO within ties,
 * and pop identical sequences on adversarial workloads. */
#include "sim/kernel/evq.h"

#include "sim/kernel/rng.h"
#include "t_assert.h"

#define TEST_SEED 20261121u

/* Pushes n entries with times from a small set (many ties) in shuffled
 * order, seq = push order; pops must be sorted by time, then by seq. */
static void check_shuffled_ties(EvqKind kind, size_t n, uint64_t ntimes)
{
    Evq *q = evq_new(kind);
    Rng r;
    rng_init(&r, TEST_SEED, kind, n);
    for (size_t i = 0; i < n; i++) {
        TimeNs t = (TimeNs)rng_below(&r, ntimes) * 1000;
        evq_push(q, &(EvqEntry){.time = t, .seq = i, });
    }
    T_EQ_I64(evq_size(q), n);
    EvqEntry prev = {.time = -1, .seq = 0}, e;
    size_t popped = 0, bad = 0;
    while (evq_pop(q, &e)) {
        if (e.time < prev.time || (e.time == prev.time && e.seq <= prev.seq)) bad++;
        prev = e;
        popped++;
    }
    T_EQ_I64(popped, n);
    T_EQ_I64(bad, 0);
    T_EQ_I64(evq_size(q), 0);
    evq_free(q);
}

static void test_evq_equal_times_run_fifo(void)
{
    for (int k = 0; k < EVQ_KINDS; k++) {
        check_shuffled_ties((EvqKind)k, 10000, 7);     /* heavy ties */
        check_shuffled_ties((EvqKind)k, 20000, 5000);  /* some ties */
        check_shuffled_ties((EvqKind)k, 5000, 1);      /* all equal: pure FIFO */
        check_shuffled_ties((EvqKind)k, 1, 1);
    }
}

/* A hold model with adversarial increments (zero, tiny, huge, clustered)
 * interleaving pushes and pops; both structures must agree exactly. */
static void check_identical_to_heap(EvqKind kind, uint64_t spread)
{
    Evq *h = evq_new(EVQ_HEAP), *l = evq_new(kind);
    Rng r;
    rng_init(&r, TEST_SEED, 1, 2);
    uint64_t seq = 0;
    TimeNs now = 0;
    for (int i = 0; i < 30000; i++) {
        EvqEntry e = {.time = (TimeNs)rng_below(&r, spread), .seq = seq++};
        evq_push(h, &e);
        evq_push(l, &e);
    }
    size_t mismatches = 0;
    for (int step = 0; step < 200000; step++) {
        EvqEntry a, b;
        bool ha = evq_pop(h, &a), hb = evq_pop(l, &b);
        T_TRUE(ha == hb);
        if (!ha) break;
        if (a.time != b.time || a.seq != b.seq) mismatches++;
        T_CMP_I64(a.time, >=, now);
        now = a.time;
        int pushes = (int)rng_below(&r, 3); /* 0, 1 or 2: the size drifts */
        for (int k = 0; k < pushes; k++) {
            uint64_t how = rng_below(&r, 6);
            TimeNs d = how == 0   ? 0
                       : how == 1 ? (TimeNs)rng_below(&r, 10)
                       : how == 2 ? (TimeNs)rng_below(&r, 1000000)
                       : how == 3 ? (TimeNs)rng_below(&r, 1000000000000ULL)
                       : how == 4 ? (TimeNs)(1000 * rng_below(&r, 4))
                                   : (TimeNs)rng_below(&r, 100000);
            EvqEntry e = {.time = now + d, .seq = seq++};
            evq_push(h, &e);
            evq_push(l, &e);
        }
        T_EQ_I64(evq_size(h), evq_size(l));
    }
    T_EQ_I64(mismatches, 0);
    evq_free(h);
    evq_free(l);
}

static void test_evq_all_kinds_identical(void)
{
    for (int k = 1; k < EVQ_KINDS; k++) {
        check_identical_to_heap((EvqKind)k, 1000000);
        check_identical_to_heap((EvqKind)k, 10);
    }
}

static void test_evq_pop_until_limit(void)
{
    for (int k = 0; k < EVQ_KINDS; k++) {
        Evq *q = evq_new((EvqKind)k);
        evq_push(q, &(EvqEntry){.time = 10, .seq = 0});
        evq_push(q, &(EvqEntry){.time = 20, .seq = 1});
        EvqEntry e;
        T_FALSE(evq_pop_until(q, 9, &e));
        T_EQ_I64(evq_size(q), 2);
        T_TRUE(evq_pop_until(q, 10, &e));
        T_EQ_I64(e.time, 10);
        T_FALSE(evq_pop_until(q, 19, &e));
        T_EQ_I64(evq_size(q), 1);
        evq_push(q, &(EvqEntry){.time = 15, .seq = 2});
        T_TRUE(evq_pop_until(q, 19, &e));
        T_EQ_I64(e.time, 15);
        T_TRUE(evq_pop_until(q, TIMENS_MAX, &e));
        T_EQ_I64(e.time, 20);
        T_FALSE(evq_pop(q, &e));
        evq_free(q);
    }
}

/* Entries at the far end of time (TIMENS_MAX, "never") order correctly. */
static void test_evq_extreme_times(void)
{
    for (int k = 0; k < EVQ_KINDS; k++) {
        Evq *q = evq_new((EvqKind)k);
        const TimeNs t[] = {TIMENS_MAX, 0, TIMENS_MAX - 1, 5, TIMENS_MAX, 1};
        for (size_t i = 0; i < G_N_ELEMENTS(t); i++) evq_push(q, &(EvqEntry){.time = t[i], .seq = i});
        const TimeNs want[] = {0, 1, 5, TIMENS_MAX - 1, TIMENS_MAX, TIMENS_MAX};
        const uint64_t want_seq[] = {1, 5, 3, 2, 0, 4};
        for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
            EvqEntry e;
            T_TRUE(evq_pop(q, &e));
            T_EQ_I64(e.time, want[i]);
            T_EQ_U64(e.seq, want_seq[i]);
        }
        evq_free(q);
    }
}

static void test_evq_kind_names(void)
{
    EvqKind k;
    T_TRUE(evq_kind_parse("heap", &k));
    T_EQ_I64(k, EVQ_HEAP);
    T_TRUE(evq_kind_parse("ladder", &k));
    T_EQ_I64(k, EVQ_LADDER);
    T_TRUE(evq_kind_parse("bucket", &k));
    T_EQ_I64(k, EVQ_BUCKET);
    T_FALSE(evq_kind_parse("calendar", &k));
    T_STR_EQ(evq_kind_name(EVQ_LADDER), "ladder");
}

T_SUITE_MAIN("evq", {"test_evq_equal_times_run_fifo", test_evq_equal_times_run_fifo},
             {"test_evq_all_kinds_identical", test_evq_all_kinds_identical},
             {"test_evq_pop_until_limit", test_evq_pop_until_limit},
             {"test_evq_extreme_times", test_evq_extreme_times},
             {"test_evq_kind_names", test_evq_kind_names})
