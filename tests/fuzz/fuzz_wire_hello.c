/* Harness wire_hello: any first TCP segment through wire_hello_decode; a
 * decoded hello encodes back to one with the same seed and role. */
#include "fuzz.h"
#include "fakeenv.h"
#include "protocol/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed;
    uint8_t role;
    if (!wire_hello_decode(data, size, &seed, &role)) return 0;
    FakeNet *net = fakenet_new(1);
    FakeEnv *h = fakenet_host_add(net, ENV_IP(10, 0, 0, 1));
    Env e = fakeenv_env(h);
    uint8_t out[WIRE_HELLO_LEN];
    size_t len = wire_hello_encode(seed, role, &e, out, sizeof out);
    uint32_t seed2;
    uint8_t role2;
    FUZZ_REQUIRE(wire_hello_decode(out, len, &seed2, &role2), "re-encoded hello does not decode");
    FUZZ_REQUIRE(seed2 == seed && role2 == role, "hello fields changed in a round trip");
    FUZZ_REQUIRE(fakenet_free(net) == 0, "fake net leaked");
    return 0;
}
