/* The part of an audit log's msg record that comes from the message itself.
 *
 * gateway/audit.py writes one JSON line per FIX message in or out. Its time, session and
 * direction are Python's; the rest is found in the message's bytes, here in one pass:
 *
 *   ,"seq":N,"msg_type":"D",...,"raw":"8=FIX.4.4|9=...|10=123|"}
 *
 * Each of MsgSeqNum (34), MsgType (35), ClOrdID (11), OrigClOrdID (41), OrderID (37) and
 * ExecID (17) whose "<SOH>tag=" occurs in the message gives its first value (up to the next
 * SOH), in that order, absent ones left out; the seq is a JSON number when its value is
 * ASCII digits (leading zeros dropped), else a string. Then the whole message with SOH shown
 * as '|'. Strings are escaped as Python's json module escapes them with ensure_ascii off
 * (quote, backslash, \b \f \n \r \t, other control characters as \u00xx), each byte read as
 * latin-1 and written as UTF-8, so the text equals what gateway.audit's structlog renderer
 * writes for the same fields (tests/test_audit.py holds the two equal).
 */
#ifndef CORE_AUDITLINE_H
#define CORE_AUDITLINE_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */
/* Room audit_msg_tail may need for a message of n bytes. */
size_t audit_msg_tail_bound(size_t n);
/* Write the record's tail for raw[0..n) to out (at least audit_msg_tail_bound(n) bytes);
 * returns its length. */
size_t audit_msg_tail(const uint8_t *raw, size_t n, uint8_t *out);
/* cffi:end */

#endif
