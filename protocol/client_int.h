/* client_int: what the two files of the client feature share (client.c,
 * natdet.c). Not for use outside them.
 */
#ifndef SKYSIM_CLIENT_INT_H
#define SKYSIM_CLIENT_INT_H

#include "protocol/client.h"

/* The node's client state (NULL-free: only called while the client runs). */
static inline ClientState *client__state(Node *n)
{
    return &n->cl;
}

/* ---- client.c ---- */
/* Persists the install record (port, installed flag, NAT type). */
void client__install_save(Node *n);

/* ---- natdet.c ---- */
/* Starts a detection against server (the node's supernode) unless one runs. */
void natdet__start(Node *n, EnvAddr server);
void natdet__on_timer(Node *n); /* CLIENT_TM_STUN */
void natdet__on_response(Node *n, EnvAddr from, const StunMsg *m);
void natdet__stop(Node *n);

#endif
