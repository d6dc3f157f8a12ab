"""The C book and its pure-Python twin agree on every event and every query, for any ops.

Random op streams use small id and price ranges so that crosses, duplicate and unknown ids,
full pools and every kind of reject happen often. Each stream drives three books: the
ReferenceBook op by op, the C book through its per-call methods (rejects raised), and the C
book through one batched apply (rejects as events). After every op the per-call C book and
the reference must answer every query alike; the batch must produce the same event stream.
"""

from __future__ import annotations

import random
from typing import Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import MAX_PRICE, MAX_QTY, Event, EventType, Op, OpBatch, OpType, OrderBook
from engine.book_types import INT64_MAX, INT64_MIN, Bbo, Level, OrderInfo, QueuePosition
from engine.errors import CoreError, UnknownOrderId
from engine.refbook import ReferenceBook

IDS = (*range(0, 14), INT64_MAX)  # every id the streams below can make rest
# Pseudo op types the test itself handles: book maintenance that has no lob_op.
TRUNCATE = -1
CLEAR = -2
CLEAR_FEED = -3
OWN_LAST = -4


class Book(Protocol):
    def limit(self, id: int, side: int, price: int, qty: int, tif: int = 0) -> list[Event]: ...
    def market(self, id: int, side: int, qty: int, tif: int = 0) -> list[Event]: ...
    def cancel(self, id: int, qty: int = 0) -> list[Event]: ...
    def replace(self, id: int, price: int, qty: int) -> list[Event]: ...
    def execute(self, id: int, side: int, price: int, qty: int) -> list[Event]: ...
    def add(self, id: int, side: int, price: int, qty: int) -> list[Event]: ...
    def reduce(self, id: int, side: int, price: int, qty: int) -> list[Event]: ...
    def delete(self, id: int, side: int, price: int, qty: int) -> list[Event]: ...
    def apply_op(self, op: Op) -> list[Event]: ...
    def bbo(self) -> Bbo: ...
    def depth(self, side: int, n: int | None = None) -> list[Level]: ...
    def level_count(self, side: int) -> int: ...
    def order_count(self) -> int: ...
    def order(self, id: int) -> OrderInfo | None: ...
    def queue_position(self, id: int) -> QueuePosition: ...
    def truncate(self, side: int, keep: int) -> int: ...
    def clear(self) -> None: ...
    def clear_feed(self) -> None: ...
    def own_last(self) -> None: ...
    def check_invariants(self) -> None: ...


def weighted(common: st.SearchStrategy[int], *rare: int) -> st.SearchStrategy[int]:
    """Mostly `common`, sometimes (1 in 5) one of the rare (usually invalid) values.
    (one_of would not do: it draws its branches evenly and merges equal ones.)"""
    return st.integers(0, 4).flatmap(lambda k: common if k else st.sampled_from(rare))


# Clean ops: valid fields in small ranges, new orders most common so the book fills up; bids
# at 1..4 and asks at 3..6, so orders often queue and sometimes cross.
_CLEAN_TYPES = [1, 1, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 6, 7, 8]


@st.composite
def clean_ops(draw: st.DrawFn) -> Op:
    side = draw(st.integers(0, 1))
    return Op(
        OpType(draw(st.sampled_from(_CLEAN_TYPES))),
        draw(st.integers(0, 9)),
        side,
        draw(st.integers(1, 4)) + 2 * side,
        draw(st.integers(0, 10)),  # 0 is valid only for CANCEL (= all of it)
        draw(st.sampled_from([0, 0, 0, 0, 1, 2])),
    )


# Odd ops: any field may be out of range or at a limit.
odd_ops = st.builds(
    Op,
    type=weighted(st.sampled_from(list(OpType)), 0, 9, 255),
    id=weighted(st.integers(0, 13), -1, INT64_MAX, INT64_MIN),
    side=weighted(st.integers(0, 1), 2, 255),
    price=weighted(st.integers(1, 8), 0, -1, MAX_PRICE, MAX_PRICE + 1),
    qty=weighted(st.integers(1, 10), 0, -1, MAX_QTY, MAX_QTY + 1, INT64_MAX),
    tif=weighted(st.integers(0, 2), 3),
)
maintenance_ops = st.builds(Op, type=st.sampled_from([TRUNCATE, CLEAR, CLEAR_FEED, OWN_LAST]),
                            id=st.just(0), side=st.integers(0, 1), qty=st.integers(0, 3))
ops_strategy = st.integers(0, 99).flatmap(
    lambda k: clean_ops() if k < 85 else odd_ops if k < 97 else maintenance_ops
)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def per_call(book: Book, op: Op) -> list[Event] | type[CoreError]:
    """Run op through the typed per-call method; a reject comes back as its exception type."""
    t, id_, side, price, qty, tif = op
    try:
        if t == OpType.LIMIT:
            return book.limit(id_, side, price, qty, tif)
        if t == OpType.MARKET:
            return book.market(id_, side, qty, tif)
        if t == OpType.CANCEL:
            return book.cancel(id_, qty)
        if t == OpType.REPLACE:
            return book.replace(id_, price, qty)
        if t == OpType.EXECUTE:
            return book.execute(id_, side, price, qty)
        if t == OpType.ADD:
            return book.add(id_, side, price, qty)
        if t == OpType.REDUCE:
            return book.reduce(id_, side, price, qty)
        if t == OpType.DELETE:
            return book.delete(id_, side, price, qty)
        return book.apply_op(op)  # not a valid type: no method for it
    except CoreError as e:
        return type(e)


def snapshot(book: Book) -> tuple[object, ...]:
    """Everything a user can ask the book."""
    positions: list[object] = []
    for i in IDS:
        try:
            positions.append(book.queue_position(i))
        except UnknownOrderId:
            positions.append(None)
    return (
        book.bbo(),
        book.depth(0),
        book.depth(1),
        book.depth(0, 2),
        book.level_count(0),
        book.level_count(1),
        book.order_count(),
        [book.order(i) for i in IDS],
        positions,
    )


def check_level_totals(book: Book) -> None:
    """Through the public API only: a level's quantity is its orders' leaves plus an
    anonymous part, and its count is its orders plus one if that part is not zero."""
    named: dict[tuple[int, int], list[int]] = {}
    for i in IDS:
        info = book.order(i)
        if info is not None:
            named.setdefault((info.side, info.price), []).append(info.qty)
    levels = 0
    for side in (0, 1):
        for level in book.depth(side):
            leaves = named.get((side, level.price), [])
            anonymous = level.qty - sum(leaves)
            assert anonymous >= 0 and level.orders == len(leaves) + (anonymous > 0)
            levels += len(leaves) > 0
    assert levels == len(named), "every resting order is on a listed level"


def crossed(book: Book) -> bool:
    b = book.bbo()
    return b.bid_qty > 0 and b.ask_qty > 0 and b.bid_price >= b.ask_price


def maintain(books: list[Book], op: Op) -> None:
    if op.type == TRUNCATE:
        removed = {book.truncate(op.side, op.qty) for book in books}
        assert len(removed) == 1
    else:
        for book in books:
            {CLEAR: book.clear, CLEAR_FEED: book.clear_feed, OWN_LAST: book.own_last}[op.type]()


@SETTINGS
@given(ops=st.lists(ops_strategy, min_size=20, max_size=100), cap=st.sampled_from([64, 6, 3, 1]))
def test_c_book_matches_reference_op_by_op(ops: list[Op], cap: int) -> None:
    ref = ReferenceBook(cap)
    with OrderBook(cap) as c_call, OrderBook(cap) as c_batch:
        expected: list[Event] = []
        batch = OpBatch()
        for op in ops:
            if op.type < 0:
                maintain([ref, c_call], op)
                assert c_batch.apply(batch).to_list() == expected
                batch.clear()
                expected = []
                maintain([c_batch], op)
                continue
            was_crossed = crossed(ref)
            moving = ref._orders.get(op.id)  # (the reference's own record of the order)
            feed_move = op.type == OpType.REPLACE and moving is not None and moving.fed
            ref_events = ref.apply_op(op)
            expected.extend(ref_events)
            batch.append(*op)
            got = per_call(c_call, op)
            if isinstance(got, list):
                assert got == ref_events, op
            else:  # the per-call method raised the reject's exception
                assert len(ref_events) == 1 and ref_events[0].type == EventType.REJECT, op
                assert got.code == ref_events[0].code, (op, got)
            assert snapshot(c_call) == snapshot(ref), op
            # matching never crosses a book; only a feed ADD may, or a feed order re-entering
            if not was_crossed and op.type != OpType.ADD and not feed_move:
                assert not crossed(ref), op
            c_call.check_invariants()
            ref.check_invariants()
            check_level_totals(c_call)
        assert c_batch.apply(batch).to_list() == expected
        assert snapshot(c_batch) == snapshot(ref)
        c_batch.check_invariants()


@SETTINGS
@given(ops=st.lists(ops_strategy.filter(lambda o: o.type > 0), min_size=20, max_size=100))
def test_rejected_op_changes_nothing(ops: list[Op]) -> None:
    ref = ReferenceBook(4)
    with OrderBook(4) as book:
        for op in ops:
            before = snapshot(book)
            events = book.apply_op(op)
            assert events == ref.apply_op(op)
            assert events, "every op emits at least one event"
            if events[0].type == EventType.REJECT:
                assert len(events) == 1 and events[0].code < 0
                assert snapshot(book) == before


def test_long_random_streams_match() -> None:
    """Longer streams than hypothesis tries, at a realistic shape: a deep two-sided book,
    most ops near the touch, few errors."""
    rng = random.Random(20240611)
    weights = [30, 4, 18, 12, 8, 12, 8, 8]  # LIMIT .. DELETE
    for cap in (50, 400):
        ref = ReferenceBook(cap)
        ops: list[Op] = []
        with OrderBook(cap) as book:
            for _ in range(3000):
                t = rng.choices(range(1, 9), weights)[0]
                side = rng.randrange(2)
                mid = 1000
                price = mid - rng.randrange(0, 12) if side == 0 else mid - 4 + rng.randrange(12)
                ops.append(Op(t, rng.randrange(1, 600) if rng.random() > 0.03 else 0, side,
                              price, rng.randrange(1, 30) if t != OpType.CANCEL else
                              rng.randrange(0, 30), rng.choice([0, 0, 0, 1, 2])))
            events = book.apply(OpBatch(ops))
            assert events.to_list() == ref.apply(ops)
            assert snapshot(book) == snapshot(ref)
            assert book.order_count() > 0 and len(events) > len(ops)
            book.check_invariants()


@pytest.mark.parametrize("chunk", [1, 7, 1 << 14])
def test_batches_split_across_chunks_give_the_same_stream(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.book

    rng = random.Random(chunk)
    ops = [Op(rng.choice([1, 1, 3, 6]), rng.randrange(1, 40), rng.randrange(2),
              rng.randrange(95, 106), rng.randrange(1, 9)) for _ in range(500)]
    ref = ReferenceBook(64)
    monkeypatch.setattr(engine.book, "CHUNK", chunk)
    with OrderBook(64) as book:
        got = book.apply(ops)
        assert got.applied == 500
        assert list(got) == ref.apply(ops)
