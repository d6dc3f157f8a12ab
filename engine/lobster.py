"""LOBSTER sample files: read them, replay them through the C book, write the book back.

A LOBSTER day is a message file (one book event a line) and an orderbook file (the top N
levels after each event). :func:`replay` rebuilds the book from the messages alone in the C
core's feed mode and writes it in the orderbook layout, so comparing the two files proves the
book; the contract of the rebuild (seeding, levels that come into view from below) is in
``csrc/lobster.h``. Parsing, replay and formatting all run in C: Python only moves buffers.

Every bad input raises :class:`LobsterFormatError` naming the file, line and column.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine._core import ffi, lib
from engine.errors import error_for

#: LOBSTER's placeholders for an empty level, used when the input shows none of its own.
EMPTY_ASK_PRICE = 9_999_999_999
EMPTY_BID_PRICE = -9_999_999_999

_REASONS = {
    lib.LOBSTER_ERR_SYNTAX: "not a number",
    lib.LOBSTER_ERR_COLUMNS: "wrong number of columns",
    lib.LOBSTER_ERR_TYPE: "unknown event type (expected 1 to 7)",
    lib.LOBSTER_ERR_DIRECTION: "direction must be 1 (buy) or -1 (sell)",
    lib.LOBSTER_ERR_RANGE: "value out of range",
    lib.LOBSTER_ERR_CAPACITY: "more lines than expected",
    lib.LOBSTER_ERR_BOOK: "the message names an order or level the book does not hold",
    lib.LOBSTER_ERR_NEGATIVE: "negative size",
    lib.LOBSTER_ERR_NO_PRICE: "a level with size has no positive price",
}
_MESSAGE_COLUMNS = ("time", "type", "order id", "size", "price", "direction")


class LobsterFormatError(ValueError):
    """Bad LOBSTER input; ``path``, ``line`` (1-based; 0 when the problem is the whole file,
    such as files given in the wrong order) and ``reason`` say what and where."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line > 0 else f"{path}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


def _reason(status: int, column: int, columns: tuple[str, ...] | None = None) -> str:
    base = _REASONS.get(status) or str(error_for(status))
    if column <= 0:
        return base
    if columns and column <= len(columns):
        return f"column {column} ({columns[column - 1]}): {base}"
    return f"column {column}: {base}"


def _first_line(data: bytes) -> list[bytes]:
    return data.split(b"\n", 1)[0].strip().split(b",")


def _kind(fields: list[bytes]) -> str | None:
    """What a file is by its first line: ``messages`` (6 columns), ``orderbook`` (a multiple
    of 4 columns, all integers: a LOBSTER message's time has a decimal point), else None."""
    if len(fields) == len(_MESSAGE_COLUMNS):
        return "messages"
    if len(fields) % 4 == 0 and all(f.strip().lstrip(b"-").isdigit() for f in fields):
        return "orderbook"
    return None


def _peek(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return _first_line(f.readline(1 << 16))


def check_order(message_path: str | Path, orderbook_path: str | Path) -> None:
    """Raise :class:`LobsterFormatError` if the two files look swapped: the one given as the
    message file has an orderbook file's columns (4 per level) and the other a message
    file's (6). Each reader also refuses the other kind of file on its own; this names both,
    so the fix (swap them) is plain."""
    messages, orderbook = Path(message_path), Path(orderbook_path)
    if _kind(_peek(messages)) == "orderbook" and _kind(_peek(orderbook)) == "messages":
        raise LobsterFormatError(messages, 0, f"this is a LOBSTER orderbook file (4 columns "
                                 f"per level); {orderbook}, the message file (6 columns), "
                                 "comes first")


@dataclass(frozen=True, slots=True)
class Messages:
    """A parsed message file: ``array`` is a cffi ``lobster_msg[]`` of ``count`` entries."""

    path: Path
    array: Any
    count: int


@dataclass(frozen=True, slots=True)
class OrderbookRows:
    """A parsed orderbook file: ``array`` is ``int64_t[count * 4 * levels]``, row-major."""

    path: Path
    array: Any
    count: int
    levels: int


def read_messages(path: str | Path) -> Messages:
    """Parse a LOBSTER message file; raise :class:`LobsterFormatError` on any bad line."""
    path = Path(path)
    data = path.read_bytes()
    first = _first_line(data)
    if _kind(first) == "orderbook":
        raise LobsterFormatError(path, 1, f"{len(first)} integer columns: this is a LOBSTER "
                                 "orderbook file (4 columns per level), not a message file "
                                 "(6 columns: time, type, order id, size, price, direction)")
    cap = max(1, lib.lobster_count_lines(data, len(data)))
    array = ffi.new("lobster_msg[]", cap)
    err = ffi.new("lobster_error *")
    n = lib.lobster_parse_messages(data, len(data), array, cap, err)
    if n < 0:
        raise LobsterFormatError(path, err.line, _reason(err.status, err.column, _MESSAGE_COLUMNS))
    if n == 0:
        raise LobsterFormatError(path, 1, "no messages")
    return Messages(path, array, n)


def read_orderbook(path: str | Path) -> OrderbookRows:
    """Parse a LOBSTER orderbook file; its level count comes from the first line's columns."""
    path = Path(path)
    data = path.read_bytes()
    first = data.split(b"\n", 1)[0].strip()
    if not first:
        raise LobsterFormatError(path, 1, "no rows")
    cols = first.count(b",") + 1
    if _kind(_first_line(first)) == "messages":
        raise LobsterFormatError(path, 1, f"{cols} columns: this is a LOBSTER message file, "
                                 "not an orderbook file (4 columns per level)")
    if cols % 4:
        raise LobsterFormatError(path, 1, f"{cols} columns; an orderbook row has 4 per level")
    cap = max(1, lib.lobster_count_lines(data, len(data)))
    array = ffi.new("int64_t[]", cap * cols)
    err = ffi.new("lobster_error *")
    n = lib.lobster_parse_orderbook(data, len(data), cols, array, cap, err)
    if n < 0:
        raise LobsterFormatError(path, err.line, _reason(err.status, err.column))
    return OrderbookRows(path, array, n, cols // 4)


def _empty_prices(rows: OrderbookRows) -> tuple[int, int]:
    """The input's own placeholders for empty ask and bid levels, LOBSTER's by default."""
    ask, bid = EMPTY_ASK_PRICE, EMPTY_BID_PRICE
    width = 4 * rows.levels
    values = rows.array
    found_ask = found_bid = False
    for i in range(0, rows.count * width, 4):
        if not found_ask and values[i + 1] == 0:
            ask, found_ask = values[i], True
        if not found_bid and values[i + 3] == 0:
            bid, found_bid = values[i + 2], True
        if found_ask and found_bid:
            break
    return ask, bid


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What :func:`replay` did: rows written, levels learned from the orderbook, timing."""

    rows: int
    levels: int
    levels_learned: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def as_json(self) -> dict[str, int | float]:
        return {
            "rows": self.rows,
            "levels": self.levels,
            "levels_learned": self.levels_learned,
            "seconds": round(self.seconds, 6),
            "events_per_second": round(self.events_per_second, 1),
        }


def rebuild(messages: Messages, rows: OrderbookRows) -> tuple[Any, int, float]:
    """Replay ``messages`` through a fresh C book; return (out rows array, learned, seconds).

    ``seconds`` times the replay alone, not parsing or writing.
    """
    if messages.count != rows.count:
        raise LobsterFormatError(
            rows.path,
            min(messages.count, rows.count) + 1,
            f"{rows.count} rows but {messages.path} has {messages.count} messages",
        )
    adds = sum(1 for i in range(messages.count) if messages.array[i].type == 1)
    book = ffi.gc(lib.lob_new(adds + 16), lib.lob_free)
    if book == ffi.NULL:
        raise MemoryError("cannot allocate the order book")
    out = ffi.new("int64_t[]", rows.count * 4 * rows.levels)
    learned = ffi.new("size_t *")
    err = ffi.new("lobster_error *")
    empty_ask, empty_bid = _empty_prices(rows)
    start = time.perf_counter()
    rc = lib.lobster_replay(book, messages.array, rows.array, messages.count, rows.levels,
                            empty_ask, empty_bid, out, learned, err)
    seconds = time.perf_counter() - start
    if rc < 0:
        path = rows.path if err.in_rows else messages.path
        raise LobsterFormatError(path, err.line, _reason(err.status, err.column))
    return out, learned[0], seconds


def format_rows(array: Any, count: int, cols: int) -> bytes:
    """``count`` rows of ``cols`` integers as LOBSTER CSV lines."""
    cap = count * cols * 22 + 1
    buf = ffi.new("char[]", cap)
    n = lib.lobster_format_rows(array, count, cols, buf, cap)
    assert n >= 0, "format buffer sized for the worst case"
    data: bytes = ffi.buffer(buf, n)[:]
    return data


def replay(
    message_path: str | Path, orderbook_path: str | Path, out_path: str | Path
) -> ReplayResult:
    """Rebuild the book from ``message_path`` and write it to ``out_path`` in LOBSTER's layout."""
    check_order(message_path, orderbook_path)
    messages = read_messages(message_path)
    rows = read_orderbook(orderbook_path)
    out, learned, seconds = rebuild(messages, rows)
    Path(out_path).write_bytes(format_rows(out, rows.count, 4 * rows.levels))
    return ReplayResult(rows.count, rows.levels, learned, seconds)
