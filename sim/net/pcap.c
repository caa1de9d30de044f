/* pcap: capture writer and reader (pcap.h).
 *
 * Layer: sim/net. Headers are synthesized from the packet record at the
 * moment of capture, so they show the addresses and ports as rewritten so
 * far (the capture point's view). Format: the classic libpcap file
 * (https://wiki.wireshark.org/Development/LibpcapFileFormat), records in
 * the writer's byte order (readers detect it from the magic), IPv4 per
 * RFC 791, UDP per RFC 768, TCP per RFC 793, ICMP per RFC 792; checksums
 * are the Internet checksum (RFC 1071) with the pseudo-header for UDP/TCP.
 */
#include "sim/net/pcap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protocol/base/check.h"
#include "sim/net/net_int.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_SNAPLEN 65535u

struct PcapWriter {
    FILE *f;           /* the .part file */
    char *path;        /* final name (owned) */
    char *tmp;         /* path + ".part" (owned) */
    uint64_t records;  /* records written */
    bool failed;       /* a write failed (reported at close) */
};

G_DEFINE_QUARK(skysim-pcap-error-quark, pcap_error)

/* ---- bytes -------------------------------------------------------------- */

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Adds bytes to a ones-complement sum (RFC 1071). */
static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1) sum += (uint32_t)b[n - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Sum of the UDP/TCP pseudo-header. */
static uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint8_t ph[12];
    put32(ph, src);
    put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = proto;
    put16(ph + 10, len);
    return csum_add(0, ph, sizeof ph);
}

static void ip_header(uint8_t *b, uint16_t total, uint16_t id, uint8_t ttl, uint8_t proto,
                      uint32_t src, uint32_t dst)
{
    memset(b, 0, NET_IP_HDR);
    b[0] = 0x45;
    put16(b + 2, total);
    put16(b + 4, id);
    put16(b + 6, proto == NET_PROTO_ICMP ? 0 : 0x4000); /* DF */
    b[8] = ttl;
    b[9] = proto;
    put32(b + 12, src);
    put32(b + 16, dst);
    put16(b + 10, csum_fold(csum_add(0, b, NET_IP_HDR)));
}

/* Writes p's wire image into b (room for 20 + 20 + 1500 bytes); returns its length. */
static size_t synthesize(const Packet *p, uint8_t *b)
{
    uint16_t total = (uint16_t)net__pkt_wire(p);
    ip_header(b, total, p->ip_id, p->ttl, p->proto, p->src, p->dst);
    uint8_t *t = b + NET_IP_HDR;
    uint16_t tlen = (uint16_t)(total - NET_IP_HDR);
    if (p->proto == NET_PROTO_UDP) {
        put16(t, p->sport);
        put16(t + 2, p->dport);
        put16(t + 4, tlen);
        put16(t + 6, 0);
        memcpy(t + NET_UDP_HDR, p->data, p->len);
        uint16_t c = csum_fold(csum_add(csum_pseudo(p->src, p->dst, NET_PROTO_UDP, tlen), t, tlen));
        put16(t + 6, c ? c : 0xffff);
    } else if (p->proto == NET_PROTO_TCP) {
        memset(t, 0, NET_TCP_HDR);
        put16(t, p->sport);
        put16(t + 2, p->dport);
        put32(t + 4, p->seq);
        put32(t + 8, p->ack);
        t[12] = 5 << 4;
        t[13] = p->flags;
        put16(t + 14, p->win);
        memcpy(t + NET_TCP_HDR, p->data, p->len);
        put16(t + 16, csum_fold(csum_add(csum_pseudo(p->src, p->dst, NET_PROTO_TCP, tlen), t, tlen)));
    } else {
        memset(t, 0, tlen);
        t[0] = 3; /* destination unreachable */
        t[1] = p->flags;
        /* Quoted: the offending packet's IPv4 header and first 8 bytes. */
        ip_header(t + 8, 28, 0, 64, p->eproto, p->seq, p->ack);
        put16(t + 28, p->sport);
        put16(t + 30, p->dport);
        if (p->eproto == NET_PROTO_UDP) put16(t + 32, NET_UDP_HDR);
        put16(t + 2, csum_fold(csum_add(0, t, tlen)));
    }
    return total;
}

/* ---- writer ------------------------------------------------------------- */

static void write_u32(uint8_t *b, uint32_t v) { memcpy(b, &v, 4); } /* writer byte order */
static void write_u16(uint8_t *b, uint16_t v) { memcpy(b, &v, 2); }

bool net_pcap_open(Net *net, const char *path, GError **err)
{
    if (net->pcap) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_IO, "%s: a capture is already open", path);
        return false;
    }
    char *tmp = g_strconcat(path, ".part", NULL);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_IO, "%s: %s", tmp, g_strerror(errno));
        g_free(tmp);
        return false;
    }
    uint8_t h[24];
    write_u32(h, PCAP_MAGIC_US);
    write_u16(h + 4, 2);
    write_u16(h + 6, 4);
    write_u32(h + 8, 0);
    write_u32(h + 12, 0);
    write_u32(h + 16, PCAP_SNAPLEN);
    write_u32(h + 20, PCAP_LINKTYPE_RAW);
    PcapWriter *w = g_new0(PcapWriter, 1);
    w->f = f;
    w->path = g_strdup(path);
    w->tmp = tmp;
    w->failed = fwrite(h, sizeof h, 1, f) != 1;
    net->pcap = w;
    return true;
}

void pcap__write(Net *net, const Packet *p)
{
    PcapWriter *w = net->pcap;
    uint8_t rec[16 + NET_IP_HDR + NET_TCP_HDR + NET_PKT_LARGE + 64];
    size_t n = synthesize(p, rec + 16);
    TimeNs now = sim_now(net->sim);
    write_u32(rec, (uint32_t)(now / TIMENS_S));
    write_u32(rec + 4, (uint32_t)((now % TIMENS_S) / TIMENS_US));
    write_u32(rec + 8, (uint32_t)n);
    write_u32(rec + 12, (uint32_t)n);
    if (fwrite(rec, 16 + n, 1, w->f) != 1) w->failed = true;
    w->records++;
}

void net_pcap_capture_node(Net *net, uint32_t node, bool on)
{
    CHECK(node > 0 && node < net->nnodes, "node %u", node);
    if (on) {
        net->nodes[node].flags |= NODE_CAPTURE;
    } else {
        net->nodes[node].flags &= (uint8_t)~NODE_CAPTURE;
    }
}

void net_pcap_capture_all(Net *net, bool on)
{
    net->capture_all = on;
    for (uint32_t i = 1; i < net->nnodes; i++) {
        if (net->nodes[i].kind == NODE_HOST) net_pcap_capture_node(net, i, on);
    }
}

bool net_pcap_close(Net *net, GError **err)
{
    PcapWriter *w = net->pcap;
    if (!w) return true;
    net->pcap = NULL;
    bool ok = !w->failed;
    if (fclose(w->f) != 0) ok = false;
    if (ok && rename(w->tmp, w->path) != 0) ok = false;
    if (!ok) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_IO, "%s: writing the capture failed: %s", w->path,
                    g_strerror(errno));
        remove(w->tmp);
    }
    g_free(w->path);
    g_free(w->tmp);
    g_free(w);
    return ok;
}

uint64_t net_pcap_records(const Net *net) { return net->pcap ? net->pcap->records : 0; }

/* ---- reader ------------------------------------------------------------- */

struct PcapReader {
    char *path;    /* for messages (owned) */
    uint8_t *data; /* whole file (owned) */
    size_t len;    /* its length */
    size_t pos;    /* next record */
    bool swap;     /* file byte order differs from ours */
    bool nanos;    /* nanosecond timestamps */
};

static uint32_t rd32(const PcapReader *r, const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return r->swap ? GUINT32_SWAP_LE_BE(v) : v;
}

PcapReader *pcap_reader_open(const char *path, GError **err)
{
    char *data;
    size_t len;
    GError *e = NULL;
    if (!g_file_get_contents(path, &data, &len, &e)) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_IO, "%s: %s", path, e->message);
        g_error_free(e);
        return NULL;
    }
    PcapReader *r = g_new0(PcapReader, 1);
    r->path = g_strdup(path);
    r->data = (uint8_t *)data;
    r->len = len;
    r->pos = 24;
    uint32_t magic = len >= 24 ? rd32(r, r->data) : 0;
    if (magic == GUINT32_SWAP_LE_BE(PCAP_MAGIC_US) || magic == GUINT32_SWAP_LE_BE(0xa1b23c4du)) {
        r->swap = true;
        magic = GUINT32_SWAP_LE_BE(magic);
    }
    r->nanos = magic == 0xa1b23c4du;
    uint32_t link = len >= 24 ? rd32(r, r->data + 20) : 0;
    if ((magic != PCAP_MAGIC_US && !r->nanos) || (link != PCAP_LINKTYPE_RAW && link != 228)) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_FORMAT,
                    "%s: expected a pcap file of raw IPv4 (link type 101 or 228), found magic "
                    "%08x link type %u",
                    path, magic, link);
        pcap_reader_free(r);
        return NULL;
    }
    return r;
}

bool pcap_reader_next(PcapReader *r, PcapRecord *rec, GError **err)
{
    if (r->pos == r->len) return false;
    const uint8_t *h = r->data + r->pos;
    uint32_t caplen = r->pos + 16 <= r->len ? rd32(r, h + 8) : UINT32_MAX;
    if (caplen == UINT32_MAX || r->pos + 16 + (size_t)caplen > r->len) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_FORMAT, "%s: record at byte %zu is truncated",
                    r->path, r->pos);
        return false;
    }
    TimeNs frac = rd32(r, h + 4);
    rec->ts_ns = (TimeNs)rd32(r, h) * TIMENS_S + (r->nanos ? frac : frac * TIMENS_US);
    rec->caplen = caplen;
    rec->origlen = rd32(r, h + 12);
    rec->data = h + 16;
    r->pos += 16 + caplen;
    return true;
}

void pcap_reader_free(PcapReader *r)
{
    if (!r) return;
    g_free(r->path);
    g_free(r->data);
    g_free(r);
}

static void parse_transport(const uint8_t *t, size_t tlen, PcapIp *o)
{
    if (o->proto == NET_PROTO_UDP && tlen >= NET_UDP_HDR) {
        o->sport = get16(t);
        o->dport = get16(t + 2);
        o->payload = t + NET_UDP_HDR;
        o->payload_len = (uint16_t)(tlen - NET_UDP_HDR);
        uint16_t stored = get16(t + 6);
        uint32_t sum = csum_add(csum_pseudo(o->src, o->dst, o->proto, (uint16_t)tlen), t, tlen);
        o->l4_csum_ok = stored == 0 || csum_fold(sum) == 0;
    } else if (o->proto == NET_PROTO_TCP && tlen >= NET_TCP_HDR) {
        size_t off = (size_t)(t[12] >> 4) * 4;
        o->sport = get16(t);
        o->dport = get16(t + 2);
        o->seq = get32(t + 4);
        o->ack = get32(t + 8);
        o->tcp_flags = t[13];
        o->payload = t + off;
        o->payload_len = (uint16_t)(tlen >= off ? tlen - off : 0);
        uint32_t sum = csum_add(csum_pseudo(o->src, o->dst, o->proto, (uint16_t)tlen), t, tlen);
        o->l4_csum_ok = csum_fold(sum) == 0;
    } else if (o->proto == NET_PROTO_ICMP && tlen >= 8) {
        o->icmp_type = t[0];
        o->icmp_code = t[1];
        o->l4_csum_ok = csum_fold(csum_add(0, t, tlen)) == 0;
        if (tlen >= 8 + NET_IP_HDR + 4) {
            o->quoted_src = get32(t + 8 + 12);
            o->quoted_dst = get32(t + 8 + 16);
            o->sport = get16(t + 8 + NET_IP_HDR);
            o->dport = get16(t + 8 + NET_IP_HDR + 2);
        }
    }
}

bool pcap_parse_ipv4(const uint8_t *data, size_t len, PcapIp *o)
{
    memset(o, 0, sizeof *o);
    if (len < NET_IP_HDR || data[0] >> 4 != 4) return false;
    size_t ihl = (size_t)(data[0] & 15) * 4;
    uint16_t total = get16(data + 2);
    if (ihl < NET_IP_HDR || total < ihl || total > len) return false;
    o->total_len = total;
    o->ttl = data[8];
    o->proto = data[9];
    o->src = get32(data + 12);
    o->dst = get32(data + 16);
    o->ip_csum_ok = csum_fold(csum_add(0, data, ihl)) == 0;
    parse_transport(data + ihl, total - ihl, o);
    return true;
}
