/* rng: per-entity random streams (xoshiro256**, 32 bytes of state).
 *
 * Layer: sim/kernel. DESIGN.md "Randomness": one master seed per run; every
 * entity (node, link, churn process, workload) draws from its own stream
 * derived from (seed, entity id, stream id), so adding an entity never
 * changes another's draws. Derivation hashes the three numbers with the
 * SplitMix64 finaliser and expands the result with SplitMix64 into the four
 * state words (the seeding Blackman and Vigna recommend for xoshiro).
 * GSL's distributions work on a stream through a gsl_rng view made on the
 * stack (rng_gsl()): no allocation and no copy of the state.
 */
#ifndef SKYSIM_RNG_H
#define SKYSIM_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4]; /* xoshiro256** state, never all zero */
} Rng;

_Static_assert(sizeof(Rng) <= 32, "random stream state budget is 32 bytes");

/* The gsl_rng_type of skysim streams ("skysim-xoshiro256ss"): also usable
 * with gsl_rng_alloc() (gsl_rng_set() seeds it with SplitMix64). Its get()
 * returns 32 bits; get_double() uses 53 bits. */
extern const gsl_rng_type *rng_gsl_type;

/* Initialises r as the stream for (seed, entity, stream). */
void rng_init(Rng *r, uint64_t seed, uint64_t entity, uint64_t stream);

/* Next 64 random bits. */
static inline uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform double in [0, 1), 53 random bits. */
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method). */
uint64_t rng_below(Rng *r, uint64_t n);

/* A gsl_rng that draws from r, for GSL's distributions:
 *     gsl_rng g; gsl_ran_exponential(rng_gsl(r, &g), mean);
 * storage: the caller's gsl_rng, valid while r is. Returns storage. */
static inline gsl_rng *rng_gsl(Rng *r, gsl_rng *storage)
{
    storage->type = rng_gsl_type;
    storage->state = r;
    return storage;
}

/* SplitMix64 finaliser (a bijective 64-bit mixer), also used for checksums. */
static inline uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
