/* pool: fixed-size object pools (slabs with an intrusive free list).
 *
 * Layer: sim/kernel. Events, packets, timers and TCP segments come from
 * pools so the hot path never calls malloc (DESIGN.md "Memory"). Objects live
 * in slabs of POOL_SLAB_OBJECTS and are numbered: pool_at() turns a 32-bit
 * index back into a pointer, so handles can be small integers.
 * The first keep_bytes of an object survive pool_put()/pool_get() (a
 * generation counter lives there); a fresh object is all zero bytes.
 * Debug builds (POOL_DEBUG) fill the rest of an object with 0xA5 on get and
 * 0x5A on put and catch a double put or a put of a foreign pointer.
 * Complexity: get and put O(1); a new slab is one allocation.
 */
#ifndef SKYSIM_POOL_H
#define SKYSIM_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct Pool Pool;

#define POOL_SLAB_SHIFT 12
#define POOL_SLAB_OBJECTS (1u << POOL_SLAB_SHIFT)

/* Creates a pool of objects of obj_size bytes (rounded up to 8), of which
 * the first keep_bytes are preserved across put/get. name: borrowed string
 * literal, used in reports. Returns an owned pool; never NULL. */
Pool *pool_new(const char *name, size_t obj_size, size_t keep_bytes);

/* Frees the pool and all its slabs. CHECKs that no object is still out:
 * teardown with live objects is a leak (STYLE.md §8). NULL is a no-op. */
void pool_free(Pool *p);

/* Hands out an object (ownership to the caller). Never NULL. */
void *pool_get(Pool *p);

/* Index of an object of this pool, for pool_at(). O(slabs): callers that
 * need it often store it in the preserved prefix once, when the object is
 * fresh (all zero). CHECKs that obj belongs to the pool. */
uint32_t pool_index(const Pool *p, const void *obj);

/* Takes back an object obtained from this pool. */
void pool_put(Pool *p, void *obj);

/* The object with index idx (borrowed; it may be free). CHECKs the range. */
void *pool_at(const Pool *p, uint32_t idx);

size_t pool_live(const Pool *p);       /* objects currently handed out */
size_t pool_high_water(const Pool *p); /* most objects ever out at once */
size_t pool_capacity(const Pool *p);   /* objects in all slabs */
size_t pool_bytes(const Pool *p);      /* bytes held in slabs */
const char *pool_name(const Pool *p);

#endif
