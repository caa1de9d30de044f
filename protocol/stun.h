/* stun: STUN messages in RFC 5389 format and the RFC 3489 NAT/firewall
 * classification.
 *
 * Layer: protocol/, beside wire (STUN is not obfuscated: it is sent in the
 * standard format so tshark dissects it). The measured clients detect their
 * NAT and firewall with a STUN-like exchange against supernodes (DESIGN.md,
 * "The protocol"); we use the real RFC 5389 header (magic cookie 0x2112A442,
 * 96-bit transaction id), XOR-MAPPED-ADDRESS (RFC 5389 §15.2) plus
 * MAPPED-ADDRESS for RFC 3489 readers, CHANGE-REQUEST (RFC 3489 §11.2.4,
 * kept by RFC 5780 §7.2), OTHER-ADDRESS (RFC 5780 §7.4, the successor of
 * RFC 3489's CHANGED-ADDRESS, which is also read) and FINGERPRINT (RFC 5389
 * §15.5). The classification is RFC 3489 §10.1's decision tree.
 */
#ifndef SKYSIM_STUN_H
#define SKYSIM_STUN_H

#include "protocol/env.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_MAGIC 0x2112A442u
#define STUN_HDR_LEN 20
#define STUN_MSG_MAX 548 /* RFC 5389 §7.1 guidance for unknown paths */

#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_CHANGE_REQUEST 0x0003
#define STUN_ATTR_CHANGED_ADDRESS 0x0005
#define STUN_ATTR_USERNAME 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_ERROR_CODE 0x0009
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_ATTR_RESPONSE_ORIGIN 0x802B
#define STUN_ATTR_OTHER_ADDRESS 0x802C
/* Where the answer to a change-IP-and-port request comes from (the other
 * supernode's second port). Not an RFC attribute: RFC 5780 derives that
 * endpoint from OTHER-ADDRESS and the primary port, which assumes both
 * servers listen on the same ports; supernodes do not. Comprehension-
 * optional (0xC000 range), so other STUN readers skip it. */
#define STUN_ATTR_CHANGE_ORIGIN 0xC0A1

#define STUN_CHANGE_IP 0x04   /* CHANGE-REQUEST flag "change IP" */
#define STUN_CHANGE_PORT 0x02 /* CHANGE-REQUEST flag "change port" */

/* NAT / firewall types (RFC 3489 §10.1 names). NAT_TCP_ONLY is a true type
 * only (a firewall passing TCP to 80/443 only); detection reports it as
 * NAT_UDP_BLOCKED. NAT_UNKNOWN: not detected (yet). Appended only: the
 * values name metrics. */
typedef enum NatType {
    NAT_OPEN = 0, /* open Internet: public address, no filtering */
    NAT_FULL_CONE = 1,
    NAT_RESTRICTED = 2,      /* restricted cone */
    NAT_PORT_RESTRICTED = 3, /* port-restricted cone */
    NAT_SYMMETRIC = 4,
    NAT_UDP_BLOCKED = 5,
    NAT_SYMMETRIC_FIREWALL = 6, /* public address, inbound unsolicited UDP blocked */
    NAT_TCP_ONLY = 7,           /* true type only: UDP blocked, TCP to 80/443 only */
    NAT_UNKNOWN = 8,
    NAT_TYPE_COUNT
} NatType;

/* Stable lower-case name ("port_restricted_cone"), used in metric names. */
const char *stun_nat_name(NatType t);

/* A parsed or to-be-built message. Address attributes are IPv4 only; IPv6
 * ones are skipped as unknown (the protocol speaks IPv4). */
typedef struct StunMsg {
    uint16_t type;         /* STUN_BINDING_* */
    uint8_t txid[12];      /* transaction id */
    bool has_mapped;       /* MAPPED-ADDRESS present */
    bool has_xor_mapped;   /* XOR-MAPPED-ADDRESS present */
    bool has_other;        /* OTHER-ADDRESS or CHANGED-ADDRESS present */
    bool has_origin;       /* RESPONSE-ORIGIN present */
    bool has_change;       /* CHANGE-REQUEST present */
    bool has_change_origin; /* CHANGE-ORIGIN (STUN_ATTR_CHANGE_ORIGIN) present */
    bool has_fingerprint;  /* FINGERPRINT present (and, when decoding, correct) */
    bool has_integrity;    /* MESSAGE-INTEGRITY present (decode only; not checked) */
    EnvAddr mapped;        /* MAPPED-ADDRESS */
    EnvAddr xor_mapped;    /* XOR-MAPPED-ADDRESS, already un-XORed */
    EnvAddr other;         /* OTHER-ADDRESS / CHANGED-ADDRESS */
    EnvAddr origin;        /* RESPONSE-ORIGIN */
    EnvAddr change_origin; /* where change-IP-and-port answers come from */
    uint8_t change_flags;  /* STUN_CHANGE_IP | STUN_CHANGE_PORT */
    uint16_t error_code;   /* ERROR-CODE class*100+number, 0 when absent */
    uint16_t software_len; /* SOFTWARE value length (decode only) */
} StunMsg;

/* Cheap demultiplexing test (RFC 5389 §6, §7.3): top two bits zero, length a
 * multiple of 4 matching len, magic cookie. */
bool stun_is_stun(const uint8_t *buf, size_t len);

/* Encodes m: the header, then the present attributes among CHANGE-REQUEST,
 * MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS,
 * CHANGE-ORIGIN, then
 * FINGERPRINT when m->has_fingerprint. Returns the length (<= cap, CHECKed). */
size_t stun_encode(const StunMsg *m, uint8_t *buf, size_t cap);

/* Strictly decodes one message of exactly len bytes. Returns false on a bad
 * header, an attribute running past the end, a malformed known attribute, a
 * wrong FINGERPRINT or one not last, or an unknown comprehension-required
 * attribute in a response. */
bool stun_decode(const uint8_t *buf, size_t len, StunMsg *m);

/* The outcome of the RFC 3489 §10.1 tests, input of stun_classify. */
typedef struct StunResults {
    bool t1_ok;         /* test I answered */
    EnvAddr t1_mapped;  /* mapped address from test I */
    EnvAddr local;      /* the client's local address (its socket) */
    bool t2_ok;         /* test II (change IP and port) answered */
    bool t1b_ok;        /* test I to the changed address answered */
    EnvAddr t1b_mapped; /* mapped address from that test */
    bool t3_ok;         /* test III (change port) answered */
    bool t4_ok;         /* the state test answered */
    EnvAddr t4_mapped;  /* mapped address from the state test */
} StunResults;

/* RFC 3489 §10.1 decision tree. */
NatType stun_classify(const StunResults *r);

/* Whether an unsolicited packet left state at the NAT (plain Linux
 * MASQUERADE, docs/nat.md): the NAT maps endpoint-independently (tests I
 * and I' agree), filtered test II's answer, and the state test, a request
 * to the endpoint that answer came from, left from another port. False
 * when the tests cannot tell (not run, unanswered, a symmetric NAT). */
bool stun_keeps_unsolicited(const StunResults *r);

/* The RFC 3489 §10.1 tests, as the client's NAT detection runs them. */
typedef enum StunTest {
    STUN_TEST_NONE = 0,    /* no test: idle, or detection done */
    STUN_TEST_I = 1,       /* binding request, no change */
    STUN_TEST_II = 2,      /* change IP and port */
    STUN_TEST_III = 3,     /* change port */
    STUN_TEST_I_OTHER = 4, /* test I sent to the OTHER-ADDRESS (symmetric NAT check) */
    STUN_TEST_STATE = 5,   /* test I sent to where test II's answer came from (CHANGE-ORIGIN):
                              did that unsolicited answer leave state at the NAT? */
} StunTest;

/* Which test comes next given what is known (for the client state
 * machine): a StunTest, STUN_TEST_NONE when done. `done_mask` has bit k
 * set when test k has run. */
int stun_next_test(const StunResults *r, unsigned done_mask);

#endif
