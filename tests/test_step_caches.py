"""What a backtest's step keeps from one market update to the next gives the answers it
would compute afresh (each is kept because a backtest asks for it on every market chunk):
a runner's next wakeup, a FIX session's next deadline, the snapshot levels the venue shows
algos, the feed's per-batch C arrays and its one-symbol trade columns."""

from __future__ import annotations

import random
import struct
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from algos.runner import AlgoRunner, ParentEvent
from algos.strategy import (
    Action,
    AlgoContext,
    Execution,
    MarketSnapshot,
    ParentOrder,
    Side,
)
from engine.book import OrderBook
from fixspec.dictionary import builtin_session
from gateway.cmd_lobster import sample_path
from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Message
from gateway.md_feed import FeedBook, MarketDataFeed, MdLogReader
from gateway.md_fix import lobster_to_fix
from gateway.schedule import Schedule
from gateway.session import Output, Session
from gateway.session_state import State
from gateway.store import MemoryStore
from gateway.venue_app import SNAPSHOT_LEVELS, VenueApplication
from tests.fixpeer import Peer
from tests.test_algo_harness import T0, make_parent
from tests.test_lobster import SAMPLES
from tests.test_md_feed import line, write
from tests.test_md_feed_fills import CLIENT, leaves, steps
from tests.test_md_fix import BUNDLED_LOG, DAY
from tests.test_venue_days import VENUE

SEC = timedelta(seconds=1)
_LEVEL = struct.Struct("<3q")


class _NoRouter:
    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: str, reason: str = "") -> None:
        raise AssertionError("the strategies here send nothing")

    def cancel(self, child_id: str) -> None:
        raise AssertionError("the strategies here send nothing")


class Wisher:
    """Wishes to wake at ``wish`` (shared by every instance, as strategies sharing a model
    share state); a snapshot moves the wish to one second after its time. Counts the asks."""

    wish: ClassVar[datetime | None] = None
    asked: ClassVar[int] = 0
    fail: ClassVar[bool] = False

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.ctx = ctx

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        Wisher.wish = snapshot.time + SEC
        return []

    def on_execution(self, execution: Execution) -> list[Action]:
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        return []

    def next_wakeup(self) -> datetime | None:
        Wisher.asked += 1
        if Wisher.fail:
            raise RuntimeError("no wish")
        return Wisher.wish


def runner(parent_id: str, audit: list[str] | None = None) -> AlgoRunner:
    events: list[ParentEvent] = []

    def sink(event: str, /, **fields: object) -> None:
        if audit is not None:
            audit.append(event)

    return AlgoRunner(make_parent(1000, id=parent_id), Wisher, _NoRouter(), now=T0,
                      on_event=events.append, audit=sink)


def snap(t: datetime) -> MarketSnapshot:
    return MarketSnapshot(time=t, symbol="AAPL", bid=Decimal("10"), bid_qty=100,
                          ask=Decimal("10.01"), ask_qty=100)


def test_a_kept_wakeup_gives_way_to_any_runners_input() -> None:
    Wisher.wish, Wisher.asked, Wisher.fail = T0 + 5 * SEC, 0, False
    a, b = runner("A"), runner("B")
    assert a.next_wakeup() == b.next_wakeup() == T0 + 5 * SEC
    asked = Wisher.asked
    assert a.next_wakeup() == T0 + 5 * SEC and Wisher.asked == asked  # kept: nothing moved
    a.on_market_snapshot(snap(T0 + 2 * SEC))  # moves the wish both strategies share
    assert a.next_wakeup() == T0 + 3 * SEC
    assert b.next_wakeup() == T0 + 3 * SEC  # b had no input, but its strategy's wish moved
    b.on_timer(T0 + 4 * SEC)  # b's time passed the wish: the runner never asks for the past
    assert b.next_wakeup() == T0 + 4 * SEC


def test_a_wakeup_that_raises_is_asked_and_audited_every_time() -> None:
    Wisher.wish, Wisher.asked, Wisher.fail = T0 + 5 * SEC, 0, True
    audit: list[str] = []
    a = runner("A", audit)
    assert a.next_wakeup() == a.parent.end  # the end, to expire
    assert a.next_wakeup() == a.parent.end
    assert audit.count("strategy_error") == 2 and Wisher.asked == 2
    Wisher.fail = False
    assert a.next_wakeup() == T0 + 5 * SEC


SESSION_ACTIONS = ["deliver", "drop", "timer", "send", "owed", "logout", "lost", "connect"]


def _order() -> Message:
    m = Message("D")
    for tag, v in ((11, "X"), (21, "1"), (38, 100), (40, "1"), (54, "1"), (55, "IBM"),
                   (60, "20261125-12:00:00")):
        m.body.set(tag, v)
    return m


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SESSION_ACTIONS), st.integers(0, 1),
                          st.integers(0, 40)), max_size=60),
       st.booleans())
def test_a_kept_session_deadline_is_the_one_computed_afresh(
        script: list[tuple[str, int, int]], scheduled: bool) -> None:
    """An initiator and an acceptor on one in-memory connection, through logons,
    heartbeats, TestRequests, silences (bytes dropped), resends, timeouts, logouts,
    reconnects and a schedule's end: after every call, what next_deadline kept is what it
    computes afresh."""
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=T0.tzinfo)
    # the session ends 20 s in (a script spans up to 600 s)
    schedule = Schedule(time(8), time(12, 0, 20)) if scheduled else None
    dd = builtin_session("FIX.4.4")
    sides = [
        Session(SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", heartbeat_interval=5,
                              logon_timeout=3, logout_timeout=2, schedule=schedule),
                MemoryStore(t0), dd),
        Session(SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", logon_timeout=3,
                              logout_timeout=2, schedule=schedule),
                MemoryStore(t0), dd, app_types={"D"}),
    ]
    for side in sides:
        side.resend_slice = 1  # a resend's rest comes from send_owed
    inbox: list[list[bytes]] = [[], []]  # bytes on their way to each side

    def sent(i: int, out: Output) -> None:
        inbox[1 - i].extend(out.data)

    def connect(now: datetime) -> None:
        inbox[0].clear()
        inbox[1].clear()
        sent(1, sides[1].connection_made(now))
        sent(0, sides[0].connection_made(now))

    def close_if_down(now: datetime) -> None:
        # a side that disconnected closed the connection: the other reads what is left
        # (a Logout, say), then sees the connection lost
        for i in (0, 1):
            other = sides[1 - i]
            if sides[i].state is State.DISCONNECTED and other.state is not State.DISCONNECTED:
                data, inbox[1 - i] = b"".join(inbox[1 - i]), []
                other.data_received(data, now)
                other.connection_lost(now)

    now = t0
    connect(now)
    for action, i, quarters in script:
        now += timedelta(seconds=quarters / 4)
        s = sides[i]
        if action == "deliver":
            data, inbox[i] = b"".join(inbox[i]), []
            sent(i, s.data_received(data, now))
        elif action == "drop":  # a silent peer, as far as this side can tell
            inbox[i].clear()
        elif action == "timer":
            sent(i, s.on_timer(now))
        elif action == "send":
            sent(i, s.send(_order(), now))
        elif action == "owed":
            sent(i, s.send_owed(now))
        elif action == "logout":
            sent(i, s.logout(now))
        elif action == "lost":
            s.connection_lost(now)
        elif all(side.state is State.DISCONNECTED for side in sides):  # connect
            connect(now)
        close_if_down(now)
        for side in sides:
            assert side.next_deadline() == side._compute_deadline()


def test_a_kept_session_deadline_moves_with_a_resends_later_slices() -> None:
    """The slices of a resend that send_owed writes are messages sent: the heartbeat is due
    a HeartBtInt after the last of them (a random script rarely gets there)."""
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=T0.tzinfo)
    s = Session(SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor"), MemoryStore(t0),
                builtin_session("FIX.4.4"), app_types={"D"})
    s.resend_slice = 1
    peer = Peer()
    s.connection_made(t0)
    s.data_received(peer.logon(now=t0), t0)
    for _ in range(3):
        s.send(_order(), t0)
    s.data_received(peer.msg("35=2|7=2|16=0", now=t0), t0)
    assert s.owes and s.next_deadline() == t0 + 30 * SEC  # the Heartbeat, HeartBtInt 30
    s.send_owed(t0 + SEC)
    assert s.next_deadline() == s._compute_deadline() == t0 + 31 * SEC


def _reference_side(book: OrderBook, side: int, price: object) -> tuple[tuple[Decimal, int], ...]:
    return tuple((price(lv.price), lv.qty)  # type: ignore[operator]
                 for lv in book.depth(side, SNAPSHOT_LEVELS))


def test_snapshots_show_the_book_as_it_is_whether_it_moved_or_not() -> None:
    app = VenueApplication(load_config(VENUE))
    book = app.venue.books["AAPL"]
    price = app.venue.prices["AAPL"]
    rng = random.Random(7)
    resting: list[int] = []
    for n in range(400):
        roll = rng.random()
        if roll < 0.5 or not resting:
            side = rng.choice((Side.BUY, Side.SELL))
            ticks = 1000 + (rng.randrange(0, 8) if side == Side.BUY else rng.randrange(9, 17))
            book.add(n + 1, side, ticks, rng.randrange(1, 5) * 100)
            resting.append(n + 1)
        elif roll < 0.8:
            book.cancel(resting.pop(rng.randrange(len(resting))))
        # else: the book stands still, and the kept levels are shown again
        s = app.snapshot("AAPL", T0 + n * SEC)
        assert s is not None
        bids = _reference_side(book, Side.BUY, price)
        asks = _reference_side(book, Side.SELL, price)
        assert (s.bids, s.asks, s.time) == (bids, asks, T0 + n * SEC)
        assert (s.bid, s.bid_qty) == (bids[0] if bids else (None, 0))
        assert (s.ask, s.ask_qty) == (asks[0] if asks else (None, 0))
    assert app.snapshot("NOPE", T0) is None


def test_top_records_are_the_depth_levels() -> None:
    with OrderBook(1000) as book:
        assert book.top_records(5) == (b"", b"")
        for i in range(12):
            book.add(i + 1, Side.BUY, 100 - i % 7, 10 + i)
            book.add(100 + i, Side.SELL, 110 + i % 9, 20 + i)
        for n in (0, 1, 5, 20):
            bids, asks = book.top_records(n)
            assert [tuple(r) for r in _LEVEL.iter_unpack(bids)] == book.depth(Side.BUY, n)
            assert [tuple(r) for r in _LEVEL.iter_unpack(asks)] == book.depth(Side.SELL, n)


def test_one_symbol_trades_are_the_changed_symbols_trade_columns() -> None:
    rng = random.Random(3)
    feed = MarketDataFeed(strict=False)
    for batch in MdLogReader(BUNDLED_LOG):
        assert len(batch.symbols) == 1
        i = 0
        while i < batch.count:
            stop = min(batch.count, i + rng.choice((1, 1, 2, 7, 40)))
            update = feed.apply(batch, i, stop)
            only = update.only_symbol_trades()
            changed = update.symbols_changed()
            if only is None:
                assert changed == set()
            else:
                assert changed == {batch.symbols[0]}
                assert only == update.trade_columns(batch.symbols[0])
            i = stop


def test_chunks_of_batches_in_turn_build_the_books_whole_batches_build(
        tmp_path: Path) -> None:
    """The feed keeps the last batch's C arrays between calls: chunks of two logs' batches
    applied in turn into one feed end in the books that one call per batch builds."""
    logs = [BUNDLED_LOG, tmp_path / "AAPL.md.log"]
    lobster_to_fix(sample_path(SAMPLES[1][0]), sample_path(SAMPLES[1][1]), logs[1],
                   symbol="AAPL", day=DAY)
    whole, chunked = MarketDataFeed(strict=False), MarketDataFeed(strict=False)
    batches = [b for log in logs for b in MdLogReader(log)]
    assert {b.symbols for b in batches} == {("AMZN",), ("AAPL",)}
    for batch in batches:
        whole.apply(batch)
    at = [0] * len(batches)
    while any(i < b.count for i, b in zip(at, batches, strict=True)):
        for k, batch in enumerate(batches):
            stop = min(batch.count, at[k] + 37)
            chunked.apply(batch, at[k], stop)
            at[k] = stop
    assert sorted(chunked.symbols) == ["AAPL", "AMZN"]
    for symbol in whole.symbols:
        for side in (Side.BUY, Side.SELL):
            assert chunked.book(symbol).depth(side) == whole.book(symbol).depth(side)
        assert chunked.book(symbol).depth(Side.BUY)  # the replays built something


def test_a_taken_order_is_skipped_after_chunks_that_skipped_others(tmp_path: Path) -> None:
    """The feed hands C its book's gone ids once and keeps them while they stand: an order
    taken after chunks were applied with earlier gone ids is skipped from then on too."""
    path = write(
        tmp_path,
        line("55=ABC|268=3|269=1|278=8|270=10.05|271=20|269=1|278=9|270=10.05|271=40|"
             "269=1|278=7|270=10.06|271=30", "W"),
        line("268=1|279=1|269=1|278=8|55=ABC|270=10.05|271=15"),  # of 8, gone: skipped
        line("268=1|279=1|269=1|278=7|55=ABC|270=10.06|271=25"),  # 7 shrinks
        line("268=1|279=2|269=1|278=9|55=ABC|270=10.05|271=40"),  # of 9, gone by then
        line("268=1|279=1|269=1|278=7|55=ABC|270=10.06|271=20"),  # 7 shrinks again
    )
    feed = MarketDataFeed(strict=False)
    w, of_8, seven, of_9, seven_again = steps(path)
    w.apply(feed)
    book = feed.book("ABC")
    assert isinstance(book, FeedBook)
    book.market(CLIENT, Side.BUY, 20)  # takes 8 whole
    book.took(8)
    of_8.apply(feed)
    seven.apply(feed)
    assert feed.skipped == 1 and leaves(book, 7) == 25
    book.market(CLIENT + 1, Side.BUY, 40)  # takes 9 whole
    book.took(9)
    of_9.apply(feed)  # skipped: not a fall back to taking 40 from the level
    seven_again.apply(feed)
    assert feed.skipped == 2 and feed.rejects == 0
    assert list(book.gone) == [8, 9] and leaves(book, 7) == 20
    assert [(lv.price, lv.qty) for lv in book.depth(Side.SELL)] == [(100600, 20)]
