/* simcalibrate: measures on this machine the real code paths whose cost the
 * protocol charges through env_charge_cpu (DESIGN.md "Cost accounting"), and writes the
 * calibration file the world reads (envsim_cost_load; scenario key
 * "calibration").
 *
 * Layer: front end over sim/world (envsim cost names), protocol/crypto
 * (the very functions the protocol runs) and libopus. Each EnvCost is
 * modelled as per_op_ns + per_byte_ns * bytes, with "bytes" as env.h
 * defines it; the two numbers are a least-squares line through timings at
 * several sizes (clamped to >= 0):
 *   rc4, aes256, hash (SHA-256): 16, 256, 4096-byte buffers;
 *   rsa_sign, rsa_verify: 1024, 1536 and 2048-bit keys (bytes = modulus
 *     bytes; a straight line through a cubic law, fine over that range);
 *   rsa_keygen: 1024 bits only (the per-login user key, a15): per_op 0,
 *     per_byte = mean time / 128 (the mean of several keys: the prime
 *     search is random);
 *   opus_encode: 16 kHz mono VoIP at 24 kb/s, 10/20/40 ms frames (bytes =
 *     PCM bytes in);
 *   opus_decode: 20 ms frames at 12/24/48/96 kb/s (bytes = packet bytes);
 *   g729_encode, g729_decode: bcg729 (G.729 Annex A), 8 kHz, its one frame
 *     size (10 ms: 160 PCM bytes in, 10 bytes out), so per_op only.
 * Each point is the best of 3 runs of at least 20 ms of this thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID, so other processes sharing the machine do
 * not inflate it): a throughput figure of one warm core.
 *
 * Usage: simcalibrate OUT.json   ("-" writes to stdout). The file is
 * written under a temporary name and renamed when complete.
 */
#include <cjson/cJSON.h>
#include <glib.h>
#include <math.h>
#include <openssl/crypto.h>
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <opus.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "protocol/crypto.h"
#include "sim/buildinfo/buildinfo.h"
#include "sim/world/jsonin.h"
#include "sim/world/envsim.h"

#define CAL_MIN_NS 20000000.0 /* shortest timed run, ns */
#define CAL_TRIALS 3          /* runs per point; the fastest counts */
#define CAL_POINTS_MAX 4      /* sizes per cost */

/* ---- a minimal env: the crypto calls need only randomness and charging ---- */

static uint64_t cal_random(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void cal_charge(void *ctx, EnvCost op, size_t bytes)
{
    (void)ctx;
    (void)op;
    (void)bytes;
}
static const EnvOps cal_ops = {
    .version = ENV_VERSION, .random_u64 = cal_random, .charge_cpu = cal_charge};

/* What one timed call works on. */
typedef struct Cal {
    Crypto *crypto;         /* the protocol's crypto context */
    Env env;                /* the minimal env */
    uint64_t rng;           /* its random state */
    uint8_t buf[4096];      /* data to encrypt or hash */
    CryptoKey *key;         /* RSA key of the current point */
    uint8_t sig[256];       /* a signature by key */
    size_t siglen;          /* its length, bytes */
    OpusEncoder *enc;       /* 16 kHz encoder */
    OpusDecoder *dec;       /* 16 kHz decoder */
    int16_t pcm[16000];     /* 1 s of signal */
    size_t pcm_at;          /* next frame's offset in pcm, samples */
    uint8_t pkt[20][400];   /* encoded 20 ms frames for decoding */
    opus_int32 pkt_len[20]; /* their lengths, bytes */
    bcg729EncoderChannelContextStruct *g729e; /* G.729 encoder */
    bcg729DecoderChannelContextStruct *g729d; /* G.729 decoder */
    uint8_t g729[100][10];                    /* 1 s of encoded 10 ms frames */
} Cal;

typedef void (*CalFn)(Cal *c, size_t bytes);

/* This thread's CPU time, ns. */
static double cal_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per call of fn(c, bytes): the best of CAL_TRIALS runs of >= CAL_MIN_NS. */
static double cal_time(Cal *c, CalFn fn, size_t bytes)
{
    double best = INFINITY;
    for (int t = 0; t < CAL_TRIALS; t++) {
        unsigned long n = 0;
        double t0 = cal_now_ns(), el = 0;
        while (el < CAL_MIN_NS) {
            fn(c, bytes);
            n++;
            el = cal_now_ns() - t0;
        }
        best = MIN(best, el / (double)n);
    }
    return best;
}

/* Least-squares line t = a + b x through n points, both clamped to >= 0. */
static void cal_fit(const double *x, const double *t, int n, double *a, double *b)
{
    double mx = 0, mt = 0, sxx = 0, sxt = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i] / n;
        mt += t[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxt += (x[i] - mx) * (t[i] - mt);
    }
    *b = sxx > 0 ? sxt / sxx : 0;
    *a = mt - *b * mx;
    if (*b < 0) {
        *b = 0;
        *a = mt;
    }
    if (*a < 0) {
        double sx2 = 0, sx = 0;
        for (int i = 0; i < n; i++) {
            sx2 += x[i] * x[i];
            sx += x[i] * t[i];
        }
        *a = 0;
        *b = sx / sx2;
    }
}

/* ---- the timed calls ------------------------------------------------------ */

static void cal_rc4(Cal *c, size_t n)
{
    crypto_rc4(c->crypto, &c->env, c->buf + 100, 16, c->buf, n);
}
static void cal_aes(Cal *c, size_t n)
{
    crypto_aes256(c->crypto, &c->env, c->buf + 200, c->buf + 300, c->buf, n);
}
static void cal_hash(Cal *c, size_t n)
{
    uint8_t out[32];
    crypto_sha256(c->crypto, &c->env, c->buf, n, NULL, 0, out);
}
static void cal_sign(Cal *c, size_t n)
{
    (void)n;
    c->siglen = crypto_rsa_sign(c->crypto, &c->env, c->key, c->buf, 32, c->sig, sizeof c->sig);
}
static void cal_verify(Cal *c, size_t n)
{
    (void)n;
    if (!crypto_rsa_verify(c->crypto, &c->env, c->key, c->buf, 32, c->sig, c->siglen))
        g_error("simcalibrate: a signature does not verify");
}
static void cal_keygen(Cal *c, size_t n)
{
    crypto_key_free(crypto_rsa_keygen(c->crypto, &c->env, (unsigned)n * 8));
}
static void cal_encode(Cal *c, size_t pcm_bytes)
{
    int spf = (int)(pcm_bytes / 2);
    if (c->pcm_at + (size_t)spf > G_N_ELEMENTS(c->pcm)) c->pcm_at = 0;
    uint8_t out[1500];
    if (opus_encode(c->enc, c->pcm + c->pcm_at, spf, out, sizeof out) <= 0)
        g_error("simcalibrate: opus_encode failed");
    c->pcm_at += (size_t)spf;
}
static void cal_decode(Cal *c, size_t n)
{
    (void)n;
    int16_t out[320];
    size_t i = c->pcm_at++ % 20;
    if (opus_decode(c->dec, c->pkt[i], c->pkt_len[i], out, 320, 0) != 320)
        g_error("simcalibrate: opus_decode failed");
}

static void cal_g729_encode(Cal *c, size_t pcm_bytes)
{
    (void)pcm_bytes; /* bcg729 has one frame size: 80 samples */
    if (c->pcm_at + 80 > 8000) c->pcm_at = 0;
    uint8_t out[10], n = 0;
    bcg729Encoder(c->g729e, c->pcm + c->pcm_at, out, &n);
    if (n != 10) g_error("simcalibrate: bcg729 frame of %u bytes", n);
    c->pcm_at += 80;
}
static void cal_g729_decode(Cal *c, size_t n)
{
    (void)n;
    int16_t out[80];
    bcg729Decoder(c->g729d, c->g729[c->pcm_at++ % 100], 10, 0, 0, 0, out);
}

/* ---- per cost ------------------------------------------------------------- */

/* Times fn at sizes x[0..n) and fits cost op into cost. */
static void cal_point_fit(Cal *c, CalFn fn, const double *x, int n, EnvSimCost *cost, EnvCost op)
{
    double t[CAL_POINTS_MAX];
    for (int i = 0; i < n; i++)
        t[i] = cal_time(c, fn, (size_t)x[i]);
    cal_fit(x, t, n, &cost->per_op_ns[op], &cost->per_byte_ns[op]);
}

static void cal_rsa(Cal *c, EnvSimCost *cost)
{
    double x[3] = {128, 192, 256}, ts[3], tv[3];
    for (int i = 0; i < 3; i++) {
        c->key = crypto_rsa_keygen(c->crypto, &c->env, (unsigned)x[i] * 8);
        ts[i] = cal_time(c, cal_sign, 0);
        tv[i] = cal_time(c, cal_verify, 0);
        crypto_key_free(c->key);
    }
    cal_fit(x, ts, 3, &cost->per_op_ns[ENV_COST_RSA_SIGN], &cost->per_byte_ns[ENV_COST_RSA_SIGN]);
    cal_fit(x, tv, 3, &cost->per_op_ns[ENV_COST_RSA_VERIFY],
            &cost->per_byte_ns[ENV_COST_RSA_VERIFY]);
    double t0 = cal_now_ns();
    for (int i = 0; i < 16; i++)
        cal_keygen(c, 128);
    cost->per_op_ns[ENV_COST_RSA_KEYGEN] = 0;
    cost->per_byte_ns[ENV_COST_RSA_KEYGEN] = (cal_now_ns() - t0) / 16 / 128;
}

/* Opus: a harmonic test signal with a 4 Hz envelope, then encode and
 * decode lines. */
static void cal_opus(Cal *c, EnvSimCost *cost)
{
    int oerr;
    c->enc = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &oerr);
    c->dec = opus_decoder_create(16000, 1, &oerr);
    if (!c->enc || !c->dec) g_error("simcalibrate: opus: %s", opus_strerror(oerr));
    for (size_t i = 0; i < G_N_ELEMENTS(c->pcm); i++) {
        double t = (double)i / 16000, v = 0;
        for (int k = 1; k < 40; k++)
            v += sin(2 * M_PI * 150 * k * t) / k;
        c->pcm[i] = (int16_t)lrint(8000 * v * 0.5 * (1 - cos(2 * M_PI * 4 * t)) / 2.5);
    }
    opus_encoder_ctl(c->enc, OPUS_SET_BITRATE(24000));
    const double enc_x[3] = {320, 640, 1280};
    cal_point_fit(c, cal_encode, enc_x, 3, cost, ENV_COST_OPUS_ENCODE);
    const int rates[4] = {12000, 24000, 48000, 96000};
    double x[4], t[4];
    for (int r = 0; r < 4; r++) {
        opus_encoder_ctl(c->enc, OPUS_SET_BITRATE(rates[r]));
        double sum = 0;
        for (int i = 0; i < 20; i++) {
            c->pkt_len[i] = opus_encode(c->enc, c->pcm + 320 * (i + 10), 320, c->pkt[i], 400);
            sum += c->pkt_len[i];
        }
        x[r] = sum / 20;
        t[r] = cal_time(c, cal_decode, 0);
    }
    cal_fit(x, t, 4, &cost->per_op_ns[ENV_COST_OPUS_DECODE],
            &cost->per_byte_ns[ENV_COST_OPUS_DECODE]);
    opus_encoder_destroy(c->enc);
    opus_decoder_destroy(c->dec);
}

/* G.729: the first second of the opus test signal (cal_opus fills it),
 * read as 8 kHz samples. One frame size, so one point each: per_op. */
static void cal_g729(Cal *c, EnvSimCost *cost)
{
    c->g729e = initBcg729EncoderChannel(0);
    c->g729d = initBcg729DecoderChannel();
    if (!c->g729e || !c->g729d) g_error("simcalibrate: bcg729 channel init failed");
    for (int f = 0; f < 100; f++) {
        uint8_t n = 0;
        bcg729Encoder(c->g729e, c->pcm + 80 * f, c->g729[f], &n);
    }
    c->pcm_at = 0;
    cost->per_op_ns[ENV_COST_G729_ENCODE] = cal_time(c, cal_g729_encode, 160);
    cost->per_byte_ns[ENV_COST_G729_ENCODE] = 0;
    c->pcm_at = 0;
    cost->per_op_ns[ENV_COST_G729_DECODE] = cal_time(c, cal_g729_decode, 10);
    cost->per_byte_ns[ENV_COST_G729_DECODE] = 0;
    closeBcg729EncoderChannel(c->g729e);
    closeBcg729DecoderChannel(c->g729d);
}

static void cal_measure(Cal *c, EnvSimCost *cost)
{
    const double sizes[3] = {16, 256, 4096};
    cal_point_fit(c, cal_rc4, sizes, 3, cost, ENV_COST_RC4);
    cal_point_fit(c, cal_aes, sizes, 3, cost, ENV_COST_AES256);
    cal_point_fit(c, cal_hash, sizes, 3, cost, ENV_COST_HASH);
    cal_rsa(c, cost);
    cal_opus(c, cost);
    cal_g729(c, cost);
}

/* ---- output --------------------------------------------------------------- */

/* The CPU model line of /proc/cpuinfo, or "unknown" (newly allocated). */
static char *cal_cpu_model(void)
{
    gchar *text = NULL;
    char *model = NULL;
    if (g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL)) {
        const char *m = strstr(text, "model name");
        const char *colon = m ? strchr(m, ':') : NULL;
        if (colon) model = g_strstrip(g_strndup(colon + 1, strcspn(colon + 1, "\n")));
    }
    g_free(text);
    return model ? model : g_strdup("unknown");
}

static cJSON *cal_machine(void)
{
    cJSON *m = cJSON_CreateObject();
    char *cpu = cal_cpu_model();
    struct utsname u;
    uname(&u);
    GDateTime *now = g_date_time_new_now_utc();
    char *date = g_date_time_format_iso8601(now);
    cJSON_AddStringToObject(m, "cpu", cpu);
    cJSON_AddNumberToObject(m, "cores", g_get_num_processors());
    cJSON_AddStringToObject(m, "os", u.sysname);
    cJSON_AddStringToObject(m, "kernel", u.release);
    cJSON_AddStringToObject(m, "arch", u.machine);
    cJSON_AddStringToObject(m, "openssl", OpenSSL_version(OPENSSL_VERSION));
    cJSON_AddStringToObject(m, "opus", opus_get_version_string());
    cJSON_AddStringToObject(m, "date", date);
    cJSON_AddStringToObject(m, "method",
                            "simcalibrate: best of 3 runs of >= 20 ms thread CPU time per point, "
                            "one core, least-squares per_op + per_byte * bytes");
    g_free(date);
    g_date_time_unref(now);
    g_free(cpu);
    return m;
}

static cJSON *cal_json(const EnvSimCost *cost)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "skysim-calibration/1");
    cJSON_AddItemToObject(root, "machine", cal_machine());
    cJSON *costs = cJSON_AddObjectToObject(root, "costs");
    for (int i = 0; i < ENV_COST_COUNT; i++) {
        cJSON *one = cJSON_AddObjectToObject(costs, envsim_cost_name((EnvCost)i));
        cJSON_AddNumberToObject(one, "per_op_ns", round(cost->per_op_ns[i] * 1000) / 1000);
        cJSON_AddNumberToObject(one, "per_byte_ns", round(cost->per_byte_ns[i] * 1000) / 1000);
    }
    return root;
}

/* Writes text to path atomically ("-": stdout). */
static bool cal_write(const char *path, const char *text)
{
    if (strcmp(path, "-") == 0) return fputs(text, stdout) >= 0;
    GError *err = NULL;
    if (g_file_set_contents(path, text, -1, &err)) return true; /* temp file + rename */
    fprintf(stderr, "simcalibrate: %s\n", err->message);
    g_error_free(err);
    return false;
}

/* Parses the command line; returns -1 to go on (*out: the output path),
 * else the exit status (--help, --version, bad arguments). */
static int cal_args(int argc, char **argv, const char **out)
{
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"version", 0, 0, G_OPTION_ARG_NONE, &version,
         "Print the version, git commit, build and libraries, then exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("OUT.json - measure per-operation CPU costs");
    g_option_context_set_summary(ctx,
        "Times the crypto and codec operations the simulator charges CPU for on\n"
        "this machine and writes a calibration file (\"-\": standard output) that a\n"
        "scenario's cpu.calibration key can name.\n\n"
        "Exit status: 0 done, 2 bad arguments, 1 internal error.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int rc = -1;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        jsonin_eprint("simcalibrate: ", err->message, " (see simcalibrate --help)");
        g_error_free(err);
        rc = 2;
    } else if (version) {
        buildinfo_print(stdout, "simcalibrate");
        rc = 0;
    } else if (argc != 2) {
        fprintf(stderr,
                "simcalibrate: expected one output file (\"-\": stdout); found %d arguments (see "
                "simcalibrate --help)\n",
                argc - 1);
        rc = 2;
    } else {
        *out = argv[1];
    }
    g_option_context_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int rc = cal_args(argc, argv, &path);
    if (rc >= 0) return rc;
    GError *err = NULL;
    Cal *c = g_new0(Cal, 1);
    c->crypto = crypto_new(&err);
    if (!c->crypto) {
        fprintf(stderr, "simcalibrate: %s\n", err->message);
        return 1;
    }
    c->rng = 1;
    c->env = (Env){.ops = &cal_ops, .ctx = &c->rng};
    for (size_t i = 0; i < sizeof c->buf; i++)
        c->buf[i] = (uint8_t)(i * 31 + 7);
    EnvSimCost cost;
    cal_measure(c, &cost);
    cJSON *root = cal_json(&cost);
    char *text = cJSON_Print(root);
    GString *out = g_string_new(text);
    g_string_append_c(out, '\n');
    bool ok = cal_write(path, out->str);
    g_string_free(out, TRUE);
    cJSON_free(text);
    cJSON_Delete(root);
    crypto_free(c->crypto);
    g_free(c);
    return ok ? 0 : 1;
}
