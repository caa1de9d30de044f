/* test_rng: stream derivation, independence and the GSL view. */
#include "sim/kernel/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

#include "t_assert.h"

#define TEST_SEED 42u

/* A stream's draws depend only on (seed, entity, stream): initialising and
 * drawing from other entities in between changes nothing. */
static void test_rng_adding_entity_changes_nothing(void)
{
    Rng alone, crowd[100];
    rng_init(&alone, TEST_SEED, 5, 1);
    uint64_t want[16];
    for (int i = 0; i < 16; i++) want[i] = rng_next(&alone);
    for (int e = 0; e < 100; e++) rng_init(&crowd[e], TEST_SEED, (uint64_t)e, 1);
    for (int round = 0; round < 16; round++)
        for (int e = 0; e < 100; e++) {
            uint64_t x = rng_next(&crowd[e]);
            if (e == 5) T_EQ_U64(x, want[round]);
        }
}

static void test_rng_streams_differ(void)
{
    Rng a, b, c, d;
    rng_init(&a, TEST_SEED, 1, 0);
    rng_init(&b, TEST_SEED, 2, 0);
    rng_init(&c, TEST_SEED, 1, 1);
    rng_init(&d, TEST_SEED + 1, 1, 0);
    uint64_t x = rng_next(&a);
    T_NE_U64(x, rng_next(&b));
    T_NE_U64(x, rng_next(&c));
    T_NE_U64(x, rng_next(&d));
    /* (entity, stream) is not symmetric. */
    Rng e1, e2;
    rng_init(&e1, TEST_SEED, 3, 4);
    rng_init(&e2, TEST_SEED, 4, 3);
    T_NE_U64(rng_next(&e1), rng_next(&e2));
}

/* Neighbouring entities' streams are uncorrelated: the sample correlation of
 * 20,000 paired uniforms is within 4 standard errors (1/sqrt(n)) of zero. */
static void test_rng_neighbour_streams_uncorrelated(void)
{
    enum { N = 20000 };
    static double x[N], y[N];
    for (uint64_t e = 0; e < 8; e++) {
        Rng a, b;
        rng_init(&a, TEST_SEED, e, 0);
        rng_init(&b, TEST_SEED, e + 1, 0);
        for (int i = 0; i < N; i++) {
            x[i] = rng_uniform(&a);
            y[i] = rng_uniform(&b);
        }
        double r = gsl_stats_correlation(x, 1, y, 1, N);
        T_NEAR(r, 0.0, 4.0 / sqrt(N));
        T_NEAR(gsl_stats_mean(x, 1, N), 0.5, 4.0 * sqrt(1.0 / 12.0 / N));
    }
}

/* GSL's distributions run on a stream through the stack view. */
static void test_rng_gsl_view_distributions(void)
{
    Rng r;
    rng_init(&r, TEST_SEED, 9, 9);
    gsl_rng g;
    enum { N = 50000 };
    static double v[N];
    for (int i = 0; i < N; i++) v[i] = gsl_ran_exponential(rng_gsl(&r, &g), 2.0);
    double m = gsl_stats_mean(v, 1, N);
    T_NEAR(m, 2.0, 4.0 * 2.0 / sqrt(N)); /* exponential: sd = mean */
    for (int i = 0; i < N; i++) v[i] = (double)gsl_rng_uniform_int(rng_gsl(&r, &g), 10);
    double cnt[10] = {0};
    for (int i = 0; i < N; i++) cnt[(int)v[i]]++;
    double chi2 = 0;
    for (int k = 0; k < 10; k++) chi2 += (cnt[k] - N / 10.0) * (cnt[k] - N / 10.0) / (N / 10.0);
    T_CMP_I64((long long)chi2, <, 28); /* chi2(9) 0.999 quantile = 27.9 */
    T_STR_EQ(gsl_rng_name(rng_gsl(&r, &g)), "skysim-xoshiro256ss");
    /* Also usable as an allocated GSL generator. */
    gsl_rng *own = gsl_rng_alloc(rng_gsl_type);
    gsl_rng_set(own, 1);
    double u = gsl_rng_uniform(own);
    T_TRUE(u >= 0.0 && u < 1.0);
    gsl_rng_free(own);
}

static void test_rng_below_range_and_bias(void)
{
    Rng r;
    rng_init(&r, TEST_SEED, 0, 3);
    int cnt[3] = {0};
    for (int i = 0; i < 30000; i++) {
        uint64_t x = rng_below(&r, 3);
        T_TRUE(x < 3);
        cnt[x]++;
    }
    for (int k = 0; k < 3; k++) T_NEAR(cnt[k], 10000, 400);
    T_EQ_U64(rng_below(&r, 1), 0);
    T_TRUE(rng_below(&r, UINT64_MAX) < UINT64_MAX);
}

T_SUITE_MAIN("rng", {"test_rng_adding_entity_changes_nothing", test_rng_adding_entity_changes_nothing},
             {"test_rng_streams_differ", test_rng_streams_differ},
             {"test_rng_neighbour_streams_uncorrelated", test_rng_neighbour_streams_uncorrelated},
             {"test_rng_gsl_view_distributions", test_rng_gsl_view_distributions},
             {"test_rng_below_range_and_bias", test_rng_below_range_and_bias})
