/* FIX framing: find complete messages in a byte buffer and index their fields.
 *
 * One call scans a whole buffer and reports MANY messages, so Python pays one cffi call per
 * read (or per log file), not one per message. Nothing is allocated or copied: the caller
 * owns the two output arrays (messages, fields) and passes their capacities in a struct
 * fix_scan. Both are arrays of uint32 records, so Python can copy each out in one piece and
 * read every column as a strided memoryview.
 *
 * What a message is
 *   It starts at the five bytes "8=FIX" (so "8=FIXT.1.1" too), anywhere in the buffer: bytes
 *   before it are garbage (line noise, a log line's timestamp) and are skipped and counted.
 *   The first three fields must be 8, 9, 35 in that order. BodyLength (9) counts the bytes
 *   after "9=<n><SOH>" up to and including the SOH before "10="; the message then ends with
 *   "10=ddd<SOH>", ddd the sum of every byte before "10=" modulo 256, three digits.
 *   Every other field is tag=value<SOH>, tag 1..4294967295 in decimal digits (at most 10
 *   of them). A tag that is an integer <= 0 ("0", "00", "-1", "-0": a '-' then at most 10
 *   digits, or digits that are all 0) still frames the field but makes the message
 *   INVALID_TAG. A value of a FIX data field (RawData 96, XmlData 213, EncodedText 355 ...)
 *   that directly follows its length field (95, 212, 354 ...) is exactly that many bytes and
 *   may contain SOH or '='.
 *
 * What is reported for each message (a struct fix_msg in msgs[i])
 *   start, end          byte offsets: [start, end) is the message; end is one past the SOH
 *                       that ends it (for messages that are not OK, see "Statuses other than OK")
 *   skipped             garbage bytes skipped between the previous message (or the scan's
 *                       `from` offset) and start
 *   status              enum fix_frame_status
 *   first_field, field_count
 *                       this message's fields are fields[first_field .. first_field +
 *                       field_count - 1]: tag, value offset (into buf) and value length. They
 *                       include 8, 9 and, when present, 10, in wire order. A field whose
 *                       tag is an integer <= 0 is reported with tag 0, and its offset and
 *                       length are those of its TAG TEXT ("-1" in "-1=HI"), not its value,
 *                       so the caller can name the tag as sent.
 *
 * Statuses other than OK. Scanning always continues after such a message, so one bad
 * message never hides good ones that follow.
 *   INVALID_TAG    the frame is sound (BodyLength points to "<SOH>10=ddd<SOH>", ddd is the
 *                  sum) and every field parses, but one or more tags are an integer <= 0
 *                  (see "What a message is"). All fields are reported, those with tag 0 as
 *                  their tag text, then 10. This is the one status that is not a framing
 *                  error: the message is whole and in sequence, and a FIX session answers
 *                  it with a session Reject (373=0 "Invalid tag number", 371=<tag as sent>)
 *                  that consumes its sequence number, as QuickFIX does.
 * The rest are framing errors: the caller must drop the message without consuming a
 * sequence number.
 *   BAD_CHECKSUM   the frame is sound (BodyLength points to "10=ddd<SOH>", every field
 *                  parses, tags <= 0 included) but ddd is not the sum. All fields are
 *                  reported, tag-0 fields as for INVALID_TAG.
 *   GARBLED        the first three fields are not 8, 9, 35 (a first body field with a tag
 *                  <= 0 too); a field has no '=', an empty tag, a lone '-', a tag that is
 *                  not digits (after an optional '-'), more than 10 digits, or a tag above
 *                  4294967295; BodyLength or CheckSum is not digits; a data field overruns
 *                  the body; BeginString is longer than 32 bytes. Fields up to the bad one
 *                  are reported, but none from the first tag <= 0 on: tag 0 is reported only
 *                  in INVALID_TAG and BAD_CHECKSUM messages.
 *   BAD_BODY_LENGTH  BodyLength does not point to "<SOH>10=". Fields 8 and 9 are reported.
 *                  Where the message ends depends on FIX_SCAN_TRUST_BODY_LENGTH (below).
 *   TOO_BIG        BodyLength makes the message longer than max_message_size, so a peer
 *                  cannot make the caller buffer without bound. Fields 8 and 9 are reported.
 *   TRUNCATED      only with FIX_SCAN_FINAL: the buffer ends inside the message.
 * When "10=ddd<SOH>" is where BodyLength says (INVALID_TAG, BAD_CHECKSUM, and GARBLED
 * bodies), the frame is known and end is one past it. Otherwise (BAD_BODY_LENGTH too, unless
 * FIX_SCAN_TRUST_BODY_LENGTH finds its end) the frame cannot be trusted: end is the next
 * "8=FIX" after start (which is where scanning resumes), or start + max_message_size if
 * there is none that close, or the end of the buffer with FIX_SCAN_FINAL. The scanner waits
 * for those bytes like it waits for the rest of a message, so what it reports for a stream
 * does not depend on how the stream was cut into reads. A false "8=FIX" inside skipped bytes
 * (say in a Text field of a garbled message) is reported as one more GARBLED message.
 *
 * FIX_SCAN_TRUST_BODY_LENGTH: a wrong BodyLength on a session stream. Without the flag (log
 * files, market-data logs: one message a line) a BAD_BODY_LENGTH message ends at the next
 * "8=FIX", so one bad line never eats the next. With it the scanner frames as QuickFIX does
 * on a session: once the buffer holds the bytes BodyLength claims (and the 3 after them,
 * which show that "<SOH>10=" is not where it says), the message runs from its start to one
 * past the first SOH after the first "<SOH>10=" found at or after the byte before the
 * position BodyLength points to. A BodyLength that is too short so ends at the message's
 * own CheckSum; one that is too long swallows the message(s) after it, up to the next
 * CheckSum. Status BAD_BODY_LENGTH, fields 8 and 9 reported; what follows "10=" is not
 * checked. That end must be at most start + max_message_size: while none is found and the
 * buffer ends before that, the scanner waits for more bytes (so the result still does not
 * depend on how the stream was cut into reads); past it, or with FIX_SCAN_FINAL when the
 * buffer holds none, the message is handled as without the flag (resync at the next
 * "8=FIX", or TRUNCATED with FIX_SCAN_FINAL when the buffer ends before BodyLength's end).
 * The flag changes nothing else: a BodyLength that does point to "<SOH>10=" followed by a
 * CheckSum that is not "ddd<SOH>" is still GARBLED and resyncs.
 *
 * Incomplete tail and stops. Scanning stops
 *   FIX_STOP_END          at the end of the buffer: consumed == len.
 *   FIX_STOP_INCOMPLETE   at a message (or a prefix of "8=FIX") the buffer ends inside:
 *                         keep buf[consumed:len] and scan it again with more bytes appended.
 *                         Never with FIX_SCAN_FINAL, and never holds back more than
 *                         max_message_size + 4 bytes.
 *   FIX_STOP_MSGS_FULL    msg_cap messages reported; consumed is the end of the last one.
 *   FIX_STOP_FIELDS_FULL  the next message's fields do not fit; it is not reported and
 *                         consumed is its start. With msg_count == 0 no progress is possible
 *                         until the field columns grow.
 * In every case consumed - from == sum of (end - start) + sum of skipped + tail_skipped,
 * where tail_skipped is garbage consumed after the last reported message.
 *
 * Limits. Offsets are uint32, so a buffer may hold at most 4294967295 bytes (4 GiB - 1);
 * fix_scan returns CORE_ERR_TOO_BIG for a longer one. max_message_size 0 means
 * FIX_DEFAULT_MAX_MESSAGE_SIZE (1 MiB).
 */
#ifndef CORE_FRAMING_H
#define CORE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* cffi:begin */
#define FIX_DEFAULT_MAX_MESSAGE_SIZE 1048576
#define FIX_MAX_BUFFER_SIZE 4294967295
#define FIX_MAX_BEGIN_STRING 32
#define FIX_SCAN_FINAL 1  /* no more bytes will come: report a cut-off tail as TRUNCATED */
#define FIX_SCAN_TRUST_BODY_LENGTH 2 /* a wrong BodyLength ends at the next CheckSum (above) */

enum fix_frame_status {
    FIX_FRAME_OK = 0,
    FIX_FRAME_BAD_BODY_LENGTH = 1,
    FIX_FRAME_BAD_CHECKSUM = 2,
    FIX_FRAME_GARBLED = 3,
    FIX_FRAME_TOO_BIG = 4,
    FIX_FRAME_TRUNCATED = 5,
    FIX_FRAME_INVALID_TAG = 6
};

enum fix_scan_stop {
    FIX_STOP_END = 0,
    FIX_STOP_INCOMPLETE = 1,
    FIX_STOP_MSGS_FULL = 2,
    FIX_STOP_FIELDS_FULL = 3
};

/* One reported message (see "What is reported" above). */
struct fix_msg {
    uint32_t start;
    uint32_t end;
    uint32_t skipped;
    uint32_t status; /* enum fix_frame_status */
    uint32_t first_field;
    uint32_t field_count;
};

/* One field: value is buf[offset : offset + length]. */
struct fix_field {
    uint32_t tag;
    uint32_t offset;
    uint32_t length;
};

struct fix_scan {
    /* in: caller-owned output arrays and their capacities */
    struct fix_msg *msgs;
    uint32_t msg_cap;
    struct fix_field *fields;
    uint32_t field_cap;
    /* in: limits and flags */
    uint32_t max_message_size; /* 0: FIX_DEFAULT_MAX_MESSAGE_SIZE */
    uint32_t flags;            /* FIX_SCAN_FINAL | FIX_SCAN_TRUST_BODY_LENGTH, or 0 */
    /* length/data tag pairs besides the standard ones (a session dictionary's user-defined
     * DATA fields): extra_data[2k] a length tag, extra_data[2k + 1] its data tag, sorted by
     * length tag; extra_data_count pairs (0: none, extra_data may be NULL) */
    const uint32_t *extra_data;
    uint32_t extra_data_count;
    /* out */
    uint32_t msg_count;
    uint32_t field_count;
    uint32_t consumed;     /* absolute offset: bytes before it are done with */
    uint32_t tail_skipped; /* garbage consumed after the last reported message */
    int32_t stop;          /* enum fix_scan_stop */
};

/* Scan buf[from:len]. Offsets written are absolute (from the start of buf). Returns the
 * number of messages reported (== s->msg_count), or CORE_ERR_TOO_BIG if len exceeds
 * FIX_MAX_BUFFER_SIZE, or CORE_ERR_BAD_OP if from > len or a column pointer with a
 * non-zero capacity (or extra_data with a non-zero extra_data_count) is NULL; on error s
 * is left unchanged. Only msgs[0 .. msg_count) and fields[0 .. field_count) are written. */
int fix_scan(const uint8_t *buf, size_t len, size_t from, struct fix_scan *s);

#define FIX_NO_VALUE 4294967295 /* fix_tag_values: the message has no such field */

/* For each message i of msgs[0 .. count): where the value of its first field `tag` is, as
 * out[2i] = offset and out[2i+1] = length, or out[2i+1] = FIX_NO_VALUE if it has none (or if
 * its field range does not lie inside fields[0 .. field_count)). One call answers a question
 * like "MsgSeqNum of every message" for a whole batch. */
void fix_tag_values(const struct fix_msg *msgs, size_t count, const struct fix_field *fields,
                    size_t field_count, uint32_t tag, uint32_t *out);

/* The data field whose length is given by tag len_tag (96 for 95, ...), or 0. */
uint32_t fix_data_tag_for_length(uint32_t len_tag);
/* cffi:end */

#endif
