#include "lobster.h"

#include <string.h>

/* Largest magnitude accepted for any integer field: beyond it a value is a typo or garbage,
 * and it keeps every later sum far from overflow. */
#define LOBSTER_MAX_ABS ((int64_t)1 << 53)

size_t lobster_count_lines(const char *buf, size_t len) {
    size_t lines = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lines++;
        if (!nl) break;
        p = nl + 1;
    }
    return lines;
}

/* Parse an optionally signed decimal integer ending at ',' or end of line. */
static int parse_int(const char **pp, const char *end, int64_t *out) {
    const char *p = *pp;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) neg = (*p++ == '-');
    if (p >= end || *p < '0' || *p > '9') return LOBSTER_ERR_SYNTAX;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > LOBSTER_MAX_ABS) return LOBSTER_ERR_RANGE;
    }
    *out = neg ? -v : v;
    *pp = p;
    return LOBSTER_OK;
}

/* Seconds with decimals, as nanoseconds. Digits past the ninth are dropped: LOBSTER files
 * written through a double carry float noise there (e.g. 43002.632812672004). */
static int parse_time_ns(const char **pp, const char *end, int64_t *out) {
    const char *p = *pp;
    int64_t secs = 0;
    if (p >= end || *p < '0' || *p > '9') return LOBSTER_ERR_SYNTAX;
    while (p < end && *p >= '0' && *p <= '9') {
        secs = secs * 10 + (*p++ - '0');
        if (secs > 86400 * 400) return LOBSTER_ERR_RANGE;
    }
    int64_t frac = 0;
    int digits = 0;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return LOBSTER_ERR_SYNTAX;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
    }
    for (; digits < 9; digits++) frac *= 10;
    *out = secs * 1000000000 + frac;
    *pp = p;
    return LOBSTER_OK;
}

static void set_err(lobster_error *err, int status, int64_t line, int32_t column) {
    err->status = status;
    err->line = line;
    err->column = column;
    err->in_rows = 0;
    err->pad = 0;
}

/* Line bounds without the newline and an optional carriage return. */
static const char *line_end(const char *p, const char *end, const char **next) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    if (e > p && e[-1] == '\r') e--;
    return e;
}

int64_t lobster_parse_messages(const char *buf, size_t len, lobster_msg *out, size_t cap,
                               lobster_error *err) {
    set_err(err, LOBSTER_OK, 0, 0);
    const char *p = buf, *end = buf + len;
    size_t n = 0;
    int64_t line = 0;
    while (p < end) {
        const char *next;
        const char *e = line_end(p, end, &next);
        line++;
        if (e == p && next == end) break; /* trailing newline at end of file */
        if (n == cap) {
            set_err(err, LOBSTER_ERR_CAPACITY, line, 0);
            return -1;
        }
        int64_t v[6];
        for (int col = 0; col < 6; col++) {
            if (col > 0) {
                if (p >= e || *p != ',') {
                    set_err(err, LOBSTER_ERR_COLUMNS, line, col + 1);
                    return -1;
                }
                p++;
            }
            int rc = col == 0 ? parse_time_ns(&p, e, &v[0]) : parse_int(&p, e, &v[col]);
            if (rc != LOBSTER_OK) {
                set_err(err, rc, line, col + 1);
                return -1;
            }
        }
        if (p != e) {
            set_err(err, *p == ',' ? LOBSTER_ERR_COLUMNS : LOBSTER_ERR_SYNTAX, line, 7);
            return -1;
        }
        if (v[1] < 1 || v[1] > 7) {
            set_err(err, LOBSTER_ERR_TYPE, line, 2);
            return -1;
        }
        if (v[5] != 1 && v[5] != -1) {
            set_err(err, LOBSTER_ERR_DIRECTION, line, 6);
            return -1;
        }
        /* Halts (7) carry placeholder size and price; every other event needs real ones. */
        if (v[1] != 7 && (v[3] <= 0 || v[3] > LOB_MAX_QTY)) {
            set_err(err, LOBSTER_ERR_RANGE, line, 4);
            return -1;
        }
        if (v[1] != 7 && (v[4] <= 0 || v[4] > LOB_MAX_PRICE)) {
            set_err(err, LOBSTER_ERR_RANGE, line, 5);
            return -1;
        }
        out[n].time_ns = v[0];
        out[n].type = (int32_t)v[1];
        out[n].id = v[2];
        out[n].size = v[3];
        out[n].price = v[4];
        out[n].direction = (int32_t)v[5];
        n++;
        p = next;
    }
    return (int64_t)n;
}

int64_t lobster_parse_orderbook(const char *buf, size_t len, size_t cols, int64_t *out, size_t cap_rows,
                           lobster_error *err) {
    set_err(err, LOBSTER_OK, 0, 0);
    if (cols == 0 || cols % 4) {
        set_err(err, LOBSTER_ERR_COLUMNS, 1, 0);
        return -1;
    }
    const char *p = buf, *end = buf + len;
    size_t n = 0;
    int64_t line = 0;
    while (p < end) {
        const char *next;
        const char *e = line_end(p, end, &next);
        line++;
        if (e == p && next == end) break;
        if (n == cap_rows) {
            set_err(err, LOBSTER_ERR_CAPACITY, line, 0);
            return -1;
        }
        int64_t *row = out + n * cols;
        for (size_t col = 0; col < cols; col++) {
            if (col > 0) {
                if (p >= e || *p != ',') {
                    set_err(err, LOBSTER_ERR_COLUMNS, line, (int32_t)col + 1);
                    return -1;
                }
                p++;
            }
            int rc = parse_int(&p, e, &row[col]);
            if (rc != LOBSTER_OK) {
                set_err(err, rc, line, (int32_t)col + 1);
                return -1;
            }
        }
        if (p != e) {
            set_err(err, *p == ',' ? LOBSTER_ERR_COLUMNS : LOBSTER_ERR_SYNTAX, line,
                    (int32_t)cols + 1);
            return -1;
        }
        for (size_t col = 0; col + 1 < cols; col += 2) {
            int64_t price = row[col], size = row[col + 1];
            if (size < 0 || (size > 0 && price <= 0)) {
                set_err(err, size < 0 ? LOBSTER_ERR_NEGATIVE : LOBSTER_ERR_NO_PRICE, line,
                        (int32_t)(size < 0 ? col + 2 : col + 1));
                return -1;
            }
        }
        n++;
        p = next;
    }
    return (int64_t)n;
}

const int64_t *lobster_row_level(const int64_t *row, size_t l, int side) {
    return row + 4 * l + (side == LOB_SELL ? 0 : 2);
}

static int add_anonymous(lob_book *book, int side, int64_t price, int64_t qty) {
    lob_op op = {.id = 0, .price = price, .qty = qty, .type = LOB_OP_ADD, .side = (uint8_t)side};
    size_t applied;
    int64_t n = lob_apply(book, &op, 1, &applied);
    if (n < 0) return (int)n;
    const lob_event *ev = lob_events(book);
    for (int64_t i = 0; i < n; i++)
        if (ev[i].type == LOB_EV_REJECT) return ev[i].code;
    return CORE_OK;
}

int lobster_seed(lob_book *book, const lobster_msg *msg, const int64_t *row0, size_t levels) {
    lob_clear(book);
    int msg_side = msg->direction == 1 ? LOB_BUY : LOB_SELL;
    int64_t undo = 0; /* quantity to put back at msg's level */
    if (msg->type == 1) undo = -msg->size;
    else if (msg->type >= 2 && msg->type <= 4) undo = msg->size;
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        for (size_t l = 0; l < levels; l++) {
            const int64_t *lv = lobster_row_level(row0, l, side);
            if (lv[1] <= 0) continue;
            int64_t qty = lv[1];
            if (side == msg_side && lv[0] == msg->price) {
                qty += undo;
                undo = 0;
            }
            if (qty > 0) {
                int rc = add_anonymous(book, side, lv[0], qty);
                if (rc != CORE_OK) return rc;
            }
        }
    }
    /* A reduction that emptied its level: the level existed before the message. */
    if (undo > 0) return add_anonymous(book, msg_side, msg->price, undo);
    return CORE_OK;
}

static int apply_msg(lob_book *book, const lobster_msg *m) {
    static const uint8_t op_of_type[8] = {0, LOB_OP_ADD, LOB_OP_REDUCE, LOB_OP_DELETE,
                                          LOB_OP_EXECUTE, 0, 0, 0};
    uint8_t type = (m->type >= 1 && m->type <= 7) ? op_of_type[m->type] : 0;
    if (type == 0) return CORE_OK;
    lob_op op = {.id = m->id, .price = m->price, .qty = m->size, .type = type,
                 .side = (uint8_t)(m->direction == 1 ? LOB_BUY : LOB_SELL)};
    size_t applied;
    int64_t n = lob_apply(book, &op, 1, &applied);
    if (n < 0) return (int)n;
    const lob_event *ev = lob_events(book);
    for (int64_t i = 0; i < n; i++)
        if (ev[i].type == LOB_EV_REJECT) return ev[i].code;
    return CORE_OK;
}

/* Whether price a is strictly deeper (worse) than b on side. */
static int deeper(int side, int64_t a, int64_t b) { return side == LOB_BUY ? a < b : a > b; }

static int learn_from_below(lob_book *book, const int64_t *row, size_t levels, lob_level *scratch,
                            size_t *learned) {
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        lob_truncate(book, side, levels);
        size_t have = lob_depth(book, side, scratch, levels);
        if (have == levels) continue;
        int64_t worst = have ? scratch[have - 1].price : 0;
        for (size_t l = 0; l < levels && have < levels; l++) {
            const int64_t *lv = lobster_row_level(row, l, side);
            if (lv[1] <= 0) continue;
            if (have > 0 && !deeper(side, lv[0], worst)) continue;
            int rc = add_anonymous(book, side, lv[0], lv[1]);
            if (rc != CORE_OK) return rc;
            worst = lv[0];
            have++;
            (*learned)++;
        }
    }
    return CORE_OK;
}

void lobster_write_row(const lob_book *book, size_t levels, int64_t empty_ask,
                       int64_t empty_bid, lob_level *scratch, int64_t *out) {
    for (int side = LOB_BUY; side <= LOB_SELL; side++) {
        size_t have = lob_depth(book, side, scratch, levels);
        for (size_t l = 0; l < levels; l++) {
            int64_t *dst = out + 4 * l + (side == LOB_SELL ? 0 : 2);
            if (l < have) {
                dst[0] = scratch[l].price;
                dst[1] = scratch[l].qty;
            } else {
                dst[0] = side == LOB_SELL ? empty_ask : empty_bid;
                dst[1] = 0;
            }
        }
    }
}

int lobster_replay(lob_book *book, const lobster_msg *msgs, const int64_t *rows, size_t n,
                   size_t levels, int64_t empty_ask, int64_t empty_bid, int64_t *out,
                   size_t *learned, lobster_error *err) {
    set_err(err, LOBSTER_OK, 0, 0);
    *learned = 0;
    if (n == 0) return 0;
    if (levels == 0 || levels > 1000) {
        set_err(err, LOBSTER_ERR_COLUMNS, 0, 0);
        return -1;
    }
    lob_level scratch[1000];
    int rc = lobster_seed(book, &msgs[0], rows, levels);
    for (size_t i = 0; i < n && rc == CORE_OK; i++) {
        const int64_t *row = rows + i * 4 * levels;
        rc = apply_msg(book, &msgs[i]);
        if (rc != CORE_OK) {
            set_err(err, rc == CORE_ERR_UNKNOWN_ID ? LOBSTER_ERR_BOOK : rc, (int64_t)i + 1, 0);
            break;
        }
        rc = learn_from_below(book, row, levels, scratch, learned);
        if (rc != CORE_OK) {
            set_err(err, rc, (int64_t)i + 1, 0);
            err->in_rows = 1;
            break;
        }
        lobster_write_row(book, levels, empty_ask, empty_bid, scratch, out + i * 4 * levels);
    }
    if (rc != CORE_OK && err->status == LOBSTER_OK) { /* seeding failed: row 1 is inconsistent */
        set_err(err, rc, 1, 0);
        err->in_rows = 1;
    }
    return rc == CORE_OK ? 0 : -1;
}

/* Digits of v into buf (at most 20 bytes); returns the count. */
static size_t format_int(int64_t v, char *buf) {
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    while (n) buf[len++] = tmp[--n];
    return len;
}

int64_t lobster_format_rows(const int64_t *rows, size_t n, size_t cols, char *out, size_t cap) {
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < cols; c++) {
            if (cap - pos < 22) return -1;
            pos += format_int(rows[i * cols + c], out + pos);
            out[pos++] = c + 1 == cols ? '\n' : ',';
        }
    }
    return (int64_t)pos;
}
