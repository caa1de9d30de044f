/* Suite "stun": RFC 5389 codec against the RFC 5769 sample messages, our
 * own encoder's output, strict rejection of malformed input, and the RFC
 * 3489 §10.1 decision tree for every NAT type. */
#include "protocol/stun.h"
#include "t_assert.h"

/* RFC 5769 §2.1 sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_req[108] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 §2.2 sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc5769_resp[80] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

static const uint8_t rfc5769_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                         0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void test_stun_rfc5769_request(void)
{
    StunMsg m;
    T_TRUE(stun_is_stun(rfc5769_req, sizeof rfc5769_req));
    T_TRUE(stun_decode(rfc5769_req, sizeof rfc5769_req, &m));
    T_EQ_U64(m.type, STUN_BINDING_REQUEST);
    T_TRUE(memcmp(m.txid, rfc5769_txid, 12) == 0);
    T_TRUE(m.has_fingerprint); /* and it verified */
    T_TRUE(m.has_integrity);
    T_EQ_U64(m.software_len, 16);
    T_FALSE(m.has_change);
}

static void test_stun_rfc5769_response(void)
{
    StunMsg m;
    T_TRUE(stun_decode(rfc5769_resp, sizeof rfc5769_resp, &m));
    T_EQ_U64(m.type, STUN_BINDING_SUCCESS);
    T_TRUE(m.has_xor_mapped);
    T_EQ_U64(m.xor_mapped.ip, ENV_IP(192, 0, 2, 1));
    T_EQ_U64(m.xor_mapped.port, 32853);
    T_TRUE(m.has_fingerprint);
    T_TRUE(memcmp(m.txid, rfc5769_txid, 12) == 0);
}

static void test_stun_encode_matches_rfc_layout(void)
{
    /* Our XOR-MAPPED-ADDRESS for 192.0.2.1:32853 with the RFC's txid must be
     * the RFC's bytes (00 20 00 08 00 01 a1 47 e1 12 a6 43). */
    StunMsg m = {.type = STUN_BINDING_SUCCESS, .has_xor_mapped = true};
    memcpy(m.txid, rfc5769_txid, 12);
    m.xor_mapped = env_addr(ENV_IP(192, 0, 2, 1), 32853);
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    T_EQ_U64(len, 32);
    T_TRUE(memcmp(buf, "\x01\x01\x00\x0c\x21\x12\xa4\x42", 8) == 0);
    T_TRUE(memcmp(buf + 20, rfc5769_resp + 36, 12) == 0);
}

static void test_stun_roundtrip_with_fingerprint(void)
{
    StunMsg m = {.type = STUN_BINDING_SUCCESS,
                 .has_xor_mapped = true,
                 .has_mapped = true,
                 .has_other = true,
                 .has_origin = true,
                 .has_fingerprint = true};
    memset(m.txid, 7, 12);
    m.xor_mapped = m.mapped = env_addr(ENV_IP(81, 2, 3, 4), 40000);
    m.other = env_addr(ENV_IP(66, 235, 181, 9), 33033);
    m.origin = env_addr(ENV_IP(66, 235, 180, 9), 33034);
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    StunMsg d;
    T_TRUE(stun_decode(buf, len, &d));
    T_TRUE(d.has_fingerprint && d.has_other && d.has_origin && d.has_mapped);
    T_TRUE(env_addr_eq(d.xor_mapped, m.xor_mapped));
    T_TRUE(env_addr_eq(d.other, m.other));
    T_TRUE(env_addr_eq(d.origin, m.origin));
    StunMsg r = {.type = STUN_BINDING_REQUEST,
                 .has_change = true,
                 .has_fingerprint = true,
                 .change_flags = STUN_CHANGE_IP | STUN_CHANGE_PORT};
    len = stun_encode(&r, buf, sizeof buf);
    T_EQ_U64(len, 20 + 8 + 8);
    T_TRUE(stun_decode(buf, len, &d));
    T_TRUE(d.has_change);
    T_EQ_U64(d.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
}

static void test_stun_malformed_rejected(void)
{
    StunMsg d;
    uint8_t buf[sizeof rfc5769_resp];
    /* Every truncation. */
    for (size_t cut = 0; cut < sizeof rfc5769_resp; cut++)
        T_FALSE(stun_decode(rfc5769_resp, cut, &d));
    /* Any flipped bit breaks the fingerprint or the structure; flipping
     * the FINGERPRINT's own type makes it an unknown optional attribute
     * after MESSAGE-INTEGRITY, ignored (§15.4): no verified fingerprint. */
    for (size_t i = 0; i < sizeof buf; i++) {
        memcpy(buf, rfc5769_resp, sizeof buf);
        buf[i] ^= 0x10;
        T_FALSE(stun_decode(buf, sizeof buf, &d) && d.has_fingerprint);
    }
    /* An attribute whose length runs past the end (length field fixed up). */
    uint8_t a[] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1,    2,    3, 4, 5, 6,
                   7,    8,    9,    10,   11,   12,   0x00, 0x20, 0x00, 0x40, 0, 1, 2, 3};
    T_FALSE(stun_decode(a, sizeof a, &d));
    /* Unknown comprehension-required attribute in a response. */
    uint8_t u[] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1,    2,    3, 4, 5, 6,
                   7,    8,    9,    10,   11,   12,   0x00, 0x7f, 0x00, 0x04, 0, 1, 2, 3};
    T_FALSE(stun_decode(u, sizeof u, &d));
    /* comprehension-optional: fine */
    u[21] = 0x7f;
    u[20] = 0x80;
    T_TRUE(stun_decode(u, sizeof u, &d));
    /* A wrong cookie is not STUN (RFC 3489-format messages are refused). */
    memcpy(buf, rfc5769_resp, sizeof buf);
    buf[4] = 0;
    T_FALSE(stun_is_stun(buf, sizeof buf));
    /* Top bits set: not STUN (our obfuscated frames start anywhere). */
    buf[0] = 0xC1;
    T_FALSE(stun_is_stun(buf, sizeof buf));
}

/* Builds the test results a NAT of type t would produce (RFC 3489 §10.1)
 * and checks the classification. */
static StunResults results_for(NatType t)
{
    StunResults r = {0};
    EnvAddr local = env_addr(ENV_IP(10, 0, 0, 2), 5000);
    EnvAddr pub = env_addr(ENV_IP(81, 0, 0, 2), 40000);
    r.local = local;
    switch (t) {
    case NAT_OPEN:
        r.t1_ok = r.t2_ok = true;
        r.t1_mapped = local;
        break;
    case NAT_SYMMETRIC_FIREWALL:
        r.t1_ok = true;
        r.t1_mapped = local;
        break;
    case NAT_FULL_CONE:
        r.t1_ok = r.t2_ok = true;
        r.t1_mapped = pub;
        break;
    case NAT_RESTRICTED:
        r.t1_ok = r.t1b_ok = r.t3_ok = r.t4_ok = true;
        r.t1_mapped = r.t1b_mapped = r.t4_mapped = pub;
        break;
    case NAT_PORT_RESTRICTED:
        r.t1_ok = r.t1b_ok = r.t4_ok = true;
        r.t1_mapped = r.t1b_mapped = r.t4_mapped = pub;
        break;
    case NAT_SYMMETRIC:
        r.t1_ok = r.t1b_ok = true;
        r.t1_mapped = pub;
        r.t1b_mapped = pub;
        r.t1b_mapped.port++;
        break;
    default:
        break; /* UDP blocked: nothing answers */
    }
    return r;
}

static void test_stun_classify_every_type(void)
{
    NatType types[] = {NAT_OPEN,      NAT_FULL_CONE,   NAT_RESTRICTED,        NAT_PORT_RESTRICTED,
                       NAT_SYMMETRIC, NAT_UDP_BLOCKED, NAT_SYMMETRIC_FIREWALL};
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        StunResults r = results_for(types[i]);
        T_EQ_I64(stun_classify(&r), types[i]);
    }
    StunResults r = results_for(NAT_PORT_RESTRICTED);
    r.t1b_ok = false; /* the changed address never answered */
    T_EQ_I64(stun_classify(&r), NAT_UNKNOWN);
}

static void test_stun_next_test_sequence(void)
{
    /* The tests a client runs for each type, in order. */
    struct {
        NatType t;
        const char *seq;
    } cases[] = {{NAT_OPEN, "12"},         {NAT_SYMMETRIC_FIREWALL, "12"}, {NAT_FULL_CONE, "12"},
                 {NAT_RESTRICTED, "12435"}, {NAT_PORT_RESTRICTED, "12435"}, {NAT_SYMMETRIC, "124"},
                 {NAT_UDP_BLOCKED, "1"}};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        StunResults full = results_for(cases[i].t), seen = {0};
        seen.local = full.local;
        char got[8] = {0};
        unsigned done = 0;
        for (int k = 0, t; (t = stun_next_test(&seen, done)) != 0 && k < 6; k++) {
            got[k] = (char)('0' + t);
            done |= 1u << t;
            if (t == 1) {
                seen.t1_ok = full.t1_ok;
                seen.t1_mapped = full.t1_mapped;
            }
            if (t == 2) seen.t2_ok = full.t2_ok;
            if (t == 3) seen.t3_ok = full.t3_ok;
            if (t == 4) {
                seen.t1b_ok = full.t1b_ok;
                seen.t1b_mapped = full.t1b_mapped;
            }
            if (t == 5) {
                seen.t4_ok = full.t4_ok;
                seen.t4_mapped = full.t4_mapped;
            }
        }
        T_STR_EQ(got, cases[i].seq);
        T_EQ_I64(stun_classify(&seen), cases[i].t);
    }
}

/* The state test (docs/nat.md, probe natdet_state): a cone NAT whose
 * request to the endpoint that sent test II's answer unsolicited left from
 * another port keeps state for unsolicited packets (plain MASQUERADE); the
 * same port (a router that drops them), an unanswered test, a full cone
 * (test II passed) or a symmetric NAT (I' moved already) say nothing. */
static void test_stun_keeps_unsolicited_only_when_the_state_test_moves(void)
{
    StunResults r = results_for(NAT_PORT_RESTRICTED);
    T_TRUE(!stun_keeps_unsolicited(&r));
    r.t4_mapped.port = 1234;
    T_TRUE(stun_keeps_unsolicited(&r));
    T_EQ_I64(stun_classify(&r), NAT_PORT_RESTRICTED); /* the type stays what fresh flows see */
    r.t4_ok = false;
    T_TRUE(!stun_keeps_unsolicited(&r));
    StunResults s = results_for(NAT_SYMMETRIC);
    s.t4_ok = true;
    s.t4_mapped = env_addr(s.t1_mapped.ip, 1234);
    T_TRUE(!stun_keeps_unsolicited(&s));
    StunResults f = results_for(NAT_FULL_CONE);
    f.t1b_ok = f.t4_ok = true;
    f.t1b_mapped = f.t1_mapped;
    f.t4_mapped = env_addr(f.t1_mapped.ip, 1234);
    T_TRUE(!stun_keeps_unsolicited(&f));
}

static void test_stun_change_origin_roundtrip(void)
{
    StunMsg m = {.type = STUN_BINDING_SUCCESS, .has_xor_mapped = true, .has_other = true,
                 .has_change_origin = true, .has_fingerprint = true};
    memset(m.txid, 9, 12);
    m.xor_mapped = env_addr(ENV_IP(81, 2, 3, 4), 40000);
    m.other = env_addr(ENV_IP(66, 235, 181, 9), 33033);
    m.change_origin = env_addr(ENV_IP(66, 235, 181, 9), 33034);
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    StunMsg d;
    T_TRUE(stun_decode(buf, len, &d));
    T_TRUE(d.has_change_origin && d.has_other);
    T_TRUE(env_addr_eq(d.change_origin, m.change_origin));
    T_TRUE(env_addr_eq(d.other, m.other));
}

static void test_stun_nat_names(void)
{
    T_STR_EQ(stun_nat_name(NAT_PORT_RESTRICTED), "port_restricted_cone");
    T_STR_EQ(stun_nat_name(NAT_SYMMETRIC_FIREWALL), "symmetric_udp_firewall");
    T_STR_EQ(stun_nat_name((NatType)99), "invalid");
}

T_SUITE_MAIN("stun", {"test_stun_rfc5769_request", test_stun_rfc5769_request},
             {"test_stun_rfc5769_response", test_stun_rfc5769_response},
             {"test_stun_encode_matches_rfc_layout", test_stun_encode_matches_rfc_layout},
             {"test_stun_roundtrip_with_fingerprint", test_stun_roundtrip_with_fingerprint},
             {"test_stun_malformed_rejected", test_stun_malformed_rejected},
             {"test_stun_classify_every_type", test_stun_classify_every_type},
             {"test_stun_next_test_sequence", test_stun_next_test_sequence},
             {"test_stun_keeps_unsolicited_only_when_the_state_test_moves",
              test_stun_keeps_unsolicited_only_when_the_state_test_moves},
             {"test_stun_change_origin_roundtrip", test_stun_change_origin_roundtrip},
             {"test_stun_nat_names", test_stun_nat_names})
