/* hostcache: fixed-capacity array of supernode entries (see hostcache.h).
 * Stored format: version byte, u16 count, then count * 12 bytes (ip u32,
 * port u16, score i8, flags u8, last-seen u32), big-endian. */
#include "protocol/hostcache.h"

#include "protocol/wire.h"

#include <string.h>

#define HOSTCACHE_FORMAT 1
#define HOSTCACHE_REC 12

void hostcache_init(HostCache *hc, const Env *e, uint16_t cap)
{
    CHECK(cap >= 1 && cap <= HOSTCACHE_MAX, "host cache capacity %u", cap);
    hc->e = env_mem_alloc(e, cap * sizeof(HostCacheEntry));
    hc->n = 0;
    hc->cap = cap;
}

void hostcache_fini(HostCache *hc, const Env *e)
{
    env_mem_free(e, hc->e, hc->cap * sizeof(HostCacheEntry));
    hc->e = NULL;
    hc->n = hc->cap = 0;
}

size_t hostcache_mem_bytes(const HostCache *hc)
{
    return hc->cap * sizeof(HostCacheEntry);
}

HostCacheEntry *hostcache_find(HostCache *hc, EnvAddr a)
{
    for (uint16_t i = 0; i < hc->n; i++)
        if (hc->e[i].ip == a.ip && hc->e[i].port == a.port) return &hc->e[i];
    return NULL;
}

/* Whether x is worth keeping over y (better score, then fresher): the
 * eviction order. */
static bool hostcache_better(const HostCacheEntry *x, const HostCacheEntry *y)
{
    if (x->score != y->score) return x->score > y->score;
    return x->last_seen_s > y->last_seen_s;
}

/* Whether x is to be tried before y: the selection order (hostcache.h). */
static bool hostcache_before(const HostCacheEntry *x, const HostCacheEntry *y)
{
    bool xb = x->flags & HOSTCACHE_F_BOOTSTRAP, yb = y->flags & HOSTCACHE_F_BOOTSTRAP;
    if (xb != yb) return yb;
    if (x->score != y->score) return x->score > y->score;
    if (x->load != y->load) return x->load < y->load; /* unknown (255) last */
    return x->last_seen_s > y->last_seen_s;
}

/* Inserts fresh (not cached yet): a free slot, or the worst entry's. */
static HostCacheEntry *hostcache_insert(HostCache *hc, HostCacheEntry fresh, HostCacheOutcome *out)
{
    if (hc->n < hc->cap) {
        *out = HOSTCACHE_ADDED;
        hc->e[hc->n] = fresh;
        return &hc->e[hc->n++];
    }
    uint16_t worst = 0;
    for (uint16_t i = 1; i < hc->n; i++)
        if (hostcache_better(&hc->e[worst], &hc->e[i])) worst = i;
    if (hc->e[worst].score > 0) { /* every entry has proven itself */
        *out = HOSTCACHE_REFUSED;
        return NULL;
    }
    *out = HOSTCACHE_REPLACED;
    hc->e[worst] = fresh;
    return &hc->e[worst];
}

HostCacheEntry *hostcache_add(HostCache *hc, EnvAddr a, TimeNs now, uint8_t flags)
{
    CHECK(a.ip != 0 && a.port != 0, "host cache entry without address");
    HostCacheEntry fresh = {a.ip, a.port, 0, flags, (uint32_t)(now / TIMENS_S),
                            HOSTCACHE_LOAD_UNKNOWN};
    HostCacheEntry *x = hostcache_find(hc, a);
    if (x) {
        x->last_seen_s = fresh.last_seen_s;
        x->flags |= flags;
        return x;
    }
    HostCacheOutcome out;
    return hostcache_insert(hc, fresh, &out);
}

HostCacheEntry *hostcache_merge(HostCache *hc, EnvAddr a, uint32_t seen_s, uint8_t load,
                                HostCacheOutcome *out)
{
    CHECK(a.ip != 0 && a.port != 0, "host cache entry without address");
    HostCacheOutcome dummy;
    if (!out) out = &dummy;
    HostCacheEntry *x = hostcache_find(hc, a);
    if (x) {
        *out = HOSTCACHE_KEPT;
        if (seen_s >= x->last_seen_s) { /* as recent as what we had: its load is news */
            x->last_seen_s = seen_s;
            if (load != HOSTCACHE_LOAD_UNKNOWN) x->load = load;
        }
        return x;
    }
    return hostcache_insert(hc, (HostCacheEntry){a.ip, a.port, 0, 0, seen_s, load}, out);
}

bool hostcache_entry_touch(HostCache *hc, EnvAddr a, TimeNs now, bool ok)
{
    HostCacheEntry *x = hostcache_find(hc, a);
    if (!x) return false;
    if (ok) {
        x->last_seen_s = (uint32_t)(now / TIMENS_S);
        if (x->score < HOSTCACHE_SCORE_MAX) x->score++;
        if (x->score < 0) x->score = 0; /* it answers again: the failures are history */
        return false;
    }
    if (x->score > -HOSTCACHE_SCORE_MAX) x->score--;
    if (x->score > HOSTCACHE_SCORE_DEAD || (x->flags & HOSTCACHE_F_BOOTSTRAP)) return false;
    *x = hc->e[--hc->n];
    return true;
}

void hostcache_entry_load(HostCache *hc, EnvAddr a, uint8_t load)
{
    HostCacheEntry *x = hostcache_find(hc, a);
    if (x) x->load = load;
}

void hostcache_remove(HostCache *hc, EnvAddr a)
{
    HostCacheEntry *x = hostcache_find(hc, a);
    if (x) *x = hc->e[--hc->n];
}

static bool hostcache_skipped(const HostCacheEntry *x, const EnvAddr *skip, size_t nskip)
{
    for (size_t i = 0; i < nskip; i++)
        if (skip[i].ip == x->ip && skip[i].port == x->port) return true;
    return false;
}

size_t hostcache_best(const HostCache *hc, EnvAddr *out, size_t max, uint8_t flags_want,
                      const EnvAddr *skip, size_t nskip)
{
    /* Selection by repeated scans: O(n * max), n <= 200 and max small. */
    uint8_t taken[(HOSTCACHE_MAX + 7) / 8] = {0};
    size_t k = 0;
    for (; k < max; k++) {
        int best = -1;
        for (uint16_t i = 0; i < hc->n; i++) {
            const HostCacheEntry *x = &hc->e[i];
            if (taken[i / 8] & (1u << (i % 8))) continue;
            if ((x->flags & flags_want) != flags_want || hostcache_skipped(x, skip, nskip))
                continue;
            if (best < 0 || hostcache_before(x, &hc->e[best])) best = i;
        }
        if (best < 0) break;
        taken[best / 8] |= (uint8_t)(1u << (best % 8));
        out[k] = env_addr(hc->e[best].ip, hc->e[best].port);
    }
    return k;
}

size_t hostcache_count_live(const HostCache *hc, bool (*is_live)(void *ctx, EnvAddr a), void *ctx)
{
    size_t k = 0;
    for (uint16_t i = 0; i < hc->n; i++)
        k += is_live(ctx, env_addr(hc->e[i].ip, hc->e[i].port));
    return k;
}

void hostcache_add_bootstrap(HostCache *hc, const EnvAddr *boot, size_t n, TimeNs now)
{
    for (size_t i = 0; i < n; i++)
        hostcache_add(hc, boot[i], now, HOSTCACHE_F_BOOTSTRAP);
}

int hostcache_save(const HostCache *hc, const Env *e)
{
    uint8_t buf[3 + HOSTCACHE_MAX * HOSTCACHE_REC];
    buf[0] = HOSTCACHE_FORMAT;
    wire_put_u16(buf + 1, hc->n);
    uint8_t *p = buf + 3;
    for (uint16_t i = 0; i < hc->n; i++, p += HOSTCACHE_REC) {
        const HostCacheEntry *x = &hc->e[i];
        wire_put_u32(p, x->ip);
        wire_put_u16(p + 4, x->port);
        p[6] = (uint8_t)x->score;
        p[7] = x->flags;
        wire_put_u32(p + 8, x->last_seen_s);
    }
    return env_store_put(e, HOSTCACHE_STORE_KEY, buf, (size_t)(p - buf));
}

bool hostcache_load(HostCache *hc, const Env *e)
{
    uint8_t buf[3 + HOSTCACHE_MAX * HOSTCACHE_REC];
    long len = env_store_get(e, HOSTCACHE_STORE_KEY, buf, sizeof buf);
    hc->n = 0;
    if (len < 3 || (size_t)len > sizeof buf || buf[0] != HOSTCACHE_FORMAT) return false;
    uint16_t n = wire_get_u16(buf + 1);
    if ((size_t)len != 3 + (size_t)n * HOSTCACHE_REC || n > hc->cap) return false;
    const uint8_t *p = buf + 3;
    for (uint16_t i = 0; i < n; i++, p += HOSTCACHE_REC) {
        HostCacheEntry x = {wire_get_u32(p), wire_get_u16(p + 4), (int8_t)p[6], p[7],
                            wire_get_u32(p + 8), HOSTCACHE_LOAD_UNKNOWN};
        if (x.ip == 0 || x.port == 0 || x.score > HOSTCACHE_SCORE_MAX ||
            x.score < -HOSTCACHE_SCORE_MAX) {
            hc->n = 0;
            return false;
        }
        hc->e[hc->n++] = x;
    }
    return true;
}
