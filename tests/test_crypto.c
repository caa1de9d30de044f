/* Suite "crypto": OpenSSL-backed primitives of protocol/crypto.c, and that
 * each is charged as CPU cost through env. */
#include "fakeenv.h"
#include "protocol/crypto.h"
#include "t_assert.h"

typedef struct Fixture {
    FakeNet *net;
    FakeEnv *h;
    Env e;
    Crypto *c;
} Fixture;

static void fx_init(Fixture *f, uint64_t seed)
{
    f->net = fakenet_new(seed);
    f->h = fakenet_host_add(f->net, ENV_IP(1, 2, 3, 4));
    f->e = fakeenv_env(f->h);
    GError *err = NULL;
    f->c = crypto_new(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->c);
}

static void fx_fini(Fixture *f)
{
    crypto_free(f->c);
    T_EQ_U64(fakenet_free(f->net), 0);
}

static void test_crypto_rc4_known_vector(void)
{
    /* RC4 with key "Key" on "Plaintext" gives BBF316E8D940AF0AD3 (the
     * classic test vector). */
    Fixture f;
    fx_init(&f, 1);
    uint8_t buf[9] = "Plaintext";
    static const uint8_t want[9] = {0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3};
    crypto_rc4(f.c, &f.e, (const uint8_t *)"Key", 3, buf, sizeof buf);
    T_TRUE(memcmp(buf, want, 9) == 0);
    T_EQ_U64(fakeenv_cpu_calls(f.h, ENV_COST_RC4), 1);
    T_EQ_U64(fakeenv_cpu_bytes(f.h, ENV_COST_RC4), 9);
    fx_fini(&f);
}

static void test_crypto_aes_roundtrip_and_charge(void)
{
    Fixture f;
    fx_init(&f, 2);
    uint8_t key[32] = {1, 2, 3}, iv[16] = {9}, buf[100], orig[100];
    for (int i = 0; i < 100; i++)
        buf[i] = orig[i] = (uint8_t)i;
    crypto_aes256(f.c, &f.e, key, iv, buf, sizeof buf);
    T_FALSE(memcmp(buf, orig, 100) == 0);
    crypto_aes256(f.c, &f.e, key, iv, buf, sizeof buf);
    T_TRUE(memcmp(buf, orig, 100) == 0);
    T_EQ_U64(fakeenv_cpu_calls(f.h, ENV_COST_AES256), 2);
    T_EQ_U64(fakeenv_cpu_bytes(f.h, ENV_COST_AES256), 200);
    fx_fini(&f);
}

static void test_crypto_crc32_and_md5_vectors(void)
{
    Fixture f;
    fx_init(&f, 3);
    T_EQ_U64(crypto_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    uint8_t md[16];
    crypto_md5(f.c, &f.e, "abc", 3, NULL, 0, md);
    static const uint8_t want[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                                     0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    T_TRUE(memcmp(md, want, 16) == 0);
    fx_fini(&f);
}

static void test_crypto_rsa_keygen_is_deterministic(void)
{
    Fixture a, b;
    fx_init(&a, 77);
    fx_init(&b, 77);
    CryptoKey *ka = crypto_rsa_keygen(a.c, &a.e, 1024), *kb = crypto_rsa_keygen(b.c, &b.e, 1024);
    uint8_t da[CRYPTO_PUBDER_MAX], db[CRYPTO_PUBDER_MAX];
    size_t la = crypto_key_pub_der(ka, da, sizeof da), lb = crypto_key_pub_der(kb, db, sizeof db);
    T_EQ_U64(crypto_key_bytes(ka), 128);
    T_EQ_U64(la, lb);
    T_TRUE(la > 0 && memcmp(da, db, la) == 0);
    T_EQ_U64(fakeenv_cpu_calls(a.h, ENV_COST_RSA_KEYGEN), 1);
    crypto_key_free(ka);
    crypto_key_free(kb);
    fx_fini(&a);
    fx_fini(&b);
}

static void test_crypto_rsa_sign_verify_encrypt_decrypt(void)
{
    Fixture f;
    fx_init(&f, 5);
    CryptoKey *k = crypto_rsa_keygen(f.c, &f.e, 1536);
    T_EQ_U64(crypto_key_bytes(k), 192);
    uint8_t msg[] = "certify me", sig[CRYPTO_RSA_MAX_BYTES];
    size_t sl = crypto_rsa_sign(f.c, &f.e, k, msg, sizeof msg, sig, sizeof sig);
    T_EQ_U64(sl, 192);
    T_TRUE(crypto_rsa_verify(f.c, &f.e, k, msg, sizeof msg, sig, sl));
    sig[10] ^= 1;
    T_FALSE(crypto_rsa_verify(f.c, &f.e, k, msg, sizeof msg, sig, sl));
    /* Verification through the public half parsed back from DER. */
    uint8_t der[CRYPTO_PUBDER_MAX];
    size_t dl = crypto_key_pub_der(k, der, sizeof der);
    CryptoKey *pub = crypto_key_from_pub_der(f.c, der, dl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    sig[10] ^= 1;
    T_TRUE(crypto_rsa_verify(f.c, &f.e, pub, msg, sizeof msg, sig, sl));
    uint8_t ct[CRYPTO_RSA_MAX_BYTES], pt[64], secret[32] = {42, 43, 44};
    size_t cl = crypto_rsa_encrypt(f.c, &f.e, pub, secret, sizeof secret, ct, sizeof ct);
    T_EQ_U64(cl, 192);
    T_EQ_I64(crypto_rsa_decrypt(f.c, &f.e, k, ct, cl, pt, sizeof pt), 32);
    T_TRUE(memcmp(pt, secret, 32) == 0);
    ct[5] ^= 0x40; /* a damaged ciphertext never decrypts to garbage silently */
    long r = crypto_rsa_decrypt(f.c, &f.e, k, ct, cl, pt, sizeof pt);
    T_TRUE(r < 0 || memcmp(pt, secret, 32) != 0);
    T_TRUE(fakeenv_cpu_calls(f.h, ENV_COST_RSA_SIGN) >= 2);
    T_TRUE(fakeenv_cpu_calls(f.h, ENV_COST_RSA_VERIFY) >= 3);
    crypto_key_free(pub);
    crypto_key_free(k);
    fx_fini(&f);
}

static void test_crypto_pub_der_rejects_garbage(void)
{
    Fixture f;
    fx_init(&f, 6);
    uint8_t junk[140];
    for (int i = 0; i < 140; i++)
        junk[i] = (uint8_t)(i * 7);
    CU_ASSERT_PTR_NULL(crypto_key_from_pub_der(f.c, junk, sizeof junk));
    CU_ASSERT_PTR_NULL(crypto_key_from_pub_der(f.c, junk, 0));
    CryptoKey *k = crypto_rsa_keygen(f.c, &f.e, 1024);
    uint8_t der[CRYPTO_PUBDER_MAX];
    size_t dl = crypto_key_pub_der(k, der, sizeof der);
    for (size_t cut = 1; cut < dl; cut += 17) /* every truncation is rejected */
        CU_ASSERT_PTR_NULL(crypto_key_from_pub_der(f.c, der, dl - cut));
    crypto_key_free(k);
    fx_fini(&f);
}

T_SUITE_MAIN("crypto", {"test_crypto_rc4_known_vector", test_crypto_rc4_known_vector},
             {"test_crypto_aes_roundtrip_and_charge", test_crypto_aes_roundtrip_and_charge},
             {"test_crypto_crc32_and_md5_vectors", test_crypto_crc32_and_md5_vectors},
             {"test_crypto_rsa_keygen_is_deterministic", test_crypto_rsa_keygen_is_deterministic},
             {"test_crypto_rsa_sign_verify_encrypt_decrypt",
              test_crypto_rsa_sign_verify_encrypt_decrypt},
             {"test_crypto_pub_der_rejects_garbage", test_crypto_pub_der_rejects_garbage})
