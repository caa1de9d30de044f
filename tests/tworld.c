/* tworld: small test worlds from scenario text; see tworld.h. */
#include "tworld.h"

#include <stdio.h>

bool tworld_new(TWorld *t, const char *json, const char *origin, const char *pcap)
{
    GError *err = NULL;
    t->w = NULL;
    t->scn = scenario_load_text(json, origin, NULL, &err);
    if (!t->scn) {
        fprintf(stderr, "scenario: %s\n", err->message);
        g_error_free(err);
        return false;
    }
    t->w = world_new(scenario_spec_get(t->scn), EVQ_BUCKET, pcap, &err);
    if (!t->w) {
        fprintf(stderr, "world: %s\n", err->message);
        g_error_free(err);
        return false;
    }
    return true;
}

void tworld_free(TWorld *t)
{
    world_free(t->w);
    scenario_free(t->scn);
}

double tworld_metric(const TWorld *t, const char *name)
{
    Metrics *m = world_metrics(t->w);
    uint32_t id = metrics_find(m, name);
    return id ? metrics_value(m, id) : 0;
}
