/* idxhash: chained hash index over records named by 32-bit indices (idxhash.h). */
#include "sim/net/idxhash.h"

#include <glib.h>
#include <string.h>

#include "protocol/base/check.h"

#define IDXHASH_MIN_BUCKETS 16u

void idxhash_init(IdxHash *h, const IdxHashOps *ops, const void *ctx)
{
    h->nbuckets = IDXHASH_MIN_BUCKETS;
    h->heads = g_new0(uint32_t, h->nbuckets);
    h->count = 0;
    h->ops = ops;
    h->ctx = ctx;
}

void idxhash_fini(IdxHash *h)
{
    g_free(h->heads);
    h->heads = NULL;
    h->nbuckets = 0;
    h->count = 0;
}

/* Doubles the bucket array and relinks every record: O(n). */
static void idxhash_grow(IdxHash *h)
{
    uint32_t old_n = h->nbuckets;
    uint32_t *old = h->heads;
    h->nbuckets = old_n * 2;
    h->heads = g_new0(uint32_t, h->nbuckets);
    for (uint32_t b = 0; b < old_n; b++) {
        uint32_t i1 = old[b];
        while (i1) {
            uint32_t *nx = h->ops->next(h->ctx, i1 - 1);
            uint32_t following = *nx;
            uint32_t nb = (uint32_t)(h->ops->hash(h->ctx, i1 - 1) & (h->nbuckets - 1));
            *nx = h->heads[nb];
            h->heads[nb] = i1;
            i1 = following;
        }
    }
    g_free(old);
}

void idxhash_insert(IdxHash *h, uint32_t idx, uint64_t hash)
{
    if (h->count >= h->nbuckets) {
        idxhash_grow(h);
    }
    uint32_t b = (uint32_t)(hash & (h->nbuckets - 1));
    *h->ops->next(h->ctx, idx) = h->heads[b];
    h->heads[b] = idx + 1;
    h->count++;
}

void idxhash_remove(IdxHash *h, uint32_t idx, uint64_t hash)
{
    uint32_t *link = &h->heads[hash & (h->nbuckets - 1)];
    while (*link && *link != idx + 1) link = h->ops->next(h->ctx, *link - 1);
    CHECK(*link == idx + 1, "idxhash: record %u not under its hash", idx);
    uint32_t *nx = h->ops->next(h->ctx, idx);
    *link = *nx;
    *nx = 0;
    h->count--;
}
