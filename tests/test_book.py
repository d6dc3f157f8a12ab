"""Table-style tests of the order book contract (csrc/book.h), run on both implementations:
the C book through its wrapper and the pure-Python ReferenceBook. Then the wrapper's own
parts: OpBatch, EventBatch, lifecycle and argument handling."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from engine.book import (
    MAX_PRICE,
    MAX_QTY,
    Bbo,
    CancelReason,
    Event,
    EventBatch,
    EventType,
    Level,
    Op,
    OpBatch,
    OpType,
    OrderBook,
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
    CoreError,
    DuplicateOrderId,
    UnknownOrderId,
)
from engine.refbook import ReferenceBook

B, S = Side.BUY, Side.SELL
DAY, IOC, FOK = TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
INT64_MAX = (1 << 63) - 1


def trade(id_: int, side: int, price: int, qty: int, leaves: int, other: int,
          other_leaves: int) -> Event:
    return Event(EventType.TRADE, id_, side, price, qty, leaves, other, other_leaves)


def rest(id_: int, side: int, price: int, qty: int, leaves: int | None = None) -> Event:
    return Event(EventType.REST, id_, side, price, qty, qty if leaves is None else leaves)


def cxl(id_: int, side: int, price: int, qty: int, leaves: int, reason: CancelReason,
        other: int = 0, other_leaves: int = 0) -> Event:
    return Event(EventType.CANCEL, id_, side, price, qty, leaves, other, other_leaves, reason)


def rpl(id_: int, side: int, price: int, qty: int, kept: bool) -> Event:
    return Event(EventType.REPLACE, id_, side, price, qty, qty, code=int(kept))


@pytest.fixture(params=["c", "ref"])
def make(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of empty books of the parametrized implementation."""
    made: list[Any] = []

    def factory(max_orders: int = 64) -> Any:
        book = OrderBook(max_orders) if request.param == "c" else ReferenceBook(max_orders)
        made.append(book)
        return book

    yield factory
    for book in made:
        book.check_invariants()
        book.close()


def test_resting_orders_and_queries(make: Any) -> None:
    book = make()
    assert book.bbo() == Bbo(0, 0, 0, 0)
    assert book.limit(1, B, 100, 10) == [rest(1, B, 100, 10)]
    book.limit(2, B, 99, 5)
    book.limit(3, B, 100, 7)
    book.limit(4, S, 102, 4)
    book.limit(5, S, 101, 6)
    assert book.bbo() == Bbo(100, 17, 101, 6)
    assert book.depth(B) == [Level(100, 17, 2), Level(99, 5, 1)]
    assert book.depth(S, 1) == [Level(101, 6, 1)]
    assert book.depth(S, 0) == []
    # a depth beyond the side's levels is the whole side, whatever it asks room for (a
    # MarketDataRequest's MarketDepth of 10**12 raised MemoryError, 10**20 OverflowError)
    for huge in (10**12, 10**20):
        assert book.depth(B, huge) == book.depth(B)
    assert book.level_count(B) == 2 and book.order_count() == 5
    assert book.order(3) == OrderInfo(3, B, 100, 7)
    assert book.order(42) is None and book.order(0) is None and book.order(-1) is None
    assert book.queue_position(3) == QueuePosition(10, 1)
    with pytest.raises(UnknownOrderId):
        book.queue_position(42)
    with pytest.raises(BadOperation):
        book.depth(2)


def test_price_time_priority_and_partial_fills(make: Any) -> None:
    book = make()
    book.limit(1, S, 101, 5)
    book.limit(2, S, 101, 5)
    book.limit(3, S, 100, 5)
    book.limit(4, S, 103, 5)
    # best price first (3 @ 100), then time at 101 (1 before 2), at the maker's price
    assert book.limit(10, B, 101, 12) == [
        trade(10, B, 100, 5, 7, 3, 0),
        trade(10, B, 101, 5, 2, 1, 0),
        trade(10, B, 101, 2, 0, 2, 3),
    ]
    assert book.order(2) == OrderInfo(2, S, 101, 3)
    assert book.limit(11, B, 104, 10) == [
        trade(11, B, 101, 3, 7, 2, 0),
        trade(11, B, 103, 5, 2, 4, 0),
        rest(11, B, 104, 2),
    ]
    assert book.level_count(S) == 0 and book.bbo() == Bbo(104, 2, 0, 0)


def test_ioc_fok_and_market_remainders(make: Any) -> None:
    book = make()
    book.limit(1, S, 101, 5)
    book.limit(2, S, 102, 5)
    assert book.limit(10, B, 101, 8, IOC) == [
        trade(10, B, 101, 5, 3, 1, 0),
        cxl(10, B, 101, 3, 0, CancelReason.IOC),
    ]
    assert book.limit(11, B, 102, 6, FOK) == [cxl(11, B, 102, 6, 0, CancelReason.FOK)]
    assert book.order(2) == OrderInfo(2, S, 102, 5), "a failed FOK trades nothing"
    assert book.limit(12, B, 102, 5, FOK) == [trade(12, B, 102, 5, 0, 2, 0)]
    assert book.market(13, S, 4) == [cxl(13, S, 0, 4, 0, CancelReason.MARKET)]
    book.limit(3, B, 99, 2)
    book.limit(4, B, 98, 2)
    assert book.market(14, S, 5, IOC) == [
        trade(14, S, 99, 2, 3, 3, 0),
        trade(14, S, 98, 2, 1, 4, 0),
        cxl(14, S, 0, 1, 0, CancelReason.MARKET),
    ]
    book.limit(5, B, 97, 2)
    assert book.market(15, S, 3, FOK) == [cxl(15, S, 0, 3, 0, CancelReason.FOK)]
    assert book.market(16, S, 2, FOK) == [trade(16, S, 97, 2, 0, 5, 0)]
    assert book.order_count() == 0


def test_cancel_and_replace_queue_position(make: Any) -> None:
    book = make()
    for i in (1, 2, 3):
        book.limit(i, B, 100, 10)
    assert book.cancel(1, 4) == [cxl(1, B, 100, 4, 6, CancelReason.REQUESTED)]
    assert book.queue_position(2) == QueuePosition(6, 1), "a partial cancel keeps position"
    assert book.replace(1, 100, 3) == [rpl(1, B, 100, 3, kept=True)]
    assert book.replace(1, 100, 3) == [rpl(1, B, 100, 3, kept=True)]
    assert book.queue_position(1) == QueuePosition(0, 0)
    assert book.replace(1, 100, 5) == [rpl(1, B, 100, 5, kept=False), rest(1, B, 100, 5)]
    assert book.queue_position(1) == QueuePosition(20, 2), "a size increase goes to the back"
    book.limit(4, S, 102, 3)
    assert book.replace(2, 102, 10) == [
        rpl(2, B, 102, 10, kept=False),
        trade(2, B, 102, 3, 7, 4, 0),
        rest(2, B, 102, 7),
    ]
    book.limit(5, S, 103, 9)
    assert book.replace(3, 103, 9) == [rpl(3, B, 103, 9, kept=False), trade(3, B, 103, 9, 0, 5, 0)]
    assert book.order(3) is None
    assert book.cancel(2) == [cxl(2, B, 102, 7, 0, CancelReason.REQUESTED)]
    assert book.cancel(1, 99) == [cxl(1, B, 100, 5, 0, CancelReason.REQUESTED)]
    assert book.order_count() == 0 and book.level_count(B) == 0
    with pytest.raises(UnknownOrderId):
        book.cancel(1)
    with pytest.raises(UnknownOrderId):
        book.replace(1, 100, 1)


def test_feed_ops_and_anonymous_quantity(make: Any) -> None:
    book = make()
    assert book.add(0, S, 101, 7) == [rest(0, S, 101, 7)]
    assert book.add(1, S, 101, 5) == [rest(1, S, 101, 5)]
    assert book.add(0, S, 101, 3) == [rest(0, S, 101, 3, leaves=10)]
    assert book.queue_position(1) == QueuePosition(10, 1), "anonymous quantity is one order ahead"
    assert book.depth(S) == [Level(101, 15, 2)]
    assert book.order_count() == 1
    assert book.limit(10, B, 101, 12, IOC) == [
        trade(10, B, 101, 10, 2, 0, 0),
        trade(10, B, 101, 2, 0, 1, 3),
    ]
    assert book.execute(1, S, 101, 2) == [trade(0, B, 101, 2, 0, 1, 1)]
    with pytest.raises(BadQuantity):
        book.execute(1, S, 101, 2)  # more than its leaves
    assert book.execute(1, B, 5, 1) == [trade(0, B, 101, 1, 0, 1, 0)], "known id: side/price unused"
    assert book.level_count(S) == 0
    # unknown ids use the level named by side/price: anonymous first, then the queue front
    book.add(0, B, 99, 4)
    book.add(2, B, 99, 5)
    book.add(3, B, 99, 6)
    assert book.execute(77, B, 99, 6) == [trade(0, S, 99, 4, 0, 0, 0), trade(0, S, 99, 2, 0, 2, 3)]
    with pytest.raises(BadQuantity):
        book.execute(77, B, 99, 10)  # more than the level's 9
    with pytest.raises(UnknownOrderId):
        book.execute(77, B, 98, 1)  # no such level
    assert book.reduce(78, B, 99, 4) == [
        cxl(78, B, 99, 3, 0, CancelReason.LEVEL, other=2, other_leaves=0),
        cxl(78, B, 99, 1, 0, CancelReason.LEVEL, other=3, other_leaves=5),
    ]
    with pytest.raises(UnknownOrderId):
        book.reduce(78, B, 98, 4)
    book.add(0, B, 99, 2)
    assert book.queue_position(3) == QueuePosition(2, 1)
    assert book.reduce(3, B, 99, 1) == [cxl(3, B, 99, 1, 4, CancelReason.REQUESTED)]
    assert book.delete(3, S, 1, 1) == [cxl(3, B, 99, 4, 0, CancelReason.REQUESTED)]
    assert book.delete(0, B, 99, 9) == [cxl(0, B, 99, 2, 0, CancelReason.LEVEL)], "clamped"
    assert book.level_count(B) == 0
    # a feed ADD does not match, so it may cross the book
    book.add(4, B, 105, 1)
    book.add(5, S, 100, 1)
    assert book.bbo() == Bbo(105, 1, 100, 1)
    with pytest.raises(DuplicateOrderId):
        book.add(5, B, 100, 1)


def test_level_fallbacks_never_take_a_limit_order(make: Any) -> None:
    """A feed's report on an order it does not name (execute, reduce or delete by level)
    is about the market's liquidity: it takes the anonymous quantity and the orders ADD
    rested, never a venue client's order that LIMIT rested, wherever it is in the queue."""
    book = make()
    book.limit(50, B, 99, 10)  # a client order, first in the queue
    book.add(2, B, 99, 5)  # the feed's, behind it
    book.limit(51, B, 99, 3)
    assert book.reduce(77, B, 99, 4) == [
        cxl(77, B, 99, 4, 0, CancelReason.LEVEL, other=2, other_leaves=1)]
    with pytest.raises(BadQuantity):
        book.execute(78, B, 99, 2)  # the feed has 1 there; 13 more are the clients'
    assert book.execute(78, B, 99, 1) == [trade(0, S, 99, 1, 0, 2, 0)]
    with pytest.raises(UnknownOrderId):
        book.delete(0, B, 99, 9)  # no feed liquidity left at 99: nothing to take
    assert book.order(50) is not None and book.order(50).qty == 10
    assert book.depth(B) == [Level(99, 13, 2)]
    # a feed order that a change moves keeps what it is; a level delete takes only it
    book.add(3, B, 98, 4)
    book.limit(52, B, 98, 6)
    book.replace(3, 98, 7)  # re-enters behind the client order
    assert book.delete(0, B, 98, 99) == [
        cxl(0, B, 98, 7, 0, CancelReason.LEVEL, other=3, other_leaves=0)], "clamped to the feed's"
    assert book.depth(B) == [Level(99, 13, 2), Level(98, 6, 1)]


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (Op(0, 5, B, 100, 1), BadOperation),
        (Op(9, 5, B, 100, 1), BadOperation),
        (Op(OpType.LIMIT, 5, 2, 100, 1), BadOperation),
        (Op(OpType.LIMIT, 5, B, 100, 1, 3), BadOperation),
        (Op(OpType.ADD, 5, 255, 100, 1), BadOperation),
        (Op(OpType.LIMIT, -1, 2, -1, -1), BadOperation),  # checked in order: op first
        (Op(OpType.LIMIT, 0, B, -1, -1), BadOrderId),
        (Op(OpType.MARKET, -4, B, 0, 1), BadOrderId),
        (Op(OpType.CANCEL, 0, B, 0, 0), BadOrderId),
        (Op(OpType.ADD, -1, B, 100, 1), BadOrderId),
        (Op(OpType.LIMIT, 1 << 64, B, 100, 1), BadOrderId),
        (Op(OpType.LIMIT, 5, B, 0, -1), BadPrice),
        (Op(OpType.LIMIT, 5, B, MAX_PRICE + 1, 1), BadPrice),
        (Op(OpType.REPLACE, 1, B, -100, 1), BadPrice),
        (Op(OpType.EXECUTE, 9, B, 1 << 70, 1), BadPrice),
        (Op(OpType.LIMIT, 5, B, 100, 0), BadQuantity),
        (Op(OpType.LIMIT, 5, B, 100, MAX_QTY + 1), BadQuantity),
        (Op(OpType.MARKET, 5, B, -9, -1), BadQuantity),  # market: price unused
        (Op(OpType.CANCEL, 1, 9, -9, -1, 9), BadQuantity),  # cancel: side, price, tif unused
        (Op(OpType.REPLACE, 1, B, 100, 0), BadQuantity),
        (Op(OpType.REDUCE, 1, B, 100, -(1 << 70)), BadQuantity),
        (Op(OpType.LIMIT, 1, S, 200, 1), DuplicateOrderId),
        (Op(OpType.MARKET, 1, S, 0, 1), DuplicateOrderId),
        (Op(OpType.ADD, 1, S, 200, 1), DuplicateOrderId),
        (Op(OpType.CANCEL, 2, B, 0, 0), UnknownOrderId),
    ],
)
def test_rejects_raise_typed_errors_and_change_nothing(
    make: Any, op: Op, error: type[CoreError]
) -> None:
    book = make(4)
    book.limit(1, B, 100, 1)
    book.add(0, S, 105, 3)
    before = (book.depth(B), book.depth(S), book.order_count())
    events = book.apply_op(op)
    assert len(events) == 1 and events[0].type is EventType.REJECT
    assert events[0].code == error.code
    if all(-(1 << 63) <= v < 1 << 63 for v in (op.id, op.price, op.qty)):
        # the reject echoes the op (only the C wrapper clamps values that do not fit lob_op)
        assert events[0][:5] == (EventType.REJECT, op.id, op.side, op.price, op.qty)
        assert events[0].other == op.type
    assert (book.depth(B), book.depth(S), book.order_count()) == before
    method = {
        OpType.LIMIT: lambda: book.limit(op.id, op.side, op.price, op.qty, op.tif),
        OpType.MARKET: lambda: book.market(op.id, op.side, op.qty, op.tif),
        OpType.CANCEL: lambda: book.cancel(op.id, op.qty),
        OpType.REPLACE: lambda: book.replace(op.id, op.price, op.qty),
        OpType.EXECUTE: lambda: book.execute(op.id, op.side, op.price, op.qty),
        OpType.ADD: lambda: book.add(op.id, op.side, op.price, op.qty),
        OpType.REDUCE: lambda: book.reduce(op.id, op.side, op.price, op.qty),
    }.get(op.type)  # type: ignore[call-overload]
    if method is not None:
        with pytest.raises(error):
            method()
    assert (book.depth(B), book.depth(S), book.order_count()) == before


def test_largest_values_are_accepted(make: Any) -> None:
    book = make()
    assert book.limit(INT64_MAX, S, MAX_PRICE, MAX_QTY) == [rest(INT64_MAX, S, MAX_PRICE, MAX_QTY)]
    assert book.order(INT64_MAX) == OrderInfo(INT64_MAX, S, MAX_PRICE, MAX_QTY)


def test_capacity(make: Any) -> None:
    book = make(2)
    book.limit(1, S, 101, 5)
    book.limit(2, S, 102, 5)
    with pytest.raises(CapacityFull):
        book.limit(3, B, 99, 1)
    with pytest.raises(CapacityFull):
        book.add(3, B, 99, 1)
    assert book.limit(3, B, 99, 1, IOC) == [cxl(3, B, 99, 1, 0, CancelReason.IOC)]
    assert book.limit(3, B, 101, 2) == [trade(3, B, 101, 2, 0, 1, 3)], "did not need to rest"
    # a remainder may rest in the slot of a maker it filled completely
    assert book.limit(4, B, 101, 4) == [trade(4, B, 101, 3, 1, 1, 0), rest(4, B, 101, 1)]
    # anonymous quantity takes no slot, and filling it frees none
    book.truncate(S, 0)
    book.add(0, S, 103, 5)
    book.limit(5, B, 90, 1)
    assert book.order_count() == 2
    with pytest.raises(CapacityFull):
        book.limit(6, B, 103, 6)
    assert book.limit(6, B, 103, 5) == [trade(6, B, 103, 5, 0, 0, 0)]
    # a replace keeps its own slot
    assert book.replace(5, 91, 9) == [rpl(5, B, 91, 9, kept=False), rest(5, B, 91, 9)]


def test_level_total_overflow(make: Any) -> None:
    book = make(4)
    for _ in range(1023):  # 1023 * 2**53 fits in int64; one more does not
        book.add(0, B, 100, MAX_QTY)
    with pytest.raises(BadQuantity):
        book.add(0, B, 100, MAX_QTY)
    with pytest.raises(BadQuantity):
        book.limit(1, B, 100, MAX_QTY)
    book.add(1, B, 100, MAX_QTY - 1)
    book.limit(2, B, 101, MAX_QTY)
    with pytest.raises(BadQuantity):
        book.replace(2, 100, 2)
    # IOC and FOK never rest, so the level total does not limit them
    assert book.limit(3, B, 100, 1, IOC) == [cxl(3, B, 100, 1, 0, CancelReason.IOC)]
    assert book.market(4, S, MAX_QTY, FOK) == [trade(4, S, 101, MAX_QTY, 0, 2, 0)]
    assert book.market(5, S, 3, FOK) == [trade(5, S, 100, 3, 0, 0, 1023 * MAX_QTY - 3)]


def test_one_op_with_many_events(make: Any) -> None:
    book = make(200)
    for i in range(150):
        book.limit(1 + i, S, 100 + i % 3, 1)
    events = book.market(999, B, 151)
    assert len(events) == 151 and events[-1] == cxl(999, B, 0, 1, 0, CancelReason.MARKET)
    assert [e.other for e in events[:150]] == [i for p in (0, 1, 2) for i in range(1 + p, 151, 3)]
    assert book.order_count() == 0


def test_truncate_and_clear(make: Any) -> None:
    book = make()
    for i in range(10):
        book.limit(1 + i, B, 100 - i, 1)
        book.limit(101 + i, S, 110 + i, 1)
        book.limit(201 + i, S, 110 + i, 1)
    book.add(0, S, 130, 1)
    assert book.truncate(S, 20) == 0
    assert book.truncate(S, 3) == 8
    assert book.depth(S) == [Level(110, 2, 2), Level(111, 2, 2), Level(112, 2, 2)]
    assert book.order(104) is None and book.order_count() == 16
    assert book.truncate(B, 0) == 10 and book.level_count(B) == 0
    with pytest.raises(ValueError):
        book.truncate(B, -1)
    assert book.limit(104, S, 111, 1) == [rest(104, S, 111, 1)], "a truncated id is free again"
    book.clear()
    assert book.order_count() == 0 and book.bbo() == Bbo(0, 0, 0, 0)
    assert book.limit(104, S, 111, 1) == [rest(104, S, 111, 1)]


def test_bad_constructor_arguments(make: Any) -> None:
    with pytest.raises(ValueError):
        make(0)
    with pytest.raises(ValueError):
        make(1 << 31)


# ---------------------------------------------------------------- the C wrapper's own parts

OPS = [
    Op(OpType.LIMIT, 1, S, 100, 5),
    Op(OpType.LIMIT, 1, S, 100, 5),  # duplicate: a REJECT event, not an exception
    Op(OpType.LIMIT, 2, B, 100, 7, IOC),
    Op(OpType.ADD, 0, B, 99, 4),
    Op(OpType.CANCEL, 9, 0, 0, 0),
]
EXPECTED = [
    rest(1, S, 100, 5),
    Event(EventType.REJECT, 1, S, 100, 5, 0, OpType.LIMIT, 0, DuplicateOrderId.code),
    trade(2, B, 100, 5, 2, 1, 0),
    cxl(2, B, 100, 2, 0, CancelReason.IOC),
    rest(0, B, 99, 4),
    Event(EventType.REJECT, 9, B, 0, 0, 0, OpType.CANCEL, 0, UnknownOrderId.code),
]


def test_op_batch_builders_agree() -> None:
    by_append = OpBatch()
    for op in OPS:
        by_append.append(*op)
    columns = OpBatch.from_columns(*(list(col) for col in zip(*OPS, strict=True)))
    from_ops = OpBatch(OPS)
    assert by_append.raw == columns.raw == from_ops.raw == OpBatch.from_raw(from_ops.raw).raw
    with pytest.raises(ValueError):
        OpBatch.from_raw(b"x" * 33)
    assert list(from_ops) == OPS and len(from_ops) == 5
    assert from_ops[-1] == OPS[-1] and from_ops[0] == OPS[0]
    with pytest.raises(IndexError):
        from_ops[5]
    with pytest.raises(ValueError):
        OpBatch.from_columns([1], [1, 2], [0], [1], [1])
    no_tifs = OpBatch.from_columns([1], [1], [0], [100], [1])
    assert list(no_tifs) == [Op(OpType.LIMIT, 1, B, 100, 1, DAY)]


def test_op_batch_rejects_values_that_do_not_fit() -> None:
    batch = OpBatch()
    with pytest.raises(ValueError):
        batch.append(OpType.LIMIT, 1 << 64, B, 1, 1)
    with pytest.raises(ValueError):
        batch.append(256, 1, B, 1, 1)
    with pytest.raises(ValueError):
        batch.extend([Op(OpType.LIMIT, 1, B, -(1 << 64), 1)])
    with pytest.raises((OverflowError, ValueError)):
        OpBatch.from_columns([1], [1], [300], [1], [1])
    assert len(batch) == 0


def test_apply_gives_a_lazy_event_batch() -> None:
    with OrderBook(8) as book:
        events = book.apply(OpBatch(OPS))
        assert isinstance(events, EventBatch)
        assert len(events) == len(EXPECTED) and events.applied == len(OPS)
        assert events.to_list() == EXPECTED == list(events)
        assert gc.isenabled(), "to_list pauses the collector only while it decodes"
        gc.disable()
        try:
            events.to_list()
            assert not gc.isenabled()
        finally:
            gc.enable()
        assert events[1] == EXPECTED[1] and events[-1] == EXPECTED[-1]
        assert events[2:4] == EXPECTED[2:4]
        with pytest.raises(IndexError):
            events[len(EXPECTED)]
        assert events.column("type").tolist() == [e.type for e in EXPECTED]
        assert events.column("id").tolist() == [e.id for e in EXPECTED]
        assert events.column("other_leaves").tolist() == [e.other_leaves for e in EXPECTED]
        assert events.column("side").tolist() == [e.side for e in EXPECTED]
        assert events.column("code").tolist() == [e.code for e in EXPECTED]
        with pytest.raises(KeyError):
            events.column("nope")
        # the batch owns its data: later applies do not change it
        book.apply([Op(OpType.MARKET, 3, S, 0, 100)])
        assert events.to_list() == EXPECTED
        assert book.apply([]).to_list() == []
        assert book.apply(iter([Op(OpType.LIMIT, 7, B, 90, 1)])).to_list() == [rest(7, B, 90, 1)]


def test_event_reason() -> None:
    assert cxl(1, B, 1, 1, 0, CancelReason.FOK).reason is CancelReason.FOK
    assert rest(1, B, 1, 1).reason is None


def test_close_and_context_manager() -> None:
    book = OrderBook(4)
    book.limit(1, B, 100, 1)
    book.close()
    book.close()
    with pytest.raises(ValueError):
        book.limit(2, B, 100, 1)
    with pytest.raises(ValueError):
        book.apply(OPS)
    with pytest.raises(ValueError):
        book.bbo()
    with OrderBook(4) as inner:
        inner.limit(1, B, 100, 1)
    with pytest.raises(ValueError):
        inner.order_count()


def test_c_book_memory_is_released() -> None:
    """Many big books in a row: each must be freed when closed, or this runs out of memory
    (1M orders reserve about 48 MB each)."""
    for _ in range(50):
        with OrderBook(1_000_000) as book:
            book.limit(1, B, 100, 1)
