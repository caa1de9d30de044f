/* Harness wire_udp_open: the UDP envelope. The first input byte picks the
 * mode: even, the rest is a datagram as received (opened, and the body
 * decoded when it decrypts); odd, the rest is a plaintext body that is
 * sealed and opened again, which must give it back unchanged. */
#include "fuzz.h"
#include "fakeenv.h"
#include "protocol/wire.h"

#include <string.h>

#define SRC_IP ENV_IP(81, 0, 0, 1)
#define DST_IP ENV_IP(82, 0, 0, 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static Crypto *c;
    if (!c) c = crypto_new(NULL);
    FakeNet *net = fakenet_new(1);
    Env e = fakeenv_env(fakenet_host_add(net, DST_IP));
    static uint8_t pkt[ENV_UDP_MAX + 64], body[ENV_UDP_MAX + 64];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    uint16_t fid;
    if (data[0] & 1) {
        size_t max = ENV_UDP_MAX - WIRE_UDP_HDR - WIRE_UDP_TRAILER;
        if (len > max) len = max;
        uint16_t id = (uint16_t)(len * 31u + 7u);
        size_t pl = wire_udp_seal(c, &e, id, SRC_IP, DST_IP, in, len, pkt, sizeof pkt);
        long bl = wire_udp_open(c, &e, pkt, pl, SRC_IP, DST_IP, body, sizeof body, &fid);
        if (len < 2) /* a frame holds at least a 2-byte body (version, type) */
            FUZZ_REQUIRE(bl == WIRE_OPEN_SHORT, "sealed %zu bytes, opened %ld", len, bl);
        else
            FUZZ_REQUIRE(bl == (long)len && memcmp(body, in, len) == 0 && fid == id,
                         "sealed %zu bytes, opened %ld", len, bl);
    } else if (len <= sizeof body) {
        long bl = wire_udp_open(c, &e, in, len, SRC_IP, DST_IP, body, sizeof body, &fid);
        FUZZ_REQUIRE(bl == WIRE_OPEN_SHORT || bl == WIRE_OPEN_BADCRC || (bl >= 0 && (size_t)bl <= len),
                     "opened %zu bytes into %ld", len, bl);
        WireMsg m;
        if (bl >= 0) (void)wire_decode(body, (size_t)bl, &m);
    }
    FUZZ_REQUIRE(fakenet_free(net) == 0, "fake net leaked");
    return 0;
}
