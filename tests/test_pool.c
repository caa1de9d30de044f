/* test_pool: object pools: reuse, indices, preserved prefix, counters. */
#include "sim/kernel/pool.h"

#include <glib.h>

#include "t_assert.h"

typedef struct Obj {
    uint32_t gen;  /* preserved */
    uint32_t idx;  /* preserved */
    uint64_t data; /* scratch */
    char pad[24];  /* size */
} Obj;

static void test_pool_get_put_counts(void)
{
    Pool *p = pool_new("objs", sizeof(Obj), 8);
    Obj *a = pool_get(p), *b = pool_get(p);
    T_TRUE(a != b);
    T_EQ_I64(pool_live(p), 2);
    pool_put(p, a);
    T_EQ_I64(pool_live(p), 1);
    Obj *c = pool_get(p);
    T_TRUE(c == a); /* LIFO reuse: the cache-hot object comes back */
    pool_put(p, b);
    pool_put(p, c);
    T_EQ_I64(pool_live(p), 0);
    T_EQ_I64(pool_high_water(p), 2);
    pool_free(p);
}

static void test_pool_index_roundtrip_many_slabs(void)
{
    Pool *p = pool_new("objs", sizeof(Obj), 8);
    enum { N = 3 * POOL_SLAB_OBJECTS + 17 };
    Obj **all = g_new(Obj *, N);
    for (uint32_t i = 0; i < N; i++) {
        all[i] = pool_get(p);
        uint32_t idx = pool_index(p, all[i]);
        T_TRUE(pool_at(p, idx) == all[i]);
        if (all[i]->gen == 0) { /* fresh objects are zero in the kept prefix */
            all[i]->gen = 1;
            all[i]->idx = idx;
        }
        all[i]->data = i;
    }
    T_CMP_I64(pool_capacity(p), >=, N);
    T_EQ_I64(pool_bytes(p), pool_capacity(p) * sizeof(Obj));
    for (uint32_t i = 0; i < N; i++) {
        all[i]->gen = 41;
        pool_put(p, all[i]);
    }
    for (uint32_t i = 0; i < N; i++) {
        Obj *o = pool_get(p);
        T_EQ_I64(o->gen, 41); /* the kept prefix survives put and get */
        T_TRUE(pool_at(p, o->idx) == o);
        all[i] = o;
    }
    for (uint32_t i = 0; i < N; i++) pool_put(p, all[i]);
    T_EQ_I64(pool_live(p), 0);
    g_free(all);
    pool_free(p);
}

T_SUITE_MAIN("pool", {"test_pool_get_put_counts", test_pool_get_put_counts},
             {"test_pool_index_roundtrip_many_slabs", test_pool_index_roundtrip_many_slabs})
