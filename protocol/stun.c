/* stun: RFC 5389 message codec and the RFC 3489 §10.1 classification (see
 * stun.h for the attribute set and the sources). */
#include "protocol/stun.h"

#include "protocol/crypto.h"
#include "protocol/wire.h"

#include <string.h>

static const char *const stun_nat_names[NAT_TYPE_COUNT] = {
    [NAT_OPEN] = "open",
    [NAT_FULL_CONE] = "full_cone",
    [NAT_RESTRICTED] = "restricted_cone",
    [NAT_PORT_RESTRICTED] = "port_restricted_cone",
    [NAT_SYMMETRIC] = "symmetric",
    [NAT_UDP_BLOCKED] = "udp_blocked",
    [NAT_SYMMETRIC_FIREWALL] = "symmetric_udp_firewall",
    [NAT_TCP_ONLY] = "tcp_80_443_only",
    [NAT_UNKNOWN] = "unknown",
};

const char *stun_nat_name(NatType t)
{
    return (unsigned)t < NAT_TYPE_COUNT ? stun_nat_names[t] : "invalid";
}

#define STUN_FINGERPRINT_XOR 0x5354554eu /* RFC 5389 §15.5 */

bool stun_is_stun(const uint8_t *buf, size_t len)
{
    if (len < STUN_HDR_LEN || (buf[0] & 0xC0) != 0) return false;
    size_t mlen = wire_get_u16(buf + 2);
    return mlen % 4 == 0 && mlen + STUN_HDR_LEN == len && wire_get_u32(buf + 4) == STUN_MAGIC;
}

/* ---- Encoding ---- */

static uint8_t *stun_attr(uint8_t *p, uint8_t *end, uint16_t type, uint16_t len)
{
    CHECK(p + 4 + ((len + 3u) & ~3u) <= end, "stun encode overflow");
    wire_put_u16(p, type);
    wire_put_u16(p + 2, len);
    memset(p + 4, 0, (len + 3u) & ~3u); /* padding is zero */
    return p + 4;
}

static uint8_t *stun_put_addr(uint8_t *p, uint8_t *end, uint16_t type, EnvAddr a, bool xor)
{
    uint8_t *v = stun_attr(p, end, type, 8);
    v[1] = 0x01; /* family IPv4 */
    wire_put_u16(v + 2, xor? (uint16_t)(a.port ^ (STUN_MAGIC >> 16)) : a.port);
    wire_put_u32(v + 4, xor? a.ip ^ STUN_MAGIC : a.ip);
    return v + 8;
}

size_t stun_encode(const StunMsg *m, uint8_t *buf, size_t cap)
{
    CHECK(cap >= STUN_HDR_LEN, "stun buffer %zu", cap);
    uint8_t *end = buf + cap, *p = buf + STUN_HDR_LEN;
    wire_put_u16(buf, m->type);
    wire_put_u32(buf + 4, STUN_MAGIC);
    memcpy(buf + 8, m->txid, 12);
    if (m->has_change) {
        uint8_t *v = stun_attr(p, end, STUN_ATTR_CHANGE_REQUEST, 4);
        wire_put_u32(v, m->change_flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
        p = v + 4;
    }
    if (m->has_mapped) p = stun_put_addr(p, end, STUN_ATTR_MAPPED_ADDRESS, m->mapped, false);
    if (m->has_xor_mapped)
        p = stun_put_addr(p, end, STUN_ATTR_XOR_MAPPED_ADDRESS, m->xor_mapped, true);
    if (m->has_origin) p = stun_put_addr(p, end, STUN_ATTR_RESPONSE_ORIGIN, m->origin, false);
    if (m->has_other) p = stun_put_addr(p, end, STUN_ATTR_OTHER_ADDRESS, m->other, false);
    if (m->has_change_origin)
        p = stun_put_addr(p, end, STUN_ATTR_CHANGE_ORIGIN, m->change_origin, false);
    if (m->has_fingerprint) {
        /* The length field must already count the FINGERPRINT (§15.5). */
        wire_put_u16(buf + 2, (uint16_t)(p + 8 - buf - STUN_HDR_LEN));
        uint32_t crc = crypto_crc32(0, buf, (size_t)(p - buf)) ^ STUN_FINGERPRINT_XOR;
        uint8_t *v = stun_attr(p, end, STUN_ATTR_FINGERPRINT, 4);
        wire_put_u32(v, crc);
        p = v + 4;
    }
    wire_put_u16(buf + 2, (uint16_t)(p - buf - STUN_HDR_LEN));
    return (size_t)(p - buf);
}

/* ---- Decoding ---- */

/* Reads an IPv4 address attribute value; false when malformed. IPv6 (family
 * 2, 20 bytes) is well-formed but unused: *used stays false. */
static bool stun_get_addr(const uint8_t *v, size_t len, bool xor, EnvAddr *a, bool *used)
{
    if (len < 4 || v[0] != 0) return false;
    if (v[1] == 0x02) return len == 20;
    if (v[1] != 0x01 || len != 8) return false;
    a->port = wire_get_u16(v + 2);
    a->ip = wire_get_u32(v + 4);
    if (xor) a->port ^= (uint16_t)(STUN_MAGIC >> 16), a->ip ^= STUN_MAGIC;
    *used = true;
    return true;
}

/* One attribute; false when it makes the message malformed. */
static bool stun_decode_attr(StunMsg *m, uint16_t type, const uint8_t *v, size_t len)
{
    switch (type) {
    case STUN_ATTR_MAPPED_ADDRESS:
        return stun_get_addr(v, len, false, &m->mapped, &m->has_mapped);
    case STUN_ATTR_XOR_MAPPED_ADDRESS:
        return stun_get_addr(v, len, true, &m->xor_mapped, &m->has_xor_mapped);
    case STUN_ATTR_CHANGED_ADDRESS:
    case STUN_ATTR_OTHER_ADDRESS:
        return stun_get_addr(v, len, false, &m->other, &m->has_other);
    case STUN_ATTR_RESPONSE_ORIGIN:
        return stun_get_addr(v, len, false, &m->origin, &m->has_origin);
    case STUN_ATTR_CHANGE_ORIGIN:
        return stun_get_addr(v, len, false, &m->change_origin, &m->has_change_origin);
    case STUN_ATTR_CHANGE_REQUEST:
        if (len != 4) return false;
        m->has_change = true;
        m->change_flags = (uint8_t)(wire_get_u32(v) & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
        return true;
    case STUN_ATTR_ERROR_CODE:
        if (len < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99) return false;
        m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
        return true;
    case STUN_ATTR_MESSAGE_INTEGRITY:
        m->has_integrity = true;
        return len == 20;
    case STUN_ATTR_SOFTWARE:
        m->software_len = (uint16_t)len;
        return len < 764; /* §15.10: fewer than 128 characters */
    case STUN_ATTR_USERNAME:
        return len < 513;
    default:
        /* Comprehension-required (< 0x8000) unknown attributes make a
         * response unusable (§7.3.3); a request is still understood
         * (we only ever receive Binding requests without them, and the ICE
         * attributes of RFC 5769's sample request are optional to us). */
        return type >= 0x8000 || m->type == STUN_BINDING_REQUEST;
    }
}

bool stun_decode(const uint8_t *buf, size_t len, StunMsg *m)
{
    memset(m, 0, sizeof *m);
    if (!stun_is_stun(buf, len)) return false;
    m->type = wire_get_u16(buf);
    if (m->type != STUN_BINDING_REQUEST && m->type != STUN_BINDING_SUCCESS &&
        m->type != STUN_BINDING_ERROR)
        return false;
    memcpy(m->txid, buf + 8, 12);
    size_t off = STUN_HDR_LEN;
    while (off < len) {
        if (len - off < 4 || m->has_fingerprint) return false; /* FINGERPRINT is last */
        uint16_t type = wire_get_u16(buf + off), alen = wire_get_u16(buf + off + 2);
        size_t padded = (alen + 3u) & ~3u;
        if (padded > len - off - 4) return false;
        const uint8_t *v = buf + off + 4;
        if (type == STUN_ATTR_FINGERPRINT) {
            uint32_t want = crypto_crc32(0, buf, off) ^ STUN_FINGERPRINT_XOR;
            if (alen != 4 || wire_get_u32(v) != want) return false;
            m->has_fingerprint = true;
        } else if (!m->has_integrity && !stun_decode_attr(m, type, v, alen)) {
            return false; /* attributes after MESSAGE-INTEGRITY are ignored (§15.4) */
        }
        off += 4 + padded;
    }
    return true;
}

/* ---- RFC 3489 §10.1 classification ---- */

NatType stun_classify(const StunResults *r)
{
    if (!r->t1_ok) return NAT_UDP_BLOCKED;
    if (env_addr_eq(r->t1_mapped, r->local)) /* no NAT */
        return r->t2_ok ? NAT_OPEN : NAT_SYMMETRIC_FIREWALL;
    if (r->t2_ok) return NAT_FULL_CONE;
    if (!r->t1b_ok) return NAT_UNKNOWN; /* the changed address did not answer */
    if (!env_addr_eq(r->t1b_mapped, r->t1_mapped)) return NAT_SYMMETRIC;
    return r->t3_ok ? NAT_RESTRICTED : NAT_PORT_RESTRICTED;
}

bool stun_keeps_unsolicited(const StunResults *r)
{
    return r->t1_ok && !r->t2_ok && r->t1b_ok && env_addr_eq(r->t1b_mapped, r->t1_mapped) &&
           r->t4_ok && !env_addr_eq(r->t4_mapped, r->t1_mapped);
}

/* Order: I, II, I' (to OTHER-ADDRESS, which never sent us anything: its
 * answer to II comes from the other port, CHANGE-ORIGIN), III, then the
 * state test to CHANGE-ORIGIN, which by then has sent us II's answer
 * unsolicited. Sending I' to the endpoint that answered II instead lets a
 * plain MASQUERADE router move I' to another port: tests/netns, probes
 * natdet and natdet_5780, kernel and model agree. */
int stun_next_test(const StunResults *r, unsigned done_mask)
{
    if (!(done_mask & (1u << 1))) return 1;
    if (!r->t1_ok) return 0;
    if (!(done_mask & (1u << 2))) return 2;
    if (env_addr_eq(r->t1_mapped, r->local) || r->t2_ok) return 0;
    if (!(done_mask & (1u << 4))) return 4;
    if (!r->t1b_ok || !env_addr_eq(r->t1b_mapped, r->t1_mapped)) return 0;
    if (!(done_mask & (1u << 3))) return 3;
    if (!(done_mask & (1u << 5))) return 5;
    return 0;
}
