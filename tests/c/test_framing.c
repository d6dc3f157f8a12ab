/* Unit tests for csrc/framing.c; run under ASan/UBSan by tests/test_c_sanitized.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

#define MAX_MSGS 64
#define MAX_FIELDS 1024

static struct fix_msg msgs[MAX_MSGS];
static struct fix_field flds[MAX_FIELDS];

static struct fix_scan make_scan(uint32_t msg_cap, uint32_t field_cap, uint32_t max_size,
                                 uint32_t flags) {
    struct fix_scan s = {
        .msgs = msgs, .msg_cap = msg_cap, .fields = flds, .field_cap = field_cap,
        .max_message_size = max_size, .flags = flags,
    };
    return s;
}

/* Every reported offset is inside the buffer and the accounting adds up. */
static void check_invariants(const char *buf, size_t len, size_t from, const struct fix_scan *s) {
    uint64_t total = s->tail_skipped;
    uint32_t pos = (uint32_t)from;
    for (uint32_t i = 0; i < s->msg_count; i++) {
        CHECK(msgs[i].start == pos + msgs[i].skipped);
        CHECK(msgs[i].end > msgs[i].start && msgs[i].end <= len);
        CHECK(memcmp(buf + msgs[i].start, "8=FIX", 5) == 0);
        CHECK(msgs[i].first_field + msgs[i].field_count <= s->field_count);
        for (uint32_t k = msgs[i].first_field; k < msgs[i].first_field + msgs[i].field_count; k++)
            CHECK(flds[k].offset >= msgs[i].start &&
                  flds[k].offset + flds[k].length <= msgs[i].end);
        for (uint32_t k = msgs[i].first_field; k < msgs[i].first_field + msgs[i].field_count; k++)
            if (flds[k].tag == 0)
                CHECK(msgs[i].status == FIX_FRAME_INVALID_TAG ||
                      msgs[i].status == FIX_FRAME_BAD_CHECKSUM);
        if (msgs[i].status == FIX_FRAME_OK || msgs[i].status == FIX_FRAME_INVALID_TAG) {
            CHECK(msgs[i].field_count >= 4);
            const struct fix_field *f = &flds[msgs[i].first_field];
            CHECK(f[0].tag == 8 && f[1].tag == 9 && f[2].tag == 35);
            CHECK(f[msgs[i].field_count - 1].tag == 10);
        }
        total += msgs[i].skipped + (msgs[i].end - msgs[i].start);
        pos = msgs[i].end;
    }
    CHECK(s->consumed == pos + s->tail_skipped);
    CHECK(total == s->consumed - from);
    CHECK(s->consumed <= len);
}

static int scan(const char *buf, size_t len, size_t from, struct fix_scan *s) {
    int n = fix_scan((const uint8_t *)buf, len, from, s);
    if (n >= 0) check_invariants(buf, len, from, s);
    return n;
}

/* Wrap body ("35=...<SOH>...<SOH>") into a message with correct BodyLength and CheckSum;
 * body_adjust is added to the BodyLength written and checksum_adjust to the CheckSum. */
static size_t make_msg(char *out, const char *begin, const char *body, int body_adjust,
                       int checksum_adjust) {
    size_t blen = strlen(body);
    int n = sprintf(out, "8=%s\x01" "9=%d\x01%s", begin, (int)blen + body_adjust, body);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) sum += (uint8_t)out[i];
    n += sprintf(out + n, "10=%03u\x01", (sum + (unsigned)checksum_adjust) % 256u);
    return (size_t)n;
}

static const char *BODY_D = "35=D\x01" "34=2\x01" "49=BUY\x01" "56=SELL\x01" "11=ORD1\x01"
                            "55=IBM\x01" "54=1\x01" "38=100\x01" "40=2\x01" "44=99.5\x01";

static void test_one_ok_message(void) {
    char buf[512];
    size_t n = make_msg(buf, "FIX.4.2", BODY_D, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1);
    CHECK(s.stop == FIX_STOP_END && s.consumed == n && s.tail_skipped == 0);
    CHECK(msgs[0].status == FIX_FRAME_OK && msgs[0].start == 0 && msgs[0].end == n &&
          msgs[0].skipped == 0);
    CHECK(msgs[0].field_count == 13);
    uint32_t want[] = {8, 9, 35, 34, 49, 56, 11, 55, 54, 38, 40, 44, 10};
    for (int i = 0; i < 13; i++) CHECK(flds[i].tag == want[i]);
    CHECK(flds[0].length == 7 && memcmp(buf + flds[0].offset, "FIX.4.2", 7) == 0);
    CHECK(flds[2].length == 1 && buf[flds[2].offset] == 'D');
    CHECK(flds[11].length == 4 && memcmp(buf + flds[11].offset, "99.5", 4) == 0);
    CHECK(flds[12].length == 3);
}

static void test_fixt_and_many_messages(void) {
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 10; i++) n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 10);
    for (int i = 0; i < 10; i++) CHECK(msgs[i].status == FIX_FRAME_OK && msgs[i].skipped == 0);
    n = make_msg(buf, "FIXT.1.1", "35=A\x01" "1128=9\x01", 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK);
    CHECK(flds[0].length == 8 && memcmp(buf + flds[0].offset, "FIXT.1.1", 8) == 0);
}

static void test_garbage_skipping(void) {
    char buf[2048];
    size_t n = 0;
    n += (size_t)sprintf(buf, "2018/02/23 19:14:25.174454 ");
    size_t first = n;
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    memcpy(buf + n, "\nnoise 8=FI", 11); /* an "8=FI" inside noise is not a start */
    n += 11;
    memcpy(buf + n, "Y junk ", 7);
    n += 7;
    size_t second = n;
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    memcpy(buf + n, "\ntrailing 8=FI", 14);
    n += 14;
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 2);
    CHECK(msgs[0].skipped == first && msgs[0].start == first);
    CHECK(msgs[1].skipped == 18 && msgs[1].start == second);
    /* "8=FI" at the very end may begin a message: kept, the rest of the tail consumed. */
    CHECK(s.stop == FIX_STOP_INCOMPLETE && s.consumed == n - 4 && s.tail_skipped == 10);
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, FIX_SCAN_FINAL);
    CHECK(scan(buf, n, 0, &s) == 2 && s.stop == FIX_STOP_END && s.consumed == n);
    /* Only garbage. */
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan("hello world", 11, 0, &s) == 0 && s.consumed == 11 && s.tail_skipped == 11);
    CHECK(s.stop == FIX_STOP_END);
    CHECK(scan("", 0, 0, &s) == 0 && s.consumed == 0 && s.stop == FIX_STOP_END);
}

static void test_bad_checksum_then_ok(void) {
    char buf[1024];
    size_t n = make_msg(buf, "FIX.4.2", BODY_D, 0, 1);
    size_t n1 = n;
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 2);
    CHECK(msgs[0].status == FIX_FRAME_BAD_CHECKSUM && msgs[0].end == n1 &&
          msgs[0].field_count == 13);
    CHECK(msgs[1].status == FIX_FRAME_OK && msgs[1].start == n1 && msgs[1].skipped == 0);
}

static void test_bad_body_length(void) {
    char buf[1024];
    for (int adjust = -3; adjust <= 3; adjust++) {
        if (adjust == 0) continue;
        size_t n = make_msg(buf, "FIX.4.2", BODY_D, adjust, 0);
        size_t n1 = n;
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
        CHECK(scan(buf, n, 0, &s) == 2);
        CHECK(msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH);
        CHECK(msgs[0].end == n1); /* the resync point: the next "8=FIX" */
        CHECK(msgs[0].field_count == 2 && flds[0].tag == 8 && flds[1].tag == 9);
        CHECK(msgs[1].status == FIX_FRAME_OK && msgs[1].start == n1);
    }
    /* Too long, and the next message not there yet: wait. */
    size_t n = make_msg(buf, "FIX.4.2", BODY_D, 40, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 0 && s.stop == FIX_STOP_INCOMPLETE && s.consumed == 0);
    s.flags = FIX_SCAN_FINAL;
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_TRUNCATED && msgs[0].end == n);
}

/* Each case, followed by a good message, must give GARBLED then OK at the right place. */
static void check_garbled_then_ok(const char *name, const char *bad, size_t n) {
    char good[512], buf[1024];
    size_t g = make_msg(good, "FIX.4.2", BODY_D, 0, 0);
    memcpy(buf, bad, n);
    memcpy(buf + n, good, g);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    int got = scan(buf, n + g, 0, &s);
    int ok = got == 2 && msgs[0].status == FIX_FRAME_GARBLED && msgs[1].status == FIX_FRAME_OK &&
             msgs[1].start == n && msgs[1].end == n + g && msgs[0].end == n;
    if (!ok) {
        fprintf(stderr, "garbled case '%s': got %d messages, status %d/%d\n", name, got,
                got > 0 ? (int)msgs[0].status : -1, got > 1 ? (int)msgs[1].status : -1);
        failures++;
    }
}

static void test_garbled(void) {
    /* Header problems: sent as is. */
    static const char *headers[][2] = {
        {"9 missing", "8=FIX.4.2\x01" "35=0\x01" "9=5\x01" "10=000\x01"},
        {"length not digits", "8=FIX.4.2\x01" "9=1x\x01" "35=0\x01" "10=000\x01"},
        {"length empty", "8=FIX.4.2\x01" "9=\x01" "35=0\x01" "10=000\x01"},
        {"length 11 digits", "8=FIX.4.2\x01" "9=00000000005\x01" "35=0\x01" "10=000\x01"},
        {"checksum not digits", "8=FIX.4.2\x01" "9=5\x01" "35=0\x01" "10=0a0\x01"},
        {"checksum two digits", "8=FIX.4.2\x01" "9=5\x01" "35=0\x01" "10=00\x01"},
        {"long begin string",
         "8=FIX.4.2.0123456789012345678901234567890\x01" "9=5\x01" "35=0\x01" "10=000\x01"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        check_garbled_then_ok(headers[i][0], headers[i][1], strlen(headers[i][1]));
    /* Body problems: wrapped with the right BodyLength and CheckSum. */
    static const char *bodies[][2] = {
        {"35 not third", "49=A\x01" "35=0\x01"},
        {"tag without =", "35=0\x01" "49A\x01" "5=1\x01"},
        {"non-numeric tag", "35=0\x01" "4x=AB\x01"},
        {"empty tag", "35=0\x01" "=ABCD\x01"},
        {"empty field", "35=0\x01" "\x01" "5=1\x01"},
        {"lone minus", "35=0\x01" "-=x\x01"},
        {"minus without digits after it", "35=0\x01" "-x=x\x01"},
        {"letters inside a tag", "35=0\x01" "4garbled9=x\x01"},
        {"minus inside a tag", "35=0\x01" "4-1=x\x01"},
        {"tag 0 first", "0=HI\x01" "35=0\x01"},
        {"negative tag first", "-1=HI\x01" "35=0\x01"},
        {"negative tag of 11 digits", "35=0\x01" "-00000000001=A\x01"},
        {"tag 0 then garbage", "35=0\x01" "0=HI\x01" "5x=1\x01"},
        {"tag too big", "35=0\x01" "4294967296=A\x01"},
        {"tag 11 digits", "35=0\x01" "00000000049=A\x01"},
        {"empty body", ""},
        {"data field overruns", "35=0\x01" "95=9\x01" "96=ab\x01"},
        {"data field without SOH after it", "35=0\x01" "95=1\x01" "96=ab\x01"},
    };
    char bad[512];
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        size_t n = make_msg(bad, "FIX.4.2", bodies[i][1], 0, 0);
        check_garbled_then_ok(bodies[i][0], bad, n);
    }
    /* The largest tag is fine. */
    char buf[256];
    size_t n = make_msg(buf, "FIX.4.2", "35=0\x01" "4294967295=A\x01", 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK && flds[3].tag == 4294967295u);
}

static void test_data_field_with_soh(void) {
    char buf[512];
    const char *body = "35=B\x01" "148=News\x01" "95=7\x01" "96=a\x01" "b=c\x01" "d\x01" "58=x\x01";
    size_t n = make_msg(buf, "FIX.4.2", body, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK);
    CHECK(msgs[0].field_count == 8);
    CHECK(flds[5].tag == 96 && flds[5].length == 7 &&
          memcmp(buf + flds[5].offset, "a\x01" "b=c\x01" "d", 7) == 0);
    CHECK(flds[6].tag == 58);
    /* Data field not directly after its length: an ordinary field (so SOH ends it). */
    const char *body2 = "35=B\x01" "95=3\x01" "58=x\x01" "96=abc\x01";
    n = make_msg(buf, "FIX.4.2", body2, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK && msgs[0].field_count == 7);
    CHECK(fix_data_tag_for_length(95) == 96 && fix_data_tag_for_length(93) == 89);
    CHECK(fix_data_tag_for_length(96) == 0 && fix_data_tag_for_length(9) == 0);
}

/* A scan's extra length/data pairs (a session dictionary's user-defined DATA fields) are
 * read by length as the standard ones are; a tag not among them is an ordinary field. */
static void test_extra_data_fields(void) {
    char buf[512];
    const char *body = "35=B\x01" "5003=x\x01" "5005=3\x01" "5006=a\x01" "b\x01" "58=x\x01";
    size_t n = make_msg(buf, "FIX.4.4", body, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status != FIX_FRAME_OK); /* "b" is no field */
    static const uint32_t pairs[] = {5001, 5002, 5005, 5006, 6001, 6003};
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    s.extra_data = pairs;
    s.extra_data_count = 3;
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK);
    CHECK(flds[5].tag == 5006 && flds[5].length == 3 &&
          memcmp(buf + flds[5].offset, "a\x01" "b", 3) == 0);
    CHECK(flds[6].tag == 58);
    s.extra_data = NULL; /* a count with no table */
    CHECK(fix_scan((const uint8_t *)buf, n, 0, &s) == CORE_ERR_BAD_OP);
}

static void test_too_big(void) {
    char buf[1024];
    size_t n = (size_t)sprintf(buf, "8=FIX.4.2\x01" "9=999999999\x01" "35=D\x01" "58=");
    size_t start2 = n;
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 2);
    CHECK(msgs[0].status == FIX_FRAME_TOO_BIG && msgs[0].end == start2);
    CHECK(msgs[1].status == FIX_FRAME_OK);
    /* A small limit: a normal message is too big for it. */
    size_t k = make_msg(buf, "FIX.4.2", BODY_D, 0, 0);
    s = make_scan(MAX_MSGS, MAX_FIELDS, 50, 0);
    CHECK(scan(buf, k, 0, &s) == 1 && msgs[0].status == FIX_FRAME_TOO_BIG && msgs[0].end == 50);
    CHECK(s.consumed == k);
    /* Exactly the limit is fine. */
    s = make_scan(MAX_MSGS, MAX_FIELDS, (uint32_t)k, 0);
    CHECK(scan(buf, k, 0, &s) == 1 && msgs[0].status == FIX_FRAME_OK);
    /* A huge claim with nothing after it: no buffering beyond max + 4 bytes. */
    char *big = malloc(5000);
    if (!big) abort();
    size_t h = (size_t)sprintf(big, "8=FIX.4.2\x01" "9=4000000000\x01");
    memset(big + h, 'x', 5000 - h);
    s = make_scan(MAX_MSGS, MAX_FIELDS, 1000, 0);
    CHECK(scan(big, 1003, 0, &s) == 0 && s.stop == FIX_STOP_INCOMPLETE && s.consumed == 0);
    CHECK(scan(big, 1004, 0, &s) == 1 && msgs[0].status == FIX_FRAME_TOO_BIG &&
          msgs[0].end == 1000);
    CHECK(s.consumed == 1004 && s.tail_skipped == 4);
    free(big);
}

static void test_every_prefix_is_incomplete(void) {
    char buf[512];
    size_t n = (size_t)sprintf(buf, "junk");
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    for (size_t cut = 0; cut < n; cut++) {
        struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
        CHECK(scan(buf, cut, 0, &s) == 0);
        CHECK(s.consumed <= 4 && (cut < 4 || s.consumed == 4));
        CHECK(cut <= 4 ? 1 : s.stop == FIX_STOP_INCOMPLETE);
        s.flags = FIX_SCAN_FINAL;
        int got = scan(buf, cut, 0, &s);
        CHECK(s.consumed == cut && s.stop == FIX_STOP_END);
        CHECK(cut < 9 ? got == 0 : (got == 1 && msgs[0].status == FIX_FRAME_TRUNCATED));
    }
}

static void test_capacity_limits(void) {
    char buf[2048];
    size_t n = 0, ends[3];
    for (int i = 0; i < 3; i++) {
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        ends[i] = n;
    }
    struct fix_scan s = make_scan(1, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && s.stop == FIX_STOP_MSGS_FULL && s.consumed == ends[0]);
    CHECK(scan(buf, n, s.consumed, &s) == 1 && msgs[0].start == ends[0] && msgs[0].end == ends[1]);
    CHECK(scan(buf, n, s.consumed, &s) == 1 && s.consumed == n && s.stop == FIX_STOP_END);
    s = make_scan(0, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 0 && s.stop == FIX_STOP_MSGS_FULL && s.consumed == 0);
    /* Fields for one and a half messages: one reported, the next left for the caller. */
    s = make_scan(MAX_MSGS, 20, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && s.stop == FIX_STOP_FIELDS_FULL && s.consumed == ends[0]);
    CHECK(s.field_count == 13);
    s = make_scan(MAX_MSGS, 12, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 0 && s.stop == FIX_STOP_FIELDS_FULL && s.consumed == 0);
    s = make_scan(MAX_MSGS, 0, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 0 && s.stop == FIX_STOP_FIELDS_FULL);
}

static void test_argument_errors(void) {
    char buf[16] = "8=FIX";
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    s.msg_count = 77;
    CHECK(fix_scan((const uint8_t *)buf, 5, 6, &s) == CORE_ERR_BAD_OP);
    CHECK(s.msg_count == 77);
#if SIZE_MAX > 0xFFFFFFFFu
    /* Rejected before any byte is read, so a short buffer is safe here. */
    CHECK(fix_scan((const uint8_t *)buf, (size_t)FIX_MAX_BUFFER_SIZE + 1, 0, &s) ==
          CORE_ERR_TOO_BIG);
#endif
    s.msgs = NULL;
    CHECK(fix_scan((const uint8_t *)buf, 5, 0, &s) == CORE_ERR_BAD_OP);
}

/* Feeding a stream in two reads, cut anywhere, reports the same messages as one read. */
static void test_split_anywhere(void) {
    char buf[2048];
    size_t n = (size_t)sprintf(buf, "noise");
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 7);  /* bad checksum */
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 2, 0);  /* bad body length */
    n += (size_t)sprintf(buf + n, "xx");
    n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    int whole = scan(buf, n, 0, &s);
    CHECK(whole == 4);
    uint32_t w_start[8], w_end[8], w_status[8];
    for (int i = 0; i < whole; i++) {
        w_start[i] = msgs[i].start;
        w_end[i] = msgs[i].end;
        w_status[i] = msgs[i].status;
    }
    for (size_t cut = 0; cut <= n; cut++) {
        int got = 0;
        int same = 1;
        s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
        int a = scan(buf, cut, 0, &s);
        for (int i = 0; i < a; i++)
            same &= msgs[i].start == w_start[i] && msgs[i].end == w_end[i] &&
                  msgs[i].status == w_status[i];
        got += a;
        int b = scan(buf, n, s.consumed, &s);
        for (int i = 0; i < b; i++)
            same &= msgs[i].start == w_start[got + i] && msgs[i].end == w_end[got + i] &&
                    msgs[i].status == w_status[got + i];
        got += b;
        if (!same || got != whole) {
            fprintf(stderr, "split at %zu: got %d messages, same=%d\n", cut, got, same);
            failures++;
        }
    }
}

/* Tags that are integers <= 0: INVALID_TAG, each reported as tag 0 with its tag text. */
static void test_invalid_tag(void) {
    static const char *cases[][2] = {
        /* field as sent, tag text */
        {"0=HI\x01", "0"}, {"-1=HI\x01", "-1"}, {"00=x\x01", "00"}, {"-0=x\x01", "-0"},
        {"-4294967296=x\x01", "-4294967296"}, {"0000000000=\x01", "0000000000"},
    };
    char body[256], buf[1024], good[512];
    size_t g = make_msg(good, "FIX.4.2", BODY_D, 0, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int adjust = 0; adjust <= 1; adjust++) {
            sprintf(body, "35=0\x01" "34=2\x01" "%s" "49=TW\x01", cases[i][0]);
            size_t n = make_msg(buf, "FIX.4.2", body, 0, adjust);
            memcpy(buf + n, good, g);
            struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
            CHECK(scan(buf, n + g, 0, &s) == 2);
            CHECK(msgs[0].status ==
                  (adjust ? FIX_FRAME_BAD_CHECKSUM : FIX_FRAME_INVALID_TAG));
            CHECK(msgs[0].start == 0 && msgs[0].end == n && msgs[0].field_count == 7);
            uint32_t want[] = {8, 9, 35, 34, 0, 49, 10};
            for (int k = 0; k < 7; k++) CHECK(flds[k].tag == want[k]);
            size_t t = strlen(cases[i][1]);
            CHECK(flds[4].length == t && memcmp(buf + flds[4].offset, cases[i][1], t) == 0);
            CHECK(buf[flds[4].offset + t] == '=');
            CHECK(flds[5].length == 2 && memcmp(buf + flds[5].offset, "TW", 2) == 0);
            CHECK(flds[6].length == 3 && flds[6].offset == n - 4);
            CHECK(msgs[1].status == FIX_FRAME_OK && msgs[1].start == n);
        }
    }
    /* Several invalid tags, and one right after a data field's length (not its data). */
    size_t n = make_msg(buf, "FIX.4.2",
                        "35=0\x01" "0=a\x01" "95=3\x01" "-7=b\x01" "96=x\x01" "-0=\x01", 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_INVALID_TAG);
    CHECK(msgs[0].field_count == 9 && flds[3].tag == 0 && flds[5].tag == 0 && flds[7].tag == 0);
    CHECK(flds[6].tag == 96 && flds[6].length == 1);
    CHECK(flds[5].length == 2 && memcmp(buf + flds[5].offset, "-7", 2) == 0);
    /* Trusting BodyLength changes nothing here. */
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, FIX_SCAN_TRUST_BODY_LENGTH);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_INVALID_TAG);
}

/* FIX_SCAN_TRUST_BODY_LENGTH: a wrong BodyLength ends at the first CheckSum at or after the
 * byte before where it points, as QuickFIX frames a session stream. */
static void test_trust_body_length(void) {
    char buf[2048];
    size_t ends[4], n = 0;
    const uint32_t trust = FIX_SCAN_TRUST_BODY_LENGTH;
    /* Too short, by any amount that still leaves "35=" in the body: own CheckSum. */
    for (int adjust = -30; adjust < 0; adjust++) {
        n = make_msg(buf, "FIX.4.2", BODY_D, adjust, 0);
        ends[0] = n;
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust);
        CHECK(scan(buf, n, 0, &s) == 2);
        CHECK(msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH && msgs[0].end == ends[0]);
        CHECK(msgs[0].field_count == 2);
        CHECK(msgs[1].status == FIX_FRAME_OK && msgs[1].start == ends[0] && msgs[1].end == n);
    }
    /* Too long: swallows the next message, up to its CheckSum; the one after is OK. */
    for (int adjust = 1; adjust <= 30; adjust++) {
        n = make_msg(buf, "FIX.4.2", BODY_D, adjust, 0);
        n += make_msg(buf + n, "FIX.4.2", "35=0\x01" "34=3\x01", 0, 0);
        ends[1] = n;
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust);
        CHECK(scan(buf, n, 0, &s) == 2);
        CHECK(msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH && msgs[0].end == ends[1]);
        CHECK(msgs[1].status == FIX_FRAME_OK && msgs[1].start == ends[1] && msgs[1].end == n);
        /* Without the flag: resync at the next "8=FIX", three messages. */
        s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
        CHECK(scan(buf, n, 0, &s) == 3 && msgs[1].status == FIX_FRAME_OK);
    }
    /* Too long with nothing after it: wait while the buffer is shorter than max. */
    n = make_msg(buf, "FIX.4.2", BODY_D, 5, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust);
    CHECK(scan(buf, n, 0, &s) == 0 && s.stop == FIX_STOP_INCOMPLETE && s.consumed == 0);
    memset(buf + n, 'x', 40);
    CHECK(scan(buf, n + 40, 0, &s) == 0 && s.stop == FIX_STOP_INCOMPLETE && s.consumed == 0);
    /* ... and give up at max: today's resync, which ends at start + max. */
    s = make_scan(MAX_MSGS, MAX_FIELDS, (uint32_t)n + 20, trust);
    CHECK(scan(buf, n + 40, 0, &s) == 1 && msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH);
    CHECK(msgs[0].end == n + 20);
    /* A CheckSum that would end past max does not count. */
    n = make_msg(buf, "FIX.4.2", BODY_D, 3, 0);
    size_t k = n + make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    s = make_scan(MAX_MSGS, MAX_FIELDS, (uint32_t)(k - 1), trust);
    CHECK(scan(buf, k, 0, &s) == 2 && msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH);
    CHECK(msgs[0].end == n && msgs[1].status == FIX_FRAME_OK); /* resynced */
    s = make_scan(MAX_MSGS, MAX_FIELDS, (uint32_t)k, trust);
    CHECK(scan(buf, k, 0, &s) == 1 && msgs[0].end == k);
    /* Final with no CheckSum after the claimed end: as without the flag. */
    n = make_msg(buf, "FIX.4.2", BODY_D, 5, 0);
    memcpy(buf + n, "abcdefgh", 8);
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust | FIX_SCAN_FINAL);
    CHECK(scan(buf, n + 8, 0, &s) == 1 && msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH);
    CHECK(msgs[0].end == n + 8 && s.consumed == n + 8);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_TRUNCATED);
    /* What follows "10=" is not checked: the first SOH after it ends the message. */
    n = (size_t)sprintf(buf, "8=FIX.4.2\x01" "9=5\x01" "35=0\x01" "34=2\x01" "10=x\x01");
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust);
    CHECK(scan(buf, n, 0, &s) == 1 && msgs[0].status == FIX_FRAME_BAD_BODY_LENGTH);
    CHECK(msgs[0].end == n);
    /* A BodyLength that points to "<SOH>10=" with a bad CheckSum is still GARBLED. */
    const char *garbled = "8=FIX.4.2\x01" "9=5\x01" "35=0\x01" "10=0a0\x01";
    s = make_scan(MAX_MSGS, MAX_FIELDS, 0, trust);
    n = strlen(garbled);
    memcpy(buf, garbled, n);
    size_t g = n + make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
    CHECK(scan(buf, g, 0, &s) == 2 && msgs[0].status == FIX_FRAME_GARBLED && msgs[0].end == n);
    CHECK(msgs[1].status == FIX_FRAME_OK);
}

/* With and without trusting BodyLength, two reads cut anywhere give one read's messages. */
static void test_split_anywhere_trusting(void) {
    char buf[4096];
    for (int trust = 0; trust <= 1; trust++) {
        uint32_t flags = trust ? FIX_SCAN_TRUST_BODY_LENGTH : 0;
        size_t n = (size_t)sprintf(buf, "noise");
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 9, 0);  /* too long */
        n += make_msg(buf + n, "FIX.4.2", "35=0\x01" "0=HI\x01", 0, 0);
        n += make_msg(buf + n, "FIX.4.2", BODY_D, -4, 0); /* too short */
        n += (size_t)sprintf(buf + n, "xx");
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 0, 0);
        n += make_msg(buf + n, "FIX.4.2", BODY_D, 60, 0); /* too long, nothing after */
        n += (size_t)sprintf(buf + n, "8=FIX.4.2\x01" "9=1");
        struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 200, flags);
        int whole = scan(buf, n, 0, &s);
        CHECK(whole == (trust ? 4 : 5));
        uint32_t w_start[8], w_end[8], w_status[8];
        for (int i = 0; i < whole && i < 8; i++) {
            w_start[i] = msgs[i].start;
            w_end[i] = msgs[i].end;
            w_status[i] = msgs[i].status;
        }
        for (size_t cut = 0; cut <= n; cut++) {
            int got = 0, same = 1;
            s = make_scan(MAX_MSGS, MAX_FIELDS, 200, flags);
            int a = scan(buf, cut, 0, &s);
            for (int i = 0; i < a && got + i < whole; i++)
                same &= msgs[i].start == w_start[i] && msgs[i].end == w_end[i] &&
                        msgs[i].status == w_status[i];
            got += a;
            int b = scan(buf, n, s.consumed, &s);
            for (int i = 0; i < b && got + i < whole; i++)
                same &= msgs[i].start == w_start[got + i] && msgs[i].end == w_end[got + i] &&
                        msgs[i].status == w_status[got + i];
            got += b;
            if (!same || got != whole) {
                fprintf(stderr, "trust=%d split at %zu: got %d messages, same=%d\n", trust, cut,
                        got, same);
                failures++;
            }
        }
    }
}

static void test_tag_values(void) {
    char buf[1024];
    size_t n = make_msg(buf, "FIX.4.2", BODY_D, 0, 0);
    n += make_msg(buf + n, "FIX.4.2", "35=0\x01" "34=77\x01", 0, 0);
    n += make_msg(buf + n, "FIX.4.2", "35=0\x01", 0, 0);
    struct fix_scan s = make_scan(MAX_MSGS, MAX_FIELDS, 0, 0);
    CHECK(scan(buf, n, 0, &s) == 3);
    uint32_t out[6];
    fix_tag_values(msgs, 3, flds, s.field_count, 34, out);
    CHECK(out[1] == 1 && buf[out[0]] == '2');
    CHECK(out[3] == 2 && memcmp(buf + out[2], "77", 2) == 0);
    CHECK(out[5] == FIX_NO_VALUE);
    fix_tag_values(msgs, 3, flds, s.field_count, 35, out);
    CHECK(buf[out[0]] == 'D' && buf[out[2]] == '0' && buf[out[4]] == '0');
    /* A field range beyond field_count is answered with no value, not read. */
    fix_tag_values(msgs, 3, flds, s.field_count - 1, 35, out);
    CHECK(out[1] == 1 && out[3] == 1 && out[5] == FIX_NO_VALUE);
}

int main(void) {
    test_one_ok_message();
    test_fixt_and_many_messages();
    test_garbage_skipping();
    test_bad_checksum_then_ok();
    test_bad_body_length();
    test_garbled();
    test_data_field_with_soh();
    test_extra_data_fields();
    test_too_big();
    test_every_prefix_is_incomplete();
    test_capacity_limits();
    test_argument_errors();
    test_split_anywhere();
    test_tag_values();
    test_invalid_tag();
    test_trust_body_length();
    test_split_anywhere_trusting();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("framing: all checks passed\n");
    return 0;
}
