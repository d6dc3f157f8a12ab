"""Resend and gap-fill planning, table-driven (pure functions), and the byte-level copy of a
stored message for its resend, checked against decoding and encoding it again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixspec.dictionary import builtin_session
from gateway.codec import decode_bytes, encode
from gateway.fixmessage import Group, Message
from gateway.resend import (
    GapFill,
    Resend,
    msg_type_of,
    plan_resend,
    possdup_copy,
    request_range,
)
from gateway.store import StoredMessage
from tests.fix_helpers import split_fields
from tests.test_codec import SETTINGS, messages


def msg(seq: int, msg_type: str) -> StoredMessage:
    return StoredMessage(seq, f"8=FIX.4.4\x019=5\x0135={msg_type}\x0134={seq}\x01".encode())


def plan(begin: int, end: int, next_seq: int, types: dict[int, str]) -> list[str]:
    stored = [msg(s, t) for s, t in sorted(types.items())]
    out = []
    for step in plan_resend(begin, end, next_seq, stored):
        if isinstance(step, Resend):
            out.append(f"R{step.seq}")
        else:
            out.append(f"G{step.seq}->{step.new_seq_no}")
    return out


@pytest.mark.parametrize(
    ("begin", "end", "next_seq", "types", "expected"),
    [
        # all application messages: each resent
        (1, 3, 4, {1: "D", 2: "D", 3: "8"}, ["R1", "R2", "R3"]),
        # EndSeqNo 0 means up to the last sent
        (2, 0, 4, {1: "D", 2: "D", 3: "8"}, ["R2", "R3"]),
        # FIX 4.1 infinity
        (2, 999999, 4, {1: "D", 2: "D", 3: "8"}, ["R2", "R3"]),
        # a run of admin messages collapses into one gap fill
        (1, 0, 6, {1: "A", 2: "0", 3: "0", 4: "D", 5: "0"}, ["G1->4", "R4", "G5->6"]),
        # only admin messages
        (1, 0, 4, {1: "A", 2: "0", 3: "1"}, ["G1->4"]),
        # numbers the store does not hold are gap-filled too
        (1, 0, 6, {1: "D", 4: "D", 5: "8"}, ["R1", "G2->4", "R4", "R5"]),
        # admin messages next to a hole merge into one run
        (1, 0, 7, {1: "D", 2: "0", 5: "0", 6: "D"}, ["R1", "G2->6", "R6"]),
        # a bounded range that ends in admin messages fills to end + 1
        (1, 3, 10, {1: "D", 2: "0", 3: "0", 4: "D"}, ["R1", "G2->4"]),
        # Reject is session-level: gap-filled, as QuickFIX does
        (1, 0, 3, {1: "3", 2: "D"}, ["G1->2", "R2"]),
        # begin past what we sent: one gap fill so the peer resynchronises
        (9, 0, 5, {1: "D"}, []),
        (3, 0, 5, {}, ["G3->5"]),
        # nothing sent at all
        (1, 0, 1, {}, []),
    ],
)
def test_plan_resend(
    begin: int, end: int, next_seq: int, types: dict[int, str], expected: list[str]
) -> None:
    assert plan(begin, end, next_seq, types) == expected


def test_plan_resend_keeps_raw_bytes() -> None:
    stored = [msg(1, "D")]
    assert plan_resend(1, 0, 2, stored) == [Resend(1, stored[0].raw)]
    assert plan_resend(1, 1, 5, []) == [GapFill(1, 2)]


def test_msg_type_of() -> None:
    assert msg_type_of(b"8=FIX.4.4\x019=5\x0135=AE\x0134=1\x01") == "AE"
    assert msg_type_of(b"garbage") == ""


@pytest.mark.parametrize(
    ("expected", "received", "chunk", "out"),
    [(5, 9, 0, (5, 0)), (5, 9, 2, (5, 6)), (5, 9, 10, (5, 8)), (5, 6, 1, (5, 5))],
)
def test_request_range(expected: int, received: int, chunk: int, out: tuple[int, int]) -> None:
    assert request_range(expected, received, chunk) == out


def test_request_range_needs_a_gap() -> None:
    with pytest.raises(ValueError, match="no gap"):
        request_range(5, 5)


# -- the resend copy -----------------------------------------------------------------------------

STAMP = b"20261126-14:00:00.000"


def reencoded(raw: bytes, version: str) -> bytes:
    """The resend as decoding, setting the PossDup fields and encoding give it."""
    sd = builtin_session(version)
    msg = decode_bytes(raw, sd)
    original = msg.header.get(52) or STAMP
    msg.header.set(43, True)
    msg.header.set(122, original)
    msg.header.set(52, STAMP)
    return encode(msg, sd)


@SETTINGS
@given(messages("FIX.4.4"), st.sampled_from([(), ((43, "N"),), ((43, "Y"), (122, "X")),
                                              ((97, "Y"), (369, "7"))]))
def test_the_copy_equals_decoding_and_encoding_again(
    msg: Message, extra: tuple[tuple[int, str], ...]
) -> None:
    for tag, value in extra:  # a stored message may carry these already
        msg.header.set(tag, value)
    raw = encode(msg, builtin_session("FIX.4.4"))
    copy = possdup_copy(raw, STAMP, builtin_session("FIX.4.4").header)
    assert copy == reencoded(raw, "FIX.4.4")
    fields = dict(split_fields(copy))
    assert (fields[43], fields[52]) == (b"Y", STAMP)
    assert fields[122] == dict(split_fields(raw)).get(52, STAMP)


def test_a_header_without_sending_time_gets_the_new_one_as_original() -> None:
    raw = b"8=FIX.4.2\x019=22\x0135=D\x0134=7\x0149=A\x0156=B\x0111=X\x0110=000\x01"
    copy = possdup_copy(raw, STAMP, builtin_session("FIX.4.2").header)
    assert copy is not None
    assert split_fields(copy)[3:9] == [(34, b"7"), (43, b"Y"), (49, b"A"), (52, STAMP),
                                       (56, b"B"), (122, STAMP)]
    assert split_fields(copy)[9] == (11, b"X")


def test_what_the_copy_leaves_to_the_encoder() -> None:
    """A header group, a header data field or a header out of order is not copied (None)."""
    sd = builtin_session("FIX.4.4")
    msg = Message("D", begin_string="FIX.4.4")
    for tag, value in ((34, "2"), (49, "A"), (52, "20261126-13:00:00.000"), (56, "B"),
                       (11, "X")):
        (msg.header if tag != 11 else msg.body).set(tag, value)
    plain = encode(msg, sd)
    assert possdup_copy(plain, STAMP, sd.header) == reencoded(plain, "FIX.4.4")
    hops = Group(627, 628)
    hops.add((628, "HOP1"))
    msg.header.add_group(hops)
    assert possdup_copy(encode(msg, sd), STAMP, sd.header) is None
    xml = encode(msg, sd).replace(b"\x01627=", b"\x01212=4\x01213=<a/>\x01627=")
    assert possdup_copy(xml.replace(b"\x01627=1\x01628=HOP1", b""), STAMP, sd.header) is None
    swapped = plain.replace(b"49=A\x01", b"").replace(b"56=B\x01", b"56=B\x0149=A\x01")
    assert possdup_copy(swapped, STAMP, sd.header) is None
    assert possdup_copy(b"8=FIX.4.4\x019=5\x0135=D\x01", STAMP, sd.header) is None

