/* idxhash: chained hash index over records named by 32-bit indices.
 *
 * Layer: sim/net, internal. The per-Net indexes (routing, ports,
 * connections, NAT mappings) must cost a few bytes per entry, not a
 * GHashTable node each: the chain link lives in the record itself (a
 * uint32_t "next" field holding index + 1), and the table is one array of
 * bucket heads (4 bytes per bucket, at most one bucket per entry after
 * growth). Lookups walk a bucket's chain, comparing keys in the caller.
 * Insert and remove O(1) on average; growth doubles and rehashes, O(n).
 */
#ifndef SKYSIM_IDXHASH_H
#define SKYSIM_IDXHASH_H

#include <stdint.h>

typedef struct IdxHashOps {
    /* Hash of the record idx (as used on insert). */
    uint64_t (*hash)(const void *ctx, uint32_t idx);
    /* Address of the record's chain field (index + 1 of the next, 0 = end). */
    uint32_t *(*next)(const void *ctx, uint32_t idx);
} IdxHashOps;

typedef struct IdxHash {
    uint32_t *heads;   /* bucket -> index + 1 of the first record, 0 = empty */
    uint32_t nbuckets; /* power of two */
    uint32_t count;    /* records held */
    const IdxHashOps *ops; /* borrowed */
    const void *ctx;   /* borrowed, handed to ops */
} IdxHash;

void idxhash_init(IdxHash *h, const IdxHashOps *ops, const void *ctx);
void idxhash_fini(IdxHash *h);
/* Index + 1 of the first record of hash's bucket, 0 if empty. */
static inline uint32_t idxhash_first(const IdxHash *h, uint64_t hash)
{
    return h->heads[hash & (h->nbuckets - 1)];
}
void idxhash_insert(IdxHash *h, uint32_t idx, uint64_t hash);
/* Removes idx (must be present under hash). */
void idxhash_remove(IdxHash *h, uint32_t idx, uint64_t hash);

#endif
