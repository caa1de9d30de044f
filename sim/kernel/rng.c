/* rng: xoshiro256** streams and their gsl_rng type; see rng.h.
 * xoshiro256** is by Blackman and Vigna (2018), public domain. */
#include "sim/kernel/rng.h"

#include <string.h>

#define RNG_GOLDEN 0x9e3779b97f4a7c15ULL

static void rng_seed_words(Rng *r, uint64_t key)
{
    for (int i = 0; i < 4; i++) {
        key += RNG_GOLDEN;
        r->s[i] = rng_mix64(key);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = RNG_GOLDEN; /* never all zero */
}

void rng_init(Rng *r, uint64_t seed, uint64_t entity, uint64_t stream)
{
    /* Each id passes through the mixer before the next is added, so
     * (seed, entity, stream) triples that differ anywhere give unrelated keys. */
    uint64_t k = rng_mix64(seed + RNG_GOLDEN);
    k = rng_mix64(k ^ (entity + 0x632be59bd9b4e019ULL));
    k = rng_mix64(k ^ (stream + 0x8cb92ba72f3d8dd7ULL));
    rng_seed_words(r, k);
}

uint64_t rng_below(Rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (unsigned __int128)rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static void rng_gsl_set(void *state, unsigned long seed) { rng_seed_words(state, seed); }
static unsigned long rng_gsl_get(void *state) { return (unsigned long)(rng_next(state) >> 32); }
static double rng_gsl_get_double(void *state) { return rng_uniform(state); }

static const gsl_rng_type rng_gsl_type_def = {
    .name = "skysim-xoshiro256ss",
    .max = 0xffffffffUL,
    .min = 0,
    .size = sizeof(Rng),
    .set = rng_gsl_set,
    .get = rng_gsl_get,
    .get_double = rng_gsl_get_double,
};

const gsl_rng_type *rng_gsl_type = &rng_gsl_type_def;
