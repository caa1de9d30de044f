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

/* ------------------------------------------------ bounded intervals */

/* Clopper-Pearson at the edges: 0 of 3 is [0, 1 - 0.025^(1/3)], 3 of 3 is
 * [0.025^(1/3), 1]; 1 of 10 is the textbook [0.00253, 0.44502]. */
static void test_stats_proportion_ci_edges(void)
{
    double lo, hi;
    stats_proportion_ci(0, 3, 0.95, &lo, &hi);
    T_NEAR(lo, 0.0, 0);
    T_NEAR(hi, 1 - pow(0.025, 1.0 / 3), 1e-9);
    stats_proportion_ci(3, 3, 0.95, &lo, &hi);
    T_NEAR(lo, pow(0.025, 1.0 / 3), 1e-9);
    T_NEAR(hi, 1.0, 0);
    stats_proportion_ci(1, 10, 0.95, &lo, &hi);
    T_NEAR(lo, 0.002528578, 1e-8);
    T_NEAR(hi, 0.445016117, 1e-8);
}

/* The property the plots rely on: whatever the values, an interval stays
 * within its metric's bounds and holds the mean (for fractions and the
 * bootstrap) -- here with the small n and large spreads that sent the
 * Student-t bars below 0 and above 1. */
static void t_expect_within(const double *x, size_t n, StatsBound b, double floor_, double ceil_)
{
    double lo, hi, sum = 0;
    stats_mean_ci(x, n, b, 0.95, &lo, &hi);
    for (size_t i = 0; i < n; i++) sum += x[i];
    T_TRUE(isfinite(lo) && isfinite(hi));
    T_TRUE(lo >= floor_);
    T_TRUE(hi <= ceil_);
    T_TRUE(lo <= hi);
    if (b == STATS_FRACTION) T_TRUE(lo <= sum / (double)n && sum / (double)n <= hi);
}

static void test_stats_intervals_stay_in_bounds(void)
{
    /* Fractions: every run 0, every run 1, one run off, near the edges. */
    const double none[] = {0, 0, 0}, all[] = {1, 1, 1}, one_off[] = {1, 1, 0};
    const double high[] = {0.98, 1, 0.99}, low[] = {0.001, 0, 0.02}, mid[] = {0.625, 0.5625, 0.6875};
    t_expect_within(none, 3, STATS_FRACTION, 0, 1);
    t_expect_within(all, 3, STATS_FRACTION, 0, 1);
    t_expect_within(one_off, 3, STATS_FRACTION, 0, 1);
    t_expect_within(high, 3, STATS_FRACTION, 0, 1);
    t_expect_within(low, 3, STATS_FRACTION, 0, 1);
    t_expect_within(mid, 3, STATS_FRACTION, 0, 1);
    /* Student t on the same values leaves [0, 1]: the reason for all this. */
    StatsSummary s;
    stats_summarize(high, 3, &s);
    T_TRUE(s.ci95_hi > 1);
    stats_summarize(one_off, 3, &s);
    T_TRUE(s.ci95_lo < 0 || s.ci95_hi > 1);
    /* Non-negative: small n, spreads of two to three orders of magnitude,
     * zeros among them. */
    const double spread[] = {0.01, 0.02, 5}, latency[] = {0.1, 0.2, 1.5};
    const double zeros[] = {0, 0, 4}, two[] = {0, 7};
    t_expect_within(spread, 3, STATS_NONNEG, 0, INFINITY);
    t_expect_within(latency, 3, STATS_NONNEG, 0, INFINITY);
    t_expect_within(zeros, 3, STATS_NONNEG, 0, INFINITY);
    t_expect_within(two, 2, STATS_NONNEG, 0, INFINITY);
    stats_summarize(latency, 3, &s);
    T_TRUE(s.ci95_lo < 0);
    double lo, hi;
    stats_mean_ci(latency, 3, STATS_NONNEG, 0.95, &lo, &hi);
    T_TRUE(lo > 0 && lo < 0.6 && hi > 0.6); /* holds the mean 0.6 */
}

/* The methods behind the bounds, against hand computations. */
static void test_stats_interval_methods(void)
{
    double lo, hi;
    /* Every run the same fraction: Clopper-Pearson with n = runs. */
    const double all[] = {1, 1, 1};
    stats_mean_ci(all, 3, STATS_FRACTION, 0.95, &lo, &hi);
    T_NEAR(lo, pow(0.025, 1.0 / 3), 1e-9);
    T_NEAR(hi, 1.0, 0);
    /* Runs that vary: effective n = p(1-p)/var(mean) (z/t)^2; for
     * {0.5, 0.6, 0.7}: p 0.6, var(mean) 0.01/3, n_eff = 72 * (1.959964 /
     * 4.302653)^2 = 14.94; the interval is Clopper-Pearson of 8.96 of
     * 14.94. */
    const double var3[] = {0.5, 0.6, 0.7};
    double z = 1.959963985, t = 4.302652730, n_eff = 0.24 / (0.01 / 3) * (z / t) * (z / t);
    double want_lo, want_hi;
    stats_proportion_ci(0.6 * n_eff, n_eff, 0.95, &want_lo, &want_hi);
    stats_mean_ci(var3, 3, STATS_FRACTION, 0.95, &lo, &hi);
    T_NEAR(lo, want_lo, 1e-9);
    T_NEAR(hi, want_hi, 1e-9);
    T_TRUE(lo > 0.3 && hi < 0.9);
    /* Positive values: Cox, exp(ybar + s2/2 -+ t sqrt(s2/n + s2^2/(2(n-1)))). */
    const double pos[] = {0.4, 0.5, 0.45};
    stats_mean_ci(pos, 3, STATS_NONNEG, 0.95, &lo, &hi);
    T_NEAR(lo, 0.3412931283, 1e-9);
    T_NEAR(hi, 0.5958165899, 1e-9);
    /* A zero among them: the percentile bootstrap, within [min, max], and
     * the same bytes every time. */
    const double zeros[] = {0, 2, 3, 1, 0};
    double lo2, hi2;
    stats_mean_ci(zeros, 5, STATS_NONNEG, 0.95, &lo, &hi);
    stats_mean_ci(zeros, 5, STATS_NONNEG, 0.95, &lo2, &hi2);
    T_TRUE(lo >= 0 && lo < 1.2 && hi > 1.2 && hi <= 3);
    T_NEAR(lo, lo2, 0);
    T_NEAR(hi, hi2, 0);
    /* 29 equal values and one outlier: far from log-normal, Cox's interval
     * would end below the mean (34.3); the bootstrap holds it. */
    double outlier[30];
    for (int i = 0; i < 30; i++) outlier[i] = i < 29 ? 1 : 1000;
    stats_mean_ci(outlier, 30, STATS_NONNEG, 0.95, &lo, &hi);
    T_TRUE(lo >= 1 && lo <= 34.3 && 34.3 <= hi && hi <= 1000);
    /* Unbounded: Student t, as stats_summarize. */
    const double x[] = {1, 2, 3, 4, 5};
    stats_mean_ci(x, 5, STATS_UNBOUNDED, 0.95, &lo, &hi);
    T_NEAR(lo, 3 - 1.963243161, 1e-8);
    T_NEAR(hi, 3 + 1.963243161, 1e-8);
    /* A "non-negative" value below 0 falls back to t; one value: no interval. */
    const double neg[] = {-1, 1};
    stats_mean_ci(neg, 2, STATS_NONNEG, 0.95, &lo, &hi);
    T_NEAR(lo, -12.70620474, 1e-7);
    stats_mean_ci(x, 1, STATS_FRACTION, 0.95, &lo, &hi);
    T_TRUE(isnan(lo) && isnan(hi));
    T_STR_EQ(stats_bound_name(STATS_FRACTION), "fraction");
    T_STR_EQ(stats_bound_name(STATS_NONNEG), "non-negative");
    T_STR_EQ(stats_bound_name(STATS_UNBOUNDED), "real");
}

/* A fraction whose trials are known: three runs of 300 logins each, all
 * successful, are 900 of 900 ([0.025^(1/900), 1]), not 3 of 3; runs that
 * vary keep Korn and Graubard's n_eff while it is below the trials, and
 * are capped at the trials above. */
static void test_stats_fraction_with_trials(void)
{
    double lo, hi, want_lo, want_hi;
    const double all[] = {1, 1, 1}, var3[] = {0.5, 0.6, 0.7}, close[] = {0.6, 0.6001, 0.5999};
    stats_fraction_ci(all, 3, 900, 0.95, &lo, &hi);
    T_NEAR(lo, pow(0.025, 1.0 / 900), 1e-9);
    T_NEAR(hi, 1.0, 0);
    T_TRUE(lo > 0.99);
    stats_fraction_ci(all, 3, NAN, 0.95, &lo, &hi); /* unknown: the runs */
    T_NEAR(lo, pow(0.025, 1.0 / 3), 1e-9);
    stats_fraction_ci(var3, 3, 900, 0.95, &lo, &hi); /* n_eff 14.9 < 900: as without trials */
    stats_mean_ci(var3, 3, STATS_FRACTION, 0.95, &want_lo, &want_hi);
    T_NEAR(lo, want_lo, 1e-12);
    T_NEAR(hi, want_hi, 1e-12);
    stats_fraction_ci(close, 3, 30, 0.95, &lo, &hi); /* n_eff far above 30: 18 of 30 */
    stats_proportion_ci(0.6 * 30, 30, 0.95, &want_lo, &want_hi);
    T_NEAR(lo, want_lo, 1e-9);
    T_NEAR(hi, want_hi, 1e-9);
    StatsSummary s;
    stats_summarize_bounded(all, 3, 0, 1, 900, &s);
    T_NEAR(s.ci95_lo, pow(0.025, 1.0 / 900), 1e-9);
}

/* A range [lo, hi]: a MOS in [1, 5] is a fraction of the scale, a value
 * >= 0 non-negative, an open range Student t. */
static void test_stats_interval_in_a_range(void)
{
    double lo, hi, want_lo, want_hi;
    const double mos[] = {4.4, 4.5, 4.3}, top[] = {5, 5, 5};
    const double frac[] = {(4.4 - 1) / 4, (4.5 - 1) / 4, (4.3 - 1) / 4};
    stats_mean_ci_range(mos, 3, 1, 5, NAN, 0.95, &lo, &hi);
    stats_mean_ci(frac, 3, STATS_FRACTION, 0.95, &want_lo, &want_hi);
    T_NEAR(lo, 1 + 4 * want_lo, 1e-12);
    T_NEAR(hi, 1 + 4 * want_hi, 1e-12);
    T_TRUE(lo >= 1 && hi <= 5 && lo < 4.4 && hi > 4.4);
    stats_mean_ci_range(top, 3, 1, 5, NAN, 0.95, &lo, &hi);
    T_TRUE(lo >= 1 && lo < 5);
    T_NEAR(hi, 5.0, 0);
    const double t[] = {0.1, 0.2, 1.5};
    stats_mean_ci_range(t, 3, 0, INFINITY, NAN, 0.95, &lo, &hi);
    stats_mean_ci(t, 3, STATS_NONNEG, 0.95, &want_lo, &want_hi);
    T_NEAR(lo, want_lo, 0);
    T_NEAR(hi, want_hi, 0);
    stats_mean_ci_range(t, 3, -INFINITY, INFINITY, NAN, 0.95, &lo, &hi);
    T_TRUE(lo < 0); /* Student t: what the bounded ranges avoid */
    StatsSummary s;
    stats_summarize_bounded(t, 3, 0, INFINITY, NAN, &s);
    T_NEAR(s.ci95_lo, want_lo, 0);
    T_NEAR(s.ci95_hi, want_hi, 0);
    T_NEAR(s.mean, 0.6, 1e-12);
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
             {"proportion_ci_edges", test_stats_proportion_ci_edges},
             {"intervals_stay_in_bounds", test_stats_intervals_stay_in_bounds},
             {"interval_methods", test_stats_interval_methods},
             {"interval_in_a_range", test_stats_interval_in_a_range},
             {"fraction_with_trials", test_stats_fraction_with_trials},
             {"welch_matches_reference", test_stats_welch_matches_reference})
