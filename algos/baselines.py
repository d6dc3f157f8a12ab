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
from typing import Literal

from algos.strategy import (
    Action,
    AlgoContext,
    ChildOrder,
    Execution,
    MarketSnapshot,
    OrderState,
    ParentOrder,
    StopParent,
)

__all__ = ["MarketAtStart"]


class MarketAtStart:
    """One market order for the whole parent, at its start; nothing after it has worked.

    An order rejected (by the venue, or by the router with its venue link down) never
    worked: it is sent again at the next snapshot, or a second after the reject if the book
    is quiet (the runner's :data:`~algos.runner.RETRY`), the runner stopping the parent after
    too many venue rejects in a row. One the runner would not send (risk refused it) stops
    the parent at once, the runner adding risk's reason: the baseline is one order at the
    start, not one whenever risk allows."""

    name = "naive"

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.parent = parent
        self.ctx = ctx
        # the state's (sent, rejected) counts when it last asked for its order: None before
        self._asked: tuple[int, int] | None = None

    def _fate(self, state: OrderState) -> Literal["unsent", "rejected", "over"] | None:
        """What became of the order it last asked for, none working: the runner did not
        send it, it was rejected, or it worked and is over; None before it asked."""
        if self._asked is None:
            return None
        sent, rejected = self._asked
        if state.sent == sent:
            return "unsent"
        return "rejected" if state.rejected != rejected else "over"

    def _decide(self, now: datetime) -> list[Action]:
        state = self.ctx.state
        if now < self.parent.start or state.working:
            return []
        fate = self._fate(state)
        if fate == "unsent":
            return [StopParent("naive: its one order was not sent")]
        if fate == "over":
            return ([StopParent("naive: its one order is over; nothing more is sent")]
                    if state.filled < self.parent.qty else [])
        qty = state.remaining
        if not qty:
            return []
        reason = ("naive: all at the start" if self._asked is None
                  else "naive: all again, its order was rejected")
        self._asked = (state.sent, state.rejected)
        return [ChildOrder(qty=qty, price=None, reason=reason)]

    def planned(self) -> list[tuple[datetime, int]]:
        """The schedule (see :class:`~algos.strategy.Strategy`): all of it at the start."""
        return [(self.parent.start, self.parent.qty), (self.parent.end, self.parent.qty)]

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        return self._decide(snapshot.time)

    def on_execution(self, execution: Execution) -> list[Action]:
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        # also called when the child ends unfilled (its remainder canceled)
        return self._decide(now)

    def next_wakeup(self) -> datetime | None:
        if self._asked is None:
            return self.parent.start
        state = self.ctx.state
        fate = None if state.working else self._fate(state)
        if fate == "unsent":
            return self.ctx.now()  # stop now, whether or not the book moves
        return None  # (a rejected order: the runner asks again, RETRY after the reject)
