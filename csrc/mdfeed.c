#include "mdfeed.h"

#include "lobster.h"

#include <stdlib.h>
#include <string.h>

#define TAG_BEGIN_STRING 8
#define TAG_ORDER_ID 37
#define TAG_SENDING_TIME 52
#define TAG_SYMBOL 55
#define TAG_NO_MD_ENTRIES 268
#define TAG_MD_ENTRY_TYPE 269
#define TAG_MD_ENTRY_PX 270
#define TAG_MD_ENTRY_SIZE 271
#define TAG_MD_ENTRY_ID 278
#define TAG_MD_UPDATE_ACTION 279
#define TAG_CHECKSUM 10

/* ------------------------------------------------------------------ values */

typedef struct {
    const uint8_t *p;
    uint32_t off;
    uint32_t len;
} span;

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Unsigned decimal with at most `scale` significant fraction digits, as an integer times
 * 10^scale, at most `max`. 0 on success. */
static int parse_scaled(span v, int scale, int64_t max, int64_t *out) {
    size_t i = 0, n = v.len;
    if (n == 0) return -1;
    int64_t x = 0;
    int digits = 0;
    for (; i < n && is_digit(v.p[i]); i++, digits++) {
        x = x * 10 + (v.p[i] - '0');
        if (x > max) return -1;
    }
    int frac = 0;
    if (i < n && v.p[i] == '.') {
        i++;
        for (; i < n && is_digit(v.p[i]); i++, digits++) {
            if (frac < scale) {
                x = x * 10 + (v.p[i] - '0');
                if (x > max) return -1;
                frac++;
            } else if (v.p[i] != '0') {
                return -1; /* finer than the tick */
            }
        }
    }
    if (i != n || digits == 0) return -1;
    for (; frac < scale; frac++) {
        x *= 10;
        if (x > max) return -1;
    }
    *out = x;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const uint8_t *p, int n) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        x = x * 10 + (p[i] - '0');
    }
    return x;
}

/* UTCTimestamp YYYYMMDD-HH:MM:SS[.f...] (1 to 12 fraction digits; beyond 9 dropped). */
static int parse_timestamp(span v, int64_t *out) {
    const uint8_t *p = v.p;
    if (v.len < 17 || p[8] != '-' || p[11] != ':' || p[14] != ':') return -1;
    int y = num(p, 4), mo = num(p + 4, 2), d = num(p + 6, 2);
    int h = num(p + 9, 2), mi = num(p + 12, 2), s = num(p + 15, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || s < 0 || s > 60)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return -1;
    int64_t frac = 0;
    if (v.len > 17) {
        size_t n = v.len - 18;
        if (p[17] != '.' || n < 1 || n > 12) return -1;
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(p[18 + i])) return -1;
            if (i < 9) frac = frac * 10 + (p[18 + i] - '0');
        }
        for (size_t i = n; i < 9; i++) frac *= 10;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (secs >= INT64_MAX / 1000000000) return -1; /* past 2262: no int64 nanoseconds */
    *out = secs * 1000000000 + frac;
    return 0;
}

/* A numeric MDEntryID usable as the id itself: 1..MD_ORDER_ID_MAX, no leading zero. */
static int64_t numeric_id(span v) {
    if (v.len == 0 || v.len > 19 || v.p[0] == '0') return 0;
    int64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (!is_digit(v.p[i])) return 0;
        x = x * 10 + (v.p[i] - '0');
        if (x > MD_ORDER_ID_MAX) return 0;
    }
    return x;
}

/* ------------------------------------------------------------------ lines */

static int blank(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Check the text buf[from .. to) before a message (to == len: after the last one). Unless it
 * starts a line, it first ends the line of the message before it: only blanks may follow that
 * message. Every whole line after that must be blank; the last, partial line is the text
 * before the message on its own line (QuickFIX's time stamp), anything but a newline.
 * Returns 0, or -1 with *bad the offset of the line at fault. */
static int check_gap(const uint8_t *buf, size_t from, size_t to, int at_line_start, int last,
                     uint32_t *bad) {
    size_t p = from;
    int first = !at_line_start;
    for (;;) {
        const uint8_t *nl = p < to ? memchr(buf + p, '\n', to - p) : NULL;
        size_t e = nl ? (size_t)(nl - buf) : to;
        if (nl || last) {
            for (size_t i = p; i < e; i++)
                if (!blank(buf[i])) {
                    *bad = (uint32_t)p;
                    return -1;
                }
        } else if (first) {
            *bad = (uint32_t)p; /* two messages on one line */
            return -1;
        }
        if (!nl) return 0;
        p = e + 1;
        first = 0;
    }
}

/* ------------------------------------------------------------------ decoding */

typedef struct {
    int has_action, has_type, has_id, has_sym, has_px, has_size, has_order_id;
    uint8_t action, type;
    span type_value, id, sym, px, size, order_id;
    uint32_t first_field; /* for errors */
} raw_entry;

static int64_t symbol_index(const md_decoder *d, span s) {
    for (uint32_t k = 0; k < d->sym_count; k++) {
        uint32_t a = d->sym_offset[k], b = d->sym_offset[k + 1];
        if (b - a == s.len && memcmp(d->symbols + a, s.p, s.len) == 0) return k;
    }
    return -1;
}

/* Whether d allows MDEntryType value c (0xff: a value longer than one character). */
static int entry_type_allowed(const md_decoder *d, uint8_t c) {
    if ((d->entry_types[0] | d->entry_types[1]) == 0) return 1;
    return c < 128 && ((d->entry_types[c / 64] >> (c % 64)) & 1u);
}

static int fail(md_decoder *d, int status, uint32_t msg, uint32_t offset, uint32_t tag,
                span value) {
    d->status = status;
    d->err_msg = msg;
    d->err_offset = offset;
    d->err_tag = tag;
    d->err_value_offset = value.off;
    d->err_value_length = value.len;
    return -1;
}

static span field_span(const md_frames *f, size_t j) {
    const struct fix_field *x = &f->fields[j];
    span s = {f->buf + x->offset, x->offset, x->length};
    return s;
}

/* Turn a parsed entry into e. Returns 0, or -1 after fail(). */
static int finish_entry(const md_frames *f, md_decoder *d, uint32_t i, int snapshot,
                        const raw_entry *r, span msg_sym, span *last_sym, int64_t time_ns,
                        md_entry *e) {
    uint32_t where = f->msgs[i].start;
    memset(e, 0, sizeof *e);
    e->time_ns = time_ns;
    e->entry_type = r->has_type ? r->type : 0;
    if (r->has_type && !entry_type_allowed(d, r->type))
        return fail(d, MD_ERR_VALUE, i, where, TAG_MD_ENTRY_TYPE, r->type_value);
    e->action = snapshot ? 0 : r->action;
    /* The symbol: the entry's, else the last one named in the message. */
    span sym = r->has_sym ? r->sym : (last_sym->len ? *last_sym : msg_sym);
    if (sym.len == 0) return fail(d, MD_ERR_MISSING, i, where, TAG_SYMBOL, sym);
    *last_sym = sym;
    int64_t k = symbol_index(d, sym);
    if (k < 0) return fail(d, MD_ERR_UNKNOWN_SYMBOL, i, where, TAG_SYMBOL, sym);
    e->sym = (uint32_t)k;
    int book = r->has_type && (r->type == '0' || r->type == '1');
    int trade = r->has_type && r->type == '2';
    int64_t px = 0, qty = 0;
    if (r->has_px && parse_scaled(r->px, d->price_decimals, LOB_MAX_PRICE, &px) != 0)
        return fail(d, MD_ERR_VALUE, i, where, TAG_MD_ENTRY_PX, r->px);
    if (r->has_size && parse_scaled(r->size, 0, LOB_MAX_QTY, &qty) != 0)
        return fail(d, MD_ERR_VALUE, i, where, TAG_MD_ENTRY_SIZE, r->size);
    span none = {0, 0, 0};
    if (trade) {
        if (!r->has_px) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_PX, none);
        if (!r->has_size) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_SIZE, none);
        e->kind = MD_ENTRY_TRADE;
        e->op.price = px;
        e->op.qty = qty;
        e->op.id = r->has_order_id ? numeric_id(r->order_id) : 0;
        return 0;
    }
    if (!book && !(r->has_id && !r->has_type && e->action != 0)) {
        e->kind = MD_ENTRY_OTHER;
        return 0;
    }
    e->kind = MD_ENTRY_BOOK;
    int side = book ? (r->type == '0' ? LOB_BUY : LOB_SELL) : LOB_BUY;
    e->op.side = (uint8_t)side;
    e->op.price = px;
    int64_t id = 0;
    if (r->has_id) {
        id = numeric_id(r->id);
        if (id == 0) {
            e->flags |= MD_F_TEXT_ID;
            e->text_offset = r->id.off;
            e->text_length = r->id.len;
        }
    } else {
        e->flags |= MD_F_LEVEL;
    }
    if (!r->has_id && !r->has_px) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_PX, none);
    int64_t level_id = MD_LEVEL_ID(side, px);
    switch (e->action) {
    case 0: /* new (and every snapshot entry) */
        if (!r->has_px) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_PX, none);
        if (!r->has_size) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_SIZE, none);
        e->op.type = LOB_OP_ADD;
        e->op.id = r->has_id ? id : level_id;
        e->op.qty = qty;
        break;
    case 1: /* change: the new size */
        if (!r->has_size) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_SIZE, none);
        if (!r->has_px && qty > 0) return fail(d, MD_ERR_MISSING, i, where, TAG_MD_ENTRY_PX, none);
        e->op.id = r->has_id ? id : level_id;
        e->op.type = qty > 0 ? LOB_OP_REPLACE : LOB_OP_CANCEL;
        e->op.qty = qty;
        break;
    default: /* delete */
        if (r->has_id) {
            int fallback = book && r->has_px && r->has_size && qty > 0;
            e->op.type = fallback ? LOB_OP_DELETE : LOB_OP_CANCEL;
            e->op.id = id;
            e->op.qty = fallback ? qty : 0;
        } else {
            e->op.type = LOB_OP_DELETE;
            e->op.id = 0;
            e->op.qty = LOB_MAX_QTY;
        }
        break;
    }
    return 0;
}


/* Record field (tag, v) in entry r: 1 if it is an entry field, 0 if ignored, -1 on a repeat. */
static int entry_field(raw_entry *r, uint32_t tag, span v) {
    int *has = NULL;
    span *dst = NULL;
    switch (tag) {
    case TAG_MD_UPDATE_ACTION:
        if (r->has_action) return -1;
        r->has_action = 1;
        r->action = v.len == 1 ? v.p[0] : 0xff;
        return 1;
    case TAG_MD_ENTRY_TYPE:
        if (r->has_type) return -1;
        r->has_type = 1;
        r->type = v.len == 1 ? v.p[0] : 0xff;
        r->type_value = v;
        return 1;
    case TAG_MD_ENTRY_ID: has = &r->has_id; dst = &r->id; break;
    case TAG_SYMBOL: has = &r->has_sym; dst = &r->sym; break;
    case TAG_MD_ENTRY_PX: has = &r->has_px; dst = &r->px; break;
    case TAG_MD_ENTRY_SIZE: has = &r->has_size; dst = &r->size; break;
    case TAG_ORDER_ID: has = &r->has_order_id; dst = &r->order_id; break;
    default: return 0;
    }
    if (*has) return -1;
    *has = 1;
    *dst = v;
    return 1;
}

/* Decode message i into *m and out[0..]. Returns the entries written, -1 after fail(), or
 * -2 for a snapshot of a symbol not in the table (d->status MD_NEW_SYMBOL). */
static int64_t decode_one(const md_frames *f, md_decoder *d, uint32_t i, md_msg *m,
                          uint32_t msg_index, uint32_t first_entry, md_entry *out) {
    uint32_t where = f->msgs[i].start;
    size_t f0 = f->msgs[i].first_field, nf = f->msgs[i].field_count;
    span none = {0, 0, 0};
    memset(m, 0, sizeof *m);
    m->start = where;
    m->first_entry = first_entry;
    m->sym = MD_NO_SYMBOL;
    span type = field_span(f, f0 + 2);
    int snapshot = type.len == 1 && type.p[0] == 'W';
    int incremental = type.len == 1 && type.p[0] == 'X';
    if (!snapshot && !incremental) {
        m->kind = MD_MSG_OTHER;
        return 0;
    }
    m->kind = snapshot ? MD_MSG_SNAPSHOT : MD_MSG_INCREMENTAL;
    uint32_t delimiter = snapshot ? TAG_MD_ENTRY_TYPE : TAG_MD_UPDATE_ACTION;
    int have_time = 0, in_group = 0, open = 0;
    int64_t time_ns = 0, declared = -1;
    span msg_sym = none, last_sym = none, time_span = none;
    raw_entry r;
    memset(&r, 0, sizeof r);
    size_t k = 0;
    size_t end = f0 + nf;
    for (size_t j = f0 + 3; j <= end; j++) {
        uint32_t tag = j < end ? f->fields[j].tag : TAG_CHECKSUM;
        span v = j < end ? field_span(f, j) : none;
        if (!in_group) {
            if (tag == TAG_SENDING_TIME) {
                if (have_time) return fail(d, MD_ERR_REPEATED, i, where, tag, v);
                if (parse_timestamp(v, &time_ns) != 0)
                    return fail(d, MD_ERR_VALUE, i, where, tag, v);
                have_time = 1;
                time_span = v;
            } else if (tag == TAG_SYMBOL) {
                if (msg_sym.len) return fail(d, MD_ERR_REPEATED, i, where, tag, v);
                msg_sym = v;
            } else if (tag == TAG_NO_MD_ENTRIES) {
                int64_t n = 0;
                if (memchr(v.p, '.', v.len) || parse_scaled(v, 0, 1 << 30, &n) != 0)
                    return fail(d, MD_ERR_VALUE, i, where, tag, v);
                if (!have_time) return fail(d, MD_ERR_MISSING, i, where, TAG_SENDING_TIME, none);
                if (time_ns < d->last_time_ns)
                    return fail(d, MD_ERR_TIME_BACKWARDS, i, where, TAG_SENDING_TIME, time_span);
                if (snapshot) {
                    if (msg_sym.len == 0) return fail(d, MD_ERR_MISSING, i, where, TAG_SYMBOL, none);
                    int64_t s = symbol_index(d, msg_sym);
                    if (s < 0) {
                        fail(d, MD_NEW_SYMBOL, i, where, TAG_SYMBOL, msg_sym);
                        return -2;
                    }
                    m->sym = (uint32_t)s;
                }
                declared = n;
                in_group = 1;
            } else if (tag == TAG_CHECKSUM) {
                break;
            }
            continue;
        }
        /* the message's own fields again, among the entries (an entry's 55 is its own) */
        if (tag == TAG_SENDING_TIME || tag == TAG_NO_MD_ENTRIES)
            return fail(d, MD_ERR_REPEATED, i, where, tag, v);
        if (tag == delimiter || tag == TAG_CHECKSUM) {
            if (open) {
                if (!snapshot && (!r.has_action || r.action < '0' || r.action > '2'))
                    return fail(d, r.has_action ? MD_ERR_VALUE : MD_ERR_MISSING, i, where,
                                TAG_MD_UPDATE_ACTION, r.has_action ? field_span(f, r.first_field)
                                                                   : none);
                if (snapshot && !r.has_sym) {
                    r.has_sym = 1;
                    r.sym = msg_sym;
                }
                if (!snapshot) r.action -= '0';
                if (finish_entry(f, d, i, snapshot, &r, msg_sym, &last_sym, time_ns, &out[k]) != 0)
                    return -1;
                out[k].msg = msg_index;
                k++;
            }
            if (tag == TAG_CHECKSUM) break;
            memset(&r, 0, sizeof r);
            r.first_field = (uint32_t)j;
            open = 1;
        } else if (!open) {
            /* Fields after NoMDEntries that belong to no entry yet. */
            int probe;
            raw_entry scratch;
            memset(&scratch, 0, sizeof scratch);
            probe = entry_field(&scratch, tag, v);
            if (probe != 0) return fail(d, MD_ERR_GROUP, i, where, tag, v);
            continue;
        }
        if (entry_field(&r, tag, v) < 0) return fail(d, MD_ERR_DUPLICATE, i, where, tag, v);
    }
    if (!have_time) return fail(d, MD_ERR_MISSING, i, where, TAG_SENDING_TIME, none);
    if (declared < 0) return fail(d, MD_ERR_MISSING, i, where, TAG_NO_MD_ENTRIES, none);
    if ((size_t)declared != k) return fail(d, MD_ERR_COUNT, i, where, TAG_NO_MD_ENTRIES, none);
    m->time_ns = time_ns;
    m->entry_count = (uint32_t)k;
    d->last_time_ns = time_ns;
    return (int64_t)k;
}

int64_t md_decode(const md_frames *f, size_t from, md_decoder *d, md_msg *msgs, size_t msg_cap,
                  md_entry *entries, size_t entry_cap) {
    d->status = MD_OK;
    d->entry_count = 0;
    d->err_msg = (uint32_t)from;
    d->err_offset = d->err_tag = d->err_value_offset = d->err_value_length = 0;
    size_t k = 0, done = 0;
    for (size_t i = from; i < f->count; i++) {
        const struct fix_msg *fm = &f->msgs[i];
        if (done == msg_cap || entry_cap - k < fm->field_count) {
            d->status = MD_NEED_ROOM;
            d->err_msg = (uint32_t)i;
            break;
        }
        span none = {0, 0, 0};
        if (fm->status != 0) {
            fail(d, MD_ERR_FRAME, (uint32_t)i, fm->start, 0, none);
            break;
        }
        uint32_t bad = 0;
        if (fm->start < d->gap_from ||
            check_gap(f->buf, d->gap_from, fm->start, (int)d->at_line_start, 0, &bad) != 0) {
            fail(d, MD_ERR_LINE, (uint32_t)i, fm->start < d->gap_from ? fm->start : bad, 0, none);
            break;
        }
        int64_t got = decode_one(f, d, (uint32_t)i, &msgs[done], (uint32_t)done, (uint32_t)k,
                                 entries + k);
        if (got < 0) break;
        k += (size_t)got;
        done++;
        d->gap_from = fm->end;
        d->at_line_start = 0;
    }
    d->entry_count = (uint32_t)k;
    return (int64_t)done;
}

void md_seqnums(const md_frames *f, int64_t *seq) {
    for (size_t k = 0; k < f->count; k++) {
        const struct fix_msg *m = &f->msgs[k];
        int64_t value = -1;
        size_t end = (size_t)m->first_field + m->field_count;
        if (end > f->field_total) end = f->field_total;
        for (size_t j = m->first_field; j < end; j++) {
            const struct fix_field *fl = &f->fields[j];
            if (fl->tag != 34) continue;
            if (fl->length >= 1 && fl->length <= 18 && (size_t)fl->offset + fl->length <= f->len) {
                const uint8_t *v = f->buf + fl->offset;
                int64_t n = 0;
                size_t i = 0;
                for (; i < fl->length && v[i] >= '0' && v[i] <= '9'; i++)
                    n = n * 10 + (v[i] - '0');
                if (i == fl->length) value = n;
            }
            break; /* the first 34 only */
        }
        seq[k] = value;
    }
}

/* The tail of a buffer after its last message: see check_gap. */
int md_check_tail(const uint8_t *buf, size_t len, uint32_t from, uint32_t at_line_start,
                  uint32_t *bad) {
    if (from > len) {
        *bad = (uint32_t)len;
        return -1;
    }
    return check_gap(buf, from, len, (int)at_line_start, 1, bad);
}

/* ------------------------------------------------------------------ applying */

/* Off the replay loop: inlined into it, the fill and tops code (which runs only when asked
 * for) slowed every replayed message by 2-4% (measured on the AMZN day). */
#if defined(__GNUC__)
#define MD_NOINLINE __attribute__((noinline))
#else
#define MD_NOINLINE
#endif

/* A client order that a trade entry may fill, with what orders it (see md_apply). */
typedef struct {
    int64_t id;
    int64_t through; /* how far its price is through the reference price (>= 0) */
    int64_t pos;     /* orders ahead of it in its level, -1 until needed */
    size_t slot;     /* its index in c->clients: a stable last key */
    uint8_t side;
} candidate;

static int64_t orders_ahead(const lob_book *book, int64_t id) {
    int64_t qty, n;
    return lob_queue_position(book, id, &qty, &n) == CORE_OK ? n : 0;
}

static int by_priority(const void *pa, const void *pb) {
    const candidate *a = pa, *b = pb;
    if (a->through != b->through) return a->through > b->through ? -1 : 1;
    if (a->side != b->side) return a->side < b->side ? -1 : 1;
    if (a->pos != b->pos) return a->pos < b->pos ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Fill client orders from trade entry t (index entry), as md_apply says. Returns the fills
 * written, or a negative core_status from the book. */
MD_NOINLINE static int64_t fill_clients(lob_book *book, md_apply_ctl *c, const md_entry *t, uint32_t entry,
                            candidate *cand) {
    lob_order_info x;
    int known = t->op.id > 0 && lob_order(book, t->op.id, &x) == CORE_OK;
    int64_t ref = known ? x.price : t->op.price;
    /* X named but not held: it rested before the data starts (LOBSTER), so in the level's
     * anonymous quantity, which is ahead of every order in the queue. At the print's price,
     * only a client with nothing ahead of it can have traded before X. */
    int front_only = !known && t->op.id != 0;
    int64_t x_pos = -1;
    size_t n = 0;
    for (size_t j = 0; j < c->client_count; j++) {
        lob_order_info o;
        if (lob_order(book, c->clients[j], &o) != CORE_OK) continue;
        if (known && o.side != x.side) continue;
        int64_t through = o.side == LOB_BUY ? o.price - ref : ref - o.price;
        if (through < 0) continue;
        int64_t pos = -1;
        if (known && through == 0) { /* same level as X: only if ahead of it */
            if (x_pos < 0) x_pos = orders_ahead(book, x.id);
            pos = orders_ahead(book, o.id);
            if (pos >= x_pos) continue;
        }
        candidate k = {o.id, through, pos, j, (uint8_t)o.side};
        cand[n++] = k;
    }
    if (n > 1) {
        /* Queue positions break ties of price; a walk of the level each, so only then. */
        for (size_t j = 0; j < n; j++)
            if (cand[j].pos < 0) cand[j].pos = orders_ahead(book, cand[j].id);
        qsort(cand, n, sizeof *cand, by_priority);
    }
    int64_t left = t->op.qty, written = 0;
    for (size_t j = 0; j < n && left > 0; j++) {
        lob_order_info o;
        /* Gone already: the same id twice in clients, filled to zero by this trade. */
        if (lob_order(book, cand[j].id, &o) != CORE_OK) continue;
        if (front_only && cand[j].through == 0) {
            /* Asked now, not when ranking: a client ahead at this price that the print has
             * just filled to zero is no longer ahead. */
            int64_t qty_ahead, n_ahead;
            if (lob_queue_position(book, o.id, &qty_ahead, &n_ahead) != CORE_OK || qty_ahead > 0)
                continue;
        }
        if (c->fills_written == c->fills_cap) break; /* md_apply's room check rules it out */
        int64_t qty = left < o.qty ? left : o.qty;
        lob_op op = {.id = o.id, .qty = qty, .type = LOB_OP_CANCEL};
        size_t applied;
        int64_t got = lob_apply(book, &op, 1, &applied);
        if (got < 0) return got;
        left -= qty;
        md_fill *f = &c->fills[c->fills_written++];
        memset(f, 0, sizeof *f);
        f->order_id = o.id;
        f->price = o.price;
        f->qty = qty;
        f->leaves = o.qty - qty;
        f->time_ns = t->time_ns;
        f->trade_order_id = t->op.id;
        f->trade_price = t->op.price;
        f->entry = entry;
        f->side = (uint8_t)o.side;
        f->hidden = (uint8_t)!known;
        written++;
    }
    return written;
}

static int in_book(const lob_book *book, int64_t id) {
    lob_order_info o;
    return lob_order(book, id, &o) == CORE_OK;
}

static int is_gone(const md_apply_ctl *c, int64_t id) {
    if (c->gone == NULL) return 0;
    size_t lo = 0, hi = c->gone_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->gone[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->gone_count && c->gone[lo] == id;
}

/* Whether a client order rests at or through the best price on the other side. */
MD_NOINLINE static int client_crossed(const lob_book *book, const md_apply_ctl *c) {
    int64_t bbo[4]; /* bid price, bid qty, ask price, ask qty */
    lob_bbo(book, bbo);
    for (size_t j = 0; j < c->client_count; j++) {
        lob_order_info o;
        if (lob_order(book, c->clients[j], &o) != CORE_OK) continue;
        if (o.side == LOB_BUY ? bbo[3] > 0 && o.price >= bbo[2] : bbo[1] > 0 && o.price <= bbo[0])
            return 1;
    }
    return 0;
}

/* Write a top-of-book row after message m if the best bid/ask changed since the last. */
MD_NOINLINE static void write_top(const lob_book *book, md_apply_ctl *c, const md_msg *m, int64_t last[4],
                      int *have_last) {
    int64_t bbo[4];
    lob_bbo(book, bbo);
    if (*have_last && memcmp(bbo, last, sizeof bbo) == 0) return;
    int64_t *row = c->tops + c->tops_written * MD_TOP_FIELDS;
    row[0] = m->time_ns;
    memcpy(row + 1, bbo, sizeof bbo);
    memcpy(last, bbo, sizeof bbo);
    *have_last = 1;
    c->tops_written++;
}

/* Whether the feed entry fresh (id, side, price) still rests where the message put it: an
 * entry a later one of the same message deleted (an aggressive order reported as added and
 * then consumed) says nothing about the other side. */
static int rests_at(const lob_book *book, int64_t id, int side, int64_t price) {
    lob_order_info o;
    return id != 0 && lob_order(book, id, &o) == CORE_OK && o.side == side && o.price == price;
}

/* The market data is never crossed: the replayed liquidity on one side at or through the
 * price of an entry the message added or changed on the other side (and that still rests) is
 * what a client took and a later view of its level brought back (the log cannot know), and
 * is removed there (DELETE by level: the feed's liquidity only, clients' orders stay for the
 * venue to trade). An incremental message only (a snapshot has no ghosts: lob_clear_feed),
 * per side its most aggressive entry; none when those two cross each other (a message at
 * odds with itself: left as it is). Up to the 64 best levels; no events are reported. */
MD_NOINLINE static void drop_stale(lob_book *book, const int64_t fresh_id[2],
                                   const int64_t fresh_price[2]) {
    int live[2];
    for (int sd = 0; sd < 2; sd++)
        live[sd] = rests_at(book, fresh_id[sd], sd, fresh_price[sd]);
    if (live[LOB_BUY] && live[LOB_SELL] && fresh_price[LOB_BUY] >= fresh_price[LOB_SELL]) return;
    for (int fresh = 0; fresh < 2; fresh++) {
        if (!live[fresh]) continue;
        int stale = !fresh;
        int64_t at = fresh_price[fresh];
        int64_t bbo[4]; /* bid price, bid qty, ask price, ask qty */
        lob_bbo(book, bbo);
        int64_t best = stale == LOB_BUY ? bbo[0] : bbo[2], qty = stale == LOB_BUY ? bbo[1] : bbo[3];
        if (qty <= 0 || (stale == LOB_BUY ? best < at : best > at)) continue;
        lob_level lv[64];
        size_t got = lob_depth(book, stale, lv, sizeof lv / sizeof *lv);
        for (size_t k = 0; k < got; k++) {
            int64_t p = lv[k].price;
            if (stale == LOB_BUY ? p < at : p > at) break;
            lob_op op = {.type = LOB_OP_DELETE, .id = 0, .side = (uint8_t)stale, .price = p,
                         .qty = LOB_MAX_QTY};
            size_t applied;
            (void)lob_apply(book, &op, 1, &applied); /* a level of clients' orders only: rejected */
        }
    }
}

/* The owner of trade entry t's print (md_apply's Prints): X, or the level quantity X was
 * part of. */
static int64_t print_owner(const lob_book *book, const md_apply_ctl *c, const md_entry *t) {
    int64_t x = t->op.id;
    if (x == 0 || in_book(book, x) || is_gone(c, x)) return x;
    int64_t level[2] = {MD_LEVEL_ID(LOB_BUY, t->op.price), MD_LEVEL_ID(LOB_SELL, t->op.price)};
    for (int sd = 0; sd < 2; sd++)
        if (in_book(book, level[sd])) return level[sd];
    for (int sd = 0; sd < 2; sd++)
        if (is_gone(c, level[sd])) return level[sd];
    return x;
}

/* Whether sym's touch is outside c's watch (see md_apply_ctl). */
MD_NOINLINE static int touch_outside(const lob_book *book, const md_apply_ctl *c) {
    int64_t bbo[4]; /* bid price, bid qty, ask price, ask qty */
    lob_bbo(book, bbo);
    int has_bid = bbo[1] > 0, has_ask = bbo[3] > 0;
    if (!has_bid && !has_ask) return 1;
    if (has_bid && has_ask && bbo[0] > bbo[2]) return 1;
    if (c->watch[0] != INT64_MIN || c->watch[1] != INT64_MAX) {
        if (!has_bid || bbo[0] < c->watch[0] || bbo[0] > c->watch[1]) return 1;
    }
    if (c->watch[2] != INT64_MIN || c->watch[3] != INT64_MAX) {
        if (!has_ask || bbo[2] < c->watch[2] || bbo[2] > c->watch[3]) return 1;
    }
    return 0;
}

/* The watch's group of a message time: (t - base) / step rounded up; t itself for a step of
 * 0 or 1, or where t - base overflows (no replay's times do). */
static int64_t watch_group(const md_apply_ctl *c, int64_t t) {
    int64_t d;
    if (c->watch_step_ns <= 1 || __builtin_sub_overflow(t, c->watch_base_ns, &d)) return t;
    int64_t q = d / c->watch_step_ns, r = d % c->watch_step_ns;
    return q + (r > 0); /* C division truncates: up for positive remainders only */
}

/* Whether message i ends its watch group (the range's last message always does); 0 when
 * the watch is off. */
static int group_ends(const md_apply_ctl *c, const md_msg *msgs, size_t i, size_t to) {
    if (!c->watch_on) return 0;
    return i + 1 >= to || watch_group(c, msgs[i + 1].time_ns) != watch_group(c, msgs[i].time_ns);
}

/* At the end of a watch group in which sym's book changed (*dirty, then cleared): whether
 * the touch left the watch (c->touched set): the call ends after message i. */
static int watch_stop(const lob_book *book, md_apply_ctl *c, const md_msg *msgs, size_t i,
                      size_t to, int *dirty) {
    if (!*dirty || !group_ends(c, msgs, i, to)) return 0;
    *dirty = 0;
    if (!touch_outside(book, c)) return 0;
    c->touched = 1;
    return 1;
}

static int64_t apply_range(lob_book *book, const md_msg *msgs, size_t from, size_t to,
                           const md_entry *entries, md_apply_ctl *c, candidate *cand) {
    lob_level scratch[MD_MAX_LEVELS];
    size_t levels = c->levels;
    size_t clients = cand ? c->client_count : 0;
    int tops = c->tops != NULL;
    int64_t last[4] = {0, 0, 0, 0};
    int have_last = 0;
    int watch_dirty = 0; /* a message of sym in the current group changed the book */
    for (size_t i = from; i < to; i++) {
        const md_msg *m = &msgs[i];
        const md_entry *e = entries + m->first_entry;
        size_t n = m->entry_count;
        int mine = m->kind == MD_MSG_SNAPSHOT && m->sym == c->sym;
        if (!mine && m->kind == MD_MSG_INCREMENTAL)
            for (size_t k = 0; k < n && !mine; k++) mine = e[k].sym == c->sym;
        if (!mine) {
            if (watch_stop(book, c, msgs, i, to, &watch_dirty)) return (int64_t)(i + 1);
            continue;
        }
        int row = levels > 0 && m->kind == MD_MSG_INCREMENTAL;
        if (row && c->rows_written == c->rows_cap) return (int64_t)i;
        if (tops && c->tops_written == c->tops_cap) return (int64_t)i;
        if (clients) {
            size_t t = 0;
            for (size_t k = 0; k < n; k++)
                t += e[k].kind == MD_ENTRY_TRADE && e[k].sym == c->sym && e[k].op.qty > 0;
            size_t need = t <= 1 || clients <= 1 ? t * clients : t + clients;
            if (c->fills_cap - c->fills_written < need) return (int64_t)i;
        }
        if (c->trade_ids) {
            size_t t = 0;
            for (size_t k = 0; k < n; k++) t += e[k].kind == MD_ENTRY_TRADE && e[k].sym == c->sym;
            if (c->trade_ids_cap - c->trade_ids_written < t) return (int64_t)i;
        }
        size_t fills_before = c->fills_written;
        int changed = m->kind == MD_MSG_SNAPSHOT;
        if (changed) lob_clear_feed(book);
        /* per side, the most aggressive entry the message added or changed: a candidate for
         * finding the other side's stale liquidity (see drop_stale) */
        int64_t fresh_id[2] = {0, 0}, fresh_price[2] = {0, 0};
        for (size_t k = 0; k < n; k++) {
            int trade = e[k].kind == MD_ENTRY_TRADE && e[k].sym == c->sym;
            int64_t owner = trade && (c->gone_count > 0 || c->trade_ids)
                                ? print_owner(book, c, &e[k]) : e[k].op.id;
            int gone = c->gone_count > 0 && owner > 0 && is_gone(c, owner) &&
                       !in_book(book, owner);
            if (trade && c->trade_ids) c->trade_ids[c->trade_ids_written++] = gone ? -owner : owner;
            if (e[k].kind != MD_ENTRY_BOOK) {
                if (clients && e[k].kind == MD_ENTRY_TRADE && e[k].sym == c->sym &&
                    e[k].op.qty > 0 && !gone) {
                    int64_t got = fill_clients(book, c, &e[k], m->first_entry + (uint32_t)k, cand);
                    if (got < 0) return got;
                    changed |= got > 0;
                }
                continue;
            }
            if (e[k].sym != c->sym) continue;
            if (gone && e[k].op.type != LOB_OP_ADD) {
                c->skipped++;
                continue;
            }
            changed = 1;
            size_t applied;
            int64_t got = lob_apply(book, &e[k].op, 1, &applied);
            if (got < 0) return got;
            c->ops++;
            const lob_event *ev = lob_events(book);
            if (got > 0 && ev[0].type == LOB_EV_REJECT) {
                if (c->rejects++ == 0) {
                    c->reject_code = ev[0].code;
                    c->reject_entry = m->first_entry + (uint32_t)k;
                }
                if (c->stop_on_reject) return (int64_t)i;
            } else if (c->keep_uncrossed && m->kind == MD_MSG_INCREMENTAL &&
                       (e[k].op.type == LOB_OP_ADD || e[k].op.type == LOB_OP_REPLACE)) {
                int sd = e[k].op.side;
                int64_t px = e[k].op.price;
                if (fresh_id[sd] == 0 || (sd == LOB_BUY ? px > fresh_price[sd] : px < fresh_price[sd])) {
                    fresh_id[sd] = e[k].op.id;
                    fresh_price[sd] = px;
                }
            }
        }
        if (clients && m->kind == MD_MSG_SNAPSHOT) lob_own_last(book);
        if (fresh_id[LOB_BUY] || fresh_id[LOB_SELL]) drop_stale(book, fresh_id, fresh_price);
        if (row) {
            lobster_write_row(book, levels, c->empty_ask, c->empty_bid, scratch,
                              c->rows + c->rows_written * 4 * levels);
            c->rows_written++;
        }
        if (tops && changed) write_top(book, c, m, last, &have_last);
        if (c->stop_on_fill && c->fills_written > fills_before) return (int64_t)(i + 1);
        if (c->stop_on_fill && clients && changed && client_crossed(book, c)) {
            c->crossed = 1;
            return (int64_t)(i + 1);
        }
        watch_dirty |= changed;
        if (watch_stop(book, c, msgs, i, to, &watch_dirty)) return (int64_t)(i + 1);
    }
    return (int64_t)to;
}

int64_t md_apply(lob_book *book, const md_msg *msgs, size_t from, size_t to,
                 const md_entry *entries, md_apply_ctl *c) {
    c->rows_written = 0;
    c->fills_written = 0;
    c->tops_written = 0;
    c->trade_ids_written = 0;
    c->rejects = 0;
    c->reject_code = 0;
    c->reject_entry = 0;
    c->ops = 0;
    c->skipped = 0;
    c->crossed = 0;
    c->touched = 0;
    if (c->levels > MD_MAX_LEVELS) return CORE_ERR_BAD_OP;
    candidate *cand = NULL;
    if (c->clients != NULL && c->client_count > 0) {
        if (c->client_count > SIZE_MAX / sizeof *cand) return CORE_ERR_NOMEM;
        cand = malloc(c->client_count * sizeof *cand);
        if (cand == NULL) return CORE_ERR_NOMEM;
    }
    int64_t done = apply_range(book, msgs, from, to, entries, c, cand);
    free(cand);
    return done;
}
