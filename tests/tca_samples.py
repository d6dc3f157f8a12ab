"""Small hand-computable backtest records for the TCA and report tests.

One symbol ``TEST`` (tick 0.01). Times are seconds after ``T0``.

Quotes (bid/ask -> mid): 0 s 99.90/100.10 -> 100.00; 10 s 100.00/100.20 -> 100.10;
20 s 100.10/100.30 -> 100.20; 60 s 100.20/100.40 -> 100.30; 70 s bid only (no mid after it).
Market trades: 1 s 200 @ 100.00; 30 s 300 @ 100.30; 100 s 1000 @ 100.50.

Run ``algo``:
- P1 buy 100 over [0 s, 60 s), arrival from the tape (100.00). Fills: 5 s 40 @ 100.05
  aggressive (child C1), 15 s 40 @ 100.10 passive (C2); 20 unfilled. Children: C1 decided 4 s,
  acked +250 us, first fill +1 s; C2 decided 12 s, acked +100 us, first fill +3 s; C3 decided
  50 s, acked +400 us, never filled.
- P2 sell 50 over [20 s, 60 s), recorded arrival 100.20. Fill: 25 s 50 @ 100.15 aggressive
  (C4, decided 24 s, acked +300 us, first fill +1 s).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.book_types import Side
from gateway.backtest_records import (
    ChildRecord,
    FillRecord,
    MarketTape,
    ParentRecord,
    RunRecord,
)
from gateway.clock import to_ns

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
SYMBOL = "TEST"


def at(seconds: float, micros: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=micros)


def tape() -> MarketTape:
    t = MarketTape(symbol=SYMBOL, tick=Decimal("0.01"))
    for sec, bid, ask in ((0, 9990, 10010), (10, 10000, 10020), (20, 10010, 10030),
                          (60, 10020, 10040), (70, 10030, 0)):
        t.times.append(to_ns(at(sec)))
        t.bids.append(bid)
        t.asks.append(ask)
    for sec, px, qty in ((1, 10000, 200), (30, 10030, 300), (100, 10050, 1000)):
        t.trade_times.append(to_ns(at(sec)))
        t.trade_prices.append(px)
        t.trade_sizes.append(qty)
    return t


def parent(run: str, pid: str, side: Side, qty: int, start: float, end: float,
           arrival: str | None = None, strategy: str = "TWAP",
           schedule: tuple[tuple[float, int], ...] = ()) -> ParentRecord:
    return ParentRecord(run=run, parent_id=pid, symbol=SYMBOL, side=side, qty=qty,
                        start=at(start), end=at(end), strategy=strategy,
                        arrival_mid=Decimal(arrival) if arrival is not None else None,
                        schedule=tuple((at(t), q) for t, q in schedule))


def child(run: str, pid: str, cid: str, side: Side, qty: int, decided: float,
          ack_us: int | None, fill_after: float | None) -> ChildRecord:
    return ChildRecord(run=run, parent_id=pid, child_id=cid, symbol=SYMBOL, side=side, qty=qty,
                       price=None, tif="ioc", decided=at(decided),
                       acked=at(decided, ack_us) if ack_us is not None else None,
                       first_fill=at(decided + fill_after) if fill_after is not None else None)


def fill(run: str, pid: str, cid: str, side: Side, t: float, qty: int, px: str,
         liquidity: str, decided: float, executed: float | None = None) -> FillRecord:
    """A fill the algo heard of at ``t``, executed then too unless ``executed`` says."""
    assert liquidity in ("passive", "aggressive")
    return FillRecord(run=run, parent_id=pid, child_id=cid, symbol=SYMBOL, side=side,
                      time=at(t), executed=at(t if executed is None else executed), qty=qty,
                      price=Decimal(px),
                      liquidity="passive" if liquidity == "passive" else "aggressive",
                      decided=at(decided))


def algo_run(run: str = "algo", strategy: str = "TWAP") -> RunRecord:
    r = RunRecord(run=run, strategy=strategy)
    r.parents = [parent(run, "P1", Side.BUY, 100, 0, 60, strategy=strategy),
                 # a volume curve's schedule: 35 of 50 due by half-window
                 parent(run, "P2", Side.SELL, 50, 20, 60, arrival="100.20", strategy=strategy,
                        schedule=((20, 0), (40, 35), (60, 50)))]
    r.children = [child(run, "P1", "C1", Side.BUY, 40, 4, 250, 1),
                  child(run, "P1", "C2", Side.BUY, 40, 12, 100, 3),
                  child(run, "P1", "C3", Side.BUY, 20, 50, 400, None),
                  child(run, "P2", "C4", Side.SELL, 50, 24, 300, 1)]
    r.fills = [fill(run, "P1", "C1", Side.BUY, 5, 40, "100.05", "aggressive", 4),
               fill(run, "P1", "C2", Side.BUY, 15, 40, "100.10", "passive", 12),
               fill(run, "P2", "C4", Side.SELL, 25, 50, "100.15", "aggressive", 24)]
    return r


def naive_run() -> RunRecord:
    """Each parent as one market order at its start, filled whole one millisecond later."""
    r = RunRecord(run="naive", strategy="naive")
    r.parents = [parent("naive", "P1", Side.BUY, 100, 0, 60, strategy="naive",
                        schedule=((0, 100), (60, 100))),
                 parent("naive", "P2", Side.SELL, 50, 20, 60, arrival="100.20",
                        strategy="naive", schedule=((20, 50), (60, 50)))]
    r.children = [child("naive", "P1", "N1", Side.BUY, 100, 0, 50, 0.001),
                  child("naive", "P2", "N2", Side.SELL, 50, 20, 60, 0.001)]
    r.fills = [fill("naive", "P1", "N1", Side.BUY, 0.001, 100, "100.10", "aggressive", 0),
               fill("naive", "P2", "N2", Side.SELL, 20.001, 50, "100.10", "aggressive", 20)]
    return r
