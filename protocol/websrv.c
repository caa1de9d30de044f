/* websrv: both ends of the start-up HTTP exchange (docs/protocol-notes.md a46):
 * "GET /ui/0/97/en/installed" on the first run only, then
 * "getlatestversion?ver=..." on every start, to the web server role.
 *
 * Layer: protocol/, a feature over the node plumbing (websrv.h). Plain
 * HTTP/1.1 over TCP port 80, not encrypted, one connection per start
 * carrying both requests in turn. The client side keeps its install flag
 * in n->installed (NODE_EV_INSTALL_CHANGED asks the client feature to
 * persist it) and the step on the connection (NodeConn.aux); its timeout
 * timer lives in its own per-node state (WebsrvState), allocated only
 * while the client's exchange runs. Bytes count in the "http"
 * login phase. Input is bounded: a request or response header longer than
 * the reassembly buffer is malformed and the connection is aborted.
 */
#include "protocol/websrv.h"

#include <stdlib.h>
#include <string.h>

#define HTTP_TIMEOUT_NS (30 * TIMENS_S)
#define HTTP_VERSION "0.97.0.6"

enum { HTTP_STEP_INSTALLED = 1, HTTP_STEP_VERSION = 2 };

/* Timer kinds (low byte of the tags). */
enum { WEBSRV_TM_TIMEOUT = 1 /* the client's exchange took too long */ };

/* A client's state while its exchange runs (slot NODE_FEAT_WEBSRV; NULL
 * otherwise, so an idle client pays nothing for it). */
typedef struct WebsrvState {
    EnvTimer t_http; /* the exchange's timeout */
} WebsrvState;

/* Cancels the timeout and frees the state (exchange over, or stop). */
static void websrv_state_free(Node *n)
{
    WebsrvState *ws = node__feat(n, NODE_FEAT_WEBSRV);
    if (!ws) return;
    env_timer_cancel(&n->env, &ws->t_http);
    env_mem_free(&n->env, ws, sizeof *ws);
    node__feat_set(n, NODE_FEAT_WEBSRV, NULL);
}

static void websrv_client_start(Node *n)
{
    EnvAddr at = n->sh->p.web_server;
    if (at.ip == 0) return;
    int idx = node__connect(n, at, CONN_CL_HTTP, PH_HTTP);
    if (idx < 0) return;
    n->conns[idx].aux = n->installed ? HTTP_STEP_VERSION : HTTP_STEP_INSTALLED;
    websrv_state_free(n); /* a node starts one exchange; never two at once */
    WebsrvState *ws = env_mem_alloc(&n->env, sizeof *ws);
    ws->t_http = node__timer_start(n, NODE_FEAT_WEBSRV, HTTP_TIMEOUT_NS, WEBSRV_TM_TIMEOUT);
    node__feat_set(n, NODE_FEAT_WEBSRV, ws);
}

static void websrv_request(Node *n, int idx)
{
    char req[256];
    int len;
    if (n->conns[idx].aux == HTTP_STEP_INSTALLED)
        len = g_snprintf(req, sizeof req,
                         "GET /ui/0/97/en/installed HTTP/1.1\r\nHost: ui.skype.com\r\n"
                         "User-Agent: Skype/" HTTP_VERSION "\r\n\r\n");
    else
        len = g_snprintf(req, sizeof req,
                         "GET /ui/0/97/en/getlatestversion?ver=" HTTP_VERSION
                         " HTTP/1.1\r\nHost: ui.skype.com\r\nUser-Agent: Skype/" HTTP_VERSION
                         "\r\n\r\n");
    node__send_raw(n, idx, (const uint8_t *)req, (size_t)len);
}

static void websrv_client_done(Node *n, int idx)
{
    websrv_state_free(n);
    if (idx >= 0) node__conn_close(n, idx, false);
}

static void websrv_on_connected(Node *n, int idx, int status)
{
    if (status != ENV_OK)
        websrv_client_done(n, idx);
    else
        websrv_request(n, idx);
}

static void websrv_on_timer(Node *n, EnvTimer t, uint32_t kind)
{
    (void)t;
    if (kind != WEBSRV_TM_TIMEOUT) return;
    WebsrvState *ws = node__feat(n, NODE_FEAT_WEBSRV);
    if (ws) ws->t_http = ENV_TIMER_NONE; /* fired: nothing to cancel */
    websrv_state_free(n);
    for (int i = 0; i < n->nconns; i++)
        if (n->conns[i].kind == CONN_CL_HTTP) node__conn_close(n, i, true);
}

static void websrv_on_closed(Node *n, int idx, int status)
{
    (void)idx;
    (void)status;
    websrv_state_free(n);
}

static void websrv_stop(Node *n, bool graceful)
{
    (void)graceful;
    websrv_state_free(n);
}

/* Length of a complete message at the front of buf (header + body of
 * Content-Length), 0 when incomplete, -1 when malformed. */
static long websrv_message_len(const char *buf, size_t len)
{
    const char *end = g_strstr_len(buf, (gssize)len, "\r\n\r\n");
    if (!end) return len >= NODE_RX_CAP - 1 ? -1 : 0;
    size_t hdr = (size_t)(end - buf) + 4, body = 0;
    const char *cl = g_strstr_len(buf, (gssize)hdr, "Content-Length: ");
    if (cl) {
        char *e;
        unsigned long v = strtoul(cl + 16, &e, 10);
        if (e == cl + 16 || v > 1024) return -1;
        body = v;
    }
    return hdr + body <= len ? (long)(hdr + body) : 0;
}

static void websrv_server_answer(Node *n, int idx, const char *msg)
{
    const char *body = "", *status = "404 Not Found";
    if (g_str_has_prefix(msg, "GET /ui/0/97/en/installed ")) {
        body = "OK";
        status = "200 OK";
        node__count(n, NODE_M(n)->http_installed, 1);
    } else if (g_str_has_prefix(msg, "GET /ui/0/97/en/getlatestversion?")) {
        body = HTTP_VERSION;
        status = "200 OK";
        node__count(n, NODE_M(n)->http_version, 1);
    }
    char resp[256];
    int len = g_snprintf(resp, sizeof resp,
                         "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                         status, strlen(body), body);
    node__send_raw(n, idx, (const uint8_t *)resp, (size_t)len);
}

static void websrv_client_answer(Node *n, int idx, const char *msg)
{
    NodeConn *c = &n->conns[idx];
    bool ok = g_str_has_prefix(msg, "HTTP/1.1 200 ");
    if (c->aux == HTTP_STEP_INSTALLED && ok) {
        n->installed = true;
        node__emit(n, NODE_EV_INSTALL_CHANGED, NULL);
    }
    if (c->aux == HTTP_STEP_INSTALLED) {
        c->aux = HTTP_STEP_VERSION;
        websrv_request(n, idx);
    } else {
        websrv_client_done(n, idx);
    }
}

static void websrv_on_raw(Node *n, int idx, const uint8_t *buf, size_t len)
{
    NodeConn *c = &n->conns[idx];
    EnvConn h = c->h;
    if (!c->rx) c->rx = env_mem_alloc(&n->env, NODE_RX_CAP);
    if (len > NODE_RX_CAP - 1u - c->rx_len) len = NODE_RX_CAP - 1u - c->rx_len; /* then malformed */
    memcpy(c->rx + c->rx_len, buf, len);
    c->rx_len = (uint16_t)(c->rx_len + len);
    for (;;) {
        c = &n->conns[idx];
        c->rx[c->rx_len] = 0;
        long mlen = websrv_message_len((const char *)c->rx, c->rx_len);
        if (mlen < 0) {
            node__count(n, NODE_M(n)->malformed_tcp, 1);
            bool client = c->kind == CONN_CL_HTTP;
            node__conn_close(n, idx, true);
            if (client) websrv_client_done(n, -1);
            return;
        }
        if (mlen == 0) return;
        char msg[NODE_RX_CAP];
        memcpy(msg, c->rx, (size_t)mlen);
        msg[mlen] = 0;
        memmove(c->rx, c->rx + mlen, c->rx_len - (size_t)mlen);
        c->rx_len = (uint16_t)(c->rx_len - mlen);
        node__account(n, (NodePhase)c->phase, (size_t)mlen);
        if (c->kind == CONN_WEB_IN)
            websrv_server_answer(n, idx, msg);
        else
            websrv_client_answer(n, idx, msg);
        if (idx >= n->nconns || n->conns[idx].kind == CONN_FREE || !env_conn_eq(n->conns[idx].h, h))
            return;
    }
}

static bool websrv_on_accept(Node *n, EnvAddr peer, NodeAccept *out)
{
    (void)peer;
    if (n->role != NODE_ROLE_WEB_SERVER) return false;
    *out = (NodeAccept){.kind = CONN_WEB_IN};
    return true;
}

static void websrv_on_event(Node *n, NodeEvent ev, const NodeEventArg *arg)
{
    (void)arg;
    if (ev == NODE_EV_CLIENT_STARTED) websrv_client_start(n);
}

static const NodeConnKind websrv_kinds[] = {
    {.kind = CONN_CL_HTTP, .flags = NODE_CK_RAW},
    {.kind = CONN_WEB_IN, .flags = NODE_CK_RAW},
};

const NodeFeature websrv_feature = {
    .name = "websrv",
    .id = NODE_FEAT_WEBSRV,
    .conn_kinds = websrv_kinds,
    .n_conn_kinds = G_N_ELEMENTS(websrv_kinds),
    .stop = websrv_stop,
    .on_timer = websrv_on_timer,
    .on_accept = websrv_on_accept,
    .on_connected = websrv_on_connected,
    .on_raw = websrv_on_raw,
    .on_closed = websrv_on_closed,
    .on_event = websrv_on_event,
};
