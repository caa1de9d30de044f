/* call_int: internals shared by the files of the calls feature (call.c,
 * relay.c, gateway.c; see call.h). Not for use outside them.
 *
 * State: the feature keeps per-node state in three slots: the node's call
 * (NODE_FEAT_CALL's slot, NULL when idle; at a gateway, the call whose
 * event runs), the relay sessions (NODE_FEAT_RELAY's slot, NULL until a
 * first bind) and the gateway's table of calls (NODE_FEAT_GATEWAY's slot,
 * NULL unless the node is a gateway). Only the calls feature registers;
 * the other two ids name slots.
 */
#ifndef SKYSIM_CALL_INT_H
#define SKYSIM_CALL_INT_H

#include "protocol/call.h"
#include "protocol/mediapath.h"

typedef struct CallState CallState;       /* a node's call (call.c) */
typedef struct RelayState RelayState;     /* a supernode's relay sessions (relay.c) */
typedef struct GatewayState GatewayState; /* the phone gateway's calls (gateway.c) */

/* Timer kinds (node__timer_start with NODE_FEAT_CALL). */
enum {
    TM_CALL_MEDIA = 1, /* periodic: send the next media packet */
    TM_CALL_STEP,      /* one-shot: the current setup step took too long */
    TM_CALL_PUNCH,     /* periodic: next hole-punching packet */
    TM_CALL_END,       /* one-shot: the caller's call duration is over */
    TM_CALL_WATCH,     /* periodic: media watchdog (path lost?) */
    TM_RELAY_SWEEP,    /* periodic: relay frees idle sessions */
};

/* Why a call failed before it connected (call.failed.<cause>). */
enum {
    CALL_FAIL_NOT_LOCATED = 0, /* the callee was not found (index, then flood) */
    CALL_FAIL_NO_ANSWER,       /* INVITE sent, no answer within the step timeout */
    CALL_FAIL_BUSY,            /* the callee was in another call */
    CALL_FAIL_REFUSED,         /* the callee ended it first, or failed the challenge (a17) */
    CALL_FAIL_SIGNALLING,      /* no way to signal the callee could be opened */
    CALL_FAIL_NO_PATH,         /* answered, but no media path (punching, then relays) */
    CALL_FAIL_NO_SUPERNODE,    /* dialled without a supernode link */
    CALL_FAIL_COUNT
};

typedef struct CallMetrics {
    EnvMetric attempts, success, failure, dropped, reestablished, setup_s; /* outcomes */
    EnvMetric failed[CALL_FAIL_COUNT];                                  /* failures by cause */
    EnvMetric holds;                                                    /* holds begun */
    EnvMetric locate_fallbacks, sig_fallbacks, bridges, bridge_refused, relocations; /* locating, signalling */
    EnvMetric setup_caller_bytes, setup_callee_bytes, setup_caller_pkts, setup_callee_pkts, sig_dup;
    EnvMetric path[NODE_CALL_PATH_COUNT];                               /* path types */
    EnvMetric mos, r_factor, delay_ms, jitter_ms, loss;                 /* media quality */
    EnvMetric mouth_to_ear_ms, jitter_buffer_ms, ie_eff;                /* the E-model's inputs */
    EnvMetric active, relayed_active, media_packets, media_bytes;       /* load */
    EnvMetric relay_bytes, relay_bw, relay_dropped, relay_refused, relay_sessions; /* relays */
    EnvMetric gw_calls, gw_active, gw_busy;                   /* phone gateway */
} CallMetrics;

/* The feature's world data (sh->feat_data[NODE_FEAT_CALL]). */
typedef struct CallShared {
    CallMetrics m; /* interned ids */
} CallShared;

static inline const CallMetrics *call__metrics(const Node *n)
{
    return &((const CallShared *)node__feat_shared(n->sh, NODE_FEAT_CALL))->m;
}
static inline CallState *call__cur(const Node *n)
{
    return node__feat(n, NODE_FEAT_CALL);
}
static inline RelayState *relay__state(const Node *n)
{
    return node__feat(n, NODE_FEAT_RELAY);
}
static inline GatewayState *gateway__state(const Node *n)
{
    return node__feat(n, NODE_FEAT_GATEWAY);
}

/* call.c: the call logic; at a gateway it runs on the call made current
 * (call__cur) by gateway.c. */
void call__on_timer(Node *n, uint32_t kind);
/* A datagram whose function byte says media: true when consumed (relay
 * sessions first, then the node's call). */
bool call__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len);
void call__on_udp(Node *n, EnvAddr from, const WireMsg *m);
void call__on_connected(Node *n, int idx, int status); /* CONN_CALL_RELAY, CONN_CALL_SIG */
void call__on_frame(Node *n, int idx, const WireMsg *m);  /* CONN_CALL_RELAY, CONN_CALL_SIG */
void call__on_closed(Node *n, int idx);                   /* CONN_CALL_RELAY, CONN_CALL_SIG */
void call__stop(Node *n); /* ends the current call */
/* Whether timer t is one of the call's (gateway: which call a timer is for). */
bool call__has_timer(const CallState *c, EnvTimer t);
uint32_t call__id(const CallState *c);
int call__sig_conn(const CallState *c);

/* gateway.c: the phone gateway (SkypeOut, a18). */
void gateway__start(Node *n);
void gateway__stop(Node *n);
void gateway__on_timer(Node *n, EnvTimer t, uint32_t kind);
bool gateway__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len);
void gateway__on_call_udp(Node *n, EnvAddr from, const WireMsg *m);
void gateway__on_frame(Node *n, int idx, const WireMsg *m); /* CONN_CALL_SIG */
void gateway__on_closed(Node *n, int idx);                  /* CONN_CALL_SIG */

/* relay.c: media relay sessions on supernodes. */
void relay__on_bind(Node *n, int idx, EnvAddr from, const WireCall *cm); /* idx -1: UDP */
bool relay__on_media_udp(Node *n, EnvAddr from, const uint8_t *buf, size_t len);
void relay__on_media_tcp(Node *n, int idx, const uint8_t *buf, size_t len);
void relay__on_closed(Node *n, int idx);
void relay__on_timer(Node *n);
void relay__stop(Node *n);

#endif
