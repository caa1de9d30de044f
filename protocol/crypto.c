/* crypto: OpenSSL EVP implementation of protocol/crypto.h (see there for the
 * sources and the determinism rules). */
#include "protocol/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

/* The per-packet ciphers (RC4 per UDP datagram, AES-256-CTR per media
 * packet and TCP frame) run on contexts that stay set to their cipher.
 * Passing the cipher again, as this file once did per packet, makes
 * OpenSSL 3.0 free and allocate the provider's context and look for an
 * ENGINE: a fifth of RC4's time and a quarter of AES's (simbench crypto,
 * docs/benchmarks.md "Per-packet crypto").
 *
 * RC4 then takes only the key per datagram. Its key schedule per datagram
 * is inherent (a19: a key per datagram) and is most of the cost; the
 * deprecated RC4_set_key/RC4 calls were 0-5 % faster (13 % in one state
 * of the VM), not enough to leave the EVP API for.
 *
 * AES keeps keyed contexts in a direct-mapped cache by key bytes: a packet
 * whose key is cached resets only the IV (no key schedule; about a third
 * faster than re-keying), any other re-keys its slot. Exactness does not
 * depend on the cache: a hit compares all 32 key bytes. With 64 slots, a
 * 10,000-client churn run finds the key cached for 92 % of its media
 * packets (a few dozen calls at a time) and 30 % of its TCP frames
 * (thousands of connections); 256 slots would give 99 % and 53 % with
 * four times the contexts (about 0.6 KB each) to keep warm. */
#define CRYPTO_AES_SLOTS_LOG2 6
#define CRYPTO_AES_SLOTS (1u << CRYPTO_AES_SLOTS_LOG2)

/* One keyed AES context of the cache. */
typedef struct CryptoAesSlot {
    EVP_CIPHER_CTX *ctx; /* set to AES-256-CTR; holds key when keyed */
    uint8_t key[32];     /* the key ctx holds (valid when keyed) */
    bool keyed;          /* ctx has been given a key */
} CryptoAesSlot;

struct Crypto {
    OSSL_LIB_CTX *lib;                        /* private library context: no global OpenSSL state */
    OSSL_PROVIDER *prov_def;                  /* "default" provider (AES, SHA, RSA) */
    OSSL_PROVIDER *prov_leg;                  /* "legacy" provider (RC4) */
    EVP_CIPHER *rc4;                          /* fetched RC4 */
    EVP_CIPHER *aes;                          /* fetched AES-256-CTR */
    EVP_MD *sha256;                           /* fetched SHA-256 */
    EVP_MD *md5;                              /* fetched MD5 */
    EVP_CIPHER_CTX *rc4ctx;                   /* kept set to RC4 (single-threaded world) */
    int rc4_keylen;                           /* key length rc4ctx is set to, bytes */
    CryptoAesSlot aes_slot[CRYPTO_AES_SLOTS]; /* keyed AES contexts, by crypto_aes_slot */
    EVP_MD_CTX *mctx;                         /* reused digest context */
    BN_CTX *bn;                               /* reused bignum scratch */
};

static bool crypto_fail(GError **err, const char *what)
{
    g_set_error(err, g_quark_from_static_string("skysim-crypto"), 1,
                "OpenSSL: cannot load %s (is the libssl3 legacy provider installed?)", what);
    return false;
}

Crypto *crypto_new(GError **err)
{
    Crypto *c = g_new0(Crypto, 1); /* not per node: one per world */
    c->lib = OSSL_LIB_CTX_new();
    c->prov_def = OSSL_PROVIDER_load(c->lib, "default");
    c->prov_leg = OSSL_PROVIDER_load(c->lib, "legacy");
    c->rc4 = EVP_CIPHER_fetch(c->lib, "RC4", NULL);
    c->aes = EVP_CIPHER_fetch(c->lib, "AES-256-CTR", NULL);
    c->sha256 = EVP_MD_fetch(c->lib, "SHA256", NULL);
    c->md5 = EVP_MD_fetch(c->lib, "MD5", NULL);
    c->mctx = EVP_MD_CTX_new();
    c->bn = BN_CTX_new_ex(c->lib);
    bool ok = true;
    if (!c->prov_def || !c->aes || !c->sha256 || !c->md5)
        ok = crypto_fail(err, "AES/SHA/MD5");
    else if (!c->prov_leg || !c->rc4)
        ok = crypto_fail(err, "RC4 (legacy provider)");
    if (!ok) {
        crypto_free(c);
        return NULL;
    }
    /* The cipher contexts, each set to its cipher once and for all. */
    c->rc4ctx = EVP_CIPHER_CTX_new();
    CHECK(EVP_EncryptInit_ex2(c->rc4ctx, c->rc4, NULL, NULL, NULL) == 1, "rc4 init");
    c->rc4_keylen = EVP_CIPHER_CTX_get_key_length(c->rc4ctx);
    for (unsigned i = 0; i < CRYPTO_AES_SLOTS; i++) {
        c->aes_slot[i].ctx = EVP_CIPHER_CTX_new();
        CHECK(EVP_EncryptInit_ex2(c->aes_slot[i].ctx, c->aes, NULL, NULL, NULL) == 1, "aes init");
    }
    return c;
}

void crypto_free(Crypto *c)
{
    if (!c) return;
    BN_CTX_free(c->bn);
    EVP_MD_CTX_free(c->mctx);
    for (unsigned i = 0; i < CRYPTO_AES_SLOTS; i++)
        EVP_CIPHER_CTX_free(c->aes_slot[i].ctx);
    EVP_CIPHER_CTX_free(c->rc4ctx);
    EVP_MD_free(c->md5);
    EVP_MD_free(c->sha256);
    EVP_CIPHER_free(c->aes);
    EVP_CIPHER_free(c->rc4);
    if (c->prov_leg) OSSL_PROVIDER_unload(c->prov_leg);
    if (c->prov_def) OSSL_PROVIDER_unload(c->prov_def);
    OSSL_LIB_CTX_free(c->lib);
    g_free(c);
}

void crypto_rc4(Crypto *c, const Env *e, const uint8_t *key, size_t keylen, uint8_t *buf,
                size_t len)
{
    CHECK(keylen > 0 && keylen <= 256, "rc4 key length %zu", keylen);
    int outl = 0;
    if ((int)keylen != c->rc4_keylen) { /* wire.c's keys are all 80 bytes: rarely taken */
        CHECK(EVP_CIPHER_CTX_set_key_length(c->rc4ctx, (int)keylen) == 1, "rc4 key length");
        c->rc4_keylen = (int)keylen;
    }
    CHECK(EVP_EncryptInit_ex2(c->rc4ctx, NULL, key, NULL, NULL) == 1, "rc4 key");
    if (len) CHECK(EVP_EncryptUpdate(c->rc4ctx, buf, &outl, buf, (int)len) == 1, "rc4 update");
    env_charge_cpu(e, ENV_COST_RC4, len);
}

/* The cache slot of a key: a multiplicative hash of its four words. Keys
 * are SHA-256 outputs or random, so the slots fill evenly; a poor spread
 * would cost time, never change a byte. */
static unsigned crypto_aes_slot(const uint8_t key[32])
{
    uint64_t w[4];
    memcpy(w, key, sizeof w);
    uint64_t h = (w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> (64 - CRYPTO_AES_SLOTS_LOG2));
}

void crypto_aes256(Crypto *c, const Env *e, const uint8_t key[32], const uint8_t iv[16],
                   uint8_t *buf, size_t len)
{
    CryptoAesSlot *s = &c->aes_slot[crypto_aes_slot(key)];
    bool cached = s->keyed && memcmp(s->key, key, 32) == 0;
    /* A slot holding the key takes the IV alone (the CTR state restarts,
     * the key schedule stays); otherwise the slot is re-keyed. */
    CHECK(EVP_EncryptInit_ex2(s->ctx, NULL, cached ? NULL : key, iv, NULL) == 1, "aes init");
    if (!cached) {
        memcpy(s->key, key, 32);
        s->keyed = true;
    }
    int outl = 0;
    if (len) CHECK(EVP_EncryptUpdate(s->ctx, buf, &outl, buf, (int)len) == 1, "aes update");
    env_charge_cpu(e, ENV_COST_AES256, len);
}

static void crypto_digest(Crypto *c, const Env *e, const EVP_MD *md, const void *a, size_t alen,
                          const void *b, size_t blen, uint8_t *out)
{
    unsigned outl = 0;
    CHECK(EVP_DigestInit_ex2(c->mctx, md, NULL) == 1, "digest init");
    CHECK(EVP_DigestUpdate(c->mctx, a, alen) == 1, "digest update");
    if (b && blen) CHECK(EVP_DigestUpdate(c->mctx, b, blen) == 1, "digest update");
    CHECK(EVP_DigestFinal_ex(c->mctx, out, &outl) == 1, "digest final");
    env_charge_cpu(e, ENV_COST_HASH, alen + blen);
}

void crypto_sha256(Crypto *c, const Env *e, const void *a, size_t alen, const void *b, size_t blen,
                   uint8_t out[32])
{
    crypto_digest(c, e, c->sha256, a, alen, b, blen, out);
}

void crypto_md5(Crypto *c, const Env *e, const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[16])
{
    crypto_digest(c, e, c->md5, a, alen, b, blen, out);
}

uint32_t crypto_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    /* Bitwise CRC-32 (reflected 0xEDB88320): inputs are a dozen bytes. */
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ---- RSA ---- */

/* OpenSSL takes keys by non-const pointer even for read-only use; the
 * operations below do not modify the key (reference counts aside). */
static EVP_PKEY *crypto_pkey(const CryptoKey *k)
{
    return (EVP_PKEY *)(uintptr_t)k;
}

/* A random prime of `bits` bits with the two top bits set (so a product of
 * two has exactly 2*bits bits) and p mod e != 1 (gcd(p-1, e) = 1, e prime):
 * a random odd start from the env stream, then an incremental search. */
static BIGNUM *crypto_prime(Crypto *c, const Env *e, unsigned bits)
{
    uint8_t raw[CRYPTO_RSA_MAX_BYTES / 2];
    size_t n = bits / 8;
    CHECK(n <= sizeof raw, "prime of %u bits", bits);
    env_random_bytes(e, raw, n);
    raw[0] |= 0xC0;
    raw[n - 1] |= 1;
    BIGNUM *p = BN_bin2bn(raw, (int)n, NULL);
    for (;;) {
        if (BN_mod_word(p, 65537) != 1 && BN_check_prime(p, c->bn, NULL) == 1) return p;
        CHECK(BN_add_word(p, 2) == 1, "bn add");
    }
}

CryptoKey *crypto_rsa_keygen(Crypto *c, const Env *e, unsigned bits)
{
    CHECK(bits >= 512 && bits <= 2048 && bits % 128 == 0, "rsa bits %u", bits);
    BIGNUM *p = crypto_prime(c, e, bits / 2), *q;
    do
        q = crypto_prime(c, e, bits / 2);
    while (BN_cmp(p, q) == 0);
    BIGNUM *n = BN_new(), *ee = BN_new(), *d = BN_new(), *phi = BN_new();
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *dp = BN_new(), *dq = BN_new(), *qi = BN_new();
    CHECK(BN_set_word(ee, 65537) && BN_mul(n, p, q, c->bn), "bn");
    CHECK(BN_sub(p1, p, BN_value_one()) && BN_sub(q1, q, BN_value_one()), "bn");
    CHECK(BN_mul(phi, p1, q1, c->bn) && BN_mod_inverse(d, ee, phi, c->bn), "bn inverse");
    CHECK(BN_mod(dp, d, p1, c->bn) && BN_mod(dq, d, q1, c->bn), "bn");
    CHECK(BN_mod_inverse(qi, q, p, c->bn) != NULL, "bn inverse q");

    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ee);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(c->lib, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    CHECK(pc && EVP_PKEY_fromdata_init(pc) == 1 &&
              EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_KEYPAIR, params) == 1,
          "rsa fromdata");
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(p), BN_free(q), BN_free(n), BN_free(ee), BN_free(d), BN_free(phi);
    BN_free(p1), BN_free(q1), BN_free(dp), BN_free(dq), BN_free(qi);

    env_charge_cpu(e, ENV_COST_RSA_KEYGEN, bits / 8);
    return pkey;
}

void crypto_key_free(CryptoKey *k)
{
    EVP_PKEY_free(k); /* NULL is a no-op */
}

size_t crypto_key_bytes(const CryptoKey *k)
{
    return (size_t)EVP_PKEY_get_size(k);
}

size_t crypto_key_pub_der(const CryptoKey *k, uint8_t *out, size_t cap)
{
    int len = i2d_PUBKEY(k, NULL);
    if (len <= 0 || (size_t)len > cap) return 0;
    uint8_t *p = out;
    CHECK(i2d_PUBKEY(k, &p) == len, "i2d_PUBKEY");
    return (size_t)len;
}

CryptoKey *crypto_key_from_pub_der(Crypto *c, const uint8_t *der, size_t len)
{
    if (len == 0 || len > CRYPTO_PUBDER_MAX) return NULL;
    const uint8_t *p = der;
    EVP_PKEY *pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, c->lib, NULL);
    if (!pkey) return NULL;
    int size = EVP_PKEY_get_size(pkey);
    if (!EVP_PKEY_is_a(pkey, "RSA") || p != der + len || size < 64 || size > CRYPTO_RSA_MAX_BYTES) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

size_t crypto_rsa_sign(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg, size_t len,
                       uint8_t *sig, size_t cap)
{
    size_t siglen = crypto_key_bytes(k);
    if (siglen > cap) return 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    CHECK(EVP_DigestSignInit_ex(m, NULL, "SHA1", c->lib, NULL, crypto_pkey(k), NULL) == 1,
          "sign init");
    CHECK(EVP_DigestSign(m, sig, &siglen, msg, len) == 1, "sign");
    EVP_MD_CTX_free(m);
    env_charge_cpu(e, ENV_COST_RSA_SIGN, siglen);
    return siglen;
}

bool crypto_rsa_verify(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg, size_t len,
                       const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    CHECK(EVP_DigestVerifyInit_ex(m, NULL, "SHA1", c->lib, NULL, crypto_pkey(k), NULL) == 1,
          "verify init");
    bool ok = EVP_DigestVerify(m, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(m);
    env_charge_cpu(e, ENV_COST_RSA_VERIFY, crypto_key_bytes(k));
    return ok;
}

/* Raw RSA (no padding) public or private operation on exactly modulus-size
 * input. Returns false when OpenSSL rejects the input (e.g. >= modulus). */
static bool crypto_rsa_raw(Crypto *c, const CryptoKey *k, bool decrypt, const uint8_t *in,
                           size_t len, uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(c->lib, crypto_pkey(k), NULL);
    int ok = decrypt ? EVP_PKEY_decrypt_init(pc) : EVP_PKEY_encrypt_init(pc);
    ok = ok == 1 && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1;
    if (ok)
        ok = (decrypt ? EVP_PKEY_decrypt(pc, out, outlen, in, len)
                      : EVP_PKEY_encrypt(pc, out, outlen, in, len)) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

size_t crypto_rsa_encrypt(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg,
                          size_t len, uint8_t *out, size_t cap)
{
    size_t kb = crypto_key_bytes(k);
    CHECK(len + 11 <= kb, "rsa plaintext of %zu bytes for a %zu-byte key", len, kb);
    if (cap < kb) return 0;
    /* PKCS#1 v1.5 type 2: 00 02 PS(nonzero, >= 8) 00 M. */
    uint8_t em[CRYPTO_RSA_MAX_BYTES];
    size_t ps = kb - len - 3;
    em[0] = 0;
    em[1] = 2;
    env_random_bytes(e, em + 2, ps);
    for (size_t i = 0; i < ps; i++)
        if (em[2 + i] == 0) em[2 + i] = (uint8_t)(1 + i % 255);
    em[2 + ps] = 0;
    memcpy(em + 3 + ps, msg, len);
    size_t outlen = cap;
    CHECK(crypto_rsa_raw(c, k, false, em, kb, out, &outlen) && outlen == kb, "rsa encrypt");
    env_charge_cpu(e, ENV_COST_RSA_VERIFY, kb);
    return kb;
}

long crypto_rsa_decrypt(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *in, size_t len,
                        uint8_t *out, size_t cap)
{
    size_t kb = crypto_key_bytes(k);
    if (len != kb) return -1;
    uint8_t em[CRYPTO_RSA_MAX_BYTES];
    size_t emlen = sizeof em;
    bool ok = crypto_rsa_raw(c, k, true, in, len, em, &emlen);
    env_charge_cpu(e, ENV_COST_RSA_SIGN, kb);
    if (!ok || emlen != kb || em[0] != 0 || em[1] != 2) return -1;
    size_t i = 2;
    while (i < kb && em[i] != 0)
        i++;
    if (i < 10 || i >= kb) return -1; /* at least 8 padding bytes, then the 00 separator */
    size_t mlen = kb - i - 1;
    if (mlen > cap) return -1;
    memcpy(out, em + i + 1, mlen);
    return (long)mlen;
}
