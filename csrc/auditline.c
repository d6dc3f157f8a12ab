/* See auditline.h. */
#include "auditline.h"

#include <string.h>

enum { ID_COUNT = 6 };

/* In the record's order: the tag's digits and the field's JSON name. */
static const char *const ID_TAGS[ID_COUNT] = {"34", "35", "11", "41", "37", "17"};
static const char *const ID_NAMES[ID_COUNT] = {
    ",\"seq\":", ",\"msg_type\":", ",\"cl_ord_id\":", ",\"orig_cl_ord_id\":",
    ",\"order_id\":", ",\"exec_id\":"};

/* The most one input byte becomes inside a JSON string: \u00xx. */
enum { MAX_ESCAPED = 6 };

size_t audit_msg_tail_bound(size_t n) {
    /* the ids' values are distinct fields of the message (at most n bytes together), then
     * the message; each escaped byte at most MAX_ESCAPED; the names, quotes and braces */
    return 2 * n * MAX_ESCAPED + ID_COUNT * 32 + 16;
}

static uint8_t *put(uint8_t *out, const char *text) {
    size_t len = strlen(text);
    memcpy(out, text, len);
    return out + len;
}

/* raw[0..n) as the inside of a JSON string, SOH shown as '|'. */
static uint8_t *put_escaped(uint8_t *out, const uint8_t *raw, size_t n) {
    static const char HEX[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = raw[i];
        if (c == 0x01) {
            *out++ = '|';
        } else if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = c;
        } else if (c < 0x20) {
            *out++ = '\\';
            switch (c) {
            case '\b': *out++ = 'b'; break;
            case '\f': *out++ = 'f'; break;
            case '\n': *out++ = 'n'; break;
            case '\r': *out++ = 'r'; break;
            case '\t': *out++ = 't'; break;
            default:
                out = put(out, "u00");
                *out++ = (uint8_t)HEX[c >> 4];
                *out++ = (uint8_t)HEX[c & 0x0f];
            }
        } else if (c < 0x80) {
            *out++ = c;
        } else { /* U+0080..U+00FF in UTF-8 */
            *out++ = (uint8_t)(0xc0 | (c >> 6));
            *out++ = (uint8_t)(0x80 | (c & 0x3f));
        }
    }
    return out;
}

size_t audit_msg_tail(const uint8_t *raw, size_t n, uint8_t *out) {
    size_t start[ID_COUNT], end[ID_COUNT];
    int found[ID_COUNT] = {0};
    int missing = ID_COUNT;
    /* each "<SOH>tag=" of the ids, the first of each kept */
    for (size_t i = 0; i + 3 < n && missing; i++) {
        if (raw[i] != 0x01 || raw[i + 3] != '=')
            continue;
        for (int k = 0; k < ID_COUNT; k++) {
            if (!found[k] && raw[i + 1] == (uint8_t)ID_TAGS[k][0] &&
                raw[i + 2] == (uint8_t)ID_TAGS[k][1]) {
                const uint8_t *soh = memchr(raw + i + 4, 0x01, n - (i + 4));
                found[k] = 1;
                missing--;
                start[k] = i + 4;
                end[k] = soh ? (size_t)(soh - raw) : n;
                break;
            }
        }
    }
    uint8_t *p = out;
    for (int k = 0; k < ID_COUNT; k++) {
        if (!found[k])
            continue;
        p = put(p, ID_NAMES[k]);
        const uint8_t *v = raw + start[k];
        size_t len = end[k] - start[k];
        int digits = len > 0;
        for (size_t j = 0; j < len && digits; j++)
            digits = v[j] >= '0' && v[j] <= '9';
        if (k == 0 && digits) { /* the seq as a number */
            size_t j = 0;
            while (j + 1 < len && v[j] == '0')
                j++;
            memcpy(p, v + j, len - j);
            p += len - j;
        } else {
            *p++ = '"';
            p = put_escaped(p, v, len);
            *p++ = '"';
        }
    }
    p = put(p, ",\"raw\":\"");
    p = put_escaped(p, raw, n);
    p = put(p, "\"}");
    return (size_t)(p - out);
}
