/* test_stats: mean, sample standard deviation and Student-t confidence
 * half-widths against values from published t tables and hand-computed
 * samples. */
#include "analysis/stats.h"

#include <math.h>

#include "t_assert.h"

/* Two-sided 95 % quantiles as printed in every t table. */
static void test_stats_t_quantiles_match_tables(void)
{
    T_NEAR(stats_t_quantile(0.975, 1), 12.70620474, 1e-7);
    T_NEAR(stats_t_quantile(0.975, 4), 2.776445105, 1e-8);
    T_NEAR(stats_t_quantile(0.975, 9), 2.262157163, 1e-8);
    T_NEAR(stats_t_quantile(0.975, 29), 2.045229642, 1e-8);
    T_NEAR(stats_t_quantile(0.5, 7), 0.0, 1e-12);
}

/* 1..5: mean 3, sd sqrt(2.5), ci = t(0.975,4) * sd / sqrt(5) = 1.963243161. */
static void test_stats_summary_of_one_to_five(void)
{
    const double x[] = {1, 2, 3, 4, 5};
    StatsSummary s;
    stats_summarize(x, 5, &s);
    T_EQ_U64(s.n, 5);
    T_NEAR(s.mean, 3.0, 1e-12);
    T_NEAR(s.sd, 1.58113883, 1e-8);
    T_NEAR(s.ci95, 1.963243161, 1e-8);
    T_NEAR(s.min, 1.0, 0);
    T_NEAR(s.max, 5.0, 0);
}

/* The textbook sample 2,4,4,4,5,5,7,9 (shuffled): mean 5, sample sd
 * sqrt(32/7) = 2.138089935, ci = 2.364624252 * sd / sqrt(8) = 1.787487919. */
static void test_stats_summary_of_textbook_sample(void)
{
    const double x[] = {9, 4, 2, 5, 4, 7, 4, 5};
    StatsSummary s;
    stats_summarize(x, 8, &s);
    T_EQ_U64(s.n, 8);
    T_NEAR(s.mean, 5.0, 1e-12);
    T_NEAR(s.sd, 2.138089935, 1e-8);
    T_NEAR(s.ci95, 1.787487919, 1e-8);
    T_NEAR(s.min, 2.0, 0);
    T_NEAR(s.max, 9.0, 0);
}

/* A single value has a mean but no spread: sd and ci are NaN (null in the
 * table). */
static void test_stats_single_value_has_no_interval(void)
{
    const double x[] = {4.25};
    StatsSummary s;
    stats_summarize(x, 1, &s);
    T_EQ_U64(s.n, 1);
    T_NEAR(s.mean, 4.25, 0);
    T_TRUE(isnan(s.sd));
    T_TRUE(isnan(s.ci95));
    T_NEAR(s.min, 4.25, 0);
    T_NEAR(s.max, 4.25, 0);
}

/* Values a run could not compute are skipped: {1, NaN, 3, inf} is the
 * sample {1, 3}: mean 2, sd sqrt(2), ci = t(0.975,1) * sqrt(2) / sqrt(2). */
static void test_stats_non_finite_values_are_skipped(void)
{
    const double x[] = {1, NAN, 3, INFINITY};
    StatsSummary s;
    stats_summarize(x, 4, &s);
    T_EQ_U64(s.n, 2);
    T_NEAR(s.mean, 2.0, 1e-12);
    T_NEAR(s.sd, 1.414213562, 1e-8);
    T_NEAR(s.ci95, 12.70620474, 1e-7);
    T_NEAR(s.min, 1.0, 0);
    T_NEAR(s.max, 3.0, 0);
}

static void test_stats_empty_sample_is_all_nan(void)
{
    const double x[] = {NAN};
    StatsSummary s;
    stats_summarize(x, 1, &s);
    T_EQ_U64(s.n, 0);
    T_TRUE(isnan(s.mean));
    T_TRUE(isnan(s.sd));
    T_TRUE(isnan(s.ci95));
    T_TRUE(isnan(s.min));
    T_TRUE(isnan(s.max));
    stats_summarize(NULL, 0, &s);
    T_EQ_U64(s.n, 0);
}

/* Identical values: sd and ci are exactly 0, not NaN. */
static void test_stats_constant_sample_has_zero_width(void)
{
    const double x[] = {0.5, 0.5, 0.5};
    StatsSummary s;
    stats_summarize(x, 3, &s);
    T_NEAR(s.sd, 0.0, 0);
    T_NEAR(s.ci95, 0.0, 0);
}

/* Welch's test against a value computed independently (numerical
 * integration of Student's density): means 0 and 1, sd 1 and 2, n 10 and 5
 * give t = 1.05409255, df = 5.02758621, p = 0.339840151. */
static void test_stats_welch_matches_reference(void)
{
    StatsWelch w;
    T_TRUE(stats_welch(0, 1, 10, 1, 2, 5, &w));
    T_NEAR(w.t, 1.0540925533894598, 1e-12);
    T_NEAR(w.df, 5.027586206896551, 1e-12);
    T_NEAR(w.se, 0.9486832980505138, 1e-12);
    T_NEAR(w.p, 0.33984015145668944, 1e-7);
    T_TRUE(stats_welch(1, 2, 5, 0, 1, 10, &w)); /* symmetric: the sign of t flips, p stays */
    T_NEAR(w.t, -1.0540925533894598, 1e-12);
    T_NEAR(w.p, 0.33984015145668944, 1e-7);
    T_FALSE(stats_welch(0, 1, 1, 1, 2, 5, &w)); /* n < 2 */
    T_TRUE(isnan(w.p));
    T_FALSE(stats_welch(3, 0, 10, 4, 0, 5, &w)); /* both constant: no test */
    T_NEAR(w.se, 0, 0);
}

T_SUITE_MAIN("stats", {"t_quantiles_match_tables", test_stats_t_quantiles_match_tables},
             {"summary_of_one_to_five", test_stats_summary_of_one_to_five},
             {"summary_of_textbook_sample", test_stats_summary_of_textbook_sample},
             {"single_value_has_no_interval", test_stats_single_value_has_no_interval},
             {"non_finite_values_are_skipped", test_stats_non_finite_values_are_skipped},
             {"empty_sample_is_all_nan", test_stats_empty_sample_is_all_nan},
             {"constant_sample_has_zero_width", test_stats_constant_sample_has_zero_width},
             {"welch_matches_reference", test_stats_welch_matches_reference})
