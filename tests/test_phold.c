/* test_phold: PHOLD runs are deterministic; the queue structure does not
 * change the execution order. */
#include "sim/bench/phold.h"

#include "t_assert.h"

static PholdConfig phold_cfg(uint64_t seed, EvqKind q)
{
    return (PholdConfig){.lps = 500, .population = 4, .remote = 0.9, .lookahead = TIMENS_S,
                         .mean = TIMENS_S, .end = 50 * TIMENS_S, .seed = seed, .queue = q};
}

static void test_phold_same_seed_same_run(void)
{
    PholdConfig c = phold_cfg(11, EVQ_LADDER);
    PholdResult a, b;
    phold_run(&c, &a);
    phold_run(&c, &b);
    T_CMP_I64(a.events, >, 10000);
    T_EQ_U64(a.events, b.events);
    T_EQ_U64(a.checksum, b.checksum);
    /* Each event schedules exactly one more: the population is conserved. */
    T_EQ_U64(a.pending_end, 500 * 4);
}

static void test_phold_other_seed_other_checksum(void)
{
    PholdConfig c1 = phold_cfg(11, EVQ_LADDER), c2 = phold_cfg(12, EVQ_LADDER);
    PholdResult a, b;
    phold_run(&c1, &a);
    phold_run(&c2, &b);
    T_NE_U64(a.checksum, b.checksum);
}

static void test_phold_heap_equals_ladder(void)
{
    PholdConfig c1 = phold_cfg(3, EVQ_HEAP), c2 = phold_cfg(3, EVQ_LADDER);
    PholdResult a, b;
    phold_run(&c1, &a);
    phold_run(&c2, &b);
    T_EQ_U64(a.events, b.events);
    T_EQ_U64(a.checksum, b.checksum);
}

/* Expected event count: each LP-population token advances by lookahead +
 * mean on average, so events ~= lps * population * end / (lookahead + mean). */
static void test_phold_event_rate_matches_model(void)
{
    PholdConfig c = phold_cfg(5, EVQ_HEAP);
    c.end = 200 * TIMENS_S;
    PholdResult a;
    phold_run(&c, &a);
    double want = 500.0 * 4 * 200 / 2.0;
    T_NEAR((double)a.events, want, 0.03 * want);
}

T_SUITE_MAIN("phold", {"test_phold_same_seed_same_run", test_phold_same_seed_same_run},
             {"test_phold_other_seed_other_checksum", test_phold_other_seed_other_checksum},
             {"test_phold_heap_equals_ladder", test_phold_heap_equals_ladder},
             {"test_phold_event_rate_matches_model", test_phold_event_rate_matches_model})
