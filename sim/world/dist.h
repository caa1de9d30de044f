/* dist: draws from a scenario's distributions (ScenarioDist) with GSL.
 *
 * Layer: sim/world. Used by the churn (world.c) and the workload
 * (workload.c); the random stream is the caller's, so each process keeps
 * its own draws. Values are in the distribution's unit (seconds for times,
 * a count for buddy lists).
 */
#ifndef SKYSIM_DIST_H
#define SKYSIM_DIST_H

#include "sim/kernel/rng.h"
#include "sim/world/scenario.h"

/* One draw of d from r, clipped to d->max when set, never negative. */
double dist_draw(const ScenarioDist *d, Rng *r);

/* The mean of d (infinite for a Pareto with shape <= 1; the cap is ignored). */
double dist_mean(const ScenarioDist *d);

#endif
