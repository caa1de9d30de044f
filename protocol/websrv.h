/* websrv: the start-up HTTP exchange (websrv.c), both ends. The web
 * server role answers "installed" and "getlatestversion" requests on the
 * connections it accepts; a client, once NODE_EV_CLIENT_STARTED says it is
 * bound, asks them in turn on one connection and emits
 * NODE_EV_INSTALL_CHANGED when "installed" was acknowledged (the client
 * feature persists its install record then).
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it
 * uses env and no other feature.
 */
#ifndef SKYSIM_WEBSRV_H
#define SKYSIM_WEBSRV_H

#include "protocol/node_int.h"

/* Connection kinds (raw HTTP): a client's connection to the web server,
 * and one accepted by the web server. */
enum { CONN_CL_HTTP = 3, CONN_WEB_IN = 8 };

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature websrv_feature;

#endif
