/* progress: wall-clock time for progress lines and engine statistics.
 *
 * Layer: sim/world, front-end support. The only reader of the wall clock
 * outside benchmarks and calibration: what it returns is shown to the user
 * (progress line, ETA) or written to the engine section of results.json,
 * which is kept apart from the deterministic results. It never feeds the
 * simulation (DESIGN.md "Time").
 */
#ifndef SKYSIM_PROGRESS_H
#define SKYSIM_PROGRESS_H

/* Seconds on a monotonic wall clock (arbitrary origin). */
double progress_wall_s(void);

#endif
