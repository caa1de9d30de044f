/* simmetric: names and kinds of the simulator's own metrics (see
 * simmetric.h). */
#include "sim/world/simmetric.h"

#include "protocol/base/check.h"

typedef struct SimMetricEntry {
    const char *name; /* concrete name, e.g. "world.online" */
    MetricsKind kind; /* counter, gauge or sample */
} SimMetricEntry;

#define SIMMETRIC_ENTRY_(id, name, kind) [id] = {name, kind},
static const SimMetricEntry simmetric_entries[SIMMETRIC_COUNT] = {
    SIMMETRIC_TABLE(SIMMETRIC_ENTRY_)};
#undef SIMMETRIC_ENTRY_

const char *simmetric_name(SimMetricId id)
{
    CHECK((unsigned)id < SIMMETRIC_COUNT, "simulator metric id %d", (int)id);
    return simmetric_entries[id].name;
}

MetricsKind simmetric_kind(SimMetricId id)
{
    CHECK((unsigned)id < SIMMETRIC_COUNT, "simulator metric id %d", (int)id);
    return simmetric_entries[id].kind;
}

uint32_t simmetric_intern(Metrics *m, SimMetricId id)
{
    return metrics_intern(m, simmetric_name(id), simmetric_kind(id));
}
