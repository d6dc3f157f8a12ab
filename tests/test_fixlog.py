"""FIX log reading: every layout in ../shared/data/fixlogs (when present) and the generated
samples in tests/data/fixlogs (always), with counts, verdicts, lines and timestamps."""

from __future__ import annotations

import re
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fixspec.dictionary import load_builtin
from fixspec.validate import validate
from gateway.codec import decode, decode_bytes
from gateway.fixlog import (
    FrameStatus,
    LogFormatError,
    LogRecord,
    parse_log_timestamp,
    read_log,
    read_log_lines,
)
from tests.fixlog_samples import EXPECTED, SAMPLES, T0, _message, generate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixlogs"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} not present (shared data is not part of a clone)"
)


def _records(path: Path, **kwargs: object) -> list[LogRecord]:
    return list(read_log(path, **kwargs))  # type: ignore[arg-type]


# -- the captured logs ------------------------------------------------------------------------


@needs_shared
def test_kod_bon_log_2486_messages_all_valid() -> None:
    records = _records(SHARED / "FIX.4.2-KOD-BON.messages.current.log")
    assert len(records) == 2486 and all(r.ok for r in records)
    assert [r.line for r in records] == list(range(1, 2487))
    assert records[0].timestamp == datetime(2018, 2, 23, 19, 14, 25, 174454)
    types = Counter(dict(r.fields)[35] for r in records)
    assert (types[b"D"], types[b"8"], types[b"F"]) == (602, 1204, 602)
    assert (types[b"2"], types[b"4"]) == (1, 1)  # the ResendRequest and the SequenceReset
    fix42 = load_builtin("FIX.4.2")
    for r in records:  # the framed fields decode and pass FIX 4.2 validation
        validate(decode(list(r.fields), r.raw, fix42), fix42)


@needs_shared
def test_lsehub_log_400_messages_all_valid() -> None:
    records = _records(SHARED / "FIX.4.2-LSEHUB-INI101.messages.current.log")
    assert len(records) == 400 and all(r.ok for r in records)
    assert records[0].timestamp == datetime(2017, 10, 20, 15, 53, 31, 37000)
    types = Counter(dict(r.fields)[35] for r in records)
    assert (types[b"AE"], types[b"3"]) == (22, 1)
    reject = next(r for r in records if dict(r.fields)[35] == b"3")
    assert dict(reject.fields)[58] == b"Tag appears more than once"


LOG4FIX = sorted((SHARED / "log4fix-j").glob("*.log")) if SHARED.is_dir() else []


def _expected_count(path: Path) -> int:
    """Each Log4FIX-J test file states its own answer in an EXPECTED_RESULTS block."""
    m = re.search(rb"ExpectedMessageCount=(\d+)", path.read_bytes())
    assert m is not None, path
    return int(m[1])


@needs_shared
@pytest.mark.parametrize("path", LOG4FIX, ids=[p.name.split("BCExchange-")[-1] for p in LOG4FIX])
def test_log4fix_layout(path: Path) -> None:
    records = _records(path)
    assert len(records) == _expected_count(path)
    assert all(r.ok for r in records), [r.detail for r in records]
    for r in records:  # restored messages are sound FIX: the C framer accepts them alone
        decode_bytes(r.raw, load_builtin("FIX.4.2"))


@needs_shared
def test_log4fix_totals_and_layout_details() -> None:
    counts = {p.name: len(_records(p)) for p in LOG4FIX}
    # 37 messages over the eight layouts (SOURCES.md says 39; the files' own expected counts
    # add up to 37, and so does a count of "8=FIX" in them).
    assert len(counts) == 8 and sum(counts.values()) == 37
    d = SHARED / "log4fix-j"
    (pipe,) = _records(d / "FIX42-CoyTrade-BCExchange-PipeDelimeter.log")
    assert pipe.delimiter == b"|" and pipe.line == 3 and pipe.raw.endswith(b"\x0110=152\x01")
    split = _records(d / "FIX42-CoyTrade-BCExchange-MessagesSplitBetweenMultipleLines.log")
    assert [(r.line, r.end_line) for r in split] == [(1, 1), (2, 2), (4, 7), (10, 10)]
    target = d / "FIX42-CoyTrade-BCExchange-TargetMessagePerLine.log"
    assert _records(target)[0].timestamp == datetime(2006, 4, 10, 15, 20, 27)
    assert _records(target, day_first=True)[0].timestamp == datetime(2006, 10, 4, 15, 20, 27)
    mixed = _records(d / "FIX42-CoyTrade-BCExchange-SenderMessagePerLineMixedWithOtherText.log")
    assert [r.line for r in mixed] == [4, 5, 6, 7, 18, 19]
    assert mixed[0].timestamp == datetime(2006, 4, 10, 6, 19)


# -- the generated samples (always run) -------------------------------------------------------


def test_committed_samples_match_the_generator() -> None:
    for name, data in generate().items():
        assert (SAMPLES / name).read_bytes() == data, "regenerate: python -m tests.fixlog_samples"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_records_lines_and_verdicts(name: str) -> None:
    records = _records(SAMPLES / name)
    assert [(r.line, r.end_line, r.status) for r in records] == EXPECTED[name]
    for r in records:
        assert r.ok == (r.status == FrameStatus.OK) and (r.ok or r.detail)
        if r.ok:
            assert r.raw.startswith(b"8=FIX.4.4\x01") and r.raw.endswith(b"\x01")


def test_sample_timestamps_and_delimiters() -> None:
    qf = _records(SAMPLES / "quickfix.messages.log")
    assert qf[3].timestamp == (T0 + timedelta(milliseconds=750, microseconds=7)).replace(
        tzinfo=None
    )
    iso = _records(SAMPLES / "pipe-iso-timestamps.log")
    assert iso[2].timestamp == T0.replace(microsecond=123456) + timedelta(seconds=2)
    assert iso[2].timestamp is not None and iso[2].timestamp.tzinfo is not None
    assert {r.delimiter for r in iso} == {b"|"}
    delims = _records(SAMPLES / "delimiters.log")
    assert [r.delimiter for r in delims] == [b"|", b";", b"^", b",", b" ", b"\x01"]
    # SOH restored exactly, spaces inside Text (58) included, in the space-delimited line.
    assert [r.raw for r in delims] == [_message(i) for i in range(6)]
    assert b"58=client note with spaces\x01" in delims[4].raw


def test_bad_records_say_where_and_why() -> None:
    path = SAMPLES / "mixed-with-errors.log"
    bad = [r for r in _records(path) if not r.ok]
    assert [(r.where, r.status.name) for r in bad] == [
        (f"{path}:8", "BAD_CHECKSUM"),
        (f"{path}:9", "BAD_BODY_LENGTH"),
        (f"{path}:10", "GARBLED"),
        (f"{path}:12", "TRUNCATED"),
    ]
    assert all(r.detail for r in bad)
    # Two messages on line 6: the second one has no timestamp of its own.
    six = [r for r in _records(path) if r.line == 6]
    assert len(six) == 2 and six[0].timestamp is None


def test_strict_mode_raises_at_the_first_bad_record() -> None:
    path = SAMPLES / "mixed-with-errors.log"
    seen = []
    with pytest.raises(LogFormatError, match=rf"^{re.escape(str(path))}:8: BAD_CHECKSUM") as info:
        for record in read_log(path, strict=True):
            seen.append(record.line)
    assert seen == [3, 5, 6, 6] and info.value.record.line == 8
    assert len(list(read_log(SAMPLES / "quickfix.messages.log", strict=True))) == 12


def test_reading_from_memory_with_any_line_endings() -> None:
    raw = _message(1)
    stamped = b"20240102-13:45:01.000001 : " + raw + b"\r\n"
    lines = [b"noise\r\n", stamped, raw.replace(b"\x01", b"#")]
    records = list(read_log_lines(lines, "mem"))
    assert [(r.line, r.raw, r.delimiter) for r in records] == [(2, raw, b"\x01"), (3, raw, b"#")]
    assert records[0].where == "mem:2" and records[1].timestamp is None


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (b"20171020-15:53:31.037 : ", {}, datetime(2017, 10, 20, 15, 53, 31, 37000)),
        (b"20180223-19:14:25.123456789 ", {}, datetime(2018, 2, 23, 19, 14, 25, 123456)),
        (b"2018/02/23 19:14:25.174454 ", {}, datetime(2018, 2, 23, 19, 14, 25, 174454)),
        (b"2024-01-02T13:45:01Z ", {}, datetime(2024, 1, 2, 13, 45, 1, tzinfo=UTC)),
        (b"2024-01-02 13:45:01,5+02:00 ", {},
         datetime(2024, 1, 2, 13, 45, 1, 500000, tzinfo=timezone(timedelta(hours=2)))),
        (b"04/10/2006  15:20:27:   <== ", {}, datetime(2006, 4, 10, 15, 20, 27)),
        (b"04/10/2006  15:20:27:   <== ", {"day_first": True}, datetime(2006, 10, 4, 15, 20, 27)),
        (b"20060410-06:19:00 -> ", {"assume_tz": UTC}, datetime(2006, 4, 10, 6, 19, tzinfo=UTC)),
        (b"no time here", {}, None),
        (b"20241340-10:00:00 ", {}, None),
    ],
)  # fmt: skip
def test_log_timestamps(text: bytes, kwargs: dict[str, object], expected: datetime | None) -> None:
    assert parse_log_timestamp(text, **kwargs) == expected  # type: ignore[arg-type]


def test_text_lines_after_a_message_without_checksum_are_joined_in_linear_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each text line joined to a message still looking for its CheckSum restored the whole
    joined text again: 20,000 lines took seconds. Only a line that brings a "10=" can end
    the message, so only then is the text restored; the message is still found whole."""
    from gateway import fixlog
    calls = Counter[int]()
    real = fixlog._restore

    def counted(text: bytes, d: bytes) -> bytes:
        calls[0] += 1
        return real(text, d)

    monkeypatch.setattr(fixlog, "_restore", counted)
    cut = b"8=FIX.4.4|9=5|35=0|49=A|56=B|34=1"  # no CheckSum: every text line after it joins
    split = [b"8=FIX.4.4|9=39|35=0|49=A|56=B|34=2|", b"52=20240101-00:00:00|10=123|"]
    lines = [cut, *(b"text %d" % i for i in range(2000)), *split]
    list(fixlog.read_log_lines(lines, "t"))
    assert calls[0] <= 6  # (one a candidate, one a line holding "10=")


@pytest.mark.parametrize("cut", [0, 1, 2])
def test_a_line_split_inside_the_checksum_ends_the_message_there(cut: int) -> None:
    """Split after "10=d" or "10=dd", the "10=" lay too far back to be looked at again: the
    text lines after the message were glued into it. (Split after "10=ddd", the first line
    holds the message whole.)"""
    from tests.fixpeer import frame
    raw = frame("FIX.4.4", "35=0|49=A|56=B|34=2|52=20240101-00:00:00").replace(b"\x01", b"|")
    i = raw.index(b"10=") + 3 + cut
    lines = [raw[:i], raw[i:], b"session: heartbeat timer started", b"another note"]
    (record,) = [r for r in read_log_lines(lines, "t") if r.raw]
    assert (record.line, record.end_line) == (1, 2)


def test_a_line_of_many_messages_is_read_a_message_at_a_time() -> None:
    """A raw capture written back to back is one line: its records were all built before
    the first was handed out, 14 times the line's size in memory (the audit of a 32 MB
    capture peaked at 640 MB). Now the line and a copy of it, and one batch's records."""
    from tests.fixpeer import frame

    n = 20_000
    line = b"".join(frame("FIX.4.4", f"35=D|49=C|56=V|34={i + 1}|52=20260521-14:00:00.000|"
                                     f"11=C{i}|54=1|38=100|40=1|55=AAPL") for i in range(n))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        count = sum(1 for record in read_log_lines([line + b"\n"], "capture") if record.ok)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 8 * len(line), f"peak {peak:,} bytes for a {len(line):,}-byte line"
