/* evq: pending-event sets, a 4-ary heap and a ladder queue; see evq.h.
 *
 * Both give the exact (time, seq) order, so a run does not depend on which
 * one is chosen; tests/test_evq.c checks they pop identical sequences.
 * This is the simulator's core and its hottest path, hence written by hand
 * rather than with GLib's containers (GQueue/GSequence cost an allocation per
 * element); `simbench phold` measures it.
 */
#include "sim/kernel/evq.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/base/check.h"

/* ---- ordering ---------------------------------------------------------- */

static inline bool evq_less(const EvqEntry *a, const EvqEntry *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static int evq_cmp(const void *pa, const void *pb)
{
    const EvqEntry *a = pa, *b = pb;
    return evq_less(a, b) ? -1 : evq_less(b, a) ? 1 : 0;
}

/* Sorts a[0..n) ascending: insertion sort for the short runs that are the
 * common case in the ladder's bottom, qsort beyond. */
static void evq_sort(EvqEntry *a, size_t n)
{
    if (n > 24) {
        qsort(a, n, sizeof *a, evq_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        EvqEntry x = a[i];
        size_t j = i;
        for (; j > 0 && evq_less(&x, &a[j - 1]); j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* ---- ladder queue ------------------------------------------------------ */

#define LADDER_THRESH 48   /* a bucket larger than this spawns a new rung */
#define LADDER_MAX_RUNGS 8 /* deepest rung count (Tang et al. use 8) */

typedef struct LadderNode {
    EvqEntry e;    /* the entry */
    uint32_t next; /* next node in the bucket, 0 = end */
    uint32_t pad;  /* keeps nodes at 32 bytes */
} LadderNode;

/* A rung: nb buckets of width 2^shift ns from start. Buckets below cur were
 * handed down to the next rung or the bottom; an entry at time t belongs to
 * this rung iff bucket (t - start) >> shift >= cur. */
typedef struct LadderRung {
    TimeNs start;    /* time of bucket 0, ns */
    int shift;       /* log2 of the bucket width in ns */
    uint32_t nb;     /* buckets */
    uint32_t cur;    /* first bucket not yet handed down */
    size_t left;     /* entries in buckets >= cur */
    uint32_t *head;  /* per bucket: first node, 0 = empty; owned */
    uint32_t *count; /* per bucket: entries; owned */
    uint32_t cap;    /* capacity of head[] and count[] */
} LadderRung;

typedef struct Ladder {
    EvqEntry *top;      /* unsorted entries with time >= top_start; owned */
    size_t ntop;        /* entries in top */
    size_t top_cap;     /* capacity of top */
    TimeNs top_start;   /* entries at or after this go to top */
    TimeNs top_min;     /* smallest time in top */
    TimeNs top_max;     /* largest time in top */
    LadderRung rungs[LADDER_MAX_RUNGS]; /* rungs[0] is the coarsest */
    int nrungs;         /* rungs in use */
    EvqEntry *bot;      /* sorted ascending in [bot_lo, bot_hi); owned */
    size_t bot_lo;      /* first live entry of bot */
    size_t bot_hi;      /* one past the last */
    size_t bot_cap;     /* capacity of bot */
    LadderNode *nodes;  /* bucket nodes; index 0 unused; owned */
    uint32_t nodes_len; /* nodes ever used (high mark) */
    uint32_t nodes_cap; /* capacity of nodes */
    uint32_t free_node; /* free list head, 0 = none */
    EvqEntry *scratch;  /* buffer for a bucket being handed down; owned */
    size_t scratch_cap; /* capacity of scratch */
} Ladder;

struct Evq {
    EvqKind kind;    /* which structure */
    size_t n;        /* entries held (heap: including a deferred hole) */
    bool hole;       /* heap: root already popped, removal deferred */
    EvqEntry *heap;  /* heap array; owned */
    size_t heap_cap; /* capacity of heap */
    Ladder lad;      /* ladder state */
};

static void *evq_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    *cap = c;
    return g_realloc_n(p, c, elem);
}

static uint32_t ladder_node_new(Ladder *L)
{
    uint32_t i = L->free_node;
    if (i) {
        L->free_node = L->nodes[i].next;
        return i;
    }
    if (L->nodes_len + 1 >= L->nodes_cap) {
        size_t cap = L->nodes_cap;
        L->nodes = evq_grow(L->nodes, &cap, (size_t)L->nodes_len + 2, sizeof *L->nodes);
        CHECK(cap <= UINT32_MAX, "ladder: too many nodes");
        L->nodes_cap = (uint32_t)cap;
    }
    if (L->nodes_len == 0) L->nodes_len = 1; /* index 0 means "none" */
    return L->nodes_len++;
}

static void ladder_bucket_add(Ladder *L, LadderRung *r, uint32_t b, EvqEntry e)
{
    CHECK(b < r->nb, "ladder: bucket %u out of %u", b, r->nb);
    uint32_t i = ladder_node_new(L);
    L->nodes[i].e = e;
    L->nodes[i].next = r->head[b];
    r->head[b] = i;
    r->count[b]++;
    r->left++;
}

/* Makes a new innermost rung from entries a[0..k) whose times lie in
 * [lo, hi]: about one bucket per entry, width a power of two. */
static void ladder_spawn(Ladder *L, const EvqEntry *a, size_t k, TimeNs lo, TimeNs hi)
{
    CHECK(L->nrungs < LADDER_MAX_RUNGS, "ladder: rung overflow");
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    int shift = 0;
    while (shift < 63 && (span >> shift) >= k) shift++;
    uint32_t nb = (uint32_t)(span >> shift) + 1;
    LadderRung *r = &L->rungs[L->nrungs++];
    if (nb > r->cap) {
        r->head = g_renew(uint32_t, r->head, nb);
        r->count = g_renew(uint32_t, r->count, nb);
        r->cap = nb;
    }
    memset(r->head, 0, nb * sizeof *r->head);
    memset(r->count, 0, nb * sizeof *r->count);
    r->start = lo;
    r->shift = shift;
    r->nb = nb;
    r->cur = 0;
    r->left = 0;
    for (size_t i = 0; i < k; i++)
        ladder_bucket_add(L, r, (uint32_t)(((uint64_t)a[i].time - (uint64_t)lo) >> shift), a[i]);
}

/* Inserts into the sorted bottom, keeping (time, seq) order. Appending is
 * O(1) (new events usually come last); otherwise binary search + move. */
static void ladder_bottom_insert(Ladder *L, EvqEntry e)
{
    if (L->bot_hi == L->bot_cap) {
        if (L->bot_lo > L->bot_cap / 2) {
            memmove(L->bot, L->bot + L->bot_lo, (L->bot_hi - L->bot_lo) * sizeof *L->bot);
            L->bot_hi -= L->bot_lo;
            L->bot_lo = 0;
        } else {
            L->bot = evq_grow(L->bot, &L->bot_cap, L->bot_hi + 1, sizeof *L->bot);
        }
    }
    size_t lo = L->bot_lo, hi = L->bot_hi;
    if (hi > lo && evq_less(&e, &L->bot[hi - 1])) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (evq_less(&L->bot[mid], &e)) lo = mid + 1;
            else hi = mid;
        }
        memmove(L->bot + lo + 1, L->bot + lo, (L->bot_hi - lo) * sizeof *L->bot);
        L->bot[lo] = e;
    } else {
        L->bot[L->bot_hi] = e;
    }
    L->bot_hi++;
}

static void ladder_push(Ladder *L, EvqEntry e)
{
    if (e.time >= L->top_start) {
        L->top = evq_grow(L->top, &L->top_cap, L->ntop + 1, sizeof *L->top);
        L->top[L->ntop++] = e;
        if (e.time < L->top_min) L->top_min = e.time;
        if (e.time > L->top_max) L->top_max = e.time;
        return;
    }
    for (int i = 0; i < L->nrungs; i++) {
        LadderRung *r = &L->rungs[i];
        if (e.time < r->start) continue;
        uint64_t b = ((uint64_t)e.time - (uint64_t)r->start) >> r->shift;
        if (b >= r->cur) {
            ladder_bucket_add(L, r, (uint32_t)b, e);
            return;
        }
    }
    ladder_bottom_insert(L, e);
}

/* Moves bucket b of rung r into scratch (freeing its nodes); returns its
 * size and the min/max times through lo/hi. */
static size_t ladder_bucket_take(Ladder *L, LadderRung *r, uint32_t b, TimeNs *lo, TimeNs *hi)
{
    size_t k = r->count[b];
    L->scratch = evq_grow(L->scratch, &L->scratch_cap, k, sizeof *L->scratch);
    *lo = TIMENS_MAX;
    *hi = TIMENS_MIN_VALUE;
    size_t n = 0;
    for (uint32_t i = r->head[b], next; i; i = next) {
        LadderNode *nd = &L->nodes[i];
        next = nd->next;
        L->scratch[n++] = nd->e;
        __builtin_prefetch(nd->e.item);
        if (nd->e.time < *lo) *lo = nd->e.time;
        if (nd->e.time > *hi) *hi = nd->e.time;
        nd->next = L->free_node;
        L->free_node = i;
    }
    CHECK(n == k, "ladder: bucket count %zu vs %zu nodes", k, n);
    r->head[b] = 0;
    r->count[b] = 0;
    r->left -= k;
    return k;
}

/* Refills the empty bottom from the innermost non-empty rung, spawning
 * rungs from Top or from oversized buckets as needed. False when empty. */
static bool ladder_refill(Ladder *L)
{
    while (L->bot_lo == L->bot_hi) {
        L->bot_lo = L->bot_hi = 0;
        if (L->nrungs == 0) {
            if (L->ntop == 0) return false;
            ladder_spawn(L, L->top, L->ntop, L->top_min, L->top_max);
            LadderRung *r0 = &L->rungs[0];
            L->top_start = r0->shift >= 62 ? TIMENS_MAX
                           : timens_add_sat(r0->start, timens_mul_sat((TimeNs)r0->nb, (TimeNs)1 << r0->shift));
            L->ntop = 0;
            L->top_min = TIMENS_MAX;
            L->top_max = TIMENS_MIN_VALUE;
            continue;
        }
        LadderRung *r = &L->rungs[L->nrungs - 1];
        if (r->left == 0) {
            L->nrungs--;
            continue;
        }
        uint32_t b = r->cur;
        while (r->count[b] == 0) b++;
        r->cur = b + 1;
        TimeNs lo, hi;
        size_t k = ladder_bucket_take(L, r, b, &lo, &hi);
        if (k > LADDER_THRESH && r->shift > 0 && L->nrungs < LADDER_MAX_RUNGS) {
            /* The child covers the whole bucket, not just [lo, hi]: later
             * inserts anywhere in the bucket must find a place in it. */
            uint64_t b_lo = (uint64_t)r->start + ((uint64_t)b << r->shift);
            uint64_t b_hi = b_lo + ((1ULL << r->shift) - 1);
            if (b_hi > (uint64_t)TIMENS_MAX || b_hi < b_lo) b_hi = (uint64_t)TIMENS_MAX;
            ladder_spawn(L, L->scratch, k, (TimeNs)b_lo, (TimeNs)b_hi);
            continue;
        }
        L->bot = evq_grow(L->bot, &L->bot_cap, k, sizeof *L->bot);
        memcpy(L->bot, L->scratch, k * sizeof *L->bot);
        evq_sort(L->bot, k);
        L->bot_hi = k;
    }
    return true;
}

static void ladder_fini(Ladder *L)
{
    for (int i = 0; i < LADDER_MAX_RUNGS; i++) {
        g_free(L->rungs[i].head);
        g_free(L->rungs[i].count);
    }
    g_free(L->top);
    g_free(L->bot);
    g_free(L->nodes);
    g_free(L->scratch);
}

static size_t ladder_bytes(const Ladder *L)
{
    size_t b = (L->top_cap + L->bot_cap + L->scratch_cap) * sizeof(EvqEntry) +
               (size_t)L->nodes_cap * sizeof(LadderNode);
    for (int i = 0; i < LADDER_MAX_RUNGS; i++) b += (size_t)L->rungs[i].cap * 2 * sizeof(uint32_t);
    return b;
}

/* ---- 4-ary heap -------------------------------------------------------- */

/* Places x at hole i and moves it down to its place among n entries. */
static void heap_sift_down(EvqEntry *h, size_t n, size_t i, EvqEntry x)
{
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t end = c + 4 < n ? c + 4 : n, best = c;
        for (size_t j = c + 1; j < end; j++)
            if (evq_less(&h[j], &h[best])) best = j;
        if (!evq_less(&h[best], &x)) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static void heap_sift_up(EvqEntry *h, size_t i, EvqEntry x)
{
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!evq_less(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

/* Completes a deferred pop of the root. */
static void heap_fill_hole(Evq *q)
{
    q->hole = false;
    q->n--;
    if (q->n > 0) heap_sift_down(q->heap, q->n, 0, q->heap[q->n]);
}

/* ---- public ------------------------------------------------------------ */

Evq *evq_new(EvqKind kind)
{
    Evq *q = g_new0(Evq, 1);
    q->kind = kind;
    q->lad.top_start = TIMENS_MIN_VALUE;
    q->lad.top_min = TIMENS_MAX;
    q->lad.top_max = TIMENS_MIN_VALUE;
    return q;
}

void evq_free(Evq *q)
{
    if (!q) return;
    g_free(q->heap);
    ladder_fini(&q->lad);
    g_free(q);
}

void evq_push(Evq *q, EvqEntry e)
{
    if (q->kind == EVQ_LADDER) {
        ladder_push(&q->lad, e);
        q->n++;
        return;
    }
    if (q->hole) { /* the heapreplace step: one sift instead of two */
        q->hole = false;
        heap_sift_down(q->heap, q->n, 0, e);
        return;
    }
    q->heap = evq_grow(q->heap, &q->heap_cap, q->n + 1, sizeof *q->heap);
    heap_sift_up(q->heap, q->n++, e);
}

bool evq_pop_until(Evq *q, TimeNs limit, EvqEntry *out)
{
    if (q->kind == EVQ_LADDER) {
        Ladder *L = &q->lad;
        if (!ladder_refill(L) || L->bot[L->bot_lo].time > limit) return false;
        *out = L->bot[L->bot_lo++];
        q->n--;
        return true;
    }
    if (q->hole) heap_fill_hole(q);
    if (q->n == 0 || q->heap[0].time > limit) return false;
    *out = q->heap[0];
    q->hole = true;
    return true;
}

size_t evq_size(const Evq *q) { return q->n - (q->hole ? 1 : 0); }
EvqKind evq_kind(const Evq *q) { return q->kind; }

size_t evq_bytes(const Evq *q)
{
    return sizeof *q + q->heap_cap * sizeof(EvqEntry) + ladder_bytes(&q->lad);
}

const char *evq_kind_name(EvqKind k) { return k == EVQ_LADDER ? "ladder" : "heap"; }

bool evq_kind_parse(const char *name, EvqKind *out)
{
    if (strcmp(name, "heap") == 0) *out = EVQ_HEAP;
    else if (strcmp(name, "ladder") == 0) *out = EVQ_LADDER;
    else return false;
    return true;
}
