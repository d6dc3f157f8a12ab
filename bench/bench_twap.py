"""Per-child-decision latency of TWAP, against baselines measured in the same run.

Rows (nanoseconds per call, median and p99 over many calls, each call timed alone):
  MarketSnapshot(...)             baseline: building one snapshot (a frozen dataclass)
  OrderBook.limit (C book)        baseline: one resting limit order into the C book via cffi
                                  (each followed by an untimed cancel, so the book stays small)
  Twap.on_market_snapshot         the strategy alone deciding one passive child (a context
                                  whose state does not change, so every call sends one child)
  AlgoRunner: passive child       whole TWAP runs (60 one-minute slices, a snapshot and a timer
                                  check every virtual second) through the runner, with a risk
                                  gate (quantity and collar) and a no-op audit sink: each
                                  runner call that posted a slice's passive child, timed end to
                                  end (decision, clip, risk check, audit, submit, the venue
                                  stub's acknowledgement inside submit)
  AlgoRunner: cross (chain)       each runner call that crossed at half-time: the cancel of the
                                  passive child, its confirmation, the re-decision, the far-touch
                                  child, and its immediate fill (parent event, on_execution)

usage: python bench/bench_twap.py [--calls N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from common import machine  # bench/ is on sys.path when a script runs

from algos.risk import RiskGate, RiskLimits
from algos.runner import AlgoRunner, ParentEvent, Tif
from algos.strategy import MarketSnapshot, OrderState, ParentOrder, Side
from algos.twap import Twap
from engine.book import OrderBook

T0 = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)
BID, ASK = Decimal("10.00"), Decimal("10.02")


def timed(call: Callable[[], object], n: int) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        call()
        out.append(clock() - t0)
    return out


def snapshot(now: datetime, volume: int = 0) -> MarketSnapshot:
    return MarketSnapshot(time=now, symbol="AAPL", bid=BID, bid_qty=500, ask=ASK, ask_qty=500,
                          volume=volume)


def parent(slices: int) -> ParentOrder:
    return ParentOrder(id="P", symbol="AAPL", side=Side.BUY, qty=100 * slices,
                       limit=Decimal("10.05"), start=T0, end=T0 + timedelta(minutes=slices),
                       params={"Slices": str(slices)}, lot_size=100)


def bench_snapshot(n: int) -> list[int]:
    return timed(lambda: snapshot(T0, 1), n)


def bench_book(n: int) -> list[int]:
    book = OrderBook(max_orders=1024)
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        book.limit(i + 1, Side.BUY, 1000, 100)
        out.append(clock() - t0)
        book.cancel(i + 1)
    return out


class FrozenContext:
    """A context whose order state never changes: every TWAP call decides the same child."""

    def __init__(self, p: ParentOrder) -> None:
        self._now = T0
        self._state = OrderState(parent=p, filled=0, avg_price=None, working={})

    def now(self) -> datetime:
        return self._now

    @property
    def state(self) -> OrderState:
        return self._state


def bench_strategy(n: int) -> list[int]:
    p = parent(10)
    twap = Twap(p, FrozenContext(p))
    snap = snapshot(T0)
    assert len(twap.on_market_snapshot(snap)) == 1
    return timed(lambda: twap.on_market_snapshot(snap), n)


class FillingVenue:
    """Acknowledges and fills every child at once, at the far touch (re-entrantly)."""

    def __init__(self) -> None:
        self.runner: AlgoRunner | None = None
        self.sent = 0
        self.fills = 0
        self.now = T0

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Tif, reason: str = "") -> None:
        self.sent += 1
        assert self.runner is not None
        self.runner.on_child_ack(child_id, self.now)
        if price is not None and price >= ASK:
            self.fills += 1
            self.runner.on_child_fill(child_id, qty, ASK, self.now, exec_id=f"E{self.fills}")

    def cancel(self, child_id: str) -> None:
        assert self.runner is not None
        self.runner.on_child_done(child_id, "canceled", self.now)


def bench_runner(slices: int) -> tuple[list[int], list[int]]:
    """One TWAP run of ``slices`` one-minute slices, stepped every second: the latency of
    calls that posted a passive child, and of calls that crossed (cancel, re-send, fill)."""
    p = parent(slices)
    venue = FillingVenue()
    events: list[ParentEvent] = []
    runner = AlgoRunner(p, Twap, venue, now=T0, on_event=events.append,
                        risk=RiskGate(RiskLimits(max_order_qty=10_000,
                                                 price_collar_pct=Decimal(5))))
    venue.runner = runner
    passive: list[int] = []
    crossed: list[int] = []
    clock = time.perf_counter_ns
    t = T0
    while not runner.done and t <= p.end:
        venue.now = t
        snap = snapshot(t)
        for call in (partial(runner.on_market_snapshot, snap), partial(runner.on_timer, t)):
            sent, fills = venue.sent, venue.fills
            t0 = clock()
            call()
            dt = clock() - t0
            if venue.sent == sent + 1:
                (crossed if venue.fills > fills else passive).append(dt)
        t += timedelta(seconds=1)
    assert runner.done and runner.state.filled == p.qty, runner.state
    return passive, crossed


def row(name: str, ns: list[int], base: float) -> str:
    med = statistics.median(ns)
    p99 = statistics.quantiles(ns, n=100)[98]
    return f"{name:32} {med:10.0f} {p99:10.0f} {med / base:10.1f}x   ({len(ns)} calls)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50_000, help="calls per micro-benchmark")
    ap.add_argument("--runs", type=int, default=20, help="TWAP runs of 60 slices")
    args = ap.parse_args()
    print(machine())
    snap = bench_snapshot(args.calls)
    book = bench_book(args.calls)
    strat = bench_strategy(args.calls)
    passive: list[int] = []
    crossed: list[int] = []
    for _ in range(args.runs):
        a, b = bench_runner(60)
        passive += a
        crossed += b
    base = statistics.median(snap)
    print(f"{'':32} {'median ns':>10} {'p99 ns':>10} {'vs snapshot':>11}")
    print(row("MarketSnapshot(...)", snap, base))
    print(row("OrderBook.limit (C book)", book, base))
    print(row("Twap.on_market_snapshot", strat, base))
    print(row("AlgoRunner: passive child", passive, base))
    print(row("AlgoRunner: cross (chain)", crossed, base))


if __name__ == "__main__":
    main()
