/* phold: the PHOLD model; see phold.h. */
#include "sim/bench/phold.h"

#include <glib.h>
#include <gsl/gsl_randist.h>

#include "sim/kernel/rng.h"
#include "sim/kernel/sim.h"

typedef struct PholdLp {
    Rng rng; /* this LP's stream */
} PholdLp;

typedef struct Phold {
    const PholdConfig *cfg; /* borrowed */
    PholdLp *lp;            /* cfg->lps entries, owned */
    uint64_t checksum;      /* running hash */
    double mean_ns;         /* cfg->mean as double */
} Phold;

/* Delay of the next event: lookahead + Exp(mean), drawn from r. */
static TimeNs phold_delay(Phold *ph, Rng *r)
{
    gsl_rng g;
    double x = gsl_ran_exponential(rng_gsl(r, &g), ph->mean_ns);
    return ph->cfg->lookahead + (TimeNs)x;
}

static void phold_event(Sim *sim, void *ctx, uint64_t arg)
{
    Phold *ph = ctx;
    uint32_t i = (uint32_t)arg;
    ph->checksum = rng_mix64(ph->checksum ^ ((uint64_t)sim_now(sim) * 0x9e3779b97f4a7c15ULL + i));
    Rng *r = &ph->lp[i].rng;
    uint32_t dest = i;
    uint32_t n = ph->cfg->lps;
    if (n > 1 && rng_uniform(r) < ph->cfg->remote) {
        dest = (uint32_t)rng_below(r, n - 1);
        if (dest >= i) dest++;
    }
    sim_after(sim, phold_delay(ph, r), phold_event, ph, dest);
}

void phold_run(const PholdConfig *cfg, PholdResult *res)
{
    Sim *sim = sim_new(cfg->seed, cfg->queue);
    Phold ph = {.cfg = cfg, .lp = g_new(PholdLp, cfg->lps), .mean_ns = (double)cfg->mean};
    for (uint32_t i = 0; i < cfg->lps; i++) sim_rng_init(sim, &ph.lp[i].rng, i, 0);
    for (uint32_t i = 0; i < cfg->lps; i++) {
        for (uint32_t k = 0; k < cfg->population; k++) {
            gsl_rng g;
            double x = gsl_ran_exponential(rng_gsl(&ph.lp[i].rng, &g), ph.mean_ns);
            sim_at(sim, (TimeNs)x, phold_event, &ph, i);
        }
    }
    sim_run_until(sim, cfg->end);
    res->events = sim_events_executed(sim);
    res->checksum = ph.checksum;
    res->pending_end = sim_events_pending(sim);
    res->queue_bytes = evq_bytes(sim_evq(sim));
    res->events_high = sim_events_high_water(sim);
    sim_free(sim);
    g_free(ph.lp);
}
