/* stats: mean, sample standard deviation, Student-t confidence intervals
 * and intervals that respect a metric's bounds; see stats.h. Two passes over the values (mean, then squared
 * deviations), which is exact enough for the tens to thousands of
 * repetitions a sweep has and avoids the cancellation of the one-pass
 * sum-of-squares formula.
 */
#include "analysis/stats.h"

#include <glib.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "protocol/base/check.h"

double stats_t_quantile(double p, size_t df)
{
    CHECK(df >= 1 && p > 0 && p < 1, "df=%zu p=%g", df, p);
    return gsl_cdf_tdist_Pinv(p, (double)df);
}

const char *stats_bound_name(StatsBound b)
{
    switch (b) {
    case STATS_NONNEG: return "non-negative";
    case STATS_FRACTION: return "fraction";
    case STATS_UNBOUNDED: break;
    }
    return "real";
}

void stats_proportion_ci(double k, double n, double level, double *lo, double *hi)
{
    CHECK(n > 0 && k >= 0 && k <= n && level > 0 && level < 1, "k=%g n=%g level=%g", k, n, level);
    double a = (1 - level) / 2;
    *lo = k > 0 ? gsl_cdf_beta_Pinv(a, k, n - k + 1) : 0;
    *hi = k < n ? gsl_cdf_beta_Pinv(1 - a, k + 1, n - k) : 1;
}

/* Count, mean and sample variance of the finite values of x; false when
 * fewer than 2. */
static bool stats_moments(const double *x, size_t n, size_t *m, double *mean, double *var)
{
    double sum = 0;
    *m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) sum += x[i], (*m)++;
    if (*m < 2) return false;
    *mean = sum / (double)*m;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (double)(*m - 1);
    return true;
}

/* Student t: mean -+ t s / sqrt(m). */
static void stats_ci_t(size_t m, double mean, double var, double level, double *lo, double *hi)
{
    double h = stats_t_quantile(1 - (1 - level) / 2, m - 1) * sqrt(var / (double)m);
    *lo = mean - h;
    *hi = mean + h;
}

/* Korn and Graubard's Clopper-Pearson interval for the mean p of m
 * fractions with sample variance var, of trials trials in all (NaN: not
 * known, then the runs count as the trials). */
static void stats_ci_fraction(size_t m, double p, double var, double trials, double level, double *lo,
                              double *hi)
{
    bool known = isfinite(trials) && trials >= 1;
    double n_eff = known ? trials : (double)m, v = var / (double)m;
    if (v > 0 && p > 0 && p < 1) {
        double z = gsl_cdf_ugaussian_Pinv(1 - (1 - level) / 2);
        double t = stats_t_quantile(1 - (1 - level) / 2, m - 1);
        double kg = p * (1 - p) / v * (z / t) * (z / t);
        n_eff = known && kg > trials ? trials : kg;
    }
    double k = p * n_eff;
    if (k > n_eff) k = n_eff; /* rounding of p near 1 */
    stats_proportion_ci(k, n_eff, level, lo, hi);
}

/* Cox's interval for the mean of a log-normal quantity from m values, all
 * > 0: exp(ybar + s^2/2 -+ t sqrt(s^2/m + s^4/(2(m-1)))) with y = ln x. */
static void stats_ci_lognormal(const double *x, size_t n, size_t m, double level, double *lo,
                               double *hi)
{
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) sum += log(x[i]);
    double ybar = sum / (double)m;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (log(x[i]) - ybar) * (log(x[i]) - ybar);
    double s2 = ss / (double)(m - 1);
    double h = stats_t_quantile(1 - (1 - level) / 2, m - 1) *
               sqrt(s2 / (double)m + s2 * s2 / (2.0 * (double)(m - 1)));
    *lo = exp(ybar + s2 / 2 - h);
    *hi = exp(ybar + s2 / 2 + h);
}

/* Resamples of the percentile bootstrap, and its seed: fixed, so that the
 * same values always give the same interval (same bytes in table.csv). */
#define STATS_BOOT_RESAMPLES 4000
#define STATS_BOOT_SEED 20070402UL

static int stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile bootstrap of the mean of the m finite values of x: the
 * interval lies within [min, max]. */
static void stats_ci_bootstrap(const double *x, size_t n, size_t m, double level, double *lo,
                               double *hi)
{
    double *v = g_new(double, m), *means = g_new(double, STATS_BOOT_RESAMPLES);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) v[k++] = x[i];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, STATS_BOOT_SEED);
    for (size_t b = 0; b < STATS_BOOT_RESAMPLES; b++) {
        double sum = 0;
        for (size_t i = 0; i < m; i++) sum += v[gsl_rng_uniform_int(r, m)];
        means[b] = sum / (double)m;
    }
    gsl_rng_free(r);
    qsort(means, STATS_BOOT_RESAMPLES, sizeof *means, stats_cmp_double);
    double a = (1 - level) / 2;
    *lo = gsl_stats_quantile_from_sorted_data(means, 1, STATS_BOOT_RESAMPLES, a);
    *hi = gsl_stats_quantile_from_sorted_data(means, 1, STATS_BOOT_RESAMPLES, 1 - a);
    g_free(means);
    g_free(v);
}

/* stats_mean_ci, with the trials behind a fraction when known. */
static void stats_mean_ci_trials(const double *x, size_t n, StatsBound b, double trials, double level,
                                 double *lo, double *hi)
{
    CHECK(level > 0 && level < 1, "level=%g", level);
    size_t m;
    double mean, var;
    *lo = *hi = NAN;
    if (!stats_moments(x, n, &m, &mean, &var)) return;
    double min = INFINITY, max = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) min = fmin(min, x[i]), max = fmax(max, x[i]);
    if (b == STATS_FRACTION && min >= 0 && max <= 1) {
        stats_ci_fraction(m, mean, var, trials, level, lo, hi);
    } else if (b == STATS_NONNEG && min >= 0) {
        if (min > 0) stats_ci_lognormal(x, n, m, level, lo, hi);
        /* A zero among the values, or values far from log-normal (one
         * outlier among many equal ones) whose Cox interval misses their
         * own mean: the bootstrap, which stays around it. */
        if (!(min > 0 && *lo <= mean && mean <= *hi)) stats_ci_bootstrap(x, n, m, level, lo, hi);
    } else {
        stats_ci_t(m, mean, var, level, lo, hi);
    }
}

void stats_mean_ci(const double *x, size_t n, StatsBound b, double level, double *lo, double *hi)
{
    stats_mean_ci_trials(x, n, b, NAN, level, lo, hi);
}

void stats_fraction_ci(const double *x, size_t n, double trials, double level, double *lo, double *hi)
{
    stats_mean_ci_trials(x, n, STATS_FRACTION, trials, level, lo, hi);
}

void stats_mean_ci_range(const double *x, size_t n, double lo, double hi, double trials, double level,
                         double *ci_lo, double *ci_hi)
{
    CHECK(!(lo >= hi), "range [%g, %g]", lo, hi);
    if (!isfinite(lo)) {
        stats_mean_ci(x, n, STATS_UNBOUNDED, level, ci_lo, ci_hi);
        return;
    }
    double w = isfinite(hi) ? hi - lo : 1;
    double *y = g_new(double, n ? n : 1);
    for (size_t i = 0; i < n; i++) y[i] = (x[i] - lo) / w;
    stats_mean_ci_trials(y, n, isfinite(hi) ? STATS_FRACTION : STATS_NONNEG, trials, level, ci_lo,
                         ci_hi);
    g_free(y);
    *ci_lo = lo + *ci_lo * w;
    *ci_hi = lo + *ci_hi * w;
}

void stats_summarize_bounded(const double *x, size_t n, double lo, double hi, double trials,
                             StatsSummary *out)
{
    stats_summarize(x, n, out);
    stats_mean_ci_range(x, n, lo, hi, trials, 0.95, &out->ci95_lo, &out->ci95_hi);
}

void stats_summarize(const double *x, size_t n, StatsSummary *out)
{
    *out = (StatsSummary){.n = 0, .mean = NAN, .sd = NAN, .ci95 = NAN, .min = NAN, .max = NAN,
                          .ci95_lo = NAN, .ci95_hi = NAN};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        if (out->n == 0 || x[i] < out->min) out->min = x[i];
        if (out->n == 0 || x[i] > out->max) out->max = x[i];
        sum += x[i];
        out->n++;
    }
    if (out->n == 0) return;
    out->mean = sum / (double)out->n;
    if (out->n < 2) return;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->sd = sqrt(ss / (double)(out->n - 1));
    out->ci95 = stats_t_quantile(0.975, out->n - 1) * out->sd / sqrt((double)out->n);
    out->ci95_lo = out->mean - out->ci95;
    out->ci95_hi = out->mean + out->ci95;
}

bool stats_welch(double m1, double sd1, size_t n1, double m2, double sd2, size_t n2,
                 StatsWelch *out)
{
    *out = (StatsWelch){.t = NAN, .df = NAN, .se = NAN, .p = NAN};
    if (n1 < 2 || n2 < 2 || !isfinite(m1) || !isfinite(m2) || !isfinite(sd1) || !isfinite(sd2))
        return false;
    double v1 = sd1 * sd1 / (double)n1, v2 = sd2 * sd2 / (double)n2;
    out->se = sqrt(v1 + v2);
    if (!(out->se > 0)) return false;
    out->t = (m2 - m1) / out->se;
    out->df = (v1 + v2) * (v1 + v2) /
              (v1 * v1 / (double)(n1 - 1) + v2 * v2 / (double)(n2 - 1));
    out->p = 2 * gsl_cdf_tdist_Q(fabs(out->t), out->df);
    if (out->p > 1) out->p = 1;
    return true;
}
