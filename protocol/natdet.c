/* natdet: the client side of NAT and firewall type detection.
 *
 * Layer: protocol/, the client feature's second file (client_int.h). A STUN exchange
 * in RFC 5389 format against the client's supernode, which acts as the
 * server (supernode.c), running the tests of RFC 3489 §10.1:
 *   test I   Binding request, no change             (answers: mapped address,
 *                                                    OTHER-ADDRESS)
 *   test II  CHANGE-REQUEST change IP and port
 *   test I'  test I to the OTHER-ADDRESS            (symmetric NAT check)
 *   test III CHANGE-REQUEST change port
 *   state    test I to the CHANGE-ORIGIN            (unsolicited state check)
 * stun_next_test() picks the next test and stun_classify() decides.
 * Test II's answer comes from the other supernode's second port (the
 * CHANGE-ORIGIN), not from the OTHER-ADDRESS that test I' asks: a plain
 * Linux MASQUERADE router keeps state for an unsolicited packet and moves
 * the next flow to its sender to another port, so asking the endpoint
 * that answered test II would read "symmetric" (tests/netns, probe
 * natdet). The last test asks the CHANGE-ORIGIN on purpose: a port other
 * than test I's means the NAT keeps such state (probe natdet_state), which
 * decides who punches first in a call (call.c, stun_keeps_unsolicited).
 * Each test sends up to stun_tries requests with a doubling timeout from
 * stun_rto (RFC 5389 §7.2.1, shortened); silence means "no answer".
 * The detected type is compared with the true one, which the environment
 * gave the node as configuration, in the metric
 * "nat.detect.true=X.detected=Y" once per session; the detection is
 * repeated every nat_refresh (default one hour, a25), and the result
 * persisted in the install record.
 *
 * The tests run from a fresh ephemeral UDP socket, not the client's main
 * one: the main socket has already sent probes to many supernodes during
 * login, so the NAT holds filtering permissions for them, and the answer
 * to test II (sent by a peer supernode, see supernode.c) would pass an
 * address-restricted NAT and look like a full cone. A socket that has
 * contacted nobody sees the NAT's filtering as RFC 3489 assumes.
 */
#include "protocol/client_int.h"

#include <string.h>

void natdet__stop(Node *n)
{
    ClientState *cl = client__state(n);
    env_udp_close(&n->env, &cl->nat.sock);
    env_timer_cancel(&n->env, &cl->t_stun);
    env_timer_cancel(&n->env, &cl->t_nat);
    cl->nat.test = STUN_TEST_NONE;
}

static void natdet_send(Node *n)
{
    ClientState *cl = client__state(n);
    NatDet *d = &cl->nat;
    StunMsg m = {.type = STUN_BINDING_REQUEST, .has_fingerprint = true};
    memcpy(m.txid, d->txid, sizeof m.txid);
    if (d->test == STUN_TEST_II) {
        m.has_change = true;
        m.change_flags = STUN_CHANGE_IP | STUN_CHANGE_PORT;
    }
    if (d->test == STUN_TEST_III) {
        m.has_change = true;
        m.change_flags = STUN_CHANGE_PORT;
    }
    EnvAddr to = d->test == STUN_TEST_I_OTHER ? d->other
                 : d->test == STUN_TEST_STATE ? d->change_origin
                                              : d->server;
    uint8_t buf[STUN_MSG_MAX];
    size_t len = stun_encode(&m, buf, sizeof buf);
    if (!d->reported) node__account(n, PH_NAT, len);
    (void)env_udp_send(&n->env, d->sock, to, buf, len);
    d->tries++;
    TimeNs rto = n->sh->p.stun_rto_ns << (d->tries - 1);
    cl->t_stun = node__timer_start(n, NODE_FEAT_CLIENT, rto, CLIENT_TM_STUN);
}

static void natdet_finish(Node *n)
{
    ClientState *cl = client__state(n);
    NatDet *d = &cl->nat;
    d->test = STUN_TEST_NONE;
    env_udp_close(&n->env, &d->sock);
    uint8_t was = n->nat;
    n->nat = (uint8_t)stun_classify(&d->r);
    n->nat_keeps_state = stun_keeps_unsolicited(&d->r);
    NodeEventArg ev = {.idx = -1, .was = was};
    node__emit(n, NODE_EV_NAT_DETECTED, &ev); /* calls: tell the SN when open (a31) */
    if (!d->reported) {
        const NodeMetrics *m = NODE_M(n);
        bool ok =
            n->nat == n->true_nat || (n->true_nat == NAT_TCP_ONLY && n->nat == NAT_UDP_BLOCKED);
        node__count(n, m->nat_confusion[n->true_nat][n->nat], 1);
        node__count(n, m->nat_total, 1);
        if (ok) node__count(n, m->nat_correct, 1);
        if (n->nat_keeps_state) node__count(n, m->nat_keeps_state, 1);
        d->reported = true;
    }
    client__install_save(n);
    env_timer_cancel(&n->env, &cl->t_nat);
    cl->t_nat =
        node__timer_start(n, NODE_FEAT_CLIENT, n->sh->p.nat_refresh_ns, CLIENT_TM_NAT_REFRESH);
}

/* Marks the current test done and starts the next one, or decides. */
static void natdet_advance(Node *n)
{
    ClientState *cl = client__state(n);
    NatDet *d = &cl->nat;
    env_timer_cancel(&n->env, &cl->t_stun);
    d->done_mask |= (uint8_t)(1u << d->test);
    int next = stun_next_test(&d->r, d->done_mask);
    if (next == STUN_TEST_I_OTHER && d->other.ip == 0)
        next = STUN_TEST_NONE; /* no OTHER-ADDRESS: cannot test I' */
    if (next == STUN_TEST_STATE && d->change_origin.ip == 0)
        next = STUN_TEST_NONE; /* no CHANGE-ORIGIN: cannot test the state */
    if (next == 0) {
        natdet_finish(n);
        return;
    }
    d->test = (uint8_t)next;
    d->tries = 0;
    env_random_bytes(&n->env, d->txid, sizeof d->txid);
    natdet_send(n);
}

void natdet__start(Node *n, EnvAddr server)
{
    NatDet *d = &client__state(n)->nat;
    if (d->test != STUN_TEST_NONE || server.ip == 0) return;
    if (env_udp_bind(&n->env, 0, &d->sock) != ENV_OK) return;
    memset(&d->r, 0, sizeof d->r);
    d->r.local = env_sock_local(&n->env, d->sock);
    d->server = server;
    d->other = d->change_origin = env_addr(0, 0);
    d->done_mask = 0;
    d->test = STUN_TEST_NONE;
    natdet_advance(n); /* done_mask bit 0 is meaningless: starts with test I */
}

void natdet__on_timer(Node *n)
{
    NatDet *d = &client__state(n)->nat;
    if (d->test == STUN_TEST_NONE) return;
    if (d->tries < n->sh->p.stun_tries)
        natdet_send(n);
    else
        natdet_advance(n); /* no answer to this test */
}

void natdet__on_response(Node *n, EnvAddr from, const StunMsg *m)
{
    NatDet *d = &client__state(n)->nat;
    (void)from; /* test II's answer comes from another supernode, by design */
    if (d->test == STUN_TEST_NONE || memcmp(m->txid, d->txid, sizeof d->txid) != 0) return;
    if (m->type != STUN_BINDING_SUCCESS || !(m->has_xor_mapped || m->has_mapped)) {
        natdet_advance(n); /* an error answer counts as no answer */
        return;
    }
    EnvAddr mapped = m->has_xor_mapped ? m->xor_mapped : m->mapped;
    switch (d->test) {
    case STUN_TEST_I:
        d->r.t1_ok = true;
        d->r.t1_mapped = mapped;
        if (m->has_other) d->other = m->other;
        if (m->has_change_origin) d->change_origin = m->change_origin;
        break;
    case STUN_TEST_II:
        d->r.t2_ok = true;
        break;
    case STUN_TEST_III:
        d->r.t3_ok = true;
        break;
    case STUN_TEST_I_OTHER:
        d->r.t1b_ok = true;
        d->r.t1b_mapped = mapped;
        break;
    case STUN_TEST_STATE:
        d->r.t4_ok = true;
        d->r.t4_mapped = mapped;
        break;
    }
    natdet_advance(n);
}
