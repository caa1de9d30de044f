/* cryptobench: see cryptobench.h. */
#include "sim/bench/cryptobench.h"

/* The low-level RC4 and AES calls are deprecated in OpenSSL 3; they are
 * timed here as candidates, so their deprecation warnings are silenced in
 * this file only. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <glib.h>
#include <openssl/aes.h>
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/provider.h>
#include <openssl/rc4.h>
#include <string.h>
#include <time.h>

#include "protocol/crypto.h"

#define BENCH_RC4_KEY 80  /* bytes: the key wire.c derives per datagram */
#define BENCH_RC4_KEYS 64 /* distinct RC4 keys in rotation */
#define BENCH_BUF 256     /* largest packet, bytes */
#define BENCH_CHECK 64    /* packets of the byte-identity check */

/* Everything the cases work on; one per run. */
typedef struct Bench {
    OSSL_LIB_CTX *lib;                                  /* own library context */
    OSSL_PROVIDER *prov_def, *prov_leg;                 /* default and legacy providers */
    EVP_CIPHER *rc4, *aes;                              /* fetched once */
    EVP_CIPHER_CTX *ctx_old;                            /* re-set to a cipher per packet */
    EVP_CIPHER_CTX *ctx_rc4;                            /* set to RC4 and the key length once */
    EVP_CIPHER_CTX *ctx_aes;                            /* set to AES-256-CTR once */
    EVP_CIPHER_CTX *ctx_keyed[CRYPTOBENCH_STREAMS_MAX]; /* keyed once per stream */
    AES_KEY aes_sched[CRYPTOBENCH_STREAMS_MAX];         /* key schedules per stream */
    uint8_t rc4_key[BENCH_RC4_KEYS][BENCH_RC4_KEY];     /* RC4 keys */
    uint8_t aes_key[CRYPTOBENCH_STREAMS_MAX][32];       /* AES key per stream */
    uint8_t buf[BENCH_BUF];                             /* the packet, encrypted in place */
    uint32_t seq;                                       /* packet counter: RC4 key, IV */
    Crypto *crypto;                                     /* the protocol's crypto */
    Env env;                                            /* a do-nothing env for it */
} Bench;

/* A case: a function encrypting n packets of len bytes, AES keys rotating
 * over `streams` streams. */
typedef void (*BenchFn)(Bench *b, size_t len, uint32_t streams, uint32_t n);

typedef struct BenchCase {
    const char *cipher;  /* "rc4" or "aes" */
    const char *variant; /* what the path does per packet */
    size_t len;          /* packet bytes */
    uint32_t streams;    /* AES keys in rotation (1 for RC4) */
    BenchFn fn;          /* the path */
    BenchFn ref;         /* the old path, for the byte check */
    double *ns;          /* ns per packet of each batch, reps entries */
} BenchCase;

static void bench_charge(void *ctx, EnvCost op, size_t bytes)
{
    (void)ctx, (void)op, (void)bytes;
}
static const EnvOps bench_ops = {.version = ENV_VERSION, .charge_cpu = bench_charge};

static double bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t bench_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void bench_fill(uint8_t *p, size_t len, uint64_t *s)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)bench_mix(s);
}

/* The IV of packet seq of stream s, laid out as media.c's. */
static void bench_iv(uint8_t iv[16], uint32_t s, uint32_t seq)
{
    memset(iv, 0, 16);
    iv[0] = (uint8_t)(0x80 | (s >> 8)), iv[1] = (uint8_t)s;
    iv[2] = (uint8_t)(seq >> 24), iv[3] = (uint8_t)(seq >> 16);
    iv[4] = (uint8_t)(seq >> 8), iv[5] = (uint8_t)seq;
}

/* ---- RC4 ---- */

/* The path crypto.c took before it kept a context per cipher: set to RC4 again
 * (freeing and allocating the provider's context), then the key length,
 * then the key. */
static void rc4_old(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    (void)streams;
    int outl;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *key = b->rc4_key[b->seq++ % BENCH_RC4_KEYS];
        EVP_EncryptInit_ex2(b->ctx_old, b->rc4, NULL, NULL, NULL);
        EVP_CIPHER_CTX_set_key_length(b->ctx_old, BENCH_RC4_KEY);
        EVP_EncryptInit_ex2(b->ctx_old, NULL, key, NULL, NULL);
        EVP_EncryptUpdate(b->ctx_old, b->buf, &outl, b->buf, (int)len);
    }
}

/* A context kept set to RC4 with the key length: only the key per packet. */
static void rc4_key_only(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    (void)streams;
    int outl;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *key = b->rc4_key[b->seq++ % BENCH_RC4_KEYS];
        EVP_EncryptInit_ex2(b->ctx_rc4, NULL, key, NULL, NULL);
        EVP_EncryptUpdate(b->ctx_rc4, b->buf, &outl, b->buf, (int)len);
    }
}

/* The same key context, the bytes through EVP_Cipher (no update checks). */
static void rc4_key_only_cipher(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    (void)streams;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *key = b->rc4_key[b->seq++ % BENCH_RC4_KEYS];
        EVP_EncryptInit_ex2(b->ctx_rc4, NULL, key, NULL, NULL);
        EVP_Cipher(b->ctx_rc4, b->buf, b->buf, (unsigned)len);
    }
}

/* The deprecated low-level calls (no provider dispatch). */
static void rc4_low(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    (void)streams;
    RC4_KEY k;
    for (uint32_t i = 0; i < n; i++) {
        RC4_set_key(&k, BENCH_RC4_KEY, b->rc4_key[b->seq++ % BENCH_RC4_KEYS]);
        RC4(&k, len, b->buf, b->buf);
    }
}

static void rc4_api(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    (void)streams;
    for (uint32_t i = 0; i < n; i++)
        crypto_rc4(b->crypto, &b->env, b->rc4_key[b->seq++ % BENCH_RC4_KEYS], BENCH_RC4_KEY, b->buf,
                   len);
}

/* ---- AES-256-CTR ---- */

/* The path crypto.c took before it kept keyed contexts: cipher, key and IV
 * per packet. */
static void aes_old(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    int outl;
    uint8_t iv[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        EVP_EncryptInit_ex2(b->ctx_old, b->aes, b->aes_key[s], iv, NULL);
        EVP_EncryptUpdate(b->ctx_old, b->buf, &outl, b->buf, (int)len);
    }
}

/* A context kept set to AES-256-CTR: key and IV per packet. */
static void aes_rekey(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    int outl;
    uint8_t iv[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        EVP_EncryptInit_ex2(b->ctx_aes, NULL, b->aes_key[s], iv, NULL);
        EVP_EncryptUpdate(b->ctx_aes, b->buf, &outl, b->buf, (int)len);
    }
}

/* A context per stream, keyed once: only the IV per packet. */
static void aes_iv_only(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    int outl;
    uint8_t iv[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        EVP_EncryptInit_ex2(b->ctx_keyed[s], NULL, NULL, iv, NULL);
        EVP_EncryptUpdate(b->ctx_keyed[s], b->buf, &outl, b->buf, (int)len);
    }
}

/* AES_encrypt as the block function CRYPTO_ctr128_encrypt takes. */
static void aes_block(const unsigned char in[16], unsigned char out[16], const void *key)
{
    AES_encrypt(in, out, key);
}

static void aes_low_ctr(const AES_KEY *k, const uint8_t iv[16], uint8_t *buf, size_t len)
{
    uint8_t ctr[16], ecount[16];
    unsigned num = 0;
    memcpy(ctr, iv, 16);
    CRYPTO_ctr128_encrypt(buf, buf, len, k, ctr, ecount, &num, aes_block);
}

/* The deprecated low-level calls: key schedule and CTR per packet. */
static void aes_low_rekey(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    uint8_t iv[16];
    AES_KEY k;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        AES_set_encrypt_key(b->aes_key[s], 256, &k);
        aes_low_ctr(&k, iv, b->buf, len);
    }
}

/* The low-level calls with the key schedule kept per stream. */
static void aes_low_kept(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    uint8_t iv[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        aes_low_ctr(&b->aes_sched[s], iv, b->buf, len);
    }
}

static void aes_api(Bench *b, size_t len, uint32_t streams, uint32_t n)
{
    uint8_t iv[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = b->seq % streams;
        bench_iv(iv, s, b->seq++);
        crypto_aes256(b->crypto, &b->env, b->aes_key[s], iv, b->buf, len);
    }
}

/* ---- the run ---- */

static bool bench_init(Bench *b, uint32_t streams, FILE *out)
{
    uint64_t s = 18;
    b->lib = OSSL_LIB_CTX_new();
    b->prov_def = OSSL_PROVIDER_load(b->lib, "default");
    b->prov_leg = OSSL_PROVIDER_load(b->lib, "legacy");
    b->rc4 = EVP_CIPHER_fetch(b->lib, "RC4", NULL);
    b->aes = EVP_CIPHER_fetch(b->lib, "AES-256-CTR", NULL);
    GError *err = NULL;
    b->crypto = crypto_new(&err);
    if (!b->rc4 || !b->aes || !b->crypto) {
        fprintf(out, "cryptobench: %s\n", err ? err->message : "OpenSSL lacks RC4 or AES-256-CTR");
        g_clear_error(&err);
        return false;
    }
    b->env = (Env){.ops = &bench_ops, .ctx = NULL};
    b->ctx_old = EVP_CIPHER_CTX_new();
    b->ctx_rc4 = EVP_CIPHER_CTX_new();
    b->ctx_aes = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex2(b->ctx_rc4, b->rc4, NULL, NULL, NULL);
    EVP_CIPHER_CTX_set_key_length(b->ctx_rc4, BENCH_RC4_KEY);
    EVP_EncryptInit_ex2(b->ctx_aes, b->aes, NULL, NULL, NULL);
    for (uint32_t k = 0; k < BENCH_RC4_KEYS; k++)
        bench_fill(b->rc4_key[k], BENCH_RC4_KEY, &s);
    for (uint32_t k = 0; k < streams; k++) {
        bench_fill(b->aes_key[k], 32, &s);
        b->ctx_keyed[k] = EVP_CIPHER_CTX_new();
        EVP_EncryptInit_ex2(b->ctx_keyed[k], b->aes, b->aes_key[k], NULL, NULL);
        AES_set_encrypt_key(b->aes_key[k], 256, &b->aes_sched[k]);
    }
    return true;
}

static void bench_fini(Bench *b, uint32_t streams)
{
    for (uint32_t k = 0; k < streams; k++)
        EVP_CIPHER_CTX_free(b->ctx_keyed[k]);
    EVP_CIPHER_CTX_free(b->ctx_aes);
    EVP_CIPHER_CTX_free(b->ctx_rc4);
    EVP_CIPHER_CTX_free(b->ctx_old);
    crypto_free(b->crypto);
    EVP_CIPHER_free(b->aes);
    EVP_CIPHER_free(b->rc4);
    if (b->prov_leg) OSSL_PROVIDER_unload(b->prov_leg);
    if (b->prov_def) OSSL_PROVIDER_unload(b->prov_def);
    OSSL_LIB_CTX_free(b->lib);
}

/* Encrypts BENCH_CHECK packets from a fixed start with fn into got. */
static void bench_sequence(Bench *b, const BenchCase *c, BenchFn fn, uint8_t *got)
{
    uint64_t s = 7;
    bench_fill(b->buf, BENCH_BUF, &s);
    b->seq = 0;
    for (uint32_t i = 0; i < BENCH_CHECK; i++) {
        fn(b, c->len, c->streams, 1);
        memcpy(got + i * c->len, b->buf, c->len);
    }
}

static bool bench_check(Bench *b, const BenchCase *c, FILE *out)
{
    uint8_t *want = g_malloc(BENCH_CHECK * c->len), *got = g_malloc(BENCH_CHECK * c->len);
    bench_sequence(b, c, c->ref, want);
    bench_sequence(b, c, c->fn, got);
    bool same = memcmp(want, got, BENCH_CHECK * c->len) == 0;
    if (!same)
        fprintf(out, "cryptobench: %s %zu B \"%s\" (%u streams): bytes differ from the old path\n",
                c->cipher, c->len, c->variant, c->streams);
    g_free(want);
    g_free(got);
    return same;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_report(const BenchCase *c, uint32_t reps, FILE *out)
{
    qsort(c->ns, reps, sizeof c->ns[0], bench_cmp_double);
    double med = reps % 2 ? c->ns[reps / 2] : (c->ns[reps / 2 - 1] + c->ns[reps / 2]) / 2;
    fprintf(out, "%-4s %4zu B %5u  %-52s %8.1f %8.1f %8.1f\n", c->cipher, c->len, c->streams,
            c->variant, med, c->ns[0], c->ns[reps - 1]);
}

/* Appends the cases of one packet size to cases; returns the new count. */
static size_t bench_cases(BenchCase *cases, size_t n, size_t len, uint32_t many, bool rc4)
{
    static const char v_old[] = "old: cipher, key length, key set per packet";
    if (rc4) {
        cases[n++] = (BenchCase){"rc4", v_old, len, 1, rc4_old, rc4_old, NULL};
        cases[n++] = (BenchCase){
            "rc4", "EVP, key only (context kept on RC4)", len, 1, rc4_key_only, rc4_old, NULL};
        cases[n++] = (BenchCase){
            "rc4", "EVP, key only, EVP_Cipher", len, 1, rc4_key_only_cipher, rc4_old, NULL};
        cases[n++] = (BenchCase){
            "rc4", "low-level RC4_set_key + RC4 (deprecated)", len, 1, rc4_low, rc4_old, NULL};
        cases[n++] = (BenchCase){"rc4", "crypto_rc4() as built", len, 1, rc4_api, rc4_old, NULL};
        return n;
    }
    static const char v_aold[] = "old: cipher, key and IV set per packet";
    cases[n++] = (BenchCase){"aes", v_aold, len, many, aes_old, aes_old, NULL};
    cases[n++] = (BenchCase){
        "aes", "EVP, key + IV (context kept on AES)", len, many, aes_rekey, aes_old, NULL};
    for (int one = 1; one >= 0; one--) {
        uint32_t st = one ? 1 : many;
        cases[n++] = (BenchCase){
            "aes", "EVP, IV only (a keyed context per stream)", len, st, aes_iv_only, aes_old,
            NULL};
    }
    cases[n++] = (BenchCase){
        "aes", "low-level, key schedule per packet (deprecated)", len, many, aes_low_rekey, aes_old,
        NULL};
    cases[n++] = (BenchCase){
        "aes", "low-level, key schedule per stream (deprecated)", len, many, aes_low_kept, aes_old,
        NULL};
    /* One stream (a lone call), 16 (media of a handful of calls), many. */
    const uint32_t api_streams[3] = {1, 16, many};
    for (int i = 0; i < 3; i++)
        cases[n++] = (BenchCase){
            "aes", "crypto_aes256() as built", len, api_streams[i], aes_api, aes_old, NULL};
    return n;
}

int cryptobench_run(const CryptobenchConfig *cfg, FILE *out)
{
    static const size_t rc4_len[] = {40, 200}, aes_len[] = {67, 160};
    Bench *b = g_new0(Bench, 1);
    if (!bench_init(b, cfg->streams, out)) {
        bench_fini(b, cfg->streams);
        g_free(b);
        return 1;
    }
    BenchCase cases[64];
    size_t n = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rc4_len); i++)
        n = bench_cases(cases, n, rc4_len[i], 1, true);
    for (size_t i = 0; i < G_N_ELEMENTS(aes_len); i++)
        n = bench_cases(cases, n, aes_len[i], cfg->streams, false);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        cases[i].ns = g_new0(double, cfg->reps);
        if (!bench_check(b, &cases[i], out)) rc = 1;
    }
    fprintf(out, "crypto packets=%u reps=%u streams=%u (ns per packet: median, min, max)\n",
            cfg->packets, cfg->reps, cfg->streams);
    for (uint32_t r = 0; r < cfg->reps && rc == 0; r++) {
        for (size_t i = 0; i < n; i++) {
            double t0 = bench_wall_ns();
            cases[i].fn(b, cases[i].len, cases[i].streams, cfg->packets);
            cases[i].ns[r] = (bench_wall_ns() - t0) / cfg->packets;
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        bench_report(&cases[i], cfg->reps, out);
    for (size_t i = 0; i < n; i++)
        g_free(cases[i].ns);
    bench_fini(b, cfg->streams);
    g_free(b);
    return rc;
}
