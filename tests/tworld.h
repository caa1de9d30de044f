/* tworld: small worlds for tests, built from scenario text (scenario ->
 * world -> envsim -> sim/net -> protocol), shared by the in-simulator
 * suites. */
#ifndef SKYSIM_TWORLD_H
#define SKYSIM_TWORLD_H

#include <stdbool.h>

#include "sim/world/world.h"

typedef struct TWorld {
    Scenario *scn; /* owned */
    World *w;      /* owned */
} TWorld;

/* Loads json (origin names it in messages) and builds its world, capturing
 * every packet into pcap when it is not NULL. Prints the error and returns
 * false when either step fails. */
bool tworld_new(TWorld *t, const char *json, const char *origin, const char *pcap);
void tworld_free(TWorld *t);

/* A counter's or gauge's value (a sample's count), 0 when never interned. */
double tworld_metric(const TWorld *t, const char *name);

#endif
