/* Market data from FIX logs: decode snapshots (35=W) and incremental refreshes (35=X) into
 * book operations, and apply them to a C book message by message.
 *
 * md_decode reads messages the framer (framing.h) has already found and checked, given as
 * its records (struct fix_msg and struct fix_field, as fix_scan wrote them), and writes one md_entry per NoMDEntries (268) entry and one md_msg per
 * message. It also checks the log's lines: one message a line, other lines blank. A
 * timestamp (SendingTime 52) earlier than the one before, a malformed or missing field, or a
 * symbol with no snapshot stops it with a status and the byte offset to report.
 *
 * Book entries (MDEntryType 269 = 0 bid, 1 offer) become feed ops on the symbol's book
 * (book.h). An entry with an MDEntryID (278) is an order; an entry without one is the
 * level's quantity that no order accounts for, kept in the book as one order per level with
 * the id MD_LEVEL_ID(side, price) (added with the level, so at the front of the feed's
 * orders there like the book's anonymous quantity, and it can be changed to an absolute size
 * like an order):
 *
 *   W entry, X New (279=0)   with id: ADD id        without: ADD level id
 *   X Change (279=1)         with id: REPLACE id to size (0: CANCEL id)
 *                            without: REPLACE level id to size (0: CANCEL level id)
 *   X Delete (279=2)         with id and price and size: DELETE id (an id the book does not
 *                            hold takes size from the level: book.h's level fallback);
 *                            with id only: CANCEL id
 *                            without id: DELETE the whole level (its feed liquidity:
 *                            book.h's level fallback, which leaves the caller's own
 *                            LIMIT orders)
 *
 * A snapshot clears the symbol's feed liquidity first (lob_clear_feed: the caller's own
 * orders stay) and, given the caller's clients, puts their orders behind the snapshot's at
 * their prices after it (lob_own_last). With keep_uncrossed (a venue's feed) the replayed
 * liquidity is also kept uncrossed: after an incremental message, for each side, its most
 * aggressive entry added or changed (if it still rests when the message ends) makes the
 * other side's feed liquidity at or through its price stale (a client took it, and a later
 * view of the level brought it back, which the log cannot know), and that is removed; a
 * message whose two such entries cross each other is left as it is. Change keeps queue position when the size goes
 * down at the same price (REPLACE's rule). Prices are decimals scaled to integer ticks by
 * 10^price_decimals (more digits than that must be zeros); sizes are integers (a ".0"
 * fraction is accepted). Trade entries (269=2) carry price, size and OrderID (37) and change
 * no replayed order; given the caller's own (client) orders resting in the book, md_apply
 * fills those that the trade would have reached first (see md_apply). Entries of any other
 * type the decoder allows (md_decoder.entry_types: an opening price, an imbalance), or
 * without 269 and 278, are kept as MD_ENTRY_OTHER.
 *
 * Order ids: a numeric MDEntryID from 1 to MD_ORDER_ID_MAX without leading zeros is the id
 * itself; any other MDEntryID is flagged MD_F_TEXT_ID and the caller maps it to an id in
 * [MD_TEXT_ID_BASE, MD_LEVEL_ID_BASE) before applying. Ids from 2^62 up are never used here.
 */
#ifndef CORE_MDFEED_H
#define CORE_MDFEED_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "framing.h"

/* cffi:begin */
#define MD_ORDER_ID_MAX 1152921504606846975
#define MD_TEXT_ID_BASE 1152921504606846976
#define MD_LEVEL_ID_BASE 2305843009213693952
#define MD_LEVEL_SIDE_SHIFT 54
#define MD_NO_SYMBOL 4294967295
#define MD_MAX_LEVELS 1000

enum md_msg_kind { MD_MSG_OTHER = 0, MD_MSG_SNAPSHOT = 1, MD_MSG_INCREMENTAL = 2 };
enum md_entry_kind { MD_ENTRY_BOOK = 1, MD_ENTRY_TRADE = 2, MD_ENTRY_OTHER = 3 };
enum md_entry_flag { MD_F_TEXT_ID = 1, MD_F_LEVEL = 2 };

enum md_status {
    MD_OK = 0,
    MD_NEW_SYMBOL = 1,          /* a snapshot for a symbol not in the table: add it, go on */
    MD_NEED_ROOM = 2,           /* the output arrays are full: go on from the result */
    MD_ERR_FRAME = -201,        /* the framer did not pass the message (BodyLength, CheckSum...) */
    MD_ERR_LINE = -202,         /* a line that holds no message, or two messages on a line */
    MD_ERR_MISSING = -203,      /* a required field (err_tag) is missing */
    MD_ERR_VALUE = -204,        /* a field (err_tag) has a malformed or out of range value */
    MD_ERR_DUPLICATE = -205,    /* a field (err_tag) twice in one entry */
    MD_ERR_COUNT = -206,        /* NoMDEntries (268) differs from the entries found */
    MD_ERR_GROUP = -207,        /* an entry field before the entry's first field */
    MD_ERR_TIME_BACKWARDS = -208,  /* SendingTime earlier than the message before */
    MD_ERR_UNKNOWN_SYMBOL = -209,  /* an incremental refresh for a symbol with no snapshot */
    MD_ERR_REPEATED = -210      /* a message's own field (err_tag: 52, 55 before the entries,
                                   268) twice in it */
};

/* What the framer found in one scanned buffer: its records as fix_scan wrote them. */
typedef struct {
    const uint8_t *buf;
    size_t len;
    const struct fix_msg *msgs;
    size_t count;
    const struct fix_field *fields;
    size_t field_total;
} md_frames;

typedef struct {
    /* in: the symbol table, symbols[sym_offset[k] .. sym_offset[k + 1]) is symbol k */
    const char *symbols;
    const uint32_t *sym_offset;
    uint32_t sym_count;
    int32_t price_decimals;    /* 0..9 */
    /* the MDEntryType (269) values allowed: bit c % 64 of word c / 64 for the one-character
     * value c (ASCII); any other value, a longer one included, is MD_ERR_VALUE. All bits
     * zero: any value (kept as MD_ENTRY_OTHER when not 0, 1 or 2) */
    uint64_t entry_types[2];
    /* in/out: where the text before the next message starts, and whether that is the start
     * of a line (else it is the end of a message, whose line must end with blanks) */
    uint32_t gap_from;
    uint32_t at_line_start;
    int64_t last_time_ns;      /* the latest SendingTime so far (INT64_MIN before any) */
    /* out */
    uint32_t entry_count;      /* entries written by the call */
    int32_t status;            /* md_status */
    uint32_t err_msg;          /* frames index of the message at fault (or to go on from) */
    uint32_t err_offset;       /* byte offset in buf of the fault, for its line number */
    uint32_t err_tag;
    uint32_t err_value_offset; /* the value at fault (for MD_NEW_SYMBOL: the symbol) */
    uint32_t err_value_length;
} md_decoder;

typedef struct {
    int64_t time_ns;       /* SendingTime (52), UTC nanoseconds since the Unix epoch */
    uint32_t start;        /* byte offset of the message in buf */
    uint32_t first_entry;  /* its entries are entries[first_entry .. + entry_count) */
    uint32_t entry_count;
    uint32_t sym;          /* snapshot: its symbol; otherwise MD_NO_SYMBOL */
    uint8_t kind;          /* md_msg_kind */
    uint8_t pad[7];
} md_msg;

typedef struct {
    lob_op op;             /* book entries: the op; trades: price, qty, id = OrderID or 0 */
    int64_t time_ns;       /* the message's SendingTime */
    uint32_t msg;          /* index of its message in the md_msg array of the call */
    uint32_t sym;          /* symbol index */
    uint32_t text_offset;  /* MD_F_TEXT_ID: the MDEntryID's bytes in buf */
    uint32_t text_length;
    uint8_t kind;          /* md_entry_kind */
    uint8_t action;        /* MDUpdateAction 0 new, 1 change, 2 delete (snapshot: 0) */
    uint8_t flags;         /* md_entry_flag bits */
    uint8_t entry_type;    /* MDEntryType's character, 0 if absent */
    uint8_t pad[4];
} md_entry;

/* Decode frames from..count-1 into msgs (from msgs[0]) and entries (from entries[0]).
 * Returns the number of messages decoded; d->status says why it stopped (MD_OK: all of
 * them) and d->err_msg is then the message to go on from or at fault. md_msg.first_entry
 * and md_entry.msg are relative to this call's arrays. */
int64_t md_decode(const md_frames *f, size_t from, md_decoder *d, md_msg *msgs, size_t msg_cap,
                  md_entry *entries, size_t entry_cap);

/* The first MsgSeqNum (34) of each of f's messages, to seq[0 .. f->count): its value, or -1
 * when the message has none or its value is not 1 to 18 digits (the framer's fields, for
 * messages it refused as well). */
void md_seqnums(const md_frames *f, int64_t *seq);

/* Check the text after the last message of buf (from = its end, or 0 if there is none;
 * at_line_start as in md_decoder): blanks to the end of that message's line, then blank
 * lines. Returns 0, or -1 with *bad the offset of the line at fault. */
int md_check_tail(const uint8_t *buf, size_t len, uint32_t from, uint32_t at_line_start,
                  uint32_t *bad);

/* One fill of a client order by a trade entry (see md_apply). */
typedef struct {
    int64_t order_id;       /* the client order */
    int64_t price;          /* its own price (ticks): the fill price */
    int64_t qty;
    int64_t leaves;         /* its leaves after the fill (0: it left the book) */
    int64_t time_ns;        /* the message's SendingTime */
    int64_t trade_order_id; /* the trade entry's OrderID (the replayed order of record), 0 if none */
    int64_t trade_price;    /* the trade entry's price */
    uint32_t entry;         /* the trade entry's index in the entries array */
    uint8_t side;           /* lob_side of the client order */
    uint8_t hidden;         /* 1: the trade named no resting order (side unknown) */
    uint8_t pad[2];
} md_fill;

#define MD_TOP_FIELDS 5

typedef struct {
    /* in */
    uint32_t sym;              /* apply this symbol's entries */
    uint32_t stop_on_reject;   /* stop at the first op the book rejects */
    uint32_t stop_on_fill;     /* stop after the first message that filled a client order or
                                  left one crossed (see md_apply) */
    uint32_t keep_uncrossed;   /* 1: a venue's feed, where clients trade with the replayed
                                  liquidity: remove liquidity an entry shows stale (see the
                                  top of this file) */
    size_t levels;             /* 0..MD_MAX_LEVELS; > 0: after each incremental refresh that has an entry of
                                  sym, write the book's top `levels` to rows, LOBSTER's layout */
    int64_t empty_ask;
    int64_t empty_bid;
    int64_t *rows;
    size_t rows_cap;
    /* out */
    size_t rows_written;
    uint64_t ops;              /* ops applied (rejects included) */
    uint64_t rejects;
    int32_t reject_code;       /* first reject of the call: core_status */
    uint32_t reject_entry;     /* and its entry index */
    /* in: client fills, off when clients is NULL or client_count 0. The ids of the caller's
     * own orders resting in this book (ids that do not rest are skipped); fills go to
     * fills[0 .. fills_cap) */
    const int64_t *clients;
    size_t client_count;
    md_fill *fills;
    size_t fills_cap;
    /* in: replayed orders that the caller's own orders took whole, ascending (NULL: none).
     * What the log later says of one (a change, a delete, a trade) is of liquidity already
     * gone: its book entries are skipped and its trade entries fill no client. */
    const int64_t *gone;
    size_t gone_count;
    /* in: off when NULL. For each trade entry of sym the call applies, in order, the id of
     * the liquidity it printed goes to trade_ids[trade_ids_written++] (see Prints below),
     * negated when that liquidity is gone (see Gone orders: a client printed it already);
     * md_apply stops before a message with more trade entries than there is room for, so
     * trade_ids_cap >= the range's trade entries never stops it. */
    int64_t *trade_ids;
    size_t trade_ids_cap;
    /* in: top-of-book rows, off when tops is NULL: MD_TOP_FIELDS int64 a row (time_ns,
     * bid price, bid qty, ask price, ask qty), at most tops_cap rows */
    int64_t *tops;
    size_t tops_cap;
    /* out */
    size_t fills_written;
    size_t tops_written;
    size_t trade_ids_written;
    uint64_t skipped;          /* book entries skipped because they name a gone order */
    uint32_t crossed;          /* 1: the call stopped at a client order left crossed */
    /* in: a watch on sym's touch, off when watch_on is 0: the best bid must stay within
     * [watch[0], watch[1]] and the best ask within [watch[2], watch[3]] (INT64_MIN and
     * INT64_MAX: that bound is not watched; a side with a bound set must not be empty), and
     * the book must be neither crossed (bid above ask) nor empty. Messages are grouped by
     * time: two are in one group when (time_ns - watch_base_ns) / watch_step_ns, rounded up,
     * is the same (a step of 0 or 1: the same time_ns) */
    uint32_t watch_on;
    int64_t watch[4];
    int64_t watch_base_ns;
    int64_t watch_step_ns;
    /* out */
    uint32_t touched;          /* 1: the call stopped at a group that left the watch */
} md_apply_ctl;

/* Apply the entries of messages from..to-1 of symbol c->sym to book. Returns the index of
 * the first message not applied: `to`, or earlier when an output array is short (before
 * that message: rows, fills or tops, see below), on a reject with stop_on_reject (that
 * message, partly applied), with stop_on_fill after the first message that filled a client
 * order or left one crossed (the caller then acts on the fill, or trades the crossed order
 * with what crosses it, at its message's time before going on; c->crossed says which), or a
 * negative core_status if the book (or the scratch space for
 * client fills) ran out of memory, or CORE_ERR_BAD_OP for levels > MD_MAX_LEVELS.
 *
 * Client fills (c->clients): each trade entry of sym with size q > 0, price P and OrderID X
 * is matched, at its place in the message (after the entries before it, before those after
 * it), against the client orders that would have traded before X:
 *  - X rests in the book (side s, price Px): the clients on side s priced better than Px
 *    (buy > Px, sell < Px), or at Px and ahead of X in the level's queue;
 *  - X is 0 (a hidden execution; the side is unknown): client buys priced >= P and client
 *    sells priced <= P;
 *  - X is not 0 and not in the book (side unknown too): client buys priced > P and sells
 *    priced < P, and those at P only with nothing ahead of them in their queue (qty_ahead 0
 *    from lob_queue_position when their turn comes, so a client order ahead of them that
 *    this trade filled to zero no longer counts). Such an X rested before the data starts
 *    (LOBSTER executions of orders the log never added): it is part of the level's
 *    anonymous quantity, which is ahead of every order in the queue.
 * q goes to them in priority order (furthest through the reference price first, then buys
 * before sells, then queue position), each taking min(what is left, its leaves): the client
 * order is reduced in place (keeping its queue position) and removed at zero, and one md_fill
 * is written. The trade entry and the replayed orders stay as recorded: a client fill takes
 * no volume from them, so the same print may fill a client and still execute X (the model's
 * optimistic bias). Fills are not counted in c->ops.
 *  Room: one trade fills at most its clients, and at most one client without removing it,
 * so a message with t such trade entries writes at most min(t * n, t + n) fills for n =
 * client_count; md_apply stops before a message when fills has less room than that. The
 * whole call writes at most T + n fills for T trade entries, so fills_cap >= T + 2 n never
 * stops it.
 *
 * Crossed (c->clients with stop_on_fill): a replayed order that arrives at or through the
 * price of a client order resting on the other side is added without trading (feed mode);
 * after the message of sym that did it, a client buy priced at or above the best ask, or a
 * client sell at or below the best bid, ends the call with c->crossed 1.
 *
 * Watch (c->watch_on): at the end of each group of messages (see watch_step_ns) in which a
 * message of sym changed its book or filled a client, the touch is checked against the
 * watch; outside it, the call ends there with c->touched 1, so the caller looks at the book
 * as it stands after that time, as it would had it stopped after every time. The last
 * message of the range ends a group (the next call's first message may share its time).
 *
 * Gone orders (c->gone): while an id in gone is not in the book, a book entry of any op but
 * ADD naming it is skipped (not applied, counted in c->skipped, not in c->ops) and a trade
 * entry whose print it owns fills no client. Once an ADD (or a snapshot) puts the id back in
 * the book, its entries apply as any order's.
 *
 * Prints: the owner of a trade entry's print is the liquidity it executed: X itself, except
 * for an X that is not 0, not in the book and not gone (an order from before the data
 * starts): X rested in the quantity the log showed by its level only, so the owner is that
 * level's id, MD_LEVEL_ID(side, P), when the book holds it or it is gone (the buy side's
 * first; in a log that is never crossed only X's own side can have one). A client that took
 * such a level whole took X with it: the print fills no other client.
 *
 * Tops (c->tops): after each message of sym that is a snapshot, has a book entry of sym or
 * filled a client, one row if the best bid/ask (price, qty; 0 and 0 for an empty side)
 * differ from the last row written in this call (a new call starts afresh). md_apply stops
 * before any message of sym when tops is full, so tops_cap >= to - from never stops it. */
int64_t md_apply(lob_book *book, const md_msg *msgs, size_t from, size_t to,
                 const md_entry *entries, md_apply_ctl *c);
/* cffi:end */

#define MD_LEVEL_ID(side, price) \
    (MD_LEVEL_ID_BASE + ((int64_t)(side) << MD_LEVEL_SIDE_SHIFT) + (price))

#endif
