/* Harness wire_nack: any datagram through wire_udp_is_nack and
 * wire_nack_decode; a decoded NAck encodes back to a NAck that decodes to
 * the same frame id and address. */
#include "fuzz.h"
#include "fakeenv.h"
#include "protocol/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)wire_udp_is_nack(data, size);
    uint16_t fid;
    EnvAddr seen;
    if (!wire_nack_decode(data, size, &fid, &seen)) return 0;
    FakeNet *net = fakenet_new(1);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    Env e = fakeenv_env(h);
    uint8_t out[WIRE_NACK_LEN];
    size_t len = wire_nack_encode(fid, seen, &e, out, sizeof out);
    uint16_t fid2;
    EnvAddr seen2;
    FUZZ_REQUIRE(wire_nack_decode(out, len, &fid2, &seen2), "re-encoded NAck does not decode");
    FUZZ_REQUIRE(fid2 == fid && env_addr_eq(seen2, seen), "NAck fields changed in a round trip");
    FUZZ_REQUIRE(fakenet_free(net) == 0, "fake net leaked");
    return 0;
}
