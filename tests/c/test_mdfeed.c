/* Unit tests for csrc/mdfeed.c and csrc/mdlobster.c; run under ASan/UBSan by
 * tests/test_c_sanitized.py. The Python tests (tests/test_md_*.py) cover whole LOBSTER days;
 * these pin the C contracts: ops per entry, statuses, offsets, and a plan applied back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "mdfeed.h"
#include "mdlobster.h"

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* A log of FIX 4.4 lines built from bodies written with '|' for SOH. */
static char log_buf[1 << 14];
static size_t log_len;

/* A line whose header has "34=<seq>", or no 34 when seq is NULL. */
static void add_line_seq(const char *msg_type, const char *seq, const char *time, const char *body) {
    char rest[2048], frame[2400];
    int n = seq ? snprintf(rest, sizeof rest, "35=%s|34=%s|49=V|52=%s|56=G|%s", msg_type, seq, time, body)
                : snprintf(rest, sizeof rest, "35=%s|49=V|52=%s|56=G|%s", msg_type, time, body);
    for (int i = 0; i < n; i++)
        if (rest[i] == '|') rest[i] = '\x01';
    int m = snprintf(frame, sizeof frame, "8=FIX.4.4\x01" "9=%d\x01%s", n, rest);
    unsigned sum = 0;
    for (int i = 0; i < m; i++) sum += (unsigned char)frame[i];
    log_len += (size_t)snprintf(log_buf + log_len, sizeof log_buf - log_len,
                                "%s : %s10=%03u\x01\n", time, frame, sum % 256);
}

static void add_line(const char *msg_type, const char *time, const char *body) {
    add_line_seq(msg_type, "1", time, body);
}

static struct fix_msg msgs[64];
static struct fix_field fields[4096];
static md_msg out_msgs[64];
static md_entry out_entries[256];

/* Frame the log: md_decode reads the framer's records as they are. */
static md_frames frame_log(void) {
    struct fix_scan s = {.msgs = msgs, .msg_cap = 64, .fields = fields, .field_cap = 4096,
                         .flags = FIX_SCAN_FINAL};
    int n = fix_scan((const uint8_t *)log_buf, log_len, 0, &s);
    CHECK(n >= 0);
    md_frames f = {.buf = (const uint8_t *)log_buf, .len = log_len, .msgs = msgs,
                   .count = s.msg_count, .fields = fields, .field_total = s.field_count};
    return f;
}

static const char symbols[] = "ABCXYZ";
static const uint32_t sym_offsets[] = {0, 3, 6};

static md_decoder decoder(uint32_t sym_count) {
    md_decoder d = {.symbols = symbols, .sym_offset = sym_offsets, .sym_count = sym_count,
                    .price_decimals = 4, .at_line_start = 1, .last_time_ns = INT64_MIN};
    return d;
}

static void test_entries_become_ops(void) {
    log_len = 0;
    add_line("W", "20120621-13:30:00.000000001",
             "55=ABC|268=3|269=0|270=10|271=100|269=1|270=10.5|271=7|269=1|270=10.75|271=1|");
    add_line("X", "20120621-13:30:00.5",
             "268=6|279=0|269=0|278=42|55=ABC|270=9.99|271=5|279=1|269=0|278=42|55=ABC|270=9.99|271=2|"
             "279=1|269=1|55=ABC|270=10.5|271=0|279=2|269=0|278=x1|55=ABC|270=10|271=3|"
             "279=2|269=1|55=ABC|270=10.75|279=0|269=2|55=ABC|270=10.25|271=9|37=77|");
    md_frames f = frame_log();
    CHECK(f.count == 2);
    md_decoder d = decoder(1);
    int64_t n = md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256);
    CHECK(n == 2 && d.status == MD_OK && d.entry_count == 9);
    CHECK(out_msgs[0].kind == MD_MSG_SNAPSHOT && out_msgs[0].sym == 0);
    CHECK(out_msgs[0].time_ns == 1340285400000000001LL);
    CHECK(out_msgs[1].kind == MD_MSG_INCREMENTAL && out_msgs[1].first_entry == 3);
    CHECK(out_msgs[1].entry_count == 6 && out_msgs[1].time_ns == 1340285400500000000LL);
    const md_entry *e = out_entries;
    CHECK(e[0].op.type == LOB_OP_ADD && e[0].op.id == MD_LEVEL_ID(LOB_BUY, 100000));
    CHECK(e[0].op.qty == 100 && e[0].flags == MD_F_LEVEL);
    CHECK(e[1].op.side == LOB_SELL && e[1].op.price == 105000);
    e += 3;
    CHECK(e[0].op.type == LOB_OP_ADD && e[0].op.id == 42 && e[0].op.price == 99900);
    CHECK(e[1].op.type == LOB_OP_REPLACE && e[1].op.id == 42 && e[1].op.qty == 2);
    CHECK(e[2].op.type == LOB_OP_CANCEL && e[2].op.id == MD_LEVEL_ID(LOB_SELL, 105000));
    CHECK(e[3].op.type == LOB_OP_DELETE && (e[3].flags & MD_F_TEXT_ID) && e[3].op.qty == 3);
    CHECK(e[3].text_length == 2 && memcmp(log_buf + e[3].text_offset, "x1", 2) == 0);
    CHECK(e[4].op.type == LOB_OP_DELETE && e[4].op.id == 0 && e[4].op.qty == LOB_MAX_QTY);
    CHECK(e[4].op.price == 107500 && e[4].action == 2);
    CHECK(e[5].kind == MD_ENTRY_TRADE && e[5].op.type == 0 && e[5].op.price == 102500);
    CHECK(e[5].op.qty == 9 && e[5].op.id == 77 && e[5].msg == 1);
    CHECK(e[5].time_ns == out_msgs[1].time_ns);
    uint32_t bad = 0;
    CHECK(md_check_tail((const uint8_t *)log_buf, log_len, d.gap_from, d.at_line_start, &bad) == 0);

    /* Applied to a book, with a row after the incremental refresh. */
    lob_book *book = lob_new(16);
    int64_t rows[2 * 4];
    md_apply_ctl c = {.sym = 0, .stop_on_reject = 0, .levels = 2, .empty_ask = 999,
                      .empty_bid = -999, .rows = rows, .rows_cap = 2};
    /* The text id stays 0 here: an unknown id, so DELETE takes 3 from the level at 10. */
    CHECK(md_apply(book, out_msgs, 0, 2, out_entries, &c) == 2);
    CHECK(c.rows_written == 1 && c.rejects == 0 && c.ops == 8);
    int64_t want[8] = {999, 0, 100000, 97, 999, 0, 99900, 2};
    CHECK(memcmp(rows, want, sizeof want) == 0);
    CHECK(lob_check_invariants(book) == 0);
    lob_free(book);
}

static void test_statuses_and_offsets(void) {
    /* An incremental refresh for a symbol with no snapshot: an error at its offset. */
    log_len = 0;
    add_line("X", "20120621-13:30:00", "268=1|279=0|269=0|278=1|55=XYZ|270=1|271=1|");
    md_frames f = frame_log();
    md_decoder d = decoder(1);
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 0);
    CHECK(d.status == MD_ERR_UNKNOWN_SYMBOL && d.err_offset == f.msgs[0].start);
    CHECK(d.err_value_length == 3 && memcmp(log_buf + d.err_value_offset, "XYZ", 3) == 0);

    /* A snapshot for a new symbol stops before it; with the symbol known it goes on. */
    log_len = 0;
    add_line("W", "20120621-13:30:00", "55=XYZ|268=0|");
    add_line("X", "20120621-13:29:59", "268=1|279=0|269=0|278=1|55=XYZ|270=1|271=1|");
    f = frame_log();
    d = decoder(1);
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 0 && d.status == MD_NEW_SYMBOL);
    d.sym_count = 2;
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 1);
    CHECK(d.status == MD_ERR_TIME_BACKWARDS && d.err_msg == 1 && d.err_tag == 52);
    CHECK(memcmp(log_buf + d.err_value_offset, "20120621-13:29:59", 17) == 0);

    /* No room: stops before the message, nothing half written. */
    d = decoder(2);
    CHECK(md_decode(&f, 0, &d, out_msgs, 1, out_entries, 256) == 1 && d.status == MD_NEED_ROOM);

    /* A text line between messages, and a tail that is not blank. */
    log_len = 0;
    add_line("W", "20120621-13:30:00", "55=ABC|268=0|");
    log_len += (size_t)snprintf(log_buf + log_len, 64, "hello\n");
    size_t hello = log_len - 6;
    add_line("X", "20120621-13:30:01", "268=0|");
    f = frame_log();
    d = decoder(1);
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 1);
    CHECK(d.status == MD_ERR_LINE && d.err_offset == hello);
    uint32_t bad = 0;
    CHECK(md_check_tail((const uint8_t *)"x\n  \nzz", 7, 1, 0, &bad) == -1 && bad == 5);
    CHECK(md_check_tail((const uint8_t *)"x \r\n\n", 5, 1, 0, &bad) == 0);

    /* Malformed values name their tag. */
    log_len = 0;
    add_line("W", "20120621-13:30:00", "55=ABC|268=1|269=0|270=1.00001|271=1|");
    f = frame_log();
    d = decoder(1);
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 0);
    CHECK(d.status == MD_ERR_VALUE && d.err_tag == 270);

    /* MDEntryType: with no values given any goes (kept as other); given, only those. */
    log_len = 0;
    add_line("W", "20120621-13:30:00", "55=ABC|268=2|269=0|270=1|271=1|269=4|270=2|271=1|");
    add_line("X", "20120621-13:30:01", "268=1|279=0|269=Zz|55=ABC|270=1|271=1|");
    f = frame_log();
    d = decoder(1);
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 2 && d.status == MD_OK);
    CHECK(out_entries[1].kind == MD_ENTRY_OTHER && out_entries[1].entry_type == '4');
    d = decoder(1);
    d.entry_types[0] = (1ull << '0') | (1ull << '1') | (1ull << '2') | (1ull << '4');
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 1);
    CHECK(d.status == MD_ERR_VALUE && d.err_tag == 269 && d.err_msg == 1);
    CHECK(d.err_value_length == 2 && memcmp(log_buf + d.err_value_offset, "Zz", 2) == 0);
    d = decoder(1);
    d.entry_types[0] = (1ull << '0') | (1ull << '1');
    CHECK(md_decode(&f, 0, &d, out_msgs, 64, out_entries, 256) == 0);
    CHECK(d.status == MD_ERR_VALUE && d.err_tag == 269 && d.err_msg == 0);
}

/* A LOBSTER plan applied as a reader would: by-order entries as orders, by-level entries on
 * the level's own quantity, reproduces the replay's book. */
static void test_plan(void) {
    lobster_msg m[4] = {
        {.time_ns = 1, .id = 5, .size = 10, .price = 100, .type = 1, .direction = 1},
        {.time_ns = 2, .id = 9, .size = 30, .price = 100, .type = 4, .direction = 1},
        {.time_ns = 3, .id = 5, .size = 4, .price = 100, .type = 2, .direction = 1},
        {.time_ns = 4, .id = 0, .size = 1, .price = 101, .type = 5, .direction = -1},
    };
    /* One level each side; the first row holds 50 at 100 after the add of 10. */
    int64_t rows[4][4] = {{200, 5, 100, 50}, {200, 5, 100, 20}, {200, 5, 100, 16},
                          {200, 5, 100, 16}};
    lob_book *book = lob_new(16);
    mdlob_entry snap[3], out[64];
    lobster_error err;
    CHECK(mdlob_seed(book, m, &rows[0][0], 1, snap, 3, &err) == 2);
    CHECK(snap[0].kind == MDLOB_BY_LEVEL && snap[0].side == LOB_BUY && snap[0].size == 40);
    CHECK(snap[1].side == LOB_SELL && snap[1].price == 200 && snap[1].size == 5);
    size_t count = 0;
    mdlob_stats stats = {0};
    CHECK(mdlob_plan(book, m, &rows[0][0], 0, 4, 1, out, 64, &count, &stats, &err) == 4);
    CHECK(count == 5 && stats.rows_differ == 0 && stats.trades == 2 && stats.fallbacks == 1);
    CHECK(out[0].kind == MDLOB_BY_ORDER && out[0].action == MDLOB_NEW && out[0].id == 5);
    /* Order 9 is unknown: 30 of the level's own 40 went, 10 are left. */
    CHECK(out[1].kind == MDLOB_TRADE && out[1].id == 9 && out[1].size == 30);
    CHECK(out[2].kind == MDLOB_BY_LEVEL && out[2].action == MDLOB_CHANGE && out[2].size == 10);
    CHECK(out[3].kind == MDLOB_BY_ORDER && out[3].action == MDLOB_CHANGE && out[3].size == 6);
    CHECK(out[4].kind == MDLOB_TRADE && out[4].msg == 3);
    /* A plan cannot fit: nothing planned, nothing written. */
    CHECK(mdlob_seed(book, m, &rows[0][0], 1, snap, 3, &err) == 2);
    CHECK(mdlob_plan(book, m, &rows[0][0], 0, 4, 1, out, 2, &count, &stats, &err) == 0);
    CHECK(count == 0);
    /* Time going backwards is an error at its line. */
    m[2].time_ns = 0;
    CHECK(mdlob_plan(book, m, &rows[0][0], 0, 4, 1, out, 64, &count, &stats, &err) == -1);
    CHECK(err.status == MDLOB_ERR_TIME && err.line == 3);
    lob_free(book);
}

/* md_seqnums: each message's first MsgSeqNum, -1 when missing or not 1 to 18 digits. */
static void test_seqnums(void) {
    log_len = 0;
    const char *t = "20120621-13:30:00.000000000";
    add_line_seq("X", "7", t, "268=0|34=9|");            /* the first 34 counts */
    add_line_seq("X", NULL, t, "268=0|");                /* none */
    add_line_seq("X", "12a", t, "268=0|");               /* not a number */
    add_line_seq("X", "999999999999999999", t, "268=0|"); /* 18 digits */
    add_line_seq("X", "1000000000000000000", t, "268=0|"); /* 19: too long */
    add_line_seq("X", "-3", t, "268=0|");
    md_frames f = frame_log();
    CHECK(f.count == 6);
    int64_t seq[6];
    md_seqnums(&f, seq);
    CHECK(seq[0] == 7 && seq[1] == -1 && seq[2] == -1 && seq[3] == 999999999999999999LL &&
          seq[4] == -1 && seq[5] == -1);
}

int main(void) {
    test_seqnums();
    test_entries_become_ops();
    test_statuses_and_offsets();
    test_plan();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_mdfeed: ok\n");
    return 0;
}
