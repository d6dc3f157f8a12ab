"""Codec: canonical encoding (order, BodyLength, CheckSum), decoding by dictionary (groups),
agreement with simplefix both ways on generated messages, and robustness on hostile input."""

from __future__ import annotations

import contextlib
import string
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import simplefix
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.framing import Framer, FrameStatus
from fixspec.dictionary import (
    FieldDef,
    FieldRef,
    FieldSet,
    GroupDef,
    SessionDictionaries,
    as_session,
    builtin_session,
    load_builtin,
)
from fixspec.fieldtypes import PerSecond, TimePrecision, format_utc_timestamp
from fixspec.reject import LocalProtocolError, RemoteProtocolError, SessionRejectReason
from fixspec.validate import ValidationOptions, validate
from gateway.codec import FramingError, _Decoder, checksum, decode, decode_bytes, encode
from gateway.fixmessage import FieldMap, Group, Message, to_bytes
from gateway.msglog import log_stamp
from tests.fix_helpers import decode_raw, fix, split_fields

FIX44 = load_builtin("FIX.4.4")
FIX42 = load_builtin("FIX.4.2")
T0 = datetime(2024, 1, 2, 13, 45, 1, 123456, tzinfo=UTC)


def order(**body: str) -> Message:
    msg = Message("D", begin_string="FIX.4.4")
    msg.sender_comp_id, msg.target_comp_id, msg.msg_seq_num = "CLIENT", "GATEWAY", 5
    msg.set_sending_time(T0)
    for name, value in body.items():
        msg.body.set(FIX44.field(name).tag, value)
    return msg


# -- encoding ---------------------------------------------------------------------------------


def test_encode_canonical_order_with_groups() -> None:
    msg = Message()
    # Deliberately scrambled: the encoder decides the wire order.
    msg.body.set(55, "AAPL")
    parties = msg.body.set_group(Group(453, 448))
    parties.add((452, 3), (447, "D"), (448, "P1"))
    sub = Group(802, 523)
    sub.add((803, 1), (523, "desk"))
    parties.add((448, "P2"), sub, (452, 1))
    msg.body.set(11, "ORD1")
    msg.header.set(56, "GATEWAY")
    msg.header.set(34, 5)
    msg.header.set(49, "CLIENT")
    msg.header.set(35, "D")
    msg.header.set(52, format_utc_timestamp(T0))
    msg.header.set(8, "FIX.4.4")
    raw = encode(msg, FIX44)
    body = fix(
        "35=D|34=5|49=CLIENT|52=20240102-13:45:01.123|56=GATEWAY|11=ORD1|55=AAPL|"
        "453=2|448=P1|447=D|452=3|448=P2|452=1|802=1|523=desk|803=1|"
    )
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    assert raw == head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def test_encode_matches_simplefix_byte_for_byte() -> None:
    msg = order(ClOrdID="A1", Side="1", OrdType="2", Price="10.5", OrderQty="100")
    raw = encode(msg, FIX44)
    sf = simplefix.FixMessage()
    for tag, value in split_fields(raw):
        if tag not in (9, 10):
            sf.append_pair(tag, value)
    assert sf.encode() == raw


def test_encode_puts_data_after_its_length_and_computes_nothing_else() -> None:
    msg = order(ClOrdID="A1", Side="1", TransactTime="20240102-13:45:01", OrdType="1")
    msg.trailer.set(89, b"sig\x01nature")  # Signature: raw data, may hold SOH
    msg.trailer.set(93, 10)  # SignatureLength
    msg.body.set(355, b"a\x01b")  # EncodedText
    msg.body.set(354, 3)  # EncodedTextLen
    msg.body.set(9, 999)  # ignored: computed
    msg.trailer.set(10, "000")  # ignored: computed
    raw = encode(msg, FIX44)
    tags = [t for t, _ in split_fields(raw.replace(b"a\x01b", b"a-b").replace(b"g\x01n", b"g-n"))]
    assert tags == [8, 9, 35, 34, 49, 52, 56, 11, 40, 54, 60, 354, 355, 93, 89, 10]
    back = decode_bytes(raw, FIX44)  # the C framer reads data fields by their length
    assert back.body.get(355) == b"a\x01b" and back.trailer.get(89) == b"sig\x01nature"
    validate(back, FIX44)


def test_encode_without_dictionary_keeps_entry_order_and_signature_rule() -> None:
    msg = Message("X", begin_string="FIX.4.4")
    g = msg.body.set_group(Group(268, 279))
    g.add((270, "1.5"), (279, "0"), (269, "0"))
    msg.trailer.set(89, "s")
    msg.trailer.set(93, 1)
    tags = [t for t, _ in split_fields(encode(msg))]
    assert tags == [8, 9, 35, 268, 279, 270, 269, 93, 89, 10]


@pytest.mark.parametrize(
    ("mutate", "reason", "tag"),
    [
        (lambda m: m.header.remove(35), SessionRejectReason.REQUIRED_TAG_MISSING, 35),
        (lambda m: m.body.set(58, "a\x01b"), SessionRejectReason(17), 58),
        (lambda m: m.header.set(49, "A\x01B"), SessionRejectReason(17), 49),
        (lambda m: m.body.set_group(Group(453, 448)).add((448, "P\x01Q")),
         SessionRejectReason(17), 448),
        # a data field may hold SOH; a text field next to one still may not
        (lambda m: (m.body.set(354, 3), m.body.set(355, b"a\x01b"), m.body.set(58, "c\x01d")),
         SessionRejectReason(17), 58),
        (lambda m: m.body.set_group(Group(453, 448)).add((447, "D")), SessionRejectReason(15), 448),
    ],
)
def test_encode_refuses_what_cannot_be_sent(
    mutate: object, reason: SessionRejectReason, tag: int
) -> None:
    msg = order(ClOrdID="A1")
    assert callable(mutate)
    mutate(msg)
    with pytest.raises(LocalProtocolError) as info:
        encode(msg, FIX44)
    assert (info.value.reject.reason, info.value.reject.ref_tag) == (reason, tag)


def test_begin_string_comes_from_the_dictionary_if_absent() -> None:
    msg = order(ClOrdID="A1")
    msg.header.remove(8)
    assert encode(msg, FIX44).startswith(b"8=FIX.4.4\x01")
    assert encode(msg, builtin_session("FIXT.1.1")).startswith(b"8=FIXT.1.1\x01")
    with pytest.raises(LocalProtocolError):
        encode(msg)


def test_checksum() -> None:
    assert checksum(b"") == 0 and checksum(b"\xff\x02") == 1


@pytest.mark.parametrize(
    ("t", "precision", "text"),
    [
        (T0, TimePrecision.SECONDS, "20240102-13:45:01"),
        (T0, TimePrecision.MILLIS, "20240102-13:45:01.123"),
        (T0, TimePrecision.MICROS, "20240102-13:45:01.123456"),
        (T0, TimePrecision.NANOS, "20240102-13:45:01.123456000"),
        (T0.replace(microsecond=999_999), TimePrecision.MILLIS, "20240102-13:45:01.999"),
        (T0.astimezone(timezone(timedelta(hours=-5))), TimePrecision.MILLIS,
         "20240102-13:45:01.123"),
        (1_704_203_101_123_456_789, TimePrecision.NANOS, "20240102-13:45:01.123456789"),
        (1_704_203_101_123_456_789, TimePrecision.MILLIS, "20240102-13:45:01.123"),
        (0, TimePrecision.SECONDS, "19700101-00:00:00"),
    ],
)  # fmt: skip
def test_format_utc_timestamp(t: datetime | int, precision: TimePrecision, text: str) -> None:
    assert format_utc_timestamp(t, precision) == text


def test_a_second_formatted_before_is_reused_only_for_that_second() -> None:
    # the text of the last second is kept: each time below is another second or zone
    times = [T0, T0.replace(microsecond=5), T0 + timedelta(seconds=1), T0,
             T0.astimezone(timezone(timedelta(hours=2))), T0 - timedelta(days=366),
             T0.replace(second=2), datetime(1969, 12, 31, 23, 59, 59, 5, tzinfo=UTC)]
    assert [log_stamp(t) for t in times] == [
        "20240102-13:45:01.123456", "20240102-13:45:01.000005", "20240102-13:45:02.123456",
        "20240102-13:45:01.123456",
        "20240102-15:45:01.123456",  # a log line shows the time's own fields
        "20230101-13:45:01.123456", "20240102-13:45:02.123456", "19691231-23:59:59.000005"]
    assert [format_utc_timestamp(t) for t in times] == [
        "20240102-13:45:01.123", "20240102-13:45:01.000", "20240102-13:45:02.123",
        "20240102-13:45:01.123", "20240102-13:45:01.123", "20230101-13:45:01.123",
        "20240102-13:45:02.123", "19691231-23:59:59.000"]


def test_a_fresh_per_second_text_makes_its_first_second_whatever_it_is() -> None:
    # (the second before the epoch is -1: no "nothing made yet" value may stand for it)
    text = PerSecond(lambda t: t.isoformat())
    assert text(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == "1969-12-31T23:59:59+00:00"


def test_format_utc_timestamp_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_utc_timestamp(datetime(2024, 1, 2))


# -- the message type -------------------------------------------------------------------------


def test_message_accessors() -> None:
    msg = order(ClOrdID="A1", Price="101.25", OrderQty="100")
    msg.poss_dup = True
    assert msg.msg_type == "D" and msg.begin_string == "FIX.4.4"
    assert msg.msg_seq_num == 5 and msg.sender_comp_id == "CLIENT"
    assert msg.target_comp_id == "GATEWAY" and msg.poss_dup and not msg.poss_resend
    assert msg.sending_time == T0.replace(microsecond=123000)
    assert msg.body.get_decimal(44) == Decimal("101.25")
    assert msg.body.get_int(38) == 100 and msg.get(11) == b"A1"
    assert msg.body.get_str(9999) is None
    msg.body.set(44, Decimal("99.5"))  # replaces in place
    assert msg.body.tags() == [11, 44, 38] and msg.body[44] == b"99.5"
    assert msg.body.remove(44) and not msg.body.remove(44)
    header = msg.header.copy()
    assert header.remove_tags({34, 52, 9999}) and not header.remove_tags({34, 52})
    assert header.tags() == [t for t in msg.header.tags() if t not in (34, 52)]
    copy = msg.copy()
    assert copy == msg
    copy.body.set(11, "B")
    assert copy != msg
    with pytest.raises(ValueError):
        msg.header.get_int(49)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (True, b"Y"), (False, b"N"), (42, b"42"), (-7, b"-7"), ("é", "é".encode()),
        (Decimal("1E+3"), b"1000"), (Decimal("0.00000010"), b"0.00000010"),
        (0.1, b"0.1"), (1e-7, b"0.0000001"), (b"raw", b"raw"),
    ],
)  # fmt: skip
def test_to_bytes(value: object, wire: bytes) -> None:
    assert to_bytes(value) == wire  # type: ignore[arg-type]


def test_to_bytes_refuses_what_fix_cannot_carry() -> None:
    for bad in (float("nan"), float("inf"), Decimal("NaN")):
        with pytest.raises(ValueError):
            to_bytes(bad)
    with pytest.raises(TypeError, match="format_utc_timestamp"):
        to_bytes(T0)  # type: ignore[arg-type]


# -- decoding ---------------------------------------------------------------------------------


def test_decode_builds_nested_groups() -> None:
    raw = encode(_parties_order(), FIX44)
    msg = decode_raw(raw, FIX44)
    parties = msg.body.group(453)
    assert parties is not None and len(parties) == 2
    assert parties[0].get(448) == b"P1" and parties[1].get(448) == b"P2"
    sub = parties[1].group(802)
    assert sub is not None and [e.get(523) for e in sub] == [b"desk", b"book"]
    assert msg.body.get(453) == b"2"
    assert msg.raw == raw
    validate(msg, FIX44)
    assert encode(msg, FIX44) == raw


def _parties_order() -> Message:
    msg = order(ClOrdID="A1", Side="1", TransactTime="20240102-13:45:01", OrdType="1")
    g = msg.body.set_group(Group(453, 448))
    g.add((448, "P1"), (447, "D"), (452, 3))
    sub = Group(802, 523)
    sub.add((523, "desk"), (803, 1))
    sub.add((523, "book"), (803, 2))
    g.add((448, "P2"), (447, "D"), (452, 1), sub)
    return msg


def test_decode_bytes_reports_framing_errors() -> None:
    raw = encode(order(ClOrdID="A1"), FIX44)
    with pytest.raises(FramingError) as info:
        decode_bytes(raw[:-4] + b"000\x01", FIX44)
    assert info.value.status == FrameStatus.BAD_CHECKSUM
    with pytest.raises(FramingError):
        decode_bytes(raw + raw, FIX44)
    with pytest.raises(FramingError):
        decode_bytes(b"junk" + raw, FIX44)


def test_decode_without_a_known_msg_type_keeps_repeats_for_validation() -> None:
    fields = split_fields(fix("8=FIX.4.4|9=5|35=ZZ|54=1|54=2|10=000|"))
    msg = decode(fields, None, FIX44)
    assert msg.body.tags() == [54, 54]
    with pytest.raises(RemoteProtocolError) as info:
        validate(msg, FIX44)
    assert info.value.reject.reason == SessionRejectReason.INVALID_MSGTYPE


# -- generated messages: agreement with simplefix -------------------------------------------

ALNUM = string.ascii_letters + string.digits
TEXT = st.text(alphabet=string.printable.replace("\x0b", "").replace("\x0c", "").replace(
    "\r", "").replace("\n", "").replace("\t", ""), min_size=1, max_size=10)
TOKEN = st.text(alphabet=ALNUM, min_size=1, max_size=4)
SKIPPED_TYPES = {"LENGTH", "DATA", "XMLDATA"}  # pairs whose values must agree; tested above


def _value(fd: FieldDef) -> st.SearchStrategy[bytes]:
    t = fd.type
    if fd.values:
        choices = sorted(fd.values)
        if t.startswith("MULTIPLE"):
            return st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True).map(
                lambda v: " ".join(v).encode()
            )
        return st.sampled_from(choices).map(str.encode)
    text: st.SearchStrategy[str]
    if t == "INT":
        text = st.integers(-(10**9), 10**9).map(str)
    elif t in ("SEQNUM", "NUMINGROUP", "TAGNUM"):
        text = st.integers(1, 10**6).map(str)
    elif t in ("FLOAT", "PRICE", "QTY", "AMT", "PERCENTAGE", "PRICEOFFSET"):
        text = st.decimals(-(10**6), 10**6, places=4).map(lambda d: format(d, "f"))
    elif t == "CHAR":
        text = st.sampled_from(ALNUM)
    elif t == "BOOLEAN":
        text = st.sampled_from("YN")
    elif t == "CURRENCY":
        text = st.sampled_from(["USD", "EUR", "GBP", "JPY"])
    elif t == "COUNTRY":
        text = st.sampled_from(["US", "GB", "DE"])
    elif t == "UTCTIMESTAMP":
        text = st.builds(
            format_utc_timestamp,
            st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
            st.sampled_from(TimePrecision),
        )
    elif t in ("UTCDATEONLY", "UTCDATE", "LOCALMKTDATE"):
        text = st.dates(date(2000, 1, 1), date(2100, 1, 1)).map(lambda d: d.strftime("%Y%m%d"))
    elif t in ("UTCTIMEONLY", "LOCALMKTTIME"):
        text = st.times().map(lambda x: x.strftime("%H:%M:%S") + f".{x.microsecond // 1000:03d}")
    elif t == "MONTHYEAR":
        text = st.dates(date(2000, 1, 1), date(2100, 1, 1)).map(lambda d: d.strftime("%Y%m"))
    elif t == "DAYOFMONTH":
        text = st.integers(1, 31).map(str)
    elif t == "TZTIMEONLY":
        text = st.times().map(lambda x: x.strftime("%H:%MZ"))
    elif t == "TZTIMESTAMP":
        text = st.datetimes().map(lambda x: x.strftime("%Y%m%d-%H:%M:%SZ"))
    elif t == "MULTIPLECHARVALUE":
        text = st.lists(st.sampled_from(ALNUM), min_size=1, max_size=3).map(" ".join)
    elif t.startswith("MULTIPLE"):
        text = st.lists(TOKEN, min_size=1, max_size=3).map(" ".join)
    else:
        text = TEXT
    return text.map(str.encode)


@st.composite
def _fields(draw: st.DrawFn, layout: FieldSet, depth: int, skip: frozenset[int]) -> FieldMap:
    """A field map for ``layout``: all required members, a random choice of the others, in
    dictionary order (a structure the decoder must accept)."""
    out = FieldMap()
    # One small draw picks the optional members: a base example stays small even for the
    # large layouts of FIX 5.0SP2.
    n = len(layout.members)
    chosen = draw(st.sets(st.integers(0, n - 1), max_size=6)) if n else set()
    for i, m in enumerate(layout.members):
        if m.tag in skip:
            continue
        first = isinstance(layout, GroupDef) and i == 0
        if not (m.required or first or i in chosen):
            continue
        if isinstance(m, GroupDef):
            if depth >= 3:
                continue  # deep enough; no dictionary requires a group this deep
            group = Group(m.tag, m.delimiter)
            for _ in range(draw(st.integers(1, 2))):
                group.entries.append(draw(_fields(m, depth + 1, frozenset())))
            out.add_group(group)
        elif isinstance(m, FieldRef) and m.field.type not in SKIPPED_TYPES:
            out.append(m.tag, draw(_value(m.field)))
    return out


HEADER_SKIP = frozenset({8, 9, 35, 43, 97, 122, 627})  # PossDup needs OrigSendingTime rules


@st.composite
def messages(draw: st.DrawFn, version: str) -> Message:
    """A message of dictionary ``version`` (named, not passed, to keep Hypothesis's reprs short)."""
    d = load_builtin(version)
    mdef = d.messages[draw(st.sampled_from(sorted(d.messages)))]
    msg = Message(mdef.msg_type, begin_string=d.version)
    header = draw(_fields(d.header, 0, HEADER_SKIP))
    for item in header:
        if isinstance(item, tuple):
            msg.header.append(*item)
    msg.body = draw(_fields(mdef, 0, frozenset()))
    return msg


def _simplefix_parse(raw: bytes) -> list[tuple[int, bytes]]:
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    parsed = parser.get_message()
    assert parsed is not None and parser.get_message() is None
    return [(int(t), v) for t, v in parsed.pairs]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(messages("FIX.4.4"))
def test_what_we_encode_simplefix_parses_to_the_same_fields(msg: Message) -> None:
    raw = encode(msg, FIX44)
    pairs = _simplefix_parse(raw)
    assert pairs == split_fields(raw)
    # simplefix's own encoding of those pairs is byte-identical: same BodyLength and CheckSum.
    sf = simplefix.FixMessage()
    for tag, value in pairs:
        if tag not in (9, 10):
            sf.append_pair(tag, value)
    assert sf.encode() == raw
    # Our encoding decodes to the same message, which the validator accepts, and re-encodes
    # to the same bytes.
    back = decode_bytes(raw, FIX44)
    validate(back, FIX44)
    assert encode(back, FIX44) == raw
    sent = [f for f in msg.fields() if f[0] not in (9, 10)]
    got = [f for f in back.fields() if f[0] not in (9, 10)]
    assert sorted(sent) == sorted(got)


@SETTINGS
@given(messages("FIX.4.4"))
def test_what_simplefix_encodes_we_decode(msg: Message) -> None:
    sf = simplefix.FixMessage()
    for tag, value in msg.fields():  # dictionary order, as a counterparty might send
        sf.append_pair(tag, value, header=tag in (8, 35))
    raw = sf.encode()
    back = decode_bytes(raw, FIX44)
    assert list(back.fields()) == _simplefix_parse(raw)
    assert back.body == msg.body
    validate(back, FIX44)


@SETTINGS
@given(messages("FIX.5.0SP2"))
def test_fixt_application_messages_round_trip(msg: Message) -> None:
    sd = builtin_session("FIXT.1.1")
    msg.header.set(8, "FIXT.1.1")
    msg.header.set(49, "C")
    msg.header.set(56, "G")
    msg.header.set(34, 1)
    msg.set_sending_time(T0)
    raw = encode(msg, sd)
    back = decode_bytes(raw, sd)
    validate(back, sd)
    assert sorted(back.body.flatten()) == sorted(msg.body.flatten())
    assert encode(back, sd) == raw


# -- hostile input ----------------------------------------------------------------------------

INTERESTING_TAGS = [0, 8, 9, 10, 34, 35, 44, 49, 52, 54, 55, 56, 447, 448, 452, 453, 523, 802,
                    803, 627, 628, 5001, 4999, 2**32 - 1]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(INTERESTING_TAGS), st.integers(-5, 10**6)),
            st.one_of(st.sampled_from([b"", b"0", b"1", b"2", b"D", b"A", b"x" * 20]), st.binary()),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_decode_and_validate_raise_only_rejects(
    fields: list[tuple[int, bytes]], with_head: bool
) -> None:
    if with_head:
        fields = [(8, b"FIX.4.4"), (9, b"10"), (35, b"D"), *fields]
    try:
        msg = decode(fields, None, FIX44)
        validate(msg, FIX44)
    except RemoteProtocolError as exc:
        assert exc.reject.reason in SessionRejectReason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 10_000))
def test_mutated_bytes_through_the_framer_raise_only_typed_errors(junk: bytes, at: int) -> None:
    good = encode(_parties_order(), FIX44)
    at %= len(good)
    data = good[:at] + junk + good[at:]
    for batch in Framer().scan_all(data):
        for i in range(batch.count):
            if not batch.ok(i):
                continue
            with contextlib.suppress(RemoteProtocolError):
                validate(decode(batch.fields(i), batch.message_bytes(i), FIX44), FIX44)



# -- decoding by a known split ----------------------------------------------------------------

_SPLIT_POOL = [  # header, body and trailer tags of FIX 4.4, a group's count, tags undefined
    (34, b"7"), (49, b"A"), (52, b"20240102-13:45:01"), (56, b"B"), (43, b"Y"),
    (11, b"X"), (38, b"5"), (54, b"1"), (55, b"S"), (58, b"t"), (9999, b"u"), (93, b"3"),
    (89, b"sig"), (10, b"000"), (35, b"8"), (8, b"FIX.4.4"), (453, b"0"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_SPLIT_POOL), max_size=10, unique=True).flatmap(st.permutations),
       st.lists(st.sampled_from(_SPLIT_POOL), max_size=1), st.sampled_from([b"D", b"ZZ"]),
       st.text("0123456789", min_size=1, max_size=2))
@example([(49, b"A"), (453, b"0"), (34, b"7")], [], b"D", "5")  # a group: never split
@example([(11, b"X"), (49, b"A")], [], b"D", "1")  # a header field late: order checks differ
def test_a_known_split_decodes_as_the_decoder_does(
        tail: list[tuple[int, bytes]], again: list[tuple[int, bytes]], msg_type: bytes,
        mark: str) -> None:
    """A message of a shape decoded before is split as the first taught (gateway.codec's
    _KnownSplits); it must come out as a full decode would, values included, whichever
    order check the shape was first decoded under."""
    dd = load_builtin("FIX.4.4")
    first = [(8, b"FIX.4.4"), (9, b"10"), (35, msg_type), *tail, *again, (10, b"000")]
    # the same shape, other values (a count other digits too)
    second = [(tag, value + mark.encode()) for tag, value in first]

    def outcome(fields: list[tuple[int, bytes]], check_order: bool, full: bool) -> object:
        options = ValidationOptions(check_fields_out_of_order=check_order)
        try:
            if full:
                return _Decoder(fields, as_session(dd), options).decode()
            return decode(fields, None, dd, options=options)
        except RemoteProtocolError as exc:
            return exc.reject

    for check_order in (False, True):
        for fields in (first, second):
            assert outcome(fields, check_order, False) == outcome(fields, check_order, True)


# -- encoding by a known layout ---------------------------------------------------------------

_LAYOUT_POOL = [  # header, body, trailer tags; a data field and its length; 9, 10 to drop
    (0, 34, b"7"), (0, 49, b"A"), (0, 52, b"20240102-13:45:01"), (0, 56, b"B"),
    (0, 8, b"FIX.4.4"), (0, 97, b"Y"), (1, 11, b"X"), (1, 38, b"5"), (1, 54, b"1"),
    (1, 95, b"3"), (1, 96, b"a\x01b"), (1, 58, b"t"), (1, 10, b"1"), (1, 9, b"9"),
    (1, 453, b""), (2, 93, b"3"), (2, 89, b"sig"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_LAYOUT_POOL), max_size=10).flatmap(st.permutations),
       st.sampled_from([b"D", b"8", b"ZZ"]), st.sampled_from([b"1", b"\x01", b""]))
@example([(1, 58, b"t"), (1, 11, b"X"), (0, 49, b"A")], b"D", b"\x01")  # SOH in a text value
@example([(1, 96, b"a\x01b"), (1, 95, b"3"), (2, 89, b"s"), (2, 93, b"1")], b"D", b"2")
@example([(1, 453, b""), (1, 11, b"X")], b"D", b"1")  # a group: never laid out
def test_a_known_layout_encodes_as_the_encoder_does(
        fields: list[tuple[int, int, bytes]], msg_type: bytes, mark: bytes) -> None:
    """A message of a shape encoded before is laid out as the first taught (gateway.codec's
    _LAYOUTS); it must come out as a full encode would, values changed, SOH in a value
    refused as before (where the field is not data)."""
    dd = load_builtin("FIX.4.4")

    def message(suffix: bytes) -> Message:
        m = Message(msg_type.decode())
        for section, tag, value in fields:
            if tag == 453:  # NoPartyIDs: a group of one entry
                m.body.add_group(Group(453, 448, [FieldMap([(448, b"P" + suffix)])]))
            else:
                (m.header, m.body, m.trailer)[section].append(tag, value + suffix)
        return m

    def outcome(m: Message, sd: SessionDictionaries) -> bytes | str:
        try:
            return encode(m, sd)
        except LocalProtocolError as exc:
            return str(exc.reject)

    known = as_session(dd)
    for suffix in (b"", mark):  # the first teaches the layout, the second uses it
        m = message(suffix)
        # a new pairing of the same dictionary has learnt nothing: a full encode
        assert outcome(m, known) == outcome(m, SessionDictionaries.single(dd))


@given(st.lists(st.one_of(st.tuples(st.integers(1, 6), st.binary(max_size=2)),
                          st.integers(1, 6)), max_size=8),
       st.lists(st.tuples(st.integers(1, 6), st.binary(max_size=2)), max_size=6))
def test_update_replaces_each_first_field_or_appends_it(
        items: list[tuple[int, bytes] | int], fields: list[tuple[int, bytes]]) -> None:
    """FieldMap.update (one pass; set() is its one-field case) leaves the level as replacing,
    field by field, the first field of the tag or appending it would: a group of the same
    tag left alone, a later duplicate of the tag too."""
    level = [Group(i, 9) if isinstance(i, int) else i for i in items]
    expected: list[tuple[int, bytes] | Group] = list(level)
    for tag, value in fields:
        at = next((i for i, item in enumerate(expected)
                   if not isinstance(item, Group) and item[0] == tag), None)
        if at is None:
            expected.append((tag, value))
        else:
            expected[at] = (tag, value)
    one_pass = FieldMap(level)
    one_pass.update(fields)
    assert one_pass == FieldMap(expected)
