/* stats: summary statistics of repeated runs: mean, sample standard
 * deviation and the half-width of the 95 % confidence interval of the mean.
 *
 * Layer: analysis (GSL; GLib). The half-width ci95 is Student's t: for n finite
 * values with mean m and sample standard deviation s (divisor n - 1), the
 * 95 % interval is m +- t_{0.975, n-1} * s / sqrt(n), the quantile from
 * gsl_cdf_tdist_Pinv. It assumes the runs are independent draws of a
 * roughly normal quantity, which is what repetitions with distinct seeds
 * give for a mean over many nodes. Values that are not finite (a metric a
 * run could not compute, e.g. a failover time with no failover) are left
 * out, and n counts only the finite ones. Beside it, bounds of an interval
 * that respects what the values can be (StatsBound: a fraction's interval
 * stays in [0, 1], a time's above 0), which is what the plots draw.
 */
#ifndef SKYSIM_STATS_H
#define SKYSIM_STATS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct StatsSummary {
    size_t n;    /* finite values summarised (count) */
    double mean; /* arithmetic mean, unit of the values; NaN when n = 0 */
    double sd;   /* sample standard deviation (divisor n - 1); NaN when n < 2 */
    double ci95; /* half-width of the 95 % confidence interval of the mean; NaN when n < 2 */
    double min;  /* smallest value; NaN when n = 0 */
    double max;  /* largest value; NaN when n = 0 */
    /* The 95 % interval of the mean as bounds, by the method of the
     * values' StatsBound (stats_summarize_bounded); NaN when n < 2.
     * stats_summarize gives mean -+ ci95 (Student t, unbounded). */
    double ci95_lo;
    double ci95_hi;
} StatsSummary;

/* What a metric's values can be, which decides its interval so that the
 * interval never leaves the values' range (analysis/README.md "Intervals"):
 *   STATS_UNBOUNDED  any real number: Student t, mean -+ t s / sqrt(n);
 *   STATS_NONNEG     >= 0 (times, counts, bytes, rates): with every value
 *                    > 0, Cox's interval for the mean of a log-normal
 *                    quantity (t on the log scale, with the s^2/2 term
 *                    that makes it an interval for the mean rather than
 *                    the median); with a zero among them, or when Cox's
 *                    interval misses the sample's own mean (values far
 *                    from log-normal), the percentile bootstrap of the
 *                    mean (fixed seed, so deterministic);
 *   STATS_FRACTION   in [0, 1] (each run's value a proportion): Clopper-
 *                    Pearson with the effective sample size of Korn and
 *                    Graubard (1998), p(1-p) / var(mean) scaled by
 *                    (z / t_{n-1})^2 and at most the trials behind the
 *                    runs (stats_fraction_ci), or the trials when the runs
 *                    do not vary or p is 0 or 1; the runs count as the
 *                    trials when those are not known.
 * Values outside the bound (a negative "non-negative" value) fall back to
 * Student t. */
typedef enum StatsBound {
    STATS_UNBOUNDED = 0,
    STATS_NONNEG = 1,
    STATS_FRACTION = 2,
} StatsBound;

/* Name of b ("real", "non-negative", "fraction"): a static string. */
const char *stats_bound_name(StatsBound b);

/* Clopper-Pearson ("exact") interval at confidence level (0 < level < 1)
 * for k successes of n trials, 0 <= k <= n, n > 0; k and n need not be
 * integers (effective counts). Beta quantiles from GSL: lo = 0 when k = 0,
 * hi = 1 when k = n, and 0 <= lo <= k/n <= hi <= 1 always. */
void stats_proportion_ci(double k, double n, double level, double *lo, double *hi);

/* The interval at level for the mean of the n values at x (borrowed; NaN
 * and infinities skipped) under bound b, as described at StatsBound.
 * Writes NaN to both when fewer than 2 values are finite. */
void stats_mean_ci(const double *x, size_t n, StatsBound b, double level, double *lo, double *hi);

/* The p-quantile of Student's t distribution with df degrees of freedom
 * (df >= 1, 0 < p < 1), e.g. stats_t_quantile(0.975, 4) = 2.776445105. */
double stats_t_quantile(double p, size_t df);

/* Summarises the n values at x (borrowed; NaN and infinities skipped) into
 * *out. n may be 0. ci95_lo/ci95_hi are mean -+ ci95. */
void stats_summarize(const double *x, size_t n, StatsSummary *out);

/* STATS_FRACTION for the mean of n fractions that are, together, of
 * trials trials (the logins of all the runs, say); NaN or < 1: not known,
 * which is stats_mean_ci(x, n, STATS_FRACTION, ...). */
void stats_fraction_ci(const double *x, size_t n, double trials, double level, double *lo, double *hi);

/* The interval at level for the mean of values known to lie in [lo, hi]
 * (lo may be -INFINITY, hi INFINITY): both finite, the values mapped to
 * (x - lo) / (hi - lo) are a STATS_FRACTION (e.g. a MOS in [1, 5]); only
 * lo finite, x - lo is STATS_NONNEG; else STATS_UNBOUNDED. The interval is
 * mapped back, so it stays within [lo, hi]. trials: as stats_fraction_ci
 * for a fraction (NaN when not known or not a fraction). */
void stats_mean_ci_range(const double *x, size_t n, double lo, double hi, double trials, double level,
                         double *ci_lo, double *ci_hi);

/* The same as stats_summarize, with ci95_lo/ci95_hi from
 * stats_mean_ci_range(x, n, lo, hi, trials, 0.95); ci95 stays the
 * Student-t half-width. */
void stats_summarize_bounded(const double *x, size_t n, double lo, double hi, double trials,
                             StatsSummary *out);
/* Welch's unequal-variances t test of two samples given by their summaries
 * (mean, sample standard deviation, count): t = (m2 - m1) / se with
 * se = sqrt(sd1^2/n1 + sd2^2/n2), Welch-Satterthwaite degrees of freedom,
 * and the two-sided p-value 2 Q(|t|) of Student's t (gsl_cdf_tdist_Q). */
typedef struct StatsWelch {
    double t;  /* the statistic, sign of m2 - m1 (dimensionless) */
    double df; /* Welch-Satterthwaite degrees of freedom (may be fractional) */
    double se; /* standard error of m2 - m1, unit of the values */
    double p;  /* two-sided p-value, in [0, 1] */
} StatsWelch;

/* Fills *out and returns true when the test is defined: n1, n2 >= 2,
 * finite means and standard deviations, and se > 0. Otherwise returns false
 * and *out holds NaNs (se is still set when finite). */
bool stats_welch(double m1, double sd1, size_t n1, double m2, double sd2, size_t n2,
                 StatsWelch *out);

#endif
