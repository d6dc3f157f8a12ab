/* C unit tests of the order book (csrc/book.c), run under ASan/UBSan by tests/test_c_sanitized.py.
 *
 * Table-style checks of each operation's events and resulting book, then a long random
 * stress that checks the internal invariants after every op and the book's public queries
 * against a shadow rebuilt from its events (book_model.h) every few ops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "book_model.h"

static int failures;

#define EXPECT(cond)                                                     \
    do {                                                                 \
        if (!(cond)) {                                                   \
            printf("%s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                  \
        }                                                                \
    } while (0)

enum { B = LOB_BUY, S = LOB_SELL };

static lob_op mk(int type, int64_t id, int side, int64_t price, int64_t qty, int tif) {
    lob_op op;
    memset(&op, 0, sizeof op);
    op.type = (uint8_t)type;
    op.id = id;
    op.side = (uint8_t)side;
    op.price = price;
    op.qty = qty;
    op.tif = (uint8_t)tif;
    return op;
}

/* Apply one op; returns the number of events (lob_events holds them). */
static int64_t one(lob_book *b, lob_op op) {
    size_t applied = 0;
    int64_t n = lob_apply(b, &op, 1, &applied);
    if (n < 1 || applied != 1) {
        printf("lob_apply returned %lld (applied %zu)\n", (long long)n, applied);
        failures++;
    }
    return n;
}

static int64_t limit(lob_book *b, int64_t id, int side, int64_t price, int64_t qty, int tif) {
    return one(b, mk(LOB_OP_LIMIT, id, side, price, qty, tif));
}

/* Expected event: fields in the order the header documents them. */
typedef struct {
    int type;
    int64_t id;
    int side;
    int64_t price, qty, leaves, other, other_leaves;
    int code;
} want_t;

static int same(const lob_event *e, want_t w) {
    return e->type == w.type && e->id == w.id && e->side == w.side && e->price == w.price &&
           e->qty == w.qty && e->leaves == w.leaves && e->other == w.other &&
           e->other_leaves == w.other_leaves && e->code == w.code;
}

#define EXPECT_EVENTS(book, n, ...) expect_events(__LINE__, book, n, (want_t[]){__VA_ARGS__}, \
                                                  sizeof((want_t[]){__VA_ARGS__}) / sizeof(want_t))

static void expect_events(int line, lob_book *b, int64_t n, const want_t *w, size_t nw) {
    const lob_event *ev = lob_events(b);
    int ok = n == (int64_t)nw;
    for (size_t i = 0; ok && i < nw; i++) ok = same(&ev[i], w[i]);
    if (ok) return;
    failures++;
    printf("line %d: events differ (got %lld, want %zu)\n", line, (long long)n, nw);
    for (int64_t i = 0; i < n; i++)
        printf("  got  type=%d id=%lld side=%d price=%lld qty=%lld leaves=%lld other=%lld "
               "other_leaves=%lld code=%d\n",
               ev[i].type, (long long)ev[i].id, ev[i].side, (long long)ev[i].price,
               (long long)ev[i].qty, (long long)ev[i].leaves, (long long)ev[i].other,
               (long long)ev[i].other_leaves, ev[i].code);
    for (size_t i = 0; i < nw; i++)
        printf("  want type=%d id=%lld side=%d price=%lld qty=%lld leaves=%lld other=%lld "
               "other_leaves=%lld code=%d\n",
               w[i].type, (long long)w[i].id, w[i].side, (long long)w[i].price,
               (long long)w[i].qty, (long long)w[i].leaves, (long long)w[i].other,
               (long long)w[i].other_leaves, w[i].code);
}

static void expect_reject(int line, lob_book *b, lob_op op, int code) {
    int64_t n = one(b, op);
    const lob_event *e = lob_events(b);
    if (n == 1 && e->type == LOB_EV_REJECT && e->code == code && e->id == op.id &&
        e->other == op.type && e->price == op.price && e->qty == op.qty)
        return;
    failures++;
    printf("line %d: expected reject %d, got %lld events, first type %d code %d\n", line, code,
           (long long)n, n > 0 ? e->type : -1, n > 0 ? e->code : 0);
}
#define EXPECT_REJECT(b, op, code) expect_reject(__LINE__, b, op, code)

static void expect_invariants(int line, const lob_book *b) {
    int bad = lob_check_invariants(b);
    if (bad) {
        failures++;
        printf("line %d: lob_check_invariants failed at book.c:%d\n", line, bad);
    }
}
#define EXPECT_OK(b) expect_invariants(__LINE__, b)

#define TRADE(id, side, price, qty, leaves, other, ol) {LOB_EV_TRADE, id, side, price, qty, leaves, other, ol, 0}
#define REST(id, side, price, qty, leaves) {LOB_EV_REST, id, side, price, qty, leaves, 0, 0, 0}
#define CXL(id, side, price, qty, leaves, other, ol, code) {LOB_EV_CANCEL, id, side, price, qty, leaves, other, ol, code}
#define RPL(id, side, price, qty, code) {LOB_EV_REPLACE, id, side, price, qty, qty, 0, 0, code}

static void test_rest_bbo_depth(void) {
    lob_book *b = lob_new(16);
    int64_t bbo[4];
    lob_bbo(b, bbo);
    EXPECT(bbo[0] == 0 && bbo[1] == 0 && bbo[2] == 0 && bbo[3] == 0);
    EXPECT_EVENTS(b, limit(b, 1, B, 100, 10, LOB_DAY), REST(1, B, 100, 10, 10));
    limit(b, 2, B, 99, 5, LOB_DAY);
    limit(b, 3, B, 100, 7, LOB_DAY);
    limit(b, 4, S, 102, 4, LOB_DAY);
    limit(b, 5, S, 101, 6, LOB_DAY);
    lob_bbo(b, bbo);
    EXPECT(bbo[0] == 100 && bbo[1] == 17 && bbo[2] == 101 && bbo[3] == 6);
    lob_level lv[4];
    EXPECT(lob_depth(b, B, lv, 4) == 2);
    EXPECT(lv[0].price == 100 && lv[0].qty == 17 && lv[0].count == 2);
    EXPECT(lv[1].price == 99 && lv[1].qty == 5 && lv[1].count == 1);
    EXPECT(lob_depth(b, S, lv, 1) == 1 && lv[0].price == 101);
    EXPECT(lob_depth(b, 7, lv, 4) == 0 && lob_level_count(b, 7) == 0);
    EXPECT(lob_level_count(b, B) == 2 && lob_level_count(b, S) == 2 && lob_order_count(b) == 5);
    lob_order_info info;
    EXPECT(lob_order(b, 3, &info) == CORE_OK && info.price == 100 && info.qty == 7 && info.side == B);
    EXPECT(lob_order(b, 42, &info) == CORE_ERR_UNKNOWN_ID);
    EXPECT(lob_order(b, 0, &info) == CORE_ERR_UNKNOWN_ID);
    EXPECT(lob_order(b, -3, &info) == CORE_ERR_UNKNOWN_ID);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_price_time_priority(void) {
    lob_book *b = lob_new(16);
    limit(b, 1, S, 101, 5, LOB_DAY);
    limit(b, 2, S, 101, 5, LOB_DAY);
    limit(b, 3, S, 100, 5, LOB_DAY);
    limit(b, 4, S, 103, 5, LOB_DAY);
    /* best price first (3 @100), then time at 101 (1 before 2); maker's price; partial fill */
    EXPECT_EVENTS(b, limit(b, 10, B, 101, 12, LOB_DAY),
                  TRADE(10, B, 100, 5, 7, 3, 0), TRADE(10, B, 101, 5, 2, 1, 0),
                  TRADE(10, B, 101, 2, 0, 2, 3));
    lob_order_info info;
    EXPECT(lob_order(b, 2, &info) == CORE_OK && info.qty == 3);
    EXPECT(lob_order(b, 1, &info) == CORE_ERR_UNKNOWN_ID);
    /* a buy above the ask sweeps and rests its remainder at its own price */
    EXPECT_EVENTS(b, limit(b, 11, B, 104, 10, LOB_DAY),
                  TRADE(11, B, 101, 3, 7, 2, 0), TRADE(11, B, 103, 5, 2, 4, 0),
                  REST(11, B, 104, 2, 2));
    EXPECT(lob_level_count(b, S) == 0 && lob_order_count(b) == 1);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_tif_and_market(void) {
    lob_book *b = lob_new(16);
    limit(b, 1, S, 101, 5, LOB_DAY);
    limit(b, 2, S, 102, 5, LOB_DAY);
    EXPECT_EVENTS(b, limit(b, 10, B, 101, 8, LOB_IOC),
                  TRADE(10, B, 101, 5, 3, 1, 0), CXL(10, B, 101, 3, 0, 0, 0, LOB_CXL_IOC));
    /* FOK that cannot fill: cancelled whole, nothing traded */
    EXPECT_EVENTS(b, limit(b, 11, B, 102, 6, LOB_FOK), CXL(11, B, 102, 6, 0, 0, 0, LOB_CXL_FOK));
    EXPECT(lob_order_count(b) == 1);
    EXPECT_EVENTS(b, limit(b, 12, B, 102, 5, LOB_FOK), TRADE(12, B, 102, 5, 0, 2, 0));
    EXPECT(lob_level_count(b, S) == 0);
    /* market on an empty side: all cancelled */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 13, S, 0, 4, LOB_DAY)),
                  CXL(13, S, 0, 4, 0, 0, 0, LOB_CXL_MARKET));
    limit(b, 3, B, 99, 2, LOB_DAY);
    limit(b, 4, B, 98, 2, LOB_DAY);
    /* market ignores price; remainder cancelled with MARKET; never rests */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 14, S, 123456, 5, LOB_IOC)),
                  TRADE(14, S, 99, 2, 3, 3, 0), TRADE(14, S, 98, 2, 1, 4, 0),
                  CXL(14, S, 0, 1, 0, 0, 0, LOB_CXL_MARKET));
    limit(b, 5, B, 97, 2, LOB_DAY);
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 15, S, 0, 3, LOB_FOK)),
                  CXL(15, S, 0, 3, 0, 0, 0, LOB_CXL_FOK));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 16, S, 0, 2, LOB_FOK)), TRADE(16, S, 97, 2, 0, 5, 0));
    EXPECT(lob_order_count(b) == 0 && lob_level_count(b, B) == 0);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_cancel_and_replace(void) {
    lob_book *b = lob_new(16);
    limit(b, 1, B, 100, 10, LOB_DAY);
    limit(b, 2, B, 100, 10, LOB_DAY);
    limit(b, 3, B, 100, 10, LOB_DAY);
    int64_t qa, na;
    EXPECT(lob_queue_position(b, 3, &qa, &na) == CORE_OK && qa == 20 && na == 2);
    /* partial cancel keeps queue position */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_CANCEL, 1, 0, 0, 4, 0)),
                  CXL(1, B, 100, 4, 6, 0, 0, LOB_CXL_REQUESTED));
    EXPECT(lob_queue_position(b, 2, &qa, &na) == CORE_OK && qa == 6 && na == 1);
    /* replace down at the same price keeps position */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 1, 0, 100, 3, 0)), RPL(1, B, 100, 3, 1));
    EXPECT(lob_queue_position(b, 1, &qa, &na) == CORE_OK && qa == 0 && na == 0);
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 1, 0, 100, 3, 0)), RPL(1, B, 100, 3, 1));
    EXPECT(lob_queue_position(b, 1, &qa, &na) == CORE_OK && qa == 0 && na == 0);
    /* replace up loses it */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 1, 0, 100, 5, 0)), RPL(1, B, 100, 5, 0),
                  REST(1, B, 100, 5, 5));
    EXPECT(lob_queue_position(b, 1, &qa, &na) == CORE_OK && qa == 20 && na == 2);
    /* replace to another price loses it and may match */
    limit(b, 4, S, 102, 3, LOB_DAY);
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 2, 0, 102, 10, 0)), RPL(2, B, 102, 10, 0),
                  TRADE(2, B, 102, 3, 7, 4, 0), REST(2, B, 102, 7, 7));
    /* replace that fills completely leaves the book */
    limit(b, 5, S, 103, 9, LOB_DAY);
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 3, 0, 103, 9, 0)), RPL(3, B, 103, 9, 0),
                  TRADE(3, B, 103, 9, 0, 5, 0));
    lob_order_info info;
    EXPECT(lob_order(b, 3, &info) == CORE_ERR_UNKNOWN_ID);
    /* cancel qty 0 or >= leaves removes */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_CANCEL, 2, 0, 0, 0, 0)),
                  CXL(2, B, 102, 7, 0, 0, 0, LOB_CXL_REQUESTED));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_CANCEL, 1, 0, 0, 99, 0)),
                  CXL(1, B, 100, 5, 0, 0, 0, LOB_CXL_REQUESTED));
    EXPECT(lob_order_count(b) == 0 && lob_level_count(b, B) == 0);
    EXPECT_REJECT(b, mk(LOB_OP_CANCEL, 1, 0, 0, 0, 0), CORE_ERR_UNKNOWN_ID);
    EXPECT_REJECT(b, mk(LOB_OP_REPLACE, 1, 0, 100, 1, 0), CORE_ERR_UNKNOWN_ID);
    EXPECT(lob_queue_position(b, 1, &qa, &na) == CORE_ERR_UNKNOWN_ID);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_feed_ops(void) {
    lob_book *b = lob_new(16);
    /* anonymous quantity is ahead of every order at its level */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_ADD, 0, S, 101, 7, 0)), REST(0, S, 101, 7, 7));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_ADD, 1, S, 101, 5, 0)), REST(1, S, 101, 5, 5));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_ADD, 0, S, 101, 3, 0)), REST(0, S, 101, 3, 10));
    int64_t qa, na;
    EXPECT(lob_queue_position(b, 1, &qa, &na) == CORE_OK && qa == 10 && na == 1);
    lob_level lv;
    EXPECT(lob_depth(b, S, &lv, 1) == 1 && lv.qty == 15 && lv.count == 2);
    /* a taker meets the anonymous quantity first, as maker 0 */
    EXPECT_EVENTS(b, limit(b, 10, B, 101, 12, LOB_IOC),
                  TRADE(10, B, 101, 10, 2, 0, 0), TRADE(10, B, 101, 2, 0, 1, 3));
    /* execute by id: trade with taker 0 on the other side */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_EXECUTE, 1, S, 101, 2, 0)), TRADE(0, B, 101, 2, 0, 1, 1));
    EXPECT_REJECT(b, mk(LOB_OP_EXECUTE, 1, S, 101, 2, 0), CORE_ERR_BAD_QTY); /* > leaves */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_EXECUTE, 1, B, 5, 1, 0)), TRADE(0, B, 101, 1, 0, 1, 0));
    EXPECT(lob_level_count(b, S) == 0);
    /* unknown ids fall back to the level named by side/price: anonymous, then queue front */
    one(b, mk(LOB_OP_ADD, 0, B, 99, 4, 0));
    one(b, mk(LOB_OP_ADD, 2, B, 99, 5, 0));
    one(b, mk(LOB_OP_ADD, 3, B, 99, 6, 0));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_EXECUTE, 77, B, 99, 6, 0)),
                  TRADE(0, S, 99, 4, 0, 0, 0), TRADE(0, S, 99, 2, 0, 2, 3));
    EXPECT_REJECT(b, mk(LOB_OP_EXECUTE, 77, B, 99, 10, 0), CORE_ERR_BAD_QTY); /* > level total 9 */
    EXPECT_REJECT(b, mk(LOB_OP_EXECUTE, 77, B, 98, 1, 0), CORE_ERR_UNKNOWN_ID); /* no level */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REDUCE, 78, B, 99, 4, 0)),
                  CXL(78, B, 99, 3, 0, 2, 0, LOB_CXL_LEVEL), CXL(78, B, 99, 1, 0, 3, 5, LOB_CXL_LEVEL));
    EXPECT_REJECT(b, mk(LOB_OP_REDUCE, 78, B, 98, 4, 0), CORE_ERR_UNKNOWN_ID);
    one(b, mk(LOB_OP_ADD, 0, B, 99, 2, 0));
    EXPECT(lob_queue_position(b, 3, &qa, &na) == CORE_OK && qa == 2 && na == 1);
    /* known ids: reduce keeps position; reduce to zero and delete remove */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REDUCE, 3, B, 99, 1, 0)),
                  CXL(3, B, 99, 1, 4, 0, 0, LOB_CXL_REQUESTED));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_DELETE, 3, S, 1, 1, 0)),
                  CXL(3, B, 99, 4, 0, 0, 0, LOB_CXL_REQUESTED));
    /* delete of an unknown id reduces the level by qty; more than there is clears it */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_DELETE, 0, B, 99, 9, 0)), CXL(0, B, 99, 2, 0, 0, 0, LOB_CXL_LEVEL));
    EXPECT(lob_level_count(b, B) == 0 && lob_order_count(b) == 0);
    /* feed ADD does not match, so it may cross the book */
    one(b, mk(LOB_OP_ADD, 4, B, 105, 1, 0));
    one(b, mk(LOB_OP_ADD, 5, S, 100, 1, 0));
    int64_t bbo[4];
    lob_bbo(b, bbo);
    EXPECT(bbo[0] == 105 && bbo[2] == 100);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, 5, B, 100, 1, 0), CORE_ERR_DUPLICATE_ID);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_validation(void) {
    lob_book *b = lob_new(2);
    limit(b, 1, B, 100, 1, LOB_DAY);
    EXPECT_REJECT(b, mk(0, 5, B, 100, 1, 0), CORE_ERR_BAD_OP);
    EXPECT_REJECT(b, mk(9, 5, B, 100, 1, 0), CORE_ERR_BAD_OP);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, 2, 100, 1, 0), CORE_ERR_BAD_OP);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, B, 100, 1, 3), CORE_ERR_BAD_OP);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, 5, 255, 100, 1, 0), CORE_ERR_BAD_OP);
    /* the op's type is checked first, then side/tif, id, price, qty */
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, -1, 2, -1, -1, 0), CORE_ERR_BAD_OP);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 0, B, -1, -1, 0), CORE_ERR_BAD_ID);
    EXPECT_REJECT(b, mk(LOB_OP_MARKET, -4, B, 0, 1, 0), CORE_ERR_BAD_ID);
    EXPECT_REJECT(b, mk(LOB_OP_CANCEL, 0, B, 0, 0, 0), CORE_ERR_BAD_ID);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, -1, B, 100, 1, 0), CORE_ERR_BAD_ID);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, B, 0, -1, 0), CORE_ERR_BAD_PRICE);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, B, LOB_MAX_PRICE + 1, 1, 0), CORE_ERR_BAD_PRICE);
    EXPECT_REJECT(b, mk(LOB_OP_REPLACE, 1, B, -100, 1, 0), CORE_ERR_BAD_PRICE);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, B, 100, 0, 0), CORE_ERR_BAD_QTY);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 5, B, 100, LOB_MAX_QTY + 1, 0), CORE_ERR_BAD_QTY);
    EXPECT_REJECT(b, mk(LOB_OP_MARKET, 5, B, -9, -1, 0), CORE_ERR_BAD_QTY); /* price ignored */
    EXPECT_REJECT(b, mk(LOB_OP_CANCEL, 1, 9, -9, -1, 9), CORE_ERR_BAD_QTY); /* side/tif ignored */
    EXPECT_REJECT(b, mk(LOB_OP_REPLACE, 1, B, 100, 0, 0), CORE_ERR_BAD_QTY);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 1, S, 200, 1, 0), CORE_ERR_DUPLICATE_ID);
    EXPECT_REJECT(b, mk(LOB_OP_MARKET, 1, S, 0, 1, 0), CORE_ERR_DUPLICATE_ID);
    /* the largest values are accepted */
    limit(b, 2, S, LOB_MAX_PRICE, LOB_MAX_QTY, LOB_DAY);
    EXPECT(lob_events(b)[0].type == LOB_EV_REST);
    EXPECT(lob_order_count(b) == 2);
    EXPECT_OK(b);
    lob_free(b);
}

static void test_capacity(void) {
    EXPECT(lob_new(0) == NULL);
    EXPECT(lob_new((size_t)1 << 31) == NULL);
    lob_book *b = lob_new(2);
    limit(b, 1, S, 101, 5, LOB_DAY);
    limit(b, 2, S, 102, 5, LOB_DAY);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 3, B, 99, 1, LOB_DAY), CORE_ERR_FULL);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, 3, B, 99, 1, 0), CORE_ERR_FULL);
    /* orders that do not rest need no slot */
    EXPECT_EVENTS(b, limit(b, 3, B, 99, 1, LOB_IOC), CXL(3, B, 99, 1, 0, 0, 0, LOB_CXL_IOC));
    EXPECT_EVENTS(b, limit(b, 3, B, 101, 2, LOB_DAY), TRADE(3, B, 101, 2, 0, 1, 3));
    /* a remainder may rest in the slot of a maker it filled completely */
    EXPECT_EVENTS(b, limit(b, 4, B, 101, 4, LOB_DAY), TRADE(4, B, 101, 3, 1, 1, 0),
                  REST(4, B, 101, 1, 1));
    /* anonymous quantity needs no slot, and filling it frees none */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_ADD, 0, S, 103, 5, 0)), REST(0, S, 103, 5, 5));
    lob_truncate(b, S, 0);
    one(b, mk(LOB_OP_ADD, 0, S, 103, 5, 0));
    limit(b, 5, B, 90, 1, LOB_DAY);
    EXPECT(lob_order_count(b) == 2);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 6, B, 103, 6, LOB_DAY), CORE_ERR_FULL);
    EXPECT_EVENTS(b, limit(b, 6, B, 103, 5, LOB_DAY), TRADE(6, B, 103, 5, 0, 0, 0));
    /* replace never needs a new slot */
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_REPLACE, 5, 0, 91, 9, 0)), RPL(5, B, 91, 9, 0),
                  REST(5, B, 91, 9, 9));
    EXPECT_OK(b);
    lob_free(b);
}

static void test_overflow(void) {
    lob_book *b = lob_new(4);
    /* 1023 * 2^53 fits in int64, 1024 * 2^53 does not */
    for (int i = 0; i < 1023; i++) one(b, mk(LOB_OP_ADD, 0, B, 100, LOB_MAX_QTY, 0));
    EXPECT(lob_events(b)[0].type == LOB_EV_REST);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, 0, B, 100, LOB_MAX_QTY, 0), CORE_ERR_BAD_QTY);
    EXPECT_REJECT(b, mk(LOB_OP_ADD, 1, B, 100, LOB_MAX_QTY, 0), CORE_ERR_BAD_QTY);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 1, B, 100, LOB_MAX_QTY, LOB_DAY), CORE_ERR_BAD_QTY);
    one(b, mk(LOB_OP_ADD, 1, B, 100, LOB_MAX_QTY - 1, 0));
    EXPECT(lob_events(b)[0].type == LOB_EV_REST);
    limit(b, 2, B, 101, LOB_MAX_QTY, LOB_DAY);
    EXPECT_REJECT(b, mk(LOB_OP_REPLACE, 2, 0, 100, 2, 0), CORE_ERR_BAD_QTY);
    /* IOC and FOK never rest, so they are not limited by the level total; a market order
     * sweeping everything must not overflow the sums of its own walk */
    EXPECT_EVENTS(b, limit(b, 3, B, 100, 1, LOB_IOC), CXL(3, B, 100, 1, 0, 0, 0, LOB_CXL_IOC));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 4, S, 0, LOB_MAX_QTY, LOB_FOK)),
                  TRADE(4, S, 101, LOB_MAX_QTY, 0, 2, 0));
    EXPECT_EVENTS(b, one(b, mk(LOB_OP_MARKET, 5, S, 0, 3, LOB_FOK)),
                  TRADE(5, S, 100, 3, 0, 0, 1023 * LOB_MAX_QTY - 3));
    EXPECT_OK(b);
    lob_free(b);
}

static void test_truncate_clear(void) {
    lob_book *b = lob_new(64);
    for (int i = 0; i < 10; i++) {
        limit(b, 1 + i, B, 100 - i, 1, LOB_DAY);
        limit(b, 101 + i, S, 110 + i, 1, LOB_DAY);
        limit(b, 201 + i, S, 110 + i, 1, LOB_DAY);
    }
    one(b, mk(LOB_OP_ADD, 0, S, 130, 1, 0));
    EXPECT(lob_truncate(b, S, 20) == 0);
    EXPECT(lob_truncate(b, S, 3) == 8);
    EXPECT(lob_level_count(b, S) == 3 && lob_order_count(b) == 16);
    lob_level lv[4];
    EXPECT(lob_depth(b, S, lv, 4) == 3 && lv[2].price == 112 && lv[2].count == 2);
    lob_order_info info;
    EXPECT(lob_order(b, 104, &info) == CORE_ERR_UNKNOWN_ID);
    EXPECT(lob_truncate(b, 9, 0) == 0);
    EXPECT(lob_truncate(b, B, 0) == 10 && lob_level_count(b, B) == 0);
    EXPECT_OK(b);
    /* truncated ids can be reused */
    limit(b, 104, S, 111, 1, LOB_DAY);
    EXPECT(lob_events(b)[0].type == LOB_EV_REST);
    lob_clear(b);
    EXPECT(lob_order_count(b) == 0 && lob_level_count(b, S) == 0 && lob_event_count(b) == 0);
    EXPECT_OK(b);
    for (int i = 0; i < 64; i++) limit(b, 1 + i, B, 100, 1, LOB_DAY);
    EXPECT(lob_order_count(b) == 64);
    EXPECT_REJECT(b, mk(LOB_OP_LIMIT, 99, B, 100, 1, LOB_DAY), CORE_ERR_FULL);
    EXPECT_OK(b);
    lob_clear(b); /* the full-table path */
    EXPECT_OK(b);
    lob_free(b);
}

/* lob_clear_feed: the feed's liquidity goes (anonymous quantity, ADD orders), LIMIT orders
 * stay in their order, levels left empty are erased, and the freed ids can be used again. */
static void test_clear_feed(void) {
    lob_book *b = lob_new(16);
    one(b, mk(LOB_OP_ADD, 0, B, 100, 4, 0));
    one(b, mk(LOB_OP_ADD, 1, B, 100, 5, 0));
    limit(b, 50, B, 100, 7, LOB_DAY);
    one(b, mk(LOB_OP_ADD, 2, B, 100, 3, 0));
    limit(b, 51, B, 100, 2, LOB_DAY);
    one(b, mk(LOB_OP_ADD, 3, B, 99, 6, 0)); /* a level of feed orders only */
    one(b, mk(LOB_OP_ADD, 4, S, 101, 1, 0));
    limit(b, 52, S, 102, 8, LOB_DAY);
    lob_clear_feed(b);
    EXPECT_OK(b);
    EXPECT(lob_order_count(b) == 3 && lob_level_count(b, B) == 1 && lob_level_count(b, S) == 1);
    lob_level lv[2];
    EXPECT(lob_depth(b, B, lv, 2) == 1 && lv[0].price == 100 && lv[0].qty == 9 && lv[0].count == 2);
    int64_t qty, n;
    EXPECT(lob_queue_position(b, 51, &qty, &n) == CORE_OK && qty == 7 && n == 1);
    EXPECT(lob_depth(b, S, lv, 2) == 1 && lv[0].price == 102 && lv[0].qty == 8);
    one(b, mk(LOB_OP_ADD, 1, B, 100, 5, 0)); /* its id is free again */
    EXPECT(lob_events(b)[0].type == LOB_EV_REST);
    EXPECT_OK(b);
    /* lob_own_last: 50 and 51 (in that order) go behind the feed's 1 and the anonymous 2 */
    one(b, mk(LOB_OP_ADD, 0, B, 100, 2, 0));
    lob_own_last(b);
    EXPECT_OK(b);
    EXPECT(lob_queue_position(b, 1, &qty, &n) == CORE_OK && qty == 2 && n == 1);
    EXPECT(lob_queue_position(b, 50, &qty, &n) == CORE_OK && qty == 7 && n == 2);
    EXPECT(lob_queue_position(b, 51, &qty, &n) == CORE_OK && qty == 14 && n == 3);
    /* no LIMIT orders: the same as lob_clear */
    lob_book *f = lob_new(16);
    one(f, mk(LOB_OP_ADD, 1, B, 100, 5, 0));
    one(f, mk(LOB_OP_ADD, 0, S, 101, 5, 0));
    lob_clear_feed(f);
    EXPECT(lob_order_count(f) == 0 && lob_level_count(f, B) == 0 && lob_level_count(f, S) == 0);
    EXPECT_OK(f);
    lob_free(f);
    lob_free(b);
}

static void test_batch(void) {
    lob_book *b = lob_new(8);
    lob_op ops[4] = {mk(LOB_OP_LIMIT, 1, S, 100, 5, 0), mk(LOB_OP_LIMIT, 1, S, 100, 5, 0),
                     mk(LOB_OP_LIMIT, 2, B, 100, 7, 0), mk(LOB_OP_CANCEL, 2, 0, 0, 0, 0)};
    size_t applied = 0;
    int64_t n = lob_apply(b, ops, 4, &applied);
    EXPECT(applied == 4 && lob_event_count(b) == (size_t)n);
    EXPECT_EVENTS(b, n, REST(1, S, 100, 5, 5),
                  {LOB_EV_REJECT, 1, S, 100, 5, 0, LOB_OP_LIMIT, 0, CORE_ERR_DUPLICATE_ID},
                  TRADE(2, B, 100, 5, 2, 1, 0), REST(2, B, 100, 2, 2),
                  CXL(2, B, 100, 2, 0, 0, 0, LOB_CXL_REQUESTED));
    EXPECT(lob_apply(b, ops, 0, &applied) == 0 && applied == 0);
    /* lob_apply_copy: same result, the first out_cap events copied */
    lob_event out[2];
    memset(out, 0xAB, sizeof out);
    lob_op two[3] = {mk(LOB_OP_LIMIT, 3, S, 100, 1, 0), mk(LOB_OP_LIMIT, 4, B, 100, 1, 0),
                     mk(LOB_OP_CANCEL, 99, 0, 0, 0, 0)};
    EXPECT(lob_apply_copy(b, two, 3, &applied, out, 1) == 3 && applied == 3);
    EXPECT(same(&out[0], (want_t)REST(3, S, 100, 1, 1)) && out[1].id == (int64_t)0xABABABABABABABABull);
    EXPECT(same(&lob_events(b)[1], (want_t)TRADE(4, B, 100, 1, 0, 3, 0)));
    /* the event buffer grows for a sweep of many makers in one op */
    lob_book *big = lob_new(5000);
    for (int i = 0; i < 5000; i++) limit(big, 1 + i, S, 100 + i % 7, 1, LOB_DAY);
    n = one(big, mk(LOB_OP_MARKET, 9999, B, 0, 6000, LOB_DAY));
    EXPECT(n == 5001 && lob_events(big)[5000].type == LOB_EV_CANCEL);
    EXPECT(lob_order_count(big) == 0);
    EXPECT_OK(big);
    lob_free(big);
    lob_free(b);
}

/* ---------------------------------------------------------------- random stress */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static lob_op random_op(void) {
    static const int64_t odd_prices[] = {0, -1, LOB_MAX_PRICE + 1};
    static const int64_t odd_qtys[] = {0, -1, LOB_MAX_QTY + 1};
    /* weights per op type, new orders most common so the book fills up */
    static const int weights[] = {0, 30, 5, 14, 12, 8, 12, 8, 11};
    uint64_t r = rnd();
    int type = 1, pick = (int)(r % 100);
    while (pick >= weights[type]) pick -= weights[type++];
    if ((r >> 7) % 41 == 0) type = (int)(r >> 50) % 12; /* sometimes not a valid type */
    int side = (r >> 8) & 1;
    if ((r >> 9) % 61 == 0) side = 2;
    int tif = (r >> 16) % 4 == 0 ? (int)((r >> 18) % 3) : LOB_DAY;
    if ((r >> 20) % 67 == 0) tif = 3;
    int64_t id = 1 + (int64_t)((r >> 24) % 300);
    if ((r >> 33) % 29 == 0) id = (r >> 33) % 2 ? 0 : -id;
    /* bids 90..102, asks 98..110: the overlap makes orders cross; the rest queue up */
    int64_t price = (side == LOB_SELL ? 98 : 90) + (int64_t)((r >> 34) % 13);
    if ((r >> 40) % 71 == 0) price = odd_prices[(r >> 45) % 3];
    int64_t qty = 1 + (int64_t)((r >> 48) % 12);
    if ((r >> 56) % 73 == 0) qty = odd_qtys[(r >> 58) % 3];
    if (type == LOB_OP_CANCEL && (r >> 60) % 2) qty = 0;
    return mk(type, id, side, price, qty, tif);
}

static int crossed(const lob_book *b) {
    int64_t q[4];
    lob_bbo(b, q);
    return q[1] > 0 && q[3] > 0 && q[0] >= q[2];
}

static void test_random_stress(void) {
    enum { CAP = 40, OPS = 200000 };
    lob_book *b = lob_new(CAP);
    book_model m;
    memset(&m, 0, sizeof m);
    long counts[6] = {0}, reject_codes[16] = {0};
    size_t most_orders = 0;
    uint8_t fed[301] = {0}; /* ids 1..300 as they rest now: 1 if ADD rested them */
    for (long i = 0; i < OPS && failures == 0; i++) {
        lob_op op = random_op();
        int was_crossed = crossed(b);
        int known = op.id >= 1 && op.id <= 300;
        /* a feed order re-entering by REPLACE rests as ADD does, crossing or not */
        int feed_move = op.type == LOB_OP_REPLACE && known && fed[op.id];
        size_t applied;
        int64_t n = lob_apply(b, &op, 1, &applied);
        if (n < 1) {
            printf("op %ld: lob_apply returned %lld\n", i, (long long)n);
            failures++;
            break;
        }
        const lob_event *ev = lob_events(b);
        for (int64_t k = 0; k < n; k++) {
            counts[ev[k].type < 6 ? ev[k].type : 0]++;
            if (ev[k].type == LOB_EV_REJECT) reject_codes[-ev[k].code % 16]++;
            if (ev[k].type == LOB_EV_REST && known && ev[k].id == op.id)
                fed[op.id] = op.type == LOB_OP_ADD || (op.type == LOB_OP_REPLACE && fed[op.id]);
        }
        if (lob_order_count(b) > most_orders) most_orders = lob_order_count(b);
        int bad = model_apply(&m, ev, (size_t)n);
        if (!bad) bad = lob_check_invariants(b) ? -lob_check_invariants(b) : 0;
        if (!bad && i % 16 == 0) bad = model_compare(&m, b);
        if (bad) {
            printf("op %ld (type %d id %lld side %d price %lld qty %lld tif %d): check at %s:%d\n",
                   i, op.type, (long long)op.id, op.side, (long long)op.price, (long long)op.qty,
                   op.tif, bad < 0 ? "book.c" : "book_model.h", bad < 0 ? -bad : bad);
            failures++;
        }
        /* matching never leaves an uncrossed book crossed */
        if (!was_crossed && op.type != LOB_OP_ADD && !feed_move && crossed(b)) {
            printf("op %ld: book crossed by type %d\n", i, op.type);
            failures++;
        }
        if (i % 5000 == 4999) {
            /* trim and occasionally restart, so deep books and empty books both happen */
            int side = (int)(rnd() & 1);
            size_t keep = (size_t)(rnd() % 4);
            lob_truncate(b, side, keep);
            model_truncate(&m, side, keep);
            if (i % 40000 == 39999) {
                lob_clear(b);
                model_clear(&m);
            }
        }
        /* crossed books (from feed ADDs) are valid, but keep them short-lived so the check
         * above keeps applying */
        if (crossed(b) && rnd() % 8 == 0) {
            lob_truncate(b, LOB_SELL, 0);
            model_truncate(&m, LOB_SELL, 0);
        }
    }
    if (!failures && model_compare(&m, b)) {
        printf("final compare failed at book_model.h:%d\n", model_compare(&m, b));
        failures++;
    }
    /* every kind of event must have happened, or the stress tests less than it claims */
    for (int t = LOB_EV_TRADE; t <= LOB_EV_REJECT; t++)
        if (counts[t] == 0) {
            printf("stress never produced event type %d\n", t);
            failures++;
        }
    /* ... and every reject the generator aims for, including a full pool */
    for (int c = 1; c <= 7; c++)
        if (reject_codes[c] == 0) {
            printf("stress never produced reject code %d\n", -c);
            failures++;
        }
    if (most_orders != CAP) {
        printf("stress never filled the pool (at most %zu orders)\n", most_orders);
        failures++;
    }
    printf("stress: %d ops, events: %ld trades %ld rests %ld cancels %ld replaces %ld rejects\n",
           OPS, counts[1], counts[2], counts[3], counts[4], counts[5]);
    model_free(&m);
    lob_free(b);
}

int main(void) {
    test_rest_bbo_depth();
    test_price_time_priority();
    test_tif_and_market();
    test_cancel_and_replace();
    test_feed_ops();
    test_validation();
    test_capacity();
    test_overflow();
    test_truncate_clear();
    test_clear_feed();
    test_batch();
    test_random_stress();
    if (failures) {
        printf("test_book: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_book: all passed\n");
    return 0;
}
