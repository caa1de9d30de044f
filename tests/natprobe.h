/* natprobe: fixed UDP probe sequences against the sim/net NAT model, in the
 * notation the kernel side of tests/netns uses, so that both give the same
 * result strings for the same sequence.
 *
 * The topology: router 1 of kind1 with inside hosts A and B, router 2 of
 * kind2 with inside host C, and two outside addresses X and Y with ports
 * 3478 ("X1", "Y1") and 3479 ("X2", "Y2"). Inside hosts use port 5000. A
 * kind is a NAT preset (nat.h), "public" (no NAT, no firewall),
 * "fw_stateful" or "fw_udp_blocked" (no NAT, that firewall at the host).
 *
 * Steps, separated by spaces, each one probe interval (step_ns) long
 * except wait; each but wait adds one token to the result:
 *   A>X1     inside A sends to X1. Result: "=" if it arrived from the
 *            internal port, "r1", "r2", ... numbering the other external
 *            ports in the order they appear, "-" if it did not arrive.
 *   X1>A     X1 sends to A's external endpoint as X1 last saw it (else as
 *            anyone last saw it, else router 1's outside address or A's own
 *            public address, port 5000). Result: the inside hosts that
 *            received it ("A", "B", "AB") or "-".
 *   wait:2.5 time passes (seconds).
 *   punch    hole punching as the project's calls do it: C (the callee)
 *            and A (the caller) send to each other's endpoint as X1 saw it,
 *            every 100 ms for punch_ns, the second 50 ms after the first;
 *            each side then sends to the source of what it hears. C goes
 *            first unless only A's router keeps state for unsolicited
 *            packets (plain MASQUERADE, as the protocol's detection finds
 *            it: probe natdet_state); then A goes first and C holds.
 *            Result: two letters, "y"/"n" for A heard C and C heard A.
 */
#ifndef SKYSIM_TEST_NATPROBE_H
#define SKYSIM_TEST_NATPROBE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/base/timens.h"

typedef struct NatProbeOpts {
    TimeNs udp_unreplied_ns; /* conntrack presets: UDP lifetime until assured; 0: preset's */
    TimeNs udp_stream_ns;    /* conntrack presets: UDP lifetime once assured; 0: preset's */
    TimeNs step_ns;          /* length of one probe step (default 50 ms) */
    TimeNs punch_ns;         /* length of the punch step (default 0.6 s: six rounds) */
} NatProbeOpts;

/* Defaults: the presets' own lifetimes, 50 ms steps, 0.6 s of punching. */
void natprobe_opts_default(NatProbeOpts *o);

/* True for a kind natprobe_run() knows. */
bool natprobe_kind_is_known(const char *kind);

/* Runs steps on a fresh model (seed: its random streams) and returns the
 * result tokens separated by single spaces (owned by the caller), or NULL
 * with *err set for an unknown kind or step. */
char *natprobe_run(const char *kind1, const char *kind2, const char *steps, const NatProbeOpts *o,
                   uint64_t seed, GError **err);

#endif
