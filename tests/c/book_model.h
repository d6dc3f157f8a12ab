/* A shadow of the order book rebuilt only from the book's own events, for the C tests and
 * the fuzz harness (tests/c/test_book.c, tests/fuzz/fuzz_book.c).
 *
 * If the events are complete and the book is consistent, the shadow and the book's public
 * queries (depth, order, queue position, counts) agree after every op. The shadow is small
 * and linear-time on purpose: it is meant to be obviously right, for books of a few hundred
 * orders. Functions return 0 when all is well, else the source line of the failed check.
 */
#ifndef BOOK_MODEL_H
#define BOOK_MODEL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"

typedef struct {
    int64_t id, price, leaves;
    uint64_t seq; /* arrival order at its level: FIFO position */
    int side;
} model_order;

typedef struct {
    int64_t price, anon;
    int side;
} model_anon;

typedef struct {
    model_order *o;
    size_t n, cap;
    model_anon *a;
    size_t na, cap_a;
    uint64_t seq;
} book_model;

#define MODEL_CHECK(cond)             \
    do {                              \
        if (!(cond)) return __LINE__; \
    } while (0)

static void model_free(book_model *m) {
    free(m->o);
    free(m->a);
    memset(m, 0, sizeof *m);
}

static model_order *model_find(book_model *m, int64_t id) {
    for (size_t i = 0; i < m->n; i++)
        if (m->o[i].id == id) return &m->o[i];
    return NULL;
}

static void model_drop(book_model *m, model_order *o) { *o = m->o[--m->n]; }

static model_anon *model_anon_at(book_model *m, int side, int64_t price, int create) {
    for (size_t i = 0; i < m->na; i++)
        if (m->a[i].side == side && m->a[i].price == price) return &m->a[i];
    if (!create) return NULL;
    if (m->na == m->cap_a) {
        m->cap_a = m->cap_a ? 2 * m->cap_a : 16;
        m->a = realloc(m->a, m->cap_a * sizeof *m->a);
        if (!m->a) abort();
    }
    model_anon *a = &m->a[m->na++];
    a->side = side;
    a->price = price;
    a->anon = 0;
    return a;
}

/* Fold the events of one lob_apply into the shadow. */
static int model_apply(book_model *m, const lob_event *ev, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const lob_event *e = &ev[k];
        MODEL_CHECK(e->side <= LOB_SELL || e->type == LOB_EV_REJECT);
        switch (e->type) {
        case LOB_EV_REST:
            MODEL_CHECK(e->qty > 0 && e->price > 0);
            if (e->id == 0) {
                model_anon *a = model_anon_at(m, e->side, e->price, 1);
                a->anon += e->qty;
                MODEL_CHECK(a->anon == e->leaves);
            } else {
                MODEL_CHECK(model_find(m, e->id) == NULL && e->leaves == e->qty);
                if (m->n == m->cap) {
                    m->cap = m->cap ? 2 * m->cap : 64;
                    m->o = realloc(m->o, m->cap * sizeof *m->o);
                    if (!m->o) abort();
                }
                model_order *o = &m->o[m->n++];
                o->id = e->id;
                o->side = e->side;
                o->price = e->price;
                o->leaves = e->qty;
                o->seq = ++m->seq;
            }
            break;
        case LOB_EV_TRADE:
        case LOB_EV_CANCEL: {
            MODEL_CHECK(e->qty > 0);
            int by_level = e->type == LOB_EV_TRADE || e->code == LOB_CXL_LEVEL;
            if (!by_level) {
                /* requested cancels name a resting order; IOC/FOK/market name the taker */
                model_order *o = model_find(m, e->id);
                if (e->code == LOB_CXL_REQUESTED) {
                    MODEL_CHECK(o && o->leaves - e->qty == e->leaves && e->leaves >= 0);
                    MODEL_CHECK(o->side == e->side && o->price == e->price);
                    o->leaves = e->leaves;
                    if (o->leaves == 0) model_drop(m, o);
                } else {
                    MODEL_CHECK(o == NULL && e->leaves == 0);
                }
                break;
            }
            /* maker side: a trade's side is the taker's */
            int maker_side = e->type == LOB_EV_TRADE ? !e->side : e->side;
            if (e->other == 0) {
                model_anon *a = model_anon_at(m, maker_side, e->price, 0);
                MODEL_CHECK(a && a->anon - e->qty == e->other_leaves && e->other_leaves >= 0);
                a->anon = e->other_leaves;
            } else {
                model_order *o = model_find(m, e->other);
                MODEL_CHECK(o && o->leaves - e->qty == e->other_leaves && e->other_leaves >= 0);
                MODEL_CHECK(o->side == maker_side && o->price == e->price);
                o->leaves = e->other_leaves;
                if (o->leaves == 0) model_drop(m, o);
            }
            break;
        }
        case LOB_EV_REPLACE: {
            model_order *o = model_find(m, e->id);
            MODEL_CHECK(o && e->qty > 0 && e->leaves == e->qty);
            if (e->code == 1) {
                MODEL_CHECK(o->price == e->price && e->qty <= o->leaves);
                o->leaves = e->qty;
            } else {
                MODEL_CHECK(e->code == 0);
                model_drop(m, o); /* out of the queue; a REST brings any remainder back */
            }
            break;
        }
        case LOB_EV_REJECT:
            MODEL_CHECK(e->code < 0);
            break;
        default:
            MODEL_CHECK(0);
        }
    }
    return 0;
}

static int model_better(int side, int64_t a, int64_t b) { return side == LOB_BUY ? a > b : a < b; }

/* What lob_truncate(side, keep) does, done on the shadow: drop every price level of side
 * beyond the best `keep` (a level exists where an order rests or anonymous quantity is > 0). */
static void model_truncate(book_model *m, int side, size_t keep) {
    int64_t *prices = malloc((m->n + m->na + 1) * sizeof *prices);
    if (!prices) abort();
    size_t np = 0;
    for (size_t i = 0; i < m->n + m->na; i++) {
        int s = i < m->n ? m->o[i].side : m->a[i - m->n].side;
        int64_t p = i < m->n ? m->o[i].price : m->a[i - m->n].price;
        if (s != side || (i >= m->n && m->a[i - m->n].anon == 0)) continue;
        size_t k = 0;
        while (k < np && prices[k] != p) k++;
        if (k == np) prices[np++] = p;
    }
    for (size_t i = 1; i < np; i++) /* insertion sort, best first */
        for (size_t k = i; k > 0 && model_better(side, prices[k], prices[k - 1]); k--) {
            int64_t t = prices[k];
            prices[k] = prices[k - 1];
            prices[k - 1] = t;
        }
    if (np > keep) {
        for (size_t i = m->n; i-- > 0;)
            if (m->o[i].side == side && (keep == 0 || model_better(side, prices[keep - 1], m->o[i].price)))
                model_drop(m, &m->o[i]);
        for (size_t i = 0; i < m->na; i++)
            if (m->a[i].side == side && (keep == 0 || model_better(side, prices[keep - 1], m->a[i].price)))
                m->a[i].anon = 0;
    }
    free(prices);
}

static void model_clear(book_model *m) {
    m->n = 0;
    m->na = 0;
}

/* Compare the shadow with everything the book's public queries say. */
static int model_compare(book_model *m, const lob_book *b) {
    MODEL_CHECK(lob_order_count(b) == m->n);
    for (int side = 0; side < 2; side++) {
        size_t nl = lob_level_count(b, side);
        lob_level *lv = malloc((nl + 1) * sizeof *lv);
        if (!lv) abort();
        size_t got = lob_depth(b, side, lv, nl + 1);
        int64_t side_qty = 0, model_qty = 0;
        int rc = 0;
        if (got != nl) rc = __LINE__;
        for (size_t k = 0; k < got && !rc; k++) {
            if (k > 0 && (side == LOB_BUY ? lv[k].price >= lv[k - 1].price
                                          : lv[k].price <= lv[k - 1].price))
                rc = __LINE__;
            model_anon *a = model_anon_at(m, side, lv[k].price, 0);
            int64_t anon = a ? a->anon : 0, qty = anon, count = anon > 0;
            for (size_t i = 0; i < m->n; i++)
                if (m->o[i].side == side && m->o[i].price == lv[k].price) {
                    qty += m->o[i].leaves;
                    count++;
                }
            if (qty != lv[k].qty || count != lv[k].count || qty <= 0) rc = __LINE__;
            side_qty += lv[k].qty;
        }
        if (!rc && got > 0) {
            int64_t bbo[4];
            lob_bbo(b, bbo);
            if (bbo[2 * side] != lv[0].price || bbo[2 * side + 1] != lv[0].qty) rc = __LINE__;
        }
        free(lv);
        if (rc) return rc;
        /* nothing in the shadow at a price the book does not list */
        for (size_t i = 0; i < m->na; i++)
            if (m->a[i].side == side) model_qty += m->a[i].anon;
        for (size_t i = 0; i < m->n; i++)
            if (m->o[i].side == side) model_qty += m->o[i].leaves;
        MODEL_CHECK(model_qty == side_qty);
    }
    for (size_t i = 0; i < m->n; i++) {
        const model_order *o = &m->o[i];
        lob_order_info info;
        MODEL_CHECK(lob_order(b, o->id, &info) == CORE_OK);
        MODEL_CHECK(info.id == o->id && info.price == o->price && info.qty == o->leaves &&
                    info.side == o->side);
        model_anon *a = model_anon_at(m, o->side, o->price, 0);
        int64_t qa = a ? a->anon : 0, na = qa > 0;
        for (size_t j = 0; j < m->n; j++) {
            const model_order *p = &m->o[j];
            if (p->side == o->side && p->price == o->price && p->seq < o->seq) {
                qa += p->leaves;
                na++;
            }
        }
        int64_t q = -1, c = -1;
        MODEL_CHECK(lob_queue_position(b, o->id, &q, &c) == CORE_OK);
        MODEL_CHECK(q == qa && c == na);
    }
    return 0;
}

#endif
