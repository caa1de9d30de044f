/* call: the calls feature (call.c, relay.c, gateway.c): two-party calls
 * at the clients, media relay sessions at the supernodes, and the phone
 * gateway (NODE_ROLE_GATEWAY), which runs the callee side of many calls
 * at once. One feature because all three speak the same messages
 * (WIRE_CALL, WIRE_CALL_UDP, WIRE_CALL_MEDIA, told apart by sub-kind and
 * by the connection they come on) and the gateway is the callee logic in a
 * multi-session mode.
 *
 * What it claims: the three message types (datagrams and frames, on any
 * connection: LOCATE, NAT notes, relay binds and TCP relay media reach a
 * supernode on its own connection kinds), the connection kinds below, the
 * hello of an accepted connection whose peer says HELLO_CALL, and accepted
 * connections of a client that is online or of a gateway. It listens to
 * NODE_EV_SIGNAL (call payloads), NODE_EV_NAT_DETECTED (a31: tells the
 * supernode when the node is or was on the open Internet) and
 * NODE_EV_SN_CONN_CLOSED (a relay leg's connection). What no call of this
 * node claims (a LOCATED of another session, relay answers and frames on
 * connections it does not own) it passes on as NODE_EV_CALL_UNCLAIMED:
 * the conference feature takes its own there.
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it uses
 * the services mediapath, media, hostcache, wire, crypto and env, reads the
 * supernode tier's tables (n->sn) and the uplink, and no other feature.
 */
#ifndef SKYSIM_CALL_H
#define SKYSIM_CALL_H

#include "protocol/node_int.h"

/* Connection kinds: the client side of a TCP relay leg; a direct
 * signalling connection (either end, a31; to and at the phone gateway). */
enum { CONN_CALL_RELAY = 32, CONN_CALL_SIG = 33 };

/* The defaults of the call, relay and gateway parameters (node_params_default). */
void call__params_default(NodeParams *p);

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature call_feature;

#endif
