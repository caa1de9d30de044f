/* phold: the PHOLD benchmark model (Fujimoto 1990) on the skysim kernel.
 *
 * Layer: sim/bench (uses sim/kernel only). N logical processes (LPs) start
 * with P events each. An event at LP i schedules one new event, at a
 * uniformly chosen other LP with probability `remote` (else at i itself),
 * after lookahead + an exponential delay of mean `mean`. All draws come from
 * LP i's own random stream, so a run is a pure function of its config.
 * The checksum folds (time, LP) of every executed event in order: two runs
 * with the same checksum executed the same events in the same order.
 */
#ifndef SKYSIM_PHOLD_H
#define SKYSIM_PHOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/base/timens.h"
#include "sim/kernel/evq.h"

typedef struct PholdConfig {
    uint32_t lps;        /* logical processes, >= 1 */
    uint32_t population; /* initial events per LP */
    double remote;       /* probability an event goes to another LP, [0, 1] */
    TimeNs lookahead;    /* minimum delay, ns */
    TimeNs mean;         /* mean of the exponential extra delay, ns */
    TimeNs end;          /* run until this virtual time, ns */
    uint64_t seed;       /* master seed */
    EvqKind queue;       /* event queue structure */
} PholdConfig;

typedef struct PholdResult {
    uint64_t events;       /* handlers executed */
    uint64_t checksum;     /* order-sensitive hash of (time, LP) */
    size_t pending_end;    /* events still pending at the end */
    size_t queue_bytes;    /* event queue storage at the end, bytes */
} PholdResult;

/* Runs PHOLD; fills *res. The Sim is created and freed inside. */
void phold_run(const PholdConfig *cfg, PholdResult *res);

#endif
