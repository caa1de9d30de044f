/* Suite "loginsrv": the server roles driven by a scripted peer (a host with
 * no node, acting by hand through env): the login server's answers to bad
 * and unknown requests, every TCP message type truncated at a supernode,
 * the web server's HTTP; and the unknown-user path end to end. */
#include "fakeenv.h"
#include "tpeer.h"
#include "protocol/loginsrv.h"
#include "protocol/node.h"
#include "protocol/websrv.h"
#include "protocol/wire.h"
#include "t_assert.h"

typedef TPeer Peer;

/* A scripted peer on a new host, connected to `to`, with our hello when
 * hello is set. */
static void peer_open(Peer *p, FakeWorld *w, EnvAddr to, bool hello)
{
    tpeer_new(p, w, ENV_IP(99, 9, 9, (uint8_t)(w->n + fakenet_record_count(w->net) % 200)));
    T_EQ_I64(tpeer_connect(p, w, to, 0x11223344, hello ? 1 : 0), ENV_OK);
}

static void peer_send_body(Peer *p, const uint8_t *body, size_t len)
{
    (void)tpeer_send_body(p, body, len);
}

/* Decodes what the server sent (tpeer_read). */
static size_t peer_read(Peer *p, WireMsg *out, size_t max, uint8_t *store, size_t cap, int *closed)
{
    return tpeer_read(p, out, max, store, cap, closed, NULL);
}

static void peer_close(Peer *p)
{
    tpeer_free(p);
}

static void test_loginsrv_garbage_request_refused(void)
{
    FakeWorld *w = fakeworld_new(401, NULL, true);
    Peer p;
    peer_open(&p, w, w->p.login_server, true);
    uint8_t junk[128];
    memset(junk, 0x5A, sizeof junk);
    WireMsg m = {.type = WIRE_LOGIN_REQ, .u.login = {128, junk, 20, junk}};
    uint8_t body[WIRE_FRAME_MAX];
    peer_send_body(&p, body, wire_encode(&m, body, sizeof body));
    fakenet_run_for(w->net, TIMENS_S);
    WireMsg got[4];
    uint8_t store[4096];
    int closed;
    T_EQ_U64(peer_read(&p, got, 4, store, sizeof store, &closed), 1);
    T_EQ_U64(got[0].type, WIRE_LOGIN_FAIL);
    T_EQ_U64(got[0].u.login_fail.reason, WIRE_FAIL_MALFORMED);
    T_EQ_I64(closed, ENV_ERR_CLOSED); /* a14: then the server closes */
    T_EQ_I64(fakeenv_metric(w->h[w->login], "wire.malformed.tcp"), 1);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The login server feature alone over the plumbing (no client, supernode
 * or presence feature registered) refuses a request it cannot open. */
static void test_loginsrv_alone_refuses_garbage(void)
{
    static const NodeFeature *const only[] = {&loginsrv_feature};
    FakeWorld *w = fakeworld_new_with(404, NULL, only, G_N_ELEMENTS(only));
    NodeConfig ls = {.role = NODE_ROLE_LOGIN_SERVER, .port = w->p.login_server.port};
    w->login = fakeworld_add(w, w->p.login_server.ip, &ls, NAT_OPEN, 0);
    fakeworld_start(w, w->login);
    Peer p;
    peer_open(&p, w, w->p.login_server, true);
    uint8_t junk[128];
    memset(junk, 0x5A, sizeof junk);
    WireMsg m = {.type = WIRE_LOGIN_REQ, .u.login = {128, junk, 20, junk}};
    uint8_t body[WIRE_FRAME_MAX];
    peer_send_body(&p, body, wire_encode(&m, body, sizeof body));
    fakenet_run_for(w->net, TIMENS_S);
    WireMsg got[4];
    uint8_t store[4096];
    int closed;
    T_EQ_U64(peer_read(&p, got, 4, store, sizeof store, &closed), 1);
    T_EQ_U64(got[0].type, WIRE_LOGIN_FAIL);
    T_EQ_U64(got[0].u.login_fail.reason, WIRE_FAIL_MALFORMED);
    T_EQ_I64(closed, ENV_ERR_CLOSED);
    T_EQ_I64(fakeenv_metric(w->h[w->login], "loginserver.refused"), 1);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_loginsrv_wrong_message_type_refused(void)
{
    FakeWorld *w = fakeworld_new(402, NULL, true);
    Peer p;
    peer_open(&p, w, w->p.login_server, true);
    WireMsg m = {.type = WIRE_KEEPALIVE, .u.keepalive = {.seq = 1}};
    uint8_t body[16];
    peer_send_body(&p, body, wire_encode(&m, body, sizeof body));
    fakenet_run_for(w->net, TIMENS_S);
    WireMsg got[4];
    uint8_t store[4096];
    int closed;
    T_EQ_U64(peer_read(&p, got, 4, store, sizeof store, &closed), 1);
    T_EQ_U64(got[0].type, WIRE_LOGIN_FAIL);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_loginsrv_unknown_user_refused(void)
{
    FakeWorld *w = fakeworld_new(403, NULL, true);
    unsigned c = fakeworld_client(w, ENV_IP(81, 0, 0, 1), NAT_OPEN);
    g_strlcpy(w->user[c], "ghost", sizeof w->user[c]); /* registered under another name */
    fakeworld_start(w, c);
    fakenet_run_for(w->net, 30 * TIMENS_S);
    T_EQ_I64(node_state(w->node[c]), NODE_ST_FAILED);
    T_EQ_I64(fakenet_metric(w->net, "loginserver.refused"), 1);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_supernode_tcp_truncated_every_type(void)
{
    /* For every TCP message type: a frame holding a truncated body. The SN
     * counts it as malformed and aborts the connection. */
    FakeWorld *w = fakeworld_new(404, NULL, true);
    int64_t before = fakeenv_metric(w->h[w->boot0], "wire.malformed.tcp");
    unsigned sent = 0;
    for (uint8_t type = WIRE_CONNECT; type < WIRE_TYPE_END; type++) {
        if (type == WIRE_PROMOTE) continue; /* no fields: nothing to truncate */
        Peer p;
        peer_open(&p, w, w->p.bootstrap[0], true);
        uint8_t body[] = {WIRE_VERSION, type}; /* every type has fields: all truncated */
        peer_send_body(&p, body, sizeof body);
        fakenet_run_for(w->net, TIMENS_S);
        WireMsg got[4];
        uint8_t store[4096];
        int closed;
        peer_read(&p, got, 4, store, sizeof store, &closed);
        T_EQ_I64(closed, ENV_ERR_RESET);
        peer_close(&p);
        sent++;
    }
    Peer p; /* a frame length beyond the maximum */
    peer_open(&p, w, w->p.bootstrap[0], true);
    uint8_t big[2] = {0xFF, 0xFF};
    env_tcp_send(&p.e, p.conn, big, 2);
    fakenet_run_for(w->net, TIMENS_S);
    peer_close(&p);
    peer_open(&p, w, w->p.bootstrap[0], false); /* a bad hello */
    uint8_t bad[WIRE_HELLO_LEN] = {0};
    env_tcp_send(&p.e, p.conn, bad, sizeof bad);
    fakenet_run_for(w->net, TIMENS_S);
    peer_close(&p);
    T_EQ_I64(fakeenv_metric(w->h[w->boot0], "wire.malformed.tcp") - before, sent + 2);
    T_EQ_I64(node_state(w->node[w->boot0]), NODE_ST_SERVING);
    T_EQ_U64(fakeworld_free(w), 0);
}

static void test_websrv_http(void)
{
    FakeWorld *w = fakeworld_new(405, NULL, true);
    const char *reqs[] = {"GET /ui/0/97/en/installed HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /ui/0/97/en/getlatestversion?ver=1 HTTP/1.1\r\n\r\n",
                          "GET /nothing HTTP/1.1\r\n\r\n"};
    const char *want[] = {"HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"};
    for (int i = 0; i < 3; i++) {
        Peer p;
        peer_open(&p, w, w->p.web_server, false);
        env_tcp_send(&p.e, p.conn, (const uint8_t *)reqs[i], strlen(reqs[i]));
        fakenet_run_for(w->net, TIMENS_S);
        const FakeInbox *x = NULL;
        for (size_t k = 0; k < fakeenv_inbox_count(p.h); k++)
            if (fakeenv_inbox_get(p.h, k)->kind == 4) x = fakeenv_inbox_get(p.h, k);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        char text[256] = {0};
        memcpy(text, x->data, MIN(x->len, sizeof text - 1));
        T_STR_CONTAINS(text, want[i]);
        peer_close(&p);
    }
    T_EQ_I64(fakenet_metric(w->net, "http.installed"), 1);
    T_EQ_I64(fakenet_metric(w->net, "http.getlatestversion"), 1);
    /* A header that never ends is malformed: dropped, counted, aborted. */
    Peer p;
    peer_open(&p, w, w->p.web_server, false);
    uint8_t flood[2000];
    memset(flood, 'A', sizeof flood);
    env_tcp_send(&p.e, p.conn, flood, sizeof flood);
    fakenet_run_for(w->net, TIMENS_S);
    T_EQ_I64(fakeenv_metric(w->h[w->web], "wire.malformed.tcp"), 1);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

/* The web server feature alone over the plumbing answers "installed". */
static void test_websrv_alone_answers_installed(void)
{
    static const NodeFeature *const only[] = {&websrv_feature};
    FakeWorld *w = fakeworld_new_with(406, NULL, only, G_N_ELEMENTS(only));
    NodeConfig ws = {.role = NODE_ROLE_WEB_SERVER, .port = w->p.web_server.port};
    w->web = fakeworld_add(w, w->p.web_server.ip, &ws, NAT_OPEN, 0);
    fakeworld_start(w, w->web);
    Peer p;
    peer_open(&p, w, w->p.web_server, false);
    const char *req = "GET /ui/0/97/en/installed HTTP/1.1\r\n\r\n";
    env_tcp_send(&p.e, p.conn, (const uint8_t *)req, strlen(req));
    fakenet_run_for(w->net, TIMENS_S);
    const FakeInbox *x = NULL;
    for (size_t k = 0; k < fakeenv_inbox_count(p.h); k++)
        if (fakeenv_inbox_get(p.h, k)->kind == 4) x = fakeenv_inbox_get(p.h, k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    char text[256] = {0};
    memcpy(text, x->data, MIN(x->len, sizeof text - 1));
    T_STR_CONTAINS(text, "HTTP/1.1 200 OK");
    T_EQ_I64(fakeenv_metric(w->h[w->web], "http.installed"), 1);
    peer_close(&p);
    T_EQ_U64(fakeworld_free(w), 0);
}

T_SUITE_MAIN("loginsrv",
             {"test_loginsrv_garbage_request_refused", test_loginsrv_garbage_request_refused},
             {"test_loginsrv_wrong_message_type_refused", test_loginsrv_wrong_message_type_refused},
             {"test_loginsrv_alone_refuses_garbage", test_loginsrv_alone_refuses_garbage},
             {"test_loginsrv_unknown_user_refused", test_loginsrv_unknown_user_refused},
             {"test_supernode_tcp_truncated_every_type", test_supernode_tcp_truncated_every_type},
             {"test_websrv_http", test_websrv_http},
             {"test_websrv_alone_answers_installed", test_websrv_alone_answers_installed})
