/* arena: chunked bump allocator; see arena.h. */
#include "sim/kernel/arena.h"

#include <glib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)

typedef struct ArenaChunk {
    struct ArenaChunk *next; /* older chunk */
    size_t size;             /* usable bytes in data[] */
    size_t used;             /* bytes handed out */
    _Alignas(16) char data[]; /* the memory */
} ArenaChunk;

struct Arena {
    ArenaChunk *head; /* newest chunk, or NULL */
    size_t bytes;     /* total chunk bytes */
};

Arena *arena_new(void) { return g_new0(Arena, 1); }

void arena_free(Arena *a)
{
    if (!a) return;
    for (ArenaChunk *c = a->head, *next; c; c = next) {
        next = c->next;
        g_free(c);
    }
    g_free(a);
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    ArenaChunk *c = a->head;
    if (!c || c->size - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = g_malloc(sizeof *c + cap);
        c->size = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->bytes += cap;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(a, n);
    memcpy(p, s, n);
    return p;
}

size_t arena_bytes(const Arena *a) { return a->bytes; }
