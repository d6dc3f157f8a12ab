/* Unit tests for md_apply's client fills and top-of-book rows (csrc/mdfeed.h); run under
 * ASan/UBSan by tests/test_c_sanitized.py. Messages are built as md_msg/md_entry records
 * directly (the decoder has its own tests in test_mdfeed.c); client orders enter the book as
 * DAY limit orders with ids from 2^62, as the venue's do. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mdfeed.h"

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CLIENT(k) (((int64_t)1 << 62) + (k))

static md_msg ms[32];
static md_entry es[128];
static size_t nm, ne;
static md_fill fills[32];
static int64_t tops[32 * MD_TOP_FIELDS];

static void begin(void) { nm = ne = 0; }

static void msg(uint8_t kind, int64_t time_ns) {
    md_msg m = {.time_ns = time_ns, .first_entry = (uint32_t)ne, .kind = kind,
                .sym = kind == MD_MSG_SNAPSHOT ? 0 : MD_NO_SYMBOL};
    ms[nm++] = m;
}

static void entry(uint8_t kind, uint8_t op_type, int64_t id, int side, int64_t price, int64_t qty) {
    md_entry e = {.op = {.id = id, .price = price, .qty = qty, .type = op_type, .side = (uint8_t)side},
                  .time_ns = ms[nm - 1].time_ns, .msg = (uint32_t)(nm - 1), .sym = 0, .kind = kind};
    es[ne++] = e;
    ms[nm - 1].entry_count++;
}

static void add(int64_t id, int side, int64_t price, int64_t qty) {
    entry(MD_ENTRY_BOOK, LOB_OP_ADD, id, side, price, qty);
}
static void change(int64_t id, int64_t price, int64_t qty) {
    entry(MD_ENTRY_BOOK, LOB_OP_REPLACE, id, LOB_BUY, price, qty);
}
static void trade(int64_t order_id, int64_t price, int64_t qty) {
    entry(MD_ENTRY_TRADE, 0, order_id, LOB_BUY, price, qty);
}

/* A client DAY limit order straight into the book (it must not cross). */
static void client(lob_book *b, int64_t id, int side, int64_t price, int64_t qty) {
    lob_op op = {.id = id, .side = (uint8_t)side, .price = price, .qty = qty, .type = LOB_OP_LIMIT};
    size_t applied;
    CHECK(lob_apply(b, &op, 1, &applied) == 1 && lob_events(b)[0].type == LOB_EV_REST);
}

static int64_t leaves(const lob_book *b, int64_t id) {
    lob_order_info o;
    return lob_order(b, id, &o) == CORE_OK ? o.qty : 0;
}

static int64_t ahead(const lob_book *b, int64_t id) {
    int64_t q, n;
    return lob_queue_position(b, id, &q, &n) == CORE_OK ? n : -1;
}

static md_apply_ctl with_clients(const int64_t *ids, size_t n) {
    md_apply_ctl c = {.sym = 0, .clients = ids, .client_count = n, .fills = fills, .fills_cap = 32};
    return c;
}

/* Apply this step's messages; each test step checks md_apply went to the end. */
static int64_t run(lob_book *b, md_apply_ctl *c) { return md_apply(b, ms, 0, nm, es, c); }

static void check_fill(const md_fill *f, int64_t id, int64_t price, int64_t qty, int64_t left,
                       int64_t time_ns, int64_t trade_id, uint32_t entry_index, int hidden) {
    CHECK(f->order_id == id && f->price == price && f->qty == qty && f->leaves == left);
    CHECK(f->time_ns == time_ns && f->trade_order_id == trade_id && f->entry == entry_index);
    CHECK(f->hidden == hidden);
}

static void test_same_price_queue(void) {
    lob_book *b = lob_new(64);
    int64_t ids[] = {CLIENT(1)};
    md_apply_ctl c = with_clients(ids, 1);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50); /* A */
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(1), LOB_BUY, 100, 10); /* behind A */
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    add(2, LOB_BUY, 100, 30); /* B, behind the client */
    CHECK(run(b, &c) == 1 && c.fills_written == 0);

    /* A trade on A: the client is behind A, nothing for it. */
    begin();
    msg(MD_MSG_INCREMENTAL, 3);
    trade(1, 100, 20);
    change(1, 100, 30);
    CHECK(run(b, &c) == 1 && c.fills_written == 0 && c.ops == 1);
    CHECK(leaves(b, CLIENT(1)) == 10 && leaves(b, 1) == 30);

    /* A trade on B: the client is ahead of B, so it fills first (partly). */
    begin();
    msg(MD_MSG_INCREMENTAL, 4);
    trade(2, 100, 4);
    change(2, 100, 26);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(1), 100, 4, 6, 4, 2, 0, 0);
    CHECK(fills[0].side == LOB_BUY && fills[0].trade_price == 100);
    /* The replayed orders are as recorded; the client kept its place between A and B. */
    CHECK(leaves(b, CLIENT(1)) == 6 && leaves(b, 2) == 26 && leaves(b, 1) == 30);
    CHECK(ahead(b, CLIENT(1)) == 1 && ahead(b, 2) == 2);

    /* More than its leaves: it fills to zero and leaves the book. */
    begin();
    msg(MD_MSG_INCREMENTAL, 5);
    trade(2, 100, 20);
    change(2, 100, 6);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(1), 100, 6, 0, 5, 2, 0, 0);
    lob_order_info o;
    CHECK(lob_order(b, CLIENT(1), &o) == CORE_ERR_UNKNOWN_ID);
    CHECK(lob_order_count(b) == 2 && lob_check_invariants(b) == 0);
    int64_t bbo[4];
    lob_bbo(b, bbo);
    CHECK(bbo[0] == 100 && bbo[1] == 36);

    /* Gone from the book: a client id that does not rest is skipped. */
    begin();
    msg(MD_MSG_INCREMENTAL, 6);
    trade(2, 100, 1);
    CHECK(run(b, &c) == 1 && c.fills_written == 0);
    lob_free(b);
}

static void test_better_price_fills_on_a_worse_trade(void) {
    lob_book *b = lob_new(64);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    add(3, LOB_SELL, 103, 50);
    md_apply_ctl c = with_clients(NULL, 0);
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(2), LOB_BUY, 101, 10);  /* better than the bid A */
    client(b, CLIENT(3), LOB_SELL, 105, 10); /* the other side: never */
    client(b, CLIENT(4), LOB_SELL, 102, 5);  /* better than the offer S */
    int64_t ids[] = {CLIENT(2), CLIENT(3), CLIENT(4), CLIENT(99)}; /* 99 never rested */
    c = with_clients(ids, 4);
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    trade(1, 100, 25); /* a sell hit A at 100: it went through the client's 101 first */
    change(1, 100, 25);
    msg(MD_MSG_INCREMENTAL, 3);
    trade(3, 103, 3); /* a buy lifted S at 103: through the client's 102 */
    change(3, 103, 47);
    CHECK(run(b, &c) == 2 && c.fills_written == 2);
    check_fill(&fills[0], CLIENT(2), 101, 10, 0, 2, 1, 0, 0);
    check_fill(&fills[1], CLIENT(4), 102, 3, 2, 3, 3, 2, 0);
    CHECK(fills[1].side == LOB_SELL && fills[1].trade_price == 103);
    CHECK(leaves(b, CLIENT(2)) == 0 && leaves(b, CLIENT(3)) == 10 && leaves(b, CLIENT(4)) == 2);
    CHECK(leaves(b, 1) == 25 && leaves(b, 3) == 47);
    /* More than the sell's leaves: it takes what it has and leaves the book. */
    begin();
    msg(MD_MSG_INCREMENTAL, 4);
    trade(3, 103, 10);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(4), 102, 2, 0, 4, 3, 0, 0);
    CHECK(leaves(b, CLIENT(4)) == 0 && leaves(b, CLIENT(3)) == 10);
    CHECK(lob_check_invariants(b) == 0);
    lob_free(b);
}

static void test_hidden_and_unknown_trades(void) {
    lob_book *b = lob_new(64);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    add(3, LOB_SELL, 105, 50);
    md_apply_ctl c = with_clients(NULL, 0);
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(5), LOB_BUY, 101, 5);
    client(b, CLIENT(6), LOB_BUY, 100, 5); /* behind A, but hidden liquidity comes after it */
    client(b, CLIENT(7), LOB_BUY, 99, 5);  /* below the print */
    client(b, CLIENT(8), LOB_SELL, 104, 5);
    client(b, CLIENT(9), LOB_SELL, 103, 5);
    int64_t ids[] = {CLIENT(7), CLIENT(6), CLIENT(5), CLIENT(8), CLIENT(9)};
    c = with_clients(ids, 5);
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    trade(0, 100, 100); /* no OrderID: buys at and above 100, best price first */
    msg(MD_MSG_INCREMENTAL, 3);
    trade(999, 104, 7); /* an OrderID the book does not hold: sells below 104, at 104 if first */
    CHECK(run(b, &c) == 2 && c.fills_written == 4 && c.ops == 0);
    check_fill(&fills[0], CLIENT(5), 101, 5, 0, 2, 0, 0, 1);
    check_fill(&fills[1], CLIENT(6), 100, 5, 0, 2, 0, 0, 1);
    check_fill(&fills[2], CLIENT(9), 103, 5, 0, 3, 999, 1, 1);
    check_fill(&fills[3], CLIENT(8), 104, 2, 3, 3, 999, 1, 1);
    CHECK(leaves(b, CLIENT(7)) == 5 && leaves(b, 1) == 50 && leaves(b, 3) == 50);

    /* A trade after the entry that deletes its order: X is gone, so as an unknown OrderID. */
    begin();
    msg(MD_MSG_INCREMENTAL, 4);
    entry(MD_ENTRY_BOOK, LOB_OP_CANCEL, 3, LOB_SELL, 105, 0);
    trade(3, 105, 1);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(8), 104, 1, 2, 4, 3, 1, 1);
    CHECK(lob_check_invariants(b) == 0);
    lob_free(b);
}

/* An OrderID the book does not hold (an order resting before the data starts, inside the
 * level's anonymous quantity at the front of the queue): at the print's price only a client
 * with nothing ahead of it fills; clients priced through the print fill as before. */
static void test_unknown_order_at_the_print_price(void) {
    lob_book *b = lob_new(64);
    begin();
    msg(MD_MSG_SNAPSHOT, 1);
    add(MD_LEVEL_ID(LOB_BUY, 100), LOB_BUY, 100, 50);   /* unattributed: the queue front */
    add(MD_LEVEL_ID(LOB_SELL, 105), LOB_SELL, 105, 50);
    msg(MD_MSG_INCREMENTAL, 2);
    add(1, LOB_BUY, 98, 10); /* a replayed order, ahead of the client at 98 */
    md_apply_ctl c = with_clients(NULL, 0);
    CHECK(run(b, &c) == 2);
    client(b, CLIENT(1), LOB_BUY, 100, 5);  /* behind the level's quantity */
    client(b, CLIENT(2), LOB_BUY, 101, 5);  /* through 100 */
    client(b, CLIENT(3), LOB_SELL, 105, 5); /* behind the level's quantity */
    client(b, CLIENT(4), LOB_SELL, 104, 5); /* through 105 */
    client(b, CLIENT(5), LOB_BUY, 99, 5);   /* a level of clients only: first */
    client(b, CLIENT(6), LOB_BUY, 99, 5);   /* and second */
    client(b, CLIENT(7), LOB_BUY, 98, 5);   /* behind order 1 */
    int64_t ids[] = {CLIENT(1), CLIENT(2), CLIENT(3), CLIENT(4), CLIENT(5), CLIENT(6), CLIENT(7)};
    c = with_clients(ids, 7);

    begin();
    msg(MD_MSG_INCREMENTAL, 3);
    trade(777, 100, 20); /* buys through 100 fill; the client at 100 is behind the level */
    change(MD_LEVEL_ID(LOB_BUY, 100), 100, 30);
    msg(MD_MSG_INCREMENTAL, 4);
    trade(778, 105, 20); /* the same for sells */
    change(MD_LEVEL_ID(LOB_SELL, 105), 105, 30);
    CHECK(run(b, &c) == 2 && c.fills_written == 2);
    check_fill(&fills[0], CLIENT(2), 101, 5, 0, 3, 777, 0, 1);
    check_fill(&fills[1], CLIENT(4), 104, 5, 0, 4, 778, 2, 1);
    CHECK(leaves(b, CLIENT(1)) == 5 && leaves(b, CLIENT(3)) == 5);

    /* A print with no OrderID at the same price: the hidden rule still fills the client. */
    begin();
    msg(MD_MSG_INCREMENTAL, 5);
    trade(0, 100, 2);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(1), 100, 2, 3, 5, 0, 0, 1);

    /* The level's own quantity gone (the entry before the print takes it): now at the front. */
    begin();
    msg(MD_MSG_INCREMENTAL, 6);
    entry(MD_ENTRY_BOOK, LOB_OP_CANCEL, MD_LEVEL_ID(LOB_BUY, 100), LOB_BUY, 100, 0);
    trade(779, 100, 5);
    CHECK(run(b, &c) == 1 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(1), 100, 3, 0, 6, 779, 1, 1);

    /* Nothing ahead: the first client fills, then the second once the first is gone; behind
     * a replayed order, nothing. */
    begin();
    msg(MD_MSG_INCREMENTAL, 7);
    trade(780, 99, 12);
    trade(781, 98, 4);
    CHECK(run(b, &c) == 1 && c.fills_written == 2);
    check_fill(&fills[0], CLIENT(5), 99, 5, 0, 7, 780, 0, 1);
    check_fill(&fills[1], CLIENT(6), 99, 5, 0, 7, 780, 0, 1);
    CHECK(leaves(b, CLIENT(7)) == 5 && leaves(b, 1) == 10 && leaves(b, CLIENT(3)) == 5);
    CHECK(lob_check_invariants(b) == 0);
    lob_free(b);
}

static void test_priority_within_a_level(void) {
    lob_book *b = lob_new(64);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    md_apply_ctl c = with_clients(NULL, 0);
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(10), LOB_BUY, 100, 5);
    client(b, CLIENT(11), LOB_BUY, 100, 5);
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    add(2, LOB_BUY, 100, 50); /* B behind both clients */
    CHECK(run(b, &c) == 1);
    /* Listed out of queue order: the queue decides, not the list. */
    int64_t ids[] = {CLIENT(11), CLIENT(10), CLIENT(11)}; /* and a repeat is harmless */
    c = with_clients(ids, 3);
    begin();
    msg(MD_MSG_INCREMENTAL, 3);
    trade(2, 100, 7);
    trade(2, 100, 7);
    CHECK(run(b, &c) == 1 && c.fills_written == 3);
    check_fill(&fills[0], CLIENT(10), 100, 5, 0, 3, 2, 0, 0);
    check_fill(&fills[1], CLIENT(11), 100, 2, 3, 3, 2, 0, 0);
    check_fill(&fills[2], CLIENT(11), 100, 3, 0, 3, 2, 1, 0);
    CHECK(lob_order_count(b) == 2 && leaves(b, 2) == 50 && lob_check_invariants(b) == 0);
    lob_free(b);
}

static void test_room_and_feature_off(void) {
    lob_book *b = lob_new(64);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    md_apply_ctl c = with_clients(NULL, 0);
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(1), LOB_BUY, 101, 5);
    client(b, CLIENT(2), LOB_BUY, 101, 5);
    int64_t ids[] = {CLIENT(1), CLIENT(2)};

    /* Off: trades change nothing (clients NULL, or no clients). */
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    change(1, 100, 49);
    msg(MD_MSG_INCREMENTAL, 3);
    trade(1, 100, 3);
    change(1, 100, 47);
    CHECK(run(b, &c) == 2 && c.fills_written == 0 && c.ops == 2);
    c = with_clients(ids, 0);
    CHECK(run(b, &c) == 2 && c.fills_written == 0 && leaves(b, CLIENT(1)) == 5);

    /* Room for fewer fills than the message could write: stop before it, nothing applied. */
    c = with_clients(ids, 2);
    c.fills_cap = 1; /* message 1 could fill both clients */
    CHECK(run(b, &c) == 1 && c.fills_written == 0 && c.ops == 1);
    CHECK(leaves(b, CLIENT(1)) == 5 && leaves(b, 1) == 49);
    c.fills_cap = 2;
    CHECK(md_apply(b, ms, 1, 2, es, &c) == 2 && c.fills_written == 1);
    check_fill(&fills[0], CLIENT(1), 101, 3, 2, 3, 1, 1, 0);

    /* The tops array full: stop before the first message of the symbol. */
    md_apply_ctl t = {.sym = 0, .tops = tops, .tops_cap = 0};
    CHECK(run(b, &t) == 0 && t.ops == 0 && t.tops_written == 0);
    lob_free(b);
}

static void test_tops_on_change_only(void) {
    lob_book *b = lob_new(64);
    md_apply_ctl c = {.sym = 0, .tops = tops, .tops_cap = 32};
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);      /* row */
    msg(MD_MSG_INCREMENTAL, 2);
    add(2, LOB_BUY, 99, 10);       /* below the top: no row */
    msg(MD_MSG_INCREMENTAL, 3);
    add(3, LOB_SELL, 101, 5);      /* row */
    msg(MD_MSG_INCREMENTAL, 4);
    trade(3, 101, 1);              /* a trade alone changes no book: no row */
    msg(MD_MSG_INCREMENTAL, 5);
    change(2, 99, 5);              /* no row */
    msg(MD_MSG_INCREMENTAL, 6);
    change(1, 100, 40);            /* row */
    msg(MD_MSG_SNAPSHOT, 7);       /* a snapshot replaces the book: row */
    add(MD_LEVEL_ID(LOB_BUY, 100), LOB_BUY, 100, 40);
    CHECK(run(b, &c) == 7 && c.tops_written == 4);
    int64_t want[] = {1, 100, 50, 0, 0, 3, 100, 50, 101, 5, 6, 100, 40, 101, 5, 7, 100, 40, 0, 0};
    CHECK(memcmp(tops, want, sizeof want) == 0);
    /* A new call starts afresh: its first change writes a row even if equal to the last. */
    begin();
    msg(MD_MSG_INCREMENTAL, 8);
    add(4, LOB_BUY, 98, 1);
    CHECK(run(b, &c) == 1 && c.tops_written == 1 && tops[0] == 8 && tops[2] == 40);

    /* A client fill by a trade alone changes the top: a row. */
    client(b, CLIENT(1), LOB_SELL, 102, 5);
    int64_t ids[] = {CLIENT(1)};
    md_apply_ctl f = with_clients(ids, 1);
    f.tops = tops;
    f.tops_cap = 32;
    begin();
    msg(MD_MSG_INCREMENTAL, 9);
    trade(0, 102, 2);
    msg(MD_MSG_INCREMENTAL, 10);
    trade(0, 103, 0); /* size 0: nothing */
    CHECK(run(b, &f) == 2 && f.fills_written == 1 && f.tops_written == 1);
    int64_t want2[] = {9, 100, 40, 102, 3};
    CHECK(memcmp(tops, want2, sizeof want2) == 0);
    lob_free(b);
}

static void del(int64_t id, int side, int64_t price, int64_t qty) {
    entry(MD_ENTRY_BOOK, LOB_OP_DELETE, id, side, price, qty);
}

/* With stop_on_fill, the call ends after the message that left a client crossed. */
static void test_stop_at_a_crossed_client(void) {
    lob_book *b = lob_new(64);
    int64_t ids[] = {CLIENT(1), CLIENT(2)};
    md_apply_ctl c = with_clients(ids, 2);
    c.stop_on_fill = 1;
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    add(2, LOB_SELL, 110, 50);
    CHECK(run(b, &c) == 1 && !c.crossed);
    client(b, CLIENT(1), LOB_BUY, 105, 10);
    client(b, CLIENT(2), LOB_SELL, 108, 10);
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    add(3, LOB_BUY, 104, 5); /* below our sell: nothing crossed */
    msg(MD_MSG_INCREMENTAL, 3);
    add(4, LOB_BUY, 108, 5); /* at our sell */
    msg(MD_MSG_INCREMENTAL, 4);
    add(5, LOB_BUY, 99, 5);
    CHECK(run(b, &c) == 2 && c.crossed == 1 && c.fills_written == 0);
    CHECK(leaves(b, 4) == 5 && leaves(b, CLIENT(2)) == 10); /* added, not traded */
    /* a sell at our buy's price crosses it too */
    lob_op gone = {.id = 4, .type = LOB_OP_CANCEL};
    size_t applied;
    CHECK(lob_apply(b, &gone, 1, &applied) == 1);
    begin();
    msg(MD_MSG_INCREMENTAL, 5);
    add(6, LOB_SELL, 105, 5);
    CHECK(run(b, &c) == 1 && c.crossed == 1);
    /* off without stop_on_fill */
    c.stop_on_fill = 0;
    begin();
    msg(MD_MSG_INCREMENTAL, 6);
    add(7, LOB_BUY, 98, 5);
    CHECK(run(b, &c) == 1 && c.crossed == 0);
    lob_free(b);
}

/* Entries naming a gone order: book ops (not ADD) skipped, trades fill no client. */
static void test_gone_orders_are_skipped(void) {
    lob_book *b = lob_new(64);
    int64_t ids[] = {CLIENT(1)};
    md_apply_ctl c = with_clients(ids, 1);
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(8, LOB_SELL, 110, 40);
    CHECK(run(b, &c) == 1);
    client(b, CLIENT(1), LOB_SELL, 109, 5); /* better than 110: a print through it fills it */
    int64_t gone[] = {3, 9, 12};
    c.gone = gone;
    c.gone_count = 3;
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    trade(9, 110, 20); /* 9 is gone: no fill */
    del(9, LOB_SELL, 110, 20); /* no level fallback: 8 keeps its 40 */
    change(12, 110, 1);
    msg(MD_MSG_INCREMENTAL, 3);
    add(3, LOB_SELL, 111, 7); /* an ADD is applied even for a gone id */
    CHECK(run(b, &c) == 2 && c.fills_written == 0 && c.skipped == 2 && c.ops == 1);
    CHECK(leaves(b, 8) == 40 && leaves(b, CLIENT(1)) == 5 && leaves(b, 3) == 7);
    /* back in the book (a snapshot, or a reused id), a gone id's entries apply again */
    begin();
    msg(MD_MSG_INCREMENTAL, 3);
    del(3, LOB_SELL, 111, 7);
    CHECK(run(b, &c) == 1 && c.skipped == 0 && leaves(b, 3) == 0);
    /* the same trade for an id not gone fills our better offer */
    begin();
    msg(MD_MSG_INCREMENTAL, 4);
    trade(10, 110, 2);
    CHECK(run(b, &c) == 1 && c.fills_written == 1 && c.skipped == 0);
    CHECK(leaves(b, CLIENT(1)) == 3);
    lob_free(b);
}

/* Print owners: an OrderID the book does not hold prints the level quantity of its price;
 * a level taken whole (gone) fills no client with its orders' prints. */
static void test_print_owners(void) {
    lob_book *b = lob_new(64);
    int64_t level = MD_LEVEL_ID(LOB_SELL, 110);
    int64_t ids[] = {CLIENT(1)};
    md_apply_ctl c = with_clients(ids, 1);
    int64_t owners[8];
    c.trade_ids = owners;
    c.trade_ids_cap = 8;
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(level, LOB_SELL, 110, 50);
    add(8, LOB_SELL, 110, 40);
    trade(7, 110, 10);  /* not held: of the level */
    trade(8, 110, 5);   /* held: its own */
    trade(0, 110, 1);   /* hidden: none */
    trade(99, 120, 1);  /* not held, no level there: itself */
    CHECK(run(b, &c) == 1 && c.trade_ids_written == 4 && c.fills_written == 0);
    CHECK(owners[0] == level && owners[1] == 8 && owners[2] == 0 && owners[3] == 99);
    /* a client took the level whole, then 8 left: the client offer rests first at 110 */
    lob_op take[] = {{.id = level, .type = LOB_OP_CANCEL}, {.id = 8, .type = LOB_OP_CANCEL}};
    size_t applied;
    CHECK(lob_apply(b, take, 2, &applied) == 2);
    client(b, CLIENT(1), LOB_SELL, 110, 30);
    int64_t gone[] = {level};
    c.gone = gone;
    c.gone_count = 1;
    begin();
    msg(MD_MSG_INCREMENTAL, 2);
    trade(7, 110, 10); /* of the level taken: no fill, and its owner negated */
    CHECK(run(b, &c) == 1 && c.trade_ids_written == 1 && owners[0] == -level);
    CHECK(c.fills_written == 0 && leaves(b, CLIENT(1)) == 30);
    c.gone_count = 0; /* the level not taken: the same print fills the client at the front */
    CHECK(run(b, &c) == 1 && c.fills_written == 1 && leaves(b, CLIENT(1)) == 20);
    /* room: a message with more trades than trade_ids can take is not applied */
    c.trade_ids_cap = 1;
    begin();
    msg(MD_MSG_INCREMENTAL, 3);
    trade(5, 111, 1);
    msg(MD_MSG_INCREMENTAL, 4);
    trade(5, 111, 1);
    CHECK(run(b, &c) == 1 && c.trade_ids_written == 1);
    lob_free(b);
}

/* A watch on the touch ends the call at the end of the first time group that left the
 * book outside it, judged on the book as the whole group left it. */
static void test_watch_stops_at_the_end_of_a_group(void) {
    lob_book *b = lob_new(64);
    md_apply_ctl c = {.sym = 0, .watch_on = 1, .watch = {INT64_MIN, 100, INT64_MIN, INT64_MAX}};
    begin();
    msg(MD_MSG_INCREMENTAL, 1);
    add(1, LOB_BUY, 100, 50);
    add(2, LOB_SELL, 110, 50);
    msg(MD_MSG_INCREMENTAL, 2);
    add(3, LOB_BUY, 101, 5);   /* above 100 ... */
    msg(MD_MSG_INCREMENTAL, 2);
    del(3, LOB_BUY, 101, 5);   /* ... and gone again within the same time: no stop */
    msg(MD_MSG_INCREMENTAL, 3);
    add(4, LOB_SELL, 105, 5);  /* the ask is not watched */
    msg(MD_MSG_INCREMENTAL, 4);
    add(5, LOB_BUY, 101, 5);   /* above, and it stays: the call ends after the group */
    msg(MD_MSG_INCREMENTAL, 4);
    add(6, LOB_BUY, 99, 5);
    msg(MD_MSG_INCREMENTAL, 5);
    add(7, LOB_BUY, 98, 5);
    CHECK(run(b, &c) == 6 && c.touched == 1);
    /* groups of a step: times 11..20 round up to one group of 10 ns from base 0 */
    c.watch_step_ns = 10;
    c.watch[1] = 101;
    begin();
    msg(MD_MSG_INCREMENTAL, 11);
    add(8, LOB_BUY, 102, 5);
    msg(MD_MSG_INCREMENTAL, 20);
    del(8, LOB_BUY, 102, 5);
    msg(MD_MSG_INCREMENTAL, 21);
    add(9, LOB_SELL, 104, 5);
    CHECK(run(b, &c) == 3 && c.touched == 0);
    /* an empty watched side, a crossed book and an empty book leave any watch */
    md_apply_ctl w = {.sym = 0, .watch_on = 1, .watch = {INT64_MIN, INT64_MAX, 0, 200}};
    begin();
    msg(MD_MSG_INCREMENTAL, 30);
    del(2, LOB_SELL, 110, 50);
    del(4, LOB_SELL, 105, 5);
    del(9, LOB_SELL, 104, 5);
    CHECK(run(b, &w) == 1 && w.touched == 1);
    md_apply_ctl all = {.sym = 0, .watch_on = 1, .watch = {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX}};
    begin();
    msg(MD_MSG_INCREMENTAL, 31);
    add(10, LOB_SELL, 90, 5);  /* below the bid of 101: crossed */
    CHECK(run(b, &all) == 1 && all.touched == 1);
    /* a trade alone changes no book and ends nothing; off, nothing stops */
    begin();
    msg(MD_MSG_INCREMENTAL, 32);
    trade(0, 90, 1);
    CHECK(run(b, &all) == 1 && all.touched == 0);
    /* a base far from the times: t - base overflows int64, and each time is its own group */
    all.watch_base_ns = INT64_MIN + 5;
    all.watch_step_ns = 1000;
    begin();
    msg(MD_MSG_INCREMENTAL, INT64_MAX - 2002);
    add(20, LOB_BUY, 50, 1);
    msg(MD_MSG_INCREMENTAL, INT64_MAX - 2);
    add(21, LOB_BUY, 49, 1);
    CHECK(run(b, &all) == 1 && all.touched == 1); /* still crossed: a stop after the first */
    all.watch_on = 0;
    begin();
    msg(MD_MSG_INCREMENTAL, 33);
    add(11, LOB_SELL, 89, 5);
    msg(MD_MSG_INCREMENTAL, 34);
    add(12, LOB_SELL, 88, 5);
    CHECK(run(b, &all) == 2 && all.touched == 0);
    lob_free(b);
}

int main(void) {
    test_watch_stops_at_the_end_of_a_group();
    test_stop_at_a_crossed_client();
    test_gone_orders_are_skipped();
    test_print_owners();
    test_same_price_queue();
    test_better_price_fills_on_a_worse_trade();
    test_hidden_and_unknown_trades();
    test_unknown_order_at_the_print_price();
    test_priority_within_a_level();
    test_room_and_feature_off();
    test_tops_on_change_only();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_mdfeed_fills: ok\n");
    return 0;
}
