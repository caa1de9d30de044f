/* search: the global user index, user search and presence as one feature
 * (search.c: index and search, a27-a30; presence.c: buddy lists and
 * presence; search_int.h: what the two files share).
 *
 * Why one feature and not two. Presence is built on search: a client's
 * buddy lookups are searches of its own (they share the slots of in-flight
 * searches, and each one's end drives the next lookup and the
 * announcement), and at a supernode the presence watches hang off the
 * index entries of attached clients (an ANNOUNCE is answered from the
 * client's entry; a client leaving the index notifies its watchers).
 * Splitting them would need a search service exposed through events in
 * both directions plus a second state slot (NODE_FEAT_PRESENCE has none:
 * its id is above NODE_FEAT_SLOTS, and a slot costs every node 8 bytes),
 * so presence stays a part of this feature and NODE_FEAT_PRESENCE is not
 * registered.
 *
 * It answers the search and presence messages by type on any connection
 * (SEARCH_REQ .. BUDDY_LIST) and over UDP (SEARCH_Q, SEARCH_A, SN_NOTE),
 * and learns everything else from events: the supernode's role and its
 * clients (SN_STARTED, SN_STOPPING, SN_CLIENT_ATTACHED, DETACHED,
 * TOUCHED), the client's login (LOGGED_IN, SN_ATTACHED) and the login
 * server's certificate (LOGIN_CERTIFYING: the buddy list goes first). It
 * reads the supernode's client table (n->sn) and the uplink.
 *
 * Layer: protocol/, a feature over the node plumbing (node_int.h); it
 * uses wire, the host cache and env, and no other feature.
 */
#ifndef SKYSIM_SEARCH_H
#define SKYSIM_SEARCH_H

#include "protocol/node_int.h"

/* The feature's table, for node_shared_new_with. */
extern const NodeFeature search_feature;
/* Its defaults in NodeParams (node_params_default). */
void search__params_default(NodeParams *p);

#endif
