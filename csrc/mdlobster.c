#include "mdlobster.h"

#include <stdlib.h>

/* The replay steps below follow lobster.c (apply, truncate, learn from below) op for op; they
 * are repeated here because each step must also say what it did (seeding is shared: the
 * snapshot records the seeded book as it is). tests/test_md_fix.py
 * checks that both give the same book on every row of every sample. */

static int side_of(const lobster_msg *m) { return m->direction == 1 ? LOB_BUY : LOB_SELL; }

/* Apply one op; CORE_OK or the reject code (the op then changed nothing). */
static int apply_op(lob_book *book, int type, int64_t id, int side, int64_t price, int64_t qty,
                    const lob_event **events, int64_t *n_events) {
    lob_op op = {.id = id, .price = price, .qty = qty, .type = (uint8_t)type,
                 .side = (uint8_t)side};
    size_t applied;
    int64_t n = lob_apply(book, &op, 1, &applied);
    if (n < 0) return (int)n;
    const lob_event *ev = lob_events(book);
    for (int64_t i = 0; i < n; i++)
        if (ev[i].type == LOB_EV_REJECT) return ev[i].code;
    if (events) *events = ev;
    if (n_events) *n_events = n;
    return CORE_OK;
}

static void set_err(lobster_error *err, int status, int64_t line, int in_rows) {
    err->status = status;
    err->line = line;
    err->column = 0;
    err->in_rows = in_rows;
    err->pad = 0;
}

static mdlob_entry entry(uint32_t msg, int kind, int action, int side, int64_t id, int64_t price,
                         int64_t size, int why) {
    mdlob_entry e = {.id = id, .price = price, .size = size, .msg = msg,
                     .action = (uint8_t)action, .kind = (uint8_t)kind, .side = (uint8_t)side,
                     .why = (uint8_t)why};
    return e;
}

int64_t mdlob_seed(lob_book *book, const lobster_msg *msg0, const int64_t *row0, size_t levels,
                   mdlob_entry *out, size_t cap, lobster_error *err) {
    set_err(err, LOBSTER_OK, 0, 0);
    if (levels == 0 || levels > 1000) {
        set_err(err, LOBSTER_ERR_COLUMNS, 1, 1);
        return -1;
    }
    if (cap < 2 * levels + 1) return -2;
    int rc = lobster_seed(book, msg0, row0, levels);
    if (rc != CORE_OK) {
        set_err(err, rc, 1, 1);
        return -1;
    }
    size_t k = 0;
    lob_level *buf = malloc((2 * levels + 1) * sizeof *buf);
    if (!buf) {
        set_err(err, CORE_ERR_NOMEM, 1, 1);
        return -1;
    }
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        size_t got = lob_depth(book, side, buf, 2 * levels + 1 - k);
        for (size_t l = 0; l < got; l++)
            out[k++] = entry(0, MDLOB_BY_LEVEL, MDLOB_NEW, side, 0, buf[l].price, buf[l].qty,
                             MDLOB_WHY_SNAPSHOT);
    }
    free(buf);
    return (int64_t)k;
}

/* The total at side/price (0 if there is no such level); levels are few, so a scan. */
static int64_t level_total(const lob_book *book, int side, int64_t price, lob_level *scratch,
                           size_t scratch_cap) {
    size_t got = lob_depth(book, side, scratch, scratch_cap);
    for (size_t l = 0; l < got; l++)
        if (scratch[l].price == price) return scratch[l].qty;
    return 0;
}

/* Entries for what a level fallback (an op on an id the book does not hold) took. If the
 * level is gone, one level DELETE says so; otherwise one entry per event: the level's
 * anonymous quantity left (other == 0) or an order at the queue front it reached. */
static size_t fallback_entries(const lob_book *book, const lob_event *ev, int64_t n, uint32_t msg,
                               int side, int64_t price, lob_level *scratch, size_t scratch_cap,
                               mdlob_entry *out) {
    size_t k = 0;
    if (level_total(book, side, price, scratch, scratch_cap) == 0) {
        int64_t taken = 0;
        for (int64_t i = 0; i < n; i++) taken += ev[i].qty;
        out[k++] = entry(msg, MDLOB_BY_LEVEL, MDLOB_DELETE, side, 0, price, taken,
                         MDLOB_WHY_FALLBACK);
        return k;
    }
    for (int64_t i = 0; i < n; i++) {
        const lob_event *e = &ev[i];
        if (e->type != LOB_EV_TRADE && e->type != LOB_EV_CANCEL) continue;
        if (e->other == 0)
            out[k++] = entry(msg, MDLOB_BY_LEVEL, MDLOB_CHANGE, side, 0, e->price,
                             e->other_leaves, MDLOB_WHY_FALLBACK);
        else if (e->other_leaves > 0)
            out[k++] = entry(msg, MDLOB_BY_ORDER, MDLOB_CHANGE, side, e->other, e->price,
                             e->other_leaves, 0);
        else
            out[k++] = entry(msg, MDLOB_BY_ORDER, MDLOB_DELETE, side, e->other, e->price,
                             e->qty, 0);
    }
    return k;
}

/* The book change of message m (index i) as entries. Returns the count or a negative
 * reject code. */
static int64_t message_entries(lob_book *book, const lobster_msg *m, uint32_t i, lob_level *scratch,
                               size_t scratch_cap, mdlob_entry *out, mdlob_stats *stats) {
    int side = side_of(m);
    int64_t id = m->id;
    size_t k = 0;
    const lob_event *ev = NULL;
    int64_t n = 0;
    lob_order_info info;
    int known = id > 0 && lob_order(book, id, &info) == CORE_OK;
    int rc = CORE_OK;
    switch (m->type) {
    case 1:
        /* Id 0 would be the book's anonymous quantity, not an order a reader can name. */
        if (id <= 0) return CORE_ERR_BAD_ID;
        rc = apply_op(book, LOB_OP_ADD, id, side, m->price, m->size, NULL, NULL);
        if (rc == CORE_OK)
            out[k++] = entry(i, MDLOB_BY_ORDER, MDLOB_NEW, side, id, m->price, m->size, 0);
        break;
    case 2:
    case 4:
        if (m->type == 4) {
            out[k++] = entry(i, MDLOB_TRADE, MDLOB_NEW, side, id > 0 ? id : 0, m->price, m->size,
                             0);
            stats->trades++;
        }
        rc = apply_op(book, m->type == 2 ? LOB_OP_REDUCE : LOB_OP_EXECUTE, id, side, m->price,
                      m->size, &ev, &n);
        if (rc != CORE_OK) break;
        if (known) {
            int64_t left = info.qty - m->size;
            if (left > 0)
                out[k++] = entry(i, MDLOB_BY_ORDER, MDLOB_CHANGE, side, id, info.price, left, 0);
            else
                out[k++] = entry(i, MDLOB_BY_ORDER, MDLOB_DELETE, side, id, info.price, info.qty,
                                 0);
        } else {
            stats->fallbacks++;
            k += fallback_entries(book, ev, n, i, side, m->price, scratch, scratch_cap, out + k);
        }
        break;
    case 3:
        rc = apply_op(book, LOB_OP_DELETE, id, side, m->price, m->size, NULL, NULL);
        if (rc != CORE_OK) break;
        if (!known) stats->fallbacks++;
        out[k++] = entry(i, MDLOB_BY_ORDER, MDLOB_DELETE, side, id,
                         known ? info.price : m->price, known ? info.qty : m->size, 0);
        break;
    case 5:
    case 6:
        out[k++] = entry(i, MDLOB_TRADE, MDLOB_NEW, side, id > 0 ? id : 0, m->price, m->size, 0);
        stats->trades++;
        break;
    default: /* 7: halt, quoting or resume; the price carries which */
        out[k++] = entry(i, MDLOB_STATUS, MDLOB_NEW, side, 0, m->price, 0, 0);
        break;
    }
    if (rc != CORE_OK) return rc;
    return (int64_t)k;
}

static int deeper(int side, int64_t a, int64_t b) { return side == LOB_BUY ? a < b : a > b; }

/* Truncate each side to `levels` (entries for the levels that fell out) and learn the row's
 * levels that lie below the book's worst (entries for them), as lobster.c does. */
static int64_t view_entries(lob_book *book, const int64_t *row, size_t levels, uint32_t i,
                            lob_level *scratch, size_t scratch_cap, mdlob_entry *out,
                            mdlob_stats *stats) {
    size_t k = 0;
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        size_t count = lob_level_count(book, side);
        if (count > levels) {
            size_t got = lob_depth(book, side, scratch, count < scratch_cap ? count : scratch_cap);
            for (size_t l = levels; l < got; l++) {
                out[k++] = entry(i, MDLOB_BY_LEVEL, MDLOB_DELETE, side, 0, scratch[l].price,
                                 scratch[l].qty, MDLOB_WHY_OUT_OF_VIEW);
                stats->dropped++;
            }
            lob_truncate(book, side, levels);
        }
        size_t have = lob_depth(book, side, scratch, levels);
        if (have == levels) continue;
        int64_t worst = have ? scratch[have - 1].price : 0;
        for (size_t l = 0; l < levels && have < levels; l++) {
            const int64_t *lv = lobster_row_level(row, l, side);
            if (lv[1] <= 0) continue;
            if (have > 0 && !deeper(side, lv[0], worst)) continue;
            int rc = apply_op(book, LOB_OP_ADD, 0, side, lv[0], lv[1], NULL, NULL);
            if (rc != CORE_OK) return rc;
            out[k++] = entry(i, MDLOB_BY_LEVEL, MDLOB_NEW, side, 0, lv[0], lv[1],
                             MDLOB_WHY_INTO_VIEW);
            stats->learned++;
            worst = lv[0];
            have++;
        }
    }
    return (int64_t)k;
}

/* Whether the book's top `levels` are the row (empty levels: size 0 whatever the price). */
static int row_matches(const lob_book *book, const int64_t *row, size_t levels, lob_level *scratch) {
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        size_t have = lob_depth(book, side, scratch, levels);
        for (size_t l = 0; l < levels; l++) {
            const int64_t *lv = lobster_row_level(row, l, side);
            if (l < have ? (lv[0] != scratch[l].price || lv[1] != scratch[l].qty) : lv[1] != 0)
                return 0;
        }
    }
    return 1;
}

int64_t mdlob_plan(lob_book *book, const lobster_msg *msgs, const int64_t *rows, size_t from,
                   size_t n, size_t levels, mdlob_entry *out, size_t cap, size_t *count,
                   mdlob_stats *stats, lobster_error *err) {
    set_err(err, LOBSTER_OK, 0, 0);
    *count = 0;
    if (levels == 0 || levels > 1000) {
        set_err(err, LOBSTER_ERR_COLUMNS, 1, 1);
        return -1;
    }
    /* Levels beyond `levels` exist only between a message and its truncation: one more per
     * side at most, but the scratch grows if a caller's book holds more. */
    size_t scratch_cap = levels + 2;
    lob_level *scratch = malloc(scratch_cap * sizeof *scratch);
    if (!scratch) {
        set_err(err, CORE_ERR_NOMEM, (int64_t)from + 1, 0);
        return -1;
    }
    size_t k = 0;
    size_t i = from;
    int64_t result = 0;
    for (; i < n; i++) {
        size_t most_levels = lob_level_count(book, LOB_BUY) + lob_level_count(book, LOB_SELL);
        /* Entries one message can give: a trade, its own or one per order a fallback reaches
         * plus the anonymous quantity, the levels beyond view, and the learned levels. */
        size_t bound = 4 + lob_order_count(book) + most_levels + 2 * levels;
        if (cap - k < bound) break;
        if (most_levels + 2 > scratch_cap) {
            lob_level *grown = realloc(scratch, (most_levels + 2) * sizeof *scratch);
            if (!grown) {
                set_err(err, CORE_ERR_NOMEM, (int64_t)i + 1, 0);
                result = -1;
                break;
            }
            scratch = grown;
            scratch_cap = most_levels + 2;
        }
        const lobster_msg *m = &msgs[i];
        if (i > 0 && m->time_ns < msgs[i - 1].time_ns) {
            set_err(err, MDLOB_ERR_TIME, (int64_t)i + 1, 0);
            result = -1;
            break;
        }
        int64_t got = message_entries(book, m, (uint32_t)i, scratch, scratch_cap, out + k, stats);
        if (got < 0) {
            set_err(err, got == CORE_ERR_UNKNOWN_ID ? LOBSTER_ERR_BOOK : (int)got, (int64_t)i + 1, 0);
            result = -1;
            break;
        }
        k += (size_t)got;
        const int64_t *row = rows + i * 4 * levels;
        got = view_entries(book, row, levels, (uint32_t)i, scratch, scratch_cap, out + k, stats);
        if (got < 0) {
            set_err(err, (int)got, (int64_t)i + 1, 1);
            result = -1;
            break;
        }
        k += (size_t)got;
        if (!row_matches(book, row, levels, scratch)) {
            if (stats->rows_differ++ == 0) stats->first_differ = (int64_t)i + 1;
        }
    }
    free(scratch);
    *count = k;
    return result < 0 ? result : (int64_t)i;
}
