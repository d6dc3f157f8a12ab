/* FIX framing: see framing.h for the contract. */
#include "framing.h"

#include <string.h>

#define SOH 0x01
#define START "8=FIX"
#define START_LEN 5
#define MAX_TAG_DIGITS 10 /* 4294967295 */
#define MAX_LENGTH_DIGITS 10

/* FIX data fields and the length field that must precede each, from the DATA and XMLDATA
 * fields of the FIX 4.2, 4.4, 5.0SP2 and FIXT 1.1 dictionaries (QuickFIX XML), sorted by
 * length tag for binary search. */
static const struct {
    uint32_t len_tag, data_tag;
} DATA_FIELDS[] = {
    {90, 91}, {93, 89}, {95, 96}, {212, 213}, {348, 349}, {350, 351}, {352, 353}, {354, 355},
    {356, 357}, {358, 359}, {360, 361}, {362, 363}, {364, 365}, {445, 446}, {618, 619},
    {621, 622}, {1184, 1185}, {1277, 1278}, {1280, 1281}, {1282, 1283}, {1397, 1398},
    {1401, 1402}, {1403, 1404}, {1468, 1469}, {1525, 1527}, {1578, 1579}, {1620, 1621},
    {1664, 1665}, {1678, 1697}, {1733, 1734}, {1871, 1872}, {1874, 1875}, {2072, 2073},
    {2074, 2075}, {2111, 2112}, {2179, 2180}, {2287, 2288}, {2351, 2352}, {2372, 2371},
    {2481, 2482}, {2494, 2493}, {2522, 2521}, {2637, 2638}, {2651, 2652}, {2665, 2666},
    {2715, 2716}, {2718, 2719}, {2721, 2722}, {2797, 2798}, {2802, 2801}, {2809, 2808},
    {2815, 2814}, {40004, 40005}, {40008, 40009}, {40978, 40979}, {40980, 40981},
    {40982, 40983}, {40984, 40985}, {40986, 40987}, {40988, 40989}, {41083, 41084},
    {41101, 41102}, {41107, 41108}, {41256, 41257}, {41320, 41321}, {41324, 41325},
    {41458, 41459}, {41476, 41477}, {41482, 41483}, {41653, 41654}, {41710, 41711},
    {41806, 41807}, {41811, 41812}, {41873, 41874}, {41969, 41970}, {42025, 42026},
    {42171, 42172}, {42451, 42452}, {42652, 42653}, {42947, 42948}, {43109, 42684},
    {43110, 42486}, {43111, 42982},
};
#define DATA_FIELD_COUNT (sizeof DATA_FIELDS / sizeof DATA_FIELDS[0])
#define FIRST_LEN_TAG 90u
#define LAST_LEN_TAG 43111u

uint32_t fix_data_tag_for_length(uint32_t len_tag) {
    /* Most fields are not length fields; the range test keeps the common case to two compares. */
    if (len_tag < FIRST_LEN_TAG || len_tag > LAST_LEN_TAG) return 0;
    size_t lo = 0, hi = DATA_FIELD_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (DATA_FIELDS[mid].len_tag < len_tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < DATA_FIELD_COUNT && DATA_FIELDS[lo].len_tag == len_tag ? DATA_FIELDS[lo].data_tag : 0;
}

/* The data tag of len_tag among a scan's extra pairs (sorted by length tag), else 0. */
static uint32_t extra_data_tag(const struct fix_scan *s, uint32_t len_tag) {
    size_t lo = 0, hi = s->extra_data_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->extra_data[2 * mid] < len_tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->extra_data_count && s->extra_data[2 * lo] == len_tag ? s->extra_data[2 * lo + 1]
                                                                         : 0;
}

static inline int is_digit(uint8_t c) { return (unsigned)(c - '0') < 10u; }

/* Offset of the first complete "8=FIX" starting in [from, len), or len if there is none. */
static size_t find_start(const uint8_t *buf, size_t from, size_t len) {
    while (from + START_LEN <= len) {
        const uint8_t *hit = memchr(buf + from, '8', len - from - (START_LEN - 1));
        if (!hit) break;
        if (memcmp(hit, START, START_LEN) == 0) return (size_t)(hit - buf);
        from = (size_t)(hit - buf) + 1;
    }
    return len;
}

/* How many bytes at the end of buf[from:len] could be the beginning of "8=FIX". */
static size_t partial_start(const uint8_t *buf, size_t from, size_t len) {
    for (size_t k = START_LEN - 1; k > 0; k--)
        if (len - from >= k && memcmp(buf + len - k, START, k) == 0) return k;
    return 0;
}

/* The low 8 bits are all CheckSum needs, and unsigned overflow keeps them exact (2^32 is a
 * multiple of 256), so a plain uint32 loop is correct for any length. It vectorises at -O3. */
static uint32_t byte_sum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

struct scanner {
    const uint8_t *buf;
    size_t len;
    struct fix_scan *s;
    uint64_t max;
    int final;
    int trust;        /* FIX_SCAN_TRUST_BODY_LENGTH */
    uint32_t nfields; /* field entries used, including the message being framed */
};

enum step { STEP_FRAME, STEP_NEED_MORE, STEP_FIELDS_FULL };

struct frame {
    size_t start, end;
    int status;
    uint32_t first_field;
};

static int add_field(struct scanner *sc, uint32_t tag, size_t off, size_t n) {
    struct fix_scan *s = sc->s;
    if (sc->nfields >= s->field_cap) return 0;
    struct fix_field *f = &s->fields[sc->nfields++];
    f->tag = tag;
    f->offset = (uint32_t)off;
    f->length = (uint32_t)n;
    return 1;
}

/* End a message whose frame cannot be trusted (BodyLength or the header is wrong): it runs to
 * the next "8=FIX" after its start, at most max bytes on; fields past that end are dropped. */
static enum step resync(struct scanner *sc, struct frame *f, int status) {
    uint64_t limit = (uint64_t)f->start + sc->max;
    uint64_t window = limit + (START_LEN - 1); /* a start found at r < limit needs r+5 bytes */
    size_t search_end = window < sc->len ? (size_t)window : sc->len;
    size_t r = find_start(sc->buf, f->start + 1, search_end);
    if (r < search_end)
        f->end = r;
    else if ((uint64_t)sc->len >= window)
        f->end = (size_t)limit;
    else if (sc->final)
        f->end = sc->len;
    else
        return STEP_NEED_MORE;
    f->status = status;
    while (sc->nfields > f->first_field) {
        const struct fix_field *last = &sc->s->fields[sc->nfields - 1];
        if ((size_t)last->offset + last->length <= f->end) break;
        sc->nfields--;
    }
    return STEP_FRAME;
}

/* The buffer ended inside the message at f->start: wait for more, or with FIX_SCAN_FINAL
 * report what is there as TRUNCATED. */
static enum step cut_off(struct scanner *sc, struct frame *f) {
    if (!sc->final) return STEP_NEED_MORE;
    return resync(sc, f, FIX_FRAME_TRUNCATED);
}

/* What parse_body found in a body whose fields were all indexed. */
enum body { BODY_SOUND, BODY_INVALID_TAG, BODY_GARBLED };

/* Index the body fields in [b, e); buf[e-1] is SOH. Returns STEP_FIELDS_FULL or STEP_FRAME
 * with *verdict set:
 *   BODY_INVALID_TAG  every field parses but some tags are integers <= 0 ("0", "-1", "-0"):
 *                     each is reported as tag 0 with the offset and length of its tag text,
 *                     so the caller can name the tag as sent (QuickFIX answers 373=0);
 *   BODY_GARBLED      a field is malformed; the fields before it stay reported, but only
 *                     up to the first tag <= 0, since tag 0 is reported only in sound frames. */
static enum step parse_body(struct scanner *sc, size_t b, size_t e, enum body *verdict) {
    const uint8_t *buf = sc->buf;
    size_t pos = b;
    uint32_t data_tag = 0; /* set while the previous field was a data field's length */
    uint64_t data_len = 0;
    int first = 1;
    enum body found = BODY_SOUND;
    uint32_t first_invalid = 0; /* field entry of the first tag <= 0, when found */
    *verdict = BODY_GARBLED;
    while (pos < e) {
        size_t t0 = pos;
        int negative = buf[pos] == '-';
        if (negative) pos++;
        size_t d0 = pos;
        uint64_t tag = 0;
        while (pos < e && is_digit(buf[pos]) && pos - d0 < MAX_TAG_DIGITS) {
            tag = tag * 10 + (uint64_t)(buf[pos] - '0');
            pos++;
        }
        if (pos == d0 || pos >= e || buf[pos] != '=' || (!negative && tag > UINT32_MAX))
            goto garbled;
        int invalid = negative || tag == 0;
        if (first && (invalid || tag != 35)) goto garbled;
        first = 0;
        size_t v = pos + 1; /* <= e - 1, since buf[e-1] is SOH and buf[pos] is '=' */
        size_t ve;
        if (!invalid && data_tag != 0 && tag == data_tag) {
            if (data_len >= e - v) goto garbled;
            ve = v + (size_t)data_len;
            if (buf[ve] != SOH) goto garbled;
        } else {
            ve = (size_t)((const uint8_t *)memchr(buf + v, SOH, e - v) - buf);
        }
        if (invalid) {
            if (found != BODY_INVALID_TAG) first_invalid = sc->nfields;
            if (!add_field(sc, 0, t0, pos - t0)) return STEP_FIELDS_FULL;
            found = BODY_INVALID_TAG;
            data_tag = 0;
            pos = ve + 1;
            continue;
        }
        if (!add_field(sc, (uint32_t)tag, v, ve - v)) return STEP_FIELDS_FULL;
        data_tag = fix_data_tag_for_length((uint32_t)tag);
        if (data_tag == 0 && sc->s->extra_data_count != 0)
            data_tag = extra_data_tag(sc->s, (uint32_t)tag);
        if (data_tag != 0) {
            size_t n = ve - v;
            data_len = 0;
            if (n == 0 || n > MAX_LENGTH_DIGITS) data_tag = 0;
            for (size_t i = 0; i < n && data_tag != 0; i++) {
                if (!is_digit(buf[v + i])) data_tag = 0;
                data_len = data_len * 10 + (uint64_t)(buf[v + i] - '0');
            }
        }
        pos = ve + 1;
    }
    if (!first) {
        *verdict = found;
        return STEP_FRAME;
    }
garbled: /* an empty body is too: it has no MsgType */
    if (found == BODY_INVALID_TAG) sc->nfields = first_invalid;
    return STEP_FRAME;
}

/* Is "<SOH>10=" at buf[e-1 .. e+2]? The caller knows those bytes are in the buffer. */
static inline int checksum_at(const uint8_t *buf, size_t e) {
    return buf[e - 1] == SOH && buf[e] == '1' && buf[e + 1] == '0' && buf[e + 2] == '=';
}

/* FIX_SCAN_TRUST_BODY_LENGTH and BodyLength does not point to "<SOH>10=" (the bytes at e-1
 * are in the buffer): the message runs to the end of the first "<SOH>10=...<SOH>" at or
 * after e-1, as QuickFIX frames it, if that ends by start + max. Returns 1 with f set, 0 to
 * wait for more bytes (the buffer ends before start + max), or -1 to fall back to resync
 * (none ends by start + max, or FIX_SCAN_FINAL and none in the buffer). Which it is depends
 * only on buf[start .. start + max), so not on how the stream was cut into reads. */
static int trusted_end(struct scanner *sc, struct frame *f, size_t e) {
    const uint8_t *buf = sc->buf;
    uint64_t limit = (uint64_t)f->start + sc->max; /* the message must end by here */
    size_t hi = limit < sc->len ? (size_t)limit : sc->len;
    size_t x = e - 1;
    int found = 0;
    /* The first "<SOH>10=" decides: a later one ends after the SOH that ends this one. */
    while (x + 4 <= hi) {
        const uint8_t *h = memchr(buf + x, SOH, hi - x - 3);
        if (!h) break;
        x = (size_t)(h - buf);
        if (buf[x + 1] == '1' && buf[x + 2] == '0' && buf[x + 3] == '=') {
            const uint8_t *soh = memchr(buf + x + 4, SOH, hi - (x + 4));
            if (soh) {
                f->end = (size_t)(soh - buf) + 1;
                found = 1;
            }
            break;
        }
        x++;
    }
    if (!found) return (uint64_t)sc->len < limit && !sc->final ? 0 : -1;
    f->status = FIX_FRAME_BAD_BODY_LENGTH;
    return 1; /* fields 8 and 9 lie before e - 1 < end: nothing to drop */
}

/* Frame the message that starts with "8=FIX" at p. */
static enum step frame_one(struct scanner *sc, size_t p, struct frame *f) {
    const uint8_t *buf = sc->buf;
    size_t len = sc->len;
    f->start = p;
    f->first_field = sc->nfields;

    /* BeginString: "8=FIX..." up to SOH, bounded so garbage cannot hold the scan. */
    size_t v8 = p + 2;
    size_t window = v8 + FIX_MAX_BEGIN_STRING + 1;
    size_t limit8 = window < len ? window : len;
    const uint8_t *soh = memchr(buf + v8, SOH, limit8 - v8);
    if (!soh) return limit8 < window ? cut_off(sc, f) : resync(sc, f, FIX_FRAME_GARBLED);
    size_t e8 = (size_t)(soh - buf);
    if (!add_field(sc, 8, v8, e8 - v8)) return STEP_FIELDS_FULL;

    /* BodyLength: "9=" digits SOH. */
    size_t q = e8 + 1;
    if (q + 2 > len) return cut_off(sc, f);
    if (buf[q] != '9' || buf[q + 1] != '=') return resync(sc, f, FIX_FRAME_GARBLED);
    size_t d = q + 2;
    uint64_t body_len = 0;
    while (d < len && is_digit(buf[d]) && d - (q + 2) < MAX_LENGTH_DIGITS) {
        body_len = body_len * 10 + (uint64_t)(buf[d] - '0');
        d++;
    }
    if (d >= len) return cut_off(sc, f);
    if (d == q + 2 || buf[d] != SOH) return resync(sc, f, FIX_FRAME_GARBLED);
    if (!add_field(sc, 9, q + 2, d - (q + 2))) return STEP_FIELDS_FULL;

    size_t b = d + 1;
    uint64_t total = (uint64_t)(b - p) + body_len + 7; /* + "10=ddd<SOH>" */
    if (total > sc->max) return resync(sc, f, FIX_FRAME_TOO_BIG);
    size_t e = b + (size_t)body_len; /* where "10=" must be */
    if (sc->trust && (uint64_t)e + 3 <= len && !checksum_at(buf, e)) {
        int r = trusted_end(sc, f, e);
        if (r > 0) return STEP_FRAME;
        if (r == 0) return STEP_NEED_MORE;
    }
    if ((uint64_t)p + total > len) return cut_off(sc, f);
    if (!checksum_at(buf, e)) return resync(sc, f, FIX_FRAME_BAD_BODY_LENGTH);
    if (!is_digit(buf[e + 3]) || !is_digit(buf[e + 4]) || !is_digit(buf[e + 5]) ||
        buf[e + 6] != SOH)
        return resync(sc, f, FIX_FRAME_GARBLED);

    /* The frame is sound from here on: the message ends after the checksum's SOH. */
    f->end = e + 7;
    enum body verdict;
    if (parse_body(sc, b, e, &verdict) == STEP_FIELDS_FULL) return STEP_FIELDS_FULL;
    if (verdict == BODY_GARBLED) {
        f->status = FIX_FRAME_GARBLED;
        return STEP_FRAME;
    }
    if (!add_field(sc, 10, e + 3, 3)) return STEP_FIELDS_FULL;
    unsigned want = (unsigned)(buf[e + 3] - '0') * 100u + (unsigned)(buf[e + 4] - '0') * 10u +
                    (unsigned)(buf[e + 5] - '0');
    if ((byte_sum(buf + p, e - p) & 0xFFu) != want)
        f->status = FIX_FRAME_BAD_CHECKSUM;
    else
        f->status = verdict == BODY_INVALID_TAG ? FIX_FRAME_INVALID_TAG : FIX_FRAME_OK;
    return STEP_FRAME;
}

int fix_scan(const uint8_t *buf, size_t len, size_t from, struct fix_scan *s) {
    if ((uint64_t)len > (uint64_t)FIX_MAX_BUFFER_SIZE) return CORE_ERR_TOO_BIG;
    if (from > len || (len > 0 && buf == NULL)) return CORE_ERR_BAD_OP;
    if ((s->msg_cap > 0 && !s->msgs) || (s->field_cap > 0 && !s->fields)) return CORE_ERR_BAD_OP;
    if (s->extra_data_count > 0 && !s->extra_data) return CORE_ERR_BAD_OP;

    struct scanner sc = {
        .buf = buf,
        .len = len,
        .s = s,
        .max = s->max_message_size ? s->max_message_size : FIX_DEFAULT_MAX_MESSAGE_SIZE,
        .final = (s->flags & FIX_SCAN_FINAL) != 0,
        .trust = (s->flags & FIX_SCAN_TRUST_BODY_LENGTH) != 0,
        .nfields = 0,
    };
    uint32_t count = 0;
    size_t pos = from; /* scanned up to here: after the last message reported */
    size_t keep = from; /* consumed: pos, or the start of what must be scanned again */
    int stop = FIX_STOP_END;
    for (;;) {
        if (count == s->msg_cap) {
            keep = pos;
            stop = pos == len ? FIX_STOP_END : FIX_STOP_MSGS_FULL;
            break;
        }
        size_t p = find_start(buf, pos, len);
        if (p == len) {
            /* No message start: everything is garbage except what may begin one. */
            keep = sc.final ? len : len - partial_start(buf, pos, len);
            stop = keep == len ? FIX_STOP_END : FIX_STOP_INCOMPLETE;
            break;
        }
        struct frame f;
        enum step r = frame_one(&sc, p, &f);
        if (r != STEP_FRAME) {
            sc.nfields = f.first_field; /* forget this message's fields */
            keep = p;
            stop = r == STEP_NEED_MORE ? FIX_STOP_INCOMPLETE : FIX_STOP_FIELDS_FULL;
            break;
        }
        struct fix_msg *m = &s->msgs[count++];
        m->start = (uint32_t)f.start;
        m->end = (uint32_t)f.end;
        m->skipped = (uint32_t)(f.start - pos);
        m->status = (uint32_t)f.status;
        m->first_field = f.first_field;
        m->field_count = sc.nfields - f.first_field;
        pos = f.end;
    }
    s->msg_count = count;
    s->field_count = sc.nfields;
    s->consumed = (uint32_t)keep;
    s->tail_skipped = (uint32_t)(keep - pos);
    s->stop = stop;
    return (int)count;
}

void fix_tag_values(const struct fix_msg *msgs, size_t count, const struct fix_field *fields,
                    size_t field_count, uint32_t tag, uint32_t *out) {
    for (size_t i = 0; i < count; i++) {
        uint64_t first = msgs[i].first_field, end = first + msgs[i].field_count;
        out[2 * i] = 0;
        out[2 * i + 1] = FIX_NO_VALUE;
        if (end > field_count) continue;
        for (uint64_t k = first; k < end; k++) {
            if (fields[k].tag == tag) {
                out[2 * i] = fields[k].offset;
                out[2 * i + 1] = fields[k].length;
                break;
            }
        }
    }
}
