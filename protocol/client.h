/* client: the ordinary client feature (client.c, natdet.c): install
 * record, login rounds, the login-server exchange, the alternate node
 * table, keep-alives and polls, failover, the promotion check and NAT
 * detection. It sets the node's uplink (Node.uplink, uplink_addr) for
 * the features that talk through the supernode, and tells the others
 * what happened by events: NODE_EV_CLIENT_STARTED, LOGGED_IN,
 * SN_ATTACHED, NAT_DETECTED, SIGNAL and PROMOTE. It saves the install
 * record on NODE_EV_INSTALL_CHANGED.
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it
 * uses wire, crypto, stun, hostcache and env, and no other feature.
 */
#ifndef SKYSIM_CLIENT_H
#define SKYSIM_CLIENT_H

#include "protocol/node_int.h"

/* Connection kinds: the client's link to its supernode (login, then
 * keep-alives and everything the other features send through it) and its
 * connection to the login server. Bytes received on either are not
 * supernode traffic, even at a promoted client. */
enum { CONN_CL_SN = 1, CONN_CL_AUTH = 2 };

/* Timer kinds (low byte of the client's tags). */
enum {
    CLIENT_TM_PROBE = 1,   /* end of the UDP probe wait of a round */
    CLIENT_TM_ROUND,       /* end of the wait between rounds */
    CLIENT_TM_TCP,         /* one TCP attempt took too long */
    CLIENT_TM_AUTH,        /* login server exchange took too long */
    CLIENT_TM_ALT,         /* end of the alternate-table wait */
    CLIENT_TM_KEEPALIVE,   /* periodic keep-alive */
    CLIENT_TM_KA_TIMEOUT,  /* keep-alive unanswered */
    CLIENT_TM_POLL,        /* periodic UDP polls */
    CLIENT_TM_STUN,        /* STUN retransmission / test timeout (natdet.c) */
    CLIENT_TM_NAT_REFRESH, /* periodic NAT re-detection */
    CLIENT_TM_SWEEP,       /* periodic host-cache refresh sweep (a25) */
    CLIENT_TM_RETRY,       /* end of the pause after a give-up: log in again (a12) */
};

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature client_feature;

#endif
