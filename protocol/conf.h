/* conf: the conference feature (conf.c): conferences of more than two
 * participants through a mixing host or a full mesh (a43, a44).
 *
 * How messages reach it: conference payloads travel as signalling
 * (NODE_EV_SIGNAL, kinds from WIRE_CF_FIRST on), which it takes in its
 * on_event (the calls feature leaves them alone). The call messages of
 * its legs (the organiser's WIRE_CM_LOCATED answers, relay answers over
 * UDP, frames on its relay connections) are claimed by the calls feature,
 * which passes on what no call of the node claims as
 * NODE_EV_CALL_UNCLAIMED; conf takes its own from there. Voice datagrams
 * it takes before any decoding (on_raw_udp, ahead of the calls feature).
 * A client is in one call or one conference at a time: both features keep
 * Node.voice.
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it uses
 * the services mediapath (locating, signalling through the supernodes,
 * relay candidates and binding), media and env, and no other feature.
 */
#ifndef SKYSIM_CONF_H
#define SKYSIM_CONF_H

#include "protocol/node_int.h"

/* Connection kind: our side of a conference leg's TCP relay connection. */
enum { CONN_CONF_RELAY = 34 };

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature conf_feature;

#endif
