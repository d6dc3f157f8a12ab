"""Validation: each SessionRejectReason the gateway sends, with its RefTagID, RefMsgType and
RefSeqNum; the per-session switches; the data formats of every FIX type; FIXT sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fixspec.dictionary import builtin_session, load_builtin, load_bytes
from fixspec.fieldtypes import KNOWN_TYPES, is_valid_format, parse_utc_timestamp
from fixspec.reject import (
    LocalProtocolError,
    Reject,
    RemoteProtocolError,
    SessionRejectReason,
)
from fixspec.validate import ValidationOptions, check_comp_ids, check_sending_time, validate
from gateway.codec import decode
from gateway.fixmessage import Message
from tests.fix_helpers import reject_of
from tests.test_dictionary import MINI

FIX44 = load_builtin("FIX.4.4")
Fields = list[tuple[int, bytes]]

# A valid FIX 4.4 NewOrderSingle, as the framer hands it over (one party in NoPartyIDs).
BASE: Fields = [
    (8, b"FIX.4.4"), (9, b"0"), (35, b"D"), (34, b"5"), (49, b"CLIENT"),
    (52, b"20240102-13:45:01.123"), (56, b"GATEWAY"),
    (11, b"ORD1"), (38, b"100"), (40, b"2"), (44, b"101.25"), (54, b"1"), (55, b"AAPL"),
    (60, b"20240102-13:45:01.120"), (453, b"1"), (448, b"P1"), (447, b"D"), (452, b"3"),
    (847, b"1001"),
    (10, b"000"),
]  # fmt: skip


def with_(*pairs: tuple[int, bytes]) -> Callable[[Fields], Fields]:
    """Insert ``pairs`` before CheckSum."""
    return lambda f: f[:-1] + list(pairs) + f[-1:]


def without(tag: int) -> Callable[[Fields], Fields]:
    return lambda f: [p for p in f if p[0] != tag]


def replace(tag: int, value: bytes) -> Callable[[Fields], Fields]:
    return lambda f: [(t, value if t == tag else v) for t, v in f]


def move_to_body_end(tag: int) -> Callable[[Fields], Fields]:
    def mutate(f: Fields) -> Fields:
        moved = [p for p in f if p[0] == tag]
        rest = [p for p in f if p[0] != tag]
        return rest[:-1] + moved + rest[-1:]

    return mutate


def test_base_message_is_valid() -> None:
    assert reject_of(BASE, FIX44) is None


R = SessionRejectReason

# (case, mutation, reason, RefTagID)
CASES: list[tuple[str, Callable[[Fields], Fields], SessionRejectReason, int | None]] = [
    ("unknown tag below 5000", with_((4999, b"x")), R.INVALID_TAG_NUMBER, 4999),
    ("unknown user-defined tag", with_((5001, b"x")), R.INVALID_TAG_NUMBER, 5001),
    ("body field missing", without(11), R.REQUIRED_TAG_MISSING, 11),
    ("header field missing", without(49), R.REQUIRED_TAG_MISSING, 49),
    ("MsgType missing", without(35), R.REQUIRED_TAG_MISSING, 35),
    ("field of another message", with_((108, b"30")), R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, 108),
    ("empty value", replace(55, b""), R.TAG_SPECIFIED_WITHOUT_A_VALUE, 55),
    ("value not in enum", replace(54, b"Z"), R.VALUE_IS_INCORRECT, 54),
    ("TargetStrategy not agreed", replace(847, b"4242"), R.VALUE_IS_INCORRECT, 847),
    ("enum inside a group entry", replace(447, b"?"), R.VALUE_IS_INCORRECT, 447),
    ("qty not a number", replace(38, b"1e5"), R.INCORRECT_DATA_FORMAT_FOR_VALUE, 38),
    ("timestamp not FIX", replace(60, b"2024-01-02T13:45:01"), R.INCORRECT_DATA_FORMAT_FOR_VALUE,
     60),
    ("unknown MsgType", replace(35, b"ZZ"), R.INVALID_MSGTYPE, None),  # QuickFIX: no 371
    ("tag twice", with_((55, b"MSFT")), R.TAG_APPEARS_MORE_THAN_ONCE, 55),
    ("header field after body", move_to_body_end(49), R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 49),
    ("MsgType not third", lambda f: [f[0], f[1], f[3], f[2], *f[4:]],
     R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 35),
    ("BodyLength not second", lambda f: [f[0], f[2], f[1], *f[3:]],
     R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 9),
    ("body after trailer", lambda f: [*f[:-1], (93, b"2"), (58, b"hi"), f[-1]],
     R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 58),
    ("NumInGroup too high", replace(453, b"2"), R.INCORRECT_NUMINGROUP_COUNT, 453),
    ("NumInGroup too low", lambda f: [*f[:18], (448, b"P2"), (452, b"1"), *f[18:]],
     R.INCORRECT_NUMINGROUP_COUNT, 453),
    ("NumInGroup not a number", replace(453, b"x"), R.INCORRECT_DATA_FORMAT_FOR_VALUE, 453),
    ("group entry not opened by delimiter",
     without(448),
     R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, 447),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "reason", "tag"), CASES, ids=[c[0] for c in CASES])
def test_reject_reason_and_references(
    case: str, mutate: Callable[[Fields], Fields], reason: SessionRejectReason, tag: int | None
) -> None:
    reject = reject_of(mutate(BASE), FIX44)
    assert reject is not None
    assert (reject.reason, reject.ref_tag) == (reason, tag), reject
    assert reject.ref_msg_type == {"unknown MsgType": "ZZ", "MsgType missing": None}.get(case, "D")
    assert reject.ref_seq_num == 5
    assert reject.text == reason.text


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (0, "Invalid tag number"),
        (1, "Required tag missing"),
        (2, "Tag not defined for this message type"),
        (4, "Tag specified without a value"),
        (5, "Value is incorrect (out of range) for this tag"),
        (6, "Incorrect data format for value"),
        (9, "CompID problem"),
        (10, "SendingTime accuracy problem"),
        (11, "Invalid MsgType"),
        (13, "Tag appears more than once"),
        (14, "Tag specified out of required order"),
        (16, "Incorrect NumInGroup count for repeating group"),
    ],
)
def test_reject_text_is_the_fix_name(reason: int, text: str) -> None:
    assert Reject(SessionRejectReason(reason)).text == text


def test_reject_without_readable_seq_num_has_none() -> None:
    reject = reject_of(replace(34, b"abc")(BASE), FIX44)
    assert reject is not None and reject.reason == R.INCORRECT_DATA_FORMAT_FOR_VALUE
    assert reject.ref_tag == 34 and reject.ref_seq_num is None


def test_header_field_after_body_passes_when_order_is_not_checked() -> None:
    options = ValidationOptions(check_fields_out_of_order=False)
    fields = move_to_body_end(49)(BASE)
    assert reject_of(fields, FIX44, options) is None
    msg = decode(fields, None, FIX44, options=options)
    assert msg.sender_comp_id == "CLIENT" and 49 not in msg.body


def test_empty_values_pass_when_values_are_not_checked() -> None:
    options = ValidationOptions(check_fields_have_values=False)
    assert reject_of(replace(55, b"")(BASE), FIX44, options) is None


@pytest.mark.parametrize(("tag", "reason"), [
    (38, R.INCORRECT_DATA_FORMAT_FOR_VALUE),  # Qty
    (60, R.INCORRECT_DATA_FORMAT_FOR_VALUE),  # UTCTimestamp
    (54, R.INCORRECT_DATA_FORMAT_FOR_VALUE),  # a char (its format before its enums)
    (167, R.VALUE_IS_INCORRECT),  # text with enums: no such value
])
def test_an_empty_value_still_needs_its_types_format_when_values_are_not_checked(
        tag: int, reason: R) -> None:
    """QuickFIX's ValidateFieldsHaveValues=N turns off reason 4 only: the empty value is
    then checked as any value is (its converters refuse an empty number or time)."""
    options = ValidationOptions(check_fields_have_values=False)
    fields = (replace(tag, b"")(BASE) if tag in dict(BASE)
              else [*BASE[:-1], (tag, b""), *BASE[-1:]])
    reject = reject_of(fields, FIX44, options)
    assert reject is not None and (reject.reason, reject.ref_tag) == (reason, tag)


@pytest.mark.parametrize(
    ("options", "extra", "expected"),
    [
        (ValidationOptions(check_user_defined_fields=False), (5001, b"x"), None),
        (ValidationOptions(check_user_defined_fields=False), (4999, b"x"), R.INVALID_TAG_NUMBER),
        (ValidationOptions(allow_unknown_message_fields=True), (4999, b"x"), None),
        (ValidationOptions(allow_unknown_message_fields=True), (108, b"30"), None),
        (ValidationOptions(allow_unknown_message_fields=True), (5001, b"x"), R.INVALID_TAG_NUMBER),
        (
            ValidationOptions(allow_unknown_message_fields=True, check_user_defined_fields=False),
            (5001, b"x"),
            None,
        ),
    ],
)
def test_unknown_field_switches(
    options: ValidationOptions, extra: tuple[int, bytes], expected: SessionRejectReason | None
) -> None:
    reject = reject_of(with_(extra)(BASE), FIX44, options)
    assert (reject.reason if reject else None) == expected


def test_multiple_value_string_checks_each_value() -> None:
    assert reject_of(with_((18, b"1 2 G"))(BASE), FIX44) is None
    reject = reject_of(with_((18, b"1 !"))(BASE), FIX44)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R.VALUE_IS_INCORRECT, 18)
    # an empty token is no value of the enumeration (QuickFIX and QuickFIX/J answer 5)
    reject = reject_of(with_((18, b"1  2"))(BASE), FIX44)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R.VALUE_IS_INCORRECT, 18)


def test_required_field_inside_a_group_entry() -> None:
    d = load_bytes(MINI.format(outer="Y").encode(), "mini.xml")
    fields: Fields = [
        (8, b"FIX.4.4"), (9, b"0"), (35, b"D"), (11, b"A"), (55, b"X"),
        (555, b"2"), (600, b"L1"), (624, b"1"), (600, b"L2"), (624, b"2"), (10, b"000"),
    ]  # fmt: skip
    assert reject_of(fields, d) is None
    del fields[9]  # the second leg loses its LegSide, required in every entry
    reject = reject_of(fields, d)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R(1), 624)


def test_sending_time_accuracy() -> None:
    msg = decode(BASE, None, FIX44)
    sent = datetime(2024, 1, 2, 13, 45, 1, 123000, tzinfo=UTC)
    check_sending_time(msg, sent + timedelta(seconds=119))
    check_sending_time(msg, sent - timedelta(seconds=120))
    with pytest.raises(RemoteProtocolError) as info:
        check_sending_time(msg, sent + timedelta(seconds=121))
    r = info.value.reject
    assert (r.reason, r.ref_tag, r.ref_msg_type, r.ref_seq_num) == (R(10), None, "D", 5)
    with pytest.raises(RemoteProtocolError) as info:
        check_sending_time(msg, sent + timedelta(seconds=3), max_latency=timedelta(seconds=2))
    assert info.value.reject.reason == R.SENDINGTIME_ACCURACY_PROBLEM
    with pytest.raises(ValueError, match="naive"):
        check_sending_time(msg, datetime(2024, 1, 2, 13, 45, 1))


def test_comp_ids() -> None:
    msg = decode(BASE, None, FIX44)
    check_comp_ids(msg, sender_comp_id="CLIENT", target_comp_id="GATEWAY")
    for sender, target, tag in (("OTHER", "GATEWAY", 49), ("CLIENT", "OTHER", 56)):
        with pytest.raises(RemoteProtocolError) as info:
            check_comp_ids(msg, sender_comp_id=sender, target_comp_id=target)
        r = info.value.reject
        assert (r.reason, r.ref_tag, r.ref_seq_num) == (R.COMPID_PROBLEM, None, 5)
        assert f"tag {tag}" in r.detail
        assert r.text == "CompID problem"


def test_outbound_validation_raises_local_errors_and_ignores_computed_fields() -> None:
    msg = Message("D", begin_string="FIX.4.4")
    msg.msg_seq_num = 1
    msg.sender_comp_id, msg.target_comp_id = "GATEWAY", "CLIENT"
    msg.set_sending_time(datetime(2024, 1, 2, tzinfo=UTC))
    for tag, value in ((11, "A"), (54, "1"), (60, "20240102-00:00:00"), (40, "1")):
        msg.body.set(tag, value)
    validate(msg, FIX44, outbound=True)  # no BodyLength or CheckSum yet: the encoder adds them
    msg.body.remove(54)
    with pytest.raises(LocalProtocolError) as info:
        validate(msg, FIX44, outbound=True)
    assert (info.value.reject.reason, info.value.reject.ref_tag) == (R.REQUIRED_TAG_MISSING, 54)
    with pytest.raises(RemoteProtocolError):
        validate(msg, FIX44)


def test_fixt_session_uses_transport_for_header_and_admin_and_app_for_orders() -> None:
    sd = builtin_session("FIXT.1.1")
    head: Fields = [(8, b"FIXT.1.1"), (9, b"0"), (35, b"A"), (34, b"1"), (49, b"C"),
                    (52, b"20240102-13:45:01.123456"), (56, b"G")]  # fmt: skip
    logon = [*head, (98, b"0"), (108, b"30"), (1137, b"9"), (10, b"000")]
    assert reject_of(logon, sd) is None
    reject = reject_of([f for f in logon if f[0] != 1137], sd)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R(1), 1137)
    order = [(8, b"FIXT.1.1"), (9, b"0"), (35, b"D"), *head[3:], (1128, b"9"),
             (11, b"X"), (40, b"1"), (54, b"1"), (55, b"AAPL"), (60, b"20240102-13:45:01"),
             (957, b"1"), (958, b"StartTime"), (959, b"19"), (960, b"20240102-14:00:00"),
             (10, b"000")]  # fmt: skip
    assert reject_of(order, sd) is None
    # A FIX 4.4 dictionary knows no StrategyParametersGrp.
    reject = reject_of([(8, b"FIX.4.4"), *order[1:]], FIX44)
    assert reject is not None and reject.ref_tag in {1128, 957}
    # An admin message is checked against the transport dictionary alone: a tag only the
    # application dictionary defines (999) is an invalid tag there, as in QuickFIX (its
    # FIXT conformance script 14a), not a tag "not defined for this message type"; on an
    # application message the same tag is a known field in the wrong message
    heartbeat = [*[(35, b"0") if t == 35 else (t, v) for t, v in head], (999, b"HI"),
                 (10, b"000")]
    reject = reject_of(heartbeat, sd)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R(0), 999)
    reject = reject_of([*order[:-1], (999, b"HI"), (10, b"000")], sd)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R(2), 999)


def test_a_multiple_char_value_token_of_two_characters_is_no_value_of_the_field() -> None:
    """FIX 5.0SP2's ExecInst (18) is a MULTIPLECHARVALUE: ``1 GX`` was an incorrect data
    format (373=6) where QuickFIX answers Value is incorrect (373=5) on tag 18."""
    sd = builtin_session("FIXT.1.1")
    order: Fields = [(8, b"FIXT.1.1"), (9, b"0"), (35, b"D"), (34, b"1"), (49, b"C"),
                     (52, b"20240102-13:45:01.123"), (56, b"G"), (1128, b"9"), (11, b"X"),
                     (40, b"1"), (54, b"1"), (55, b"AAPL"), (60, b"20240102-13:45:01"),
                     (18, b"1 G"), (10, b"000")]  # fmt: skip
    assert reject_of(order, sd) is None
    reject = reject_of([*order[:-2], (18, b"1 GX"), (10, b"000")], sd)
    assert reject is not None and (reject.reason, reject.ref_tag) == (R.VALUE_IS_INCORRECT, 18)


FORMATS: list[tuple[str, bytes, bool]] = [
    ("INT", b"-12", True), ("INT", b"1.0", False), ("INT", b"+1", False),
    ("LENGTH", b"0", True), ("LENGTH", b"-1", False),
    ("SEQNUM", b"42", True), ("NUMINGROUP", b"3", True), ("NUMINGROUP", b"x", False),
    # a sequence number no store holds (2**64) is refused, not acted on; 18 digits are fine
    ("SEQNUM", b"999999999999999999", True), ("SEQNUM", b"18446744073709551616", False),
    ("FLOAT", b"-0.5", True), ("PRICE", b"101.", True), ("QTY", b".5", True),
    ("AMT", b"1e3", False), ("PERCENTAGE", b"0.25", True), ("PRICE", b"1,5", False),
    ("CHAR", b"A", True), ("CHAR", b"AB", False),
    ("BOOLEAN", b"Y", True), ("BOOLEAN", b"y", False), ("BOOLEAN", b"1", False),
    ("UTCTIMESTAMP", b"20240102-13:45:01", True),
    ("UTCTIMESTAMP", b"20240102-13:45:01.123", True),
    ("UTCTIMESTAMP", b"20240102-13:45:01.123456", True),
    ("UTCTIMESTAMP", b"20240102-13:45:01.123456789", True),
    ("UTCTIMESTAMP", b"20241302-13:45:01", False), ("UTCTIMESTAMP", b"20240230-13:45:01", False),
    ("UTCTIMESTAMP", b"20240102-24:00:00", False), ("UTCTIMESTAMP", b"20240102 13:45:01", False),
    ("UTCTIMESTAMP", b"20161231-23:59:60", True),
    # the same minutes as valid ones above (the check keeps those it has seen): seconds and
    # fraction still checked
    ("UTCTIMESTAMP", b"20240102-13:45:61", False), ("UTCTIMESTAMP", b"20240102-13:45:1", False),
    ("UTCTIMESTAMP", b"20240102-13:45:01.", False), ("UTCTIMESTAMP", b"20240102-13:60:00", False),
    ("UTCDATEONLY", b"20240229", True), ("UTCDATEONLY", b"20230229", False),
    ("UTCTIMEONLY", b"13:45:01.500", True), ("UTCTIMEONLY", b"13:45", False),
    ("LOCALMKTDATE", b"20240102", True), ("LOCALMKTDATE", b"2024012", False),
    ("MONTHYEAR", b"202401", True), ("MONTHYEAR", b"20240115", True),
    ("MONTHYEAR", b"202401w3", True), ("MONTHYEAR", b"202413", False),
    ("MONTHYEAR", b"202401w6", False),
    ("STRING", b"any text = ok", True), ("STRING", b"a\x01b", False),
    ("MULTIPLEVALUESTRING", b"A B", True), ("MULTIPLEVALUESTRING", b"A  B", True),
    # a token of two characters is the enumeration's to refuse (373=5), as QuickFIX does
    ("MULTIPLECHARVALUE", b"A B", True), ("MULTIPLECHARVALUE", b"AB C", True),
    ("MULTIPLECHARVALUE", b"A\x01B", False),
    ("DATA", b"\x01\x00raw", True),
    ("CURRENCY", b"USD", True), ("CURRENCY", b"US", False),
    ("COUNTRY", b"GB", True), ("COUNTRY", b"GBR", False),
    ("EXCHANGE", b"XLON", True), ("EXCHANGE", b"N", True),
    ("DAYOFMONTH", b"31", True), ("DAYOFMONTH", b"32", False),
    ("TZTIMEONLY", b"07:39Z", True), ("TZTIMEONLY", b"02:39-05", True),
    ("TZTIMESTAMP", b"20060901-07:39:00Z", True), ("TZTIMESTAMP", b"20060901-07:39", False),
]  # fmt: skip


@pytest.mark.parametrize(("fix_type", "value", "ok"), FORMATS)
def test_data_format(fix_type: str, value: bytes, ok: bool) -> None:
    assert is_valid_format(fix_type, value) is ok


@pytest.mark.parametrize("fix_type", sorted(KNOWN_TYPES))
def test_empty_value_is_never_well_formed(fix_type: str) -> None:
    assert not is_valid_format(fix_type, b"")


@pytest.mark.parametrize("raw", [b"20241302-13:45:01", b"20240230-13:45:01", b"20240102-24:00:00",
                                 b"20240102-13:60:00", b"20240102 13:45:01", b"2024010213:45:01"])
def test_parse_utc_timestamp_refuses_what_is_not_a_time(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a UTCTimestamp"):
        parse_utc_timestamp(raw)


def test_parse_utc_timestamp_reads_a_leap_second_and_cuts_to_microseconds() -> None:
    assert parse_utc_timestamp(b"20161231-23:59:60") == datetime(2016, 12, 31, 23, 59, 59,
                                                                  999_999, tzinfo=UTC)
    assert parse_utc_timestamp(b"20240102-13:45:01.123456789").microsecond == 123_456
