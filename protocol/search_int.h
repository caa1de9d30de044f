/* search_int: the layouts and functions shared by the two files of the
 * search feature (search.h): search.c (the global index and user search)
 * and presence.c (buddy lists and presence). Nothing outside the feature
 * includes it.
 *
 * Memory: a node's SearchNode is allocated (env_mem_alloc) at its first
 * search, buddy list or supernode role, and freed when it stops. A client
 * holds the fixed part (in-flight searches, about 0.6 KiB) plus its buddy
 * list (NODE_BUDDY_MAX entries of 52 bytes at most); a supernode adds its
 * index (64 bytes per user it knows: own clients, cached answers, DHT
 * entries), its running searches and its presence watch list, each grown
 * on demand up to a fixed cap.
 */
#ifndef SKYSIM_SEARCH_INT_H
#define SKYSIM_SEARCH_INT_H

#include "protocol/search.h"

#define SEARCH_CALLS_MAX 4     /* searches in flight per node (user searches + buddy lookups) */
#define SEARCH_JOBS_MAX 128    /* searches a supernode runs at once */
#define SEARCH_ASK_MAX 32      /* supernodes one search may contact (bound of the waves) */
#define SEARCH_INDEX_MAX 16384 /* index entries per supernode */
#define SEARCH_SLOT_SLACK 2    /* slots: records kept this many ring places beyond the own slots
                                  (views of the tier differ a little between supernodes) */
#define SEARCH_WATCH_MAX 4096  /* presence watch records per supernode */
#define SEARCH_REFERRALS 4     /* DHT: closer supernodes named in a negative answer */
#define SEARCH_DHT_CAND 16     /* DHT: referred candidates remembered per lookup */

/* Timer kinds (node__timer_start with NODE_FEAT_SEARCH). */
#define SEARCH_TM_CALL 0x00  /* + call index (< SEARCH_CALLS_MAX) */
#define SEARCH_TM_SWEEP 0x0F /* supernode: silent-client sweep */
#define SEARCH_TM_JOB 0x10   /* + job index (< SEARCH_JOBS_MAX) */

/* Interned metric ids of search and presence (per world, the feature's
 * shared data). */

typedef struct SearchMetrics {
    EnvMetric latency, messages, sns, success, failure;     /* per user search */
    EnvMetric sn_queries, sn_served, sn_cache_hits, dht_puts; /* supernode load */
    EnvMetric idx_puts, idx_pulls, idx_ring_msgs, idx_moved, idx_dropped, idx_expired; /* slots index */
    EnvMetric idx_records, idx_bytes, idx_ring;
    EnvMetric staleness, presence_updates, buddy_lookups;   /* presence */
} SearchMetrics;
#define SM(n) ((const SearchMetrics *)node__feat_shared((n)->sh, NODE_FEAT_SEARCH))

/* Index entry kinds (SearchEntry.flags). */
enum {
    SE_ATTACHED = 1, /* one of this supernode's clients, online now */
    SE_CACHE = 2,    /* a cached answer (a30) */
    SE_DHT = 4,      /* stored here as a responsible node (DHT replica or slot member) */
    SE_ONLINE = 8,   /* SE_DHT: the last publication said "online" */
    SE_DEAD = 16,    /* attached client fell silent (keep-alives stopped) */
};

typedef struct SearchEntry {
    uint32_t hash;                /* FNV-1a of the user name (DHT key) */
    uint8_t ulen;                 /* user bytes */
    uint8_t flags;                /* SE_* */
    uint8_t nat;                  /* the user's NatType as its client detected it */
    EnvAddr client;               /* the user's client address (public IP, UDP port) */
    EnvAddr sn;                   /* its supernode */
    TimeNs last_online;           /* when last known online, ns (attached: attach time; SE_ONLINE:
                                     the last publication) */
    TimeNs heard;                 /* attached: last keep-alive (or attach), ns */
    char user[WIRE_USER_MAX + 1]; /* user name, NUL-terminated */
} SearchEntry;

/* Presence: `watcher` (a client at `watcher_sn`) wants to hear when
 * `subject` (a client of this supernode) goes offline. */
typedef struct SearchWatch {
    EnvAddr subject;    /* our client */
    EnvAddr watcher;    /* the buddy's client address */
    EnvAddr watcher_sn; /* the buddy's supernode */
} SearchWatch;

/* Purposes of a node's own searches. */
enum { SC_FREE = 0, SC_USER = 1, SC_BUDDY = 2, SC_CALL = 3 /* locating a callee */ };

/* One search of this node (client side). */
typedef struct SearchCall {
    uint32_t qid;                         /* query id, 0 when the slot is free */
    uint8_t purpose;                      /* SC_* */
    uint8_t buddy;                        /* SC_BUDDY: buddy index */
    uint8_t wave;                         /* client-run waves started (a27), 0: SN runs it */
    uint8_t pending;                      /* answers outstanding in this wave */
    uint8_t ntarget;                      /* entries of target */
    uint8_t sns;                          /* supernodes contacted so far */
    uint16_t msgs;                        /* messages sent and received so far */
    uint8_t ulen;                         /* user bytes */
    TimeNs start;                         /* when the search began, ns */
    EnvTimer t;                           /* wave timeout or overall guard */
    EnvAddr target[WIRE_MAX_ENTRIES];     /* this wave's supernodes */
    char user[WIRE_USER_MAX + 1];         /* who is searched */
} SearchCall;

/* Modes of a search run by a supernode. */
enum { SJ_FREE = 0, SJ_RUN = 1, SJ_NAME = 2, SJ_DHT = 3 };

typedef struct SearchJob {
    uint8_t mode;                         /* SJ_* */
    uint8_t wave;                         /* waves (DHT: rounds) started */
    uint8_t nasked;                       /* entries of asked */
    uint8_t pending;                      /* answers outstanding in this wave */
    uint8_t ncand;                        /* DHT: entries of cand */
    uint8_t ulen;                         /* user bytes */
    bool fresh;                           /* WIRE_SF_FRESH: cached answers do not count */
    uint16_t msgs;                        /* messages sent and received */
    int conn;                             /* asker's connection; -1: this node's own call */
    EnvConn h;                            /* its handle (slots are reused) */
    uint32_t qid;                         /* the asker's query id */
    uint32_t wqid;                        /* query id on our UDP queries */
    uint32_t key;                         /* hash of the user */
    EnvTimer t;                           /* wave timeout / expiry */
    EnvAddr asked[SEARCH_ASK_MAX];        /* supernodes queried or named */
    EnvAddr cand[SEARCH_DHT_CAND];        /* DHT: referred candidates */
    char user[WIRE_USER_MAX + 1];         /* who is searched */
} SearchJob;

/* A supernode of the slots ring (search.c): its ring id and address. */
typedef struct SearchRingEntry {
    uint32_t id;     /* search ring id (FNV-1a of its address) */
    EnvAddr a;       /* its main address */
    uint32_t seen_s; /* when it was last heard alive (virtual seconds) */
    bool joined;     /* it joined the ring at the last rebuild */
} SearchRingEntry;

/* A supernode's view of the tier, the ring, holds at most this many
 * supernodes (a42: each knows almost all others); 20 bytes an entry, grown
 * as needed (80 KiB at the bound). */
#define SEARCH_RING_MAX 4096

/* A supernode's part of the slots index (search.c), allocated with its
 * ring at the first need, freed with the supernode role. */
typedef struct SearchSlots {
    SearchRingEntry *ring;  /* the tier sorted by id, ring_cap entries (env_mem_alloc); after
                               the nring of the ring, npend supernodes heard of through
                               gossip since the last rebuild, not yet on it */
    uint16_t nring;         /* entries of the ring */
    uint16_t npend;         /* entries heard of, after them */
    uint16_t ring_cap;      /* allocated */
    uint32_t range_lo;      /* own records are the keys in (range_lo, own id] */
    bool range_set;         /* range_lo was computed (the first pull was sent) */
    bool range_full;        /* the ring is no larger than a slot: every key is ours */
    uint32_t maint_tick;    /* upkeep rounds, for the republication rotation */
    uint8_t ring_answers;   /* SN_RING asks answered since the last upkeep */
} SearchSlots;

typedef struct PresenceBuddy {
    char user[WIRE_USER_MAX + 1]; /* buddy's user name */
    uint8_t ulen;                 /* its bytes */
    bool online;                  /* our view: online */
    EnvAddr client;               /* where it was seen */
    EnvAddr sn;                   /* its supernode */
} PresenceBuddy;

typedef struct SearchNode {
    /* This node's searches: SEARCH_CALLS_MAX entries from env_mem_alloc
     * while any is in flight, NULL otherwise (an idle client keeps none). */
    SearchCall *call;
    uint32_t next_qid;                 /* last query id used */
    /* Supernode part. */
    SearchEntry *idx;                  /* index (env_mem_alloc), idx_cap entries */
    uint16_t nidx, idx_cap;            /* entries in use, allocated */
    SearchJob *job;                    /* running searches (env_mem_alloc), job_cap entries */
    uint16_t job_cap;                  /* allocated jobs */
    SearchWatch *watch;                /* presence watches (env_mem_alloc) */
    uint16_t nwatch, watch_cap;        /* in use, allocated */
    uint32_t served;                   /* queries served while a supernode */
    EnvTimer t_sweep;                  /* silent-client sweep and index upkeep */
    struct SearchSlots *sl;            /* slots mode: the ring and the own range (supernodes) */
    /* Client presence part. */
    PresenceBuddy *buddy;              /* buddy list (env_mem_alloc), nbuddy entries */
    uint8_t nbuddy;                    /* entries of buddy */
    uint8_t lookup_next;               /* next buddy to look up after login */
    TimeNs online_at;                  /* when this login completed, ns */
} SearchNode;

/* The node's state (its slot), NULL until first used. */
static inline SearchNode *search__node(const Node *n)
{
    return node__feat(n, NODE_FEAT_SEARCH);
}

/* ---- search.c ---- */
SearchNode *search__state(Node *n); /* allocates on first use */
SearchEntry *search__entry_by_client(Node *n, EnvAddr client);
/* Starts a search of this node; false when no slot (or not logged in). */
bool search__call_start(Node *n, const char *user, size_t ulen, uint8_t purpose, uint8_t buddy);
/* Number of this node's searches in flight with the given purpose. */
unsigned search__calls_busy(const SearchNode *s, uint8_t purpose);
/* Fills m's entry fields from e (age relative to now). */
void search__entry_to_wire(Node *n, const SearchEntry *e, WireSearch *m);
int search__conn_of_client(Node *n, EnvAddr client);

/* ---- presence.c ---- */
/* A buddy lookup ended: found (m holds the entry) or not. */
void presence__lookup_done(Node *n, uint8_t buddy, bool found, const WireSearch *m);
void presence__on_frame(Node *n, int idx, const WireMsg *m);  /* BUDDY_LIST, ANNOUNCE, PRESENCE */
void presence__on_note(Node *n, const WireMsg *m);            /* SN_NOTE without PUT */
void presence__sn_detach(Node *n, const SearchEntry *e);      /* notify the subject's watchers */
void presence__free(Node *n);                                 /* buddy list and watches */
/* Events (search.c's on_event passes them on). */
void presence__on_login(Node *n);  /* NODE_EV_LOGGED_IN */
void presence__on_attach(Node *n); /* NODE_EV_SN_ATTACHED: failover done */
/* NODE_EV_LOGIN_CERTIFYING at the login server: user's buddy list on idx. */
void presence__loginsrv_send(Node *n, int idx, const uint8_t *user, size_t ulen);

#endif
