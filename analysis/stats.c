/* stats: mean, sample standard deviation and Student-t confidence
 * intervals; see stats.h. Two passes over the values (mean, then squared
 * deviations), which is exact enough for the tens to thousands of
 * repetitions a sweep has and avoids the cancellation of the one-pass
 * sum-of-squares formula.
 */
#include "analysis/stats.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

#include "protocol/base/check.h"

double stats_t_quantile(double p, size_t df)
{
    CHECK(df >= 1 && p > 0 && p < 1, "df=%zu p=%g", df, p);
    return gsl_cdf_tdist_Pinv(p, (double)df);
}

void stats_summarize(const double *x, size_t n, StatsSummary *out)
{
    *out = (StatsSummary){.n = 0, .mean = NAN, .sd = NAN, .ci95 = NAN, .min = NAN, .max = NAN};
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
