/* client_int: what the two files of the client feature share (client.c,
 * natdet.c). Not for use outside them.
 */
#ifndef SKYSIM_CLIENT_INT_H
#define SKYSIM_CLIENT_INT_H

#include "protocol/client.h"

/* NAT detection state (client). */
typedef struct NatDet {
    StunResults r;     /* what the tests found so far */
    EnvAddr server;    /* the SN answering as STUN server */
    EnvAddr other;     /* its OTHER-ADDRESS */
    EnvAddr change_origin; /* its CHANGE-ORIGIN: where test II's answer comes from */
    EnvSock sock;      /* fresh UDP socket for the tests (no NAT permissions yet) */
    uint8_t txid[12];  /* current transaction id */
    uint8_t test;      /* StunTest in flight, STUN_TEST_NONE when idle */
    uint8_t tries;     /* requests sent for this test */
    uint8_t done_mask; /* tests finished, bit per test */
    bool reported;     /* the confusion metric was counted this session */
} NatDet;

typedef struct AltEntry {
    EnvAddr a;    /* node address */
    uint8_t miss; /* polls unanswered in a row */
} AltEntry;

/* What a login round knows of one probe target. */
typedef enum ClientProbeState {
    PROBE_SENT = 0, /* probed, no answer yet (a silent target: tried by TCP after accepting ones) */
    PROBE_ACCEPTED = 1, /* PROBE_ACK accept: go ahead with TCP (a22 U4) */
    PROBE_REJECTED = 2, /* PROBE_ACK redirect: not tried by TCP */
} ClientProbeState;

#define CAND_MAX 8   /* TCP candidates of a round or failover */
#define PROBE_MAX 8  /* probe targets of a round (redirect targets take the rejecting ones' slots) */

/* Where a client's login stands. The phase says which of the login timers
 * may be armed and what a TCP connection to a supernode is for (a login or a
 * failover); the node's NodeState is the coarser view the host sees. */
typedef enum ClientLoginPhase {
    CL_LOGIN_IDLE = 0,   /* not started, or stopped */
    CL_LOGIN_ROUND_WAIT, /* waiting for the next round (t_round) */
    CL_LOGIN_PROBING,    /* UDP probes out, waiting for answers (t_probe; a22) */
    CL_LOGIN_SN_TCP,     /* TCP to the round's supernode candidates (t_tcp; a11) */
    CL_LOGIN_AUTH,       /* attached; the login-server exchange runs (t_auth; a14) */
    CL_LOGIN_ONLINE,     /* logged in (alternate-table pings may still be out) */
    CL_LOGIN_FAILOVER,   /* supernode lost: TCP to alternates and cache entries (a13) */
    CL_LOGIN_FAILED,     /* rounds exhausted (a retry after login_pause_ns may be armed) or
                            authentication refused (final) */
} ClientLoginPhase;

/* A client's state: allocated by the client feature at start into the
 * node's NODE_FEAT_CLIENT slot and freed at stop (env_mem_alloc, counted in
 * the idle-client budget of node_int.h). */
typedef struct ClientState {
    uint8_t round;              /* login round, 1-based */
    uint8_t silent_rounds;      /* rounds of this login that ended with no redirect (a10) */
    bool redirected;            /* a supernode of this round answered "full, go there" */
    uint8_t full_rounds;        /* rounds in a row that ended redirected (the wait backs off) */
    uint8_t nprobe;             /* probe targets this round */
    uint8_t ncand;              /* TCP candidates */
    uint8_t ci;                 /* candidate being tried */
    uint8_t pi;                 /* port step: 0 own port, 1..2 fallback ports */
    uint8_t nalt;               /* alternate node table entries */
    uint8_t alt_poll;           /* round-robin poll position */
    uint8_t contacted;          /* distinct nodes contacted during this login */
    uint8_t login_phase;        /* ClientLoginPhase: where the login stands */
    bool first_login;           /* host cache held only bootstrap entries */
    bool alt_phase;             /* alternate-table pings outstanding */
    bool udp_seen;              /* a UDP answer (NAck, PROBE_ACK) came during this login */
    bool udp_blocked;           /* concluded: UDP does not pass (fw_udp_probes unanswered, or
                                   NAT detection said so): TCP only, UDP-only phases skipped */
    uint8_t udp_silent;         /* probes of this login with no UDP answer at all (saturating) */
    uint8_t ka_miss;            /* keep-alives in a row left unanswered */
    bool moving;                /* the failover under way is a move (SHED), not a loss */
    uint8_t sweep_tick;         /* sixths of hc_refresh_ns online since the login */
    bool hc_filling;            /* fill sweeps go on: each one so far grew the cache */
    uint16_t hc_n_swept;        /* cache size just before the last sweep */
    uint16_t frame_id;          /* UDP frame id of this round's probes */
    uint32_t alt_nonce;         /* nonce of PINGs (alt phase and polls) */
    uint32_t ka_seq;            /* last keep-alive sequence */
    int auth;                   /* conn index of the login-server link, -1 none */
    uint8_t auth_try;           /* login-server port tried: 0 its own, then fallback_ports */
    EnvAddr probe[PROBE_MAX];    /* this round's probe targets */
    uint8_t probe_st[PROBE_MAX]; /* ClientProbeState of each probe target */
    EnvAddr cand[CAND_MAX];     /* TCP candidates in order */
    AltEntry alt[NODE_ALT_MAX]; /* alternate node table */
    TimeNs login_start;         /* when this login began */
    TimeNs answered_at;         /* when a supernode last answered this login (its start at
                                   first): the give-up clock (login_giveup_ns) runs from it */
    TimeNs first_attempt;       /* when the first login of this run of attempts began (retries
                                   after give-ups keep it): login.eventual_time_s */
    TimeNs failover_start;      /* when the SN was lost */
    uint8_t *cert;              /* certificate from the login server (env_mem_alloc) */
    uint16_t cert_len;          /* its bytes */
    uint8_t sess_key[32];       /* AES key of the login-server exchange (zeroed after) */
    NatDet nat;                 /* NAT detection */
    EnvTimer t_probe, t_round, t_tcp, t_auth, t_alt, t_ka, t_ka_to, t_poll, t_stun, t_nat,
        t_sweep; /* timers in flight */
} ClientState;

/* The node's client state; only called while the client runs. */
static inline ClientState *client__state(const Node *n)
{
    ClientState *cl = node__feat(n, NODE_FEAT_CLIENT);
    CHECK(cl, "node %u runs no client", n->id);
    return cl;
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
