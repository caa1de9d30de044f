/* pool: fixed-size object pools; see pool.h.
 * Free objects keep an intrusive link (the next free object's pointer)
 * right after the preserved prefix; the free list is LIFO so a just-freed,
 * cache-hot object is the next one handed out. */
#include "sim/kernel/pool.h"

#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "protocol/base/check.h"

struct Pool {
    const char *name;    /* for reports, borrowed */
    size_t obj_size;     /* bytes per object, multiple of 8 */
    size_t keep_bytes;   /* preserved prefix, multiple of 8 */
    char **slabs;        /* slab pointers, owned */
    uint32_t nslabs;     /* slabs in use */
    uint32_t slabs_cap;  /* capacity of slabs[] */
    void *free_head;     /* first free object, or NULL */
    size_t live;         /* objects handed out */
    size_t high_water;   /* max of live */
#ifdef POOL_DEBUG
    uint8_t *out;        /* per object: 1 while handed out (debug only) */
#endif
};

#define POOL_LINK(p, obj) (*(void **)((char *)(obj) + (p)->keep_bytes))

Pool *pool_new(const char *name, size_t obj_size, size_t keep_bytes)
{
    Pool *p = g_new0(Pool, 1);
    p->name = name;
    p->keep_bytes = (keep_bytes + 7) & ~(size_t)7;
    p->obj_size = (obj_size + 7) & ~(size_t)7;
    if (p->obj_size < p->keep_bytes + sizeof(void *)) p->obj_size = p->keep_bytes + sizeof(void *);
    return p;
}

void pool_free(Pool *p)
{
    if (!p) return;
    CHECK(p->live == 0, "pool %s freed with %zu objects still out", p->name, p->live);
    for (uint32_t i = 0; i < p->nslabs; i++) free(p->slabs[i]);
    g_free(p->slabs);
#ifdef POOL_DEBUG
    g_free(p->out);
#endif
    g_free(p);
}

/* Large slabs are 2 MiB-aligned and, where the kernel allows, backed by
 * transparent huge pages, so random access over a big pool (a million
 * packets) does not miss the TLB on nearly every touch. */
static void *pool_slab_alloc(size_t bytes)
{
    size_t huge = (size_t)2 << 20;
    if (bytes < huge) {
        void *small = calloc(1, bytes);
        if (!small) g_error("pool: out of memory");
        return small;
    }
    void *mem = NULL;
    size_t rounded = (bytes + huge - 1) & ~(huge - 1);
    if (posix_memalign(&mem, huge, rounded) != 0) g_error("pool: out of memory");
    madvise(mem, rounded, MADV_HUGEPAGE);
    memset(mem, 0, bytes);
    return mem;
}

/* Adds one slab and threads its objects onto the free list in address
 * order, so consecutive gets walk memory forward. */
static void pool_grow(Pool *p)
{
    CHECK(p->nslabs < (UINT32_MAX >> POOL_SLAB_SHIFT), "pool %s: too many slabs", p->name);
    if (p->nslabs == p->slabs_cap) {
        p->slabs_cap = p->slabs_cap ? p->slabs_cap * 2 : 8;
        p->slabs = g_renew(char *, p->slabs, p->slabs_cap);
#ifdef POOL_DEBUG
        p->out = g_realloc(p->out, (size_t)p->slabs_cap * POOL_SLAB_OBJECTS);
#endif
    }
    char *slab = pool_slab_alloc(p->obj_size * POOL_SLAB_OBJECTS);
    p->slabs[p->nslabs++] = slab;
#ifdef POOL_DEBUG
    memset(p->out + (size_t)(p->nslabs - 1) * POOL_SLAB_OBJECTS, 0, POOL_SLAB_OBJECTS);
#endif
    for (uint32_t i = POOL_SLAB_OBJECTS; i-- > 0;) {
        void *obj = slab + (size_t)i * p->obj_size;
        POOL_LINK(p, obj) = p->free_head;
        p->free_head = obj;
    }
}

/* Scans the slabs: O(slabs); see pool.h. */
uint32_t pool_index(const Pool *p, const void *obj)
{
    const char *o = obj;
    for (uint32_t s = 0; s < p->nslabs; s++) {
        const char *base = p->slabs[s];
        if (o >= base && o < base + p->obj_size * POOL_SLAB_OBJECTS) {
            size_t off = (size_t)(o - base);
            CHECK(off % p->obj_size == 0, "pool %s: misaligned pointer", p->name);
            return (s << POOL_SLAB_SHIFT) | (uint32_t)(off / p->obj_size);
        }
    }
    CHECK(false, "pool %s: pointer %p is not from this pool", p->name, obj);
    return 0;
}

void *pool_get(Pool *p)
{
    if (G_UNLIKELY(!p->free_head)) pool_grow(p);
    void *obj = p->free_head;
    p->free_head = POOL_LINK(p, obj);
    if (++p->live > p->high_water) p->high_water = p->live;
#ifdef POOL_DEBUG
    uint32_t i = pool_index(p, obj);
    CHECK(!p->out[i], "pool %s: free list corrupt", p->name);
    p->out[i] = 1;
    memset((char *)obj + p->keep_bytes, 0xA5, p->obj_size - p->keep_bytes);
#else
    POOL_LINK(p, obj) = NULL;
#endif
    return obj;
}

void pool_put(Pool *p, void *obj)
{
    CHECK(p->live > 0, "pool %s: put with no object out", p->name);
#ifdef POOL_DEBUG
    uint32_t i = pool_index(p, obj);
    CHECK(p->out[i], "pool %s: double put of object %u", p->name, i);
    p->out[i] = 0;
    memset((char *)obj + p->keep_bytes, 0x5A, p->obj_size - p->keep_bytes);
#endif
    p->live--;
    POOL_LINK(p, obj) = p->free_head;
    p->free_head = obj;
}

void *pool_at(const Pool *p, uint32_t idx)
{
    uint32_t s = idx >> POOL_SLAB_SHIFT;
    CHECK(s < p->nslabs, "pool %s: index %u out of range", p->name, idx);
    return p->slabs[s] + (size_t)(idx & (POOL_SLAB_OBJECTS - 1)) * p->obj_size;
}

size_t pool_live(const Pool *p) { return p->live; }
size_t pool_high_water(const Pool *p) { return p->high_water; }
size_t pool_capacity(const Pool *p) { return (size_t)p->nslabs * POOL_SLAB_OBJECTS; }
size_t pool_bytes(const Pool *p) { return pool_capacity(p) * p->obj_size; }
const char *pool_name(const Pool *p) { return p->name; }
