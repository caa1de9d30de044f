/* arena: a bump allocator for build-time data, freed in one go.
 *
 * Layer: sim/kernel. The parsed scenario, topology tables and other data
 * that lives as long as the run go here (STYLE.md §6). Allocation is O(1)
 * (a new chunk now and then); there is no per-object free.
 */
#ifndef SKYSIM_ARENA_H
#define SKYSIM_ARENA_H

#include <stddef.h>

typedef struct Arena Arena;

Arena *arena_new(void);               /* owned; never NULL */
void arena_free(Arena *a);            /* frees everything; NULL is a no-op */
void *arena_alloc(Arena *a, size_t size);  /* zeroed, 16-byte aligned; owned by a */
char *arena_strdup(Arena *a, const char *s); /* copy owned by a */
size_t arena_bytes(const Arena *a);   /* bytes reserved in chunks */

#endif
