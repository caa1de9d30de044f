/* ilist: intrusive doubly linked lists (after libuv's queue.h).
 *
 * Layer: protocol/base. An ILink is embedded in the owner; CONTAINER_OF gets
 * the owner back. A list is a sentinel ILink pointing to itself when empty.
 * All operations are O(1) and never allocate. A link that is on no list has
 * next == prev == itself (after ilist_init or ilist_remove), so
 * ilist_link_is_linked() is cheap and removing twice is harmless.
 */
#ifndef SKYSIM_ILIST_H
#define SKYSIM_ILIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ILink {
    struct ILink *next; /* next link, or the sentinel */
    struct ILink *prev; /* previous link, or the sentinel */
} ILink;

typedef ILink IList; /* the sentinel */

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void ilist_init(IList *l) { l->next = l->prev = l; }
static inline bool ilist_is_empty(const IList *l) { return l->next == l; }
static inline bool ilist_link_is_linked(const ILink *k) { return k->next != k; }

static inline void ilist__insert(ILink *k, ILink *prev, ILink *next)
{
    k->prev = prev;
    k->next = next;
    prev->next = k;
    next->prev = k;
}
static inline void ilist_push_tail(IList *l, ILink *k) { ilist__insert(k, l->prev, l); }
static inline void ilist_push_head(IList *l, ILink *k) { ilist__insert(k, l, l->next); }

/* Unlinks k from whatever list holds it; k becomes unlinked (self-loop). */
static inline void ilist_remove(ILink *k)
{
    k->prev->next = k->next;
    k->next->prev = k->prev;
    k->next = k->prev = k;
}

/* First link, or NULL when empty (borrowed). */
static inline ILink *ilist_first(const IList *l) { return l->next == l ? NULL : l->next; }

/* Removes and returns the first link, or NULL when empty. */
static inline ILink *ilist_pop_head(IList *l)
{
    ILink *k = ilist_first(l);
    if (k) ilist_remove(k);
    return k;
}

/* Iterates; the body may remove `it` (the next link is fetched first). */
#define ILIST_FOREACH_SAFE(it, tmp, list)                                                          \
    for ((it) = (list)->next, (tmp) = (it)->next; (it) != (list); (it) = (tmp), (tmp) = (it)->next)

#endif
