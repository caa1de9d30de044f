/* Harness wire_decode: any plaintext body (UDP or TCP message types alike)
 * through wire_decode. What decodes must encode again, and that encoding
 * must be a fixed point: decode(encode(m)) encodes to the same bytes, and
 * its type must be one wire_type_known() names. The same bytes also go
 * through wire_conf_decode (conference payloads), whose decodings must
 * re-encode to exactly the input. */
#include "fuzz.h"
#include "protocol/wire.h"

#include <string.h>

/* Conference messages (FORWARD payloads): a decoded one re-encodes to the
 * same bytes. */
static void fuzz_conf(const uint8_t *data, size_t size)
{
    WireConf c;
    if (!wire_conf_decode(data, size, &c)) return;
    static uint8_t a[WIRE_CONF_MAX];
    size_t la = wire_conf_encode(&c, a, sizeof a);
    FUZZ_REQUIRE(la == size && memcmp(a, data, size) == 0, "conference kind %u: encoding differs",
                 c.kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_conf(data, size);
    WireMsg m;
    if (!wire_decode(data, size, &m)) return 0;
    FUZZ_REQUIRE(wire_type_known(m.type), "type %u decodes but is not known", m.type);
    static uint8_t a[4 * WIRE_FRAME_MAX], b[4 * WIRE_FRAME_MAX];
    size_t la = wire_encode(&m, a, sizeof a);
    WireMsg m2;
    FUZZ_REQUIRE(wire_decode(a, la, &m2), "type %u: its own encoding (%zu bytes) does not decode",
                 m.type, la);
    FUZZ_REQUIRE(m2.type == m.type, "type %u re-decoded as %u", m.type, m2.type);
    size_t lb = wire_encode(&m2, b, sizeof b);
    FUZZ_REQUIRE(la == lb && memcmp(a, b, la) == 0, "type %u: encoding not stable", m.type);
    return 0;
}
