/* crypto: the really executed cryptography of the protocol, over OpenSSL
 * libcrypto's EVP APIs, each operation charged as CPU cost through env.
 *
 * Layer: protocol/, below wire and the state machines. Sources: RC4 for UDP
 * obfuscation (docs/protocol-notes.md a19), AES-256 for signalling (a15, a16), RSA
 * per-login 1024-bit user keys certified by a 1536/2048-bit server key (a15,
 * a16), CRC32 in the RC4 seed (a19), MD5 of user "\nskyper\n" password as
 * the shared secret (a15).
 *
 * Determinism (DESIGN.md "Determinism"): nothing here draws from OpenSSL's
 * own random generator where the result reaches the wire. RSA keys are
 * generated from the node's env random stream (random prime candidates,
 * incremental search, BN_check_prime), RSA encryption uses PKCS#1 v1.5
 * type-2 padding filled from the env stream over raw RSA, and PKCS#1 v1.5
 * signatures are deterministic. So the same seed gives the same bytes.
 *
 * A Crypto object holds a private OpenSSL library context with the default
 * and legacy providers (RC4 lives in "legacy" in OpenSSL 3), the fetched
 * algorithms and the cipher contexts kept between packets (one set to RC4,
 * a small cache of AES contexts keyed by key; crypto.c says why). It is
 * shared by all nodes of a world (protocol/node.h: NodeShared),
 * single-threaded like the world; nothing here is global. The contexts
 * carry no state from one call to the next that could change a byte: each
 * call's output depends only on its key, IV and input.
 */
#ifndef SKYSIM_CRYPTO_H
#define SKYSIM_CRYPTO_H

#include "protocol/env.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Crypto Crypto;
/* An RSA key (pair or public only): OpenSSL's EVP_PKEY itself, named here
 * without including OpenSSL, so no wrapper allocation sits on the per-login
 * path. */
typedef struct evp_pkey_st CryptoKey;

#define CRYPTO_RSA_MAX_BYTES 256 /* largest modulus handled: 2048 bits */
#define CRYPTO_PUBDER_MAX 300    /* DER SubjectPublicKeyInfo of RSA-2048 fits */

/* Creates the crypto context. Returns NULL and sets err when OpenSSL lacks a
 * needed algorithm or provider (an installation problem, reported once). */
Crypto *crypto_new(GError **err);
void crypto_free(Crypto *c); /* NULL is a no-op */

/* RC4 over buf in place (encrypt = decrypt), key of keylen bytes (<= 256).
 * Charged as ENV_COST_RC4 with len. */
void crypto_rc4(Crypto *c, const Env *e, const uint8_t *key, size_t keylen, uint8_t *buf,
                size_t len);

/* AES-256-CTR over buf in place with key (32 bytes) and iv (16 bytes).
 * Charged as ENV_COST_AES256 with len. */
void crypto_aes256(Crypto *c, const Env *e, const uint8_t key[32], const uint8_t iv[16],
                   uint8_t *buf, size_t len);

/* SHA-256 and MD5 of (a, alen) || (b, blen) (b may be NULL). Charged as
 * ENV_COST_HASH. */
void crypto_sha256(Crypto *c, const Env *e, const void *a, size_t alen, const void *b, size_t blen,
                   uint8_t out[32]);
void crypto_md5(Crypto *c, const Env *e, const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[16]);

/* CRC-32 (IEEE 802.3, as zlib), continuing from crc (0 to start). Not
 * charged: a few bytes, part of the RC4 seed computation. */
uint32_t crypto_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* Generates an RSA key pair of `bits` (1024..2048, multiple of 128), e =
 * 65537, from the env random stream. Charged as ENV_COST_RSA_KEYGEN with the
 * modulus bytes. Returns a new key; free with crypto_key_free. */
CryptoKey *crypto_rsa_keygen(Crypto *c, const Env *e, unsigned bits);
void crypto_key_free(CryptoKey *k);          /* NULL is a no-op */
size_t crypto_key_bytes(const CryptoKey *k); /* modulus size in bytes */

/* DER encoding of the public key (SubjectPublicKeyInfo) into out (cap
 * bytes). Returns the length, 0 when cap is too small. */
size_t crypto_key_pub_der(const CryptoKey *k, uint8_t *out, size_t cap);
/* Parses a DER public key. Returns NULL on malformed input (never trusted). */
CryptoKey *crypto_key_from_pub_der(Crypto *c, const uint8_t *der, size_t len);

/* PKCS#1 v1.5 signature with SHA-1 (a15: "SHA-1 (160) based"). Returns the
 * signature length (modulus bytes) written to sig, 0 on failure (cap too
 * small). Charged as ENV_COST_RSA_SIGN. */
size_t crypto_rsa_sign(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg, size_t len,
                       uint8_t *sig, size_t cap);
/* Verifies; false on a bad signature or malformed input. Charged as
 * ENV_COST_RSA_VERIFY. */
bool crypto_rsa_verify(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg, size_t len,
                       const uint8_t *sig, size_t siglen);

/* RSA encryption of msg (len <= modulus bytes - 11) under the public key
 * with PKCS#1 v1.5 type-2 padding drawn from the env stream. Returns the
 * ciphertext length (modulus bytes), 0 when cap is too small. Charged as
 * ENV_COST_RSA_VERIFY (a public-key operation). */
size_t crypto_rsa_encrypt(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *msg,
                          size_t len, uint8_t *out, size_t cap);
/* Decrypts and strips the padding. Returns the plaintext length, or -1 on a
 * malformed ciphertext or padding. Charged as ENV_COST_RSA_SIGN. */
long crypto_rsa_decrypt(Crypto *c, const Env *e, const CryptoKey *k, const uint8_t *in, size_t len,
                        uint8_t *out, size_t cap);

#endif
