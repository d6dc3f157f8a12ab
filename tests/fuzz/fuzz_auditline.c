/* libFuzzer harness for csrc/auditline.c.
 *
 * The input is any byte string, taken as a message. The harness reads the record's tail
 * back as JSON and aborts unless it is exactly what auditline.h promises:
 *  - no more bytes than audit_msg_tail_bound says, valid UTF-8 whose code points are all
 *    below U+0100, no raw control character (each is escaped);
 *  - a run of ,"name":value for the ids, in the record's order, then ,"raw":"..."} and
 *    nothing after;
 *  - each id present exactly when "<SOH>tag=" occurs, its value the first occurrence's
 *    (the seq as digits with leading zeros dropped when it is ASCII digits);
 *  - raw unescaped is the input with SOH read as '|'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditline.h"
#include "fuzz_fail.h"

static const char *const TAGS[6] = {"34", "35", "11", "41", "37", "17"};
static const char *const NAMES[6] = {"seq", "msg_type", "cl_ord_id", "orig_cl_ord_id",
                                     "order_id", "exec_id"};

/* The first value of "<SOH>tag=" in data, by a plain search: its start and length. */
static int first_value(const uint8_t *data, size_t n, const char *tag, size_t *start,
                       size_t *len) {
    for (size_t i = 0; i + 3 < n; i++) {
        if (data[i] == 0x01 && data[i + 1] == (uint8_t)tag[0] && data[i + 2] == (uint8_t)tag[1]
            && data[i + 3] == '=') {
            size_t j = i + 4;
            while (j < n && data[j] != 0x01)
                j++;
            *start = i + 4;
            *len = j - (i + 4);
            return 1;
        }
    }
    return 0;
}

/* One UTF-8 code point at *p (below U+0100: one or two bytes) or abort. */
static unsigned next_char(const uint8_t **p, const uint8_t *end) {
    const uint8_t *q = *p;
    if (q >= end)
        FAIL("string not closed");
    if (*q < 0x80) {
        *p = q + 1;
        return *q;
    }
    if ((*q == 0xc2 || *q == 0xc3) && q + 1 < end && (q[1] & 0xc0) == 0x80) {
        *p = q + 2;
        return (unsigned)((q[0] & 0x1f) << 6 | (q[1] & 0x3f));
    }
    FAIL("not UTF-8 of a latin-1 character at byte %02x", *q);
}

/* A JSON string at *p (its opening quote) into out as latin-1 bytes; its length. */
static size_t read_string(const uint8_t **p, const uint8_t *end, uint8_t *out) {
    if (*p >= end || **p != '"')
        FAIL("expected a string");
    (*p)++;
    size_t n = 0;
    for (;;) {
        unsigned c = next_char(p, end);
        if (c == '"')
            return n;
        if (c < 0x20)
            FAIL("raw control character %02x in a string", c);
        if (c == '\\') {
            unsigned e = next_char(p, end);
            switch (e) {
            case '"': case '\\': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                char hex[5] = {0};
                for (int k = 0; k < 4; k++)
                    hex[k] = (char)next_char(p, end);
                if (strncmp(hex, "00", 2) != 0)
                    FAIL("\\u escape above U+00FF");
                c = (unsigned)strtoul(hex, NULL, 16);
                if (c >= 0x20 || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
                    FAIL("\\u escape of %02x, which JSON writes otherwise", c);
                break;
            }
            default:
                FAIL("bad escape \\%c", (char)e);
            }
        } /* anything else (0x7f and up included) is written as it is, as Python's json
           * does with ensure_ascii off */
        out[n++] = (uint8_t)c;
    }
}

static void expect(const uint8_t **p, const uint8_t *end, const char *text) {
    size_t len = strlen(text);
    if ((size_t)(end - *p) < len || memcmp(*p, text, len) != 0)
        FAIL("expected %s", text);
    *p += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t bound = audit_msg_tail_bound(size);
    uint8_t *out = malloc(bound);
    uint8_t *text = malloc(size + 1);
    if (!out || !text)
        abort();
    size_t n = audit_msg_tail(data, size, out);
    if (n > bound)
        FAIL("%zu bytes written, bound %zu", n, bound);
    const uint8_t *p = out, *end = out + n;
    for (int k = 0; k < 6; k++) {
        size_t start, len;
        int present = first_value(data, size, TAGS[k], &start, &len);
        char name[32];
        snprintf(name, sizeof name, ",\"%s\":", NAMES[k]);
        size_t name_len = strlen(name);
        int written = (size_t)(end - p) >= name_len && memcmp(p, name, name_len) == 0;
        if (written != present)
            FAIL("id %s %s", NAMES[k], present ? "missing" : "written but absent");
        if (!present)
            continue;
        p += name_len;
        const uint8_t *v = data + start;
        int digits = len > 0;
        for (size_t j = 0; j < len && digits; j++)
            digits = v[j] >= '0' && v[j] <= '9';
        if (k == 0 && digits) {
            size_t skip = 0;
            while (skip + 1 < len && v[skip] == '0')
                skip++;
            if ((size_t)(end - p) < len - skip || memcmp(p, v + skip, len - skip) != 0)
                FAIL("seq is not the number %.*s", (int)len, (const char *)v);
            p += len - skip;
        } else {
            size_t got = read_string(&p, end, text);
            if (got != len || memcmp(text, v, len) != 0)
                FAIL("id %s is not its first value", NAMES[k]);
        }
    }
    expect(&p, end, ",\"raw\":");
    size_t got = read_string(&p, end, text);
    if (got != size)
        FAIL("raw has %zu bytes, the input %zu", got, size);
    for (size_t i = 0; i < size; i++)
        if (text[i] != (data[i] == 0x01 ? '|' : data[i]))
            FAIL("raw differs at byte %zu", i);
    expect(&p, end, "}");
    if (p != end)
        FAIL("%zu bytes after the record", (size_t)(end - p));
    free(out);
    free(text);
    return 0;
}
