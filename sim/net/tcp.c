/* tcp: TCP connections (tcp.h).
 *
 * Layer: sim/net. A connection is a pooled record indexed by (host, local
 * port, remote address, remote port) and listed per host. Sequence numbers
 * on the wire are 32-bit; inside, the stream is counted in 64-bit offsets
 * (una: acknowledged, nxt: sent, rcv: received in order), seq = ISN + 1 +
 * offset. The send buffer is a ring holding the bytes from una on; data is
 * copied into a pooled packet per transmission, so retransmission rebuilds
 * a segment from the ring. Out-of-order segments are kept as the packets
 * themselves, sorted, on the connection (bounded by the window).
 * Behaviour sources: RFC 793 (states, RST rules), RFC 6298 (RTO, Karn),
 * RFC 5681 (three duplicate ACKs), RFC 6582 (partial ACKs), RFC 1122
 * (SYN backoff). No congestion window: a fixed window (NetConfig).
 * Callbacks may call back into tcp_* or net_node_set_up(); after every
 * callback the record is looked up again by (index, generation).
 */
#include "sim/net/tcp.h"

#include <string.h>

#include "protocol/base/check.h"
#include "sim/net/net_int.h"

/* The connection state is one of RFC 793's (TcpState in tcp.h); the
 * transitions are the conn_to_* functions below, one per arc of the state
 * diagram (RFC 793 §3.2, Figure 6) that the model has. Everything else the
 * closing needs follows from the state: our FIN is out in FIN-WAIT-1,
 * FIN-WAIT-2, CLOSING, LAST-ACK and TIME-WAIT, unacknowledged in FIN-WAIT-1,
 * CLOSING and LAST-ACK, and the peer's FIN is in in CLOSE-WAIT, CLOSING,
 * LAST-ACK and TIME-WAIT. Whether the app still holds a handle is the
 * parity of the generation (conn_is_attached()). */
typedef struct TcpConn {
    uint32_t idx;        /* private: own index (kept) */
    uint32_t gen;        /* generation (kept): odd while the app's handle is valid */
    uint32_t host;       /* host node */
    uint32_t raddr;      /* remote address as addressed */
    uint16_t lport;      /* local port */
    uint16_t rport;      /* remote port */
    uint8_t state;       /* TcpState */
    /* Flags that are not states. app_closed: the app closed its side
     * (tcp_close(), or EOF without a peer_closed callback); no more sends,
     * and our FIN follows the queued data, which may still wait for the
     * handshake or the window. */
    bool app_closed : 1;  /* FIN queued behind the data */
    bool in_recovery : 1; /* retransmitting holes until `recover` (RFC 6582) */
    bool timing : 1;      /* an RTT measurement is running (rtt_off, rtt_start) */
    uint8_t retries;     /* consecutive timeouts */
    uint8_t dupacks;     /* consecutive duplicate ACKs */
    uint32_t next;       /* chain in Net.conn_index (index + 1) */
    uint32_t host_next;  /* next connection of the host (index + 1) */
    NetSock listener;    /* SYN-RECEIVED: the listener that will accept */
    const TcpOps *ops;   /* app callbacks, borrowed */
    void *ctx;           /* app context, borrowed */
    uint32_t iss;        /* our initial sequence number */
    uint32_t irs;        /* peer's initial sequence number */
    uint64_t una;        /* stream bytes acknowledged */
    uint64_t nxt;        /* stream bytes sent */
    uint64_t rcv;        /* stream bytes received in order */
    uint64_t fin_off;    /* offset of the peer's FIN, UINT64_MAX if not seen */
    uint64_t recover;    /* end of the recovery episode (offset) */
    uint64_t rtt_off;    /* the timed segment ends here */
    TimeNs rtt_start;    /* when the timed segment (or SYN) was sent, ns */
    TimeNs srtt;         /* smoothed RTT, ns; 0 = no sample yet */
    TimeNs rttvar;       /* RTT variation, ns */
    TimeNs rto;          /* current retransmission timeout, ns */
    SimEventId timer;    /* SYN, retransmission or TIME-WAIT timer */
    uint8_t *buf;        /* send ring (owned), bytes from una on */
    size_t buf_cap;      /* ring capacity, bytes */
    size_t buf_start;    /* ring position of the byte at una */
    size_t buf_len;      /* bytes in the ring (unacknowledged + unsent) */
    IList ooo;           /* out-of-order packets, by sequence */
} TcpConn;

size_t tcp__conn_size(void) { return sizeof(TcpConn); }

const char *tcp_state_name(TcpState s)
{
    static const char *const names[] = {
        [TCP_ST_CLOSED] = "CLOSED",
        [TCP_ST_SYN_SENT] = "SYN-SENT",
        [TCP_ST_SYN_RECEIVED] = "SYN-RECEIVED",
        [TCP_ST_ESTABLISHED] = "ESTABLISHED",
        [TCP_ST_FIN_WAIT_1] = "FIN-WAIT-1",
        [TCP_ST_FIN_WAIT_2] = "FIN-WAIT-2",
        [TCP_ST_CLOSE_WAIT] = "CLOSE-WAIT",
        [TCP_ST_CLOSING] = "CLOSING",
        [TCP_ST_LAST_ACK] = "LAST-ACK",
        [TCP_ST_TIME_WAIT] = "TIME-WAIT",
    };
    _Static_assert(G_N_ELEMENTS(names) == TCP_ST__COUNT, "a TcpState without a name");
    return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

/* ---- states ------------------------------------------------------------- */

/* The app still holds a handle (generations are odd until the terminal
 * callback or the free). */
static bool conn_is_attached(const TcpConn *c) { return (c->gen & 1) != 0; }

/* RFC 793's synchronized states: the handshake is done. */
static bool conn_is_synchronized(const TcpConn *c)
{
    return c->state >= TCP_ST_ESTABLISHED && c->state <= TCP_ST_TIME_WAIT;
}

/* Synchronized and not yet in TIME-WAIT: data, ACKs and our FIN still flow. */
static bool conn_is_open(const TcpConn *c)
{
    return c->state >= TCP_ST_ESTABLISHED && c->state < TCP_ST_TIME_WAIT;
}

static bool fin_is_sent(const TcpConn *c)
{
    switch ((TcpState)c->state) {
    case TCP_ST_FIN_WAIT_1:
    case TCP_ST_FIN_WAIT_2:
    case TCP_ST_CLOSING:
    case TCP_ST_LAST_ACK:
    case TCP_ST_TIME_WAIT: return true;
    default: return false;
    }
}

/* Our FIN is out and not yet acknowledged. */
static bool fin_is_outstanding(const TcpConn *c)
{
    return c->state == TCP_ST_FIN_WAIT_1 || c->state == TCP_ST_CLOSING ||
           c->state == TCP_ST_LAST_ACK;
}

/* The peer's FIN has been received in order. */
static bool peer_fin_is_in(const TcpConn *c)
{
    return c->state == TCP_ST_CLOSE_WAIT || c->state == TCP_ST_CLOSING ||
           c->state == TCP_ST_LAST_ACK || c->state == TCP_ST_TIME_WAIT;
}

/* SYN-SENT or SYN-RECEIVED -> ESTABLISHED: the handshake completed. */
static void conn_to_established(TcpConn *c)
{
    CHECK(c->state == TCP_ST_SYN_SENT || c->state == TCP_ST_SYN_RECEIVED, "handshake done in %s",
          tcp_state_name(c->state));
    c->state = TCP_ST_ESTABLISHED;
}

/* Our FIN went out: ESTABLISHED -> FIN-WAIT-1 (we close first), CLOSE-WAIT
 * -> LAST-ACK (the peer closed first). */
static void conn_to_fin_sent(TcpConn *c)
{
    CHECK(c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSE_WAIT, "FIN sent in %s",
          tcp_state_name(c->state));
    c->state = c->state == TCP_ST_ESTABLISHED ? TCP_ST_FIN_WAIT_1 : TCP_ST_LAST_ACK;
}

/* The peer acknowledged our FIN: FIN-WAIT-1 -> FIN-WAIT-2, CLOSING ->
 * TIME-WAIT, LAST-ACK -> CLOSED (the record is freed once the app has been
 * told). In FIN-WAIT-2 a later ACK acknowledges it again: no change. */
static void conn_to_fin_acked(TcpConn *c)
{
    switch ((TcpState)c->state) {
    case TCP_ST_FIN_WAIT_1: c->state = TCP_ST_FIN_WAIT_2; break;
    case TCP_ST_FIN_WAIT_2: break;
    case TCP_ST_CLOSING: c->state = TCP_ST_TIME_WAIT; break;
    case TCP_ST_LAST_ACK: c->state = TCP_ST_CLOSED; break;
    default: CHECK(false, "FIN acknowledged in %s", tcp_state_name(c->state));
    }
}

/* The peer's FIN arrived in order: ESTABLISHED -> CLOSE-WAIT, FIN-WAIT-1 ->
 * CLOSING (simultaneous close, RFC 793 §3.5, Figure 14), FIN-WAIT-2 ->
 * TIME-WAIT. */
static void conn_to_peer_fin(TcpConn *c)
{
    switch ((TcpState)c->state) {
    case TCP_ST_ESTABLISHED: c->state = TCP_ST_CLOSE_WAIT; break;
    case TCP_ST_FIN_WAIT_1: c->state = TCP_ST_CLOSING; break;
    case TCP_ST_FIN_WAIT_2: c->state = TCP_ST_TIME_WAIT; break;
    default: CHECK(false, "peer FIN in %s", tcp_state_name(c->state));
    }
}

/* Both FINs are acknowledged (TIME-WAIT or CLOSED). */
static bool conn_is_finished(const TcpConn *c)
{
    return c->state == TCP_ST_TIME_WAIT || c->state == TCP_ST_CLOSED;
}

/* ---- index and records -------------------------------------------------- */

static uint64_t conn_key_hash(uint32_t host, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint64_t h = rng_mix64(((uint64_t)host << 32) | raddr);
    return rng_mix64(h ^ (((uint64_t)lport << 16) | rport));
}

static TcpConn *conn_at(const Net *net, uint32_t idx) { return pool_at(net->conn_pool, idx); }

static uint64_t conn_hash(const void *ctx, uint32_t idx)
{
    const TcpConn *c = conn_at(ctx, idx);
    return conn_key_hash(c->host, c->lport, c->raddr, c->rport);
}

static uint32_t *conn_next(const void *ctx, uint32_t idx) { return &conn_at(ctx, idx)->next; }

static const IdxHashOps conn_ops = {.hash = conn_hash, .next = conn_next};

void tcp__init(Net *net)
{
    net->conn_pool = pool_new("net.tcp.conn", sizeof(TcpConn), 8);
    idxhash_init(&net->conn_index, &conn_ops, net);
}

static TcpConn *conn_find(const Net *net, uint32_t host, uint16_t lport, uint32_t raddr,
                          uint16_t rport)
{
    uint32_t i1 = idxhash_first(&net->conn_index, conn_key_hash(host, lport, raddr, rport));
    while (i1) {
        TcpConn *c = conn_at(net, i1 - 1);
        if (c->host == host && c->lport == lport && c->raddr == raddr && c->rport == rport) return c;
        i1 = c->next;
    }
    return NULL;
}

static TcpConn *conn_get(const Net *net, NetTcp h)
{
    if (!(h.gen & 1) || h.idx >= pool_capacity(net->conn_pool)) return NULL;
    TcpConn *c = conn_at(net, h.idx);
    return c->gen == h.gen ? c : NULL;
}

/* The record idx if its generation is still gen (it survived a callback). */
static TcpConn *conn_again(const Net *net, uint32_t idx, uint32_t gen)
{
    TcpConn *c = conn_at(net, idx);
    return c->gen == gen ? c : NULL;
}

static NetTcp conn_handle(const TcpConn *c) { return (NetTcp){c->idx, c->gen}; }

static TcpConn *conn_new(Net *net, uint32_t host, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    TcpConn *c = pool_get(net->conn_pool);
    uint32_t idx = c->gen ? c->idx : pool_index(net->conn_pool, c);
    uint32_t gen = c->gen + 1; /* records are freed with an even generation */
    memset(c, 0, sizeof *c);
    c->idx = idx;
    c->gen = gen;
    c->host = host;
    c->lport = lport;
    c->raddr = raddr;
    c->rport = rport;
    c->fin_off = UINT64_MAX;
    c->rto = net->cfg.tcp_syn_rto_ns;
    c->iss = (uint32_t)rng_next(&net->nodes[host].rng);
    ilist_init(&c->ooo);
    idxhash_insert(&net->conn_index, idx, conn_key_hash(host, lport, raddr, rport));
    c->host_next = net->nodes[host].conns;
    net->nodes[host].conns = idx + 1;
    net->nconns++;
    return c;
}

static void conn_free(Net *net, TcpConn *c)
{
    sim_cancel(net->sim, c->timer);
    idxhash_remove(&net->conn_index, c->idx, conn_key_hash(c->host, c->lport, c->raddr, c->rport));
    uint32_t *link = &net->nodes[c->host].conns;
    while (*link != c->idx + 1) {
        CHECK(*link, "connection %u missing from its host's list", c->idx);
        link = &conn_at(net, *link - 1)->host_next;
    }
    *link = c->host_next;
    ILink *it, *tmp;
    ILIST_FOREACH_SAFE(it, tmp, &c->ooo) { net__pkt_free(net, CONTAINER_OF(it, Packet, link)); }
    g_free(c->buf);
    c->buf = NULL;
    c->state = TCP_ST_CLOSED;
    c->gen = (c->gen | 1) + 1; /* even and new: every old handle is stale */
    net->nconns--;
    pool_put(net->conn_pool, c);
}

void tcp__host_down(Net *net, uint32_t host)
{
    while (net->nodes[host].conns) conn_free(net, conn_at(net, net->nodes[host].conns - 1));
}

void tcp__fini(Net *net)
{
    for (uint32_t h = 1; h < net->nnodes; h++) tcp__host_down(net, h);
    idxhash_fini(&net->conn_index);
    pool_free(net->conn_pool);
}

bool tcp__port_in_use(const Net *net, uint32_t host, uint16_t port)
{
    for (uint32_t i1 = net->nodes[host].conns; i1; i1 = conn_at(net, i1 - 1)->host_next) {
        if (conn_at(net, i1 - 1)->lport == port) return true;
    }
    return false;
}

/* ---- timers ------------------------------------------------------------- */

static void conn_timeout(Sim *sim, void *ctx, uint64_t arg);

static void timer_set(Net *net, TcpConn *c, TimeNs delay)
{
    sim_cancel(net->sim, c->timer);
    c->timer = sim_after(net->sim, delay, conn_timeout, net, c->idx);
}

static void timer_stop(Net *net, TcpConn *c)
{
    sim_cancel(net->sim, c->timer);
    c->timer = SIM_EVENT_NONE;
}

/* RFC 6298 §2: fold an RTT sample into srtt/rttvar and recompute the RTO. */
static void rtt_sample(Net *net, TcpConn *c, TimeNs r)
{
    if (c->srtt == 0) {
        c->srtt = r > 0 ? r : 1;
        c->rttvar = r / 2;
    } else {
        TimeNs diff = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3 * c->rttvar + diff) / 4;
        c->srtt = (7 * c->srtt + r) / 8;
    }
    TimeNs rto = c->srtt + (4 * c->rttvar > TIMENS_MS ? 4 * c->rttvar : TIMENS_MS);
    if (rto < net->cfg.tcp_rto_min_ns) rto = net->cfg.tcp_rto_min_ns;
    if (rto > net->cfg.tcp_rto_max_ns) rto = net->cfg.tcp_rto_max_ns;
    c->rto = rto;
}

/* ---- segments ----------------------------------------------------------- */

static uint32_t ack_field(const TcpConn *c)
{
    return c->irs + 1 + (uint32_t)c->rcv + (peer_fin_is_in(c) ? 1 : 0);
}

/* Builds and sends a segment of `len` stream bytes from offset off. */
static void send_segment(Net *net, TcpConn *c, uint64_t off, size_t len, uint8_t flags)
{
    Packet *p = net__pkt_new(net, len);
    p->proto = NET_PROTO_TCP;
    p->flags = flags;
    p->sport = c->lport;
    p->dst = c->raddr;
    p->dport = c->rport;
    p->win = (uint16_t)MIN(net->cfg.tcp_window_bytes, 65535u);
    if (flags & TCPF_SYN) {
        p->seq = c->iss;
    } else {
        p->seq = c->iss + 1 + (uint32_t)off;
    }
    if (flags & TCPF_ACK) p->ack = ack_field(c);
    if (len) {
        size_t pos = (c->buf_start + (size_t)(off - c->una)) % c->buf_cap;
        size_t first = MIN(len, c->buf_cap - pos);
        memcpy(p->data, c->buf + pos, first);
        memcpy(p->data + first, c->buf, len - first);
    }
    net__send(net, c->host, p);
}

static void send_ack(Net *net, TcpConn *c) { send_segment(net, c, c->nxt, 0, TCPF_ACK); }

static void send_fin(Net *net, TcpConn *c)
{
    send_segment(net, c, c->una + c->buf_len, 0, TCPF_FIN | TCPF_ACK);
}

/* A RST answering p (borrowed), which reached host for no connection. */
static void send_rst_for(Net *net, uint32_t host, const Packet *p)
{
    Packet *r = net__pkt_new(net, 0);
    r->proto = NET_PROTO_TCP;
    r->sport = p->dport;
    r->dst = p->src;
    r->dport = p->sport;
    if (p->flags & TCPF_ACK) {
        r->seq = p->ack;
        r->flags = TCPF_RST;
    } else {
        uint32_t used = p->len + ((p->flags & TCPF_SYN) ? 1 : 0) + ((p->flags & TCPF_FIN) ? 1 : 0);
        r->ack = p->seq + used;
        r->flags = TCPF_RST | TCPF_ACK;
    }
    net__send(net, host, r);
}

/* Retransmits the first unacknowledged segment (or the FIN). */
static void retransmit(Net *net, TcpConn *c)
{
    c->timing = false; /* Karn: no sample from retransmitted data */
    if (c->nxt > c->una) {
        size_t n = (size_t)MIN(c->nxt - c->una, (uint64_t)net->cfg.tcp_mss);
        send_segment(net, c, c->una, n, TCPF_ACK | TCPF_PSH);
    } else if (fin_is_outstanding(c)) {
        send_fin(net, c);
    }
}

static bool outstanding(const TcpConn *c)
{
    return c->nxt > c->una || fin_is_outstanding(c);
}

/* Sends new data the window allows, then the FIN when closing. */
static void output(Net *net, TcpConn *c)
{
    if (!conn_is_open(c)) return;
    uint64_t end = c->una + c->buf_len;
    uint64_t window = net->cfg.tcp_window_bytes;
    while (c->nxt < end && c->nxt - c->una < window) {
        uint64_t n = MIN(MIN(end - c->nxt, (uint64_t)net->cfg.tcp_mss), window - (c->nxt - c->una));
        /* Sender-side silly-window avoidance (RFC 1122 4.2.3.4): a short
         * segment only when it carries the last queued bytes. */
        if (n < net->cfg.tcp_mss && n < end - c->nxt) break;
        send_segment(net, c, c->nxt, (size_t)n, TCPF_ACK | TCPF_PSH);
        c->nxt += n;
        if (!c->timing) {
            c->timing = true;
            c->rtt_off = c->nxt;
            c->rtt_start = sim_now(net->sim);
        }
    }
    if (c->app_closed && !fin_is_sent(c) && c->nxt == end) {
        send_fin(net, c);
        conn_to_fin_sent(c);
    }
    if (outstanding(c) && !sim_is_pending(net->sim, c->timer)) timer_set(net, c, c->rto);
}

/* ---- terminal events ---------------------------------------------------- */

typedef enum Terminal { TERM_FAILED, TERM_CLOSED, TERM_RESET } Terminal;

/* Detaches c from the app and delivers the terminal callback. Returns c if
 * the record survived the callback (still detached), else NULL. */
static TcpConn *conn_terminal(Net *net, TcpConn *c, Terminal t, NetErr why)
{
    NetTcp h = conn_handle(c);
    const TcpOps *ops = c->ops;
    void *ctx = c->ctx;
    c->gen++; /* even: detached, the handle is stale from now on */
    uint32_t idx = c->idx, gen = c->gen;
    if (ops) {
        switch (t) {
        case TERM_FAILED: ops->failed(ctx, h, why); break;
        case TERM_CLOSED:
            if (ops->closed) ops->closed(ctx, h);
            break;
        case TERM_RESET:
            if (ops->reset) ops->reset(ctx, h, why);
            break;
        }
    }
    return conn_again(net, idx, gen);
}

/* Both directions closed (conn_is_finished()): tell the app, then wait out
 * TIME-WAIT (we closed first) or free the record (CLOSED). */
static void conn_finish(Net *net, TcpConn *c)
{
    if (conn_is_attached(c)) c = conn_terminal(net, c, TERM_CLOSED, NET_OK);
    if (!c) return;
    if (c->state == TCP_ST_TIME_WAIT) {
        timer_set(net, c, net->cfg.tcp_time_wait_ns);
    } else {
        conn_free(net, c);
    }
}

static void conn_fail(Net *net, TcpConn *c, Terminal t, NetErr why)
{
    c = conn_terminal(net, c, t, why);
    if (c) conn_free(net, c);
}

static void conn_timeout(Sim *sim, void *ctx, uint64_t arg)
{
    (void)sim;
    Net *net = ctx;
    TcpConn *c = conn_at(net, (uint32_t)arg);
    c->timer = SIM_EVENT_NONE;
    switch ((TcpState)c->state) {
    case TCP_ST_SYN_SENT:
    case TCP_ST_SYN_RECEIVED:
        if (++c->retries > net->cfg.tcp_syn_retries) {
            if (c->state == TCP_ST_SYN_SENT) {
                conn_fail(net, c, TERM_FAILED, NET_ERR_TIMEOUT);
            } else {
                conn_free(net, c); /* half-open: nobody to tell */
            }
            return;
        }
        c->timing = false;
        send_segment(net, c, 0, 0, c->state == TCP_ST_SYN_SENT ? TCPF_SYN : TCPF_SYN | TCPF_ACK);
        timer_set(net, c, timens_mul_sat(net->cfg.tcp_syn_rto_ns, (int64_t)1 << c->retries));
        return;
    case TCP_ST_TIME_WAIT: conn_free(net, c); return;
    case TCP_ST_ESTABLISHED:
    case TCP_ST_FIN_WAIT_1:
    case TCP_ST_FIN_WAIT_2:
    case TCP_ST_CLOSE_WAIT:
    case TCP_ST_CLOSING:
    case TCP_ST_LAST_ACK:
        if (!outstanding(c)) return;
        if (++c->retries > net->cfg.tcp_data_retries) {
            conn_fail(net, c, TERM_RESET, NET_ERR_TIMEOUT);
            return;
        }
        c->rto = MIN(timens_mul_sat(c->rto, 2), net->cfg.tcp_rto_max_ns);
        c->recover = c->nxt;
        c->in_recovery = true;
        c->dupacks = 0;
        retransmit(net, c);
        timer_set(net, c, c->rto);
        return;
    case TCP_ST_CLOSED:
    case TCP_ST__COUNT: break;
    }
    CHECK(false, "timer of a connection in %s", tcp_state_name(c->state));
}

/* ---- input -------------------------------------------------------------- */

/* Drops n acknowledged bytes from the front of the send ring. */
static void ring_consume(TcpConn *c, size_t n)
{
    c->buf_start = (c->buf_start + n) % (c->buf_cap ? c->buf_cap : 1);
    c->buf_len -= n;
    if (c->buf_len == 0 && c->buf_cap > 16384) { /* give big idle buffers back */
        g_free(c->buf);
        c->buf = NULL;
        c->buf_cap = 0;
        c->buf_start = 0;
    }
}

/* Processes the ACK field of p. Returns the connection if it still exists. */
static TcpConn *process_ack(Net *net, TcpConn *c, const Packet *p)
{
    uint32_t delta = p->ack - (c->iss + 1 + (uint32_t)c->una);
    uint64_t in_flight = c->nxt - c->una;
    uint64_t max_delta = in_flight + (fin_is_sent(c) ? 1 : 0);
    if (delta > max_delta) return c; /* acknowledges nothing we sent */
    if (delta == 0) {
        bool pure = p->len == 0 && !(p->flags & (TCPF_SYN | TCPF_FIN));
        if (pure && outstanding(c) && ++c->dupacks == 3) { /* RFC 5681 fast retransmit */
            c->recover = c->nxt;
            c->in_recovery = true;
            retransmit(net, c);
        }
        return c;
    }
    uint64_t data = MIN((uint64_t)delta, in_flight);
    ring_consume(c, (size_t)data);
    c->una += data;
    if (delta > in_flight) conn_to_fin_acked(c);
    c->dupacks = 0;
    c->retries = 0;
    if (c->timing && c->una >= c->rtt_off) {
        c->timing = false;
        rtt_sample(net, c, sim_now(net->sim) - c->rtt_start);
    }
    if (c->in_recovery) {
        if (c->una < c->recover) {
            retransmit(net, c); /* RFC 6582: a partial ACK reveals the next hole */
        } else {
            c->in_recovery = false;
        }
    }
    if (outstanding(c)) {
        timer_set(net, c, c->rto);
    } else {
        timer_stop(net, c);
    }
    output(net, c);
    if (conn_is_finished(c)) {
        uint32_t idx = c->idx, gen = c->gen;
        conn_finish(net, c);
        return conn_again(net, idx, gen);
    }
    return c;
}

/* Stream offset of sequence number seq from the peer. */
static uint64_t rcv_offset(const TcpConn *c, uint32_t seq)
{
    int32_t d = (int32_t)(seq - (c->irs + 1 + (uint32_t)c->rcv));
    return (uint64_t)((int64_t)c->rcv + d);
}

/* Hands the part of [off, off+len) beyond rcv to the app. Returns the
 * connection if it survived the callback. */
static TcpConn *deliver(Net *net, TcpConn *c, uint64_t off, const uint8_t *data, size_t len)
{
    if (off + len <= c->rcv) return c;
    size_t skip = (size_t)(c->rcv - off);
    c->rcv = off + len;
    if (!conn_is_attached(c) || !c->ops->recv) return c;
    uint32_t idx = c->idx, gen = c->gen;
    c->ops->recv(c->ctx, conn_handle(c), data + skip, len - skip);
    return conn_again(net, idx, gen);
}

/* Inserts p into the out-of-order list (sorted by offset). false if it
 * duplicates a held segment (the caller frees it). */
static bool ooo_insert(TcpConn *c, Packet *p, uint64_t off)
{
    ILink *it;
    for (it = c->ooo.next; it != &c->ooo; it = it->next) {
        Packet *q = CONTAINER_OF(it, Packet, link);
        uint64_t qoff = rcv_offset(c, q->seq);
        if (qoff == off) return false;
        if (qoff > off) break;
    }
    ilist_remove(&p->link);
    ilist__insert(&p->link, it->prev, it);
    return true;
}

/* Delivers held segments that have become in order. */
static TcpConn *ooo_drain(Net *net, TcpConn *c)
{
    ILink *it;
    while (c && (it = ilist_first(&c->ooo)) != NULL) {
        Packet *q = CONTAINER_OF(it, Packet, link);
        uint64_t qoff = rcv_offset(c, q->seq);
        if (qoff > c->rcv) break;
        ilist_remove(&q->link);
        c = deliver(net, c, qoff, q->data, q->len);
        net__pkt_free(net, q);
    }
    return c;
}

/* The peer's FIN is in order: EOF for the app. From FIN-WAIT-2 the app
 * hears peer_closed in TIME-WAIT, then closed. */
static void peer_fin(Net *net, TcpConn *c)
{
    conn_to_peer_fin(c);
    send_ack(net, c);
    uint32_t idx = c->idx, gen = c->gen;
    if (conn_is_attached(c)) {
        if (c->ops->peer_closed) {
            c->ops->peer_closed(c->ctx, conn_handle(c));
            c = conn_again(net, idx, gen);
        } else if (!c->app_closed) {
            c->app_closed = true;
            output(net, c);
        }
    }
    if (c && conn_is_finished(c)) conn_finish(net, c);
}

/* Processes p's payload and FIN. Returns true if p was kept (out of order). */
static bool process_data(Net *net, TcpConn *c, Packet *p)
{
    bool fin = p->flags & TCPF_FIN;
    if (p->len == 0 && !fin) return false;
    if (peer_fin_is_in(c)) { /* a retransmission after the FIN: re-ACK */
        send_ack(net, c);
        return false;
    }
    uint64_t off = rcv_offset(c, p->seq);
    if (fin) c->fin_off = off + p->len;
    if (off > c->rcv) { /* a hole before it: hold it, duplicate ACK */
        bool kept = false;
        if (p->len && off + p->len - c->rcv <= net->cfg.tcp_window_bytes) kept = ooo_insert(c, p, off);
        send_ack(net, c);
        return kept;
    }
    c = deliver(net, c, off, p->data, p->len);
    c = ooo_drain(net, c);
    if (!c) return false;
    if (c->fin_off == c->rcv) {
        peer_fin(net, c);
    } else {
        send_ack(net, c);
    }
    return false;
}

/* A segment for a connection in a synchronized state (RFC 793: from
 * ESTABLISHED through TIME-WAIT). */
static bool input_open(Net *net, TcpConn *c, Packet *p)
{
    if (p->flags & TCPF_RST) {
        if (c->state == TCP_ST_TIME_WAIT || !conn_is_attached(c)) {
            conn_free(net, c);
        } else {
            conn_fail(net, c, TERM_RESET, NET_ERR_RESET);
        }
        return false;
    }
    if (p->flags & TCPF_SYN) { /* our handshake ACK was lost */
        send_ack(net, c);
        return false;
    }
    if (c->state == TCP_ST_TIME_WAIT) {
        if (p->flags & TCPF_FIN) send_ack(net, c);
        return false;
    }
    if (p->flags & TCPF_ACK) c = process_ack(net, c, p);
    if (!c) return false;
    return process_data(net, c, p);
}

/* A segment in SYN-SENT. Simultaneous open (RFC 793 §3.4, Figure 8; the
 * SYN-SENT -> SYN-RECEIVED arc of §3.2, Figure 6) is not modelled: a SYN
 * without ACK is ignored here. Active opens come from ephemeral ports and
 * listeners sit on fixed ones, so two hosts never open the same pair of
 * endpoints towards each other. */
static void input_syn_sent(Net *net, TcpConn *c, Packet *p)
{
    bool acks_syn = (p->flags & TCPF_ACK) && p->ack == c->iss + 1;
    if ((p->flags & TCPF_ACK) && !acks_syn) {
        if (!(p->flags & TCPF_RST)) send_rst_for(net, c->host, p);
        return;
    }
    if (p->flags & TCPF_RST) {
        if (acks_syn) conn_fail(net, c, TERM_FAILED, NET_ERR_REFUSED);
        return;
    }
    if (!((p->flags & TCPF_SYN) && acks_syn)) return;
    c->irs = p->seq;
    conn_to_established(c);
    if (c->retries == 0) rtt_sample(net, c, sim_now(net->sim) - c->rtt_start);
    c->retries = 0;
    timer_stop(net, c);
    send_ack(net, c);
    uint32_t idx = c->idx, gen = c->gen;
    if (c->ops->connected) c->ops->connected(c->ctx, conn_handle(c));
    c = conn_again(net, idx, gen);
    if (c) output(net, c);
}

/* The handshake completed on the passive side: ask the listener. */
static TcpConn *accept_conn(Net *net, TcpConn *c)
{
    Sock *l = sock__get(net, c->listener);
    const TcpOps *ops = NULL;
    void *ctx = NULL;
    uint32_t idx = c->idx, gen = c->gen;
    bool ok = false;
    if (l) {
        const TcpListenOps *lops = l->ops;
        ok = lops->accept(l->ctx, c->listener, conn_handle(c), (NetEp){c->raddr, c->rport}, &ops,
                          &ctx);
    }
    c = conn_again(net, idx, gen);
    if (!c) return NULL;
    if (!ok || !ops) {
        send_segment(net, c, c->nxt, 0, TCPF_RST | TCPF_ACK);
        conn_free(net, c);
        return NULL;
    }
    c->ops = ops;
    c->ctx = ctx;
    return c;
}

static bool input_syn_rcvd(Net *net, TcpConn *c, Packet *p)
{
    if (p->flags & TCPF_RST) {
        conn_free(net, c);
        return false;
    }
    if ((p->flags & TCPF_SYN) && !(p->flags & TCPF_ACK)) { /* our SYN-ACK was lost */
        send_segment(net, c, 0, 0, TCPF_SYN | TCPF_ACK);
        return false;
    }
    if (!(p->flags & TCPF_ACK) || p->ack != c->iss + 1) return false;
    conn_to_established(c);
    if (c->retries == 0) rtt_sample(net, c, sim_now(net->sim) - c->rtt_start);
    c->retries = 0;
    timer_stop(net, c);
    c = accept_conn(net, c);
    if (!c) return false;
    return input_open(net, c, p);
}

/* A segment for no connection: a SYN for a listener opens one; anything
 * else but a RST is answered with a RST (RFC 793 "reset generation"). */
static void input_no_conn(Net *net, uint32_t host, Packet *p)
{
    if (p->flags & TCPF_RST) return;
    if ((p->flags & TCPF_SYN) && !(p->flags & TCPF_ACK)) {
        Sock *l = sock__find(net, host, NET_PROTO_TCP, p->dport);
        if (l) {
            TcpConn *c = conn_new(net, host, p->dport, p->src, p->sport);
            c->state = TCP_ST_SYN_RECEIVED; /* LISTEN is the listening NetSock */
            c->listener = (NetSock){l->idx, l->gen};
            c->irs = p->seq;
            c->rtt_start = sim_now(net->sim);
            send_segment(net, c, 0, 0, TCPF_SYN | TCPF_ACK);
            timer_set(net, c, net->cfg.tcp_syn_rto_ns);
            return;
        }
    }
    net__count_drop(net, host, NET_DROP_NO_LISTENER);
    send_rst_for(net, host, p);
}

void tcp__input(Net *net, uint32_t host, Packet *p)
{
    TcpConn *c = conn_find(net, host, p->dport, p->src, p->sport);
    bool kept = false;
    if (!c) {
        input_no_conn(net, host, p);
    } else if (c->state == TCP_ST_SYN_SENT) {
        input_syn_sent(net, c, p);
    } else if (c->state == TCP_ST_SYN_RECEIVED) {
        kept = input_syn_rcvd(net, c, p);
    } else {
        kept = input_open(net, c, p);
    }
    if (!kept) net__pkt_free(net, p);
}

void tcp__icmp(Net *net, uint32_t host, Packet *p)
{
    /* The quoted segment is one we sent: (seq, sport) is us, (ack, dport) the peer. */
    TcpConn *c = conn_find(net, host, p->sport, p->ack, p->dport);
    if (c && c->state == TCP_ST_SYN_SENT && p->flags == NET_ICMP_ADMIN_PROHIB) {
        conn_fail(net, c, TERM_FAILED, NET_ERR_BLOCKED);
    }
    net__pkt_free(net, p);
}

/* ---- API ---------------------------------------------------------------- */

NetErr tcp_listen(Net *net, uint32_t host, uint16_t port, const TcpListenOps *ops, void *ctx,
                  NetSock *out)
{
    CHECK(ops && ops->accept, "TCP listener without an accept callback");
    CHECK(port != 0, "tcp_listen on port 0");
    return sock__open(net, host, NET_PROTO_TCP, port, ops, ctx, out);
}

NetErr tcp_connect(Net *net, uint32_t host, NetEp to, const TcpOps *ops, void *ctx, NetTcp *out)
{
    CHECK(host > 0 && host < net->nnodes && net->nodes[host].kind == NODE_HOST,
          "node %u is not a host", host);
    CHECK(ops && ops->failed, "TCP connection without a failed callback");
    if (!(net->nodes[host].flags & NODE_UP)) return NET_ERR_HOST_DOWN;
    uint16_t lport = net__ephemeral_port(net, host, NET_PROTO_TCP);
    if (!lport) return NET_ERR_NO_PORTS;
    TcpConn *c = conn_new(net, host, lport, to.addr, to.port);
    c->state = TCP_ST_SYN_SENT;
    c->ops = ops;
    c->ctx = ctx;
    c->rtt_start = sim_now(net->sim);
    send_segment(net, c, 0, 0, TCPF_SYN);
    timer_set(net, c, net->cfg.tcp_syn_rto_ns);
    *out = conn_handle(c);
    return NET_OK;
}

/* Appends len bytes to the send ring, growing it (power of two, >= 4 KiB). */
static void ring_append(TcpConn *c, const uint8_t *data, size_t len)
{
    if (c->buf_len + len > c->buf_cap) {
        size_t cap = c->buf_cap ? c->buf_cap : 4096;
        while (cap < c->buf_len + len) cap *= 2;
        uint8_t *nb = g_malloc(cap);
        size_t first = MIN(c->buf_len, c->buf_cap - c->buf_start);
        if (c->buf_len) {
            memcpy(nb, c->buf + c->buf_start, first);
            memcpy(nb + first, c->buf, c->buf_len - first);
        }
        g_free(c->buf);
        c->buf = nb;
        c->buf_cap = cap;
        c->buf_start = 0;
    }
    size_t pos = (c->buf_start + c->buf_len) % c->buf_cap;
    size_t first = MIN(len, c->buf_cap - pos);
    memcpy(c->buf + pos, data, first);
    memcpy(c->buf, data + first, len - first);
    c->buf_len += len;
}

NetErr tcp_send(Net *net, NetTcp h, const void *buf, size_t len)
{
    TcpConn *c = conn_get(net, h);
    if (!c) return NET_ERR_BAD_HANDLE;
    if (c->app_closed) return NET_ERR_CLOSED;
    if (len == 0) return NET_OK;
    ring_append(c, buf, len);
    output(net, c);
    return NET_OK;
}

NetErr tcp_close(Net *net, NetTcp h)
{
    TcpConn *c = conn_get(net, h);
    if (!c) return NET_ERR_BAD_HANDLE;
    if (c->state == TCP_ST_SYN_RECEIVED) { /* not the app's yet; cannot happen through a handle */
        conn_free(net, c);
        return NET_OK;
    }
    if (!c->app_closed) {
        c->app_closed = true;
        output(net, c);
    }
    return NET_OK;
}

void tcp_abort(Net *net, NetTcp h)
{
    TcpConn *c = conn_get(net, h);
    if (!c) return;
    /* A RST in every synchronized state; RFC 793 sends none from CLOSING,
     * LAST-ACK and TIME-WAIT, but the model has always sent one. (A handle
     * sees TIME-WAIT only inside peer_closed after FIN-WAIT-2.) */
    if (conn_is_synchronized(c)) send_segment(net, c, c->nxt, 0, TCPF_RST | TCPF_ACK);
    conn_free(net, c);
}

bool tcp_is_open(const Net *net, NetTcp h) { return conn_get(net, h) != NULL; }

size_t tcp_queued_bytes(const Net *net, NetTcp h)
{
    TcpConn *c = conn_get(net, h);
    return c ? c->buf_len : 0;
}

NetEp tcp_local(const Net *net, NetTcp h)
{
    TcpConn *c = conn_get(net, h);
    return c ? (NetEp){net->nodes[c->host].addr, c->lport} : (NetEp){0, 0};
}

NetEp tcp_peer(const Net *net, NetTcp h)
{
    TcpConn *c = conn_get(net, h);
    return c ? (NetEp){c->raddr, c->rport} : (NetEp){0, 0};
}

size_t net_tcp_count(const Net *net) { return net->nconns; }

TcpState tcp_state_find(const Net *net, uint32_t host, uint16_t lport, NetEp peer)
{
    CHECK(host > 0 && host < net->nnodes, "node %u out of range", host);
    const TcpConn *c = conn_find(net, host, lport, peer.addr, peer.port);
    return c ? (TcpState)c->state : TCP_ST_CLOSED;
}
