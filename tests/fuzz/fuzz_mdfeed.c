/* libFuzzer harness for csrc/mdfeed.c: decoding market-data logs and applying them to books.
 *
 * The input is a market-data log. It is framed (framing.h), decoded with md_decode (snapshots
 * add their symbol to a small table; output arrays as small as a hash of the input says, so
 * decoding resumes after MD_NEED_ROOM often) and applied with md_apply to one book per symbol
 * with rows. The harness aborts unless
 *  - every offset md_decode reports (messages, text ids, errors) lies inside the input;
 *  - message records tile the entry array (first_entry, entry_count), entries point back at
 *    their message and carry its time, times never go backwards, symbols are in the table;
 *  - every book passes lob_check_invariants after every apply, and md_apply writes exactly
 *    one row per incremental refresh of its symbol;
 *  - with client orders (DAY limits with ids from 2^62, placed between applies at levels of the
 *    book or anywhere, as a hash-seeded generator says): md_apply never stops early with fills
 *    sized trades + 2 * clients and tops sized one row a message (mdfeed.h's bounds); each fill
 *    names a client order at its own price and side, comes from a trade entry of the symbol
 *    with size > 0 (the entry's OrderID and time, fills in entry order, at most its size in
 *    all, never more than the client's leaves before the call), and a client filled to zero
 *    is gone; top-of-book rows differ from the row before, go forward in time, and the last
 *    one is the book's best bid/offer at the end;
 *  - md_check_tail's offset, when it reports one, lies in the tail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "mdfeed.h"
#include "fuzz_fail.h"

#define MAX_SYMS 4
#define MAX_MSGS 256
#define MAX_FIELDS 8192

static struct fix_msg msgs[MAX_MSGS];
static struct fix_field fields[MAX_FIELDS];
static md_msg out_msgs[MAX_MSGS];
static md_entry out_entries[MAX_FIELDS];
static int64_t rows[MAX_MSGS * 4 * 5];

#define MAX_CLIENTS 6
#define CLIENT_BASE ((int64_t)1 << 62)
static md_fill fills[MAX_FIELDS + 2 * MAX_CLIENTS];
static int64_t tops[MAX_MSGS * MD_TOP_FIELDS];
static int64_t trade_filled[MAX_FIELDS];

/* Client orders of one book: ids (the newest MAX_CLIENTS; older ones may still rest) and what
 * they were placed with. */
typedef struct {
    int64_t id[MAX_CLIENTS], price[MAX_CLIENTS], side[MAX_CLIENTS];
    int64_t before[MAX_CLIENTS]; /* leaves before an apply */
    int64_t filled[MAX_CLIENTS]; /* filled in that apply */
    size_t count, next;
} clients_t;

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Maybe place a client order: joining the queue of a level the book has, one tick better than
 * its side's best (so that executions on that side reach it), or at a price of its own; it
 * may trade on entry. */
static void place_client(lob_book *book, clients_t *cl, uint64_t *seed, int64_t *next_id) {
    uint64_t r = rng(seed);
    if ((r & 3) == 0) return;
    int side = (int)((r >> 2) & 1);
    lob_level lv[5];
    size_t n = lob_depth(book, side, lv, 5);
    int64_t price = 1 + (int64_t)((r >> 8) % 2000);
    if (n && (r >> 3) % 3 == 1) price = lv[(r >> 5) % n].price;
    if (n && (r >> 3) % 3 == 2) price = lv[0].price + (side == LOB_BUY ? 1 : -1);
    if (price <= 0) price = 1;
    int64_t qty = 1 + (int64_t)((r >> 20) % 60);
    int64_t id = (*next_id)++;
    lob_op op = {.id = id, .side = (uint8_t)side, .price = price, .qty = qty, .type = LOB_OP_LIMIT};
    size_t applied;
    if (lob_apply(book, &op, 1, &applied) < 0) return;
    size_t slot = cl->next++ % MAX_CLIENTS;
    cl->id[slot] = id;
    cl->price[slot] = price;
    cl->side[slot] = side;
    if (cl->count < MAX_CLIENTS) cl->count++;
}

static int64_t leaves_of(const lob_book *book, int64_t id) {
    lob_order_info o;
    return lob_order(book, id, &o) == CORE_OK ? o.qty : 0;
}

static void check_fills(const lob_book *book, clients_t *cl, const md_apply_ctl *c, size_t n_msgs) {
    uint32_t last_entry = 0;
    for (size_t j = 0; j < c->fills_written; j++) {
        const md_fill *f = &fills[j];
        size_t s = 0;
        while (s < cl->count && cl->id[s] != f->order_id) s++;
        if (s == cl->count) FAIL("fill %zu of an order that is no client", j);
        if (f->price != cl->price[s] || f->side != cl->side[s]) FAIL("fill %zu: price or side", j);
        if (f->qty <= 0 || f->leaves < 0) FAIL("fill %zu: qty %lld leaves %lld", j,
                                               (long long)f->qty, (long long)f->leaves);
        if (f->entry < last_entry) FAIL("fill %zu out of entry order", j);
        last_entry = f->entry;
        const md_entry *e = &out_entries[f->entry];
        if (e->msg >= n_msgs || e->kind != MD_ENTRY_TRADE || e->sym != c->sym || e->op.qty <= 0)
            FAIL("fill %zu: entry %u is no trade of the symbol", j, f->entry);
        if (f->trade_order_id != e->op.id || f->trade_price != e->op.price ||
            f->time_ns != e->time_ns)
            FAIL("fill %zu: not its trade's OrderID, price or time", j);
        if (!f->hidden && f->trade_order_id <= 0) FAIL("fill %zu: no order of record", j);
        trade_filled[f->entry] += f->qty;
        if (trade_filled[f->entry] > e->op.qty) FAIL("trade %u filled beyond its size", f->entry);
        cl->filled[s] += f->qty;
        if (cl->filled[s] > cl->before[s]) FAIL("client %zu filled beyond its leaves", s);
        if (f->leaves == 0 && leaves_of(book, f->order_id) != 0)
            FAIL("client filled to zero still rests");
    }
    for (size_t j = 0; j < c->fills_written; j++) trade_filled[fills[j].entry] = 0;
}

static void check_tops(const lob_book *book, const md_apply_ctl *c, int complete) {
    for (size_t r = 1; r < c->tops_written; r++) {
        const int64_t *a = tops + (r - 1) * MD_TOP_FIELDS, *b = a + MD_TOP_FIELDS;
        if (b[0] < a[0]) FAIL("top rows go back in time");
        if (memcmp(a + 1, b + 1, 4 * sizeof *a) == 0) FAIL("top row %zu repeats the last", r);
    }
    if (complete && c->tops_written) {
        int64_t bbo[4];
        lob_bbo(book, bbo);
        if (memcmp(bbo, tops + (c->tops_written - 1) * MD_TOP_FIELDS + 1, sizeof bbo) != 0)
            FAIL("the last top row is not the book's best bid/offer");
    }
}

static uint64_t hash(const uint8_t *data, size_t size) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

typedef struct {
    char names[MAX_SYMS * 64];
    uint32_t offsets[MAX_SYMS + 1];
    uint32_t count;
} symtab;

static int add_symbol(symtab *t, const uint8_t *name, uint32_t len) {
    if (t->count == MAX_SYMS || t->offsets[t->count] + len > sizeof t->names) return 0;
    memcpy(t->names + t->offsets[t->count], name, len);
    t->offsets[t->count + 1] = t->offsets[t->count] + len;
    t->count++;
    return 1;
}

static void check_decoded(size_t size, const md_decoder *d, int64_t n,
                          int64_t *last_time, uint32_t sym_count) {
    uint32_t expect_first = 0;
    for (int64_t i = 0; i < n; i++) {
        const md_msg *m = &out_msgs[i];
        if (m->start >= size) FAIL("message %lld starts at %u of %zu", (long long)i, m->start, size);
        if (m->first_entry != expect_first) FAIL("entries of message %lld do not follow on", (long long)i);
        expect_first += m->entry_count;
        if (m->kind == MD_MSG_OTHER) {
            if (m->entry_count) FAIL("other message with entries");
            continue;
        }
        if (m->time_ns < *last_time) FAIL("time went backwards");
        *last_time = m->time_ns;
        if (m->kind == MD_MSG_SNAPSHOT && m->sym >= sym_count) FAIL("snapshot symbol %u", m->sym);
        for (uint32_t k = m->first_entry; k < m->first_entry + m->entry_count; k++) {
            const md_entry *e = &out_entries[k];
            if (e->msg != (uint32_t)i || e->time_ns != m->time_ns) FAIL("entry %u: wrong message", k);
            if (e->sym >= sym_count) FAIL("entry %u: symbol %u", k, e->sym);
            if ((e->flags & MD_F_TEXT_ID) && (uint64_t)e->text_offset + e->text_length > size)
                FAIL("entry %u: text id outside the input", k);
            if (e->kind < MD_ENTRY_BOOK || e->kind > MD_ENTRY_OTHER) FAIL("entry kind %u", e->kind);
        }
    }
    if (expect_first != d->entry_count) FAIL("entry_count %u, messages hold %u", d->entry_count, expect_first);
    if (d->status < 0 && d->err_offset > size) FAIL("error offset %u of %zu", d->err_offset, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    uint64_t h = hash(data, size);
    size_t msg_cap = 1 + h % 7, entry_cap = 1 + (h >> 8) % 40;
    size_t levels = 1 + (h >> 16) % 5;
    struct fix_scan s = {.msgs = msgs, .msg_cap = MAX_MSGS, .fields = fields,
                         .field_cap = MAX_FIELDS, .flags = FIX_SCAN_FINAL};
    symtab t = {.count = 0};
    t.offsets[0] = 0;
    lob_book *books[MAX_SYMS] = {0};
    md_decoder d = {.symbols = t.names, .sym_offset = t.offsets, .price_decimals = (int32_t)((h >> 24) % 10),
                    .at_line_start = 1, .last_time_ns = INT64_MIN};
    if ((h >> 50) & 1) { /* FIX 4.4's MDEntryTypes, 0-9 and A-C, else any */
        d.entry_types[0] = 0x03FF000000000000ull;
        d.entry_types[1] = 0xEull;
    }
    int64_t last_time = INT64_MIN;
    clients_t clients[MAX_SYMS];
    memset(clients, 0, sizeof clients);
    uint64_t seed = h | 1;
    int64_t next_id = CLIENT_BASE;
    int with_clients = (h >> 44) % 4 != 0;
    size_t from = 0;
    int stop = 0;
    while (!stop) {
        if (fix_scan(data, size, from, &s) < 0) FAIL("fix_scan refused the input");
        md_frames f = {.buf = data, .len = size, .msgs = msgs, .count = s.msg_count,
                       .fields = fields, .field_total = s.field_count};
        size_t i = 0;
        while (i < f.count && !stop) {
            d.sym_count = t.count;
            int64_t n = md_decode(&f, i, &d, out_msgs, msg_cap, out_entries, entry_cap);
            if (n < 0 || (size_t)n > msg_cap) FAIL("md_decode returned %lld", (long long)n);
            check_decoded(size, &d, n, &last_time, t.count);
            for (uint32_t k = 0; k < t.count; k++) {
                if (!books[k] && !(books[k] = lob_new(64))) FAIL("no memory");
                size_t incrementals = 0;
                for (int64_t m = 0; m < n; m++) {
                    if (out_msgs[m].kind != MD_MSG_INCREMENTAL) continue;
                    int mine = 0;
                    for (uint32_t e = 0; e < out_msgs[m].entry_count; e++)
                        mine |= out_entries[out_msgs[m].first_entry + e].sym == k;
                    incrementals += (size_t)mine;
                }
                md_apply_ctl c = {.sym = k, .stop_on_reject = (uint32_t)(h >> 40) & 1, .levels = levels,
                                  .keep_uncrossed = (uint32_t)(h >> 41) & 1,
                                  .empty_ask = 9, .empty_bid = -9, .rows = rows, .rows_cap = MAX_MSGS};
                if ((h >> 42) & 1) { /* a watch: the bid at most a price from the input */
                    c.watch_on = 1;
                    c.watch[0] = INT64_MIN;
                    c.watch[1] = (int64_t)((h >> 43) & 0xffff);
                    c.watch[2] = INT64_MIN;
                    c.watch[3] = INT64_MAX;
                    c.watch_base_ns = (int64_t)((h >> 20) & 0xfff);
                    c.watch_step_ns = (h >> 59) & 1 ? 1000 : 0;
                }
                clients_t *cl = &clients[k];
                if (with_clients) {
                    place_client(books[k], cl, &seed, &next_id);
                    place_client(books[k], cl, &seed, &next_id);
                    size_t trades = 0;
                    for (uint32_t e = 0; e < d.entry_count; e++)
                        trades += out_entries[e].kind == MD_ENTRY_TRADE;
                    for (size_t j = 0; j < cl->count; j++) {
                        cl->before[j] = leaves_of(books[k], cl->id[j]);
                        cl->filled[j] = 0;
                    }
                    c.clients = cl->id;
                    c.client_count = cl->count;
                    c.fills = fills;
                    c.fills_cap = trades + 2 * cl->count;
                    c.tops = tops;
                    c.tops_cap = (size_t)n;
                }
                int64_t done = md_apply(books[k], out_msgs, 0, (size_t)n, out_entries, &c);
                if (done < 0 && done != CORE_ERR_NOMEM) FAIL("md_apply: %lld", (long long)done);
                if (done == n && c.rows_written != incrementals)
                    FAIL("%zu rows for %zu incremental refreshes", c.rows_written, incrementals);
                if (done >= 0 && done < n && !(c.stop_on_reject && c.rejects) && !c.touched)
                    FAIL("md_apply stopped early at %lld of %lld", (long long)done, (long long)n);
                if (c.touched) { /* it stopped where the book left the watch */
                    int64_t bbo[4];
                    lob_bbo(books[k], bbo);
                    if (!c.watch_on || done <= 0)
                        FAIL("touched without a watch or a message (%lld)", (long long)done);
                    if (bbo[1] > 0 && bbo[0] <= c.watch[1] && !(bbo[3] > 0 && bbo[0] > bbo[2]))
                        FAIL("stopped with the bid %lld inside the watch", (long long)bbo[0]);
                }
                if (c.fills_written > c.fills_cap || c.tops_written > c.tops_cap)
                    FAIL("wrote past the fills or tops");
                if (with_clients && done >= 0) {
                    check_fills(books[k], cl, &c, (size_t)n);
                    check_tops(books[k], &c, done == n);
                }
                int line = lob_check_invariants(books[k]);
                if (line) FAIL("book %u corrupt: book.c:%d", k, line);
            }
            i += (size_t)n;
            if (d.status == MD_OK) break;
            if (d.status == MD_NEED_ROOM) {
                if (n == 0) entry_cap = entry_cap * 2 > MAX_FIELDS ? MAX_FIELDS : entry_cap * 2;
                if (n == 0 && entry_cap == MAX_FIELDS && msg_cap >= 1 && f.msgs[i].field_count > MAX_FIELDS)
                    stop = 1;
                continue;
            }
            if (d.status == MD_NEW_SYMBOL) {
                if (!add_symbol(&t, data + d.err_value_offset, d.err_value_length)) stop = 1;
                continue;
            }
            stop = 1; /* an error: reported, decoding ends there */
        }
        if (stop || s.stop == FIX_STOP_END) break;
        from = s.consumed;
        if (s.stop == FIX_STOP_INCOMPLETE) break;
    }
    if (!stop) {
        uint32_t bad = 0;
        if (md_check_tail(data, size, d.gap_from, d.at_line_start, &bad) != 0 &&
            (bad < d.gap_from || bad > size))
            FAIL("tail offset %u outside %u..%zu", bad, d.gap_from, size);
    }
    for (int k = 0; k < MAX_SYMS; k++) lob_free(books[k]);
    return 0;
}
