/* Unit tests for csrc/auditline.c; run under ASan/UBSan by tests/test_c_sanitized.py. The
 * same text as Python's renderer is held by tests/test_audit.py, any input's shape by
 * tests/fuzz/fuzz_auditline.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditline.h"

static int failures = 0;

/* The tail of msg (len bytes) must be expected. */
static void check(const char *msg, size_t len, const char *expected, int line) {
    size_t bound = audit_msg_tail_bound(len);
    uint8_t *out = malloc(bound);
    size_t n = audit_msg_tail((const uint8_t *)msg, len, out);
    if (n > bound || n != strlen(expected) || memcmp(out, expected, n) != 0) {
        fprintf(stderr, "%s:%d: got %.*s\n  expected %s\n", __FILE__, line, (int)n,
                (const char *)out, expected);
        failures++;
    }
    free(out);
}

#define CHECK_TAIL(msg, expected) check(msg, sizeof(msg) - 1, expected, __LINE__)

int main(void) {
    /* the ids in the record's order, whatever the message's; the seq a number */
    CHECK_TAIL("8=FIX.4.4\x01" "35=8\x01" "34=0012\x01" "17=E1\x01" "37=O1\x01" "11=N2\x01"
               "41=N1\x01" "10=001\x01",
               ",\"seq\":12,\"msg_type\":\"8\",\"cl_ord_id\":\"N2\",\"orig_cl_ord_id\":\"N1\","
               "\"order_id\":\"O1\",\"exec_id\":\"E1\",\"raw\":\"8=FIX.4.4|35=8|34=0012|17=E1|"
               "37=O1|11=N2|41=N1|10=001|\"}");
    /* the first of a tag counts; one at the very start (no SOH before it) does not */
    CHECK_TAIL("11=X\x01" "11=A\x01" "11=B",
               ",\"cl_ord_id\":\"A\",\"raw\":\"11=X|11=A|11=B\"}");
    /* a seq that is not digits is a string; an all-zero one is 0; an empty value is "" */
    CHECK_TAIL("\x01" "34=7a\x01", ",\"seq\":\"7a\",\"raw\":\"|34=7a|\"}");
    CHECK_TAIL("\x01" "34=000", ",\"seq\":0,\"raw\":\"|34=000\"}");
    CHECK_TAIL("\x01" "35=", ",\"msg_type\":\"\",\"raw\":\"|35=\"}");
    /* JSON escapes as Python writes them; latin-1 bytes as UTF-8 */
    CHECK_TAIL("\x01" "11=\"\\\b\f\n\r\t\x1f\x7f\xe9",
               ",\"cl_ord_id\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u001f\x7f\xc3\xa9\","
               "\"raw\":\"|11=\\\"\\\\\\b\\f\\n\\r\\t\\u001f\x7f\xc3\xa9\"}");
    /* a NUL inside is a byte like any other */
    check("\x01" "35=A\0B", 7, ",\"msg_type\":\"A\\u0000B\",\"raw\":\"|35=A\\u0000B\"}",
          __LINE__);
    CHECK_TAIL("", ",\"raw\":\"\"}");
    CHECK_TAIL("\x01" "34", ",\"raw\":\"|34\"}");
    return failures ? 1 : 0;
}
