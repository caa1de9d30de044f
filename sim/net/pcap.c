/* pcap: capture writer and reader (pcap.h).
 *
 * Layer: sim/net. Headers are synthesized from the packet record at the
 * moment of capture, so they show the addresses and ports as rewritten so
 * far (the capture point's view). Format: pcapng (draft-ietf-opsawg-pcapng:
 * a Section Header Block, one Interface Description Block per capture
 * point, written when the point captures its first packet, with if_name,
 * if_description and if_tsresol 9, then Enhanced Packet Blocks with 64-bit
 * nanosecond timestamps), in the writer's byte order. The reader also takes
 * the classic libpcap file
 * (https://wiki.wireshark.org/Development/LibpcapFileFormat). IPv4 per
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
#define PCAPNG_SHB 0x0a0d0d0au   /* Section Header Block */
#define PCAPNG_IDB 1u            /* Interface Description Block */
#define PCAPNG_EPB 6u            /* Enhanced Packet Block */
#define PCAPNG_BOM 0x1a2b3c4du   /* byte-order magic */

struct PcapWriter {
    FILE *f;           /* the .part file */
    char *path;        /* final name (owned) */
    char *tmp;         /* path + ".part" (owned) */
    uint64_t records;  /* records written */
    bool failed;       /* a write failed (reported at close) */
    uint32_t *ifid;    /* per node (index: node id, 0: the core), its interface + 1; 0: none yet */
    size_t n_ifid;     /* entries of ifid */
    uint32_t n_if;     /* interfaces described so far */
    NetPcapNamer namer; /* names capture points; NULL: "node N a.b.c.d" */
    void *namer_ctx;   /* its context, borrowed */
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

/* pcapng blocks, built in a byte array: type, length (patched at the end),
 * body, options (code, length, value padded to 4), opt_endofopt, length. */
static void ng_u16(GByteArray *b, uint16_t v) { g_byte_array_append(b, (const guint8 *)&v, 2); }
static void ng_u32(GByteArray *b, uint32_t v) { g_byte_array_append(b, (const guint8 *)&v, 4); }

static void ng_block_start(GByteArray *b, uint32_t type)
{
    ng_u32(b, type);
    ng_u32(b, 0);
}

static void ng_opt(GByteArray *b, uint16_t code, const void *v, size_t len)
{
    static const uint8_t zero[4] = {0};
    ng_u16(b, code);
    ng_u16(b, (uint16_t)len);
    g_byte_array_append(b, v, (guint)len);
    g_byte_array_append(b, zero, (guint)((4 - len % 4) % 4));
}

static void ng_opt_str(GByteArray *b, uint16_t code, const char *s)
{
    ng_opt(b, code, s, MIN(strlen(s), 1024));
}

static void ng_block_end(GByteArray *b)
{
    ng_u32(b, 0); /* opt_endofopt */
    uint32_t total = b->len + 4;
    ng_u32(b, total);
    memcpy(b->data + 4, &total, 4);
}

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
    PcapWriter *w = g_new0(PcapWriter, 1);
    w->f = f;
    w->path = g_strdup(path);
    w->tmp = tmp;
    GByteArray *b = g_byte_array_new();
    ng_block_start(b, PCAPNG_SHB);
    ng_u32(b, PCAPNG_BOM);
    ng_u16(b, 1); /* version 1.0 */
    ng_u16(b, 0);
    ng_u32(b, 0xffffffffu); /* section length: not given */
    ng_u32(b, 0xffffffffu);
    ng_opt_str(b, 4, "skysim (simulated network; headers synthesized)"); /* shb_userappl */
    ng_block_end(b);
    w->failed = fwrite(b->data, b->len, 1, f) != 1;
    g_byte_array_free(b, TRUE);
    net->pcap = w;
    return true;
}

void net_pcap_set_namer(Net *net, NetPcapNamer fn, void *ctx)
{
    CHECK(net->pcap, "no capture open");
    net->pcap->namer = fn;
    net->pcap->namer_ctx = ctx;
}

/* Describes the interface of capture point `node` (PCAP_CORE: the core). */
static void pcap_interface_add(Net *net, PcapWriter *w, uint32_t node)
{
    GString *name = g_string_new(NULL);
    if (node == PCAP_CORE) {
        g_string_assign(name, "core");
    } else if (w->namer) {
        w->namer(w->namer_ctx, node, name);
    } else {
        uint32_t a = net_node_addr(net, node);
        g_string_printf(name, "node %u %u.%u.%u.%u", node, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                        a & 255);
    }
    GByteArray *b = g_byte_array_new();
    ng_block_start(b, PCAPNG_IDB);
    ng_u16(b, PCAP_LINKTYPE_RAW);
    ng_u16(b, 0);
    ng_u32(b, PCAP_SNAPLEN);
    ng_opt_str(b, 2, name->str); /* if_name */
    ng_opt_str(b, 3, node == PCAP_CORE ? "packets crossing the core between sites (public addresses)"
                     : net_node_is_nat(net, node) ? "outside interface of a NAT box"
                                                  : "a host's access link"); /* if_description */
    const uint8_t ns = 9; /* if_tsresol: 10^-9 s */
    ng_opt(b, 9, &ns, 1);
    ng_block_end(b);
    if (fwrite(b->data, b->len, 1, w->f) != 1) w->failed = true;
    g_byte_array_free(b, TRUE);
    g_string_free(name, TRUE);
    if (node >= w->n_ifid) {
        size_t n = MAX((size_t)node + 1, 2 * w->n_ifid);
        w->ifid = g_renew(uint32_t, w->ifid, n);
        memset(w->ifid + w->n_ifid, 0, (n - w->n_ifid) * sizeof *w->ifid);
        w->n_ifid = n;
    }
    w->ifid[node] = ++w->n_if;
}

void pcap__write(Net *net, uint32_t node, const Packet *p)
{
    PcapWriter *w = net->pcap;
    if (node >= w->n_ifid || !w->ifid[node]) pcap_interface_add(net, w, node);
    uint8_t rec[28 + NET_IP_HDR + NET_TCP_HDR + NET_PKT_LARGE + 64];
    size_t n = synthesize(p, rec + 28);
    size_t pad = (4 - n % 4) % 4;
    uint32_t total = (uint32_t)(28 + n + pad + 4);
    uint64_t ts = (uint64_t)sim_now(net->sim); /* ns: if_tsresol 9 */
    write_u32(rec, PCAPNG_EPB);
    write_u32(rec + 4, total);
    write_u32(rec + 8, w->ifid[node] - 1);
    write_u32(rec + 12, (uint32_t)(ts >> 32));
    write_u32(rec + 16, (uint32_t)ts);
    write_u32(rec + 20, (uint32_t)n);
    write_u32(rec + 24, (uint32_t)n);
    memset(rec + 28 + n, 0, pad);
    write_u32(rec + 28 + n + pad, total);
    if (fwrite(rec, total, 1, w->f) != 1) w->failed = true;
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

void net_pcap_capture_access(Net *net, bool on) { net->capture_access = on; }

void net_pcap_capture_core(Net *net, bool on) { net->capture_core = on; }

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
    g_free(w->ifid);
    g_free(w);
    return ok;
}

uint64_t net_pcap_records(const Net *net) { return net->pcap ? net->pcap->records : 0; }

/* ---- reader ------------------------------------------------------------- */

struct PcapReader {
    char *path;    /* for messages (owned) */
    uint8_t *data; /* whole file (owned) */
    size_t len;    /* its length */
    size_t pos;    /* next record or block */
    bool swap;     /* file byte order differs from ours */
    bool nanos;    /* classic: nanosecond timestamps */
    bool ng;       /* pcapng */
    GPtrArray *if_names;  /* pcapng: interface names (char *, owned; "" if none) */
    GArray *if_tsdiv;     /* pcapng: per interface, units per second (uint64_t) */
};

static uint32_t rd32(const PcapReader *r, const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return r->swap ? GUINT32_SWAP_LE_BE(v) : v;
}

static uint16_t rd16(const PcapReader *r, const uint8_t *b)
{
    uint16_t v;
    memcpy(&v, b, 2);
    return r->swap ? GUINT16_SWAP_LE_BE(v) : v;
}

static bool pcap_reader_bad(PcapReader *r, GError **err, const char *what)
{
    g_set_error(err, PCAP_ERROR, PCAP_ERROR_FORMAT, "%s: %s at byte %zu is truncated", r->path, what,
                r->pos);
    return false;
}

/* pcapng: an Interface Description Block's link type, name and resolution. */
static bool pcap_reader_idb(PcapReader *r, const uint8_t *b, uint32_t total, GError **err)
{
    if (total < 20) return pcap_reader_bad(r, err, "interface block");
    if (rd16(r, b + 8) != PCAP_LINKTYPE_RAW && rd16(r, b + 8) != 228) {
        g_set_error(err, PCAP_ERROR, PCAP_ERROR_FORMAT,
                    "%s: expected interfaces of raw IPv4 (link type 101 or 228), found %u", r->path,
                    rd16(r, b + 8));
        return false;
    }
    char *name = g_strdup("");
    uint64_t div = 1000000; /* default: microseconds */
    for (size_t o = 16; o + 4 <= total - 4;) {
        uint16_t code = rd16(r, b + o), len = rd16(r, b + o + 2);
        if (code == 0 || o + 4 + len > total - 4) break;
        if (code == 2) {
            g_free(name);
            name = g_strndup((const char *)b + o + 4, len);
        } else if (code == 9 && len >= 1) {
            uint8_t v = b[o + 4];
            div = 1;
            for (int k = 0; k < (v & 0x7f) && k < 19; k++) div *= (v & 0x80) ? 2 : 10;
        }
        o += 4 + len + (4 - len % 4) % 4;
    }
    g_ptr_array_add(r->if_names, name);
    g_array_append_val(r->if_tsdiv, div);
    return true;
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
    r->if_names = g_ptr_array_new_with_free_func(g_free);
    r->if_tsdiv = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    uint32_t first = len >= 12 ? rd32(r, r->data) : 0;
    if (first == PCAPNG_SHB) {
        uint32_t bom = rd32(r, r->data + 8);
        r->swap = bom == GUINT32_SWAP_LE_BE(PCAPNG_BOM);
        r->ng = r->swap || bom == PCAPNG_BOM;
        if (r->ng) return r; /* blocks are read by pcap_reader_next */
    }
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
                    "%s: expected a pcap or pcapng file of raw IPv4 (link type 101 or 228), found "
                    "magic %08x link type %u",
                    path, magic, link);
        pcap_reader_free(r);
        return NULL;
    }
    return r;
}

/* pcapng: the next Enhanced Packet Block, reading interface blocks on the way. */
static bool pcap_reader_next_ng(PcapReader *r, PcapRecord *rec, GError **err)
{
    while (r->pos < r->len) {
        const uint8_t *b = r->data + r->pos;
        uint32_t total = r->pos + 12 <= r->len ? rd32(r, b + 4) : 0;
        if (total < 12 || total % 4 || r->pos + total > r->len) return pcap_reader_bad(r, err, "block");
        uint32_t type = rd32(r, b);
        size_t at = r->pos;
        r->pos += total;
        if (type == PCAPNG_IDB) {
            r->pos = at;
            if (!pcap_reader_idb(r, b, total, err)) return false;
            r->pos = at + total;
        } else if (type == PCAPNG_EPB) {
            uint32_t caplen = total >= 32 ? rd32(r, b + 20) : UINT32_MAX;
            uint32_t ifc = total >= 32 ? rd32(r, b + 8) : UINT32_MAX;
            if (caplen == UINT32_MAX || 28 + (size_t)caplen + 4 > total || ifc >= r->if_names->len) {
                r->pos = at;
                return pcap_reader_bad(r, err, "packet block");
            }
            uint64_t ts = (uint64_t)rd32(r, b + 12) << 32 | rd32(r, b + 16);
            uint64_t div = g_array_index(r->if_tsdiv, uint64_t, ifc);
            rec->ts_ns = (TimeNs)(ts / div * TIMENS_S + (ts % div) * TIMENS_S / div);
            rec->caplen = caplen;
            rec->origlen = rd32(r, b + 24);
            rec->data = b + 28;
            rec->iface = ifc;
            return true;
        }
    }
    return false;
}

bool pcap_reader_next(PcapReader *r, PcapRecord *rec, GError **err)
{
    if (r->ng) return pcap_reader_next_ng(r, rec, err);
    if (r->pos == r->len) return false;
    const uint8_t *h = r->data + r->pos;
    uint32_t caplen = r->pos + 16 <= r->len ? rd32(r, h + 8) : UINT32_MAX;
    if (caplen == UINT32_MAX || r->pos + 16 + (size_t)caplen > r->len)
        return pcap_reader_bad(r, err, "record");
    TimeNs frac = rd32(r, h + 4);
    rec->ts_ns = (TimeNs)rd32(r, h) * TIMENS_S + (r->nanos ? frac : frac * TIMENS_US);
    rec->caplen = caplen;
    rec->origlen = rd32(r, h + 12);
    rec->data = h + 16;
    rec->iface = 0;
    r->pos += 16 + caplen;
    return true;
}

size_t pcap_reader_iface_count(const PcapReader *r) { return r->if_names->len; }

const char *pcap_reader_iface_name(const PcapReader *r, size_t i)
{
    CHECK(i < r->if_names->len, "interface %zu of %u", i, r->if_names->len);
    return g_ptr_array_index(r->if_names, i);
}

void pcap_reader_free(PcapReader *r)
{
    if (!r) return;
    g_free(r->path);
    g_free(r->data);
    g_ptr_array_free(r->if_names, TRUE);
    g_array_free(r->if_tsdiv, TRUE);
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
