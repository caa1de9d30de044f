/* client: the ordinary client's state machines: install record, login
 * rounds, authentication, alternate node table, keep-alive, polls,
 * failover, promotion.
 *
 * Layer: protocol/, the client feature (client.h) over the node plumbing;
 * natdet.c is its second file (client_int.h).
 *
 * Login (docs/protocol-notes.md a6, a9, a10, a11, a22, a23):
 *   round r (1..login_rounds):
 *     UDP PROBE to the best host-cache entries (first login: the bootstrap
 *     SNs, at least probes_first_login of them, a6). An SN NAcks the first
 *     probe, which was keyed with source IP 0.0.0.0, telling the client its
 *     public address (a20); the client repeats it as U3 (a22). An accepting
 *     PROBE_ACK (U4) lets the client go to TCP at once; otherwise it waits
 *     probe_wait (~5 s, a10).
 *     TCP to the candidates (accepting SNs first, then the silent ones, at
 *     most tcp_targets_per_round), each on its own port, then 443, then 80
 *     (a11; 0.97 tried 80 before 443: set fallback_ports to change it).
 *     Every attempt is bounded by tcp_timeout.
 *     Nothing worked: wait round_wait (~6 s, a10) and start the next
 *     round; after the last round's wait, "login failure" (a10: five rounds
 *     by default, so with instantly failing TCP that is 5 x (5 + 6) = 55 s).
 *   SN accepted (CONNECT_ACK): authentication at the login server over TCP
 *     (a14, a15): a per-login RSA key pair (user_key_bits, 1024), a random
 *     AES-256 session key wrapped with the server's RSA key, username and
 *     MD5 credential hash under AES; the server answers with a certificate
 *     signed by its key, which the client verifies; connection closed.
 *     NAT detection against the SN runs in parallel (natdet.c).
 *   Logged in: PING to about 22 distinct host-cache nodes; those answering
 *     within alt_wait form the alternate node table.
 *
 * Online: KEEPALIVE over TCP every ~60 s (a24), unanswered for
 * keepalive_timeout = SN lost; UDP polls of a third of the alternate table
 * every 20 s (a25, and never more than 25 s apart: they keep the main
 * socket's NAT flow alive, client_poll), entries unanswered poll_miss_max
 * times in a row are dropped. SN lost (closed, reset, keep-alive timeout, or shed): failover,
 * TCP straight to the alternate table's nodes then the host cache (a13:
 * "on SN loss the client reconnects to another node"); all failing, a full
 * login. Failover time is a metric.
 *
 * Host cache (a1-a3, a25): the login's supernode is asked for
 * hc_sweep_entries entries at login and every hc_refresh_ns (the hourly
 * sweep), and sooner while the cache is short and still growing (fill
 * sweeps, client_sweep_tick); handed-out entries are merged, failed
 * contacts lower an entry's score until it is removed, the cache is saved
 * at login and logout.
 * Bootstrap entries are probed only when fewer ordinary entries than a
 * round's probes are left (hostcache_best ranks them last).
 *
 * UDP blocked: once fw_udp_probes probes of a login went unanswered with
 * no UDP answer at all (or the last NAT detection said so), the client
 * stops probing and tries TCP to its best cache entries, CAND_MAX a round;
 * the alternate-node pings are skipped (counted).
 *
 * Promotion (a40): a client with a public, unfiltered address (its own
 * detection: NAT_OPEN), enough uplink and CPU and uptime says so in its
 * keep-alives; it becomes a supernode when its supernode nominates it
 * (PROMOTE: the overlay needs room), and cannot refuse.
 */
#include "protocol/client_int.h"

#include <string.h>

#define INSTALL_KEY "install"
#define INSTALL_FORMAT 1
#define INSTALL_LEN 5 /* format u8, port u16, installed u8, last NAT type u8 */

static void client_tcp_try(Node *n);
static void client_sn_lost(Node *n);
static TimeNs client_poll_period(const Node *n);

static const char *const client_login_phase_names[] = {
    [CL_LOGIN_IDLE] = "idle",         [CL_LOGIN_ROUND_WAIT] = "round_wait",
    [CL_LOGIN_PROBING] = "probing",   [CL_LOGIN_SN_TCP] = "sn_tcp",
    [CL_LOGIN_AUTH] = "auth",         [CL_LOGIN_ONLINE] = "online",
    [CL_LOGIN_FAILOVER] = "failover", [CL_LOGIN_FAILED] = "failed",
};
_Static_assert(G_N_ELEMENTS(client_login_phase_names) == CL_LOGIN_FAILED + 1, "a name per phase");

const char *node_login_phase(const Node *n)
{
    const ClientState *cl = node__feat(n, NODE_FEAT_CLIENT);
    return client_login_phase_names[cl ? cl->login_phase : CL_LOGIN_IDLE];
}

/* Whether the TCP candidates serve a failover rather than a login. */
static bool client_in_failover(const ClientState *cl)
{
    return cl->login_phase == CL_LOGIN_FAILOVER;
}
static void client_login_begin(Node *n);

/* ---- Install record (a9: port chosen at install, never changed) ---- */

static uint16_t client_random_port(Node *n)
{
    return (uint16_t)(1025 + env_random_below(&n->env, 64511));
}

static void client_install_load(Node *n)
{
    uint8_t b[INSTALL_LEN];
    long len = env_store_get(&n->env, INSTALL_KEY, b, sizeof b);
    if (len == INSTALL_LEN && b[0] == INSTALL_FORMAT && wire_get_u16(b + 1) > 1024 &&
        b[4] < NAT_TYPE_COUNT) {
        n->port = wire_get_u16(b + 1);
        n->installed = b[3] != 0;
        n->nat = b[4];
        return;
    }
    if (!n->port) n->port = client_random_port(n); /* first install */
    n->installed = false;
}

void client__install_save(Node *n)
{
    uint8_t b[INSTALL_LEN] = {INSTALL_FORMAT, 0, 0, n->installed, n->nat};
    wire_put_u16(b + 1, n->port);
    (void)env_store_put(&n->env, INSTALL_KEY, b, sizeof b);
}

/* ---- Start / stop ---- */

static void client_start(Node *n)
{
    ClientState *cl = env_mem_alloc(&n->env, sizeof *cl); /* zeroed */
    cl->auth = -1;
    node__feat_set(n, NODE_FEAT_CLIENT, cl);
    client_install_load(n);
    bool bound = node__bind(n);
    for (int i = 0; i < 8 && !bound; i++) { /* the install port is taken: draw another */
        n->port = client_random_port(n);
        bound = node__bind(n);
    }
    CHECK(bound, "client %u found no free port", n->id);
    client__install_save(n);
    hostcache_init(&n->hc, &n->env, n->sh->p.hostcache_cap);
    (void)hostcache_load(&n->hc, &n->env);
    node__emit(n, NODE_EV_CLIENT_STARTED, NULL); /* websrv: the HTTP exchange */
    client_login_begin(n);
}

static void client_timers_cancel(Node *n)
{
    ClientState *cl = client__state(n);
    EnvTimer *all[] = {&cl->t_probe, &cl->t_round, &cl->t_tcp,   &cl->t_auth,
                       &cl->t_alt,   &cl->t_ka,    &cl->t_ka_to, &cl->t_poll,
                       &cl->t_stun,  &cl->t_nat,   &cl->t_sweep};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        env_timer_cancel(&n->env, all[i]);
}

static void client_stop(Node *n, bool graceful)
{
    ClientState *cl = client__state(n);
    (void)graceful;
    client_timers_cancel(n);
    natdet__stop(n);
    if (n->state == NODE_ST_ONLINE) (void)hostcache_save(&n->hc, &n->env); /* a3: kept across sessions */
    env_mem_free(&n->env, cl->cert, cl->cert_len);
    n->uplink = -1; /* node_stop closes every connection */
    env_mem_free(&n->env, cl, sizeof *cl);
    node__feat_set(n, NODE_FEAT_CLIENT, NULL);
}

/* ---- Login rounds ---- */

/* Starts a login; retry: after a give-up (the run of attempts goes on). */
static void client_login_begin_as(Node *n, bool retry)
{
    ClientState *cl = client__state(n);
    cl->login_phase = CL_LOGIN_ROUND_WAIT;
    cl->round = 0;
    cl->silent_rounds = 0;
    cl->contacted = 0;
    cl->udp_seen = false;
    cl->udp_silent = 0;
    cl->udp_blocked = n->nat == NAT_UDP_BLOCKED; /* the last detection (install record) said so */
    cl->login_start = cl->answered_at = env_now(&n->env);
    cl->full_rounds = 0;
    if (!retry) cl->first_attempt = cl->login_start;
    n->state = NODE_ST_LOGGING_IN;
    node__count(n, NODE_M(n)->login_attempt, 1);
    env_timer_cancel(&n->env, &cl->t_round);
    cl->t_round = node__timer_start(n, NODE_FEAT_CLIENT, 0, CLIENT_TM_ROUND);
}

static void client_login_begin(Node *n)
{
    client_login_begin_as(n, false);
}

/* The login failed (why: for the log). retry: the cause may pass (no
 * supernode or login server answered), so after login_pause_ns the client
 * starts again (a12); a refused or bad credential is final. */
static void client_login_failed(Node *n, const char *why, bool retry)
{
    ClientState *cl = client__state(n);
    client_timers_cancel(n);
    if (n->uplink >= 0) node__conn_close(n, n->uplink, true);
    if (cl->auth >= 0) node__conn_close(n, cl->auth, true);
    n->uplink = cl->auth = -1;
    cl->ncand = 0;
    cl->login_phase = CL_LOGIN_FAILED;
    n->state = NODE_ST_FAILED;
    node__count(n, NODE_M(n)->login_fail, 1);
    node__count(n, NODE_M(n)->login_fail_by[n->true_nat], 1);
    env_metric_observe(&n->env, NODE_M(n)->login_rounds, cl->round);
    env_log(&n->env, ENV_LOG_INFO, "login failure after %u rounds: %s", cl->round, why);
    if (!retry || n->sh->p.login_pause_ns <= 0) return;
    node__count(n, NODE_M(n)->login_give_ups, 1);
    cl->t_round = node__timer_start(n, NODE_FEAT_CLIENT, n->sh->p.login_pause_ns, CLIENT_TM_RETRY);
}

static void client_probe_send(Node *n, EnvAddr to)
{
    WireMsg m = {.type = WIRE_PROBE, .u.probe = {0, n->port, 0}};
    node__udp_send_msg(n, n->udp, to, client__state(n)->frame_id, &m, PH_PROBE);
}

static void client_tcp_phase(Node *n);

static void client_round_start(Node *n)
{
    ClientState *cl = client__state(n);
    const NodeParams *p = &n->sh->p;
    /* a10: five rounds without an answer and the login fails; a12 (2.0):
     * about 8 min of failed attempts and it gives up. Both were measured
     * with nothing answering (TCP blocked). A round in which supernodes
     * answered "full, go there" (a redirect) is not such a failure: the
     * overlay is there and short of room, which promotions make within
     * minutes, so it neither counts towards the five nor runs the give-up
     * clock; the client keeps trying, backing off (client_round_failed).
     * Pausing 30 min instead would keep every client of a cold start out
     * for the pause after the tier has grown. */
    if (cl->silent_rounds >= p->login_rounds ||
        (cl->round > 0 && env_now(&n->env) - cl->answered_at >= p->login_giveup_ns)) {
        client_login_failed(n, "no supernode reachable", true);
        return;
    }
    cl->round++;
    cl->redirected = false;
    cl->login_phase = CL_LOGIN_PROBING;
    /* The bootstrap SNs are always there to fall back on (a6): hostcache_best
     * ranks them after every ordinary entry, so they are probed only when
     * fewer ordinary entries than a round's probes are left (a2). */
    hostcache_add_bootstrap(&n->hc, p->bootstrap, p->n_bootstrap, env_now(&n->env));
    cl->first_login = true;
    for (uint16_t i = 0; i < n->hc.n; i++)
        if (!(n->hc.e[i].flags & HOSTCACHE_F_BOOTSTRAP)) cl->first_login = false;
    cl->ncand = 0;
    if (cl->udp_blocked) { /* no probing: TCP to the best entries (client_tcp_phase) */
        cl->nprobe = 0;
        client_tcp_phase(n);
        return;
    }
    size_t want = MAX(p->probes_per_round, cl->first_login ? p->probes_first_login : 0);
    cl->nprobe =
        (uint8_t)hostcache_best(&n->hc, cl->probe, MIN(want, (size_t)CAND_MAX), 0, NULL, 0);
    cl->frame_id = (uint16_t)node__random_u32(n);
    for (uint8_t i = 0; i < cl->nprobe; i++) {
        cl->probe_st[i] = PROBE_SENT;
        client_probe_send(n, cl->probe[i]);
    }
    if (cl->round == 1) cl->contacted = (uint8_t)(cl->contacted + cl->nprobe);
    cl->t_probe = node__timer_start(n, NODE_FEAT_CLIENT, p->probe_wait_ns, CLIENT_TM_PROBE);
}

/* The round's TCP attempts all failed: wait, then the next round. */
static void client_round_failed(Node *n)
{
    ClientState *cl = client__state(n);
    env_timer_cancel(&n->env, &cl->t_probe);
    env_timer_cancel(&n->env, &cl->t_tcp);
    cl->ncand = 0;
    const NodeParams *p = &n->sh->p;
    TimeNs wait = p->round_wait_ns;
    if (cl->redirected) { /* the overlay answered, full: wait 2x, 4x... up to the cap */
        cl->answered_at = env_now(&n->env);
        if (cl->full_rounds < 16) cl->full_rounds++;
        wait = MAX(wait, MIN(wait << cl->full_rounds, p->login_full_wait_max_ns));
    } else {
        cl->silent_rounds++;
        cl->full_rounds = 0;
    }
    cl->login_phase = CL_LOGIN_ROUND_WAIT;
    cl->t_round = node__timer_start(n, NODE_FEAT_CLIENT, wait, CLIENT_TM_ROUND);
}

/* The probe wait of a round ended with silent targets (timed_out: the
 * whole wait passed). Where UDP works (an answer came during this login),
 * a silent supernode counts a failed contact; where nothing has ever
 * answered, the silence counts towards concluding that UDP is blocked
 * (fw_udp_probes, a11: "can work without UDP"). */
static void client_probes_silent(Node *n)
{
    ClientState *cl = client__state(n);
    for (uint8_t i = 0; i < cl->nprobe; i++) {
        if (cl->probe_st[i] != PROBE_SENT) continue;
        if (cl->udp_seen) {
            if (hostcache_entry_touch(&n->hc, cl->probe[i], env_now(&n->env), false))
                node__count(n, NODE_M(n)->hc_evicted, 1);
        } else if (cl->udp_silent < 255) {
            cl->udp_silent++;
        }
    }
    if (!cl->udp_seen && !cl->udp_blocked && cl->udp_silent >= n->sh->p.fw_udp_probes) {
        cl->udp_blocked = true;
        node__count(n, NODE_M(n)->udp_blocked, 1);
        env_log(&n->env, ENV_LOG_INFO, "%u probes unanswered: UDP is blocked, TCP only",
                cl->udp_silent);
    }
}

/* Builds the TCP candidate list from the probe results (or, UDP being
 * blocked, from the host cache: every candidate slot, ordinary entries
 * first) and starts. */
static void client_tcp_phase(Node *n)
{
    ClientState *cl = client__state(n);
    env_timer_cancel(&n->env, &cl->t_probe);
    cl->ncand = 0;
    cl->login_phase = CL_LOGIN_SN_TCP;
    if (cl->udp_blocked) {
        cl->ncand = (uint8_t)hostcache_best(&n->hc, cl->cand, CAND_MAX, 0, NULL, 0);
        cl->contacted = (uint8_t)MIN(255, cl->contacted + cl->ncand);
    }
    static const uint8_t passes[2] = {PROBE_ACCEPTED, PROBE_SENT}; /* accepting SNs first */
    for (int pass = 0; pass < 2; pass++)
        for (uint8_t i = 0; i < cl->nprobe; i++)
            if (cl->probe_st[i] == passes[pass] && cl->ncand < n->sh->p.tcp_targets_per_round)
                cl->cand[cl->ncand++] = cl->probe[i];
    cl->ci = cl->pi = 0;
    if (cl->ncand == 0)
        client_round_failed(n);
    else
        client_tcp_try(n);
}

static void client_tcp_next(ClientState *cl)
{
    if (++cl->pi > 2) {
        cl->pi = 0;
        cl->ci++;
    }
}

static void client_failover_exhausted(Node *n)
{
    node__count(n, NODE_M(n)->failover_relogin, 1);
    client_login_begin(n);
}

/* Tries candidate ci on port step pi; steps on synchronous failures. */
static void client_tcp_try(Node *n)
{
    ClientState *cl = client__state(n);
    const NodeParams *p = &n->sh->p;
    while (cl->ci < cl->ncand) {
        EnvAddr to = cl->cand[cl->ci];
        if (cl->pi > 0) to.port = p->fallback_ports[cl->pi - 1];
        if ((cl->pi > 0 && to.port == cl->cand[cl->ci].port) || to.port == 0) {
            client_tcp_next(cl);
            continue;
        }
        int idx = node__connect(n, to, CONN_CL_SN, client_in_failover(cl) ? PH_NONE : PH_SN);
        if (idx >= 0) {
            n->uplink = idx;
            cl->t_tcp = node__timer_start(n, NODE_FEAT_CLIENT, p->tcp_timeout_ns, CLIENT_TM_TCP);
            return;
        }
        client_tcp_next(cl);
    }
    cl->ncand = 0;
    if (client_in_failover(cl))
        client_failover_exhausted(n);
    else
        client_round_failed(n);
}

/* The current TCP attempt failed (refused, timed out, closed, rejected).
 * next_target: skip the remaining ports of this candidate (it answered and
 * said no). */
static void client_tcp_attempt_failed(Node *n, bool next_target)
{
    ClientState *cl = client__state(n);
    env_timer_cancel(&n->env, &cl->t_tcp);
    if (n->uplink >= 0) node__conn_close(n, n->uplink, true);
    n->uplink = -1;
    if (!next_target && cl->pi == 2 &&
        hostcache_entry_touch(&n->hc, cl->cand[cl->ci], env_now(&n->env), false))
        node__count(n, NODE_M(n)->hc_evicted, 1);
    if (next_target) {
        cl->pi = 0;
        cl->ci++;
    } else {
        client_tcp_next(cl);
    }
    client_tcp_try(n);
}

/* ---- Authentication (a14, a15) ---- */

/* Connects to the login server on the port of attempt cl->auth_try: its
 * own port first, then the fallback ports (443, 80), as for supernodes
 * (a11): behind a firewall that passes only TCP to 80 and 443 the login
 * server must be reached there too. False when no port is left. */
static bool client_auth_connect(Node *n)
{
    ClientState *cl = client__state(n);
    const NodeParams *p = &n->sh->p;
    EnvAddr to = p->login_server;
    for (; cl->auth_try <= G_N_ELEMENTS(p->fallback_ports); cl->auth_try++) {
        if (cl->auth_try > 0) {
            uint16_t port = p->fallback_ports[cl->auth_try - 1];
            if (port == 0 || port == p->login_server.port) continue;
            to.port = port;
        }
        cl->auth = node__connect(n, to, CONN_CL_AUTH, PH_AUTH);
        if (cl->auth >= 0) {
            env_timer_cancel(&n->env, &cl->t_auth); /* each attempt gets the full time */
            cl->t_auth = node__timer_start(n, NODE_FEAT_CLIENT, p->auth_timeout_ns, CLIENT_TM_AUTH);
            return true;
        }
    }
    return false;
}

/* The current login-server attempt failed (refused, blocked, timed out):
 * the next port, or login failure when none is left. */
static void client_auth_attempt_failed(Node *n, const char *why)
{
    ClientState *cl = client__state(n);
    if (cl->auth >= 0) node__conn_close(n, cl->auth, true);
    cl->auth = -1;
    cl->auth_try++;
    if (!client_auth_connect(n)) client_login_failed(n, why, true);
}

static void client_auth_start(Node *n)
{
    ClientState *cl = client__state(n);
    cl->contacted++;
    cl->login_phase = CL_LOGIN_AUTH;
    cl->auth_try = 0;
    if (!client_auth_connect(n)) client_login_failed(n, "login server unreachable", true);
}

/* Sends LOGIN_REQ: wrapped session key + AES(user, hash, public key). */
static void client_auth_send(Node *n)
{
    ClientState *cl = client__state(n);
    Crypto *c = n->sh->crypto;
    CryptoKey *uk;
    if (n->sh->n_user_keys) { /* a pooled key pair: the keygen is charged, not run */
        uk = n->sh->user_keys[env_random_below(&n->env, n->sh->n_user_keys)];
        env_charge_cpu(&n->env, ENV_COST_RSA_KEYGEN, n->sh->p.user_key_bits / 8);
    } else {
        uk = crypto_rsa_keygen(c, &n->env, n->sh->p.user_key_bits);
    }
    uint8_t body[1 + WIRE_USER_MAX + 16 + 2 + CRYPTO_PUBDER_MAX], *p = body;
    *p++ = n->ulen;
    memcpy(p, n->user, n->ulen);
    p += n->ulen;
    memcpy(p, n->pwhash, 16);
    p += 16;
    size_t publen = crypto_key_pub_der(uk, p + 2, CRYPTO_PUBDER_MAX);
    CHECK(publen > 0, "user key DER");
    wire_put_u16(p, (uint16_t)publen);
    p += 2 + publen;
    if (!n->sh->n_user_keys) crypto_key_free(uk); /* the private half is not needed yet */
    env_random_bytes(&n->env, cl->sess_key, sizeof cl->sess_key);
    uint8_t wrapped[CRYPTO_RSA_MAX_BYTES], iv[16] = {0};
    size_t klen = crypto_rsa_encrypt(c, &n->env, n->sh->server_key, cl->sess_key,
                                     sizeof cl->sess_key, wrapped, sizeof wrapped);
    size_t blen = (size_t)(p - body);
    crypto_aes256(c, &n->env, cl->sess_key, iv, body, blen);
    node__conn_hello(n, cl->auth, HELLO_CLIENT);
    WireMsg m = {.type = WIRE_LOGIN_REQ,
                 .u.login = {(uint16_t)klen, wrapped, (uint16_t)blen, body}};
    node__send_msg(n, cl->auth, &m);
}

/* Decrypts and verifies a certificate: u8 version, u32 expiry (s), u8 ulen,
 * user, u16 publen, public key DER, u16 siglen, signature over everything
 * before siglen (loginsrv.c builds it). */
static bool client_cert_check(Node *n, uint8_t *cert, size_t len)
{
    ClientState *cl = client__state(n);
    uint8_t iv[16] = {0};
    iv[15] = 1;
    crypto_aes256(n->sh->crypto, &n->env, cl->sess_key, iv, cert, len);
    if (len < 8 || cert[0] != 1) return false;
    size_t ulen = cert[5], off = 6 + ulen;
    if (ulen != n->ulen || off + 2 > len || memcmp(cert + 6, n->user, ulen) != 0) return false;
    off += 2 + wire_get_u16(cert + off);
    if (off + 2 > len) return false;
    size_t siglen = wire_get_u16(cert + off);
    if (off + 2 + siglen != len) return false;
    return crypto_rsa_verify(n->sh->crypto, &n->env, n->sh->server_key, cert, off, cert + off + 2,
                             siglen);
}

static void client_login_succeeded(Node *n);

static void client_on_cert(Node *n, const WireMsg *m)
{
    ClientState *cl = client__state(n);
    uint8_t cert[WIRE_BLOB_MAX];
    memcpy(cert, m->u.login.data, m->u.login.len);
    bool ok = client_cert_check(n, cert, m->u.login.len);
    memset(cl->sess_key, 0, sizeof cl->sess_key);
    node__conn_close(n, cl->auth, false); /* a14: no further contact with the login server */
    cl->auth = -1;
    env_timer_cancel(&n->env, &cl->t_auth);
    if (!ok) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        client_login_failed(n, "bad certificate", false);
        return;
    }
    env_mem_free(&n->env, cl->cert, cl->cert_len);
    cl->cert = env_mem_alloc(&n->env, m->u.login.len);
    memcpy(cl->cert, cert, m->u.login.len);
    cl->cert_len = m->u.login.len;
    client_login_succeeded(n);
}

/* ---- Logged in ---- */

static size_t client_alt_add(Node *n, EnvAddr a)
{
    ClientState *cl = client__state(n);
    for (uint8_t i = 0; i < cl->nalt; i++)
        if (env_addr_eq(cl->alt[i].a, a)) {
            cl->alt[i].miss = 0;
            return i;
        }
    if (cl->nalt == NODE_ALT_MAX || env_addr_eq(a, n->uplink_addr)) return NODE_ALT_MAX;
    cl->alt[cl->nalt].a = a;
    cl->alt[cl->nalt].miss = 0;
    return cl->nalt++;
}

static void client_alt_remove(Node *n, size_t i)
{
    ClientState *cl = client__state(n);
    cl->alt[i] = cl->alt[--cl->nalt];
}

static void client_alt_start(Node *n)
{
    ClientState *cl = client__state(n);
    if (cl->udp_blocked) { /* the table is built from UDP pings: nothing to build it with */
        node__count(n, NODE_M(n)->udp_skipped, 1);
        cl->alt_phase = false;
        return;
    }
    EnvAddr t[NODE_ALT_MAX];
    size_t k = hostcache_best(&n->hc, t, MIN((size_t)n->sh->p.alt_targets, (size_t)NODE_ALT_MAX), 0,
                              &n->uplink_addr, 1);
    cl->alt_nonce = node__random_u32(n);
    cl->alt_phase = true;
    for (size_t i = 0; i < k; i++) {
        WireMsg m = {.type = WIRE_PING, .u.ping = {cl->alt_nonce, 0}};
        node__udp_send_msg(n, n->udp, t[i], (uint16_t)node__random_u32(n), &m, PH_ALT);
    }
    cl->contacted = (uint8_t)MIN(255, cl->contacted + k);
    cl->t_alt = node__timer_start(n, NODE_FEAT_CLIENT, n->sh->p.alt_wait_ns, CLIENT_TM_ALT);
}

/* The host-cache refresh sweep (a25: about hourly): ask the supernode
 * for hc_sweep_entries entries; its HC_ENTRIES answers are merged as they
 * come (client_on_frame). Dead entries go as contacts fail
 * (hostcache_entry_touch), the worst make room when the cache is full. */
static void client_sweep(Node *n)
{
    if (n->state != NODE_ST_ONLINE || n->uplink < 0 || n->sh->p.hc_sweep_entries == 0) return;
    client__state(n)->hc_n_swept = n->hc.n;
    WireMsg m = {.type = WIRE_HC_REQUEST, .u.hc_request = {n->sh->p.hc_sweep_entries}};
    node__send_msg(n, n->uplink, &m);
    node__count(n, NODE_M(n)->hc_sweeps, 1);
}

/* Every sixth of hc_refresh_ns online. Each full hour (a25): the cache
 * as it stands is sampled, then the sweep. In between, fill sweeps at 10,
 * 20 and 40 minutes of the first hour: a25 describes a client whose cache
 * is established; one that logged in while the tier was small (a cold
 * start) or whose supernode knew few others would otherwise keep a short
 * cache for an hour. A fill sweep is sent while the cache is under
 * hc_sweep_entries; the first fill sweep that brings nothing new ends
 * them until the next login. */
static void client_sweep_tick(Node *n)
{
    ClientState *cl = client__state(n);
    cl->sweep_tick = (uint8_t)(cl->sweep_tick % 6 + 1);
    if (cl->sweep_tick == 6) {
        cl->hc_filling = false;
        env_metric_observe(&n->env, NODE_M(n)->hc_size_hourly, n->hc.n);
        client_sweep(n);
        return;
    }
    if (cl->sweep_tick != 1 && cl->sweep_tick != 2 && cl->sweep_tick != 4) return;
    if (!cl->hc_filling) return;
    if (n->hc.n >= n->sh->p.hc_sweep_entries || n->hc.n <= cl->hc_n_swept) {
        cl->hc_filling = false;
        return;
    }
    client_sweep(n);
}

/* Merges handed-out entries (CONNECT_ACK, HC_ENTRIES, SHED, redirects),
 * counting what came in and what it pushed out. */
static void client_hc_merge(Node *n, uint8_t k, const WireEntry *e)
{
    TimeNs now = env_now(&n->env);
    for (uint8_t i = 0; i < k; i++) {
        EnvAddr a = env_addr(e[i].ip, e[i].port);
        if (!a.ip || !a.port) continue;
        HostCacheOutcome out;
        (void)hostcache_merge(&n->hc, a, (uint32_t)(now / TIMENS_S), HOSTCACHE_LOAD_UNKNOWN, &out);
        if (out == HOSTCACHE_ADDED || out == HOSTCACHE_REPLACED)
            node__count(n, NODE_M(n)->hc_added, 1);
        if (out == HOSTCACHE_REPLACED) node__count(n, NODE_M(n)->hc_evicted, 1);
    }
}

static void client_login_succeeded(Node *n)
{
    ClientState *cl = client__state(n);
    const NodeParams *p = &n->sh->p;
    TimeNs now = env_now(&n->env);
    double secs = timens_to_s(now - cl->login_start);
    n->state = NODE_ST_ONLINE;
    cl->login_phase = CL_LOGIN_ONLINE;
    if (n->uplink >= 0) n->conns[n->uplink].phase = PH_NONE;
    node__count(n, NODE_M(n)->login_ok, 1);
    node__count(n, NODE_M(n)->login_ok_by[n->true_nat], 1);
    env_metric_observe(&n->env, NODE_M(n)->login_time, secs);
    env_metric_observe(&n->env, NODE_M(n)->login_time_by[n->true_nat], secs);
    env_metric_observe(&n->env, NODE_M(n)->login_rounds, cl->round);
    env_metric_observe(&n->env, NODE_M(n)->login_eventual, timens_to_s(now - cl->first_attempt));
    env_metric_observe(&n->env, NODE_M(n)->hc_size, n->hc.n);
    hostcache_save(&n->hc, &n->env);
    env_timer_cancel(&n->env, &cl->t_ka);
    env_timer_cancel(&n->env, &cl->t_poll);
    cl->t_ka = node__timer_start_periodic(n, NODE_FEAT_CLIENT, p->keepalive_ns, p->keepalive_ns,
                                          CLIENT_TM_KEEPALIVE);
    TimeNs poll = client_poll_period(n);
    cl->t_poll = node__timer_start_periodic(n, NODE_FEAT_CLIENT, poll, poll, CLIENT_TM_POLL);
    env_timer_cancel(&n->env, &cl->t_sweep);
    cl->t_sweep = node__timer_start_periodic(n, NODE_FEAT_CLIENT, p->hc_refresh_ns / 6,
                                             p->hc_refresh_ns / 6, CLIENT_TM_SWEEP);
    cl->sweep_tick = 0;
    cl->hc_filling = true;
    cl->ka_miss = 0;
    client_alt_start(n);
    client_sweep(n); /* the login's own sweep: fill the cache from the new SN */
    cl->hc_n_swept = 0; /* the first fill sweep goes whatever this one brings */
    node__emit(n, NODE_EV_LOGGED_IN, NULL);
    if (n->uplink < 0) client_sn_lost(n); /* the SN link died while we authenticated */
}

static void client_alt_done(Node *n)
{
    ClientState *cl = client__state(n);
    cl->alt_phase = false;
    env_metric_observe(&n->env, NODE_M(n)->login_nodes, cl->contacted);
    size_t mem = sizeof(Node) + sizeof *cl + n->conns_cap * sizeof(NodeConn) + cl->cert_len;
    env_metric_observe(&n->env, NODE_M(n)->mem_client, (double)mem);
}

/* Whether the client could serve as a supernode (a40), by what it knows of
 * itself: its own NAT detection found it on the open Internet (never the
 * true label), and its uplink, CPU and uptime pass the thresholds. */
static bool client_eligible(const Node *n)
{
    const NodeParams *p = &n->sh->p;
    return p->promotion_enabled && !n->sn && n->state == NODE_ST_ONLINE && n->nat == NAT_OPEN &&
           n->uplink_kbps >= p->sn_min_uplink_kbps && n->cpu_mhz >= p->sn_min_cpu_mhz &&
           env_now(&n->env) - n->started_at >= p->sn_min_uptime_ns;
}

static void client_keepalive(Node *n)
{
    ClientState *cl = client__state(n);
    if (n->state != NODE_ST_ONLINE || n->uplink < 0) return;
    WireMsg m = {.type = WIRE_KEEPALIVE,
                 .u.keepalive = {.seq = ++cl->ka_seq,
                                 .flags = client_eligible(n) ? WIRE_KA_ELIGIBLE : 0}};
    node__send_msg(n, n->uplink, &m);
    node__count(n, NODE_M(n)->keepalive_sent, 1);
    if (!env_timer_is_set(cl->t_ka_to))
        cl->t_ka_to = node__timer_start(n, NODE_FEAT_CLIENT, n->sh->p.keepalive_timeout_ns,
                                        CLIENT_TM_KA_TIMEOUT);
}

/* The polls are also the client's UDP keep-alive: nothing else leaves its
 * main socket while it is idle (keep-alives go over TCP). Observation
 * (tests/netns, probes life_unreplied and life_replied_short; Linux
 * nf_conntrack_udp_timeout): a Linux router forgets a UDP flow 30 s after
 * its last packet unless it is assured, and a PING answered by a PONG never
 * becomes assured (that takes a packet more than 2 s after the flow began),
 * so each poll's flow lives 30 s. While some flow from the main socket
 * lives, the router gives the next one (a call's PUNCHes) the same port
 * (its source lookup), which is the endpoint the client announces; with
 * none alive the port is chosen afresh. So a round goes out at least every
 * CLIENT_UDP_KEEP_NS, below the 30 s, and a round with an empty alternate
 * table pings the supernode instead. */
#define CLIENT_UDP_KEEP_NS (25 * TIMENS_S)

static TimeNs client_poll_period(const Node *n)
{
    return MIN(n->sh->p.poll_ns, CLIENT_UDP_KEEP_NS);
}

/* a25: poll about 1/poll_divisor of the alternate table. */
static void client_poll(Node *n)
{
    ClientState *cl = client__state(n);
    if (n->state != NODE_ST_ONLINE || cl->udp_blocked) return;
    if (cl->nalt == 0) { /* keep the main socket's flow alive through the supernode */
        if (n->uplink_addr.ip == 0) return;
        WireMsg m = {.type = WIRE_PING, .u.ping = {cl->alt_nonce, 0}};
        node__udp_send_msg(n, n->udp, n->uplink_addr, (uint16_t)node__random_u32(n), &m, PH_NONE);
        node__count(n, NODE_M(n)->poll_sent, 1);
        return;
    }
    size_t k = (cl->nalt + n->sh->p.poll_divisor - 1) / n->sh->p.poll_divisor;
    for (size_t j = 0; j < k && cl->nalt > 0; j++) {
        size_t i = cl->alt_poll++ % cl->nalt;
        AltEntry *x = &cl->alt[i];
        if (x->miss >= n->sh->p.poll_miss_max) {
            hostcache_entry_touch(&n->hc, x->a, env_now(&n->env), false);
            node__count(n, NODE_M(n)->poll_lost, 1);
            client_alt_remove(n, i);
            continue;
        }
        x->miss++;
        WireMsg m = {.type = WIRE_PING, .u.ping = {cl->alt_nonce, 0}};
        node__udp_send_msg(n, n->udp, x->a, (uint16_t)node__random_u32(n), &m, PH_NONE);
        node__count(n, NODE_M(n)->poll_sent, 1);
    }
}

/* ---- Failover ---- */

/* The supernode is gone (lost), or told us to move to one of `to` (k
 * entries: a SHED). Either way: TCP to the places given, the alternate
 * table, then the host cache (a13). A move is not a failure: the old
 * supernode is not blamed and the failover figures do not count it. */
static void client_sn_leave(Node *n, bool moved, uint8_t k, const WireEntry *to)
{
    ClientState *cl = client__state(n);
    if (n->state != NODE_ST_ONLINE) return;
    TimeNs now = env_now(&n->env);
    env_timer_cancel(&n->env, &cl->t_ka_to);
    if (n->uplink >= 0) node__conn_close(n, n->uplink, !moved);
    n->uplink = -1;
    if (!moved && hostcache_entry_touch(&n->hc, n->uplink_addr, now, false))
        node__count(n, NODE_M(n)->hc_evicted, 1);
    for (uint8_t i = 0; i < cl->nalt; i++)
        if (env_addr_eq(cl->alt[i].a, n->uplink_addr)) client_alt_remove(n, i);
    n->state = NODE_ST_FAILOVER;
    cl->login_phase = CL_LOGIN_FAILOVER;
    cl->failover_start = now;
    cl->moving = moved;
    if (!moved) node__count(n, NODE_M(n)->failover_count, 1);
    size_t max = MIN((size_t)n->sh->p.failover_targets, (size_t)CAND_MAX);
    cl->ncand = 0;
    for (uint8_t i = 0; i < k && cl->ncand < max; i++)
        if (to[i].ip && to[i].port) cl->cand[cl->ncand++] = env_addr(to[i].ip, to[i].port);
    for (uint8_t i = 0; i < cl->nalt && cl->ncand < max; i++)
        cl->cand[cl->ncand++] = cl->alt[i].a;
    EnvAddr skip[CAND_MAX + 1];
    memcpy(skip, cl->cand, cl->ncand * sizeof *skip);
    skip[cl->ncand] = n->uplink_addr;
    cl->ncand = (uint8_t)(cl->ncand + hostcache_best(&n->hc, cl->cand + cl->ncand, max - cl->ncand,
                                                     0, skip, cl->ncand + 1u));
    cl->ci = cl->pi = 0;
    n->uplink_addr = env_addr(0, 0);
    client_tcp_try(n);
}

static void client_sn_lost(Node *n)
{
    client_sn_leave(n, false, 0, NULL);
}

static void client_sn_moved(Node *n, uint8_t k, const WireEntry *to)
{
    client_sn_leave(n, true, k, to);
}

static void client_failover_done(Node *n)
{
    ClientState *cl = client__state(n);
    cl->login_phase = CL_LOGIN_ONLINE;
    n->state = NODE_ST_ONLINE;
    cl->ka_miss = 0;
    if (!cl->moving)
        env_metric_observe(&n->env, NODE_M(n)->failover_time,
                           timens_to_s(env_now(&n->env) - cl->failover_start));
    cl->moving = false;
    node__emit(n, NODE_EV_SN_ATTACHED, NULL);
}

/* ---- Promotion (a40) ---- */

/* Our supernode nominated us (WIRE_PROMOTE): the overlay needs capacity.
 * A 0.97 client cannot refuse (a40), but one that is no longer eligible
 * (its uptime, detection or role changed since its last keep-alive) is not
 * promoted, nor is one beyond the experiment's cap on promoted supernodes. */
static void client_promote(Node *n)
{
    const NodeParams *p = &n->sh->p;
    ClientState *cl = client__state(n);
    if (!client_eligible(n)) return;
    if (p->sn_max_promoted && *n->sh->promoted >= p->sn_max_promoted) {
        node__count(n, NODE_M(n)->sn_capped, 1);
        return;
    }
    /* Promoted: the node is its own supernode from now on. */
    env_timer_cancel(&n->env, &cl->t_ka);
    env_timer_cancel(&n->env, &cl->t_ka_to);
    if (n->uplink >= 0) node__conn_close(n, n->uplink, false);
    n->uplink = -1;
    n->public_addr = env_addr(n->local.ip, n->port);
    node__count(n, NODE_M(n)->sn_promotions, 1);
    node__emit(n, NODE_EV_PROMOTE, NULL);
}

/* ---- Events ---- */

static void client_on_timer(Node *n, EnvTimer t, uint32_t kind)
{
    ClientState *cl = client__state(n);
    (void)t;
    switch (kind) {
    case CLIENT_TM_ROUND:
        cl->t_round = ENV_TIMER_NONE;
        client_round_start(n);
        break;
    case CLIENT_TM_RETRY: /* the pause after a give-up is over (a12) */
        cl->t_round = ENV_TIMER_NONE;
        if (cl->login_phase == CL_LOGIN_FAILED) client_login_begin_as(n, true);
        break;
    case CLIENT_TM_PROBE:
        cl->t_probe = ENV_TIMER_NONE;
        client_probes_silent(n);
        client_tcp_phase(n);
        break;
    case CLIENT_TM_TCP:
        cl->t_tcp = ENV_TIMER_NONE;
        client_tcp_attempt_failed(n, false);
        break;
    case CLIENT_TM_AUTH:
        cl->t_auth = ENV_TIMER_NONE;
        client_auth_attempt_failed(n, "login server timeout");
        break;
    case CLIENT_TM_ALT:
        cl->t_alt = ENV_TIMER_NONE;
        client_alt_done(n);
        break;
    case CLIENT_TM_KEEPALIVE:
        client_keepalive(n);
        break;
    case CLIENT_TM_KA_TIMEOUT: /* one more keep-alive unanswered */
        cl->t_ka_to = ENV_TIMER_NONE;
        if (++cl->ka_miss >= n->sh->p.keepalive_misses) client_sn_lost(n);
        break;
    case CLIENT_TM_POLL:
        client_poll(n);
        break;
    case CLIENT_TM_STUN:
        cl->t_stun = ENV_TIMER_NONE;
        natdet__on_timer(n);
        break;
    case CLIENT_TM_NAT_REFRESH:
        if (n->state == NODE_ST_ONLINE && !n->sn && n->uplink >= 0)
            natdet__start(n, n->uplink_addr);
        break;
    case CLIENT_TM_SWEEP:
        client_sweep_tick(n);
        break;
    default:
        CHECK(false, "client timer kind %u", kind);
    }
}

static int client_probe_index(const ClientState *cl, EnvAddr from)
{
    for (int i = 0; i < cl->nprobe; i++)
        if (env_addr_eq(cl->probe[i], from)) return i;
    return -1;
}

static void client_on_probe_ack(Node *n, EnvAddr from, uint16_t fid, const WireMsg *m)
{
    ClientState *cl = client__state(n);
    int i = client_probe_index(cl, from);
    if (n->state != NODE_ST_LOGGING_IN || fid != cl->frame_id || i < 0) return;
    cl->udp_seen = true;
    if (m->u.probe_ack.verdict != WIRE_ACCEPT) {
        hostcache_entry_load(&n->hc, from, 100); /* alive, but no room: not a candidate */
        /* a22 U4 "reject or redirect": the entries are where to go; while
         * the round waits for answers, they are probed at once. */
        cl->probe_st[i] = PROBE_REJECTED;
        cl->redirected = true;
        client_hc_merge(n, m->u.probe_ack.n, m->u.probe_ack.e);
        for (uint8_t k = 0; k < m->u.probe_ack.n && env_timer_is_set(cl->t_probe); k++) {
            EnvAddr a = env_addr(m->u.probe_ack.e[k].ip, m->u.probe_ack.e[k].port);
            if (!a.ip || !a.port || client_probe_index(cl, a) >= 0) continue;
            int slot = cl->nprobe < PROBE_MAX ? cl->nprobe++ : -1; /* a free slot, else a */
            for (int j = 0; j < cl->nprobe && slot < 0; j++)      /* rejecting SN's */
                if (cl->probe_st[j] == PROBE_REJECTED) slot = j;
            if (slot < 0) break;
            cl->probe[slot] = a;
            cl->probe_st[slot] = PROBE_SENT;
            cl->contacted = (uint8_t)MIN(255, cl->contacted + 1);
            client_probe_send(n, a);
        }
        return;
    }
    cl->probe_st[i] = PROBE_ACCEPTED;
    hostcache_entry_touch(&n->hc, from, env_now(&n->env), true);
    hostcache_entry_load(&n->hc, from, (uint8_t)MIN(m->u.probe_ack.load, 100));
    if (cl->ncand == 0 && env_timer_is_set(cl->t_probe)) client_tcp_phase(n); /* a22: U4 = go */
}

/* PROBE_ACK and PONG (udp_types): a supernode (a promoted client too)
 * ignores them, as does any role but the client. */
static void client_on_udp(Node *n, EnvSock s, EnvAddr from, uint16_t frame_id, const WireMsg *m,
                          size_t len)
{
    (void)s;
    if (n->role != NODE_ROLE_CLIENT || n->sn) return;
    ClientState *cl = client__state(n);
    if (m->type == WIRE_PROBE_ACK) {
        node__account(n, PH_PROBE, len);
        client_on_probe_ack(n, from, frame_id, m);
    } else if (m->type == WIRE_PONG && m->u.ping.nonce == cl->alt_nonce) {
        if (cl->alt_phase) {
            node__account(n, PH_ALT, len);
            client_alt_add(n, from);
        } else {
            for (uint8_t i = 0; i < cl->nalt; i++)
                if (env_addr_eq(cl->alt[i].a, from)) cl->alt[i].miss = 0;
        }
        hostcache_entry_touch(&n->hc, from, env_now(&n->env), true);
    } else {
        node__count(n, NODE_M(n)->malformed_udp, 1); /* a PONG to no PING of ours */
    }
}

static void client_on_nack(Node *n, EnvAddr from, uint16_t frame_id, EnvAddr seen)
{
    if (n->role != NODE_ROLE_CLIENT) return;
    ClientState *cl = client__state(n);
    node__account(n, PH_PROBE, WIRE_NACK_LEN);
    n->public_addr = seen; /* a20: the NAck tells our public address */
    int i = client_probe_index(cl, from);
    if (n->state != NODE_ST_LOGGING_IN || frame_id != cl->frame_id || i < 0) return;
    cl->udp_seen = true;
    WireMsg m = {.type = WIRE_PROBE, .u.probe = {1, n->port, frame_id & 0xFF}}; /* a22 U3 */
    node__udp_send_msg(n, n->udp, from, frame_id, &m, PH_PROBE);
}

static void client_on_connected(Node *n, int idx, int status)
{
    ClientState *cl = client__state(n);
    if (idx == cl->auth) {
        if (status == ENV_OK) {
            client_auth_send(n);
            return;
        }
        client_auth_attempt_failed(n, "login server unreachable");
        return;
    }
    if (idx != n->uplink) return;
    if (status != ENV_OK) {
        client_tcp_attempt_failed(n, false);
        return;
    }
    node__conn_hello(n, idx, HELLO_CLIENT);
    WireMsg m = {.type = WIRE_CONNECT,
                 .u.connect = {n->udp.gen ? n->port : 0, n->nat, client_in_failover(cl), n->ulen,
                               (const uint8_t *)n->user}};
    node__send_msg(n, idx, &m);
}

static void client_on_connect_ack(Node *n, int idx, const WireMsg *m)
{
    ClientState *cl = client__state(n);
    TimeNs now = env_now(&n->env);
    client_hc_merge(n, m->u.connect_ack.n, m->u.connect_ack.e);
    if (m->u.connect_ack.verdict != WIRE_ACCEPT) {
        /* Full: its entries are where to go (a22), tried in this round
         * after the candidates left, as a probe's redirect is probed at
         * once; over TCP only this is how a UDP-blocked client follows a
         * redirect (else it asked the same full supernodes round after
         * round while the tier had room elsewhere). */
        if (cl->ci < cl->ncand) hostcache_entry_load(&n->hc, cl->cand[cl->ci], 100);
        cl->redirected = true;
        /* The named supernodes go next, before the candidates not yet
         * tried (the last of those drop out when the list is full). */
        EnvAddr rest[CAND_MAX];
        uint8_t nrest = 0, next = (uint8_t)MIN(cl->ci + 1, cl->ncand);
        for (uint8_t j = next; j < cl->ncand; j++)
            rest[nrest++] = cl->cand[j];
        cl->ncand = next;
        for (uint8_t k = 0; k < m->u.connect_ack.n && cl->ncand < CAND_MAX; k++) {
            EnvAddr a = env_addr(m->u.connect_ack.e[k].ip, m->u.connect_ack.e[k].port);
            bool known = !a.ip || !a.port;
            for (uint8_t j = 0; j < cl->ncand && !known; j++)
                known = env_addr_eq(cl->cand[j], a);
            if (!known) cl->cand[cl->ncand++] = a;
        }
        for (uint8_t j = 0; j < nrest && cl->ncand < CAND_MAX; j++) {
            bool known = false;
            for (uint8_t i = next; i < cl->ncand && !known; i++)
                known = env_addr_eq(cl->cand[i], rest[j]);
            if (!known) cl->cand[cl->ncand++] = rest[j];
        }
        client_tcp_attempt_failed(n, true);
        return;
    }
    env_timer_cancel(&n->env, &cl->t_tcp);
    n->uplink_addr = cl->cand[cl->ci];
    cl->ncand = 0;
    hostcache_add(&n->hc, n->uplink_addr, now, 0);
    hostcache_entry_touch(&n->hc, n->uplink_addr, now, true);
    if (n->public_addr.ip == 0) n->public_addr.ip = m->u.connect_ack.seen.ip;
    (void)idx;
    if (client_in_failover(cl)) {
        client_failover_done(n);
    } else {
        client_auth_start(n);
        if (n->state == NODE_ST_LOGGING_IN) natdet__start(n, n->uplink_addr);
    }
}

static void client_on_frame(Node *n, int idx, const WireMsg *m)
{
    ClientState *cl = client__state(n);
    if (idx == cl->auth) {
        if (m->type == WIRE_LOGIN_CERT)
            client_on_cert(n, m);
        else if (m->type == WIRE_LOGIN_FAIL)
            client_login_failed(n, "authentication refused", false);
        else
            node__count(n, NODE_M(n)->malformed_tcp, 1);
        return;
    }
    switch (m->type) {
    case WIRE_CONNECT_ACK:
        if (n->state == NODE_ST_ONLINE) break; /* duplicate */
        client_on_connect_ack(n, idx, m);
        break;
    case WIRE_KEEPALIVE_ACK:
        if (m->u.keepalive.seq == cl->ka_seq) {
            env_timer_cancel(&n->env, &cl->t_ka_to);
            cl->ka_miss = 0;
        }
        break;
    case WIRE_HC_ENTRIES:
        client_hc_merge(n, m->u.connect_ack.n, m->u.connect_ack.e);
        break;
    case WIRE_SHED: /* over capacity, or a bootstrap handing us to the tier: move */
        client_hc_merge(n, m->u.connect_ack.n, m->u.connect_ack.e);
        client_sn_moved(n, m->u.connect_ack.n, m->u.connect_ack.e);
        break;
    case WIRE_PROMOTE:
        client_promote(n);
        break;
    case WIRE_FORWARD:
        node__count(n, NODE_M(n)->signal_received, 1);
        node__emit(n, NODE_EV_SIGNAL,
                   &(NodeEventArg){.idx = -1, .buf = m->u.forward.data, .len = m->u.forward.len});
        break;
    default:
        node__count(n, NODE_M(n)->malformed_tcp, 1);
    }
}

/* The connection in slot idx is gone (already released by node.c). */
static void client_on_closed(Node *n, int idx, int status)
{
    ClientState *cl = client__state(n);
    (void)status;
    if (idx == cl->auth) {
        cl->auth = -1;
        client_login_failed(n, "login server closed the connection", true);
    } else if (idx == n->uplink) {
        n->uplink = -1;
        if (n->state == NODE_ST_ONLINE)
            client_sn_lost(n);
        else if (cl->ncand > 0)
            client_tcp_attempt_failed(n, false);
    }
}

/* A STUN response (stun_client): the NAT detection's answer. */
static void client_on_stun(Node *n, EnvSock s, EnvAddr from, const StunMsg *m, size_t len)
{
    (void)s;
    if (n->role != NODE_ROLE_CLIENT) return;
    node__account(n, PH_NAT, len);
    natdet__on_response(n, from, m);
}

static void client_on_event(Node *n, NodeEvent ev, const NodeEventArg *arg)
{
    (void)arg;
    if (ev == NODE_EV_INSTALL_CHANGED)
        client__install_save(n); /* websrv: "installed" acknowledged */
}

static void client_feature_start(Node *n)
{
    if (n->role == NODE_ROLE_CLIENT) client_start(n); /* draws or loads its port, then binds */
}

static void client_feature_stop(Node *n, bool graceful)
{
    if (n->role == NODE_ROLE_CLIENT) client_stop(n, graceful);
}

static const uint8_t client_udp_types[] = {WIRE_PROBE_ACK, WIRE_PONG};
static const NodeConnKind client_kinds[] = {
    {.kind = CONN_CL_SN, .flags = NODE_CK_NO_SN_RX},
    {.kind = CONN_CL_AUTH, .flags = NODE_CK_NO_SN_RX},
};

const NodeFeature client_feature = {
    .name = "client",
    .id = NODE_FEAT_CLIENT,
    .udp_types = client_udp_types,
    .n_udp_types = G_N_ELEMENTS(client_udp_types),
    .conn_kinds = client_kinds,
    .n_conn_kinds = G_N_ELEMENTS(client_kinds),
    .stun_client = true,
    .nack_client = true,
    .start = client_feature_start,
    .stop = client_feature_stop,
    .on_timer = client_on_timer,
    .on_stun = client_on_stun,
    .on_nack = client_on_nack,
    .on_udp = client_on_udp,
    .on_connected = client_on_connected,
    .on_frame = client_on_frame,
    .on_closed = client_on_closed,
    .on_event = client_on_event,
};

/* ---- Queries (node.h) ---- */

size_t node_alt_count(const Node *n)
{
    const ClientState *cl = node__feat(n, NODE_FEAT_CLIENT);
    return cl ? cl->nalt : 0;
}

EnvAddr node_alt_get(const Node *n, size_t i)
{
    const ClientState *cl = node__feat(n, NODE_FEAT_CLIENT);
    CHECK(cl && i < cl->nalt, "alt index %zu of %zu", i, node_alt_count(n));
    return cl->alt[i].a;
}

const uint8_t *node_cert(const Node *n, size_t *len)
{
    const ClientState *cl = node__feat(n, NODE_FEAT_CLIENT);
    *len = cl ? cl->cert_len : 0;
    return cl ? cl->cert : NULL;
}

bool node_signal_send(Node *n, EnvAddr dst, const uint8_t *buf, size_t len)
{
    CHECK(len <= WIRE_BLOB_MAX, "signalling payload of %zu bytes", len);
    if (n->state != NODE_ST_ONLINE || n->uplink < 0) return false;
    WireMsg m = {.type = WIRE_FORWARD, .u.forward = {{dst.ip, dst.port}, WIRE_FORWARD_TTL, (uint16_t)len, buf}};
    return node__send_msg(n, n->uplink, &m) == ENV_OK;
}
