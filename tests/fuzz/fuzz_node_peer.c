/* Harness node_peer: a hostile peer talking to a small overlay. A fake
 * world (tests/fakeenv.h) with two bootstrap supernodes, the login server
 * and one client that logs in; then the input is played as a script of
 * datagrams and TCP bytes from a peer host to the client's supernode or to
 * the client. Everything reaches the nodes through the env, that is through
 * node_ops.on_datagram and node_ops.on_tcp_*; the harness uses only the
 * public node.h, wire.h and fakeenv.h API.
 *
 * Script: records of one op byte, then for sending ops a 2-byte big-endian
 * length (cut to what is left and to the datagram or frame limit) and the
 * bytes.
 *   op & 7     0 sealed UDP body (wire_udp_seal for the target's address:
 *                it reaches wire_decode and the message handlers)
 *              1 raw datagram
 *              2 TCP frame body, sealed on the peer's connection to the
 *                target (opened with a hello on first use); length 0
 *                sends an empty frame
 *              3 raw TCP bytes on a second connection (no hello from us)
 *              4 wait: (length + 1) * 10 ms (no bytes follow)
 *              5 close the peer's connections (FIN), 6 abort them (RST)
 *              7 as 0
 *   op & 8     target: the client instead of its supernode
 *   op >> 4    datagram source: 0-3 the peer host, 4-7 the client, 8-11 the
 *              other bootstrap supernode, 12-15 the target itself
 * At the end the world runs one more simulated minute, every node stops
 * and the env's memory accounting must show no leak. */
#include "fakeenv.h"
#include "fuzz.h"
#include "protocol/node.h"
#include "protocol/wire.h"

#include <string.h>

#define PEER_IP ENV_IP(99, 9, 9, 9)
#define CLIENT_IP ENV_IP(81, 0, 0, 1)
#define WAIT_MAX (5 * TIMENS_MIN) /* simulated time an input may wait in all */

typedef struct Conn {
    EnvConn c;     /* the connection, unset when none */
    bool open;     /* connect issued */
    uint8_t key[32]; /* our stream key (framed connection) */
    uint32_t ctr;  /* our frame counter */
} Conn;

typedef struct Script {
    FakeWorld *w;
    FakeEnv *peer; /* the peer host (capture mode: records what it gets) */
    Env pe;        /* its env */
    Crypto *c;     /* crypto context for sealing */
    FakeEnv *host[2]; /* target hosts: 0 the client's SN, 1 the client */
    EnvAddr addr[2];  /* their addresses */
    EnvAddr other;    /* the other bootstrap SN */
    Conn framed[2];   /* per target: hello + sealed frames */
    Conn raw[2];      /* per target: raw bytes */
    uint16_t fid;     /* next frame id */
} Script;

static bool client_online(void *arg)
{
    Script *s = arg;
    Node *n = s->w->node[s->w->n - 1];
    return n && node_state(n) == NODE_ST_ONLINE;
}

static void conn_open(Script *s, Conn *k, EnvAddr to, bool hello)
{
    if (k->open) return;
    k->open = true;
    if (env_tcp_connect(&s->pe, to, &k->c) != ENV_OK) return;
    fakenet_run_for(s->w->net, 100 * TIMENS_MS); /* connected */
    if (!hello) return;
    uint32_t seed = 0x5eed0000u | s->fid;
    uint8_t b[WIRE_HELLO_LEN];
    size_t len = wire_hello_encode(seed, 1, &s->pe, b, sizeof b);
    wire_stream_key(s->c, &s->pe, seed, k->key);
    env_tcp_send(&s->pe, k->c, b, len);
}

static void conns_end(Script *s, bool abort)
{
    for (int t = 0; t < 2; t++) {
        Conn *ks[2] = {&s->framed[t], &s->raw[t]};
        for (int i = 0; i < 2; i++) {
            if (env_conn_is_set(ks[i]->c)) {
                if (abort)
                    env_tcp_abort(&s->pe, &ks[i]->c);
                else
                    env_tcp_close(&s->pe, &ks[i]->c);
            }
            memset(ks[i], 0, sizeof *ks[i]);
        }
    }
}

static void play(Script *s, const uint8_t *d, size_t n)
{
    TimeNs waited = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t op = d[i++];
        int kind = op & 7, t = (op >> 3) & 1, src = op >> 6;
        size_t len = 0;
        if (kind <= 4 || kind == 7) {
            if (i + 2 <= n) len = wire_get_u16(d + i), i += 2;
            else i = n;
        }
        if (kind == 4) {
            TimeNs dt = (TimeNs)(len % 1000 + 1) * 10 * TIMENS_MS;
            if (waited + dt > WAIT_MAX) dt = WAIT_MAX - waited;
            waited += dt;
            fakenet_run_for(s->w->net, dt);
            continue;
        }
        if (kind == 5 || kind == 6) {
            conns_end(s, kind == 6);
            continue;
        }
        if (len > n - i) len = n - i;
        const uint8_t *b = d + i;
        i += len;
        EnvAddr from = src == 0   ? env_addr(PEER_IP, 4000)
                       : src == 1 ? s->addr[1]
                       : src == 2 ? s->other
                                  : s->addr[t];
        EnvAddr to = s->addr[t];
        TimeNs now = fakenet_now(s->w->net);
        if (kind == 0 || kind == 7) {
            uint8_t pkt[ENV_UDP_MAX];
            if (len > ENV_UDP_MAX - WIRE_UDP_HDR - WIRE_UDP_TRAILER)
                len = ENV_UDP_MAX - WIRE_UDP_HDR - WIRE_UDP_TRAILER;
            size_t pl = wire_udp_seal(s->c, &s->pe, s->fid++, from.ip, to.ip, b, len, pkt, sizeof pkt);
            fakenet_inject_udp(s->w->net, now, s->host[t], to.port, from, pkt, pl);
        } else if (kind == 1) {
            if (len > ENV_UDP_MAX) len = ENV_UDP_MAX;
            fakenet_inject_udp(s->w->net, now, s->host[t], to.port, from, b, len);
        } else if (kind == 2) {
            Conn *k = &s->framed[t];
            conn_open(s, k, to, true);
            if (!env_conn_is_set(k->c)) continue;
            uint8_t f[WIRE_FRAME_MAX + 2] = {0};
            if (len > WIRE_FRAME_MAX) len = WIRE_FRAME_MAX;
            size_t fl = 2; /* an empty frame: just its length, 0 */
            if (len) fl = wire_frame_seal(s->c, &s->pe, k->key, k->ctr++, b, len, f, sizeof f);
            env_tcp_send(&s->pe, k->c, f, fl);
        } else if (kind == 3) {
            Conn *k = &s->raw[t];
            conn_open(s, k, to, false);
            if (env_conn_is_set(k->c)) env_tcp_send(&s->pe, k->c, b, len);
        }
        fakenet_run_for(s->w->net, 30 * TIMENS_MS); /* delivered and handled */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Crypto *c;
    static bool quiet;
    if (!quiet) fuzz_quiet(), quiet = true;
    if (!c) c = crypto_new(NULL);
    NodeParams p;
    node_params_default(&p);
    p.server_key_bits = 1024;
    p.user_key_pool = 1;
    p.n_bootstrap = 2;
    Script s = {.c = c};
    s.w = fakeworld_new(14, &p, true);
    unsigned ci = fakeworld_client(s.w, CLIENT_IP, NAT_OPEN);
    fakeworld_start(s.w, ci);
    bool online = fakenet_run_while_not(s.w->net, client_online, &s, 60 * TIMENS_S);
    FUZZ_REQUIRE(online, "the client did not log in");
    s.addr[0] = node_supernode_addr(s.w->node[ci]);
    s.addr[1] = env_addr(CLIENT_IP, node_listen_port(s.w->node[ci]));
    s.host[1] = s.w->h[ci];
    for (unsigned k = 0; k < s.w->nboot; k++) {
        unsigned b = s.w->boot0 + k;
        if (fakeenv_ip(s.w->h[b]) == s.addr[0].ip)
            s.host[0] = s.w->h[b];
        else
            s.other = env_addr(fakeenv_ip(s.w->h[b]), s.w->p.bootstrap[k].port);
    }
    FUZZ_REQUIRE(s.host[0], "the client's supernode is not a bootstrap node");
    s.peer = fakenet_host_add(s.w->net, PEER_IP);
    fakeenv_capture(s.peer, true);
    s.pe = fakeenv_env(s.peer);

    play(&s, data, size);
    conns_end(&s, false);
    fakenet_run_for(s.w->net, TIMENS_MIN);
    size_t leaked = fakeworld_free(s.w);
    FUZZ_REQUIRE(leaked == 0, "%zu bytes leaked by the nodes", leaked);
    return 0;
}
