/* phold: the PHOLD model; see phold.h. */
#include "sim/bench/phold.h"

#include <glib.h>
#include <math.h>

#include "sim/kernel/rng.h"
#include "sim/kernel/sim.h"

typedef struct Phold Phold;

/* An LP is the ctx of its events, so the kernel's prefetch of upcoming
 * handler contexts brings in the LP's state. */
typedef struct PholdLp {
    Rng rng;   /* this LP's stream */
    Phold *ph; /* the model */
} PholdLp;

struct Phold {
    const PholdConfig *cfg; /* borrowed */
    PholdLp *lp;            /* cfg->lps entries, owned */
    uint64_t checksum;      /* running hash */
    double mean_ns;         /* cfg->mean as double */
};

/* Delay of the next event: lookahead + Exp(mean), drawn from r by
 * inversion, -mean * ln(u) with u in (0, 1]. Written out rather than
 * calling gsl_ran_exponential() (same distribution, -mean * log1p(-u)):
 * log1p took a quarter of the run time of the 1,000-LP benchmark. */
static TimeNs phold_delay(Phold *ph, Rng *r)
{
    double u = (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
    return ph->cfg->lookahead + (TimeNs)(-ph->mean_ns * log(u));
}

static void phold_event(Sim *sim, void *ctx, uint64_t arg)
{
    PholdLp *lp = ctx;
    Phold *ph = lp->ph;
    uint32_t i = (uint32_t)arg;
    ph->checksum = rng_mix64(ph->checksum ^ ((uint64_t)sim_now(sim) * 0x9e3779b97f4a7c15ULL + i));
    Rng *r = &lp->rng;
    uint32_t dest = i;
    uint32_t n = ph->cfg->lps;
    if (n > 1 && rng_uniform(r) < ph->cfg->remote) {
        dest = (uint32_t)rng_below(r, n - 1);
        if (dest >= i) dest++;
    }
    sim_after(sim, phold_delay(ph, r), phold_event, &ph->lp[dest], dest);
}

void phold_run(const PholdConfig *cfg, PholdResult *res)
{
    Sim *sim = sim_new(cfg->seed, cfg->queue);
    Phold ph = {.cfg = cfg, .lp = g_new(PholdLp, cfg->lps), .mean_ns = (double)cfg->mean};
    for (uint32_t i = 0; i < cfg->lps; i++) {
        sim_rng_init(sim, &ph.lp[i].rng, i, 0);
        ph.lp[i].ph = &ph;
    }
    for (uint32_t i = 0; i < cfg->lps; i++) {
        for (uint32_t k = 0; k < cfg->population; k++) {
            sim_at(sim, phold_delay(&ph, &ph.lp[i].rng) - cfg->lookahead, phold_event, &ph.lp[i], i);
        }
    }
    sim_run_until(sim, cfg->end);
    res->events = sim_events_executed(sim);
    res->checksum = ph.checksum;
    res->pending_end = sim_events_pending(sim);
    res->queue_bytes = evq_bytes(sim_evq(sim));
    sim_free(sim);
    g_free(ph.lp);
}
