/* faultenv: an Env wrapper that fails, drops or delays the Nth call of a
 * kind, after SQLite's test_vfs.c (STYLE.md §5, §8).
 *
 * It wraps any Env (normally a FakeEnv's): every call is forwarded to the
 * inner env and counted per kind; an injected fault applies to the Nth call
 * of its kind counted from the moment it is injected (and, when persistent,
 * to every call after it). Delays need a FakeEnv to schedule the late send.
 * Events still flow from the inner env to the node directly: the wrapper
 * only sits on the protocol -> env path, which is all faults need.
 */
#ifndef SKYSIM_TEST_FAULTENV_H
#define SKYSIM_TEST_FAULTENV_H

#include "fakeenv.h"
#include "protocol/env.h"

typedef enum FaultKind {
    FAULT_UDP_SEND = 0,
    FAULT_UDP_BIND,
    FAULT_TCP_LISTEN,
    FAULT_TCP_CONNECT,
    FAULT_TCP_SEND,
    FAULT_STORE_GET,
    FAULT_STORE_PUT,
    FAULT_KIND_COUNT
} FaultKind;

typedef enum FaultAction {
    FAULT_FAIL = 1,     /* return `status` (store_get: -1, absent) and do nothing */
    FAULT_DROP = 2,     /* pretend success, do nothing (UDP/TCP send, store_put) */
    FAULT_DELAY = 3,    /* UDP send only: send after `delay` */
    FAULT_CORRUPT = 4,  /* store_get, udp send: flip the middle byte; tcp send: byte 2 */
    FAULT_TRUNCATE = 5, /* udp/tcp send: send only the first half */
} FaultAction;

typedef struct FaultEnv FaultEnv;

/* inner: copied; fake: the FakeEnv behind inner (for delays; may be NULL). */
FaultEnv *faultenv_new(const Env *inner, FakeEnv *fake);
void faultenv_free(FaultEnv *f);
Env faultenv_env(FaultEnv *f);
/* Injects a fault on the nth (1-based) next call of kind; persist: also on
 * every later call. */
void faultenv_inject(FaultEnv *f, FaultKind kind, unsigned nth, FaultAction action, int status,
                     TimeNs delay, bool persist);
/* Calls of kind seen so far, and faults applied. */
unsigned faultenv_calls(const FaultEnv *f, FaultKind kind);
unsigned faultenv_applied(const FaultEnv *f);

#endif
