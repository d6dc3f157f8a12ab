"""Baselines a backtest measures algos against, written to the public strategy interface.

:class:`MarketAtStart` is the naive way to work a parent: the whole quantity as one market
order the moment the parent starts (a limit parent's limit still caps it: the runner turns a
market child into a limit order at the parent's limit). What the market order does not fill
at once is not sent again: once no child is working, the parent stops
(:class:`algos.strategy.StopParent`), so the client hears it is over and a backtest prices
what did not fill at that moment, when the naive trader stopped, not at the window's end.
The other baseline, plain TWAP, is :class:`algos.twap.Twap` with
nothing but its slice count.
"""

from __future__ import annotations

from datetime import datetime

from algos.strategy import (
    Action,
    AlgoContext,
    ChildOrder,
    Execution,
    MarketSnapshot,
    ParentOrder,
    StopParent,
)

__all__ = ["MarketAtStart"]


class MarketAtStart:
    """One market order for the whole parent, at its start; nothing after."""

    name = "naive"

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.parent = parent
        self.ctx = ctx
        self._sent = False

    def _go(self, now: datetime) -> list[Action]:
        if self._sent or now < self.parent.start:
            return []
        self._sent = True
        qty = self.ctx.state.remaining
        return [ChildOrder(qty=qty, price=None, reason="naive: all at the start")] if qty else []

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        return self._go(snapshot.time)

    def on_execution(self, execution: Execution) -> list[Action]:
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        # also called when the child ends unfilled (its remainder canceled, or rejected)
        state = self.ctx.state
        if self._sent and not state.working and state.filled < self.parent.qty:
            return [StopParent("naive: its one order is over; nothing more is sent")]
        return self._go(now)

    def next_wakeup(self) -> datetime | None:
        return None if self._sent else self.parent.start
