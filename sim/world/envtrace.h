/* envtrace: a tracing wrapper around any protocol/env.h implementation, in
 * the manner of SQLite's vfstrace.c (STYLE.md §5).
 *
 * Layer: sim/world, but it needs only protocol/env.h: it wraps whatever Env
 * it is given (envsim's, a FakeEnv's in the tests) and knows nothing of the
 * simulator. Every EnvOps call made through envtrace_env() is forwarded to
 * the inner env unchanged and then written as one line:
 *
 *     12.500000000 node 7 -> udp_send(sock=3:1, to=80.160.91.11:33033, len=52 data=1703...) = OK
 *
 * and the host reports the events it delivers to the node (NodeOps) with the
 * envtrace_on_* calls, which write lines with "<-":
 *
 *     12.520000000 node 7 <- on_datagram(sock=3:1, from=80.160.91.11:33033, len=40 data=...)
 *
 * Line format: virtual time in seconds with nine decimals (the inner env's
 * clock), "node" and the id given at creation, the direction, the call with
 * its arguments and, for calls that return something, " = " and the value.
 * Addresses are a.b.c.d:port, handles slot:gen ("none" for {0,0}),
 * durations as timens_format() writes them, statuses by name (OK,
 * ERR_REFUSED...), buffers as their length and at most their first
 * ENVTRACE_HEX_MAX bytes in hex ("..." when cut), metric ids with their
 * name in parentheses when it is known (from a metric_intern seen through
 * the wrapper, or from the namer set with envtrace_set_namer()). No
 * pointer and no wall-clock value is written, so a deterministic run gives
 * a byte-identical log.
 *
 * The wrapper never changes what the node sees or what the inner env does:
 * it adds no call to the inner env except now() (to stamp lines), which
 * reads the clock only.
 */
#ifndef SKYSIM_ENVTRACE_H
#define SKYSIM_ENVTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol/env.h"

#define ENVTRACE_HEX_MAX 16 /* bytes of a buffer shown in hex */

typedef struct EnvTrace EnvTrace;

/* Names a metric id, or returns NULL when it does not know it. */
typedef const char *(*EnvTraceNamer)(void *ctx, EnvMetric id);

/* Wraps inner (copied; its ctx must outlive the trace) for node node_id,
 * writing lines to out (borrowed; NULL: forward only, write nothing).
 * Never NULL. */
EnvTrace *envtrace_new(const Env *inner, uint32_t node_id, FILE *out);

/* Frees the trace (after the last node using its Env is freed). NULL is a
 * no-op. */
void envtrace_free(EnvTrace *t);

/* The Env to give node_new(); borrowed, valid as long as t. */
const Env *envtrace_env(EnvTrace *t);

/* Changes where lines go (NULL: stop writing; the wrapper still forwards).
 * out: borrowed. */
void envtrace_set_out(EnvTrace *t, FILE *out);

/* Sets a namer for metric ids interned elsewhere (e.g. through a world
 * env), consulted after the names the wrapper saw itself. */
void envtrace_set_namer(EnvTrace *t, EnvTraceNamer namer, void *ctx);

/* Events the host delivers to the node, logged before delivery. Each is a
 * no-op when t is NULL, so a host can call them unconditionally. */
void envtrace_on_start(EnvTrace *t);
void envtrace_on_stop(EnvTrace *t, bool graceful);
void envtrace_on_timer(EnvTrace *t, EnvTimer timer, uint32_t tag);
void envtrace_on_datagram(EnvTrace *t, EnvSock s, EnvAddr from, const uint8_t *buf, size_t len);
void envtrace_on_tcp_accept(EnvTrace *t, EnvSock l, EnvConn c, EnvAddr peer);
void envtrace_on_tcp_connected(EnvTrace *t, EnvConn c, int status);
void envtrace_on_tcp_data(EnvTrace *t, EnvConn c, const uint8_t *buf, size_t len);
void envtrace_on_tcp_closed(EnvTrace *t, EnvConn c, int status);

#endif
