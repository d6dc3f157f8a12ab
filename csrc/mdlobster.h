/* A LOBSTER day as market-data entries: what each message does to the book, as a feed says it.
 *
 * mdlob_seed and mdlob_plan run exactly the replay of csrc/lobster.h (same seeding from the
 * first orderbook row, same feed ops, same truncation to `levels`, same levels learned from
 * below) and describe every step as entries of a FIX market-data feed. A reader that applies
 * the entries to its own book as csrc/mdfeed.h says ends with the replay's book after every
 * message; gateway/md_fix.py writes them as FIX 4.4 W/X messages.
 *
 * The book holds two kinds of quantity: orders the day named (LOBSTER ids), and quantity no
 * order was named for (the first row's levels, and levels that came into view from below),
 * the book's "anonymous" quantity, which sits ahead of every order at its level. Entries:
 *
 *  by order (MDLOB_BY_ORDER; id = the LOBSTER order id, price = the order's price)
 *   NEW     a new order (type 1): size
 *   CHANGE  the order rests with `size` left (a partial cancel or execution of it)
 *   DELETE  the order is gone; size is what it had. For type 3 on an id the book does not
 *           hold, size is LOBSTER's and the reader takes it from the level like the replay
 *           (anonymous quantity first, then the front of the queue).
 *  by level (MDLOB_BY_LEVEL; no order id)
 *   NEW     a level came into view from below with `size` anonymous (counted in `learned`);
 *           in the snapshot, every level of the book before the first message
 *   CHANGE  the level's anonymous quantity is now `size` (0: none left). Emitted when a
 *           partial cancel or an execution names an order the book does not hold: the replay
 *           took it from the level, and these entries (plus order CHANGE/DELETE entries for
 *           orders at the queue front it reached) say what was taken.
 *   DELETE  the level is gone with every order in it: it fell out of view (deeper than
 *           `levels`; size its total; counted in `dropped`), or such a fallback emptied it
 *           (size what was taken; instead of the CHANGE entries)
 *  MDLOB_TRADE   an execution (types 4, 5, 6): price, size; id the LOBSTER order id, 0 if none.
 *                A visible execution (4) is followed by the entries of its book change.
 *  MDLOB_STATUS  a halt message (type 7): price is LOBSTER's code (-1 halt, 0 quoting, 1 resume)
 *
 * Per message the entries come in this order: the message's own (a trade first), then for
 * the buy side and then the sell side, the level that fell out of view and the levels that
 * came into view. Every message gives at least one entry.
 */
#ifndef CORE_MDLOBSTER_H
#define CORE_MDLOBSTER_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "lobster.h"

/* cffi:begin */
enum mdlob_action { MDLOB_NEW = 0, MDLOB_CHANGE = 1, MDLOB_DELETE = 2 };
enum mdlob_kind {
    MDLOB_BY_ORDER = 1,
    MDLOB_BY_LEVEL = 2,
    MDLOB_TRADE = 3,
    MDLOB_STATUS = 4
};
/* Why a by-level entry was emitted (0 for the others). */
enum mdlob_why { MDLOB_WHY_SNAPSHOT = 1, MDLOB_WHY_INTO_VIEW = 2, MDLOB_WHY_OUT_OF_VIEW = 3,
                 MDLOB_WHY_FALLBACK = 4 };

typedef struct {
    int64_t id;
    int64_t price;
    int64_t size;
    uint32_t msg;    /* 0-based LOBSTER message index (the snapshot: 0) */
    uint8_t action;  /* mdlob_action */
    uint8_t kind;    /* mdlob_kind */
    uint8_t side;    /* lob_side (trades and status: the message's direction) */
    uint8_t why;     /* mdlob_why */
} mdlob_entry;

typedef struct {
    uint64_t learned;       /* levels that came into view from below */
    uint64_t dropped;       /* levels that fell out of view */
    uint64_t trades;
    uint64_t fallbacks;     /* messages naming an order the book does not hold */
    uint64_t rows_differ;   /* rows where the book is not the orderbook file's row */
    int64_t first_differ;   /* 1-based line of the first such row, 0 if none */
} mdlob_stats;

/* Time going backwards between two messages (status in lobster_error). */
#define MDLOB_ERR_TIME -120

/* Seed `book` (cleared first) from the first orderbook row with msg0's effect taken out,
 * as lobster_replay does, and write its levels to out as snapshot entries (bids best first,
 * then asks best first). Returns the entry count, or -1 with *err set (row 1 at fault), or
 * -2 if cap is too small (it never needs more than 2 * levels + 1). */
int64_t mdlob_seed(lob_book *book, const lobster_msg *msg0, const int64_t *row0, size_t levels,
                   mdlob_entry *out, size_t cap, lobster_error *err);

/* Plan messages from..n-1 on a seeded book. Stops before a message whose entries might not
 * fit in what is left of out (cap), so call again from the returned index while it is
 * below n. Returns the index of the first message not planned, or -1 with *err set (line =
 * the message's 1-based line; in_rows set when the orderbook row is at fault). *count gets
 * the entries written. Rows are compared with the book after each message into stats. */
int64_t mdlob_plan(lob_book *book, const lobster_msg *msgs, const int64_t *rows, size_t from,
                   size_t n, size_t levels, mdlob_entry *out, size_t cap, size_t *count,
                   mdlob_stats *stats, lobster_error *err);
/* cffi:end */

#endif
