/* media: the voice stream of a call (a33-a39): codec, packet
 * format, AES-256 encryption, FEC, and the receiver's quality figures.
 *
 * Layer: protocol/ (env.h, crypto.h, libopus, bcg729). Contract:
 * protocol/media.h.
 *
 * Codec. libopus (OPUS and SKYPE2004 profiles) or bcg729 (G729 profile)
 * really runs, on a synthetic speech-like signal: a harmonic
 * voice (f0 110..190 Hz with a slow vibrato, 1/k harmonics up to 7 kHz)
 * under a syllabic envelope (4 Hz), in talk spurts and silences of
 * 0.4..1.6 s (after Brady's on/off speech model), over background noise
 * at -50 dB; all from a deterministic generator seeded once per world from
 * the world env's random stream. To keep large runs fast, MediaShared
 * encodes, once per world and lazily on first use, a loop of MEDIA_LOOP_NS
 * of that signal per (profile, bit rate, frame) (at most MEDIA_LOOPS_MAX
 * loops), and every sender replays the loop from its own random offset.
 * The encoding cost is still charged per frame at the sender
 * (the codec's encode cost, media_cost_encode, with the frame's PCM bytes,
 * 16-bit mono), and the decoding cost per packet at the receiver
 * (media_cost_decode, with the codec bytes used); the decoder really runs once over each loop when it
 * is built (a check that the loop decodes). That is "replay" execution
 * (MediaConfig.replay). In "frames" execution each sender has its own
 * source, seeded per call, and its own encoder, and every frame is
 * encoded; each receiver has its own decoder and decodes every frame that
 * arrives (the 2004 profile's blocks first put back into frames, below),
 * concealing the missing ones with the codec's PLC. The charged costs are
 * the same per frame in both.
 *
 * Packet format (all integers big-endian):
 *   clear:      stream id (2 B, top bit set) | sequence number (2 B)
 *   encrypted:  send time (5 B, virtual µs) | flags (1 B) | check (2 B)
 *               | body
 *   body:       OPUS/G729: frame length (2 B) | frame | [FEC: the previous
 *               frame]; SKYPE2004: 52 codec bytes; on hold: empty.
 * The same packet goes over UDP and TCP: the transports put the 3-byte
 * frame header (frame id, function; MEDIA_FRAME_HDR, a18) in front of it
 * over UDP, and a TCP frame (2-byte length, version, type) in place of
 * the frame id over TCP (wire.h, WIRE_CALL_MEDIA). The 8-byte encrypted
 * header plays the role of the framer header of a39's size model. The receiver extends the 16-bit sequence number to 32 bits (the
 * one nearest to the highest seen, as RTP does). Encryption is AES-256-CTR
 * (crypto_aes256, charged as ENV_COST_AES256) with IV = stream id | 32-bit
 * sequence | zeros, so the two directions of a call, which share the key,
 * never reuse a keystream (distinct random stream ids; 1/32768 chance of a
 * clash). check = the low 16 bits of CRC-32 over the plaintext (send time,
 * flags, body): a packet under a wrong key fails it (probability 1 - 2^-16),
 * and is dropped and counted (MediaStats.packets_bad, metric
 * "media.bad_packets").
 *
 * The 2004 profile (docs/protocol-notes.md a33, a34, a39). a34: ~140 packets/s both
 * ways, so 70/s each way: interval 1/70 s = 14.2857 ms (14,285,714 ns).
 * a33: 67 B UDP payload = frame header 3 + clear header 4 + encrypted
 * header 8 + 52 codec bytes, so a codec rate of 52 B * 70/s = 29.12 kb/s,
 * inside iSAC's 10..32 kb/s (a38) (a39's mu = (Rate*dT + 8 B)*RF + 4 B
 * with RF = 1 and our 7 bytes of clear headers in place of its 4). Opus
 * cannot frame 14.29 ms, so the codec runs CBR with 20 ms frames of 72
 * then four of 73 bytes (the encoder's output capped per frame) and the
 * framer cuts that byte stream into 52-byte blocks: 5 frames (100 ms,
 * 364 B) make exactly 7 packets. Each packet says in bits 4..6 of its
 * flags which block of its group of 7 it is (inside the encrypted
 * header: sizes unchanged), so that a receiver in frames execution puts
 * the blocks back into the 5 frames of the group and decodes them with
 * opus; a frame with a block missing is concealed (PLC), as is every
 * frame of a group that never came; a group is played when its last block
 * arrives or a later group's does. Over TCP the frame id gives way to the
 * TCP frame's 2-byte length, version and type: 67 - 2 + 4 = 69 B (a33).
 * The profile ignores MediaConfig.bitrate_bps, frame_ns and fec (it is the
 * measured shape).
 *
 * The G729 profile (the phone gateway, a38: "G.729 for SkypeOut", 10 ms
 * frames at 8 kb/s) runs bcg729 (Belledonne's G.729 Annex A codec) at
 * 8 kHz: every 10 ms frame of 80 samples becomes bcg729's 10-byte
 * bitstream, VAD off (no SID or empty frames: packets keep flowing, a35).
 * A packet carries exactly one frame, so 100 packets/s each way of 12 +
 * 2 + 10 = 24 bytes (plus 10 with FEC): media_config_fix pins frame_ns to
 * 10 ms for this profile whatever the scenario's media.frame says, because
 * a38 gives the frame and nothing in the notes groups G.729 frames (a39's
 * 20..60 ms framing intervals were seen on end-to-end iSAC calls, not on
 * SkypeOut). The receiver decodes every frame with its own bcg729 decoder
 * and conceals a missing one with G.729's erasure concealment (the
 * decoder called with the frame-erasure flag). bcg729 allocates its
 * encoder and decoder contexts itself, so they are not in a node's
 * counted memory. Its CPU is charged as ENV_COST_G729_ENCODE and
 * ENV_COST_G729_DECODE (simcalibrate measures bcg729 itself).
 * On hold: one header-only packet every 1/3 s (a36), flagged HOLD by the
 * end that put the call on hold (the other end learns it from them and
 * answers with packets flagged HELD, at the same rate). Silence:
 * packets keep flowing (a35) unless silence_suppression is set, in which
 * case frames of silence are not sent (their encoding is still charged: the
 * encoder's VAD runs on them).
 *
 * FEC (OPUS and G729 profiles): each packet also carries a copy of the
 * previous frame (a39's RF = 2): one isolated loss is recovered by the next
 * packet, a burst of two or more loses all but the last. In-band FEC
 * (fec_inband, opus only): the encoder runs with OPUS_SET_INBAND_FEC and
 * an expected loss of MEDIA_INBAND_LOSS_PERC, and puts a low-rate copy of
 * the previous frame (LBRR) inside the frame when it codes speech in
 * its SILK layer, within the same bit rate (no extra bytes: the main
 * frame gets fewer); the receiver decodes a missing frame from the next
 * packet with decode_fec = 1 when that packet's frame says it has LBRR
 * (media_opus_has_lbrr). Frames coded by the CELT layer alone carry none.
 *
 * Receiver. Loss after FEC is decided over a 64-packet window: a sequence
 * number that leaves it unreceived and unrecovered is lost; packets later
 * than the window are counted as received but do not undo the loss. Delay:
 * env_now() - send time (the sender's and receiver's clocks are the same
 * virtual clock). Jitter: RFC 3550 §6.4.1, J += (|D| - J)/16 with D the
 * change in transit time between consecutive arrivals.
 *
 * E-model (ITU-T G.107 (06/2015), narrowband): R = Ro - Is - Id - Ie,eff + A
 * with every parameter at its default (Table 2: SLR 8, RLR 2, STMR 15,
 * LSTR 18, Ds = Dr 3, TELR 65, WEPL 110, qdu 1, Nc -70, Nfor -64, Ps = Pr
 * 35, A 0), which gives Ro = 94.77 and Is = 1.41. Id = Idte + Idle + Idd is
 * computed with T = Ta = the mouth-to-ear delay and Tr = 2T: the mean
 * one-way network delay + the sender's codec frame, look-ahead and
 * packetisation (media_codec_delay_ns) + the mean delay of an adaptive
 * jitter buffer (4 times the running RFC 3550 jitter estimate, at least
 * one packet interval, averaged over the packets received). MediaStats
 * carries each input (delays, loss, Ie,eff) beside R and MOS. Ie,eff = Ie + (95 - Ie) * Ppl /
 * (Ppl/BurstR + Bpl), Ppl = loss after FEC in percent, BurstR = (mean
 * length of loss bursts) * (1 - Ppl/100) (1 for random loss). MOS from R
 * per G.107 Annex B. Codec values (our choice, documented):
 *   G729:      Ie 11, Bpl 19 (G.113 Appendix I, G.729A + VAD: bcg729 is
 *              G.729 Annex A, and that row is the G.729 family's only
 *              one with a Bpl; without VAD G.113 gives plain G.729 Ie 10);
 *   OPUS:      Ie 0, Bpl 25.1 (wideband at >= 16 kb/s is transparent on the
 *              narrowband scale; packet-loss concealment like G.711 with PLC,
 *              whose G.113 Bpl is 25.1);
 *   SKYPE2004: Ie 0, Bpl 20 (iSAC at 29.1 kb/s; no G.113 entry: a weaker
 *              concealment than opus assumed).
 */
#include "protocol/media.h"
#include "protocol/metric_table.h"

#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <math.h>
#include <opus.h>
#include <string.h>

#include "protocol/crypto.h"

#define MEDIA_LOOP_NS (8 * TIMENS_S)     /* audio in one pre-encoded loop, ns */
#define MEDIA_LOOPS_MAX 8                /* loops per world */
#define MEDIA_FRAME_MAX 600              /* largest encoded frame, bytes (2 fit in a packet) */
#define MEDIA_CLEAR 4                    /* clear header bytes */
#define MEDIA_HDR 12                     /* clear + encrypted header bytes */
#define MEDIA_PKT_MAX ENV_UDP_MAX        /* largest payload handled, bytes */
#define MEDIA_2004_BLOCK 52              /* codec bytes per 2004 packet */
#define MEDIA_2004_GROUP 364             /* 5 frames of 20 ms = 7 blocks, bytes */
#define MEDIA_2004_INTERVAL_NS 14285714  /* 1/70 s, ns (a34) */
#define MEDIA_2004_BITRATE 29120         /* 52 B * 70/s * 8, bit/s */
#define MEDIA_HOLD_INTERVAL_NS 333333333 /* 3 packets/s on hold (a36), ns */
#define MEDIA_WIN 64                     /* loss-decision window, packets */
#define MEDIA_SPF_MAX 960                /* samples per frame at most (16 kHz, 60 ms) */
#define MEDIA_PLC_MAX 50                 /* missing frames concealed one by one at most */
#define MEDIA_COMPLEXITY 3               /* opus complexity of the per-call encoders (0..10):
                                            a VoIP client's choice on a modest CPU; the
                                            charged cost comes from the calibration table */
#define MEDIA_G729_FRAME 10              /* bcg729's bytes per 10 ms frame (8 kb/s) */
#define MEDIA_FLAG_FEC 0x01              /* body carries the previous frame */
#define MEDIA_INBAND_LOSS_PERC 10        /* in-band FEC: the loss the encoder is told to expect */
#define MEDIA_FLAG_HOLD 0x02             /* on-hold keepalive, empty body: the sender holds */
#define MEDIA_FLAG_HELD 0x04             /* on-hold keepalive, empty body: the receiver holds */
#define MEDIA_FLAG_POS_SHIFT 4           /* 2004: bits 4..6 of flags: the block's place 0..6 in
                                            its group of 7 blocks (5 frames) */
#define MEDIA_2004_BLOCKS 7              /* blocks per group of 5 frames */

/* One pre-encoded loop of the synthetic signal. */
typedef struct MediaLoop {
    MediaProfile profile; /* key: profile */
    uint32_t bitrate_bps; /* key: codec bit rate, bit/s */
    TimeNs frame_ns;      /* key: frame duration, ns */
    bool fec_inband;      /* key: opus in-band FEC */
    uint32_t frames;      /* frames in the loop */
    size_t pcm_bytes;     /* PCM bytes per frame (16-bit mono), bytes */
    uint32_t *off;        /* start of each frame in data, bytes (frames + 1 entries) */
    uint8_t *voiced;      /* per frame: 1 in a talk spurt, 0 in silence */
    uint8_t *data;        /* the encoded frames, concatenated */
} MediaLoop;

/* The loops built so far (mutable behind a const MediaShared). */
typedef struct MediaLoopTable {
    unsigned n;                      /* loops built */
    MediaLoop loop[MEDIA_LOOPS_MAX]; /* the loops */
} MediaLoopTable;

struct MediaShared {
    Crypto *crypto;      /* AES-256 for every stream of the world */
    uint64_t seed;       /* signal generator seed (from the world env) */
    MediaLoopTable *tab; /* lazily built loops */
    EnvMetric m_bad;     /* metric "media.bad_packets" */
};

/* The synthetic speech source: its whole state (a loop's, or one
 * sender's in frames execution, seeded per call). */
typedef struct MediaSignal {
    uint64_t s;           /* splitmix64 state */
    uint64_t i;           /* samples produced so far */
    uint64_t next_switch; /* sample of the next talk/silence switch */
    double phase, f0;     /* voice phase (rad), fundamental (Hz) */
    bool talking;         /* in a talk spurt */
} MediaSignal;

/* Frames execution: a sender's own source and encoder (env_mem_alloc'd on
 * the first frame: ~30 KB with the encoder). */
typedef struct MediaTxFrames {
    OpusEncoder *enc;              /* OPUS, 2004: env_mem_alloc'd, opus_encoder_get_size(1) B */
    bcg729EncoderChannelContextStruct *g729; /* G729: bcg729's encoder (allocated by bcg729,
                                                not counted in the node's memory) */
    MediaSignal sig;               /* the call's source */
    int fs, spf;                   /* sample rate (Hz), samples per frame */
    uint32_t frames;               /* frames encoded */
    uint16_t prev_len;             /* bytes of prev (the FEC copy), 0: none */
    uint16_t sbuf_len;             /* 2004: encoded bytes not sent yet */
    uint32_t blocks;               /* 2004: blocks sent */
    uint8_t prev[MEDIA_FRAME_MAX]; /* the frame sent last */
    uint8_t sbuf[2 * 73];          /* 2004: the byte stream the framer cuts */
    int16_t pcm[MEDIA_SPF_MAX];    /* the last source frame */
} MediaTxFrames;

/* Frames execution: a receiver's decoder (env_mem_alloc'd on the first
 * frame). */
struct MediaDec {
    OpusDecoder *opus;                       /* OPUS: env_mem_alloc'd, opus_decoder_get_size(1) B */
    bcg729DecoderChannelContextStruct *g729; /* G729: bcg729's decoder (allocated by bcg729,
                                                not counted in the node's memory) */
    int spf;                                 /* samples per frame */
};

struct MediaEnc {
    OpusEncoder *opus;                       /* OPUS: env_mem_alloc'd, opus_encoder_get_size(1) B */
    bcg729EncoderChannelContextStruct *g729; /* G729: bcg729's encoder (allocated by bcg729) */
    int spf;                                 /* samples per frame */
};

typedef struct MediaRxFrames {
    MediaDec *dec;              /* the stream's decoder (media_dec_new) */
    int spf;                    /* samples per frame */
    bool started;               /* a frame was played */
    uint32_t next;              /* sequence number of the next frame to play (2004: the first
                                   block of the next group to play) */
    uint32_t gseq;              /* 2004: sequence number of the open group's first block */
    uint8_t have;               /* 2004: bit k set: block k of the open group arrived */
    uint8_t grp[MEDIA_2004_GROUP]; /* 2004: the open group's bytes (5 frames) */
    MediaFrameStats st;         /* what the decoder did */
    int16_t pcm[MEDIA_SPF_MAX]; /* the last frame played */
} MediaRxFrames;

struct MediaTx {
    const MediaShared *ms; /* borrowed, outlives the stream */
    MediaTxFrames *fr;     /* frames execution: source and encoder, NULL until used / replay */
    uint64_t seed;         /* frames execution: the source's seed (per call) */
    const MediaLoop *loop; /* the codec loop replayed */
    MediaConfig c;         /* configuration (profile defaults applied) */
    uint8_t key[32];       /* AES-256 session key */
    uint16_t stream;       /* stream id, top bit set */
    uint32_t seq;          /* next sequence number (32-bit extended) */
    uint32_t pos;          /* next frame (2004: next 55-byte block) of the loop */
    int64_t prev;          /* loop frame sent last (for FEC), -1: none */
};

struct MediaRx {
    const MediaShared *ms; /* borrowed */
    MediaRxFrames *fr;     /* frames execution: decoder, NULL until used */
    MediaConfig c;         /* configuration (profile defaults applied) */
    MediaProfile profile;  /* codec profile (E-model values) */
    uint8_t key[32];       /* AES-256 session key */
    bool started;          /* a valid packet was seen */
    uint32_t first;        /* first sequence number seen */
    uint32_t max;          /* highest sequence number seen */
    uint32_t final_upto;   /* lowest sequence number not yet decided */
    uint64_t got;          /* window: bit seq%64 set = received or recovered */
    uint64_t fec;          /* window: bit seq%64 set = recovered through FEC */
    bool last_lost;        /* the last decided sequence number was lost */
    uint64_t lost;         /* decided lost, packets */
    uint64_t bursts;       /* decided loss bursts */
    uint64_t packets_rx;   /* valid packets received */
    uint64_t recovered;    /* recovered through FEC, packets */
    uint64_t bad;          /* packets that failed to decrypt/parse */
    bool peer_holds;       /* the last valid packet had MEDIA_FLAG_HOLD */
    TimeNs codec_delay_ns; /* sender-side delay of the stream (media_codec_delay_ns), ns */
    TimeNs interval_ns;    /* packet interval of the stream while talking, ns */
    double jb_sum_ns;      /* sum over packets of the jitter buffer's delay then, ns */
    double delay_sum_ns;   /* sum of one-way delays, ns */
    double jitter_ns;      /* RFC 3550 jitter estimate, ns */
    TimeNs prev_transit;   /* transit time of the previous packet, ns */
};

/* ---- signal and loops ---------------------------------------------------- */

/* splitmix64: the signal's deterministic generator (not the env stream, so
 * a loop's content does not depend on when it is first needed). */
static uint64_t media_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double media_unit(uint64_t *s)
{
    return (double)(media_mix(s) >> 11) / 9007199254740992.0;
}


static MediaSignal media_signal_init(uint64_t seed)
{
    return (MediaSignal){.s = seed, .f0 = 150};
}

/* Writes the next n samples at rate fs into pcm and the talk/silence flag
 * per sample into on (NULL: not wanted). */
static void media_signal_run(MediaSignal *g, int fs, size_t n, int16_t *pcm, uint8_t *on)
{
    for (size_t j = 0; j < n; j++, g->i++) {
        if (g->i == g->next_switch) { /* a new talk spurt or silence, 0.4..1.6 s */
            g->talking = !g->talking;
            g->next_switch = g->i + (uint64_t)((0.4 + 1.2 * media_unit(&g->s)) * fs);
            g->f0 = 110 + 80 * media_unit(&g->s);
        }
        double t = (double)g->i / fs;
        double f = g->f0 * (1 + 0.05 * sin(2 * M_PI * 3 * t));
        g->phase += 2 * M_PI * f / fs;
        /* sum of sin(k phase)/k by the recurrence sin(k x) = 2 cos(x)
         * sin((k-1) x) - sin((k-2) x): one sin and one cos per sample
         * instead of one sin per harmonic (up to 63). */
        double c2 = 2 * cos(g->phase), s1 = sin(g->phase), s0 = 0, v = 0;
        for (int k = 1; k * f < 7000 && k * f < fs / 2.0; k++) {
            v += s1 / k;
            double s2 = c2 * s1 - s0;
            s0 = s1;
            s1 = s2;
        }
        double env = g->talking ? 0.5 * (1 - cos(2 * M_PI * 4 * t)) : 0;
        double noise = (media_unit(&g->s) - 0.5) * 2 * 0.003;
        pcm[j] = (int16_t)lrint(32767 * (0.3 * env * v / 2.5 + noise));
        if (on) on[j] = g->talking;
    }
}

static void media_signal(uint64_t seed, int fs, size_t n, int16_t *pcm, uint8_t *on)
{
    MediaSignal g = media_signal_init(seed);
    media_signal_run(&g, fs, n, pcm, on);
}

/* Whether stream c uses opus's in-band FEC. */
static bool media_inband(const MediaConfig *c)
{
    return c->fec && c->fec_inband && c->profile == MEDIA_PROFILE_OPUS;
}

/* Turns opus's in-band FEC on an encoder on (on) or leaves it off. */
static void media_opus_inband(OpusEncoder *enc, bool on)
{
    if (!on) return;
    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(MEDIA_INBAND_LOSS_PERC));
}

/* Whether the mono opus packet pkt (len bytes) carries an LBRR copy of the
 * frame before it. libopus 1.5 has opus_packet_has_lbrr; Debian 12's 1.3
 * does not, so this is its logic: no LBRR in a CELT-only packet (TOC
 * configurations 16-31); else the SILK layer's first range-coded symbols
 * are one VAD flag per 20 ms of the frame and then the LBRR flag, each of
 * probability one half, which puts them in the top bits of the frame's
 * first byte. */
static bool media_opus_has_lbrr(const uint8_t *pkt, size_t len)
{
    if (len < 1 || (pkt[0] >> 3) >= 16) return false;
    int spf = opus_packet_get_samples_per_frame(pkt, 48000);
    int nb = spf > 960 ? spf / 960 : 1;
    const unsigned char *frames[48];
    opus_int16 size[48];
    int n = opus_packet_parse(pkt, (opus_int32)len, NULL, frames, size, NULL);
    if (n <= 0 || size[0] == 0) return false;
    return (frames[0][0] >> (7 - nb)) & 1;
}

/* Codec settings of a profile: sample rate, bit rate, frame, CBR. */
static void media_codec_params(const MediaLoop *l, int *fs, bool *cbr)
{
    *fs = l->profile == MEDIA_PROFILE_G729 ? 8000 : 16000;
    *cbr = l->profile != MEDIA_PROFILE_OPUS;
}

/* 2004 profile: bytes of 20 ms frame f, 72 then four of 73 (5 frames are
 * 364 B = 7 blocks of 52 B), and the frame holding byte `at` of the stream. */
static int media_2004_frame_bytes(uint32_t f)
{
    return f % 5 == 0 ? 72 : 73;
}
static uint32_t media_2004_frame_at(uint32_t at)
{
    uint32_t r = at % MEDIA_2004_GROUP;
    return at / MEDIA_2004_GROUP * 5 + (r < 72 ? 0 : 1 + (r - 72) / 73);
}

/* G729 profile: encodes one loop's 10 ms frames with bcg729 (no VAD: every
 * frame is a 10-byte speech frame) and decodes each once. */
static void media_loop_encode_g729(MediaLoop *l, const int16_t *pcm, int spf)
{
    bcg729EncoderChannelContextStruct *enc = initBcg729EncoderChannel(0);
    bcg729DecoderChannelContextStruct *dec = initBcg729DecoderChannel();
    CHECK(enc && dec, "bcg729 channel init failed");
    l->data = g_malloc((size_t)l->frames * MEDIA_G729_FRAME); /* not per node */
    int16_t *out = g_new(int16_t, (size_t)spf);                /* not per node */
    l->off[0] = 0;
    for (uint32_t f = 0; f < l->frames; f++) {
        uint8_t *p = l->data + l->off[f], n = 0;
        bcg729Encoder(enc, pcm + (size_t)f * spf, p, &n);
        CHECK(n == MEDIA_G729_FRAME, "bcg729 frame of %d bytes", (int)n);
        bcg729Decoder(dec, p, n, 0, 0, 0, out);
        l->off[f + 1] = l->off[f] + n;
    }
    g_free(out);
    closeBcg729DecoderChannel(dec);
    closeBcg729EncoderChannel(enc);
}

/* Encodes one loop's frames (pcm: frames * spf samples); fills off/data. */
static void media_loop_encode(MediaLoop *l, const int16_t *pcm, int spf, int fs, bool cbr)
{
    if (l->profile == MEDIA_PROFILE_G729) {
        media_loop_encode_g729(l, pcm, spf);
        return;
    }
    int oerr = 0;
    OpusEncoder *enc = opus_encoder_create(fs, 1, OPUS_APPLICATION_VOIP, &oerr);
    OpusDecoder *dec = opus_decoder_create(fs, 1, &oerr);
    CHECK(enc && dec, "opus_*_create: %s", opus_strerror(oerr));
    bool is2004 = l->profile == MEDIA_PROFILE_SKYPE2004; /* 73 B CBR, every fifth frame 72 B */
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(is2004 ? 29200 : (opus_int32)l->bitrate_bps));
    opus_encoder_ctl(enc, OPUS_SET_VBR(cbr ? 0 : 1));
    opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    media_opus_inband(enc, l->fec_inband);
    l->data = g_malloc((size_t)l->frames * MEDIA_FRAME_MAX); /* not per node */
    int16_t *out = g_new(int16_t, (size_t)spf);              /* not per node */
    l->off[0] = 0;
    for (uint32_t f = 0; f < l->frames; f++) {
        uint8_t *p = l->data + l->off[f];
        opus_int32 cap = is2004 ? media_2004_frame_bytes(f) : MEDIA_FRAME_MAX;
        opus_int32 n = opus_encode(enc, pcm + (size_t)f * spf, spf, p, cap);
        CHECK(!is2004 || n == cap, "2004 frame of %d bytes, not %d", (int)n, (int)cap);
        CHECK(n > 0, "opus_encode: %s", opus_strerror(n));
        CHECK(opus_decode(dec, p, n, out, spf, 0) == spf, "loop frame %u does not decode", f);
        l->off[f + 1] = l->off[f] + (uint32_t)n;
    }
    g_free(out);
    opus_decoder_destroy(dec);
    opus_encoder_destroy(enc);
}

/* Builds loop l (key fields set) from the world's signal seed. */
static void media_loop_build(MediaLoop *l, uint64_t seed)
{
    int fs;
    bool cbr;
    media_codec_params(l, &fs, &cbr);
    int spf = (int)(fs * l->frame_ns / TIMENS_S);
    l->frames = (uint32_t)(MEDIA_LOOP_NS / l->frame_ns);
    l->pcm_bytes = (size_t)spf * 2;
    size_t n = (size_t)l->frames * (size_t)spf;
    int16_t *pcm = g_new(int16_t, n);        /* not per node */
    uint8_t *on = g_malloc(n);               /* not per node */
    l->off = g_new(uint32_t, l->frames + 1); /* not per node */
    l->voiced = g_malloc(l->frames);         /* not per node */
    media_signal(seed, fs, n, pcm, on);
    for (uint32_t f = 0; f < l->frames; f++)
        l->voiced[f] = on[(size_t)f * spf + (size_t)spf / 2];
    media_loop_encode(l, pcm, spf, fs, cbr);
    g_free(on);
    g_free(pcm);
}

/* The loop for config c (profile defaults applied), built on first use. */
static const MediaLoop *media_loop_get(const MediaShared *ms, const MediaConfig *c)
{
    MediaLoopTable *t = ms->tab;
    for (unsigned i = 0; i < t->n; i++) {
        const MediaLoop *l = &t->loop[i];
        if (l->profile == c->profile && l->bitrate_bps == c->bitrate_bps &&
            l->frame_ns == c->frame_ns && l->fec_inband == media_inband(c))
            return l;
    }
    CHECK(t->n < MEDIA_LOOPS_MAX, "more than %d media codec settings in one world",
          MEDIA_LOOPS_MAX);
    MediaLoop *l = &t->loop[t->n++];
    *l = (MediaLoop){.profile = c->profile,
                     .bitrate_bps = c->bitrate_bps,
                     .frame_ns = c->frame_ns,
                     .fec_inband = media_inband(c)};
    media_loop_build(l, ms->seed);
    return l;
}

MediaShared *media_shared_new(const Env *world_env, GError **err)
{
    Crypto *crypto = crypto_new(err);
    if (!crypto) return NULL;
    MediaShared *ms = g_new0(MediaShared, 1); /* not per node */
    ms->crypto = crypto;
    ms->seed = env_random_u64(world_env);
    ms->tab = g_new0(MediaLoopTable, 1); /* not per node */
    ms->m_bad = metric_table_intern(world_env, METRIC_MEDIA_BAD_PACKETS);
    return ms;
}

void media_shared_free(MediaShared *ms)
{
    if (!ms) return;
    for (unsigned i = 0; i < ms->tab->n; i++) {
        MediaLoop *l = &ms->tab->loop[i];
        g_free(l->off);
        g_free(l->voiced);
        g_free(l->data);
    }
    g_free(ms->tab);
    crypto_free(ms->crypto);
    g_free(ms);
}

/* ---- configuration ------------------------------------------------------- */

static bool media_frame_ok(TimeNs f)
{
    static const TimeNs ok[] = {2500000, 5000000, 10000000, 20000000, 40000000, 60000000};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++)
        if (f == ok[i]) return true;
    return false;
}

/* c with the profile's fixed values and defaults (0: 24 kb/s, 20 ms). */
static MediaConfig media_config_fix(const MediaConfig *c)
{
    MediaConfig f = *c;
    switch (c->profile) {
    case MEDIA_PROFILE_SKYPE2004:
        f.bitrate_bps = MEDIA_2004_BITRATE;
        f.frame_ns = 20 * TIMENS_MS;
        f.fec = false;
        f.fec_inband = false;
        break;
    case MEDIA_PROFILE_G729:
        f.bitrate_bps = 8000;
        f.frame_ns = 10 * TIMENS_MS;
        f.fec_inband = false; /* G.729 has none: redundant copies */
        break;
    case MEDIA_PROFILE_OPUS:
        if (!f.bitrate_bps) f.bitrate_bps = 24000;
        if (!f.frame_ns) f.frame_ns = 20 * TIMENS_MS;
        break;
    }
    CHECK((unsigned)f.profile <= MEDIA_PROFILE_G729, "bad media profile %d", (int)f.profile);
    CHECK(media_frame_ok(f.frame_ns), "opus cannot frame %lld ns", (long long)f.frame_ns);
    CHECK(f.bitrate_bps >= 6000 && f.bitrate_bps <= 510000, "bit rate %u", f.bitrate_bps);
    return f;
}

/* ---- sender -------------------------------------------------------------- */

MediaTx *media_tx_new(const Env *e, const MediaShared *ms, const MediaConfig *c,
                      const uint8_t key[32])
{
    MediaTx *tx = env_mem_alloc(e, sizeof *tx);
    tx->ms = ms;
    tx->c = media_config_fix(c);
    memcpy(tx->key, key, 32);
    tx->stream = (uint16_t)(0x8000 | env_random_below(e, 0x8000));
    tx->seq = env_random_below(e, 0x10000);
    tx->prev = -1;
    if (!tx->c.replay) { /* frames: the call's own source, seeded from the node's stream */
        tx->seed = env_random_u64(e);
        return tx;
    }
    tx->loop = media_loop_get(ms, &tx->c);
    uint32_t units = tx->c.profile == MEDIA_PROFILE_SKYPE2004
                         ? tx->loop->off[tx->loop->frames] / MEDIA_2004_BLOCK
                         : tx->loop->frames;
    tx->pos = env_random_below(e, units);
    CHECK(tx->c.profile != MEDIA_PROFILE_SKYPE2004 ||
              tx->loop->off[tx->loop->frames] * 5 == tx->loop->frames * MEDIA_2004_GROUP,
          "2004 loop is not whole groups of 5 frames");
    return tx;
}

void media_tx_free(MediaTx *tx, const Env *e)
{
    if (!tx) return;
    if (tx->fr) {
        if (tx->fr->g729) closeBcg729EncoderChannel(tx->fr->g729);
        if (tx->fr->enc) env_mem_free(e, tx->fr->enc, (size_t)opus_encoder_get_size(1));
        env_mem_free(e, tx->fr, sizeof *tx->fr);
    }
    env_mem_free(e, tx, sizeof *tx);
}

TimeNs media_tx_interval(const MediaTx *tx, bool on_hold)
{
    if (on_hold) return MEDIA_HOLD_INTERVAL_NS;
    return tx->c.profile == MEDIA_PROFILE_SKYPE2004 ? MEDIA_2004_INTERVAL_NS : tx->c.frame_ns;
}

static void media_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint32_t media_get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static void media_iv(uint8_t iv[16], uint16_t stream, uint32_t seq)
{
    memset(iv, 0, 16);
    media_put16(iv, stream);
    media_put16(iv + 2, seq >> 16);
    media_put16(iv + 4, seq);
}

/* CRC of the plaintext after the clear header, check bytes excluded. */
static uint16_t media_check(const uint8_t *pkt, size_t len)
{
    uint32_t crc = crypto_crc32(0, pkt + MEDIA_CLEAR, 6);
    crc = crypto_crc32(crc, pkt + MEDIA_HDR, len - MEDIA_HDR);
    return (uint16_t)crc;
}

/* Writes the body of a talking packet after the header; returns its
 * length and sets *flags. Charges the encoding of the interval's audio. */
/* Frames execution: the sender's source and encoder, made on first use. */
static MediaTxFrames *media_tx_frames(MediaTx *tx, const Env *e)
{
    if (tx->fr) return tx->fr;
    MediaTxFrames *fr = env_mem_alloc(e, sizeof *fr);
    memset(fr, 0, sizeof *fr);
    fr->sig = media_signal_init(tx->seed);
    fr->fs = media_sample_rate(&tx->c);
    fr->spf = (int)(fr->fs * tx->c.frame_ns / TIMENS_S);
    CHECK(fr->spf > 0 && fr->spf <= MEDIA_SPF_MAX, "%d samples per frame", fr->spf);
    tx->fr = fr;
    if (tx->c.profile == MEDIA_PROFILE_G729) { /* no VAD: a speech frame every 10 ms (a35) */
        fr->g729 = initBcg729EncoderChannel(0);
        CHECK(fr->g729 != NULL, "initBcg729EncoderChannel failed");
        return fr;
    }
    fr->enc = env_mem_alloc(e, (size_t)opus_encoder_get_size(1));
    int err = opus_encoder_init(fr->enc, fr->fs, 1, OPUS_APPLICATION_VOIP);
    CHECK(err == OPUS_OK, "opus_encoder_init: %s", opus_strerror(err));
    bool is2004 = tx->c.profile == MEDIA_PROFILE_SKYPE2004;
    opus_encoder_ctl(fr->enc, OPUS_SET_BITRATE(is2004 ? 29200 : (opus_int32)tx->c.bitrate_bps));
    opus_encoder_ctl(fr->enc, OPUS_SET_VBR(tx->c.profile == MEDIA_PROFILE_OPUS ? 1 : 0));
    opus_encoder_ctl(fr->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    opus_encoder_ctl(fr->enc, OPUS_SET_COMPLEXITY(MEDIA_COMPLEXITY));
    media_opus_inband(fr->enc, media_inband(&tx->c));
    return fr;
}

/* Frames execution: the next frame of the source, encoded into out (at
 * most cap bytes; CBR profiles exactly cap when below their rate), its
 * encoding charged. Returns its length. */
static size_t media_tx_encode(MediaTx *tx, const Env *e, uint8_t *out, int cap, bool *voiced)
{
    MediaTxFrames *fr = media_tx_frames(tx, e);
    uint8_t on[MEDIA_SPF_MAX];
    media_signal_run(&fr->sig, fr->fs, (size_t)fr->spf, fr->pcm, on);
    *voiced = on[fr->spf / 2];
    opus_int32 n;
    if (fr->g729) { /* one 10 ms frame of 80 samples: 10 bytes */
        uint8_t n8 = 0;
        CHECK(cap >= MEDIA_G729_FRAME, "buffer of %d bytes for a G.729 frame", cap);
        bcg729Encoder(fr->g729, fr->pcm, out, &n8);
        CHECK(n8 == MEDIA_G729_FRAME, "bcg729 frame of %d bytes", (int)n8);
        n = n8;
    } else {
        n = opus_encode(fr->enc, fr->pcm, fr->spf, out, cap);
        CHECK(n > 0, "opus_encode: %s", opus_strerror(n));
    }
    env_charge_cpu(e, media_cost_encode(tx->c.profile), (size_t)fr->spf * 2);
    fr->frames++;
    return (size_t)n;
}

/* Frames execution: the body of a talking packet (see media_tx_body). */
static size_t media_tx_body_frames(MediaTx *tx, const Env *e, uint8_t *body, uint8_t *flags,
                                   bool *voiced)
{
    MediaTxFrames *fr = media_tx_frames(tx, e);
    if (tx->c.profile == MEDIA_PROFILE_SKYPE2004) { /* the framer's 52-byte blocks (a39) */
        *voiced = true;
        while (fr->sbuf_len < MEDIA_2004_BLOCK) {
            int cap = media_2004_frame_bytes(fr->frames);
            size_t n = media_tx_encode(tx, e, fr->sbuf + fr->sbuf_len, cap, voiced);
            CHECK(n == (size_t)cap, "2004 frame of %zu bytes, not %d", n, cap);
            fr->sbuf_len = (uint16_t)(fr->sbuf_len + n);
        }
        memcpy(body, fr->sbuf, MEDIA_2004_BLOCK);
        *flags |= (uint8_t)(fr->blocks++ % MEDIA_2004_BLOCKS << MEDIA_FLAG_POS_SHIFT);
        fr->sbuf_len -= MEDIA_2004_BLOCK;
        memmove(fr->sbuf, fr->sbuf + MEDIA_2004_BLOCK, fr->sbuf_len);
        return MEDIA_2004_BLOCK;
    }
    size_t n = media_tx_encode(tx, e, body + 2, MEDIA_FRAME_MAX, voiced);
    media_put16(body, (uint32_t)n);
    size_t len = 2 + n;
    if (tx->c.fec && !tx->c.fec_inband && fr->prev_len) { /* a39's RF = 2: the previous frame again */
        memcpy(body + len, fr->prev, fr->prev_len);
        len += fr->prev_len;
        *flags |= MEDIA_FLAG_FEC;
    }
    memcpy(fr->prev, body + 2, n);
    fr->prev_len = (uint16_t)n;
    return len;
}

static size_t media_tx_body(MediaTx *tx, const Env *e, uint8_t *body, uint8_t *flags, bool *voiced)
{
    if (!tx->c.replay) return media_tx_body_frames(tx, e, body, flags, voiced);
    const MediaLoop *l = tx->loop;
    if (tx->c.profile == MEDIA_PROFILE_SKYPE2004) {
        uint32_t at = tx->pos * MEDIA_2004_BLOCK;
        *voiced = l->voiced[media_2004_frame_at(at)];
        memcpy(body, l->data + at, MEDIA_2004_BLOCK);
        *flags |= (uint8_t)(tx->pos % MEDIA_2004_BLOCKS << MEDIA_FLAG_POS_SHIFT);
        tx->pos = (tx->pos + 1) % (l->off[l->frames] / MEDIA_2004_BLOCK);
        env_charge_cpu(e, ENV_COST_OPUS_ENCODE,
                       l->pcm_bytes * MEDIA_2004_INTERVAL_NS / (20 * TIMENS_MS));
        return MEDIA_2004_BLOCK;
    }
    uint32_t f = tx->pos;
    tx->pos = (tx->pos + 1) % l->frames;
    *voiced = l->voiced[f];
    env_charge_cpu(e, media_cost_encode(tx->c.profile), l->pcm_bytes);
    size_t n = l->off[f + 1] - l->off[f];
    media_put16(body, (uint32_t)n);
    memcpy(body + 2, l->data + l->off[f], n);
    size_t len = 2 + n;
    if (tx->c.fec && !tx->c.fec_inband && tx->prev >= 0) {
        size_t pn = l->off[tx->prev + 1] - l->off[tx->prev];
        memcpy(body + len, l->data + l->off[tx->prev], pn);
        len += pn;
        *flags |= MEDIA_FLAG_FEC;
    }
    tx->prev = f;
    return len;
}

/* Header, check and encryption of a packet of len bytes at pkt. */
static void media_tx_seal(MediaTx *tx, const Env *e, uint8_t *pkt, size_t len, uint8_t flags)
{
    uint64_t us = (uint64_t)(env_now(e) / 1000);
    media_put16(pkt, tx->stream);
    media_put16(pkt + 2, tx->seq);
    for (int i = 0; i < 5; i++)
        pkt[4 + i] = (uint8_t)(us >> (8 * (4 - i)));
    pkt[9] = flags;
    media_put16(pkt + 10, media_check(pkt, len));
    uint8_t iv[16];
    media_iv(iv, tx->stream, tx->seq);
    crypto_aes256(tx->ms->crypto, e, tx->key, iv, pkt + MEDIA_CLEAR, len - MEDIA_CLEAR);
    tx->seq++;
}

size_t media_tx_next(MediaTx *tx, const Env *e, MediaHold hold, uint8_t *out, size_t cap)
{
    uint8_t pkt[MEDIA_PKT_MAX];
    bool on_hold = hold != MEDIA_TALKING;
    uint8_t flags = hold == MEDIA_ON_HOLD ? MEDIA_FLAG_HOLD : hold == MEDIA_HELD ? MEDIA_FLAG_HELD : 0;
    bool voiced = true;
    size_t len = MEDIA_HDR;
    if (!on_hold) len += media_tx_body(tx, e, pkt + MEDIA_HDR, &flags, &voiced);
    if (!voiced && tx->c.silence_suppression) { /* nothing sent, nothing to protect */
        tx->prev = -1;
        if (tx->fr) tx->fr->prev_len = 0;
        return 0;
    }
    media_tx_seal(tx, e, pkt, len, flags);
    CHECK(len <= cap, "media packet of %zu bytes, buffer %zu", len, cap);
    memcpy(out, pkt, len);
    return len;
}

size_t media_tx_frame_next(MediaTx *tx, const Env *e, uint8_t *frame, size_t cap)
{
    CHECK(tx->c.profile != MEDIA_PROFILE_SKYPE2004, "frames of the 2004 profile are not whole");
    uint8_t body[MEDIA_PKT_MAX], flags = 0;
    bool voiced;
    bool fec = tx->c.fec;
    tx->c.fec = false;
    size_t n = media_tx_body(tx, e, body, &flags, &voiced) - 2;
    tx->c.fec = fec;
    CHECK(n <= cap, "frame of %zu bytes, buffer %zu", n, cap);
    memcpy(frame, body + 2, n);
    return n;
}

size_t media_tx_next_with(MediaTx *tx, const Env *e, const uint8_t *frame, size_t flen,
                          uint8_t *out, size_t cap)
{
    uint8_t pkt[MEDIA_PKT_MAX];
    CHECK(flen > 0 && MEDIA_HDR + 2 + flen <= sizeof pkt, "frame of %zu bytes", flen);
    media_put16(pkt + MEDIA_HDR, (uint32_t)flen);
    memcpy(pkt + MEDIA_HDR + 2, frame, flen);
    size_t len = MEDIA_HDR + 2 + flen;
    media_tx_seal(tx, e, pkt, len, 0);
    CHECK(len <= cap, "media packet of %zu bytes, buffer %zu", len, cap);
    memcpy(out, pkt, len);
    return len;
}

int media_sample_rate(const MediaConfig *c)
{
    return c->profile == MEDIA_PROFILE_G729 ? 8000 : 16000;
}

/* The relay cap (relay.c, a48). The official figure is 4 KB/s of voice per
 * relayed call (a48, an admin guide quoted in 2008). The measured 2004
 * stream does not fit it: 70 packets/s of MEDIA_FRAME_HDR + a 2004 packet
 * each way is more than 4,096 B/s, and a relay held to a48's figure drops
 * part of every relayed 2004 call, which the measurements (a33, a34: the
 * same 67 B, 140 packets/s stream relayed or not) do not show. So the
 * default is the larger of a48's 4,096 B/s and the stream's nominal rate
 * with a quarter of headroom (VBR peaks, FEC), rounded up to 64 B/s:
 * 2004 profile 5,888 B/s; opus at 24 kb/s, 20 ms 4,864 B/s; G.729 4,096
 * B/s (its 3,100 B/s fit a48). The nominal rate counts the frame header,
 * the packet header and the codec bytes at the configured bit rate (twice
 * with FEC). */
uint32_t media_relay_cap_default(const MediaConfig *c)
{
    MediaConfig f = media_config_fix(c);
    double pps, pkt;
    if (f.profile == MEDIA_PROFILE_SKYPE2004) {
        pps = (double)TIMENS_S / MEDIA_2004_INTERVAL_NS;
        pkt = MEDIA_HDR + MEDIA_2004_BLOCK;
    } else {
        pps = (double)TIMENS_S / (double)f.frame_ns;
        double codec = (double)f.bitrate_bps / 8 / pps;
        pkt = MEDIA_HDR + 2 + codec * (f.fec && !f.fec_inband ? 2 : 1);
    }
    double rate = 1.25 * pps * (MEDIA_FRAME_HDR + pkt);
    uint32_t cap = (uint32_t)ceil(rate / 64) * 64;
    return MAX(cap, 4096u);
}

/* ---- receiver ------------------------------------------------------------ */

MediaRx *media_rx_new(const Env *e, const MediaShared *ms, const MediaConfig *c,
                      const uint8_t key[32])
{
    MediaRx *rx = env_mem_alloc(e, sizeof *rx);
    rx->ms = ms;
    rx->profile = c->profile;
    memcpy(rx->key, key, 32);
    MediaConfig f = media_config_fix(c);
    rx->c = f;
    rx->codec_delay_ns = media_codec_delay_ns(&f);
    rx->interval_ns = f.profile == MEDIA_PROFILE_SKYPE2004 ? MEDIA_2004_INTERVAL_NS : f.frame_ns;
    return rx;
}

void media_rx_free(MediaRx *rx, const Env *e)
{
    if (!rx) return;
    if (rx->fr) {
        media_dec_free(rx->fr->dec, e);
        env_mem_free(e, rx->fr, sizeof *rx->fr);
    }
    env_mem_free(e, rx, sizeof *rx);
}

/* ---- bare codecs (receivers, conference mixing) ---------------------------- */

int media_frame_samples(const MediaConfig *c)
{
    MediaConfig f = media_config_fix(c);
    return (int)((int64_t)media_sample_rate(&f) * f.frame_ns / TIMENS_S);
}

EnvCost media_cost_encode(MediaProfile p)
{
    return p == MEDIA_PROFILE_G729 ? ENV_COST_G729_ENCODE : ENV_COST_OPUS_ENCODE;
}

EnvCost media_cost_decode(MediaProfile p)
{
    return p == MEDIA_PROFILE_G729 ? ENV_COST_G729_DECODE : ENV_COST_OPUS_DECODE;
}

MediaDec *media_dec_new(const Env *e, const MediaConfig *c)
{
    MediaDec *d = env_mem_alloc(e, sizeof *d);
    *d = (MediaDec){.spf = media_frame_samples(c)};
    CHECK(d->spf > 0 && d->spf <= MEDIA_SPF_MAX, "%d samples per frame", d->spf);
    if (c->profile == MEDIA_PROFILE_G729) {
        d->g729 = initBcg729DecoderChannel();
        CHECK(d->g729 != NULL, "initBcg729DecoderChannel failed");
        return d;
    }
    d->opus = env_mem_alloc(e, (size_t)opus_decoder_get_size(1));
    int err = opus_decoder_init(d->opus, media_sample_rate(c), 1);
    CHECK(err == OPUS_OK, "opus_decoder_init: %s", opus_strerror(err));
    return d;
}

void media_dec_free(MediaDec *d, const Env *e)
{
    if (!d) return;
    if (d->g729) closeBcg729DecoderChannel(d->g729);
    if (d->opus) env_mem_free(e, d->opus, (size_t)opus_decoder_get_size(1));
    env_mem_free(e, d, sizeof *d);
}

void media_dec_run(MediaDec *d, const uint8_t *f, size_t flen, int16_t *pcm)
{
    if (d->g729) { /* G.729's own concealment on an erased frame (or one of a wrong size) */
        static const uint8_t none[MEDIA_G729_FRAME];
        bool erased = f == NULL || flen != MEDIA_G729_FRAME;
        bcg729Decoder(d->g729, erased ? none : f, MEDIA_G729_FRAME, erased, 0, 0, pcm);
        return;
    }
    int got = opus_decode(d->opus, flen ? f : NULL, (opus_int32)flen, pcm, d->spf, 0);
    if (got != d->spf) memset(pcm, 0, (size_t)d->spf * sizeof *pcm);
}

MediaEnc *media_enc_new(const Env *e, const MediaConfig *c, int complexity)
{
    CHECK(c->profile != MEDIA_PROFILE_SKYPE2004, "the 2004 profile's blocks are not frames");
    MediaEnc *x = env_mem_alloc(e, sizeof *x);
    *x = (MediaEnc){.spf = media_frame_samples(c)};
    CHECK(x->spf > 0 && x->spf <= MEDIA_SPF_MAX, "%d samples per frame", x->spf);
    if (c->profile == MEDIA_PROFILE_G729) { /* no VAD (a35) */
        x->g729 = initBcg729EncoderChannel(0);
        CHECK(x->g729 != NULL, "initBcg729EncoderChannel failed");
        return x;
    }
    x->opus = env_mem_alloc(e, (size_t)opus_encoder_get_size(1));
    int err = opus_encoder_init(x->opus, media_sample_rate(c), 1, OPUS_APPLICATION_VOIP);
    CHECK(err == OPUS_OK, "opus_encoder_init: %s", opus_strerror(err));
    opus_encoder_ctl(x->opus, OPUS_SET_BITRATE((opus_int32)media_config_fix(c).bitrate_bps));
    opus_encoder_ctl(x->opus, OPUS_SET_COMPLEXITY(complexity));
    return x;
}

void media_enc_free(MediaEnc *x, const Env *e)
{
    if (!x) return;
    if (x->g729) closeBcg729EncoderChannel(x->g729);
    if (x->opus) env_mem_free(e, x->opus, (size_t)opus_encoder_get_size(1));
    env_mem_free(e, x, sizeof *x);
}

size_t media_enc_run(MediaEnc *x, const int16_t *pcm, uint8_t *out, size_t cap)
{
    if (x->g729) {
        uint8_t n = 0;
        CHECK(cap >= MEDIA_G729_FRAME, "buffer of %zu bytes for a G.729 frame", cap);
        bcg729Encoder(x->g729, pcm, out, &n);
        CHECK(n == MEDIA_G729_FRAME, "bcg729 frame of %d bytes", (int)n);
        return n;
    }
    opus_int32 n = opus_encode(x->opus, pcm, x->spf, out, (opus_int32)MIN(cap, 4000));
    CHECK(n > 0, "opus_encode: %s", opus_strerror(n));
    return (size_t)n;
}

/* Frames execution: the receiver's decoder, made on first use. */
static MediaRxFrames *media_rx_frames(MediaRx *rx, const Env *e)
{
    if (rx->fr) return rx->fr;
    MediaRxFrames *fr = env_mem_alloc(e, sizeof *fr);
    memset(fr, 0, sizeof *fr);
    fr->dec = media_dec_new(e, &rx->c);
    fr->spf = fr->dec->spf;
    rx->fr = fr;
    return fr;
}

/* Decodes frame f (flen bytes; NULL: conceals a missing one) into the
 * last-frame buffer, charged per frame (concealment with 0 bytes). */
static void media_rx_decode(MediaRxFrames *fr, const Env *e, const uint8_t *f, size_t flen)
{
    media_dec_run(fr->dec, f, flen, fr->pcm);
    env_charge_cpu(e, fr->dec->g729 ? ENV_COST_G729_DECODE : ENV_COST_OPUS_DECODE, flen);
}

/* Decodes frame f (flen bytes), or with f NULL conceals a missing frame,
 * the nth of its gap: at most MEDIA_PLC_MAX of a gap really run, the rest
 * are only counted. */
static void media_rx_conceal_or_decode(MediaRxFrames *fr, const Env *e, const uint8_t *f,
                                       size_t flen, uint32_t nth)
{
    if (f) {
        media_rx_decode(fr, e, f, flen);
        fr->st.decoded++;
        return;
    }
    if (nth < MEDIA_PLC_MAX) {
        media_rx_decode(fr, e, NULL, 0);
        bool audible = false;
        for (int i = 0; i < fr->spf && !audible; i++) audible = fr->pcm[i] != 0;
        fr->st.concealed_audible += audible;
    }
    fr->st.concealed++;
}

/* Frames execution (OPUS, G729): plays packet seq: the frames missing
 * since the last one played are concealed (PLC), the one just before seq
 * decoded from this packet's redundant copy when it has one (fec, fec_len),
 * then its own frame (flen 0: a hold packet, nothing to play). A late
 * packet is not played. Long gaps: at most MEDIA_PLC_MAX concealed frames
 * really run, the rest are counted. */
static void media_rx_play(MediaRx *rx, const Env *e, uint32_t seq, const uint8_t *f, size_t flen,
                          const uint8_t *fec, size_t fec_len, bool inband)
{
    MediaRxFrames *fr = media_rx_frames(rx, e);
    if (!fr->started) {
        fr->started = true;
        fr->next = seq;
    }
    int32_t gap = (int32_t)(seq - fr->next);
    if (gap < 0) return;
    for (int32_t q = 0; q < gap; q++) {
        if (q == gap - 1 && fec_len) {
            if (inband) { /* the LBRR copy inside the next frame (decode_fec = 1) */
                int got = opus_decode(fr->dec->opus, fec, (opus_int32)fec_len, fr->pcm, fr->spf, 1);
                if (got != fr->spf) memset(fr->pcm, 0, (size_t)fr->spf * sizeof *fr->pcm);
                env_charge_cpu(e, ENV_COST_OPUS_DECODE, fec_len);
            } else {
                media_rx_decode(fr, e, fec, fec_len);
            }
            fr->st.fec++;
            continue;
        }
        media_rx_conceal_or_decode(fr, e, NULL, 0, (uint32_t)q);
    }
    if (flen) media_rx_conceal_or_decode(fr, e, f, flen, 0);
    fr->next = seq + 1;
}

/* 2004, frames execution: plays the open group: each of its 5 frames
 * whose blocks all arrived is decoded, the others concealed. */
static void media_rx_2004_flush(MediaRx *rx, const Env *e)
{
    MediaRxFrames *fr = rx->fr;
    uint32_t at = 0;
    for (uint32_t f = 0; f < 5; f++) {
        uint32_t len = (uint32_t)media_2004_frame_bytes(f);
        bool whole = true;
        for (uint32_t b = at / MEDIA_2004_BLOCK; b <= (at + len - 1) / MEDIA_2004_BLOCK; b++)
            whole = whole && (fr->have >> b & 1);
        media_rx_conceal_or_decode(fr, e, whole ? fr->grp + at : NULL, whole ? len : 0, 0);
        at += len;
    }
    fr->have = 0;
    fr->next = fr->gseq + MEDIA_2004_BLOCKS;
}

/* 2004, frames execution: block pos (0..6) of its group arrived as packet
 * seq. The framer cut 5 frames into 7 blocks (a39), so a group is played
 * when its last block arrives or a later group's does; groups that never
 * came are concealed, a late block is not played. */
static void media_rx_play_2004(MediaRx *rx, const Env *e, uint32_t seq, unsigned pos,
                               const uint8_t *block)
{
    MediaRxFrames *fr = media_rx_frames(rx, e);
    uint32_t g = seq - pos;
    if (!fr->started) {
        fr->started = true;
        fr->next = fr->gseq = g;
    }
    if ((int32_t)(g - fr->next) < 0) return; /* late: its group was played */
    if (g != fr->gseq) {
        if (fr->have) media_rx_2004_flush(rx, e);
        uint32_t missing = (g - fr->next) / MEDIA_2004_BLOCKS * 5; /* whole groups lost */
        for (uint32_t q = 0; q < missing; q++)
            media_rx_conceal_or_decode(fr, e, NULL, 0, q);
        fr->gseq = g;
    }
    memcpy(fr->grp + pos * MEDIA_2004_BLOCK, block, MEDIA_2004_BLOCK);
    fr->have |= (uint8_t)(1u << pos);
    if (pos == MEDIA_2004_BLOCKS - 1) media_rx_2004_flush(rx, e);
}

/* 2004, frames execution: a hold packet. Hold packets take sequence
 * numbers but no blocks, so the open group is played as it is and the
 * next block starts the count afresh. */
static void media_rx_hold_2004(MediaRx *rx, const Env *e)
{
    MediaRxFrames *fr = media_rx_frames(rx, e);
    if (fr->started && fr->have) media_rx_2004_flush(rx, e);
    fr->started = false;
}

void media_rx_frame_stats(const MediaRx *rx, MediaFrameStats *out)
{
    *out = rx->fr ? rx->fr->st : (MediaFrameStats){0};
}

size_t media_rx_last_pcm(const MediaRx *rx, const int16_t **pcm)
{
    if (!rx->fr) return 0;
    *pcm = rx->fr->pcm;
    return (size_t)rx->fr->spf;
}

size_t media_tx_last_pcm(const MediaTx *tx, const int16_t **pcm)
{
    if (!tx->fr) return 0;
    *pcm = tx->fr->pcm;
    return (size_t)tx->fr->spf;
}

/* The 32-bit sequence number nearest to the highest seen with low bits s. */
static uint32_t media_seq_extend(const MediaRx *rx, uint32_t s16)
{
    if (!rx->started) return s16;
    uint32_t s = (rx->max & 0xFFFF0000u) | s16;
    int32_t d = (int32_t)(s - rx->max);
    if (d > 0x8000)
        s -= 0x10000;
    else if (d < -0x8000)
        s += 0x10000;
    return s;
}

/* Decides sequence number q (leaving the window): lost unless covered. */
static void media_rx_decide(MediaRx *rx, uint32_t q)
{
    uint64_t bit = 1ull << (q % MEDIA_WIN);
    bool lost = !(rx->got & bit);
    if (lost) {
        rx->lost++;
        if (!rx->last_lost) rx->bursts++;
    }
    rx->last_lost = lost;
    rx->got &= ~bit;
    rx->fec &= ~bit;
}

/* Moves the highest sequence number to s, deciding what leaves the window. */
static void media_rx_advance(MediaRx *rx, uint32_t s)
{
    uint32_t lo = s - (MEDIA_WIN - 1);                /* lowest number still in the window */
    if ((int32_t)(lo - rx->final_upto) > MEDIA_WIN) { /* a gap wider than the window */
        for (uint32_t q = rx->final_upto; q != rx->final_upto + MEDIA_WIN; q++)
            media_rx_decide(rx, q);
        uint32_t rest = lo - (rx->final_upto + MEDIA_WIN); /* never in the window: lost */
        rx->lost += rest;
        if (!rx->last_lost) rx->bursts++;
        rx->last_lost = true;
        rx->final_upto = lo;
    }
    while ((int32_t)(lo - rx->final_upto) > 0)
        media_rx_decide(rx, rx->final_upto++);
    rx->max = s;
}

/* Marks s received; with FEC, s - 1 recovered if missing. */
static void media_rx_mark(MediaRx *rx, uint32_t s, bool fec)
{
    if (!rx->started) {
        rx->started = true;
        rx->first = rx->max = rx->final_upto = s;
    } else if ((int32_t)(s - rx->max) > 0) {
        media_rx_advance(rx, s);
    }
    if ((int32_t)(s - rx->final_upto) < 0) return; /* too late: already decided */
    uint64_t bit = 1ull << (s % MEDIA_WIN);
    if (rx->fec & bit) { /* the original after its FEC copy */
        rx->fec &= ~bit;
        rx->recovered--;
    }
    rx->got |= bit;
    uint32_t p = s - 1;
    uint64_t pbit = 1ull << (p % MEDIA_WIN);
    if (fec && (int32_t)(p - rx->final_upto) >= 0 && !(rx->got & pbit)) {
        rx->got |= pbit;
        rx->fec |= pbit;
        rx->recovered++;
    }
}

/* Delay and RFC 3550 jitter of a packet sent at sent_ns, arriving now. */
static void media_rx_timing(MediaRx *rx, TimeNs now, TimeNs sent_ns)
{
    TimeNs transit = now - sent_ns;
    rx->delay_sum_ns += (double)transit;
    if (rx->packets_rx > 0) {
        double d = fabs((double)(transit - rx->prev_transit));
        rx->jitter_ns += (d - rx->jitter_ns) / 16.0;
    }
    rx->prev_transit = transit;
    rx->packets_rx++;
    /* Adaptive playout (Ramjee et al. 1994, algorithm 1 without the spike
     * mode): the buffer holds a packet 4 jitter estimates beyond the mean
     * transit, and at least one packet interval. */
    rx->jb_sum_ns += MAX(4 * rx->jitter_ns, (double)rx->interval_ns);
}

static bool media_rx_bad(MediaRx *rx, const Env *e)
{
    rx->bad++;
    env_metric_add(e, rx->ms->m_bad, 1);
    return false;
}

/* Decrypts pkt (len bytes, copied) into p; false when the check fails. */
static bool media_rx_open(MediaRx *rx, const Env *e, const uint8_t *pkt, size_t len, uint8_t *p,
                          uint32_t *seq)
{
    memcpy(p, pkt, len);
    *seq = media_seq_extend(rx, media_get16(p + 2));
    uint8_t iv[16];
    media_iv(iv, (uint16_t)media_get16(p), *seq);
    crypto_aes256(rx->ms->crypto, e, rx->key, iv, p + MEDIA_CLEAR, len - MEDIA_CLEAR);
    return media_get16(p + 10) == media_check(p, len);
}

/* Codec bytes the receiver decodes from a packet body (charged). */
static size_t media_rx_codec_bytes(const uint8_t *p, size_t len, bool is2004)
{
    if (len == MEDIA_HDR) return 0;
    if (is2004) return len - MEDIA_HDR;
    return media_get16(p + MEDIA_HDR);
}

bool media_rx_packet(MediaRx *rx, const Env *e, const uint8_t *buf, size_t len)
{
    size_t flen;
    return media_rx_packet_frame(rx, e, buf, len, NULL, 0, &flen);
}

bool media_rx_packet_frame(MediaRx *rx, const Env *e, const uint8_t *buf, size_t len,
                           uint8_t *frame, size_t cap, size_t *flen)
{
    *flen = 0;
    uint8_t p[MEDIA_PKT_MAX];
    uint32_t seq;
    if (len < MEDIA_HDR || len > sizeof p || !media_rx_open(rx, e, buf, len, p, &seq))
        return media_rx_bad(rx, e);
    bool is2004 = rx->profile == MEDIA_PROFILE_SKYPE2004;
    size_t codec = media_rx_codec_bytes(p, len, is2004);
    if (!is2004 && len > MEDIA_HDR && codec + 2 > len - MEDIA_HDR) return media_rx_bad(rx, e);
    TimeNs sent_ns = 0;
    for (int i = 0; i < 5; i++)
        sent_ns = sent_ns << 8 | p[4 + i];
    bool inband = media_inband(&rx->c) && codec &&
                  media_opus_has_lbrr(p + MEDIA_HDR + 2, codec);
    bool fec = (p[9] & MEDIA_FLAG_FEC) != 0 || inband;
    rx->peer_holds = (p[9] & MEDIA_FLAG_HOLD) != 0;
    media_rx_mark(rx, seq, fec);
    media_rx_timing(rx, env_now(e), sent_ns * 1000);
    if (!rx->c.replay && is2004) { /* frames: blocks reassembled into frames, decoded */
        if (codec == MEDIA_2004_BLOCK)
            media_rx_play_2004(rx, e, seq, (p[9] >> MEDIA_FLAG_POS_SHIFT) % MEDIA_2004_BLOCKS,
                               p + MEDIA_HDR);
        else
            media_rx_hold_2004(rx, e);
    } else if (!rx->c.replay) { /* frames: every frame decoded, losses concealed */
        const uint8_t *f = p + MEDIA_HDR + 2;
        size_t rest = len > MEDIA_HDR ? len - MEDIA_HDR - 2 - codec : 0;
        if (inband)
            media_rx_play(rx, e, seq, f, codec, f, codec, true);
        else
            media_rx_play(rx, e, seq, f, codec, f + codec, fec ? rest : 0, false);
    } else if (codec) {
        env_charge_cpu(e, media_cost_decode(rx->c.profile), codec); /* replay: charged, not run */
    }
    if (frame && codec && !is2004 && codec <= cap) {
        memcpy(frame, p + MEDIA_HDR + 2, codec);
        *flen = codec;
    }
    return true;
}

/* ---- E-model (ITU-T G.107) ------------------------------------------------ */

/* Default-parameter constants of G.107 (Table 2) used by Id. */
#define EM_RLR 2.0
#define EM_TELR 65.0
#define EM_WEPL 110.0
#define EM_RO 94.7688  /* Ro with the defaults (No = -61.18 dBm0p) */
#define EM_IS 1.4136   /* Is with the defaults */
#define EM_NO -61.1791 /* No with the defaults, dBm0p */

/* Talker echo impairment Idte (G.107 §7.4) at one-way delay T (ms). */
static double emodel_idte(double t)
{
    double terv = EM_TELR - 40 * log10((1 + t / 10) / (1 + t / 150)) + 6 * exp(-0.3 * t * t);
    double roe = -1.5 * (EM_NO - EM_RLR);
    double re = 80 + 2.5 * (terv - 14);
    double d = roe - re;
    return (d / 2 + sqrt(d * d / 4 + 100) - 1) * (1 - exp(-t));
}

/* Listener echo Idle at round trip Tr (ms), and the too-long-delay Idd at
 * absolute delay Ta (ms). */
static double emodel_idle(double tr)
{
    double rle = 10.5 * (EM_WEPL + 7) * pow(tr + 1, -0.25);
    double d = EM_RO - rle;
    return d / 2 + sqrt(d * d / 4 + 169);
}
static double emodel_idd(double ta)
{
    if (ta <= 100) return 0;
    double x = log10(ta / 100) / log10(2);
    return 25 * (pow(1 + pow(x, 6), 1.0 / 6) - 3 * pow(1 + pow(x / 3, 6), 1.0 / 6) + 2);
}

/* R for mean one-way delay delay_ms, codec (ie, bpl), loss ppl (%) and
 * burst ratio burst_r. Exposed for tests through media_emodel_r. */
double media_ie_eff(double ie, double bpl, double ppl, double burst_r)
{
    return ie + (95 - ie) * ppl / (ppl / burst_r + bpl);
}

double media_emodel_r(double delay_ms, double ie, double bpl, double ppl, double burst_r)
{
    double id = emodel_idte(delay_ms) + emodel_idle(2 * delay_ms) + emodel_idd(delay_ms);
    return EM_RO - EM_IS - id - media_ie_eff(ie, bpl, ppl, burst_r);
}

/* Sender-side delay (the mouth-to-ear terms before the network): one
 * codec frame (the encoder waits for it), the codec's look-ahead (opus
 * 6.5 ms, RFC 6716's default algorithmic delay beyond the frame; G.729
 * 5 ms, G.729 section 3), and packetisation beyond the frame: none when
 * a packet carries one frame, for the 2004 profile one block interval
 * (1/70 s: a frame's 72.8 bytes leave in the next blocks). */
TimeNs media_codec_delay_ns(const MediaConfig *c)
{
    MediaConfig f = media_config_fix(c);
    switch (f.profile) {
    case MEDIA_PROFILE_G729: return f.frame_ns + 5 * TIMENS_MS;
    case MEDIA_PROFILE_SKYPE2004: return f.frame_ns + 6500 * TIMENS_US + MEDIA_2004_INTERVAL_NS;
    case MEDIA_PROFILE_OPUS: break;
    }
    return f.frame_ns + 6500 * TIMENS_US;
}

double media_mos_from_r(double r)
{
    if (r <= 0) return 1.0;
    if (r >= 100) return 4.5;
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

void media_codec_impairment(MediaProfile p, double *ie, double *bpl)
{
    switch (p) {
    case MEDIA_PROFILE_G729:
        *ie = 11;
        *bpl = 19;
        return;
    case MEDIA_PROFILE_SKYPE2004:
        *ie = 0;
        *bpl = 20;
        return;
    case MEDIA_PROFILE_OPUS:
        break;
    }
    *ie = 0;
    *bpl = 25.1;
}

/* Loss state as if every sequence number up to the highest were decided
 * now (the ones in the window that were neither received nor recovered
 * are lost). */
static void media_rx_final_loss(const MediaRx *rx, uint64_t *lost, uint64_t *bursts)
{
    MediaRx r = *rx;
    for (uint32_t q = r.final_upto; (int32_t)(q - r.max) <= 0; q++)
        media_rx_decide(&r, q);
    *lost = r.lost;
    *bursts = r.bursts;
}

bool media_rx_peer_holds(const MediaRx *rx)
{
    return rx->peer_holds;
}

void media_rx_stats(const MediaRx *rx, MediaStats *out)
{
    *out = (MediaStats){
        .packets_rx = rx->packets_rx, .recovered = rx->recovered, .packets_bad = rx->bad};
    uint64_t bursts = 0;
    if (rx->started) media_rx_final_loss(rx, &out->packets_lost, &bursts);
    double span = rx->started ? (double)(rx->max - rx->first) + 1 : 0;
    out->loss = span > 0 ? (double)out->packets_lost / span : 0;
    out->delay_ms = rx->packets_rx ? rx->delay_sum_ns / (double)rx->packets_rx / 1e6 : 0;
    out->jitter_ms = rx->jitter_ns / 1e6;
    out->jitter_buffer_ms = rx->packets_rx ? rx->jb_sum_ns / (double)rx->packets_rx / 1e6 : 0;
    out->mouth_to_ear_ms =
        out->delay_ms + (double)rx->codec_delay_ns / 1e6 + out->jitter_buffer_ms;
    double burst_r = 1;
    if (bursts) burst_r = ((double)out->packets_lost / (double)bursts) * (1 - out->loss);
    double ie, bpl;
    media_codec_impairment(rx->profile, &ie, &bpl);
    out->ie_eff = media_ie_eff(ie, bpl, out->loss * 100, burst_r);
    out->r_factor = media_emodel_r(out->mouth_to_ear_ms, ie, bpl, out->loss * 100, burst_r);
    out->mos = media_mos_from_r(out->r_factor);
}
