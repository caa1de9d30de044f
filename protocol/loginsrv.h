/* loginsrv: the login server feature (loginsrv.c). It takes the TCP
 * connections accepted by a NODE_ROLE_LOGIN_SERVER node and certifies
 * LOGIN_REQs; before sending a certificate it emits
 * NODE_EV_LOGIN_CERTIFYING so that other features (presence) can send
 * their messages first on the same connection.
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it
 * uses wire, crypto and env, and no other feature.
 */
#ifndef SKYSIM_LOGINSRV_H
#define SKYSIM_LOGINSRV_H

#include "protocol/node_int.h"

/* Connection kind: a client's connection to the login server. */
enum { CONN_LS_IN = 7 };

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature loginsrv_feature;

#endif
