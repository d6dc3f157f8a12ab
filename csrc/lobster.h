/* LOBSTER files in C: parse message and orderbook CSVs, replay messages through a book in
 * feed mode, and format book rows back into LOBSTER's orderbook layout.
 *
 * Parsing and formatting live here because a trading day is millions of integers: a
 * Python loop over them would dominate the replay. Errors come back as a status plus the
 * 1-based line and column so the caller can name the place in the file.
 *
 * Replay contract (lobster_replay):
 *  - rows[i] is the book after msgs[i]; a row holds `levels` levels of
 *    (ask price, ask size, bid price, bid size); a level with size 0 is empty.
 *  - The book is seeded from rows[0] with the effect of msgs[0] taken out (an add is
 *    subtracted from its level, a reduction added back), then msgs[0] is applied, so the
 *    order it names is known afterwards.
 *  - Types 1/2/3/4 become ADD/REDUCE/DELETE/EXECUTE; 5 (hidden execution), 6 (cross) and
 *    7 (halt) do not change the visible book.
 *  - After each message, levels deeper than `levels` are dropped with their orders: the file
 *    carries no events for them, so their sizes cannot be trusted once they are out of view.
 *    When a side then has fewer than `levels` levels, the row's levels that lie strictly
 *    deeper than the book's worst level came into view from below; they are added as
 *    anonymous quantity and counted in *learned. Nothing else is taken from the rows.
 *  - out receives, for every message, the book's top `levels` in the same layout, with empty
 *    levels written as (empty_ask, 0) and (empty_bid, 0).
 */
#ifndef CORE_LOBSTER_H
#define CORE_LOBSTER_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "status.h"

/* cffi:begin */
typedef struct {
    int64_t time_ns;   /* seconds after midnight, in nanoseconds */
    int64_t id;
    int64_t size;
    int64_t price;     /* dollars x 10000 */
    int32_t type;      /* 1..7 */
    int32_t direction; /* 1 buy, -1 sell */
} lobster_msg;

enum lobster_status {
    LOBSTER_OK = 0,
    LOBSTER_ERR_SYNTAX = -101,     /* not an integer / decimal where one was expected */
    LOBSTER_ERR_COLUMNS = -102,    /* wrong number of columns on the line */
    LOBSTER_ERR_TYPE = -103,       /* event type not in 1..7 */
    LOBSTER_ERR_DIRECTION = -104,  /* direction not 1 or -1 */
    LOBSTER_ERR_RANGE = -105,      /* size or price out of range */
    LOBSTER_ERR_CAPACITY = -106,   /* more lines than the output array holds */
    LOBSTER_ERR_BOOK = -107,       /* the book rejected a message: it names a level that is not there */
    LOBSTER_ERR_NEGATIVE = -108,   /* orderbook: negative size */
    LOBSTER_ERR_NO_PRICE = -109    /* orderbook: a level with size has a price <= 0 */
};

typedef struct {
    int32_t status;     /* lobster_status or core_status */
    int32_t column;     /* 1-based column of a parse error, 0 otherwise */
    int64_t line;       /* 1-based line of the file at fault */
    int32_t in_rows;    /* replay: 1 if the orderbook row is at fault, 0 if the message */
    int32_t pad;
} lobster_error;

/* Count the lines of buf (a final line without newline counts). */
size_t lobster_count_lines(const char *buf, size_t len);
/* Parse a message file into out (capacity cap). Returns rows parsed or -1 with *err set. */
int64_t lobster_parse_messages(const char *buf, size_t len, lobster_msg *out, size_t cap,
                               lobster_error *err);
/* Parse an orderbook file of `cols` integer columns per line (cols a multiple of 4) into out
 * (row-major). Sizes must not be negative and a non-empty level needs a positive price. */
int64_t lobster_parse_orderbook(const char *buf, size_t len, size_t cols, int64_t *out, size_t cap_rows,
                           lobster_error *err);
/* Replay n messages (see the contract above). Returns 0, or -1 with *err naming the message. */
int lobster_replay(lob_book *book, const lobster_msg *msgs, const int64_t *rows, size_t n,
                   size_t levels, int64_t empty_ask, int64_t empty_bid, int64_t *out,
                   size_t *learned, lobster_error *err);
/* Write n rows of cols integers as CSV lines into out. Returns bytes written, or -1 if cap is
 * too small (at most 21 bytes per value are needed). */
int64_t lobster_format_rows(const int64_t *rows, size_t n, size_t cols, char *out, size_t cap);
/* cffi:end */

/* Shared with the market-data code (mdlobster.c, mdfeed.c); not part of the Python API. */

/* Side `side` of level `l` in a LOBSTER row: a pointer to its (price, size). */
const int64_t *lobster_row_level(const int64_t *row, size_t l, int side);

/* Clear `book` and seed it with the book before msg0: row0 with msg0's effect undone, as
 * anonymous levels. CORE_OK or the book's reject code. */
int lobster_seed(lob_book *book, const lobster_msg *msg0, const int64_t *row0, size_t levels);

/* The top `levels` of each side of `book` into `out` in LOBSTER's row layout (ask price, ask
 * size, bid price, bid size per level; empty levels as empty_ask/empty_bid with size 0).
 * `scratch` holds at least `levels` entries. */
void lobster_write_row(const lob_book *book, size_t levels, int64_t empty_ask,
                       int64_t empty_bid, lob_level *scratch, int64_t *out);

#endif
