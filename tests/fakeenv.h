/* fakeenv: a scripted, deterministic implementation of protocol/env.h for
 * the protocol's unit tests (STYLE.md §8: protocol modules are tested
 * against fake and fault envs, not the whole world).
 *
 * A FakeNet is a tiny world: a virtual clock advanced only by the test
 * (fakenet_run_*), an event queue ordered by (time, sequence), and hosts
 * (FakeEnv, one per node) with one IPv4 address each. Datagrams and TCP
 * segments take a fixed one-way latency. TCP is modelled at the level the
 * protocol sees: connect (accept + connected after one RTT, RST when no
 * listener, SYN timeout when the host is down or a rule blackholes it),
 * in-order data, FIN and RST.
 *
 * Scripting: rules drop datagrams, refuse or blackhole connections (to an
 * address or port, for N matches or forever); datagrams can be injected at
 * a given time; hosts can be set down (everything to or from them is lost,
 * silently). A host can sit behind a simple NAT or firewall of any NatType
 * (mapping and filtering after RFC 4787, as the RFC 3489 presets), so NAT
 * detection runs against real supernode code. Every datagram and segment
 * sent is recorded for assertions. Metrics are kept per host and in total,
 * by name. Memory is counted per host and every allocation is checked on
 * free (size must match; fakenet_free reports leaks).
 *
 * Not for production: O(n) lookups, GLib containers everywhere.
 */
#ifndef SKYSIM_TEST_FAKEENV_H
#define SKYSIM_TEST_FAKEENV_H

#include "protocol/env.h"
#include "protocol/node.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct FakeNet FakeNet;
typedef struct FakeEnv FakeEnv;

/* ---- The net ---- */
FakeNet *fakenet_new(uint64_t seed);
/* Frees the net and its hosts. Returns the number of bytes still allocated
 * through mem_alloc by all hosts (leaks); tests assert 0. */
size_t fakenet_free(FakeNet *net);
TimeNs fakenet_now(const FakeNet *net);
void fakenet_set_latency(FakeNet *net, TimeNs one_way_ns); /* default 20 ms */
void fakenet_set_syn_timeout(FakeNet *net, TimeNs ns);     /* default 21 s */

/* Runs events with time <= t (the clock ends at t). */
void fakenet_run_until(FakeNet *net, TimeNs t);
void fakenet_run_for(FakeNet *net, TimeNs d);
/* Runs until pred(arg) is true after an event, or time passes limit.
 * Returns whether pred became true. */
bool fakenet_run_while_not(FakeNet *net, bool (*pred)(void *arg), void *arg, TimeNs limit);

/* ---- Hosts ---- */
/* Adds a host with address ip; the node is attached later. */
FakeEnv *fakenet_host_add(FakeNet *net, uint32_t ip);
/* Puts the host behind a NAT/firewall of the given type. For NAT types the
 * host's own address stays private and public_ip is the NAT's outside
 * address; for NAT_OPEN, NAT_SYMMETRIC_FIREWALL, NAT_UDP_BLOCKED and
 * NAT_TCP_ONLY public_ip is ignored (no translation). */
void fakeenv_set_nat(FakeEnv *h, NatType type, uint32_t public_ip);
/* Whether ports below 1024 may be bound (default true). */
void fakeenv_set_privileged(FakeEnv *h, bool allowed);
/* The Env to give node_new. */
Env fakeenv_env(FakeEnv *h);
/* Where events go: node_ops of n (NULL detaches: events are dropped). */
void fakeenv_attach(FakeEnv *h, Node *n);
Node *fakeenv_node(const FakeEnv *h);
uint32_t fakeenv_ip(const FakeEnv *h);
/* Down: every datagram and segment to or from the host is lost, connects
 * to it time out; the node's own timers still run (detach it to crash). */
void fakeenv_set_down(FakeEnv *h, bool down);
/* Live bytes, and the high water, allocated through mem_alloc. */
size_t fakeenv_mem_live(const FakeEnv *h);
size_t fakeenv_mem_high(const FakeEnv *h);
/* Charged CPU work: number of calls and total bytes of op. */
uint64_t fakeenv_cpu_calls(const FakeEnv *h, EnvCost op);
uint64_t fakeenv_cpu_bytes(const FakeEnv *h, EnvCost op);
/* Store access for tests (the store survives node_free / node_new). */
long fakeenv_store_get(FakeEnv *h, const char *key, uint8_t *buf, size_t cap);
void fakeenv_store_put(FakeEnv *h, const char *key, const uint8_t *buf, size_t len);
/* Log lines at WARNING or above seen so far. */
unsigned fakeenv_warnings(const FakeEnv *h);
/* Number of live handles (timers, sockets, connections) the host holds. */
unsigned fakeenv_live_timers(const FakeEnv *h);
unsigned fakeenv_live_socks(const FakeEnv *h);
unsigned fakeenv_live_conns(const FakeEnv *h);

/* ---- Scripted peers ----
 * A host with no node attached but in capture mode records the events the
 * env would deliver (accept, connected, data, closed, datagram) so a test can
 * act as a peer by hand: it calls env_* on fakeenv_env(h) and reads what
 * came back. */
typedef struct FakeEvent FakeEvent;
typedef struct FakeInbox {
    int kind;      /* 1 datagram, 2 accept, 3 connected, 4 data, 5 closed */
    uint32_t slot; /* conn (or sock) slot */
    uint32_t gen;  /* its generation */
    int status;    /* connected/closed status */
    EnvAddr from;  /* datagram source / accepted peer */
    uint32_t len;  /* bytes */
    uint8_t *data; /* bytes (owned by the net) */
} FakeInbox;
void fakeenv_capture(FakeEnv *h, bool on);
size_t fakeenv_inbox_count(const FakeEnv *h);
const FakeInbox *fakeenv_inbox_get(const FakeEnv *h, size_t i);

/* ---- Scripting ---- */
typedef enum FakeRuleKind {
    FAKE_UDP_DROP = 1,      /* datagrams to (ip, port) are lost */
    FAKE_TCP_REFUSE = 2,    /* connects to (ip, port) get RST */
    FAKE_TCP_BLACKHOLE = 3, /* connects to (ip, port) time out */
} FakeRuleKind;
/* ip 0 / port 0 match any; count < 0: forever, else the next count matches. */
void fakenet_rule(FakeNet *net, FakeRuleKind kind, uint32_t ip, uint16_t port, int count);
void fakenet_rules_clear(FakeNet *net);
/* Delivers a datagram to host h's socket bound on port at time t, as if
 * sent from `from` (bypasses NAT and rules). */
void fakenet_inject_udp(FakeNet *net, TimeNs t, FakeEnv *h, uint16_t port, EnvAddr from,
                        const uint8_t *buf, size_t len);
/* Sends a datagram from host h's socket s after delay (used by faultenv's
 * delay faults). */
void fakeenv_udp_send_later(FakeEnv *h, TimeNs delay, EnvSock s, EnvAddr to, const uint8_t *buf,
                            size_t len);

/* ---- Records ---- */
typedef enum FakeProto { FAKE_UDP = 1, FAKE_TCP = 2 } FakeProto;
typedef struct FakeRecord {
    TimeNs t;        /* when sent */
    FakeProto proto; /* UDP datagram or TCP segment */
    EnvAddr from;    /* source as seen on the wire (after NAT) */
    EnvAddr to;      /* destination */
    uint32_t len;    /* payload bytes */
    uint8_t *data;   /* payload copy (owned by the net) */
} FakeRecord;
size_t fakenet_record_count(const FakeNet *net);
const FakeRecord *fakenet_record_get(const FakeNet *net, size_t i);
/* Records sent to (ip, port) (0 = any) of proto (0 = any). */
size_t fakenet_record_count_to(const FakeNet *net, FakeProto proto, uint32_t ip, uint16_t port);
void fakenet_records_clear(FakeNet *net);

/* ---- Metrics ---- */
/* Counter/gauge total over all hosts (0 when never interned). */
int64_t fakenet_metric(const FakeNet *net, const char *name);
/* Counter/gauge of one host. */
int64_t fakeenv_metric(const FakeEnv *h, const char *name);
/* Sample metric: number of observations and their sum / last value. */
uint64_t fakenet_sample_count(const FakeNet *net, const char *name);
double fakenet_sample_sum(const FakeNet *net, const char *name);
double fakenet_sample_last(const FakeNet *net, const char *name);
/* A world-level Env (for node_shared_new): random stream and interning. */
Env fakenet_world_env(FakeNet *net);

/* ---- FakeWorld: a small overlay on a FakeNet, for node-level tests ----
 * The servers of NodeParams (the bootstrap supernodes, the login server,
 * the web server) are created at their addresses and started; clients and
 * other nodes are added by the test. Each node's user is registered at the
 * login server. Node i's env is its FakeEnv's unless the test installs a
 * wrapper (a FaultEnv) with fakeworld_set_env before starting it. */
#define FW_MAX 64
typedef struct FakeWorld {
    FakeNet *net;           /* the network */
    NodeParams p;           /* parameters (copy) */
    NodeShared *sh;         /* shared state */
    unsigned n;             /* nodes */
    FakeEnv *h[FW_MAX];     /* hosts */
    Node *node[FW_MAX];     /* nodes (NULL while offline) */
    Env env[FW_MAX];        /* env each node gets */
    NodeConfig cfg[FW_MAX]; /* configs (strings below) */
    char user[FW_MAX][32];  /* usernames */
    char pass[FW_MAX][32];  /* passwords */
    unsigned boot0;         /* index of the first bootstrap SN */
    unsigned nboot;         /* bootstrap SNs created */
    unsigned login;         /* index of the login server (FW_MAX: none) */
    unsigned web;           /* index of the web server (FW_MAX: none) */
} FakeWorld;

/* p NULL: node_params_default with a 1024-bit server key (faster tests). */
FakeWorld *fakeworld_new(uint64_t seed, const NodeParams *p, bool with_servers);
/* A world whose nodes run only the given features (borrowed, in that
 * order) over the plumbing (node_shared_new_with), with no servers: the
 * isolation tests of one feature. p NULL as for fakeworld_new. */
struct NodeFeature;
FakeWorld *fakeworld_new_with(uint64_t seed, const NodeParams *p,
                              const struct NodeFeature *const *features, size_t n_features);
/* Adds a node on a host at ip (behind nat, outside address nat_ip). Clients
 * get user "u<index>" / password "pw<index>" unless cfg names them. */
unsigned fakeworld_add(FakeWorld *w, uint32_t ip, const NodeConfig *cfg, NatType nat,
                       uint32_t nat_ip);
/* Shortcut: a client at ip with the given true NAT type. */
unsigned fakeworld_client(FakeWorld *w, uint32_t ip, NatType nat);
void fakeworld_set_env(FakeWorld *w, unsigned i, Env e);
void fakeworld_start(FakeWorld *w, unsigned i);               /* node_new + start */
void fakeworld_stop(FakeWorld *w, unsigned i, bool graceful); /* stop + node_free */
void fakeworld_crash(FakeWorld *w, unsigned i);               /* host down, stop(crash), free */
/* Stops every node gracefully, frees all. Returns leaked bytes (assert 0). */
size_t fakeworld_free(FakeWorld *w);

#endif
