"""What a backtest records for its reports: parent orders, child orders, fills, the market.

The backtest loop (gateway/backtest.py) fills these in as the replay runs; the TCA
(gateway/tca.py) and the report writer read them afterwards. Every record belongs to one
*run*: one replay of the market with one strategy working the configured parents (``algo``,
the configured strategy; ``naive`` and ``twap``, the baselines). Runs never share a book, so
a baseline's trades never move the market another run sees.

Times are timezone-aware UTC datetimes of the virtual clock. Prices are Decimals in the
symbol's currency; the tape keeps integer ticks and converts on the way out.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from engine.book_types import Side
from gateway.clock import to_ns

__all__ = ["ChildRecord", "FillRecord", "MarketTape", "ParentRecord", "RunRecord"]


@dataclass(slots=True)
class ParentRecord:
    """A parent order as the client sent it and as it ended (from its ExecutionReports)."""

    run: str
    parent_id: str          # the client's ClOrdID
    symbol: str
    side: Side
    qty: int
    start: datetime         # EffectiveTime: when the order was sent and the schedule starts
    end: datetime           # ExpireTime
    strategy: str           # what worked it: "TWAP", "VWAP", "naive", a user class name
    limit: Decimal | None = None
    arrival_mid: Decimal | None = None  # the mid when the parent arrived (None: no two-sided book)
    filled: int = 0
    avg_px: Decimal | None = None
    status: str = "sent"    # the last OrdStatus (39) the client saw, as a word
    done: datetime | None = None
    text: str = ""          # the last Text (58) of its reports, or why it was rejected
    #: the schedule its strategy planned (``Strategy.planned``): (time, cumulative quantity
    #: due), linear between; empty: none known, see :meth:`scheduled_at`
    schedule: tuple[tuple[datetime, int], ...] = ()

    def schedule_points(self) -> tuple[tuple[datetime, int], ...]:
        """:attr:`schedule`, or without one the quantity evenly over the window."""
        return self.schedule or ((self.start, 0), (self.end, self.qty))

    def scheduled_at(self, t: datetime) -> float:
        """The quantity :meth:`schedule_points` has due by ``t``, linear between points: the
        first point's before it, the last one's after it."""
        points = self.schedule_points()
        i = bisect.bisect_right(points, t, key=lambda point: point[0])
        if i == 0:
            return float(points[0][1])
        if i == len(points):
            return float(points[-1][1])
        (t0, q0), (t1, q1) = points[i - 1], points[i]
        return q0 + (q1 - q0) * ((t - t0) / (t1 - t0))


@dataclass(slots=True)
class ChildRecord:
    """One child order: when the algo decided it, and what became of it."""

    run: str
    parent_id: str
    child_id: str
    symbol: str
    side: Side
    qty: int
    price: Decimal | None   # None: a market order
    tif: str                # "day" or "ioc"
    decided: datetime       # the algo's decision (the router was asked to send it)
    acked: datetime | None = None       # the venue's acknowledgement reached the algo
    first_fill: datetime | None = None  # the first fill reached the algo
    done: datetime | None = None
    filled: int = 0
    status: str = "sent"    # sent, new, partial, filled, canceled, rejected, expired
    reason: str = ""        # the algo's reason (slice 3/10, catch-up, ...)


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill of a child order, as the algo heard of it."""

    run: str
    parent_id: str
    child_id: str
    symbol: str
    side: Side
    time: datetime          # when the fill reached the algo
    executed: datetime      # when the venue executed it (``time`` less the report's latency)
    qty: int
    price: Decimal
    liquidity: Literal["passive", "aggressive"]
    decided: datetime       # the child's decision time


@dataclass(slots=True)
class MarketTape:
    """One symbol's market as the replay saw it, before any run's own orders.

    ``times``/``bids``/``asks``: the best bid and ask (ticks; 0 when that side is empty)
    after every market-data message that changed the book, in time order. ``trade_*``: the
    market's trades (ticks, shares), in time order. ``tick`` converts ticks to prices.
    """

    symbol: str
    tick: Decimal
    times: array[int] = field(default_factory=lambda: array("q"))
    bids: array[int] = field(default_factory=lambda: array("q"))
    asks: array[int] = field(default_factory=lambda: array("q"))
    trade_times: array[int] = field(default_factory=lambda: array("q"))
    trade_prices: array[int] = field(default_factory=lambda: array("q"))
    trade_sizes: array[int] = field(default_factory=lambda: array("q"))

    def mid_at(self, t: datetime | int) -> Decimal | None:
        """The mid at ``t`` (the last quote at or before it); None before the first two-sided
        quote or while a side is empty."""
        ns = t if isinstance(t, int) else to_ns(t)
        i = bisect.bisect_right(self.times, ns) - 1
        if i < 0:
            return None
        bid, ask = self.bids[i], self.asks[i]
        if bid <= 0 or ask <= 0:
            return None
        return (Decimal(bid + ask) * self.tick) / 2

    def quote_at(self, t: datetime | int) -> tuple[int, int]:
        """The best bid and ask at ``t`` in ticks (0: that side empty, or before the first
        quote)."""
        ns = t if isinstance(t, int) else to_ns(t)
        i = bisect.bisect_right(self.times, ns) - 1
        return (self.bids[i], self.asks[i]) if i >= 0 else (0, 0)

    def trades_between(self, start: datetime | int, end: datetime | int) -> tuple[int, int]:
        """Indexes ``lo, hi`` of the trades with ``start <= time < end``."""
        a = start if isinstance(start, int) else to_ns(start)
        b = end if isinstance(end, int) else to_ns(end)
        return (bisect.bisect_left(self.trade_times, a), bisect.bisect_left(self.trade_times, b))

    def volume(self, start: datetime | int, end: datetime | int) -> int:
        """Shares the market traded in ``[start, end)``."""
        lo, hi = self.trades_between(start, end)
        return sum(self.trade_sizes[lo:hi])

    def vwap(self, start: datetime | int, end: datetime | int) -> Decimal | None:
        """The market's volume-weighted average price over ``[start, end)``; None if nothing
        traded."""
        lo, hi = self.trades_between(start, end)
        shares = sum(self.trade_sizes[lo:hi])
        if not shares:
            return None
        notional = sum(p * q for p, q in zip(self.trade_prices[lo:hi], self.trade_sizes[lo:hi],
                                             strict=True))
        return Decimal(notional) * self.tick / shares


@dataclass(slots=True)
class RunRecord:
    """Everything one run recorded."""

    run: str
    strategy: str           # the strategy that worked this run's parents
    parents: list[ParentRecord] = field(default_factory=list)
    children: list[ChildRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
