"""engine.framing: statuses, garbage, streams cut anywhere, capacities, limits, tags <= 0,
trusting BodyLength on a session stream, and agreement with simplefix and a real QuickFIX
log."""

from __future__ import annotations

from pathlib import Path

import pytest
import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import _core
from engine.errors import TooBig
from engine.framing import FrameBatch, Framer, FrameStatus, ScanStop, data_tag_for_length

SOH = b"\x01"
KOD_BON_LOG = (
    Path(__file__).resolve().parents[2] / "shared/data/fixlogs/FIX.4.2-KOD-BON.messages.current.log"
)


def fix(text: str) -> bytes:
    """``|`` for SOH, so messages in tests are readable."""
    return text.replace("|", "\x01").encode()


def build(body: str | bytes, begin: str = "FIX.4.2", length_adjust: int = 0,
          checksum_adjust: int = 0) -> bytes:
    """A message around ``body`` (``35=...|...|``) with BodyLength and CheckSum computed here,
    independently of the code under test; the adjustments make them wrong on purpose."""
    raw_body = fix(body) if isinstance(body, str) else body
    head = fix(f"8={begin}|9={len(raw_body) + length_adjust}|") + raw_body
    return head + fix(f"10={(sum(head) + checksum_adjust) % 256:03d}|")


ORDER = "35=D|34=2|49=BUY|56=SELL|52=20240101-12:00:00.000|11=ORD1|55=IBM|54=1|38=100|40=2|44=9.5|"


def frames(batch: FrameBatch) -> list[tuple[int, int, int, FrameStatus]]:
    """(start, end, skipped, status) of every message, for comparisons."""
    return [(b.start, b.end, b.skipped, b.status) for b in batch]


def test_enum_values_match_the_c_header() -> None:
    for status in FrameStatus:
        assert getattr(_core.lib, f"FIX_FRAME_{status.name}") == status.value
    for stop in ScanStop:
        assert getattr(_core.lib, f"FIX_STOP_{stop.name}") == stop.value
    assert FrameStatus.INVALID_TAG.value == 6 and _core.lib.FIX_SCAN_TRUST_BODY_LENGTH == 2


def test_ok_message_fields_offsets_and_conveniences() -> None:
    msg = build(ORDER)
    batch = Framer().scan(msg)
    assert (batch.count, batch.consumed, batch.stop, batch.tail_skipped) == (1, len(msg),
                                                                            ScanStop.END, 0)
    assert frames(batch) == [(0, len(msg), 0, FrameStatus.OK)]
    fields = batch.fields(0)
    assert [t for t, _ in fields] == [8, 9, 35, 34, 49, 56, 52, 11, 55, 54, 38, 40, 44, 10]
    assert fields[0] == (8, b"FIX.4.2") and fields[2] == (35, b"D")
    assert fields[-1] == (10, msg[-4:-1])
    assert batch.message_bytes(0) == msg
    assert batch.value(0, 55) == b"IBM" and batch.value(0, 999) is None
    assert batch.value(0, 999, b"dflt") == b"dflt"
    assert batch.msg_type(0) == b"D" and batch.ok(0) and batch.status(0) is FrameStatus.OK
    # Column access gives the same answers without building per-field objects.
    f0, n = batch.first_fields[0], batch.field_counts[0]
    assert batch.tags[f0 : f0 + n].tolist() == [t for t, _ in fields]
    k = f0 + 3
    off, size = batch.value_offsets[k], batch.value_lengths[k]
    assert msg[off : off + size] == b"2"
    frame = batch[0]
    assert frame.data == msg and frame.fields() == fields and frame.value(11) == b"ORD1"
    assert batch[-1].start == 0 and [f.end for f in batch] == [len(msg)]
    with pytest.raises(IndexError):
        batch[1]


def test_values_of_answers_one_tag_for_every_message() -> None:
    msgs = [build(ORDER), build("35=0|"), build(ORDER.replace("34=2", "34=9")), b"junk",
            build(ORDER, checksum_adjust=1)]
    for data in (b"".join(msgs), bytearray(b"".join(msgs))):
        batch = Framer().scan(data)
        for tag in (34, 35, 11, 10, 8, 12345, -1, 1 << 40):
            assert batch.values_of(tag) == [batch.value(i, tag) if tag >= 0 else None
                                            for i in range(batch.count)]
        assert batch.values_of(34) == [b"2", None, b"9", b"2"]
    assert Framer().scan(b"").values_of(35) == []


def test_fixt_begin_string_and_back_to_back_messages() -> None:
    msgs = [build("35=A|34=1|98=0|108=30|1137=9|", begin="FIXT.1.1"), build(ORDER), build(ORDER)]
    batch = Framer().scan(b"".join(msgs))
    assert [b.status for b in batch] == [FrameStatus.OK] * 3
    assert batch.value(0, 8) == b"FIXT.1.1" and batch.value(0, 1137) == b"9"
    assert [b.data for b in batch] == msgs


BAD_CASES = {
    # name: (wire bytes of the bad message, expected status)
    "checksum off by one": (build(ORDER, checksum_adjust=1), FrameStatus.BAD_CHECKSUM),
    "body length short": (build(ORDER, length_adjust=-2), FrameStatus.BAD_BODY_LENGTH),
    "body length long": (build(ORDER, length_adjust=3), FrameStatus.BAD_BODY_LENGTH),
    "35 not third": (build("49=BUY|35=D|"), FrameStatus.GARBLED),
    "9 not second": (fix("8=FIX.4.2|35=D|9=5|10=000|"), FrameStatus.GARBLED),
    "tag without =": (build("35=D|49BUY|"), FrameStatus.GARBLED),
    "non-numeric tag": (build("35=D|4a=BUY|"), FrameStatus.GARBLED),
    "empty tag": (build("35=D|=BUY|"), FrameStatus.GARBLED),
    "lone minus tag": (build("35=D|-=x|"), FrameStatus.GARBLED),
    "letters inside a tag": (build("35=D|4garbled9=x|"), FrameStatus.GARBLED),
    "tag above 2**32-1": (build("35=D|4294967296=x|"), FrameStatus.GARBLED),
    "tag 0 first in the body": (build("0=HI|35=0|"), FrameStatus.GARBLED),
    "tag -1 first in the body": (build("-1=HI|35=0|"), FrameStatus.GARBLED),
    "tag 0": (build("35=0|0=HI|"), FrameStatus.INVALID_TAG),
    "body length not digits": (fix("8=FIX.4.2|9=1a|35=D|10=000|"), FrameStatus.GARBLED),
    "checksum not digits": (fix("8=FIX.4.2|9=5|35=D|10=1x3|"), FrameStatus.GARBLED),
    "huge body length": (fix("8=FIX.4.2|9=999999999|35=D|"), FrameStatus.TOO_BIG),
}


# Trusting BodyLength, a long one swallows the next message (tested below); the rest hold.
@pytest.mark.parametrize("name,trust", [(name, trust) for trust in (False, True)
                                        for name in BAD_CASES
                                        if not (trust and name == "body length long")])
def test_bad_message_is_reported_and_the_next_one_survives(name: str, trust: bool) -> None:
    bad, status = BAD_CASES[name]
    good = build(ORDER)
    batch = Framer(trust_body_length=trust).scan(bad + good)
    assert frames(batch) == [(0, len(bad), 0, status),
                             (len(bad), len(bad) + len(good), 0, FrameStatus.OK)]
    assert batch.fields(1)[2] == (35, b"D")
    assert batch.consumed == len(bad) + len(good)


def test_bad_checksum_still_reports_every_field() -> None:
    batch = Framer().scan(build(ORDER, checksum_adjust=7))
    assert batch.status(0) is FrameStatus.BAD_CHECKSUM
    assert batch.value(0, 11) == b"ORD1" and batch.fields(0)[-1][0] == 10


# -- tags that are integers <= 0 (QuickFIX 14a_BadField: Reject 373=0, 371=<tag>) -----------

HEARTBEAT = "35=0|34=2|49=TW|52=20240101-12:00:00.000|56=ISLD|{}|"


@pytest.mark.parametrize("trust", [False, True], ids=["logs", "trusting BodyLength"])
@pytest.mark.parametrize("field,tag_text", [("0=HI", b"0"), ("-1=HI", b"-1"), ("00=x", b"00"),
                                            ("-0=x", b"-0"), ("0=", b"0")])
def test_tag_0_or_negative_is_invalid_tag_with_its_text(field: str, tag_text: bytes,
                                                        trust: bool) -> None:
    bad = build(HEARTBEAT.format(field))
    good = build(ORDER)
    batch = Framer(trust_body_length=trust).scan(bad + good)
    assert frames(batch) == [(0, len(bad), 0, FrameStatus.INVALID_TAG),
                             (len(bad), len(bad) + len(good), 0, FrameStatus.OK)]
    assert not batch.ok(0) and not batch[0].ok
    body_length = str(len(fix(HEARTBEAT.format(field)))).encode()
    assert batch.fields(0) == [(8, b"FIX.4.2"), (9, body_length), (35, b"0"), (34, b"2"),
                               (49, b"TW"), (52, b"20240101-12:00:00.000"), (56, b"ISLD"),
                               (0, tag_text), (10, bad[-4:-1])]
    # The tag-0 entry points at the tag's text in the message, where the caller can name it.
    k = batch.first_fields[0] + 7
    off = batch.value_offsets[k]
    assert bad[off : off + batch.value_lengths[k] + 1] == tag_text + b"="
    assert batch.value(0, 0) == tag_text and batch.values_of(0) == [tag_text, None]
    assert batch.msg_type(0) == b"0"


def test_several_invalid_tags_and_the_fields_around_them() -> None:
    msg = build("35=0|0=a|34=2|-7=b|95=2|-3=c|96=zz|58=t|")
    batch = Framer().scan(msg)
    assert batch.status(0) is FrameStatus.INVALID_TAG
    assert batch.fields(0)[2:] == [(35, b"0"), (0, b"0"), (34, b"2"), (0, b"-7"), (95, b"2"),
                                   (0, b"-3"), (96, b"zz"), (58, b"t"), (10, msg[-4:-1])]


def test_bad_checksum_wins_over_invalid_tag_and_still_reports_the_tag() -> None:
    msg = build(HEARTBEAT.format("-1=HI"), checksum_adjust=1)
    batch = Framer().scan(msg)
    assert frames(batch) == [(0, len(msg), 0, FrameStatus.BAD_CHECKSUM)]
    assert (0, b"-1") in batch.fields(0) and batch.fields(0)[-1] == (10, msg[-4:-1])


def test_garbled_message_reports_no_tag_0_fields() -> None:
    # Tag 0 is reported only in sound frames; a garbled body stops before the first one.
    batch = Framer().scan(build("35=0|34=2|0=HI|4garbled9=x|"))
    assert batch.status(0) is FrameStatus.GARBLED
    assert batch.fields(0) == [(8, b"FIX.4.2"), (9, b"27"), (35, b"0"), (34, b"2")]


# -- trusting BodyLength (QuickFIX 2m_BodyLengthValueNotCorrect) ---------------------------


def _every_path(data: bytes, trust: bool = False,
                max_size: int = 4096) -> list[tuple[int, int, FrameStatus]]:
    """(start, end, status) of every message, the same from scan, scan_all and a stream fed
    in two reads (each path sets the Framer's flags on its own scans)."""
    def framer() -> Framer:
        return Framer(max_message_size=max_size, trust_body_length=trust)

    one = [(f.start, f.end, f.status) for f in framer().scan(data, final=True)]
    every = [(f.start, f.end, f.status) for b in framer().scan_all(data) for f in b]
    stream = framer()
    stream.feed(data[: len(data) // 2])
    got = list(stream.batches())
    stream.feed(data[len(data) // 2 :])
    got += stream.batches()
    got += stream.finish()
    streamed = [(f.stream_start, f.batch.stream_offset + f.end, f.status) for b in got for f in b]
    assert one == every == streamed
    return one


@pytest.mark.parametrize("adjust", [-1, -2, -5, -60])
def test_trusted_body_length_too_short_ends_at_its_own_checksum(adjust: int) -> None:
    bad, good = build(ORDER, length_adjust=adjust), build(ORDER)
    assert _every_path(bad + good, trust=True) == [
        (0, len(bad), FrameStatus.BAD_BODY_LENGTH),
        (len(bad), len(bad) + len(good), FrameStatus.OK)]
    batch = Framer(trust_body_length=True).scan(bad + good)
    assert [t for t, _ in batch.fields(0)] == [8, 9]


@pytest.mark.parametrize("adjust", [1, 3, 20])
def test_trusted_body_length_too_long_swallows_exactly_the_next_message(adjust: int) -> None:
    bad, swallowed, good = build(ORDER, length_adjust=adjust), build("35=0|34=3|"), build(ORDER)
    data = bad + swallowed + good
    end = len(bad) + len(swallowed)
    assert _every_path(data, trust=True) == [
        (0, end, FrameStatus.BAD_BODY_LENGTH), (end, len(data), FrameStatus.OK)]
    # Without the flag (logs) the next message survives: resync at its "8=FIX".
    assert _every_path(data) == [(0, len(bad), FrameStatus.BAD_BODY_LENGTH),
                                 (len(bad), end, FrameStatus.OK), (end, len(data), FrameStatus.OK)]


def test_trusted_body_length_gives_up_at_max_message_size() -> None:
    # Too long, and no CheckSum within max_message_size of the start: resync as for logs.
    bad = build(ORDER, length_adjust=30)
    data = bad + b"x" * 300 + build(ORDER)
    assert _every_path(data, trust=True, max_size=200) == [
        (0, 200, FrameStatus.BAD_BODY_LENGTH), (len(bad) + 300, len(data), FrameStatus.OK)]
    # With room for it, the CheckSum after the junk ends the message.
    assert _every_path(data, trust=True, max_size=1000) == [
        (0, len(data), FrameStatus.BAD_BODY_LENGTH)]


def test_trusted_body_length_waits_for_the_next_checksum() -> None:
    framer = Framer(trust_body_length=True, max_message_size=1000)
    assert framer.trust_body_length and not Framer().trust_body_length
    framer.feed(build(ORDER, length_adjust=5))
    assert list(framer.frames()) == []  # a CheckSum may yet come, within 1000 bytes
    framer.feed(build("35=0|") + build(ORDER))
    assert [f.status for f in framer.frames()] == [FrameStatus.BAD_BODY_LENGTH, FrameStatus.OK]
    # At the end of the stream, a too-long BodyLength with no CheckSum after it is TRUNCATED
    # as without the flag.
    framer.feed(build(ORDER, length_adjust=40))
    assert [f.status for b in framer.finish() for f in b] == [FrameStatus.TRUNCATED]


def test_data_tag_table() -> None:
    assert data_tag_for_length(95) == 96 and data_tag_for_length(93) == 89
    assert data_tag_for_length(96) is None and data_tag_for_length(-1) is None


def test_data_field_may_hold_soh_and_equals() -> None:
    payload = b"<x a='1'>\x01=\x01</x>"
    msg = build(fix("35=n|") + fix(f"212={len(payload)}|") + b"213=" + payload + SOH + fix("58=t|"))
    batch = Framer().scan(msg)
    assert batch.status(0) is FrameStatus.OK
    assert batch.value(0, 213) == payload and batch.value(0, 58) == b"t"


def test_garbage_is_skipped_and_counted() -> None:
    good = build(ORDER)
    data = b"2018/02/23 19:14:25.174454 " + good + b"\nnoise 18=FI=X \n" + good + b"\n"
    batch = Framer().scan(data)
    assert [(b.skipped, b.status) for b in batch] == [(27, FrameStatus.OK), (16, FrameStatus.OK)]
    assert batch.tail_skipped == 1 and batch.consumed == len(data) and batch.stop == ScanStop.END
    only_noise = Framer().scan(b"no fix here")
    assert (only_noise.count, only_noise.consumed, only_noise.tail_skipped) == (0, 11, 11)


def test_incomplete_tail_is_kept_not_consumed() -> None:
    good = build(ORDER)
    for tail in (b"8", b"8=FI", good[:20], good[:-1]):
        batch = Framer().scan(good + b"junk" + tail)
        assert batch.count == 1 and batch.stop == ScanStop.INCOMPLETE
        assert batch.consumed == len(good) + 4 and batch.tail_skipped == 4
        final = Framer().scan(good + b"junk" + tail, final=True)
        assert final.consumed == len(good) + 4 + len(tail) and final.stop == ScanStop.END
        assert [b.status for b in final][1:] == ([FrameStatus.TRUNCATED] if len(tail) > 8 else [])


def _stream() -> bytes:
    """Good and bad messages with garbage between them: a stream to cut anywhere. It has
    BodyLengths too long (one swallowing a message when trusted, one whose next CheckSum is
    more than 300 bytes on) and too short, and tags <= 0."""
    return b"".join([
        b"noise ", build(ORDER), build(ORDER, checksum_adjust=3), b"\r\n",
        build(ORDER, length_adjust=4), build("35=0|"), b"x", build("49=A|35=0|"),
        build(HEARTBEAT.format("-1=HI")), build(ORDER, length_adjust=-3),
        build(ORDER, length_adjust=9), b"y" * 250, build(ORDER),
        build("35=0|0=HI|", checksum_adjust=-1),
        fix("8=FIX.4.2|9=99999999|"), b"zz", build(ORDER), b"8=FIX.4.4|9=1",
    ])


StreamView = list[tuple[int, int, int, int, list[tuple[int, bytes]]]]


def _stream_view(batches: list[FrameBatch]) -> StreamView:
    return [(b.stream_start, b.batch.stream_offset + b.end, b.skipped, b.status, b.fields())
            for batch in batches for b in batch]


# Per (trust_body_length, max_message_size): how many messages of _stream() are OK. Trusted,
# a too-long BodyLength swallows the next message unless its CheckSum is too far.
STREAM_OKS = {(False, 4096): 4, (False, 300): 4, (True, 4096): 2, (True, 300): 3}
STREAM_CASES = pytest.mark.parametrize("trust,max_size", list(STREAM_OKS))


@STREAM_CASES
def test_stream_cut_at_every_byte_matches_one_scan(trust: bool, max_size: int) -> None:
    data = _stream()
    framer = Framer(max_message_size=max_size, trust_body_length=trust)
    expected = _stream_view(list(framer.scan_all(data, final=True)))
    statuses = [s for *_, s, _ in expected]
    assert statuses.count(FrameStatus.OK) == STREAM_OKS[trust, max_size]
    assert FrameStatus.INVALID_TAG in statuses and FrameStatus.BAD_BODY_LENGTH in statuses
    assert expected[-1][3] == FrameStatus.TRUNCATED
    for cut in range(len(data) + 1):
        stream = Framer(max_message_size=max_size, trust_body_length=trust)
        stream.feed(data[:cut])
        got = list(stream.batches())
        stream.feed(data[cut:])
        got += stream.batches()
        got += stream.finish()
        assert _stream_view(got) == expected, f"cut at {cut}"
        assert stream.buffered == 0 and stream.stream_position == len(data)


@STREAM_CASES
def test_stream_fed_one_byte_at_a_time(trust: bool, max_size: int) -> None:
    data = _stream()
    expected = _stream_view(list(Framer(max_message_size=max_size, trust_body_length=trust)
                                 .scan_all(data, final=True)))
    stream = Framer(max_message_size=max_size, trust_body_length=trust)
    got: list[FrameBatch] = []
    for i in range(len(data)):
        stream.feed(data[i : i + 1])
        got += stream.batches()
    got += stream.finish()
    assert _stream_view(got) == expected


def test_frames_iterates_messages_and_accepts_any_buffer() -> None:
    stream = Framer()
    stream.feed(bytearray(build(ORDER)))
    stream.feed(memoryview(build("35=0|")))
    assert [f.msg_type for f in stream.frames()] == [b"D", b"0"]
    mv_batch = Framer().scan(memoryview(bytearray(build(ORDER))))
    assert mv_batch.message_bytes(0) == build(ORDER) and mv_batch.value(0, 55) == b"IBM"


def test_message_capacity_stops_at_a_boundary() -> None:
    msgs = [build(ORDER.replace("ORD1", f"ORD{i}")) for i in range(5)]
    data = b"".join(msgs)
    framer = Framer(message_capacity=2)
    first = framer.scan(data)
    assert first.count == 2 and first.stop == ScanStop.MSGS_FULL
    assert first.consumed == len(msgs[0]) + len(msgs[1])
    second = framer.scan(data, first.consumed)
    assert second.starts[0] == first.consumed
    assert first.value(0, 11) == b"ORD0"  # an earlier batch is still valid after a rescan
    every = list(framer.scan_all(data))
    assert [b.count for b in every] == [2, 2, 1]
    assert [v for b in every for v in (b.value(i, 11) for i in range(b.count))] == [
        f"ORD{i}".encode() for i in range(5)]
    # A stream with a small capacity still delivers everything.
    stream = Framer(message_capacity=2)
    stream.feed(data)
    assert sum(b.count for b in stream.batches()) == 5


def test_field_capacity_grows_for_a_big_message() -> None:
    body = "35=8|" + "".join(f"{100 + i}=v{i}|" for i in range(300))
    framer = Framer(field_capacity=4)
    got = [f for batch in framer.scan_all(build(ORDER) + build(body)) for f in batch]
    assert [f.msg_type for f in got] == [b"D", b"8"]
    assert len(got[1].fields()) == 304 and got[1].value(399) == b"v299"
    assert framer.field_capacity >= 304


def test_huge_body_length_cannot_make_the_stream_buffer_forever() -> None:
    limit = 1000
    framer = Framer(max_message_size=limit, max_buffered=3 * limit)
    framer.feed(fix("8=FIX.4.2|9=4000000000|35=D|"))
    got: list[FrameStatus] = []
    for _ in range(50):  # a hostile peer streams junk after its claim
        framer.feed(b"x" * 100)
        got += [f.status for f in framer.frames()]
        assert framer.buffered <= limit + 4
    framer.feed(build(ORDER))
    got += [f.status for f in framer.frames()]
    assert got == [FrameStatus.TOO_BIG, FrameStatus.OK]


def test_feed_refuses_to_exceed_max_buffered() -> None:
    framer = Framer(max_message_size=100, max_buffered=200)
    framer.feed(b"8=FIX.4.2|9=50|" + b"x" * 100)
    with pytest.raises(BufferError):
        framer.feed(b"y" * 150)
    assert framer.buffered == 115  # nothing of the refused chunk was kept


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Framer().scan(b"abc", 4)
    with pytest.raises(ValueError):
        Framer(max_message_size=0)
    with pytest.raises(ValueError):
        Framer(message_capacity=0)


def test_buffers_over_4_gib_are_refused_by_the_c_core() -> None:
    # The length check comes before any byte is read, so a short buffer can stand in.
    scan = _core.ffi.new("struct fix_scan *")
    assert _core.lib.fix_scan(b"8=FIX", _core.lib.FIX_MAX_BUFFER_SIZE + 1, 0, scan) == TooBig.code


# -- agreement with simplefix --------------------------------------------------------------

# Data fields both simplefix and engine.framing know: (length tag, data tag). Plain fields
# avoid every tag either side treats as a length or data tag.
DATA_PAIRS = [(95, 96), (212, 213), (354, 355), (93, 89)]
RAW_TAGS = set(simplefix.data.RAW_LEN_TAGS) | set(simplefix.data.RAW_DATA_TAGS)
Field = tuple[int, bytes]
DataField = tuple[tuple[int, int], bytes]

plain_tags = st.integers(1, 99999).filter(
    lambda t: t not in {8, 9, 10, 35} | RAW_TAGS and data_tag_for_length(t) is None)
plain_fields = st.tuples(plain_tags, st.binary(min_size=1, max_size=20).filter(
    lambda v: SOH not in v))
data_fields = st.tuples(st.sampled_from(DATA_PAIRS), st.binary(min_size=1, max_size=30))
messages = st.tuples(
    st.sampled_from(["FIX.4.2", "FIX.4.4", "FIXT.1.1"]),
    st.text(alphabet="0123456789ABDEFGHj", min_size=1, max_size=2),
    st.lists(st.one_of(plain_fields, data_fields), max_size=25),
)


def simplefix_encode(begin: str, msg_type: str, body: list[Field | DataField]) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, begin, header=True)
    m.append_pair(35, msg_type, header=True)
    for key, value in body:
        if isinstance(key, tuple):
            m.append_data(key[0], key[1], value)
        else:
            m.append_pair(key, value)
    return bytes(m.encode())


def simplefix_pairs(raw: bytes) -> list[tuple[int, bytes]]:
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    msg = parser.get_message()
    assert msg is not None
    return [(int(t), bytes(v)) for t, v in msg.pairs]


@settings(max_examples=150, deadline=None)
@given(messages)
def test_same_fields_as_simplefix(spec: tuple[str, str, list[Field | DataField]]) -> None:
    raw = simplefix_encode(*spec)
    batch = Framer().scan(raw)
    assert frames(batch) == [(0, len(raw), 0, FrameStatus.OK)]
    assert batch.fields(0) == simplefix_pairs(raw)


@settings(max_examples=150, deadline=None)
@given(messages, st.data())
def test_same_checksum_verdict_as_simplefix(spec: tuple[str, str, list[Field | DataField]],
                                           data: st.DataObject) -> None:
    raw = bytearray(simplefix_encode(*spec))
    batch = Framer().scan(bytes(raw))
    # Nudge one value byte by +-1 and maybe another by the opposite amount, which keeps the
    # byte sum (and so the CheckSum) right. Bytes 3..254 never become SOH or leave 0..255;
    # length fields are left alone so the structure stays the same.
    positions = [
        i
        for tag, off, n in zip(batch.tags, batch.value_offsets, batch.value_lengths, strict=True)
        if tag not in (8, 9, 10) and data_tag_for_length(tag) is None
        for i in range(off, off + n)
        if 3 <= raw[i] <= 254
    ]
    if positions:
        delta = data.draw(st.sampled_from([1, -1]))
        first = data.draw(st.sampled_from(positions))
        raw[first] += delta
        second = data.draw(st.sampled_from(positions))
        if second != first and data.draw(st.booleans()):
            raw[second] -= delta
    if data.draw(st.booleans()):  # or state a different CheckSum
        raw[-2] = ord("0") + (raw[-2] - ord("0") + 1) % 10
    mutated = bytes(raw)
    parser = simplefix.FixParser()
    parser.append_buffer(mutated)
    simplefix_ok = bytes(parser.get_message().encode()) == mutated  # encode recomputes 9, 10
    got = Framer().scan(mutated)
    assert got.count == 1 and got.status(0) in (FrameStatus.OK, FrameStatus.BAD_CHECKSUM)
    assert (got.status(0) == FrameStatus.OK) == simplefix_ok


# -- the real KOD-BON log ------------------------------------------------------------------


@pytest.mark.skipif(not KOD_BON_LOG.exists(), reason=f"shared data not present: {KOD_BON_LOG}")
def test_real_quickfix_log_frames_every_line() -> None:
    data = KOD_BON_LOG.read_bytes()
    lines = data.splitlines()
    batches = list(Framer().scan_all(data))
    got = [f for batch in batches for f in batch]
    assert len(got) == len(lines)
    for frame, line in zip(got, lines, strict=True):
        message = line.split(b" ", 2)[2]  # "2018/02/23 19:14:25.174454 8=FIX.4.2..."
        assert frame.status is FrameStatus.OK
        assert frame.data == message
        assert frame.fields() == simplefix_pairs(message)
    assert sum(b.tail_skipped for b in batches) == 1  # the final newline


def test_records_are_the_c_records_as_bytes_for_a_stream_batch_too() -> None:
    # a stream batch whose skipped count was patched (garbage carried from an earlier feed)
    # holds its records in a bytearray: records() still hands C bytes, equal to the columns
    body = b"35=0\x0134=1\x01"
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    framer = Framer()
    framer.feed(b"garbage-")
    assert sum(b.count for b in framer.batches()) == 0  # nothing complete yet
    framer.feed(head + b"10=%03d\x01" % (sum(head) % 256))
    (batch,) = [b for b in framer.batches() if b.count]
    msgs, fields = batch.records()
    assert isinstance(msgs, bytes) and isinstance(fields, bytes)
    words = memoryview(msgs).cast("I")
    assert (words[0], words[1], words[2]) == (batch.starts[0], batch.ends[0], 8)
    assert len(fields) // 12 == batch.field_counts[0]
