"""Resend and gap-fill planning, as pure functions (DESIGN.md convention 5).

Serving a ResendRequest: :func:`plan_resend` turns the requested range and what the store
holds into the messages to send, in order: stored application messages again (the session
sets PossDupFlag=Y and OrigSendingTime), and one SequenceReset-GapFill for every run of
session-level messages or numbers the store does not hold, as QuickFIX does.

Copying a stored message for its resend: :func:`possdup_copy` rewrites the header's bytes
(PossDupFlag, OrigSendingTime, SendingTime, BodyLength, CheckSum) and keeps the body as it
was sent, which is several times cheaper than decoding and encoding it again.

Asking for a resend: :func:`request_range` picks the range of our own ResendRequest, in
chunks when the counterparty limits how many messages one request may cover.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from fixspec.dictionary import FieldSet
from gateway.store import StoredMessage

#: MsgTypes of session-level messages: never resent, always gap-filled.
ADMIN_MSG_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})


@dataclass(frozen=True, slots=True)
class Resend:
    """Send stored message ``seq`` again with PossDupFlag=Y."""

    seq: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class GapFill:
    """Send SequenceReset-GapFill with MsgSeqNum ``seq`` and NewSeqNo ``new_seq_no``."""

    seq: int
    new_seq_no: int


@dataclass(frozen=True, slots=True)
class Unplanned:
    """Numbers ``begin``..``end`` of a resend, planned as the resend reaches them: a window
    at a time, with :func:`plan_resend` given ``next_sender_seq`` as it was when the resend
    was asked for (so the last window's gap fill runs where the whole plan's would). A day
    planned whole at every ResendRequest held up every session for tens of milliseconds a
    request, and held the day's messages in memory."""

    begin: int
    end: int
    next_sender_seq: int


POSS_DUP_FLAG = 43
SENDING_TIME = 52
ORIG_SENDING_TIME = 122
_REPLACED = frozenset({POSS_DUP_FLAG, SENDING_TIME, ORIG_SENDING_TIME})


@functools.lru_cache(maxsize=64)
def _plain_tags(header: FieldSet) -> frozenset[int]:
    """The header's tags that :func:`possdup_copy` moves as plain fields: neither a group, nor
    a data field or its length, nor 8, 9, 35 or 10, which the framing owns."""
    special = {8, 9, 35, 10, *header.groups, *header.data_lengths, *header.data_lengths.values()}
    special.update(tag for tag, fd in header.fields.items() if fd.is_data)
    return header.tags - special


def possdup_copy(raw: bytes, sending_time: bytes, header: FieldSet) -> bytes | None:
    """``raw`` (a message as our encoder wrote it) made into its resend: PossDupFlag (43) Y,
    OrigSendingTime (122) the original SendingTime, SendingTime (52) ``sending_time``, header
    fields in ascending tag order after 8, 9 and 35, the body's bytes as they were, BodyLength
    and CheckSum computed again: what decoding, setting those fields and encoding gives.

    The header is the run of ``header``'s fields after MsgType. None when that run is not in
    ascending tag order, holds a group or a data field, or ``raw`` is not framed as our encoder
    frames: the caller then decodes and encodes.
    """
    plain = _plain_tags(header)
    try:
        start = raw.index(b"\x0135=") + 1  # MsgType
        pos = raw.index(b"\x01", start) + 1
        tail = raw.rindex(b"\x0110=") + 1  # CheckSum
    except ValueError:
        return None
    fields = [(POSS_DUP_FLAG, b"43=Y\x01"), (SENDING_TIME, b"52=%s\x01" % sending_time)]
    original = sending_time
    last = 0
    while pos < tail:
        end = raw.index(b"\x01", pos)
        eq = raw.find(b"=", pos, end)
        if eq < 0 or not raw[pos:eq].isdigit():
            return None
        tag = int(raw[pos:eq])
        if tag not in plain:
            if tag in header.tags:
                return None  # a header group or data field: leave it to the encoder
            break  # the body
        if tag <= last:
            return None
        last = tag
        if tag == SENDING_TIME:
            original = raw[eq + 1 : end]
        elif tag not in _REPLACED:
            fields.append((tag, raw[pos : end + 1]))
        pos = end + 1
    fields.append((ORIG_SENDING_TIME, b"122=%s\x01" % original))
    fields.sort()
    body = b"".join((raw[start : raw.index(b"\x01", start) + 1],
                     *(chunk for _, chunk in fields), raw[pos:tail]))
    frame = b"%s9=%d\x01%s" % (raw[: raw.index(b"\x01") + 1], len(body), body)
    return frame + b"10=%03d\x01" % (sum(frame) % 256)


def msg_type_of(raw: bytes) -> str:
    """MsgType (35) of an encoded message ('' if absent): the third field by FIX's rule."""
    start = raw.find(b"\x0135=")
    if start < 0:
        return ""
    end = raw.find(b"\x01", start + 4)
    return raw[start + 4 : end if end >= 0 else len(raw)].decode("ascii", "replace")


def plan_resend(
    begin: int,
    end: int,
    next_sender_seq: int,
    stored: Iterable[StoredMessage],
) -> list[Resend | GapFill]:
    """What to send for ResendRequest(BeginSeqNo=begin, EndSeqNo=end).

    ``end`` 0 (or anything at or past our last sent number, such as FIX 4.1's 999999) means
    "up to the last message sent", which is ``next_sender_seq - 1``. ``stored`` yields the
    store's messages in that range in ascending order. A begin beyond the last sent message
    yields a single gap fill to ``next_sender_seq`` so the peer can resynchronise.
    """
    last = next_sender_seq - 1
    if end == 0 or end > last:
        end = last
    begin = max(begin, 1)
    if begin > end:
        return [GapFill(begin, next_sender_seq)] if begin < next_sender_seq else []
    plan: list[Resend | GapFill] = []
    gap_start: int | None = None
    expected = begin
    for message in stored:
        if not begin <= message.seq <= end:
            continue
        if message.seq > expected and gap_start is None:
            gap_start = expected  # numbers the store does not hold
        if msg_type_of(message.raw) in ADMIN_MSG_TYPES:  # gap-filled, never resent
            if gap_start is None:
                gap_start = message.seq
        else:
            if gap_start is not None:
                plan.append(GapFill(gap_start, message.seq))
                gap_start = None
            plan.append(Resend(message.seq, message.raw))
        expected = message.seq + 1
    if expected <= end and gap_start is None:
        gap_start = expected
    if gap_start is not None:
        # Up to our next number when the range runs to the end, as the peer expects next.
        plan.append(GapFill(gap_start, next_sender_seq if end == last else end + 1))
    return plan


def request_range(expected: int, received: int, chunk: int = 0) -> tuple[int, int]:
    """BeginSeqNo and EndSeqNo for our ResendRequest when ``received`` > ``expected``.

    Without a chunk limit we ask for everything from ``expected`` on (EndSeqNo 0, "infinity",
    as FIX 4.2 and later define it). With one, at most ``chunk`` messages per request; the
    session asks for the next chunk when this one is filled.
    """
    if received <= expected:
        raise ValueError(f"no gap: expected {expected}, received {received}")
    if chunk <= 0:
        return expected, 0
    return expected, min(expected + chunk - 1, received - 1)
