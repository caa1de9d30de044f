/* loginsrv: the login server role.
 *
 * Layer: protocol/, a feature over the node plumbing (loginsrv.h). Sources:
 * docs/protocol-notes.md a14 (TCP connect, challenge-response, close; no further
 * contact), a15 (session key wrapped with the server's 1536-bit RSA
 * modulus; shared secret MD5(user "\nskyper\n" password); a per-login
 * RSA-1024 user key certified by the server), a16 (1536 to 2048-bit RSA).
 *
 * Exchange (one TCP connection, AES-256 framing of wire.h):
 *   client -> LOGIN_REQ: RSA(server key; 32-byte session key K) and
 *             AES-256(K, IV 0; u8 ulen, user, 16-byte credential hash,
 *             u16 publen, the client's public key DER)
 *   server -> LOGIN_CERT: AES-256(K, IV 1; certificate) or LOGIN_FAIL
 *   certificate = u8 version 1, u32 expiry (virtual s), u8 ulen, user,
 *                 u16 publen, public key DER, u16 siglen, RSA-SHA1
 *                 signature by the server key over everything before siglen
 * The user store is the server's persistent store: key "u:<user>" holds the
 * 16-byte credential hash (node_loginsrv_user_add).
 */
#include "protocol/loginsrv.h"

#include <string.h>

#define LOGINSRV_CERT_VALID_S (24 * 3600)

static void loginsrv_refuse(Node *n, int idx, uint8_t reason)
{
    WireMsg r = {.type = WIRE_LOGIN_FAIL, .u.login_fail = {reason}};
    node__send_msg(n, idx, &r);
    node__count(n, NODE_M(n)->auth_refused, 1);
    node__conn_close(n, idx, false);
}

static bool loginsrv_user_ok(Node *n, const uint8_t *user, size_t ulen, const uint8_t *hash)
{
    char key[3 + WIRE_USER_MAX + 1] = "u:";
    memcpy(key + 2, user, ulen);
    key[2 + ulen] = 0;
    if (strlen(key) != 2 + ulen || ulen > 29) return false; /* NUL inside, or key too long */
    uint8_t want[16];
    return env_store_get(&n->env, key, want, sizeof want) == 16 && memcmp(want, hash, 16) == 0;
}

/* Builds the certificate for user (ulen bytes) and public key pub (publen
 * bytes) into cert (WIRE_BLOB_MAX bytes), signed by the server key; returns
 * its length. */
static size_t loginsrv_cert_build(Node *n, const uint8_t *user, size_t ulen, const uint8_t *pub,
                                  size_t publen, uint8_t *cert)
{
    size_t clen = 0;
    cert[clen++] = 1;
    wire_put_u32(cert + clen, (uint32_t)(env_now(&n->env) / TIMENS_S) + LOGINSRV_CERT_VALID_S);
    clen += 4;
    cert[clen++] = (uint8_t)ulen;
    memcpy(cert + clen, user, ulen);
    clen += ulen;
    wire_put_u16(cert + clen, (uint16_t)publen);
    clen += 2;
    memcpy(cert + clen, pub, publen);
    clen += publen;
    size_t siglen = crypto_rsa_sign(n->sh->crypto, &n->env, n->sh->server_key, cert, clen,
                                    cert + clen + 2, WIRE_BLOB_MAX - clen - 2);
    CHECK(siglen > 0, "certificate signature");
    wire_put_u16(cert + clen, (uint16_t)siglen);
    return clen + 2 + siglen;
}

/* Unwraps the session key and decrypts the request body into body. Returns
 * the body length, or 0 when malformed. */
static size_t loginsrv_open(Node *n, const WireMsg *m, uint8_t key[32], uint8_t *body)
{
    uint8_t k[CRYPTO_RSA_MAX_BYTES], iv[16] = {0};
    long kl = crypto_rsa_decrypt(n->sh->crypto, &n->env, n->sh->server_key, m->u.login.key,
                                 m->u.login.klen, k, sizeof k);
    size_t len = m->u.login.len;
    if (kl != 32 || len < 1 + 1 + 16 + 2) return 0;
    memcpy(key, k, 32);
    memcpy(body, m->u.login.data, len);
    crypto_aes256(n->sh->crypto, &n->env, key, iv, body, len);
    return len;
}

static void loginsrv_on_frame(Node *n, int idx, const WireMsg *m)
{
    uint8_t key[32], body[WIRE_BLOB_MAX], iv[16] = {0};
    size_t len = m->type == WIRE_LOGIN_REQ ? loginsrv_open(n, m, key, body) : 0;
    /* body: u8 ulen, user, 16-byte hash, u16 publen, public key DER */
    size_t ulen = len ? body[0] : 0, off = 1 + ulen + 16;
    CryptoKey *uk = NULL;
    if (ulen >= 1 && ulen <= WIRE_USER_MAX && off + 2 <= len &&
        off + 2 + wire_get_u16(body + off) == len)
        uk = crypto_key_from_pub_der(n->sh->crypto, body + off + 2, len - off - 2);
    if (!uk) {
        node__count(n, NODE_M(n)->malformed_tcp, 1);
        loginsrv_refuse(n, idx, WIRE_FAIL_MALFORMED);
        return;
    }
    crypto_key_free(uk); /* parsed only to check it is a real RSA key */
    if (!loginsrv_user_ok(n, body + 1, ulen, body + 1 + ulen)) {
        loginsrv_refuse(n, idx, WIRE_FAIL_AUTH);
        return;
    }
    uint8_t cert[WIRE_BLOB_MAX];
    size_t clen = loginsrv_cert_build(n, body + 1, ulen, body + off + 2, len - off - 2, cert);
    NodeEventArg ev = {.idx = idx, .buf = body + 1, .len = ulen};
    node__emit(n, NODE_EV_LOGIN_CERTIFYING, &ev); /* presence: the buddy list goes first */
    iv[15] = 1;
    crypto_aes256(n->sh->crypto, &n->env, key, iv, cert, clen);
    WireMsg r = {.type = WIRE_LOGIN_CERT, .u.login = {0, NULL, (uint16_t)clen, cert}};
    node__send_msg(n, idx, &r);
    node__count(n, NODE_M(n)->auth_ok, 1);
    node__conn_close(n, idx, false); /* a14: then close */
}

static bool loginsrv_on_accept(Node *n, EnvAddr peer, NodeAccept *out)
{
    (void)peer;
    if (n->role != NODE_ROLE_LOGIN_SERVER) return false;
    *out = (NodeAccept){.kind = CONN_LS_IN, .hello_role = HELLO_CLIENT};
    return true;
}

static const NodeConnKind loginsrv_kinds[] = {{.kind = CONN_LS_IN, .flags = 0}};

const NodeFeature loginsrv_feature = {
    .name = "loginsrv",
    .id = NODE_FEAT_LOGINSRV,
    .conn_kinds = loginsrv_kinds,
    .n_conn_kinds = G_N_ELEMENTS(loginsrv_kinds),
    .on_accept = loginsrv_on_accept,
    .on_frame = loginsrv_on_frame,
};

void node_loginsrv_user_add(Node *n, const char *user, const char *password)
{
    size_t ulen = strlen(user);
    CHECK(n->role == NODE_ROLE_LOGIN_SERVER, "node %u is not the login server", n->id);
    CHECK(ulen >= 1 && ulen <= 29, "username of %zu bytes", ulen);
    char salted[WIRE_USER_MAX + 10], key[32];
    g_snprintf(salted, sizeof salted, "%s\nskyper\n", user);
    g_snprintf(key, sizeof key, "u:%s", user);
    uint8_t hash[16];
    crypto_md5(n->sh->crypto, &n->env, salted, strlen(salted), password, strlen(password), hash);
    CHECK(env_store_put(&n->env, key, hash, sizeof hash) == ENV_OK, "user store write");
}
