/* evq: pending-event sets: a 4-ary heap, a ladder queue and a two-level
 * bucket queue; see evq.h.
 *
 * All three give the exact (time, seq) order, so a run does not depend on
 * which is chosen; tests/test_evq.c checks they pop identical sequences.
 * This is the simulator's core and its hottest path, hence written by hand
 * rather than with GLib's containers (GSequence costs an allocation and a
 * tree walk per element); `simbench phold` measures it.
 */
#include "sim/kernel/evq.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "protocol/base/check.h"

/* ---- ordering and growth ------------------------------------------------ */

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
 * common case in buckets, qsort beyond. */
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

/* Resizes an array to exactly newcap elements, keeping the first `used`
 * (evq_resize), or grows it to hold at least `need` (doubling, evq_grow).
 * Arrays of 2 MiB and more are 2 MiB-aligned and advised for transparent huge pages:
 * a million pending events span ~100 MB of queue arrays, and with 4 KiB
 * pages their first touch and their TLB misses cost more than the queue
 * operations themselves (measured with simbench). All queue arrays are
 * allocated with malloc/posix_memalign and released with free(). */
static void *evq_resize(void *p, size_t *cap, size_t used, size_t newcap, size_t elem)
{
    if (newcap == 0) {
        free(p);
        *cap = 0;
        return NULL;
    }
    size_t bytes = newcap * elem, huge = (size_t)2 << 20;
    void *q;
    if (bytes < huge && (*cap * elem) < huge) {
        q = realloc(p, bytes);
        if (!q) g_error("evq: out of memory");
    } else {
        if (bytes < huge) {
            q = malloc(bytes);
            if (!q) g_error("evq: out of memory");
        } else {
            if (posix_memalign(&q, huge, bytes) != 0) g_error("evq: out of memory");
            madvise(q, bytes, MADV_HUGEPAGE);
        }
        if (p) memcpy(q, p, (used < newcap ? used : newcap) * elem);
        free(p);
    }
    *cap = newcap;
    return q;
}

static void *evq_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    return evq_resize(p, cap, *cap, c, elem);
}

/* Smallest shift such that span >> shift < k (so at most k buckets). */
static int evq_shift_for(uint64_t span, size_t k)
{
    int shift = 0;
    while (shift < 63 && (span >> shift) >= k) shift++;
    return shift;
}

/* ---- 4-ary heap -------------------------------------------------------- */

/* Places x at hole i and moves it down to its place among n entries. */
static void heap_sift_down(EvqEntry *h, size_t n, size_t i, const EvqEntry *x)
{
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t end = c + 4 < n ? c + 4 : n, best = c;
        for (size_t j = c + 1; j < end; j++)
            if (evq_less(&h[j], &h[best])) best = j;
        if (!evq_less(&h[best], x)) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = *x;
}

static void heap_sift_up(EvqEntry *h, size_t i, const EvqEntry *x)
{
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!evq_less(x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = *x;
}

typedef struct Heap {
    EvqEntry *a; /* the heap array; owned */
    size_t n;    /* entries, including a deferred hole */
    size_t cap;  /* capacity */
    bool hole;   /* root already popped, its removal deferred */
} Heap;

static void heap_push(Heap *h, const EvqEntry *e)
{
    if (h->hole) { /* the heapreplace step: one sift instead of two */
        h->hole = false;
        heap_sift_down(h->a, h->n, 0, e);
        return;
    }
    h->a = evq_grow(h->a, &h->cap, h->n + 1, sizeof *h->a);
    heap_sift_up(h->a, h->n++, e);
}

/* Completes a deferred pop of the root. */
static void heap_settle(Heap *h)
{
    if (!h->hole) return;
    h->hole = false;
    h->n--;
    if (h->n > 0) heap_sift_down(h->a, h->n, 0, &h->a[h->n]);
}

static bool heap_pop_until(Heap *h, TimeNs limit, EvqEntry *out)
{
    heap_settle(h);
    if (h->n == 0 || h->a[0].time > limit) return false;
    *out = h->a[0];
    h->hole = true;
    return true;
}

/* ---- ladder queue ------------------------------------------------------ */

#define LADDER_THRESH 48   /* a bucket larger than this spawns a new rung */
#define LADDER_MAX_RUNGS 8 /* deepest rung count (Tang et al. use 8) */

typedef struct LadderNode {
    EvqEntry e;    /* the entry */
    uint32_t next; /* next node in the bucket, 0 = end */
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
    size_t nodes_len;   /* nodes ever used (high mark) */
    size_t nodes_cap;   /* capacity of nodes */
    uint32_t free_node; /* free list head, 0 = none */
    EvqEntry *scratch;  /* buffer for a bucket being handed down; owned */
    size_t scratch_cap; /* capacity of scratch */
} Ladder;

static uint32_t ladder_node_new(Ladder *L)
{
    uint32_t i = L->free_node;
    if (i) {
        L->free_node = L->nodes[i].next;
        return i;
    }
    if (L->nodes_len == 0) L->nodes_len = 1; /* index 0 means "none" */
    CHECK(L->nodes_len < UINT32_MAX, "ladder: too many nodes");
    L->nodes = evq_grow(L->nodes, &L->nodes_cap, L->nodes_len + 1, sizeof *L->nodes);
    return (uint32_t)L->nodes_len++;
}

static void ladder_bucket_add(Ladder *L, LadderRung *r, uint32_t b, const EvqEntry *e)
{
    CHECK(b < r->nb, "ladder: bucket %u out of %u", b, r->nb);
    uint32_t i = ladder_node_new(L);
    L->nodes[i].e = *e;
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
    int shift = evq_shift_for(span, k);
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
        ladder_bucket_add(L, r, (uint32_t)(((uint64_t)a[i].time - (uint64_t)lo) >> shift), &a[i]);
}

/* Inserts into the sorted bottom, keeping (time, seq) order. Appending is
 * O(1) (new events usually come last); otherwise binary search + move. */
static void ladder_bottom_insert(Ladder *L, const EvqEntry *e)
{
    if (L->bot_hi == L->bot_cap && L->bot_lo > L->bot_cap / 2) {
        memmove(L->bot, L->bot + L->bot_lo, (L->bot_hi - L->bot_lo) * sizeof *L->bot);
        L->bot_hi -= L->bot_lo;
        L->bot_lo = 0;
    }
    L->bot = evq_grow(L->bot, &L->bot_cap, L->bot_hi + 1, sizeof *L->bot);
    size_t lo = L->bot_lo, hi = L->bot_hi;
    if (hi > lo && evq_less(e, &L->bot[hi - 1])) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (evq_less(&L->bot[mid], e)) lo = mid + 1;
            else hi = mid;
        }
        memmove(L->bot + lo + 1, L->bot + lo, (L->bot_hi - lo) * sizeof *L->bot);
        L->bot[lo] = *e;
    } else {
        L->bot[L->bot_hi] = *e;
    }
    L->bot_hi++;
}

static void ladder_push(Ladder *L, const EvqEntry *e)
{
    if (e->time >= L->top_start) {
        L->top = evq_grow(L->top, &L->top_cap, L->ntop + 1, sizeof *L->top);
        L->top[L->ntop++] = *e;
        if (e->time < L->top_min) L->top_min = e->time;
        if (e->time > L->top_max) L->top_max = e->time;
        return;
    }
    for (int i = 0; i < L->nrungs; i++) {
        LadderRung *r = &L->rungs[i];
        if (e->time < r->start) continue;
        uint64_t b = ((uint64_t)e->time - (uint64_t)r->start) >> r->shift;
        if (b >= r->cur) {
            ladder_bucket_add(L, r, (uint32_t)b, e);
            return;
        }
    }
    ladder_bottom_insert(L, e);
}

/* Moves bucket b of rung r into scratch (freeing its nodes); returns its
 * size. */
static size_t ladder_bucket_take(Ladder *L, LadderRung *r, uint32_t b)
{
    size_t k = r->count[b], n = 0;
    L->scratch = evq_grow(L->scratch, &L->scratch_cap, k, sizeof *L->scratch);
    for (uint32_t i = r->head[b], next; i; i = next) {
        LadderNode *nd = &L->nodes[i];
        next = nd->next;
        L->scratch[n++] = nd->e;
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
        size_t k = ladder_bucket_take(L, r, b);
        if (k > LADDER_THRESH && r->shift > 0 && L->nrungs < LADDER_MAX_RUNGS) {
            /* The child covers the whole bucket: later inserts anywhere in
             * the bucket must find a place in it. */
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

static bool ladder_pop_until(Ladder *L, TimeNs limit, EvqEntry *out)
{
    if (!ladder_refill(L) || L->bot[L->bot_lo].time > limit) return false;
    *out = L->bot[L->bot_lo++];
    return true;
}

static void ladder_fini(Ladder *L)
{
    for (int i = 0; i < LADDER_MAX_RUNGS; i++) {
        g_free(L->rungs[i].head);
        g_free(L->rungs[i].count);
    }
    free(L->top);
    free(L->bot);
    free(L->nodes);
    free(L->scratch);
}

static size_t ladder_bytes(const Ladder *L)
{
    size_t b = (L->top_cap + L->bot_cap + L->scratch_cap) * sizeof(EvqEntry) +
               L->nodes_cap * sizeof(LadderNode);
    for (int i = 0; i < LADDER_MAX_RUNGS; i++) b += (size_t)L->rungs[i].cap * 2 * sizeof(uint32_t);
    return b;
}

/* ---- two-level bucket queue (EVQ_BUCKET) --------------------------------
 *
 * Four parts, all contiguous arrays:
 *  - Top: unsorted entries at or after rung_end; a push there is an append.
 *  - Coarse: BUCKETQ_COARSE wide buckets covering [c_start, rung_end), each
 *    an unsorted growable array; a push there is an append too.
 *  - Run: the current coarse bucket's entry indices, counting-sorted into
 *    about one fine bucket per entry when the pop reaches the bucket, each
 *    fine bucket sorted only when the pop reaches that one. The entries are
 *    not copied: the bucket stays in cache while it is consumed.
 *  - Near: a small 4-ary heap for entries pushed into the current coarse
 *    bucket's span (or before it) after the run was built: zero- and
 *    short-delay events.
 * A pop takes the smaller of the run's next entry and Near's root. When the
 * coarse buckets are used up, they are refilled from Top: the span covers
 * Top's times up to a sampled 7/8 quantile, so a few far-future outliers
 * (a "never" timer) do not squeeze everything into one bucket.
 * Every entry is moved a constant number of times, each move a sequential
 * read and an append; only the fine counting-sort scatter writes at random,
 * within one coarse bucket. That is what keeps a million pending events
 * fast (measured in the README).
 */

#define BUCKETQ_COARSE 256    /* most coarse buckets per refill */
#define BUCKETQ_PER_COARSE 16 /* aim: Top entries per coarse bucket at a refill (tuned on phold) */
#define BUCKETQ_SAMPLE 256    /* Top entries sampled to choose the span */
#define BUCKETQ_SMALL 4096    /* below this many, a refill takes all of Top */

typedef struct BucketVec {
    EvqEntry *a; /* entries, unsorted; owned */
    size_t n;    /* entries held */
    size_t cap;  /* capacity */
} BucketVec;

typedef struct BucketQ {
    BucketVec top;                    /* entries >= rung_end */
    TimeNs top_min;                   /* smallest time in top */
    TimeNs top_max;                   /* largest time in top */
    BucketVec coarse[BUCKETQ_COARSE]; /* coarse buckets */
    TimeNs c_start;                   /* time of coarse bucket 0 */
    int c_shift;                      /* log2 of the coarse width, ns */
    uint32_t nc;                      /* coarse buckets in use since the last refill */
    uint32_t c_next;                  /* first coarse bucket not yet in the run */
    TimeNs c_bound;                   /* start of coarse bucket c_next: pushes below go to near */
    TimeNs rung_end;                  /* end of the coarse span; pushes at/after go to top */
    size_t c_left;                    /* entries in coarse buckets >= c_next */
    bool have_rung;                   /* false until the first refill: all goes to top */
    uint32_t *run;                    /* indices into coarse[run_src], by fine bucket; owned */
    size_t run_cap;                   /* capacity of run */
    int run_src;                      /* coarse bucket the run indexes; -1: none */
    size_t run_pos;                   /* next index of run to pop */
    size_t run_end;                   /* indices in run */
    size_t sorted_end;                /* run[run_pos..sorted_end) is sorted */
    uint32_t *off;                    /* fine bucket b is run[off[b]..off[b+1]); owned */
    size_t off_cap;                   /* capacity of off */
    uint32_t f_next;                  /* next fine bucket to sort */
    Heap near;                        /* late entries below c_bound */
} BucketQ;

static void bucketvec_add(BucketVec *v, const EvqEntry *e)
{
    if (v->n == v->cap) v->a = evq_grow(v->a, &v->cap, v->n + 1, sizeof *v->a);
    v->a[v->n++] = *e;
}

static void bucketq_push(BucketQ *B, const EvqEntry *e)
{
    if (!B->have_rung || e->time >= B->rung_end) {
        bucketvec_add(&B->top, e);
        if (e->time < B->top_min) B->top_min = e->time;
        if (e->time > B->top_max) B->top_max = e->time;
    } else if (e->time >= B->c_bound) {
        bucketvec_add(&B->coarse[((uint64_t)e->time - (uint64_t)B->c_start) >> B->c_shift], e);
        B->c_left++;
    } else {
        heap_push(&B->near, e);
    }
}

/* The last time the coarse span must cover: Top's maximum when Top is
 * small, else the 7/8 quantile of a strided sample of Top's times. */
static TimeNs bucketq_span_hi(const BucketQ *B)
{
    if (B->top.n <= BUCKETQ_SMALL) return B->top_max;
    TimeNs sample[BUCKETQ_SAMPLE];
    size_t stride = B->top.n / BUCKETQ_SAMPLE;
    for (size_t i = 0; i < BUCKETQ_SAMPLE; i++) sample[i] = B->top.a[i * stride].time;
    /* Partial selection from the top: 32 passes over 256 values. */
    size_t want = BUCKETQ_SAMPLE / 8;
    for (size_t i = 0; i < want; i++) {
        size_t m = i;
        for (size_t j = i + 1; j < BUCKETQ_SAMPLE; j++)
            if (sample[j] > sample[m]) m = j;
        TimeNs t = sample[i];
        sample[i] = sample[m];
        sample[m] = t;
    }
    return sample[want - 1];
}

/* Spreads Top's entries below the new rung_end over the coarse buckets and
 * compacts the rest of Top in place: one sequential pass. */
static void bucketq_refill_coarse(BucketQ *B)
{
    TimeNs lo = B->top_min, hi = bucketq_span_hi(B);
    /* Few entries: few coarse buckets, so each run is long enough to pay
     * for its counting sort. Many: up to BUCKETQ_COARSE. */
    size_t want = B->top.n / BUCKETQ_PER_COARSE;
    uint32_t nc = want < 1 ? 1 : want > BUCKETQ_COARSE ? BUCKETQ_COARSE : (uint32_t)want;
    int shift = evq_shift_for((uint64_t)hi - (uint64_t)lo, nc);
    /* When nc buckets of the chosen width reach past the end of time, widen
     * them so that every time from lo to TIMENS_MAX has a bucket below nc:
     * (2^63 - 1) >> (64 - bits(nc)) < nc. */
    int max_shift = 64 - (int)g_bit_storage(nc);
    bool overflow = shift >= max_shift || (uint64_t)lo + ((uint64_t)nc << shift) > (uint64_t)TIMENS_MAX;
    if (overflow && shift < max_shift) shift = max_shift;
    B->nc = nc;
    B->c_start = lo;
    B->c_shift = shift;
    B->c_next = 0;
    B->c_bound = lo;
    B->rung_end = overflow ? TIMENS_MAX : (TimeNs)((uint64_t)lo + ((uint64_t)nc << shift));
    B->have_rung = true;
    /* Pass 1 counts each coarse bucket's share so that every bucket gets
     * exactly its size (plus a quarter for later pushes): with a million
     * pending events, doubling slack in 256 buckets would double the
     * queue's memory. Pass 2 moves the entries. */
    size_t count[BUCKETQ_COARSE] = {0};
    for (size_t i = 0; i < B->top.n; i++) {
        TimeNs t = B->top.a[i].time;
        if (t < B->rung_end || overflow) count[((uint64_t)t - (uint64_t)lo) >> shift]++;
    }
    for (uint32_t c = 0; c < nc; c++) {
        BucketVec *v = &B->coarse[c];
        CHECK(v->n == 0, "coarse bucket %u not empty at refill", c);
        size_t need = count[c] ? count[c] + count[c] / 4 + 16 : 0;
        if (v->cap < need || v->cap > 2 * need) v->a = evq_resize(v->a, &v->cap, 0, need, sizeof *v->a);
    }
    size_t keep = 0;
    TimeNs new_min = TIMENS_MAX, new_max = TIMENS_MIN_VALUE;
    for (size_t i = 0; i < B->top.n; i++) {
        const EvqEntry *e = &B->top.a[i];
        if (e->time < B->rung_end || overflow) {
            BucketVec *v = &B->coarse[((uint64_t)e->time - (uint64_t)lo) >> shift];
            v->a[v->n++] = *e;
            B->c_left++;
        } else {
            if (e->time < new_min) new_min = e->time;
            if (e->time > new_max) new_max = e->time;
            B->top.a[keep++] = *e;
        }
    }
    B->top.n = keep;
    B->top_min = new_min;
    B->top_max = new_max;
    /* Top keeps what it needs (and room to grow by a quarter). */
    size_t top_want = keep + keep / 4 + 64;
    if (B->top.cap > 2 * top_want) B->top.a = evq_resize(B->top.a, &B->top.cap, keep, top_want, sizeof *B->top.a);
}

/* Counting-sorts the indices of coarse bucket c's entries into the run, by
 * fine buckets of about one entry each. The entries stay where they are
 * (the bucket was just read, so it is in cache); the coarse bucket is
 * emptied when the run is used up. */
static void bucketq_build_run(BucketQ *B, uint32_t c)
{
    BucketVec *v = &B->coarse[c];
    size_t k = v->n;
    TimeNs lo = TIMENS_MAX, hi = TIMENS_MIN_VALUE;
    for (size_t i = 0; i < k; i++) {
        if (v->a[i].time < lo) lo = v->a[i].time;
        if (v->a[i].time > hi) hi = v->a[i].time;
    }
    int shift = evq_shift_for((uint64_t)hi - (uint64_t)lo, k);
    uint32_t nb = (uint32_t)(((uint64_t)hi - (uint64_t)lo) >> shift) + 1;
    B->off = evq_grow(B->off, &B->off_cap, (size_t)nb + 2, sizeof *B->off);
    memset(B->off, 0, ((size_t)nb + 2) * sizeof *B->off);
    for (size_t i = 0; i < k; i++) B->off[(((uint64_t)v->a[i].time - (uint64_t)lo) >> shift) + 2]++;
    for (uint32_t b = 2; b < nb + 2; b++) B->off[b] += B->off[b - 1];
    B->run = evq_grow(B->run, &B->run_cap, k, sizeof *B->run);
    for (size_t i = 0; i < k; i++)
        B->run[B->off[(((uint64_t)v->a[i].time - (uint64_t)lo) >> shift) + 1]++] = (uint32_t)i;
    /* off[b] is now the start of fine bucket b; off[nb] == k. */
    B->f_next = 0;
    B->run_src = (int)c;
    B->run_pos = B->sorted_end = 0;
    B->run_end = k;
    B->c_left -= k;
}

/* Entry i of the run (borrowed). */
static inline EvqEntry *bucketq_run_at(const BucketQ *B, size_t i)
{
    return &B->coarse[B->run_src].a[B->run[i]];
}

static int bucketq_idx_cmp(const void *pa, const void *pb, void *arg)
{
    const EvqEntry *a = arg;
    return evq_cmp(&a[*(const uint32_t *)pa], &a[*(const uint32_t *)pb]);
}

/* Sorts the indices idx[0..n) by the entries they name in a[]. */
static void bucketq_sort_idx(const EvqEntry *a, uint32_t *idx, size_t n)
{
    if (n > 24) {
        qsort_r(idx, n, sizeof *idx, bucketq_idx_cmp, (void *)a);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = idx[i];
        size_t j = i;
        for (; j > 0 && evq_less(&a[x], &a[idx[j - 1]]); j--) idx[j] = idx[j - 1];
        idx[j] = x;
    }
}

/* Makes run[run_pos] the run's smallest remaining entry, sorting the next
 * non-empty fine bucket when the sorted part is used up. False if the run
 * is empty. */
static bool bucketq_run_ready(BucketQ *B)
{
    if (B->run_pos < B->sorted_end) return true;
    if (B->run_pos >= B->run_end) return false;
    uint32_t b = B->f_next;
    while (B->off[b + 1] == B->off[b]) b++;
    bucketq_sort_idx(B->coarse[B->run_src].a, B->run + B->off[b], B->off[b + 1] - B->off[b]);
    B->sorted_end = B->off[b + 1];
    B->f_next = b + 1;
    return true;
}

/* Ensures the run or Near has an entry; false when the queue is empty. */
static bool bucketq_ready(BucketQ *B)
{
    for (;;) {
        heap_settle(&B->near);
        if (bucketq_run_ready(B) || B->near.n) return true;
        if (B->run_src >= 0) { /* the run is used up: release its bucket and memory */
            BucketVec *v = &B->coarse[B->run_src];
            v->n = 0;
            v->a = evq_resize(v->a, &v->cap, 0, 0, sizeof *v->a);
            B->run_src = -1;
        }
        if (B->c_left > 0) {
            uint32_t c = B->c_next;
            while (B->coarse[c].n == 0) c++;
            B->c_next = c + 1;
            B->c_bound = c + 1 == B->nc
                             ? B->rung_end
                             : (TimeNs)((uint64_t)B->c_start + ((uint64_t)(c + 1) << B->c_shift));
            bucketq_build_run(B, c);
            continue;
        }
        if (B->top.n == 0) return false;
        bucketq_refill_coarse(B);
    }
}

static bool bucketq_pop_until(BucketQ *B, TimeNs limit, EvqEntry *out)
{
    if (!bucketq_ready(B)) return false;
    bool from_near = B->near.n &&
                     (B->run_pos >= B->run_end || evq_less(&B->near.a[0], bucketq_run_at(B, B->run_pos)));
    if (from_near) return heap_pop_until(&B->near, limit, out);
    const EvqEntry *e = bucketq_run_at(B, B->run_pos);
    if (e->time > limit) return false;
    *out = *e;
    B->run_pos++;
    return true;
}

static void bucketq_fini(BucketQ *B)
{
    free(B->top.a);
    for (int i = 0; i < BUCKETQ_COARSE; i++) free(B->coarse[i].a);
    free(B->run);
    free(B->off);
    free(B->near.a);
}

static size_t bucketq_bytes(const BucketQ *B)
{
    size_t n = B->top.cap + B->near.cap;
    for (int i = 0; i < BUCKETQ_COARSE; i++) n += B->coarse[i].cap;
    return n * sizeof(EvqEntry) + (B->off_cap + B->run_cap) * sizeof(uint32_t);
}

/* ---- public ------------------------------------------------------------ */

struct Evq {
    EvqKind kind; /* which structure */
    size_t n;     /* entries held */
    Heap heap;    /* EVQ_HEAP state */
    Ladder lad;   /* EVQ_LADDER state */
    BucketQ bq;   /* EVQ_BUCKET state */
};

Evq *evq_new(EvqKind kind)
{
    CHECK((int)kind >= 0 && kind < EVQ_KINDS, "bad queue kind %d", (int)kind);
    Evq *q = g_new0(Evq, 1);
    q->kind = kind;
    q->lad.top_start = TIMENS_MIN_VALUE;
    q->lad.top_min = q->bq.top_min = TIMENS_MAX;
    q->lad.top_max = q->bq.top_max = TIMENS_MIN_VALUE;
    q->bq.run_src = -1;
    return q;
}

void evq_free(Evq *q)
{
    if (!q) return;
    free(q->heap.a);
    ladder_fini(&q->lad);
    bucketq_fini(&q->bq);
    g_free(q);
}

void evq_push(Evq *q, const EvqEntry *e)
{
    switch (q->kind) {
    case EVQ_HEAP: heap_push(&q->heap, e); break;
    case EVQ_LADDER: ladder_push(&q->lad, e); break;
    case EVQ_BUCKET: bucketq_push(&q->bq, e); break;
    }
    q->n++;
}

bool evq_pop_until(Evq *q, TimeNs limit, EvqEntry *out)
{
    bool ok = false;
    switch (q->kind) {
    case EVQ_HEAP: ok = heap_pop_until(&q->heap, limit, out); break;
    case EVQ_LADDER: ok = ladder_pop_until(&q->lad, limit, out); break;
    case EVQ_BUCKET: ok = bucketq_pop_until(&q->bq, limit, out); break;
    }
    q->n -= ok;
    return ok;
}

const EvqEntry *evq_peek_ahead(const Evq *q, size_t k)
{
    if (q->kind == EVQ_BUCKET) {
        const BucketQ *B = &q->bq;
        return B->run_pos + k < B->run_end ? bucketq_run_at(B, B->run_pos + k) : NULL;
    }
    if (q->kind == EVQ_LADDER) {
        const Ladder *L = &q->lad;
        return L->bot_lo + k < L->bot_hi ? &L->bot[L->bot_lo + k] : NULL;
    }
    return NULL;
}

size_t evq_size(const Evq *q) { return q->n; }
EvqKind evq_kind(const Evq *q) { return q->kind; }

size_t evq_bytes(const Evq *q)
{
    return sizeof *q + q->heap.cap * sizeof(EvqEntry) + ladder_bytes(&q->lad) +
           bucketq_bytes(&q->bq);
}

static const char *const evq_kind_names[EVQ_KINDS] = {"heap", "ladder", "bucket"};

const char *evq_kind_name(EvqKind k) { return evq_kind_names[k]; }

bool evq_kind_parse(const char *name, EvqKind *out)
{
    for (size_t i = 0; i < EVQ_KINDS; i++) {
        if (strcmp(name, evq_kind_names[i]) == 0) {
            *out = (EvqKind)i;
            return true;
        }
    }
    return false;
}
