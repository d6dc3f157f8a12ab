"""A pure-Python limit order book, the slow but obviously right twin of the C book.

Same contract (csrc/book.h's top comment), same method names and the same :class:`Event`
stream as :class:`engine.book.OrderBook`, so property tests can drive both with one op
stream and compare everything. Written for clarity, not speed: levels live in
``sortedcontainers.SortedDict`` keyed by price, each with an anonymous quantity and an
insertion-ordered dict of orders (its FIFO), and totals are summed when asked for.

Matching is done in two steps, plan then apply: the plan (which maker gives how much) is
computed without touching the book, every check that depends on it (FOK, a full pool) is
made on the plan, and only then does anything change. That is what makes a reject change
nothing, here as in C.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType

from sortedcontainers import SortedDict

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
from engine.errors import (
    BadOperation,
    BadOrderId,
    BadPrice,
    BadQuantity,
    CapacityFull,
    DuplicateOrderId,
    UnknownOrderId,
    raise_for,
)

# the reject codes, as the C book's (csrc/status.h through engine.errors)
_UNKNOWN_ID = UnknownOrderId.code
_DUPLICATE_ID = DuplicateOrderId.code
_BAD_QTY = BadQuantity.code
_BAD_PRICE = BadPrice.code
_FULL = CapacityFull.code
_BAD_OP = BadOperation.code
_BAD_ID = BadOrderId.code

_TRADE, _REST, _CANCEL, _REPLACE, _REJECT = (
    EventType.TRADE,
    EventType.REST,
    EventType.CANCEL,
    EventType.REPLACE,
    EventType.REJECT,
)


@dataclass(slots=True)
class _Order:
    id: int
    side: Side
    price: int
    qty: int  # leaves
    fed: bool = False  # rested by a feed ADD, not by a limit order: what level fallbacks take


@dataclass(slots=True)
class _Level:
    price: int
    anon: int = 0
    queue: dict[int, _Order] = field(default_factory=dict)  # insertion order = time priority

    @property
    def total(self) -> int:
        return self.anon + sum(o.qty for o in self.queue.values())

    @property
    def empty(self) -> bool:
        return self.anon == 0 and not self.queue

    @property
    def feed_qty(self) -> int:
        """What a level fallback can take: the anonymous quantity and the feed's orders."""
        return self.anon + sum(o.qty for o in self.queue.values() if o.fed)


# One fill of a plan: the level, the maker (None = the level's anonymous quantity), the qty.
_Fill = tuple[_Level, _Order | None, int]


def _level_fills(level: _Level, qty: int, feed_only: bool = False) -> list[_Fill]:
    """Up to qty from one level: its anonymous quantity first, then its queue in order (with
    ``feed_only``, only the orders a feed added)."""
    fills: list[_Fill] = []
    makers: list[_Order | None] = [None] if level.anon else []
    makers.extend(o for o in level.queue.values() if o.fed or not feed_only)
    for maker in makers:
        if qty == 0:
            break
        take = min(qty, level.anon if maker is None else maker.qty)
        fills.append((level, maker, take))
        qty -= take
    return fills


class _Reject(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class ReferenceBook:
    """Pure-Python order book with the C book's contract; ``max_orders`` bounds resting orders."""

    def __init__(self, max_orders: int = 1_000_000) -> None:
        if not 1 <= max_orders < 1 << 31:
            raise ValueError(f"max_orders must be in [1, 2**31), not {max_orders}")
        self.max_orders = max_orders
        self._sides: tuple[SortedDict, SortedDict] = (SortedDict(), SortedDict())
        self._orders: dict[int, _Order] = {}

    def close(self) -> None:
        """Nothing to free; present so both books can be used the same way."""

    def __enter__(self) -> ReferenceBook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ structure

    def _levels(self, side: int) -> Iterator[_Level]:
        """Levels of side, best first: highest bid, lowest ask."""
        book = self._sides[side]
        return iter(reversed(book.values()) if side == Side.BUY else book.values())

    def _level(self, side: int, price: int) -> _Level | None:
        level: _Level | None = self._sides[side].get(price)
        return level

    def _total_at(self, side: int, price: int) -> int:
        level = self._level(side, price)
        return level.total if level else 0

    def _fallback_level(self, side: int, price: int) -> tuple[_Level, int]:
        """The level a fallback (an unknown id) acts on and its feed liquidity; UNKNOWN_ID
        if there is none there."""
        level = self._level(side, price)
        avail = 0 if level is None else level.feed_qty
        if level is None or avail == 0:
            raise _Reject(_UNKNOWN_ID)
        return level, avail

    def _drop_if_empty(self, side: int, level: _Level) -> None:
        if level.empty:
            del self._sides[side][level.price]

    def _rest(self, order: _Order) -> Event:
        book = self._sides[order.side]
        level = book.get(order.price)
        if level is None:
            level = book[order.price] = _Level(order.price)
        level.queue[order.id] = order
        self._orders[order.id] = order
        return Event(_REST, order.id, order.side, order.price, order.qty, order.qty)

    # ------------------------------------------------------------------ matching

    def _plan(self, side: Side, limit: int | None, qty: int) -> list[_Fill]:
        """Fills a taker of side would get, best price then time; changes nothing."""
        fills: list[_Fill] = []
        left = qty
        for level in self._levels(1 - side):
            if left == 0 or (limit is not None and (level.price > limit if side == Side.BUY
                                                    else level.price < limit)):
                break
            level_fills = _level_fills(level, left)
            fills.extend(level_fills)
            left -= sum(take for _, _, take in level_fills)
        return fills

    def _fill(self, taker_id: int, side: Side, qty: int, fills: list[_Fill]) -> list[Event]:
        """Apply a plan for a taker of qty; TRADE events, emptied makers and levels removed."""
        events: list[Event] = []
        left = qty
        for level, maker, take in fills:
            left -= take
            if maker is None:
                level.anon -= take
                events.append(Event(_TRADE, taker_id, side, level.price, take, left, 0,
                                    level.anon))
            else:
                maker.qty -= take
                events.append(Event(_TRADE, taker_id, side, level.price, take, left, maker.id,
                                    maker.qty))
                if maker.qty == 0:
                    del level.queue[maker.id]
                    del self._orders[maker.id]
            self._drop_if_empty(1 - side, level)
        return events

    def _frees_slots(self, fills: list[_Fill]) -> int:
        return sum(1 for _, maker, take in fills if maker is not None and take == maker.qty)

    # ------------------------------------------------------------------ operations

    def apply_op(self, op: Op | tuple[int, int, int, int, int, int]) -> list[Event]:
        """Apply one op and return its events; a reject is an event, not an exception."""
        t, id_, side, price, qty, tif = op
        try:
            _check_fields(t, id_, side, price, qty, tif)
            if t == OpType.LIMIT:
                return self._limit(id_, Side(side), price, qty, TimeInForce(tif))
            if t == OpType.MARKET:
                return self._market(id_, Side(side), qty, TimeInForce(tif))
            if t == OpType.CANCEL:
                return self._cancel(id_, qty)
            if t == OpType.REPLACE:
                return self._replace(id_, price, qty)
            if t == OpType.EXECUTE:
                return self._execute(id_, Side(side), price, qty)
            if t == OpType.ADD:
                return self._add(id_, Side(side), price, qty)
            return self._reduce(id_, Side(side), price, qty, whole=t == OpType.DELETE)
        except _Reject as r:
            return [Event(_REJECT, id_, side, price, qty, 0, t, 0, r.code)]

    def apply(self, ops: Iterable[Op | tuple[int, int, int, int, int, int]]) -> list[Event]:
        """Apply ops in order (an :class:`engine.book.OpBatch` works too); all their events."""
        events: list[Event] = []
        for op in ops:
            events.extend(self.apply_op(op))
        return events

    def _limit(self, id_: int, side: Side, price: int, qty: int, tif: TimeInForce) -> list[Event]:
        if id_ in self._orders:
            raise _Reject(_DUPLICATE_ID)
        day = tif == TimeInForce.DAY
        if day and self._total_at(side, price) + qty > INT64_MAX:
            raise _Reject(_BAD_QTY)
        fills = self._plan(side, price, qty)
        left = qty - sum(take for _, _, take in fills)
        if day and left and len(self._orders) - self._frees_slots(fills) >= self.max_orders:
            raise _Reject(_FULL)
        if tif == TimeInForce.FOK and left:
            return [Event(_CANCEL, id_, side, price, qty, 0, code=CancelReason.FOK)]
        events = self._fill(id_, side, qty, fills)
        if left:
            if day:
                events.append(self._rest(_Order(id_, side, price, left)))
            else:
                events.append(Event(_CANCEL, id_, side, price, left, 0, code=CancelReason.IOC))
        return events

    def _market(self, id_: int, side: Side, qty: int, tif: TimeInForce) -> list[Event]:
        if id_ in self._orders:
            raise _Reject(_DUPLICATE_ID)
        fills = self._plan(side, None, qty)
        left = qty - sum(take for _, _, take in fills)
        if tif == TimeInForce.FOK and left:
            return [Event(_CANCEL, id_, side, 0, qty, 0, code=CancelReason.FOK)]
        events = self._fill(id_, side, qty, fills)
        if left:
            events.append(Event(_CANCEL, id_, side, 0, left, 0, code=CancelReason.MARKET))
        return events

    def _cancel(self, id_: int, qty: int) -> list[Event]:
        order = self._orders.get(id_)
        if order is None:
            raise _Reject(_UNKNOWN_ID)
        return [self._take(order, order.qty if qty == 0 else qty)]

    def _take(self, order: _Order, qty: int) -> Event:
        """A requested cancel of up to qty of a known order."""
        take = min(qty, order.qty)
        order.qty -= take
        if order.qty == 0:
            level = self._sides[order.side][order.price]
            del level.queue[order.id]
            del self._orders[order.id]
            self._drop_if_empty(order.side, level)
        return Event(_CANCEL, order.id, order.side, order.price, take, order.qty,
                     code=CancelReason.REQUESTED)

    def _replace(self, id_: int, price: int, qty: int) -> list[Event]:
        order = self._orders.get(id_)
        if order is None:
            raise _Reject(_UNKNOWN_ID)
        side = order.side
        if price == order.price and qty <= order.qty:
            order.qty = qty
            return [Event(_REPLACE, id_, side, price, qty, qty, code=1)]
        target = self._total_at(side, price) - (order.qty if price == order.price else 0)
        if target + qty > INT64_MAX:
            raise _Reject(_BAD_QTY)
        # Out of the queue and the book, then in again as a new DAY limit order that keeps
        # its id. It needs no free slot: it gives its own back first.
        level = self._sides[side][order.price]
        del level.queue[id_]
        del self._orders[id_]
        self._drop_if_empty(side, level)
        events = [Event(_REPLACE, id_, side, price, qty, qty, code=0)]
        # a feed order re-enters as ADD rests one: without matching
        fills = [] if order.fed else self._plan(side, price, qty)
        events.extend(self._fill(id_, side, qty, fills))
        left = qty - sum(take for _, _, take in fills)
        if left:
            events.append(self._rest(_Order(id_, side, price, left, order.fed)))
        return events

    def _execute(self, id_: int, side: Side, price: int, qty: int) -> list[Event]:
        order = self._orders.get(id_)
        if order is not None:
            if qty > order.qty:
                raise _Reject(_BAD_QTY)
            level = self._sides[order.side][order.price]
            return self._fill(0, Side(1 - order.side), qty, [(level, order, qty)])
        level, avail = self._fallback_level(side, price)
        if qty > avail:
            raise _Reject(_BAD_QTY)
        # The venue's taker is anonymous: its trades carry id 0 and leaves 0.
        events = self._fill(0, Side(1 - side), qty, _level_fills(level, qty, feed_only=True))
        return [e._replace(leaves=0) for e in events]

    def _add(self, id_: int, side: Side, price: int, qty: int) -> list[Event]:
        if id_ and id_ in self._orders:
            raise _Reject(_DUPLICATE_ID)
        if self._total_at(side, price) + qty > INT64_MAX:
            raise _Reject(_BAD_QTY)
        if id_ and len(self._orders) >= self.max_orders:
            raise _Reject(_FULL)
        if id_:
            return [self._rest(_Order(id_, side, price, qty, fed=True))]
        book = self._sides[side]
        level = book.get(price)
        if level is None:
            level = book[price] = _Level(price)
        level.anon += qty
        return [Event(_REST, 0, side, price, qty, level.anon)]

    def _reduce(self, id_: int, side: Side, price: int, qty: int, whole: bool) -> list[Event]:
        order = self._orders.get(id_)
        if order is not None:
            return [self._take(order, order.qty if whole else qty)]
        level, avail = self._fallback_level(side, price)
        left = min(qty, avail)
        events: list[Event] = []
        if level.anon:
            take = min(left, level.anon)
            level.anon -= take
            left -= take
            events.append(Event(_CANCEL, id_, side, price, take, 0, 0, level.anon,
                                CancelReason.LEVEL))
        for maker in list(level.queue.values()):
            if left == 0:
                break
            if not maker.fed:
                continue
            take = min(left, maker.qty)
            maker.qty -= take
            left -= take
            events.append(Event(_CANCEL, id_, side, price, take, 0, maker.id, maker.qty,
                                CancelReason.LEVEL))
            if maker.qty == 0:
                del level.queue[maker.id]
                del self._orders[maker.id]
        self._drop_if_empty(side, level)
        return events

    # ------------------------------------------------------------------ per-call ops

    def _call(self, op: tuple[int, int, int, int, int, int]) -> list[Event]:
        events = self.apply_op(op)
        if events[0].type == EventType.REJECT:
            raise_for(events[0].code, f"{OpType(op[0]).name.lower()} id={op[1]}")
        return events

    def limit(self, id: int, side: int, price: int, qty: int,
              tif: int = TimeInForce.DAY) -> list[Event]:
        return self._call((OpType.LIMIT, id, side, price, qty, tif))

    def market(self, id: int, side: int, qty: int, tif: int = TimeInForce.DAY) -> list[Event]:
        return self._call((OpType.MARKET, id, side, 0, qty, tif))

    def cancel(self, id: int, qty: int = 0) -> list[Event]:
        return self._call((OpType.CANCEL, id, 0, 0, qty, 0))

    def replace(self, id: int, price: int, qty: int) -> list[Event]:
        return self._call((OpType.REPLACE, id, 0, price, qty, 0))

    def execute(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        return self._call((OpType.EXECUTE, id, side, price, qty, 0))

    def add(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        return self._call((OpType.ADD, id, side, price, qty, 0))

    def reduce(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        return self._call((OpType.REDUCE, id, side, price, qty, 0))

    def delete(self, id: int, side: int, price: int, qty: int) -> list[Event]:
        return self._call((OpType.DELETE, id, side, price, qty, 0))

    # ------------------------------------------------------------------ queries

    def bbo(self) -> Bbo:
        bid = next(self._levels(Side.BUY), None)
        ask = next(self._levels(Side.SELL), None)
        return Bbo(bid.price if bid else 0, bid.total if bid else 0,
                   ask.price if ask else 0, ask.total if ask else 0)

    def depth(self, side: int, n: int | None = None) -> list[Level]:
        _check_side(side)
        levels = list(self._levels(side))
        if n is not None:
            levels = levels[: max(0, n)]
        return [Level(lv.price, lv.total, len(lv.queue) + (lv.anon > 0)) for lv in levels]

    def level_count(self, side: int) -> int:
        _check_side(side)
        return len(self._sides[side])

    def order_count(self) -> int:
        return len(self._orders)

    def order(self, id: int) -> OrderInfo | None:
        o = self._orders.get(id)
        if o is None:
            return None
        return OrderInfo(o.id, o.side, o.price, o.qty)

    def queue_position(self, id: int) -> QueuePosition:
        order = self._orders.get(id)
        if order is None:
            raise UnknownOrderId(f"queue_position id={id}: no resting order has this id")
        level = self._sides[order.side][order.price]
        qty, ahead = level.anon, int(level.anon > 0)
        for other in level.queue.values():
            if other is order:
                break
            qty += other.qty
            ahead += 1
        return QueuePosition(qty, ahead)

    def truncate(self, side: int, keep: int) -> int:
        _check_side(side)
        if keep < 0:
            raise ValueError("keep must be >= 0")
        doomed = list(self._levels(side))[keep:]
        for level in doomed:
            for order_id in level.queue:
                del self._orders[order_id]
            del self._sides[side][level.price]
        return len(doomed)

    def clear(self) -> None:
        for book in self._sides:
            book.clear()
        self._orders.clear()

    def clear_feed(self) -> None:
        for book in self._sides:
            for price, level in list(book.items()):
                level.anon = 0
                for order in [o for o in level.queue.values() if o.fed]:
                    del level.queue[order.id]
                    del self._orders[order.id]
                if level.empty:
                    del book[price]

    def own_last(self) -> None:
        for book in self._sides:
            for level in book.values():
                fed = {i: o for i, o in level.queue.items() if o.fed}
                level.queue = fed | {i: o for i, o in level.queue.items() if not o.fed}

    def check_invariants(self) -> None:
        """Levels are non-empty, orders sit at their own side and price, counts agree."""
        queued = 0
        for side, book in enumerate(self._sides):
            for price, level in book.items():
                assert level.price == price and not level.empty and level.anon >= 0
                for order_id, order in level.queue.items():
                    assert order.id == order_id and self._orders.get(order_id, None) is not None
                    assert self._orders[order_id] is order
                    assert order.side == side and order.price == price and order.qty > 0
                queued += len(level.queue)
        assert queued == len(self._orders) <= self.max_orders


def _check_side(side: int) -> None:
    if side not in (0, 1):
        raise BadOperation(f"side must be 0 (buy) or 1 (sell), not {side}")


def _check_fields(t: int, id_: int, side: int, price: int, qty: int, tif: int) -> None:
    """Checks 1-4 of book.h, in its order; raise _Reject with the first failure."""
    if not OpType.LIMIT <= t <= OpType.DELETE:
        raise _Reject(_BAD_OP)
    if t not in (OpType.CANCEL, OpType.REPLACE) and side not in (Side.BUY, Side.SELL):
        raise _Reject(_BAD_OP)
    if t in (OpType.LIMIT, OpType.MARKET) and tif not in (0, 1, 2):
        raise _Reject(_BAD_OP)
    real_id = t in (OpType.LIMIT, OpType.MARKET, OpType.CANCEL, OpType.REPLACE)
    if (id_ <= 0 if real_id else id_ < 0) or id_ > INT64_MAX or id_ < INT64_MIN:
        raise _Reject(_BAD_ID)
    if t not in (OpType.MARKET, OpType.CANCEL) and not 0 < price <= MAX_PRICE:
        raise _Reject(_BAD_PRICE)
    low = 0 if t == OpType.CANCEL else 1
    if not low <= qty <= MAX_QTY:
        raise _Reject(_BAD_QTY)
