/* fuzz_seeds: writes the seed corpora of the binary formats (run.sh calls
 * it; nothing binary is committed). Usage: fuzz_seeds DIR: makes
 * DIR/<harness>/ for the wire and node harnesses and fills them with small
 * valid inputs: every message type that decodes, with zeroed fields, sealed
 * and raw, a NAck, a hello, STUN requests
 * and answers, and node_peer scripts sending each of them. */
#include "fakeenv.h"
#include "protocol/stun.h"
#include "protocol/wire.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;

static void put(const char *harness, const char *name, const uint8_t *buf, size_t len)
{
    char *dir = g_build_filename(out_dir, harness, NULL);
    g_mkdir_with_parents(dir, 0755);
    char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;
    if (!g_file_set_contents(path, (const char *)buf, (gssize)len, &err)) {
        fprintf(stderr, "fuzz_seeds: %s\n", err->message);
        exit(1);
    }
    g_free(path);
    g_free(dir);
}

/* A node_peer record: op, 2-byte length, bytes. */
static size_t script_add(uint8_t *s, size_t at, uint8_t op, const uint8_t *b, size_t len)
{
    s[at++] = op;
    wire_put_u16(s + at, (uint16_t)len);
    at += 2;
    memcpy(s + at, b, len);
    return at + len;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    FakeNet *net = fakenet_new(1);
    Env e = fakeenv_env(fakenet_host_add(net, ENV_IP(82, 0, 0, 2)));
    Crypto *c = crypto_new(NULL);
    char name[64];
    static uint8_t body[4096], pkt[4096], script[4096], every[4096];
    size_t all = 0; /* one script sending every type */
    for (unsigned t = 0; t < 256; t++) {
        /* The shortest body of type t the decoder accepts: version, type,
         * zeros, or a 16-bit length of 1 (every decodable type, whatever
         * wire_type_known says). */
        WireMsg m;
        size_t len = 0;
        for (size_t z = 0; z <= 64 && !len; z++) {
            for (int blob = 0; blob < 2 && !len; blob++) {
                memset(body, 0, z + 3);
                body[0] = WIRE_VERSION;
                body[1] = (uint8_t)t;
                body[3] = (uint8_t)blob; /* a 1-byte blob for types that need one */
                if (wire_decode(body, z + 2, &m)) len = z + 2;
            }
        }
        if (!len) continue;
        snprintf(name, sizeof name, "type-%03u", t);
        put("wire_decode", name, body, len);
        pkt[0] = 1; /* fuzz_wire_udp_open: seal and open */
        memcpy(pkt + 1, body, len);
        put("wire_udp_open", name, pkt, len + 1);
        pkt[0] = 0; /* fuzz_wire_udp_open: open as received */
        size_t pl = wire_udp_seal(c, &e, (uint16_t)t, ENV_IP(81, 0, 0, 1), ENV_IP(82, 0, 0, 2), body,
                                  len, pkt + 1, sizeof pkt - 1);
        snprintf(name, sizeof name, "sealed-%03u", t);
        put("wire_udp_open", name, pkt, pl + 1);
        /* node_peer: UDP types sealed to the SN, TCP types framed. */
        bool udp = t < WIRE_CONNECT;
        size_t sl = script_add(script, 0, udp ? 0x00 : 0x02, body, len);
        snprintf(name, sizeof name, "sn-type-%03u", t);
        put("node_peer", name, script, sl);
        sl = script_add(script, 0, udp ? 0x08 : 0x0a, body, len); /* to the client */
        snprintf(name, sizeof name, "client-type-%03u", t);
        put("node_peer", name, script, sl);
        if (all + len + 3 <= sizeof every) all = script_add(every, all, udp ? 0x00 : 0x02, body, len);
    }
    put("node_peer", "every-type", every, all);
    uint8_t nack[WIRE_NACK_LEN];
    size_t nl = wire_nack_encode(0x1234, env_addr(ENV_IP(81, 0, 0, 1), 4000), &e, nack, sizeof nack);
    put("wire_nack", "nack", nack, nl);
    uint8_t hello[WIRE_HELLO_LEN];
    size_t hl = wire_hello_encode(0x11223344, 1, &e, hello, sizeof hello);
    put("wire_hello", "hello", hello, hl);
    size_t sl = script_add(script, 0, 0x03, hello, hl);
    put("node_peer", "raw-hello", script, sl);
    StunMsg sm = {.type = STUN_BINDING_REQUEST, .has_fingerprint = true};
    memset(sm.txid, 7, sizeof sm.txid);
    uint8_t stun[STUN_MSG_MAX];
    size_t stl = stun_encode(&sm, stun, sizeof stun);
    put("stun", "request", stun, stl);
    sl = script_add(script, 0, 0x01, stun, stl);
    put("node_peer", "stun-request", script, sl);
    sm.has_change = true;
    sm.change_flags = STUN_CHANGE_IP | STUN_CHANGE_PORT;
    stl = stun_encode(&sm, stun, sizeof stun);
    put("stun", "request-change", stun, stl);
    StunMsg sa = {.type = STUN_BINDING_SUCCESS, .has_fingerprint = true, .has_xor_mapped = true,
                  .has_mapped = true, .has_other = true, .has_origin = true};
    sa.mapped = sa.xor_mapped = env_addr(ENV_IP(81, 0, 0, 1), 4000);
    sa.other = sa.origin = env_addr(ENV_IP(82, 0, 0, 2), 33033);
    stl = stun_encode(&sa, stun, sizeof stun);
    put("stun", "response", stun, stl);
    crypto_free(c);
    return fakenet_free(net) == 0 ? 0 : 1;
}
