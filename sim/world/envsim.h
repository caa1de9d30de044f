/* envsim: protocol/env.h implemented on the simulated network.
 *
 * Layer: sim/world (may use sim/net, sim/kernel, protocol/). One EnvSim per
 * world holds what all nodes share: the Net, the metric registry, the timer
 * table, the persistent stores and the CPU calibration. One EnvSimNode per
 * protocol node binds an Env to a host of the Net and routes the network's
 * callbacks to the node's NodeOps.
 *
 * Mapping of handles: EnvSock is the NetSock of the socket or listener and
 * EnvConn the NetTcp of the connection ({slot, gen} = {idx, gen}); EnvTimer
 * is a slot of the world's timer table. All stale handles are harmless.
 * A node's persistent store survives node_free() and host down/up: it is
 * kept by the EnvSim under the node id, like a client's shared.xml.
 * Events reach a node only while it is attached (between
 * envsim_node_attach() and envsim_node_detach()).
 */
#ifndef SKYSIM_ENVSIM_H
#define SKYSIM_ENVSIM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/env.h"
#include "protocol/node.h"
#include "sim/net/net.h"
#include "sim/world/envtrace.h"
#include "sim/world/metrics.h"

typedef struct EnvSim EnvSim;
typedef struct EnvSimNode EnvSimNode;

#define ENVSIM_ERROR (envsim_error_quark())
GQuark envsim_error_quark(void);
typedef enum EnvSimError {
    ENVSIM_ERROR_READ = 1, /* the calibration file cannot be read */
    ENVSIM_ERROR_PARSE,    /* it is not valid calibration JSON */
} EnvSimError;

/* CPU cost model: virtual ns charged for one operation = (per_op_ns +
 * per_byte_ns * bytes) / cpu_speed. The numbers come from a calibration
 * file (written by simcalibrate, read with envsim_cost_load) or the
 * built-in defaults (scenarios/calibration/default.json compiled in).
 *
 * Hosts queue charged work. Each node has a "CPU busy until" time: a charge
 * starts at max(now, busy_until) and moves busy_until on by its cost. The
 * rule for sends (udp_send, tcp_send, tcp_close) made while the CPU is
 * busy (busy_until > now) or while earlier deferred sends are pending:
 *   - backlog busy_until - now > ENVSIM_CPU_BACKLOG_MAX_NS: a UDP datagram
 *     is dropped (udp_send still returns ENV_OK, as a lost datagram) and
 *     counted in the metric "cpu.overload_drops";
 *   - otherwise, and for TCP always (a stream cannot lose bytes), the send
 *     is deferred: a kernel event hands it to the network at busy_until
 *     (metric "cpu.deferred_sends"). Deferred sends keep their order; a
 *     tcp_close waits for the node's deferred sends before it. A socket or
 *     connection closed in between loses its deferred data (as a crash
 *     would); tcp_abort is immediate.
 * Received packets are not delayed by the CPU. */
typedef struct EnvSimCost {
    double per_op_ns[ENV_COST_COUNT];   /* fixed cost of one operation, ns */
    double per_byte_ns[ENV_COST_COUNT]; /* cost per byte, ns */
} EnvSimCost;

#define ENVSIM_CPU_BACKLOG_MAX_NS TIMENS_S /* CPU backlog beyond which UDP sends drop, ns */

/* Built-in calibration: scenarios/calibration/default.json (measured on
 * the reference machine), compiled in by the build. */
void envsim_cost_default(EnvSimCost *c);

/* The calibration file's name of a cost: "rc4", "aes256", "rsa_sign",
 * "rsa_verify", "rsa_keygen", "hash", "opus_encode", "opus_decode". */
const char *envsim_cost_name(EnvCost op);

/* Reads a calibration file into *c. The format (what simcalibrate writes):
 *   {"format": "skysim-calibration/1",
 *    "machine": {...free-form description...},
 *    "costs": {"<name>": {"per_op_ns": N, "per_byte_ns": N}, ... every
 *              name of envsim_cost_name}}
 * Numbers are finite and >= 0. path NULL: the built-in values. Returns
 * false and sets err (file, JSON path, expected, found) on a file that
 * cannot be read or is malformed; *c is then unchanged. */
bool envsim_cost_load(const char *path, EnvSimCost *c, GError **err);

/* Creates the shared part. net, metrics: borrowed, must outlive it. cost:
 * copied; NULL for the default. Never NULL. */
EnvSim *envsim_new(Net *net, Metrics *metrics, const EnvSimCost *cost);
/* Where the nodes' search reports go (env.h, search_report): fn(ctx, r)
 * with the searching node's id; none by default. */
typedef void (*EnvSimSearchHook)(void *ctx, uint32_t node_id, const EnvSearchReport *r);
void envsim_set_search_hook(EnvSim *es, EnvSimSearchHook fn, void *ctx);
/* Where the nodes' call reports go as well (env.h, call_report), after the
 * call matrix has taken them: fn(ctx, r) with the reporting node's id;
 * none by default. */
typedef void (*EnvSimCallHook)(void *ctx, uint32_t node_id, const EnvCallReport *r);
void envsim_set_call_hook(EnvSim *es, EnvSimCallHook fn, void *ctx);

/* Frees it and every EnvSimNode still registered. Call after all nodes
 * were freed and before net_free(). NULL is a no-op. */
void envsim_free(EnvSim *es);

/* An Env for world-wide work that belongs to no host (interning metrics,
 * drawing the login server's key in node_shared_new). Socket calls on it
 * are programming errors. Borrowed, valid as long as es. */
const Env *envsim_world_env(EnvSim *es);

/* Creates the env context of protocol node `id` (unique per world) on
 * host (a host of the Net). cpu_speed: relative CPU speed (> 0) for cost
 * charging. Owned by es. */
EnvSimNode *envsim_node_new(EnvSim *es, uint32_t id, uint32_t host, double cpu_speed);

/* The Env to give node_new(); borrowed, valid as long as the EnvSimNode.
 * With a trace set (envsim_node_set_trace), the tracing wrapper's Env. */
const Env *envsim_node_env(EnvSimNode *en);

/* The node's own Env, never wrapped (what a trace wraps). */
const Env *envsim_node_env_inner(EnvSimNode *en);

/* Traces the node (envtrace.h): t (borrowed, NULL: none) must wrap
 * envsim_node_env_inner(en); from now on envsim_node_env() is t's Env and
 * every event envsim delivers to the node (timers, datagrams, TCP) is
 * logged through t before delivery. Start and stop are the host's to log.
 * Set it before node_new, so the node's calls go through the wrapper. */
void envsim_node_set_trace(EnvSimNode *en, EnvTrace *t);
EnvTrace *envsim_node_trace(const EnvSimNode *en); /* NULL when untraced */

/* Marks the node as a server role, for the per-role CPU metrics
 * ("cpu.charged_ns.client|supernode|server"; a promoted client counts as a
 * supernode while it is one). */
void envsim_node_set_server(EnvSimNode *en, bool server);
/* The node's true network situation (a NatType; -1: none, the default), the
 * host metadata env_host_nat_label reports and the label of the call
 * matrix this env counts from call reports ("call.matrix.<caller>.<callee|
 * pstn>.<path>", joined by call id). */
void envsim_node_set_nat_label(EnvSimNode *en, int label);

/* Routes events to node from now on (node: borrowed). */
void envsim_node_attach(EnvSimNode *en, Node *node);

/* Stops routing events: cancels the node's timers and forgets its socket
 * and connection handles (a node_ops.stop() before this closed them; after
 * a crash the host went down and they are gone). */
void envsim_node_detach(EnvSimNode *en);

Node *envsim_node_get(const EnvSimNode *en);    /* attached node or NULL */
uint32_t envsim_node_host(const EnvSimNode *en); /* the Net host */
uint32_t envsim_node_id(const EnvSimNode *en);

/* Per-node accounting. */
size_t envsim_node_mem_live(const EnvSimNode *en); /* bytes from mem_alloc now */
size_t envsim_node_mem_high(const EnvSimNode *en); /* most bytes at once */
double envsim_node_cpu_ns(const EnvSimNode *en);   /* charged virtual CPU, ns */
TimeNs envsim_node_cpu_busy_until(const EnvSimNode *en); /* end of its queued CPU work, ns */

/* World totals: charged virtual CPU (ns) and live timers. */
double envsim_cpu_ns_total(const EnvSim *es);
size_t envsim_timers_live(const EnvSim *es);
/* Warning lines logged by nodes (each counted; only the first few print). */
uint64_t envsim_warnings(const EnvSim *es);

#endif
