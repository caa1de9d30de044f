/* workload: what online users do, driven from the world's side (calls, conferences,
 * phone calls): user searches, and calls.
 *
 * Layer: sim/world. The workload owns its random streams (entity
 * WORKLOAD_ENTITY, one stream per activity), so adding a workload never
 * changes the protocol's or the churn's draws. It reaches nodes through the
 * public protocol API (protocol/node.h) only; the outcomes are counted by
 * the protocol's metrics.
 *
 * Buddy lists: drawn once at build from workload.buddies. A user with a
 * drawn size k befriends ceil(k/2) other users chosen uniformly; every
 * relation is mutual (Skype contacts are accepted both ways), so the mean
 * list size is about the distribution's mean. Lists are capped at
 * NODE_BUDDY_MAX (which can leave a few relations one-way).
 *
 * Searches: each online client searches at workload.search_rate per hour
 * (Poisson process, restarted at each login), for a buddy (half of the
 * time, when it has any) or a user drawn uniformly among all users.
 *
 * Calls: each online client places calls at workload.call_rate per hour
 * (Poisson process, restarted at each login; a draw that falls while the
 * user is in a call is skipped). Each call is, in this order of draws: a
 * conference with conference_share probability (conference_size
 * participants: the organiser, its buddies it sees online, then other
 * online idle users drawn uniformly; node_conf_start), a call to a phone
 * number with pstn_share probability (node_call_phone, through the
 * world's phone gateway), else a two-party call (node_call) to a buddy it sees online,
 * drawn uniformly, or to a user drawn uniformly among all users when no
 * buddy is online (who may be offline: the call then fails). Its length
 * is a draw of workload.call_duration (at least 1 s). The caller hangs up
 * at the end of that length (the callee ends on the BYE).
 *
 * Holds (own stream): while a two-party or phone call a client placed
 * lasts, it is put on hold at workload.hold_rate per hour (Poisson, the
 * first draw from the moment the call is placed; a draw that falls
 * before the call is connected is drawn again) and resumed after a draw
 * of workload.hold_duration (node_call_hold). Conferences are not held.
 */
#ifndef SKYSIM_WORKLOAD_H
#define SKYSIM_WORKLOAD_H

#include <stddef.h>

#include "protocol/node.h"
#include "sim/kernel/sim.h"
#include "sim/world/scenario.h"

typedef struct Workload Workload;

/* Names user i (0-based among the clients) into buf. */
typedef void (*WorkloadNameFn)(void *ctx, size_t client, char *buf, size_t size);
/* The node of client i while online, else NULL. */
typedef Node *(*WorkloadNodeFn)(void *ctx, size_t client);

/* Builds the workload for `clients` users: draws the buddy lists. spec and
 * sim are borrowed and must outlive it; ctx is passed to the callbacks. */
Workload *workload_new(Sim *sim, const ScenarioSpec *spec, size_t clients, WorkloadNameFn name,
                       WorkloadNodeFn node, void *ctx);
void workload_free(Workload *wl); /* NULL is a no-op */

/* Stores every user's buddy list at the login server (borrowed). */
void workload_buddies_register(const Workload *wl, Node *login_server);
/* Buddies of client i: count, and the j-th as a client index. */
size_t workload_buddy_count(const Workload *wl, size_t client);
size_t workload_buddy_get(const Workload *wl, size_t client, size_t j);

/* Client i came online / went offline: starts / stops its activities. */
void workload_client_online(Workload *wl, size_t client);
void workload_client_offline(Workload *wl, size_t client);

/* Searches asked so far (node_search accepted them). */
uint64_t workload_searches(const Workload *wl);
/* Two-party calls, conferences and calls to phone numbers placed so far
 * (the node accepted them). */
uint64_t workload_calls(const Workload *wl);
uint64_t workload_conferences(const Workload *wl);
uint64_t workload_phone_calls(const Workload *wl);

#endif
