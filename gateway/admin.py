"""Builders for session-level (admin) messages: bodies only; the session stamps the header.

Field choices follow QuickFIX where the standard leaves room (TestReqID ``TEST``, Reject
without RefMsgType/SessionRejectReason before FIX 4.2, EndSeqNo 0 meaning infinity), so that
conformance suites written against QuickFIX see the same messages.
"""

from __future__ import annotations

from fixspec.reject import Reject
from gateway.fixmessage import Message

# Tags used here.
BEGIN_SEQ_NO, END_SEQ_NO, NEW_SEQ_NO, GAP_FILL_FLAG = 7, 16, 36, 123
REF_SEQ_NUM, TEXT, ENCRYPT_METHOD, HEART_BT_INT = 45, 58, 98, 108
TEST_REQ_ID, RESET_SEQ_NUM_FLAG, REF_TAG_ID, REF_MSG_TYPE = 112, 141, 371, 372
SESSION_REJECT_REASON, BUSINESS_REJECT_REASON = 373, 380
USERNAME, PASSWORD, DEFAULT_APPL_VER_ID = 553, 554, 1137

#: Routing header fields and their reverses, swapped on a Reject (QuickFIX does the same).
ROUTING_REVERSE = {115: 128, 116: 129, 144: 145, 128: 115, 129: 116, 145: 144}

UNSUPPORTED_MESSAGE_TYPE = 3


def logon(
    heartbeat_interval: int,
    *,
    reset: bool = False,
    username: str | None = None,
    password: str | None = None,
    default_appl_ver_id: str | None = None,
) -> Message:
    msg = Message("A")
    msg.body.set(ENCRYPT_METHOD, 0)
    msg.body.set(HEART_BT_INT, heartbeat_interval)
    if reset:
        msg.body.set(RESET_SEQ_NUM_FLAG, True)
    if username is not None:
        msg.body.set(USERNAME, username)
    if password is not None:
        msg.body.set(PASSWORD, password)
    if default_appl_ver_id is not None:
        msg.body.set(DEFAULT_APPL_VER_ID, default_appl_ver_id)
    return msg


def logout(text: str | None = None) -> Message:
    msg = Message("5")
    if text:
        msg.body.set(TEXT, text)
    return msg


def heartbeat(test_req_id: bytes | None = None) -> Message:
    msg = Message("0")
    if test_req_id is not None:
        msg.body.set(TEST_REQ_ID, test_req_id)
    return msg


def test_request(test_req_id: str = "TEST") -> Message:
    msg = Message("1")
    msg.body.set(TEST_REQ_ID, test_req_id)
    return msg


def resend_request(begin: int, end: int) -> Message:
    msg = Message("2")
    msg.body.set(BEGIN_SEQ_NO, begin)
    msg.body.set(END_SEQ_NO, end)
    return msg


def sequence_reset(new_seq_no: int, *, gap_fill: bool) -> Message:
    msg = Message("4")
    if gap_fill:
        msg.body.set(GAP_FILL_FLAG, True)
    msg.body.set(NEW_SEQ_NO, new_seq_no)
    return msg


def reject(problem: Reject, begin_string: str, offending: Message | None = None) -> Message:
    """Reject (3) for ``problem``; routing fields of ``offending`` come back reversed."""
    msg = Message("3")
    if problem.ref_seq_num is not None:
        msg.body.set(REF_SEQ_NUM, problem.ref_seq_num)
    else:
        msg.body.set(REF_SEQ_NUM, 0)  # required; 0 says "could not be read"
    modern = begin_string >= "FIX.4.2"
    if modern and problem.ref_tag is not None:
        msg.body.set(REF_TAG_ID, problem.ref_tag)
    if modern and problem.ref_msg_type:
        msg.body.set(REF_MSG_TYPE, problem.ref_msg_type)
    # FIX 4.2 defines reasons 0-11 only; a later reason (13 Tag appears more than once,
    # 16 Incorrect NumInGroup ...) would itself be an invalid value there, so the reason's
    # name goes in Text alone, as QuickFIX does.
    if modern and (begin_string != "FIX.4.2" or int(problem.reason) <= 11):
        msg.body.set(SESSION_REJECT_REASON, int(problem.reason))
    msg.body.set(TEXT, problem.text)
    if offending is not None:
        reverse_routing(offending, msg)
    return msg


def business_reject(ref_seq_num: int | None, ref_msg_type: str, reason: int, text: str,
                    offending: Message | None = None) -> Message:
    msg = Message("j")
    if ref_seq_num is not None:
        msg.body.set(REF_SEQ_NUM, ref_seq_num)
    msg.body.set(REF_MSG_TYPE, ref_msg_type)
    msg.body.set(BUSINESS_REJECT_REASON, reason)
    msg.body.set(TEXT, text)
    if offending is not None:
        reverse_routing(offending, msg)
    return msg


def reverse_routing(incoming: Message, reply: Message) -> None:
    """Copy OnBehalfOf*/DeliverTo* of ``incoming`` into ``reply``'s header, reversed; empty
    values are left out."""
    for tag, reverse in ROUTING_REVERSE.items():
        value = incoming.header.get(tag)
        if value:
            reply.header.set(reverse, value)
