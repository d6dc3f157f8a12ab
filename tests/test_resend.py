"""Resend and gap-fill planning, table-driven (pure functions)."""

from __future__ import annotations

import pytest

from gateway.resend import GapFill, Resend, msg_type_of, plan_resend, request_range
from gateway.store import StoredMessage


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
