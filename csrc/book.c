/* Limit order book: see book.h for the contract of every operation and event.
 *
 * Layout, chosen for a hot top of book and a small memory footprint:
 *  - orders live in a fixed pool (allocated once, pages touched only as slots are first
 *    used), recycled through a free list; a level's queue is a doubly linked list of pool
 *    indices (int32), so unlinking any order is O(1);
 *  - id -> pool index is an open-addressing hash of uint32 (index + 1, 0 = empty), linear
 *    probing, backward-shift deletion (no tombstones, so probe lengths never degrade);
 *    the ids themselves are read from the pool, which halves the table;
 *  - each side is an array of levels sorted so the BEST price is at the END: the busiest
 *    levels are inserted and removed with no memmove, and deeper inserts move only the
 *    levels behind them. Lookups check the best level first, then binary search.
 *
 * Every op is validated completely (including the checks that depend on matching, via a
 * read-only walk of the crossing levels) before anything changes, so a reject never leaves
 * a half-applied op. The same walk bounds the number of events the op can emit, so the event
 * buffer is grown before the op starts, never during it.
 */
#include "book.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t id;
    int64_t price;
    int64_t qty; /* leaves */
    int32_t prev, next; /* pool indices in the level's queue, -1 at the ends; next links the free list */
    uint8_t side;
    uint8_t fed; /* rested by a feed ADD (market data), not by LIMIT: what level fallbacks take */
    uint8_t pad[6];
} order_t;

typedef struct {
    int64_t price;
    int64_t total; /* anon + every order's leaves; > 0 for every level in the array */
    int64_t anon;
    int32_t count; /* orders in the queue */
    int32_t head, tail;
    int32_t pad;
} level_t;

typedef struct {
    level_t *v;
    size_t len, cap;
} side_t;

struct lob_book {
    order_t *pool;
    uint32_t capacity; /* max_orders */
    uint32_t used;     /* resting orders */
    uint32_t high;     /* slots [0, high) have been handed out at least once */
    int32_t free_head; /* recycled slots, linked through order_t.next */
    uint32_t *hash;    /* pool index + 1, 0 = empty */
    uint64_t hmask;
    int hshift;
    side_t sides[2];
    lob_event *ev;
    size_t ev_len, ev_cap;
};

#define NONE (-1)
#define LEVELS_INITIAL 64
#define EVENTS_INITIAL 256

/* ---------------------------------------------------------------- hash */

static inline uint64_t hash_home(const lob_book *b, int64_t id) {
    /* Fibonacci hashing: sequential ids (the common case) spread over the whole table. */
    return ((uint64_t)id * 0x9E3779B97F4A7C15ull) >> b->hshift;
}

static inline int32_t hash_find(const lob_book *b, int64_t id) {
    uint64_t i = hash_home(b, id);
    for (;;) {
        uint32_t e = b->hash[i];
        if (e == 0) return NONE;
        if (b->pool[e - 1].id == id) return (int32_t)(e - 1);
        i = (i + 1) & b->hmask;
    }
}

/* id must not be present. */
static inline void hash_insert(lob_book *b, int64_t id, int32_t idx) {
    uint64_t i = hash_home(b, id);
    while (b->hash[i] != 0) i = (i + 1) & b->hmask;
    b->hash[i] = (uint32_t)idx + 1;
}

/* id must be present. */
static void hash_remove(lob_book *b, int64_t id) {
    uint64_t i = hash_home(b, id);
    while (b->pool[b->hash[i] - 1].id != id) i = (i + 1) & b->hmask;
    /* Backward shift: pull later entries of the probe run into the hole when their home
     * position does not lie cyclically in (hole, j], so every entry stays reachable. */
    uint64_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & b->hmask;
        uint32_t e = b->hash[j];
        if (e == 0) break;
        uint64_t home = hash_home(b, b->pool[e - 1].id);
        if (((j - home) & b->hmask) >= ((j - hole) & b->hmask)) {
            b->hash[hole] = e;
            hole = j;
        }
    }
    b->hash[hole] = 0;
}

/* ---------------------------------------------------------------- pool */

static inline int32_t pool_alloc(lob_book *b) {
    int32_t idx;
    if (b->free_head != NONE) {
        idx = b->free_head;
        b->free_head = b->pool[idx].next;
    } else {
        idx = (int32_t)b->high++; /* callers check used < capacity first */
    }
    b->used++;
    return idx;
}

static inline void pool_release(lob_book *b, int32_t idx) {
    b->pool[idx].id = 0;
    b->pool[idx].next = b->free_head;
    b->free_head = idx;
    b->used--;
}

/* ---------------------------------------------------------------- levels */

/* Sort key: ascending in the array for both sides, best at the end. */
static inline int64_t level_key(int side, int64_t price) { return side == LOB_BUY ? price : -price; }

/* Index of the level at price, or -(insert position) - 1. */
static inline ptrdiff_t level_find(const side_t *s, int side, int64_t price) {
    size_t n = s->len;
    if (n == 0) return -1;
    if (s->v[n - 1].price == price) return (ptrdiff_t)(n - 1);
    int64_t key = level_key(side, price);
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t k = level_key(side, s->v[mid].price);
        if (k < key) lo = mid + 1;
        else if (k > key) hi = mid;
        else return (ptrdiff_t)mid;
    }
    return -(ptrdiff_t)lo - 1;
}

static inline level_t *level_at(lob_book *b, int side, int64_t price) {
    ptrdiff_t i = level_find(&b->sides[side], side, price);
    return i >= 0 ? &b->sides[side].v[i] : NULL;
}

static inline int64_t level_total_at(const lob_book *b, int side, int64_t price) {
    ptrdiff_t i = level_find(&b->sides[side], side, price);
    return i >= 0 ? b->sides[side].v[i].total : 0;
}

/* Make room for one more level on side; false if memory ran out (nothing changed). */
static bool level_reserve(lob_book *b, int side) {
    side_t *s = &b->sides[side];
    if (s->len < s->cap) return true;
    size_t cap = s->cap ? s->cap * 2 : LEVELS_INITIAL;
    level_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return false;
    s->v = v;
    s->cap = cap;
    return true;
}

/* The level at price, created empty if absent; room must have been reserved. */
static level_t *level_get_or_insert(lob_book *b, int side, int64_t price) {
    side_t *s = &b->sides[side];
    ptrdiff_t i = level_find(s, side, price);
    if (i >= 0) return &s->v[i];
    size_t at = (size_t)(-i - 1);
    memmove(&s->v[at + 1], &s->v[at], (s->len - at) * sizeof *s->v);
    s->len++;
    level_t *L = &s->v[at];
    L->price = price;
    L->total = L->anon = 0;
    L->count = 0;
    L->head = L->tail = NONE;
    L->pad = 0;
    return L;
}

static void level_erase(lob_book *b, int side, level_t *L) {
    side_t *s = &b->sides[side];
    size_t at = (size_t)(L - s->v);
    memmove(&s->v[at], &s->v[at + 1], (s->len - at - 1) * sizeof *s->v);
    s->len--;
}

static inline void queue_push(lob_book *b, level_t *L, int32_t idx) {
    order_t *o = &b->pool[idx];
    o->prev = L->tail;
    o->next = NONE;
    if (L->tail != NONE) b->pool[L->tail].next = idx;
    else L->head = idx;
    L->tail = idx;
    L->count++;
}

static inline void queue_unlink(lob_book *b, level_t *L, int32_t idx) {
    order_t *o = &b->pool[idx];
    if (o->prev != NONE) b->pool[o->prev].next = o->next;
    else L->head = o->next;
    if (o->next != NONE) b->pool[o->next].prev = o->prev;
    else L->tail = o->prev;
    L->count--;
}

/* Take an order out of its level and the book entirely (slot and hash entry freed). The
 * level is erased when it empties, so L is invalid afterwards. */
static void order_remove(lob_book *b, level_t *L, int32_t idx) {
    order_t *o = &b->pool[idx];
    L->total -= o->qty;
    queue_unlink(b, L, idx);
    hash_remove(b, o->id);
    int side = o->side;
    pool_release(b, idx);
    if (L->total == 0) level_erase(b, side, L);
}

/* ---------------------------------------------------------------- events */

static bool events_reserve(lob_book *b, size_t need) {
    if (b->ev_cap - b->ev_len >= need) return true;
    size_t cap = b->ev_cap ? b->ev_cap : EVENTS_INITIAL;
    while (cap - b->ev_len < need) {
        if (cap > SIZE_MAX / 2 / sizeof(lob_event)) return false;
        cap *= 2;
    }
    lob_event *ev = realloc(b->ev, cap * sizeof *ev);
    if (!ev) return false;
    b->ev = ev;
    b->ev_cap = cap;
    return true;
}

/* Room was reserved by the caller. */
static inline void emit(lob_book *b, uint8_t type, int64_t id, int side, int64_t price, int64_t qty,
                        int64_t leaves, int64_t other, int64_t other_leaves, int32_t code) {
    lob_event *e = &b->ev[b->ev_len++];
    e->id = id;
    e->other = other;
    e->price = price;
    e->qty = qty;
    e->leaves = leaves;
    e->other_leaves = other_leaves;
    e->type = type;
    e->side = (uint8_t)side;
    e->pad[0] = e->pad[1] = 0;
    e->code = code;
}

/* ---------------------------------------------------------------- matching */

static inline bool crosses(int taker_side, bool limited, int64_t limit, int64_t maker_price) {
    if (!limited) return true;
    return taker_side == LOB_BUY ? maker_price <= limit : maker_price >= limit;
}

typedef struct {
    int64_t avail;   /* crossing quantity, counted up to qty */
    size_t fills;    /* upper bound on the trades matching would emit */
    int64_t named;   /* resting orders in the crossing levels walked */
} walk_t;

/* Read-only look at what a taker would meet: level by level (never order by order), so it
 * costs one step per price level that matching would touch anyway. */
static walk_t walk_crossing(const lob_book *b, int side, bool limited, int64_t limit, int64_t qty) {
    walk_t w = {0, 0, 0};
    const side_t *opp = &b->sides[!side];
    for (size_t i = opp->len; i-- > 0 && w.avail < qty;) {
        const level_t *L = &opp->v[i];
        if (!crosses(side, limited, limit, L->price)) break;
        int64_t want = qty - w.avail;
        w.avail += L->total < want ? L->total : want;
        w.fills += (size_t)L->count + (L->anon > 0);
        w.named += L->count;
    }
    return w;
}

/* Match a taker against the opposite side; returns the quantity left. Event room reserved. */
static int64_t match(lob_book *b, int64_t id, int side, bool limited, int64_t limit, int64_t qty) {
    side_t *opp = &b->sides[!side];
    while (qty > 0 && opp->len > 0) {
        level_t *L = &opp->v[opp->len - 1];
        if (!crosses(side, limited, limit, L->price)) break;
        if (L->anon > 0) {
            int64_t f = L->anon < qty ? L->anon : qty;
            L->anon -= f;
            L->total -= f;
            qty -= f;
            emit(b, LOB_EV_TRADE, id, side, L->price, f, qty, 0, L->anon, 0);
        }
        while (qty > 0 && L->head != NONE) {
            int32_t idx = L->head;
            order_t *m = &b->pool[idx];
            int64_t f = m->qty < qty ? m->qty : qty;
            m->qty -= f;
            L->total -= f;
            qty -= f;
            emit(b, LOB_EV_TRADE, id, side, L->price, f, qty, m->id, m->qty, 0);
            if (m->qty == 0) {
                queue_unlink(b, L, idx);
                hash_remove(b, m->id);
                pool_release(b, idx);
            }
        }
        if (L->total == 0) opp->len--; /* the best level is last: popping it moves nothing */
    }
    return qty;
}

/* Rest an order that already owns pool slot idx (id, side, price, qty set). */
static void rest(lob_book *b, int32_t idx) {
    order_t *o = &b->pool[idx];
    level_t *L = level_get_or_insert(b, o->side, o->price);
    L->total += o->qty;
    queue_push(b, L, idx);
    emit(b, LOB_EV_REST, o->id, o->side, o->price, o->qty, o->qty, 0, 0, 0);
}

/* ---------------------------------------------------------------- validation */

static inline bool side_ok(uint8_t s) { return s <= LOB_SELL; }
static inline bool price_ok(int64_t p) { return p > 0 && p <= LOB_MAX_PRICE; }
static inline bool qty_ok(int64_t q) { return q > 0 && q <= LOB_MAX_QTY; }

static inline bool add_overflows(int64_t total, int64_t qty) {
    int64_t sum;
    return __builtin_add_overflow(total, qty, &sum);
}

/* Field checks 1-4 of book.h; 0 if the op's fields are acceptable. */
static int validate_fields(const lob_op *op) {
    uint8_t t = op->type;
    if (t < LOB_OP_LIMIT || t > LOB_OP_DELETE) return CORE_ERR_BAD_OP;
    bool uses_side = t != LOB_OP_CANCEL && t != LOB_OP_REPLACE;
    bool uses_tif = t == LOB_OP_LIMIT || t == LOB_OP_MARKET;
    if (uses_side && !side_ok(op->side)) return CORE_ERR_BAD_OP;
    if (uses_tif && op->tif > LOB_FOK) return CORE_ERR_BAD_OP;
    bool real_id = t <= LOB_OP_REPLACE; /* LIMIT MARKET CANCEL REPLACE */
    if (real_id ? op->id <= 0 : op->id < 0) return CORE_ERR_BAD_ID;
    if (t != LOB_OP_MARKET && t != LOB_OP_CANCEL && !price_ok(op->price)) return CORE_ERR_BAD_PRICE;
    if (t == LOB_OP_CANCEL ? (op->qty < 0 || op->qty > LOB_MAX_QTY) : !qty_ok(op->qty))
        return CORE_ERR_BAD_QTY;
    return CORE_OK;
}

/* ---------------------------------------------------------------- operations */

/* Internal result: an op either ran, was rejected with a code (the caller emits the
 * REJECT), or could not reserve event room (the batch stops, nothing of the op applied). */
#define EV_NOMEM 1

static int op_limit(lob_book *b, const lob_op *op, bool limited) {
    int side = op->side;
    int64_t id = op->id, price = limited ? op->price : 0, qty = op->qty;
    if (hash_find(b, id) != NONE) return CORE_ERR_DUPLICATE_ID;
    bool day = limited && op->tif == LOB_DAY;
    if (day && add_overflows(level_total_at(b, side, price), qty)) return CORE_ERR_BAD_QTY;
    walk_t w = walk_crossing(b, side, limited, price, qty);
    if (day && w.avail < qty) {
        /* A remainder will rest. Every crossing maker is then filled completely, so their
         * slots are free again before the taker needs one. */
        if (b->used == b->capacity && w.named == 0) return CORE_ERR_FULL;
        if (!level_reserve(b, side)) return CORE_ERR_NOMEM;
    }
    if (!events_reserve(b, w.fills + 1)) return EV_NOMEM;
    if (op->tif == LOB_FOK && w.avail < qty) {
        emit(b, LOB_EV_CANCEL, id, side, price, qty, 0, 0, 0, LOB_CXL_FOK);
        return CORE_OK;
    }
    int64_t left = match(b, id, side, limited, price, qty);
    if (left == 0) return CORE_OK;
    if (day) {
        int32_t idx = pool_alloc(b);
        order_t *o = &b->pool[idx];
        o->id = id;
        o->price = price;
        o->qty = left;
        o->side = (uint8_t)side;
        o->fed = 0;
        hash_insert(b, id, idx);
        rest(b, idx);
    } else {
        int reason = limited ? LOB_CXL_IOC : LOB_CXL_MARKET;
        emit(b, LOB_EV_CANCEL, id, side, price, left, 0, 0, 0, reason);
    }
    return CORE_OK;
}

static int op_cancel(lob_book *b, const lob_op *op) {
    int32_t idx = hash_find(b, op->id);
    if (idx == NONE) return CORE_ERR_UNKNOWN_ID;
    if (!events_reserve(b, 1)) return EV_NOMEM;
    order_t *o = &b->pool[idx];
    int side = o->side;
    int64_t price = o->price;
    level_t *L = level_at(b, side, price);
    if (op->qty == 0 || op->qty >= o->qty) {
        emit(b, LOB_EV_CANCEL, op->id, side, price, o->qty, 0, 0, 0, LOB_CXL_REQUESTED);
        order_remove(b, L, idx);
    } else {
        o->qty -= op->qty;
        L->total -= op->qty;
        emit(b, LOB_EV_CANCEL, op->id, side, price, op->qty, o->qty, 0, 0, LOB_CXL_REQUESTED);
    }
    return CORE_OK;
}

static int op_replace(lob_book *b, const lob_op *op) {
    int32_t idx = hash_find(b, op->id);
    if (idx == NONE) return CORE_ERR_UNKNOWN_ID;
    order_t *o = &b->pool[idx];
    int side = o->side;
    int64_t id = op->id, price = op->price, qty = op->qty;
    if (price == o->price && qty <= o->qty) {
        if (!events_reserve(b, 1)) return EV_NOMEM;
        level_at(b, side, price)->total -= o->qty - qty;
        o->qty = qty;
        emit(b, LOB_EV_REPLACE, id, side, price, qty, qty, 0, 0, 1);
        return CORE_OK;
    }
    int64_t target = level_total_at(b, side, price);
    if (price == o->price) target -= o->qty;
    if (add_overflows(target, qty)) return CORE_ERR_BAD_QTY;
    bool fed = o->fed;
    walk_t w = fed ? (walk_t){0, 0, 0} : walk_crossing(b, side, true, price, qty);
    if (w.avail < qty && !level_reserve(b, side)) return CORE_ERR_NOMEM;
    if (!events_reserve(b, w.fills + 2)) return EV_NOMEM;

    /* Leave the queue but keep the slot and hash entry: nothing can look the id up while
     * the order is out of every level, and keeping them means a replace is never FULL. */
    level_t *L = level_at(b, side, o->price);
    L->total -= o->qty;
    queue_unlink(b, L, idx);
    if (L->total == 0) level_erase(b, side, L);
    emit(b, LOB_EV_REPLACE, id, side, price, qty, qty, 0, 0, 0);
    /* a feed order re-enters as ADD rests one, without matching: what it crosses (a venue's
     * client) is the venue's to trade, with reports */
    int64_t left = fed ? qty : match(b, id, side, true, price, qty);
    o = &b->pool[idx];
    if (left == 0) {
        hash_remove(b, id);
        pool_release(b, idx);
        return CORE_OK;
    }
    o->price = price;
    o->qty = left;
    rest(b, idx);
    return CORE_OK;
}

/* What a level fallback can take from L, counted up to `need` (the walk stops there): its
 * anonymous quantity and the orders a feed added. Orders rested by LIMIT (a venue's own
 * clients) are not market data: a feed's report about an order it does not name never takes
 * from them. */
static int64_t feed_qty(const lob_book *b, const level_t *L, int64_t need) {
    int64_t q = L->anon;
    for (int32_t idx = L->head; idx != NONE && q < need; idx = b->pool[idx].next)
        if (b->pool[idx].fed) q += b->pool[idx].qty;
    return q;
}

/* Take up to qty from a level for an unknown id: anonymous quantity first, then the orders a
 * feed added, front first (see feed_qty). Emits a TRADE (execute) or a CANCEL code LEVEL per
 * maker. */
static void take_from_level(lob_book *b, const lob_op *op, level_t *L, int64_t qty, bool trade) {
    int side = op->side, taker_side = !side;
    int64_t price = L->price;
    if (L->anon > 0 && qty > 0) {
        int64_t f = L->anon < qty ? L->anon : qty;
        L->anon -= f;
        L->total -= f;
        qty -= f;
        if (trade) emit(b, LOB_EV_TRADE, 0, taker_side, price, f, 0, 0, L->anon, 0);
        else emit(b, LOB_EV_CANCEL, op->id, side, price, f, 0, 0, L->anon, LOB_CXL_LEVEL);
    }
    int32_t idx = L->head;
    while (qty > 0 && idx != NONE) {
        order_t *m = &b->pool[idx];
        int32_t next = m->next; /* read first: taking m whole releases its slot */
        if (!m->fed) {
            idx = next;
            continue;
        }
        int64_t f = m->qty < qty ? m->qty : qty;
        qty -= f;
        if (trade) emit(b, LOB_EV_TRADE, 0, taker_side, price, f, 0, m->id, m->qty - f, 0);
        else emit(b, LOB_EV_CANCEL, op->id, side, price, f, 0, m->id, m->qty - f, LOB_CXL_LEVEL);
        if (f == m->qty) {
            /* order_remove may erase the level only once it is empty, i.e. on the last take */
            L->total -= f;
            m->qty = 0;
            queue_unlink(b, L, idx);
            hash_remove(b, m->id);
            pool_release(b, idx);
        } else {
            m->qty -= f;
            L->total -= f;
        }
        idx = next;
    }
    if (L->total == 0) level_erase(b, side, L);
}

static int op_execute(lob_book *b, const lob_op *op) {
    int32_t idx = op->id > 0 ? hash_find(b, op->id) : NONE;
    if (idx != NONE) {
        order_t *o = &b->pool[idx];
        if (op->qty > o->qty) return CORE_ERR_BAD_QTY;
        if (!events_reserve(b, 1)) return EV_NOMEM;
        level_t *L = level_at(b, o->side, o->price);
        int64_t left = o->qty - op->qty;
        emit(b, LOB_EV_TRADE, 0, !o->side, o->price, op->qty, 0, o->id, left, 0);
        if (left == 0) {
            order_remove(b, L, idx);
        } else {
            o->qty = left;
            L->total -= op->qty;
        }
        return CORE_OK;
    }
    level_t *L = level_at(b, op->side, op->price);
    int64_t avail = L ? feed_qty(b, L, op->qty) : 0;
    if (avail == 0) return CORE_ERR_UNKNOWN_ID;
    if (op->qty > avail) return CORE_ERR_BAD_QTY;
    if (!events_reserve(b, (size_t)L->count + 1)) return EV_NOMEM;
    take_from_level(b, op, L, op->qty, true);
    return CORE_OK;
}

static int op_add(lob_book *b, const lob_op *op) {
    int side = op->side;
    if (op->id > 0 && hash_find(b, op->id) != NONE) return CORE_ERR_DUPLICATE_ID;
    if (add_overflows(level_total_at(b, side, op->price), op->qty)) return CORE_ERR_BAD_QTY;
    if (op->id > 0 && b->used == b->capacity) return CORE_ERR_FULL;
    if (!level_reserve(b, side)) return CORE_ERR_NOMEM;
    if (!events_reserve(b, 1)) return EV_NOMEM;
    if (op->id == 0) {
        level_t *L = level_get_or_insert(b, side, op->price);
        L->anon += op->qty;
        L->total += op->qty;
        emit(b, LOB_EV_REST, 0, side, op->price, op->qty, L->anon, 0, 0, 0);
        return CORE_OK;
    }
    int32_t idx = pool_alloc(b);
    order_t *o = &b->pool[idx];
    o->id = op->id;
    o->price = op->price;
    o->qty = op->qty;
    o->side = (uint8_t)side;
    o->fed = 1;
    hash_insert(b, op->id, idx);
    rest(b, idx);
    return CORE_OK;
}

static int op_reduce(lob_book *b, const lob_op *op, bool whole) {
    int32_t idx = op->id > 0 ? hash_find(b, op->id) : NONE;
    if (idx != NONE) {
        if (!events_reserve(b, 1)) return EV_NOMEM;
        order_t *o = &b->pool[idx];
        int side = o->side;
        level_t *L = level_at(b, side, o->price);
        if (whole || op->qty >= o->qty) {
            emit(b, LOB_EV_CANCEL, o->id, side, o->price, o->qty, 0, 0, 0, LOB_CXL_REQUESTED);
            order_remove(b, L, idx);
        } else {
            o->qty -= op->qty;
            L->total -= op->qty;
            emit(b, LOB_EV_CANCEL, o->id, side, o->price, op->qty, o->qty, 0, 0, LOB_CXL_REQUESTED);
        }
        return CORE_OK;
    }
    level_t *L = level_at(b, op->side, op->price);
    if (!L || feed_qty(b, L, 1) == 0) return CORE_ERR_UNKNOWN_ID;
    if (!events_reserve(b, (size_t)L->count + 1)) return EV_NOMEM;
    take_from_level(b, op, L, op->qty, false);
    return CORE_OK;
}

static int apply_one(lob_book *b, const lob_op *op) {
    int rc = validate_fields(op);
    if (rc != CORE_OK) return rc;
    switch (op->type) {
    case LOB_OP_LIMIT: return op_limit(b, op, true);
    case LOB_OP_MARKET: return op_limit(b, op, false);
    case LOB_OP_CANCEL: return op_cancel(b, op);
    case LOB_OP_REPLACE: return op_replace(b, op);
    case LOB_OP_EXECUTE: return op_execute(b, op);
    case LOB_OP_ADD: return op_add(b, op);
    case LOB_OP_REDUCE: return op_reduce(b, op, false);
    default: return op_reduce(b, op, true); /* LOB_OP_DELETE: validated above */
    }
}

/* ---------------------------------------------------------------- public API */

lob_book *lob_new(size_t max_orders) {
    if (max_orders < 1 || max_orders >= ((size_t)1 << 31)) return NULL;
    lob_book *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    /* Table of at least twice the capacity keeps the load factor <= 1/2. */
    int bits = 4;
    while (((uint64_t)1 << bits) < 2 * (uint64_t)max_orders) bits++;
    b->capacity = (uint32_t)max_orders;
    b->free_head = NONE;
    b->hmask = ((uint64_t)1 << bits) - 1;
    b->hshift = 64 - bits;
    /* calloc: untouched pages of a big pool or table cost no RSS until used. */
    b->pool = calloc(max_orders, sizeof *b->pool);
    b->hash = calloc((size_t)1 << bits, sizeof *b->hash);
    if (!b->pool || !b->hash || !events_reserve(b, EVENTS_INITIAL) || !level_reserve(b, LOB_BUY) ||
        !level_reserve(b, LOB_SELL)) {
        lob_free(b);
        return NULL;
    }
    return b;
}

void lob_free(lob_book *b) {
    if (!b) return;
    free(b->pool);
    free(b->hash);
    free(b->sides[0].v);
    free(b->sides[1].v);
    free(b->ev);
    free(b);
}

int64_t lob_apply(lob_book *b, const lob_op *ops, size_t n, size_t *applied) {
    b->ev_len = 0;
    for (size_t i = 0; i < n; i++) {
        /* Room for a REJECT first, so validation failures never need to allocate. */
        int rc = events_reserve(b, 1) ? apply_one(b, &ops[i]) : EV_NOMEM;
        if (rc == EV_NOMEM) {
            if (applied) *applied = i;
            return CORE_ERR_NOMEM;
        }
        if (rc != CORE_OK) {
            const lob_op *op = &ops[i];
            emit(b, LOB_EV_REJECT, op->id, op->side, op->price, op->qty, 0, op->type, 0, rc);
        }
    }
    if (applied) *applied = n;
    return (int64_t)b->ev_len;
}

int64_t lob_apply_copy(lob_book *b, const lob_op *ops, size_t n, size_t *applied, lob_event *out,
                       size_t out_cap) {
    int64_t k = lob_apply(b, ops, n, applied);
    if (k > 0) memcpy(out, b->ev, ((size_t)k < out_cap ? (size_t)k : out_cap) * sizeof *out);
    return k;
}

const lob_event *lob_events(const lob_book *b) { return b->ev; }

size_t lob_event_count(const lob_book *b) { return b->ev_len; }

void lob_bbo(const lob_book *b, int64_t out[4]) {
    for (int side = 0; side < 2; side++) {
        const side_t *s = &b->sides[side];
        out[2 * side] = s->len ? s->v[s->len - 1].price : 0;
        out[2 * side + 1] = s->len ? s->v[s->len - 1].total : 0;
    }
}

size_t lob_depth(const lob_book *b, int side, lob_level *out, size_t n) {
    if (side != LOB_BUY && side != LOB_SELL) return 0;
    const side_t *s = &b->sides[side];
    size_t k = 0;
    for (; k < n && k < s->len; k++) {
        const level_t *L = &s->v[s->len - 1 - k];
        out[k].price = L->price;
        out[k].qty = L->total;
        out[k].count = (int64_t)L->count + (L->anon > 0);
    }
    return k;
}

size_t lob_level_count(const lob_book *b, int side) {
    if (side != LOB_BUY && side != LOB_SELL) return 0;
    return b->sides[side].len;
}

size_t lob_order_count(const lob_book *b) { return b->used; }

int lob_order(const lob_book *b, int64_t id, lob_order_info *out) {
    int32_t idx = id > 0 ? hash_find(b, id) : NONE;
    if (idx == NONE) return CORE_ERR_UNKNOWN_ID;
    const order_t *o = &b->pool[idx];
    out->id = o->id;
    out->price = o->price;
    out->qty = o->qty;
    out->side = o->side;
    return CORE_OK;
}

int lob_queue_position(const lob_book *b, int64_t id, int64_t *qty_ahead, int64_t *orders_ahead) {
    int32_t idx = id > 0 ? hash_find(b, id) : NONE;
    if (idx == NONE) return CORE_ERR_UNKNOWN_ID;
    const order_t *o = &b->pool[idx];
    const side_t *s = &b->sides[o->side];
    const level_t *L = &s->v[level_find(s, o->side, o->price)];
    int64_t q = L->anon, n = L->anon > 0;
    for (int32_t i = L->head; i != idx; i = b->pool[i].next) {
        q += b->pool[i].qty;
        n++;
    }
    *qty_ahead = q;
    *orders_ahead = n;
    return CORE_OK;
}

size_t lob_truncate(lob_book *b, int side, size_t keep) {
    if (side != LOB_BUY && side != LOB_SELL) return 0;
    side_t *s = &b->sides[side];
    if (s->len <= keep) return 0;
    size_t gone = s->len - keep; /* the worst levels are at the front of the array */
    for (size_t k = 0; k < gone; k++) {
        for (int32_t i = s->v[k].head; i != NONE;) {
            int32_t next = b->pool[i].next;
            hash_remove(b, b->pool[i].id);
            pool_release(b, i);
            i = next;
        }
    }
    memmove(&s->v[0], &s->v[gone], keep * sizeof *s->v);
    s->len = keep;
    return gone;
}

void lob_clear(lob_book *b) {
    uint64_t slots = b->hmask + 1;
    if ((uint64_t)b->used * 16 < slots) {
        /* Small book in a big table: clear only the live entries, leaving untouched pages
         * untouched. Find every slot first: zeroing one would break the probe runs of
         * the others. */
        for (int side = 0; side < 2; side++) {
            side_t *s = &b->sides[side];
            for (size_t k = 0; k < s->len; k++) {
                for (int32_t i = s->v[k].head; i != NONE; i = b->pool[i].next) {
                    uint64_t h = hash_home(b, b->pool[i].id);
                    while (b->hash[h] != (uint32_t)i + 1) h = (h + 1) & b->hmask;
                    b->pool[i].prev = (int32_t)h; /* the order is discarded: reuse the field */
                }
            }
        }
        for (int side = 0; side < 2; side++) {
            side_t *s = &b->sides[side];
            for (size_t k = 0; k < s->len; k++)
                for (int32_t i = s->v[k].head; i != NONE; i = b->pool[i].next)
                    b->hash[b->pool[i].prev] = 0;
        }
    } else {
        memset(b->hash, 0, slots * sizeof *b->hash);
    }
    b->sides[0].len = b->sides[1].len = 0;
    b->used = 0;
    b->high = 0;
    b->free_head = NONE;
    b->ev_len = 0;
}

void lob_clear_feed(lob_book *b) {
    bool own = false;
    for (int side = 0; side < 2 && !own; side++)
        for (size_t k = 0; k < b->sides[side].len && !own; k++)
            for (int32_t i = b->sides[side].v[k].head; i != NONE && !own; i = b->pool[i].next)
                own = !b->pool[i].fed;
    if (!own) {
        lob_clear(b);
        return;
    }
    for (int side = 0; side < 2; side++) {
        side_t *s = &b->sides[side];
        size_t kept = 0;
        for (size_t k = 0; k < s->len; k++) {
            level_t *L = &s->v[k];
            L->total -= L->anon;
            L->anon = 0;
            for (int32_t i = L->head, next; i != NONE; i = next) {
                order_t *o = &b->pool[i];
                next = o->next;
                if (!o->fed) continue;
                L->total -= o->qty;
                queue_unlink(b, L, i);
                hash_remove(b, o->id);
                pool_release(b, i);
            }
            if (L->total > 0) s->v[kept++] = *L; /* the queue links are pool indices: a copy keeps them */
        }
        s->len = kept;
    }
    b->ev_len = 0;
}

void lob_own_last(lob_book *b) {
    for (int side = 0; side < 2; side++) {
        side_t *s = &b->sides[side];
        for (size_t k = 0; k < s->len; k++) {
            level_t *L = &s->v[k];
            /* Visit the queue as it was, once: an order moved to the back is past the end. */
            int32_t n = L->count;
            for (int32_t i = L->head, j = 0; j < n; j++) {
                int32_t next = b->pool[i].next;
                if (!b->pool[i].fed) {
                    queue_unlink(b, L, i);
                    queue_push(b, L, i);
                }
                i = next;
            }
        }
    }
}

/* ---------------------------------------------------------------- debug */

#define CHECK(cond) \
    do {            \
        if (!(cond)) return __LINE__; \
    } while (0)

int lob_check_invariants(const lob_book *b) {
    uint64_t queued = 0;
    for (int side = 0; side < 2; side++) {
        const side_t *s = &b->sides[side];
        CHECK(s->len <= s->cap);
        for (size_t k = 0; k < s->len; k++) {
            const level_t *L = &s->v[k];
            CHECK(price_ok(L->price));
            if (k > 0) CHECK(level_key(side, s->v[k - 1].price) < level_key(side, L->price));
            CHECK(L->anon >= 0 && L->total > 0 && L->count >= 0);
            int64_t sum = L->anon;
            int32_t n = 0, prev = NONE;
            for (int32_t i = L->head; i != NONE; i = b->pool[i].next) {
                CHECK(i >= 0 && (uint32_t)i < b->high);
                const order_t *o = &b->pool[i];
                CHECK(o->prev == prev);
                CHECK(o->side == side && o->price == L->price);
                CHECK(o->id > 0 && qty_ok(o->qty));
                CHECK(hash_find(b, o->id) == i);
                CHECK(!add_overflows(sum, o->qty));
                sum += o->qty;
                CHECK(++n <= L->count);
                prev = i;
            }
            CHECK(L->tail == prev);
            CHECK(n == L->count && sum == L->total);
            queued += (uint64_t)n;
        }
    }
    CHECK(queued == b->used && b->used <= b->capacity && b->high <= b->capacity);
    uint64_t entries = 0;
    for (uint64_t h = 0; h <= b->hmask; h++) {
        uint32_t e = b->hash[h];
        if (e == 0) continue;
        entries++;
        CHECK(e <= b->high && b->pool[e - 1].id > 0);
        CHECK(hash_find(b, b->pool[e - 1].id) == (int32_t)(e - 1));
    }
    CHECK(entries == b->used);
    uint64_t free_count = 0;
    for (int32_t i = b->free_head; i != NONE; i = b->pool[i].next) {
        CHECK(i >= 0 && (uint32_t)i < b->high && b->pool[i].id == 0);
        CHECK(++free_count <= b->high);
    }
    CHECK(free_count + b->used == b->high);
    return 0;
}
