/* Suite "wire": encoding of every message type, strict decoding
 * (truncation, trailing bytes, bad version/type/fields), the RC4 UDP
 * envelope with its CRC and NAck, the TCP hello and AES frames. */
#include "fakeenv.h"
#include "protocol/stun.h"
#include "protocol/wire.h"
#include "t_assert.h"

/* One sample of every message type, fields filled. */
static size_t samples(WireMsg *m)
{
    static const uint8_t user[] = "alice", blob[] = "0123456789abcdef";
    size_t k = 0;
    m[k++] = (WireMsg){.type = WIRE_PROBE, .u.probe = {0, 4321, 0}};
    m[k++] = (WireMsg){.type = WIRE_PROBE, .u.probe = {1, 4321, 0xEF}};
    m[k] = (WireMsg){.type = WIRE_PROBE_ACK, .u.probe_ack = {WIRE_REDIRECT, 33033, 0, 2, {{0}}}};
    m[k].u.probe_ack.e[0] = (WireEntry){ENV_IP(1, 2, 3, 4), 5};
    m[k++].u.probe_ack.e[1] = (WireEntry){ENV_IP(6, 7, 8, 9), 10};
    m[k++] = (WireMsg){.type = WIRE_PROBE_ACK, .u.probe_ack = {WIRE_ACCEPT, 33033, 17, 0, {{0}}}};
    m[k++] = (WireMsg){.type = WIRE_PING, .u.ping = {0x12345678, 0}};
    m[k++] = (WireMsg){.type = WIRE_PONG, .u.ping = {0x12345678, 1}};
    m[k] = (WireMsg){.type = WIRE_STUN_ASSIST};
    memset(m[k].u.assist.txid, 0xAB, 12);
    m[k++].u.assist.target = (WireEntry){ENV_IP(9, 9, 9, 9), 999};
    m[k++] = (WireMsg){.type = WIRE_CONNECT, .u.connect = {5000, NAT_FULL_CONE, 1, 5, user}};
    m[k] = (WireMsg){.type = WIRE_CONNECT_ACK};
    m[k].u.connect_ack.verdict = WIRE_ACCEPT;
    m[k].u.connect_ack.seen = (WireEntry){ENV_IP(5, 5, 5, 5), 55};
    m[k].u.connect_ack.n = 1;
    m[k++].u.connect_ack.e[0] = (WireEntry){ENV_IP(1, 1, 1, 1), 11};
    m[k++] = (WireMsg){.type = WIRE_KEEPALIVE, .u.keepalive = {7, WIRE_KA_ELIGIBLE}};
    m[k++] = (WireMsg){.type = WIRE_PROMOTE};
    m[k] = (WireMsg){.type = WIRE_SN_GOSSIP};
    m[k].u.gossip.n = 2;
    m[k].u.gossip.e[0] = (WireGossipEntry){ENV_IP(3, 3, 3, 3), 33033, 0, 40};
    m[k++].u.gossip.e[1] = (WireGossipEntry){ENV_IP(3, 3, 3, 4), 4000, 65535, 100};
    m[k++] = (WireMsg){.type = WIRE_KEEPALIVE_ACK, .u.keepalive = {.seq = 7}};
    m[k++] = (WireMsg){.type = WIRE_HC_REQUEST, .u.hc_request = {8}};
    m[k] = (WireMsg){.type = WIRE_HC_ENTRIES};
    m[k].u.connect_ack.n = 3;
    for (int i = 0; i < 3; i++)
        m[k].u.connect_ack.e[i] = (WireEntry){ENV_IP(2, 2, 2, (uint8_t)i), 22};
    k++;
    m[k++] = (WireMsg){.type = WIRE_SN_HELLO, .u.sn_hello = {{ENV_IP(3, 3, 3, 3), 33033}, 33034}};
    m[k++] = (WireMsg){.type = WIRE_FORWARD,
                       .u.forward = {{ENV_IP(4, 4, 4, 4), 44}, 3, sizeof blob, blob}};
    m[k] = (WireMsg){.type = WIRE_SHED};
    m[k].u.connect_ack.n = 1;
    m[k++].u.connect_ack.e[0] = (WireEntry){ENV_IP(8, 8, 8, 8), 88};
    m[k++] = (WireMsg){.type = WIRE_LOGIN_REQ, .u.login = {16, blob, 10, blob}};
    m[k++] = (WireMsg){.type = WIRE_LOGIN_CERT, .u.login = {0, NULL, 16, blob}};
    m[k++] = (WireMsg){.type = WIRE_LOGIN_FAIL, .u.login_fail = {WIRE_FAIL_AUTH}};
    /* calls: a call message inside (see call_samples), or a media blob */
    m[k] = (WireMsg){.type = WIRE_CALL_UDP};
    m[k++].u.call = (WireCall){.kind = WIRE_CM_PUNCH, .call_id = 0x01020304};
    m[k] = (WireMsg){.type = WIRE_CALL};
    m[k].u.call = (WireCall){.kind = WIRE_CM_LOCATE, .call_id = 5, .ttl = 3,
                             .from_id = {ENV_IP(1, 2, 3, 4), 4321}, .ulen = 5};
    memcpy(m[k++].u.call.user, "alice", 5);
    m[k++] = (WireMsg){.type = WIRE_CALL_MEDIA, .u.media = {sizeof blob, blob}};
    /* search/presence: one layout, each type its subset of fields */
    const uint8_t st[] = {WIRE_SEARCH_Q,     WIRE_SEARCH_A,    WIRE_SN_NOTE,  WIRE_SEARCH_REQ,
                          WIRE_SEARCH_RESULT, WIRE_SEARCH_NODES, WIRE_SEARCH_MORE, WIRE_ANNOUNCE,
                          WIRE_PRESENCE,     WIRE_BUDDY_LIST};
    for (size_t i = 0; i < sizeof st; i++) {
        m[k] = (WireMsg){.type = st[i]};
        m[k].u.search = (WireSearch){.qid = 7, .flags = WIRE_SF_FOUND, .ulen = 5, .user = user,
                                     .client = {ENV_IP(6, 6, 6, 6), 66}, .sn = {ENV_IP(7, 7, 7, 7), 77},
                                     .to = {ENV_IP(8, 8, 8, 8), 88}, .age_ms = 1000, .sns = 3,
                                     .msgs = 9, .n = 1, .len = sizeof blob, .data = blob};
        m[k++].u.search.e[0] = (WireEntry){ENV_IP(9, 9, 9, 9), 99};
    }
    return k;
}

static void test_wire_roundtrip_every_type(void)
{
    WireMsg m[64], d;
    size_t k = samples(m);
    uint8_t seen[WIRE_TYPE_END] = {0};
    for (size_t i = 0; i < k; i++) {
        uint8_t buf[WIRE_FRAME_MAX], again[WIRE_FRAME_MAX];
        size_t len = wire_encode(&m[i], buf, sizeof buf);
        T_TRUE(wire_decode(buf, len, &d));
        T_EQ_U64(d.type, m[i].type);
        T_EQ_U64(wire_encode(&d, again, sizeof again), len); /* decode-encode is identity */
        T_TRUE(memcmp(buf, again, len) == 0);
        seen[m[i].type] = 1;
    }
    for (int t = 1; t < WIRE_TYPE_END; t++) {
        bool gap = (t > WIRE_CALL_UDP && t < WIRE_UDP_TYPE_END) || /* unassigned values */
                   (t > WIRE_SN_GOSSIP && t < WIRE_SEARCH_REQ) ||
                   (t > WIRE_BUDDY_LIST && t < WIRE_CALL);
        if (!gap && (t < WIRE_UDP_TYPE_END || t >= WIRE_CONNECT)) T_TRUE(seen[t]); /* covered */
    }
}

static void test_wire_truncated_and_padded_rejected(void)
{
    WireMsg m[64], d;
    size_t k = samples(m);
    for (size_t i = 0; i < k; i++) {
        uint8_t buf[WIRE_FRAME_MAX + 1];
        size_t len = wire_encode(&m[i], buf, sizeof buf - 1);
        for (size_t cut = 0; cut < len; cut++) {
            bool ok = wire_decode(buf, cut, &d);
            /* A shorter PROBE is a valid U1 (the U3 retry is U1 + 5 bytes). */
            bool u1 = m[i].type == WIRE_PROBE && m[i].u.probe.retry && cut == len - 5;
            /* Media over TCP is the rest of its frame: any non-empty cut is media. */
            if (m[i].type == WIRE_CALL_MEDIA) u1 = cut > 2;
            if (ok != u1) {
                char msg[80];
                g_snprintf(msg, sizeof msg, "type %u accepted at %zu of %zu bytes", m[i].type, cut,
                           len);
                CU_FAIL(msg);
            }
        }
        buf[len] = 0;
        if (m[i].type == WIRE_CALL_MEDIA) continue; /* a longer frame is a longer datagram */
        T_FALSE(wire_decode(buf, len + 1, &d)); /* trailing garbage */
    }
}

static void test_wire_bad_fields_rejected(void)
{
    WireMsg d;
    uint8_t bad_version[] = {WIRE_VERSION + 1, WIRE_PING, 0, 0, 0, 1};
    uint8_t bad_type[] = {WIRE_VERSION, 99, 0, 0, 0, 1};
    uint8_t zero_type[] = {WIRE_VERSION, 0};
    uint8_t too_many[] = {WIRE_VERSION, WIRE_HC_ENTRIES, WIRE_MAX_ENTRIES + 1};
    uint8_t bad_verdict[] = {WIRE_VERSION, WIRE_PROBE_ACK, 7, 0x80, 0xE9};
    uint8_t big_user[] = {WIRE_VERSION, WIRE_CONNECT, 0, 1, 0, 0, WIRE_USER_MAX + 1};
    uint8_t big_blob[] = {WIRE_VERSION, WIRE_LOGIN_CERT, 0xFF, 0xFF};
    uint8_t bad_u3[] = {WIRE_VERSION, WIRE_PROBE, 0, 1, 9, 9, 9, 9, 0, 0, 0, 0};
    uint8_t bad_pong[] = {WIRE_VERSION, WIRE_PONG, 0, 0, 0, 1, 2};
    T_FALSE(wire_decode(bad_version, sizeof bad_version, &d));
    T_FALSE(wire_decode(bad_type, sizeof bad_type, &d));
    T_FALSE(wire_decode(zero_type, sizeof zero_type, &d));
    T_FALSE(wire_decode(too_many, sizeof too_many, &d));
    T_FALSE(wire_decode(bad_verdict, sizeof bad_verdict, &d));
    T_FALSE(wire_decode(big_user, sizeof big_user, &d));
    T_FALSE(wire_decode(big_blob, sizeof big_blob, &d));
    T_FALSE(wire_decode(bad_u3, sizeof bad_u3, &d));
    T_FALSE(wire_decode(bad_pong, sizeof bad_pong, &d));
    T_FALSE(wire_decode(NULL, 0, &d));
}

static void test_wire_random_bytes_never_crash(void)
{
    /* Seed 12345: adversarial garbage; decoding must stay in bounds (the
     * sanitizer build checks that) and reject almost everything. */
    uint64_t s = 12345;
    WireMsg d;
    for (int i = 0; i < 20000; i++) {
        uint8_t buf[64];
        size_t len = (size_t)(i % 64);
        for (size_t j = 0; j < len; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[j] = (uint8_t)(s >> 56);
        }
        if (len >= 2) {
            buf[0] = WIRE_VERSION;
            buf[1] = (uint8_t)(1 + i % 30);
        }
        (void)wire_decode(buf, len, &d);
    }
    T_TRUE(true);
}

/* wire_type_known() covers every type that decodes: a type whose
 * zero-filled body of some length up to 64 bytes decodes must be known;
 * the call types are known; 0 and WIRE_TYPE_END are not. */
static void test_wire_known_types_are_the_decodable_ones(void)
{
    for (int t = 0; t < 256; t++) {
        bool decodes = false;
        for (size_t len = 2; len <= 64 && !decodes; len++) {
            uint8_t buf[64] = {WIRE_VERSION, (uint8_t)t};
            WireMsg d;
            decodes = wire_decode(buf, len, &d);
        }
        if (decodes) T_TRUE(wire_type_known((uint8_t)t));
    }
    T_TRUE(wire_type_known(WIRE_CALL_UDP));
    T_TRUE(wire_type_known(WIRE_CALL));
    T_TRUE(wire_type_known(WIRE_CALL_MEDIA));
    T_FALSE(wire_type_known(0));
    T_FALSE(wire_type_known(WIRE_TYPE_END));
}

/* One call message of every kind, each field its kind carries set to a
 * distinct non-zero value. */
static size_t call_samples(WireCall *c)
{
    size_t k = 0;
    for (uint8_t kind = 1; kind < WIRE_CM_KIND_END; kind++) {
        WireCall *x = &c[k++];
        memset(x, 0, sizeof *x);
        x->kind = kind;
        x->call_id = 0x80000001u + kind;
        switch (kind) {
        case WIRE_CM_LOCATE:
        case WIRE_CM_INVITE:
        case WIRE_CM_ANSWER:
            x->ttl = 3;
            x->from_id = env_addr(ENV_IP(1, 2, 3, 4), 4321);
            break;
        default: break;
        }
        if (kind == WIRE_CM_LOCATED || kind == WIRE_CM_INVITE || kind == WIRE_CM_ANSWER ||
            kind == WIRE_CM_RELAY) {
            x->a1 = env_addr(ENV_IP(5, 6, 7, 8), 5678);
            x->a2 = env_addr(ENV_IP(9, 10, 11, 12), 33033);
        }
        if (kind == WIRE_CM_INVITE || kind == WIRE_CM_ANSWER || kind == WIRE_CM_PATH ||
            kind == WIRE_CM_RELAY_BIND || kind == WIRE_CM_NAT_NOTE) {
            x->flags = WIRE_CMF_UDP_OK | (kind == WIRE_CM_INVITE ? WIRE_CMF_PUNCH_FIRST : 0);
            x->dnat = NAT_PORT_RESTRICTED;
            x->path = WIRE_CALL_PATH_END - 1;
            x->leg = 1;
        }
        if (kind == WIRE_CM_LOCATE || kind == WIRE_CM_LOCATED || kind == WIRE_CM_INVITE) {
            x->ulen = WIRE_USER_MAX;
            memset(x->user, 'u', WIRE_USER_MAX);
        }
        if (kind == WIRE_CM_INVITE || kind == WIRE_CM_ANSWER) memset(x->chal, 0xC1, 8);
        if (kind == WIRE_CM_ANSWER || kind == WIRE_CM_PATH || kind == WIRE_CM_RELAY)
            memset(x->resp, 0x4E, 8);
        if (kind == WIRE_CM_INVITE) memset(x->key, 0x6B, 32);
    }
    return k;
}

static void test_wire_call_roundtrip_every_kind(void)
{
    WireCall c[WIRE_CM_KIND_END], d;
    size_t k = call_samples(c);
    T_EQ_U64(k, WIRE_CM_KIND_END - 1);
    for (size_t i = 0; i < k; i++) {
        uint8_t buf[WIRE_CALL_MAX], again[WIRE_CALL_MAX];
        size_t len = wire_call_encode(&c[i], buf, sizeof buf);
        T_TRUE(wire_call_decode(buf, len, &d));
        T_TRUE(memcmp(&d, &c[i], sizeof d) == 0); /* every field the kind carries, others 0 */
        T_EQ_U64(wire_call_encode(&d, again, sizeof again), len);
        T_TRUE(memcmp(buf, again, len) == 0);
        /* Inside a frame and a datagram: a u16 length, then the same bytes. */
        const uint8_t types[] = {WIRE_CALL, WIRE_CALL_UDP};
        for (size_t t = 0; t < sizeof types; t++) {
            WireMsg m = {.type = types[t], .u.call = c[i]}, md;
            uint8_t body[WIRE_FRAME_MAX];
            size_t blen = wire_encode(&m, body, sizeof body);
            T_EQ_U64(blen, 4 + len);
            T_EQ_U64(wire_get_u16(body + 2), len);
            T_TRUE(memcmp(body + 4, buf, len) == 0);
            T_TRUE(wire_decode(body, blen, &md));
            T_TRUE(memcmp(&md.u.call, &c[i], sizeof d) == 0);
        }
    }
}

/* The layout is pinned: info is flags, a reserved zero byte (where the
 * true NAT label used to travel), detected NAT, path, leg. */
static void test_wire_call_layout_pinned(void)
{
    WireCall b = {.kind = WIRE_CM_RELAY_BIND, .call_id = 0x11223344, .leg = 1,
                  .dnat = NAT_FULL_CONE};
    const uint8_t want[] = {WIRE_CM_RELAY_BIND, 0x11, 0x22, 0x33, 0x44, 4,
                            0, 0, NAT_FULL_CONE, 0, 1};
    uint8_t buf[WIRE_CALL_MAX];
    T_EQ_U64(wire_call_encode(&b, buf, sizeof buf), sizeof want);
    T_TRUE(memcmp(buf, want, sizeof want) == 0);
    WireCall bye = {.kind = WIRE_CM_BYE, .call_id = 7};
    T_EQ_U64(wire_call_encode(&bye, buf, sizeof buf), 6);
}

static void test_wire_call_truncated_and_overlong_rejected(void)
{
    WireCall c[WIRE_CM_KIND_END], d;
    size_t k = call_samples(c);
    for (size_t i = 0; i < k; i++) {
        uint8_t buf[WIRE_CALL_MAX + 1];
        size_t len = wire_call_encode(&c[i], buf, sizeof buf);
        for (size_t cut = 0; cut < len; cut++)
            if (wire_call_decode(buf, cut, &d)) {
                char msg[80];
                g_snprintf(msg, sizeof msg, "call kind %u accepted at %zu of %zu bytes", c[i].kind,
                           cut, len);
                CU_FAIL(msg);
            }
        buf[len] = 0;
        T_FALSE(wire_call_decode(buf, len + 1, &d)); /* trailing byte */
        buf[5] ^= 0x80; /* a mask that is not the kind's */
        T_FALSE(wire_call_decode(buf, len, &d));
    }
    /* Out-of-range fields: kind, NAT types, path, leg, flags, empty user. */
    uint8_t kind0[] = {0, 0, 0, 0, 1, 0};
    uint8_t kind_end[] = {WIRE_CM_KIND_END, 0, 0, 0, 1, 0};
    T_FALSE(wire_call_decode(kind0, sizeof kind0, &d));
    T_FALSE(wire_call_decode(kind_end, sizeof kind_end, &d));
    uint8_t bind[] = {WIRE_CM_RELAY_BIND, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0};
    T_TRUE(wire_call_decode(bind, sizeof bind, &d));
    const size_t info = 6; /* flags, reserved, dnat, path, leg */
    const uint8_t bad[5] = {WIRE_CMF_PUNCH_FIRST << 1, 1, NAT_TYPE_COUNT, WIRE_CALL_PATH_END, 2};
    for (size_t f = 0; f < 5; f++) {
        uint8_t x[sizeof bind];
        memcpy(x, bind, sizeof x);
        x[info + f] = bad[f];
        T_FALSE(wire_call_decode(x, sizeof x, &d));
    }
    uint8_t no_user[] = {WIRE_CM_LOCATED, 0, 0, 0, 1, 2 | 8, 1, 1, 1, 1, 0, 1,
                         2, 2, 2, 2, 0, 2, 0};
    T_FALSE(wire_call_decode(no_user, sizeof no_user, &d));
    no_user[sizeof no_user - 1] = WIRE_USER_MAX + 1;
    T_FALSE(wire_call_decode(no_user, sizeof no_user, &d));
    /* A frame whose length field disagrees with the message inside. */
    WireMsg m = {.type = WIRE_CALL, .u.call = c[WIRE_CM_BYE - 1]}, md;
    uint8_t body[64];
    size_t blen = wire_encode(&m, body, sizeof body);
    body[3]++;
    T_FALSE(wire_decode(body, blen, &md));
    body[3] = 0;
    body[2] = 0;
    T_FALSE(wire_decode(body, 4, &md)); /* an empty call message */
}

typedef struct Fx {
    FakeNet *net;
    FakeEnv *h;
    Env e;
    Crypto *c;
} Fx;
static void fx_init(Fx *f)
{
    f->net = fakenet_new(9);
    f->h = fakenet_host_add(f->net, ENV_IP(10, 0, 0, 1));
    f->e = fakeenv_env(f->h);
    f->c = crypto_new(NULL);
}
static void fx_fini(Fx *f)
{
    crypto_free(f->c);
    fakenet_free(f->net);
}

static void test_wire_udp_envelope_and_bad_crc(void)
{
    Fx f;
    fx_init(&f);
    uint32_t src = ENV_IP(1, 1, 1, 1), dst = ENV_IP(2, 2, 2, 2);
    WireMsg m = {.type = WIRE_PING, .u.ping = {42, 0}};
    uint8_t body[64], pkt[128], out[128];
    size_t blen = wire_encode(&m, body, sizeof body);
    size_t plen = wire_udp_seal(f.c, &f.e, 0xCAFE, src, dst, body, blen, pkt, sizeof pkt);
    T_EQ_U64(plen, WIRE_UDP_HDR + blen + WIRE_UDP_TRAILER);
    T_EQ_U64(wire_get_u16(pkt), 0xCAFE);
    T_EQ_U64(pkt[2] & WIRE_FUNC_MASK, WIRE_FUNC_SIGNAL);
    T_FALSE(memcmp(pkt + WIRE_UDP_HDR, body, blen) == 0); /* really obfuscated */
    uint16_t fid = 0;
    T_EQ_I64(wire_udp_open(f.c, &f.e, pkt, plen, src, dst, out, sizeof out, &fid), (long)blen);
    T_EQ_U64(fid, 0xCAFE);
    T_TRUE(memcmp(out, body, blen) == 0);
    /* a20: keyed with another source IP (0.0.0.0) the CRC fails. */
    T_EQ_I64(wire_udp_open(f.c, &f.e, pkt, plen, 0, dst, out, sizeof out, &fid), WIRE_OPEN_BADCRC);
    T_EQ_I64(wire_udp_open(f.c, &f.e, pkt, 8, src, dst, out, sizeof out, &fid), WIRE_OPEN_SHORT);
    pkt[WIRE_UDP_HDR] ^= 1; /* a flipped bit is caught too */
    T_EQ_I64(wire_udp_open(f.c, &f.e, pkt, plen, src, dst, out, sizeof out, &fid),
             WIRE_OPEN_BADCRC);
    T_TRUE(fakeenv_cpu_calls(f.h, ENV_COST_RC4) >= 4);
    fx_fini(&f);
}

static void test_wire_measured_sizes(void)
{
    /* a22: an accepting U4 is 18 bytes; a22/a21: U2 11 bytes, T1 14 bytes. */
    Fx f;
    fx_init(&f);
    WireMsg m = {.type = WIRE_PROBE_ACK, .u.probe_ack = {WIRE_ACCEPT, 33033, 5, 0, {{0}}}};
    uint8_t body[64], pkt[128];
    size_t blen = wire_encode(&m, body, sizeof body);
    T_EQ_U64(wire_udp_seal(f.c, &f.e, 1, 2, 3, body, blen, pkt, sizeof pkt), 18);
    fx_fini(&f);
}

static void test_wire_nack_is_11_bytes(void)
{
    Fx f;
    fx_init(&f);
    uint8_t b[WIRE_NACK_LEN];
    EnvAddr seen = env_addr(ENV_IP(7, 7, 7, 7), 7777), got;
    uint16_t fid;
    T_EQ_U64(wire_nack_encode(0x1234, seen, &f.e, b, sizeof b), 11); /* a20 */
    T_TRUE(wire_udp_is_nack(b, sizeof b));
    T_EQ_U64(b[2] & WIRE_FUNC_MASK, 0x07); /* a18: 0x77 & 0x8f */
    T_TRUE(wire_nack_decode(b, sizeof b, &fid, &got));
    T_EQ_U64(fid, 0x1234);
    T_TRUE(env_addr_eq(got, seen));
    T_FALSE(wire_nack_decode(b, 10, &fid, &got));
    b[4] = 1;
    T_FALSE(wire_nack_decode(b, sizeof b, &fid, &got));
    fx_fini(&f);
}

static void test_wire_hello_and_frames(void)
{
    Fx f;
    fx_init(&f);
    uint8_t hello[WIRE_HELLO_LEN], role;
    uint32_t seed;
    T_EQ_U64(wire_hello_encode(0xA1B2C3D4, 2, &f.e, hello, sizeof hello), 14); /* a21 */
    T_EQ_U64(wire_get_u32(hello), 0xA1B2C3D4);                                 /* seed first */
    T_TRUE(wire_hello_decode(hello, sizeof hello, &seed, &role));
    T_EQ_U64(seed, 0xA1B2C3D4);
    T_EQ_U64(role, 2);
    T_FALSE(wire_hello_decode(hello, 13, &seed, &role));
    hello[4] ^= 1;
    T_FALSE(wire_hello_decode(hello, sizeof hello, &seed, &role));
    uint8_t key[32], body[] = "keep me secret", frame[64];
    wire_stream_key(f.c, &f.e, seed, key);
    size_t fl = wire_frame_seal(f.c, &f.e, key, 3, body, sizeof body, frame, sizeof frame);
    T_EQ_U64(fl, sizeof body + 2);
    T_EQ_U64(wire_get_u16(frame), sizeof body);
    T_FALSE(memcmp(frame + 2, body, sizeof body) == 0);
    wire_frame_open(f.c, &f.e, key, 3, frame + 2, sizeof body);
    T_TRUE(memcmp(frame + 2, body, sizeof body) == 0);
    T_TRUE(fakeenv_cpu_calls(f.h, ENV_COST_AES256) == 2);
    fx_fini(&f);
}

/* Conference messages (WireConf): every kind survives encode -> decode ->
 * encode byte for byte; the START layout is the one documented in wire.h;
 * truncated, padded and out-of-range messages are refused. */
static void test_wire_conf_roundtrip_and_rejects(void)
{
    WireConf c[7];
    memset(c, 0, sizeof c);
    EnvAddr a = env_addr(ENV_IP(1, 2, 3, 4), 5678), b = env_addr(ENV_IP(9, 8, 7, 6), 33033);
    WireConfPeer p = {.id = a, .pub = b, .cpu_mhz = 2400, .uplink_kbps = 1024, .udp = true,
                      .dnat = NAT_FULL_CONE};
    c[0] = (WireConf){.kind = WIRE_CF_INVITE, .conf_id = 7, .from = a, .mesh = true};
    memset(c[0].key, 0xAB, 32);
    c[1] = (WireConf){.kind = WIRE_CF_JOIN, .conf_id = 7, .n = 1, .p = {p}};
    c[2] = (WireConf){.kind = WIRE_CF_BUSY, .conf_id = 7, .from = b};
    c[3] = (WireConf){.kind = WIRE_CF_START, .conf_id = 7, .host = 1, .n = 3, .p = {p, p, p}};
    c[3].p[2].udp = false;
    c[4] = (WireConf){.kind = WIRE_CF_LEAVE, .conf_id = 7, .from = a};
    c[5] = (WireConf){.kind = WIRE_CF_END, .conf_id = 7};
    c[6] = (WireConf){.kind = WIRE_CF_RELAY, .conf_id = 7, .from = a, .relay = b};
    static const size_t want_len[7] = {5 + 6 + 1 + 32, 5 + 21, 5 + 6, 5 + 2 + 3 * 21, 5 + 6, 5, 5 + 12};
    for (int i = 0; i < 7; i++) {
        uint8_t buf[WIRE_CONF_MAX], again[WIRE_CONF_MAX];
        WireConf d;
        size_t len = wire_conf_encode(&c[i], buf, sizeof buf);
        T_EQ_U64(len, want_len[i]);
        T_TRUE(wire_conf_decode(buf, len, &d));
        T_EQ_U64(d.kind, c[i].kind);
        T_EQ_U64(d.conf_id, 7);
        T_EQ_U64(wire_conf_encode(&d, again, sizeof again), len);
        T_TRUE(memcmp(buf, again, len) == 0);
        for (size_t cut = 0; cut < len; cut++) T_FALSE(wire_conf_decode(buf, cut, &d));
        buf[len] = 0;
        T_FALSE(wire_conf_decode(buf, len + 1, &d)); /* trailing byte */
    }
    uint8_t buf[WIRE_CONF_MAX];
    WireConf d;
    size_t len = wire_conf_encode(&c[3], buf, sizeof buf);
    T_TRUE(wire_conf_decode(buf, len, &d));
    T_EQ_U64(d.host, 1);
    T_EQ_U64(d.n, 3);
    T_TRUE(env_addr_eq(d.p[1].pub, b));
    T_EQ_U64(d.p[2].udp, 0);
    T_EQ_U64(d.p[0].dnat, NAT_FULL_CONE);
    T_EQ_U64(buf[5], 1); /* host index, then the count */
    T_EQ_U64(buf[6], 3);
    buf[5] = 3; /* host not below the count */
    T_FALSE(wire_conf_decode(buf, len, &d));
    buf[5] = 1;
    buf[7 + 20] = (uint8_t)(NAT_TYPE_COUNT << 1); /* first participant's NatType out of range */
    T_FALSE(wire_conf_decode(buf, len, &d));
    len = wire_conf_encode(&c[0], buf, sizeof buf);
    buf[11] = 2; /* mesh is 0 or 1 */
    T_FALSE(wire_conf_decode(buf, len, &d));
    buf[0] = WIRE_CF_KIND_END; /* unknown kind */
    T_FALSE(wire_conf_decode(buf, len, &d));
}

T_SUITE_MAIN("wire", {"test_wire_roundtrip_every_type", test_wire_roundtrip_every_type},
             {"test_wire_truncated_and_padded_rejected", test_wire_truncated_and_padded_rejected},
             {"test_wire_bad_fields_rejected", test_wire_bad_fields_rejected},
             {"test_wire_call_roundtrip_every_kind", test_wire_call_roundtrip_every_kind},
             {"test_wire_conf_roundtrip_and_rejects", test_wire_conf_roundtrip_and_rejects},
             {"test_wire_call_layout_pinned", test_wire_call_layout_pinned},
             {"test_wire_call_truncated_and_overlong_rejected",
              test_wire_call_truncated_and_overlong_rejected},
             {"test_wire_random_bytes_never_crash", test_wire_random_bytes_never_crash},
             {"test_wire_udp_envelope_and_bad_crc", test_wire_udp_envelope_and_bad_crc},
             {"test_wire_nack_is_11_bytes", test_wire_nack_is_11_bytes},
             {"test_wire_known_types_are_the_decodable_ones",
              test_wire_known_types_are_the_decodable_ones},
             {"test_wire_measured_sizes", test_wire_measured_sizes},
             {"test_wire_hello_and_frames", test_wire_hello_and_frames})
