/* natprobe: the model side of the NAT probe sequences (natprobe.h).
 *
 * Test helper over sim/net only: it builds the probe topology with
 * net.h/sock.h, sends one-byte-name datagrams (the payload names the sender,
 * so an outside socket knows whose mapping it saw, as the kernel side's
 * Python does) and runs the kernel one step at a time. Deterministic: same
 * seed, same result.
 */
#include "natprobe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/kernel/sim.h"
#include "sim/net/fw.h"
#include "sim/net/nat.h"
#include "sim/net/net.h"
#include "sim/net/sock.h"

#define NP_INSIDE 3     /* A, B, C */
#define NP_OUTSIDE 4    /* X1, X2, Y1, Y2 */
#define NP_PORT_IN 5000 /* inside hosts' port */
#define NP_MAX_PORTS 64 /* distinct external ports numbered in one run */

static const char *const inside_names[NP_INSIDE] = {"A", "B", "C"};
static const char *const outside_names[NP_OUTSIDE] = {"X1", "X2", "Y1", "Y2"};

typedef struct Probe Probe;

/* One socket of the topology and what it saw during the current step. */
typedef struct NpSock {
    Probe *pr;                        /* owner */
    int id;                           /* 0..2 inside (A, B, C), 3..6 outside (X1, X2, Y1, Y2) */
    NetSock s;                        /* the socket */
    uint32_t host;                    /* its host */
    bool got[NP_INSIDE + NP_OUTSIDE]; /* heard from sender id in this step */
    NetEp from_ep;                    /* source of the last datagram heard */
    bool heard;                       /* heard anything since the punch began */
} NpSock;

struct Probe {
    Sim *sim;
    Net *net;
    NpSock sk[NP_INSIDE + NP_OUTSIDE];
    uint32_t router[2];                   /* NAT node of side 1/2, 0 if none */
    bool seen[NP_OUTSIDE + 1][NP_INSIDE]; /* [observer or NP_OUTSIDE = anyone][host] */
    NetEp obs[NP_OUTSIDE + 1][NP_INSIDE]; /* the external endpoint seen */
    uint16_t ports[NP_MAX_PORTS];         /* external ports numbered r1, r2, ... */
    int nports;
    NetEp punch_to[NP_INSIDE]; /* punch target of A and C */
    bool keeps[2];             /* side 1/2's router keeps state for unsolicited packets */
    GString *out;
};

static int np_sender(const uint8_t *buf, size_t len)
{
    for (int i = 0; i < NP_INSIDE; i++)
        if (len == 1 && buf[0] == (uint8_t)inside_names[i][0]) return i;
    for (int i = 0; i < NP_OUTSIDE; i++)
        if (len == 2 && memcmp(buf, outside_names[i], 2) == 0) return NP_INSIDE + i;
    return -1;
}

static void np_recv(void *ctx, NetSock s, NetEp from, const uint8_t *buf, size_t len)
{
    (void)s;
    NpSock *k = ctx;
    int who = np_sender(buf, len);
    if (who < 0) return;
    k->got[who] = true;
    k->from_ep = from;
    k->heard = true;
    if (k->id < NP_INSIDE) {
        k->pr->punch_to[k->id] = from; /* later punches go to the source heard */
        return;
    }
    if (who >= NP_INSIDE) return;
    int o = k->id - NP_INSIDE;
    k->pr->seen[o][who] = k->pr->seen[NP_OUTSIDE][who] = true;
    k->pr->obs[o][who] = k->pr->obs[NP_OUTSIDE][who] = from;
}

static void np_error(void *ctx, NetSock s, NetEp to, NetErr err)
{
    (void)ctx, (void)s, (void)to, (void)err; /* a firewall's reject: the probe did not pass */
}

static const UdpOps np_ops = {.recv = np_recv, .error = np_error};

void natprobe_opts_default(NatProbeOpts *o)
{
    *o = (NatProbeOpts){.step_ns = 50 * TIMENS_MS, .punch_ns = 600 * TIMENS_MS};
}

static bool kind_fw(const char *kind, FwType *fw)
{
    if (strcmp(kind, "public") == 0)
        *fw = FW_OPEN;
    else if (strcmp(kind, "fw_stateful") == 0)
        *fw = FW_STATEFUL;
    else if (strcmp(kind, "fw_udp_blocked") == 0)
        *fw = FW_UDP_BLOCKED;
    else
        return false;
    return true;
}

bool natprobe_kind_is_known(const char *kind)
{
    NatConfig c;
    FwType fw;
    return kind_fw(kind, &fw) || (nat_preset(kind, &c) && c.enabled);
}

static NetNodeConfig np_site(FwType fw)
{
    NetNodeConfig c;
    net_node_config_site(&c);
    c.link.up_bps = c.link.down_bps = 0;
    c.link.delay_ns = TIMENS_MS;
    c.link.jitter_ns = 0;
    c.position = 0;
    c.fw = fw;
    return c;
}

static void np_sock(Probe *pr, int id, uint32_t host, uint16_t port)
{
    NpSock *k = &pr->sk[id];
    k->pr = pr;
    k->id = id;
    k->host = host;
    NetErr e = sock_udp_open(pr->net, host, port, &np_ops, k, &k->s);
    if (e != NET_OK) {
        fprintf(stderr, "natprobe: cannot open port %u: %s\n", port, net_err_name(e));
        abort();
    }
}

/* Side 0 (A, B) or 1 (C) of the given kind. */
static void np_side(Probe *pr, int side, const char *kind, const NatProbeOpts *o)
{
    FwType fw = FW_OPEN;
    uint32_t parent = NET_INTERNET;
    int first = side == 0 ? 0 : 2, n = side == 0 ? 2 : 1;
    if (!kind_fw(kind, &fw)) {
        NatConfig nc;
        nat_preset(kind, &nc);
        if (nc.conntrack && o->udp_unreplied_ns) nc.udp_unreplied_ns = o->udp_unreplied_ns;
        if (nc.conntrack && o->udp_stream_ns) nc.udp_timeout_ns = o->udp_stream_ns;
        NetNodeConfig c = np_site(FW_OPEN);
        parent = pr->router[side] = net_nat_add(pr->net, NET_INTERNET, &c, &nc, NULL);
    }
    for (int i = first; i < first + n; i++) {
        NetNodeConfig c = np_site(fw);
        uint32_t h = parent == NET_INTERNET ? net_host_add(pr->net, parent, &c, NULL)
                                            : net_host_add(pr->net, parent, NULL, NULL);
        np_sock(pr, i, h, NP_PORT_IN);
    }
}

static void np_step_clear(Probe *pr)
{
    for (int i = 0; i < NP_INSIDE + NP_OUTSIDE; i++)
        memset(pr->sk[i].got, 0, sizeof pr->sk[i].got);
}

static void np_run_for(Probe *pr, TimeNs d)
{
    sim_run_until(pr->sim, sim_now(pr->sim) + d);
}

static void np_send(Probe *pr, int from, NetEp to)
{
    const char *name = from < NP_INSIDE ? inside_names[from] : outside_names[from - NP_INSIDE];
    sock_udp_send(pr->net, pr->sk[from].s, to, name, strlen(name));
}

static NetEp np_outside_ep(Probe *pr, int o)
{
    return (NetEp){net_node_addr(pr->net, pr->sk[NP_INSIDE + o].host), o % 2 ? 3479 : 3478};
}

/* Where outside observer o (NP_OUTSIDE: anyone) believes inside host h is. */
static NetEp np_believed(Probe *pr, int o, int h)
{
    if (pr->seen[o][h]) return pr->obs[o][h];
    if (pr->seen[NP_OUTSIDE][h]) return pr->obs[NP_OUTSIDE][h];
    return (NetEp){net_node_public_addr(pr->net, pr->sk[h].host), NP_PORT_IN};
}

static void np_port_token(Probe *pr, uint16_t port)
{
    if (port == NP_PORT_IN) {
        g_string_append(pr->out, "=");
        return;
    }
    int i = 0;
    while (i < pr->nports && pr->ports[i] != port)
        i++;
    if (i == pr->nports && pr->nports < NP_MAX_PORTS) pr->ports[pr->nports++] = port;
    g_string_append_printf(pr->out, "r%d", i + 1);
}

static void np_outbound(Probe *pr, const NatProbeOpts *op, int h, int o)
{
    np_step_clear(pr);
    np_send(pr, h, np_outside_ep(pr, o));
    np_run_for(pr, op->step_ns);
    NpSock *k = &pr->sk[NP_INSIDE + o];
    if (k->got[h])
        np_port_token(pr, k->from_ep.port);
    else
        g_string_append(pr->out, "-");
}

static void np_inbound(Probe *pr, const NatProbeOpts *op, int o, int h)
{
    np_step_clear(pr);
    np_send(pr, NP_INSIDE + o, np_believed(pr, o, h));
    np_run_for(pr, op->step_ns);
    size_t len = pr->out->len;
    for (int i = 0; i < NP_INSIDE; i++)
        if (pr->sk[i].got[NP_INSIDE + o]) g_string_append(pr->out, inside_names[i]);
    if (pr->out->len == len) g_string_append(pr->out, "-");
}

/* Whether the protocol's NAT detection finds that a router of this kind
 * keeps state for unsolicited packets (probe natdet_state: its last step
 * moves only behind plain MASQUERADE); the calls' punching order rests on
 * it (protocol/call.c). */
static bool np_kind_keeps_state(const char *kind)
{
    return strcmp(kind, "linux_masquerade") == 0;
}

static void np_punch(Probe *pr, const NatProbeOpts *op)
{
    const int a = 0, c = 2;
    pr->punch_to[a] = np_believed(pr, 0, c);
    pr->punch_to[c] = np_believed(pr, 0, a);
    pr->sk[a].heard = pr->sk[c].heard = false;
    bool caller_first = pr->keeps[0] && !pr->keeps[1];
    int first = caller_first ? a : c, second = caller_first ? c : a;
    for (TimeNs t = 0; t < op->punch_ns; t += 100 * TIMENS_MS) {
        np_send(pr, first, pr->punch_to[first]);
        np_run_for(pr, 50 * TIMENS_MS);
        np_send(pr, second, pr->punch_to[second]);
        np_run_for(pr, 50 * TIMENS_MS);
    }
    np_run_for(pr, op->step_ns);
    g_string_append_printf(pr->out, "%c%c", pr->sk[a].heard ? 'y' : 'n',
                           pr->sk[c].heard ? 'y' : 'n');
}

static int np_name(const char *s, size_t n, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0) return i;
    return -1;
}

/* One step; false if it is not one natprobe.h describes. */
static bool np_step(Probe *pr, const NatProbeOpts *op, const char *tok)
{
    if (strncmp(tok, "wait:", 5) == 0) {
        char *end;
        double s = strtod(tok + 5, &end);
        if (*end || !(s > 0)) return false;
        np_run_for(pr, timens_from_s(s));
        return true;
    }
    if (pr->out->len) g_string_append_c(pr->out, ' ');
    if (strcmp(tok, "punch") == 0) {
        np_punch(pr, op);
        return true;
    }
    const char *gt = strchr(tok, '>');
    if (!gt) return false;
    size_t nl = (size_t)(gt - tok);
    int hi = np_name(tok, nl, inside_names, NP_INSIDE);
    int ho = np_name(gt + 1, strlen(gt + 1), outside_names, NP_OUTSIDE);
    if (hi >= 0 && ho >= 0) {
        np_outbound(pr, op, hi, ho);
        return true;
    }
    int oo = np_name(tok, nl, outside_names, NP_OUTSIDE);
    int oi = np_name(gt + 1, strlen(gt + 1), inside_names, NP_INSIDE);
    if (oo >= 0 && oi >= 0) {
        np_inbound(pr, op, oo, oi);
        return true;
    }
    return false;
}

char *natprobe_run(const char *kind1, const char *kind2, const char *steps, const NatProbeOpts *o,
                   uint64_t seed, GError **err)
{
    const char *kinds[2] = {kind1, kind2};
    for (int i = 0; i < 2; i++) {
        if (!natprobe_kind_is_known(kinds[i])) {
            g_set_error(err, g_quark_from_static_string("natprobe"), 1, "unknown kind \"%s\"",
                        kinds[i]);
            return NULL;
        }
    }
    Probe *pr = g_new0(Probe, 1);
    pr->sim = sim_new(seed, EVQ_HEAP);
    pr->net = net_new(pr->sim, NULL, NULL);
    pr->out = g_string_new("");
    for (int i = 0; i < 2; i++) { /* X and Y, two ports each */
        NetNodeConfig c = np_site(FW_OPEN);
        uint32_t h = net_host_add(pr->net, NET_INTERNET, &c, NULL);
        np_sock(pr, NP_INSIDE + 2 * i, h, 3478);
        np_sock(pr, NP_INSIDE + 2 * i + 1, h, 3479);
    }
    np_side(pr, 0, kind1, o);
    np_side(pr, 1, kind2, o);
    pr->keeps[0] = np_kind_keeps_state(kind1);
    pr->keeps[1] = np_kind_keeps_state(kind2);
    gchar **tok = g_strsplit_set(steps, " \t", -1);
    bool ok = true;
    for (gchar **t = tok; *t && ok; t++) {
        if (**t == '\0') continue;
        ok = np_step(pr, o, *t);
        if (!ok) g_set_error(err, g_quark_from_static_string("natprobe"), 2, "bad step \"%s\"", *t);
    }
    g_strfreev(tok);
    for (int i = 0; i < NP_INSIDE + NP_OUTSIDE; i++)
        sock_close(pr->net, pr->sk[i].s);
    net_free(pr->net);
    sim_free(pr->sim);
    char *res = g_string_free(pr->out, !ok);
    g_free(pr);
    return res;
}
