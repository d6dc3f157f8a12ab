"""FIX framing: find complete FIX messages in bytes and index their fields, in C, in batches.

The C scanner (csrc/framing.h states the full contract) checks BodyLength (9) and CheckSum
(10) and reports, for MANY messages per call, where each message is, its
:class:`FrameStatus` and its fields as (tag, value offset, value length) columns. Python gets
them as a :class:`FrameBatch`: per-message columns and per-field columns as memoryviews, so a
hot loop touches no Python object per field unless it asks for one (:meth:`FrameBatch.fields`,
:meth:`FrameBatch.value`).

Two ways in, both through a :class:`Framer` that owns the reusable C output arrays:

* ``framer.scan(buf)`` / ``framer.scan_all(buf)`` for a buffer you hold whole (a log file);
  offsets are into ``buf``.
* ``framer.feed(data)`` then ``framer.batches()`` or ``framer.frames()`` for a byte stream (a
  socket): the incomplete tail is kept internally until more bytes arrive, and
  ``framer.finish()`` at end of stream reports a cut-off message as ``TRUNCATED``. What the
  stream API reports does not depend on how the stream was cut into reads.

Only ``OK`` messages may be processed. ``INVALID_TAG`` is a whole message, in sequence, with
a tag that is an integer <= 0 (reported as tag 0 with the tag's text as its "value"): a
session answers it with a session Reject (373=0, 371=<the tag as sent>) that consumes its
sequence number, as QuickFIX does. Every other status is a framing error: the session drops
the message without consuming a sequence number (FIX garbled-message rule). Scanning always
resumes after a bad message, so it never hides the good messages that follow. Bytes before
a message that are not part of one (line noise, a log line's timestamp) are skipped and
counted in ``skipped``.

Where a message with a wrong BodyLength ends depends on ``Framer(trust_body_length=...)``:
by default (logs, one message a line) at the next ``8=FIX``, so a bad line never eats the
next; with ``trust_body_length=True`` (a session stream) at the first CheckSum from where
BodyLength points, as QuickFIX reads a socket (csrc/framing.h, FIX_SCAN_TRUST_BODY_LENGTH).

Example, a session reading a socket::

    framer = Framer()
    framer.feed(sock.recv(65536))
    for batch in framer.batches():
        for i in range(batch.count):
            if batch.status(i) is FrameStatus.INVALID_TAG:
                reject_invalid_tag(batch, i)  # Reject 373=0; consumes the sequence number
            elif not batch.ok(i):
                continue  # garbled: drop it, no sequence number consumed
            on_message(batch.msg_type(i), batch.fields(i), batch.message_bytes(i))

A batch owns copies of its columns and a reference to the scanned bytes, so it stays valid
after the framer scans again. Offsets are 32-bit, so one scanned buffer is at most 4 GiB - 1
bytes (:class:`engine.errors.TooBig` beyond that); a stream has no such limit.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Iterator
from typing import Any, Final

from engine._core import ffi, lib
from engine.errors import check

#: What the framing calls accept: anything exposing a contiguous byte buffer.
BytesLike = bytes | bytearray | memoryview

DEFAULT_MAX_MESSAGE_SIZE: Final = 1 << 20
MAX_BUFFER_SIZE: Final = (1 << 32) - 1


def data_tag_for_length(length_tag: int) -> int | None:
    """The FIX data field whose byte count ``length_tag`` gives (96 for 95, ...), or None.

    A data field's value directly after its length field may hold SOH; the framer reads it
    by that count (table from the FIX 4.2/4.4/5.0SP2/FIXT 1.1 dictionaries, csrc/framing.c).
    """
    if not 0 <= length_tag <= MAX_BUFFER_SIZE:
        return None
    return int(lib.fix_data_tag_for_length(length_tag)) or None


@functools.cache
def _standard_data_tags() -> frozenset[int]:
    """Every data tag of the standard pairs (csrc/framing.c's table)."""
    return frozenset(d for t in range(1, 50_000) if (d := lib.fix_data_tag_for_length(t)))


def extra_data_fields(pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Of ``pairs`` (length tag, data tag), those the framer does not know by itself,
    sorted: not a standard length tag, nor a standard data tag (whose length the standard
    table knows: FIX 5.0SP2 pairs some data fields with a length that is not the tag one
    below, as a dictionary-derived rule would take it)."""
    return tuple(sorted({(length, data) for length, data in pairs
                         if data_tag_for_length(length) is None
                         and data not in _standard_data_tags()}))


class FrameStatus(enum.IntEnum):
    """Verdict on one framed message (``enum fix_frame_status``); only OK may be processed."""

    OK = 0
    BAD_BODY_LENGTH = 1  # BodyLength does not point to "<SOH>10="
    BAD_CHECKSUM = 2  # the frame is sound but CheckSum is not the byte sum
    GARBLED = 3  # header fields out of order, a malformed field, bad digits
    TOO_BIG = 4  # BodyLength makes the message longer than max_message_size
    TRUNCATED = 5  # only at end of input (final scan): the input ends inside the message
    # A sound message (length and CheckSum right) with a tag that is an integer <= 0 ("0",
    # "-1"): such fields have tag 0 and the tag's text as their value. Not OK, but not a
    # framing error either: a session rejects it (373=0) and consumes its sequence number.
    INVALID_TAG = 6


class ScanStop(enum.IntEnum):
    """Why a scan stopped (``enum fix_scan_stop``)."""

    END = 0  # every byte consumed
    INCOMPLETE = 1  # the tail from ``consumed`` is the start of a message: scan it again later
    MSGS_FULL = 2  # message capacity reached; continue from ``consumed``
    FIELDS_FULL = 3  # field capacity reached (the Framer grows and retries, so rarely seen)


# The C records are arrays of uint32_t, exposed with memoryview format "I" (C unsigned int).
if ffi.sizeof("unsigned int") != 4:  # pragma: no cover - no such platform is supported
    raise ImportError("engine.framing needs a 32-bit C unsigned int")
MSG_WORDS: Final = 6  # struct fix_msg: start, end, skipped, status, first_field, field_count
FIELD_WORDS: Final = 3  # struct fix_field: tag, offset, length
_NO_VALUE: Final = 0xFFFFFFFF  # FIX_NO_VALUE
if (ffi.sizeof("struct fix_msg"), ffi.sizeof("struct fix_field")) != (4 * MSG_WORDS,
                                                                      4 * FIELD_WORDS):
    raise ImportError("struct fix_msg / fix_field layout changed; update engine/framing.py")


def _copy_words(ptr: Any, records: int, words: int) -> memoryview:
    """A read-only copy of the first ``records`` records of ``words`` uint32s each, flat."""
    return memoryview(ffi.buffer(ptr, 4 * words * records)[:]).cast("I")


class FrameBatch:
    """The messages one scan found, as columns.

    Per message i (``0 <= i < count``): ``starts[i]``/``ends[i]`` (offsets into ``buffer``;
    ``buffer[starts[i]:ends[i]]`` is the message), ``statuses[i]`` (a :class:`FrameStatus`
    value), ``skipped[i]`` (garbage bytes skipped just before it), and its fields are entries
    ``first_fields[i] .. first_fields[i] + field_counts[i] - 1`` of ``tags``,
    ``value_offsets`` and ``value_lengths``, in wire order, 8, 9 and 10 included. For an OK
    or INVALID_TAG message the first three fields are 8, 9, 35 and the last is 10. A field
    whose tag is an integer <= 0 (only in INVALID_TAG and BAD_CHECKSUM messages) has tag 0,
    and its offset and length are those of its tag text (``b"-1"`` for ``-1=HI``), not of its
    value.

    ``consumed`` is where the next scan of ``buffer`` should start (bytes before it are
    finished with), ``stop`` why scanning stopped, ``tail_skipped`` the garbage consumed
    after the last message. ``stream_offset`` is the position of ``buffer[0]`` in the stream
    (0 for :meth:`Framer.scan`), so ``stream_offset + starts[i]`` is a stable message position.
    """

    __slots__ = (
        "_fields",
        "_msgs",
        "buffer",
        "consumed",
        "count",
        "ends",
        "field_counts",
        "first_fields",
        "skipped",
        "starts",
        "statuses",
        "stop",
        "stream_offset",
        "tags",
        "tail_skipped",
        "value_lengths",
        "value_offsets",
    )

    def __init__(
        self,
        buffer: BytesLike,
        msgs: memoryview,
        fields: memoryview,
        *,
        consumed: int,
        tail_skipped: int,
        stop: ScanStop,
        stream_offset: int = 0,
    ) -> None:
        """``msgs`` and ``fields`` are the C records flattened to uint32 (format "I")."""
        # bytes slice straight to bytes; anything else goes through a memoryview (which also
        # stops a bytearray from being resized under the batch's offsets).
        self.buffer: bytes | memoryview = (
            buffer if isinstance(buffer, bytes) else memoryview(buffer)
        )
        self._msgs = msgs
        self._fields = fields
        self.count = len(msgs) // MSG_WORDS
        # Columns are strided views of the flat records: no copy, and indexing and iteration
        # cost the same as on a contiguous array.
        self.starts = msgs[0::MSG_WORDS]
        self.ends = msgs[1::MSG_WORDS]
        self.skipped = msgs[2::MSG_WORDS]
        self.statuses = msgs[3::MSG_WORDS]
        self.first_fields = msgs[4::MSG_WORDS]
        self.field_counts = msgs[5::MSG_WORDS]
        self.tags = fields[0::FIELD_WORDS]
        self.value_offsets = fields[1::FIELD_WORDS]
        self.value_lengths = fields[2::FIELD_WORDS]
        self.consumed = consumed
        self.tail_skipped = tail_skipped
        self.stop = stop
        self.stream_offset = stream_offset

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> Frame:
        if not -self.count <= i < self.count:
            raise IndexError(f"message {i} out of range for a batch of {self.count}")
        return Frame(self, i % self.count if self.count else i)

    def __iter__(self) -> Iterator[Frame]:
        return (Frame(self, i) for i in range(self.count))

    def __repr__(self) -> str:
        return (
            f"FrameBatch(count={self.count}, consumed={self.consumed}, stop={self.stop.name}, "
            f"stream_offset={self.stream_offset})"
        )

    def _bytes(self, start: int, end: int) -> bytes:
        buf = self.buffer
        return buf[start:end] if isinstance(buf, bytes) else bytes(buf[start:end])

    def status(self, i: int) -> FrameStatus:
        """The verdict on message i."""
        return FrameStatus(self.statuses[i])

    def ok(self, i: int) -> bool:
        """True if message i is sound and may be processed (status OK; not INVALID_TAG)."""
        return self.statuses[i] == FrameStatus.OK

    def message_bytes(self, i: int) -> bytes:
        """Message i exactly as it was on the wire (8=... through 10=ddd<SOH> when OK)."""
        return self._bytes(self.starts[i], self.ends[i])

    def fields(self, i: int) -> list[tuple[int, bytes]]:
        """Every field of message i as (tag, value), in wire order, 8, 9 and 10 included.

        For a message that is not OK this is what could be parsed before the problem. A tag
        that is an integer <= 0 appears as ``(0, tag text)``, e.g. ``(0, b"-1")``.
        """
        m = MSG_WORDS * i
        f0 = FIELD_WORDS * self._msgs[m + 4]
        flat = self._fields[f0 : f0 + FIELD_WORDS * self._msgs[m + 5]].tolist()
        it = iter(flat)
        buf = self.buffer
        if isinstance(buf, bytes):
            return [(tag, buf[off : off + n]) for tag, off, n in zip(it, it, it, strict=True)]
        return [(tag, bytes(buf[off : off + n])) for tag, off, n in zip(it, it, it, strict=True)]

    def value(self, i: int, tag: int, default: bytes | None = None) -> bytes | None:
        """The value of the first field ``tag`` of message i, or ``default`` if it has none."""
        m = MSG_WORDS * i
        f0 = FIELD_WORDS * self._msgs[m + 4]
        f1 = f0 + FIELD_WORDS * self._msgs[m + 5]
        try:
            k = f0 + FIELD_WORDS * self._fields[f0:f1:FIELD_WORDS].tolist().index(tag)
        except ValueError:
            return default
        off = self._fields[k + 1]
        return self._bytes(off, off + self._fields[k + 2])

    def values_of(self, tag: int) -> list[bytes | None]:
        """The value of the first field ``tag`` of every message (None where there is none).

        One C pass over the whole batch: the fast way to get, say, MsgSeqNum (34) or MsgType
        (35) of every message.
        """
        n = self.count
        if n == 0 or not 0 <= tag <= MAX_BUFFER_SIZE:
            return [None] * n
        out = ffi.new("uint32_t[]", 2 * n)
        with ffi.from_buffer(self._msgs) as msgs, ffi.from_buffer(self._fields) as fields:
            lib.fix_tag_values(ffi.cast("struct fix_msg *", msgs), n,
                               ffi.cast("struct fix_field *", fields),
                               len(self._fields) // FIELD_WORDS, tag, out)
        spans = iter(ffi.unpack(out, 2 * n))
        buf = self.buffer
        if isinstance(buf, bytes):
            return [None if size == _NO_VALUE else buf[off : off + size]
                    for off, size in zip(spans, spans, strict=True)]
        return [None if size == _NO_VALUE else bytes(buf[off : off + size])
                for off, size in zip(spans, spans, strict=True)]

    def records(self) -> tuple[bytes, bytes]:
        """The C records themselves, for C code that reads them as they are: ``struct
        fix_msg`` (MSG_WORDS uint32 each) and ``struct fix_field`` (FIELD_WORDS each). Bytes,
        not the memoryviews the columns are cut from: cffi buffers over those memoryviews,
        left in a reference cycle by an error's traceback, crashed the garbage collector."""
        msgs, fields = self._msgs.obj, self._fields.obj
        # records patched after a scan (a stream's carried bytes) sit in a bytearray
        return (msgs if isinstance(msgs, bytes) else bytes(self._msgs),
                fields if isinstance(fields, bytes) else bytes(self._fields))

    def msg_type(self, i: int) -> bytes | None:
        """MsgType (35) of message i; for OK messages it is always the third field."""
        m = MSG_WORDS * i
        k = FIELD_WORDS * (self._msgs[m + 4] + 2)
        if self._msgs[m + 5] > 2 and self._fields[k] == 35:
            off = self._fields[k + 1]
            return self._bytes(off, off + self._fields[k + 2])
        return self.value(i, 35)


class Frame:
    """One message of a :class:`FrameBatch` (a view: batch plus index)."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: FrameBatch, index: int) -> None:
        self.batch = batch
        self.index = index

    @property
    def start(self) -> int:
        return self.batch.starts[self.index]

    @property
    def end(self) -> int:
        return self.batch.ends[self.index]

    @property
    def stream_start(self) -> int:
        """Position of the message in the whole stream (or buffer, for scan)."""
        return self.batch.stream_offset + self.batch.starts[self.index]

    @property
    def skipped(self) -> int:
        return self.batch.skipped[self.index]

    @property
    def status(self) -> FrameStatus:
        return FrameStatus(self.batch.statuses[self.index])

    @property
    def ok(self) -> bool:
        return self.batch.statuses[self.index] == FrameStatus.OK

    @property
    def data(self) -> bytes:
        return self.batch.message_bytes(self.index)

    @property
    def msg_type(self) -> bytes | None:
        return self.batch.msg_type(self.index)

    def fields(self) -> list[tuple[int, bytes]]:
        return self.batch.fields(self.index)

    def value(self, tag: int, default: bytes | None = None) -> bytes | None:
        return self.batch.value(self.index, tag, default)

    def __repr__(self) -> str:
        return f"Frame({self.status.name}, start={self.stream_start}, {self.data!r})"


class Framer:
    """Frames FIX messages; owns the C output arrays, reused by every scan.

    ``max_message_size`` bounds one message (BodyLength claims beyond it give TOO_BIG), and
    so bounds the incomplete tail a stream keeps. ``message_capacity`` is the most messages
    one batch holds; ``field_capacity`` the initial field room (grown when a single message
    needs more). ``max_buffered`` bounds the stream bytes held between :meth:`feed` and
    :meth:`batches`: feed raises :class:`BufferError` rather than exceed it (default: twice
    the message limit plus 1 MiB, enough for any tail plus a large read).

    ``data_fields``: (length tag, data tag) pairs besides the standard ones, whose data
    value is read by its length and may hold SOH (a session dictionary's user-defined DATA
    fields: :meth:`fixspec.dictionary.SessionDictionaries.data_fields`).

    ``trust_body_length`` says where a message whose BodyLength does not point to its
    CheckSum (BAD_BODY_LENGTH) ends, in every scan (:meth:`scan`, :meth:`scan_all` and the
    stream). False (for logs): at the next ``8=FIX``, so one bad line never eats the next.
    True (for a session stream, QuickFIX's way): at the end of the first ``<SOH>10=...<SOH>``
    found from the byte before where BodyLength points, so a too-short BodyLength ends at the
    message's own CheckSum and a too-long one swallows the messages up to the next CheckSum;
    if none ends within ``max_message_size`` of the start, as with False. Either way what a
    stream reports does not depend on how it was cut into reads.

    Not thread-safe: use one Framer per thread (they are cheap).
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        message_capacity: int = 4096,
        field_capacity: int = 65536,
        max_buffered: int | None = None,
        trust_body_length: bool = False,
        data_fields: Iterable[tuple[int, int]] = (),
    ) -> None:
        if not 1 <= max_message_size <= MAX_BUFFER_SIZE:
            raise ValueError(f"max_message_size must be in 1..{MAX_BUFFER_SIZE}")
        if message_capacity < 1 or field_capacity < 1:
            raise ValueError("message_capacity and field_capacity must be at least 1")
        self.max_message_size = max_message_size
        self._flags: int = lib.FIX_SCAN_TRUST_BODY_LENGTH if trust_body_length else 0
        self.max_buffered = (
            2 * max_message_size + (1 << 20) if max_buffered is None else max_buffered
        )
        if self.max_buffered < max_message_size + 4:
            raise ValueError("max_buffered must hold at least one message: max_message_size + 4")
        s = ffi.new("struct fix_scan *")
        self._scan_struct = s
        pairs = extra_data_fields(data_fields)
        if len({length for length, _ in pairs}) != len(pairs):
            raise ValueError(f"a length tag paired with two data tags: {pairs}")
        if pairs:  # (kept alive with the framer: the scan points into it)
            self._extra_data = ffi.new("uint32_t[]", [t for pair in pairs for t in pair])
            s.extra_data = self._extra_data
            s.extra_data_count = len(pairs)
        self._msg_array = ffi.new("struct fix_msg[]", message_capacity)
        s.msgs = self._msg_array
        s.msg_cap = message_capacity
        s.max_message_size = max_message_size
        self._set_field_capacity(field_capacity)
        # Stream state: _head[_head_pos:] then _chunks are the unscanned bytes; _base is the
        # stream position of _head[0]; _carry counts garbage consumed since the last message.
        self._head = b""
        self._head_pos = 0
        self._chunks: list[bytes] = []
        self._chunk_bytes = 0
        self._base = 0
        self._carry = 0

    def _set_field_capacity(self, capacity: int) -> None:
        self._field_array = ffi.new("struct fix_field[]", capacity)
        self._scan_struct.fields = self._field_array
        self._scan_struct.field_cap = capacity

    @property
    def trust_body_length(self) -> bool:
        """Whether a wrong BodyLength ends at the next CheckSum (set at construction)."""
        return bool(self._flags & lib.FIX_SCAN_TRUST_BODY_LENGTH)

    @property
    def message_capacity(self) -> int:
        return int(self._scan_struct.msg_cap)

    @property
    def field_capacity(self) -> int:
        return int(self._scan_struct.field_cap)

    # -- whole buffers -------------------------------------------------------------------

    def scan(self, data: BytesLike, start: int = 0, *, final: bool = False) -> FrameBatch:
        """Frame the messages in ``data[start:]`` (up to ``message_capacity`` of them).

        Offsets in the batch are into ``data``. Continue from ``batch.consumed`` while
        ``batch.stop`` is MSGS_FULL (:meth:`scan_all` does that). Without ``final`` a message
        cut off by the end of ``data`` is left unreported (stop INCOMPLETE); with it, it is
        reported as TRUNCATED. Don't mutate ``data`` while using the batch: it is not copied.
        """
        return self._scan(data, start, final, 0, 0)

    def scan_all(self, data: BytesLike, *, final: bool = True) -> Iterator[FrameBatch]:
        """Batches covering every message in ``data`` (empty batches are not yielded)."""
        pos = 0
        while True:
            batch = self._scan(data, pos, final, 0, 0)
            pos = batch.consumed
            if batch.count:
                yield batch
            if batch.stop in (ScanStop.END, ScanStop.INCOMPLETE):
                return

    def _scan(
        self, data: BytesLike, start: int, final: bool, stream_offset: int, carry: int
    ) -> FrameBatch:
        size = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        if not 0 <= start <= size:
            raise ValueError(f"start {start} outside a buffer of {size} bytes")
        s = self._scan_struct
        s.flags = self._flags | (lib.FIX_SCAN_FINAL if final else 0)
        if isinstance(data, bytes):
            self._run(data, size, start)
        else:
            with ffi.from_buffer("uint8_t[]", data) as ptr:
                self._run(ptr, size, start)
        n = s.msg_count
        msgs = _copy_words(self._msg_array, n, MSG_WORDS)
        if carry and n:
            # Garbage consumed by earlier stream scans belongs to this batch's first message.
            patched = memoryview(bytearray(msgs.cast("B"))).cast("I")
            patched[2] += carry
            msgs = patched.toreadonly()
        return FrameBatch(
            data,
            msgs,
            _copy_words(self._field_array, s.field_count, FIELD_WORDS),
            consumed=int(s.consumed),
            tail_skipped=int(s.tail_skipped) + (carry if n == 0 else 0),
            stop=ScanStop(s.stop),
            stream_offset=stream_offset,
        )

    def _run(self, ptr: Any, size: int, start: int) -> None:
        s = self._scan_struct
        while True:
            check(lib.fix_scan(ptr, size, start, s), "fix_scan")
            if s.stop != ScanStop.FIELDS_FULL or s.msg_count > 0:
                return
            # One message has more fields than fit: grow (a field takes at least 3 bytes, so
            # max_message_size bounds how far this goes) and scan again.
            self._set_field_capacity(2 * int(s.field_cap))

    # -- streams -------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Stream bytes fed but not yet consumed by a scan (the incomplete tail included)."""
        return len(self._head) - self._head_pos + self._chunk_bytes

    @property
    def stream_position(self) -> int:
        """Stream offset of the first byte not yet consumed."""
        return self._base + self._head_pos

    def feed(self, data: BytesLike) -> None:
        """Append bytes read from the stream (copied: a reused read buffer is fine).

        Raises BufferError, keeping nothing of ``data``, if the bytes held would exceed
        ``max_buffered``: drain with :meth:`batches` between feeds.
        """
        chunk = bytes(data)
        if not chunk:
            return
        if self.buffered + len(chunk) > self.max_buffered:
            raise BufferError(
                f"framer holds {self.buffered} bytes; {len(chunk)} more would exceed "
                f"max_buffered={self.max_buffered} (drain with batches() between feeds)"
            )
        self._chunks.append(chunk)
        self._chunk_bytes += len(chunk)

    def _absorb_chunks(self) -> None:
        if not self._chunks:
            return
        rest = self._head[self._head_pos :]
        self._base += self._head_pos
        if not rest and len(self._chunks) == 1:
            self._head = self._chunks[0]  # the common case: no tail, one read, no copy
        else:
            self._head = b"".join([rest, *self._chunks])
        self._head_pos = 0
        self._chunks.clear()
        self._chunk_bytes = 0

    def batches(self, *, final: bool = False) -> Iterator[FrameBatch]:
        """Batches of every complete message fed so far; the incomplete tail stays buffered.

        Offsets are into each batch's ``buffer``; add ``batch.stream_offset`` for stream
        positions. ``skipped`` counts garbage across feeds. Bytes fed while iterating are
        picked up by the same iteration.
        """
        while True:
            self._absorb_chunks()
            if self._head_pos == len(self._head):
                return
            batch = self._scan(self._head, self._head_pos, final, self._base, self._carry)
            self._head_pos = batch.consumed
            self._carry = batch.tail_skipped
            if batch.count:
                yield batch
            if batch.stop in (ScanStop.END, ScanStop.INCOMPLETE) and not self._chunks:
                return

    def frames(self) -> Iterator[Frame]:
        """Every complete message fed so far, one :class:`Frame` at a time."""
        for batch in self.batches():
            yield from batch

    def finish(self) -> Iterator[FrameBatch]:
        """End of stream: frame everything still buffered, a cut-off message as TRUNCATED.

        Afterwards the framer is empty and may be fed a new stream (positions continue).
        """
        yield from self.batches(final=True)
        self._carry = 0
