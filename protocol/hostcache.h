/* hostcache: the client's list of supernodes to contact, persisted per node.
 *
 * Layer: protocol/, used by the client login and failover machines and by
 * supernodes (which hand entries out). Sources: capacity 200 (docs/protocol-notes.md
 * a1, a4), persisted across sessions (a3: the registry in 0.97, shared.xml
 * in 2.x), at least one valid entry needed to log in (a2), seven bootstrap
 * supernodes on port 33033 filled in when the cache is empty (a6).
 *
 * Memory: entries are 12 bytes (budget 16, checked at compile time); the
 * array is allocated once through env_mem_alloc at its full capacity, so
 * the per-node cost is fixed and counted (200 entries = 2,400 bytes).
 * Operations are O(n) scans over at most 200 entries: cheap next to the
 * network events that trigger them, and no index to keep in memory.
 *
 * Replacement: a full cache evicts the entry with the lowest score, the
 * least recently seen among equals. Scores go up by one per successful
 * contact and down by one per failure, clamped to [-8, 8]; an ordinary
 * entry whose score falls to HOSTCACHE_SCORE_DEAD is removed (a supernode
 * that failed that many contacts in a row is gone). Each entry also keeps
 * the supernode's load as last heard (probe answers, supernode gossip).
 *
 * Selection (hostcache_best) ranks ordinary entries before the bootstrap
 * ones, whatever their score: the bootstrap supernodes are what a client
 * falls back on when no other entry answers (a2, a6). Among the others,
 * higher score first, then the lower known load, then the fresher.
 */
#ifndef SKYSIM_HOSTCACHE_H
#define SKYSIM_HOSTCACHE_H

#include "protocol/env.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTCACHE_MAX 200 /* a1 */
#define HOSTCACHE_STORE_KEY "hostcache"
#define HOSTCACHE_SCORE_MAX 8
#define HOSTCACHE_SCORE_DEAD (-3) /* an ordinary entry reaching this score is removed */
#define HOSTCACHE_LOAD_UNKNOWN 255
#define HOSTCACHE_F_BOOTSTRAP 0x01 /* a hard-coded bootstrap supernode (a6) */

typedef struct HostCacheEntry {
    uint32_t ip;          /* supernode IPv4, host order */
    uint16_t port;        /* supernode port */
    int8_t score;         /* quality, [-8, 8]: successes minus failures */
    uint8_t flags;        /* HOSTCACHE_F_* */
    uint32_t last_seen_s; /* virtual time of the last successful contact or refresh, s */
    uint8_t load;         /* its load as last heard, percent of its client capacity;
                             HOSTCACHE_LOAD_UNKNOWN when never heard (not persisted) */
} HostCacheEntry;
_Static_assert(sizeof(HostCacheEntry) <= 16, "host cache entry budget (issue 4)");

typedef struct HostCache {
    HostCacheEntry *e; /* private: cap entries from env_mem_alloc */
    uint16_t n;        /* read-only: entries in use */
    uint16_t cap;      /* read-only: capacity (<= HOSTCACHE_MAX) */
} HostCache;

/* Allocates room for cap (1..HOSTCACHE_MAX) entries; the cache is empty. */
void hostcache_init(HostCache *hc, const Env *e, uint16_t cap);
/* Releases the array (the contents are not saved: see hostcache_save). */
void hostcache_fini(HostCache *hc, const Env *e);
/* Bytes allocated for the cache (for the memory report). */
size_t hostcache_mem_bytes(const HostCache *hc);

/* The entry of a, or NULL (borrowed until the next insertion). */
HostCacheEntry *hostcache_find(HostCache *hc, EnvAddr a);
/* What an insertion did. */
typedef enum HostCacheOutcome {
    HOSTCACHE_KEPT = 0, /* a was cached already: refreshed */
    HOSTCACHE_ADDED,    /* a took a free slot */
    HOSTCACHE_REPLACED, /* a took the slot of the worst entry (one eviction) */
    HOSTCACHE_REFUSED,  /* the cache is full of entries better than a new one */
} HostCacheOutcome;

/* Inserts a (or refreshes it: last-seen = now, flags OR-ed). A full cache
 * evicts its worst entry unless that is better than a new one would be.
 * Returns the entry, or NULL when a was not taken. */
HostCacheEntry *hostcache_add(HostCache *hc, EnvAddr a, TimeNs now, uint8_t flags);
/* Merges second-hand news of a (supernode gossip): last heard alive at
 * seen_s (virtual seconds) with load (HOSTCACHE_LOAD_UNKNOWN: unknown). A
 * cached entry takes seen_s and the load only when the news is at least as
 * recent as its own last-seen; a new one is inserted as
 * hostcache_add does. *out (may be NULL) says what happened. */
HostCacheEntry *hostcache_merge(HostCache *hc, EnvAddr a, uint32_t seen_s, uint8_t load,
                                HostCacheOutcome *out);
/* Records a successful (ok) or failed contact with a, if cached. Returns
 * true when the failure removed the entry (HOSTCACHE_SCORE_DEAD). */
bool hostcache_entry_touch(HostCache *hc, EnvAddr a, TimeNs now, bool ok);
/* Records a's load as just heard (percent of its capacity), if cached. */
void hostcache_entry_load(HostCache *hc, EnvAddr a, uint8_t load);
/* Removes a if cached (O(1) swap with the last entry). */
void hostcache_remove(HostCache *hc, EnvAddr a);

/* Writes up to max addresses into out, best first (ordinary entries before
 * bootstrap ones, then score, known load, last-seen, position), skipping
 * `skip` (may be NULL, nskip entries). With flags_want != 0, only entries
 * having those flags. Returns the count. */
size_t hostcache_best(const HostCache *hc, EnvAddr *out, size_t max, uint8_t flags_want,
                      const EnvAddr *skip, size_t nskip);

/* Entries for which is_live(ctx, address) is true: the world's measure of
 * host-cache freshness (share of entries pointing to a live supernode). */
size_t hostcache_count_live(const HostCache *hc, bool (*is_live)(void *ctx, EnvAddr a), void *ctx);

/* Fills in the bootstrap supernodes (flagged HOSTCACHE_F_BOOTSTRAP). */
void hostcache_add_bootstrap(HostCache *hc, const EnvAddr *boot, size_t n, TimeNs now);

/* Persists through env_store_put(HOSTCACHE_STORE_KEY). Returns ENV_OK or the
 * store's error. */
int hostcache_save(const HostCache *hc, const Env *e);
/* Loads the persisted entries into an empty cache. Returns false (and
 * leaves the cache empty) when nothing is stored or the blob is malformed:
 * a corrupt file never crashes the client. */
bool hostcache_load(HostCache *hc, const Env *e);

#endif
