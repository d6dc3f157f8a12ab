/* Limit order book, one per symbol: price-time matching and venue-feed replay.
 *
 * Prices are integer ticks, quantities and order ids 64-bit integers. Orders live
 * in a fixed-capacity pool indexed by an open-addressing hash on the id; each price
 * level is a FIFO of orders plus an "anonymous" quantity that sits ahead of every
 * known order (liquidity that was resting before the data started, or that a feed
 * reduced without naming a known order).
 *
 * Operations go in as a batch of lob_op; the events they cause come out in a
 * buffer owned by the book (lob_events), valid until the next call that applies
 * operations. An operation that fails emits one LOB_EV_REJECT and changes nothing.
 * Every operation emits at least one event.
 *
 * Operation contracts (fields not named are ignored):
 *  LIMIT   id side price qty tif  match against the opposite side at prices at least as
 *                                 good as price, best price first then time; the rest
 *                                 rests (DAY), is cancelled (IOC), or, for FOK, the whole
 *                                 order is cancelled unless it can fill completely.
 *  MARKET  id side qty tif        match at any price; the rest is cancelled (FOK: all or none).
 *  CANCEL  id qty                 qty 0 or >= leaves removes the order; else leaves -= qty
 *                                 keeping queue position.
 *  REPLACE id price qty           qty is the new leaves quantity. Same price and qty <= leaves
 *                                 keeps queue position; otherwise the order leaves the queue
 *                                 and re-enters as a DAY limit order (and may match), or, an
 *                                 order ADD rested, as ADD rests one (no matching).
 *  EXECUTE id side price qty      a venue reports that resting order id traded qty: the order
 *                                 is reduced (removed at zero) and a trade is emitted with
 *                                 taker 0. An unknown id executes against the feed
 *                                 liquidity of the level at side/price (level fallback).
 *  ADD     id side price qty      feed mode: rest without matching. id 0 adds anonymous
 *                                 quantity to the level.
 *  REDUCE  id side price qty      feed mode: leaves -= qty (removed at zero). An unknown id
 *                                 reduces the feed liquidity of the level at side/price.
 *  DELETE  id side price qty      feed mode: remove the order. An unknown id reduces the
 *                                 feed liquidity of the level at side/price by qty.
 *
 * Level fallbacks (EXECUTE, REDUCE and DELETE of an unknown id) take from the level's feed
 * liquidity: its anonymous quantity first, then the orders that ADD rested, front first.
 * They never take from an order that LIMIT rested (a venue's client: a feed that names no
 * order it knows reports on the market's liquidity, not on the venue's own orders), and fail
 * with UNKNOWN_ID if the level does not exist or holds no feed liquidity. A REPLACE keeps
 * what the order is (a feed order that re-enters stays one).
 *
 * Validation, in this order (the first failure is the reject code):
 *  1. type not a lob_op_type -> BAD_OP; side (LIMIT MARKET EXECUTE ADD REDUCE DELETE) not a
 *     lob_side, or tif (LIMIT MARKET) not a lob_tif -> BAD_OP.
 *  2. id <= 0 for LIMIT MARKET CANCEL REPLACE, id < 0 for EXECUTE ADD REDUCE DELETE -> BAD_ID
 *     (id 0 there means "anonymous": ADD adds anonymous quantity, the others use the level
 *     fallback; id 0 is never a resting order).
 *  3. price outside (0, LOB_MAX_PRICE] for every op but MARKET and CANCEL -> BAD_PRICE.
 *  4. qty outside (0, LOB_MAX_QTY] (CANCEL: [0, LOB_MAX_QTY]) -> BAD_QTY.
 *  5. state, per op:
 *     LIMIT   DUPLICATE_ID if id rests. DAY only: BAD_QTY if qty added to the total of the
 *             level at price on its own side would overflow int64 (checked before matching,
 *             so conservative); FULL if a remainder would rest and no pool slot would be free
 *             after matching (makers it fills completely free their slots first).
 *     MARKET  DUPLICATE_ID if id rests (ids of new orders never alias resting ones).
 *     CANCEL  UNKNOWN_ID.
 *     REPLACE UNKNOWN_ID; when it loses queue position, BAD_QTY if qty added to the level at
 *             the new price (without the order's own leaves) would overflow. Never FULL: the
 *             order keeps its pool slot.
 *     EXECUTE known id: BAD_QTY if qty > leaves. Unknown id: UNKNOWN_ID if there is no feed
 *             liquidity at side/price, BAD_QTY if qty > that level's feed liquidity (trades
 *             are never invented).
 *     ADD     DUPLICATE_ID; BAD_QTY on level total overflow; FULL if the pool is full (id > 0).
 *     REDUCE/DELETE  unknown id: UNKNOWN_ID if there is no feed liquidity at side/price; a
 *             qty above it removes all of it (reductions clamp, like CANCEL).
 *  A book that cannot grow its price-level array rejects the op with CORE_ERR_NOMEM.
 *
 * Events per op (fields not named are 0; `side` is the taker's side for TRADE, else the side
 * of the order or level concerned):
 *  LIMIT/MARKET  one TRADE per maker filled (anonymous quantity first, as maker 0, with
 *                other_leaves the level's anonymous quantity left), then: DAY limit remainder
 *                -> REST; IOC remainder -> CANCEL code IOC; market remainder -> CANCEL code
 *                MARKET (price 0). FOK that cannot fill -> CANCEL code FOK with qty = the
 *                whole order and no trades. TRADE price is the maker's price.
 *  CANCEL/REDUCE/DELETE of a known id -> CANCEL code REQUESTED, qty removed, leaves left.
 *  REDUCE/DELETE level fallback -> one CANCEL code LEVEL per quantity taken: id the op's id,
 *                other the order it was taken from (0 for anonymous), qty taken, leaves 0,
 *                other_leaves what that order (or the anonymous quantity) has left.
 *  REPLACE       keeps position -> REPLACE code 1 (qty = leaves = new leaves). Loses it ->
 *                REPLACE code 0, then TRADEs and a REST as for a DAY limit order (a feed
 *                order: the REST alone).
 *  EXECUTE       TRADE with id 0 and leaves 0, side the taker's (opposite of the maker's),
 *                price the maker's; a level fallback emits one TRADE per maker taken from.
 *  ADD           REST (qty = leaves = the order's qty; id 0: qty added and leaves the level's
 *                anonymous quantity after).
 *  REJECT        id, side, price, qty of the op as given, other = the op's type, code < 0.
 *
 * There is no self-trade prevention: a taker may trade with a resting order of the same
 * owner, since the book does not know owners. A feed ADD may cross the book; matching ops
 * then match against whatever crosses them as usual.
 */
#ifndef CORE_BOOK_H
#define CORE_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define LOB_MAX_PRICE ((int64_t)1 << 53)
#define LOB_MAX_QTY ((int64_t)1 << 53)

/* cffi:begin */
enum lob_side { LOB_BUY = 0, LOB_SELL = 1 };
enum lob_tif { LOB_DAY = 0, LOB_IOC = 1, LOB_FOK = 2 };

enum lob_op_type {
    LOB_OP_LIMIT = 1,
    LOB_OP_MARKET = 2,
    LOB_OP_CANCEL = 3,
    LOB_OP_REPLACE = 4,
    LOB_OP_EXECUTE = 5,
    LOB_OP_ADD = 6,
    LOB_OP_REDUCE = 7,
    LOB_OP_DELETE = 8
};

enum lob_event_type {
    LOB_EV_TRADE = 1,   /* id taker (0 for EXECUTE), other maker, price maker's price, qty,
                           leaves taker's leaves, other_leaves maker's leaves, side taker's side */
    LOB_EV_REST = 2,    /* id now rests: side, price, qty = leaves (id 0: anonymous qty added,
                           leaves the level's anonymous quantity) */
    LOB_EV_CANCEL = 3,  /* id lost qty; leaves what is left (0 = gone); code a lob_cancel_reason */
    LOB_EV_REPLACE = 4, /* id now price/qty(leaves); code 1 if it kept its queue position */
    LOB_EV_REJECT = 5   /* the op on id failed; code a negative core_status; nothing changed */
};

enum lob_cancel_reason {
    LOB_CXL_REQUESTED = 0, /* CANCEL, REDUCE or DELETE */
    LOB_CXL_IOC = 1,       /* IOC remainder */
    LOB_CXL_FOK = 2,       /* FOK could not fill completely */
    LOB_CXL_MARKET = 3,    /* market order remainder: no more liquidity */
    LOB_CXL_LEVEL = 4      /* unknown id: quantity taken from the level at side/price; other
                              the order it came from (0 = the anonymous quantity) */
};

typedef struct {
    int64_t id;
    int64_t price;
    int64_t qty;
    uint8_t type;  /* lob_op_type */
    uint8_t side;  /* lob_side */
    uint8_t tif;   /* lob_tif */
    uint8_t pad[5];
} lob_op;

typedef struct {
    int64_t id;
    int64_t other;
    int64_t price;
    int64_t qty;
    int64_t leaves;
    int64_t other_leaves;
    uint8_t type;  /* lob_event_type */
    uint8_t side;
    uint8_t pad[2];
    int32_t code;
} lob_event;

typedef struct {
    int64_t price;
    int64_t qty;    /* total: anonymous + every resting order */
    int64_t count;  /* resting orders, plus one if there is anonymous quantity */
} lob_level;

typedef struct {
    int64_t id;
    int64_t price;
    int64_t qty;    /* leaves */
    int64_t side;
} lob_order_info;

typedef struct lob_book lob_book;

/* A book holding at most max_orders resting orders (1 <= max_orders < 2^31); NULL on no memory. */
lob_book *lob_new(size_t max_orders);
void lob_free(lob_book *book);

/* Apply n ops in order. Returns the number of events written to the book's event
 * buffer, or CORE_ERR_NOMEM if that buffer could not grow (ops before the failing one
 * are applied; *applied says how many). */
int64_t lob_apply(lob_book *book, const lob_op *ops, size_t n, size_t *applied);
/* lob_apply, then copy the first min(result, out_cap) events to out: one call instead of
 * three for callers that pay per call (the Python per-call methods). Same result as lob_apply;
 * nothing is copied when it is negative. */
int64_t lob_apply_copy(lob_book *book, const lob_op *ops, size_t n, size_t *applied,
                       lob_event *out, size_t out_cap);
/* The events of the last lob_apply; valid until the next lob_apply. */
const lob_event *lob_events(const lob_book *book);

/* Best bid/offer: out = {bid price, bid qty, ask price, ask qty}; an empty side gives price 0, qty 0. */
void lob_bbo(const lob_book *book, int64_t out[4]);
/* Up to n best levels of side (best first); returns how many were written. */
size_t lob_depth(const lob_book *book, int side, lob_level *out, size_t n);
/* Number of price levels on side. */
size_t lob_level_count(const lob_book *book, int side);
/* Number of resting orders with ids (anonymous quantity excluded). */
size_t lob_order_count(const lob_book *book);
int lob_order(const lob_book *book, int64_t id, lob_order_info *out);
/* Quantity and number of orders (anonymous quantity counts as one) ahead of id at its level. */
int lob_queue_position(const lob_book *book, int64_t id, int64_t *qty_ahead, int64_t *orders_ahead);
/* Remove every level of side beyond the best `keep` levels, with their orders. Returns levels removed. */
size_t lob_truncate(lob_book *book, int side, size_t keep);
/* Remove everything. */
void lob_clear(lob_book *book);
/* Remove the feed's liquidity: every level's anonymous quantity and every order ADD rested.
 * Orders LIMIT rested stay, in their queue order (what a market-data snapshot replaces is the
 * market's view, not a venue's own orders). Without such orders, lob_clear. */
void lob_clear_feed(lob_book *book);
/* In every level, move the orders LIMIT rested behind the feed's orders, keeping their own
 * order (after a market-data snapshot: where a venue's orders stood among the market's is
 * unknown, so the backtest assumes the worst). No events. */
void lob_own_last(lob_book *book);
/* Number of events in the buffer from the last lob_apply (also when it returned NOMEM). */
size_t lob_event_count(const lob_book *book);
/* Debug check of every internal invariant (levels sorted, level totals and counts equal to
 * their queues plus anonymous quantity, FIFO links, hash <-> pool, free list). O(size of the
 * book and its hash table). Returns 0 if consistent, else the source line of the failed check. */
int lob_check_invariants(const lob_book *book);
/* cffi:end */

#endif
