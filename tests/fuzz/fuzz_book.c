/* libFuzzer harness for the order book (csrc/book.c).
 *
 * The input is a stream of operations for a book of 1..32 orders (first byte):
 *   tag 0x00-0x7F  compact op, 4 bytes with the tag: 16 ids and small price ranges so orders
 *                  collide, cross, queue up and name unknown ids often; bit 6 of the tag
 *                  swaps one field for an edge value (0, -1, the limits, just above them);
 *   tag 0x80-0xBF  raw lob_op: the next 32 bytes as they are (any id, price, qty, byte);
 *   tag 0xC0-0xEF  flush: apply the ops gathered so far as one batch;
 *   tag 0xF0-0xFD  truncate side (tag & 1) to ((tag >> 1) & 3) levels;
 *   tag 0xFE/0xFF  clear.
 * Ops are gathered into batches of up to 64 so multi-op lob_apply calls are fuzzed too.
 * After every batch the book must pass lob_check_invariants, agree with a shadow rebuilt from
 * its own events (tests/c/book_model.h) on every public query, emit at least one event per
 * op, and not have been crossed by the batch unless it held a feed ADD or a REPLACE (a feed
 * order re-enters without matching; which orders are the feed's the harness does not track,
 * tests/c/test_book.c's stress and the reference-book property tests do).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../c/book_model.h"
#include "book.h"

#define BATCH_MAX 64

typedef struct {
    lob_book *book;
    book_model model;
    lob_op ops[BATCH_MAX];
    size_t n;
    unsigned batches;
} state;

static void fail(const char *what, int line) {
    fprintf(stderr, "fuzz_book: %s (check at line %d)\n", what, line);
    abort();
}

static int crossed(const lob_book *b) {
    int64_t q[4];
    lob_bbo(b, q);
    return q[1] > 0 && q[3] > 0 && q[0] >= q[2];
}

static void flush(state *s) {
    if (s->n == 0) return;
    int was_crossed = crossed(s->book), has_add = 0;
    for (size_t i = 0; i < s->n; i++)
        has_add |= s->ops[i].type == LOB_OP_ADD || s->ops[i].type == LOB_OP_REPLACE;
    size_t applied = 0;
    lob_event copy[4];
    size_t ncopy = s->n % 5; /* every other path: lob_apply_copy into 0..4 slots */
    int64_t n = s->batches++ % 2 ? lob_apply(s->book, s->ops, s->n, &applied)
                                 : lob_apply_copy(s->book, s->ops, s->n, &applied, copy, ncopy);
    if (s->batches % 2 == 1 && n > 0)
        if (memcmp(copy, lob_events(s->book), ((size_t)n < ncopy ? (size_t)n : ncopy) * sizeof *copy))
            fail("lob_apply_copy copied other events", __LINE__);
    if (n < (int64_t)s->n || applied != s->n) fail("lob_apply: fewer events than ops", __LINE__);
    if ((size_t)n != lob_event_count(s->book)) fail("lob_event_count disagrees", __LINE__);
    int bad = model_apply(&s->model, lob_events(s->book), (size_t)n);
    if (bad) fail("events inconsistent with the shadow book", bad);
    bad = lob_check_invariants(s->book);
    if (bad) fail("lob_check_invariants (line in book.c)", bad);
    bad = model_compare(&s->model, s->book);
    if (bad) fail("queries disagree with the shadow book", bad);
    if (!was_crossed && !has_add && crossed(s->book)) fail("matching crossed the book", __LINE__);
    s->n = 0;
}

static int64_t edge(unsigned k) {
    static const int64_t values[] = {0, -1, 1, LOB_MAX_PRICE, LOB_MAX_PRICE + 1, INT64_MIN,
                                     INT64_MAX, 2};
    return values[k & 7];
}

/* Ids 8..15 of the compact encoding: large ids whose home slot in the id hash equals that of
 * ids 1..8 in every table of up to 64 slots (books of up to 32 orders), so probe runs form
 * and deletions have to shift entries back. Small ids alone would never collide. */
static const int64_t colliding_ids[8] = {0xfbb804d820, 0x9af6f22f41, 0xc027fca832, 0x674751d092,
                                         0xe5f17a002b, 0x70cadf4619, 0x8b52715ad0, 0xd6b7ba6c95};

/* 4 bytes: tag (type, tif, side, odd flag), id, price, qty. */
static lob_op compact(const uint8_t *p) {
    lob_op op;
    memset(&op, 0, sizeof op);
    uint8_t tag = p[0];
    op.type = (uint8_t)(1 + (tag & 7));
    op.tif = (uint8_t)((tag >> 3) & 3); /* 3 is invalid */
    op.side = (uint8_t)((tag >> 5) & 1);
    op.id = p[1] & 15; /* 0 is anonymous for feed ops, invalid for the others */
    if (op.id >= 8) op.id = colliding_ids[op.id - 8];
    /* bids 1..8, asks 5..12: they overlap, so orders both queue and cross */
    op.price = 1 + (p[2] % 8) + (op.side ? 4 : 0);
    op.qty = p[3] % 16; /* 0 is valid only for CANCEL */
    if (tag & 0x40) {
        switch ((p[1] >> 4) & 7) {
        case 0: op.type = (uint8_t)(p[2] & 1 ? 0 : 9 + p[3]); break;
        case 1: op.side = (uint8_t)(2 + p[3]); break;
        case 2: op.id = -(int64_t)(p[1] & 15) - 1; break;
        case 3: op.id = INT64_MAX - (p[1] & 1); break;
        case 4: op.price = edge(p[3]); break;
        case 5: op.qty = edge(p[3]); break;
        case 6: op.qty = LOB_MAX_QTY - (p[3] & 1); break;
        default: op.price = LOB_MAX_PRICE - (p[3] & 1); break;
        }
    }
    return op;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    state s;
    memset(&s, 0, sizeof s);
    s.book = lob_new(1 + data[0] % 32);
    if (!s.book) abort();
    size_t at = 1;
    while (at < size) {
        uint8_t tag = data[at];
        if (tag < 0x80) {
            if (size - at < 4) break;
            s.ops[s.n++] = compact(data + at);
            at += 4;
        } else if (tag < 0xC0) {
            if (size - at < 1 + sizeof(lob_op)) break;
            memcpy(&s.ops[s.n++], data + at + 1, sizeof(lob_op));
            at += 1 + sizeof(lob_op);
        } else if (tag < 0xF0) {
            flush(&s);
            at++;
        } else if (tag < 0xFE) {
            flush(&s);
            int side = tag & 1;
            size_t keep = (size_t)((tag >> 1) & 3);
            size_t before = lob_level_count(s.book, side);
            size_t gone = lob_truncate(s.book, side, keep);
            if (gone != (before > keep ? before - keep : 0)) fail("lob_truncate count", __LINE__);
            model_truncate(&s.model, side, keep);
            at++;
        } else {
            flush(&s);
            lob_clear(s.book);
            model_clear(&s.model);
            if (lob_order_count(s.book) || lob_level_count(s.book, 0) || lob_level_count(s.book, 1))
                fail("lob_clear left something", __LINE__);
            at++;
        }
        if (s.n == BATCH_MAX) flush(&s);
        /* the checks after a flush must hold after a maintenance op too */
        if (tag >= 0xF0) {
            int bad = lob_check_invariants(s.book);
            if (bad) fail("lob_check_invariants after truncate/clear (line in book.c)", bad);
            bad = model_compare(&s.model, s.book);
            if (bad) fail("queries disagree with the shadow after truncate/clear", bad);
        }
    }
    flush(&s);
    model_free(&s.model);
    lob_free(s.book);
    return 0;
}
