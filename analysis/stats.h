/* stats: summary statistics of repeated runs: mean, sample standard
 * deviation and the half-width of the 95 % confidence interval of the mean.
 *
 * Layer: analysis (GSL only). The interval is Student's t: for n finite
 * values with mean m and sample standard deviation s (divisor n - 1), the
 * 95 % interval is m +- t_{0.975, n-1} * s / sqrt(n), the quantile from
 * gsl_cdf_tdist_Pinv. It assumes the runs are independent draws of a
 * roughly normal quantity, which is what repetitions with distinct seeds
 * give for a mean over many nodes. Values that are not finite (a metric a
 * run could not compute, e.g. a failover time with no failover) are left
 * out, and n counts only the finite ones.
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
} StatsSummary;

/* The p-quantile of Student's t distribution with df degrees of freedom
 * (df >= 1, 0 < p < 1), e.g. stats_t_quantile(0.975, 4) = 2.776445105. */
double stats_t_quantile(double p, size_t df);

/* Summarises the n values at x (borrowed; NaN and infinities skipped) into
 * *out. n may be 0. */
void stats_summarize(const double *x, size_t n, StatsSummary *out);

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
