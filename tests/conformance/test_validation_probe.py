"""Which fault a Reject names when a message has several, and what the switches let through:
QuickFIX's order, checked field by field and, over TCP, against QuickFIX itself.

QuickFIX (and QuickFIX/J) check a decoded message in a fixed order: required fields first
(the lowest missing tag), then each field of the header, the trailer and the body in ascending
tag order, each for an empty value, its data format and its enumeration before whether the
tag is defined for the message. A counterparty whose order has two faults gets the Reject
naming the first of them in that order, so we must name the same one. The order a field
comes in on the wire does not matter.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixspec.dictionary import load_builtin
from fixspec.reject import SessionRejectReason
from fixspec.validate import ValidationOptions
from tests.conformance.harness import Client
from tests.fix_helpers import reject_of

R = SessionRejectReason
FIX44 = load_builtin("FIX.4.4")
ROOT = Path(__file__).resolve().parents[2]
Fields = list[tuple[int, bytes]]

HEADER: Fields = [
    (8, b"FIX.4.4"), (9, b"0"), (35, b"D"), (34, b"2"), (49, b"TW"),
    (52, b"20240102-13:45:01.123"), (56, b"ISLD"),
]  # fmt: skip
# NewOrderSingle's body in the order a counterparty may well send it (not ascending)
BODY: Fields = [
    (11, b"ID"), (21, b"1"), (55, b"INTC"), (54, b"1"), (60, b"20240102-13:45:01.120"),
    (38, b"100"), (40, b"1"),
]  # fmt: skip


def order(*extra: tuple[int, bytes], drop: tuple[int, ...] = (),
          first: tuple[tuple[int, bytes], ...] = (), **values: bytes) -> Fields:
    """The NewOrderSingle with body fields replaced (``t54=b"Z"``), dropped, or added at the
    start (``first``) or the end (``extra``) of the body."""
    body = [(t, values.get(f"t{t}", v)) for t, v in BODY if t not in drop]
    return HEADER + list(first) + body + list(extra) + [(10, b"000")]


def answer(fields: Fields, options: ValidationOptions | None = None
           ) -> tuple[SessionRejectReason, int | None] | None:
    reject = reject_of(fields, FIX44, options or ValidationOptions())
    return None if reject is None else (reject.reason, reject.ref_tag)


# -- several faults: the one QuickFIX names --------------------------------------------------


def test_the_lowest_missing_required_tag_is_named() -> None:
    # NewOrderSingle's required fields in dictionary order are 11, 54, 60, 40
    assert answer(order(drop=(54, 40))) == (R.REQUIRED_TAG_MISSING, 40)
    assert answer(order(drop=(60, 40))) == (R.REQUIRED_TAG_MISSING, 40)


def test_a_missing_required_tag_comes_before_a_bad_value() -> None:
    assert answer(order(drop=(40,), t54=b"Z")) == (R.REQUIRED_TAG_MISSING, 40)


def test_bad_values_are_named_in_ascending_tag_order_not_wire_order() -> None:
    # Side (54) comes before OrdType (40) on the wire; QuickFIX names 40
    assert answer(order(t54=b"Z", t40=b"Q")) == (R.VALUE_IS_INCORRECT, 40)


def test_an_undefined_tag_earlier_on_the_wire_does_not_hide_a_lower_bad_value() -> None:
    fields = order(first=((4999, b"1"),), t54=b"Z")
    assert answer(fields) == (R.VALUE_IS_INCORRECT, 54)


def test_the_value_of_a_field_is_checked_before_whether_the_message_defines_it() -> None:
    # BeginSeqNo (7) is a SEQNUM the dictionary defines, not for NewOrderSingle
    assert answer(order((7, b""))) == (R.TAG_SPECIFIED_WITHOUT_A_VALUE, 7)
    assert answer(order((7, b"abc"))) == (R.INCORRECT_DATA_FORMAT_FOR_VALUE, 7)
    assert answer(order((7, b"1"))) == (R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, 7)
    assert answer(order((5001, b""))) == (R.TAG_SPECIFIED_WITHOUT_A_VALUE, 5001)
    assert answer(order((5001, b"1"))) == (R.INVALID_TAG_NUMBER, 5001)


# -- the switches let tags through, not bad values --------------------------------------------


def test_allow_unknown_message_fields_still_checks_values_of_known_tags() -> None:
    lenient = ValidationOptions(allow_unknown_message_fields=True)
    assert answer(order((7, b"1")), lenient) is None
    assert answer(order((7, b"abc")), lenient) == (R.INCORRECT_DATA_FORMAT_FOR_VALUE, 7)
    assert answer(order((7, b"")), lenient) == (R.TAG_SPECIFIED_WITHOUT_A_VALUE, 7)


def test_unchecked_user_defined_fields_still_need_a_value() -> None:
    lenient = ValidationOptions(check_user_defined_fields=False)
    assert answer(order((5001, b"1")), lenient) is None
    assert answer(order((5001, b"")), lenient) == (R.TAG_SPECIFIED_WITHOUT_A_VALUE, 5001)


def test_empty_values_allowed_does_not_allow_undefined_tags() -> None:
    lenient = ValidationOptions(check_fields_have_values=False)
    assert answer(order((58, b"")), lenient) is None
    assert answer(order((4999, b"")), lenient) == (R.INVALID_TAG_NUMBER, 4999)
    # (an empty BeginSeqNo is checked as a number first, as QuickFIX checks the format of
    # a field before whether the message defines it)
    assert answer(order((7, b"")), lenient) == (R.INCORRECT_DATA_FORMAT_FOR_VALUE, 7)


# -- single faults QuickFIX names differently -------------------------------------------------


@pytest.mark.parametrize("value", [b"1  2", b"1 ", b" 1"])
def test_an_empty_token_of_a_multiple_value_string_is_an_incorrect_value(value: bytes) -> None:
    assert answer(order((18, value))) == (R.VALUE_IS_INCORRECT, 18)


def test_a_negative_numingroup_is_a_count_that_does_not_match() -> None:
    assert answer(order((78, b"-1"), (79, b"A"))) == (R.INCORRECT_NUMINGROUP_COUNT, 78)
    assert answer(order((78, b"-"), (79, b"A"))) == (R.INCORRECT_DATA_FORMAT_FOR_VALUE, 78)


# -- over TCP: the Reject, and the sequence number it consumes --------------------------------

NOS = "35=D|11=ID|21=1|55=INTC|{side}60={t}|38=100|{ord_type}"
# (name, body with {t} for TransactTime); each is answered with a Reject that consumes 2
CASES = {
    "missing 54 and 40": NOS.format(side="", ord_type="", t="{t}"),
    "bad 54, missing 40": NOS.format(side="54=Z|", ord_type="", t="{t}"),
    "bad 54 before bad 40": NOS.format(side="54=Z|", ord_type="40=Q", t="{t}"),
    "4999 before bad 54": "35=D|4999=1|" + NOS.format(side="54=Z|", ord_type="40=1", t="{t}")[5:],
    "empty 7": NOS.format(side="54=1|", ord_type="40=1|7=", t="{t}"),
    "bad format 7": NOS.format(side="54=1|", ord_type="40=1|7=abc", t="{t}"),
    "empty 5001": NOS.format(side="54=1|", ord_type="40=1|5001=", t="{t}"),
    "18 with two spaces": NOS.format(side="54=1|", ord_type="40=1|18=1  2", t="{t}"),
    "NoAllocs -1": NOS.format(side="54=1|", ord_type="40=1|78=-1|79=A", t="{t}"),
}
# what QuickFIX 1.16 answers (373, 371), as checked by test_quickfix_gives_the_same_answers
EXPECTED = {
    "missing 54 and 40": ("1", "40"),
    "bad 54, missing 40": ("1", "40"),
    "bad 54 before bad 40": ("5", "40"),
    "4999 before bad 54": ("5", "54"),
    "empty 7": ("4", "7"),
    "bad format 7": ("6", "7"),
    "empty 5001": ("4", "5001"),
    "18 with two spaces": ("5", "18"),
    "NoAllocs -1": ("16", "78"),
}


def exchange(port: int, body: str) -> tuple[dict[int, str], str]:
    """Log on as TW (reset), send ``body`` as message 2 and a TestRequest as 3: the answer
    to the first, and the MsgType of the answer to the TestRequest (0: 2 was consumed)."""
    client = Client(port, "TW", "FIX.4.4")
    try:
        client.logon(extra="|141=Y")
        client.msg(body.format(t=client.ts()))
        reject = client.expect("3")
        client.msg("35=1|112=AFTER")
        after = client._peek_type()
        client.msg("35=5")
        return reject, after
    finally:
        client.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_gateway_names_the_fault_quickfix_names(gateway_port: int, case: str) -> None:
    reject, after = exchange(gateway_port, CASES[case])
    assert (reject[373], reject[371]) == EXPECTED[case], reject
    assert (reject[45], reject[372]) == ("2", "D")
    assert after == "0", "a rejected message consumes its sequence number"


@contextlib.contextmanager
def quickfix_acceptor(workdir: Path) -> Iterator[int]:
    """QuickFIX acceptor ISLD for TW (FIX 4.4, the dictionary we ship, ResetOnLogon=Y),
    the interop tests' peer."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/interop/qf_peer.py"), "acceptor", "--workdir",
         str(workdir), "--sender", "ISLD", "--target", "TW", "--reset-on-logon"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        event = json.loads(proc.stdout.readline())
        assert event["event"] == "listening", event
        yield int(event["port"])
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.write("stop\n")
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _quickfix_importable() -> bool:
    try:
        import quickfix  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _quickfix_importable(), reason="QuickFIX not installed")
def test_quickfix_gives_the_same_answers(gateway_port: int, tmp_path: Path) -> None:
    with quickfix_acceptor(tmp_path) as qf_port:
        for case, body in sorted(CASES.items()):
            ours, ours_after = exchange(gateway_port, body)
            theirs, theirs_after = exchange(qf_port, body)
            keys = (45, 58, 371, 372, 373)
            assert [ours.get(k) for k in keys] == [theirs.get(k) for k in keys], case
            assert ours_after == theirs_after, case
