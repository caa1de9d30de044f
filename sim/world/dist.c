/* dist: draws from scenario distributions; see dist.h. */
#include "sim/world/dist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>

double dist_draw(const ScenarioDist *d, Rng *r)
{
    gsl_rng g;
    double x = 0;
    switch (d->kind) {
    case SCENARIO_DIST_CONSTANT: x = d->value; break;
    case SCENARIO_DIST_EXPONENTIAL: x = gsl_ran_exponential(rng_gsl(r, &g), d->mean); break;
    case SCENARIO_DIST_PARETO: x = gsl_ran_pareto(rng_gsl(r, &g), d->shape, d->scale); break;
    case SCENARIO_DIST_WEIBULL: x = gsl_ran_weibull(rng_gsl(r, &g), d->scale, d->shape); break;
    case SCENARIO_DIST_LOGNORMAL: x = gsl_ran_lognormal(rng_gsl(r, &g), d->mu, d->sigma); break;
    }
    if (d->max > 0 && x > d->max) x = d->max;
    return x < 0 ? 0 : x;
}

double dist_mean(const ScenarioDist *d)
{
    switch (d->kind) {
    case SCENARIO_DIST_CONSTANT: return d->value;
    case SCENARIO_DIST_EXPONENTIAL: return d->mean;
    case SCENARIO_DIST_PARETO: return d->shape > 1 ? d->shape * d->scale / (d->shape - 1) : INFINITY;
    case SCENARIO_DIST_WEIBULL: return d->scale * gsl_sf_gamma(1 + 1 / d->shape);
    case SCENARIO_DIST_LOGNORMAL: return exp(d->mu + d->sigma * d->sigma / 2);
    }
    return 0;
}

