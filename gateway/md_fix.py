"""LOBSTER days as FIX 4.4 market-data logs: one snapshot, then one incremental refresh a message.

``gateway lobster to-fix`` writes the log; ``gateway backtest --log`` (gateway/md_feed.py)
replays it into the books. The log is a QuickFIX message log, one message a line::

    20120621-13:30:00.189607670 : 8=FIX.4.4<SOH>9=...<SOH>35=X<SOH>34=2<SOH>49=LOBSTER<SOH>...

The text before ``8=FIX`` is the message's SendingTime (52) in the layout QuickFIX writes with
nanosecond timestamps (``YYYYMMDD-HH:MM:SS.nnnnnnnnn : ``); gateway.fixlog reads it too.

Time. LOBSTER times are seconds after midnight, New York local time, of the trading day
(``--date``); FIX timestamps are UTC. Each time is converted with the IANA zone
America/New_York (so 2012-06-21, in daylight time, is UTC-4: 34200 s = 09:30 local = 13:30
UTC) and keeps LOBSTER's nanoseconds (digits beyond the ninth, a double's noise in some files,
are dropped when the file is read). SendingTime (52) carries the time with nine fraction digits.

Messages (contract of the entries in csrc/mdlobster.h, of reading them in csrc/mdfeed.h):

* MsgSeqNum 1, MarketDataSnapshotFullRefresh (W): the book just before the first message:
  the first orderbook row with that message's effect taken out (the LOBSTER replay's seed),
  one entry per level (269=0 bid / 1 offer, 270, 271), bids then offers, best first. It
  carries no MDEntryID: LOBSTER does not say which orders make up those levels. So a
  reader's book after the k-th X is the k-th orderbook row (``gateway backtest
  --dump-book`` writes a row after each X, none after the W).
* Then one MarketDataIncrementalRefresh (X) per LOBSTER message, at its time:
  new order (1): ``279=0`` with MDEntryID (278) = the LOBSTER order id; partial cancel (2):
  ``279=1`` with the order's new size, or ``279=2`` when nothing is left; delete (3):
  ``279=2`` with the size it had; visible execution (4): a trade entry (``269=2``, 270, 271,
  OrderID 37 = the order) and then the order's change or delete; hidden execution (5) and
  cross (6): the trade entry only; halt (7): an entry with QuoteCondition (276) and Text (58).
  A partial cancel or execution of an order the log never added (it rested before the data
  starts) cannot give that order's new size: LOBSTER says only how much went. The replay takes
  it from the level (the snapshot's quantity first, then the queue front), and the entries
  say what it took, without MDEntryID: the level's unattributed quantity left (``279=1``),
  or ``279=2`` when the level is empty (csrc/mdlobster.h has the exact rules). A delete of
  such an order keeps its MDEntryID and size; the reader takes that size from the level.
* In the same X, after the message's entries: a level pushed out of view (deeper than the
  file's depth) as a level delete (``279=2`` without MDEntryID), and each level that came
  into view from below as a level add (``279=0`` without MDEntryID). Both are counted in the
  summary (``levels_out_of_view``, ``levels_into_view``).

Prices are LOBSTER's (dollars x 10000) as decimals with at most four fraction digits.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine._core import ffi, lib

from engine import lobster
from engine.errors import error_for
from engine.lobster import LobsterFormatError
from gateway.output_files import replacing

__all__ = [
    "NEW_YORK",
    "FixLogSummary",
    "format_price",
    "format_timestamp",
    "lobster_to_fix",
    "lobster_utc_ns",
]

NEW_YORK = "America/New_York"
BEGIN_STRING = b"FIX.4.4"
#: LOBSTER prices are dollars x 10**PRICE_DECIMALS.
PRICE_DECIMALS = 4

# mdlob_entry: int64 id, price, size; uint32 msg; uint8 action, kind, side, why.
_ENTRY = struct.Struct("<qqqIBBBB")
assert ffi.sizeof("mdlob_entry") == _ENTRY.size
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_BY_ORDER, _BY_LEVEL, _TRADE, _STATUS = (lib.MDLOB_BY_ORDER, lib.MDLOB_BY_LEVEL,
                                         lib.MDLOB_TRADE, lib.MDLOB_STATUS)
_ENTRY_TYPE = (b"0", b"1")  # lob side -> MDEntryType: buy = bid, sell = offer
# LOBSTER halt codes (the price of a type 7 message) -> QuoteCondition, Text.
_STATUS_TEXT = {
    -1: (b"B", b"trading halt"),
    0: (b"A", b"quoting resumes"),
    1: (b"A", b"trading resumes"),
}
_REASONS = {
    lib.MDLOB_ERR_TIME: "column 1 (time): earlier than the message before",
    lib.LOBSTER_ERR_BOOK: "the message names an order or level the book does not hold",
    lib.LOBSTER_ERR_COLUMNS: "the orderbook has no levels, or more than 1000",
    lib.CORE_ERR_BAD_ID: "column 3 (order id): a new order needs an id above 0",
}


def _reason(status: int) -> str:
    return _REASONS.get(status) or str(error_for(status))


@dataclass(frozen=True, slots=True)
class FixLogSummary:
    """What :func:`lobster_to_fix` wrote.

    ``incremental_refreshes`` equals ``messages`` (one X per LOBSTER message);
    ``levels_into_view`` are the level adds for levels that came into view from below (the
    same count as the LOBSTER replay's ``levels_learned``), ``levels_out_of_view`` the level
    deletes for levels pushed below the file's depth. ``rows_differ`` counts orderbook rows
    the replayed book does not equal (0 for a consistent file pair); the log reproduces the
    replay, so a reader's book equals the file exactly when it is 0.
    """

    path: Path
    symbol: str
    messages: int
    levels: int
    snapshot_levels: int
    incremental_refreshes: int
    entries: int
    trades: int
    levels_into_view: int
    levels_out_of_view: int
    fallbacks: int
    rows_differ: int
    first_differing_row: int | None
    bytes: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "log": str(self.path),
            "symbol": self.symbol,
            "messages": self.messages,
            "levels": self.levels,
            "snapshot_levels": self.snapshot_levels,
            "incremental_refreshes": self.incremental_refreshes,
            "entries": self.entries,
            "trades": self.trades,
            "levels_into_view": self.levels_into_view,
            "levels_out_of_view": self.levels_out_of_view,
            "fallbacks": self.fallbacks,
            "matches_orderbook": self.rows_differ == 0,
            "first_differing_row": self.first_differing_row,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
        }


# -- time ---------------------------------------------------------------------------------------


def lobster_utc_ns(day: date, zone: str = NEW_YORK) -> Callable[[int], int]:
    """A function from LOBSTER's nanoseconds after local midnight of ``day`` to UTC
    nanoseconds since the Unix epoch, in the IANA time zone ``zone``.

    Wall-clock times are read with ``fold=0`` (the first of a repeated hour). On a day with
    no clock change the offset is one constant, computed once.
    """
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r}") from exc
    midnight = datetime(day.year, day.month, day.day)
    epoch_wall = int((midnight - datetime(1970, 1, 1)).total_seconds()) * _NS

    def offset_ns(wall: datetime) -> int:
        off = wall.replace(tzinfo=tz).utcoffset()
        assert off is not None
        return (off.days * 86_400 + off.seconds) * _NS + off.microseconds * 1000

    first = offset_ns(midnight)
    last = offset_ns(midnight + timedelta(hours=23, minutes=59, seconds=59))
    if first == last:
        base = epoch_wall - first
        return lambda t: base + t

    def convert(t: int) -> int:
        wall = midnight + timedelta(microseconds=t // 1000)
        return epoch_wall + t - offset_ns(wall)

    return convert


_date_cache: dict[int, str] = {}


def format_timestamp(utc_ns: int) -> str:
    """A FIX UTCTimestamp with nine fraction digits: ``YYYYMMDD-HH:MM:SS.nnnnnnnnn``."""
    days, rest = divmod(utc_ns, _DAY_NS)
    day = _date_cache.get(days)
    if day is None:
        day = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=days)).strftime("%Y%m%d")
        _date_cache[days] = day
    secs, nanos = divmod(rest, _NS)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    return f"{day}-{hours:02d}:{minutes:02d}:{secs:02d}.{nanos:09d}"


def format_price(ticks: int, decimals: int = PRICE_DECIMALS) -> bytes:
    """``ticks`` x 10**-decimals as the shortest decimal: 2238200 -> b"223.82"."""
    sign = "-" if ticks < 0 else ""
    whole, frac = divmod(abs(ticks), 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0")
    return f"{sign}{whole}.{digits}".encode() if digits else f"{sign}{whole}".encode()


# -- planning (C) -------------------------------------------------------------------------------


def _plan(
    messages: lobster.Messages, rows: lobster.OrderbookRows, stats: Any
) -> tuple[bytes, Iterator[bytes]]:
    """The snapshot's entries and, chunk by chunk, the packed entries of every message."""
    book = ffi.gc(lib.lob_new(_max_orders(messages)), lib.lob_free)
    if book == ffi.NULL:
        raise MemoryError("cannot allocate the order book")
    err = ffi.new("lobster_error *")
    levels = rows.levels
    snap = ffi.new("mdlob_entry[]", 2 * levels + 1)
    got = lib.mdlob_seed(book, messages.array, rows.array, levels, snap, 2 * levels + 1, err)
    if got < 0:
        raise LobsterFormatError(rows.path, err.line, _reason(err.status))
    snapshot = ffi.buffer(snap, got * _ENTRY.size)[:]

    def chunks() -> Iterator[bytes]:
        cap = 1 << 16
        out = ffi.new("mdlob_entry[]", cap)
        count = ffi.new("size_t *")
        done = 0
        while done < messages.count:
            nxt = lib.mdlob_plan(book, messages.array, rows.array, done, messages.count, levels,
                                 out, cap, count, stats, err)
            if nxt < 0:
                path = rows.path if err.in_rows else messages.path
                raise LobsterFormatError(path, err.line, _reason(err.status))
            if nxt == done:  # not even one message fits: a deep book; grow
                cap *= 4
                out = ffi.new("mdlob_entry[]", cap)
                continue
            yield ffi.buffer(out, count[0] * _ENTRY.size)[:]
            done = nxt

    return snapshot, chunks()


def _max_orders(messages: lobster.Messages) -> int:
    adds = sum(1 for i in range(messages.count) if messages.array[i].type == 1)
    return min(adds + 16, (1 << 31) - 1)


# -- FIX text -----------------------------------------------------------------------------------


class _Writer:
    """Formats entries as FIX messages, one QuickFIX log line each."""

    def __init__(self, symbol: str, sender: str, target: str) -> None:
        self.symbol = symbol.encode("ascii")
        self.sender = sender.encode("ascii")
        self.target = target.encode("ascii")
        self.seq = 0
        self._prices: dict[int, bytes] = {}

    def price(self, ticks: int) -> bytes:
        text = self._prices.get(ticks)
        if text is None:
            text = self._prices[ticks] = format_price(ticks)
        return text

    def line(self, msg_type: bytes, utc_ns: int, body: bytes) -> bytes:
        self.seq += 1
        stamp = format_timestamp(utc_ns).encode("ascii")
        rest = b"35=%s\x0134=%d\x0149=%s\x0152=%s\x0156=%s\x01%s" % (
            msg_type, self.seq, self.sender, stamp, self.target, body)
        frame = b"8=%s\x019=%d\x01%s" % (BEGIN_STRING, len(rest), rest)
        return b"%s : %s10=%03d\x01\n" % (stamp, frame, sum(frame) % 256)

    def snapshot(self, utc_ns: int, entries: bytes) -> bytes:
        parts = [b"55=%s\x01268=%d\x01" % (self.symbol, len(entries) // _ENTRY.size)]
        for _id, price, size, _msg, _action, _kind, side, _why in _ENTRY.iter_unpack(entries):
            parts.append(b"269=%s\x01270=%s\x01271=%d\x01" % (_ENTRY_TYPE[side], self.price(price),
                                                              size))
        return self.line(b"W", utc_ns, b"".join(parts))

    def entry(self, id_: int, price: int, size: int, action: int, kind: int, side: int) -> bytes:
        sym = self.symbol
        if kind == _BY_ORDER:
            return b"279=%d\x01269=%s\x01278=%d\x0155=%s\x01270=%s\x01271=%d\x01" % (
                action, _ENTRY_TYPE[side], id_, sym, self.price(price), size)
        if kind == _BY_LEVEL:
            return b"279=%d\x01269=%s\x0155=%s\x01270=%s\x01271=%d\x01" % (
                action, _ENTRY_TYPE[side], sym, self.price(price), size)
        if kind == _TRADE:
            order = b"37=%d\x01" % id_ if id_ > 0 else b""
            return b"279=0\x01269=2\x0155=%s\x01270=%s\x01271=%d\x01%s" % (
                sym, self.price(price), size, order)
        condition, text = _STATUS_TEXT.get(price, (b"A", b"trading status %d" % price))
        return b"279=0\x0155=%s\x01276=%s\x0158=%s\x01" % (sym, condition, text)

    def incremental(self, utc_ns: int, entries: list[bytes]) -> bytes:
        return self.line(b"X", utc_ns, b"268=%d\x01%s" % (len(entries), b"".join(entries)))


def lobster_to_fix(
    message_path: str | Path,
    orderbook_path: str | Path,
    out_path: str | Path,
    *,
    symbol: str,
    day: date,
    zone: str = NEW_YORK,
    sender: str = "LOBSTER",
    target: str = "GATEWAY",
    out_option: str = "",
) -> FixLogSummary:
    """Write the market-data log of a LOBSTER day (see the module docstring) to ``out_path``
    (``out_option``, the option that named it, heads an error making it).

    Raises :class:`~engine.lobster.LobsterFormatError` (file:line) for bad input, including
    times that go backwards and messages that name a level the book does not hold. The log
    is written beside ``out_path`` and renamed over it once complete
    (:func:`gateway.output_files.replacing`): whatever stops the run leaves a file already at
    ``out_path`` as it was, and no partial log.
    """
    if not symbol or not symbol.isascii() or any(c in symbol for c in "\x01=|\n"):
        raise ValueError(f"symbol {symbol!r}: needs printable ASCII without SOH, '=' or '|'")
    start = time.perf_counter()
    out = Path(out_path)
    # bad input (a CSV line, or the plan's first bad message, possibly after many chunks are
    # written) stops the run: a temporary file, renamed over out only once the whole log is
    with replacing(out, out_option) as tmp, tmp.open("wb") as f:
        lobster.check_order(message_path, orderbook_path)
        messages = lobster.read_messages(message_path)
        rows = lobster.read_orderbook(orderbook_path)
        if messages.count != rows.count:
            raise LobsterFormatError(
                rows.path, min(messages.count, rows.count) + 1,
                f"{rows.count} rows but {messages.path} has {messages.count} messages")
        to_utc = lobster_utc_ns(day, zone)
        # lobster_msg is 40 bytes: time_ns is every fifth int64.
        times = memoryview(ffi.buffer(messages.array, messages.count * 40)).cast("q")[0::5]
        stats = ffi.new("mdlob_stats *")
        snapshot, chunks = _plan(messages, rows, stats)
        writer = _Writer(symbol, sender, target)
        written = entries_total = 0
        lines = [writer.snapshot(to_utc(times[0]), snapshot)]
        current = 0
        parts: list[bytes] = []
        entry = writer.entry
        for chunk in chunks:
            for id_, price, size, msg, action, kind, side, _why in _ENTRY.iter_unpack(chunk):
                if msg != current:
                    lines.append(writer.incremental(to_utc(times[current]), parts))
                    entries_total += len(parts)
                    parts = []
                    current = msg
                parts.append(entry(id_, price, size, action, kind, side))
            written += sum(map(len, lines))
            f.write(b"".join(lines))
            lines = []
        lines.append(writer.incremental(to_utc(times[current]), parts))
        entries_total += len(parts)
        written += sum(map(len, lines))
        f.write(b"".join(lines))
    assert writer.seq == messages.count + 1, "one X per LOBSTER message"
    return FixLogSummary(
        path=out,
        symbol=symbol,
        messages=messages.count,
        levels=rows.levels,
        snapshot_levels=len(snapshot) // _ENTRY.size,
        incremental_refreshes=writer.seq - 1,
        entries=entries_total,
        trades=stats.trades,
        levels_into_view=stats.learned,
        levels_out_of_view=stats.dropped,
        fallbacks=stats.fallbacks,
        rows_differ=stats.rows_differ,
        first_differing_row=stats.first_differ or None,
        bytes=written,
        seconds=time.perf_counter() - start,
    )


def summary_line(summary: FixLogSummary) -> str:
    """The summary as the one JSON line the CLI prints."""
    return json.dumps(summary.as_json())
