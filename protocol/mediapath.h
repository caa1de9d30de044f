/* mediapath: the media-path groundwork that two-party calls (call.c) and
 * conference legs (conf.c) both stand on: who we are to the supernodes,
 * whether we do UDP, call messages over UDP and TCP, signalling through the
 * supernode tier, locating a user (LOCATE), and the relay steps (choosing
 * candidates, opening a TCP relay connection with fallback ports, binding
 * a leg).
 *
 * Layer: protocol/, a service module like hostcache, stun and media: it
 * keeps no state of its own and belongs to no feature; features over the
 * node plumbing use it. It uses the plumbing (node_int.h: the uplink,
 * n->sn's client and peer tables, sending, node__emit), wire and env.
 * Sources (docs/protocol-notes.md): a31 (signalling through the
 * supernodes, hop limit 3; the direct-signalling hint of open users), a11
 * (fallback ports 443 and 80), a18 (media frame header).
 */
#ifndef SKYSIM_MEDIAPATH_H
#define SKYSIM_MEDIAPATH_H

#include "protocol/node_int.h"

#define MEDIAPATH_CAND_MAX 8 /* relay candidates tried for one media path */
#define MEDIAPATH_FUNC_MEDIA 0x0d /* a18: function byte of E2E data (voice) */
#define MEDIAPATH_MEDIA_HDR 3     /* frame id (low 16 bits of the session id) + function byte */

/* Our identity as the supernodes know it: (public IP, listening port);
 * the local IP while no public address is known. */
EnvAddr mediapath_self_id(const Node *n);
/* Whether this node can send and receive UDP (a public endpoint is known
 * and UDP is not blocked). */
bool mediapath_udp_ok(const Node *n);
/* Sends cm as a WIRE_CALL_UDP datagram from the main socket, or as a
 * WIRE_CALL frame on connection idx. */
void mediapath_send_udp(Node *n, EnvAddr to, const WireCall *cm);
void mediapath_send_tcp(Node *n, int idx, const WireCall *cm);
/* Signalling payload buf/len to the node with identity dst through the
 * supernodes (a31): a client hands it to its supernode, a supernode
 * routes it itself (NODE_EV_SN_FORWARD). */
void mediapath_signal(Node *n, EnvAddr dst, const uint8_t *buf, size_t len);
/* Encodes cm and signals it to dst as above. */
void mediapath_signal_call(Node *n, EnvAddr dst, const WireCall *cm);
/* Sends LOCATE for user under session id: to our supernode, or, at a
 * supernode, handled at once as if it had arrived (mediapath_sn_locate).
 * The answer, WIRE_CM_LOCATED, comes back as a signalling payload. False
 * when a client has no ready supernode link. */
bool mediapath_locate(Node *n, uint32_t id, const char *user, size_t ulen);
/* Supernode side of LOCATE cm (idx: the connection it came on, -1 our
 * own): answers when the user is one of our clients or ourselves (with
 * the direct-signalling address when it said it is open), else passes it
 * on to the peer links but idx while its hop limit lasts. The answer goes
 * on connection direct when it is >= 0 (the located user is this node and
 * already talks to the caller over a direct signalling connection: a
 * late copy of the caller's flooded LOCATE), else through the supernodes. */
void mediapath_sn_locate(Node *n, int idx, const WireCall *cm, int direct);
/* Relay candidates for a media path whose far end has supernode peer_sn
 * ({0,0}: unknown): up to NodeParams.relay_candidates host-cache
 * supernodes other than both ends' supernodes, bad and ourselves, then our
 * supernode, then peer_sn. Writes at most cap (>= 3) addresses to out;
 * returns how many. */
size_t mediapath_relay_candidates(Node *n, EnvAddr peer_sn, EnvAddr bad, EnvAddr *out, size_t cap);
/* Opens a TCP connection of `kind` to relay r: r's port, then the
 * fallback ports (a11), from port step *pi (0..2, advanced past ports that
 * cannot start) on. Returns the connection index, -1 when none can start. */
int mediapath_relay_connect(Node *n, EnvAddr r, uint8_t *pi, uint8_t kind);
/* Sends media datagram pkt (len bytes, frame header included) on
 * connection idx as WIRE_CALL_MEDIA: without its 2-byte frame id, which
 * the connection stands for (a33: 69 B on the wire for a 67 B datagram). */
void mediapath_media_send_tcp(Node *n, int idx, const uint8_t *pkt, size_t len);
/* The datagram a WIRE_CALL_MEDIA payload (data, len bytes, from the
 * function byte on) stands for, frame id fid in front, written to out (cap
 * bytes). Returns its length, 0 when it does not fit. */
size_t mediapath_media_from_tcp(uint16_t fid, const uint8_t *data, size_t len, uint8_t *out,
                                size_t cap);
/* Sends WIRE_CM_RELAY_BIND for session id, end leg (0 or 1), to relay r:
 * on connection idx, or over UDP from the main socket when idx is -1. */
void mediapath_relay_bind_send(Node *n, int idx, EnvAddr r, uint32_t id, uint8_t leg);

#endif
