"""Market data from FIX into C order books: read md logs fast, apply W/X messages per symbol.

Three pieces, all of them moving batches, never one Python object per field:

* :class:`MdDecoder` turns bytes holding whole log lines (or one raw message) into
  :class:`MdBatch` es: the C framer (engine.framing) finds and checks the messages, then C
  (csrc/mdfeed.h) decodes every MarketDataSnapshotFullRefresh (W) and
  MarketDataIncrementalRefresh (X) into book ops, one per NoMDEntries entry, and checks the
  lines: one message a line (QuickFIX's message-log layout, any text before ``8=FIX``),
  other lines blank. Messages of other types (logons, heartbeats) are kept as "other" and
  change nothing.
* :class:`MdLogReader` streams a log file through a decoder in chunks of whole lines.
* :class:`MarketDataFeed` applies batches (or single messages) to one C order book per
  symbol in feed mode, and says what each application did (:class:`MdUpdate`: the trades,
  the symbols that changed, and optionally the book after every message, the best bid and
  offer whenever they change, and the fills of the caller's own resting orders).

How entries become book changes is csrc/mdfeed.h's contract; in short, an entry with an
MDEntryID (278) is an order (mapped to an int id: numeric ids as they are, others through a
table), one without is the level's quantity that no order accounts for, and Change gives the
new size. An order id the book never held gets the book's level fallback on Delete (the
level's feed liquidity loses the size, as far as it has it; the caller's own orders never),
which is what the LOBSTER logs of gateway/md_fix.py need.

Fills of the caller's orders (``clients``: ids from 2**62 up, resting in the same books,
such as a backtest's child orders). A trade entry (269=2) fills, in C at its place in the
message, the client orders it would have reached first: if its OrderID (37) rests in the
book, those on that order's side priced better than it, or at its price and ahead of it in
the queue; if the OrderID is absent (a hidden execution), client buys at or above the print
and sells at or below it; if it names an order the book never held (one resting before the
data starts, in the level's quantity at the front of the queue), those priced through the
print, and those at its price only with nothing ahead of them. The print's size goes to them
best price first, then by queue position, each fill at the client order's own price; a
client order is reduced in place (keeping its queue position) and leaves the book at zero.
Limits of this model: the replayed orders are left as recorded, so a print fills the client
*and* still executes the order of record (an optimistic bias: the client's fill takes no
volume from the market, and nothing reacts to the client's presence); hidden executions are
assumed to come after displayed liquidity at their price; market impact beyond the recorded
book is not modelled. Clients only trade passively here; aggressive orders take liquidity
through the book's own matching.

Every problem raises :class:`MdLogError` naming the source, the line and what is wrong: a
line that is not one sound FIX message, a missing or malformed field, SendingTime going
backwards, an incremental refresh for a symbol no snapshot introduced, a gap in MsgSeqNum
(with ``check_sequence``), and (with ``strict``, the default) an entry the book rejects.
The decoder's ``on_error`` turns raising into reporting and going on (a backtest's skip).
"""

from __future__ import annotations

import bisect
import functools
import os
import struct
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from engine._core import ffi, lib

from engine.book import OrderBook
from engine.errors import error_for
from engine.framing import MSG_WORDS, FrameBatch, Framer, FrameStatus
from engine.lobster import format_rows
from fixspec.dictionary import BUILTIN_FILES, builtin_session, load_builtin
from gateway.codec import encode
from gateway.fixmessage import Message
from gateway.md_fix import format_timestamp

__all__ = [
    "EMPTY_ASK_PRICE",
    "EMPTY_BID_PRICE",
    "FeedFill",
    "MarketDataFeed",
    "MdBatch",
    "MdDecoder",
    "MdLogError",
    "MdLogReader",
    "MdUpdate",
    "Top",
    "Watch",
]

#: LOBSTER's placeholders for an empty level in book rows.
EMPTY_ASK_PRICE = 9_999_999_999
EMPTY_BID_PRICE = -9_999_999_999
#: A watch on a touch, in ticks: (lowest bid, highest bid, lowest ask, highest ask).
Watch = tuple[int, int, int, int]
#: A bound not watched (the lowest and highest an int64 holds).
WATCH_LOW, WATCH_HIGH = -(1 << 63), (1 << 63) - 1
#: Bytes of a log read at a time (cut at a line end).
CHUNK_BYTES = 1 << 22

# md_msg: int64 time; uint32 start, first_entry, entry_count, sym; uint8 kind; 7 pad.
_MSG = struct.Struct("<qIIIIB7x")
# md_entry: lob_op (int64 id, price, qty; uint8 type, side, tif; 5 pad), int64 time,
# uint32 msg, sym, text_offset, text_length; uint8 kind, action, flags, entry_type; 4 pad.
_ENTRY = struct.Struct("<qqqBBB5xqIIIIBBBB4x")
# md_fill: int64 order_id, price, qty, leaves, time_ns, trade_order_id, trade_price;
# uint32 entry; uint8 side, hidden; 2 pad.
_FILL = struct.Struct("<qqqqqqqIBB2x")
assert ffi.sizeof("md_msg") == _MSG.size and ffi.sizeof("md_entry") == _ENTRY.size
_ENTRY_DTYPE = np.dtype([
    ("id", "<i8"), ("price", "<i8"), ("qty", "<i8"), ("type", "u1"), ("side", "u1"),
    ("tif", "u1"), ("pad", "V5"), ("time", "<i8"), ("msg", "<u4"), ("sym", "<u4"),
    ("text_offset", "<u4"), ("text_length", "<u4"), ("kind", "u1"), ("action", "u1"),
    ("flags", "u1"), ("entry_type", "u1"), ("pad2", "V4")])
assert _ENTRY_DTYPE.itemsize == _ENTRY.size
assert ffi.sizeof("md_fill") == _FILL.size
_TOP = lib.MD_TOP_FIELDS  # int64 per top-of-book row
_E = _ENTRY.size
_ENTRY_KIND_B, _ENTRY_FLAGS_B = 56, 58  # byte offsets
_MSG_KIND_B = 24
_MSG_FIRST_ENTRY = 3  # md_msg.first_entry, in uint32s
assert ffi.offsetof("md_msg", "first_entry") == 4 * _MSG_FIRST_ENTRY
_TRADE = lib.MD_ENTRY_TRADE
_SNAPSHOT, _INCREMENTAL = lib.MD_MSG_SNAPSHOT, lib.MD_MSG_INCREMENTAL
_TEXT_ID = lib.MD_F_TEXT_ID
_INT64_MIN = -(1 << 63)

_TAG_NAMES = {
    37: "OrderID", 52: "SendingTime", 55: "Symbol", 268: "NoMDEntries", 269: "MDEntryType",
    270: "MDEntryPx", 271: "MDEntrySize", 278: "MDEntryID", 279: "MDUpdateAction",
}


class MdLogError(ValueError):
    """Bad market data; ``source``, ``line`` (1-based) and ``reason`` say what and where.
    ``kept``: the message at that line is sound and decoded all the same (the problem is
    before it: a gap in MsgSeqNum, a new count, no MsgSeqNum); else ``on_error`` going on
    leaves out what is at fault."""

    def __init__(self, source: str, line: int, reason: str, *, kept: bool = False) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason
        self.kept = kept


class FeedFill(NamedTuple):
    """A client order filled by a trade entry of the feed (see the module docstring).

    ``order_id`` is the client order's book id, ``price`` its own price in ticks (the fill
    price), ``leaves`` what it has left after the fill (0: it left the book), ``time_ns`` the
    message's SendingTime and ``trade_order_id`` the trade entry's OrderID (the replayed order
    of record), 0 if it had none or a non-numeric one."""

    symbol: str
    order_id: int
    price: int
    qty: int
    leaves: int
    time_ns: int
    trade_order_id: int


class _TradeLists(NamedTuple):
    """A batch's trade entries, one column per field in entry order, and where each
    message's trades start in them. Columns are int64 arrays: a slice is a copy of memory,
    and so is extending another array with it (a replay's tape), where a list's ints would
    be converted one by one."""

    before: array[int]  # per message (and one past the last), the trades of those before it
    price: array[int]
    qty: array[int]
    time: array[int]
    sym: list[int]
    order_id: array[int]  # OrderID (37): the replayed order of record, 0 if none


class Top(NamedTuple):
    """The best bid and offer after a message (prices in ticks; 0 and 0 for an empty side)."""

    time_ns: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


@functools.cache
def entry_types(begin_string: str) -> frozenset[str]:
    """The MDEntryType (269) values a market-data log of this BeginString may hold: those of
    the built-in application dictionary of a session with this BeginString (FIXT.1.1: FIX
    5.0SP2's); for a BeginString with none, those of every built-in one."""
    if begin_string in BUILTIN_FILES:
        dictionaries = [builtin_session(begin_string).app]
    else:
        dictionaries = [load_builtin(v) for v in BUILTIN_FILES]
    out: set[str] = set()
    for dictionary in dictionaries:
        field = dictionary.fields_by_tag.get(269)
        out.update(field.values if field is not None else ())
    return frozenset(out)


@functools.cache
def _entry_type_mask(begin_string: str) -> tuple[int, int]:
    """:func:`entry_types` as md_decoder.entry_types' two words."""
    mask = 0
    for value in entry_types(begin_string):
        if len(value) == 1 and ord(value) < 128:
            mask |= 1 << ord(value)
    return mask & ((1 << 64) - 1), mask >> 64


def _tag(tag: int) -> str:
    name = _TAG_NAMES.get(tag)
    return f"{name} ({tag})" if name else f"tag {tag}"


# -- decoded batches ----------------------------------------------------------------------------


class MdBatch:
    """Messages decoded in one C call: ``count`` messages, their entries, and where they are.

    ``symbols`` is the decoder's symbol table when the batch was made (entries name symbols
    by index into it). Message i's time is :meth:`time_ns`, its kind :meth:`kind` (W, X or
    other), its place in the source :meth:`where`. The packed records are csrc/mdfeed.h's
    ``md_msg`` and ``md_entry``; :class:`MarketDataFeed` hands them to C as they are. A batch
    holds a reference to the chunk of the log it came from (a few MB): drop batches once
    applied.
    """

    __slots__ = ("_buf", "_firsts", "_line_base", "_trades", "count", "entries", "entry_count",
                 "has_text_ids", "msgs", "source", "symbols")

    def __init__(self, source: str, symbols: tuple[str, ...], msgs: bytes, entries: bytearray,
                 buf: bytes, line_base: int) -> None:
        self.source = source
        self.symbols = symbols
        self.msgs = msgs
        self.entries = entries
        self.count = len(msgs) // _MSG.size
        self.entry_count = len(entries) // _E
        self._buf = buf
        self._line_base = line_base
        # each message's first entry (md_msg.first_entry, a uint32 column): entry_range is
        # asked for every chunk a replay applies
        self._firsts = memoryview(msgs).cast("I")[_MSG_FIRST_ENTRY :: _MSG.size // 4]
        self._trades: _TradeLists | None = None  # see _trade_lists
        #: whether some entry has a non-numeric MDEntryID (see :meth:`text_ids`): looked up
        #: once, as every application of the batch would ask
        self.has_text_ids = _TEXT_ID in entries[_ENTRY_FLAGS_B::_E]

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"MdBatch({self.count} messages, {self.entry_count} entries from {self.source})"

    def _msg(self, i: int) -> tuple[int, int, int, int, int, int]:
        if not 0 <= i < self.count:
            raise IndexError(f"message {i} out of range for a batch of {self.count}")
        fields: tuple[int, int, int, int, int, int] = _MSG.unpack_from(self.msgs, i * _MSG.size)
        return fields

    def time_ns(self, i: int) -> int:
        """SendingTime of message i (0 for messages other than W and X)."""
        return self._msg(i)[0]

    def kind(self, i: int) -> str:
        """``"W"``, ``"X"`` or ``"other"``."""
        return {_SNAPSHOT: "W", _INCREMENTAL: "X"}.get(self._msg(i)[5], "other")

    def line(self, i: int) -> int:
        """1-based line of message i in its source."""
        return self._line_at(self._msg(i)[1])

    def where(self, i: int) -> str:
        """``source:line`` of message i."""
        return f"{self.source}:{self.line(i)}"

    def _line_at(self, offset: int) -> int:
        return self._line_base + self._buf.count(b"\n", 0, offset)

    def counts(self) -> tuple[int, int, int]:
        """(snapshots, incremental refreshes, trade entries) in the batch."""
        kinds = self.msgs[_MSG_KIND_B :: _MSG.size]
        trades = self.entries[_ENTRY_KIND_B::_E].count(_TRADE)
        return kinds.count(_SNAPSHOT), kinds.count(_INCREMENTAL), trades

    def entry_range(self, start: int, stop: int) -> tuple[int, int]:
        """Entries of messages start..stop-1 are entries[first:last]."""
        if start < 0 or stop < 0:
            raise IndexError(f"messages {start}..{stop} out of range for {self!r}")
        firsts = self._firsts
        first = firsts[start] if start < self.count else self.entry_count
        last = firsts[stop] if stop < self.count else self.entry_count
        return first, last

    def trade_count(self, start: int = 0, stop: int | None = None) -> int:
        """Trade entries (269=2, every symbol) of messages start..stop-1."""
        lo, hi = self._trade_span(start, self.count if stop is None else stop)
        return hi - lo

    def _trade_span(self, start: int, stop: int) -> tuple[int, int]:
        """Where the trades of messages start..stop-1 are in :meth:`_trade_lists`' lists."""
        if start < 0 or stop < 0:
            raise IndexError(f"messages {start}..{stop} out of range for {self!r}")
        before = self._trade_lists().before
        return before[min(start, self.count)], before[min(stop, self.count)]

    def _trade_lists(self) -> _TradeLists:
        """The batch's trade entries (269=2, every symbol) in order, as columns. Gathered once,
        on first use, and kept: a replay asks for the trades of every chunk it applies, and
        runs replay the same batches again. Trade fields are never rewritten after decoding
        (only MDEntryID is, and only on book entries), so the copy stays true."""
        if self._trades is None:
            e = np.frombuffer(self.entries, dtype=_ENTRY_DTYPE, count=self.entry_count)
            at = np.flatnonzero(e["kind"] == _TRADE)
            t = e[at]
            firsts = np.append(np.asarray(self._firsts), self.entry_count)
            before = array("q", np.searchsorted(at, firsts).astype(np.int64).tobytes())
            def column(name: str) -> array[int]:
                return array("q", np.ascontiguousarray(t[name], np.int64).tobytes())

            self._trades = _TradeLists(before, column("price"), column("qty"),
                                       column("time"), t["sym"].tolist(), column("id"))
        return self._trades

    def message_of_entry(self, k: int) -> int:
        """Index of the message entry k belongs to."""
        return int(struct.unpack_from("<I", self.entries, k * _E + 40)[0])

    def text_ids(self, first: int = 0, last: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(entry index, MDEntryID bytes) of each entry in first..last-1 whose MDEntryID is
        not numeric (the feed maps those to ids)."""
        last = self.entry_count if last is None else last
        flags = self.entries[_ENTRY_FLAGS_B + first * _E : last * _E : _E]
        if _TEXT_ID not in flags:
            return
        for k, f in enumerate(flags, first):
            if f & _TEXT_ID:
                off, n = struct.unpack_from("<II", self.entries, k * _E + 48)
                yield k, self._buf[off : off + n]


# -- decoding -----------------------------------------------------------------------------------


#: the text before a message is not a log line (MD_ERR_LINE)
_NOT_A_LOG_LINE = ("not a log line with one FIX message (other lines must be blank); skipping "
                   "passes over the text up to the next message and keeps that message")


def _explain(status: int, d: Any, buf: bytes, frame: FrameBatch | None,
             symbols: list[str], begin_string: str = "") -> str:
    value = buf[d.err_value_offset : d.err_value_offset + d.err_value_length]
    shown = value.decode("latin-1")
    tag = _tag(d.err_tag)
    if status == lib.MD_ERR_FRAME:
        assert frame is not None
        verdict = frame.status(d.err_msg)
        why = {
            FrameStatus.BAD_BODY_LENGTH: "BodyLength (9) does not end where CheckSum (10) starts",
            FrameStatus.BAD_CHECKSUM: "CheckSum (10) is not the byte sum",
            FrameStatus.GARBLED: "malformed fields or header out of order",
            FrameStatus.TOO_BIG: "BodyLength (9) beyond the message size limit",
            FrameStatus.TRUNCATED: "the message is cut off",
            FrameStatus.INVALID_TAG: "a tag is 0 or negative",
        }.get(verdict, verdict.name)
        return f"unreadable FIX message ({verdict.name}): {why}"
    if status == lib.MD_ERR_LINE:
        # what is at fault is the text before the message, not the message: skipping passes
        # over the text and keeps the message (two messages on one line lose nothing)
        return _NOT_A_LOG_LINE
    if status == lib.MD_ERR_MISSING:
        return f"{tag} missing"
    if status == lib.MD_ERR_VALUE:
        hint = {270: " (more decimals than the tick, or out of range)",
                269: f" (not an MDEntryType of {begin_string or 'any FIX version'})"}.get(
                    d.err_tag, "")
        return f"{tag} has a bad value {shown!r}{hint}"
    if status == lib.MD_ERR_DUPLICATE:
        return f"{tag} appears twice in one entry"
    if status == lib.MD_ERR_REPEATED:
        return f"{tag} appears twice in the message"
    if status == lib.MD_ERR_COUNT:
        return "NoMDEntries (268) differs from the number of entries"
    if status == lib.MD_ERR_GROUP:
        return f"{tag} before the entry's first field"
    if status == lib.MD_ERR_TIME_BACKWARDS:
        return (f"SendingTime (52) {shown} is earlier than the message before "
                f"({format_timestamp(d.last_time_ns)})")
    if status == lib.MD_ERR_UNKNOWN_SYMBOL:
        return (f"unknown symbol {shown!r}: no snapshot (35=W) for it before this message "
                f"(known: {', '.join(symbols) or 'none'})")
    return f"decoding failed with status {status}"


class MdDecoder:
    """Decodes W/X messages from bytes of whole log lines; keeps state between calls.

    State: the symbol table (a snapshot adds its symbol; an incremental refresh may only name
    known ones) and the latest SendingTime (times may not go backwards across calls).
    ``price_decimals`` is the tick: prices are integers of 10**-price_decimals.

    A problem raises :class:`MdLogError`, unless ``on_error`` is given: then it is called with
    the error and decoding goes on past it (a bad message is left out and counted in
    :attr:`skipped`; text between messages that is not a log line is passed over).
    ``check_sequence`` also makes a gap or a step back in MsgSeqNum (34) such a problem,
    and ``only`` a snapshot of a symbol not in it (its later messages are then unknown too).
    """

    def __init__(self, *, price_decimals: int = 4, symbols: Iterable[str] = (),
                 batch_messages: int = 4096,
                 on_error: Callable[[MdLogError], None] | None = None,
                 check_sequence: bool = False, only: Iterable[str] | None = None) -> None:
        if not 0 <= price_decimals <= 9:
            raise ValueError("price_decimals must be in 0..9")
        self.price_decimals = price_decimals
        self.on_error = on_error
        self.skipped = 0
        self.check_sequence = check_sequence
        self.only = frozenset(only) if only is not None else None
        self._last_seq: int | None = None
        self.symbols: list[str] = []
        self._framer = Framer(message_capacity=batch_messages)
        self._d = ffi.new("md_decoder *")
        self._d.price_decimals = price_decimals
        self._d.last_time_ns = _INT64_MIN
        self._frames = ffi.new("md_frames *")
        self._msg_cap = batch_messages
        self._msgs = ffi.new("md_msg[]", batch_messages)
        self._entry_cap = 4 * batch_messages
        self._entries = ffi.new("md_entry[]", self._entry_cap)
        self._bad = ffi.new("uint32_t *")
        self._begin_string = ""  # the one whose MDEntryType values are checked (see decode)
        self._symtab: tuple[Any, Any] = (b"", b"")
        for s in symbols:
            self.add_symbol(s)
        if not self.symbols:
            self._set_table()

    @property
    def last_time_ns(self) -> int | None:
        """The latest SendingTime decoded, or None."""
        t = int(self._d.last_time_ns)
        return None if t == _INT64_MIN else t

    def add_symbol(self, symbol: str) -> int:
        """The symbol's index, adding it if new."""
        if symbol in self.symbols:
            return self.symbols.index(symbol)
        if not symbol or "\x01" in symbol:
            raise ValueError(f"bad symbol {symbol!r}")
        self.symbols.append(symbol)
        self._set_table()
        return len(self.symbols) - 1

    def _set_table(self) -> None:
        names = [s.encode("latin-1") for s in self.symbols]
        offsets = array("I", [0])
        for n in names:
            offsets.append(offsets[-1] + len(n))
        table = ffi.from_buffer(b"".join(names) or b"\0")
        off = ffi.from_buffer("uint32_t[]", offsets)
        self._symtab = (table, off)  # kept alive for C
        self._d.symbols = ffi.cast("char *", table)
        self._d.sym_offset = off
        self._d.sym_count = len(names)

    def decode(self, buf: bytes, source: str, line_base: int = 1) -> Iterator[MdBatch]:
        """Batches of the messages in ``buf``, which holds whole lines (the first starts at
        ``buf[0]``, line ``line_base`` of ``source``). Raises :class:`MdLogError`."""
        d = self._d
        d.gap_from = 0
        d.at_line_start = 1
        for fb in self._framer.scan_all(buf, final=True):
            yield from self._decode_frames(fb, buf, source, line_base)
        if lib.md_check_tail(buf, len(buf), d.gap_from, d.at_line_start, self._bad) != 0:
            line = line_base + buf.count(b"\n", 0, self._bad[0])
            self._fail(MdLogError(source, line, "not a log line with one FIX message "
                                  "(other lines must be blank)"))

    def _entry_types_of(self, fb: FrameBatch, buf: bytes) -> None:
        """Check MDEntryType values against the version of the batch's first sound
        message's BeginString (a log is written in one version; text that merely holds
        ``8=FIX`` is no message)."""
        for i in range(fb.count):
            if fb.status(i) == FrameStatus.OK:
                start = fb.starts[i]
                begin = buf[start + 2 : buf.index(b"\x01", start)].decode("latin-1")
                if begin != self._begin_string:
                    self._begin_string = begin
                    self._d.entry_types[0], self._d.entry_types[1] = _entry_type_mask(begin)
                return

    def _fail(self, error: MdLogError) -> None:
        if self.on_error is None:
            raise error
        self.on_error(error)

    def _check_sequence(self, msgs: bytes, buf: bytes,
                        source: str, line_base: int) -> list[tuple[int, MdLogError, bool]]:
        """MsgSeqNum (34) must be a whole number that goes up by one from message to message
        (across calls): a gap means lost market data, a step back a repeat. Returns each
        break in frame order: the frame index, the error at its line, and whether the
        message is to be left out. A message after a gap is sound and kept (the count goes
        on from its number); one below the number expected repeats one already applied and
        is left out, as is every one after it until the count is back where it was (each
        reported), except a step back to 1, a new count (the sender reset its numbers),
        which is kept. Messages the framer refused are left to the decoder. ``msgs`` are
        the framer's message records, which ``self._frames`` holds with their fields."""
        # the records as a (count, words) table: columns are views, not copies
        m = np.frombuffer(msgs, np.uint32).reshape(-1, MSG_WORDS)
        starts, status = m[:, 0], m[:, 3]
        every = np.empty(len(m), np.int64)  # each message's first MsgSeqNum, -1: none
        lib.md_seqnums(self._frames, ffi.from_buffer("int64_t[]", every))

        def line(frame: int) -> int:
            return line_base + buf.count(b"\n", 0, int(starts[frame]))

        numbered = every >= 0
        unnumbered = np.flatnonzero((status == 0) & ~numbered)
        breaks = [(int(k), MdLogError(source, line(int(k)),
                                      "MsgSeqNum (34) is missing or not a whole number",
                                      kept=True), False)
                  for k in unnumbered]
        msg = np.flatnonzero(numbered)
        seqs = every[msg]
        if len(seqs):
            before = np.concatenate(([self._last_seq if self._last_seq is not None else
                                      seqs[0] - 1], seqs[:-1]))
            # an unnumbered message (reported above) is taken to have used the next number;
            # a message the framer refused (the decoder reports it) may have used one, or
            # been no message at all: a gap of up to their count after them is theirs
            skipped = np.diff(np.searchsorted(unnumbered, msg), prepend=0)
            lost = np.diff(np.searchsorted(np.flatnonzero(status != 0), msg), prepend=0)
            if self._last_seq is None:
                skipped[0] = lost[0] = 0
            # where the repeats that stepped back end, and the number expected after them
            run_end, resume = 0, 0
            low = before + 1 + skipped
            for k in np.flatnonzero((seqs < low) | (seqs > low + lost)):
                if k < run_end:
                    continue  # one of the repeats, reported already
                # the number after the last one applied, past the unnumbered messages between
                applied = resume - 1 if k == run_end and resume else int(before[k])
                expected = applied + int(skipped[k]) + 1
                got = int(seqs[k])
                if expected <= got <= expected + int(lost[k]):
                    continue  # in order again after a run of repeats, or but for unreadables
                if got > expected or got == 1:
                    gap, refused = got - expected, int(lost[k])
                    what = ("a new count from 1 (the sender reset its numbers)"
                            if got <= expected
                            else f"{gap} message(s) missing" + (
                                f", or {gap - refused} besides the {refused} unreadable before "
                                "it" if refused else ""))
                    breaks.append((int(msg[k]), MdLogError(
                        source, line(int(msg[k])),
                        f"MsgSeqNum (34) is {got} where {expected} was expected: {what}",
                        kept=True), False))
                    continue
                j = int(k)
                while j < len(seqs) and 1 < seqs[j] < expected:
                    breaks.append((int(msg[j]), MdLogError(
                        source, line(int(msg[j])),
                        f"MsgSeqNum (34) is {int(seqs[j])} where {expected} was expected: a "
                        "message already applied again, or one out of order, left out"), True))
                    j += 1
                run_end, resume = j, expected
            last = len(seqs) - 1
            self._last_seq = resume - 1 if run_end > last else int(seqs[last])
        breaks.sort(key=lambda b: b[0])
        return breaks

    def _check_lines_before(self, fb: FrameBatch, buf: bytes, k: int, source: str,
                            line_base: int) -> None:
        """Report text that is not a log line between the last message decoded and message
        ``k``'s line (what decoding ``k`` would report first), so a sequence break at ``k``,
        reported before ``k`` is decoded, comes after it in line order; the decoder then
        starts at ``k``'s line."""
        d = self._d
        line_start = buf.rfind(b"\n", 0, fb.starts[k]) + 1
        if line_start <= d.gap_from:  # on the line of the message before: the decoder's
            return
        if lib.md_check_tail(buf, line_start, d.gap_from, d.at_line_start, self._bad) != 0:
            self._fail(MdLogError(source, line_base + buf.count(b"\n", 0, self._bad[0]),
                                  _NOT_A_LOG_LINE))
            d.gap_from = line_start
            d.at_line_start = 1

    def _decode_frames(self, fb: FrameBatch, buf: bytes, source: str,
                       line_base: int) -> Iterator[MdBatch]:
        self._entry_types_of(fb, buf)
        # C reads the framer's records where they are: no column is copied
        msgs, fields = fb.records()
        f = self._frames
        keep = (ffi.from_buffer("uint8_t[]", buf), ffi.from_buffer("struct fix_msg[]", msgs),
                ffi.from_buffer("struct fix_field[]", fields))
        f.buf, f.msgs, f.fields = keep
        f.len = len(buf)
        f.count = fb.count
        f.field_total = len(keep[2])
        breaks = (self._check_sequence(msgs, buf, source, line_base)
                  if self.check_sequence else [])
        d = self._d
        i = 0
        while i < fb.count or breaks:
            if breaks and breaks[0][0] <= i:  # what came before it is through the decoder
                k, error, leave_out = breaks.pop(0)
                self._check_lines_before(fb, buf, k, source, line_base)
                self._fail(error)  # stopping: it raises before the message is applied
                if leave_out and k == i:  # skipping a repeat (else the message is sound)
                    d.gap_from = fb.ends[k]
                    d.at_line_start = 0
                    self.skipped += 1
                    i += 1
                continue
            f.count = breaks[0][0] if breaks else fb.count
            n = lib.md_decode(f, i, d, self._msgs, self._msg_cap, self._entries, self._entry_cap)
            status = d.status
            if n > 0:
                yield MdBatch(source, tuple(self.symbols),
                              ffi.buffer(self._msgs, n * _MSG.size)[:],
                              bytearray(ffi.buffer(self._entries, d.entry_count * _E)),
                              buf, line_base)
            i += n
            if status == lib.MD_OK:
                if breaks:
                    continue
                break
            if status == lib.MD_NEED_ROOM:
                if n == 0:  # one message has more entries than the array holds: grow it
                    self._entry_cap *= 4
                    self._entries = ffi.new("md_entry[]", self._entry_cap)
                continue
            line = line_base + buf.count(b"\n", 0, d.err_offset)
            if status == lib.MD_NEW_SYMBOL:
                name = buf[d.err_value_offset : d.err_value_offset + d.err_value_length]
                symbol = name.decode("latin-1")
                if self.only is None or symbol in self.only:
                    self.add_symbol(symbol)
                    continue
                self._fail(MdLogError(source, line, f"unknown symbol {symbol!r}: not one of "
                                      f"{', '.join(sorted(self.only))}"))
            else:
                self._fail(MdLogError(source, line,
                                      _explain(status, d, buf, fb, self.symbols,
                                               self._begin_string)))
            # Skipping: junk before message i is passed over (the message is decoded next);
            # a message at fault is left out.
            i = d.err_msg
            if status == lib.MD_ERR_LINE:
                d.gap_from = fb.starts[i]
                d.at_line_start = 1
            elif status == lib.MD_ERR_FRAME:  # where a garbled message ends is unsure: its line
                d.gap_from = buf.find(b"\n", fb.starts[i]) + 1 or len(buf)
                d.at_line_start = 1
                self.skipped += 1
                i += 1
            else:
                d.gap_from = fb.ends[i]
                d.at_line_start = 0
                self.skipped += 1
                i += 1
        del keep  # the C struct points into them until here


class MdLogReader:
    """Streams a market-data log (QuickFIX message-log layout) as :class:`MdBatch` es.

    Reads ``chunk_bytes`` at a time, cut at a line end, so memory stays bounded whatever the
    log's size. ``decoder`` carries symbols and time across logs (a new one by default).
    Iterating twice reads the file twice with the same decoder (whose time then must not go
    backwards: give each pass its own decoder).
    """

    def __init__(self, path: str | Path, *, decoder: MdDecoder | None = None,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = Path(path)
        self.decoder = decoder or MdDecoder()
        self.chunk_bytes = chunk_bytes

    def __iter__(self) -> Iterator[MdBatch]:
        source = str(self.path)
        line = 1
        # A chunk's lines are counted once it is decoded, so it is not kept while the next is
        # read (one chunk in memory, not two); except the one that reached the file's end,
        # which is kept instead and counted only if the file has grown (a day read in one
        # piece is never counted).
        at_end = b""
        with self.path.open("rb") as f:
            carry = b""
            while True:
                data = f.read(self.chunk_bytes)
                if data and at_end:
                    line += at_end.count(b"\n")
                at_end = b""
                buf = carry + data if carry else data
                if not data:
                    if buf:
                        yield from self.decoder.decode(buf, source, line)
                    return
                cut = buf.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a chunk: read on
                    carry = buf
                    continue
                # (no copy of a chunk that ends at a line end, as a file's last one does)
                chunk, carry = (buf, b"") if cut == len(buf) else (buf[:cut], buf[cut:])
                del data, buf
                yield from self.decoder.decode(chunk, source, line)
                if carry or f.tell() < os.fstat(f.fileno()).st_size:
                    line += chunk.count(b"\n")
                else:
                    at_end = chunk
                del chunk


# -- applying -----------------------------------------------------------------------------------


class FeedBook(OrderBook):
    """An :class:`~engine.book.OrderBook` that a :class:`MarketDataFeed` drives from C.

    ``gone``: the replayed orders that the caller's own orders took whole (:meth:`took`,
    the only way to change it: C is handed the array as it stands), ascending. What the log
    later says of one (a change, a delete, a trade) is of liquidity already gone, so the
    feed skips it (csrc/mdfeed.h)."""

    def __init__(self, max_orders: int = 1_000_000) -> None:
        super().__init__(max_orders)
        self.gone: array[int] = array("q")  # changed only by took(): see gone_ptr
        self._gone_ptr: Any = None
        #: replayed order id -> the quantity the caller's orders took of it, while it is
        #: not taken whole: what the log's own prints of it must not show again (forgotten
        #: once the id leaves the book: FeedChange.add_trades)
        self.partly: dict[int, int] = {}

    def took_part(self, order_id: int, qty: int) -> None:
        """The caller's orders took ``qty`` of replayed order ``order_id``, not all of it."""
        self.partly[order_id] = self.partly.get(order_id, 0) + qty

    def took(self, order_id: int) -> None:
        """Replayed order ``order_id`` was taken whole by the caller's orders."""
        self.partly.pop(order_id, None)
        gone = self.gone
        i = bisect.bisect_left(gone, order_id)
        if i == len(gone) or gone[i] != order_id:
            if self._gone_ptr is not None and self._gone_ptr != ffi.NULL:
                ffi.release(self._gone_ptr)  # an exported array cannot grow
            self._gone_ptr = None
            gone.insert(i, order_id)

    def gone_ptr(self) -> Any:
        """:attr:`gone` as an ``int64_t[]`` for C (NULL when empty), made once until
        :meth:`took` changes it: a replay hands it to C for every chunk."""
        ptr = self._gone_ptr
        if ptr is None:
            ptr = self._gone_ptr = (ffi.from_buffer("int64_t[]", self.gone) if self.gone
                                    else ffi.NULL)
        return ptr

    def c_book(self) -> Any:
        """The ``lob_book *`` (valid while the book is open)."""
        return self._ptr()


# not frozen: one is made for every chunk a replay applies, and a frozen dataclass's
# __init__ (object.__setattr__ per field) costs three times a plain one's
@dataclass(slots=True)
class MdUpdate:
    """What applying messages ``start..stop-1`` of ``batch`` did.

    ``messages`` counts them (W, X and other), ``ops`` the book operations applied.
    :meth:`symbols_changed` and :meth:`trade_columns` read the entries only when asked
    (numpy views of the book entries, no Python object per entry; the trades as the batch
    gathered them once). ``rows``
    holds ``row_count`` rows of the recorded symbol's book (``depth`` levels, LOBSTER's
    orderbook layout: ask price, ask size, bid price, bid size per level), one after each
    incremental refresh that had an entry for it; :meth:`rows_csv` formats them.

    ``fills``: the client orders the messages' trades filled, in the order they happened
    (across symbols too). ``crossed``: the update ended (``stop_at_fill``) at a message that
    left a client order crossed by replayed liquidity; ``touched``: it ended at a time that
    left a watched touch outside its watch (``watch``). ``tops`` (when asked for): per symbol
    of the batch, the best bid and offer as ``array('q')`` rows of 5 flattened (time_ns, bid
    price, bid qty, ask price, ask qty; 0 and 0 for an empty side), one after each message
    that changed them (the first message of the call that touched the symbol always gives a
    row); :meth:`top_rows` reads
    them as :class:`Top` tuples.
    """

    batch: MdBatch
    start: int
    stop: int
    messages: int
    ops: int
    rows: Any = None
    row_count: int = 0
    depth: int = 0
    fills: tuple[FeedFill, ...] = ()
    tops: dict[str, array[int]] = field(default_factory=dict)
    crossed: bool = False
    touched: bool = False
    #: per symbol whose book had taken liquidity (FeedBook.gone or partly): its trades'
    #: print owners (csrc/mdfeed.h's Prints; negated: gone), which trade_columns gives for
    #: OrderID
    owners: dict[str, array[int]] | None = None

    def top_rows(self, symbol: str) -> list[Top]:
        """The symbol's recorded top-of-book rows (empty if none were recorded)."""
        flat = self.tops.get(symbol)
        if not flat:
            return []
        return [Top(*flat[i : i + _TOP]) for i in range(0, len(flat), _TOP)]

    def entry_columns(self) -> Any:
        """The entries of these messages as a numpy structured array (a view, no copy):
        fields ``price``, ``qty``, ``time``, ``sym``, ``kind`` ... as in md_entry."""
        b = self.batch
        first, last = b.entry_range(self.start, self.stop)
        return np.frombuffer(b.entries, dtype=_ENTRY_DTYPE, count=last - first,
                             offset=first * _E)

    def symbols_changed(self) -> set[str]:
        """The symbols that book or trade entries of these messages name."""
        first, last = self.batch.entry_range(self.start, self.stop)
        if len(self.batch.symbols) == 1:  # the usual log: no need to look
            return set(self.batch.symbols) if last > first else set()
        syms = np.unique(self.entry_columns()["sym"])
        return {self.batch.symbols[int(k)] for k in syms}

    def only_symbol_trades(self) -> tuple[array[int], array[int], array[int], array[int]] | None:
        """For a batch of one symbol: None if these messages have no entries (the symbol is
        not in :meth:`symbols_changed`), else :meth:`trade_columns` of the symbol. The two
        in one call, without sets: a replay asks after every chunk. ValueError for a batch
        of several symbols."""
        b = self.batch
        if len(b.symbols) != 1:
            raise ValueError(f"{b!r} has {len(b.symbols)} symbols")
        # entry_range and _trade_span, inline (apply checked the range)
        start, stop, count = self.start, self.stop, b.count
        firsts = b._firsts
        first = firsts[start] if start < count else b.entry_count
        last = firsts[stop] if stop < count else b.entry_count
        if last <= first:
            return None
        t = b._trade_lists()
        # min(start, count) and min(stop, count), without the calls
        lo = t.before[start if start < count else count]
        hi = t.before[stop if stop < count else count]
        owners = self.owners.get(b.symbols[0]) if self.owners else None
        return (t.price[lo:hi], t.qty[lo:hi], t.time[lo:hi],
                t.order_id[lo:hi] if owners is None else owners)

    def trade_columns(self, symbol: str
                      ) -> tuple[array[int], array[int], array[int], array[int]]:
        """The trade entries (269=2) of ``symbol`` in order, as int64 arrays: price (ticks),
        size, time (ns), OrderID (0: none; for a symbol in :attr:`owners`, the print's
        owner instead). Slices of columns the batch made once (a replay asks for every
        chunk)."""
        b = self.batch
        lo, hi = b._trade_span(self.start, self.stop)
        t = b._trade_lists()
        owners = self.owners.get(symbol) if self.owners else None
        if len(b.symbols) > 1 and hi > lo:
            sym = b.symbols.index(symbol)
            mine = [k for k in range(lo, hi) if t.sym[k] == sym]
            return (array("q", [t.price[k] for k in mine]), array("q", [t.qty[k] for k in mine]),
                    array("q", [t.time[k] for k in mine]),
                    array("q", [t.order_id[k] for k in mine]) if owners is None else owners)
        return (t.price[lo:hi], t.qty[lo:hi], t.time[lo:hi],
                t.order_id[lo:hi] if owners is None else owners)

    def rows_csv(self) -> bytes:
        """The recorded rows as LOBSTER orderbook CSV lines."""
        if not self.row_count:
            return b""
        return format_rows(self.rows, self.row_count, 4 * self.depth)


class MarketDataFeed:
    """Applies market-data messages to one C order book per symbol, in feed mode.

    A snapshot (W) replaces its symbol's feed liquidity; incremental refreshes (X) change
    it (see the module docstring). Books are created for every symbol a batch's decoder
    knows, and are :class:`~engine.book.OrderBook` s (``book(symbol)``): look at them between
    calls, or trade against them. Order ids: MDEntryIDs map to ids below 2**62
    (csrc/mdfeed.h), so ids from 2**62 up are free for orders the caller adds itself, with
    limit orders (orders added with ``add`` count as feed liquidity: snapshots and level
    fallbacks take them).

    With ``strict`` (default) an entry the book rejects (a Change for an order it does not
    hold, a New for an id already resting, ...) raises :class:`MdLogError` at its line; the
    message's earlier entries are then applied and later ones are not (fills those made are
    applied to the book but not returned: run a feed with client orders without ``strict``).
    Without, rejects are counted in :attr:`rejects` and skipped.

    ``uncrossed`` (a venue's feed, where clients trade with the replayed liquidity): after
    each incremental message, the other side's replayed liquidity at or through the price of
    an entry it added or changed (and that still rests) is removed as stale (csrc/mdfeed.h).
    Off, the books are the log's, crossed or not.
    """

    def __init__(self, *, max_orders: int = 1 << 20, strict: bool = True,
                 price_decimals: int = 4, uncrossed: bool = False) -> None:
        self.max_orders = max_orders
        self.strict = strict
        self.uncrossed = uncrossed
        self.rejects = 0
        self.skipped = 0  # entries naming an order a client took whole (FeedBook.gone)
        self._books: dict[str, FeedBook] = {}
        self._text_ids: dict[bytes, int] = {}
        self._ctl = ffi.new("md_apply_ctl *")
        self._fills = ffi.new("md_fill[]", 64)
        self._owners = ffi.new("int64_t[]", 64)  # ctl.trade_ids' buffer, grown as _fills is
        self._decoder = MdDecoder(price_decimals=price_decimals)
        # the batch last applied, its records as C arrays and its (index, symbol, book)s:
        # a replay applies each batch in many chunks
        self._batch: MdBatch | None = None
        self._batch_c: tuple[Any, Any, list[tuple[int, str, FeedBook]]] = (None, None, [])
        # the gone array ctl.gone holds (None: NULL), left in place between calls: a book's
        # gone_ptr() stays the same object until its gone ids change
        self._ctl_gone: Any = None

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._books)

    def book(self, symbol: str) -> OrderBook:
        """The symbol's book; KeyError if no snapshot or :meth:`add_symbol` created it."""
        return self._books[symbol]

    def add_symbol(self, symbol: str) -> FeedBook:
        """The symbol's book, created empty if new (so incremental refreshes may follow)."""
        return self._feed_book(symbol)

    def _feed_book(self, symbol: str) -> FeedBook:
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = FeedBook(self.max_orders)
            self._decoder.add_symbol(symbol)
        return book

    def apply(self, batch: MdBatch, start: int = 0, stop: int | None = None, *,
              record: str | None = None, depth: int = 0,
              clients: Mapping[str, Sequence[int]] | None = None,
              tops: bool = False, stop_at_fill: bool = False,
              watch: Mapping[str, Watch] | None = None,
              watch_groups: tuple[int, int] = (0, 0)) -> MdUpdate:
        """Apply messages ``start..stop-1`` of ``batch`` (all by default), in order.

        With ``record`` (a symbol) and ``depth`` > 0 the update carries that book's top
        ``depth`` levels after each incremental refresh with an entry for it.

        ``clients``: per symbol, the book ids of the caller's own orders resting in it (ids
        that do not rest are skipped; other symbols have none). Trade entries fill them as the
        module docstring says, and :attr:`MdUpdate.fills` lists the fills. With ``tops`` the
        update carries every symbol's best bid and offer whenever they change
        (:attr:`MdUpdate.tops`). Neither costs anything when not asked for.

        ``stop_at_fill``: end the update after the first message that filled a client order
        or left one crossed (:attr:`MdUpdate.stop` says where, :attr:`MdUpdate.crossed`
        which), so the caller can act on it at its time.

        ``watch``: per symbol, the range its touch must stay in (a :data:`Watch` in ticks:
        lowest and highest bid, lowest and highest ask, ``WATCH_LOW`` or ``WATCH_HIGH`` for a bound
        not watched; csrc/mdfeed.h): the update ends at the end of the first group of
        messages of one time after which the book is outside it (:attr:`MdUpdate.touched`).
        ``watch_groups`` is (base, step) in ns: messages whose times, less base, come to the
        same whole number of steps rounded up are one group (a step of 0: the same time).

        Stopping (``stop_at_fill`` with clients, or ``watch``) takes one symbol of the batch
        (ValueError otherwise): that symbol is applied first, and the others up to where it
        stopped.
        """
        stop = batch.count if stop is None else stop
        if not 0 <= start <= stop <= batch.count:
            raise IndexError(f"messages {start}..{stop} out of range for {batch!r}")
        if record is not None and not 1 <= depth <= lib.MD_MAX_LEVELS:
            raise ValueError(f"depth must be in 1..{lib.MD_MAX_LEVELS}")
        if batch.has_text_ids:
            for k, text in batch.text_ids(*batch.entry_range(start, stop)):
                struct.pack_into("<q", batch.entries, k * _E, self._text_id(text))
        ctl = self._ctl
        if batch is not self._batch:
            self._batch = batch
            self._batch_c = (ffi.from_buffer("md_msg[]", batch.msgs),
                             ffi.from_buffer("md_entry[]", batch.entries),
                             [(sym, symbol, self._feed_book(symbol))
                              for sym, symbol in enumerate(batch.symbols)])
        msgs, entries, order = self._batch_c
        ops = 0
        rows: Any = None
        row_count = 0
        fills: list[tuple[int, FeedFill]] = []
        filled_symbols = 0
        crossed = touched_any = False
        top_rows: dict[str, array[int]] = {}
        owners: dict[str, array[int]] | None = None
        trade_bound = -1
        if (clients or watch) and len(order) > 1:
            def stops(symbol: str) -> bool:
                return bool(stop_at_fill and clients and clients.get(symbol)) or bool(
                    watch and symbol in watch)

            # the symbol that may stop first (the others are applied up to where it stopped),
            # then those with clients
            order = sorted(order, key=lambda ssb: (not stops(ssb[1]),
                                                   not (clients and clients.get(ssb[1]))))
            if sum(1 for _, sy, _b in order if stops(sy)) > 1:
                raise ValueError("stop_at_fill and watch stop at one symbol only")
        # Between calls ctl has every optional input off (clients, fills, tops and rows NULL,
        # their counts, levels and stop_on_fill 0): a call sets what it uses and turns it off
        # again after md_apply, whatever happens (no pointer outlives its buffer). The gone
        # ids are the exception: ctl keeps the last book's (self._ctl_gone), set again
        # before md_apply whenever they are not this book's (its gone_ptr() is a new object
        # once they change, and a replay hands the same ones for every chunk).
        ctl.stop_on_reject = 1 if self.strict else 0
        ctl.keep_uncrossed = 1 if self.uncrossed else 0
        for sym, symbol, book in order:
            ids = clients.get(symbol) if clients else None
            gone = book.gone_ptr() if book.gone else None
            if gone is not self._ctl_gone:
                self._ctl_gone = gone
                ctl.gone = ffi.NULL if gone is None else gone
                ctl.gone_count = 0 if gone is None else len(book.gone)
            recording = symbol == record
            watched = watch.get(symbol) if watch else None
            # a book whose liquidity the caller took: its prints' owners, for the caller to
            # know which are of liquidity already gone (FeedChange.add_trades)
            owning = bool(book.gone or book.partly)
            try:
                if owning:
                    if trade_bound < 0:
                        trade_bound = batch.trade_count(start, stop)
                    if len(self._owners) < trade_bound:  # one buffer for every call, grown
                        self._owners = ffi.new("int64_t[]",
                                               max(trade_bound, 2 * len(self._owners)))
                    owner_buf = self._owners
                    ctl.trade_ids = owner_buf
                    ctl.trade_ids_cap = trade_bound
                if watched is not None:
                    ctl.watch_on = 1
                    ctl.watch = watched
                    ctl.watch_base_ns, ctl.watch_step_ns = watch_groups
                if ids:
                    ctl.stop_on_fill = 1 if stop_at_fill else 0
                    # Room for every fill C can write, so it never stops early: at most one
                    # per trade entry plus one per client order removed (csrc/mdfeed.h), and
                    # C asks for the worst case of a message on top of what it wrote.
                    if trade_bound < 0:
                        trade_bound = batch.trade_count(start, stop)
                    client_ids = array("q", ids)
                    fill_cap = trade_bound + 2 * len(client_ids)
                    if len(self._fills) < fill_cap:  # one buffer for every call, grown
                        self._fills = ffi.new("md_fill[]", max(fill_cap, 2 * len(self._fills)))
                    fill_buf = self._fills
                    ctl.clients = ffi.from_buffer("int64_t[]", client_ids)
                    ctl.client_count = len(client_ids)
                    ctl.fills = fill_buf
                    ctl.fills_cap = fill_cap
                if tops:
                    top_buf = ffi.new("int64_t[]", max(1, stop - start) * _TOP)
                    ctl.tops = top_buf
                    ctl.tops_cap = stop - start
                ctl.sym = sym
                if recording:
                    ctl.levels = depth
                    rows = ffi.new("int64_t[]", max(1, (stop - start) * 4 * depth))
                    ctl.rows = rows
                    ctl.rows_cap = stop - start
                    ctl.empty_ask = EMPTY_ASK_PRICE
                    ctl.empty_bid = EMPTY_BID_PRICE
                done = lib.md_apply(book.c_book(), msgs, start, stop, entries, ctl)
                # (ctl.stop_on_fill is 1 exactly when there are ids and stop_at_fill)
                stopped_at_fill = bool(ids and stop_at_fill and (ctl.fills_written
                                                                 or ctl.crossed))
                touched = watched is not None and bool(ctl.touched)
            finally:
                ctl.watch_on = 0
                if owning:
                    ctl.trade_ids = ffi.NULL
                    ctl.trade_ids_cap = 0
                if ids:
                    ctl.clients = ctl.fills = ffi.NULL
                    ctl.client_count = ctl.fills_cap = ctl.stop_on_fill = 0
                if tops:
                    ctl.tops = ffi.NULL
                    ctl.tops_cap = 0
                if recording:
                    ctl.rows = ffi.NULL
                    ctl.rows_cap = ctl.levels = 0
            if ids:
                written = ctl.fills_written
                for (order_id, price, qty, left, time_ns, trade_id, _trade_px, entry, _side,
                     _hidden) in _FILL.iter_unpack(ffi.buffer(fill_buf, written * _FILL.size)):
                    fills.append((entry, FeedFill(symbol, order_id, price, qty, left, time_ns,
                                                  trade_id)))
                filled_symbols += written > 0
            if owning:
                if owners is None:
                    owners = {}
                mine = owners[symbol] = array("q")
                mine.frombytes(ffi.buffer(owner_buf, ctl.trade_ids_written * 8))
            if tops:
                flat = top_rows[symbol] = array("q")
                flat.frombytes(ffi.buffer(top_buf, ctl.tops_written * _TOP * 8))
            if recording:
                row_count = ctl.rows_written
            if done < 0:
                raise error_for(done, f"applying {batch.source} to the {symbol} book")
            ops += ctl.ops
            rejects, skipped = ctl.rejects, ctl.skipped
            if skipped:
                self.skipped += skipped
            if rejects:
                self.rejects += rejects
                if self.strict:
                    k = ctl.reject_entry
                    i = batch.message_of_entry(k)
                    raise MdLogError(batch.source, batch.line(i),
                                     _reject_reason(batch, k, ctl.reject_code))
            if stopped_at_fill or touched:
                crossed = crossed or bool(stopped_at_fill and ctl.crossed)
                touched_any = touched_any or touched
                if 0 <= done < stop:
                    stop = done  # the message ends the update, for every symbol
            if done != stop:  # the arrays are sized so that C never runs out of room
                raise RuntimeError(f"md_apply stopped at message {done} of {start}..{stop}")
        if filled_symbols > 1:  # C fills one symbol at a time: restore the entries' order
            fills.sort(key=lambda ef: ef[0])
        return MdUpdate(batch, start, stop, stop - start, ops, rows, row_count, depth,
                        tuple(f for _, f in fills) if fills else (), top_rows, crossed,
                        touched_any, owners)

    def apply_message(self, message: Message | bytes, *,
                      clients: Mapping[str, Sequence[int]] | None = None,
                      tops: bool = False) -> MdUpdate:
        """Apply one decoded message (its raw bytes are used when it has them) or its wire
        bytes. Symbols are those of this feed: a snapshot adds one. ``clients`` and ``tops``
        as for :meth:`apply`."""
        if isinstance(message, Message):
            raw = message.raw if message.raw is not None else encode(message)
        else:
            raw = message
        batches = list(self._decoder.decode(raw, "<message>"))
        if len(batches) != 1 or batches[0].count != 1:
            found = sum(b.count for b in batches)
            raise MdLogError("<message>", 1, f"expected one FIX message, found {found}")
        return self.apply(batches[0], clients=clients, tops=tops)

    def _text_id(self, text: bytes) -> int:
        found = self._text_ids.get(text)
        if found is None:
            found = lib.MD_TEXT_ID_BASE + len(self._text_ids)
            if found >= lib.MD_LEVEL_ID_BASE:
                raise OverflowError("too many distinct non-numeric MDEntryIDs")
            self._text_ids[text] = found
        return found

    def close(self) -> None:
        """Free every book now."""
        for book in self._books.values():
            book.close()


_ACTIONS = ("New", "Change", "Delete")


def _reject_reason(batch: MdBatch, k: int, code: int) -> str:
    id_, price, qty, _t, side, _tif, _time, _msg, sym, off, n, _kind, action, flags, _etype = (
        _ENTRY.unpack_from(batch.entries, k * _E))
    what = _ACTIONS[action] if action < 3 else f"action {action}"
    if flags & lib.MD_F_LEVEL:
        subject = f"the level {price} of the {'bid' if side == 0 else 'offer'} side"
    elif flags & _TEXT_ID:
        subject = f"MDEntryID {batch._buf[off : off + n].decode('latin-1')!r}"
    else:
        subject = f"MDEntryID {id_}"
    size = "" if action == 2 else f" (size {qty})"  # a Delete takes all, whatever it says
    return (f"the {batch.symbols[sym]} book rejects {what} of {subject}{size}: "
            f"{error_for(code).args[0]}")
