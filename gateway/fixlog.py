"""Read captured FIX message logs, whatever their layout, into checked records.

Handles QuickFIX message logs (``20171020-15:53:31.037 : 8=FIX...``) and the layouts found in
the wild: a different timestamp before the message (``2018/02/23 19:14:25.174454 8=FIX``,
``04/10/2006  15:20:27:   <== 8=FIX``) or none, other text on the line before or after the
message, text lines between messages, messages split across lines, and any single-character
delimiter in place of SOH (``|``, ``;``, ``^``, a space...), detected per message as the
character after the BeginString.

For each message the reader restores SOH (a delimiter counts only where a ``tag=`` follows it,
or right after the CheckSum, so a space inside a Text value survives a space-delimited log),
adds a missing final delimiter, then hands the messages to the C framer (engine.framing) in
batches, which checks BodyLength and CheckSum. Every line containing ``8=FIX`` gives at least
one :class:`LogRecord`, good or bad: nothing is dropped silently. With ``strict=True`` the
first bad record raises :class:`LogFormatError` naming the file, the line and the reason.

A message split across lines is joined while it has no CheckSum field yet, up to a blank line,
a line with another ``8=FIX``, the end of the file, or ``max_message_size`` bytes.

Timestamps are read from the text before ``8=FIX`` on the message's first line, to the
microsecond (a datetime holds no more), as written: naive unless the text carries a zone or
``assume_tz`` is given. Slashed dates ``NN/NN/YYYY`` are month first unless ``day_first``.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from os import PathLike

from engine.framing import DEFAULT_MAX_MESSAGE_SIZE, Framer, FrameStatus

__all__ = [
    "FrameStatus",
    "LogFormatError",
    "LogRecord",
    "as_read",
    "as_written",
    "parse_log_timestamp",
    "read_log",
    "read_log_lines",
]

SOH = b"\x01"
_START = b"8=FIX"
_BEGIN = re.compile(rb"8=FIXT?\.\d+\.\d+(?:SP\d+)?")
_BEGIN_PREFIX = re.compile(rb"8=FIXT?(?:\.\d*(?:\.\d*(?:S(?:P\d*)?)?)?)?")
_TRAILER = re.compile(rb"\x0110=\d{3}\x01")
_BATCH = 512  # candidate messages framed per C call


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One message found in a log.

    ``line``..``end_line`` are the 1-based lines it spans; ``timestamp`` is the log's own
    time for the line, if it has one; ``raw`` is the message with SOH restored (for a good
    record, ``8=`` through ``10=ddd<SOH>``); ``fields`` its ``(tag, value)`` pairs as framed;
    ``status`` the framer's verdict (``OK`` or why not) and ``detail`` what was wrong.
    ``delimiter`` is the character the log used between fields.
    """

    source: str
    line: int
    end_line: int
    timestamp: datetime | None
    raw: bytes
    fields: tuple[tuple[int, bytes], ...]
    status: FrameStatus
    delimiter: bytes
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == FrameStatus.OK

    @property
    def where(self) -> str:
        """``file:line`` of the record's first line."""
        return f"{self.source}:{self.line}"


class LogFormatError(ValueError):
    """A bad record in strict mode: the message names file, line and reason."""

    def __init__(self, record: LogRecord) -> None:
        reason = record.detail or record.status.name
        super().__init__(f"{record.where}: {record.status.name}: {reason}")
        self.record = record


# -- timestamps -------------------------------------------------------------------------------

_FRACTION = rb"(?:[.,](\d{1,9}))?"
_TS_QUICKFIX = re.compile(rb"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})" + _FRACTION)
_TS_ISO = re.compile(
    rb"(\d{4})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})" + _FRACTION
    + rb"(Z|[+-]\d{2}:?\d{2})?"
)
_TS_SLASHED = re.compile(rb"(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})" + _FRACTION)


def as_read(text: str) -> str:
    """``text`` a user typed (an ID to find, a prefix to add) as the readers of logs hold a
    value: its UTF-8 bytes, each a latin-1 character (values are read so, any byte being one
    character)."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def as_written(value: str) -> str:
    """A value as the readers of logs hold it (:func:`as_read`), shown as the text it was
    written as: its bytes decoded as UTF-8 (``Ã©1`` is ``é1``); unchanged when they are not
    UTF-8, or when it is no such reading (text from a JSON record)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def parse_log_timestamp(
    text: bytes, *, day_first: bool = False, assume_tz: tzinfo | None = None
) -> datetime | None:
    """The first timestamp in ``text`` in a known layout, or None (also if out of range)."""
    zone: tzinfo | None = assume_tz
    m = _TS_QUICKFIX.search(text)
    if m is not None:
        y, mo, d, h, mi, s, frac = m.groups()
    elif (m := _TS_ISO.search(text)) is not None:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        if tz is not None:
            zone = _zone(tz)
    elif (m := _TS_SLASHED.search(text)) is not None:
        a, b, y, h, mi, s, frac = m.groups()
        d, mo = (a, b) if day_first else (b, a)
    else:
        return None
    micros = int((frac or b"0").ljust(6, b"0")[:6])
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micros, tzinfo=zone)
    except ValueError:
        return None


def _zone(text: bytes) -> tzinfo:
    if text == b"Z":
        return UTC
    sign = -1 if text[:1] == b"-" else 1
    digits = text[1:].replace(b":", b"")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


# -- finding messages -------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    line: int
    end_line: int
    timestamp: datetime | None
    text: bytes  # SOH restored, from 8=FIX to the end of its (joined) lines
    delimiter: bytes
    complete: bool  # a CheckSum field was seen
    detail: str = ""  # set when no framing is possible (no BeginString + delimiter)


def _delimiter(text: bytes) -> bytes | None:
    """The field delimiter after the BeginString; None if ``text`` ends too early to tell,
    b"" if it is not a BeginString followed by a delimiter."""
    m = _BEGIN.match(text)
    if m is None or m.end() == len(text):
        prefix = _BEGIN_PREFIX.match(text)
        return None if prefix is not None and prefix.end() == len(text) else b""
    d = text[m.end() : m.end() + 1]
    return b"" if d.isalnum() or d in (b".", b"=") else d


def _restore(text: bytes, d: bytes) -> bytes:
    if d != SOH:
        # Only a delimiter followed by "tag=" separates fields: a space inside a Text value
        # of a space-delimited log stays a space.
        text = re.sub(re.escape(d) + rb"(?=\d+=)", SOH, text)
    # The delimiter after the CheckSum, or a missing one at the end of the line.
    return re.sub(rb"(\x0110=\d{3})(?:" + re.escape(d) + rb")?(?!\d)", rb"\1" + SOH, text)


class _Lines:
    """Numbered lines without their line ending, with one line of look-ahead."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._it = iter(lines)
        self._ahead: deque[tuple[int, bytes]] = deque()
        self._n = 0

    def _read(self) -> tuple[int, bytes] | None:
        line = next(self._it, None)
        if line is None:
            return None
        self._n += 1
        if line.endswith(b"\n"):
            line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return self._n, line

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return self

    def __next__(self) -> tuple[int, bytes]:
        item = self._ahead.popleft() if self._ahead else self._read()
        if item is None:
            raise StopIteration
        return item

    def peek(self) -> tuple[int, bytes] | None:
        if not self._ahead:
            item = self._read()
            if item is None:
                return None
            self._ahead.append(item)
        return self._ahead[0]


def _candidates(
    lines: Iterable[bytes], day_first: bool, assume_tz: tzinfo | None, max_size: int
) -> Iterator[_Candidate]:
    it = _Lines(lines)
    for lineno, line in it:
        pos = line.find(_START)
        if pos < 0:
            continue  # a text line: not a message
        timestamp = parse_log_timestamp(line[:pos], day_first=day_first, assume_tz=assume_tz)
        text = line[pos:]
        end_line = lineno
        # where the text not yet looked at for a CheckSum starts; a "10=" up to 6 bytes
        # before it may end there (a line split inside "10=ddd" and its delimiter)
        fresh = 0
        while True:
            d = _delimiter(text)
            # only a line that brings a "10=" can end the message: the whole text is
            # restored (a delimiter's meaning depends on what follows it) only then, so a
            # run of text lines after a message without its CheckSum costs linear time
            if d == b"" or (d is not None and b"10=" in text[max(0, fresh - 6):]
                            and _TRAILER.search(_restore(text, d))):
                break
            fresh = len(text)
            nxt = it.peek()
            if nxt is None or not nxt[1].strip() or _START in nxt[1] or len(text) > max_size:
                break
            next(it)
            text += nxt[1]
            end_line = nxt[0]
        restored = _restore(text, d) if d else text
        if not d:
            yield _Candidate(lineno, end_line, timestamp, text, b"", False,
                             "no BeginString followed by a delimiter")
        else:
            complete = _TRAILER.search(restored) is not None
            yield _Candidate(lineno, end_line, timestamp, restored, d, complete)


def _frame(
    batch: list[_Candidate], source: str, framer: Framer
) -> Iterator[LogRecord]:
    """Frame a batch of candidates in one C call and turn the results into records, in the
    batch's order, each as it is framed: a line holding many messages (a raw capture written
    back to back) costs one message's records at a time, not all of its messages'."""
    framed = [c for c in batch if c.delimiter]
    at = [j for j, c in enumerate(batch) if c.delimiter]  # each framed one's place in batch
    starts: list[int] = []
    parts: list[bytes] = []
    pos = 0
    for c in framed:
        starts.append(pos)
        parts.append(c.text)
        parts.append(b"\n")  # a bad frame ends at the next "8=FIX"; keep them apart
        pos += len(c.text) + 1
    done = 0  # the candidates of batch before this one have had their records
    for fb in framer.scan_all(b"".join(parts), final=True):
        for i in range(fb.count):
            start = fb.starts[i]
            k = bisect.bisect_right(starts, start) - 1
            c = framed[k]
            if at[k] >= done:  # its first record: those before it had none
                yield from _unframed(batch[done:at[k]], source)
                done = at[k] + 1
            first = start == starts[k]
            status = fb.status(i)
            if first and status != FrameStatus.OK:
                if not c.complete:
                    status = FrameStatus.TRUNCATED
                elif status == FrameStatus.TRUNCATED:
                    # The batch is our own concatenation: a message that has its CheckSum
                    # field but "runs past the end" has a BodyLength that overshoots it.
                    status = FrameStatus.BAD_BODY_LENGTH
            detail = "" if status == FrameStatus.OK else _explain(status, c, first)
            yield LogRecord(
                source=source,
                line=c.line,
                end_line=c.end_line,
                timestamp=c.timestamp if first else None,
                raw=fb.message_bytes(i),
                fields=tuple(fb.fields(i)),
                status=status,
                delimiter=c.delimiter,
                detail=detail,
            )
    yield from _unframed(batch[done:], source)


def _unframed(candidates: list[_Candidate], source: str) -> Iterator[LogRecord]:
    """The GARBLED record of each of ``candidates``, none of which was framed."""
    for c in candidates:
        detail = c.detail or "not framed: swallowed by the message before it"
        yield LogRecord(source, c.line, c.end_line, c.timestamp, c.text, (),
                        FrameStatus.GARBLED, c.delimiter, detail)


def _explain(status: FrameStatus, c: _Candidate, first: bool) -> str:
    if first and not c.complete:
        return f"no CheckSum (10=) before the end of line {c.end_line}"
    return {
        FrameStatus.BAD_BODY_LENGTH: "BodyLength (9) does not end where CheckSum (10) starts",
        FrameStatus.BAD_CHECKSUM: "CheckSum (10) is not the byte sum",
        FrameStatus.GARBLED: "malformed fields or header out of order",
        FrameStatus.TOO_BIG: "BodyLength (9) beyond the message size limit",
        FrameStatus.TRUNCATED: "the log ends inside the message",
        FrameStatus.INVALID_TAG: "a tag is 0 or negative",
    }.get(status, status.name)


def read_log_lines(
    lines: Iterable[bytes],
    source: str,
    *,
    strict: bool = False,
    day_first: bool = False,
    assume_tz: tzinfo | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> Iterator[LogRecord]:
    """Records from ``lines`` (bytes, with or without line endings); ``source`` names them.

    Lazy: memory stays bounded by one batch of messages whatever the log's size. When
    reading ``lines`` fails (a gzip file cut short), the records read before come first,
    then the error.
    """
    framer = Framer(max_message_size=max_message_size, message_capacity=_BATCH * 2)
    batch: list[_Candidate] = []

    def flush() -> Iterator[LogRecord]:
        for record in _frame(batch, source, framer):
            if strict and not record.ok:
                raise LogFormatError(record)
            yield record
        batch.clear()

    candidates = _candidates(lines, day_first, assume_tz, max_message_size)
    while True:
        try:
            candidate = next(candidates)
        except StopIteration:
            break
        except Exception:
            yield from flush()
            raise
        batch.append(candidate)
        if len(batch) >= _BATCH:
            yield from flush()
    yield from flush()


def read_log(
    path: str | PathLike[str],
    *,
    strict: bool = False,
    day_first: bool = False,
    assume_tz: tzinfo | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> Iterator[LogRecord]:
    """Records from the log file at ``path`` (see the module docstring)."""
    with open(path, "rb") as f:
        yield from read_log_lines(
            f,
            str(path),
            strict=strict,
            day_first=day_first,
            assume_tz=assume_tz,
            max_message_size=max_message_size,
        )
