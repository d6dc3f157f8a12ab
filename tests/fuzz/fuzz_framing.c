/* libFuzzer harness for csrc/framing.c.
 *
 * The input is scanned as a FIX byte stream several ways, with and without
 * FIX_SCAN_TRUST_BODY_LENGTH (every input both ways), and the harness aborts unless
 *  - every offset is inside the input and the byte accounting adds up (consumed == messages
 *    + skipped + tail_skipped), messages are in order and fields lie inside their message;
 *  - every OK, INVALID_TAG or BAD_CHECKSUM message really is one: fields tile it exactly as
 *    tag=value<SOH> (a tag-0 field as <its tag text>=value<SOH>, the text an integer <= 0),
 *    8, 9, 35 first and 10 last, BodyLength right; the CheckSum verdict matches a sum
 *    computed here, and INVALID_TAG is reported exactly when a tag-0 field is there;
 *  - tag-0 fields appear only in INVALID_TAG and BAD_CHECKSUM messages;
 *  - a BAD_BODY_LENGTH message ends where a naive search here says QuickFIX would end it
 *    (trusting BodyLength), or else at a resync point (the next "8=FIX", start +
 *    max_message_size, or the end of the input);
 *  - scanning with tiny message/field capacities (resuming from `consumed`), or in two reads
 *    cut at an arbitrary point, reports exactly the messages of one big scan;
 *  - a final scan agrees with the non-final one on every message the latter reports;
 *  - trusting BodyLength changes nothing before the first message where the two scans
 *    differ, and that one is BAD_BODY_LENGTH or TRUNCATED in both.
 * Capacities, the cut and max_message_size come from a hash of the input, so the input
 * itself stays plain FIX text that mutations can work on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "fuzz_fail.h"

struct out {
    struct fix_msg *msgs;
    struct fix_field *fields;
    uint32_t msg_cap, field_cap;
};

/* A flat record of every message seen: start, end, status and its fields. */
struct seen {
    uint32_t count, nfields;
    uint32_t start[4096], end[4096], status[4096], first[4096], fcount[4096];
    uint32_t tag[8192], off[8192], len[8192];
};

static struct out out_new(uint32_t msg_cap, uint32_t field_cap) {
    struct out o = {
        .msgs = calloc(msg_cap + 1, sizeof(struct fix_msg)),
        .fields = calloc(field_cap + 1, sizeof(struct fix_field)),
        .msg_cap = msg_cap,
        .field_cap = field_cap,
    };
    if (!o.msgs || !o.fields) abort();
    return o;
}

static void out_free(struct out *o) {
    free(o->msgs);
    free(o->fields);
}

/* Length/data pairs besides the standard ones, as a session dictionary's user-defined DATA
 * fields give them (sorted by length tag): every scan reads them by length too. */
static const uint32_t EXTRA_DATA[] = {5005, 5006, 9000, 9001};

static struct fix_scan scan_for(struct out *o, uint32_t max_size, uint32_t flags) {
    struct fix_scan s = {
        .msgs = o->msgs, .msg_cap = o->msg_cap, .fields = o->fields, .field_cap = o->field_cap,
        .max_message_size = max_size, .flags = flags,
        .extra_data = EXTRA_DATA, .extra_data_count = 2,
    };
    return s;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static uint32_t effective_max(uint32_t max_size) {
    return max_size ? max_size : FIX_DEFAULT_MAX_MESSAGE_SIZE;
}

/* An OK, INVALID_TAG or BAD_CHECKSUM message: re-derive its structure from the reported
 * fields. */
static void verify_sound_frame(const uint8_t *buf, const struct out *o, uint32_t i) {
    const struct fix_msg *m = &o->msgs[i];
    uint32_t f0 = m->first_field, n = m->field_count, start = m->start, end = m->end;
    if (n < 4) FAIL("sound message %u has %u fields", i, n);
    const struct fix_field *f = &o->fields[f0];
    if (f[0].tag != 8 || f[1].tag != 9 || f[2].tag != 35 || f[n - 1].tag != 10)
        FAIL("sound message %u: header/trailer tags wrong", i);
    uint32_t pos = start, invalid_tags = 0;
    for (uint32_t k = f0; k < f0 + n; k++) {
        uint64_t tag = 0;
        uint32_t t0 = pos;
        int negative = pos < end && buf[pos] == '-';
        if (negative) pos++;
        uint32_t d0 = pos;
        while (pos < end && is_digit(buf[pos])) tag = tag * 10 + (uint64_t)(buf[pos++] - '0');
        if (pos == d0 || pos >= end || buf[pos] != '=')
            FAIL("message %u field %u: no tag=", i, k - f0);
        if (o->fields[k].tag == 0) {
            /* A tag <= 0: reported as its tag text; its value runs to the next SOH. */
            if (!negative && tag != 0) FAIL("message %u field %u: tag 0 for %lu", i, k - f0,
                                            (unsigned long)tag);
            if (pos - d0 > 10) FAIL("message %u field %u: tag of %u digits", i, k - f0, pos - d0);
            if (o->fields[k].offset != t0 || o->fields[k].length != pos - t0)
                FAIL("message %u field %u: tag text not where reported", i, k - f0);
            invalid_tags++;
            while (pos < end && buf[pos] != 0x01) pos++;
        } else {
            if (negative || tag != o->fields[k].tag || pos + 1 != o->fields[k].offset)
                FAIL("message %u field %u: does not start where reported", i, k - f0);
            pos = o->fields[k].offset + o->fields[k].length;
        }
        if (pos >= end || buf[pos] != 0x01) FAIL("message %u field %u: no SOH after value", i, k);
        pos++;
    }
    int want_invalid = invalid_tags > 0 && m->status != FIX_FRAME_BAD_CHECKSUM;
    if ((m->status == FIX_FRAME_INVALID_TAG) != want_invalid)
        FAIL("message %u: status %u with %u tag-0 fields", i, m->status, invalid_tags);
    if (pos != end) FAIL("message %u: fields do not reach its end", i);
    /* BodyLength: from after 9's SOH to the start of "10=". */
    uint32_t body_start = f[1].offset + f[1].length + 1;
    uint32_t checksum_at = f[n - 1].offset - 3;
    uint64_t body_len = 0;
    for (uint32_t k = 0; k < f[1].length; k++)
        body_len = body_len * 10 + (uint64_t)(buf[f[1].offset + k] - '0');
    if (body_len != checksum_at - body_start) FAIL("message %u: BodyLength wrong", i);
    unsigned sum = 0;
    for (uint32_t k = start; k < checksum_at; k++) sum += buf[k];
    const uint8_t *d = buf + f[n - 1].offset;
    if (f[n - 1].length != 3) FAIL("message %u: checksum not 3 digits", i);
    unsigned stated =
        (unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
    int ok = (sum % 256) == stated;
    if (ok != (m->status != FIX_FRAME_BAD_CHECKSUM)) FAIL("message %u: checksum verdict wrong", i);
}

/* Where QuickFIX ends a message whose BodyLength points to e: one past the first SOH after
 * the first "<SOH>10=" at or after e-1, searched naively in buf[0:hi); 0 if there is none. */
static size_t reference_trusted_end(const uint8_t *buf, size_t hi, size_t e) {
    for (size_t x = e - 1; x + 4 <= hi; x++) {
        if (buf[x] != 0x01 || buf[x + 1] != '1' || buf[x + 2] != '0' || buf[x + 3] != '=')
            continue;
        for (size_t y = x + 4; y < hi; y++)
            if (buf[y] == 0x01) return y + 1;
        return 0;
    }
    return 0;
}

/* A BAD_BODY_LENGTH message ends where trusting BodyLength says (with the flag, when that
 * end is in the buffer and within max), or else at a resync point. */
static void verify_bad_body_length(const uint8_t *buf, size_t size, const struct fix_scan *s,
                                   const struct out *o, uint32_t i) {
    const struct fix_msg *m = &o->msgs[i];
    uint64_t limit = (uint64_t)m->start + effective_max(s->max_message_size);
    if ((s->flags & FIX_SCAN_TRUST_BODY_LENGTH) && m->field_count >= 2) {
        const struct fix_field *f = &o->fields[m->first_field];
        if (f[0].tag != 8 || f[1].tag != 9) FAIL("message %u: BAD_BODY_LENGTH without 8, 9", i);
        uint64_t body_len = 0;
        for (uint32_t k = 0; k < f[1].length; k++)
            body_len = body_len * 10 + (uint64_t)(buf[f[1].offset + k] - '0');
        uint64_t e = (uint64_t)f[1].offset + f[1].length + 1 + body_len;
        size_t hi = limit < size ? (size_t)limit : size;
        size_t want = e + 3 <= size ? reference_trusted_end(buf, hi, (size_t)e) : 0;
        if (want != 0) {
            if (m->end != want) FAIL("message %u: trusted end %u, want %zu", i, m->end, want);
            return;
        }
    }
    int resync = m->end == size || m->end == limit ||
                 (m->end + 5 <= size && memcmp(buf + m->end, "8=FIX", 5) == 0);
    if (!resync) FAIL("message %u: BAD_BODY_LENGTH ends at %u, not a resync point", i, m->end);
}

/* Check one scan's output and append its messages to *seen. */
static void check_scan(const uint8_t *buf, size_t size, size_t from, const struct fix_scan *s,
                       const struct out *o, struct seen *seen) {
    if (s->msg_count > o->msg_cap || s->field_count > o->field_cap) FAIL("over capacity");
    if (s->consumed < from || s->consumed > size) FAIL("consumed %u out of range", s->consumed);
    uint64_t total = s->tail_skipped;
    uint32_t pos = (uint32_t)from, fields_end = 0;
    for (uint32_t i = 0; i < s->msg_count; i++) {
        uint32_t start = o->msgs[i].start, end = o->msgs[i].end;
        if (start != pos + o->msgs[i].skipped) FAIL("message %u: skipped != gap", i);
        if (end <= start || end > size) FAIL("message %u: bad extent", i);
        if (memcmp(buf + start, "8=FIX", 5) != 0) FAIL("message %u: not at 8=FIX", i);
        uint32_t status = o->msgs[i].status;
        if (status > FIX_FRAME_INVALID_TAG) FAIL("message %u: bad status", i);
        if (o->msgs[i].first_field != fields_end) FAIL("message %u: fields not contiguous", i);
        fields_end = o->msgs[i].first_field + o->msgs[i].field_count;
        if (fields_end > s->field_count) FAIL("message %u: fields beyond count", i);
        for (uint32_t k = o->msgs[i].first_field; k < fields_end; k++) {
            if (o->fields[k].offset < start ||
                (uint64_t)o->fields[k].offset + o->fields[k].length > end)
                FAIL("message %u: field outside message", i);
            if (o->fields[k].tag == 0 && status != FIX_FRAME_INVALID_TAG &&
                status != FIX_FRAME_BAD_CHECKSUM)
                FAIL("message %u: tag 0 in a message of status %u", i, status);
        }
        if (status == FIX_FRAME_OK || status == FIX_FRAME_BAD_CHECKSUM ||
            status == FIX_FRAME_INVALID_TAG)
            verify_sound_frame(buf, o, i);
        if (status == FIX_FRAME_BAD_BODY_LENGTH) verify_bad_body_length(buf, size, s, o, i);
        total += o->msgs[i].skipped + (end - start);
        pos = end;
        if (seen->count < 4096 && seen->nfields + o->msgs[i].field_count <= 8192) {
            uint32_t j = seen->count++;
            seen->start[j] = start;
            seen->end[j] = end;
            seen->status[j] = o->msgs[i].status;
            seen->first[j] = seen->nfields;
            seen->fcount[j] = o->msgs[i].field_count;
            for (uint32_t k = o->msgs[i].first_field; k < fields_end; k++) {
                seen->tag[seen->nfields] = o->fields[k].tag;
                seen->off[seen->nfields] = o->fields[k].offset;
                seen->len[seen->nfields] = o->fields[k].length;
                seen->nfields++;
            }
        } else {
            seen->count = UINT32_MAX; /* too many to compare; mark as such */
            return;
        }
    }
    if (s->consumed != pos + s->tail_skipped) FAIL("consumed != last end + tail_skipped");
    if (total != s->consumed - from) FAIL("accounting does not add up");
    if (s->stop == FIX_STOP_END && s->consumed != size) FAIL("END but bytes left");
    if ((s->flags & FIX_SCAN_FINAL) && s->stop == FIX_STOP_INCOMPLETE) FAIL("final but incomplete");
}

/* a's messages must be exactly b's, or (prefix_ok) the first a->count of them. */
static void same_messages(const struct seen *a, const struct seen *b, int prefix_ok,
                          const char *what) {
    if (a->count == UINT32_MAX || b->count == UINT32_MAX) return;
    if (prefix_ok ? a->count > b->count : a->count != b->count)
        FAIL("%s: %u messages vs %u", what, a->count, b->count);
    for (uint32_t i = 0; i < a->count; i++) {
        if (a->start[i] != b->start[i] || a->end[i] != b->end[i] || a->status[i] != b->status[i] ||
            a->fcount[i] != b->fcount[i])
            FAIL("%s: message %u differs", what, i);
        for (uint32_t k = 0; k < a->fcount[i]; k++) {
            uint32_t x = a->first[i] + k, y = b->first[i] + k;
            if (a->tag[x] != b->tag[y] || a->off[x] != b->off[y] || a->len[x] != b->len[y])
                FAIL("%s: message %u field %u differs", what, i, k);
        }
    }
}

/* Scan buf[from:size] to the end with the given capacities, resuming after capacity stops
 * and growing the field room when a single message does not fit (as engine/framing.py does). */
static uint32_t scan_in_steps(const uint8_t *buf, size_t size, size_t from, uint32_t msg_cap,
                              uint32_t field_cap, uint32_t max_size, uint32_t flags,
                              struct seen *seen) {
    struct out o = out_new(msg_cap, field_cap);
    size_t pos = from;
    for (int guard = 0; guard < 100000; guard++) {
        struct fix_scan s = scan_for(&o, max_size, flags);
        if (fix_scan(buf, size, pos, &s) != (int)s.msg_count) FAIL("return != msg_count");
        check_scan(buf, size, pos, &s, &o, seen);
        pos = s.consumed;
        if (s.stop == FIX_STOP_FIELDS_FULL && s.msg_count == 0) {
            uint32_t grown = o.field_cap * 2 + 1;
            out_free(&o);
            o = out_new(msg_cap, grown);
            continue;
        }
        if (s.stop == FIX_STOP_END || s.stop == FIX_STOP_INCOMPLETE) break;
    }
    out_free(&o);
    return (uint32_t)pos;
}

/* Trusting BodyLength, the scan is the same as without up to the first message where they
 * differ, which starts at the same place and is BAD_BODY_LENGTH or TRUNCATED in both (or
 * missing from one: it waits where the other does not). */
static void same_until_body_length(const struct seen *plain, const struct seen *trust,
                                   const char *what) {
    if (plain->count == UINT32_MAX || trust->count == UINT32_MAX) return;
    uint32_t n = plain->count < trust->count ? plain->count : trust->count;
    for (uint32_t i = 0; i <= n; i++) {
        int in_plain = i < plain->count, in_trust = i < trust->count;
        int same = in_plain && in_trust && plain->start[i] == trust->start[i] &&
                   plain->end[i] == trust->end[i] && plain->status[i] == trust->status[i] &&
                   plain->fcount[i] == trust->fcount[i];
        if (same) continue;
        if (in_plain && in_trust && plain->start[i] != trust->start[i])
            FAIL("%s: message %u starts at %u vs %u", what, i, plain->start[i], trust->start[i]);
        if (in_plain && plain->status[i] != FIX_FRAME_BAD_BODY_LENGTH &&
            plain->status[i] != FIX_FRAME_TRUNCATED)
            FAIL("%s: message %u differs, status %u without the flag", what, i, plain->status[i]);
        if (in_trust && trust->status[i] != FIX_FRAME_BAD_BODY_LENGTH &&
            trust->status[i] != FIX_FRAME_TRUNCATED)
            FAIL("%s: message %u differs, status %u trusting", what, i, trust->status[i]);
        return;
    }
}

static struct seen whole[2], steps, split, final_scan[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
    static const uint32_t max_sizes[] = {0, 40, 100, 300};
    uint32_t max_size = max_sizes[h % 4];

    for (int trust = 0; trust <= 1; trust++) {
        uint32_t flags = trust ? FIX_SCAN_TRUST_BODY_LENGTH : 0;
        /* Room for everything in one call: a message takes >= 5 bytes and a field >= 2. */
        memset(&whole[trust], 0, sizeof whole[trust]);
        struct out big = out_new((uint32_t)size + 1, (uint32_t)size + 8);
        struct fix_scan s = scan_for(&big, max_size, flags);
        if (fix_scan(data, size, 0, &s) < 0) FAIL("scan failed");
        if (s.stop == FIX_STOP_MSGS_FULL || s.stop == FIX_STOP_FIELDS_FULL)
            FAIL("big scan ran out");
        check_scan(data, size, 0, &s, &big, &whole[trust]);
        uint32_t whole_consumed = s.consumed;
        out_free(&big);

        /* Tiny capacities, resuming. */
        memset(&steps, 0, sizeof steps);
        uint32_t consumed = scan_in_steps(data, size, 0, 1 + (h >> 8) % 3, 1 + (h >> 10) % 12,
                                          max_size, flags, &steps);
        same_messages(&steps, &whole[trust], 0, "small capacities");
        if (consumed != whole_consumed)
            FAIL("small capacities consumed %u vs %u", consumed, whole_consumed);

        /* Two reads: a prefix, then everything from where the prefix scan stopped. */
        memset(&split, 0, sizeof split);
        size_t cut = size ? (h >> 16) % (size + 1) : 0;
        uint32_t resume = scan_in_steps(data, cut, 0, 64, 256, max_size, flags, &split);
        scan_in_steps(data, size, resume, 64, 256, max_size, flags, &split);
        same_messages(&split, &whole[trust], 0, "split stream");

        /* A final scan reports the same messages first, then possibly a truncated tail. */
        memset(&final_scan[trust], 0, sizeof final_scan[trust]);
        consumed = scan_in_steps(data, size, 0, 64, 256, max_size, flags | FIX_SCAN_FINAL,
                                 &final_scan[trust]);
        if (consumed != size) FAIL("final scan left bytes");
        same_messages(&whole[trust], &final_scan[trust], 1, "final scan");
    }
    same_until_body_length(&whole[0], &whole[1], "trusting BodyLength");
    same_until_body_length(&final_scan[0], &final_scan[1], "trusting BodyLength, final");
    return 0;
}
