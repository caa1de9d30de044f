/* media: the voice stream of a call: codec, encryption, FEC, and the
 * receiver's quality figures (a33-a39).
 *
 * Layer: protocol/ (talks to the world only through env.h). A sender
 * (MediaTx) produces, every frame interval, the payload of one media
 * packet: a frame of a synthetic speech-like signal encoded with libopus at
 * the profile's bit rate and frame size, or with bcg729 for the G.729
 * profile (payload sizes are real), with FEC
 * copies of earlier frames when enabled, encrypted with AES-256 (really
 * executed through OpenSSL, charged through env_charge_cpu). A receiver
 * (MediaRx) decrypts, tracks sequence numbers, one-way delay and jitter
 * (RFC 3550 estimator), recovers isolated losses from FEC copies, and
 * computes the ITU-T G.107 E-model R-factor and MOS for the call.
 * The 2004 profile reproduces the measured stream (docs/protocol-notes.md a33, a34:
 * 67-byte UDP payloads, 69 over TCP, ~140 packets/s both ways together):
 * a 64-byte packet behind the transports' 3-byte frame header.
 * Silence: packets keep flowing (a35) unless silence suppression is on; on
 * hold about 3 packets/s (a36).
 *
 * Memory: per-stream state comes from env_mem_alloc. Codec work may be
 * shared per world (MediaShared: e.g. a loop of pre-encoded frames per
 * profile, with the encoding cost still charged per frame) — see media.c.
 */
#ifndef SKYSIM_MEDIA_H
#define SKYSIM_MEDIA_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/env.h"

typedef enum MediaProfile {
    MEDIA_PROFILE_OPUS = 0,      /* libopus wideband at the configured bit rate/frame */
    MEDIA_PROFILE_SKYPE2004 = 1, /* the 2004 stream: 64 B packets (67 B UDP, 69 B TCP payloads) */
    MEDIA_PROFILE_G729 = 2,      /* G.729 (bcg729) 8 kb/s, one 10 ms frame per packet (gateway) */
} MediaProfile;

typedef struct MediaConfig {
    MediaProfile profile;     /* codec profile */
    uint32_t bitrate_bps;     /* codec bit rate (opus profile), bit/s */
    TimeNs frame_ns;          /* audio per packet, ns */
    bool fec;                 /* forward error correction: redundant copies of earlier frames */
    bool fec_inband;          /* with fec, opus profile only: the codec's in-band FEC (LBRR,
                                 a low-rate copy of the previous frame inside each frame)
                                 instead of redundant copies */
    bool silence_suppression; /* no packets during silence (off: a35) */
    bool replay;              /* execution: false ("frames"): every frame of a per-call source
                                 encoded and every frame received decoded (loss concealed);
                                 true ("replay"): a pre-encoded loop per world replayed, no
                                 decoding (see media.c) */
} MediaConfig;

/* Per-world shared codec state (created once, like NodeShared). */
typedef struct MediaShared MediaShared;
MediaShared *media_shared_new(const Env *world_env, GError **err);
void media_shared_free(MediaShared *ms); /* NULL is a no-op */

/* Sender. key: the call's 32-byte AES-256 session key (copied). */
typedef struct MediaTx MediaTx;
MediaTx *media_tx_new(const Env *e, const MediaShared *ms, const MediaConfig *c, const uint8_t key[32]);
void media_tx_free(MediaTx *tx, const Env *e); /* NULL is a no-op */
/* Interval between packets now (frame interval; longer on hold), ns. */
TimeNs media_tx_interval(const MediaTx *tx, bool on_hold);
/* What a packet carries: voice, or (a36) nothing while the call is on
 * hold, put there by this end (ON_HOLD: the peer learns it from the
 * packet) or by the peer (HELD). */
typedef enum MediaHold { MEDIA_TALKING = 0, MEDIA_ON_HOLD = 1, MEDIA_HELD = 2 } MediaHold;
/* Writes the next packet's payload (sequence number and send time inside,
 * encrypted) into out; returns its length, or 0 when nothing is sent this
 * interval (silence suppression). The same bytes go over UDP and TCP (a
 * TCP frame delimits them; see wire.h, WIRE_CALL_MEDIA). */
size_t media_tx_next(MediaTx *tx, const Env *e, MediaHold hold, uint8_t *out, size_t cap);

/* Conference mixing (conf.c). The next encoded frame of the sender's loop
 * (its encoding charged), without a packet: a mixing host's own voice.
 * Returns its length (<= cap). Not for the 2004 profile. */
size_t media_tx_frame_next(MediaTx *tx, const Env *e, uint8_t *frame, size_t cap);
/* Like media_tx_next, but the packet carries the given encoded frame (flen
 * bytes, borrowed; its encoding is the caller's to charge), without FEC:
 * a mix re-encoded by a conference host. */
size_t media_tx_next_with(MediaTx *tx, const Env *e, const uint8_t *frame, size_t flen,
                          uint8_t *out, size_t cap);
/* PCM sample rate the codec of c runs at, Hz (8000 for G729, else 16000). */
int media_sample_rate(const MediaConfig *c);
/* PCM samples in one frame of stream c (its frame at its sample rate). */
int media_frame_samples(const MediaConfig *c);

/* Bare codecs of a stream's profile (OPUS and the 2004 profile's frames:
 * libopus; G729: bcg729; no encoder for the 2004 profile, whose stream is
 * cut into blocks), for receivers and conference mixing. Nothing is
 * charged here: the caller charges what it runs. */
typedef struct MediaDec MediaDec;
/* A decoder for stream c (env_mem_alloc'd; bcg729 allocates its own
 * context, not counted). */
MediaDec *media_dec_new(const Env *e, const MediaConfig *c);
void media_dec_free(MediaDec *d, const Env *e); /* NULL is a no-op */
/* Decodes frame f (flen bytes, borrowed; NULL or 0: the frame is missing
 * and the codec conceals it) into pcm (media_frame_samples samples). */
void media_dec_run(MediaDec *d, const uint8_t *f, size_t flen, int16_t *pcm);
typedef struct MediaEnc MediaEnc;
/* An encoder for stream c (opus: VoIP at c's bit rate and the given
 * complexity 0..10; G.729: no VAD). */
MediaEnc *media_enc_new(const Env *e, const MediaConfig *c, int complexity);
void media_enc_free(MediaEnc *x, const Env *e); /* NULL is a no-op */
/* Encodes one frame of pcm (media_frame_samples samples) into out (cap
 * bytes); returns its length (> 0). */
size_t media_enc_run(MediaEnc *x, const int16_t *pcm, uint8_t *out, size_t cap);

/* Bytes a transport puts in front of every media packet: the a18 frame
 * header (2-byte frame id, function byte). */
#define MEDIA_FRAME_HDR 3
/* The default relay cap (a48) per call and direction, bytes/s: enough to
 * carry one direction of stream c without loss (see media.c), and never
 * below a48's official 4 KB/s. */
uint32_t media_relay_cap_default(const MediaConfig *c);

/* Receiver. */
typedef struct MediaRx MediaRx;
MediaRx *media_rx_new(const Env *e, const MediaShared *ms, const MediaConfig *c, const uint8_t key[32]);
void media_rx_free(MediaRx *rx, const Env *e); /* NULL is a no-op */
/* A packet arrived now; false (and counted) when it does not decrypt/parse.
 * buf (borrowed) is one packet as media_tx_next wrote it. */
bool media_rx_packet(MediaRx *rx, const Env *e, const uint8_t *buf, size_t len);

/* media_rx_packet, and the packet's primary codec frame copied into frame
 * (cap bytes) with *flen its length (0: none, e.g. on hold, 2004 profile or
 * too long for cap). frame may be NULL. */
bool media_rx_packet_frame(MediaRx *rx, const Env *e, const uint8_t *buf, size_t len,
                           uint8_t *frame, size_t cap, size_t *flen);

typedef struct MediaStats {
    uint64_t packets_rx;   /* packets received */
    uint64_t packets_lost; /* missing after FEC recovery */
    uint64_t recovered;    /* recovered through FEC */
    double loss;           /* loss after FEC, fraction */
    double delay_ms;       /* mean one-way network delay, ms */
    double jitter_ms;      /* RFC 3550 interarrival jitter, ms */
    double jitter_buffer_ms; /* mean delay of the adaptive jitter buffer, ms */
    double mouth_to_ear_ms;  /* the E-model's T: delay_ms + codec frame + look-ahead +
                                packetisation + jitter_buffer_ms, ms */
    double ie_eff;         /* G.107 effective equipment impairment (codec and loss) */
    double r_factor;       /* ITU-T G.107 E-model R (T = mouth_to_ear_ms) */
    double mos;            /* MOS from R (G.107 Annex B) */
    uint64_t packets_bad;  /* packets that failed to decrypt/parse (wrong key) */
} MediaStats;
void media_rx_stats(const MediaRx *rx, MediaStats *out);
/* Whether the last valid packet said that its sender holds the call
 * (MEDIA_ON_HOLD). */
bool media_rx_peer_holds(const MediaRx *rx);

/* Frames execution (MediaConfig.replay false), every profile (the 2004
 * profile's blocks put back into frames): what the receiver's decoder
 * did, frames. */
typedef struct MediaFrameStats {
    uint64_t decoded;   /* frames decoded from their packet */
    uint64_t concealed; /* frames missing, concealed by the decoder (PLC) */
    uint64_t concealed_audible; /* of those run, the ones whose output was not silence */
    uint64_t fec;       /* frames missing, decoded from the next packet's redundant copy */
} MediaFrameStats;
void media_rx_frame_stats(const MediaRx *rx, MediaFrameStats *out);
/* Frames execution, for tests: the PCM of the last frame the sender
 * encoded and of the last frame the receiver decoded or concealed (its
 * samples per frame at media_sample_rate); returns the sample count, 0 in
 * replay mode or before any. */
size_t media_tx_last_pcm(const MediaTx *tx, const int16_t **pcm);
size_t media_rx_last_pcm(const MediaRx *rx, const int16_t **pcm);

/* The E-model pieces media_rx_stats uses (see media.c for the defaults and
 * codec values). R for a mean one-way delay (ms), codec impairment ie and
 * robustness bpl, packet loss ppl (percent) and burst ratio burst_r (1:
 * random loss). */
double media_emodel_r(double delay_ms, double ie, double bpl, double ppl, double burst_r);
double media_mos_from_r(double r); /* G.107 Annex B */
/* G.107 Ie,eff for codec (ie, bpl), loss ppl (%) and burst ratio burst_r. */
double media_ie_eff(double ie, double bpl, double ppl, double burst_r);
/* The sender-side delay of stream c: codec frame + look-ahead +
 * packetisation, ns (see media.c). */
TimeNs media_codec_delay_ns(const MediaConfig *c);
void media_codec_impairment(MediaProfile p, double *ie, double *bpl); /* Ie, Bpl of a profile */
EnvCost media_cost_encode(MediaProfile p); /* the CPU cost op of encoding a frame of p */
EnvCost media_cost_decode(MediaProfile p); /* ... of decoding or concealing one */

#endif
