"""Typed wrapper over the C limit order book (csrc/book.h, contract in its top comment).

Two ways in:

* per-call methods (:meth:`OrderBook.limit`, ``cancel``, ...): one op, a list of
  :class:`Event` back, rejects raised as the typed exceptions of :mod:`engine.errors`.
  Convenient, but each call crosses the cffi boundary (about a microsecond);
* the fast path, :meth:`OrderBook.apply` on an :class:`OpBatch` (a packed ``lob_op[]``
  buffer): one crossing per 16k ops, an :class:`EventBatch` back that decodes events only
  when asked. Rejects stay events there: one bad op must not lose the rest of the batch.

The pure-Python twin with the same methods and events is :class:`engine.refbook.ReferenceBook`.
"""

from __future__ import annotations

import gc
import struct
from array import array
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from types import TracebackType
from typing import Any, overload

from engine._core import ffi, lib
from engine.book_types import (
    INT64_MAX,
    INT64_MIN,
    MAX_PRICE,
    MAX_QTY,
    Bbo,
    CancelReason,
    Event,
    EventType,
    Level,
    Op,
    OpType,
    OrderInfo,
    QueuePosition,
    Side,
    TimeInForce,
)
from engine.errors import BadOperation, OutOfMemory, UnknownOrderId, check, raise_for

__all__ = [
    "MAX_PRICE",
    "MAX_QTY",
    "Bbo",
    "CancelReason",
    "Event",
    "EventBatch",
    "EventType",
    "Level",
    "Op",
    "OpBatch",
    "OpType",
    "OrderBook",
    "OrderInfo",
    "QueuePosition",
    "Side",
    "TimeInForce",
]

# lob_op: int64 id, price, qty; uint8 type, side, tif; 5 pad bytes.
_OP = struct.Struct("<qqqBBB5x")
# lob_event: int64 id, other, price, qty, leaves, other_leaves; uint8 type, side; 2 pad; int32 code.
_EV = struct.Struct("<6qBBxxi")
# lob_level: int64 price, qty, count.
_LEVEL = struct.Struct("<3q")
_OP_SIZE = _OP.size
_EV_SIZE = _EV.size
assert ffi.sizeof("lob_op") == _OP_SIZE and ffi.sizeof("lob_event") == _EV_SIZE
assert ffi.sizeof("lob_level") == _LEVEL.size
_new_level = partial(tuple.__new__, Level)  # Level(*fields) made in C (Level._make is Python)

#: Ops per lob_apply call: bounds the C event buffer (it grows to one chunk's events).
CHUNK = 1 << 14

# Lookup tables for decoding: indexing a tuple is cheaper than calling the enum.
_EVENT_TYPES = (None, *EventType)
_SIDES = (Side.BUY, Side.SELL)
_REASONS = tuple(CancelReason)
_CANCEL = EventType.CANCEL
_REJECT = EventType.REJECT
_new_tuple = tuple.__new__
# Column name -> (struct format of a memoryview cast, stride in items, offset in items).
_COLUMNS = {
    "id": ("q", 7, 0),
    "other": ("q", 7, 1),
    "price": ("q", 7, 2),
    "qty": ("q", 7, 3),
    "leaves": ("q", 7, 4),
    "other_leaves": ("q", 7, 5),
    "type": ("B", 56, 48),
    "side": ("B", 56, 49),
    "code": ("i", 14, 13),
}
#: Events the per-call path copies out in its one C call; more are read from the book.
_ONE_CAP = 64


def _event(raw: tuple[int, ...]) -> Event:
    id_, other, price, qty, leaves, other_leaves, etype, side, code = raw
    t = _EVENT_TYPES[etype]
    # tuple.__new__ skips the NamedTuple's Python-level __new__: half the cost per event.
    return _new_tuple(Event, (
        t,
        id_,
        _SIDES[side] if side < 2 else side,
        price,
        qty,
        leaves,
        other,
        other_leaves,
        _REASONS[code] if t is _CANCEL else code,
    ))


class OpBatch:
    """A growable packed ``lob_op[]`` for :meth:`OrderBook.apply`.

    Fields must fit ``lob_op`` (int64 id/price/qty, uint8 type/side/tif) or adding the op
    raises ValueError (OverflowError, a subclass of ArithmeticError, from ``from_columns``);
    values that fit but are invalid (a negative qty, side 7, ...) are accepted here and
    become REJECT events when applied.
    """

    __slots__ = ("_buf",)

    def __init__(self, ops: Iterable[Op | tuple[int, int, int, int, int, int]] = ()) -> None:
        self._buf = bytearray()
        self.extend(ops)

    @classmethod
    def from_columns(
        cls,
        types: Sequence[int],
        ids: Sequence[int],
        sides: Sequence[int],
        prices: Sequence[int],
        qtys: Sequence[int],
        tifs: Sequence[int] | None = None,
    ) -> OpBatch:
        """Build from equal-length columns (lists, ``array``\\ s or any int sequences).

        The fastest way in from Python: each column is copied into the packed buffer with
        one strided memoryview assignment, with no Python object per op.
        """
        n = len(types)
        if not len(ids) == len(sides) == len(prices) == len(qtys) == n or (
            tifs is not None and len(tifs) != n
        ):
            raise ValueError("columns differ in length")
        batch = cls()
        buf = bytearray(n * _OP_SIZE)
        if n:
            words = memoryview(buf).cast("q")
            words[0::4] = _int64s(ids)
            words[1::4] = _int64s(prices)
            words[2::4] = _int64s(qtys)
            raw = memoryview(buf)
            raw[24::_OP_SIZE] = bytes(types)
            raw[25::_OP_SIZE] = bytes(sides)
            if tifs is not None:
                raw[26::_OP_SIZE] = bytes(tifs)
        batch._buf = buf
        return batch

    @classmethod
    def from_raw(cls, data: bytes | bytearray | memoryview) -> OpBatch:
        """Wrap packed ``lob_op`` records (e.g. a file written by a C program); copied."""
        if len(data) % _OP_SIZE:
            raise ValueError(f"{len(data)} bytes is not a whole number of {_OP_SIZE}-byte ops")
        batch = cls()
        batch._buf = bytearray(data)
        return batch

    def append(
        self,
        type: int,
        id: int,
        side: int = Side.BUY,
        price: int = 0,
        qty: int = 0,
        tif: int = TimeInForce.DAY,
    ) -> None:
        try:
            self._buf += _OP.pack(id, price, qty, type, side, tif)
        except struct.error as e:
            raise ValueError(f"op does not fit lob_op: {e}") from None

    def extend(self, ops: Iterable[Op | tuple[int, int, int, int, int, int]]) -> None:
        pack = _OP.pack
        try:
            packed = b"".join([pack(o[1], o[3], o[4], o[0], o[2], o[5]) for o in ops])
        except struct.error as e:
            raise ValueError(f"op does not fit lob_op: {e}") from None
        self._buf += packed

    def clear(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf) // _OP_SIZE

    def __getitem__(self, i: int) -> Op:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("OpBatch index out of range")
        id_, price, qty, t, side, tif = _OP.unpack_from(self._buf, i * _OP_SIZE)
        return Op(t, id_, side, price, qty, tif)

    def __iter__(self) -> Iterator[Op]:
        for id_, price, qty, t, side, tif in _OP.iter_unpack(self._buf):
            yield Op(t, id_, side, price, qty, tif)

    def __repr__(self) -> str:
        return f"OpBatch({len(self)} ops)"

    @property
    def raw(self) -> bytearray:
        """The packed ``lob_op`` records (do not resize while a book applies them)."""
        return self._buf


def _int64s(column: Sequence[int]) -> Any:
    if isinstance(column, array) and column.typecode == "q":
        return column
    return array("q", column)


class EventBatch:
    """The events of one :meth:`OrderBook.apply`, decoded lazily.

    Holds a copy of the packed ``lob_event`` records (so it stays valid after the book
    moves on). ``len``, indexing and :meth:`column` build no Python object per event;
    iteration and :meth:`to_list` build :class:`Event` tuples.
    """

    __slots__ = ("_data", "applied")

    def __init__(self, data: bytes | bytearray, applied: int) -> None:
        self._data = data
        #: ops applied (all of them: a failed apply raises instead)
        self.applied = applied

    def __len__(self) -> int:
        return len(self._data) // _EV_SIZE

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...
    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        n = len(self)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("EventBatch index out of range")
        return _event(_EV.unpack_from(self._data, i * _EV_SIZE))

    def __iter__(self) -> Iterator[Event]:
        return map(_event, _EV.iter_unpack(self._data))

    def to_list(self) -> list[Event]:
        """Every event as an :class:`Event`.

        The cyclic garbage collector is paused meanwhile: the new tuples hold only ints and
        enums, so they can form no cycle, and otherwise the collector rescans the growing
        list again and again (about half the time of a big batch)."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return list(map(_event, _EV.iter_unpack(self._data)))
        finally:
            if enabled:
                gc.enable()

    def column(self, name: str) -> memoryview:
        """One field of every event, as a (strided) memoryview of its C type: ``id``,
        ``other``, ``price``, ``qty``, ``leaves``, ``other_leaves`` (int64), ``type``,
        ``side`` (uint8), ``code`` (int32). ``.tolist()`` it, or hand it to numpy."""
        try:
            fmt, stride, offset = _COLUMNS[name]
        except KeyError:
            raise KeyError(f"no event column {name!r}; one of {', '.join(_COLUMNS)}") from None
        view = memoryview(self._data)
        if fmt == "q":
            view = view.cast("q")
        elif fmt == "i":
            view = view.cast("i")
        return view[offset::stride]

    @property
    def raw(self) -> bytes | bytearray:
        """The packed ``lob_event`` records (do not modify)."""
        return self._data

    def __repr__(self) -> str:
        return f"EventBatch({len(self)} events from {self.applied} ops)"


def _fit64(v: int) -> int:
    return v if INT64_MIN <= v <= INT64_MAX else (INT64_MAX if v > 0 else INT64_MIN)


def _fit8(v: int) -> int:
    return v if 0 <= v <= 255 else 255


class OrderBook:
    """One symbol's C limit order book holding at most ``max_orders`` resting orders.

    Memory for the order pool and id hash is reserved up front (about 48 bytes an order)
    but only touched as it is used. Call :meth:`close` (or use ``with``) to free it at once;
    otherwise it is freed when the object is collected. A closed book raises ValueError.
    """

    def __init__(self, max_orders: int = 1_000_000) -> None:
        if not 1 <= max_orders < 1 << 31:
            raise ValueError(f"max_orders must be in [1, 2**31), not {max_orders}")
        book = lib.lob_new(max_orders)
        if book == ffi.NULL:
            raise OutOfMemory(f"cannot allocate an order book of {max_orders} orders")
        self._book: Any = ffi.gc(book, lib.lob_free)
        self.max_orders = max_orders
        self._one = bytearray(_OP_SIZE)
        self._one_ptr = ffi.from_buffer("lob_op[]", self._one)
        self._out = bytearray(_ONE_CAP * _EV_SIZE)
        self._out_ptr = ffi.from_buffer("lob_event[]", self._out)
        self._applied = ffi.new("size_t *")
        self._bbo = ffi.new("int64_t[4]")
        self._levels = ffi.new("lob_level[]", 64)
        self._info = ffi.new("lob_order_info *")
        self._ahead = ffi.new("int64_t[2]")

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Free the C book now; idempotent."""
        if self._book is not None:
            ffi.release(self._book)
            self._book = None

    def __enter__(self) -> OrderBook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ptr(self) -> Any:
        book = self._book
        if book is None:
            raise ValueError("the order book is closed")
        return book

    # ------------------------------------------------------------------ batches

    def apply(self, ops: OpBatch | Iterable[Op]) -> EventBatch:
        """Apply ops in order; every op's events (rejects included) come back in one batch.

        Raises only :class:`~engine.errors.OutOfMemory` if the C event buffer cannot grow;
        the ops before the failing one have then been applied (the message says how many).
        """
        book = self._ptr()
        batch = ops if isinstance(ops, OpBatch) else OpBatch(ops)
        n = len(batch)
        if n == 0:
            return EventBatch(b"", 0)
        out = bytearray()  # grows by appending each chunk's events: one copy per event
        with ffi.from_buffer("lob_op[]", batch.raw) as base:
            done = 0
            while done < n:
                k = min(CHUNK, n - done)
                count = lib.lob_apply(book, base + done, k, self._applied)
                if count < 0:
                    check(count, f"apply: {done + self._applied[0]} of {n} ops applied")
                out += ffi.buffer(lib.lob_events(book), count * _EV_SIZE)
                done += k
        return EventBatch(out, n)

    def apply_op(self, op: Op | tuple[int, int, int, int, int, int]) -> list[Event]:
        """Apply one op and return its events; a reject is an event, not an exception.

        Fields that do not fit ``lob_op`` are clamped to values the book rejects the same
        way (an id outside int64 becomes -1, a type/side/tif outside uint8 becomes 255).
        """
        return self._one_op(*op)

    def _one_op(self, t: int, id_: int, side: int, price: int, qty: int,
                tif: int) -> list[Event]:
        book = self._book
        if book is None:
            raise ValueError("the order book is closed")
        try:
            _OP.pack_into(self._one, 0, id_, price, qty, t, side, tif)
        except struct.error:
            id_ = id_ if INT64_MIN <= id_ <= INT64_MAX else -1
            _OP.pack_into(self._one, 0, id_, _fit64(price), _fit64(qty), _fit8(t), _fit8(side),
                          _fit8(tif))
        n = lib.lob_apply_copy(book, self._one_ptr, 1, self._applied, self._out_ptr, _ONE_CAP)
        if n == 1:  # the common case: one REST, CANCEL, REPLACE or REJECT
            return [_event(_EV.unpack_from(self._out))]
        if n < 0:
            raise_for(n, f"{_op_name(t)} id={id_}")
        data: Any = self._out if n <= _ONE_CAP else ffi.buffer(lib.lob_events(book),
                                                                n * _EV_SIZE)
        unpack = _EV.unpack_from
        return [_event(unpack(data, i * _EV_SIZE)) for i in range(n)]

    # ------------------------------------------------------------------ per-call ops

    def _call(self, t: int, id_: int, side: int, price: int, qty: int,
              tif: int) -> list[Event]:
        events = self._one_op(t, id_, side, price, qty, tif)
        first = events[0]
        if first.type is _REJECT:
            raise_for(first.code, f"{_op_name(t)} id={id_}")
        return events

    def limit(self, id: int, side: int, price: int, qty: int,
              tif: int = TimeInForce.DAY) -> list[Event]:
        """Limit order: match at price or better, then rest (DAY) / cancel (IOC, FOK)."""
        return self._call(OpType.LIMIT, id, side, price, qty, tif)

    def market(self, id: int, side: int, qty: int, tif: int = TimeInForce.DAY) -> list[Event]:
        """Market order: match at any price, cancel the rest (FOK: all or nothing)."""
        return self._call(OpType.MARKET, id, side, 0, qty, tif)

    def cancel(self, id: int, qty: int = 0) -> list[Event]:
        """Cancel qty of order id (0 or >= leaves: all of it), keeping its queue position."""
        return self._call(OpType.CANCEL, id, 0, 0, qty, 0)

    def replace(self, id: int, price: int, qty: int) -> list[Event]:
        """New price and leaves; keeps queue position only for same price and qty <= leaves."""
        return self._call(OpType.REPLACE, id, 0, price, qty, 0)

    def execute(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        """Feed: order id traded qty at the venue (unknown id: the level at side/price)."""
        return self._call(OpType.EXECUTE, id, side, price, qty, 0)

    def add(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        """Feed: rest without matching; id 0 adds anonymous quantity to the level."""
        return self._call(OpType.ADD, id, side, price, qty, 0)

    def reduce(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        """Feed: order id lost qty (unknown id: the level at side/price)."""
        return self._call(OpType.REDUCE, id, side, price, qty, 0)

    def delete(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        """Feed: order id is gone (unknown id: the level at side/price loses qty)."""
        return self._call(OpType.DELETE, id, side, price, qty, 0)

    # ------------------------------------------------------------------ queries

    def bbo(self) -> Bbo:
        lib.lob_bbo(self._ptr(), self._bbo)
        b = self._bbo
        return Bbo(b[0], b[1], b[2], b[3])

    def depth(self, side: int, n: int | None = None) -> list[Level]:
        """The best ``n`` levels of side (all if None), best first."""
        book = self._ptr()
        _check_side(side)
        if n is None:
            n = lib.lob_level_count(book, side)
        elif n < 0:
            n = 0
        elif len(self._levels) < n:  # never more room than the side has levels: a
            n = min(n, lib.lob_level_count(book, side))  # MarketDataRequest may ask 10**12
        if len(self._levels) < n:
            self._levels = ffi.new("lob_level[]", max(n, 2 * len(self._levels)))
        got = lib.lob_depth(book, side, self._levels, n)
        # unpacked from the raw records: reading cffi fields one by one costs twice as much
        return list(map(_new_level, _LEVEL.iter_unpack(ffi.buffer(self._levels,
                                                                  got * _LEVEL.size))))

    def top_records(self, n: int) -> tuple[bytes, bytes]:
        """The best ``n`` levels of each side (best first), bids then asks, as raw
        ``lob_level`` records: three little-endian int64 each (price, qty, orders, as
        :class:`Level`). For callers that keep the last answer (equal bytes, same levels)
        and want no object per level."""
        book = self._ptr()
        if n < 0:  # (max(0, n) costs a call, and algos ask on every snapshot)
            n = 0
        if len(self._levels) < n:  # never more room than the sides have levels
            n = min(n, max(lib.lob_level_count(book, 0), lib.lob_level_count(book, 1)))
        if len(self._levels) < n:
            self._levels = ffi.new("lob_level[]", max(n, 2 * len(self._levels)))
        levels = self._levels
        got = lib.lob_depth(book, 0, levels, n)
        bids = ffi.buffer(levels, got * _LEVEL.size)[:]
        got = lib.lob_depth(book, 1, levels, n)
        return bids, ffi.buffer(levels, got * _LEVEL.size)[:]

    def level_count(self, side: int) -> int:
        book = self._ptr()
        _check_side(side)
        return int(lib.lob_level_count(book, side))

    def order_count(self) -> int:
        """Resting orders with ids (anonymous quantity excluded)."""
        return int(lib.lob_order_count(self._ptr()))

    def order(self, id: int) -> OrderInfo | None:
        """The resting order id, or None."""
        if not INT64_MIN <= id <= INT64_MAX:
            return None
        if lib.lob_order(self._ptr(), id, self._info) != 0:
            return None
        o = self._info
        return OrderInfo(o.id, _SIDES[o.side], o.price, o.qty)

    def queue_position(self, id: int) -> QueuePosition:
        """Quantity and orders ahead of id at its level; raises UnknownOrderId."""
        if not INT64_MIN <= id <= INT64_MAX:
            raise UnknownOrderId(f"queue_position id={id}: no resting order has this id")
        a = self._ahead
        check(lib.lob_queue_position(self._ptr(), id, a, a + 1), f"queue_position id={id}")
        return QueuePosition(a[0], a[1])

    def truncate(self, side: int, keep: int) -> int:
        """Drop every level of side beyond the best ``keep``, with its orders; no events.
        Returns the number of levels dropped."""
        book = self._ptr()
        _check_side(side)
        if keep < 0:
            raise ValueError("keep must be >= 0")
        return int(lib.lob_truncate(book, side, keep))

    def clear(self) -> None:
        lib.lob_clear(self._ptr())

    def clear_feed(self) -> None:
        """Remove the feed's liquidity (anonymous quantity and orders rested by ``add``);
        limit orders stay in their queue order (csrc/book.h). No events."""
        lib.lob_clear_feed(self._ptr())

    def own_last(self) -> None:
        """In every level, move the limit orders behind the ``add`` ones, keeping their
        order (csrc/book.h). No events."""
        lib.lob_own_last(self._ptr())

    def check_invariants(self) -> None:
        """Debug: verify every internal invariant of the C book (O(book size + capacity))."""
        line = lib.lob_check_invariants(self._ptr())
        if line:
            raise AssertionError(f"order book corrupt: check at csrc/book.c:{line} failed")


def _check_side(side: int) -> None:
    if side not in (0, 1):
        raise BadOperation(f"side must be 0 (buy) or 1 (sell), not {side}")


def _op_name(t: int) -> str:
    try:
        return OpType(t).name.lower()
    except ValueError:
        return f"op type {t}"
