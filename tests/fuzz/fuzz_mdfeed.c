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
 *  - md_check_tail's offset, when it reports one, lies in the tail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "mdfeed.h"

#define FAIL(...)                          \
    do {                                   \
        fprintf(stderr, "fuzz_mdfeed: ");  \
        fprintf(stderr, __VA_ARGS__);      \
        fprintf(stderr, "\n");             \
        abort();                           \
    } while (0)

#define MAX_SYMS 4
#define MAX_MSGS 256
#define MAX_FIELDS 8192

static struct fix_msg msgs[MAX_MSGS];
static struct fix_field fields[MAX_FIELDS];
static uint32_t cols[8][MAX_FIELDS];
static md_msg out_msgs[MAX_MSGS];
static md_entry out_entries[MAX_FIELDS];
static int64_t rows[MAX_MSGS * 4 * 5];

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
    int64_t last_time = INT64_MIN;
    size_t from = 0;
    int stop = 0;
    while (!stop) {
        if (fix_scan(data, size, from, &s) < 0) FAIL("fix_scan refused the input");
        for (uint32_t i = 0; i < s.msg_count; i++) {
            cols[0][i] = msgs[i].start;
            cols[1][i] = msgs[i].end;
            cols[2][i] = msgs[i].status;
            cols[3][i] = msgs[i].first_field;
            cols[4][i] = msgs[i].field_count;
        }
        for (uint32_t j = 0; j < s.field_count; j++) {
            cols[5][j] = fields[j].tag;
            cols[6][j] = fields[j].offset;
            cols[7][j] = fields[j].length;
        }
        md_frames f = {.buf = data, .len = size, .start = cols[0], .end = cols[1], .status = cols[2],
                       .first_field = cols[3], .field_count = cols[4], .count = s.msg_count,
                       .tag = cols[5], .offset = cols[6], .length = cols[7],
                       .field_total = s.field_count};
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
                                  .empty_ask = 9, .empty_bid = -9, .rows = rows, .rows_cap = MAX_MSGS};
                int64_t done = md_apply(books[k], out_msgs, 0, (size_t)n, out_entries, &c);
                if (done < 0 && done != CORE_ERR_NOMEM) FAIL("md_apply: %lld", (long long)done);
                if (done == n && c.rows_written != incrementals)
                    FAIL("%zu rows for %zu incremental refreshes", c.rows_written, incrementals);
                int line = lob_check_invariants(books[k]);
                if (line) FAIL("book %u corrupt: book.c:%d", k, line);
            }
            i += (size_t)n;
            if (d.status == MD_OK) break;
            if (d.status == MD_NEED_ROOM) {
                if (n == 0) entry_cap = entry_cap * 2 > MAX_FIELDS ? MAX_FIELDS : entry_cap * 2;
                if (n == 0 && entry_cap == MAX_FIELDS && msg_cap >= 1 && f.field_count[i] > MAX_FIELDS)
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
