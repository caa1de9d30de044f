/* test_ilist: intrusive list operations. */
#include "protocol/base/ilist.h"

#include "t_assert.h"

typedef struct Item {
    int v;      /* payload */
    ILink link; /* membership */
} Item;

static void test_ilist_push_pop_order(void)
{
    IList l;
    ilist_init(&l);
    Item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].v = i;
        ilist_init(&it[i].link);
        T_FALSE(ilist_link_is_linked(&it[i].link));
    }
    ilist_push_tail(&l, &it[1].link);
    ilist_push_tail(&l, &it[2].link);
    ilist_push_head(&l, &it[0].link);
    ilist_push_tail(&l, &it[3].link);
    T_TRUE(ilist_link_is_linked(&it[2].link));
    ilist_remove(&it[2].link);
    ilist_remove(&it[2].link); /* removing twice is harmless */
    T_FALSE(ilist_link_is_linked(&it[2].link));
    int want[] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        ILink *k = ilist_pop_head(&l);
        T_TRUE(k != NULL);
        T_EQ_I64(CONTAINER_OF(k, Item, link)->v, want[i]);
    }
    T_TRUE(ilist_is_empty(&l));
    T_TRUE(ilist_pop_head(&l) == NULL);
}

static void test_ilist_foreach_safe_removes(void)
{
    IList l;
    ilist_init(&l);
    Item it[6];
    for (int i = 0; i < 6; i++) {
        it[i].v = i;
        ilist_push_tail(&l, &it[i].link);
    }
    ILink *k, *tmp;
    ILIST_FOREACH_SAFE(k, tmp, &l)
    {
        if (CONTAINER_OF(k, Item, link)->v % 2) ilist_remove(k);
    }
    int n = 0, sum = 0;
    ILIST_FOREACH_SAFE(k, tmp, &l)
    {
        n++;
        sum += CONTAINER_OF(k, Item, link)->v;
    }
    T_EQ_I64(n, 3);
    T_EQ_I64(sum, 0 + 2 + 4);
}

T_SUITE_MAIN("ilist", {"test_ilist_push_pop_order", test_ilist_push_pop_order},
             {"test_ilist_foreach_safe_removes", test_ilist_foreach_safe_removes})
