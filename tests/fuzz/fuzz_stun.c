/* Harness stun: any datagram through stun_is_stun and stun_decode; a
 * decoded message re-encoded (the attributes stun_encode writes) decodes
 * again with the same type, transaction id and addresses. */
#include "fuzz.h"
#include "protocol/stun.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)stun_is_stun(data, size);
    StunMsg m;
    if (!stun_decode(data, size, &m)) return 0;
    m.has_integrity = false; /* not written by stun_encode */
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    StunMsg m2;
    FUZZ_REQUIRE(stun_decode(buf, len, &m2), "re-encoded STUN message does not decode");
    FUZZ_REQUIRE(m2.type == m.type && memcmp(m2.txid, m.txid, sizeof m.txid) == 0,
                 "STUN header changed in a round trip");
    FUZZ_REQUIRE(m2.has_mapped == m.has_mapped && m2.has_xor_mapped == m.has_xor_mapped &&
                     m2.has_change == m.has_change,
                 "STUN attributes changed in a round trip");
    FUZZ_REQUIRE(!m.has_xor_mapped || env_addr_eq(m2.xor_mapped, m.xor_mapped),
                 "XOR-MAPPED-ADDRESS changed in a round trip");
    FUZZ_REQUIRE(!m.has_mapped || env_addr_eq(m2.mapped, m.mapped),
                 "MAPPED-ADDRESS changed in a round trip");
    return 0;
}
