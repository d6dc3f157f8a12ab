"""A worked example of a user strategy: passive participation (join the near touch, never cross).

How to write a strategy
-----------------------

A strategy is a class built as ``MyStrategy(parent, ctx)`` with four methods (the
:class:`algos.strategy.Strategy` protocol; no base class needed):

* ``on_market_snapshot(snapshot)``: the book in the parent's symbol changed;
* ``on_execution(execution)``: one of its children filled;
* ``on_timer(now)``: a wakeup it asked for is due, or a child ended without filling (so it
  can re-send; a second later when the venue rejected it or ended it unasked): decide from
  ``now`` and ``ctx.state``, not from why it was called;
* ``next_wakeup()``: when it next wants ``on_timer`` (None: snapshots are enough).

Each returns a list of actions: :class:`algos.strategy.ChildOrder` (qty, price or None for
market, ``"day"``/``"ioc"``, a reason for the audit log) and
:class:`algos.strategy.CancelChild` (a child id from ``ctx.state.working``). It never sends
anything or reads a clock: ``ctx.now()`` is the time, ``ctx.state`` the parent's fills and
working children. The runner checks every action (quantity left, lots, the limit price,
the tick, risk limits) and clips or refuses it with an audit record, so a strategy can be
simple and still never overfill or cross the limit. Bad parameters are reported by raising
ValueError in the constructor: the client's order is rejected with its message.

Optional methods (see :class:`algos.strategy.Strategy`): ``carry_over(previous)`` after a
parent replace, ``unfilled_reason()`` for the report of a parent that ends unfilled, and
``market_watch()``, the touch moves it waits for (:class:`algos.strategy.MarketWatch`), so
a backtest can run the replay on in C until one comes instead of showing it every book.
:class:`PassivePov` has no watch: it counts market volume, which any snapshot may change.

To use it, name the class in the session's YAML: ``strategy:
algos.example_strategy:PassivePov`` (any importable ``package.module:Class`` works; the
gateway checks it at startup). The same class runs in backtests unchanged, since time and
market data come in as arguments. To test one, drive an :class:`algos.runner.AlgoRunner`
with a fake router, as ``tests/test_algo_registry.py`` does for this class.

This example
------------

:class:`PassivePov` keeps the parent's filled + working quantity at ``Rate`` (or the
parent's ParticipationRate) times the market volume traded since it started, posting only
at the near touch (bid for a buy, capped by the limit) and re-pegging a child that the touch
has left behind. It provides liquidity instead of taking it, so it pays no spread but may
finish short: whatever is left at the end time expires.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from algos.strategy import (
    Action,
    AlgoContext,
    CancelChild,
    ChildOrder,
    Execution,
    MarketSnapshot,
    ParentOrder,
    Side,
)

__all__ = ["PassivePov"]


class PassivePov:
    """Passive participation: ``Rate`` (0 < rate <= 1) x market volume since the start."""

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        raw = parent.params.get("Rate")
        rate = parent.participation if raw is None else _rate(raw)
        if rate is None:
            raise ValueError("PassivePov needs a Rate parameter or a ParticipationRate")
        unknown = set(parent.params) - {"Rate"}
        if unknown:
            raise ValueError(f"unknown PassivePov parameter {', '.join(sorted(unknown))}")
        self.parent = parent
        self.ctx = ctx
        self.rate = rate
        # as written (57/100): in floats 0.57 x 100 shares is 56.99..., one short
        self._share = Fraction(str(rate))
        self._last_volume: int | None = None
        self._volume = 0  # market volume since the start
        self._touch: Decimal | None = None

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        if self._last_volume is not None and snapshot.time > self.parent.start:
            self._volume += max(0, snapshot.volume - self._last_volume)
        self._last_volume = snapshot.volume
        self._touch = snapshot.bid if self.parent.side == Side.BUY else snapshot.ask
        return self._decide()

    def on_execution(self, execution: Execution) -> list[Action]:
        return []  # a fill changes neither the target nor the touch

    def on_timer(self, now: datetime) -> list[Action]:
        return self._decide()  # a child ended: re-send its quantity if still due

    def next_wakeup(self) -> datetime | None:
        return None  # everything this strategy does follows a snapshot or a child's end

    def _decide(self) -> list[Action]:
        p = self.parent
        now = self.ctx.now()
        if self._touch is None or not p.start <= now < p.end:
            return []
        price = self._touch
        if p.limit is not None:
            price = min(price, p.limit) if p.side == Side.BUY else max(price, p.limit)
        state = self.ctx.state
        actions: list[Action] = []
        for child in state.working.values():
            behind = child.price is not None and (
                child.price < price if p.side == Side.BUY else child.price > price)
            if behind and not child.cancel_pending:
                actions.append(CancelChild(child.child_id, f"re-peg to {price}"))
        allowed = min(p.qty, math.floor(self._share * self._volume))
        want = allowed - state.filled - state.working_qty
        want = want // p.lot_size * p.lot_size  # the runner would round it down anyway
        if want > 0:
            actions.append(ChildOrder(want, price, "day",
                                      f"pov {self.rate:g} of {self._volume}: join {price}"))
        return actions


def _rate(raw: str) -> float:
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 1:
        raise ValueError(f"PassivePov Rate must be in (0, 1], got {raw!r}")
    return rate
