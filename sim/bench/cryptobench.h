/* cryptobench: nanoseconds per packet of the two ciphers the protocol runs
 * on every packet (protocol/crypto.h): RC4 per UDP signalling datagram, with
 * the 80-byte key wire.c derives per datagram (a19), and AES-256-CTR per
 * media packet and TCP frame, with one key per stream and a new IV per
 * packet. Each cipher is timed through the path protocol/crypto.c takes
 * (crypto_rc4, crypto_aes256) and through the alternatives OpenSSL offers,
 * re-implemented here so that the figures of paths crypto.c no longer takes
 * (such as the one it took before) can still be compared.
 *
 * Layer: sim/bench, a front end over protocol/crypto and OpenSSL; it reads
 * the wall clock, which is fine here and never on the simulation path.
 *
 * Method: every case runs as batches of `packets` packets; the cases take
 * turns (one batch of each, then again, `reps` times), so a slow spell of
 * the machine touches all cases alike; the median batch is reported, with
 * the fastest and slowest. Before timing, each case encrypts a fixed
 * sequence of packets and must give the bytes the old path gives, or the
 * benchmark fails: only exact variants are compared.
 */
#ifndef SKYSIM_CRYPTOBENCH_H
#define SKYSIM_CRYPTOBENCH_H

#include <stdint.h>
#include <stdio.h>

#define CRYPTOBENCH_STREAMS_MAX 4096 /* most AES streams (keys) in rotation */

typedef struct CryptobenchConfig {
    uint32_t packets; /* packets per timed batch, >= 1 */
    uint32_t reps;    /* timed batches per case, >= 1 (the median is reported) */
    uint32_t streams; /* AES keys in rotation in the "many streams" cases, 17..STREAMS_MAX */
} CryptobenchConfig;

/* Runs the benchmark and prints one line per case to out (borrowed).
 * Returns 0, or 1 when a variant's bytes differ from the old path's (the
 * message names the case) or OpenSSL lacks RC4 or AES-256-CTR. */
int cryptobench_run(const CryptobenchConfig *cfg, FILE *out);

#endif
