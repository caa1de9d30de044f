/* supernode: the supernode role as a feature (supernode.c). It starts at
 * node start for the SUPERNODE and BOOTSTRAP roles and on NODE_EV_PROMOTE
 * (a promoted client); it owns the connections of attached clients and of
 * peer supernodes, accepts every TCP connection while the node serves,
 * answers probes, STUN and STUN_ASSIST, and routes FORWARD messages
 * (NODE_EV_SN_FORWARD).
 *
 * Its tables (SnState in node_int.h, the slot n->sn) are the one part of
 * its state other features read: search, presence and calls serve the
 * attached clients. It tells them what happens through events
 * (NODE_EV_SN_STARTED, SN_STOPPING, SN_CLIENT_ATTACHED, DETACHED, TOUCHED,
 * SN_CONN_CLOSED).
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it
 * uses wire, hostcache, stun and env, and no other feature.
 */
#ifndef SKYSIM_SUPERNODE_H
#define SKYSIM_SUPERNODE_H

#include "protocol/node_int.h"

/* Its connection kinds, CONN_SN_CLIENT and CONN_SN_PEER, are named in
 * node_int.h next to the tables whose conn fields index them. */

/* Timer kinds (node__timer_start with NODE_FEAT_SUPERNODE). */
enum { SN_TM_MAINT = 1 /* periodic: peer-link upkeep */ };

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature supernode_feature;

#endif
