/* tpeer: a scripted peer for the protocol suites: a host with no node that
 * speaks the wire format by hand (TCP hello, sealed frames, sealed
 * datagrams) and reads back what a node sent it, so that one feature can
 * be driven alone. Shared by test_loginsrv.c, test_featalone.c and
 * test_call.c. Functions report failures by return value (no CUnit here). */
#ifndef SKYSIM_TPEER_H
#define SKYSIM_TPEER_H

#include "fakeenv.h"
#include "protocol/crypto.h"
#include "protocol/wire.h"

typedef struct TPeer {
    FakeEnv *h;     /* its host */
    Env e;          /* its env */
    Crypto *c;      /* owned */
    EnvConn conn;   /* its TCP connection, once connected */
    EnvSock udp;    /* its UDP socket, when a test binds one */
    uint32_t ip;    /* its address */
    uint8_t tx[32]; /* stream key of our direction */
    uint32_t txc;   /* frames sent */
} TPeer;

/* A new host at ip (its inbox captured). */
void tpeer_new(TPeer *p, FakeWorld *w, uint32_t ip);
/* Connects to `to`, lets 100 ms pass, then (role != 0) sends our hello
 * with stream seed `seed` and role. Returns an EnvStatus. */
int tpeer_connect(TPeer *p, FakeWorld *w, EnvAddr to, uint32_t seed, uint8_t role);
/* Sends one plaintext message body / one message as a sealed frame. */
int tpeer_send_body(TPeer *p, const uint8_t *body, size_t len);
int tpeer_send(TPeer *p, const WireMsg *m);
/* Decodes what the node sent on our connection: its hello (its role into
 * *role when not NULL), then up to max messages into out (their blobs
 * borrow store, cap bytes). *closed: the close status, 0 while open.
 * Returns the number of messages. */
size_t tpeer_read(TPeer *p, WireMsg *out, size_t max, uint8_t *store, size_t cap, int *closed,
                  uint8_t *role);
/* Aborts the connection, closes the socket, frees the crypto. */
void tpeer_free(TPeer *p);

#endif
