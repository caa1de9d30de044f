/* tpeer: see tpeer.h. */
#include "tpeer.h"

#include <string.h>

void tpeer_new(TPeer *p, FakeWorld *w, uint32_t ip)
{
    memset(p, 0, sizeof *p);
    p->ip = ip;
    p->h = fakenet_host_add(w->net, ip);
    fakeenv_capture(p->h, true);
    p->e = fakeenv_env(p->h);
    p->c = crypto_new(NULL);
}

int tpeer_connect(TPeer *p, FakeWorld *w, EnvAddr to, uint32_t seed, uint8_t role)
{
    int st = env_tcp_connect(&p->e, to, &p->conn);
    if (st != ENV_OK) return st;
    fakenet_run_for(w->net, 100 * TIMENS_MS);
    if (!role) return ENV_OK;
    uint8_t b[WIRE_HELLO_LEN];
    wire_hello_encode(seed, role, &p->e, b, sizeof b);
    wire_stream_key(p->c, &p->e, seed, p->tx);
    return env_tcp_send(&p->e, p->conn, b, sizeof b);
}

int tpeer_send_body(TPeer *p, const uint8_t *body, size_t len)
{
    uint8_t f[WIRE_FRAME_MAX + 2];
    size_t fl = wire_frame_seal(p->c, &p->e, p->tx, p->txc++, body, len, f, sizeof f);
    return env_tcp_send(&p->e, p->conn, f, fl);
}

int tpeer_send(TPeer *p, const WireMsg *m)
{
    uint8_t body[WIRE_FRAME_MAX];
    return tpeer_send_body(p, body, wire_encode(m, body, sizeof body));
}

size_t tpeer_read(TPeer *p, WireMsg *out, size_t max, uint8_t *store, size_t cap, int *closed,
                  uint8_t *role)
{
    size_t have = 0, k = 0;
    *closed = 0;
    for (size_t i = 0; i < fakeenv_inbox_count(p->h); i++) {
        const FakeInbox *x = fakeenv_inbox_get(p->h, i);
        if (x->slot != p->conn.slot || x->gen != p->conn.gen) continue;
        if (x->kind == 4 && have + x->len <= cap) {
            memcpy(store + have, x->data, x->len);
            have += x->len;
        }
        if (x->kind == 5) *closed = x->status;
    }
    uint32_t seed;
    uint8_t r, key[32];
    if (have < WIRE_HELLO_LEN || !wire_hello_decode(store, WIRE_HELLO_LEN, &seed, &r)) return 0;
    if (role) *role = r;
    wire_stream_key(p->c, &p->e, seed, key);
    size_t off = WIRE_HELLO_LEN;
    for (uint32_t ctr = 0; off + 2 <= have && k < max; ctr++) {
        size_t fl = wire_get_u16(store + off);
        if (off + 2 + fl > have) break;
        wire_frame_open(p->c, &p->e, key, ctr, store + off + 2, fl);
        if (wire_decode(store + off + 2, fl, &out[k])) k++;
        off += 2 + fl;
    }
    return k;
}

void tpeer_free(TPeer *p)
{
    if (env_conn_is_set(p->conn)) env_tcp_abort(&p->e, &p->conn);
    if (env_sock_is_set(p->udp)) env_udp_close(&p->e, &p->udp);
    crypto_free(p->c);
}
